/* test_flush.c - flush policies, the dirty range and the flusher thread
 * (lib/flush.c).  msync and fdatasync are wrapped (-Wl,--wrap, with the
 * library linked statically), so each test sees exactly which syncs the
 * library issued, over which addresses, with which flags. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <mmds/map.h>

#include "t_util.h"

Suite *flush_suite(void);

/* ---- the wrapped system calls -------------------------------------------- */

int __real_msync(void *addr, size_t len, int flags);
int __real_fdatasync(int fd);
int __wrap_msync(void *addr, size_t len, int flags);
int __wrap_fdatasync(int fd);
int __real_sync_file_range(int fd, off_t off, off_t len, unsigned flags);
int __wrap_sync_file_range(int fd, off_t off, off_t len, unsigned flags);

#define MAX_CALLS 8192

struct sync_call {
	uintptr_t addr;
	size_t len;
	int flags;
	bool done;  /* returned */
};

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sync_call calls[MAX_CALLS];
static atomic_uint n_msync;     /* msync calls begun (index of the next) */
static atomic_uint n_fdatasync;
static atomic_int fail_msync;   /* errno for the next msync to fail with */
static atomic_uint slow_msync;  /* microseconds each msync sleeps first */

/* Set by a thread that wants to run a hook right after its own msync
 * returns, before the library goes on (test_flush_racing_user_sync_...). */
static _Thread_local void (*after_msync)(void);

int __wrap_msync(void *addr, size_t len, int flags)
{
	int fail = atomic_exchange(&fail_msync, 0);
	unsigned i, slow = atomic_load(&slow_msync);
	int rc;

	pthread_mutex_lock(&rec_lock);
	i = atomic_load(&n_msync);
	if (i < MAX_CALLS)
		calls[i] = (struct sync_call){ .addr = (uintptr_t)addr,
					       .len = len, .flags = flags };
	atomic_store(&n_msync, i + 1);
	pthread_mutex_unlock(&rec_lock);
	if (slow)
		usleep(slow);
	if (fail) {
		errno = fail;
		rc = -1;
	} else {
		rc = __real_msync(addr, len, flags);
	}
	pthread_mutex_lock(&rec_lock);
	if (i < MAX_CALLS)
		calls[i].done = true;
	pthread_mutex_unlock(&rec_lock);
	if (after_msync)
		after_msync();
	return rc;
}

int __wrap_fdatasync(int fd)
{
	atomic_fetch_add(&n_fdatasync, 1);
	return __real_fdatasync(fd);
}

static atomic_uint n_sfr;         /* sync_file_range calls */
static _Atomic off_t sfr_off, sfr_len;
static atomic_uint sfr_flags;

int __wrap_sync_file_range(int fd, off_t off, off_t len, unsigned flags)
{
	atomic_fetch_add(&n_sfr, 1);
	atomic_store(&sfr_off, off);
	atomic_store(&sfr_len, len);
	atomic_store(&sfr_flags, flags);
	return __real_sync_file_range(fd, off, len, flags);
}

static struct sync_call get_call(unsigned i)
{
	struct sync_call c;
	unsigned n;

	ck_assert_uint_lt(i, MAX_CALLS);
	pthread_mutex_lock(&rec_lock);
	n = atomic_load(&n_msync);
	c = calls[i];
	pthread_mutex_unlock(&rec_lock);
	ck_assert_uint_lt(i, n);
	return c;
}

static void reset_calls(void)
{
	pthread_mutex_lock(&rec_lock);
	atomic_store(&n_msync, 0);
	atomic_store(&n_fdatasync, 0);
	atomic_store(&fail_msync, 0);
	atomic_store(&slow_msync, 0);
	pthread_mutex_unlock(&rec_lock);
}

/* ---- helpers ------------------------------------------------------------- */

static size_t ps;

static void setup(void)
{
	t_tmpdir_setup();
	ps = mmds_page_size();
	reset_calls();
}

static void teardown(void)
{
	t_tmpdir_teardown();
}

#define POL(m, n, l)                                                         \
	((mmds_flush_policy){ .mode = (m), .every = (n), .level = (l) })

static mmds_map *open_map(const char *name, uint64_t size,
			  mmds_flush_policy pol)
{
	mmds_map *m = NULL;
	int rc = mmds_map_open(&m, t_path(name),
			       &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
						 .size = size,
						 .flush = pol });

	ck_assert_msg(rc == 0, "open %s: %s", name, mmds_strerror(rc));
	return m;
}

static uintptr_t base_of(const mmds_map *m)
{
	return (uintptr_t)mmds_map_data(m);
}

static uintptr_t pfloor(uintptr_t a)
{
	return a & ~(uintptr_t)(ps - 1);
}

static uintptr_t pceil(uintptr_t a)
{
	return (a + ps - 1) & ~(uintptr_t)(ps - 1);
}

/* msync number i covered exactly the pages of [off, off + len) of m. */
static void expect_sync(unsigned i, const mmds_map *m, uint64_t off,
			uint64_t len)
{
	struct sync_call c = get_call(i);
	uintptr_t a = base_of(m) + off;

	ck_assert_msg(c.addr == pfloor(a) && c.addr + c.len == pceil(a + len),
		      "msync %u: [%#lx, +%zu), want [%#lx, %#lx)", i,
		      (unsigned long)c.addr, c.len, (unsigned long)pfloor(a),
		      (unsigned long)pceil(a + len));
}

static int set_policy(mmds_map *m, mmds_flush_policy p)
{
	return mmds_map_set_flush(m, &p);
}

