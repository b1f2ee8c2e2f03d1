/*
 * mmds/map.h - layer 1: the mapping core.
 *
 * A mmds_map is a file (or anonymous memory) mapped into a range of address
 * space that is reserved once, at open, for the map's whole life.  The file
 * is mapped at the start of that range, so growing the map never moves its
 * base address: pointers into it stay valid across mmds_map_resize(), and
 * the read/write path takes no lock.
 *
 * Offsets are always relative to the start of the map (for a window, the
 * start of the window, not of the file).  Every accessor checks
 * offset + length against the current size without overflowing, so an
 * offset near UINT64_MAX is -ERANGE, never a wild access.
 *
 * Thread-safety: a map may be used by many threads at once.  Reads, writes,
 * atomics and cursors take no lock; resize, refresh, sync and lock_all
 * serialise among themselves on the map's mutex.  mmds_map_close() takes no
 * lock: it frees the map, like free(), so the caller must have ended every
 * other use of the map (and of its segments, views, iterators, and calls
 * on its watches) first; only work mmds runs in the background for the map
 * (the flusher, asynchronous operations, watch threads) is stopped by close
 * itself, which may be called from that work's own callbacks.
 * Concurrent plain writes to overlapping bytes are the caller's business
 * (use the atomics).
 *
 * mmds is Linux-only: it uses memfd, fallocate, MADV_POPULATE, inotify,
 * eventfd and futexes.
 *
 * Durability words: data written through a shared map is *published* at
 * once - every process mapping the file sees it, and it survives kill -9 of
 * the writer, since the page cache keeps it.  It is *durable* (survives
 * power loss) only after mmds_map_sync(..., MMDS_SYNC_DURABLE).
 */
#ifndef MMDS_MAP_H
#define MMDS_MAP_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <mmds/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open mapping.  Opaque. */
typedef struct mmds_map mmds_map;

/* Access mode (mmds_map_opts.access).  0 means MMDS_RDWR. */
enum mmds_access {
	MMDS_READ = 1,  /* reads only; writes are -EACCES */
	MMDS_WRITE = 2, /* writes only; reads are -EACCES */
	MMDS_RDWR = 3
};

/* Open flags (mmds_map_opts.flags), combined with |. */
enum mmds_map_flag {
	/* Create the file if it does not exist (mode from opts.mode).  The
	 * creation itself is race-free: O_CREAT|O_EXCL, then a plain open if
	 * someone else created it first.  opts.size applies to an existing
	 * file too: a shorter one is grown to offset + size, a longer one is
	 * mapped only up to offset + size.  For mmap-io's open_or_create
	 * (size only for a new file) use MMDS_MAP_OPEN_OR_CREATE. */
	MMDS_MAP_CREATE = 1u << 0,
	/* With CREATE: fail with -EEXIST if the file exists. */
	MMDS_MAP_EXCL = 1u << 1,
	/* Empty an existing file first (then grow it to opts.size). */
	MMDS_MAP_TRUNCATE = 1u << 2,
	/* Private copy-on-write mapping: writes are never carried to the file
	 * nor seen by other processes.  The default is shared. */
	MMDS_MAP_PRIVATE = 1u << 3,
	/* Prefault the page tables of the whole map at open (and of each new
	 * range at growth); for a file this reads ahead. */
	MMDS_MAP_POPULATE = 1u << 4,
	/* mlock() the map at open and each new range at growth; failure to
	 * lock (RLIMIT_MEMLOCK) fails the open with -EAGAIN/-ENOMEM/-EPERM. */
	MMDS_MAP_LOCK = 1u << 5,
	/* MAP_NORESERVE: no swap is reserved for a private or anonymous map. */
	MMDS_MAP_NORESERVE = 1u << 6,
	/* macOS's MAP_NOCACHE.  Linux has no such flag and mmds builds only
	 * on Linux, so this is always -ENOTSUP; the name is kept so that code
	 * ported from iommap or emmap gets a clear error. */
	MMDS_MAP_NOCACHE = 1u << 7,
	/* MAP_SYNC through MAP_SHARED_VALIDATE: stores reach persistent memory
	 * without msync.  Only DAX files allow it: elsewhere the open fails
	 * with -ENOTSUP.  Requires a shared, writable map. */
	MMDS_MAP_SYNC = 1u << 8,
	/* Place the map at exactly opts.addr (page-aligned).  Never replaces
	 * an existing mapping: an occupied range is -EEXIST. */
	MMDS_MAP_FIXED = 1u << 9,
	/* Unlink the file when the map is closed (path opens only): the
	 * path, if it still names the mapped file; a file another process
	 * put under the name since is left alone (close says -ENOENT). */
	MMDS_MAP_UNLINK = 1u << 10,
	/* The last component of the path must not be a symbolic link: the
	 * open fails with -ELOOP if it is (O_NOFOLLOW), dangling or not, so
	 * nothing is ever created, grown or truncated through a link planted
	 * there.  Links in the directory part are followed.  Path opens only.
	 * Without it, a link is followed as open(2) follows it: CREATE on a
	 * dangling link creates the file it names. */
	MMDS_MAP_NOFOLLOW = 1u << 11,
	/* Open the file, or create it if it does not exist: opts.size is the
	 * size of a file this call creates, and is ignored for a file that
	 * exists, which is mapped whole from opts.offset (neither grown nor
	 * cut).  A file this call creates appears under path only once it
	 * has its full size (made without a name, O_TMPFILE, then linked), so
	 * processes racing to open or create one name all map that size.
	 * Implies CREATE; -EINVAL with EXCL or TRUNCATE.  Path opens only. */
	MMDS_MAP_OPEN_OR_CREATE = 1u << 12
};

/* Sync levels, named for what they guarantee. */
enum mmds_sync_level {
	/* Start writing the range's dirty pages back and return at once
	 * (msync(MS_ASYNC), and on Linux, where that alone does nothing,
	 * sync_file_range(SYNC_FILE_RANGE_WRITE)).  No guarantee against power
	 * loss. */
	MMDS_SYNC_ASYNC = 1,
	/* msync(MS_SYNC): the range's dirty pages are written to the file and
	 * the call waits for the write.  POSIX promises no more (the device
	 * may still cache them); Linux also flushes the device's cache for the
	 * range on most file systems, but not the file's size or directory
	 * entry. */
	MMDS_SYNC_SYNC = 2,
	/* MS_SYNC then fdatasync(): the data, and the file size, are on stable
	 * storage; after a create or resize the parent directory is fsynced too,
	 * so the file itself survives power loss. */
	MMDS_SYNC_DURABLE = 3
};

/*
 * Flush policy: when mmds writes dirty data back by itself.  Writes through
 * every path count: mmds_map_write/writev, cursors, the atomics, and pointer
 * writes the caller reports with mmds_map_mark_dirty().  Only the dirty
 * range is synced.
 */
enum mmds_flush_mode {
	MMDS_FLUSH_MANUAL = 0, /* only mmds_map_sync()/mmds_map_flush() (default) */
	MMDS_FLUSH_ALWAYS,     /* after every write, in the writing thread */
	MMDS_FLUSH_BYTES,      /* when `every` bytes were written since the
	                          last flush, in the writing thread */
	MMDS_FLUSH_WRITES,     /* after every `every` writes, in the writing
	                          thread */
	MMDS_FLUSH_MILLIS      /* every `every` milliseconds, if anything is
	                          dirty, by the process's background flusher
	                          thread (shared by all maps, running only while
	                          some map uses this mode) */
};

typedef struct mmds_flush_policy {
	enum mmds_flush_mode mode;
	uint64_t every;              /* N for BYTES, WRITES, MILLIS (> 0) */
	enum mmds_sync_level level;  /* how far each flush goes;
	                                0 = MMDS_SYNC_SYNC */
} mmds_flush_policy;

/* Huge pages (mmds_map_opts.huge). */
enum mmds_huge {
	MMDS_HUGE_NONE = 0,  /* normal pages */
	/* The best the machine gives: explicit HugeTLB pages (anonymous
	 * memory, memfd, hugetlbfs files), else transparent huge pages
	 * (2 MiB-aligned reservation + MADV_HUGEPAGE), else normal pages. */
	MMDS_HUGE_TRY = 1,
	/* As TRY, but fail the open (-ENOMEM, -ENOTSUP) instead of falling
	 * back to normal pages. */
	MMDS_HUGE_STRICT = 2
};

/*
 * Options for the open functions.  A NULL pointer or a zero field means the
 * default, so designated initializers read well:
 *
 *   mmds_map_open(&m, "data", &(mmds_map_opts){ .flags = MMDS_MAP_CREATE,
 *                                               .size = 1 << 20 });
 */
