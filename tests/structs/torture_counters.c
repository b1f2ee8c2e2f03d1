/* torture_counters.c - `make torture` for counters: worker processes
 * allocate, add to and free plain and striped counters while the parent
 * kills one of them with SIGKILL at a random moment, thousands of times.
 * Every so often all workers are killed and a new process checks every
 * invariant of docs/CRASHPOINTS.md: nothing acknowledged lost, no freed
 * counter back, nothing half-made, no id leaked, the lock never stuck.
 *
 * Usage: torture_counters [KILLS [SEED]]   (default 5000 kills; or
 * MMDS_TORTURE_KILLS).  Prints its figures; exit status 0 if every check
 * held. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds/counters.h>

#define WORKERS 3
#define LABELS 6 /* per worker */
#define CAP 512u
#define GRACE_MS 1u
#define CHECK_EVERY 250
#define LOCK_OFF 256u   /* docs/FORMAT.md, "Counters": alloc_lock */
#define INTENT_OFF 264u /* and intent */

enum { NONE, ALLOCATING, LIVE, FREEING, FREED };

struct label_state {
	int state;
	int id;
	uint64_t value;   /* acknowledged */
	uint64_t pending; /* an add that may or may not have happened */
};

struct shared {
	struct label_state l[WORKERS][LABELS];
	_Atomic uint64_t allocs, frees, adds, enospc;
	_Atomic uint64_t max_wait_ns; /* longest alloc or free */
};

static struct shared *sh;
static char path[4096];

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void note_wait(uint64_t t0)
{
	uint64_t d = mono_ns() - t0, m = atomic_load(&sh->max_wait_ns);

	while (d > m && !atomic_compare_exchange_weak(&sh->max_wait_ns, &m, d))
		;
}

static uint32_t stripes_of(int l)
{
	return 1u + (uint32_t)l % 4u;
}

static void label_of(int w, int l, char *out, size_t len)
{
	snprintf(out, len, "w%d.l%d", w, l);
}

static _Noreturn void die(const char *what, int err)
{
	fprintf(stderr, "torture_counters: %s: %s\n", what, mmds_strerror(err));
	_exit(3);
}

/* A worker: random operations on its labels, for ever (until killed).  Its
 * label states say exactly which calls returned. */
static _Noreturn void worker(int w, unsigned seed)
{
	mmds_counters *c = NULL;
	int err = mmds_counters_open(&c, path, NULL);

	if (err < 0)
		die("worker open", err);
	srand(seed);
	for (;;) {
		int l = rand() % LABELS, id;
		struct label_state *s = &sh->l[w][l];
		char label[32];
		uint64_t t0;

		label_of(w, l, label, sizeof(label));
		switch (s->state) {
		case NONE:
		case FREED:
		case ALLOCATING: /* killed in an alloc: allocate it again */
			s->state = ALLOCATING;
			t0 = mono_ns();
			id = mmds_counters_alloc(c, label, &(mmds_counter_def){
							   .stripes = stripes_of(l) });
			note_wait(t0);
			if (id == -ENOSPC) {
				atomic_fetch_add(&sh->enospc, 1);
				s->state = NONE;
				break;
			}
			if (id < 0)
				die("alloc", id);
			s->id = id;
			s->value = 0;
			s->pending = 0;
			s->state = LIVE;
			atomic_fetch_add(&sh->allocs, 1);
			break;
		case FREEING: /* killed in a free: the label tells if it is done */
			id = mmds_counters_find(c, label);
			if (id >= 0) {
				err = mmds_counters_free(c, id);
				if (err < 0 && err != -ENOENT)
					die("free again", err);
			}
			s->state = FREED;
			break;
		case LIVE:
			if (rand() % 4 != 0) {
				uint64_t v = 1 + (uint64_t)(rand() % 1000);

				s->pending = v;
				err = mmds_counters_add(c, s->id, v, NULL);
				if (err < 0)
					die("add", err);
				s->value += v;
				s->pending = 0;
				atomic_fetch_add(&sh->adds, 1);
				break;
			}
			s->state = FREEING;
			t0 = mono_ns();
			err = mmds_counters_free(c, s->id);
			note_wait(t0);
			if (err < 0)
				die("free", err);
			s->state = FREED;
			atomic_fetch_add(&sh->frees, 1);
			break;
		}
	}
}

