/* test_log.c - the append-only log (mmds/log.h): round trips, rollover,
 * concurrent appenders with readers in another process, reserve/commit,
 * retention, sync, recovery after kill -9, corrupt/truncated/hostile files,
 * and a full disk. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>
#include <mmds/log.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "t_util.h"

Suite *log_suite(void);

#define SEG_SMALL ((uint64_t)16384)
#define HDRSZ 4096u

/* ---- helpers --------------------------------------------------------------- */

static const char *logdir(void)
{
	return t_path("log");
}

/* Deterministic payload of record (id, seq). */
static void fill(unsigned char *buf, size_t len, uint32_t id, uint32_t seq)
{
	uint64_t x = ((uint64_t)id << 32 | seq) * 0x9E3779B97F4A7C15ULL + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x >> 29;
		x *= 0xBF58476D1CE4E5B9ULL;
		buf[i] = (unsigned char)(x >> 56);
	}
	if (len >= 8) {
		uint64_t tag = (uint64_t)id << 32 | seq;
		memcpy(buf, &tag, 8);
	}
}

static int payload_ok(const void *data, size_t len, uint32_t id, uint32_t seq)
{
	unsigned char want[4096];

	if (len > sizeof(want))
		return 0;
	fill(want, len, id, seq);
	return memcmp(data, want, len) == 0;
}

static size_t len_of(uint32_t id, uint32_t seq, size_t max)
{
	return ((size_t)seq * 37u + id * 11u) % max;
}

static mmds_log *open_ok(const mmds_log_opts *o)
{
	mmds_log *l = NULL;
	int rc = mmds_log_open(&l, logdir(), o);

	ck_assert_msg(rc == 0, "mmds_log_open = %d (%s)", rc, mmds_strerror(rc));
	ck_assert_ptr_nonnull(l);
	return l;
}

static mmds_log *create_ok(uint64_t seg)
{
	return open_ok(&(mmds_log_opts){ .flags = MMDS_LOG_CREATE, .segment_size = seg });
}

static mmds_log *reader_ok(void)
{
	return open_ok(&(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });
}

static uint64_t append_ok(mmds_log *l, uint16_t type, const void *b, size_t n)
{
	uint64_t lsn = 0;
	int rc = mmds_log_append(l, type, b, n, &lsn);

	ck_assert_msg(rc == 0, "append(%zu) = %d (%s)", n, rc, mmds_strerror(rc));
	return lsn;
}

/* Append records (0, seq) for seq in [from, to), lengths len_of(.., max). */
static void append_range(mmds_log *l, uint32_t from, uint32_t to, size_t max,
			 uint64_t *lsns)
{
	unsigned char buf[4096];

	for (uint32_t s = from; s < to; s++) {
		size_t n = len_of(0, s, max);

		fill(buf, n, 0, s);
		uint64_t lsn = append_ok(l, (uint16_t)(s & 0xffff), buf, n);
		if (lsns)
			lsns[s] = lsn;
	}
}

/* Iterate from START and check records (0, seq) for seq in [0, count) in
 * order.  Returns the number of records seen (they must all be right). */
static uint32_t check_all(mmds_log *l, size_t max)
{
	mmds_log_iter *it;
	mmds_log_record r;
	uint32_t s = 0;
	int rc;

	ck_assert_int_eq(mmds_log_iter_open(&it, l, MMDS_LOG_START), 0);
	while ((rc = mmds_log_iter_next(it, &r)) == 0) {
		ck_assert_uint_eq(r.len, len_of(0, s, max));
		ck_assert_uint_eq(r.type, s & 0xffff);
		ck_assert_msg(payload_ok(r.data, r.len, 0, s), "record %u corrupt", s);
		s++;
	}
	ck_assert_int_eq(rc, -EAGAIN);
	mmds_log_iter_close(it);
	return s;
}

static uint64_t test_iterations(uint64_t def)
{
	const char *e = getenv("MMDS_TEST_ITERATIONS");

	return e && atoll(e) > 0 ? (uint64_t)atoll(e) : def;
}

static char *seg_path(uint64_t base)
{
	static char buf[4][4096];
	static unsigned n;
	char *p = buf[n++ % 4];

	snprintf(p, 4096, "%s/%020llu.seg", logdir(), (unsigned long long)base);
	return p;
}

static void patch_file(const char *path, off_t off, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, b, n, off), (ssize_t)n);
	close(fd);
}

/* XOR one byte of a file with mask (never 0): it always changes. */
static void flip_byte(const char *path, off_t off, unsigned char mask)
{
	unsigned char b;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= mask;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void copy_dir(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *e;
	char a[4096], b[4096];

	ck_assert_ptr_nonnull(d);
	mkdir(to, 0700);
	while ((e = readdir(d)) != NULL) {
		size_t n;
		void *buf;

		if (e->d_name[0] == '.')
			continue;
		snprintf(a, sizeof(a), "%s/%s", from, e->d_name);
		snprintf(b, sizeof(b), "%s/%s", to, e->d_name);
		buf = t_read_file(a, &n);
		t_write_file(b, buf, n);
		free(buf);
	}
	closedir(d);
}

/* ---- round trips ----------------------------------------------------------- */

START_TEST(test_append_then_iterate_and_read_by_lsn)
{
	mmds_log *l = create_ok(SEG_SMALL);
	uint64_t lsns[300];
	unsigned char buf[4096];
	mmds_log_record r;

	append_range(l, 0, 300, 200, lsns);
	ck_assert_uint_eq(lsns[0], 0);
	ck_assert_uint_eq(check_all(l, 200), 300);
	for (uint32_t s = 0; s < 300; s += 7) {
		int64_t n = mmds_log_read(l, lsns[s], buf, sizeof(buf), &r);

		ck_assert_int_eq(n, (int64_t)len_of(0, s, 200));
		ck_assert_uint_eq(r.lsn, lsns[s]);
		ck_assert_uint_eq(r.type, s);
		ck_assert(payload_ok(buf, (size_t)n, 0, s));
	}
	ck_assert_int_eq(mmds_log_close(l), 0);
}
END_TEST

START_TEST(test_lsns_are_byte_positions_of_aligned_records)
{
	mmds_log *l = create_ok(SEG_SMALL);
	uint64_t a = append_ok(l, 1, "abc", 3);
	uint64_t b = append_ok(l, 1, "", 0);
	uint64_t c = append_ok(l, 1, "12345678", 8);

	ck_assert_uint_eq(a, 0);
	ck_assert_uint_eq(b, 16 + 8);
	ck_assert_uint_eq(c, b + 16);
	ck_assert_uint_eq(mmds_log_tail_lsn(l), c + 24);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_zero_byte_and_maximum_size_records_round_trip)
{
	mmds_log *l = create_ok(SEG_SMALL);
	size_t max = SEG_SMALL - HDRSZ - 16;
	unsigned char *big = malloc(max + 1);
	unsigned char *back = malloc(max + 1);
	mmds_log_record r;
	uint64_t a, b, c;

	fill(big, max, 9, 9);
	a = append_ok(l, 5, NULL, 0);
	b = append_ok(l, 6, big, max);
	ck_assert_int_eq(mmds_log_append(l, 7, big, max + 1, NULL), -EMSGSIZE);
	c = append_ok(l, 8, big, 1);
	ck_assert_uint_eq(b, SEG_SMALL - HDRSZ); /* did not fit after a: next segment */
	ck_assert_int_eq(mmds_log_read(l, a, back, 10, &r), 0);
	ck_assert_uint_eq(r.type, 5);
	ck_assert_int_eq(mmds_log_read(l, b, back, max, &r), (int64_t)max);
	ck_assert_int_eq(memcmp(back, big, max), 0);
	ck_assert_int_eq(mmds_log_read(l, c, back, 1, &r), 1);
	ck_assert_uint_eq(r.type, 8);
	mmds_log_close(l);
	free(big);
	free(back);
}
END_TEST

START_TEST(test_rollover_moves_straddling_records_to_next_segment)
{
	mmds_log *l = create_ok(SEG_SMALL);
	uint64_t lsns[2000];
	uint64_t d = SEG_SMALL - HDRSZ;
	mmds_log_info info;

	append_range(l, 0, 2000, 300, lsns);
	for (uint32_t s = 0; s < 2000; s++) {
		uint64_t stride = 16 + ((len_of(0, s, 300) + 7) & ~7ull);
		ck_assert_uint_eq(lsns[s] / d, (lsns[s] + stride - 1) / d);
	}
	ck_assert_int_eq(mmds_log_get_info(l, &info), 0);
	ck_assert_uint_gt(info.segments, 20);
	ck_assert_uint_eq(info.segment_size, SEG_SMALL);
	ck_assert_uint_eq(check_all(l, 300), 2000);
	mmds_log_close(l);
	/* and after reopening, as a reader and as a writer */
	l = reader_ok();
	ck_assert_uint_eq(check_all(l, 300), 2000);
	mmds_log_close(l);
	l = open_ok(NULL);
	ck_assert_uint_eq(check_all(l, 300), 2000);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_appendv_gathers_buffers)
{
	mmds_log *l = create_ok(SEG_SMALL);
	char ab[] = "ab", cdef[] = "cdef";
	struct iovec iov[3] = { { ab, 2 }, { NULL, 0 }, { cdef, 4 } };
	char back[16];
	uint64_t lsn;

	ck_assert_int_eq(mmds_log_appendv(l, 3, iov, 3, &lsn), 0);
	ck_assert_int_eq(mmds_log_read(l, lsn, back, sizeof(back), NULL), 6);
	ck_assert_int_eq(memcmp(back, "abcdef", 6), 0);
	ck_assert_int_eq(mmds_log_appendv(l, 3, NULL, 1, &lsn), -EINVAL);
	ck_assert_int_eq(mmds_log_appendv(l, 3, iov, -1, &lsn), -EINVAL);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_reserve_commit_and_abort)
{
	mmds_log *l = create_ok(SEG_SMALL);
	mmds_log_reservation a, b, c;
	mmds_log_iter *it;
	mmds_log_record r;

	ck_assert_int_eq(mmds_log_reserve(l, 5, &a), 0);
	ck_assert_int_eq(mmds_log_reserve(l, 7, &b), 0);
	memcpy(a.data, "hello", 5);
	ck_assert_int_eq(mmds_log_iter_open(&it, l, MMDS_LOG_START), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &r), -EAGAIN); /* not committed */
	ck_assert_int_eq(mmds_log_commit(l, &a, 11), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &r), 0);
	ck_assert_uint_eq(r.len, 5);
	ck_assert_int_eq(memcmp(r.data, "hello", 5), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &r), -EAGAIN); /* b pending */
	memcpy(b.data, "garbage", 7);
	ck_assert_int_eq(mmds_log_abort(l, &b), 0);
	ck_assert_int_eq(mmds_log_commit(l, &b, 1), -EINVAL); /* already ended */
	ck_assert_int_eq(mmds_log_read(l, b.lsn, NULL, 0, NULL), -ENOENT);
	ck_assert_int_eq(mmds_log_reserve(l, 0, &c), 0);
	ck_assert_int_eq(mmds_log_commit(l, &c, 12), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &r), 0); /* aborted one skipped */
	ck_assert_uint_eq(r.lsn, c.lsn);
	ck_assert_uint_eq(r.type, 12);
	mmds_log_iter_close(it);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_read_errors_are_clean)
{
	mmds_log *l = create_ok(SEG_SMALL);
	uint64_t a = append_ok(l, 1, "0123456789abcdef0123", 20);

	ck_assert_int_eq(mmds_log_read(l, a + 48, NULL, 0, NULL), -EAGAIN);
	ck_assert_int_eq(mmds_log_read(l, a + 3, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(mmds_log_read(l, a + 16, NULL, 0, NULL), -EBADMSG);
	ck_assert_int_eq(mmds_log_read(NULL, 0, NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(mmds_log_append(NULL, 0, "", 0, NULL), -EINVAL);
	ck_assert_int_eq(mmds_log_close(NULL), 0);
	mmds_log_close(l);
}
END_TEST

/* The smallest segment size is MMDS_LOG_MIN_SEGMENT, 8 KiB, as documented:
 * accepted, with records up to 8 KiB - 4096 - 16 bytes; one page less is
 * -EINVAL. */
START_TEST(test_minimum_segment_size_is_8_kib)
{
	static unsigned char big[4096];
	mmds_log *l = NULL;
	uint64_t lsn;

	ck_assert_uint_eq(MMDS_LOG_MIN_SEGMENT, 8192);
	ck_assert_int_eq(mmds_log_open(&l, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = MMDS_LOG_MIN_SEGMENT - 4096 }),
			 -EINVAL);
	ck_assert_ptr_null(l);
	if (mmds_page_size() > MMDS_LOG_MIN_SEGMENT)
		return; /* a larger page is the smallest multiple of itself */
	l = create_ok(MMDS_LOG_MIN_SEGMENT);
	ck_assert_int_eq(mmds_log_append(l, 1, big, 8192 - 4096 - 16, &lsn), 0);
	ck_assert_uint_eq(lsn, 0);
	ck_assert_int_eq(mmds_log_append(l, 1, big, 8192 - 4096 - 15, &lsn), -EMSGSIZE);
	ck_assert_int_eq(mmds_log_append(l, 2, big, 1, &lsn), 0);
	ck_assert_uint_eq(lsn, 4096); /* the next segment */
	mmds_log_close(l);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

START_TEST(test_open_errors)
{
	mmds_log *l = (mmds_log *)(uintptr_t)1;

	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), -ENOENT);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(mmds_log_open(&l, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = 5000 }),
			 -EINVAL);
	ck_assert_int_eq(mmds_log_open(&l, logdir(),
				       &(mmds_log_opts){ .flags = 1u << 9 }),
			 -EINVAL);
	ck_assert_int_eq(mmds_log_open(NULL, logdir(), NULL), -EINVAL);
	/* a foreign file under a segment name */
	mkdir(logdir(), 0700);
	t_write_file(seg_path(0), "not a log segment at all", 24);
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), -EBADMSG);
	ck_assert_ptr_null(l);
}
END_TEST

