/* counters_export.c - Prometheus and JSON export of a counters file
 * (mmds_counters_export() in mmds/counters.h).  Works on a snapshot, through
 * the public API only; the metric names are made unique here. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include <mmds/counters.h>

/* A metric name: the stem (at most 128 bytes), "_id" and 8 digits, "_" and
 * 8 digits, "_total", NUL. */
struct named {
	char name[MMDS_COUNTERS_LABEL_MAX + 40];
	size_t idx;
};

/* The stem of e's metric name: the label with every code point that may
 * not appear in a name replaced by one '_', a '_' in front of a leading
 * digit, and a counter's trailing "_total" dropped.  Its length. */
static size_t metric_stem(const mmds_counter_info *e, char *out)
{
	const unsigned char *s = (const unsigned char *)e->label;
	size_t n = 0;

	if (*s >= '0' && *s <= '9')
		out[n++] = '_';
	for (; *s; s++) {
		unsigned ch = *s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_' || ch == ':')
			out[n++] = (char)ch;
		else if ((ch & 0xc0) != 0x80) /* one '_' per code point */
			out[n++] = '_';
	}
	out[n] = 0;
	if (e->kind == MMDS_COUNTER && n >= 6 &&
	    strcmp(out + n - 6, "_total") == 0)
		out[n -= 6] = 0;
	return n;
}

/* e's metric name: the stem, then for attempt > 0 "_id<ID>" (and "_<attempt-1>"
 * from attempt 2 on), then "_total" for a counter. */
static void metric_name(const mmds_counter_info *e, uint32_t attempt, char *out)
{
	size_t n = metric_stem(e, out);

	if (attempt > 0)
		n += (size_t)sprintf(out + n, "_id%d", e->id);
	if (attempt > 1)
		n += (size_t)sprintf(out + n, "_%" PRIu32, attempt - 1);
	if (e->kind == MMDS_COUNTER)
		memcpy(out + n, "_total", 7);
}

static int cmp_named(const void *x, const void *y)
{
	const struct named *a = x, *b = y;
	int r = strcmp(a->name, b->name);

	return r ? r : (a->idx > b->idx) - (a->idx < b->idx);
}

/* An open-addressing set of names (pointers to the caller's strings). */
struct name_set {
	const char **slot;
	size_t mask;
};

static int name_set_init(struct name_set *ns, size_t n)
{
	size_t size = 16;

	while (size < 2 * n + 2)
		size *= 2;
	ns->slot = calloc(size, sizeof(*ns->slot));
	ns->mask = size - 1;
	return ns->slot ? 0 : -ENOMEM;
}

static int name_set_has(const struct name_set *ns, const char *name)
{
	size_t i = (size_t)XXH3_64bits(name, strlen(name)) & ns->mask;

	for (; ns->slot[i] != NULL; i = (i + 1) & ns->mask)
		if (strcmp(ns->slot[i], name) == 0)
			return 1;
	return 0;
}

/* Add name unless the set has it: 1 if added, 0 if it was there. */
static int name_set_add(struct name_set *ns, const char *name)
{
	size_t i = (size_t)XXH3_64bits(name, strlen(name)) & ns->mask;

	for (; ns->slot[i] != NULL; i = (i + 1) & ns->mask)
		if (strcmp(ns->slot[i], name) == 0)
			return 0;
	ns->slot[i] = name;
	return 1;
}

/* The series names a histogram family adds to its own name. */
static const char *const hist_series[] = { "_bucket", "_sum", "_count" };
#define HIST_SERIES 3
typedef char series_name[sizeof(((struct named *)0)->name) + 8];

/* Whether family name nm (with its histogram series if hist) is free:
 * none of its names in taken, nor in also (if not NULL). */
static int family_free(const char *nm, int hist, const struct name_set *taken,
		       const struct name_set *also)
{
	series_name sn;

	if (name_set_has(taken, nm) || (also && name_set_has(also, nm)))
		return 0;
	for (int k = 0; hist && k < HIST_SERIES; k++) {
		snprintf(sn, sizeof(sn), "%s%s", nm, hist_series[k]);
		if (name_set_has(taken, sn) || (also && name_set_has(also, sn)))
			return 0;
	}
	return 1;
}

