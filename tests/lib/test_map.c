/* test_map.c - the mapping core (mmds/map.h): open, access, cursors, atomics,
 * sharing between processes, resize, sync, flags, advice and info.
 *
 * The flush policy, the SIGBUS guard and huge pages have suites of their own. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mmds/map.h>

#include "t_util.h"

Suite *map_suite(void);

/* A map pointer no open may leave behind: failed opens must set NULL. */
#define NOT_NULL_MAP ((mmds_map *)(uintptr_t)0x10)

/* ---- helpers --------------------------------------------------------------- */

/* The byte a pattern file holds at file offset i: differs between
 * neighbouring bytes and between pages. */
static unsigned char pat(uint64_t i)
{
	return (unsigned char)(i * 131u + (i >> 12) * 7u + 17u);
}

/* Write a pattern file of len bytes and return its path (a t_path buffer:
 * copy it if more t_path calls follow). */
static const char *make_file(const char *name, size_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	const char *p = t_path(name);

	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(i);
	t_write_file(p, buf, len);
	free(buf);
	return p;
}

/* The first index where buf differs from the file pattern at file_off, or
 * len when it matches. */
static size_t pattern_mismatch(const void *buf, uint64_t file_off, size_t len)
{
	const unsigned char *b = buf;

	for (size_t i = 0; i < len; i++)
		if (b[i] != pat(file_off + i))
			return i;
	return len;
}

#define ck_assert_pattern(buf, file_off, len)                                  \
	do {                                                                   \
		size_t bad_ = pattern_mismatch((buf), (file_off), (len));       \
		ck_assert_msg(bad_ == (size_t)(len),                           \
			      "byte %zu (file offset %llu) is 0x%02x, want 0x%02x", \
			      bad_, (unsigned long long)((file_off) + bad_),   \
			      ((const unsigned char *)(buf))[bad_],             \
			      pat((file_off) + bad_));                         \
	} while (0)

static mmds_map *open_ok(const char *path, const mmds_map_opts *o)
{
	mmds_map *m = NOT_NULL_MAP;
	int rc = mmds_map_open(&m, path, o);

	ck_assert_msg(rc == 0, "mmds_map_open(%s) = %d (%s)", path, rc,
		      mmds_strerror(rc));
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_ne(m, NOT_NULL_MAP);
	return m;
}

static mmds_map *anon_ok(const mmds_map_opts *o)
{
	mmds_map *m = NOT_NULL_MAP;
	int rc = mmds_map_open_anon(&m, o);

	ck_assert_msg(rc == 0, "mmds_map_open_anon = %d (%s)", rc,
		      mmds_strerror(rc));
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_ne(m, NOT_NULL_MAP);
	return m;
}

static void close_ok(mmds_map *m)
{
	ck_assert_int_eq(mmds_map_close(m), 0);
}

/* mmds_map_open must fail with want and leave *out NULL. */
static void open_fails(const char *path, const mmds_map_opts *o, int want)
{
	mmds_map *m = NOT_NULL_MAP;
	int rc = mmds_map_open(&m, path, o);

	ck_assert_msg(rc == want, "mmds_map_open(%s) = %d (%s), want %d (%s)",
		      path ? path : "NULL", rc, mmds_strerror(rc), want,
		      mmds_strerror(want));
	ck_assert_ptr_null(m);
	if (rc == 0)
		mmds_map_close(m);
}

static void anon_fails(const mmds_map_opts *o, int want)
{
	mmds_map *m = NOT_NULL_MAP;
	int rc = mmds_map_open_anon(&m, o);

	ck_assert_msg(rc == want, "mmds_map_open_anon = %d (%s), want %d",
		      rc, mmds_strerror(rc), want);
	ck_assert_ptr_null(m);
}

static void open_fd_fails(int fd, const mmds_map_opts *o, int want)
{
	mmds_map *m = NOT_NULL_MAP;
	int rc = mmds_map_open_fd(&m, fd, o);

	ck_assert_msg(rc == want, "mmds_map_open_fd = %d (%s), want %d",
		      rc, mmds_strerror(rc), want);
	ck_assert_ptr_null(m);
}

/* pread exactly len bytes of the file at path, with plain system calls. */
static void pread_file(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	ck_assert_msg(fd >= 0, "open(%s): %s", path, strerror(errno));
	n = pread(fd, buf, len, (off_t)off);
	ck_assert_msg(n == (ssize_t)len, "pread(%s, %zu at %llu) = %zd", path,
		      len, (unsigned long long)off, n);
	close(fd);
}

/* The Address and Thread sanitizers turn mlock() into a no-op, so VmLck
 * stays 0 under them. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define T_MLOCK_WORKS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define T_MLOCK_WORKS 0
#endif
#endif
#ifndef T_MLOCK_WORKS
#define T_MLOCK_WORKS 1
#endif

/* VmLck of this process in kB, or -1 when it cannot be known. */
static long vm_locked_kb(void)
{
	FILE *f;
	char line[256];
	long kb = -1;

	if (!T_MLOCK_WORKS)
		return -1;
	f = fopen("/proc/self/status", "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static size_t page(void)
{
	return mmds_page_size();
}

/* Skip unless this process may mlock() bytes bytes: root, or a large
 * enough RLIMIT_MEMLOCK. */
static void need_memlock(uint64_t bytes)
{
	struct rlimit rl;

	if (geteuid() == 0)
		return;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= bytes))
		return;
	t_skip("RLIMIT_MEMLOCK below %llu bytes and not root",
	       (unsigned long long)bytes);
}

/* ---- open ------------------------------------------------------------------ */

START_TEST(test_open_nonexistent_file_is_enoent)
{
	open_fails(t_path("missing"), NULL, -ENOENT);
	open_fails(t_path("missing"), &(mmds_map_opts){ .access = MMDS_READ },
		   -ENOENT);
	ck_assert_int_eq(access(t_path("missing"), F_OK), -1);
}
END_TEST

START_TEST(test_open_without_file_permission_is_eacces)
{
	char secret[PATH_MAX], public[PATH_MAX];
	pid_t pid;

	snprintf(secret, sizeof(secret), "%s", make_file("secret", 4096));
	snprintf(public, sizeof(public), "%s", make_file("public", 4096));
	/* Modes that refuse the access to the owner as well, so the test
	 * holds whether the child is uid 65534 or an unprivileged owner. */
	ck_assert_int_eq(chmod(secret, 0000), 0);
	ck_assert_int_eq(chmod(public, 0444), 0);
	/* The unprivileged child must be able to reach the files. */
	ck_assert_int_eq(chmod(t_tmpdir(), 0755), 0);

	pid = t_fork();
	if (pid == 0) {
		mmds_map *m = NOT_NULL_MAP;
		unsigned char buf[16];
		int dropped = geteuid() == 0;

		if (dropped &&
		    (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		     setuid(65534) != 0))
			t_skip("cannot drop root to uid 65534: %s",
			       strerror(errno));
		if (access(t_tmpdir(), X_OK) != 0)
			t_skip("uid %ld cannot reach %s (TMPDIR not "
			       "world-accessible)", (long)getuid(), t_tmpdir());
		T_CHILD_ASSERT(mmds_map_open(&m, secret, &(mmds_map_opts){
			.access = MMDS_READ }) == -EACCES);
		T_CHILD_ASSERT(m == NULL);
		m = NOT_NULL_MAP;
		T_CHILD_ASSERT(mmds_map_open(&m, secret, NULL) == -EACCES);
		T_CHILD_ASSERT(m == NULL);
		m = NOT_NULL_MAP;
		/* Readable but not writable: reading works, writing is refused. */
		T_CHILD_ASSERT(mmds_map_open(&m, public, NULL) == -EACCES);
		T_CHILD_ASSERT(m == NULL);
		T_CHILD_ASSERT(mmds_map_open(&m, public, &(mmds_map_opts){
			.access = MMDS_READ }) == 0);
		T_CHILD_ASSERT(mmds_map_read(m, 4000, buf, sizeof(buf)) == 0);
		T_CHILD_ASSERT(pattern_mismatch(buf, 4000, sizeof(buf)) ==
			       sizeof(buf));
		T_CHILD_ASSERT(mmds_map_close(m) == 0);
		/* Creating in a directory it may not write (root's 0755). */
		if (dropped) {
			m = NOT_NULL_MAP;
			T_CHILD_ASSERT(mmds_map_open(&m, t_path("new"),
				&(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
						  .size = 10 }) == -EACCES);
			T_CHILD_ASSERT(m == NULL);
		}
		_exit(0);
	}
	t_wait_child(pid);
	ck_assert_int_eq(access(t_path("new"), F_OK), -1);
}
END_TEST

START_TEST(test_created_file_is_0600_unless_mode_given)
{
	mode_t old = umask(0);
	struct stat st;
	mmds_map *m;

	m = open_ok(t_path("default"),
		    &(mmds_map_opts){ .flags = MMDS_MAP_CREATE, .size = 100 });
	close_ok(m);
	ck_assert_int_eq(stat(t_path("default"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);

	m = open_ok(t_path("custom"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .mode = 0640, .size = 100 });
	close_ok(m);
	ck_assert_int_eq(stat(t_path("custom"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);

	/* Opening an existing file with CREATE leaves its mode alone. */
	m = open_ok(t_path("custom"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .mode = 0666 });
	close_ok(m);
	ck_assert_int_eq(stat(t_path("custom"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	umask(old);
}
END_TEST

START_TEST(test_create_makes_zero_filled_file_of_size)
{
	unsigned char buf[8192], zero[8192] = { 0 };
	mmds_map *m = open_ok(t_path("new"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = 8192 });

	ck_assert_uint_eq(mmds_map_size(m), 8192);
	ck_assert_int_eq(t_file_size(t_path("new")), 8192);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, zero, sizeof(buf));
	close_ok(m);
}
END_TEST

/* CREATE keeps its documented meaning: the size applies to an existing
 * file too (grows a shorter one, maps only part of a longer one). */
START_TEST(test_create_with_size_applies_size_to_existing_file)
{
	const char *p8 = make_file("big8k", 8192);
	char p2[PATH_MAX];
	mmds_map *m;

	m = open_ok(p8, &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
					  .size = 4096 });
	ck_assert_uint_eq(mmds_map_size(m), 4096);
	close_ok(m);
	ck_assert_int_eq(t_file_size(p8), 8192);
	snprintf(p2, sizeof(p2), "%s", make_file("small2k", 2048));
	m = open_ok(p2, &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
					  .size = 4096 });
	ck_assert_uint_eq(mmds_map_size(m), 4096);
	close_ok(m);
	ck_assert_int_eq(t_file_size(p2), 4096);
}
END_TEST

/* OPEN_OR_CREATE as mmap-io means it: the size is only for a new file; an
 * existing one is mapped whole and left as it is. */
START_TEST(test_open_or_create_maps_existing_file_whole)
{
	const char *p8 = make_file("big8k", 8192);
	unsigned char buf[8192];
	char p2[PATH_MAX];
	mmds_map *m;

	m = open_ok(p8, &(mmds_map_opts){ .flags = MMDS_MAP_OPEN_OR_CREATE,
					  .size = 4096 });
	ck_assert_uint_eq(mmds_map_size(m), 8192);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, sizeof(buf)), 0);
	ck_assert_pattern(buf, 0, sizeof(buf));
	close_ok(m);
	ck_assert_int_eq(t_file_size(p8), 8192);

	snprintf(p2, sizeof(p2), "%s", make_file("small2k", 2048));
	m = open_ok(p2, &(mmds_map_opts){ .flags = MMDS_MAP_OPEN_OR_CREATE,
					  .size = 4096 });
	ck_assert_uint_eq(mmds_map_size(m), 2048);
	ck_assert_int_eq(t_file_size(p2), 2048);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 2048), 0);
	ck_assert_pattern(buf, 0, 2048);
	close_ok(m);

	/* A window of an existing file runs from its offset to the end. */
	m = open_ok(p8, &(mmds_map_opts){ .flags = MMDS_MAP_OPEN_OR_CREATE,
					  .offset = 1000, .size = 10 });
	ck_assert_uint_eq(mmds_map_size(m), 8192 - 1000);
	close_ok(m);
}
END_TEST

START_TEST(test_open_or_create_creates_missing_file_of_size)
{
	const char *p = t_path("fresh");
	unsigned char buf[4096], zero[4096] = { 0 };
	struct stat st;
	mmds_map *m = open_ok(p, &(mmds_map_opts){
		.flags = MMDS_MAP_OPEN_OR_CREATE, .size = 4096, .mode = 0640 });

	ck_assert_uint_eq(mmds_map_size(m), 4096);
	ck_assert_int_eq(t_file_size(p), 4096);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, sizeof(buf)), 0);
	ck_assert_mem_eq(buf, zero, sizeof(buf));
	close_ok(m);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	/* The second open finds it and maps it whole, whatever size it asks. */
	m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_OPEN_OR_CREATE,
					 .size = 100 });
	ck_assert_uint_eq(mmds_map_size(m), 4096);
	close_ok(m);
}
END_TEST

/* Processes racing to open_or_create one name all map the created size:
 * the file appears under its name only once it has that size, so a process
 * that finds it existing never maps the empty file before it was grown. */
START_TEST(test_open_or_create_racing_processes_all_map_the_size)
{
	enum { PROCS = 4, ROUNDS = 40, SIZE = 65536 };
	const char *p = t_path("race");
	t_barrier *b = t_barrier_new(PROCS);
	int *sizes = mmap(NULL, sizeof(int) * PROCS * ROUNDS,
			  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
	pid_t pid[PROCS];

	ck_assert_ptr_ne(sizes, MAP_FAILED);
	for (int i = 0; i < PROCS; i++) {
		pid[i] = t_fork();
		if (pid[i] == 0) {
			for (int r = 0; r < ROUNDS; r++) {
				mmds_map *m = NULL;
				int rc;

				t_barrier_wait(b);
				rc = mmds_map_open(&m, p, &(mmds_map_opts){
					.flags = MMDS_MAP_OPEN_OR_CREATE,
					.size = SIZE });
				sizes[r * PROCS + i] =
					rc ? rc : (int)mmds_map_size(m);
				mmds_map_close(m);
				t_barrier_wait(b);
				if (i == 0)
					unlink(p);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < PROCS; i++)
		t_wait_child(pid[i]);
	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < PROCS; i++)
			ck_assert_msg(sizes[r * PROCS + i] == SIZE,
				      "round %d process %d mapped %d", r, i,
				      sizes[r * PROCS + i]);
	munmap(sizes, sizeof(int) * PROCS * ROUNDS);
	t_barrier_free(b);
}
END_TEST

/* An existing file is opened even where nothing could be created: a
 * process that may write the file but not its directory maps it whole,
 * and only a missing name is -EACCES. */
START_TEST(test_open_or_create_existing_file_in_unwritable_directory)
{
	char path[PATH_MAX];
	pid_t pid;

	snprintf(path, sizeof(path), "%s", make_file("shared8k", 8192));
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(chmod(t_tmpdir(), 0755), 0);
	pid = t_fork();
	if (pid == 0) {
		mmds_map *m = NOT_NULL_MAP;

		if (geteuid() == 0 &&
		    (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		     setuid(65534) != 0))
			t_skip("cannot drop root to uid 65534: %s",
			       strerror(errno));
		if (access(t_tmpdir(), X_OK) != 0 || access(t_tmpdir(), W_OK) == 0)
			t_skip("uid %ld cannot reach %s, or may write it",
			       (long)getuid(), t_tmpdir());
		T_CHILD_ASSERT(mmds_map_open(&m, path, &(mmds_map_opts){
			.flags = MMDS_MAP_OPEN_OR_CREATE, .size = 4096 }) == 0);
		T_CHILD_ASSERT(mmds_map_size(m) == 8192);
		T_CHILD_ASSERT(mmds_map_close(m) == 0);
		m = NOT_NULL_MAP;
		T_CHILD_ASSERT(mmds_map_open(&m, t_path("nothere"),
			&(mmds_map_opts){ .flags = MMDS_MAP_OPEN_OR_CREATE,
					  .size = 4096 }) == -EACCES);
		T_CHILD_ASSERT(m == NULL);
		_exit(0);
	}
	t_wait_child(pid);
}
END_TEST

START_TEST(test_open_or_create_bad_combinations_are_einval)
{
	mmds_map *m = NOT_NULL_MAP;
	int fd;

	open_fails(t_path("x"), &(mmds_map_opts){
		.flags = MMDS_MAP_OPEN_OR_CREATE | MMDS_MAP_CREATE |
			 MMDS_MAP_EXCL, .size = 10 }, -EINVAL);
	open_fails(t_path("x"), &(mmds_map_opts){
		.flags = MMDS_MAP_OPEN_OR_CREATE | MMDS_MAP_TRUNCATE,
		.size = 10 }, -EINVAL);
	open_fails(t_path("x"), &(mmds_map_opts){
		.flags = MMDS_MAP_OPEN_OR_CREATE, .access = MMDS_READ,
		.size = 10 }, -EINVAL);
	ck_assert_int_eq(access(t_path("x"), F_OK), -1);
	fd = open(make_file("fdfile", 100), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mmds_map_open_fd(&m, fd, &(mmds_map_opts){
		.flags = MMDS_MAP_OPEN_OR_CREATE }), -EINVAL);
	ck_assert_ptr_null(m);
	close(fd);
	m = NOT_NULL_MAP;
	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.flags = MMDS_MAP_OPEN_OR_CREATE, .size = 10 }), -EINVAL);
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_create_excl_on_existing_file_is_eexist)
{
	const char *p = make_file("exists", 4096);
	mmds_map *m;

	open_fails(p, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL, .size = 100 }, -EEXIST);
	ck_assert_int_eq(t_file_size(p), 4096);
	/* On a new name it creates the file. */
	m = open_ok(t_path("fresh"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL, .size = 100 });
	ck_assert_int_eq(t_file_size(t_path("fresh")), 100);
	close_ok(m);
}
END_TEST

/* ---- symbolic links ---------------------------------------------------- */

static void *free_range(size_t len);