static void put(mmds_map *m, uint64_t off, size_t len)
{
	static const char junk[8192] = { 1 };

	ck_assert_uint_le(len, sizeof(junk));
	ck_assert_int_eq(mmds_map_write(m, off, junk, len), 0);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Poll cond every millisecond until it holds or timeout_ms passed. */
#define POLL(cond, timeout_ms)                                               \
	do {                                                                 \
		uint64_t t0_ = now_ms();                                     \
		while (!(cond) && now_ms() - t0_ < (uint64_t)(timeout_ms))   \
			sleep_ms(1);                                         \
	} while (0)

static void *nothing(void *arg)
{
	return arg;
}

/* Threads of this process.  The first pthread_create() may start helper
 * threads of its own (ThreadSanitizer's): create one thread first, so the
 * counts that follow move only with the flusher. */
static int count_tasks(void)
{
	static bool warm;
	struct dirent *e;
	pthread_t t;
	int n = 0;
	DIR *d;

	if (!warm) {
		ck_assert_int_eq(pthread_create(&t, NULL, nothing, NULL), 0);
		ck_assert_int_eq(pthread_join(t, NULL), 0);
		warm = true;
	}
	d = opendir("/proc/self/task");
	if (d == NULL)
		t_skip("no /proc/self/task: %s", strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- manual -------------------------------------------------------------- */

START_TEST(test_manual_writes_issue_no_sync)
{
	mmds_map *m = open_map("f", 8 * ps, POL(MMDS_FLUSH_MANUAL, 0, 0));
	char ab[] = "ab", cd[] = "cd";
	struct iovec iov[2] = { { ab, 2 }, { cd, 2 } };
	mmds_cursor c;
	uint64_t old;

	put(m, 0, 100);
	put(m, 3 * ps, 2 * ps);
	ck_assert_int_eq(mmds_map_writev(m, 10, iov, 2), 0);
	ck_assert_int_eq(mmds_map_store64(m, 64, 7), 0);
	ck_assert_int_eq(mmds_map_add64(m, 64, 1, &old), 0);
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_write(&c, "xyz", 3), 3);
	memset(mmds_map_ptr(m, 5 * ps, 10), 9, 10);
	ck_assert_int_eq(mmds_map_mark_dirty(m, 5 * ps, 10), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 0);
	ck_assert_uint_eq(atomic_load(&n_fdatasync), 0);
	/* Not tracked under MANUAL: nothing counts as pending. */
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 0);
}
END_TEST

START_TEST(test_manual_flush_syncs_whole_map)
{
	mmds_map *m = open_map("f", 8 * ps, POL(MMDS_FLUSH_MANUAL, 0, 0));

	put(m, 3 * ps, 10);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	expect_sync(0, m, 0, 8 * ps);
	ck_assert_int_eq(get_call(0).flags, MS_SYNC);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ---- always -------------------------------------------------------------- */

START_TEST(test_always_syncs_each_write_exactly)
{
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_ALWAYS, 0, 0));
	const struct {
		uint64_t off;
		size_t len;
	} w[] = {
		{ 0, 1 },                     /* one byte of page 0 */
		{ ps + 904, 10 },             /* inside page 1 */
		{ 2 * ps - 6, 20 },           /* across pages 1-2 */
		{ 3 * ps + 7, 2 * ps },       /* pages 3-5 */
		{ 15 * ps, ps },              /* the last page, exactly */
		{ 0, 1 },                     /* page 0 again */
	};

	for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		put(m, w[i].off, w[i].len);
		ck_assert_uint_eq(atomic_load(&n_msync), i + 1);
		expect_sync(i, m, w[i].off, w[i].len);
		ck_assert_int_eq(get_call(i).flags, MS_SYNC);
		ck_assert_uint_eq(mmds_map_pending(m), 0);
	}
	ck_assert_int_eq(mmds_map_flush(m), 0); /* clean: no system call */
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 6);
	ck_assert_uint_eq(atomic_load(&n_fdatasync), 0);
}
END_TEST

/* ---- bytes, writes ------------------------------------------------------- */

START_TEST(test_bytes_syncs_every_fourth_quarter_write)
{
	const uint64_t n = 4000;
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_BYTES, n, 0));

	for (unsigned k = 0; k < 12; k++) {
		put(m, k * (n / 4), n / 4);
		ck_assert_uint_eq(atomic_load(&n_msync), (k + 1) / 4);
		ck_assert_uint_eq(mmds_map_pending(m), ((k + 1) % 4) * (n / 4));
	}
	/* Each sync covered the pages of the four writes before it. */
	for (unsigned j = 0; j < 3; j++)
		expect_sync(j, m, j * n, n);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 3);
}
END_TEST

START_TEST(test_writes_syncs_every_nth_write)
{
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_WRITES, 5, 0));

	for (unsigned i = 0; i < 17; i++) {
		put(m, i * 100, 1);
		ck_assert_uint_eq(atomic_load(&n_msync), (i + 1) / 5);
	}
	expect_sync(0, m, 0, 401);
	expect_sync(1, m, 500, 401);
	expect_sync(2, m, 1000, 401);
	ck_assert_uint_eq(mmds_map_pending(m), 2);
	ck_assert_int_eq(mmds_map_flush(m), 0); /* the last two */
	ck_assert_uint_eq(atomic_load(&n_msync), 4);
	expect_sync(3, m, 1500, 101);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 4);
}
END_TEST

