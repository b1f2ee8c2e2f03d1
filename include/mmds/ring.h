/*
 * mmds/ring.h - an IPC ring buffer: variable-length messages between
 * processes on one host, with no system call on the fast path.
 *
 * A ring lives in a shared file (for example under /dev/shm) or in a memfd
 * (mmds_ring_open_anon(), then pass mmds_ring_fd() to another process or
 * fork).  Its mode is fixed at creation:
 *
 *   MMDS_RING_SPSC  one producer, one consumer;
 *   MMDS_RING_MPSC  many producers (in any processes, one handle each),
 *                   one consumer; producers claim space by compare-and-swap.
 *
 * Every process opens the ring in one role (producer, consumer, observer).
 * A handle is used by one thread at a time; several producer threads open
 * one handle each.  Messages are delivered in the order their space was
 * claimed, each whole or not at all.
 *
 * Calls never block unless their name says so: an empty or full ring is
 * -EAGAIN.  mmds_ring_wait_data()/mmds_ring_wait_space() (and the _timed
 * calls built on them) spin briefly, then sleep on a futex in the shared
 * memory; the other side issues a wake-up only when someone sleeps.
 *
 * Nothing read from the shared memory is trusted: impossible positions,
 * lengths or states written by a faulty or hostile peer are -EBADMSG, never
 * an access outside the ring.  Every access to the shared memory is
 * guarded against SIGBUS, by a marked instruction (docs/CORE.md, fix-ups
 * keyed by instruction address) or under mmds_guard_run(): a ring file
 * truncated under live handles makes the calls return -EFAULT instead of
 * killing the process;
 * such a handle is only good for mmds_ring_close() afterwards.  Pointers a
 * call hands out (mmds_ring_claim(), mmds_ring_msg.data) point into the
 * mapping: a caller that must survive truncation touches them under
 * mmds_guard_run() too.
 *
 * Roles are owned through one owner word per role (pid and incarnation
 * tag, published by one CAS): a role never has two owners, except that
 * MMDS_RING_TAKEOVER displaces a live one on purpose.  A process is dead
 * when its pid is gone, a zombie, impossible or another incarnation (a
 * reused pid).
 *
 * Durability: a committed message is *published* (visible to the consumer,
 * and it survives kill -9 of the producer); a ring is for transport, not
 * storage, and offers no sync call.  A restarted consumer resumes at the
 * last released position: released messages are never delivered again,
 * unreleased ones are delivered again.
 *
 * Layout byte by byte in docs/FORMAT.md; the guide is docs/ring.md.
 */
#ifndef MMDS_RING_H
#define MMDS_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <mmds/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open ring.  Opaque. */
typedef struct mmds_ring mmds_ring;

/* Mode, fixed at creation (mmds_ring_opts.mode). */
enum mmds_ring_mode {
	MMDS_RING_SPSC = 1, /* single producer, single consumer (default) */
	MMDS_RING_MPSC = 2  /* multiple producers, single consumer */
};

/* Role of a handle (mmds_ring_opts.role, required). */
enum mmds_ring_role {
	MMDS_RING_PRODUCER = 1,
	MMDS_RING_CONSUMER = 2,
	MMDS_RING_OBSERVER = 3 /* read-only: info and liveness only */
};

/* Open flags (mmds_ring_opts.flags). */
enum mmds_ring_flag {
	MMDS_RING_CREATE = 1u << 0,  /* create the file if it does not exist */
	MMDS_RING_EXCL = 1u << 1,    /* with CREATE: -EEXIST if it exists */
	/* Take the role even if a live process holds it (the consumer of any
	 * ring, or the producer of an SPSC ring); the default is -EBUSY. */
	MMDS_RING_TAKEOVER = 1u << 2
};

/* Most producer handles an MPSC ring registers for liveness and repair. */
#define MMDS_RING_MAX_PRODUCERS 16

typedef struct mmds_ring_opts {
	unsigned role;        /* enum mmds_ring_role; required */
	unsigned flags;       /* enum mmds_ring_flag bits */
	unsigned mode;        /* at creation: enum mmds_ring_mode; 0 = SPSC */
	unsigned file_mode;   /* permissions of a created file; 0 = 0600 */
	uint64_t capacity;    /* at creation: data bytes, a power of two from
	                         256 to 2^40; 0 = 1 MiB */
	uint32_t max_message; /* at creation: largest payload; 0 = the most
	                         the capacity allows, capacity / 2 - 8 */
} mmds_ring_opts;

