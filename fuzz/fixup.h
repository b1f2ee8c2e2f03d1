/* fixup.h - everything the fuzz harness knows about the file formats
 * (fixup.c): where each format declares its size, and how to recompute
 * the checksums it requires, so that mutated bytes reach the parsing behind
 * them.  When a format changes (docs/FORMAT.md), this is the one file to
 * adapt. */
#ifndef MMDS_FUZZ_FIXUP_H
#define MMDS_FUZZ_FIXUP_H

#include <stddef.h>
#include <stdint.h>

/* The file size the header of a log segment, a counters file or a ring
 * declares, or 0 when the bytes do not say. */
uint64_t fz_log_declared_size(const uint8_t *f, size_t len);
uint64_t fz_counters_declared_size(const uint8_t *f, size_t len);
uint64_t fz_ring_declared_size(const uint8_t *f, size_t len);
/* The base LSN a log segment's header claims (its file name), 0 if short. */
uint64_t fz_log_base_lsn(const uint8_t *f, size_t len);

/* Recompute the checksums of a whole file image in place: the common
 * header's xxh3 (all three); for a log segment also the durable hint's
 * check word and every record's checksum. */
void fz_fixup_header(uint8_t *f, size_t len);
void fz_fixup_log_segment(uint8_t *f, size_t len);
void fz_fixup_counters(uint8_t *f, size_t len);
void fz_fixup_ring(uint8_t *f, size_t len);

#endif /* MMDS_FUZZ_FIXUP_H */