START_TEST(test_synced_range_is_dirty_range_not_whole_map)
{
	mmds_map *m = open_map("f", 64 * ps, POL(MMDS_FLUSH_WRITES, 2, 0));

	put(m, 10 * ps + 100, 50);
	put(m, 20 * ps + 5, ps); /* into page 21 */
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	expect_sync(0, m, 10 * ps, 12 * ps - 1);
	ck_assert_uint_eq(get_call(0).len, 12 * ps);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_atomics_count_as_writes)
{
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_WRITES, 4, 0));
	uint64_t exp = 0, old;
	uint32_t old32;

	ck_assert_int_eq(mmds_map_store64(m, 2 * ps, 1), 0);
	ck_assert_int_eq(mmds_map_add64(m, 2 * ps + 8, 1, &old), 0);
	ck_assert_int_eq(mmds_map_cas64(m, 5 * ps, &exp, 3), 1);
	ck_assert_uint_eq(atomic_load(&n_msync), 0);
	ck_assert_int_eq(mmds_map_xchg32(m, 7 * ps + 4, 9, &old32), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	expect_sync(0, m, 2 * ps, 5 * ps + 8);
	/* A failed compare-exchange writes nothing and counts nothing. */
	exp = 12345;
	ck_assert_int_eq(mmds_map_cas64(m, 5 * ps, &exp, 4), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_int_eq(mmds_map_or32(m, 0, 1, NULL), 0);
	ck_assert_int_eq(mmds_map_sub64(m, 8, 1, NULL), 0);
	ck_assert_int_eq(mmds_map_and64(m, 16, 1, NULL), 0);
	ck_assert_int_eq(mmds_map_xor32(m, 24, 1, NULL), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 2);
	expect_sync(1, m, 0, 28);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_mark_dirty_counts_pointer_writes)
{
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_BYTES, 100, 0));
	unsigned char *p = mmds_map_data(m);

	memset(p + 3 * ps + 10, 7, 60);
	ck_assert_int_eq(mmds_map_mark_dirty(m, 3 * ps + 10, 60), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 60);
	ck_assert_uint_eq(atomic_load(&n_msync), 0);
	memset(p + 4 * ps, 7, 40);
	ck_assert_int_eq(mmds_map_mark_dirty(m, 4 * ps, 40), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	expect_sync(0, m, 3 * ps, ps + 40);
	ck_assert_uint_eq(mmds_map_pending(m), 0);

	ck_assert_int_eq(mmds_map_mark_dirty(NULL, 0, 1), -EINVAL);
	ck_assert_int_eq(mmds_map_mark_dirty(m, 16 * ps, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_mark_dirty(m, 1, 16 * ps), -ERANGE);
	ck_assert_int_eq(mmds_map_mark_dirty(m, UINT64_MAX, 2), -ERANGE);
	ck_assert_int_eq(mmds_map_mark_dirty(m, 16 * ps, 0), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
}
END_TEST

START_TEST(test_writev_and_cursor_write_count)
{
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_WRITES, 2, 0));
	char abc[] = "abc", none[] = "", defg[] = "defg";
	struct iovec iov[3] = { { abc, 3 }, { none, 0 }, { defg, 4 } };
	mmds_cursor c;

	ck_assert_int_eq(mmds_map_writev(m, ps - 3, iov, 3), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 7);
	ck_assert_int_eq(mmds_cursor_init(&c, m), 0);
	ck_assert_int_eq(mmds_cursor_seek(&c, 6 * ps, SEEK_SET),
			 (int64_t)(6 * ps));
	ck_assert_int_eq(mmds_cursor_write(&c, "hi", 2), 2);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	expect_sync(0, m, ps - 3, 5 * ps + 5);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_pending_counts_bytes_and_flush_resets_it)
{
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_BYTES, 1 << 30, 0));

	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_int_eq(mmds_map_flush(m), 0); /* clean: no system call */
	ck_assert_uint_eq(atomic_load(&n_msync), 0);
	put(m, 100, 10);
	ck_assert_uint_eq(mmds_map_pending(m), 10);
	put(m, 5 * ps, 20);
	ck_assert_uint_eq(mmds_map_pending(m), 30);
	put(m, 100, 30); /* rewrites count again */
	ck_assert_uint_eq(mmds_map_pending(m), 60);
	ck_assert_uint_eq(atomic_load(&n_msync), 0);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	expect_sync(0, m, 100, 5 * ps + 20 - 100);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	ck_assert_uint_eq(mmds_map_pending(NULL), 0);
	ck_assert_int_eq(mmds_map_flush(NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
}
END_TEST

START_TEST(test_new_policy_counts_pending_writes)
{
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_BYTES, 1 << 30, 0));
	mmds_flush_policy p = POL(MMDS_FLUSH_BYTES, 2048, 0);

	put(m, 0, 3000);
	ck_assert_int_eq(mmds_map_set_flush(m, &p), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 3000);
	put(m, 8 * ps, 1);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	expect_sync(0, m, 0, 8 * ps + 1);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_close_flushes_pending_data)
{
	mmds_map *m = open_map("a", 16 * ps, POL(MMDS_FLUSH_BYTES, 1 << 30, 0));

	put(m, 2 * ps, 10);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);

	m = open_map("b", 16 * ps, POL(MMDS_FLUSH_MILLIS, 600000, 0));
	put(m, 3 * ps, 10);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 2);

	m = open_map("c", 16 * ps, POL(MMDS_FLUSH_MANUAL, 0, 0));
	put(m, 3 * ps, 10);
	ck_assert_int_eq(mmds_map_close(m), 0); /* MANUAL: close never syncs */
	ck_assert_uint_eq(atomic_load(&n_msync), 2);
}
END_TEST

START_TEST(test_flush_after_shrink_is_clamped)
{
	mmds_map *m = open_map("f", 8 * ps, POL(MMDS_FLUSH_BYTES, 1 << 30, 0));

	put(m, ps + 1, 10);
	put(m, 6 * ps, 100);
	ck_assert_int_eq(mmds_map_resize(m, 4 * ps), 0);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	expect_sync(0, m, ps, 3 * ps);
	ck_assert_uint_eq(mmds_map_pending(m), 0);

	/* Dirty only beyond the new size: nothing left to sync. */
	ck_assert_int_eq(mmds_map_resize(m, 8 * ps), 0);
	put(m, 7 * ps, 100);
	ck_assert_int_eq(mmds_map_resize(m, 2 * ps), 0);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_anonymous_map_policy_makes_no_syscall)
{
	mmds_map *m = NULL;

	mmds_map_opts o = {
		.size = 4 * ps,
		.flush = POL(MMDS_FLUSH_ALWAYS, 0, MMDS_SYNC_DURABLE),
	};

	ck_assert_int_eq(mmds_map_open_anon(&m, &o), 0);
	put(m, 10, 10);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 0);
	ck_assert_uint_eq(atomic_load(&n_fdatasync), 0);
}
END_TEST

/* ---- levels -------------------------------------------------------------- */