static pid_t spawn(int w, unsigned seed)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0)
		worker(w, seed);
	return pid;
}

static int failures;

#define CHECK(cond, ...)                                                      \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "FAIL: " __VA_ARGS__);                \
			fputc('\n', stderr);                                  \
			failures++;                                           \
		}                                                             \
	} while (0)

static uint64_t raw_word(uint64_t off)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t v = 0;

	if (fd >= 0) {
		if (pread(fd, &v, 8, (off_t)off) != 8)
			v = 0;
		close(fd);
	}
	return v;
}

/* Every worker is dead: check every invariant, then settle the label
 * states to what the file says (for the calls that never returned). */
static void check(int round)
{
	static mmds_counter_info info[CAP];
	mmds_counters *c = NULL;
	mmds_counters_stat st;
	uint32_t used = 0, fill = 0;
	uint64_t t0 = mono_ns();
	int err = mmds_counters_open(&c, path, NULL), n, id;
	int fill_ids[CAP];

	if (err < 0)
		die("check open", err);
	id = mmds_counters_alloc(c, "probe", NULL);
	CHECK(id >= 0, "round %d: alloc after the kills: %s", round,
	      mmds_strerror(id));
	CHECK(mono_ns() - t0 < 2000000000u, "round %d: lock held %.1f s", round,
	      (double)(mono_ns() - t0) / 1e9);
	if (id >= 0)
		mmds_counters_free(c, id);
	n = mmds_counters_snapshot(c, info, CAP);
	CHECK(n >= 0 && n <= (int)CAP, "round %d: snapshot %d", round, n);
	if (n < 0)
		n = 0;
	for (int w = 0; w < WORKERS; w++) {
		for (int l = 0; l < LABELS; l++) {
			struct label_state *s = &sh->l[w][l];
			char label[32];
			int found = -1;

			label_of(w, l, label, sizeof(label));
			for (int i = 0; i < n; i++) {
				if (strcmp(info[i].label, label) != 0)
					continue;
				CHECK(found < 0, "round %d: %s listed twice", round,
				      label);
				found = i;
			}
			if (found >= 0) {
				mmds_counter_info *e = &info[found];

				CHECK(e->stripes == stripes_of(l),
				      "round %d: %s half made (%u stripes)", round,
				      label, e->stripes);
				CHECK(s->state != NONE && s->state != FREED,
				      "round %d: %s listed, state %d", round, label,
				      s->state);
				if (s->state == LIVE || s->state == FREEING) {
					CHECK(e->id == s->id, "round %d: %s moved",
					      round, label);
					CHECK(e->value == s->value ||
						      e->value == s->value + s->pending,
					      "round %d: %s = %" PRIu64 ", acknowledged %" PRIu64
					      " (+%" PRIu64 ")", round, label, e->value,
					      s->value, s->pending);
				} else { /* ALLOCATING */
					CHECK(e->value == 0, "round %d: new %s = %" PRIu64,
					      round, label, e->value);
				}
				s->state = LIVE;
				s->id = e->id;
				s->value = e->value;
				s->pending = 0;
			} else {
				CHECK(s->state != LIVE, "round %d: %s lost", round,
				      label);
				s->state = NONE;
			}
		}
	}
	for (int i = 0; i < n; i++) {
		CHECK(info[i].label[0] == 'w', "round %d: stray %s", round,
		      info[i].label);
		used += info[i].stripes;
	}
	err = mmds_counters_get_stat(c, &st);
	CHECK(err == 0 && st.used == used, "round %d: %u ids used, %u listed",
	      round, st.used, used);
	nanosleep(&(struct timespec){ .tv_nsec = (GRACE_MS + 2) * 1000000L }, NULL);
	for (;;) {
		char label[32];

		snprintf(label, sizeof(label), "fill%u", fill);
		id = mmds_counters_alloc(c, label, NULL);
		if (id < 0)
			break;
		fill_ids[fill++] = id;
	}
	CHECK(id == -ENOSPC, "round %d: fill: %s", round, mmds_strerror(id));
	CHECK(fill + used == CAP, "round %d: %u ids leaked", round,
	      CAP - fill - used);
	for (uint32_t i = 0; i < fill; i++)
		mmds_counters_free(c, fill_ids[i]);
	mmds_counters_close(c);
	CHECK(raw_word(LOCK_OFF) == 0, "round %d: lock still held", round);
	CHECK(raw_word(INTENT_OFF) == 0, "round %d: intent left", round);
}

