/* test_counters.c - persistent counters (mmds/counters.h): operations,
 * labels, allocation and the grace period, many processes, kill -9,
 * listing while writers run, export, and corrupt or hostile files. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <mmds/counters.h>

#include "t_util.h"

Suite *counters_suite(void);

/* ---- helpers --------------------------------------------------------------- */

static long iterations(long dflt)
{
	const char *s = getenv("MMDS_TEST_ITERATIONS");
	long v = s ? strtol(s, NULL, 10) : 0;

	return v > 0 ? v : dflt;
}

static mmds_counters *create(const char *name, uint32_t cap, unsigned flags,
			     uint32_t grace_ms)
{
	mmds_counters *c = NULL;
	int err = mmds_counters_open(&c, t_path(name),
				     &(mmds_counters_opts){
					     .flags = MMDS_COUNTERS_CREATE | flags,
					     .capacity = cap,
					     .grace_ms = grace_ms });

	ck_assert_int_eq(err, 0);
	ck_assert_ptr_nonnull(c);
	return c;
}

static mmds_counters *reopen(const char *name, unsigned flags)
{
	mmds_counters *c = NULL;

	ck_assert_int_eq(mmds_counters_open(&c, t_path(name),
					    &(mmds_counters_opts){ .flags = flags }),
			 0);
	return c;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Offsets of the layout (docs/FORMAT.md, "Counters"). */
#define META_OFF 4096u
#define REC 256u
#define VALUES_OFF(cap) (4096u + (((cap) * 256u + 4095u) & ~4095u))

/* ---- operations ------------------------------------------------------------ */

START_TEST(test_every_operation_returns_result_and_old_value)
{
	mmds_counters *c = create("c", 8, 0, 0);
	int id = mmds_counters_alloc(c, "ops", NULL);
	uint64_t old = 99, v = 0, exp;

	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(mmds_counters_add(c, id, 10, &old), 0);
	ck_assert_uint_eq(old, 0);
	ck_assert_int_eq(mmds_counters_inc(c, id, &old), 0);
	ck_assert_uint_eq(old, 10);
	ck_assert_int_eq(mmds_counters_sub(c, id, 4, &old), 0);
	ck_assert_uint_eq(old, 11);
	ck_assert_int_eq(mmds_counters_dec(c, id, &old), 0);
	ck_assert_uint_eq(old, 7);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, 6);
	ck_assert_int_eq(mmds_counters_set(c, id, 0xf0), 0);
	ck_assert_int_eq(mmds_counters_exchange(c, id, 0x0f, &old), 0);
	ck_assert_uint_eq(old, 0xf0);
	ck_assert_int_eq(mmds_counters_or(c, id, 0x30, &old), 0);
	ck_assert_uint_eq(old, 0x0f);
	ck_assert_int_eq(mmds_counters_and(c, id, 0x3c, &old), 0);
	ck_assert_uint_eq(old, 0x3f);
	ck_assert_int_eq(mmds_counters_xor(c, id, 0xff, &old), 0);
	ck_assert_uint_eq(old, 0x3c);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, 0xc3);
	exp = 1;
	ck_assert_int_eq(mmds_counters_cas(c, id, &exp, 5), 0);
	ck_assert_uint_eq(exp, 0xc3);
	ck_assert_int_eq(mmds_counters_cas(c, id, &exp, 5), 1);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, 5);
	/* Wraps modulo 2^64; a gauge reads the same bits as signed. */
	ck_assert_int_eq(mmds_counters_sub(c, id, 6, NULL), 0);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_int_eq(mmds_counters_close(c), 0);
}
END_TEST