/* A writer never writes through a symbolic link planted in its directory:
 * not as its lock file, not as a segment; the link's target is untouched. */
START_TEST(test_writer_refuses_planted_symlinks)
{
	mmds_log *l = NULL;
	char lockpath[4096];
	size_t len;
	char *back;

	t_write_file(t_path("victim"), "precious", 8);
	/* a lock file that is a link */
	mkdir(logdir(), 0700);
	snprintf(lockpath, sizeof(lockpath), "%s/lock", logdir());
	ck_assert_int_eq(symlink(t_path("victim"), lockpath), 0);
	ck_assert_int_eq(mmds_log_open(&l, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = 65536 }),
			 -ELOOP);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(unlink(lockpath), 0);

	/* a segment that is a link to a copy of a real segment */
	l = create_ok(65536);
	append_ok(l, 1, "abc", 3);
	ck_assert_int_eq(mmds_log_close(l), 0);
	ck_assert_int_eq(rename(seg_path(0), t_path("moved.seg")), 0);
	ck_assert_int_eq(symlink(t_path("moved.seg"), seg_path(0)), 0);
	l = NULL;
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), -ELOOP);
	ck_assert_ptr_null(l);
	back = t_read_file(t_path("victim"), &len);
	ck_assert_uint_eq(len, 8);
	ck_assert_mem_eq(back, "precious", 8);
	free(back);
}
END_TEST

/* A record missing (empty header) below the durable point is damage: an
 * iterator reports -EBADMSG there instead of waiting for ever with -EAGAIN
 * while every record after it stays unreachable. */
START_TEST(test_missing_record_below_durable_point_is_ebadmsg)
{
	mmds_log *l = create_ok(16384);
	mmds_log_iter *it;
	mmds_log_record r;
	uint64_t first, lsn;
	char pay[1000] = { 1 };
	int fd;

	first = append_ok(l, 1, pay, sizeof(pay));
	for (int i = 0; i < 30; i++)
		lsn = append_ok(l, 1, pay, sizeof(pay));
	ck_assert_uint_gt(lsn, 16384); /* beyond the first segment */
	ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
	ck_assert_int_eq(mmds_log_close(l), 0);
	/* wipe the first record's header */
	fd = open(seg_path(0), O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\0\0\0\0\0\0\0\0", 8, 4096 + (off_t)first), 8);
	close(fd);

	for (int writer = 0; writer < 2; writer++) {
		l = writer ? open_ok(NULL) : reader_ok();
		ck_assert_int_eq(mmds_log_iter_open(&it, l, MMDS_LOG_START), 0);
		ck_assert_int_eq(mmds_log_iter_next(it, &r), -EBADMSG);
		ck_assert_uint_eq(mmds_log_iter_lsn(it), first);
		mmds_log_iter_close(it);
		ck_assert_int_eq(mmds_log_close(l), 0);
	}
}
END_TEST

/* A padding claim that another process writes at the tail of a live
 * writer (no rollover of this writer made it) is refused with -EBADMSG: the
 * append never spins for ever waiting for a rollover that is not running. */
START_TEST(test_foreign_padding_claim_at_the_tail_is_ebadmsg_not_a_hang)
{
	mmds_log *l = create_ok(65536);
	uint64_t tail, word;
	int fd;

	append_ok(l, 1, "abc", 3);
	tail = mmds_log_tail_lsn(l);
	/* CLAIMED | PAD, length 64, at the tail, through the file */
	word = 64u | (uint64_t)(0x4000u | 0x0001u) << 48;
	fd = open(seg_path(0), O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &word, 8, 4096 + (off_t)tail), 8);
	close(fd);
	ck_assert_int_eq(mmds_log_append(l, 1, "def", 3, NULL), -EBADMSG);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_reopen_after_clean_close_continues_the_log)
{
	mmds_log *l = create_ok(SEG_SMALL);
	mmds_log_report rep;
	uint64_t tail;

	append_range(l, 0, 500, 100, NULL);
	tail = mmds_log_tail_lsn(l);
	ck_assert_int_eq(mmds_log_close(l), 0);
	l = open_ok(NULL);
	ck_assert_int_eq(mmds_log_get_report(l, &rep), 0);
	ck_assert_uint_eq(rep.reason, MMDS_LOG_CUT_NONE);
	ck_assert_uint_eq(rep.bytes_cut, 0);
	ck_assert_uint_eq(rep.end_lsn, tail);
	ck_assert_uint_eq(mmds_log_tail_lsn(l), tail);
	append_range(l, 500, 900, 100, NULL);
	ck_assert_uint_eq(check_all(l, 100), 900);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_flush_policy_applies_to_segments)
{
	mmds_log *l = open_ok(&(mmds_log_opts){
		.flags = MMDS_LOG_CREATE, .segment_size = SEG_SMALL,
		.flush = { .mode = MMDS_FLUSH_BYTES, .every = 4096,
			   .level = MMDS_SYNC_SYNC } });
	mmds_log_opts bad = { .flush = { .mode = MMDS_FLUSH_BYTES, .every = 0 } };
	mmds_log *l2 = NULL;

	append_range(l, 0, 600, 200, NULL); /* several rollovers, many flushes */
	ck_assert_uint_eq(check_all(l, 200), 600);
	ck_assert_int_eq(mmds_log_close(l), 0);
	/* an invalid policy is refused by the segment maps */
	ck_assert_int_lt(mmds_log_open(&l2, logdir(), &bad), 0);
	ck_assert_ptr_null(l2);
	l = open_ok(NULL);
	ck_assert_uint_eq(check_all(l, 200), 600);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_second_writer_is_ebusy_readers_are_fine)
{
	mmds_log *l = create_ok(SEG_SMALL), *l2 = NULL, *r;
	pid_t pid;

	ck_assert_int_eq(mmds_log_open(&l2, logdir(), NULL), -EBUSY);
	ck_assert_ptr_null(l2);
	pid = t_fork();
	if (pid == 0) {
		mmds_log *c = NULL;
		T_CHILD_ASSERT(mmds_log_open(&c, logdir(), NULL) == -EBUSY);
		_exit(0);
	}
	t_wait_child(pid);
	r = reader_ok();
	append_ok(l, 1, "x", 1);
	ck_assert_int_eq(mmds_log_append(r, 1, "x", 1, NULL), -EACCES);
	ck_assert_int_eq(mmds_log_sync(r, UINT64_MAX), -EACCES);
	ck_assert_int_eq(mmds_log_read(r, 0, NULL, 0, NULL), 1);
	mmds_log_close(r);
	mmds_log_close(l);
	l = open_ok(NULL); /* the lock went with the handle */
	mmds_log_close(l);
}
END_TEST

/* ---- concurrency ----------------------------------------------------------- */

#define MT_THREADS 4
struct mt_arg {
	mmds_log *l;
	uint32_t id, n;
};

static void *mt_appender(void *p)
{
	struct mt_arg *a = p;
	unsigned char buf[512];

	for (uint32_t s = 0; s < a->n; s++) {
		size_t n = 8 + len_of(a->id, s, 300);

		fill(buf, n, a->id, s);
		if (mmds_log_append(a->l, (uint16_t)a->id, buf, n, NULL) != 0)
			return (void *)1;
		if (s % 64 == 0 && mmds_log_sync(a->l, UINT64_MAX) != 0)
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_threads_append_while_other_process_follows)
{
	uint32_t n = (uint32_t)test_iterations(200) * 20;
	t_barrier *bar;
	mmds_log *l = create_ok(SEG_SMALL * 4);
	pthread_t th[MT_THREADS];
	struct mt_arg args[MT_THREADS];
	pid_t pid;

	bar = t_barrier_new(2);
	pid = t_fork();
	if (pid == 0) {
		mmds_log *r = NULL;
		mmds_log_iter *it;
		mmds_log_record rec;
		uint32_t next[MT_THREADS] = { 0 }, total = 0;
		uint64_t last = 0;

		T_CHILD_ASSERT(mmds_log_open(&r, logdir(),
					     &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY }) == 0);
		T_CHILD_ASSERT(mmds_log_iter_open(&it, r, MMDS_LOG_START) == 0);
		t_barrier_wait(bar);
		while (total < n * MT_THREADS) {
			int rc = mmds_log_iter_next(it, &rec);
			uint64_t tag;

			if (rc == -EAGAIN) {
				rc = mmds_log_iter_wait(it, 10000);
				T_CHILD_ASSERT(rc == 0);
				continue;
			}
			if (rc != 0)
				fprintf(stderr, "next = %d at %llu\n", rc, (unsigned long long)mmds_log_iter_lsn(it));
			T_CHILD_ASSERT(rc == 0);
			T_CHILD_ASSERT(rec.lsn >= last);
			last = rec.lsn;
			T_CHILD_ASSERT(rec.type < MT_THREADS && rec.len >= 8);
			memcpy(&tag, rec.data, 8);
			T_CHILD_ASSERT(tag >> 32 == rec.type);
			T_CHILD_ASSERT((uint32_t)tag == next[rec.type]);
			T_CHILD_ASSERT(rec.len == 8 + len_of(rec.type, (uint32_t)tag, 300));
			T_CHILD_ASSERT(payload_ok(rec.data, rec.len, rec.type, (uint32_t)tag));
			next[rec.type]++;
			total++;
		}
		T_CHILD_ASSERT(mmds_log_iter_next(it, &rec) == -EAGAIN);
		mmds_log_iter_close(it);
		mmds_log_close(r);
		_exit(0);
	}
	t_barrier_wait(bar);
	for (unsigned i = 0; i < MT_THREADS; i++) {
		args[i] = (struct mt_arg){ l, i, n };
		ck_assert_int_eq(pthread_create(&th[i], NULL, mt_appender, &args[i]), 0);
	}
	for (unsigned i = 0; i < MT_THREADS; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		ck_assert_ptr_null(ret);
	}
	t_wait_child(pid);
	ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
	ck_assert_uint_eq(mmds_log_durable_lsn(l), mmds_log_tail_lsn(l));
	mmds_log_close(l);
	t_barrier_free(bar);
}
END_TEST

