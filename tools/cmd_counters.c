/* cmd_counters.c - `mmds counters`: list, watch or export a counters file. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mmds.h>

#include "tool.h"

static int usage(FILE *out)
{
	fprintf(out,
		"usage: mmds counters [--json | --prometheus] FILE\n"
		"       mmds counters --watch SECONDS [--count N] FILE\n"
		"\n"
		"Lists every counter of FILE (id, kind, value, label), or exports\n"
		"them as JSON or Prometheus text.  --watch repeats the list every\n"
		"SECONDS with each counter's rate per second since the last one\n"
		"(N times, default until interrupted).\n");
	return out == stdout ? 0 : 2;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_value(const mmds_counter_info *e)
{
	if (e->kind == MMDS_GAUGE)
		printf("%20" PRId64, (int64_t)e->value);
	else
		printf("%20" PRIu64, e->value);
}

/* Find the previous entry for the same id and generation. */
static const mmds_counter_info *previous(const mmds_counter_info *prev,
					 int nprev, const mmds_counter_info *e)
{
	for (int i = 0; i < nprev; i++)
		if (prev[i].id == e->id && prev[i].generation == e->generation)
			return &prev[i];
	return NULL;
}

static int list(mmds_counters *c, const char *path, double interval,
		long count)
{
	mmds_counter_info *cur = NULL, *prev = NULL;
	int ncur = 0, nprev = 0, want = 64, rc = 0;
	double t_prev = 0;

	for (long round = 0; count < 0 || round < count; round++) {
		double t;

		if (round > 0) {
			struct timespec ts = {
				.tv_sec = (time_t)interval,
				.tv_nsec = (long)((interval - (double)(time_t)interval) * 1e9)
			};
			nanosleep(&ts, NULL);
		}
		for (;;) {
			mmds_counter_info *b = realloc(cur, (size_t)want * sizeof(*b));

			if (b == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			cur = b;
			ncur = mmds_counters_snapshot(c, cur, (size_t)want);
			if (ncur < 0) {
				rc = ncur;
				goto out;
			}
			if (ncur <= want)
				break;
			want = ncur + 64;
		}
		t = now_s();
		if (interval > 0)
			printf("%s-- %s: %d counters\n", round ? "\n" : "", path,
			       ncur);
		printf("%6s  %-7s  %20s%s  %s\n", "ID", "KIND", "VALUE",
		       interval > 0 ? "          RATE/S" : "", "LABEL");
		for (int i = 0; i < ncur; i++) {
			const mmds_counter_info *e = &cur[i];

			printf("%6d  %-7s  ", e->id,
			       e->kind == MMDS_GAUGE ? "gauge" : "counter");
			print_value(e);
			if (interval > 0) {
				const mmds_counter_info *p =
					round ? previous(prev, nprev, e) : NULL;

				if (p && t > t_prev)
					printf("  %14.1f",
					       (double)(int64_t)(e->value - p->value) /
						       (t - t_prev));
				else
					printf("  %14s", "-");
			}
			printf("  %s\n", e->label);
		}
		fflush(stdout);
		{
			mmds_counter_info *sw = prev;

			prev = cur;
			cur = sw;
			nprev = ncur;
			t_prev = t;
		}
		if (interval <= 0)
			break;
	}
out:
	free(cur);
	free(prev);
	return rc;
}

int mmds_tool_counters(int argc, char **argv)
{
	const char *path = NULL;
	unsigned format = 0;
	double interval = 0;
	long count = -1;
	mmds_counters *c;
	int err;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return usage(stdout);
		if (strcmp(a, "--json") == 0) {
			format = MMDS_COUNTERS_JSON;
		} else if (strcmp(a, "--prometheus") == 0) {
			format = MMDS_COUNTERS_PROMETHEUS;
		} else if (strcmp(a, "--watch") == 0 && i + 1 < argc) {
			char *end;

			interval = strtod(argv[++i], &end);
			if (*end || !(interval > 0) || interval > 86400)
				return usage(stderr);
		} else if (strcmp(a, "--count") == 0 && i + 1 < argc) {
			char *end;

			count = strtol(argv[++i], &end, 10);
			if (*end || count <= 0)
				return usage(stderr);
		} else if (a[0] == '-' || path) {
			return usage(stderr);
		} else {
			path = a;
		}
	}
	if (path == NULL || (format && interval > 0))
		return usage(stderr);
	err = mmds_counters_open(&c, path,
				 &(mmds_counters_opts){
					 .flags = MMDS_COUNTERS_READONLY });
	if (err < 0) {
		fprintf(stderr, "mmds counters: %s: %s\n", path,
			mmds_strerror(err));
		return 1;
	}
	if (format)
		err = mmds_counters_export(c, stdout, format);
	else
		err = list(c, path, interval, interval > 0 ? count : 1);
	mmds_counters_close(c);
	if (err < 0) {
		fprintf(stderr, "mmds counters: %s: %s\n", path,
			mmds_strerror(err));
		return 1;
	}
	return 0;
}
