/* map_internal.h - the mmds_map structure, shared by the files of lib/. */
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
	pthread_mutex_t lock;  /* serialises resize, sync, lock, close */
	struct mmds__flush flush;
};

/* Count a write for the flush policy; nothing more under MANUAL. */
static inline void mmds__flush_note(struct mmds_map *m, uint64_t off,
				    uint64_t len)
{
	if (atomic_load_explicit(&m->flush.mode, memory_order_relaxed) !=
	    MMDS_FLUSH_MANUAL)
		mmds__flush_note_slow(m, off, len);
}

size_t mmds__page_size(void);

#endif /* MMDS_MAP_INTERNAL_H */
