/* tool.h - the subcommands of the mmds tool, one per structure. */
#ifndef MMDS_TOOL_H
#define MMDS_TOOL_H

/* Each runs `mmds NAME ARGS...` with argv[0] == NAME and returns the
 * process's exit status: 0 success, 1 failure (message on stderr), 2 usage. */
int mmds_tool_log(int argc, char **argv);
int mmds_tool_counters(int argc, char **argv);
int mmds_tool_ring(int argc, char **argv);

#endif /* MMDS_TOOL_H */