START_TEST(test_level_durable_reaches_fdatasync)
{
	mmds_map *m = open_map("f", 4 * ps,
			       POL(MMDS_FLUSH_ALWAYS, 0, MMDS_SYNC_DURABLE));

	for (unsigned i = 0; i < 3; i++) {
		put(m, i * ps, 8);
		ck_assert_uint_eq(atomic_load(&n_msync), i + 1);
		ck_assert_uint_eq(atomic_load(&n_fdatasync), i + 1);
		ck_assert_int_eq(get_call(i).flags, MS_SYNC);
	}
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_level_sync_does_not_call_fdatasync)
{
	mmds_map *m = open_map("f", 4 * ps,
			       POL(MMDS_FLUSH_ALWAYS, 0, MMDS_SYNC_SYNC));

	put(m, 0, 8);
	put(m, ps, 8);
	ck_assert_uint_eq(atomic_load(&n_msync), 2);
	ck_assert_int_eq(get_call(0).flags, MS_SYNC);
	ck_assert_int_eq(get_call(1).flags, MS_SYNC);
	ck_assert_uint_eq(atomic_load(&n_fdatasync), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_level_async_uses_ms_async)
{
	mmds_map *m = open_map("f", 4 * ps,
			       POL(MMDS_FLUSH_WRITES, 1, MMDS_SYNC_ASYNC));

	put(m, 0, 8);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	ck_assert_int_eq(get_call(0).flags & (MS_ASYNC | MS_SYNC), MS_ASYNC);
	ck_assert_uint_eq(atomic_load(&n_fdatasync), 0);
	/* MS_ASYNC alone does nothing on Linux: the write-back is started
	 * for the written page, and not waited for. */
	ck_assert_uint_eq(atomic_load(&n_sfr), 1);
	ck_assert_int_eq(atomic_load(&sfr_off), 0);
	ck_assert_int_eq(atomic_load(&sfr_len), (off_t)ps);
	ck_assert_uint_eq(atomic_load(&sfr_flags), SYNC_FILE_RANGE_WRITE);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ---- the policy API ------------------------------------------------------ */

static void expect_policy(const mmds_map *m, mmds_flush_policy want)
{
	mmds_flush_policy got;

	ck_assert_int_eq(mmds_map_get_flush(m, &got), 0);
	ck_assert_int_eq(got.mode, want.mode);
	ck_assert_uint_eq(got.every, want.every);
	ck_assert_int_eq(got.level, want.level);
}

START_TEST(test_set_get_flush_round_trip)
{
	static const mmds_flush_policy p[] = {
		POL(MMDS_FLUSH_ALWAYS, 0, MMDS_SYNC_ASYNC),
		POL(MMDS_FLUSH_BYTES, 1 << 20, MMDS_SYNC_DURABLE),
		POL(MMDS_FLUSH_WRITES, 3, MMDS_SYNC_SYNC),
		POL(MMDS_FLUSH_MILLIS, 250, MMDS_SYNC_ASYNC),
		POL(MMDS_FLUSH_MANUAL, 0, MMDS_SYNC_DURABLE),
		POL(MMDS_FLUSH_MILLIS, UINT64_MAX, MMDS_SYNC_SYNC),
	};
	mmds_map *m = open_map("f", ps,
			       POL(MMDS_FLUSH_WRITES, 7, MMDS_SYNC_DURABLE));

	expect_policy(m, POL(MMDS_FLUSH_WRITES, 7, MMDS_SYNC_DURABLE));
	for (unsigned i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
		ck_assert_int_eq(mmds_map_set_flush(m, &p[i]), 0);
		expect_policy(m, p[i]);
	}
	/* Level 0 means MMDS_SYNC_SYNC, and reads back as such. */
	ck_assert_int_eq(set_policy(m, POL(MMDS_FLUSH_BYTES, 9, 0)), 0);
	expect_policy(m, POL(MMDS_FLUSH_BYTES, 9, MMDS_SYNC_SYNC));
	ck_assert_int_eq(mmds_map_close(m), 0);

	/* The default is MANUAL at SYNC. */
	m = open_map("g", ps, POL(MMDS_FLUSH_MANUAL, 0, 0));
	expect_policy(m, POL(MMDS_FLUSH_MANUAL, 0, MMDS_SYNC_SYNC));
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_bad_policy_is_einval)
{
	static const mmds_flush_policy bad[] = {
		POL((enum mmds_flush_mode)99, 1, 0),
		POL((enum mmds_flush_mode)-1, 1, 0),
		POL(MMDS_FLUSH_BYTES, 0, 0),
		POL(MMDS_FLUSH_WRITES, 0, 0),
		POL(MMDS_FLUSH_MILLIS, 0, 0),
		POL(MMDS_FLUSH_ALWAYS, 0, (enum mmds_sync_level)4),
		POL(MMDS_FLUSH_BYTES, 5, (enum mmds_sync_level)-1),
	};
	const mmds_flush_policy good =
		POL(MMDS_FLUSH_WRITES, 7, MMDS_SYNC_ASYNC);
	mmds_map *m = open_map("f", ps, good);
	int before = count_tasks();

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		static char sentinel;
		mmds_map *o = (mmds_map *)(void *)&sentinel;

		ck_assert_int_eq(mmds_map_set_flush(m, &bad[i]), -EINVAL);
		expect_policy(m, good); /* unchanged */
		ck_assert_int_eq(mmds_map_open(&o, t_path("g"),
					       &(mmds_map_opts){
						       .flags = MMDS_MAP_CREATE,
						       .size = ps,
						       .flush = bad[i] }),
				 -EINVAL);
		ck_assert_ptr_null(o);
	}
	ck_assert_int_eq(count_tasks(), before); /* no flusher was left */
	ck_assert_int_eq(mmds_map_set_flush(NULL, &good), -EINVAL);
	ck_assert_int_eq(mmds_map_set_flush(m, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_get_flush(NULL, &(mmds_flush_policy){ 0 }),
			 -EINVAL);
	ck_assert_int_eq(mmds_map_get_flush(m, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ---- errors -------------------------------------------------------------- */

START_TEST(test_write_path_flush_error_returned_by_next_flush)
{
	mmds_map *m = open_map("f", 4 * ps, POL(MMDS_FLUSH_ALWAYS, 0, 0));

	atomic_store(&fail_msync, EIO);
	put(m, 100, 10); /* the write itself succeeds */
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	ck_assert_uint_eq(mmds_map_pending(m), 10); /* still dirty */
	ck_assert_int_eq(mmds_map_flush(m), -EIO);  /* retried, and told */
	ck_assert_uint_eq(atomic_load(&n_msync), 2);
	expect_sync(1, m, 100, 10);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_int_eq(mmds_map_flush(m), 0); /* told once */
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_background_error_returned_by_next_flush)
{
	mmds_map *m = open_map("f", 4 * ps, POL(MMDS_FLUSH_MILLIS, 5, 0));

	atomic_store(&fail_msync, EIO);
	put(m, 100, 10);
	/* The failed flush keeps the range; the next period retries it. */
	POLL(atomic_load(&n_msync) >= 2 && mmds_map_pending(m) == 0, 10000);
	ck_assert_uint_ge(atomic_load(&n_msync), 2);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	expect_sync(0, m, 100, 10);
	expect_sync(1, m, 100, 10);
	ck_assert_int_eq(mmds_map_flush(m), -EIO);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_close_returns_unreported_error)
{
	mmds_map *m = open_map("f", 4 * ps, POL(MMDS_FLUSH_ALWAYS, 0, 0));

	atomic_store(&fail_msync, EIO);
	put(m, 100, 10);
	ck_assert_int_eq(mmds_map_close(m), -EIO);
	ck_assert_uint_eq(atomic_load(&n_msync), 2); /* close retried it */
}
END_TEST

/* ---- millis and the flusher thread --------------------------------------- */

START_TEST(test_millis_flushes_in_time_and_stops_when_clean)
{
	mmds_map *m = open_map("f", 8 * ps, POL(MMDS_FLUSH_MILLIS, 20, 0));

	sleep_ms(100);
	ck_assert_uint_eq(atomic_load(&n_msync), 0); /* clean: nothing synced */
	put(m, 3 * ps + 5, 10);
	POLL(atomic_load(&n_msync) >= 1 && mmds_map_pending(m) == 0, 10000);
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	expect_sync(0, m, 3 * ps + 5, 10);
	sleep_ms(200); /* ten periods, nothing dirty */
	ck_assert_uint_eq(atomic_load(&n_msync), 1);
	put(m, 6 * ps, 10);
	POLL(atomic_load(&n_msync) >= 2, 10000);
	ck_assert_uint_eq(atomic_load(&n_msync), 2);
	expect_sync(1, m, 6 * ps, 10);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 2);
}
END_TEST

static bool synced_inside(const mmds_map *m, uint64_t size)
{
	unsigned n = atomic_load(&n_msync);

	for (unsigned i = 0; i < n && i < MAX_CALLS; i++) {
		struct sync_call c = get_call(i);

		if (c.addr >= base_of(m) && c.addr < base_of(m) + size)
			return true;
	}
	return false;
}

START_TEST(test_millis_flushes_every_map)
{
	mmds_map *a = open_map("a", 4 * ps, POL(MMDS_FLUSH_MILLIS, 10, 0));
	mmds_map *b = open_map("b", 4 * ps, POL(MMDS_FLUSH_MILLIS, 30, 0));

	put(a, 0, 10);
	put(b, 0, 10);
	POLL(mmds_map_pending(a) == 0 && mmds_map_pending(b) == 0, 10000);
	ck_assert_uint_eq(mmds_map_pending(a), 0);
	ck_assert_uint_eq(mmds_map_pending(b), 0);
	ck_assert(synced_inside(a, 4 * ps));
	ck_assert(synced_inside(b, 4 * ps));
	ck_assert_uint_eq(atomic_load(&n_msync), 2);
	ck_assert_int_eq(mmds_map_close(a), 0);
	ck_assert_int_eq(mmds_map_close(b), 0);
}
END_TEST

START_TEST(test_flusher_thread_exists_only_while_needed)
{
	int base = count_tasks();
	mmds_map *a, *b, *c;

	c = open_map("c", ps, POL(MMDS_FLUSH_BYTES, 10, 0));
	ck_assert_int_eq(count_tasks(), base);
	a = open_map("a", ps, POL(MMDS_FLUSH_MILLIS, 50, 0));
	ck_assert_int_eq(count_tasks(), base + 1);
	b = open_map("b", ps, POL(MMDS_FLUSH_MILLIS, 10, 0));
	ck_assert_int_eq(count_tasks(), base + 1);
	ck_assert_int_eq(mmds_map_close(a), 0);
	ck_assert_int_eq(count_tasks(), base + 1);
	ck_assert_int_eq(mmds_map_close(b), 0);
	/* Joined inside close: gone at once; poll only to read /proc late. */
	POLL(count_tasks() == base, 2000);
	ck_assert_int_eq(count_tasks(), base);

	/* Entering and leaving the mode starts and stops it too. */
	ck_assert_int_eq(set_policy(c, POL(MMDS_FLUSH_MILLIS, 5, 0)), 0);
	ck_assert_int_eq(count_tasks(), base + 1);
	ck_assert_int_eq(set_policy(c, POL(MMDS_FLUSH_MILLIS, 7, 0)), 0);
	ck_assert_int_eq(count_tasks(), base + 1);
	ck_assert_int_eq(set_policy(c, POL(MMDS_FLUSH_ALWAYS, 0, 0)), 0);
	POLL(count_tasks() == base, 2000);
	ck_assert_int_eq(count_tasks(), base);
	ck_assert_int_eq(mmds_map_close(c), 0);
	ck_assert_int_eq(count_tasks(), base);
}
END_TEST

START_TEST(test_millis_open_close_churn)
{
	int base = count_tasks();

	for (unsigned i = 0; i < 100; i++) {
		mmds_map *a = open_map("a", ps, POL(MMDS_FLUSH_MILLIS, 1, 0));
		mmds_map *b = open_map("b", ps, POL(MMDS_FLUSH_MILLIS, 1, 0));

		put(a, i, 1);
		put(b, i, 1);
		sleep_ms(i % 3);
		ck_assert_int_eq(mmds_map_close(i % 2 ? a : b), 0);
		put(i % 2 ? b : a, i + 1, 1);
		sleep_ms(i % 2);
		ck_assert_int_eq(mmds_map_close(i % 2 ? b : a), 0);
	}
	POLL(count_tasks() == base, 2000);
	ck_assert_int_eq(count_tasks(), base);
}
END_TEST

START_TEST(test_millis_map_keeps_working_in_forked_child)
{
	mmds_map *m;
	pid_t pid;

#ifdef T_TSAN
	t_skip("ThreadSanitizer cannot start threads after a threaded fork");
#endif
	m = open_map("f", 4 * ps, POL(MMDS_FLUSH_MILLIS, 5, 0));
	put(m, 0, 10);
	POLL(mmds_map_pending(m) == 0, 10000);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	pid = t_fork();
	if (pid == 0) {
		/* No flusher here until the child's first MILLIS write. */
		int base = count_tasks();
		unsigned before = atomic_load(&n_msync);

		T_CHILD_ASSERT(mmds_map_write(m, ps, "x", 1) == 0);
		T_CHILD_ASSERT(count_tasks() == base + 1);
		POLL(mmds_map_pending(m) == 0, 10000);
		T_CHILD_ASSERT(mmds_map_pending(m) == 0);
		T_CHILD_ASSERT(atomic_load(&n_msync) == before + 1);
		T_CHILD_ASSERT(mmds_map_close(m) == 0);
		POLL(count_tasks() == base, 2000);
		T_CHILD_ASSERT(count_tasks() == base);
		_exit(0);
	}
	t_wait_child(pid);
	put(m, 2 * ps, 10);
	POLL(mmds_map_pending(m) == 0, 10000);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ---- many threads -------------------------------------------------------- */

#define N_THREADS 8
#define THREAD_PAGES 16
#define THREAD_WRITES 3000

struct writer {
	pthread_t tid;
	mmds_map *m;
	t_barrier *start;
	unsigned id;
	uint64_t bytes;
	bool page_written[THREAD_PAGES];
	bool ok;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned seed = w->id * 7919u + 1;
	uint64_t region = (uint64_t)w->id * THREAD_PAGES * ps;
	char buf[512];

	memset(buf, (int)w->id, sizeof(buf));
	t_barrier_wait(w->start);
	w->ok = true;
	for (unsigned i = 0; i < THREAD_WRITES; i++) {
		size_t len = 1 + (size_t)rand_r(&seed) % sizeof(buf);
		uint64_t off = (uint64_t)rand_r(&seed) %
			       (THREAD_PAGES * ps - len);
		int rc;

		if (i % 3 == 2) {
			memcpy(mmds_map_ptr(w->m, region + off, len), buf, len);
			rc = mmds_map_mark_dirty(w->m, region + off, len);
		} else {
			rc = mmds_map_write(w->m, region + off, buf, len);
		}
		if (rc != 0)
			w->ok = false;
		w->bytes += len;
		for (uint64_t p = off / ps; p <= (off + len - 1) / ps; p++)
			w->page_written[p] = true;
	}
	return NULL;
}

START_TEST(test_threads_under_bytes_policy_sync_everything)
{
	const uint64_t n = 64 * 1024;
	const uint64_t size = (uint64_t)N_THREADS * THREAD_PAGES * ps;
	mmds_map *m = open_map("f", size, POL(MMDS_FLUSH_BYTES, n, 0));
	static struct writer w[N_THREADS];
	t_barrier *start = t_barrier_new(N_THREADS);
	uint64_t total = 0;
	unsigned syncs;

	for (unsigned i = 0; i < N_THREADS; i++) {
		w[i] = (struct writer){ .m = m, .start = start, .id = i };
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL, writer_main,
						&w[i]), 0);
	}
	for (unsigned i = 0; i < N_THREADS; i++) {
		ck_assert_int_eq(pthread_join(w[i].tid, NULL), 0);
		ck_assert(w[i].ok);
		total += w[i].bytes;
	}
	t_barrier_free(start);
	/* Every threshold crossing was flushed by the thread that crossed it:
	 * what is left is less than one threshold... */
	ck_assert_uint_lt(mmds_map_pending(m), n);
	/* ...and one flush per crossing at most, no herd. */
	syncs = atomic_load(&n_msync);
	ck_assert_uint_ge(syncs, 1);
	ck_assert_uint_le(syncs, total / n);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_uint_le(atomic_load(&n_msync), total / n + 1);

	/* Every page written is inside some sync. */
	syncs = atomic_load(&n_msync);
	for (unsigned i = 0; i < N_THREADS; i++) {
		for (unsigned p = 0; p < THREAD_PAGES; p++) {
			uintptr_t a = base_of(m) +
				      ((uintptr_t)i * THREAD_PAGES + p) * ps;
			bool seen = false;

			if (!w[i].page_written[p])
				continue;
			for (unsigned k = 0; k < syncs && !seen; k++) {
				struct sync_call c = get_call(k);

				seen = c.addr <= a && a + ps <= c.addr + c.len;
			}
			ck_assert_msg(seen, "thread %u page %u never synced",
				      i, p);
		}
	}
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* Under ALWAYS, a write that returns is synced even when another thread's
 * flush took its range: some msync that began after the write, and has
 * returned, covered it.  A thread calling mmds_map_flush() in a loop steals
 * ranges often, and msync is slowed down to widen the window in which the
 * stolen range is not synced yet. */
#define ALWAYS_WRITES 100

struct always_writer {
	pthread_t tid;
	mmds_map *m;
	t_barrier *start;
	unsigned id;
	bool ok;
};

static bool covered_between(unsigned from, unsigned to, uintptr_t a,
			    size_t len)
{
	for (unsigned k = from; k < to; k++) {
		struct sync_call c = get_call(k);

		if (c.done && c.addr <= pfloor(a) &&
		    pceil(a + len) <= c.addr + c.len)
			return true;
	}
	return false;
}

/* The bytes are stored before `before` is read, so an msync counted from
 * there on began after the store: if it covers the page, it wrote them. */
static void *always_main(void *arg)
{
	struct always_writer *w = arg;
	uint64_t off = (uint64_t)w->id * 4 * ps;

	t_barrier_wait(w->start);
	w->ok = true;
	for (unsigned i = 0; i < ALWAYS_WRITES; i++) {
		uint64_t at = off + (i % 4) * ps + i;
		unsigned before;

		memcpy(mmds_map_ptr(w->m, at, 8), "abcdefgh", 8);
		before = atomic_load(&n_msync);
		if (mmds_map_mark_dirty(w->m, at, 8) != 0 ||
		    !covered_between(before, atomic_load(&n_msync),
				     base_of(w->m) + at, 8))
			w->ok = false;
	}
	return NULL;
}

static atomic_bool stop_flushing;

static void *flush_loop(void *arg)
{
	while (!atomic_load(&stop_flushing))
		if (mmds_map_flush(arg) != 0)
			return arg;
	return NULL;
}

START_TEST(test_threads_under_always_policy_return_synced)
{
	mmds_map *m = open_map("f", 16 * ps, POL(MMDS_FLUSH_ALWAYS, 0, 0));
	static struct always_writer w[4];
	t_barrier *start = t_barrier_new(4);
	pthread_t flusher;
	void *res;

	atomic_store(&slow_msync, 200);
	atomic_store(&stop_flushing, false);
	ck_assert_int_eq(pthread_create(&flusher, NULL, flush_loop, m), 0);
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct always_writer){ .m = m, .start = start,
					       .id = i };
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL, always_main,
						&w[i]), 0);
	}
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(w[i].tid, NULL), 0);
		ck_assert_msg(w[i].ok, "thread %u: a write returned unsynced",
			      i);
	}
	atomic_store(&stop_flushing, true);
	ck_assert_int_eq(pthread_join(flusher, &res), 0);
	ck_assert_ptr_null(res);
	t_barrier_free(start);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_uint_le(atomic_load(&n_msync), 4 * ALWAYS_WRITES);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* Writers and the flusher at once: nothing is lost, the thread stops. */
