/* ring_ck.h - the ck_ring MPSC peer of bench_ring.cc
 * (ring_ck.c). */
#ifndef MMDS_BENCH_RING_CK_H
#define MMDS_BENCH_RING_CK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BENCH_CK_MSGS 1024 /* the queue holds BENCH_CK_MSGS - 1 messages */

struct bench_ck;

/* 1 when built with ck_ring.h (libck-dev), else 0 and the rest is inert. */
int bench_ck_available(void);
/* A queue of messages of size bytes (8 or 64) in shared memory. */
struct bench_ck *bench_ck_new(size_t size);
void bench_ck_free(struct bench_ck *q);
/* Enqueue messages numbered from, from + step, ... below n (sched_yield
 * while full: two producers share a CPU). */
void bench_ck_produce(struct bench_ck *q, int64_t from, int64_t n,
		      int64_t step);
/* Dequeue one message, spinning while empty; returns its number. */
int64_t bench_ck_consume(struct bench_ck *q);

#ifdef __cplusplus
}
#endif

#endif
