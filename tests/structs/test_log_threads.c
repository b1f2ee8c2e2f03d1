/* test_log_threads.c - a record whose append returned survives kill -9 of
 * the writer whatever its other appending threads were doing: random kill
 * loops and every append/rollover crash point, at 1, 4 and 16 threads. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
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

#include <mmds/log.h>

#include "crash.h"
#include "log_inv.h"
#include "t_crash.h"
#include "t_util.h"

Suite *log_threads_suite(void);

#define SEG ((uint64_t)16384)
#define MAX_POINTS 64

static struct log_mt *g_sh;
static mmds_log *g_log;
static unsigned g_per_thread; /* records per thread; 0 = until killed */

static const char *logdir(void)
{
	return t_path("log");
}

static void reset(unsigned threads)
{
	t_rm_dir(logdir());
	memset(g_sh, 0, sizeof(*g_sh));
	g_sh->threads = threads;
}

static void *appender(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;

	for (unsigned k = 0; g_per_thread == 0 || k < g_per_thread; k++) {
		if (log_mt_append(g_log, g_sh, t) != 0)
			_exit(3);
		if (t == 0 && k % 50 == 49 && mmds_log_sync(g_log, UINT64_MAX) != 0)
			_exit(4);
	}
	return NULL;
}

/* The writer: g_sh->threads threads append (g_per_thread records each, or
 * until killed), then a clean close. */
static int scenario_threads(void *arg)
{
	pthread_t th[LOG_MT_MAX];

	(void)arg;
	if (mmds_log_open(&g_log, logdir(),
			  &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
					    .segment_size = SEG }) != 0)
		return 2;
	atomic_store(&g_sh->started, 1);
	for (unsigned t = 0; t < g_sh->threads; t++)
		if (pthread_create(&th[t], NULL, appender, (void *)(uintptr_t)t) != 0)
			return 5;
	for (unsigned t = 0; t < g_sh->threads; t++)
		pthread_join(th[t], NULL);
	return mmds_log_close(g_log) == 0 ? 0 : 6;
}

static unsigned iterations(unsigned def)
{
	const char *e = getenv("MMDS_TEST_ITERATIONS");

	return e ? (unsigned)strtoul(e, NULL, 10) : def;
}

static void kill_loop(unsigned threads, unsigned rounds)
{
	char why[512];

	g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g_sh, MAP_FAILED);
	reset(threads);
	g_per_thread = 0;
	srand((unsigned)getpid());
	for (unsigned k = 0; k < rounds; k++) {
		pid_t pid;
		int st;

		atomic_store(&g_sh->started, 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(scenario_threads(NULL));
		while (!atomic_load(&g_sh->started) && waitpid(pid, &st, WNOHANG) == 0)
			usleep(100);
		usleep((useconds_t)(rand() % 3000));
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFSIGNALED(st), "writer exited with %d",
			      WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		ck_assert_msg(log_mt_check(logdir(), g_sh, SEG, 1, why, sizeof(why)) == 0,
			      "%u threads, kill %u: %s", threads, k + 1, why);
	}
	for (unsigned t = 0; t < threads; t++)
		g_sh->records += atomic_load(&g_sh->acked[t]);
	fprintf(stderr, "kill loop, %u threads: %u kills, %llu records acknowledged, "
		"%llu lost, %llu abandoned reservations, %llu in-flight records kept\n",
		threads, rounds, (unsigned long long)g_sh->records,
		(unsigned long long)g_sh->lost, (unsigned long long)g_sh->abandoned,
		(unsigned long long)g_sh->inflight_kept);
	ck_assert_msg(g_sh->lost == 0, "%u threads: %llu acknowledged records lost in %u kills",
		      threads, (unsigned long long)g_sh->lost, rounds);
	munmap(g_sh, sizeof(*g_sh));
}

START_TEST(test_kill_loop_one_thread_loses_no_acknowledged_record)
{
	kill_loop(1, iterations(40));
}
END_TEST

START_TEST(test_kill_loop_four_threads_lose_no_acknowledged_record)
{
	kill_loop(4, iterations(60));
}
END_TEST

START_TEST(test_kill_loop_sixteen_threads_lose_no_acknowledged_record)
{
	kill_loop(16, iterations(60));
}
END_TEST

