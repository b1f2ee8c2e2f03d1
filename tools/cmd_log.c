/* cmd_log.c - `mmds log`: inspect, verify, dump and follow a log directory. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mmds.h>

#include "tool.h"
#include "cmd_log_cursors.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int usage(FILE *out)
{
	fprintf(out,
		"usage: mmds log info DIR\n"
		"       mmds log verify DIR\n"
		"       mmds log dump [--json] [--from LSN] [--max-bytes N] DIR\n"
		"       mmds log tail [-f] [-n N] [--json] [--max-bytes N] DIR\n"
		"       mmds log cursors DIR\n"
		"\n"
		"info    segment size, segments, first/tail/durable LSN\n"
		"verify  check every segment header and record checksum (exit 1 if corrupt)\n"
		"dump    print every record: text, or JSON lines with --json\n"
		"tail    print the last N records (default 10); -f: then follow new ones\n"
		"cursors list the named cursors: position, lag in bytes behind the tail\n"
		"Payloads are shown up to --max-bytes (default 64; 0 = all).\n"
		"Opens the log read-only: safe beside a running writer.\n");
	return out == stdout ? 0 : 2;
}

static int open_reader(const char *dir, mmds_log **l)
{
	int rc = mmds_log_open(l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });

	if (rc)
		fprintf(stderr, "mmds log: %s: %s\n", dir, mmds_strerror(rc));
	return rc;
}

static void print_record(const mmds_log_record *r, int json, size_t max)
{
	const unsigned char *p = r->data;
	size_t n = max && r->len > max ? max : r->len;

	if (json) {
		printf("{\"lsn\":%llu,\"next\":%llu,\"type\":%u,\"len\":%u,\"hex\":\"",
		       (unsigned long long)r->lsn, (unsigned long long)r->next_lsn,
		       r->type, r->len);
		for (size_t i = 0; i < n; i++)
			printf("%02x", p[i]);
		printf("\",\"truncated\":%s}\n", n < r->len ? "true" : "false");
		return;
	}
	printf("%12llu type=%-5u len=%-7u ", (unsigned long long)r->lsn, r->type,
	       r->len);
	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	printf("%s\n", n < r->len ? "..." : "");
}

static int cmd_info(const char *dir)
{
	mmds_log *l;
	mmds_log_info in;
	time_t t;
	char when[64] = "?";

	if (open_reader(dir, &l))
		return 1;
	mmds_log_get_info(l, &in);
	t = (time_t)(in.created_ns / 1000000000u);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	printf("log:          %s\n", dir);
	printf("format:       version %u\n", in.version);
	printf("log id:       %016llx\n", (unsigned long long)in.log_id);
	printf("created:      %s (oldest segment)\n", when);
	printf("segment size: %llu bytes\n", (unsigned long long)in.segment_size);
	printf("segments:     %llu\n", (unsigned long long)in.segments);
	printf("first LSN:    %llu\n", (unsigned long long)in.first_lsn);
	printf("tail LSN:     %llu\n", (unsigned long long)in.tail_lsn);
	printf("durable LSN:  %llu (as last recorded by the writer)\n",
	       (unsigned long long)in.durable_lsn);
	mmds_log_close(l);
	return 0;
}

static int cmd_verify(const char *dir)
{
	mmds_log_report r;
	int rc = mmds_log_verify(dir, &r);

	if (rc && rc != -EBADMSG) {
		fprintf(stderr, "mmds log: %s: %s\n", dir, mmds_strerror(rc));
		return 1;
	}
	printf("segments scanned: %llu\nrecords:          %llu\nend LSN:          %llu\n",
	       (unsigned long long)r.segments_scanned,
	       (unsigned long long)r.records_kept, (unsigned long long)r.end_lsn);
	if (r.reason == MMDS_LOG_CUT_NONE) {
		printf("status:           ok\n");
		return 0;
	}
	printf("%s:%*s%s at LSN %llu (segment %020llu.seg, offset %llu)\n",
	       r.corrupt ? "CORRUPT" : "torn tail", r.corrupt ? 10 : 8, "",
	       mmds_log_cut_name(r.reason), (unsigned long long)r.bad_lsn,
	       (unsigned long long)r.bad_segment, (unsigned long long)r.bad_offset);
	if (!r.corrupt)
		printf("status:           ok (the writer's next open cuts the torn tail)\n");
	return r.corrupt ? 1 : 0;
}

static int dump(const char *dir, uint64_t from, int json, size_t max, long last,
		int follow)
{
	mmds_log *l;
	mmds_log_iter *it;
	mmds_log_record r;
	int rc;

	if (open_reader(dir, &l))
		return 1;
	if (last >= 0) {
		/* find the LSN of the last-th record from the end */
		uint64_t *ring = calloc((size_t)last + 1, sizeof(*ring));
		unsigned long n = 0;

		if (ring == NULL || mmds_log_iter_open(&it, l, MMDS_LOG_START) != 0) {
			free(ring);
			mmds_log_close(l);
			return 1;
		}
		while (mmds_log_iter_next(it, &r) == 0)
			ring[n++ % ((size_t)last + 1)] = r.lsn;
		from = n == 0 ? mmds_log_iter_lsn(it)
		       : last == 0 ? mmds_log_iter_lsn(it)
		       : ring[(n > (unsigned long)last ? n - (unsigned long)last : 0) %
			      ((size_t)last + 1)];
		mmds_log_iter_close(it);
		free(ring);
	}
	rc = mmds_log_iter_open(&it, l, from);
	if (rc) {
		mmds_log_close(l);
		return 1;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (;;) {
		rc = mmds_log_iter_next(it, &r);
		if (rc == 0) {
			print_record(&r, json, max);
			continue;
		}
		if (rc == -EAGAIN && follow && !stop) {
			fflush(stdout);
			mmds_log_iter_wait(it, 200);
			continue;
		}
		break;
	}
	if (rc != -EAGAIN) {
		fprintf(stderr, "mmds log: at LSN %llu: %s\n",
			(unsigned long long)mmds_log_iter_lsn(it), mmds_strerror(rc));
	}
	mmds_log_iter_close(it);
	mmds_log_close(l);
	return rc == -EAGAIN ? 0 : 1;
}

