/* torture_ring.c - random kill -9 of ring producers and consumers (make
 * torture).
 *
 * For each mode (SPSC with one producer, MPSC with three) a consumer
 * process and producer processes run while this process kills one of them
 * with SIGKILL at random moments, reaps it and starts a new one in its
 * role.  Producers resume at their last acknowledged message (a message
 * whose commit returned); the consumer resumes where the last one
 * released.  Checked all along, in the consumer: every message arrives in
 * order per producer, whole, and was pushed; an acknowledged message is
 * never delivered twice (only the unacknowledged message a producer was
 * killed with may come again from its successor); the only message that may
 * go unseen is the one a killed consumer was releasing.  At the end: every
 * acknowledged message was delivered, the ring is not stuck, and the
 * consumer never saw another owner of its role.
 *
 * Usage: torture_ring [kills per mode] (default 1500; or MMDS_TORTURE_KILLS).
 * Prints its figures; exit status 0 when every check held.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds/ring.h>

#define NPROD_MAX 3
#define CAP (64u * 1024)

struct shared {
	char path[256];
	_Atomic long acked[NPROD_MAX];    /* per producer: commits returned */
	_Atomic uint32_t inc[NPROD_MAX];  /* producer incarnations */
	_Atomic long next[NPROD_MAX];     /* consumer: next expected seq */
	_Atomic uint32_t last_inc[NPROD_MAX];
	/* the message a consumer is releasing: (id + 1) << 32 | seq, 0 none */
	_Atomic uint64_t inflight;
	_Atomic int stop;            /* producers: finish now */
	_Atomic int producers_done;  /* consumer: drain and exit */
	_Atomic long delivered, repairs, resends, lost_inflight, redelivered,
		slot_busy;
	_Atomic int failed;
	char why[256];
};

static struct shared *sh;

