/* test_ring.c - the IPC ring buffer (mmds/ring.h): every API at every size,
 * wrap-around, full and empty, SPSC and MPSC between forked processes,
 * blocking waits, liveness, a consumer killed and restarted, a producer
 * killed holding a claim, and hostile shared memory.
 *
 * Some tests reach into the shared memory by its documented layout
 * (docs/FORMAT.md, "Ring"): the control block at 4096, the data at 8192. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <mmds/map.h>
#include <mmds/ring.h>

#include "t_util.h"

Suite *ring_suite(void);

#define NOT_NULL_RING ((mmds_ring *)(uintptr_t)0x10)

/* The documented layout. */
#define CTRL 4096u
#define DATA 8192u
#define OFF_TAIL (CTRL + 0)
#define OFF_HEAD (CTRL + 128)
#define OFF_RELEASE_TO (CTRL + 136)
#define OFF_CONSUMER (CTRL + 512)
#define OFF_PRODUCER(i) (CTRL + 640 + 128 * (i))
#define SLOT_OWNER 0 /* owner word: pid | incarnation tag << 32 */
#define SLOT_INTENT_POS 24
#define SLOT_INTENT_LEN 32
#define ST_CLAIMED (1u << 30)
#define ST_COMMITTED (2u << 30)
#define ST_PADDING (3u << 30)

/* ---- helpers --------------------------------------------------------------- */

static long iterations(long dflt)
{
	const char *s = getenv("MMDS_TEST_ITERATIONS");
	long v = s ? strtol(s, NULL, 10) : 0;

	return v > 0 ? v : dflt;
}

static mmds_ring *ring_new(const char *path, unsigned role, unsigned mode,
			   uint64_t cap)
{
	mmds_ring *r = NULL;
	int rc = mmds_ring_open(&r, path, &(mmds_ring_opts){
		.role = role, .flags = MMDS_RING_CREATE, .mode = mode,
		.capacity = cap });

	ck_assert_msg(rc == 0, "open %s: %s", path, mmds_strerror(rc));
	return r;
}

static mmds_ring *ring_at(const char *path, unsigned role)
{
	mmds_ring *r = NULL;
	int rc = mmds_ring_open(&r, path, &(mmds_ring_opts){ .role = role });

	ck_assert_msg(rc == 0, "open %s: %s", path, mmds_strerror(rc));
	return r;
}

/* A raw view of the ring file, to read and poke the shared memory. */
static mmds_map *raw(const char *path)
{
	mmds_map *m = NULL;

	ck_assert_int_eq(mmds_map_open(&m, path, NULL), 0);
	return m;
}

static uint64_t raw_load(mmds_map *m, uint64_t off)
{
	uint64_t v = 0;

	ck_assert_int_eq(mmds_map_load64(m, off, &v), 0);
	return v;
}

static void raw_store(mmds_map *m, uint64_t off, uint64_t v)
{
	ck_assert_int_eq(mmds_map_store64(m, off, v), 0);
}

/* Payload byte i of message (id, seq). */
static unsigned char pbyte(uint32_t id, uint32_t seq, size_t i)
{
	return (unsigned char)(seq * 31u + id * 101u + i * 7u + (i >> 8));
}

static void fill(void *buf, uint32_t id, uint32_t seq, size_t len)
{
	unsigned char *b = buf;

	for (size_t i = 0; i < len; i++)
		b[i] = pbyte(id, seq, i);
	if (len >= 8) {
		memcpy(b, &id, 4);
		memcpy(b + 4, &seq, 4);
	}
}

/* 1 if buf is message (id, seq) of len bytes. */
static int check(const void *buf, uint32_t id, uint32_t seq, size_t len)
{
	const unsigned char *b = buf;
	uint32_t v;

	if (len >= 8) {
		memcpy(&v, b, 4);
		if (v != id)
			return 0;
		memcpy(&v, b + 4, 4);
		if (v != seq)
			return 0;
	}
	for (size_t i = len >= 8 ? 8 : 0; i < len; i++)
		if (b[i] != pbyte(id, seq, i))
			return 0;
	return 1;
}

/* A message length for (id, seq): sizes cover 8..max. */
static size_t msg_len(uint32_t id, uint32_t seq, size_t max)
{
	return 8 + (size_t)((seq * 2654435761u + id * 97u) % (max - 7));
}

/* A one-way "ready" signal from a child that may be killed afterwards (a
 * barrier must not be destroyed while a killed process may still count as
 * inside it). */
static _Atomic int *flag_new(void)
{
	_Atomic int *f = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(f, MAP_FAILED);
	return f;
}

static void flag_wait(_Atomic int *f)
{
	while (atomic_load(f) == 0)
		usleep(100);
}

/* ---- open and options ------------------------------------------------------ */

START_TEST(test_create_then_open_reports_parameters)
{
	mmds_ring *r = ring_new(t_path("r"), MMDS_RING_CONSUMER, MMDS_RING_MPSC,
				4096);
	mmds_ring *o = ring_at(t_path("r"), MMDS_RING_OBSERVER);
	mmds_ring_info in;
	struct stat sb;

	ck_assert_int_eq(mmds_ring_get_info(o, &in), 0);
	ck_assert_uint_eq(in.mode, MMDS_RING_MPSC);
	ck_assert_uint_eq(in.capacity, 4096);
	ck_assert_uint_eq(in.max_message, 4096 / 2 - 8);
	ck_assert_uint_eq(in.used, 0);
	ck_assert_int_eq(in.consumer.pid, getpid());
	ck_assert_int_eq(in.consumer.alive, 1);
	ck_assert_int_eq(stat(t_path("r"), &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(sb.st_size, 8192 + 4096);
	ck_assert_uint_eq(mmds_ring_max_message(r), 2040);
	ck_assert_int_eq(mmds_ring_close(o), 0);
	ck_assert_int_eq(mmds_ring_close(r), 0);
}
END_TEST

START_TEST(test_open_rejects_bad_options)
{
	mmds_ring *r = NOT_NULL_RING;
	const char *p = t_path("r");

	ck_assert_int_eq(mmds_ring_open(&r, p, NULL), -EINVAL);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(mmds_ring_open(&r, p, &(mmds_ring_opts){ 0 }), -EINVAL);
	ck_assert_int_eq(mmds_ring_open(&r, p, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER, .flags = MMDS_RING_CREATE,
		.capacity = 1000 }), -EINVAL);
	ck_assert_int_eq(mmds_ring_open(&r, p, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER, .flags = MMDS_RING_CREATE,
		.capacity = 128 }), -EINVAL);
	ck_assert_int_eq(mmds_ring_open(&r, p, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER, .flags = MMDS_RING_CREATE,
		.capacity = 1024, .max_message = 600 }), -EINVAL);
	ck_assert_int_eq(mmds_ring_open(&r, p, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER, .flags = MMDS_RING_CREATE,
		.mode = 7 }), -EINVAL);
	ck_assert_int_eq(mmds_ring_open(&r, p, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER, .flags = MMDS_RING_EXCL }), -EINVAL);
	ck_assert_int_eq(mmds_ring_open(&r, p, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER }), -ENOENT);
	ck_assert_ptr_null(r);
	ck_assert_int_eq(access(p, F_OK), -1); /* nothing left behind */
	ck_assert_int_eq(mmds_ring_close(NULL), 0);
}
END_TEST

START_TEST(test_create_excl_on_existing_ring_is_eexist)
{
	mmds_ring *r = ring_new(t_path("r"), MMDS_RING_PRODUCER, 0, 1024);
	mmds_ring *r2 = NOT_NULL_RING;

	ck_assert_int_eq(mmds_ring_open(&r2, t_path("r"), &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER,
		.flags = MMDS_RING_CREATE | MMDS_RING_EXCL }), -EEXIST);
	ck_assert_ptr_null(r2);
	/* plain CREATE opens the existing ring and keeps its capacity */
	r2 = ring_new(t_path("r"), MMDS_RING_CONSUMER, 0, 1 << 16);
	ck_assert_uint_eq(mmds_ring_max_message(r2), 1024 / 2 - 8);
	mmds_ring_close(r2);
	mmds_ring_close(r);
}
END_TEST

START_TEST(test_second_live_consumer_is_ebusy_unless_takeover)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, 0, 1024);
	mmds_ring *c2 = NOT_NULL_RING, *p2 = NULL;
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);

	ck_assert_int_eq(mmds_ring_open(&c2, t_path("r"), &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER }), -EBUSY);
	ck_assert_ptr_null(c2);
	ck_assert_int_eq(mmds_ring_open(&p2, t_path("r"), &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER }), -EBUSY); /* SPSC: one producer */
	ck_assert_int_eq(mmds_ring_open(&c2, t_path("r"), &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER, .flags = MMDS_RING_TAKEOVER }), 0);
	mmds_ring_close(c2);
	mmds_ring_close(c);
	/* closed: the role is free again */
	c = ring_at(t_path("r"), MMDS_RING_CONSUMER);
	mmds_ring_close(c);
	mmds_ring_close(p);
}
END_TEST

START_TEST(test_dead_consumer_role_is_taken_without_takeover)
{
	const char *p = t_path("r");
	mmds_ring *r = ring_new(p, MMDS_RING_PRODUCER, 0, 1024);
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *c = NULL;

		T_CHILD_ASSERT(mmds_ring_open(&c, p, &(mmds_ring_opts){
			.role = MMDS_RING_CONSUMER }) == 0);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(mmds_ring_peer_alive(r, 0), 0);
	mmds_ring_close(ring_at(p, MMDS_RING_CONSUMER));
	mmds_ring_close(r);
}
END_TEST

START_TEST(test_role_misuse_is_einval)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, 0, 1024);
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	mmds_ring *o = ring_at(t_path("r"), MMDS_RING_OBSERVER);
	mmds_ring_msg msg;
	char buf[8];
	void *d;

	ck_assert_int_eq(mmds_ring_push(c, 0, "x", 1), -EINVAL);
	ck_assert_int_eq(mmds_ring_push(o, 0, "x", 1), -EINVAL);
	ck_assert_int_eq(mmds_ring_pop(p, buf, sizeof(buf), NULL), -EINVAL);
	ck_assert_int_eq(mmds_ring_peek(o, &msg), -EINVAL);
	ck_assert_int_eq(mmds_ring_push(p, 0, NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_ring_commit(p, 0), -EINVAL);
	ck_assert_int_eq(mmds_ring_abort(p), -EINVAL);
	ck_assert_int_eq(mmds_ring_claim(p, 8, &d), 0);
	ck_assert_int_eq(mmds_ring_claim(p, 8, &d), -EINVAL);
	ck_assert_int_eq(mmds_ring_push(p, 0, "x", 1), -EINVAL);
	ck_assert_int_eq(mmds_ring_abort(p), 0);
	ck_assert_int_eq(mmds_ring_push(p, 0, buf, 513), -EMSGSIZE);
	ck_assert_int_eq(mmds_ring_wait_space(p, 513, 0), -EMSGSIZE);
	ck_assert_int_eq(mmds_ring_wait_data(p, 0), -EINVAL);
	ck_assert_int_eq(mmds_ring_pop(c, buf, 0, NULL), -EAGAIN);
	mmds_ring_close(o);
	mmds_ring_close(p);
	mmds_ring_close(c);
}
END_TEST