static bool is_symlink(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* CREATE follows a dangling link as open(2) does: the file it names is
 * created (relative targets from the link's directory, through chains of
 * links), and the link stays a link. */
START_TEST(test_create_through_dangling_symlink_creates_the_target)
{
	char link[PATH_MAX], target[PATH_MAX], link2[PATH_MAX], abs[PATH_MAX];
	unsigned char buf[16], got[16];
	mmds_map *m;

	ck_assert_int_eq(mkdir(t_path("sub"), 0700), 0);
	snprintf(link, sizeof(link), "%s", t_path("link"));
	snprintf(target, sizeof(target), "%s", t_path("sub/target"));
	ck_assert_int_eq(symlink("sub/target", link), 0);
	m = open_ok(link, &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
					    .size = 8192 });
	ck_assert(is_symlink(link));
	ck_assert_int_eq(t_file_size(target), 8192);
	memset(buf, 0xA5, sizeof(buf));
	ck_assert_int_eq(mmds_map_write(m, 100, buf, sizeof(buf)), 0);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_DURABLE), 0);
	close_ok(m);
	{
		int fd = open(target, O_RDONLY | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pread(fd, got, sizeof(got), 100),
				 (ssize_t)sizeof(got));
		close(fd);
		ck_assert_mem_eq(got, buf, sizeof(got));
	}
	/* A chain of links, the last one absolute. */
	snprintf(link2, sizeof(link2), "%s", t_path("link2"));
	snprintf(abs, sizeof(abs), "%s", t_path("sub/abs"));
	ck_assert_int_eq(symlink(abs, t_path("sub/hop")), 0);
	ck_assert_int_eq(symlink("sub/hop", link2), 0);
	m = open_ok(link2, &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
					     .size = 4096 });
	ck_assert_int_eq(t_file_size(abs), 4096);
	ck_assert(is_symlink(link2));
	close_ok(m);
	/* Now that the target exists, CREATE just opens it. */
	m = open_ok(link, &(mmds_map_opts){ .flags = MMDS_MAP_CREATE });
	ck_assert_uint_eq(mmds_map_size(m), 8192);
	close_ok(m);
	/* EXCL: a link is a name that exists, as for open(2). */
	ck_assert_int_eq(unlink(abs), 0);
	open_fails(link2, &(mmds_map_opts){ .flags = MMDS_MAP_CREATE |
						     MMDS_MAP_EXCL,
					     .size = 4096 }, -EEXIST);
	ck_assert(!exists(abs));
	/* A link to a directory that does not exist: -ENOENT. */
	ck_assert_int_eq(symlink("nodir/x", t_path("link3")), 0);
	open_fails(t_path("link3"), &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
						      .size = 4096 }, -ENOENT);
	/* A loop of links: -ELOOP. */
	ck_assert_int_eq(symlink("loop_b", t_path("loop_a")), 0);
	ck_assert_int_eq(symlink("loop_a", t_path("loop_b")), 0);
	open_fails(t_path("loop_a"), &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
						       .size = 4096 }, -ELOOP);
}
END_TEST

/* An open that fails after creating the target removes the target it
 * created, never the link. */
START_TEST(test_failed_create_through_symlink_removes_the_target_not_the_link)
{
	size_t ps = page();
	unsigned char *addr = free_range(1 << 20);
	unsigned char *mine = mmap(addr, ps, PROT_READ,
				   MAP_PRIVATE | MAP_ANONYMOUS |
					   MAP_FIXED_NOREPLACE, -1, 0);

	ck_assert_ptr_eq(mine, addr);
	ck_assert_int_eq(symlink("target", t_path("link")), 0);
	open_fails(t_path("link"), &(mmds_map_opts){
			   .flags = MMDS_MAP_CREATE | MMDS_MAP_FIXED,
			   .addr = addr, .size = 4096,
			   .capacity = 1 << 20 }, -EEXIST);
	ck_assert(is_symlink(t_path("link")));
	ck_assert(!exists(t_path("target")));
	munmap(mine, ps);
}
END_TEST

/* NOFOLLOW: the last component must not be a link; nothing is created,
 * grown or truncated through one. */
START_TEST(test_nofollow_refuses_a_symlink_with_eloop)
{
	const char *f = make_file("real", 100);
	char real[PATH_MAX], link[PATH_MAX];
	const unsigned flags[] = {
		0,
		MMDS_MAP_CREATE,
		MMDS_MAP_CREATE | MMDS_MAP_EXCL,
		MMDS_MAP_CREATE | MMDS_MAP_TRUNCATE,
		MMDS_MAP_TRUNCATE,
	};
	size_t len;
	unsigned char *content;

	snprintf(real, sizeof(real), "%s", f);
	snprintf(link, sizeof(link), "%s", t_path("planted"));
	ck_assert_int_eq(symlink(real, link), 0);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		open_fails(link, &(mmds_map_opts){
				   .flags = flags[i] | MMDS_MAP_NOFOLLOW,
				   .size = 1 << 20 }, -ELOOP);
		open_fails(link, &(mmds_map_opts){
				   .access = MMDS_READ,
				   .flags = (flags[i] & ~(MMDS_MAP_CREATE |
							  MMDS_MAP_EXCL |
							  MMDS_MAP_TRUNCATE)) |
					    MMDS_MAP_NOFOLLOW }, -ELOOP);
	}
	/* The target is untouched: same size, same bytes. */
	ck_assert_int_eq(t_file_size(real), 100);
	content = t_read_file(real, &len);
	ck_assert_uint_eq(len, 100);
	ck_assert_pattern(content, 0, 100);
	free(content);

	/* A dangling link: -ELOOP too, and nothing is created. */
	ck_assert_int_eq(symlink("nothing", t_path("dangling")), 0);
	open_fails(t_path("dangling"), &(mmds_map_opts){
			   .flags = MMDS_MAP_CREATE | MMDS_MAP_NOFOLLOW,
			   .size = 4096 }, -ELOOP);
	ck_assert(!exists(t_path("nothing")));
	ck_assert(is_symlink(t_path("dangling")));
}
END_TEST

START_TEST(test_nofollow_opens_and_creates_plain_files)
{
	const char *f = make_file("plain", 4096);
	mmds_map *m;

	m = open_ok(f, &(mmds_map_opts){ .flags = MMDS_MAP_NOFOLLOW });
	ck_assert_uint_eq(mmds_map_size(m), 4096);
	close_ok(m);
	m = open_ok(t_path("new"), &(mmds_map_opts){
			    .flags = MMDS_MAP_CREATE | MMDS_MAP_NOFOLLOW,
			    .size = 4096 });
	ck_assert_int_eq(t_file_size(t_path("new")), 4096);
	close_ok(m);
	/* A link in a directory component is followed: only the last
	 * component counts. */
	ck_assert_int_eq(mkdir(t_path("d"), 0700), 0);
	ck_assert_int_eq(symlink("d", t_path("dlink")), 0);
	m = open_ok(t_path("dlink/x"), &(mmds_map_opts){
			    .flags = MMDS_MAP_CREATE | MMDS_MAP_NOFOLLOW,
			    .size = 4096 });
	ck_assert_int_eq(t_file_size(t_path("d/x")), 4096);
	close_ok(m);
	/* Path-only: not for fd or anonymous maps. */
	{
		int fd = open(f, O_RDWR | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		open_fd_fails(fd, &(mmds_map_opts){ .flags = MMDS_MAP_NOFOLLOW },
			      -EINVAL);
		close(fd);
	}
	anon_fails(&(mmds_map_opts){ .flags = MMDS_MAP_NOFOLLOW, .size = 4096 },
		   -EINVAL);
}
END_TEST

START_TEST(test_excl_without_create_is_einval)
{
	const char *p = make_file("f", 4096);

	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_EXCL }, -EINVAL);
	open_fails(t_path("missing"), &(mmds_map_opts){ .flags = MMDS_MAP_EXCL },
		   -EINVAL);
}
END_TEST

START_TEST(test_read_access_with_create_or_truncate_is_einval)
{
	const char *p = make_file("f", 4096);

	open_fails(p, &(mmds_map_opts){ .access = MMDS_READ,
					.flags = MMDS_MAP_CREATE }, -EINVAL);
	open_fails(p, &(mmds_map_opts){ .access = MMDS_READ,
					.flags = MMDS_MAP_TRUNCATE }, -EINVAL);
	open_fails(t_path("new"), &(mmds_map_opts){ .access = MMDS_READ,
		.flags = MMDS_MAP_CREATE, .size = 10 }, -EINVAL);
	/* Nothing happened to the files. */
	ck_assert_int_eq(t_file_size(p), 4096);
	ck_assert_int_eq(access(t_path("new"), F_OK), -1);
}
END_TEST

START_TEST(test_truncate_empties_existing_file)
{
	const char *p = make_file("f", 10000);
	unsigned char buf[50], zero[50] = { 0 };
	mmds_map *m;

	m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_TRUNCATE });
	ck_assert_uint_eq(mmds_map_size(m), 0);
	ck_assert_int_eq(t_file_size(p), 0);
	close_ok(m);

	t_write_file(p, "old contents", 12);
	m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_TRUNCATE, .size = 50 });
	ck_assert_uint_eq(mmds_map_size(m), 50);
	ck_assert_int_eq(t_file_size(p), 50);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 50), 0);
	ck_assert_mem_eq(buf, zero, 50);
	close_ok(m);
}
END_TEST

START_TEST(test_unknown_flags_or_access_is_einval)
{
	const char *p = make_file("f", 4096);

	open_fails(p, &(mmds_map_opts){ .flags = 1u << 20 }, -EINVAL);
	open_fails(p, &(mmds_map_opts){ .flags = 1u << 31 }, -EINVAL);
	open_fails(p, &(mmds_map_opts){ .access = 4 }, -EINVAL);
	open_fails(p, &(mmds_map_opts){ .access = 7 }, -EINVAL);
	open_fails(p, &(mmds_map_opts){ .access = 0xffffffffu }, -EINVAL);
	anon_fails(&(mmds_map_opts){ .size = 4096, .flags = 1u << 20 }, -EINVAL);
	anon_fails(&(mmds_map_opts){ .size = 4096, .access = 4 }, -EINVAL);
}
END_TEST

START_TEST(test_null_out_or_path_is_einval)
{
	const char *p = make_file("f", 4096);
	mmds_map *m = NOT_NULL_MAP;
	int fd;

	ck_assert_int_eq(mmds_map_open(NULL, p, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_open(&m, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(m);
	m = NOT_NULL_MAP;
	ck_assert_int_eq(mmds_map_open(&m, NULL,
				       &(mmds_map_opts){ .flags = MMDS_MAP_CREATE }),
			 -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(mmds_map_open_anon(NULL, &(mmds_map_opts){ .size = 1 }),
			 -EINVAL);
	fd = open(p, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mmds_map_open_fd(NULL, fd, NULL), -EINVAL);
	close(fd);
}
END_TEST

START_TEST(test_close_null_is_zero)
{
	ck_assert_int_eq(mmds_map_close(NULL), 0);
}
END_TEST

START_TEST(test_open_offset_plus_size_overflow_is_erange)
{
	const char *p = make_file("f", 4096);

	open_fails(p, &(mmds_map_opts){ .offset = UINT64_MAX, .size = 2 },
		   -ERANGE);
	open_fails(p, &(mmds_map_opts){ .offset = UINT64_MAX - 4095,
					.size = UINT64_MAX - 4095 }, -ERANGE);
	ck_assert_int_eq(t_file_size(p), 4096);
}
END_TEST

START_TEST(test_open_capacity_below_size_is_einval)
{
	const char *p = make_file("f", 8192);

	open_fails(p, &(mmds_map_opts){ .size = 8192, .capacity = 4096 },
		   -EINVAL);
	anon_fails(&(mmds_map_opts){ .size = 8192, .capacity = 4096 }, -EINVAL);
}
END_TEST

START_TEST(test_open_writable_grows_short_file_with_space_allocated)
{
	const char *p = make_file("f", 1000);
	unsigned char buf[1000];
	struct stat st;
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .size = 1 << 20 });

	ck_assert_uint_eq(mmds_map_size(m), 1 << 20);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_size, 1 << 20);
	/* "disk space allocated": the blocks exist, it is not a sparse hole. */
	ck_assert_int_ge((long long)st.st_blocks * 512, 1 << 20);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, sizeof(buf)), 0);
	ck_assert_pattern(buf, 0, sizeof(buf));
	close_ok(m);
}
END_TEST

START_TEST(test_open_directory_fails)
{
	int rc;
	mmds_map *m = NOT_NULL_MAP;

	rc = mmds_map_open(&m, t_tmpdir(), &(mmds_map_opts){ .access = MMDS_READ });
	ck_assert_int_lt(rc, 0);
	ck_assert_ptr_null(m);
}
END_TEST

/* ---- zero-length file ------------------------------------------------------ */

START_TEST(test_zero_length_file_opens_as_empty_map)
{
	const char *p = make_file("empty", 0);
	unsigned char buf[16] = { 0 };
	mmds_map *m = open_ok(p, NULL);

	ck_assert_uint_eq(mmds_map_size(m), 0);
	ck_assert_ptr_nonnull(mmds_map_data(m));
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 0), 0);
	ck_assert_int_eq(mmds_map_write(m, 0, buf, 0), 0);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_write(m, 0, buf, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, 1, buf, 0), -ERANGE);
	ck_assert_int_eq(mmds_map_store32(m, 0, 1), -ERANGE);
	ck_assert_ptr_null(mmds_map_ptr(m, 0, 1));
	close_ok(m);

	/* Read-only too. */
	m = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ });
	ck_assert_uint_eq(mmds_map_size(m), 0);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 1), -ERANGE);
	close_ok(m);
}
END_TEST

START_TEST(test_zero_length_file_grows_by_resize)
{
	const char *p = make_file("empty", 0);
	unsigned char buf[100], zero[100] = { 0 };
	mmds_map *m = open_ok(p, NULL);
	void *base = mmds_map_data(m);

	ck_assert_int_eq(mmds_map_resize(m, 100), 0);
	ck_assert_uint_eq(mmds_map_size(m), 100);
	ck_assert_int_eq(t_file_size(p), 100);
	ck_assert_ptr_eq(mmds_map_data(m), base);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 100), 0);
	ck_assert_mem_eq(buf, zero, 100);
	ck_assert_int_eq(mmds_map_write(m, 95, "grown", 5), 0);
	pread_file(p, 95, buf, 5);
	ck_assert_mem_eq(buf, "grown", 5);
	close_ok(m);
}
END_TEST

/* ---- windows at unaligned offsets ------------------------------------------ */

#define WFILE 65536u

START_TEST(test_window_at_unaligned_offset_reads_its_bytes)
{
	static const uint64_t offs[] = { 4097, 12345 };
	const char *p = make_file("f", WFILE);
	unsigned char buf[8000];

	for (size_t i = 0; i < 2; i++) {
		mmds_map_info info;
		mmds_map *m = open_ok(p, &(mmds_map_opts){
			.access = MMDS_READ, .offset = offs[i], .size = 8000 });

		ck_assert_uint_eq(mmds_map_size(m), 8000);
		ck_assert_int_eq(mmds_map_read(m, 0, buf, sizeof(buf)), 0);
		ck_assert_pattern(buf, offs[i], sizeof(buf));
		/* The raw pointer sees the same bytes. */
		ck_assert_pattern(mmds_map_data(m), offs[i], 8000);
		ck_assert_int_eq(mmds_map_read(m, 7990, buf, 10), 0);
		ck_assert_pattern(buf, offs[i] + 7990, 10);
		ck_assert_int_eq(mmds_map_read(m, 7990, buf, 11), -ERANGE);
		ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
		ck_assert_uint_eq(info.offset, offs[i]);
		close_ok(m);
	}
}
END_TEST

START_TEST(test_window_writes_land_at_offset_in_file)
{
	static const uint64_t offs[] = { 4097, 12345 };
	const char *p = make_file("f", WFILE);
	unsigned char buf[8];

	for (size_t i = 0; i < 2; i++) {
		uint64_t o = offs[i];
		mmds_map *m = open_ok(p, &(mmds_map_opts){ .offset = o,
							   .size = 8000 });

		ck_assert_int_eq(mmds_map_write(m, 0, "HEAD", 4), 0);
		ck_assert_int_eq(mmds_map_write(m, 100, "MIDDLE", 6), 0);
		ck_assert_int_eq(mmds_map_write(m, 7996, "TAIL", 4), 0);
		pread_file(p, o, buf, 4);
		ck_assert_mem_eq(buf, "HEAD", 4);
		pread_file(p, o + 100, buf, 6);
		ck_assert_mem_eq(buf, "MIDDLE", 6);
		pread_file(p, o + 7996, buf, 4);
		ck_assert_mem_eq(buf, "TAIL", 4);
		/* Neighbours outside the window are untouched. */
		pread_file(p, o - 1, buf, 1);
		ck_assert_pattern(buf, o - 1, 1);
		pread_file(p, o + 8000, buf, 1);
		ck_assert_pattern(buf, o + 8000, 1);
		ck_assert_int_eq(t_file_size(p), WFILE);
		close_ok(m);
		/* Put the pattern back for the next offset. */
		make_file("f", WFILE);
	}
}
END_TEST

START_TEST(test_window_of_size_zero_reaches_end_of_file)
{
	const char *p = make_file("f", WFILE);
	unsigned char buf[16];
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ,
						   .offset = 12345 });

	ck_assert_uint_eq(mmds_map_size(m), WFILE - 12345);
	ck_assert_int_eq(mmds_map_read(m, WFILE - 12345 - 16, buf, 16), 0);
	ck_assert_pattern(buf, WFILE - 16, 16);
	ck_assert_int_eq(mmds_map_read(m, WFILE - 12345 - 15, buf, 16), -ERANGE);
	close_ok(m);

	m = open_ok(p, &(mmds_map_opts){ .offset = 4097 });
	ck_assert_uint_eq(mmds_map_size(m), WFILE - 4097);
	close_ok(m);
	ck_assert_int_eq(t_file_size(p), WFILE);
}
END_TEST

START_TEST(test_read_only_window_beyond_end_is_erange)
{
	const char *p = make_file("f", WFILE);

	open_fails(p, &(mmds_map_opts){ .access = MMDS_READ, .offset = 60000,
					.size = 8000 }, -ERANGE);
	open_fails(p, &(mmds_map_opts){ .access = MMDS_READ, .size = WFILE + 1 },
		   -ERANGE);
	open_fails(p, &(mmds_map_opts){ .access = MMDS_READ, .offset = WFILE + 1 },
		   -ERANGE);
	ck_assert_int_eq(t_file_size(p), WFILE);
}
END_TEST

START_TEST(test_writable_window_beyond_end_grows_file)
{
	const char *p = make_file("f", WFILE);
	unsigned char buf[64];
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .offset = 60001,
						   .size = 8000 });

	ck_assert_uint_eq(mmds_map_size(m), 8000);
	ck_assert_int_eq(t_file_size(p), 68001);
	/* The old bytes of the window are there, the new ones are zero. */
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 64), 0);
	ck_assert_pattern(buf, 60001, 64);
	ck_assert_int_eq(mmds_map_read(m, 7936, buf, 64), 0);
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(buf[i], 0);
	close_ok(m);
}
END_TEST

START_TEST(test_window_atomics_align_by_absolute_address)
{
	const char *p = make_file("f", WFILE);
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .offset = 12345,
						   .size = 4096 });
	uintptr_t base = (uintptr_t)mmds_map_data(m);
	uint64_t v, fv;
	uint32_t w, fw;

	/* The base is aligned as the file offset is. */
	ck_assert_uint_eq(base % page(), 12345 % page());
	ck_assert_int_eq(mmds_map_store64(m, 0, 1), -EINVAL);
	/* 12345 + 7 is a multiple of 8. */
	ck_assert_int_eq(mmds_map_store64(m, 7, 0x1122334455667788ull), 0);
	ck_assert_int_eq(mmds_map_load64(m, 7, &v), 0);
	ck_assert_uint_eq(v, 0x1122334455667788ull);
	pread_file(p, 12345 + 7, &fv, 8);
	ck_assert_uint_eq(fv, 0x1122334455667788ull);
	/* 12345 + 3 is a multiple of 4. */
	ck_assert_int_eq(mmds_map_store32(m, 0, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_add32(m, 3, 5, NULL), 0);
	pread_file(p, 12345 + 3, &fw, 4);
	ck_assert_int_eq(mmds_map_load32(m, 3, &w), 0);
	ck_assert_uint_eq(w, fw);
	close_ok(m);
}
END_TEST

