/* map.c - the mapping core: open, access, atomics, resize, sync, advice. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guard.h"
#include "hugepage.h"
#include "map_internal.h"

#define ALL_FLAGS                                                          \
	(MMDS_MAP_CREATE | MMDS_MAP_EXCL | MMDS_MAP_TRUNCATE |             \
	 MMDS_MAP_PRIVATE | MMDS_MAP_POPULATE | MMDS_MAP_LOCK |            \
	 MMDS_MAP_NORESERVE | MMDS_MAP_NOCACHE | MMDS_MAP_SYNC |           \
	 MMDS_MAP_FIXED | MMDS_MAP_UNLINK | MMDS_MAP_NOFOLLOW)

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

static const mmds_map_opts default_opts;

static int neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

size_t mmds__page_size(void)
{
	static _Atomic size_t cached;
	size_t ps = atomic_load_explicit(&cached, memory_order_relaxed);

	if (ps == 0) {
		long v = sysconf(_SC_PAGESIZE);

		ps = v > 0 ? (size_t)v : 4096;
		atomic_store_explicit(&cached, ps, memory_order_relaxed);
	}
	return ps;
}

size_t mmds_page_size(void)
{
	return mmds__page_size();
}

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

static uint64_t load_size(const mmds_map *m)
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
static bool in_range(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* ---- open ------------------------------------------------------------------ */

static int check_opts(const mmds_map_opts *o, unsigned *access)
{
	unsigned a = o->access ? o->access : MMDS_RDWR;

	if (a != MMDS_READ && a != MMDS_WRITE && a != MMDS_RDWR)
		return -EINVAL;
	if (o->flags & ~(unsigned)ALL_FLAGS)
		return -EINVAL;
	if ((o->flags & MMDS_MAP_EXCL) && !(o->flags & MMDS_MAP_CREATE))
		return -EINVAL;
	if (a == MMDS_READ && (o->flags & (MMDS_MAP_CREATE | MMDS_MAP_TRUNCATE)))
		return -EINVAL;
	if ((o->flags & MMDS_MAP_SYNC) &&
	    (a == MMDS_READ || (o->flags & MMDS_MAP_PRIVATE)))
		return -EINVAL;
	if (o->flags & MMDS_MAP_FIXED) {
		if (o->addr == NULL ||
		    ((uintptr_t)o->addr & (mmds__page_size() - 1)))
			return -EINVAL;
	}
	if (o->mode & ~07777u)
		return -EINVAL;
	if (o->offset > UINT64_MAX - o->size)
		return -ERANGE;
	if (o->capacity && o->capacity < o->size)
		return -EINVAL;
	if (o->huge > MMDS_HUGE_STRICT ||
	    (o->huge_page_size & (o->huge_page_size - 1)))
		return -EINVAL;
#ifndef MAP_NOCACHE
	if (o->flags & MMDS_MAP_NOCACHE)
		return -ENOTSUP;
#endif
	*access = a;
	return 0;
}

/* Grow the file to end bytes with its blocks allocated, so that a full disk
 * shows here and not as a SIGBUS on first touch.  On failure the file keeps
 * its old size. */
static int grow_file(int fd, uint64_t old_end, uint64_t end)
{
	struct rlimit rl;
	int err;

	if (end > (uint64_t)INT64_MAX)
		return -EFBIG;
	/* Check RLIMIT_FSIZE ourselves: crossing it also raises SIGXFSZ,
	 * which would kill a process that did not ignore it. */
	if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    end > (uint64_t)rl.rlim_cur)
		return -EFBIG;
#ifdef HAVE_FALLOCATE
	if (fallocate(fd, 0, (off_t)old_end, (off_t)(end - old_end)) == 0)
		return 0;
	err = errno;
	if (err != EOPNOTSUPP && err != ENOSYS)
		goto fail;
#endif
#ifdef HAVE_POSIX_FALLOCATE
	err = posix_fallocate(fd, (off_t)old_end, (off_t)(end - old_end));
	if (err == 0)
		return 0;
	if (err != EOPNOTSUPP && err != EINVAL && err != ENOSYS)
		goto fail;
#endif
	if (ftruncate(fd, (off_t)end) == 0)
		return 0;
	err = errno;
fail:
	/* A partial allocation may have moved the size: put it back. */
	if (ftruncate(fd, (off_t)old_end) != 0) {
		/* Nothing better to do; the first error is the one to report. */
	}
	return -err;
}

/* Back [from, to) of the reservation (page multiples) with the file or
 * memory, lock it if asked. */
static int back_range(mmds_map *m, size_t from, size_t to)
{
	int flags = m->mflags | MAP_FIXED;
	void *p;

	if (to <= from)
		return 0;
	if (atomic_load(&m->flags) & MMDS_MAP_POPULATE) {
#ifdef MAP_POPULATE
		flags |= MAP_POPULATE;
#endif
	}
	p = mmap(m->resv + from, to - from, m->prot, flags, m->fd,
		 m->fd >= 0 ? (off_t)(m->offset - m->delta + from) : 0);
	if (p == MAP_FAILED) {
		int err = neg_errno();

		return err == -EOPNOTSUPP ? -ENOTSUP : err;
	}
#ifdef MADV_HUGEPAGE
	if (m->huge_kind == MMDS_HUGE_KIND_THP)
		madvise(p, to - from, MADV_HUGEPAGE); /* a hint: may be refused */
#endif
	if (atomic_load(&m->flags) & MMDS_MAP_LOCK) {
		if (mlock(m->resv + from, to - from) != 0) {
			int err = neg_errno();

			mmap(m->resv + from, to - from, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
			     -1, 0);
			return err;
		}
	}
	return 0;
}

/* Give [from, to) of the reservation back to PROT_NONE. */
static int unback_range(mmds_map *m, size_t from, size_t to)
{
	if (to <= from)
		return 0;
	if (mmap(m->resv + from, to - from, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
		 0) == MAP_FAILED)
		return neg_errno();
	return 0;
}

