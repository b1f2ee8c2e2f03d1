/* fuzz_counters.c - fuzz target for a counters file: the input (after the
 * mode byte) is the file; it is opened read-only and read-write, listed,
 * looked up, described, exported as Prometheus text and JSON, counters
 * are allocated (plain and striped), updated, read back and freed, and the
 * mmds tool lists and exports it.  docs/FUZZING.md. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmds.h>

#include "fixup.h"
#include "fuzz.h"

#define SNAP_MAX 256
#define IDS_MAX 64

static char path[PATH_MAX];
static FILE *sink;
static mmds_counter_info snap[SNAP_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	snprintf(path, sizeof(path), "%s/counters", fz_dir());
	sink = fz_devnull;
	return 0;
}

static void materialize(const uint8_t *data, size_t size)
{
	size_t n;
	uint8_t *img;

	fz_clear_dir(fz_dir());
	img = fz_image(data, size, fz_counters_declared_size, &n);
	if (img == NULL)
		return;
	if (data[0] & FZ_MODE_FIXUP)
		fz_fixup_counters(img, n);
	fz_write_file(fz_dir(), "counters", img, n);
	free(img);
}

/* Every valid entry is what the documentation promises. */
static int snapshot(mmds_counters *c)
{
	int n = mmds_counters_snapshot(c, snap, SNAP_MAX);

	FZ_ERRNO(n);
	if (n < 0)
		return n;
	for (int i = 0; i < n && i < SNAP_MAX; i++) {
		const mmds_counter_info *e = &snap[i];
		size_t ll = strnlen(e->label, sizeof(e->label));

		FZ_CHECK(ll > 0 && ll < sizeof(e->label) &&
				 strnlen(e->help, sizeof(e->help)) < sizeof(e->help),
			 "entry %d: label or help not NUL-terminated", e->id);
		FZ_CHECK(e->kind == MMDS_COUNTER || e->kind == MMDS_GAUGE,
			 "entry %d: kind %u", e->id, e->kind);
		FZ_CHECK(e->stripes >= 1 && e->stripes <= MMDS_COUNTERS_MAX_STRIPES,
			 "entry %d: %u stripes", e->id, e->stripes);
		FZ_CHECK(i == 0 || e->id > snap[i - 1].id, "snapshot not in id order");
	}
	return n;
}

static void read_all(mmds_counters *c)
{
	mmds_counters_stat st;
	mmds_counter_info one;
	int n, rc;

	rc = mmds_counters_get_stat(c, &st);
	FZ_ERRNO(rc);
	n = snapshot(c);
	if (rc == 0)
		FZ_CHECK(st.used <= st.capacity, "%u used of %u", st.used,
			 st.capacity);
	for (int i = 0; i < n && i < SNAP_MAX && i < IDS_MAX; i++) {
		rc = mmds_counters_find(c, snap[i].label);
		FZ_CHECK(rc >= 0, "listed label \"%s\" (id %d) not found: %d",
			 snap[i].label, snap[i].id, rc);
		rc = mmds_counters_describe(c, snap[i].id, &one);
		FZ_CHECK(rc == 0 && one.id == snap[i].id,
			 "listed id %d cannot be described: %d", snap[i].id, rc);
	}
	for (int id = -1; id < IDS_MAX; id++) {
		uint64_t v;

		FZ_ERRNO(mmds_counters_describe(c, id, &one));
		FZ_ERRNO(mmds_counters_get(c, id, &v));
	}
	FZ_ERRNO(mmds_counters_find(c, "counter_0"));
	FZ_ERRNO(mmds_counters_find(c, ""));
	rc = mmds_counters_export(c, sink, MMDS_COUNTERS_PROMETHEUS);
	FZ_ERRNO(rc);
	rc = mmds_counters_export(c, sink, MMDS_COUNTERS_JSON);
	FZ_ERRNO(rc);
}

static void update_all(mmds_counters *c, int n)
{
	uint64_t old, exp = 0;

	for (int i = 0; i < n && i < SNAP_MAX && i < 16; i++) {
		int id = snap[i].id;

		FZ_ERRNO(mmds_counters_add(c, id, 3, &old));
		FZ_ERRNO(mmds_counters_sub(c, id, 1, &old));
		FZ_ERRNO(mmds_counters_inc(c, id, NULL));
		FZ_ERRNO(mmds_counters_dec(c, id, NULL));
		FZ_ERRNO(mmds_counters_set(c, id, 7));
		FZ_ERRNO(mmds_counters_exchange(c, id, 8, &old));
		FZ_ERRNO(mmds_counters_cas(c, id, &exp, 9));
		FZ_ERRNO(mmds_counters_and(c, id, 0xff, &old));
		FZ_ERRNO(mmds_counters_or(c, id, 1, &old));
		FZ_ERRNO(mmds_counters_xor(c, id, 2, &old));
		FZ_ERRNO(mmds_counters_reset(c, id));
		(void)mmds_counters_slot(c, id);
	}
	FZ_ERRNO(mmds_counters_reset_all(c));
}

