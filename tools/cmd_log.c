/* cmd_log.c - `mmds log`: inspect, verify, dump and follow a log directory. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mmds.h>

#include "tool.h"
#include "cmd_log_cursors.h"

static int usage(FILE *out)
{
	fprintf(out,
		"usage: mmds log info DIR\n"
		"       mmds log verify DIR\n"
		"       mmds log dump [--json [--binary base64|hex]] [--from LSN] [--max-bytes N] DIR\n"
		"       mmds log tail [-f] [-n N] [--json [--binary base64|hex]] [--max-bytes N] DIR\n"
		"       mmds log cursors DIR\n"
		"       mmds log ship DIR --nats URL --stream NAME --subject SUBJ [...]\n"
		"\n"
		"info    segment size, segments, first/tail/durable LSN\n"
		"verify  check every segment header and record checksum (exit 4 if corrupt)\n"
		"dump    print every record from LSN (default: the first kept one)\n"
		"tail    print the last N records (default 10); -f: then follow new ones\n"
		"cursors list the named cursors: position, lag in bytes behind the tail\n"
		"ship    publish the records to NATS JetStream, exactly once, from a\n"
		"        durable cursor (mmds log ship --help; docs/SHIPPING.md)\n"
		"\n"
		"--json prints one JSON object per record and line; the payload is\n"
		"\"text\" when it is valid UTF-8, else \"base64\" (default) or \"hex\" as\n"
		"--binary says.  Payloads are shown up to --max-bytes (default 64;\n"
		"0 = all).  Opens the log read-only: safe beside a running writer.\n"
		"Exit status: 0 ok, 2 usage, 3 not a log / no such LSN, 4 corrupt, 5 I/O.\n");
	return out == stdout ? TOOL_OK : TOOL_USAGE;
}

/* Open dir read-only after checking that it is a log directory. */
static int open_reader(const char *dir, mmds_log **l)
{
	int rc = tool_check_kind("log", dir, TOOL_KIND_LOG);

	if (rc)
		return rc;
	rc = mmds_log_open(l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });
	if (rc)
		return tool_fail("log", dir, rc);
	return 0;
}

enum binary { BIN_BASE64, BIN_HEX };

static void json_text(const unsigned char *p, size_t n)
{
	putchar('"');
	for (size_t i = 0; i < n; i++) {
		unsigned c = p[i];

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c == '\t')
			fputs("\\t", stdout);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar((int)c);
	}
	putchar('"');
}

static void json_base64(const unsigned char *p, size_t n)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	putchar('"');
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		putchar(b64[v >> 18 & 63]);
		putchar(b64[v >> 12 & 63]);
		putchar(i + 1 < n ? b64[v >> 6 & 63] : '=');
		putchar(i + 2 < n ? b64[v & 63] : '=');
	}
	putchar('"');
}