/* ---- round trips ----------------------------------------------------------- */

enum api { API_PUSH, API_PUSHV, API_CLAIM, API_COUNT };

static void produce(mmds_ring *p, enum api api, uint32_t seq, size_t len)
{
	unsigned char buf[4096];
	void *d = NULL;

	fill(buf, 1, seq, len);
	if (api == API_PUSH) {
		ck_assert_int_eq(mmds_ring_push(p, seq, buf, len), 0);
	} else if (api == API_PUSHV) {
		struct iovec iov[3] = { { buf, len / 3 },
					{ buf + len / 3, len / 3 },
					{ buf + 2 * (len / 3), len - 2 * (len / 3) } };
		ck_assert_int_eq(mmds_ring_pushv(p, seq, iov, 3), 0);
	} else {
		ck_assert_int_eq(mmds_ring_claim(p, len, &d), 0);
		ck_assert_uint_eq((uintptr_t)d % 8, 0);
		memcpy(d, buf, len);
		ck_assert_int_eq(mmds_ring_commit(p, seq), 0);
	}
}

/* Consume one message with API variant v (0 pop, 1 peek/release, 2 batch)
 * and check it. */
struct batch_arg {
	uint32_t seq;
	size_t len;
	int seen;
};

static int batch_fn(void *arg, const mmds_ring_msg *msg)
{
	struct batch_arg *a = arg;

	ck_assert_uint_eq(msg->type, a->seq);
	ck_assert_uint_eq(msg->len, a->len);
	ck_assert(check(msg->data, 1, a->seq, a->len));
	a->seen++;
	return 0;
}

static void consume(mmds_ring *c, int v, uint32_t seq, size_t len)
{
	unsigned char buf[4096];
	mmds_ring_msg msg;
	uint32_t type = 0;

	if (v == 0) {
		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type),
				 (ssize_t)len);
		ck_assert_uint_eq(type, seq);
		ck_assert(check(buf, 1, seq, len));
	} else if (v == 1) {
		ck_assert_int_eq(mmds_ring_peek(c, &msg), 0);
		ck_assert_uint_eq(msg.len, len);
		ck_assert_uint_eq(msg.type, seq);
		ck_assert(check(msg.data, 1, seq, len));
		ck_assert_int_eq(mmds_ring_release(c), 1);
	} else {
		struct batch_arg a = { seq, len, 0 };

		ck_assert_int_eq(mmds_ring_read_batch(c, 1, batch_fn, &a), 1);
		ck_assert_int_eq(a.seen, 1);
	}
}

static void round_trip_all(unsigned mode)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, mode, 2048);
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	size_t max = mmds_ring_max_message(p);
	unsigned char buf[8];
	uint32_t seq = 0;

	for (int api = 0; api < API_COUNT; api++)
		for (int v = 0; v < 3; v++)
			for (size_t len = 0; len <= max; len++, seq++) {
				produce(p, api, seq, len);
				consume(c, v, seq, len);
			}
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	mmds_ring_close(p);
	mmds_ring_close(c);
}

START_TEST(test_every_api_round_trips_every_size_spsc)
{
	round_trip_all(MMDS_RING_SPSC);
}
END_TEST

START_TEST(test_every_api_round_trips_every_size_mpsc)
{
	round_trip_all(MMDS_RING_MPSC);
}
END_TEST

/* Fill the tail to every 8-byte offset, then push a message that cannot
 * fit before the end: it lands at the start after a padding record. */
static void wrap_at_every_alignment(unsigned mode)
{
	const uint64_t cap = 512;
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, mode, cap);
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	unsigned char buf[512];
	mmds_ring_info in;
	uint32_t seq = 0;

	for (uint64_t off = 0; off < cap; off += 8) {
		for (size_t len = 0; len <= 200; len += 37, seq++) {
			uint64_t before;

			/* move the tail to offset `off` with small records */
			ck_assert_int_eq(mmds_ring_get_info(c, &in), 0);
			while ((in.tail & (cap - 1)) != off) {
				ck_assert_int_eq(mmds_ring_push(p, 0, NULL, 0), 0);
				ck_assert_int_eq(mmds_ring_pop(c, NULL, 0, NULL), 0);
				ck_assert_int_eq(mmds_ring_get_info(c, &in), 0);
			}
			before = in.tail;
			produce(p, API_PUSH, seq, len);
			ck_assert_int_eq(mmds_ring_get_info(c, &in), 0);
			if (cap - off < 8 + ((len + 7) & ~7u))
				ck_assert_uint_eq(in.tail, before + (cap - off) +
						  8 + ((len + 7) & ~7u));
			else
				ck_assert_uint_eq(in.tail,
						  before + 8 + ((len + 7) & ~7u));
			ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL),
					 (ssize_t)len);
			ck_assert(check(buf, 1, seq, len));
		}
	}
	mmds_ring_close(p);
	mmds_ring_close(c);
}

START_TEST(test_wrap_pads_at_every_alignment_spsc)
{
	wrap_at_every_alignment(MMDS_RING_SPSC);
}
END_TEST

START_TEST(test_wrap_pads_at_every_alignment_mpsc)
{
	wrap_at_every_alignment(MMDS_RING_MPSC);
}
END_TEST

static void full_and_empty(unsigned mode)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, mode, 1024);
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	unsigned char buf[64];
	mmds_ring_msg msg;
	uint32_t n = 0;
	void *d;

	ck_assert_int_eq(mmds_ring_peek(c, &msg), -EAGAIN);
	fill(buf, 1, 0, 56);
	/* 64-byte records: exactly 16 fit */
	while (mmds_ring_push(p, n, buf, 56) == 0)
		n++;
	ck_assert_uint_eq(n, 16);
	ck_assert_int_eq(mmds_ring_push(p, 0, NULL, 0), -EAGAIN);
	ck_assert_int_eq(mmds_ring_claim(p, 0, &d), -EAGAIN);
	ck_assert_int_eq(mmds_ring_wait_space(p, 0, 0), -ETIMEDOUT);
	/* peeking frees nothing; releasing does */
	ck_assert_int_eq(mmds_ring_peek(c, &msg), 0);
	ck_assert_int_eq(mmds_ring_push(p, 0, buf, 56), -EAGAIN);
	ck_assert_int_eq(mmds_ring_release(c), 1);
	ck_assert_int_eq(mmds_ring_push(p, 16, buf, 56), 0);
	for (uint32_t i = 1; i <= 16; i++) {
		uint32_t type;

		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 56);
		ck_assert_uint_eq(type, i);
	}
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	ck_assert_int_eq(mmds_ring_wait_data(c, 0), -ETIMEDOUT);
	mmds_ring_close(p);
	mmds_ring_close(c);
}

START_TEST(test_full_ring_is_eagain_and_empty_ring_is_eagain_spsc)
{
	full_and_empty(MMDS_RING_SPSC);
}
END_TEST

START_TEST(test_full_ring_is_eagain_and_empty_ring_is_eagain_mpsc)
{
	full_and_empty(MMDS_RING_MPSC);
}
END_TEST

START_TEST(test_pop_into_small_buffer_is_emsgsize_and_keeps_message)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, 0, 1024);
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	unsigned char buf[100];

	fill(buf, 1, 5, 100);
	ck_assert_int_eq(mmds_ring_push(p, 5, buf, 100), 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, 99, NULL), -EMSGSIZE);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(mmds_ring_pop(c, buf, 100, NULL), 100);
	ck_assert(check(buf, 1, 5, 100));
	mmds_ring_close(p);
	mmds_ring_close(c);
}
END_TEST

START_TEST(test_aborted_claim_is_never_delivered)
{
	for (unsigned mode = MMDS_RING_SPSC; mode <= MMDS_RING_MPSC; mode++) {
		mmds_ring *c = ring_new(t_path(mode == 1 ? "s" : "m"),
					MMDS_RING_CONSUMER, mode, 1024);
		mmds_ring *p = ring_at(t_path(mode == 1 ? "s" : "m"),
				       MMDS_RING_PRODUCER);
		unsigned char buf[64];
		uint32_t type;
		void *d;

		ck_assert_int_eq(mmds_ring_claim(p, 40, &d), 0);
		memset(d, 0xee, 40);
		ck_assert_int_eq(mmds_ring_abort(p), 0);
		ck_assert_int_eq(mmds_ring_push(p, 9, "hello", 5), 0);
		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 5);
		ck_assert_uint_eq(type, 9);
		ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL),
				 -EAGAIN);
		mmds_ring_close(p);
		mmds_ring_close(c);
	}
}
END_TEST

static int count_fn(void *arg, const mmds_ring_msg *msg)
{
	uint32_t *next = arg;

	ck_assert_uint_eq(msg->type, *next);
	(*next)++;
	return msg->type == 7; /* stop after the 8th */
}

START_TEST(test_batch_honours_limit_and_stop_and_consumes_what_it_saw)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, 0, 4096);
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	uint32_t next = 0;
	mmds_ring_msg msg;

	for (uint32_t i = 0; i < 20; i++)
		ck_assert_int_eq(mmds_ring_push(p, i, &i, sizeof(i)), 0);
	ck_assert_int_eq(mmds_ring_read_batch(c, 3, count_fn, &next), 3);
	ck_assert_int_eq(mmds_ring_read_batch(c, 0, count_fn, &next), 5);
	ck_assert_uint_eq(next, 8);
	ck_assert_int_eq(mmds_ring_read_batch(c, 0, count_fn, &next), 12);
	ck_assert_uint_eq(next, 20);
	ck_assert_int_eq(mmds_ring_read_batch(c, 0, count_fn, &next), 0);
	ck_assert_int_eq(mmds_ring_read_batch(c, 0, NULL, NULL), -EINVAL);
	/* several peeks, one release */
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(mmds_ring_push(p, i, &i, sizeof(i)), 0);
	for (uint32_t i = 0; i < 4; i++) {
		ck_assert_int_eq(mmds_ring_peek(c, &msg), 0);
		ck_assert_uint_eq(msg.type, i);
	}
	ck_assert_int_eq(mmds_ring_peek(c, &msg), -EAGAIN);
	ck_assert_int_eq(mmds_ring_release(c), 4);
	mmds_ring_close(p);
	mmds_ring_close(c);
}
END_TEST

