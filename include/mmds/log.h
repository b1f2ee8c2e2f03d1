/*
 * mmds/log.h - layer 2: the append-only log.
 *
 * A log is a directory of segment files "<20-digit base LSN>.seg", each of a
 * fixed size chosen at creation (preallocated, so a full disk fails the
 * rollover cleanly, never an append in a mapped page).  Each segment starts
 * with the 4096-byte common header page; records follow, 8-byte aligned.
 *
 * LSN: the byte position of a record in the log's data stream.  Segment k
 * holds LSNs [k * D, (k + 1) * D) where D = segment_size - 4096, at file
 * offset 4096 + (lsn - k * D), so reading by LSN is O(1).  LSNs grow
 * monotonically but not by one: the next record's LSN is
 * lsn + 16 + round_up(len, 8) (mmds_log_record.next_lsn), or the next
 * segment's base when a record did not fit in the rest of a segment.
 *
 * Durability words: a record is *published* when mmds_log_append() (or
 * mmds_log_commit()) returns, whatever the other threads are doing: it
 * survives kill -9 of the writer, and readers in any process see it once
 * the records before it are finished.  A reservation stores its length in
 * the record's header (state CLAIMED) before anything else, so a thread
 * that never finishes its record (the process died) leaves a hole of known
 * size: recovery turns it into a skipped record (mmds_log_report.abandoned)
 * and keeps every record after it, and a reader in another process skips
 * it once the writer has gone (nobody holds DIR/lock) instead of waiting
 * for ever.  A record is *durable* (survives power loss) once
 * mmds_log_sync() covering it has returned.
 *
 * Concurrency: one writer process per log (an OFD lock on DIR/lock; a
 * second writer, in this or another process, gets -EBUSY).  Inside it, any
 * number of threads may append, sync and read at once.  After fork(), only
 * one of parent and child may go on appending through the writer handle
 * (the lock goes with the inherited descriptor, the tail does not).  Any number of
 * read-only handles, in any process, read and follow the tail while the
 * writer runs.  Errors follow <mmds/common.h>.
 */
#ifndef MMDS_LOG_H
#define MMDS_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <mmds/common.h>
#include <mmds/map.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mmds_log mmds_log;
typedef struct mmds_log_iter mmds_log_iter;

/* Open flags (mmds_log_opts.flags). */
enum mmds_log_flag {
	MMDS_LOG_CREATE = 1u << 0, /* create the directory and first segment
	                              if there is no log yet */
	MMDS_LOG_RDONLY = 1u << 1, /* a reader: no lock, no recovery, no
	                              writes; many may run beside the writer */
	MMDS_LOG_NO_THREAD = 1u << 2 /* a writer without the background
	                              thread (the pretoucher): the appender
	                              that needs them faults the pages in and
	                              makes the next segment itself (slower
	                              appends on fresh pages, no thread, no
	                              spare file); ignored by a reader */
};

/* What recovery does with a corrupt record that valid records follow. */
enum mmds_log_recovery {
	MMDS_LOG_RECOVER_REFUSE = 0,   /* default: the open fails with
	                                  -EBADMSG; the report says where */
	MMDS_LOG_RECOVER_TRUNCATE = 1  /* cut the log at the first bad record
	                                  (everything after it is lost) */
};

typedef struct mmds_log_opts {
	unsigned flags;         /* enum mmds_log_flag bits */
	unsigned mode;          /* permissions of created files; 0 = 0600 */
	uint64_t segment_size;  /* bytes per segment file, for a new log only
	                           (an existing log keeps its own); a multiple
	                           of the page size (and of 4096),
	                           >= MMDS_LOG_MIN_SEGMENT, <= 2^40;
	                           0 = MMDS_LOG_DEFAULT_SEGMENT */
	unsigned recovery;      /* enum mmds_log_recovery */
	mmds_flush_policy flush; /* layer-1 flush policy of the writer's
	                           segment maps; default manual */
} mmds_log_opts;

#define MMDS_LOG_DEFAULT_SEGMENT ((uint64_t)64 << 20)
/* The smallest segment_size, 8 KiB (a header page and 4 KiB of records;
 * on a machine with larger pages, one page more than the header). */
#define MMDS_LOG_MIN_SEGMENT ((uint64_t)8 << 10)
/* Bytes of framing per record (the header). */
#define MMDS_LOG_RECORD_HEADER 16u

