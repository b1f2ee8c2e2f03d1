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
	/* The map was closed from the watch's own callback: the thread frees
	 * the watch when the callback returns. */
	bool self_stop;
	/* What the file's inode said at the last IN_ATTRIB (or the open):
	 * inotify says only that some attribute changed, and merges two
	 * IN_ATTRIB in a row into one, so drain() compares against this to
	 * tell a removal from a metadata change, or find both. */
	struct stat last;
};

/* The attributes an IN_ATTRIB may be about, other than the link count. */
static bool meta_changed(const struct stat *a, const struct stat *b,
			 bool modified)
{
	if (a->st_mode != b->st_mode || a->st_uid != b->st_uid ||
	    a->st_gid != b->st_gid)
		return true;
	/* A write or truncate moves mtime by itself: only without one does
	 * a new mtime mean that someone set the times. */
	return !modified &&
	       (a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
		a->st_mtim.tv_nsec != b->st_mtim.tv_nsec ||
		a->st_atim.tv_sec != b->st_atim.tv_sec ||
		a->st_atim.tv_nsec != b->st_atim.tv_nsec);
}

/* The watch whose thread this is, so that a callback closing its own watch
 * is told -EDEADLK even before the creator has stored the thread's id. */
static _Thread_local struct mmds_watch *running;

#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF)

/* Read every pending event; the set of mmds bits, or a negative errno. */
static int drain(struct mmds_watch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	unsigned events = 0;
	bool attrib = false;

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
			if (e->mask & IN_ATTRIB)
				attrib = true;
			if (e->mask & IN_Q_OVERFLOW) {
				/* The kernel dropped events: say the contents
				 * may have changed, and find the rest from
				 * the inode as for an IN_ATTRIB. */
				events |= MMDS_WATCH_MODIFIED;
				attrib = true;
			}
			p += sizeof(*e) + e->len;
		}
	}
	if (attrib) {
		struct stat st;

		if (fstat(w->map->fd, &st) != 0) {
			events |= MMDS_WATCH_METADATA;
		} else {
			/* Removing a name changes the link count: the last
			 * one gone means the file was removed.  A change of
			 * the count alone that leaves names is metadata. */
			bool removed = st.st_nlink == 0 && w->last.st_nlink > 0;

			if (removed)
				events |= MMDS_WATCH_REMOVED;
			if (!removed || meta_changed(&w->last, &st,
						     events & MMDS_WATCH_MODIFIED))
				events |= MMDS_WATCH_METADATA;
			w->last = st;
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
		if (w->self_stop)
			break;
	}
	if (w->self_stop) {
		close(w->stopfd);
		close(w->ifd);
		free(w);
	}
	return NULL;
}

static void watch_destroy(struct mmds_watch *w)
{
	if (w->has_thread && running == w) {
		/* mmds_map_close() from the callback: the thread cannot join
		 * itself, so it ends and frees the watch on its own. */
		w->self_stop = true;
		pthread_detach(pthread_self());
		return;
	}
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
	if (inotify_add_watch(w->ifd, proc, WATCH_MASK) < 0 ||
	    fstat(m->fd, &w->last) != 0) {
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
		err = mmds__thread_start(&w->thread, watch_thread, w);
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
