/* map_watch.c - watch the file behind a map through inotify: a pollable fd
 * or a thread calling back, stopped by mmds_watch_close() or the map's close. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map_internal.h"

struct mmds_watch {
	struct mmds__bg bg;   /* first: the map's list holds &bg */
	mmds_map *map;
	int ifd;              /* inotify */
	int stopfd;           /* eventfd that ends the thread; -1 if none */
	mmds_watch_fn fn;
	void *arg;
	pthread_t thread;
	bool has_thread;
};

/* The watch whose thread this is, so that a callback closing its own watch
 * is told -EDEADLK even before the creator has stored the thread's id. */
static _Thread_local struct mmds_watch *running;

#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)

/* Read every pending event; the set of mmds bits, or a negative errno. */
static int drain(struct mmds_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	unsigned events = 0;

	for (;;) {
		ssize_t n = read(w->ifd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return neg_errno();
		}
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->mask & IN_MODIFY)
				events |= MMDS_WATCH_MODIFIED;
			if (e->mask & (IN_MOVE_SELF | IN_DELETE_SELF))
				events |= MMDS_WATCH_REMOVED;
			if (e->mask & IN_ATTRIB) {
				struct stat st;

				/* Removing a name changes the link count: the
				 * last one gone means the file was removed. */
				if (w->map->fd >= 0 && fstat(w->map->fd, &st) == 0 &&
				    st.st_nlink == 0)
					events |= MMDS_WATCH_REMOVED;
				else
					events |= MMDS_WATCH_METADATA;
			}
			p += sizeof(*e) + e->len;
		}
	}
	return (int)events;
}

static void *watch_thread(void *arg)
{
	struct mmds_watch *w = arg;
	struct pollfd pfd[2] = { { .fd = w->ifd, .events = POLLIN },
				 { .fd = w->stopfd, .events = POLLIN } };

	running = w;

	for (;;) {
		int ev;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		ev = drain(w);
		if (ev > 0)
			w->fn((unsigned)ev, w->arg);
		else if (ev < 0)
			break;
	}
	return NULL;
}

static void watch_destroy(struct mmds_watch *w)
{
	if (w->has_thread) {
		uint64_t one = 1;

		if (write(w->stopfd, &one, sizeof(one)) != sizeof(one)) {
			/* an eventfd write of 1 cannot fail short of overflow */
		}
		pthread_join(w->thread, NULL);
	}
	if (w->stopfd >= 0)
		close(w->stopfd);
	if (w->ifd >= 0)
		close(w->ifd);
	free(w);
}

static void watch_stop(struct mmds__bg *bg)
{
	watch_destroy((struct mmds_watch *)bg);
}

int mmds_watch_open(mmds_watch **out, mmds_map *m, mmds_watch_fn fn, void *arg)
{
	struct mmds_watch *w;
	char proc[64];
	int err;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (m == NULL || m->fd < 0 || m->anonymous)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	w->map = m;
	w->fn = fn;
	w->arg = arg;
	w->stopfd = -1;
	w->bg.stop = watch_stop;
	w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->ifd < 0) {
		err = neg_errno();
		free(w);
		return err;
	}
	/* The open file itself, not whatever its name points at later. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", m->fd);
	if (inotify_add_watch(w->ifd, proc, WATCH_MASK) < 0) {
		err = neg_errno();
		watch_destroy(w);
		return err;
	}
	if (fn) {
		w->stopfd = eventfd(0, EFD_CLOEXEC);
		if (w->stopfd < 0) {
			err = neg_errno();
			watch_destroy(w);
			return err;
		}
		/* Set before the thread exists: its callback may close. */
		w->has_thread = true;
		err = -pthread_create(&w->thread, NULL, watch_thread, w);
		if (err) {
			w->has_thread = false;
			watch_destroy(w);
			return err;
		}
	}
	mmds__bg_add(m, &w->bg);
	*out = w;
	return 0;
}

int mmds_watch_fd(const mmds_watch *w)
{
	return w && !w->fn ? w->ifd : -1;
}

int mmds_watch_read(mmds_watch *w)
{
	if (w == NULL || w->fn)
		return -EINVAL;
	return drain(w);
}

int mmds_watch_close(mmds_watch *w)
{
	if (w == NULL)
		return 0;
	if (running == w)
		return -EDEADLK;
	mmds__bg_remove(w->map, &w->bg);
	watch_destroy(w);
	return 0;
}