START_TEST(test_slot_inline_ops_update_the_same_value)
{
	mmds_counters *c = create("c", 8, 0, 0);
	int id = mmds_counters_alloc(c, "hot", NULL);
	uint64_t *s = mmds_counters_slot(c, id), v;

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(mmds_slot_add(s, 5), 0);
	ck_assert_uint_eq(mmds_slot_inc(s), 5);
	ck_assert_uint_eq(mmds_slot_sub(s, 2), 6);
	ck_assert_uint_eq(mmds_slot_get(s), 4);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, 4);
	ck_assert_ptr_null(mmds_counters_slot(c, id + 1));
	ck_assert_ptr_null(mmds_counters_slot(c, -1));
	ck_assert_ptr_null(mmds_counters_slot(NULL, 0));
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_bad_ids_and_arguments_are_clean_errors)
{
	mmds_counters *c = create("c", 4, 0, 0);
	uint64_t v;

	ck_assert_int_eq(mmds_counters_add(c, 0, 1, NULL), -ENOENT);
	ck_assert_int_eq(mmds_counters_get(c, 4, &v), -EINVAL);
	ck_assert_int_eq(mmds_counters_get(c, -1, &v), -EINVAL);
	ck_assert_int_eq(mmds_counters_get(c, 0, NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_cas(c, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_counters_inc(NULL, 0, NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_free(c, 0), -ENOENT);
	ck_assert_int_eq(mmds_counters_free(c, 9), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc(NULL, "x", NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc(c, NULL, NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc(c, "x",
					     &(mmds_counter_def){ .kind = 7 }),
			 -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc(c, "x",
					     &(mmds_counter_def){ .stripes = 65 }),
			 -EINVAL);
	ck_assert_int_eq(mmds_counters_close(NULL), 0);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_readonly_handle_reads_but_refuses_updates)
{
	mmds_counters *c = create("c", 4, 0, 0), *r;
	int id = mmds_counters_alloc(c, "x", NULL);
	uint64_t v;

	mmds_counters_add(c, id, 42, NULL);
	r = reopen("c", MMDS_COUNTERS_READONLY);
	ck_assert_int_eq(mmds_counters_get(r, id, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(mmds_counters_add(r, id, 1, NULL), -EACCES);
	ck_assert_int_eq(mmds_counters_set(r, id, 1), -EACCES);
	ck_assert_int_eq(mmds_counters_alloc(r, "y", NULL), -EACCES);
	ck_assert_int_eq(mmds_counters_free(r, id), -EACCES);
	ck_assert_ptr_null(mmds_counters_slot(r, id));
	ck_assert_int_eq(mmds_counters_find(r, "x"), id);
	mmds_counters_close(r);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_striped_counter_sums_stripes_and_refuses_bitwise_ops)
{
	mmds_counters *c = create("c", 16, 0, 0);
	int id = mmds_counters_alloc(c, "s", &(mmds_counter_def){ .stripes = 4 });
	uint64_t v, old;
	mmds_counters_stat st;

	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(mmds_counters_add(c, id, 5, &old), 0);
	ck_assert_int_eq(mmds_counters_inc(c, id, NULL), 0);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, 6);
	/* the further stripes are not counters of their own */
	ck_assert_int_eq(mmds_counters_add(c, id + 1, 1, NULL), -ENOENT);
	ck_assert_int_eq(mmds_counters_exchange(c, id, 1, NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_xor(c, id, 1, NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_set(c, id, 100), 0);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, 100);
	ck_assert_int_eq(mmds_counters_get_stat(c, &st), 0);
	ck_assert_uint_eq(st.used, 4);
	ck_assert_uint_eq(st.capacity, 16);
	ck_assert_uint_eq(st.stride, 64);
	/* the next counter does not overlap the stripes */
	ck_assert_int_eq(mmds_counters_alloc(c, "t", NULL), id + 4);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_striped_counter_needs_padded_layout)
{
	mmds_counters *c = create("c", 16, MMDS_COUNTERS_PACKED, 0);
	mmds_counters_stat st;
	int a, b;

	ck_assert_int_eq(mmds_counters_alloc(c, "s",
					     &(mmds_counter_def){ .stripes = 2 }),
			 -EINVAL);
	a = mmds_counters_alloc(c, "a", NULL);
	b = mmds_counters_alloc(c, "b", NULL);
	ck_assert_int_eq(mmds_counters_get_stat(c, &st), 0);
	ck_assert_uint_eq(st.stride, 8);
	/* packed values sit 8 bytes apart and do not disturb each other */
	mmds_counters_set(c, a, UINT64_MAX);
	mmds_counters_inc(c, b, NULL);
	{
		uint64_t va, vb;

		mmds_counters_get(c, a, &va);
		mmds_counters_get(c, b, &vb);
		ck_assert_uint_eq(va, UINT64_MAX);
		ck_assert_uint_eq(vb, 1);
		ck_assert_ptr_eq((char *)mmds_counters_slot(c, b),
				 (char *)mmds_counters_slot(c, a) + 8);
	}
	mmds_counters_close(c);
}
END_TEST

/* ---- labels ----------------------------------------------------------------- */

START_TEST(test_label_at_maximum_length_works_longer_is_einval)
{
	mmds_counters *c = create("c", 4, 0, 0);
	char max[MMDS_COUNTERS_LABEL_MAX], over[MMDS_COUNTERS_LABEL_MAX + 1];
	char help[MMDS_COUNTERS_HELP_MAX + 1];
	mmds_counter_info info;
	int id;

	memset(max, 'm', sizeof(max) - 1);
	max[sizeof(max) - 1] = 0;
	memset(over, 'o', sizeof(over) - 1);
	over[sizeof(over) - 1] = 0;
	memset(help, 'h', sizeof(help) - 1);
	help[sizeof(help) - 1] = 0;
	id = mmds_counters_alloc(c, max, NULL);
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(mmds_counters_describe(c, id, &info), 0);
	ck_assert_str_eq(info.label, max);
	ck_assert_int_eq(mmds_counters_find(c, max), id);
	ck_assert_int_eq(mmds_counters_alloc(c, over, NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_find(c, over), -ENOENT);
	ck_assert_int_eq(mmds_counters_alloc(c, "", NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc(c, "h", &(mmds_counter_def){
							    .help = help }),
			 -EINVAL);
	help[MMDS_COUNTERS_HELP_MAX - 1] = 0;
	ck_assert_int_ge(mmds_counters_alloc(c, "h", &(mmds_counter_def){
							    .help = help }),
			 0);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_invalid_utf8_and_control_characters_are_einval)
{
	static const char *bad[] = {
		"\xff", "a\xc3", "\xc0\xaf" /* overlong */, "\xed\xa0\x80" /* surrogate */,
		"\xf4\x90\x80\x80" /* > U+10FFFF */, "tab\there", "nl\n", "\x7f",
		"\xc2\x85" /* C1 */,
	};
	mmds_counters *c = create("c", 4, 0, 0);
	int id;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(mmds_counters_alloc(c, bad[i], NULL) == -EINVAL,
			      "label %zu accepted", i);
		ck_assert_msg(mmds_counters_alloc(c, "ok", &(mmds_counter_def){
							       .help = bad[i] }) ==
				      -EINVAL,
			      "help %zu accepted", i);
	}
	id = mmds_counters_alloc(c, "caf\xc3\xa9_\xe2\x82\xac_\xf0\x9f\x98\x80", NULL);
	ck_assert_int_ge(id, 0);
	mmds_counters_close(c);
}
END_TEST

/* ---- allocation ------------------------------------------------------------- */

START_TEST(test_alloc_of_existing_label_returns_its_id_or_eexist)
{
	mmds_counters *c = create("c", 8, 0, 0);
	int a = mmds_counters_alloc(c, "a", NULL);
	int g = mmds_counters_alloc(c, "g", &(mmds_counter_def){ .kind = MMDS_GAUGE });

	ck_assert_int_eq(a, 0);
	ck_assert_int_eq(g, 1);
	ck_assert_int_eq(mmds_counters_alloc(c, "a", NULL), a);
	ck_assert_int_eq(mmds_counters_alloc(c, "a", &(mmds_counter_def){
							    .kind = MMDS_COUNTER,
							    .stripes = 1 }),
			 a);
	ck_assert_int_eq(mmds_counters_alloc(c, "a", &(mmds_counter_def){
							    .kind = MMDS_GAUGE }),
			 -EEXIST);
	ck_assert_int_eq(mmds_counters_alloc(c, "a", &(mmds_counter_def){
							    .stripes = 2 }),
			 -EEXIST);
	ck_assert_int_eq(mmds_counters_find(c, "g"), g);
	ck_assert_int_eq(mmds_counters_find(c, "nope"), -ENOENT);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_full_file_is_enospc)
{
	mmds_counters *c = create("c", 3, 0, 0);
	char l[8];

	for (int i = 0; i < 3; i++) {
		snprintf(l, sizeof(l), "c%d", i);
		ck_assert_int_eq(mmds_counters_alloc(c, l, NULL), i);
	}
	ck_assert_int_eq(mmds_counters_alloc(c, "more", NULL), -ENOSPC);
	ck_assert_int_eq(mmds_counters_alloc(c, "c1", NULL), 1);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_freed_id_is_not_reused_before_the_grace_period)
{
	mmds_counters *c = create("c", 2, 0, 300);
	mmds_counter_info i1, i2;
	uint64_t v;
	int a, b;

	a = mmds_counters_alloc(c, "old", NULL);
	b = mmds_counters_alloc(c, "other", NULL);
	ck_assert_int_eq(mmds_counters_add(c, a, 7, NULL), 0);
	ck_assert_int_eq(mmds_counters_describe(c, a, &i1), 0);
	ck_assert_int_eq(mmds_counters_free(c, a), 0);
	ck_assert_int_eq(mmds_counters_free(c, a), -ENOENT);
	ck_assert_int_eq(mmds_counters_find(c, "old"), -ENOENT);
	ck_assert_int_eq(mmds_counters_inc(c, a, NULL), -ENOENT);
	ck_assert_int_eq(mmds_counters_describe(c, a, &i2), -ENOENT);
	/* the only free id is in its grace period */
	ck_assert_int_eq(mmds_counters_alloc(c, "new", NULL), -ENOSPC);
	sleep_ms(350);
	ck_assert_int_eq(mmds_counters_alloc(c, "new", NULL), a);
	ck_assert_int_eq(mmds_counters_get(c, a, &v), 0);
	ck_assert_uint_eq(v, 0); /* a reused id starts at zero */
	ck_assert_int_eq(mmds_counters_describe(c, a, &i2), 0);
	ck_assert_str_eq(i2.label, "new");
	ck_assert_uint_gt(i2.generation, i1.generation);
	ck_assert_int_eq(mmds_counters_find(c, "other"), b);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_free_prefers_never_used_ids_over_waiting)
{
	mmds_counters *c = create("c", 4, 0, 60000);
	int a = mmds_counters_alloc(c, "a", NULL);

	ck_assert_int_eq(mmds_counters_free(c, a), 0);
	ck_assert_int_eq(mmds_counters_alloc(c, "b", NULL), 1);
	ck_assert_int_eq(mmds_counters_alloc(c, "a", NULL), 2);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_values_and_labels_survive_reopen)
{
	mmds_counters *c = create("c", 8, 0, 0);
	int id = mmds_counters_alloc(c, "kept", &(mmds_counter_def){
							.kind = MMDS_GAUGE,
							.help = "seconds" });
	mmds_counter_info info;

	mmds_counters_set(c, id, (uint64_t)-5);
	ck_assert_int_eq(mmds_counters_sync(c), 0);
	mmds_counters_close(c);
	c = reopen("c", 0);
	ck_assert_int_eq(mmds_counters_find(c, "kept"), id);
	ck_assert_int_eq(mmds_counters_describe(c, id, &info), 0);
	ck_assert_uint_eq(info.kind, MMDS_GAUGE);
	ck_assert_str_eq(info.help, "seconds");
	ck_assert_int_eq((int64_t)info.value, -5);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_open_n_gives_ids_0_to_n_like_emmap)
{
	mmds_counters *c = NULL;
	uint64_t old = 1;

	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("e"), 10), 0);
	ck_assert_int_eq(mmds_counters_inc(c, 9, &old), 0);
	ck_assert_uint_eq(old, 0);
	ck_assert_int_eq(mmds_counters_inc(c, 9, &old), 0);
	ck_assert_uint_eq(old, 1);
	ck_assert_int_eq(mmds_counters_find(c, "counter_3"), 3);
	mmds_counters_close(c);
	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("e"), 10), 0);
	ck_assert_int_eq(mmds_counters_inc(c, 9, &old), 0);
	ck_assert_uint_eq(old, 2);
	mmds_counters_close(c);
	c = (mmds_counters *)1;
	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("e"), 11), -ERANGE);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("z"), 0), -EINVAL);
	/* an id below n holding another label, or counter_<j> at another id */
	c = create("other", 8, 0, 0);
	ck_assert_int_eq(mmds_counters_alloc(c, "x", NULL), 0);
	mmds_counters_close(c);
	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("other"), 4), -EEXIST);
	c = create("moved", 8, 0, 0);
	ck_assert_int_eq(mmds_counters_alloc(c, "pad", NULL), 0);
	ck_assert_int_eq(mmds_counters_alloc(c, "counter_0", NULL), 1);
	mmds_counters_close(c);
	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("moved"), 1), -EEXIST);
	/* ids above n are the caller's: counter_5 at id 5 is fine with n 2 */
	c = create("above", 8, 0, 0);
	mmds_counters_close(c);
	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("above"), 2), 0);
	ck_assert_int_eq(mmds_counters_alloc(c, "mine", NULL), 2);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_open_n_with_many_counters_is_one_pass)
{
	const uint32_t n = 50000;
	mmds_counters *c = NULL;
	uint64_t old = 1;

	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("big"), n), 0);
	ck_assert_int_eq(mmds_counters_inc(c, (int)n - 1, &old), 0);
	ck_assert_uint_eq(old, 0);
	ck_assert_int_eq(mmds_counters_snapshot(c, NULL, 0), (int)n);
	mmds_counters_close(c);
	ck_assert_int_eq(mmds_counters_open_n(&c, t_path("big"), n), 0);
	ck_assert_int_eq(mmds_counters_inc(c, (int)n - 1, &old), 0);
	ck_assert_uint_eq(old, 1);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_open_flags)
{
	mmds_counters *c = (mmds_counters *)1;
	struct stat st;

	ck_assert_int_eq(mmds_counters_open(&c, t_path("none"), NULL), -ENOENT);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(mmds_counters_open(&c, t_path("x"), &(mmds_counters_opts){
							   .flags = MMDS_COUNTERS_EXCL }),
			 -EINVAL);
	ck_assert_int_eq(mmds_counters_open(&c, t_path("x"), &(mmds_counters_opts){
							   .flags = MMDS_COUNTERS_CREATE |
								    MMDS_COUNTERS_READONLY }),
			 -EINVAL);
	ck_assert_int_eq(mmds_counters_open(&c, t_path("x"), &(mmds_counters_opts){
							   .capacity = MMDS_COUNTERS_MAX_CAPACITY + 1,
							   .flags = MMDS_COUNTERS_CREATE }),
			 -EINVAL);
	c = create("x", 4, MMDS_COUNTERS_EXCL, 0);
	mmds_counters_close(c);
	ck_assert_int_eq(stat(t_path("x"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(mmds_counters_open(&c, t_path("x"), &(mmds_counters_opts){
							   .flags = MMDS_COUNTERS_CREATE |
								    MMDS_COUNTERS_EXCL }),
			 -EEXIST);
	c = create("y", 4, 0, 0);
	mmds_counters_close(c);
	ck_assert_int_eq(mmds_counters_open(&c, t_path("m"), &(mmds_counters_opts){
							   .flags = MMDS_COUNTERS_CREATE,
							   .mode = 0640 }),
			 0);
	mmds_counters_close(c);
	ck_assert_int_eq(stat(t_path("m"), &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
}
END_TEST

/* ---- many processes ----------------------------------------------------------- */

#define NPROC 4

static void count_in_children(int striped)
{
	long m = iterations(20000);
	mmds_counters *c = create("c", 64, 0, 0);
	t_barrier *b = t_barrier_new(NPROC);
	pid_t pids[NPROC];
	uint64_t v;
	int id;

	for (int p = 0; p < NPROC; p++) {
		pids[p] = t_fork();
		if (pids[p] == 0) {
			mmds_counters *cc = NULL;
			uint64_t *slot;
			int cid;

			T_CHILD_ASSERT(mmds_counters_open(&cc, t_path("c"), NULL) == 0);
			/* all allocate the same label at once: one id */
			t_barrier_wait(b);
			cid = mmds_counters_alloc(cc, "shared", &(mmds_counter_def){
								 .stripes = striped ? 4 : 1 });
			T_CHILD_ASSERT(cid >= 0);
			slot = mmds_counters_slot(cc, cid);
			T_CHILD_ASSERT(slot != NULL);
			for (long i = 0; i < m; i++) {
				if (i & 1)
					mmds_slot_inc(slot);
				else
					T_CHILD_ASSERT(mmds_counters_inc(cc, cid, NULL) == 0);
			}
			mmds_counters_close(cc);
			_exit(0);
		}
	}
	for (int p = 0; p < NPROC; p++)
		t_wait_child(pids[p]);
	id = mmds_counters_find(c, "shared");
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), 0);
	ck_assert_uint_eq(v, (uint64_t)NPROC * (uint64_t)m);
	ck_assert_int_eq(mmds_counters_snapshot(c, NULL, 0), 1);
	t_barrier_free(b);
	mmds_counters_close(c);
}

START_TEST(test_forked_processes_count_exactly)
{
	count_in_children(0);
}
END_TEST

START_TEST(test_forked_processes_count_exactly_striped)
{
	count_in_children(1);
}
END_TEST

START_TEST(test_killed_writers_lose_none_of_their_completed_increments)
{
	/* Each child adds 1 to "total", then 1 to its own "done_<n>" counter.
	 * A child killed between the two has added one more than it reports,
	 * so:  sum(done) <= total <= sum(done) + killed children, and a child
	 * that finished has done == its whole count. */
	long m = iterations(200000) * 10;
	mmds_counters *c = create("c", 64, 0, 0);
	t_barrier *b = t_barrier_new(NPROC + 1);
	pid_t pids[NPROC];
	uint64_t total, sum = 0;
	int total_id = mmds_counters_alloc(c, "total", NULL), killed = 0;
	int done_id[NPROC];

	srand((unsigned)time(NULL));
	for (int p = 0; p < NPROC; p++) {
		char l[16];

		snprintf(l, sizeof(l), "done_%d", p);
		done_id[p] = mmds_counters_alloc(c, l, NULL);
		ck_assert_int_ge(done_id[p], 0);
	}
	for (int p = 0; p < NPROC; p++) {
		pids[p] = t_fork();
		if (pids[p] == 0) {
			mmds_counters *cc = NULL;
			char l[16];
			int done;

			T_CHILD_ASSERT(mmds_counters_open(&cc, t_path("c"), NULL) == 0);
			snprintf(l, sizeof(l), "done_%d", p);
			done = mmds_counters_find(cc, l);
			T_CHILD_ASSERT(done >= 0);
			t_barrier_wait(b);
			for (long i = 0; i < m; i++) {
				T_CHILD_ASSERT(mmds_counters_inc(cc, total_id, NULL) == 0);
				T_CHILD_ASSERT(mmds_counters_inc(cc, done, NULL) == 0);
			}
			_exit(0);
		}
	}
	/* kill half of them at random moments, each once it has counted:
	 * glibc's pthread_barrier_destroy() waits until every waiter has left
	 * pthread_barrier_wait(), which a child killed after the barrier
	 * opened but before it ran again (a loaded machine) never does. */
	t_barrier_wait(b);
	for (int p = 0; p < NPROC; p += 2) {
		uint64_t d = 0;

		sleep_ms(1 + rand() % 30);
		for (;;) {
			ck_assert_int_eq(mmds_counters_get(c, done_id[p], &d), 0);
			if (d > 0)
				break;
			sleep_ms(1);
		}
		kill(pids[p], SIGKILL);
	}
	for (int p = 0; p < NPROC; p++) {
		int st;
		uint64_t d;
		char l[16];

		ck_assert_int_eq(waitpid(pids[p], &st, 0), pids[p]);
		snprintf(l, sizeof(l), "done_%d", p);
		ck_assert_int_eq(mmds_counters_get(c, mmds_counters_find(c, l), &d), 0);
		if (WIFSIGNALED(st)) {
			killed++;
			ck_assert_uint_le(d, (uint64_t)m);
		} else {
			ck_assert_int_eq(WEXITSTATUS(st), 0);
			ck_assert_uint_eq(d, (uint64_t)m);
		}
		sum += d;
	}
	ck_assert_int_eq(mmds_counters_get(c, total_id, &total), 0);
	ck_assert_uint_ge(total, sum);
	ck_assert_uint_le(total, sum + (uint64_t)killed);
	if (killed == 0)
		fprintf(stderr, "note: every writer finished before its kill\n");
	t_barrier_free(b);
	mmds_counters_close(c);
	/* and the file reopens with the same numbers */
	c = reopen("c", MMDS_COUNTERS_READONLY);
	{
		uint64_t again;

		ck_assert_int_eq(mmds_counters_get(c, total_id, &again), 0);
		ck_assert_uint_eq(again, total);
	}
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_allocation_lock_of_a_killed_process_is_taken_over)
{
	mmds_counters *c = create("c", 8, 0, 0);
	pid_t dead = t_fork();
	int fd;
	uint64_t lock;
	uint64_t reserved = (5ull << 8) | 1; /* generation 5, RESERVED */

	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(t_wait_exit(dead), 0);
	/* as if `dead` was killed while allocating id 0, with format 1's
	 * first lock word (pid << 32 | start ticks): it reads as a dead
	 * owner word, and a reserved record without an intent is reusable */
	fd = open(t_path("c"), O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	lock = (uint64_t)(uint32_t)dead << 32 | 12345u;
	ck_assert_int_eq(pwrite(fd, &lock, 8, 256), 8);
	ck_assert_int_eq(pwrite(fd, &reserved, 8, META_OFF), 8);
	close(fd);
	ck_assert_int_eq(mmds_counters_snapshot(c, NULL, 0), 0);
	ck_assert_int_eq(mmds_counters_alloc(c, "after", NULL), 0);
	{
		mmds_counter_info info;

		ck_assert_int_eq(mmds_counters_describe(c, 0, &info), 0);
		ck_assert_uint_eq(info.generation, 6);
	}
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_allocation_lock_of_a_reused_pid_is_taken_over)
{
	mmds_counters *c = create("c", 8, 0, 0);
	pid_t live = t_fork();
	uint64_t lock;
	int fd;

	if (live == 0) {
		pause();
		_exit(0);
	}
	if (access("/proc/self/stat", R_OK) != 0) {
		kill(live, SIGKILL);
		waitpid(live, NULL, 0);
		t_skip("no /proc: a reused pid cannot be told from its holder");
	}
	/* `live` exists, but with another incarnation tag than the holder
	 * (the owner word: tag << 32 | pid) */
	fd = open(t_path("c"), O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	lock = (uint64_t)0x5eed1u << 32 | (uint32_t)live;
	ck_assert_int_eq(pwrite(fd, &lock, 8, 256), 8);
	close(fd);
	ck_assert_int_eq(mmds_counters_alloc(c, "after", NULL), 0);
	kill(live, SIGKILL);
	waitpid(live, NULL, 0);
	mmds_counters_close(c);
}
END_TEST

/* Issue 9, defect 11: a lock holder killed by kill -9 but not reaped yet
 * (a zombie) is dead.  A child allocates and frees in a loop and is killed
 * at a random moment until it dies holding the lock; while it is still a
 * zombie, another allocation must take the lock over at once instead of
 * waiting 5 s for -ETIMEDOUT. */
START_TEST(test_allocation_lock_of_a_zombie_is_taken_over)
{
	mmds_counters *c = create("c", 64, 0, 1);
	int caught = 0;

	for (int round = 0; round < 2000 && caught < 3; round++) {
		pid_t pid = t_fork();
		siginfo_t si;
		uint64_t lock = 0;
		int fd;

		if (pid == 0) {
			for (unsigned i = 0;; i++) {
				char label[32];
				int id;

				snprintf(label, sizeof(label), "z%u", i % 8);
				id = mmds_counters_alloc(c, label, &(mmds_counter_def){
								      .stripes = 1 + i % 3 });
				if (id >= 0)
					mmds_counters_free(c, id);
			}
		}
		sleep_ms(1 + round % 5);
		kill(pid, SIGKILL);
		/* dead but not reaped: a zombie */
		memset(&si, 0, sizeof(si));
		ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
		fd = open(t_path("c"), O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pread(fd, &lock, 8, 256), 8);
		close(fd);
		if (lock != 0) {
			struct timespec t0, t1;
			int id;

			caught++;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			/* -ENOSPC: every id is in its 1 ms grace period, but
			 * the lock was taken; wait the grace out */
			while ((id = mmds_counters_alloc(c, "after", NULL)) == -ENOSPC)
				sleep_ms(2);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			ck_assert_int_ge(id, 0);
			ck_assert_int_eq(mmds_counters_free(c, id), 0);
			ck_assert_msg(t1.tv_sec - t0.tv_sec < 2,
				      "waited %ld s for a zombie's lock",
				      (long)(t1.tv_sec - t0.tv_sec));
		}
		ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	}
	ck_assert_int_gt(caught, 0);
	mmds_counters_close(c);
}
END_TEST

/* Issue 9, defect 12: a lock word no live process can own (pid 0, a pid
 * beyond any pid_max, tag 0, or this process's pid with another start
 * time) is taken over, in at most a fraction of the lock timeout. */
START_TEST(test_impossible_lock_words_are_taken_over)
{
	mmds_counters *c = create("c", 8, 0, 0);
	uint32_t me = (uint32_t)getpid();
	const uint64_t words[] = {
		1,                                   /* pid 0 / tag 0 */
		0xffffffffffffffffull,               /* pid -1 / 2^32-1 */
		0x80000000ull << 32 | 0x80000005u,   /* pid >= 2^31 either way */
		(uint64_t)me << 32 | 1u,             /* my pid, another start */
		(uint64_t)0x12345678u << 32 | me,    /* my pid, another tag */
		(uint64_t)me << 32,                  /* my pid, tag 0 */
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		struct timespec t0, t1;
		int fd = open(t_path("c"), O_RDWR | O_CLOEXEC), id;
		uint64_t lock;

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pwrite(fd, &words[i], 8, 256), 8);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		id = mmds_counters_alloc(c, "x", NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ck_assert_msg(id >= 0, "lock word %#" PRIx64 ": %d", words[i], id);
		ck_assert_msg(t1.tv_sec - t0.tv_sec < 2, "lock word %#" PRIx64
			      " held for %ld s", words[i],
			      (long)(t1.tv_sec - t0.tv_sec));
		ck_assert_int_eq(mmds_counters_free(c, id), 0);
		/* and it was released after */
		ck_assert_int_eq(pread(fd, &lock, 8, 256), 8);
		ck_assert_uint_eq(lock, 0);
		close(fd);
	}
	mmds_counters_close(c);
}
END_TEST

/* Issue 9, defect 13: a free killed between the head's and the stripes'
 * state stores left STRIPE records whose head is freed; nothing reclaimed
 * them.  Forge that state (head freed, stripes still STRIPE) and a stray
 * STRIPE record naming a head that is not a counter: the next allocation
 * reclaims both, so every used id belongs to a listed counter, and after
 * the grace period the ids are allocated again. */
START_TEST(test_orphan_stripes_are_reclaimed)
{
	mmds_counters *c = create("c", 8, 0, 1);
	int s = mmds_counters_alloc(c, "striped", &(mmds_counter_def){ .stripes = 4 });
	uint64_t w;
	mmds_counters_stat st;
	int fd, n;

	ck_assert_int_eq(s, 0);
	fd = open(t_path("c"), O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	/* the head freed, its stripes not (a kill between the two stores) */
	ck_assert_int_eq(pread(fd, &w, 8, META_OFF), 8);
	w = (w & ~0xffull) | 3;
	ck_assert_int_eq(pwrite(fd, &w, 8, META_OFF), 8);
	/* id 5: a STRIPE naming id 4, which is free */
	{
		uint64_t stripe = (1ull << 8) | 4;
		uint32_t head = 4;

		ck_assert_int_eq(pwrite(fd, &stripe, 8, META_OFF + 5 * REC), 8);
		ck_assert_int_eq(pwrite(fd, &head, 4, META_OFF + 5 * REC + 24), 4);
	}
	close(fd);
	ck_assert_int_eq(mmds_counters_snapshot(c, NULL, 0), 0);
	ck_assert_int_ge(mmds_counters_alloc(c, "plain", NULL), 0);
	ck_assert_int_eq(mmds_counters_get_stat(c, &st), 0);
	ck_assert_uint_eq(st.used, 1);
	sleep_ms(20);
	/* every other id comes back: 7 plain counters fit beside "plain" */
	for (n = 0; n < 7; n++) {
		char label[16];

		snprintf(label, sizeof(label), "p%d", n);
		ck_assert_int_ge(mmds_counters_alloc(c, label, NULL), 0);
	}
	ck_assert_int_eq(mmds_counters_alloc(c, "one_too_many", NULL), -ENOSPC);
	mmds_counters_close(c);
}
END_TEST

/* Writers allocate, update and free counters whose help and kind are
 * derived from the label; the reader checks every entry it sees against
 * that rule, so a half-made entry would show.
 *
 * With a 1 ms grace period the writers free ids faster than the grace
 * gives them back, so -ENOSPC is common (and correct) while they run, and
 * a writer can pass its last rounds without allocating anything.  So the
 * last 14 rounds (two visits of each of a writer's 7 labels; they free
 * nothing) wait out the grace period on -ENOSPC: each writer then leaves
 * all its 7 labels, and the pass after both ended must see exactly those
 * 14, whatever the reader saw (or, on a loaded machine, did not get to
 * run and see) while they ran.  A pass made while they run is no instant
 * (a label freed behind it and allocated again ahead of it shows twice),
 * so only the final pass is bounded by 14. */
START_TEST(test_reader_never_sees_half_made_entries)
{
	long rounds = iterations(3000);
	mmds_counters *c = create("c", 256, 0, 1);
	t_barrier *b = t_barrier_new(3);
	pid_t w[2];
	static mmds_counter_info snap[256];
	long seen = 0;
	int n = 0;

	for (int p = 0; p < 2; p++) {
		w[p] = t_fork();
		if (w[p] == 0) {
			mmds_counters *cc = NULL;

			T_CHILD_ASSERT(mmds_counters_open(&cc, t_path("c"), NULL) == 0);
			t_barrier_wait(b);
			for (long i = 0; i < rounds; i++) {
				char l[32], h[40];
				int id, g = (int)(i % 2), tail = i >= rounds - 14;
				struct timespec t0, t;

				snprintf(l, sizeof(l), "w%d_%ld", p, i % 7);
				snprintf(h, sizeof(h), "help of %s", l);
				clock_gettime(CLOCK_MONOTONIC, &t0);
				for (;;) {
					id = mmds_counters_alloc(cc, l, &(mmds_counter_def){
									 .kind = g ? MMDS_GAUGE : MMDS_COUNTER,
									 .help = h });
					if (id != -ENOSPC || !tail)
						break;
					/* Ids come back 1 ms after their free, at the
					 * latest once the other writer has ended. */
					clock_gettime(CLOCK_MONOTONIC, &t);
					T_CHILD_ASSERT(t.tv_sec - t0.tv_sec < 30);
					sleep_ms(1);
				}
				if (id == -EEXIST || id == -ENOSPC)
					continue;
				T_CHILD_ASSERT(id >= 0);
				mmds_counters_add(cc, id, 3, NULL);
				if (i % 3 == 0 && !tail) /* the last rounds' stay */
					T_CHILD_ASSERT(mmds_counters_free(cc, id) == 0);
			}
			_exit(0);
		}
	}
	t_barrier_wait(b);
	for (int alive = 2, last = 0; !last;) {
		n = mmds_counters_snapshot(c, snap, 256);

		last = alive == 0; /* one more pass after both writers ended */

		ck_assert_int_ge(n, 0);
		ck_assert_int_le(n, 256);
		for (int i = 0; i < n; i++) {
			char h[40];

			snprintf(h, sizeof(h), "help of %s", snap[i].label);
			ck_assert_str_eq(snap[i].help, h);
			ck_assert_int_eq(snap[i].label[0], 'w');
			ck_assert_uint_eq(snap[i].stripes, 1);
			ck_assert_uint_eq(snap[i].value % 3, 0);
			if (i > 0)
				ck_assert_int_gt(snap[i].id, snap[i - 1].id);
			seen++;
		}
		for (int p = 0; p < 2; p++) {
			int st;

			if (w[p] && waitpid(w[p], &st, WNOHANG) == w[p]) {
				ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
				w[p] = 0;
				alive--;
			}
		}
	}
	/* The end state: each writer's 7 labels (fewer if it ran fewer
	 * rounds), once each, each added to after its allocation. */
	ck_assert_int_eq(n, 2 * (rounds < 7 ? (int)rounds : 7));
	for (int p = 0; p < 2; p++) {
		for (int j = 0; j < n / 2; j++) {
			char l[32];
			int found = 0;

			snprintf(l, sizeof(l), "w%d_%d", p, j);
			for (int i = 0; i < n; i++) {
				if (strcmp(snap[i].label, l) == 0) {
					found++;
					ck_assert_uint_ge(snap[i].value, 3);
				}
			}
			ck_assert_msg(found == 1, "%s found %d times", l, found);
		}
	}
	ck_assert_int_gt(seen, 0);
	t_barrier_free(b);
	mmds_counters_close(c);
}
END_TEST

/* ---- threads ---------------------------------------------------------------- */

struct thr {
	mmds_counters *c;
	int plain, striped, n;
	long m;
	pthread_barrier_t *b;
	int failures;
};

static void *count_thread(void *arg)
{
	struct thr *t = arg;
	uint64_t *ps = mmds_counters_slot(t->c, t->plain);
	uint64_t *ss = mmds_counters_slot(t->c, t->striped);

	pthread_barrier_wait(t->b);
	for (long i = 0; i < t->m; i++) {
		if (mmds_counters_inc(t->c, t->plain, NULL) != 0 ||
		    mmds_counters_add(t->c, t->striped, 2, NULL) != 0)
			t->failures++;
		mmds_slot_inc(ps);
		mmds_slot_inc(ss);
	}
	return NULL;
}

START_TEST(test_threads_count_exactly_plain_and_striped)
{
	long m = iterations(20000);
	mmds_counters *c = create("c", 32, 0, 0);
	pthread_barrier_t b;
	pthread_t th[4];
	struct thr t[4];
	uint64_t v;
	int plain = mmds_counters_alloc(c, "p", NULL);
	int striped = mmds_counters_alloc(c, "s", &(mmds_counter_def){ .stripes = 4 });

	pthread_barrier_init(&b, NULL, 4);
	for (int i = 0; i < 4; i++) {
		t[i] = (struct thr){ c, plain, striped, i, m, &b, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, count_thread, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(t[i].failures, 0);
	}
	ck_assert_int_eq(mmds_counters_get(c, plain, &v), 0);
	ck_assert_uint_eq(v, 4 * 2 * (uint64_t)m);
	ck_assert_int_eq(mmds_counters_get(c, striped, &v), 0);
	ck_assert_uint_eq(v, 4 * 3 * (uint64_t)m);
	pthread_barrier_destroy(&b);
	mmds_counters_close(c);
}
END_TEST

static void *alloc_free_thread(void *arg)
{
	struct thr *t = arg;

	pthread_barrier_wait(t->b);
	for (long i = 0; i < t->m; i++) {
		char l[32], h[48];
		int id;

		snprintf(l, sizeof(l), "t%d_%ld", t->n, i % 5);
		snprintf(h, sizeof(h), "help of %s", l);
		id = mmds_counters_alloc(t->c, l, &(mmds_counter_def){ .help = h });
		if (id == -ENOSPC)
			continue;
		if (id < 0 || mmds_counters_add(t->c, id, 3, NULL) != 0 ||
		    mmds_counters_free(t->c, id) != 0)
			t->failures++;
	}
	return NULL;
}

START_TEST(test_threads_list_while_others_allocate_and_free)
{
	long m = iterations(2000);
	mmds_counters *c = create("c", 16, 0, 1);
	pthread_barrier_t b;
	pthread_t th[2];
	struct thr t[2];
	mmds_counter_info snap[16];
	long seen = 0;

	pthread_barrier_init(&b, NULL, 3);
	for (int i = 0; i < 2; i++) {
		t[i] = (struct thr){ c, 0, 0, i, m, &b, 0 };
		ck_assert_int_eq(pthread_create(&th[i], NULL, alloc_free_thread, &t[i]), 0);
	}
	pthread_barrier_wait(&b);
	for (int r = 0; r < 200; r++) {
		int n = mmds_counters_snapshot(c, snap, 16);

		ck_assert_int_ge(n, 0);
		for (int i = 0; i < n && i < 16; i++) {
			char h[48];

			snprintf(h, sizeof(h), "help of %s", snap[i].label);
			ck_assert_str_eq(snap[i].help, h);
			ck_assert_uint_eq(snap[i].value % 3, 0);
			seen++;
		}
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(t[i].failures, 0);
	}
	(void)seen;
	pthread_barrier_destroy(&b);
	mmds_counters_close(c);
}
END_TEST

/* ---- snapshot, reset, export ---------------------------------------------------- */

START_TEST(test_snapshot_lists_every_counter_in_id_order)
{
	mmds_counters *c = create("c", 16, 0, 0);
	mmds_counter_info s[4];
	int a = mmds_counters_alloc(c, "a", NULL);
	int b = mmds_counters_alloc(c, "b", &(mmds_counter_def){ .stripes = 3 });
	int g = mmds_counters_alloc(c, "g", &(mmds_counter_def){ .kind = MMDS_GAUGE,
								 .help = "hh" });

	mmds_counters_add(c, a, 1, NULL);
	mmds_counters_add(c, b, 2, NULL);
	mmds_counters_sub(c, g, 3, NULL);
	ck_assert_int_eq(mmds_counters_snapshot(c, s, 4), 3);
	ck_assert_int_eq(s[0].id, a);
	ck_assert_str_eq(s[0].label, "a");
	ck_assert_uint_eq(s[0].value, 1);
	ck_assert_int_eq(s[1].id, b);
	ck_assert_uint_eq(s[1].stripes, 3);
	ck_assert_uint_eq(s[1].value, 2);
	ck_assert_int_eq(s[2].id, g);
	ck_assert_str_eq(s[2].help, "hh");
	ck_assert_uint_eq(s[2].kind, MMDS_GAUGE);
	ck_assert_int_eq((int64_t)s[2].value, -3);
	/* a smaller array gets the first entries and the full count */
	memset(s, 0, sizeof(s));
	ck_assert_int_eq(mmds_counters_snapshot(c, s, 1), 3);
	ck_assert_str_eq(s[0].label, "a");
	ck_assert_str_eq(s[1].label, "");
	ck_assert_int_eq(mmds_counters_snapshot(c, NULL, 1), -EINVAL);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_reset_one_and_all)
{
	mmds_counters *c = create("c", 16, 0, 0);
	int a = mmds_counters_alloc(c, "a", NULL);
	int b = mmds_counters_alloc(c, "b", &(mmds_counter_def){ .stripes = 2 });
	uint64_t v;

	mmds_counters_add(c, a, 5, NULL);
	mmds_counters_add(c, b, 6, NULL);
	ck_assert_int_eq(mmds_counters_reset(c, a), 0);
	mmds_counters_get(c, a, &v);
	ck_assert_uint_eq(v, 0);
	mmds_counters_get(c, b, &v);
	ck_assert_uint_eq(v, 6);
	mmds_counters_add(c, a, 5, NULL);
	ck_assert_int_eq(mmds_counters_reset_all(c), 0);
	mmds_counters_get(c, a, &v);
	ck_assert_uint_eq(v, 0);
	mmds_counters_get(c, b, &v);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(mmds_counters_find(c, "b"), b);
	mmds_counters_close(c);
}
END_TEST

static char *export_to_string(mmds_counters *c, unsigned format, int *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	*n = mmds_counters_export(c, f, format);
	fclose(f);
	return buf;
}

/* 1 if every line is a HELP, TYPE or sample line of the text format with a
 * valid metric name, every sample follows its family's TYPE (a histogram's
 * samples are NAME_bucket{le=..}, NAME_sum and NAME_count), no family name
 * repeats, and no sample name belongs to two families. */
static int prometheus_valid(const char *text, char *why, size_t whylen)
{
	static char names[64][200], samples[256][200];
	int nn = 0, ns = 0, hist = 0;
	const char *line = text;

	while (*line) {
		const char *end = strchr(line, '\n');
		char l[512], name[200], rest[300];

		if (end == NULL || (size_t)(end - line) >= sizeof(l))
			return snprintf(why, whylen, "unterminated line"), 0;
		memcpy(l, line, (size_t)(end - line));
		l[end - line] = 0;
		line = end + 1;
		if (strncmp(l, "# HELP ", 7) == 0 || strncmp(l, "# TYPE ", 7) == 0) {
			if (sscanf(l + 7, "%199s %299[^\n]", name, rest) != 2)
				return snprintf(why, whylen, "bad: %s", l), 0;
			if (l[2] == 'T') {
				if (strcmp(rest, "counter") && strcmp(rest, "gauge") &&
				    strcmp(rest, "histogram"))
					return snprintf(why, whylen, "type: %s", l), 0;
				hist = strcmp(rest, "histogram") == 0;
				for (int i = 0; i < nn; i++)
					if (strcmp(names[i], name) == 0)
						return snprintf(why, whylen, "dup: %s", name), 0;
				if (nn < 64)
					strcpy(names[nn++], name);
				if (strcmp(rest, "counter") == 0 &&
				    (strlen(name) < 6 ||
				     strcmp(name + strlen(name) - 6, "_total")))
					return snprintf(why, whylen, "no _total: %s", l), 0;
			}
		} else {
			char *e, *brace, *value = rest;
			int own = 0;

			if (sscanf(l, "%199s %299s", name, rest) != 2)
				return snprintf(why, whylen, "sample: %s", l), 0;
			if ((brace = strchr(name, '{')) != NULL) {
				/* labels may hold spaces: the value is the last field */
				value = strrchr(l, ' ') + 1;
				*brace = 0;
			}
			if (nn > 0 && !hist)
				own = strcmp(names[nn - 1], name) == 0;
			for (int k = 0; nn > 0 && hist && k < 3 && !own; k++) {
				static const char *const sfx[] = { "_bucket", "_sum", "_count" };
				char want[220];

				snprintf(want, sizeof(want), "%s%s", names[nn - 1], sfx[k]);
				own = strcmp(want, name) == 0 && (k == 0) == (brace != NULL);
			}
			if (!own)
				return snprintf(why, whylen, "no TYPE: %s", l), 0;
			for (int i = 0; i < ns; i++)
				if (strcmp(samples[i], name) == 0 &&
				    !(hist && strstr(name, "_bucket") && i == ns - 1))
					return snprintf(why, whylen, "sample of two families: %s", l), 0;
			if (ns < 256 && (ns == 0 || strcmp(samples[ns - 1], name)))
				strcpy(samples[ns++], name);
			errno = 0;
			(void)strtod(value, &e);
			if (*e || errno)
				return snprintf(why, whylen, "value: %s", l), 0;
		}
		for (const char *p = name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      *p == '_' || *p == ':' ||
			      (p > name && *p >= '0' && *p <= '9')))
				return snprintf(why, whylen, "name: %s", name), 0;
	}
	return 1;
}

START_TEST(test_prometheus_export_is_valid_text_format)
{
	mmds_counters *c = create("c", 16, 0, 0);
	char why[600];
	char *text;
	int n;

	mmds_counters_add(c, mmds_counters_alloc(c, "http.requests", &(mmds_counter_def){
								  .help = "requests, with \\ backslash" }),
			  12, NULL);
	mmds_counters_alloc(c, "http_requests", NULL); /* collides once sanitised */
	mmds_counters_alloc(c, "9lives", NULL);
	mmds_counters_alloc(c, "bytes_total", NULL);
	mmds_counters_sub(c, mmds_counters_alloc(c, "temp \xc3\xa9t\xc3\xa9",
						 &(mmds_counter_def){ .kind = MMDS_GAUGE }),
			  40, NULL);
	text = export_to_string(c, MMDS_COUNTERS_PROMETHEUS, &n);
	ck_assert_int_eq(n, 5);
	ck_assert_msg(prometheus_valid(text, why, sizeof(why)), "%s\n%s", why, text);
	ck_assert_ptr_nonnull(strstr(text, "\nhttp_requests_total 12\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nhttp_requests_id1_total 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "\n_9lives_total 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "\nbytes_total 0\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE temp__t_ gauge\ntemp__t_ -40\n"));
	ck_assert_ptr_nonnull(strstr(text, "requests, with \\\\ backslash\n"));
	free(text);
	mmds_counters_close(c);
	/* promtool, when the machine has it (Debian's prometheus package) */
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		char cmd[512];

		c = reopen("c", MMDS_COUNTERS_READONLY);
		text = export_to_string(c, MMDS_COUNTERS_PROMETHEUS, &n);
		t_write_file(t_path("metrics.txt"), text, strlen(text));
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s",
			 t_path("metrics.txt"));
		ck_assert_int_eq(system(cmd), 0);
		free(text);
		mmds_counters_close(c);
	} else {
		fprintf(stderr, "note: promtool not installed; checked the "
				"text format by hand only\n");
	}
}
END_TEST

/* Issue 9, defect 14: labels that sanitise to one name, and labels that
 * look like another's disambiguated name (a.b, a_b and a_b_id1 gave two
 * a_b_id1_total families), still export one family each, under valid
 * names, the same names on every export of the same file.  (p and q: "b"
 * would make promtool's lint flag a unit abbreviation.) */
START_TEST(test_prometheus_names_are_unique_even_against_suffixes)
{
	mmds_counters *c = create("c", 64, 0, 0);
	const char *labels[] = { "p.q", "p_q", "p_q_id1", "p_q_id1_total",
				 "p q", "p_q_id2", "p_q_id0", "p_q_id3_1",
				 "p\xc3\xa9" "q", "x", "x_total", "_x", "0x",
				 "_0x" };
	size_t nl = sizeof(labels) / sizeof(labels[0]);
	char why[600];
	char *text, *again;
	int n;

	for (size_t i = 0; i < nl; i++)
		ck_assert_int_eq(mmds_counters_alloc(c, labels[i], NULL), (int)i);
	/* a gauge may take a counter's name without _total */
	ck_assert_int_ge(mmds_counters_alloc(c, "p_q_total", &(mmds_counter_def){
							 .kind = MMDS_GAUGE }), 0);
	text = export_to_string(c, MMDS_COUNTERS_PROMETHEUS, &n);
	ck_assert_int_eq(n, (int)nl + 1);
	ck_assert_msg(prometheus_valid(text, why, sizeof(why)), "%s\n%s", why, text);
	{
		int types = 0;

		for (const char *p = text; (p = strstr(p, "# TYPE ")) != NULL; p++)
			types++;
		ck_assert_int_eq(types, n);
	}
	/* the lowest id keeps the plain name */
	ck_assert_ptr_nonnull(strstr(text, "\np_q_total 0\n"));
	again = export_to_string(c, MMDS_COUNTERS_PROMETHEUS, &n);
	ck_assert_str_eq(text, again);
	free(again);
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		char cmd[512];

		t_write_file(t_path("metrics.txt"), text, strlen(text));
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s",
			 t_path("metrics.txt"));
		ck_assert_int_eq(system(cmd), 0);
	}
	free(text);
	/* JSON keeps the real labels */
	text = export_to_string(c, MMDS_COUNTERS_JSON, &n);
	ck_assert_ptr_nonnull(strstr(text, "\"label\":\"p.q\""));
	ck_assert_ptr_nonnull(strstr(text, "\"label\":\"p_q_id1\""));
	free(text);
	mmds_counters_close(c);
}
END_TEST

/* No family may be named like a series of a histogram family (NAME_bucket,
 * NAME_sum, NAME_count): a gauge labelled x_count and a histogram x would
 * otherwise both expose samples named x_count. */
START_TEST(test_prometheus_names_avoid_histogram_series)
{
	mmds_counters *c = create("c", 64, 0, 0);
	static const double bounds[] = { 1, 2 };
	const char *names[] = { "lat_count", "lat_sum", "lat_bucket" };
	char why[600], line[128];
	char *text;
	int n, id;

	id = mmds_counters_alloc_histogram(c, "lat", &(mmds_histogram_def){
						   .bounds = bounds, .nbounds = 2 });
	ck_assert_int_ge(id, 0);
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_ge(mmds_counters_alloc(c, names[i], &(mmds_counter_def){
							     .kind = MMDS_GAUGE }), 0);
	text = export_to_string(c, MMDS_COUNTERS_PROMETHEUS, &n);
	ck_assert_int_eq(n, 4);
	ck_assert_msg(prometheus_valid(text, why, sizeof(why)), "%s\n%s", why, text);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE lat histogram\n"));
	for (size_t i = 0; i < 3; i++) {
		/* the gauge was renamed: no family of that name */
		snprintf(line, sizeof(line), "# TYPE %s ", names[i]);
		ck_assert_msg(strstr(text, line) == NULL, "%s\n%s", line, text);
	}
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		char cmd[512];

		t_write_file(t_path("metrics.txt"), text, strlen(text));
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >/dev/null 2>&1",
			 t_path("metrics.txt"));
		ck_assert_int_eq(system(cmd), 0);
	}
	free(text);
	mmds_counters_close(c);
}
END_TEST