/* ---- bounds and access modes ----------------------------------------------- */

START_TEST(test_read_beyond_end_is_erange)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[200], junk[200];
	mmds_map *m = open_ok(p, NULL);

	memset(junk, 0xEE, sizeof(junk));
	memcpy(buf, junk, sizeof(buf));
	ck_assert_int_eq(mmds_map_read(m, 4000, buf, 200), -ERANGE);
	ck_assert_mem_eq(buf, junk, sizeof(buf)); /* nothing copied */
	ck_assert_int_eq(mmds_map_read(m, 4096, buf, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, 4000, buf, 96), 0);
	ck_assert_pattern(buf, 4000, 96);
	/* A write that does not fit writes nothing. */
	ck_assert_int_eq(mmds_map_write(m, 4000, junk, 200), -ERANGE);
	pread_file(p, 3990, buf, 106);
	ck_assert_pattern(buf, 3990, 106);
	ck_assert_int_eq(t_file_size(p), 4096);
	close_ok(m);
}
END_TEST

START_TEST(test_offset_overflow_is_erange)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[16];
	uint64_t v = 0;
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_read(m, UINT64_MAX, buf, 2), -ERANGE);
	ck_assert_int_eq(mmds_map_write(m, UINT64_MAX, buf, 2), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, 4096, buf, SIZE_MAX), -ERANGE);
	ck_assert_int_eq(mmds_map_write(m, 4096, buf, SIZE_MAX), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, 1, buf, SIZE_MAX), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, UINT64_MAX - 1, buf, 2), -ERANGE);
	ck_assert_ptr_null(mmds_map_ptr(m, UINT64_MAX, 2));
	ck_assert_ptr_null(mmds_map_ptr(m, 1, UINT64_MAX));
	ck_assert_int_eq(mmds_map_load64(m, UINT64_MAX - 7, &v), -ERANGE);
	ck_assert_int_eq(mmds_map_add64(m, UINT64_MAX - 7, 1, NULL), -ERANGE);
	ck_assert_int_eq(mmds_map_add32(m, UINT64_MAX - 3, 1, NULL), -ERANGE);
	ck_assert_int_eq(mmds_map_sync_range(m, UINT64_MAX, 2, MMDS_SYNC_SYNC),
			 -ERANGE);
	ck_assert_int_eq(mmds_map_advise(m, UINT64_MAX, 2, MMDS_ADV_NORMAL),
			 -ERANGE);
	ck_assert_int_eq(mmds_map_writev(m, 4000,
					 (struct iovec[]){
						 { buf, 16 },
						 { buf, SIZE_MAX },
					 }, 2),
			 -ERANGE);
	pread_file(p, 0, buf, 16);
	ck_assert_pattern(buf, 0, 16);
	close_ok(m);
}
END_TEST

START_TEST(test_zero_length_access_at_size_is_ok_beyond_is_erange)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[1];
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_read(m, 4096, buf, 0), 0);
	ck_assert_int_eq(mmds_map_write(m, 4096, buf, 0), 0);
	ck_assert_int_eq(mmds_map_read(m, 4096, NULL, 0), 0);
	ck_assert_int_eq(mmds_map_write(m, 0, NULL, 0), 0);
	ck_assert_int_eq(mmds_map_writev(m, 4096, NULL, 0), 0);
	ck_assert_int_eq(mmds_map_read(m, 4097, buf, 0), -ERANGE);
	ck_assert_int_eq(mmds_map_write(m, 4097, buf, 0), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, UINT64_MAX, buf, 0), -ERANGE);
	close_ok(m);
}
END_TEST

START_TEST(test_write_on_read_only_map_is_eacces)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[8] = "XXXXXXXX";
	uint64_t v = 7;
	uint32_t w = 7;
	mmds_cursor c;
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ });

	ck_assert_int_eq(mmds_map_write(m, 0, buf, 8), -EACCES);
	ck_assert_int_eq(mmds_map_writev(m, 0, (struct iovec[]){ { buf, 8 } }, 1),
			 -EACCES);
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_write(&c, buf, 8), -EACCES);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 0);
	ck_assert_int_eq(mmds_map_store64(m, 0, 1), -EACCES);
	ck_assert_int_eq(mmds_map_store32(m, 0, 1), -EACCES);
	ck_assert_int_eq(mmds_map_add64(m, 0, 1, NULL), -EACCES);
	ck_assert_int_eq(mmds_map_xchg32(m, 0, 1, NULL), -EACCES);
	ck_assert_int_eq(mmds_map_cas64(m, 0, &v, 1), -EACCES);
	ck_assert_int_eq(mmds_map_cas32(m, 0, &w, 1), -EACCES);
	ck_assert_int_eq(mmds_map_resize(m, 8192), -EACCES);
	/* Reads work, and nothing was written. */
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 8), 0);
	ck_assert_pattern(buf, 0, 8);
	ck_assert_int_eq(mmds_map_load64(m, 0, &v), 0);
	ck_assert_int_eq(t_file_size(p), 4096);
	close_ok(m);
}
END_TEST

START_TEST(test_read_on_write_only_map_is_eacces)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[16];
	char line[16];
	uint64_t v = 0, fv;
	uint32_t w = 0;
	mmds_cursor c;
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .access = MMDS_WRITE });

	memset(buf, 0xEE, sizeof(buf));
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 8), -EACCES);
	ck_assert_uint_eq(buf[0], 0xEE);
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, 8), -EACCES);
	ck_assert_int_eq(mmds_cursor_read_line(&c, line, sizeof(line)), -EACCES);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 0);
	ck_assert_int_eq(mmds_map_load64(m, 0, &v), -EACCES);
	ck_assert_int_eq(mmds_map_load32(m, 0, &w), -EACCES);
	/* Read-modify-writes need both. */
	ck_assert_int_eq(mmds_map_add64(m, 0, 1, NULL), -EACCES);
	ck_assert_int_eq(mmds_map_or32(m, 0, 1, NULL), -EACCES);
	ck_assert_int_eq(mmds_map_cas64(m, 0, &v, 1), -EACCES);
	ck_assert_int_eq(mmds_map_cas32(m, 0, &w, 1), -EACCES);
	pread_file(p, 0, buf, 16);
	ck_assert_pattern(buf, 0, 16);
	/* Writes and stores work and reach the file. */
	ck_assert_int_eq(mmds_map_write(m, 100, "written", 7), 0);
	ck_assert_int_eq(mmds_map_store64(m, 8, 0xA5A5A5A5DEADBEEFull), 0);
	ck_assert_int_eq(mmds_cursor_write(&c, "cur", 3), 3);
	pread_file(p, 100, buf, 7);
	ck_assert_mem_eq(buf, "written", 7);
	pread_file(p, 8, &fv, 8);
	ck_assert_uint_eq(fv, 0xA5A5A5A5DEADBEEFull);
	pread_file(p, 0, buf, 3);
	ck_assert_mem_eq(buf, "cur", 3);
	close_ok(m);
}
END_TEST

START_TEST(test_null_buffer_with_length_is_einval)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[4];
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_read(m, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_write(m, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_read(NULL, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_write(NULL, 0, buf, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_writev(NULL, 0, NULL, 0), -EINVAL);
	pread_file(p, 0, buf, 4);
	ck_assert_pattern(buf, 0, 4);
	close_ok(m);
}
END_TEST

/* ---- writev ---------------------------------------------------------------- */

START_TEST(test_writev_writes_buffers_back_to_back)
{
	const char *p = make_file("f", 4096);
	char got[32], a[] = "alpha-", b[] = "beta-", c[] = "gamma";
	struct iovec iov[4] = {
		{ a, 6 }, { NULL, 0 }, { b, 5 }, { c, 5 },
	};
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_writev(m, 1000, iov, 4), 0);
	ck_assert_int_eq(mmds_map_read(m, 1000, got, 16), 0);
	ck_assert_mem_eq(got, "alpha-beta-gamma", 16);
	pread_file(p, 1000, got, 16);
	ck_assert_mem_eq(got, "alpha-beta-gamma", 16);
	/* Bytes around the range are untouched. */
	pread_file(p, 999, got, 1);
	ck_assert_pattern(got, 999, 1);
	pread_file(p, 1016, got, 1);
	ck_assert_pattern(got, 1016, 1);
	/* Up to the very end. */
	ck_assert_int_eq(mmds_map_writev(m, 4096 - 16, iov, 4), 0);
	pread_file(p, 4096 - 16, got, 16);
	ck_assert_mem_eq(got, "alpha-beta-gamma", 16);
	/* iovcnt 0 writes nothing and succeeds. */
	ck_assert_int_eq(mmds_map_writev(m, 0, iov, 0), 0);
	pread_file(p, 0, got, 4);
	ck_assert_pattern(got, 0, 4);
	close_ok(m);
}
END_TEST

START_TEST(test_writev_out_of_range_writes_nothing)
{
	const char *p = make_file("f", 4096);
	unsigned char a[50], b[150], got[96];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	mmds_map *m = open_ok(p, NULL);

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	/* The first buffer would fit, the second not: nothing is written. */
	ck_assert_int_eq(mmds_map_writev(m, 4000, iov, 2), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, 4000, got, 96), 0);
	ck_assert_pattern(got, 4000, 96);
	pread_file(p, 4000, got, 96);
	ck_assert_pattern(got, 4000, 96);
	/* The whole sum counts, not one buffer: 150 + 1 bytes at 4000 do not
	 * fit although the last buffer alone would. */
	iov[0] = (struct iovec){ b, sizeof(b) };
	iov[1] = (struct iovec){ a, 1 };
	ck_assert_int_eq(mmds_map_writev(m, 4000, iov, 2), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, 4000, got, 96), 0);
	ck_assert_pattern(got, 4000, 96);
	ck_assert_int_eq(t_file_size(p), 4096);
	close_ok(m);
}
END_TEST

START_TEST(test_writev_bad_iov_arguments_are_einval)
{
	const char *p = make_file("f", 4096);
	char x[] = "x";
	struct iovec iov[1] = { { x, 1 } };
	unsigned char got[4];
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_writev(m, 0, iov, -1), -EINVAL);
	ck_assert_int_eq(mmds_map_writev(m, 0, iov, INT_MIN), -EINVAL);
	ck_assert_int_eq(mmds_map_writev(m, 0, NULL, 1), -EINVAL);
	pread_file(p, 0, got, 4);
	ck_assert_pattern(got, 0, 4);
	close_ok(m);
}
END_TEST

/* ---- raw pointers ---------------------------------------------------------- */

START_TEST(test_ptr_is_inside_map_or_null)
{
	const char *p = make_file("f", 4096);
	mmds_map *m = open_ok(p, NULL);
	unsigned char *d = mmds_map_data(m);

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_eq(mmds_map_ptr(m, 0, 4096), d);
	ck_assert_ptr_eq(mmds_map_ptr(m, 10, 5), d + 10);
	ck_assert_ptr_eq(mmds_map_ptr(m, 4095, 1), d + 4095);
	ck_assert_ptr_null(mmds_map_ptr(m, 4095, 2));
	ck_assert_ptr_null(mmds_map_ptr(m, 0, 4097));
	ck_assert_ptr_null(mmds_map_ptr(m, 4097, 0));
	ck_assert_ptr_null(mmds_map_ptr(NULL, 0, 1));
	ck_assert_ptr_null(mmds_map_data(NULL));
	ck_assert_uint_eq(mmds_map_size(NULL), 0);
	ck_assert_int_eq(mmds_map_fd(NULL), -1);
	/* Pointer and API see the same bytes, both ways. */
	ck_assert_pattern(d, 0, 4096);
	memcpy(mmds_map_ptr(m, 200, 4), "PTR!", 4);
	{
		char got[4];

		ck_assert_int_eq(mmds_map_read(m, 200, got, 4), 0);
		ck_assert_mem_eq(got, "PTR!", 4);
		pread_file(p, 200, got, 4);
		ck_assert_mem_eq(got, "PTR!", 4);
	}
	close_ok(m);
}
END_TEST

START_TEST(test_data_unchanged_across_grow_and_shrink)
{
	const char *p = make_file("f", 4096);
	mmds_map *m = open_ok(p, NULL);
	unsigned char *d = mmds_map_data(m);

	ck_assert_int_eq(mmds_map_resize(m, 8 << 20), 0);
	ck_assert_ptr_eq(mmds_map_data(m), d);
	ck_assert_ptr_eq(mmds_map_ptr(m, (8 << 20) - 1, 1), d + (8 << 20) - 1);
	d[(8 << 20) - 1] = 0x77; /* the grown range is writable in place */
	ck_assert_pattern(d, 0, 4096);
	ck_assert_int_eq(mmds_map_resize(m, 100), 0);
	ck_assert_ptr_eq(mmds_map_data(m), d);
	ck_assert_pattern(d, 0, 100);
	ck_assert_ptr_eq(mmds_map_ptr(m, 99, 1), d + 99);
	ck_assert_ptr_null(mmds_map_ptr(m, 100, 1));
	ck_assert_ptr_null(mmds_map_ptr(m, 4000, 1));
	ck_assert_int_eq(mmds_map_resize(m, 1 << 20), 0);
	ck_assert_ptr_eq(mmds_map_data(m), d);
	ck_assert_pattern(d, 0, 100);
	close_ok(m);
}
END_TEST

/* ---- cursors --------------------------------------------------------------- */

START_TEST(test_cursor_read_is_short_at_end_then_zero)
{
	const char *p = t_path("f");
	unsigned char buf[100];
	mmds_cursor c;
	mmds_map *m;

	t_write_file(p, "0123456789", 10);
	m = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ });
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 0);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, 4), 4);
	ck_assert_mem_eq(buf, "0123", 4);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 4);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, 100), 6);
	ck_assert_mem_eq(buf, "456789", 6);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 10);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, 5), 0);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 10);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, 0), 0);
	ck_assert_int_eq(mmds_cursor_seek(&c, 0, SEEK_SET), 0);
	ck_assert_int_eq(mmds_cursor_read(&c, NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_cursor_read(NULL, buf, 1), -EINVAL);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 0);
	ck_assert_int_eq(mmds_cursor_init(NULL, m), -EINVAL);
	ck_assert_int_eq(mmds_cursor_init(&c, NULL), -EINVAL);
	close_ok(m);
}
END_TEST

START_TEST(test_cursor_read_line_with_and_without_final_newline)
{
	const char *p = t_path("f");
	char buf[64];
	mmds_cursor c;
	mmds_map *m;

	t_write_file(p, "line one\n\nline two\nlast", 23);
	m = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ });
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, sizeof(buf)), 9);
	ck_assert_str_eq(buf, "line one\n");
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, sizeof(buf)), 1);
	ck_assert_str_eq(buf, "\n");
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, sizeof(buf)), 9);
	ck_assert_str_eq(buf, "line two\n");
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, sizeof(buf)), 4);
	ck_assert_str_eq(buf, "last");
	ck_assert_uint_eq(mmds_cursor_tell(&c), 23);
	buf[0] = 'x';
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	close_ok(m);

	/* Ending in a newline: no empty extra line. */
	t_write_file(p, "a\nb\n", 4);
	m = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ });
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "a\n");
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, sizeof(buf)), 2);
	ck_assert_str_eq(buf, "b\n");
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, sizeof(buf)), 0);
	ck_assert_int_eq(mmds_cursor_read_line(&c, NULL, 10), -EINVAL);
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, 0), -EINVAL);
	close_ok(m);
}
END_TEST

START_TEST(test_cursor_read_line_enobufs_keeps_position_and_fits_exactly)
{
	const char *p = t_path("f");
	char buf[16];
	mmds_cursor c;
	mmds_map *m;

	t_write_file(p, "abcdef\nxy", 9);
	m = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ });
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	/* "abcdef\n" plus the NUL needs 8 bytes. */
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, 7), -ENOBUFS);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 0);
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, 3), -ENOBUFS);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 0);
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, 8), 7);
	ck_assert_str_eq(buf, "abcdef\n");
	ck_assert_uint_eq(mmds_cursor_tell(&c), 7);
	/* Last line without newline: "xy" plus the NUL needs 3. */
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, 2), -ENOBUFS);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 7);
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, 1), -ENOBUFS);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 7);
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, 3), 2);
	ck_assert_str_eq(buf, "xy");
	ck_assert_uint_eq(mmds_cursor_tell(&c), 9);
	ck_assert_int_eq(mmds_cursor_read_line(&c, buf, 1), 0);
	ck_assert_str_eq(buf, "");
	close_ok(m);
}
END_TEST

START_TEST(test_cursor_seek_set_cur_end_and_errors)
{
	const char *p = make_file("f", 100);
	unsigned char b;
	mmds_cursor c;
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_seek(&c, 10, SEEK_SET), 10);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 10);
	ck_assert_int_eq(mmds_cursor_read(&c, &b, 1), 1);
	ck_assert_uint_eq(b, pat(10));
	ck_assert_int_eq(mmds_cursor_seek(&c, -3, SEEK_CUR), 8);
	ck_assert_int_eq(mmds_cursor_seek(&c, 5, SEEK_CUR), 13);
	ck_assert_int_eq(mmds_cursor_seek(&c, 0, SEEK_END), 100);
	ck_assert_int_eq(mmds_cursor_seek(&c, -1, SEEK_END), 99);
	ck_assert_int_eq(mmds_cursor_read(&c, &b, 1), 1);
	ck_assert_uint_eq(b, pat(99));
	ck_assert_uint_eq(mmds_cursor_tell(&c), 100);
	ck_assert_int_eq(mmds_cursor_seek(&c, 100, SEEK_SET), 100);
	ck_assert_int_eq(mmds_cursor_seek(&c, 20, SEEK_SET), 20);

	/* Errors leave the position alone. */
	ck_assert_int_eq(mmds_cursor_seek(&c, -1, SEEK_SET), -EINVAL);
	ck_assert_int_eq(mmds_cursor_seek(&c, -21, SEEK_CUR), -EINVAL);
	ck_assert_int_eq(mmds_cursor_seek(&c, -101, SEEK_END), -EINVAL);
	ck_assert_int_eq(mmds_cursor_seek(&c, INT64_MIN, SEEK_END), -EINVAL);
	ck_assert_int_eq(mmds_cursor_seek(&c, 101, SEEK_SET), -ERANGE);
	ck_assert_int_eq(mmds_cursor_seek(&c, 81, SEEK_CUR), -ERANGE);
	ck_assert_int_eq(mmds_cursor_seek(&c, 1, SEEK_END), -ERANGE);
	ck_assert_int_eq(mmds_cursor_seek(&c, INT64_MAX, SEEK_CUR), -ERANGE);
	ck_assert_int_eq(mmds_cursor_seek(&c, INT64_MAX, SEEK_END), -ERANGE);
	ck_assert_int_eq(mmds_cursor_seek(&c, 0, 3), -EINVAL);
	ck_assert_int_eq(mmds_cursor_seek(&c, 0, -1), -EINVAL);
	ck_assert_int_eq(mmds_cursor_seek(NULL, 0, SEEK_SET), -EINVAL);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 20);
	close_ok(m);
}
END_TEST

