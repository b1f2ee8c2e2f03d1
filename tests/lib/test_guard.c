/* test_guard.c - the SIGBUS guard (mmds/map.h "SIGBUS guard", lib/guard.c):
 * a file truncated under a live map makes every accessor return -EFAULT and
 * the process live on; every other SIGBUS (and SIGSEGV) goes where it would
 * have gone without mmds.
 *
 * Tests that need a process in which nothing ran before them (a handler
 * installed before mmds, SIG_IGN) re-run this binary as a named helper:
 * `test_guard --helper <name> <tmpdir>`.  Tests that end in death by a
 * signal use unnamed files (O_TMPFILE or memfd), since they cannot clean up
 * a temp dir. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds/map.h>

#include "t_util.h"

Suite *guard_suite(void);

/*
 * The sanitizer runtimes install SIGSEGV/SIGBUS handlers of their own that
 * print a report and exit(1).  These tests check the kernel's default action
 * (death by the signal) and the chain to handlers installed before mmds, so
 * the runtimes must leave both signals alone.  The runtimes call these hooks
 * at start-up; without a sanitizer nothing calls them.
 */
#define SAN_HOOK __attribute__((used, visibility("default")))
SAN_HOOK const char *__asan_default_options(void);
SAN_HOOK const char *__tsan_default_options(void);
SAN_HOOK const char *__ubsan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1";
}
const char *__tsan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0";
}
const char *__ubsan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0";
}

/* Under ThreadSanitizer an atomic on a truncated page faults inside TSan's
 * runtime while it holds an internal lock; leaving by siglongjmp leaves the
 * lock held and the next atomic on that word deadlocks.  A TSan build cannot
 * check guarded atomics on truncated pages, so it skips those asserts. */
#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif
#ifndef T_TSAN
#define T_TSAN 0
#endif

#define KIB ((size_t)1 << 10)
#define MIB ((size_t)1 << 20)

static size_t ps; /* the page size, set by main */

static unsigned char pat(uint64_t i)
{
	return (unsigned char)(i * 131u + 7u);
}

static void fill_pattern(unsigned char *buf, uint64_t from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = pat(from + i);
}

/* Write n bytes of pattern to fd from offset 0.  -1 on failure. */
static int write_pattern_fd(int fd, size_t n)
{
	unsigned char buf[4096];

	for (size_t at = 0; at < n;) {
		size_t k = n - at < sizeof(buf) ? n - at : sizeof(buf);

		fill_pattern(buf, at, k);
		if (pwrite(fd, buf, k, (off_t)at) != (ssize_t)k)
			return -1;
		at += k;
	}
	return 0;
}

/* path <- n bytes of pattern. */
static void make_file(const char *path, size_t n)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write_pattern_fd(fd, n), 0);
	ck_assert_int_eq(close(fd), 0);
}

/* An unnamed file of n bytes of pattern (O_TMPFILE, else a memfd), for
 * tests that die by a signal and so leave nothing to clean up.  -1 on
 * failure (safe in forked children). */
static int unnamed_file(size_t n)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		fd = memfd_create("mmds-test", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (write_pattern_fd(fd, n) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static mmds_map *open_path_map(const char *path)
{
	mmds_map *m = NULL;
	int rc = mmds_map_open(&m, path, NULL);

	ck_assert_msg(rc == 0, "mmds_map_open(%s): %s", path, mmds_strerror(rc));
	return m;
}

static mmds_map *open_fd_map(int fd)
{
	mmds_map *m = NULL;
	int rc = mmds_map_open_fd(&m, fd, NULL);

	ck_assert_msg(rc == 0, "mmds_map_open_fd: %s", mmds_strerror(rc));
	return m;
}

static void truncate_path(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	ck_assert_int_eq(close(fd), 0);
}

/* The first offset at or after off whose absolute address is aligned to
 * 8 bytes (for the atomics, which want aligned addresses). */
static uint64_t aligned_off(const mmds_map *m, uint64_t off)
{
	uintptr_t a = (uintptr_t)mmds_map_data(m) + off;

	return off + ((8 - (a & 7)) & 7);
}

/* ---- raw pointer callbacks for mmds_guard_run ----------------------------- */

struct raw {
	const volatile unsigned char *rd;
	volatile unsigned char *wr;
	int reached; /* set after the access: shows the callback got past it */
};

/* Returns the byte read (0..255), so it cannot be mistaken for -EFAULT. */
static int raw_read_cb(void *arg)
{
	struct raw *r = arg;
	int v = *r->rd;

	r->reached = 1;
	return v;
}

static int raw_write_cb(void *arg)
{
	struct raw *r = arg;

	*r->wr = 0x5a;
	r->reached = 1;
	return 0;
}

static int raise_sigbus_cb(void *arg)
{
	(void)arg;
	return raise(SIGBUS);
}

static int guarded_read(const void *p, int *reached)
{
	struct raw r = { .rd = p };
	int rc = mmds_guard_run(raw_read_cb, &r);

	if (reached)
		*reached = r.reached;
	return rc;
}

static int guarded_write(void *p)
{
	struct raw r = { .wr = p };

	return mmds_guard_run(raw_write_cb, &r);
}

/* ---- every accessor, against a truncated / healthy range ------------------ */

/* Every accessor of mmds/map.h at off (inside the map, beyond the end of the
 * truncated file) returns -EFAULT. */
static void expect_all_efault(mmds_map *m, uint64_t off)
{
	unsigned char buf[64] = { 0 };
	char line[64];
	struct iovec iov[2] = { { buf, 10 }, { buf + 10, 20 } };
	mmds_cursor c;
	uint64_t a = aligned_off(m, off), v64 = 1, e64 = 0;
	uint32_t v32 = 1, e32 = 0;
	int reached = 0;

	ck_assert_int_eq(mmds_map_read(m, off, buf, sizeof(buf)), -EFAULT);
	ck_assert_int_eq(mmds_map_read(m, off, buf, 1), -EFAULT);
	ck_assert_int_eq(mmds_map_write(m, off, buf, sizeof(buf)), -EFAULT);
	ck_assert_int_eq(mmds_map_writev(m, off, iov, 2), -EFAULT);

	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_seek(&c, (int64_t)off, SEEK_SET),
			 (int64_t)off);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, sizeof(buf)), -EFAULT);
	ck_assert_uint_eq(mmds_cursor_tell(&c), off); /* not advanced */
	ck_assert_int_eq(mmds_cursor_read_line(&c, line, sizeof(line)), -EFAULT);
	ck_assert_uint_eq(mmds_cursor_tell(&c), off);
	ck_assert_int_eq(mmds_cursor_write(&c, buf, 8), -EFAULT);
	ck_assert_uint_eq(mmds_cursor_tell(&c), off);

	if (T_TSAN) {
		static int noted;

		if (!noted++)
			fprintf(stderr, "note: TSan build: guarded atomics on a "
				"truncated page not checked (TSan's atomic "
				"runtime cannot be left by siglongjmp)\n");
	} else {
		ck_assert_int_eq(mmds_map_load64(m, a, &v64), -EFAULT);
		ck_assert_int_eq(mmds_map_store64(m, a, 5), -EFAULT);
		ck_assert_int_eq(mmds_map_add64(m, a, 1, &v64), -EFAULT);
		ck_assert_int_eq(mmds_map_sub64(m, a, 1, &v64), -EFAULT);
		ck_assert_int_eq(mmds_map_and64(m, a, 1, &v64), -EFAULT);
		ck_assert_int_eq(mmds_map_or64(m, a, 1, &v64), -EFAULT);
		ck_assert_int_eq(mmds_map_xor64(m, a, 1, &v64), -EFAULT);
		ck_assert_int_eq(mmds_map_xchg64(m, a, 1, &v64), -EFAULT);
		ck_assert_int_eq(mmds_map_cas64(m, a, &e64, 9), -EFAULT);
		ck_assert_int_eq(mmds_map_load32(m, a, &v32), -EFAULT);
		ck_assert_int_eq(mmds_map_store32(m, a, 5), -EFAULT);
		ck_assert_int_eq(mmds_map_add32(m, a, 1, &v32), -EFAULT);
		ck_assert_int_eq(mmds_map_sub32(m, a, 1, &v32), -EFAULT);
		ck_assert_int_eq(mmds_map_and32(m, a, 1, &v32), -EFAULT);
		ck_assert_int_eq(mmds_map_or32(m, a, 1, &v32), -EFAULT);
		ck_assert_int_eq(mmds_map_xor32(m, a, 1, &v32), -EFAULT);
		ck_assert_int_eq(mmds_map_xchg32(m, a, 1, &v32), -EFAULT);
		ck_assert_int_eq(mmds_map_cas32(m, a, &e32, 9), -EFAULT);
		/* Outputs are left alone when the access faulted. */
		ck_assert_uint_eq(v64, 1);
		ck_assert_uint_eq(v32, 1);
		ck_assert_uint_eq(e64, 0);
		ck_assert_uint_eq(e32, 0);
	}

	/* touch may fail in madvise (-EFAULT) or by hand under the guard
	 * (-EFAULT): either way -EFAULT and nothing else. */
	ck_assert_int_eq(mmds_map_touch(m, off, 8), -EFAULT);

	ck_assert_int_eq(guarded_read((unsigned char *)mmds_map_data(m) + off,
				      &reached), -EFAULT);
	ck_assert_int_eq(reached, 0); /* abandoned where it faulted */
	ck_assert_int_eq(guarded_write((unsigned char *)mmds_map_data(m) + off),
			 -EFAULT);
}

/* Every accessor works at off after the file grew back: the old bytes read
 * as zeros, new data goes through to the file (checked with pread on fd). */
static void expect_all_work(mmds_map *m, uint64_t off, int fd, uint64_t file_off)
{
	unsigned char zero[64] = { 0 }, buf[64], want[64], got[64];
	char line[64];
	struct iovec iov[2];
	mmds_cursor c;
	uint64_t a = aligned_off(m, off + 256), v64 = 0, e64;
	uint32_t v32 = 0, e32;

	memset(buf, 0xee, sizeof(buf));
	ck_assert_int_eq(mmds_map_read(m, off, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, zero, sizeof(buf));

	fill_pattern(want, off, sizeof(want));
	ck_assert_int_eq(mmds_map_write(m, off, want, sizeof(want)), 0);
	ck_assert_int_eq(mmds_map_read(m, off, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_int_eq(pread(fd, got, sizeof(got), (off_t)(file_off + off)),
			 (ssize_t)sizeof(got));
	ck_assert_mem_eq(got, want, sizeof(want));

	iov[0] = (struct iovec){ want + 32, 32 };
	iov[1] = (struct iovec){ want, 32 };
	ck_assert_int_eq(mmds_map_writev(m, off + 64, iov, 2), 0);
	ck_assert_int_eq(pread(fd, got, 64, (off_t)(file_off + off + 64)), 64);
	ck_assert_mem_eq(got, want + 32, 32);
	ck_assert_mem_eq(got + 32, want, 32);

	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_seek(&c, (int64_t)off, SEEK_SET),
			 (int64_t)off);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, 64), 64);
	ck_assert_mem_eq(buf, want, 64);
	ck_assert_uint_eq(mmds_cursor_tell(&c), off + 64);
	ck_assert_int_eq(mmds_map_write(m, off + 128, "line one\nrest", 13), 0);
	ck_assert_int_eq(mmds_cursor_seek(&c, (int64_t)(off + 128), SEEK_SET),
			 (int64_t)(off + 128));
	ck_assert_int_eq(mmds_cursor_read_line(&c, line, sizeof(line)), 9);
	ck_assert_str_eq(line, "line one\n");
	ck_assert_int_eq(mmds_cursor_write(&c, "REST", 4), 4);
	ck_assert_int_eq(pread(fd, got, 4, (off_t)(file_off + off + 137)), 4);
	ck_assert_mem_eq(got, "REST", 4);

	ck_assert_int_eq(mmds_map_load64(m, a, &v64), 0);
	ck_assert_uint_eq(v64, 0);
	ck_assert_int_eq(mmds_map_store64(m, a, 40), 0);
	ck_assert_int_eq(mmds_map_add64(m, a, 2, &v64), 0);
	ck_assert_uint_eq(v64, 40);
	ck_assert_int_eq(mmds_map_sub64(m, a, 1, &v64), 0);
	ck_assert_uint_eq(v64, 42);
	ck_assert_int_eq(mmds_map_or64(m, a, 0x100, &v64), 0);
	ck_assert_int_eq(mmds_map_and64(m, a, 0x1ff, &v64), 0);
	ck_assert_int_eq(mmds_map_xor64(m, a, 1, &v64), 0);
	ck_assert_uint_eq(v64, 0x129);
	ck_assert_int_eq(mmds_map_xchg64(m, a, 7, &v64), 0);
	ck_assert_uint_eq(v64, 0x128);
	e64 = 7;
	ck_assert_int_eq(mmds_map_cas64(m, a, &e64, 8), 1);
	e64 = 7;
	ck_assert_int_eq(mmds_map_cas64(m, a, &e64, 9), 0);
	ck_assert_uint_eq(e64, 8);
	ck_assert_int_eq(pread(fd, &v64, 8, (off_t)(file_off + a)), 8);
	ck_assert_uint_eq(v64, 8);

	a += 8;
	ck_assert_int_eq(mmds_map_load32(m, a, &v32), 0);
	ck_assert_uint_eq(v32, 0);
	ck_assert_int_eq(mmds_map_store32(m, a, 40), 0);
	ck_assert_int_eq(mmds_map_add32(m, a, 2, &v32), 0);
	ck_assert_uint_eq(v32, 40);
	ck_assert_int_eq(mmds_map_sub32(m, a, 1, &v32), 0);
	ck_assert_uint_eq(v32, 42);
	ck_assert_int_eq(mmds_map_or32(m, a, 0x100, &v32), 0);
	ck_assert_int_eq(mmds_map_and32(m, a, 0x1ff, &v32), 0);
	ck_assert_int_eq(mmds_map_xor32(m, a, 1, &v32), 0);
	ck_assert_uint_eq(v32, 0x129);
	ck_assert_int_eq(mmds_map_xchg32(m, a, 7, &v32), 0);
	ck_assert_uint_eq(v32, 0x128);
	e32 = 7;
	ck_assert_int_eq(mmds_map_cas32(m, a, &e32, 8), 1);
	e32 = 7;
	ck_assert_int_eq(mmds_map_cas32(m, a, &e32, 9), 0);
	ck_assert_uint_eq(e32, 8);
	ck_assert_int_eq(pread(fd, &v32, 4, (off_t)(file_off + a)), 4);
	ck_assert_uint_eq(v32, 8);

	ck_assert_int_eq(mmds_map_touch(m, off, 8), 0);
	ck_assert_int_eq(guarded_read((unsigned char *)mmds_map_data(m) + off,
				      NULL), want[0]);
	ck_assert_int_eq(guarded_write((unsigned char *)mmds_map_data(m) + off),
			 0);
	ck_assert_int_eq(pread(fd, got, 1, (off_t)(file_off + off)), 1);
	ck_assert_uint_eq(got[0], 0x5a);
}

