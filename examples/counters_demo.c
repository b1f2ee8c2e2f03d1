/* counters_demo.c - several processes count what they do in one counters
 * file; then `mmds counters` (or the export API) shows the totals.
 *
 * Run with no arguments (as `make demo` does): the file lives under /tmp and
 * is removed at the end. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mmds.h>

#define WORKERS 4
#define REQUESTS 100000

static int worker(const char *path, int n)
{
	mmds_counters *c;
	int requests, bytes, errors, inflight;
	uint64_t *req_slot;

	if (mmds_counters_open(&c, path, NULL) < 0)
		return 1;
	/* Every worker allocates the same labels: it gets the same ids. */
	requests = mmds_counters_alloc(c, "demo_requests",
				       &(mmds_counter_def){
					       .help = "requests served",
					       .stripes = 4 });
	bytes = mmds_counters_alloc(c, "demo_bytes",
				    &(mmds_counter_def){ .help = "bytes sent" });
	errors = mmds_counters_alloc(c, "demo_errors", NULL);
	inflight = mmds_counters_alloc(c, "demo_in_flight",
				       &(mmds_counter_def){ .kind = MMDS_GAUGE });
	if (requests < 0 || bytes < 0 || errors < 0 || inflight < 0)
		return 1;
	req_slot = mmds_counters_slot(c, requests); /* the hot path */
	for (int i = 0; i < REQUESTS; i++) {
		mmds_counters_inc(c, inflight, NULL);
		mmds_slot_inc(req_slot);
		mmds_counters_add(c, bytes, (uint64_t)(100 + (i + n) % 50), NULL);
		if ((i + n) % 997 == 0)
			mmds_counters_inc(c, errors, NULL);
		mmds_counters_dec(c, inflight, NULL);
	}
	mmds_counters_close(c);
	return 0;
}

int main(void)
{
	char path[64];
	mmds_counters *c;
	uint64_t total = 0;
	int err, failed = 0;

	snprintf(path, sizeof(path), "/tmp/mmds-counters-demo-%ld",
		 (long)getpid());
	err = mmds_counters_open(&c, path,
				 &(mmds_counters_opts){
					 .flags = MMDS_COUNTERS_CREATE |
						  MMDS_COUNTERS_EXCL,
					 .capacity = 64 });
	if (err < 0) {
		fprintf(stderr, "open %s: %s\n", path, mmds_strerror(err));
		return 1;
	}
	printf("%d processes x %d requests into %s\n", WORKERS, REQUESTS, path);
	fflush(stdout);
	for (int n = 0; n < WORKERS; n++) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(worker(path, n));
		if (pid < 0)
			failed = 1;
	}
	for (int n = 0; n < WORKERS; n++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed = 1;
	}
	mmds_counters_get(c, mmds_counters_find(c, "demo_requests"), &total);
	printf("demo_requests = %" PRIu64 " (expected %d)\n\n", total,
	       WORKERS * REQUESTS);
	if (total != (uint64_t)WORKERS * REQUESTS)
		failed = 1;
	fflush(stdout);
	if (access("./tools/mmds", X_OK) == 0) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "./tools/mmds counters %s", path);
		printf("$ %s\n", cmd);
		fflush(stdout);
		if (system(cmd) != 0)
			failed = 1;
		printf("\n");
	}
	printf("Prometheus text exposition:\n");
	if (mmds_counters_export(c, stdout, MMDS_COUNTERS_PROMETHEUS) < 0)
		failed = 1;
	mmds_counters_close(c);
	unlink(path);
	return failed;
}