static void print_record(const mmds_log_record *r, int json, enum binary bin,
			 size_t max)
{
	const unsigned char *p = r->data;
	size_t n = max && r->len > max ? max : r->len;

	if (json) {
		size_t ok = tool_utf8_prefix(p, n);

		/* a cut by --max-bytes may split the last character: drop it */
		if (ok < n && n < r->len && n - ok < 4 &&
		    tool_utf8_prefix(p, r->len < n + 4 ? r->len : n + 4) > n)
			n = ok;
		printf("{\"lsn\":%" PRIu64 ",\"next\":%" PRIu64
		       ",\"type\":%u,\"len\":%u,",
		       r->lsn, r->next_lsn, r->type, r->len);
		if (ok >= n) {
			fputs("\"text\":", stdout);
			json_text(p, n);
		} else if (bin == BIN_HEX) {
			fputs("\"hex\":\"", stdout);
			for (size_t i = 0; i < n; i++)
				printf("%02x", p[i]);
			putchar('"');
		} else {
			fputs("\"base64\":", stdout);
			json_base64(p, n);
		}
		printf(",\"truncated\":%s}\n", n < r->len ? "true" : "false");
		return;
	}
	printf("%12" PRIu64 " type=%-5u len=%-7u ", r->lsn, r->type, r->len);
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
	int rc = open_reader(dir, &l);

	if (rc)
		return rc;
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
	int corrupt, rc = tool_check_kind("log", dir, TOOL_KIND_LOG);

	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	rc = mmds_log_verify(dir, &r);
	if (rc && rc != -EBADMSG)
		return tool_fail("log", dir, rc);
	if (rc == -EBADMSG && r.reason == MMDS_LOG_CUT_NONE) {
		/* refused before any record was scanned (a damaged segment
		 * header, a broken chain): corrupt, though no record is named */
		printf("segments scanned: %llu\nrecords:          %llu\n",
		       (unsigned long long)r.segments_scanned,
		       (unsigned long long)r.records_kept);
		printf("CORRUPT:          %s (segment headers; the records were not reached)\n",
		       mmds_strerror(rc));
		return TOOL_CORRUPT;
	}
	printf("segments scanned: %llu\nrecords:          %llu\nend LSN:          %llu\n",
	       (unsigned long long)r.segments_scanned,
	       (unsigned long long)r.records_kept, (unsigned long long)r.end_lsn);
	if (r.reason == MMDS_LOG_CUT_NONE) {
		printf("status:           ok\n");
		return TOOL_OK;
	}
	/* -EBADMSG is corrupt whatever the report's flag says */
	corrupt = r.corrupt || rc == -EBADMSG;
	printf("%s:%*s%s at LSN %llu (segment %020llu.seg, offset %llu)\n",
	       corrupt ? "CORRUPT" : "torn tail", corrupt ? 10 : 8, "",
	       mmds_log_cut_name(r.reason), (unsigned long long)r.bad_lsn,
	       (unsigned long long)r.bad_segment, (unsigned long long)r.bad_offset);
	if (!corrupt)
		printf("status:           ok (the writer's next open cuts the torn tail)\n");
	return corrupt ? TOOL_CORRUPT : TOOL_OK;
}

/* Why iterating from `from` failed at once with -EBADMSG: not a record
 * start (say where the records around it are), or a corrupt record. */
static int explain_from(mmds_log *l, const char *dir, uint64_t from)
{
	mmds_log_iter *it;
	mmds_log_record r;
	uint64_t before = UINT64_MAX, at;
	int rc;

	if (mmds_log_iter_open(&it, l, MMDS_LOG_START) != 0)
		return tool_fail("log", dir, -ENOMEM);
	while ((rc = mmds_log_iter_next(it, &r)) == 0 && r.lsn < from)
		before = r.lsn;
	at = rc == 0 ? r.lsn : mmds_log_iter_lsn(it);
	mmds_log_iter_close(it);
	/* the scan from the start reached from as a record start */
	if (at == from) {
		fprintf(stderr, "mmds log: %s: the record at LSN %" PRIu64
				" is corrupt (run 'mmds log verify %s')\n",
			dir, from, dir);
		return TOOL_CORRUPT;
	}
	if (rc == -EBADMSG && at < from) {
		fprintf(stderr, "mmds log: %s: a corrupt record at LSN %" PRIu64
				" comes before LSN %" PRIu64 " (run 'mmds log verify %s')\n",
			dir, at, from, dir);
		return TOOL_CORRUPT;
	}
	fprintf(stderr, "mmds log: %s: no record starts at LSN %" PRIu64, dir, from);
	if (before != UINT64_MAX)
		fprintf(stderr, "; the record before starts at %" PRIu64, before);
	if (rc == 0)
		fprintf(stderr, ", the next at %" PRIu64, r.lsn);
	else
		fprintf(stderr, ", the tail is %" PRIu64, mmds_log_tail_lsn(l));
	fputc('\n', stderr);
	return TOOL_NOTFOUND;
}

