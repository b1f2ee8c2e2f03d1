/* test_log_crash.c - the log killed at every named crash point (log.*),
 * then recovered and checked (log_inv.h); and a simulated power loss in
 * which stale bytes of an earlier run come back from the disk. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mmds/log.h>

#include "crash.h"
#include "format.h"
#include "log_inv.h"
#include "t_crash.h"
#include "t_util.h"

Suite *log_crash_suite(void);

#define RECORDS 300u /* per scenario: about ten segments of 16 KiB */
#define MAX_POINTS 64

static struct log_inv *g_sh;
static int g_no_retain; /* scenario_work keeps every segment */
/* scenario_work's writer runs without its background thread: the rollover
 * points are then reached by the appending thread only, the same number
 * of times in every run */
static int g_no_thread;

static const char *logdir(void)
{
	return t_path("log");
}

/* ---- scenarios (run in a child) ----------------------------------------- */

/* Appends with a sync every 9 records and retention every 40, keeping the
 * last 60 records; ends with a clean close. */
static int scenario_work(void *arg)
{
	mmds_log *l = NULL;
	unsigned n = arg ? *(unsigned *)arg : RECORDS;

	if (mmds_log_open(&l, logdir(),
			  &(mmds_log_opts){ .flags = MMDS_LOG_CREATE |
						     (g_no_thread ? MMDS_LOG_NO_THREAD : 0),
					    .segment_size = LOG_INV_SEG }) != 0)
		return 2;
	for (unsigned k = 0; k < n; k++) {
		uint64_t i = atomic_load(&g_sh->acked);

		if (log_inv_append(l, g_sh) != 0)
			return 3;
		if (k % 9 == 8 && mmds_log_sync(l, UINT64_MAX) != 0)
			return 4;
		if (!g_no_retain && k % 40 == 39 && i >= 60 &&
		    mmds_log_retain(l, g_sh->lsn[(i - 60) % LOG_INV_CAP]) < 0)
			return 5;
	}
	return mmds_log_close(l) == 0 ? 0 : 6;
}

/* Non-zero bytes just past the tail, as a torn record leaves them. */
static int plant_garbage(uint64_t tail)
{
	char path[PATH_MAX];
	unsigned char junk[40];
	uint64_t in = tail % LOG_INV_DSIZE;
	int fd, ok;

	if (in + 16 + sizeof(junk) > LOG_INV_DSIZE)
		return 0;
	memset(junk, 0xa5, sizeof(junk));
	snprintf(path, sizeof(path), "%s/%020llu.seg", logdir(),
		 (unsigned long long)(tail - in));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = pwrite(fd, junk, sizeof(junk), (off_t)(4096 + in + 16)) == (ssize_t)sizeof(junk);
	close(fd);
	return ok ? 0 : -1;
}

/* A zero header at tail, as a writer of version 1 left a segment whose
 * rollover did not seal it (version 2 claims the padding first). */
static int zero_header(uint64_t tail)
{
	char path[PATH_MAX];
	unsigned char z[16] = { 0 };
	uint64_t in = tail % LOG_INV_DSIZE;
	int fd, ok;

	if (in + 16 > LOG_INV_DSIZE)
		return 0;
	snprintf(path, sizeof(path), "%s/%020llu.seg", logdir(),
		 (unsigned long long)(tail - in));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ok = pwrite(fd, z, sizeof(z), (off_t)(4096 + in)) == (ssize_t)sizeof(z);
	close(fd);
	return ok ? 0 : -1;
}

/* Three rounds of: open (recovery cuts the torn tail left before it),
 * append, sync, close, leave a torn tail. */
