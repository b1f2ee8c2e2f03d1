/* fixup.c - the formats as the fuzz harness sees them (fixup.h).  Offsets
 * and formulas from docs/FORMAT.md, structs/format.[ch] (common header),
 * structs/log.c (record framing), structs/counters_format.h and
 * structs/ring.c.  Native byte order, as the library writes. */
#include "config.h"

#include <stddef.h>
#include <string.h>
#include <xxhash.h>

#include "fixup.h"
#include "format.h"

#define HDR MMDS__FMT_HEADER_SIZE
#define SUM_OFF offsetof(struct mmds__fmt_header, checksum)
#define SALT_OFF offsetof(struct mmds__fmt_header, salt)
#define PARAMS_OFF offsetof(struct mmds__fmt_header, params)

/* log.c: record header word flags and the checksum seed; log_segment.c:
 * the durable hint, its check word and that word's seed. */
#define LOG_RH 16u
#define LOG_DURABLE 256u
#define LOG_DURABLE_CHECK 272u
#define LOG_DURABLE_SEED 0x64757261626c6521ULL
#define LOG_COMMIT 0x8000u
#define LOG_PAD 0x0001u
#define LOG_SKIP 0x0002u
#define LOG_CLAIM 0x4000u

static uint64_t ld64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

void fz_fixup_header(uint8_t *f, size_t len)
{
	uint64_t sum;

	if (len < sizeof(struct mmds__fmt_header))
		return;
	sum = XXH3_64bits(f, SUM_OFF);
	memcpy(f + SUM_OFF, &sum, sizeof(sum));
}

/* ---- log segment ------------------------------------------------------- */

/* params: segment_size, base_lsn, log_id, index (u64 each) */
uint64_t fz_log_declared_size(const uint8_t *f, size_t len)
{
	return len >= PARAMS_OFF + 8 ? ld64(f + PARAMS_OFF) : 0;
}

uint64_t fz_log_base_lsn(const uint8_t *f, size_t len)
{
	return len >= PARAMS_OFF + 16 ? ld64(f + PARAMS_OFF + 8) : 0;
}

static uint64_t log_seed(uint64_t salt, uint64_t lsn, uint64_t w)
{
	uint64_t m = w * 0xC2B2AE3D27D4EB4FULL;

	return salt ^ (lsn * 0x9E3779B97F4A7C15ULL) ^ ((m << 31) | (m >> 33));
}

/* Every 8-byte aligned word that looks like a committed record header gets
 * its checksum recomputed; a record whose checksum was fixed is stepped
 * over, so bytes inside its payload are left alone. */
void fz_fixup_log_segment(uint8_t *f, size_t len)
{
	uint64_t salt, base, ss;
	size_t off = HDR;

	fz_fixup_header(f, len);
	if (len < HDR + LOG_RH)
		return;
	salt = ld64(f + SALT_OFF);
	{
		/* so that a mutated durable hint is believed, and reaches the
		 * recovery behind its check */
		uint64_t d = ld64(f + LOG_DURABLE),
			 check = XXH3_64bits_withSeed(&d, sizeof(d),
						      salt ^ LOG_DURABLE_SEED);

		memcpy(f + LOG_DURABLE_CHECK, &check, sizeof(check));
	}
	base = fz_log_base_lsn(f, len);
	ss = fz_log_declared_size(f, len);
	while (off + LOG_RH <= len) {
		uint64_t w = ld64(f + off), lsn = base + (off - HDR), sum, step;
		uint32_t n = (uint32_t)w;
		uint16_t flags = (uint16_t)(w >> 48);
		size_t hashed = flags & (LOG_PAD | LOG_SKIP) ? 0 : n;

		if ((flags & (LOG_CLAIM | LOG_COMMIT)) == LOG_CLAIM &&
		    !(flags & LOG_PAD) && n <= len - off - LOG_RH &&
		    ld64(f + off + 8) != 0) {
			/* a claim whose writer died: its check word is 0 or
			 * the checksum its commit or its abort (bit 0 of the
			 * word picks which) was storing */
			uint64_t cw = ld64(f + off + 8) & 1
					      ? (uint64_t)n | (uint64_t)(LOG_SKIP | LOG_COMMIT) << 48
					      : (w & 0xffffffffffffULL) | (uint64_t)LOG_COMMIT << 48;

			sum = XXH3_64bits_withSeed(f + off + LOG_RH,
						   (cw >> 48) & LOG_SKIP ? 0 : n,
						   log_seed(salt, lsn, cw));
			memcpy(f + off + 8, &sum, sizeof(sum));
			step = LOG_RH + (((uint64_t)n + 7) & ~(uint64_t)7);
			if (step > len - off)
				break;
			off += (size_t)step;
			continue;
		}
		if (w == 0 || !(flags & LOG_COMMIT) ||
		    hashed > len - off - LOG_RH) {
			off += 8;
			continue;
		}
		sum = XXH3_64bits_withSeed(f + off + LOG_RH, hashed,
					   log_seed(salt, lsn, w));
		memcpy(f + off + 8, &sum, sizeof(sum));
		if (flags & LOG_PAD) {
			if (ss > off && n == ss - off - LOG_RH)
				break; /* a well-formed PAD ends the segment */
			off += 8;
			continue;
		}
		step = LOG_RH + (((uint64_t)n + 7) & ~(uint64_t)7);
		if (step > len - off)
			break;
		off += (size_t)step;
	}
}

/* ---- counters ---------------------------------------------------------- */

/* params: capacity, record_size, stride, label_max, help_max, grace_ms
 * (u32), meta_off, values_off, file_size (u64) */
uint64_t fz_counters_declared_size(const uint8_t *f, size_t len)
{
	return len >= PARAMS_OFF + 48 ? ld64(f + PARAMS_OFF + 40) : 0;
}

/* The records and values carry no checksum; only the header does. */
void fz_fixup_counters(uint8_t *f, size_t len)
{
	fz_fixup_header(f, len);
}

/* ---- ring -------------------------------------------------------------- */

/* params: capacity (u64), mode, max_message (u32); the file is the header
 * page, the control page, then capacity bytes of data. */
uint64_t fz_ring_declared_size(const uint8_t *f, size_t len)
{
	uint64_t cap;

	if (len < PARAMS_OFF + 16)
		return 0;
	cap = ld64(f + PARAMS_OFF);
	return cap > UINT64_MAX - 2 * HDR ? 0 : 2 * HDR + cap;
}

/* The control block and the records carry no checksum. */
void fz_fixup_ring(uint8_t *f, size_t len)
{
	fz_fixup_header(f, len);
}
