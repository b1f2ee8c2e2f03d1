/* test_log_cursor.c - named durable cursors of a log (mmds/log.h, "Named
 * durable cursors"): commit and resume across processes, one holder per
 * cursor with takeover of a dead one, validated names, corrupt, truncated
 * and hostile cursor files, positions outside the log, retention that
 * keeps what the slowest cursor has not read, and the tool's listing. */
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
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mmds/log.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "t_util.h"

Suite *log_cursor_suite(void);

#define SEG_SMALL ((uint64_t)16384)
#define CUR_SIZE 2048

static const char *logdir(void)
{
	return t_path("log");
}

static const char *cur_path(const char *name)
{
	static char p[4][512];
	static int k;
	char *b = p[k++ & 3];

	snprintf(b, 512, "%s/cursors/%s", logdir(), name);
	return b;
}

static mmds_log *writer(void)
{
	mmds_log *l = NULL;
	int rc = mmds_log_open(&l, logdir(),
			       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
						 .segment_size = SEG_SMALL });

	ck_assert_msg(rc == 0, "log open = %d", rc);
	return l;
}

/* Append records whose payload is their number, n in [from, to); their
 * LSNs into lsns[n] (lsns[to] is the tail after them). */
static void append_n(mmds_log *l, uint64_t from, uint64_t to, uint64_t *lsns)
{
	unsigned char buf[200];

	for (uint64_t n = from; n < to; n++) {
		uint64_t lsn;

		memset(buf, (int)n, sizeof(buf));
		memcpy(buf, &n, sizeof(n));
		ck_assert_int_eq(mmds_log_append(l, 1, buf, 8 + n % 192, &lsn), 0);
		if (lsns)
			lsns[n] = lsn;
	}
	if (lsns)
		lsns[to] = mmds_log_tail_lsn(l);
}

static mmds_log_cursor *cursor(const char *name, unsigned flags)
{
	mmds_log_cursor *c = NULL;
	int rc = mmds_log_cursor_open(&c, logdir(), name,
				      &(mmds_log_cursor_opts){ .flags = flags });

	ck_assert_msg(rc == 0, "cursor open(%s) = %d (%s)", name, rc, mmds_strerror(rc));
	return c;
}

/* Read up to max records through c from its position, committing after
 * each; returns the record numbers seen in *got (count returned). */
static int consume(mmds_log_cursor *c, int max, uint64_t *got)
{
	mmds_log_iter *it;
	mmds_log_record r;
	int n = 0;

	if (mmds_log_cursor_iter(c, &it) != 0)
		return -1;
	while (n < max && mmds_log_iter_next(it, &r) == 0) {
		memcpy(&got[n++], r.data, 8);
		if (mmds_log_cursor_commit(c, r.next_lsn) != 0) {
			n = -1;
			break;
		}
	}
	mmds_log_iter_close(it);
	return n;
}

START_TEST(test_commit_then_reopen_resumes_at_the_next_record)
{
	mmds_log *l = writer();
	uint64_t lsns[101], got[100];
	mmds_log_cursor *c;

	append_n(l, 0, 100, lsns);
	ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), "a", NULL), -ENOENT);
	c = cursor("a", MMDS_LOG_CURSOR_CREATE);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[0]);
	ck_assert_int_eq(consume(c, 30, got), 30);
	for (int i = 0; i < 30; i++)
		ck_assert_uint_eq(got[i], (uint64_t)i);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[30]);
	/* monotonic: back is -ERANGE, the same position a no-op */
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[10]), -ERANGE);
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[30]), 0);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[30]);
	mmds_log_cursor_close(c);

	c = cursor("a", 0);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[30]);
	ck_assert_int_eq(consume(c, 1000, got), 70);
	for (int i = 0; i < 70; i++)
		ck_assert_uint_eq(got[i], (uint64_t)(30 + i));
	/* reset goes back, durably */
	ck_assert_int_eq(mmds_log_cursor_reset(c, lsns[50]), 0);
	mmds_log_cursor_close(c);
	c = cursor("a", 0);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[50]);
	ck_assert_int_eq(consume(c, 1, got), 1);
	ck_assert_uint_eq(got[0], 50);
	mmds_log_cursor_close(c);

	/* a new cursor at MMDS_LOG_END starts at the tail */
	ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), "late",
					      &(mmds_log_cursor_opts){
						      .flags = MMDS_LOG_CURSOR_CREATE,
						      .start = MMDS_LOG_END }), 0);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[100]);
	mmds_log_cursor_close(c);
	mmds_log_cursor_close(NULL);
	ck_assert_uint_eq(mmds_log_cursor_position(NULL), 0);
	ck_assert_int_eq(mmds_log_cursor_commit(NULL, 1), -EINVAL);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_names_are_validated)
{
	mmds_log *l = writer();
	mmds_log_cursor *c = (mmds_log_cursor *)1;
	char longest[65], toolong[66];
	const char *bad[] = { "", ".", "..", ".hidden", "-x", "a/b", "../x", "a b",
			      "x\n", "caf\xc3\xa9", "*", NULL };

	for (int i = 0; bad[i]; i++) {
		ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), bad[i],
						      &(mmds_log_cursor_opts){
							      .flags = MMDS_LOG_CURSOR_CREATE }),
				 -EINVAL);
		ck_assert_ptr_null(c);
		ck_assert_int_eq(mmds_log_cursor_remove(logdir(), bad[i]), -EINVAL);
	}
	ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), NULL, NULL), -EINVAL);
	ck_assert_int_eq(mmds_log_cursor_open(NULL, logdir(), "a", NULL), -EINVAL);
	ck_assert_int_eq(mmds_log_cursor_open(&c, NULL, "a", NULL), -EINVAL);
	ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), "a",
					      &(mmds_log_cursor_opts){ .flags = 1u << 7 }),
			 -EINVAL);
	memset(longest, 'z', 64);
	longest[64] = '\0';
	memset(toolong, 'z', 65);
	toolong[65] = '\0';
	ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), toolong,
					      &(mmds_log_cursor_opts){
						      .flags = MMDS_LOG_CURSOR_CREATE }),
			 -EINVAL);
	c = cursor(longest, MMDS_LOG_CURSOR_CREATE);
	mmds_log_cursor_close(c);
	c = cursor("Ship_01.x-y", MMDS_LOG_CURSOR_CREATE);
	mmds_log_cursor_close(c);
	/* no log, no cursor */
	ck_assert_int_eq(mmds_log_cursor_open(&c, t_path("nolog"), "a",
					      &(mmds_log_cursor_opts){
						      .flags = MMDS_LOG_CURSOR_CREATE }),
			 -ENOENT);
	mmds_log_close(l);
}
END_TEST