START_TEST(test_threads_under_millis_policy)
{
	const uint64_t size = (uint64_t)N_THREADS * THREAD_PAGES * ps;
	mmds_map *m = open_map("f", size, POL(MMDS_FLUSH_MILLIS, 1, 0));
	static struct writer w[N_THREADS];
	t_barrier *start = t_barrier_new(N_THREADS);
	int base;

	for (unsigned i = 0; i < N_THREADS; i++) {
		w[i] = (struct writer){ .m = m, .start = start, .id = i };
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL, writer_main,
						&w[i]), 0);
	}
	for (unsigned i = 0; i < N_THREADS; i++) {
		ck_assert_int_eq(pthread_join(w[i].tid, NULL), 0);
		ck_assert(w[i].ok);
	}
	t_barrier_free(start);
	POLL(mmds_map_pending(m) == 0, 10000);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_uint_ge(atomic_load(&n_msync), 1);
	base = count_tasks();
	ck_assert_int_eq(mmds_map_close(m), 0);
	POLL(count_tasks() == base - 1, 2000);
	ck_assert_int_eq(count_tasks(), base - 1);
}
END_TEST

/* ---- explicit syncs ------------------------------------------------------ */

/* Needs map.c to call mmds__flush_presync() before its msync; without it a
 * user's sync forgets nothing and the policy flushes again later. */