typedef struct mmds_map_opts {
	unsigned access;   /* enum mmds_access; 0 = MMDS_RDWR */
	unsigned flags;    /* enum mmds_map_flag bits */
	unsigned mode;     /* permissions of a created file; 0 = 0600 */
	uint64_t offset;   /* file offset of the window; any value, not only
	                      page multiples */
	uint64_t size;     /* bytes to map; 0 = from offset to the end of the
	                      file.  A shared writable map, or any map opened
	                      with CREATE or TRUNCATE, grows a shorter file to
	                      offset + size (disk space allocated); a read-only
	                      or private one is -ERANGE.  Required for
	                      anonymous maps. */
	uint64_t capacity; /* address space reserved for growth; 0 = the larger
	                      of the size and MMDS_MAP_DEFAULT_CAPACITY.  Rounded
	                      up to the page size.  Below an explicit size it is
	                      -EINVAL; below the size of a file mapped whole
	                      (size 0) the open is -EFBIG. */
	void *addr;        /* with MMDS_MAP_FIXED, the exact address of the
	                      reservation (for a window at an unaligned offset,
	                      mmds_map_data() is addr + offset % page size);
	                      otherwise a hint (may be NULL) */
	mmds_flush_policy flush; /* default: MMDS_FLUSH_MANUAL */
	unsigned huge;     /* enum mmds_huge; default MMDS_HUGE_NONE */
	size_t huge_page_size; /* HugeTLB page size to ask for; 0 = the
	                          system's default (usually 2 MiB) */
} mmds_map_opts;

/* Address space reserved by default (1 GiB on 64-bit, 64 MiB on 32-bit). */
#if UINTPTR_MAX > 0xffffffffu
#define MMDS_MAP_DEFAULT_CAPACITY ((uint64_t)1 << 30)
#else
#define MMDS_MAP_DEFAULT_CAPACITY ((uint64_t)1 << 26)
#endif

/*
 * mmds_map_open - map a file by path.
 *
 * On success *out is the new map and 0 is returned.  On failure *out is set
 * to NULL (so mmds_map_close(*out) is always safe) and the result is:
 *   -EINVAL  out or path NULL, unknown flags or access, EXCL without CREATE,
 *            CREATE, OPEN_OR_CREATE or TRUNCATE with MMDS_READ,
 *            OPEN_OR_CREATE with EXCL or TRUNCATE, SYNC with PRIVATE or READ,
 *            FIXED with an unaligned or NULL addr, capacity below size
 *   -ENOENT  no such file and no CREATE, or no such directory;
 *   -EEXIST  CREATE|EXCL on an existing name (a symbolic link too, as for
 *            open(2)), or FIXED over an occupied range
 *   -ELOOP   NOFOLLOW and the last component is a symbolic link, or a
 *            loop of links
 *   -EAGAIN  with CREATE, the file vanished between the create and the
 *            open 16 times in a row (another process keeps removing it)
 *   -EACCES  the file's permissions forbid the access
 *   -ERANGE  a read-only map asks for more than the file holds, or
 *            offset + size overflows
 *   -ENOSPC, -EFBIG  the file could not be grown to offset + size
 *   -ENOTSUP MMDS_MAP_SYNC on a non-DAX file, MMDS_MAP_NOCACHE (always)
 *   -EISDIR  path is a directory;  -ENOMEM  out of memory
 *   or another negative errno from the system.
 * A zero-length file opens as a zero-size map (every access but a zero-length
 * one at offset 0 is -ERANGE) that mmds_map_resize() can grow.  A created
 * file's directory entry is made durable by the first durable sync.
 * Symbolic links are followed as open(2) follows them unless NOFOLLOW is
 * given: CREATE on a dangling link creates the file it names (and removes
 * that file again if the open then fails; the link stays).
 */
MMDS_API int mmds_map_open(mmds_map **out, const char *path,
			   const mmds_map_opts *opts);

/*
 * mmds_map_open_fd - map an open file descriptor.
 *
 * The map keeps its own duplicate of fd (close-on-exec): the caller still
 * owns fd and may close it at once.  The fd's open mode must allow the
 * requested access (-EACCES otherwise).  CREATE, OPEN_OR_CREATE, EXCL,
 * UNLINK, NOFOLLOW are
 * -EINVAL here; TRUNCATE works.  The map has no path, so a durable sync does not
 * fsync a directory.  Errors as for mmds_map_open(), plus -EBADF.
 */
MMDS_API int mmds_map_open_fd(mmds_map **out, int fd,
			      const mmds_map_opts *opts);

/*
 * mmds_map_open_anon - map anonymous, zero-filled memory of opts->size bytes.
 *
 * Shared anonymous memory (the default) is backed by a memfd, so children
 * forked later share it and other processes can map it through
 * mmds_map_fd() (passed over a Unix socket, or /proc/PID/fd/N; the fd is
 * close-on-exec).  MMDS_MAP_PRIVATE gives process-private memory with no fd.
 * opts must not be NULL: opts->size is required (0 is allowed and gives an
 * empty map to grow).  CREATE, OPEN_OR_CREATE, EXCL, TRUNCATE, UNLINK, SYNC,
 * NOFOLLOW and a
 * non-zero offset are -EINVAL.  Syncing anonymous memory does nothing and returns 0.
 */
MMDS_API int mmds_map_open_anon(mmds_map **out, const mmds_map_opts *opts);

/*
 * mmds_map_close - unmap, close the fd, unlink if MMDS_MAP_UNLINK.
 *
 * Accepts NULL (returns 0).  Under MMDS_FLUSH_MANUAL it does not sync: data
 * written through a shared map is already published and reaches the file
 * through the page cache; call mmds_map_sync() first if it must be durable.
 * Under any other flush policy it flushes what is pending first, at the
 * policy's level.  Returns 0, the error of that flush or of an earlier
 * background flush not yet reported, or the first error of
 * munmap/close/unlink (the map is freed regardless).  Pointers into
 * the map are invalid afterwards.  Takes no lock and frees m: it must not
 * race with any other call on m, nor on a segment, view or iterator of m;
 * the caller ends those first.  Background work of m (the MILLIS flusher,
 * asynchronous operations, watches) is cancelled or waited for by close.
 * Close may be called from the callback of one of m's watches or
 * operations: m is closed at once, and that watch ends (and is freed) when
 * its callback returns; that operation has completed, and its handle is
 * still freed with mmds_async_free().
 */
MMDS_API int mmds_map_close(mmds_map *m);

/* ---- Access -------------------------------------------------------------- */

/*
 * mmds_map_read - copy len bytes at offset off into buf.
 * mmds_map_write - copy len bytes from buf to offset off.
 *
 * 0 on success; -EINVAL (m NULL, or buf NULL with len > 0), -ERANGE
 * (off + len beyond the size or overflowing), -EACCES (the access mode
 * forbids it).  A zero-length access at any off <= size succeeds.  No lock,
 * no allocation, no system call.  Thread-safe; concurrent writes to the same
 * bytes interleave as plain memcpy would.
 */
MMDS_API int mmds_map_read(const mmds_map *m, uint64_t off, void *buf,
			   size_t len);
MMDS_API int mmds_map_write(mmds_map *m, uint64_t off, const void *buf,
			    size_t len);

/*
 * mmds_map_writev - write iovcnt buffers back to back starting at off.
 *
 * All or nothing: the whole range is checked before the first byte is
 * written.  0 on success; errors as mmds_map_write(), and -EINVAL for a
 * negative iovcnt or a NULL iov with iovcnt > 0.
 */
MMDS_API int mmds_map_writev(mmds_map *m, uint64_t off,
			     const struct iovec *iov, int iovcnt);

/*
 * Zero-copy access.
 *
 * mmds_map_data() returns the base address of the map.  It never changes
 * for the life of the map (resize keeps it), and is NULL only for NULL m.
 * mmds_map_ptr() returns data + off if [off, off + len) lies inside the map,
 * else NULL.
 *
 * Contract for raw pointers: bytes below mmds_map_size() may be read and
 * (with write access) written directly.  A pointer past the size after a
 * shrink, or into a file truncated by someone else, faults (SIGSEGV or
 * SIGBUS) unless the access runs under the mmds guard.  Writes through a
 * pointer are published like mmds_map_write() and made durable by
 * mmds_map_sync().  Valid until mmds_map_close().
 */
MMDS_API void *mmds_map_data(const mmds_map *m);
MMDS_API void *mmds_map_ptr(const mmds_map *m, uint64_t off, uint64_t len);

/* mmds_map_size - current size in bytes (0 for NULL m).  Lock-free. */
MMDS_API uint64_t mmds_map_size(const mmds_map *m);

/* mmds_map_fd - the map's file descriptor (a memfd for shared anonymous
 * memory), or -1 when it has none (private anonymous, NULL m).  Owned by the
 * map: do not close it. */
MMDS_API int mmds_map_fd(const mmds_map *m);

/* mmds_page_size - the system page size in bytes. */
MMDS_API size_t mmds_page_size(void);

/* ---- Cursor -------------------------------------------------------------- */

/*
 * A cursor reads (and writes) a map sequentially, like a file position.
 * It is a plain struct owned by the caller (no allocation); several cursors
 * may read one map at once.  One cursor must not be shared between threads
 * without a lock.  The fields are private: use the functions.
 */
typedef struct mmds_cursor {
	mmds_map *map;
	uint64_t pos;
} mmds_cursor;

/* mmds_cursor_init - start a cursor at offset 0 of m.  0, or -EINVAL. */
MMDS_API int mmds_cursor_init(mmds_cursor *c, mmds_map *m);

/*
 * mmds_cursor_read - copy up to n bytes from the position and advance.
 * Returns the number of bytes copied: n, fewer at the end of the map, 0 at
 * the end.  -EINVAL, -EACCES as for mmds_map_read().
 */
