/* ring_demo.c - two processes talk through a ring: a forked child produces
 * numbered messages (zero-copy claim/commit and plain pushes), the parent
 * consumes them with blocking pops, then the parent sees that the producer
 * is gone, and `mmds ring info` shows the ring. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds.h>

#define CHECK(call)                                                          \
	do {                                                                 \
		int err_ = (int)(call);                                      \
		if (err_ < 0) {                                              \
			fprintf(stderr, "%s: %s\n", #call, mmds_strerror(err_)); \
			exit(1);                                             \
		}                                                            \
	} while (0)

#define MESSAGES 1000000
#define SECOND 1000000000LL

struct msg {
	uint64_t seq;
	char text[24];
};

static int producer(const char *path)
{
	mmds_ring *r;

	CHECK(mmds_ring_open(&r, path, &(mmds_ring_opts){
		.role = MMDS_RING_PRODUCER }));
	for (uint64_t i = 0; i < MESSAGES; i++) {
		struct msg m = { .seq = i };
		void *slot;
		int rc;

		snprintf(m.text, sizeof(m.text), "message %" PRIu64, i);
		if (i % 2) {
			/* copy in */
			while ((rc = mmds_ring_push(r, 1, &m, sizeof(m))) == -EAGAIN)
				CHECK(mmds_ring_wait_space(r, sizeof(m), 5 * SECOND));
			CHECK(rc);
		} else {
			/* zero-copy: write straight into the ring */
			while ((rc = mmds_ring_claim(r, sizeof(m), &slot)) == -EAGAIN)
				CHECK(mmds_ring_wait_space(r, sizeof(m), 5 * SECOND));
			CHECK(rc);
			memcpy(slot, &m, sizeof(m));
			CHECK(mmds_ring_commit(r, 2));
		}
	}
	CHECK(mmds_ring_push_timed(r, 0, "bye", 3, 5 * SECOND));
	return mmds_ring_close(r) < 0;
}

int main(void)
{
	char path[64], cmd[128];
	struct timespec t0, t1;
	uint64_t received = 0;
	mmds_ring *r;
	pid_t pid;
	double secs;

	snprintf(path, sizeof(path), "/tmp/mmds_ring_demo.%ld", (long)getpid());
	/* The consumer creates the ring: 64 KiB, one producer. */
	CHECK(mmds_ring_open(&r, path, &(mmds_ring_opts){
		.role = MMDS_RING_CONSUMER, .flags = MMDS_RING_CREATE,
		.mode = MMDS_RING_SPSC, .capacity = 1 << 16 }));
	printf("ring %s: %zu-byte messages at most\n", path,
	       mmds_ring_max_message(r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0)
		_exit(producer(path));

	for (;;) {
		struct msg m;
		uint32_t type;
		ssize_t n = mmds_ring_pop_timed(r, &m, sizeof(m), &type,
						5 * SECOND);

		CHECK(n);
		if (type == 0)
			break; /* "bye" */
		if (n != (ssize_t)sizeof(m) || m.seq != received) {
			fprintf(stderr, "out of order: got %" PRIu64 ", want %"
				PRIu64 "\n", m.seq, received);
			return 1;
		}
		if (received % 250000 == 0)
			printf("  received \"%s\" (type %u)\n", m.text, type);
		received++;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("%" PRIu64 " messages in order from process %ld, %.0f per second\n",
	       received, (long)pid, (double)received / secs);

	waitpid(pid, NULL, 0);
	printf("producer alive after it exited: %d\n",
	       mmds_ring_peer_alive(r, 0));
	snprintf(cmd, sizeof(cmd), "./tools/mmds ring info %s", path);
	fflush(stdout);
	if (access("./tools/mmds", X_OK) == 0 && system(cmd) != 0)
		fprintf(stderr, "mmds ring info failed\n");
	CHECK(mmds_ring_close(r));
	unlink(path);
	return 0;
}