START_TEST(test_cursor_write_never_grows_map)
{
	const char *p = make_file("f", 10);
	unsigned char buf[10];
	mmds_cursor c;
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_write(&c, "ab", 2), 2);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 2);
	ck_assert_int_eq(mmds_cursor_seek(&c, 8, SEEK_SET), 8);
	ck_assert_int_eq(mmds_cursor_write(&c, "XYZ", 3), -ERANGE);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 8);
	ck_assert_uint_eq(mmds_map_size(m), 10);
	ck_assert_int_eq(t_file_size(p), 10);
	pread_file(p, 8, buf, 2);
	ck_assert_pattern(buf, 8, 2); /* nothing written */
	ck_assert_int_eq(mmds_cursor_write(&c, "YZ", 2), 2);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 10);
	ck_assert_int_eq(mmds_cursor_write(&c, "!", 1), -ERANGE);
	ck_assert_int_eq(mmds_cursor_write(&c, "", 0), 0);
	ck_assert_int_eq(mmds_cursor_seek(&c, 0, SEEK_SET), 0);
	ck_assert_int_eq(mmds_cursor_write(&c, NULL, 1), -EINVAL);
	ck_assert_uint_eq(mmds_cursor_tell(&c), 0);
	pread_file(p, 0, buf, 10);
	ck_assert_mem_eq(buf, "ab", 2);
	ck_assert_pattern(buf + 2, 2, 6);
	ck_assert_mem_eq(buf + 8, "YZ", 2);
	ck_assert_uint_eq(mmds_map_size(m), 10);
	close_ok(m);
}
END_TEST

START_TEST(test_cursor_after_shrink_reads_nothing)
{
	const char *p = make_file("f", 8192);
	unsigned char buf[16];
	mmds_cursor c;
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_seek(&c, 6000, SEEK_SET), 6000);
	ck_assert_int_eq(mmds_map_resize(m, 4096), 0);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, sizeof(buf)), 0);
	ck_assert_int_eq(mmds_cursor_write(&c, buf, 1), -ERANGE);
	ck_assert_int_eq(mmds_cursor_seek(&c, 4090, SEEK_SET), 4090);
	ck_assert_int_eq(mmds_cursor_read(&c, buf, sizeof(buf)), 6);
	ck_assert_pattern(buf, 4090, 6);
	close_ok(m);
}
END_TEST

/* ---- atomics --------------------------------------------------------------- */

/* Run every read-modify-write of one width on word off of m and check the
 * old value each returns and the new value a load then sees; the words
 * around it keep their sentinels. */