/* A minimal JSON parser: returns the end of one value or NULL. */
static const char *json_value(const char *p, int *objects);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!strchr("\"\\/bfnrt", *p) || !*p) {
				return NULL;
			}
		}
		p++;
	}
	return p + 1;
}

static const char *json_value(const char *p, int *objects)
{
	p = json_ws(p);
	if (*p == '"')
		return json_string(p);
	if (*p == '-' || (*p >= '0' && *p <= '9')) {
		char *e;

		strtod(p, &e);
		return e;
	}
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		if (*p == '{')
			(*objects)++;
		p = json_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				p = json_string(json_ws(p));
				if (p == NULL || *(p = json_ws(p)) != ':')
					return NULL;
				p++;
			}
			p = json_value(p, objects);
			if (p == NULL)
				return NULL;
			p = json_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	return NULL;
}

START_TEST(test_json_export_parses)
{
	mmds_counters *c = create("c", 16, 0, 0);
	char *text;
	const char *end;
	int n, objects = 0;

	mmds_counters_add(c, mmds_counters_alloc(c, "quote\"and\\slash", NULL), 7, NULL);
	mmds_counters_sub(c, mmds_counters_alloc(c, "g", &(mmds_counter_def){
							      .kind = MMDS_GAUGE,
							      .help = "caf\xc3\xa9" }),
			  2, NULL);
	text = export_to_string(c, MMDS_COUNTERS_JSON, &n);
	ck_assert_int_eq(n, 2);
	end = json_value(text, &objects);
	ck_assert_msg(end != NULL, "does not parse:\n%s", text);
	ck_assert_str_eq(json_ws(end), "");
	ck_assert_int_eq(objects, 3);
	ck_assert_ptr_nonnull(strstr(text, "\"label\":\"quote\\\"and\\\\slash\""));
	ck_assert_ptr_nonnull(strstr(text, "\"kind\":\"gauge\",\"help\":\"caf\xc3\xa9\""));
	ck_assert_ptr_nonnull(strstr(text, "\"value\":-2}"));
	ck_assert_ptr_nonnull(strstr(text, "\"value\":7}"));
	free(text);
	/* empty file */
	mmds_counters_close(c);
	c = create("empty", 4, 0, 0);
	text = export_to_string(c, MMDS_COUNTERS_JSON, &n);
	ck_assert_int_eq(n, 0);
	objects = 0;
	ck_assert_ptr_nonnull(json_value(text, &objects));
	free(text);
	ck_assert_int_eq(mmds_counters_export(c, stdout, 9), -EINVAL);
	mmds_counters_close(c);
}
END_TEST

