/* test_ring_wake.c - no wake-up is ever lost between processes.
 *
 * Two processes that each block waiting for the other: a ping-pong over two
 * rings where every receive is a blocking wait (wait_data), and a stream
 * through a ring that holds two messages, so the producer blocks for space
 * (wait_space) and the consumer for data.  The sender of each message waits
 * a pseudo-random 0-40 us first, so that publications land before, during
 * and after the receiver's switch from spinning to sleeping.  If one
 * wake-up were lost, both processes would sleep for ever.
 *
 * Linked with the test build of the library, whose waits sleep for minutes
 * at a time instead of 100 ms: a lost wake-up hangs instead of costing a
 * pause, and the parent's watchdog kills the pair and fails the test.
 *
 * Each scenario runs with every combination of publishers with the light
 * fast path (registered for membarrier) and with a fence per publication
 * (MMDS_RING_MEMBARRIER=0 in that process), since a sleeper must cover both.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds/ring.h>

#include "t_util.h"

Suite *ring_wake_suite(void);

#define ROUNDS 10000
#define WATCHDOG_S 60

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Spin a pseudo-random 0-40 us (xorshift state in *x). */
static void jitter(uint64_t *x)
{
	uint64_t until;

	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	until = now_ns() + *x % 40000;
	while (now_ns() < until)
		;
}

#define CHILD_CHECK(cond, ...)                                              \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, __VA_ARGS__);                       \
			_exit(1);                                           \
		}                                                           \
	} while (0)

static mmds_ring *open_role(const char *path, unsigned role)
{
	mmds_ring *r;
	int rc = mmds_ring_open(&r, path, &(mmds_ring_opts){ .role = role });

	CHILD_CHECK(rc == 0, "open %s: %s\n", path, mmds_strerror(rc));
	return r;
}

static void fast_path(int light)
{
	/* read at the process's first open (none yet in a fresh child) */
	if (!light)
		setenv("MMDS_RING_MEMBARRIER", "0", 1);
	else
		unsetenv("MMDS_RING_MEMBARRIER");
}

/* Ping-pong: the child starting the round sends, then blocks for the echo. */
static void pingpong_side(const char *out_path, const char *in_path,
			  int starts, int light, uint64_t seed)
{
	mmds_ring *out, *in;
	uint64_t v, x = seed;

	fast_path(light);
	out = open_role(out_path, MMDS_RING_PRODUCER);
	in = open_role(in_path, MMDS_RING_CONSUMER);
	for (uint64_t i = 0; i < ROUNDS; i++) {
		if (starts) {
			jitter(&x);
			CHILD_CHECK(mmds_ring_push(out, 1, &i, sizeof(i)) == 0,
				    "push %llu\n", (unsigned long long)i);
		}
		ssize_t n = mmds_ring_pop_timed(in, &v, sizeof(v), NULL, -1);
		CHILD_CHECK(n == sizeof(v) && v == i,
			    "round %llu: got %zd, %llu\n",
			    (unsigned long long)i, n, (unsigned long long)v);
		if (!starts) {
			jitter(&x);
			CHILD_CHECK(mmds_ring_push(out, 1, &v, sizeof(v)) == 0,
				    "echo %llu\n", (unsigned long long)i);
		}
	}
	mmds_ring_close(out);
	mmds_ring_close(in);
}

/* Stream through a ring of two messages: both sides block in turn. */
static void stream_side(const char *path, int producer, int light,
			uint64_t seed)
{
	mmds_ring *r;
	uint64_t x = seed;
	char msg[120];

	fast_path(light);
	r = open_role(path, producer ? MMDS_RING_PRODUCER : MMDS_RING_CONSUMER);
	for (uint64_t i = 0; i < ROUNDS; i++) {
		jitter(&x);
		if (producer) {
			memset(msg, 0, sizeof(msg));
			memcpy(msg, &i, sizeof(i));
			int rc = mmds_ring_push_timed(r, 2, msg, sizeof(msg), -1);
			CHILD_CHECK(rc == 0, "push %llu: %s\n",
				    (unsigned long long)i, mmds_strerror(rc));
		} else {
			uint64_t v;
			ssize_t n = mmds_ring_pop_timed(r, msg, sizeof(msg),
							NULL, -1);

			memcpy(&v, msg, sizeof(v));
			CHILD_CHECK(n == sizeof(msg) && v == i,
				    "message %llu: got %zd, %llu\n",
				    (unsigned long long)i, n,
				    (unsigned long long)v);
		}
	}
	mmds_ring_close(r);
}