/* Why recovery cut the log (mmds_log_report.reason). */
enum mmds_log_cut {
	MMDS_LOG_CUT_NONE = 0,     /* nothing cut */
	MMDS_LOG_CUT_UNFINISHED,   /* a record never committed (header zero)
	                              while bytes follow it: a torn tail */
	MMDS_LOG_CUT_BAD_HEADER,   /* impossible length or flags */
	MMDS_LOG_CUT_BAD_CHECKSUM, /* the checksum does not match */
	MMDS_LOG_CUT_SHORT_FILE,   /* the segment file is shorter than its size */
	MMDS_LOG_CUT_BAD_SEGMENT   /* a segment's header page is invalid, or a
	                              segment is missing */
};

/*
 * The recovery report: what the writer's open found and did.  Also filled by
 * mmds_log_verify().  bad_segment/bad_offset name the first bad record found
 * (segment base LSN and byte offset in that segment's file); valid when
 * reason != MMDS_LOG_CUT_NONE.
 */
typedef struct mmds_log_report {
	uint64_t scan_from;        /* LSN where the scan started */
	uint64_t segments_scanned;
	uint64_t records_kept;     /* valid records scanned and kept */
	uint64_t end_lsn;          /* the log's tail after recovery */
	uint64_t bytes_cut;        /* non-zero bytes zeroed or removed */
	uint64_t segments_removed; /* segment files deleted after the cut */
	unsigned reason;           /* enum mmds_log_cut */
	int corrupt;               /* 1 if valid records followed the bad one
	                              (mid-log corruption, not a torn tail) */
	uint64_t bad_segment;      /* base LSN of the segment */
	uint64_t bad_offset;       /* file offset in that segment */
	uint64_t bad_lsn;          /* LSN of the bad record */
	uint64_t abandoned;        /* reservations whose thread never finished
	                              them (the writer died): turned into
	                              skipped records, the records after them
	                              kept (verify: counted, left alone) */
	int cut_beyond_durable;    /* 1 if the bad record (valid ones after
	                              it) lies at or past the durable point,
	                              where a power loss may leave any bytes:
	                              cut, not refused, even under REFUSE */
} mmds_log_report;

/* A record as a reader sees it.  data points into the mapping and stays
 * valid until the next call on the iterator; reading it faults (SIGBUS) only
 * if someone truncates the segment file under the map - run such code under
 * mmds_guard_run() if that can happen. */
typedef struct mmds_log_record {
	uint64_t lsn;       /* this record's LSN */
	uint64_t next_lsn;  /* the LSN just after it */
	const void *data;   /* payload, len bytes */
	uint32_t len;
	uint16_t type;      /* the caller's type */
} mmds_log_record;

/* Space reserved by mmds_log_reserve(), to be committed or aborted. */
typedef struct mmds_log_reservation {
	void *data;         /* write len payload bytes here */
	uint64_t lsn;
	uint32_t len;
	void *priv_;        /* private */
} mmds_log_reservation;

/* Pseudo-LSNs for mmds_log_iter_open(). */
#define MMDS_LOG_START ((uint64_t)0)          /* the oldest kept record */
#define MMDS_LOG_END (~(uint64_t)0)           /* after the last record */