START_TEST(test_tail_wait_times_out_then_wakes_on_append)
{
	mmds_log *l = create_ok(SEG_SMALL), *r;
	mmds_log_iter *it;
	mmds_log_record rec;
	t_barrier *bar = t_barrier_new(2);
	pid_t pid;

	r = reader_ok();
	ck_assert_int_eq(mmds_log_iter_open(&it, r, MMDS_LOG_END), 0);
	ck_assert_int_eq(mmds_log_iter_wait(it, 20), -ETIMEDOUT);
	pid = t_fork();
	if (pid == 0) {
		t_barrier_wait(bar);
		usleep(20000);
		/* a record that forces a new segment: the reader must follow */
		unsigned char big[SEG_SMALL - HDRSZ - 16];
		memset(big, 7, sizeof(big));
		T_CHILD_ASSERT(mmds_log_append(l, 2, "a", 1, NULL) == 0);
		T_CHILD_ASSERT(mmds_log_append(l, 3, big, sizeof(big), NULL) == 0);
		_exit(0);
	}
	t_barrier_wait(bar);
	ck_assert_int_eq(mmds_log_iter_wait(it, 10000), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &rec), 0);
	ck_assert_uint_eq(rec.type, 2);
	while (mmds_log_iter_next(it, &rec) == -EAGAIN)
		ck_assert_int_eq(mmds_log_iter_wait(it, 10000), 0);
	ck_assert_uint_eq(rec.type, 3);
	ck_assert_uint_eq(rec.lsn, SEG_SMALL - HDRSZ);
	t_wait_child(pid);
	mmds_log_iter_close(it);
	mmds_log_close(r);
	mmds_log_close(l);
	t_barrier_free(bar);
}
END_TEST

/* ---- durability and retention ----------------------------------------------- */

struct sync_arg {
	mmds_log *l;
	uint32_t id;
};

static void *sync_worker(void *p)
{
	struct sync_arg *a = p;

	for (uint32_t s = 0; s < 20; s++) {
		uint64_t lsn;
		mmds_log_record r;

		if (mmds_log_append(a->l, 1, &s, sizeof(s), &lsn) != 0 ||
		    mmds_log_sync(a->l, lsn + 24) != 0 ||
		    mmds_log_durable_lsn(a->l) < lsn + 24 ||
		    mmds_log_read(a->l, lsn, NULL, 0, &r) != 4)
			return (void *)1;
	}
	return NULL;
}

START_TEST(test_sync_advances_durable_lsn_with_concurrent_callers)
{
	mmds_log *l = create_ok(SEG_SMALL);
	pthread_t th[8];
	struct sync_arg a[8];
	mmds_log *r;

	ck_assert_uint_eq(mmds_log_durable_lsn(l), 0);
	append_ok(l, 1, "abc", 3);
	ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
	ck_assert_uint_eq(mmds_log_durable_lsn(l), 24);
	for (unsigned i = 0; i < 8; i++) {
		a[i] = (struct sync_arg){ l, i };
		pthread_create(&th[i], NULL, sync_worker, &a[i]);
	}
	for (unsigned i = 0; i < 8; i++) {
		void *ret;
		pthread_join(th[i], &ret);
		ck_assert_ptr_null(ret);
	}
	ck_assert_uint_eq(mmds_log_durable_lsn(l), mmds_log_tail_lsn(l));
	r = reader_ok(); /* the durable LSN is recorded in the segment */
	ck_assert_uint_eq(mmds_log_durable_lsn(r), mmds_log_tail_lsn(l));
	mmds_log_close(r);
	mmds_log_close(l);
}
END_TEST

/* A reader's first LSN is the oldest segment left: after each retention,
 * with no read in between to notice it. */
START_TEST(test_reader_first_lsn_follows_each_retention)
{
	mmds_log *l = create_ok(SEG_SMALL), *r;
	uint64_t lsns[600], d = SEG_SMALL - HDRSZ;

	append_range(l, 0, 600, 200, lsns);
	ck_assert_uint_ge(lsns[599] / d, 4);
	r = reader_ok();
	ck_assert_uint_eq(mmds_log_first_lsn(r), 0);
	for (uint64_t k = 1; k <= 3; k++) {
		ck_assert_int_eq(mmds_log_retain(l, k * d), 1);
		ck_assert_uint_eq(mmds_log_first_lsn(r), k * d);
		ck_assert_uint_eq(mmds_log_first_lsn(r), k * d);
	}
	ck_assert_int_eq(mmds_log_close(r), 0);
	ck_assert_int_eq(mmds_log_close(l), 0);
}
END_TEST

START_TEST(test_retention_drops_whole_segments_below_lsn)
{
	mmds_log *l = create_ok(SEG_SMALL), *r;
	uint64_t lsns[1000], d = SEG_SMALL - HDRSZ;
	mmds_log_iter *it, *old;
	mmds_log_record rec;
	int dropped;

	append_range(l, 0, 1000, 200, lsns);
	r = reader_ok();
	/* the reader has the first segment mapped for its reads ... */
	ck_assert_int_eq(mmds_log_read(r, lsns[1], NULL, 0, &rec), (int)len_of(0, 1, 200));
	ck_assert_int_eq(mmds_log_iter_open(&old, r, 0), 0);
	dropped = mmds_log_retain(l, lsns[500]);
	ck_assert_int_eq(dropped, (int)(lsns[500] / d));
	/* ... and still serves none of it once retention deleted it */
	ck_assert_int_eq(mmds_log_read(r, lsns[1], NULL, 0, &rec), -ENOENT);
	ck_assert_int_eq(mmds_log_read(r, lsns[2], NULL, 0, &rec), -ENOENT);
	ck_assert_int_eq(mmds_log_read(r, lsns[500], NULL, 0, &rec),
			 (int)len_of(0, 500, 200));
	ck_assert_uint_eq(mmds_log_first_lsn(l), (lsns[500] / d) * d);
	ck_assert_uint_eq(mmds_log_first_lsn(r), (lsns[500] / d) * d);
	ck_assert_int_eq(mmds_log_iter_next(old, &rec), -ENOENT);
	ck_assert_int_eq(mmds_log_read(r, 0, NULL, 0, NULL), -ENOENT);
	ck_assert_int_eq(mmds_log_read(l, lsns[500], NULL, 0, &rec),
			 (int)len_of(0, 500, 200));
	ck_assert_int_eq(mmds_log_iter_open(&it, r, MMDS_LOG_START), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &rec), 0);
	ck_assert_uint_eq(rec.lsn, mmds_log_first_lsn(r));
	mmds_log_iter_close(it);
	mmds_log_iter_close(old);
	ck_assert_int_eq(mmds_log_retain(r, UINT64_MAX), -EACCES);
	/* never the active segment */
	ck_assert_int_ge(mmds_log_retain(l, UINT64_MAX), 0);
	ck_assert_uint_le(mmds_log_first_lsn(l), lsns[999]);
	append_range(l, 1000, 1100, 200, NULL);
	mmds_log_close(r);
	mmds_log_close(l);
	l = open_ok(NULL);
	ck_assert_int_eq(mmds_log_read(l, lsns[999], NULL, 0, &rec),
			 (int)len_of(0, 999, 200));
	mmds_log_close(l);
}
END_TEST

/* ---- crash: kill -9 at random moments ---------------------------------------- */

struct crash_shared {
	_Atomic uint64_t published; /* records the child reported published */
	_Atomic uint64_t lsn[1];    /* unused slot keeps the struct non-empty */
};

