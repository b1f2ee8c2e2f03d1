/* log_internal.h - private to the log's sources: the layout, the handle and
 * the functions the files share.  Who owns what:
 *   log.c          open, close, sync (group commit), retention, positions,
 *                  info and report
 *   log_segment.c  segment files and their lifecycle: create, check, map,
 *                  list, delete; the segment table and its references; the
 *                  durable hint in a segment's header page; the
 *                  pretoucher (the next segment made and the active one
 *                  populated ahead of the tail, in the background)
 *   log_append.c   append, appendv, reserve/commit/abort, rollover to the
 *                  next segment, waking readers
 *   log_recover.c  record validation, the writer's recovery scan and cut,
 *                  mmds_log_verify()
 *   log_read.c     reading by LSN, iterators, following the tail
 * Layout in docs/FORMAT.md ("Log"), guide in docs/log.md. */
#ifndef MMDS_LOG_INTERNAL_H
#define MMDS_LOG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
/* The record checksum inline (xxHash's header-only mode): a call into
 * the shared library and its dispatch on the length cost as much as the
 * hash of a small record. */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <mmds/log.h>
#include <mmds/map.h>

#include "format.h"

/* 2: a reservation stores a CLAIMED header (REC_CLAIM) before its payload;
 * version 1 readers would take it for corruption. */
#define LOG_VERSION 2u
#define LOG_VERSION_CLAIM 2u /* first version whose segments take claims */
#define HDR MMDS__FMT_HEADER_SIZE
#define RH MMDS_LOG_RECORD_HEADER
#define REC_COMMIT 0x8000u /* set in every committed header */
#define REC_PAD 0x0001u    /* rest of the segment is padding */
#define REC_SKIP 0x0002u   /* aborted reservation: skipped by readers */
#define REC_CLAIM 0x4000u  /* reserved, not committed yet (never with COMMIT) */
#define REC_KNOWN (REC_COMMIT | REC_PAD | REC_SKIP)
#define REC_TYPE_MASK ((uint64_t)0xffff << 32)
#define TAIL_ROLL ((uint64_t)1 << 63) /* tail bit: a rollover is running */
#define CHUNK_BITS 10u
#define CHUNKS 1024u /* segment table: CHUNKS << CHUNK_BITS entries */
#define MIN_SEGMENT MMDS_LOG_MIN_SEGMENT
#define MAX_SEGMENT ((uint64_t)1 << 40)
/* The pretoucher keeps this many bytes ahead of the tail populated (page
 * tables filled, pages allocated and writable): appends take no fault. */
#define PT_AHEAD ((uint64_t)8 << 20)
/* The writer's table keeps the active segment and this many before it
 * mapped (with the pretoucher's spare: LOG_WINDOW + 2 descriptors); older
 * ones are unmapped and closed, and mapped again on demand by the few
 * writer paths that reach back (sync, the published-end walk, recovery),
 * so a log of any number of segments needs a bounded number of
 * descriptors.  Readers and iterators map their own segment already. */
#define LOG_WINDOW 4u

/* Immutable parameters in the common header's params. */
struct log_params {
	uint64_t segment_size;
	uint64_t base_lsn; /* index * (segment_size - HDR) */
	uint64_t log_id;   /* same in every segment of one log */
	uint64_t index;
};

/* Mutable words of the header page, at offset 256.  Shared between
 * processes; accessed only through these atomics. */
struct seg_live {
	/* Everything below it was durable when stored (release; read with
	 * acquire).  A hint for recovery: it may lag behind. */
	_Atomic uint64_t durable;
	/* The writer's tail + 1, stored (release) by a clean close and
	 * cleared by the next writer open: nothing was written beyond it, so
	 * recovery need not look for stale bytes there.  0: unknown. */
	_Atomic uint64_t clean_end;
	/* hint_sum(salt, durable), stored (release) after durable: a durable
	 * word that does not match it is ignored (torn, flipped or written by
	 * a version that did not store it). */
	_Atomic uint64_t durable_check;
	uint64_t reserved[5];
	/* Futex word, on its own cache line: bumped (release) by the writer
	 * after a commit when waiters != 0. */
	_Atomic uint32_t seq;
	/* Readers sleeping on seq (seq_cst increments, paired with the
	 * writer's fence after each commit). */
	_Atomic uint32_t waiters;
};
#define LIVE_OFF 256u
_Static_assert(sizeof(struct log_params) <= MMDS__FMT_PARAMS_MAX, "params");
_Static_assert(LIVE_OFF + sizeof(struct seg_live) <= HDR, "live");

