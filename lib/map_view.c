/* map_view.c - error details, segments, atomic views and chunk iteration:
 * bounded views over a map that go through the accessors of map_access.c. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "map_internal.h"

static int range_error(mmds_range_detail *d, uint64_t off, uint64_t len,
		       uint64_t size)
{
	if (d) {
		d->offset = off;
		d->length = len;
		d->size = size;
		d->align = 0;
	}
	return -ERANGE;
}

int mmds_map_read_ex(const mmds_map *m, uint64_t off, void *buf, size_t len,
		     mmds_range_detail *detail)
{
	int err = mmds_map_read(m, off, buf, len);

	if (err == -ERANGE)
		range_error(detail, off, len, load_size(m));
	return err;
}

int mmds_map_write_ex(mmds_map *m, uint64_t off, const void *buf, size_t len,
		      mmds_range_detail *detail)
{
	int err = mmds_map_write(m, off, buf, len);

	if (err == -ERANGE)
		range_error(detail, off, len, load_size(m));
	return err;
}

uint64_t mmds_align_up(uint64_t value, uint64_t align)
{
	uint64_t rem;

	if (align == 0)
		return value;
	rem = value % align;
	if (rem == 0)
		return value;
	if (value > UINT64_MAX - (align - rem))
		return UINT64_MAX;
	return value + (align - rem);
}

/* ---- segments -------------------------------------------------------------- */

int mmds_segment_init(mmds_segment *s, mmds_map *m, uint64_t off, uint64_t len,
		      mmds_range_detail *detail)
{
	uint64_t size;

	if (s == NULL || m == NULL)
		return -EINVAL;
	size = load_size(m);
	if (!in_range(off, len, size))
		return range_error(detail, off, len, size);
	s->map = m;
	s->offset = off;
	s->length = len;
	return 0;
}

uint64_t mmds_segment_length(const mmds_segment *s)
{
	return s ? s->length : 0;
}

uint64_t mmds_segment_offset(const mmds_segment *s)
{
	return s ? s->offset : 0;
}

mmds_map *mmds_segment_map(const mmds_segment *s)
{
	return s ? s->map : NULL;
}

int mmds_segment_map_offset(const mmds_segment *s, uint64_t off, uint64_t len,
			    uint64_t *map_off, mmds_range_detail *detail)
{
	if (s == NULL || s->map == NULL || map_off == NULL)
		return -EINVAL;
	if (!in_range(off, len, s->length))
		return range_error(detail, off, len, s->length);
	/* The whole segment, not just this access, must still be mapped. */
	if (!in_range(s->offset, s->length, load_size(s->map)))
		return range_error(detail, off, len,
				   load_size(s->map) > s->offset
					   ? load_size(s->map) - s->offset
					   : 0);
	*map_off = s->offset + off;
	return 0;
}

int mmds_segment_read(const mmds_segment *s, uint64_t off, void *buf,
		      size_t len, mmds_range_detail *detail)
{
	uint64_t at;
	int err = mmds_segment_map_offset(s, off, len, &at, detail);

	if (err)
		return err;
	err = mmds_map_read(s->map, at, buf, len);
	if (err == -ERANGE)
		range_error(detail, off, len, s->length);
	return err;
}

int mmds_segment_write(mmds_segment *s, uint64_t off, const void *buf,
		       size_t len, mmds_range_detail *detail)
{
	uint64_t at;
	int err = mmds_segment_map_offset(s, off, len, &at, detail);

	if (err)
		return err;
	err = mmds_map_write(s->map, at, buf, len);
	if (err == -ERANGE)
		range_error(detail, off, len, s->length);
	return err;
}

void *mmds_segment_ptr(const mmds_segment *s, uint64_t off, uint64_t len)
{
	uint64_t at;

	if (mmds_segment_map_offset(s, off, len, &at, NULL))
		return NULL;
	return mmds_map_ptr(s->map, at, len);
}

