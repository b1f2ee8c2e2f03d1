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

#include "crash.h"
#include "futex.h"
#include "log_internal.h"

static uint64_t make_word0(uint32_t len, uint16_t type, uint16_t flags)
{
	return (uint64_t)len | (uint64_t)type << 32 |
	       (uint64_t)(flags | REC_COMMIT) << 48;
}

/* Wake readers sleeping on the segment, if any.  Called right after the
 * header's seq_cst exchange, which orders the commit before the waiters
 * load (paired with the reader's seq_cst increment): no separate fence. */
static void seg_wake(struct seg *s)
{
	if (atomic_load_explicit(&s->live->waiters, memory_order_seq_cst)) {
		atomic_fetch_add_explicit(&s->live->seq, 1, memory_order_release);
		mmds__futex_wake(&s->live->seq);
	}
}

/* GCC 12 leaves the fence below uninstrumented (-Wtsan, an error with
 * -Werror) once it is inlined into the guarded callbacks: not under TSan. */
#if defined(__SANITIZE_THREAD__)
#define LOG_TSAN_NOINLINE __attribute__((noinline))
#else
#define LOG_TSAN_NOINLINE
#endif

/* A wake for a commit not stored by publish() (a rollover's). */
LOG_TSAN_NOINLINE static void seg_wake_fenced(struct seg *s)
{
	atomic_thread_fence(memory_order_seq_cst);
	seg_wake(s);
}

/* The header word of the record at lsn in s. */
static _Atomic uint64_t *hdr_word(const mmds_log *L, const struct seg *s,
				  uint64_t lsn)
{
	return (_Atomic uint64_t *)(void *)(s->base + HDR +
					    (lsn - s->index * L->dsize));
}

/* A CLAIMED header word: the extent is known from the moment of the claim. */
static uint64_t claim_word(uint32_t len, uint16_t type, uint16_t flags)
{
	return (uint64_t)len | (uint64_t)type << 32 |
	       (uint64_t)(flags | REC_CLAIM) << 48;
}

/* Store the record's checksum, then its header (release): the record is
 * published.  The header held the claim (len, CLAIM, type 0 for a
 * reservation) until then.  Runs under the guard (the caller's). */
static void publish(mmds_log *L, struct seg *s, uint64_t lsn, uint32_t len,
		    uint16_t type, uint16_t flags)
{
	uint64_t off = HDR + (lsn - s->index * L->dsize);
	uint64_t w = make_word0(len, type, flags);
	uint64_t sum = rec_sum(s->salt, lsn, w, s->base + off + RH,
			       flags & (REC_PAD | REC_SKIP) ? 0 : len);
	_Atomic uint64_t *h = hdr_word(L, s, lsn);

	/* the claim names the type before the checksum that covers it, so
	 * recovery can tell a claim killed between the two stores from a
	 * corrupt header */
	if (type && !(flags & (REC_PAD | REC_SKIP)) &&
	    atomic_load_explicit(h, memory_order_relaxed) != claim_word(len, type, 0))
		atomic_store_explicit(h, claim_word(len, type, 0), memory_order_relaxed);
	memcpy(s->base + off + 8, &sum, sizeof(sum));
	if (!(flags & REC_PAD))
		MMDS_CRASH("log.append.summed");
	/* release for the readers; seq_cst, a full barrier, for seg_wake() */
	atomic_exchange_explicit(h, w, memory_order_seq_cst);
	if (!(flags & REC_PAD))
		MMDS_CRASH("log.append.published");
	if (L->flush.mode != MMDS_FLUSH_MANUAL)
		mmds_map_mark_dirty(s->map, off, RH + (uint64_t)len);
	seg_wake(s);
}

/* One guarded publish of a record whose payload is written. */
struct put {
	mmds_log *L;
	struct seg *s;
	uint64_t lsn;
	uint32_t len;
	uint16_t type, flags;
};

static int put_fn(void *arg)
{
	struct put *a = arg;

	publish(a->L, a->s, a->lsn, a->len, a->type, a->flags);
	return 0;
}

/* put_fn under the SIGBUS guard: 0, or -EFAULT/-EIO when the segment file
 * was truncated under the map. */
static int put(mmds_log *L, struct seg *s, uint64_t lsn, uint32_t len,
	       uint16_t type, uint16_t flags)
{
	struct put a = { L, s, lsn, len, type, flags };

	return mmds_guard_run(put_fn, &a);
}

