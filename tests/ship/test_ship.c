/* test_ship.c - mmds_log_ship() and `mmds log ship` against real
 * nats-server processes on 127.0.0.1: every record in the stream once, in
 * log order, payload, type and LSN matching, after kill -9 of the shipper,
 * a server restart, and the loss of a cluster node; and the failure paths.
 * MMDS_SHIP_RECORDS: records of the single-server test (default 200000;
 * make torture-ship: 1000000); MMDS_SHIP_KILLS: shipper kills (default 30). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <mmds.h>
#include <mmds/ship.h>

#include "t_util.h"

#ifdef HAVE_NATS
#include <nats/nats.h>

#include "t_nats.h"

#define SUBJ "mmds.log"
#define SEG (4u << 20)

static long env_num(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : def;
}

static void need_server(void)
{
	if (t_nats_server() == NULL)
		t_skip("nats-server not found (apt-get install nats-server)");
}

/* Record i: a length, type and payload all derived from i. */
static size_t rec_len(uint64_t i) { return (size_t)((i * 37) % 181); }
static uint16_t rec_type(uint64_t i) { return (uint16_t)(i * 31 + 1); }
static void rec_fill(uint64_t i, unsigned char *b)
{
	size_t n = rec_len(i);

	for (size_t k = 0; k < n; k++)
		b[k] = (unsigned char)(i + k * 13);
	if (n >= 8)
		memcpy(b, &i, 8);
}

static mmds_log *open_writer(const char *dir)
{
	mmds_log *l;
	int rc = mmds_log_open(&l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							   .segment_size = SEG });

	ck_assert_msg(rc == 0, "log open: %s", mmds_strerror(rc));
	return l;
}

static void append_range(mmds_log *l, uint64_t from, uint64_t to)
{
	unsigned char b[256];

	for (uint64_t i = from; i < to; i++) {
		int rc;

		rec_fill(i, b);
		rc = mmds_log_append(l, rec_type(i), b, rec_len(i), NULL);
		if (rc) {
			fprintf(stderr, "append %" PRIu64 ": %s\n", i, mmds_strerror(rc));
			_exit(1);
		}
	}
}

static mmds_ship_opts opts_for(const char *url, const char *stream)
{
	return (mmds_ship_opts){ .url = url, .stream = stream, .subject = SUBJ,
				 .flags = MMDS_SHIP_CREATE_CURSOR |
					  MMDS_SHIP_UNTIL_CAUGHT_UP };
}

/*
 * The stream read back with an ordered consumer beside the log read with an
 * iterator: the same records in the same order, each once, with the LSN,
 * type, message id and payload of its record, and nothing of the log left
 * over.  Returns the number of records.
 */
static uint64_t verify(const char *url, const char *stream, const char *dir)
{
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	jsCtx *js = NULL;
	jsSubOptions so;
	jsErrCode ec = 0;
	mmds_log *l;
	mmds_log_iter *it;
	mmds_log_info info;
	mmds_log_record r;
	int64_t total = t_nats_stream_msgs(url, stream);
	uint64_t k;
	int rc;

	ck_assert_msg(total >= 0, "stream info");
	ck_assert_int_eq(mmds_log_open(&l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY }), 0);
	ck_assert_int_eq(mmds_log_get_info(l, &info), 0);
	ck_assert_int_eq(mmds_log_iter_open(&it, l, MMDS_LOG_START), 0);
	ck_assert_int_eq(t_nats_connect(url, &nc), 0);
	ck_assert_int_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	jsSubOptions_Init(&so);
	so.Ordered = true;
	so.Stream = stream;
	ck_assert_int_eq(js_SubscribeSync(&sub, js, SUBJ, NULL, &so, &ec), NATS_OK);
	natsSubscription_SetPendingLimits(sub, -1, -1);
	for (k = 0; k < (uint64_t)total; k++) {
		natsMsg *m = NULL;
		const char *v;
		char id[64];

		rc = mmds_log_iter_next(it, &r);
		ck_assert_msg(rc == 0, "stream message %" PRIu64 " of %" PRId64 " has no "
			      "record in the log (%s): duplicated", k + 1, total,
			      mmds_strerror(rc));
		ck_assert_msg(natsSubscription_NextMsg(&m, sub, 10000) == NATS_OK,
			      "stream message %" PRIu64 " of %" PRId64 " not delivered", k + 1, total);
		ck_assert_int_eq(natsMsgHeader_Get(m, "Mmds-Lsn", &v), NATS_OK);
		ck_assert_msg(strtoull(v, NULL, 10) == r.lsn,
			      "message %" PRIu64 ": LSN %s, expected %" PRIu64 " (missing, "
			      "duplicated or out of order)", k + 1, v, r.lsn);
		ck_assert_int_eq(natsMsgHeader_Get(m, "Mmds-Type", &v), NATS_OK);
		ck_assert_uint_eq(strtoul(v, NULL, 10), r.type);
		ck_assert_int_eq(natsMsgHeader_Get(m, "Nats-Msg-Id", &v), NATS_OK);
		snprintf(id, sizeof(id), "%016" PRIx64 ":%" PRIu64, info.log_id, r.lsn);
		ck_assert_str_eq(v, id);
		ck_assert_uint_eq((unsigned)natsMsg_GetDataLength(m), r.len);
		ck_assert_msg(r.len == 0 || memcmp(natsMsg_GetData(m), r.data, r.len) == 0,
			      "message %" PRIu64 ": payload differs", k + 1);
		natsMsg_Destroy(m);
	}
	rc = mmds_log_iter_next(it, &r);
	ck_assert_msg(rc == -EAGAIN, "the log has records after the stream's last "
		      "(LSN %" PRIu64 "): missing", r.lsn);
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	mmds_log_iter_close(it);
	mmds_log_close(l);
	return k;
}

