/* fuzz_ring.c - fuzz target for a ring file: the input (after the mode
 * byte) is the file; it is opened as an observer, a consumer and a
 * producer; info and liveness are read, messages are peeked, popped and
 * read in batches until the ring is empty, repaired, pushed, claimed,
 * committed and aborted - non-blocking calls only - and `mmds ring info`
 * reads it.  docs/FUZZING.md. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmds.h>

#include "fixup.h"
#include "fuzz.h"

#define MAX_MSGS 100000u /* bound on one drain */

static char path[PATH_MAX];
static unsigned char buf[1 << 16];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	snprintf(path, sizeof(path), "%s/ring", fz_dir());
	return 0;
}

static void materialize(const uint8_t *data, size_t size)
{
	size_t n;
	uint8_t *img;

	fz_clear_dir(fz_dir());
	img = fz_image(data, size, fz_ring_declared_size, &n);
	if (img == NULL)
		return;
	if (data[0] & FZ_MODE_FIXUP)
		fz_fixup_ring(img, n);
	fz_write_file(fz_dir(), "ring", img, n);
	free(img);
}

static void info(mmds_ring *r)
{
	mmds_ring_info in;
	int rc = mmds_ring_get_info(r, &in);

	FZ_ERRNO(rc);
	if (rc == 0) {
		FZ_CHECK(in.used == in.tail - in.head && in.used <= in.capacity,
			 "head %llu, tail %llu, used %llu of %llu",
			 (unsigned long long)in.head, (unsigned long long)in.tail,
			 (unsigned long long)in.used,
			 (unsigned long long)in.capacity);
		FZ_CHECK(in.max_message <= in.capacity / 2,
			 "max_message %u of %llu", in.max_message,
			 (unsigned long long)in.capacity);
		FZ_CHECK(in.nproducers <= MMDS_RING_MAX_PRODUCERS, "%u producers",
			 in.nproducers);
	}
	FZ_ERRNO(mmds_ring_peer_alive(r, 0));
	FZ_ERRNO(mmds_ring_peer_alive(r, 1000000));
	(void)mmds_ring_max_message(r);
	(void)mmds_ring_fd(r);
}

static int batch_fn(void *arg, const mmds_ring_msg *m)
{
	unsigned *sum = arg;
	const unsigned char *p = m->data;

	for (size_t i = 0; i < m->len; i++)
		*sum += p[i];
	return 0;
}

static void consume(mmds_ring *r)
{
	mmds_ring_msg m;
	uint32_t type;
	unsigned sum = 0, i;
	size_t max = mmds_ring_max_message(r);
	ssize_t n = 0;
	int rc = 0;

	FZ_CHECK(max <= (size_t)1 << 30, "max_message %zu", max);
	/* a peeked message released, then one peeked and left to the pop */
	for (i = 0; i < 2; i++) {
		rc = mmds_ring_peek(r, &m);
		FZ_ERRNO(rc);
		if (rc != 0)
			break;
		FZ_CHECK(m.len <= max, "peeked %zu bytes, max %zu", m.len, max);
		batch_fn(&sum, &m);
		if (i == 0)
			FZ_CHECK(mmds_ring_release(r) == 1, "release of one peeked message");
	}
	for (i = 0; i < MAX_MSGS; i++) {
		n = mmds_ring_pop(r, buf, sizeof(buf), &type);
		FZ_ERRNO(n);
		if (n < 0)
			break;
		fz_trace("ring: popped %zd bytes, type %u", n, type);
		FZ_CHECK((size_t)n <= max, "popped %zd bytes, max %zu", n, max);
	}
	if (n == -EMSGSIZE)
		FZ_CHECK(max > sizeof(buf), "pop: -EMSGSIZE with a %zu-byte buffer",
			 sizeof(buf));
	rc = mmds_ring_repair(r);
	fz_trace("ring: repair %d", rc);
	FZ_ERRNO(rc);
	n = mmds_ring_read_batch(r, 0, batch_fn, &sum);
	fz_trace("ring: batch %zd", n);
	FZ_ERRNO(n);
	FZ_ERRNO(mmds_ring_wait_data(r, 0));
	FZ_ERRNO(mmds_ring_heartbeat(r));
	FZ_ERRNO(mmds_ring_repair(r));
	for (i = 0; i < MAX_MSGS; i++) {
		n = mmds_ring_read_batch(r, 16, batch_fn, &sum);
		FZ_ERRNO(n);
		if (n <= 0)
			break;
	}
	info(r);
}

