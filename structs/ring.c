/* ring.c - the IPC ring buffer (mmds/ring.h).
 *
 * File layout (docs/FORMAT.md has it byte by byte):
 *   [0, 4096)       the common header (format.h); params: struct ring_params
 *   [4096, 8192)    the control block, struct ring_ctrl
 *   [8192, +cap)    the data area: records at 8-byte aligned positions
 *
 * Positions (head, tail) are 64-bit byte counts that only grow; the byte
 * offset of position p is p & (cap - 1).  A record is an 8-byte header
 * word - low 32 bits: length | state << 30, high 32 bits: the type (or,
 * while only claimed, the claimer's slot index) - followed by the payload,
 * padded to 8 bytes.  A record never wraps: a padding record fills the end.
 * No record is longer than 2^30 bytes: a longer span of padding is several
 * padding records.
 *
 * Roles: each handle that holds a role owns a slot, through one owner word
 * (owner.h): the consumer slot, and the producer slots (one in SPSC mode).
 *
 * SPSC: the producer writes payload and header, then publishes the new
 * tail; the consumer trusts the records below the tail it read.
 * MPSC: a producer states in its slot which span it is about to claim (its
 * intent), wins the span by CAS on the tail, writes a CLAIMED header naming
 * its slot, the payload, then the COMMITTED header (release), and only then
 * drops its intent.  The consumer stops at a header that is still empty or
 * CLAIMED; mmds_ring_repair() pads a span whose claimer can no longer be
 * writing it (docs/ring.md has the argument).  So that an empty header
 * means "not yet written", the consumer zeroes the space it releases before
 * handing it back (release_to records a release in progress, for a consumer
 * that dies in the middle of one).
 *
 * Every public call returns -EFAULT, not SIGBUS, on a truncated file.  The
 * hot calls do it with the marked accesses of map.h where they exist
 * (MMDS_PTR_FIXUP): each access to a shared word is one instruction that a
 * fault resumes with -EFAULT, so they cost nothing until one happens.  The
 * other calls, and every call where map.h has no marked form, run their
 * accesses under one SIGBUS guard (mmds_guard_run).
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mmds/map.h>
#include <mmds/ring.h>

#include "crash.h"
#include "format.h"
#include "futex.h"
#include "owner.h"

#if defined(__linux__) && defined(SYS_membarrier) && defined(__has_include)
#if __has_include(<linux/membarrier.h>)
#include <linux/membarrier.h>
#define RING_HAVE_MEMBARRIER 1
#endif
#endif

/* Version 2: owner words, intents and slot-named claims (version 1 files
 * are refused with -ENOTSUP: a ring is an IPC file, recreate it). */
#define RING_VERSION 2u
#define RING_LINE 128u /* every independently written word gets one */
#define RING_CTRL_OFF 4096u
#define RING_DATA_OFF 8192u
#define RING_MIN_CAP ((uint64_t)256)
#define RING_MAX_CAP ((uint64_t)1 << 40)
#define RING_DEFAULT_CAP ((uint64_t)1 << 20)
#define RING_LEN_MASK 0x3fffffffu
#define RING_MAX_LEN RING_LEN_MASK
/* Longest record: a padding record's length field holds at most
 * 2^30 - 8 (8-aligned), so a record covers at most 2^30 bytes. */
#define RING_MAX_REC ((uint64_t)1 << 30)
#define RING_SPIN 256
#define RING_HEARTBEAT_EVERY 4096u
/* Longest sleep before the heartbeat is refreshed.  The test build of the
 * library (crash points) sleeps for minutes instead, so that a lost wake-up
 * hangs its waiter, which the tests' watchdogs turn into a failure, rather
 * than costing a tenth of a second nobody notices. */
#ifdef MMDS_CRASH_POINTS
#define RING_SLEEP_CHUNK_NS 300000000000LL
#else
#define RING_SLEEP_CHUNK_NS 100000000LL
#endif
/* Sleep slice when the sleeper could not fence its publishers (see
 * sleeper_fence): a wake-up may then be missed, so look again soon. */
#define RING_SLEEP_SHORT_NS 1000000LL

/* Record states, in bits 30-31 of the header's length word. */
enum {
	ST_EMPTY = 0u << 30,     /* not written yet (MPSC) */
	ST_CLAIMED = 1u << 30,   /* claimed, high word = claimer's slot (MPSC) */
	ST_COMMITTED = 2u << 30, /* a message, high word = its type */
	ST_PADDING = 3u << 30    /* skip length bytes after the header */
};
#define ST_MASK (3u << 30)

/* Parameters in the common header (immutable, checksummed). */
struct ring_params {
	uint64_t capacity;
	uint32_t mode;
	uint32_t max_message;
};

/* A role: a producer handle, or the consumer. */
struct ring_slot {
	/* Owner word (owner.h): 0 = free.  Taken and released by
	 * mmds__owner_take/mmds__owner_release only (seq_cst CAS). */
	_Atomic uint64_t owner;
	uint64_t reserved_;         /* 0 */
	_Atomic uint64_t heartbeat; /* CLOCK_MONOTONIC ns; relaxed */
	/* MPSC intent: the span [intent_pos, intent_pos + intent_len) this
	 * slot's owner is claiming or holds claimed; intent_len 0 = none.
	 * Written only by the owner: intent_pos relaxed, then intent_len with
	 * release, before the tail CAS (which orders both); intent_len is
	 * cleared with release after the claim's final header is stored.
	 * Readers load intent_len with acquire, then intent_pos. */
	_Atomic uint64_t intent_pos;
	_Atomic uint64_t intent_len;
	uint8_t pad_[RING_LINE - 40];
};

struct ring_ctrl {
	/* Producer position: bytes claimed.  SPSC: release store by the
	 * producer, acquire load by the consumer.  MPSC: seq_cst CAS. */
	_Atomic uint64_t tail;
	uint8_t pad0_[RING_LINE - 8];
	/* Consumer position: bytes released.  Release store by the consumer,
	 * acquire load by producers.  release_to: a release in progress
	 * (relaxed; only the consumer reads it, at takeover). */
	_Atomic uint64_t head;
	_Atomic uint64_t release_to;
	uint8_t pad1_[RING_LINE - 16];
	/* Futex the consumer sleeps on, and whether it does: cons_waiting is
	 * set and cleared by the consumer slot's owner only, and reset when
	 * the consumer role is taken over.  Both sides fence (seq_cst) between
	 * their store and their load of the other's word. */
	_Atomic uint32_t data_seq;
	_Atomic uint32_t cons_waiting;
	uint8_t pad2_[RING_LINE - 8];
	/* Futex producers sleep on, and which of them do: bit i is set and
	 * cleared by producer slot i's owner (fetch_or/fetch_and), and cleared
	 * when the slot is taken. */
	_Atomic uint32_t space_seq;
	_Atomic uint32_t prod_waiting;
	uint8_t pad3_[RING_LINE - 8];
	struct ring_slot consumer;
	struct ring_slot producers[MMDS_RING_MAX_PRODUCERS];
};

_Static_assert(sizeof(struct ring_params) == 16, "params layout");
_Static_assert(sizeof(struct ring_slot) == RING_LINE, "slot layout");
_Static_assert(offsetof(struct ring_slot, intent_pos) == 24, "slot layout");
_Static_assert(offsetof(struct ring_ctrl, head) == 128, "ctrl layout");
_Static_assert(offsetof(struct ring_ctrl, data_seq) == 256, "ctrl layout");
_Static_assert(offsetof(struct ring_ctrl, space_seq) == 384, "ctrl layout");
_Static_assert(offsetof(struct ring_ctrl, consumer) == 512, "ctrl layout");
_Static_assert(offsetof(struct ring_ctrl, producers) == 640, "ctrl layout");
_Static_assert(sizeof(struct ring_ctrl) <= RING_DATA_OFF - RING_CTRL_OFF,
	       "control block fits its page");
_Static_assert(MMDS_RING_MAX_PRODUCERS <= 32, "one waiting bit per slot");

struct mmds_ring {
	mmds_map *map;
	struct ring_ctrl *c;
	unsigned char *data;
	uint64_t cap, mask;
	uint32_t max_msg;
	unsigned mode, role;
	uint64_t created_ns;
	struct ring_slot *slot; /* our role, or NULL */
	unsigned slot_idx;      /* producer slot index */
	unsigned ops;
	/* producer */
	uint64_t tail;       /* SPSC: the published tail (we are its writer) */
	uint64_t head_cache; /* last head seen */
	int claimed;
	uint64_t claim_pos;  /* header position of the claimed record */
	uint64_t claim_end;  /* position after it */
	uint32_t claim_len;
	/* consumer */
	uint64_t head;       /* released (we are its writer) */
	uint64_t read;       /* peek cursor, head <= read <= tail_cache */
	uint64_t tail_cache;
	int npeeked;
};

