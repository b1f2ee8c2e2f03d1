/* test_mmds.c - the mmds command-line tool as a user runs it: every test
 * forks and execs the built tools/mmds (or $MMDS_TOOL) and checks its exit
 * status, standard output and standard error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mmds.h>

#include "t_util.h"

Suite *tool_suite(void);

/* ---- running the tool ----------------------------------------------------- */

static char tool[4096];

static void find_tool(void)
{
	const char *t = getenv("MMDS_TOOL");
	const char *b = getenv("top_builddir");

	if (t)
		snprintf(tool, sizeof(tool), "%s", t);
	else
		snprintf(tool, sizeof(tool), "%s/tools/mmds", b ? b : ".");
}

/* What one run of the tool did. */
struct res {
	int status;     /* exit status, or 128 + signal */
	int signaled;   /* killed by a signal */
	char out[65536], err[8192];
};

static struct res R;

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Read all of fd into buf (NUL-terminated) until EOF. */
static void drain(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while ((r = read(fd, buf + n, cap - 1 - n)) > 0 && n + (size_t)r < cap - 1)
		n += (size_t)r;
	if (r > 0)
		n += (size_t)r;
	buf[n] = '\0';
}

/* When not 0, spawn() runs the tool as this user (the tests run as root
 * in CI, where no file is out of reach otherwise). */
static uid_t spawn_uid;