/* How often the scenario reaches point when nothing is armed. */
static unsigned long hits_unarmed(const char *point, unsigned threads)
{
	unsigned long *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long n;
	pid_t pid;

	ck_assert_ptr_ne(h, MAP_FAILED);
	reset(threads);
	pid = t_fork();
	if (pid == 0) {
		unsigned long before = mmds__crash_hits(point);
		int rc = scenario_threads(NULL);

		*h = mmds__crash_hits(point) - before;
		_exit(rc);
	}
	t_wait_child(pid);
	n = *h;
	munmap(h, sizeof(*h));
	return n;
}

static int is_writer_point(const char *name)
{
	return strncmp(name, "log.append.", 11) == 0 ||
	       strncmp(name, "log.rollover.", 13) == 0;
}

START_TEST(test_every_append_crash_point_at_1_4_16_threads_loses_nothing)
{
	static const unsigned counts[3] = { 1, 4, 16 };
	const char *pts[MAX_POINTS];
	size_t n = t_crash_points("log.", pts, MAX_POINTS);
	unsigned runs = 0, claimed_seen = 0;
	char why[512];

	g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g_sh, MAP_FAILED);
	for (size_t p = 0; p < n; p++) {
		if (!is_writer_point(pts[p]))
			continue;
		claimed_seen += strcmp(pts[p], "log.append.claimed") == 0;
		for (int c = 0; c < 3; c++) {
			unsigned threads = counts[c];
			unsigned long total, passes[3];

			g_per_thread = 320 / threads;
			/* with several threads the records pack differently in
			 * each run, and so the rollovers number differently:
			 * the least of three runs is a pass every run reaches */
			total = hits_unarmed(pts[p], threads);
			for (int r = 1; threads > 1 && r < 3; r++) {
				unsigned long t2 = hits_unarmed(pts[p], threads);

				if (t2 < total)
					total = t2;
			}
			ck_assert_msg(total >= 1, "%s: never reached at %u threads", pts[p], threads);
			passes[0] = 1;
			passes[1] = 2;
			passes[2] = total / 2 + 1;
			for (int k = 0; k < 3; k++) {
				if (passes[k] > total || (k > 0 && passes[k] <= passes[k - 1]))
					continue;
				reset(threads);
				ck_assert_msg(t_crash_run(pts[p], passes[k], scenario_threads, NULL) == 1,
					      "%s pass %lu at %u threads not reached", pts[p],
					      passes[k], threads);
				ck_assert_msg(log_mt_check(logdir(), g_sh, SEG, 0, why, sizeof(why)) == 0,
					      "killed at %s pass %lu, %u threads: %s", pts[p],
					      passes[k], threads, why);
				ck_assert_msg(log_mt_check(logdir(), g_sh, SEG, 0, why, sizeof(why)) == 0,
					      "second recovery after %s pass %lu, %u threads: %s",
					      pts[p], passes[k], threads, why);
				runs++;
			}
		}
	}
	ck_assert_uint_eq(claimed_seen, 1);
	ck_assert_uint_ge(runs, 20);
	munmap(g_sh, sizeof(*g_sh));
}
END_TEST

/* A reader in another process waits at a reservation while the writer
 * lives, skips it once the writer is killed (never serves it, never waits
 * for ever), and recovery seals it and keeps the record after it. */