/* Add a histogram family's series names to ns, their text in pool. */
static void add_series(struct name_set *ns, const char *nm, series_name *pool,
		       size_t *npool)
{
	for (int k = 0; k < HIST_SERIES; k++) {
		snprintf(pool[*npool], sizeof(pool[0]), "%s%s", nm, hist_series[k]);
		if (name_set_add(ns, pool[*npool]))
			(*npool)++;
	}
}

/*
 * Name the n entries of e in names[], sorted by name, every name unique,
 * and no family name equal to a series name of a histogram family
 * (NAME_bucket, NAME_sum, NAME_count).  In name order (a histogram's series
 * sort after its name), the first of those whose labels give one name
 * keeps it; each other takes the first of stem_id<ID>, stem_id<ID>_1, ...
 * (plus _total) that no entry has or could have, so a suffixed name cannot
 * collide with another label's name either.  Depends only on the entries:
 * the same file content exports the same names.  0 or -ENOMEM.
 */
static int name_metrics(const mmds_counter_info *e, int n, struct named *names)
{
	struct name_set all, taken;
	series_name *pool;
	size_t hist = 0, npool = 0;

	for (int i = 0; i < n; i++) {
		metric_name(&e[i], 0, names[i].name);
		names[i].idx = (size_t)i;
		hist += e[i].kind == MMDS_HISTOGRAM;
	}
	qsort(names, (size_t)n, sizeof(*names), cmp_named);
	pool = malloc((2 * HIST_SERIES * hist + 1) * sizeof(*pool));
	if (pool == NULL)
		return -ENOMEM;
	all.slot = taken.slot = NULL;
	if (name_set_init(&all, (HIST_SERIES + 1) * (size_t)n) < 0 ||
	    name_set_init(&taken, (HIST_SERIES + 1) * (size_t)n) < 0) {
		free(all.slot);
		free(pool);
		return -ENOMEM;
	}
	/* every name an entry has before suffixes: suffixed ones avoid them */
	for (int i = 0; i < n; i++) {
		name_set_add(&all, names[i].name);
		if (e[names[i].idx].kind == MMDS_HISTOGRAM)
			add_series(&all, names[i].name, pool, &npool);
	}
	for (int i = 0; i < n; i++) {
		const mmds_counter_info *x = &e[names[i].idx];
		int h = x->kind == MMDS_HISTOGRAM;

		/* each family takes at most HIST_SERIES + 1 names: one of
		 * (HIST_SERIES + 1) * n + 1 tries is free */
		for (uint32_t attempt = 0;; attempt++) {
			if (attempt > 0)
				metric_name(x, attempt, names[i].name);
			if (family_free(names[i].name, h, &taken,
					attempt > 0 ? &all : NULL))
				break;
		}
		name_set_add(&taken, names[i].name);
		if (h)
			add_series(&taken, names[i].name, pool, &npool);
	}
	free(all.slot);
	free(taken.slot);
	qsort(names, (size_t)n, sizeof(*names), cmp_named);
	/* the pool's strings are only referenced by the sets, freed above */
	free(pool);
	return 0;
}