static void create(const char *path, uint64_t cap, uint32_t max_message)
{
	mmds_ring *r;

	ck_assert_int_eq(mmds_ring_open(&r, path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER,
		.flags = MMDS_RING_CREATE | MMDS_RING_EXCL,
		.capacity = cap, .max_message = max_message }), 0);
	ck_assert_int_eq(mmds_ring_close(r), 0);
}

/* Wait for both children; past the watchdog, kill them and fail. */
static void watch(pid_t a, pid_t b, const char *what)
{
	uint64_t deadline = now_ns() + (uint64_t)WATCHDOG_S * 1000000000u;
	pid_t kids[2] = { a, b };
	int left = 2, st;

	while (left > 0) {
		for (int i = 0; i < 2; i++) {
			if (kids[i] == 0)
				continue;
			pid_t w = waitpid(kids[i], &st, WNOHANG);
			if (w == 0)
				continue;
			ck_assert_int_eq(w, kids[i]);
			kids[i] = 0;
			left--;
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				      "%s: a side failed (status %d)", what, st);
		}
		if (left > 0 && now_ns() > deadline) {
			for (int i = 0; i < 2; i++)
				if (kids[i]) {
					kill(kids[i], SIGKILL);
					waitpid(kids[i], &st, 0);
				}
			ck_abort_msg("%s: both sides still asleep after %d s: "
				     "a wake-up was lost", what, WATCHDOG_S);
		}
		usleep(10000);
	}
}

/* _i: bit 0 = the first process has the light fast path, bit 1 = the
 * second one has. */
START_TEST(test_pingpong_of_blocking_waits_never_loses_a_wakeup)
{
	const char *ping = t_path("ping"), *pong = t_path("pong");
	char what[64];
	pid_t a, b;

	snprintf(what, sizeof(what), "ping-pong, light %d/%d", _i & 1,
		 (_i >> 1) & 1);
	create(ping, 4096, 0);
	create(pong, 4096, 0);
	if ((a = t_fork()) == 0) {
		pingpong_side(ping, pong, 1, _i & 1, 88172645463325252ull);
		_exit(0);
	}
	if ((b = t_fork()) == 0) {
		pingpong_side(pong, ping, 0, (_i >> 1) & 1, 0x9e3779b97f4a7c15ull);
		_exit(0);
	}
	watch(a, b, what);
}
END_TEST

START_TEST(test_stream_of_blocking_push_and_pop_never_loses_a_wakeup)
{
	const char *path = t_path("stream");
	char what[64];
	pid_t a, b;

	snprintf(what, sizeof(what), "stream, light %d/%d", _i & 1,
		 (_i >> 1) & 1);
	/* 256 bytes hold two records of a 120-byte message (128 each) */
	create(path, 256, 120);
	if ((a = t_fork()) == 0) {
		stream_side(path, 1, _i & 1, 88172645463325252ull);
		_exit(0);
	}
	if ((b = t_fork()) == 0) {
		stream_side(path, 0, (_i >> 1) & 1, 0x9e3779b97f4a7c15ull);
		_exit(0);
	}
	watch(a, b, what);
}
END_TEST

Suite *ring_wake_suite(void)
{
	Suite *s = suite_create("ring_wake");
	TCase *tc = t_tcase(s, "wake", 4 * WATCHDOG_S);

	tcase_add_loop_test(tc, test_pingpong_of_blocking_waits_never_loses_a_wakeup,
			    0, 4);
	tcase_add_loop_test(tc,
			    test_stream_of_blocking_push_and_pop_never_loses_a_wakeup,
			    0, 4);
	return s;
}

int main(void)
{
	return t_run_suite(ring_wake_suite());
}
