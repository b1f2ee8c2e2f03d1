/* cmd_log_cursors.c - `mmds log cursors DIR`: each named cursor of a log,
 * its committed position and how far it lags behind the tail. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mmds.h>

#include "cmd_log_cursors.h"
#include "tool.h"

int mmds_tool_log_cursors(const char *dir)
{
	mmds_log_cursor_info *v = NULL;
	mmds_log *l;
	uint64_t first, tail;
	int n, got, bad = 0;

	n = tool_check_kind("log", dir, TOOL_KIND_LOG);
	if (n)
		return n;
	n = mmds_log_open(&l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });
	if (n)
		return tool_fail("log", dir, n);
	first = mmds_log_first_lsn(l);
	tail = mmds_log_tail_lsn(l);
	mmds_log_close(l);
	/* list twice: cursors may come and go between the count and the fill */
	for (got = 0, n = mmds_log_cursor_list(dir, NULL, 0); n > got;) {
		free(v);
		got = n + 4;
		v = calloc((size_t)got, sizeof(*v));
		if (v == NULL) {
			n = -ENOMEM;
			break;
		}
		n = mmds_log_cursor_list(dir, v, (size_t)got);
	}
	if (n < 0) {
		fprintf(stderr, "mmds log: %s: cursors: %s\n", dir, mmds_strerror(n));
		free(v);
		return n == -EBADMSG ? TOOL_CORRUPT : TOOL_FAIL;
	}
	printf("first LSN %llu, tail LSN %llu, %d cursor%s\n",
	       (unsigned long long)first, (unsigned long long)tail, n,
	       n == 1 ? "" : "s");
	if (n > 0)
		printf("%-24s %14s %14s %8s  %s\n", "NAME", "POSITION", "LAG",
		       "HOLDER", "LAST COMMIT");
	for (int i = 0; i < n; i++) {
		const mmds_log_cursor_info *c = &v[i];
		char when[32] = "?", holder[16] = "-", lag[48];
		time_t t = (time_t)(c->commit_ns / 1000000000u);

		if (c->status) {
			printf("%-24s unreadable: %s\n", c->name, mmds_strerror(c->status));
			bad = 1;
			continue;
		}
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		if (c->owner_pid)
			snprintf(holder, sizeof(holder), "%u", c->owner_pid);
		if (c->position > tail)
			snprintf(lag, sizeof(lag), "beyond-tail");
		else if (c->position < first)
			snprintf(lag, sizeof(lag), "retained-past");
		else
			snprintf(lag, sizeof(lag), "%llu",
				 (unsigned long long)(tail - c->position));
		printf("%-24s %14llu %14s %8s  %s\n", c->name,
		       (unsigned long long)c->position, lag, holder, when);
	}
	free(v);
	return bad ? TOOL_CORRUPT : TOOL_OK;
}
