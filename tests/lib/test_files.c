/* test_files.c - copy and delete helpers, watches and asynchronous
 * operations (mmds/map.h), with other processes changing the files. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mmds/map.h>

#include "t_util.h"

Suite *files_suite(void);

static mmds_map *file_map(const char *name, uint64_t size)
{
	mmds_map *m = NULL;
	int rc = mmds_map_open(&m, t_path(name), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = size });

	ck_assert_msg(rc == 0, "open: %s", mmds_strerror(rc));
	return m;
}

static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 31u + seed);
}

/* Entries of the test directory whose name contains part. */
static int count_entries(const char *part)
{
	DIR *d = opendir(t_tmpdir());
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, part))
			n++;
	closedir(d);
	return n;
}

static void *read_whole(const char *name, size_t *len)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s", t_path(name));
	return t_read_file(p, len);
}

START_TEST(test_file_copy_copies_content_and_mode)
{
	enum { N = 300000 };
	char *buf = malloc(N), *got, src[4096], dst[4096];
	struct stat st;
	size_t len;

	fill(buf, N, 3);
	snprintf(src, sizeof(src), "%s", t_path("src"));
	snprintf(dst, sizeof(dst), "%s", t_path("dst"));
	t_write_file(src, buf, N);
	ck_assert_int_eq(chmod(src, 0640), 0);
	ck_assert_int_eq(mmds_file_copy(src, dst, 0), 0);
	got = read_whole("dst", &len);
	ck_assert_uint_eq(len, N);
	ck_assert_mem_eq(got, buf, N);
	free(got);
	ck_assert_int_eq(stat(dst, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640);
	/* EXCL refuses an existing dst and leaves it alone; the default
	 * replaces it. */
	t_write_file(dst, "old", 3);
	ck_assert_int_eq(mmds_file_copy(src, dst, MMDS_COPY_EXCL), -EEXIST);
	ck_assert_int_eq(t_file_size(dst), 3);
	ck_assert_int_eq(mmds_file_copy(src, dst, 0), 0);
	ck_assert_int_eq(t_file_size(dst), N);
	ck_assert_int_eq(mmds_file_copy(t_path("none"), dst, 0), -ENOENT);
	ck_assert_int_eq(mmds_file_copy(src, dst, 0x100), -EINVAL);
	ck_assert_int_eq(count_entries(".mmds-copy."), 0);
	free(buf);
}
END_TEST

START_TEST(test_map_copy_includes_unsynced_writes)
{
	mmds_map *m = file_map("m", 65536), *a = NULL, *p = NULL;
	char want[65536], *got;
	size_t len;

	fill(want, sizeof(want), 9);
	ck_assert_int_eq(mmds_map_write(m, 0, want, sizeof(want)), 0);
	ck_assert_int_eq(mmds_map_copy(m, t_path("copy"), 0), 0);
	got = read_whole("copy", &len);
	ck_assert_uint_eq(len, sizeof(want));
	ck_assert_mem_eq(got, want, sizeof(want));
	free(got);
	/* Shared anonymous memory copies through its memfd. */
	ck_assert_int_eq(mmds_map_open_anon(&a, &(mmds_map_opts){ .size = 100 }), 0);
	ck_assert_int_eq(mmds_map_write(a, 0, "anon", 4), 0);
	ck_assert_int_eq(mmds_map_copy(a, t_path("acopy"), 0), 0);
	got = read_whole("acopy", &len);
	ck_assert_uint_eq(len, 100);
	ck_assert_mem_eq(got, "anon", 4);
	free(got);
	ck_assert_int_eq(mmds_map_open_anon(&p, &(mmds_map_opts){
		.size = 100, .flags = MMDS_MAP_PRIVATE }), 0);
	ck_assert_int_eq(mmds_map_copy(p, t_path("pcopy"), 0), -EBADF);
	mmds_map_close(p);
	mmds_map_close(a);
	mmds_map_close(m);
}
END_TEST

/* Deleting while mapped: the name goes, the map keeps working, and a child
 * that inherited it sees the same bytes. */
START_TEST(test_delete_while_mapped_keeps_map_usable)
{
	mmds_map *m = NULL, *fdm = NULL;
	char buf[8];
	pid_t pid;
	int fd;

	ck_assert_int_eq(mmds_map_open(&m, t_path("del"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_UNLINK, .size = 4096 }), 0);
	ck_assert_int_eq(mmds_map_write(m, 0, "before", 6), 0);
	ck_assert_int_eq(mmds_map_delete(m), 0);
	ck_assert_int_eq(access(t_path("del"), F_OK), -1);
	ck_assert_int_eq(mmds_map_delete(m), -ENOENT);
	ck_assert_int_eq(mmds_map_write(m, 100, "after", 5), 0);
	ck_assert_int_eq(mmds_map_resize(m, 8192), 0);
	ck_assert_int_eq(mmds_map_write(m, 8000, "grown", 5), 0);
	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_DURABLE), 0);
	pid = t_fork();
	if (pid == 0) {
		char b[8];

		if (mmds_map_read(m, 8000, b, 5) || memcmp(b, "grown", 5))
			_exit(1);
		_exit(mmds_map_write(m, 200, "child", 5) ? 2 : 0);
	}
	t_wait_child(pid);
	ck_assert_int_eq(mmds_map_read(m, 200, buf, 5), 0);
	ck_assert_mem_eq(buf, "child", 5);
	/* A new file under the old name is not removed by the close of the
	 * map whose UNLINK the delete used up. */
	t_write_file(t_path("del"), "new", 3);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_int_eq(t_file_size(t_path("del")), 3);

	fd = open(t_path("del"), O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mmds_map_open_fd(&fdm, fd, NULL), 0);
	ck_assert_int_eq(mmds_map_delete(fdm), -EINVAL);
	ck_assert_int_eq(mmds_map_delete(NULL), -EINVAL);
	mmds_map_close(fdm);
	close(fd);
}
END_TEST