int mmds__log_seal_abandoned(mmds_log *L, struct seg *s, uint64_t lsn,
			     const struct rec *r)
{
	return put(L, s, lsn, r->len, 0, r->flags & REC_PAD ? REC_PAD : REC_SKIP);
}

static int wake_fn(void *arg)
{
	seg_wake_fenced(arg);
	return 0;
}

/* Seal the segment of pos (if it exists) and create the next one.  Called
 * by the one thread that set TAIL_ROLL. */
static int rollover(mmds_log *L, uint64_t pos)
{
	uint64_t k = pos / L->dsize;
	struct seg *cur = mmds__log_seg_acquire(L, k), *next, *old = NULL;
	uint64_t nidx = cur ? k + 1 : k;
	uint64_t end = (k + 1) * L->dsize;
	int rc;

	/* made ahead by the pretoucher, or now */
	next = mmds__log_pt_take(L, nidx);
	if (next) {
		rc = 0;
	} else {
		next = mmds__log_seg_new(L);
		rc = next ? mmds__log_seg_create(L, nidx, L->log_id, next) : -ENOMEM;
	}
	if (rc == 0) {
		/* release: a stale appender's mmds__log_seg_tryget() reads
		 * the index after it */
		atomic_store_explicit(&next->refs, 1, memory_order_release);
		pthread_mutex_lock(&L->roll_mu);
		rc = mmds__log_seg_set(L, nidx, next);
		if (rc == 0) {
			atomic_store_explicit(&L->active, next, memory_order_release);
			/* the window: older segments leave the table (an
			 * appender still looking at one without a reference
			 * finds it dropped: mmds__log_seg_tryref()) */
			if (nidx > LOG_WINDOW)
				old = mmds__log_seg_evict(L, nidx - LOG_WINDOW);
		}
		pthread_mutex_unlock(&L->roll_mu);
		mmds__log_seg_release_list(L, old);
		if (rc) {
			char name[32];

			seg_name(name, sizeof(name), nidx * L->dsize);
			unlinkat(L->dirfd, name, 0);
			mmds__log_seg_release(L, next); /* unmapped, pooled */
			next = NULL;
		}
	}
	if (rc) {
		mmds__log_seg_put(L, next);
		mmds__log_seg_release(L, cur);
		return rc;
	}
	if (cur) {
		if (end - pos >= RH)
			rc = put(L, cur, pos, (uint32_t)(end - pos - RH), 0,
				 REC_PAD);
		else
			rc = mmds_guard_run(wake_fn, cur);
		MMDS_CRASH("log.rollover.padded");
	} else if (k > 0 && (cur = mmds__log_seg_acquire(L, k - 1)) != NULL) {
		/* readers wait on the full segment before it */
		rc = mmds_guard_run(wake_fn, cur);
	}
	mmds__log_seg_release(L, cur);
	return rc;
}

struct pad_claim {
	_Atomic uint64_t *h;
	uint64_t w;
	int won;
};

static int pad_claim_fn(void *arg)
{
	struct pad_claim *a = arg;
	uint64_t cur = atomic_load_explicit(a->h, memory_order_relaxed);

	a->won = cur == 0 && atomic_compare_exchange_strong_explicit(
		a->h, &cur, a->w, memory_order_acq_rel, memory_order_acquire);
	return 0;
}

/* Clear a claim the caller owns (its rollover failed). */
static int unclaim_fn(void *arg)
{
	atomic_store_explicit((_Atomic uint64_t *)arg, 0, memory_order_release);
	return 0;
}

/* Let the tail go on from pos after a rollover that did not happen. */
static void tail_restore(mmds_log *L, uint64_t pos)
{
	pthread_mutex_lock(&L->roll_mu);
	atomic_store_explicit(&L->tail, pos, memory_order_release);
	pthread_cond_broadcast(&L->roll_cv);
	pthread_mutex_unlock(&L->roll_mu);
}

/*
 * Reserve a record of len bytes: its LSN in *lsn and its segment in *segp
 * with a reference taken, which the caller drops when the record is
 * written.  The claim is a CAS of the record's header word from zero to
 * CLAIMED with the length: the reservation exists only once it is in the
 * file, so a writer killed at any moment leaves either no record or one
 * whose extent recovery knows.  The tail is advanced after it, by the
 * claimer or by whoever finds the claim first.  The segment's reference
 * is taken before anything of it is touched: between reading the tail and
 * taking it, this thread may be preempted while the tail moves on and
 * retention drops the segment (mmds__log_seg_tryref() tells).  Runs under
 * the caller's guard (the CAS touches the mapping).
 */
