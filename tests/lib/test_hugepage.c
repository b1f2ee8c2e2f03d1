/* test_hugepage.c - huge pages (mmds/map.h "Huge pages", lib/hugepage.c):
 * explicit HugeTLB pages for anonymous memory, memfd and hugetlbfs files,
 * the fall back to transparent huge pages and then to normal pages, and
 * what mmds_map_hugepages() reports.
 *
 * The machine's settings are changed only as root and only as far as a test
 * needs: /proc/sys/vm/nr_hugepages (and nr_overcommit_hugepages) and
 * /sys/kernel/mm/transparent_hugepage/shmem_enabled.  main() saves them
 * before the run and puts them back after it, whatever happened; each test
 * also restores them when it ends (teardown, or at exit when it skips).
 * What the machine cannot do is skipped with the reason printed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mmds/map.h>

#include "t_util.h"

Suite *hugepage_suite(void);

#define MIB ((size_t)1 << 20)

#define NR_HUGEPAGES "/proc/sys/vm/nr_hugepages"
#define NR_OVERCOMMIT "/proc/sys/vm/nr_overcommit_hugepages"
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define THP_SHMEM "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define THP_PMD_SIZE "/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"

static size_t ps; /* base page size, set by main */

/* ---- reading and writing the knobs ------------------------------------- */

static long read_long(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* 0, or -errno. */
static int write_str(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != (ssize_t)len)
		err = -errno;
	close(fd);
	return err;
}

static int write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", v);
	return write_str(path, buf);
}

/* The bracketed word of a sysfs mode file ("always [madvise] never") into
 * out; false if there is none. */
static bool read_mode(const char *path, char *out, size_t cap)
{
	char buf[256], *open_b, *close_b;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	open_b = strchr(buf, '[');
	close_b = open_b ? strchr(open_b, ']') : NULL;
	if (close_b == NULL || (size_t)(close_b - open_b) > cap)
		return false;
	memcpy(out, open_b + 1, (size_t)(close_b - open_b - 1));
	out[close_b - open_b - 1] = '\0';
	return true;
}