START_TEST(test_kill9_during_appends_loses_nothing_published)
{
	uint64_t iters = test_iterations(200);
	struct crash_shared *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	mmds_log *l = create_ok(SEG_SMALL);
	unsigned seed = (unsigned)time(NULL);
	uint64_t total = 0;

	ck_assert_ptr_ne(sh, MAP_FAILED);
	mmds_log_close(l);
	fprintf(stderr, "crash test: %llu iterations, seed %u\n",
		(unsigned long long)iters, seed);
	srand(seed);
	for (uint64_t it = 0; it < iters; it++) {
		pid_t pid;
		uint64_t start = atomic_load(&sh->published), got;
		mmds_log_iter *iter;
		mmds_log_record rec;
		mmds_log_report rep;
		int rc;

		pid = t_fork();
		if (pid == 0) {
			mmds_log *c = NULL;
			unsigned char buf[512];
			uint64_t s = start;

			T_CHILD_ASSERT(mmds_log_open(&c, logdir(), NULL) == 0);
			for (;;) {
				size_t n = 8 + len_of(0, (uint32_t)s, 400);

				fill(buf, n, 0, (uint32_t)s);
				T_CHILD_ASSERT(mmds_log_append(c, 0, buf, n, NULL) == 0);
				atomic_store(&sh->published, ++s);
			}
		}
		usleep((useconds_t)(rand() % 3000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		l = open_ok(NULL);
		ck_assert_int_eq(mmds_log_get_report(l, &rep), 0);
		ck_assert_int_eq(rep.corrupt, 0);
		/* every reported record is there, intact, in order */
		ck_assert_int_eq(mmds_log_iter_open(&iter, l, MMDS_LOG_START), 0);
		got = UINT64_MAX;
		while ((rc = mmds_log_iter_next(iter, &rec)) == 0) {
			uint64_t tag;

			ck_assert_uint_ge(rec.len, 8);
			memcpy(&tag, rec.data, 8);
			if (got == UINT64_MAX)
				got = (uint32_t)tag; /* retention dropped the older */
			ck_assert_uint_eq((uint32_t)tag, (uint32_t)got);
			ck_assert(payload_ok(rec.data, rec.len, 0, (uint32_t)got));
			got++;
		}
		ck_assert_int_eq(rc, -EAGAIN);
		mmds_log_iter_close(iter);
		if (got == UINT64_MAX) /* everything before the active segment dropped */
			got = atomic_load(&sh->published);
		/* the one record possibly written but not yet reported is kept
		 * or cut whole; nothing beyond it exists */
		ck_assert_uint_ge(got, atomic_load(&sh->published));
		ck_assert_uint_le(got, atomic_load(&sh->published) + 1);
		atomic_store(&sh->published, got);
		total = got;
		/* keep the log small: drop old segments now and then */
		if (it % 16 == 15)
			mmds_log_retain(l, mmds_log_tail_lsn(l));
		mmds_log_close(l);
	}
	ck_assert_uint_gt(total, 0);
	munmap(sh, 4096);
}
END_TEST

/* Several threads append; kill -9 at random.  After recovery each thread's
 * records form a prefix of what it wrote (in order, intact), the report
 * never calls it corruption, and the log stays appendable. */
struct mt_crash_arg {
	mmds_log *l;
	uint32_t id;
	_Atomic uint64_t *published;
	uint32_t start;
};

static void *mt_crash_appender(void *p)
{
	struct mt_crash_arg *a = p;
	unsigned char buf[512];

	for (uint32_t s = a->start;; s++) {
		size_t n = 8 + len_of(a->id, s, 200);

		fill(buf, n, a->id, s);
		if (mmds_log_append(a->l, (uint16_t)a->id, buf, n, NULL) != 0)
			_exit(3);
		atomic_store(a->published, (uint64_t)s + 1);
	}
	return NULL;
}

START_TEST(test_kill9_with_threads_appending_leaves_per_thread_prefixes)
{
	uint64_t iters = test_iterations(200) / 4 + 1;
	_Atomic uint64_t *pub = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t total = 0;
	mmds_log *l = create_ok(SEG_SMALL);

	ck_assert_ptr_ne(pub, MAP_FAILED);
	mmds_log_close(l);
	srand((unsigned)time(NULL));
	for (uint64_t it = 0; it < iters; it++) {
		pid_t pid = t_fork();
		uint32_t next[MT_THREADS] = { 0 };
		mmds_log_iter *iter;
		mmds_log_record rec;
		mmds_log_report rep;
		int rc;

		if (pid == 0) {
			pthread_t th[MT_THREADS];
			struct mt_crash_arg a[MT_THREADS];
			mmds_log *c = NULL;

			T_CHILD_ASSERT(mmds_log_open(&c, logdir(), NULL) == 0);
			for (unsigned i = 0; i < MT_THREADS; i++) {
				a[i] = (struct mt_crash_arg){ c, i, &pub[i], 0 };
				pthread_create(&th[i], NULL, mt_crash_appender, &a[i]);
			}
			pause();
			_exit(0);
		}
		/* kill while the threads append, not while the child opens (slow
		 * under sanitizers on a loaded machine) */
		for (int w = 0; w < 2000; w++) {
			uint64_t sum = 0;

			for (unsigned i = 0; i < MT_THREADS; i++)
				sum += atomic_load(&pub[i]);
			if (sum)
				break;
			usleep(1000);
		}
		usleep((useconds_t)(rand() % 4000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		l = open_ok(NULL);
		ck_assert_int_eq(mmds_log_get_report(l, &rep), 0);
		ck_assert_int_eq(rep.corrupt, 0);
		ck_assert_int_eq(mmds_log_iter_open(&iter, l, MMDS_LOG_START), 0);
		while ((rc = mmds_log_iter_next(iter, &rec)) == 0) {
			uint64_t tag;

			ck_assert_uint_lt(rec.type, MT_THREADS);
			ck_assert_uint_ge(rec.len, 8);
			memcpy(&tag, rec.data, 8);
			ck_assert_uint_eq(tag >> 32, rec.type);
			ck_assert_uint_eq((uint32_t)tag, next[rec.type]);
			ck_assert(payload_ok(rec.data, rec.len, rec.type, (uint32_t)tag));
			next[rec.type]++;
		}
		ck_assert_int_eq(rc, -EAGAIN);
		mmds_log_iter_close(iter);
		for (unsigned i = 0; i < MT_THREADS; i++) {
			/* nothing a thread never wrote; at most what it had done */
			ck_assert_uint_le(next[i], atomic_load(&pub[i]) + 1);
			total += next[i];
		}
		/* the recovered log takes appends after the cut */
		ck_assert_int_eq(mmds_log_append(l, 0xfffe, "z", 1, NULL), 0);
		mmds_log_close(l);
		t_rm_dir(logdir()); /* each round starts a fresh log: keep it small */
		l = create_ok(SEG_SMALL);
		mmds_log_close(l);
		for (unsigned i = 0; i < MT_THREADS; i++)
			atomic_store(&pub[i], 0);
	}
	ck_assert_uint_gt(total, 0);
	munmap((void *)pub, 4096);
}
END_TEST

/* ---- the tool --------------------------------------------------------------- */

/* Run the mmds tool from the build tree; returns its exit status and the
 * number of output lines. */
static int run_tool(const char *args, int *lines, const char *want)
{
	char cmd[8192], line[4096];
	FILE *p;
	int status, found = want == NULL;

	snprintf(cmd, sizeof(cmd), "./tools/mmds log %s 2>&1", args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	*lines = 0;
	while (fgets(line, sizeof(line), p)) {
		(*lines)++;
		if (want && strstr(line, want))
			found = 1;
	}
	status = pclose(p);
	ck_assert_msg(found, "'%s' printed no line with '%s'", cmd, want);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_tool_info_verify_dump_tail)
{
	mmds_log *l;
	uint64_t lsns[100];
	char args[4096];
	int lines;

	if (access("./tools/mmds", X_OK) != 0)
		t_skip("./tools/mmds is not built here");
	l = create_ok(8192);
	append_range(l, 0, 100, 300, lsns);
	mmds_log_close(l);
	snprintf(args, sizeof(args), "info %s", logdir());
	ck_assert_int_eq(run_tool(args, &lines, "segment size: 8192"), 0);
	snprintf(args, sizeof(args), "verify %s", logdir());
	ck_assert_int_eq(run_tool(args, &lines, "records:          100"), 0);
	snprintf(args, sizeof(args), "dump --json %s", logdir());
	ck_assert_int_eq(run_tool(args, &lines, "{\"lsn\":0,"), 0);
	ck_assert_int_eq(lines, 100);
	snprintf(args, sizeof(args), "tail -n 3 %s", logdir());
	ck_assert_int_eq(run_tool(args, &lines, NULL), 0);
	ck_assert_int_eq(lines, 3);
	/* corrupt a middle record: verify says where and fails */
	{
		uint64_t d = 8192 - HDRSZ, k = lsns[50] / d;
		char want[128];

		flip_byte(seg_path(k * d), (off_t)(HDRSZ + lsns[50] - k * d + 8), 0xee);
		snprintf(want, sizeof(want), "at LSN %llu", (unsigned long long)lsns[50]);
		snprintf(args, sizeof(args), "verify %s", logdir());
		/* exit status 4: corrupt (mmds(1)) */
		ck_assert_int_eq(run_tool(args, &lines, want), 4);
		snprintf(args, sizeof(args), "dump %s", logdir());
		ck_assert_int_eq(run_tool(args, &lines, "corrupt"), 4);
		ck_assert_int_eq(lines, 51); /* 50 records, then the error */
	}
	ck_assert_int_eq(run_tool("frobnicate", &lines, NULL), 2);
}
END_TEST

/* ---- corruption ------------------------------------------------------------- */

/* Build a small log of 3 segments of 8 KiB and return the LSNs. */
static void small_log(uint64_t *lsns, uint32_t n)
{
	mmds_log *l = create_ok(8192);

	append_range(l, 0, n, 300, lsns);
	/* durable: damage to it is corruption, not an unsynced tail that a
	 * power loss may leave in any state (which recovery cuts) */
	ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
	mmds_log_close(l);
}

/* Opening must be clean: 0 with every served record intact (a prefix of
 * what was written), or -EBADMSG. */
static uint32_t g_clean_seen; /* records the last open_is_clean served */

static void open_is_clean(unsigned recovery, uint32_t n, int *opened)
{
	mmds_log *l = NULL;
	int rc = mmds_log_open(&l, logdir(), &(mmds_log_opts){ .recovery = recovery });

	ck_assert_msg(rc == 0 || rc == -EBADMSG, "open = %d (%s)", rc, mmds_strerror(rc));
	if (rc == 0) {
		mmds_log_iter *it;
		mmds_log_record r;
		uint32_t s = 0;

		ck_assert_int_eq(mmds_log_iter_open(&it, l, MMDS_LOG_START), 0);
		while ((rc = mmds_log_iter_next(it, &r)) == 0) {
			if (r.type == 0xfffe && r.len == 1) {
				s = n; /* appended by an earlier open: the end */
				continue;
			}
			ck_assert_uint_lt(s, n);
			ck_assert_uint_eq(r.len, len_of(0, s, 300));
			ck_assert(payload_ok(r.data, r.len, 0, s));
			s++;
		}
		ck_assert_msg(rc == -EAGAIN || rc == -EBADMSG, "next = %d", rc);
		mmds_log_iter_close(it);
		g_clean_seen = s;
		/* the log stays writable */
		ck_assert_int_eq(mmds_log_append(l, 0xfffe, "z", 1, NULL), 0);
		mmds_log_close(l);
		if (opened)
			(*opened)++;
	}
}

START_TEST(test_flipped_byte_in_middle_record_is_ebadmsg_naming_where)
{
	uint64_t lsns[60];
	mmds_log *l = NULL;
	mmds_log_report rep;
	unsigned char b;
	off_t off;

	small_log(lsns, 60);
	/* the last segment, a record with valid ones after it */
	uint64_t d = 8192 - HDRSZ, last = lsns[59] / d;
	uint32_t victim = 0;
	for (uint32_t s = 0; s < 59; s++)
		if (lsns[s] / d == last && lsns[s + 1] / d == last && len_of(0, s, 300) > 4) {
			victim = s;
			break;
		}
	ck_assert_uint_gt(victim, 0);
	off = (off_t)(HDRSZ + lsns[victim] - last * d + 16 + 2);
	{
		int fd = open(seg_path(last * d), O_RDWR);
		ck_assert_int_eq(pread(fd, &b, 1, off), 1);
		b ^= 0x40;
		ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
		close(fd);
	}
	ck_assert_int_eq(mmds_log_verify(logdir(), &rep), -EBADMSG);
	ck_assert_uint_eq(rep.bad_lsn, lsns[victim]);
	ck_assert_uint_eq(rep.reason, MMDS_LOG_CUT_BAD_CHECKSUM);
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), -EBADMSG);
	/* a reader never serves it */
	l = reader_ok();
	ck_assert_int_eq(mmds_log_read(l, lsns[victim], NULL, 0, NULL), -EBADMSG);
	ck_assert_int_eq(mmds_log_read(l, lsns[victim + 1], NULL, 0, NULL),
			 (int)len_of(0, victim + 1, 300));
	mmds_log_close(l);
	/* truncate mode cuts there */
	l = open_ok(&(mmds_log_opts){ .recovery = MMDS_LOG_RECOVER_TRUNCATE });
	ck_assert_int_eq(mmds_log_get_report(l, &rep), 0);
	ck_assert_uint_eq(rep.reason, MMDS_LOG_CUT_BAD_CHECKSUM);
	ck_assert_int_eq(rep.corrupt, 1);
	ck_assert_uint_eq(rep.bad_lsn, lsns[victim]);
	ck_assert_uint_eq(rep.bad_segment, last * d);
	ck_assert_uint_eq(rep.bad_offset, HDRSZ + lsns[victim] - last * d);
	ck_assert_uint_gt(rep.bytes_cut, 0);
	ck_assert_uint_eq(mmds_log_tail_lsn(l), lsns[victim]);
	ck_assert_uint_eq(check_all(l, 300), victim);
	/* appending over the cut region never revives the stale records */
	append_range(l, victim, 60, 300, NULL);
	ck_assert_uint_eq(check_all(l, 300), 60);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_torn_last_record_is_cut_as_torn_tail)
{
	uint64_t lsns[40];
	mmds_log *l;
	mmds_log_report rep;
	uint64_t d = 8192 - HDRSZ;
	unsigned char b = 0x55;

	/* the last record never synced: a torn write there is a torn tail (a
	 * synced one damaged is corruption: see the durable-point tests) */
	l = create_ok(8192);
	append_range(l, 0, 39, 300, lsns);
	ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
	append_range(l, 39, 40, 300, lsns);
	mmds_log_close(l);
	uint64_t last = lsns[39] / d;
	off_t off = (off_t)(HDRSZ + lsns[39] - last * d + 8);
	int fd = open(seg_path(last * d), O_RDONLY);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	close(fd);
	b ^= 0x55; /* a checksum byte: always different */
	patch_file(seg_path(last * d), off, &b, 1);
	l = open_ok(NULL);
	ck_assert_int_eq(mmds_log_get_report(l, &rep), 0);
	ck_assert_uint_eq(rep.reason, MMDS_LOG_CUT_BAD_CHECKSUM);
	ck_assert_int_eq(rep.corrupt, 0);
	ck_assert_uint_eq(rep.end_lsn, lsns[39]);
	ck_assert_uint_eq(check_all(l, 300), 39);
	mmds_log_close(l);
}
END_TEST

START_TEST(test_hostile_length_fields_never_read_outside)
{
	uint64_t lsns[40];
	uint64_t d = 8192 - HDRSZ;
	uint32_t lens[] = { 0xffffffffu, 0x7fffffffu, 8192, 4096 - 16 + 8, 1 };
	uint64_t w;

	small_log(lsns, 40);
	copy_dir(logdir(), t_path("orig"));
	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		for (unsigned v = 0; v < 3; v++) {
			uint32_t s = v == 0 ? 0 : v == 1 ? 20 : 39;
			uint64_t k = lsns[s] / d;
			mmds_log *r;
			mmds_log_iter *it;
			mmds_log_record rec;
			int rc, opened = 0;

			t_rm_dir(logdir());
			copy_dir(t_path("orig"), logdir());
			w = (uint64_t)lens[i] | (uint64_t)0x8000 << 48;
			patch_file(seg_path(k * d), (off_t)(HDRSZ + lsns[s] - k * d), &w, 8);
			r = reader_ok();
			ck_assert_int_eq(mmds_log_iter_open(&it, r, MMDS_LOG_START), 0);
			while ((rc = mmds_log_iter_next(it, &rec)) == 0)
				;
			ck_assert_int_eq(rc, -EBADMSG);
			ck_assert_uint_eq(mmds_log_iter_lsn(it), lsns[s]);
			mmds_log_iter_close(it);
			mmds_log_close(r);
			open_is_clean(MMDS_LOG_RECOVER_REFUSE, 40, &opened);
			open_is_clean(MMDS_LOG_RECOVER_TRUNCATE, 40, &opened);
			ck_assert_int_ge(opened, 1); /* truncate mode always opens */
		}
	}
}
END_TEST

START_TEST(test_hostile_durable_hint_is_harmless)
{
	uint64_t lsns[40];
	uint64_t d = 8192 - HDRSZ;
	uint64_t hints[] = { 12345, 8, UINT64_MAX - 7, 0 };

	small_log(lsns, 40);
	uint64_t last = lsns[39] / d;
	hints[3] = lsns[20] + 8; /* aligned, inside a record */
	copy_dir(logdir(), t_path("orig"));
	for (unsigned i = 0; i < 4; i++) {
		int opened = 0;

		t_rm_dir(logdir());
		copy_dir(t_path("orig"), logdir());
		for (uint64_t k = 0; k <= last; k++)
			patch_file(seg_path(k * d), 256, &hints[i], 8);
		/* the records are fine: a bad hint must not cost any of them */
		open_is_clean(MMDS_LOG_RECOVER_REFUSE, 40, &opened);
		ck_assert_int_eq(opened, 1);
		ck_assert_uint_eq(g_clean_seen, 40);
	}
}
END_TEST

START_TEST(test_zeroed_segment_header_is_refused_or_cut)
{
	uint64_t lsns[80];
	uint64_t d = 8192 - HDRSZ;
	unsigned char z[256] = { 0 };
	mmds_log *l = NULL;
	int opened = 0;

	small_log(lsns, 80);
	uint64_t last = lsns[79] / d;
	ck_assert_uint_ge(last, 2);
	copy_dir(logdir(), t_path("orig"));
	/* a middle segment: corruption */
	patch_file(seg_path(d), 0, z, sizeof(z));
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), -EBADMSG);
	open_is_clean(MMDS_LOG_RECOVER_TRUNCATE, 80, &opened);
	ck_assert_int_eq(opened, 1);
	/* the first segment: nothing to go on */
	t_rm_dir(logdir());
	copy_dir(t_path("orig"), logdir());
	patch_file(seg_path(0), 0, z, sizeof(z));
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), -EBADMSG);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), -EBADMSG);
	{
		/* and the report says where, as for any damage */
		mmds_log_report rep;

		memset(&rep, 0xa5, sizeof(rep));
		ck_assert_int_eq(mmds_log_verify(logdir(), &rep), -EBADMSG);
		ck_assert_int_eq(rep.corrupt, 1);
		ck_assert_int_eq(rep.reason, MMDS_LOG_CUT_BAD_SEGMENT);
		ck_assert_uint_eq(rep.bad_segment, 0);
		ck_assert_uint_eq(rep.bad_lsn, 0);
		ck_assert_uint_eq(rep.records_kept, 0);
	}
	/* the last segment: a torn creation, cut */
	t_rm_dir(logdir());
	copy_dir(t_path("orig"), logdir());
	patch_file(seg_path(last * d), 0, z, sizeof(z));
	open_is_clean(MMDS_LOG_RECOVER_REFUSE, 80, &opened);
	ck_assert_int_eq(opened, 2);
}
END_TEST