static void push_batch_in_order(unsigned mode)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, mode, 1024);
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	unsigned char bufs[40][48], got[64];
	mmds_ring_msg m[40];
	uint32_t type;
	ssize_t n, k;
	void *d;

	for (uint32_t i = 0; i < 40; i++) {
		fill(bufs[i], 3, i, 1 + i % 48);
		m[i] = (mmds_ring_msg){ .data = bufs[i], .len = 1 + i % 48,
					.type = 100 + i };
	}
	ck_assert_int_eq(mmds_ring_push_batch(p, m, 0), 0);
	/* 1024 bytes hold fewer than 40 of these: it stops when full */
	n = mmds_ring_push_batch(p, m, 40);
	ck_assert_int_gt(n, 10);
	ck_assert_int_lt(n, 40);
	ck_assert_int_eq(mmds_ring_push_batch(p, &m[n], (size_t)(40 - n)),
			 -EAGAIN);
	for (k = 0; k < n; k++) {
		ck_assert_int_eq(mmds_ring_pop(c, got, sizeof(got), &type),
				 (ssize_t)m[k].len);
		ck_assert_uint_eq(type, 100 + (uint32_t)k);
		ck_assert(check(got, 3, (uint32_t)k, m[k].len));
	}
	ck_assert_int_eq(mmds_ring_pop(c, got, sizeof(got), NULL), -EAGAIN);
	/* the rest, from where it stopped */
	ck_assert_int_eq(mmds_ring_push_batch(p, &m[n], (size_t)(40 - n)),
			 40 - n);
	for (k = n; k < 40; k++) {
		ck_assert_int_eq(mmds_ring_pop(c, got, sizeof(got), &type),
				 (ssize_t)m[k].len);
		ck_assert_uint_eq(type, 100 + (uint32_t)k);
		ck_assert(check(got, 3, (uint32_t)k, m[k].len));
	}
	/* an invalid message stops the batch; the ones before it go out */
	m[1].data = NULL;
	ck_assert_int_eq(mmds_ring_push_batch(p, m, 3), 1);
	ck_assert_int_eq(mmds_ring_push_batch(p, &m[1], 2), -EINVAL);
	m[1].data = bufs[1];
	m[1].len = mmds_ring_max_message(p) + 1;
	ck_assert_int_eq(mmds_ring_push_batch(p, &m[1], 2), -EMSGSIZE);
	ck_assert_int_eq(mmds_ring_pop(c, got, sizeof(got), &type), 1);
	ck_assert_uint_eq(type, 100);
	ck_assert_int_eq(mmds_ring_pop(c, got, sizeof(got), NULL), -EAGAIN);
	/* wrong role, NULL arguments, a claim outstanding */
	ck_assert_int_eq(mmds_ring_push_batch(NULL, m, 1), -EINVAL);
	ck_assert_int_eq(mmds_ring_push_batch(p, NULL, 1), -EINVAL);
	ck_assert_int_eq(mmds_ring_push_batch(c, m, 1), -EINVAL);
	ck_assert_int_eq(mmds_ring_claim(p, 8, &d), 0);
	ck_assert_int_eq(mmds_ring_push_batch(p, m, 1), -EINVAL);
	ck_assert_int_eq(mmds_ring_abort(p), 0);
	mmds_ring_close(p);
	mmds_ring_close(c);
}

START_TEST(test_push_batch_publishes_in_order_and_stops_when_full_spsc)
{
	push_batch_in_order(MMDS_RING_SPSC);
}
END_TEST

START_TEST(test_push_batch_publishes_in_order_and_stops_when_full_mpsc)
{
	push_batch_in_order(MMDS_RING_MPSC);
}
END_TEST

START_TEST(test_peek_batch_sees_messages_in_place_until_released)
{
	for (unsigned mode = MMDS_RING_SPSC; mode <= MMDS_RING_MPSC; mode++) {
		const char *path = t_path(mode == 1 ? "s" : "m");
		mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, mode, 4096);
		mmds_ring *p = ring_at(path, MMDS_RING_PRODUCER);
		unsigned char buf[64];
		mmds_ring_msg m[8];
		uint32_t type;

		for (uint32_t i = 0; i < 5; i++) {
			fill(buf, 4, i, 10 + i);
			ck_assert_int_eq(mmds_ring_push(p, i, buf, 10 + i), 0);
		}
		ck_assert_int_eq(mmds_ring_peek_batch(c, m, 0), 0);
		ck_assert_int_eq(mmds_ring_peek_batch(c, m, 3), 3);
		ck_assert_int_eq(mmds_ring_peek_batch(c, &m[3], 5), 2);
		ck_assert_int_eq(mmds_ring_peek_batch(c, &m[5], 3), 0);
		for (uint32_t i = 0; i < 5; i++) {
			ck_assert_uint_eq(m[i].type, i);
			ck_assert_uint_eq(m[i].len, 10 + i);
			ck_assert(check(m[i].data, 4, i, 10 + i));
		}
		/* nothing is consumed before the release */
		ck_assert_int_eq(mmds_ring_release(c), 5);
		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL),
				 -EAGAIN);
		/* a peek batch not released is delivered to the next
		 * consumer */
		ck_assert_int_eq(mmds_ring_push(p, 9, "x", 1), 0);
		ck_assert_int_eq(mmds_ring_peek_batch(c, m, 8), 1);
		mmds_ring_close(c);
		c = ring_at(path, MMDS_RING_CONSUMER);
		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 1);
		ck_assert_uint_eq(type, 9);
		ck_assert_int_eq(mmds_ring_peek_batch(NULL, m, 1), -EINVAL);
		ck_assert_int_eq(mmds_ring_peek_batch(c, NULL, 1), -EINVAL);
		ck_assert_int_eq(mmds_ring_peek_batch(p, m, 1), -EINVAL);
		mmds_ring_close(p);
		mmds_ring_close(c);
	}
}
END_TEST

START_TEST(test_zero_copy_claim_without_shared_access_publishes_on_commit)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, 0, 256);
	mmds_ring *p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	unsigned char buf[128];
	uint32_t type;
	void *d;

	/* round the ring several times: claims at every offset, the end of
	 * the data area (padding, done under the guard) and a full ring */
	for (uint32_t i = 0; i < 200; i++) {
		size_t len = 1 + i % 60;

		ck_assert_int_eq(mmds_ring_claim(p, len, &d), 0);
		ck_assert_int_eq(mmds_ring_claim(p, len, &d), -EINVAL);
		fill(d, 5, i, len);
		if (i % 3 != 0) /* the ring is empty: not published yet */
			ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf),
						       NULL), -EAGAIN);
		ck_assert_int_eq(mmds_ring_commit(p, i), 0);
		ck_assert_int_eq(mmds_ring_commit(p, i), -EINVAL);
		if (i % 3 == 2)
			continue; /* leave some in the ring */
		while (mmds_ring_claim(p, 120, &d) == 0) {
			fill(d, 6, i, 120);
			ck_assert_int_eq(mmds_ring_commit(p, 1000), 0);
		}
		ck_assert_int_eq(mmds_ring_claim(p, 120, &d), -EAGAIN);
		for (;;) {
			ssize_t n = mmds_ring_pop(c, buf, sizeof(buf), &type);

			if (n == -EAGAIN)
				break;
			ck_assert_int_gt(n, 0);
			if (type == 1000)
				ck_assert(check(buf, 6, i, 120));
			else
				ck_assert(check(buf, 5, type, (size_t)n));
		}
	}
	ck_assert_int_eq(mmds_ring_claim(p, mmds_ring_max_message(p) + 1, &d),
			 -EMSGSIZE);
	ck_assert_int_eq(mmds_ring_claim(c, 8, &d), -EINVAL);
	mmds_ring_close(p);
	mmds_ring_close(c);
}
END_TEST

/* ---- across processes ------------------------------------------------------ */

/* Producer process: n messages of varying size, blocking pushes. */
static void producer_child(const char *path, uint32_t id, long n,
			   t_barrier *b)
{
	unsigned char buf[1024];
	mmds_ring *p = NULL;

	T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER }) == 0);
	if (b)
		t_barrier_wait(b);
	for (long s = 0; s < n; s++) {
		size_t len = msg_len(id, (uint32_t)s, sizeof(buf));
		int rc;

		fill(buf, id, (uint32_t)s, len);
		rc = mmds_ring_push_timed(p, id, buf, len, 20000000000LL);
		if (rc != 0)
			fprintf(stderr, "push %u/%ld: %s\n", id, s,
				mmds_strerror(rc));
		T_CHILD_ASSERT(rc == 0);
	}
	mmds_ring_close(p);
	_exit(0);
}

/* Consume until each of nprod producers delivered n messages, checking
 * order per producer and content. */
static void consume_all(mmds_ring *c, unsigned nprod, long n)
{
	long next[8] = { 0 }, total = 0;
	unsigned char buf[1024];

	while (total < (long)nprod * n) {
		uint32_t id = 0, seq;
		ssize_t len = mmds_ring_pop_timed(c, buf, sizeof(buf), &id,
						  20000000000LL);

		ck_assert_msg(len >= 8, "pop: %s", mmds_strerror((int)len));
		ck_assert_uint_lt(id, nprod);
		memcpy(&seq, buf + 4, 4);
		ck_assert_int_eq(seq, next[id]);
		ck_assert_uint_eq((size_t)len, msg_len(id, seq, sizeof(buf)));
		ck_assert_msg(check(buf, id, seq, (size_t)len),
			      "content of %u/%u", id, seq);
		next[id]++;
		total++;
	}
	for (unsigned i = 0; i < nprod; i++)
		ck_assert_int_eq(next[i], n);
}

START_TEST(test_spsc_between_processes_delivers_everything_in_order)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_SPSC,
				1 << 14);
	long n = iterations(100000);
	pid_t pid = t_fork();

	if (pid == 0)
		producer_child(path, 0, n, NULL);
	consume_all(c, 1, n);
	t_wait_child(pid);
	ck_assert_int_eq(mmds_ring_pop(c, NULL, 0, NULL), -EAGAIN);
	mmds_ring_close(c);
}
END_TEST

START_TEST(test_mpsc_from_three_processes_delivers_each_in_order)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC,
				1 << 14);
	long n = iterations(100000) / 3;
	t_barrier *b = t_barrier_new(4);
	pid_t pid[3];

	for (uint32_t i = 0; i < 3; i++) {
		pid[i] = t_fork();
		if (pid[i] == 0)
			producer_child(path, i, n, b);
	}
	t_barrier_wait(b);
	ck_assert_int_eq(mmds_ring_peer_alive(c, 0) >= 0, 1);
	consume_all(c, 3, n);
	for (int i = 0; i < 3; i++)
		t_wait_child(pid[i]);
	t_barrier_free(b);
	mmds_ring_close(c);
}
END_TEST