/* ---- histograms -------------------------------------------------------------- */

static const double lat_bounds[] = { 0.1, 1, 10 };

START_TEST(test_histogram_counts_buckets_sum_and_count)
{
	mmds_counters *c = create("c", 64, 0, 0);
	static const double obs[] = { 0.05, 0.1, 0.5, 5, 50, -1 };
	mmds_histogram_info h;
	mmds_counter_info e;
	int id = mmds_counters_alloc_histogram(c, "latency_seconds",
					       &(mmds_histogram_def){
						       .help = "request latency",
						       .bounds = lat_bounds,
						       .nbounds = 3 });

	ck_assert_int_ge(id, 0);
	for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
		ck_assert_int_eq(mmds_counters_observe(c, id, obs[i]), 0);
	ck_assert_int_eq(mmds_counters_histogram(c, id, &h), 0);
	ck_assert_uint_eq(h.nbounds, 3);
	ck_assert(h.bounds[0] == 0.1 && h.bounds[1] == 1 && h.bounds[2] == 10);
	/* cumulative: le=0.1 holds -1, 0.05 and 0.1 (bounds are inclusive) */
	ck_assert_uint_eq(h.buckets[0], 3);
	ck_assert_uint_eq(h.buckets[1], 4);
	ck_assert_uint_eq(h.buckets[2], 5);
	ck_assert_uint_eq(h.buckets[3], 6);
	ck_assert_uint_eq(h.count, 6);
	ck_assert_double_eq_tol(h.sum, 54.65, 1e-9);
	/* listed as a histogram whose value is its count, using 5 ids */
	ck_assert_int_eq(mmds_counters_describe(c, id, &e), 0);
	ck_assert_uint_eq(e.kind, MMDS_HISTOGRAM);
	ck_assert_uint_eq(e.value, 6);
	ck_assert_uint_eq(e.stripes, 5);
	/* the same label and bounds find it; other bounds or kinds do not */
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "latency_seconds",
				&(mmds_histogram_def){ .bounds = lat_bounds,
						       .nbounds = 3 }), id);
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "latency_seconds",
				&(mmds_histogram_def){ .bounds = lat_bounds,
						       .nbounds = 2 }), -EEXIST);
	ck_assert_int_eq(mmds_counters_alloc(c, "latency_seconds", NULL), -EEXIST);
	/* counter operations do not apply to its words */
	ck_assert_int_eq(mmds_counters_add(c, id, 1, NULL), -EINVAL);
	ck_assert_ptr_null(mmds_counters_slot(c, id));
	ck_assert_int_eq(mmds_counters_observe(c, id, 0.0 / 0.0), -EINVAL);
	{
		int plain = mmds_counters_alloc(c, "plain", NULL);
		mmds_histogram_info x;

		ck_assert_int_eq(mmds_counters_observe(c, plain, 1), -EINVAL);
		ck_assert_int_eq(mmds_counters_histogram(c, plain, &x), -EINVAL);
	}
	/* freed: its ids come back */
	ck_assert_int_eq(mmds_counters_free(c, id), 0);
	ck_assert_int_eq(mmds_counters_observe(c, id, 1), -ENOENT);
	mmds_counters_close(c);
	/* read-only handles read, never observe */
	c = reopen("c", MMDS_COUNTERS_READONLY);
	ck_assert_int_eq(mmds_counters_observe(c, id, 1), -EACCES);
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_histogram_bad_definitions_are_einval)
{
	mmds_counters *c = create("c", 256, 0, 0);
	static const double down[] = { 1, 0.5 }, same[] = { 1, 1 };
	double nan_b[] = { 0.0 / 0.0 }, inf_b[] = { 1.0 / 0.0 }, many[25];

	for (int i = 0; i < 25; i++)
		many[i] = i;
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "h", NULL), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "h",
				&(mmds_histogram_def){ .bounds = down, .nbounds = 2 }), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "h",
				&(mmds_histogram_def){ .bounds = same, .nbounds = 2 }), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "h",
				&(mmds_histogram_def){ .bounds = nan_b, .nbounds = 1 }), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "h",
				&(mmds_histogram_def){ .bounds = inf_b, .nbounds = 1 }), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "h",
				&(mmds_histogram_def){ .bounds = many, .nbounds = 0 }), -EINVAL);
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "h",
				&(mmds_histogram_def){ .bounds = many, .nbounds = 25 }), -EINVAL);
	/* 24 bounds: 26 ids a set; 2 sets fit in 64 ids, 3 do not */
	ck_assert_int_ge(mmds_counters_alloc_histogram(c, "h",
				&(mmds_histogram_def){ .bounds = many, .nbounds = 24,
						       .stripes = 2 }), 0);
	ck_assert_int_eq(mmds_counters_alloc_histogram(c, "h3",
				&(mmds_histogram_def){ .bounds = many, .nbounds = 24,
						       .stripes = 3 }), -EINVAL);
	mmds_counters_close(c);
}
END_TEST

