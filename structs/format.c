/* format.c - the common structure header: build and validate. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "format.h"

_Static_assert(sizeof(struct mmds__fmt_header) == 256,
	       "the common header is 256 bytes");
_Static_assert(offsetof(struct mmds__fmt_header, params) == 40, "layout");
_Static_assert(offsetof(struct mmds__fmt_header, checksum) == 248, "layout");

uint64_t mmds__fmt_checksum(const struct mmds__fmt_header *h)
{
	return XXH3_64bits(h, offsetof(struct mmds__fmt_header, checksum));
}

static uint64_t random_salt(void)
{
	uint64_t v = 0;
	struct timespec ts;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			v = 0;
		close(fd);
	}
	if (v == 0) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = XXH3_64bits(&ts, sizeof(ts)) ^ (uint64_t)getpid();
	}
	return v;
}

int mmds__fmt_init(struct mmds__fmt_header *h, const char magic[8],
		   uint32_t version, uint32_t flags, const void *params,
		   uint32_t params_size)
{
	struct timespec ts;

	if (h == NULL || magic == NULL || params_size > MMDS__FMT_PARAMS_MAX ||
	    (params == NULL && params_size))
		return -EINVAL;
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, magic, sizeof(h->magic));
	h->version = version;
	h->header_size = MMDS__FMT_HEADER_SIZE;
	h->byte_order = MMDS__FMT_BYTE_ORDER;
	h->flags = flags;
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	h->cacheline = MMDS__FMT_CACHELINE;
	h->params_size = params_size;
	if (params_size)
		memcpy(h->params, params, params_size);
	h->salt = random_salt();
	h->checksum = mmds__fmt_checksum(h);
	return 0;
}

int mmds__fmt_check(const void *bytes, uint64_t file_size, const char magic[8],
		    uint32_t max_version, struct mmds__fmt_header *out)
{
	struct mmds__fmt_header h;

	if (bytes == NULL || magic == NULL || out == NULL)
		return -EINVAL;
	if (file_size < MMDS__FMT_HEADER_SIZE)
		return -EBADMSG;
	memcpy(&h, bytes, sizeof(h)); /* one copy: the file may change under us */
	if (memcmp(h.magic, "MMDS", 4) != 0 ||
	    memcmp(h.magic, magic, sizeof(h.magic)) != 0)
		return -EBADMSG;
	if (h.byte_order != MMDS__FMT_BYTE_ORDER)
		return h.byte_order == __builtin_bswap32(MMDS__FMT_BYTE_ORDER) ?
			       -ENOTSUP : -EBADMSG;
	if (h.checksum != mmds__fmt_checksum(&h))
		return -EBADMSG;
	if (h.header_size != MMDS__FMT_HEADER_SIZE ||
	    h.params_size > MMDS__FMT_PARAMS_MAX)
		return -EBADMSG;
	if (h.version == 0)
		return -EBADMSG;
	if (h.version > max_version || h.cacheline != MMDS__FMT_CACHELINE)
		return -ENOTSUP;
	*out = h;
	return 0;
}
