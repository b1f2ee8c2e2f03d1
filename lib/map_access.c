/* map_access.c - reads, writes, zero-copy pointers, cursors, atomics. */
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

/* ---- access ---------------------------------------------------------------- */

/* Copies above 16 bytes, under the sigsetjmp guard.  Out of line, so that
 * the small accesses do not pay for a frame set up for sigsetjmp. */
static __attribute__((noinline)) int guarded_copy(void *dst, const void *src,
						  size_t len)
{
	struct mmds__guard g;

	mmds__guard_push(&g);
	if (sigsetjmp(g.env, 0))
		return mmds__guard_error(&g);
	copy(dst, src, len);
	mmds__guard_pop(&g);
	return 0;
}

int mmds_map_read(const mmds_map *m, uint64_t off, void *buf, size_t len)
{
	if (m == NULL || (buf == NULL && len))
		return -EINVAL;
	if (!(m->access & MMDS_READ))
		return -EACCES;
	if (!in_range(off, len, load_size(m)))
		return -ERANGE;
	if (len == 8) /* the common word: one marked load and store, inline */
		return mmds_ptr_copy(buf, m->base + off, 8);
	if (len == 0)
		return 0;
	if (len <= 16)
		return mmds_ptr_copy(buf, m->base + off, len);
	return guarded_copy(buf, m->base + off, len);
}

int mmds_map_write(mmds_map *m, uint64_t off, const void *buf, size_t len)
{
	int err;

	if (m == NULL || (buf == NULL && len))
		return -EINVAL;
	if (!(m->access & MMDS_WRITE))
		return -EACCES;
	if (!in_range(off, len, load_size(m)))
		return -ERANGE;
	if (len == 8)
		err = mmds_ptr_copy(m->base + off, buf, 8);
	else if (len == 0)
		return 0;
	else
		err = len <= 16 ? mmds_ptr_copy(m->base + off, buf, len)
				: guarded_copy(m->base + off, buf, len);
	if (err)
		return err;
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

int mmds_map_fast_view(mmds_map *m, mmds_map_fast *f)
{
	if (m == NULL || f == NULL)
		return -EINVAL;
	f->map = m;
	f->base = m->base;
	/* Plain words of their own size (map_internal.h asserts it), loaded
	 * with the __atomic builtins by the inline accessors. */
	f->size = (const uint64_t *)(const void *)&m->size;
	f->flush_mode = (const int *)(const void *)&m->flush.mode;
	f->access = m->access;
	return 0;
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
		return mmds_ptr_load##bits(p, val);                            \
	}                                                                      \
	int mmds_map_store##bits(mmds_map *m, uint64_t off, uint##bits##_t v)  \
	{                                                                      \
		int err = 0;                                                   \
		_Atomic uint##bits##_t *p =                                    \
			atomic_word(m, off, bits / 8, MMDS_WRITE, &err);       \
		if (p == NULL)                                                 \
			return err;                                            \
		err = mmds_ptr_store##bits(p, v);                              \
		if (err)                                                       \
			return err;                                            \
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

/* add and sub: one marked lock xadd (mmds_ptr_add*), no sigsetjmp. */
#define MMDS_DEFINE_ADD(name, neg, bits)                                       \
	int mmds_map_##name##bits(mmds_map *m, uint64_t off, uint##bits##_t v, \
				  uint##bits##_t *old)                         \
	{                                                                      \
		int err = 0;                                                   \
		void *p = atomic_word(m, off, bits / 8, MMDS_RDWR, &err);      \
		if (p == NULL)                                                 \
			return err;                                            \
		err = mmds_ptr_add##bits(p, neg v, old);                       \
		if (err)                                                       \
			return err;                                            \
		mmds__flush_note(m, off, bits / 8);                            \
		return 0;                                                      \
	}

#define MMDS_DEFINE_ALL_RMW(bits)                                              \
	MMDS_DEFINE_ADD(add, +, bits)                                          \
	MMDS_DEFINE_ADD(sub, (uint##bits##_t)-, bits)                          \
	MMDS_DEFINE_RMW(and, atomic_fetch_and, bits)                           \
	MMDS_DEFINE_RMW(or, atomic_fetch_or, bits)                             \
	MMDS_DEFINE_RMW(xor, atomic_fetch_xor, bits)                           \
	MMDS_DEFINE_RMW(xchg, atomic_exchange, bits)

MMDS_DEFINE_ATOMICS(64)
MMDS_DEFINE_ATOMICS(32)
MMDS_DEFINE_ALL_RMW(64)
MMDS_DEFINE_ALL_RMW(32)