/* Allocate, use, free: what a new counter must do whatever the file held. */
static void alloc_cycle(mmds_counters *c, const char *label,
			const mmds_counter_def *def)
{
	uint64_t v = 1;
	int id, rc;
	int existed = mmds_counters_find(c, label) >= 0;

	id = mmds_counters_alloc(c, label, def);
	fz_trace("counters: alloc %s: %d", label, id);
	FZ_ERRNO(id);
	if (id < 0)
		return;
	FZ_CHECK(mmds_counters_find(c, label) == id || existed,
		 "allocated \"%s\" as %d, find says %d", label, id,
		 mmds_counters_find(c, label));
	if (!existed) {
		rc = mmds_counters_get(c, id, &v);
		FZ_CHECK(rc == 0 && v == 0, "new counter %d: get %d, value %llu", id,
			 rc, (unsigned long long)v);
	}
	rc = mmds_counters_add(c, id, 5, NULL);
	FZ_CHECK(rc == 0, "add to the counter just allocated (%d): %d", id, rc);
	rc = mmds_counters_get(c, id, &v);
	FZ_CHECK(rc == 0 && (existed || v == 5),
		 "counter %d: get %d, value %llu after adding 5 to 0", id, rc,
		 (unsigned long long)v);
	rc = mmds_counters_free(c, id);
	FZ_CHECK(rc == 0, "free of the counter just allocated (%d): %d", id, rc);
	FZ_CHECK(mmds_counters_find(c, label) != id,
		 "freed counter %d still found", id);
}

static void writer_phase(const uint8_t *data, size_t size)
{
	mmds_counters *c = NULL;
	int n, rc;

	materialize(data, size);
	rc = mmds_counters_open(&c, path, NULL);
	fz_trace("counters: open %d", rc);
	FZ_ERRNO(rc);
	FZ_CHECK(rc == 0 || c == NULL, "a failed open returned a handle");
	if (rc)
		return;
	read_all(c);
	n = snapshot(c);
	alloc_cycle(c, "fuzz_plain", NULL);
	alloc_cycle(c, "fuzz_gauge",
		    &(mmds_counter_def){ .kind = MMDS_GAUGE, .help = "h" });
	alloc_cycle(c, "fuzz_striped", &(mmds_counter_def){ .stripes = 4 });
	if (n > 0) {
		/* the same label again: its own id or -EEXIST */
		rc = mmds_counters_alloc(c, snap[0].label,
					 &(mmds_counter_def){ .kind = snap[0].kind,
							      .stripes = snap[0].stripes });
		FZ_ERRNO(rc);
	}
	update_all(c, n);
	for (int i = 0; i < n && i < SNAP_MAX && i < 4; i++)
		FZ_ERRNO(mmds_counters_free(c, snap[i].id));
	read_all(c);
	FZ_ERRNO(mmds_counters_sync(c));
	FZ_ERRNO(mmds_counters_close(c));

	c = NULL;
	rc = mmds_counters_open_n(&c, path, 3);
	FZ_ERRNO(rc);
	if (rc == 0)
		FZ_ERRNO(mmds_counters_close(c));
}

static void reader_phase(const uint8_t *data, size_t size)
{
	static const char *const tools[][4] = {
		{ "mmds", "counters", path },
		{ "mmds", "counters", "--json", path },
		{ "mmds", "counters", "--prometheus", path },
	};
	mmds_counters *c = NULL;
	int rc;

	materialize(data, size);
	rc = mmds_counters_open(&c, path,
				&(mmds_counters_opts){ .flags = MMDS_COUNTERS_READONLY });
	FZ_ERRNO(rc);
	FZ_CHECK(rc == 0 || c == NULL, "a failed open returned a handle");
	if (rc == 0) {
		read_all(c);
		FZ_CHECK(mmds_counters_alloc(c, "x", NULL) == -EACCES,
			 "allocation on a read-only handle");
		FZ_CHECK(mmds_counters_slot(c, 0) == NULL, "slot of a read-only handle");
		FZ_ERRNO(mmds_counters_close(c));
	}
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		fz_tool(tools[i][3] ? 4 : 3, tools[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_begin();
	reader_phase(data, size);
	writer_phase(data, size);
	fz_check_fds();
	return 0;
}
