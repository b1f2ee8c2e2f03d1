/* guard.c - turn SIGBUS (and SIGSEGV) inside a live map, during a guarded
 * access, into an -EFAULT return; pass every other one on untouched. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include <mmds/map.h>

#include "guard.h"

_Thread_local struct mmds__guard_stack mmds__guards
	__attribute__((tls_model("initial-exec")));

/* ---- registry of live ranges ----------------------------------------------
 * Chunks of slots, appended and never freed, so the handler can walk them
 * with plain atomic loads.  A slot's lo is 0 when free, 1 while it is being
 * filled or emptied, else the start of a live range; hi is its end. */

#define SLOTS 64

struct reg_chunk {
	_Atomic uintptr_t lo[SLOTS];
	_Atomic uintptr_t hi[SLOTS];
	struct reg_chunk *_Atomic next;
};

static struct reg_chunk reg_head;

static bool reg_contains(uintptr_t addr)
{
	for (struct reg_chunk *c = &reg_head; c;
	     c = atomic_load_explicit(&c->next, memory_order_acquire)) {
		for (int i = 0; i < SLOTS; i++) {
			uintptr_t lo = atomic_load_explicit(&c->lo[i],
							    memory_order_acquire);

			if (lo > 1 && addr >= lo &&
			    addr < atomic_load_explicit(&c->hi[i],
							memory_order_relaxed))
				return true;
		}
	}
	return false;
}

long mmds__guard_register(const void *start, size_t len)
{
	uintptr_t lo = (uintptr_t)start;
	long base = 0;

	if (lo <= 1 || len == 0 || len > UINTPTR_MAX - lo)
		return -EINVAL;
	for (struct reg_chunk *c = &reg_head;; base += SLOTS) {
		struct reg_chunk *next;

		for (int i = 0; i < SLOTS; i++) {
			uintptr_t expect = 0;

			if (!atomic_compare_exchange_strong(&c->lo[i], &expect, 1))
				continue;
			atomic_store_explicit(&c->hi[i], lo + len,
					      memory_order_relaxed);
			atomic_store_explicit(&c->lo[i], lo, memory_order_release);
			return base + i;
		}
		next = atomic_load_explicit(&c->next, memory_order_acquire);
		if (next == NULL) {
			struct reg_chunk *fresh = calloc(1, sizeof(*fresh));

			if (fresh == NULL)
				return -ENOMEM;
			if (!atomic_compare_exchange_strong(&c->next, &next, fresh))
				free(fresh); /* another thread appended first */
			else
				next = fresh;
		}
		c = next;
	}
}

void mmds__guard_unregister(long slot)
{
	struct reg_chunk *c = &reg_head;

	if (slot < 0)
		return;
	for (; slot >= SLOTS && c; slot -= SLOTS)
		c = atomic_load_explicit(&c->next, memory_order_acquire);
	if (c == NULL)
		return;
	atomic_store_explicit(&c->lo[slot], 1, memory_order_release);
	atomic_store_explicit(&c->hi[slot], 0, memory_order_relaxed);
	atomic_store_explicit(&c->lo[slot], 0, memory_order_release);
}

/* ---- finding the live guard ------------------------------------------------ */

/* The stack pointer of the interrupted code, or 0 where unknown. */
static uintptr_t ctx_sp(const ucontext_t *uc)
{
#if defined(__x86_64__) && defined(REG_RSP)
	return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__i386__) && defined(REG_ESP)
	return (uintptr_t)uc->uc_mcontext.gregs[REG_ESP];
#elif defined(__aarch64__)
	return (uintptr_t)uc->uc_mcontext.sp;
#elif defined(__arm__)
	return (uintptr_t)uc->uc_mcontext.arm_sp;
#elif defined(__powerpc64__)
	return (uintptr_t)uc->uc_mcontext.gp_regs[1];
#elif defined(__riscv)
	return (uintptr_t)uc->uc_mcontext.__gregs[2];
#elif defined(__s390x__)
	return (uintptr_t)uc->uc_mcontext.gregs[15];
#else
	(void)uc;
	return 0;
#endif
}

/* Whether frame a is older than (or the same as) frame b on one stack. */
static bool outer_or_same(uintptr_t a, uintptr_t b)
{
#if defined(__hppa__)
	return a <= b; /* the stack grows up */
#else
	return a >= b;
#endif
}

/* Whether a guard's frame can still be live, given where the interrupted
 * code's stack pointer is.  On one stack a live frame is outside the part
 * already popped; a frame on the alternate signal stack is dead once the
 * code runs off it; a frame on the thread's stack, seen from a handler on
 * the alternate stack, may be live. */
