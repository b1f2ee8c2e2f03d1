/* replay.c - run a fuzz target's inputs without libFuzzer: each file named
 * on the command line, or each file in each directory named (sorted, dot
 * files skipped), goes to LLVMFuzzerTestOneInput once.  A crash, a
 * sanitizer report, a failed check (fuzz.h) or an input slower than
 * MMDS_FUZZ_TIMEOUT seconds (default 10) ends the process with an error
 * and names the input.  `make check` replays fuzz/regress/ and the seeds. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static const char *current;

static void on_alarm(int sig)
{
	static const char msg[] = "\n==fuzz== FINDING: input slower than the timeout: ";

	(void)sig;
	if (write(2, msg, sizeof(msg) - 1) < 0 ||
	    write(2, current, strlen(current)) < 0 || write(2, "\n", 1) < 0)
		_exit(3);
	abort();
}

static int run_file(const char *path, unsigned timeout)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	size_t n = 0, cap = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			unsigned char *b = realloc(data, cap = cap ? cap * 2 : 65536);

			if (b == NULL) {
				fclose(f);
				free(data);
				return -1;
			}
			data = b;
		}
		size_t got = fread(data + n, 1, cap - n, f);

		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	current = path;
	alarm(timeout);
	LLVMFuzzerTestOneInput(data, n);
	alarm(0);
	free(data);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, unsigned timeout, unsigned *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[PATH_MAX];
	size_t n = 0, cap = 0;
	int rc = 0;

	if (d == NULL)
		return errno == ENOENT ? 0 : -1; /* an absent corpus is empty */
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*nn));

			if (nn == NULL)
				abort();
			names = nn;
		}
		names[n] = strdup(e->d_name);
		if (names[n++] == NULL)
			abort();
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path, timeout) != 0)
				rc = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	const char *t = getenv("MMDS_FUZZ_TIMEOUT");
	unsigned timeout = t ? (unsigned)strtoul(t, NULL, 10) : 10, count = 0;
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	signal(SIGALRM, on_alarm);
	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			rc |= run_dir(argv[i], timeout, &count);
		else if (stat(argv[i], &st) == 0)
			rc |= run_file(argv[i], timeout) == 0 ? (count++, 0) : -1;
	}
	printf("%s: %u inputs replayed\n", argv[0], count);
	return rc ? 1 : 0;
}