struct seg {
	mmds_map *map;       /* the whole file: RDWR for the writer */
	unsigned char *base; /* mmds_map_data(map) */
	uint64_t fsize;      /* bytes mapped */
	uint64_t index, salt;
	uint32_t version;    /* the segment's format version */
	struct seg_live *live; /* writer: in map; reader: in hmap or NULL */
	mmds_map *hmap;      /* reader's writable window on the header page */
	int hmap_failed;
	struct seg *next;    /* list of segments leaving the table */
	/* ---- kept by seg_clear(): the writer's table segments ----
	 * One reference held by the table, one by each user outside roll_mu
	 * (sync, walks, an append in flight).  The last one to drop it unmaps
	 * and closes the segment and gives the struct back to the handle's
	 * pool, which frees it only at close: an appender holding a stale
	 * pointer (L->active, a table entry) may still try to take a
	 * reference, so the struct stays a struct seg whose refs are 0, or
	 * another segment's (mmds__log_seg_tryget() tells).  (acq_rel) */
	_Atomic uint32_t refs;
	struct seg *pool_next; /* the pool's free list (under pool_mu) */
	struct seg *all_next;  /* every struct of the pool, freed at close */
};

struct mmds_log {
	char *dir;
	int dirfd, lockfd;
	int writer;
	pid_t pid;               /* the opener: a forked child's close of an
	                            inherited handle must not mark the log */
	unsigned mode, recovery;
	mmds_flush_policy flush;
	uint64_t seg_size, dsize, log_id, max_len;
	uint32_t version;
	uint64_t created_ns;
	_Atomic uint64_t tail;   /* next LSN to reserve, | TAIL_ROLL (acq/rel) */
	_Atomic uint64_t durable; /* (acq/rel) */
	_Atomic uint64_t first;  /* oldest kept LSN (relaxed) */
	_Atomic uint64_t pub;    /* a record boundary below which everything
	                            is committed: where walks start (relaxed) */
	_Atomic int dir_dirty;   /* a segment was created or deleted */
	_Atomic uint64_t alive_until; /* reader: the writer was seen alive;
	                            not asked again before (ns, relaxed) */
	uint64_t idx0;           /* segment index of table entry 0 */
	/* Segment table: entries are set (release) before the tail enters
	 * their range, cleared only by retention. */
	_Atomic(struct seg *) *_Atomic chunks[CHUNKS];
	/* The newest segment in the table (release, with the entry): the
	 * tail's, or the one a rollover is moving the tail into. */
	_Atomic(struct seg *) active;
	/* Writer, under roll_mu: segments below win_lo (and not below first)
	 * are out of the table, unmapped; mmds__log_seg_acquire() maps them
	 * again on demand.  From win_lo to the active one they are in it. */
	uint64_t win_lo;
	pthread_mutex_t roll_mu; /* rollover, retention, chunk allocation */
	/* The table segments' structs (struct seg, refs): taken by
	 * mmds__log_seg_new(), given back by the last release, freed at
	 * close. */
	pthread_mutex_t pool_mu;
	struct seg *pool_free, *pool_all;
	pthread_cond_t roll_cv;
	pthread_mutex_t sync_mu;
	pthread_cond_t sync_cv;
	int syncing;
	unsigned sync_waiting;   /* callers waiting for the flush running */
	unsigned sync_group;     /* callers the last flush served */
	/* Pretoucher (a writer's background thread; log_segment.c).  pt_mark:
	 * the appender whose record crosses it wakes the thread (relaxed;
	 * UINT64_MAX: nobody).  The rest under pt_mu. */
	_Atomic uint64_t pt_mark;
	pthread_mutex_t pt_mu;
	pthread_cond_t pt_cv;    /* work for the thread; a spare finished */
	pthread_t pt_thread;
	int pt_running, pt_stop, pt_kicked;
	/* The thread is in a step of work, pt_mu dropped (it may hold the
	 * handle's other locks, or the allocator's): fork() waits until it is
	 * back (log_segment.c, "fork").  pt_next links the writers whose
	 * thread runs, for the fork handlers. */
	int pt_busy, pt_listed, pt_started;
	mmds_log *pt_next;
	uint64_t pt_seg, pt_done; /* active segment, populated below pt_done */
	struct seg *spare;       /* the next segment, under a temporary name */
	uint64_t spare_idx, spare_failed; /* spare_failed: index + 1 */
	uint64_t spare_next;     /* the least index the thread may make */
	int spare_busy;          /* being made: a rollover waits for it */
	pthread_mutex_t read_mu; /* mmds_log_read's cached segment */
	struct seg rseg;
	int rseg_ok;
	mmds_log_report report;
};

