/* tool.h - the subcommands of the mmds tool, one per structure, and the
 * helpers they share (tool.c): exit codes, option values, file kinds,
 * signals and a reader that went away. */
#ifndef MMDS_TOOL_H
#define MMDS_TOOL_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes of every subcommand, documented in mmds(1). */
enum {
	TOOL_OK = 0,       /* success */
	TOOL_FAIL = 1,     /* another failure: permission, busy, out of memory */
	TOOL_USAGE = 2,    /* bad command line: unknown, conflicting or bad option */
	TOOL_NOTFOUND = 3, /* no such path, wrong kind of file, no such record */
	TOOL_CORRUPT = 4,  /* the file is corrupt (verify failed, bad checksum) */
	TOOL_IO = 5        /* I/O error: reading the file or writing the output */
};

/* Each runs `mmds NAME ARGS...` with argv[0] == NAME and returns the
 * process's exit status (above). */
int mmds_tool_log(int argc, char **argv);
int mmds_tool_counters(int argc, char **argv);
int mmds_tool_ring(int argc, char **argv);
/* `mmds log ship ARGS...` with argv[0] == "ship" (cmd_log_ship.c). */
int mmds_tool_log_ship(int argc, char **argv);
/* `mmds counters serve ARGS...` with argv[0] == "serve" (needs libmicrohttpd). */
int mmds_tool_counters_serve(int argc, char **argv);

/* The signal (SIGINT, SIGTERM) that asked the tool to stop, or 0.  Loops
 * check it; main() then exits 128 + the signal. */
extern volatile sig_atomic_t tool_stop;

/* Catch SIGINT and SIGTERM into tool_stop, without SA_RESTART so that a
 * sleep wakes up. */
void tool_catch_signals(void);

/* The exit code for a negative errno of the library or the system. */
int tool_exit_code(int err);

/* Print "mmds CMD: MESSAGE" and a pointer to --help; return TOOL_USAGE. */
int tool_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "mmds CMD: PATH: <strerror>"; return tool_exit_code(err). */
int tool_fail(const char *cmd, const char *path, int err);

/* Parse a whole decimal number in [min, max] given to option opt; on a bad
 * value print why and return TOOL_USAGE, else store it and return 0. */
int tool_parse_u64(const char *cmd, const char *opt, const char *s,
		   uint64_t min, uint64_t max, uint64_t *out);

/* Length of the longest prefix of p[0..n) that is valid UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
size_t tool_utf8_prefix(const unsigned char *p, size_t n);

/* Refuse option opt given a second time (*seen says whether it was):
 * print why and return TOOL_USAGE, else mark it seen and return 0. */
int tool_once(const char *cmd, const char *opt, int *seen);

/* Parse a number of seconds in (0, max] given to option opt: decimal,
 * fractions and exponents allowed; not hex, inf or nan. */
int tool_parse_seconds(const char *cmd, const char *opt, const char *s,
		       double max, double *out);

/* What a path is, from stat and the magic at the start of a file. */
enum tool_kind {
	TOOL_KIND_LOG,         /* a directory of log segments */
	TOOL_KIND_COUNTERS,    /* a counters file */
	TOOL_KIND_RING,        /* a ring file */
	TOOL_KIND_SEGMENT,     /* one segment file of a log */
	TOOL_KIND_DIR,         /* another directory */
	TOOL_KIND_FILE,        /* a file that is not an mmds file */
	TOOL_KIND_SPECIAL      /* a device, FIFO, socket */
};

/* Check that path is of kind want (LOG, COUNTERS or RING).  If it is not,
 * print what it is and which command reads it, and return the exit code
 * (TOOL_NOTFOUND, or another for a failed stat); else 0. */
int tool_check_kind(const char *cmd, const char *path, enum tool_kind want);

/* 0 while whoever reads our standard output is still there, -EPIPE once
 * a pipe or socket on fd 1 lost its reader (checked without writing). */
int tool_output_alive(void);

/* Exit like a writer into a closed pipe: by SIGPIPE, else TOOL_IO. */
int tool_reader_gone(void);

/* Write what fill() prints into path atomically: a temporary file in the
 * same directory, fsync, rename over path, fsync of the directory.  A
 * symbolic link at path is followed (the file it points to is replaced,
 * the link stays); a path that is a directory (-EISDIR), FIFO, socket or
 * device (-ENOTSUP) is refused.  The file gets mode 0666 & ~umask, like a
 * shell redirection.  On any failure path is left as it was and the
 * temporary file is removed; returns 0 or a negative errno (the message,
 * with the system's reason, is printed). */
int tool_write_atomic(const char *cmd, const char *path,
		      int (*fill)(FILE *out, void *arg), void *arg);

#endif /* MMDS_TOOL_H */
