/* cmd_counters.c - `mmds counters`: list, watch or export a counters file. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mmds.h>

#include "tool.h"

static int usage(FILE *out)
{
	fprintf(out,
		"usage: mmds counters [--json | --prometheus [--output FILE]] COUNTERS\n"
		"       mmds counters serve --listen HOST:PORT [OPTIONS] COUNTERS...\n"
		"       mmds counters --watch SECONDS [--count N] [--json | --prometheus\n"
		"                     [--output FILE]] COUNTERS\n"
		"\n"
		"Lists every counter of the counters file COUNTERS (id, kind, value,\n"
		"label), or exports them as JSON or Prometheus text.  --watch repeats\n"
		"every SECONDS (N times with --count, default until interrupted): the\n"
		"list with each counter's rate per second since the last round, one\n"
		"JSON object per line with --json, or a Prometheus exposition per\n"
		"round, separated by a blank line.\n"
		"--output FILE writes the export to FILE atomically (a temporary file\n"
		"beside it, fsync, rename): a failed export leaves FILE as it was and\n"
		"exits non-zero.  With --watch, FILE is replaced every round (for\n"
		"node_exporter's textfile collector).\n"
		"'mmds counters serve --help' describes the /metrics endpoint.\n"
		"Exit status: 0 ok, 2 usage, 3 not a counters file, 4 corrupt, 5 I/O.\n");
	return out == stdout ? TOOL_OK : TOOL_USAGE;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *kind_name(unsigned kind)
{
	return kind == MMDS_GAUGE ? "gauge"
	       : kind == MMDS_HISTOGRAM ? "histogram" : "counter";
}

static void print_value(FILE *f, const mmds_counter_info *e)
{
	if (e->kind == MMDS_GAUGE)
		fprintf(f, "%" PRId64, (int64_t)e->value);
	else
		fprintf(f, "%" PRIu64, e->value);
}

/* A JSON string; a byte that is not UTF-8 (a path may hold any) is
 * \ufffd, so the line stays valid JSON. */
static void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	fputc('"', f);
	while (n > 0) {
		size_t ok = tool_utf8_prefix(p, n);

		for (size_t i = 0; i < ok; i++) {
			unsigned char ch = p[i];

			if (ch == '"' || ch == '\\')
				fprintf(f, "\\%c", ch);
			else if (ch < 0x20 || ch == 0x7f)
				fprintf(f, "\\u%04x", ch);
			else
				fputc(ch, f);
		}
		if (ok < n) {
			fputs("\\ufffd", f);
			ok++;
		}
		p += ok;
		n -= ok;
	}
	fputc('"', f);
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

struct watch {
	mmds_counters *c;
	const char *path;   /* the counters file */
	const char *output; /* --output FILE, or NULL for stdout */
	unsigned format;    /* 0 = table, or MMDS_COUNTERS_JSON / _PROMETHEUS */
	double interval;    /* > 0 with --watch */
	long count;         /* rounds; < 0 = until interrupted */
	mmds_counter_info *cur, *prev;
	int ncur, nprev;
	double t, t_prev;
	long round;
};

static int snapshot(struct watch *w)
{
	static int want = 64;

	for (;;) {
		mmds_counter_info *b = realloc(w->cur, (size_t)want * sizeof(*b));
		int n;

		if (b == NULL)
			return -ENOMEM;
		w->cur = b;
		n = mmds_counters_snapshot(w->c, w->cur, (size_t)want);
		if (n < 0)
			return n;
		if (n <= want) {
			w->ncur = n;
			return 0;
		}
		want = n + 64;
	}
}

static double rate(const struct watch *w, const mmds_counter_info *e, int *ok)
{
	const mmds_counter_info *p = w->round ? previous(w->prev, w->nprev, e) : NULL;

	*ok = p && w->t > w->t_prev;
	return *ok ? (double)(int64_t)(e->value - p->value) / (w->t - w->t_prev) : 0;
}