/*
 * mmds_log_open - open (or with MMDS_LOG_CREATE create) the log in dir.
 *
 * A writer takes the directory's lock and recovers: it scans from the start
 * of the segment that holds the last recorded durable point (the durable
 * word is only a hint: it picks the segment, never a position inside it),
 * checks every record's checksum from there, and cuts a torn tail, zeroing
 * it and making the zeros durable before it returns (stale bytes of an
 * earlier run never come back after a power loss); mmds_log_get_report()
 * tells what happened.  A reservation its thread never finished (CLAIMED
 * header) becomes a skipped record and the scan goes on after it
 * (report.abandoned).  Logs of format version 1 are read and recovered; the
 * writer seals their last segment at its first append and goes on in a
 * version-2 segment (a version-1 reader then gets -ENOTSUP there).  A bad
 * record followed by valid ones, or a bad or missing record below the point
 * the durable hint (checked) vouches for, is damage, not a torn tail:
 * -EBADMSG (the handle is not returned; pass a report to
 * mmds_log_verify() to learn where) unless opts->recovery is
 * MMDS_LOG_RECOVER_TRUNCATE, or the bad record lies at or past the
 * recovery point: the durable point the segment headers record, trusted
 * only when its check word matches and the scan meets it at a record
 * boundary.  Bytes past it were never covered by a returned
 * mmds_log_sync() and may be anything after a power loss (an unsynced torn
 * record, a later page written back), so the log is cut there and the
 * report says so (cut_beyond_durable, corrupt).  Damage below that point,
 * or with no trustworthy point, is refused as before.  A reader
 * (MMDS_LOG_RDONLY) only validates the segment headers.  A writer handle
 * runs one background thread, the pretoucher, until it is closed: it keeps
 * the pages past the tail populated and makes the next segment ahead of
 * the rollover (docs/log.md, "Speed"); it blocks every asynchronous
 * signal.  MMDS_LOG_NO_THREAD opens a writer without it.
 * Returns 0 and *out, or (with *out NULL): -EINVAL, -ENOENT (no log and no
 * CREATE), -EBUSY (another writer holds the lock), -ELOOP (the lock file
 * or a segment a writer would write is a symbolic link: never followed),
 * -EBADMSG (corrupt or foreign files), -ENOTSUP (newer format, other byte order), -ENOSPC/-EFBIG
 * (the first segment cannot be created), -ENOMEM, -EAGAIN (a writer's
 * background thread could not be started), -EFAULT (a segment file
 * shrank while recovery read it), -EIO or another error of
 * msync/fdatasync/unlink (making the cut durable), or a system error.
 */
MMDS_API int mmds_log_open(mmds_log **out, const char *dir,
			   const mmds_log_opts *opts);

/*
 * mmds_log_close - close the handle (NULL is fine).  A writer's background
 * thread is stopped and joined first, and its unused next segment removed
 * (in a forked child, which has no such thread, neither).  Does not sync under the
 * manual flush policy: published records survive anyway, call
 * mmds_log_sync() first if they must be durable.  A writer records its tail
 * in the segment's header page (so the next open is quick), unless the
 * handle was inherited through fork().  No other call may race with it.
 * Returns 0, -EFAULT (the active segment file was truncated under the
 * writer: the tail could not be recorded, the handle is freed anyway), or
 * the first error of unmapping (a deferred flush error, e.g. -EIO).
 */
MMDS_API int mmds_log_close(mmds_log *log);

/*
 * mmds_log_append - append one record of len bytes (0 allowed) of the given
 * type.  mmds_log_appendv - the same with the payload gathered from iovcnt
 * buffers.  On success returns 0 and stores the record's LSN in *lsn (lsn
 * may be NULL).  The record is published on return (see above).
 * Errors: -EINVAL (NULL log, bad iov), -EACCES (read-only handle),
 * -EMSGSIZE (larger than a segment's data area minus the header, or 4 GiB),
 * -ENOSPC / -EFBIG (the next segment could not be created: nothing was
 * written, earlier records are untouched; retry later, e.g. after
 * mmds_log_retain()), -ENOMEM or another system error of the rollover,
 * -EFAULT / -EIO (the segment file was truncated under the writer, or a
 * memory error: the record is not published and the log ends before it;
 * the space stays claimed: close and reopen, recovery turns it into a
 * skipped record).  Every access to the mapping runs
 * under one SIGBUS guard per call.  Thread-safe, lock-free within a segment,
 * no system call but at a rollover (and a futex wake when a reader sleeps).
 * -EBADMSG: the space after the tail was not zero (another process wrote
 * into the active segment); nothing was written.
 */
MMDS_API int mmds_log_append(mmds_log *log, uint16_t type, const void *buf,
			     size_t len, uint64_t *lsn);
MMDS_API int mmds_log_appendv(mmds_log *log, uint16_t type,
			      const struct iovec *iov, int iovcnt,
			      uint64_t *lsn);

/*
 * mmds_log_reserve - reserve a record of len bytes and point r->data at its
 * payload in the mapping; write the payload there, then call
 * mmds_log_commit() (publishes it with the type) or mmds_log_abort() (turns
 * it into a skipped record readers never see).  Until then readers stop
 * before it (while the writer lives; a reservation left open when the
 * writer dies is abandoned: skipped by readers, sealed by recovery).  Every
 * reservation must be committed or aborted.  The record is published when
 * commit returns.  reserve:
 * errors as mmds_log_append().  commit/abort: 0, -EINVAL (NULL, or a
 * reservation already finished), -EFAULT / -EIO (as for append).  Writing
 * r->data is not guarded: run it under mmds_guard_run() if someone may
 * truncate the segment file.  Thread-safe.
 */
