/* format.h - the common header of every structure file (format.c).
 *
 * The first MMDS__FMT_HEADER_SIZE bytes of a log segment, a counters file or
 * a ring start with this 256-byte block; the rest of the first 4096 bytes
 * belongs to the structure.  All integers are in the writer's byte order,
 * which byte_order records; a reader with the other order refuses the file.
 * Layout, byte by byte, in docs/FORMAT.md.
 */
#ifndef MMDS_STRUCTS_FORMAT_H
#define MMDS_STRUCTS_FORMAT_H

#include <stdint.h>

#define MMDS__FMT_HEADER_SIZE 4096u /* bytes reserved for the header page */
#define MMDS__FMT_PARAMS_MAX 184u   /* bytes of structure parameters */
#define MMDS__FMT_BYTE_ORDER 0x01020304u
#define MMDS__FMT_CACHELINE 64u     /* the cache-line size layouts assume */

/* Magics, 8 bytes each, one per structure type. */
#define MMDS__MAGIC_LOG "MMDSLOG1"
#define MMDS__MAGIC_COUNTERS "MMDSCNT1"
#define MMDS__MAGIC_RING "MMDSRNG1"

struct mmds__fmt_header {
	char magic[8];         /*   0: one of MMDS__MAGIC_* */
	uint32_t version;      /*   8: format version of this structure type */
	uint32_t header_size;  /*  12: MMDS__FMT_HEADER_SIZE */
	uint32_t byte_order;   /*  16: MMDS__FMT_BYTE_ORDER as the writer stores it */
	uint32_t flags;        /*  20: structure-specific, immutable */
	uint64_t created_ns;   /*  24: CLOCK_REALTIME at creation, ns */
	uint32_t cacheline;    /*  32: MMDS__FMT_CACHELINE of the writer */
	uint32_t params_size;  /*  36: bytes of params in use */
	uint8_t params[MMDS__FMT_PARAMS_MAX]; /* 40: structure parameters */
	uint64_t reserved;     /* 224: zero */
	uint64_t salt;         /* 232: random per file, for the structure's use */
	uint64_t reserved2;    /* 240: zero */
	uint64_t checksum;     /* 248: xxh3-64 of bytes 0..247 */
};

/*
 * Fill h for a new file: magic, version, flags, params (params_size bytes,
 * at most MMDS__FMT_PARAMS_MAX), creation time, a random salt, checksum.
 * Returns 0 or -EINVAL.
 */
int mmds__fmt_init(struct mmds__fmt_header *h, const char magic[8],
		   uint32_t version, uint32_t flags, const void *params,
		   uint32_t params_size);

/*
 * Validate the header at the start of a file of file_size bytes (the bytes
 * may be hostile: nothing is trusted before it is checked).  On success
 * copies it to *out and returns 0.  Errors:
 *   -EBADMSG  shorter than the header, not an mmds file, another structure
 *             type (magic), a bad header size or checksum
 *   -ENOTSUP  a version newer than max_version, or another byte order or
 *             cache-line size
 */
int mmds__fmt_check(const void *bytes, uint64_t file_size, const char magic[8],
		    uint32_t max_version, struct mmds__fmt_header *out);

/* xxh3-64 of the header's bytes 0..247. */
uint64_t mmds__fmt_checksum(const struct mmds__fmt_header *h);

#endif /* MMDS_STRUCTS_FORMAT_H */
