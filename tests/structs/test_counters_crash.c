/* test_counters_crash.c - counters killed at every named crash point
 * (docs/CRASHPOINTS.md, "Counters"): a child allocates and frees plain and
 * striped counters with one point armed and dies there; a new process then
 * takes the lock over and must find every acknowledged counter with its
 * value, no freed counter, no half-made one, no leaked id, no stuck lock. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds/counters.h>

#include "counters_format.h"
#include "crash.h"
#include "owner.h"
#include "t_crash.h"
#include "t_util.h"

Suite *counters_crash_suite(void);

#define CAP 48u
#define MAX_PASSES 16ul

/* The counters a scenario makes; its progress on each is in shared memory,
 * updated only outside library calls (the points are all inside them), so
 * it says exactly which calls returned. */
static const struct {
	const char *label;
	uint32_t stripes;
	uint64_t add;
} defs[] = {
	{ "keep_plain", 1, 7 },    /* made by the parent */
	{ "keep_striped", 3, 11 }, /* made by the parent, freed by the child */
	{ "new_plain", 1, 5 },
	{ "new_striped", 4, 9 },
	{ "after", 2, 3 },
	{ "last", 1, 1 },
	{ "recovering", 1, 2 },    /* the second child of a recovery scenario */
	{ "hist", 8, 1 },          /* a histogram: 2 bounds, 2 sets; 1 observation */
};
#define HIST 7u
static const double hist_bounds[] = { 1, 10 };
#define NL (sizeof(defs) / sizeof(defs[0]))

enum { NONE, ALLOCATING, LIVE, FREEING, FREED };

struct progress {
	int state[NL];
	int id[NL];
	uint64_t value[NL];
};

static struct progress *prog;

static int do_alloc(mmds_counters *c, unsigned l)
{
	int id;

	prog->state[l] = ALLOCATING;
	if (l == HIST)
		id = mmds_counters_alloc_histogram(c, defs[l].label,
						   &(mmds_histogram_def){
							   .bounds = hist_bounds,
							   .nbounds = 2,
							   .stripes = 2 });
	else
		id = mmds_counters_alloc(c, defs[l].label,
					 &(mmds_counter_def){ .stripes = defs[l].stripes });
	if (id < 0)
		return id;
	prog->id[l] = id;
	prog->value[l] = 0;
	prog->state[l] = LIVE;
	if (l == HIST ? mmds_counters_observe(c, id, 5) != 0
		      : mmds_counters_add(c, id, defs[l].add, NULL) != 0)
		return -EIO;
	prog->value[l] = defs[l].add;
	return 0;
}

static int do_free(mmds_counters *c, unsigned l)
{
	int rc;

	prog->state[l] = FREEING;
	rc = mmds_counters_free(c, prog->id[l]);
	if (rc < 0)
		return rc;
	prog->state[l] = FREED;
	return 0;
}

static mmds_counters *open_rw(void)
{
	mmds_counters *c = NULL;
	int err = mmds_counters_open(&c, t_path("c"), NULL);

	if (err < 0) {
		fprintf(stderr, "open: %s\n", mmds_strerror(err));
		return NULL;
	}
	return c;
}

/* The child's work: allocations and frees of plain and striped counters,
 * each point reached several times. */
static int work(void *arg)
{
	static const struct {
		int alloc;
		unsigned l;
	} steps[] = { { 1, 2 }, { 1, 3 }, { 0, 1 }, { 1, HIST }, { 1, 4 },
		      { 0, 2 }, { 0, 3 }, { 0, HIST }, { 1, 5 } };
	mmds_counters *c = open_rw();

	(void)arg;
	if (c == NULL)
		return 2;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int rc = steps[i].alloc ? do_alloc(c, steps[i].l) :
					  do_free(c, steps[i].l);

		if (rc < 0) {
			fprintf(stderr, "step %zu: %s\n", i, mmds_strerror(rc));
			return 3;
		}
	}
	mmds_counters_close(c);
	return 0;
}

/* A process arriving after a dead holder: it opens (which settles the dead
 * holder's change) and allocates and frees one counter. */
static int recovering(void *arg)
{
	mmds_counters *c = open_rw();
	int rc;

	(void)arg;
	if (c == NULL)
		return 2;
	rc = do_alloc(c, 6);
	if (rc == 0)
		rc = do_free(c, 6);
	if (rc < 0) {
		fprintf(stderr, "recovering: %s\n", mmds_strerror(rc));
		return 3;
	}
	mmds_counters_close(c);
	return 0;
}

static void raw_write(uint64_t off, const void *p, size_t len)
{
	int fd = open(t_path("c"), O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, p, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint64_t raw_word(uint64_t off)
{
	int fd = open(t_path("c"), O_RDONLY | O_CLOEXEC);
	uint64_t w = 0;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &w, 8, (off_t)off), 8);
	close(fd);
	return w;
}

