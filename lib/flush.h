/* flush.h - flush policies and the background flusher (flush.c).
 *
 * Lock order: a map's flush.lock, then m->lock (taken inside
 * mmds_map_sync_range).  The flusher's list lock (static in flush.c) is a
 * leaf: taken with neither of them held, and nothing is taken under it.
 * mmds__flush_presync() runs under m->lock and takes no lock;
 * mmds__flush_synced() runs under m->lock and only tries flush.lock
 * (pthread_mutex_trylock), never waiting for it, so the order holds.
 *
 * The dirty range word is taken out (exchanged or CASed to 0) only under
 * flush.lock, which stays held until the range taken is synced or put
 * back: a flush never sees it empty while a write is out of it unsynced.
 */
#ifndef MMDS_FLUSH_H
#define MMDS_FLUSH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mmds/map.h>

/* Per-map flush state, embedded in struct mmds_map.  Every atomic below is
 * used with sequentially consistent ordering unless stated: the proofs in
 * flush.c order a writer's counter and range updates against a flush's
 * snapshots. */
struct mmds__flush {
	/* enum mmds_flush_mode.  Loaded relaxed on every write: MANUAL means
	 * the write path does nothing more.  Stored with release after
	 * `every` and `level`. */
	_Atomic int mode;
	/* The rest belongs to flush.c. */
	_Atomic uint64_t every;   /* N of the policy, as given */
	_Atomic int level;        /* enum mmds_sync_level, never 0 */
	/* Dirty range in granules of 2^gshift bytes counted from the
	 * reservation's start (resv, not base): lo in bits 0-31, hi
	 * (exclusive) in bits 32-63, 0 when clean.  One word, so a flush
	 * takes it out whole with one exchange and no concurrent write can
	 * be half lost. */
	_Atomic uint64_t range;
	unsigned gshift;          /* fixed at open: log2 of the page size, or
	                             more for maps beyond 2^32 pages */
	/* Monotonic counters, never reset.  A write bumps nwrites before it
	 * widens `range`, and nbytes after it. */
	_Atomic uint64_t nwrites;
	_Atomic uint64_t nbytes;
	_Atomic uint64_t done_bytes;  /* nbytes covered by finished flushes */
	_Atomic uint64_t mark_bytes;  /* nbytes at the last flush or claim */
	_Atomic uint64_t mark_writes; /* nwrites at the last flush or claim */
	_Atomic int error;        /* last error of a flush nobody returned */
	pthread_mutex_t lock;     /* serialises this map's flushes */
	bool inited;              /* lock is initialised; open/close only */
	/* Under m->lock: the note count when the sync in progress started. */
	uint64_t sync_seq;
	bool sync_armed;
	/* Under the flusher's list lock. */
	struct mmds_map *next;
	bool registered;          /* on the flusher's list */
	bool flushing;            /* the flusher is flushing it right now */
	uint64_t period_ns;       /* MILLIS period */
	uint64_t deadline;        /* CLOCK_MONOTONIC ns of the next due flush */
};

/* Called by map.c at the end of a successful open (policy may be NULL):
 * validates and applies the policy.  0, -EINVAL, or -EAGAIN/-ENOMEM when
 * the flusher thread cannot be started.  On error mmds__flush_close() must
 * still be called (it is, by the close that aborts the open). */
int mmds__flush_open(struct mmds_map *m, const mmds_flush_policy *policy);

/* Called by map.c at the start of close, with no lock held: leaves the
 * flusher (stopping and joining it if this was its last map), waits until
 * the flusher no longer touches m, and flushes what is pending under a
 * non-manual policy.  Returns that flush's error, else the last background
 * error nobody has returned yet, else 0.  Safe on a map whose open failed
 * before or inside mmds__flush_open(). */
int mmds__flush_close(struct mmds_map *m);

/* Called after every write of [off, off + len) when mode != MANUAL, with no
 * lock held.  Lock-free unless this write triggers a flush (ALWAYS, or a
 * BYTES/WRITES threshold crossed), which then runs in the calling thread. */
void mmds__flush_note_slow(struct mmds_map *m, uint64_t off, uint64_t len);

/* Optional: called by map.c under m->lock right before the msync of
 * mmds_map_sync_range(), when it will really sync.  Remembers which writes
 * were noted before the sync started, so that mmds__flush_synced() can
 * forget them safely.  Without it mmds__flush_synced() does nothing. */
void mmds__flush_presync(struct mmds_map *m);

/* Called by map.c under m->lock after a successful sync of [off, off + len)
 * at level: forgets the dirty range if the sync covered it at the policy's
 * level or deeper and no write was noted since mmds__flush_presync(), and
 * no flush is running (flush.lock tried, never waited for). */
void mmds__flush_synced(struct mmds_map *m, uint64_t off, uint64_t len,
			int level);

#endif /* MMDS_FLUSH_H */
