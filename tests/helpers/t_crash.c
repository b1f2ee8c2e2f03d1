/* t_crash.c - crash-point helpers for tests (t_crash.h). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "crash.h"
#include "t_crash.h"
#include "t_util.h"

int t_crash_run(const char *point, unsigned long pass, int (*fn)(void *arg),
		void *arg)
{
	pid_t pid = t_fork();
	int st;

	if (pid == 0) {
		mmds__crash_arm(point, pass);
		_exit(fn(arg));
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
		return 1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	ck_abort_msg("crash scenario for %s (pass %lu): child %s %d", point,
		     pass, WIFEXITED(st) ? "exited with" : "died of signal",
		     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

size_t t_crash_points(const char *prefix, const char **out, size_t max)
{
	size_t n = mmds__crash_count(), found = 0;
	const char **all = calloc(n ? n : 1, sizeof(*all));

	ck_assert_ptr_nonnull(all);
	for (size_t i = 0; i < n; i++) {
		const char *name = mmds__crash_at(i)->name;

		if (strncmp(name, prefix, strlen(prefix)) == 0)
			all[found++] = name;
	}
	qsort(all, found, sizeof(*all), cmp_str);
	n = 0;
	for (size_t i = 0; i < found; i++) {
		if (i > 0 && strcmp(all[i], all[i - 1]) == 0)
			continue;
		if (n < max)
			out[n] = all[i];
		n++;
	}
	free(all);
	return n;
}
