/* cmd_log_ship.c - `mmds log ship DIR --nats URL --stream NAME --subject
 * SUBJ [--cursor NAME]`: mmds_log_ship() from the command line, until
 * SIGINT/SIGTERM (or, with --once, until caught up). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mmds.h>
#include <mmds/ship.h>

#include "tool.h"

static int usage(FILE *out)
{
	fprintf(out,
		"usage: mmds log ship DIR --nats URL --stream NAME --subject SUBJ\n"
		"                     [--cursor NAME] [--create-cursor] [--once]\n"
		"                     [--max-pending N] [--ack-timeout SECONDS]\n"
		"                     [--min-dup-window SECONDS]\n"
		"\n"
		"Publish the log's records to the NATS JetStream stream NAME on subject\n"
		"SUBJ, exactly once and in log order, from the named durable cursor\n"
		"(default \"ship\"), and follow the log until SIGINT or SIGTERM.  The cursor\n"
		"is committed as publishes are acknowledged: 'mmds log cursors DIR' shows\n"
		"the progress and the lag.  A server that is down makes it wait and retry.\n"
		"URL may list several servers, separated by commas.  The stream must exist,\n"
		"hold this log's records only, and de-duplicate over a window longer than\n"
		"the longest outage (--min-dup-window, default 60 s; 0 = do not check).\n"
		"\n"
		"--create-cursor  create the cursor at the log's oldest record if missing\n"
		"--once           stop once caught up with the log\n"
		"--max-pending    publishes in flight (default 4096)\n"
		"--ack-timeout    re-send what is not acknowledged by then (default 5)\n"
		"State changes go to stderr, one line each.\n"
		"Exit status: 0 ok (--once: caught up), 1 failure, 2 usage, 3 no such\n"
		"log/cursor/stream, 4 corrupt, 130/143 stopped by SIGINT/SIGTERM.\n");
	return out == stdout ? TOOL_OK : TOOL_USAGE;
}

static void say(void *arg, const char *line)
{
	char when[32];
	time_t t = time(NULL);
	struct tm tm;

	(void)arg;
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	fprintf(stderr, "%s mmds log ship: %s\n", when, line);
}

int mmds_tool_log_ship(int argc, char **argv)
{
	mmds_ship_opts o = { .log_fn = say, .stop = &tool_stop };
	mmds_ship_stats st;
	const char *dir = NULL;
	uint64_t v;
	double sec;
	int rc, seen[7] = { 0 };
	static const char *const once[7] = { "--nats", "--stream", "--subject",
		"--cursor", "--max-pending", "--ack-timeout", "--min-dup-window" };

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int takes = strcmp(a, "--nats") == 0 || strcmp(a, "--stream") == 0 ||
			    strcmp(a, "--subject") == 0 || strcmp(a, "--cursor") == 0 ||
			    strcmp(a, "--max-pending") == 0 ||
			    strcmp(a, "--ack-timeout") == 0 ||
			    strcmp(a, "--min-dup-window") == 0;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return usage(stdout);
		if (takes && i + 1 >= argc)
			return tool_usage_error("log", "%s needs a value", a);
		for (int k = 0; takes && k < 7; k++)
			if (strcmp(a, once[k]) == 0 && tool_once("log", a, &seen[k]))
				return TOOL_USAGE;
		if (strcmp(a, "--nats") == 0) {
			o.url = argv[++i];
		} else if (strcmp(a, "--stream") == 0) {
			o.stream = argv[++i];
		} else if (strcmp(a, "--subject") == 0) {
			o.subject = argv[++i];
		} else if (strcmp(a, "--cursor") == 0) {
			o.cursor = argv[++i];
		} else if (strcmp(a, "--create-cursor") == 0) {
			o.flags |= MMDS_SHIP_CREATE_CURSOR;
		} else if (strcmp(a, "--once") == 0) {
			o.flags |= MMDS_SHIP_UNTIL_CAUGHT_UP;
		} else if (strcmp(a, "--max-pending") == 0) {
			if (tool_parse_u64("log", a, argv[++i], 1, 1u << 20, &v))
				return TOOL_USAGE;
			o.max_pending = (unsigned)v;
		} else if (strcmp(a, "--ack-timeout") == 0) {
			if (tool_parse_seconds("log", a, argv[++i], 3600, &sec))
				return TOOL_USAGE;
			o.ack_timeout_ms = sec * 1000 < 1 ? 1 : (int)(sec * 1000);
		} else if (strcmp(a, "--min-dup-window") == 0) {
			if (strcmp(argv[i + 1], "0") == 0) {
				i++;
				o.min_dup_window_ms = -1;
			} else if (tool_parse_seconds("log", a, argv[++i], 1e9, &sec)) {
				return TOOL_USAGE;
			} else {
				o.min_dup_window_ms = (int64_t)(sec * 1000);
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			return tool_usage_error("log", "unknown option '%s'", a);
		} else if (dir == NULL) {
			dir = a;
		} else {
			return tool_usage_error("log", "one DIR only ('%s' is extra)", a);
		}
	}
	if (dir == NULL)
		return tool_usage_error("log", "'mmds log ship' needs a log DIR");
	if (o.url == NULL || o.stream == NULL || o.subject == NULL)
		return tool_usage_error("log", "'mmds log ship' needs --nats, --stream and --subject");
	rc = tool_check_kind("log", dir, TOOL_KIND_LOG);
	if (rc)
		return rc;
	rc = mmds_log_ship(dir, &o, &st);
	fprintf(stderr, "mmds log ship: %llu published, %llu stored, %llu duplicates, "
		"%llu skipped, %llu retries; cursor %s at LSN %llu\n",
		(unsigned long long)st.published, (unsigned long long)st.acked,
		(unsigned long long)st.duplicates, (unsigned long long)st.skipped,
		(unsigned long long)st.retries, o.cursor ? o.cursor : "ship",
		(unsigned long long)st.position);
	if (rc == -ENOTSUP) {
		fprintf(stderr, "mmds log ship: this mmds was built without libnats "
			"(install libnats-dev and re-run ./bootstrap)\n");
		return TOOL_FAIL;
	}
	if (rc)
		return tool_fail("log", dir, rc);
	return TOOL_OK;
}