MMDS_API int mmds_log_reserve(mmds_log *log, size_t len,
			      mmds_log_reservation *r);
MMDS_API int mmds_log_commit(mmds_log *log, mmds_log_reservation *r,
			     uint16_t type);
MMDS_API int mmds_log_abort(mmds_log *log, mmds_log_reservation *r);

/*
 * mmds_log_sync - make the record at lsn durable, with every record before
 * it: pass the LSN mmds_log_append() returned (or rec.lsn), and that record
 * survives power loss when sync returns 0.  Exactly: every record that
 * starts at or before lsn (an LSN inside a record covers that record; the
 * end of a record is the next one's start, so passing it also covers the
 * next record if one has been reserved there).  UINT64_MAX: everything
 * published so far.  Concurrent callers share one flush, one fdatasync
 * per segment it spans (group commit): one leader syncs up to the published
 * end, the others wait for it.  A record below lsn still being written by another
 * thread (or an open reservation) is waited for, so commit or abort
 * reservations before syncing past them.  Returns 0, -EINVAL (NULL),
 * -EACCES on a reader, -EFAULT (a segment file was truncated under the
 * writer), the error of mapping again a segment the writer no longer keeps
 * mapped (-EMFILE, -ENFILE, -ENOMEM ...: the writer keeps only a few
 * recent segments mapped, and a sync reaches every older one with records
 * not yet durable; the durable LSN does not move then), or the error of
 * fdatasync/fsync (-EIO ...).  A segment that mmds_log_retain() drops
 * meanwhile stays mapped until the sync is done with it.  Thread-safe.
 */
MMDS_API int mmds_log_sync(mmds_log *log, uint64_t lsn);

/*
 * Positions (lock-free, thread-safe):
 * mmds_log_durable_lsn - everything before it is durable, always a record
 *   end (after mmds_log_sync(lsn) it is beyond lsn) (writer; for a
 *   reader, the value the writer last recorded).
 * mmds_log_tail_lsn - the LSN the next append gets (reserved space
 *   included); for a reader, the end of the published records (it walks the
 *   last segment: not for hot loops).
 * mmds_log_first_lsn - the oldest LSN still kept (after retention).
 */
MMDS_API uint64_t mmds_log_durable_lsn(const mmds_log *log);
MMDS_API uint64_t mmds_log_tail_lsn(mmds_log *log);
MMDS_API uint64_t mmds_log_first_lsn(mmds_log *log);

/*
 * mmds_log_retain - drop every whole segment that lies entirely below lsn
 * and below the published end (the active segment is never dropped),
 * oldest first, each unlink made durable (directory fsync) before the next
 * (a power loss never leaves a gap).  The writer's mappings of the dropped segments are unmapped
 * and closed before it returns, so their space is free then (after -ENOSPC
 * the next append can succeed), except for a segment that a concurrent
 * sync or append of this handle still uses (freed when it is done) and for
 * readers' own mappings: an iterator or reader handle positioned in a
 * dropped segment keeps its blocks until it moves on or is closed.
 * Returns the number of segment files deleted (>= 0), -EINVAL (NULL),
 * -EACCES on a reader, or the error of unlink or fsync.  Iterators positioned in a
 * dropped segment get -ENOENT from their next move on.  Thread-safe.
 */
MMDS_API int mmds_log_retain(mmds_log *log, uint64_t lsn);

/*
 * mmds_log_read - read the record at lsn (which must be a record's LSN) and
 * copy up to cap bytes of its payload into buf.  Fills *rec (rec->data is
 * NULL: the payload is in buf).  Returns the payload length (may exceed cap:
 * then only cap bytes were copied), or -EAGAIN (not written yet), -ENOENT
 * (dropped by retention), -EBADMSG (no valid record there: corrupt, or lsn
 * is not a record start), -EINVAL, -EFAULT (the file was truncated under
 * the map), or an error of opening the segment (-ENOMEM ...).  Skipped
 * (aborted) records are -ENOENT.  Thread-safe (takes a lock).
 */
MMDS_API int64_t mmds_log_read(mmds_log *log, uint64_t lsn, void *buf,
			       size_t cap, mmds_log_record *rec);