START_TEST(test_user_sync_forgets_covered_dirty_range)
{
	mmds_map *m = open_map("f", 8 * ps,
			       POL(MMDS_FLUSH_WRITES, 3, MMDS_SYNC_SYNC));

	put(m, 100, 10);
	put(m, 3 * ps, 10);
	ck_assert_int_eq(mmds_map_sync_range(m, 0, ps, MMDS_SYNC_SYNC), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 20); /* covered part of it */
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_ASYNC), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 20); /* not deep enough */
	ck_assert_int_eq(mmds_map_sync_range(m, 0, 4 * ps, MMDS_SYNC_DURABLE),
			 0);
	ck_assert_uint_eq(mmds_map_pending(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 3);
	ck_assert_int_eq(mmds_map_flush(m), 0); /* nothing left to sync */
	ck_assert_uint_eq(atomic_load(&n_msync), 3);
	/* The write count restarts at the sync. */
	put(m, 5 * ps, 1);
	put(m, 5 * ps, 1);
	ck_assert_uint_eq(atomic_load(&n_msync), 3);
	put(m, 6 * ps, 1);
	ck_assert_uint_eq(atomic_load(&n_msync), 4);
	expect_sync(3, m, 5 * ps, ps + 1);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_uint_eq(atomic_load(&n_msync), 4);
}
END_TEST

