/* log_ship.c - mmds_log_ship(): follow a log from a named cursor and ship
 * its records through a sink (ship_sink.h), exactly once (mmds/ship.h).
 *
 * Built on the log's public API only.  The in-flight window is a ring of
 * (lsn, next_lsn, state) in publish order; results come in any order, and
 * the acknowledged prefix of the ring is what the cursor may commit.  Any
 * failure closes the sink (everything in flight is forgotten), waits a
 * doubling backoff, reconnects, asks the destination for its last LSN and
 * goes on from the acknowledged prefix, skipping what the destination
 * already holds.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mmds/log.h>
#include <mmds/ship.h>

#include "futex.h"
#include "ship_sink.h"

void mmds__ship_say(const mmds_ship_opts *o, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (o->log_fn)
		o->log_fn(o->log_arg, line);
	else
		fprintf(stderr, "mmds ship: %s\n", line);
}

#ifndef HAVE_NATS

MMDS_API int mmds_log_ship(const char *dir, const mmds_ship_opts *opts,
			   mmds_ship_stats *stats)
{
	(void)dir;
	(void)opts;
	if (stats)
		memset(stats, 0, sizeof(*stats));
	return -ENOTSUP;
}

#else

enum { PENDING = 0, DONE = 1 };

struct slot {
	uint64_t lsn, next;
	uint64_t sent_ns;        /* when it was published */
	int state;
};

struct shipper {
	mmds_ship_opts o;
	const struct mmds__ship_sink_ops *ops;
	void *sink;
	mmds_log *log;
	mmds_log_iter *it;
	mmds_log_cursor *cur;
	struct slot *win;
	size_t head, n;          /* ring: oldest at head, n in flight */
	uint64_t acked;          /* end of the acknowledged prefix */
	uint64_t skip_to;        /* records below it are in the destination */
	uint64_t last_commit_ns;
	int backoff_ms;
	mmds_ship_stats st;
};

/* Messages name system errors too (-ECONNREFUSED ...), which
 * mmds_strerror() does not: the API returns none of them. */
static const char *why(int rc)
{
	return strerror(-rc);
}

static int stopping(const struct shipper *s)
{
	return s->o.stop && *s->o.stop;
}

static void sleep_ms(const struct shipper *s, int ms)
{
	/* in slices, so that a stop request is seen soon */
	while (ms > 0 && !stopping(s)) {
		int d = ms < 50 ? ms : 50;
		struct timespec ts = { 0, (long)d * 1000000 };

		nanosleep(&ts, NULL);
		ms -= d;
	}
}

static int commit(struct shipper *s, int force)
{
	uint64_t now = mmds__mono_ns();
	int rc;

	if (s->acked <= mmds_log_cursor_position(s->cur))
		return 0;
	if (!force && now - s->last_commit_ns <
	    (uint64_t)s->o.commit_interval_ms * 1000000)
		return 0;
	rc = mmds_log_cursor_commit(s->cur, s->acked);
	if (rc)
		return rc;
	s->last_commit_ns = now;
	s->st.commits++;
	return 0;
}

/* The ring slot of lsn (the ring is sorted by lsn), or NULL. */
static struct slot *find(struct shipper *s, uint64_t lsn)
{
	size_t cap = s->o.max_pending, lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct slot *e = &s->win[(s->head + mid) % cap];