static int reserve(mmds_log *L, size_t len, uint16_t type, uint64_t *lsn,
		   struct seg **segp)
{
	uint64_t stride = RH + align8(len), pos, end, cur, t;
	uint64_t pad_pos = UINT64_MAX;
	unsigned pad_seen = 0;
	struct pad_claim pc;
	struct seg *s;
	int rc;

	/* *segp holds the reference on s from the moment it is taken: after
	 * a fault (the guard jumps out of here) the caller drops it */
	*segp = NULL;
	for (;;) {
		mmds__log_seg_release(L, *segp); /* the last round's */
		*segp = NULL;
		pos = atomic_load_explicit(&L->tail, memory_order_acquire);
		if (pos & TAIL_ROLL) {
			pthread_mutex_lock(&L->roll_mu);
			while (atomic_load_explicit(&L->tail, memory_order_acquire) &
			       TAIL_ROLL)
				pthread_cond_wait(&L->roll_cv, &L->roll_mu);
			pthread_mutex_unlock(&L->roll_mu);
			continue;
		}
		/* pos's segment with a reference (nothing of it is touched
		 * before: it may have been dropped meanwhile): the newest one,
		 * without the division and the table walk, in the common case */
		s = atomic_load_explicit(&L->active, memory_order_acquire);
		MMDS_CRASH("log.append.looked");
		if (s && !mmds__log_seg_tryref(s))
			s = NULL;
		if (s && pos - s->index * L->dsize < L->dsize) {
			end = (s->index + 1) * L->dsize;
		} else {
			uint64_t k = pos / L->dsize;

			if (s)
				mmds__log_seg_release(L, s);
			end = (k + 1) * L->dsize;
			s = mmds__log_seg_tryget(L, mmds__log_seg_get(L, k), k);
		}
		*segp = s;
		if (s && s->version >= LOG_VERSION_CLAIM && end - pos >= RH) {
			/* a plain look first: a claim already there needs no
			 * CAS, and a truncated file faults here, outside any
			 * atomic read-modify-write (which TSan runs under a
			 * lock that a fault would leave held) */
			cur = atomic_load_explicit(hdr_word(L, s, pos),
						   memory_order_relaxed);
			if (cur == 0 && pos + stride > end)
				goto roll; /* free, and too small for us */
			if (cur == 0 &&
			    atomic_compare_exchange_strong_explicit(
				    hdr_word(L, s, pos), &cur,
				    claim_word((uint32_t)len, type, 0),
				    memory_order_acq_rel, memory_order_acquire)) {
				*lsn = pos;
				MMDS_CRASH("log.append.reserved");
				t = pos;
				/* fails only when another thread helped already;
				 * seq_cst for the pretoucher's mark (below) */
				atomic_compare_exchange_strong_explicit(
					&L->tail, &t, pos + stride,
					memory_order_seq_cst, memory_order_relaxed);
				MMDS_CRASH("log.append.claimed");
				/* the record crossing the pretoucher's mark wakes
				 * it (after the tail moved past the mark) */
				t = atomic_load_explicit(&L->pt_mark,
							 memory_order_seq_cst);
				if (t - pos < stride)
					mmds__log_pt_kick(L);
				return 0;
			}
			/* claimed by another thread: help the tail past it,
			 * whether or not our record would fit after it (a
			 * thread whose record does not fit would otherwise
			 * roll over, find the claim in the way, put the tail
			 * back and try again for ever); a padding claim
			 * belongs to a rollover: wait for it */
			if ((cur >> 48) & REC_PAD) {
				/* a rollover sets TAIL_ROLL before its padding
				 * claim and moves the tail (or unclaims) after:
				 * padding at a still tail, again and again, was
				 * written by someone else */
				pad_seen = pos == pad_pos ? pad_seen + 1 : 1;
				pad_pos = pos;
				if (pad_seen > 1000)
					return -EBADMSG;
				if (pad_seen > 16)
					sched_yield();
				continue;
			}
			t = ((cur >> 48) & (REC_CLAIM | REC_COMMIT))
				    ? RH + align8((uint32_t)cur) : 0;
			if (t == 0 || t > end - pos)
				return -EBADMSG; /* not written by this writer */
			atomic_compare_exchange_strong_explicit(
				&L->tail, &pos, pos + t, memory_order_acq_rel,
				memory_order_relaxed);
			continue;
		}
roll:
		if (!atomic_compare_exchange_strong_explicit(
			    &L->tail, &pos, pos | TAIL_ROLL, memory_order_acq_rel,
			    memory_order_relaxed))
			continue;
		/* claim the rest of the segment as padding: a thread that read
		 * the tail before the rollover began may be claiming a record
		 * that fits at pos; then that one goes first */
		pc.h = NULL;
		if (s && s->version >= LOG_VERSION_CLAIM && end - pos >= RH) {
			pc.h = hdr_word(L, s, pos);
			pc.w = claim_word((uint32_t)(end - pos - RH), 0, REC_PAD);
			rc = mmds_guard_run(pad_claim_fn, &pc);
			if (rc || !pc.won) {
				tail_restore(L, pos);
				if (rc)
					return rc;
				continue;
			}
		}
		rc = rollover(L, pos);
		if (rc && pc.h)
			mmds_guard_run(unclaim_fn, pc.h);
		tail_restore(L, rc ? pos : (s ? end : pos));
		if (rc)
			return rc;
		MMDS_CRASH("log.rollover.switched");
		/* a new active segment: populate it, make the next */
		mmds__log_pt_kick(L);
	}
}