MMDS_API ssize_t mmds_cursor_read(mmds_cursor *c, void *buf, size_t n);

/*
 * mmds_cursor_write - copy n bytes to the position and advance.  Never
 * grows the map: returns n if all n bytes fit, -ERANGE (nothing written)
 * if not; -EINVAL, -EACCES as for mmds_map_write().
 */
MMDS_API ssize_t mmds_cursor_write(mmds_cursor *c, const void *buf, size_t n);

/*
 * mmds_cursor_read_line - copy one line, up to and including its '\n' (or
 * up to the end of the map for a last line without one), into buf and
 * NUL-terminate it.  Returns the line's length (without the NUL), 0 at the
 * end of the map.  -ENOBUFS if the line and its NUL do not fit in cap bytes:
 * the position is left unchanged, so the caller can retry with a larger
 * buffer.  -EINVAL for a NULL buf or cap 0.
 */
MMDS_API ssize_t mmds_cursor_read_line(mmds_cursor *c, char *buf, size_t cap);

/*
 * mmds_cursor_seek - move the position like lseek(): whence is SEEK_SET,
 * SEEK_CUR or SEEK_END.  Returns the new position.  -EINVAL for another
 * whence or a negative result; -ERANGE for a position beyond the size.
 */
MMDS_API int64_t mmds_cursor_seek(mmds_cursor *c, int64_t off, int whence);

/* mmds_cursor_tell - the current position. */
MMDS_API uint64_t mmds_cursor_tell(const mmds_cursor *c);

/* ---- Atomics ------------------------------------------------------------- */

/*
 * Atomic operations on naturally aligned 32- and 64-bit words of the map,
 * sequentially consistent, atomic across threads and across processes
 * sharing the map.  off must be a multiple of the word size and
 * off + size <= map size.  Each read-modify-write stores the previous value
 * in *old (old may be NULL).  Returns 0, or -EINVAL (NULL m or value
 * pointer, misaligned off), -ERANGE, -EACCES (loads need read access,
 * stores need write access, read-modify-writes need both).
 *
 * The address off is aligned relative to the map's base; for a window at an
 * unaligned file offset, the base itself is aligned as the file offset is,
 * so an offset is aligned when the absolute address is: see mmds_map_data().
 */
MMDS_API int mmds_map_load64(const mmds_map *m, uint64_t off, uint64_t *val);
MMDS_API int mmds_map_load32(const mmds_map *m, uint64_t off, uint32_t *val);
MMDS_API int mmds_map_store64(mmds_map *m, uint64_t off, uint64_t val);
MMDS_API int mmds_map_store32(mmds_map *m, uint64_t off, uint32_t val);
MMDS_API int mmds_map_add64(mmds_map *m, uint64_t off, uint64_t v,
			    uint64_t *old);
MMDS_API int mmds_map_add32(mmds_map *m, uint64_t off, uint32_t v,
			    uint32_t *old);
MMDS_API int mmds_map_sub64(mmds_map *m, uint64_t off, uint64_t v,
			    uint64_t *old);
MMDS_API int mmds_map_sub32(mmds_map *m, uint64_t off, uint32_t v,
			    uint32_t *old);
MMDS_API int mmds_map_and64(mmds_map *m, uint64_t off, uint64_t v,
			    uint64_t *old);
MMDS_API int mmds_map_and32(mmds_map *m, uint64_t off, uint32_t v,
			    uint32_t *old);
MMDS_API int mmds_map_or64(mmds_map *m, uint64_t off, uint64_t v,
			   uint64_t *old);
MMDS_API int mmds_map_or32(mmds_map *m, uint64_t off, uint32_t v,
			   uint32_t *old);
MMDS_API int mmds_map_xor64(mmds_map *m, uint64_t off, uint64_t v,
			    uint64_t *old);
MMDS_API int mmds_map_xor32(mmds_map *m, uint64_t off, uint32_t v,
			    uint32_t *old);
MMDS_API int mmds_map_xchg64(mmds_map *m, uint64_t off, uint64_t v,
			     uint64_t *old);
MMDS_API int mmds_map_xchg32(mmds_map *m, uint64_t off, uint32_t v,
			     uint32_t *old);

/*
 * mmds_map_cas64, mmds_map_cas32 - strong compare-and-exchange: if the
 * word equals *expected, store desired and return 1; otherwise store the
 * word's value in *expected and return 0.  Negative errno as above.
 */
MMDS_API int mmds_map_cas64(mmds_map *m, uint64_t off, uint64_t *expected,
			    uint64_t desired);
MMDS_API int mmds_map_cas32(mmds_map *m, uint64_t off, uint32_t *expected,
			    uint32_t desired);

/* ---- Size ---------------------------------------------------------------- */

/*
 * mmds_map_resize - grow or shrink the map (and its file) to new_size.
 *
 * The base address never moves.  Growth allocates the disk space first
 * (fallocate where the file system has it), so a full disk is -ENOSPC here,
 * never a SIGBUS later; a process over RLIMIT_FSIZE gets -EFBIG.  Growth
 * beyond the reserved capacity is -EFBIG.  On any error the map and the file
 * keep their previous size and content.  Shrinking cuts the file to
 * offset + new_size if the map reached the file's end (a window in the
 * middle of a larger file leaves the file alone); bytes beyond the new size
 * are gone from the map, and raw pointers into them fault.
 * A window grows the file only as far as offset + new_size.  A private map
 * grows over the file's existing bytes only (-ERANGE beyond them) since its
 * writes never reach the file; anonymous maps grow freely.
 * -EACCES on a read-only map, -EINVAL for NULL m.  Serialised with other
 * resizes; concurrent
 * reads and writes below min(old, new) size are safe.
 */
MMDS_API int mmds_map_resize(mmds_map *m, uint64_t new_size);

/*
 * mmds_map_refresh - adopt the current size of the file after another
 * process resized it: the map's size becomes the file's size minus the
 * map's offset, capped at the capacity (the size given at open does not
 * limit it).  Returns the new size (>= 0) or a negative errno.  The file is
 * never changed; anonymous private maps just return their size.
 */
MMDS_API int64_t mmds_map_refresh(mmds_map *m);

/* ---- Durability ---------------------------------------------------------- */

/*
 * mmds_map_sync - write back the whole map at the given level.
 * mmds_map_sync_range - write back [off, off + len) (rounded out to pages;
 * len 0 means "to the end").
 *
 * 0 on success; -EINVAL (bad level), -ERANGE, -EIO and other errors of
 * msync/fdatasync/fsync.  Private and anonymous maps have nothing to write
 * back: they return 0 and touch no file.  Thread-safe.
 */
MMDS_API int mmds_map_sync(mmds_map *m, enum mmds_sync_level level);
MMDS_API int mmds_map_sync_range(mmds_map *m, uint64_t off, uint64_t len,
				 enum mmds_sync_level level);

/* ---- Advice, prefetch, residency ----------------------------------------- */

enum mmds_advice {
	MMDS_ADV_NORMAL = 0,
	MMDS_ADV_RANDOM,
	MMDS_ADV_SEQUENTIAL,
	MMDS_ADV_WILLNEED,
	MMDS_ADV_DONTNEED,   /* drop the pages: a shared file map rereads them
	                        from the file; a private or anonymous map loses
	                        its changes and reads zeros (or the file) */
	MMDS_ADV_HUGEPAGE,   /* -ENOTSUP without transparent huge pages */
	MMDS_ADV_NOHUGEPAGE
};

/*
 * mmds_map_advise - madvise() over [off, off + len).  The range is rounded
 * out to whole pages, except for MMDS_ADV_DONTNEED, which is rounded in so
 * that no byte outside the range is dropped.  len 0 means "to the end".
 * 0, -EINVAL, -ERANGE, -ENOTSUP, or the system's error.
 */
MMDS_API int mmds_map_advise(mmds_map *m, uint64_t off, uint64_t len,
			     enum mmds_advice advice);

/*
 * mmds_map_prefetch - ask the kernel to read [off, off + len) of the file
 * into the page cache in the background (posix_fadvise WILLNEED); for
 * anonymous memory, madvise WILLNEED.  len 0 means "to the end".  Returns
 * at once.  0, -EINVAL (NULL m), -ERANGE, or the system's error.
 */
MMDS_API int mmds_map_prefetch(mmds_map *m, uint64_t off, uint64_t len);

/*
 * mmds_map_touch - fault in [off, off + len) now, so later accesses take no
 * page fault: for writing when the map is writable (a shared file map's
 * pages become dirty, to be written back; see mmds_map_touch_read()), else
 * for reading.
 * Contents are unchanged.  len 0 means "to the end".  0, -EINVAL (NULL m),
 * -ERANGE, -ENOMEM, -EFAULT (the file is shorter than the map; -EIO for a
 * hardware memory error).
 */
MMDS_API int mmds_map_touch(mmds_map *m, uint64_t off, uint64_t len);

/*
 * mmds_map_touch_read - fault in [off, off + len) for reading only, as
 * mmap-io's touch_pages does: reads then take no page fault, and no page
 * is dirtied (mmds_map_touch() on a writable shared file map marks every
 * page dirty, so the next sync writes the whole range back, and in a
 * private map copies every page).  The first write to each page still
 * takes a fault.  len 0 means "to the end".  Errors as mmds_map_touch().
 */