#define CHECK_ATOMIC_OPS(bits, m, off, A, B, C, D, E, F, G)                    \
	do {                                                                   \
		uint##bits##_t cur_, old_, got_, exp_;                         \
		ck_assert_int_eq(mmds_map_store##bits(m, off, A), 0);          \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, A);                                    \
		cur_ = A;                                                      \
		ck_assert_int_eq(mmds_map_add##bits(m, off, B, &old_), 0);     \
		ck_assert_uint_eq(old_, cur_);                                 \
		cur_ = (uint##bits##_t)(cur_ + B);                             \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, cur_);                                 \
		ck_assert_int_eq(mmds_map_sub##bits(m, off, C, &old_), 0);     \
		ck_assert_uint_eq(old_, cur_);                                 \
		cur_ = (uint##bits##_t)(cur_ - C);                             \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, cur_);                                 \
		ck_assert_int_eq(mmds_map_and##bits(m, off, D, &old_), 0);     \
		ck_assert_uint_eq(old_, cur_);                                 \
		cur_ &= D;                                                     \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, cur_);                                 \
		ck_assert_int_eq(mmds_map_or##bits(m, off, E, &old_), 0);      \
		ck_assert_uint_eq(old_, cur_);                                 \
		cur_ |= E;                                                     \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, cur_);                                 \
		ck_assert_int_eq(mmds_map_xor##bits(m, off, F, &old_), 0);     \
		ck_assert_uint_eq(old_, cur_);                                 \
		cur_ ^= F;                                                     \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, cur_);                                 \
		ck_assert_int_eq(mmds_map_xchg##bits(m, off, G, &old_), 0);    \
		ck_assert_uint_eq(old_, cur_);                                 \
		cur_ = G;                                                      \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, cur_);                                 \
		/* cas success: stores, returns 1, leaves *expected */         \
		exp_ = cur_;                                                   \
		ck_assert_int_eq(mmds_map_cas##bits(m, off, &exp_, A), 1);     \
		ck_assert_uint_eq(exp_, cur_);                                 \
		cur_ = A;                                                      \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, cur_);                                 \
		/* cas failure: returns 0, stores nothing, updates *expected */ \
		exp_ = (uint##bits##_t)(cur_ + 1);                             \
		ck_assert_int_eq(mmds_map_cas##bits(m, off, &exp_, B), 0);     \
		ck_assert_uint_eq(exp_, cur_);                                 \
		ck_assert_int_eq(mmds_map_load##bits(m, off, &got_), 0);       \
		ck_assert_uint_eq(got_, cur_);                                 \
		/* The raw bytes hold the value in native order. */            \
		memcpy(&got_, (unsigned char *)mmds_map_data(m) + (off),       \
		       sizeof(got_));                                          \
		ck_assert_uint_eq(got_, cur_);                                 \
	} while (0)

START_TEST(test_atomic64_ops_return_old_and_store_new)
{
	mmds_map *m = open_ok(t_path("f"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = 4096 });
	uint64_t v, fv;

	ck_assert_int_eq(mmds_map_store64(m, 0, 0x1111111111111111ull), 0);
	ck_assert_int_eq(mmds_map_store64(m, 16, 0x2222222222222222ull), 0);
	CHECK_ATOMIC_OPS(64, m, 8, 0x0123456789ABCDEFull,
			 0xF000000000000001ull /* wraps */,
			 0x0FFFFFFFFFFFFFFFull, 0xFF00FF00FF00FF00ull,
			 0x00000000FFFF0000ull, 0xFFFFFFFFFFFFFFFFull,
			 0xDEADBEEFCAFEF00Dull);
	/* Subtracting past zero wraps. */
	ck_assert_int_eq(mmds_map_store64(m, 8, 1), 0);
	ck_assert_int_eq(mmds_map_sub64(m, 8, 2, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(mmds_map_load64(m, 8, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	/* Neighbours untouched; the last word of the map works. */
	ck_assert_int_eq(mmds_map_load64(m, 0, &v), 0);
	ck_assert_uint_eq(v, 0x1111111111111111ull);
	ck_assert_int_eq(mmds_map_load64(m, 16, &v), 0);
	ck_assert_uint_eq(v, 0x2222222222222222ull);
	ck_assert_int_eq(mmds_map_add64(m, 4088, 0x100000000ull, &v), 0);
	ck_assert_uint_eq(v, 0);
	pread_file(t_path("f"), 4088, &fv, 8);
	ck_assert_uint_eq(fv, 0x100000000ull);
	close_ok(m);
}
END_TEST

START_TEST(test_atomic32_ops_return_old_and_store_new)
{
	mmds_map *m = anon_ok(&(mmds_map_opts){ .size = 4096 });
	uint32_t v;

	ck_assert_int_eq(mmds_map_store32(m, 0, 0x11111111u), 0);
	ck_assert_int_eq(mmds_map_store32(m, 8, 0x22222222u), 0);
	CHECK_ATOMIC_OPS(32, m, 4, 0x89ABCDEFu, 0xF0000001u, 0x0FFFFFFFu,
			 0xFF00FF00u, 0x0000FFF0u, 0xFFFFFFFFu, 0xCAFEF00Du);
	ck_assert_int_eq(mmds_map_store32(m, 4, UINT32_MAX), 0);
	ck_assert_int_eq(mmds_map_add32(m, 4, 2, &v), 0);
	ck_assert_uint_eq(v, UINT32_MAX);
	ck_assert_int_eq(mmds_map_load32(m, 4, &v), 0);
	ck_assert_uint_eq(v, 1); /* wrapped within 32 bits */
	ck_assert_int_eq(mmds_map_load32(m, 0, &v), 0);
	ck_assert_uint_eq(v, 0x11111111u);
	ck_assert_int_eq(mmds_map_load32(m, 8, &v), 0);
	ck_assert_uint_eq(v, 0x22222222u);
	ck_assert_int_eq(mmds_map_xor32(m, 4092, 0xABCDu, &v), 0);
	ck_assert_uint_eq(v, 0);
	close_ok(m);
}
END_TEST

START_TEST(test_atomic_old_may_be_null)
{
	mmds_map *m = anon_ok(&(mmds_map_opts){ .size = 4096 });
	uint64_t v;
	uint32_t w;

	ck_assert_int_eq(mmds_map_add64(m, 0, 10, NULL), 0);
	ck_assert_int_eq(mmds_map_sub64(m, 0, 3, NULL), 0);
	ck_assert_int_eq(mmds_map_or64(m, 0, 0x100, NULL), 0);
	ck_assert_int_eq(mmds_map_and64(m, 0, 0x1ff, NULL), 0);
	ck_assert_int_eq(mmds_map_xor64(m, 0, 1, NULL), 0);
	ck_assert_int_eq(mmds_map_load64(m, 0, &v), 0);
	ck_assert_uint_eq(v, ((7u | 0x100u) & 0x1ffu) ^ 1u);
	ck_assert_int_eq(mmds_map_xchg64(m, 0, 42, NULL), 0);
	ck_assert_int_eq(mmds_map_load64(m, 0, &v), 0);
	ck_assert_uint_eq(v, 42);

	ck_assert_int_eq(mmds_map_add32(m, 8, 10, NULL), 0);
	ck_assert_int_eq(mmds_map_sub32(m, 8, 3, NULL), 0);
	ck_assert_int_eq(mmds_map_or32(m, 8, 0x100, NULL), 0);
	ck_assert_int_eq(mmds_map_and32(m, 8, 0x1ff, NULL), 0);
	ck_assert_int_eq(mmds_map_xor32(m, 8, 1, NULL), 0);
	ck_assert_int_eq(mmds_map_load32(m, 8, &w), 0);
	ck_assert_uint_eq(w, ((7u | 0x100u) & 0x1ffu) ^ 1u);
	ck_assert_int_eq(mmds_map_xchg32(m, 8, 42, NULL), 0);
	ck_assert_int_eq(mmds_map_load32(m, 8, &w), 0);
	ck_assert_uint_eq(w, 42);
	close_ok(m);
}
END_TEST

START_TEST(test_atomic_misaligned_offset_is_einval)
{
	static const uint64_t off64[] = { 1, 2, 4, 7, 12 };
	static const uint64_t off32[] = { 1, 2, 3, 13 };
	mmds_map *m = anon_ok(&(mmds_map_opts){ .size = 4096 });
	unsigned char *d = mmds_map_data(m);
	uint64_t v = 0, old = 99;
	uint32_t w = 0, old32 = 99;

	memset(d, 0x5A, 64);
	for (size_t i = 0; i < sizeof(off64) / sizeof(off64[0]); i++) {
		uint64_t o = off64[i];

		ck_assert_int_eq(mmds_map_load64(m, o, &v), -EINVAL);
		ck_assert_int_eq(mmds_map_store64(m, o, 0), -EINVAL);
		ck_assert_int_eq(mmds_map_add64(m, o, 1, &old), -EINVAL);
		ck_assert_int_eq(mmds_map_sub64(m, o, 1, &old), -EINVAL);
		ck_assert_int_eq(mmds_map_and64(m, o, 0, &old), -EINVAL);
		ck_assert_int_eq(mmds_map_or64(m, o, 1, &old), -EINVAL);
		ck_assert_int_eq(mmds_map_xor64(m, o, 1, &old), -EINVAL);
		ck_assert_int_eq(mmds_map_xchg64(m, o, 0, &old), -EINVAL);
		ck_assert_int_eq(mmds_map_cas64(m, o, &v, 0), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(off32) / sizeof(off32[0]); i++) {
		uint64_t o = off32[i];

		ck_assert_int_eq(mmds_map_load32(m, o, &w), -EINVAL);
		ck_assert_int_eq(mmds_map_store32(m, o, 0), -EINVAL);
		ck_assert_int_eq(mmds_map_add32(m, o, 1, &old32), -EINVAL);
		ck_assert_int_eq(mmds_map_sub32(m, o, 1, &old32), -EINVAL);
		ck_assert_int_eq(mmds_map_and32(m, o, 0, &old32), -EINVAL);
		ck_assert_int_eq(mmds_map_or32(m, o, 1, &old32), -EINVAL);
		ck_assert_int_eq(mmds_map_xor32(m, o, 1, &old32), -EINVAL);
		ck_assert_int_eq(mmds_map_xchg32(m, o, 0, &old32), -EINVAL);
		ck_assert_int_eq(mmds_map_cas32(m, o, &w, 0), -EINVAL);
	}
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(d[i], 0x5A);
	ck_assert_uint_eq(old, 99);
	ck_assert_uint_eq(old32, 99);
	/* NULL value pointers and NULL maps. */
	ck_assert_int_eq(mmds_map_load64(m, 0, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_load32(m, 0, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_cas64(m, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_cas32(m, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_load64(NULL, 0, &v), -EINVAL);
	ck_assert_int_eq(mmds_map_store64(NULL, 0, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_add32(NULL, 0, 1, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_cas64(NULL, 0, &v, 1), -EINVAL);
	close_ok(m);
}
END_TEST

START_TEST(test_atomic_out_of_range_is_erange)
{
	mmds_map *m = anon_ok(&(mmds_map_opts){ .size = 4096 });
	uint64_t v = 0;
	uint32_t w = 0;

	ck_assert_int_eq(mmds_map_load64(m, 4088, &v), 0);
	ck_assert_int_eq(mmds_map_load64(m, 4096, &v), -ERANGE);
	ck_assert_int_eq(mmds_map_store64(m, 4096, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_add64(m, 4096, 1, NULL), -ERANGE);
	ck_assert_int_eq(mmds_map_xchg64(m, 1 << 20, 1, NULL), -ERANGE);
	ck_assert_int_eq(mmds_map_cas64(m, 4096, &v, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_load32(m, 4092, &w), 0);
	ck_assert_int_eq(mmds_map_load32(m, 4096, &w), -ERANGE);
	ck_assert_int_eq(mmds_map_store32(m, 4096, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_sub32(m, 4096, 1, NULL), -ERANGE);
	ck_assert_int_eq(mmds_map_cas32(m, 4096, &w, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_and32(m, UINT64_MAX - 3, 1, NULL), -ERANGE);
	/* After a shrink the cut words are out of range. */
	ck_assert_int_eq(mmds_map_resize(m, 8), 0);
	ck_assert_int_eq(mmds_map_add64(m, 0, 1, NULL), 0);
	ck_assert_int_eq(mmds_map_add64(m, 8, 1, NULL), -ERANGE);
	ck_assert_int_eq(mmds_map_add32(m, 4, 1, NULL), 0);
	ck_assert_int_eq(mmds_map_add32(m, 8, 1, NULL), -ERANGE);
	close_ok(m);
}
END_TEST

/* ---- private mappings ------------------------------------------------------ */

START_TEST(test_private_writes_never_reach_file)
{
	const char *p = make_file("f", 8192);
	unsigned char buf[8];
	size_t len;
	unsigned char *file;
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_PRIVATE });

	ck_assert_int_eq(mmds_map_write(m, 100, "PRIVATE!", 8), 0);
	ck_assert_int_eq(mmds_map_store64(m, 4096, 0xFFFFFFFFFFFFFFFFull), 0);
	ck_assert_int_eq(mmds_map_read(m, 100, buf, 8), 0);
	ck_assert_mem_eq(buf, "PRIVATE!", 8);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_SYNC), 0);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_DURABLE), 0);
	file = t_read_file(p, &len);
	ck_assert_uint_eq(len, 8192);
	ck_assert_pattern(file, 0, 8192);
	free(file);
	close_ok(m);
	file = t_read_file(p, &len);
	ck_assert_uint_eq(len, 8192);
	ck_assert_pattern(file, 0, 8192);
	free(file);
}
END_TEST

START_TEST(test_private_writes_invisible_to_other_process)
{
	const char *p = make_file("f", 8192);
	t_barrier *bar = t_barrier_new(2);
	unsigned char buf[8];
	mmds_map *m;
	pid_t pid;

	pid = t_fork();
	if (pid == 0) {
		mmds_map *cm = NULL;
		unsigned char cb[16];

		T_CHILD_ASSERT(mmds_map_open(&cm, p, NULL) == 0);
		T_CHILD_ASSERT(mmds_map_read(cm, 100, cb, 16) == 0);
		t_barrier_wait(bar); /* 1: mapped */
		t_barrier_wait(bar); /* 2: parent wrote privately */
		T_CHILD_ASSERT(mmds_map_read(cm, 100, cb, 16) == 0);
		T_CHILD_ASSERT(pattern_mismatch(cb, 100, 16) == 16);
		T_CHILD_ASSERT(mmds_map_read(cm, 4096, cb, 8) == 0);
		T_CHILD_ASSERT(pattern_mismatch(cb, 4096, 8) == 8);
		T_CHILD_ASSERT(mmds_map_close(cm) == 0);
		_exit(0);
	}
	m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_PRIVATE });
	t_barrier_wait(bar);
	ck_assert_int_eq(mmds_map_write(m, 100, "PRIVATE!", 8), 0);
	ck_assert_int_eq(mmds_map_store64(m, 4096, 1), 0);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_SYNC), 0);
	t_barrier_wait(bar);
	t_wait_child(pid);
	ck_assert_int_eq(mmds_map_read(m, 100, buf, 8), 0);
	ck_assert_mem_eq(buf, "PRIVATE!", 8);
	close_ok(m);
	t_barrier_free(bar);
}
END_TEST

START_TEST(test_private_map_grows_only_over_file_bytes)
{
	const char *p = make_file("f", 16384);
	unsigned char buf[8];
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_PRIVATE,
						   .size = 4096 });

	ck_assert_uint_eq(mmds_map_size(m), 4096);
	ck_assert_int_eq(mmds_map_resize(m, 16384), 0);
	ck_assert_int_eq(mmds_map_read(m, 16376, buf, 8), 0);
	ck_assert_pattern(buf, 16376, 8);
	ck_assert_int_eq(mmds_map_resize(m, 16385), -ERANGE);
	ck_assert_uint_eq(mmds_map_size(m), 16384);
	ck_assert_int_eq(t_file_size(p), 16384);
	/* Shrinking a private map never cuts the file. */
	ck_assert_int_eq(mmds_map_resize(m, 100), 0);
	ck_assert_uint_eq(mmds_map_size(m), 100);
	ck_assert_int_eq(t_file_size(p), 16384);
	close_ok(m);
}
END_TEST

/* ---- shared between processes ---------------------------------------------- */

#define NPROC 4

START_TEST(test_shared_writes_seen_by_other_processes)
{
	char path[PATH_MAX];
	t_barrier *bar = t_barrier_new(NPROC);
	pid_t pids[NPROC - 1];
	mmds_map *m;

	snprintf(path, sizeof(path), "%s", make_file("f", 4096));
	/* A map opened before fork is inherited: the child's writes show. */
	m = open_ok(path, NULL);
	pids[0] = t_fork();
	if (pids[0] == 0) {
		T_CHILD_ASSERT(mmds_map_write(m, 3000, "inherited", 9) == 0);
		_exit(0);
	}
	t_wait_child(pids[0]);
	{
		char got[9];

		ck_assert_int_eq(mmds_map_read(m, 3000, got, 9), 0);
		ck_assert_mem_eq(got, "inherited", 9);
	}

	/* NPROC processes, each with its own open, each writes its slot, then
	 * each reads all slots. */
	for (int i = 1; i < NPROC; i++) {
		pids[i - 1] = t_fork();
		if (pids[i - 1] == 0) {
			mmds_map *cm = NULL;

			T_CHILD_ASSERT(mmds_map_open(&cm, path, NULL) == 0);
			T_CHILD_ASSERT(mmds_map_store64(cm, 8 * (uint64_t)i,
							0xC0DE0000u + (uint64_t)i) == 0);
			t_barrier_wait(bar);
			for (int j = 0; j < NPROC; j++) {
				uint64_t v = 0;

				T_CHILD_ASSERT(mmds_map_load64(cm, 8 * (uint64_t)j,
							       &v) == 0);
				T_CHILD_ASSERT(v == 0xC0DE0000u + (uint64_t)j);
			}
			t_barrier_wait(bar);
			T_CHILD_ASSERT(mmds_map_close(cm) == 0);
			_exit(0);
		}
	}
	ck_assert_int_eq(mmds_map_store64(m, 0, 0xC0DE0000u), 0);
	t_barrier_wait(bar);
	for (int j = 0; j < NPROC; j++) {
		uint64_t v = 0;

		ck_assert_int_eq(mmds_map_load64(m, 8 * (uint64_t)j, &v), 0);
		ck_assert_uint_eq(v, 0xC0DE0000u + (uint64_t)j);
	}
	t_barrier_wait(bar);
	for (int i = 1; i < NPROC; i++)
		t_wait_child(pids[i - 1]);
	close_ok(m);
	t_barrier_free(bar);
}
END_TEST

#define ADDS 100000

START_TEST(test_shared_add_from_four_processes_sums_exactly)
{
	char path[PATH_MAX];
	t_barrier *bar = t_barrier_new(NPROC);
	pid_t pids[NPROC];
	uint64_t v, fv;
	uint32_t w, fw;
	mmds_map *m;

	snprintf(path, sizeof(path), "%s", t_path("counter"));
	m = open_ok(path, &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
					    .size = 4096 });
	for (int i = 0; i < NPROC; i++) {
		pids[i] = t_fork();
		if (pids[i] == 0) {
			mmds_map *cm = NULL;

			T_CHILD_ASSERT(mmds_map_open(&cm, path, NULL) == 0);
			t_barrier_wait(bar);
			for (int k = 0; k < ADDS; k++) {
				T_CHILD_ASSERT(mmds_map_add64(cm, 0, 1, NULL) == 0);
				T_CHILD_ASSERT(mmds_map_add32(cm, 64, 1, NULL) == 0);
			}
			T_CHILD_ASSERT(mmds_map_close(cm) == 0);
			_exit(0);
		}
	}
	for (int i = 0; i < NPROC; i++)
		t_wait_child(pids[i]);
	ck_assert_int_eq(mmds_map_load64(m, 0, &v), 0);
	ck_assert_uint_eq(v, (uint64_t)NPROC * ADDS);
	ck_assert_int_eq(mmds_map_load32(m, 64, &w), 0);
	ck_assert_uint_eq(w, (uint32_t)NPROC * ADDS);
	/* Published: the file holds the sums too. */
	pread_file(path, 0, &fv, 8);
	ck_assert_uint_eq(fv, (uint64_t)NPROC * ADDS);
	pread_file(path, 64, &fw, 4);
	ck_assert_uint_eq(fw, (uint32_t)NPROC * ADDS);
	close_ok(m);
	t_barrier_free(bar);
}
END_TEST

START_TEST(test_published_write_survives_kill_9_of_writer)
{
	char path[PATH_MAX];
	unsigned char buf[12];
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "%s", make_file("f", 8192));
	pid = t_fork();
	if (pid == 0) {
		mmds_map *cm = NULL;

		T_CHILD_ASSERT(mmds_map_open(&cm, path, NULL) == 0);
		T_CHILD_ASSERT(mmds_map_write(cm, 5000, "before kill!", 12) == 0);
		T_CHILD_ASSERT(mmds_map_store64(cm, 64, 0xFEEDFACEull) == 0);
		raise(SIGKILL); /* no close, no sync */
		_exit(1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	pread_file(path, 5000, buf, 12);
	ck_assert_mem_eq(buf, "before kill!", 12);
	{
		uint64_t v;

		pread_file(path, 64, &v, 8);
		ck_assert_uint_eq(v, 0xFEEDFACEull);
	}
}
END_TEST

/* ---- anonymous memory ------------------------------------------------------ */

START_TEST(test_anon_shared_is_shared_with_forked_child)
{
	mmds_map *m = anon_ok(&(mmds_map_opts){ .size = 8192 });
	unsigned char zero[8192] = { 0 };
	uint64_t v;
	char got[6];
	pid_t pid;

	ck_assert_int_ge(mmds_map_fd(m), 0);
	ck_assert_mem_eq(mmds_map_data(m), zero, sizeof(zero));
	ck_assert_int_eq(mmds_map_write(m, 0, "parent", 6), 0);
	pid = t_fork();
	if (pid == 0) {
		char cb[6];

		T_CHILD_ASSERT(mmds_map_read(m, 0, cb, 6) == 0);
		T_CHILD_ASSERT(memcmp(cb, "parent", 6) == 0);
		T_CHILD_ASSERT(mmds_map_write(m, 5000, "child!", 6) == 0);
		T_CHILD_ASSERT(mmds_map_add64(m, 8, 41, NULL) == 0);
		_exit(0);
	}
	t_wait_child(pid);
	ck_assert_int_eq(mmds_map_read(m, 5000, got, 6), 0);
	ck_assert_mem_eq(got, "child!", 6);
	ck_assert_int_eq(mmds_map_load64(m, 8, &v), 0);
	ck_assert_uint_eq(v, 41);
	close_ok(m);
}
END_TEST

START_TEST(test_anon_private_is_not_shared_with_child)
{
	mmds_map *m = anon_ok(&(mmds_map_opts){ .size = 8192,
						.flags = MMDS_MAP_PRIVATE });
	t_barrier *bar = t_barrier_new(2);
	uint64_t v;
	char got[6];
	pid_t pid;

	ck_assert_int_eq(mmds_map_fd(m), -1);
	ck_assert_int_eq(mmds_map_write(m, 0, "before", 6), 0);
	pid = t_fork();
	if (pid == 0) {
		char cb[6];

		T_CHILD_ASSERT(mmds_map_read(m, 0, cb, 6) == 0);
		T_CHILD_ASSERT(memcmp(cb, "before", 6) == 0); /* a copy */
		T_CHILD_ASSERT(mmds_map_write(m, 5000, "child!", 6) == 0);
		T_CHILD_ASSERT(mmds_map_add64(m, 8, 41, NULL) == 0);
		t_barrier_wait(bar); /* 1: child wrote */
		t_barrier_wait(bar); /* 2: parent wrote */
		T_CHILD_ASSERT(mmds_map_read(m, 0, cb, 6) == 0);
		T_CHILD_ASSERT(memcmp(cb, "before", 6) == 0);
		_exit(0);
	}
	t_barrier_wait(bar);
	ck_assert_int_eq(mmds_map_read(m, 5000, got, 6), 0);
	ck_assert_mem_eq(got, "\0\0\0\0\0\0", 6);
	ck_assert_int_eq(mmds_map_load64(m, 8, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(mmds_map_write(m, 0, "AFTER!", 6), 0);
	t_barrier_wait(bar);
	t_wait_child(pid);
	close_ok(m);
	t_barrier_free(bar);
}
END_TEST

START_TEST(test_anon_fd_reopened_through_proc_sees_same_bytes)
{
	mmds_map *m = anon_ok(&(mmds_map_opts){ .size = 8192 });
	mmds_map *m2, *m3;
	char proc[64], got[8];
	int fd, flags;

	ck_assert_int_ge(mmds_map_fd(m), 0);
	flags = fcntl(mmds_map_fd(m), F_GETFD);
	ck_assert_int_ge(flags, 0);
	ck_assert_msg(flags & FD_CLOEXEC, "the memfd is not close-on-exec");
	ck_assert_int_eq(mmds_map_write(m, 4000, "shared!!", 8), 0);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", mmds_map_fd(m));

	fd = open(proc, O_RDWR | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open(%s): %s", proc, strerror(errno));
	m2 = NOT_NULL_MAP;
	ck_assert_int_eq(mmds_map_open_fd(&m2, fd, NULL), 0);
	close(fd);
	ck_assert_uint_eq(mmds_map_size(m2), 8192);
	ck_assert_int_eq(mmds_map_read(m2, 4000, got, 8), 0);
	ck_assert_mem_eq(got, "shared!!", 8);
	/* And the other way round. */
	ck_assert_int_eq(mmds_map_write(m2, 10, "back", 4), 0);
	ck_assert_int_eq(mmds_map_read(m, 10, got, 4), 0);
	ck_assert_mem_eq(got, "back", 4);

	/* Through mmds_map_open by path as well. */
	m3 = open_ok(proc, NULL);
	ck_assert_uint_eq(mmds_map_size(m3), 8192);
	ck_assert_int_eq(mmds_map_read(m3, 10, got, 4), 0);
	ck_assert_mem_eq(got, "back", 4);
	close_ok(m3);
	close_ok(m2);
	close_ok(m);
}
END_TEST

START_TEST(test_anon_rejects_null_opts_offset_and_file_flags)
{
	static const unsigned bad[] = { MMDS_MAP_CREATE, MMDS_MAP_EXCL,
					MMDS_MAP_TRUNCATE, MMDS_MAP_UNLINK,
					MMDS_MAP_SYNC,
					MMDS_MAP_CREATE | MMDS_MAP_EXCL };

	anon_fails(NULL, -EINVAL);
	anon_fails(&(mmds_map_opts){ .size = 4096, .offset = 4096 }, -EINVAL);
	anon_fails(&(mmds_map_opts){ .size = 4096, .offset = 1 }, -EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		anon_fails(&(mmds_map_opts){ .size = 4096, .flags = bad[i] },
			   -EINVAL);
}
END_TEST

START_TEST(test_anon_zero_size_map_grows)
{
	for (int priv = 0; priv < 2; priv++) {
		mmds_map *m = anon_ok(&(mmds_map_opts){
			.flags = priv ? MMDS_MAP_PRIVATE : 0 });
		unsigned char *d = mmds_map_data(m);
		unsigned char buf[4];

		ck_assert_uint_eq(mmds_map_size(m), 0);
		ck_assert_int_eq(mmds_map_read(m, 0, buf, 1), -ERANGE);
		ck_assert_int_eq(mmds_map_resize(m, 3 << 20), 0);
		ck_assert_uint_eq(mmds_map_size(m), 3 << 20);
		ck_assert_ptr_eq(mmds_map_data(m), d);
		ck_assert_int_eq(mmds_map_read(m, (3 << 20) - 4, buf, 4), 0);
		ck_assert_mem_eq(buf, "\0\0\0\0", 4);
		ck_assert_int_eq(mmds_map_write(m, (3 << 20) - 4, "end!", 4), 0);
		ck_assert_int_eq(mmds_map_resize(m, 1 << 20), 0);
		ck_assert_int_eq(mmds_map_read(m, (3 << 20) - 4, buf, 4), -ERANGE);
		ck_assert_int_eq(mmds_map_resize(m, 3 << 20), 0);
		close_ok(m);
	}
}
END_TEST

/* ---- open_fd --------------------------------------------------------------- */

START_TEST(test_open_fd_caller_may_close_fd_at_once)
{
	const char *p = make_file("f", 8192);
	unsigned char buf[8];
	mmds_map_info info;
	mmds_map *m = NOT_NULL_MAP;
	int fd = open(p, O_RDWR | O_CLOEXEC), mfd, fl;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mmds_map_open_fd(&m, fd, NULL), 0);
	mfd = mmds_map_fd(m);
	ck_assert_int_ge(mfd, 0);
	ck_assert_int_ne(mfd, fd); /* its own duplicate */
	fl = fcntl(mfd, F_GETFD);
	ck_assert_int_ge(fl, 0);
	ck_assert_msg(fl & FD_CLOEXEC, "the map's fd is not close-on-exec");
	ck_assert_int_eq(close(fd), 0);

	ck_assert_uint_eq(mmds_map_size(m), 8192);
	ck_assert_int_eq(mmds_map_read(m, 5000, buf, 8), 0);
	ck_assert_pattern(buf, 5000, 8);
	ck_assert_int_eq(mmds_map_write(m, 6000, "fd write", 8), 0);
	ck_assert_int_eq(mmds_map_resize(m, 10000), 0);
	ck_assert_int_eq(t_file_size(p), 10000);
	pread_file(p, 6000, buf, 8);
	ck_assert_mem_eq(buf, "fd write", 8);
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_ptr_null(info.path);
	ck_assert_int_eq(info.anonymous, 0);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_DURABLE), 0);
	close_ok(m);
}
END_TEST

START_TEST(test_open_fd_read_only_fd_with_write_access_is_eacces)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[4];
	mmds_map *m;
	int fd = open(p, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	open_fd_fails(fd, NULL, -EACCES);
	open_fd_fails(fd, &(mmds_map_opts){ .access = MMDS_RDWR }, -EACCES);
	open_fd_fails(fd, &(mmds_map_opts){ .access = MMDS_WRITE }, -EACCES);
	m = NOT_NULL_MAP;
	ck_assert_int_eq(mmds_map_open_fd(&m, fd, &(mmds_map_opts){
		.access = MMDS_READ }), 0);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 4), 0);
	ck_assert_pattern(buf, 0, 4);
	close_ok(m);
	close(fd);
}
END_TEST

START_TEST(test_open_fd_rejects_create_excl_unlink)
{
	const char *p = make_file("f", 4096);
	int fd = open(p, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	open_fd_fails(fd, &(mmds_map_opts){ .flags = MMDS_MAP_CREATE }, -EINVAL);
	open_fd_fails(fd, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL }, -EINVAL);
	open_fd_fails(fd, &(mmds_map_opts){ .flags = MMDS_MAP_UNLINK }, -EINVAL);
	close(fd);
	ck_assert_int_eq(t_file_size(p), 4096);
}
END_TEST

START_TEST(test_open_fd_bad_fd_is_ebadf)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	close(fd); /* now a closed descriptor number */
	open_fd_fails(-1, NULL, -EBADF);
	open_fd_fails(fd, &(mmds_map_opts){ .access = MMDS_READ }, -EBADF);
}
END_TEST

START_TEST(test_open_fd_truncate_empties_file)
{
	const char *p = make_file("f", 10000);
	unsigned char buf[100], zero[100] = { 0 };
	mmds_map *m = NOT_NULL_MAP;
	int fd = open(p, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mmds_map_open_fd(&m, fd, &(mmds_map_opts){
		.flags = MMDS_MAP_TRUNCATE, .size = 100 }), 0);
	close(fd);
	ck_assert_uint_eq(mmds_map_size(m), 100);
	ck_assert_int_eq(t_file_size(p), 100);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 100), 0);
	ck_assert_mem_eq(buf, zero, 100);
	close_ok(m);
}
END_TEST

/* ---- resize ---------------------------------------------------------------- */

START_TEST(test_resize_grow_then_shrink_keeps_content_and_base)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[4096];
	mmds_map *m = open_ok(p, NULL);
	void *base = mmds_map_data(m);

	ck_assert_int_eq(mmds_map_resize(m, 1 << 20), 0);
	ck_assert_uint_eq(mmds_map_size(m), 1 << 20);
	ck_assert_int_eq(t_file_size(p), 1 << 20);
	ck_assert_ptr_eq(mmds_map_data(m), base);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 4096), 0);
	ck_assert_pattern(buf, 0, 4096);
	ck_assert_int_eq(mmds_map_read(m, (1 << 20) - 4096, buf, 4096), 0);
	for (int i = 0; i < 4096; i++)
		ck_assert_uint_eq(buf[i], 0);
	ck_assert_int_eq(mmds_map_write(m, (1 << 20) - 4, "last", 4), 0);
	pread_file(p, (1 << 20) - 4, buf, 4);
	ck_assert_mem_eq(buf, "last", 4);

	ck_assert_int_eq(mmds_map_resize(m, 2000), 0);
	ck_assert_uint_eq(mmds_map_size(m), 2000);
	ck_assert_int_eq(t_file_size(p), 2000);
	ck_assert_ptr_eq(mmds_map_data(m), base);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 2000), 0);
	ck_assert_pattern(buf, 0, 2000);
	ck_assert_int_eq(mmds_map_read(m, 2000, buf, 1), -ERANGE);
	/* Same size: nothing changes. */
	ck_assert_int_eq(mmds_map_resize(m, 2000), 0);
	ck_assert_int_eq(t_file_size(p), 2000);
	/* Grow again: the cut bytes are gone, the new ones are zero. */
	ck_assert_int_eq(mmds_map_resize(m, 4096), 0);
	ck_assert_int_eq(mmds_map_read(m, 2000, buf, 2096), 0);
	for (int i = 0; i < 2096; i++)
		ck_assert_uint_eq(buf[i], 0);
	ck_assert_int_eq(mmds_map_resize(m, 0), 0);
	ck_assert_int_eq(t_file_size(p), 0);
	ck_assert_ptr_eq(mmds_map_data(m), base);
	close_ok(m);
}
END_TEST

START_TEST(test_resize_beyond_capacity_is_efbig)
{
	const char *p = make_file("f", 4096);
	unsigned char buf[4096];
	mmds_map_info info;
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .capacity = 65536 });

	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.capacity, 65536);
	ck_assert_int_eq(mmds_map_resize(m, 65537), -EFBIG);
	ck_assert_int_eq(mmds_map_resize(m, UINT64_MAX), -EFBIG);
	ck_assert_uint_eq(mmds_map_size(m), 4096);
	ck_assert_int_eq(t_file_size(p), 4096);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 4096), 0);
	ck_assert_pattern(buf, 0, 4096);
	ck_assert_int_eq(mmds_map_resize(m, 65536), 0);
	ck_assert_int_eq(t_file_size(p), 65536);
	close_ok(m);

	/* A file larger than an explicit capacity does not open (the header
	 * does not say whether that is -EINVAL or -EFBIG). */
	{
		mmds_map *bad = NOT_NULL_MAP;
		int rc = mmds_map_open(&bad, p, &(mmds_map_opts){
			.capacity = 4096 });

		ck_assert_msg(rc == -EINVAL || rc == -EFBIG, "rc %d", rc);
		ck_assert_ptr_null(bad);
	}

	/* A capacity is rounded up to whole pages. */
	ck_assert_int_eq(truncate(p, 4096), 0);
	m = open_ok(p, &(mmds_map_opts){ .capacity = page() + 1 });
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.capacity, 2 * page());
	ck_assert_int_eq(mmds_map_resize(m, 2 * page()), 0);
	ck_assert_int_eq(mmds_map_resize(m, 2 * page() + 1), -EFBIG);
	close_ok(m);

	/* Anonymous maps have a capacity too. */
	m = anon_ok(&(mmds_map_opts){ .size = 4096, .capacity = 8192 });
	ck_assert_int_eq(mmds_map_resize(m, 8193), -EFBIG);
	ck_assert_uint_eq(mmds_map_size(m), 4096);
	close_ok(m);
}
END_TEST