static bool frame_live(uintptr_t frame, uintptr_t sp, const ucontext_t *uc)
{
	const stack_t *ss = &uc->uc_stack;
	uintptr_t lo = (uintptr_t)ss->ss_sp, hi = lo + ss->ss_size;
	bool alt = !(ss->ss_flags & SS_DISABLE) && ss->ss_size > 0;
	bool f_alt = alt && frame >= lo && frame < hi;
	bool sp_alt = alt && sp >= lo && sp < hi;

	if (sp == 0)
		return true; /* unknown: the seal alone decides */
	if (f_alt != sp_alt)
		return !f_alt;
	return outer_or_same(frame, sp);
}

/* The innermost guard of this thread that is still live, or NULL.  Dead
 * records (left by a siglongjmp past their frame) are skipped: those whose
 * frame was reused fail their seal, and those whose frame was popped lie
 * beyond the interrupted stack pointer. */
static MMDS__NO_ASAN struct mmds__guard *find_live(const ucontext_t *uc)
{
	struct mmds__guard_stack *s = &mmds__guards;
	struct mmds__guard *cur[MMDS__GUARD_SLOTS];
	uintptr_t sp = ctx_sp(uc);
	unsigned left = 0;

	for (unsigned k = 0; k < MMDS__GUARD_SLOTS; k++) {
		cur[k] = s->slot[k];
		left += cur[k] != NULL;
	}
	for (unsigned long i = s->n; i-- > 0 && left > 0;) {
		unsigned k = (unsigned)(i % MMDS__GUARD_SLOTS);
		struct mmds__guard *g = cur[k];

		if (g == NULL)
			continue;
		if (!mmds__guard_intact(g, i)) {
			cur[k] = NULL; /* the guards below it in this slot are lost */
			left--;
			continue;
		}
		if (frame_live(g->frame, sp, uc))
			return g;
		cur[k] = g->saved;
		left -= cur[k] == NULL;
	}
	return NULL;
}

/* Pop g and every guard above it (their frames are being abandoned). */
static MMDS__NO_ASAN void pop_to(struct mmds__guard *g)
{
	struct mmds__guard_stack *s = &mmds__guards;
	unsigned long n = s->n;

	s->n = g->idx;
	atomic_signal_fence(memory_order_seq_cst);
	for (unsigned long i = n; i-- > g->idx;) {
		unsigned k = (unsigned)(i % MMDS__GUARD_SLOTS);
		struct mmds__guard *r = s->slot[k];

		s->slot[k] = mmds__guard_intact(r, i) ? r->saved : NULL;
	}
	g->seal = 0;
}

/* ---- fix-ups keyed by instruction address -------------------------------
 * The inline accessors of map.h (MMDS_PTR_FIXUP) put an 8-byte NOP before
 * each instruction that may fault: 0f 1f 84 00 6d 6d f1 d, "nopl
 * 0x<d>f16d6d(%rax,%rax,1)".  d is how far past the faulting instruction's
 * start to resume, f1 says the error goes to %rcx.  Nothing else emits
 * this NOP (compilers pad with zero displacements), and it is only looked
 * for when the fault lies in a live map. */

#if defined(__x86_64__) && defined(REG_RIP)
static const unsigned char fixup_sig[7] = { 0x0f, 0x1f, 0x84, 0x00,
					    0x6d, 0x6d, 0xf1 };

/* Whether a marker precedes the faulting instruction; if so, make the
 * interrupted code resume past it with code in %rcx. */
static bool fixup(ucontext_t *uc, int code)
{
	uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	unsigned char mk[8];

	if (ip < 4096 + 8)
		return false;
	if ((ip & 4095) >= 8) {
		/* On the page of the instruction itself: readable. */
		memcpy(mk, (const void *)(ip - 8), 8);
	} else {
		/* The bytes before may lie on an unmapped page: read them
		 * through the kernel, which reports that instead of faulting. */
		struct iovec local = { mk, 8 }, remote = { (void *)(ip - 8), 8 };

		if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != 8)
			return false;
	}
	if (memcmp(mk, fixup_sig, sizeof(fixup_sig)) != 0 || mk[7] == 0)
		return false;
	uc->uc_mcontext.gregs[REG_RCX] = (greg_t)code;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(ip + mk[7]);
	return true;
}
#else
static bool fixup(ucontext_t *uc, int code)
{
	(void)uc;
	(void)code;
	return false;
}
#endif

/* ---- the handler ------------------------------------------------------- */

/* The handlers mmds chains to, oldest first: [0] is what was installed
 * before mmds's first install; each later mmds_guard_install() that finds
 * another handler in front of mmds's appends it.  Entry i is written before
 * count covers it (release), and never changed while covered, except that a
 * one-shot (SA_RESETHAND) entry turns into SIG_DFL when it runs. */
#define PREV_MAX 8

struct prev_list {
	struct sigaction sa[PREV_MAX];
	_Atomic int count;
};

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool installed;
static struct prev_list prev_bus, prev_segv;