MMDS_API int mmds_map_touch_read(mmds_map *m, uint64_t off, uint64_t len);

/*
 * mmds_map_lock / mmds_map_unlock - mlock()/munlock() [off, off + len)
 * (rounded out to pages; len 0 means "to the end").
 * mmds_map_lock_all / mmds_map_unlock_all - the whole map; after lock_all,
 * ranges added by a later resize are locked too, as with MMDS_MAP_LOCK.
 * 0, -EINVAL (NULL m), -ERANGE, -ENOMEM or -EAGAIN (RLIMIT_MEMLOCK),
 * -EPERM.
 */
MMDS_API int mmds_map_lock(mmds_map *m, uint64_t off, uint64_t len);
MMDS_API int mmds_map_unlock(mmds_map *m, uint64_t off, uint64_t len);
MMDS_API int mmds_map_lock_all(mmds_map *m);
MMDS_API int mmds_map_unlock_all(mmds_map *m);

/* ---- Flush policy -------------------------------------------------------- */

/*
 * mmds_map_set_flush - change the map's flush policy (see enum
 * mmds_flush_mode).  Pending dirty data stays pending and counts toward the
 * new policy.  0, or -EINVAL (NULL, unknown mode or level, every == 0 for a
 * mode that needs it), -EAGAIN or -ENOMEM if the flusher thread cannot be
 * started (the same errors from open).  Thread-safe.
 * mmds_map_get_flush - the policy in force.  0, or -EINVAL.
 */
MMDS_API int mmds_map_set_flush(mmds_map *m, const mmds_flush_policy *policy);
MMDS_API int mmds_map_get_flush(const mmds_map *m, mmds_flush_policy *policy);

/*
 * mmds_map_mark_dirty - report a write made through a raw pointer into
 * [off, off + len), so the flush policy counts it and the next flush covers
 * it.  0, -EINVAL, -ERANGE.  Lock-free.  Under MMDS_FLUSH_MANUAL nothing is
 * tracked and it only checks its arguments.
 */
MMDS_API int mmds_map_mark_dirty(mmds_map *m, uint64_t off, uint64_t len);

/*
 * mmds_map_pending - bytes written (through any counted path) since the
 * last flush; 0 for NULL m and always 0 under MMDS_FLUSH_MANUAL, which
 * tracks nothing.  Lock-free.
 */
MMDS_API uint64_t mmds_map_pending(const mmds_map *m);

/*
 * mmds_map_flush - sync the dirty range now, at the policy's level, and
 * reset the pending count.  0 when nothing is dirty (no system call);
 * otherwise as mmds_map_sync_range().  Under MMDS_FLUSH_MANUAL, where
 * nothing is tracked, it syncs the whole map at MMDS_SYNC_SYNC.  An error
 * of a flush nobody waited for (a write-triggered or background flush) is
 * kept and returned once, by the next mmds_map_flush() or mmds_map_close().
 * When it returns, every write counted before the call is synced.
 */
MMDS_API int mmds_map_flush(mmds_map *m);

/* ---- Guarded raw-pointer access and the fast view ------------------------ */

/*
 * Word accessors and small copies on raw pointers into a live map, under
 * the SIGBUS guard but without its cost: on x86-64 each is one instruction
 * preceded by a marker (an 8-byte NOP whose operand says where to resume
 * and which register gets the error), and mmds's fault handler, finding a
 * marker before the faulting instruction of a fault inside a live map,
 * resumes after it with -EFAULT (-EIO for a hardware memory error) in that
 * register: a fix-up keyed by instruction address, as the kernel's
 * exception table does for copy_from_user.  Nothing is done per access
 * beyond the instruction itself.  Elsewhere (other architectures, and
 * builds with ThreadSanitizer, which must see every atomic), they call
 * the out-of-line mmds_ptr_access() and mmds_guard_copy(), which use the
 * portable sigsetjmp guard.
 *
 * Contract: p (src, dst) must point into a map that stays open during the
 * call (mmds_map_data() .. + capacity), or into memory that cannot fault.
 * A fault there from a file truncated under the map, or past a shrunk
 * size, returns -EFAULT (-EIO); a fault anywhere else is not mmds's and
 * goes to the program's handler or the default action, as in mmds_guard_run().
 * The handler is installed by the first map open; nothing here installs it.
 * Words must be naturally aligned (not checked).  The atomics are
 * sequentially consistent; mmds_ptr_copy() copies like memcpy (no
 * atomicity beyond what the hardware gives a plain access).  They nest in
 * any guard (a fault returns from the innermost access), are thread-safe
 * and async-signal-safe, and return 0 or the negative errno.  The macro
 * MMDS_PTR_FIXUP is defined where the inline marked form is compiled;
 * defining MMDS_NO_FIXUP before including this header forces the
 * out-of-line form.
 */

/* Operations of mmds_ptr_access(). */
enum mmds_ptr_op {
	MMDS_PTR_LOAD64 = 1, /* *out = *p */
	MMDS_PTR_STORE64,    /* *p = v */
	MMDS_PTR_ADD64,      /* *out = fetch_add(p, v) (out may be NULL) */
	MMDS_PTR_LOAD32,
	MMDS_PTR_STORE32,
	MMDS_PTR_ADD32
};

/*
 * mmds_ptr_access - the out-of-line, portable form of the mmds_ptr_*()
 * word accessors: op (enum mmds_ptr_op) on the word at p under the
 * sigsetjmp guard.  0, -EINVAL (NULL p, unknown op, NULL out for a load),
 * -EFAULT, -EIO.  Installs the handler if needed (then also its errors).
 * mmds_guard_copy - memcpy(dst, src, n) under the sigsetjmp guard; the
 * same errors.
 */
MMDS_API int mmds_ptr_access(void *p, int op, uint64_t v, uint64_t *out);
MMDS_API int mmds_guard_copy(void *dst, const void *src, size_t n);

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
	!defined(__SANITIZE_THREAD__) && !defined(MMDS_NO_FIXUP)
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MMDS__NO_FIXUP_TSAN 1
#endif
#endif
#ifndef MMDS__NO_FIXUP_TSAN
#define MMDS_PTR_FIXUP 1
#endif
#endif

#ifdef MMDS_PTR_FIXUP
/* The marker: nopl 0x<d>f16d6d(%rax,%rax,1), where d is the distance from
 * the instruction after it to the resume point (label 2), and 0xf1 says
 * the error goes to %ecx.  docs/CORE.md describes it byte by byte. */
#define MMDS__FIXUP_MARK                                                       \
	".byte 0x0f,0x1f,0x84,0x00,0x6d,0x6d,0xf1,2f-1f\n1:\t"

/* The copy primitives below name the bytes they touch as memory operands
 * of types that alias anything, so the compiler orders them like memcpy
 * without a full compiler barrier; the atomics add one. */
typedef uint64_t __attribute__((__may_alias__)) mmds__u64a;
typedef uint32_t __attribute__((__may_alias__)) mmds__u32a;

static inline int mmds__x_load64(const void *p, uint64_t *val)
{
	int err = 0;
	uint64_t v;

	__asm__ __volatile__(MMDS__FIXUP_MARK "movq %2, %0\n2:"
			     : "=r"(v), "+c"(err)
			     : "m"(*(const mmds__u64a *)p));
	if (!err)
		*val = v;
	return err;
}
static inline int mmds__x_load32(const void *p, uint32_t *val)
{
	int err = 0;
	uint32_t v;

	__asm__ __volatile__(MMDS__FIXUP_MARK "movl %2, %0\n2:"
			     : "=r"(v), "+c"(err)
			     : "m"(*(const mmds__u32a *)p));
	if (!err)
		*val = v;
	return err;
}
static inline int mmds__x_load8(const void *p, uint8_t *val)
{
	int err = 0;
	uint8_t v;

	__asm__ __volatile__(MMDS__FIXUP_MARK "movb %2, %0\n2:"
			     : "=q"(v), "+c"(err)
			     : "m"(*(const uint8_t *)p));
	if (!err)
		*val = v;
	return err;
}
/* Plain stores (copies); the seq_cst stores use xchg below. */
static inline int mmds__x_put64(void *p, uint64_t v)
{
	int err = 0;

	__asm__ __volatile__(MMDS__FIXUP_MARK "movq %2, %0\n2:"
			     : "=m"(*(mmds__u64a *)p), "+c"(err)
			     : "r"(v));
	return err;
}
static inline int mmds__x_put32(void *p, uint32_t v)
{
	int err = 0;

	__asm__ __volatile__(MMDS__FIXUP_MARK "movl %2, %0\n2:"
			     : "=m"(*(mmds__u32a *)p), "+c"(err)
			     : "r"(v));
	return err;
}
static inline int mmds__x_put8(void *p, uint8_t v)
{
	int err = 0;

	__asm__ __volatile__(MMDS__FIXUP_MARK "movb %2, %0\n2:"
			     : "=m"(*(uint8_t *)p), "+c"(err)
			     : "q"(v));
	return err;
}
#endif /* MMDS_PTR_FIXUP */

