/* ship_nats.c - the NATS JetStream sink of the log shipper (ship_sink.h).
 *
 * Asynchronous JetStream publishes with a message id per record (the
 * stream's de-duplication) and an
 * ordering chain: every message after the first since a resume expects the
 * previous one as the stream's last (Nats-Expected-Last-Msg-Id), the first
 * expects the stream's last sequence, so a message that would land after
 * a lost one is refused instead of stored out of order.  Acknowledgements
 * arrive on the client's thread and are queued for poll.  No timeout per
 * publish (the client's MaxWait scans every pending publish on each tick,
 * which halved the rate): log_ship.c times out the oldest one itself.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "ship_sink.h"

#define ID_MAX 48

struct nsink {
	const mmds_ship_opts *o;
	uint64_t log_id;
	char log_hex[17];
	natsConnection *nc;
	jsCtx *js;
	/* the ordering chain: what the next publish expects */
	char prev_id[ID_MAX];  /* "" = expect prev_seq instead */
	uint64_t prev_seq;     /* 0 = expect nothing (empty stream) */
	pthread_mutex_t mu;    /* guards the queue below */
	pthread_cond_t cv;
	struct mmds__ship_done *q;
	size_t qn, qcap;
	int qlost;             /* a result could not be queued (no memory) */
	int used;              /* an async publish was made (the client's
	                          pending list exists only then) */
};

static int from_nats(natsStatus s)
{
	switch (s) {
	case NATS_OK: return 0;
	case NATS_TIMEOUT: return -ETIMEDOUT;
	case NATS_NO_MEMORY: return -ENOMEM;
	case NATS_MAX_PAYLOAD: return -EMSGSIZE;
	case NATS_NOT_FOUND: return -ENOENT;
	case NATS_NO_SERVER:
	case NATS_NOT_YET_CONNECTED: return -ECONNREFUSED;
	case NATS_CONNECTION_CLOSED:
	case NATS_CONNECTION_DISCONNECTED:
	case NATS_STALE_CONNECTION: return -ENOTCONN;
	case NATS_NO_RESPONDERS: return -EHOSTUNREACH; /* no stream leader */
	case NATS_INSUFFICIENT_BUFFER: return -ENOBUFS;
	case NATS_INVALID_ARG: return -EINVAL;
	default: return -EIO;
	}
}

/* Called on the client's thread.  No connection callbacks (disconnected,
 * reconnected) are registered: the client runs them on its own thread,
 * possibly after nats_close() freed the sink; the shipper logs what it
 * sees itself.  Acknowledgements cannot outlive the sink: nats_close()
 * takes the client's pending list first, and an acknowledgement whose
 * publish is no longer pending is dropped by the client. */
static void on_ack(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae,
		   void *closure)
{
	struct nsink *s = closure;
	struct mmds__ship_done d = { 0, -EIO };
	const char *v = NULL;

	(void)js;
	if (natsMsgHeader_Get(m, "Mmds-Lsn", &v) == NATS_OK && v)
		d.lsn = strtoull(v, NULL, 10);
	if (pa)
		d.status = pa->Duplicate ? 1 : 0;
	else if (pae && (pae->ErrCode == JSStreamWrongLastMsgIDErr ||
			 pae->ErrCode == JSStreamWrongLastSequenceErr))
		d.status = -EPIPE; /* refused for order: one before it is missing */
	else if (pae)
		d.status = from_nats(pae->Err) ? from_nats(pae->Err) : -EIO;
	natsMsg_Destroy(m);
	pthread_mutex_lock(&s->mu);
	if (s->qn == s->qcap) {
		size_t cap = s->qcap ? s->qcap * 2 : 1024;
		void *q = realloc(s->q, cap * sizeof(*s->q));

		if (q) {
			s->q = q;
			s->qcap = cap;
		}
	}
	if (s->qn < s->qcap)
		s->q[s->qn++] = d;
	else
		s->qlost = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* url: one server or several separated by commas (a cluster) */
static natsStatus set_servers(natsOptions *no, const char *url)
{
	char *copy = strdup(url), *p, *save = NULL;
	const char *v[64];
	int n = 0;
	natsStatus st;

	if (copy == NULL)
		return NATS_NO_MEMORY;
	for (p = strtok_r(copy, ", ", &save); p && n < 64; p = strtok_r(NULL, ", ", &save))
		v[n++] = p;
	st = n ? natsOptions_SetServers(no, v, n) : NATS_INVALID_ARG;
	free(copy);
	return st;
}

static void nats_close(void *p)
{
	struct nsink *s = p;
	natsMsgList pend;

	if (s == NULL)
		return;
	/* pending list first: a reply that comes after finds nothing and
	 * never reaches on_ack; then wait out an on_ack already running */
	if (s->js && s->used && js_PublishAsyncGetPendingList(&pend, s->js) == NATS_OK)
		natsMsgList_Destroy(&pend);
	if (s->nc)
		natsConnection_Close(s->nc);
	pthread_mutex_lock(&s->mu);
	pthread_mutex_unlock(&s->mu);
	if (s->js)
		jsCtx_Destroy(s->js);
	if (s->nc)
		natsConnection_Destroy(s->nc);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->q);
	free(s);
}