/* The LSN of the last-th record from the end (the tail for 0). */
static int find_last(mmds_log *l, const char *dir, uint64_t last, uint64_t *from)
{
	uint64_t *ring = calloc((size_t)last + 1, sizeof(*ring));
	mmds_log_iter *it;
	mmds_log_record r;
	uint64_t n = 0;
	int rc;

	if (ring == NULL || mmds_log_iter_open(&it, l, MMDS_LOG_START) != 0) {
		free(ring);
		return tool_fail("log", dir, -ENOMEM);
	}
	while ((rc = mmds_log_iter_next(it, &r)) == 0 && !tool_stop)
		ring[n++ % (last + 1)] = r.lsn;
	*from = n == 0 || last == 0 ? mmds_log_iter_lsn(it)
		: ring[(n > last ? n - last : 0) % (last + 1)];
	if (rc == 0 || rc == -EAGAIN)
		rc = 0;
	else
		rc = tool_fail("log", dir, rc);
	mmds_log_iter_close(it);
	free(ring);
	return rc;
}

/* Print the records from `from` (the first kept one unless from_given:
 * an LSN given, even 0, below the first kept record is refused). */
static int dump(const char *dir, uint64_t from, int from_given, int json,
		enum binary bin, size_t max, int64_t last, int follow)
{
	mmds_log *l;
	mmds_log_iter *it;
	mmds_log_record r;
	mmds_log_info in;
	int rc, ret = TOOL_OK, first = 1;

	rc = open_reader(dir, &l);
	if (rc)
		return rc;
	mmds_log_get_info(l, &in);
	if (last >= 0) {
		rc = find_last(l, dir, (uint64_t)last, &from);
		if (rc) {
			mmds_log_close(l);
			return rc;
		}
	} else if (from_given && from < in.first_lsn) {
		fprintf(stderr, "mmds log: %s: LSN %" PRIu64 " was dropped by retention; the first kept record is at %" PRIu64 "\n",
			dir, from, in.first_lsn);
		mmds_log_close(l);
		return TOOL_NOTFOUND;
	} else if (from_given && from > in.tail_lsn) {
		fprintf(stderr, "mmds log: %s: LSN %" PRIu64 " is past the end of the log (the tail, where the next record goes, is %" PRIu64 ")\n",
			dir, from, in.tail_lsn);
		mmds_log_close(l);
		return TOOL_NOTFOUND;
	}
	rc = mmds_log_iter_open(&it, l, from);
	if (rc) {
		mmds_log_close(l);
		return tool_fail("log", dir, rc);
	}
	while (!tool_stop) {
		rc = mmds_log_iter_next(it, &r);
		if (rc == 0) {
			print_record(&r, json, bin, max);
			first = 0;
			continue;
		}
		if (rc == -EBADMSG && first && last < 0) {
			from = mmds_log_iter_lsn(it);
			ret = explain_from(l, dir, from);
			break;
		}
		if (rc != -EAGAIN) {
			fprintf(stderr, "mmds log: %s: at LSN %" PRIu64 ": %s\n", dir,
				mmds_log_iter_lsn(it), mmds_strerror(rc));
			ret = tool_exit_code(rc);
			break;
		}
		if (!follow)
			break;
		if (fflush(stdout) == EOF) {
			ret = tool_reader_gone();
			break;
		}
		/* while idle, notice a reader that went away (tail -f | head -1) */
		if (tool_output_alive() < 0) {
			ret = tool_reader_gone();
			break;
		}
		mmds_log_iter_wait(it, 200);
	}
	if (fflush(stdout) == EOF && ret == TOOL_OK)
		ret = TOOL_IO;
	mmds_log_iter_close(it);
	mmds_log_close(l);
	return ret;
}