/* A shape made impossible in the file (too many bounds, a count that does
 * not match the ids, unordered bounds) is refused, never followed. */
START_TEST(test_histogram_hostile_shape_is_ebadmsg)
{
	mmds_counters *c = create("c", 64, 0, 0);
	mmds_counter_info info[8];
	mmds_histogram_info h;
	int id = mmds_counters_alloc_histogram(c, "h", &(mmds_histogram_def){
						       .bounds = lat_bounds,
						       .nbounds = 3 });
	off_t shape = 4096 + (off_t)(id + 1) * 256 + 32;
	int fd = open(t_path("c"), O_RDWR | O_CLOEXEC);
	uint32_t bad[][2] = { { 200, 1 }, { 2, 1 }, { 0, 1 }, { 3, 0 } };
	double unordered[] = { 5, 1, 10 };

	ck_assert_int_ge(id, 0);
	ck_assert_int_ge(fd, 0);
	mmds_counters_alloc(c, "plain", NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(pwrite(fd, bad[i], 8, shape), 8);
		ck_assert_int_eq(mmds_counters_histogram(c, id, &h), -EBADMSG);
		ck_assert_int_eq(mmds_counters_observe(c, id, 1), -EBADMSG);
		/* listings skip it and keep the rest */
		ck_assert_int_eq(mmds_counters_snapshot(c, info, 8), 1);
		ck_assert_str_eq(info[0].label, "plain");
	}
	ck_assert_int_eq(pwrite(fd, (uint32_t[]){ 3, 1 }, 8, shape), 8);
	ck_assert_int_eq(pwrite(fd, unordered, sizeof(unordered), shape + 8),
			 (ssize_t)sizeof(unordered));
	ck_assert_int_eq(mmds_counters_histogram(c, id, &h), -EBADMSG);
	ck_assert_int_eq(mmds_counters_snapshot(c, info, 8), 1);
	close(fd);
	mmds_counters_close(c);
}
END_TEST

