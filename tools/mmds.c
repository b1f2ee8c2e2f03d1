/* mmds.c - the mmds command-line tool: inspect, verify and watch mmds files.
 * One subcommand per structure, each in its own tools/cmd_*.c. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <mmds.h>

#include "tool.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
#ifdef MMDS_TOOL_LOG
	{ "log", mmds_tool_log, "info|verify|dump|tail|cursors|ship a log directory" },
#endif
#ifdef MMDS_TOOL_COUNTERS
	{ "counters", mmds_tool_counters, "list, watch or export a counters file" },
#endif
#ifdef MMDS_TOOL_RING
	{ "ring", mmds_tool_ring, "info about a ring buffer" },
#endif
	{ NULL, NULL, NULL }
};

static int usage(FILE *out)
{
	fprintf(out, "usage: mmds COMMAND [ARGS...]\n\ncommands:\n");
	for (const struct command *c = commands; c->name; c++)
		fprintf(out, "  %-10s %s\n", c->name, c->summary);
	fprintf(out, "  %-10s %s\n", "version", "print the library version");
	fprintf(out, "  %-10s %s\n", "help CMD", "the same as 'mmds CMD --help'");
	fprintf(out, "\n'mmds COMMAND --help' describes each command.\n");
	fprintf(out, "\nexit status: 0 success, 1 other failure, 2 usage error,\n"
		     "3 not found or wrong kind of file, 4 corrupt, 5 I/O error,\n"
		     "128+N killed by signal N (130 for SIGINT).\n");
	return out == stdout ? TOOL_OK : TOOL_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "help") == 0 && argc == 3) {
		/* `mmds help CMD` is `mmds CMD --help` */
		for (const struct command *c = commands; c->name; c++) {
			if (strcmp(argv[2], c->name) == 0) {
				char *av[] = { argv[2], (char *)"--help", NULL };

				return c->run(2, av);
			}
		}
		fprintf(stderr, "mmds: unknown command '%s'\n", argv[2]);
		return usage(stderr);
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0 || strcmp(argv[1], "version") == 0 ||
	    strcmp(argv[1], "--version") == 0) {
		if (argc > 2) {
			fprintf(stderr, "mmds: '%s' takes no argument ('%s' is extra)\n",
				argv[1], argv[2]);
			return TOOL_USAGE;
		}
		if (argv[1][0] == 'v' || strcmp(argv[1], "--version") == 0) {
			printf("mmds %s\n", mmds_version());
			return 0;
		}
		return usage(stdout);
	}
	/* A file size limit makes a write fail with EFBIG, reported, not a kill. */
	signal(SIGXFSZ, SIG_IGN);
	tool_catch_signals();
#ifdef MMDS_TOOL_SHIP
	/* `mmds log ship` lives in cmd_log_ship.c, beside the other log commands */
	if (argc >= 3 && strcmp(argv[1], "log") == 0 && strcmp(argv[2], "ship") == 0) {
		int rc = mmds_tool_log_ship(argc - 2, argv + 2);

		/* stopped by SIGINT/SIGTERM: 130/143 like every command */
		return tool_stop ? 128 + tool_stop : rc;
	}
#endif
	for (const struct command *c = commands; c->name; c++) {
		if (strcmp(argv[1], c->name) == 0) {
			int rc = c->run(argc - 1, argv + 1);

			return tool_stop ? 128 + tool_stop : rc;
		}
	}
	fprintf(stderr, "mmds: unknown command '%s'\n", argv[1]);
	return usage(stderr);
}