int main(int argc, char **argv)
{
	const char *env = getenv("MMDS_TORTURE_KILLS");
	long kills = argc > 1 ? atol(argv[1]) : env ? atol(env) : 5000;
	unsigned seed = argc > 2 ? (unsigned)atol(argv[2]) : (unsigned)time(NULL);
	const char *tmp = getenv("TMPDIR");
	pid_t pids[WORKERS], zombie = 0;
	long killed = 0, in_lock = 0, mid_change = 0, rounds = 0;
	uint64_t t0 = mono_ns();
	mmds_counters *c = NULL;
	int err;

	if (kills <= 0)
		kills = 5000;
	snprintf(path, sizeof(path), "%s/mmds-torture-counters.%ld",
		 tmp ? tmp : "/tmp", (long)getpid());
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 2;
	memset(sh, 0, sizeof(*sh));
	err = mmds_counters_open(&c, path, &(mmds_counters_opts){
						   .flags = MMDS_COUNTERS_CREATE |
							    MMDS_COUNTERS_EXCL,
						   .capacity = CAP,
						   .grace_ms = GRACE_MS });
	if (err < 0)
		die("create", err);
	mmds_counters_close(c);
	srand(seed);
	for (int w = 0; w < WORKERS; w++)
		pids[w] = spawn(w, (unsigned)rand());
	while (killed < kills) {
		int w = rand() % WORKERS;
		siginfo_t si;

		nanosleep(&(struct timespec){ .tv_nsec = rand() % 2000000 }, NULL);
		kill(pids[w], SIGKILL);
		/* dead, but left a zombie until the next kill: a zombie that
		 * holds the lock must not count as alive */
		memset(&si, 0, sizeof(si));
		waitid(P_PID, (id_t)pids[w], &si, WEXITED | WNOWAIT);
		if (zombie > 0)
			waitpid(zombie, NULL, 0);
		zombie = pids[w];
		if (si.si_code != CLD_KILLED) {
			fprintf(stderr, "torture_counters: worker %d exited %d\n", w,
				si.si_status);
			failures++;
			break;
		}
		killed++;
		/* did it die holding the lock (the owner word's low half is
		 * its pid), or in the middle of a change? */
		if ((uint32_t)raw_word(LOCK_OFF) == (uint32_t)pids[w]) {
			in_lock++;
			mid_change += raw_word(INTENT_OFF) != 0;
		}
		if (killed % CHECK_EVERY == 0 || killed == kills) {
			for (int v = 0; v < WORKERS; v++) {
				if (v == w)
					continue;
				kill(pids[v], SIGKILL);
				waitpid(pids[v], NULL, 0);
			}
			check(++rounds); /* with the last one still a zombie */
			waitpid(zombie, NULL, 0);
			zombie = 0;
			if (failures)
				break;
		}
		if (killed % CHECK_EVERY == 0 && killed < kills) {
			for (int v = 0; v < WORKERS; v++)
				pids[v] = spawn(v, (unsigned)rand());
		} else if (killed < kills) {
			pids[w] = spawn(w, (unsigned)rand());
		}
	}
	if (failures)
		for (int v = 0; v < WORKERS; v++)
			kill(pids[v], SIGKILL);
	while (wait(NULL) > 0)
		;
	printf("counters torture (seed %u): %ld kills in %.1f s, %ld with the "
	       "allocation lock held, %ld in the middle of a change; %ld full "
	       "checks; %" PRIu64 " allocs, %" PRIu64 " frees, %" PRIu64
	       " adds acknowledged, %" PRIu64 " -ENOSPC; longest alloc/free "
	       "%.1f ms; %s\n",
	       seed, killed, (double)(mono_ns() - t0) / 1e9, in_lock, mid_change,
	       rounds, atomic_load(&sh->allocs), atomic_load(&sh->frees),
	       atomic_load(&sh->adds), atomic_load(&sh->enospc),
	       (double)atomic_load(&sh->max_wait_ns) / 1e6,
	       failures ? "FAILED" : "every invariant held");
	unlink(path);
	return failures ? 1 : 0;
}
