/* log.c - the append-only log: segments, records, recovery, tailing.
 * Layout in docs/FORMAT.md ("Log"), guide in docs/log.md. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#if defined(HAVE_LINUX_FUTEX_H) && defined(HAVE_SYS_SYSCALL_H)
#include <linux/futex.h>
#include <sys/syscall.h>
#define LOG_HAVE_FUTEX 1
#endif

#include <mmds/log.h>
#include <mmds/map.h>

#include "crash.h"
#include "format.h"

#define LOG_VERSION 1u
#define HDR MMDS__FMT_HEADER_SIZE
#define RH MMDS_LOG_RECORD_HEADER
#define REC_COMMIT 0x8000u /* set in every committed header */
#define REC_PAD 0x0001u    /* rest of the segment is padding */
#define REC_SKIP 0x0002u   /* aborted reservation: skipped by readers */
#define REC_KNOWN (REC_COMMIT | REC_PAD | REC_SKIP)
#define TAIL_ROLL ((uint64_t)1 << 63) /* tail bit: a rollover is running */
#define CHUNK_BITS 10u
#define CHUNKS 1024u /* segment table: CHUNKS << CHUNK_BITS entries */
#define MIN_SEGMENT ((uint64_t)8192)
#define MAX_SEGMENT ((uint64_t)1 << 40)

/* Immutable parameters in the common header's params. */
struct log_params {
	uint64_t segment_size;
	uint64_t base_lsn; /* index * (segment_size - HDR) */
	uint64_t log_id;   /* same in every segment of one log */
	uint64_t index;
};

/* Mutable words of the header page, at offset 256.  Shared between
 * processes; accessed only through these atomics. */
struct seg_live {
	/* Everything below it was durable when stored (release; read with
	 * acquire).  A hint for recovery: it may lag behind. */
	_Atomic uint64_t durable;
	/* The writer's tail + 1, stored (release) by a clean close and
	 * cleared by the next writer open: nothing was written beyond it, so
	 * recovery need not look for stale bytes there.  0: unknown. */
	_Atomic uint64_t clean_end;
	/* hint_sum(salt, durable), stored (release) after durable: a durable
	 * word that does not match it is ignored (torn, flipped or written by
	 * a version that did not store it). */
	_Atomic uint64_t durable_check;
	uint64_t reserved[5];
	/* Futex word, on its own cache line: bumped (release) by the writer
	 * after a commit when waiters != 0. */
	_Atomic uint32_t seq;
	/* Readers sleeping on seq (seq_cst increments, paired with the
	 * writer's fence after each commit). */
	_Atomic uint32_t waiters;
};
#define LIVE_OFF 256u
_Static_assert(sizeof(struct log_params) <= MMDS__FMT_PARAMS_MAX, "params");
_Static_assert(LIVE_OFF + sizeof(struct seg_live) <= HDR, "live");

struct seg {
	mmds_map *map;       /* the whole file: RDWR for the writer */
	unsigned char *base; /* mmds_map_data(map) */
	uint64_t fsize;      /* bytes mapped */
	uint64_t index, salt;
	struct seg_live *live; /* writer: in map; reader: in hmap or NULL */
	mmds_map *hmap;      /* reader's writable window on the header page */
	int hmap_failed;
	/* Writer's table segments: one reference held by the table, one by
	 * each user outside roll_mu (sync, walks, an append in flight).  The
	 * last one to drop it unmaps, closes and frees it (acq_rel). */
	_Atomic uint32_t refs;
	struct seg *next;    /* retention's list of dropped segments */
};

struct mmds_log {
	char *dir;
	int dirfd, lockfd;
	int writer;
	pid_t pid;               /* the opener: a forked child's close of an
	                            inherited handle must not mark the log */
	unsigned mode, recovery;
	mmds_flush_policy flush;
	uint64_t seg_size, dsize, log_id, max_len;
	uint32_t version;
	uint64_t created_ns;
	_Atomic uint64_t tail;   /* next LSN to reserve, | TAIL_ROLL (acq/rel) */
	_Atomic uint64_t durable; /* (acq/rel) */
	_Atomic uint64_t first;  /* oldest kept LSN (relaxed) */
	_Atomic uint64_t pub;    /* a record boundary below which everything
	                            is committed: where walks start (relaxed) */
	_Atomic int dir_dirty;   /* a segment was created or deleted */
	uint64_t idx0;           /* segment index of table entry 0 */
	/* Segment table: entries are set (release) before the tail enters
	 * their range, cleared only by retention. */
	_Atomic(struct seg *) *_Atomic chunks[CHUNKS];
	pthread_mutex_t roll_mu; /* rollover, retention, chunk allocation */
	pthread_cond_t roll_cv;
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	int syncing;
	pthread_mutex_t read_mu; /* mmds_log_read's cached segment */
	struct seg rseg;
	int rseg_ok;
	mmds_log_report report;
};

struct mmds_log_iter {
	mmds_log *log;
	uint64_t pos;
	struct seg cur;  /* the segment being read */
	int has;
	struct seg wseg; /* the segment being waited on (own mapping, since
	                    reading may move cur meanwhile) */
	int whas;
};

struct rec {
	uint32_t len;
	uint16_t type, flags;
	uint64_t stride;
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static uint64_t rec_seed(uint64_t salt, uint64_t lsn, uint64_t word0)
{
	uint64_t w = word0 * 0xC2B2AE3D27D4EB4FULL;

	return salt ^ (lsn * 0x9E3779B97F4A7C15ULL) ^ ((w << 31) | (w >> 33));
}

static uint64_t rec_sum(uint64_t salt, uint64_t lsn, uint64_t word0,
			const void *p, size_t len)
{
	return XXH3_64bits_withSeed(len ? p : "", len, rec_seed(salt, lsn, word0));
}

static uint64_t make_word0(uint32_t len, uint16_t type, uint16_t flags)
{
	return (uint64_t)len | (uint64_t)type << 32 |
	       (uint64_t)(flags | REC_COMMIT) << 48;
}

static void seg_name(char *buf, size_t cap, uint64_t base)
{
	snprintf(buf, cap, "%020llu.seg", (unsigned long long)base);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void futex_wake_all(_Atomic uint32_t *w)
{
#ifdef LOG_HAVE_FUTEX
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#else
	(void)w;
#endif
}

/* Sleep while *w == val, at most ms milliseconds.  Spurious returns are
 * fine: callers re-check. */
static void futex_wait_ms(_Atomic uint32_t *w, uint32_t val, uint64_t ms)
{
#ifdef LOG_HAVE_FUTEX
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, val, &ts, NULL, 0);
#else
	(void)w;
	(void)val;
	struct timespec ts = { 0, 1000000L };
	(void)ms;
	nanosleep(&ts, NULL);
#endif
}

/* GCC 12 leaves the fence below uninstrumented (-Wtsan, an error with
 * -Werror) once it is inlined into the guarded callbacks: not under TSan. */
#if defined(__SANITIZE_THREAD__)
#define LOG_TSAN_NOINLINE __attribute__((noinline))
#else
#define LOG_TSAN_NOINLINE
#endif

/* Wake readers sleeping on the segment, if any.  The fence orders the
 * commit before the waiters load (paired with the reader's increment). */
LOG_TSAN_NOINLINE static void seg_wake(struct seg *s)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&s->live->waiters, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&s->live->seq, 1, memory_order_release);
		futex_wake_all(&s->live->seq);
	}
}

const char *mmds_log_cut_name(unsigned reason)
{
	switch (reason) {
	case MMDS_LOG_CUT_NONE: return "none";
	case MMDS_LOG_CUT_UNFINISHED: return "unfinished record";
	case MMDS_LOG_CUT_BAD_HEADER: return "bad record header";
	case MMDS_LOG_CUT_BAD_CHECKSUM: return "bad checksum";
	case MMDS_LOG_CUT_SHORT_FILE: return "segment file too short";
	case MMDS_LOG_CUT_BAD_SEGMENT: return "bad or missing segment";
	default: return "unknown";
	}
}

struct store64 {
	_Atomic uint64_t *w;
	uint64_t v;
};

static int store64_fn(void *arg)
{
	struct store64 *a = arg;

	atomic_store_explicit(a->w, a->v, memory_order_release);
	return 0;
}

/* Store v in a word of a mapping, guarded: 0 or -EFAULT/-EIO. */
static int store64_guarded(_Atomic uint64_t *w, uint64_t v)
{
	struct store64 a = { w, v };

	return mmds_guard_run(store64_fn, &a);
}

/* The check word of a segment's durable hint. */
static uint64_t hint_sum(uint64_t salt, uint64_t durable)
{
	return XXH3_64bits_withSeed(&durable, sizeof(durable),
				    salt ^ 0x64757261626c6521ULL);
}

struct hint_store {
	struct seg_live *live;
	uint64_t v, check;
};

static int hint_fn(void *arg)
{
	struct hint_store *a = arg;

	atomic_store_explicit(&a->live->durable, a->v, memory_order_release);
	atomic_store_explicit(&a->live->durable_check, a->check, memory_order_release);
	return 0;
}

/* Record the durable hint v and its check word in segment s (writer's
 * mapping), guarded: 0 or -EFAULT/-EIO. */
static int store_hint(struct seg *s, uint64_t v)
{
	struct hint_store a = { s->live, v, hint_sum(s->salt, v) };

	return mmds_guard_run(hint_fn, &a);
}