/* kill -9 of a committing consumer at random moments: the next holder
 * finds the last acknowledged position or the one in flight, and reads on
 * from there in order. */
START_TEST(test_kill9_during_commits_resumes_at_the_last_commit)
{
	enum { RECS = 120 };
	mmds_log *l = writer();
	uint64_t lsns[RECS + 1];
	_Atomic int *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int kills = getenv("MMDS_TEST_ITERATIONS") ? atoi(getenv("MMDS_TEST_ITERATIONS")) : 40;
	unsigned seed = 7;
	mmds_log_cursor *c;

	ck_assert_ptr_ne(sh, MAP_FAILED);
	append_n(l, 0, RECS, lsns);
	mmds_log_cursor_close(cursor("k", MMDS_LOG_CURSOR_CREATE));
	for (int k = 0; k < kills; k++) {
		int acked, att, at = -1;
		pid_t pid;

		atomic_store(&sh[2], 0);
		pid = t_fork();
		if (pid == 0) {
			mmds_log_cursor *cc;
			mmds_log_iter *it;
			mmds_log_record r;
			int i;

			T_CHILD_ASSERT(mmds_log_cursor_open(&cc, logdir(), "k", NULL) == 0);
			for (i = 0; i <= RECS; i++)
				if (lsns[i] == mmds_log_cursor_position(cc))
					break;
			T_CHILD_ASSERT(mmds_log_cursor_iter(cc, &it) == 0);
			atomic_store(&sh[2], 1);
			for (;;) {
				if (mmds_log_iter_next(it, &r) != 0) {
					/* at the end: go round again */
					atomic_store(&sh[1], 0);
					T_CHILD_ASSERT(mmds_log_cursor_reset(cc, lsns[0]) == 0);
					atomic_store(&sh[0], 0);
					mmds_log_iter_close(it);
					T_CHILD_ASSERT(mmds_log_cursor_iter(cc, &it) == 0);
					i = 0;
					continue;
				}
				atomic_store(&sh[1], i + 1);
				T_CHILD_ASSERT(mmds_log_cursor_commit(cc, r.next_lsn) == 0);
				atomic_store(&sh[0], ++i);
			}
		}
		while (!atomic_load(&sh[2]))
			usleep(100);
		usleep((useconds_t)(rand_r(&seed) % 20000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		acked = atomic_load(&sh[0]);
		att = atomic_load(&sh[1]);
		c = cursor("k", 0);
		for (int i = 0; i <= RECS; i++)
			if (lsns[i] == mmds_log_cursor_position(c))
				at = i;
		ck_assert_msg(at == acked || at == att, "kill %d: at %d, acked %d, in flight %d",
			      k, at, acked, att);
		if (at < RECS) {
			mmds_log_iter *it;
			mmds_log_record r;
			uint64_t n;

			ck_assert_int_eq(mmds_log_cursor_iter(c, &it), 0);
			ck_assert_int_eq(mmds_log_iter_next(it, &r), 0);
			memcpy(&n, r.data, 8);
			ck_assert_uint_eq(n, (uint64_t)at);
			mmds_log_iter_close(it);
		}
		mmds_log_cursor_close(c);
		atomic_store(&sh[0], at);
		atomic_store(&sh[1], at);
	}
	munmap(sh, 4096);
	mmds_log_close(l);
}
END_TEST

struct committer {
	mmds_log_cursor *c;
	uint64_t base;
	int ok, range;
};

static void *commit_thread(void *arg)
{
	struct committer *t = arg;

	for (uint64_t i = 1; i <= 200; i++) {
		int rc = mmds_log_cursor_commit(t->c, t->base + i * 32);

		if (rc == 0)
			t->ok++;
		else if (rc == -ERANGE)
			t->range++;
		else
			return NULL;
		(void)mmds_log_cursor_position(t->c);
	}
	return NULL;
}

/* Threads committing through one handle: each commit is 0 or -ERANGE (a
 * larger one won), and the file ends at the largest position. */
START_TEST(test_threads_commit_through_one_handle)
{
	mmds_log *l = writer();
	mmds_log_cursor *c = cursor("t", MMDS_LOG_CURSOR_CREATE);
	struct committer t[4];
	pthread_t th[4];

	for (int i = 0; i < 4; i++) {
		t[i] = (struct committer){ .c = c, .base = (uint64_t)i * 8 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, commit_thread, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(t[i].ok + t[i].range, 200);
	}
	ck_assert_uint_eq(mmds_log_cursor_position(c), 3 * 8 + 200 * 32);
	mmds_log_cursor_close(c);
	c = cursor("t", 0);
	ck_assert_uint_eq(mmds_log_cursor_position(c), 3 * 8 + 200 * 32);
	mmds_log_cursor_close(c);
	mmds_log_close(l);
}
END_TEST

/* A child that holds cursor name, says so through the pipe, then waits. */
static pid_t spawn_holder(const char *name)
{
	int fd[2];
	pid_t pid;
	char ok;

	ck_assert_int_eq(pipe(fd), 0);
	pid = t_fork();
	if (pid == 0) {
		mmds_log_cursor *c;

		close(fd[0]);
		T_CHILD_ASSERT(mmds_log_cursor_open(&c, logdir(), name, NULL) == 0);
		T_CHILD_ASSERT(write(fd[1], "k", 1) == 1);
		for (;;)
			pause();
	}
	close(fd[1]);
	ck_assert_int_eq(read(fd[0], &ok, 1), 1);
	close(fd[0]);
	return pid;
}

START_TEST(test_one_holder_per_cursor_and_takeover_of_a_dead_one)
{
	mmds_log *l = writer();
	mmds_log_cursor *c, *d;
	mmds_log_cursor_info ci[4];
	uint64_t lsns[11];
	pid_t pid;

	append_n(l, 0, 10, lsns);
	c = cursor("a", MMDS_LOG_CURSOR_CREATE);
	/* a second handle in the same process */
	ck_assert_int_eq(mmds_log_cursor_open(&d, logdir(), "a", NULL), -EBUSY);
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[3]), 0);
	mmds_log_cursor_close(c);

	pid = spawn_holder("a");
	ck_assert_int_eq(mmds_log_cursor_open(&d, logdir(), "a", NULL), -EBUSY);
	ck_assert_int_eq(mmds_log_cursor_remove(logdir(), "a"), -EBUSY);
	ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 4), 1);
	ck_assert_uint_eq(ci[0].owner_pid, (uint32_t)pid);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 4), 1);
	ck_assert_uint_eq(ci[0].owner_pid, 0);
	/* the dead holder's cursor is taken over, at its position */
	c = cursor("a", 0);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[3]);
	ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 4), 1);
	ck_assert_uint_eq(ci[0].owner_pid, (uint32_t)getpid());
	mmds_log_cursor_close(c);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_a_forked_child_cannot_commit_through_the_parents_handle)
{
	mmds_log *l = writer();
	mmds_log_cursor *c;
	uint64_t lsns[3];
	pid_t pid;

	append_n(l, 0, 2, lsns);
	c = cursor("a", MMDS_LOG_CURSOR_CREATE);
	pid = t_fork();
	if (pid == 0) {
		T_CHILD_ASSERT(mmds_log_cursor_commit(c, lsns[1]) == -EPERM);
		_exit(0);
	}
	t_wait_child(pid);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[0]);
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[1]), 0);
	mmds_log_cursor_close(c);
	mmds_log_close(l);
}
END_TEST