/*
 * mmds_ring_open - open (or create) the ring in the file at path.
 * mmds_ring_open_fd - open the ring in an fd (the caller keeps owning fd).
 * mmds_ring_open_anon - create a new ring in a memfd (role and creation
 *   parameters from opts; CREATE is implied).
 *
 * Creation writes the common header, then the control block, and sizes the
 * file to 8192 + capacity bytes; a file is built under a temporary name and
 * linked into place, so no opener sees it half-written.  CREATE on an
 * existing ring opens it as it is: the creation parameters are ignored
 * (mmds_ring_get_info() tells what it has).  Opening an existing ring
 * checks the header and the control block, then registers the handle's
 * role: the consumer (and the SPSC producer) is -EBUSY if a live process
 * already holds the role, unless MMDS_RING_TAKEOVER.  A handle that takes
 * a role from a dead holder drops the dead one's waiting mark, and a
 * consumer finishes a release the dead one was in the middle of.
 * Returns 0 with *out set, or (with *out NULL):
 *   -EINVAL  NULL out/opts, no role, bad flags, capacity or max_message
 *   -EBADMSG not a ring, corrupt header, impossible control block
 *   -ENOTSUP a future format version, another byte order, or a ring of
 *            format version 1 (an older layout: recreate the ring)
 *   -EFAULT  the file was truncated while it was being opened
 *   -EBUSY   the role is held by a live process; for an MPSC producer,
 *            all 16 slots are taken by live producers or by dead ones
 *            whose unfinished claim the consumer has not passed (retry)
 *   -EEXIST, -ENOENT, -EACCES, -ENOMEM ...  from opening the file
 * Thread-safe (each call builds its own handle).
 */
MMDS_API int mmds_ring_open(mmds_ring **out, const char *path,
			    const mmds_ring_opts *opts);
MMDS_API int mmds_ring_open_fd(mmds_ring **out, int fd,
			       const mmds_ring_opts *opts);
MMDS_API int mmds_ring_open_anon(mmds_ring **out, const mmds_ring_opts *opts);

/*
 * mmds_ring_close - unregister the role and unmap.  Accepts NULL (0).
 * A claim not committed is aborted first.  A consumer's peeked but not
 * released messages stay in the ring for the next consumer.  Returns 0 or
 * the error of unmapping (mmds_map_close()); a truncated file is unmapped
 * all the same.
 */
MMDS_API int mmds_ring_close(mmds_ring *r);

/* mmds_ring_fd - the ring's file descriptor (to pass a memfd ring to
 * another process), owned by the ring; -1 for NULL. */
MMDS_API int mmds_ring_fd(const mmds_ring *r);

/* mmds_ring_max_message - the largest payload a message may have. */
MMDS_API size_t mmds_ring_max_message(const mmds_ring *r);

/* A message, given or received whole.
 * The consumer sees messages in place (mmds_ring_peek,
 * mmds_ring_peek_batch, mmds_ring_read_batch); a producer hands an array of
 * them to mmds_ring_push_batch. */
typedef struct mmds_ring_msg {
	const void *data; /* payload (consumer: inside the ring, valid until
	                     released) */
	size_t len;
	uint32_t type;
} mmds_ring_msg;

/* ---- Producer ------------------------------------------------------------ */

/*
 * mmds_ring_push - publish one message of len bytes with a caller-chosen
 * type.  0, or -EAGAIN (no room now: nothing was written), -EMSGSIZE (len
 * above the maximum), -EINVAL (NULL r or buf with len > 0, not a producer,
 * a claim outstanding), -EBADMSG (the shared positions are impossible),
 * -EFAULT (the ring file was truncated under us).
 * No system call unless the consumer sleeps in a wait.  Lock-free in MPSC
 * mode (a CAS loop), wait-free in SPSC mode.
 */
MMDS_API int mmds_ring_push(mmds_ring *r, uint32_t type, const void *buf,
			    size_t len);

/* mmds_ring_pushv - as mmds_ring_push, one message gathered from iovcnt
 * buffers (-EINVAL for a negative count). */
MMDS_API int mmds_ring_pushv(mmds_ring *r, uint32_t type,
			     const struct iovec *iov, int iovcnt);

/*
 * mmds_ring_push_batch - publish an array of messages in one call.
 * msgs[0..n) (data, len, type each) go out in order, as n calls of
 * mmds_ring_push would send them, under one guard with one publication of
 * the tail and one check for a sleeping consumer: the fast way to send
 * several messages at once.  Stops at the first message that does not fit
 * (or is invalid); those before it are published.  Returns how many were
 * published (0 for n == 0), or, when msgs[0] itself fails, its error as
 * mmds_ring_push: -EAGAIN, -EMSGSIZE, -EINVAL (also NULL msgs with n > 0,
 * a NULL data with len > 0), -EBADMSG, -EFAULT.
 */