/*
 * Iterators: a cursor over the records from a position (an LSN, or
 * MMDS_LOG_START / MMDS_LOG_END), in LSN order, across segments.  One
 * iterator belongs to one thread at a time; many may run at once.
 *
 * mmds_log_iter_open - 0, -EINVAL, -ENOMEM.  An LSN that is not a record
 *   start yields -EBADMSG from next.
 * mmds_log_iter_next - the next record into *rec: 0, or -EINVAL (NULL it
 *   or rec), -EAGAIN (nothing published after it yet), -ENOENT (the
 *   position was dropped by retention), -EBADMSG (a corrupt record, or a
 *   missing one below a point recorded as durable; the iterator stays
 *   before it), -EFAULT (the file was truncated under the
 *   map), or an error of opening the segment (-ENOMEM ...).  Aborted
 *   records and segment padding are skipped.
 * mmds_log_iter_wait - sleep until the next record is published or
 *   timeout_ms passes (< 0: forever): 0 (call next), -ETIMEDOUT, -EINVAL
 *   (NULL it), -EFAULT (the segment file was truncated under the reader
 *   while it announced its sleep).  Woken by the writer through a futex in the segment's
 *   header page; no polling (except when the segment cannot be opened for
 *   writing, then every ms).
 * mmds_log_iter_lsn - the LSN the next call to next reads.
 * mmds_log_iter_close - free it (NULL is fine).
 */
MMDS_API int mmds_log_iter_open(mmds_log_iter **out, mmds_log *log,
				uint64_t from);
MMDS_API int mmds_log_iter_next(mmds_log_iter *it, mmds_log_record *rec);
MMDS_API int mmds_log_iter_wait(mmds_log_iter *it, int timeout_ms);
MMDS_API uint64_t mmds_log_iter_lsn(const mmds_log_iter *it);
MMDS_API void mmds_log_iter_close(mmds_log_iter *it);

/* What mmds_log_get_info() reports. */
typedef struct mmds_log_info {
	uint64_t segment_size;
	uint64_t log_id;        /* random, shared by all segments of a log */
	uint64_t created_ns;    /* creation time of the oldest segment */
	uint64_t segments;      /* segment files present */
	uint64_t first_lsn, tail_lsn, durable_lsn;
	uint32_t version;       /* format version */
	int writer;             /* 1 for a writer handle */
} mmds_log_info;

/* mmds_log_get_info - fill *info.  0 or -EINVAL.  Lists the directory. */
MMDS_API int mmds_log_get_info(mmds_log *log, mmds_log_info *info);

/* mmds_log_get_report - the writer's recovery report.  0 or -EINVAL. */
MMDS_API int mmds_log_get_report(const mmds_log *log, mmds_log_report *rep);

/*
 * mmds_log_verify - check a log without changing it: every segment header,
 * every record of every segment from the oldest (whatever the durable
 * words say), the chain of segments.  Fills *rep (may be NULL) with what it
 * found, as recovery would.  Returns 0 if the log is intact (a torn tail
 * counts: recovery would cut it; see rep->reason), -EBADMSG if corrupt
 * (rep->corrupt, bad_segment, bad_offset): a bad record with valid ones
 * after it, or an unfinished record or missing padding with valid records
 * in a later segment (iteration could not reach them; beside a running
 * writer this can also be an appending thread stalled inside a record),
 * or a segment header or name no reader can open the log past (reason
 * MMDS_LOG_CUT_BAD_SEGMENT, bad_segment and bad_lsn the oldest segment's),
 * -EFAULT (a file shrank while read), or an open error.  Works beside a
 * running writer.  A reservation in flight is stepped over (its length is
 * in its header); once no writer holds the lock it is counted in
 * rep->abandoned.
 */
MMDS_API int mmds_log_verify(const char *dir, mmds_log_report *rep);

/* mmds_log_cut_name - a short name of an enum mmds_log_cut value. */
MMDS_API const char *mmds_log_cut_name(unsigned reason);