__attribute__((format(printf, 1, 2), noreturn))
static void fail(const char *fmt, ...)
{
	va_list ap;

	if (atomic_exchange(&sh->failed, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
		va_end(ap);
	}
	_exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t msg_len(uint32_t id, uint32_t seq)
{
	return 12 + (seq * 2654435761u + id * 97u) % 500;
}

static unsigned char pbyte(uint32_t id, uint32_t seq, size_t i)
{
	return (unsigned char)(seq * 31u + id * 101u + i * 7u);
}

static int open_role(mmds_ring **r, unsigned role)
{
	int rc = -EBUSY;

	for (int i = 0; i < 5000 && rc == -EBUSY; i++) {
		rc = mmds_ring_open(r, sh->path, &(mmds_ring_opts){
			.role = role });
		if (rc == -EBUSY) {
			atomic_fetch_add(&sh->slot_busy, 1);
			usleep(1000);
		}
	}
	return rc;
}

static void producer(uint32_t id)
{
	uint32_t inc = atomic_fetch_add(&sh->inc[id], 1) + 1;
	unsigned char *d;
	mmds_ring *p = NULL;
	int rc = open_role(&p, MMDS_RING_PRODUCER);

	if (rc != 0)
		fail("producer %ld open: %ld", (long)(id), (long)(rc));
	for (uint32_t seq = (uint32_t)atomic_load(&sh->acked[id]);
	     !atomic_load(&sh->stop); seq++) {
		size_t len = msg_len(id, seq);

		while ((rc = mmds_ring_claim(p, len, (void **)&d)) == -EAGAIN) {
			if (atomic_load(&sh->stop))
				goto out;
			rc = mmds_ring_wait_space(p, len, 50000000);
			if (rc != 0 && rc != -ETIMEDOUT)
				fail("producer %ld wait: %ld", (long)(id), (long)(rc));
		}
		if (rc != 0)
			fail("producer %ld claim: %ld", (long)(id), (long)(rc));
		memcpy(d, &id, 4);
		memcpy(d + 4, &seq, 4);
		memcpy(d + 8, &inc, 4);
		for (size_t i = 12; i < len; i++)
			d[i] = pbyte(id, seq, i);
		if (seq % 16 == 0)
			sched_yield(); /* a wider window for a kill in a claim */
		if ((rc = mmds_ring_commit(p, id)) != 0)
			fail("producer %ld commit: %ld", (long)(id), (long)(rc));
		atomic_store(&sh->acked[id], (long)seq + 1);
	}
out:
	mmds_ring_close(p);
	_exit(0);
}

/* The message a killed consumer was handling, (id + 1) << 32 | seq: it
 * may come again (not released yet) or be gone (its release completed by
 * the successor), once.  0 when none is outstanding. */
static uint64_t gap;

/* One delivered message (id, seq, inc) against the checks. */
static void check(uint32_t id, uint32_t seq, uint32_t inc)
{
	long next = atomic_load(&sh->next[id]);
	uint64_t g = (uint64_t)(id + 1) << 32;

	if ((long)seq > atomic_load(&sh->acked[id]))
		fail("producer %ld: seq %ld was never pushed (acked %ld)",
		     (long)id, (long)seq, atomic_load(&sh->acked[id]));
	if (gap == (g | seq) && (long)seq + 1 == next) {
		atomic_fetch_add(&sh->redelivered, 1); /* never released */
		gap = 0;
		return;
	}
	if ((long)seq + 1 == next && inc != atomic_load(&sh->last_inc[id])) {
		atomic_fetch_add(&sh->resends, 1); /* unacknowledged, resent */
		atomic_store(&sh->last_inc[id], inc);
		return;
	}
	if (gap == (g | (uint64_t)next) && (long)seq == next + 1) {
		atomic_fetch_add(&sh->lost_inflight, 1);
		gap = 0;
		next++;
	}
	if ((long)seq != next)
		fail("producer %ld: got seq %ld, expected %ld", (long)id,
		     (long)seq, next);
	atomic_store(&sh->last_inc[id], inc);
	atomic_store(&sh->next[id], next + 1);
	atomic_fetch_add(&sh->delivered, 1);
}

static void consumer(unsigned nprod)
{
	mmds_ring *c = NULL;
	mmds_ring_info in;
	unsigned long n = 0;
	int rc = open_role(&c, MMDS_RING_CONSUMER);

	if (rc != 0)
		fail("consumer open: %ld", (long)(rc));
	gap = atomic_exchange(&sh->inflight, 0);
	for (;;) {
		mmds_ring_msg m;
		uint32_t id, seq, inc;

		rc = mmds_ring_peek(c, &m);
		if (rc == -EAGAIN) {
			int done = atomic_load(&sh->producers_done);

			rc = mmds_ring_repair(c);
			if (rc == 1) {
				atomic_fetch_add(&sh->repairs, 1);
				continue;
			}
			if (rc != 0 && rc != -EAGAIN)
				fail("repair: %ld", (long)(rc));
			if (done) {
				int all = 1;

				for (unsigned i = 0; i < nprod; i++)
					all &= atomic_load(&sh->next[i]) >=
					       atomic_load(&sh->acked[i]);
				if (all && rc == 0)
					break;
			}
			rc = mmds_ring_wait_data(c, 5000000);
			if (rc != 0 && rc != -ETIMEDOUT)
				fail("wait: %ld", (long)(rc));
			continue;
		}
		if (rc != 0)
			fail("peek: %ld", (long)(rc));
		if (m.len < 12)
			fail("short message %ld", (long)m.len);
		memcpy(&id, m.data, 4);
		memcpy(&seq, (const char *)m.data + 4, 4);
		memcpy(&inc, (const char *)m.data + 8, 4);
		if (id >= nprod || m.type != id || m.len != msg_len(id, seq))
			fail("bad message id %ld len %ld type %ld", (long)(id), (long)m.len, (long)(m.type));
		for (size_t i = 12; i < m.len; i++)
			if (((const unsigned char *)m.data)[i] != pbyte(id, seq, i))
				fail("producer %ld seq %ld: content at %ld", (long)(id), (long)(seq), (long)i);
		atomic_store(&sh->inflight, (uint64_t)(id + 1) << 32 | seq);
		check(id, seq, inc);
		if ((rc = mmds_ring_release(c)) != 1)
			fail("release: %ld", (long)(rc));
		atomic_store(&sh->inflight, 0);
		if (++n % 1024 == 0) {
			/* never two owners: the role is still ours */
			if (mmds_ring_get_info(c, &in) != 0 ||
			    in.consumer.pid != getpid())
				fail("consumer role lost to pid %ld", (long)(in.consumer.pid));
		}
	}
	mmds_ring_close(c);
	_exit(0);
}

static pid_t start(int who, unsigned nprod)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		if (who < 0)
			consumer(nprod);
		producer((uint32_t)who);
	}
	return pid;
}