/* Processes racing to create and hold one cursor: every open is 0 or
 * -EBUSY, never two holders at once, one whole cursor in the end. */
START_TEST(test_racing_creators_make_one_cursor_with_one_holder)
{
	enum { PROCS = 6, ROUNDS = 40 };
	mmds_log *l = writer();
	_Atomic int *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	t_barrier *b = t_barrier_new(PROCS);
	mmds_log_cursor_info ci[2];
	uint64_t lsns[2];

	ck_assert_ptr_ne(sh, MAP_FAILED);
	append_n(l, 0, 1, lsns);
	for (int p = 0; p < PROCS; p++) {
		if (t_fork() == 0) {
			t_barrier_wait(b);
			for (int r = 0; r < ROUNDS; r++) {
				mmds_log_cursor *c;
				int rc = mmds_log_cursor_open(
					&c, logdir(), "race",
					&(mmds_log_cursor_opts){ .flags = MMDS_LOG_CURSOR_CREATE });

				T_CHILD_ASSERT(rc == 0 || rc == -EBUSY);
				if (rc)
					continue;
				T_CHILD_ASSERT(atomic_fetch_add(&sh[0], 1) == 0);
				atomic_fetch_add(&sh[1], 1);
				T_CHILD_ASSERT(mmds_log_cursor_position(c) == lsns[0]);
				usleep(100);
				atomic_fetch_sub(&sh[0], 1);
				mmds_log_cursor_close(c);
			}
			_exit(0);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int st;

		ck_assert_int_gt(wait(&st), 0);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	ck_assert_int_gt(atomic_load(&sh[1]), 0);
	ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 2), 1);
	ck_assert_int_eq(ci[0].status, 0);
	ck_assert_uint_eq(ci[0].commits, 1);
	t_barrier_free(b);
	munmap(sh, 4096);
	mmds_log_close(l);
}
END_TEST