START_TEST(test_memfd_ring_is_shared_through_its_fd)
{
	mmds_ring *c = NULL;
	pid_t pid;

	ck_assert_int_eq(mmds_ring_open_anon(&c, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER, .capacity = 4096 }), 0);
	ck_assert_int_ge(mmds_ring_fd(c), 0);
	pid = t_fork();
	if (pid == 0) {
		char path[64];
		int fd;
		mmds_ring *p = NULL;

		/* reopen through /proc, as an unrelated process would
		 * after receiving the fd */
		snprintf(path, sizeof(path), "/proc/%ld/fd/%d", (long)getppid(),
			 mmds_ring_fd(c));
		fd = open(path, O_RDWR | O_CLOEXEC);
		T_CHILD_ASSERT(fd >= 0);
		T_CHILD_ASSERT(mmds_ring_open_fd(&p, fd, &(mmds_ring_opts){
			.role = MMDS_RING_PRODUCER }) == 0);
		close(fd);
		T_CHILD_ASSERT(mmds_ring_push(p, 3, "via fd", 6) == 0);
		mmds_ring_close(p);
		_exit(0);
	}
	t_wait_child(pid);
	{
		char buf[16];
		uint32_t type;

		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 6);
		ck_assert_uint_eq(type, 3);
		ck_assert_int_eq(memcmp(buf, "via fd", 6), 0);
	}
	mmds_ring_close(c);
}
END_TEST

/* ---- blocking -------------------------------------------------------------- */

START_TEST(test_wait_data_times_out_on_empty_ring)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, 0, 1024);
	char buf[8];

	ck_assert_int_eq(mmds_ring_wait_data(c, 30000000), -ETIMEDOUT);
	ck_assert_int_eq(mmds_ring_pop_timed(c, buf, sizeof(buf), NULL, 20000000),
			 -ETIMEDOUT);
	mmds_ring_close(c);
}
END_TEST

START_TEST(test_wait_space_times_out_on_full_ring)
{
	mmds_ring *p = ring_new(t_path("r"), MMDS_RING_PRODUCER,
				MMDS_RING_MPSC, 256);

	while (mmds_ring_push(p, 0, NULL, 0) == 0)
		;
	ck_assert_int_eq(mmds_ring_wait_space(p, 0, 30000000), -ETIMEDOUT);
	ck_assert_int_eq(mmds_ring_push_timed(p, 0, NULL, 0, 20000000),
			 -ETIMEDOUT);
	mmds_ring_close(p);
}
END_TEST

START_TEST(test_sleeping_consumer_is_woken_by_producer_process)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, 0, 1024);
	t_barrier *b = t_barrier_new(2);
	char buf[16];
	uint32_t type;
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *p = NULL;

		T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
			.role = MMDS_RING_PRODUCER }) == 0);
		t_barrier_wait(b);
		usleep(100000); /* let the consumer fall asleep */
		T_CHILD_ASSERT(mmds_ring_push(p, 42, "wake", 4) == 0);
		mmds_ring_close(p);
		_exit(0);
	}
	t_barrier_wait(b);
	ck_assert_int_eq(mmds_ring_pop_timed(c, buf, sizeof(buf), &type,
					     30000000000LL), 4);
	ck_assert_uint_eq(type, 42);
	t_wait_child(pid);
	t_barrier_free(b);
	mmds_ring_close(c);
}
END_TEST

START_TEST(test_sleeping_producer_is_woken_by_consumer_process)
{
	const char *path = t_path("r");
	mmds_ring *p = ring_new(path, MMDS_RING_PRODUCER, 0, 256);
	t_barrier *b = t_barrier_new(2);
	int n = 0;
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *c = NULL;

		T_CHILD_ASSERT(mmds_ring_open(&c, path, &(mmds_ring_opts){
			.role = MMDS_RING_CONSUMER }) == 0);
		t_barrier_wait(b);
		usleep(100000);
		T_CHILD_ASSERT(mmds_ring_pop(c, NULL, 0, NULL) == 0);
		mmds_ring_close(c);
		_exit(0);
	}
	while (mmds_ring_push(p, 0, NULL, 0) == 0)
		n++;
	ck_assert_int_eq(n, 256 / 8);
	t_barrier_wait(b);
	ck_assert_int_eq(mmds_ring_push_timed(p, 1, NULL, 0, 30000000000LL), 0);
	t_wait_child(pid);
	t_barrier_free(b);
	mmds_ring_close(p);
}
END_TEST

/* ---- liveness and crashes ---------------------------------------------------- */

START_TEST(test_peer_alive_follows_producer_process_and_pid_reuse)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC, 1024);
	_Atomic int *ready = flag_new();
	mmds_ring_info in;
	mmds_map *m;
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *p = NULL;

		T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
			.role = MMDS_RING_PRODUCER }) == 0);
		atomic_store(ready, 1);
		pause();
		_exit(0);
	}
	flag_wait(ready);
	ck_assert_int_eq(mmds_ring_peer_alive(c, 0), 1);
	ck_assert_int_eq(mmds_ring_get_info(c, &in), 0);
	ck_assert_uint_eq(in.nproducers, 1);
	ck_assert_int_eq(in.producers[0].pid, pid);
	ck_assert_int_eq(in.producers[0].alive, 1);
	/* a stale heartbeat makes it dead for a caller that asks for one */
	usleep(20000);
	ck_assert_int_eq(mmds_ring_peer_alive(c, 1000000), 0);
	/* an owner word with the pid but another incarnation tag (a reused
	 * pid) is dead although the pid runs */
	m = raw(path);
	raw_store(m, OFF_PRODUCER(0) + SLOT_OWNER,
		  raw_load(m, OFF_PRODUCER(0) + SLOT_OWNER) ^ (1ull << 40));
	ck_assert_int_eq(mmds_ring_peer_alive(c, 0), 0);
	raw_store(m, OFF_PRODUCER(0) + SLOT_OWNER,
		  raw_load(m, OFF_PRODUCER(0) + SLOT_OWNER) ^ (1ull << 40));
	ck_assert_int_eq(mmds_ring_peer_alive(c, 0), 1);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(mmds_ring_peer_alive(c, 0), 0);
	mmds_map_close(m);
	munmap((void *)ready, 4096);
	mmds_ring_close(c);
}
END_TEST

/* Consumer process: resume at the released position, which must be the
 * message after the last one released (64-byte records, no padding, so
 * head / 64 counts them); check every message in order; record progress
 * after each pop.  Runs until killed or until n messages. */
static void consumer_child(const char *path, long n, _Atomic long *progress)
{
	mmds_ring *cc = NULL;
	mmds_ring_info in;
	unsigned char buf[64];
	long s;

	T_CHILD_ASSERT(mmds_ring_open(&cc, path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER }) == 0);
	T_CHILD_ASSERT(mmds_ring_get_info(cc, &in) == 0);
	s = (long)(in.head / 64);
	/* nothing lost: at most the message in flight was released unseen
	 * by the recorded progress; nothing repeated: never behind it */
	T_CHILD_ASSERT(s == atomic_load(&progress[0]) ||
		       s == atomic_load(&progress[0]) + 1);
	for (; s < n; s++) {
		ssize_t len = mmds_ring_pop_timed(cc, buf, sizeof(buf), NULL,
						  20000000000LL);
		long seq;

		T_CHILD_ASSERT(len == 56);
		memcpy(&seq, buf, sizeof(seq));
		T_CHILD_ASSERT(seq == s);
		T_CHILD_ASSERT(buf[8] == (unsigned char)(s & 0xff) &&
			       buf[55] == (unsigned char)(s & 0xff));
		atomic_store(&progress[0], s + 1);
	}
	mmds_ring_close(cc);
	_exit(0);
}

/* Consumer processes killed with SIGKILL at random moments while a
 * producer runs; each restarted consumer resumes exactly after the last
 * released message, and the last one sees the stream to its end. */
START_TEST(test_killed_consumer_restarts_without_loss_or_repeat)
{
	unsigned seed = (unsigned)getpid();

	for (unsigned mode = MMDS_RING_SPSC; mode <= MMDS_RING_MPSC; mode++) {
		const char *path = t_path(mode == 1 ? "s" : "m");
		long n = iterations(100000) / 2 + 1200;
		_Atomic long *progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
					      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		unsigned char buf[64];
		pid_t prod, cons;

		ck_assert_ptr_ne(progress, MAP_FAILED);
		mmds_ring_close(ring_new(path, MMDS_RING_CONSUMER, mode, 4096));
		prod = t_fork();
		if (prod == 0) {
			mmds_ring *p = NULL;

			T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
				.role = MMDS_RING_PRODUCER }) == 0);
			for (long s = 0; s < n; s++) {
				memset(buf, (int)(s & 0xff), 56);
				memcpy(buf, &s, sizeof(s));
				T_CHILD_ASSERT(mmds_ring_push_timed(p, 0, buf, 56,
								    20000000000LL) == 0);
			}
			mmds_ring_close(p);
			_exit(0);
		}
		for (int kill_no = 0; kill_no < 5; kill_no++) {
			long at = atomic_load(&progress[0]) + 1 +
				  (long)(rand_r(&seed) % (unsigned)(n / 12));

			cons = t_fork();
			if (cons == 0)
				consumer_child(path, n, progress);
			/* (a consumer that reached the end exits by itself) */
			while (atomic_load(&progress[0]) < at &&
			       atomic_load(&progress[0]) < n)
				usleep(50 + rand_r(&seed) % 200);
			kill(cons, SIGKILL);
			ck_assert_int_eq(waitpid(cons, NULL, 0), cons);
		}
		/* the last consumer runs to the end */
		cons = t_fork();
		if (cons == 0)
			consumer_child(path, n, progress);
		t_wait_child(cons);
		t_wait_child(prod);
		ck_assert_int_eq(atomic_load(&progress[0]), n);
		{
			mmds_ring *c = ring_at(path, MMDS_RING_CONSUMER);

			ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL),
					 -EAGAIN);
			mmds_ring_close(c);
		}
		munmap((void *)progress, 4096);
	}
}
END_TEST

/* MPSC producer 0 restarted after SIGKILL: resumes at its shared progress
 * counter, with claim/commit so that kills land inside claims too. */
static void restartable_producer(const char *path, long n,
				 _Atomic long *progress)
{
	unsigned char tmp[200];
	mmds_ring *p = NULL;
	int rc, tries = 0;

	/* The slots of killed predecessors that died inside a claim stay
	 * taken until the consumer is past their claims: -EBUSY meanwhile. */
	while ((rc = mmds_ring_open(&p, path, &(mmds_ring_opts){
			.role = MMDS_RING_PRODUCER })) == -EBUSY && ++tries < 20000)
		usleep(1000);
	if (rc != 0)
		fprintf(stderr, "producer open: %s\n", mmds_strerror(rc));
	T_CHILD_ASSERT(rc == 0);
	for (long s = atomic_load(progress); s < n; s++) {
		size_t len = msg_len(0, (uint32_t)s, sizeof(tmp));
		void *d;

		while ((rc = mmds_ring_claim(p, len, &d)) == -EAGAIN)
			T_CHILD_ASSERT(mmds_ring_wait_space(p, len,
							    20000000000LL) == 0);
		T_CHILD_ASSERT(rc == 0);
		fill(tmp, 0, (uint32_t)s, len);
		memcpy(d, tmp, len);
		if (s % 8 == 0)
			sched_yield(); /* a wider window for a kill */
		T_CHILD_ASSERT(mmds_ring_commit(p, 0) == 0);
		atomic_store(progress, s + 1);
	}
	mmds_ring_close(p);
	_exit(0);
}