/*
 * The chain in progress on this thread.  A program handler installed over
 * mmds's usually chains to the handler it replaced, mmds's: then mmds's
 * handler is entered again, by a plain call from inside the chain.  That
 * call is told from a new signal by its frame (deeper than the chaining
 * one) and its arguments (the same siginfo or context, or none), and goes
 * on to the handler mmds recorded before that one, down to the default
 * action: never round again.  A chain left by siglongjmp leaves a stale
 * record, which a later signal takes for a new one since its handler
 * frame is not below the record's.
 */
struct chain_rec {
	uintptr_t frame;      /* chain()'s frame; 0 when no chain runs */
	const siginfo_t *si;
	const void *uctx;
	int level;            /* index in the prev_list being called */
	int depth;            /* new chains nested inside one another */
};

#define CHAIN_DEPTH_MAX 32

static _Thread_local struct chain_rec chaining
	__attribute__((tls_model("initial-exec")));

static void on_fault(int sig, siginfo_t *si, void *uctx);

static bool is_ours(const struct sigaction *sa)
{
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fault;
}

static bool same_handler(const struct sigaction *a, const struct sigaction *b)
{
	if ((a->sa_flags & SA_SIGINFO) != (b->sa_flags & SA_SIGINFO))
		return false;
	if (a->sa_flags & SA_SIGINFO)
		return a->sa_sigaction == b->sa_sigaction;
	return a->sa_handler == b->sa_handler;
}

/* Call an earlier handler as the kernel would have: with its mask
 * blocked, and reset to the default first if it asked for SA_RESETHAND. */
static void call_prev(struct sigaction *prev, int sig, siginfo_t *si,
		      void *uctx)
{
	struct sigaction p = *prev;
	sigset_t block = p.sa_mask, old;

	if (p.sa_flags & SA_RESETHAND) {
		prev->sa_flags &= ~SA_SIGINFO;
		prev->sa_handler = SIG_DFL;
	}
	if (!(p.sa_flags & SA_NODEFER))
		sigaddset(&block, sig);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (p.sa_flags & SA_SIGINFO)
		p.sa_sigaction(sig, si, uctx);
	else
		p.sa_handler(sig);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The default action.  A fault cannot be ignored: the kernel kills a
 * process that ignores or blocks a synchronous SIGBUS/SIGSEGV.  Returning
 * re-runs the faulting instruction, which now meets the default action; a
 * sent signal is raised again (it stays pending while blocked). */
static void default_action(int sig, bool sent)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	if (sent)
		raise(sig);
}

/* Hand the signal on as if mmds had never installed a handler. */
static void chain(int sig, siginfo_t *si, void *uctx)
{
	struct prev_list *pl = sig == SIGBUS ? &prev_bus : &prev_segv;
	/* By kill(), sigqueue(), tgkill(), or a direct call without siginfo. */
	bool sent = si == NULL || si->si_code <= 0;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	struct chain_rec outer = chaining;
	bool inside = outer.frame != 0 && outer.frame != here &&
		      outer_or_same(outer.frame, here);
	struct sigaction *prev;
	int level, depth = 1;

	if (inside && (si == NULL || uctx == NULL || si == outer.si ||
		       uctx == outer.uctx)) {
		/* The handler at outer.level chained back to mmds. */
		level = outer.level - 1;
		depth = outer.depth;
	} else {
		level = atomic_load_explicit(&pl->count,
					     memory_order_acquire) - 1;
		if (inside)
			depth = outer.depth + 1;
	}
	if (level < 0 || depth > CHAIN_DEPTH_MAX) {
		default_action(sig, sent);
		return;
	}
	prev = &pl->sa[level];
	if (!(prev->sa_flags & SA_SIGINFO) &&
	    (prev->sa_handler == SIG_IGN || prev->sa_handler == SIG_DFL)) {
		if (prev->sa_handler == SIG_DFL || !sent)
			default_action(sig, sent);
		return;
	}
	chaining = (struct chain_rec){ .frame = here, .si = si, .uctx = uctx,
				       .level = level, .depth = depth };
	atomic_signal_fence(memory_order_seq_cst);
	call_prev(prev, sig, si, uctx);
	atomic_signal_fence(memory_order_seq_cst);
	chaining = outer;
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
	struct mmds__guard *g;
	int code;

	if (si == NULL || uctx == NULL) {
		chain(sig, si, uctx);
		return;
	}
	code = si->si_code;
	if (code > 0 && code != SI_KERNEL &&
	    !(sig == SIGBUS && code == BUS_MCEERR_AO) &&
	    reg_contains((uintptr_t)si->si_addr)) {
		int err = sig == SIGBUS && code == BUS_MCEERR_AR ? -EIO : -EFAULT;

		/* A marked instruction is the innermost guarded access: it
		 * runs inside any guard that is live. */
		if (fixup(uctx, err))
			return;
		g = find_live(uctx);
		if (g == NULL) {
			chain(sig, si, uctx);
			return;
		}
		g->code = err;
		pop_to(g);
		/* The env was saved without the mask (no system call per
		 * access): restore the interrupted code's mask by hand, since
		 * a wrapper around this handler (a sanitizer's) may have
		 * blocked signals we would otherwise leave blocked. */
		pthread_sigmask(SIG_SETMASK,
				&((ucontext_t *)uctx)->uc_sigmask, NULL);
		siglongjmp(g->env, 1);
	}
	chain(sig, si, uctx);
}

