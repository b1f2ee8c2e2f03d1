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
#include <ucontext.h>

#include <mmds/map.h>

#include "guard.h"

_Thread_local struct mmds__guard *mmds__guard_top
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

/* ---- the handler ------------------------------------------------------- */

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool installed;
/* What was installed before us; written before ours goes live. */
static struct sigaction prev_bus, prev_segv;

static void on_fault(int sig, siginfo_t *si, void *uctx);

static bool is_ours(const struct sigaction *sa)
{
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fault;
}

/* Call the earlier handler as the kernel would have: with its mask
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

/* Hand the signal on as if mmds had never installed a handler. */
static void chain(int sig, siginfo_t *si, void *uctx)
{
	struct sigaction *prev = sig == SIGBUS ? &prev_bus : &prev_segv;
	bool sent = si->si_code <= 0; /* by kill(), sigqueue(), tgkill() */
	struct sigaction dfl;

	if ((prev->sa_flags & SA_SIGINFO) ||
	    (prev->sa_handler != SIG_IGN && prev->sa_handler != SIG_DFL)) {
		call_prev(prev, sig, si, uctx);
		return;
	}
	if (prev->sa_handler == SIG_IGN && sent)
		return;
	/* Default action.  A fault cannot be ignored either: the kernel kills
	 * a process that ignores or blocks a synchronous SIGBUS/SIGSEGV.
	 * Returning re-runs the faulting instruction, which now meets the
	 * default action; a sent signal is raised again. */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	if (sent)
		raise(sig);
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
	struct mmds__guard *g = mmds__guard_top;
	int code = si->si_code;

	if (g && code > 0 && code != SI_KERNEL &&
	    !(sig == SIGBUS && code == BUS_MCEERR_AO) &&
	    reg_contains((uintptr_t)si->si_addr)) {
		g->code = sig == SIGBUS && code == BUS_MCEERR_AR ? -EIO : -EFAULT;
		mmds__guard_top = g->prev;
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

static int install_one(int sig, struct sigaction *prev)
{
	struct sigaction cur, sa;

	if (sigaction(sig, NULL, &cur) != 0)
		return -errno;
	if (is_ours(&cur))
		return 0;
	*prev = cur;
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
