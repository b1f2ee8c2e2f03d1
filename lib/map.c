/* map.c - open, close, resize, refresh and info of a map; background work
 * attached to it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
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
	 MMDS_MAP_FIXED | MMDS_MAP_UNLINK | MMDS_MAP_NOFOLLOW |        \
	 MMDS_MAP_OPEN_OR_CREATE)

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

static const mmds_map_opts default_opts;

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
	if ((o->flags & MMDS_MAP_OPEN_OR_CREATE) &&
	    (o->flags & (MMDS_MAP_EXCL | MMDS_MAP_TRUNCATE)))
		return -EINVAL;
	if (a == MMDS_READ &&
	    (o->flags & (MMDS_MAP_CREATE | MMDS_MAP_TRUNCATE |
			 MMDS_MAP_OPEN_OR_CREATE)))
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
	/* macOS's MAP_NOCACHE: mmds builds only on Linux, which has none. */
	if (o->flags & MMDS_MAP_NOCACHE)
		return -ENOTSUP;
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
	if (pthread_mutex_init(&m->bg_lock, NULL) != 0) {
		pthread_mutex_destroy(&m->lock);
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

char *mmds__parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* fd was just created under path by this open: remember the name (the
 * open removes it again if it fails later); -1 and ENOMEM if it cannot. */
static int created(int fd, const char *path, char **made)
{
	*made = strdup(path);
	if (*made == NULL) {
		unlink(path);
		close(fd);
		errno = ENOMEM;
		return -1;
	}
	return fd;
}

/* For OPEN_OR_CREATE: make the file, at its full size (end bytes), with no
 * name (O_TMPFILE), then link it in at path.  Whoever finds the name then
 * finds the whole file: a racing opener never maps the empty file before
 * its creator grew it, which it would map whole since the size is only for
 * a new file.  The fd, or -1 with errno set: EEXIST when path exists
 * (nothing was made), ENOTSUP when the file system cannot do it this way
 * (no O_TMPFILE, or HugeTLB pages that grow_file() cannot size). */
static int create_linked(const char *path, int oflags, mode_t mode,
			 uint64_t end)
{
	char *dir = mmds__parent_dir(path), proc[64];
	int fd, err;

	if (dir == NULL) {
		errno = ENOMEM;
		return -1;
	}
#ifdef O_TMPFILE
	fd = open(dir, (oflags & ~(O_ACCMODE | O_NOFOLLOW)) | O_TMPFILE | O_RDWR,
		  mode);
#else
	fd = -1;
	errno = ENOTSUP;
#endif
	err = errno;
	free(dir);
	if (fd < 0) {
		/* EISDIR: a kernel without O_TMPFILE; EOPNOTSUPP: a file
		 * system without it.  The name-first path still works. */
		errno = err == EISDIR || err == EOPNOTSUPP || err == EINVAL
				? ENOTSUP
				: err;
		return -1;
	}
	if (mmds__hugetlbfs_page_size(fd)) {
		close(fd);
		errno = ENOTSUP;
		return -1;
	}
	if (end && (err = grow_file(fd, 0, end)) != 0) {
		close(fd);
		errno = -err;
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* Open path for mmds_map_open().  *made is set to the name of the file
 * this call created (path, or the file a dangling link at path names), so
 * that a failed open can remove it; NULL if it created nothing.  size_end
 * is the size an OPEN_OR_CREATE file is made with. */
static int open_path(const char *path, unsigned flags, int oflags, mode_t mode,
		     uint64_t size_end, char **made)
{
	*made = NULL;
	if (flags & MMDS_MAP_NOFOLLOW)
		oflags |= O_NOFOLLOW;
	if (!(flags & MMDS_MAP_CREATE))
		return open(path, oflags);
	/* OPEN_OR_CREATE: open an existing file first, so that one is found
	 * even where nothing could be created (a directory this process may
	 * not write, a full disk); else make the file whole, then link it.
	 * Losing the race to link means it exists now: open it.  A dangling
	 * link (ENOENT, then EEXIST), and file systems without O_TMPFILE, go
	 * on to the name-first create below. */
	for (int tries = 0; (flags & MMDS_MAP_OPEN_OR_CREATE) && tries < 2;
	     tries++) {
		int fd = open(path, oflags);

		if (fd >= 0 || errno != ENOENT)
			return fd;
		fd = create_linked(path, oflags, mode, size_end);
		if (fd >= 0)
			return created(fd, path, made);
		if (errno == ENOTSUP)
			break;
		if (errno != EEXIST)
			return -1;
	}
	/* O_EXCL first, so we know whether we created the file; a plain open
	 * if it already exists.  Retry if it vanishes in between. */
	for (int tries = 0; tries < 16; tries++) {
		char *end;
		int fd = open(path, oflags | O_CREAT | O_EXCL, mode);
		struct stat st;

		if (fd >= 0)
			return created(fd, path, made);
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
	unsigned access, flags;
	mmds_map *m;
	bool created, want_write;
	mmds_map_opts whole;
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
	flags = opts->flags;
	if (flags & MMDS_MAP_OPEN_OR_CREATE)
		flags |= MMDS_MAP_CREATE;

	/* A private map never writes the file, so it reads it read-only
	 * unless it must create, truncate or extend it. */
	want_write = (flags & (MMDS_MAP_CREATE | MMDS_MAP_TRUNCATE)) ||
		     ((access & MMDS_WRITE) && !(flags & MMDS_MAP_PRIVATE));
	oflags |= want_write ? O_RDWR : O_RDONLY;
	if (flags & MMDS_MAP_TRUNCATE)
		oflags |= O_TRUNC;
	m->fd = open_path(path, flags, oflags,
			  opts->mode ? (mode_t)opts->mode : 0600,
			  opts->offset + opts->size, &made);
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
	if ((opts->flags & MMDS_MAP_OPEN_OR_CREATE) && !created) {
		/* An existing file is mapped whole: the size was for a new
		 * one only. */
		whole = *opts;
		whole.size = 0;
		opts = &whole;
	}
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
			   MMDS_MAP_NOFOLLOW | MMDS_MAP_OPEN_OR_CREATE))
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
			    MMDS_MAP_NOFOLLOW | MMDS_MAP_OPEN_OR_CREATE)) ||
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
	/* Background work first: an asynchronous flush still uses the map. */
	mmds__bg_stop_all(m);
	if (m->guard_slot >= 0)
		err = mmds__flush_close(m);
	mmds__guard_unregister(m->guard_slot);
	if (m->resv && munmap(m->resv, m->resv_len) != 0 && err == 0)
		err = neg_errno();
	/* Before the fd goes: only the file this map holds is removed, not
	 * one another process put under the name since. */
	if ((atomic_load(&m->flags) & MMDS_MAP_UNLINK) && m->path &&
	    m->fd >= 0) {
		int uerr = mmds__unlink_if_same(m->fd, m->path);

		if (err == 0)
			err = uerr;
	}
	if (m->fd >= 0 && close(m->fd) != 0 && err == 0)
		err = neg_errno();
	pthread_mutex_destroy(&m->lock);
	pthread_mutex_destroy(&m->bg_lock);
	free(m->path);
	free(m->entry_path);
	free(m);
	return err;
}

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

