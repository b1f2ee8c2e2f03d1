/* test_log_powerloss.c - the log's writer run again and again over
 * simulated power losses (log_powerloss.h): a quick sample of crash states
 * (MMDS_TEST_ITERATIONS of them, default 300), each recovered and checked. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <stddef.h>
#include <xxhash.h>

#include "format.h"
#include "log_powerloss.h"
#include "t_util.h"

Suite *log_powerloss_suite(void);

static unsigned long states(void)
{
	const char *e = getenv("MMDS_TEST_ITERATIONS");
	unsigned long n = e ? strtoul(e, NULL, 10) : 0;

	return n ? n : 300;
}

START_TEST(test_power_loss_keeps_synced_records_and_serves_nothing_stale)
{
	struct pl_stats st = { 0 };
	char why[1024] = "";
	int rc = pl_run(t_tmpdir(), states(), 0x5eed0000u + (uint64_t)_i, 0, &st,
			why, sizeof(why));

	ck_assert_msg(rc == 0, "%s", why);
	ck_assert_uint_eq(st.states, states());
	ck_assert_uint_eq(st.refused, 0);
	/* the sample did reach what it is for */
	ck_assert_uint_gt(st.durable_checked, 0);
	ck_assert_uint_gt(st.pages_torn, 0);
	ck_assert_uint_gt(st.in_sync, 0);
	ck_assert_uint_gt(st.cuts, 0);
}
END_TEST

/* ---- the recovery point, one case at a time ----------------------------- */

#define SEG0 "00000000000000000000.seg"

/* A0..A4 synced, then B0..B9 published but not synced: lsn[0..15). */
static void write_a_synced_b_not(uint64_t *lsn)
{
	unsigned char buf[500];
	mmds_log *l;

	ck_assert_int_eq(mmds_log_open(&l, t_path("log"),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = PL_SEG }), 0);
	for (unsigned i = 0; i < 15; i++) {
		pl_fill(buf, sizeof(buf), i);
		ck_assert_int_eq(mmds_log_append(l, (uint16_t)i, buf, sizeof(buf), &lsn[i]), 0);
		if (i == 4)
			ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
	}
	ck_assert_uint_eq(mmds_log_durable_lsn(l), lsn[5]);
	ck_assert_int_eq(mmds_log_close(l), 0);
}

/* Flip a byte of the file at off (the page cache: what a torn write or a
 * forged word leaves). */
static void flip(const char *name, uint64_t off, unsigned char mask)
{
	char path[PATH_MAX];
	unsigned char c;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t_path("log"), name);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &c, 1, (off_t)off), 1);
	c ^= mask;
	ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

/* Store a durable word v in segment 0's header with a matching check word
 * (what only a writer, or someone forging one, stores). */
static void forge_hint(uint64_t v)
{
	char path[PATH_MAX];
	uint64_t salt, w[3];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", t_path("log"), SEG0);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &salt, 8, (off_t)offsetof(struct mmds__fmt_header, salt)), 8);
	ck_assert_int_eq(pread(fd, w, sizeof(w), 256), (ssize_t)sizeof(w));
	w[0] = v;
	w[2] = XXH3_64bits_withSeed(&v, sizeof(v), salt ^ 0x64757261626c6521ULL);
	ck_assert_int_eq(pwrite(fd, w, sizeof(w), 256), (ssize_t)sizeof(w));
	close(fd);
}

static int open_refuse(mmds_log **l, mmds_log_report *rep)
{
	int rc = mmds_log_open(l, t_path("log"), &(mmds_log_opts){ .segment_size = PL_SEG });

	if (rc == 0)
		ck_assert_int_eq(mmds_log_get_report(*l, rep), 0);
	return rc;
}

START_TEST(test_torn_record_past_the_synced_point_is_cut_not_refused)
{
	uint64_t lsn[15];
	mmds_log_report rep;
	mmds_log_iter *it;
	mmds_log_record r;
	mmds_log *l;
	unsigned n = 0;

	write_a_synced_b_not(lsn);
	flip(SEG0, 4096 + lsn[6] + 16 + 100, 0xff); /* B1 torn, B2.. intact */
	ck_assert_int_eq(open_refuse(&l, &rep), 0);
	ck_assert_uint_eq(rep.reason, MMDS_LOG_CUT_BAD_CHECKSUM);
	ck_assert_int_eq(rep.corrupt, 1);
	ck_assert_int_eq(rep.cut_beyond_durable, 1);
	ck_assert_uint_eq(rep.bad_lsn, lsn[6]);
	ck_assert_uint_eq(rep.end_lsn, lsn[6]);
	ck_assert_uint_gt(rep.bytes_cut, 0);
	ck_assert_int_eq(mmds_log_iter_open(&it, l, MMDS_LOG_START), 0);
	while (mmds_log_iter_next(it, &r) == 0) {
		ck_assert_uint_eq(r.lsn, lsn[n]);
		ck_assert_uint_eq(r.type, n);
		n++;
	}
	ck_assert_uint_eq(n, 6); /* A0..A4 and B0 */
	mmds_log_iter_close(it);
	ck_assert_int_eq(mmds_log_close(l), 0);
	ck_assert_int_eq(mmds_log_verify(t_path("log"), NULL), 0);
}
END_TEST