/* ---- small helpers ------------------------------------------------------- */

static uint64_t rec_size(uint64_t len)
{
	return 8 + ((len + 7) & ~(uint64_t)7);
}

static _Atomic uint64_t *hdr_at(const mmds_ring *r, uint64_t pos)
{
	return (_Atomic uint64_t *)(void *)(r->data + (pos & r->mask));
}

static uint64_t mk_hdr(uint32_t state, uint64_t len, uint32_t hi)
{
	return (uint64_t)((uint32_t)len | state) | (uint64_t)hi << 32;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static bool slot_alive(const struct ring_slot *s, int64_t stale_ns)
{
	if (!mmds__owner_alive(atomic_load_explicit(&s->owner,
						    memory_order_acquire)))
		return false;
	if (stale_ns > 0) {
		uint64_t hb = atomic_load_explicit(&s->heartbeat,
						   memory_order_relaxed);
		uint64_t now = mmds__mono_ns();

		if (now > hb && now - hb > (uint64_t)stale_ns)
			return false;
	}
	return true;
}

static void beat(mmds_ring *r)
{
	if (r->slot)
		atomic_store_explicit(&r->slot->heartbeat, mmds__mono_ns(),
				      memory_order_relaxed);
}

/* A seq_cst fence.  GCC refuses atomic_thread_fence under ThreadSanitizer,
 * which does not model fences; there a seq_cst RMW (a full barrier on the
 * machines TSan runs on) stands in for it. */
#if defined(__SANITIZE_THREAD__)
#define RING_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RING_TSAN 1
#endif
#endif
#ifdef RING_TSAN
static _Atomic unsigned fence_word;
#define RING_FENCE() \
	((void)atomic_fetch_add_explicit(&fence_word, 0, memory_order_seq_cst))
#else
#define RING_FENCE() atomic_thread_fence(memory_order_seq_cst)
#endif

/*
 * Accesses to the shared words of the hot paths, each returning 0 or the
 * negative errno of a fault.  With MMDS_PTR_FIXUP (x86-64, not TSan) each
 * is one marked instruction of map.h that a fault on a truncated file
 * resumes with -EFAULT (-EIO), and the calls using only these run without
 * mmds_guard_run().  The orderings they give on x86-64 (TSO): a plain mov
 * load is an acquire load and a plain mov store a release store (the
 * hardware neither reorders loads with loads, stores with stores, nor a
 * store before an earlier load); xchg and lock xadd are seq_cst.  So each
 * gives at least the ordering docs/ring.md asks of the access it stands
 * for; the compiler barriers around them keep the compiler to the same
 * order.  Elsewhere they are the C11 atomics with exactly those orderings,
 * and the calls keep their guard (RING_RUN()).
 */
#if defined(MMDS_PTR_FIXUP) && !defined(RING_TSAN)
#define RING_FIXUP 1
#define RING_CC_BARRIER() __asm__ __volatile__("" ::: "memory")

/* Acquire loads (tail, head, record headers): a mov, which is acquire. */
static inline int ld_acq64(const _Atomic uint64_t *p, uint64_t *v)
{
	return mmds_ptr_load64((const void *)p, v);
}

/* Relaxed loads (the waiter flags; the fence before them orders them). */
static inline int ld_rlx32(const _Atomic uint32_t *p, uint32_t *v)
{
	return mmds_ptr_load32((const void *)p, v);
}

/* Release stores (tail, head): a plain mov is release on x86-64; the
 * compiler barrier keeps earlier accesses (payload, header) before it. */
static inline int st_rel64(_Atomic uint64_t *p, uint64_t v)
{
	int err;

	RING_CC_BARRIER();
	err = mmds__x_put64((void *)p, v);
	RING_CC_BARRIER();
	return err;
}

/* Relaxed stores (SPSC headers, release_to, heartbeat): a plain mov; the
 * release store of the tail or head after them orders them for readers. */
static inline int st_rlx64(_Atomic uint64_t *p, uint64_t v)
{
	return mmds__x_put64((void *)p, v);
}

/* Seq_cst increments of the futex words: lock xadd, seq_cst. */
static inline int add_sc32(_Atomic uint32_t *p, uint32_t v)
{
	return mmds_ptr_add32((void *)p, v, NULL);
}

/* Payloads: up to 16 bytes as marked moves, larger ones through
 * mmds_guard_copy() (one guard for the copy only). */
static inline int copy_pl(void *dst, const void *src, size_t n)
{
	return mmds_ptr_copy(dst, src, n);
}

/* Run fn(arg): directly when direct (the call's shared accesses are all
 * of the above, or under a guard of their own), else under the guard.
 * Variadic so that arg may be a compound literal with commas. */
#define RING_RUN(direct, fn, ...) \
	((direct) ? (fn)(__VA_ARGS__) : mmds_guard_run((fn), __VA_ARGS__))
#else
static inline int ld_acq64(const _Atomic uint64_t *p, uint64_t *v)
{
	*v = atomic_load_explicit(p, memory_order_acquire);
	return 0;
}

static inline int ld_rlx32(const _Atomic uint32_t *p, uint32_t *v)
{
	*v = atomic_load_explicit(p, memory_order_relaxed);
	return 0;
}

static inline int st_rel64(_Atomic uint64_t *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_release);
	return 0;
}

static inline int st_rlx64(_Atomic uint64_t *p, uint64_t v)
{
	atomic_store_explicit(p, v, memory_order_relaxed);
	return 0;
}

static inline int add_sc32(_Atomic uint32_t *p, uint32_t v)
{
	atomic_fetch_add_explicit(p, v, memory_order_seq_cst);
	return 0;
}

static inline void copy_msg(void *dst, const void *src, size_t n);

static inline int copy_pl(void *dst, const void *src, size_t n)
{
	copy_msg(dst, src, n);
	return 0;
}

#define RING_RUN(direct, fn, ...) \
	((void)(direct), mmds_guard_run((fn), __VA_ARGS__))
#endif

/* The heartbeat of the hot calls: relaxed, as beat(). */
static int tick(mmds_ring *r)
{
	if ((++r->ops & (RING_HEARTBEAT_EVERY - 1)) == 0 && r->slot)
		return st_rlx64(&r->slot->heartbeat, mmds__mono_ns());
	return 0;
}

/*
 * The sleep/wake protocol is the store-buffering pattern (docs/ring.md,
 * "Sleeping and waking"): a publisher stores, then loads the waiting mark;
 * a sleeper stores the mark, then loads the positions.  Its fences are
 * asymmetric: the sleeper, rare and about to make a system call anyway,
 * pays membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which runs a full
 * barrier on every CPU running a thread of a registered process (and the
 * others pass one at their context switch); a publisher in a registered
 * process then needs only a compiler barrier.  A process that cannot
 * register, or that MMDS_RING_MEMBARRIER=0 in its environment at its first
 * ring open, fences on every publication as before; the sleeper issues the
 * membarrier whenever the kernel has it, so either kind of peer is covered.
 *
 * mb_light: this process is registered, publications skip the fence.
 * Reset in a forked child (until its next open registers again), since a
 * child is not guaranteed to inherit the registration.
 * mb_global: the kernel offers MEMBARRIER_CMD_GLOBAL_EXPEDITED.
 * mb_state: 0 not looked at yet, 1 done.
 */
static _Atomic int mb_light;
static _Atomic int mb_global;
static _Atomic int mb_state;
static pthread_once_t mb_atfork_once = PTHREAD_ONCE_INIT;

static long ring_membarrier(int cmd)
{
#if defined(RING_HAVE_MEMBARRIER)
	return syscall(SYS_membarrier, cmd, 0, 0);
#else
	(void)cmd;
	errno = ENOSYS;
	return -1;
#endif
}

static void mb_child(void)
{
	atomic_store(&mb_light, 0);
	atomic_store(&mb_state, 0);
}

static void mb_register_atfork(void)
{
	pthread_atfork(NULL, NULL, mb_child);
}

/* At every open: decide once per process (again in a forked child). */
static void barrier_init(void)
{
	pthread_once(&mb_atfork_once, mb_register_atfork);
	if (atomic_load(&mb_state))
		return;
#if defined(RING_HAVE_MEMBARRIER)
	{
		long q = ring_membarrier(MEMBARRIER_CMD_QUERY);
		const char *env = getenv("MMDS_RING_MEMBARRIER");
		bool global = q >= 0 && (q & MEMBARRIER_CMD_GLOBAL_EXPEDITED);

		/* a sleeper must cover registered peers, whatever it is */
		atomic_store(&mb_global, global);
#ifndef RING_TSAN
		/* TSan does not model membarrier: publications fence there */
		if (global && !(env && strcmp(env, "0") == 0) &&
		    ring_membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0)
			atomic_store(&mb_light, 1);
#else
		(void)env;
#endif
	}
#endif
	atomic_store(&mb_state, 1);
}