static pid_t spawn(const char *const argv[], int *out_fd, int *err_fd,
		   rlim_t fsize_limit)
{
	int o[2], e[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(o, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(e, O_CLOEXEC), 0);
	pid = t_fork();
	if (pid == 0) {
		dup2(o[1], 1);
		dup2(e[1], 2);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		if (fsize_limit) {
			struct rlimit rl = { fsize_limit, fsize_limit };

			setrlimit(RLIMIT_FSIZE, &rl);
		}
		if (spawn_uid && (setgid((gid_t)spawn_uid) != 0 || setuid(spawn_uid) != 0)) {
			fprintf(stderr, "setuid %u: %s\n", (unsigned)spawn_uid, strerror(errno));
			_exit(127);
		}
		execv(tool, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", tool, strerror(errno));
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	*out_fd = o[0];
	*err_fd = e[0];
	return pid;
}

static void reap(pid_t pid)
{
	int st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	R.signaled = WIFSIGNALED(st);
	R.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run the tool with the arguments (NULL-terminated), optionally under a
 * file size limit; the result is in R. */
static void vrun(rlim_t fsize, va_list ap)
{
	const char *argv[32];
	int n = 0, o, e;
	pid_t pid;

	argv[n++] = tool;
	while (n < 31 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	argv[n] = NULL;
	pid = spawn(argv, &o, &e, fsize);
	/* the outputs are small: drain stdout, then stderr */
	drain(o, R.out, sizeof(R.out));
	drain(e, R.err, sizeof(R.err));
	close(o);
	close(e);
	reap(pid);
}

static void run_limited(rlim_t fsize, ...)
{
	va_list ap;

	va_start(ap, fsize);
	vrun(fsize, ap);
	va_end(ap);
}

#define run(...) run_limited(0, __VA_ARGS__)

#define ck_err_has(s) \
	ck_assert_msg(strstr(R.err, (s)) != NULL, "stderr lacks '%s':\n%s", (s), R.err)
#define ck_out_has(s) \
	ck_assert_msg(strstr(R.out, (s)) != NULL, "stdout lacks '%s':\n%s", (s), R.out)
#define ck_status(n)                                                          \
	ck_assert_msg(R.status == (n), "exit status %d, want %d; stderr:\n%s", \
		      R.status, (n), R.err)

/* ---- fixtures: one file of each kind -------------------------------------- */

static const char *make_log(const char *name)
{
	const char *dir = t_path(name);
	mmds_log *l;
	uint64_t lsn;

	ck_assert_int_eq(mmds_log_open(&l, dir, &(mmds_log_opts){
						.flags = MMDS_LOG_CREATE }), 0);
	ck_assert_int_eq(mmds_log_append(l, 1, "hello \"w\"\n", 10, &lsn), 0);
	ck_assert_int_eq(mmds_log_append(l, 2, "\xff\x00\x01", 3, &lsn), 0);
	ck_assert_int_eq(mmds_log_append(l, 3, "h\xc3\xa9llo", 6, &lsn), 0);
	mmds_log_close(l);
	return dir;
}

static const char *make_counters(const char *name)
{
	const char *path = t_path(name);
	mmds_counters *c;
	int id;

	ck_assert_int_eq(mmds_counters_open(&c, path, &(mmds_counters_opts){
						.flags = MMDS_COUNTERS_CREATE }), 0);
	id = mmds_counters_alloc(c, "requests", NULL);
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(mmds_counters_add(c, id, 5, NULL), 0);
	mmds_counters_close(c);
	return path;
}

static const char *make_ring(const char *name)
{
	const char *path = t_path(name);
	mmds_ring *r;

	ck_assert_int_eq(mmds_ring_open(&r, path, &(mmds_ring_opts){
						.role = MMDS_RING_CONSUMER,
						.flags = MMDS_RING_CREATE,
						.capacity = 4096 }), 0);
	mmds_ring_close(r);
	return path;
}

/* Whether this build has `mmds counters serve` (libmicrohttpd). */
static int have_serve_built(void)
{
	run("counters", "serve", "--help", NULL);
	return R.status == 0;
}

/* ---- option values -------------------------------------------------------- */

START_TEST(test_bad_numbers_say_why)
{
	const char *log = make_log("log");
	const char *cnt = make_counters("cnt");

	run("log", "tail", "-n", "abc", log, NULL);
	ck_status(2);
	ck_err_has("-n: 'abc' is not a number");
	run("log", "tail", "-n", "-3", log, NULL);
	ck_status(2);
	ck_err_has("'-3' is negative");
	run("log", "tail", "-n", "2x", log, NULL);
	ck_status(2);
	ck_err_has("trailing 'x'");
	run("log", "tail", "-n", "99999999999999999999999", log, NULL);
	ck_status(2);
	ck_err_has("too large");
	run("log", "dump", "--from", "", log, NULL);
	ck_status(2);
	ck_err_has("is not a number");
	run("counters", "--watch", "0", cnt, NULL);
	ck_status(2);
	ck_err_has("--watch: '0' is out of range");
	run("counters", "--watch", "abc", cnt, NULL);
	ck_status(2);
	ck_err_has("--watch: 'abc' is not a number of seconds");
	run("counters", "--watch", "1s", cnt, NULL);
	ck_status(2);
	ck_err_has("trailing 's'");
	run("counters", "--watch", "-1", cnt, NULL);
	ck_status(2);
	ck_err_has("out of range");
	run("counters", "--watch", "nan", cnt, NULL);
	ck_status(2);
	/* strtod's other spellings are not seconds either */
	run("counters", "--watch", "0x10", "--count", "1", cnt, NULL);
	ck_status(2);
	ck_err_has("--watch: '0x10' is not a number of seconds");
	run("counters", "--watch", "infinity", cnt, NULL);
	ck_status(2);
	ck_err_has("is not a number of seconds");
	/* a round takes a snapshot: faster than every 10 ms is a busy loop */
	run("counters", "--watch", "1e-9", "--count", "2", cnt, NULL);
	ck_status(2);
	ck_err_has("--watch: '1e-9' is too short (at least 0.01 seconds)");
	run("counters", "--watch", "1", "--count", "0", cnt, NULL);
	ck_status(2);
	ck_err_has("--count: '0' is too small");
	run("log", "dump", "--json", "--binary", "octal", log, NULL);
	ck_status(2);
	ck_err_has("'octal' is not base64 or hex");
	/* every usage error points at --help */
	ck_err_has("Try 'mmds log --help'");
}
END_TEST

START_TEST(test_conflicting_and_stray_options_are_refused)
{
	const char *log = make_log("log");
	const char *cnt = make_counters("cnt");

	run("counters", "--prometheus", "--json", cnt, NULL);
	ck_status(2);
	ck_err_has("--prometheus and --json cannot be used together");
	ck_assert_str_eq(R.out, "");
	run("counters", "--count", "3", cnt, NULL);
	ck_status(2);
	ck_err_has("--count needs --watch");
	run("counters", "--output", t_path("x.prom"), cnt, NULL);
	ck_status(2);
	ck_err_has("--output needs --prometheus or --json");
	run("counters", "--bogus", cnt, NULL);
	ck_status(2);
	ck_err_has("unknown option '--bogus'");
	run("counters", cnt, cnt, NULL);
	ck_status(2);
	ck_err_has("is extra");
	run("log", "info", "-f", log, NULL);
	ck_status(2);
	ck_err_has("-f does not apply to 'mmds log info'");
	run("log", "dump", "-n", "3", log, NULL);
	ck_status(2);
	ck_err_has("-n does not apply to 'mmds log dump'");
	run("log", "tail", "--from", "0", log, NULL);
	ck_status(2);
	ck_err_has("--from does not apply to 'mmds log tail'");
	run("log", "dump", "--binary", "hex", log, NULL);
	ck_status(2);
	ck_err_has("--binary needs --json");
	run("log", "frobnicate", log, NULL);
	ck_status(2);
	ck_err_has("unknown subcommand 'frobnicate'");
	run("log", "tail", "-n", NULL);
	ck_status(2);
	ck_err_has("-n needs a value");
	run("ring", "info", NULL);
	ck_status(2);
	ck_err_has("needs a ring FILE");
	run("nosuch", NULL);
	ck_status(2);
	ck_err_has("unknown command 'nosuch'");
	/* help is success, on stdout */
	run("log", "--help", NULL);
	ck_status(0);
	ck_out_has("usage: mmds log");
	run("help", "counters", NULL);
	ck_status(0);
	ck_out_has("usage: mmds counters");
	/* a stray word after a command that takes none */
	run("version", "extra", NULL);
	ck_status(2);
	ck_err_has("'extra'");
	run("ring", "info", make_ring("ring"), "-x", NULL);
	ck_status(2);
	ck_err_has("unknown option '-x'");
	/* "--" ends the options: a path may start with '-' */
	run("counters", "--", cnt, NULL);
	ck_status(0);
	ck_out_has("requests");
	run("log", "info", "--", "-nosuch", NULL);
	ck_status(3);
	ck_err_has("-nosuch: No such file or directory");
	run("ring", "info", "--", "-nosuch", NULL);
	ck_status(3);
	ck_err_has("-nosuch: No such file or directory");
}
END_TEST

/* An option that takes a value, given twice, is a conflict: refused, not
 * silently the last one (--output a --output b wrote only b). */
START_TEST(test_an_option_given_twice_is_refused)
{
	const char *log = make_log("log");
	const char *cnt = make_counters("cnt");
	struct stat st;

	run("counters", "--watch", "1", "--watch", "2", "--count", "1", cnt, NULL);
	ck_status(2);
	ck_err_has("--watch given twice");
	run("counters", "--json", "--output", t_path("a"), "-o", t_path("b"), cnt, NULL);
	ck_status(2);
	ck_err_has("given twice");
	ck_assert_int_ne(stat(t_path("a"), &st), 0);
	ck_assert_int_ne(stat(t_path("b"), &st), 0);
	run("counters", "--watch", "1", "--count", "1", "--count", "2", cnt, NULL);
	ck_status(2);
	ck_err_has("--count given twice");
	run("log", "tail", "-n", "1", "-n", "2", log, NULL);
	ck_status(2);
	ck_err_has("-n given twice");
	run("log", "dump", "--from", "0", "--from", "32", log, NULL);
	ck_status(2);
	ck_err_has("--from given twice");
	run("log", "dump", "--json", "--binary", "hex", "--binary", "base64", log, NULL);
	ck_status(2);
	ck_err_has("--binary given twice");
	run("log", "dump", "--max-bytes", "1", "--max-bytes", "2", log, NULL);
	ck_status(2);
	ck_err_has("--max-bytes given twice");
	/* a flag twice is still that flag */
	run("counters", "--json", "--json", cnt, NULL);
	ck_status(0);
	if (have_serve_built()) {
		run("counters", "serve", "--listen", "127.0.0.1:0", "--listen", "127.0.0.1:1",
		    cnt, NULL);
		ck_status(2);
		ck_err_has("--listen given twice");
		run("counters", "serve", "--listen", "127.0.0.1:0", "--prefix", "a_",
		    "--prefix", "b_", cnt, NULL);
		ck_status(2);
		ck_err_has("--prefix given twice");
		run("counters", "serve", "--listen", "127.0.0.1:0", "--timeout", "1",
		    "--timeout", "2", cnt, NULL);
		ck_status(2);
		ck_err_has("--timeout given twice");
	}
}
END_TEST

/* ---- the wrong kind of file ----------------------------------------------- */

START_TEST(test_wrong_kind_of_file_names_what_it_is)
{
	const char *log = make_log("log");
	const char *cnt = make_counters("cnt");
	const char *ring = make_ring("ring");
	const char *plain = t_path("plain");
	char seg[4200];

	t_write_file(plain, "just some text\n", 15);
	snprintf(seg, sizeof(seg), "%s/00000000000000000000.seg", log);

	run("log", "info", cnt, NULL);
	ck_status(3);
	ck_err_has("is a counters file, not a log directory");
	ck_err_has("mmds counters ");
	run("log", "verify", ring, NULL);
	ck_status(3);
	ck_err_has("is a ring file, not a log directory");
	ck_err_has("mmds ring info ");
	run("ring", "info", log, NULL);
	ck_status(3);
	ck_err_has("is a log directory, not a ring file");
	ck_err_has("mmds log info ");
	run("counters", ring, NULL);
	ck_status(3);
	ck_err_has("is a ring file, not a counters file");
	run("counters", log, NULL);
	ck_status(3);
	ck_err_has("is a log directory, not a counters file");
	run("counters", t_tmpdir(), NULL);
	ck_status(3);
	ck_err_has("is a directory");
	run("log", "info", seg, NULL);
	ck_status(3);
	ck_err_has("is a segment file of a log");
	ck_err_has(log);
	run("log", "info", plain, NULL);
	ck_status(3);
	ck_err_has("not an mmds file");
	run("ring", "info", plain, NULL);
	ck_status(3);
	ck_err_has("not an mmds file");
	run("log", "info", t_path("missing"), NULL);
	ck_status(3);
	ck_err_has("No such file or directory");
	run("counters", t_path("plain/x"), NULL);
	ck_status(3);
	ck_err_has("is a file, not a directory");
	/* a path through an mmds file names the file and its command */
	{
		char through[4200], want[4300];

		snprintf(through, sizeof(through), "%s/x", cnt);
		run("log", "info", through, NULL);
		ck_status(3);
		snprintf(want, sizeof(want), "%s is a counters file, not a directory", cnt);
		ck_err_has(want);
		ck_err_has("mmds counters ");
		snprintf(through, sizeof(through), "%s/00000000000000000000.seg/x", log);
		run("log", "verify", through, NULL);
		ck_status(3);
		ck_err_has("is a segment file of a log, not a directory");
	}
}
END_TEST

/* A log directory or segment the user may not read is "Permission
 * denied" (exit 1), not "a directory without log segments" (exit 3). */
START_TEST(test_unreadable_log_is_permission_denied)
{
	const char *log;
	char seg[4200];

	if (geteuid() != 0)
		t_skip("needs root, to run the tool as another user");
	log = make_log("log");
	snprintf(seg, sizeof(seg), "%s/00000000000000000000.seg", log);
	ck_assert_int_eq(chmod(t_tmpdir(), 0711), 0);
	spawn_uid = 65534; /* nobody */
	ck_assert_int_eq(chmod(log, 0700), 0);
	run("log", "info", log, NULL);
	ck_status(1);
	ck_err_has(strerror(EACCES));
	ck_assert_int_eq(chmod(log, 0755), 0);
	ck_assert_int_eq(chmod(seg, 0600), 0);
	run("log", "verify", log, NULL);
	ck_status(1);
	ck_err_has(strerror(EACCES));
	spawn_uid = 0;
	ck_assert_int_eq(chmod(t_tmpdir(), 0700), 0);
}
END_TEST

/* ---- exit codes ----------------------------------------------------------- */

START_TEST(test_exit_codes_are_distinct)
{
	const char *log = make_log("log");
	const char *cnt = make_counters("cnt");
	char seg[4200];
	unsigned char *b;
	size_t len;

	run("log", "verify", log, NULL);
	ck_status(0);
	ck_out_has("status:           ok");
	run("log", "info", log, NULL);
	ck_status(0);
	run("counters", cnt, NULL);
	ck_status(0);
	ck_out_has("requests");

	/* a flipped payload byte of the first of three records: corrupt, 4 */
	snprintf(seg, sizeof(seg), "%s/00000000000000000000.seg", log);
	b = t_read_file(seg, &len);
	ck_assert_uint_gt(len, 4096 + 16);
	{
		char *hit = memmem(b + 4096, len - 4096, "hello", 5);

		ck_assert_ptr_nonnull(hit);
		*hit ^= 0x20;
	}
	t_write_file(seg, b, len);
	free(b);
	run("log", "verify", log, NULL);
	ck_status(4);
	ck_out_has("CORRUPT");
	run("log", "dump", log, NULL);
	ck_status(4);

	/* a failed write of the output: I/O error, 5 */
	{
		int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

		if (fd >= 0) {
			const char *argv[] = { tool, "counters", "--prometheus",
					 cnt, NULL };
			int st;
			pid_t pid = t_fork();

			if (pid == 0) {
				dup2(fd, 1);
				close(2);
				open("/dev/null", O_WRONLY);
				execv(tool, (char *const *)argv);
				_exit(127);
			}
			close(fd);
			ck_assert_int_eq(waitpid(pid, &st, 0), pid);
			ck_assert(WIFEXITED(st));
			ck_assert_int_eq(WEXITSTATUS(st), 5);
		}
	}
}
END_TEST

/* A segment whose header is damaged (the magic intact) makes the log
 * corrupt: verify exits 4 and says so, not "status: ok" over 0 segments. */
START_TEST(test_verify_a_damaged_segment_header_is_corrupt)
{
	const char *log = make_log("log");
	char seg[4200];
	unsigned char *b;
	size_t len;

	snprintf(seg, sizeof(seg), "%s/00000000000000000000.seg", log);
	b = t_read_file(seg, &len);
	ck_assert_uint_gt(len, 32);
	memset(b + 16, 0xff, 4);
	t_write_file(seg, b, len);
	free(b);
	run("log", "verify", log, NULL);
	ck_status(4);
	ck_assert_msg(strstr(R.out, "status:           ok") == NULL, "%s", R.out);
	ck_out_has("CORRUPT");
	run("log", "info", log, NULL);
	ck_status(4);
}
END_TEST

/* ---- log dump ------------------------------------------------------------- */

START_TEST(test_dump_from_a_bad_lsn_says_where_records_are)
{
	const char *log = make_log("log");

	run("log", "dump", "--from", "3", log, NULL);
	ck_status(3);
	ck_err_has("no record starts at LSN 3");
	ck_err_has("the record before starts at 0, the next at 32");
	ck_assert_str_eq(R.out, "");
	run("log", "dump", "--from", "99999", log, NULL);
	ck_status(3);
	ck_err_has("LSN 99999 is past the end of the log");
	ck_err_has("is 80)");
	/* the largest LSN too: past the end (3), not a usage error */
	run("log", "dump", "--from", "18446744073709551615", log, NULL);
	ck_status(3);
	ck_err_has("past the end of the log");
	/* inside the last record: where it starts, and where the tail is */
	run("log", "dump", "--from", "60", log, NULL);
	ck_status(3);
	ck_err_has("the record before starts at 56, the tail is 80");
	/* the tail itself is the end: nothing to print, success */
	run("log", "dump", "--from", "80", log, NULL);
	ck_status(0);
	ck_assert_str_eq(R.out, "");
	run("log", "dump", "--from", "32", log, NULL);
	ck_status(0);
	ck_assert_msg(strncmp(R.out, "          32 type=2", 19) == 0, "%s", R.out);
}
END_TEST

/* Below the first kept record every LSN given to --from is refused as
 * dropped, 0 too (0 is also MMDS_LOG_START, which the default means). */
START_TEST(test_dump_from_a_dropped_lsn_is_refused_even_zero)
{
	const char *dir = t_path("retained");
	char payload[200], want[128];
	mmds_log *l;
	mmds_log_info in;
	uint64_t lsn;

	memset(payload, 'x', sizeof(payload));
	ck_assert_int_eq(mmds_log_open(&l, dir, &(mmds_log_opts){
						.flags = MMDS_LOG_CREATE,
						.segment_size = MMDS_LOG_MIN_SEGMENT }), 0);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(mmds_log_append(l, 1, payload, sizeof(payload), &lsn), 0);
	ck_assert_int_gt(mmds_log_retain(l, lsn), 0);
	mmds_log_get_info(l, &in);
	mmds_log_close(l);
	ck_assert_uint_gt(in.first_lsn, 0);
	run("log", "dump", "--from", "0", dir, NULL);
	ck_status(3);
	ck_err_has("LSN 0 was dropped by retention");
	ck_assert_str_eq(R.out, "");
	run("log", "dump", "--from", "8", dir, NULL);
	ck_status(3);
	ck_err_has("LSN 8 was dropped by retention");
	/* without --from: the first kept record */
	run("log", "dump", "--max-bytes", "1", dir, NULL);
	ck_status(0);
	snprintf(want, sizeof(want), "%12llu type=1", (unsigned long long)in.first_lsn);
	ck_assert_msg(strncmp(R.out, want, strlen(want)) == 0, "want '%s' first:\n%.200s",
		      want, R.out);
}
END_TEST

START_TEST(test_dump_json_payloads_are_readable)
{
	const char *log = make_log("log");
	const char *line2;

	run("log", "dump", "--json", log, NULL);
	ck_status(0);
	ck_assert_str_eq(R.out,
		"{\"lsn\":0,\"next\":32,\"type\":1,\"len\":10,\"text\":\"hello \\\"w\\\"\\n\",\"truncated\":false}\n"
		"{\"lsn\":32,\"next\":56,\"type\":2,\"len\":3,\"base64\":\"/wAB\",\"truncated\":false}\n"
		"{\"lsn\":56,\"next\":80,\"type\":3,\"len\":6,\"text\":\"h\xc3\xa9llo\",\"truncated\":false}\n");
	run("log", "dump", "--json", "--binary", "hex", log, NULL);
	ck_status(0);
	line2 = strchr(R.out, '\n');
	ck_assert_ptr_nonnull(line2);
	ck_assert_msg(strncmp(line2 + 1,
			      "{\"lsn\":32,\"next\":56,\"type\":2,\"len\":3,\"hex\":\"ff0001\"", 50) == 0,
		      "%s", R.out);
	/* a cut in the middle of a character keeps the text whole */
	run("log", "dump", "--json", "--max-bytes", "2", "--from", "56", log, NULL);
	ck_status(0);
	ck_out_has("\"text\":\"h\",\"truncated\":true}");
}
END_TEST

/* ---- following, readers that go away, signals ----------------------------- */

START_TEST(test_tail_follow_exits_when_reader_goes_away_while_idle)
{
	const char *log = make_log("log");
	const char *argv[] = { tool, "log", "tail", "-f", "-n", "1", log, NULL };
	struct timespec t0;
	char line[256];
	int o, e, st = 0;
	pid_t pid = spawn(argv, &o, &e, 0), w = 0;
	ssize_t n;

	n = read(o, line, sizeof(line));
	ck_assert_int_gt(n, 0);
	ck_assert_msg(strstr(line, "type=3") != NULL, "%.*s", (int)n, line);
	close(o); /* like head -1: the log stays idle from here on */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 5000 && (w = waitpid(pid, &st, WNOHANG)) == 0)
		usleep(10000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		close(e);
		ck_abort_msg("mmds log tail -f still runs 5 s after its reader went away");
	}
	close(e);
	ck_assert(WIFSIGNALED(st));
	ck_assert_int_eq(WTERMSIG(st), SIGPIPE);
}
END_TEST

/* Start argv, wait for its first output, send SIGINT, expect exit 130. */
/* Start argv, wait for its first output (on stdout, or stderr with
 * on_err), interrupt it: it must exit 130. */
static void sigint_exits_130_after(const char *argv[], int on_err)
{
	struct pollfd p;
	int o, e, st;
	pid_t pid = spawn(argv, &o, &e, 0);
	char buf[4096];

	p.fd = on_err ? e : o;
	p.events = POLLIN;
	ck_assert_int_eq(poll(&p, 1, 5000), 1);
	ck_assert_int_gt(read(p.fd, buf, sizeof(buf)), 0);
	ck_assert_int_eq(kill(pid, SIGINT), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(o);
	close(e);
	ck_assert_msg(WIFEXITED(st), "killed by signal %d", WTERMSIG(st));
	ck_assert_int_eq(WEXITSTATUS(st), 130);
}

static void sigint_exits_130(const char *argv[])
{
	sigint_exits_130_after(argv, 0);
}

START_TEST(test_sigint_exits_130)
{
	const char *log = make_log("log");
	const char *cnt = make_counters("cnt");
	const char *tail[] = { tool, "log", "tail", "-f", log, NULL };
	const char *watch[] = { tool, "counters", "--watch", "10", cnt, NULL };
	const char *watchj[] = { tool, "counters", "--watch", "10", "--json",
			   cnt, NULL };

	const char *watchp[] = { tool, "counters", "--watch", "10", "--prometheus",
			   cnt, NULL };
	const char *serve[] = { tool, "counters", "serve", "--listen", "127.0.0.1:0",
			  cnt, NULL };
	/* a shipper waiting for a server that is down (port 1: refused) */
	const char *ship[] = { tool, "log", "ship", log, "--nats", "nats://127.0.0.1:1",
			 "--stream", "S", "--subject", "s", "--create-cursor", NULL };

	sigint_exits_130(tail);
	sigint_exits_130(watch);
	sigint_exits_130(watchj);
	sigint_exits_130(watchp);
	if (have_serve_built())
		sigint_exits_130(serve);
	run("log", "ship", "--help", NULL);
	if (R.status == 0) {
		/* stopped by a signal is 130 for the shipper too, not 0 */
		sigint_exits_130_after(ship, 1);
	}
}
END_TEST

/* ---- counters --watch ------------------------------------------------------ */

START_TEST(test_watch_json_and_prometheus)
{
	const char *cnt = make_counters("cnt");
	char *l1, *l2;

	run("counters", "--watch", "0.1", "--count", "2", "--json", cnt, NULL);
	ck_status(0);
	/* two lines, each one whole JSON object */
	l1 = R.out;
	l2 = strchr(l1, '\n');
	ck_assert_ptr_nonnull(l2);
	l2++;
	ck_assert_ptr_nonnull(strchr(l2, '\n'));
	ck_assert_str_eq(strchr(l2, '\n') + 1, "");
	ck_assert_int_eq(l1[0], '{');
	ck_assert_int_eq(l2[0], '{');
	ck_assert_msg(strstr(l1, "\"label\":\"requests\"") && strstr(l1, "\"value\":5,\"rate\":null}]}\n"),
		      "%s", R.out);
	ck_assert_msg(strstr(l2, "\"value\":5,\"rate\":0.000}]}\n") != NULL, "%s", l2);

	run("counters", "--watch", "0.1", "--count", "2", "--prometheus", cnt, NULL);
	ck_status(0);
	ck_assert_str_eq(R.out,
			 "# HELP requests_total requests\n# TYPE requests_total counter\nrequests_total 5\n"
			 "\n"
			 "# HELP requests_total requests\n# TYPE requests_total counter\nrequests_total 5\n");
}
END_TEST

/* The JSON lines of --watch name the file: a path that is not UTF-8 is
 * still valid JSON, its stray bytes as U+FFFD. */
START_TEST(test_watch_json_names_any_path_in_valid_json)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/caf\xe9", t_tmpdir());
	ck_assert_int_eq(rename(make_counters("cnt"), path), 0);
	run("counters", "--watch", "0.1", "--count", "1", "--json", path, NULL);
	ck_status(0);
	ck_out_has("/caf\\ufffd\",\"counters\":[");
	ck_assert_msg(strchr(R.out, '\xe9') == NULL, "%s", R.out);
}
END_TEST

/* ---- --output --------------------------------------------------------------- */

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

START_TEST(test_output_is_atomic_and_a_failure_is_loud)
{
	const char *cnt = make_counters("cnt");
	char out[4200], old[] = "# the previous export\nold_metric 1\n";
	char *got;
	size_t len;
	struct stat st;
	int before;

	umask(022);
	snprintf(out, sizeof(out), "%s/m.prom", t_tmpdir());
	run("counters", "--prometheus", "--output", out, cnt, NULL);
	ck_status(0);
	ck_assert_str_eq(R.out, "");
	got = t_read_file(out, &len);
	ck_assert_str_eq(got, "# HELP requests_total requests\n# TYPE requests_total counter\nrequests_total 5\n");
	free(got);
	ck_assert_int_eq(stat(out, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0644);

	/* an export that cannot be written whole leaves the old file */
	t_write_file(out, old, strlen(old));
	before = count_entries(t_tmpdir());
	run_limited(20, "counters", "--prometheus", "--output", out, cnt, NULL);
	ck_status(5);
	ck_err_has("the file is left as it was");
	got = t_read_file(out, &len);
	ck_assert_str_eq(got, old);
	free(got);
	ck_assert_int_eq(count_entries(t_tmpdir()), before);

	/* a directory that cannot be written: loud, nothing changed */
	run("counters", "--json", "--output", t_path("nodir/m.json"), cnt, NULL);
	ck_assert_int_ne(R.status, 0);
	ck_err_has("cannot create a temporary file");
}
END_TEST

/* --output replaces a regular file: given a FIFO (or a device, a
 * directory) it refuses, and the path is still what it was. */
START_TEST(test_output_refuses_a_path_that_is_not_a_regular_file)
{
	const char *cnt = make_counters("cnt");
	const char *fifo = t_path("fifo");
	struct stat st;

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	run("counters", "--prometheus", "--output", fifo, cnt, NULL);
	ck_status(3);
	ck_err_has("not a regular file");
	ck_assert_int_eq(lstat(fifo, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	run("counters", "--json", "--output", t_tmpdir(), cnt, NULL);
	ck_status(3);
	ck_err_has("is a directory");
	ck_assert_int_eq(lstat(t_tmpdir(), &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
}
END_TEST

/* A write that fails says why (the system's reason, not a bare I/O
 * error), and a symbolic link keeps pointing at the replaced file. */
START_TEST(test_output_failure_says_why_and_a_link_is_followed)
{
	const char *cnt = make_counters("cnt");
	char target[4200], link[4200], *got;
	size_t len;
	struct stat st;

	snprintf(target, sizeof(target), "%s/real.prom", t_tmpdir());
	snprintf(link, sizeof(link), "%s/link.prom", t_tmpdir());
	t_write_file(target, "old 1\n", 6);
	ck_assert_int_eq(symlink("real.prom", link), 0);
	run_limited(20, "counters", "--prometheus", "--output", link, cnt, NULL);
	ck_status(5);
	ck_err_has(strerror(EFBIG));
	run("counters", "--prometheus", "--output", link, cnt, NULL);
	ck_status(0);
	ck_assert_int_eq(lstat(link, &st), 0);
	ck_assert_msg(S_ISLNK(st.st_mode), "the link was replaced by a file");
	got = t_read_file(target, &len);
	ck_assert_msg(strstr(got, "requests_total 5\n") != NULL, "%s", got);
	free(got);
}
END_TEST

/* ---- counters serve ------------------------------------------------------ */

static int have_serve(void)
{
	run("counters", "serve", "--help", NULL);
	return R.status == 0;
}

/* Start `mmds counters serve` with argv; return its pid and port. */
static pid_t start_serve(const char *argv[], int *port, int *out_fd, int *err_fd)
{
	char line[256];
	ssize_t n;
	struct pollfd p;
	const char *at;
	pid_t pid = spawn(argv, out_fd, err_fd, 0);

	p.fd = *out_fd;
	p.events = POLLIN;
	ck_assert_int_eq(poll(&p, 1, 10000), 1);
	n = read(*out_fd, line, sizeof(line) - 1);
	ck_assert_int_gt(n, 0);
	line[n] = '\0';
	at = strstr(line, "http://127.0.0.1:");
	ck_assert_msg(at != NULL, "%s", line);
	*port = atoi(at + 17);
	ck_assert_int_gt(*port, 0);
	return pid;
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* GET path over HTTP/1.0; the whole response into buf, NUL-terminated. */
static void http_get(int port, const char *path, char *buf, size_t cap)
{
	char req[256];
	int fd = connect_to(port), n;
	struct timeval tv = { .tv_sec = 10 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	ck_assert_int_eq(write(fd, req, (size_t)n), n);
	drain(fd, buf, cap);
	close(fd);
}

static void stop_serve(pid_t pid, int o, int e)
{
	int st;

	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(o);
	close(e);
	ck_assert_msg(WIFEXITED(st), "killed by %d", WTERMSIG(st));
	ck_assert_int_eq(WEXITSTATUS(st), 128 + SIGTERM);
}

START_TEST(test_serve_two_files_with_labels_and_prefix)
{
	const char *a, *b;
	const char *argv[16];
	char buf[8192];
	int port, o, e;
	pid_t pid;

	if (!have_serve())
		t_skip("mmds counters serve is not built (no libmicrohttpd)");
	a = make_counters("a.cnt");
	b = make_counters("b.cnt");
	{
		int n = 0;

		argv[n++] = tool;
		argv[n++] = "counters";
		argv[n++] = "serve";
		argv[n++] = "--listen";
		argv[n++] = "127.0.0.1:0";
		argv[n++] = "--prefix";
		argv[n++] = "app_";
		argv[n++] = "--label";
		argv[n++] = "job=api";
		argv[n++] = "--label";
		argv[n++] = "env=a \"b\"";
		argv[n++] = a;
		argv[n++] = b;
		argv[n] = NULL;
	}
	pid = start_serve(argv, &port, &o, &e);
	http_get(port, "/metrics", buf, sizeof(buf));
	ck_assert_msg(strncmp(buf, "HTTP/1.0 200", 12) == 0 || strncmp(buf, "HTTP/1.1 200", 12) == 0,
		      "%s", buf);
	ck_assert_msg(strstr(buf, "text/plain; version=0.0.4") != NULL, "%s", buf);
	{
		char want[4096];

		snprintf(want, sizeof(want),
			 "\r\n\r\n# HELP app_requests_total requests\n"
			 "# TYPE app_requests_total counter\n"
			 "app_requests_total{job=\"api\",env=\"a \\\"b\\\"\",file=\"%s\"} 5\n"
			 "app_requests_total{job=\"api\",env=\"a \\\"b\\\"\",file=\"%s\"} 5\n",
			 a, b);
		ck_assert_msg(strstr(buf, want) != NULL, "want:\n%s\ngot:\n%s", want, buf);
	}
	http_get(port, "/nothing", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, " 404 ") != NULL, "%s", buf);
	stop_serve(pid, o, e);
}
END_TEST

/* Two files whose names collide across kinds (a counter and a gauge both
 * exported as requests_total; a histogram lat and a gauge lat_count): the
 * file label cannot keep them apart, so the first file's family keeps the
 * name and the other is left out, said on stderr and in a comment of the
 * exposition, instead of served under the wrong TYPE. */
START_TEST(test_serve_families_of_another_kind_do_not_merge)
{
	static const double bounds[] = { 1 };
	const char *a, *b;
	const char *argv[] = { tool, "counters", "serve", "--listen", "127.0.0.1:0",
			 NULL, NULL, NULL };
	char buf[8192], want[4400];
	mmds_counters *c;
	int port, o, e, id;
	pid_t pid;

	if (!have_serve())
		t_skip("mmds counters serve is not built (no libmicrohttpd)");
	a = make_counters("a.cnt");
	ck_assert_int_eq(mmds_counters_open(&c, a, NULL), 0);
	id = mmds_counters_alloc_histogram(c, "lat", &(mmds_histogram_def){
						   .bounds = bounds, .nbounds = 1 });
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(mmds_counters_observe(c, id, 0.5), 0);
	mmds_counters_close(c);
	b = t_path("b.cnt");
	ck_assert_int_eq(mmds_counters_open(&c, b, &(mmds_counters_opts){
						.flags = MMDS_COUNTERS_CREATE }), 0);
	id = mmds_counters_alloc(c, "requests_total", &(mmds_counter_def){ .kind = MMDS_GAUGE });
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(mmds_counters_set(c, id, 7), 0);
	id = mmds_counters_alloc(c, "lat_count", &(mmds_counter_def){ .kind = MMDS_GAUGE });
	ck_assert_int_ge(id, 0);
	ck_assert_int_eq(mmds_counters_set(c, id, 9), 0);
	id = mmds_counters_alloc(c, "other", &(mmds_counter_def){ .kind = MMDS_GAUGE });
	ck_assert_int_eq(mmds_counters_set(c, id, 11), 0);
	mmds_counters_close(c);
	argv[5] = a;
	argv[6] = b;
	pid = start_serve(argv, &port, &o, &e);
	http_get(port, "/metrics", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, " 200 ") != NULL, "%s", buf);
	snprintf(want, sizeof(want), "# TYPE requests_total counter\nrequests_total{file=\"%s\"} 5\n# ", a);
	ck_assert_msg(strstr(buf, want) != NULL, "want:\n%s\ngot:\n%s", want, buf);
	snprintf(want, sizeof(want), "file=\"%s\"} 7", b);
	ck_assert_msg(strstr(buf, want) == NULL, "a gauge served as a counter:\n%s", buf);
	snprintf(want, sizeof(want), "file=\"%s\"} 9", b);
	ck_assert_msg(strstr(buf, want) == NULL, "a gauge served in a histogram:\n%s", buf);
	snprintf(want, sizeof(want), "other{file=\"%s\"} 11\n", b);
	ck_assert_msg(strstr(buf, want) != NULL, "the rest of the file is served:\n%s", buf);
	snprintf(want, sizeof(want), "\n# mmds counters serve: %s: requests_total is a gauge there, left out: an earlier file serves requests_total as a counter\n", b);
	ck_assert_msg(strstr(buf, want) != NULL, "want:\n%s\ngot:\n%s", want, buf);
	ck_assert_msg(strstr(buf, "lat_count is a gauge there, left out: an earlier file serves lat_count as a series of the histogram lat\n") != NULL,
		      "%s", buf);
	stop_serve(pid, o, e);
}
END_TEST

START_TEST(test_serve_slow_clients_do_not_block_others)
{
	const char *a;
	const char *argv[] = { tool, "counters", "serve", "--listen", "127.0.0.1:0",
			 "--timeout", "30", NULL, NULL };
	char buf[8192];
	int port, o, e, slow[40];
	struct timespec t0;
	pid_t pid;

	if (!have_serve())
		t_skip("mmds counters serve is not built (no libmicrohttpd)");
	a = make_counters("a.cnt");
	argv[7] = a;
	pid = start_serve(argv, &port, &o, &e);
	/* clients that send half a request and then nothing */
	for (int i = 0; i < 40; i++) {
		slow[i] = connect_to(port);
		ck_assert_int_eq(write(slow[i], "GET /metr", 9), 9);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	http_get(port, "/metrics", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, " 200 ") != NULL, "%s", buf);
	ck_assert_msg(strstr(buf, "\nrequests_total{file=") != NULL, "%s", buf);
	ck_assert_int_lt(ms_since(&t0), 5000);
	for (int i = 0; i < 40; i++)
		close(slow[i]);
	stop_serve(pid, o, e);
}
END_TEST

/* --listen :PORT listens on every address, as node_exporter's
 * --web.listen-address=:9100 does. */
START_TEST(test_serve_listen_without_host_is_every_address)
{
	const char *argv[] = { tool, "counters", "serve", "--listen", ":0", NULL, NULL };
	char buf[8192];
	int port, o, e;
	pid_t pid;
	struct pollfd p;
	ssize_t n;

	if (!have_serve())
		t_skip("mmds counters serve is not built (no libmicrohttpd)");
	argv[5] = make_counters("a.cnt");
	pid = spawn(argv, &o, &e, 0);
	p.fd = o;
	p.events = POLLIN;
	ck_assert_int_eq(poll(&p, 1, 10000), 1);
	n = read(o, buf, sizeof(buf) - 1);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "listening on http://0.0.0.0:") != NULL ||
		      strstr(buf, "listening on http://[::]:") != NULL, "%s", buf);
	port = atoi(strrchr(buf, ':') + 1);
	ck_assert_int_gt(port, 0);
	http_get(port, "/metrics", buf, sizeof(buf));
	ck_assert_msg(strstr(buf, "\nrequests_total{file=") != NULL, "%s", buf);
	stop_serve(pid, o, e);
}
END_TEST

START_TEST(test_serve_refuses_bad_options)
{
	const char *a;

	if (!have_serve())
		t_skip("mmds counters serve is not built (no libmicrohttpd)");
	a = make_counters("a.cnt");
	run("counters", "serve", a, NULL);
	ck_status(2);
	ck_err_has("needs --listen HOST:PORT");
	run("counters", "serve", "--listen", "127.0.0.1", a, NULL);
	ck_status(2);
	ck_err_has("is not HOST:PORT");
	/* a port out of range was taken modulo 65536: 99999 listened on 34463 */
	run("counters", "serve", "--listen", "127.0.0.1:99999", a, NULL);
	ck_status(2);
	ck_err_has("port '99999'");
	ck_assert_str_eq(R.out, "");
	run("counters", "serve", "--listen", "127.0.0.1:-1", a, NULL);
	ck_status(2);
	ck_err_has("port '-1'");
	run("counters", "serve", "--listen", "127.0.0.1:80x", a, NULL);
	ck_status(2);
	ck_err_has("port '80x'");
	run("counters", "serve", "--listen", "127.0.0.1:0", "--label", "1x=y", a, NULL);
	ck_status(2);
	ck_err_has("is not NAME=VALUE");
	run("counters", "serve", "--listen", "127.0.0.1:0", "--prefix", "a-b", a, NULL);
	ck_status(2);
	ck_err_has("--prefix: 'a-b'");
	run("counters", "serve", "--listen", "127.0.0.1:0", "--no-file-label", a, a, NULL);
	ck_status(2);
	ck_err_has("--no-file-label needs one COUNTERS file");
	run("counters", "serve", "--listen", "127.0.0.1:0", "--label", "file=x", a, NULL);
	ck_status(2);
	ck_err_has("the file label has that name");
	run("counters", "serve", "--listen", "127.0.0.1:0", t_tmpdir(), NULL);
	ck_status(3);
	ck_err_has("not a counters file");
	/* one path twice would serve every series twice with the same labels */
	run("counters", "serve", "--listen", "127.0.0.1:0", a, a, NULL);
	ck_status(2);
	ck_err_has("given twice");
	/* Prometheus refuses a whole scrape with a label value that is not
	 * UTF-8: such a --label is a usage error */
	run("counters", "serve", "--listen", "127.0.0.1:0", "--label", "site=caf\xe9", a, NULL);
	ck_status(2);
	ck_err_has("not valid UTF-8");
}
END_TEST

/* A file whose path is not UTF-8 still gives a scrape Prometheus reads:
 * the bytes that are not UTF-8 become U+FFFD in the file label. */
START_TEST(test_serve_file_label_is_utf8_whatever_the_path)
{
	const char *argv[] = { tool, "counters", "serve", "--listen", "127.0.0.1:0",
			 NULL, NULL };
	char path[4200], want[4300], buf[8192];
	mmds_counters *c;
	int port, o, e, id;
	pid_t pid;

	if (!have_serve())
		t_skip("mmds counters serve is not built (no libmicrohttpd)");
	snprintf(path, sizeof(path), "%s/caf\xe9.cnt", t_tmpdir());
	ck_assert_int_eq(mmds_counters_open(&c, path, &(mmds_counters_opts){
						.flags = MMDS_COUNTERS_CREATE }), 0);
	id = mmds_counters_alloc(c, "requests", NULL);
	ck_assert_int_eq(mmds_counters_add(c, id, 3, NULL), 0);
	mmds_counters_close(c);
	argv[5] = path;
	pid = start_serve(argv, &port, &o, &e);
	http_get(port, "/metrics", buf, sizeof(buf));
	snprintf(want, sizeof(want), "requests_total{file=\"%s/caf\xef\xbf\xbd.cnt\"} 3\n",
		 t_tmpdir());
	ck_assert_msg(strstr(buf, want) != NULL, "want:\n%s\ngot:\n%s", want, buf);
	stop_serve(pid, o, e);
}
END_TEST

Suite *tool_suite(void)
{
	Suite *s = suite_create("tool");
	TCase *tc;

	tc = t_tcase(s, "options", 60);
	tcase_add_test(tc, test_bad_numbers_say_why);
	tcase_add_test(tc, test_conflicting_and_stray_options_are_refused);
	tcase_add_test(tc, test_an_option_given_twice_is_refused);
	tc = t_tcase(s, "files", 60);
	tcase_add_test(tc, test_wrong_kind_of_file_names_what_it_is);
	tcase_add_test(tc, test_unreadable_log_is_permission_denied);
	tcase_add_test(tc, test_exit_codes_are_distinct);
	tcase_add_test(tc, test_verify_a_damaged_segment_header_is_corrupt);
	tc = t_tcase(s, "log", 60);
	tcase_add_test(tc, test_dump_from_a_bad_lsn_says_where_records_are);
	tcase_add_test(tc, test_dump_from_a_dropped_lsn_is_refused_even_zero);
	tcase_add_test(tc, test_dump_json_payloads_are_readable);
	tcase_add_test(tc, test_tail_follow_exits_when_reader_goes_away_while_idle);
	tcase_add_test(tc, test_sigint_exits_130);
	tc = t_tcase(s, "counters", 60);
	tcase_add_test(tc, test_watch_json_and_prometheus);
	tcase_add_test(tc, test_watch_json_names_any_path_in_valid_json);
	tcase_add_test(tc, test_output_is_atomic_and_a_failure_is_loud);
	tcase_add_test(tc, test_output_refuses_a_path_that_is_not_a_regular_file);
	tcase_add_test(tc, test_output_failure_says_why_and_a_link_is_followed);
	tc = t_tcase(s, "serve", 60);
	tcase_add_test(tc, test_serve_two_files_with_labels_and_prefix);
	tcase_add_test(tc, test_serve_families_of_another_kind_do_not_merge);
	tcase_add_test(tc, test_serve_slow_clients_do_not_block_others);
	tcase_add_test(tc, test_serve_refuses_bad_options);
	tcase_add_test(tc, test_serve_listen_without_host_is_every_address);
	tcase_add_test(tc, test_serve_file_label_is_utf8_whatever_the_path);
	return s;
}

int main(void)
{
	find_tool();
	if (access(tool, X_OK) != 0) {
		fprintf(stderr, "SKIP: no tool at %s\n", tool);
		return T_SKIP_STATUS;
	}
	return t_run_suite(tool_suite());
}