/* Reserve address space for the capacity, aligned to align (a power of
 * two: the huge page size, so huge pages can back it). */
static int reserve(mmds_map *m, const mmds_map_opts *o, size_t align)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	size_t ps = mmds__page_size();
	uint64_t len = round_up((uint64_t)m->delta + m->capacity, m->granule);
	size_t extra;
	unsigned char *p;

	if (len == 0)
		len = m->granule;
	if (len > SIZE_MAX / 2)
		return -EFBIG;
	if (o->flags & MMDS_MAP_FIXED) {
		if ((uintptr_t)o->addr & (m->granule - 1))
			return -EINVAL;
		align = ps;
#ifdef MAP_FIXED_NOREPLACE
		flags |= MAP_FIXED_NOREPLACE;
#endif
	}
	extra = align > ps ? align - ps : 0;
	p = mmap(o->addr, (size_t)len + extra, PROT_NONE, flags, -1, 0);
	if (p == MAP_FAILED)
		return errno == ENOMEM ? -EFBIG : neg_errno();
	if ((o->flags & MMDS_MAP_FIXED) && p != (unsigned char *)o->addr) {
		/* A kernel without MAP_FIXED_NOREPLACE took it as a hint. */
		munmap(p, (size_t)len);
		return -EEXIST;
	}
	if (extra) {
		/* Trim to an aligned start. */
		size_t head = (size_t)(round_up((uintptr_t)p, align) - (uintptr_t)p);

		if (head)
			munmap(p, head);
		if (extra - head)
			munmap(p + head + len, extra - head);
		p += head;
	}
	m->resv = p;
	m->resv_len = (size_t)len;
	m->base = m->resv + m->delta;
	return 0;
}

/* MAP_SYNC is validated by the kernel only when something is mapped: probe
 * with one page when the map starts empty. */
static int probe_map_sync(mmds_map *m)
{
	int err = back_range(m, 0, m->granule);

	if (err == 0)
		err = unback_range(m, 0, m->granule);
	return err;
}

/* Back one huge page of an empty anonymous map and give it back. */
static int probe_hugetlb(mmds_map *m)
{
	int err = 0;

	if (m->fd >= 0 && ftruncate(m->fd, (off_t)m->granule) != 0)
		return neg_errno();
	err = back_range(m, 0, m->granule);
	if (err == 0)
		err = unback_range(m, 0, m->granule);
	if (m->fd >= 0 && ftruncate(m->fd, 0) != 0 && err == 0)
		err = neg_errno();
	return err;
}

/* File sizes of HugeTLB files must be multiples of the huge page size. */
static uint64_t file_end(const mmds_map *m, uint64_t end)
{
	return m->huge_kind == MMDS_HUGE_KIND_HUGETLB ? round_up(end, m->granule)
						       : end;
}

