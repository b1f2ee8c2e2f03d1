/*
 * t_crash.h - running code until a named crash point kills it.
 *
 * For tests linked with the crash-point build of the library
 * (lib/libmmds_crash.la, compiled with MMDS_CRASH_POINTS; see
 * structs/crash.h).  A crash test enumerates the points of its structure
 * with t_crash_points(), runs a scenario in a forked child with one point
 * armed (t_crash_run), then recovers or takes over in the parent and checks
 * the invariants that point protects.
 */
#ifndef T_CRASH_H
#define T_CRASH_H

#include <stddef.h>

/*
 * Fork; in the child arm point for its pass-th hit (1 = first) and call
 * fn(arg), then _exit(fn's return value).  Returns 1 if the child was
 * killed by SIGKILL (at the point: nothing else sends it), 0 if it exited
 * with status 0 without reaching the point that often.  A child that
 * exits non-zero, or dies of another signal, fails the test.
 */
int t_crash_run(const char *point, unsigned long pass, int (*fn)(void *arg),
		void *arg);

/*
 * The distinct names of the crash points compiled in whose name starts
 * with prefix (e.g. "ring."), sorted, at most max of them, in out (the
 * strings live in the library).  Returns how many there are in all.
 */
size_t t_crash_points(const char *prefix, const char **out, size_t max);

#endif /* T_CRASH_H */
