/* mkcounters.c - make a counters file with known values for the metrics
 * tests (tests/tools/test_prometheus.sh): requests = 42, temperature = -3,
 * a histogram latency_seconds (bounds 0.5, 1) with 0.25, 0.5 and 2, and a
 * histogram odd_seconds observing +Inf and -Inf: its sum is NaN, which the
 * export must spell as the text format does. */
#include <stdio.h>

#include <mmds.h>

int main(int argc, char **argv)
{
	static const double bounds[] = { 0.5, 1 };
	mmds_counters *c;
	int rc, id;

	if (argc != 2) {
		fprintf(stderr, "usage: mkcounters FILE\n");
		return 2;
	}
	rc = mmds_counters_open(&c, argv[1], &(mmds_counters_opts){
						      .flags = MMDS_COUNTERS_CREATE,
						      .capacity = 64 });
	if (rc < 0) {
		fprintf(stderr, "mkcounters: %s: %s\n", argv[1], mmds_strerror(rc));
		return 1;
	}
	id = mmds_counters_alloc(c, "requests", &(mmds_counter_def){ .help = "requests served" });
	if (id < 0 || mmds_counters_add(c, id, 42, NULL) < 0)
		return 1;
	id = mmds_counters_alloc(c, "temperature", &(mmds_counter_def){ .kind = MMDS_GAUGE });
	if (id < 0 || mmds_counters_set(c, id, (uint64_t)-3) < 0)
		return 1;
	id = mmds_counters_alloc_histogram(c, "latency_seconds", &(mmds_histogram_def){
							   .help = "request latency",
							   .bounds = bounds,
							   .nbounds = 2 });
	if (id < 0 || mmds_counters_observe(c, id, 0.25) < 0 ||
	    mmds_counters_observe(c, id, 0.5) < 0 || mmds_counters_observe(c, id, 2) < 0)
		return 1;
	id = mmds_counters_alloc_histogram(c, "odd_seconds", &(mmds_histogram_def){
							   .bounds = bounds,
							   .nbounds = 2 });
	if (id < 0 || mmds_counters_observe(c, id, 1.0 / 0.0) < 0 ||
	    mmds_counters_observe(c, id, -1.0 / 0.0) < 0)
		return 1;
	mmds_counters_close(c);
	return 0;
}
