/* log_demo.c - one process writes a log while another follows its tail.
 *
 * The parent appends 3000 small records (rolling over 64 KiB segments) and
 * syncs now and then; a forked child opens the same directory read-only and
 * follows the tail with mmds_log_iter_wait(), woken through a futex, and
 * reports what it sees.  Then the writer reopens the log to show recovery's
 * report, and `mmds log info` describes it if the tool is built.  Runs in
 * about a second; everything lives under /tmp and is removed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds.h>

#define RECORDS 3000
#define TYPE_EVENT 1
#define TYPE_BYE 2

static int die(const char *what, int rc)
{
	fprintf(stderr, "log_demo: %s: %s\n", what, mmds_strerror(rc));
	return 1;
}

static int follower(const char *dir)
{
	mmds_log *log;
	mmds_log_iter *it;
	mmds_log_record r;
	unsigned long seen = 0, waits = 0;
	uint64_t seg = 0;
	int rc = mmds_log_open(&log, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });

	if (rc)
		return die("reader open", rc);
	mmds_log_iter_open(&it, log, MMDS_LOG_START);
	for (;;) {
		rc = mmds_log_iter_next(it, &r);
		if (rc == -EAGAIN) {
			waits++;
			rc = mmds_log_iter_wait(it, 5000);
			if (rc)
				return die("wait", rc);
			continue;
		}
		if (rc)
			return die("next", rc);
		if (r.type == TYPE_BYE)
			break;
		seen++;
		if (r.lsn / (64 * 1024 - 4096) != seg) {
			seg = r.lsn / (64 * 1024 - 4096);
			printf("  [reader %d] rolled into segment %llu at LSN %llu\n",
			       (int)getpid(), (unsigned long long)seg,
			       (unsigned long long)r.lsn);
		}
		if (seen % 1000 == 0)
			printf("  [reader %d] record %lu: \"%.*s\"\n", (int)getpid(),
			       seen, (int)r.len, (const char *)r.data);
	}
	printf("  [reader] saw %lu records in order, slept %lu times waiting "
	       "for the writer\n", seen, waits);
	mmds_log_iter_close(it);
	mmds_log_close(log);
	return seen == RECORDS ? 0 : 1;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' && (e->d_name[1] == 0 ||
					    (e->d_name[1] == '.' && e->d_name[2] == 0)))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

int main(void)
{
	char tmpl[] = "/tmp/mmds-log-demo.XXXXXX", dir[64], cmd[256];
	mmds_log *log;
	mmds_log_report rep;
	pid_t child;
	int rc, status;

	setvbuf(stdout, NULL, _IOLBF, 0); /* interleave both processes */
	if (mkdtemp(tmpl) == NULL)
		return die("mkdtemp", -errno);
	snprintf(dir, sizeof(dir), "%s/events", tmpl);
	rc = mmds_log_open(&log, dir, &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							.segment_size = 64 * 1024 });
	if (rc)
		return die("open", rc);
	printf("writer %d: log in %s, 64 KiB segments\n", (int)getpid(), dir);
	fflush(stdout);
	child = fork();
	if (child == 0) {
		mmds_log_close(log); /* the child is only a reader */
		rc = follower(dir);
		fflush(stdout);
		_exit(rc);
	}
	for (int i = 1; i <= RECORDS; i++) {
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "event %d from writer %d", i,
				 (int)getpid());
		uint64_t lsn;

		rc = mmds_log_append(log, TYPE_EVENT, msg, (size_t)n, &lsn);
		if (rc)
			return die("append", rc);
		if (i % 500 == 0) {
			/* the LSN append returned: this record (and all before
			 * it) is durable when sync returns */
			rc = mmds_log_sync(log, lsn);
			if (rc)
				return die("sync", rc);
			printf("writer: %d records appended, durable up to LSN %llu\n",
			       i, (unsigned long long)mmds_log_durable_lsn(log));
			fflush(stdout);
			struct timespec ts = { 0, 50 * 1000000L };
			nanosleep(&ts, NULL); /* let the reader catch up and sleep */
		}
	}
	mmds_log_append(log, TYPE_BYE, "bye", 3, NULL);
	waitpid(child, &status, 0);
	mmds_log_close(log);

	rc = mmds_log_open(&log, dir, NULL);
	if (rc)
		return die("reopen", rc);
	mmds_log_get_report(log, &rep);
	printf("writer reopened: recovery scanned %llu segment(s) from LSN %llu, "
	       "kept %llu records, cut %llu bytes (%s)\n",
	       (unsigned long long)rep.segments_scanned,
	       (unsigned long long)rep.scan_from,
	       (unsigned long long)rep.records_kept,
	       (unsigned long long)rep.bytes_cut, mmds_log_cut_name(rep.reason));
	mmds_log_close(log);
	if (access("./tools/mmds", X_OK) == 0) {
		snprintf(cmd, sizeof(cmd), "./tools/mmds log info %s && "
			 "./tools/mmds log tail -n 2 %s", dir, dir);
		printf("$ mmds log info %s; mmds log tail -n 2 ...\n", dir);
		fflush(stdout);
		if (system(cmd) != 0)
			fprintf(stderr, "log_demo: the tool failed\n");
	}
	remove_dir(dir);
	rmdir(tmpl);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
