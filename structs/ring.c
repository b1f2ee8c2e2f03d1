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
 * while only claimed, the claimer's pid) - followed by the payload, padded
 * to 8 bytes.  A record never wraps: a padding record fills the end.
 *
 * SPSC: the producer writes payload and header, then publishes the new
 * tail; the consumer trusts the records below the tail it read.
 * MPSC: producers claim space by CAS on the tail and write the header last
 * (state COMMITTED, with release ordering); the consumer stops at a header
 * that is still empty or CLAIMED.  So that an empty header means "not yet
 * written", the consumer zeroes the space it releases before handing it
 * back (release_to records a release in progress, for a consumer that dies
 * in the middle of one).
 */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <mmds/map.h>
#include <mmds/ring.h>

#include "format.h"

#define RING_VERSION 1u
#define RING_LINE 128u /* every independently written word gets one */
#define RING_CTRL_OFF 4096u
#define RING_DATA_OFF 8192u
#define RING_MIN_CAP ((uint64_t)256)
#define RING_MAX_CAP ((uint64_t)1 << 40)
#define RING_DEFAULT_CAP ((uint64_t)1 << 20)
#define RING_LEN_MASK 0x3fffffffu
#define RING_MAX_LEN RING_LEN_MASK
#define RING_SPIN 256
#define RING_HEARTBEAT_EVERY 4096u
#define RING_SLEEP_CHUNK_NS 100000000LL /* heartbeat while asleep */

/* Record states, in bits 30-31 of the header's length word. */
enum {
	ST_EMPTY = 0u << 30,     /* not written yet (MPSC) */
	ST_CLAIMED = 1u << 30,   /* claimed, high word = claimer's pid (MPSC) */
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

/* A registration: a producer handle, or the consumer. */
struct ring_slot {
	_Atomic uint64_t pid;       /* 0 = free; CAS to take, release to free */
	_Atomic uint64_t start;     /* /proc starttime of pid (0 unknown);
	                               relaxed, stored just after pid: a reader
	                               in between sees 0 and trusts the pid */
	_Atomic uint64_t heartbeat; /* CLOCK_MONOTONIC ns; relaxed */
	/* MPSC claim in progress: [claim_pos, claim_pos + claim_len) was or is
	 * being claimed by this slot and its header may still be empty.
	 * Relaxed stores before the tail CAS (which orders them); claim_len is
	 * cleared with release after the CLAIMED header is stored. */
	_Atomic uint64_t claim_pos;
	_Atomic uint64_t claim_len;
	uint8_t pad_[RING_LINE - 40];
};

struct ring_ctrl {
	/* Producer position: bytes claimed.  SPSC: seq_cst store by the
	 * producer, acquire load by the consumer.  MPSC: seq_cst CAS. */
	_Atomic uint64_t tail;
	uint8_t pad0_[RING_LINE - 8];
	/* Consumer position: bytes released.  seq_cst store by the consumer,
	 * acquire load by producers.  release_to: a release in progress
	 * (MPSC), relaxed, ordered by the head store that follows it. */
	_Atomic uint64_t head;
	_Atomic uint64_t release_to;
	uint8_t pad1_[RING_LINE - 16];
	/* Futex the consumer sleeps on, and whether it does (seq_cst). */
	_Atomic uint32_t data_seq;
	_Atomic uint32_t cons_waiting;
	uint8_t pad2_[RING_LINE - 8];
	/* Futex producers sleep on, and how many do (seq_cst). */
	_Atomic uint32_t space_seq;
	_Atomic uint32_t prod_waiting;
	uint8_t pad3_[RING_LINE - 8];
	struct ring_slot consumer;
	struct ring_slot producers[MMDS_RING_MAX_PRODUCERS];
};

_Static_assert(sizeof(struct ring_params) == 16, "params layout");
_Static_assert(sizeof(struct ring_slot) == RING_LINE, "slot layout");
_Static_assert(offsetof(struct ring_ctrl, head) == 128, "ctrl layout");
_Static_assert(offsetof(struct ring_ctrl, data_seq) == 256, "ctrl layout");
_Static_assert(offsetof(struct ring_ctrl, space_seq) == 384, "ctrl layout");
_Static_assert(offsetof(struct ring_ctrl, consumer) == 512, "ctrl layout");
_Static_assert(offsetof(struct ring_ctrl, producers) == 640, "ctrl layout");
_Static_assert(sizeof(struct ring_ctrl) <= RING_DATA_OFF - RING_CTRL_OFF,
	       "control block fits its page");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "atomic words are plain words");

