/* log_recover.c - record validation, the writer's recovery, verify.
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
#include "log_internal.h"

/* Check the record at lsn in s.  1: valid (r filled); 0: nothing there;
 * 3: CLAIMED (r filled; its check word is not read: a thread may be
 * writing it); -1: invalid (*why); 2: the segment ends here (fewer than RH
 * bytes left).  Touches only bytes below s->fsize. */
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
	if (flags & REC_CLAIM && s->version >= LOG_VERSION_CLAIM) {
		if (flags & ~(REC_CLAIM | REC_PAD))
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
		if (off + RH + (flags & REC_PAD ? 0 : r->len) > s->fsize) {
			*why = MMDS_LOG_CUT_SHORT_FILE;
			return -1;
		}
		return 3;
	}
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

/* The check word of a claim: zero (killed before its commit stored the
 * checksum), or the checksum its commit (with the type the claim names) or
 * abort was storing (killed between that store and the header's). */
static int claim_ok_raw(const mmds_log *L, const struct seg *s, uint64_t lsn,
			const struct rec *r)
{
	uint64_t off = HDR + (lsn - s->index * L->dsize), w, sum;
	uint16_t flags = r->flags & REC_PAD;

	memcpy(&w, s->base + off, sizeof(w));
	memcpy(&sum, s->base + off + 8, sizeof(sum));
	if (sum == 0)
		return 1;
	w = (w & 0xffffffffffffULL) | (uint64_t)(flags | REC_COMMIT) << 48;
	if (sum == rec_sum(s->salt, lsn, w, s->base + off + RH, flags ? 0 : r->len))
		return 1;
	w = (uint64_t)r->len | (uint64_t)(REC_SKIP | REC_COMMIT) << 48;
	return !flags && sum == rec_sum(s->salt, lsn, w, "", 0);
}

struct claim_arg {
	const mmds_log *L;
	const struct seg *s;
	uint64_t lsn;
	const struct rec *r;
};

static int claim_fn(void *arg)
{
	struct claim_arg *a = arg;

	return claim_ok_raw(a->L, a->s, a->lsn, a->r);
}

int mmds__log_claim_ok(const mmds_log *L, const struct seg *s, uint64_t lsn,
		       const struct rec *r)
{
	struct claim_arg a = { L, s, lsn, r };

	return mmds_guard_run(claim_fn, &a);
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
int mmds__log_rec_check_guarded(const mmds_log *L, const struct seg *s,
				uint64_t lsn, struct rec *r, unsigned *why)
{
	struct guarded_check g = { L, s, lsn, r, why };
	int rc = mmds_guard_run(guarded_check_fn, &g);

	return rc < 0 ? rc : rc - 10;
}

static const unsigned char zeros[65536];

/* The next stretch [*from, *to) of fd's bytes in [off, end) that is not a
 * hole.  Holes read as zeros, so a scan for non-zero bytes skips them: the
 * tail of a large segment is mostly never-written space, and reading it
 * would fill the page cache (or tmpfs) with pages of zeros.  0 when only
 * holes are left; where the file system cannot tell, all of [off, end). */
static int data_after(int fd, uint64_t off, uint64_t end, uint64_t *from,
		      uint64_t *to)
{
	off_t d, h;

	if (off >= end)
		return 0;
	d = lseek(fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO)
			return 0;
		*from = off;
		*to = end;
		return 1;
	}
	if ((uint64_t)d >= end)
		return 0;
	h = lseek(fd, d, SEEK_HOLE);
	*from = (uint64_t)d;
	*to = h < 0 || (uint64_t)h > end ? end : (uint64_t)h;
	return 1;
}

/* Does fd hold a non-zero byte in [off, end)?  1, 0 or a negative errno. */
static int nonzero_in(int fd, uint64_t off, uint64_t end)
{
	unsigned char buf[sizeof(zeros)];
	uint64_t from, to;

	while (data_after(fd, off, end, &from, &to)) {
		for (off = from; off < to;) {
			size_t n = to - off < sizeof(buf) ? (size_t)(to - off) : sizeof(buf);
			ssize_t got = pread(fd, buf, n, (off_t)off);

			if (got < 0)
				return -errno;
			if (got == 0)
				return 0;
			if (memcmp(buf, zeros, (size_t)got) != 0)
				return 1;
			off += (uint64_t)got;
		}
	}
	return 0;
}

