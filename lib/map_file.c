/* map_file.c - whole-file helpers: copy (reflink, copy_file_range, read and
 * write) and delete while mapped. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "map_internal.h"

/* Copy all of in to out (both at offset 0, out empty): a reflink where the
 * file system can, else copy_file_range(), else read and write.  cancel, if
 * not NULL, is polled between pieces. */
int mmds__copy_fd(int in, int out, const atomic_bool *cancel)
{
	char *tmp = NULL;
	off_t ioff = 0, ooff = 0;
	bool use_cfr = true;

#ifdef FICLONE
	if (ioctl(out, FICLONE, in) == 0)
		return 0;
#endif
	for (;;) {
		ssize_t n;

		if (cancel && atomic_load(cancel)) {
			free(tmp);
			return -ECANCELED;
		}
		if (use_cfr) {
			n = copy_file_range(in, &ioff, out, &ooff, 1 << 20, 0);
			if (n < 0 && (errno == EXDEV || errno == EINVAL ||
				      errno == ENOSYS || errno == EOPNOTSUPP)) {
				use_cfr = false;
				continue;
			}
		} else {
			ssize_t w = 0;

			if (tmp == NULL && (tmp = malloc(1 << 16)) == NULL)
				return -ENOMEM;
			n = pread(in, tmp, 1 << 16, ioff);
			for (ssize_t done = 0; n > 0 && done < n; done += w) {
				w = pwrite(out, tmp + done, (size_t)(n - done),
					   ooff + done);
				if (w < 0)
					break;
			}
			if (n > 0 && w < 0)
				n = -1;
			if (n > 0) {
				ioff += n;
				ooff += n;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			free(tmp);
			return neg_errno();
		}
		if (n == 0)
			break;
	}
	free(tmp);
	return 0;
}

/* Copy the file open at in to dst under a temporary name, then rename (or
 * link, for EXCL) it into place. */
int mmds__copy_to_path(int in, const char *dst, unsigned flags,
		       const atomic_bool *cancel)
{
	struct stat st;
	char *tmp;
	int out, err;

	if (dst == NULL || (flags & ~(unsigned)MMDS_COPY_EXCL))
		return -EINVAL;
	if (fstat(in, &st) != 0)
		return neg_errno();
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if ((flags & MMDS_COPY_EXCL) && access(dst, F_OK) == 0)
		return -EEXIST;
	if (asprintf(&tmp, "%s.mmds-copy.XXXXXX", dst) < 0)
		return -ENOMEM;
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0) {
		err = neg_errno();
		free(tmp);
		return err;
	}
	err = mmds__copy_fd(in, out, cancel);
	if (err == 0 && fchmod(out, st.st_mode & 07777) != 0)
		err = neg_errno();
	if (err == 0 && fsync(out) != 0)
		err = neg_errno();
	if (close(out) != 0 && err == 0)
		err = neg_errno();
	if (err == 0) {
		if (flags & MMDS_COPY_EXCL) {
			/* link() never replaces: EXCL holds even against a
			 * dst made since the check above. */
			if (link(tmp, dst) != 0)
				err = neg_errno();
		} else if (rename(tmp, dst) != 0) {
			err = neg_errno();
		}
	}
	if ((err || (flags & MMDS_COPY_EXCL)) && unlink(tmp) != 0 && err == 0)
		err = neg_errno();
	if (err == 0)
		err = mmds__fsync_parent(dst);
	free(tmp);
	return err;
}

int mmds_file_copy(const char *src, const char *dst, unsigned flags)
{
	int in, err;

	if (src == NULL || dst == NULL || (flags & ~(unsigned)MMDS_COPY_EXCL))
		return -EINVAL;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return neg_errno();
	err = mmds__copy_to_path(in, dst, flags, NULL);
	close(in);
	return err;
}

int mmds_map_copy(const mmds_map *m, const char *dst, unsigned flags)
{
	if (m == NULL || dst == NULL || (flags & ~(unsigned)MMDS_COPY_EXCL))
		return -EINVAL;
	if (m->fd < 0)
		return -EBADF;
	return mmds__copy_to_path(m->fd, dst, flags, NULL);
}

int mmds__unlink_if_same(int fd, const char *name)
{
	struct stat mine, there;

	if (fstat(fd, &mine) != 0)
		return neg_errno();
	/* stat, not lstat: a name that is a link to the file is the name
	 * the map was opened by, and removing it is what was asked. */
	if (stat(name, &there) != 0)
		return neg_errno();
	if (mine.st_dev != there.st_dev || mine.st_ino != there.st_ino)
		return -ENOENT;
	if (unlink(name) != 0)
		return neg_errno();
	return 0;
}

int mmds_map_delete(mmds_map *m)
{
	int err;

	if (m == NULL || m->entry_path == NULL)
		return -EINVAL;
	err = mmds__unlink_if_same(m->fd, m->entry_path);
	if (err)
		return err;
	/* Gone already: close must not remove whatever takes the name. */
	atomic_fetch_and(&m->flags, ~(unsigned)MMDS_MAP_UNLINK);
	err = mmds__fsync_parent(m->entry_path);
	return err == -ENOENT ? 0 : err;
}