/* A remover racing an opener: an open that returns holds the cursor that
 * is named (never a removed file), and a held cursor is never removed. */
START_TEST(test_remove_racing_open_never_leaves_a_holder_of_a_removed_file)
{
	enum { ROUNDS = 300 };
	mmds_log *l = writer();
	pid_t pid;
	int held = 0;

	pid = t_fork();
	if (pid == 0) {
		for (int r = 0; r < ROUNDS * 4; r++) {
			int rc = mmds_log_cursor_remove(logdir(), "x");

			T_CHILD_ASSERT(rc == 0 || rc == -EBUSY || rc == -ENOENT);
		}
		_exit(0);
	}
	for (int r = 0; r < ROUNDS; r++) {
		mmds_log_cursor *c;
		mmds_log_cursor_info ci[2];
		int rc = mmds_log_cursor_open(&c, logdir(), "x",
					      &(mmds_log_cursor_opts){
						      .flags = MMDS_LOG_CURSOR_CREATE });

		ck_assert_msg(rc == 0 || rc == -EBUSY, "open = %d", rc);
		if (rc)
			continue;
		held++;
		ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 2), 1);
		ck_assert_uint_eq(ci[0].owner_pid, (uint32_t)getpid());
		ck_assert_int_eq(mmds_log_cursor_commit(c, 8), 0);
		ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 2), 1);
		ck_assert_uint_eq(ci[0].position, 8);
		mmds_log_cursor_close(c);
	}
	t_wait_child(pid);
	ck_assert_int_gt(held, 0);
	mmds_log_close(l);
}
END_TEST

/* Several processes each own a cursor and consume the whole log in chunks,
 * one process per chunk: every record is seen exactly once, in order. */
START_TEST(test_forked_processes_commit_and_resume)
{
	enum { RECS = 600, CURSORS = 3, CHUNK = 70 };
	mmds_log *l = writer();
	uint64_t lsns[RECS + 1];
	int fd[CURSORS][2];

	append_n(l, 0, RECS, lsns);
	for (int k = 0; k < CURSORS; k++)
		ck_assert_int_eq(pipe(fd[k]), 0);
	/* the readers of all cursors run at once; each process of a cursor
	 * reads a chunk, commits as it goes and exits */
	for (int k = 0; k < CURSORS; k++) {
		pid_t pid = t_fork();

		if (pid == 0) {
			char name[8];

			snprintf(name, sizeof(name), "c%d", k);
			close(fd[k][0]);
			for (;;) {
				pid_t p = fork();
				int st;

				T_CHILD_ASSERT(p >= 0);
				if (p == 0) {
					mmds_log_cursor *c;
					uint64_t got[CHUNK];
					int n;

					T_CHILD_ASSERT(mmds_log_cursor_open(
						&c, logdir(), name,
						&(mmds_log_cursor_opts){
							.flags = MMDS_LOG_CURSOR_CREATE }) == 0);
					n = consume(c, CHUNK, got);
					T_CHILD_ASSERT(n >= 0);
					T_CHILD_ASSERT(write(fd[k][1], got, (size_t)n * 8) ==
						       (ssize_t)n * 8);
					mmds_log_cursor_close(c);
					_exit(n == 0 ? 3 : 0);
				}
				T_CHILD_ASSERT(waitpid(p, &st, 0) == p);
				T_CHILD_ASSERT(WIFEXITED(st));
				if (WEXITSTATUS(st) == 3)
					break;
				T_CHILD_ASSERT(WEXITSTATUS(st) == 0);
			}
			_exit(0);
		}
		close(fd[k][1]);
	}
	for (int k = 0; k < CURSORS; k++) {
		uint64_t v, want = 0;

		while (read(fd[k][0], &v, 8) == 8)
			ck_assert_uint_eq(v, want++);
		ck_assert_uint_eq(want, RECS);
		close(fd[k][0]);
	}
	for (int k = 0; k < CURSORS; k++) {
		int st;

		ck_assert_int_gt(wait(&st), 0);
		ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	{
		mmds_log_cursor_info ci[CURSORS + 1];

		ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, CURSORS + 1), CURSORS);
		for (int k = 0; k < CURSORS; k++) {
			ck_assert_uint_eq(ci[k].position, lsns[RECS]);
			ck_assert_uint_eq(ci[k].commits, RECS + 1);
			ck_assert_uint_eq(ci[k].owner_pid, 0);
			ck_assert_int_eq(ci[k].status, 0);
		}
		ck_assert_str_eq(ci[0].name, "c0");
		ck_assert_str_eq(ci[2].name, "c2");
	}
	mmds_log_close(l);
}
END_TEST

static void write_at(const char *path, off_t off, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, b, n, off), (ssize_t)n);
	close(fd);
}