/* Striped histograms observed by forked processes and threads add up. */
START_TEST(test_histogram_processes_observe_exactly)
{
	mmds_counters *c = create("c", 64, 0, 0);
	long per = 2000;
	int id = mmds_counters_alloc_histogram(c, "h", &(mmds_histogram_def){
						       .bounds = lat_bounds,
						       .nbounds = 3,
						       .stripes = 4 });
	mmds_histogram_info h;
	pid_t pids[4];

	ck_assert_int_ge(id, 0);
	mmds_counters_close(c);
	for (int p = 0; p < 4; p++) {
		pids[p] = t_fork();
		if (pids[p] == 0) {
			mmds_counters *cc = NULL;

			T_CHILD_ASSERT(mmds_counters_open(&cc, t_path("c"), NULL) == 0);
			for (long i = 0; i < per; i++)
				T_CHILD_ASSERT(mmds_counters_observe(cc, id, (double)(i % 4) * 4) == 0);
			mmds_counters_close(cc);
			_exit(0);
		}
	}
	for (int p = 0; p < 4; p++)
		t_wait_child(pids[p]);
	c = reopen("c", MMDS_COUNTERS_READONLY);
	ck_assert_int_eq(mmds_counters_histogram(c, id, &h), 0);
	/* values 0, 4, 8, 12 a quarter each: le=0.1 has the zeros */
	ck_assert_uint_eq(h.count, 4 * (uint64_t)per);
	ck_assert_uint_eq(h.buckets[0], (uint64_t)per);
	ck_assert_uint_eq(h.buckets[1], (uint64_t)per);
	ck_assert_uint_eq(h.buckets[2], 3 * (uint64_t)per);
	ck_assert_double_eq(h.sum, 4.0 * (double)per / 4 * (0 + 4 + 8 + 12));
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_histogram_exports_as_prometheus_histogram_and_json)
{
	mmds_counters *c = create("c", 64, 0, 0);
	char *text;
	int n, objects = 0;
	int id = mmds_counters_alloc_histogram(c, "rpc latency", &(mmds_histogram_def){
						       .help = "seconds",
						       .bounds = lat_bounds,
						       .nbounds = 3 });

	ck_assert_int_ge(id, 0);
	mmds_counters_observe(c, id, 0.5);
	mmds_counters_observe(c, id, 20);
	mmds_counters_add(c, mmds_counters_alloc(c, "jobs", NULL), 2, NULL);
	text = export_to_string(c, MMDS_COUNTERS_PROMETHEUS, &n);
	ck_assert_int_eq(n, 2);
	ck_assert_msg(strstr(text, "# HELP rpc_latency seconds\n# TYPE rpc_latency histogram\n"
				   "rpc_latency_bucket{le=\"0.1\"} 0\n"
				   "rpc_latency_bucket{le=\"1\"} 1\n"
				   "rpc_latency_bucket{le=\"10\"} 1\n"
				   "rpc_latency_bucket{le=\"+Inf\"} 2\n"
				   "rpc_latency_sum 20.5\n"
				   "rpc_latency_count 2\n") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "\njobs_total 2\n") != NULL, "%s", text);
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		char cmd[512];

		t_write_file(t_path("metrics.txt"), text, strlen(text));
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >/dev/null",
			 t_path("metrics.txt"));
		ck_assert_int_eq(system(cmd), 0);
	}
	free(text);
	text = export_to_string(c, MMDS_COUNTERS_JSON, &n);
	ck_assert_ptr_nonnull(json_value(text, &objects));
	ck_assert_msg(strstr(text, "\"kind\":\"histogram\",\"help\":\"seconds\",\"stripes\":5,"
				   "\"value\":2,\"bounds\":[0.1,1,10],\"buckets\":[0,1,1,2],"
				   "\"sum\":20.5,\"count\":2}") != NULL, "%s", text);
	free(text);
	mmds_counters_close(c);
}
END_TEST

/* Observations of +Inf and -Inf make a sum of +Inf, -Inf or NaN: the text
 * format spells them +Inf, -Inf and NaN (a C "inf" or "-nan" is refused by
 * Prometheus's parsers), and JSON, which has none of them, gets null. */