START_TEST(test_truncating_segments_at_every_offset_recovers_cleanly)
{
	uint64_t lsns[40];
	uint64_t d = 8192 - HDRSZ;
	int opened = 0;
	unsigned step = (unsigned)(8192 / test_iterations(200) / 4);

	if (step < 1)
		step = 1;
	small_log(lsns, 40);
	uint64_t last = lsns[39] / d;
	copy_dir(logdir(), t_path("orig"));
	for (uint64_t k = 0; k <= last; k++) {
		size_t n;
		unsigned char *orig;
		char src[4096];

		snprintf(src, sizeof(src), "%s/%020llu.seg", t_path("orig"),
			 (unsigned long long)(k * d));
		orig = t_read_file(src, &n);
		/* every offset of the last segment, a stride through the others */
		for (size_t cut = 0; cut < n; cut += k == last ? step : 61) {
			t_rm_dir(logdir());
			copy_dir(t_path("orig"), logdir());
			ck_assert_int_eq(truncate(seg_path(k * d), (off_t)cut), 0);
			open_is_clean(MMDS_LOG_RECOVER_REFUSE, 40, &opened);
			open_is_clean(MMDS_LOG_RECOVER_TRUNCATE, 40, &opened);
		}
		free(orig);
	}
	ck_assert_int_gt(opened, 0);
}
END_TEST

START_TEST(test_random_byte_flips_never_crash)
{
	uint64_t lsns[40];
	uint64_t iters = test_iterations(200);
	unsigned seed = (unsigned)time(NULL);

	small_log(lsns, 40);
	copy_dir(logdir(), t_path("orig"));
	srand(seed);
	for (uint64_t i = 0; i < iters; i++) {
		uint64_t d = 8192 - HDRSZ, k = (uint64_t)rand() % (lsns[39] / d + 1);
		unsigned char b = (unsigned char)(rand() | 1);
		off_t off = (off_t)(rand() % 8192);
		int fd;

		t_rm_dir(logdir());
		copy_dir(t_path("orig"), logdir());
		fd = open(seg_path(k * d), O_RDWR);
		ck_assert_int_ge(fd, 0);
		unsigned char o;
		ck_assert_int_eq(pread(fd, &o, 1, off), 1);
		o ^= b;
		ck_assert_int_eq(pwrite(fd, &o, 1, off), 1);
		close(fd);
		(void)mmds_log_verify(logdir(), NULL);
		open_is_clean(MMDS_LOG_RECOVER_REFUSE, 40, NULL);
		open_is_clean(MMDS_LOG_RECOVER_TRUNCATE, 40, NULL);
	}
}
END_TEST

/* ---- full disk -------------------------------------------------------------- */

START_TEST(test_full_disk_at_rollover_fails_cleanly_and_keeps_records)
{
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_log *l = NULL;
		struct rlimit rl;
		unsigned char buf[200];
		uint64_t s = 0;
		int rc = 0;

		signal(SIGXFSZ, SIG_IGN);
		T_CHILD_ASSERT(mmds_log_open(&l, logdir(),
					     &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							       .segment_size = SEG_SMALL }) == 0);
		getrlimit(RLIMIT_FSIZE, &rl);
		rl.rlim_cur = SEG_SMALL - 1; /* no new segment fits */
		T_CHILD_ASSERT(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		while (rc == 0 && s < 10000) {
			fill(buf, len_of(0, (uint32_t)s, 200), 0, (uint32_t)s);
			rc = mmds_log_append(l, (uint16_t)s, buf,
					     len_of(0, (uint32_t)s, 200), NULL);
			if (rc == 0)
				s++;
		}
		T_CHILD_ASSERT(rc == -EFBIG || rc == -ENOSPC);
		T_CHILD_ASSERT(s > 10);
		/* still failing, still clean: the same record again (a shorter
		 * one may fit in the rest of the segment, and whether the first
		 * rollover already failed depends on whether the pretoucher
		 * made its segment before the limit was set) */
		T_CHILD_ASSERT(mmds_log_append(l, 1, buf, len_of(0, (uint32_t)s, 200),
					       NULL) == rc);
		T_CHILD_ASSERT(mmds_log_sync(l, UINT64_MAX) == 0);
		rl.rlim_cur = rl.rlim_max;
		T_CHILD_ASSERT(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		fill(buf, len_of(0, (uint32_t)s, 200), 0, (uint32_t)s);
		T_CHILD_ASSERT(mmds_log_append(l, (uint16_t)s, buf,
					       len_of(0, (uint32_t)s, 200), NULL) == 0);
		s++;
		mmds_log_close(l);
		_exit(s == 0 ? 1 : 0);
	}
	t_wait_child(pid);
	{
		mmds_log *l = open_ok(NULL);
		uint32_t n = check_all(l, 200);

		ck_assert_uint_gt(n, 10);
		mmds_log_close(l);
	}
}
END_TEST

/* ---- issue 9: segment lifetime, space, hints, truncation -------------------- */

struct race_arg {
	mmds_log *l;
	char dir[4096];          /* logdir(), copied: t_path is not thread-safe */
	_Atomic int stop;
	_Atomic uint64_t appends, syncs, retains, sync_errors, append_errors;
	_Atomic int first_error;
};

static void *race_appender(void *p)
{
	struct race_arg *a = p;
	unsigned char buf[512];

	memset(buf, 0x5a, sizeof(buf));
	while (!atomic_load(&a->stop)) {
		int rc = mmds_log_append(a->l, 1, buf, 300, NULL);

		if (rc) {
			atomic_fetch_add(&a->append_errors, 1);
			atomic_store(&a->first_error, rc);
		}
		atomic_fetch_add(&a->appends, 1);
	}
	return NULL;
}

