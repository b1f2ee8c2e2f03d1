/* test_crash.c - the crash-point machinery (structs/crash.h): points are
 * enumerable, an armed point kills on the chosen pass and only then, the
 * MMDS_CRASH environment variable arms one, and docs/CRASHPOINTS.md lists
 * every point compiled into the library. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crash.h"
#include "t_crash.h"
#include "t_util.h"

Suite *crash_suite(void);

static void reach_test_point(int times)
{
	for (int i = 0; i < times; i++)
		MMDS_CRASH("test.point");
}

static int reach_five(void *arg)
{
	(void)arg;
	reach_test_point(5);
	return mmds__crash_hits("test.point") == 5 ? 0 : 3;
}

START_TEST(test_armed_point_kills_on_its_pass)
{
	ck_assert_int_eq(t_crash_run("test.point", 1, reach_five, NULL), 1);
	ck_assert_int_eq(t_crash_run("test.point", 5, reach_five, NULL), 1);
	/* a pass never reached, or another point armed: no kill */
	ck_assert_int_eq(t_crash_run("test.point", 6, reach_five, NULL), 0);
	ck_assert_int_eq(t_crash_run("test.other", 1, reach_five, NULL), 0);
}
END_TEST

START_TEST(test_points_are_enumerable)
{
	const char *names[4];

	ck_assert_uint_eq(t_crash_points("test.", names, 4), 1);
	ck_assert_str_eq(names[0], "test.point");
	ck_assert_uint_ge(mmds__crash_count(), 1);
}
END_TEST

static char self_exe[4096];

START_TEST(test_environment_arms_a_point)
{
	const char *env[] = { "MMDS_CRASH=test.point:3", "MMDS_CRASH=test.point:9",
			      "MMDS_CRASH=test.point" };
	const int killed[] = { 1, 0, 1 };

	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		pid_t pid = t_fork();
		int st;

		if (pid == 0) {
			putenv((char *)env[i]);
			execl(self_exe, self_exe, "--reach-five", (char *)NULL);
			_exit(2);
		}
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		if (killed[i])
			ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		else
			ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
}
END_TEST

/* Every point of the library is named <structure>.<step>[.<detail>] in
 * lower case, and docs/CRASHPOINTS.md lists it as `name`. */
START_TEST(test_every_point_is_documented)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	size_t len, n = mmds__crash_count();
	char *doc;

	snprintf(path, sizeof(path), "%s/docs/CRASHPOINTS.md", top ? top : ".");
	doc = t_read_file(path, &len);
	for (size_t i = 0; i < n; i++) {
		const char *name = mmds__crash_at(i)->name;
		char quoted[256];

		if (strncmp(name, "test.", 5) == 0)
			continue;
		ck_assert_msg(strncmp(name, "log.", 4) == 0 ||
				      strncmp(name, "counters.", 9) == 0 ||
				      strncmp(name, "ring.", 5) == 0,
			      "crash point %s names no structure", name);
		for (const char *p = name; *p; p++)
			ck_assert_msg(islower((unsigned char)*p) ||
					      isdigit((unsigned char)*p) ||
					      *p == '.' || *p == '_',
				      "crash point name %s", name);
		snprintf(quoted, sizeof(quoted), "`%s`", name);
		ck_assert_msg(strstr(doc, quoted) != NULL,
			      "crash point %s (%s) is not in docs/CRASHPOINTS.md",
			      name, mmds__crash_at(i)->file);
	}
	free(doc);
}
END_TEST

Suite *crash_suite(void)
{
	Suite *s = suite_create("crash");
	TCase *tc = t_tcase(s, "points", 30);

	tcase_add_test(tc, test_armed_point_kills_on_its_pass);
	tcase_add_test(tc, test_points_are_enumerable);
	tcase_add_test(tc, test_environment_arms_a_point);
	tcase_add_test(tc, test_every_point_is_documented);
	return s;
}

int main(int argc, char **argv)
{
	ssize_t n;

	if (argc > 1 && strcmp(argv[1], "--reach-five") == 0) {
		reach_test_point(5);
		return 0;
	}
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return T_SKIP_STATUS;
	self_exe[n] = 0;
	return t_run_suite(crash_suite());
}