struct mmds_ring {
	mmds_map *map;
	struct ring_ctrl *c;
	unsigned char *data;
	uint64_t cap, mask;
	uint32_t max_msg;
	unsigned mode, role;
	uint64_t created_ns;
	struct ring_slot *slot; /* our registration, or NULL */
	uint64_t self_pid, self_start;
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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, (void *)w, op, val, ts, NULL, 0);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* /proc/PID/stat: state and start time.  0 on success, -1 if unreadable. */
static int proc_stat(uint64_t pid, char *state, uint64_t *start)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	/* field 3 is the state; the start time is field 22 */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

/* Whether pid runs (not a zombie) and, if start is known, is the same
 * process that registered. */
static bool pid_alive(uint64_t pid, uint64_t start)
{
	char st = 0;
	uint64_t s = 0;

	if (pid == 0 || pid > INT_MAX)
		return false;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return false;
	if (proc_stat(pid, &st, &s) != 0)
		return true; /* no /proc: trust kill() */
	if (st == 'Z' || st == 'X')
		return false;
	return start == 0 || s == start;
}

static bool slot_alive(const struct ring_slot *s, int64_t stale_ns)
{
	uint64_t pid = atomic_load_explicit(&s->pid, memory_order_acquire);
	uint64_t start = atomic_load_explicit(&s->start, memory_order_relaxed);

	if (!pid_alive(pid, start))
		return false;
	if (stale_ns > 0) {
		uint64_t hb = atomic_load_explicit(&s->heartbeat,
						   memory_order_relaxed);
		uint64_t now = now_ns();

		if (now > hb && now - hb > (uint64_t)stale_ns)
			return false;
	}
	return true;
}

static void beat(mmds_ring *r)
{
	if (r->slot)
		atomic_store_explicit(&r->slot->heartbeat, now_ns(),
				      memory_order_relaxed);
}

static void tick(mmds_ring *r)
{
	if ((++r->ops & (RING_HEARTBEAT_EVERY - 1)) == 0)
		beat(r);
}

static void wake_consumer(mmds_ring *r)
{
	/* Pairs with the consumer's seq_cst store of cons_waiting before its
	 * last check: our publication was a seq_cst store, so one of us sees
	 * the other. */
	if (atomic_load_explicit(&r->c->cons_waiting, memory_order_seq_cst)) {
		atomic_fetch_add_explicit(&r->c->data_seq, 1,
					  memory_order_seq_cst);
		futex(&r->c->data_seq, FUTEX_WAKE, INT_MAX, NULL);
	}
}