/* A /proc/meminfo value in bytes ("Hugepagesize:" is in kB), or -1. */
static long long meminfo(const char *key)
{
	char line[256];
	long long v = -1;
	size_t klen = strlen(key);
	FILE *f = fopen("/proc/meminfo", "re");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0) {
			char *end;

			v = strtoll(line + klen, &end, 10);
			if (strstr(end, "kB"))
				v *= 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

/* The default HugeTLB page size (the pool nr_hugepages fills). */
static size_t huge_size(void)
{
	long long v = meminfo("Hugepagesize:");

	return v > 0 ? (size_t)v : 0;
}

static size_t thp_size(void)
{
	long v = read_long(THP_PMD_SIZE);

	return v > 0 ? (size_t)v : 2 * MIB;
}

/* ---- saving and restoring the machine's settings ------------------------ */

static struct {
	long nr, overcommit;
	char shmem[32];
	bool have_shmem;
} orig;

static void save_settings(void)
{
	orig.nr = read_long(NR_HUGEPAGES);
	orig.overcommit = read_long(NR_OVERCOMMIT);
	orig.have_shmem = read_mode(THP_SHMEM, orig.shmem, sizeof(orig.shmem));
}

/* Put back what save_settings() saw, touching only what changed. */
static void restore_settings(void)
{
	char mode[32];

	if (geteuid() != 0)
		return;
	if (orig.nr >= 0 && read_long(NR_HUGEPAGES) != orig.nr &&
	    write_long(NR_HUGEPAGES, orig.nr) != 0)
		fprintf(stderr, "warning: could not restore %s to %ld\n",
			NR_HUGEPAGES, orig.nr);
	if (orig.overcommit >= 0 && read_long(NR_OVERCOMMIT) != orig.overcommit &&
	    write_long(NR_OVERCOMMIT, orig.overcommit) != 0)
		fprintf(stderr, "warning: could not restore %s to %ld\n",
			NR_OVERCOMMIT, orig.overcommit);
	if (orig.have_shmem && read_mode(THP_SHMEM, mode, sizeof(mode)) &&
	    strcmp(mode, orig.shmem) != 0 && write_str(THP_SHMEM, orig.shmem) != 0)
		fprintf(stderr, "warning: could not restore %s to %s\n",
			THP_SHMEM, orig.shmem);
}

/* In a test process that changes a setting: restore it at exit too (a skip
 * exits; a failed assertion does not run atexit, main() restores then). */
static void restore_at_exit(void)
{
	static pid_t registered;

	if (registered != getpid()) {
		registered = getpid();
		atexit(restore_settings);
	}
}

static void settings_setup(void)
{
	t_tmpdir_setup();
}

static void settings_teardown(void)
{
	restore_settings();
	t_tmpdir_teardown();
}

/* Reserve explicit huge pages of the default size (the machine's pages plus
 * 8), and make sure at least need of them are free; skip otherwise. */
static size_t reserve_hugetlb(long need)
{
	size_t hp = huge_size();
	long got;
	long long free_pages;
	int err;

	if (hp == 0)
		t_skip("no HugeTLB support (no Hugepagesize in /proc/meminfo)");
	if (geteuid() != 0)
		t_skip("not root: cannot reserve huge pages in %s", NR_HUGEPAGES);
	if (orig.nr < 0)
		t_skip("cannot read %s", NR_HUGEPAGES);
	restore_at_exit();
	err = write_long(NR_HUGEPAGES, orig.nr + 8);
	if (err)
		t_skip("cannot write %s: %s", NR_HUGEPAGES, strerror(-err));
	got = read_long(NR_HUGEPAGES);
	free_pages = meminfo("HugePages_Free:");
	if (free_pages < need)
		t_skip("asked for %ld huge pages, the kernel reserved %ld "
		       "(%lld free), %ld needed", orig.nr + 8, got, free_pages,
		       need);
	return hp;
}

/* No explicit huge pages at all (pool and overcommit 0), as root if they
 * must be changed; skip if that cannot be had. */
static void no_hugetlb(void)
{
	if (orig.nr > 0 || orig.overcommit > 0) {
		if (geteuid() != 0)
			t_skip("explicit huge pages are configured and only "
			       "root can set %s to 0", NR_HUGEPAGES);
		restore_at_exit();
		ck_assert_int_eq(write_long(NR_HUGEPAGES, 0), 0);
		ck_assert_int_eq(write_long(NR_OVERCOMMIT, 0), 0);
	}
	if (read_long(NR_HUGEPAGES) > 0 || meminfo("HugePages_Free:") > 0)
		t_skip("huge pages still in the pool (in use elsewhere?): "
		       "nr_hugepages %ld", read_long(NR_HUGEPAGES));
}

/* ---- helpers ------------------------------------------------------------- */

static unsigned char pat(uint64_t i)
{
	return (unsigned char)(i * 131u + 7u);
}

/* Write every byte of m with the pattern, through mmds_map_write. */
static void write_all(mmds_map *m)
{
	static unsigned char chunk[1 << 16];
	uint64_t size = mmds_map_size(m);

	for (uint64_t at = 0; at < size; at += sizeof(chunk)) {
		size_t n = size - at < sizeof(chunk) ? (size_t)(size - at)
						      : sizeof(chunk);

		for (size_t i = 0; i < n; i++)
			chunk[i] = pat(at + i);
		ck_assert_int_eq(mmds_map_write(m, at, chunk, n), 0);
	}
}

/* The pattern is there, sampled at every step bytes and at the end. */
static void expect_pattern(mmds_map *m, uint64_t from, uint64_t len,
			   uint64_t base)
{
	unsigned char b;

	for (uint64_t at = from; at < from + len; at += 4093) {
		ck_assert_int_eq(mmds_map_read(m, at, &b, 1), 0);
		ck_assert_msg(b == pat(base + at), "byte %llu: %u, want %u",
			      (unsigned long long)at, b, pat(base + at));
	}
	ck_assert_int_eq(mmds_map_read(m, from + len - 1, &b, 1), 0);
	ck_assert_uint_eq(b, pat(base + from + len - 1));
}

static mmds_hugepage_info report(mmds_map *m, const char *what)
{
	mmds_hugepage_info info;

	ck_assert_int_eq(mmds_map_hugepages(m, &info), 0);
	fprintf(stderr, "%s: kind %d page_size %zu anon_huge %llu shmem_pmd "
		"%llu file_pmd %llu hugetlb %llu huge_bytes %llu\n", what,
		(int)info.kind, info.page_size,
		(unsigned long long)info.anon_huge,
		(unsigned long long)info.shmem_pmd,
		(unsigned long long)info.file_pmd,
		(unsigned long long)info.hugetlb,
		(unsigned long long)info.huge_bytes);
	ck_assert_uint_eq(info.huge_bytes, info.anon_huge + info.shmem_pmd +
						   info.file_pmd + info.hugetlb);
	return info;
}

/* ==== explicit HugeTLB pages for anonymous memory ========================== */

/* _i: bit 0 private (else shared, memfd), bit 1 STRICT (else TRY). */
START_TEST(test_anon_huge_try_and_strict_get_hugetlb_pages)
{
	const bool priv = _i & 1, strict = _i & 2;
	size_t hp = reserve_hugetlb(2);
	mmds_hugepage_info info;
	mmds_map *m = NULL;
	char what[64];

	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = 2 * hp,
		.flags = priv ? MMDS_MAP_PRIVATE : 0,
		.huge = strict ? MMDS_HUGE_STRICT : MMDS_HUGE_TRY }), 0);
	if (priv)
		ck_assert_int_eq(mmds_map_fd(m), -1);
	else
		ck_assert_int_ge(mmds_map_fd(m), 0);
	ck_assert_uint_eq((uintptr_t)mmds_map_data(m) % hp, 0);
	ck_assert_uint_eq(mmds_map_size(m), 2 * hp);
	write_all(m);
	expect_pattern(m, 0, 2 * hp, 0);
	snprintf(what, sizeof(what), "%s %s anon", priv ? "private" : "shared",
		 strict ? "STRICT" : "TRY");
	info = report(m, what);
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_HUGETLB);
	ck_assert_uint_eq(info.page_size, hp);
	ck_assert_uint_eq(info.hugetlb, 2 * hp);
	ck_assert_uint_eq(info.huge_bytes, 2 * hp);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_hugetlb_report_follows_resize)
{
	const bool priv = _i & 1;
	size_t hp = reserve_hugetlb(3);
	mmds_hugepage_info info;
	mmds_map *m = NULL;
	unsigned char b = 1;

	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = hp, .flags = priv ? MMDS_MAP_PRIVATE : 0,
		.huge = MMDS_HUGE_TRY }), 0);
	write_all(m);
	info = report(m, "before growth");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_HUGETLB);
	ck_assert_uint_eq(info.hugetlb, hp);

	ck_assert_int_eq(mmds_map_resize(m, 3 * hp), 0);
	ck_assert_uint_eq(mmds_map_size(m), 3 * hp);
	expect_pattern(m, 0, hp, 0); /* kept */
	ck_assert_int_eq(mmds_map_read(m, 3 * hp - 1, &b, 1), 0);
	ck_assert_uint_eq(b, 0); /* new memory is zero */
	write_all(m);
	info = report(m, "after growth");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_HUGETLB);
	ck_assert_uint_eq(info.hugetlb, 3 * hp);
	expect_pattern(m, 0, 3 * hp, 0);

	ck_assert_int_eq(mmds_map_resize(m, hp), 0);
	info = report(m, "after shrink");
	ck_assert_uint_eq(info.hugetlb, hp);
	ck_assert_int_eq(mmds_map_write(m, hp, &b, 1), -ERANGE);
	expect_pattern(m, 0, hp, 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* Growth past the free huge pages fails now (not with a SIGBUS later) and
 * leaves the map as it was; growth within them still works after it. */
START_TEST(test_hugetlb_growth_beyond_free_pages_fails_and_keeps_the_map)
{
	const bool priv = _i & 1;
	size_t hp = reserve_hugetlb(2);
	long long free_pages = meminfo("HugePages_Free:");
	mmds_hugepage_info info;
	mmds_map *m = NULL;
	int rc;

	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = hp, .flags = priv ? MMDS_MAP_PRIVATE : 0,
		.huge = MMDS_HUGE_TRY }), 0);
	write_all(m);
	rc = mmds_map_resize(m, (uint64_t)(free_pages + 16) * hp);
	ck_assert_msg(rc == -ENOMEM || rc == -ENOSPC,
		      "growth past the pool: %d (%s)", rc, mmds_strerror(rc));
	ck_assert_uint_eq(mmds_map_size(m), hp);
	expect_pattern(m, 0, hp, 0);
	ck_assert_int_eq(mmds_map_write(m, hp, "x", 1), -ERANGE);
	info = report(m, "after failed growth");
	ck_assert_uint_eq(info.hugetlb, hp);
	ck_assert_int_eq(mmds_map_resize(m, 2 * hp), 0);
	write_all(m);
	expect_pattern(m, 0, 2 * hp, 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_hugetlb_explicit_page_size_is_used)
{
	size_t hp = reserve_hugetlb(1);
	mmds_hugepage_info info;
	mmds_map *m = NULL;

	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = hp, .huge = MMDS_HUGE_STRICT,
		.huge_page_size = hp }), 0);
	write_all(m);
	info = report(m, "explicit size");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_HUGETLB);
	ck_assert_uint_eq(info.page_size, hp);
	ck_assert_uint_eq(info.hugetlb, hp);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_hugetlb_size_not_a_multiple_keeps_size_and_bounds)
{
	size_t hp = reserve_hugetlb(2);
	mmds_hugepage_info info;
	mmds_map *m = NULL;
	unsigned char b = 9;

	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = hp + hp / 2, .huge = MMDS_HUGE_TRY }), 0);
	ck_assert_uint_eq(mmds_map_size(m), hp + hp / 2);
	write_all(m);
	ck_assert_int_eq(mmds_map_write(m, hp + hp / 2 - 1, &b, 1), 0);
	ck_assert_int_eq(mmds_map_write(m, hp + hp / 2, &b, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_read(m, hp + hp / 2, &b, 1), -ERANGE);
	info = report(m, "1.5 huge pages");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_HUGETLB);
	/* Two whole huge pages back it. */
	ck_assert_uint_eq(info.hugetlb, 2 * hp);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ==== hugetlbfs files ======================================================== */

