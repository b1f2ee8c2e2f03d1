/* torture_log.c - kill -9 a log writer at random moments, thousands of
 * times, and check the recovered log each time (log_inv.h).  First one
 * writer thread appends records of 8..707 bytes to 16 KiB segments, syncs
 * now and then and drops old segments; then 4 and then 16 threads append
 * at once (half of them through reserve/commit).  The parent kills the
 * writer after a random delay.
 *
 * Usage: torture_log [KILLS] (default 2000 per thread count, or
 * $MMDS_TORTURE_KILLS).
 * Prints the figures recorded in docs/CRASHPOINTS.md; exits 1 at the first
 * broken invariant. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log_inv.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void writer(const char *dir, struct log_inv *sh, unsigned seed)
{
	mmds_log *l = NULL;

	srand(seed);
	if (mmds_log_open(&l, dir, &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
						     .segment_size = LOG_INV_SEG }) != 0)
		_exit(2);
	for (;;) {
		uint64_t i = atomic_load(&sh->acked);
		int r = rand() % 1000;

		if (log_inv_append(l, sh) != 0)
			_exit(3);
		if (r < 3 && mmds_log_sync(l, UINT64_MAX) != 0)
			_exit(4);
		if (r >= 990 && i > 200 &&
		    mmds_log_retain(l, sh->lsn[(i - 200) % LOG_INV_CAP]) < 0)
			_exit(5);
	}
}

static struct log_mt *g_mt;
static mmds_log *g_log;

static void *mt_appender(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;

	for (unsigned k = 0;; k++) {
		if (log_mt_append(g_log, g_mt, t) != 0)
			_exit(3);
		if (t == 0 && k % 300 == 299 && mmds_log_sync(g_log, UINT64_MAX) != 0)
			_exit(4);
	}
	return NULL;
}

static void mt_writer(const char *dir)
{
	pthread_t th[LOG_MT_MAX];

	if (mmds_log_open(&g_log, dir, &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = LOG_INV_SEG }) != 0)
		_exit(2);
	atomic_store(&g_mt->started, 1);
	for (unsigned t = 0; t < g_mt->threads; t++)
		if (pthread_create(&th[t], NULL, mt_appender, (void *)(uintptr_t)t) != 0)
			_exit(5);
	for (;;)
		pause();
}

/* kills random kill -9s of a writer with threads appending threads. */
static int mt_loop(const char *dir, unsigned threads, unsigned long kills)
{
	double t0 = now_s(), trec = 0;
	char why[512];

	g_mt = mmap(NULL, sizeof(*g_mt), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (g_mt == MAP_FAILED)
		return 1;
	g_mt->threads = threads;
	for (unsigned long done = 0; done < kills; done++) {
		pid_t pid;
		int st;
		double t;

		atomic_store(&g_mt->started, 0);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			mt_writer(dir);
		while (!atomic_load(&g_mt->started) && waitpid(pid, &st, WNOHANG) == 0)
			usleep(100);
		usleep((useconds_t)(rand() % 5000));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		if (!WIFSIGNALED(st)) {
			fprintf(stderr, "writer exited with %d before the kill\n",
				WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			return 1;
		}
		t = now_s();
		if (log_mt_check(dir, g_mt, LOG_INV_SEG, 0, why, sizeof(why)) != 0) {
			fprintf(stderr, "%u threads, after kill %lu: %s (log left in %s)\n",
				threads, done + 1, why, dir);
			return 1;
		}
		trec += now_s() - t;
	}
	for (unsigned t = 0; t < threads; t++)
		g_mt->records += atomic_load(&g_mt->acked[t]);
	printf("torture_log: %u threads: %lu kills, %llu records acknowledged, "
	       "%llu lost; %llu abandoned reservations sealed, %llu unacknowledged "
	       "records kept; %.1f s, recovery+check %.2f ms on average\n",
	       threads, kills, (unsigned long long)g_mt->records,
	       (unsigned long long)g_mt->lost, (unsigned long long)g_mt->abandoned,
	       (unsigned long long)g_mt->inflight_kept, now_s() - t0,
	       kills ? trec * 1e3 / (double)kills : 0.0);
	munmap(g_mt, sizeof(*g_mt));
	return 0;
}

int main(int argc, char **argv)
{
	const char *env = getenv("MMDS_TORTURE_KILLS");
	unsigned long kills = argc > 1 ? strtoul(argv[1], NULL, 10)
				       : env ? strtoul(env, NULL, 10) : 2000;
	char tmpl[] = "/tmp/mmds-torture-log.XXXXXX", dir[PATH_MAX], why[512];
	struct log_inv *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned seed = (unsigned)time(NULL);
	double t0 = now_s(), trec = 0;
	unsigned long mid = 0, done;
	char *base = mkdtemp(tmpl);

	if (sh == MAP_FAILED || base == NULL) {
		perror("setup");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/log", base);
	srand(seed);
	printf("torture_log: %lu kills, seed %u, in %s\n", kills, seed, dir);
	for (done = 0; done < kills; done++) {
		pid_t pid = fork();
		int st;
		double t;

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			writer(dir, sh, seed + (unsigned)done);
		usleep((useconds_t)(rand() % 15000));
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		if (!WIFSIGNALED(st)) {
			fprintf(stderr, "writer exited with %d before the kill\n",
				WIFEXITED(st) ? WEXITSTATUS(st) : -1);
			return 1;
		}
		t = now_s();
		if (log_inv_check(dir, sh, why, sizeof(why)) != 0) {
			fprintf(stderr, "after kill %lu: %s (log left in %s)\n", done + 1,
				why, dir);
			return 1;
		}
		trec += now_s() - t;
		mid += 1;
	}
	printf("torture_log: %lu kills, %llu records acknowledged, all kept; "
	       "%llu torn tails cut, %llu segment files removed by recovery; "
	       "%.1f s, recovery+check %.2f ms on average\n",
	       done, (unsigned long long)atomic_load(&sh->acked),
	       (unsigned long long)sh->cuts, (unsigned long long)sh->segs_removed,
	       now_s() - t0, mid ? trec * 1e3 / (double)mid : 0.0);
	for (unsigned threads = 4; threads <= 16; threads *= 4) {
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0 || mt_loop(dir, threads, kills) != 0)
			return 1;
	}
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			return 1;
	}
	return 0;
}