static int open_rc(const char *name)
{
	mmds_log_cursor *c = NULL;
	int rc = mmds_log_cursor_open(&c, logdir(), name, NULL);

	if (rc == 0)
		mmds_log_cursor_close(c);
	else
		ck_assert_ptr_null(c);
	return rc;
}

START_TEST(test_corrupt_truncated_and_hostile_files_are_ebadmsg)
{
	mmds_log *l = writer();
	mmds_log_cursor *c;
	mmds_log_cursor_info ci[8];
	uint64_t lsns[11], zero = 0;
	unsigned char *orig;
	size_t len;
	char p2[512];

	append_n(l, 0, 10, lsns);
	c = cursor("a", MMDS_LOG_CURSOR_CREATE); /* seq 1 in slot 1 */
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[4]), 0); /* seq 2, slot 0 */
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[7]), 0); /* seq 3, slot 1 */
	mmds_log_cursor_close(c);
	orig = t_read_file(cur_path("a"), &len);
	ck_assert_uint_eq(len, CUR_SIZE);

	/* a torn newest slot: the older one serves */
	write_at(cur_path("a"), 1024 + 512 + 8, "\xff", 1);
	c = cursor("a", 0);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[4]);
	/* the next commit overwrites the torn slot, which then wins again */
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[9]), 0);
	mmds_log_cursor_close(c);
	c = cursor("a", 0);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[9]);
	mmds_log_cursor_close(c);

	/* both slots bad */
	t_write_file(cur_path("a"), orig, len);
	write_at(cur_path("a"), 1024 + 32, &zero, 8);
	write_at(cur_path("a"), 1024 + 512 + 32, &zero, 8);
	ck_assert_int_eq(open_rc("a"), -EBADMSG);
	/* a header byte */
	for (size_t off = 0; off < 112; off += 7) {
		unsigned char b = orig[off] ^ 0x40;

		t_write_file(cur_path("a"), orig, len);
		write_at(cur_path("a"), (off_t)off, &b, 1);
		ck_assert_int_eq(open_rc("a"), -EBADMSG);
	}
	/* another byte order, a newer version: -ENOTSUP */
	{
		unsigned char img[CUR_SIZE];
		uint32_t v;
		uint64_t sum;

		memcpy(img, orig, len);
		v = __builtin_bswap32(0x01020304u);
		memcpy(img + 12, &v, 4);
		t_write_file(cur_path("a"), img, len);
		ck_assert_int_eq(open_rc("a"), -ENOTSUP);
		memcpy(img, orig, len);
		v = 2;
		memcpy(img + 8, &v, 4);
		sum = XXH3_64bits(img, 104);
		memcpy(img + 104, &sum, 8);
		t_write_file(cur_path("a"), img, len);
		ck_assert_int_eq(open_rc("a"), -ENOTSUP);
	}
	/* a slot forged with the highest sequence (and a right checksum): it
	 * is not taken, so a commit can never wrap the sequence to 0 and be
	 * lost; the other slot's position wins */
	{
		unsigned char img[CUR_SIZE];
		uint64_t hsum, seq = UINT64_MAX, pos = 8, sum;

		memcpy(img, orig, len);
		memcpy(&hsum, img + 104, 8);
		memcpy(img + 1024 + 512, &seq, 8);
		memcpy(img + 1024 + 512 + 8, &pos, 8);
		sum = XXH3_64bits_withSeed(img + 1024 + 512, 32, hsum);
		memcpy(img + 1024 + 512 + 32, &sum, 8);
		t_write_file(cur_path("a"), img, len);
		ck_assert_int_eq(open_rc("a"), 0);
		c = cursor("a", 0);
		ck_assert_uint_ne(mmds_log_cursor_position(c), 8);
		ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[9]), 0);
		mmds_log_cursor_close(c);
		c = cursor("a", 0);
		ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[9]);
		mmds_log_cursor_close(c);
	}
	/* truncated under its holder: closing it is no SIGBUS, and the file
	 * is then refused */
	t_write_file(cur_path("a"), orig, len);
	c = cursor("a", 0);
	ck_assert_int_eq(truncate(cur_path("a"), 0), 0);
	mmds_log_cursor_close(c);
	ck_assert_int_eq(open_rc("a"), -EBADMSG);
	/* truncated, or grown */
	for (size_t n = 0; n < len; n += 100) {
		t_write_file(cur_path("a"), orig, n);
		ck_assert_int_eq(open_rc("a"), -EBADMSG);
	}
	{
		unsigned char big[CUR_SIZE + 1];

		memcpy(big, orig, len);
		big[len] = 0;
		t_write_file(cur_path("a"), big, sizeof(big));
		ck_assert_int_eq(open_rc("a"), -EBADMSG);
	}
	/* another cursor's file copied under this name */
	t_write_file(cur_path("b"), orig, len);
	ck_assert_int_eq(open_rc("b"), -EBADMSG);
	/* a symbolic link, a directory, a fifo */
	snprintf(p2, sizeof(p2), "%s/cursors/.elsewhere", logdir());
	t_write_file(p2, orig, len);
	ck_assert_int_eq(symlink(".elsewhere", cur_path("link")), 0);
	ck_assert_int_eq(open_rc("link"), -ELOOP);
	ck_assert_int_eq(mkdir(cur_path("dir"), 0700), 0);
	ck_assert_int_eq(open_rc("dir"), -EBADMSG);
	ck_assert_int_eq(mkfifo(cur_path("fifo"), 0600), 0);
	ck_assert_int_eq(open_rc("fifo"), -EBADMSG);
	/* the list shows them as unreadable without failing */
	t_write_file(cur_path("a"), orig, len);
	ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 8), 5);
	ck_assert_str_eq(ci[0].name, "a");
	ck_assert_int_eq(ci[0].status, 0);
	ck_assert_uint_eq(ci[0].position, lsns[7]);
	ck_assert_str_eq(ci[1].name, "b");
	ck_assert_int_eq(ci[1].status, -EBADMSG);
	ck_assert_str_eq(ci[3].name, "fifo");
	ck_assert_int_eq(ci[3].status, -EBADMSG);
	ck_assert_str_eq(ci[4].name, "link");
	ck_assert_int_eq(ci[4].status, -ELOOP);
	/* retention refuses to guess past an unreadable cursor */
	ck_assert_int_eq(mmds_log_retain_cursors(l, logdir(), UINT64_MAX), -EBADMSG);
	ck_assert_int_eq(mmds_log_cursor_remove(logdir(), "dir"), -EBADMSG);
	ck_assert_int_eq(mmds_log_cursor_remove(logdir(), "link"), -ELOOP);
	free(orig);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_random_byte_flips_never_crash_or_invent_positions)
{
	mmds_log *l = writer();
	mmds_log_cursor *c;
	uint64_t lsns[11];
	unsigned char *orig;
	size_t len;
	unsigned seed = 12345;
	int iters = getenv("MMDS_TEST_ITERATIONS") ? atoi(getenv("MMDS_TEST_ITERATIONS")) : 3000;

	append_n(l, 0, 10, lsns);
	c = cursor("a", MMDS_LOG_CURSOR_CREATE);
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[5]), 0);
	mmds_log_cursor_close(c);
	orig = t_read_file(cur_path("a"), &len);
	for (int i = 0; i < iters; i++) {
		unsigned char *img = malloc(len);
		int flips = 1 + (int)(rand_r(&seed) % 4), rc;

		memcpy(img, orig, len);
		for (int f = 0; f < flips; f++) {
			size_t at = rand_r(&seed) % 2 ? (rand_r(&seed) % 112)
						      : 1024 + (rand_r(&seed) % 2) * 512 +
							rand_r(&seed) % 40;
			img[at] ^= (unsigned char)(1 + rand_r(&seed) % 255);
		}
		t_write_file(cur_path("a"), img, len);
		rc = mmds_log_cursor_open(&c, logdir(), "a", NULL);
		ck_assert_msg(rc == 0 || rc == -EBADMSG || rc == -ENOTSUP, "rc %d", rc);
		if (rc == 0) {
			uint64_t p = mmds_log_cursor_position(c);

			ck_assert_msg(p == lsns[0] || p == lsns[5], "invented %llu",
				      (unsigned long long)p);
			mmds_log_cursor_close(c);
		}
		free(img);
	}
	free(orig);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_position_outside_the_log_is_erange_or_clamped)
{
	mmds_log *l = writer();
	mmds_log_cursor *c;
	mmds_log_iter *it;
	mmds_log_record r;
	uint64_t lsns[401], first, n;

	append_n(l, 0, 400, lsns);
	c = cursor("slow", MMDS_LOG_CURSOR_CREATE);
	mmds_log_cursor_close(c);
	ck_assert_int_gt(mmds_log_retain(l, lsns[300]), 0);
	first = mmds_log_first_lsn(l);
	ck_assert_uint_gt(first, lsns[0]);
	c = cursor("slow", 0);
	ck_assert_int_eq(mmds_log_cursor_iter(c, &it), -ERANGE);
	ck_assert_ptr_null(it);
	mmds_log_cursor_close(c);
	c = cursor("slow", MMDS_LOG_CURSOR_CLAMP);
	ck_assert_int_eq(mmds_log_cursor_iter(c, &it), MMDS_LOG_CURSOR_CLAMPED);
	ck_assert_uint_eq(mmds_log_cursor_position(c), first);
	ck_assert_int_eq(mmds_log_iter_next(it, &r), 0);
	ck_assert_uint_eq(r.lsn, first);
	mmds_log_iter_close(it);
	/* beyond the tail (e.g. a log cut after a power loss) */
	ck_assert_int_eq(mmds_log_cursor_reset(c, lsns[400] + 4096), 0);
	mmds_log_cursor_close(c);
	c = cursor("slow", 0);
	ck_assert_int_eq(mmds_log_cursor_iter(c, &it), -ERANGE);
	mmds_log_cursor_close(c);
	c = cursor("slow", MMDS_LOG_CURSOR_CLAMP);
	ck_assert_int_eq(mmds_log_cursor_iter(c, &it), MMDS_LOG_CURSOR_CLAMPED);
	ck_assert_uint_eq(mmds_log_cursor_position(c), lsns[400]);
	ck_assert_int_eq(mmds_log_iter_next(it, &r), -EAGAIN);
	n = 401;
	append_n(l, 400, 401, NULL);
	ck_assert_int_eq(mmds_log_iter_next(it, &r), 0);
	memcpy(&n, r.data, 8);
	ck_assert_uint_eq(n, 400);
	mmds_log_iter_close(it);
	mmds_log_cursor_close(c);
	/* inside: 0 */
	c = cursor("slow", MMDS_LOG_CURSOR_CLAMP);
	ck_assert_int_eq(mmds_log_cursor_iter(c, &it), 0);
	mmds_log_iter_close(it);
	mmds_log_cursor_close(c);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_retention_keeps_what_the_slowest_cursor_has_not_read)
{
	mmds_log *l = writer(), *r;
	mmds_log_cursor *fast, *slow;
	uint64_t lsns[801], got[800];
	int dropped;

	append_n(l, 0, 800, lsns);
	fast = cursor("fast", MMDS_LOG_CURSOR_CREATE);
	slow = cursor("slow", MMDS_LOG_CURSOR_CREATE);
	ck_assert_int_eq(consume(fast, 700, got), 700);
	ck_assert_int_eq(consume(slow, 400, got), 400);
	/* no cursor below: plain retention */
	dropped = mmds_log_retain_cursors(l, logdir(), lsns[200]);
	ck_assert_int_gt(dropped, 0);
	ck_assert_uint_le(mmds_log_first_lsn(l), lsns[200]);
	/* the slow cursor holds the rest */
	dropped = mmds_log_retain_cursors(l, logdir(), UINT64_MAX);
	ck_assert_int_gt(dropped, 0);
	ck_assert_uint_le(mmds_log_first_lsn(l), lsns[400]);
	ck_assert_uint_gt(mmds_log_first_lsn(l), lsns[200]);
	ck_assert_int_eq(mmds_log_retain_cursors(l, logdir(), UINT64_MAX), 0);
	/* what the slow one has not read is all there */
	ck_assert_int_eq(consume(slow, 1000, got), 400);
	for (int i = 0; i < 400; i++)
		ck_assert_uint_eq(got[i], (uint64_t)(400 + i));
	ck_assert_int_gt(mmds_log_retain_cursors(l, logdir(), UINT64_MAX), 0);
	ck_assert_uint_le(mmds_log_first_lsn(l), lsns[700]);
	ck_assert_uint_gt(mmds_log_first_lsn(l), lsns[400]);
	/* errors */
	ck_assert_int_eq(mmds_log_retain_cursors(NULL, logdir(), 0), -EINVAL);
	ck_assert_int_eq(mmds_log_retain_cursors(l, NULL, 0), -EINVAL);
	ck_assert_int_eq(mmds_log_open(&r, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY }), 0);
	ck_assert_int_eq(mmds_log_retain_cursors(r, logdir(), 0), -EACCES);
	mmds_log_close(r);
	{
		/* another log's directory */
		mmds_log *o;

		ck_assert_int_eq(mmds_log_open(&o, t_path("other"),
					       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
								 .segment_size = SEG_SMALL }), 0);
		ck_assert_int_eq(mmds_log_retain_cursors(l, t_path("other"), 0), -EINVAL);
		/* nor may a cursor file of one log pass in another */
		mmds_log_close(o);
	}
	mmds_log_cursor_close(fast);
	mmds_log_cursor_close(slow);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_the_log_ignores_its_cursor_files)
{
	mmds_log *l = writer();
	mmds_log_cursor *c;
	mmds_log_report rep;
	mmds_log_info in, in2;
	uint64_t lsns[301];
	char tmp[512];

	append_n(l, 0, 300, lsns);
	ck_assert_int_eq(mmds_log_get_info(l, &in), 0);
	c = cursor("a", MMDS_LOG_CURSOR_CREATE);
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[10]), 0);
	snprintf(tmp, sizeof(tmp), "%s/cursors/.tmp-0000000000000000-x", logdir());
	t_write_file(tmp, "x", 1);
	mmds_log_close(l);
	ck_assert_int_eq(mmds_log_verify(logdir(), &rep), 0);
	ck_assert_uint_eq(rep.reason, MMDS_LOG_CUT_NONE);
	ck_assert_uint_eq(rep.records_kept, 300);
	l = writer();
	ck_assert_int_eq(mmds_log_get_info(l, &in2), 0);
	ck_assert_uint_eq(in2.segments, in.segments);
	ck_assert_uint_eq(in2.tail_lsn, lsns[300]);
	ck_assert_int_gt(mmds_log_retain(l, lsns[200]), 0);
	ck_assert_uint_eq(t_file_size(cur_path("a")), CUR_SIZE);
	mmds_log_cursor_close(c);
	/* a stale temporary of a dead creator is removed by the next creator */
	c = cursor("b", MMDS_LOG_CURSOR_CREATE);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	mmds_log_cursor_close(c);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_list_and_remove)
{
	mmds_log *l = writer();
	mmds_log_cursor *c;
	mmds_log_cursor_info ci[4];

	ck_assert_int_eq(mmds_log_cursor_list(logdir(), NULL, 0), 0);
	ck_assert_int_eq(mmds_log_cursor_list(logdir(), NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_log_cursor_list(t_path("nolog"), NULL, 0), -ENOENT);
	mmds_log_cursor_close(cursor("zed", MMDS_LOG_CURSOR_CREATE));
	mmds_log_cursor_close(cursor("alpha", MMDS_LOG_CURSOR_CREATE));
	c = cursor("mid", MMDS_LOG_CURSOR_CREATE);
	ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 2), 3);
	ck_assert_str_eq(ci[0].name, "alpha");
	ck_assert_str_eq(ci[1].name, "mid");
	ck_assert_int_eq(mmds_log_cursor_remove(logdir(), "mid"), -EBUSY);
	ck_assert_int_eq(mmds_log_cursor_remove(logdir(), "alpha"), 0);
	ck_assert_int_eq(mmds_log_cursor_remove(logdir(), "alpha"), -ENOENT);
	ck_assert_int_eq(mmds_log_cursor_list(logdir(), ci, 4), 2);
	ck_assert_str_eq(ci[0].name, "mid");
	ck_assert_uint_eq(ci[0].owner_pid, (uint32_t)getpid());
	ck_assert_str_eq(ci[1].name, "zed");
	ck_assert_uint_eq(ci[1].owner_pid, 0);
	mmds_log_cursor_close(c);
	/* removed and recreated: a new cursor, at the start */
	mmds_log_close(l);
}
END_TEST