/* A fresh file with the parent's two counters. */
static void setup(void)
{
	mmds_counters *c = NULL;

	unlink(t_path("c"));
	memset(prog, 0, sizeof(*prog));
	ck_assert_int_eq(mmds_counters_open(&c, t_path("c"),
					    &(mmds_counters_opts){
						    .flags = MMDS_COUNTERS_CREATE,
						    .capacity = CAP,
						    .grace_ms = 1 }),
			 0);
	ck_assert_int_eq(do_alloc(c, 0), 0);
	ck_assert_int_eq(do_alloc(c, 1), 0);
	mmds_counters_close(c);
}

/* Three STRIPE records naming a head that is no counter (what a holder
 * killed under an older library left). */
static void forge_orphans(void)
{
	for (uint32_t id = CAP - 3; id < CAP; id++) {
		uint64_t st = (1ull << 8) | MMDS__CNT_STRIPE;
		uint32_t head = CAP - 4;

		raw_write(MMDS__CNT_META_OFF + (uint64_t)id * MMDS__CNT_RECORD_SIZE,
			  &st, 8);
		raw_write(MMDS__CNT_META_OFF + (uint64_t)id * MMDS__CNT_RECORD_SIZE +
				  24, &head, 4);
	}
}

static double elapsed_s(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Every invariant, in a process that did not die. */
static void check_after(const char *point, unsigned long pass)
{
	mmds_counter_info info[CAP];
	mmds_counters_stat st;
	struct timespec t0;
	mmds_counters *c;
	uint32_t used = 0, fill = 0;
	int n, id, rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	c = open_rw();
	ck_assert_ptr_nonnull(c);
	/* the lock is not stuck: taken over at once */
	id = mmds_counters_alloc(c, "probe", NULL);
	ck_assert_msg(id >= 0, "%s:%lu: alloc after the kill: %s", point, pass,
		      mmds_strerror(id));
	ck_assert_msg(elapsed_s(&t0) < 2.0, "%s:%lu: lock held %.1f s", point,
		      pass, elapsed_s(&t0));
	ck_assert_int_eq(mmds_counters_free(c, id), 0);
	n = mmds_counters_snapshot(c, info, CAP);
	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, (int)CAP);
	for (int i = 0; i < n; i++) {
		size_t l = 0;

		while (l < NL && strcmp(defs[l].label, info[i].label) != 0)
			l++;
		ck_assert_msg(l < NL, "%s:%lu: unknown counter %s listed", point,
			      pass, info[i].label);
		/* whole: its stripes as made, listed once */
		ck_assert_uint_eq(info[i].stripes, defs[l].stripes);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(info[j].label, info[i].label);
		used += info[i].stripes;
		switch (prog->state[l]) {
		case NONE:
		case FREED:
			ck_abort_msg("%s:%lu: %s listed in state %d", point, pass,
				     info[i].label, prog->state[l]);
			break;
		case ALLOCATING: /* the alloc never returned: made whole */
			ck_assert_uint_eq(info[i].value, 0);
			break;
		case LIVE:
		case FREEING: /* a free that never returned may be undone */
			ck_assert_int_eq(info[i].id, prog->id[l]);
			ck_assert_uint_eq(info[i].value, prog->value[l]);
			break;
		}
		if (l == HIST) {
			/* whole: its bounds as made, its buckets add up */
			mmds_histogram_info h;

			ck_assert_uint_eq(info[i].kind, MMDS_HISTOGRAM);
			ck_assert_int_eq(mmds_counters_histogram(c, info[i].id, &h), 0);
			ck_assert_uint_eq(h.nbounds, 2);
			ck_assert(h.bounds[0] == 1 && h.bounds[1] == 10);
			ck_assert_uint_eq(h.count, info[i].value);
			ck_assert_uint_eq(h.buckets[1], info[i].value);
			ck_assert(h.sum == 5.0 * (double)info[i].value);
		}
	}
	/* every acknowledged counter is listed */
	for (size_t l = 0; l < NL; l++) {
		int listed = 0;

		for (int i = 0; i < n; i++)
			listed |= strcmp(defs[l].label, info[i].label) == 0;
		ck_assert_msg(listed || prog->state[l] != LIVE,
			      "%s:%lu: %s lost", point, pass, defs[l].label);
	}
	/* no id used by nobody, and every other id comes back */
	ck_assert_int_eq(mmds_counters_get_stat(c, &st), 0);
	ck_assert_msg(st.used == used, "%s:%lu: %u ids used, %u listed", point,
		      pass, st.used, used);
	nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	for (;;) {
		char label[32];

		snprintf(label, sizeof(label), "fill%u", fill);
		rc = mmds_counters_alloc(c, label, NULL);
		if (rc < 0)
			break;
		fill++;
	}
	ck_assert_int_eq(rc, -ENOSPC);
	ck_assert_msg(fill + used == CAP, "%s:%lu: %u ids leaked", point, pass,
		      CAP - fill - used);
	mmds_counters_close(c);
	/* nobody holds the lock, no change is pending */
	ck_assert_uint_eq(raw_word(MMDS__CNT_LOCK_OFF), 0);
	ck_assert_uint_eq(raw_word(MMDS__CNT_INTENT_OFF), 0);
}

