/* owner.h - who owns something in shared memory, and whether they live.
 *
 * One protocol for every structure that lets a process own a word in a
 * shared file: the ring's consumer and producer slots, the counters'
 * allocation lock, and anything later.  docs/FORMAT.md ("Owner words")
 * describes the encoding and the ordering argument.
 *
 * An owner word is one 64-bit value, published by one atomic store or CAS,
 * so no reader ever sees half of it:
 *   bits  0..31  the owner's pid (as seen in the pid namespace of the
 *                processes sharing the file)
 *   bits 32..63  the owner's incarnation tag: a hash of the boot id and the
 *                process's start time, never 0
 * 0 means "nobody".  A process is the owner named by a word only if its pid
 * and its tag both match, so a pid reused by another process, or the same
 * pid after a reboot or a container restart, does not pass for the owner.
 *
 * Dead means: the pid is impossible (0, or beyond the kernel's pid_max),
 * no such process, a zombie, or a process with another incarnation tag.
 * A word with tag 0 is impossible too (no writer stores one).
 */
#ifndef MMDS_STRUCTS_OWNER_H
#define MMDS_STRUCTS_OWNER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Everything here assumes plain, lock-free 64-bit atomics (cross-process
 * correctness needs them: a lock-based atomic is per process). */
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "atomic words are plain words");

/* This process's owner word (computed once per process; a forked child
 * gets its own).  Never 0. */
uint64_t mmds__owner_self(void);

/* The pid in an owner word. */
static inline uint32_t mmds__owner_pid(uint64_t w)
{
	return (uint32_t)w;
}

/* The owner word of a running process, or 0 if pid is dead (as defined
 * above) or its start time cannot be read.  Reads /proc. */
uint64_t mmds__owner_of_pid(uint32_t pid);

/*
 * Whether the owner named by w still runs.  False for 0 and for every dead
 * or impossible word.  Without a readable /proc, a running pid with the
 * same number is taken as the owner (the best that can be known).
 * Slow path: a kill(2) and a read of /proc/PID/stat.
 */
bool mmds__owner_alive(uint64_t w);

/* Results of mmds__owner_take(). */
enum {
	MMDS__OWNER_FREE = 0, /* the word was 0: now ours */
	MMDS__OWNER_TAKEN = 1 /* the word named a dead owner: now ours; the
	                         caller rolls that owner's intent forward */
};

/*
 * Make the calling process the owner of *w: by CAS from 0, or from a dead
 * owner's word (takeover; the old word is stored in *prev, if not NULL).
 * A word already equal to mmds__owner_self() counts as held by a live
 * owner (another handle or thread of this process).  seq_cst CAS, so what
 * the previous owner published before releasing is visible.
 * Returns MMDS__OWNER_FREE, MMDS__OWNER_TAKEN, or -EBUSY while a live
 * owner holds it.  Two callers can never both succeed for one old value.
 */
int mmds__owner_take(_Atomic uint64_t *w, uint64_t *prev);

/*
 * Give up *w if the calling process owns it (CAS from mmds__owner_self()
 * to 0, release ordering).  Returns 0, or -EPERM if another owner holds it
 * (it was taken over: this process was thought dead).
 */
int mmds__owner_release(_Atomic uint64_t *w);

/*
 * The same two calls for a word inside an mmds map that someone may
 * truncate: run under the SIGBUS guard (mmds_guard_run), so a fault is
 * -EFAULT (-EIO for a memory error) instead of a signal.  The word must lie
 * in a live mmds map (the guard covers only those).
 */
int mmds__owner_take_guarded(_Atomic uint64_t *w, uint64_t *prev);
int mmds__owner_release_guarded(_Atomic uint64_t *w);

#endif /* MMDS_STRUCTS_OWNER_H */