static int run_tool(const char *args, const char *want)
{
	char cmd[8192], line[4096];
	FILE *p;
	int status, found = want == NULL;

	snprintf(cmd, sizeof(cmd), "./tools/mmds log %s 2>&1", args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p))
		if (want && strstr(line, want))
			found = 1;
	status = pclose(p);
	ck_assert_msg(found, "'%s' printed no line with '%s'", cmd, want);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_tool_lists_cursors_with_their_lag)
{
	mmds_log *l = writer();
	mmds_log_cursor *c;
	uint64_t lsns[51];
	char want[256];

	if (access("./tools/mmds", X_OK) != 0)
		t_skip("./tools/mmds is not built here");
	ck_assert_int_eq(run_tool(logdir(), NULL), 2); /* no subcommand given */
	snprintf(want, sizeof(want), "cursors %s", logdir());
	ck_assert_int_eq(run_tool(want, "0 cursors"), 0);
	append_n(l, 0, 50, lsns);
	c = cursor("shipper", MMDS_LOG_CURSOR_CREATE);
	ck_assert_int_eq(mmds_log_cursor_commit(c, lsns[20]), 0);
	mmds_log_cursor_close(c);
	snprintf(want, sizeof(want), "%-24s %14llu %14llu", "shipper",
		 (unsigned long long)lsns[20],
		 (unsigned long long)(lsns[50] - lsns[20]));
	{
		char args[600];

		snprintf(args, sizeof(args), "cursors %s", logdir());
		ck_assert_int_eq(run_tool(args, want), 0);
		ck_assert_int_eq(run_tool(args, "1 cursor"), 0);
		t_write_file(cur_path("broken"), "junk", 4);
		ck_assert_int_eq(run_tool(args, "unreadable"), 4); /* corrupt */
		snprintf(args, sizeof(args), "cursors %s", t_path("nolog"));
		ck_assert_int_eq(run_tool(args, NULL), 3); /* not found */
	}
	mmds_log_close(l);
}
END_TEST