/* One append under one guard: reserve, payload, publish. */
struct append_op {
	mmds_log *L;
	const struct iovec *iov;
	int iovcnt;
	size_t len;
	uint16_t type;
	uint64_t pos;
	struct seg *s;
	int rc;
};

static int append_fn(void *arg)
{
	struct append_op *a = arg;
	unsigned char *p;

	a->rc = reserve(a->L, a->len, a->type, &a->pos, &a->s);
	if (a->rc)
		return 0;
	p = a->s->base + HDR + (a->pos - a->s->index * a->L->dsize) + RH;
	for (int i = 0; i < a->iovcnt; i++) {
		if (a->iov[i].iov_len)
			memcpy(p, a->iov[i].iov_base, a->iov[i].iov_len);
		p += a->iov[i].iov_len;
	}
	MMDS_CRASH("log.append.payload");
	publish(a->L, a->s, a->pos, (uint32_t)a->len, a->type, 0);
	return 0;
}

static int check_writer(mmds_log *L, size_t len)
{
	if (L == NULL)
		return -EINVAL;
	if (!L->writer)
		return -EACCES;
	if (len > L->max_len)
		return -EMSGSIZE;
	return 0;
}

int mmds_log_appendv(mmds_log *L, uint16_t type, const struct iovec *iov,
		     int iovcnt, uint64_t *lsn)
{
	struct append_op a = { L, iov, iovcnt, 0, type, 0, NULL, 0 };
	int rc;

	if (L == NULL || iovcnt < 0 || (iov == NULL && iovcnt > 0))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len && iov[i].iov_base == NULL)
			return -EINVAL;
		if (iov[i].iov_len > SIZE_MAX - a.len)
			return -EMSGSIZE;
		a.len += iov[i].iov_len;
	}
	rc = check_writer(L, a.len);
	if (rc)
		return rc;
	rc = mmds_guard_run(append_fn, &a);
	/* after a fault the claim stays: recovery turns it into a skip */
	mmds__log_seg_release(L, a.s);
	if (rc)
		return rc;
	if (a.rc)
		return a.rc;
	if (lsn)
		*lsn = a.pos;
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

static int reserve_fn(void *arg)
{
	struct append_op *a = arg;

	a->rc = reserve(a->L, a->len, 0, &a->pos, &a->s);
	return 0;
}

int mmds_log_reserve(mmds_log *L, size_t len, mmds_log_reservation *r)
{
	struct append_op a = { L, NULL, 0, len, 0, 0, NULL, 0 };
	int rc;

	if (L == NULL || r == NULL)
		return -EINVAL;
	rc = check_writer(L, len);
	if (rc == 0)
		rc = mmds_guard_run(reserve_fn, &a);
	if (rc == 0)
		rc = a.rc;
	if (rc) {
		mmds__log_seg_release(L, a.s);
		return rc;
	}
	r->data = a.s->base + HDR + (a.pos - a.s->index * L->dsize) + RH;
	r->lsn = a.pos;
	r->len = (uint32_t)len;
	r->priv_ = a.s; /* keeps its reference until commit or abort */
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
	rc = put(L, s, r->lsn, r->len, type, flags);
	mmds__log_seg_release(L, s);
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