/* ==== Named durable cursors ============================================== */
/*
 * A cursor is a reader's position in a log, stored by name in the log's
 * directory (DIR/cursors/NAME) so that a consumer resumes exactly where it
 * committed after it stopped or crashed: Kafka's consumer offsets,
 * Chronicle's named tailers.  Any process may use any cursor; one log may
 * have many.
 *
 * Position: the LSN of the next record to read.  After reading rec, commit
 * rec.next_lsn.  Commits move forward only; mmds_log_cursor_reset() moves a
 * cursor anywhere.  A commit is atomic (a crash leaves the old or the new
 * position, never a mix) and durable (it survives power loss) when it
 * returns.
 *
 * Ownership: one open handle per cursor at a time, across all processes.
 * A second open gets -EBUSY while the first one's process lives; the
 * cursor of a process that died (kill -9 included) is taken over by the
 * next open.  Names: 1 to MMDS_LOG_CURSOR_NAME_MAX bytes of A-Z a-z 0-9 _ .
 * -, not starting with '.' or '-'.
 */
typedef struct mmds_log_cursor mmds_log_cursor;

#define MMDS_LOG_CURSOR_NAME_MAX 64

/* Cursor open flags (mmds_log_cursor_opts.flags). */
enum mmds_log_cursor_flag {
	MMDS_LOG_CURSOR_CREATE = 1u << 0, /* create the cursor if it does not
	                                     exist, at opts->start */
	MMDS_LOG_CURSOR_CLAMP = 1u << 1   /* mmds_log_cursor_iter() moves a
	                                     position outside the log to its
	                                     nearest end instead of -ERANGE */
};

typedef struct mmds_log_cursor_opts {
	unsigned flags;  /* enum mmds_log_cursor_flag bits */
	unsigned mode;   /* permissions of a created cursor file; 0 = those
	                    of the log (its DIR/lock file), or 0600 */
	uint64_t start;  /* a new cursor's position: an LSN, MMDS_LOG_START
	                    (the oldest kept record, the default) or
	                    MMDS_LOG_END (the tail at creation) */
} mmds_log_cursor_opts;

/* What mmds_log_cursor_list() reports about one cursor. */
typedef struct mmds_log_cursor_info {
	char name[MMDS_LOG_CURSOR_NAME_MAX + 1];
	uint64_t position;   /* committed position (LSN of the next record) */
	uint64_t commits;    /* commits since creation, creation counting 1 */
	uint64_t commit_ns;  /* wall-clock time of the last commit (ns) */
	uint32_t owner_pid;  /* pid of the live process holding it, 0 if none */
	int status;          /* 0, or why the file is unreadable (-EBADMSG:
	                        corrupt or foreign, -ELOOP: a symbolic link,
	                        -ENOTSUP: newer format); the fields above are
	                        then 0 */
} mmds_log_cursor_info;

/*
 * mmds_log_cursor_open - open the cursor name of the log in dir (with
 * MMDS_LOG_CURSOR_CREATE, create it at opts->start if it does not exist;
 * opts may be NULL) and become its only holder.  The handle holds a
 * read-only handle of the log (for mmds_log_cursor_iter()).  Creation is
 * atomic: other processes see the whole cursor or none.  Taking over a dead
 * holder's cursor makes its last written position durable before it is
 * used.
 * Returns 0 and *out, or (with *out NULL): -EINVAL (NULL argument, bad
 * name, bad flags), -ENOENT (no log in dir, or no such cursor without
 * CREATE), -EBUSY (a live process, this one included, holds the cursor,
 * or a concurrent mmds_log_cursor_remove() keeps removing it: retry),
 * -EBADMSG (the cursor file is corrupt, truncated, not a regular file, or
 * belongs to another log), -ENOTSUP (newer cursor format or other byte
 * order), -ELOOP (the cursor file or DIR/cursors is a symbolic link: never
 * followed), -ENOMEM, or an error of opening the log or of
 * open/write/fdatasync (-EACCES, -ENOSPC, -EIO ...).
 */
MMDS_API int mmds_log_cursor_open(mmds_log_cursor **out, const char *dir,
				  const char *name,
				  const mmds_log_cursor_opts *opts);

/*
 * mmds_log_cursor_close - give the cursor up and free the handle (NULL is
 * fine).  The committed position stays in the file; nothing is written.
 * No other call on c may race with it.
 */
MMDS_API void mmds_log_cursor_close(mmds_log_cursor *c);

/* mmds_log_cursor_position - the committed position (LSN of the next
 * record to read); 0 for NULL.  Thread-safe, no system call. */
MMDS_API uint64_t mmds_log_cursor_position(const mmds_log_cursor *c);

