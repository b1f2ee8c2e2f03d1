/* guard.h - the SIGBUS guard around every access to a map (guard.c).
 *
 * Use, in the function that makes the access (sigsetjmp must run in the
 * frame that stays live):
 *
 *	struct mmds__guard g;
 *	mmds__guard_push(&g);
 *	if (sigsetjmp(g.env, 0))
 *		return mmds__guard_error(&g);
 *	... touch the mapping ...
 *	mmds__guard_pop(&g);
 */
#ifndef MMDS_GUARD_H
#define MMDS_GUARD_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stddef.h>

struct mmds__guard {
	sigjmp_buf env;
	struct mmds__guard *prev;
	volatile int code; /* si_code of the fault that ended the guard */
};

/* The innermost guard of this thread.  Initial-exec TLS, so the signal
 * handler reads it without calling into the dynamic loader. */
extern _Thread_local struct mmds__guard *mmds__guard_top
	__attribute__((tls_model("initial-exec")));

static inline void mmds__guard_push(struct mmds__guard *g)
{
	g->prev = mmds__guard_top;
	g->code = 0;
	mmds__guard_top = g;
	/* The handler runs on this thread: order against it, not other CPUs. */
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void mmds__guard_pop(struct mmds__guard *g)
{
	atomic_signal_fence(memory_order_seq_cst);
	mmds__guard_top = g->prev;
}

/* -EFAULT, or -EIO for a hardware memory error.  The handler has already
 * popped the guard. */
int mmds__guard_error(const struct mmds__guard *g);

/* Install the handlers once per process.  0 or a negative errno. */
int mmds__guard_init(void);

/* Registry of live address ranges (whole reservations of open maps): a
 * fault is mmds's only when it lies in one.  register returns a slot handle
 * (>= 0) or a negative errno; unregister takes it back. */
long mmds__guard_register(const void *start, size_t len);
void mmds__guard_unregister(long slot);

#endif /* MMDS_GUARD_H */