static void produce(mmds_ring *r)
{
	static const char msg[] = "fuzz message";
	struct iovec iov[2] = { { (void *)msg, 4 }, { (void *)(msg + 4), 8 } };
	void *p = NULL;
	int rc;

	FZ_ERRNO(mmds_ring_push(r, 7, msg, sizeof(msg)));
	FZ_ERRNO(mmds_ring_push(r, 8, NULL, 0));
	FZ_ERRNO(mmds_ring_pushv(r, 9, iov, 2));
	rc = mmds_ring_claim(r, 24, &p);
	FZ_ERRNO(rc);
	if (rc == 0) {
		memset(p, 0xab, 24);
		FZ_CHECK(mmds_ring_commit(r, 10) == 0, "commit of a claim");
	}
	rc = mmds_ring_claim(r, 100, &p);
	FZ_ERRNO(rc);
	if (rc == 0) {
		memset(p, 0xcd, 100);
		FZ_CHECK(mmds_ring_abort(r) == 0, "abort of a claim");
	}
	FZ_ERRNO(mmds_ring_wait_space(r, 16, 0));
	FZ_ERRNO(mmds_ring_heartbeat(r));
	info(r);
}

static int open_role(mmds_ring **r, unsigned role, unsigned flags)
{
	int rc = mmds_ring_open(r, path,
				&(mmds_ring_opts){ .role = role, .flags = flags });

	fz_trace("ring: open role %u flags %u: %d", role, flags, rc);
	FZ_ERRNO(rc);
	FZ_CHECK(rc == 0 || *r == NULL, "a failed open returned a handle");
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_begin();
	static const char *const tool[] = { "mmds", "ring", "info", path };
	mmds_ring *r = NULL;

	materialize(data, size);
	if (open_role(&r, MMDS_RING_OBSERVER, 0) == 0) {
		info(r);
		FZ_CHECK(mmds_ring_push(r, 1, "x", 1) == -EINVAL,
			 "an observer pushed");
		FZ_ERRNO(mmds_ring_close(r));
	}
	fz_tool(4, tool);

	/* the consumer, then producers on what it left, then a consumer again */
	if (open_role(&r, MMDS_RING_CONSUMER, 0) == 0 ||
	    open_role(&r, MMDS_RING_CONSUMER, MMDS_RING_TAKEOVER) == 0) {
		consume(r);
		FZ_ERRNO(mmds_ring_close(r));
	}
	if (open_role(&r, MMDS_RING_PRODUCER, 0) == 0 ||
	    open_role(&r, MMDS_RING_PRODUCER, MMDS_RING_TAKEOVER) == 0) {
		produce(r);
		FZ_ERRNO(mmds_ring_close(r));
	}
	if (open_role(&r, MMDS_RING_CONSUMER, MMDS_RING_TAKEOVER) == 0) {
		consume(r);
		FZ_ERRNO(mmds_ring_close(r));
	}

	/* a producer first, on the file as the input made it */
	materialize(data, size);
	if (open_role(&r, MMDS_RING_PRODUCER, MMDS_RING_TAKEOVER) == 0) {
		produce(r);
		FZ_ERRNO(mmds_ring_close(r));
	}
	fz_tool(4, tool);
	fz_check_fds();
	return 0;
}