START_TEST(test_resize_read_only_map_is_eacces)
{
	const char *p = make_file("f", 4096);
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ });

	ck_assert_int_eq(mmds_map_resize(m, 8192), -EACCES);
	ck_assert_int_eq(mmds_map_resize(m, 100), -EACCES);
	ck_assert_uint_eq(mmds_map_size(m), 4096);
	ck_assert_int_eq(t_file_size(p), 4096);
	ck_assert_int_eq(mmds_map_resize(NULL, 100), -EINVAL);
	close_ok(m);
}
END_TEST

START_TEST(test_window_resize_grows_file_only_to_its_end)
{
	const char *p = make_file("f", WFILE);
	unsigned char buf[8];
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .offset = 4097, .size = 1000 });

	/* Inside the file: the file keeps its size, both ways. */
	ck_assert_int_eq(mmds_map_resize(m, 20000), 0);
	ck_assert_int_eq(t_file_size(p), WFILE);
	ck_assert_int_eq(mmds_map_read(m, 19992, buf, 8), 0);
	ck_assert_pattern(buf, 4097 + 19992, 8);
	ck_assert_int_eq(mmds_map_resize(m, 500), 0);
	ck_assert_int_eq(t_file_size(p), WFILE);
	pread_file(p, WFILE - 8, buf, 8);
	ck_assert_pattern(buf, WFILE - 8, 8);
	/* Past its end: the file grows to exactly offset + size. */
	ck_assert_int_eq(mmds_map_resize(m, 70000), 0);
	ck_assert_int_eq(t_file_size(p), 4097 + 70000);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 8), 0);
	ck_assert_pattern(buf, 4097, 8);
	close_ok(m);
}
END_TEST

struct rw_arg {
	mmds_map *m;
	uint64_t off;
	unsigned id;
	pthread_barrier_t *start;
	atomic_int *stop;
	atomic_ulong iters;
	unsigned long bad;
};

static void *rw_thread(void *p)
{
	struct rw_arg *a = p;
	unsigned char want[4096], got[4096];

	pthread_barrier_wait(a->start);
	for (unsigned long it = 0; !atomic_load(a->stop); it++) {
		const unsigned char *raw;

		for (size_t i = 0; i < sizeof(want); i++)
			want[i] = (unsigned char)(it * 31u + i + a->id * 101u);
		if (mmds_map_write(a->m, a->off, want, sizeof(want)) != 0)
			a->bad++;
		if (mmds_map_read(a->m, a->off, got, sizeof(got)) != 0 ||
		    memcmp(got, want, sizeof(got)) != 0)
			a->bad++;
		raw = mmds_map_ptr(a->m, a->off, sizeof(want));
		if (raw == NULL || memcmp(raw, want, sizeof(want)) != 0)
			a->bad++;
		atomic_fetch_add(&a->iters, 1);
	}
	return NULL;
}

START_TEST(test_resize_while_threads_read_and_write)
{
	const char *p = make_file("f", 65536);
	pthread_barrier_t start;
	atomic_int stop = 0;
	struct rw_arg args[2];
	pthread_t th[2];
	unsigned long during[2];
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .capacity = 64 << 20 });
	void *base = mmds_map_data(m);

	ck_assert_int_eq(pthread_barrier_init(&start, NULL, 3), 0);
	for (unsigned i = 0; i < 2; i++) {
		args[i] = (struct rw_arg){ .m = m, .off = 4096u * (i + 1),
					   .id = i, .start = &start,
					   .stop = &stop };
		atomic_init(&args[i].iters, 0);
		ck_assert_int_eq(pthread_create(&th[i], NULL, rw_thread,
						&args[i]), 0);
	}
	pthread_barrier_wait(&start);
	/* At least 3 grow/shrink cycles, and more until both threads have
	 * run a while alongside them (a loaded machine may start them late). */
	for (int cycle = 0;
	     cycle < 3 || (cycle < 300 && (atomic_load(&args[0].iters) < 200 ||
					   atomic_load(&args[1].iters) < 200));
	     cycle++) {
		for (uint64_t sz = 65536 + 256 * 1024; sz <= (16u << 20);
		     sz += 256 * 1024) {
			unsigned char b;

			ck_assert_int_eq(mmds_map_resize(m, sz), 0);
			ck_assert_uint_eq(mmds_map_size(m), sz);
			ck_assert_int_eq(mmds_map_write(m, sz - 1, "g", 1), 0);
			ck_assert_int_eq(mmds_map_read(m, sz - 1, &b, 1), 0);
			ck_assert_uint_eq(b, 'g');
		}
		for (uint64_t sz = 16u << 20; sz >= 65536; sz -= 512 * 1024) {
			ck_assert_int_eq(mmds_map_resize(m, sz), 0);
			ck_assert_uint_eq(mmds_map_size(m), sz);
		}
		ck_assert_int_eq(mmds_map_resize(m, 65536), 0);
	}
	for (int i = 0; i < 2; i++)
		during[i] = atomic_load(&args[i].iters);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(during[i] >= 200, "thread %d ran only %lu rounds "
			      "during the resizes", i, during[i]);
		ck_assert_msg(args[i].bad == 0, "thread %d: %lu of %lu rounds "
			      "saw wrong bytes or errors", i, args[i].bad,
			      (unsigned long)atomic_load(&args[i].iters));
	}
	ck_assert_ptr_eq(mmds_map_data(m), base);
	ck_assert_int_eq(t_file_size(p), 65536);
	close_ok(m);
}
END_TEST

START_TEST(test_refresh_adopts_size_changed_by_other_process)
{
	char path[PATH_MAX];
	unsigned char buf[9];
	mmds_map *m, *w, *c;
	pid_t pid;

	snprintf(path, sizeof(path), "%s", make_file("f", 4096));
	m = open_ok(path, NULL);
	w = open_ok(path, &(mmds_map_opts){ .access = MMDS_READ, .offset = 1000 });
	c = open_ok(path, &(mmds_map_opts){ .access = MMDS_READ,
					    .capacity = 8192 });
	ck_assert_int_eq(mmds_map_read(m, 10000, buf, 9), -ERANGE);

	pid = t_fork();
	if (pid == 0) {
		int fd = open(path, O_RDWR);

		T_CHILD_ASSERT(fd >= 0);
		T_CHILD_ASSERT(ftruncate(fd, 16384) == 0);
		T_CHILD_ASSERT(pwrite(fd, "new bytes", 9, 10000) == 9);
		close(fd);
		_exit(0);
	}
	t_wait_child(pid);
	ck_assert_uint_eq(mmds_map_size(m), 4096); /* not adopted yet */
	ck_assert_int_eq(mmds_map_refresh(m), 16384);
	ck_assert_uint_eq(mmds_map_size(m), 16384);
	ck_assert_int_eq(mmds_map_read(m, 10000, buf, 9), 0);
	ck_assert_mem_eq(buf, "new bytes", 9);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 9), 0);
	ck_assert_pattern(buf, 0, 9);
	ck_assert_int_eq(t_file_size(path), 16384); /* the file never changes */
	/* A window: the size from its offset. */
	ck_assert_int_eq(mmds_map_refresh(w), 16384 - 1000);
	ck_assert_int_eq(mmds_map_read(w, 9000, buf, 9), 0);
	ck_assert_mem_eq(buf, "new bytes", 9);
	/* Within the capacity. */
	ck_assert_int_eq(mmds_map_refresh(c), 8192);
	ck_assert_uint_eq(mmds_map_size(c), 8192);

	/* And a file shrunk by the other process. */
	pid = t_fork();
	if (pid == 0) {
		T_CHILD_ASSERT(truncate(path, 2048) == 0);
		_exit(0);
	}
	t_wait_child(pid);
	ck_assert_int_eq(mmds_map_refresh(m), 2048);
	ck_assert_int_eq(mmds_map_read(m, 3000, buf, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, 2040, buf, 8), 0);
	ck_assert_pattern(buf, 2040, 8);
	ck_assert_int_eq(mmds_map_refresh(m), 2048); /* idempotent */
	ck_assert_int_eq(mmds_map_refresh(NULL), -EINVAL);
	close_ok(c);
	close_ok(w);
	close_ok(m);
}
END_TEST

/* ---- full disk and file-size limit ------------------------------------------ */

START_TEST(test_resize_beyond_rlimit_fsize_is_efbig)
{
	char path[PATH_MAX], path2[PATH_MAX];
	pid_t pid;

	snprintf(path, sizeof(path), "%s", make_file("f", 4096));
	snprintf(path2, sizeof(path2), "%s", t_path("g"));
	pid = t_fork();
	if (pid == 0) {
		struct rlimit rl = { 65536, 65536 };
		mmds_map *m = NULL, *m2 = NOT_NULL_MAP;
		unsigned char buf[4096];
		struct stat st;
		int rc;

		signal(SIGXFSZ, SIG_IGN);
		T_CHILD_ASSERT(mmds_map_open(&m, path, NULL) == 0);
		T_CHILD_ASSERT(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		rc = mmds_map_resize(m, 1 << 20);
		T_CHILD_ASSERT(rc == -EFBIG || rc == -ENOSPC);
		T_CHILD_ASSERT(mmds_map_size(m) == 4096);
		T_CHILD_ASSERT(stat(path, &st) == 0 && st.st_size == 4096);
		T_CHILD_ASSERT(mmds_map_read(m, 0, buf, 4096) == 0);
		T_CHILD_ASSERT(pattern_mismatch(buf, 0, 4096) == 4096);
		T_CHILD_ASSERT(mmds_map_read(m, 4096, buf, 1) == -ERANGE);
		/* Up to the limit still works. */
		T_CHILD_ASSERT(mmds_map_resize(m, 65536) == 0);
		T_CHILD_ASSERT(stat(path, &st) == 0 && st.st_size == 65536);
		rc = mmds_map_resize(m, 65537);
		T_CHILD_ASSERT(rc == -EFBIG || rc == -ENOSPC);
		T_CHILD_ASSERT(stat(path, &st) == 0 && st.st_size == 65536);
		/* Creating past the limit fails the same way. */
		rc = mmds_map_open(&m2, path2, &(mmds_map_opts){
			.flags = MMDS_MAP_CREATE, .size = 1 << 20 });
		T_CHILD_ASSERT(rc == -EFBIG || rc == -ENOSPC);
		T_CHILD_ASSERT(m2 == NULL);
		T_CHILD_ASSERT(mmds_map_close(m) == 0);
		_exit(0);
	}
	t_wait_child(pid);
}
END_TEST

START_TEST(test_full_tmpfs_is_enospc_and_keeps_data)
{
	char dir[PATH_MAX];
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s", t_path("small"));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	pid = t_fork();
	if (pid == 0) {
		char a[PATH_MAX + 8], b[PATH_MAX + 8];
		mmds_map *m = NULL, *m2 = NOT_NULL_MAP;
		unsigned char *buf;
		struct stat st;
		int rc;

		if (unshare(CLONE_NEWNS) != 0)
			t_skip("unshare(CLONE_NEWNS): %s", strerror(errno));
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
			t_skip("making mounts private: %s", strerror(errno));
		if (mount("none", dir, "tmpfs", 0, "size=1m") != 0)
			t_skip("mounting a 1 MiB tmpfs: %s", strerror(errno));
		snprintf(a, sizeof(a), "%s/a", dir);
		snprintf(b, sizeof(b), "%s/b", dir);
		T_CHILD_ASSERT(mmds_map_open(&m, a, &(mmds_map_opts){
			.flags = MMDS_MAP_CREATE, .size = 256 << 10 }) == 0);
		buf = mmds_map_data(m);
		for (size_t i = 0; i < (256 << 10); i++)
			buf[i] = pat(i);
		rc = mmds_map_resize(m, 4 << 20);
		if (rc != -ENOSPC)
			fprintf(stderr, "resize on full tmpfs: %d (%s)\n", rc,
				mmds_strerror(rc));
		T_CHILD_ASSERT(rc == -ENOSPC);
		T_CHILD_ASSERT(mmds_map_size(m) == 256 << 10);
		T_CHILD_ASSERT(stat(a, &st) == 0 && st.st_size == 256 << 10);
		T_CHILD_ASSERT(pattern_mismatch(buf, 0, 256 << 10) == 256 << 10);
		/* A new file that does not fit. */
		rc = mmds_map_open(&m2, b, &(mmds_map_opts){
			.flags = MMDS_MAP_CREATE, .size = 2 << 20 });
		if (rc != -ENOSPC)
			fprintf(stderr, "create on full tmpfs: %d (%s)\n", rc,
				mmds_strerror(rc));
		T_CHILD_ASSERT(rc == -ENOSPC);
		T_CHILD_ASSERT(m2 == NULL);
		/* The earlier data is intact, through the map and the file. */
		T_CHILD_ASSERT(pattern_mismatch(buf, 0, 256 << 10) == 256 << 10);
		T_CHILD_ASSERT(mmds_map_close(m) == 0);
		{
			size_t len;
			unsigned char *f = t_read_file(a, &len);

			T_CHILD_ASSERT(len == 256 << 10);
			T_CHILD_ASSERT(pattern_mismatch(f, 0, len) == len);
			free(f);
		}
		_exit(0);
	}
	t_wait_child(pid);
}
END_TEST

/* ---- sync ------------------------------------------------------------------ */

START_TEST(test_sync_levels_put_data_in_file)
{
	static const enum mmds_sync_level levels[] = {
		MMDS_SYNC_ASYNC, MMDS_SYNC_SYNC, MMDS_SYNC_DURABLE
	};
	const char *p = make_file("f", 3 * 4096);
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(MMDS_SYNC_ASYNC, 1);
	ck_assert_int_eq(MMDS_SYNC_SYNC, 2);
	ck_assert_int_eq(MMDS_SYNC_DURABLE, 3);
	for (int i = 0; i < 3; i++) {
		char msg[16], got[16];

		snprintf(msg, sizeof(msg), "level-%d-data", (int)levels[i]);
		ck_assert_int_eq(mmds_map_write(m, 4096u * (unsigned)i + 7, msg,
						sizeof(msg)), 0);
		ck_assert_int_eq(mmds_map_sync(m, levels[i]), 0);
		pread_file(p, 4096u * (unsigned)i + 7, got, sizeof(got));
		ck_assert_mem_eq(got, msg, sizeof(msg));
		ck_assert_int_eq(mmds_map_write(m, 4096u * (unsigned)i + 100,
						msg, sizeof(msg)), 0);
		ck_assert_int_eq(mmds_map_sync_range(m, 4096u * (unsigned)i + 100,
						     sizeof(msg), levels[i]), 0);
		pread_file(p, 4096u * (unsigned)i + 100, got, sizeof(got));
		ck_assert_mem_eq(got, msg, sizeof(msg));
	}
	close_ok(m);
}
END_TEST

/* Once the file and its directory are gone there is no entry to make
 * durable: the durable sync still succeeds, every time. */
START_TEST(test_durable_sync_after_directory_removed_succeeds)
{
	char dir[4096], file[sizeof(dir) + 8];
	mmds_map *m = NULL;

	snprintf(dir, sizeof(dir), "%s", t_path("d"));
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(file, sizeof(file), "%s/f", dir);
	ck_assert_int_eq(mmds_map_open(&m, file, &(mmds_map_opts){
				.flags = MMDS_MAP_CREATE, .size = 4096 }), 0);
	ck_assert_int_eq(mmds_map_write(m, 0, "x", 1), 0);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_DURABLE), 0);
	ck_assert_int_eq(mmds_map_resize(m, 8192), 0);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_DURABLE), 0);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_DURABLE), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_sync_bad_level_is_einval)
{
	const char *p = make_file("f", 4096);
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_sync(m, (enum mmds_sync_level)0), -EINVAL);
	ck_assert_int_eq(mmds_map_sync(m, (enum mmds_sync_level)4), -EINVAL);
	ck_assert_int_eq(mmds_map_sync(m, (enum mmds_sync_level)99), -EINVAL);
	ck_assert_int_eq(mmds_map_sync_range(m, 0, 10, (enum mmds_sync_level)0),
			 -EINVAL);
	ck_assert_int_eq(mmds_map_sync_range(m, 0, 10, (enum mmds_sync_level)99),
			 -EINVAL);
	ck_assert_int_eq(mmds_map_sync(NULL, MMDS_SYNC_SYNC), -EINVAL);
	close_ok(m);
}
END_TEST

START_TEST(test_sync_range_out_of_range_is_erange)
{
	const char *p = make_file("f", 8192);
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_sync_range(m, 0, 8192, MMDS_SYNC_SYNC), 0);
	ck_assert_int_eq(mmds_map_sync_range(m, 100, 0, MMDS_SYNC_SYNC), 0);
	ck_assert_int_eq(mmds_map_sync_range(m, 8191, 1, MMDS_SYNC_SYNC), 0);
	ck_assert_int_eq(mmds_map_sync_range(m, 0, 8193, MMDS_SYNC_SYNC), -ERANGE);
	ck_assert_int_eq(mmds_map_sync_range(m, 8000, 193, MMDS_SYNC_ASYNC),
			 -ERANGE);
	ck_assert_int_eq(mmds_map_sync_range(m, 8193, 0, MMDS_SYNC_DURABLE),
			 -ERANGE);
	ck_assert_int_eq(mmds_map_sync_range(m, 1, UINT64_MAX, MMDS_SYNC_SYNC),
			 -ERANGE);
	close_ok(m);
}
END_TEST

