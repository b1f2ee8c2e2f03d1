/*
 * log_inv.h - what a log must look like after recovery from a kill at any
 * moment, shared by the crash-point test (test_log_crash.c) and the random
 * kill loop (torture_log.c).
 *
 * One writer process appends record after record: record i has a length,
 * a type and a payload all derived from i (the payload starts with i), so
 * every served byte can be checked.  The writer reports each append that
 * returned (its LSN) in a shared page before it appends the next.  After a
 * kill, log_inv_check() recovers the log and checks: every acknowledged
 * record at or above the oldest kept LSN is served, intact, at its LSN;
 * nothing else is served but the one append that may have been under way;
 * iteration reaches the tail; mmds_log_verify() says 0; the directory holds
 * the lock file and contiguous segments only; a new append is readable.
 */
#ifndef LOG_INV_H
#define LOG_INV_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmds/log.h>

#define LOG_INV_SEG ((uint64_t)16384)
#define LOG_INV_DSIZE (LOG_INV_SEG - 4096)
#define LOG_INV_CAP 65536u /* LSNs remembered: a ring, retention keeps fewer */

struct log_inv {
	_Atomic uint64_t acked;      /* records whose append returned */
	uint64_t lsn[LOG_INV_CAP];   /* LSN of record i at i % LOG_INV_CAP */
	uint64_t cuts;               /* recoveries that cut a torn tail */
	uint64_t segs_removed;       /* segment files recoveries deleted */
};

static inline uint32_t log_inv_len(uint64_t i)
{
	return 8 + (uint32_t)((i * 37) % 700);
}

static inline void log_inv_fill(unsigned char *buf, uint32_t len, uint64_t i)
{
	uint64_t x = i * 0x9E3779B97F4A7C15ULL + 1;

	for (uint32_t k = 0; k < len; k++) {
		x ^= x >> 29;
		x *= 0xBF58476D1CE4E5B9ULL;
		buf[k] = (unsigned char)(x >> 56);
	}
	memcpy(buf, &i, 8);
}

/* Append the next record and acknowledge it (after the call returned). */
static inline int log_inv_append(mmds_log *l, struct log_inv *sh)
{
	unsigned char buf[800];
	uint64_t i = atomic_load(&sh->acked), lsn;
	uint32_t len = log_inv_len(i);
	int rc;

	log_inv_fill(buf, len, i);
	rc = mmds_log_append(l, (uint16_t)i, buf, len, &lsn);
	if (rc == 0) {
		sh->lsn[i % LOG_INV_CAP] = lsn;
		atomic_store(&sh->acked, i + 1);
	}
	return rc;
}

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static inline int log_inv_fail(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* The directory: "lock" and segments only, contiguous, none past the
 * tail's segment; besides, the open writer's spare (made ahead by its
 * pretoucher, under a temporary name) for the segment after the tail's
 * and nothing further ahead. */
static inline int log_inv_files(const char *dir, uint64_t first, uint64_t tail,
			 char *why, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t lo = UINT64_MAX, hi = 0, n = 0;
	char spare[64];

	if (d == NULL)
		return log_inv_fail(why, cap, "opendir: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		unsigned long long base;
		char tail_s[8];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "lock") == 0)
			continue;
		snprintf(spare, sizeof(spare), ".tmp-%ld-ahead-%020llu.seg",
			 (long)getpid(),
			 (unsigned long long)(tail / LOG_INV_DSIZE + 1) * LOG_INV_DSIZE);
		if (strcmp(e->d_name, spare) == 0)
			continue;
		if (strlen(e->d_name) != 24 ||
		    sscanf(e->d_name, "%20llu%7s", &base, tail_s) != 2 ||
		    strcmp(tail_s, ".seg") != 0) {
			closedir(d);
			return log_inv_fail(why, cap, "stray file %s", e->d_name);
		}
		base /= LOG_INV_DSIZE;
		lo = base < lo ? base : lo;
		hi = base > hi ? base : hi;
		n++;
	}
	closedir(d);
	if (n == 0 || hi - lo + 1 != n)
		return log_inv_fail(why, cap, "%llu segments, %llu..%llu: not contiguous",
				    (unsigned long long)n, (unsigned long long)lo,
				    (unsigned long long)hi);
	if (lo != first / LOG_INV_DSIZE || hi > tail / LOG_INV_DSIZE)
		return log_inv_fail(why, cap, "segments %llu..%llu for first %llu tail %llu",
				    (unsigned long long)lo, (unsigned long long)hi,
				    (unsigned long long)first, (unsigned long long)tail);
	return 0;
}