/* Delete and UNLINK remove the mapped file only: when another process has
 * moved it away and put a new file under its name, the new file stays
 * (-ENOENT, as for a file already gone). */
START_TEST(test_delete_never_removes_a_file_that_replaced_the_map)
{
	mmds_map *m = NULL;
	char path[4096], moved[4096];
	pid_t pid;

	snprintf(path, sizeof(path), "%s", t_path("rep"));
	snprintf(moved, sizeof(moved), "%s", t_path("rep.moved"));
	for (int how = 0; how < 2; how++) {
		ck_assert_int_eq(mmds_map_open(&m, path, &(mmds_map_opts){
			.flags = MMDS_MAP_CREATE | MMDS_MAP_UNLINK,
			.size = 4096 }), 0);
		pid = t_fork();
		if (pid == 0) {
			int fd;

			if (rename(path, moved) != 0)
				_exit(1);
			fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
			_exit(fd < 0 || write(fd, "new", 3) != 3);
		}
		t_wait_child(pid);
		if (how == 0)
			ck_assert_int_eq(mmds_map_delete(m), -ENOENT);
		/* UNLINK finds its file gone from the name, as when it was
		 * removed: -ENOENT, and nothing removed. */
		ck_assert_int_eq(mmds_map_close(m), -ENOENT);
		ck_assert_int_eq(t_file_size(path), 3);
		ck_assert_int_eq(t_file_size(moved), 4096);
		ck_assert_int_eq(unlink(path), 0);
		ck_assert_int_eq(unlink(moved), 0);
	}
}
END_TEST

/* Poll the watch until want shows up (2 s at most); all bits seen. */
static unsigned poll_for(mmds_watch *w, unsigned want)
{
	unsigned seen = 0;

	for (int i = 0; i < 40 && (seen & want) != want; i++) {
		struct pollfd p = { .fd = mmds_watch_fd(w), .events = POLLIN };
		int ev;

		if (poll(&p, 1, 50) > 0) {
			ev = mmds_watch_read(w);
			ck_assert_int_ge(ev, 0);
			seen |= (unsigned)ev;
		}
	}
	return seen;
}

enum action { ACT_WRITE, ACT_TRUNCATE, ACT_CHMOD, ACT_RENAME, ACT_UNLINK };