static int install_one(int sig, struct prev_list *pl)
{
	int n = atomic_load_explicit(&pl->count, memory_order_relaxed);
	struct sigaction cur, sa;

	if (sigaction(sig, NULL, &cur) != 0)
		return -errno;
	if (is_ours(&cur))
		return 0; /* never record mmds as its own predecessor */
	/* A handler recorded already, put in front of mmds again: mmds goes
	 * back to that place in the chain. */
	for (int i = n - 1; i >= 0; i--) {
		if (same_handler(&pl->sa[i], &cur)) {
			n = i;
			break;
		}
	}
	if (n >= PREV_MAX)
		return -ENOSPC;
	pl->sa[n] = cur;
	atomic_store_explicit(&pl->count, n + 1, memory_order_release);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	/* NODEFER: the handler leaves by siglongjmp to an env saved without
	 * the signal mask, so the signal must not stay blocked after it. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		return -errno;
	return 0;
}

int mmds_guard_install(void)
{
	int err;

	pthread_mutex_lock(&install_lock);
	err = install_one(SIGBUS, &prev_bus);
	if (err == 0)
		err = install_one(SIGSEGV, &prev_segv);
	if (err == 0)
		atomic_store_explicit(&installed, true, memory_order_release);
	pthread_mutex_unlock(&install_lock);
	return err;
}

int mmds__guard_init(void)
{
	if (atomic_load_explicit(&installed, memory_order_acquire))
		return 0;
	return mmds_guard_install();
}

int mmds__guard_error(const struct mmds__guard *g)
{
	return g->code ? g->code : -EFAULT;
}

int mmds_guard_run(int (*fn)(void *arg), void *arg)
{
	struct mmds__guard g;
	int err, r;

	if (fn == NULL)
		return -EINVAL;
	err = mmds__guard_init();
	if (err)
		return err;
	mmds__guard_push(&g);
	if (sigsetjmp(g.env, 0))
		return mmds__guard_error(&g);
	r = fn(arg);
	mmds__guard_pop(&g);
	return r;
}

/* The slow forms below (other architectures, TSan, unmarked code) are
 * plain callbacks under mmds_guard_run(). */
struct ptr_op {
	void *p;
	int op;
	uint64_t v, *out;
};

static int ptr_op_fn(void *arg)
{
	struct ptr_op *a = arg;
	uint64_t v = a->v;

	switch (a->op) {
	case MMDS_PTR_LOAD64:
		*a->out = atomic_load((_Atomic uint64_t *)a->p);
		break;
	case MMDS_PTR_STORE64:
		atomic_store((_Atomic uint64_t *)a->p, v);
		break;
	case MMDS_PTR_ADD64:
		v = atomic_fetch_add((_Atomic uint64_t *)a->p, v);
		if (a->out)
			*a->out = v;
		break;
	case MMDS_PTR_LOAD32:
		*a->out = atomic_load((_Atomic uint32_t *)a->p);
		break;
	case MMDS_PTR_STORE32:
		atomic_store((_Atomic uint32_t *)a->p, (uint32_t)v);
		break;
	default:
		v = atomic_fetch_add((_Atomic uint32_t *)a->p, (uint32_t)v);
		if (a->out)
			*a->out = v;
		break;
	}
	return 0;
}

int mmds_ptr_access(void *p, int op, uint64_t v, uint64_t *out)
{
	if (p == NULL || op < MMDS_PTR_LOAD64 || op > MMDS_PTR_ADD32 ||
	    (out == NULL && (op == MMDS_PTR_LOAD64 || op == MMDS_PTR_LOAD32)))
		return -EINVAL;
	return mmds_guard_run(ptr_op_fn, &(struct ptr_op){ p, op, v, out });
}

struct copy_op {
	void *dst;
	const void *src;
	size_t n;
};

static int copy_op_fn(void *arg)
{
	struct copy_op *a = arg;

	memcpy(a->dst, a->src, a->n);
	return 0;
}

int mmds_guard_copy(void *dst, const void *src, size_t n)
{
	if (n == 0)
		return 0;
	if (dst == NULL || src == NULL)
		return -EINVAL;
	return mmds_guard_run(copy_op_fn, &(struct copy_op){ dst, src, n });
}