static void *race_syncer(void *p)
{
	struct race_arg *a = p;

	while (!atomic_load(&a->stop)) {
		int rc = mmds_log_sync(a->l, UINT64_MAX);

		if (rc) {
			atomic_fetch_add(&a->sync_errors, 1);
			atomic_store(&a->first_error, rc);
		}
		atomic_fetch_add(&a->syncs, 1);
	}
	return NULL;
}

static void *race_retainer(void *p)
{
	struct race_arg *a = p;

	while (!atomic_load(&a->stop)) {
		int rc = mmds_log_retain(a->l, mmds_log_tail_lsn(a->l));

		if (rc > 0)
			atomic_fetch_add(&a->retains, (uint64_t)rc);
		/* the sync then works on a descriptor that might be reused */
		if (rc > 0) {
			int fd = open(a->dir, O_RDONLY | O_CLOEXEC);
			if (fd >= 0)
				close(fd);
		}
	}
	return NULL;
}

START_TEST(test_sync_racing_retention_never_uses_a_dropped_segment)
{
	struct race_arg a = { 0 };
	pthread_t t[3];
	uint64_t ms = test_iterations(3) * 1000;
	uint64_t start = (uint64_t)time(NULL);

	a.l = create_ok(SEG_SMALL);
	snprintf(a.dir, sizeof(a.dir), "%s", logdir());
	pthread_create(&t[0], NULL, race_appender, &a);
	pthread_create(&t[1], NULL, race_syncer, &a);
	pthread_create(&t[2], NULL, race_retainer, &a);
	/* the planned time, and on a loaded machine longer, until the race
	 * has had enough rounds to mean something (at most a minute) */
	while (atomic_load(&a.sync_errors) == 0 &&
	       ((uint64_t)time(NULL) - start < ms / 1000 + 1 ||
		((atomic_load(&a.syncs) <= 10 || atomic_load(&a.retains) <= 10) &&
		 (uint64_t)time(NULL) - start < 60)))
		usleep(10000);
	atomic_store(&a.stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(a.sync_errors == 0 && a.append_errors == 0,
		      "%llu sync and %llu append errors, e.g. %d (%s)",
		      (unsigned long long)a.sync_errors,
		      (unsigned long long)a.append_errors, a.first_error,
		      mmds_strerror(a.first_error));
	ck_assert_uint_gt(a.retains, 10);
	ck_assert_uint_gt(a.syncs, 10);
	ck_assert_int_eq(mmds_log_sync(a.l, UINT64_MAX), 0);
	ck_assert_int_eq(mmds_log_close(a.l), 0);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

START_TEST(test_verify_beside_a_busy_writer_says_intact)
{
	struct race_arg a = { 0 };
	pthread_t t[2];
	uint64_t start = (uint64_t)time(NULL), runs = 0;
	mmds_log_report rep;

	a.l = create_ok(SEG_SMALL);
	snprintf(a.dir, sizeof(a.dir), "%s", logdir());
	pthread_create(&t[0], NULL, race_appender, &a);
	pthread_create(&t[1], NULL, race_retainer, &a);
	while ((uint64_t)time(NULL) - start < 3) {
		int rc = mmds_log_verify(a.dir, &rep);

		ck_assert_msg(rc == 0, "verify beside the writer: %d (%s), %s at %llu", rc,
			      mmds_strerror(rc), mmds_log_cut_name(rep.reason),
			      (unsigned long long)rep.bad_lsn);
		runs++;
	}
	atomic_store(&a.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_eq(a.append_errors, 0);
	ck_assert_uint_gt(runs, 10);
	ck_assert_int_eq(mmds_log_close(a.l), 0);
}
END_TEST

START_TEST(test_retain_after_enospc_gives_the_space_back)
{
	pid_t pid = t_fork();

	if (pid == 0) {
		const char *mnt = t_path("small");
		char dir[4096];
		unsigned char buf[200];
		mmds_log *l = NULL;
		uint64_t n = 0;
		int rc = 0, dropped;

		memset(buf, 7, sizeof(buf));
		mkdir(mnt, 0700);
		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("tmpfs", mnt, "tmpfs", 0, "size=192k") != 0)
			t_skip("cannot mount a small tmpfs here (%s)", strerror(errno));
		snprintf(dir, sizeof(dir), "%s/log", mnt);
		T_CHILD_ASSERT(mmds_log_open(&l, dir,
					     &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							       .segment_size = SEG_SMALL }) == 0);
		while (rc == 0 && n < 100000) {
			rc = mmds_log_append(l, 1, buf, sizeof(buf), NULL);
			n += rc == 0;
		}
		T_CHILD_ASSERT(rc == -ENOSPC);
		T_CHILD_ASSERT(n > 100);
		dropped = mmds_log_retain(l, mmds_log_tail_lsn(l));
		T_CHILD_ASSERT(dropped >= 3);
		/* the deleted segments' blocks are free now: the next append
		 * creates its segment */
		rc = mmds_log_append(l, 2, buf, sizeof(buf), NULL);
		if (rc)
			fprintf(stderr, "append after retain: %d (%s)\n", rc, mmds_strerror(rc));
		T_CHILD_ASSERT(rc == 0);
		T_CHILD_ASSERT(mmds_log_close(l) == 0);
		T_CHILD_ASSERT(mmds_log_verify(dir, NULL) == 0);
		_exit(0);
	}
	t_wait_child(pid);
}
END_TEST

/* Patch the durable word (offset 256 of the header page) of every segment;
 * forged: with the check word (offset 272) that makes it look genuine. */
static void set_durable_word(uint64_t d, uint64_t segs, uint64_t v, int forged)
{
	for (uint64_t k = 0; k < segs; k++) {
		patch_file(seg_path(k * d), 256, &v, 8);
		if (forged) {
			uint64_t salt, check;
			int fd = open(seg_path(k * d), O_RDONLY | O_CLOEXEC);

			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(pread(fd, &salt, 8, 232), 8);
			close(fd);
			check = XXH3_64bits_withSeed(&v, 8, salt ^ 0x64757261626c6521ULL);
			patch_file(seg_path(k * d), 272, &check, 8);
		}
	}
}

START_TEST(test_hostile_durable_word_never_hides_records)
{
	uint64_t d = SEG_SMALL - HDRSZ, lsns[120];
	uint64_t vals[] = { 0, 0, 0, 0, 12345, UINT64_MAX - 7, (uint64_t)1 << 62, 8 };

	{
		mmds_log *l = create_ok(SEG_SMALL);

		mmds_log_report rep;

		append_range(l, 0, 100, 300, lsns);
		ck_assert_uint_eq(lsns[99] / d, 1); /* two segments, the second partly full */
		ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
		ck_assert_int_eq(mmds_log_close(l), 0);
		/* a genuine hint is used: the scan starts in the last segment */
		l = open_ok(NULL);
		ck_assert_int_eq(mmds_log_get_report(l, &rep), 0);
		ck_assert_uint_eq(rep.scan_from, d);
		ck_assert_uint_eq(rep.segments_scanned, 1);
		ck_assert_int_eq(mmds_log_close(l), 0);
	}
	vals[1] = 2 * d;     /* the end of the last segment */
	vals[2] = d;         /* the end of the first */
	vals[3] = 3 * d;     /* beyond the end */
	copy_dir(logdir(), t_path("orig"));
	for (unsigned i = 0; i < 2 * sizeof(vals) / sizeof(vals[0]); i++) {
		uint64_t v = vals[i / 2], end;
		mmds_log *l;
		mmds_log_report rep;
		uint32_t seen;

		t_rm_dir(logdir());
		copy_dir(t_path("orig"), logdir());
		set_durable_word(d, 2, v, i % 2);
		end = lsns[99] + 16 + ((len_of(0, 99, 300) + 7) & ~(size_t)7);
		if (i % 2 && v > end) {
			/* a hint that passes its check and claims more than the
			 * log holds says durable records are gone: refused, and
			 * the truncating mode keeps every record there is */
			l = NULL;
			ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), -EBADMSG);
			ck_assert_ptr_null(l);
			ck_assert_int_eq(mmds_log_verify(logdir(), &rep), -EBADMSG);
			l = open_ok(&(mmds_log_opts){ .recovery = MMDS_LOG_RECOVER_TRUNCATE });
		} else {
			l = open_ok(NULL);
		}
		ck_assert_int_eq(mmds_log_get_report(l, &rep), 0);
		ck_assert_msg(mmds_log_tail_lsn(l) ==
				      lsns[99] + 16 + ((len_of(0, 99, 300) + 7) & ~(size_t)7),
			      "durable word %llu: tail %llu", (unsigned long long)v,
			      (unsigned long long)mmds_log_tail_lsn(l));
		/* new records land where iteration reaches them */
		append_range(l, 100, 120, 300, lsns);
		ck_assert_int_eq(mmds_log_close(l), 0);
		l = reader_ok();
		seen = check_all(l, 300);
		ck_assert_msg(seen == 120, "durable word %llu (%s): %u of 120 records reachable",
			      (unsigned long long)v, i % 2 ? "forged check" : "no check", seen);
		mmds_log_close(l);
		ck_assert_int_eq(mmds_log_verify(logdir(), &rep), 0);
		ck_assert_uint_eq(rep.records_kept, 120);
	}
}
END_TEST

START_TEST(test_verify_reports_a_segment_iteration_cannot_reach)
{
	uint64_t d = SEG_SMALL - HDRSZ, lsns[200], pad = 0;
	mmds_log_report rep;
	mmds_log *l = create_ok(SEG_SMALL);

	append_range(l, 0, 200, 300, lsns);
	ck_assert_uint_ge(lsns[199] / d, 2);
	ck_assert_int_eq(mmds_log_close(l), 0);
	/* find a segment that ends with a padding record and make it look
	 * torn: the records in the later segments can no longer be reached */
	for (uint32_t s = 1; s < 200 && pad == 0; s++) {
		uint64_t end = lsns[s - 1] + 16 + ((len_of(0, s - 1, 300) + 7) & ~(size_t)7);

		if (lsns[s] / d != lsns[s - 1] / d && lsns[s] / d * d - end >= 16)
			pad = end;
	}
	ck_assert_uint_gt(pad, 0);
	ck_assert_uint_lt(pad / d + 1, lsns[199] / d + 1);
	{
		unsigned char z[16] = { 0 };

		patch_file(seg_path(pad / d * d), (off_t)(HDRSZ + pad % d), z, 16);
	}
	ck_assert_int_eq(mmds_log_verify(logdir(), &rep), -EBADMSG);
	ck_assert_int_eq(rep.corrupt, 1);
	ck_assert_uint_eq(rep.bad_lsn, pad);
}
END_TEST

/* On tmpfs a read through a mapping allocates every page it touches, a
 * hole too: verify must not fill memory with the zeros of a segment's
 * never-written tail (16 MiB per segment in a fuzzed directory, the
 * whole segment on a large log), and must still see a stray word at the
 * far end of it. */