/* mmds_ptr_load64, mmds_ptr_load32 - *val = the word at p (seq_cst). */
static inline int mmds_ptr_load64(const void *p, uint64_t *val)
{
#ifdef MMDS_PTR_FIXUP
	int err;

	/* A plain load is seq_cst on x86; the barriers keep the compiler
	 * from moving other accesses across it. */
	__asm__ __volatile__("" ::: "memory");
	err = mmds__x_load64(p, val);
	__asm__ __volatile__("" ::: "memory");
	return err;
#else
	return mmds_ptr_access((void *)(uintptr_t)p, MMDS_PTR_LOAD64, 0, val);
#endif
}
static inline int mmds_ptr_load32(const void *p, uint32_t *val)
{
#ifdef MMDS_PTR_FIXUP
	int err;

	__asm__ __volatile__("" ::: "memory");
	err = mmds__x_load32(p, val);
	__asm__ __volatile__("" ::: "memory");
	return err;
#else
	uint64_t v = 0;
	int err = mmds_ptr_access((void *)(uintptr_t)p, MMDS_PTR_LOAD32, 0, &v);

	if (!err)
		*val = (uint32_t)v;
	return err;
#endif
}

/* mmds_ptr_store64, mmds_ptr_store32 - store v in the word at p (seq_cst). */
static inline int mmds_ptr_store64(void *p, uint64_t v)
{
#ifdef MMDS_PTR_FIXUP
	int err = 0;

	__asm__ __volatile__(MMDS__FIXUP_MARK "xchgq %0, %1\n2:"
			     : "+r"(v), "+m"(*(uint64_t *)p), "+c"(err)
			     :
			     : "memory");
	return err;
#else
	return mmds_ptr_access(p, MMDS_PTR_STORE64, v, (uint64_t *)0);
#endif
}
static inline int mmds_ptr_store32(void *p, uint32_t v)
{
#ifdef MMDS_PTR_FIXUP
	int err = 0;

	__asm__ __volatile__(MMDS__FIXUP_MARK "xchgl %0, %1\n2:"
			     : "+r"(v), "+m"(*(uint32_t *)p), "+c"(err)
			     :
			     : "memory");
	return err;
#else
	return mmds_ptr_access(p, MMDS_PTR_STORE32, v, (uint64_t *)0);
#endif
}

/* mmds_ptr_add64, mmds_ptr_add32 - atomically add v to the word at p
 * (seq_cst); the previous value goes to *old (old may be NULL).  Subtract
 * by adding the two's complement. */
static inline int mmds_ptr_add64(void *p, uint64_t v, uint64_t *old)
{
#ifdef MMDS_PTR_FIXUP
	int err = 0;

	__asm__ __volatile__(MMDS__FIXUP_MARK "lock xaddq %0, %1\n2:"
			     : "+r"(v), "+m"(*(uint64_t *)p), "+c"(err)
			     :
			     : "memory", "cc");
	if (old && !err)
		*old = v;
	return err;
#else
	return mmds_ptr_access(p, MMDS_PTR_ADD64, v, old);
#endif
}
static inline int mmds_ptr_add32(void *p, uint32_t v, uint32_t *old)
{
#ifdef MMDS_PTR_FIXUP
	int err = 0;

	__asm__ __volatile__(MMDS__FIXUP_MARK "lock xaddl %0, %1\n2:"
			     : "+r"(v), "+m"(*(uint32_t *)p), "+c"(err)
			     :
			     : "memory", "cc");
	if (old && !err)
		*old = v;
	return err;
#else
	uint64_t o = 0;
	int err = mmds_ptr_access(p, MMDS_PTR_ADD32, v, &o);

	if (old && !err)
		*old = (uint32_t)o;
	return err;
#endif
}

/*
 * mmds_ptr_copy - copy n bytes from src to dst, either or both inside a
 * live map (memcpy semantics: no overlap).  Inline for n <= 16 on x86-64
 * (two loads and two stores at most, overlapping for odd sizes); larger
 * copies call mmds_guard_copy().  On a fault dst may be partly written.
 */
static inline int mmds_ptr_copy(void *dst, const void *src, size_t n)
{
#ifdef MMDS_PTR_FIXUP
	unsigned char *d = (unsigned char *)dst;
	const unsigned char *s = (const unsigned char *)src;
	int err;

	if (n > 16)
		return mmds_guard_copy(dst, src, n);
	if (n == 8) {
		uint64_t a;

		if ((err = mmds__x_load64(s, &a)) != 0)
			return err;
		return mmds__x_put64(d, a);
	}
	if (n >= 8) {
		uint64_t a, b;

		if ((err = mmds__x_load64(s, &a)) != 0 ||
		    (err = mmds__x_load64(s + n - 8, &b)) != 0 ||
		    (err = mmds__x_put64(d, a)) != 0)
			return err;
		return mmds__x_put64(d + n - 8, b);
	}
	if (n >= 4) {
		uint32_t a, b;

		if ((err = mmds__x_load32(s, &a)) != 0 ||
		    (err = mmds__x_load32(s + n - 4, &b)) != 0 ||
		    (err = mmds__x_put32(d, a)) != 0)
			return err;
		return mmds__x_put32(d + n - 4, b);
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t a;

		if ((err = mmds__x_load8(s + i, &a)) != 0 ||
		    (err = mmds__x_put8(d + i, a)) != 0)
			return err;
	}
	return 0;
#else
	return mmds_guard_copy(dst, src, n);
#endif
}

/*
 * A fast view of a map: what the inline mmds_fast_*() accessors need to
 * check an access without calling into the library.  The map stays opaque:
 * the view holds its base address and the addresses of two of its words,
 * the size (loaded with acquire per access, as the functions do) and the
 * flush mode (a view sends writes through the functions whenever a flush
 * policy other than MMDS_FLUSH_MANUAL is in force, so they are counted).
 * A plain struct owned by the caller; valid until mmds_map_close().  The
 * fields are private.
 */
typedef struct mmds_map_fast {
	mmds_map *map;
	unsigned char *base;
	const uint64_t *size;
	const int *flush_mode;
	unsigned access;
} mmds_map_fast;

/*
 * mmds_map_fast_view - fill *f for m.  0, or -EINVAL (NULL arguments).
 */
MMDS_API int mmds_map_fast_view(mmds_map *m, mmds_map_fast *f);

/*
 * mmds_fast_read, mmds_fast_write, mmds_fast_load64, mmds_fast_store64,
 * mmds_fast_add64 - mmds_map_read(), mmds_map_write(), mmds_map_load64(),
 * mmds_map_store64() and mmds_map_add64() through a view, inline: the same
 * checks, results and errors (-EINVAL, -EACCES, -ERANGE, -EFAULT, -EIO),
 * the same guard, the same flush accounting.  Reads and writes above 16
 * bytes, and writes under a flush policy, call the functions.
 */
static inline int mmds__fast_check(const mmds_map_fast *f, uint64_t off,
				   uint64_t len, unsigned need)
{
	uint64_t size;

	if ((f->access & need) != need)
		return -EACCES;
	size = __atomic_load_n(f->size, __ATOMIC_ACQUIRE);
	if (off > size || len > size - off)
		return -ERANGE;
	return 0;
}

static inline int mmds_fast_read(const mmds_map_fast *f, uint64_t off,
				 void *buf, size_t len)
{
	int err;

	if (len > 16 || buf == NULL)
		return mmds_map_read(f->map, off, buf, len);
	err = mmds__fast_check(f, off, len, MMDS_READ);
	return err ? err : mmds_ptr_copy(buf, f->base + off, len);
}

static inline int mmds_fast_write(const mmds_map_fast *f, uint64_t off,
				  const void *buf, size_t len)
{
	int err;

	if (len > 16 || buf == NULL ||
	    __atomic_load_n(f->flush_mode, __ATOMIC_RELAXED) != MMDS_FLUSH_MANUAL)
		return mmds_map_write(f->map, off, buf, len);
	err = mmds__fast_check(f, off, len, MMDS_WRITE);
	return err ? err : mmds_ptr_copy(f->base + off, buf, len);
}

static inline int mmds_fast_load64(const mmds_map_fast *f, uint64_t off,
				   uint64_t *val)
{
	int err;

	if (val == NULL || (((uintptr_t)f->base + (uintptr_t)off) & 7))
		return mmds_map_load64(f->map, off, val);
	err = mmds__fast_check(f, off, 8, MMDS_READ);
	return err ? err : mmds_ptr_load64(f->base + off, val);
}

static inline int mmds_fast_store64(const mmds_map_fast *f, uint64_t off,
				    uint64_t v)
{
	int err;

	if ((((uintptr_t)f->base + (uintptr_t)off) & 7) ||
	    __atomic_load_n(f->flush_mode, __ATOMIC_RELAXED) != MMDS_FLUSH_MANUAL)
		return mmds_map_store64(f->map, off, v);
	err = mmds__fast_check(f, off, 8, MMDS_WRITE);
	return err ? err : mmds_ptr_store64(f->base + off, v);
}

