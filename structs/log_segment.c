/* log_segment.c - the log's segment files and their lifecycle, the segment
 * table and its references.
 * Who owns what: log_internal.h. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "log_internal.h"

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
int mmds__log_store64_guarded(_Atomic uint64_t *w, uint64_t v)
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
int mmds__log_store_hint(struct seg *s, uint64_t v)
{
	struct hint_store a = { s->live, v, hint_sum(s->salt, v) };

	return mmds_guard_run(hint_fn, &a);
}

struct hint_read {
	const struct seg *s;
	uint64_t v, check;
};

static int hint_read_fn(void *arg)
{
	struct hint_read *a = arg;
	const struct seg_live *live =
		(const struct seg_live *)(const void *)(a->s->base + LIVE_OFF);

	a->v = atomic_load_explicit(&live->durable, memory_order_acquire);
	a->check = atomic_load_explicit(&live->durable_check, memory_order_acquire);
	return 0;
}

uint64_t mmds__log_seg_hint(const struct seg *s)
{
	struct hint_read a = { s, 0, 0 };

	if (s->fsize < LIVE_OFF + sizeof(struct seg_live) ||
	    mmds_guard_run(hint_read_fn, &a) != 0)
		return 0;
	return a.check == hint_sum(s->salt, a.v) ? a.v : 0;
}

struct seg *mmds__log_seg_get(mmds_log *L, uint64_t index)
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
int mmds__log_seg_set(mmds_log *L, uint64_t index, struct seg *s)
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

/* Clear a segment's fields, not refs and the pool's links: an appender
 * with a stale pointer may be trying to take a reference meanwhile. */
static void seg_clear(struct seg *s)
{
	memset(s, 0, offsetof(struct seg, refs));
}

void mmds__log_seg_unmap(struct seg *s)
{
	mmds_map_close(s->hmap);
	mmds_map_close(s->map);
	seg_clear(s);
}

/* ---- the table segments' structs ---------------------------------------
 *
 * An appender reads L->active (or a table entry) and then takes a
 * reference; in between, preempted, the segment may be dropped (retention)
 * and its last reference go.  So the struct is never freed while the
 * handle is open: the last release unmaps the segment and puts the struct
 * in the pool, where its refs stay 0 until it is made another segment.
 * The appender's reference is taken only from a refs that is not 0 and
 * kept only if the struct is still the segment it wanted (the index,
 * written before the release store of refs that made it live). */

struct seg *mmds__log_seg_new(mmds_log *L)
{
	struct seg *s;

	pthread_mutex_lock(&L->pool_mu);
	MMDS_CRASH("log.pool.taken");
	s = L->pool_free;
	if (s) {
		L->pool_free = s->pool_next;
	} else {
		s = calloc(1, sizeof(*s));
		if (s) {
			s->all_next = L->pool_all;
			L->pool_all = s;
		}
	}
	pthread_mutex_unlock(&L->pool_mu);
	return s;
}

void mmds__log_seg_put(mmds_log *L, struct seg *s)
{
	if (s == NULL)
		return;
	seg_clear(s);
	pthread_mutex_lock(&L->pool_mu);
	s->pool_next = L->pool_free;
	L->pool_free = s;
	pthread_mutex_unlock(&L->pool_mu);
}

void mmds__log_seg_pool_free(mmds_log *L)
{
	struct seg *s = L->pool_all, *n;

	for (; s; s = n) {
		n = s->all_next;
		if (atomic_load_explicit(&s->refs, memory_order_acquire))
			mmds__log_seg_unmap(s);
		free(s);
	}
	L->pool_all = L->pool_free = NULL;
}

int mmds__log_seg_tryref(struct seg *s)
{
	uint32_t r = atomic_load_explicit(&s->refs, memory_order_relaxed);

	do {
		if (r == 0)
			return 0; /* in the pool: dropped */
	} while (!atomic_compare_exchange_weak_explicit(
		&s->refs, &r, r + 1, memory_order_acquire, memory_order_relaxed));
	return 1;
}

struct seg *mmds__log_seg_tryget(mmds_log *L, struct seg *s, uint64_t index)
{
	if (s == NULL || !mmds__log_seg_tryref(s))
		return NULL;
	if (s->index == index)
		return s;
	/* another segment's now: the reference was never ours to keep */
	mmds__log_seg_release(L, s);
	return NULL;
}