/* Three producer processes; one of them is killed with SIGKILL again and
 * again at random moments (often inside a claim) and restarted.  The
 * consumer repairs what the dead left behind and receives every message of
 * every producer in order, whole; the restarted producer may resend only
 * the one message it was killed after committing. */
START_TEST(test_mpsc_survives_producers_killed_at_random_moments)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC, 4096);
	long n = iterations(100000) / 10 + 100;
	_Atomic long *progress = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long next[3] = { 0 }, kills = 0, repairs = 0, until_kill;
	unsigned every = (unsigned)(n / 20); /* a kill every n/40 messages */
	unsigned seed = (unsigned)getpid() * 2654435761u;
	unsigned char buf[1024];
	pid_t pid[3];

	ck_assert_ptr_ne(progress, MAP_FAILED);
	pid[0] = t_fork();
	if (pid[0] == 0)
		restartable_producer(path, n, progress);
	for (uint32_t i = 1; i < 3; i++) {
		pid[i] = t_fork();
		if (pid[i] == 0)
			producer_child(path, i, n, NULL);
	}
	until_kill = 1 + rand_r(&seed) % every;
	while (next[0] < n || next[1] < n || next[2] < n) {
		uint32_t id = 0, seq;
		ssize_t len = mmds_ring_pop_timed(c, buf, sizeof(buf), &id,
						  20000000);

		if (len == -ETIMEDOUT || len == -EAGAIN) {
			int rc = mmds_ring_repair(c);

			ck_assert_msg(rc >= 0 || rc == -EAGAIN, "repair: %s",
				      mmds_strerror(rc));
			repairs += rc == 1;
			continue;
		}
		ck_assert_msg(len >= 8, "pop: %s", mmds_strerror((int)len));
		ck_assert_uint_lt(id, 3);
		memcpy(&seq, buf + 4, 4);
		if (id == 0 && seq + 1 == (uint32_t)next[0])
			continue; /* resent after a restart */
		ck_assert_int_eq(seq, next[id]);
		ck_assert_msg(check(buf, id, seq, (size_t)len), "content %u/%u",
			      id, seq);
		next[id]++;
		if (--until_kill == 0 && next[0] < n) {
			int st = 0;

			kill(pid[0], SIGKILL);
			ck_assert_int_eq(waitpid(pid[0], &st, 0), pid[0]);
			/* killed, or done: never failed by itself */
			ck_assert(WIFSIGNALED(st) ||
				  (WIFEXITED(st) && WEXITSTATUS(st) == 0));
			kills++;
			pid[0] = t_fork();
			if (pid[0] == 0)
				restartable_producer(path, n, progress);
			until_kill = 1 + rand_r(&seed) % every;
		}
	}
	t_wait_child(pid[0]);
	t_wait_child(pid[1]);
	t_wait_child(pid[2]);
	ck_assert_int_ge(kills, 1);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	fprintf(stderr, "mpsc kill test: %ld kills, %ld repairs\n", kills,
		repairs);
	munmap((void *)progress, 4096);
	mmds_ring_close(c);
}
END_TEST

START_TEST(test_producer_killed_holding_claim_is_repaired)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC, 4096);
	mmds_ring *p2;
	_Atomic int *ready = flag_new();
	unsigned char buf[64];
	uint32_t type;
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *p = NULL;
		void *d;

		T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
			.role = MMDS_RING_PRODUCER }) == 0);
		T_CHILD_ASSERT(mmds_ring_push(p, 1, "before", 6) == 0);
		T_CHILD_ASSERT(mmds_ring_claim(p, 30, &d) == 0);
		memset(d, 'x', 30);
		atomic_store(ready, 1);
		pause(); /* killed here, between claim and commit */
		_exit(1);
	}
	flag_wait(ready);
	p2 = ring_at(path, MMDS_RING_PRODUCER);
	ck_assert_int_eq(mmds_ring_push(p2, 2, "after", 5), 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 6);
	ck_assert_uint_eq(type, 1);
	/* stuck behind the live claim */
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	ck_assert_int_eq(mmds_ring_repair(c), -EAGAIN);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(mmds_ring_repair(c), 1);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 5);
	ck_assert_uint_eq(type, 2);
	ck_assert_int_eq(memcmp(buf, "after", 5), 0);
	ck_assert_int_eq(mmds_ring_repair(c), 0);
	mmds_ring_close(p2);
	munmap((void *)ready, 4096);
	mmds_ring_close(c);
}
END_TEST

/* A producer that died right after winning the tail CAS, before writing
 * any header: its slot's claim tells the consumer how much to skip. */
START_TEST(test_producer_killed_before_claim_header_is_repaired)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC, 4096);
	mmds_ring *p2;
	unsigned char buf[64];
	uint32_t type;
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *p = NULL;
		mmds_map *m = NULL;
		uint64_t t;

		T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
			.role = MMDS_RING_PRODUCER }) == 0);
		T_CHILD_ASSERT(mmds_map_open(&m, path, NULL) == 0);
		/* what reserve() does up to the CAS, for a 40-byte record */
		T_CHILD_ASSERT(mmds_map_load64(m, OFF_TAIL, &t) == 0);
		T_CHILD_ASSERT(mmds_map_store64(m, OFF_PRODUCER(0) + SLOT_INTENT_POS, t) == 0);
		T_CHILD_ASSERT(mmds_map_store64(m, OFF_PRODUCER(0) + SLOT_INTENT_LEN, 48) == 0);
		T_CHILD_ASSERT(mmds_map_store64(m, OFF_TAIL, t + 48) == 0);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	p2 = ring_at(path, MMDS_RING_PRODUCER);
	ck_assert_int_eq(mmds_ring_push(p2, 2, "after", 5), 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	ck_assert_int_eq(mmds_ring_repair(c), 1);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 5);
	ck_assert_uint_eq(type, 2);
	mmds_ring_close(p2);
	mmds_ring_close(c);
}
END_TEST

START_TEST(test_spsc_claim_of_dead_producer_never_stalls)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_SPSC, 4096);
	mmds_ring *p2;
	unsigned char buf[64];
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *p = NULL;
		void *d;

		T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
			.role = MMDS_RING_PRODUCER }) == 0);
		T_CHILD_ASSERT(mmds_ring_claim(p, 30, &d) == 0);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(mmds_ring_repair(c), 0);
	p2 = ring_at(path, MMDS_RING_PRODUCER); /* the dead one's role */
	ck_assert_int_eq(mmds_ring_push(p2, 2, "next", 4), 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), 4);
	mmds_ring_close(p2);
	mmds_ring_close(c);
}
END_TEST

/* ---- hostile shared memory ------------------------------------------------- */

START_TEST(test_impossible_positions_are_ebadmsg)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_SPSC, 1024);
	mmds_ring *p = ring_at(path, MMDS_RING_PRODUCER);
	mmds_map *m = raw(path);
	unsigned char buf[64];

	ck_assert_int_eq(mmds_ring_push(p, 0, "ok", 2), 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), 2);
	/* tail far beyond head + capacity */
	raw_store(m, OFF_TAIL, 1 << 20);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EBADMSG);
	ck_assert_int_eq(mmds_ring_wait_data(c, 1000000), -EBADMSG);
	/* misaligned tail */
	raw_store(m, OFF_TAIL, 19);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EBADMSG);
	/* tail behind head */
	raw_store(m, OFF_TAIL, 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EBADMSG);
	raw_store(m, OFF_TAIL, 16);
	/* a head the producer cannot believe */
	raw_store(m, OFF_HEAD, 5000);
	for (int i = 0; i < 200; i++) {
		int rc = mmds_ring_push(p, 0, buf, 60);

		ck_assert_msg(rc == 0 || rc == -EBADMSG, "rc %d", rc);
		if (rc)
			break;
		ck_assert_int_lt(i, 100);
	}
	raw_store(m, OFF_HEAD, 3);
	mmds_map_close(m);
	mmds_ring_close(p);
	mmds_ring_close(c);
	/* reopening a ring with impossible positions is refused */
	ck_assert_int_eq(mmds_ring_open(&c, path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER }), -EBADMSG);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_impossible_record_headers_are_ebadmsg)
{
	static const uint64_t bad[] = {
		ST_COMMITTED | 2000u,          /* longer than max_message */
		ST_COMMITTED | 500u,           /* past the tail */
		ST_PADDING | 12u,              /* padding not 8-aligned */
		ST_PADDING | 4096u,            /* padding past the end */
		0,                             /* SPSC: empty below the tail */
		ST_CLAIMED | 8u,               /* SPSC: claimed below the tail */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = t_path(i % 2 ? "a" : "b");
		mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, 0, 1024);
		mmds_ring *p = ring_at(path, MMDS_RING_PRODUCER);
		mmds_map *m = raw(path);
		mmds_ring_msg msg;
		unsigned char buf[64];

		ck_assert_int_eq(mmds_ring_push(p, 0, buf, 40), 0);
		raw_store(m, DATA, bad[i]);
		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EBADMSG);
		ck_assert_int_eq(mmds_ring_peek(c, &msg), -EBADMSG);
		mmds_map_close(m);
		mmds_ring_close(p);
		mmds_ring_close(c);
		unlink(path);
	}
}
END_TEST

START_TEST(test_corrupt_or_foreign_or_short_file_is_refused)
{
	const char *path = t_path("r");
	mmds_ring *r = ring_new(path, MMDS_RING_CONSUMER, 0, 1024);
	mmds_map *m;
	unsigned char byte;

	mmds_ring_close(r);
	m = raw(path);
	/* flip a byte of the checksummed header (the capacity) */
	ck_assert_int_eq(mmds_map_read(m, 40, &byte, 1), 0);
	byte ^= 0x40;
	ck_assert_int_eq(mmds_map_write(m, 40, &byte, 1), 0);
	ck_assert_int_eq(mmds_ring_open(&r, path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER }), -EBADMSG);
	byte ^= 0x40;
	ck_assert_int_eq(mmds_map_write(m, 40, &byte, 1), 0);
	ck_assert_int_eq(mmds_map_write(m, 0, "MMDSLOG1", 8), 0);
	ck_assert_int_eq(mmds_ring_open(&r, path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER }), -EBADMSG);
	ck_assert_int_eq(mmds_map_write(m, 0, "MMDSRNG1", 8), 0);
	mmds_ring_close(ring_at(path, MMDS_RING_CONSUMER));
	mmds_map_close(m);
	/* shorter than header + control block + capacity */
	ck_assert_int_eq(truncate(path, 8192 + 512), 0);
	ck_assert_int_eq(mmds_ring_open(&r, path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER }), -EBADMSG);
	ck_assert_int_eq(truncate(path, 100), 0);
	ck_assert_int_eq(mmds_ring_open(&r, path, &(mmds_ring_opts){
		.role = MMDS_RING_OBSERVER }), -EBADMSG);
	ck_assert_ptr_null(r);
}
END_TEST

/* Random words in the control block and the data area: every call returns
 * a result (ASan checks that no access left the ring). */
