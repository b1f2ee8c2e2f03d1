/* cmd_ring.c - `mmds ring info FILE`: a ring's parameters, fill, positions
 * and whether its processes are alive. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <mmds.h>

#include "tool.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: mmds ring info FILE\n\n"
		     "  info FILE   capacity, mode, fill, positions, and the "
		     "liveness of the\n"
		     "              consumer and producers of the ring in FILE\n"
		     "Exit status: 0 ok, 2 usage, 3 not a ring, 4 corrupt, 5 I/O.\n");
	return out == stdout ? TOOL_OK : TOOL_USAGE;
}

static void peer(const char *what, const mmds_ring_peer *p)
{
	if (p->pid == 0)
		printf("%-14s none\n", what);
	else
		printf("%-14s pid %" PRId64 " %s (heartbeat %" PRIu64
		       " ns monotonic)\n",
		       what, p->pid, p->alive ? "alive" : "dead", p->heartbeat_ns);
}

static int info(const char *path)
{
	mmds_ring *r = NULL;
	mmds_ring_info in;
	int rc = tool_check_kind("ring", path, TOOL_KIND_RING);

	if (rc)
		return rc;
	rc = mmds_ring_open(&r, path,
			    &(mmds_ring_opts){ .role = MMDS_RING_OBSERVER });
	if (rc == 0)
		rc = mmds_ring_get_info(r, &in);
	if (rc < 0) {
		mmds_ring_close(r);
		return tool_fail("ring", path, rc);
	}
	printf("file           %s\n", path);
	printf("mode           %s\n",
	       in.mode == MMDS_RING_MPSC ? "MPSC (multiple producers)"
					 : "SPSC (single producer)");
	printf("capacity       %" PRIu64 " bytes\n", in.capacity);
	printf("max message    %" PRIu32 " bytes\n", in.max_message);
	printf("used           %" PRIu64 " bytes (%.1f%%)\n", in.used,
	       100.0 * (double)in.used / (double)in.capacity);
	printf("head           %" PRIu64 " (consumer, released)\n", in.head);
	printf("tail           %" PRIu64 " (producers, claimed)\n", in.tail);
	peer("consumer", &in.consumer);
	printf("producers      %u registered\n", in.nproducers);
	for (unsigned i = 0; i < MMDS_RING_MAX_PRODUCERS; i++) {
		char name[32];

		if (in.producers[i].pid == 0)
			continue;
		snprintf(name, sizeof(name), "  producer %u", i);
		peer(name, &in.producers[i]);
	}
	mmds_ring_close(r);
	return 0;
}

int mmds_tool_ring(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
			  strcmp(argv[1], "-h") == 0))
		return usage(stdout);
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "info") != 0)
		return tool_usage_error("ring", "unknown subcommand '%s'", argv[1]);
	{
		const char *file = NULL;
		int dashes = 0;

		for (int i = 2; i < argc; i++) {
			const char *a = argv[i];

			if (!dashes && strcmp(a, "--") == 0)
				dashes = 1; /* the rest are paths */
			else if (!dashes && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0))
				return usage(stdout);
			else if (!dashes && a[0] == '-' && a[1] != '\0')
				return tool_usage_error("ring", "unknown option '%s'", a);
			else if (file)
				return tool_usage_error("ring", "one FILE only ('%s' is extra)", a);
			else
				file = a;
		}
		if (file == NULL)
			return tool_usage_error("ring", "'mmds ring info' needs a ring FILE");
		return info(file);
	}
}
