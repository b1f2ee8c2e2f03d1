/*
 * mmds/common.h - conventions shared by every mmds header.
 *
 * Errors.  Every fallible mmds function returns 0 (or a non-negative count)
 * on success and a negative errno value on failure; errno itself is never the
 * only channel.  The codes mean the same thing in every layer:
 *
 *   -EINVAL     invalid argument (NULL handle, bad flag combination,
 *               misaligned atomic offset, unknown enum value)
 *   -ERANGE     offset/length outside the mapping, or offset + length
 *               overflows
 *   -EACCES     the open mode forbids the operation (write on a read-only
 *               map, read on a write-only map), or the file's permissions
 *   -EFAULT     a memory fault during a guarded access (the file was
 *               truncated under the mapping)
 *   -EBADMSG    corrupt or foreign file
 *   -ENOTSUP    unsupported here (format version, MAP_SYNC on a non-DAX
 *               file, an option this OS lacks)
 *   -EAGAIN     nothing to read yet, ring full or empty
 *   -ETIMEDOUT  a blocking call timed out
 *   -ENOSPC     no space left on the device
 *   -EFBIG      beyond the reserved address space of a map, or the
 *               process's file-size limit
 *   -ENOENT, -EEXIST, -ENOMEM, -EPERM, -EIO ...  as the system reports them
 *
 * mmds_strerror() names every one of them.
 */
#ifndef MMDS_COMMON_H
#define MMDS_COMMON_H

#include <mmds/version.h>

#if defined(_WIN32)
#define MMDS_API
#elif defined(MMDS_BUILDING_LIBRARY) && defined(__GNUC__)
#define MMDS_API __attribute__((visibility("default")))
#else
#define MMDS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * mmds_strerror - a short, constant description of an error code.
 *
 * Accepts the negative value mmds functions return or the positive errno;
 * 0 gives "success".  Unknown codes give "unknown error".  The returned
 * string is static: never free it.  Thread-safe.
 */
MMDS_API const char *mmds_strerror(int err);

/*
 * mmds_version - the library's version as "MAJOR.MINOR.PATCH".
 *
 * Compare with MMDS_VERSION_STRING from <mmds/version.h> to detect a header
 * and library mismatch.  Thread-safe.
 */
MMDS_API const char *mmds_version(void);

/*
 * mmds_version_number - the library's version as
 * MAJOR * 10000 + MINOR * 100 + PATCH (compare with MMDS_VERSION_NUMBER).
 */
MMDS_API unsigned mmds_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* MMDS_COMMON_H */
