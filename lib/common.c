/* common.c - the error table and the version functions. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include <mmds/common.h>

struct err_name {
	int code;
	const char *text;
};

/* The meanings documented in include/mmds/common.h come first; the rest are
 * what the system can report through an mmds call. */
static const struct err_name err_table[] = {
	{ EINVAL, "invalid argument" },
	{ ERANGE, "offset or length outside the mapping" },
	{ EACCES, "access not allowed by the open mode or the file's permissions" },
	{ EFAULT, "memory fault during access (file truncated under the mapping?)" },
	{ EBADMSG, "corrupt or foreign file" },
	{ ENOTSUP, "operation not supported here" },
	{ EAGAIN, "nothing to read yet, or no room; try again" },
	{ ETIMEDOUT, "timed out" },
	{ ENOSPC, "no space left on device" },
	{ EFBIG, "size beyond the reserved capacity or the file-size limit" },
	{ ENOENT, "no such file or directory" },
	{ EEXIST, "file or address range already exists" },
	{ ENOMEM, "out of memory or address space" },
	{ EPERM, "operation not permitted" },
	{ EIO, "input/output error" },
	{ EBADF, "bad file descriptor" },
	{ EBUSY, "resource busy" },
	{ ENODEV, "file type does not support mapping" },
	{ ENOTDIR, "a path component is not a directory" },
	{ EISDIR, "is a directory" },
	{ EMFILE, "too many open files in this process" },
	{ ENFILE, "too many open files in the system" },
	{ EROFS, "read-only file system" },
	{ EOVERFLOW, "value too large for the data type" },
	{ ENAMETOOLONG, "file name too long" },
	{ ELOOP, "too many levels of symbolic links" },
	{ ENOBUFS, "buffer too small" },
	{ EMSGSIZE, "message too long" },
	{ EINTR, "interrupted" },
	{ ESRCH, "no such process" },
	{ EOWNERDEAD, "peer died while holding the resource" },
	{ EDQUOT, "disk quota exceeded" },
	{ ETXTBSY, "text file busy" },
	{ ENXIO, "no such device or address" },
	{ ECANCELED, "operation cancelled (its map was closed)" },
	{ EINPROGRESS, "operation still in progress" },
	{ EDEADLK, "would wait for itself (called from its own callback)" },
};

const char *mmds_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err == INT_MIN)
		return "unknown error";
	if (err < 0)
		err = -err;
	if (err == EOPNOTSUPP)
		err = ENOTSUP;
	if (err == EWOULDBLOCK)
		err = EAGAIN;
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == err)
			return err_table[i].text;
	return "unknown error";
}

const char *mmds_version(void)
{
	return MMDS_VERSION_STRING;
}

unsigned mmds_version_number(void)
{
	return MMDS_VERSION_NUMBER;
}