/* Another process changes the file. */
static void other_process(enum action a, const char *path, const char *other)
{
	pid_t pid = t_fork();

	if (pid == 0) {
		int fd, rc = 0;

		switch (a) {
		case ACT_WRITE:
			fd = open(path, O_WRONLY);
			rc = fd < 0 || pwrite(fd, "xyz", 3, 10) != 3;
			break;
		case ACT_TRUNCATE:
			rc = truncate(path, 1000) != 0;
			break;
		case ACT_CHMOD:
			rc = chmod(path, 0604) != 0;
			break;
		case ACT_RENAME:
			rc = rename(path, other) != 0;
			break;
		case ACT_UNLINK:
			rc = unlink(path) != 0;
			break;
		}
		_exit(rc);
	}
	t_wait_child(pid);
}

START_TEST(test_watch_polled_sees_other_processes)
{
	mmds_map *m = file_map("w", 4096);
	mmds_watch *w = NULL;
	char path[4096], other[4096];

	snprintf(path, sizeof(path), "%s", t_path("w"));
	snprintf(other, sizeof(other), "%s", t_path("w2"));
	ck_assert_int_eq(mmds_watch_open(&w, m, NULL, NULL), 0);
	ck_assert_int_ge(mmds_watch_fd(w), 0);
	ck_assert_int_eq(mmds_watch_read(w), 0); /* nothing yet */

	other_process(ACT_WRITE, path, NULL);
	ck_assert(poll_for(w, MMDS_WATCH_MODIFIED) & MMDS_WATCH_MODIFIED);
	other_process(ACT_TRUNCATE, path, NULL);
	ck_assert(poll_for(w, MMDS_WATCH_MODIFIED) & MMDS_WATCH_MODIFIED);
	other_process(ACT_CHMOD, path, NULL);
	ck_assert_uint_eq(poll_for(w, MMDS_WATCH_METADATA), MMDS_WATCH_METADATA);
	other_process(ACT_RENAME, path, other);
	ck_assert(poll_for(w, MMDS_WATCH_REMOVED) & MMDS_WATCH_REMOVED);
	ck_assert_int_eq(rename(other, path), 0);
	(void)poll_for(w, 0);
	other_process(ACT_UNLINK, path, NULL);
	ck_assert(poll_for(w, MMDS_WATCH_REMOVED) & MMDS_WATCH_REMOVED);
	ck_assert_int_eq(mmds_watch_close(w), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* Events say what changed even when several changes wait in one read:
 * a chmod followed by the removal is both METADATA and REMOVED (inotify
 * merges the two IN_ATTRIB events), a removal alone is not METADATA, and a
 * chmod of the file once removed is METADATA, not another removal. */
START_TEST(test_watch_tells_metadata_from_removal)
{
	mmds_map *m = file_map("wm", 4096);
	mmds_watch *w = NULL;
	char path[4096];
	pid_t pid;
	int fd = mmds_map_fd(m);

	snprintf(path, sizeof(path), "%s", t_path("wm"));
	ck_assert_int_eq(mmds_watch_open(&w, m, NULL, NULL), 0);
	other_process(ACT_CHMOD, path, NULL);
	other_process(ACT_UNLINK, path, NULL);
	ck_assert_uint_eq(poll_for(w, MMDS_WATCH_METADATA | MMDS_WATCH_REMOVED),
			  MMDS_WATCH_METADATA | MMDS_WATCH_REMOVED);

	pid = t_fork();
	if (pid == 0)
		_exit(fchmod(fd, 0600) != 0);
	t_wait_child(pid);
	ck_assert_uint_eq(poll_for(w, MMDS_WATCH_METADATA), MMDS_WATCH_METADATA);
	ck_assert_int_eq(mmds_watch_close(w), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);

	m = file_map("wm", 4096);
	ck_assert_int_eq(mmds_watch_open(&w, m, NULL, NULL), 0);
	other_process(ACT_UNLINK, path, NULL);
	ck_assert_uint_eq(poll_for(w, MMDS_WATCH_REMOVED), MMDS_WATCH_REMOVED);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* When the kernel's event queue overflows, the events it dropped are not
 * lost to the reader: a chmod that came after the overflow is still
 * reported as METADATA (and the overflow as a change of contents). */
START_TEST(test_watch_overflow_still_reports_what_changed)
{
	mmds_map *m = file_map("wo", 4096);
	mmds_watch *w = NULL;
	char path[4096], other[4096];
	unsigned ev;
	pid_t pid;

	snprintf(path, sizeof(path), "%s", t_path("wo"));
	snprintf(other, sizeof(other), "%s", t_path("wo2"));
	ck_assert_int_eq(mmds_watch_open(&w, m, NULL, NULL), 0);
	pid = t_fork();
	if (pid == 0) {
		int fd = open(path, O_WRONLY);

		/* Alternating kinds, so the kernel cannot merge them: more
		 * than the default queue (16384) holds. */
		for (int i = 0; i < 12000; i++) {
			if (pwrite(fd, "x", 1, 0) != 1 ||
			    rename(i % 2 ? other : path, i % 2 ? path : other))
				_exit(1);
		}
		_exit(chmod(path, 0604) != 0);
	}
	t_wait_child(pid);
	ev = poll_for(w, MMDS_WATCH_METADATA);
	ck_assert_uint_eq(ev & (MMDS_WATCH_MODIFIED | MMDS_WATCH_METADATA),
			  MMDS_WATCH_MODIFIED | MMDS_WATCH_METADATA);
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

struct cb {
	_Atomic unsigned seen;
	_Atomic(mmds_watch *) self;
	_Atomic int self_close;
};

static void on_change(unsigned events, void *arg)
{
	struct cb *c = arg;
	mmds_watch *w = atomic_load(&c->self);

	/* A callback closing its own watch is refused, not a deadlock. */
	if (w && atomic_load(&c->self_close) == 0)
		atomic_store(&c->self_close, mmds_watch_close(w));
	atomic_fetch_or(&c->seen, events);
}

static bool wait_bits(_Atomic unsigned *v, unsigned want)
{
	for (int i = 0; i < 200; i++) {
		if ((atomic_load(v) & want) == want)
			return true;
		usleep(10000);
	}
	return false;
}

/* A watch with a callback: events from other processes arrive on the
 * watch's thread, and the map's close ends a watch left open. */
START_TEST(test_watch_callback_and_end_at_map_close)
{
	mmds_map *m = file_map("wc", 4096);
	struct cb c = { 0 };
	mmds_watch *w = NULL;
	char path[4096];

	snprintf(path, sizeof(path), "%s", t_path("wc"));
	ck_assert_int_eq(mmds_watch_open(&w, m, on_change, &c), 0);
	atomic_store(&c.self, w);
	ck_assert_int_eq(mmds_watch_fd(w), -1);
	ck_assert_int_eq(mmds_watch_read(w), -EINVAL);
	other_process(ACT_WRITE, path, NULL);
	ck_assert(wait_bits(&c.seen, MMDS_WATCH_MODIFIED));
	ck_assert_int_eq(atomic_load(&c.self_close), -EDEADLK);
	other_process(ACT_CHMOD, path, NULL);
	ck_assert(wait_bits(&c.seen, MMDS_WATCH_METADATA));
	other_process(ACT_UNLINK, path, NULL);
	ck_assert(wait_bits(&c.seen, MMDS_WATCH_REMOVED));
	/* Closing the map ends the watch (its thread joined, freed). */
	ck_assert_int_eq(mmds_map_close(m), 0);
}
END_TEST

/* A callback may close the map it watches (on hearing that the file was
 * removed, say): the map closes at once, the watch ends when the callback
 * returns, and nothing is used after it was freed (ASan checks).  The fd
 * numbers the close frees are taken again at once, as a busy program
 * would: two readable, then one not, over the map's fd, the watch's
 * inotify fd and its stop fd, so a watch thread that went on polling its
 * old numbers would read the freed watch. */
struct closer {
	mmds_map *map;
	_Atomic int closed;
	_Atomic int rc;
	int reused[3];
};

static void close_on_removal(unsigned events, void *arg)
{
	struct closer *c = arg;

	if ((events & MMDS_WATCH_REMOVED) && !atomic_load(&c->closed)) {
		atomic_store(&c->rc, mmds_map_close(c->map));
		c->reused[0] = eventfd(1, EFD_CLOEXEC);
		c->reused[1] = eventfd(1, EFD_CLOEXEC);
		c->reused[2] = eventfd(0, EFD_CLOEXEC);
		atomic_store(&c->closed, 1);
	}
}

static void close_on_done(mmds_async *op, int result, void *arg)
{
	struct closer *c = arg;

	(void)op;
	(void)result;
	atomic_store(&c->rc, mmds_map_close(c->map));
	atomic_store(&c->closed, 1);
}

START_TEST(test_callbacks_may_close_their_map)
{
	struct closer c = { .map = file_map("cc", 4096) };
	mmds_watch *w = NULL;
	mmds_async *op = NULL;
	char path[4096];

	snprintf(path, sizeof(path), "%s", t_path("cc"));
	ck_assert_int_eq(mmds_watch_open(&w, c.map, close_on_removal, &c), 0);
	other_process(ACT_UNLINK, path, NULL);
	for (int i = 0; i < 200 && !atomic_load(&c.closed); i++)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&c.closed), 1);
	ck_assert_int_eq(atomic_load(&c.rc), 0);
	usleep(100000); /* time for a stray thread to poll the reused fds */
	for (int i = 0; i < 3; i++)
		close(c.reused[i]);

	c.map = file_map("cc", 4096);
	atomic_store(&c.closed, 0);
	ck_assert_int_eq(mmds_async_flush(&op, c.map, 0, 0, MMDS_SYNC_SYNC,
					  close_on_done, &c), 0);
	ck_assert_int_eq(mmds_async_wait(op, -1), 0);
	for (int i = 0; i < 200 && !atomic_load(&c.closed); i++)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&c.rc), 0);
	/* The operation outlives its map, to be freed (and its thread
	 * joined) here. */
	ck_assert_int_eq(mmds_async_free(op), 0);
}
END_TEST