START_TEST(test_damage_below_the_synced_point_is_still_refused)
{
	uint64_t lsn[15];
	mmds_log_report rep;
	mmds_log *l;

	write_a_synced_b_not(lsn);
	flip(SEG0, 4096 + lsn[1] + 16 + 100, 0xff); /* A1: was durable */
	ck_assert_int_eq(open_refuse(&l, &rep), -EBADMSG);
	ck_assert_ptr_null(l);
	ck_assert_int_eq(mmds_log_verify(t_path("log"), &rep), -EBADMSG);
	ck_assert_uint_eq(rep.bad_lsn, lsn[1]);
}
END_TEST

/* A durable word whose check word fails, or one that the scan does not
 * meet at a record boundary, or one above the bad record, vouches for
 * nothing: the open refuses as it always did. */
START_TEST(test_untrustworthy_or_higher_recovery_point_keeps_refusing)
{
	uint64_t lsn[15];
	mmds_log_report rep;
	mmds_log *l;

	write_a_synced_b_not(lsn);
	flip(SEG0, 4096 + lsn[6] + 16 + 100, 0xff);
	switch (_i) {
	case 0: /* check word torn */
		flip(SEG0, 256 + 16, 0x01);
		break;
	case 1: /* durable word lowered, check word left */
		flip(SEG0, 256, 0x08);
		break;
	case 2: /* a checked value inside B0, not a record boundary */
		forge_hint(lsn[5] + 8);
		break;
	case 3: /* a checked value past the bad record: B1 was durable */
		forge_hint(lsn[8]);
		break;
	default:
		ck_abort();
	}
	ck_assert_int_eq(open_refuse(&l, &rep), -EBADMSG);
	ck_assert_ptr_null(l);
}
END_TEST

/* Retention makes each unlink durable before the next, so a power loss
 * can bring back only a prefix of the dropped segments, never leave a gap
 * (a gap below the durable point is refused as a lost segment). */
START_TEST(test_retention_leaves_at_most_one_unlink_undurable)
{
	static struct pl_ent cur[PL_MAX_ENT];
	unsigned char buf[3000];
	struct pl_stats st = { 0 };
	mmds_log *l;
	size_t ncur, gone = 0;
	uint64_t lsn;

	memset(&pl, 0, sizeof(pl));
	pl.st = &st;
	snprintf(pl.dir, sizeof(pl.dir), "%s", t_path("log"));
	ck_assert_int_eq(mmds_log_open(&l, pl.dir,
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = PL_SEG }), 0);
	pl_baseline();
	pl.on = 1;
	pl.countdown = LONG_MAX;
	for (int i = 0; i < 40; i++) {
		pl_fill(buf, sizeof(buf), (uint64_t)i);
		ck_assert_int_eq(mmds_log_append(l, 1, buf, sizeof(buf), &lsn), 0);
		if (i == 20)
			ck_assert_int_eq(mmds_log_sync(l, UINT64_MAX), 0);
	}
	ck_assert_int_ge(mmds_log_retain(l, lsn), 3);
	ck_assert_int_eq(mmds_log_retain(l, lsn + 1), 0);
	ncur = pl_list(cur);
	for (size_t j = 0; j < pl.ndur; j++) {
		int now = 0;

		for (size_t i = 0; i < ncur; i++)
			now |= strcmp(cur[i].name, pl.dur[j].name) == 0;
		gone += !now;
	}
	ck_assert_uint_le(gone, 1);
	pl.on = 0;
	ck_assert_int_eq(mmds_log_close(l), 0);
}
END_TEST

Suite *log_powerloss_suite(void)
{
	Suite *s = suite_create("log_powerloss");
	TCase *tc = t_tcase(s, "power_loss", 120);

	tcase_add_loop_test(tc, test_power_loss_keeps_synced_records_and_serves_nothing_stale,
			    0, 2);
	tc = t_tcase(s, "recovery_point", 30);
	tcase_add_test(tc, test_torn_record_past_the_synced_point_is_cut_not_refused);
	tcase_add_test(tc, test_damage_below_the_synced_point_is_still_refused);
	tcase_add_loop_test(tc, test_untrustworthy_or_higher_recovery_point_keeps_refusing,
			    0, 4);
	tcase_add_test(tc, test_retention_leaves_at_most_one_unlink_undurable);
	return s;
}

int main(void)
{
	return t_run_suite(log_powerloss_suite());
}