static int scenario_recover(void *arg)
{
	(void)arg;
	for (int round = 0; round < 3; round++) {
		mmds_log *l = NULL;
		uint64_t tail;

		if (mmds_log_open(&l, logdir(), NULL) != 0)
			return 2;
		for (int k = 0; k < 8; k++)
			if (log_inv_append(l, g_sh) != 0)
				return 3;
		if (mmds_log_sync(l, UINT64_MAX) != 0)
			return 4;
		tail = mmds_log_tail_lsn(l);
		if (mmds_log_close(l) != 0 || plant_garbage(tail) != 0)
			return 5;
	}
	return 0;
}

/* The state recovery points start from: a writer killed just after it
 * linked a new segment (so an empty segment follows the tail), the old
 * segment's padding claim gone (a zero header: recovery cuts there), and
 * a torn record past the tail.  For log.recover.sealed: a writer killed
 * with a reservation claimed, its payload not written. */
static void setup_torn_log(const char *point)
{
	unsigned n = 100;
	uint64_t acked, tail;

	if (strcmp(point, "log.recover.sealed") == 0) {
		ck_assert_int_eq(t_crash_run("log.append.claimed", 50, scenario_work, &n), 1);
		return;
	}
	ck_assert_int_eq(t_crash_run("log.rollover.linked", 2, scenario_work, &n), 1);
	acked = atomic_load(&g_sh->acked);
	ck_assert_uint_gt(acked, 0);
	tail = g_sh->lsn[(acked - 1) % LOG_INV_CAP] + 16 +
	       ((log_inv_len(acked - 1) + 7) & ~(uint64_t)7);
	ck_assert_int_eq(zero_header(tail), 0);
	ck_assert_int_eq(plant_garbage(tail), 0);
}

static int is_recovery_point(const char *name)
{
	return strncmp(name, "log.recover.", 12) == 0;
}

/* How often each point is reached by its scenario when nothing is armed,
 * counted in a child. */
static unsigned long hits_unarmed(const char *point)
{
	unsigned long *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long n;
	pid_t pid;

	ck_assert_ptr_ne(h, MAP_FAILED);
	t_rm_dir(logdir());
	atomic_store(&g_sh->acked, 0);
	if (is_recovery_point(point))
		setup_torn_log(point);
	pid = t_fork();
	if (pid == 0) {
		unsigned long before = mmds__crash_hits(point);
		int rc = is_recovery_point(point) ? scenario_recover(NULL)
						  : scenario_work(NULL);

		*h = mmds__crash_hits(point) - before;
		_exit(rc);
	}
	t_wait_child(pid);
	n = *h;
	munmap(h, sizeof(*h));
	return n;
}

START_TEST(test_every_log_crash_point_recovers_every_acknowledged_record)
{
	const char *pts[MAX_POINTS];
	size_t n = t_crash_points("log.", pts, MAX_POINTS);
	unsigned runs = 0, others = 0;
	char why[512];

	g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g_sh, MAP_FAILED);
	ck_assert_uint_ge(n, 15);
	ck_assert_uint_le(n, MAX_POINTS);
	for (size_t p = 0; p < n; p++) {
		/* cursors have their own scenarios: test_log_cursor_crash */
		if (strncmp(pts[p], "log.cursor.", 11) == 0 && ++others)
			continue;
		int rollover = strncmp(pts[p], "log.rollover.", 13) == 0;
		unsigned long total;

		/* the rollover points are also reached by the writer's
		 * background thread, as often as it gets ahead of the
		 * appenders: the passes are counted and run without it, and
		 * pass 1 once more with it (below) */
		g_no_thread = rollover;
		total = hits_unarmed(pts[p]);
		unsigned long passes[5] = { 1, 2, total / 2 + 1, total, 1 };

		ck_assert_msg(total >= 1, "%s: its scenario never reaches it", pts[p]);
		for (int k = 0; k < 5; k++) {
			unsigned long pass = passes[k];
			int r;

			if (k == 4) {
				if (!rollover)
					continue;
				g_no_thread = 0;
			} else if (pass > total || (k > 0 && pass <= passes[k - 1])) {
				continue;
			}
			t_rm_dir(logdir());
			atomic_store(&g_sh->acked, 0);
			if (is_recovery_point(pts[p])) {
				setup_torn_log(pts[p]);
				r = t_crash_run(pts[p], pass, scenario_recover, NULL);
			} else {
				r = t_crash_run(pts[p], pass, scenario_work, NULL);
			}
			ck_assert_msg(r == 1, "%s pass %lu%s not reached", pts[p], pass,
				      g_no_thread ? " (no background thread)" : "");
			ck_assert_msg(log_inv_check(logdir(), g_sh, why, sizeof(why)) == 0,
				      "killed at %s pass %lu: %s", pts[p], pass, why);
			/* and recovery is stable: a second one finds the same log */
			ck_assert_msg(log_inv_check(logdir(), g_sh, why, sizeof(why)) == 0,
				      "second recovery after %s pass %lu: %s", pts[p], pass, why);
			runs++;
		}
		g_no_thread = 0;
	}
	ck_assert_uint_ge(runs, 3 * (n - others));
	munmap(g_sh, sizeof(*g_sh));
}
END_TEST