/* ==== truncation under a live map ========================================== */

START_TEST(test_every_accessor_is_efault_after_truncate_through_other_fd)
{
	const char *path = t_path("f");
	mmds_map *m;

	make_file(path, 4 * ps);
	m = open_path_map(path);
	truncate_path(path, 0);
	expect_all_efault(m, 0);
	expect_all_efault(m, ps + 100);
	expect_all_efault(m, 4 * ps - 64);
	/* mmds was not told: the map keeps its size, and the process lives. */
	ck_assert_uint_eq(mmds_map_size(m), 4 * ps);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_every_accessor_is_efault_after_truncate_by_other_process)
{
	const char *path = t_path("f");
	mmds_map *m;
	pid_t pid;

	make_file(path, 4 * ps);
	m = open_path_map(path);
	pid = t_fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);

		T_CHILD_ASSERT(fd >= 0);
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		_exit(0);
	}
	t_wait_child(pid);
	expect_all_efault(m, 0);
	expect_all_efault(m, 3 * ps + 8);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_partial_truncate_faults_only_beyond_new_end)
{
	const char *path = t_path("f");
	unsigned char buf[64], want[64];
	mmds_map *m;
	pid_t pid;

	make_file(path, 4 * ps);
	m = open_path_map(path);
	pid = t_fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);

		T_CHILD_ASSERT(fd >= 0);
		T_CHILD_ASSERT(ftruncate(fd, (off_t)ps) == 0);
		_exit(0);
	}
	t_wait_child(pid);
	/* The page still in the file reads its data. */
	ck_assert_int_eq(mmds_map_read(m, ps - 64, buf, 64), 0);
	fill_pattern(want, ps - 64, 64);
	ck_assert_mem_eq(buf, want, 64);
	/* An access straddling the new end faults as a whole. */
	ck_assert_int_eq(mmds_map_read(m, ps - 8, buf, 16), -EFAULT);
	expect_all_efault(m, ps);
	expect_all_efault(m, 3 * ps);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 64), 0);
	fill_pattern(want, 0, 64);
	ck_assert_mem_eq(buf, want, 64);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_read_loop_gets_efault_when_other_process_truncates_midway)
{
	const char *path = t_path("f");
	t_barrier *b = t_barrier_new(2);
	unsigned char buf[4096], want[4096];
	struct timespec t0, now;
	long faults = 0;
	mmds_map *m;
	pid_t pid;

	make_file(path, 1 * MIB);
	m = open_path_map(path);
	fill_pattern(want, 512 * KIB, sizeof(want));
	pid = t_fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);

		T_CHILD_ASSERT(fd >= 0);
		t_barrier_wait(b); /* the parent has read once */
		usleep(5000);
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		_exit(0);
	}
	ck_assert_int_eq(mmds_map_read(m, 512 * KIB, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, want, sizeof(want));
	t_barrier_wait(b);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		int rc = mmds_map_read(m, 512 * KIB, buf, sizeof(buf));

		if (rc == -EFAULT) {
			/* From now on it stays -EFAULT. */
			if (++faults == 100)
				break;
			continue;
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(faults, 0);
		ck_assert_mem_eq(buf, want, sizeof(want));
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - t0.tv_sec < 20,
			      "no -EFAULT 20 s after the truncation");
	}
	t_wait_child(pid);
	ck_assert_int_eq(mmds_map_close(m), 0);
	t_barrier_free(b);
}
END_TEST

START_TEST(test_guard_run_raw_read_of_truncated_page_is_efault)
{
	const char *path = t_path("f");
	const unsigned char *p;
	int reached = -1;
	mmds_map *m;

	make_file(path, 2 * ps);
	m = open_path_map(path);
	p = mmds_map_data(m);
	ck_assert_int_eq(guarded_read(p + ps + 3, &reached), pat(ps + 3));
	ck_assert_int_eq(reached, 1);
	truncate_path(path, (off_t)ps);
	ck_assert_int_eq(guarded_read(p + ps + 3, &reached), -EFAULT);
	ck_assert_int_eq(reached, 0);
	/* The page below the new end still reads under the same guard. */
	ck_assert_int_eq(guarded_read(p + 3, &reached), pat(3));
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* Whether the calling thread blocks sig. */
static bool blocked(int sig)
{
	sigset_t cur;

	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &cur), 0);
	return sigismember(&cur, sig) == 1;
}

START_TEST(test_caught_fault_leaves_signal_mask_unchanged)
{
	const char *path = t_path("f");
	unsigned char b;
	sigset_t usr1, old;
	mmds_map *m;

	make_file(path, 2 * ps);
	m = open_path_map(path);
	truncate_path(path, 0);
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &usr1, &old), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(mmds_map_read(m, ps, &b, 1), -EFAULT);
		ck_assert_int_eq(guarded_read((unsigned char *)mmds_map_data(m),
					      NULL), -EFAULT);
		/* Still blocked what was blocked, nothing more: a second
		 * fault must find SIGBUS deliverable (or the kernel kills). */
		ck_assert_msg(!blocked(SIGBUS), "SIGBUS left blocked after a "
			      "caught fault (round %d)", i);
		ck_assert_msg(!blocked(SIGSEGV), "SIGSEGV left blocked");
		ck_assert_msg(!blocked(SIGTERM), "SIGTERM left blocked");
		ck_assert(blocked(SIGUSR1));
	}
	ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_every_accessor_works_after_file_grows_back)
{
	const char *path = t_path("f");
	mmds_map *m;
	int fd;

	make_file(path, 4 * ps);
	m = open_path_map(path);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	expect_all_efault(m, 0);
	expect_all_efault(m, 2 * ps);
	ck_assert_int_eq(ftruncate(fd, (off_t)(4 * ps)), 0);
	expect_all_work(m, 0, fd, 0);
	expect_all_work(m, 2 * ps + 8, fd, 0);
	/* And again: a second truncation is caught like the first. */
	ck_assert_int_eq(ftruncate(fd, (off_t)ps), 0);
	expect_all_efault(m, 2 * ps);
	ck_assert_int_eq(ftruncate(fd, (off_t)(4 * ps)), 0);
	expect_all_work(m, 3 * ps, fd, 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_window_at_unaligned_offset_faults_and_recovers)
{
	const char *path = t_path("f");
	const uint64_t woff = 3 * ps + 100;
	unsigned char buf[16], want[16];
	mmds_map *m = NULL;
	int fd;

	make_file(path, 8 * ps);
	ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
					       .offset = woff, .size = 4 * ps }),
			 0);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, sizeof(buf)), 0);
	fill_pattern(want, woff, sizeof(want));
	ck_assert_mem_eq(buf, want, sizeof(want));
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	expect_all_efault(m, 0);
	expect_all_efault(m, 4 * ps - 64);
	ck_assert_int_eq(ftruncate(fd, (off_t)(8 * ps)), 0);
	expect_all_work(m, 0, fd, woff);
	expect_all_work(m, 2 * ps, fd, woff);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ==== threads ============================================================== */

struct thr {
	mmds_map *bad;   /* truncated: every access faults */
	mmds_map *good;  /* healthy, pattern content */
	pthread_barrier_t *bar;
	atomic_int *faulters_left;
	int id, iters;
	long faults, good_reads, errors;
};

/* One access to the truncated map, cycling through the accessors; each
 * thread (id) keeps to its own 8 KiB, so that no two threads write the same
 * bytes (which a race detector would report, fault or not). */
static int fault_once(mmds_map *m, int id, int i)
{
	unsigned char buf[32];
	uint64_t off = (uint64_t)id * 8192 + (uint64_t)(i % 64) * 64, v;

	switch (i % 4) {
	case 0:
		return mmds_map_read(m, off, buf, sizeof(buf));
	case 1:
		return mmds_map_load64(m, off & ~(uint64_t)7, &v);
	case 2:
		return mmds_map_write(m, off, "xyz", 3);
	default:
		return guarded_read((unsigned char *)mmds_map_data(m) + off, NULL);
	}
}

/* The healthy map still reads its pattern. */
static bool good_read_ok(mmds_map *m, int i)
{
	unsigned char buf[256], want[256];
	uint64_t off = (uint64_t)i * 4099 % (mmds_map_size(m) - sizeof(buf));

	if (mmds_map_read(m, off, buf, sizeof(buf)) != 0)
		return false;
	fill_pattern(want, off, sizeof(want));
	return memcmp(buf, want, sizeof(buf)) == 0;
}

static void *faulter(void *arg)
{
	struct thr *t = arg;

	pthread_barrier_wait(t->bar);
	for (int i = 0; i < t->iters; i++) {
		if (fault_once(t->bad, t->id, i) == -EFAULT)
			t->faults++;
		else
			t->errors++;
		/* Between faults, a healthy access from the same thread. */
		if (t->good && (i % 8) == 0) {
			if (good_read_ok(t->good, i))
				t->good_reads++;
			else
				t->errors++;
		}
	}
	atomic_fetch_sub(t->faulters_left, 1);
	return NULL;
}

static void *reader(void *arg)
{
	struct thr *t = arg;
	int i = 0;

	pthread_barrier_wait(t->bar);
	/* Keep reading at least until every faulting thread is done. */
	while (i < t->iters || atomic_load(t->faulters_left) > 0) {
		if (good_read_ok(t->good, i))
			t->good_reads++;
		else
			t->errors++;
		i++;
	}
	return NULL;
}