START_TEST(test_histogram_non_finite_sum_exports_as_prometheus_spells_it)
{
	static const char *const want[] = { "+Inf", "-Inf", "NaN" };
	static const double obs[][2] = { { 1, INFINITY }, { 1, -INFINITY },
					 { INFINITY, -INFINITY } };
	char label[32], line[64];
	char *text;
	int n, objects = 0;
	mmds_counters *c = create("c", 64, 0, 0);

	for (int i = 0; i < 3; i++) {
		int id;

		snprintf(label, sizeof(label), "h%d", i);
		id = mmds_counters_alloc_histogram(c, label, &(mmds_histogram_def){
							   .bounds = lat_bounds,
							   .nbounds = 3 });
		ck_assert_int_ge(id, 0);
		ck_assert_int_eq(mmds_counters_observe(c, id, obs[i][0]), 0);
		ck_assert_int_eq(mmds_counters_observe(c, id, obs[i][1]), 0);
	}
	text = export_to_string(c, MMDS_COUNTERS_PROMETHEUS, &n);
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "\nh%d_sum %s\n", i, want[i]);
		ck_assert_msg(strstr(text, line) != NULL, "want '%s' in:\n%s", line, text);
	}
	if (system("command -v promtool >/dev/null 2>&1") == 0) {
		char cmd[512];

		t_write_file(t_path("metrics.txt"), text, strlen(text));
		snprintf(cmd, sizeof(cmd), "promtool check metrics < %s >/dev/null 2>&1",
			 t_path("metrics.txt"));
		ck_assert_msg(system(cmd) == 0, "promtool refuses:\n%s", text);
	}
	free(text);
	text = export_to_string(c, MMDS_COUNTERS_JSON, &n);
	for (const char *at = text; objects < 3; objects++, at++) {
		at = strstr(at, "\"sum\":null,");
		ck_assert_msg(at != NULL, "%s", text);
	}
	free(text);
	mmds_counters_close(c);
}
END_TEST

/* ---- the mmds tool ------------------------------------------------------------- */

/* Run `mmds counters ARGS > out` and return its exit status. */
static int run_tool(const char *args, const char *out)
{
	const char *top = getenv("top_builddir");
	char tool[4096], cmd[8192];
	int st;

	snprintf(tool, sizeof(tool), "%s/tools/mmds", top ? top : ".");
	if (access(tool, X_OK) != 0)
		t_skip("the mmds tool is not built at %s", tool);
	snprintf(cmd, sizeof(cmd), "%s counters %s > %s 2>&1", tool, args, out);
	st = system(cmd);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(test_tool_lists_watches_and_exports)
{
	mmds_counters *c = create("c", 8, 0, 0);
	char args[4096], why[600], *text;
	const char *out = t_path("out");
	size_t len;
	int objects = 0;

	mmds_counters_add(c, mmds_counters_alloc(c, "jobs_done", NULL), 41, NULL);
	mmds_counters_sub(c, mmds_counters_alloc(c, "queue", &(mmds_counter_def){
							      .kind = MMDS_GAUGE }),
			  2, NULL);
	mmds_counters_close(c);
	snprintf(args, sizeof(args), "%s", t_path("c"));
	ck_assert_int_eq(run_tool(args, out), 0);
	text = t_read_file(out, &len);
	ck_assert_ptr_nonnull(strstr(text, " 41  jobs_done\n"));
	ck_assert_ptr_nonnull(strstr(text, " -2  queue\n"));
	free(text);
	snprintf(args, sizeof(args), "--json %s", t_path("c"));
	ck_assert_int_eq(run_tool(args, out), 0);
	text = t_read_file(out, &len);
	ck_assert_ptr_nonnull(json_value(text, &objects));
	ck_assert_int_eq(objects, 3);
	free(text);
	snprintf(args, sizeof(args), "--prometheus %s", t_path("c"));
	ck_assert_int_eq(run_tool(args, out), 0);
	text = t_read_file(out, &len);
	ck_assert_msg(prometheus_valid(text, why, sizeof(why)), "%s", why);
	ck_assert_ptr_nonnull(strstr(text, "\njobs_done_total 41\n"));
	free(text);
	snprintf(args, sizeof(args), "--watch 0.05 --count 2 %s", t_path("c"));
	ck_assert_int_eq(run_tool(args, out), 0);
	text = t_read_file(out, &len);
	ck_assert_ptr_nonnull(strstr(text, "RATE/S"));
	ck_assert_ptr_nonnull(strstr(strstr(text, "-- ") + 1, "\n-- "));
	ck_assert_ptr_nonnull(strstr(text, "0.0  jobs_done\n"));
	free(text);
	/* errors: a foreign file, no file (3: not found or wrong kind), bad
	 * usage (2); mmds(1) lists the exit codes */
	t_write_file(t_path("junk"), "not a counters file", 19);
	snprintf(args, sizeof(args), "%s", t_path("junk"));
	ck_assert_int_eq(run_tool(args, out), 3);
	snprintf(args, sizeof(args), "%s", t_path("missing"));
	ck_assert_int_eq(run_tool(args, out), 3);
	ck_assert_int_eq(run_tool("--watch 0 x", out), 2);
	ck_assert_int_eq(run_tool("", out), 2);
}
END_TEST

/* ---- corrupt, truncated, foreign and hostile files ---------------------------- */

static void rewrite_header(const char *path, void (*edit)(unsigned char *h))
{
	size_t len;
	unsigned char *buf = t_read_file(path, &len);
	uint64_t sum;

	edit(buf);
	sum = XXH3_64bits(buf, 248);
	memcpy(buf + 248, &sum, 8);
	t_write_file(path, buf, len);
	free(buf);
}

static void edit_version(unsigned char *h) { uint32_t v = 2; memcpy(h + 8, &v, 4); }
static void edit_capacity(unsigned char *h) { uint32_t v = 1u << 20; memcpy(h + 40, &v, 4); }
static void edit_stride(unsigned char *h) { uint32_t v = 16; memcpy(h + 48, &v, 4); }
static void edit_values_off(unsigned char *h) { uint64_t v = 12288; memcpy(h + 72, &v, 8); }
static void edit_magic(unsigned char *h) { memcpy(h, "MMDSLOG1", 8); }

START_TEST(test_corrupt_truncated_and_foreign_files_are_refused)
{
	mmds_counters *c = create("c", 8, 0, 0), *r = (mmds_counters *)1;
	size_t len;
	unsigned char *good;

	mmds_counters_close(c);
	good = t_read_file(t_path("c"), &len);
#define EXPECT_OPEN(err)                                                        \
	do {                                                                    \
		ck_assert_int_eq(mmds_counters_open(&r, t_path("c"), NULL), err); \
		ck_assert_ptr_null(r);                                          \
		ck_assert_int_eq(mmds_counters_open(&r, t_path("c"),            \
			&(mmds_counters_opts){ .flags = MMDS_COUNTERS_READONLY }), err); \
		t_write_file(t_path("c"), good, len);                           \
	} while (0)
	t_write_file(t_path("c"), "", 0);
	EXPECT_OPEN(-EBADMSG);
	t_write_file(t_path("c"), good, 100);
	EXPECT_OPEN(-EBADMSG);
	t_write_file(t_path("c"), good, 4096); /* header only, no records */
	EXPECT_OPEN(-EBADMSG);
	t_write_file(t_path("c"), good, len - 8);
	EXPECT_OPEN(-EBADMSG);
	good[30] ^= 1; /* checksum no longer matches */
	t_write_file(t_path("c"), good, len);
	good[30] ^= 1;
	EXPECT_OPEN(-EBADMSG);
	rewrite_header(t_path("c"), edit_magic);
	EXPECT_OPEN(-EBADMSG);
	rewrite_header(t_path("c"), edit_version);
	EXPECT_OPEN(-ENOTSUP);
	rewrite_header(t_path("c"), edit_capacity);
	EXPECT_OPEN(-EBADMSG);
	rewrite_header(t_path("c"), edit_stride);
	EXPECT_OPEN(-EBADMSG);
	rewrite_header(t_path("c"), edit_values_off);
	EXPECT_OPEN(-EBADMSG);
	{
		unsigned char junk[8192];

		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (unsigned char)(i * 7 + 3);
		t_write_file(t_path("c"), junk, sizeof(junk));
		EXPECT_OPEN(-EBADMSG);
	}
	/* the good file still opens */
	ck_assert_int_eq(mmds_counters_open(&r, t_path("c"), NULL), 0);
	mmds_counters_close(r);
	free(good);
}
END_TEST

struct hostile_rec {
	uint64_t state, free_ns;
	uint32_t kind, stripes, head, label_len;
	char label[128], help[96];
};

START_TEST(test_hostile_metadata_is_skipped_never_crashes)
{
	mmds_counters *c = create("c", 16, 0, 0);
	struct hostile_rec r[16];
	mmds_counter_info s[16], info;
	uint64_t v;
	int fd, n;

	ck_assert_int_eq(mmds_counters_alloc(c, "good", NULL), 0);
	mmds_counters_close(c);
	memset(r, 0, sizeof(r));
	for (int i = 1; i < 16; i++) {
		r[i].state = (1ull << 8) | 2; /* ACTIVE */
		r[i].kind = 1;
		r[i].stripes = 1;
		r[i].head = (uint32_t)i;
		snprintf(r[i].label, sizeof(r[i].label), "x%d", i);
		r[i].label_len = (uint32_t)strlen(r[i].label);
	}
	memset(r[1].label, 'A', sizeof(r[1].label)); /* no NUL */
	r[1].label_len = 128;
	r[2].label_len = 0xffffffffu;
	r[3].stripes = 0xffffffffu;
	r[4].stripes = 13; /* 4 + 13 > 16 */
	r[5].state = 0x77;     /* unknown state */
	r[6].kind = 99;
	memcpy(r[7].label, "\xff\xfe", 3);
	r[7].label_len = 2;
	memset(r[8].help, 'h', sizeof(r[8].help)); /* help without NUL */
	r[9].label_len = 1; /* length disagrees with the NUL */
	r[10].state = (3ull << 8) | 4; /* a stripe of nothing */
	/* 11..15 stay valid */
	fd = open(t_path("c"), O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, &r[1], sizeof(r) - sizeof(r[0]), META_OFF + REC),
			 (ssize_t)(sizeof(r) - sizeof(r[0])));
	close(fd);
	c = reopen("c", 0);
	n = mmds_counters_snapshot(c, s, 16);
	ck_assert_int_eq(n, 6); /* good and x11..x15 */
	ck_assert_str_eq(s[0].label, "good");
	ck_assert_str_eq(s[1].label, "x11");
	ck_assert_int_eq(mmds_counters_get(c, 3, &v), -EBADMSG);
	ck_assert_int_eq(mmds_counters_describe(c, 1, &info), -EBADMSG);
	ck_assert_int_eq(mmds_counters_describe(c, 5, &info), -ENOENT);
	for (int i = 1; i <= 10; i++) {
		ck_assert_int_ne(mmds_counters_describe(c, i, &info), 0);
		(void)mmds_counters_inc(c, i, NULL);
		(void)mmds_counters_get(c, i, &v);
		(void)mmds_counters_slot(c, i);
		(void)mmds_counters_free(c, i);
	}
	ck_assert_int_eq(mmds_counters_find(c, "x12"), 12);
	ck_assert_int_eq(mmds_counters_find(c, "x2"), -ENOENT);
	/* allocation reuses none of the hostile records wrongly */
	ck_assert_int_eq(mmds_counters_alloc(c, "good", NULL), 0);
	{
		char *text;

		text = export_to_string(c, MMDS_COUNTERS_JSON, &n);
		ck_assert_int_ge(n, 6);
		free(text);
	}
	mmds_counters_close(c);
}
END_TEST