static void wake_producers(mmds_ring *r)
{
	if (atomic_load_explicit(&r->c->prod_waiting, memory_order_seq_cst)) {
		atomic_fetch_add_explicit(&r->c->space_seq, 1,
					  memory_order_seq_cst);
		futex(&r->c->space_seq, FUTEX_WAKE, INT_MAX, NULL);
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
	/* The control block is all zeros at creation (a fresh file is). */
	memset((char *)mmds_map_data(m) + RING_CTRL_OFF, 0,
	       RING_DATA_OFF - RING_CTRL_OFF);
	return mmds_map_write(m, 0, &h, sizeof(h));
}

static int register_slot(mmds_ring *r, struct ring_slot *s, bool takeover)
{
	uint64_t cur = atomic_load_explicit(&s->pid, memory_order_acquire);

	if (cur != 0 && !takeover && slot_alive(s, 0))
		return -EBUSY;
	if (!atomic_compare_exchange_strong(&s->pid, &cur, r->self_pid))
		return -EBUSY; /* someone else took it just now */
	atomic_store_explicit(&s->claim_len, 0, memory_order_relaxed);
	atomic_store_explicit(&s->start, r->self_start, memory_order_relaxed);
	atomic_store_explicit(&s->heartbeat, now_ns(), memory_order_relaxed);
	r->slot = s;
	return 0;
}

/* Whether a slot holds no claim the consumer may still have to repair:
 * none, or one entirely below the consumer's position. */
static bool claim_done(struct ring_ctrl *c, struct ring_slot *s)
{
	uint64_t cl = atomic_load(&s->claim_len);
	uint64_t cp = atomic_load(&s->claim_pos);
	uint64_t head = atomic_load(&c->head);

	return cl == 0 || (head - cp >= cl && head - cp <= ((uint64_t)1 << 62));
}

static int register_role(mmds_ring *r, bool takeover)
{
	struct ring_ctrl *c = r->c;

	if (r->role == MMDS_RING_CONSUMER)
		return register_slot(r, &c->consumer, takeover);
	if (r->role != MMDS_RING_PRODUCER)
		return 0;
	if (r->mode == MMDS_RING_SPSC)
		return register_slot(r, &c->producers[0], takeover);
	/* MPSC: a free slot, else one of a dead producer */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++) {
			struct ring_slot *s = &c->producers[i];
			uint64_t pid = atomic_load(&s->pid);

			if (pass == 0 && pid != 0)
				continue;
			/* A dead slot's claim may still be needed by
			 * mmds_ring_repair(), until the consumer is past it. */
			if (pass == 1 && !claim_done(c, s))
				continue;
			if (register_slot(r, s, false) == 0)
				return 0;
		}
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

/* Validate the mapped file and set r up.  The map is r->map. */
static int attach(mmds_ring *r, const mmds_ring_opts *o)
{
	struct mmds__fmt_header h;
	struct ring_params p;
	uint64_t size = mmds_map_size(r->map), head, tail, rel;
	char st;
	int rc;

	rc = mmds__fmt_check(mmds_map_data(r->map), size, MMDS__MAGIC_RING,
			     RING_VERSION, &h);
	if (rc < 0)
		return rc;
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
	r->self_pid = (uint64_t)getpid();
	if (proc_stat(r->self_pid, &st, &r->self_start) != 0)
		r->self_start = 0;

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
			atomic_store(&r->c->head, rel);
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
	rc = attach(r, o);
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
		.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL,
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

int mmds_ring_close(mmds_ring *r)
{
	int rc;

	if (r == NULL)
		return 0;
	if (r->claimed)
		mmds_ring_abort(r);
	if (r->slot) {
		uint64_t me = r->self_pid;

		atomic_store_explicit(&r->slot->claim_len, 0,
				      memory_order_release);
		atomic_compare_exchange_strong(&r->slot->pid, &me, 0);
	}
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

/* Room for need more bytes at tail t?  0, -EAGAIN or -EBADMSG. */
static int room_for(mmds_ring *r, uint64_t t, uint64_t need)
{
	uint64_t h;

	if (t - r->head_cache <= r->cap && t + need - r->head_cache <= r->cap)
		return 0;
	h = atomic_load_explicit(&r->c->head, memory_order_acquire);
	r->head_cache = h; /* even if bad: it is checked again next time */
	if (h & 7 || t - h > r->cap)
		return -EBADMSG;
	return t + need - h <= r->cap ? 0 : -EAGAIN;
}

/* Reserve a record of len bytes: on success r->claim_pos/claim_end are
 * set, padding is written, and (MPSC) the header says CLAIMED. */
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
		if (pad)
			atomic_store_explicit(hdr_at(r, t),
					      mk_hdr(ST_PADDING, pad - 8, 0),
					      memory_order_relaxed);
	} else {
		struct ring_slot *s = r->slot;
		int bad = 0;

		t = atomic_load_explicit(&r->c->tail, memory_order_acquire);
		for (;;) {
			if (t & 7)
				return -EBADMSG;
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
			if (rc < 0) {
				/* withdraw a claim a failed CAS left behind */
				if (s)
					atomic_store_explicit(&s->claim_len, 0,
							      memory_order_relaxed);
				return rc;
			}
			if (s) {
				atomic_store_explicit(&s->claim_pos, t,
						      memory_order_relaxed);
				atomic_store_explicit(&s->claim_len, need,
						      memory_order_relaxed);
			}
			if (atomic_compare_exchange_weak_explicit(
				    &r->c->tail, &t, t + need,
				    memory_order_seq_cst, memory_order_acquire))
				break;
		}
		if (pad)
			atomic_store_explicit(hdr_at(r, t),
					      mk_hdr(ST_PADDING, pad - 8, 0),
					      memory_order_release);
		atomic_store_explicit(hdr_at(r, t + pad),
				      mk_hdr(ST_CLAIMED, len,
					     (uint32_t)r->self_pid),
				      memory_order_release);
		if (s)
			atomic_store_explicit(&s->claim_len, 0,
					      memory_order_release);
	}
	r->claimed = 1;
	r->claim_pos = t + pad;
	r->claim_end = t + need;
	r->claim_len = (uint32_t)len;
	return 0;
}

static void publish(mmds_ring *r, uint32_t state, uint32_t type)
{
	uint64_t h = mk_hdr(state, r->claim_len, type);

	r->claimed = 0;
	if (state == ST_PADDING)
		h = mk_hdr(ST_PADDING, rec_size(r->claim_len) - 8, 0);
	if (r->mode == MMDS_RING_SPSC) {
		atomic_store_explicit(hdr_at(r, r->claim_pos), h,
				      memory_order_relaxed);
		r->tail = r->claim_end;
		atomic_store_explicit(&r->c->tail, r->tail,
				      memory_order_seq_cst);
	} else {
		atomic_store_explicit(hdr_at(r, r->claim_pos), h,
				      memory_order_seq_cst);
	}
	wake_consumer(r);
	tick(r);
}

static void *payload(mmds_ring *r)
{
	return r->data + (r->claim_pos & r->mask) + 8;
}

int mmds_ring_claim(mmds_ring *r, size_t len, void **data)
{
	int rc;

	if (r == NULL || data == NULL)
		return -EINVAL;
	rc = reserve(r, len);
	if (rc == 0)
		*data = payload(r);
	return rc;
}

int mmds_ring_commit(mmds_ring *r, uint32_t type)
{
	if (r == NULL || !r->claimed)
		return -EINVAL;
	publish(r, ST_COMMITTED, type);
	return 0;
}

int mmds_ring_abort(mmds_ring *r)
{
	if (r == NULL || !r->claimed)
		return -EINVAL;
	if (r->mode == MMDS_RING_SPSC) {
		r->claimed = 0; /* nothing was published */
		return 0;
	}
	publish(r, ST_PADDING, 0);
	return 0;
}

int mmds_ring_push(mmds_ring *r, uint32_t type, const void *buf, size_t len)
{
	int rc;

	if (r == NULL || (buf == NULL && len > 0))
		return -EINVAL;
	rc = reserve(r, len);
	if (rc < 0)
		return rc;
	if (len)
		memcpy(payload(r), buf, len);
	publish(r, ST_COMMITTED, type);
	return 0;
}

int mmds_ring_pushv(mmds_ring *r, uint32_t type, const struct iovec *iov,
		    int iovcnt)
{
	uint64_t total = 0;
	unsigned char *p;
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
	rc = reserve(r, total);
	if (rc < 0)
		return rc;
	p = payload(r);
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len)
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	publish(r, ST_COMMITTED, type);
	return 0;
}