/* ---- background work ------------------------------------------------------- */

int mmds__thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int err;

	/* A library's thread must not take signals meant for the program,
	 * which may block them everywhere to read them through sigwait() or
	 * a signalfd; a thread inherits its creator's mask, so block all but
	 * those a fault raises in the thread itself (the SIGBUS guard needs
	 * SIGBUS and SIGSEGV). */
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGTRAP);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

void mmds__bg_add(mmds_map *m, struct mmds__bg *bg)
{
	pthread_mutex_lock(&m->bg_lock);
	bg->next = m->bg;
	m->bg = bg;
	pthread_mutex_unlock(&m->bg_lock);
}

bool mmds__bg_remove(mmds_map *m, struct mmds__bg *bg)
{
	bool found = false;

	pthread_mutex_lock(&m->bg_lock);
	for (struct mmds__bg **p = &m->bg; *p; p = &(*p)->next) {
		if (*p == bg) {
			*p = bg->next;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&m->bg_lock);
	return found;
}

void mmds__bg_stop_all(mmds_map *m)
{
	struct mmds__bg *bg;

	pthread_mutex_lock(&m->bg_lock);
	bg = m->bg;
	m->bg = NULL;
	pthread_mutex_unlock(&m->bg_lock);
	while (bg) {
		struct mmds__bg *next = bg->next;

		bg->stop(bg);
		bg = next;
	}
}