START_TEST(test_fault_in_one_thread_leaves_other_threads_untouched)
{
	const char *bad_path = t_path("bad"), *good_path = t_path("good");
	pthread_barrier_t bar;
	pthread_t ta, tb;
	atomic_int left = 1;
	struct thr a = { 0 }, b = { 0 };

	make_file(bad_path, 1 * MIB);
	make_file(good_path, 1 * MIB);
	a.bad = open_path_map(bad_path);
	b.good = open_path_map(good_path);
	truncate_path(bad_path, 0);
	pthread_barrier_init(&bar, NULL, 2);
	a.bar = b.bar = &bar;
	a.faulters_left = b.faulters_left = &left;
	a.iters = b.iters = 20000;
	ck_assert_int_eq(pthread_create(&ta, NULL, faulter, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, reader, &b), 0);
	ck_assert_int_eq(pthread_join(ta, NULL), 0);
	ck_assert_int_eq(pthread_join(tb, NULL), 0);
	ck_assert_int_eq(a.errors, 0);
	ck_assert_int_eq(a.faults, a.iters);
	ck_assert_int_eq(b.errors, 0);
	ck_assert_int_ge(b.good_reads, b.iters);
	pthread_barrier_destroy(&bar);
	ck_assert_int_eq(mmds_map_close(a.bad), 0);
	ck_assert_int_eq(mmds_map_close(b.good), 0);
}
END_TEST

START_TEST(test_faults_in_many_threads_at_once_all_get_efault)
{
	enum { NT = 8 };
	const char *bad_path = t_path("bad"), *good_path = t_path("good");
	pthread_barrier_t bar;
	pthread_t th[NT];
	atomic_int left = NT;
	struct thr t[NT];
	mmds_map *bad, *good;

	make_file(bad_path, 256 * KIB);
	make_file(good_path, 256 * KIB);
	bad = open_path_map(bad_path);
	good = open_path_map(good_path);
	truncate_path(bad_path, 0);
	pthread_barrier_init(&bar, NULL, NT);
	for (int i = 0; i < NT; i++) {
		t[i] = (struct thr){ .bad = bad, .good = good, .bar = &bar,
				     .faulters_left = &left, .id = i,
				     .iters = 4000 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, faulter, &t[i]), 0);
	}
	for (int i = 0; i < NT; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(t[i].errors == 0 && t[i].faults == t[i].iters,
			      "thread %d: %ld faults, %ld errors of %d", i,
			      t[i].faults, t[i].errors, t[i].iters);
		ck_assert_int_eq(t[i].good_reads, t[i].iters / 8);
	}
	pthread_barrier_destroy(&bar);
	ck_assert_int_eq(mmds_map_close(bad), 0);
	ck_assert_int_eq(mmds_map_close(good), 0);
}
END_TEST

/* ==== nesting ============================================================== */

struct nest {
	mmds_map *m;
	const volatile unsigned char *bad; /* in a truncated page of m */
	int inner_rc, read_rc, after_inner, after_own;
	int depth, max_depth;
	int level_rc[64];
	int level_after[64];
};

static int fault_cb(void *arg)
{
	struct nest *n = arg;

	(void)*n->bad;
	return 99; /* not reached */
}

/* The inner guard's fault ends the inner call only; the outer goes on. */
static int outer_then_return_cb(void *arg)
{
	struct nest *n = arg;

	n->inner_rc = mmds_guard_run(fault_cb, n);
	n->after_inner = 1;
	return 7;
}

START_TEST(test_inner_guard_fault_returns_from_inner_call_only)
{
	const char *path = t_path("f");
	struct nest n = { 0 };

	make_file(path, 2 * ps);
	n.m = open_path_map(path);
	n.bad = (unsigned char *)mmds_map_data(n.m) + ps;
	truncate_path(path, 0);
	ck_assert_int_eq(mmds_guard_run(outer_then_return_cb, &n), 7);
	ck_assert_int_eq(n.inner_rc, -EFAULT);
	ck_assert_int_eq(n.after_inner, 1);
	ck_assert_int_eq(mmds_map_close(n.m), 0);
}
END_TEST

/* After the inner fault, a fault in the outer callback itself ends the
 * outer call: the outer guard is the innermost again. */
static int outer_then_fault_cb(void *arg)
{
	struct nest *n = arg;

	n->inner_rc = mmds_guard_run(fault_cb, n);
	n->after_inner = 1;
	(void)*n->bad;
	n->after_own = 1;
	return 7;
}

START_TEST(test_outer_guard_catches_its_own_fault_after_inner_fault)
{
	const char *path = t_path("f");
	struct nest n = { 0 };

	make_file(path, 2 * ps);
	n.m = open_path_map(path);
	n.bad = (unsigned char *)mmds_map_data(n.m) + ps + 1;
	truncate_path(path, (off_t)ps);
	ck_assert_int_eq(mmds_guard_run(outer_then_fault_cb, &n), -EFAULT);
	ck_assert_int_eq(n.inner_rc, -EFAULT);
	ck_assert_int_eq(n.after_inner, 1);
	ck_assert_int_eq(n.after_own, 0);
	ck_assert_int_eq(mmds_map_close(n.m), 0);
}
END_TEST

static int map_read_cb(void *arg)
{
	struct nest *n = arg;
	unsigned char buf[8];

	n->read_rc = mmds_map_read(n->m, ps, buf, sizeof(buf));
	n->after_inner = 1;
	return 5;
}

START_TEST(test_map_read_fault_inside_guard_run_returns_efault_to_callback)
{
	const char *path = t_path("f");
	struct nest n = { 0 };

	make_file(path, 2 * ps);
	n.m = open_path_map(path);
	truncate_path(path, 0);
	ck_assert_int_eq(mmds_guard_run(map_read_cb, &n), 5);
	ck_assert_int_eq(n.read_rc, -EFAULT);
	ck_assert_int_eq(n.after_inner, 1);
	ck_assert_int_eq(mmds_map_close(n.m), 0);
}
END_TEST

/* Level d runs level d + 1 under its own guard, records what it returned,
 * then faults itself: each fault must end exactly one level. */
static int level_cb(void *arg)
{
	struct nest *n = arg;
	int d = n->depth++;

	if (d + 1 < n->max_depth) {
		n->level_rc[d] = mmds_guard_run(level_cb, n);
		n->level_after[d] = 1;
	}
	(void)*n->bad;
	return 1000 + d; /* not reached */
}

START_TEST(test_deeply_nested_guards_unwind_one_level_per_fault)
{
	const char *path = t_path("f");
	struct nest n = { 0 };

	make_file(path, 2 * ps);
	n.m = open_path_map(path);
	n.bad = (unsigned char *)mmds_map_data(n.m) + ps + 9;
	truncate_path(path, 0);
	n.max_depth = 50;
	ck_assert_int_eq(mmds_guard_run(level_cb, &n), -EFAULT);
	ck_assert_int_eq(n.depth, 50);
	for (int d = 0; d + 1 < n.max_depth; d++) {
		ck_assert_msg(n.level_rc[d] == -EFAULT && n.level_after[d] == 1,
			      "level %d: inner returned %d, after=%d", d,
			      n.level_rc[d], n.level_after[d]);
	}
	/* All unwound: a plain accessor still gets its own -EFAULT. */
	ck_assert_int_eq(mmds_map_read(n.m, 0, (unsigned char[1]){ 0 }, 1),
			 -EFAULT);
	ck_assert_int_eq(mmds_map_close(n.m), 0);
}
END_TEST

/* ==== guard_run basics, SIGSEGV past a shrunk size ========================== */

static int return_arg_cb(void *arg)
{
	return *(int *)arg;
}

START_TEST(test_guard_run_null_fn_is_einval)
{
	ck_assert_int_eq(mmds_guard_run(NULL, NULL), -EINVAL);
	ck_assert_int_eq(mmds_guard_run(NULL, &(int){ 1 }), -EINVAL);
}
END_TEST

START_TEST(test_guard_run_returns_the_callbacks_value)
{
	static const int values[] = { 0, 1, 42, -5, -EINVAL, INT_MAX, INT_MIN };

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int v = values[i];

		ck_assert_int_eq(mmds_guard_run(return_arg_cb, &v), values[i]);
	}
}
END_TEST

START_TEST(test_guard_install_is_idempotent)
{
	struct sigaction a1, a2, s1, s2;

	ck_assert_int_eq(mmds_guard_install(), 0);
	ck_assert_int_eq(sigaction(SIGBUS, NULL, &a1), 0);
	ck_assert_int_eq(sigaction(SIGSEGV, NULL, &s1), 0);
	ck_assert(a1.sa_flags & SA_SIGINFO);
	ck_assert_int_eq(mmds_guard_install(), 0);
	ck_assert_int_eq(sigaction(SIGBUS, NULL, &a2), 0);
	ck_assert_int_eq(sigaction(SIGSEGV, NULL, &s2), 0);
	ck_assert(a1.sa_sigaction == a2.sa_sigaction);
	ck_assert(s1.sa_sigaction == s2.sa_sigaction);
}
END_TEST