/* ---- consumer ------------------------------------------------------------ */

/*
 * The message at the read cursor, skipping padding.  0 with *hdr and the
 * record's size, -EAGAIN when none is ready, -EBADMSG when the shared
 * memory holds something impossible.
 */
static int next_record(mmds_ring *r, uint64_t *hdr, uint64_t *size)
{
	for (;;) {
		uint64_t off, lim, h, len;
		uint32_t st;

		if (r->read == r->tail_cache) {
			uint64_t t = atomic_load_explicit(&r->c->tail,
							  memory_order_acquire);

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
		h = atomic_load_explicit(hdr_at(r, r->read),
					 memory_order_acquire);
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

static void release_to(mmds_ring *r, uint64_t to)
{
	if (to == r->head)
		return;
	if (r->mode == MMDS_RING_MPSC) {
		atomic_store_explicit(&r->c->release_to, to,
				      memory_order_relaxed);
		zero_range(r, r->head, to);
	} else {
		atomic_store_explicit(&r->c->release_to, to,
				      memory_order_relaxed);
	}
	r->head = to;
	atomic_store_explicit(&r->c->head, to, memory_order_seq_cst);
	wake_producers(r);
	tick(r);
}

int mmds_ring_release(mmds_ring *r)
{
	int n;

	if (!consumer_ok(r))
		return -EINVAL;
	n = r->npeeked;
	release_to(r, r->read);
	r->npeeked = 0;
	return n;
}

int mmds_ring_peek(mmds_ring *r, mmds_ring_msg *msg)
{
	uint64_t h, size;
	int rc;

	if (!consumer_ok(r) || msg == NULL)
		return -EINVAL;
	rc = next_record(r, &h, &size);
	if (rc < 0)
		return rc;
	msg->data = r->data + (r->read & r->mask) + 8;
	msg->len = (uint32_t)h & RING_LEN_MASK;
	msg->type = (uint32_t)(h >> 32);
	r->read += size;
	r->npeeked++;
	return 0;
}

ssize_t mmds_ring_pop(mmds_ring *r, void *buf, size_t cap, uint32_t *type)
{
	uint64_t h, size;
	size_t len;
	int rc;

	if (!consumer_ok(r) || (buf == NULL && cap > 0))
		return -EINVAL;
	rc = next_record(r, &h, &size);
	if (rc < 0)
		return rc;
	len = (uint32_t)h & RING_LEN_MASK;
	if (len > cap)
		return -EMSGSIZE;
	if (len)
		memcpy(buf, r->data + (r->read & r->mask) + 8, len);
	if (type)
		*type = (uint32_t)(h >> 32);
	r->read += size;
	r->npeeked = 0;
	release_to(r, r->read);
	return (ssize_t)len;
}

ssize_t mmds_ring_read_batch(mmds_ring *r, size_t limit,
			     int (*fn)(void *arg, const mmds_ring_msg *msg),
			     void *arg)
{
	mmds_ring_msg msg;
	ssize_t n = 0;
	int rc = 0;

	if (!consumer_ok(r) || fn == NULL)
		return -EINVAL;
	while (limit == 0 || (size_t)n < limit) {
		rc = mmds_ring_peek(r, &msg);
		if (rc < 0)
			break;
		n++;
		if (fn(arg, &msg) != 0)
			break;
	}
	mmds_ring_release(r);
	if (rc < 0 && rc != -EAGAIN && n == 0)
		return rc;
	return n;
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
		d.at = now_ns() + (uint64_t)timeout_ns;
	return d;
}

/* Sleep on w while it holds val, up to the deadline (at most one chunk).
 * 0 to check again, -ETIMEDOUT, -EINTR. */
static int sleep_on(_Atomic uint32_t *w, uint32_t val, struct deadline d)
{
	int64_t left = RING_SLEEP_CHUNK_NS;
	struct timespec ts;

	if (!d.forever) {
		uint64_t now = now_ns();

		if (now >= d.at)
			return -ETIMEDOUT;
		if ((int64_t)(d.at - now) < left)
			left = (int64_t)(d.at - now);
	}
	ts.tv_sec = left / 1000000000;
	ts.tv_nsec = left % 1000000000;
	if (futex(w, FUTEX_WAIT, val, &ts) != 0 && errno == EINTR)
		return -EINTR;
	return 0;
}

static int data_ready(mmds_ring *r)
{
	uint64_t h, size;

	return next_record(r, &h, &size);
}

int mmds_ring_wait_data(mmds_ring *r, int64_t timeout_ns)
{
	struct deadline d;
	int rc;

	if (!consumer_ok(r))
		return -EINVAL;
	for (int i = 0; i < RING_SPIN; i++) {
		rc = data_ready(r);
		if (rc != -EAGAIN)
			return rc;
		if (timeout_ns == 0)
			return -ETIMEDOUT;
		cpu_relax();
	}
	d = deadline_in(timeout_ns);
	for (;;) {
		uint32_t seq = atomic_load(&r->c->data_seq);

		atomic_store(&r->c->cons_waiting, 1);
		rc = data_ready(r);
		if (rc == -EAGAIN)
			rc = sleep_on(&r->c->data_seq, seq, d);
		atomic_store(&r->c->cons_waiting, 0);
		beat(r);
		if (rc != 0)
			return rc;
		rc = data_ready(r);
		if (rc != -EAGAIN)
			return rc;
	}
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
			t = atomic_load(&r->c->tail);
		else
			break;
		off = t & r->mask;
		pad = r->cap - off < size ? r->cap - off : 0;
	}
	return rc;
}

int mmds_ring_wait_space(mmds_ring *r, size_t len, int64_t timeout_ns)
{
	struct deadline d;
	int rc;

	if (r == NULL || r->role != MMDS_RING_PRODUCER)
		return -EINVAL;
	if (len > r->max_msg)
		return -EMSGSIZE;
	for (int i = 0; i < RING_SPIN; i++) {
		rc = space_ready(r, len);
		if (rc != -EAGAIN)
			return rc;
		if (timeout_ns == 0)
			return -ETIMEDOUT;
		cpu_relax();
	}
	d = deadline_in(timeout_ns);
	for (;;) {
		uint32_t seq = atomic_load(&r->c->space_seq);

		atomic_fetch_add(&r->c->prod_waiting, 1);
		rc = space_ready(r, len);
		if (rc == -EAGAIN)
			rc = sleep_on(&r->c->space_seq, seq, d);
		atomic_fetch_sub(&r->c->prod_waiting, 1);
		beat(r);
		if (rc != 0)
			return rc;
		rc = space_ready(r, len);
		if (rc != -EAGAIN)
			return rc;
	}
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
			uint64_t now = now_ns();

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
			uint64_t now = now_ns();

			left = now >= d.at ? 0 : (int64_t)(d.at - now);
		}
		rc = mmds_ring_wait_data(r, left);
		if (rc < 0)
			return rc;
	}
}