/* The publisher's side: between its store and its load of the mark. */
static inline void publish_fence(void)
{
	if (atomic_load_explicit(&mb_light, memory_order_relaxed))
		atomic_signal_fence(memory_order_seq_cst);
	else
		RING_FENCE();
}

/* The sleeper's side: between its store of the mark and its re-check.
 * false if a light publisher may not be covered (the membarrier call
 * failed): the caller then sleeps in short slices. */
static bool sleeper_fence(void)
{
	RING_FENCE();
	if (!atomic_load_explicit(&mb_global, memory_order_relaxed))
		return true; /* no peer can have registered */
#if defined(RING_HAVE_MEMBARRIER)
	return ring_membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0;
#else
	return false;
#endif
}

/* After publishing (a header or the tail): the store-buffering pattern
 * with the consumer's wait (store cons_waiting, fence, re-check). */
static int wake_consumer(mmds_ring *r)
{
	uint32_t w;
	int err;

	publish_fence();
	if ((err = ld_rlx32(&r->c->cons_waiting, &w)) != 0)
		return err;
	if (w) {
		if ((err = add_sc32(&r->c->data_seq, 1)) != 0)
			return err;
		mmds__futex_wake(&r->c->data_seq); /* EFAULT, not SIGBUS */
	}
	return 0;
}

/* After storing the head: the same pattern with the producers' waits. */
static int wake_producers(mmds_ring *r)
{
	uint32_t w;
	int err;

	publish_fence();
	if ((err = ld_rlx32(&r->c->prod_waiting, &w)) != 0)
		return err;
	if (w) {
		if ((err = add_sc32(&r->c->space_seq, 1)) != 0)
			return err;
		mmds__futex_wake(&r->c->space_seq);
	}
	return 0;
}

/* memcpy for payloads: the small ones, the common case of an IPC ring,
 * become a few moves instead of a call into the C library. */
static inline void copy_msg(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (n >= 8 && n <= 16) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n < 8) {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	} else {
		memcpy(d, s, n);
	}
}

/* Zero [from, to) of the data area (positions, to - from <= cap). */
static void zero_range(mmds_ring *r, uint64_t from, uint64_t to)
{
	while (from < to) {
		uint64_t off = from & r->mask;
		uint64_t n = to - from;

		if (n > r->cap - off)
			n = r->cap - off;
		memset(r->data + off, 0, n);
		from += n;
	}
}

/* The next padding record of the span [from, to): it ends at to, at the
 * end of the data area, or after RING_MAX_REC bytes, whichever is first. */
static uint64_t pad_piece(const mmds_ring *r, uint64_t from, uint64_t to)
{
	uint64_t n = to - from, room = r->cap - (from & r->mask);

	if (n > room)
		n = room;
	return n > RING_MAX_REC ? RING_MAX_REC : n;
}

/* Write padding headers over [from, to) except the first record's; the
 * caller stores (or CASes) the first header last, returned in *first. */
static void pad_rest(mmds_ring *r, uint64_t from, uint64_t to,
		     uint64_t *first)
{
	uint64_t n = pad_piece(r, from, to);

	*first = mk_hdr(ST_PADDING, n - 8, 0);
	for (uint64_t p = from + n; p < to; p += n) {
		n = pad_piece(r, p, to);
		atomic_store_explicit(hdr_at(r, p), mk_hdr(ST_PADDING, n - 8, 0),
				      memory_order_release);
	}
}

/* ---- open / close -------------------------------------------------------- */

static int check_params(const struct ring_params *p)
{
	uint64_t maxm;

	if (p->capacity < RING_MIN_CAP || p->capacity > RING_MAX_CAP ||
	    (p->capacity & (p->capacity - 1)) != 0)
		return -EINVAL;
	if (p->mode != MMDS_RING_SPSC && p->mode != MMDS_RING_MPSC)
		return -EINVAL;
	maxm = p->capacity / 2 - 8;
	if (maxm > RING_MAX_LEN)
		maxm = RING_MAX_LEN;
	if (p->max_message > maxm)
		return -EINVAL;
	return 0;
}

static int params_from_opts(const mmds_ring_opts *o, struct ring_params *p)
{
	memset(p, 0, sizeof(*p));
	p->capacity = o->capacity ? o->capacity : RING_DEFAULT_CAP;
	p->mode = o->mode ? o->mode : MMDS_RING_SPSC;
	if (o->max_message) {
		p->max_message = o->max_message;
	} else if (p->capacity >= RING_MIN_CAP && p->capacity <= RING_MAX_CAP) {
		uint64_t m = p->capacity / 2 - 8;

		p->max_message = (uint32_t)(m > RING_MAX_LEN ? RING_MAX_LEN : m);
	}
	return check_params(p);
}

static int init_file(mmds_map *m, const struct ring_params *p)
{
	struct mmds__fmt_header h;
	int rc = mmds__fmt_init(&h, MMDS__MAGIC_RING, RING_VERSION, 0, p,
				sizeof(*p));

	if (rc < 0)
		return rc;
	/* The control block and data are zeros: a fresh file is. */
	return mmds_map_write(m, 0, &h, sizeof(h));
}

/* Whether slot s holds no intent the consumer may still need: none, a
 * span entirely below the head, or one no producer can have written (a
 * producer's intent starts at a tail it read, so never beyond the tail,
 * aligned, and spans at most the capacity): a hostile or corrupt intent
 * must not keep a dead producer's slot from being reused for ever. */
static bool intent_passed(const struct ring_ctrl *c, uint64_t cap,
			  const struct ring_slot *s)
{
	uint64_t len = atomic_load_explicit(&s->intent_len, memory_order_acquire);
	uint64_t pos = atomic_load_explicit(&s->intent_pos, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&c->head, memory_order_acquire);
	uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);

	if (len == 0 || (pos & 7) != 0 || len > cap)
		return true;
	if (pos - head <= tail - head)
		return false; /* from the head to the tail: may still be claimed */
	if (head - pos <= ((uint64_t)1 << 62))
		return head - pos >= len; /* before the head: passed if all of it */
	return true; /* beyond the tail */
}

/*
 * Own slot s: by mmds__owner_take (free, or its owner is dead), or with
 * force from a live owner too.  MMDS__OWNER_FREE, MMDS__OWNER_TAKEN, or
 * -EBUSY.  Exactly one process wins one old owner word.
 */
static int take_slot(struct ring_slot *s, bool force)
{
	uint64_t me = mmds__owner_self(), cur;
	int rc = -EBUSY;

	for (int i = 0; i < 64; i++) {
		rc = mmds__owner_take(&s->owner, NULL);
		if (rc >= 0 || !force)
			return rc;
		cur = atomic_load(&s->owner);
		if (cur == me)
			return MMDS__OWNER_TAKEN; /* another handle of ours */
		if (cur != 0 && atomic_compare_exchange_strong(&s->owner, &cur, me))
			return MMDS__OWNER_TAKEN;
	}
	return rc;
}

/* A slot just taken: drop what its previous owner left (an intent is only
 * ever dropped once the consumer is past it; a waiting mark). */
static void reset_slot(mmds_ring *r, struct ring_slot *s)
{
	atomic_store_explicit(&s->intent_len, 0, memory_order_release);
	atomic_store_explicit(&s->intent_pos, 0, memory_order_relaxed);
	atomic_store_explicit(&s->heartbeat, mmds__mono_ns(),
			      memory_order_relaxed);
	if (r->role == MMDS_RING_CONSUMER)
		atomic_store(&r->c->cons_waiting, 0);
	else
		atomic_fetch_and(&r->c->prod_waiting, ~(1u << r->slot_idx));
	r->slot = s;
}

