/* log_cursor_demo.c - a consumer that resumes where it committed.
 *
 * A writer appends 12 records.  A consumer in a child process reads them
 * through the named cursor "shipper", committing after each one, and is
 * killed with SIGKILL half-way.  A second consumer opens the same cursor,
 * takes it over from the dead one and reads on from exactly the next
 * record.  Then retention keeps what the cursor has not read, and the
 * cursors are listed with their lag.  Everything lives under /tmp and is
 * removed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mmds.h>

static int die(const char *what, int rc)
{
	fprintf(stderr, "log_cursor_demo: %s: %s\n", what, mmds_strerror(rc));
	exit(1);
}

/* Read through the cursor, committing after each record; stop after max. */
static void consume(const char *dir, const char *who, int max)
{
	mmds_log_cursor *c;
	mmds_log_iter *it;
	mmds_log_record r;
	int rc, n = 0;

	rc = mmds_log_cursor_open(&c, dir, "shipper",
				  &(mmds_log_cursor_opts){ .flags = MMDS_LOG_CURSOR_CREATE });
	if (rc)
		die("cursor open", rc);
	printf("%s: resumes at LSN %llu\n", who,
	       (unsigned long long)mmds_log_cursor_position(c));
	if ((rc = mmds_log_cursor_iter(c, &it)) != 0)
		die("cursor iter", rc);
	while (n < max && mmds_log_iter_next(it, &r) == 0) {
		printf("%s: %.*s\n", who, (int)r.len, (const char *)r.data);
		if ((rc = mmds_log_cursor_commit(c, r.next_lsn)) != 0)
			die("commit", rc);
		n++;
	}
	fflush(stdout);
	if (max < 100) {
		raise(SIGKILL); /* die without closing anything */
	}
	mmds_log_iter_close(it);
	mmds_log_cursor_close(c);
}

int main(void)
{
	char dir[] = "/tmp/mmds-cursor-demo.XXXXXX", cmd[128], buf[32];
	mmds_log *log;
	mmds_log_cursor_info ci[4];
	pid_t pid;
	int rc, n;

	if (mkdtemp(dir) == NULL)
		return 1;
	rc = mmds_log_open(&log, dir, &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = 16384 });
	if (rc)
		die("log open", rc);
	for (int i = 0; i < 12; i++) {
		n = snprintf(buf, sizeof(buf), "event %d", i);
		if ((rc = mmds_log_append(log, 1, buf, (size_t)n, NULL)) != 0)
			die("append", rc);
	}
	pid = fork();
	if (pid == 0)
		consume(dir, "consumer 1", 5); /* killed after 5 commits */
	waitpid(pid, NULL, 0);
	printf("consumer 1 was killed\n");
	consume(dir, "consumer 2", 100);

	rc = mmds_log_retain_cursors(log, dir, UINT64_MAX);
	printf("retention with cursors dropped %d segment(s); first LSN now %llu\n",
	       rc, (unsigned long long)mmds_log_first_lsn(log));
	n = mmds_log_cursor_list(dir, ci, 4);
	for (int i = 0; i < n && i < 4; i++)
		printf("cursor %s at LSN %llu, lag %llu bytes\n", ci[i].name,
		       (unsigned long long)ci[i].position,
		       (unsigned long long)(mmds_log_tail_lsn(log) - ci[i].position));
	mmds_log_close(log);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