enum scenario { WORK, RECOVER_ALLOC, RECOVER_FREE, ORPHANS };

/* Run scenario s with point armed at pass; 1 if it died there. */
static int run(enum scenario s, const char *point, unsigned long pass)
{
	int killed;

	setup();
	switch (s) {
	case WORK:
		return t_crash_run(point, pass, work, NULL);
	case ORPHANS:
		forge_orphans();
		return t_crash_run(point, pass, work, NULL);
	case RECOVER_ALLOC:
		/* dies with new_striped half published */
		ck_assert_int_eq(t_crash_run("counters.alloc.stripe_published", 2,
					     work, NULL), 1);
		break;
	case RECOVER_FREE:
		/* dies with keep_striped's head and one stripe freed */
		ck_assert_int_eq(t_crash_run("counters.free.stripe_freed", 1,
					     work, NULL), 1);
		break;
	}
	ck_assert_uint_ne(raw_word(MMDS__CNT_INTENT_OFF), 0);
	killed = t_crash_run(point, pass, recovering, NULL);
	return killed;
}

static const char *points[64];
static size_t npoints;

/* The distinct counters.* points, sorted, as t_crash_points() lists them
 * (that one asserts, so it runs inside the tests; this one builds the
 * loop before them). */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static size_t list_points(void)
{
	size_t n = 0;

	for (size_t i = 0; i < mmds__crash_count(); i++) {
		const char *name = mmds__crash_at(i)->name;
		size_t j = 0;

		if (strncmp(name, "counters.", 9) != 0)
			continue;
		while (j < n && strcmp(points[j], name) != 0)
			j++;
		if (j == n && n < 64)
			points[n++] = name;
	}
	qsort(points, n, sizeof(points[0]), cmp_str);
	return n;
}

/* The scenarios that kill at point; must[k]: scenario k reaches it. */
static void scenarios_of(const char *point, enum scenario *out, int *must,
			 int *n)
{
	*n = 0;
	if (strncmp(point, "counters.recover.", 17) == 0) {
		out[*n] = RECOVER_ALLOC, must[(*n)++] = 1;
		out[*n] = RECOVER_FREE, must[(*n)++] = 1;
	} else if (strncmp(point, "counters.sweep.", 15) == 0) {
		out[*n] = ORPHANS, must[(*n)++] = 1;
	} else if (strncmp(point, "counters.alloc.", 15) == 0 ||
		   strncmp(point, "counters.free.", 14) == 0 ||
		   strncmp(point, "counters.lock.", 14) == 0) {
		out[*n] = WORK, must[(*n)++] = 1;
		/* killed again while (or after) taking over from a dead
		 * holder; the recovering process makes plain counters only */
		out[*n] = RECOVER_ALLOC, must[(*n)++] = 0;
	}
}

/* One test per point (its index), so a failure names it. */
START_TEST(test_kill_at_every_point_loses_and_leaks_nothing)
{
	const char *point = points[_i];
	enum scenario sc[4];
	int must[4], nsc, kills = 0;

	scenarios_of(point, sc, must, &nsc);
	ck_assert_msg(nsc > 0, "crash point %s has no scenario", point);
	for (int k = 0; k < nsc; k++) {
		unsigned long pass;

		for (pass = 1; pass <= MAX_PASSES; pass++) {
			int killed = run(sc[k], point, pass);

			if (!killed) {
				/* the scenario ran to its end: still sound */
				check_after(point, pass);
				break;
			}
			check_after(point, pass);
			kills++;
		}
		ck_assert_msg(pass > 1 || !must[k],
			      "crash point %s not reached by scenario %d", point,
			      (int)sc[k]);
	}
	fprintf(stderr, "%s: killed %d times, every invariant held\n", point,
		kills);
}
END_TEST

/* The enumeration itself: every counters point is here, and the ones
 * this test knows were all compiled in. */