static int scenario_open(void *arg)
{
	mmds_log *l = NULL;

	(void)arg;
	return mmds_log_open(&l, logdir(), NULL) == 0 && mmds_log_close(l) == 0 ? 0 : 2;
}

/* Oldest segment index in the log directory, and how many there are. */
static uint64_t oldest_segment(uint64_t *count)
{
	DIR *d = opendir(logdir());
	struct dirent *e;
	uint64_t lo = UINT64_MAX;

	ck_assert_ptr_nonnull(d);
	*count = 0;
	while ((e = readdir(d)) != NULL) {
		unsigned long long base;

		if (strlen(e->d_name) == 24 && sscanf(e->d_name, "%20llu", &base) == 1) {
			lo = base / LOG_INV_DSIZE < lo ? base / LOG_INV_DSIZE : lo;
			(*count)++;
		}
	}
	closedir(d);
	return lo;
}

START_TEST(test_kill_between_deletes_after_a_cut_leaves_no_gap)
{
	unsigned n = 200;
	uint64_t count, lo, zero = 0;
	char path[PATH_MAX];
	unsigned char *z = calloc(1, LOG_INV_DSIZE);
	mmds_log *l = NULL;
	int fd;

	g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g_sh, MAP_FAILED);
	g_no_retain = 1;
	ck_assert_int_eq(t_crash_run("log.recover.delete", 1, scenario_work, &n), 0);
	lo = oldest_segment(&count);
	ck_assert_uint_ge(count, 4);
	/* the second segment looks never written, and no durable word points
	 * past it: recovery cuts there and deletes every later segment */
	for (uint64_t k = lo; k < lo + count; k++) {
		snprintf(path, sizeof(path), "%s/%020llu.seg", logdir(),
			 (unsigned long long)(k * LOG_INV_DSIZE));
		fd = open(path, O_WRONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, &zero, 8, 256), 8);
		if (k == lo + 1)
			ck_assert_int_eq(pwrite(fd, z, LOG_INV_DSIZE, 4096), (ssize_t)LOG_INV_DSIZE);
		close(fd);
	}
	/* killed after deleting one of them */
	ck_assert_int_eq(t_crash_run("log.recover.delete", 2, scenario_open, NULL), 1);
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), 0);
	ck_assert_uint_eq(mmds_log_tail_lsn(l), (lo + 1) * LOG_INV_DSIZE);
	ck_assert_int_eq(mmds_log_close(l), 0);
	oldest_segment(&count);
	ck_assert_uint_le(count, 2);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
	free(z);
	munmap(g_sh, sizeof(*g_sh));
}
END_TEST

/* ---- power loss ------------------------------------------------------------ */

