/* torture_log_powerloss.c - thousands of simulated power losses under a log
 * writer that runs again and again on the same log (log_powerloss.h); each
 * crash state is recovered and checked.
 *
 * Usage: torture_log_powerloss [STATES] [SEED] (default 5000, or
 * $MMDS_TORTURE_STATES; seed from the clock).  Opens refused with -EBADMSG
 * are counted (and the log reopened with TRUNCATE) so the rate shows; any
 * refusal or broken invariant makes the exit status 1. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <time.h>

#include "log_powerloss.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *env = getenv("MMDS_TORTURE_STATES");
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10)
				   : env ? strtoul(env, NULL, 10) : 5000;
	uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : (uint64_t)time(NULL);
	char tmpl[] = "/tmp/mmds-torture-powerloss.XXXXXX", why[1024] = "";
	char *base = mkdtemp(tmpl);
	struct pl_stats st = { 0 };
	double t0 = now_s();
	int rc;

	if (base == NULL) {
		perror("mkdtemp");
		return 1;
	}
	printf("torture_log_powerloss: %lu crash states, seed %llu, in %s\n", n,
	       (unsigned long long)seed, base);
	rc = pl_run(base, n, seed, 1, &st, why, sizeof(why));
	if (rc) {
		fprintf(stderr, "torture_log_powerloss: %s\n", why);
		return 1;
	}
	printf("torture_log_powerloss: %lu states (%lu inside a sync call, %lu "
	       "inside recovery); %lu appends, %lu syncs; dirty pages %lu old / "
	       "%lu new / %lu torn; %lu changed names undone\n",
	       st.states, st.in_sync, st.in_recovery, st.appends, st.syncs,
	       st.pages_old, st.pages_new, st.pages_torn, st.names_undone);
	printf("torture_log_powerloss: opens refused (-EBADMSG) %lu (%.1f %%); "
	       "recoveries that cut %lu, of which past the durable point "
	       "%lu; %lu records served, %lu synced records checked kept; %.1f s\n",
	       st.refused, st.states ? 100.0 * (double)st.refused / (double)st.states : 0.0,
	       st.cuts, st.cut_beyond_durable, st.records_served, st.durable_checked,
	       now_s() - t0);
	rmdir(base);
	return st.refused ? 1 : 0;
}