#define SYNC_PAGES 64
#define SYNC_WRITERS 4
#define SYNC_WRITES 4000

struct sync_writer {
	pthread_t tid;
	mmds_map *m;
	t_barrier *start;
	unsigned id;
	bool ok;
	struct {
		uint16_t first, last; /* pages */
		unsigned before;      /* msyncs begun before the store ended */
	} rec[SYNC_WRITES];
};

static atomic_bool writers_done;

static void *sync_writer_main(void *arg)
{
	struct sync_writer *w = arg;
	unsigned seed = w->id + 17;
	unsigned char *base = mmds_map_data(w->m);

	t_barrier_wait(w->start);
	w->ok = true;
	for (unsigned i = 0; i < SYNC_WRITES; i++) {
		size_t len = 1 + (size_t)rand_r(&seed) % 64;
		uint64_t off =
			(uint64_t)rand_r(&seed) % (SYNC_PAGES * ps - len);

		memset(base + off, (int)i, len);
		w->rec[i].first = (uint16_t)(off / ps);
		w->rec[i].last = (uint16_t)((off + len - 1) / ps);
		w->rec[i].before = atomic_load(&n_msync);
		if (mmds_map_mark_dirty(w->m, off, len) != 0)
			w->ok = false;
	}
	return NULL;
}

static void *syncer_main(void *arg)
{
	mmds_map *m = arg;

	for (unsigned i = 0; i < 1000 && !atomic_load(&writers_done); i++)
		if (mmds_map_sync(m, MMDS_SYNC_SYNC) != 0)
			return arg;
	return NULL;
}

/* Explicit syncs racing with writers and policy flushes never make the
 * policy forget a write: each write's pages are covered by an msync that
 * began after the write (the last one being the final mmds_map_flush). */
