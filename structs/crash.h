/* crash.h - named crash points (crash.c).
 *
 * MMDS_CRASH("ring.claim.after_cas") marks a place inside a multi-step
 * update of shared or persistent state where a process could die.  In the
 * release library the macro is nothing at all.  In the test build of the
 * library (compiled with -DMMDS_CRASH_POINTS, lib/libmmds_crash.la, linked
 * only by tests) each point is registered in the "mmds_crash" section, so a
 * test can enumerate every point compiled in, and a point that is armed
 * sends SIGKILL to its own process on the chosen pass (or, stalled, sleeps
 * there now and then, for races).
 *
 * Arming: mmds__crash_arm(name, pass) from a test, or the environment
 * variable MMDS_CRASH=name[:pass] (pass counts from 1, default 1), read at
 * the first point reached.  docs/CRASHPOINTS.md lists every point and the
 * invariant recovery or takeover restores from it.
 */
#ifndef MMDS_STRUCTS_CRASH_H
#define MMDS_STRUCTS_CRASH_H

#ifdef MMDS_CRASH_POINTS

#include <stdatomic.h>
#include <stddef.h>

struct mmds__crash_point {
	const char *name;
	const char *file;
	_Atomic unsigned long hits; /* times reached in this process */
};

void mmds__crash_hit(struct mmds__crash_point *p);

#define MMDS_CRASH(name_)                                                     \
	do {                                                                  \
		static struct mmds__crash_point mmds_cp_ = { name_, __FILE__, \
							     0 };             \
		static struct mmds__crash_point *const mmds_cp_ref_           \
			__attribute__((section("mmds_crash"), used,           \
				       aligned(sizeof(void *)))) = &mmds_cp_; \
		(void)mmds_cp_ref_;                                           \
		mmds__crash_hit(&mmds_cp_);                                   \
	} while (0)

/* Every point compiled in: their count, and the i-th one (stable order
 * within one binary; a point reached by several call sites is one name but
 * may be listed once per site). */
size_t mmds__crash_count(void);
const struct mmds__crash_point *mmds__crash_at(size_t i);

/* Arm name: the pass-th time it is reached (from now, pass >= 1), the
 * process kills itself with SIGKILL.  NULL disarms.  Not thread-safe
 * against points being reached concurrently: arm before starting work. */
void mmds__crash_arm(const char *name, unsigned long pass);

/* Stall name: every every-th time it is reached (counted per site), the
 * thread sleeps usec microseconds there, to widen a race window a test
 * wants to hit (a thread preempted at that point).  NULL or every 0
 * disarms.  Arm before starting work, as above. */
void mmds__crash_stall(const char *name, unsigned long every,
		       unsigned long usec);

/* How often name has been reached in this process (all its sites). */
unsigned long mmds__crash_hits(const char *name);

#else

#define MMDS_CRASH(name_) ((void)0)

#endif /* MMDS_CRASH_POINTS */

#endif /* MMDS_STRUCTS_CRASH_H */
