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
 *
 * A program's own signal handler may leave a guarded region by siglongjmp
 * (or fn of mmds_guard_run() by longjmp), so a guard can die without its
 * pop.  The guard stack is therefore kept where no dead frame can spoil it:
 * the per-thread stack below holds pointers to the innermost
 * MMDS__GUARD_SLOTS guards (deeper nesting spills the pointer a guard
 * displaces into the guard itself, `saved`), and each guard carries a seal
 * over its own address, depth and frame.  A record is used only if its seal
 * holds (its frame was not reused) and its frame lies above the stack
 * pointer of the interrupted code on the same stack (its frame was not
 * popped); see find_live() in guard.c.
 */
#ifndef MMDS_GUARD_H
#define MMDS_GUARD_H

#include <setjmp.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct mmds__guard {
	sigjmp_buf env;
	struct mmds__guard *saved; /* slot[idx % SLOTS] before the push */
	unsigned long idx;         /* depth at the push: 0 = outermost */
	uintptr_t frame;           /* frame address of the guarded function */
	uintptr_t seal;            /* mmds__guard_seal(this, idx, frame) */
	volatile int code;         /* error of the fault that ended the guard;
				      set by the handler before it jumps */
};

#define MMDS__GUARD_SLOTS 8

struct mmds__guard_stack {
	unsigned long n; /* guards pushed and not popped (dead ones too) */
	struct mmds__guard *slot[MMDS__GUARD_SLOTS]; /* guard of depth i at
						      * slot[i % SLOTS] */
};

/* This thread's guards.  Initial-exec TLS, so the signal handler reads it
 * without calling into the dynamic loader.  Only this thread and its signal
 * handlers touch it: signal fences order the two. */
extern _Thread_local struct mmds__guard_stack mmds__guards
	__attribute__((tls_model("initial-exec")));

static inline uintptr_t mmds__guard_seal(const struct mmds__guard *g,
					 unsigned long idx, uintptr_t frame)
{
	return ((uintptr_t)g ^ frame ^
		(uintptr_t)(idx * (unsigned long)UINT64_C(0x9e3779b97f4a7c15))) +
	       (uintptr_t)UINT64_C(0x6d6d64732d677264);
}

/* Code that reads guard records whose frames may be dead: AddressSanitizer
 * poisons such frames (a later call's redzones), and the seal, not the
 * shadow, decides whether a record still holds. */
#if defined(__SANITIZE_ADDRESS__)
#define MMDS__NO_ASAN __attribute__((no_sanitize_address))
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MMDS__NO_ASAN __attribute__((no_sanitize_address))
#endif
#endif
#ifndef MMDS__NO_ASAN
#define MMDS__NO_ASAN
#endif

/* Whether g still holds the record pushed at depth idx: false once its
 * frame was reused by later calls (or g is NULL). */
static inline MMDS__NO_ASAN int mmds__guard_intact(const struct mmds__guard *g,
				     unsigned long idx)
{
	return g != NULL && g->idx == idx &&
	       g->seal == mmds__guard_seal(g, idx, g->frame);
}

/* Always inlined: the frame recorded is that of the guarded function. */
static inline __attribute__((always_inline)) void
mmds__guard_push(struct mmds__guard *g)
{
	struct mmds__guard_stack *s = &mmds__guards;
	unsigned long n = s->n;

	/* A dead guard whose frame was reused is dropped here, so stale
	 * records do not pile up. */
	while (n > 0 && !mmds__guard_intact(s->slot[(n - 1) % MMDS__GUARD_SLOTS],
					    n - 1)) {
		s->slot[(n - 1) % MMDS__GUARD_SLOTS] = NULL;
		n--;
	}
	g->idx = n;
	g->frame = (uintptr_t)__builtin_frame_address(0);
	g->saved = n >= MMDS__GUARD_SLOTS ? s->slot[n % MMDS__GUARD_SLOTS] : NULL;
	g->seal = mmds__guard_seal(g, n, g->frame);
	/* The handler runs on this thread: order against it, not other CPUs. */
	atomic_signal_fence(memory_order_seq_cst);
	s->slot[n % MMDS__GUARD_SLOTS] = g;
	atomic_signal_fence(memory_order_seq_cst);
	s->n = n + 1;
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void mmds__guard_pop(struct mmds__guard *g)
{
	struct mmds__guard_stack *s = &mmds__guards;

	atomic_signal_fence(memory_order_seq_cst);
	s->n = g->idx;
	atomic_signal_fence(memory_order_seq_cst);
	s->slot[g->idx % MMDS__GUARD_SLOTS] = g->saved;
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
