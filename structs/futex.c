/* futex.c - futex wait and wake for words in shared memory (futex.h). */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "futex.h"

uint64_t mmds__mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int mmds__futex_wait(_Atomic uint32_t *w, uint32_t val, int64_t timeout_ns)
{
	struct timespec ts;

	if (timeout_ns <= 0)
		timeout_ns = 1;
	ts.tv_sec = (time_t)(timeout_ns / 1000000000);
	ts.tv_nsec = (long)(timeout_ns % 1000000000);
#if defined(__linux__) && defined(SYS_futex)
	if (syscall(SYS_futex, (void *)w, FUTEX_WAIT, val, &ts, NULL, 0) != 0 &&
	    errno == EINTR)
		return -EINTR;
#else
	if (ts.tv_sec > 0 || ts.tv_nsec > 1000000)
		ts = (struct timespec){ 0, 1000000 };
	if (atomic_load(w) == val && nanosleep(&ts, NULL) != 0 && errno == EINTR)
		return -EINTR;
#endif
	return 0;
}

void mmds__futex_wake(_Atomic uint32_t *w)
{
#if defined(__linux__) && defined(SYS_futex)
	syscall(SYS_futex, (void *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
#else
	(void)w;
#endif
}