MMDS_API ssize_t mmds_ring_push_batch(mmds_ring *r, const mmds_ring_msg *msgs,
				      size_t n);

/*
 * mmds_ring_claim - reserve room for a message of len bytes and return in
 * *data a pointer into the ring where the payload is to be written (len
 * contiguous bytes, 8-byte aligned).  Then mmds_ring_commit() publishes
 * it, or mmds_ring_abort() drops it.  One claim at a time per handle
 * (-EINVAL for a second one).  Errors as mmds_ring_push.  In MPSC mode
 * the consumer waits at a claimed message until it is committed: keep the
 * claim short.  A producer that dies holding a claim stalls the consumer
 * until mmds_ring_repair().  An SPSC claim with room at hand touches no
 * shared memory (and takes no guard), so it may return 0 on a truncated
 * file: the writes to *data then fault (see above).  Claim + commit is the
 * zero-copy way to send: build the message in place, no copy.
 */
MMDS_API int mmds_ring_claim(mmds_ring *r, size_t len, void **data);

/* mmds_ring_commit - publish the claimed message with this type.
 * 0, or -EINVAL (no claim outstanding), -EFAULT (truncated file). */
MMDS_API int mmds_ring_commit(mmds_ring *r, uint32_t type);

/* mmds_ring_abort - drop the claim: the consumer never sees it (in MPSC
 * mode its space becomes padding).  0, or -EINVAL (no claim), -EFAULT
 * (truncated file). */
MMDS_API int mmds_ring_abort(mmds_ring *r);

/* ---- Consumer ------------------------------------------------------------ */

/*
 * mmds_ring_pop - copy the next message into buf (cap bytes), release it,
 * and return its length; its type goes to *type if type is not NULL.
 * -EAGAIN (nothing ready), -EMSGSIZE (cap too small: the message stays, so
 * a larger buffer can take it), -EINVAL (not the consumer, NULL buf with
 * cap > 0), -EBADMSG (impossible positions or record in the shared memory),
 * -EFAULT (truncated file).
 * Messages peeked but not released before the call are released with it.
 */
MMDS_API ssize_t mmds_ring_pop(mmds_ring *r, void *buf, size_t cap,
			       uint32_t *type);

/*
 * mmds_ring_peek - see the next message in place without consuming it:
 * each call returns the message after the previous peek's, until
 * mmds_ring_release() gives all peeked messages back to the producers.
 * 0, or -EAGAIN, -EINVAL, -EBADMSG, -EFAULT as mmds_ring_pop.
 */
MMDS_API int mmds_ring_peek(mmds_ring *r, mmds_ring_msg *msg);

/*
 * mmds_ring_peek_batch - see up to n ready messages in place in one call.
 * Fills msgs[] as n calls of mmds_ring_peek would, in one pass;
 * mmds_ring_release() then consumes them all.  Returns how many were peeked (0 when none is ready: no
 * -EAGAIN), or -EINVAL (not the consumer, NULL msgs with n > 0), -EBADMSG
 * (only when no message came before the bad record), -EFAULT.
 */
MMDS_API ssize_t mmds_ring_peek_batch(mmds_ring *r, mmds_ring_msg *msgs,
				      size_t n);

/* mmds_ring_release - consume every message peeked so far (their memory
 * may be reused at once).  Returns how many were released, or -EINVAL,
 * -EFAULT (truncated file). */
MMDS_API int mmds_ring_release(mmds_ring *r);

/*
 * mmds_ring_read_batch - call fn(arg, &msg) for each ready message, at most
 * limit of them (0 = no limit), then release them all at once.  If fn
 * returns non-zero the batch stops after that message, which is consumed
 * like every message fn saw.  Returns
 * the number of messages handed to fn (0 when none is ready: no -EAGAIN),
 * or -EINVAL, -EBADMSG (the messages before the bad one are consumed),
 * -EFAULT (truncated file; fn runs under the same guard).  One guard, one
 * release and one wake-up check for the whole batch: with
 * mmds_ring_peek_batch, the fast way to drain a busy ring.
 */
MMDS_API ssize_t mmds_ring_read_batch(mmds_ring *r, size_t limit,
				      int (*fn)(void *arg,
						const mmds_ring_msg *msg),
				      void *arg);

/* ---- Blocking ------------------------------------------------------------ */

