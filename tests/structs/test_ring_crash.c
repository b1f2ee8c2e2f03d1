/* test_ring_crash.c - every ring crash point, enumerated: for each point a
 * scenario runs in a child that is killed there (on the first pass, and on
 * a later one where the point is reached more than once), then the parent
 * takes the roles over and checks the invariants of docs/CRASHPOINTS.md:
 * every acknowledged message delivered exactly once, in order per
 * producer; nothing delivered that was not pushed; the ring not stuck (new
 * messages get through); never two owners of a role; no waiting mark left
 * by the dead.
 *
 * Linked with the crash-point build of the library (lib/libmmds_crash.la). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mmds/map.h>
#include <mmds/ring.h>

#include "t_crash.h"
#include "t_util.h"

Suite *ring_crash_suite(void);

/* The documented layout (docs/FORMAT.md, "Ring"). */
#define OFF_DATA_SEQ (4096u + 256)   /* and cons_waiting at +4 */
#define OFF_SPACE_SEQ (4096u + 384)  /* and prod_waiting at +4 */

#define CAP 4096u
#define NMSG 24
#define MAXREC 4096
#define ID_WARM 3   /* messages popped before a scenario, not checked */
#define ID_BASE 0   /* pushed by the parent before a scenario */
#define ID_CHILD 1  /* pushed by a scenario producer */
#define ID_LATE 2   /* pushed after the kill: the ring is not stuck */

/* Shared between the parent and the scenario children. */
struct ctx {
	char path[512];
	unsigned mode;
	int wait;                  /* consumer scenario: wait at the end */
	_Atomic long acked[4];     /* per id: messages whose push returned */
	/* what consumers did, in order (enum ev), to tell a delivery from a
	 * release a dead consumer left unfinished (rolled forward later) */
	_Atomic long nlog;
	uint32_t log[MAXREC][3];
};

enum ev {
	EV_START, /* a consumer took the role */
	EV_POP,   /* a pop began */
	EV_GOT,   /* a pop returned (id, seq) */
	EV_PEEK,  /* (id, seq) peeked, not yet released */
	EV_REL    /* the release of the peeked ones returned */
};