/*
 * A model of the disk: the bytes of each segment file as of its last
 * fdatasync (the library makes data durable with msync + fdatasync).  The
 * wrapper below copies a segment file into the model when fdatasync
 * returns; a "power loss" then writes the model back over the files, except
 * for the pages the test says the kernel wrote back on its own.
 */
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);

static char g_disk[PATH_MAX - 64]; /* the model's directory, "" = off */

static void copy_file(const char *from, const char *to)
{
	size_t n;
	void *buf = t_read_file(from, &n);

	t_write_file(to, buf, n);
	free(buf);
}

int __wrap_fdatasync(int fd)
{
	int rc = __real_fdatasync(fd);
	char link[64], path[PATH_MAX], to[PATH_MAX + 64];
	ssize_t n;
	const char *base;

	if (rc != 0 || g_disk[0] == 0)
		return rc;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return rc;
	path[n] = 0;
	base = strrchr(path, '/');
	if (base && strlen(base) == 25 && strcmp(base + 21, ".seg") == 0) {
		snprintf(to, sizeof(to), "%s%s", g_disk, base);
		copy_file(path, to);
	}
	return rc;
}

/* Power loss: file := model, but pages [keep_lo, keep_hi) of the file
 * keep the page cache's bytes (written back by the kernel in time). */
static void power_loss(const char *name, size_t keep_lo, size_t keep_hi)
{
	char file[PATH_MAX + 64], disk[PATH_MAX + 64];
	size_t nf, nd;
	unsigned char *f, *d;

	snprintf(file, sizeof(file), "%s/%s", logdir(), name);
	snprintf(disk, sizeof(disk), "%s/%s", g_disk, name);
	f = t_read_file(file, &nf);
	d = t_read_file(disk, &nd);
	ck_assert_uint_eq(nf, nd);
	memcpy(d + keep_lo, f + keep_lo, keep_hi - keep_lo);
	t_write_file(file, d, nd);
	free(f);
	free(d);
}

static int append_typed(mmds_log *l, uint16_t type, uint32_t len, uint64_t *lsn)
{
	unsigned char buf[8192];

	memset(buf, (int)(type & 0xff), len);
	return mmds_log_append(l, type, buf, len, lsn);
}