static void print_table(FILE *f, const struct watch *w)
{
	if (w->interval > 0)
		fprintf(f, "%s-- %s: %d counters\n", w->round ? "\n" : "", w->path,
			w->ncur);
	fprintf(f, "%6s  %-9s  %20s%s  %s\n", "ID", "KIND", "VALUE",
		w->interval > 0 ? "          RATE/S" : "", "LABEL");
	for (int i = 0; i < w->ncur; i++) {
		const mmds_counter_info *e = &w->cur[i];
		char v[32];
		int ok;
		double r;

		if (e->kind == MMDS_GAUGE)
			snprintf(v, sizeof(v), "%" PRId64, (int64_t)e->value);
		else
			snprintf(v, sizeof(v), "%" PRIu64, e->value);
		fprintf(f, "%6d  %-9s  %20s", e->id, kind_name(e->kind), v);
		if (w->interval > 0) {
			r = rate(w, e, &ok);
			if (ok)
				fprintf(f, "  %14.1f", r);
			else
				fprintf(f, "  %14s", "-");
		}
		fprintf(f, "  %s\n", e->label);
		if (e->kind == MMDS_HISTOGRAM) {
			mmds_histogram_info h;

			if (mmds_counters_histogram(w->c, e->id, &h) != 0)
				continue; /* freed since the snapshot */
			fprintf(f, "%8s", "");
			for (uint32_t b = 0; b < h.nbounds; b++)
				fprintf(f, "le=%g:%" PRIu64 " ", h.bounds[b], h.buckets[b]);
			fprintf(f, "le=+Inf:%" PRIu64 " sum=", h.buckets[h.nbounds]);
			if (isfinite(h.sum))
				fprintf(f, "%g", h.sum);
			else /* as the Prometheus export spells them, not "-nan" */
				fputs(h.sum != h.sum ? "NaN" : h.sum > 0 ? "+Inf" : "-Inf", f);
			fprintf(f, " count=%" PRIu64 "\n", h.count);
		}
	}
}