START_TEST(test_reader_skips_a_reservation_the_dead_writer_left)
{
	int ready[2];
	pid_t pid;
	char c;
	uint64_t lsn[3];
	mmds_log *r = NULL, *w = NULL;
	mmds_log_iter *it = NULL;
	mmds_log_record rec;
	mmds_log_report rep;
	unsigned char buf[16];

	ck_assert_int_eq(pipe(ready), 0);
	pid = t_fork();
	if (pid == 0) {
		mmds_log_reservation res;

		T_CHILD_ASSERT(mmds_log_open(&w, logdir(),
					     &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							       .segment_size = SEG }) == 0);
		T_CHILD_ASSERT(mmds_log_append(w, 1, "first", 5, &lsn[0]) == 0);
		T_CHILD_ASSERT(mmds_log_reserve(w, 7, &res) == 0);
		memcpy(res.data, "unsaid!", 7); /* never committed */
		T_CHILD_ASSERT(mmds_log_append(w, 3, "third", 5, &lsn[2]) == 0);
		T_CHILD_ASSERT(write(ready[1], "x", 1) == 1);
		for (;;)
			pause();
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(mmds_log_open(&r, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY }), 0);
	ck_assert_int_eq(mmds_log_iter_open(&it, r, MMDS_LOG_START), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &rec), 0);
	ck_assert_uint_eq(rec.type, 1);
	/* the writer lives: the reservation may still be committed */
	ck_assert_int_eq(mmds_log_iter_next(it, &rec), -EAGAIN);
	ck_assert_int_eq(mmds_log_iter_wait(it, 30), -ETIMEDOUT);
	ck_assert_int_eq(mmds_log_read(r, 24, buf, sizeof(buf), &rec), -EAGAIN);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	/* dead: skipped within the wait's bound, never served */
	ck_assert_int_eq(mmds_log_iter_wait(it, 5000), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &rec), 0);
	ck_assert_uint_eq(rec.type, 3);
	ck_assert_int_eq(memcmp(rec.data, "third", 5), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &rec), -EAGAIN);
	ck_assert_int_eq(mmds_log_read(r, 24, buf, sizeof(buf), &rec), -ENOENT);
	mmds_log_iter_close(it);
	ck_assert_int_eq(mmds_log_verify(logdir(), &rep), 0);
	ck_assert_uint_eq(rep.abandoned, 1);
	ck_assert_uint_eq(rep.records_kept, 2);
	mmds_log_close(r);
	/* the next writer seals it: a skipped record, the third one kept */
	ck_assert_int_eq(mmds_log_open(&w, logdir(), NULL), 0);
	ck_assert_int_eq(mmds_log_get_report(w, &rep), 0);
	ck_assert_uint_eq(rep.abandoned, 1);
	ck_assert_uint_eq(rep.records_kept, 2);
	ck_assert_uint_eq(rep.bytes_cut, 0);
	ck_assert_int_eq(mmds_log_read(w, 24, buf, sizeof(buf), &rec), -ENOENT);
	ck_assert_int_eq(mmds_log_read(w, 48, buf, sizeof(buf), &rec), 5);
	ck_assert_int_eq(mmds_log_close(w), 0);
	ck_assert_int_eq(mmds_log_verify(logdir(), &rep), 0);
	ck_assert_uint_eq(rep.abandoned, 0);
	close(ready[0]);
	close(ready[1]);
}
END_TEST

/* ---- segment lifetime: appenders racing retention --------------------------- */

struct race {
	mmds_log *l;
	_Atomic int stop;
	_Atomic uint64_t appends, retained, errors;
	_Atomic int first_error;
};

static void *race_appender(void *p)
{
	struct race *a = p;
	unsigned char buf[64];

	memset(buf, 0x33, sizeof(buf));
	while (!atomic_load(&a->stop)) {
		int rc = mmds_log_append(a->l, 2, buf, sizeof(buf), NULL);

		if (rc) {
			atomic_fetch_add(&a->errors, 1);
			atomic_store(&a->first_error, rc);
		}
		atomic_fetch_add(&a->appends, 1);
	}
	return NULL;
}

static void *race_retainer(void *p)
{
	struct race *a = p;

	while (!atomic_load(&a->stop)) {
		int rc = mmds_log_retain(a->l, mmds_log_tail_lsn(a->l));

		if (rc > 0)
			atomic_fetch_add(&a->retained, (uint64_t)rc);
		else if (rc < 0)
			atomic_store(&a->first_error, rc);
	}
	return NULL;
}

/* An appender that has read the active segment and holds no reference on
 * it yet may be preempted while the others fill several segments and
 * retention drops them: when it goes on, it must not touch the dropped
 * segment (the old code read its freed struct and wrote through its
 * unmapped header; ASan reports it at once).  The crash build's stall
 * widens the window: every 97th append sleeps there for 3 ms. */
