/* torture_log_cursor.c - `make torture`: a consumer commits its cursor after
 * every record (and resets it at the end of the log, to go round again)
 * while the parent kills it with SIGKILL at random moments; after every
 * kill the cursor is taken over and must hold the last acknowledged
 * position or the one whose commit was in flight, nothing else.
 * Usage: torture_log_cursor [KILLS] (or MMDS_TORTURE_KILLS; default 2000). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds/log.h>

#define RECS 64

struct shared {
	uint64_t lsns[RECS + 1];
	_Atomic uint64_t acked;   /* position whose commit returned */
	_Atomic uint64_t attempt; /* position being committed */
	_Atomic int ready;
	_Atomic uint64_t commits; /* commits that returned, all children */
};

static char dir[256];

static void die(const char *what, int rc)
{
	fprintf(stderr, "torture_log_cursor: %s: %d (%s)\n", what, rc, mmds_strerror(rc));
	exit(1);
}

static void consumer(struct shared *sh)
{
	mmds_log_cursor *c;
	mmds_log_iter *it;
	mmds_log_record r;
	int rc;

	rc = mmds_log_cursor_open(&c, dir, "t", NULL);
	if (rc)
		die("child open", rc);
	atomic_store(&sh->ready, 1);
	for (;;) {
		rc = mmds_log_cursor_iter(c, &it);
		if (rc)
			die("child iter", rc);
		while (mmds_log_iter_next(it, &r) == 0) {
			atomic_store(&sh->attempt, r.next_lsn);
			rc = mmds_log_cursor_commit(c, r.next_lsn);
			if (rc)
				die("child commit", rc);
			atomic_store(&sh->acked, r.next_lsn);
			atomic_fetch_add(&sh->commits, 1);
		}
		mmds_log_iter_close(it);
		atomic_store(&sh->attempt, sh->lsns[0]);
		rc = mmds_log_cursor_reset(c, sh->lsns[0]);
		if (rc)
			die("child reset", rc);
		atomic_store(&sh->acked, sh->lsns[0]);
	}
}

int main(int argc, char **argv)
{
	const char *env = getenv("MMDS_TORTURE_KILLS");
	long kills = argc > 1 ? atol(argv[1]) : env ? atol(env) : 2000;
	long done = 0, in_flight = 0;
	struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const char *tmp = getenv("TMPDIR");
	mmds_log *l;
	mmds_log_cursor *c;
	unsigned char buf[64] = { 0 };
	unsigned seed = (unsigned)time(NULL);
	struct timespec t0, t1;
	char cmd[300];
	int rc;

	if (sh == MAP_FAILED)
		return 1;
	snprintf(dir, sizeof(dir), "%s/mmds-torture-cursor.%ld", tmp ? tmp : "/tmp",
		 (long)getpid());
	rc = mmds_log_open(&l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
						       .segment_size = 16384 });
	if (rc)
		die("log open", rc);
	for (int i = 0; i < RECS; i++)
		if ((rc = mmds_log_append(l, 1, buf, (size_t)(i % 60), &sh->lsns[i])))
			die("append", rc);
	sh->lsns[RECS] = mmds_log_tail_lsn(l);
	rc = mmds_log_cursor_open(&c, dir, "t",
				  &(mmds_log_cursor_opts){ .flags = MMDS_LOG_CURSOR_CREATE });
	if (rc)
		die("create", rc);
	mmds_log_cursor_close(c);
	atomic_store(&sh->acked, sh->lsns[0]);
	atomic_store(&sh->attempt, sh->lsns[0]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (done = 0; done < kills; done++) {
		pid_t pid;
		uint64_t pos, acked, att;

		atomic_store(&sh->ready, 0);
		pid = fork();
		if (pid < 0)
			die("fork", -errno);
		if (pid == 0)
			consumer(sh);
		while (!atomic_load(&sh->ready))
			usleep(50);
		usleep((useconds_t)(rand_r(&seed) % 3000));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		acked = atomic_load(&sh->acked);
		att = atomic_load(&sh->attempt);
		rc = mmds_log_cursor_open(&c, dir, "t", NULL);
		if (rc)
			die("takeover", rc);
		pos = mmds_log_cursor_position(c);
		mmds_log_cursor_close(c);
		if (pos != acked && pos != att) {
			fprintf(stderr, "kill %ld: position %llu, acknowledged %llu, in flight %llu\n",
				done, (unsigned long long)pos, (unsigned long long)acked,
				(unsigned long long)att);
			return 1;
		}
		in_flight += pos != acked;
		atomic_store(&sh->acked, pos);
		atomic_store(&sh->attempt, pos);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("torture_log_cursor: %ld kills in %.1f s, %llu commits acknowledged; "
	       "every takeover at the acknowledged position or the one in flight "
	       "(%ld in flight), 0 lost, 0 invented\n",
	       done, (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)atomic_load(&sh->commits), in_flight);
	mmds_log_close(l);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
