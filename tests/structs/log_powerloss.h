/*
 * log_powerloss.h - a simulated power loss under the log, shared by
 * test_log_powerloss.c (a quick sample in make check) and
 * torture_log_powerloss.c (thousands of crash states in make torture).
 *
 * The disk is modelled as CrashMonkey and ALICE do: the programs link the
 * library statically with fdatasync, fsync, msync, unlink and unlinkat
 * wrapped (-Wl,--wrap=...).  An fdatasync or fsync of a file records its
 * bytes as its durable image; an fsync of the log directory records its
 * entries as durable.  msync(MS_SYNC) alone makes nothing durable in the
 * model (the library always follows it with fdatasync): the stricter
 * reading.  While the model runs no real sync is issued (the model is the
 * disk), which keeps a crash state cheap.
 *
 * A crash state is built at a random event (an append, or just before or
 * just after any sync call of the library, recovery's own included): a copy
 * of the directory as a power loss could leave it.  A name whose entry
 * changed since the last directory fsync (created, deleted, relinked) may
 * or may not be there; a file's size is its durable size or its current
 * one; each 4 KiB page that differs between the durable image and the page
 * cache is old, new, or torn at 512-byte sectors, at random.
 *
 * The writer runs again and again on the same log: open (recovery), check,
 * append and sync at random (retention now and then), power loss, and the
 * next run opens the crash state, so stale bytes of earlier runs lie on the
 * disk.  After each recovery: the open succeeds (default REFUSE mode);
 * every record covered by a returned mmds_log_sync() is served; every
 * served record is byte for byte the one last appended at its LSN (nothing
 * corrupt, nothing stale); mmds_log_verify() says 0.
 *
 * Include in exactly one file of a program linked with
 * -Wl,--wrap=fdatasync,--wrap=fsync,--wrap=msync,--wrap=unlink,--wrap=unlinkat.
 */
#ifndef LOG_POWERLOSS_H
#define LOG_POWERLOSS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mmds/log.h>

#define PL_SEG ((uint64_t)16384)
#define PL_PAGE 4096u
#define PL_SECTOR 512u
#define PL_CAP (1u << 17) /* LSN slots, one per 8 bytes: 1 MiB of LSNs */
#define PL_MAX_ENT 256
#define PL_KEEP ((uint64_t)48 << 10) /* retention keeps the last 48 KiB */

/* One inode as the model's disk holds it. */
struct pl_obj {
	ino_t ino;          /* 0 once its last name is gone */
	unsigned char *img; /* durable bytes; NULL: never synced */
	size_t size;
	struct pl_obj *next;
};

struct pl_ent {
	char name[256];
	struct pl_obj *o;
};

/* What was appended at an LSN, last writer wins. */
struct pl_slot {
	uint64_t lsn, id, seen;
	uint32_t len;
	int used;
};

struct pl_stats {
	unsigned long states;            /* crash states recovered */
	unsigned long in_sync;           /* ... built inside a sync call */
	unsigned long in_recovery;       /* ... built inside recovery */
	unsigned long refused;           /* opens that failed -EBADMSG */
	unsigned long cut_beyond_durable; /* recoveries that cut a corrupt-
	                                    looking tail past the durable point */
	unsigned long cuts;              /* recoveries that cut anything */
	unsigned long pages_old, pages_new, pages_torn; /* dirty pages */
	unsigned long names_undone;      /* changed names left out */
	unsigned long records_served, durable_checked, appends, syncs;
};

/* The writer's background thread syncs and unlinks too: the wrappers
 * update the model under pl_mu, and the flags the test's own thread sets
 * or reads while that thread runs are atomic. */
static pthread_mutex_t pl_mu = PTHREAD_MUTEX_INITIALIZER;