static char mnt[4096]; /* the hugetlbfs mount point, or "" */

/* Mount hugetlbfs on <tmpdir>/huge in a mount namespace of this test
 * process alone (it goes away with the process); skip if that fails. */
static const char *mount_hugetlbfs(void)
{
	if (geteuid() != 0)
		t_skip("not root: cannot mount hugetlbfs");
	if (unshare(CLONE_NEWNS) != 0)
		t_skip("unshare(CLONE_NEWNS): %s", strerror(errno));
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		t_skip("making / private in the new namespace: %s",
		       strerror(errno));
	snprintf(mnt, sizeof(mnt), "%s", t_path("huge"));
	ck_assert_int_eq(mkdir(mnt, 0700), 0);
	if (mount("mmds-test", mnt, "hugetlbfs", 0, NULL) != 0) {
		int e = errno;

		mnt[0] = '\0';
		t_skip("mount -t hugetlbfs: %s", strerror(e));
	}
	return mnt;
}

static void hugetlbfs_teardown(void)
{
	if (mnt[0] != '\0' && umount2(mnt, MNT_DETACH) != 0)
		fprintf(stderr, "warning: umount %s: %s\n", mnt,
			strerror(errno));
	mnt[0] = '\0';
	settings_teardown();
}

static const char *huge_file(const char *dir, const char *name)
{
	static char path[4096 + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

START_TEST(test_hugetlbfs_file_maps_with_hugetlb_pages)
{
	size_t hp = reserve_hugetlb(2);
	const char *path = huge_file(mount_hugetlbfs(), "data");
	mmds_hugepage_info info;
	mmds_map *m = NULL, *m2 = NULL;
	struct stat st;

	ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = 2 * hp }), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)(2 * hp));
	ck_assert_uint_eq((uintptr_t)mmds_map_data(m) % hp, 0);
	write_all(m);
	info = report(m, "hugetlbfs");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_HUGETLB);
	ck_assert_uint_eq(info.page_size, hp);
	ck_assert_uint_eq(info.hugetlb, 2 * hp);

	/* A second map of the same file sees the data. */
	ck_assert_int_eq(mmds_map_open(&m2, path, NULL), 0);
	ck_assert_uint_eq(mmds_map_size(m2), 2 * hp);
	expect_pattern(m2, 0, 2 * hp, 0);
	info = report(m2, "hugetlbfs, second map");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_HUGETLB);
	ck_assert_uint_eq(info.hugetlb, 2 * hp);
	/* And writes through it are seen by the first. */
	ck_assert_int_eq(mmds_map_write(m2, hp + 5, "hello", 5), 0);
	{
		char buf[6] = { 0 };

		ck_assert_int_eq(mmds_map_read(m, hp + 5, buf, 5), 0);
		ck_assert_str_eq(buf, "hello");
	}
	ck_assert_int_eq(mmds_map_close(m2), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_hugetlbfs_window_offset_must_be_huge_page_aligned)
{
	size_t hp = reserve_hugetlb(2);
	const char *path = huge_file(mount_hugetlbfs(), "data");
	const uint64_t bad[] = { 1, ps, hp / 2, hp - ps, hp + ps };
	mmds_hugepage_info info;
	mmds_map *m = NULL, *w;

	ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = 2 * hp }), 0);
	write_all(m);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		w = (mmds_map *)&w; /* must be reset to NULL */
		ck_assert_msg(mmds_map_open(&w, path, &(mmds_map_opts){
				      .offset = bad[i], .size = ps }) == -EINVAL,
			      "offset %llu accepted",
			      (unsigned long long)bad[i]);
		ck_assert_ptr_null(w);
	}
	/* An aligned offset maps the second huge page. */
	ck_assert_int_eq(mmds_map_open(&w, path, &(mmds_map_opts){
		.offset = hp, .size = hp }), 0);
	expect_pattern(w, 0, hp, hp);
	info = report(w, "hugetlbfs window");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_HUGETLB);
	ck_assert_uint_eq(info.hugetlb, hp);
	ck_assert_int_eq(mmds_map_close(w), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_hugetlbfs_file_grows_to_whole_huge_pages)
{
	size_t hp = reserve_hugetlb(2);
	const char *path = huge_file(mount_hugetlbfs(), "data");
	mmds_map *m = NULL;
	unsigned char b = 3;
	struct stat st;

	ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = hp + 100 }), 0);
	ck_assert_uint_eq(mmds_map_size(m), hp + 100);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)(2 * hp));
	ck_assert_int_eq(mmds_map_write(m, hp + 99, &b, 1), 0);
	ck_assert_int_eq(mmds_map_write(m, hp + 100, &b, 1), -ERANGE);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ==== transparent huge pages ================================================ */