START_TEST(test_power_loss_never_brings_back_records_recovery_cut)
{
	/* A0..A4 100 bytes each, A5 3000, A6 4560, so that A7 starts on the
	 * page boundary at file offset 12288; A7..A9 500 bytes. */
	static const uint32_t lens[10] = { 100, 100, 100, 100, 100, 3000, 4560, 500, 500, 500 };
	const char *seg0 = "00000000000000000000.seg";
	uint64_t lsn[10];
	mmds_log_report rep;
	mmds_log *l;
	pid_t pid;
	char path[PATH_MAX + 64];

	snprintf(g_disk, sizeof(g_disk), "%s", t_path("disk"));
	ck_assert_int_eq(mkdir(g_disk, 0700), 0);
	/* run 1: A0..A4 durable, A5..A9 published; killed */
	pid = t_fork();
	if (pid == 0) {
		T_CHILD_ASSERT(mmds_log_open(&l, logdir(),
					     &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							       .segment_size = LOG_INV_SEG }) == 0);
		for (int i = 0; i < 10; i++) {
			T_CHILD_ASSERT(append_typed(l, (uint16_t)(0xA000 + i), lens[i], &lsn[i]) == 0);
			if (i == 4)
				T_CHILD_ASSERT(mmds_log_sync(l, UINT64_MAX) == 0);
		}
		T_CHILD_ASSERT(4096 + lsn[7] == 12288);
		_exit(0); /* no close: a crash */
	}
	t_wait_child(pid);
	/* the kernel wrote all of run 1 back, except A5's header: a torn
	 * write after the crash; the machine restarts from the disk */
	snprintf(path, sizeof(path), "%s/%s", g_disk, seg0);
	copy_file(t_path("log/00000000000000000000.seg"), path);
	{
		unsigned char z[16] = { 0 };
		size_t n;
		unsigned char *img = t_read_file(path, &n);
		uint64_t a5 = 5 * 120;

		memcpy(img + 4096 + a5, z, 16);
		t_write_file(path, img, n);
		t_write_file(t_path("log/00000000000000000000.seg"), img, n);
		free(img);
	}
	/* run 2: recovery cuts at A5; B5, B6 take A5's and A6's places, so
	 * B6 ends where the stale A7 begins; killed before any sync */
	pid = t_fork();
	if (pid == 0) {
		T_CHILD_ASSERT(mmds_log_open(&l, logdir(), NULL) == 0);
		T_CHILD_ASSERT(mmds_log_get_report(l, &rep) == 0);
		T_CHILD_ASSERT(rep.end_lsn == 5 * 120);
		T_CHILD_ASSERT(rep.bytes_cut > 0);
		T_CHILD_ASSERT(append_typed(l, 0xB005, lens[5], &lsn[5]) == 0);
		T_CHILD_ASSERT(append_typed(l, 0xB006, lens[6], &lsn[6]) == 0);
		T_CHILD_ASSERT(4096 + lsn[6] + 16 + lens[6] == 12288);
		_exit(0);
	}
	t_wait_child(pid);
	/* power loss: the kernel had written back the pages of B5 and B6 (file
	 * offsets 4096..12287), nothing else since the last fdatasync */
	power_loss(seg0, 4096, 12288);
	g_disk[0] = 0;
	/* run 3: A0..A4, B5, B6 and nothing of A7..A9 */
	l = NULL;
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), 0);
	{
		mmds_log_iter *it;
		mmds_log_record r;
		uint16_t want[7] = { 0xA000, 0xA001, 0xA002, 0xA003, 0xA004, 0xB005, 0xB006 };
		int n = 0, rc;

		ck_assert_int_eq(mmds_log_iter_open(&it, l, MMDS_LOG_START), 0);
		while ((rc = mmds_log_iter_next(it, &r)) == 0) {
			ck_assert_msg(n < 7, "record %d (type %#x at %llu) was cut by recovery "
				      "and came back after the power loss", n, r.type,
				      (unsigned long long)r.lsn);
			ck_assert_uint_eq(r.type, want[n]);
			n++;
		}
		ck_assert_int_eq(rc, -EAGAIN);
		ck_assert_int_eq(n, 7);
		mmds_log_iter_close(it);
	}
	ck_assert_int_eq(mmds_log_close(l), 0);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

/* sync(lsn) with the LSN append returned makes that record durable: it
 * survives a power loss that keeps only what was synced. */
START_TEST(test_sync_of_a_records_own_lsn_makes_it_durable)
{
	const char *seg0 = "00000000000000000000.seg";
	char path[PATH_MAX + 64];
	unsigned char buf[200];
	mmds_log_record r;
	uint64_t lsn[3];
	mmds_log *l = NULL;

	snprintf(g_disk, sizeof(g_disk), "%s", t_path("disk"));
	ck_assert_int_eq(mkdir(g_disk, 0700), 0);
	ck_assert_int_eq(mmds_log_open(&l, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = LOG_INV_SEG }), 0);
	/* the disk holds the new, empty segment */
	snprintf(path, sizeof(path), "%s/%s", g_disk, seg0);
	copy_file(t_path("log/00000000000000000000.seg"), path);
	ck_assert_int_eq(append_typed(l, 0xD000, 100, &lsn[0]), 0);
	ck_assert_int_eq(mmds_log_sync(l, lsn[0]), 0);
	ck_assert_uint_eq(mmds_log_durable_lsn(l), lsn[0] + 16 + 104);
	ck_assert_int_eq(append_typed(l, 0xD001, 100, &lsn[1]), 0);
	ck_assert_int_eq(append_typed(l, 0xD002, 100, &lsn[2]), 0);
	/* the end of a record (the next one's start) covers it as well */
	ck_assert_int_eq(mmds_log_sync(l, lsn[2]), 0);
	ck_assert_uint_eq(mmds_log_durable_lsn(l), lsn[2] + 16 + 104);
	/* an LSN inside a record covers the whole record */
	ck_assert_int_eq(mmds_log_sync(l, lsn[0] + 8), 0);
	ck_assert_int_eq(mmds_log_close(l), 0);
	power_loss(seg0, 0, 0);
	g_disk[0] = 0;
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(mmds_log_read(l, lsn[i], buf, sizeof(buf), &r), 100);
		ck_assert_uint_eq(r.type, 0xD000 + i);
	}
	ck_assert_int_eq(mmds_log_close(l), 0);
}
END_TEST