struct mmds_log_iter {
	mmds_log *log;
	uint64_t pos;
	struct seg cur;  /* the segment being read */
	int has;
	struct seg wseg; /* the segment being waited on (own mapping, since
	                    reading may move cur meanwhile) */
	int whas;
};

struct rec {
	uint32_t len;
	uint16_t type, flags;
	uint64_t stride;
};

/* ---- small helpers ---------------------------------------------------- */

static inline uint64_t align8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

static inline uint64_t rec_seed(uint64_t salt, uint64_t lsn, uint64_t word0)
{
	uint64_t w = word0 * 0xC2B2AE3D27D4EB4FULL;

	return salt ^ (lsn * 0x9E3779B97F4A7C15ULL) ^ ((w << 31) | (w >> 33));
}

static inline uint64_t rec_sum(uint64_t salt, uint64_t lsn, uint64_t word0,
			const void *p, size_t len)
{
	return XXH3_64bits_withSeed(len ? p : "", len, rec_seed(salt, lsn, word0));
}

static inline void seg_name(char *buf, size_t cap, uint64_t base)
{
	snprintf(buf, cap, "%020llu.seg", (unsigned long long)base);
}

/* ---- log_segment.c ---------------------------------------------------- */

/* Store v in a word of a mapping, guarded: 0 or -EFAULT/-EIO. */
int mmds__log_store64_guarded(_Atomic uint64_t *w, uint64_t v);
/* Record the durable hint v and its check word in segment s (writer's
 * mapping), guarded: 0 or -EFAULT/-EIO. */
int mmds__log_store_hint(struct seg *s, uint64_t v);
/* The durable hint of the mapped segment s now, if its check word matches;
 * else (or if it cannot be read) 0. */
uint64_t mmds__log_seg_hint(const struct seg *s);
/* The durable hint of segment index as its file holds it, if the segment
 * is valid and the check word vouches for it: 1 and *v; else 0 (torn,
 * flipped, never stored, or unreadable). */
int mmds__log_seg_hint_at(mmds_log *L, uint64_t index, uint64_t *v);
/* The segment table: entry of index, or NULL (acquire). */
struct seg *mmds__log_seg_get(mmds_log *L, uint64_t index);
/* Set an entry; under roll_mu (or before the handle is shared). */
int mmds__log_seg_set(mmds_log *L, uint64_t index, struct seg *s);
/* Unmap a segment the caller owns (not one of the table's); its fields
 * are cleared, refs and the pool's links are kept. */
void mmds__log_seg_unmap(struct seg *s);
/* A cleared struct for a table segment, from the pool (refs 0): to be
 * filled by mmds__log_seg_open/create, then given refs 1 (release) before
 * it is published in the table; given back by mmds__log_seg_put() if it
 * never is. */
struct seg *mmds__log_seg_new(mmds_log *L);
/* Give back to the pool a struct never published (refs 0), unmapped. */
void mmds__log_seg_put(mmds_log *L, struct seg *s);
/* Free the pool: at close, after every table reference is dropped (a
 * segment still referenced, by a reservation never committed, is unmapped
 * here). */
void mmds__log_seg_pool_free(mmds_log *L);
/* A reference on s if its refs are not 0 (it is a segment in use, maybe
 * not the one the caller read it as: check its index), else 0.  Acquire:
 * the fields are the segment's.  Lock-free. */
int mmds__log_seg_tryref(struct seg *s);
/* A reference on s if it is segment index and still in use (its refs not
 * 0), else NULL: for a pointer read without a reference (L->active, a
 * table entry), whose segment may have been dropped and its struct given
 * to another segment meanwhile.  Lock-free. */
struct seg *mmds__log_seg_tryget(mmds_log *L, struct seg *s, uint64_t index);
/* Writer: segment index with a reference taken: the table's, or, for one
 * out of the window (below win_lo), a mapping made now (a struct from the
 * pool) and given back by the last release.  NULL if it is gone
 * (retention) or cannot be mapped. */
struct seg *mmds__log_seg_acquire(mmds_log *L, uint64_t index);
/* The same, telling the two NULLs apart: *err 0 when the segment is not
 * there (dropped, or never made), else the error of mapping it again
 * (-EMFILE, -ENOMEM ...): a sync must not take that for "nothing to do". */
