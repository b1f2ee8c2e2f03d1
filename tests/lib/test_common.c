/* test_common.c - mmds_strerror() and the version functions (mmds/common.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmds/common.h>

#include "t_util.h"

Suite *common_suite(void);

/* Every code the table in mmds/common.h names, plus the ones map.h returns
 * (-ENOBUFS from mmds_cursor_read_line, -EBADF from mmds_map_open_fd). */
/* Every code a public header names (grep for -E[A-Z0-9]+ in
 * include/mmds), and the common system ones. */
static const int documented_codes[] = {
	EINVAL, ERANGE, EACCES, EFAULT, EBADMSG, ENOTSUP, EAGAIN, ETIMEDOUT,
	ENOSPC, EFBIG, ENOENT, EEXIST, ENOMEM, EPERM, EIO, ENOBUFS, EBADF,
	EBUSY, ECANCELED, EDEADLK, EINPROGRESS, EINTR, EISDIR, ELOOP, EMFILE,
	EMSGSIZE, ENFILE,
};

#define N_CODES (sizeof(documented_codes) / sizeof(documented_codes[0]))

START_TEST(test_strerror_names_every_documented_code)
{
	for (size_t i = 0; i < N_CODES; i++) {
		const char *s = mmds_strerror(-documented_codes[i]);

		ck_assert_ptr_nonnull(s);
		ck_assert_msg(s[0] != '\0', "empty string for %d",
			      documented_codes[i]);
		ck_assert_str_ne(s, "unknown error");
		ck_assert_str_ne(s, "success");
	}
}
END_TEST

START_TEST(test_strerror_strings_are_distinct)
{
	for (size_t i = 0; i < N_CODES; i++)
		for (size_t j = i + 1; j < N_CODES; j++)
			ck_assert_msg(strcmp(mmds_strerror(-documented_codes[i]),
					     mmds_strerror(-documented_codes[j])) != 0,
				      "codes %d and %d share the string \"%s\"",
				      documented_codes[i], documented_codes[j],
				      mmds_strerror(-documented_codes[i]));
}
END_TEST

START_TEST(test_strerror_negative_and_positive_agree)
{
	for (size_t i = 0; i < N_CODES; i++) {
		int c = documented_codes[i];

		ck_assert_str_eq(mmds_strerror(-c), mmds_strerror(c));
	}
}
END_TEST

START_TEST(test_strerror_zero_is_success)
{
	ck_assert_str_eq(mmds_strerror(0), "success");
}
END_TEST

START_TEST(test_strerror_unknown_code_is_unknown_error)
{
	static const int unknown[] = { 100000, -100000, 4095, -4095, INT_MAX,
				       -INT_MAX, INT_MIN };

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		ck_assert_str_eq(mmds_strerror(unknown[i]), "unknown error");
}
END_TEST

START_TEST(test_strerror_returns_static_strings)
{
	/* The same pointer each time: nothing is allocated or formatted. */
	for (size_t i = 0; i < N_CODES; i++)
		ck_assert_ptr_eq(mmds_strerror(-documented_codes[i]),
				 mmds_strerror(-documented_codes[i]));
	ck_assert_ptr_eq(mmds_strerror(123456), mmds_strerror(123456));
}
END_TEST

START_TEST(test_version_string_matches_header)
{
	ck_assert_str_eq(mmds_version(), MMDS_VERSION_STRING);
}
END_TEST

START_TEST(test_version_number_matches_header)
{
	ck_assert_uint_eq(mmds_version_number(), MMDS_VERSION_NUMBER);
	ck_assert_uint_eq(MMDS_VERSION_NUMBER,
			  MMDS_VERSION_MAJOR * 10000 + MMDS_VERSION_MINOR * 100 +
				  MMDS_VERSION_PATCH);
}
END_TEST

START_TEST(test_version_string_agrees_with_number)
{
	unsigned major, minor, patch;
	char tail;
	char want[64];

	ck_assert_int_eq(sscanf(mmds_version(), "%u.%u.%u%c", &major, &minor,
				&patch, &tail), 3);
	ck_assert_uint_eq(major * 10000 + minor * 100 + patch,
			  mmds_version_number());
	snprintf(want, sizeof(want), "%d.%d.%d", MMDS_VERSION_MAJOR,
		 MMDS_VERSION_MINOR, MMDS_VERSION_PATCH);
	ck_assert_str_eq(mmds_version(), want);
}
END_TEST

Suite *common_suite(void)
{
	Suite *s = suite_create("common");
	TCase *tc = tcase_create("strerror");

	tcase_add_test(tc, test_strerror_names_every_documented_code);
	tcase_add_test(tc, test_strerror_strings_are_distinct);
	tcase_add_test(tc, test_strerror_negative_and_positive_agree);
	tcase_add_test(tc, test_strerror_zero_is_success);
	tcase_add_test(tc, test_strerror_unknown_code_is_unknown_error);
	tcase_add_test(tc, test_strerror_returns_static_strings);
	suite_add_tcase(s, tc);

	tc = tcase_create("version");
	tcase_add_test(tc, test_version_string_matches_header);
	tcase_add_test(tc, test_version_number_matches_header);
	tcase_add_test(tc, test_version_string_agrees_with_number);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return t_run_suite(common_suite());
}