/*
 * Recover dir and check everything.  The record that was under way when
 * the writer died, if recovery kept it, becomes acknowledged; so does the
 * new record appended at the end.  0, or -1 with the reason in why.
 */
static inline int log_inv_check(const char *dir, struct log_inv *sh, char *why,
			 size_t cap)
{
	mmds_log *l = NULL;
	mmds_log_iter *it = NULL;
	mmds_log_record r;
	mmds_log_report rep;
	unsigned char want[800];
	uint64_t acked = atomic_load(&sh->acked), first, tail, next = UINT64_MAX;
	uint64_t served = 0, newlsn;
	int bad = 0, rc = mmds_log_open(&l, dir,
					&(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							  .segment_size = LOG_INV_SEG });

	if (rc)
		return log_inv_fail(why, cap, "recovery: %d (%s)", rc, mmds_strerror(rc));
	first = mmds_log_first_lsn(l);
	tail = mmds_log_tail_lsn(l);
	if (mmds_log_get_report(l, &rep) == 0) {
		sh->cuts += rep.bytes_cut > 0;
		sh->segs_removed += rep.segments_removed;
	}
	/* the oldest acknowledged record still kept */
	if (acked > 0 && sh->lsn[(acked - 1) % LOG_INV_CAP] >= first) {
		next = acked - 1;
		while (next > 0 && acked - next < LOG_INV_CAP &&
		       sh->lsn[(next - 1) % LOG_INV_CAP] >= first)
			next--;
	}
	rc = mmds_log_iter_open(&it, l, MMDS_LOG_START);
	while (!bad && rc == 0 && (rc = mmds_log_iter_next(it, &r)) == 0) {
		uint64_t i;

		if (r.len < 8) {
			bad = log_inv_fail(why, cap, "record at %llu: length %u",
					  (unsigned long long)r.lsn, r.len);
			break;
		}
		memcpy(&i, r.data, 8);
		if (next == UINT64_MAX)
			next = i; /* no acknowledged record kept: the in-flight one */
		if (i != next || i > acked || r.len != log_inv_len(i) ||
		    r.type != (uint16_t)i) {
			bad = log_inv_fail(why, cap,
					  "record at %llu: index %llu len %u type %u, want index %llu (acked %llu)",
					  (unsigned long long)r.lsn, (unsigned long long)i,
					  r.len, r.type, (unsigned long long)next,
					  (unsigned long long)acked);
			break;
		}
		if (i < acked && sh->lsn[i % LOG_INV_CAP] != r.lsn) {
			bad = log_inv_fail(why, cap, "record %llu at %llu, appended at %llu",
					  (unsigned long long)i, (unsigned long long)r.lsn,
					  (unsigned long long)sh->lsn[i % LOG_INV_CAP]);
			break;
		}
		log_inv_fill(want, r.len, i);
		if (memcmp(r.data, want, r.len) != 0) {
			bad = log_inv_fail(why, cap, "record %llu: payload differs",
					  (unsigned long long)i);
			break;
		}
		if (i == acked) { /* the append under way: kept whole */
			sh->lsn[i % LOG_INV_CAP] = r.lsn;
			atomic_store(&sh->acked, ++acked);
		}
		next = i + 1;
		served++;
	}
	if (bad) {
		rc = -1;
	} else if (rc == -EAGAIN) {
		rc = 0;
		if (next != UINT64_MAX && next < acked)
			rc = log_inv_fail(why, cap, "records %llu..%llu acknowledged, lost",
					  (unsigned long long)next,
					  (unsigned long long)acked - 1);
		else if (mmds_log_iter_lsn(it) != tail)
			rc = log_inv_fail(why, cap, "iteration ends at %llu, tail %llu",
					  (unsigned long long)mmds_log_iter_lsn(it),
					  (unsigned long long)tail);
	} else {
		rc = log_inv_fail(why, cap, "iteration: %d (%s)", rc, mmds_strerror(rc));
	}
	mmds_log_iter_close(it);
	if (rc == 0 && (rc = mmds_log_verify(dir, &rep)) != 0)
		rc = log_inv_fail(why, cap, "verify: %d (%s), reason %s at %llu", rc,
				  mmds_strerror(rc), mmds_log_cut_name(rep.reason),
				  (unsigned long long)rep.bad_lsn);
	if (rc == 0 && rep.records_kept != served)
		rc = log_inv_fail(why, cap, "verify counts %llu records, iteration %llu",
				  (unsigned long long)rep.records_kept,
				  (unsigned long long)served);
	if (rc == 0)
		rc = log_inv_files(dir, first, tail, why, cap);
	if (rc == 0) {
		uint64_t i = acked;
		int64_t n;

		rc = log_inv_append(l, sh);
		newlsn = sh->lsn[i % LOG_INV_CAP];
		if (rc)
			rc = log_inv_fail(why, cap, "append after recovery: %d (%s)", rc,
					  mmds_strerror(rc));
		else if ((n = mmds_log_read(l, newlsn, want, sizeof(want), &r)) !=
			 (int64_t)log_inv_len(i))
			rc = log_inv_fail(why, cap, "read of the new record: %lld",
					  (long long)n);
		else if (memcmp(want, &i, 8) != 0)
			rc = log_inv_fail(why, cap, "new record reads back wrong");
	}
	if (mmds_log_close(l) != 0 && rc == 0)
		rc = log_inv_fail(why, cap, "close failed");
	return rc;
}