START_TEST(test_random_shared_memory_never_crashes)
{
	const char *path = t_path("r");
	unsigned seed = (unsigned)getpid();
	long rounds = iterations(100000) / 500 + 1;

	for (long round = 0; round < rounds; round++) {
		unsigned mode = 1 + round % 2;
		mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, mode, 512);
		mmds_ring *p = ring_at(path, MMDS_RING_PRODUCER);
		mmds_map *m = raw(path);
		unsigned char buf[512];

		for (int i = 0; i < 5; i++)
			mmds_ring_push(p, 0, buf, (size_t)(rand_r(&seed) % 200));
		for (int i = 0; i < 40; i++) {
			uint64_t v = (uint64_t)rand_r(&seed) << 33 ^
				     (uint64_t)rand_r(&seed) << 3 ^
				     (uint64_t)(rand_r(&seed) % 8);
			uint64_t off;

			switch (rand_r(&seed) % 4) {
			case 0: off = OFF_TAIL; v %= 4096; break;
			case 1: off = OFF_HEAD; v %= 4096; break;
			default: off = DATA + 8 * (uint64_t)(rand_r(&seed) % 64);
				 if (rand_r(&seed) % 2)
					 v = (v & 0xc00003ffu);
			}
			raw_store(m, off, v);
			for (int k = 0; k < 4; k++) {
				mmds_ring_msg msg;
				void *d;
				int rc = mmds_ring_pop(c, buf, sizeof(buf), NULL);

				ck_assert_int_le(rc, 255);
				if (mmds_ring_peek(c, &msg) == 0)
					ck_assert_uint_le(msg.len, 248);
				mmds_ring_release(c);
				mmds_ring_repair(c);
				mmds_ring_push(p, 0, buf, (size_t)(rand_r(&seed) % 200));
				if (mmds_ring_claim(p, 16, &d) == 0) {
					memset(d, 1, 16);
					mmds_ring_commit(p, 0);
				}
			}
		}
		mmds_map_close(m);
		mmds_ring_close(p);
		mmds_ring_close(c);
		unlink(path);
	}
}
END_TEST

/* ---- the mmds tool ----------------------------------------------------------- */

/* Run the tool (built beside the tests) and return its output. */
static char *run_tool(const char *args, int *status)
{
	static char out[8192];
	char cmd[1024];
	size_t n;
	FILE *f;

	if (access("./tools/mmds", X_OK) != 0)
		t_skip("./tools/mmds is not built here");
	snprintf(cmd, sizeof(cmd), "./tools/mmds %s 2>&1", args);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = 0;
	*status = pclose(f);
	return out;
}

START_TEST(test_tool_ring_info_shows_capacity_fill_and_peers)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC, 4096);
	mmds_ring *p = ring_at(path, MMDS_RING_PRODUCER);
	char args[512], want[128];
	int status;
	char *out;

	ck_assert_int_eq(mmds_ring_push(p, 0, "12345678", 8), 0);
	snprintf(args, sizeof(args), "ring info %s", path);
	out = run_tool(args, &status);
	ck_assert_int_eq(status, 0);
	ck_assert_ptr_nonnull(strstr(out, "MPSC"));
	ck_assert_ptr_nonnull(strstr(out, "capacity       4096 bytes"));
	ck_assert_ptr_nonnull(strstr(out, "used           16 bytes"));
	snprintf(want, sizeof(want), "consumer       pid %ld alive", (long)getpid());
	ck_assert_msg(strstr(out, want) != NULL, "no '%s' in:\n%s", want, out);
	ck_assert_ptr_nonnull(strstr(out, "producers      1 registered"));
	mmds_ring_close(p);
	mmds_ring_close(c);
	/* not a ring: what it is, and status 3 (wrong kind, mmds(1)) */
	t_write_file(t_path("x"), "hello", 5);
	snprintf(args, sizeof(args), "ring info %s", t_path("x"));
	out = run_tool(args, &status);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	ck_assert_ptr_nonnull(strstr(out, "not an mmds file"));
	out = run_tool("ring", &status);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}
END_TEST

/* ---- issue 9 regressions --------------------------------------------------- */

/* Processes racing to open, hold and close the consumer role: never two
 * holders at once (the owner is one word, published whole). */
START_TEST(test_role_is_never_held_by_two_processes)
{
	const char *path = t_path("r");
	_Atomic long *sh = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	long rounds = iterations(100000) / 20 + 200;
	pid_t pid[4];

	ck_assert_ptr_ne(sh, MAP_FAILED);
	mmds_ring_close(ring_new(path, MMDS_RING_PRODUCER, MMDS_RING_SPSC, 1024));
	for (int i = 0; i < 4; i++) {
		pid[i] = t_fork();
		if (pid[i] == 0) {
			for (long k = 0; k < rounds; k++) {
				mmds_ring *c = NULL;
				int rc = mmds_ring_open(&c, path, &(mmds_ring_opts){
					.role = MMDS_RING_CONSUMER });

				T_CHILD_ASSERT(rc == 0 || rc == -EBUSY);
				if (rc != 0)
					continue;
				if (atomic_fetch_add(&sh[0], 1) != 0)
					atomic_fetch_add(&sh[1], 1);
				sched_yield();
				atomic_fetch_sub(&sh[0], 1);
				atomic_fetch_add(&sh[2], 1);
				mmds_ring_close(c);
			}
			_exit(0);
		}
	}
	for (int i = 0; i < 4; i++)
		t_wait_child(pid[i]);
	ck_assert_int_gt(atomic_load(&sh[2]), 0);
	ck_assert_int_eq(atomic_load(&sh[1]), 0);
	munmap((void *)sh, 4096);
}
END_TEST

/* Dead producers' slots holding intents no producer can have written
 * (beyond the tail, misaligned, longer than the ring) are reused: a
 * corrupt or hostile control block cannot keep every producer out. */
START_TEST(test_impossible_intents_never_block_producer_slots)
{
	mmds_ring *c = ring_new(t_path("r"), MMDS_RING_CONSUMER, MMDS_RING_MPSC, 4096);
	mmds_ring *p;
	int fd = open(t_path("r"), O_RDWR);

	ck_assert_int_ge(fd, 0);
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++) {
		/* a dead owner (pid 1 with a tag it never has), an intent */
		uint64_t slot[5] = { 1u | (uint64_t)0x5eed << 32, 0, 0, 0, 8 };
		off_t off = 4096 + 640 + (off_t)i * 128;

		slot[3] = i % 3 == 0 ? (uint64_t)1 << 40 /* beyond the tail */
			: i % 3 == 1 ? 12 /* misaligned */ : 0;
		if (i % 3 == 2)
			slot[4] = (uint64_t)1 << 30; /* longer than the ring */
		ck_assert_int_eq(pwrite(fd, slot, sizeof(slot), off), (ssize_t)sizeof(slot));
	}
	close(fd);
	p = ring_at(t_path("r"), MMDS_RING_PRODUCER);
	ck_assert_int_eq(mmds_ring_push(p, 7, "hi", 2), 0);
	mmds_ring_close(p);
	mmds_ring_close(c);
}
END_TEST

/* The window of a registration in progress: a live holder's pid beside a
 * start time that is not its own (the previous holder's, stored after the
 * pid in the old layout).  The role must stay the live holder's: an owner
 * is one word, and nothing else in the slot decides liveness. */
START_TEST(test_live_holder_is_never_judged_dead_by_other_slot_words)
{
	const char *path = t_path("r");
	mmds_ring *p = ring_new(path, MMDS_RING_PRODUCER, MMDS_RING_SPSC, 1024);
	_Atomic int *ready = flag_new();
	mmds_ring *c2 = NOT_NULL_RING;
	mmds_map *m = raw(path);
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *c = NULL;

		T_CHILD_ASSERT(mmds_ring_open(&c, path, &(mmds_ring_opts){
			.role = MMDS_RING_CONSUMER }) == 0);
		atomic_store(ready, 1);
		pause();
		_exit(0);
	}
	flag_wait(ready);
	for (uint64_t off = 8; off < 128; off += 8)
		if (off != 16 && off != 24 && off != 32) /* heartbeat, intent */
			raw_store(m, OFF_CONSUMER + off, 12345);
	ck_assert_int_eq(mmds_ring_open(&c2, path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER }), -EBUSY);
	ck_assert_ptr_null(c2);
	ck_assert_int_eq(mmds_ring_peer_alive(p, 0), 1);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(mmds_ring_peer_alive(p, 0), 0);
	mmds_ring_close(ring_at(path, MMDS_RING_CONSUMER));
	mmds_map_close(m);
	munmap((void *)ready, 4096);
	mmds_ring_close(p);
}
END_TEST

/* A dead producer left an intent at the position another producer then
 * won and died before writing any header: repair still gets the ring
 * going (it used to give up with -ENOTRECOVERABLE for ever). */
START_TEST(test_repair_passes_two_dead_claims_at_one_position)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC, 4096);
	mmds_ring *p2;
	unsigned char buf[64];
	uint32_t type;
	int rc = 0;

	for (unsigned i = 0; i < 2; i++) {
		pid_t pid = t_fork();

		if (pid == 0) {
			mmds_ring *p = NULL;
			mmds_map *m = NULL;
			uint64_t t;

			T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
				.role = MMDS_RING_PRODUCER }) == 0);
			T_CHILD_ASSERT(mmds_map_open(&m, path, NULL) == 0);
			T_CHILD_ASSERT(mmds_map_load64(m, OFF_TAIL, &t) == 0);
			/* i = 0: an attempt at t that lost its CAS (48
			 * bytes); i = 1: the winner (64 bytes) */
			T_CHILD_ASSERT(mmds_map_store64(m, OFF_PRODUCER(i) + SLOT_INTENT_POS, t) == 0);
			T_CHILD_ASSERT(mmds_map_store64(m, OFF_PRODUCER(i) + SLOT_INTENT_LEN, i ? 64 : 48) == 0);
			if (i)
				T_CHILD_ASSERT(mmds_map_store64(m, OFF_TAIL, t + 64) == 0);
			kill(getpid(), SIGKILL);
			_exit(1);
		}
		ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	}
	p2 = ring_at(path, MMDS_RING_PRODUCER);
	ck_assert_int_eq(mmds_ring_push(p2, 2, "after", 5), 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	for (int i = 0; i < 8 && (rc = mmds_ring_pop(c, buf, sizeof(buf), &type)) == -EAGAIN; i++) {
		int rr = mmds_ring_repair(c);

		ck_assert_msg(rr == 1, "repair: %d %s", rr, mmds_strerror(rr));
	}
	ck_assert_int_eq(rc, 5);
	ck_assert_uint_eq(type, 2);
	ck_assert_int_eq(memcmp(buf, "after", 5), 0);
	mmds_ring_close(p2);
	mmds_ring_close(c);
}
END_TEST

/* A live producer between its tail CAS and its CLAIMED header (its intent
 * stated, the header still empty): repair waits, and pads only once the
 * producer is dead. */