static int register_role(mmds_ring *r, bool force)
{
	struct ring_ctrl *c = r->c;
	int rc;

	if (r->role == MMDS_RING_CONSUMER) {
		rc = take_slot(&c->consumer, force);
		if (rc < 0)
			return rc;
		if (rc == MMDS__OWNER_TAKEN)
			MMDS_CRASH("ring.takeover.consumer");
		reset_slot(r, &c->consumer);
		return 0;
	}
	if (r->mode == MMDS_RING_SPSC) {
		rc = take_slot(&c->producers[0], force);
		if (rc < 0)
			return rc;
		if (rc == MMDS__OWNER_TAKEN)
			MMDS_CRASH("ring.takeover.producer");
		r->slot_idx = 0;
		reset_slot(r, &c->producers[0]);
		return 0;
	}
	/* MPSC: a free slot, or a dead producer's whose intent the consumer
	 * is past (until then repair may still need it) */
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++) {
		struct ring_slot *s = &c->producers[i];
		uint64_t w = atomic_load(&s->owner);

		if (w != 0 && mmds__owner_alive(w))
			continue;
		if (!intent_passed(c, r->cap, s))
			continue;
		rc = take_slot(s, false);
		if (rc < 0)
			continue;
		if (rc == MMDS__OWNER_TAKEN)
			MMDS_CRASH("ring.takeover.producer");
		r->slot_idx = i;
		reset_slot(r, s);
		return 0;
	}
	return -EBUSY;
}

/*
 * A consistent snapshot of both positions while others move them: a head
 * that did not change while the tail was read.  0, or -EBADMSG if they are
 * impossible (misaligned, or the tail not within capacity of the head).
 */
static int load_positions(const struct ring_ctrl *c, uint64_t cap,
			  uint64_t *head, uint64_t *tail)
{
	uint64_t h = 0, t = 0;

	for (int i = 0; i < 1000; i++) {
		h = atomic_load_explicit(&c->head, memory_order_acquire);
		t = atomic_load_explicit(&c->tail, memory_order_acquire);
		if (atomic_load_explicit(&c->head, memory_order_acquire) == h)
			break;
	}
	*head = h;
	*tail = t;
	return (h | t) & 7 || t - h > cap ? -EBADMSG : 0;
}

/* Validate the mapped file and set r up (under the guard). */
static int attach(mmds_ring *r, const mmds_ring_opts *o)
{
	struct mmds__fmt_header h;
	struct ring_params p;
	uint64_t size = mmds_map_size(r->map), head, tail, rel;
	int rc;

	rc = mmds__fmt_check(mmds_map_data(r->map), size, MMDS__MAGIC_RING,
			     RING_VERSION, &h);
	if (rc < 0)
		return rc;
	if (h.version != RING_VERSION)
		return -ENOTSUP; /* an older layout: recreate the ring */
	if (h.params_size < sizeof(p))
		return -EBADMSG;
	memcpy(&p, h.params, sizeof(p));
	if (check_params(&p) < 0)
		return -EBADMSG;
	if (size < RING_DATA_OFF + p.capacity)
		return -EBADMSG;
	r->cap = p.capacity;
	r->mask = p.capacity - 1;
	r->mode = p.mode;
	r->max_msg = p.max_message;
	r->created_ns = h.created_ns;
	r->c = (struct ring_ctrl *)(void *)((char *)mmds_map_data(r->map) +
					    RING_CTRL_OFF);
	r->data = (unsigned char *)mmds_map_data(r->map) + RING_DATA_OFF;

	if ((rc = load_positions(r->c, r->cap, &head, &tail)) < 0)
		return rc;
	if (r->role == MMDS_RING_OBSERVER)
		return 0;
	rc = register_role(r, (o->flags & MMDS_RING_TAKEOVER) != 0);
	if (rc < 0)
		return rc;
	if (r->role == MMDS_RING_CONSUMER) {
		/* Finish a release a previous consumer died in. */
		rel = atomic_load(&r->c->release_to);
		if (rel != head) {
			if (rel & 7 || rel - head > tail - head)
				return -EBADMSG;
			if (r->mode == MMDS_RING_MPSC)
				zero_range(r, head, rel);
			MMDS_CRASH("ring.takeover.consumer.after_zero");
			atomic_store_explicit(&r->c->head, rel,
					      memory_order_release);
			head = rel;
		}
		r->head = r->read = head;
		r->tail_cache = head;
	} else {
		r->tail = tail;
		r->head_cache = head;
	}
	return 0;
}

struct attach_call {
	mmds_ring *r;
	const mmds_ring_opts *o;
};

static int attach_cb(void *arg)
{
	struct attach_call *a = arg;

	return attach(a->r, a->o);
}

static int check_opts(const mmds_ring_opts *o)
{
	if (o == NULL || o->role < MMDS_RING_PRODUCER ||
	    o->role > MMDS_RING_OBSERVER)
		return -EINVAL;
	if (o->flags & ~(unsigned)(MMDS_RING_CREATE | MMDS_RING_EXCL |
				   MMDS_RING_TAKEOVER))
		return -EINVAL;
	if ((o->flags & MMDS_RING_EXCL) && !(o->flags & MMDS_RING_CREATE))
		return -EINVAL;
	if (o->role == MMDS_RING_OBSERVER && (o->flags & MMDS_RING_CREATE))
		return -EINVAL;
	return 0;
}

static int finish_open(mmds_ring **out, mmds_ring *r, mmds_map *m,
		       const mmds_ring_opts *o)
{
	int rc;

	r->map = m;
	r->role = o->role;
	if (r->role != MMDS_RING_OBSERVER)
		barrier_init(); /* before this handle's first publication */
	rc = mmds_guard_run(attach_cb, &(struct attach_call){ r, o });
	if (rc < 0) {
		mmds_ring_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

static unsigned map_access(const mmds_ring_opts *o)
{
	return o->role == MMDS_RING_OBSERVER ? MMDS_READ : MMDS_RDWR;
}

/* Create the ring under a temporary name and link it into place, so no
 * opener ever sees a half-initialised file. */
static int create_file(mmds_map **m, const char *path,
		       const mmds_ring_opts *o, const struct ring_params *p)
{
	static _Atomic unsigned counter;
	size_t n = strlen(path) + 64;
	char *tmp = malloc(n);
	int rc;

	if (tmp == NULL)
		return -ENOMEM;
	snprintf(tmp, n, "%s.tmp.%ld.%u", path, (long)getpid(),
		 atomic_fetch_add(&counter, 1));
	rc = mmds_map_open(m, tmp, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL | MMDS_MAP_NOFOLLOW,
		.mode = o->file_mode ? o->file_mode : 0600,
		.size = RING_DATA_OFF + p->capacity });
	if (rc == 0) {
		rc = init_file(*m, p);
		if (rc == 0 && link(tmp, path) != 0)
			rc = -errno;
		unlink(tmp);
		if (rc < 0) {
			mmds_map_close(*m);
			*m = NULL;
		}
	}
	free(tmp);
	return rc;
}

int mmds_ring_open(mmds_ring **out, const char *path, const mmds_ring_opts *o)
{
	struct ring_params p;
	mmds_ring *r;
	mmds_map *m = NULL;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (path == NULL || (rc = check_opts(o)) < 0)
		return -EINVAL;
	if (o->flags & MMDS_RING_CREATE) {
		rc = params_from_opts(o, &p);
		if (rc < 0)
			return rc;
	}
	for (int tries = 0;; tries++) {
		rc = -ENOENT;
		if (!(o->flags & MMDS_RING_EXCL))
			rc = mmds_map_open(&m, path, &(mmds_map_opts){
				.access = map_access(o) });
		if (rc != -ENOENT || !(o->flags & MMDS_RING_CREATE))
			break;
		rc = create_file(&m, path, o, &p);
		if (rc != -EEXIST || (o->flags & MMDS_RING_EXCL) || tries > 3)
			break;
	}
	if (rc < 0)
		return rc;
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		mmds_map_close(m);
		return -ENOMEM;
	}
	return finish_open(out, r, m, o);
}

int mmds_ring_open_fd(mmds_ring **out, int fd, const mmds_ring_opts *o)
{
	struct ring_params p;
	struct stat sb;
	mmds_ring *r;
	mmds_map *m = NULL;
	bool create = false;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if ((rc = check_opts(o)) < 0)
		return rc;
	if (fstat(fd, &sb) != 0)
		return -errno;
	if (sb.st_size == 0 && (o->flags & MMDS_RING_CREATE)) {
		rc = params_from_opts(o, &p);
		if (rc < 0)
			return rc;
		create = true;
	} else if (o->flags & MMDS_RING_EXCL) {
		return -EEXIST;
	}
	rc = mmds_map_open_fd(&m, fd, &(mmds_map_opts){
		.access = map_access(o),
		.size = create ? RING_DATA_OFF + p.capacity : 0 });
	if (rc < 0)
		return rc;
	if (create && (rc = init_file(m, &p)) < 0) {
		mmds_map_close(m);
		return rc;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		mmds_map_close(m);
		return -ENOMEM;
	}
	return finish_open(out, r, m, o);
}