static struct ctx *ctx_new(const char *name, unsigned mode)
{
	struct ctx *x = mmap(NULL, sizeof(*x), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(x, MAP_FAILED);
	snprintf(x->path, sizeof(x->path), "%s", t_path(name));
	x->mode = mode;
	return x;
}

static void ctx_free(struct ctx *x)
{
	unlink(x->path);
	munmap(x, sizeof(*x));
}

static size_t msg_size(uint32_t id, uint32_t seq)
{
	return 8 + (seq * 37u + id * 11u) % 190;
}

static void fill(unsigned char *b, uint32_t id, uint32_t seq, size_t len)
{
	memcpy(b, &id, 4);
	memcpy(b + 4, &seq, 4);
	for (size_t i = 8; i < len; i++)
		b[i] = (unsigned char)(id * 7 + seq * 13 + i);
}

static int good(const unsigned char *b, size_t len, uint32_t *id,
		uint32_t *seq)
{
	if (len < 8)
		return 0;
	memcpy(id, b, 4);
	memcpy(seq, b + 4, 4);
	if (*id > 3 || len != msg_size(*id, *seq))
		return 0;
	for (size_t i = 8; i < len; i++)
		if (b[i] != (unsigned char)(*id * 7 + *seq * 13 + i))
			return 0;
	return 1;
}

static int open_role(mmds_ring **r, const char *path, unsigned role)
{
	int rc = -EBUSY;

	/* a dead MPSC producer's slot is busy until the consumer passes its
	 * claim; a new producer gets another slot */
	for (int i = 0; i < 200 && rc == -EBUSY; i++) {
		rc = mmds_ring_open(r, path, &(mmds_ring_opts){ .role = role });
		if (rc == -EBUSY)
			usleep(1000);
	}
	return rc;
}

static int push_id(mmds_ring *p, struct ctx *x, uint32_t id)
{
	unsigned char b[256];
	uint32_t seq = (uint32_t)atomic_load(&x->acked[id]);
	size_t len = msg_size(id, seq);
	int rc;

	fill(b, id, seq, len);
	rc = mmds_ring_push(p, id, b, len);
	if (rc == 0)
		atomic_store(&x->acked[id], seq + 1);
	return rc;
}

/* ---- scenarios (run in the child, with the point armed) ------------------ */

/* A producer: claims, aborts every third claim, commits, acknowledges. */
static int sc_produce(void *arg)
{
	struct ctx *x = arg;
	unsigned char b[256];
	mmds_ring *p = NULL;

	if (open_role(&p, x->path, MMDS_RING_PRODUCER) != 0)
		return 2;
	for (int k = 0; k < NMSG; k++) {
		uint32_t seq = (uint32_t)atomic_load(&x->acked[ID_CHILD]);
		size_t len = msg_size(ID_CHILD, seq);
		void *d;

		if (seq % 3 == 1) {
			if (mmds_ring_claim(p, len, &d) != 0)
				return 3;
			memset(d, 0xee, len); /* never to be delivered */
			if (mmds_ring_abort(p) != 0)
				return 4;
		}
		if (mmds_ring_claim(p, len, &d) != 0)
			return 5;
		fill(b, ID_CHILD, seq, len);
		memcpy(d, b, len);
		if (mmds_ring_commit(p, ID_CHILD) != 0)
			return 6;
		atomic_store(&x->acked[ID_CHILD], seq + 1);
	}
	mmds_ring_close(p);
	return 0;
}

/* A producer that fills the ring, then sleeps waiting for space. */
static int sc_produce_wait(void *arg)
{
	struct ctx *x = arg;
	mmds_ring *p = NULL;
	int rc;

	if (open_role(&p, x->path, MMDS_RING_PRODUCER) != 0)
		return 2;
	while ((rc = push_id(p, x, ID_CHILD)) == 0)
		;
	if (rc != -EAGAIN)
		return 3;
	mmds_ring_wait_space(p, 200, 20000000000LL);
	mmds_ring_close(p);
	return 0;
}

/* A producer that registers, pushes two messages and dies. */
static int sc_produce_die(void *arg)
{
	struct ctx *x = arg;
	mmds_ring *p = NULL;

	if (open_role(&p, x->path, MMDS_RING_PRODUCER) != 0)
		return 2;
	if (push_id(p, x, ID_CHILD) != 0 || push_id(p, x, ID_CHILD) != 0)
		return 3;
	kill(getpid(), SIGKILL);
	return 4;
}

static void record(struct ctx *x, enum ev ev, uint32_t id, uint32_t seq)
{
	long n = atomic_load(&x->nlog);

	if (n >= MAXREC)
		_exit(9);
	x->log[n][0] = ev;
	x->log[n][1] = id;
	x->log[n][2] = seq;
	atomic_store(&x->nlog, n + 1);
}

/* A consumer: pops, or peeks a few and releases them at once; repairs
 * what is stuck; records what it released; then maybe waits. */
static int sc_consume(void *arg)
{
	struct ctx *x = arg;
	mmds_ring *c = NULL;
	unsigned char b[256];
	int round = 0;

	if (open_role(&c, x->path, MMDS_RING_CONSUMER) != 0)
		return 2;
	record(x, EV_START, 0, 0);
	for (;;) {
		uint32_t id, seq, type;
		ssize_t n;

		if (++round % 3 == 0) {
			mmds_ring_msg m;
			int k = 0;

			while (k < 3 && mmds_ring_peek(c, &m) == 0) {
				if (!good(m.data, m.len, &id, &seq))
					return 3;
				record(x, EV_PEEK, id, seq);
				k++;
			}
			if (k > 0) {
				if (mmds_ring_release(c) != k)
					return 4;
				record(x, EV_REL, 0, 0);
				continue;
			}
		}
		record(x, EV_POP, 0, 0);
		n = mmds_ring_pop(c, b, sizeof(b), &type);
		if (n == -EAGAIN) {
			int rc = mmds_ring_repair(c);

			if (rc == 1)
				continue;
			if (rc != 0 && rc != -EAGAIN)
				return 5;
			break;
		}
		if (n < 0 || !good(b, (size_t)n, &id, &seq) || type != id)
			return 6;
		record(x, EV_GOT, id, seq);
	}
	if (x->wait)
		mmds_ring_wait_data(c, 20000000000LL);
	mmds_ring_close(c);
	return 0;
}

/* A consumer that pops two messages and dies. */
static int sc_consume_die(void *arg)
{
	struct ctx *x = arg;
	mmds_ring *c = NULL;
	unsigned char b[256];

	if (open_role(&c, x->path, MMDS_RING_CONSUMER) != 0)
		return 2;
	record(x, EV_START, 0, 0);
	for (int i = 0; i < 2; i++) {
		uint32_t id, seq;
		ssize_t n;

		record(x, EV_POP, 0, 0);
		n = mmds_ring_pop(c, b, sizeof(b), NULL);
		if (n < 0 || !good(b, (size_t)n, &id, &seq))
			return 3;
		record(x, EV_GOT, id, seq);
	}
	kill(getpid(), SIGKILL);
	return 4;
}

/* ---- setup and checks (in the parent) ------------------------------------ */

/* A fresh ring whose positions are moved by a random amount (so claims
 * wrap at various places), holding three messages of ID_BASE. */
static void setup(struct ctx *x, unsigned seed)
{
	mmds_ring *c = NULL, *p = NULL;
	unsigned char b[256];
	unsigned warm = seed % 40;

	unlink(x->path);
	memset(x->acked, 0, sizeof(x->acked));
	atomic_store(&x->nlog, 0);
	ck_assert_int_eq(mmds_ring_open(&c, x->path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER, .flags = MMDS_RING_CREATE,
		.mode = x->mode, .capacity = CAP }), 0);
	ck_assert_int_eq(mmds_ring_open(&p, x->path, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER }), 0);
	for (unsigned i = 0; i < warm; i++) {
		ck_assert_int_eq(push_id(p, x, ID_WARM), 0);
		ck_assert_int_ge(mmds_ring_pop(c, b, sizeof(b), NULL), 8);
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(push_id(p, x, ID_BASE), 0);
	mmds_ring_close(p);
	mmds_ring_close(c);
}