static uint64_t cursor_pos(const char *dir, const char *name)
{
	mmds_log_cursor_info v[8];
	int n = mmds_log_cursor_list(dir, v, 8);

	for (int i = 0; i < n && i < 8; i++)
		if (strcmp(v[i].name, name) == 0)
			return v[i].position;
	ck_abort_msg("no cursor %s", name);
	return 0;
}

static uint64_t log_tail(const char *dir)
{
	mmds_log *l;
	uint64_t t;

	ck_assert_int_eq(mmds_log_open(&l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY }), 0);
	t = mmds_log_tail_lsn(l);
	mmds_log_close(l);
	return t;
}

/* ---- the chain on one server ------------------------------------------- */

START_TEST(test_ship_single_server_every_record_once_in_order)
{
	struct t_nats s;
	uint64_t n = (uint64_t)env_num("MMDS_SHIP_RECORDS", 200000);
	const char *dir = t_path("log");
	mmds_ship_opts o;
	mmds_ship_stats st;
	mmds_log *l;
	int rc;

	need_server();
	ck_assert_int_eq(t_nats_start(&s, t_tmpdir(), "n1"), 0);
	ck_assert_int_eq(t_nats_add_stream(s.url, "LOG", SUBJ, 1, 0), 0);
	l = open_writer(dir);
	append_range(l, 0, n);
	ck_assert_int_eq(mmds_log_close(l), 0);
	o = opts_for(s.url, "LOG");
	rc = mmds_log_ship(dir, &o, &st);
	ck_assert_msg(rc == 0, "ship: %s", mmds_strerror(rc));
	ck_assert_uint_eq(st.acked, n);
	ck_assert_uint_eq(st.duplicates + st.skipped + st.retries, 0);
	ck_assert_uint_eq(verify(s.url, "LOG", dir), n);
	ck_assert_uint_eq(cursor_pos(dir, "ship"), log_tail(dir));
	/* shipping again sends nothing: the cursor is at the tail */
	rc = mmds_log_ship(dir, &o, &st);
	ck_assert_int_eq(rc, 0);
	ck_assert_uint_eq(st.published, 0);
	ck_assert_int_eq(t_nats_stream_msgs(s.url, "LOG"), (int64_t)n);
	t_nats_kill(&s);
}
END_TEST

/* A lost cursor (its file removed) must not double the stream: the shipper
 * asks the stream where it ends and skips what it holds. */