int mmds_ring_open_anon(mmds_ring **out, const mmds_ring_opts *o)
{
	struct ring_params p;
	mmds_ring *r;
	mmds_map *m = NULL;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if ((rc = check_opts(o)) < 0 || o->role == MMDS_RING_OBSERVER)
		return -EINVAL;
	if ((rc = params_from_opts(o, &p)) < 0)
		return rc;
	rc = mmds_map_open_anon(&m, &(mmds_map_opts){
		.size = RING_DATA_OFF + p.capacity });
	if (rc < 0)
		return rc;
	if ((rc = init_file(m, &p)) < 0) {
		mmds_map_close(m);
		return rc;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		mmds_map_close(m);
		return -ENOMEM;
	}
	return finish_open(out, r, m, o);
}

static int abort_claim(mmds_ring *r);

static int close_cb(void *arg)
{
	mmds_ring *r = arg;

	if (r->claimed)
		(void)abort_claim(r); /* a fault: unmapped anyway */
	if (r->slot) {
		atomic_store_explicit(&r->slot->intent_len, 0,
				      memory_order_release);
		mmds__owner_release(&r->slot->owner);
	}
	return 0;
}

int mmds_ring_close(mmds_ring *r)
{
	int rc;

	if (r == NULL)
		return 0;
	if (r->c != NULL)
		mmds_guard_run(close_cb, r); /* a truncated file: unmap anyway */
	rc = mmds_map_close(r->map);
	free(r);
	return rc;
}

int mmds_ring_fd(const mmds_ring *r)
{
	return r ? mmds_map_fd(r->map) : -1;
}

size_t mmds_ring_max_message(const mmds_ring *r)
{
	return r ? r->max_msg : 0;
}

/* ---- producer ------------------------------------------------------------ */

/* Room for need more bytes at tail t?  0, -EAGAIN, -EBADMSG or -EFAULT. */
static int room_for(mmds_ring *r, uint64_t t, uint64_t need)
{
	uint64_t h;
	int err;

	if (t - r->head_cache <= r->cap && t + need - r->head_cache <= r->cap)
		return 0;
	if ((err = ld_acq64(&r->c->head, &h)) != 0)
		return err;
	r->head_cache = h; /* even if bad: it is checked again next time */
	if (h & 7 || t - h > r->cap)
		return -EBADMSG;
	return t + need - h <= r->cap ? 0 : -EAGAIN;
}

/* Reserve a record of len bytes: on success r->claim_pos/claim_end are
 * set, padding is written, and (MPSC) the header says CLAIMED by our slot
 * and our intent covers the span until the final header is stored. */
static int reserve(mmds_ring *r, uint64_t len)
{
	uint64_t size, t, off, pad, need;
	int rc;

	if (r->role != MMDS_RING_PRODUCER || r->claimed)
		return -EINVAL;
	if (len > r->max_msg)
		return -EMSGSIZE;
	size = rec_size(len);
	if (r->mode == MMDS_RING_SPSC) {
		t = r->tail;
		off = t & r->mask;
		pad = r->cap - off < size ? r->cap - off : 0;
		need = pad + size;
		if ((rc = room_for(r, t, need)) < 0)
			return rc;
		if (pad && (rc = st_rlx64(hdr_at(r, t),
					  mk_hdr(ST_PADDING, pad - 8, 0))) != 0)
			return rc;
	} else {
		/* only under mmds_guard_run() (RING_RUN): a CAS has no
		 * marked form */
		struct ring_slot *s = r->slot;
		int bad = 0;

		t = atomic_load_explicit(&r->c->tail, memory_order_acquire);
		for (;;) {
			if (t & 7) {
				rc = -EBADMSG;
				goto fail;
			}
			off = t & r->mask;
			pad = r->cap - off < size ? r->cap - off : 0;
			need = pad + size;
			rc = room_for(r, t, need);
			if (rc == -EBADMSG && ++bad < 64) {
				/* head and tail both moved between our two
				 * loads: read them again */
				t = atomic_load_explicit(&r->c->tail,
							 memory_order_acquire);
				continue;
			}
			if (rc < 0)
				goto fail;
			/* the intent: ordered before the CAS by its release */
			atomic_store_explicit(&s->intent_pos, t,
					      memory_order_relaxed);
			atomic_store_explicit(&s->intent_len, need,
					      memory_order_release);
			MMDS_CRASH("ring.claim.before_cas");
			if (atomic_compare_exchange_weak_explicit(
				    &r->c->tail, &t, t + need,
				    memory_order_seq_cst, memory_order_acquire))
				break;
		}
		MMDS_CRASH("ring.claim.after_cas");
		if (pad)
			atomic_store_explicit(hdr_at(r, t),
					      mk_hdr(ST_PADDING, pad - 8, 0),
					      memory_order_release);
		atomic_store_explicit(hdr_at(r, t + pad),
				      mk_hdr(ST_CLAIMED, len, r->slot_idx),
				      memory_order_release);
		MMDS_CRASH("ring.claim.after_header");
	}
	r->claimed = 1;
	r->claim_pos = t + pad;
	r->claim_end = t + need;
	r->claim_len = (uint32_t)len;
	return 0;
fail:
	atomic_store_explicit(&r->slot->intent_len, 0, memory_order_release);
	return rc;
}

/* Publish the tail an SPSC producer has reached, and wake the consumer if
 * it sleeps (one check covers every record published before it). */
static int publish(mmds_ring *r)
{
	int err;

	if (r->mode == MMDS_RING_SPSC &&
	    (err = st_rel64(&r->c->tail, r->tail)) != 0)
		return err;
	return wake_consumer(r);
}

/* Finish the claimed record as a message of this type.  MPSC: it is
 * published at once.  SPSC: the next tail store publishes it, so with
 * now false the caller calls publish() before it returns. */
static int commit_claim(mmds_ring *r, uint32_t type, bool now)
{
	uint64_t h = mk_hdr(ST_COMMITTED, r->claim_len, type);
	int err;

	r->claimed = 0;
	if (r->mode == MMDS_RING_SPSC) {
		if ((err = st_rlx64(hdr_at(r, r->claim_pos), h)) != 0)
			return err;
		MMDS_CRASH("ring.commit.spsc.before_tail");
		r->tail = r->claim_end;
	} else {
		MMDS_CRASH("ring.commit.before");
		atomic_store_explicit(hdr_at(r, r->claim_pos), h,
				      memory_order_release);
		MMDS_CRASH("ring.commit.after");
		atomic_store_explicit(&r->slot->intent_len, 0,
				      memory_order_release);
	}
	if (now && (err = publish(r)) != 0)
		return err;
	return tick(r);
}

/* Drop the claim: in MPSC mode its span becomes padding (several records
 * if it is longer than one may be), the first header stored last. */
static int abort_claim(mmds_ring *r)
{
	uint64_t first;
	int err;

	r->claimed = 0;
	if (r->mode == MMDS_RING_SPSC)
		return 0; /* nothing was published */
	pad_rest(r, r->claim_pos, r->claim_end, &first);
	MMDS_CRASH("ring.abort.before_header");
	atomic_store_explicit(hdr_at(r, r->claim_pos), first,
			      memory_order_release);
	MMDS_CRASH("ring.abort.after_header");
	atomic_store_explicit(&r->slot->intent_len, 0, memory_order_release);
	if ((err = wake_consumer(r)) != 0)
		return err;
	return tick(r);
}

static void *payload(mmds_ring *r)
{
	return r->data + (r->claim_pos & r->mask) + 8;
}

struct prod_call {
	mmds_ring *r;
	uint32_t type;
	const void *buf;
	size_t len;
	const struct iovec *iov;
	int iovcnt;
	void **data;
};

static int claim_cb(void *arg)
{
	struct prod_call *a = arg;
	int rc = reserve(a->r, a->len);

	if (rc == 0)
		*a->data = payload(a->r);
	return rc;
}

/* An SPSC claim that fits before the end of the data area in the room
 * last seen free touches no shared memory: it needs no guard. */
static bool claim_cached(mmds_ring *r, size_t len, void **data)
{
	uint64_t t = r->tail, size, off = t & r->mask;

	if (r->mode != MMDS_RING_SPSC || r->role != MMDS_RING_PRODUCER ||
	    r->claimed || len > r->max_msg)
		return false;
	size = rec_size(len);
	if (r->cap - off < size || t - r->head_cache > r->cap ||
	    t + size - r->head_cache > r->cap)
		return false;
	r->claimed = 1;
	r->claim_pos = t;
	r->claim_end = t + size;
	r->claim_len = (uint32_t)len;
	*data = r->data + off + 8;
	return true;
}