/* mmds's threads take no signal meant for the process: a program that
 * blocks a signal to read it through sigwait or a signalfd (the event
 * loops a pollable watch is for) still gets it while a watch thread and an
 * operation's thread exist. */
static void *block_and_wait(void *arg)
{
	sigset_t *set = arg;
	struct timespec ts = { .tv_sec = 5 };

	return (void *)(intptr_t)sigtimedwait(set, NULL, &ts);
}

START_TEST(test_mmds_threads_leave_signals_to_the_program)
{
	mmds_map *m = file_map("sig", 1 << 20);
	struct cb c = { 0 };
	mmds_watch *w = NULL;
	mmds_async *op = NULL;
	sigset_t set;
	pthread_t t;
	void *got;
	pid_t pid;

	ck_assert_int_eq(mmds_watch_open(&w, m, on_change, &c), 0);
	ck_assert_int_eq(mmds_async_touch(&op, m, 0, 0, NULL, NULL), 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	/* Blocked here, in the test's thread and the one that waits; the
	 * mmds threads started before keep the mask they were given. */
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, block_and_wait, &set), 0);
	pid = t_fork();
	if (pid == 0)
		_exit(kill(getppid(), SIGUSR1) != 0);
	t_wait_child(pid);
	ck_assert_int_eq(pthread_join(t, &got), 0);
	ck_assert_int_eq((int)(intptr_t)got, SIGUSR1);
	/* finished, not cancelled by the free (on a loaded machine the touch
	 * of 1 MiB can still be running here) */
	ck_assert_int_eq(mmds_async_wait(op, -1), 0);
	ck_assert_int_eq(mmds_async_free(op), 0);
	ck_assert_int_eq(mmds_map_close(m), 0);
	ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
}
END_TEST

