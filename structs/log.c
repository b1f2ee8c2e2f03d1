/* log.c - the log: open, close, sync (group commit), retention, positions.
 * Who owns what: log_internal.h. */
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

#include "crash.h"
#include "futex.h"
#include "log_internal.h"

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
 * segment it reads; *err: the error of mapping one out of the window
 * again (else left alone). */
static uint64_t walk_committed(mmds_log *L, uint64_t pos, uint64_t limit,
			       int *err)
{
	while (pos < limit) {
		struct walk a = { L, mmds__log_seg_acquire_err(L, pos / L->dsize, err),
				  pos, limit, 0 };
		int rc;

		if (a.s == NULL)
			break;
		rc = mmds_guard_run(walk_fn, &a);
		mmds__log_seg_release(L, a.s);
		pos = a.pos;
		if (rc || a.stop)
			break;
	}
	return pos;
}

static uint64_t published_end(mmds_log *L, int *err)
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
				     ~TAIL_ROLL, err);
	while (pub < end && !atomic_compare_exchange_weak_explicit(
				    &L->pub, &pub, end, memory_order_relaxed,
				    memory_order_relaxed))
		;
	return end;
}

/* Make [from, to) durable: one fdatasync per segment it spans, each
 * segment held by a reference: retention may drop a segment meanwhile,
 * never free it under the sync (a freed segment's descriptor could be
 * another file's by then).  A segment already dropped needs no sync.
 * fdatasync writes back every dirty page of the file, those dirtied
 * through the mapping included (a write fault marks them dirty), and
 * nothing else is needed: an msync(MS_SYNC) before it would only flush
 * the same pages a second time. */
static int sync_range(mmds_log *L, uint64_t from, uint64_t to)
{
	int rc = 0;

	if (atomic_exchange_explicit(&L->dir_dirty, 0, memory_order_acq_rel) &&
	    fsync(L->dirfd) != 0) {
		atomic_store_explicit(&L->dir_dirty, 1, memory_order_release);
		return -errno;
	}
	for (uint64_t k = from / L->dsize; from < to && rc == 0; k++) {
		/* one out of the window is mapped again for this: its
		 * pages dirtied through the old mapping are the file's */
		struct seg *s = mmds__log_seg_acquire_err(L, k, &rc);
		uint64_t sb = k * L->dsize, e = sb + L->dsize;
		uint64_t stop = to < e ? to : e;

		if (s && fdatasync(mmds_map_fd(s->map)) != 0)
			rc = -errno;
		mmds__log_seg_release(L, s);
		from = stop;
	}
	return rc;
}

