/*
 * mmds/ship.h - ship a log into NATS JetStream, exactly once.
 *
 * mmds_log_ship() follows a log from a named durable cursor (mmds/log.h)
 * and publishes each record to a JetStream stream, many publishes in
 * flight, and commits the cursor only up to the highest LSN below which
 * every publish was acknowledged.  Each message carries:
 *
 *   Nats-Msg-Id   "<log id, 16 hex digits>:<LSN, decimal>"  (de-duplication)
 *   Mmds-Log-Id   the log's id (mmds_log_info.log_id), 16 hex digits
 *   Mmds-Lsn      the record's LSN, decimal
 *   Mmds-Type     the record's type, decimal
 *
 * and the record's payload as its data, on one subject.
 *
 * Exactly once, in log order: after a kill -9 of the shipper, a server
 * restart or a lost connection, the shipper asks the stream for its last
 * message and goes on after the LSN that message carries, so nothing is
 * sent twice that the stream already holds; the re-sent messages that
 * were in flight are discarded by JetStream's de-duplication (the
 * stream's Duplicates window must be longer than the longest outage); and
 * every message but the first after a resume says which message must
 * precede it (Nats-Expected-Last-Msg-Id), so the stream refuses one that
 * would land after a gap, and the shipper goes back and re-sends from the
 * gap.  The stream must therefore hold this log's records only (the
 * shipper checks the last message when it starts: -EEXIST otherwise).
 * docs/SHIPPING.md has the setup and the full argument.
 *
 * Built when libnats (libnats-dev) was found at configure time; otherwise
 * mmds_log_ship() returns -ENOTSUP.
 */
#ifndef MMDS_SHIP_H
#define MMDS_SHIP_H

#include <signal.h>
#include <stdint.h>

#include <mmds/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags (mmds_ship_opts.flags). */
enum mmds_ship_flag {
	MMDS_SHIP_UNTIL_CAUGHT_UP = 1u << 0, /* return 0 once every record
	                                        published when the shipper
	                                        last found nothing new is
	                                        acknowledged and committed,
	                                        instead of following the log */
	MMDS_SHIP_CREATE_CURSOR = 1u << 1    /* create the cursor (at the
	                                        log's oldest record) if it
	                                        does not exist */
};

/* What the shipper reports to mmds_ship_opts.log_fn: one line per state
 * change (connected, server down, retrying in N ms, resumed at LSN ...). */
typedef void mmds_ship_log_fn(void *arg, const char *line);

typedef struct mmds_ship_opts {
	const char *url;          /* NATS server URL, or several separated by
	                             commas (a cluster); required */
	const char *stream;       /* JetStream stream name; the stream must
	                             exist and take subject; required */
	const char *subject;      /* subject of every message; required */
	const char *cursor;       /* cursor name; NULL = "ship" */
	unsigned flags;           /* enum mmds_ship_flag bits */
	unsigned max_pending;     /* publishes in flight; 0 = 4096 */
	int ack_timeout_ms;       /* a publish not acknowledged by then is
	                             re-sent; 0 = 5000 */
	int backoff_max_ms;       /* the longest wait between retries (the
	                             wait doubles from 50 ms); 0 = 5000 */
	int commit_interval_ms;   /* commit the cursor at most this often
	                             (and when idle); 0 = 200 */
	int64_t min_dup_window_ms; /* refuse (-EINVAL) a stream whose
	                             Duplicates window is shorter; 0 = 60000,
	                             < 0 = do not check */
	const volatile sig_atomic_t *stop; /* if not NULL, return 0 soon after *stop
	                             becomes non-zero (e.g. set by a signal
	                             handler); what was acknowledged is
	                             committed first */
	mmds_ship_log_fn *log_fn; /* state-change lines, called on the
	                             calling thread; NULL = stderr */
	void *log_arg;
} mmds_ship_opts;

/* Counters of one mmds_log_ship() call (mmds_log_ship's stats). */
typedef struct mmds_ship_stats {
	uint64_t published;    /* messages handed to the client, re-sends
	                          included */
	uint64_t acked;        /* new messages the stream stored */
	uint64_t duplicates;   /* re-sends the stream discarded as duplicates */
	uint64_t skipped;      /* records after the cursor that the stream
	                          already held at a resume: not re-sent */
	uint64_t retries;      /* resumes after a failure */
	uint64_t commits;      /* cursor commits */
	uint64_t position;     /* the cursor's committed position at return */
} mmds_ship_stats;

/*
 * mmds_log_ship - ship the log in dir to JetStream from the cursor
 * opts->cursor (see the top of this header), until *opts->stop is set or,
 * with MMDS_SHIP_UNTIL_CAUGHT_UP, until it has caught up with the log.
 * A server that is down, slow or without a stream leader makes it wait
 * and retry with a doubling backoff: it never drops a record, never gives
 * up and never spins.  Holds the cursor for the whole call (a second
 * shipper on the same cursor gets -EBUSY).  stats may be NULL; it is
 * filled on every return.  Returns 0 (stopped or caught up), or:
 * -EINVAL (a NULL or empty required option, max_pending above 1 << 20, or
 * the stream's Duplicates window is shorter than min_dup_window_ms),
 * -ENOTSUP (built without libnats), -ENOENT (no log in dir, no such cursor
 * without MMDS_SHIP_CREATE_CURSOR, or the server has no such stream),
 * -EEXIST (the stream's last message is not one of this log's: another
 * log or publisher writes to it), -EBUSY (the cursor is held),
 * -ERANGE (the cursor lies outside the log: retention dropped records it
 * had not shipped, or recovery cut the log below it), -EBADMSG (a corrupt
 * record or cursor file), -EMSGSIZE (a record larger than the server's
 * max_payload), -ENOMEM, or an error of reading the log or committing the
 * cursor (-EIO ...).  Not thread-safe with itself on the same cursor; any
 * number may run on different cursors or logs.
 */
MMDS_API int mmds_log_ship(const char *dir, const mmds_ship_opts *opts,
			   mmds_ship_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* MMDS_SHIP_H */
