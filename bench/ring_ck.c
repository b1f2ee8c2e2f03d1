/* ring_ck.c - Concurrency Kit's ck_ring MPSC peer of bench_ring.cc.
 *
 * ck_ring.h is C only (it returns false as a pointer), so the peer's loops
 * live here, each whole in one function so that ck's inline calls stay
 * inline, as in a C program using ck.  Built empty when libck-dev is absent.
 */
#include "ring_ck.h"

#if defined(__has_include)
#if __has_include(<ck_ring.h>)
#define HAVE_CK_RING 1
#endif
#endif

#ifdef HAVE_CK_RING
#include <ck_ring.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

struct ck8 {
	char b[8];
};
struct ck64 {
	char b[64];
};
CK_RING_PROTOTYPE(ck8, ck8)
CK_RING_PROTOTYPE(ck64, ck64)

struct bench_ck {
	ck_ring_t ring;
	size_t size;
	union {
		struct ck8 b8[BENCH_CK_MSGS];
		struct ck64 b64[BENCH_CK_MSGS];
	} buf;
};

int bench_ck_available(void)
{
	return 1;
}

struct bench_ck *bench_ck_new(size_t size)
{
	struct bench_ck *q = mmap(NULL, sizeof(*q), PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (q == MAP_FAILED || (size != 8 && size != 64))
		abort();
	ck_ring_init(&q->ring, BENCH_CK_MSGS);
	q->size = size;
	return q;
}

void bench_ck_free(struct bench_ck *q)
{
	munmap(q, sizeof(*q));
}

void bench_ck_produce(struct bench_ck *q, int64_t from, int64_t n,
		      int64_t step)
{
	struct ck8 m8;
	struct ck64 m64;

	memset(&m8, 0, sizeof(m8));
	memset(&m64, 0, sizeof(m64));
	for (int64_t i = from; i < n; i += step) {
		if (q->size == 8) {
			memcpy(m8.b, &i, sizeof(i));
			while (!ck_ring_enqueue_mpsc_ck8(&q->ring, q->buf.b8, &m8))
				sched_yield();
		} else {
			memcpy(m64.b, &i, sizeof(i));
			while (!ck_ring_enqueue_mpsc_ck64(&q->ring, q->buf.b64,
							  &m64))
				sched_yield();
		}
	}
}

int64_t bench_ck_consume(struct bench_ck *q)
{
	int64_t v;

	if (q->size == 8) {
		struct ck8 m;

		while (!ck_ring_dequeue_mpsc_ck8(&q->ring, q->buf.b8, &m))
			relax();
		memcpy(&v, m.b, sizeof(v));
	} else {
		struct ck64 m;

		while (!ck_ring_dequeue_mpsc_ck64(&q->ring, q->buf.b64, &m))
			relax();
		memcpy(&v, m.b, sizeof(v));
	}
	return v;
}
#else
int bench_ck_available(void)
{
	return 0;
}

struct bench_ck *bench_ck_new(size_t size)
{
	(void)size;
	return NULL;
}

void bench_ck_free(struct bench_ck *q)
{
	(void)q;
}

void bench_ck_produce(struct bench_ck *q, int64_t from, int64_t n,
		      int64_t step)
{
	(void)q;
	(void)from;
	(void)n;
	(void)step;
}

int64_t bench_ck_consume(struct bench_ck *q)
{
	(void)q;
	return 0;
}
#endif