START_TEST(test_ship_cursor_behind_stream_skips_what_it_holds)
{
	struct t_nats s;
	const char *dir = t_path("log");
	mmds_ship_opts o;
	mmds_ship_stats st;
	mmds_log *l;

	need_server();
	ck_assert_int_eq(t_nats_start(&s, t_tmpdir(), "n1"), 0);
	/* a 1 s window: de-duplication alone would not catch the re-sends */
	ck_assert_int_eq(t_nats_add_stream(s.url, "LOG", SUBJ, 1, 1000), 0);
	l = open_writer(dir);
	append_range(l, 0, 3000);
	o = opts_for(s.url, "LOG");
	o.min_dup_window_ms = -1;
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), 0);
	ck_assert_int_eq(mmds_log_cursor_remove(dir, "ship"), 0);
	sleep(2);
	append_range(l, 3000, 5000);
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), 0);
	ck_assert_uint_eq(st.skipped, 3000);
	ck_assert_uint_eq(st.acked, 2000);
	ck_assert_uint_eq(verify(s.url, "LOG", dir), 5000);
	mmds_log_close(l);
	t_nats_kill(&s);
}
END_TEST

/* ---- kill -9 of the shipper while a writer appends --------------------- */

static void writer_child(const char *dir, atomic_int *stop, atomic_ullong *count)
{
	mmds_log *l = open_writer(dir);
	uint64_t i = 0;

	while (!atomic_load(stop)) {
		append_range(l, i, i + 50);
		i += 50;
		atomic_store(count, i);
		usleep(1000);
	}
	mmds_log_close(l);
	_exit(0);
}

/* Resumes where the stream held records after the cursor (a kill came
 * between their acknowledgement and the cursor's commit): counted across
 * the shipper processes in shared memory. */
static atomic_int *ahead;

static void count_ahead(void *arg, const char *line)
{
	unsigned long long from, last;

	(void)arg;
	fprintf(stderr, "mmds ship: %s\n", line);
	if (ahead && strstr(line, "shipping from LSN") &&
	    sscanf(strstr(line, "shipping from LSN"), "shipping from LSN %llu, after "
		   "the stream's last, LSN %llu", &from, &last) == 2 && last >= from)
		atomic_fetch_add(ahead, 1);
}

static void ship_child(const char *dir, const char *url, const char *stream,
		       volatile sig_atomic_t *stop)
{
	mmds_ship_opts o = { .url = url, .stream = stream, .subject = SUBJ,
			     .flags = MMDS_SHIP_CREATE_CURSOR, .stop = stop,
			     .max_pending = 512, .ack_timeout_ms = 1000,
			     .backoff_max_ms = 500, .log_fn = count_ahead };
	int rc = mmds_log_ship(dir, &o, NULL);

	if (rc)
		fprintf(stderr, "ship child: %s\n", mmds_strerror(rc));
	_exit(rc ? 1 : 0);
}

struct shared {
	atomic_int ahead;
	atomic_int stop_writer;
	atomic_ullong written;
	volatile sig_atomic_t stop_ship;
};

static struct shared *shared_new(void)
{
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(sh, MAP_FAILED);
	memset(sh, 0, sizeof(*sh));
	return sh;
}

static void wait_written(struct shared *sh, uint64_t n)
{
	while (atomic_load(&sh->written) < n)
		usleep(1000);
}

START_TEST(test_ship_kill9_shipper_dozens_of_times_nothing_lost_or_doubled)
{
	struct t_nats s;
	const char *dir = t_path("log");
	long kills = env_num("MMDS_SHIP_KILLS", 30);
	struct shared *sh = shared_new();
	mmds_ship_opts o;
	mmds_ship_stats st;
	pid_t w;
	uint64_t n;

	need_server();
	ahead = &sh->ahead;
	srand((unsigned)time(NULL));
	ck_assert_int_eq(t_nats_start(&s, t_tmpdir(), "n1"), 0);
	ck_assert_int_eq(t_nats_add_stream(s.url, "LOG", SUBJ, 1, 0), 0);
	w = t_fork();
	if (w == 0)
		writer_child(dir, &sh->stop_writer, &sh->written);
	wait_written(sh, 100);
	for (long k = 0; k < kills; k++) {
		pid_t p = t_fork();

		if (p == 0)
			ship_child(dir, s.url, "LOG", &sh->stop_ship);
		usleep((useconds_t)(20000 + rand() % 280000));
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
	}
	atomic_store(&sh->stop_writer, 1);
	t_wait_child(w);
	n = atomic_load(&sh->written);
	o = opts_for(s.url, "LOG");
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), 0);
	fprintf(stderr, "kill loop: %ld kills, %" PRIu64 " records, %d resumes with "
		"the stream ahead of the cursor; last run: %" PRIu64 " skipped, %" PRIu64
		" duplicates, %" PRIu64 " stored\n", kills, n, atomic_load(&sh->ahead),
		st.skipped, st.duplicates, st.acked);
	/* the kills did land between acknowledgement and commit */
	if (kills >= 10)
		ck_assert_int_gt(atomic_load(&sh->ahead), 0);
	ck_assert_uint_eq(verify(s.url, "LOG", dir), n);
	ck_assert_uint_eq(cursor_pos(dir, "ship"), log_tail(dir));
	t_nats_kill(&s);
}
END_TEST