		if (e->lsn == lsn)
			return e;
		if (e->lsn < lsn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Take results; 0, or -EAGAIN when one failed (the caller resumes). */
static int reap(struct shipper *s, int timeout_ms)
{
	struct mmds__ship_done d[256];
	size_t cap = s->o.max_pending;
	int k, failed = 0;

	k = s->ops->poll(s->sink, d, 256, timeout_ms);
	for (int i = 0; i < k; i++) {
		struct slot *e = d[i].status >= 0 ? find(s, d[i].lsn) : NULL;

		if (d[i].status < 0) {
			if (!failed)
				mmds__ship_say(&s->o, "publish of LSN %" PRIu64 " failed: %s; "
					       "%zu in flight dropped, resuming",
					       d[i].lsn, d[i].status == -EPIPE ?
					       "refused, a message before it is missing" :
					       why(d[i].status), s->n);
			failed = 1;
			continue;
		}
		if (e == NULL || e->state == DONE)
			continue; /* a late result of a forgotten publish */
		e->state = DONE;
		if (d[i].status == 1)
			s->st.duplicates++;
		else
			s->st.acked++;
	}
	while (s->n && s->win[s->head].state == DONE) {
		s->acked = s->win[s->head].next;
		s->head = (s->head + 1) % cap;
		s->n--;
		s->backoff_ms = 0;
	}
	/* results come in publish order: the oldest waits longest */
	if (!failed && s->n && mmds__mono_ns() - s->win[s->head].sent_ns >
	    (uint64_t)s->o.ack_timeout_ms * 1000000) {
		mmds__ship_say(&s->o, "no acknowledgement of LSN %" PRIu64 " within %d ms; "
			       "%zu in flight dropped, resuming", s->win[s->head].lsn,
			       s->o.ack_timeout_ms, s->n);
		failed = 1;
	}
	return failed ? -EAGAIN : 0;
}

/* Reposition the iterator at the acknowledged prefix. */
static int reopen_iter(struct shipper *s)
{
	mmds_log_iter_close(s->it);
	s->it = NULL;
	return mmds_log_iter_open(&s->it, s->log, s->acked);
}

static int fatal(int rc)
{
	return rc == -ENOENT || rc == -EINVAL || rc == -EEXIST ||
	       rc == -EMSGSIZE || rc == -ENOMEM;
}

/* Drop what is in flight and the connection, wait (unless first), connect,
 * find where the destination stands, reposition.  0 (resumed, or stopping),
 * or a fatal error. */
static int resume(struct shipper *s, uint64_t log_id, int first)
{
	struct mmds__ship_tail t;
	int rc;

	for (;; first = 0) {
		s->ops->close(s->sink);
		s->sink = NULL;
		s->n = 0;
		if (stopping(s))
			return 0;
		if (!first) {
			if (s->backoff_ms == 0)
				s->backoff_ms = 50;
			mmds__ship_say(&s->o, "retrying in %d ms", s->backoff_ms);
			sleep_ms(s, s->backoff_ms);
			if (stopping(s))
				return 0;
			s->backoff_ms = s->backoff_ms * 2 > s->o.backoff_max_ms ?
					s->o.backoff_max_ms : s->backoff_ms * 2;
			s->st.retries++;
		}
		rc = s->ops->open(&s->sink, &s->o, log_id);
		if (rc == 0)
			rc = s->ops->resume(s->sink, &t);
		if (rc && fatal(rc)) {
			mmds__ship_say(&s->o, "%s: stream %s: %s", s->o.url, s->o.stream,
				       rc == -ENOENT ? "no such stream" : why(rc));
			return rc;
		}
		if (rc) {
			mmds__ship_say(&s->o, "%s: server unavailable: %s", s->o.url,
				       why(rc));
			continue;
		}
		if (t.foreign) {
			mmds__ship_say(&s->o, "stream %s: its last message is not one of "
				       "this log's (log id %016" PRIx64 "): refused",
				       s->o.stream, log_id);
			return -EEXIST;
		}
		s->skip_to = t.empty ? 0 : t.lsn + 1;
		if (!t.empty && t.lsn < s->acked) {
			mmds_log_record r;

			/* the cursor is ahead of the stream: warn unless the
			 * stream ends with the record just before the cursor */
			if (mmds_log_read(s->log, t.lsn, NULL, 0, &r) < 0 ||
			    r.next_lsn < s->acked)
				mmds__ship_say(&s->o, "stream %s ends at LSN %" PRIu64 ", below "
					       "the cursor's %" PRIu64 ": the records between "
					       "are not in it", s->o.stream, t.lsn, s->acked);
		}
		rc = reopen_iter(s);
		if (rc)
			return rc;
		if (t.empty)
			mmds__ship_say(&s->o, "connected to %s, stream %s (empty): shipping "
				       "from LSN %" PRIu64, s->o.url, s->o.stream, s->acked);
		else
			mmds__ship_say(&s->o, "connected to %s, stream %s: shipping from LSN "
				       "%" PRIu64 ", after the stream's last, LSN %" PRIu64,
				       s->o.url, s->o.stream, s->acked, t.lsn);
		return 0;
	}
}

/* Start publishes while there is room; 1 when caught up with the log, 0,
 * -EAGAIN (a publish failed: resume), or a fatal error. */
static int fill(struct shipper *s)
{
	size_t cap = s->o.max_pending;
	mmds_log_record r;
	int rc;

	while (s->n < cap) {
		rc = mmds_log_iter_next(s->it, &r);
		if (rc == -EAGAIN)
			return 1;
		if (rc)
			return rc;
		if (r.lsn < s->skip_to) {
			/* the destination holds it already: acknowledged */
			s->st.skipped++;
			if (s->n == 0)
				s->acked = r.next_lsn;
			else
				s->win[(s->head + s->n++) % cap] =
					(struct slot){ r.lsn, r.next_lsn, 0, DONE };
			continue;
		}
		rc = s->ops->publish(s->sink, &r);
		if (rc == -EMSGSIZE) {
			mmds__ship_say(&s->o, "record at LSN %" PRIu64 " (%" PRIu32 " bytes) "
				       "is larger than the server accepts", r.lsn, r.len);
			return rc;
		}
		if (rc) {
			mmds__ship_say(&s->o, "publish of LSN %" PRIu64 ": %s; resuming",
				       r.lsn, why(rc));
			return -EAGAIN;
		}
		s->win[(s->head + s->n++) % cap] =
			(struct slot){ r.lsn, r.next_lsn, mmds__mono_ns(), PENDING };
		s->st.published++;
	}
	return 0;
}

static int run(struct shipper *s, uint64_t log_id)
{
	int rc, caught = 0, said_caught = 0;

	rc = resume(s, log_id, 1);
	while (rc == 0 && !stopping(s)) {
		rc = fill(s);
		caught = rc == 1;
		if (rc == 1 || rc == 0)
			rc = reap(s, s->n == s->o.max_pending ? 100 :
				  caught && s->n ? 5 : 0);
		if (rc == 0)
			rc = commit(s, caught && s->n == 0);
		if (rc == -EAGAIN) {
			rc = resume(s, log_id, 0);
			said_caught = 0;
			continue;
		}
		if (rc)
			break;
		if (caught && s->n == 0) {
			if (!said_caught)
				mmds__ship_say(&s->o, "caught up at LSN %" PRIu64, s->acked);
			said_caught = 1;
			if (s->o.flags & MMDS_SHIP_UNTIL_CAUGHT_UP)
				break;
			rc = mmds_log_iter_wait(s->it, 100);
			if (rc == -ETIMEDOUT)
				rc = 0;
		} else if (!caught) {
			said_caught = 0;
		}
	}
	if (rc == 0 && s->sink) {
		/* stopping: take what is acknowledged already, briefly */
		uint64_t until = mmds__mono_ns() + 1000000000ull;

		while (s->n && mmds__mono_ns() < until && reap(s, 50) == 0)
			;
	}
	if (rc == 0 || rc == -EAGAIN)
		rc = commit(s, 1);
	else
		commit(s, 1); /* what was acknowledged stays shipped */
	return rc;
}

MMDS_API int mmds_log_ship(const char *dir, const mmds_ship_opts *opts,
			   mmds_ship_stats *stats)
{
	struct shipper s;
	mmds_log_info info;
	mmds_log_iter *it = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (dir == NULL || opts == NULL || opts->url == NULL || !opts->url[0] ||
	    opts->stream == NULL || !opts->stream[0] || opts->subject == NULL ||
	    !opts->subject[0] || opts->max_pending > (1u << 20) ||
	    opts->ack_timeout_ms < 0 || opts->backoff_max_ms < 0 ||
	    opts->commit_interval_ms < 0 ||
	    (opts->flags & ~(unsigned)(MMDS_SHIP_UNTIL_CAUGHT_UP | MMDS_SHIP_CREATE_CURSOR)))
		return -EINVAL;
	s.o = *opts;
	if (s.o.cursor == NULL)
		s.o.cursor = "ship";
	if (s.o.max_pending == 0)
		s.o.max_pending = 4096;
	if (s.o.ack_timeout_ms == 0)
		s.o.ack_timeout_ms = 5000;
	if (s.o.backoff_max_ms == 0)
		s.o.backoff_max_ms = 5000;
	if (s.o.commit_interval_ms == 0)
		s.o.commit_interval_ms = 200;
	if (s.o.min_dup_window_ms == 0)
		s.o.min_dup_window_ms = 60000;
	s.ops = &mmds__ship_nats;

	s.win = calloc(s.o.max_pending, sizeof(*s.win));
	if (s.win == NULL)
		return -ENOMEM;
	rc = mmds_log_open(&s.log, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });
	if (rc == 0)
		rc = mmds_log_get_info(s.log, &info);
	if (rc == 0)
		rc = mmds_log_cursor_open(&s.cur, dir, s.o.cursor,
					  &(mmds_log_cursor_opts){
						  .flags = (opts->flags & MMDS_SHIP_CREATE_CURSOR) ?
							   MMDS_LOG_CURSOR_CREATE : 0 });
	/* the cursor's own check that its position lies inside the log */
	if (rc == 0)
		rc = mmds_log_cursor_iter(s.cur, &it);
	mmds_log_iter_close(it);
	if (rc == 0) {
		s.acked = mmds_log_cursor_position(s.cur);
		s.last_commit_ns = mmds__mono_ns();
		rc = run(&s, info.log_id);
	}
	s.st.position = mmds_log_cursor_position(s.cur);
	if (rc == 0)
		mmds__ship_say(&s.o, "stopped; cursor %s at LSN %" PRIu64, s.o.cursor,
			       s.st.position);
	if (stats)
		*stats = s.st;
	s.ops->close(s.sink);
	mmds_log_iter_close(s.it);
	mmds_log_cursor_close(s.cur);
	mmds_log_close(s.log);
	free(s.win);
	return rc;
}

#endif /* HAVE_NATS */
