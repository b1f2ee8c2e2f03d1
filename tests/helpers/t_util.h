/*
 * t_util.h - helpers shared by the mmds Check suites.
 *
 * A temp-dir fixture (one fresh directory per test, removed afterwards),
 * a process-shared barrier for forked tests, child-process helpers, whole
 * file I/O with plain system calls (to see what really reached the file),
 * and skipping.  Failures inside a test process are Check failures; inside
 * a forked child they print the reason and _exit(1), which the parent's
 * t_wait_child() then reports.
 */
#ifndef T_UTIL_H
#define T_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/types.h>

#include <check.h>

/* T_TSAN: defined in a ThreadSanitizer build, whose shadow memory makes
 * tests that touch gigabytes far slower than the check they add. */
#ifndef T_TSAN
#if defined(__SANITIZE_THREAD__)
#define T_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define T_TSAN 1
#endif
#endif
#endif

/* Exit status of a whole test program that cannot run here (automake). */
#define T_SKIP_STATUS 77

/*
 * Temp-dir fixture: use as a checked fixture (tcase_add_checked_fixture),
 * so each test, in its own forked process, gets its own directory under
 * $TMPDIR (or /tmp).  The directory is removed recursively by the teardown,
 * or at exit if the process exits normally first.  Check ends a failed
 * test's process with _exit(), so a failed test's directory stays behind
 * (mmds-test.*) for inspection.
 */
/* t_tcase - a test case named name, added to s, with the temp-dir fixture
 * and a timeout of timeout seconds (30 if timeout is 0). */
TCase *t_tcase(Suite *s, const char *name, double timeout);

/* t_run_suite - run s (CK_NORMAL) and return main()'s exit status: 0 when
 * every test passed, 1 otherwise. */
int t_run_suite(Suite *s);

void t_tmpdir_setup(void);
void t_tmpdir_teardown(void);
const char *t_tmpdir(void);

/* t_path - "<tmpdir>/<name>" in one of 8 rotating static buffers. */
const char *t_path(const char *name);

/* t_rm_dir - remove the directory path and everything under it (gone
 * already is fine): a test starting a scenario again from nothing. */
void t_rm_dir(const char *path);

/* A barrier for n processes (or threads), in a MAP_SHARED|MAP_ANONYMOUS
 * page: create it before fork(). */
typedef struct t_barrier t_barrier;
t_barrier *t_barrier_new(unsigned n);
void t_barrier_wait(t_barrier *b);
void t_barrier_free(t_barrier *b);

/* t_fork - fork(), failing the test if it cannot. */
pid_t t_fork(void);
/* t_wait_exit - wait for pid; fails unless it exited (not killed by a
 * signal); returns its exit status. */
int t_wait_exit(pid_t pid);
/* t_wait_child - wait for pid and fail unless it exited with status 0;
 * a child that called t_skip() (status 77) skips the test. */
void t_wait_child(pid_t pid);

/* Whole-file I/O with open/read/write/close only, no stdio, no mapping.
 * t_read_file returns a malloc'd buffer (free it) of *len bytes, plus a
 * terminating NUL not counted in *len. */
void t_write_file(const char *path, const void *buf, size_t len);
void *t_read_file(const char *path, size_t *len);
/* t_file_size - st_size of path (fails the test if stat fails). */
off_t t_file_size(const char *path);

/*
 * t_skip - what this machine cannot do: print "SKIP: <reason>" to stderr
 * and end the test.  A forked child exits 77 (T_SKIP_STATUS), which
 * t_wait_child() turns into a skip of the test.  The test process itself
 * exits 0, since Check counts any other exit of a test as an error ("Early
 * exit with return value 77"); the reason stays visible in the log.
 */
#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
_Noreturn void t_skip(const char *fmt, ...);

/* T_CHILD_ASSERT - for forked children, where Check's asserts must not be
 * used: print the failed condition and _exit(1). */
#define T_CHILD_ASSERT(cond)                                                  \
	do {                                                                  \
		if (!(cond)) {                                                \
			fprintf(stderr, "%s:%d: child %ld: check failed: %s\n", \
				__FILE__, __LINE__, (long)getpid(), #cond);   \
			fflush(stderr);                                       \
			_exit(1);                                             \
		}                                                             \
	} while (0)

#endif /* T_UTIL_H */