START_TEST(test_appenders_racing_retention_never_touch_a_dropped_segment)
{
	struct race a = { 0 };
	pthread_t t[9];
	time_t start = time(NULL);
	mmds_log_report rep;
	mmds_log_iter *it;
	mmds_log_record rec;
	uint64_t n = 0;
	int rc;

	t_rm_dir(logdir());
	ck_assert_int_eq(mmds_log_open(&a.l, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = MMDS_LOG_MIN_SEGMENT }),
			 0);
	mmds__crash_stall("log.append.looked", 97, 3000);
	for (int i = 0; i < 8; i++)
		pthread_create(&t[i], NULL, race_appender, &a);
	pthread_create(&t[8], NULL, race_retainer, &a);
	while (atomic_load(&a.errors) == 0 &&
	       (time(NULL) - start < 3 ||
		(atomic_load(&a.retained) <= 100 && time(NULL) - start < 60)))
		usleep(10000);
	atomic_store(&a.stop, 1);
	for (int i = 0; i < 9; i++)
		pthread_join(t[i], NULL);
	mmds__crash_stall(NULL, 0, 0);
	ck_assert_msg(a.errors == 0, "%llu append errors, e.g. %d (%s)",
		      (unsigned long long)a.errors, a.first_error,
		      mmds_strerror(a.first_error));
	ck_assert_uint_gt(a.retained, 100);
	ck_assert_uint_gt(mmds__crash_hits("log.append.looked"), 97);
	/* what is kept reads back whole */
	ck_assert_int_eq(mmds_log_sync(a.l, UINT64_MAX), 0);
	ck_assert_int_eq(mmds_log_iter_open(&it, a.l, MMDS_LOG_START), 0);
	while ((rc = mmds_log_iter_next(it, &rec)) == 0) {
		ck_assert_uint_eq(rec.len, 64);
		ck_assert_uint_eq(rec.type, 2);
		ck_assert_uint_eq(((const unsigned char *)rec.data)[63], 0x33);
		n++;
	}
	ck_assert_int_eq(rc, -EAGAIN);
	mmds_log_iter_close(it);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(mmds_log_close(a.l), 0);
	ck_assert_int_eq(mmds_log_verify(logdir(), &rep), 0);
}
END_TEST

/* fork() while the writer's background thread holds the handle's pool
 * lock (stalled there, making the next segment): the child inherits the
 * lock with no thread to release it, and its first rollover blocked for
 * ever.  fork now waits until the thread is between steps. */
START_TEST(test_fork_while_the_background_thread_works_leaves_the_child_usable)
{
	unsigned char buf[3000];
	mmds_log *l = NULL;
	pid_t pid;
	int st;

	t_rm_dir(logdir());
	memset(buf, 0x44, sizeof(buf));
	/* every pass sleeps 300 ms with the lock held: the open's own passes
	 * (recovery) in this thread, then the thread's, making the spare */
	mmds__crash_stall("log.pool.taken", 1, 300000);
	ck_assert_int_eq(mmds_log_open(&l, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = MMDS_LOG_MIN_SEGMENT }),
			 0);
	usleep(100000); /* the thread is in its 300 ms now */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		mmds__crash_stall(NULL, 0, 0);
		alarm(20);
		/* rollovers, each taking a struct from the pool */
		for (int i = 0; i < 20; i++)
			if (mmds_log_append(l, 1, buf, sizeof(buf), NULL) != 0)
				_exit(3);
		_exit(mmds_log_close(l) == 0 ? 0 : 4);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	mmds__crash_stall(NULL, 0, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child: %s %d", WIFEXITED(st) ? "exit" : "signal",
		      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	/* the child was the writer after the fork: the parent only closes */
	ck_assert_int_eq(mmds_log_close(l), 0);
}
END_TEST

Suite *log_threads_suite(void)
{
	Suite *s = suite_create("log_threads");
	TCase *tc;

	tc = t_tcase(s, "kill_loops", 240);
	tcase_add_test(tc, test_kill_loop_one_thread_loses_no_acknowledged_record);
	tcase_add_test(tc, test_kill_loop_four_threads_lose_no_acknowledged_record);
	tcase_add_test(tc, test_kill_loop_sixteen_threads_lose_no_acknowledged_record);
	tc = t_tcase(s, "readers", 60);
	tcase_add_test(tc, test_reader_skips_a_reservation_the_dead_writer_left);
	tc = t_tcase(s, "lifetime", 120);
	tcase_add_test(tc, test_appenders_racing_retention_never_touch_a_dropped_segment);
	tcase_add_test(tc, test_fork_while_the_background_thread_works_leaves_the_child_usable);
	tc = t_tcase(s, "points", 300);
	tcase_add_test(tc, test_every_append_crash_point_at_1_4_16_threads_loses_nothing);
	return s;
}

int main(void)
{
	return t_run_suite(log_threads_suite());
}