START_TEST(test_sync_private_and_anonymous_return_zero)
{
	const char *p = make_file("f", 4096);
	mmds_map *pm = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_PRIVATE });
	mmds_map *sa = anon_ok(&(mmds_map_opts){ .size = 4096 });
	mmds_map *pa = anon_ok(&(mmds_map_opts){ .size = 4096,
						 .flags = MMDS_MAP_PRIVATE });
	mmds_map *maps[3] = { pm, sa, pa };
	size_t len;
	unsigned char *f;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(mmds_map_write(maps[i], 0, "dirty", 5), 0);
		for (int lv = MMDS_SYNC_ASYNC; lv <= MMDS_SYNC_DURABLE; lv++) {
			ck_assert_int_eq(mmds_map_sync(maps[i], lv), 0);
			ck_assert_int_eq(mmds_map_sync_range(maps[i], 0, 5, lv), 0);
		}
		ck_assert_int_eq(mmds_map_sync_range(maps[i], 0, 4097,
						     MMDS_SYNC_SYNC), -ERANGE);
		ck_assert_int_eq(mmds_map_sync(maps[i], (enum mmds_sync_level)0),
				 -EINVAL);
	}
	f = t_read_file(p, &len);
	ck_assert_uint_eq(len, 4096);
	ck_assert_pattern(f, 0, 4096);
	free(f);
	for (int i = 0; i < 3; i++)
		close_ok(maps[i]);
}
END_TEST

/* ---- open flags ------------------------------------------------------------ */

START_TEST(test_populate_and_lock_flags_open_small_file)
{
	const char *p = make_file("f", 65536);
	unsigned char buf[16];
	mmds_map_info info;
	long locked;
	mmds_map *m;

	need_memlock(4 << 20);
	m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_POPULATE });
	ck_assert_int_eq(mmds_map_read(m, 65520, buf, 16), 0);
	ck_assert_pattern(buf, 65520, 16);
	ck_assert_int_eq(mmds_map_resize(m, 1 << 20), 0);
	close_ok(m);

	m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_LOCK });
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.flags & MMDS_MAP_LOCK, MMDS_MAP_LOCK);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 16), 0);
	ck_assert_pattern(buf, 0, 16);
	locked = vm_locked_kb();
	if (locked >= 0)
		ck_assert_int_ge(locked, (1 << 20) / 1024);
	/* New ranges of a locked map are locked too. */
	ck_assert_int_eq(mmds_map_resize(m, 4 << 20), 0);
	locked = vm_locked_kb();
	if (locked >= 0)
		ck_assert_int_ge(locked, (4 << 20) / 1024);
	close_ok(m);
	locked = vm_locked_kb();
	if (locked >= 0)
		ck_assert_int_eq(locked, 0);
}
END_TEST

START_TEST(test_lock_beyond_memlock_limit_fails)
{
	pid_t pid;

	if (!T_MLOCK_WORKS)
		t_skip("mlock() is a no-op under this sanitizer");
	pid = t_fork();
	if (pid == 0) {
		struct rlimit rl = { 0, 0 };
		mmds_map *m = NOT_NULL_MAP;
		mmds_map_info info;
		int rc;

		/* Root ignores RLIMIT_MEMLOCK (CAP_IPC_LOCK): drop it. */
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		     setuid(65534) != 0))
			t_skip("cannot drop root to uid 65534: %s",
			       strerror(errno));
		T_CHILD_ASSERT(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
		rc = mmds_map_open_anon(&m, &(mmds_map_opts){
			.flags = MMDS_MAP_LOCK, .size = 1 << 20 });
		if (rc != -EAGAIN && rc != -ENOMEM && rc != -EPERM)
			fprintf(stderr, "LOCK open: %d (%s)\n", rc,
				mmds_strerror(rc));
		T_CHILD_ASSERT(rc == -EAGAIN || rc == -ENOMEM || rc == -EPERM);
		T_CHILD_ASSERT(m == NULL);

		T_CHILD_ASSERT(mmds_map_open_anon(&m, &(mmds_map_opts){
			.size = 1 << 20 }) == 0);
		rc = mmds_map_lock(m, 0, 0);
		T_CHILD_ASSERT(rc == -EAGAIN || rc == -ENOMEM || rc == -EPERM);
		rc = mmds_map_lock_all(m);
		T_CHILD_ASSERT(rc == -EAGAIN || rc == -ENOMEM || rc == -EPERM);
		T_CHILD_ASSERT(mmds_map_get_info(m, &info) == 0);
		T_CHILD_ASSERT(!(info.flags & MMDS_MAP_LOCK));
		/* The map still works. */
		T_CHILD_ASSERT(mmds_map_store64(m, 0, 5) == 0);
		T_CHILD_ASSERT(mmds_map_resize(m, 2 << 20) == 0);
		T_CHILD_ASSERT(mmds_map_close(m) == 0);
		_exit(0);
	}
	t_wait_child(pid);
}
END_TEST

START_TEST(test_nocache_is_enotsup_on_linux)
{
#ifdef __linux__
	const char *p = make_file("f", 4096);

	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_NOCACHE }, -ENOTSUP);
	anon_fails(&(mmds_map_opts){ .size = 4096, .flags = MMDS_MAP_NOCACHE },
		   -ENOTSUP);
#else
	t_skip("MMDS_MAP_NOCACHE is -ENOTSUP only on Linux");
#endif
}
END_TEST

START_TEST(test_sync_flag_on_normal_file_is_enotsup)
{
	const char *p = make_file("f", 4096);

	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_SYNC }, -ENOTSUP);
	open_fails(t_path("new"), &(mmds_map_opts){
		.flags = MMDS_MAP_SYNC | MMDS_MAP_CREATE, .size = 4096 }, -ENOTSUP);
	/* SYNC needs a shared, writable map. */
	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_SYNC | MMDS_MAP_PRIVATE },
		   -EINVAL);
	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_SYNC,
					.access = MMDS_READ }, -EINVAL);
	ck_assert_int_eq(t_file_size(p), 4096);
}
END_TEST

/* A free, page-aligned range of len bytes: mapped, then given back. */
static void *free_range(size_t len)
{
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(munmap(p, len), 0);
	return p;
}

START_TEST(test_fixed_at_free_address_maps_there)
{
	const char *p = make_file("f", 8192);
	void *addr = free_range(1 << 20);
	unsigned char buf[8];
	mmds_map *m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_FIXED,
						   .addr = addr,
						   .capacity = 1 << 20 });

	ck_assert_ptr_eq(mmds_map_data(m), addr);
	ck_assert_pattern(addr, 0, 8192);
	ck_assert_int_eq(mmds_map_write(m, 0, "fixed", 5), 0);
	ck_assert_mem_eq(addr, "fixed", 5);
	ck_assert_int_eq(mmds_map_resize(m, 1 << 20), 0);
	ck_assert_ptr_eq(mmds_map_data(m), addr);
	close_ok(m);
	pread_file(p, 0, buf, 5);
	ck_assert_mem_eq(buf, "fixed", 5);

	/* Anonymous too. */
	addr = free_range(1 << 20);
	m = anon_ok(&(mmds_map_opts){ .flags = MMDS_MAP_FIXED, .addr = addr,
				      .size = 4096, .capacity = 1 << 20 });
	ck_assert_ptr_eq(mmds_map_data(m), addr);
	close_ok(m);
}
END_TEST

START_TEST(test_fixed_over_occupied_range_is_eexist)
{
	const char *p = make_file("f", 4096);
	size_t ps = page();
	unsigned char *addr = free_range(1 << 20);
	unsigned char *mine;

	/* Occupy one page in the middle of the range with data of ours. */
	mine = mmap(addr + 16 * ps, ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	ck_assert_ptr_eq(mine, addr + 16 * ps);
	memset(mine, 0x3C, ps);
	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_FIXED, .addr = addr,
					.capacity = 1 << 20 }, -EEXIST);
	anon_fails(&(mmds_map_opts){ .flags = MMDS_MAP_FIXED, .addr = addr,
				     .size = 4096, .capacity = 1 << 20 },
		   -EEXIST);
	/* Exactly over our page. */
	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_FIXED, .addr = mine,
					.capacity = ps }, -EEXIST);
	/* Our mapping survived, untouched. */
	for (size_t i = 0; i < ps; i++)
		ck_assert_uint_eq(mine[i], 0x3C);
	munmap(mine, ps);
}
END_TEST

START_TEST(test_fixed_with_unaligned_or_null_addr_is_einval)
{
	const char *p = make_file("f", 4096);
	unsigned char *addr = free_range(1 << 20);

	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_FIXED, .addr = NULL },
		   -EINVAL);
	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_FIXED,
					.addr = addr + 1,
					.capacity = 65536 }, -EINVAL);
	open_fails(p, &(mmds_map_opts){ .flags = MMDS_MAP_FIXED,
					.addr = addr + page() / 2,
					.capacity = 65536 }, -EINVAL);
	anon_fails(&(mmds_map_opts){ .flags = MMDS_MAP_FIXED, .size = 4096 },
		   -EINVAL);
	anon_fails(&(mmds_map_opts){ .flags = MMDS_MAP_FIXED, .size = 4096,
				     .addr = addr + 8 }, -EINVAL);
}
END_TEST

START_TEST(test_unlink_flag_removes_file_at_close)
{
	char path[PATH_MAX];
	mmds_map *m;

	snprintf(path, sizeof(path), "%s", t_path("tmpfile"));
	m = open_ok(path, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_UNLINK, .size = 4096 });
	ck_assert_int_eq(access(path, F_OK), 0);
	ck_assert_int_eq(mmds_map_write(m, 0, "x", 1), 0);
	close_ok(m);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* On an existing file, and a failed open does not unlink. */
	snprintf(path, sizeof(path), "%s", make_file("existing", 4096));
	open_fails(path, &(mmds_map_opts){ .flags = MMDS_MAP_UNLINK,
					   .access = MMDS_READ, .size = 8192 },
		   -ERANGE);
	ck_assert_int_eq(access(path, F_OK), 0);
	m = open_ok(path, &(mmds_map_opts){ .flags = MMDS_MAP_UNLINK,
					    .access = MMDS_READ });
	close_ok(m);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(test_noreserve_map_works)
{
	const char *p = make_file("f", 8192);
	unsigned char buf[8];
	mmds_map *m = anon_ok(&(mmds_map_opts){
		.flags = MMDS_MAP_PRIVATE | MMDS_MAP_NORESERVE, .size = 64 << 20 });

	ck_assert_uint_eq(mmds_map_size(m), 64 << 20);
	ck_assert_int_eq(mmds_map_write(m, (64 << 20) - 8, "reserve!", 8), 0);
	ck_assert_int_eq(mmds_map_read(m, (64 << 20) - 8, buf, 8), 0);
	ck_assert_mem_eq(buf, "reserve!", 8);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 8), 0);
	ck_assert_mem_eq(buf, "\0\0\0\0\0\0\0\0", 8);
	close_ok(m);

	m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_NORESERVE });
	ck_assert_int_eq(mmds_map_write(m, 8000, "shared", 6), 0);
	pread_file(p, 8000, buf, 6);
	ck_assert_mem_eq(buf, "shared", 6);
	close_ok(m);

	m = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_NORESERVE |
							  MMDS_MAP_PRIVATE });
	ck_assert_int_eq(mmds_map_write(m, 0, "priv", 4), 0);
	pread_file(p, 0, buf, 4);
	ck_assert_pattern(buf, 0, 4);
	close_ok(m);
}
END_TEST

/* ---- advice, prefetch, touch, lock ----------------------------------------- */

START_TEST(test_advise_each_value_on_file_map)
{
	static const enum mmds_advice plain[] = {
		MMDS_ADV_NORMAL, MMDS_ADV_RANDOM, MMDS_ADV_SEQUENTIAL,
		MMDS_ADV_WILLNEED, MMDS_ADV_DONTNEED
	};
	const char *p = make_file("f", 5 * 4096);
	unsigned char buf[8];
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_write(m, 4096, "written!", 8), 0);
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		ck_assert_int_eq(mmds_map_advise(m, 0, 0, plain[i]), 0);
		ck_assert_int_eq(mmds_map_advise(m, 100, 5000, plain[i]), 0);
	}
	for (int a = MMDS_ADV_HUGEPAGE; a <= MMDS_ADV_NOHUGEPAGE; a++) {
		int rc = mmds_map_advise(m, 0, 0, (enum mmds_advice)a);

		ck_assert_msg(rc == 0 || rc == -ENOTSUP, "advice %d: %d (%s)",
			      a, rc, mmds_strerror(rc));
	}
	/* A shared file map rereads dropped pages from the file. */
	ck_assert_int_eq(mmds_map_read(m, 4096, buf, 8), 0);
	ck_assert_mem_eq(buf, "written!", 8);
	ck_assert_int_eq(mmds_map_read(m, 0, buf, 8), 0);
	ck_assert_pattern(buf, 0, 8);
	close_ok(m);
}
END_TEST

START_TEST(test_advise_bad_range_or_value)
{
	const char *p = make_file("f", 8192);
	mmds_map *m = open_ok(p, NULL);

	ck_assert_int_eq(mmds_map_advise(m, 0, 8193, MMDS_ADV_NORMAL), -ERANGE);
	ck_assert_int_eq(mmds_map_advise(m, 8193, 0, MMDS_ADV_RANDOM), -ERANGE);
	ck_assert_int_eq(mmds_map_advise(m, 8000, 200, MMDS_ADV_DONTNEED),
			 -ERANGE);
	ck_assert_int_eq(mmds_map_advise(m, 1, UINT64_MAX, MMDS_ADV_WILLNEED),
			 -ERANGE);
	ck_assert_int_eq(mmds_map_advise(m, 0, 0, (enum mmds_advice)7), -EINVAL);
	ck_assert_int_eq(mmds_map_advise(m, 0, 0, (enum mmds_advice)99), -EINVAL);
	ck_assert_int_eq(mmds_map_advise(m, 0, 0, (enum mmds_advice)-1), -EINVAL);
	ck_assert_int_eq(mmds_map_advise(NULL, 0, 0, MMDS_ADV_NORMAL), -EINVAL);
	close_ok(m);
}
END_TEST

START_TEST(test_dontneed_zeroes_only_whole_pages_inside_range)
{
	size_t ps = page();
	mmds_map *m = anon_ok(&(mmds_map_opts){ .flags = MMDS_MAP_PRIVATE,
						.size = 4 * ps });
	unsigned char *d = mmds_map_data(m);

	memset(d, 0xFF, 4 * ps);
	/* [100, 3 ps + 50): pages 1 and 2 lie wholly inside. */
	ck_assert_int_eq(mmds_map_advise(m, 100, 3 * ps - 50, MMDS_ADV_DONTNEED),
			 0);
	for (size_t i = 0; i < 4 * ps; i++) {
		unsigned want = (i >= ps && i < 3 * ps) ? 0 : 0xFF;

		ck_assert_msg(d[i] == want, "byte %zu is 0x%02x, want 0x%02x",
			      i, d[i], want);
	}
	/* len 0 = to the end: pages 1..3 from an offset inside page 0. */
	memset(d, 0xFF, 4 * ps);
	ck_assert_int_eq(mmds_map_advise(m, 1, 0, MMDS_ADV_DONTNEED), 0);
	for (size_t i = 0; i < 4 * ps; i++)
		ck_assert_uint_eq(d[i], i >= ps ? 0 : 0xFF);
	/* A range inside one page drops nothing. */
	memset(d, 0xFF, 4 * ps);
	ck_assert_int_eq(mmds_map_advise(m, ps + 1, ps - 2, MMDS_ADV_DONTNEED), 0);
	for (size_t i = 0; i < 4 * ps; i++)
		ck_assert_uint_eq(d[i], 0xFF);
	close_ok(m);

	/* A private file map loses its changes and reads the file again. */
	m = open_ok(make_file("f", 4 * ps), &(mmds_map_opts){
		.flags = MMDS_MAP_PRIVATE });
	d = mmds_map_data(m);
	memset(d, 0xFF, 4 * ps);
	ck_assert_int_eq(mmds_map_advise(m, ps, 2 * ps, MMDS_ADV_DONTNEED), 0);
	for (size_t i = 0; i < 4 * ps; i++)
		ck_assert_uint_eq(d[i], (i >= ps && i < 3 * ps) ? pat(i) : 0xFF);
	close_ok(m);
}
END_TEST

/* Resident and dirty bytes of the mapping that starts at addr, from
 * /proc/self/smaps. */
static void smaps_of(const void *addr, uint64_t *rss, uint64_t *dirty)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;

	ck_assert_ptr_nonnull(f);
	*rss = *dirty = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, kb;

		/* A mapping's first line, "lo-hi perms ..."; no field line
		 * parses as two numbers around a dash. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = lo == (uintptr_t)addr;
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %lu kB", &kb) == 1)
			*rss += kb * 1024;
		else if (sscanf(line, "Shared_Dirty: %lu kB", &kb) == 1 ||
			 sscanf(line, "Private_Dirty: %lu kB", &kb) == 1)
			*dirty += kb * 1024;
	}
	fclose(f);
}

/* mmap-io's touch_pages reads a byte of each page: mmds_map_touch_read()
 * faults a writable file map in the same way, dirtying nothing (a write
 * fault marks every page dirty, to be written back by the next sync, or
 * copies it in a private map), while mmds_map_touch() prepares for
 * writing. */
START_TEST(test_touch_read_dirties_no_page)
{
	const char *p = make_file("tr", 64 * 4096);
	mmds_map *m = open_ok(p, NULL), *pm;
	uint64_t rss, dirty;

	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_SYNC), 0);
	ck_assert_int_eq(mmds_map_advise(m, 0, 0, MMDS_ADV_DONTNEED), 0);
	ck_assert_int_eq(mmds_map_touch_read(m, 0, 0), 0);
	smaps_of(mmds_map_data(m), &rss, &dirty);
	ck_assert_uint_eq(rss, 64 * 4096);
	ck_assert_uint_eq(dirty, 0);
	ck_assert_pattern(mmds_map_data(m), 0, 64 * 4096);
	/* At least that page (a large folio of the page cache counts as
	 * dirty all together). */
	ck_assert_int_eq(mmds_map_touch(m, 0, 4096), 0);
	smaps_of(mmds_map_data(m), &rss, &dirty);
	ck_assert_uint_ge(dirty, 4096);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_SYNC), 0);
	close_ok(m);

	pm = open_ok(p, &(mmds_map_opts){ .flags = MMDS_MAP_PRIVATE });
	ck_assert_int_eq(mmds_map_touch_read(pm, 0, 0), 0);
	smaps_of(mmds_map_data(pm), &rss, &dirty);
	ck_assert_uint_eq(rss, 64 * 4096);
	ck_assert_uint_eq(dirty, 0);
	ck_assert_int_eq(mmds_map_touch_read(pm, 1, 64 * 4096), -ERANGE);
	ck_assert_int_eq(mmds_map_touch_read(NULL, 0, 0), -EINVAL);
	close_ok(pm);
}
END_TEST