static inline int mmds_fast_add64(const mmds_map_fast *f, uint64_t off,
				  uint64_t v, uint64_t *old)
{
	int err;

	if ((((uintptr_t)f->base + (uintptr_t)off) & 7) ||
	    __atomic_load_n(f->flush_mode, __ATOMIC_RELAXED) != MMDS_FLUSH_MANUAL)
		return mmds_map_add64(f->map, off, v, old);
	err = mmds__fast_check(f, off, 8, MMDS_RDWR);
	return err ? err : mmds_ptr_add64(f->base + off, v, old);
}

/* ---- SIGBUS guard -------------------------------------------------------- */

/*
 * Every mmds accessor (read, write, writev, cursors, atomics, touch) runs
 * under the SIGBUS guard: if the file was truncated under the map by this or
 * another process, the access returns -EFAULT instead of killing the
 * process, and works again once the file has grown back.  A hardware memory
 * error (BUS_MCEERR_AR) inside a map returns -EIO.  A SIGBUS that is not
 * mmds's (outside every live map, or outside a guarded access) goes to the
 * handler that was installed before mmds (SA_SIGINFO or plain), or gets the
 * default action, as if mmds were not there; SIG_IGN is honoured.
 *
 * The handler is installed once per process, the first time a map is opened
 * or a guard runs.  A program that installs its own SIGBUS handler after that
 * should call mmds_guard_install() afterwards, so that mmds chains to it.
 * That handler may chain back to the one it replaced (mmds's), as handlers
 * usually do: mmds then goes on to the handler before it, down to the
 * default action, so each handler runs once and never in a loop.
 *
 * A program's signal handler may leave a guarded access or mmds_guard_run()
 * by siglongjmp (and fn may longjmp out of mmds_guard_run()): the guard it
 * abandons is never used again, so a later fault outside every guard goes
 * to the program's handler or the default action as above.
 */

/*
 * mmds_guard_run - call fn(arg) under the guard, for code that works on raw
 * pointers into maps.  Returns fn's result, -EINVAL for a NULL fn, an error
 * of mmds_guard_install() if the handler was not installed yet and cannot
 * be, or -EFAULT (-EIO for a hardware memory error) if a SIGBUS hit a live
 * mmds map while fn ran: fn was then abandoned where it faulted, so it must
 * not hold locks or own resources it would release later.  Guards nest: an inner fault returns from the
 * innermost guard only.  Thread-safe; a fault in one thread never disturbs
 * another.
 */
MMDS_API int mmds_guard_run(int (*fn)(void *arg), void *arg);

/*
 * mmds_guard_install - install the process-wide SIGBUS handler now (it is
 * otherwise installed by the first open), remembering the current handler to
 * chain to.  Idempotent unless another handler replaced mmds's since: then
 * mmds reinstalls itself in front of it (mmds is never recorded as its own
 * predecessor).  0; -ENOSPC when 8 handlers were put in front of mmds's that
 * way already; or a negative errno from sigaction().
 */
MMDS_API int mmds_guard_install(void);

/* ---- Huge pages ---------------------------------------------------------- */

enum mmds_huge_kind {
	MMDS_HUGE_KIND_NONE = 0,  /* normal pages were set up */
	MMDS_HUGE_KIND_THP = 1,   /* transparent huge pages were requested */
	MMDS_HUGE_KIND_HUGETLB = 2 /* explicit HugeTLB pages back the map */
};

typedef struct mmds_hugepage_info {
	enum mmds_huge_kind kind; /* what mmds set up at open */
	size_t page_size;         /* HugeTLB page size, or the PMD size for
	                             THP; the base page size otherwise */
	/* What the kernel actually gave, in bytes, from /proc/self/smaps for
	 * the map's range at the time of the call: */
	uint64_t anon_huge;       /* AnonHugePages */
	uint64_t shmem_pmd;       /* ShmemPmdMapped */
	uint64_t file_pmd;        /* FilePmdMapped */
	uint64_t hugetlb;         /* Private_Hugetlb + Shared_Hugetlb */
	uint64_t huge_bytes;      /* the sum of the four */
} mmds_hugepage_info;

/*
 * mmds_map_hugepages - report what huge pages back the map right now.
 * 0, -EINVAL, or -ENOTSUP where /proc/self/smaps cannot be read.  Reads
 * /proc: not for hot paths.
 */
MMDS_API int mmds_map_hugepages(const mmds_map *m, mmds_hugepage_info *info);

/* ---- Information --------------------------------------------------------- */

typedef struct mmds_map_info {
	uint64_t size;     /* current size in bytes */
	uint64_t capacity; /* address space reserved: the most it can grow to */
	uint64_t offset;   /* file offset of the window (0 for a whole file) */
	const char *path;  /* the path it was opened with, or NULL (fd, anon);
	                      owned by the map */
	void *data;        /* base address, as mmds_map_data() */
	int fd;            /* as mmds_map_fd() */
	unsigned access;   /* enum mmds_access actually in force */
	unsigned flags;    /* the enum mmds_map_flag bits given at open, with
	                      MMDS_MAP_LOCK set by mmds_map_lock_all() and
	                      cleared by mmds_map_unlock_all() */
	int anonymous;     /* 1 for anonymous memory */
} mmds_map_info;

/* mmds_map_get_info - fill *info.  0, or -EINVAL for NULL arguments. */
MMDS_API int mmds_map_get_info(const mmds_map *m, mmds_map_info *info);

/* ---- Error details, alignment -------------------------------------------- */

/*
 * What an out-of-range or misaligned access asked for, filled by the calls
 * that take an optional mmds_range_detail * (NULL when not wanted) when
 * they return -ERANGE or a misalignment's -EINVAL; left alone otherwise.
 */
typedef struct mmds_range_detail {
	uint64_t offset; /* offset asked for (relative to the map or segment) */
	uint64_t length; /* bytes asked for */
	uint64_t size;   /* size of the map or segment at the time */
	uint64_t align;  /* required alignment, for a misaligned word; else 0 */
} mmds_range_detail;

/*
 * mmds_map_read_ex, mmds_map_write_ex - read or write with error details.
 * As mmds_map_read() and mmds_map_write(), filling *detail (if not NULL)
 * on -ERANGE.
 */
MMDS_API int mmds_map_read_ex(const mmds_map *m, uint64_t off, void *buf,
			      size_t len, mmds_range_detail *detail);
MMDS_API int mmds_map_write_ex(mmds_map *m, uint64_t off, const void *buf,
			       size_t len, mmds_range_detail *detail);

/*
 * mmds_align_up - round value up to a multiple of align.
 * Any align > 0 works, not only powers of two.  align 0 returns value.
 * UINT64_MAX when the result does not fit in 64 bits.
 */
MMDS_API uint64_t mmds_align_up(uint64_t value, uint64_t align);

/* ---- Segments ------------------------------------------------------------ */

/*
 * A segment is a bounded view [offset, offset + length) of a map, used with
 * offsets relative to its start.  It is a plain struct owned by the caller
 * (no allocation, nothing to free); it must not outlive its map.  Every
 * access re-validates the whole segment against the map's current size, so
 * after the map shrank below the segment's end each access is -ERANGE,
 * and works again once the map grew back.  The fields are private.
 */
typedef struct mmds_segment {
	mmds_map *map;
	uint64_t offset;
	uint64_t length;
} mmds_segment;

/*
 * mmds_segment_init - make s the view [off, off + len) of m.  0; -EINVAL
 * (NULL s or m); -ERANGE if the range is not inside the map now (with
 * *detail filled if detail is not NULL).
 */
MMDS_API int mmds_segment_init(mmds_segment *s, mmds_map *m, uint64_t off,
			       uint64_t len, mmds_range_detail *detail);

/* mmds_segment_length, mmds_segment_offset - a segment's length, offset.
 * The segment's length and its offset in the map (0 for NULL s). */
MMDS_API uint64_t mmds_segment_length(const mmds_segment *s);
MMDS_API uint64_t mmds_segment_offset(const mmds_segment *s);

/* mmds_segment_map - the map the segment views (NULL for NULL s). */
MMDS_API mmds_map *mmds_segment_map(const mmds_segment *s);

/*
 * mmds_segment_read, mmds_segment_write - copy bytes out of or into a segment.
 * As mmds_map_read() and mmds_map_write() at offset off of the segment.
 * -ERANGE (detail filled) if off + len passes the segment's end or the
 * segment passes the map's current end; -EINVAL, -EACCES, -EFAULT as for the
 * map.
 */
MMDS_API int mmds_segment_read(const mmds_segment *s, uint64_t off, void *buf,
			       size_t len, mmds_range_detail *detail);
MMDS_API int mmds_segment_write(mmds_segment *s, uint64_t off, const void *buf,
				size_t len, mmds_range_detail *detail);

/*
 * mmds_segment_ptr - pointer into a segment.
 * Points at [off, off + len) of the segment, or NULL if that is outside the
 * segment or the segment is outside the map now.  The
 * raw-pointer contract of mmds_map_ptr() applies.
 */
MMDS_API void *mmds_segment_ptr(const mmds_segment *s, uint64_t off,
				uint64_t len);

/*
 * mmds_segment_map_offset - translate a segment offset into a map offset.
 * Stores in *map_off the map offset of segment offset off, after checking
 * [off, off + len) against the segment and the segment against the map's
 * size.  Use it to call any mmds_map_* function (the atomics, sync_range,
 * advise, lock, touch) on a segment; that call checks the map's size again.
 * 0, -EINVAL, -ERANGE (detail filled).
 */