/* ---- servers that go away ----------------------------------------------- */

/* The shipper (in follow mode) has committed the whole log: wait for it. */
static void wait_shipped(const char *dir)
{
	uint64_t tail = log_tail(dir);

	for (int i = 0; i < 1200 && cursor_pos(dir, "ship") < tail; i++)
		usleep(50000);
	ck_assert_msg(cursor_pos(dir, "ship") == tail,
		      "the shipper did not catch up within 60 s");
}

/* Ship while a writer appends; kill server victim (or, if < 0, the stream's
 * leader) part-way, restart it 1.5 s later.  The shipper that lived
 * through the outage must deliver everything: the check after it finds
 * nothing left to publish. */
static void outage(struct t_nats *srv, int nsrv, const char *url, int victim)
{
	const char *dir = t_path("log");
	struct shared *sh = shared_new();
	mmds_ship_opts o;
	mmds_ship_stats st;
	uint64_t n;
	pid_t w, p;

	w = t_fork();
	if (w == 0)
		writer_child(dir, &sh->stop_writer, &sh->written);
	wait_written(sh, 100);
	p = t_fork();
	if (p == 0)
		ship_child(dir, url, "LOG", &sh->stop_ship);
	usleep(500000);
	if (victim < 0) {
		natsConnection *nc = NULL;
		jsCtx *js = NULL;
		jsStreamInfo *si = NULL;

		victim = 0;
		if (t_nats_connect(url, &nc) == 0 &&
		    natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
		    js_GetStreamInfo(&si, js, "LOG", NULL, NULL) == NATS_OK &&
		    si->Cluster && si->Cluster->Leader)
			for (int i = 0; i < nsrv; i++)
				if (strcmp(si->Cluster->Leader, srv[i].name) == 0)
					victim = i;
		jsStreamInfo_Destroy(si);
		jsCtx_Destroy(js);
		natsConnection_Destroy(nc);
		fprintf(stderr, "killing the stream leader %s\n", srv[victim].name);
	}
	t_nats_kill(&srv[victim]);
	usleep(1500000);
	ck_assert_int_eq(t_nats_restart(&srv[victim]), 0);
	usleep(1000000);
	atomic_store(&sh->stop_writer, 1);
	t_wait_child(w);
	wait_shipped(dir);
	sh->stop_ship = 1;
	t_wait_child(p);
	n = atomic_load(&sh->written);
	o = opts_for(url, "LOG");
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), 0);
	ck_assert_uint_eq(st.published, 0);
	ck_assert_uint_eq(verify(url, "LOG", dir), n);
	fprintf(stderr, "outage: %" PRIu64 " records shipped once, in order\n", n);
}

START_TEST(test_ship_server_restart_nothing_lost_or_doubled)
{
	struct t_nats s;

	need_server();
	ck_assert_int_eq(t_nats_start(&s, t_tmpdir(), "n1"), 0);
	ck_assert_int_eq(t_nats_add_stream(s.url, "LOG", SUBJ, 1, 0), 0);
	outage(&s, 1, s.url, 0);
	t_nats_kill(&s);
}
END_TEST

START_TEST(test_ship_cluster_r3_leader_killed_nothing_lost_or_doubled)
{
	struct t_nats c[3];
	char url[256];

	need_server();
	ck_assert_int_eq(t_nats_start_cluster(c, 3, t_tmpdir()), 0);
	snprintf(url, sizeof(url), "%s,%s,%s", c[0].url, c[1].url, c[2].url);
	ck_assert_int_eq(t_nats_add_stream(url, "LOG", SUBJ, 3, 0), 0);
	outage(c, 3, url, -1);
	for (int i = 0; i < 3; i++)
		t_nats_kill(&c[i]);
}
END_TEST

static volatile sig_atomic_t alarm_stop;
static void on_alarm(int sig) { (void)sig; alarm_stop = 1; }