START_TEST(test_watch_bad_arguments)
{
	mmds_map *a = NULL;
	mmds_watch *w = (mmds_watch *)1;

	ck_assert_int_eq(mmds_watch_open(NULL, NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(mmds_watch_open(&w, NULL, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(mmds_map_open_anon(&a, &(mmds_map_opts){ .size = 10 }), 0);
	ck_assert_int_eq(mmds_watch_open(&w, a, NULL, NULL), -EINVAL);
	ck_assert_int_eq(mmds_watch_close(NULL), 0);
	mmds_map_close(a);
}
END_TEST

struct done {
	_Atomic int calls;
	_Atomic int result;
};

static void on_done(mmds_async *op, int result, void *arg)
{
	struct done *d = arg;

	ck_assert_ptr_nonnull(op);
	atomic_store(&d->result, result);
	atomic_fetch_add(&d->calls, 1);
}

static void wait_calls(struct done *d)
{
	for (int i = 0; i < 500 && atomic_load(&d->calls) == 0; i++)
		usleep(10000);
	ck_assert_int_eq(atomic_load(&d->calls), 1);
}

START_TEST(test_async_flush_completes_through_eventfd_and_callback)
{
	mmds_map *m = file_map("af", 1 << 20), *r = NULL;
	struct done d = { 0 };
	mmds_async *op = NULL;
	struct pollfd p;
	char buf[5];

	ck_assert_int_eq(mmds_map_write(m, 500000, "async", 5), 0);
	ck_assert_int_eq(mmds_async_flush(&op, m, 0, 0, MMDS_SYNC_DURABLE,
					  on_done, &d), 0);
	p.fd = mmds_async_fd(op);
	p.events = POLLIN;
	ck_assert_int_eq(poll(&p, 1, 10000), 1);
	ck_assert_int_eq(mmds_async_result(op), 0);
	ck_assert_int_eq(mmds_async_wait(op, 0), 0);
	wait_calls(&d);
	ck_assert_int_eq(atomic_load(&d.result), 0);
	ck_assert_int_eq(mmds_async_free(op), 0);
	ck_assert_int_eq(mmds_map_open(&r, t_path("af"), &(mmds_map_opts){
		.access = MMDS_READ }), 0);
	ck_assert_int_eq(mmds_map_read(r, 500000, buf, 5), 0);
	ck_assert_mem_eq(buf, "async", 5);
	mmds_map_close(r);

	/* An error comes with the completion, not from the start. */
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(mmds_async_flush(&op, m, 1 << 20, 10, MMDS_SYNC_SYNC,
					  on_done, &d), 0);
	ck_assert_int_eq(mmds_async_wait(op, -1), -ERANGE);
	wait_calls(&d);
	ck_assert_int_eq(atomic_load(&d.result), -ERANGE);
	ck_assert_int_eq(mmds_async_free(op), -ERANGE);
	ck_assert_int_eq(mmds_async_flush(&op, m, 0, 0, 99, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(op);
	ck_assert_int_eq(mmds_async_flush(&op, NULL, 0, 0, MMDS_SYNC_SYNC, NULL,
					  NULL), -EINVAL);
	mmds_map_close(m);
}
END_TEST

START_TEST(test_async_touch_copy_create)
{
	mmds_map *m = file_map("at", 1 << 20), *made = NULL;
	mmds_async *op = NULL;
	char want[4096], *got;
	size_t len;
	int rc;

	fill(want, sizeof(want), 5);
	ck_assert_int_eq(mmds_map_write(m, 0, want, sizeof(want)), 0);
	ck_assert_int_eq(mmds_async_touch(&op, m, 0, 0, NULL, NULL), 0);
	ck_assert_int_eq(mmds_async_wait(op, -1), 0);
	ck_assert_int_eq(mmds_async_free(op), 0);

	ck_assert_int_eq(mmds_map_sync(m, MMDS_SYNC_SYNC), 0);
	ck_assert_int_eq(mmds_async_copy(&op, t_path("at"), t_path("at.copy"), 0,
					 NULL, NULL), 0);
	ck_assert_int_eq(mmds_async_wait(op, -1), 0);
	ck_assert_int_eq(mmds_async_take_map(op, &made), -EINVAL);
	ck_assert_int_eq(mmds_async_free(op), 0);
	got = read_whole("at.copy", &len);
	ck_assert_uint_eq(len, 1 << 20);
	ck_assert_mem_eq(got, want, sizeof(want));
	free(got);
	ck_assert_int_eq(mmds_async_copy(&op, t_path("nothere"), t_path("x"), 0,
					 NULL, NULL), 0);
	ck_assert_int_eq(mmds_async_wait(op, -1), -ENOENT);
	mmds_async_free(op);

	ck_assert_int_eq(mmds_async_create(&op, t_path("made"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL, .size = 8192 },
		NULL, NULL), 0);
	ck_assert_int_eq(mmds_async_wait(op, -1), 0);
	ck_assert_int_eq(mmds_async_take_map(op, &made), 0);
	ck_assert_ptr_nonnull(made);
	ck_assert_uint_eq(mmds_map_size(made), 8192);
	ck_assert_int_eq(mmds_map_close(made), 0);
	ck_assert_int_eq(mmds_async_take_map(op, &made), 0);
	ck_assert_ptr_null(made);
	ck_assert_int_eq(mmds_async_free(op), 0);
	ck_assert_int_eq(t_file_size(t_path("made")), 8192);
	/* A second create of the same name fails in the completion; a map
	 * never taken is closed by free. */
	ck_assert_int_eq(mmds_async_create(&op, t_path("made"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL, .size = 10 },
		NULL, NULL), 0);
	ck_assert_int_eq(mmds_async_wait(op, -1), -EEXIST);
	ck_assert_int_eq(mmds_async_take_map(op, &made), -EEXIST);
	mmds_async_free(op);
	ck_assert_int_eq(mmds_async_create(&op, t_path("made2"), &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE, .size = 10 }, NULL, NULL), 0);
	rc = mmds_async_free(op);
	ck_assert_msg(rc == 0 || rc == -ECANCELED, "free %d", rc);
	mmds_map_close(m);
}
END_TEST

/* The map's close cancels and waits for its operations: after it, every
 * operation has completed, with its own result or -ECANCELED, and a
 * cancellation in the middle is seen at least once in a few tries. */
START_TEST(test_async_cancelled_at_map_close)
{
	int cancelled = 0;

	for (int t = 0; t < 10 && !cancelled; t++) {
		mmds_map *m = file_map("ac", 64 << 20);
		struct done d = { 0 };
		mmds_async *op = NULL;
		int rc;

		ck_assert_int_eq(mmds_async_touch(&op, m, 0, 0, on_done, &d), 0);
		ck_assert_int_eq(mmds_map_close(m), 0);
		rc = mmds_async_result(op);
		ck_assert_msg(rc == 0 || rc == -ECANCELED, "result %d", rc);
		ck_assert_int_eq(mmds_async_wait(op, 0), rc);
		ck_assert_int_eq(atomic_load(&d.calls), 1);
		ck_assert_int_eq(atomic_load(&d.result), rc);
		cancelled += rc == -ECANCELED;
		ck_assert_int_eq(mmds_async_free(op), rc);
		unlink(t_path("ac"));
	}
	ck_assert_int_gt(cancelled, 0);
}
END_TEST

START_TEST(test_async_cancel_explicitly)
{
	mmds_map *m = file_map("ax", 64 << 20);
	mmds_async *op = NULL;
	int rc;

	ck_assert_int_eq(mmds_async_touch(&op, m, 0, 0, NULL, NULL), 0);
	ck_assert_int_eq(mmds_async_cancel(op), 0);
	rc = mmds_async_wait(op, -1);
	ck_assert_msg(rc == 0 || rc == -ECANCELED, "result %d", rc);
	ck_assert_int_eq(mmds_async_free(op), rc);
	ck_assert_int_eq(mmds_async_cancel(NULL), -EINVAL);
	ck_assert_int_eq(mmds_async_wait(NULL, 0), -EINVAL);
	ck_assert_int_eq(mmds_async_fd(NULL), -1);
	ck_assert_int_eq(mmds_async_free(NULL), 0);
	mmds_map_close(m);
}
END_TEST

Suite *files_suite(void)
{
	Suite *s = suite_create("files");
	TCase *tc = t_tcase(s, "copy_delete", 30);

	tcase_add_test(tc, test_file_copy_copies_content_and_mode);
	tcase_add_test(tc, test_map_copy_includes_unsynced_writes);
	tcase_add_test(tc, test_delete_while_mapped_keeps_map_usable);
	tcase_add_test(tc, test_delete_never_removes_a_file_that_replaced_the_map);
	tc = t_tcase(s, "watch", 30);
	tcase_add_test(tc, test_watch_polled_sees_other_processes);
	tcase_add_test(tc, test_watch_callback_and_end_at_map_close);
	tcase_add_test(tc, test_watch_tells_metadata_from_removal);
	tcase_add_test(tc, test_watch_overflow_still_reports_what_changed);
	tcase_add_test(tc, test_watch_bad_arguments);
	tcase_add_test(tc, test_callbacks_may_close_their_map);
	tcase_add_test(tc, test_mmds_threads_leave_signals_to_the_program);
	tc = t_tcase(s, "async", 60);
	tcase_add_test(tc, test_async_flush_completes_through_eventfd_and_callback);
	tcase_add_test(tc, test_async_touch_copy_create);
	tcase_add_test(tc, test_async_cancelled_at_map_close);
	tcase_add_test(tc, test_async_cancel_explicitly);
	return s;
}

int main(void)
{
	return t_run_suite(files_suite());
}
