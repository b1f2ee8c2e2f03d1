/* mkseeds.c - build the fuzz targets' seed corpora with the library itself:
 *   mkseeds OUTDIR  writes OUTDIR/log/, OUTDIR/counters/, OUTDIR/ring/,
 * each seed twice (raw mode and fix-up mode, fuzz.h): a log across two
 * segments with a padding and an aborted record, a log with a torn tail, a
 * log whose first segment was retained away; counters files with striped
 * and freed counters (padded and packed); wrapped rings with messages in
 * flight, one with padding at the wrap and one with a claimed record. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mmds.h>

#include "fuzz.h"

/* half of PATH_MAX, so that every name made from them fits */
static char out[PATH_MAX / 2], work[PATH_MAX / 2];

#define DIE(...)                                                             \
	do {                                                                 \
		fprintf(stderr, "mkseeds: " __VA_ARGS__);                    \
		fprintf(stderr, "\n");                                       \
		exit(1);                                                     \
	} while (0)
#define OK(call)                                                             \
	do {                                                                 \
		long long rc_ = (call);                                      \
		if (rc_ < 0)                                                 \
			DIE("%s:%d: %s: %s", __FILE__, __LINE__, #call,      \
			    mmds_strerror((int)rc_));                        \
	} while (0)

/* A growing byte buffer. */
struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
		if (b->p == NULL)
			DIE("out of memory");
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put_le32(struct buf *b, uint32_t v)
{
	unsigned char le[4] = { (unsigned char)v, (unsigned char)(v >> 8),
				(unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	put(b, le, 4);
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	struct buf b = { 0 };
	unsigned char tmp[65536];
	size_t got;

	if (f == NULL)
		DIE("%s: %s", path, strerror(errno));
	while ((got = fread(tmp, 1, sizeof(tmp), f)) > 0)
		put(&b, tmp, got);
	fclose(f);
	*n = b.n;
	return b.p;
}

/* Trailing zeros are left to the harness's EXTEND mode. */
static size_t trimmed(const unsigned char *p, size_t n)
{
	while (n > 0 && p[n - 1] == 0)
		n--;
	return (n + 7) & ~(size_t)7;
}

/* Write the seed twice: mode byte 'mode' (raw) and mode | FIXUP. */
static void emit(const char *target, const char *name, unsigned mode,
		 const unsigned char *body, size_t n)
{
	char dir[PATH_MAX / 2 + 64], path[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", out, target);
	mkdir(dir, 0755);
	for (int fix = 0; fix < 2; fix++) {
		FILE *f;
		unsigned char m = (unsigned char)(mode | (fix ? FZ_MODE_FIXUP : 0));

		snprintf(path, sizeof(path), "%s/%s-%s", dir, name, fix ? "fixup" : "raw");
		f = fopen(path, "wb");
		if (f == NULL || fwrite(&m, 1, 1, f) != 1 ||
		    (n && fwrite(body, 1, n, f) != n) || fclose(f) != 0)
			DIE("%s: cannot write", path);
	}
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Pack a log directory as the log target's input (fuzz.h). */
static void emit_log(const char *name, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct buf b = { 0 };
	char *names[64], path[PATH_MAX];
	size_t nn = 0;

	if (d == NULL)
		DIE("%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL && nn < 64)
		if (e->d_name[0] != '.')
			names[nn++] = strdup(e->d_name);
	closedir(d);
	qsort(names, nn, sizeof(*names), cmp);
	for (size_t i = 0; i < nn; i++) {
		size_t n;
		unsigned char *p;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		p = slurp(path, &n);
		if (strcmp(names[i], "lock") == 0) {
			unsigned char k = FZ_LOG_LOCK;

			put(&b, &k, 1);
			put_le32(&b, (uint32_t)n);
			put(&b, p, n);
		} else if (strstr(names[i], ".seg")) {
			unsigned char k = FZ_LOG_SEG | FZ_LOG_EXTEND;

			n = trimmed(p, n);
			put(&b, &k, 1);
			put_le32(&b, (uint32_t)n);
			put(&b, p, n);
		}
		free(p);
		free(names[i]);
	}
	emit("log", name, 0, b.p, b.n);
	free(b.p);
}

static void emit_file(const char *target, const char *name, const char *path)
{
	size_t n;
	unsigned char *p = slurp(path, &n);

	emit(target, name, FZ_MODE_EXTEND, p, trimmed(p, n));
	free(p);
}

/* ---- log ---------------------------------------------------------------- */

static mmds_log *new_log(const char *dir)
{
	mmds_log *l = NULL;
	int rc;

	fz_clear_dir(dir);
	rmdir(dir);
	/* the smallest segments the library takes keep the seeds small */
	rc = mmds_log_open(&l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
						      .segment_size = 8192 });
	if (rc == -EINVAL)
		rc = mmds_log_open(&l, dir,
				   &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
						     .segment_size = 16384 });
	OK(rc);
	return l;
}

static void append(mmds_log *l, uint16_t type, size_t len)
{
	unsigned char p[2048];

	for (size_t i = 0; i < len; i++)
		p[i] = (unsigned char)(type + i);
	OK(mmds_log_append(l, type, p, len, NULL));
}

/* Append until the tail is in segment seg (a padding record ends the one
 * before). */
static void fill_to(mmds_log *l, uint64_t seg)
{
	mmds_log_info in;
	uint16_t t = 10;

	OK(mmds_log_get_info(l, &in));
	while (mmds_log_tail_lsn(l) < seg * (in.segment_size - 4096) + 64)
		append(l, t++, 700);
}

static void seeds_log(void)
{
	char dir[PATH_MAX];
	mmds_log *l;
	mmds_log_reservation r, r2;

	snprintf(dir, sizeof(dir), "%s/log", work);

	/* two segments, a padding record, an aborted one, closed cleanly */
	l = new_log(dir);
	append(l, 1, 100);
	append(l, 2, 0);
	OK(mmds_log_reserve(l, 64, &r));
	OK(mmds_log_abort(l, &r));
	append(l, 3, 5);
	fill_to(l, 1);
	append(l, 4, 33);
	OK(mmds_log_sync(l, UINT64_MAX));
	OK(mmds_log_close(l));
	emit_log("two-segments", dir);

	/* a writer killed with a reservation open and a record after it */
	l = new_log(dir);
	append(l, 1, 40);
	OK(mmds_log_reserve(l, 24, &r));
	memset(r.data, 'r', 24);
	OK(mmds_log_reserve(l, 16, &r2));
	memset(r2.data, 's', 16);
	OK(mmds_log_commit(l, &r2, 6));
	emit_log("torn-tail", dir);
	OK(mmds_log_commit(l, &r, 5));
	OK(mmds_log_close(l));

	/* three segments, the first one retained away; no clean close */
	l = new_log(dir);
	append(l, 1, 10);
	fill_to(l, 2);
	append(l, 2, 10);
	OK(mmds_log_sync(l, UINT64_MAX));
	OK(mmds_log_retain(l, mmds_log_tail_lsn(l)));
	append(l, 3, 10);
	emit_log("retained", dir);
	OK(mmds_log_close(l));

	/* a new, empty log */
	l = new_log(dir);
	OK(mmds_log_close(l));
	emit_log("empty", dir);
}

/* ---- counters ----------------------------------------------------------- */

static void seeds_counters(void)
{
	char path[PATH_MAX];
	mmds_counters *c;
	int a, g, s, f;

	snprintf(path, sizeof(path), "%s/counters", work);
	unlink(path);
	OK(mmds_counters_open(&c, path,
			      &(mmds_counters_opts){ .flags = MMDS_COUNTERS_CREATE,
						     .capacity = 16 }));
	OK(a = mmds_counters_alloc(c, "requests",
				   &(mmds_counter_def){ .help = "requests served" }));
	OK(g = mmds_counters_alloc(c, "temperature",
				   &(mmds_counter_def){ .kind = MMDS_GAUGE }));
	OK(s = mmds_counters_alloc(c, "hits", &(mmds_counter_def){ .stripes = 4 }));
	OK(f = mmds_counters_alloc(c, "old", NULL));
	OK(mmds_counters_add(c, a, 42, NULL));
	OK(mmds_counters_sub(c, g, 7, NULL));
	OK(mmds_counters_add(c, s, 1000, NULL));
	OK(mmds_counters_add(c, f, 1, NULL));
	OK(mmds_counters_free(c, f));
	OK(mmds_counters_close(c));
	emit_file("counters", "striped-freed", path);

	unlink(path);
	OK(mmds_counters_open(&c, path,
			      &(mmds_counters_opts){ .flags = MMDS_COUNTERS_CREATE |
							      MMDS_COUNTERS_PACKED,
						     .capacity = 32,
						     .grace_ms = UINT32_MAX }));
	OK(a = mmds_counters_alloc(c, "a", NULL));
	OK(g = mmds_counters_alloc(c, "b", &(mmds_counter_def){ .kind = MMDS_GAUGE }));
	OK(f = mmds_counters_alloc(c, "c", NULL));
	OK(mmds_counters_free(c, f));
	OK(mmds_counters_inc(c, a, NULL));
	OK(mmds_counters_set(c, g, (uint64_t)-5));
	OK(mmds_counters_close(c));
	emit_file("counters", "packed-never-reused", path);
}

/* ---- ring --------------------------------------------------------------- */

static mmds_ring *ring_open(const char *path, unsigned role, unsigned mode,
			    uint64_t cap)
{
	mmds_ring *r = NULL;

	OK(mmds_ring_open(&r, path,
			  &(mmds_ring_opts){ .role = role, .flags = MMDS_RING_CREATE,
					     .mode = mode, .capacity = cap }));
	return r;
}

/* Push and pop len-byte messages until the positions wrapped twice, then
 * leave `left` messages in flight. */
static void wrap(mmds_ring *p, mmds_ring *c, size_t len, int left)
{
	unsigned char m[256], got[256];
	mmds_ring_info in;

	memset(m, 'm', sizeof(m));
	OK(mmds_ring_get_info(p, &in));
	while (in.tail < 2 * in.capacity + 40) {
		OK(mmds_ring_push(p, 1, m, len));
		OK(mmds_ring_pop(c, got, sizeof(got), NULL));
		OK(mmds_ring_get_info(p, &in));
	}
	for (int i = 0; i < left; i++)
		OK(mmds_ring_push(p, (uint32_t)(2 + i), m, len - (size_t)i));
}

static void seeds_ring(void)
{
	char path[PATH_MAX];
	mmds_ring *p, *p2, *c;
	void *claim;

	snprintf(path, sizeof(path), "%s/ring", work);

	unlink(path);
	p = ring_open(path, MMDS_RING_PRODUCER, MMDS_RING_SPSC, 256);
	c = ring_open(path, MMDS_RING_CONSUMER, 0, 0);
	wrap(p, c, 24, 2);
	emit_file("ring", "spsc-wrapped", path);
	OK(mmds_ring_close(p));
	OK(mmds_ring_close(c));

	/* 8 + 56 bytes per message do not divide 512 - 40: padding at the wrap */
	unlink(path);
	p = ring_open(path, MMDS_RING_PRODUCER, MMDS_RING_MPSC, 512);
	c = ring_open(path, MMDS_RING_CONSUMER, 0, 0);
	wrap(p, c, 56, 3);
	emit_file("ring", "mpsc-padding", path);

	/* a second producer with a claim it has not committed */
	p2 = ring_open(path, MMDS_RING_PRODUCER, 0, 0);
	OK(mmds_ring_claim(p2, 32, &claim));
	memset(claim, 'c', 32);
	OK(mmds_ring_push(p, 9, "after the claim", 15));
	emit_file("ring", "mpsc-claimed", path);
	OK(mmds_ring_abort(p2));
	OK(mmds_ring_close(p2));
	OK(mmds_ring_close(p));
	OK(mmds_ring_close(c));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkseeds OUTDIR\n");
		return 2;
	}
	snprintf(out, sizeof(out), "%s", argv[1]);
	mkdir(out, 0755);
	fz_init();
	snprintf(work, sizeof(work), "%s/work", fz_dir());
	mkdir(work, 0700);
	seeds_log();
	seeds_counters();
	seeds_ring();
	return 0;
}