/* ---- liveness and repair ------------------------------------------------- */

int mmds_ring_heartbeat(mmds_ring *r)
{
	if (r == NULL)
		return -EINVAL;
	beat(r);
	return 0;
}

int mmds_ring_peer_alive(const mmds_ring *r, int64_t stale_ns)
{
	int n = 0;

	if (r == NULL)
		return -EINVAL;
	if (r->role == MMDS_RING_PRODUCER)
		return slot_alive(&r->c->consumer, stale_ns) ? 1 : 0;
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++)
		if (slot_alive(&r->c->producers[i], stale_ns))
			n++;
	return n;
}

/* The registered start time of pid among the producer slots (0 unknown). */
static uint64_t start_of(const mmds_ring *r, uint64_t pid)
{
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++)
		if (atomic_load(&r->c->producers[i].pid) == pid)
			return atomic_load(&r->c->producers[i].start);
	return 0;
}

/* Turn [from, to) into padding records, none crossing the end. */
static void pad_range(mmds_ring *r, uint64_t from, uint64_t to)
{
	while (from < to) {
		uint64_t off = from & r->mask, n = to - from;

		if (n > r->cap - off)
			n = r->cap - off;
		atomic_store_explicit(hdr_at(r, from),
				      mk_hdr(ST_PADDING, n - 8, 0),
				      memory_order_release);
		from += n;
	}
}