static int reap(pid_t pid, const char *what)
{
	int st = 0;

	if (waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return 0;
	fprintf(stderr, "%s ended badly (status %d): %s\n", what, st,
		sh->failed ? sh->why : "?");
	return -1;
}

static int run(unsigned mode, long kills, unsigned seed)
{
	unsigned nprod = mode == MMDS_RING_SPSC ? 1 : NPROD_MAX;
	pid_t cons, prod[NPROD_MAX];
	long pkills = 0, ckills = 0;
	uint64_t t0 = now_ns(), deadline;
	mmds_ring *r = NULL;
	int rc;

	memset(sh, 0, sizeof(*sh));
	snprintf(sh->path, sizeof(sh->path), "/dev/shm/mmds-torture-ring.%ld",
		 (long)getpid());
	if (access("/dev/shm", W_OK) != 0)
		snprintf(sh->path, sizeof(sh->path), "/tmp/mmds-torture-ring.%ld",
			 (long)getpid());
	unlink(sh->path);
	rc = mmds_ring_open(&r, sh->path, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER, .flags = MMDS_RING_CREATE,
		.mode = mode, .capacity = CAP });
	if (rc != 0) {
		fprintf(stderr, "create: %s\n", mmds_strerror(rc));
		return -1;
	}
	mmds_ring_close(r);
	cons = start(-1, nprod);
	for (unsigned i = 0; i < nprod; i++)
		prod[i] = start((int)i, nprod);
	while (pkills + ckills < kills && !sh->failed) {
		unsigned v = (unsigned)rand_r(&seed) % (nprod + 1);

		usleep((unsigned)rand_r(&seed) % 3000);
		if (v == nprod) {
			kill(cons, SIGKILL);
			if (reap(cons, "consumer") != 0)
				return -1;
			ckills++;
			cons = start(-1, nprod);
		} else {
			kill(prod[v], SIGKILL);
			if (reap(prod[v], "producer") != 0)
				return -1;
			pkills++;
			prod[v] = start((int)v, nprod);
		}
	}
	atomic_store(&sh->stop, 1);
	for (unsigned i = 0; i < nprod; i++)
		if (reap(prod[i], "producer") != 0)
			return -1;
	atomic_store(&sh->producers_done, 1);
	/* the consumer drains everything acknowledged: not stuck */
	deadline = now_ns() + 60000000000ull;
	for (;;) {
		int st;
		pid_t w = waitpid(cons, &st, WNOHANG);

		if (w == cons) {
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "consumer failed: %s\n",
					sh->failed ? sh->why : "?");
				return -1;
			}
			break;
		}
		if (now_ns() > deadline) {
			kill(cons, SIGKILL);
			reap(cons, "consumer");
			fprintf(stderr, "stuck: the consumer did not drain\n");
			return -1;
		}
		usleep(10000);
	}
	for (unsigned i = 0; i < nprod; i++)
		if (sh->next[i] < sh->acked[i]) {
			fprintf(stderr, "producer %u: %ld acknowledged, %ld "
				"delivered\n", i, (long)sh->acked[i],
				(long)sh->next[i]);
			return -1;
		}
	unlink(sh->path);
	printf("%s: %ld producer kills, %ld consumer kills, %ld messages "
	       "delivered, %ld repairs, %ld unacknowledged resent, %ld "
	       "unreleased delivered again, %ld in-flight releases completed "
	       "by a successor, %ld busy-slot retries, %.1f s\n",
	       mode == MMDS_RING_SPSC ? "spsc" : "mpsc", pkills, ckills,
	       (long)sh->delivered, (long)sh->repairs, (long)sh->resends,
	       (long)sh->redelivered, (long)sh->lost_inflight, (long)sh->slot_busy,
	       (double)(now_ns() - t0) / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("MMDS_TORTURE_KILLS");
	long kills = argc > 1 ? atol(argv[1]) : env ? atol(env) : 1500;
	unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

	if (kills <= 0)
		kills = 1500;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	printf("torture_ring: %ld kills per mode, seed %u\n", kills, seed);
	if (run(MMDS_RING_SPSC, kills, seed) != 0 ||
	    run(MMDS_RING_MPSC, kills, seed + 1) != 0) {
		printf("torture_ring: FAILED\n");
		return 1;
	}
	printf("torture_ring: every check held\n");
	return 0;
}