START_TEST(test_every_counters_point_is_enumerated)
{
	static const char *const expected[] = {
		"counters.alloc.head_published", "counters.alloc.intent",
		"counters.alloc.intent_cleared", "counters.alloc.record_written",
		"counters.alloc.reserved", "counters.alloc.stripe_published",
		"counters.alloc.value_zeroed", "counters.free.head_freed",
		"counters.free.intent", "counters.free.intent_cleared",
		"counters.free.stripe_freed", "counters.lock.taken",
		"counters.recover.intent_cleared", "counters.recover.record",
		"counters.sweep.orphan",
	};

	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		size_t j = 0;

		while (j < npoints && strcmp(points[j], expected[i]) != 0)
			j++;
		ck_assert_msg(j < npoints, "%s not compiled in", expected[i]);
	}
	const char *listed[64];
	size_t nl = t_crash_points("counters.", listed, 64);

	ck_assert_uint_eq(nl, npoints);
	for (size_t i = 0; i < nl; i++)
		ck_assert_str_eq(listed[i], points[i]);
}
END_TEST

/* ---- live holders are waited for, never robbed ---------------------------- */

struct later {
	long ms;
	uint64_t word; /* stored into the lock word after ms */
	pid_t kill;    /* or: this process is killed (and left a zombie) */
};

static void *do_later(void *arg)
{
	struct later *a = arg;

	nanosleep(&(struct timespec){ a->ms / 1000, (a->ms % 1000) * 1000000L },
		  NULL);
	if (a->kill > 0)
		kill(a->kill, SIGKILL);
	else
		raw_write(MMDS__CNT_LOCK_OFF, &a->word, 8);
	return NULL;
}

/* The lock held under this process's own owner word (another thread or
 * handle of it) is a live holder: an allocation waits for its release
 * instead of taking it. */
START_TEST(test_holder_in_this_process_is_waited_for)
{
	uint64_t me = mmds__owner_self();
	struct later a = { 300, 0, 0 };
	struct timespec t0;
	pthread_t th;
	mmds_counters *c;
	int id;

	setup();
	c = open_rw();
	ck_assert_ptr_nonnull(c);
	raw_write(MMDS__CNT_LOCK_OFF, &me, 8);
	ck_assert_int_eq(pthread_create(&th, NULL, do_later, &a), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	id = mmds_counters_alloc(c, "waited", NULL);
	ck_assert_int_ge(id, 0);
	ck_assert_msg(elapsed_s(&t0) >= 0.25, "took a live holder's lock after "
		      "%.3f s", elapsed_s(&t0));
	pthread_join(th, NULL);
	ck_assert_uint_eq(raw_word(MMDS__CNT_LOCK_OFF), 0);
	mmds_counters_close(c);
}
END_TEST

/* Another live process's lock is waited for; once it is killed (and not
 * yet reaped) the lock is taken over at once. */
START_TEST(test_holder_process_is_waited_for_then_taken_when_killed)
{
	struct later a = { 300, 0, 0 };
	struct timespec t0;
	pthread_t th;
	mmds_counters *c;
	uint64_t w;
	pid_t pid;
	int id;

	setup();
	pid = t_fork();
	if (pid == 0) {
		pause();
		_exit(0);
	}
	w = 0;
	for (int i = 0; i < 100 && w == 0; i++) {
		w = mmds__owner_of_pid((uint32_t)pid);
		if (w == 0)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
	}
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		t_skip("no /proc: a process's owner word cannot be known");
	}
	raw_write(MMDS__CNT_LOCK_OFF, &w, 8);
	c = open_rw(); /* a live holder: the open leaves it alone */
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(raw_word(MMDS__CNT_LOCK_OFF), w);
	a.kill = pid;
	ck_assert_int_eq(pthread_create(&th, NULL, do_later, &a), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	id = mmds_counters_alloc(c, "taken", NULL);
	ck_assert_int_ge(id, 0);
	ck_assert_msg(elapsed_s(&t0) >= 0.25 && elapsed_s(&t0) < 2.0,
		      "took the lock after %.3f s", elapsed_s(&t0));
	pthread_join(th, NULL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_uint_eq(raw_word(MMDS__CNT_LOCK_OFF), 0);
	mmds_counters_close(c);
}
END_TEST

Suite *counters_crash_suite(void)
{
	Suite *s = suite_create("counters_crash");
	TCase *tc = t_tcase(s, "points", 120);

	npoints = list_points();
	tcase_add_test(tc, test_every_counters_point_is_enumerated);
	tcase_add_loop_test(tc, test_kill_at_every_point_loses_and_leaks_nothing,
			    0, (int)npoints);
	tc = t_tcase(s, "lock", 30);
	tcase_add_test(tc, test_holder_in_this_process_is_waited_for);
	tcase_add_test(tc, test_holder_process_is_waited_for_then_taken_when_killed);
	return s;
}

int main(void)
{
	prog = mmap(NULL, sizeof(*prog), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (prog == MAP_FAILED)
		return 1;
	return t_run_suite(counters_crash_suite());
}
