/*
 * map_internal.h - the mmds_map structure, shared by the files of lib/.
 *
 * The mapping core is split by role, one file per room:
 *   map.c         open, close, resize, refresh, info; the reservation and
 *                 the backed range (only it maps or unmaps pages); the list
 *                 of background work close stops
 *   map_access.c  read, write, writev, data/ptr/size/fd, cursors, atomics:
 *                 the lock-free paths, each under the SIGBUS guard
 *   map_sync.c    sync, advice, prefetch, touch, mlock
 *   map_view.c    error details, segments, atomic views, chunk iteration
 *   map_file.c    copy (reflink, copy_file_range) and delete while mapped
 *   map_watch.c   inotify watches;  map_async.c  asynchronous operations
 *   flush.c       flush policies and the background flusher
 *   guard.c       the SIGBUS guard;  hugepage.c  huge page discovery
 */
#ifndef MMDS_MAP_INTERNAL_H
#define MMDS_MAP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <mmds/map.h>

#include "flush.h"

/* The atomics of map.h act on words in shared memory, across processes.
 * That holds only for lock-free atomics (a lock-based one locks a lock
 * private to each process) on plain words of their own size. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
	       "64-bit atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint32_t) == 4 && sizeof(_Atomic uint64_t) == 8,
	       "atomic words are plain words");

struct mmds_map {
	/* Published size in bytes.  Stored with release by resize after the
	 * new range is mapped, loaded with acquire by every accessor. */
	_Atomic uint64_t size;
	unsigned char *base;  /* resv + delta: what the user sees as offset 0 */
	unsigned char *resv;  /* start of the reserved address range */
	size_t resv_len;      /* bytes reserved (page multiple) */
	size_t delta;         /* offset % page size */
	uint64_t offset;      /* file offset of byte 0 of the map */
	uint64_t capacity;    /* largest size the reservation holds */
	size_t mapped;        /* bytes of resv backed by the file or memory
	                         (page multiple); only under lock */
	int fd;               /* -1 for private anonymous memory */
	bool fd_writable;     /* fd open for writing: the file may grow */
	bool anonymous;
	int prot;             /* PROT_* of the backed range */
	int mflags;           /* MAP_* for the backed range, without FIXED */
	size_t granule;       /* page size of the backing: base or HugeTLB */
	int huge_kind;        /* enum mmds_huge_kind set up at open */
	unsigned access;
	_Atomic unsigned flags;
	atomic_bool dir_dirty; /* created or resized since the last durable sync */
	char *path;
	char *entry_path;      /* the name whose directory a durable sync
				  fsyncs: path, or the file CREATE made
				  through a dangling link at path */
	long guard_slot;       /* registry slot of resv, -1 before */
	pthread_mutex_t lock;  /* serialises resize, refresh, sync, lock_all */
	struct mmds__flush flush;
	pthread_mutex_t bg_lock; /* guards bg */
	struct mmds__bg *bg;   /* watches and asynchronous operations that
				  mmds_map_close() must stop */
};

/* Background work attached to a map (map_watch.c, map_async.c): stop()
 * ends it for mmds_map_close(), which has unlinked it already. */
struct mmds__bg {
	struct mmds__bg *next;
	void (*stop)(struct mmds__bg *bg);
};

void mmds__bg_add(struct mmds_map *m, struct mmds__bg *bg);
/* Unlink bg if still linked; false if close took it already. */
bool mmds__bg_remove(struct mmds_map *m, struct mmds__bg *bg);
/* For mmds_map_close(): stop everything attached. */
void mmds__bg_stop_all(struct mmds_map *m);
/* pthread_create() for mmds's own threads, with every signal blocked but
 * the synchronous ones (SIGBUS, SIGSEGV, ...).  0 or a negative errno. */
int mmds__thread_start(pthread_t *t, void *(*fn)(void *), void *arg);
/* The directory part of path ("." for a bare name, "/" at the root),
 * malloc'd; NULL without memory. */
char *mmds__parent_dir(const char *path);
/* fsync() the directory holding path (a file system without directory
 * fsync is not an error).  0 or a negative errno. */
int mmds__fsync_parent(const char *path);

/* Remove name if it still names the file open at fd: -ENOENT when it is
 * gone or names another file now (moved away, replaced), which is left
 * alone; else 0 or the errno of unlink().  Between the check and the
 * unlink another process could still swap the name: no system call
 * removes a name only if it is a given inode. */
int mmds__unlink_if_same(int fd, const char *name);
int mmds__copy_fd(int in, int out, const atomic_bool *cancel);
int mmds__copy_to_path(int in, const char *dst, unsigned flags,
		       const atomic_bool *cancel);

/* Count a write for the flush policy; nothing more under MANUAL. */
static inline void mmds__flush_note(struct mmds_map *m, uint64_t off,
				    uint64_t len)
{
	if (atomic_load_explicit(&m->flush.mode, memory_order_relaxed) !=
	    MMDS_FLUSH_MANUAL)
		mmds__flush_note_slow(m, off, len);
}

size_t mmds__page_size(void);

/* Helpers every map_*.c file uses. */
#include <errno.h>
#include <setjmp.h>
#include <string.h>
#include "guard.h"

static inline int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static inline uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static inline uint64_t load_size(const mmds_map *m)
{
	return atomic_load_explicit(&((mmds_map *)m)->size, memory_order_acquire);
}

/* memcpy, with copies of up to 16 bytes done inline: a call into the C
 * library costs as much as the copy itself for the small accesses counters
 * and records make. */
static inline void copy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (n > 16) {
		memcpy(d, s, n);
	} else if (n >= 8) {
		uint64_t a, b;

		memcpy(&a, s, 8);
		memcpy(&b, s + n - 8, 8);
		memcpy(d, &a, 8);
		memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;

		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
	} else if (n) {
		unsigned char a = s[0], b = s[n / 2], c = s[n - 1];

		d[0] = a;
		d[n / 2] = b;
		d[n - 1] = c;
	}
}

/* [off, off + len) inside [0, size), without overflow. */
static inline bool in_range(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* Run one atomic operation under the guard; a fault returns from the
 * enclosing function. */
#define GUARDED(stmt)                                                          \
	do {                                                                   \
		struct mmds__guard g_;                                         \
		mmds__guard_push(&g_);                                         \
		if (sigsetjmp(g_.env, 0))                                      \
			return mmds__guard_error(&g_);                         \
		stmt;                                                          \
		mmds__guard_pop(&g_);                                          \
	} while (0)

#endif /* MMDS_MAP_INTERNAL_H */