static int stream_info(struct nsink *s, jsStreamInfo **si)
{
	jsErrCode ec = 0;
	natsStatus st = js_GetStreamInfo(si, s->js, s->o->stream, NULL, &ec);

	if (st == NATS_OK)
		return 0;
	if (ec == JSStreamNotFoundErr || st == NATS_NOT_FOUND)
		return -ENOENT;
	return from_nats(st) == -EIO ? -EHOSTUNREACH : from_nats(st);
}

static int nats_open(void **out, const mmds_ship_opts *o, uint64_t log_id)
{
	struct nsink *s = calloc(1, sizeof(*s));
	natsOptions *no = NULL;
	jsOptions jo;
	jsStreamInfo *si = NULL;
	pthread_condattr_t ca;
	natsStatus st;
	int rc;

	*out = NULL;
	if (s == NULL)
		return -ENOMEM;
	s->o = o;
	s->log_id = log_id;
	snprintf(s->log_hex, sizeof(s->log_hex), "%016" PRIx64, log_id);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);

	st = natsOptions_Create(&no);
	if (st == NATS_OK)
		st = set_servers(no, o->url);
	/* the client reconnects by itself while the shipper holds it open;
	 * the shipper's own backoff covers the time it cannot */
	if (st == NATS_OK)
		st = natsOptions_SetMaxReconnect(no, -1);
	if (st == NATS_OK)
		st = natsOptions_SetReconnectWait(no, 100);
	if (st == NATS_OK)
		st = natsOptions_SetTimeout(no, 2000);
	if (st == NATS_OK)
		st = natsConnection_Connect(&s->nc, no);
	natsOptions_Destroy(no);
	if (st != NATS_OK) {
		rc = st == NATS_INVALID_ARG ? -EINVAL : from_nats(st);
		if (rc == -EIO)
			rc = -ECONNREFUSED;
		nats_close(s);
		return rc;
	}
	jsOptions_Init(&jo);
	jo.Wait = o->ack_timeout_ms;
	jo.PublishAsync.AckHandler = on_ack;
	jo.PublishAsync.AckHandlerClosure = s;
	/* the shipper bounds what is in flight itself: the client's bound is
	 * only a guard above it */
	jo.PublishAsync.MaxPending = (int64_t)o->max_pending + 64;
	st = natsConnection_JetStream(&s->js, s->nc, &jo);
	if (st != NATS_OK) {
		nats_close(s);
		return from_nats(st);
	}
	rc = stream_info(s, &si);
	if (rc) {
		nats_close(s);
		return rc;
	}
	if (o->min_dup_window_ms >= 0 &&
	    si->Config->Duplicates < o->min_dup_window_ms * 1000000) {
		mmds__ship_say(o, "stream %s: Duplicates window %" PRId64 " ms is shorter "
			       "than the %" PRId64 " ms required: refused (docs/SHIPPING.md)",
			       o->stream, si->Config->Duplicates / 1000000,
			       o->min_dup_window_ms);
		jsStreamInfo_Destroy(si);
		nats_close(s);
		return -EINVAL;
	}
	jsStreamInfo_Destroy(si);
	*out = s;
	return 0;
}