/* Zero every non-zero byte of s from lsn to the segment's end, through the
 * guarded accessor; adds the bytes cut (up to the last non-zero one) to
 * *cut.  0 or an error. */
static int zero_tail(mmds_log *L, struct seg *s, uint64_t lsn, uint64_t *cut)
{
	uint64_t off = HDR + (lsn - s->index * L->dsize), start = off, last = off;
	uint64_t from, to;
	unsigned char buf[sizeof(zeros)];
	int fd = mmds_map_fd(s->map), rc;

	while (data_after(fd, off, s->fsize, &from, &to)) {
		for (off = from; off < to;) {
			size_t n = to - off < sizeof(buf) ? (size_t)(to - off)
							  : sizeof(buf);
			ssize_t got = pread(fd, buf, n, (off_t)off);
			size_t i;

			if (got < 0)
				return -errno;
			if (got == 0) {
				to = off = s->fsize; /* shorter than mapped */
				break;
			}
			/* whole zero pages cost one memcmp, not a loop per byte */
			for (i = (size_t)got; i >= 4096 &&
					      memcmp(buf + i - 4096, zeros, 4096) == 0;
			     i -= 4096)
				;
			for (; i > 0 && buf[i - 1] == 0; i--)
				;
			if (i) {
				rc = mmds_map_write(s->map, off, zeros, i);
				if (rc)
					return rc;
				last = off + i;
			}
			off += (uint64_t)got;
		}
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

		if (mmds__log_seg_open(L, idx[i], 0, &t) != 0)
			continue;
		ok = valid_in(L, &t, idx[i] * L->dsize, &budget);
		mmds__log_seg_unmap(&t);
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

/* The recovery point: the highest durable word a check word vouches for
 * in any valid segment of idx[0..n) (all of them, those past a gap too:
 * older segments hold older values), or UINT64_MAX when none does (then
 * no byte counts as past the durable point: recovery stays strict). */
static uint64_t recovery_point(mmds_log *L, const uint64_t *idx, size_t n)
{
	uint64_t rp = UINT64_MAX, v;

	for (size_t i = 0; i < n; i++)
		if (mmds__log_seg_hint_at(L, idx[i], &v) && (rp == UINT64_MAX || v > rp))
			rp = v;
	return rp;
}

/* Put segment index in the table (refs 1) unless it is there. */
static int table_map(mmds_log *L, uint64_t index)
{
	struct seg *s;
	int rc;

	if (mmds__log_seg_get(L, index))
		return 0;
	s = mmds__log_seg_new(L);
	if (s == NULL)
		return -ENOMEM;
	rc = mmds__log_seg_open(L, index, 1, s);
	if (rc == 0)
		rc = mmds__log_seg_set(L, index, s);
	if (rc) {
		mmds__log_seg_unmap(s);
		mmds__log_seg_put(L, s);
		return rc == -EFBIG ? -EBADMSG : rc;
	}
	atomic_store_explicit(&s->refs, 1, memory_order_release);
	return 0;
}

int mmds__log_recover(mmds_log *L, const uint64_t *idx, size_t n)
{
	mmds_log_report *rep = &L->report;
	uint64_t hint = 0, d, pos, start, cut = UINT64_MAX, rp;
	size_t good = n, ci = 0, lo;
	int rc, rp_seen = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t fsize;

		if (i > 0 && idx[i] != idx[i - 1] + 1) {
			good = i;
			break;
		}
		rc = mmds__log_seg_check(L, idx[i], &fsize, &d, NULL);
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
			if (mmds__log_seg_check(L, idx[i], NULL, NULL, NULL) == 0)
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
			rc = mmds__log_delete_segment(L, idx[i], &rep->bytes_cut);
			if (rc)
				return rc;
			rep->segments_removed++;
		}
		n = good;
	}
	L->idx0 = idx[0];
	atomic_store_explicit(&L->first, idx[0] * L->dsize, memory_order_relaxed);
	/* The window (log_internal.h): the newest segments go in the table;
	 * an older one is mapped only while the scan is in it, or on demand
	 * (mmds__log_seg_acquire()), so that a log of any number of segments
	 * opens with a bounded number of descriptors. */
	lo = n > LOG_WINDOW + 1 ? n - (LOG_WINDOW + 1) : 0;
	L->win_lo = idx[lo];
	for (size_t i = lo; i < n; i++) {
		rc = table_map(L, idx[i]);
		if (rc)
			return rc;
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
		struct seg *s;

		if (idx[i] < start)
			continue;
		/* in the table while the scan is in it: a failure below
		 * leaves it there, for the close to unmap */
		rc = table_map(L, idx[i]);
		if (rc)
			return rc;
		s = mmds__log_seg_get(L, idx[i]);
		rep->segments_scanned++;
		for (;;) {
			struct rec r;
			unsigned why = 0;
			int c = mmds__log_rec_check_guarded(L, s, pos, &r, &why);

			if (pos == rp)
				rp_seen = 1;
			if (c < -1)
				return c;
			if (c == 2) {
				pos = (idx[i] + 1) * L->dsize;
				break;
			}
			if (c == 3) {
				/* a reservation its thread never finished: its
				 * extent is known, the records after it stay */
				c = mmds__log_claim_ok(L, s, pos, &r);
				if (c < 0)
					return c;
				if (c == 1) {
					c = mmds__log_seal_abandoned(L, s, pos, &r);
					if (c)
						return c;
					MMDS_CRASH("log.recover.sealed");
					rep->abandoned++;
					pos += r.stride;
					if (r.flags & REC_PAD)
						break;
					continue;
				}
				c = -1;
				why = MMDS_LOG_CUT_BAD_CHECKSUM;
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
				int beyond;

				rep->reason = why;
				rep->corrupt = valid_after(L, s, pos, idx, n, i, 1);
				beyond = rep->corrupt && rp_seen && pos >= rp;
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
			/* below a point recorded as durable nothing may be
			 * missing or bad: that is damage, never a torn tail */
			if (pos < hint) {
				rep->corrupt = 1;
				if (L->recovery == MMDS_LOG_RECOVER_REFUSE)
					return -EBADMSG;
			}
			break;
		}
		/* scanned whole: out of the window again */
		if (cut == UINT64_MAX && i < lo) {
			mmds__log_seg_set(L, idx[i], NULL);
			mmds__log_seg_release(L, s);
		}
	}
	if (cut != UINT64_MAX) {
		struct seg *s = mmds__log_seg_get(L, idx[ci]);
		int was_short = s->fsize < L->seg_size;
		uint64_t zeroed = 0;

		/* later segments first (newest first, so a crash in between
		 * leaves no gap): a crash after this finds the same cut */
		for (size_t i = n; i-- > ci + 1;) {
			struct seg *t = mmds__log_seg_get(L, idx[i]);

			MMDS_CRASH("log.recover.delete");
			mmds__log_seg_set(L, idx[i], NULL);
			mmds__log_seg_release(L, t);
			rc = mmds__log_delete_segment(L, idx[i], &rep->bytes_cut);
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
	/* the segments kept: the table has those from win_lo on (the cut one
	 * among them), older ones are mapped on demand */
	if (cut != UINT64_MAX && ci < lo)
		L->win_lo = idx[ci];
	for (size_t i = 0; i < (cut != UINT64_MAX ? ci + 1 : n); i++) {
		struct seg *t = mmds__log_seg_acquire(L, idx[i]);

		/* made durable at once: after a power loss, an old marker
		 * must not vouch for bytes written since (older versions of the
		 * library trust it) */
		rc = 0;
		if (t && atomic_load_explicit(&t->live->clean_end, memory_order_relaxed)) {
			rc = mmds__log_store64_guarded(&t->live->clean_end, 0);
			if (rc == 0)
				rc = mmds_map_sync_range(t->map, 0, HDR, MMDS_SYNC_DURABLE);
		}
		mmds__log_seg_release(L, t);
		if (rc)
			return rc;
	}
	rep->end_lsn = pos;
	/* the newest segment left: later ones went with a cut */
	atomic_store_explicit(&L->active,
			      mmds__log_seg_get(L, idx[cut != UINT64_MAX ? ci : n - 1]),
			      memory_order_release);
	atomic_store_explicit(&L->tail, pos, memory_order_release);
	atomic_store_explicit(&L->pub, pos, memory_order_relaxed);
	d = hint < pos ? hint : pos;
	if (d < idx[0] * L->dsize)
		d = idx[0] * L->dsize;
	atomic_store_explicit(&L->durable, d, memory_order_release);
	/* A hint beyond what recovery found (forged, or from before a cut)
	 * would make readers take the real end for a missing record. */
	for (size_t i = 0; i < (cut != UINT64_MAX ? ci + 1 : n); i++) {
		struct seg *t = mmds__log_seg_acquire(L, idx[i]);

		rc = 0;
		if (t && mmds__log_seg_hint(t) > d) {
			rc = mmds__log_store_hint(t, d);
			if (rc == 0)
				rc = mmds_map_sync_range(t->map, 0, HDR, MMDS_SYNC_DURABLE);
		}
		mmds__log_seg_release(L, t);
		if (rc)
			return rc;
	}
	if (rep->segments_removed && fsync(L->dirfd) != 0)
		return -errno;
	return 0;
}

/* Has retention dropped segment index (the oldest one left is later)? */
static int dropped(mmds_log *L, uint64_t index)
{
	uint64_t *v;
	size_t n;
	int rc = mmds__log_list_segments(L, &v, &n) == 0 && (n == 0 || v[0] > index);

	free(v);
	return rc;
}

/* The base LSN of the oldest segment file in dir, by its name: 0 and *base,
 * or -ENOENT when there is none. */
static int oldest_segment(const char *dir, uint64_t *base)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = -ENOENT;
	uint64_t b;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL)
		if (mmds__log_seg_name_base(e->d_name, &b) && (rc || b < *base)) {
			*base = b;
			rc = 0;
		}
	closedir(d);
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

	if (rc == -EBADMSG && oldest_segment(dir, &r.bad_segment) == 0) {
		/* the oldest segment's header (which gives the log its
		 * parameters) or a segment's name is bad: say where it starts */
		r.reason = MMDS_LOG_CUT_BAD_SEGMENT;
		r.bad_lsn = r.bad_segment;
		r.corrupt = 1;
		if (rep)
			*rep = r;
		return rc;
	}
	if (rc == 0)
		rc = mmds__log_list_segments(L, &v, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct seg s;
		uint64_t pos = v[i] * L->dsize;

		if (i > 0 && v[i] != v[i - 1] + 1) {
			r.reason = MMDS_LOG_CUT_BAD_SEGMENT;
			r.bad_segment = r.bad_lsn = (v[i - 1] + 1) * L->dsize;
			r.corrupt = 1;
			break;
		}
		rc = mmds__log_seg_open(L, v[i], 0, &s);
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
			int c = mmds__log_rec_check_guarded(L, &s, pos, &rr, &why);

			if (c == 3) {
				/* in flight while the writer runs; abandoned (and
				 * skipped) once it has gone */
				if (mmds__log_writer_gone(L)) {
					c = mmds__log_claim_ok(L, &s, pos, &rr);
					if (c < 0) {
						rc = c;
						stop = 1;
						break;
					}
					if (c == 0) {
						c = -1;
						why = MMDS_LOG_CUT_BAD_CHECKSUM;
					} else {
						r.abandoned++;
					}
				}
				if (c != -1) {
					if (rr.flags & REC_PAD) {
						pos = (v[i] + 1) * L->dsize;
						break;
					}
					pos += rr.stride;
					continue;
				}
			}
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
			    mmds__log_rec_check_guarded(L, &s, pos, &rr, &why) != 0) {
				/* a live writer published it meanwhile and went on
				 * into the next segment: walk on */
				r.corrupt = 0;
				r.reason = MMDS_LOG_CUT_NONE;
				stop = 0;
				continue;
			}
			if (c == 0 && !r.corrupt) {
				/* a clean tail unless bytes follow (whole words:
				 * a short file's last few bytes hold no record) */
				uint64_t off = r.bad_offset;
				int dirty = off + 8 <= s.fsize &&
					    nonzero_in(mmds_map_fd(s.map), off,
						       off + ((s.fsize - off) & ~(uint64_t)7)) != 0;

				if (!dirty)
					r.reason = MMDS_LOG_CUT_NONE;
			}
			break;
		}
		mmds__log_seg_unmap(&s);
		r.end_lsn = pos;
		if (stop)
			break;
	}
	/* the log ends below a point recorded as durable: records are gone */
	if (rc == 0 && stop && !r.corrupt &&
	    r.end_lsn < atomic_load_explicit(&L->durable, memory_order_relaxed)) {
		if (r.reason == MMDS_LOG_CUT_NONE)
			r.reason = MMDS_LOG_CUT_UNFINISHED;
		r.corrupt = 1;
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