START_TEST(test_verify_reads_no_hole_of_a_sparse_segment)
{
	const uint64_t seg = (uint64_t)8 << 20;
	char dir[] = "/dev/shm/mmds-test-XXXXXX", path[64], segp[96];
	static const unsigned char stray[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	unsigned char rec[100] = { 7 };
	mmds_log_report rep;
	struct statfs sf;
	struct stat st0, st1;
	mmds_log *l = NULL;

	if (statfs("/dev/shm", &sf) != 0 || sf.f_type != TMPFS_MAGIC) {
		fprintf(stderr, "skipped: /dev/shm is not tmpfs\n");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/log", dir);
	snprintf(segp, sizeof(segp), "%s/%020d.seg", path, 0);
	ck_assert_int_eq(mmds_log_open(&l, path,
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE |
								 MMDS_LOG_NO_THREAD,
							 .segment_size = seg }),
			 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(mmds_log_append(l, 1, rec, sizeof(rec), NULL), 0);
	ck_assert_int_eq(mmds_log_close(l), 0);
	/* the tail after the records becomes a hole */
	ck_assert_int_eq(truncate(segp, 2 * HDRSZ), 0);
	ck_assert_int_eq(truncate(segp, (off_t)seg), 0);
	ck_assert_int_eq(stat(segp, &st0), 0);
	ck_assert_int_lt(st0.st_blocks * 512, 1 << 20);

	ck_assert_int_eq(mmds_log_verify(path, &rep), 0);
	ck_assert_uint_eq(rep.reason, MMDS_LOG_CUT_NONE);
	ck_assert_int_eq(stat(segp, &st1), 0);
	ck_assert_int_eq(st1.st_blocks, st0.st_blocks);

	patch_file(segp, (off_t)(seg - sizeof(stray)), stray, sizeof(stray));
	ck_assert_int_eq(mmds_log_verify(path, &rep), 0);
	ck_assert_uint_eq(rep.reason, MMDS_LOG_CUT_UNFINISHED);
	ck_assert_uint_eq(rep.end_lsn, 3 * (MMDS_LOG_RECORD_HEADER + ((sizeof(rec) + 7) & ~(size_t)7)));
	t_rm_dir(dir);
}
END_TEST

START_TEST(test_truncated_active_segment_makes_append_and_close_efault)
{
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_log *l = NULL;
		unsigned char buf[256];
		uint64_t lsn;
		int rc;

		memset(buf, 3, sizeof(buf));
		T_CHILD_ASSERT(mmds_log_open(&l, logdir(),
					     &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							       .segment_size = SEG_SMALL }) == 0);
		T_CHILD_ASSERT(mmds_log_append(l, 1, buf, sizeof(buf), &lsn) == 0);
		T_CHILD_ASSERT(truncate(seg_path(0), 0) == 0);
		rc = mmds_log_append(l, 1, buf, sizeof(buf), &lsn);
		T_CHILD_ASSERT(rc == -EFAULT);
		rc = mmds_log_appendv(l, 1, &(struct iovec){ buf, 100 }, 1, NULL);
		T_CHILD_ASSERT(rc == -EFAULT);
		rc = mmds_log_close(l);
		T_CHILD_ASSERT(rc == -EFAULT);
		_exit(0);
	}
	t_wait_child(pid);
}
END_TEST

/* ---- the pretoucher ------------------------------------------------------- */

/* Threads of this process now. */
static int thread_count(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* The name the writer of process pid gives its spare for the segment whose
 * first LSN is base. */
static const char *spare_name(pid_t pid, uint64_t base)
{
	static char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/.tmp-%ld-ahead-%020llu.seg", logdir(),
		 (long)pid, (unsigned long long)base);
	return buf;
}

/* Wait up to 10 s for path to exist; its inode, or 0. */
static ino_t wait_for_file(const char *path)
{
	struct stat st;

	for (int i = 0; i < 10000; i++) {
		if (stat(path, &st) == 0)
			return st.st_ino;
		usleep(1000);
	}
	return 0;
}

/* Files of the log directory whose name starts with prefix. */
static int count_prefixed(const char *prefix)
{
	DIR *d = opendir(logdir());
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

static void *idle_thread(void *arg)
{
	return arg;
}

/* The threads of this process, counted after one thread has come and gone
 * (a sanitizer may start a thread of its own at the first
 * pthread_create(): let it, before counting). */
static int threads_settled(void)
{
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, idle_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	return thread_count();
}

START_TEST(test_writer_runs_one_background_thread_joined_on_close)
{
	int before = threads_settled();
	mmds_log *w, *r;

	w = create_ok(SEG_SMALL);

	ck_assert_int_eq(thread_count(), before + 1);
	r = reader_ok();
	ck_assert_int_eq(thread_count(), before + 1); /* readers have none */
	ck_assert_int_eq(mmds_log_close(r), 0);
	ck_assert_int_eq(mmds_log_close(w), 0);
	ck_assert_int_eq(thread_count(), before);
	/* and a failed open leaves none behind */
	ck_assert_int_eq(mmds_log_open(&w, logdir(),
				       &(mmds_log_opts){ .flags = 0, .recovery = 7 }), -EINVAL);
	ck_assert_int_eq(thread_count(), before);
}
END_TEST

/* MMDS_LOG_NO_THREAD: a writer with no background thread and no spare
 * file, whose appends make each next segment themselves; a reader ignores
 * the flag; unknown flags are refused. */
START_TEST(test_writer_without_a_thread_makes_its_segments_itself)
{
	const uint64_t dsize = SEG_SMALL - HDRSZ;
	unsigned char buf[1000], got[1000];
	uint64_t lsns[100];
	mmds_log_record rec;
	int before = threads_settled();
	mmds_log *w, *r;

	ck_assert_int_eq(mmds_log_open(&w, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE |
								  MMDS_LOG_NO_THREAD,
							 .segment_size = SEG_SMALL }),
			 0);
	ck_assert_int_eq(thread_count(), before);
	for (int i = 0; i < 100; i++) {
		fill(buf, sizeof(buf), 3, (uint32_t)i);
		lsns[i] = append_ok(w, 1, buf, sizeof(buf));
		/* never a segment made ahead, at any point */
		ck_assert_int_eq(count_prefixed(".tmp-"), 0);
		ck_assert_int_eq(thread_count(), before);
	}
	ck_assert_uint_gt(lsns[99], 5 * dsize); /* several rollovers */
	ck_assert_int_eq(mmds_log_sync(w, UINT64_MAX), 0);
	r = open_ok(&(mmds_log_opts){ .flags = MMDS_LOG_RDONLY | MMDS_LOG_NO_THREAD });
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(mmds_log_read(r, lsns[i], got, sizeof(got), &rec),
				 (int)sizeof(got));
		ck_assert(payload_ok(got, sizeof(got), 3, (uint32_t)i));
	}
	ck_assert_int_eq(mmds_log_close(r), 0);
	ck_assert_int_eq(mmds_log_close(w), 0);
	ck_assert_int_eq(thread_count(), before);
	ck_assert_int_eq(mmds_log_open(&w, logdir(), &(mmds_log_opts){ .flags = 1u << 9 }),
			 -EINVAL);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

