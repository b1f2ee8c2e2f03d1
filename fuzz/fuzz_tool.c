/* fuzz_tool.c - the mmds tool run in-process by the fuzz targets (fuzz.h). */
#include "config.h"

#include <signal.h>
#include <stdio.h>

#include "fuzz.h"

/* tools/mmds.c's main, renamed when it is compiled into the harness. */
int mmds_fuzz_tool_main(int argc, char **argv);

int fz_tool(int argc, const char *const *argv)
{
	char *args[16];
	struct sigaction old_int, old_term;
	FILE *out = stdout, *err = stderr;
	int rc;

	if (argc > 15)
		argc = 15;
	for (int i = 0; i < argc; i++)
		args[i] = (char *)argv[i];
	args[argc] = NULL;
	/* The tool's output is not what is tested; ASan and libFuzzer write
	 * to descriptor 2 themselves, so findings are still printed. */
	sigaction(SIGINT, NULL, &old_int);
	sigaction(SIGTERM, NULL, &old_term);
	stdout = fz_devnull;
	stderr = fz_devnull;
	rc = mmds_fuzz_tool_main(argc, args);
	fflush(fz_devnull);
	stdout = out;
	stderr = err;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	return rc;
}