int mmds_ring_claim(mmds_ring *r, size_t len, void **data)
{
	if (r == NULL || data == NULL)
		return -EINVAL;
	if (claim_cached(r, len, data))
		return 0;
	return RING_RUN(r->mode == MMDS_RING_SPSC, claim_cb,
			&(struct prod_call){ .r = r, .len = len, .data = data });
}

static int commit_cb(void *arg)
{
	struct prod_call *a = arg;

	return commit_claim(a->r, a->type, true);
}

int mmds_ring_commit(mmds_ring *r, uint32_t type)
{
	if (r == NULL || !r->claimed)
		return -EINVAL;
	return RING_RUN(r->mode == MMDS_RING_SPSC, commit_cb,
			&(struct prod_call){ .r = r, .type = type });
}

static int abort_cb(void *arg)
{
	return abort_claim(arg);
}

int mmds_ring_abort(mmds_ring *r)
{
	if (r == NULL || !r->claimed)
		return -EINVAL;
	/* SPSC: nothing shared is touched */
	return RING_RUN(r->mode == MMDS_RING_SPSC, abort_cb, r);
}

static int push_cb(void *arg)
{
	struct prod_call *a = arg;
	mmds_ring *r = a->r;
	int rc = reserve(r, a->len);

	if (rc < 0)
		return rc;
	if ((rc = copy_pl(payload(r), a->buf, a->len)) != 0)
		return rc;
	return commit_claim(r, a->type, true);
}

int mmds_ring_push(mmds_ring *r, uint32_t type, const void *buf, size_t len)
{
	int rc;

	if (r == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	rc = RING_RUN(r->mode == MMDS_RING_SPSC, push_cb,
		      &(struct prod_call){
			      .r = r, .type = type, .buf = buf, .len = len });
	if (rc == -EFAULT || rc == -EIO)
		r->claimed = 0; /* the ring is gone under us: forget the claim */
	return rc;
}

static int pushv_cb(void *arg)
{
	struct prod_call *a = arg;
	mmds_ring *r = a->r;
	unsigned char *p;
	int rc = reserve(r, a->len);

	if (rc < 0)
		return rc;
	p = payload(r);
	for (int i = 0; i < a->iovcnt; i++) {
		if (a->iov[i].iov_len)
			memcpy(p, a->iov[i].iov_base, a->iov[i].iov_len);
		p += a->iov[i].iov_len;
	}
	return commit_claim(r, a->type, true);
}

int mmds_ring_pushv(mmds_ring *r, uint32_t type, const struct iovec *iov,
		    int iovcnt)
{
	uint64_t total = 0;
	int rc;

	if (r == NULL || iovcnt < 0 || (iov == NULL && iovcnt > 0))
		return -EINVAL;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_base == NULL && iov[i].iov_len > 0)
			return -EINVAL;
		total += iov[i].iov_len;
		if (total > r->max_msg)
			return -EMSGSIZE;
	}
	rc = mmds_guard_run(pushv_cb, &(struct prod_call){
		.r = r, .type = type, .len = total, .iov = iov,
		.iovcnt = iovcnt });
	if (rc == -EFAULT || rc == -EIO)
		r->claimed = 0;
	return rc;
}

struct batch_call {
	mmds_ring *r;
	const mmds_ring_msg *msgs;
	mmds_ring_msg *out;
	size_t n;
	ssize_t ret;
};

static int push_batch_cb(void *arg)
{
	struct batch_call *a = arg;
	mmds_ring *r = a->r;
	int rc = 0;

	a->ret = 0;
	for (size_t i = 0; i < a->n; i++) {
		const mmds_ring_msg *m = &a->msgs[i];

		if (m->data == NULL && m->len > 0) {
			rc = -EINVAL;
			break;
		}
		/* under the guard: a plain copy of any size */
		if ((rc = reserve(r, m->len)) < 0 ||
		    (copy_msg(payload(r), m->data, m->len), 0) ||
		    (rc = commit_claim(r, m->type, false)) != 0)
			break;
		a->ret++;
	}
	if (rc == -EFAULT || rc == -EIO)
		return rc; /* the ring is gone: nothing can be published */
	if (a->ret > 0 && (rc = publish(r)) != 0)
		return rc;
	return a->ret > 0 ? 0 : rc;
}

ssize_t mmds_ring_push_batch(mmds_ring *r, const mmds_ring_msg *msgs,
			     size_t n)
{
	struct batch_call a = { .r = r, .msgs = msgs, .n = n };
	int rc;

	if (r == NULL || (msgs == NULL && n > 0))
		return -EINVAL;
	/* One guard for the batch, amortised over its messages: payloads of
	 * more than 16 bytes would otherwise take one each (mmds_ptr_copy). */
	rc = mmds_guard_run(push_batch_cb, &a);
	if (rc == -EFAULT || rc == -EIO)
		r->claimed = 0;
	return rc < 0 ? rc : a.ret;
}

/* ---- consumer ------------------------------------------------------------ */

/*
 * The message at the read cursor, skipping padding.  0 with *hdr and the
 * record's size, -EAGAIN when none is ready, -EBADMSG when the shared
 * memory holds something impossible, -EFAULT (-EIO) on a fault.
 */
static int next_record(mmds_ring *r, uint64_t *hdr, uint64_t *size)
{
	for (;;) {
		uint64_t off, lim, h, len;
		uint32_t st;
		int err;

		if (r->read == r->tail_cache) {
			uint64_t t;

			/* fetch the header's line while the tail's comes: a
			 * consumer that caught up then waits for one line
			 * transfer per message, not two in a row */
			__builtin_prefetch(r->data + (r->read & r->mask));
			if ((err = ld_acq64(&r->c->tail, &t)) != 0)
				return err;

			if (t & 7 || t - r->head > r->cap ||
			    t - r->read > t - r->head)
				return -EBADMSG;
			r->tail_cache = t;
			if (t == r->read)
				return -EAGAIN;
		}
		off = r->read & r->mask;
		lim = r->tail_cache - r->read;
		if (lim > r->cap - off)
			lim = r->cap - off;
		if ((err = ld_acq64(hdr_at(r, r->read), &h)) != 0)
			return err;
		st = (uint32_t)h & ST_MASK;
		len = (uint32_t)h & RING_LEN_MASK;
		if (st == ST_EMPTY || st == ST_CLAIMED)
			return r->mode == MMDS_RING_MPSC ? -EAGAIN : -EBADMSG;
		if (st == ST_PADDING) {
			if (len & 7 || len + 8 > lim)
				return -EBADMSG;
			r->read += len + 8;
			continue;
		}
		if (len > r->max_msg || rec_size(len) > lim)
			return -EBADMSG;
		*hdr = h;
		*size = rec_size(len);
		return 0;
	}
}

static int consumer_ok(const mmds_ring *r)
{
	return r != NULL && r->role == MMDS_RING_CONSUMER;
}

/* Give [head, to) back to the producers: record the release, zero the
 * span (MPSC: an empty header must mean "not written yet"), then move the
 * head.  A consumer that dies in between is finished by its successor. */
#ifdef RING_FIXUP
struct zero_call {
	mmds_ring *r;
	uint64_t from, to;
};

static int zero_cb(void *arg)
{
	struct zero_call *z = arg;

	zero_range(z->r, z->from, z->to);
	return 0;
}
#endif

static int release_to(mmds_ring *r, uint64_t to)
{
	int err;

	if (to == r->head)
		return 0;
	if ((err = st_rlx64(&r->c->release_to, to)) != 0)
		return err;
	MMDS_CRASH("ring.release.after_intent");
	if (r->mode == MMDS_RING_MPSC) {
#ifdef RING_FIXUP
		/* a memset has no marked form: a guard of its own, as the
		 * call runs without one (under read_batch's, guards nest) */
		err = mmds_guard_run(zero_cb,
				     &(struct zero_call){ r, r->head, to });
		if (err != 0)
			return err;
#else
		zero_range(r, r->head, to); /* under the call's guard */
#endif
	}
	MMDS_CRASH("ring.release.after_zero");
	if ((err = st_rel64(&r->c->head, to)) != 0)
		return err;
	r->head = to;
	if ((err = wake_producers(r)) != 0)
		return err;
	return tick(r);
}

struct cons_call {
	mmds_ring *r;
	void *buf;
	size_t cap;
	uint32_t *type;
	mmds_ring_msg *msg;
	size_t limit;
	int (*fn)(void *arg, const mmds_ring_msg *msg);
	void *arg;
	ssize_t ret;
};

static int release_cb(void *arg)
{
	mmds_ring *r = arg;
	int n = r->npeeked, err;

	if ((err = release_to(r, r->read)) != 0)
		return err;
	r->npeeked = 0;
	return n;
}

