/* map_sync.c - sync, advice, prefetch, touch and memory locking. */
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

int mmds__fsync_parent(const char *path)
{
	char *dir = mmds__parent_dir(path);
	int fd, err = 0;

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
			err = mmds__fsync_parent(m->entry_path);
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

static int touch(mmds_map *m, uint64_t off, uint64_t len, bool write)
{
	size_t start, end;
	int err;

	if (m == NULL)
		return -EINVAL;
	err = page_range(m, off, len, &start, &end);
	if (err || end <= start)
		return err;
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

int mmds_map_touch(mmds_map *m, uint64_t off, uint64_t len)
{
	return touch(m, off, len, m && (m->access & MMDS_WRITE));
}

int mmds_map_touch_read(mmds_map *m, uint64_t off, uint64_t len)
{
	return touch(m, off, len, false);
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