/*
 * mmds_log_cursor_commit - store lsn as the cursor's position, atomically
 * and durably: when it returns 0 the new position survives kill -9 and
 * power loss; if the process dies inside, the cursor holds the old or the
 * new position.  lsn should be a record's next_lsn (not checked: a
 * position that is no record start makes the iterator -EBADMSG).  A commit
 * of the current position is a no-op.  Returns 0, -EINVAL (NULL c),
 * -ERANGE (lsn below the committed position: use mmds_log_cursor_reset),
 * -EPERM (another process took the cursor over: this process was thought
 * dead, or it is a child that inherited the handle through fork()),
 * -EBADMSG (the cursor file was truncated under the handle), or the
 * error of pwrite/fdatasync (-EIO, -ENOSPC ...: the position is then
 * unchanged or, after a failed fdatasync, unknown until the next open).
 * Thread-safe (a mutex); one write and one fdatasync.
 */
MMDS_API int mmds_log_cursor_commit(mmds_log_cursor *c, uint64_t lsn);

/* mmds_log_cursor_reset - as mmds_log_cursor_commit(), but lsn may lie
 * below the committed position (to read again).  Errors as commit's, less
 * -ERANGE. */
MMDS_API int mmds_log_cursor_reset(mmds_log_cursor *c, uint64_t lsn);

/* What mmds_log_cursor_iter() returns when it moved the position. */
#define MMDS_LOG_CURSOR_CLAMPED 1

/*
 * mmds_log_cursor_iter - open an iterator (of the cursor's read-only log
 * handle) at the committed position; close it with mmds_log_iter_close()
 * before the cursor.  A position below the oldest kept record (dropped by
 * retention) or beyond the log's tail (the log was cut by recovery after a
 * power loss, or the cursor came from another log) is -ERANGE, or, with
 * MMDS_LOG_CURSOR_CLAMP, is moved to that end of the log and committed
 * (durably, as by mmds_log_cursor_reset) and MMDS_LOG_CURSOR_CLAMPED is
 * returned.  Returns 0, MMDS_LOG_CURSOR_CLAMPED, -EINVAL (NULL argument),
 * -ERANGE, -ENOMEM, or an error of the reset (as commit's).
 * Thread-safe; walks the log's last segment to find its tail.
 */
MMDS_API int mmds_log_cursor_iter(mmds_log_cursor *c, mmds_log_iter **it);

/*
 * mmds_log_cursor_list - the cursors of the log in dir, sorted by name:
 * fills out[0 .. min(n, cap) - 1] and returns n, the number of cursors
 * (>= 0; out may be NULL when cap is 0).  A cursor file that cannot be read
 * is listed with its name and a negative status.  Reads without writing
 * (safe beside running holders).  Errors: -EINVAL (NULL dir, or out NULL
 * with cap > 0), -ENOENT (no log in dir), -ELOOP (DIR/cursors is a
 * symbolic link), -ENOMEM, or an error of opening the log or of
 * opendir/readdir.
 */
MMDS_API int mmds_log_cursor_list(const char *dir, mmds_log_cursor_info *out,
				  size_t cap);

/*
 * mmds_log_cursor_remove - delete the cursor name of the log in dir, and
 * make the deletion durable.  Returns 0, -EINVAL (NULL or bad name),
 * -ENOENT (no such cursor), -EBUSY (a live process holds it), -ELOOP,
 * -EBADMSG (not a cursor file: left alone), or an error of unlink/fsync.
 */
MMDS_API int mmds_log_cursor_remove(const char *dir, const char *name);

/*
 * mmds_log_retain_cursors - mmds_log_retain(log, m), where m is the least
 * of lsn and every cursor's committed position: retention that keeps
 * whatever the slowest cursor has not read.  dir is log's directory (the
 * two must be the same log: checked by the log's id).  A cursor created or
 * reset below m while this runs is not protected.  A cursor that never
 * moves keeps every segment from its position on: remove the cursors of
 * consumers that are gone.  Returns the number of segment files deleted
 * (>= 0), -EINVAL (NULL argument, or dir is another log), -EACCES (log is a
 * reader), -EBADMSG / -ELOOP / -ENOTSUP (a cursor file cannot be read:
 * nothing is dropped), or an error of mmds_log_cursor_list or
 * mmds_log_retain.  Thread-safe.
 */
MMDS_API int mmds_log_retain_cursors(mmds_log *log, const char *dir,
				     uint64_t lsn);
/* ==== end of named durable cursors ======================================= */

#ifdef __cplusplus
}
#endif

#endif /* MMDS_LOG_H */