START_TEST(test_repair_waits_for_live_producer_between_cas_and_header)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC, 4096);
	_Atomic int *ready = flag_new();
	mmds_ring *p2;
	unsigned char buf[64];
	uint32_t type;
	pid_t pid = t_fork();

	if (pid == 0) {
		mmds_ring *p = NULL;
		mmds_map *m = NULL;
		uint64_t t;

		T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
			.role = MMDS_RING_PRODUCER }) == 0);
		T_CHILD_ASSERT(mmds_map_open(&m, path, NULL) == 0);
		/* what a claim of a 40-byte record does up to its CAS */
		T_CHILD_ASSERT(mmds_map_load64(m, OFF_TAIL, &t) == 0);
		T_CHILD_ASSERT(mmds_map_store64(m, OFF_PRODUCER(0) + SLOT_INTENT_POS, t) == 0);
		T_CHILD_ASSERT(mmds_map_store64(m, OFF_PRODUCER(0) + SLOT_INTENT_LEN, 48) == 0);
		T_CHILD_ASSERT(mmds_map_store64(m, OFF_TAIL, t + 48) == 0);
		atomic_store(ready, 1);
		pause();
		_exit(1);
	}
	flag_wait(ready);
	p2 = ring_at(path, MMDS_RING_PRODUCER);
	ck_assert_int_eq(mmds_ring_push(p2, 2, "after", 5), 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(mmds_ring_repair(c), -EAGAIN);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(mmds_ring_repair(c), 1);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 5);
	ck_assert_uint_eq(type, 2);
	ck_assert_int_eq(mmds_ring_repair(c), 0);
	mmds_ring_close(p2);
	munmap((void *)ready, 4096);
	mmds_ring_close(c);
}
END_TEST

/* A CLAIMED header whose claimer is in no slot (its pid since reused by a
 * live process, here the test itself): repair pads it, not -EAGAIN for
 * ever. */
START_TEST(test_repair_pads_claim_of_unregistered_claimer)
{
	const char *path = t_path("r");
	mmds_ring *c = ring_new(path, MMDS_RING_CONSUMER, MMDS_RING_MPSC, 4096);
	mmds_ring *p = ring_at(path, MMDS_RING_PRODUCER);
	mmds_map *m = raw(path);
	unsigned char buf[64];
	uint32_t type;
	int rc = 0;

	/* what a claim of 24 bytes at 0 by pid getpid() looks like */
	raw_store(m, DATA, ST_CLAIMED | 24u | (uint64_t)getpid() << 32);
	raw_store(m, OFF_TAIL, 32);
	ck_assert_int_eq(mmds_ring_push(p, 7, "next", 4), 0);
	ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	for (int i = 0; i < 8 && (rc = mmds_ring_pop(c, buf, sizeof(buf), &type)) == -EAGAIN; i++)
		ck_assert_int_eq(mmds_ring_repair(c), 1);
	ck_assert_int_eq(rc, 4);
	ck_assert_uint_eq(type, 7);
	mmds_map_close(m);
	mmds_ring_close(p);
	mmds_ring_close(c);
}
END_TEST

static uint64_t rec_size_of(uint64_t len)
{
	return 8 + ((len + 7) & ~(uint64_t)7);
}

/* A 4 GiB MPSC ring (a sparse memfd): an aborted claim of 2^30 - 7 ...
 * 2^30 - 1 bytes and repaired ones of 2^30 - 1 bytes (claimed, or only won
 * by CAS) are skipped, and the next message arrives intact. */
START_TEST(test_huge_aborted_and_repaired_claims_pad_correctly)
{
	const uint64_t cap = (uint64_t)1 << 32;
	static const size_t lens[] = { (1u << 30) - 7, (1u << 30) - 1 };
	mmds_ring *c = NULL, *p = NULL;
	unsigned char buf[64];
	uint32_t type;
	int rc;

	if (sizeof(void *) < 8)
		t_skip("needs a 64-bit address space for a 4 GiB ring");
#ifdef T_TSAN
	/* single-threaded: the other builds cover it; TSan's shadow of 4 GiB
	 * of zeroing and scanning takes minutes */
	t_skip("4 GiB of single-threaded padding under ThreadSanitizer");
#endif
	rc = mmds_ring_open_anon(&c, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER, .mode = MMDS_RING_MPSC,
		.capacity = cap });
	if (rc == -ENOMEM || rc == -ENOSPC || rc == -EFBIG)
		t_skip("cannot map a 4 GiB ring here: %s", mmds_strerror(rc));
	ck_assert_msg(rc == 0, "open: %s", mmds_strerror(rc));
	ck_assert_uint_ge(mmds_ring_max_message(c), (1u << 30) - 1);
	ck_assert_int_eq(mmds_ring_open_fd(&p, mmds_ring_fd(c), &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER }), 0);
	for (unsigned i = 0; i < 2; i++) {
		void *d;

		ck_assert_int_eq(mmds_ring_claim(p, lens[i], &d), 0);
		memset((char *)d + lens[i] - 4096, 0x5a, 4096); /* stray bytes */
		ck_assert_int_eq(mmds_ring_abort(p), 0);
		ck_assert_int_eq(mmds_ring_push(p, 9, "next", 4), 0);
		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), &type), 4);
		ck_assert_uint_eq(type, 9);
		ck_assert_int_eq(mmds_ring_pop(c, buf, sizeof(buf), NULL), -EAGAIN);
	}
	{
		pid_t pid = t_fork();

		if (pid == 0) {
			mmds_ring *pp = NULL;
			void *d;

			T_CHILD_ASSERT(mmds_ring_open_fd(&pp, mmds_ring_fd(c), &(mmds_ring_opts){
				.role = MMDS_RING_PRODUCER }) == 0);
			T_CHILD_ASSERT(mmds_ring_claim(pp, lens[1], &d) == 0);
			memset((char *)d + lens[1] - 4096, 0x5a, 4096);
			kill(getpid(), SIGKILL);
			_exit(1);
		}
		ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	}
	ck_assert_int_eq(mmds_ring_push(p, 10, "last", 4), 0);
	rc = 0;
	for (int i = 0; i < 8 && (rc = (int)mmds_ring_pop(c, buf, sizeof(buf), &type)) == -EAGAIN; i++)
		ck_assert_int_eq(mmds_ring_repair(c), 1);
	ck_assert_int_eq(rc, 4);
	ck_assert_uint_eq(type, 10);
	ck_assert_int_eq(memcmp(buf, "last", 4), 0);
	/* a producer dead right after winning a 2^30 + 8 byte span, before
	 * any header: repair pads it (two records) up to the next message */
	{
		pid_t pid = t_fork();

		if (pid == 0) {
			mmds_ring *pp = NULL;
			mmds_map *m = NULL;
			uint64_t t, need = rec_size_of(lens[1]);
			mmds_ring_info in;

			T_CHILD_ASSERT(mmds_ring_open_fd(&pp, mmds_ring_fd(c), &(mmds_ring_opts){
				.role = MMDS_RING_PRODUCER }) == 0);
			T_CHILD_ASSERT(mmds_ring_get_info(pp, &in) == 0);
			T_CHILD_ASSERT(mmds_map_open_fd(&m, mmds_ring_fd(c), NULL) == 0);
			T_CHILD_ASSERT(mmds_map_load64(m, OFF_TAIL, &t) == 0);
			/* its slot: the first one not held by p */
			for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++)
				if (in.producers[i].pid == getpid()) {
					T_CHILD_ASSERT(mmds_map_store64(m, OFF_PRODUCER(i) + SLOT_INTENT_POS, t) == 0);
					T_CHILD_ASSERT(mmds_map_store64(m, OFF_PRODUCER(i) + SLOT_INTENT_LEN, need) == 0);
				}
			T_CHILD_ASSERT(mmds_map_store64(m, OFF_TAIL, t + need) == 0);
			kill(getpid(), SIGKILL);
			_exit(1);
		}
		ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	}
	ck_assert_int_eq(mmds_ring_push(p, 11, "tail", 4), 0);
	rc = 0;
	for (int i = 0; i < 8 && (rc = (int)mmds_ring_pop(c, buf, sizeof(buf), &type)) == -EAGAIN; i++)
		ck_assert_int_eq(mmds_ring_repair(c), 1);
	ck_assert_int_eq(rc, 4);
	ck_assert_uint_eq(type, 11);
	ck_assert_int_eq(memcmp(buf, "tail", 4), 0);
	mmds_ring_close(p);
	mmds_ring_close(c);
}
END_TEST

/* read_batch's callback: counts the messages it is given. */
static int count_cb(void *arg, const mmds_ring_msg *msg)
{
	(void)msg;
	++*(size_t *)arg;
	return 0;
}

/* A file ring truncated under live handles: every call that touches the
 * ring returns -EFAULT instead of dying by SIGBUS. */
START_TEST(test_truncated_ring_is_efault_not_sigbus)
{
	for (unsigned mode = MMDS_RING_SPSC; mode <= MMDS_RING_MPSC; mode++) {
		const char *path = t_path(mode == 1 ? "s" : "m");
		pid_t pid = t_fork();

		if (pid == 0) {
			mmds_ring *c = NULL, *p = NULL;
			mmds_ring_info in;
			mmds_ring_msg msg;
			unsigned char buf[64];
			size_t n = 0;
			void *d;
			int rc;

			T_CHILD_ASSERT(mmds_ring_open(&c, path, &(mmds_ring_opts){
				.role = MMDS_RING_CONSUMER, .flags = MMDS_RING_CREATE,
				.mode = mode, .capacity = 1 << 16 }) == 0);
			T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
				.role = MMDS_RING_PRODUCER }) == 0);
			T_CHILD_ASSERT(mmds_ring_push(p, 1, "abc", 3) == 0);
			T_CHILD_ASSERT(mmds_ring_push(p, 1, "abc", 3) == 0);
			/* one peeked: release has a head to store */
			T_CHILD_ASSERT(mmds_ring_peek(c, &msg) == 0);
			T_CHILD_ASSERT(truncate(path, 0) == 0);
			T_CHILD_ASSERT(mmds_ring_pop(c, buf, sizeof(buf), NULL) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_peek(c, &msg) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_push(p, 1, "abc", 3) == -EFAULT);
			/* an SPSC claim with room touches nothing shared: the
			 * caller's own writes would fault */
			rc = mmds_ring_claim(p, 3, &d);
			T_CHILD_ASSERT(rc == -EFAULT || (mode == MMDS_RING_SPSC && rc == 0));
			if (rc == 0)
				T_CHILD_ASSERT(mmds_ring_abort(p) == 0);
			/* its commit touches the ring: -EFAULT, no SIGBUS */
			rc = mmds_ring_claim(p, 3, &d);
			if (rc == 0)
				T_CHILD_ASSERT(mmds_ring_commit(p, 1) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_push_batch(p, &(mmds_ring_msg){
				.data = "abc", .len = 3 }, 1) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_peek_batch(c, &msg, 1) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_get_info(c, &in) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_wait_data(c, 1000000) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_repair(c) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_heartbeat(c) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_read_batch(c, 0, count_cb, &n) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_release(c) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_pushv(p, 1, &(struct iovec){
				.iov_base = (char[]){ "abc" }, .iov_len = 3 }, 1) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_push_timed(p, 1, "abc", 3, 1000000) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_pop_timed(c, buf, sizeof(buf), NULL,
							   1000000) == -EFAULT);
			/* an SPSC producer with room cached touches nothing */
			rc = mmds_ring_wait_space(p, 3, 1000000);
			T_CHILD_ASSERT(rc == -EFAULT || (mode == MMDS_RING_SPSC && rc == 0));
			T_CHILD_ASSERT(mmds_ring_peer_alive(c, 0) == -EFAULT);
			T_CHILD_ASSERT(n == 0);
			mmds_ring_close(p);
			mmds_ring_close(c);
			_exit(0);
		}
		t_wait_child(pid);
	}
}
END_TEST