/* No server: the shipper waits with a doubling backoff (a handful of
 * attempts, not a spin), commits nothing, and stops when told. */
START_TEST(test_ship_no_server_waits_and_retries_until_stopped)
{
	const char *dir = t_path("log");
	char url[64];
	mmds_ship_opts o;
	mmds_ship_stats st;
	mmds_log *l = open_writer(dir);

	append_range(l, 0, 10);
	snprintf(url, sizeof(url), "nats://127.0.0.1:%d", t_nats_free_port());
	o = opts_for(url, "LOG");
	o.flags = MMDS_SHIP_CREATE_CURSOR; /* follow */
	o.stop = &alarm_stop;
	signal(SIGALRM, on_alarm);
	alarm(2);
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), 0);
	ck_assert_uint_ge(st.retries, 2);
	ck_assert_uint_le(st.retries, 12);
	ck_assert_uint_eq(st.published, 0);
	ck_assert_uint_eq(st.position, 0);
	mmds_log_close(l);
}
END_TEST

/* ---- refusals ----------------------------------------------------------- */

START_TEST(test_ship_refusals)
{
	struct t_nats s;
	const char *dir = t_path("log");
	mmds_ship_opts o;
	mmds_ship_stats st;
	mmds_log *l;
	mmds_log_cursor *c;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;

	need_server();
	ck_assert_int_eq(t_nats_start(&s, t_tmpdir(), "n1"), 0);
	l = open_writer(dir);
	append_range(l, 0, 10);
	o = opts_for(s.url, "LOG");
	/* arguments */
	ck_assert_int_eq(mmds_log_ship(NULL, &o, &st), -EINVAL);
	ck_assert_int_eq(mmds_log_ship(dir, NULL, &st), -EINVAL);
	o.subject = "";
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), -EINVAL);
	o = opts_for(s.url, "LOG");
	o.flags |= 1u << 7;
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), -EINVAL);
	o = opts_for(s.url, "LOG");
	ck_assert_int_eq(mmds_log_ship(t_path("nolog"), &o, &st), -ENOENT);
	/* no cursor without CREATE_CURSOR */
	o.flags = MMDS_SHIP_UNTIL_CAUGHT_UP;
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), -ENOENT);
	/* no such stream */
	o = opts_for(s.url, "LOG");
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), -ENOENT);
	/* a de-duplication window shorter than asked */
	ck_assert_int_eq(t_nats_add_stream(s.url, "SHORT", "short", 1, 1000), 0);
	o = opts_for(s.url, "SHORT");
	o.subject = "short";
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), -EINVAL);
	/* a stream that holds a message of someone else */
	ck_assert_int_eq(t_nats_add_stream(s.url, "LOG", SUBJ, 1, 0), 0);
	ck_assert_int_eq(t_nats_connect(s.url, &nc), 0);
	ck_assert_int_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
	ck_assert_int_eq(js_Publish(NULL, js, SUBJ, "x", 1, NULL, NULL), NATS_OK);
	o = opts_for(s.url, "LOG");
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), -EEXIST);
	ck_assert_uint_eq(st.published, 0);
	/* a cursor held by another handle */
	ck_assert_int_eq(mmds_log_cursor_open(&c, dir, "held",
		&(mmds_log_cursor_opts){ .flags = MMDS_LOG_CURSOR_CREATE }), 0);
	o.cursor = "held";
	ck_assert_int_eq(mmds_log_ship(dir, &o, &st), -EBUSY);
	mmds_log_cursor_close(c);
	/* a cursor whose records retention dropped */
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	mmds_log_close(l);
	t_nats_kill(&s);
}
END_TEST

/* ---- the command -------------------------------------------------------- */