MMDS_API int mmds_segment_map_offset(const mmds_segment *s, uint64_t off,
				     uint64_t len, uint64_t *map_off,
				     mmds_range_detail *detail);

/*
 * mmds_segment_load64, mmds_segment_store64, mmds_segment_add64, mmds_segment_sub64, mmds_segment_and64, mmds_segment_or64, mmds_segment_xor64, mmds_segment_xchg64, mmds_segment_cas64 - atomics in a segment.
 * With their 32-bit forms: every atomic of the map, at segment offset off:
 * as mmds_map_load64() etc. (the same results and errors), with the
 * segment's range checks first (-ERANGE past the segment's end or when the
 * segment passes the map's current end).
 */
MMDS_API int mmds_segment_load64(const mmds_segment *s, uint64_t off,
				 uint64_t *val);
MMDS_API int mmds_segment_load32(const mmds_segment *s, uint64_t off,
				 uint32_t *val);
MMDS_API int mmds_segment_store64(mmds_segment *s, uint64_t off, uint64_t v);
MMDS_API int mmds_segment_store32(mmds_segment *s, uint64_t off, uint32_t v);
MMDS_API int mmds_segment_add64(mmds_segment *s, uint64_t off, uint64_t v,
				uint64_t *old);
MMDS_API int mmds_segment_add32(mmds_segment *s, uint64_t off, uint32_t v,
				uint32_t *old);
MMDS_API int mmds_segment_sub64(mmds_segment *s, uint64_t off, uint64_t v,
				uint64_t *old);
MMDS_API int mmds_segment_sub32(mmds_segment *s, uint64_t off, uint32_t v,
				uint32_t *old);
MMDS_API int mmds_segment_and64(mmds_segment *s, uint64_t off, uint64_t v,
				uint64_t *old);
MMDS_API int mmds_segment_and32(mmds_segment *s, uint64_t off, uint32_t v,
				uint32_t *old);
MMDS_API int mmds_segment_or64(mmds_segment *s, uint64_t off, uint64_t v,
			       uint64_t *old);
MMDS_API int mmds_segment_or32(mmds_segment *s, uint64_t off, uint32_t v,
			       uint32_t *old);
MMDS_API int mmds_segment_xor64(mmds_segment *s, uint64_t off, uint64_t v,
				uint64_t *old);
MMDS_API int mmds_segment_xor32(mmds_segment *s, uint64_t off, uint32_t v,
				uint32_t *old);
MMDS_API int mmds_segment_xchg64(mmds_segment *s, uint64_t off, uint64_t v,
				 uint64_t *old);
MMDS_API int mmds_segment_xchg32(mmds_segment *s, uint64_t off, uint32_t v,
				 uint32_t *old);
MMDS_API int mmds_segment_cas64(mmds_segment *s, uint64_t off,
				uint64_t *expected, uint64_t desired);
MMDS_API int mmds_segment_cas32(mmds_segment *s, uint64_t off,
				uint32_t *expected, uint32_t desired);

/* ---- Atomic views -------------------------------------------------------- */

/*
 * An atomic view is count naturally aligned words of width 4 or 8 bytes
 * starting at a map offset, used as an array of atomics: alignment, range
 * and access are checked once, at creation; each operation then checks only
 * the index and that the map still covers the view (one atomic load).  A
 * plain struct owned by the caller; it must not outlive its map.
 */
typedef struct mmds_atomic_view {
	mmds_map *map;
	uint64_t offset;
	size_t count;
	unsigned width;
} mmds_atomic_view;

/* Read-modify-write operations of mmds_atomic_view_rmw(). */
enum mmds_atomic_op {
	MMDS_ATOMIC_ADD = 1,
	MMDS_ATOMIC_SUB,
	MMDS_ATOMIC_AND,
	MMDS_ATOMIC_OR,
	MMDS_ATOMIC_XOR,
	MMDS_ATOMIC_XCHG
};

/*
 * mmds_atomic_view_init - make an array of atomic words out of a map range.
 * v becomes the view of count words of width bytes (4 or 8) at offset off
 * of m.  The map must be readable and writable.
 * 0; -EINVAL (NULL v or m, width not 4 or 8, count 0, off misaligned:
 * detail->align says the alignment needed); -ERANGE (the words are not
 * inside the map, or count * width overflows; detail filled); -EACCES.
 */
MMDS_API int mmds_atomic_view_init(mmds_atomic_view *v, mmds_map *m,
				   uint64_t off, size_t count, unsigned width,
				   mmds_range_detail *detail);

/* mmds_atomic_view_count - the number of words (0 for NULL v). */
MMDS_API size_t mmds_atomic_view_count(const mmds_atomic_view *v);

/*
 * mmds_atomic_view_load, mmds_atomic_view_store - load or store a word of a view.
 * Atomic load and store of word i (a 4-byte view stores the low 32 bits of
 * val).  0; -EINVAL (NULL arguments); -ERANGE (i >= count, or the map shrank
 * below the view); -EFAULT (the file was truncated under the map).
 */
MMDS_API int mmds_atomic_view_load(const mmds_atomic_view *v, size_t i,
				   uint64_t *val);
MMDS_API int mmds_atomic_view_store(mmds_atomic_view *v, size_t i,
				    uint64_t val);

/*
 * mmds_atomic_view_rmw, mmds_atomic_view_cas - read-modify-write a word of a view.
 * mmds_atomic_view_rmw applies op (enum mmds_atomic_op) with operand val to
 * word i atomically; the previous value goes to *old (may be NULL).
 * mmds_atomic_view_cas - strong compare-and-exchange of word i: 1 if it
 * held *expected and now holds desired, 0 (and *expected updated) if not.
 * A 4-byte word never holds an *expected above UINT32_MAX (0, *expected
 * set to the word); it stores the low 32 bits of desired.
 * Errors as mmds_atomic_view_load(), and -EINVAL for an unknown op.
 */
MMDS_API int mmds_atomic_view_rmw(mmds_atomic_view *v, size_t i,
				  enum mmds_atomic_op op, uint64_t val,
				  uint64_t *old);
MMDS_API int mmds_atomic_view_cas(mmds_atomic_view *v, size_t i,
				  uint64_t *expected, uint64_t desired);

/* ---- Iteration ----------------------------------------------------------- */

/*
 * Callbacks of the chunk walks: off is the chunk's offset in the map, p and
 * len the chunk (len == chunk except for a shorter last one).  Return 0 to
 * go on; any other value stops the walk and is returned by it.
 */
typedef int (*mmds_chunk_fn)(uint64_t off, const void *p, size_t len,
			     void *arg);
typedef int (*mmds_chunk_mut_fn)(uint64_t off, void *p, size_t len,
				 void *arg);

/*
 * mmds_map_chunks, mmds_map_chunks_mut - walk a map chunk by chunk, zero-copy.
 * mmds_map_chunks walks the map in chunks of chunk bytes from offset 0,
 * calling fn on pointers into the map.  chunk 0 walks page by page: each
 * chunk ends at a page boundary (mmds_page_size()), so for a window at an
 * unaligned file offset the first chunk is the rest of its page and every
 * other one starts page-aligned.  Each call runs under the SIGBUS guard: if the file was
 * truncated under the map, fn is abandoned where it faulted and the walk
 * returns -EFAULT (so fn must not hold locks across its accesses).  The
 * size is read again before each chunk, so a concurrent shrink ends the
 * walk early and never faults.  0 at the end; fn's non-zero result;
 * -EINVAL (NULL m or fn); -EACCES (no read access); -EFAULT, -EIO.
 *
 * mmds_map_chunks_mut - the same with writable chunks (write access
 * needed, MMDS_WRITE or MMDS_RDWR; -EACCES for a read-only map); each
 * chunk counts as written for the flush policy after fn returns.
 */
MMDS_API int mmds_map_chunks(const mmds_map *m, size_t chunk, mmds_chunk_fn fn,
			     void *arg);
MMDS_API int mmds_map_chunks_mut(mmds_map *m, size_t chunk,
				 mmds_chunk_mut_fn fn, void *arg);

/*
 * A copying iterator: a plain struct owned by the caller, like a cursor.
 * The fields are private.
 */
typedef struct mmds_iter {
	const mmds_map *map;
	uint64_t pos;
	size_t chunk;
} mmds_iter;

/*
 * mmds_iter_init - start a copying chunk iterator.
 * it starts at offset 0 of m with chunks of chunk bytes (0: page by page,
 * each chunk ending at a page boundary as in mmds_map_chunks()).  0, or
 * -EINVAL.
 */
MMDS_API int mmds_iter_init(mmds_iter *it, const mmds_map *m, size_t chunk);

/*
 * mmds_iter_next - copy the next chunk and advance.
 * The chunk goes into buf (cap bytes, at least the chunk size, or
 * mmds_page_size() for pages).  Returns the
 * chunk's length (the last may be shorter), 0 at the end of the map (its
 * size now), -EINVAL (NULL arguments, cap below the chunk size), -EACCES,
 * -EFAULT (also for a copy that met pages a concurrent shrink took away);
 * a shrink is otherwise seen as a shorter chunk or the end, never -ERANGE.
 * If off is not NULL it receives the chunk's offset.
 */