struct checker {
	long next[4];
	struct ctx *x;
	/* what the last dead consumer left unfinished: a pop (any one message
	 * may have been released unseen) or peeked messages */
	int pop_open;
	long npeek;
	uint32_t peek[8][2];
	/* the allowance of the consumer switch being checked */
	int gap_pop;
	long ngap;
	uint32_t gap[8][2];
};

/* One delivery, in order: the next of its producer, or the one after
 * messages a dead consumer's unfinished release rolled forward. */
static void deliver(struct checker *k, uint32_t id, uint32_t seq,
		    const char *point)
{
	struct ctx *x = k->x;

	if (getenv("RC_DEBUG"))
		fprintf(stderr, "deliver %u/%u next %ld\n", id, seq, k->next[id < 4 ? id : 0]);
	if (id == ID_WARM)
		return;
	ck_assert_msg(id < 3, "%s: unknown producer %u", point, id);
	if ((long)seq > k->next[id]) {
		long skip = (long)seq - k->next[id], found = 0;

		for (long i = 0; i < k->ngap; i++)
			if (k->gap[i][0] == id &&
			    (long)k->gap[i][1] >= k->next[id] &&
			    (long)k->gap[i][1] < (long)seq)
				found++;
		if (found == skip) {
			k->next[id] = seq;
			k->ngap = 0;
		} else if (skip == 1 && k->gap_pop) {
			k->next[id] = seq;
			k->gap_pop = 0;
		}
	}
	ck_assert_msg((long)seq == k->next[id],
		      "%s: producer %u: got %u, expected %ld", point, id, seq,
		      k->next[id]);
	ck_assert_msg((long)seq <= atomic_load(&x->acked[id]),
		      "%s: producer %u: %u was never pushed (acked %ld)",
		      point, id, seq, atomic_load(&x->acked[id]));
	k->next[id]++;
}

/* A new consumer took over: what its predecessor left open is allowed. */
static void switch_consumer(struct checker *k)
{
	k->gap_pop = k->pop_open;
	k->ngap = k->npeek;
	memcpy(k->gap, k->peek, sizeof(k->gap));
	k->pop_open = 0;
	k->npeek = 0;
}

static void replay(struct checker *k, const char *point)
{
	struct ctx *x = k->x;

	for (long i = 0; i < atomic_load(&x->nlog); i++) {
		uint32_t id = x->log[i][1], seq = x->log[i][2];

		switch (x->log[i][0]) {
		case EV_START:
			switch_consumer(k);
			break;
		case EV_POP:
			k->pop_open = 1;
			break;
		case EV_GOT:
			k->pop_open = 0;
			deliver(k, id, seq, point);
			break;
		case EV_PEEK:
			ck_assert_int_lt(k->npeek, 8);
			k->peek[k->npeek][0] = id;
			k->peek[k->npeek][1] = seq;
			k->npeek++;
			break;
		case EV_REL:
			for (long j = 0; j < k->npeek; j++)
				deliver(k, k->peek[j][0], k->peek[j][1], point);
			k->npeek = 0;
			break;
		}
	}
	switch_consumer(k);
}

static uint32_t load32(mmds_map *m, uint64_t off)
{
	uint64_t v = 0;

	ck_assert_int_eq(mmds_map_load64(m, off & ~(uint64_t)7, &v), 0);
	return (uint32_t)(v >> (off & 4 ? 32 : 0));
}