/*
 * mmds_ring_wait_data - (consumer) wait until a message is ready.
 * mmds_ring_wait_space - (producer) wait until a message of len bytes fits.
 *
 * timeout_ns < 0 waits without limit, 0 only checks.  Spins briefly, then
 * sleeps on a shared futex; going to sleep costs one
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) call, so that the other
 * side's publications need no fence (docs/ring.md, "Sleeping and waking";
 * MMDS_RING_MEMBARRIER=0 in a process's environment at its first ring open
 * makes its publications fence instead).  0 when ready, -ETIMEDOUT, -EINVAL, -EMSGSIZE,
 * -EBADMSG, -EINTR (a signal arrived), -EFAULT (truncated file).  While
 * asleep the caller's role carries a waiting mark, so that the other side
 * wakes it; the mark of a waiter killed asleep is dropped when its role is
 * taken over.  Updates the caller's heartbeat
 * while it waits.  Readiness can be taken by no one else (one consumer; in
 * MPSC mode another producer may fill the space first: retry).
 */
MMDS_API int mmds_ring_wait_data(mmds_ring *r, int64_t timeout_ns);
MMDS_API int mmds_ring_wait_space(mmds_ring *r, size_t len,
				  int64_t timeout_ns);

/* mmds_ring_push_timed / mmds_ring_pop_timed - push or pop, waiting up to
 * timeout_ns (< 0: forever) for room or a message.  Results as the
 * non-blocking calls, with -ETIMEDOUT instead of -EAGAIN, and -EINTR when
 * a signal interrupted the wait. */
MMDS_API int mmds_ring_push_timed(mmds_ring *r, uint32_t type,
				  const void *buf, size_t len,
				  int64_t timeout_ns);
MMDS_API ssize_t mmds_ring_pop_timed(mmds_ring *r, void *buf, size_t cap,
				     uint32_t *type, int64_t timeout_ns);

/* ---- Liveness and repair ------------------------------------------------- */

/*
 * mmds_ring_heartbeat - record that the caller is alive now (the calls
 * above also do it every few thousand operations and while waiting).
 * 0, -EINVAL or -EFAULT (truncated file).
 */
MMDS_API int mmds_ring_heartbeat(mmds_ring *r);

/*
 * mmds_ring_peer_alive - how many peers are alive: for a producer, 1 if the
 * consumer is; for the consumer, the number of live producers.  A peer is
 * alive if the owner word of its role names a running process (its pid
 * with the incarnation it registered: a reused pid or a zombie does not
 * count) and, when stale_ns > 0, its heartbeat is at most stale_ns old.
 * Pids are of the caller's pid namespace.  -EINVAL, -EFAULT.
 */
MMDS_API int mmds_ring_peer_alive(const mmds_ring *r, int64_t stale_ns);

/*
 * mmds_ring_repair - (consumer) if the next message is stuck in a claim
 * that no live producer can still write (its claimer died before
 * committing, at any step of the claim, in any order with other
 * producers), turn that span into padding so the ring flows again.  It
 * never pads a span a live producer may still write.  Returns 1 when it
 * padded a span (call again: several dead claims may follow each other),
 * 0 when nothing is stuck (the next message is ready, or the ring is
 * empty), -EAGAIN when a live producer holds or is making the claim
 * (wait), -EINVAL (not the consumer), -EBADMSG (impossible record or
 * positions), -EFAULT (truncated file).  SPSC rings never need it: an SPSC
 * claim is invisible until committed, so it always returns 0 there.
 */
MMDS_API int mmds_ring_repair(mmds_ring *r);

/* ---- Information --------------------------------------------------------- */

typedef struct mmds_ring_peer {
	int64_t pid;           /* 0: none registered */
	int alive;             /* the owner word names a running process */
	uint64_t heartbeat_ns; /* CLOCK_MONOTONIC of the last heartbeat */
} mmds_ring_peer;

typedef struct mmds_ring_info {
	unsigned mode;          /* enum mmds_ring_mode */
	uint64_t capacity;      /* data bytes */
	uint32_t max_message;
	uint64_t head;          /* consumer position (released bytes) */
	uint64_t tail;          /* producer position (claimed bytes) */
	uint64_t used;          /* tail - head */
	uint64_t created_ns;    /* CLOCK_REALTIME at creation */
	mmds_ring_peer consumer;
	unsigned nproducers;    /* registered producer slots in use */
	mmds_ring_peer producers[MMDS_RING_MAX_PRODUCERS];
} mmds_ring_info;

/* mmds_ring_get_info - a snapshot (positions are read while others run).
 * 0, -EINVAL, -EBADMSG (impossible positions), -EFAULT (truncated file). */
MMDS_API int mmds_ring_get_info(const mmds_ring *r, mmds_ring_info *info);

#ifdef __cplusplus
}
#endif

#endif /* MMDS_RING_H */