struct seg *mmds__log_seg_acquire_err(mmds_log *L, uint64_t index, int *err);
/* Take the table's segments below index `below` out of it (under roll_mu)
 * and move win_lo up to it: the list (linked by next) whose references
 * the caller drops with mmds__log_seg_release_list(), outside the lock. */
struct seg *mmds__log_seg_evict(mmds_log *L, uint64_t below);
/* Drop the table's reference of each segment of a list. */
void mmds__log_seg_release_list(mmds_log *L, struct seg *list);
/* Drop a reference; the last one unmaps and gives the struct back to the
 * pool.  The close's error. */
int mmds__log_seg_release(mmds_log *L, struct seg *s);
/* Read and validate segment index's header page without mapping it. */
int mmds__log_seg_check(mmds_log *L, uint64_t index, uint64_t *fsize,
			uint64_t *durable, struct mmds__fmt_header *out);
/* Map segment index (validated first). */
int mmds__log_seg_open(mmds_log *L, uint64_t index, int writable,
		       struct seg *s);
/* Reader: a writable window on the header page for the futex words. */
struct seg_live *mmds__log_seg_live_rw(mmds_log *L, struct seg *s);
/* Create segment index, preallocated, under its final name. */
int mmds__log_seg_create(mmds_log *L, uint64_t index, uint64_t salt_id,
			 struct seg *s);
/* Start the pretoucher of a writer (after recovery).  0 or an error. */
int mmds__log_pt_start(mmds_log *L);
/* Stop and join it, removing an unused spare; in a forked child (the
 * thread is the parent's) only forget them. */
void mmds__log_pt_stop(mmds_log *L);
/* Wake the pretoucher: the tail crossed pt_mark or entered a new segment. */
void mmds__log_pt_kick(mmds_log *L);
/* The spare made ahead for segment index, linked under its name and ready
 * to be set in the table (refs 0), waiting while it is being made; NULL
 * when there is none (the caller creates the segment itself). */
struct seg *mmds__log_pt_take(mmds_log *L, uint64_t index);
/* Whether the file name s is a segment's (20 decimal digits, ".seg"): 1
 * and its base LSN in *base, else 0. */
int mmds__log_seg_name_base(const char *s, uint64_t *base);
/* The segment indexes present, sorted. */
int mmds__log_list_segments(mmds_log *L, uint64_t **out, size_t *n);
/* Unlink segment index, adding its non-zero data bytes to *bytes. */
int mmds__log_delete_segment(mmds_log *L, uint64_t index, uint64_t *bytes);

/* ---- log.c ------------------------------------------------------------ */

/* Has the writer gone (no process holds the log's lock)?  A reader stuck
 * at a CLAIMED header asks: then the reservation is abandoned.  Always 0
 * for a writer handle; 0 when it cannot tell. */
int mmds__log_writer_gone(mmds_log *L);

/* ---- log_append.c ----------------------------------------------------- */

/* Turn the abandoned reservation r at lsn into a skipped record (or the
 * padding it was claimed as), guarded: 0 or -EFAULT/-EIO. */
int mmds__log_seal_abandoned(mmds_log *L, struct seg *s, uint64_t lsn,
			     const struct rec *r);

/* ---- log_recover.c ---------------------------------------------------- */

/* Check the record at lsn in s under the SIGBUS guard.  1: valid (r
 * filled); 0: nothing there (header zero); 3: a valid CLAIMED header (r
 * filled: an append in flight, or abandoned if the writer died); -1:
 * invalid (*why); 2: the segment ends here; -EFAULT/-EIO: it faulted. */
int mmds__log_rec_check_guarded(const mmds_log *L, const struct seg *s,
				uint64_t lsn, struct rec *r, unsigned *why);
/* Is the CLAIMED header at lsn a real claim (its check word is zero or
 * the sum its commit or abort was storing)?  Only when nobody writes it
 * (recovery; a reader after mmds__log_writer_gone()).  1 yes, 0 no (a bad
 * header), -EFAULT/-EIO when it faulted. */
int mmds__log_claim_ok(const mmds_log *L, const struct seg *s, uint64_t lsn,
		       const struct rec *r);
/* The writer's recovery over the sorted segment indexes idx[0..n). */
int mmds__log_recover(mmds_log *L, const uint64_t *idx, size_t n);

#endif /* MMDS_LOG_INTERNAL_H */
