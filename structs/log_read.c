/* log_read.c - reading the log: by LSN, iterators, following the tail.
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

static uint64_t now_ms(void)
{
	return mmds__mono_ns() / 1000000u;
}

/* Has the writer's retention deleted the segment s maps (its file has no
 * name left)?  The mapping still reads, but its records are gone. */
static int seg_unlinked(const struct seg *s)
{
	struct stat st;

	return fstat(mmds_map_fd(s->map), &st) == 0 && st.st_nlink == 0;
}

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
		rc = mmds__log_seg_open(L, k, 0, &t);
		if (rc == 0) {
			if (*has)
				mmds__log_seg_unmap(s);
			*s = t;
			*has = 1;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
		rc = mmds__log_list_segments(L, &v, &n);
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
/*
 * Whether position p, whose header is empty, lies below a point recorded as
 * durable: the handle's durable LSN (a reader's is the highest checked hint
 * at open), or the checked hint of p's segment now.  Sync makes a range
 * durable only once every record in it is whole, so an empty header there
 * is damage (or a forged file), not a record still to come: without this,
 * every record after it would be unreachable.
 */
static int empty_below_durable(mmds_log *L, const struct seg *s, uint64_t p)
{
	if (p < atomic_load_explicit(&L->durable, memory_order_acquire))
		return 1;
	return !L->writer && p < mmds__log_seg_hint(s);
}

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
		rc = mmds__log_rec_check_guarded(L, s, p, &r, &why);
		if (rc < 0)
			return rc == -1 ? -EBADMSG : rc;
		if (rc == 0)
			return empty_below_durable(L, s, p) ? -EBADMSG : -EAGAIN;
		if (rc == 3) {
			/* in flight; once the writer has gone, abandoned: a
			 * reader never stalls on it, never serves it */
			if (!mmds__log_writer_gone(L))
				return -EAGAIN;
			rc = mmds__log_claim_ok(L, s, p, &r);
			if (rc < 0)
				return rc;
			if (rc == 0)
				return -EBADMSG;
			r.flags = r.flags & REC_PAD ? REC_PAD : REC_SKIP;
		}
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
	/* a writer knows its first LSN; a reader's is the last one it saw
	 * (it only moves up), and a segment retention has deleted since is
	 * found missing below, without listing the directory on every read */
	if (lsn < atomic_load_explicit(&L->first, memory_order_relaxed))
		return -ENOENT;
	pthread_mutex_lock(&L->read_mu);
	if (!L->writer && L->rseg_ok && L->rseg.index == lsn / L->dsize &&
	    seg_unlinked(&L->rseg)) {
		mmds__log_seg_unmap(&L->rseg);
		L->rseg_ok = 0;
	}
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
		mmds__log_seg_unmap(&it->cur);
	if (it->whas)
		mmds__log_seg_unmap(&it->wseg);
	free(it);
}

/* Announce (delta 1, then read seq) or withdraw (delta -1) a sleeping
 * reader in a segment's header page, under the guard: a file truncated
 * under the reader is -EFAULT, not SIGBUS.  A plain load first, so a
 * fault never lands inside the read-modify-write. */
struct waiters_op {
	struct seg_live *live;
	int delta;
	uint32_t seq;
};

static int waiters_fn(void *arg)
{
	struct waiters_op *o = arg;

	(void)atomic_load_explicit(&o->live->waiters, memory_order_relaxed);
	if (o->delta > 0) {
		atomic_fetch_add_explicit(&o->live->waiters, 1, memory_order_seq_cst);
		atomic_thread_fence(memory_order_seq_cst);
		o->seq = atomic_load_explicit(&o->live->seq, memory_order_acquire);
	} else {
		atomic_fetch_sub_explicit(&o->live->waiters, 1, memory_order_seq_cst);
	}
	return 0;
}

int mmds_log_iter_wait(mmds_log_iter *it, int timeout_ms)
{
	struct waiters_op wo = { NULL, 0, 0 };
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
				mmds__log_seg_unmap(&it->wseg);
			it->whas = mmds__log_seg_open(L, it->cur.index, 0, &it->wseg) == 0;
		}
		if (it->has && it->whas)
			live = mmds__log_seg_live_rw(L, &it->wseg);
		if (live == NULL) {
			struct timespec ts = { 0, 1000000L };

			nanosleep(&ts, NULL);
			continue;
		}
		wo.live = live;
		wo.delta = 1;
		if (mmds_guard_run(waiters_fn, &wo) != 0)
			return -EFAULT; /* the header page went under us */
		seq = wo.seq;
		p = it->pos;
		rc = read_at(L, &it->cur, &it->has, &p, NULL, 0, 1);
		if (rc == -EAGAIN) {
			uint64_t left = deadline - now;

			/* the next segment may appear without a wake on this
			 * one when another reader woke first: bound the sleep */
			mmds__futex_wait(&live->seq, seq,
					 (int64_t)(left > 100 ? 100 : left) * 1000000);
		}
		wo.delta = -1;
		if (mmds_guard_run(waiters_fn, &wo) != 0)
			return -EFAULT;
		if (rc != -EAGAIN)
			return 0;
	}
}