int mmds_tool_log(int argc, char **argv)
{
	const char *sub, *dir = NULL;
	int json = 0, follow = 0, is_dump, is_tail;
	enum binary bin = BIN_BASE64;
	const char *binopt = NULL, *fromopt = NULL;
	uint64_t last = 10, max = 64, from = MMDS_LOG_START;
	int seen_n = 0, seen_from = 0, seen_max = 0, seen_bin = 0;

	if (argc < 2)
		return usage(stderr);
	sub = argv[1];
	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
	    strcmp(sub, "help") == 0)
		return usage(stdout);
	is_dump = strcmp(sub, "dump") == 0;
	is_tail = strcmp(sub, "tail") == 0;
	if (!is_dump && !is_tail && strcmp(sub, "info") != 0 &&
	    strcmp(sub, "verify") != 0 && strcmp(sub, "cursors") != 0)
		return tool_usage_error("log", "unknown subcommand '%s'", sub);
	for (int i = 2, dashes = 0; i < argc; i++) {
		const char *a = argv[i];
		int takes = strcmp(a, "-n") == 0 || strcmp(a, "--from") == 0 ||
			    strcmp(a, "--max-bytes") == 0 || strcmp(a, "--binary") == 0;
		int fits = (is_dump || is_tail) &&
			   (strcmp(a, "--json") == 0 || strcmp(a, "--max-bytes") == 0 ||
			    strcmp(a, "--binary") == 0 ||
			    (is_dump && strcmp(a, "--from") == 0) ||
			    (is_tail && (strcmp(a, "-n") == 0 || strcmp(a, "-f") == 0 ||
					 strcmp(a, "--follow") == 0)));

		if (!dashes && strcmp(a, "--") == 0) {
			dashes = 1; /* after "--" every word is a path, even "-x" */
			continue;
		}
		if (dashes) {
			if (dir != NULL)
				return tool_usage_error("log", "one DIR only ('%s' is extra)", a);
			dir = a;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return usage(stdout);
		if (a[0] == '-' && a[1] != '\0' && !fits) {
			if (takes || strcmp(a, "--json") == 0 || strcmp(a, "-f") == 0 ||
			    strcmp(a, "--follow") == 0)
				return tool_usage_error("log", "%s does not apply to 'mmds log %s'",
							a, sub);
			return tool_usage_error("log", "unknown option '%s'", a);
		}
		if (takes && i + 1 >= argc)
			return tool_usage_error("log", "%s needs a value", a);
		if (strcmp(a, "--json") == 0) {
			json = 1;
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			follow = 1;
		} else if (strcmp(a, "-n") == 0) {
			if (tool_once("log", a, &seen_n) ||
			    tool_parse_u64("log", "-n", argv[++i], 0, 10000000, &last))
				return TOOL_USAGE;
		} else if (strcmp(a, "--from") == 0) {
			/* every LSN parses: one past the tail is refused
			 * as such (exit 3), even MMDS_LOG_END's value */
			if (tool_once("log", a, &seen_from))
				return TOOL_USAGE;
			fromopt = argv[++i];
			if (tool_parse_u64("log", "--from", fromopt, 0,
					   UINT64_MAX, &from))
				return TOOL_USAGE;
		} else if (strcmp(a, "--max-bytes") == 0) {
			if (tool_once("log", a, &seen_max) ||
			    tool_parse_u64("log", "--max-bytes", argv[++i], 0,
					   UINT32_MAX, &max))
				return TOOL_USAGE;
		} else if (strcmp(a, "--binary") == 0) {
			if (tool_once("log", a, &seen_bin))
				return TOOL_USAGE;
			binopt = argv[++i];
			if (strcmp(binopt, "base64") == 0)
				bin = BIN_BASE64;
			else if (strcmp(binopt, "hex") == 0)
				bin = BIN_HEX;
			else
				return tool_usage_error("log", "--binary: '%s' is not base64 or hex",
							binopt);
		} else if (dir == NULL) {
			dir = a;
		} else {
			return tool_usage_error("log", "one DIR only ('%s' is extra)", a);
		}
	}
	if (binopt && !json)
		return tool_usage_error("log", "--binary needs --json");
	if (dir == NULL)
		return tool_usage_error("log", "'mmds log %s' needs a log DIR", sub);
	if (strcmp(sub, "info") == 0)
		return cmd_info(dir);
	if (strcmp(sub, "verify") == 0)
		return cmd_verify(dir);
	if (strcmp(sub, "cursors") == 0)
		return mmds_tool_log_cursors(dir);
	if (is_dump)
		return dump(dir, from, fromopt != NULL, json, bin, (size_t)max, -1, 0);
	return dump(dir, 0, 0, json, bin, (size_t)max, (int64_t)last, follow);
}