int mmds_tool_log(int argc, char **argv)
{
	const char *sub, *dir = NULL;
	int json = 0, follow = 0;
	long last = -1;
	size_t max = 64;
	uint64_t from = MMDS_LOG_START;

	if (argc < 2)
		return usage(stderr);
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
	    strcmp(sub, "help") == 0)
		return usage(stdout);
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--json") == 0)
			json = 1;
		else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0)
			follow = 1;
		else if ((strcmp(a, "-n") == 0) && i + 1 < argc)
			last = strtol(argv[++i], NULL, 10);
		else if (strcmp(a, "--from") == 0 && i + 1 < argc)
			from = strtoull(argv[++i], NULL, 10);
		else if (strcmp(a, "--max-bytes") == 0 && i + 1 < argc)
			max = (size_t)strtoull(argv[++i], NULL, 10);
		else if (a[0] == '-')
			return usage(stderr);
		else if (dir == NULL)
			dir = a;
		else
			return usage(stderr);
	}
	if (dir == NULL)
		return usage(stderr);
	if (strcmp(sub, "info") == 0)
		return cmd_info(dir);
	if (strcmp(sub, "verify") == 0)
		return cmd_verify(dir);
	if (strcmp(sub, "cursors") == 0)
		return mmds_tool_log_cursors(dir);
	if (strcmp(sub, "dump") == 0)
		return dump(dir, from, json, max, -1, 0);
	if (strcmp(sub, "tail") == 0)
		return dump(dir, 0, json, max, last < 0 ? 10 : last, follow);
	return usage(stderr);
}