START_TEST(test_random_garbage_in_metadata_never_crashes)
{
	long rounds = iterations(200) / 10 + 5;
	mmds_counters *c;
	mmds_counter_info s[8];
	unsigned seed = (unsigned)time(NULL);

	srand(seed);
	for (long k = 0; k < rounds; k++) {
		unsigned char junk[8 * REC];
		uint64_t v;
		int fd;

		c = create("c", 8, 0, 1);
		mmds_counters_close(c);
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (unsigned char)rand();
		for (int i = 0; i < 8; i++)
			if (rand() % 2) /* plausible state words */
				junk[i * REC] = (unsigned char)(rand() % 5);
		fd = open(t_path("c"), O_RDWR | O_CLOEXEC);
		ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), META_OFF),
				 (ssize_t)sizeof(junk));
		close(fd);
		c = reopen("c", 0);
		ck_assert_int_le(mmds_counters_snapshot(c, s, 8), 8);
		for (int i = 0; i < 8; i++) {
			(void)mmds_counters_add(c, i, 1, NULL);
			(void)mmds_counters_get(c, i, &v);
			(void)mmds_counters_free(c, i);
		}
		(void)mmds_counters_alloc(c, "new", &(mmds_counter_def){ .stripes = 3 });
		(void)mmds_counters_find(c, "new");
		{
			int n;
			char *t = export_to_string(c, MMDS_COUNTERS_PROMETHEUS, &n);

			free(t);
		}
		mmds_counters_close(c);
		unlink(t_path("c"));
	}
}
END_TEST

START_TEST(test_file_truncated_under_the_map_is_efault)
{
	mmds_counters *c;
	int id;
	uint64_t v;

#ifdef T_TSAN
	t_skip("ThreadSanitizer does not let the SIGBUS guard recover");
#endif
	c = create("c", 8, 0, 0);
	id = mmds_counters_alloc(c, "x", NULL);
	ck_assert_int_eq(truncate(t_path("c"), 4096), 0);
	ck_assert_int_eq(mmds_counters_inc(c, id, NULL), -EFAULT);
	ck_assert_int_eq(mmds_counters_get(c, id, &v), -EFAULT);
	ck_assert_int_eq(mmds_counters_snapshot(c, NULL, 0), -EFAULT);
	ck_assert_int_eq(mmds_counters_alloc(c, "y", NULL), -EFAULT);
	/* the lock word itself gone: the lock is taken under the guard too */
	ck_assert_int_eq(truncate(t_path("c"), 0), 0);
	ck_assert_int_eq(mmds_counters_alloc(c, "y", NULL), -EFAULT);
	ck_assert_int_eq(mmds_counters_free(c, id), -EFAULT);
	mmds_counters_close(c);
	ck_assert_int_eq(mmds_counters_open(&c, t_path("c"), NULL), -EBADMSG);
}
END_TEST

/* ---- stripe assignment -------------------------------------------------------- */

struct stripe_thr {
	mmds_counters *c;
	int plain, striped, n;
	pthread_barrier_t *got, *done;
	uint64_t *slot;
	int failures;
};

static void *stripe_thread(void *arg)
{
	struct stripe_thr *t = arg;

	/* Plain counters never take a stripe number. */
	for (int i = 0; i < 5; i++)
		if (mmds_counters_slot(t->c, t->plain) == NULL ||
		    mmds_counters_inc(t->c, t->plain, NULL) != 0)
			t->failures++;
	t->slot = mmds_counters_slot(t->c, t->striped);
	/* The functions add to the stripe the slot points at. */
	if (mmds_counters_add(t->c, t->striped, (uint64_t)t->n + 1, NULL) != 0)
		t->failures++;
	pthread_barrier_wait(t->got);
	pthread_barrier_wait(t->done);
	return NULL;
}

/* T live threads, T <= stripes, never share a stripe: not by chance of
 * the CPUs they start on, not after other threads came and went, not
 * because plain counters were used first.  One thread lives through every
 * round while three come and go; in each round the four slots differ and
 * each holds exactly what its own thread added. */
START_TEST(test_threads_up_to_the_stripe_count_never_share_a_stripe)
{
	mmds_counters *c = create("c", 32, 0, 0);
	int plain = mmds_counters_alloc(c, "p", NULL);
	int striped = mmds_counters_alloc(c, "s", &(mmds_counter_def){ .stripes = 4 });
	pthread_barrier_t got, done, hold_got, hold_done;
	struct stripe_thr hold, t[3];
	pthread_t hold_th, th[3];

	ck_assert_ptr_nonnull(mmds_counters_slot(c, plain));
	pthread_barrier_init(&hold_got, NULL, 2);
	pthread_barrier_init(&hold_done, NULL, 2);
	hold = (struct stripe_thr){ c, plain, striped, 100, &hold_got, &hold_done,
				    NULL, 0 };
	ck_assert_int_eq(pthread_create(&hold_th, NULL, stripe_thread, &hold), 0);
	pthread_barrier_wait(&hold_got);
	for (int round = 0; round < 40; round++) {
		uint64_t *slots[4] = { hold.slot };

		ck_assert_int_eq(mmds_counters_set(c, striped, 0), 0);
		*hold.slot = 101; /* what the holder added, again */
		pthread_barrier_init(&got, NULL, 4);
		pthread_barrier_init(&done, NULL, 4);
		for (int i = 0; i < 3; i++) {
			t[i] = (struct stripe_thr){ c, plain, striped, i, &got,
						    &done, NULL, 0 };
			ck_assert_int_eq(pthread_create(&th[i], NULL,
							stripe_thread, &t[i]), 0);
		}
		pthread_barrier_wait(&got);
		for (int i = 0; i < 3; i++) {
			ck_assert_int_eq(t[i].failures, 0);
			ck_assert_ptr_nonnull(t[i].slot);
			slots[i + 1] = t[i].slot;
			ck_assert_uint_eq(mmds_slot_get(t[i].slot), (uint64_t)i + 1);
		}
		ck_assert_uint_eq(mmds_slot_get(hold.slot), 101);
		for (int i = 0; i < 4; i++)
			for (int k = i + 1; k < 4; k++)
				ck_assert_msg(slots[i] != slots[k],
					      "round %d: threads %d and %d share "
					      "a stripe", round, i, k);
		pthread_barrier_wait(&done);
		for (int i = 0; i < 3; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&got);
		pthread_barrier_destroy(&done);
	}
	pthread_barrier_wait(&hold_done);
	pthread_join(hold_th, NULL);
	ck_assert_int_eq(hold.failures, 0);
	pthread_barrier_destroy(&hold_got);
	pthread_barrier_destroy(&hold_done);
	mmds_counters_close(c);
}
END_TEST

/* A forked child (one thread) takes a stripe by its own pid; it still adds
 * to exactly one stripe, the one its slot names. */
START_TEST(test_forked_child_adds_to_the_stripe_of_its_slot)
{
	mmds_counters *c = create("c", 32, 0, 0);
	int striped = mmds_counters_alloc(c, "s", &(mmds_counter_def){ .stripes = 4 });
	uint64_t *mine = mmds_counters_slot(c, striped);
	pid_t pid;

	ck_assert_ptr_nonnull(mine);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint64_t *s = mmds_counters_slot(c, striped);
		int ok = s != NULL && mmds_counters_add(c, striped, 7, NULL) == 0 &&
			 mmds_slot_get(s) == 7;
		_exit(ok ? 0 : 1);
	}
	t_wait_child(pid);
	/* The parent's stripe is the one its slot names, before and after. */
	ck_assert_ptr_eq(mmds_counters_slot(c, striped), mine);
	mmds_counters_close(c);
}
END_TEST

/* ---- suite ------------------------------------------------------------------------ */

Suite *counters_suite(void)
{
	Suite *s = suite_create("counters");
	TCase *tc;

	tc = t_tcase(s, "operations", 0);
	tcase_add_test(tc, test_every_operation_returns_result_and_old_value);
	tcase_add_test(tc, test_slot_inline_ops_update_the_same_value);
	tcase_add_test(tc, test_bad_ids_and_arguments_are_clean_errors);
	tcase_add_test(tc, test_readonly_handle_reads_but_refuses_updates);
	tcase_add_test(tc, test_striped_counter_sums_stripes_and_refuses_bitwise_ops);
	tcase_add_test(tc, test_striped_counter_needs_padded_layout);

	tc = t_tcase(s, "labels", 0);
	tcase_add_test(tc, test_label_at_maximum_length_works_longer_is_einval);
	tcase_add_test(tc, test_invalid_utf8_and_control_characters_are_einval);

	tc = t_tcase(s, "allocation", 10);
	tcase_add_test(tc, test_alloc_of_existing_label_returns_its_id_or_eexist);
	tcase_add_test(tc, test_full_file_is_enospc);
	tcase_add_test(tc, test_freed_id_is_not_reused_before_the_grace_period);
	tcase_add_test(tc, test_free_prefers_never_used_ids_over_waiting);
	tcase_add_test(tc, test_values_and_labels_survive_reopen);
	tcase_add_test(tc, test_open_n_gives_ids_0_to_n_like_emmap);
	tcase_add_test(tc, test_open_n_with_many_counters_is_one_pass);
	tcase_add_test(tc, test_open_flags);

	tc = t_tcase(s, "processes", 60);
	tcase_add_test(tc, test_forked_processes_count_exactly);
	tcase_add_test(tc, test_forked_processes_count_exactly_striped);
	tcase_add_test(tc, test_killed_writers_lose_none_of_their_completed_increments);
	tcase_add_test(tc, test_allocation_lock_of_a_killed_process_is_taken_over);
	tcase_add_test(tc, test_allocation_lock_of_a_reused_pid_is_taken_over);
	tcase_add_test(tc, test_allocation_lock_of_a_zombie_is_taken_over);
	tcase_add_test(tc, test_impossible_lock_words_are_taken_over);
	tcase_add_test(tc, test_orphan_stripes_are_reclaimed);
	tcase_add_test(tc, test_reader_never_sees_half_made_entries);

	tc = t_tcase(s, "threads", 60);
	tcase_add_test(tc, test_threads_count_exactly_plain_and_striped);
	tcase_add_test(tc, test_threads_up_to_the_stripe_count_never_share_a_stripe);
	tcase_add_test(tc, test_forked_child_adds_to_the_stripe_of_its_slot);
	tcase_add_test(tc, test_threads_list_while_others_allocate_and_free);

	tc = t_tcase(s, "export", 10);
	tcase_add_test(tc, test_snapshot_lists_every_counter_in_id_order);
	tcase_add_test(tc, test_reset_one_and_all);
	tcase_add_test(tc, test_prometheus_export_is_valid_text_format);
	tcase_add_test(tc, test_prometheus_names_are_unique_even_against_suffixes);
	tcase_add_test(tc, test_prometheus_names_avoid_histogram_series);
	tcase_add_test(tc, test_json_export_parses);
	tcase_add_test(tc, test_histogram_counts_buckets_sum_and_count);
	tcase_add_test(tc, test_histogram_bad_definitions_are_einval);
	tcase_add_test(tc, test_histogram_hostile_shape_is_ebadmsg);
	tcase_add_test(tc, test_histogram_processes_observe_exactly);
	tcase_add_test(tc, test_histogram_exports_as_prometheus_histogram_and_json);
	tcase_add_test(tc, test_histogram_non_finite_sum_exports_as_prometheus_spells_it);

	tc = t_tcase(s, "tool", 30);
	tcase_add_test(tc, test_tool_lists_watches_and_exports);

	tc = t_tcase(s, "hostile", 30);
	tcase_add_test(tc, test_corrupt_truncated_and_foreign_files_are_refused);
	tcase_add_test(tc, test_hostile_metadata_is_skipped_never_crashes);
	tcase_add_test(tc, test_random_garbage_in_metadata_never_crashes);
	tcase_add_test(tc, test_file_truncated_under_the_map_is_efault);
	return s;
}

int main(void)
{
	return t_run_suite(counters_suite());
}