static int nats_resume(void *p, struct mmds__ship_tail *t)
{
	struct nsink *s = p;
	jsStreamInfo *si = NULL;
	natsMsg *m = NULL;
	jsErrCode ec = 0;
	const char *v = NULL;
	uint64_t last;
	natsStatus st;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = stream_info(s, &si);
	if (rc)
		return rc;
	last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	s->prev_id[0] = '\0';
	s->prev_seq = last;
	if (last == 0) {
		t->empty = 1;
		return 0;
	}
	st = js_GetMsg(&m, s->js, s->o->stream, last, NULL, &ec);
	if (st != NATS_OK) {
		/* the last message was deleted: it is nobody's we can name */
		if (st == NATS_NOT_FOUND || ec == JSNoMessageFoundErr) {
			t->foreign = 1;
			return 0;
		}
		return from_nats(st) == -EIO ? -EHOSTUNREACH : from_nats(st);
	}
	if (natsMsgHeader_Get(m, "Mmds-Log-Id", &v) != NATS_OK || v == NULL ||
	    strcmp(v, s->log_hex) != 0 ||
	    natsMsgHeader_Get(m, "Mmds-Lsn", &v) != NATS_OK || v == NULL)
		t->foreign = 1;
	else
		t->lsn = strtoull(v, NULL, 10);
	natsMsg_Destroy(m);
	return 0;
}

static int nats_publish(void *p, const mmds_log_record *rec)
{
	struct nsink *s = p;
	natsMsg *m = NULL;
	jsPubOptions po;
	char id[ID_MAX], lsn[24], type[8];
	natsStatus st;

	snprintf(id, sizeof(id), "%s:%" PRIu64, s->log_hex, rec->lsn);
	snprintf(lsn, sizeof(lsn), "%" PRIu64, rec->lsn);
	snprintf(type, sizeof(type), "%u", (unsigned)rec->type);
	st = natsMsg_Create(&m, s->o->subject, NULL, rec->data, (int)rec->len);
	if (st == NATS_OK)
		st = natsMsgHeader_Set(m, "Mmds-Log-Id", s->log_hex);
	if (st == NATS_OK)
		st = natsMsgHeader_Set(m, "Mmds-Lsn", lsn);
	if (st == NATS_OK)
		st = natsMsgHeader_Set(m, "Mmds-Type", type);
	if (st != NATS_OK) {
		natsMsg_Destroy(m);
		return from_nats(st);
	}
	jsPubOptions_Init(&po);
	po.MsgId = id;
	if (s->prev_id[0])
		po.ExpectLastMsgId = s->prev_id;
	else
		po.ExpectLastSeq = s->prev_seq;
	s->used = 1;
	st = js_PublishMsgAsync(s->js, &m, &po);
	natsMsg_Destroy(m); /* NULL when the client took it */
	if (st != NATS_OK)
		return from_nats(st);
	memcpy(s->prev_id, id, sizeof(id));
	return 0;
}

static int nats_poll(void *p, struct mmds__ship_done *out, int cap,
		     int timeout_ms)
{
	struct nsink *s = p;
	struct timespec dl;
	int n;

	pthread_mutex_lock(&s->mu);
	if (s->qn == 0 && timeout_ms > 0) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += timeout_ms / 1000;
		dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (dl.tv_nsec >= 1000000000) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000;
		}
		while (s->qn == 0 &&
		       pthread_cond_timedwait(&s->cv, &s->mu, &dl) == 0)
			;
	}
	n = s->qn < (size_t)cap ? (int)s->qn : cap;
	if (n > 0) { /* s->q is NULL before the first result */
		memcpy(out, s->q, (size_t)n * sizeof(*out));
		memmove(s->q, s->q + n, (s->qn - (size_t)n) * sizeof(*out));
		s->qn -= (size_t)n;
	}
	if (s->qlost) {
		/* a result was lost: make the shipper resume, which is safe */
		s->qlost = 0;
		if (n < cap)
			out[n++] = (struct mmds__ship_done){ 0, -ENOMEM };
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

const struct mmds__ship_sink_ops mmds__ship_nats = {
	.name = "nats",
	.open = nats_open,
	.resume = nats_resume,
	.publish = nats_publish,
	.poll = nats_poll,
	.close = nats_close,
};