#define SEG_ATOMIC(bits)                                                       \
	int mmds_segment_load##bits(const mmds_segment *s, uint64_t off,       \
				    uint##bits##_t *val)                       \
	{                                                                      \
		uint64_t at;                                                   \
		int err = mmds_segment_map_offset(s, off, bits / 8, &at, NULL); \
		return err ? err : mmds_map_load##bits(s->map, at, val);       \
	}                                                                      \
	int mmds_segment_store##bits(mmds_segment *s, uint64_t off,            \
				     uint##bits##_t v)                         \
	{                                                                      \
		uint64_t at;                                                   \
		int err = mmds_segment_map_offset(s, off, bits / 8, &at, NULL); \
		return err ? err : mmds_map_store##bits(s->map, at, v);        \
	}                                                                      \
	int mmds_segment_add##bits(mmds_segment *s, uint64_t off,              \
				   uint##bits##_t v, uint##bits##_t *old)      \
	{                                                                      \
		uint64_t at;                                                   \
		int err = mmds_segment_map_offset(s, off, bits / 8, &at, NULL); \
		return err ? err : mmds_map_add##bits(s->map, at, v, old);     \
	}                                                                      \
	int mmds_segment_cas##bits(mmds_segment *s, uint64_t off,              \
				   uint##bits##_t *expected,                   \
				   uint##bits##_t desired)                     \
	{                                                                      \
		uint64_t at;                                                   \
		int err = mmds_segment_map_offset(s, off, bits / 8, &at, NULL); \
		return err ? err                                               \
			   : mmds_map_cas##bits(s->map, at, expected, desired); \
	}

#define SEG_RMW(name, bits)                                                    \
	int mmds_segment_##name##bits(mmds_segment *s, uint64_t off,           \
				      uint##bits##_t v, uint##bits##_t *old)   \
	{                                                                      \
		uint64_t at;                                                   \
		int err = mmds_segment_map_offset(s, off, bits / 8, &at, NULL); \
		return err ? err : mmds_map_##name##bits(s->map, at, v, old);  \
	}

#define SEG_ALL(bits)                                                          \
	SEG_ATOMIC(bits)                                                       \
	SEG_RMW(sub, bits)                                                     \
	SEG_RMW(and, bits)                                                     \
	SEG_RMW(or, bits)                                                      \
	SEG_RMW(xor, bits)                                                     \
	SEG_RMW(xchg, bits)

SEG_ALL(64)
SEG_ALL(32)

/* ---- atomic views ---------------------------------------------------------- */

int mmds_atomic_view_init(mmds_atomic_view *v, mmds_map *m, uint64_t off,
			  size_t count, unsigned width,
			  mmds_range_detail *detail)
{
	uint64_t size, len;

	if (v == NULL || m == NULL || count == 0 || (width != 4 && width != 8))
		return -EINVAL;
	if ((m->access & MMDS_RDWR) != MMDS_RDWR)
		return -EACCES;
	size = load_size(m);
	if (count > UINT64_MAX / width)
		return range_error(detail, off, UINT64_MAX, size);
	len = (uint64_t)count * width;
	if (!in_range(off, len, size))
		return range_error(detail, off, len, size);
	if ((uintptr_t)(m->base + off) & (width - 1)) {
		if (detail) {
			range_error(detail, off, len, size);
			detail->align = width;
		}
		return -EINVAL;
	}
	v->map = m;
	v->offset = off;
	v->count = count;
	v->width = width;
	return 0;
}

size_t mmds_atomic_view_count(const mmds_atomic_view *v)
{
	return v ? v->count : 0;
}

/* The word i of the view, or NULL with *err set. */
static void *view_word(const mmds_atomic_view *v, size_t i, int *err)
{
	if (v == NULL || v->map == NULL) {
		*err = -EINVAL;
		return NULL;
	}
	if (i >= v->count ||
	    !in_range(v->offset, (uint64_t)v->count * v->width,
		      load_size(v->map))) {
		*err = -ERANGE;
		return NULL;
	}
	return v->map->base + v->offset + (uint64_t)i * v->width;
}