/* Segment index with a reference taken, or NULL.  The table's is taken
 * under roll_mu, which retention and eviction hold while they take a
 * segment out of the table, so it cannot be dropped between the lookup and
 * the increment.  One out of the window is mapped again here, on its own
 * (the table is not changed: the window stays bounded), and given back to
 * the pool by the last release; retention may unlink the file meanwhile,
 * which costs nothing: the mapping keeps the blocks until it goes. */
struct seg *mmds__log_seg_acquire(mmds_log *L, uint64_t index)
{
	int err;

	return mmds__log_seg_acquire_err(L, index, &err);
}

struct seg *mmds__log_seg_acquire_err(mmds_log *L, uint64_t index, int *err)
{
	struct seg *s;
	uint64_t first, lo;
	int rc;

	*err = 0;
	pthread_mutex_lock(&L->roll_mu);
	s = mmds__log_seg_get(L, index);
	if (s)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	first = atomic_load_explicit(&L->first, memory_order_relaxed);
	lo = L->win_lo;
	pthread_mutex_unlock(&L->roll_mu);
	if (s || !L->writer || index >= lo || index < first / L->dsize)
		return s;
	s = mmds__log_seg_new(L);
	if (s == NULL) {
		*err = -ENOMEM;
		return NULL;
	}
	rc = mmds__log_seg_open(L, index, 1, s);
	if (rc) {
		mmds__log_seg_put(L, s);
		/* -ENOENT: retention unlinked it meanwhile */
		*err = rc == -ENOENT ? 0 : rc;
		return NULL;
	}
	atomic_store_explicit(&s->refs, 1, memory_order_release);
	return s;
}

struct seg *mmds__log_seg_evict(mmds_log *L, uint64_t below)
{
	uint64_t k = L->win_lo, f = atomic_load_explicit(&L->first,
							 memory_order_relaxed) / L->dsize;
	struct seg *list = NULL;

	if (k < f)
		k = f; /* retention took those */
	for (; k < below; k++) {
		struct seg *s = mmds__log_seg_get(L, k);

		if (s == NULL)
			continue;
		mmds__log_seg_set(L, k, NULL);
		s->next = list;
		list = s;
	}
	if (L->win_lo < below)
		L->win_lo = below;
	return list;
}

void mmds__log_seg_release_list(mmds_log *L, struct seg *list)
{
	while (list) {
		struct seg *s = list;

		list = s->next;
		/* unmapped and closed here unless a sync or an append still
		 * uses it: then by that user when it is done.  Its dirty pages
		 * stay in the page cache; a sync reaches them through a new
		 * descriptor (fdatasync is per file, not per descriptor). */
		mmds__log_seg_release(L, s);
	}
}

/* Drop a reference; the last one unmaps and closes the segment (its blocks
 * are freed then if the file was unlinked) and gives the struct back to
 * L's pool.  Returns the close's error. */