static struct pl_model {
	_Atomic int on;      /* the wrappers model the disk */
	_Atomic int crashed; /* this run's crash state is built */
	_Atomic int in_open, in_sync;
	_Atomic long countdown; /* events left before the power loss */
	char dir[PATH_MAX - 16], crash[PATH_MAX];
	dev_t ddev;
	ino_t dino;
	struct pl_obj *objs;
	struct pl_ent dur[PL_MAX_ENT]; /* the directory as last fsync'd */
	size_t ndur;
	uint64_t rng;
	struct pl_stats *st;
} pl;

static struct pl_slot pl_tab[PL_CAP];

int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __real_msync(void *addr, size_t len, int flags);
int __wrap_msync(void *addr, size_t len, int flags);
int __real_unlink(const char *path);
int __wrap_unlink(const char *path);
int __real_unlinkat(int dirfd, const char *name, int flags);
int __wrap_unlinkat(int dirfd, const char *name, int flags);

static void pl_die(const char *what)
{
	fprintf(stderr, "log_powerloss: %s: %s\n", what, strerror(errno));
	abort();
}

static uint64_t pl_rand(void)
{
	uint64_t x = pl.rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	pl.rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static int pl_coin(void)
{
	return (int)(pl_rand() >> 63);
}

/* The whole file at fd (from offset 0) into a malloc'd buffer. */
static unsigned char *pl_read_fd(int fd, size_t *len)
{
	struct stat s;
	unsigned char *b;
	size_t got = 0;

	if (fstat(fd, &s) != 0)
		pl_die("fstat");
	b = malloc((size_t)s.st_size + 1);
	if (b == NULL)
		pl_die("malloc");
	while (got < (size_t)s.st_size) {
		ssize_t n = pread(fd, b + got, (size_t)s.st_size - got, (off_t)got);

		if (n < 0)
			pl_die("pread");
		if (n == 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return b;
}

static unsigned char *pl_read_at(int dirfd, const char *name, size_t *len)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	unsigned char *b;

	if (fd < 0)
		pl_die(name);
	b = pl_read_fd(fd, len);
	close(fd);
	return b;
}

static void pl_write(const char *dir, const char *name, const void *buf, size_t len)
{
	char path[PATH_MAX + 256];
	size_t done = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		pl_die(path);
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n <= 0)
			pl_die("write");
		done += (size_t)n;
	}
	close(fd);
}

static struct pl_obj *pl_obj_of(ino_t ino)
{
	struct pl_obj *o;

	for (o = pl.objs; o; o = o->next)
		if (o->ino == ino)
			return o;
	o = calloc(1, sizeof(*o));
	if (o == NULL)
		pl_die("calloc");
	o->ino = ino;
	o->next = pl.objs;
	pl.objs = o;
	return o;
}