int mmds_log_sync(mmds_log *L, uint64_t lsn)
{
	unsigned group;
	int rc = 0;

	if (L == NULL)
		return -EINVAL;
	if (!L->writer)
		return -EACCES;
	if (lsn == UINT64_MAX) {
		lsn = published_end(L, &rc);
		if (rc)
			return rc;
	} else {
		uint64_t t = atomic_load_explicit(&L->tail, memory_order_acquire) &
			     ~TAIL_ROLL;

		/* through the byte at lsn: the durable end only lands on record
		 * ends, so the whole record that starts (or lies) there */
		lsn = lsn < t ? lsn + 1 : t;
	}
	pthread_mutex_lock(&L->sync_mu);
	while (atomic_load_explicit(&L->durable, memory_order_acquire) < lsn) {
		uint64_t d, p;

		if (L->syncing) {
			L->sync_waiting++;
			pthread_cond_wait(&L->sync_cv, &L->sync_mu);
			L->sync_waiting--;
			continue;
		}
		L->syncing = 1;
		group = L->sync_group;
		pthread_mutex_unlock(&L->sync_mu);
		/* the last flush served several threads, which are appending
		 * their next records now: let them, so this flush covers them
		 * too (a yield costs microseconds, a flush milliseconds) */
		if (group > 1)
			sched_yield();
		d = atomic_load_explicit(&L->durable, memory_order_acquire);
		if (d < atomic_load_explicit(&L->first, memory_order_relaxed))
			d = atomic_load_explicit(&L->first, memory_order_relaxed);
		rc = 0;
		p = published_end(L, &rc);
		if (rc == 0 && p > d)
			rc = sync_range(L, d, p);
		MMDS_CRASH("log.sync.synced");
		if (rc == 0 && p > d) {
			struct seg *s = mmds__log_seg_acquire_err(L, (p - 1) / L->dsize,
								  &rc);

			/* the hint recovery starts from: stored after the sync */
			if (s)
				rc = mmds__log_store_hint(s, p);
			mmds__log_seg_release(L, s);
		}
		pthread_mutex_lock(&L->sync_mu);
		L->syncing = 0;
		L->sync_group = L->sync_waiting + 1;
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

int mmds__log_writer_gone(mmds_log *L)
{
#ifdef F_OFD_GETLK
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, rc;

	uint64_t now;

	if (L->writer)
		return 0;
	/* a reader spinning at a claim asks the kernel once a millisecond */
	now = mmds__mono_ns();
	if (now < atomic_load_explicit(&L->alive_until, memory_order_relaxed))
		return 0;
	fd = openat(L->dirfd, "lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT;
	/* the writer's OFD lock lives as long as its process (or a child
	 * that inherited the descriptor): unlocked means nobody writes */
	rc = fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type == F_UNLCK;
	close(fd);
	if (!rc)
		atomic_store_explicit(&L->alive_until, now + 1000000u,
				      memory_order_relaxed);
	return rc;
#else
	(void)L;
	return 0; /* process-wide locks cannot be tested from inside */
#endif
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

/* The "<digits>.seg" bases in the directory, sorted: what the open reads
 * before it knows the segment size.  -ENOENT when there is none. */
static int list_bases(mmds_log *L, uint64_t **v, size_t *n)
{
	uint64_t save = L->dsize;
	int rc;

	L->dsize = 1;
	rc = mmds__log_list_segments(L, v, n);
	L->dsize = save;
	if (rc == 0 && *n == 0) {
		free(*v);
		*v = NULL;
		rc = -ENOENT;
	}
	return rc;
}

/* The bases of list_bases() as segment indexes, once the size is known. */
static int bases_to_indexes(const mmds_log *L, uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i] % L->dsize)
			return -EBADMSG;
		v[i] /= L->dsize;
	}
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
	uint64_t *idx = NULL;
	size_t n = 0;
	int rc;

	if (out)
		*out = NULL;
	if (out == NULL || dir == NULL)
		return -EINVAL;
	if (o == NULL)
		o = &def;
	if ((o->flags & ~(unsigned)(MMDS_LOG_CREATE | MMDS_LOG_RDONLY |
				    MMDS_LOG_NO_THREAD)) ||
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
	pthread_mutex_init(&L->pool_mu, NULL);
	pthread_cond_init(&L->roll_cv, NULL);
	pthread_mutex_init(&L->sync_mu, NULL);
	pthread_cond_init(&L->sync_cv, NULL);
	pthread_mutex_init(&L->read_mu, NULL);
	pthread_mutex_init(&L->pt_mu, NULL);
	pthread_cond_init(&L->pt_cv, NULL);
	atomic_store_explicit(&L->pt_mark, UINT64_MAX, memory_order_relaxed);
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
	rc = list_bases(L, &idx, &n);
	if (rc == -ENOENT && (o->flags & MMDS_LOG_CREATE)) {
		struct seg *s = calloc(1, sizeof(*s));

		L->seg_size = o->segment_size ? o->segment_size : MMDS_LOG_DEFAULT_SEGMENT;
		L->dsize = L->seg_size - HDR;
		L->max_len = L->dsize - RH > UINT32_MAX ? UINT32_MAX : L->dsize - RH;
		L->version = LOG_VERSION;
		rc = s ? random_id(&L->log_id) : -ENOMEM;
		if (rc == 0)
			rc = mmds__log_seg_create(L, 0, L->log_id, s);
		if (rc == 0) /* empty: recovery need not look for stale bytes */
			atomic_store_explicit(&s->live->clean_end, 1,
					      memory_order_release);
		if (rc) {
			free(s);
			goto fail;
		}
		mmds__log_seg_unmap(s);
		free(s);
		rc = fsync(L->dirfd) != 0 ? -errno : 0;
		if (rc)
			goto fail;
		rc = list_bases(L, &idx, &n);
	}
	if (rc)
		goto fail;
	rc = adopt_params(L, idx[0]);
	/* a reader beside a writer's retention: the oldest segment went (a
	 * writer retaining in a loop can beat a few tries on a busy machine;
	 * it never drops the last segment, so this ends) */
	for (int tries = 0; rc == -ENOENT && !L->writer && tries < 1000; tries++) {
		if (tries >= 8)
			sched_yield();
		free(idx);
		rc = list_bases(L, &idx, &n);
		if (rc == 0)
			rc = adopt_params(L, idx[0]);
	}
	if (rc == 0)
		rc = bases_to_indexes(L, idx, n);
	if (rc)
		goto fail;
	L->idx0 = idx[0];
	atomic_store_explicit(&L->first, idx[0] * L->dsize, memory_order_relaxed);
	if (L->writer) {
		rc = mmds__log_recover(L, idx, n);
		if (rc == 0 && !(o->flags & MMDS_LOG_NO_THREAD))
			rc = mmds__log_pt_start(L);
		if (rc)
			goto fail;
	} else {
		uint64_t d = 0, dd;

		for (size_t i = 0; i < n; i++)
			if (mmds__log_seg_check(L, idx[i], NULL, &dd, NULL) == 0 && dd > d)
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
	mmds__log_pt_stop(L);
	if (L->writer && L->dsize && L->pid == getpid()) {
		uint64_t t = atomic_load_explicit(&L->tail, memory_order_acquire) &
			     ~TAIL_ROLL;
		struct seg *s = mmds__log_seg_get(L, t / L->dsize);

		if (s)
			rc = mmds__log_store64_guarded(&s->live->clean_end, t + 1);
	}
	for (unsigned c = 0; c < CHUNKS; c++) {
		_Atomic(struct seg *) *ch = atomic_load(&L->chunks[c]);

		if (ch == NULL)
			continue;
		for (unsigned i = 0; i < 1u << CHUNK_BITS; i++) {
			struct seg *s = atomic_load(&ch[i]);
			int r = mmds__log_seg_release(L, s);

			if (r && rc == 0)
				rc = r;
		}
		free(ch);
	}
	mmds__log_seg_pool_free(L);
	if (L->rseg_ok)
		mmds__log_seg_unmap(&L->rseg);
	if (L->lockfd >= 0)
		close(L->lockfd);
	if (L->dirfd >= 0)
		close(L->dirfd);
	/* in a forked child the parent's threads may have been waiting on
	 * these (its pretoucher always is): glibc's destroy would wait for
	 * waiters that do not exist here */
	if (L->pid == getpid()) {
		pthread_mutex_destroy(&L->roll_mu);
		pthread_mutex_destroy(&L->pool_mu);
		pthread_cond_destroy(&L->roll_cv);
		pthread_mutex_destroy(&L->sync_mu);
		pthread_cond_destroy(&L->sync_cv);
		pthread_mutex_destroy(&L->read_mu);
		pthread_mutex_destroy(&L->pt_mu);
		pthread_cond_destroy(&L->pt_cv);
	}
	free(L->dir);
	free(L);
	return rc;
}

uint64_t mmds_log_durable_lsn(const mmds_log *L)
{
	return L ? atomic_load_explicit(&((mmds_log *)L)->durable,
					memory_order_acquire) : 0;
}

uint64_t mmds_log_first_lsn(mmds_log *L)
{
	uint64_t *v, first;
	char name[32];
	struct stat st;
	size_t n;

	if (L == NULL)
		return 0;
	first = atomic_load_explicit(&L->first, memory_order_relaxed);
	if (L->writer)
		return first;
	/* a reader: segments go only from the front (retention) and never
	 * come back below the oldest, so while the oldest segment seen is
	 * still there it is still the oldest: a stat, not a listing */
	seg_name(name, sizeof(name), first);
	if (fstatat(L->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return first;
	if (mmds__log_list_segments(L, &v, &n) == 0) {
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
	if (mmds__log_list_segments(L, &v, &n) != 0 || n == 0)
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
	/* an error mapping an old segment again only stops the walk short:
	 * fewer segments dropped */
	limit = published_end(L, &rc);
	rc = 0;
	if (lsn < limit)
		limit = lsn;
	pthread_mutex_lock(&L->roll_mu);
	active = (atomic_load_explicit(&L->tail, memory_order_acquire) & ~TAIL_ROLL) /
		 L->dsize;
	for (;;) {
		uint64_t k = atomic_load_explicit(&L->first, memory_order_relaxed) /
			     L->dsize;
		/* NULL when out of the window (unmapped already) */
		struct seg *s = mmds__log_seg_get(L, k);
		char name[32];

		/* the next one must exist: a segment below win_lo does, the
		 * table has those from there on */
		if ((k + 1) * L->dsize > limit || k >= active ||
		    (k + 1 >= L->win_lo && mmds__log_seg_get(L, k + 1) == NULL))
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
		if (s) {
			mmds__log_seg_set(L, k, NULL);
			/* the table's reference, dropped below, outside the lock */
			s->next = dropped;
			dropped = s;
		}
		atomic_store_explicit(&L->first, (k + 1) * L->dsize,
				      memory_order_relaxed);
		atomic_store_explicit(&L->dir_dirty, 1, memory_order_release);
		count++;
	}
	pthread_mutex_unlock(&L->roll_mu);
	/* unmapped and closed here (the space is free) unless a sync or an
	 * append still uses it: then by that user when it is done */
	mmds__log_seg_release_list(L, dropped);
	first = atomic_load_explicit(&L->first, memory_order_relaxed);
	pthread_mutex_lock(&L->read_mu);
	if (L->rseg_ok && L->rseg.index * L->dsize < first) {
		mmds__log_seg_unmap(&L->rseg);
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
	if (mmds__log_list_segments(L, &v, &n) == 0) {
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