START_TEST(test_prefetch_and_touch_ranges)
{
	const char *p = make_file("f", 5 * 4096);
	mmds_map *m = open_ok(p, NULL);
	mmds_map *r = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ,
						   .offset = 4097 });
	mmds_map *a = anon_ok(&(mmds_map_opts){ .size = 8192 });
	size_t len;
	unsigned char *f;

	ck_assert_int_eq(mmds_map_prefetch(m, 0, 0), 0);
	ck_assert_int_eq(mmds_map_prefetch(m, 100, 10000), 0);
	ck_assert_int_eq(mmds_map_prefetch(m, 20480, 0), 0);
	ck_assert_int_eq(mmds_map_prefetch(m, 20481, 0), -ERANGE);
	ck_assert_int_eq(mmds_map_prefetch(m, 0, 20481), -ERANGE);
	ck_assert_int_eq(mmds_map_prefetch(a, 0, 0), 0);
	ck_assert_int_eq(mmds_map_prefetch(a, 0, 8193), -ERANGE);

	ck_assert_int_eq(mmds_map_touch(m, 0, 0), 0);
	ck_assert_int_eq(mmds_map_touch(m, 5000, 3), 0);
	ck_assert_int_eq(mmds_map_touch(m, 20481, 0), -ERANGE);
	ck_assert_int_eq(mmds_map_touch(m, 20000, 481), -ERANGE);
	ck_assert_int_eq(mmds_map_touch(r, 0, 0), 0);
	ck_assert_int_eq(mmds_map_touch(r, 0, 20480 - 4097 + 1), -ERANGE);
	ck_assert_int_eq(mmds_map_touch(a, 0, 0), 0);
	/* Touching changes nothing. */
	ck_assert_pattern(mmds_map_data(r), 4097, 20480 - 4097);
	f = t_read_file(p, &len);
	ck_assert_uint_eq(len, 20480);
	ck_assert_pattern(f, 0, len);
	free(f);
	ck_assert_int_eq(mmds_map_read(a, 0, &len, sizeof(len)), 0);
	ck_assert_uint_eq(len, 0);
	close_ok(a);
	close_ok(r);
	close_ok(m);
}
END_TEST

START_TEST(test_lock_ranges_and_lock_all)
{
	const char *p = make_file("f", 65536);
	mmds_map_info info;
	long kb;
	mmds_map *m;

	need_memlock(2 << 20);
	m = open_ok(p, NULL);
	ck_assert_int_eq(mmds_map_lock(m, 0, 0), 0);
	ck_assert_int_eq(mmds_map_unlock(m, 0, 0), 0);
	ck_assert_int_eq(mmds_map_lock(m, 100, 5000), 0);
	kb = vm_locked_kb();
	if (kb >= 0)
		ck_assert_int_ge(kb, 5100 / 1024);
	ck_assert_int_eq(mmds_map_unlock(m, 100, 5000), 0);
	ck_assert_int_eq(mmds_map_lock(m, 65537, 0), -ERANGE);
	ck_assert_int_eq(mmds_map_lock(m, 0, 65537), -ERANGE);
	ck_assert_int_eq(mmds_map_unlock(m, 65000, 1000), -ERANGE);
	ck_assert_int_eq(mmds_map_unlock(m, UINT64_MAX, 2), -ERANGE);
	kb = vm_locked_kb();
	if (kb >= 0)
		ck_assert_int_eq(kb, 0);

	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.flags & MMDS_MAP_LOCK, 0);
	ck_assert_int_eq(mmds_map_lock_all(m), 0);
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.flags & MMDS_MAP_LOCK, MMDS_MAP_LOCK);
	kb = vm_locked_kb();
	if (kb >= 0)
		ck_assert_int_ge(kb, 64);
	/* Ranges added later are locked too. */
	ck_assert_int_eq(mmds_map_resize(m, 2 << 20), 0);
	kb = vm_locked_kb();
	if (kb >= 0)
		ck_assert_int_ge(kb, 2048);
	ck_assert_int_eq(mmds_map_unlock_all(m), 0);
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.flags & MMDS_MAP_LOCK, 0);
	kb = vm_locked_kb();
	if (kb >= 0)
		ck_assert_int_eq(kb, 0);
	/* And after unlock_all, growth no longer locks. */
	ck_assert_int_eq(mmds_map_resize(m, 4 << 20), 0);
	kb = vm_locked_kb();
	if (kb >= 0)
		ck_assert_int_eq(kb, 0);
	ck_assert_int_eq(mmds_map_lock_all(NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_unlock_all(NULL), -EINVAL);
	close_ok(m);
}
END_TEST

/* ---- info ------------------------------------------------------------------ */

START_TEST(test_info_describes_file_map)
{
	char path[PATH_MAX];
	mmds_map_info info;
	mmds_map *m;

	snprintf(path, sizeof(path), "%s", t_path("f"));
	m = open_ok(path, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_POPULATE, .size = 12345 });
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.size, 12345);
	ck_assert_uint_eq(info.capacity, MMDS_MAP_DEFAULT_CAPACITY);
	ck_assert_uint_eq(MMDS_MAP_DEFAULT_CAPACITY,
			  sizeof(void *) == 8 ? 1ull << 30 : 1ull << 26);
	ck_assert_uint_eq(info.offset, 0);
	ck_assert_ptr_nonnull(info.path);
	ck_assert_str_eq(info.path, path);
	ck_assert_ptr_eq(info.data, mmds_map_data(m));
	ck_assert_int_eq(info.fd, mmds_map_fd(m));
	ck_assert_int_ge(info.fd, 0);
	ck_assert_uint_eq(info.access, MMDS_RDWR); /* 0 means RDWR */
	/* Whether CREATE still counts as "in force" after the open is not
	 * said; POPULATE is, and nothing else was asked for. */
	ck_assert_uint_eq(info.flags & ~(unsigned)MMDS_MAP_CREATE,
			  MMDS_MAP_POPULATE);
	ck_assert_int_eq(info.anonymous, 0);
	ck_assert_int_eq(mmds_map_resize(m, 20000), 0);
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.size, 20000);
	close_ok(m);

	m = open_ok(path, &(mmds_map_opts){ .access = MMDS_READ, .offset = 4097,
					    .size = 1000 });
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.size, 1000);
	ck_assert_uint_eq(info.offset, 4097);
	ck_assert_uint_eq(info.access, MMDS_READ);
	ck_assert_uint_eq(info.flags, 0);
	ck_assert_uint_eq(info.capacity, MMDS_MAP_DEFAULT_CAPACITY);
	ck_assert_ptr_eq(info.data, mmds_map_data(m));
	close_ok(m);

	m = open_ok(path, &(mmds_map_opts){ .access = MMDS_WRITE });
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.access, MMDS_WRITE);
	close_ok(m);
	ck_assert_int_eq(mmds_map_get_info(NULL, &info), -EINVAL);
}
END_TEST

START_TEST(test_info_describes_anonymous_map)
{
	mmds_map_info info;
	mmds_map *m = anon_ok(&(mmds_map_opts){ .size = 5000 });

	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.size, 5000);
	ck_assert_uint_eq(info.capacity, MMDS_MAP_DEFAULT_CAPACITY);
	ck_assert_ptr_null(info.path);
	ck_assert_int_eq(info.anonymous, 1);
	ck_assert_int_ge(info.fd, 0);
	ck_assert_int_eq(info.fd, mmds_map_fd(m));
	ck_assert_ptr_eq(info.data, mmds_map_data(m));
	ck_assert_uint_eq(info.access, MMDS_RDWR);
	ck_assert_uint_eq(info.offset, 0);
	ck_assert_int_eq(mmds_map_get_info(m, NULL), -EINVAL);
	close_ok(m);

	m = anon_ok(&(mmds_map_opts){ .flags = MMDS_MAP_PRIVATE, .size = 5000,
				      .capacity = 10000 });
	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_int_eq(info.fd, -1);
	ck_assert_int_eq(info.anonymous, 1);
	ck_assert_uint_eq(info.flags, MMDS_MAP_PRIVATE);
	ck_assert_uint_eq(info.capacity, (10000 + page() - 1) / page() * page());
	close_ok(m);
}
END_TEST

START_TEST(test_info_capacity_is_size_when_larger_than_default)
{
	uint64_t big = MMDS_MAP_DEFAULT_CAPACITY + page();
	mmds_map_info info;
	mmds_map *m = anon_ok(&(mmds_map_opts){
		.flags = MMDS_MAP_PRIVATE | MMDS_MAP_NORESERVE, .size = big });

	ck_assert_int_eq(mmds_map_get_info(m, &info), 0);
	ck_assert_uint_eq(info.size, big);
	ck_assert_uint_eq(info.capacity, big);
	ck_assert_int_eq(mmds_map_resize(m, big + 1), -EFBIG);
	close_ok(m);
}
END_TEST

/* ---- error strings --------------------------------------------------------- */

START_TEST(test_strerror_of_returned_codes_is_known)
{
	const char *p = make_file("f", 4096);
	int codes[16], n = 0;
	char line[4];
	mmds_cursor c;
	mmds_map *m = NOT_NULL_MAP, *rm;

	codes[n++] = mmds_map_open(&m, t_path("missing"), NULL);
	codes[n++] = mmds_map_open(&m, p, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL });
	codes[n++] = mmds_map_open(&m, p, &(mmds_map_opts){ .flags = 1u << 30 });
	codes[n++] = mmds_map_open(&m, p, &(mmds_map_opts){ .flags = MMDS_MAP_SYNC });
	codes[n++] = mmds_map_open_fd(&m, -1, NULL);
	rm = open_ok(p, &(mmds_map_opts){ .access = MMDS_READ,
					  .capacity = 4096 });
	codes[n++] = mmds_map_read(rm, 4000, line, 100);
	codes[n++] = mmds_map_write(rm, 0, "x", 1);
	ck_assert_int_eq(mmds_cursor_init(&c, rm), 0);
	codes[n++] = (int)mmds_cursor_read_line(&c, line, sizeof(line));
	close_ok(rm);
	rm = open_ok(p, &(mmds_map_opts){ .capacity = 4096 });
	codes[n++] = mmds_map_resize(rm, 8192);
	close_ok(rm);

	static const int want[] = { -ENOENT, -EEXIST, -EINVAL, -ENOTSUP, -EBADF,
				    -ERANGE, -EACCES, -ENOBUFS, -EFBIG };
	ck_assert_int_eq(n, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < n; i++) {
		const char *s = mmds_strerror(codes[i]);

		ck_assert_int_eq(codes[i], want[i]);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_ne(s, "unknown error");
		ck_assert_str_ne(s, "success");
		ck_assert_str_eq(s, mmds_strerror(-codes[i]));
	}
	ck_assert_uint_eq(mmds_page_size(), (size_t)sysconf(_SC_PAGESIZE));
}
END_TEST

/* ---- suite ----------------------------------------------------------------- */

Suite *map_suite(void)
{
	Suite *s = suite_create("map");
	TCase *tc;

	tc = t_tcase(s, "open", 0);
	tcase_add_test(tc, test_open_nonexistent_file_is_enoent);
	tcase_add_test(tc, test_open_without_file_permission_is_eacces);
	tcase_add_test(tc, test_created_file_is_0600_unless_mode_given);
	tcase_add_test(tc, test_create_makes_zero_filled_file_of_size);
	tcase_add_test(tc, test_create_excl_on_existing_file_is_eexist);
	tcase_add_test(tc, test_create_with_size_applies_size_to_existing_file);
	tcase_add_test(tc, test_open_or_create_maps_existing_file_whole);
	tcase_add_test(tc, test_open_or_create_creates_missing_file_of_size);
	tcase_add_test(tc, test_open_or_create_racing_processes_all_map_the_size);
	tcase_add_test(tc, test_open_or_create_existing_file_in_unwritable_directory);
	tcase_add_test(tc, test_open_or_create_bad_combinations_are_einval);
	tcase_add_test(tc, test_excl_without_create_is_einval);
	tcase_add_test(tc, test_create_through_dangling_symlink_creates_the_target);
	tcase_add_test(tc, test_failed_create_through_symlink_removes_the_target_not_the_link);
	tcase_add_test(tc, test_nofollow_refuses_a_symlink_with_eloop);
	tcase_add_test(tc, test_nofollow_opens_and_creates_plain_files);
	tcase_add_test(tc, test_read_access_with_create_or_truncate_is_einval);
	tcase_add_test(tc, test_truncate_empties_existing_file);
	tcase_add_test(tc, test_unknown_flags_or_access_is_einval);
	tcase_add_test(tc, test_null_out_or_path_is_einval);
	tcase_add_test(tc, test_close_null_is_zero);
	tcase_add_test(tc, test_open_offset_plus_size_overflow_is_erange);
	tcase_add_test(tc, test_open_capacity_below_size_is_einval);
	tcase_add_test(tc, test_open_writable_grows_short_file_with_space_allocated);
	tcase_add_test(tc, test_open_directory_fails);

	tc = t_tcase(s, "zero_length", 0);
	tcase_add_test(tc, test_zero_length_file_opens_as_empty_map);
	tcase_add_test(tc, test_zero_length_file_grows_by_resize);

	tc = t_tcase(s, "window", 0);
	tcase_add_test(tc, test_window_at_unaligned_offset_reads_its_bytes);
	tcase_add_test(tc, test_window_writes_land_at_offset_in_file);
	tcase_add_test(tc, test_window_of_size_zero_reaches_end_of_file);
	tcase_add_test(tc, test_read_only_window_beyond_end_is_erange);
	tcase_add_test(tc, test_writable_window_beyond_end_grows_file);
	tcase_add_test(tc, test_window_atomics_align_by_absolute_address);

	tc = t_tcase(s, "bounds", 0);
	tcase_add_test(tc, test_read_beyond_end_is_erange);
	tcase_add_test(tc, test_offset_overflow_is_erange);
	tcase_add_test(tc, test_zero_length_access_at_size_is_ok_beyond_is_erange);
	tcase_add_test(tc, test_write_on_read_only_map_is_eacces);
	tcase_add_test(tc, test_read_on_write_only_map_is_eacces);
	tcase_add_test(tc, test_null_buffer_with_length_is_einval);

	tc = t_tcase(s, "writev", 0);
	tcase_add_test(tc, test_writev_writes_buffers_back_to_back);
	tcase_add_test(tc, test_writev_out_of_range_writes_nothing);
	tcase_add_test(tc, test_writev_bad_iov_arguments_are_einval);

	tc = t_tcase(s, "pointers", 0);
	tcase_add_test(tc, test_ptr_is_inside_map_or_null);
	tcase_add_test(tc, test_data_unchanged_across_grow_and_shrink);

	tc = t_tcase(s, "cursor", 0);
	tcase_add_test(tc, test_cursor_read_is_short_at_end_then_zero);
	tcase_add_test(tc, test_cursor_read_line_with_and_without_final_newline);
	tcase_add_test(tc, test_cursor_read_line_enobufs_keeps_position_and_fits_exactly);
	tcase_add_test(tc, test_cursor_seek_set_cur_end_and_errors);
	tcase_add_test(tc, test_cursor_write_never_grows_map);
	tcase_add_test(tc, test_cursor_after_shrink_reads_nothing);

	tc = t_tcase(s, "atomics", 0);
	tcase_add_test(tc, test_atomic64_ops_return_old_and_store_new);
	tcase_add_test(tc, test_atomic32_ops_return_old_and_store_new);
	tcase_add_test(tc, test_atomic_old_may_be_null);
	tcase_add_test(tc, test_atomic_misaligned_offset_is_einval);
	tcase_add_test(tc, test_atomic_out_of_range_is_erange);

	tc = t_tcase(s, "private", 10);
	tcase_add_test(tc, test_private_writes_never_reach_file);
	tcase_add_test(tc, test_private_writes_invisible_to_other_process);
	tcase_add_test(tc, test_private_map_grows_only_over_file_bytes);

	tc = t_tcase(s, "shared", 30);
	tcase_add_test(tc, test_shared_writes_seen_by_other_processes);
	tcase_add_test(tc, test_shared_add_from_four_processes_sums_exactly);
	tcase_add_test(tc, test_published_write_survives_kill_9_of_writer);

	tc = t_tcase(s, "anonymous", 10);
	tcase_add_test(tc, test_anon_shared_is_shared_with_forked_child);
	tcase_add_test(tc, test_anon_private_is_not_shared_with_child);
	tcase_add_test(tc, test_anon_fd_reopened_through_proc_sees_same_bytes);
	tcase_add_test(tc, test_anon_rejects_null_opts_offset_and_file_flags);
	tcase_add_test(tc, test_anon_zero_size_map_grows);

	tc = t_tcase(s, "open_fd", 0);
	tcase_add_test(tc, test_open_fd_caller_may_close_fd_at_once);
	tcase_add_test(tc, test_open_fd_read_only_fd_with_write_access_is_eacces);
	tcase_add_test(tc, test_open_fd_rejects_create_excl_unlink);
	tcase_add_test(tc, test_open_fd_bad_fd_is_ebadf);
	tcase_add_test(tc, test_open_fd_truncate_empties_file);

	tc = t_tcase(s, "resize", 30);
	tcase_add_test(tc, test_resize_grow_then_shrink_keeps_content_and_base);
	tcase_add_test(tc, test_resize_beyond_capacity_is_efbig);
	tcase_add_test(tc, test_resize_read_only_map_is_eacces);
	tcase_add_test(tc, test_window_resize_grows_file_only_to_its_end);
	tcase_add_test(tc, test_resize_while_threads_read_and_write);
	tcase_add_test(tc, test_refresh_adopts_size_changed_by_other_process);

	tc = t_tcase(s, "full_disk", 20);
	tcase_add_test(tc, test_resize_beyond_rlimit_fsize_is_efbig);
	tcase_add_test(tc, test_full_tmpfs_is_enospc_and_keeps_data);

	tc = t_tcase(s, "sync", 20);
	tcase_add_test(tc, test_sync_levels_put_data_in_file);
	tcase_add_test(tc, test_sync_bad_level_is_einval);
	tcase_add_test(tc, test_durable_sync_after_directory_removed_succeeds);
	tcase_add_test(tc, test_sync_range_out_of_range_is_erange);
	tcase_add_test(tc, test_sync_private_and_anonymous_return_zero);

	tc = t_tcase(s, "flags", 10);
	tcase_add_test(tc, test_populate_and_lock_flags_open_small_file);
	tcase_add_test(tc, test_lock_beyond_memlock_limit_fails);
	tcase_add_test(tc, test_nocache_is_enotsup_on_linux);
	tcase_add_test(tc, test_sync_flag_on_normal_file_is_enotsup);
	tcase_add_test(tc, test_fixed_at_free_address_maps_there);
	tcase_add_test(tc, test_fixed_over_occupied_range_is_eexist);
	tcase_add_test(tc, test_fixed_with_unaligned_or_null_addr_is_einval);
	tcase_add_test(tc, test_unlink_flag_removes_file_at_close);
	tcase_add_test(tc, test_noreserve_map_works);

	tc = t_tcase(s, "advise", 10);
	tcase_add_test(tc, test_advise_each_value_on_file_map);
	tcase_add_test(tc, test_advise_bad_range_or_value);
	tcase_add_test(tc, test_dontneed_zeroes_only_whole_pages_inside_range);
	tcase_add_test(tc, test_prefetch_and_touch_ranges);
	tcase_add_test(tc, test_touch_read_dirties_no_page);
	tcase_add_test(tc, test_lock_ranges_and_lock_all);

	tc = t_tcase(s, "info", 0);
	tcase_add_test(tc, test_info_describes_file_map);
	tcase_add_test(tc, test_info_describes_anonymous_map);
	tcase_add_test(tc, test_info_capacity_is_size_when_larger_than_default);
	tcase_add_test(tc, test_strerror_of_returned_codes_is_known);
	return s;
}

int main(void)
{
	return t_run_suite(map_suite());
}