static int run_tool(const char *args, char *out, size_t cap)
{
	char cmd[2048];
	const char *top = getenv("top_builddir");
	FILE *p;
	size_t n = 0;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/tools/mmds %s 2>&1", top ? top : ".", args);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (n + 1 < cap && fgets(out + n, (int)(cap - n), p))
		n += strlen(out + n);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

START_TEST(test_ship_tool_once_and_usage)
{
	struct t_nats s;
	const char *dir = t_path("log");
	static char out[16384];
	char args[1024];
	mmds_log *l;

	need_server();
	ck_assert_int_eq(t_nats_start(&s, t_tmpdir(), "n1"), 0);
	ck_assert_int_eq(t_nats_add_stream(s.url, "LOG", SUBJ, 1, 0), 0);
	l = open_writer(dir);
	append_range(l, 0, 500);
	ck_assert_int_eq(run_tool("log ship", out, sizeof(out)), 2);
	snprintf(args, sizeof(args), "log ship %s --nats %s", dir, s.url);
	ck_assert_int_eq(run_tool(args, out, sizeof(out)), 2);
	ck_assert_ptr_nonnull(strstr(out, "needs --nats, --stream and --subject"));
	snprintf(args, sizeof(args), "log ship %s --nats %s --stream LOG --subject %s "
		 "--bogus", dir, s.url, SUBJ);
	ck_assert_int_eq(run_tool(args, out, sizeof(out)), 2);
	snprintf(args, sizeof(args), "log ship %s --nats %s --stream LOG --subject %s "
		 "--once", dir, s.url, SUBJ);
	ck_assert_int_eq(run_tool(args, out, sizeof(out)), 3); /* no cursor yet */
	snprintf(args, sizeof(args), "log ship %s --nats %s --stream LOG --subject %s "
		 "--once --create-cursor --cursor c1", dir, s.url, SUBJ);
	ck_assert_msg(run_tool(args, out, sizeof(out)) == 0, "%s", out);
	ck_assert_ptr_nonnull(strstr(out, "caught up at LSN"));
	ck_assert_ptr_nonnull(strstr(out, "500 stored"));
	ck_assert_uint_eq(verify(s.url, "LOG", dir), 500);
	/* the progress shows in mmds log cursors: no lag */
	snprintf(args, sizeof(args), "log cursors %s", dir);
	ck_assert_int_eq(run_tool(args, out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "c1") && strstr(out, " 0 "), "%s", out);
	mmds_log_close(l);
	t_nats_kill(&s);
}
END_TEST

static Suite *ship_suite(void)
{
	Suite *s = suite_create("ship");
	TCase *tc;

	tc = t_tcase(s, "single", 180);
	tcase_add_test(tc, test_ship_single_server_every_record_once_in_order);
	tcase_add_test(tc, test_ship_cursor_behind_stream_skips_what_it_holds);
#ifdef T_TSAN
	/* these run the shipper in forked children of a threaded process,
	 * which ThreadSanitizer cannot follow (it kills a child that starts
	 * threads); the normal and ASan builds run them */
	fprintf(stderr, "ship: kill and outage cases skipped under TSan "
			"(threads in forked children)\n");
	(void)test_ship_kill9_shipper_dozens_of_times_nothing_lost_or_doubled;
	(void)test_ship_server_restart_nothing_lost_or_doubled;
	(void)test_ship_cluster_r3_leader_killed_nothing_lost_or_doubled;
	(void)test_ship_no_server_waits_and_retries_until_stopped;
#else
	tc = t_tcase(s, "kill", 300);
	tcase_add_test(tc, test_ship_kill9_shipper_dozens_of_times_nothing_lost_or_doubled);
	tc = t_tcase(s, "outage", 180);
	tcase_add_test(tc, test_ship_server_restart_nothing_lost_or_doubled);
	tcase_add_test(tc, test_ship_cluster_r3_leader_killed_nothing_lost_or_doubled);
	tcase_add_test(tc, test_ship_no_server_waits_and_retries_until_stopped);
#endif
	tc = t_tcase(s, "refusals", 60);
	tcase_add_test(tc, test_ship_refusals);
	tcase_add_test(tc, test_ship_tool_once_and_usage);
	return s;
}

int main(void)
{
	if (t_nats_server() == NULL) {
		fprintf(stderr, "SKIP: nats-server not found: the shipping tests need "
			"it (apt-get install nats-server)\n");
		return T_SKIP_STATUS;
	}
	return t_run_suite(ship_suite());
}

#else /* !HAVE_NATS */

int main(void)
{
	mmds_ship_opts o = { .url = "nats://127.0.0.1:1", .stream = "S", .subject = "s" };

	/* built without libnats: the call is there and says so */
	if (mmds_log_ship("/nonexistent", &o, NULL) != -ENOTSUP) {
		fprintf(stderr, "FAIL: mmds_log_ship without libnats is not -ENOTSUP\n");
		return 1;
	}
	fprintf(stderr, "SKIP: built without libnats (libnats-dev): mmds log ship "
		"is not built and its tests do not run\n");
	return T_SKIP_STATUS;
}

#endif