/* ---- several appending threads -------------------------------------------
 *
 * Threads 0..n-1 of one writer process append records (thread, seq, fill)
 * of 16..315 bytes; thread t acknowledges seq in acked[t] after its append
 * (or reserve + commit, for odd threads) returned.  log_mt_check() recovers
 * and checks that every thread's acknowledged records are all there, intact
 * and in order, and nothing else but at most one in-flight record per
 * thread; then it drops the older segments and notes where each thread's
 * records now start (floor), so the next writer can go on.
 */
#define LOG_MT_MAX 16

struct log_mt {
	_Atomic uint64_t acked[LOG_MT_MAX]; /* next seq of each thread */
	uint64_t floor[LOG_MT_MAX];         /* oldest seq kept after retention */
	_Atomic int started;                /* the writer opened the log */
	unsigned threads;
	uint64_t lost;                      /* acknowledged records missing */
	uint64_t abandoned;                 /* reported by recoveries */
	uint64_t inflight_kept;             /* unacknowledged records kept */
	uint64_t records;                   /* acknowledged in all */
};

static inline uint32_t log_mt_len(unsigned t, uint64_t seq)
{
	return 16 + (uint32_t)((seq * 37 + t * 11) % 300);
}

static inline void log_mt_fill(unsigned char *buf, uint32_t len, unsigned t,
			       uint64_t seq)
{
	uint64_t tt = t;

	log_inv_fill(buf, len, seq * LOG_MT_MAX + t);
	memcpy(buf, &tt, 8);
	memcpy(buf + 8, &seq, 8);
}

/* Thread t appends its next record (reserve + commit for odd t) and
 * acknowledges it. */
static inline int log_mt_append(mmds_log *l, struct log_mt *sh, unsigned t)
{
	unsigned char buf[320];
	uint64_t seq = atomic_load(&sh->acked[t]);
	uint32_t len = log_mt_len(t, seq);
	int rc;

	log_mt_fill(buf, len, t, seq);
	if (t % 2 == 0) {
		rc = mmds_log_append(l, (uint16_t)t, buf, len, NULL);
	} else {
		mmds_log_reservation r;

		rc = mmds_log_reserve(l, len, &r);
		if (rc == 0) {
			memcpy(r.data, buf, len);
			rc = mmds_log_commit(l, &r, (uint16_t)t);
		}
	}
	if (rc == 0)
		atomic_store(&sh->acked[t], seq + 1);
	return rc;
}