int mmds__log_seg_release(mmds_log *L, struct seg *s)
{
	int rc = 0, r;

	if (s == NULL ||
	    atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
		return 0;
	r = mmds_map_close(s->hmap);
	rc = mmds_map_close(s->map);
	mmds__log_seg_put(L, s);
	return rc ? rc : r;
}

/* Read and validate segment index's header page without mapping it.  With
 * L->seg_size == 0 (first segment of an open), adopt its parameters. */
int mmds__log_seg_check(mmds_log *L, uint64_t index, uint64_t *fsize,
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

int mmds__log_seg_hint_at(mmds_log *L, uint64_t index, uint64_t *v)
{
	char name[32];
	unsigned char page[HDR];
	struct mmds__fmt_header h;
	struct seg_live live;
	ssize_t n;
	int fd;

	if (mmds__log_seg_check(L, index, NULL, NULL, NULL) != 0)
		return 0;
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

/* Map segment index (validated first). */
int mmds__log_seg_open(mmds_log *L, uint64_t index, int writable,
		       struct seg *s)
{
	char name[32], path[PATH_MAX];
	struct mmds__fmt_header h;
	uint64_t fsize;
	int rc;

	seg_clear(s);
	rc = mmds__log_seg_check(L, index, &fsize, NULL, &h);
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
		mmds__log_seg_unmap(s);
		return -EBADMSG;
	}
	s->index = index;
	s->salt = h.salt;
	s->version = h.version;
	if (writable)
		s->live = (struct seg_live *)(void *)(s->base + LIVE_OFF);
	return 0;
}

/* Reader: a writable window on the header page for the futex words. */
struct seg_live *mmds__log_seg_live_rw(mmds_log *L, struct seg *s)
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

/* Make segment index under the temporary name tmp: preallocated and given
 * its header, not linked yet.  The caller unlinks tmp when it gives up. */
static int seg_make(mmds_log *L, uint64_t index, uint64_t salt_id,
		    const char *tmp, struct seg *s)
{
	char tpath[PATH_MAX];
	struct mmds__fmt_header h;
	struct log_params p = { L->seg_size, index * L->dsize, salt_id, index };
	int rc;

	seg_clear(s);
	if (snprintf(tpath, sizeof(tpath), "%s/%s", L->dir, tmp) >= (int)sizeof(tpath))
		return -ENAMETOOLONG;
	unlinkat(L->dirfd, tmp, 0);
	rc = mmds_map_open(&s->map, tpath,
			   &(mmds_map_opts){ .flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL |
						      MMDS_MAP_NOFOLLOW,
					     .mode = L->mode, .size = L->seg_size,
					     .capacity = L->seg_size,
					     .flush = L->flush });
	if (rc)
		return rc;
	MMDS_CRASH("log.rollover.created");
	rc = mmds__fmt_init(&h, MMDS__MAGIC_LOG, LOG_VERSION, 0, &p, sizeof(p));
	if (rc == 0)
		rc = mmds_map_write(s->map, 0, &h, sizeof(h));
	if (rc) {
		mmds_map_close(s->map);
		s->map = NULL;
		return rc;
	}
	MMDS_CRASH("log.rollover.header");
	s->base = mmds_map_data(s->map);
	s->fsize = L->seg_size;
	s->index = index;
	s->salt = h.salt;
	s->version = h.version;
	s->live = (struct seg_live *)(void *)(s->base + LIVE_OFF);
	return 0;
}

/* Link the segment made under tmp by seg_make() under its final name
 * (never a half-made segment), and give it the durable hint. */
static int seg_link(mmds_log *L, const char *tmp, struct seg *s)
{
	char name[32];
	int rc = 0;

	seg_name(name, sizeof(name), s->index * L->dsize);
	if (linkat(L->dirfd, tmp, L->dirfd, name, 0) != 0)
		rc = -errno;
	if (rc == 0)
		MMDS_CRASH("log.rollover.linked");
	unlinkat(L->dirfd, tmp, 0);
	if (rc)
		return rc;
	atomic_store_explicit(&L->dir_dirty, 1, memory_order_release);
	return mmds__log_store_hint(s, atomic_load_explicit(&L->durable,
							   memory_order_acquire));
}

/* Create segment index: a temporary file, preallocated and given its
 * header, then linked under its final name. */
int mmds__log_seg_create(mmds_log *L, uint64_t index, uint64_t salt_id,
			 struct seg *s)
{
	char name[32], tmp[64];
	int rc;

	seg_name(name, sizeof(name), index * L->dsize);
	snprintf(tmp, sizeof(tmp), ".tmp-%ld-%s", (long)getpid(), name);
	rc = seg_make(L, index, salt_id, tmp, s);
	if (rc == 0) {
		rc = seg_link(L, tmp, s);
		if (rc)
			mmds__log_seg_unmap(s);
	}
	unlinkat(L->dirfd, tmp, 0);
	return rc;
}

/* ---- the pretoucher ----------------------------------------------------
 *
 * A writer's background thread, so that no append pays for a page fault
 * or a file creation: it keeps PT_AHEAD bytes past the tail of the active
 * segment populated (MADV_POPULATE_WRITE through mmds_map_touch()), and
 * makes the next segment (one, never more) under a temporary name, its
 * first PT_AHEAD bytes populated, for the rollover to link.  An appender
 * whose record crosses pt_mark, and every rollover, wake it; it sleeps
 * otherwise.  A spare left by a crash is a ".tmp-" file: the next writer
 * open removes it.  The thread is the opener's: a forked child has none
 * (threads do not survive fork), so there every call here does nothing and
 * rollovers create their segment themselves. */

/* ---- fork ----------------------------------------------------------------
 *
 * fork() in a process whose pretoucher is in the middle of a step would
 * give the child a lock the thread held (the handle's pool or table lock,
 * or the allocator's: a sanitizer's allocator is not fork-safe at all)
 * and no thread to release it: the child's next append could block for
 * ever.  So fork waits, in its prepare handler, until every pretoucher is
 * between steps, and holds it there (its pt_mu) until fork returns in the
 * parent and the child.  A step is at most one populate of PT_AHEAD bytes
 * or the making of one segment. */

static pthread_mutex_t pt_list_mu = PTHREAD_MUTEX_INITIALIZER;
static mmds_log *pt_list; /* writers whose pretoucher runs (pt_next) */
static pthread_once_t pt_fork_once = PTHREAD_ONCE_INIT;

static void pt_fork_prepare(void)
{
	pthread_mutex_lock(&pt_list_mu);
	for (mmds_log *L = pt_list; L; L = L->pt_next) {
		pthread_mutex_lock(&L->pt_mu);
		while (L->pt_busy)
			pthread_cond_wait(&L->pt_cv, &L->pt_mu);
	}
}

/* Parent and child: the forking thread took these locks, it releases
 * them (in the child it is the only thread). */
static void pt_fork_done(void)
{
	for (mmds_log *L = pt_list; L; L = L->pt_next)
		pthread_mutex_unlock(&L->pt_mu);
	pthread_mutex_unlock(&pt_list_mu);
}

static void pt_fork_register(void)
{
	pthread_atfork(pt_fork_prepare, pt_fork_done, pt_fork_done);
}

static void pt_list_add(mmds_log *L)
{
	pthread_once(&pt_fork_once, pt_fork_register);
	pthread_mutex_lock(&pt_list_mu);
	L->pt_next = pt_list;
	pt_list = L;
	L->pt_listed = 1;
	pthread_mutex_unlock(&pt_list_mu);
}

static void pt_list_remove(mmds_log *L)
{
	if (!L->pt_listed)
		return;
	pthread_mutex_lock(&pt_list_mu);
	for (mmds_log **p = &pt_list; *p; p = &(*p)->pt_next)
		if (*p == L) {
			*p = L->pt_next;
			break;
		}
	L->pt_listed = 0;
	pthread_mutex_unlock(&pt_list_mu);
}

/* The thread leaves pt_mu for a step of work, and comes back. */
static void pt_work_begin(mmds_log *L)
{
	L->pt_busy = 1;
	pthread_mutex_unlock(&L->pt_mu);
}

static void pt_work_end(mmds_log *L)
{
	pthread_mutex_lock(&L->pt_mu);
	L->pt_busy = 0;
	pthread_cond_broadcast(&L->pt_cv); /* a fork may be waiting */
}

static void spare_tmp(mmds_log *L, uint64_t index, char *buf, size_t cap)
{
	char name[32];

	seg_name(name, sizeof(name), index * L->dsize);
	snprintf(buf, cap, ".tmp-%ld-ahead-%s", (long)L->pid, name);
}

/* Drop the spare (under pt_mu); the file too unless in a forked child. */
static void spare_drop(mmds_log *L)
{
	char tmp[80];

	if (L->spare == NULL)
		return;
	if (L->pid == getpid()) {
		spare_tmp(L, L->spare_idx, tmp, sizeof(tmp));
		unlinkat(L->dirfd, tmp, 0);
	}
	mmds__log_seg_unmap(L->spare);
	mmds__log_seg_put(L, L->spare);
	L->spare = NULL;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* One step of work under pt_mu (dropped while working): 1 if it did
 * something, 0 if there is nothing to do. */
static int pt_step(mmds_log *L)
{
	uint64_t t = atomic_load_explicit(&L->tail, memory_order_acquire) & ~TAIL_ROLL;
	uint64_t k = t / L->dsize, segend = (k + 1) * L->dsize;
	char tmp[80];

	if (k != L->pt_seg || L->pt_done < t) {
		L->pt_seg = k;
		L->pt_done = t;
	}
	if (L->pt_done < segend && L->pt_done < t + PT_AHEAD) {
		uint64_t from = L->pt_done, to = min64(from + PT_AHEAD, segend);
		struct seg *s;

		pt_work_begin(L);
		s = mmds__log_seg_acquire(L, k);
		/* a failure (no memory, the file truncated) costs only speed:
		 * the appends fault the pages in themselves */
		if (s)
			(void)mmds_map_touch(s->map, HDR + (from - k * L->dsize),
					     to - from);
		mmds__log_seg_release(L, s);
		pt_work_end(L);
		if (L->pt_seg == k && L->pt_done == from)
			L->pt_done = to;
		return 1;
	}
	if (L->spare && L->spare_idx != k + 1)
		spare_drop(L);
	if (L->spare == NULL && L->spare_failed != k + 2 && k + 1 >= L->spare_next &&
	    (k + 2) * L->dsize < TAIL_ROLL / 2) {
		struct seg *s = mmds__log_seg_new(L);
		int rc = s ? 0 : -ENOMEM;

		L->spare_busy = 1;
		L->spare_idx = k + 1;
		pt_work_begin(L);
		spare_tmp(L, k + 1, tmp, sizeof(tmp));
		if (rc == 0)
			rc = seg_make(L, k + 1, L->log_id, tmp, s);
		if (rc == 0)
			(void)mmds_map_touch(s->map, HDR, min64(PT_AHEAD, L->dsize));
		else
			unlinkat(L->dirfd, tmp, 0);
		pt_work_end(L);
		L->spare_busy = 0;
		if (rc == 0) {
			L->spare = s;
		} else {
			mmds__log_seg_put(L, s);
			L->spare_failed = k + 2;
		}
		pthread_cond_broadcast(&L->pt_cv);
		return 1;
	}
	return 0;
}

static void *pt_main(void *arg)
{
	mmds_log *L = arg;

	pthread_mutex_lock(&L->pt_mu);
	/* running: whatever the thread's start allocated is allocated (see
	 * mmds__log_pt_start()) */
	L->pt_started = 1;
	L->pt_busy = 0; /* started: see mmds__log_pt_start() */
	pthread_cond_broadcast(&L->pt_cv);
	while (!L->pt_stop) {
		uint64_t t, mark;

		if (pt_step(L))
			continue;
		/* wake when the tail is half way through the populated
		 * window; the appender crossing the mark takes pt_mu to wake
		 * us, after its record moved the tail, so no wake is lost */
		mark = L->pt_done < (L->pt_seg + 1) * L->dsize
			       ? L->pt_done - min64(PT_AHEAD / 2, L->pt_done - L->pt_seg * L->dsize)
			       : UINT64_MAX;
		/* seq_cst, paired with the appender's seq_cst tail CAS and
		 * mark load: either it sees this mark or we see its tail */
		atomic_store_explicit(&L->pt_mark, mark, memory_order_seq_cst);
		t = atomic_load_explicit(&L->tail, memory_order_seq_cst) & ~TAIL_ROLL;
		if (t / L->dsize != L->pt_seg || (mark != UINT64_MAX && t > mark))
			continue;
		if (!L->pt_kicked) {
			/* a wake lost all the same (a helper moved the tail
			 * past the mark) costs at most a second of populating */
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&L->pt_cv, &L->pt_mu, &ts);
		}
		L->pt_kicked = 0;
	}
	/* the thread's end frees what its start allocated: a step too,
	 * ended by mmds__log_pt_stop() after the join */
	L->pt_busy = 1;
	pthread_mutex_unlock(&L->pt_mu);
	return NULL;
}

int mmds__log_pt_start(mmds_log *L)
{
	sigset_t all, old;
	int rc;

	atomic_store_explicit(&L->pt_mark, UINT64_MAX, memory_order_relaxed);
	L->pt_seg = UINT64_MAX;
	/* the thread takes no signal meant for the application's threads,
	 * but the synchronous ones stay deliverable: a SIGBUS of a populate
	 * by hand on a truncated file goes to the guard, blocked it would
	 * kill the process */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* the thread's start is a step of work too (it allocates: thread-
	 * local storage, a sanitizer's bookkeeping): a fork() waits for it,
	 * and the open returns once the thread runs */
	pthread_mutex_lock(&L->pt_mu);
	L->pt_busy = 1;
	pthread_mutex_unlock(&L->pt_mu);
	pt_list_add(L);
	rc = -pthread_create(&L->pt_thread, NULL, pt_main, L);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_mutex_lock(&L->pt_mu);
	if (rc != 0) {
		L->pt_busy = 0;
		pthread_cond_broadcast(&L->pt_cv);
	}
	while (rc == 0 && !L->pt_started)
		pthread_cond_wait(&L->pt_cv, &L->pt_mu);
	pthread_mutex_unlock(&L->pt_mu);
	if (rc != 0) {
		pt_list_remove(L);
		return rc;
	}
	L->pt_running = 1;
	return 0;
}

void mmds__log_pt_stop(mmds_log *L)
{
	if (L->pt_running && L->pid == getpid()) {
		pthread_mutex_lock(&L->pt_mu);
		L->pt_stop = 1;
		pthread_cond_broadcast(&L->pt_cv);
		pthread_mutex_unlock(&L->pt_mu);
		pthread_join(L->pt_thread, NULL);
		pthread_mutex_lock(&L->pt_mu);
		L->pt_busy = 0; /* gone: a fork waiting for it goes on */
		pthread_cond_broadcast(&L->pt_cv);
		pthread_mutex_unlock(&L->pt_mu);
		pt_list_remove(L);
		spare_drop(L);
		L->pt_running = 0;
		return;
	}
	/* a forked child: the list is the process's, the thread was not */
	pt_list_remove(L);
	if (L->spare) {
		/* a forked child: the parent's thread and its lock state are
		 * not ours; unmap our copy, leave the parent's file alone */
		mmds__log_seg_unmap(L->spare);
		mmds__log_seg_put(L, L->spare);
		L->spare = NULL;
	}
	L->pt_running = 0;
}

void mmds__log_pt_kick(mmds_log *L)
{
	if (!L->pt_running || L->pid != getpid())
		return;
	pthread_mutex_lock(&L->pt_mu);
	L->pt_kicked = 1;
	pthread_cond_broadcast(&L->pt_cv);
	pthread_mutex_unlock(&L->pt_mu);
}

struct seg *mmds__log_pt_take(mmds_log *L, uint64_t index)
{
	struct seg *s = NULL;
	char tmp[80];

	if (!L->pt_running || L->pid != getpid())
		return NULL;
	pthread_mutex_lock(&L->pt_mu);
	while (L->spare_busy && L->spare_idx == index)
		pthread_cond_wait(&L->pt_cv, &L->pt_mu);
	/* from now on the thread makes later segments only: it never
	 * reuses the temporary name linked here (nor makes this segment
	 * again while the tail has not left its predecessor) */
	if (L->spare_next < index + 1)
		L->spare_next = index + 1;
	if (L->spare && L->spare_idx == index) {
		s = L->spare;
		L->spare = NULL;
		spare_tmp(L, index, tmp, sizeof(tmp));
		if (seg_link(L, tmp, s) != 0) {
			unlinkat(L->dirfd, tmp, 0);
			mmds__log_seg_unmap(s);
			mmds__log_seg_put(L, s);
			s = NULL;
		}
	}
	pthread_mutex_unlock(&L->pt_mu);
	return s;
}
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The segment indexes present, sorted.  -EBADMSG for a segment name whose
 * base is not a segment boundary. */
int mmds__log_seg_name_base(const char *s, uint64_t *base)
{
	uint64_t b = 0;

	if (strlen(s) != 24 || strcmp(s + 20, ".seg") != 0)
		return 0;
	for (int i = 0; i < 20; i++) {
		if (s[i] < '0' || s[i] > '9' || b > (UINT64_MAX - 9) / 10)
			return 0;
		b = b * 10 + (uint64_t)(s[i] - '0');
	}
	*base = b;
	return 1;
}

int mmds__log_list_segments(mmds_log *L, uint64_t **out, size_t *n)
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
		uint64_t base;

		if (!mmds__log_seg_name_base(e->d_name, &base))
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

int mmds__log_delete_segment(mmds_log *L, uint64_t index, uint64_t *bytes)
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