/* ---- format version 1 ------------------------------------------------------ */

static uint32_t seg_version(const char *name)
{
	char path[PATH_MAX];
	struct mmds__fmt_header h;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", logdir(), name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	return h.version;
}

START_TEST(test_version_1_segment_is_sealed_never_claimed_in)
{
	const char *seg0 = "00000000000000000000.seg";
	char path[PATH_MAX], name[32];
	struct mmds__fmt_header h;
	mmds_log_record r;
	unsigned char buf[64];
	uint64_t lsn[4];
	mmds_log *l = NULL;
	int fd;

	ck_assert_int_eq(mmds_log_open(&l, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = LOG_INV_SEG }), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(append_typed(l, (uint16_t)(0xC000 + i), 40, &lsn[i]), 0);
	ck_assert_int_eq(mmds_log_close(l), 0);
	/* the segment as a version-1 writer left it: same records, version 1 */
	snprintf(path, sizeof(path), "%s/%s", logdir(), seg0);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	ck_assert_uint_eq(h.version, 2);
	h.version = 1;
	h.checksum = mmds__fmt_checksum(&h);
	ck_assert_int_eq(pwrite(fd, &h, sizeof(h), 0), (ssize_t)sizeof(h));
	close(fd);
	/* a writer of this version: recovers it, then appends elsewhere */
	ck_assert_int_eq(mmds_log_open(&l, logdir(), NULL), 0);
	ck_assert_uint_eq(mmds_log_tail_lsn(l), lsn[2] + 56);
	ck_assert_int_eq(append_typed(l, 0xC003, 40, &lsn[3]), 0);
	ck_assert_uint_eq(lsn[3], LOG_INV_DSIZE); /* the next segment's base */
	ck_assert_uint_eq(seg_version(seg0), 1);
	snprintf(name, sizeof(name), "%020llu.seg", (unsigned long long)LOG_INV_DSIZE);
	ck_assert_uint_eq(seg_version(name), 2);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(mmds_log_read(l, lsn[i], buf, sizeof(buf), &r), 40);
		ck_assert_uint_eq(r.type, 0xC000 + i);
	}
	ck_assert_int_eq(mmds_log_close(l), 0);
	ck_assert_int_eq(mmds_log_verify(logdir(), NULL), 0);
}
END_TEST

Suite *log_crash_suite(void)
{
	Suite *s = suite_create("log_crash");
	TCase *tc;

	tc = t_tcase(s, "points", 300);
	tcase_add_test(tc, test_every_log_crash_point_recovers_every_acknowledged_record);
	tcase_add_test(tc, test_kill_between_deletes_after_a_cut_leaves_no_gap);
	tc = t_tcase(s, "power_loss", 60);
	tcase_add_test(tc, test_power_loss_never_brings_back_records_recovery_cut);
	tcase_add_test(tc, test_sync_of_a_records_own_lsn_makes_it_durable);
	tc = t_tcase(s, "format", 60);
	tcase_add_test(tc, test_version_1_segment_is_sealed_never_claimed_in);
	return s;
}

int main(void)
{
	return t_run_suite(log_crash_suite());
}