/* Take the roles over and check every invariant. */
static void verify(struct ctx *x, const char *point)
{
	struct checker k = { .x = x };
	mmds_ring *c = NULL, *c2 = NULL, *p = NULL;
	mmds_ring_info in;
	mmds_map *m = NULL;
	unsigned char b[256];
	int idle = 0;

	replay(&k, point);
	ck_assert_msg(open_role(&c, x->path, MMDS_RING_CONSUMER) == 0,
		      "%s: consumer takeover", point);
	/* never two owners */
	ck_assert_int_eq(mmds_ring_open(&c2, x->path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER }), -EBUSY);
	ck_assert_int_eq(mmds_ring_get_info(c, &in), 0);
	ck_assert_int_eq(in.consumer.pid, getpid());
	ck_assert_int_eq(in.consumer.alive, 1);
	ck_assert_msg(open_role(&p, x->path, MMDS_RING_PRODUCER) == 0,
		      "%s: a new producer", point);
	ck_assert_int_eq(mmds_map_open(&m, x->path, NULL), 0);
	ck_assert_msg(load32(m, OFF_DATA_SEQ + 4) == 0,
		      "%s: cons_waiting left by the dead", point);
	for (int i = 0; i < 3; i++) {
		int rc;

		while ((rc = push_id(p, x, ID_LATE)) == -EAGAIN) {
			ssize_t n = mmds_ring_pop(c, b, sizeof(b), NULL);
			uint32_t id, seq;

			if (n == -EAGAIN) {
				ck_assert_msg(mmds_ring_repair(c) == 1,
					      "%s: full and stuck", point);
				continue;
			}
			ck_assert_msg(n >= 0 && good(b, (size_t)n, &id, &seq),
				      "%s: pop %zd", point, n);
			deliver(&k, id, seq, point);
		}
		ck_assert_msg(rc == 0, "%s: push %d", point, rc);
	}
	/* drain: everything acknowledged arrives, the ring is not stuck */
	while (k.next[ID_LATE] < 3 || idle < 2) {
		uint32_t id, seq, type;
		ssize_t n = mmds_ring_pop(c, b, sizeof(b), &type);

		if (n == -EAGAIN) {
			int rc = mmds_ring_repair(c);

			ck_assert_msg(rc == 0 || rc == 1, "%s: repair %d", point,
				      rc);
			if (rc == 0)
				idle++;
			ck_assert_msg(rc == 1 || k.next[ID_LATE] == 3,
				      "%s: stuck before the late messages",
				      point);
			continue;
		}
		idle = 0;
		ck_assert_msg(n >= 0 && good(b, (size_t)n, &id, &seq) &&
			      type == id, "%s: pop %zd", point, n);
		deliver(&k, id, seq, point);
	}
	/* the released but unseen messages of an unfinished release at the
	 * very end are consumed, not lost */
	for (long i = 0; i < k.ngap; i++)
		if ((long)k.gap[i][1] == k.next[k.gap[i][0]])
			k.next[k.gap[i][0]]++;
	for (uint32_t id = 0; id < 3 && k.gap_pop; id++)
		if (k.next[id] + 1 == atomic_load(&x->acked[id])) {
			k.next[id]++;
			k.gap_pop = 0;
		}
	/* nothing acknowledged lost (one unacknowledged may have arrived) */
	for (uint32_t id = 0; id < 3; id++)
		ck_assert_msg(k.next[id] >= atomic_load(&x->acked[id]),
			      "%s: producer %u: %ld delivered, %ld acked",
			      point, id, k.next[id], atomic_load(&x->acked[id]));
	/* waiting marks of the dead: the new producer took slot 0 (free or
	 * dead with its intent passed), which drops its bit */
	ck_assert_msg((load32(m, OFF_SPACE_SEQ + 4) & 1u) == 0,
		      "%s: prod_waiting bit left by the dead", point);
	mmds_map_close(m);
	mmds_ring_close(p);
	mmds_ring_close(c);
}

/* ---- the table ----------------------------------------------------------- */

enum pre {
	PRE_NONE,
	PRE_DEAD_PRODUCER,   /* a producer registered and died */
	PRE_DEAD_CONSUMER,   /* a consumer popped two and died */
	PRE_HALF_RELEASE,    /* a consumer died inside a release */
	PRE_DEAD_CLAIM       /* a producer died holding a claim */
};

struct scenario {
	const char *point;
	int (*fn)(void *arg);
	unsigned modes;      /* bit 1: SPSC, bit 2: MPSC */
	unsigned long later; /* a later pass that is reached too, or 0 */
	enum pre pre;
	int wait;
};