/* The data area cut off under live handles, the control block still
 * mapped: the calls that run without a guard on x86-64 (their accesses to
 * the shared words are marked instructions) reach a record header or a
 * payload that faults, short (inline copy) and long (guarded copy) ones,
 * and return -EFAULT; those that touch only the control block succeed. */
START_TEST(test_truncated_data_area_is_efault_from_every_call)
{
	for (unsigned mode = MMDS_RING_SPSC; mode <= MMDS_RING_MPSC; mode++) {
		const char *path = t_path(mode == 1 ? "s" : "m");
		pid_t pid = t_fork();

		if (pid == 0) {
			static const char big[200] = "big";
			mmds_ring *c = NULL, *p = NULL;
			mmds_ring_msg msg, msgs[2] = {
				{ .data = "abc", .len = 3, .type = 1 },
				{ .data = big, .len = sizeof(big), .type = 2 } };
			unsigned char buf[256];
			size_t n = 0;
			void *d;
			int rc;

			T_CHILD_ASSERT(mmds_ring_open(&c, path, &(mmds_ring_opts){
				.role = MMDS_RING_CONSUMER, .flags = MMDS_RING_CREATE,
				.mode = mode, .capacity = 1 << 16 }) == 0);
			T_CHILD_ASSERT(mmds_ring_open(&p, path, &(mmds_ring_opts){
				.role = MMDS_RING_PRODUCER }) == 0);
			for (int i = 0; i < 4; i++)
				T_CHILD_ASSERT(mmds_ring_push_batch(p, msgs, 2) == 2);
			T_CHILD_ASSERT(mmds_ring_peek(c, &msg) == 0);
			T_CHILD_ASSERT(msg.len == 3);
			T_CHILD_ASSERT(truncate(path, DATA) == 0);
			/* SPSC: the head is in the control block; MPSC zeroes
			 * the released record first */
			rc = mmds_ring_release(c);
			T_CHILD_ASSERT(mode == MMDS_RING_SPSC ? rc == 1 : rc == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_pop(c, buf, sizeof(buf), NULL) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_peek(c, &msg) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_peek_batch(c, msgs, 2) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_read_batch(c, 0, count_cb, &n) == -EFAULT);
			T_CHILD_ASSERT(n == 0);
			T_CHILD_ASSERT(mmds_ring_push(p, 1, "abc", 3) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_push(p, 2, big, sizeof(big)) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_push_batch(p, msgs, 2) == -EFAULT);
			T_CHILD_ASSERT(mmds_ring_pushv(p, 1, &(struct iovec){
				.iov_base = (char[]){ "abc" }, .iov_len = 3 }, 1) == -EFAULT);
			/* SPSC: the claim touches nothing shared, its commit
			 * stores the header; MPSC: the claim stores it */
			rc = mmds_ring_claim(p, 3, &d);
			if (mode == MMDS_RING_SPSC) {
				T_CHILD_ASSERT(rc == 0);
				T_CHILD_ASSERT(mmds_ring_commit(p, 1) == -EFAULT);
			} else {
				T_CHILD_ASSERT(rc == -EFAULT);
			}
			/* a failed call leaves no claim behind */
			T_CHILD_ASSERT(mmds_ring_abort(p) == -EINVAL);
			T_CHILD_ASSERT(mmds_ring_heartbeat(c) == 0);
			mmds_ring_close(p);
			mmds_ring_close(c);
			_exit(0);
		}
		t_wait_child(pid);
	}
}
END_TEST

/* A waiter killed while asleep: its waiting mark is dropped when its role
 * is taken over, so the other side stops making futex calls. */
START_TEST(test_killed_sleeper_waiting_mark_is_dropped_at_takeover)
{
	for (int side = 0; side < 2; side++) {
		const char *path = t_path(side ? "c" : "p");
		/* side 0: a producer sleeps on a full ring; 1: a consumer on
		 * an empty one */
		mmds_ring *r = ring_new(path, side ? MMDS_RING_PRODUCER :
					MMDS_RING_CONSUMER, MMDS_RING_SPSC, 256);
		uint64_t woff = side ? CTRL + 256 + 4 : CTRL + 384 + 4;
		mmds_map *m = raw(path);
		uint64_t w = 0;
		pid_t pid = t_fork();

		if (pid == 0) {
			mmds_ring *o = NULL;

			T_CHILD_ASSERT(mmds_ring_open(&o, path, &(mmds_ring_opts){
				.role = side ? MMDS_RING_CONSUMER :
					MMDS_RING_PRODUCER }) == 0);
			if (!side)
				while (mmds_ring_push(o, 0, NULL, 0) == 0)
					;
			if (side)
				mmds_ring_wait_data(o, 60000000000LL);
			else
				mmds_ring_wait_space(o, 0, 60000000000LL);
			_exit(1);
		}
		for (int i = 0; i < 5000; i++) {
			ck_assert_int_eq(mmds_map_load64(m, woff & ~7ull, &w), 0);
			if (w >> 32)
				break;
			usleep(1000);
		}
		ck_assert_msg(w >> 32, "the child never slept");
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
		mmds_ring_close(ring_at(path, side ? MMDS_RING_CONSUMER :
					MMDS_RING_PRODUCER));
		ck_assert_int_eq(mmds_map_load64(m, woff & ~7ull, &w), 0);
		ck_assert_msg(w >> 32 == 0, "waiting mark %llx left behind",
			      (unsigned long long)(w >> 32));
		mmds_map_close(m);
		mmds_ring_close(r);
	}
}
END_TEST

/* ---- suite ----------------------------------------------------------------- */

Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc;

	tc = t_tcase(s, "open", 10);
	tcase_add_test(tc, test_create_then_open_reports_parameters);
	tcase_add_test(tc, test_open_rejects_bad_options);
	tcase_add_test(tc, test_create_excl_on_existing_ring_is_eexist);
	tcase_add_test(tc, test_second_live_consumer_is_ebusy_unless_takeover);
	tcase_add_test(tc, test_dead_consumer_role_is_taken_without_takeover);
	tcase_add_test(tc, test_role_misuse_is_einval);

	tc = t_tcase(s, "round_trip", 60);
	tcase_add_test(tc, test_every_api_round_trips_every_size_spsc);
	tcase_add_test(tc, test_every_api_round_trips_every_size_mpsc);
	tcase_add_test(tc, test_wrap_pads_at_every_alignment_spsc);
	tcase_add_test(tc, test_wrap_pads_at_every_alignment_mpsc);
	tcase_add_test(tc, test_full_ring_is_eagain_and_empty_ring_is_eagain_spsc);
	tcase_add_test(tc, test_full_ring_is_eagain_and_empty_ring_is_eagain_mpsc);
	tcase_add_test(tc, test_pop_into_small_buffer_is_emsgsize_and_keeps_message);
	tcase_add_test(tc, test_aborted_claim_is_never_delivered);
	tcase_add_test(tc, test_batch_honours_limit_and_stop_and_consumes_what_it_saw);
	tcase_add_test(tc, test_push_batch_publishes_in_order_and_stops_when_full_spsc);
	tcase_add_test(tc, test_push_batch_publishes_in_order_and_stops_when_full_mpsc);
	tcase_add_test(tc, test_peek_batch_sees_messages_in_place_until_released);
	tcase_add_test(tc, test_zero_copy_claim_without_shared_access_publishes_on_commit);

	tc = t_tcase(s, "processes", 120);
	tcase_add_test(tc, test_spsc_between_processes_delivers_everything_in_order);
	tcase_add_test(tc, test_mpsc_from_three_processes_delivers_each_in_order);
	tcase_add_test(tc, test_memfd_ring_is_shared_through_its_fd);

	tc = t_tcase(s, "blocking", 60);
	tcase_add_test(tc, test_wait_data_times_out_on_empty_ring);
	tcase_add_test(tc, test_wait_space_times_out_on_full_ring);
	tcase_add_test(tc, test_sleeping_consumer_is_woken_by_producer_process);
	tcase_add_test(tc, test_sleeping_producer_is_woken_by_consumer_process);

	tc = t_tcase(s, "crash", 120);
	tcase_add_test(tc, test_peer_alive_follows_producer_process_and_pid_reuse);
	tcase_add_test(tc, test_killed_consumer_restarts_without_loss_or_repeat);
	tcase_add_test(tc, test_producer_killed_holding_claim_is_repaired);
	tcase_add_test(tc, test_mpsc_survives_producers_killed_at_random_moments);
	tcase_add_test(tc, test_producer_killed_before_claim_header_is_repaired);
	tcase_add_test(tc, test_spsc_claim_of_dead_producer_never_stalls);

	tc = t_tcase(s, "hostile", 60);
	tcase_add_test(tc, test_impossible_positions_are_ebadmsg);
	tcase_add_test(tc, test_impossible_record_headers_are_ebadmsg);
	tcase_add_test(tc, test_corrupt_or_foreign_or_short_file_is_refused);
	tcase_add_test(tc, test_random_shared_memory_never_crashes);

	tc = t_tcase(s, "issue9", 120);
	tcase_add_test(tc, test_role_is_never_held_by_two_processes);
	tcase_add_test(tc, test_live_holder_is_never_judged_dead_by_other_slot_words);
	tcase_add_test(tc, test_impossible_intents_never_block_producer_slots);
	tcase_add_test(tc, test_repair_passes_two_dead_claims_at_one_position);
	tcase_add_test(tc, test_repair_pads_claim_of_unregistered_claimer);
	tcase_add_test(tc, test_repair_waits_for_live_producer_between_cas_and_header);
	tcase_add_test(tc, test_huge_aborted_and_repaired_claims_pad_correctly);
	tcase_add_test(tc, test_truncated_ring_is_efault_not_sigbus);
	tcase_add_test(tc, test_truncated_data_area_is_efault_from_every_call);
	tcase_add_test(tc, test_killed_sleeper_waiting_mark_is_dropped_at_takeover);

	tc = t_tcase(s, "tool", 20);
	tcase_add_test(tc, test_tool_ring_info_shows_capacity_fill_and_peers);
	return s;
}

int main(void)
{
	return t_run_suite(ring_suite());
}