/* ---- segment table ---------------------------------------------------- */

static struct seg *seg_get(mmds_log *L, uint64_t index)
{
	uint64_t r = index - L->idx0;
	_Atomic(struct seg *) *c;

	if (index < L->idx0 || r >= (uint64_t)CHUNKS << CHUNK_BITS)
		return NULL;
	c = atomic_load_explicit(&L->chunks[r >> CHUNK_BITS], memory_order_acquire);
	if (c == NULL)
		return NULL;
	return atomic_load_explicit(&c[r & ((1u << CHUNK_BITS) - 1)],
				    memory_order_acquire);
}

/* Called under roll_mu (or before the handle is shared). */
static int seg_set(mmds_log *L, uint64_t index, struct seg *s)
{
	uint64_t r = index - L->idx0;
	_Atomic(struct seg *) *c;

	if (index < L->idx0 || r >= (uint64_t)CHUNKS << CHUNK_BITS)
		return -EFBIG;
	c = atomic_load_explicit(&L->chunks[r >> CHUNK_BITS], memory_order_acquire);
	if (c == NULL) {
		if (s == NULL)
			return 0;
		c = calloc((size_t)1 << CHUNK_BITS, sizeof(*c));
		if (c == NULL)
			return -ENOMEM;
		atomic_store_explicit(&L->chunks[r >> CHUNK_BITS], c,
				      memory_order_release);
	}
	atomic_store_explicit(&c[r & ((1u << CHUNK_BITS) - 1)], s,
			      memory_order_release);
	return 0;
}

/* ---- segment files ---------------------------------------------------- */

static void seg_unmap(struct seg *s)
{
	mmds_map_close(s->hmap);
	mmds_map_close(s->map);
	memset(s, 0, sizeof(*s));
}

/* Segment index of the table with a reference taken, or NULL.  Taken under
 * roll_mu, which retention holds while it drops the table's reference, so
 * the segment cannot be freed between the lookup and the increment. */
static struct seg *seg_acquire(mmds_log *L, uint64_t index)
{
	struct seg *s;

	pthread_mutex_lock(&L->roll_mu);
	s = seg_get(L, index);
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&L->roll_mu);
	return s;
}

/* Drop a reference; the last one unmaps and closes the segment (its blocks
 * are freed then if the file was unlinked).  Returns the close's error. */