/* Skip unless THP can back anonymous memory (enabled is always or madvise). */
static void need_anon_thp(void)
{
	char mode[32];

	if (!read_mode(THP_ENABLED, mode, sizeof(mode)))
		t_skip("no transparent huge pages (%s unreadable)", THP_ENABLED);
	if (strcmp(mode, "always") != 0 && strcmp(mode, "madvise") != 0)
		t_skip("transparent huge pages are [%s] in %s", mode,
		       THP_ENABLED);
}

/* _i: 0 TRY, 1 STRICT (which falls back to THP, not to normal pages). */
START_TEST(test_private_anon_without_hugetlb_pages_gets_thp)
{
	const size_t size = 64 * MIB;
	mmds_hugepage_info info;
	mmds_map *m = NULL;
	unsigned char *p;

	need_anon_thp();
	no_hugetlb();
	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = size, .flags = MMDS_MAP_PRIVATE,
		.huge = _i ? MMDS_HUGE_STRICT : MMDS_HUGE_TRY }), 0);
	p = mmds_map_data(m);
	ck_assert_uint_eq((uintptr_t)p % thp_size(), 0);
	write_all(m);
	expect_pattern(m, 0, size, 0);
	info = report(m, _i ? "THP (STRICT)" : "THP (TRY)");
	fprintf(stderr, "THP: the kernel gave %llu of %zu bytes as huge pages\n",
		(unsigned long long)info.anon_huge, size);
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_THP);
	ck_assert_uint_eq(info.page_size, thp_size());
	ck_assert_uint_gt(info.anon_huge, 0);
	ck_assert_uint_le(info.anon_huge, size);
	ck_assert_uint_eq(info.hugetlb, 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ==== falling back to normal pages ========================================== */

/* Shared memory must not get THP: shmem_enabled never or deny (set to never
 * as root if it is not). */
static void no_shmem_thp(void)
{
	char mode[32];

	if (!read_mode(THP_SHMEM, mode, sizeof(mode)))
		return; /* no shmem THP at all */
	if (strcmp(mode, "never") == 0 || strcmp(mode, "deny") == 0)
		return;
	if (geteuid() != 0)
		t_skip("shmem THP is [%s] and only root can set it to never",
		       mode);
	restore_at_exit();
	ck_assert_int_eq(write_str(THP_SHMEM, "never"), 0);
	ck_assert(read_mode(THP_SHMEM, mode, sizeof(mode)));
	ck_assert_str_eq(mode, "never");
}

START_TEST(test_shared_anon_huge_try_falls_back_to_normal_pages)
{
	mmds_hugepage_info info;
	mmds_map *m = NULL;

	no_hugetlb();
	no_shmem_thp();
	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = 4 * MIB, .huge = MMDS_HUGE_TRY }), 0);
	ck_assert_int_ge(mmds_map_fd(m), 0);
	write_all(m);
	expect_pattern(m, 0, 4 * MIB, 0);
	info = report(m, "fallback");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_NONE);
	ck_assert_uint_eq(info.page_size, ps);
	ck_assert_uint_eq(info.huge_bytes, 0);
	/* It grows like any map. */
	ck_assert_int_eq(mmds_map_resize(m, 5 * MIB), 0);
	write_all(m);
	expect_pattern(m, 0, 5 * MIB, 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* An empty map has nothing to back at open, so whether huge pages exist is
 * found out only at the first growth: TRY must still fall back (the map
 * grows with normal pages), not be stuck with HugeTLB pages it cannot get.
 * _i: 0 shared, 1 private. */
START_TEST(test_empty_anon_huge_try_without_huge_pages_can_grow)
{
	const bool priv = _i & 1;
	mmds_hugepage_info info;
	mmds_map *m = NULL;
	int rc;

	no_hugetlb();
	no_shmem_thp();
	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = 0, .flags = priv ? MMDS_MAP_PRIVATE : 0,
		.huge = MMDS_HUGE_TRY }), 0);
	info = report(m, priv ? "empty private TRY" : "empty shared TRY");
	rc = mmds_map_resize(m, 4 * MIB);
	ck_assert_msg(rc == 0, "growing an empty TRY map without huge pages: "
		      "%d (%s), kind %d", rc, mmds_strerror(rc), (int)info.kind);
	write_all(m);
	expect_pattern(m, 0, 4 * MIB, 0);
	ck_assert_int_ne(info.kind, MMDS_HUGE_KIND_HUGETLB);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* Likewise STRICT: an empty shared map that could never hold a byte must
 * fail the open, as a non-empty one does. */