/* Undo place(): back to an open fd (or none) and no reservation. */
static void unplace(mmds_map *m, bool own_fd)
{
	if (m->resv)
		munmap(m->resv, m->resv_len);
	m->resv = NULL;
	m->base = NULL;
	m->resv_len = 0;
	if (own_fd && m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
}

/* Set the map up with huge pages of the given kind (or none): memory for
 * anonymous maps, the reservation, the first backed range. */
static int place(mmds_map *m, const mmds_map_opts *o, uint64_t size, int kind,
		 bool *own_fd)
{
	size_t ps = mmds__page_size(), align = ps;
	bool shared_anon = m->anonymous && !(o->flags & MMDS_MAP_PRIVATE);
	int mfd_flags = 0, err;

	m->huge_kind = kind;
	m->granule = ps;
	*own_fd = false;
	if (kind == MMDS_HUGE_KIND_HUGETLB) {
		size_t hp = m->anonymous ? (o->huge_page_size ? o->huge_page_size
							       : mmds__huge_default_size())
					 : mmds__hugetlbfs_page_size(m->fd);
#if defined(MAP_HUGETLB) && defined(MFD_HUGETLB)
		if (hp < ps || (hp & (hp - 1)))
			return hp ? -EINVAL : -ENOTSUP;
		if (m->offset & (hp - 1))
			return -EINVAL;
		m->granule = align = hp;
		if (m->anonymous && !shared_anon)
			m->mflags |= MAP_HUGETLB | mmds__huge_size_bits(o->huge_page_size);
		mfd_flags = MFD_HUGETLB | mmds__huge_size_bits(o->huge_page_size);
#else
		return -ENOTSUP;
#endif
	} else if (kind == MMDS_HUGE_KIND_THP) {
		if (!mmds__thp_available(shared_anon))
			return -ENOTSUP;
		align = mmds__thp_size();
	}
	m->capacity = round_up(m->capacity, m->granule);
	if (m->capacity < size)
		return -EFBIG;
	if (shared_anon) {
#ifdef HAVE_MEMFD_CREATE
		m->fd = memfd_create("mmds-anon", MFD_CLOEXEC | mfd_flags);
		if (m->fd < 0)
			return neg_errno();
		*own_fd = true;
		m->fd_writable = true;
		if (size && ftruncate(m->fd, (off_t)file_end(m, size)) != 0)
			return neg_errno();
#else
		return -ENOTSUP;
#endif
	}
	err = reserve(m, o, align);
	if (err)
		return err;
	if (kind == MMDS_HUGE_KIND_HUGETLB && m->anonymous && size == 0) {
		/* Nothing is mapped yet, so nothing has shown whether the
		 * kernel has a huge page to give: try one now, or the map
		 * could never grow. */
		err = probe_hugetlb(m);
		if (err)
			return err;
	}
	if ((o->flags & MMDS_MAP_SYNC) && size == 0) {
		err = probe_map_sync(m);
		if (err)
			return err;
	}
	err = back_range(m, 0, (size_t)round_up(m->delta + size, m->granule));
	if (err)
		return err;
	m->mapped = (size_t)round_up(m->delta + size, m->granule);
	return 0;
}

static int map_setup(mmds_map *m, const mmds_map_opts *o)
{
	uint64_t size = o->size, end;
	size_t ps = mmds__page_size(), hugetlbfs = 0;
	int err, kind, base_flags;
	bool own_fd = false;

	m->offset = o->offset;
	m->delta = (size_t)(o->offset & (ps - 1));
	m->granule = ps;

	if (m->fd >= 0) {
		struct stat st;
		uint64_t fsz;

		if (fstat(m->fd, &st) != 0)
			return neg_errno();
		if (S_ISDIR(st.st_mode))
			return -EISDIR;
		hugetlbfs = mmds__hugetlbfs_page_size(m->fd);
		if (hugetlbfs) {
			/* The kernel maps such a file only with its pages. */
			m->huge_kind = MMDS_HUGE_KIND_HUGETLB;
			m->granule = hugetlbfs;
		}
		fsz = (uint64_t)st.st_size;
		if (size == 0) {
			if (o->offset > fsz)
				return -ERANGE;
			size = fsz - o->offset;
		}
		end = o->offset + size;
		if (end > fsz) {
			if (!m->fd_writable || (o->flags & MMDS_MAP_PRIVATE &&
						!(o->flags & (MMDS_MAP_CREATE |
							      MMDS_MAP_TRUNCATE))))
				return -ERANGE;
			err = grow_file(m->fd, fsz, file_end(m, end));
			if (err)
				return err;
			atomic_store(&m->dir_dirty, true);
		}
	}

	m->capacity = o->capacity ? o->capacity : size;
	if (!o->capacity && m->capacity < MMDS_MAP_DEFAULT_CAPACITY)
		m->capacity = MMDS_MAP_DEFAULT_CAPACITY;

	m->prot = PROT_READ | ((m->access & MMDS_WRITE) ? PROT_WRITE : 0);
	if (m->anonymous && (o->flags & MMDS_MAP_PRIVATE))
		base_flags = MAP_PRIVATE | MAP_ANONYMOUS;
	else if (o->flags & MMDS_MAP_PRIVATE)
		base_flags = MAP_PRIVATE;
	else
		base_flags = MAP_SHARED;
	if (o->flags & MMDS_MAP_NORESERVE)
		base_flags |= MAP_NORESERVE;
#if defined(MAP_SYNC) && defined(MAP_SHARED_VALIDATE)
	if (o->flags & MMDS_MAP_SYNC)
		base_flags = (base_flags & ~MAP_SHARED) | MAP_SHARED_VALIDATE |
			     MAP_SYNC;
#else
	if (o->flags & MMDS_MAP_SYNC)
		return -ENOTSUP;
#endif
#ifdef MAP_NOCACHE
	if (o->flags & MMDS_MAP_NOCACHE)
		base_flags |= MAP_NOCACHE;
#endif

	/* The best pages first, then fall back as far as the caller lets. */
	if (hugetlbfs)
		kind = MMDS_HUGE_KIND_HUGETLB;
	else if (o->huge == MMDS_HUGE_NONE)
		kind = MMDS_HUGE_KIND_NONE;
	else
		kind = m->anonymous ? MMDS_HUGE_KIND_HUGETLB : MMDS_HUGE_KIND_THP;
	for (;;) {
		m->mflags = base_flags;
		err = place(m, o, size, kind, &own_fd);
		if (err == 0)
			break;
		unplace(m, own_fd);
		if (kind == MMDS_HUGE_KIND_NONE || hugetlbfs ||
		    (o->huge == MMDS_HUGE_STRICT && kind == MMDS_HUGE_KIND_THP))
			return err;
		kind--;
	}
	atomic_store_explicit(&m->size, size, memory_order_release);
	m->guard_slot = mmds__guard_register(m->resv, m->resv_len);
	if (m->guard_slot < 0)
		return (int)m->guard_slot;
	return mmds__flush_open(m, &o->flush);
}

static int map_new(mmds_map **out, const mmds_map_opts **o, unsigned *access)
{
	mmds_map *m;
	int err;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (*o == NULL)
		*o = &default_opts;
	err = check_opts(*o, access);
	if (err)
		return err;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	err = mmds__guard_init();
	if (err) {
		free(m);
		return err;
	}
	m->fd = -1;
	m->guard_slot = -1;
	m->access = *access;
	atomic_init(&m->flags, (*o)->flags);
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

/* Free a map whose open failed, keeping the open's error. */
static int map_abort(mmds_map **out, int err)
{
	mmds_map *m = *out;

	*out = NULL;
	atomic_fetch_and(&m->flags, ~(unsigned)MMDS_MAP_UNLINK);
	mmds_map_close(m);
	return err;
}

/* The name a chain of symbolic links at path ends in: path itself unless
 * its last component is a link; a relative link target counts from the
 * link's directory, as for open(2).  malloc'd, or NULL with errno set
 * (ELOOP after 40 links). */
static char *link_end(const char *path)
{
	char *cur = strdup(path);

	for (int hops = 0; cur != NULL; hops++) {
		char buf[PATH_MAX], *next;
		const char *slash;
		struct stat st;
		ssize_t n;

		if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
			return cur; /* missing, or not a link: the end */
		if (hops == 40) {
			free(cur);
			errno = ELOOP;
			return NULL;
		}
		n = readlink(cur, buf, sizeof(buf) - 1);
		if (n < 0 || n == (ssize_t)sizeof(buf) - 1) {
			int e = n < 0 ? errno : ENAMETOOLONG;

			free(cur);
			errno = e;
			return NULL;
		}
		buf[n] = '\0';
		slash = strrchr(cur, '/');
		if (buf[0] == '/' || slash == NULL)
			next = strdup(buf);
		else if (asprintf(&next, "%.*s/%s", (int)(slash - cur), cur,
				  buf) < 0)
			next = NULL;
		free(cur);
		cur = next;
	}
	errno = ENOMEM;
	return NULL;
}

/* Open path for mmds_map_open().  *made is set to the name of the file
 * this call created (path, or the file a dangling link at path names), so
 * that a failed open can remove it; NULL if it created nothing. */
static int open_path(const char *path, unsigned flags, int oflags, mode_t mode,
		     char **made)
{
	*made = NULL;
	if (flags & MMDS_MAP_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	if (!(flags & MMDS_MAP_CREATE))
		return open(path, oflags);
	/* O_EXCL first, so we know whether we created the file; a plain open
	 * if it already exists.  Retry if it vanishes in between. */
	for (int tries = 0; tries < 16; tries++) {
		char *end;
		int fd = open(path, oflags | O_CREAT | O_EXCL, mode);
		struct stat st;

		if (fd >= 0) {
			*made = strdup(path);
			if (*made == NULL) {
				unlink(path);
				close(fd);
				errno = ENOMEM;
				return -1;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -1;
		if (flags & MMDS_MAP_EXCL) {
			/* O_EXCL says EEXIST for any link: NOFOLLOW's
			 * answer for a link is ELOOP. */
			if ((flags & MMDS_MAP_NOFOLLOW) && lstat(path, &st) == 0 &&
			    S_ISLNK(st.st_mode))
				errno = ELOOP;
			return -1;
		}
		fd = open(path, oflags);
		if (fd >= 0 || errno != ENOENT)
			return fd; /* with NOFOLLOW, a link is ELOOP here */
		/* EEXIST, then ENOENT: the file vanished in between, or path
		 * is a dangling link.  Create what the link names, as open(2)
		 * would, but with O_EXCL, so we know we made it. */
		end = link_end(path);
		if (end == NULL)
			return -1;
		if (strcmp(end, path) == 0) {
			free(end);
			continue;
		}
		fd = open(end, oflags | O_CREAT | O_EXCL, mode);
		if (fd >= 0) {
			*made = end;
			return fd;
		}
		free(end);
		if (errno != EEXIST)
			return -1;
	}
	errno = EAGAIN;
	return -1;
}

int mmds_map_open(mmds_map **out, const char *path, const mmds_map_opts *opts)
{
	unsigned access;
	mmds_map *m;
	bool created, want_write;
	char *made;
	int oflags = O_CLOEXEC, err;

	if (path == NULL) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	err = map_new(out, &opts, &access);
	if (err)
		return err;
	m = *out;

	/* A private map never writes the file, so it reads it read-only
	 * unless it must create, truncate or extend it. */
	want_write = (opts->flags & (MMDS_MAP_CREATE | MMDS_MAP_TRUNCATE)) ||
		     ((access & MMDS_WRITE) && !(opts->flags & MMDS_MAP_PRIVATE));
	oflags |= want_write ? O_RDWR : O_RDONLY;
	if (opts->flags & MMDS_MAP_TRUNCATE)
		oflags |= O_TRUNC;
	m->fd = open_path(path, opts->flags, oflags,
			  opts->mode ? (mode_t)opts->mode : 0600, &made);
	if (m->fd < 0)
		return map_abort(out, neg_errno());
	m->fd_writable = want_write;
	created = made != NULL;
	m->path = strdup(path);
	if (m->path == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	/* The directory entry a durable sync makes durable is the created
	 * file's, which is not path's when path is a link. */
	m->entry_path = made ? made : strdup(path);
	made = NULL;
	if (m->entry_path == NULL) {
		err = -ENOMEM;
		goto fail;
	}
	if (created || (opts->flags & MMDS_MAP_TRUNCATE))
		atomic_store(&m->dir_dirty, true);
	err = map_setup(m, opts);
	if (err == 0)
		return 0;
fail:
	if (created)
		unlink(made ? made : m->entry_path);
	free(made);
	return map_abort(out, err);
}

int mmds_map_open_fd(mmds_map **out, int fd, const mmds_map_opts *opts)
{
	unsigned access;
	mmds_map *m;
	int fl, err;

	err = map_new(out, &opts, &access);
	if (err)
		return err;
	m = *out;
	if (opts->flags & (MMDS_MAP_CREATE | MMDS_MAP_EXCL | MMDS_MAP_UNLINK |
			   MMDS_MAP_NOFOLLOW))
		return map_abort(out, -EINVAL);
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return map_abort(out, neg_errno());
	fl &= O_ACCMODE;
	if (fl == O_WRONLY)
		return map_abort(out, -EACCES);
	if ((access & MMDS_WRITE) && !(opts->flags & MMDS_MAP_PRIVATE) &&
	    fl != O_RDWR)
		return map_abort(out, -EACCES);
	if ((opts->flags & MMDS_MAP_TRUNCATE) && fl != O_RDWR)
		return map_abort(out, -EACCES);
	m->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (m->fd < 0)
		return map_abort(out, neg_errno());
	m->fd_writable = fl == O_RDWR;
	if ((opts->flags & MMDS_MAP_TRUNCATE) && ftruncate(m->fd, 0) != 0)
		return map_abort(out, neg_errno());
	err = map_setup(m, opts);
	if (err)
		return map_abort(out, err);
	return 0;
}

int mmds_map_open_anon(mmds_map **out, const mmds_map_opts *opts)
{
	unsigned access;
	mmds_map *m;
	int err;

	if (opts == NULL) {
		if (out)
			*out = NULL;
		return -EINVAL;
	}
	err = map_new(out, &opts, &access);
	if (err)
		return err;
	m = *out;
	if ((opts->flags & (MMDS_MAP_CREATE | MMDS_MAP_EXCL | MMDS_MAP_TRUNCATE |
			    MMDS_MAP_UNLINK | MMDS_MAP_SYNC |
			    MMDS_MAP_NOFOLLOW)) ||
	    opts->offset != 0)
		return map_abort(out, -EINVAL);
	m->anonymous = true;
	err = map_setup(m, opts);
	if (err)
		return map_abort(out, err);
	return 0;
}

int mmds_map_close(mmds_map *m)
{
	int err = 0;

	if (m == NULL)
		return 0;
	if (m->guard_slot >= 0)
		err = mmds__flush_close(m);
	mmds__guard_unregister(m->guard_slot);
	if (m->resv && munmap(m->resv, m->resv_len) != 0 && err == 0)
		err = neg_errno();
	if (m->fd >= 0 && close(m->fd) != 0 && err == 0)
		err = neg_errno();
	if ((atomic_load(&m->flags) & MMDS_MAP_UNLINK) && m->path &&
	    unlink(m->path) != 0 && err == 0)
		err = neg_errno();
	pthread_mutex_destroy(&m->lock);
	free(m->path);
	free(m->entry_path);
	free(m);
	return err;
}

/* ---- access ---------------------------------------------------------------- */

int mmds_map_read(const mmds_map *m, uint64_t off, void *buf, size_t len)
{
	struct mmds__guard g;

	if (m == NULL || (buf == NULL && len))
		return -EINVAL;
	if (!(m->access & MMDS_READ))
		return -EACCES;
	if (!in_range(off, len, load_size(m)))
		return -ERANGE;
	if (len == 0)
		return 0;
	mmds__guard_push(&g);
	if (sigsetjmp(g.env, 0))
		return mmds__guard_error(&g);
	copy(buf, m->base + off, len);
	mmds__guard_pop(&g);
	return 0;
}

int mmds_map_write(mmds_map *m, uint64_t off, const void *buf, size_t len)
{
	struct mmds__guard g;

	if (m == NULL || (buf == NULL && len))
		return -EINVAL;
	if (!(m->access & MMDS_WRITE))
		return -EACCES;
	if (!in_range(off, len, load_size(m)))
		return -ERANGE;
	if (len == 0)
		return 0;
	mmds__guard_push(&g);
	if (sigsetjmp(g.env, 0))
		return mmds__guard_error(&g);
	copy(m->base + off, buf, len);
	mmds__guard_pop(&g);
	mmds__flush_note(m, off, len);
	return 0;
}

/* Copy the buffers back to back to dst, under the guard. */
static int gather(unsigned char *dst, const struct iovec *iov, int iovcnt)
{
	struct mmds__guard g;

	mmds__guard_push(&g);
	if (sigsetjmp(g.env, 0))
		return mmds__guard_error(&g);
	for (size_t i = 0, at = 0; i < (size_t)iovcnt; i++) {
		if (iov[i].iov_len == 0)
			continue;
		memcpy(dst + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	mmds__guard_pop(&g);
	return 0;
}

int mmds_map_writev(mmds_map *m, uint64_t off, const struct iovec *iov,
		    int iovcnt)
{
	uint64_t total = 0;
	int err;

	if (m == NULL || iovcnt < 0 || (iov == NULL && iovcnt > 0))
		return -EINVAL;
	if (!(m->access & MMDS_WRITE))
		return -EACCES;
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_base == NULL && iov[i].iov_len)
			return -EINVAL;
		if (iov[i].iov_len > UINT64_MAX - total)
			return -ERANGE;
		total += iov[i].iov_len;
	}
	if (!in_range(off, total, load_size(m)))
		return -ERANGE;
	err = gather(m->base + off, iov, iovcnt);
	if (err)
		return err;
	mmds__flush_note(m, off, total);
	return 0;
}

void *mmds_map_data(const mmds_map *m)
{
	return m ? m->base : NULL;
}

void *mmds_map_ptr(const mmds_map *m, uint64_t off, uint64_t len)
{
	if (m == NULL || !in_range(off, len, load_size(m)))
		return NULL;
	return m->base + off;
}

uint64_t mmds_map_size(const mmds_map *m)
{
	return m ? load_size(m) : 0;
}

int mmds_map_fd(const mmds_map *m)
{
	return m ? m->fd : -1;
}

/* ---- cursor ---------------------------------------------------------------- */

int mmds_cursor_init(mmds_cursor *c, mmds_map *m)
{
	if (c == NULL || m == NULL)
		return -EINVAL;
	c->map = m;
	c->pos = 0;
	return 0;
}

/* memcpy under the guard, for callers with live state across it. */
static int copy_out(void *dst, const void *src, size_t n)
{
	struct mmds__guard g;

	mmds__guard_push(&g);
	if (sigsetjmp(g.env, 0))
		return mmds__guard_error(&g);
	copy(dst, src, n);
	mmds__guard_pop(&g);
	return 0;
}

ssize_t mmds_cursor_read(mmds_cursor *c, void *buf, size_t n)
{
	uint64_t size, avail;
	int err;

	if (c == NULL || c->map == NULL || (buf == NULL && n))
		return -EINVAL;
	if (!(c->map->access & MMDS_READ))
		return -EACCES;
	size = load_size(c->map);
	avail = c->pos < size ? size - c->pos : 0;
	if (n > SSIZE_MAX)
		n = SSIZE_MAX;
	if (n > avail)
		n = (size_t)avail;
	if (n == 0)
		return 0;
	err = copy_out(buf, c->map->base + c->pos, n);
	if (err)
		return err;
	c->pos += n;
	return (ssize_t)n;
}

ssize_t mmds_cursor_write(mmds_cursor *c, const void *buf, size_t n)
{
	int err;

	if (c == NULL || n > SSIZE_MAX)
		return -EINVAL;
	err = mmds_map_write(c->map, c->pos, buf, n);
	if (err)
		return err;
	c->pos += n;
	return (ssize_t)n;
}

ssize_t mmds_cursor_read_line(mmds_cursor *c, char *buf, size_t cap)
{
	struct mmds__guard g;
	uint64_t size, avail;
	size_t scan, len;
	const char *start, *nl;

	if (c == NULL || c->map == NULL || buf == NULL || cap == 0)
		return -EINVAL;
	if (!(c->map->access & MMDS_READ))
		return -EACCES;
	size = load_size(c->map);
	avail = c->pos < size ? size - c->pos : 0;
	if (avail == 0) {
		buf[0] = '\0';
		return 0;
	}
	/* Look no further than the buffer could hold. */
	scan = avail < cap ? (size_t)avail : cap;
	if (scan > SSIZE_MAX)
		scan = SSIZE_MAX;
	start = (const char *)c->map->base + c->pos;
	mmds__guard_push(&g);
	if (sigsetjmp(g.env, 0))
		return mmds__guard_error(&g);
	nl = memchr(start, '\n', scan);
	len = nl ? (size_t)(nl - start) + 1 : scan;
	if ((!nl && len < avail) || len >= cap) {
		/* The line goes on past what fits, or leaves no room for the
		 * NUL. */
		mmds__guard_pop(&g);
		return -ENOBUFS;
	}
	memcpy(buf, start, len);
	mmds__guard_pop(&g);
	buf[len] = '\0';
	c->pos += len;
	return (ssize_t)len;
}

int64_t mmds_cursor_seek(mmds_cursor *c, int64_t off, int whence)
{
	uint64_t size, from;
	int64_t pos;

	if (c == NULL || c->map == NULL)
		return -EINVAL;
	size = load_size(c->map);
	switch (whence) {
	case SEEK_SET:
		from = 0;
		break;
	case SEEK_CUR:
		from = c->pos;
		break;
	case SEEK_END:
		from = size;
		break;
	default:
		return -EINVAL;
	}
	if (from > INT64_MAX)
		return -ERANGE;
	if (off > 0 && (int64_t)from > INT64_MAX - off)
		return -ERANGE;
	pos = (int64_t)from + off;
	if (pos < 0)
		return -EINVAL;
	if ((uint64_t)pos > size)
		return -ERANGE;
	c->pos = (uint64_t)pos;
	return pos;
}

uint64_t mmds_cursor_tell(const mmds_cursor *c)
{
	return c ? c->pos : 0;
}

/* ---- atomics --------------------------------------------------------------- */

/* The word at off, or NULL with *err set. */
static void *atomic_word(const mmds_map *m, uint64_t off, size_t width,
			 unsigned need, int *err)
{
	unsigned char *p;

	if (m == NULL) {
		*err = -EINVAL;
		return NULL;
	}
	if ((m->access & need) != need) {
		*err = -EACCES;
		return NULL;
	}
	if (!in_range(off, width, load_size(m))) {
		*err = -ERANGE;
		return NULL;
	}
	p = m->base + off;
	if ((uintptr_t)p & (width - 1)) {
		*err = -EINVAL;
		return NULL;
	}
	return p;
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

#define MMDS_DEFINE_ATOMICS(bits)                                              \
	int mmds_map_load##bits(const mmds_map *m, uint64_t off,               \
				uint##bits##_t *val)                           \
	{                                                                      \
		int err = 0;                                                   \
		_Atomic uint##bits##_t *p;                                     \
		if (val == NULL)                                               \
			return -EINVAL;                                        \
		p = atomic_word(m, off, bits / 8, MMDS_READ, &err);            \
		if (p == NULL)                                                 \
			return err;                                            \
		GUARDED(*val = atomic_load(p));                                \
		return 0;                                                      \
	}                                                                      \
	int mmds_map_store##bits(mmds_map *m, uint64_t off, uint##bits##_t v)  \
	{                                                                      \
		int err = 0;                                                   \
		_Atomic uint##bits##_t *p =                                    \
			atomic_word(m, off, bits / 8, MMDS_WRITE, &err);       \
		if (p == NULL)                                                 \
			return err;                                            \
		GUARDED(atomic_store(p, v));                                   \
		mmds__flush_note(m, off, bits / 8);                            \
		return 0;                                                      \
	}                                                                      \
	int mmds_map_cas##bits(mmds_map *m, uint64_t off,                      \
			       uint##bits##_t *expected, uint##bits##_t want)  \
	{                                                                      \
		int err = 0, swapped;                                          \
		_Atomic uint##bits##_t *p;                                     \
		if (expected == NULL)                                          \
			return -EINVAL;                                        \
		p = atomic_word(m, off, bits / 8, MMDS_RDWR, &err);            \
		if (p == NULL)                                                 \
			return err;                                            \
		GUARDED(swapped = atomic_compare_exchange_strong(p, expected,  \
								 want));       \
		if (swapped)                                                   \
			mmds__flush_note(m, off, bits / 8);                    \
		return swapped;                                                \
	}

#define MMDS_DEFINE_RMW(name, op, bits)                                        \
	int mmds_map_##name##bits(mmds_map *m, uint64_t off, uint##bits##_t v, \
				  uint##bits##_t *old)                         \
	{                                                                      \
		int err = 0;                                                   \
		uint##bits##_t prev;                                           \
		_Atomic uint##bits##_t *p =                                    \
			atomic_word(m, off, bits / 8, MMDS_RDWR, &err);        \
		if (p == NULL)                                                 \
			return err;                                            \
		GUARDED(prev = op(p, v));                                      \
		mmds__flush_note(m, off, bits / 8);                            \
		if (old)                                                       \
			*old = prev;                                           \
		return 0;                                                      \
	}

#define MMDS_DEFINE_ALL_RMW(bits)                                              \
	MMDS_DEFINE_RMW(add, atomic_fetch_add, bits)                           \
	MMDS_DEFINE_RMW(sub, atomic_fetch_sub, bits)                           \
	MMDS_DEFINE_RMW(and, atomic_fetch_and, bits)                           \
	MMDS_DEFINE_RMW(or, atomic_fetch_or, bits)                             \
	MMDS_DEFINE_RMW(xor, atomic_fetch_xor, bits)                           \
	MMDS_DEFINE_RMW(xchg, atomic_exchange, bits)

MMDS_DEFINE_ATOMICS(64)
MMDS_DEFINE_ATOMICS(32)
MMDS_DEFINE_ALL_RMW(64)
MMDS_DEFINE_ALL_RMW(32)

/* ---- resize ---------------------------------------------------------------- */

static int file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return neg_errno();
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Change the backed range to cover new_size; the file is already right. */
static int set_backed(mmds_map *m, uint64_t old_size, uint64_t new_size)
{
	size_t want = (size_t)round_up(m->delta + new_size, m->granule);
	int err;

	if (new_size >= old_size) {
		err = back_range(m, m->mapped, want);
		if (err)
			return err;
		if (want > m->mapped)
			m->mapped = want;
		atomic_store_explicit(&m->size, new_size, memory_order_release);
		return 0;
	}
	atomic_store_explicit(&m->size, new_size, memory_order_release);
	err = unback_range(m, want, m->mapped);
	if (err == 0 && want < m->mapped)
		m->mapped = want;
	return err;
}

static int resize_locked(mmds_map *m, uint64_t new_size)
{
	uint64_t old_size = load_size(m), end, fsz = 0;
	bool priv = atomic_load(&m->flags) & MMDS_MAP_PRIVATE;
	int err;

	if (new_size > m->capacity)
		return -EFBIG;
	if (m->fd < 0) /* private anonymous memory */
		return set_backed(m, old_size, new_size);
	end = m->offset + new_size;
	err = file_size(m->fd, &fsz);
	if (err)
		return err;
	if (new_size > old_size) {
		if (end > fsz) {
			if (priv || !m->fd_writable)
				return -ERANGE;
			err = grow_file(m->fd, fsz, file_end(m, end));
			if (err)
				return err;
			atomic_store(&m->dir_dirty, true);
		}
		err = set_backed(m, old_size, new_size);
		if (err && end > fsz && ftruncate(m->fd, (off_t)fsz) != 0) {
			/* keep the first error */
		}
		return err;
	}
	if (new_size == old_size)
		return 0;
	/* Shrink: readers stop at the new size first, then the file is cut
	 * (only if this map reached its end), then the pages go. */
	atomic_store_explicit(&m->size, new_size, memory_order_release);
	if (!priv && m->fd_writable && m->offset + old_size >= fsz &&
	    fsz > file_end(m, end)) {
		if (ftruncate(m->fd, (off_t)file_end(m, end)) != 0) {
			err = neg_errno();
			atomic_store_explicit(&m->size, old_size,
					      memory_order_release);
			return err;
		}
		atomic_store(&m->dir_dirty, true);
	}
	return set_backed(m, old_size, new_size);
}

int mmds_map_resize(mmds_map *m, uint64_t new_size)
{
	int err;

	if (m == NULL)
		return -EINVAL;
	if (!(m->access & MMDS_WRITE))
		return -EACCES;
	pthread_mutex_lock(&m->lock);
	err = resize_locked(m, new_size);
	pthread_mutex_unlock(&m->lock);
	return err;
}

int64_t mmds_map_refresh(mmds_map *m)
{
	uint64_t fsz = 0, size = 0;
	int err;

	if (m == NULL)
		return -EINVAL;
	if (m->fd < 0)
		return (int64_t)load_size(m);
	pthread_mutex_lock(&m->lock);
	err = file_size(m->fd, &fsz);
	if (err == 0) {
		size = fsz > m->offset ? fsz - m->offset : 0;
		if (size > m->capacity)
			size = m->capacity;
		err = set_backed(m, load_size(m), size);
	}
	pthread_mutex_unlock(&m->lock);
	return err ? err : (int64_t)size;
}

/* ---- sync ------------------------------------------------------------------ */

/* Resolve a range argument (len 0 = to the end) against the current size
 * into page-aligned bounds relative to resv. */
static int page_range(const mmds_map *m, uint64_t off, uint64_t len,
		      size_t *start, size_t *end)
{
	uint64_t size = load_size(m);
	size_t ps = m->granule;

	if (len == 0) {
		if (off > size)
			return -ERANGE;
		len = size - off;
	}
	if (!in_range(off, len, size))
		return -ERANGE;
	*start = (size_t)((m->delta + off) & ~(uint64_t)(ps - 1));
	*end = (size_t)round_up(m->delta + off + len, ps);
	return 0;
}

static int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int fd, err = 0;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return neg_errno();
	if (fsync(fd) != 0 && errno != EINVAL)
		err = neg_errno();
	close(fd);
	return err;
}

int mmds_map_sync_range(mmds_map *m, uint64_t off, uint64_t len,
			enum mmds_sync_level level)
{
	size_t start, end;
	int err;

	if (m == NULL || (level != MMDS_SYNC_ASYNC && level != MMDS_SYNC_SYNC &&
			  level != MMDS_SYNC_DURABLE))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	err = page_range(m, off, len, &start, &end);
	if (err || m->anonymous || (atomic_load(&m->flags) & MMDS_MAP_PRIVATE) ||
	    end <= start)
		goto out;
	mmds__flush_presync(m);
	if (msync(m->resv + start, end - start,
		  level == MMDS_SYNC_ASYNC ? MS_ASYNC : MS_SYNC) != 0) {
		err = neg_errno();
		goto out;
	}
#ifdef HAVE_SYNC_FILE_RANGE
	/* Linux's MS_ASYNC only marks pages dirty, which they already are:
	 * start the write-back for real, without waiting for it. */
	if (level == MMDS_SYNC_ASYNC &&
	    sync_file_range(m->fd, (off_t)(m->offset - m->delta + start),
			    (off_t)(end - start), SYNC_FILE_RANGE_WRITE) != 0 &&
	    errno != ESPIPE && errno != EINVAL) {
		err = neg_errno();
		goto out;
	}
#endif
	if (level == MMDS_SYNC_DURABLE) {
		if (fdatasync(m->fd) != 0) {
			err = neg_errno();
			goto out;
		}
		if (m->entry_path && atomic_exchange(&m->dir_dirty, false)) {
			err = fsync_parent(m->entry_path);
			/* A directory that is gone holds no entry to make
			 * durable: that is no reason to fail every later sync. */
			if (err == -ENOENT || err == -ENOTDIR)
				err = 0;
			if (err) {
				atomic_store(&m->dir_dirty, true);
				goto out;
			}
		}
	}
	mmds__flush_synced(m, off, len ? len : load_size(m) - off, (int)level);
out:
	pthread_mutex_unlock(&m->lock);
	return err;
}

int mmds_map_sync(mmds_map *m, enum mmds_sync_level level)
{
	return mmds_map_sync_range(m, 0, 0, level);
}

/* ---- advice ---------------------------------------------------------------- */

int mmds_map_advise(mmds_map *m, uint64_t off, uint64_t len,
		    enum mmds_advice advice)
{
	size_t start, end, ps = m ? m->granule : 0;
	int adv, err;

	if (m == NULL)
		return -EINVAL;
	switch (advice) {
	case MMDS_ADV_NORMAL:
		adv = MADV_NORMAL;
		break;
	case MMDS_ADV_RANDOM:
		adv = MADV_RANDOM;
		break;
	case MMDS_ADV_SEQUENTIAL:
		adv = MADV_SEQUENTIAL;
		break;
	case MMDS_ADV_WILLNEED:
		adv = MADV_WILLNEED;
		break;
	case MMDS_ADV_DONTNEED:
		adv = MADV_DONTNEED;
		break;
	case MMDS_ADV_HUGEPAGE:
#ifdef MADV_HUGEPAGE
		adv = MADV_HUGEPAGE;
		break;
#else
		return -ENOTSUP;
#endif
	case MMDS_ADV_NOHUGEPAGE:
#ifdef MADV_NOHUGEPAGE
		adv = MADV_NOHUGEPAGE;
		break;
#else
		return -ENOTSUP;
#endif
	default:
		return -EINVAL;
	}
	err = page_range(m, off, len, &start, &end);
	if (err)
		return err;
	if (advice == MMDS_ADV_DONTNEED) {
		/* Round in: never drop a byte outside the range. */
		start = (size_t)round_up(m->delta + off, ps);
		end = (size_t)((m->delta + off + (len ? len : load_size(m) - off)) &
			       ~(uint64_t)(ps - 1));
	}
	if (end <= start)
		return 0;
	if (madvise(m->resv + start, end - start, adv) != 0) {
		if (errno == EINVAL && (advice == MMDS_ADV_HUGEPAGE ||
					advice == MMDS_ADV_NOHUGEPAGE))
			return -ENOTSUP;
		return neg_errno();
	}
	return 0;
}

int mmds_map_prefetch(mmds_map *m, uint64_t off, uint64_t len)
{
	size_t start, end;
	int err;

	if (m == NULL)
		return -EINVAL;
	err = page_range(m, off, len, &start, &end);
	if (err || end <= start)
		return err;
#ifdef HAVE_POSIX_FADVISE
	if (m->fd >= 0 && !m->anonymous) {
		err = posix_fadvise(m->fd, (off_t)(m->offset - m->delta + start),
				    (off_t)(end - start), POSIX_FADV_WILLNEED);
		return -err;
	}
#endif
	if (madvise(m->resv + start, end - start, MADV_WILLNEED) != 0)
		return neg_errno();
	return 0;
}

/* Fault pages in by hand: a read per page, or an atomic no-op write.  Not
 * inlined: its loop must not share a frame with the guard's sigsetjmp. */
__attribute__((noinline)) static void touch_by_hand(mmds_map *m, size_t start,
						   size_t end, bool write)
{
	size_t ps = mmds__page_size();

	for (size_t p = start; p < end; p += ps) {
		/* The first page of a window may begin before the map. */
		size_t at = p < m->delta ? m->delta : p;
		unsigned char *b = m->resv + at;

		if (write)
			__atomic_fetch_add(b, 0, __ATOMIC_RELAXED);
		else
			(void)*(volatile unsigned char *)b;
	}
}

int mmds_map_touch(mmds_map *m, uint64_t off, uint64_t len)
{
	size_t start, end;
	bool write;
	int err;

	if (m == NULL)
		return -EINVAL;
	err = page_range(m, off, len, &start, &end);
	if (err || end <= start)
		return err;
	write = m->access & MMDS_WRITE;
#if defined(MADV_POPULATE_READ) && defined(MADV_POPULATE_WRITE)
	if (madvise(m->resv + start, end - start,
		    write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
		return 0;
	if (errno != EINVAL)
		return neg_errno();
#endif
	GUARDED(touch_by_hand(m, start, end, write));
	return 0;
}

/* mlock() or munlock() a range of the map. */
static int lock_range(mmds_map *m, uint64_t off, uint64_t len, bool lock)
{
	size_t start, end;
	int err;

	if (m == NULL)
		return -EINVAL;
	err = page_range(m, off, len, &start, &end);
	if (err || end <= start)
		return err;
	if ((lock ? mlock : munlock)(m->resv + start, end - start) != 0)
		return neg_errno();
	return 0;
}

int mmds_map_lock(mmds_map *m, uint64_t off, uint64_t len)
{
	return lock_range(m, off, len, true);
}

int mmds_map_unlock(mmds_map *m, uint64_t off, uint64_t len)
{
	return lock_range(m, off, len, false);
}

int mmds_map_lock_all(mmds_map *m)
{
	int err = 0;

	if (m == NULL)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (m->mapped && mlock(m->resv, m->mapped) != 0)
		err = neg_errno();
	else
		atomic_fetch_or(&m->flags, (unsigned)MMDS_MAP_LOCK);
	pthread_mutex_unlock(&m->lock);
	return err;
}

int mmds_map_unlock_all(mmds_map *m)
{
	int err = 0;

	if (m == NULL)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	atomic_fetch_and(&m->flags, ~(unsigned)MMDS_MAP_LOCK);
	if (m->mapped && munlock(m->resv, m->mapped) != 0)
		err = neg_errno();
	pthread_mutex_unlock(&m->lock);
	return err;
}

/* ---- info ------------------------------------------------------------------ */

int mmds_map_get_info(const mmds_map *m, mmds_map_info *info)
{
	if (m == NULL || info == NULL)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->size = load_size(m);
	info->capacity = m->capacity;
	info->offset = m->offset;
	info->path = m->path;
	info->data = m->base;
	info->fd = m->fd;
	info->access = m->access;
	info->flags = atomic_load(&((mmds_map *)m)->flags);
	info->anonymous = m->anonymous;
	return 0;
}
