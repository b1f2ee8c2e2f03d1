/* counters_format.h - the on-disk layout of a counters file (counters.c).
 * Byte by byte in docs/FORMAT.md, section "Counters". */
#ifndef MMDS_STRUCTS_COUNTERS_FORMAT_H
#define MMDS_STRUCTS_COUNTERS_FORMAT_H

#include <stdint.h>

#define MMDS__CNT_VERSION 1u
#define MMDS__CNT_FLAG_PACKED 1u  /* header flags: values 8 bytes apart */
#define MMDS__CNT_RECORD_SIZE 256u
#define MMDS__CNT_META_OFF 4096u
#define MMDS__CNT_LOCK_OFF 256u   /* u64 allocation lock: an owner word
                                     (structs/owner.h), 0 = free */
#define MMDS__CNT_INTENT_OFF 264u /* u64 intent of the lock holder's
                                     multi-step change, 0 = none */

/* The intent word: op | count << 8 | first << 16; bits 40..63 zero.
 * Written (an acquire-release exchange) before the first record of a
 * multi-step change is touched, cleared (release) after the last; whoever
 * takes the lock next finds it and rolls the change back (alloc) or
 * forward (free). */
enum {
	MMDS__CNT_INTENT_NONE = 0,
	MMDS__CNT_INTENT_ALLOC = 1, /* ids first..first+count-1 being made */
	MMDS__CNT_INTENT_FREE = 2   /* the counter at first, count ids, being
	                               freed */
};
#define MMDS__CNT_INTENT(op, first, count)                                    \
	((uint64_t)(op) | (uint64_t)(count) << 8 | (uint64_t)(first) << 16)

/* Structure parameters, in the common header's params. */
struct mmds__cnt_params {
	uint32_t capacity;    /*  0: ids */
	uint32_t record_size; /*  4: MMDS__CNT_RECORD_SIZE */
	uint32_t stride;      /*  8: bytes between values: 64 or 8 */
	uint32_t label_max;   /* 12: MMDS_COUNTERS_LABEL_MAX */
	uint32_t help_max;    /* 16: MMDS_COUNTERS_HELP_MAX */
	uint32_t grace_ms;    /* 20: grace period of freed ids */
	uint64_t meta_off;    /* 24: MMDS__CNT_META_OFF */
	uint64_t values_off;  /* 32: first value, page-aligned */
	uint64_t file_size;   /* 40: bytes the layout needs */
};

/* States, in the low 8 bits of a record's state word; the upper 56 bits
 * count allocations of the id (the generation). */
enum {
	MMDS__CNT_FREE = 0,     /* never allocated */
	MMDS__CNT_RESERVED = 1, /* being written by the allocation lock holder */
	MMDS__CNT_ACTIVE = 2,   /* allocated: the head of a counter */
	MMDS__CNT_FREED = 3,    /* freed at free_ns; reusable after the grace */
	MMDS__CNT_STRIPE = 4    /* a further stripe of the counter `head` */
};

/* The shape of a histogram (kind 3), in bytes 32..231 of the record of
 * its second id (head + 1), over that stripe record's unused label and
 * help: nbounds finite bounds, groups sets of nbounds + 2 ids (nbounds + 1
 * bucket counts, then the sum as the bits of a double). */
#define MMDS__CNT_SHAPE_OFF 32u
struct mmds__cnt_shape {
	uint32_t nbounds;    /* 0: 1..MMDS_HISTOGRAM_MAX_BOUNDS */
	uint32_t groups;     /* 4: groups * (nbounds + 2) == the head's stripes */
	double bounds[24];   /* 8: finite, strictly increasing; zero after nbounds */
};

/* One metadata record per id, at meta_off + id * 256. */
struct mmds__cnt_record {
	uint64_t state;       /*   0: atomic: generation << 8 | state; stored
	                         last with release, loaded with acquire */
	uint64_t free_ns;     /*   8: CLOCK_REALTIME of the free */
	uint32_t kind;        /*  16: enum mmds_counter_kind */
	uint32_t stripes;     /*  20: ids the counter uses (1 = plain) */
	uint32_t head;        /*  24: id of the counter's first id */
	uint32_t label_len;   /*  28: bytes of label before its NUL */
	char label[128];      /*  32: UTF-8, NUL-terminated */
	char help[96];        /* 160: UTF-8, NUL-terminated */
};

#endif /* MMDS_STRUCTS_COUNTERS_FORMAT_H */