int mmds_ring_release(mmds_ring *r)
{
	if (!consumer_ok(r))
		return -EINVAL;
	return RING_RUN(true, release_cb, r);
}

static int peek_one(mmds_ring *r, mmds_ring_msg *msg)
{
	uint64_t h, size;
	int rc = next_record(r, &h, &size);

	if (rc < 0)
		return rc;
	msg->data = r->data + (r->read & r->mask) + 8;
	msg->len = (uint32_t)h & RING_LEN_MASK;
	msg->type = (uint32_t)(h >> 32);
	r->read += size;
	r->npeeked++;
	return 0;
}

static int peek_cb(void *arg)
{
	struct cons_call *a = arg;

	return peek_one(a->r, a->msg);
}

int mmds_ring_peek(mmds_ring *r, mmds_ring_msg *msg)
{
	if (!consumer_ok(r) || msg == NULL)
		return -EINVAL;
	return RING_RUN(true, peek_cb, &(struct cons_call){ .r = r, .msg = msg });
}

static int peek_batch_cb(void *arg)
{
	struct batch_call *a = arg;
	int rc = 0;

	a->ret = 0;
	while ((size_t)a->ret < a->n &&
	       (rc = peek_one(a->r, &a->out[a->ret])) == 0)
		a->ret++;
	if (rc == -EFAULT || rc == -EIO)
		return rc;
	return rc < 0 && rc != -EAGAIN && a->ret == 0 ? rc : 0;
}

ssize_t mmds_ring_peek_batch(mmds_ring *r, mmds_ring_msg *msgs, size_t n)
{
	struct batch_call a = { .r = r, .out = msgs, .n = n };
	int rc;

	if (!consumer_ok(r) || (msgs == NULL && n > 0))
		return -EINVAL;
	rc = RING_RUN(true, peek_batch_cb, &a);
	return rc < 0 ? rc : a.ret;
}

static int pop_cb(void *arg)
{
	struct cons_call *a = arg;
	mmds_ring *r = a->r;
	uint64_t h, size;
	size_t len;
	int rc = next_record(r, &h, &size);

	if (rc < 0)
		return rc;
	len = (uint32_t)h & RING_LEN_MASK;
	if (len > a->cap)
		return -EMSGSIZE;
	if ((rc = copy_pl(a->buf, r->data + (r->read & r->mask) + 8, len)))
		return rc;
	if (a->type)
		*a->type = (uint32_t)(h >> 32);
	r->read += size;
	r->npeeked = 0;
	if ((rc = release_to(r, r->read)) != 0)
		return rc;
	return (int)len; /* at most 2^30 - 1 */
}

ssize_t mmds_ring_pop(mmds_ring *r, void *buf, size_t cap, uint32_t *type)
{
	if (!consumer_ok(r) || (buf == NULL && cap > 0))
		return -EINVAL;
	return RING_RUN(true, pop_cb, &(struct cons_call){
		.r = r, .buf = buf, .cap = cap, .type = type });
}

static int batch_cb(void *arg)
{
	struct cons_call *a = arg;
	mmds_ring *r = a->r;
	mmds_ring_msg msg;
	int rc = 0, rc2;

	a->ret = 0;
	while (a->limit == 0 || (size_t)a->ret < a->limit) {
		rc = peek_one(r, &msg);
		if (rc < 0)
			break;
		a->ret++;
		if (a->fn(a->arg, &msg) != 0)
			break;
	}
	if (rc == -EFAULT || rc == -EIO)
		return rc;
	if ((rc2 = release_to(r, r->read)) != 0)
		return rc2;
	r->npeeked = 0;
	if (rc < 0 && rc != -EAGAIN && a->ret == 0)
		return rc;
	return 0;
}

ssize_t mmds_ring_read_batch(mmds_ring *r, size_t limit,
			     int (*fn)(void *arg, const mmds_ring_msg *msg),
			     void *arg)
{
	struct cons_call a = { .r = r, .limit = limit, .fn = fn, .arg = arg };
	int rc;

	if (!consumer_ok(r) || fn == NULL)
		return -EINVAL;
	rc = mmds_guard_run(batch_cb, &a);
	return rc < 0 ? rc : a.ret;
}

/* ---- blocking ------------------------------------------------------------ */

struct deadline {
	bool forever;
	uint64_t at;
};

static struct deadline deadline_in(int64_t timeout_ns)
{
	struct deadline d = { timeout_ns < 0, 0 };

	if (timeout_ns >= 0)
		d.at = mmds__mono_ns() + (uint64_t)timeout_ns;
	return d;
}

/* Sleep on w while it holds val, up to the deadline (at most one chunk).
 * 0 to check again, -ETIMEDOUT, -EINTR. */
static int sleep_on(_Atomic uint32_t *w, uint32_t val, struct deadline d,
		    bool covered)
{
	int64_t left = covered ? RING_SLEEP_CHUNK_NS : RING_SLEEP_SHORT_NS;

	if (!d.forever) {
		uint64_t now = mmds__mono_ns();

		if (now >= d.at)
			return -ETIMEDOUT;
		if ((int64_t)(d.at - now) < left)
			left = (int64_t)(d.at - now);
	}
	return mmds__futex_wait(w, val, left);
}

static int data_ready(mmds_ring *r)
{
	uint64_t h, size;

	return next_record(r, &h, &size);
}

struct wait_call {
	mmds_ring *r;
	size_t len;
	int64_t timeout_ns;
};

static int wait_data_cb(void *arg)
{
	struct wait_call *a = arg;
	mmds_ring *r = a->r;
	struct deadline d;
	int rc;

	for (int i = 0; i < RING_SPIN; i++) {
		rc = data_ready(r);
		if (rc != -EAGAIN)
			return rc;
		if (a->timeout_ns == 0)
			return -ETIMEDOUT;
		cpu_relax();
	}
	d = deadline_in(a->timeout_ns);
	for (;;) {
		uint32_t seq = atomic_load_explicit(&r->c->data_seq,
						    memory_order_acquire);

		bool covered;

		/* store, fence, re-check: pairs with wake_consumer() */
		atomic_store_explicit(&r->c->cons_waiting, 1,
				      memory_order_relaxed);
		covered = sleeper_fence();
		MMDS_CRASH("ring.wait.data.waiting");
		rc = data_ready(r);
		if (rc == -EAGAIN)
			rc = sleep_on(&r->c->data_seq, seq, d, covered);
		atomic_store_explicit(&r->c->cons_waiting, 0,
				      memory_order_relaxed);
		beat(r);
		if (rc != 0)
			return rc;
		rc = data_ready(r);
		if (rc != -EAGAIN)
			return rc;
	}
}

int mmds_ring_wait_data(mmds_ring *r, int64_t timeout_ns)
{
	if (!consumer_ok(r))
		return -EINVAL;
	return mmds_guard_run(wait_data_cb, &(struct wait_call){
		.r = r, .timeout_ns = timeout_ns });
}

/* Would a message of len bytes fit now?  0, -EAGAIN, or an error. */
static int space_ready(mmds_ring *r, uint64_t len)
{
	uint64_t t, size = rec_size(len), off, pad;
	int rc = -EBADMSG;

	if (r->mode == MMDS_RING_SPSC) {
		t = r->tail;
	} else {
		t = atomic_load_explicit(&r->c->tail, memory_order_acquire);
		if (t & 7)
			return -EBADMSG;
	}
	off = t & r->mask;
	pad = r->cap - off < size ? r->cap - off : 0;
	for (int i = 0; i < 64 && rc == -EBADMSG; i++) {
		rc = room_for(r, t, pad + size);
		if (rc == -EBADMSG && r->mode == MMDS_RING_MPSC)
			t = atomic_load_explicit(&r->c->tail,
						 memory_order_acquire);
		else
			break;
		off = t & r->mask;
		pad = r->cap - off < size ? r->cap - off : 0;
	}
	return rc;
}

static int wait_space_cb(void *arg)
{
	struct wait_call *a = arg;
	mmds_ring *r = a->r;
	uint32_t bit = 1u << r->slot_idx;
	struct deadline d;
	int rc;

	for (int i = 0; i < RING_SPIN; i++) {
		rc = space_ready(r, a->len);
		if (rc != -EAGAIN)
			return rc;
		if (a->timeout_ns == 0)
			return -ETIMEDOUT;
		cpu_relax();
	}
	d = deadline_in(a->timeout_ns);
	for (;;) {
		uint32_t seq = atomic_load_explicit(&r->c->space_seq,
						    memory_order_acquire);

		bool covered;

		/* mark, fence, re-check: pairs with wake_producers() */
		atomic_fetch_or_explicit(&r->c->prod_waiting, bit,
					 memory_order_relaxed);
		covered = sleeper_fence();
		MMDS_CRASH("ring.wait.space.waiting");
		rc = space_ready(r, a->len);
		if (rc == -EAGAIN)
			rc = sleep_on(&r->c->space_seq, seq, d, covered);
		atomic_fetch_and_explicit(&r->c->prod_waiting, ~bit,
					  memory_order_relaxed);
		beat(r);
		if (rc != 0)
			return rc;
		rc = space_ready(r, a->len);
		if (rc != -EAGAIN)
			return rc;
	}
}