Suite *log_cursor_suite(void)
{
	Suite *s = suite_create("log_cursor");
	TCase *tc;

	tc = t_tcase(s, "basic", 30);
	tcase_add_test(tc, test_commit_then_reopen_resumes_at_the_next_record);
	tcase_add_test(tc, test_names_are_validated);
	tcase_add_test(tc, test_list_and_remove);
	tcase_add_test(tc, test_the_log_ignores_its_cursor_files);

	tc = t_tcase(s, "processes", 60);
	tcase_add_test(tc, test_one_holder_per_cursor_and_takeover_of_a_dead_one);
	tcase_add_test(tc, test_a_forked_child_cannot_commit_through_the_parents_handle);
	tcase_add_test(tc, test_threads_commit_through_one_handle);
	tcase_add_test(tc, test_kill9_during_commits_resumes_at_the_last_commit);
	tcase_add_test(tc, test_forked_processes_commit_and_resume);
	tcase_add_test(tc, test_racing_creators_make_one_cursor_with_one_holder);
	tcase_add_test(tc, test_remove_racing_open_never_leaves_a_holder_of_a_removed_file);

	tc = t_tcase(s, "corruption", 60);
	tcase_add_test(tc, test_corrupt_truncated_and_hostile_files_are_ebadmsg);
	tcase_add_test(tc, test_random_byte_flips_never_crash_or_invent_positions);

	tc = t_tcase(s, "range", 30);
	tcase_add_test(tc, test_position_outside_the_log_is_erange_or_clamped);
	tcase_add_test(tc, test_retention_keeps_what_the_slowest_cursor_has_not_read);

	tc = t_tcase(s, "tool", 30);
	tcase_add_test(tc, test_tool_lists_cursors_with_their_lag);
	return s;
}

int main(void)
{
	return t_run_suite(log_cursor_suite());
}
