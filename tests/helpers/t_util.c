/* t_util.c - helpers shared by the mmds Check suites (see t_util.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "t_util.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

struct t_barrier {
	pthread_barrier_t b;
};

static char t_dir[PATH_MAX];
static pid_t t_dir_owner;
static int t_in_child;

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static _Noreturn void t_fail(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t_in_child) {
		fprintf(stderr, "child %ld: %s\n", (long)getpid(), msg);
		fflush(stderr);
		_exit(1);
	}
	ck_abort_msg("%s", msg);
	abort(); /* not reached: ck_abort_msg does not return */
}

static int t_rm_one(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

static int t_rm_tree(void)
{
	int rc;

	if (t_dir[0] == '\0' || getpid() != t_dir_owner)
		return 0;
	rc = nftw(t_dir, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	t_dir[0] = '\0';
	return rc;
}

void t_rm_dir(const char *path)
{
	(void)nftw(path, t_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void t_rm_tree_at_exit(void)
{
	(void)t_rm_tree();
}

void t_tmpdir_setup(void)
{
	static pid_t registered;
	const char *base = getenv("TMPDIR");
	int n;

	if (base == NULL || base[0] == '\0')
		base = "/tmp";
	n = snprintf(t_dir, sizeof(t_dir), "%s/mmds-test.XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof(t_dir))
		t_fail("TMPDIR too long: %s", base);
	if (mkdtemp(t_dir) == NULL)
		t_fail("mkdtemp(%s): %s", t_dir, strerror(errno));
	t_dir_owner = getpid();
	if (registered != t_dir_owner) {
		registered = t_dir_owner;
		atexit(t_rm_tree_at_exit);
	}
}

void t_tmpdir_teardown(void)
{
	char dir[PATH_MAX];

	memcpy(dir, t_dir, sizeof(dir));
	if (t_rm_tree() != 0)
		fprintf(stderr, "warning: could not remove %s: %s\n", dir,
			strerror(errno));
}

const char *t_tmpdir(void)
{
	if (t_dir[0] == '\0')
		t_fail("t_tmpdir: no temp dir (fixture missing?)");
	return t_dir;
}

const char *t_path(const char *name)
{
	static char bufs[8][PATH_MAX];
	static unsigned next;
	char *p = bufs[next++ % 8];
	int n = snprintf(p, PATH_MAX, "%s/%s", t_tmpdir(), name);

	if (n < 0 || n >= PATH_MAX)
		t_fail("t_path: name too long: %s", name);
	return p;
}

t_barrier *t_barrier_new(unsigned n)
{
	pthread_barrierattr_t attr;
	t_barrier *b;
	int rc;

	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		t_fail("t_barrier_new: mmap: %s", strerror(errno));
	pthread_barrierattr_init(&attr);
	rc = pthread_barrierattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_barrier_init(&b->b, &attr, n);
	pthread_barrierattr_destroy(&attr);
	if (rc != 0)
		t_fail("t_barrier_new(%u): %s", n, strerror(rc));
	return b;
}

void t_barrier_wait(t_barrier *b)
{
	int rc = pthread_barrier_wait(&b->b);

	if (rc != 0 && rc != PTHREAD_BARRIER_SERIAL_THREAD)
		t_fail("pthread_barrier_wait: %s", strerror(rc));
}

void t_barrier_free(t_barrier *b)
{
	if (b == NULL)
		return;
	/* No pthread_barrier_destroy(): glibc's waits until every waiter has
	 * left pthread_barrier_wait(), which a process killed right after the
	 * barrier opened never does.  Unmapping the shared page is enough. */
	munmap(b, sizeof(*b));
}

pid_t t_fork(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	if (pid == 0)
		t_in_child = 1;
	return pid;
}

int t_wait_exit(pid_t pid)
{
	int status;
	pid_t r;

	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r != pid)
		t_fail("waitpid(%ld): %s", (long)pid, strerror(errno));
	if (WIFSIGNALED(status))
		t_fail("child %ld killed by signal %d (%s)", (long)pid,
		       WTERMSIG(status), strsignal(WTERMSIG(status)));
	if (!WIFEXITED(status))
		t_fail("child %ld did not exit (status 0x%x)", (long)pid,
		       status);
	return WEXITSTATUS(status);
}

void t_wait_child(pid_t pid)
{
	int code = t_wait_exit(pid);

	if (code == T_SKIP_STATUS)
		t_skip("child %ld skipped (reason above)", (long)pid);
	if (code != 0)
		t_fail("child %ld exited with status %d", (long)pid, code);
}

void t_write_file(const char *path, const void *buf, size_t len)
{
	const char *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		t_fail("open(%s): %s", path, strerror(errno));
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			t_fail("write(%s): %s", path,
			       n < 0 ? strerror(errno) : "short write");
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0)
		t_fail("close(%s): %s", path, strerror(errno));
}

void *t_read_file(const char *path, size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		t_fail("open(%s): %s", path, strerror(errno));
	if (fstat(fd, &st) != 0)
		t_fail("fstat(%s): %s", path, strerror(errno));
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		t_fail("t_read_file(%s): out of memory", path);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			t_fail("read(%s): %s", path, strerror(errno));
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*len = got;
	return buf;
}

off_t t_file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		t_fail("stat(%s): %s", path, strerror(errno));
	return st.st_size;
}

void t_skip(const char *fmt, ...)
{
	va_list ap;

	fputs("SKIP: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
	if (t_in_child)
		_exit(T_SKIP_STATUS);
	exit(EXIT_SUCCESS);
}

TCase *t_tcase(Suite *s, const char *name, double timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, t_tmpdir_setup, t_tmpdir_teardown);
	/* Check's own default (4 s) is tight for a sanitizer build on a
	 * loaded machine; a hang is still caught */
	tcase_set_timeout(tc, timeout > 0 ? timeout : 30);
	suite_add_tcase(s, tc);
	return tc;
}

int t_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
