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
static int log_inv_fail(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, cap, fmt, ap);
	va_end(ap);
	return -1;
}

/* The directory: "lock" and segments only, contiguous, none past the
 * tail's segment. */
static int log_inv_files(const char *dir, uint64_t first, uint64_t tail,
			 char *why, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t lo = UINT64_MAX, hi = 0, n = 0;

	if (d == NULL)
		return log_inv_fail(why, cap, "opendir: %s", strerror(errno));
	while ((e = readdir(d)) != NULL) {
		unsigned long long base;
		char tail_s[8];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
		    strcmp(e->d_name, "lock") == 0)
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
static int log_inv_check(const char *dir, struct log_inv *sh, char *why,
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

#endif /* LOG_INV_H */