int mmds_ring_repair(mmds_ring *r)
{
	uint64_t h, size, pos, end = 0;
	uint32_t st, len;
	bool live = false, found = false;
	int rc;

	if (!consumer_ok(r))
		return -EINVAL;
	rc = next_record(r, &h, &size);
	if (rc != -EAGAIN)
		return rc < 0 ? rc : 0;
	pos = r->read;
	if (pos == r->tail_cache || r->mode == MMDS_RING_SPSC)
		return 0;
	/* A claimer that died after its CAS: look at the slots first (their
	 * claims are cleared after the header is written). */
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++) {
		struct ring_slot *s = &r->c->producers[i];
		uint64_t cl = atomic_load_explicit(&s->claim_len,
						   memory_order_acquire);
		uint64_t cp = atomic_load(&s->claim_pos);

		if (cl == 0 || pos - cp >= cl)
			continue;
		if (slot_alive(s, 0)) {
			live = true;
		} else if (!found || cp + cl == end) {
			found = true;
			end = cp + cl;
		} else {
			return -ENOTRECOVERABLE; /* two dead claimers disagree */
		}
	}
	h = atomic_load_explicit(hdr_at(r, pos), memory_order_acquire);
	st = (uint32_t)h & ST_MASK;
	len = (uint32_t)h & RING_LEN_MASK;
	if (st == ST_CLAIMED) {
		uint64_t pid = h >> 32;
		uint64_t lim = r->tail_cache - pos;

		if (lim > r->cap - (pos & r->mask))
			lim = r->cap - (pos & r->mask);
		if (len > r->max_msg || rec_size(len) > lim)
			return -EBADMSG;
		if (pid_alive(pid, start_of(r, pid)))
			return -EAGAIN;
		if (!atomic_compare_exchange_strong(
			    hdr_at(r, pos), &h,
			    mk_hdr(ST_PADDING, rec_size(len) - 8, 0)))
			return 0; /* it changed: committed after all */
		return 1;
	}
	if (st != ST_EMPTY)
		return 0;
	if (live || !found)
		return -EAGAIN;
	if (end & 7 || end - pos > r->tail_cache - pos)
		return -EBADMSG;
	pad_range(r, pos, end);
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++) {
		struct ring_slot *s = &r->c->producers[i];
		uint64_t cp = atomic_load(&s->claim_pos);

		if (atomic_load(&s->claim_len) && pos - cp <
		    atomic_load(&s->claim_len))
			atomic_store(&s->claim_len, 0);
	}
	return 1;
}

/* ---- information --------------------------------------------------------- */

static void peer_info(const struct ring_slot *s, mmds_ring_peer *p)
{
	p->pid = (int64_t)atomic_load(&s->pid);
	p->alive = p->pid != 0 && slot_alive(s, 0);
	p->heartbeat_ns = atomic_load(&s->heartbeat);
}

int mmds_ring_get_info(const mmds_ring *r, mmds_ring_info *info)
{
	int rc;

	if (r == NULL || info == NULL)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->mode = r->mode;
	info->capacity = r->cap;
	info->max_message = r->max_msg;
	info->created_ns = r->created_ns;
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