/* The regular files of the log directory now: name -> inode object. */
static size_t pl_list(struct pl_ent *out)
{
	DIR *d = opendir(pl.dir);
	struct dirent *e;
	size_t n = 0;

	if (d == NULL)
		pl_die(pl.dir);
	while ((e = readdir(d)) != NULL) {
		struct stat s;

		/* the writer's pretoucher makes its spare segment under a
		 * ".tmp-" name in the background: such a file may come and go
		 * at any moment, and any crash state of it is the same (the
		 * next writer open removes it) */
		if (strncmp(e->d_name, ".tmp-", 5) == 0 ||
		    fstatat(dirfd(d), e->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(s.st_mode))
			continue;
		if (n == PL_MAX_ENT || strlen(e->d_name) >= sizeof(out[n].name)) {
			errno = ENAMETOOLONG;
			pl_die("too many or too long names");
		}
		strcpy(out[n].name, e->d_name);
		out[n].o = pl_obj_of(s.st_ino);
		n++;
	}
	closedir(d);
	return n;
}

static void pl_snap_file(int fd, ino_t ino)
{
	struct pl_obj *o = pl_obj_of(ino);

	free(o->img);
	o->img = pl_read_fd(fd, &o->size);
}

/* Write the crash state of one name: its durable image only (cur == NULL)
 * or durable image and page cache mixed page by page. */
static void pl_put(const char *name, const struct pl_obj *o, const char *cur)
{
	static const unsigned char zero[PL_PAGE];
	unsigned char *now, *out;
	size_t nn, size, old = o->img ? o->size : 0;
	int dfd;

	if (cur == NULL) {
		pl_write(pl.crash, name, o->img ? o->img : zero, old);
		return;
	}
	dfd = open(pl.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		pl_die(pl.dir);
	now = pl_read_at(dfd, cur, &nn);
	close(dfd);
	size = nn == old || pl_coin() ? nn : old;
	out = calloc(1, size + 1);
	if (out == NULL)
		pl_die("calloc");
	for (size_t p = 0; p < size; p += PL_PAGE) {
		size_t n = size - p < PL_PAGE ? size - p : PL_PAGE;
		unsigned char a[PL_PAGE], b[PL_PAGE];
		unsigned how;

		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		if (p < old)
			memcpy(a, o->img + p, old - p < n ? old - p : n);
		if (p < nn)
			memcpy(b, now + p, nn - p < n ? nn - p : n);
		if (memcmp(a, b, n) == 0) {
			memcpy(out + p, a, n);
			continue;
		}
		how = (unsigned)(pl_rand() % 3);
		if (pl.st)
			how == 0 ? pl.st->pages_old++
				 : how == 1 ? pl.st->pages_new++ : pl.st->pages_torn++;
		for (size_t q = 0; q < n; q += PL_SECTOR) {
			size_t m = n - q < PL_SECTOR ? n - q : PL_SECTOR;
			int newer = how == 1 || (how == 2 && pl_coin());

			memcpy(out + p + q, (newer ? b : a) + q, m);
		}
	}
	pl_write(pl.crash, name, out, size);
	free(out);
	free(now);
}

/* The power loss: build the crash state in pl.crash. */
static void pl_crash(void)
{
	static struct pl_ent cur[PL_MAX_ENT];
	size_t ncur = pl_list(cur);

	if (mkdir(pl.crash, 0700) != 0)
		pl_die(pl.crash);
	for (size_t i = 0; i < ncur; i++) {
		const struct pl_ent *d = NULL;

		for (size_t j = 0; j < pl.ndur; j++)
			if (strcmp(pl.dur[j].name, cur[i].name) == 0)
				d = &pl.dur[j];
		if (d && d->o == cur[i].o)
			pl_put(cur[i].name, cur[i].o, cur[i].name);
		else if (pl_coin())
			pl_put(cur[i].name, cur[i].o, cur[i].name);
		else if (d)
			pl_put(d->name, d->o, NULL);
		else if (pl.st)
			pl.st->names_undone++;
	}
	for (size_t j = 0; j < pl.ndur; j++) {
		int now = 0;

		for (size_t i = 0; i < ncur; i++)
			if (strcmp(pl.dur[j].name, cur[i].name) == 0)
				now = 1;
		if (now)
			continue;
		if (pl_coin())
			pl_put(pl.dur[j].name, pl.dur[j].o, NULL);
		else if (pl.st)
			pl.st->names_undone++;
	}
	pl.crashed = 1;
}

/* One moment at which the power may go. */
static void pl_event(void)
{
	if (pl.on && !pl.crashed && --pl.countdown <= 0) {
		if (pl.st && pl.in_open)
			pl.st->in_recovery++;
		if (pl.st && pl.in_sync)
			pl.st->in_sync++;
		pl_crash();
	}
}

static int pl_sync(int fd)
{
	struct stat s;

	if (fstat(fd, &s) != 0)
		return -1;
	pl.in_sync = 1;
	pl_event();
	if (S_ISDIR(s.st_mode)) {
		if (s.st_ino == pl.dino && s.st_dev == pl.ddev)
			pl.ndur = pl_list(pl.dur);
	} else if (S_ISREG(s.st_mode) && s.st_dev == pl.ddev) {
		pl_snap_file(fd, s.st_ino);
	}
	pl_event();
	pl.in_sync = 0;
	return 0;
}

static int pl_sync_locked(int fd)
{
	int rc;

	pthread_mutex_lock(&pl_mu);
	rc = pl_sync(fd);
	pthread_mutex_unlock(&pl_mu);
	return rc;
}

int __wrap_fdatasync(int fd)
{
	return pl.on ? pl_sync_locked(fd) : __real_fdatasync(fd);
}

int __wrap_fsync(int fd)
{
	return pl.on ? pl_sync_locked(fd) : __real_fsync(fd);
}

int __wrap_msync(void *addr, size_t len, int flags)
{
	return pl.on ? 0 : __real_msync(addr, len, flags);
}

static void pl_forget(dev_t dev, ino_t ino)
{
	for (struct pl_obj *o = pl.objs; o; o = o->next)
		if (dev == pl.ddev && o->ino == ino)
			o->ino = 0; /* its inode number may be reused */
}

int __wrap_unlinkat(int dirfd, const char *name, int flags)
{
	struct stat s;
	int have, rc;

	pthread_mutex_lock(&pl_mu);
	have = pl.on && !(flags & AT_REMOVEDIR) &&
	       fstatat(dirfd, name, &s, AT_SYMLINK_NOFOLLOW) == 0;
	rc = __real_unlinkat(dirfd, name, flags);
	if (rc == 0 && have && s.st_nlink <= 1)
		pl_forget(s.st_dev, s.st_ino);
	pthread_mutex_unlock(&pl_mu);
	return rc;
}

int __wrap_unlink(const char *path)
{
	return __wrap_unlinkat(AT_FDCWD, path, 0);
}

static void pl_rm(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			__real_unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* The disk is what the directory holds now: every file durable as it is. */
static void pl_baseline(void)
{
	struct stat s;
	int dfd;

	while (pl.objs) {
		struct pl_obj *o = pl.objs;

		pl.objs = o->next;
		free(o->img);
		free(o);
	}
	if (stat(pl.dir, &s) != 0)
		pl_die(pl.dir);
	pl.ddev = s.st_dev;
	pl.dino = s.st_ino;
	pl.ndur = pl_list(pl.dur);
	dfd = open(pl.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		pl_die(pl.dir);
	for (size_t i = 0; i < pl.ndur; i++) {
		struct pl_obj *o = pl.dur[i].o;

		free(o->img);
		o->img = pl_read_at(dfd, pl.dur[i].name, &o->size);
	}
	close(dfd);
}

/* After the power loss: the crash state becomes the log directory. */
static void pl_install(void)
{
	pl.on = 0;
	pl_rm(pl.dir);
	if (rename(pl.crash, pl.dir) != 0)
		pl_die("rename");
	pl_baseline();
	pl.crashed = 0;
}

/* ---- records ------------------------------------------------------------- */

static void pl_fill(unsigned char *buf, uint32_t len, uint64_t id)
{
	uint64_t x = id * 0x9E3779B97F4A7C15ULL + 7;

	for (uint32_t k = 0; k < len; k++) {
		x ^= x >> 29;
		x *= 0xBF58476D1CE4E5B9ULL;
		buf[k] = (unsigned char)(x >> 56);
	}
	memcpy(buf, &id, len < 8 ? len : 8);
}

static uint32_t pl_len(void)
{
	uint64_t r = pl_rand() % 100;

	if (r < 55)
		return 8 + (uint32_t)(pl_rand() % 200);
	if (r < 85)
		return 200 + (uint32_t)(pl_rand() % 1300);
	return 1500 + (uint32_t)(pl_rand() % 3500);
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int pl_fail(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* Check the recovered log against what was appended and synced. */
static int pl_check(mmds_log *L, uint64_t durable, uint64_t gen, char *why,
		    size_t cap)
{
	static unsigned char want[8192];
	mmds_log_report rep;
	mmds_log_iter *it;
	mmds_log_record r;
	uint64_t first = mmds_log_first_lsn(L);
	int rc;

	if (mmds_log_get_report(L, &rep) != 0)
		return pl_fail(why, cap, "no report");
	if (rep.reason != MMDS_LOG_CUT_NONE)
		pl.st->cuts++;
	if (mmds_log_iter_open(&it, L, MMDS_LOG_START) != 0)
		return pl_fail(why, cap, "iter_open");
	while ((rc = mmds_log_iter_next(it, &r)) == 0) {
		struct pl_slot *s = &pl_tab[(r.lsn / 8) % PL_CAP];

		if (!s->used || s->lsn != r.lsn) {
			mmds_log_iter_close(it);
			return pl_fail(why, cap, "served a record at LSN %llu that no "
				       "live append wrote there (stale bytes)",
				       (unsigned long long)r.lsn);
		}
		pl_fill(want, s->len, s->id);
		if (r.len != s->len || r.type != (uint16_t)s->id ||
		    memcmp(r.data, want, s->len) != 0) {
			mmds_log_iter_close(it);
			return pl_fail(why, cap, "record at LSN %llu served corrupt "
				       "(len %u type %u, appended len %u id %llu)",
				       (unsigned long long)r.lsn, r.len, r.type,
				       s->len, (unsigned long long)s->id);
		}
		s->seen = gen;
		pl.st->records_served++;
	}
	if (rc != -EAGAIN || mmds_log_iter_lsn(it) != rep.end_lsn) {
		mmds_log_iter_close(it);
		return pl_fail(why, cap, "iteration ended with %d at %llu, tail %llu",
			       rc, (unsigned long long)mmds_log_iter_lsn(it),
			       (unsigned long long)rep.end_lsn);
	}
	mmds_log_iter_close(it);
	for (uint32_t i = 0; i < PL_CAP; i++) {
		struct pl_slot *s = &pl_tab[i];

		if (!s->used)
			continue;
		if (s->lsn >= first && s->lsn < durable) {
			if (s->seen != gen)
				return pl_fail(why, cap, "record at LSN %llu was synced "
					       "(durable up to %llu) and is lost; "
					       "recovery ended at %llu (%s)",
					       (unsigned long long)s->lsn,
					       (unsigned long long)durable,
					       (unsigned long long)rep.end_lsn,
					       mmds_log_cut_name(rep.reason));
			pl.st->durable_checked++;
		}
		if (s->lsn >= rep.end_lsn)
			s->used = 0; /* cut: the LSN is free again */
	}
	rc = mmds_log_verify(pl.dir, NULL);
	if (rc != 0)
		return pl_fail(why, cap, "verify after recovery: %d", rc);
	return 0;
}

/* One writer run: append, sync, retain at random until the power goes. */
static int pl_work(mmds_log *L, uint64_t *durable, uint64_t *next_id, char *why,
		   size_t cap)
{
	static unsigned char buf[8192];
	uint64_t end = mmds_log_tail_lsn(L);

	for (int k = 0; k < 400 && !pl.crashed; k++) {
		uint64_t r = pl_rand() % 100, lsn, w, t;
		uint64_t id;
		uint32_t len;
		int rc;

		if (r < 82) {
			pl_event();
			if (pl.crashed)
				break;
			id = (*next_id)++;
			len = pl_len();
			pl_fill(buf, len, id);
			rc = mmds_log_append(L, (uint16_t)id, buf, len, &lsn);
			if (rc)
				return pl_fail(why, cap, "append: %d", rc);
			pl_tab[(lsn / 8) % PL_CAP] = (struct pl_slot){ lsn, id, 0, len, 1 };
			end = lsn + MMDS_LOG_RECORD_HEADER + ((len + 7u) & ~7u);
			pl.st->appends++;
		} else if (r < 96) {
			w = end;
			rc = mmds_log_sync(L, UINT64_MAX);
			if (rc)
				return pl_fail(why, cap, "sync: %d", rc);
			if (!pl.crashed && w > *durable)
				*durable = w;
			pl.st->syncs++;
		} else {
			t = mmds_log_tail_lsn(L);
			if (t > PL_KEEP && (rc = mmds_log_retain(L, t - PL_KEEP)) < 0)
				return pl_fail(why, cap, "retain: %d", rc);
		}
	}
	if (!pl.crashed)
		pl_crash();
	return 0;
}

/*
 * Run states crash states on a log in base/log (base must exist).  With
 * count_refused, an open refused with -EBADMSG is counted and the log
 * reopened with MMDS_LOG_RECOVER_TRUNCATE; otherwise it is a failure.
 * Returns 0, or -1 with why filled at the first broken invariant.
 */
static int pl_run(const char *base, unsigned long states, uint64_t seed,
		  int count_refused, struct pl_stats *st, char *why, size_t cap)
{
	mmds_log_opts o = { .flags = MMDS_LOG_CREATE, .segment_size = PL_SEG };
	uint64_t durable = 0, next_id = 0;
	mmds_log *L = NULL;
	int rc;

	memset(&pl, 0, sizeof(pl));
	memset(pl_tab, 0, sizeof(pl_tab));
	pl.rng = seed * 2 + 1;
	pl.st = st;
	snprintf(pl.dir, sizeof(pl.dir), "%s/log", base);
	snprintf(pl.crash, sizeof(pl.crash), "%s/crash", base);
	pl_rm(pl.dir);
	pl_rm(pl.crash);
	/* the log as created, durable (the harness's own starting point) */
	rc = mmds_log_open(&L, pl.dir, &o);
	if (rc)
		return pl_fail(why, cap, "create: %d", rc);
	mmds_log_close(L);
	pl_baseline();
	o.flags = 0;
	for (unsigned long n = 0; n < states; n++) {
		pl.countdown = 1 + (long)(pl_rand() % 90);
		pl.on = 1;
		pl.in_open = 1;
		o.recovery = MMDS_LOG_RECOVER_REFUSE;
		rc = mmds_log_open(&L, pl.dir, &o);
		pl.in_open = 0;
		if (pl.crashed) {
			/* the power went during recovery: recover again */
			pl.on = 0;
			mmds_log_close(L);
			pl_install();
			st->states++;
			continue;
		}
		if (rc == -EBADMSG && count_refused) {
			long left = pl.countdown;

			st->refused++;
			pl.countdown = LONG_MAX;
			o.recovery = MMDS_LOG_RECOVER_TRUNCATE;
			rc = mmds_log_open(&L, pl.dir, &o);
			pl.countdown = left;
			if (rc == 0 && mmds_log_tail_lsn(L) < durable)
				durable = mmds_log_tail_lsn(L);
		} else if (rc == -EBADMSG) {
			mmds_log_report rep;

			mmds_log_verify(pl.dir, &rep);
			return pl_fail(why, cap, "state %lu: open refused (-EBADMSG): %s "
				       "at LSN %llu, synced up to %llu (log in %.300s)",
				       n, mmds_log_cut_name(rep.reason),
				       (unsigned long long)rep.bad_lsn,
				       (unsigned long long)durable, pl.dir);
		}
		if (rc)
			return pl_fail(why, cap, "state %lu: open: %d", n, rc);
		rc = pl_check(L, durable, n + 1, why, cap);
		if (rc == 0) {
			mmds_log_report rep;

			mmds_log_get_report(L, &rep);
			st->cut_beyond_durable += rep.cut_beyond_durable != 0;
			rc = pl_work(L, &durable, &next_id, why, cap);
		}
		pl.on = 0;
		mmds_log_close(L);
		if (rc) {
			size_t k = strlen(why);

			snprintf(why + k, cap - k, " (state %lu, log in %.300s)", n, pl.dir);
			return -1;
		}
		pl_install();
		st->states++;
	}
	pl_rm(pl.dir);
	return 0;
}

#endif /* LOG_POWERLOSS_H */