int mmds_atomic_view_load(const mmds_atomic_view *v, size_t i, uint64_t *val)
{
	int err = 0;
	void *p;

	if (val == NULL)
		return -EINVAL;
	p = view_word(v, i, &err);
	if (p == NULL)
		return err;
	if (v->width == 8)
		GUARDED(*val = atomic_load((_Atomic uint64_t *)p));
	else
		GUARDED(*val = atomic_load((_Atomic uint32_t *)p));
	return 0;
}

int mmds_atomic_view_store(mmds_atomic_view *v, size_t i, uint64_t val)
{
	int err = 0;
	void *p = view_word(v, i, &err);

	if (p == NULL)
		return err;
	if (v->width == 8)
		GUARDED(atomic_store((_Atomic uint64_t *)p, val));
	else
		GUARDED(atomic_store((_Atomic uint32_t *)p, (uint32_t)val));
	mmds__flush_note(v->map, v->offset + (uint64_t)i * v->width, v->width);
	return 0;
}

#define RMW_CASES(T, p, op, val, prev)                                         \
	switch (op) {                                                          \
	case MMDS_ATOMIC_ADD:                                                  \
		GUARDED(prev = atomic_fetch_add((_Atomic T *)p, (T)val));      \
		break;                                                         \
	case MMDS_ATOMIC_SUB:                                                  \
		GUARDED(prev = atomic_fetch_sub((_Atomic T *)p, (T)val));      \
		break;                                                         \
	case MMDS_ATOMIC_AND:                                                  \
		GUARDED(prev = atomic_fetch_and((_Atomic T *)p, (T)val));      \
		break;                                                         \
	case MMDS_ATOMIC_OR:                                                   \
		GUARDED(prev = atomic_fetch_or((_Atomic T *)p, (T)val));       \
		break;                                                         \
	case MMDS_ATOMIC_XOR:                                                  \
		GUARDED(prev = atomic_fetch_xor((_Atomic T *)p, (T)val));      \
		break;                                                         \
	case MMDS_ATOMIC_XCHG:                                                 \
		GUARDED(prev = atomic_exchange((_Atomic T *)p, (T)val));       \
		break;                                                         \
	default:                                                               \
		return -EINVAL;                                                \
	}

int mmds_atomic_view_rmw(mmds_atomic_view *v, size_t i, enum mmds_atomic_op op,
			 uint64_t val, uint64_t *old)
{
	int err = 0;
	uint64_t prev = 0;
	void *p = view_word(v, i, &err);

	if (p == NULL)
		return err;
	if (v->width == 8) {
		RMW_CASES(uint64_t, p, op, val, prev)
	} else {
		RMW_CASES(uint32_t, p, op, val, prev)
	}
	mmds__flush_note(v->map, v->offset + (uint64_t)i * v->width, v->width);
	if (old)
		*old = prev;
	return 0;
}

int mmds_atomic_view_cas(mmds_atomic_view *v, size_t i, uint64_t *expected,
			 uint64_t desired)
{
	int err = 0, swapped;
	void *p;

	if (expected == NULL)
		return -EINVAL;
	p = view_word(v, i, &err);
	if (p == NULL)
		return err;
	if (v->width == 8) {
		GUARDED(swapped = atomic_compare_exchange_strong(
				(_Atomic uint64_t *)p, expected, desired));
	} else if (*expected > UINT32_MAX) {
		/* No 32-bit word holds it: comparing the low half would
		 * swap a word that never held *expected. */
		uint32_t cur;

		GUARDED(cur = atomic_load((_Atomic uint32_t *)p));
		*expected = cur;
		swapped = 0;
	} else {
		uint32_t e = (uint32_t)*expected;

		GUARDED(swapped = atomic_compare_exchange_strong(
				(_Atomic uint32_t *)p, &e, (uint32_t)desired));
		*expected = e;
	}
	if (swapped)
		mmds__flush_note(v->map, v->offset + (uint64_t)i * v->width,
				 v->width);
	return swapped;
}