START_TEST(test_guard_run_read_past_shrunk_size_is_efault)
{
	const char *path = t_path("f");
	const unsigned char *p;
	mmds_map *m;
	unsigned char b;

	make_file(path, 4 * ps);
	m = open_path_map(path);
	p = mmds_map_data(m);
	ck_assert_int_eq(guarded_read(p + 3 * ps + 10, NULL), pat(3 * ps + 10));
	ck_assert_int_eq(mmds_map_resize(m, ps), 0);
	/* The reservation there is PROT_NONE now: SIGSEGV, caught. */
	ck_assert_int_eq(guarded_read(p + 3 * ps + 10, NULL), -EFAULT);
	ck_assert_int_eq(guarded_read(p + ps, NULL), -EFAULT);
	ck_assert_int_eq(guarded_write((void *)(p + 2 * ps)), -EFAULT);
	/* Bounds-checked access says -ERANGE, the rest still reads. */
	ck_assert_int_eq(mmds_map_read(m, 3 * ps, &b, 1), -ERANGE);
	ck_assert_int_eq(guarded_read(p + 10, NULL), pat(10));
	/* Grown back: the same pointer reads (zeros, the file was cut). */
	ck_assert_int_eq(mmds_map_resize(m, 4 * ps), 0);
	ck_assert_int_eq(guarded_read(p + 3 * ps + 10, NULL), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ==== the default action: tests that end by a signal ====================== */

/* These tests need SIGBUS and SIGSEGV at their defaults when they start (the
 * runner calls no mmds function, and the sanitizer hooks above keep the
 * sanitizers out). */
static void expect_default_dispositions(void)
{
	struct sigaction sa;

	ck_assert_int_eq(sigaction(SIGBUS, NULL, &sa), 0);
	ck_assert_msg(!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL,
		      "SIGBUS already has a handler when the test starts");
	ck_assert_int_eq(sigaction(SIGSEGV, NULL, &sa), 0);
	ck_assert_msg(!(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_DFL,
		      "SIGSEGV already has a handler when the test starts");
}

/* An mmds map of 2 pages over an unnamed file truncated to nothing. */
static mmds_map *truncated_mmds_map(void)
{
	int fd = unnamed_file(2 * ps);
	mmds_map *m;

	ck_assert_int_ge(fd, 0);
	m = open_fd_map(fd);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(close(fd), 0);
	ck_assert_int_eq(mmds_map_read(m, 0, (unsigned char[1]){ 0 }, 1),
			 -EFAULT);
	return m;
}

/* A plain mmap (not mmds) of 2 pages of an unnamed file truncated to one. */
static unsigned char *truncated_raw_map(void)
{
	int fd = unnamed_file(2 * ps);
	unsigned char *p;

	ck_assert_int_ge(fd, 0);
	p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(p[5], pat(5));
	ck_assert_int_eq(ftruncate(fd, (off_t)ps), 0);
	ck_assert_int_eq(close(fd), 0);
	return p;
}

START_TEST(test_unguarded_fault_in_mmds_map_kills_with_sigbus)
{
	mmds_map *m;

	expect_default_dispositions();
	m = truncated_mmds_map();
	(void)*(volatile unsigned char *)mmds_map_data(m);
	ck_abort_msg("survived an unguarded SIGBUS in an mmds map");
}
END_TEST

START_TEST(test_unguarded_fault_in_mmds_map_kills_forked_child_with_sigbus)
{
	mmds_map *m;
	int status;
	pid_t pid;

	expect_default_dispositions();
	m = truncated_mmds_map();
	pid = t_fork();
	if (pid == 0) {
		(void)*((volatile unsigned char *)mmds_map_data(m) + ps);
		_exit(3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
		      "child status 0x%x, want death by SIGBUS", status);
	/* The parent, meanwhile, is still guarded. */
	ck_assert_int_eq(mmds_map_read(m, ps, (unsigned char[1]){ 0 }, 1),
			 -EFAULT);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_foreign_fault_kills_with_sigbus)
{
	mmds_map *m;
	unsigned char *p;

	expect_default_dispositions();
	m = truncated_mmds_map(); /* mmds is installed and has a live map */
	p = truncated_raw_map();
	(void)*(volatile unsigned char *)(p + ps);
	ck_abort_msg("survived a SIGBUS outside every mmds map (%p)", (void *)m);
}
END_TEST

START_TEST(test_foreign_fault_under_guard_run_kills_with_sigbus)
{
	mmds_map *m;
	unsigned char *p;

	expect_default_dispositions();
	m = truncated_mmds_map();
	p = truncated_raw_map();
	int rc = guarded_read(p + ps + 1, NULL);
	ck_abort_msg("mmds_guard_run returned %d for a fault outside every map "
		     "(%p)", rc, (void *)m);
}
END_TEST

START_TEST(test_accessors_leave_no_guard_behind)
{
	int fd = unnamed_file(4 * ps);
	char small[4];
	mmds_cursor c;
	mmds_map *m;

	expect_default_dispositions();
	ck_assert_int_ge(fd, 0);
	m = open_fd_map(fd);
	/* Every accessor, ending by a fault ... */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	expect_all_efault(m, ps);
	/* ... by success ... */
	ck_assert_int_eq(ftruncate(fd, (off_t)(4 * ps)), 0);
	expect_all_work(m, ps, fd, 0);
	/* ... and by -ENOBUFS from inside its guard. */
	ck_assert_int_eq(mmds_map_write(m, 0, "a long line\n", 12), 0);
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_read_line(&c, small, sizeof(small)),
			 -ENOBUFS);
	/* None of them left a guard on the stack to catch this. */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	(void)*(volatile unsigned char *)mmds_map_data(m);
	ck_abort_msg("survived an unguarded fault after the accessors");
}
END_TEST

START_TEST(test_foreign_fault_after_repeated_guard_install_kills_with_sigbus)
{
	mmds_map *m;
	unsigned char *p;

	expect_default_dispositions();
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(mmds_guard_install(), 0);
	m = truncated_mmds_map();
	ck_assert_int_eq(mmds_guard_install(), 0);
	/* mmds never takes itself for the handler to chain to. */
	p = truncated_raw_map();
	(void)*(volatile unsigned char *)(p + ps);
	ck_abort_msg("survived a foreign SIGBUS (%p)", (void *)m);
}
END_TEST

START_TEST(test_sent_sigbus_gets_the_default_action)
{
	mmds_map *m;

	expect_default_dispositions();
	m = truncated_mmds_map();
	kill(getpid(), SIGBUS);
	ck_abort_msg("survived kill(getpid(), SIGBUS) (%p)", (void *)m);
}
END_TEST

START_TEST(test_sent_sigbus_under_guard_run_gets_the_default_action)
{
	mmds_map *m;

	expect_default_dispositions();
	m = truncated_mmds_map();
	/* Even inside a guard, a sent SIGBUS is not an mmds fault. */
	int rc = mmds_guard_run(raise_sigbus_cb, NULL);
	ck_abort_msg("survived raise(SIGBUS) in a guard: %d (%p)", rc, (void *)m);
}
END_TEST

START_TEST(test_unguarded_read_past_shrunk_size_kills_with_sigsegv)
{
	int fd = unnamed_file(4 * ps);
	mmds_map *m;
	const volatile unsigned char *p;

	expect_default_dispositions();
	ck_assert_int_ge(fd, 0);
	m = open_fd_map(fd);
	p = mmds_map_data(m);
	ck_assert_int_eq(mmds_map_resize(m, ps), 0);
	ck_assert_int_eq(guarded_read((const void *)(p + 2 * ps), NULL), -EFAULT);
	(void)p[2 * ps];
	ck_abort_msg("survived an unguarded read past the size");
}
END_TEST

START_TEST(test_unguarded_fault_after_nested_guards_kills_with_sigbus)
{
	struct nest n = { 0 };

	expect_default_dispositions();
	n.m = truncated_mmds_map();
	n.bad = (unsigned char *)mmds_map_data(n.m) + ps;
	ck_assert_int_eq(mmds_guard_run(outer_then_return_cb, &n), 7);
	ck_assert_int_eq(n.inner_rc, -EFAULT);
	n.max_depth = 10;
	ck_assert_int_eq(mmds_guard_run(level_cb, &n), -EFAULT);
	ck_assert_int_eq(mmds_guard_run(map_read_cb, &n), 5);
	ck_assert_int_eq(n.read_rc, -EFAULT);
	/* No guard is left behind to catch this one. */
	(void)*n.bad;
	ck_abort_msg("survived an unguarded fault after nested guards");
}
END_TEST

/* ==== handlers installed before mmds (helpers in fresh processes) ========== */

/* Run this binary as `--helper name tmpdir` in a fresh process; returns its
 * wait status. */
static int run_helper(const char *name)
{
	char exe[PATH_MAX];
	int status;
	pid_t pid;

	pid = t_fork();
	if (pid == 0) {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

		if (n <= 0)
			_exit(126);
		exe[n] = '\0';
		execl(exe, exe, "--helper", name, t_tmpdir(), (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void expect_helper_exit(const char *name, int code)
{
	int st = run_helper(name);

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == code,
		      "helper %s: status 0x%x (%s %d), want exit %d", name, st,
		      WIFSIGNALED(st) ? "signal" : "exit",
		      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), code);
}

static void expect_helper_signal(const char *name, int sig)
{
	int st = run_helper(name);

	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == sig,
		      "helper %s: status 0x%x (%s %d), want death by signal %d",
		      name, st, WIFSIGNALED(st) ? "signal" : "exit",
		      WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st), sig);
}

static const char *const kinds[] = { "siginfo", "plain" };

static void expect_helper_exit_kind(const char *scenario, int kind, int code)
{
	char name[64];

	snprintf(name, sizeof(name), "%s:%s", kinds[kind], scenario);
	expect_helper_exit(name, code);
}

START_TEST(test_prior_handler_receives_sent_sigbus)
{
	expect_helper_exit_kind("sent", _i, 0);
}
END_TEST

START_TEST(test_prior_handler_receives_real_fault_outside_mmds_maps)
{
	expect_helper_exit_kind("fault", _i, 0);
}
END_TEST

START_TEST(test_prior_handler_receives_foreign_fault_under_guard_run_and_can_exit)
{
	/* The handler checks what it got and _exits 42. */
	expect_helper_exit_kind("exit-under-guard", _i, 42);
}
END_TEST

START_TEST(test_prior_handler_receives_unguarded_fault_in_mmds_map)
{
	expect_helper_exit_kind("mmds-unguarded", _i, 0);
}
END_TEST

START_TEST(test_guarded_mmds_fault_does_not_reach_prior_handler)
{
	expect_helper_exit_kind("mmds-guarded", _i, 0);
}
END_TEST

START_TEST(test_prior_handler_that_returns_resumes_the_faulting_access)
{
	expect_helper_exit_kind("returns", _i, 0);
}
END_TEST

START_TEST(test_handler_installed_after_mmds_is_chained_after_guard_install)
{
	expect_helper_exit_kind("after", _i, 0);
}
END_TEST

START_TEST(test_prior_one_shot_handler_is_called_once_then_default_kills)
{
	char name[64];

	snprintf(name, sizeof(name), "%s:resethand", kinds[_i]);
	expect_helper_signal(name, SIGBUS);
}
END_TEST

START_TEST(test_prior_sigsegv_handler_receives_foreign_sigsegv)
{
	expect_helper_exit("segv", 42);
}
END_TEST

START_TEST(test_sig_ign_ignores_sent_sigbus_while_guard_still_catches)
{
	expect_helper_exit("ign-sent", 0);
}
END_TEST

START_TEST(test_sig_ign_does_not_save_a_real_foreign_fault)
{
	/* Without mmds the kernel kills a process that ignores a fault. */
	expect_helper_signal("ign-fault", SIGBUS);
}
END_TEST

START_TEST(test_sig_ign_does_not_save_an_unguarded_fault_in_mmds_map)
{
	expect_helper_signal("ign-mmds-unguarded", SIGBUS);
}
END_TEST

/* ---- the helpers: main() runs one when called with --helper -------------- */

enum { H_RETURN, H_JUMP, H_EXIT, H_REPAIR };

static volatile sig_atomic_t h_count, h_sig, h_code, h_pid, h_value, h_mode;
static volatile sig_atomic_t h_expect_sig = SIGBUS; /* for H_EXIT */
static void *volatile h_addr;
static void *volatile h_expect;
static sigjmp_buf h_jmp;
static int h_fd = -1;        /* H_REPAIR: grow this file back ... */
static off_t h_fd_size;      /* ... to this size */
static const char *h_dir;
static mmds_map *h_map; /* closed by helper_main, for the leak checker */

static void h_common(int sig, const siginfo_t *si)
{
	if (++h_count > 50)
		_exit(45); /* called again and again: a loop */
	h_sig = sig;
	if (si) {
		h_code = si->si_code;
		h_addr = si->si_addr;
		h_pid = si->si_pid;
		h_value = si->si_value.sival_int;
	}
	switch (h_mode) {
	case H_JUMP:
		siglongjmp(h_jmp, 1);
	case H_EXIT:
		_exit(sig == h_expect_sig && (si == NULL || si->si_addr == h_expect) ?
			      42 : 43);
	case H_REPAIR:
		if (ftruncate(h_fd, h_fd_size) != 0)
			_exit(44);
		break;
	default:
		break;
	}
}

static void h_siginfo(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	h_common(sig, si);
}

static void h_plain(int sig)
{
	h_common(sig, NULL);
}

static void h_install_flags(bool siginfo, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = flags;
	if (siginfo) {
		sa.sa_sigaction = h_siginfo;
		sa.sa_flags |= SA_SIGINFO;
	} else {
		sa.sa_handler = h_plain;
	}
	T_CHILD_ASSERT(sigaction(SIGBUS, &sa, NULL) == 0);
}

static void h_install(bool siginfo)
{
	h_install_flags(siginfo, 0);
}

/* Whether the handler in force for SIGBUS is the test's own. */
static bool h_in_front(void)
{
	struct sigaction cur;

	T_CHILD_ASSERT(sigaction(SIGBUS, NULL, &cur) == 0);
	if (cur.sa_flags & SA_SIGINFO)
		return cur.sa_sigaction == h_siginfo;
	return cur.sa_handler == h_plain;
}

static const char *h_path(const char *name)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", h_dir, name);
	return buf;
}

/* A file of n bytes of pattern; its fd (O_RDWR). */
static int h_file(const char *name, size_t n)
{
	int fd = open(h_path(name), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	T_CHILD_ASSERT(fd >= 0);
	T_CHILD_ASSERT(write_pattern_fd(fd, n) == 0);
	return fd;
}

/* An mmds map over a 2-page file; *fd gets the file's fd. */
static mmds_map *h_mmds_map(const char *name, int *fd)
{
	mmds_map *m = NULL;

	*fd = h_file(name, 2 * ps);
	T_CHILD_ASSERT(mmds_map_open_fd(&m, *fd, NULL) == 0);
	h_map = m;
	return m;
}

/* A plain mmap (not mmds) over a 2-page file; *fd gets the file's fd. */
static unsigned char *h_raw_map(const char *name, int *fd)
{
	unsigned char *p;

	*fd = h_file(name, 2 * ps);
	p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	T_CHILD_ASSERT(p != MAP_FAILED);
	T_CHILD_ASSERT(p[ps + 1] == pat(ps + 1));
	return p;
}

/* Touch addr with the handler in H_JUMP mode; true if the handler jumped
 * back (the access faulted and reached it). */
static bool h_fault_jumps(const volatile unsigned char *addr)
{
	h_mode = H_JUMP;
	if (sigsetjmp(h_jmp, 1) == 0) {
		(void)*addr;
		h_mode = H_RETURN;
		return false;
	}
	h_mode = H_RETURN;
	return true;
}

static void h_expect_fault_info(int count, const volatile void *addr,
				bool siginfo)
{
	T_CHILD_ASSERT(h_count == count);
	T_CHILD_ASSERT(h_sig == SIGBUS);
	if (siginfo) {
		T_CHILD_ASSERT(h_code == BUS_ADRERR);
		T_CHILD_ASSERT(h_addr == (const void *)addr);
	}
}

static int helper_prior(bool si, const char *scenario)
{
	int fd, rfd;
	mmds_map *m;
	unsigned char *p, *d;
	unsigned char b = 0xff;

	if (strcmp(scenario, "after") == 0) {
		/* mmds first, then the program's handler, then
		 * mmds_guard_install() puts mmds back in front of it. */
		m = h_mmds_map("m", &fd);
		h_install(si);
		T_CHILD_ASSERT(h_in_front());
		T_CHILD_ASSERT(mmds_guard_install() == 0);
		T_CHILD_ASSERT(!h_in_front());
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		T_CHILD_ASSERT(mmds_map_read(m, ps, &b, 1) == -EFAULT);
		T_CHILD_ASSERT(h_count == 0);
		T_CHILD_ASSERT(kill(getpid(), SIGBUS) == 0);
		T_CHILD_ASSERT(h_count == 1 && h_sig == SIGBUS);
		p = h_raw_map("raw", &rfd);
		T_CHILD_ASSERT(ftruncate(rfd, 0) == 0);
		T_CHILD_ASSERT(h_fault_jumps(p + ps + 2));
		h_expect_fault_info(2, p + ps + 2, si);
		return 0;
	}

	if (strcmp(scenario, "resethand") == 0) {
		/* A one-shot handler (SA_RESETHAND) that returns: the kernel
		 * resets SIGBUS to the default before calling it, so the
		 * retried access kills.  It must not be called again. */
		h_install_flags(si, SA_RESETHAND);
		T_CHILD_ASSERT(mmds_guard_install() == 0);
		m = h_mmds_map("m", &fd);
		p = h_raw_map("raw", &rfd);
		T_CHILD_ASSERT(ftruncate(rfd, 0) == 0);
		(void)*(volatile unsigned char *)(p + ps);
		return 3; /* not reached */
	}

	/* The program's handler first, then mmds. */
	h_install(si);
	T_CHILD_ASSERT(mmds_guard_install() == 0);
	T_CHILD_ASSERT(!h_in_front());
	m = h_mmds_map("m", &fd);
	d = mmds_map_data(m);

	if (strcmp(scenario, "sent") == 0) {
		/* Installing again keeps the handler to chain to. */
		T_CHILD_ASSERT(mmds_guard_install() == 0);
		T_CHILD_ASSERT(kill(getpid(), SIGBUS) == 0);
		T_CHILD_ASSERT(h_count == 1 && h_sig == SIGBUS);
		if (si)
			T_CHILD_ASSERT(h_code == SI_USER && h_pid == getpid());
		T_CHILD_ASSERT(raise(SIGBUS) == 0);
		T_CHILD_ASSERT(h_count == 2 && h_sig == SIGBUS);
		if (si)
			T_CHILD_ASSERT(h_code == SI_TKILL && h_pid == getpid());
		T_CHILD_ASSERT(sigqueue(getpid(), SIGBUS,
					(union sigval){ .sival_int = 77 }) == 0);
		T_CHILD_ASSERT(h_count == 3);
		if (si)
			T_CHILD_ASSERT(h_code == SI_QUEUE && h_value == 77);
		/* Sent from inside a guard: still not mmds's. */
		T_CHILD_ASSERT(mmds_guard_run(raise_sigbus_cb, NULL) == 0);
		T_CHILD_ASSERT(h_count == 4);
		/* mmds's own faults are still caught. */
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		T_CHILD_ASSERT(mmds_map_read(m, 0, &b, 1) == -EFAULT);
		T_CHILD_ASSERT(h_count == 4);
		return 0;
	}
	if (strcmp(scenario, "fault") == 0) {
		p = h_raw_map("raw", &rfd);
		T_CHILD_ASSERT(ftruncate(rfd, (off_t)ps) == 0);
		T_CHILD_ASSERT(p[7] == pat(7));
		T_CHILD_ASSERT(h_fault_jumps(p + ps + 123));
		h_expect_fault_info(1, p + ps + 123, si);
		/* Again: the chain survives a handler that jumped out. */
		T_CHILD_ASSERT(h_fault_jumps(p + 2 * ps - 1));
		h_expect_fault_info(2, p + 2 * ps - 1, si);
		T_CHILD_ASSERT(mmds_map_read(m, 0, &b, 1) == 0 && b == pat(0));
		return 0;
	}
	if (strcmp(scenario, "exit-under-guard") == 0) {
		p = h_raw_map("raw", &rfd);
		T_CHILD_ASSERT(ftruncate(rfd, 0) == 0);
		h_expect = p + ps + 7;
		h_mode = H_EXIT;
		T_CHILD_ASSERT(guarded_read(p + ps + 7, NULL) == 12345);
		return 3; /* not reached */
	}
	if (strcmp(scenario, "mmds-unguarded") == 0) {
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		T_CHILD_ASSERT(h_fault_jumps(d + ps + 5));
		h_expect_fault_info(1, d + ps + 5, si);
		/* Guarded accesses are still mmds's afterwards. */
		T_CHILD_ASSERT(mmds_map_read(m, ps, &b, 1) == -EFAULT);
		T_CHILD_ASSERT(guarded_read(d + 5, NULL) == -EFAULT);
		T_CHILD_ASSERT(h_count == 1);
		return 0;
	}
	if (strcmp(scenario, "mmds-guarded") == 0) {
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		T_CHILD_ASSERT(mmds_map_read(m, 0, &b, 1) == -EFAULT);
		T_CHILD_ASSERT(mmds_map_write(m, ps, &b, 1) == -EFAULT);
		T_CHILD_ASSERT(mmds_map_store64(m, 8, 1) == -EFAULT);
		T_CHILD_ASSERT(mmds_map_touch(m, 0, 0) == -EFAULT);
		T_CHILD_ASSERT(guarded_read(d + ps, NULL) == -EFAULT);
		T_CHILD_ASSERT(h_count == 0);
		return 0;
	}
	if (strcmp(scenario, "returns") == 0) {
		/* A handler that repairs the file and returns: the access is
		 * retried and succeeds, as it would without mmds. */
		p = h_raw_map("raw", &rfd);
		T_CHILD_ASSERT(ftruncate(rfd, 0) == 0);
		h_fd = rfd;
		h_fd_size = (off_t)(2 * ps);
		h_mode = H_REPAIR;
		T_CHILD_ASSERT(*(volatile unsigned char *)(p + ps + 9) == 0);
		T_CHILD_ASSERT(h_count == 1);
		/* Likewise for an unguarded access to an mmds map. */
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		h_fd = fd;
		T_CHILD_ASSERT(*(volatile unsigned char *)(d + ps + 9) == 0);
		T_CHILD_ASSERT(h_count == 2);
		h_mode = H_RETURN;
		return 0;
	}
	fprintf(stderr, "unknown helper scenario %s\n", scenario);
	return 2;
}

static int helper_ign(const char *scenario)
{
	mmds_map *m;
	unsigned char *p, *d, b;
	int fd, rfd;

	T_CHILD_ASSERT(signal(SIGBUS, SIG_IGN) != SIG_ERR);
	m = h_mmds_map("m", &fd);
	d = mmds_map_data(m);
	if (strcmp(scenario, "ign-sent") == 0) {
		T_CHILD_ASSERT(kill(getpid(), SIGBUS) == 0);
		T_CHILD_ASSERT(raise(SIGBUS) == 0);
		T_CHILD_ASSERT(sigqueue(getpid(), SIGBUS,
					(union sigval){ .sival_int = 1 }) == 0);
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		T_CHILD_ASSERT(mmds_map_read(m, 0, &b, 1) == -EFAULT);
		T_CHILD_ASSERT(guarded_read(d + ps, NULL) == -EFAULT);
		T_CHILD_ASSERT(raise(SIGBUS) == 0);
		return 0;
	}
	if (strcmp(scenario, "ign-fault") == 0) {
		p = h_raw_map("raw", &rfd);
		T_CHILD_ASSERT(ftruncate(rfd, 0) == 0);
		(void)*(volatile unsigned char *)(p + ps);
		return 3;
	}
	if (strcmp(scenario, "ign-mmds-unguarded") == 0) {
		T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
		T_CHILD_ASSERT(mmds_map_read(m, 0, &b, 1) == -EFAULT);
		(void)*(volatile unsigned char *)(d + ps);
		return 3;
	}
	fprintf(stderr, "unknown helper %s\n", scenario);
	return 2;
}

/* A SIGSEGV handler installed before mmds: foreign SIGSEGVs reach it, a
 * guarded SIGSEGV inside a map (past a shrunk size) does not. */
static int helper_segv(void)
{
	struct sigaction sa;
	unsigned char *none, *d;
	mmds_map *m;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = h_siginfo;
	sa.sa_flags = SA_SIGINFO;
	T_CHILD_ASSERT(sigaction(SIGSEGV, &sa, NULL) == 0);
	T_CHILD_ASSERT(mmds_guard_install() == 0);
	m = h_mmds_map("m", &fd);
	d = mmds_map_data(m);
	none = mmap(NULL, ps, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	T_CHILD_ASSERT(none != MAP_FAILED);
	T_CHILD_ASSERT(h_fault_jumps(none + 17));
	T_CHILD_ASSERT(h_count == 1 && h_sig == SIGSEGV);
	T_CHILD_ASSERT(h_code == SEGV_ACCERR && h_addr == (void *)(none + 17));
	/* Under a guard too: the address is not in any map. */
	h_mode = H_EXIT;
	h_expect_sig = SIGSEGV;
	h_expect = none + 18;
	T_CHILD_ASSERT(mmds_map_resize(m, ps) == 0);
	T_CHILD_ASSERT(guarded_read(d + ps + 1, NULL) == -EFAULT);
	T_CHILD_ASSERT(h_count == 1);
	(void)guarded_read(none + 18, NULL);
	return 3; /* not reached: the handler _exits (42: right si_addr) */
}

static int helper_main(int argc, char **argv)
{
	const char *name, *colon;
	int rc;

	if (argc != 4) {
		fprintf(stderr, "usage: %s --helper NAME TMPDIR\n", argv[0]);
		return 2;
	}
	name = argv[2];
	h_dir = argv[3];
	colon = strchr(name, ':');
	if (strcmp(name, "segv") == 0) {
		rc = helper_segv();
	} else if (colon == NULL) {
		rc = helper_ign(name);
	} else if (strncmp(name, "siginfo:", 8) == 0) {
		rc = helper_prior(true, colon + 1);
	} else if (strncmp(name, "plain:", 6) == 0) {
		rc = helper_prior(false, colon + 1);
	} else {
		fprintf(stderr, "unknown helper %s\n", name);
		rc = 2;
	}
	mmds_map_close(h_map);
	return rc;
}

/* ==== handlers that chain back to mmds, handlers that jump out =========== */

/* What a forked child reports to its parent through a shared page. */
struct report {
	volatile int count;  /* times the program's SIGBUS handler ran */
	volatile int addr_ok; /* it saw the expected si_addr */
};

static struct report *shared_report(void)
{
	struct report *r = mmap(NULL, ps, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(r, MAP_FAILED);
	memset(r, 0, sizeof(*r));
	return r;
}

/* Fork; the child runs fn(arg) and must not return.  Returns the child's
 * wait status. */
static int run_child(void (*fn)(int), int arg)
{
	int status;
	pid_t pid = t_fork();

	if (pid == 0) {
		fn(arg);
		_exit(3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static const char *status_str(int st)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s %d",
		 WIFSIGNALED(st) ? "signal" : "exit",
		 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return buf;
}

/* In a child: an mmds map over a 2-page unnamed file truncated to nothing
 * (mmds's handler is installed by the open). */
static mmds_map *child_truncated_mmds_map(void)
{
	int fd = unnamed_file(2 * ps);
	mmds_map *m = NULL;
	unsigned char b;

	T_CHILD_ASSERT(fd >= 0);
	T_CHILD_ASSERT(mmds_map_open_fd(&m, fd, NULL) == 0);
	T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
	T_CHILD_ASSERT(close(fd) == 0);
	T_CHILD_ASSERT(mmds_map_read(m, 0, &b, 1) == -EFAULT);
	return m;
}

/* In a child: a plain mmap (not mmds) of 2 pages, truncated to one. */
static unsigned char *child_truncated_raw_map(void)
{
	int fd = unnamed_file(2 * ps);
	unsigned char *p;

	T_CHILD_ASSERT(fd >= 0);
	p = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	T_CHILD_ASSERT(p != MAP_FAILED);
	T_CHILD_ASSERT(ftruncate(fd, (off_t)ps) == 0);
	T_CHILD_ASSERT(close(fd) == 0);
	return p;
}

static struct report *c_report;
static struct sigaction c_old;  /* what the program's handler replaced */
static int c_variant;
static void *volatile c_expect;

/* The usual program handler: count, then chain to the handler it replaced
 * (mmds's).  Variants: pass siginfo and context on (0), pass a copy of the
 * siginfo (1), pass nothing (2). */
static void chaining_handler(int sig, siginfo_t *si, void *uc)
{
	siginfo_t copy;

	if (++c_report->count > 50)
		_exit(45); /* mmds and this handler call each other */
	c_report->addr_ok = si->si_addr == c_expect;
	if (!(c_old.sa_flags & SA_SIGINFO)) {
		if (c_old.sa_handler == SIG_DFL) {
			signal(sig, SIG_DFL);
			raise(sig);
		} else if (c_old.sa_handler != SIG_IGN) {
			c_old.sa_handler(sig);
		}
		return;
	}
	switch (c_variant) {
	case 0:
		c_old.sa_sigaction(sig, si, uc);
		break;
	case 1:
		copy = *si;
		c_old.sa_sigaction(sig, &copy, uc);
		break;
	default:
		c_old.sa_sigaction(sig, NULL, NULL);
		break;
	}
}

static void chain_back_child(int variant)
{
	struct sigaction sa;
	mmds_map *m = child_truncated_mmds_map();
	unsigned char *p, b;

	c_variant = variant;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = chaining_handler;
	sa.sa_flags = SA_SIGINFO;
	T_CHILD_ASSERT(sigaction(SIGBUS, &sa, &c_old) == 0);
	/* As map.h says: install mmds again after the program's handler,
	 * twice, which must not make mmds its own predecessor. */
	T_CHILD_ASSERT(mmds_guard_install() == 0);
	T_CHILD_ASSERT(mmds_guard_install() == 0);
	/* mmds's own faults are still mmds's. */
	T_CHILD_ASSERT(mmds_map_read(m, ps, &b, 1) == -EFAULT);
	T_CHILD_ASSERT(c_report->count == 0);
	p = child_truncated_raw_map();
	c_expect = p + ps + 3;
	(void)*(volatile unsigned char *)(p + ps + 3);
	_exit(3); /* survived a foreign SIGBUS */
}

/* The program's handler, installed after mmds and put behind it by
 * mmds_guard_install(), chains back to mmds: a foreign fault runs it once
 * and then gets the default action, not an endless loop. */
START_TEST(test_handler_chaining_back_to_mmds_runs_once_then_default_kills)
{
	int st;

	expect_default_dispositions();
	c_report = shared_report();
	st = run_child(chain_back_child, _i);
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
		      "variant %d: child %s, want death by SIGBUS", _i,
		      status_str(st));
	ck_assert_int_eq(c_report->count, 1);
	ck_assert_int_eq(c_report->addr_ok, 1);
	munmap(c_report, ps);
}
END_TEST

/* Eight distinct program handlers, each counting its own calls. */
static volatile sig_atomic_t nth_calls[8];
#define NTH_HANDLER(i)                                                        \
	static void nth_handler_##i(int sig)                                  \
	{                                                                     \
		(void)sig;                                                    \
		nth_calls[i]++;                                               \
	}
NTH_HANDLER(0)
NTH_HANDLER(1)
NTH_HANDLER(2)
NTH_HANDLER(3)
NTH_HANDLER(4)
NTH_HANDLER(5)
NTH_HANDLER(6)
NTH_HANDLER(7)
static void (*const nth_handlers[8])(int) = {
	nth_handler_0, nth_handler_1, nth_handler_2, nth_handler_3,
	nth_handler_4, nth_handler_5, nth_handler_6, nth_handler_7,
};

static void put_in_front(void (*h)(int))
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = h;
	T_CHILD_ASSERT(sigaction(SIGBUS, &sa, NULL) == 0);
}

static void install_limit_child(int unused)
{
	(void)unused;
	T_CHILD_ASSERT(mmds_guard_install() == 0); /* records SIG_DFL */
	/* The same handler put in front again and again is recorded once:
	 * a sent SIGBUS reaches it once. */
	for (int i = 0; i < 20; i++) {
		put_in_front(nth_handlers[0]);
		T_CHILD_ASSERT(mmds_guard_install() == 0);
	}
	T_CHILD_ASSERT(kill(getpid(), SIGBUS) == 0);
	T_CHILD_ASSERT(nth_calls[0] == 1);
	/* Six more distinct ones fill the list of eight... */
	for (int i = 1; i < 7; i++) {
		put_in_front(nth_handlers[i]);
		T_CHILD_ASSERT(mmds_guard_install() == 0);
	}
	/* ...and the ninth is refused, mmds staying behind it. */
	put_in_front(nth_handlers[7]);
	T_CHILD_ASSERT(mmds_guard_install() == -ENOSPC);
	T_CHILD_ASSERT(kill(getpid(), SIGBUS) == 0);
	T_CHILD_ASSERT(nth_calls[7] == 1 && nth_calls[6] == 0);
	/* Putting mmds back in front of a recorded one works. */
	put_in_front(nth_handlers[3]);
	T_CHILD_ASSERT(mmds_guard_install() == 0);
	T_CHILD_ASSERT(kill(getpid(), SIGBUS) == 0);
	T_CHILD_ASSERT(nth_calls[3] == 1 && nth_calls[0] == 1);
	_exit(0);
}

START_TEST(test_guard_install_records_each_handler_once_and_at_most_eight)
{
	int st;

	expect_default_dispositions();
	st = run_child(install_limit_child, 0);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %s",
		      status_str(st));
}
END_TEST

/* ---- a program handler that leaves a guard by siglongjmp ------------------ */

static sigjmp_buf c_escape;
static mmds_map *c_map;

static void jump_out_handler(int sig)
{
	(void)sig;
	siglongjmp(c_escape, 1);
}

/* The program's SIGBUS handler: reports and exits 42. */
static void exit_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	c_report->count++;
	c_report->addr_ok = sig == SIGBUS && si->si_addr == c_expect;
	_exit(42);
}

static int raise_usr1_cb(void *arg)
{
	(void)arg;
	raise(SIGUSR1);
	return 77; /* not reached: the handler jumps out */
}

/* Leave mmds_guard_run() through the program's SIGUSR1 handler. */
static void escape_from_guard(void)
{
	if (sigsetjmp(c_escape, 1) == 0) {
		int rc = mmds_guard_run(raise_usr1_cb, NULL);

		fprintf(stderr, "mmds_guard_run returned %d\n", rc);
		_exit(4);
	}
}

static __attribute__((noinline)) void touch(const volatile unsigned char *p)
{
	(void)*p;
}

/* Touch p from depth levels further down, each frame filling 1 KiB of
 * stack, so the dead guard frames are overwritten on the way. */
static __attribute__((noinline)) int touch_deep(const volatile unsigned char *p,
						int depth)
{
	volatile unsigned char fill[1024];

	memset((void *)fill, depth, sizeof(fill));
	if (depth > 0)
		return touch_deep(p, depth - 1) + fill[depth % 1024];
	touch(p);
	return fill[0];
}

/* In the outer guard, escape from an inner one, then fault: the outer
 * guard is live and catches it. */
static int escape_inner_then_fault_cb(void *arg)
{
	const volatile unsigned char *bad = arg;

	escape_from_guard();
	(void)*bad;
	return 5; /* not reached */
}

/* Variant 3: on a thread whose stack lies below its alternate signal
 * stack, a handler running on the alternate stack leaves a guard there by
 * siglongjmp.  That dead guard's frame is above the thread's stack pointer,
 * so only knowing that a frame on the alternate stack is dead once the code
 * runs off it keeps the handler from jumping into it. */
static void on_alt_handler(int sig)
{
	/* Keeps the guard deeper than the next signal's frame will reach at
	 * the top of the alternate stack, so its record stays intact. */
	volatile unsigned char pad[16 * 1024];

	pad[0] = (unsigned char)sig;
	(void)mmds_guard_run(raise_usr1_cb, NULL); /* jumps out */
	_exit(7 + pad[0] * 0);
}

static int escape_on_alt_then_fault_cb(void *arg)
{
	const volatile unsigned char *bad = arg;

	if (sigsetjmp(c_escape, 1) == 0) {
		raise(SIGUSR2);
		_exit(6);
	}
	(void)*bad;
	return 5; /* not reached */
}

static void *alt_thread(void *arg)
{
	unsigned char *alt = arg, *d = mmds_map_data(c_map), b;
	stack_t ss = { .ss_sp = alt, .ss_size = 64 * KIB };
	struct sigaction sa;

	T_CHILD_ASSERT(sigaltstack(&ss, NULL) == 0);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_alt_handler;
	sa.sa_flags = SA_ONSTACK | SA_NODEFER;
	T_CHILD_ASSERT(sigaction(SIGUSR2, &sa, NULL) == 0);
	T_CHILD_ASSERT(mmds_guard_run(escape_on_alt_then_fault_cb, d + ps) ==
		       -EFAULT);
	T_CHILD_ASSERT(mmds_map_read(c_map, ps, &b, 1) == -EFAULT);
	T_CHILD_ASSERT(c_report->count == 0);
	c_expect = d + ps + 5;
	touch(d + ps + 5);
	_exit(5);
}

static void escape_on_alt_stack(void)
{
	/* mmap hands out addresses downwards: the stack mapped second lies
	 * below the alternate stack. */
	unsigned char *alt = mmap(NULL, 64 * KIB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *stk = mmap(NULL, 1 * MIB, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_attr_t attr;
	pthread_t t;

	T_CHILD_ASSERT(alt != MAP_FAILED && stk != MAP_FAILED);
	if (stk > alt) {
		unsigned char *tmp = alt;

		/* Swap roles: the lower mapping is the thread's stack. */
		alt = stk;
		stk = tmp;
		T_CHILD_ASSERT(munmap(alt + 64 * KIB, 1 * MIB - 64 * KIB) == 0);
		T_CHILD_ASSERT(munmap(stk, 64 * KIB) == 0);
		stk = mmap(NULL, 1 * MIB, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		T_CHILD_ASSERT(stk != MAP_FAILED && stk < alt);
	}
	T_CHILD_ASSERT(pthread_attr_init(&attr) == 0);
	T_CHILD_ASSERT(pthread_attr_setstack(&attr, stk, 1 * MIB) == 0);
	T_CHILD_ASSERT(pthread_create(&t, &attr, alt_thread, alt) == 0);
	pthread_join(t, NULL);
	_exit(8);
}

static void escape_child(int variant)
{
	struct sigaction sa;
	unsigned char *d, b;

	c_map = child_truncated_mmds_map();
	d = mmds_map_data(c_map);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = jump_out_handler;
	T_CHILD_ASSERT(sigaction(SIGUSR1, &sa, NULL) == 0);
	sa.sa_sigaction = exit_handler;
	sa.sa_flags = SA_SIGINFO;
	T_CHILD_ASSERT(sigaction(SIGBUS, &sa, NULL) == 0);
	T_CHILD_ASSERT(mmds_guard_install() == 0);

	switch (variant) {
	case 0:
		/* One escape, then an unguarded fault right here. */
		escape_from_guard();
		break;
	case 1:
		/* Many escapes, guarded accesses in between, then an
		 * unguarded fault deeper than every dead guard. */
		for (int i = 0; i < 40; i++) {
			escape_from_guard();
			T_CHILD_ASSERT(mmds_map_read(c_map, ps, &b, 1) == -EFAULT);
			T_CHILD_ASSERT(guarded_read(d + 1, NULL) == -EFAULT);
		}
		c_expect = d + ps + 5;
		touch_deep(d + ps + 5, 64);
		_exit(5);
	case 3:
		escape_on_alt_stack();
		break;
	case 2:
		/* An escape inside a live outer guard. */
		T_CHILD_ASSERT(mmds_guard_run(escape_inner_then_fault_cb,
					      d + ps) == -EFAULT);
		T_CHILD_ASSERT(mmds_map_read(c_map, ps, &b, 1) == -EFAULT);
		break;
	default:
		break;
	}
	T_CHILD_ASSERT(c_report->count == 0);
	c_expect = d + ps + 5;
	touch(d + ps + 5);
	_exit(5);
}

/* A program handler leaves mmds_guard_run() by siglongjmp: the dead guard
 * is never used, so a later unguarded fault in a live map reaches the
 * program's SIGBUS handler (exit 42 with the right address). */
START_TEST(test_guard_left_by_siglongjmp_is_never_used)
{
	int st;

	if (T_TSAN && _i == 3) {
		/* TSan defers a signal raised inside a handler until the
		 * handler returns: the escape from inside one cannot happen. */
		fprintf(stderr, "note: TSan build: variant 3 not run\n");
		return;
	}
	expect_default_dispositions();
	c_report = shared_report();
	st = run_child(escape_child, _i);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42,
		      "variant %d: child %s, want exit 42", _i, status_str(st));
	ck_assert_int_eq(c_report->count, 1);
	ck_assert_int_eq(c_report->addr_ok, 1);
	munmap(c_report, ps);
}
END_TEST

/* ==== the registry of live ranges ========================================= */

enum { TOTAL_OPENS = 1000, ALIVE = 300, CLOSED_KEPT = 16 };

struct range {
	unsigned char *base;
	size_t len;
};

/* Open TOTAL_OPENS maps of path, ALIVE at once, closing a pseudo-random one
 * to make room; remember CLOSED_KEPT of the closed maps' ranges. */
static void churn(const char *path, mmds_map **live, struct range *closed)
{
	uint32_t rnd = 12345;
	int kept = 0;

	for (int i = 0; i < TOTAL_OPENS; i++) {
		int k = i;
		mmds_map *m;

		if (i >= ALIVE) {
			rnd = rnd * 1103515245u + 12345u;
			k = (int)((rnd >> 8) % ALIVE);
			if (i % ((TOTAL_OPENS - ALIVE) / CLOSED_KEPT) == 0 &&
			    kept < CLOSED_KEPT) {
				closed[kept].base = mmds_map_data(live[k]);
				closed[kept].len = 2 * ps;
				kept++;
			}
			ck_assert_int_eq(mmds_map_close(live[k]), 0);
		}
		ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
						       .capacity = 1 * MIB }),
				 0);
		live[k] = m;
	}
	ck_assert_int_eq(kept, CLOSED_KEPT);
}

START_TEST(test_registry_classifies_faults_after_many_opens_and_closes)
{
	const char *path = t_path("f");
	static mmds_map *live[ALIVE];
	struct range closed[CLOSED_KEPT];
	unsigned char b;
	int fd;

	make_file(path, 2 * ps);
	churn(path, live, closed);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	/* Every live map, in whichever registry slot, is recognised. */
	for (int i = 0; i < ALIVE; i++) {
		ck_assert_msg(mmds_map_read(live[i], ps, &b, 1) == -EFAULT,
			      "live map %d not recognised", i);
		ck_assert_int_eq(guarded_read((unsigned char *)mmds_map_data(
						      live[i]) + 1, NULL),
				 -EFAULT);
	}
	ck_assert_int_eq(ftruncate(fd, (off_t)(2 * ps)), 0);
	for (int i = 0; i < ALIVE; i++) {
		ck_assert_int_eq(mmds_map_write(live[i], ps + (uint64_t)i,
						"x", 1), 0);
		ck_assert_int_eq(mmds_map_read(live[i], ps + (uint64_t)i, &b,
					       1), 0);
		ck_assert_int_eq(b, 'x');
	}
	for (int i = 0; i < ALIVE; i++)
		ck_assert_int_eq(mmds_map_close(live[i]), 0);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_fault_in_closed_maps_old_range_is_not_mmds)
{
	const char *path = t_path("f");
	static mmds_map *live[ALIVE];
	struct range closed[CLOSED_KEPT + 1];
	int tried = 0;

	make_file(path, 2 * ps);
	churn(path, live, closed);
	closed[CLOSED_KEPT].base = mmds_map_data(live[ALIVE - 1]);
	closed[CLOSED_KEPT].len = 2 * ps;
	/* One map stays open, so the registry is not simply empty. */
	for (int i = 1; i < ALIVE; i++)
		ck_assert_int_eq(mmds_map_close(live[i]), 0);

	for (int i = 0; i <= CLOSED_KEPT; i++) {
		int status;
		pid_t pid = t_fork();

		if (pid == 0) {
			int fd = unnamed_file(2 * ps);
			unsigned char *p;

			T_CHILD_ASSERT(fd >= 0);
			p = mmap(closed[i].base, closed[i].len, PROT_READ,
				 MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0);
			if (p == MAP_FAILED || p != closed[i].base)
				_exit(T_SKIP_STATUS); /* taken since: try another */
			T_CHILD_ASSERT(p[ps] == pat(ps));
			T_CHILD_ASSERT(ftruncate(fd, 0) == 0);
			/* Not mmds's: the guard must pass it on, and the
			 * default action kills. */
			(void)guarded_read(p + ps, NULL);
			_exit(3);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) == T_SKIP_STATUS) {
			fprintf(stderr, "note: range %p was taken again\n",
				(void *)closed[i].base);
			continue;
		}
		tried++;
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS,
			      "range %d (%p): status 0x%x, want death by SIGBUS"
			      " (exit 3: treated as an mmds fault)", i,
			      (void *)closed[i].base, status);
	}
	ck_assert_int_ge(tried, CLOSED_KEPT / 2);
	ck_assert_int_eq(mmds_map_close(live[0]), 0);
}
END_TEST