START_TEST(test_next_segment_is_made_ahead_and_linked_by_the_rollover)
{
	mmds_log *l = create_ok(SEG_SMALL);
	const uint64_t dsize = SEG_SMALL - HDRSZ;
	unsigned char buf[1000];
	char seg1[PATH_MAX];
	struct stat st;
	ino_t ahead;
	uint64_t lsn = 0;

	memset(buf, 0x5a, sizeof(buf));
	append_ok(l, 1, buf, 10);
	ahead = wait_for_file(spare_name(getpid(), dsize));
	ck_assert_msg(ahead != 0, "no segment made ahead of the tail");
	/* one segment ahead, never two */
	ck_assert_int_ne(stat(spare_name(getpid(), 2 * dsize), &st), 0);
	while (lsn < dsize)
		lsn = append_ok(l, 1, buf, sizeof(buf));
	snprintf(seg1, sizeof(seg1), "%s/%020llu.seg", logdir(),
		 (unsigned long long)dsize);
	ck_assert_int_eq(stat(seg1, &st), 0);
	ck_assert_msg(st.st_ino == ahead, "the rollover created its own segment");
	/* the thread goes on with the segment after it */
	ck_assert_uint_ne(wait_for_file(spare_name(getpid(), 2 * dsize)), 0);
	ck_assert_int_eq(mmds_log_close(l), 0);
	ck_assert_int_eq(count_prefixed(".tmp-"), 0); /* close removes the spare */
	l = open_ok(&(mmds_log_opts){ 0 });
	ck_assert_uint_eq(mmds_log_tail_lsn(l), lsn + 16 + sizeof(buf));
	ck_assert_int_eq(mmds_log_close(l), 0);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

START_TEST(test_forked_child_has_no_background_thread_and_leaves_the_spare)
{
	const uint64_t dsize = SEG_SMALL - HDRSZ;
	mmds_log *l = create_ok(SEG_SMALL);
	unsigned char buf[1000];
	uint64_t lsn = 0;
	pid_t pid;

	memset(buf, 0x33, sizeof(buf));
	append_ok(l, 1, buf, 10);
	ck_assert_uint_ne(wait_for_file(spare_name(getpid(), dsize)), 0);
	pid = t_fork();
	if (pid == 0) {
		struct stat st;

		/* threads do not survive fork: the child's close must neither
		 * join the parent's thread nor remove its spare */
		if (thread_count() != 1)
			_exit(10);
		if (mmds_log_close(l) != 0)
			_exit(11);
		_exit(stat(spare_name(getppid(), dsize), &st) == 0 ? 0 : 12);
	}
	t_wait_child(pid);
	/* the parent's thread and spare still work */
	while (lsn < dsize)
		lsn = append_ok(l, 1, buf, sizeof(buf));
	ck_assert_uint_ne(wait_for_file(spare_name(getpid(), 2 * dsize)), 0);
	ck_assert_int_eq(mmds_log_close(l), 0);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

START_TEST(test_spare_of_a_killed_writer_is_removed_by_the_next_open)
{
	const uint64_t dsize = SEG_SMALL - HDRSZ;
	mmds_log *l = create_ok(SEG_SMALL);
	char name[PATH_MAX];
	struct stat st;
	pid_t pid;
	int status;

	ck_assert_int_eq(mmds_log_close(l), 0);
	pid = t_fork();
	if (pid == 0) {
		if (mmds_log_open(&l, logdir(), NULL) != 0)
			_exit(10);
		if (wait_for_file(spare_name(getpid(), dsize)) == 0)
			_exit(11);
		kill(getpid(), SIGKILL);
		_exit(12);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status));
	snprintf(name, sizeof(name), "%s", spare_name(pid, dsize));
	ck_assert_int_eq(stat(name, &st), 0);
	l = open_ok(&(mmds_log_opts){ 0 });
	ck_assert_int_ne(stat(name, &st), 0);
	ck_assert_int_eq(mmds_log_close(l), 0);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

/* ---- bounded window of mapped segments ---------------------------------------- */

/* Descriptors open in this process now. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the listing's own */
}

/* A writer keeps a bounded number of segments mapped and open, not every
 * segment since the oldest kept one: with a descriptor limit far below the
 * number of segments, every append succeeds, every record reads back by LSN
 * and by iterator from the start, sync and retention work, the log reopens,
 * and the count of open descriptors stays bounded throughout. */
START_TEST(test_writer_keeps_a_bounded_window_of_segments_open)
{
	const uint32_t n = (uint32_t)test_iterations(8000); /* 4 a segment */
	pid_t pid;
	int status;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl;
		unsigned char buf[3000];
		uint64_t *lsns = calloc(n, sizeof(*lsns));
		mmds_log_iter *it;
		mmds_log_record r;
		mmds_log *l = NULL;
		int base, maxfd = 0, rc;
		uint32_t s;

		T_CHILD_ASSERT(lsns != NULL);
		getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = 64;
		T_CHILD_ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
		base = count_fds();
		T_CHILD_ASSERT(base > 0 && base < 32);
		T_CHILD_ASSERT(mmds_log_open(&l, logdir(),
					     &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							       .segment_size = SEG_SMALL }) == 0);
		for (s = 0; s < n; s++) {
			fill(buf, sizeof(buf), 1, s);
			rc = mmds_log_append(l, 7, buf, sizeof(buf), &lsns[s]);
			if (rc != 0) {
				fprintf(stderr, "append %u: %s\n", s, mmds_strerror(rc));
				_exit(20);
			}
			if (s % 256 == 0 && count_fds() > maxfd)
				maxfd = count_fds();
		}
		/* most segments were unmapped long before: sync reaches them */
		T_CHILD_ASSERT(mmds_log_sync(l, UINT64_MAX) == 0);
		T_CHILD_ASSERT(mmds_log_durable_lsn(l) == mmds_log_tail_lsn(l));
		for (s = 0; s < n; s++) {
			unsigned char got[3000];

			T_CHILD_ASSERT(mmds_log_read(l, lsns[s], got, sizeof(got), &r) == 3000);
			T_CHILD_ASSERT(payload_ok(got, sizeof(got), 1, s));
		}
		T_CHILD_ASSERT(mmds_log_iter_open(&it, l, MMDS_LOG_START) == 0);
		for (s = 0; (rc = mmds_log_iter_next(it, &r)) == 0; s++) {
			T_CHILD_ASSERT(s < n && r.lsn == lsns[s] && r.len == 3000);
			T_CHILD_ASSERT(payload_ok(r.data, r.len, 1, s));
			if (s % 256 == 0 && count_fds() > maxfd)
				maxfd = count_fds();
		}
		T_CHILD_ASSERT(rc == -EAGAIN && s == n);
		mmds_log_iter_close(it);
		if (count_fds() > maxfd)
			maxfd = count_fds();
		/* the window: a few segments plus the spare, the lock and the
		 * directory, whatever the number of segments */
		if (maxfd - base > 16) {
			fprintf(stderr, "%d descriptors open (%d before)\n", maxfd, base);
			_exit(21);
		}
		/* retention over segments that are no longer mapped */
		T_CHILD_ASSERT(mmds_log_retain(l, lsns[100]) > 0);
		T_CHILD_ASSERT(mmds_log_first_lsn(l) <= lsns[100] && mmds_log_first_lsn(l) > lsns[0]);
		T_CHILD_ASSERT(mmds_log_close(l) == 0);
		T_CHILD_ASSERT(count_fds() == base);
		/* recovery of a log of many segments within the same limit */
		T_CHILD_ASSERT(mmds_log_open(&l, logdir(), NULL) == 0);
		T_CHILD_ASSERT(count_fds() - base <= 16);
		fill(buf, sizeof(buf), 1, n);
		T_CHILD_ASSERT(mmds_log_append(l, 7, buf, sizeof(buf), NULL) == 0);
		T_CHILD_ASSERT(mmds_log_iter_open(&it, l, MMDS_LOG_START) == 0);
		for (s = 0; (rc = mmds_log_iter_next(it, &r)) == 0; s++)
			T_CHILD_ASSERT(r.lsn >= lsns[0] && r.len == 3000);
		T_CHILD_ASSERT(rc == -EAGAIN);
		T_CHILD_ASSERT(r.lsn > lsns[n - 1]);
		T_CHILD_ASSERT(payload_ok(r.data, r.len, 1, n));
		mmds_log_iter_close(it);
		T_CHILD_ASSERT(count_fds() - base <= 16);
		T_CHILD_ASSERT(mmds_log_close(l) == 0);
		free(lsns);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %#x", status);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

/* A record handed out by an iterator in an old segment stays readable (the
 * documented lifetime: until the next call on the iterator) while the
 * writer rolls over far beyond the window of segments it keeps mapped. */
START_TEST(test_iterator_record_in_an_old_segment_stays_valid_while_writer_rolls)
{
	mmds_log *l = create_ok(SEG_SMALL);
	unsigned char buf[3000];
	mmds_log_iter *it;
	mmds_log_record r, r2;

	for (uint32_t s = 0; s < 8; s++) {
		fill(buf, sizeof(buf), 2, s);
		append_ok(l, 1, buf, sizeof(buf));
	}
	ck_assert_int_eq(mmds_log_iter_open(&it, l, MMDS_LOG_START), 0);
	ck_assert_int_eq(mmds_log_iter_next(it, &r), 0);
	ck_assert_uint_eq(r.lsn, 0);
	/* hundreds of segments later, with a sync making them all durable */
	for (uint32_t s = 8; s < 2000; s++) {
		fill(buf, sizeof(buf), 2, s);
		append_ok(l, 1, buf, sizeof(buf));
	}
	ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
	ck_assert_uint_eq(r.len, sizeof(buf));
	ck_assert(payload_ok(r.data, r.len, 2, 0));
	/* and the iterator goes on from there, through segments unmapped by
	 * the writer long ago */
	for (uint32_t s = 1; s < 2000; s++) {
		ck_assert_int_eq(mmds_log_iter_next(it, &r2), 0);
		ck_assert(payload_ok(r2.data, r2.len, 2, s));
	}
	ck_assert_int_eq(mmds_log_iter_next(it, &r2), -EAGAIN);
	mmds_log_iter_close(it);
	ck_assert_int_eq(mmds_log_close(l), 0);
}
END_TEST

/* A sync that has to map an unmapped segment again and cannot (no
 * descriptor left) fails with that error, never reports the records
 * durable; with descriptors back it succeeds. */
START_TEST(test_sync_that_cannot_reopen_an_old_segment_fails_not_claims_durable)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsigned char buf[3000];
		struct rlimit rl, old;
		mmds_log *l = NULL;
		uint64_t d0;
		int rc, fds[64], nfds = 0;

		T_CHILD_ASSERT(mmds_log_open(&l, logdir(),
					     &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							       .segment_size = SEG_SMALL }) == 0);
		d0 = mmds_log_durable_lsn(l);
		memset(buf, 0x5a, sizeof(buf));
		for (int i = 0; i < 200; i++) /* 50 segments */
			T_CHILD_ASSERT(mmds_log_append(l, 1, buf, sizeof(buf), NULL) == 0);
		/* no descriptor free: the limit low, its holes filled */
		getrlimit(RLIMIT_NOFILE, &old);
		rl = old;
		rl.rlim_cur = (rlim_t)count_fds() + 8;
		T_CHILD_ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
		while ((fds[nfds] = dup(0)) >= 0)
			T_CHILD_ASSERT(++nfds < 64);
		rc = mmds_log_sync(l, UINT64_MAX);
		while (nfds > 0)
			close(fds[--nfds]);
		T_CHILD_ASSERT(setrlimit(RLIMIT_NOFILE, &old) == 0);
		if (rc != -EMFILE) {
			fprintf(stderr, "sync without descriptors = %d\n", rc);
			_exit(20);
		}
		T_CHILD_ASSERT(mmds_log_durable_lsn(l) == d0);
		T_CHILD_ASSERT(mmds_log_sync(l, UINT64_MAX) == 0);
		T_CHILD_ASSERT(mmds_log_durable_lsn(l) == mmds_log_tail_lsn(l));
		T_CHILD_ASSERT(mmds_log_close(l) == 0);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child status %#x", status);
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc;

	tc = t_tcase(s, "basic", 0);
	tcase_add_test(tc, test_append_then_iterate_and_read_by_lsn);
	tcase_add_test(tc, test_lsns_are_byte_positions_of_aligned_records);
	tcase_add_test(tc, test_zero_byte_and_maximum_size_records_round_trip);
	tcase_add_test(tc, test_minimum_segment_size_is_8_kib);
	tcase_add_test(tc, test_rollover_moves_straddling_records_to_next_segment);
	tcase_add_test(tc, test_appendv_gathers_buffers);
	tcase_add_test(tc, test_reserve_commit_and_abort);
	tcase_add_test(tc, test_read_errors_are_clean);
	tcase_add_test(tc, test_open_errors);
	tcase_add_test(tc, test_writer_refuses_planted_symlinks);
	tcase_add_test(tc, test_missing_record_below_durable_point_is_ebadmsg);
	tcase_add_test(tc, test_foreign_padding_claim_at_the_tail_is_ebadmsg_not_a_hang);
	tcase_add_test(tc, test_reopen_after_clean_close_continues_the_log);
	tcase_add_test(tc, test_second_writer_is_ebusy_readers_are_fine);
	tcase_add_test(tc, test_flush_policy_applies_to_segments);

	tc = t_tcase(s, "concurrency", 60);
	tcase_add_test(tc, test_threads_append_while_other_process_follows);
	tcase_add_test(tc, test_tail_wait_times_out_then_wakes_on_append);
	tcase_add_test(tc, test_sync_advances_durable_lsn_with_concurrent_callers);

	tc = t_tcase(s, "retention", 0);
	tcase_add_test(tc, test_retention_drops_whole_segments_below_lsn);
	tcase_add_test(tc, test_reader_first_lsn_follows_each_retention);

	tc = t_tcase(s, "crash", 120);
	tcase_add_test(tc, test_kill9_during_appends_loses_nothing_published);
	tcase_add_test(tc, test_kill9_with_threads_appending_leaves_per_thread_prefixes);

	tc = t_tcase(s, "corruption", 120);
	tcase_add_test(tc, test_flipped_byte_in_middle_record_is_ebadmsg_naming_where);
	tcase_add_test(tc, test_torn_last_record_is_cut_as_torn_tail);
	tcase_add_test(tc, test_hostile_length_fields_never_read_outside);
	tcase_add_test(tc, test_zeroed_segment_header_is_refused_or_cut);
	tcase_add_test(tc, test_hostile_durable_hint_is_harmless);
	tcase_add_test(tc, test_truncating_segments_at_every_offset_recovers_cleanly);
	tcase_add_test(tc, test_random_byte_flips_never_crash);

	tc = t_tcase(s, "tool", 30);
	tcase_add_test(tc, test_tool_info_verify_dump_tail);

	tc = t_tcase(s, "full_disk", 60);
	tcase_add_test(tc, test_full_disk_at_rollover_fails_cleanly_and_keeps_records);
	tcase_add_test(tc, test_retain_after_enospc_gives_the_space_back);

	tc = t_tcase(s, "lifetime", 60);
	tcase_add_test(tc, test_sync_racing_retention_never_uses_a_dropped_segment);
	tcase_add_test(tc, test_truncated_active_segment_makes_append_and_close_efault);
	tcase_add_test(tc, test_verify_beside_a_busy_writer_says_intact);

	tc = t_tcase(s, "hints", 60);
	tcase_add_test(tc, test_hostile_durable_word_never_hides_records);
	tcase_add_test(tc, test_verify_reports_a_segment_iteration_cannot_reach);
	tcase_add_test(tc, test_verify_reads_no_hole_of_a_sparse_segment);

	tc = t_tcase(s, "pretoucher", 60);
	tcase_add_test(tc, test_writer_runs_one_background_thread_joined_on_close);
	tcase_add_test(tc, test_next_segment_is_made_ahead_and_linked_by_the_rollover);
	tcase_add_test(tc, test_writer_without_a_thread_makes_its_segments_itself);
	tcase_add_test(tc, test_forked_child_has_no_background_thread_and_leaves_the_spare);
	tcase_add_test(tc, test_spare_of_a_killed_writer_is_removed_by_the_next_open);

	tc = t_tcase(s, "window", 120);
	tcase_add_test(tc, test_writer_keeps_a_bounded_window_of_segments_open);
	tcase_add_test(tc, test_iterator_record_in_an_old_segment_stays_valid_while_writer_rolls);
	tcase_add_test(tc, test_sync_that_cannot_reopen_an_old_segment_fails_not_claims_durable);
	return s;
}

int main(void)
{
	return t_run_suite(log_suite());
}
