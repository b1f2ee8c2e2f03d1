/* ship_sink.h - what the log shipper (log_ship.c) needs from a destination:
 * log_ship.c owns the cursor, the in-flight window, the commit rule and the
 * retry loop; a sink (ship_nats.c; a Kafka sink would be a second one) owns
 * the connection, publishing and the broker's de-duplication and ordering
 * checks.  Every call but complete's callback runs on the shipper's thread.
 */
#ifndef MMDS_SHIP_SINK_H
#define MMDS_SHIP_SINK_H

#include <stdint.h>

#include <mmds/log.h>
#include <mmds/ship.h>

/* One finished publish, reported by poll. */
struct mmds__ship_done {
	uint64_t lsn;   /* the record's LSN, as passed to publish */
	int status;     /* 0 stored, 1 a duplicate the destination discarded,
	                   or a negative errno: not known to be stored (timed
	                   out, refused for order, connection lost) */
};

/* Where the destination stands (resume). */
struct mmds__ship_tail {
	int empty;      /* 1: the destination holds no message */
	int foreign;    /* 1: its last message is not one of this log's */
	uint64_t lsn;   /* else the LSN its last message carries */
};

struct mmds__ship_sink_ops {
	const char *name;
	/* Connect and check the destination (exists, de-duplication window).
	 * 0, or a negative errno: -ENOENT, -EINVAL (configuration the sink
	 * refuses), or a transient error (-ECONNREFUSED, -ETIMEDOUT ...) the
	 * shipper retries after a backoff. */
	int (*open)(void **sink, const mmds_ship_opts *o, uint64_t log_id);
	/* With nothing in flight, find the destination's last message and
	 * restart the sink's ordering chain after it.  Same errors. */
	int (*resume)(void *sink, struct mmds__ship_tail *tail);
	/* Start publishing rec (copied before the call returns); its result
	 * comes later from poll.  0 or a negative errno (then nothing was
	 * sent and no result will come). */
	int (*publish)(void *sink, const mmds_log_record *rec);
	/* Fill up to cap results and return how many (>= 0), waiting up to
	 * timeout_ms (0: do not wait) for the first one. */
	int (*poll)(void *sink, struct mmds__ship_done *out, int cap,
		    int timeout_ms);
	/* Forget everything in flight (results of it may never come) and
	 * disconnect; free the sink.  NULL is fine. */
	void (*close)(void *sink);
};

/* The NATS JetStream sink (ship_nats.c). */
extern const struct mmds__ship_sink_ops mmds__ship_nats;

/* A state-change line through the caller's log_fn (log_ship.c). */
void mmds__ship_say(const mmds_ship_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* MMDS_SHIP_SINK_H */