START_TEST(test_empty_shared_anon_huge_strict_without_huge_pages_fails)
{
	mmds_map *m = (mmds_map *)&m;
	int rc;

	no_hugetlb();
	no_shmem_thp();
	rc = mmds_map_open_anon(&m, &(mmds_map_opts){ .size = 0,
						      .huge = MMDS_HUGE_STRICT });
	if (rc == 0) {
		int grow = mmds_map_resize(m, 2 * MIB);

		mmds_map_close(m);
		ck_abort_msg("STRICT empty map opened without huge pages; "
			     "growing it then gives %d (%s)", grow,
			     mmds_strerror(grow));
	}
	ck_assert_msg(rc == -ENOTSUP || rc == -ENOMEM, "%d (%s)", rc,
		      mmds_strerror(rc));
	ck_assert_ptr_null(m);
}
END_TEST

START_TEST(test_shared_anon_huge_strict_fails_without_huge_pages)
{
	mmds_map *m = (mmds_map *)&m; /* must be reset to NULL */
	int rc;

	no_hugetlb();
	no_shmem_thp();
	rc = mmds_map_open_anon(&m, &(mmds_map_opts){ .size = 4 * MIB,
						      .huge = MMDS_HUGE_STRICT });
	ck_assert_msg(rc == -ENOTSUP || rc == -ENOMEM,
		      "STRICT without huge pages: %d (%s)", rc,
		      mmds_strerror(rc));
	ck_assert_ptr_null(m);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ==== arguments and the report ============================================= */

START_TEST(test_huge_mode_out_of_range_is_einval)
{
	const char *path = t_path("f");
	mmds_map *m = (mmds_map *)&m;
	int fd;

	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = MIB, .huge = 3 }), -EINVAL);
	ck_assert_ptr_null(m);
	m = (mmds_map *)&m;
	ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = MIB, .huge = 3 }), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(access(path, F_OK), -1); /* nothing created */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	m = (mmds_map *)&m;
	ck_assert_int_eq(mmds_map_open_fd(&m, fd, &(mmds_map_opts){
		.size = MIB, .huge = 3 }), -EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = MIB, .huge = 0xffffffffu }), -EINVAL);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_huge_page_size_not_a_power_of_two_is_einval)
{
	static const size_t sizes[] = { 3 * MIB, 3, 3 * 4096, 6 * MIB };
	const char *path = t_path("f");
	mmds_map *m;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		m = (mmds_map *)&m;
		ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
			.size = MIB, .huge = MMDS_HUGE_TRY,
			.huge_page_size = sizes[i] }), -EINVAL);
		ck_assert_ptr_null(m);
		m = (mmds_map *)&m;
		ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){
			.size = MIB, .huge = MMDS_HUGE_STRICT,
			.huge_page_size = sizes[i] }), -EINVAL);
		ck_assert_ptr_null(m);
		m = (mmds_map *)&m;
		ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
			.flags = MMDS_MAP_CREATE, .size = MIB,
			.huge_page_size = sizes[i] }), -EINVAL);
		ck_assert_ptr_null(m);
	}
}
END_TEST