static inline int log_mt_scan(mmds_log *l, struct log_mt *sh, uint64_t *last,
		       int *seen, char *why, size_t cap)
{
	mmds_log_iter *it = NULL;
	mmds_log_record r;
	unsigned char want[320];
	int rc = mmds_log_iter_open(&it, l, MMDS_LOG_START);

	for (unsigned t = 0; t < LOG_MT_MAX; t++)
		seen[t] = 0;
	while (rc == 0 && (rc = mmds_log_iter_next(it, &r)) == 0) {
		uint64_t t, seq;

		if (r.len < 16) {
			rc = log_inv_fail(why, cap, "record at %llu: length %u",
					  (unsigned long long)r.lsn, r.len);
			break;
		}
		memcpy(&t, r.data, 8);
		memcpy(&seq, (const unsigned char *)r.data + 8, 8);
		if (t >= sh->threads || r.type != t || r.len != log_mt_len((unsigned)t, seq)) {
			rc = log_inv_fail(why, cap, "record at %llu: thread %llu type %u len %u",
					  (unsigned long long)r.lsn, (unsigned long long)t,
					  r.type, r.len);
			break;
		}
		if (seq != (seen[t] ? last[t] + 1 : sh->floor[t]) ||
		    seq > atomic_load(&sh->acked[t])) {
			rc = log_inv_fail(why, cap,
					  "thread %llu: seq %llu at %llu after %llu (floor %llu, acked %llu)",
					  (unsigned long long)t, (unsigned long long)seq,
					  (unsigned long long)r.lsn,
					  seen[t] ? (unsigned long long)last[t] : 0ULL,
					  (unsigned long long)sh->floor[t],
					  (unsigned long long)atomic_load(&sh->acked[t]));
			break;
		}
		log_mt_fill(want, r.len, (unsigned)t, seq);
		if (memcmp(r.data, want, r.len) != 0) {
			rc = log_inv_fail(why, cap, "thread %llu seq %llu: payload differs",
					  (unsigned long long)t, (unsigned long long)seq);
			break;
		}
		seen[t] = 1;
		last[t] = seq;
	}
	mmds_log_iter_close(it);
	return rc == -EAGAIN ? 0 : rc < 0 && rc != -1 ? log_inv_fail(why, cap, "iteration: %d (%s)", rc, mmds_strerror(rc)) : rc;
}

/* Recover and check; with lost_ok, count lost records instead of failing
 * (to measure them).  0, or -1 with the reason in why. */
static inline int log_mt_check(const char *dir, struct log_mt *sh, uint64_t seg_size,
			int lost_ok, char *why, size_t cap)
{
	mmds_log *l = NULL;
	mmds_log_report rep;
	uint64_t last[LOG_MT_MAX];
	int seen[LOG_MT_MAX];
	int rc = mmds_log_open(&l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							  .segment_size = seg_size });

	if (rc)
		return log_inv_fail(why, cap, "recovery: %d (%s)", rc, mmds_strerror(rc));
	if (mmds_log_get_report(l, &rep) == 0)
		sh->abandoned += rep.abandoned;
	rc = log_mt_scan(l, sh, last, seen, why, cap);
	for (unsigned t = 0; rc == 0 && t < sh->threads; t++) {
		uint64_t ack = atomic_load(&sh->acked[t]);
		uint64_t next = seen[t] ? last[t] + 1 : sh->floor[t];

		if (next < ack) {
			sh->lost += ack - next;
			if (!lost_ok)
				rc = log_inv_fail(why, cap,
						  "thread %u: records %llu..%llu acknowledged, lost",
						  t, (unsigned long long)next,
						  (unsigned long long)ack - 1);
		}
		if (next > ack)
			sh->inflight_kept++;
		atomic_store(&sh->acked[t], next);
	}
	if (rc == 0) {
		mmds_log_report vr;

		if ((rc = mmds_log_verify(dir, &vr)) != 0)
			rc = log_inv_fail(why, cap, "verify: %d (%s), reason %s at %llu", rc,
					  mmds_strerror(rc), mmds_log_cut_name(vr.reason),
					  (unsigned long long)vr.bad_lsn);
	}
	/* keep the last segment only; the next writer starts after it */
	if (rc == 0 && mmds_log_retain(l, mmds_log_tail_lsn(l)) < 0)
		rc = log_inv_fail(why, cap, "retain failed");
	if (rc == 0) {
		/* where each thread's records start now: its first kept one,
		 * or its next one if none is kept */
		for (unsigned t = 0; t < sh->threads; t++)
			sh->floor[t] = UINT64_MAX;
		mmds_log_iter *it = NULL;
		mmds_log_record r;

		rc = mmds_log_iter_open(&it, l, MMDS_LOG_START);
		while (rc == 0 && mmds_log_iter_next(it, &r) == 0) {
			uint64_t t, seq;

			memcpy(&t, r.data, 8);
			memcpy(&seq, (const unsigned char *)r.data + 8, 8);
			if (sh->floor[t] == UINT64_MAX)
				sh->floor[t] = seq;
		}
		mmds_log_iter_close(it);
		for (unsigned t = 0; t < sh->threads; t++)
			if (sh->floor[t] == UINT64_MAX)
				sh->floor[t] = atomic_load(&sh->acked[t]);
	}
	if (mmds_log_close(l) != 0 && rc == 0)
		rc = log_inv_fail(why, cap, "close failed");
	return rc;
}

#endif /* LOG_INV_H */