static void prom_text(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void json_text(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* The shortest of %.15g .. %.17g that reads back as v; the text format's
 * +Inf, -Inf and NaN for the others (C's "inf" and "-nan" are not in the
 * format, and Prometheus's parsers refuse "-nan"). */
static void print_double(FILE *f, double v)
{
	char buf[40];

	if (v != v) {
		fputs("NaN", f);
		return;
	}
	if (v - v != 0) {
		fputs(v > 0 ? "+Inf" : "-Inf", f);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

/* A JSON number: JSON has no infinities or NaN, so those are null. */
static void json_double(FILE *f, double v)
{
	if (v != v || v - v != 0)
		fputs("null", f);
	else
		print_double(f, v);
}

static void print_histogram(FILE *f, const char *nm,
			    const mmds_histogram_info *h)
{
	for (uint32_t b = 0; b < h->nbounds; b++) {
		fprintf(f, "%s_bucket{le=\"", nm);
		print_double(f, h->bounds[b]);
		fprintf(f, "\"} %" PRIu64 "\n", h->buckets[b]);
	}
	fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum ", nm,
		h->buckets[h->nbounds], nm);
	print_double(f, h->sum);
	fprintf(f, "\n%s_count %" PRIu64 "\n", nm, h->count);
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

int mmds_counters_export(mmds_counters *c, FILE *out, unsigned format)
{
	mmds_counter_info *e = NULL;
	struct named *names = NULL;
	int n, want = 16;

	if (c == NULL || out == NULL ||
	    (format != MMDS_COUNTERS_PROMETHEUS && format != MMDS_COUNTERS_JSON))
		return -EINVAL;
	for (;;) {
		mmds_counter_info *bigger = realloc(e, (size_t)want * sizeof(*e));

		if (bigger == NULL) {
			free(e);
			return -ENOMEM;
		}
		e = bigger;
		n = mmds_counters_snapshot(c, e, (size_t)want);
		if (n < 0) {
			free(e);
			return n;
		}
		if (n <= want)
			break;
		want = n + 16;
	}
	if (format == MMDS_COUNTERS_JSON) {
		fputs("{\"counters\":[", out);
		for (int i = 0; i < n; i++) {
			fprintf(out, "%s\n{\"id\":%d,\"label\":", i ? "," : "",
				e[i].id);
			json_text(out, e[i].label);
			fprintf(out, ",\"kind\":\"%s\",\"help\":",
				kind_name(e[i].kind));
			json_text(out, e[i].help);
			fprintf(out, ",\"stripes\":%" PRIu32 ",\"value\":",
				e[i].stripes);
			print_value(out, &e[i]);
			if (e[i].kind == MMDS_HISTOGRAM) {
				mmds_histogram_info h;

				/* freed since the snapshot: no buckets to show */
				if (mmds_counters_histogram(c, e[i].id, &h) != 0)
					memset(&h, 0, sizeof(h));
				fputs(",\"bounds\":[", out);
				for (uint32_t b = 0; b < h.nbounds; b++) {
					fputs(b ? "," : "", out);
					json_double(out, h.bounds[b]);
				}
				fputs("],\"buckets\":[", out);
				for (uint32_t b = 0; b <= h.nbounds; b++)
					fprintf(out, "%s%" PRIu64, b ? "," : "",
						h.buckets[b]);
				fputs("],\"sum\":", out);
				json_double(out, h.sum);
				fprintf(out, ",\"count\":%" PRIu64, h.count);
			}
			fputc('}', out);
		}
		fputs("\n]}\n", out);
	} else {
		names = calloc((size_t)n + 1, sizeof(*names));
		if (names == NULL) {
			free(e);
			return -ENOMEM;
		}
		if (name_metrics(e, n, names) < 0) {
			free(names);
			free(e);
			return -ENOMEM;
		}
		for (int i = 0; i < n; i++) {
			const mmds_counter_info *x = &e[names[i].idx];
			const char *nm = names[i].name;

			fprintf(out, "# HELP %s ", nm);
			prom_text(out, x->help[0] ? x->help : x->label);
			fprintf(out, "\n# TYPE %s %s\n", nm, kind_name(x->kind));
			if (x->kind == MMDS_HISTOGRAM) {
				mmds_histogram_info h;

				if (mmds_counters_histogram(c, x->id, &h) != 0) {
					/* freed since the snapshot: an empty family */
					memset(&h, 0, sizeof(h));
					h.nbounds = 0;
				}
				print_histogram(out, nm, &h);
				continue;
			}
			fprintf(out, "%s ", nm);
			print_value(out, x);
			fputc('\n', out);
		}
		free(names);
	}
	free(e);
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return n;
}