START_TEST(test_without_huge_option_a_file_map_has_normal_pages)
{
	const char *path = t_path("f");
	mmds_hugepage_info info;
	mmds_map *m = NULL;

	ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = 4 * MIB }), 0);
	write_all(m);
	ck_assert_int_eq(mmds_map_touch(m, 0, 0), 0);
	info = report(m, "plain file");
	ck_assert_int_eq(info.kind, MMDS_HUGE_KIND_NONE);
	ck_assert_uint_eq(info.page_size, ps);
	ck_assert_uint_eq(info.anon_huge, 0);
	ck_assert_uint_eq(info.shmem_pmd, 0);
	ck_assert_uint_eq(info.file_pmd, 0);
	ck_assert_uint_eq(info.hugetlb, 0);
	ck_assert_uint_eq(info.huge_bytes, 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

START_TEST(test_hugepages_null_arguments_are_einval)
{
	mmds_hugepage_info info;
	mmds_map *m = NULL;

	ck_assert_int_eq(mmds_map_hugepages(NULL, &info), -EINVAL);
	ck_assert_int_eq(mmds_map_open_anon(&m, &(mmds_map_opts){ .size = MIB }),
			 0);
	ck_assert_int_eq(mmds_map_hugepages(m, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_hugepages(NULL, NULL), -EINVAL);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* ==== suite ================================================================== */

Suite *hugepage_suite(void)
{
	Suite *s = suite_create("hugepage");
	TCase *tc;

	tc = tcase_create("hugetlb");
	tcase_add_checked_fixture(tc, settings_setup, settings_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_anon_huge_try_and_strict_get_hugetlb_pages, 0, 4);
	tcase_add_loop_test(tc, test_hugetlb_report_follows_resize, 0, 2);
	tcase_add_loop_test(tc, test_hugetlb_growth_beyond_free_pages_fails_and_keeps_the_map, 0, 2);
	tcase_add_test(tc, test_hugetlb_explicit_page_size_is_used);
	tcase_add_test(tc, test_hugetlb_size_not_a_multiple_keeps_size_and_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("hugetlbfs");
	tcase_add_checked_fixture(tc, settings_setup, hugetlbfs_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hugetlbfs_file_maps_with_hugetlb_pages);
	tcase_add_test(tc, test_hugetlbfs_window_offset_must_be_huge_page_aligned);
	tcase_add_test(tc, test_hugetlbfs_file_grows_to_whole_huge_pages);
	suite_add_tcase(s, tc);

	tc = tcase_create("thp");
	tcase_add_checked_fixture(tc, settings_setup, settings_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_private_anon_without_hugetlb_pages_gets_thp, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("fallback");
	tcase_add_checked_fixture(tc, settings_setup, settings_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_shared_anon_huge_try_falls_back_to_normal_pages);
	tcase_add_test(tc, test_shared_anon_huge_strict_fails_without_huge_pages);
	tcase_add_loop_test(tc, test_empty_anon_huge_try_without_huge_pages_can_grow, 0, 2);
	tcase_add_test(tc, test_empty_shared_anon_huge_strict_without_huge_pages_fails);
	suite_add_tcase(s, tc);

	tc = tcase_create("args");
	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	tcase_add_test(tc, test_huge_mode_out_of_range_is_einval);
	tcase_add_test(tc, test_huge_page_size_not_a_power_of_two_is_einval);
	tcase_add_test(tc, test_without_huge_option_a_file_map_has_normal_pages);
	tcase_add_test(tc, test_hugepages_null_arguments_are_einval);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	ps = (size_t)sysconf(_SC_PAGESIZE);
	save_settings();
	sr = srunner_create(hugepage_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* Whatever the tests did or failed to undo (a failed assertion or a
	 * timeout ends a test before its teardown). */
	restore_settings();
	return failed != 0;
}
