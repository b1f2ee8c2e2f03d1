/* futex.h - sleep on a 32-bit word in shared memory, and wake its sleepers
 * (futex.c).  Shared across processes (no FUTEX_PRIVATE_FLAG).  On systems
 * without futexes the wait is a short sleep and the wake does nothing:
 * callers always re-check their condition, so that is slower, never wrong.
 */
#ifndef MMDS_STRUCTS_FUTEX_H
#define MMDS_STRUCTS_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>

/* Sleep while *w == val, at most timeout_ns nanoseconds (> 0).  Returns 0
 * (woken, value changed, spurious or timed out: re-check) or -EINTR when a
 * signal interrupted the sleep. */
int mmds__futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t timeout_ns);

/* Wake every sleeper on w. */
void mmds__futex_wake(_Atomic uint32_t *w);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mmds__mono_ns(void);

#endif /* MMDS_STRUCTS_FUTEX_H */