static int seg_release(struct seg *s)
{
	int rc = 0, r;

	if (s == NULL ||
	    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return 0;
	r = mmds_map_close(s->hmap);
	rc = mmds_map_close(s->map);
	free(s);
	return rc ? rc : r;
}

/* Read and validate segment index's header page without mapping it.  With
 * L->seg_size == 0 (first segment of an open), adopt its parameters. */
static int seg_check(mmds_log *L, uint64_t index, uint64_t *fsize,
		     uint64_t *durable, struct mmds__fmt_header *out)
{
	char name[32];
	unsigned char page[HDR];
	struct mmds__fmt_header h;
	struct log_params p;
	struct stat st;
	struct seg_live live;
	ssize_t n;
	int fd, rc;

	seg_name(name, sizeof(name), index * (L->dsize ? L->dsize : 1));
	if (L->dsize == 0)
		return -EINVAL;
	fd = openat(L->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	n = pread(fd, page, HDR, 0);
	close(fd);
	if (n < 0)
		return -errno;
	rc = mmds__fmt_check(page, (uint64_t)n, MMDS__MAGIC_LOG, LOG_VERSION, &h);
	if (rc)
		return rc;
	if (h.params_size != sizeof(p))
		return -EBADMSG;
	memcpy(&p, h.params, sizeof(p));
	if (p.segment_size != L->seg_size || p.log_id != L->log_id ||
	    p.index != index || p.base_lsn != index * L->dsize ||
	    (uint64_t)st.st_size > L->seg_size)
		return -EBADMSG;
	memcpy(&live, page + LIVE_OFF, sizeof(live));
	if (fsize)
		*fsize = (uint64_t)st.st_size;
	if (durable)
		*durable = live.durable_check == hint_sum(h.salt, live.durable)
				   ? live.durable : 0;
	if (out)
		*out = h;
	return 0;
}

/* Map segment index (validated first). */
static int seg_open(mmds_log *L, uint64_t index, int writable, struct seg *s)
{
	char name[32], path[PATH_MAX];
	struct mmds__fmt_header h;
	uint64_t fsize;
	int rc;

	memset(s, 0, sizeof(*s));
	rc = seg_check(L, index, &fsize, NULL, &h);
	if (rc)
		return rc;
	if (fsize < HDR)
		return -EBADMSG;
	seg_name(name, sizeof(name), index * L->dsize);
	if (snprintf(path, sizeof(path), "%s/%s", L->dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	rc = mmds_map_open(&s->map, path,
			   &(mmds_map_opts){ .access = writable ? MMDS_RDWR : MMDS_READ,
					     /* a writer never writes through a
					      * link planted in its directory */
					     .flags = writable ? MMDS_MAP_NOFOLLOW : 0,
					     .capacity = L->seg_size,
					     .flush = writable ? L->flush : (mmds_flush_policy){ 0 } });
	if (rc)
		return rc == -EFBIG ? -EBADMSG : rc;
	s->base = mmds_map_data(s->map);
	s->fsize = mmds_map_size(s->map);
	if (s->fsize < HDR || s->fsize > L->seg_size) {
		seg_unmap(s);
		return -EBADMSG;
	}
	s->index = index;
	s->salt = h.salt;
	if (writable)
		s->live = (struct seg_live *)(void *)(s->base + LIVE_OFF);
	return 0;
}

/* Reader: a writable window on the header page for the futex words. */
static struct seg_live *seg_live_rw(mmds_log *L, struct seg *s)
{
	char name[32], path[PATH_MAX];

	if (s->live || s->hmap_failed)
		return s->live;
	seg_name(name, sizeof(name), s->index * L->dsize);
	snprintf(path, sizeof(path), "%s/%s", L->dir, name);
	if (mmds_map_open(&s->hmap, path,
			  &(mmds_map_opts){ .access = MMDS_RDWR, .size = HDR }) != 0) {
		s->hmap_failed = 1;
		return NULL;
	}
	s->live = (struct seg_live *)(void *)((unsigned char *)mmds_map_data(s->hmap) +
					      LIVE_OFF);
	return s->live;
}

/* Create segment index: a temporary file, preallocated and given its
 * header, then linked under its final name (never a half-made segment). */
static int seg_create(mmds_log *L, uint64_t index, uint64_t salt_id,
		      struct seg *s)
{
	char name[32], tmp[64], path[PATH_MAX], tpath[PATH_MAX];
	struct mmds__fmt_header h;
	struct log_params p = { L->seg_size, index * L->dsize, salt_id, index };
	int rc;

	memset(s, 0, sizeof(*s));
	seg_name(name, sizeof(name), index * L->dsize);
	snprintf(tmp, sizeof(tmp), ".tmp-%ld-%s", (long)getpid(), name);
	snprintf(path, sizeof(path), "%s/%s", L->dir, name);
	if (snprintf(tpath, sizeof(tpath), "%s/%s", L->dir, tmp) >= (int)sizeof(tpath))
		return -ENAMETOOLONG;
	unlinkat(L->dirfd, tmp, 0);
	rc = mmds_map_open(&s->map, tpath,
			   &(mmds_map_opts){ .flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL |
						      MMDS_MAP_NOFOLLOW,
					     .mode = L->mode, .size = L->seg_size,
					     .capacity = L->seg_size,
					     .flush = L->flush });
	if (rc) {
		unlinkat(L->dirfd, tmp, 0);
		return rc;
	}
	MMDS_CRASH("log.rollover.created");
	rc = mmds__fmt_init(&h, MMDS__MAGIC_LOG, LOG_VERSION, 0, &p, sizeof(p));
	if (rc == 0)
		rc = mmds_map_write(s->map, 0, &h, sizeof(h));
	if (rc == 0)
		MMDS_CRASH("log.rollover.header");
	if (rc == 0 && linkat(L->dirfd, tmp, L->dirfd, name, 0) != 0)
		rc = -errno;
	if (rc == 0)
		MMDS_CRASH("log.rollover.linked");
	unlinkat(L->dirfd, tmp, 0);
	if (rc) {
		mmds_map_close(s->map);
		s->map = NULL;
		return rc;
	}
	s->base = mmds_map_data(s->map);
	s->fsize = L->seg_size;
	s->index = index;
	s->salt = h.salt;
	s->live = (struct seg_live *)(void *)(s->base + LIVE_OFF);
	atomic_store_explicit(&L->dir_dirty, 1, memory_order_release);
	return store_hint(s, atomic_load_explicit(&L->durable, memory_order_acquire));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The segment indexes present, sorted.  -EBADMSG for a segment name whose
 * base is not a segment boundary. */
static int list_segments(mmds_log *L, uint64_t **out, size_t *n)
{
	DIR *d;
	struct dirent *e;
	uint64_t *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	int fd = openat(L->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		rc = -errno;
		close(fd);
		return rc;
	}
	while ((e = readdir(d)) != NULL) {
		const char *s = e->d_name;
		uint64_t base = 0;
		int i;

		if (strlen(s) != 24 || strcmp(s + 20, ".seg") != 0)
			continue;
		for (i = 0; i < 20; i++) {
			if (s[i] < '0' || s[i] > '9')
				break;
			if (base > (UINT64_MAX - 9) / 10) {
				i = -1;
				break;
			}
			base = base * 10 + (uint64_t)(s[i] - '0');
		}
		if (i != 20)
			continue;
		if (base % L->dsize != 0 || base >= TAIL_ROLL / 2) {
			rc = -EBADMSG;
			break;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[cnt++] = base / L->dsize;
	}
	closedir(d);
	if (rc) {
		free(v);
		return rc;
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_u64);
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- records ---------------------------------------------------------- */

/* Check the record at lsn in s.  1: valid (r filled); 0: not committed;
 * -1: invalid (*why); 2: the segment ends here (fewer than RH bytes left).
 * Touches only bytes below s->fsize. */
static int rec_check(const mmds_log *L, const struct seg *s, uint64_t lsn,
		     struct rec *r, unsigned *why)
{
	uint64_t sbase = s->index * L->dsize;
	uint64_t rem = sbase + L->dsize - lsn;
	uint64_t off = HDR + (lsn - sbase), w, sum;
	uint16_t flags;

	if (rem < RH)
		return 2;
	if (off + RH > s->fsize) {
		*why = MMDS_LOG_CUT_SHORT_FILE;
		return -1;
	}
	w = atomic_load_explicit((_Atomic uint64_t *)(void *)(s->base + off),
				 memory_order_acquire);
	if (w == 0)
		return 0;
	r->len = (uint32_t)w;
	r->type = (uint16_t)(w >> 32);
	flags = r->flags = (uint16_t)(w >> 48);
	*why = MMDS_LOG_CUT_BAD_HEADER;
	if (!(flags & REC_COMMIT) || (flags & ~REC_KNOWN) ||
	    (flags & REC_PAD && flags & REC_SKIP))
		return -1;
	if (flags & REC_PAD) {
		if (r->len != rem - RH || r->type != 0)
			return -1;
		r->stride = rem;
	} else {
		if (r->len > rem - RH || RH + align8(r->len) > rem)
			return -1;
		r->stride = RH + align8(r->len);
	}
	if (!(flags & REC_PAD) && off + RH + r->len > s->fsize) {
		*why = MMDS_LOG_CUT_SHORT_FILE;
		return -1;
	}
	memcpy(&sum, s->base + off + 8, sizeof(sum));
	if (sum != rec_sum(s->salt, lsn, w, s->base + off + RH,
			   flags & (REC_PAD | REC_SKIP) ? 0 : r->len)) {
		*why = MMDS_LOG_CUT_BAD_CHECKSUM;
		return -1;
	}
	return 1;
}

struct guarded_check {
	const mmds_log *L;
	const struct seg *s;
	uint64_t lsn;
	struct rec *r;
	unsigned *why;
};

static int guarded_check_fn(void *arg)
{
	struct guarded_check *g = arg;

	return rec_check(g->L, g->s, g->lsn, g->r, g->why) + 10;
}

/* rec_check under the SIGBUS guard (a reader's file may be truncated
 * under it): -EFAULT/-EIO when it faulted. */
static int rec_check_guarded(const mmds_log *L, const struct seg *s,
			     uint64_t lsn, struct rec *r, unsigned *why)
{
	struct guarded_check g = { L, s, lsn, r, why };
	int rc = mmds_guard_run(guarded_check_fn, &g);

	return rc < 0 ? rc : rc - 10;
}

/* ---- writing ---------------------------------------------------------- */

/* Store the record's checksum, then its header (release): the record is
 * published.  Runs under the guard (the caller's). */
static void publish(mmds_log *L, struct seg *s, uint64_t lsn, uint32_t len,
		    uint16_t type, uint16_t flags)
{
	uint64_t off = HDR + (lsn - s->index * L->dsize);
	uint64_t w = make_word0(len, type, flags);
	uint64_t sum = rec_sum(s->salt, lsn, w, s->base + off + RH,
			       flags & (REC_PAD | REC_SKIP) ? 0 : len);

	memcpy(s->base + off + 8, &sum, sizeof(sum));
	atomic_store_explicit((_Atomic uint64_t *)(void *)(s->base + off), w,
			      memory_order_release);
	if (!(flags & REC_PAD))
		MMDS_CRASH("log.append.published");
	if (L->flush.mode != MMDS_FLUSH_MANUAL)
		mmds_map_mark_dirty(s->map, off, RH + (uint64_t)len);
	seg_wake(s);
}

/* One guarded write of a record: payload (iovcnt > 0) and header. */
struct put {
	mmds_log *L;
	struct seg *s;
	uint64_t lsn;
	const struct iovec *iov;
	int iovcnt;
	uint32_t len;
	uint16_t type, flags;
};

static int put_fn(void *arg)
{
	struct put *a = arg;

	if (a->iovcnt > 0) {
		unsigned char *p = a->s->base + HDR +
				   (a->lsn - a->s->index * a->L->dsize) + RH;

		for (int i = 0; i < a->iovcnt; i++) {
			if (a->iov[i].iov_len)
				memcpy(p, a->iov[i].iov_base, a->iov[i].iov_len);
			p += a->iov[i].iov_len;
		}
		MMDS_CRASH("log.append.payload");
	}
	publish(a->L, a->s, a->lsn, a->len, a->type, a->flags);
	return 0;
}

/* put_fn under the SIGBUS guard: 0, or -EFAULT/-EIO when the segment file
 * was truncated under the map. */
static int put(mmds_log *L, struct seg *s, uint64_t lsn,
	       const struct iovec *iov, int iovcnt, uint32_t len,
	       uint16_t type, uint16_t flags)
{
	struct put a = { L, s, lsn, iov, iovcnt, len, type, flags };

	return mmds_guard_run(put_fn, &a);
}

static int wake_fn(void *arg)
{
	seg_wake(arg);
	return 0;
}

/* Seal the segment of pos (if it exists) and create the next one.  Called
 * by the one thread that set TAIL_ROLL. */
static int rollover(mmds_log *L, uint64_t pos)
{
	uint64_t k = pos / L->dsize;
	struct seg *cur = seg_acquire(L, k), *next;
	uint64_t nidx = cur ? k + 1 : k;
	uint64_t end = (k + 1) * L->dsize;
	int rc;

	next = calloc(1, sizeof(*next));
	rc = next ? seg_create(L, nidx, L->log_id, next) : -ENOMEM;
	if (rc == 0) {
		atomic_store_explicit(&next->refs, 1, memory_order_relaxed);
		pthread_mutex_lock(&L->roll_mu);
		rc = seg_set(L, nidx, next);
		pthread_mutex_unlock(&L->roll_mu);
		if (rc) {
			char name[32];

			seg_name(name, sizeof(name), nidx * L->dsize);
			unlinkat(L->dirfd, name, 0);
			seg_unmap(next);
		}
	}
	if (rc) {
		free(next);
		seg_release(cur);
		return rc;
	}
	if (cur) {
		if (end - pos >= RH)
			rc = put(L, cur, pos, NULL, 0, (uint32_t)(end - pos - RH), 0,
				 REC_PAD);
		else
			rc = mmds_guard_run(wake_fn, cur);
		MMDS_CRASH("log.rollover.padded");
	} else if (k > 0 && (cur = seg_acquire(L, k - 1)) != NULL) {
		/* readers wait on the full segment before it */
		rc = mmds_guard_run(wake_fn, cur);
	}
	seg_release(cur);
	return rc;
}

/* Reserve a record of len bytes: its LSN in *lsn and its segment in *segp
 * with a reference taken, which the caller drops when the record is
 * written.  The reference is taken after the CAS: from then until the
 * header is stored the unfinished record keeps retention out of the
 * segment (it drops only below the published end), so the segment cannot
 * be freed in between. */
static int reserve(mmds_log *L, size_t len, uint64_t *lsn, struct seg **segp)
{
	uint64_t stride = RH + align8(len), pos, end;
	struct seg *s;
	int rc;

	if (L == NULL)
		return -EINVAL;
	if (!L->writer)
		return -EACCES;
	if (len > L->max_len)
		return -EMSGSIZE;
	for (;;) {
		pos = atomic_load_explicit(&L->tail, memory_order_acquire);
		if (pos & TAIL_ROLL) {
			pthread_mutex_lock(&L->roll_mu);
			while (atomic_load_explicit(&L->tail, memory_order_acquire) &
			       TAIL_ROLL)
				pthread_cond_wait(&L->roll_cv, &L->roll_mu);
			pthread_mutex_unlock(&L->roll_mu);
			continue;
		}
		end = (pos / L->dsize + 1) * L->dsize;
		s = seg_get(L, pos / L->dsize);
		if (s && pos + stride <= end) {
			if (atomic_compare_exchange_weak_explicit(
				    &L->tail, &pos, pos + stride,
				    memory_order_acq_rel, memory_order_relaxed)) {
				atomic_fetch_add_explicit(&s->refs, 1,
							  memory_order_relaxed);
				MMDS_CRASH("log.append.reserved");
				*lsn = pos;
				*segp = s;
				return 0;
			}
			continue;
		}
		if (!atomic_compare_exchange_strong_explicit(
			    &L->tail, &pos, pos | TAIL_ROLL, memory_order_acq_rel,
			    memory_order_relaxed))
			continue;
		rc = rollover(L, pos);
		pthread_mutex_lock(&L->roll_mu);
		atomic_store_explicit(&L->tail,
				      rc ? pos : (s ? end : pos), memory_order_release);
		pthread_cond_broadcast(&L->roll_cv);
		pthread_mutex_unlock(&L->roll_mu);
		if (rc)
			return rc;
		MMDS_CRASH("log.rollover.switched");
	}
}

int mmds_log_appendv(mmds_log *L, uint16_t type, const struct iovec *iov,
		     int iovcnt, uint64_t *lsn)
{
	size_t len = 0;
	uint64_t pos;
	struct seg *s;
	int rc;

	if (L == NULL || iovcnt < 0 || (iov == NULL && iovcnt > 0))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len && iov[i].iov_base == NULL)
			return -EINVAL;
		if (iov[i].iov_len > SIZE_MAX - len)
			return -EMSGSIZE;
		len += iov[i].iov_len;
	}
	rc = reserve(L, len, &pos, &s);
	if (rc)
		return rc;
	rc = put(L, s, pos, iov, iovcnt, (uint32_t)len, type, 0);
	seg_release(s);
	if (rc)
		return rc;
	if (lsn)
		*lsn = pos;
	return 0;
}

int mmds_log_append(mmds_log *L, uint16_t type, const void *buf, size_t len,
		    uint64_t *lsn)
{
	struct iovec v = { (void *)(uintptr_t)buf, len };

	if (L == NULL || (buf == NULL && len))
		return -EINVAL;
	return mmds_log_appendv(L, type, &v, 1, lsn);
}

int mmds_log_reserve(mmds_log *L, size_t len, mmds_log_reservation *r)
{
	uint64_t pos;
	struct seg *s;
	int rc;

	if (L == NULL || r == NULL)
		return -EINVAL;
	rc = reserve(L, len, &pos, &s);
	if (rc)
		return rc;
	r->data = s->base + HDR + (pos - s->index * L->dsize) + RH;
	r->lsn = pos;
	r->len = (uint32_t)len;
	r->priv_ = s; /* keeps its reference until commit or abort */
	return 0;
}

static int finish(mmds_log *L, mmds_log_reservation *r, uint16_t type,
		  uint16_t flags)
{
	struct seg *s;
	int rc;

	if (L == NULL || r == NULL || r->priv_ == NULL)
		return -EINVAL;
	s = r->priv_;
	rc = put(L, s, r->lsn, NULL, 0, r->len, type, flags);
	seg_release(s);
	r->priv_ = NULL;
	return rc;
}

int mmds_log_commit(mmds_log *L, mmds_log_reservation *r, uint16_t type)
{
	return finish(L, r, type, 0);
}

int mmds_log_abort(mmds_log *L, mmds_log_reservation *r)
{
	return finish(L, r, 0, REC_SKIP);
}

/* Walk segment s's committed records from the record boundary pos, up to
 * limit; pos is where it got to, stop set if it ended inside s.  Runs
 * under the guard. */
struct walk {
	mmds_log *L;
	struct seg *s;
	uint64_t pos, limit;
	int stop;
};

static int walk_fn(void *arg)
{
	struct walk *a = arg;
	mmds_log *L = a->L;
	uint64_t k = a->s->index, end = (k + 1) * L->dsize;

	while (a->pos < a->limit && a->pos < end) {
		uint64_t off, w, len;
		uint16_t flags;

		if (end - a->pos < RH) {
			a->pos = end;
			break;
		}
		off = HDR + (a->pos - k * L->dsize);
		w = atomic_load_explicit((_Atomic uint64_t *)(void *)(a->s->base + off),
					 memory_order_acquire);
		flags = (uint16_t)(w >> 48);
		len = (uint32_t)w;
		if (w == 0 || !(flags & REC_COMMIT))
			break;
		if (flags & REC_PAD) {
			a->pos = end;
			break;
		}
		if (RH + align8(len) > end - a->pos)
			break;
		a->pos += RH + align8(len);
	}
	a->stop = a->pos < end;
	return 0;
}

/* The end of the committed prefix from a record boundary: stops at the
 * first record not yet committed (or at limit).  Holds a reference on each
 * segment it reads. */
static uint64_t walk_committed(mmds_log *L, uint64_t pos, uint64_t limit)
{
	while (pos < limit) {
		struct walk a = { L, seg_acquire(L, pos / L->dsize), pos, limit, 0 };
		int rc;

		if (a.s == NULL)
			break;
		rc = mmds_guard_run(walk_fn, &a);
		seg_release(a.s);
		pos = a.pos;
		if (rc || a.stop)
			break;
	}
	return pos;
}

static uint64_t published_end(mmds_log *L)
{
	uint64_t from = atomic_load_explicit(&L->durable, memory_order_acquire);
	uint64_t first = atomic_load_explicit(&L->first, memory_order_relaxed);
	uint64_t pub = atomic_load_explicit(&L->pub, memory_order_relaxed);
	uint64_t end;

	if (from < first)
		from = first;
	if (from < pub)
		from = pub;
	end = walk_committed(L, from,
			     atomic_load_explicit(&L->tail, memory_order_acquire) &
				     ~TAIL_ROLL);
	while (pub < end && !atomic_compare_exchange_weak_explicit(
				    &L->pub, &pub, end, memory_order_relaxed,
				    memory_order_relaxed))
		;
	return end;
}

/* msync+fdatasync [from, to), one segment at a time, each held by a
 * reference: retention may drop a segment meanwhile, never free it under
 * the sync (a freed segment's descriptor could be another file's by
 * then).  A segment already dropped needs no sync. */
static int sync_range(mmds_log *L, uint64_t from, uint64_t to)
{
	int rc = 0;

	if (atomic_exchange_explicit(&L->dir_dirty, 0, memory_order_acq_rel) &&
	    fsync(L->dirfd) != 0) {
		atomic_store_explicit(&L->dir_dirty, 1, memory_order_release);
		return -errno;
	}
	for (uint64_t k = from / L->dsize; from < to && rc == 0; k++) {
		struct seg *s = seg_acquire(L, k);
		uint64_t sb = k * L->dsize, e = sb + L->dsize;
		uint64_t stop = to < e ? to : e;

		if (s)
			rc = mmds_map_sync_range(s->map, HDR + (from - sb),
						 stop - from, MMDS_SYNC_DURABLE);
		seg_release(s);
		from = stop;
	}
	return rc;
}

int mmds_log_sync(mmds_log *L, uint64_t lsn)
{
	int rc = 0;

	if (L == NULL)
		return -EINVAL;
	if (!L->writer)
		return -EACCES;
	if (lsn == UINT64_MAX)
		lsn = published_end(L);
	else {
		uint64_t t = atomic_load_explicit(&L->tail, memory_order_acquire) &
			     ~TAIL_ROLL;
		if (lsn > t)
			lsn = t;
	}
	pthread_mutex_lock(&L->sync_mu);
	while (atomic_load_explicit(&L->durable, memory_order_acquire) < lsn) {
		uint64_t d, p;

		if (L->syncing) {
			pthread_cond_wait(&L->sync_cv, &L->sync_mu);
			continue;
		}
		L->syncing = 1;
		pthread_mutex_unlock(&L->sync_mu);
		d = atomic_load_explicit(&L->durable, memory_order_acquire);
		if (d < atomic_load_explicit(&L->first, memory_order_relaxed))
			d = atomic_load_explicit(&L->first, memory_order_relaxed);
		p = published_end(L);
		rc = p > d ? sync_range(L, d, p) : 0;
		MMDS_CRASH("log.sync.synced");
		if (rc == 0 && p > d) {
			struct seg *s = seg_acquire(L, (p - 1) / L->dsize);

			/* the hint recovery starts from: stored after the sync */
			if (s)
				rc = store_hint(s, p);
			seg_release(s);
		}
		pthread_mutex_lock(&L->sync_mu);
		L->syncing = 0;
		if (rc == 0 && p > atomic_load_explicit(&L->durable, memory_order_relaxed))
			atomic_store_explicit(&L->durable, p, memory_order_release);
		pthread_cond_broadcast(&L->sync_cv);
		if (rc)
			break;
		if (p < lsn && p <= d) {
			/* an earlier record is still being written */
			pthread_mutex_unlock(&L->sync_mu);
			sched_yield();
			pthread_mutex_lock(&L->sync_mu);
		}
	}
	pthread_mutex_unlock(&L->sync_mu);
	return rc;
}

/* ---- recovery --------------------------------------------------------- */

static int delete_segment(mmds_log *L, uint64_t index, uint64_t *bytes)
{
	char name[32];
	unsigned char buf[65536];
	ssize_t n;
	off_t off = HDR;
	int fd;

	seg_name(name, sizeof(name), index * L->dsize);
	fd = openat(L->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
			for (ssize_t i = n; i > 0; i--)
				if (buf[i - 1]) {
					*bytes += (uint64_t)(off + i - HDR);
					break;
				}
			off += n;
		}
		close(fd);
	}
	if (unlinkat(L->dirfd, name, 0) != 0 && errno != ENOENT)
		return -errno;
	atomic_store_explicit(&L->dir_dirty, 1, memory_order_release);
	return 0;
}

/* Zero every non-zero byte of s from lsn to the segment's end, through the
 * guarded accessor; adds the bytes cut (up to the last non-zero one) to
 * *cut.  0 or an error. */
static int zero_tail(mmds_log *L, struct seg *s, uint64_t lsn, uint64_t *cut)
{
	static const unsigned char zeros[65536];
	uint64_t off = HDR + (lsn - s->index * L->dsize), start = off, last = off;
	unsigned char buf[65536];
	int fd = mmds_map_fd(s->map), rc;

	while (off < s->fsize) {
		size_t n = s->fsize - off < sizeof(buf) ? (size_t)(s->fsize - off)
							: sizeof(buf);
		ssize_t got = pread(fd, buf, n, (off_t)off);
		size_t i;

		if (got < 0)
			return -errno;
		if (got == 0)
			break;
		for (i = (size_t)got; i > 0 && buf[i - 1] == 0; i--)
			;
		if (i) {
			rc = mmds_map_write(s->map, off, zeros, i);
			if (rc)
				return rc;
			last = off + i;
		}
		off += (uint64_t)got;
	}
	*cut += last - start;
	return 0;
}

/* Is there a valid record at an 8-byte step from lsn in s?  Spends the
 * payload lengths it checks from *budget; an exhausted budget counts as
 * yes (too much hostile work: assume the worst). */
static int valid_in(mmds_log *L, struct seg *s, uint64_t lsn, uint64_t *budget)
{
	uint64_t end = (s->index + 1) * L->dsize;
	struct rec r;
	unsigned why;

	for (uint64_t p = lsn; p + RH <= end; p += 8) {
		uint64_t off = HDR + (p - s->index * L->dsize), w;

		if (off + RH > s->fsize)
			break;
		memcpy(&w, s->base + off, sizeof(w));
		if (w == 0 || !((w >> 48) & REC_COMMIT))
			continue;
		if ((uint32_t)w > *budget)
			continue;
		*budget -= (uint32_t)w;
		if (rec_check(L, s, p, &r, &why) == 1)
			return 1;
		if (*budget < RH)
			return 1;
	}
	return 0;
}

/* After a bad record at lsn in s: does a valid record follow anywhere (in
 * this segment when here, or in a later one)?  Bounded work on hostile
 * bytes. */
static int valid_after_raw(mmds_log *L, struct seg *s, uint64_t lsn,
			   const uint64_t *idx, size_t n, size_t at, int here)
{
	uint64_t budget = 4 * L->seg_size;

	if (here && valid_in(L, s, lsn + 8, &budget))
		return 1;
	for (size_t i = at + 1; i < n; i++) {
		struct seg t;
		int ok;

		if (seg_open(L, idx[i], 0, &t) != 0)
			continue;
		ok = valid_in(L, &t, idx[i] * L->dsize, &budget);
		seg_unmap(&t);
		if (ok)
			return 1;
	}
	return 0;
}

struct valid_after_arg {
	mmds_log *L;
	struct seg *s;
	uint64_t lsn;
	const uint64_t *idx;
	size_t n, at;
	int here;
};

static int valid_after_fn(void *arg)
{
	struct valid_after_arg *a = arg;

	return valid_after_raw(a->L, a->s, a->lsn, a->idx, a->n, a->at, a->here);
}

/* valid_after_raw under the guard; a fault counts as "valid records may
 * follow" (the caller then refuses rather than cuts). */
static int valid_after(mmds_log *L, struct seg *s, uint64_t lsn,
		       const uint64_t *idx, size_t n, size_t at, int here)
{
	struct valid_after_arg a = { L, s, lsn, idx, n, at, here };
	int rc = mmds_guard_run(valid_after_fn, &a);

	return rc < 0 ? 1 : rc;
}

/* The durable word of segment index if its check word vouches for it: 1
 * and *v, or 0 (torn, flipped, never stored, or unreadable). */
static int seg_hint(mmds_log *L, uint64_t index, uint64_t *v)
{
	char name[32];
	unsigned char page[HDR];
	struct mmds__fmt_header h;
	struct seg_live live;
	ssize_t n;
	int fd;

	seg_name(name, sizeof(name), index * L->dsize);
	fd = openat(L->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = pread(fd, page, HDR, 0);
	close(fd);
	if (n != (ssize_t)HDR ||
	    mmds__fmt_check(page, HDR, MMDS__MAGIC_LOG, LOG_VERSION, &h) != 0)
		return 0;
	memcpy(&live, page + LIVE_OFF, sizeof(live));
	if (live.durable_check != hint_sum(h.salt, live.durable))
		return 0;
	*v = live.durable;
	return 1;
}

/* The recovery point: the highest durable word a check word vouches for
 * in any valid segment of idx[0..n) (all of them, those past a gap too:
 * older segments hold older values), or UINT64_MAX when none does (then
 * no byte counts as past the durable point: recovery stays strict). */
static uint64_t recovery_point(mmds_log *L, const uint64_t *idx, size_t n)
{
	uint64_t rp = UINT64_MAX, v;

	for (size_t i = 0; i < n; i++)
		if (seg_check(L, idx[i], NULL, NULL, NULL) == 0 &&
		    seg_hint(L, idx[i], &v) && (rp == UINT64_MAX || v > rp))
			rp = v;
	return rp;
}

static int recover(mmds_log *L, const uint64_t *idx, size_t n)
{
	mmds_log_report *rep = &L->report;
	uint64_t hint = 0, d, pos, start, cut = UINT64_MAX, rp;
	size_t good = n, ci = 0;
	int rc, rp_seen = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t fsize;

		if (i > 0 && idx[i] != idx[i - 1] + 1) {
			good = i;
			break;
		}
		rc = seg_check(L, idx[i], &fsize, &d, NULL);
		if (rc == -EBADMSG || (rc == 0 && fsize < HDR)) {
			good = i;
			break;
		}
		if (rc)
			return rc;
		if (d > hint)
			hint = d;
	}
	/* Bytes past the durable point may be anything after a power loss
	 * (pages written back in any order, entries made since the last
	 * directory fsync undone): damage there is cut, never refused. */
	rp = recovery_point(L, idx, n);
	if (good < n) {
		int later = good > 0 && idx[good] != idx[good - 1] + 1;

		for (size_t i = good + 1; i < n; i++)
			if (seg_check(L, idx[i], NULL, NULL, NULL) == 0)
				later = 1;
		rep->reason = MMDS_LOG_CUT_BAD_SEGMENT;
		rep->bad_segment = idx[good] * L->dsize;
		rep->bad_offset = 0;
		rep->bad_lsn = idx[good] * L->dsize;
		rep->corrupt = later;
		/* the first missing or bad segment holds no durable byte */
		rep->cut_beyond_durable = later && good > 0 && rp != UINT64_MAX &&
					  rp <= (idx[good - 1] + 1) * L->dsize;
		if (good == 0 || (rep->corrupt && !rep->cut_beyond_durable &&
				  L->recovery == MMDS_LOG_RECOVER_REFUSE))
			return -EBADMSG;
		/* newest first: a crash in between leaves no gap */
		for (size_t i = n; i-- > good;) {
			rc = delete_segment(L, idx[i], &rep->bytes_cut);
			if (rc)
				return rc;
			rep->segments_removed++;
		}
		n = good;
	}
	L->idx0 = idx[0];
	atomic_store_explicit(&L->first, idx[0] * L->dsize, memory_order_relaxed);
	for (size_t i = 0; i < n; i++) {
		struct seg *s = calloc(1, sizeof(*s));

		if (s == NULL)
			return -ENOMEM;
		rc = seg_open(L, idx[i], 1, s);
		if (rc == 0)
			rc = seg_set(L, idx[i], s);
		if (rc) {
			seg_unmap(s);
			free(s);
			return rc == -EFBIG ? -EBADMSG : rc;
		}
		atomic_store_explicit(&s->refs, 1, memory_order_relaxed);
	}
	/* The durable word is outside every checksum: it only picks the
	 * segment the scan starts in (the one holding the byte before it).  A
	 * segment's start is a record boundary whatever the word says, and
	 * every record from there on is checked, so a wrong word costs time,
	 * never a record. */
	start = idx[0];
	if (hint > idx[0] * L->dsize) {
		start = (hint - 1) / L->dsize;
		if (start > idx[n - 1])
			start = idx[n - 1];
	}
	rep->scan_from = pos = start * L->dsize;
	/* The recovery point vouches for a bad record past it only when the
	 * scan meets it at a record boundary (or it lies below the scan's
	 * start); otherwise every bad record with valid ones after is refused. */
	rp_seen = rp != UINT64_MAX && rp <= pos;
	for (size_t i = 0; i < n && cut == UINT64_MAX; i++) {
		struct seg *s = seg_get(L, idx[i]);

		if (idx[i] < start)
			continue;
		rep->segments_scanned++;
		for (;;) {
			struct rec r;
			unsigned why = 0;
			int c = rec_check_guarded(L, s, pos, &r, &why);

			if (pos == rp)
				rp_seen = 1;
			if (c < -1)
				return c;
			if (c == 2) {
				pos = (idx[i] + 1) * L->dsize;
				break;
			}
			if (c == 1) {
				if (!(r.flags & (REC_PAD | REC_SKIP)))
					rep->records_kept++;
				pos += r.stride;
				if (r.flags & REC_PAD)
					break;
				continue;
			}
			if (c == 0) {
				rep->reason = MMDS_LOG_CUT_UNFINISHED;
			} else {
				rep->reason = why;
				rep->corrupt = valid_after(L, s, pos, idx, n, i, 1);
				int beyond = rep->corrupt && rp_seen && pos >= rp;

				if (beyond)
					rep->cut_beyond_durable = 1;
				if (rep->corrupt && !beyond &&
				    L->recovery == MMDS_LOG_RECOVER_REFUSE) {
					rep->bad_segment = idx[i] * L->dsize;
					rep->bad_offset = HDR + (pos - idx[i] * L->dsize);
					rep->bad_lsn = pos;
					return -EBADMSG;
				}
			}
			rep->bad_segment = idx[i] * L->dsize;
			rep->bad_offset = HDR + (pos - idx[i] * L->dsize);
			rep->bad_lsn = pos;
			cut = pos;
			ci = i;
			break;
		}
	}
	if (cut != UINT64_MAX) {
		struct seg *s = seg_get(L, idx[ci]);
		int was_short = s->fsize < L->seg_size;
		uint64_t zeroed = 0;

		/* later segments first (newest first, so a crash in between
		 * leaves no gap): a crash after this finds the same cut */
		for (size_t i = n; i-- > ci + 1;) {
			struct seg *t = seg_get(L, idx[i]);

			MMDS_CRASH("log.recover.delete");
			seg_set(L, idx[i], NULL);
			seg_release(t);
			rc = delete_segment(L, idx[i], &rep->bytes_cut);
			if (rc)
				return rc;
			rep->segments_removed++;
		}
		if (rep->segments_removed && fsync(L->dirfd) != 0)
			return -errno;
		MMDS_CRASH("log.recover.cut");
		rc = zero_tail(L, s, cut, &zeroed);
		if (rc)
			return rc;
		rep->bytes_cut += zeroed;
		MMDS_CRASH("log.recover.zeroed");
		if (was_short) {
			rc = mmds_map_resize(s->map, L->seg_size);
			if (rc)
				return rc;
			s->fsize = L->seg_size;
			if (rep->reason == MMDS_LOG_CUT_UNFINISHED)
				rep->reason = MMDS_LOG_CUT_SHORT_FILE;
		}
		if (zeroed || was_short) {
			/* New records will reuse the range: the stale bytes of
			 * the earlier run must not come back after a power loss
			 * and chain on to them. */
			uint64_t off = HDR + (cut - idx[ci] * L->dsize);

			rc = mmds_map_sync_range(s->map, off, L->seg_size - off,
						 MMDS_SYNC_DURABLE);
			if (rc)
				return rc;
			MMDS_CRASH("log.recover.durable");
		}
		if (rep->bytes_cut == 0 && rep->segments_removed == 0 && !was_short) {
			rep->reason = MMDS_LOG_CUT_NONE;
			rep->corrupt = 0;
			rep->cut_beyond_durable = 0;
		}
		pos = cut;
	}
	for (size_t i = 0; i < (cut != UINT64_MAX ? ci + 1 : n); i++) {
		struct seg *t = seg_get(L, idx[i]);

		/* made durable at once: after a power loss, an old marker
		 * must not vouch for bytes written since (older versions of the
		 * library trust it) */
		if (t && atomic_load_explicit(&t->live->clean_end, memory_order_relaxed)) {
			rc = store64_guarded(&t->live->clean_end, 0);
			if (rc == 0)
				rc = mmds_map_sync_range(t->map, 0, HDR, MMDS_SYNC_DURABLE);
			if (rc)
				return rc;
		}
	}
	rep->end_lsn = pos;
	atomic_store_explicit(&L->tail, pos, memory_order_release);
	atomic_store_explicit(&L->pub, pos, memory_order_relaxed);
	d = hint < pos ? hint : pos;
	if (d < idx[0] * L->dsize)
		d = idx[0] * L->dsize;
	atomic_store_explicit(&L->durable, d, memory_order_release);
	if (rep->segments_removed && fsync(L->dirfd) != 0)
		return -errno;
	return 0;
}

/* ---- open / close ----------------------------------------------------- */

static int lock_dir(mmds_log *L)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	L->lockfd = openat(L->dirfd, "lock",
			   O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, L->mode);
	if (L->lockfd < 0)
		return -errno;
#ifdef F_OFD_SETLK
	if (fcntl(L->lockfd, F_OFD_SETLK, &fl) != 0)
#else
	if (fcntl(L->lockfd, F_SETLK, &fl) != 0)
#endif
		return errno == EAGAIN || errno == EACCES ? -EBUSY : -errno;
	return 0;
}

static void remove_tmp_files(mmds_log *L)
{
	int fd = openat(L->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".tmp-", 5) == 0)
			unlinkat(L->dirfd, e->d_name, 0);
	closedir(d);
}

/* Learn the log's parameters from its oldest segment. */
static int adopt_params(mmds_log *L, uint64_t first_name_base)
{
	char name[32];
	unsigned char page[HDR];
	struct mmds__fmt_header h;
	struct log_params p;
	ssize_t n;
	int fd, rc;

	seg_name(name, sizeof(name), first_name_base);
	fd = openat(L->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = pread(fd, page, HDR, 0);
	close(fd);
	if (n < 0)
		return -errno;
	rc = mmds__fmt_check(page, (uint64_t)n, MMDS__MAGIC_LOG, LOG_VERSION, &h);
	if (rc)
		return rc;
	if (h.params_size != sizeof(p))
		return -EBADMSG;
	memcpy(&p, h.params, sizeof(p));
	if (p.segment_size < MIN_SEGMENT || p.segment_size > MAX_SEGMENT ||
	    p.segment_size % 4096 || p.base_lsn != first_name_base)
		return -EBADMSG;
	L->seg_size = p.segment_size;
	L->dsize = p.segment_size - HDR;
	L->log_id = p.log_id;
	L->version = h.version;
	L->created_ns = h.created_ns;
	L->max_len = L->dsize - RH;
	if (L->max_len > UINT32_MAX)
		L->max_len = UINT32_MAX;
	return 0;
}

/* The smallest "<digits>.seg" base in the directory, or -ENOENT. */
static int first_base(mmds_log *L, uint64_t *base)
{
	uint64_t *v;
	size_t n;
	uint64_t save = L->dsize;
	int rc;

	L->dsize = 1;
	rc = list_segments(L, &v, &n);
	L->dsize = save;
	if (rc)
		return rc;
	if (n == 0) {
		free(v);
		return -ENOENT;
	}
	*base = v[0];
	free(v);
	return 0;
}

static int random_id(uint64_t *id)
{
	struct mmds__fmt_header h;
	int rc = mmds__fmt_init(&h, MMDS__MAGIC_LOG, 1, 0, NULL, 0);

	*id = h.salt;
	return rc;
}

int mmds_log_open(mmds_log **out, const char *dir, const mmds_log_opts *o)
{
	mmds_log_opts def = { 0 };
	mmds_log *L;
	uint64_t base, *idx = NULL;
	size_t n = 0;
	int rc;

	if (out)
		*out = NULL;
	if (out == NULL || dir == NULL)
		return -EINVAL;
	if (o == NULL)
		o = &def;
	if ((o->flags & ~(unsigned)(MMDS_LOG_CREATE | MMDS_LOG_RDONLY)) ||
	    o->recovery > MMDS_LOG_RECOVER_TRUNCATE ||
	    (o->flags & MMDS_LOG_CREATE && o->flags & MMDS_LOG_RDONLY))
		return -EINVAL;
	if (o->segment_size &&
	    (o->segment_size < MIN_SEGMENT || o->segment_size > MAX_SEGMENT ||
	     o->segment_size % mmds_page_size() || o->segment_size % 4096))
		return -EINVAL;
	L = calloc(1, sizeof(*L));
	if (L == NULL)
		return -ENOMEM;
	L->dirfd = L->lockfd = -1;
	L->mode = o->mode ? o->mode : 0600;
	L->recovery = o->recovery;
	L->flush = o->flush;
	L->writer = !(o->flags & MMDS_LOG_RDONLY);
	L->pid = getpid();
	pthread_mutex_init(&L->roll_mu, NULL);
	pthread_cond_init(&L->roll_cv, NULL);
	pthread_mutex_init(&L->sync_mu, NULL);
	pthread_cond_init(&L->sync_cv, NULL);
	pthread_mutex_init(&L->read_mu, NULL);
	L->dir = strdup(dir);
	if (L->dir == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	if (o->flags & MMDS_LOG_CREATE) {
		unsigned dmode = (L->mode & 0777) | ((L->mode & 0444) >> 2);

		if (mkdir(dir, dmode) != 0 && errno != EEXIST) {
			rc = -errno;
			goto fail;
		}
	}
	L->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (L->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	if (L->writer) {
		rc = lock_dir(L);
		if (rc)
			goto fail;
		remove_tmp_files(L);
	}
	rc = first_base(L, &base);
	if (rc == -ENOENT && (o->flags & MMDS_LOG_CREATE)) {
		struct seg *s = calloc(1, sizeof(*s));

		L->seg_size = o->segment_size ? o->segment_size : MMDS_LOG_DEFAULT_SEGMENT;
		L->dsize = L->seg_size - HDR;
		L->max_len = L->dsize - RH > UINT32_MAX ? UINT32_MAX : L->dsize - RH;
		L->version = LOG_VERSION;
		rc = s ? random_id(&L->log_id) : -ENOMEM;
		if (rc == 0)
			rc = seg_create(L, 0, L->log_id, s);
		if (rc == 0) /* empty: recovery need not look for stale bytes */
			atomic_store_explicit(&s->live->clean_end, 1,
					      memory_order_release);
		if (rc) {
			free(s);
			goto fail;
		}
		seg_unmap(s);
		free(s);
		rc = fsync(L->dirfd) != 0 ? -errno : 0;
		if (rc)
			goto fail;
		rc = first_base(L, &base);
	}
	if (rc)
		goto fail;
	rc = adopt_params(L, base);
	/* a reader beside a writer's retention: the oldest segment went */
	for (int tries = 0; rc == -ENOENT && !L->writer && tries < 8; tries++) {
		rc = first_base(L, &base);
		if (rc == 0)
			rc = adopt_params(L, base);
	}
	if (rc)
		goto fail;
	rc = list_segments(L, &idx, &n);
	if (rc)
		goto fail;
	if (n == 0) {
		rc = -ENOENT;
		goto fail;
	}
	L->idx0 = idx[0];
	atomic_store_explicit(&L->first, idx[0] * L->dsize, memory_order_relaxed);
	if (L->writer) {
		rc = recover(L, idx, n);
		if (rc)
			goto fail;
	} else {
		uint64_t d = 0, dd;

		for (size_t i = 0; i < n; i++)
			if (seg_check(L, idx[i], NULL, &dd, NULL) == 0 && dd > d)
				d = dd;
		atomic_store_explicit(&L->durable, d, memory_order_relaxed);
	}
	free(idx);
	*out = L;
	return 0;
fail:
	free(idx);
	mmds_log_close(L);
	return rc;
}

int mmds_log_close(mmds_log *L)
{
	int rc = 0;

	if (L == NULL)
		return 0;
	if (L->writer && L->dsize && L->pid == getpid()) {
		uint64_t t = atomic_load_explicit(&L->tail, memory_order_acquire) &
			     ~TAIL_ROLL;
		struct seg *s = seg_get(L, t / L->dsize);

		if (s)
			rc = store64_guarded(&s->live->clean_end, t + 1);
	}
	for (unsigned c = 0; c < CHUNKS; c++) {
		_Atomic(struct seg *) *ch = atomic_load(&L->chunks[c]);

		if (ch == NULL)
			continue;
		for (unsigned i = 0; i < 1u << CHUNK_BITS; i++) {
			struct seg *s = atomic_load(&ch[i]);
			int r = seg_release(s);

			if (r && rc == 0)
				rc = r;
		}
		free(ch);
	}
	if (L->rseg_ok)
		seg_unmap(&L->rseg);
	if (L->lockfd >= 0)
		close(L->lockfd);
	if (L->dirfd >= 0)
		close(L->dirfd);
	pthread_mutex_destroy(&L->roll_mu);
	pthread_cond_destroy(&L->roll_cv);
	pthread_mutex_destroy(&L->sync_mu);
	pthread_cond_destroy(&L->sync_cv);
	pthread_mutex_destroy(&L->read_mu);
	free(L->dir);
	free(L);
	return rc;
}

/* ---- positions, retention, info --------------------------------------- */

uint64_t mmds_log_durable_lsn(const mmds_log *L)
{
	return L ? atomic_load_explicit(&((mmds_log *)L)->durable,
					memory_order_acquire) : 0;
}

uint64_t mmds_log_first_lsn(mmds_log *L)
{
	uint64_t *v;
	size_t n;

	if (L == NULL)
		return 0;
	if (!L->writer && list_segments(L, &v, &n) == 0) {
		if (n)
			atomic_store_explicit(&L->first, v[0] * L->dsize,
					      memory_order_relaxed);
		free(v);
	}
	return atomic_load_explicit(&L->first, memory_order_relaxed);
}

uint64_t mmds_log_tail_lsn(mmds_log *L)
{
	mmds_log_iter *it;
	mmds_log_record r;
	uint64_t *v, pos;
	size_t n;

	if (L == NULL)
		return 0;
	if (L->writer)
		return atomic_load_explicit(&L->tail, memory_order_acquire) & ~TAIL_ROLL;
	if (list_segments(L, &v, &n) != 0 || n == 0)
		return 0;
	pos = v[n - 1] * L->dsize;
	free(v);
	if (mmds_log_iter_open(&it, L, pos) != 0)
		return pos;
	while (mmds_log_iter_next(it, &r) == 0)
		;
	pos = mmds_log_iter_lsn(it);
	mmds_log_iter_close(it);
	return pos;
}

int mmds_log_retain(mmds_log *L, uint64_t lsn)
{
	uint64_t limit, active, first;
	struct seg *dropped = NULL;
	int count = 0, rc = 0;

	if (L == NULL)
		return -EINVAL;
	if (!L->writer)
		return -EACCES;
	limit = published_end(L);
	if (lsn < limit)
		limit = lsn;
	pthread_mutex_lock(&L->roll_mu);
	active = (atomic_load_explicit(&L->tail, memory_order_acquire) & ~TAIL_ROLL) /
		 L->dsize;
	for (;;) {
		uint64_t k = atomic_load_explicit(&L->first, memory_order_relaxed) /
			     L->dsize;
		struct seg *s = seg_get(L, k);
		char name[32];

		if ((k + 1) * L->dsize > limit || k >= active || s == NULL ||
		    seg_get(L, k + 1) == NULL)
			break;
		seg_name(name, sizeof(name), k * L->dsize);
		/* oldest first, each unlink durable before the next: the files
		 * left are contiguous, even after a power loss */
		if (atomic_exchange_explicit(&L->dir_dirty, 0, memory_order_acq_rel) &&
		    fsync(L->dirfd) != 0) {
			rc = -errno;
			atomic_store_explicit(&L->dir_dirty, 1, memory_order_release);
			break;
		}
		MMDS_CRASH("log.retain.unlink");
		if (unlinkat(L->dirfd, name, 0) != 0 && errno != ENOENT) {
			rc = -errno;
			break;
		}
		MMDS_CRASH("log.retain.unlinked");
		seg_set(L, k, NULL);
		/* the table's reference, dropped below, outside the lock */
		s->next = dropped;
		dropped = s;
		atomic_store_explicit(&L->first, (k + 1) * L->dsize,
				      memory_order_relaxed);
		atomic_store_explicit(&L->dir_dirty, 1, memory_order_release);
		count++;
	}
	pthread_mutex_unlock(&L->roll_mu);
	while (dropped) {
		struct seg *s = dropped;

		dropped = s->next;
		/* unmapped and closed here (the space is free) unless a sync or
		 * an append still uses it: then by that user when it is done */
		seg_release(s);
	}
	first = atomic_load_explicit(&L->first, memory_order_relaxed);
	pthread_mutex_lock(&L->read_mu);
	if (L->rseg_ok && L->rseg.index * L->dsize < first) {
		seg_unmap(&L->rseg);
		L->rseg_ok = 0;
	}
	pthread_mutex_unlock(&L->read_mu);
	return rc ? rc : count;
}

int mmds_log_get_info(mmds_log *L, mmds_log_info *info)
{
	uint64_t *v;
	size_t n;

	if (L == NULL || info == NULL)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->segment_size = L->seg_size;
	info->log_id = L->log_id;
	info->created_ns = L->created_ns;
	info->version = L->version;
	info->writer = L->writer;
	if (list_segments(L, &v, &n) == 0) {
		info->segments = n;
		free(v);
	}
	info->first_lsn = mmds_log_first_lsn(L);
	info->tail_lsn = mmds_log_tail_lsn(L);
	info->durable_lsn = mmds_log_durable_lsn(L);
	return 0;
}

int mmds_log_get_report(const mmds_log *L, mmds_log_report *rep)
{
	if (L == NULL || rep == NULL)
		return -EINVAL;
	*rep = L->report;
	return 0;
}

/* ---- reading ---------------------------------------------------------- */

/* Make s the mapping of segment k.  -ENOENT: dropped by retention;
 * -EAGAIN: not created yet; -EBADMSG: a gap or a bad segment. */
static int seg_reach(mmds_log *L, struct seg *s, int *has, uint64_t k)
{
	uint64_t *v;
	size_t n;
	int rc;

	if (*has && s->index == k)
		return 0;
	for (int tries = 0;; tries++) {
		struct seg t;

		/* the old segment stays mapped until the new one opens: a
		 * waiter sleeps on it while the next segment is not there */
		rc = seg_open(L, k, 0, &t);
		if (rc == 0) {
			if (*has)
				seg_unmap(s);
			*s = t;
			*has = 1;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
		rc = list_segments(L, &v, &n);
		if (rc)
			return rc;
		rc = n == 0 || k < v[0] ? -ENOENT : k > v[n - 1] ? -EAGAIN : -EBADMSG;
		if (n && k < v[0] && L->writer == 0)
			atomic_store_explicit(&L->first, v[0] * L->dsize,
					      memory_order_relaxed);
		free(v);
		/* -EBADMSG may be the segment appearing between the open and
		 * the listing: look again before calling it a gap */
		if (rc != -EBADMSG || tries == 2)
			return rc;
	}
}

/* Read the record at *pos (skipping padding and aborted records), using
 * and updating the segment s.  consume: advance *pos past it. */
static int read_at(mmds_log *L, struct seg *s, int *has, uint64_t *pos,
		   mmds_log_record *out, int consume, int skip)
{
	uint64_t p = *pos;

	for (;;) {
		uint64_t k = p / L->dsize;
		struct rec r;
		unsigned why;
		int rc = seg_reach(L, s, has, k);

		if (rc)
			return rc;
		rc = rec_check_guarded(L, s, p, &r, &why);
		if (rc < 0)
			return rc == -1 ? -EBADMSG : rc;
		if (rc == 0)
			return -EAGAIN;
		if (rc == 2 || r.flags & REC_PAD) {
			p = (k + 1) * L->dsize;
			if (consume || skip)
				*pos = p;
			continue;
		}
		if (r.flags & REC_SKIP) {
			if (!skip)
				return -ENOENT;
			p += r.stride;
			if (consume)
				*pos = p;
			continue;
		}
		if (out) {
			out->lsn = p;
			out->next_lsn = p + r.stride;
			out->len = r.len;
			out->type = r.type;
			out->data = s->base + HDR + (p - k * L->dsize) + RH;
		}
		if (consume)
			*pos = p + r.stride;
		return 0;
	}
}

int64_t mmds_log_read(mmds_log *L, uint64_t lsn, void *buf, size_t cap,
		      mmds_log_record *rec)
{
	mmds_log_record r;
	uint64_t p = lsn;
	int rc;

	if (L == NULL || lsn % 8 || (buf == NULL && cap))
		return -EINVAL;
	if (lsn < mmds_log_first_lsn(L))
		return -ENOENT;
	pthread_mutex_lock(&L->read_mu);
	rc = read_at(L, &L->rseg, &L->rseg_ok, &p, &r, 0, 0);
	if (rc == 0) {
		size_t n = r.len < cap ? r.len : cap;

		if (n)
			rc = mmds_map_read(L->rseg.map,
					   (uint64_t)((const unsigned char *)r.data -
						      L->rseg.base),
					   buf, n);
		r.data = NULL;
		if (rec)
			*rec = r;
	}
	pthread_mutex_unlock(&L->read_mu);
	if (rc == 0 && r.lsn != lsn)
		return -EBADMSG; /* lsn was padding, not a record */
	return rc ? rc : (int64_t)r.len;
}

int mmds_log_iter_open(mmds_log_iter **out, mmds_log *L, uint64_t from)
{
	mmds_log_iter *it;

	if (out)
		*out = NULL;
	if (out == NULL || L == NULL)
		return -EINVAL;
	it = calloc(1, sizeof(*it));
	if (it == NULL)
		return -ENOMEM;
	it->log = L;
	if (from == MMDS_LOG_END)
		from = mmds_log_tail_lsn(L);
	else if (from == MMDS_LOG_START)
		from = mmds_log_first_lsn(L);
	it->pos = from;
	*out = it;
	return 0;
}

int mmds_log_iter_next(mmds_log_iter *it, mmds_log_record *rec)
{
	mmds_log_record r;

	if (it == NULL || rec == NULL)
		return -EINVAL;
	if (it->pos % 8)
		return -EBADMSG;
	return read_at(it->log, &it->cur, &it->has, &it->pos, rec ? rec : &r, 1, 1);
}

uint64_t mmds_log_iter_lsn(const mmds_log_iter *it)
{
	return it ? it->pos : 0;
}

void mmds_log_iter_close(mmds_log_iter *it)
{
	if (it == NULL)
		return;
	if (it->has)
		seg_unmap(&it->cur);
	if (it->whas)
		seg_unmap(&it->wseg);
	free(it);
}

int mmds_log_iter_wait(mmds_log_iter *it, int timeout_ms)
{
	mmds_log *L;
	uint64_t deadline, now;

	if (it == NULL)
		return -EINVAL;
	L = it->log;
	deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t p = it->pos;
		int rc = read_at(L, &it->cur, &it->has, &p, NULL, 0, 1);
		struct seg_live *live;
		uint32_t seq;

		if (rc != -EAGAIN)
			return 0; /* a record, or an error next() will report */
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		/* Sleep on the segment we are in, or the one before when the
		 * next does not exist yet (the writer wakes that one). */
		live = NULL;
		if (it->has && (!it->whas || it->wseg.index != it->cur.index)) {
			if (it->whas)
				seg_unmap(&it->wseg);
			it->whas = seg_open(L, it->cur.index, 0, &it->wseg) == 0;
		}
		if (it->has && it->whas)
			live = seg_live_rw(L, &it->wseg);
		if (live == NULL) {
			struct timespec ts = { 0, 1000000L };

			nanosleep(&ts, NULL);
			continue;
		}
		atomic_fetch_add_explicit(&live->waiters, 1, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		seq = atomic_load_explicit(&live->seq, memory_order_acquire);
		p = it->pos;
		rc = read_at(L, &it->cur, &it->has, &p, NULL, 0, 1);
		if (rc == -EAGAIN) {
			uint64_t left = deadline - now;

			/* the next segment may appear without a wake on this
			 * one when another reader woke first: bound the sleep */
			futex_wait_ms(&live->seq, seq, left > 100 ? 100 : left);
		}
		atomic_fetch_sub_explicit(&live->waiters, 1, memory_order_seq_cst);
		if (rc != -EAGAIN)
			return 0;
	}
}

/* ---- verify ----------------------------------------------------------- */

/* Has retention dropped segment index (the oldest one left is later)? */
static int dropped(mmds_log *L, uint64_t index)
{
	uint64_t *v;
	size_t n;
	int rc = list_segments(L, &v, &n) == 0 && (n == 0 || v[0] > index);

	free(v);
	return rc;
}

int mmds_log_verify(const char *dir, mmds_log_report *rep)
{
	mmds_log *L;
	mmds_log_report r = { 0 };
	uint64_t *v = NULL;
	size_t n = 0;
	int stop = 0;
	int rc = mmds_log_open(&L, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });

	if (rc == 0)
		rc = list_segments(L, &v, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct seg s;
		uint64_t pos = v[i] * L->dsize;

		if (i > 0 && v[i] != v[i - 1] + 1) {
			r.reason = MMDS_LOG_CUT_BAD_SEGMENT;
			r.bad_segment = r.bad_lsn = (v[i - 1] + 1) * L->dsize;
			r.corrupt = 1;
			break;
		}
		rc = seg_open(L, v[i], 0, &s);
		if (rc == -ENOENT && dropped(L, v[i])) {
			/* retention dropped it since the listing: the log
			 * starts later now */
			rc = 0;
			r.segments_scanned = r.records_kept = 0;
			continue;
		}
		if (rc != 0) {
			rc = 0;
			r.reason = MMDS_LOG_CUT_BAD_SEGMENT;
			r.bad_segment = r.bad_lsn = pos;
			r.corrupt = i + 1 < n;
			break;
		}
		r.segments_scanned++;
		for (;;) {
			struct rec rr;
			unsigned why = 0;
			int c = rec_check_guarded(L, &s, pos, &rr, &why);

			if (c == 1 && !(rr.flags & REC_PAD)) {
				if (!(rr.flags & REC_SKIP))
					r.records_kept++;
				pos += rr.stride;
				continue;
			}
			if (c == 1 || c == 2) {
				pos = (v[i] + 1) * L->dsize;
				break;
			}
			stop = 1;
			if (c < -1) {
				rc = c;
				break;
			}
			r.reason = c == 0 ? MMDS_LOG_CUT_UNFINISHED : why;
			r.bad_segment = v[i] * L->dsize;
			r.bad_offset = HDR + (pos - v[i] * L->dsize);
			r.bad_lsn = pos;
			/* valid records after it, here or in a later segment,
			 * are unreachable: corruption, not a torn tail (a live
			 * writer's unfinished record only hides later segments'
			 * records while its appending thread is stalled) */
			r.corrupt = valid_after(L, &s, pos, v, n, i, c == -1);
			if (c == 0 && r.corrupt &&
			    rec_check_guarded(L, &s, pos, &rr, &why) != 0) {
				/* a live writer published it meanwhile and went on
				 * into the next segment: walk on */
				r.corrupt = 0;
				r.reason = MMDS_LOG_CUT_NONE;
				stop = 0;
				continue;
			}
			if (c == 0 && !r.corrupt) {
				/* a clean tail unless bytes follow */
				uint64_t off = r.bad_offset;
				int dirty = 0;

				for (; off + 8 <= s.fsize && !dirty; off += 8) {
					uint64_t w;

					if (mmds_map_read(s.map, off, &w, 8) == 0 && w)
						dirty = 1;
				}
				if (!dirty)
					r.reason = MMDS_LOG_CUT_NONE;
			}
			break;
		}
		seg_unmap(&s);
		r.end_lsn = pos;
		if (stop)
			break;
	}
	if (rc == 0 && r.reason == MMDS_LOG_CUT_NONE && n)
		r.scan_from = v[0] * L->dsize;
	free(v);
	mmds_log_close(L);
	if (rep)
		*rep = r;
	if (rc == 0 && r.corrupt)
		rc = -EBADMSG;
	return rc;
}
