/* log_append.c - appending to the log: append, reserve/commit/abort,
 * rollover.
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
#if defined(HAVE_LINUX_FUTEX_H) && defined(HAVE_SYS_SYSCALL_H)
#include <linux/futex.h>
#include <sys/syscall.h>
#define LOG_HAVE_FUTEX 1
#endif

#include "crash.h"
#include "log_internal.h"

static uint64_t make_word0(uint32_t len, uint16_t type, uint16_t flags)
{
	return (uint64_t)len | (uint64_t)type << 32 |
	       (uint64_t)(flags | REC_COMMIT) << 48;
}

static void futex_wake_all(_Atomic uint32_t *w)
{
#ifdef LOG_HAVE_FUTEX
	syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#else
	(void)w;
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
	struct seg *cur = mmds__log_seg_acquire(L, k), *next;
	uint64_t nidx = cur ? k + 1 : k;
	uint64_t end = (k + 1) * L->dsize;
	int rc;

	next = calloc(1, sizeof(*next));
	rc = next ? mmds__log_seg_create(L, nidx, L->log_id, next) : -ENOMEM;
	if (rc == 0) {
		atomic_store_explicit(&next->refs, 1, memory_order_relaxed);
		pthread_mutex_lock(&L->roll_mu);
		rc = mmds__log_seg_set(L, nidx, next);
		pthread_mutex_unlock(&L->roll_mu);
		if (rc) {
			char name[32];

			seg_name(name, sizeof(name), nidx * L->dsize);
			unlinkat(L->dirfd, name, 0);
			mmds__log_seg_unmap(next);
		}
	}
	if (rc) {
		free(next);
		mmds__log_seg_release(cur);
		return rc;
	}
	if (cur) {
		if (end - pos >= RH)
			rc = put(L, cur, pos, NULL, 0, (uint32_t)(end - pos - RH), 0,
				 REC_PAD);
		else
			rc = mmds_guard_run(wake_fn, cur);
		MMDS_CRASH("log.rollover.padded");
	} else if (k > 0 && (cur = mmds__log_seg_acquire(L, k - 1)) != NULL) {
		/* readers wait on the full segment before it */
		rc = mmds_guard_run(wake_fn, cur);
	}
	mmds__log_seg_release(cur);
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
		s = mmds__log_seg_get(L, pos / L->dsize);
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
	mmds__log_seg_release(s);
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
	mmds__log_seg_release(s);
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