START_TEST(test_user_syncs_racing_writers_lose_nothing)
{
	mmds_map *m = open_map("f", SYNC_PAGES * ps,
			       POL(MMDS_FLUSH_BYTES, 16 * 1024, 0));
	static struct sync_writer w[SYNC_WRITERS];
	static unsigned last_cover[SYNC_PAGES];
	t_barrier *start = t_barrier_new(SYNC_WRITERS);
	pthread_t syncer;
	void *res;
	unsigned n;

	atomic_store(&writers_done, false);
	ck_assert_int_eq(pthread_create(&syncer, NULL, syncer_main, m), 0);
	for (unsigned i = 0; i < SYNC_WRITERS; i++) {
		w[i].m = m;
		w[i].start = start;
		w[i].id = i;
		ck_assert_int_eq(pthread_create(&w[i].tid, NULL,
						sync_writer_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < SYNC_WRITERS; i++) {
		ck_assert_int_eq(pthread_join(w[i].tid, NULL), 0);
		ck_assert(w[i].ok);
	}
	atomic_store(&writers_done, true);
	ck_assert_int_eq(pthread_join(syncer, &res), 0);
	ck_assert_ptr_null(res);
	t_barrier_free(start);
	ck_assert_int_eq(mmds_map_flush(m), 0);
	ck_assert_uint_eq(mmds_map_pending(m), 0);

	n = atomic_load(&n_msync);
	ck_assert_uint_lt(n, MAX_CALLS);
	for (unsigned k = 0; k < n; k++) {
		struct sync_call c = get_call(k);

		for (unsigned p = 0; p < SYNC_PAGES; p++) {
			uintptr_t a = base_of(m) + p * ps;

			if (c.addr <= a && a + ps <= c.addr + c.len)
				last_cover[p] = k + 1;
		}
	}
	for (unsigned i = 0; i < SYNC_WRITERS; i++)
		for (unsigned j = 0; j < SYNC_WRITES; j++)
			for (unsigned p = w[i].rec[j].first;
			     p <= w[i].rec[j].last; p++)
				ck_assert_msg(last_cover[p] >
						      w[i].rec[j].before,
					      "write %u of thread %u (page %u) "
					      "was never synced", j, i, p);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/*
 * A user's sync forgets the dirty range it covered (mmds__flush_synced):
 * it takes the range out and puts it back if a write came in during its
 * msync.  A policy flush in another thread must never find the range empty
 * in between and return 0 with that write unsynced.  The syncer's msync
 * hook waits, after its msync, until the writer has written (so the write
 * is not covered by that msync); the writer then flushes after a delay
 * that sweeps across the moment the syncer forgets the range.  The waits
 * yield: on a loaded machine the two threads may share one CPU.
 */
#define RACE_ROUNDS 3000

static atomic_int race_phase; /* 1: syncer's msync done, 2: written */
static atomic_uint race_round;
static atomic_uint race_synced; /* rounds the syncer has finished */

static void race_hold(void)
{
	atomic_store(&race_phase, 1);
	while (atomic_load(&race_phase) != 2)
		sched_yield();
}

static void *race_syncer(void *arg)
{
	mmds_map *m = arg;

	after_msync = race_hold;
	for (unsigned r = 1; r <= RACE_ROUNDS; r++) {
		while (atomic_load(&race_round) != r)
			sched_yield();
		if (mmds_map_sync(m, MMDS_SYNC_SYNC) != 0)
			return arg;
		atomic_store(&race_synced, r);
	}
	return NULL;
}

START_TEST(test_flush_racing_user_sync_never_acknowledges_unsynced_write)
{
	/* BYTES with a threshold never reached: only explicit flushes. */
	mmds_map *m = open_map("f", 4 * ps,
			       POL(MMDS_FLUSH_BYTES, UINT64_C(1) << 40, 0));
	unsigned lost = 0, first_lost = 0;
	pthread_t syncer;
	void *res;

	atomic_store(&race_round, 0);
	atomic_store(&race_synced, 0);
	ck_assert_int_eq(pthread_create(&syncer, NULL, race_syncer, m), 0);
	for (unsigned r = 1; r <= RACE_ROUNDS; r++) {
		uint64_t off = (r % 4) * ps + r % 64;
		unsigned before;

		atomic_store(&race_phase, 0);
		if (r % 512 == 1)
			reset_calls(); /* the syncer is parked: no msync runs */
		atomic_store(&race_round, r);
		while (atomic_load(&race_phase) != 1)
			sched_yield();
		put(m, off, 8);
		before = atomic_load(&n_msync);
		atomic_store(&race_phase, 2);
		for (volatile unsigned d = (r * 7) % 400; d > 0; d--)
			;
		ck_assert_int_eq(mmds_map_flush(m), 0);
		if (!covered_between(before, atomic_load(&n_msync),
				     base_of(m) + off, 8) && lost++ == 0)
			first_lost = r;
		while (atomic_load(&race_synced) != r)
			sched_yield();
	}
	ck_assert_int_eq(pthread_join(syncer, &res), 0);
	ck_assert_ptr_null(res);
	ck_assert_msg(lost == 0,
		      "%u of %u flushes returned 0 without syncing the write "
		      "before them (first in round %u)", lost, RACE_ROUNDS,
		      first_lost);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ---- suite --------------------------------------------------------------- */

Suite *flush_suite(void)
{
	Suite *s = suite_create("flush");
	TCase *tc = tcase_create("policies");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_manual_writes_issue_no_sync);
	tcase_add_test(tc, test_manual_flush_syncs_whole_map);
	tcase_add_test(tc, test_always_syncs_each_write_exactly);
	tcase_add_test(tc, test_bytes_syncs_every_fourth_quarter_write);
	tcase_add_test(tc, test_writes_syncs_every_nth_write);
	tcase_add_test(tc, test_synced_range_is_dirty_range_not_whole_map);
	tcase_add_test(tc, test_atomics_count_as_writes);
	tcase_add_test(tc, test_mark_dirty_counts_pointer_writes);
	tcase_add_test(tc, test_writev_and_cursor_write_count);
	tcase_add_test(tc, test_pending_counts_bytes_and_flush_resets_it);
	tcase_add_test(tc, test_new_policy_counts_pending_writes);
	tcase_add_test(tc, test_close_flushes_pending_data);
	tcase_add_test(tc, test_flush_after_shrink_is_clamped);
	tcase_add_test(tc, test_anonymous_map_policy_makes_no_syscall);
	suite_add_tcase(s, tc);

	tc = tcase_create("levels");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_level_durable_reaches_fdatasync);
	tcase_add_test(tc, test_level_sync_does_not_call_fdatasync);
	tcase_add_test(tc, test_level_async_uses_ms_async);
	suite_add_tcase(s, tc);

	tc = tcase_create("api");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_set_get_flush_round_trip);
	tcase_add_test(tc, test_bad_policy_is_einval);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_write_path_flush_error_returned_by_next_flush);
	tcase_add_test(tc, test_background_error_returned_by_next_flush);
	tcase_add_test(tc, test_close_returns_unreported_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("millis");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_millis_flushes_in_time_and_stops_when_clean);
	tcase_add_test(tc, test_millis_flushes_every_map);
	tcase_add_test(tc, test_flusher_thread_exists_only_while_needed);
	tcase_add_test(tc, test_millis_open_close_churn);
	tcase_add_test(tc, test_millis_map_keeps_working_in_forked_child);
	suite_add_tcase(s, tc);

	tc = tcase_create("sync");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_user_sync_forgets_covered_dirty_range);
	tcase_add_test(tc, test_user_syncs_racing_writers_lose_nothing);
	tcase_add_test(tc, test_flush_racing_user_sync_never_acknowledges_unsynced_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("threads");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads_under_bytes_policy_sync_everything);
	tcase_add_test(tc, test_threads_under_always_policy_return_synced);
	tcase_add_test(tc, test_threads_under_millis_policy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_run_suite(flush_suite());
}