MMDS_API ssize_t mmds_iter_next(mmds_iter *it, void *buf, size_t cap,
				uint64_t *off);

/* ---- Copy and delete ----------------------------------------------------- */

/* Flags of the copy functions. */
enum mmds_copy_flag {
	/* Fail with -EEXIST if dst exists; the default replaces it. */
	MMDS_COPY_EXCL = 1u << 0
};

/*
 * mmds_file_copy, mmds_map_copy - copy a file, by reflink where possible.
 * mmds_file_copy copies the file src to dst: a reflink (FICLONE) where the
 * file system shares blocks between files, else copy_file_range(), else
 * read and write.  dst is written under a temporary name in its directory
 * and renamed into place (linked, with EXCL), so it never appears
 * half-written; it gets src's permission bits, and the copy and its
 * directory entry are fsynced.  Works across file systems.  0; -EINVAL
 * (NULL or unknown flags); -EEXIST (EXCL and dst exists); -EISDIR (src is
 * a directory); -ENOENT, -EACCES, -ENOSPC, or another negative errno of
 * open, copy_file_range, read, write, fsync or rename.
 *
 * mmds_map_copy - copy the file behind m (its whole file, all of it, not
 * only m's window) to dst in the same way.  Data written through any shared
 * map of the file is included (it is in the page cache).  Works for fd and
 * shared anonymous maps (through their fd); -EBADF for private anonymous
 * memory.
 */
MMDS_API int mmds_file_copy(const char *src, const char *dst, unsigned flags);
MMDS_API int mmds_map_copy(const mmds_map *m, const char *dst, unsigned flags);

/*
 * mmds_map_delete - remove the file m was opened from while it is mapped.
 * On Linux the map stays fully usable (reads, writes, resize, sync) until
 * mmds_map_close(); the space is freed when the last map or fd of the file
 * goes.  The name removed is the one recorded at open (the file CREATE
 * made, for a dangling link), and only while it still names the mapped
 * file: a file another process moved or created there since is left alone.
 * Its directory is fsynced so the removal is durable.  0; -EINVAL (NULL m,
 * or a map without a path: fd, anonymous); -ENOENT (already gone from that
 * name, or the name now holds another file), or the errno of unlink().
 */
MMDS_API int mmds_map_delete(mmds_map *m);

/* ---- Watch --------------------------------------------------------------- */

/* What a watch reports, as bits. */
enum mmds_watch_event {
	MMDS_WATCH_MODIFIED = 1u << 0, /* contents or size changed through the
					  file (write(2), truncate); stores
					  through a map are not reported */
	MMDS_WATCH_METADATA = 1u << 1, /* permissions, owner, times, or a
					  name added or removed while
					  others remain; reported beside
					  REMOVED when both happened */
	MMDS_WATCH_REMOVED = 1u << 2   /* the file's last name was removed,
					  or it was renamed */
};

typedef struct mmds_watch mmds_watch;

/* Callback of a watch: events is a set of enum mmds_watch_event bits. */
typedef void (*mmds_watch_fn)(unsigned events, void *arg);

/*
 * mmds_watch_open - watch the file behind a map for changes.
 * Through inotify, on the file itself, so changes by any process are seen.
 * With fn NULL the watch is polled: mmds_watch_fd() becomes readable when
 * events are pending and mmds_watch_read() collects them.  With fn, a thread
 * of the watch calls fn(events, arg) for each batch of events, and
 * mmds_watch_fd() is -1.  If the kernel's queue overflowed, the batch says
 * MODIFIED, and METADATA or REMOVED as the file's inode shows them (a
 * rename back and forth in the lost events cannot be seen).
 * The watch ends at mmds_watch_close() or, if still
 * open, at mmds_map_close(m), which closes it (joining its thread) and frees
 * it. 0; -EINVAL (NULL out or m, anonymous map); -ENOSPC or -EMFILE (inotify
 * limits); -EAGAIN, -ENOMEM; another negative errno.
 */
MMDS_API int mmds_watch_open(mmds_watch **out, mmds_map *m, mmds_watch_fn fn,
			     void *arg);

/* mmds_watch_fd - the pollable fd of a polled watch, -1 otherwise. */
MMDS_API int mmds_watch_fd(const mmds_watch *w);

/*
 * mmds_watch_read - collect the events pending on a polled watch.
 * Without blocking: a set of enum mmds_watch_event bits, 0 when none; -EINVAL
 * (NULL w, or a watch with a callback); another negative errno.
 */
MMDS_API int mmds_watch_read(mmds_watch *w);

/*
 * mmds_watch_close - stop a watch and free it.
 * Its thread is joined after it finishes the callback it is running.
 * Accepts NULL.  Must not be called from the watch's own callback (-EDEADLK,
 * nothing freed); mmds_map_close() of the watched map may be, and ends the
 * watch when the callback returns.  0.
 */
MMDS_API int mmds_watch_close(mmds_watch *w);

/* ---- Asynchronous operations --------------------------------------------- */

/*
 * An asynchronous operation runs on a thread of its own (like a watch's
 * thread, it blocks every signal but the synchronous ones a fault raises,
 * so signals meant for the program never land there).  Its completion is
 * signalled two ways: the operation's eventfd (mmds_async_fd()) becomes
 * readable, for poll/epoll/io_uring loops, and the optional callback runs
 * on the operation's thread with the result.  The result (0 or a negative
 * errno, -ECANCELED when cancelled) is kept until mmds_async_free().
 * Operations on a map are cancelled and waited for by mmds_map_close(),
 * which leaves their handles to be freed with mmds_async_free().
 */
typedef struct mmds_async mmds_async;

/* Completion callback: op's result, and the arg given at the start. */
typedef void (*mmds_async_fn)(mmds_async *op, int result, void *arg);

/*
 * mmds_async_flush, mmds_async_touch, mmds_async_copy, mmds_async_create - start work in the background.
 * mmds_async_flush runs mmds_map_sync_range(m, off, len, level) in the
 * background (len 0 = to the end).  Cancellation is seen between 1 MiB
 * pieces.  Errors of the sync arrive with the completion.
 * mmds_async_touch - mmds_map_touch(m, off, len) in the background, in 1 MiB
 * pieces.
 * mmds_async_copy - mmds_file_copy(src, dst, flags) in the background; it
 * belongs to no map, so only mmds_async_cancel() cancels it.
 * mmds_async_create - mmds_map_open(path, opts) in the background (opts is
 * copied); the new map is taken with mmds_async_take_map().
 *
 * Each stores the new operation in *out and returns 0, or -EINVAL (NULL
 * arguments), -EAGAIN or -ENOMEM (no thread), -EMFILE (no eventfd); the
 * operation's own errors come with its completion, never from here.
 */
MMDS_API int mmds_async_flush(mmds_async **out, mmds_map *m, uint64_t off,
			      uint64_t len, enum mmds_sync_level level,
			      mmds_async_fn fn, void *arg);
MMDS_API int mmds_async_touch(mmds_async **out, mmds_map *m, uint64_t off,
			      uint64_t len, mmds_async_fn fn, void *arg);
MMDS_API int mmds_async_copy(mmds_async **out, const char *src,
			     const char *dst, unsigned flags, mmds_async_fn fn,
			     void *arg);
MMDS_API int mmds_async_create(mmds_async **out, const char *path,
			       const mmds_map_opts *opts, mmds_async_fn fn,
			       void *arg);

/*
 * mmds_async_fd - the eventfd that signals an operation's completion.
 * It is readable once the operation completed (it stays readable; do not
 * read it).  -1 for NULL op.
 */
MMDS_API int mmds_async_fd(const mmds_async *op);

/*
 * mmds_async_wait, mmds_async_result - wait for an operation, or poll it.
 * mmds_async_wait waits up to timeout_ms (-1 = for ever) for the operation
 * to complete and returns its result; -ETIMEDOUT if it did not complete in
 * time; -EINVAL for NULL op.
 * mmds_async_result - the result without waiting: -EINPROGRESS while it
 * runs.
 */
MMDS_API int mmds_async_wait(mmds_async *op, int timeout_ms);
MMDS_API int mmds_async_result(const mmds_async *op);

/*
 * mmds_async_cancel - ask an operation to stop.
 * It completes soon after with -ECANCELED, unless it finished first (then
 * its result stands). Returns 0, or -EINVAL for NULL op.
 */
MMDS_API int mmds_async_cancel(mmds_async *op);

/*
 * mmds_async_take_map - take the map an asynchronous create opened.
 * For a completed mmds_async_create(), *out gets the map and the caller owns
 * it from then on (a second call gives NULL).  0; -EINVAL (NULL, or not a
 * create); -EINPROGRESS (still running); the create's error.
 */
MMDS_API int mmds_async_take_map(mmds_async *op, mmds_map **out);

/*
 * mmds_async_free - cancel, wait for and free an operation.
 * Cancels the operation if it still runs, waits for it, and frees it (a map
 * made by a create and not taken is closed).  Accepts NULL.  Must not be
 * called from the operation's own callback.  Returns the operation's
 * result.
 */
MMDS_API int mmds_async_free(mmds_async *op);

#ifdef __cplusplus
}
#endif

#endif /* MMDS_MAP_H */