/* ---- iteration ------------------------------------------------------------- */

/* Run fn on one chunk under the guard.  Not inlined: fn's frame must not
 * share one with the sigsetjmp of the walk. */
__attribute__((noinline)) static int run_chunk(int (*fn)(uint64_t, void *,
							 size_t, void *),
					       uint64_t off, void *p, size_t len,
					       void *arg)
{
	struct mmds__guard g;
	int rc;

	mmds__guard_push(&g);
	if (sigsetjmp(g.env, 0))
		return mmds__guard_error(&g);
	rc = fn(off, p, len, arg);
	mmds__guard_pop(&g);
	return rc;
}

/* The length of the chunk at off: chunk bytes, or with chunk 0 up to the
 * next page boundary of the address space (a window at an unaligned file
 * offset starts mid-page), never past size. */
static size_t chunk_len(const mmds_map *m, uint64_t off, uint64_t size,
			size_t chunk)
{
	uint64_t len = chunk;

	if (chunk == 0) {
		size_t ps = mmds__page_size();

		len = ps - ((m->delta + off) & (ps - 1));
	}
	return size - off < len ? (size_t)(size - off) : (size_t)len;
}

static int walk(mmds_map *m, size_t chunk, int (*fn)(uint64_t, void *, size_t,
						     void *),
		void *arg, bool mut)
{
	for (uint64_t off = 0;;) {
		uint64_t size = load_size(m);
		size_t len;
		int rc;

		if (off >= size)
			return 0;
		len = chunk_len(m, off, size, chunk);
		rc = run_chunk(fn, off, m->base + off, len, arg);
		if (mut && rc != -EFAULT && rc != -EIO)
			mmds__flush_note(m, off, len);
		if (rc)
			return rc;
		off += len;
	}
}

int mmds_map_chunks(const mmds_map *m, size_t chunk, mmds_chunk_fn fn,
		    void *arg)
{
	if (m == NULL || fn == NULL)
		return -EINVAL;
	if (!(m->access & MMDS_READ))
		return -EACCES;
	/* The callback gets a const pointer: the cast only shares walk(). */
	return walk((mmds_map *)m, chunk,
		    (int (*)(uint64_t, void *, size_t, void *))fn, arg, false);
}

int mmds_map_chunks_mut(mmds_map *m, size_t chunk, mmds_chunk_mut_fn fn,
			void *arg)
{
	if (m == NULL || fn == NULL)
		return -EINVAL;
	if (!(m->access & MMDS_WRITE))
		return -EACCES;
	return walk(m, chunk, fn, arg, true);
}

int mmds_iter_init(mmds_iter *it, const mmds_map *m, size_t chunk)
{
	if (it == NULL || m == NULL)
		return -EINVAL;
	it->map = m;
	it->pos = 0;
	it->chunk = chunk; /* 0: pages, see chunk_len() */
	return 0;
}

ssize_t mmds_iter_next(mmds_iter *it, void *buf, size_t cap, uint64_t *off)
{
	uint64_t size;
	size_t len;
	int err;

	if (it == NULL || it->map == NULL || buf == NULL ||
	    cap < (it->chunk ? it->chunk : mmds__page_size()) ||
	    it->chunk > SSIZE_MAX)
		return -EINVAL;
	do {
		/* mmds_map_read() checks the size again: a shrink in
		 * between is -ERANGE there, and here a shorter chunk or the
		 * end. */
		size = load_size(it->map);
		if (it->pos >= size)
			return 0;
		len = chunk_len(it->map, it->pos, size, it->chunk);
		err = mmds_map_read(it->map, it->pos, buf, len);
	} while (err == -ERANGE);
	if (err)
		return err;
	if (off)
		*off = it->pos;
	it->pos += len;
	return (ssize_t)len;
}