/* One round as one JSON object on one line. */
static void print_json_line(FILE *f, const struct watch *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "{\"time_ms\":%lld,\"file\":",
		(long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	json_string(f, w->path);
	fputs(",\"counters\":[", f);
	for (int i = 0; i < w->ncur; i++) {
		const mmds_counter_info *e = &w->cur[i];
		int ok;
		double r = rate(w, e, &ok);

		fprintf(f, "%s{\"id\":%d,\"label\":", i ? "," : "", e->id);
		json_string(f, e->label);
		fprintf(f, ",\"kind\":\"%s\",\"help\":", kind_name(e->kind));
		json_string(f, e->help);
		fprintf(f, ",\"stripes\":%" PRIu32 ",\"value\":", e->stripes);
		print_value(f, e);
		if (e->kind == MMDS_HISTOGRAM) {
			mmds_histogram_info h;

			if (mmds_counters_histogram(w->c, e->id, &h) != 0)
				memset(&h, 0, sizeof(h));
			fputs(",\"bounds\":[", f);
			for (uint32_t b = 0; b < h.nbounds; b++)
				fprintf(f, "%s%.17g", b ? "," : "", h.bounds[b]);
			fputs("],\"buckets\":[", f);
			for (uint32_t b = 0; b <= h.nbounds; b++)
				fprintf(f, "%s%" PRIu64, b ? "," : "", h.buckets[b]);
			if (isfinite(h.sum))
				fprintf(f, "],\"sum\":%.17g", h.sum);
			else
				fputs("],\"sum\":null", f); /* JSON has no infinities */
			fprintf(f, ",\"count\":%" PRIu64, h.count);
		}
		if (ok)
			fprintf(f, ",\"rate\":%.3f}", r);
		else
			fputs(",\"rate\":null}", f);
	}
	fputs("]}\n", f);
}

static int fill_export(FILE *f, void *arg)
{
	const struct watch *w = arg;
	int rc;

	if (w->format == MMDS_COUNTERS_JSON && w->interval > 0) {
		print_json_line(f, w);
		return 0;
	}
	rc = mmds_counters_export(w->c, f, w->format);
	return rc < 0 ? rc : 0;
}

static void sleep_s(double s)
{
	struct timespec ts = {
		.tv_sec = (time_t)s,
		.tv_nsec = (long)((s - (double)(time_t)s) * 1e9)
	};

	nanosleep(&ts, NULL);
}

static int run(struct watch *w)
{
	int rc = 0;

	for (w->round = 0; (w->count < 0 || w->round < w->count) && !tool_stop;
	     w->round++) {
		if (w->round > 0) {
			/* sleep in slices, so a reader that went away is noticed */
			double end = now_s() + w->interval;

			while (!tool_stop && now_s() < end) {
				double left = end - now_s();

				if (w->output == NULL && tool_output_alive() < 0)
					return tool_reader_gone();
				sleep_s(left > 0.2 ? 0.2 : left);
			}
			if (tool_stop)
				break;
		}
		if (w->format == 0 ||
		    (w->format == MMDS_COUNTERS_JSON && w->interval > 0)) {
			rc = snapshot(w);
			if (rc < 0)
				return tool_fail("counters", w->path, rc);
		}
		w->t = now_s();
		if (w->output) {
			rc = tool_write_atomic("counters", w->output, fill_export, w);
			if (rc < 0)
				return tool_exit_code(rc);
		} else if (w->format == 0) {
			print_table(stdout, w);
		} else {
			if (w->format == MMDS_COUNTERS_PROMETHEUS && w->round > 0)
				putchar('\n');
			rc = fill_export(stdout, w);
			if (rc < 0)
				return tool_fail("counters", w->path, rc);
		}
		if (!w->output && fflush(stdout) == EOF)
			return tool_reader_gone();
		{
			mmds_counter_info *sw = w->prev;

			w->prev = w->cur;
			w->cur = sw;
			w->nprev = w->ncur;
			w->t_prev = w->t;
		}
		if (w->interval <= 0)
			break;
	}
	return TOOL_OK;
}

int mmds_tool_counters(int argc, char **argv)
{
	struct watch w = { .count = -1 };
	const char *fmtopt = NULL;
	int have_count = 0, have_watch = 0, have_output = 0, rc;

	if (argc >= 2 && strcmp(argv[1], "serve") == 0) {
#ifdef MMDS_TOOL_SERVE
		return mmds_tool_counters_serve(argc - 1, argv + 1);
#else
		fprintf(stderr, "mmds counters: serve is not built in: libmicrohttpd was not found at configure time (apt-get install libmicrohttpd-dev, then configure again)\n");
		return TOOL_FAIL;
#endif
	}
	for (int i = 1, dashes = 0; i < argc; i++) {
		const char *a = argv[i];
		int takes = strcmp(a, "--watch") == 0 || strcmp(a, "--count") == 0 ||
			    strcmp(a, "--output") == 0 || strcmp(a, "-o") == 0;

		if (!dashes && strcmp(a, "--") == 0) {
			dashes = 1; /* after "--" every word is a path, even "-x" */
			continue;
		}
		if (dashes) {
			if (w.path)
				return tool_usage_error("counters", "one COUNTERS file only ('%s' is extra)",
							a);
			w.path = a;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return usage(stdout);
		if (takes && i + 1 >= argc)
			return tool_usage_error("counters", "%s needs a value", a);
		if (strcmp(a, "--json") == 0 || strcmp(a, "--prometheus") == 0) {
			unsigned f = a[2] == 'j' ? MMDS_COUNTERS_JSON
						 : MMDS_COUNTERS_PROMETHEUS;

			if (w.format && w.format != f)
				return tool_usage_error("counters", "%s and %s cannot be used together: choose one output format",
							fmtopt, a);
			w.format = f;
			fmtopt = a;
		} else if (strcmp(a, "--watch") == 0) {
			if (tool_once("counters", a, &have_watch) ||
			    tool_parse_seconds("counters", "--watch", argv[++i],
					       86400, &w.interval))
				return TOOL_USAGE;
			/* each round is a snapshot of the whole file: more
			 * often than every 10 ms is a busy loop */
			if (w.interval < 0.01)
				return tool_usage_error("counters",
							"--watch: '%s' is too short (at least 0.01 seconds)",
							argv[i]);
		} else if (strcmp(a, "--count") == 0) {
			uint64_t n;

			if (tool_once("counters", a, &have_count) ||
			    tool_parse_u64("counters", "--count", argv[++i], 1,
					   LONG_MAX, &n))
				return TOOL_USAGE;
			w.count = (long)n;
		} else if (strcmp(a, "--output") == 0 || strcmp(a, "-o") == 0) {
			if (tool_once("counters", "--output", &have_output))
				return TOOL_USAGE;
			w.output = argv[++i];
		} else if (a[0] == '-' && a[1] != '\0') {
			return tool_usage_error("counters", "unknown option '%s'", a);
		} else if (w.path) {
			return tool_usage_error("counters", "one COUNTERS file only ('%s' is extra)",
						a);
		} else {
			w.path = a;
		}
	}
	if (have_count && !(w.interval > 0))
		return tool_usage_error("counters", "--count needs --watch");
	if (w.output && !w.format)
		return tool_usage_error("counters", "--output needs --prometheus or --json");
	if (w.path == NULL)
		return tool_usage_error("counters", "a COUNTERS file is needed");
	rc = tool_check_kind("counters", w.path, TOOL_KIND_COUNTERS);
	if (rc)
		return rc;
	rc = mmds_counters_open(&w.c, w.path,
				&(mmds_counters_opts){
					.flags = MMDS_COUNTERS_READONLY });
	if (rc < 0)
		return tool_fail("counters", w.path, rc);
	rc = run(&w);
	mmds_counters_close(w.c);
	free(w.cur);
	free(w.prev);
	return rc;
}
