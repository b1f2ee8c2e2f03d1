/* test_ship_sink.c - the NATS sink (structs/ship_nats.c, compiled into this
 * program: its symbols are internal) against a real nats-server: a message
 * whose predecessor is not the stream's last is refused (the ordering
 * chain), a re-sent one is a duplicate, and resume finds the last LSN. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <check.h>
#include <mmds.h>
#include <mmds/ship.h>

#include "ship_sink.h"
#include "t_nats.h"
#include "t_util.h"

void mmds__ship_say(const mmds_ship_opts *o, const char *fmt, ...)
{
	va_list ap;

	(void)o;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const struct mmds__ship_sink_ops *ops = &mmds__ship_nats;

static mmds_log_record rec(uint64_t lsn)
{
	static char data[16];

	snprintf(data, sizeof(data), "rec%llu", (unsigned long long)lsn);
	return (mmds_log_record){ .lsn = lsn, .next_lsn = lsn + 24,
				  .data = data, .len = (uint32_t)strlen(data),
				  .type = 7 };
}

/* Wait for n results into d (sorted by the caller's knowledge). */
static void results(void *sink, struct mmds__ship_done *d, int n)
{
	int got = 0;

	for (int i = 0; i < 100 && got < n; i++)
		got += ops->poll(sink, d + got, n - got, 100);
	ck_assert_int_eq(got, n);
}

static int status_of(const struct mmds__ship_done *d, int n, uint64_t lsn)
{
	for (int i = 0; i < n; i++)
		if (d[i].lsn == lsn)
			return d[i].status;
	ck_abort_msg("no result for LSN %llu", (unsigned long long)lsn);
	return 0;
}

START_TEST(test_sink_refuses_a_gap_and_discards_a_resend)
{
	struct t_nats s;
	mmds_ship_opts o = { .subject = "x", .stream = "S", .max_pending = 64,
			     .ack_timeout_ms = 5000, .min_dup_window_ms = 1000 };
	struct mmds__ship_tail t;
	struct mmds__ship_done d[4];
	mmds_log_record r;
	void *k;

	if (t_nats_server() == NULL)
		t_skip("nats-server not found");
	ck_assert_int_eq(t_nats_start(&s, t_tmpdir(), "n1"), 0);
	o.url = s.url;
	ck_assert_int_eq(ops->open(&k, &o, 0x1234), -ENOENT); /* no stream yet */
	ck_assert_int_eq(t_nats_add_stream(s.url, "S", "x", 1, 0), 0);
	ck_assert_int_eq(ops->open(&k, &o, 0x1234), 0);
	ck_assert_int_eq(ops->resume(k, &t), 0);
	ck_assert_int_eq(t.empty, 1);

	/* 0 stored; 24 lost on its way (sent where no stream takes it); 48,
	 * which follows it, is refused rather than stored after a gap */
	r = rec(0);
	ck_assert_int_eq(ops->publish(k, &r), 0);
	results(k, d, 1);
	ck_assert_int_eq(status_of(d, 1, 0), 0);
	o.subject = "nowhere";
	r = rec(24);
	ck_assert_int_eq(ops->publish(k, &r), 0);
	results(k, d, 1);
	ck_assert_int_lt(status_of(d, 1, 24), 0);
	o.subject = "x";
	r = rec(48);
	ck_assert_int_eq(ops->publish(k, &r), 0);
	results(k, d, 1);
	ck_assert_int_eq(status_of(d, 1, 48), -EPIPE);
	ck_assert_int_eq(t_nats_stream_msgs(s.url, "S"), 1);

	/* resume: the stream ends at 0; 24 and 48 go in, in order */
	ck_assert_int_eq(ops->resume(k, &t), 0);
	ck_assert_int_eq(t.empty, 0);
	ck_assert_int_eq(t.foreign, 0);
	ck_assert_uint_eq(t.lsn, 0);
	r = rec(24);
	ck_assert_int_eq(ops->publish(k, &r), 0);
	r = rec(48);
	ck_assert_int_eq(ops->publish(k, &r), 0);
	results(k, d, 2);
	ck_assert_int_eq(status_of(d, 2, 24), 0);
	ck_assert_int_eq(status_of(d, 2, 48), 0);
	ck_assert_int_eq(t_nats_stream_msgs(s.url, "S"), 3);
	ops->close(k);

	/* a new shipper that re-sends 24 (its window covers it): a
	 * duplicate, discarded, whatever the chain expects */
	ck_assert_int_eq(ops->open(&k, &o, 0x1234), 0);
	ck_assert_int_eq(ops->resume(k, &t), 0);
	ck_assert_uint_eq(t.lsn, 48);
	r = rec(24);
	ck_assert_int_eq(ops->publish(k, &r), 0);
	results(k, d, 1);
	ck_assert_int_eq(status_of(d, 1, 24), 1);
	ck_assert_int_eq(t_nats_stream_msgs(s.url, "S"), 3);
	ops->close(k);

	/* another log's shipper sees a foreign last message */
	ck_assert_int_eq(ops->open(&k, &o, 0x5678), 0);
	ck_assert_int_eq(ops->resume(k, &t), 0);
	ck_assert_int_eq(t.foreign, 1);
	ops->close(k);
	t_nats_kill(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ship_sink");
	TCase *tc = t_tcase(s, "nats", 60);

	if (t_nats_server() == NULL) {
		fprintf(stderr, "SKIP: nats-server not found (apt-get install nats-server)\n");
		return T_SKIP_STATUS;
	}
	tcase_add_test(tc, test_sink_refuses_a_gap_and_discards_a_resend);
	return t_run_suite(s);
}