/* ==== raw-pointer accessors and the fast view (mmds_ptr_*, mmds_fast_*) ==== */

/* Every mmds_ptr_*() accessor on a truncated page of a live map returns
 * -EFAULT and leaves its outputs alone; below the new end they work. */
START_TEST(test_ptr_accessors_on_truncated_page_are_efault)
{
	const char *path = t_path("f");
	unsigned char buf[40], want[40];
	uint64_t v64 = 1;
	uint32_t v32 = 1;
	unsigned char *p;
	mmds_map *m;

	make_file(path, 2 * ps);
	m = open_path_map(path);
	p = (unsigned char *)mmds_map_data(m);
	truncate_path(path, (off_t)ps);
	for (size_t n = 1; n <= sizeof(buf); n++) {
		memset(buf, 0x5a, sizeof(buf));
		ck_assert_int_eq(mmds_ptr_copy(buf, p + ps + 8, n), -EFAULT);
		ck_assert_int_eq(mmds_ptr_copy(p + ps + 8, buf, n), -EFAULT);
		/* A copy that starts below the end and runs past it. */
		ck_assert_int_eq(mmds_ptr_copy(buf, p + ps - 1, n),
				 n == 1 ? 0 : -EFAULT);
		ck_assert_int_eq(mmds_ptr_copy(buf, p + ps - 40, n), 0);
		fill_pattern(want, ps - 40, n);
		ck_assert_mem_eq(buf, want, n);
	}
	if (!T_TSAN) {
		ck_assert_int_eq(mmds_ptr_load64(p + ps, &v64), -EFAULT);
		ck_assert_int_eq(mmds_ptr_store64(p + ps, 5), -EFAULT);
		ck_assert_int_eq(mmds_ptr_add64(p + ps, 5, &v64), -EFAULT);
		ck_assert_int_eq(mmds_ptr_load32(p + ps + 4, &v32), -EFAULT);
		ck_assert_int_eq(mmds_ptr_store32(p + ps + 4, 5), -EFAULT);
		ck_assert_int_eq(mmds_ptr_add32(p + ps + 4, 5, &v32), -EFAULT);
		ck_assert_uint_eq(v64, 1);
		ck_assert_uint_eq(v32, 1);
		ck_assert_int_eq(mmds_ptr_access(p + ps, MMDS_PTR_ADD64, 1, &v64),
				 -EFAULT);
		ck_assert_uint_eq(v64, 1);
	}
	/* Below the end: real values, and the add is atomic and seen. */
	ck_assert_int_eq(mmds_ptr_store64(p + 64, 40), 0);
	ck_assert_int_eq(mmds_ptr_add64(p + 64, 2, &v64), 0);
	ck_assert_uint_eq(v64, 40);
	ck_assert_int_eq(mmds_ptr_load64(p + 64, &v64), 0);
	ck_assert_uint_eq(v64, 42);
	ck_assert_int_eq(mmds_ptr_store32(p + 72, 7), 0);
	ck_assert_int_eq(mmds_ptr_add32(p + 72, 0xffffffffu, &v32), 0);
	ck_assert_uint_eq(v32, 7);
	ck_assert_int_eq(mmds_ptr_load32(p + 72, &v32), 0);
	ck_assert_uint_eq(v32, 6);
	ck_assert_int_eq(mmds_ptr_access(p + 72, MMDS_PTR_LOAD32, 0, &v64), 0);
	ck_assert_uint_eq(v64, 6);
	ck_assert_int_eq(mmds_ptr_access(p + 72, 99, 0, &v64), -EINVAL);
	ck_assert_int_eq(mmds_ptr_access(NULL, MMDS_PTR_LOAD64, 0, &v64), -EINVAL);
	ck_assert_int_eq(mmds_ptr_access(p, MMDS_PTR_LOAD64, 0, NULL), -EINVAL);
	ck_assert_int_eq(mmds_guard_copy(NULL, p, 1), -EINVAL);
	ck_assert_int_eq(mmds_guard_copy(NULL, NULL, 0), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

struct ptr_nest {
	unsigned char *bad;
	int inner_rc, after_inner;
};

static int ptr_fault_cb(void *arg)
{
	struct ptr_nest *n = arg;
	uint64_t v = 0;

	n->inner_rc = mmds_ptr_load64(n->bad, &v);
	n->after_inner = 1;
	(void)*(volatile unsigned char *)n->bad; /* the guard's own fault */
	n->after_inner = 2;
	return 3;
}

/* A marked access inside mmds_guard_run() is the innermost guard: its fault
 * returns -EFAULT to it, and the callback's own fault then ends the run. */
START_TEST(test_ptr_fault_inside_guard_run_returns_to_the_access)
{
	const char *path = t_path("f");
	struct ptr_nest n = { 0 };
	mmds_map *m;

	make_file(path, 2 * ps);
	m = open_path_map(path);
	n.bad = (unsigned char *)mmds_map_data(m) + ps;
	truncate_path(path, (off_t)ps);
	ck_assert_int_eq(mmds_guard_run(ptr_fault_cb, &n), -EFAULT);
	ck_assert_int_eq(n.inner_rc, -EFAULT);
	ck_assert_int_eq(n.after_inner, 1);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* The fast view gives what the functions give: values, range, access and
 * alignment errors, -EFAULT on a truncated page, and flush accounting
 * under a policy. */
START_TEST(test_fast_view_matches_the_functions)
{
	const char *path = t_path("f");
	mmds_map_fast f, fr;
	mmds_map *m, *ro;
	unsigned char buf[32], want[32];
	uint64_t v = 9, a;

	make_file(path, 2 * ps);
	m = open_path_map(path);
	ck_assert_int_eq(mmds_map_fast_view(NULL, &f), -EINVAL);
	ck_assert_int_eq(mmds_map_fast_view(m, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_fast_view(m, &f), 0);
	a = aligned_off(m, 64);
	for (size_t n = 0; n <= sizeof(buf); n++) {
		ck_assert_int_eq(mmds_fast_read(&f, 100, buf, n), 0);
		fill_pattern(want, 100, n);
		ck_assert_mem_eq(buf, want, n);
	}
	ck_assert_int_eq(mmds_fast_read(&f, 2 * ps - 7, buf, 8), -ERANGE);
	ck_assert_int_eq(mmds_fast_read(&f, UINT64_MAX - 3, buf, 8), -ERANGE);
	ck_assert_int_eq(mmds_fast_write(&f, 2 * ps, buf, 1), -ERANGE);
	ck_assert_int_eq(mmds_fast_write(&f, 200, "abcdefgh", 8), 0);
	ck_assert_int_eq(mmds_map_read(m, 200, buf, 8), 0);
	ck_assert_mem_eq(buf, "abcdefgh", 8);
	ck_assert_int_eq(mmds_fast_store64(&f, a, 40), 0);
	ck_assert_int_eq(mmds_fast_add64(&f, a, 2, &v), 0);
	ck_assert_uint_eq(v, 40);
	ck_assert_int_eq(mmds_fast_load64(&f, a, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(mmds_fast_add64(&f, a + 1, 2, &v), -EINVAL);
	ck_assert_int_eq(mmds_fast_load64(&f, a, NULL), -EINVAL);
	ck_assert_int_eq(mmds_fast_add64(&f, 2 * ps, 2, &v), -ERANGE);

	/* Under a flush policy writes are counted, as the functions count. */
	ck_assert_int_eq(mmds_map_set_flush(m, &(mmds_flush_policy){
			.mode = MMDS_FLUSH_BYTES, .every = 1u << 30 }), 0);
	ck_assert_int_eq(mmds_fast_write(&f, 300, "xy", 2), 0);
	ck_assert_int_eq(mmds_fast_add64(&f, a, 1, NULL), 0);
	ck_assert_int_eq(mmds_fast_store64(&f, a, 1), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 2 + 8 + 8);

	/* Read-only: writes are -EACCES, reads work. */
	ck_assert_int_eq(mmds_map_open(&ro, path, &(mmds_map_opts){
			.access = MMDS_READ }), 0);
	ck_assert_int_eq(mmds_map_fast_view(ro, &fr), 0);
	ck_assert_int_eq(mmds_fast_write(&fr, 0, "x", 1), -EACCES);
	ck_assert_int_eq(mmds_fast_add64(&fr, a, 1, NULL), -EACCES);
	ck_assert_int_eq(mmds_fast_store64(&fr, a, 1), -EACCES);
	ck_assert_int_eq(mmds_fast_load64(&fr, a, &v), 0);
	ck_assert_uint_eq(v, 1);

	truncate_path(path, (off_t)ps);
	ck_assert_int_eq(mmds_fast_read(&fr, ps + 8, buf, 8), -EFAULT);
	ck_assert_int_eq(mmds_fast_read(&f, ps + 8, buf, 3), -EFAULT);
	ck_assert_int_eq(mmds_fast_write(&f, ps + 8, buf, 8), -EFAULT);
	if (!T_TSAN) {
		ck_assert_int_eq(mmds_fast_load64(&f, a + ps, &v), -EFAULT);
		ck_assert_int_eq(mmds_fast_add64(&f, a + ps, 1, &v), -EFAULT);
		ck_assert_int_eq(mmds_fast_store64(&f, a + ps, 1), -EFAULT);
	}
	ck_assert_int_eq(mmds_map_close(ro), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

struct ptr_thread {
	unsigned char *bad, *good;
	pthread_barrier_t *start;
	int faults, oks;
};

static void *ptr_thread_fn(void *arg)
{
	struct ptr_thread *t = arg;

	pthread_barrier_wait(t->start);
	for (int i = 0; i < 2000; i++) {
		uint64_t v;

		t->faults += mmds_ptr_copy(&v, t->bad + (i % 64) * 8, 8) == -EFAULT;
		t->oks += mmds_ptr_copy(&v, t->good + (i % 64) * 8, 8) == 0;
	}
	return NULL;
}

/* Threads faulting through marked accesses at once each get -EFAULT for
 * every faulting access and 0 for every other. */
START_TEST(test_ptr_faults_in_many_threads_at_once_all_get_efault)
{
	const char *path = t_path("f");
	struct ptr_thread t[4];
	pthread_t th[4];
	pthread_barrier_t start;
	mmds_map *m;
	unsigned char *p;

	make_file(path, 2 * ps);
	m = open_path_map(path);
	p = (unsigned char *)mmds_map_data(m);
	truncate_path(path, (off_t)ps);
	ck_assert_int_eq(pthread_barrier_init(&start, NULL, 4), 0);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct ptr_thread){ p + ps, p, &start, 0, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, ptr_thread_fn,
						&t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_int_eq(t[i].faults, 2000);
		ck_assert_int_eq(t[i].oks, 2000);
	}
	pthread_barrier_destroy(&start);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* A marked access that faults outside every live map is not mmds's: the
 * default action kills, as for any other foreign fault. */
START_TEST(test_ptr_access_outside_live_maps_kills_with_sigbus)
{
	mmds_map *m;
	unsigned char *p;
	uint64_t v = 0;

	expect_default_dispositions();
	m = truncated_mmds_map(); /* installed, with a live map */
	p = truncated_raw_map();
	(void)mmds_ptr_copy(&v, p + ps, 8);
	ck_abort_msg("survived a SIGBUS outside every mmds map (%p)", (void *)m);
}
END_TEST

/* Code written at run time around a page boundary, to reach the handler's
 * reading of the bytes before a faulting instruction that starts a page. */
#if defined(__x86_64__)
typedef int (*load_fn)(const void *p);

/* Two pages of code; with `first` unmapped, the second alone.  The
 * function returns at the start of the second page's code. */
static load_fn write_code(const unsigned char *pre, size_t npre,
			  const unsigned char *post, size_t npost, bool first)
{
	unsigned char *c = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(c, MAP_FAILED);
	if (npre)
		memcpy(c + ps - npre, pre, npre);
	memcpy(c + ps, post, npost);
	ck_assert_int_eq(mprotect(c, 2 * ps, PROT_READ | PROT_EXEC), 0);
	if (!first) {
		ck_assert_int_eq(munmap(c, ps), 0);
		return (load_fn)(void *)(c + ps);
	}
	return (load_fn)(void *)(c + ps - npre);
}

static int run_unmarked(void *arg)
{
	void **a = arg;

	return ((load_fn)a[0])(a[1]);
}

/* A marker on the page before the faulting instruction is found (read
 * through the kernel); an unmarked instruction at the start of a page whose
 * predecessor is unmapped is an ordinary guarded fault, and the handler
 * survives looking before it. */
START_TEST(test_fixup_marker_across_a_page_boundary)
{
	static const unsigned char marked_pre[] = {
		0x31, 0xc9,                                     /* xor %ecx,%ecx */
		0x0f, 0x1f, 0x84, 0x00, 0x6d, 0x6d, 0xf1, 0x03, /* marker, d = 3 */
	};
	static const unsigned char marked_post[] = {
		0x48, 0x8b, 0x07, /* mov (%rdi),%rax: faults */
		0x89, 0xc8,       /* mov %ecx,%eax */
		0xc3,             /* ret */
	};
	static const unsigned char plain_post[] = {
		0x48, 0x8b, 0x07, /* mov (%rdi),%rax: faults */
		0x31, 0xc0,       /* xor %eax,%eax */
		0xc3,             /* ret */
	};
	const char *path = t_path("f");
	load_fn marked, plain;
	unsigned char *p;
	void *args[2];
	mmds_map *m;

	make_file(path, 2 * ps);
	m = open_path_map(path);
	p = (unsigned char *)mmds_map_data(m);
	marked = write_code(marked_pre, sizeof(marked_pre), marked_post,
			    sizeof(marked_post), true);
	plain = write_code(NULL, 0, plain_post, sizeof(plain_post), false);
	ck_assert_int_eq(marked(p + ps), 0);
	ck_assert_int_eq(plain(p + ps), 0);
	truncate_path(path, (off_t)ps);
	ck_assert_int_eq(marked(p + ps), -EFAULT);
	args[0] = (void *)plain;
	args[1] = p + ps;
	ck_assert_int_eq(mmds_guard_run(run_unmarked, args), -EFAULT);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST
#endif

/* ==== suite ================================================================ */

Suite *guard_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *tc;

	tc = tcase_create("truncate");
	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_accessor_is_efault_after_truncate_through_other_fd);
	tcase_add_test(tc, test_every_accessor_is_efault_after_truncate_by_other_process);
	tcase_add_test(tc, test_partial_truncate_faults_only_beyond_new_end);
	tcase_add_test(tc, test_read_loop_gets_efault_when_other_process_truncates_midway);
	tcase_add_test(tc, test_guard_run_raw_read_of_truncated_page_is_efault);
	tcase_add_test(tc, test_caught_fault_leaves_signal_mask_unchanged);
	tcase_add_test(tc, test_every_accessor_works_after_file_grows_back);
	tcase_add_test(tc, test_window_at_unaligned_offset_faults_and_recovers);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fault_in_one_thread_leaves_other_threads_untouched);
	tcase_add_test(tc, test_faults_in_many_threads_at_once_all_get_efault);
	suite_add_tcase(s, tc);

	tc = tcase_create("nesting");
	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	tcase_add_test(tc, test_inner_guard_fault_returns_from_inner_call_only);
	tcase_add_test(tc, test_outer_guard_catches_its_own_fault_after_inner_fault);
	tcase_add_test(tc, test_map_read_fault_inside_guard_run_returns_efault_to_callback);
	tcase_add_test(tc, test_deeply_nested_guards_unwind_one_level_per_fault);
	suite_add_tcase(s, tc);

	tc = tcase_create("run");
	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	tcase_add_test(tc, test_guard_run_null_fn_is_einval);
	tcase_add_test(tc, test_guard_run_returns_the_callbacks_value);
	tcase_add_test(tc, test_guard_install_is_idempotent);
	tcase_add_test(tc, test_guard_run_read_past_shrunk_size_is_efault);
	suite_add_tcase(s, tc);

	/* No temp-dir fixture: these end by a signal (unnamed files only). */
	tc = tcase_create("default_action");
	tcase_add_test_raise_signal(tc, test_unguarded_fault_in_mmds_map_kills_with_sigbus, SIGBUS);
	tcase_add_test(tc, test_unguarded_fault_in_mmds_map_kills_forked_child_with_sigbus);
	tcase_add_test_raise_signal(tc, test_foreign_fault_kills_with_sigbus, SIGBUS);
	tcase_add_test_raise_signal(tc, test_foreign_fault_under_guard_run_kills_with_sigbus, SIGBUS);
	tcase_add_test_raise_signal(tc, test_accessors_leave_no_guard_behind, SIGBUS);
	tcase_add_test_raise_signal(tc, test_foreign_fault_after_repeated_guard_install_kills_with_sigbus, SIGBUS);
	tcase_add_test_raise_signal(tc, test_sent_sigbus_gets_the_default_action, SIGBUS);
	tcase_add_test_raise_signal(tc, test_sent_sigbus_under_guard_run_gets_the_default_action, SIGBUS);
	tcase_add_test_raise_signal(tc, test_unguarded_read_past_shrunk_size_kills_with_sigsegv, SIGSEGV);
	tcase_add_test_raise_signal(tc, test_unguarded_fault_after_nested_guards_kills_with_sigbus, SIGBUS);
	suite_add_tcase(s, tc);

	tc = tcase_create("chain");
	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_prior_handler_receives_sent_sigbus, 0, 2);
	tcase_add_loop_test(tc, test_prior_handler_receives_real_fault_outside_mmds_maps, 0, 2);
	tcase_add_loop_test(tc, test_prior_handler_receives_foreign_fault_under_guard_run_and_can_exit, 0, 2);
	tcase_add_loop_test(tc, test_prior_handler_receives_unguarded_fault_in_mmds_map, 0, 2);
	tcase_add_loop_test(tc, test_guarded_mmds_fault_does_not_reach_prior_handler, 0, 2);
	tcase_add_loop_test(tc, test_prior_handler_that_returns_resumes_the_faulting_access, 0, 2);
	tcase_add_loop_test(tc, test_handler_installed_after_mmds_is_chained_after_guard_install, 0, 2);
	tcase_add_loop_test(tc, test_prior_one_shot_handler_is_called_once_then_default_kills, 0, 2);
	tcase_add_test(tc, test_prior_sigsegv_handler_receives_foreign_sigsegv);
	tcase_add_test(tc, test_sig_ign_ignores_sent_sigbus_while_guard_still_catches);
	tcase_add_test(tc, test_sig_ign_does_not_save_a_real_foreign_fault);
	tcase_add_test(tc, test_sig_ign_does_not_save_an_unguarded_fault_in_mmds_map);
	suite_add_tcase(s, tc);

	tc = tcase_create("chain_back");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_handler_chaining_back_to_mmds_runs_once_then_default_kills, 0, 3);
	tcase_add_loop_test(tc, test_guard_left_by_siglongjmp_is_never_used, 0, 4);
	tcase_add_test(tc, test_guard_install_records_each_handler_once_and_at_most_eight);
	suite_add_tcase(s, tc);

	tc = tcase_create("ptr");
	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ptr_accessors_on_truncated_page_are_efault);
	tcase_add_test(tc, test_ptr_fault_inside_guard_run_returns_to_the_access);
	tcase_add_test(tc, test_fast_view_matches_the_functions);
	tcase_add_test(tc, test_ptr_faults_in_many_threads_at_once_all_get_efault);
#if defined(__x86_64__)
	tcase_add_test(tc, test_fixup_marker_across_a_page_boundary);
#endif
	suite_add_tcase(s, tc);

	tc = tcase_create("ptr_default_action");
	tcase_add_test_raise_signal(tc, test_ptr_access_outside_live_maps_kills_with_sigbus, SIGBUS);
	suite_add_tcase(s, tc);

	tc = tcase_create("registry");
	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_registry_classifies_faults_after_many_opens_and_closes);
	tcase_add_test(tc, test_fault_in_closed_maps_old_range_is_not_mmds);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	ps = (size_t)sysconf(_SC_PAGESIZE);
	if (argc >= 2 && strcmp(argv[1], "--helper") == 0)
		return helper_main(argc, argv);
	/* No mmds call here: the tests rely on starting with SIGBUS and
	 * SIGSEGV at their defaults. */
	sr = srunner_create(guard_suite());
	if (srunner_fork_status(sr) == CK_NOFORK) {
		fprintf(stderr, "SKIP: test_guard needs CK_FORK: its tests end "
				"processes by signals\n");
		srunner_free(sr);
		return T_SKIP_STATUS;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