int mmds_ring_wait_space(mmds_ring *r, size_t len, int64_t timeout_ns)
{
	if (r == NULL || r->role != MMDS_RING_PRODUCER)
		return -EINVAL;
	if (len > r->max_msg)
		return -EMSGSIZE;
	return mmds_guard_run(wait_space_cb, &(struct wait_call){
		.r = r, .len = len, .timeout_ns = timeout_ns });
}

int mmds_ring_push_timed(mmds_ring *r, uint32_t type, const void *buf,
			 size_t len, int64_t timeout_ns)
{
	struct deadline d = deadline_in(timeout_ns);

	for (;;) {
		int64_t left = -1;
		int rc = mmds_ring_push(r, type, buf, len);

		if (rc != -EAGAIN)
			return rc;
		if (!d.forever) {
			uint64_t now = mmds__mono_ns();

			left = now >= d.at ? 0 : (int64_t)(d.at - now);
		}
		rc = mmds_ring_wait_space(r, len, left);
		if (rc < 0)
			return rc;
	}
}

ssize_t mmds_ring_pop_timed(mmds_ring *r, void *buf, size_t cap,
			    uint32_t *type, int64_t timeout_ns)
{
	struct deadline d = deadline_in(timeout_ns);

	for (;;) {
		int64_t left = -1;
		ssize_t n = mmds_ring_pop(r, buf, cap, type);
		int rc;

		if (n != -EAGAIN)
			return n;
		if (!d.forever) {
			uint64_t now = mmds__mono_ns();

			left = now >= d.at ? 0 : (int64_t)(d.at - now);
		}
		rc = mmds_ring_wait_data(r, left);
		if (rc < 0)
			return rc;
	}
}

/* ---- liveness and repair ------------------------------------------------- */

static int heartbeat_cb(void *arg)
{
	beat(arg);
	return 0;
}

int mmds_ring_heartbeat(mmds_ring *r)
{
	if (r == NULL)
		return -EINVAL;
	return mmds_guard_run(heartbeat_cb, r);
}

struct alive_call {
	const mmds_ring *r;
	int64_t stale_ns;
	mmds_ring_info *info;
};

static int peer_alive_cb(void *arg)
{
	struct alive_call *a = arg;
	const mmds_ring *r = a->r;
	int n = 0;

	if (r->role == MMDS_RING_PRODUCER)
		return slot_alive(&r->c->consumer, a->stale_ns) ? 1 : 0;
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++)
		if (slot_alive(&r->c->producers[i], a->stale_ns))
			n++;
	return n;
}

int mmds_ring_peer_alive(const mmds_ring *r, int64_t stale_ns)
{
	if (r == NULL)
		return -EINVAL;
	return mmds_guard_run(peer_alive_cb, &(struct alive_call){
		.r = r, .stale_ns = stale_ns });
}

/* Whether slot s's owner lives and its intent covers position q: then it
 * may still write the record there. */
static bool live_intent_covers(const struct ring_slot *s, uint64_t q)
{
	uint64_t len = atomic_load_explicit(&s->intent_len, memory_order_acquire);
	uint64_t pos = atomic_load_explicit(&s->intent_pos, memory_order_relaxed);

	return len != 0 && q - pos < len &&
	       mmds__owner_alive(atomic_load_explicit(&s->owner,
						      memory_order_acquire));
}

/* Pad [from, to) for good.  The first header is CASed from expect (what
 * repair saw there); for a CLAIMED record the later pieces go first, since
 * its payload may hold header-like bytes.  1, or 0 if the header changed. */
static int pad_span(mmds_ring *r, uint64_t from, uint64_t to, uint64_t expect)
{
	uint64_t n = pad_piece(r, from, to), first;

	if (expect != 0) {
		pad_rest(r, from, to, &first);
		MMDS_CRASH("ring.repair.before_header");
		if (!atomic_compare_exchange_strong(hdr_at(r, from), &expect,
						    first))
			return 0;
	} else {
		first = mk_hdr(ST_PADDING, n - 8, 0);
		MMDS_CRASH("ring.repair.before_header");
		if (!atomic_compare_exchange_strong(hdr_at(r, from), &expect,
						    first))
			return 0;
		pad_rest(r, from, to, &first);
	}
	MMDS_CRASH("ring.repair.after_pad");
	return 1;
}

static int repair_cb(void *arg)
{
	mmds_ring *r = arg;
	uint64_t h, size, q, t, lim, end;
	uint32_t st, len, slot;
	int rc = next_record(r, &h, &size);

	if (rc != -EAGAIN)
		return rc < 0 ? rc : 0;
	q = r->read;
	t = r->tail_cache; /* loaded with acquire: the CAS that moved the
	                      tail past q, and the intent before it, are seen */
	if (q == t || r->mode == MMDS_RING_SPSC)
		return 0;
	lim = t - q;
	if (lim > r->cap - (q & r->mask))
		lim = r->cap - (q & r->mask);
	h = atomic_load_explicit(hdr_at(r, q), memory_order_acquire);
	st = (uint32_t)h & ST_MASK;
	len = (uint32_t)h & RING_LEN_MASK;
	if (st == ST_CLAIMED) {
		/* the claim is recorded here: its slot's owner is the claimer
		 * while the slot's intent covers it */
		if (len > r->max_msg || rec_size(len) > lim)
			return -EBADMSG;
		slot = (uint32_t)(h >> 32);
		if (slot < MMDS_RING_MAX_PRODUCERS &&
		    live_intent_covers(&r->c->producers[slot], q))
			return -EAGAIN;
		return pad_span(r, q, q + rec_size(len), h);
	}
	if (st != ST_EMPTY)
		return 0;
	/* Empty: whoever won the CAS at q stated its intent before it.  Wait
	 * while a live producer's intent covers q; else pad up to the next
	 * span someone stated an intent for, or the next written header. */
	end = t;
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++) {
		struct ring_slot *s = &r->c->producers[i];
		uint64_t il = atomic_load_explicit(&s->intent_len,
						   memory_order_acquire);
		uint64_t ip = atomic_load_explicit(&s->intent_pos,
						   memory_order_relaxed);

		if (il == 0)
			continue;
		if (q - ip < il) {
			if (mmds__owner_alive(atomic_load_explicit(
				    &s->owner, memory_order_acquire)))
				return -EAGAIN;
		} else if (ip - q < end - q && (ip & 7) == 0) {
			end = ip;
		}
	}
	for (uint64_t p = q + 8; p < end; p += 8)
		if (atomic_load_explicit(hdr_at(r, p), memory_order_relaxed)) {
			end = p;
			break;
		}
	return pad_span(r, q, end, 0);
}

int mmds_ring_repair(mmds_ring *r)
{
	if (!consumer_ok(r))
		return -EINVAL;
	return mmds_guard_run(repair_cb, r);
}

/* ---- information --------------------------------------------------------- */

static void peer_info(const struct ring_slot *s, mmds_ring_peer *p)
{
	uint64_t w = atomic_load_explicit(&s->owner, memory_order_acquire);

	p->pid = (int64_t)mmds__owner_pid(w);
	p->alive = w != 0 && mmds__owner_alive(w);
	p->heartbeat_ns = atomic_load_explicit(&s->heartbeat,
					       memory_order_relaxed);
}

static int info_cb(void *arg)
{
	struct alive_call *a = arg;
	const mmds_ring *r = a->r;
	mmds_ring_info *info = a->info;
	int rc;

	rc = load_positions(r->c, r->cap, &info->head, &info->tail);
	info->used = info->tail - info->head;
	peer_info(&r->c->consumer, &info->consumer);
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++) {
		peer_info(&r->c->producers[i], &info->producers[i]);
		if (info->producers[i].pid)
			info->nproducers++;
	}
	return rc;
}

int mmds_ring_get_info(const mmds_ring *r, mmds_ring_info *info)
{
	if (r == NULL || info == NULL)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->mode = r->mode;
	info->capacity = r->cap;
	info->max_message = r->max_msg;
	info->created_ns = r->created_ns;
	return mmds_guard_run(info_cb, &(struct alive_call){
		.r = r, .info = info });
}