static const struct scenario scenarios[] = {
	{ "ring.claim.before_cas", sc_produce, 4, 7, PRE_NONE, 0 },
	{ "ring.claim.after_cas", sc_produce, 4, 9, PRE_NONE, 0 },
	{ "ring.claim.after_header", sc_produce, 4, 5, PRE_NONE, 0 },
	{ "ring.commit.before", sc_produce, 4, 6, PRE_NONE, 0 },
	{ "ring.commit.after", sc_produce, 4, 8, PRE_NONE, 0 },
	{ "ring.commit.spsc.before_tail", sc_produce, 2, 5, PRE_NONE, 0 },
	{ "ring.abort.before_header", sc_produce, 4, 3, PRE_NONE, 0 },
	{ "ring.abort.after_header", sc_produce, 4, 4, PRE_NONE, 0 },
	{ "ring.release.after_intent", sc_consume, 6, 2, PRE_NONE, 0 },
	{ "ring.release.after_zero", sc_consume, 6, 3, PRE_NONE, 0 },
	{ "ring.repair.before_header", sc_consume, 4, 0, PRE_DEAD_CLAIM, 0 },
	{ "ring.repair.after_pad", sc_consume, 4, 0, PRE_DEAD_CLAIM, 0 },
	{ "ring.takeover.consumer", sc_consume, 6, 0, PRE_DEAD_CONSUMER, 0 },
	{ "ring.takeover.consumer.after_zero", sc_consume, 6, 0,
	  PRE_HALF_RELEASE, 0 },
	{ "ring.takeover.producer", sc_produce, 6, 0, PRE_DEAD_PRODUCER, 0 },
	{ "ring.wait.data.waiting", sc_consume, 6, 0, PRE_NONE, 1 },
	{ "ring.wait.space.waiting", sc_produce_wait, 6, 0, PRE_NONE, 0 },
};

static void run_pre(struct ctx *x, enum pre pre)
{
	int st = 0;
	pid_t pid;

	switch (pre) {
	case PRE_NONE:
		return;
	case PRE_DEAD_PRODUCER:
	case PRE_DEAD_CONSUMER:
		pid = t_fork();
		if (pid == 0)
			_exit(pre == PRE_DEAD_PRODUCER ? sc_produce_die(x) :
							 sc_consume_die(x));
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		return;
	case PRE_HALF_RELEASE:
		ck_assert_int_eq(t_crash_run("ring.release.after_zero", 2,
					     sc_consume, x), 1);
		return;
	case PRE_DEAD_CLAIM:
		ck_assert_int_eq(t_crash_run("ring.claim.after_header", 3,
					     sc_produce, x), 1);
		return;
	}
}

START_TEST(test_every_ring_crash_point_is_recovered)
{
	const char *names[64];
	size_t n = t_crash_points("ring.", names, 64);
	unsigned seed = (unsigned)getpid();
	int runs = 0;

	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, 64);
	for (size_t i = 0; i < n; i++) {
		const struct scenario *s = NULL;

		for (size_t j = 0; j < sizeof(scenarios) / sizeof(scenarios[0]); j++)
			if (strcmp(scenarios[j].point, names[i]) == 0)
				s = &scenarios[j];
		ck_assert_msg(s != NULL, "crash point %s has no scenario",
			      names[i]);
		for (unsigned mode = 1; mode <= 2; mode++) {
			if (!(s->modes & (1u << mode)))
				continue;
			for (int late = 0; late < 2; late++) {
				unsigned long pass = late ? s->later : 1;
				struct ctx *x;

				if (pass == 0)
					continue;
				x = ctx_new("ring", mode);
				x->wait = s->wait;
				setup(x, seed = seed * 1103515245u + 12345u);
				run_pre(x, s->pre);
				ck_assert_msg(t_crash_run(s->point, pass, s->fn,
							  x) == 1,
					      "%s (pass %lu, mode %u) not reached",
					      s->point, pass, mode);
				verify(x, s->point);
				ctx_free(x);
				runs++;
			}
		}
	}
	fprintf(stderr, "ring crash points: %zu points, %d runs\n", n, runs);
}
END_TEST

Suite *ring_crash_suite(void)
{
	Suite *s = suite_create("ring_crash");
	TCase *tc = t_tcase(s, "points", 120);

	tcase_add_test(tc, test_every_ring_crash_point_is_recovered);
	return s;
}

int main(void)
{
	return t_run_suite(ring_crash_suite());
}
