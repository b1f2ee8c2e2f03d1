/* counters.c - persistent counters in one shared file (mmds/counters.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mmds/counters.h>
#include <mmds/map.h>

#include "counters_format.h"
#include "crash.h"
#include "format.h"
#include "futex.h"
#include "owner.h"

_Static_assert(sizeof(struct mmds__cnt_record) == MMDS__CNT_RECORD_SIZE,
	       "a record is 256 bytes");
_Static_assert(sizeof(struct mmds__cnt_params) == 48, "params layout");
_Static_assert(sizeof(((struct mmds__cnt_record *)0)->label) ==
		       MMDS_COUNTERS_LABEL_MAX, "label size");
_Static_assert(sizeof(((struct mmds__cnt_record *)0)->help) ==
		       MMDS_COUNTERS_HELP_MAX, "help size");

#define LOCK_TIMEOUT_NS (5ull * 1000000000ull)
#define STATE(w) ((unsigned)((w) & 0xffu))
#define GEN(w) ((w) >> 8)
#define MAKE_STATE(gen, st) (((gen) << 8) | (uint64_t)(st))

struct mmds_counters {
	mmds_map *map;
	uint8_t *base;
	uint32_t cap;
	uint32_t stride;
	uint32_t grace_ms;
	int readonly;
	uint64_t values_off;
	uint64_t file_size;
	uint64_t created_ns;
};

/* Stripes.  Each thread that updates a striped counter draws the lowest
 * number no live thread of the process holds (and gives it back when it
 * exits); its stripe of a counter with s stripes is (base + number) % s,
 * where base is the process's pid.  So T live threads of one process,
 * T <= s, never share a stripe, whatever order they start in, and
 * single-threaded processes spread over the stripes by pid.  Plain
 * counters never draw a number.  A forked child keeps the forking thread's
 * number and takes its own pid as base. */
#define NUM_WORDS 16 /* numbers tracked: 1024; beyond, threads share */

static pthread_mutex_t num_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t num_used[NUM_WORDS];   /* under num_lock */
static uint32_t num_overflow;          /* under num_lock */
static _Atomic uint32_t num_base;
static pthread_key_t num_key;
static int num_key_ok;
static _Thread_local uint32_t thread_num = UINT32_MAX;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void num_release(void *v)
{
	uint32_t n = (uint32_t)((uintptr_t)v - 1);

	pthread_mutex_lock(&num_lock);
	if (n < NUM_WORDS * 64)
		num_used[n / 64] &= ~(UINT64_C(1) << (n % 64));
	pthread_mutex_unlock(&num_lock);
}

static void num_prepare(void)
{
	pthread_mutex_lock(&num_lock);
}

static void num_parent(void)
{
	pthread_mutex_unlock(&num_lock);
}

static void num_child(void)
{
	/* Only this thread lives on in the child. */
	memset(num_used, 0, sizeof(num_used));
	num_overflow = 0;
	if (thread_num < NUM_WORDS * 64)
		num_used[thread_num / 64] |= UINT64_C(1) << (thread_num % 64);
	atomic_store_explicit(&num_base, (uint32_t)getpid(),
			      memory_order_relaxed);
	pthread_mutex_unlock(&num_lock);
}

static void register_atfork(void)
{
	atomic_store_explicit(&num_base, (uint32_t)getpid(),
			      memory_order_relaxed);
	num_key_ok = pthread_key_create(&num_key, num_release) == 0;
	pthread_atfork(num_prepare, num_parent, num_child);
}

static uint32_t draw_num(void)
{
	uint32_t n = UINT32_MAX;

	pthread_once(&atfork_once, register_atfork);
	pthread_mutex_lock(&num_lock);
	for (uint32_t w = 0; w < NUM_WORDS && n == UINT32_MAX; w++)
		if (~num_used[w]) {
			n = w * 64 + (uint32_t)__builtin_ctzll(~num_used[w]);
			num_used[w] |= UINT64_C(1) << (n % 64);
		}
	if (n == UINT32_MAX)
		n = NUM_WORDS * 64 + (num_overflow++ & 0xffffu);
	pthread_mutex_unlock(&num_lock);
	/* Without a key the number is never given back: still distinct. */
	if (num_key_ok && n < NUM_WORDS * 64)
		pthread_setspecific(num_key, (void *)(uintptr_t)(n + 1));
	return n;
}

static uint32_t my_stripe(uint32_t stripes)
{
	if (stripes <= 1)
		return 0;
	if (thread_num == UINT32_MAX)
		thread_num = draw_num();
	return (uint32_t)(((uint64_t)atomic_load_explicit(
				   &num_base, memory_order_relaxed) +
			   thread_num) %
			  stripes);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct mmds__cnt_record *rec(const mmds_counters *c, uint32_t id)
{
	return (struct mmds__cnt_record *)(void *)(c->base + MMDS__CNT_META_OFF +
						   (uint64_t)id *
							   MMDS__CNT_RECORD_SIZE);
}

/* The state word, loaded with acquire: pairs with the release store that
 * publishes a record. */
static uint64_t load_state(const struct mmds__cnt_record *r)
{
	return atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)&r->state,
				    memory_order_acquire);
}

static void store_state(struct mmds__cnt_record *r, uint64_t w,
			memory_order mo)
{
	atomic_store_explicit((_Atomic uint64_t *)(void *)&r->state, w, mo);
}

/* The record's fields after the state word are copied word by word with
 * relaxed atomics: readers copy them seqlock-style (check the state word
 * before and after) while an allocator may be writing them. */
#define REC_WORDS (MMDS__CNT_RECORD_SIZE / 8)

static void rec_load(const struct mmds__cnt_record *r,
		     struct mmds__cnt_record *out)
{
	const _Atomic uint64_t *w = (const _Atomic uint64_t *)(const void *)r;
	uint64_t img[REC_WORDS];

	img[0] = 0;
	for (unsigned i = 1; i < REC_WORDS; i++)
		img[i] = atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)&w[i],
					      memory_order_relaxed);
	memcpy(out, img, sizeof(img));
}

static void rec_store(struct mmds__cnt_record *r,
		      const struct mmds__cnt_record *in)
{
	_Atomic uint64_t *w = (_Atomic uint64_t *)(void *)r;
	uint64_t img[REC_WORDS];

	memcpy(img, in, sizeof(img));
	for (unsigned i = 1; i < REC_WORDS; i++)
		atomic_store_explicit(&w[i], img[i], memory_order_relaxed);
}

/* The stripes field alone (the word at offset 16 holds kind and stripes). */
static uint32_t rec_stripes(const struct mmds__cnt_record *r)
{
	struct mmds__cnt_record tmp;
	uint64_t w = atomic_load_explicit(
		(_Atomic uint64_t *)(uintptr_t)((const uint8_t *)r + 16),
		memory_order_relaxed);

	memcpy(&tmp.kind, &w, 8);
	return tmp.stripes;
}

/* The kind field alone. */
static uint32_t rec_kind(const struct mmds__cnt_record *r)
{
	struct mmds__cnt_record tmp;
	uint64_t w = atomic_load_explicit(
		(_Atomic uint64_t *)(uintptr_t)((const uint8_t *)r + 16),
		memory_order_relaxed);

	memcpy(&tmp.kind, &w, 8);
	return tmp.kind;
}

_Static_assert(sizeof(struct mmds__cnt_shape) <= MMDS__CNT_RECORD_SIZE - MMDS__CNT_SHAPE_OFF,
	       "a histogram's shape fits in a record's label and help");
_Static_assert(sizeof(((struct mmds__cnt_shape *)0)->bounds) ==
		       MMDS_HISTOGRAM_MAX_BOUNDS * sizeof(double),
	       "the shape holds every bound");

/* Copy the shape of the histogram at head id with `stripes` ids (seqlock
 * style, like rec_load) and check it: 0 or -EBADMSG. */
static int shape_load(const mmds_counters *c, uint32_t id, uint32_t stripes,
		      struct mmds__cnt_shape *out)
{
	struct mmds__cnt_record img;

	if (stripes < 3)
		return -EBADMSG;
	rec_load(rec(c, id + 1), &img);
	memcpy(out, (const char *)&img + MMDS__CNT_SHAPE_OFF, sizeof(*out));
	if (out->nbounds == 0 || out->nbounds > MMDS_HISTOGRAM_MAX_BOUNDS ||
	    out->groups == 0 || out->groups > MMDS_COUNTERS_MAX_STRIPES ||
	    out->groups * (out->nbounds + 2) != stripes)
		return -EBADMSG;
	for (uint32_t i = 0; i < out->nbounds; i++)
		if (!isfinite(out->bounds[i]) ||
		    (i > 0 && !(out->bounds[i] > out->bounds[i - 1])))
			return -EBADMSG;
	return 0;
}

static _Atomic uint64_t *val(const mmds_counters *c, uint32_t id)
{
	return (_Atomic uint64_t *)(void *)(c->base + c->values_off +
					    (uint64_t)id * c->stride);
}

static uint64_t round_page(uint64_t n)
{
	return (n + 4095u) & ~(uint64_t)4095u;
}

static void layout(uint32_t cap, uint32_t stride, uint64_t *values_off,
		   uint64_t *file_size)
{
	*values_off = MMDS__CNT_META_OFF +
		      round_page((uint64_t)cap * MMDS__CNT_RECORD_SIZE);
	*file_size = *values_off + round_page((uint64_t)cap * stride);
}

/* ---- text validation ----------------------------------------------------- */

/* 1 if s[0..len) is valid UTF-8 (no overlongs, surrogates, or code points
 * beyond U+10FFFF) without control characters. */
static int text_ok(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned b = p[i], n, cp, min;

		if (b < 0x80) {
			if (b < 0x20 || b == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((b & 0xe0) == 0xc0)
			n = 1, cp = b & 0x1f, min = 0x80;
		else if ((b & 0xf0) == 0xe0)
			n = 2, cp = b & 0x0f, min = 0x800;
		else if ((b & 0xf8) == 0xf0)
			n = 3, cp = b & 0x07, min = 0x10000;
		else
			return 0;
		if (len - i <= n)
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		if (cp >= 0x80 && cp < 0xa0) /* C1 controls */
			return 0;
		i += n + 1;
	}
	return 1;
}

/* ---- open ---------------------------------------------------------------- */

static int check_layout(mmds_counters *c)
{
	unsigned char page[sizeof(struct mmds__fmt_header)];
	struct mmds__fmt_header h;
	struct mmds__cnt_params p;
	uint64_t size = mmds_map_size(c->map), values_off, file_size;
	int err;

	if (size < MMDS__FMT_HEADER_SIZE)
		return -EBADMSG;
	err = mmds_map_read(c->map, 0, page, sizeof(page));
	if (err < 0)
		return err;
	err = mmds__fmt_check(page, size, MMDS__MAGIC_COUNTERS,
			      MMDS__CNT_VERSION, &h);
	if (err < 0)
		return err;
	if (h.params_size < sizeof(p))
		return -EBADMSG;
	memcpy(&p, h.params, sizeof(p));
	if (p.capacity == 0 || p.capacity > MMDS_COUNTERS_MAX_CAPACITY ||
	    p.record_size != MMDS__CNT_RECORD_SIZE ||
	    (p.stride != 8 && p.stride != MMDS__FMT_CACHELINE) ||
	    p.label_max != MMDS_COUNTERS_LABEL_MAX ||
	    p.help_max != MMDS_COUNTERS_HELP_MAX ||
	    p.meta_off != MMDS__CNT_META_OFF ||
	    ((h.flags & MMDS__CNT_FLAG_PACKED) != 0) != (p.stride == 8) ||
	    (h.flags & ~MMDS__CNT_FLAG_PACKED) != 0)
		return -EBADMSG;
	layout(p.capacity, p.stride, &values_off, &file_size);
	if (p.values_off != values_off || p.file_size != file_size ||
	    size < file_size)
		return -EBADMSG;
	c->cap = p.capacity;
	c->stride = p.stride;
	c->grace_ms = p.grace_ms;
	c->values_off = values_off;
	c->file_size = size;
	c->created_ns = h.created_ns;
	return 0;
}

static int recover_at_open(mmds_counters *c);

/* Build a complete file under a temporary name and link it into place, so
 * no opener ever sees it half-made.  0, -EEXIST (someone else's is there),
 * or an error. */
static int create_file(const char *path, const mmds_counters_opts *o)
{
	struct mmds__cnt_params p = { 0 };
	struct mmds__fmt_header h;
	mmds_map *m = NULL;
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	int fd, err;

	if (tmp == NULL)
		return -ENOMEM;
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", 12);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		free(tmp);
		return err;
	}
	p.capacity = o->capacity ? o->capacity : MMDS_COUNTERS_DEFAULT_CAPACITY;
	p.record_size = MMDS__CNT_RECORD_SIZE;
	p.stride = (o->flags & MMDS_COUNTERS_PACKED) ? 8 : MMDS__FMT_CACHELINE;
	p.label_max = MMDS_COUNTERS_LABEL_MAX;
	p.help_max = MMDS_COUNTERS_HELP_MAX;
	p.grace_ms = o->grace_ms ? o->grace_ms : MMDS_COUNTERS_DEFAULT_GRACE_MS;
	p.meta_off = MMDS__CNT_META_OFF;
	layout(p.capacity, p.stride, &p.values_off, &p.file_size);
	err = fchmod(fd, o->mode ? o->mode : 0600) < 0 ? -errno : 0;
	if (err == 0)
		err = mmds__fmt_init(&h, MMDS__MAGIC_COUNTERS, MMDS__CNT_VERSION,
				     (o->flags & MMDS_COUNTERS_PACKED) ?
					     MMDS__CNT_FLAG_PACKED : 0,
				     &p, sizeof(p));
	if (err == 0)
		err = mmds_map_open_fd(&m, fd,
				       &(mmds_map_opts){ .size = p.file_size });
	if (err == 0)
		err = mmds_map_write(m, 0, &h, sizeof(h));
	if (err == 0 && link(tmp, path) < 0)
		err = -errno;
	mmds_map_close(m);
	close(fd);
	unlink(tmp);
	free(tmp);
	return err;
}

int mmds_counters_open(mmds_counters **out, const char *path,
		       const mmds_counters_opts *opts)
{
	static const mmds_counters_opts none;
	const mmds_counters_opts *o = opts ? opts : &none;
	const unsigned known = MMDS_COUNTERS_CREATE | MMDS_COUNTERS_EXCL |
			       MMDS_COUNTERS_PACKED | MMDS_COUNTERS_READONLY;
	mmds_counters *c;
	int ro, err;

	if (out)
		*out = NULL;
	if (out == NULL || path == NULL || (o->flags & ~known) ||
	    o->capacity > MMDS_COUNTERS_MAX_CAPACITY ||
	    ((o->flags & MMDS_COUNTERS_EXCL) &&
	     !(o->flags & MMDS_COUNTERS_CREATE)) ||
	    ((o->flags & MMDS_COUNTERS_CREATE) &&
	     (o->flags & MMDS_COUNTERS_READONLY)))
		return -EINVAL;
	ro = (o->flags & MMDS_COUNTERS_READONLY) != 0;
	if (o->flags & MMDS_COUNTERS_EXCL) {
		err = create_file(path, o);
		if (err < 0)
			return err;
	}
	pthread_once(&atfork_once, register_atfork);
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->readonly = ro;
	for (int tries = 0;; tries++) {
		err = mmds_map_open(&c->map, path,
				    &(mmds_map_opts){ .access = ro ? MMDS_READ :
								     MMDS_RDWR });
		if (err != -ENOENT || !(o->flags & MMDS_COUNTERS_CREATE) ||
		    tries > 3)
			break;
		err = create_file(path, o);
		if (err < 0 && err != -EEXIST)
			break;
	}
	if (err == 0) {
		c->base = mmds_map_data(c->map);
		err = check_layout(c);
	}
	if (err == 0 && !ro)
		err = recover_at_open(c);
	if (err < 0) {
		mmds_map_close(c->map);
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

int mmds_counters_close(mmds_counters *c)
{
	int err;

	if (c == NULL)
		return 0;
	err = mmds_map_close(c->map);
	free(c);
	return err;
}

int mmds_counters_sync(mmds_counters *c)
{
	if (c == NULL)
		return -EINVAL;
	return mmds_map_sync(c->map, MMDS_SYNC_DURABLE);
}

/* ---- reading records ----------------------------------------------------- */

/* A head record's stripe count, or 0 if it is impossible. */
static uint32_t stripes_of(const mmds_counters *c, uint32_t id, uint32_t s)
{

	if (s == 0 || s > MMDS_COUNTERS_MAX_STRIPES || s > c->cap - id)
		return 0;
	return s;
}

/* Read record id whole: 0, -ENOENT (not an allocated counter), -EBADMSG
 * (impossible metadata), -EAGAIN (it changed while read). */
static int read_entry(const mmds_counters *c, uint32_t id,
		      mmds_counter_info *out)
{
	const struct mmds__cnt_record *r = rec(c, id);
	struct mmds__cnt_record img;
	uint64_t s1 = load_state(r), s2, sum = 0;
	uint32_t stripes, kind, len;
	int shape_ok = 0;

	if (STATE(s1) != MMDS__CNT_ACTIVE)
		return -ENOENT;
	rec_load(r, &img);
	kind = img.kind;
	stripes = stripes_of(c, id, img.stripes);
	len = img.label_len;
	memcpy(out->label, img.label, sizeof(out->label));
	memcpy(out->help, img.help, sizeof(out->help));
	if (kind == MMDS_HISTOGRAM && stripes > 0) {
		/* the count: every bucket word, not the sums */
		struct mmds__cnt_shape sh;

		shape_ok = shape_load(c, id, stripes, &sh) == 0;
		for (uint32_t k = 0; shape_ok && k < stripes; k++)
			if (k % (sh.nbounds + 2) != sh.nbounds + 1)
				sum += atomic_load_explicit(val(c, id + k),
							    memory_order_relaxed);
	} else {
		for (uint32_t k = 0; k < stripes; k++)
			sum += atomic_load_explicit(val(c, id + k),
						    memory_order_relaxed);
	}
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit((_Atomic uint64_t *)(uintptr_t)&r->state,
				  memory_order_relaxed);
	if (s1 != s2)
		return -EAGAIN;
	if ((kind != MMDS_COUNTER && kind != MMDS_GAUGE &&
	     !(kind == MMDS_HISTOGRAM && shape_ok)) || stripes == 0 ||
	    len == 0 || len >= MMDS_COUNTERS_LABEL_MAX ||
	    memchr(out->label, 0, sizeof(out->label)) !=
		    (void *)(out->label + len) ||
	    !text_ok(out->label, len))
		return -EBADMSG;
	{
		const char *nul = memchr(out->help, 0, sizeof(out->help));

		if (nul == NULL || !text_ok(out->help, (size_t)(nul - out->help)))
			return -EBADMSG;
	}
	out->id = (int)id;
	out->kind = kind;
	out->stripes = stripes;
	out->generation = GEN(s1);
	out->value = sum;
	return 0;
}

static int read_entry_retry(const mmds_counters *c, uint32_t id,
			    mmds_counter_info *out)
{
	int err = -EAGAIN;

	for (int i = 0; i < 100 && err == -EAGAIN; i++)
		err = read_entry(c, id, out);
	return err == -EAGAIN ? -ENOENT : err;
}

/* ---- the allocation lock and intents ------------------------------------- */

/* The lock word is an owner word (owner.h): a holder that is gone, a
 * zombie, impossible or another incarnation of its pid is taken over.  A
 * word left by format 1's old encoding (pid << 32 | start ticks) decodes as
 * such a dead owner, so it is taken over too. */

static _Atomic uint64_t *lock_ptr(const mmds_counters *c)
{
	return (_Atomic uint64_t *)(void *)(c->base + MMDS__CNT_LOCK_OFF);
}

static _Atomic uint64_t *intent_ptr(const mmds_counters *c)
{
	return (_Atomic uint64_t *)(void *)(c->base + MMDS__CNT_INTENT_OFF);
}

/* The head field alone (the word at offset 24 holds head and label_len). */
static uint32_t rec_head(const struct mmds__cnt_record *r)
{
	struct mmds__cnt_record tmp;
	uint64_t w = atomic_load_explicit(
		(_Atomic uint64_t *)(uintptr_t)((const uint8_t *)r + 24),
		memory_order_relaxed);

	memcpy(&tmp.head, &w, 8);
	return tmp.head;
}

/* Set r to FREED at now, keeping its generation. */
static void set_freed(struct mmds__cnt_record *r, uint64_t now)
{
	atomic_store_explicit((_Atomic uint64_t *)(void *)((uint8_t *)r + 8),
			      now, memory_order_relaxed);
	store_state(r, MAKE_STATE(GEN(load_state(r)), MMDS__CNT_FREED),
		    memory_order_release);
}

/* Record the multi-step change about to start.  An exchange with acquire
 * ordering: none of the change's later stores moves before it. */
static void set_intent(const mmds_counters *c, uint64_t intent)
{
	(void)atomic_exchange_explicit(intent_ptr(c), intent,
				       memory_order_acq_rel);
}

static void clear_intent(const mmds_counters *c)
{
	atomic_store_explicit(intent_ptr(c), 0, memory_order_release);
}

/* 1 if STRIPE record i belongs to no counter: its head is not an active
 * counter whose stripes reach i. */
static int orphan_stripe(const mmds_counters *c, uint32_t i,
			 const struct mmds__cnt_record *r)
{
	uint32_t h = rec_head(r), s;
	const struct mmds__cnt_record *hr;

	if (h >= i || i - h >= MMDS_COUNTERS_MAX_STRIPES)
		return 1;
	hr = rec(c, h);
	if (STATE(load_state(hr)) != MMDS__CNT_ACTIVE)
		return 1;
	s = stripes_of(c, h, rec_stripes(hr));
	return s <= i - h;
}

/* Under the lock: reclaim record i if it is an orphan stripe (left by a
 * holder killed on a format without intents, or a hostile file).  It is
 * freed now, so the grace period runs from here. */
static void reclaim_if_orphan(const mmds_counters *c, uint32_t i, uint64_t now)
{
	struct mmds__cnt_record *r = rec(c, i);

	if (STATE(load_state(r)) != MMDS__CNT_STRIPE || !orphan_stripe(c, i, r))
		return;
	set_freed(r, now);
	MMDS_CRASH("counters.sweep.orphan");
}

/* Under the lock: finish what a dead holder's intent says.  A half-made
 * counter (head not active) is rolled back: nobody saw it, its alloc never
 * returned.  A free is rolled forward.  Idempotent, so a holder killed
 * here is recovered by the next one the same way. */
static void roll_intent(const mmds_counters *c, uint64_t iw)
{
	unsigned op = (unsigned)(iw & 0xffu);
	uint32_t count = (uint32_t)(iw >> 8) & 0xffu;
	uint32_t first = (uint32_t)(iw >> 16) & 0xffffffu;
	uint64_t now = now_ns();

	if ((iw >> 40) != 0 || count == 0 || count > MMDS_COUNTERS_MAX_STRIPES ||
	    first >= c->cap || count > c->cap - first)
		return; /* not an intent this library wrote: nothing to trust */
	if (op == MMDS__CNT_INTENT_ALLOC) {
		if (STATE(load_state(rec(c, first))) == MMDS__CNT_ACTIVE)
			return; /* published whole: the stripes came first */
		for (uint32_t k = count; k-- > 0;) {
			struct mmds__cnt_record *r = rec(c, first + k);
			uint64_t w = load_state(r);

			if (STATE(w) == MMDS__CNT_RESERVED ||
			    (STATE(w) == MMDS__CNT_STRIPE && rec_head(r) == first)) {
				store_state(r, MAKE_STATE(GEN(w), MMDS__CNT_FREE),
					    memory_order_release);
				MMDS_CRASH("counters.recover.record");
			}
		}
	} else if (op == MMDS__CNT_INTENT_FREE) {
		for (uint32_t k = 0; k < count; k++) {
			struct mmds__cnt_record *r = rec(c, first + k);
			unsigned st = STATE(load_state(r));

			if (k == 0 ? st == MMDS__CNT_ACTIVE :
				     st == MMDS__CNT_STRIPE && rec_head(r) == first) {
				set_freed(r, now);
				MMDS_CRASH("counters.recover.record");
			}
		}
	}
}

struct recover_args {
	mmds_counters *c;
	int taken; /* the lock was taken over from a dead holder */
};

static int recover_locked(void *arg)
{
	struct recover_args *a = arg;
	const mmds_counters *c = a->c;
	uint64_t iw = atomic_load_explicit(intent_ptr(c), memory_order_acquire);

	if (iw != 0) {
		roll_intent(c, iw);
		clear_intent(c);
		MMDS_CRASH("counters.recover.intent_cleared");
	}
	if (a->taken) {
		uint64_t now = now_ns();

		for (uint32_t i = 0; i < c->cap; i++)
			reclaim_if_orphan(c, i, now);
	}
	return 0;
}

static void unlock_alloc(mmds_counters *c)
{
	/* -EPERM: taken over as if this process were dead; -EFAULT: the
	 * header page is gone.  Either way the word is not ours to clear. */
	(void)mmds__owner_release_guarded(lock_ptr(c));
}

/* Take the lock (waiting at most LOCK_TIMEOUT_NS for a live holder, which
 * includes another thread or handle of this process) and finish a dead
 * holder's intent.  0, -ETIMEDOUT, -EFAULT or -EIO. */
static int lock_alloc(mmds_counters *c)
{
	uint64_t deadline = mmds__mono_ns() + LOCK_TIMEOUT_NS;
	long pause_ns = 20000;

	(void)mmds__owner_self(); /* /proc is read outside the guard */
	for (;;) {
		int rc = mmds__owner_take_guarded(lock_ptr(c), NULL);

		if (rc >= 0) {
			struct recover_args ra = { c, rc == MMDS__OWNER_TAKEN };

			MMDS_CRASH("counters.lock.taken");
			rc = mmds_guard_run(recover_locked, &ra);
			if (rc < 0)
				unlock_alloc(c);
			return rc < 0 ? rc : 0;
		}
		if (rc != -EBUSY)
			return rc;
		if (mmds__mono_ns() > deadline)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ .tv_nsec = pause_ns }, NULL);
		if (pause_ns < 1000000)
			pause_ns *= 2;
	}
}

/* On open: if a dead process holds the lock, take it over and recover now,
 * so readers of this file see its state settled without anyone allocating.
 * A live holder is left alone. */
static int recover_at_open(mmds_counters *c)
{
	uint64_t holder = 0;
	int rc = mmds_map_load64(c->map, MMDS__CNT_LOCK_OFF, &holder);

	if (rc < 0 || holder == 0 || mmds__owner_alive(holder))
		return rc;
	rc = mmds__owner_take_guarded(lock_ptr(c), NULL);
	if (rc == -EBUSY)
		return 0; /* someone else took it first */
	if (rc >= 0) {
		struct recover_args ra = { c, rc == MMDS__OWNER_TAKEN };

		MMDS_CRASH("counters.lock.taken");
		rc = mmds_guard_run(recover_locked, &ra);
		unlock_alloc(c);
	}
	return rc;
}

/* ---- allocation ---------------------------------------------------------- */

struct alloc_args {
	mmds_counters *c;
	const char *label;
	size_t len;
	const char *help;
	size_t help_len;
	unsigned kind;
	uint32_t stripes;
	const struct mmds__cnt_shape *shape; /* a histogram's, else NULL */
};

static int reusable(const mmds_counters *c, const struct mmds__cnt_record *r,
		    uint64_t now)
{
	uint64_t w = load_state(r), grace;

	switch (STATE(w)) {
	case MMDS__CNT_FREE:
	case MMDS__CNT_RESERVED: /* left by a dead lock holder: we hold it */
		return 1;
	case MMDS__CNT_FREED:
		if (c->grace_ms == UINT32_MAX)
			return 0;
		grace = (uint64_t)c->grace_ms * 1000000u;
		/* A clock set back makes the slot reusable too early at
		 * worst by the step: prefer that to never. */
		return now < r->free_ns || now - r->free_ns >= grace;
	default:
		return 0;
	}
}

/* Write the counter a at ids cand.. (all reusable; the lock is held) and
 * publish it, under an intent: a holder killed before the head is active
 * leaves a counter the next holder rolls back. */
static void make_counter(const mmds_counters *c, uint32_t cand,
			 const struct alloc_args *a)
{
	struct mmds__cnt_record img;

	set_intent(c, MMDS__CNT_INTENT(MMDS__CNT_INTENT_ALLOC, cand, a->stripes));
	MMDS_CRASH("counters.alloc.intent");
	for (uint32_t k = 0; k < a->stripes; k++) {
		struct mmds__cnt_record *r = rec(c, cand + k);
		uint64_t gen = GEN(load_state(r)) + 1;

		store_state(r, MAKE_STATE(gen, MMDS__CNT_RESERVED),
			    memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		MMDS_CRASH("counters.alloc.reserved");
		atomic_store_explicit(val(c, cand + k), 0, memory_order_relaxed);
		MMDS_CRASH("counters.alloc.value_zeroed");
		memset(&img, 0, sizeof(img));
		img.kind = a->kind;
		img.stripes = a->stripes;
		img.head = cand;
		if (k == 0) {
			img.label_len = (uint32_t)a->len;
			memcpy(img.label, a->label, a->len);
			memcpy(img.help, a->help, a->help_len);
		}
		if (k == 1 && a->shape)
			memcpy((char *)&img + MMDS__CNT_SHAPE_OFF, a->shape,
			       sizeof(*a->shape));
		rec_store(r, &img);
		MMDS_CRASH("counters.alloc.record_written");
	}
	/* Stripes first, the head last: a reader that sees the head active
	 * sees every stripe made. */
	for (uint32_t k = a->stripes; k-- > 1;) {
		struct mmds__cnt_record *r = rec(c, cand + k);

		store_state(r, MAKE_STATE(GEN(load_state(r)), MMDS__CNT_STRIPE),
			    memory_order_release);
		MMDS_CRASH("counters.alloc.stripe_published");
	}
	store_state(rec(c, cand),
		    MAKE_STATE(GEN(load_state(rec(c, cand))), MMDS__CNT_ACTIVE),
		    memory_order_release);
	MMDS_CRASH("counters.alloc.head_published");
	clear_intent(c);
	MMDS_CRASH("counters.alloc.intent_cleared");
}

static int alloc_locked(void *arg)
{
	struct alloc_args *a = arg;
	mmds_counters *c = a->c;
	uint64_t now = now_ns();
	uint32_t run = 0, cand = UINT32_MAX;

	for (uint32_t i = 0; i < c->cap; i++) {
		struct mmds__cnt_record *r = rec(c, i);
		uint64_t w;

		reclaim_if_orphan(c, i, now);
		w = load_state(r);
		if (STATE(w) == MMDS__CNT_ACTIVE && r->label_len == a->len &&
		    memcmp(r->label, a->label, a->len) == 0 &&
		    r->label[a->len] == 0) {
			struct mmds__cnt_shape sh;

			if (r->kind != a->kind || r->stripes != a->stripes)
				return -EEXIST;
			if (a->shape && (shape_load(c, i, a->stripes, &sh) != 0 ||
					 memcmp(&sh, a->shape, sizeof(sh)) != 0))
				return -EEXIST;
			return (int)i;
		}
		if (cand != UINT32_MAX)
			continue;
		run = reusable(c, r, now) ? run + 1 : 0;
		if (run == a->stripes)
			cand = i + 1 - a->stripes;
	}
	if (cand == UINT32_MAX)
		return -ENOSPC;
	make_counter(c, cand, a);
	return (int)cand;
}

int mmds_counters_alloc(mmds_counters *c, const char *label,
			const mmds_counter_def *def)
{
	static const mmds_counter_def none;
	const mmds_counter_def *d = def ? def : &none;
	struct alloc_args a;
	int rc;

	if (c == NULL || label == NULL)
		return -EINVAL;
	a.c = c;
	a.label = label;
	a.len = strnlen(label, MMDS_COUNTERS_LABEL_MAX);
	a.help = d->help ? d->help : "";
	a.help_len = strnlen(a.help, MMDS_COUNTERS_HELP_MAX);
	a.kind = d->kind ? d->kind : MMDS_COUNTER;
	a.stripes = d->stripes ? d->stripes : 1;
	a.shape = NULL;
	if (a.len == 0 || a.len >= MMDS_COUNTERS_LABEL_MAX ||
	    !text_ok(label, a.len) || a.help_len >= MMDS_COUNTERS_HELP_MAX ||
	    !text_ok(a.help, a.help_len) ||
	    (a.kind != MMDS_COUNTER && a.kind != MMDS_GAUGE) ||
	    a.stripes > MMDS_COUNTERS_MAX_STRIPES ||
	    (a.stripes > 1 && c->stride != MMDS__FMT_CACHELINE))
		return -EINVAL;
	if (c->readonly)
		return -EACCES;
	rc = lock_alloc(c);
	if (rc < 0)
		return rc;
	rc = mmds_guard_run(alloc_locked, &a);
	unlock_alloc(c);
	return rc;
}

struct find_args {
	mmds_counters *c;
	const char *label;
	size_t len;
};

static int find_fn(void *arg)
{
	struct find_args *a = arg;
	mmds_counter_info info;

	for (uint32_t i = 0; i < a->c->cap; i++) {
		const struct mmds__cnt_record *r = rec(a->c, i);

		if (STATE(load_state(r)) != MMDS__CNT_ACTIVE)
			continue;
		if (read_entry_retry(a->c, i, &info) == 0 &&
		    memcmp(info.label, a->label, a->len + 1) == 0)
			return (int)i;
	}
	return -ENOENT;
}

int mmds_counters_find(mmds_counters *c, const char *label)
{
	struct find_args a = { c, label, 0 };

	if (c == NULL || label == NULL)
		return -EINVAL;
	a.len = strnlen(label, MMDS_COUNTERS_LABEL_MAX);
	if (a.len == 0 || a.len >= MMDS_COUNTERS_LABEL_MAX)
		return -ENOENT;
	return mmds_guard_run(find_fn, &a);
}

struct free_args {
	mmds_counters *c;
	uint32_t id;
};

static int free_locked(void *arg)
{
	struct free_args *a = arg;
	mmds_counters *c = a->c;
	struct mmds__cnt_record *r = rec(c, a->id);
	uint64_t w = load_state(r), now = now_ns();
	uint32_t stripes;

	if (STATE(w) != MMDS__CNT_ACTIVE)
		return -ENOENT;
	stripes = stripes_of(c, a->id, rec_stripes(r));
	if (stripes == 0)
		stripes = 1;
	set_intent(c, MMDS__CNT_INTENT(MMDS__CNT_INTENT_FREE, a->id, stripes));
	MMDS_CRASH("counters.free.intent");
	/* The head first: readers stop seeing the counter before its
	 * stripes change. */
	set_freed(r, now);
	MMDS_CRASH("counters.free.head_freed");
	for (uint32_t k = 1; k < stripes; k++) {
		struct mmds__cnt_record *s = rec(c, a->id + k);

		if (STATE(load_state(s)) != MMDS__CNT_STRIPE ||
		    rec_head(s) != a->id)
			break;
		set_freed(s, now);
		MMDS_CRASH("counters.free.stripe_freed");
	}
	clear_intent(c);
	MMDS_CRASH("counters.free.intent_cleared");
	return 0;
}

int mmds_counters_free(mmds_counters *c, int id)
{
	struct free_args a;
	int rc;

	if (c == NULL || id < 0 || (uint32_t)id >= c->cap)
		return -EINVAL;
	if (c->readonly)
		return -EACCES;
	a.c = c;
	a.id = (uint32_t)id;
	rc = lock_alloc(c);
	if (rc < 0)
		return rc;
	rc = mmds_guard_run(free_locked, &a);
	unlock_alloc(c);
	return rc;
}

/* ---- histograms ---------------------------------------------------------- */

int mmds_counters_alloc_histogram(mmds_counters *c, const char *label,
				  const mmds_histogram_def *def)
{
	struct mmds__cnt_shape sh;
	struct alloc_args a;
	uint32_t groups;
	int rc;

	if (c == NULL || label == NULL || def == NULL || def->bounds == NULL ||
	    def->nbounds == 0 || def->nbounds > MMDS_HISTOGRAM_MAX_BOUNDS)
		return -EINVAL;
	groups = def->stripes ? def->stripes : 1;
	if (groups > MMDS_COUNTERS_MAX_STRIPES / (def->nbounds + 2) ||
	    (groups > 1 && c->stride != MMDS__FMT_CACHELINE))
		return -EINVAL;
	memset(&sh, 0, sizeof(sh));
	sh.nbounds = def->nbounds;
	sh.groups = groups;
	for (uint32_t i = 0; i < def->nbounds; i++) {
		if (!isfinite(def->bounds[i]) ||
		    (i > 0 && !(def->bounds[i] > def->bounds[i - 1])))
			return -EINVAL;
		/* -0.0 and 0.0 are one bound: store one bit pattern */
		sh.bounds[i] = def->bounds[i] == 0 ? 0.0 : def->bounds[i];
	}
	a.c = c;
	a.label = label;
	a.len = strnlen(label, MMDS_COUNTERS_LABEL_MAX);
	a.help = def->help ? def->help : "";
	a.help_len = strnlen(a.help, MMDS_COUNTERS_HELP_MAX);
	a.kind = MMDS_HISTOGRAM;
	a.stripes = groups * (def->nbounds + 2);
	a.shape = &sh;
	if (a.len == 0 || a.len >= MMDS_COUNTERS_LABEL_MAX ||
	    !text_ok(label, a.len) || a.help_len >= MMDS_COUNTERS_HELP_MAX ||
	    !text_ok(a.help, a.help_len))
		return -EINVAL;
	if (c->readonly)
		return -EACCES;
	rc = lock_alloc(c);
	if (rc < 0)
		return rc;
	rc = mmds_guard_run(alloc_locked, &a);
	unlock_alloc(c);
	return rc;
}

struct hist_args {
	mmds_counters *c;
	uint32_t id;
	double v;
	mmds_histogram_info *out;
};

/* The head record of histogram id and its shape: 0, -ENOENT, -EINVAL (not
 * a histogram), -EBADMSG. */
static int hist_head(const mmds_counters *c, uint32_t id,
		     struct mmds__cnt_shape *sh, uint64_t *state)
{
	const struct mmds__cnt_record *r = rec(c, id);
	uint32_t stripes;

	*state = load_state(r);
	if (STATE(*state) != MMDS__CNT_ACTIVE)
		return -ENOENT;
	if (rec_kind(r) != MMDS_HISTOGRAM)
		return -EINVAL;
	stripes = stripes_of(c, id, rec_stripes(r));
	if (stripes == 0)
		return -EBADMSG;
	return shape_load(c, id, stripes, sh);
}

/* The word at byte off of record r, relaxed (fields are copied seqlock
 * style; these are stable while the head is active). */
static uint64_t rec_word(const struct mmds__cnt_record *r, unsigned off)
{
	return atomic_load_explicit(
		(_Atomic uint64_t *)(uintptr_t)((const uint8_t *)r + off),
		memory_order_relaxed);
}

/* The hot path reads only the words it needs: the head's kind and stripes,
 * the shape's counts, and the bounds up to the bucket.  Counts are checked
 * (no access outside the histogram's ids); bounds that a hostile file made
 * unordered only pick another bucket of the same histogram. */
static int observe_fn(void *arg)
{
	struct hist_args *a = arg;
	const struct mmds__cnt_record *r = rec(a->c, a->id), *r1;
	struct mmds__cnt_record tmp;
	uint32_t stripes, nb, groups, b = 0, base;
	uint64_t w, old, nw;
	_Atomic uint64_t *sum;
	double d;

	if (STATE(load_state(r)) != MMDS__CNT_ACTIVE)
		return -ENOENT;
	w = rec_word(r, 16);
	memcpy(&tmp.kind, &w, 8);
	if (tmp.kind != MMDS_HISTOGRAM)
		return -EINVAL;
	stripes = stripes_of(a->c, a->id, tmp.stripes);
	if (stripes < 3)
		return -EBADMSG;
	r1 = rec(a->c, a->id + 1);
	w = rec_word(r1, MMDS__CNT_SHAPE_OFF);
	{
		uint32_t two[2]; /* nbounds, groups in the writer's byte order */

		memcpy(two, &w, 8);
		nb = two[0];
		groups = two[1];
	}
	if (nb == 0 || nb > MMDS_HISTOGRAM_MAX_BOUNDS || groups == 0 ||
	    groups > MMDS_COUNTERS_MAX_STRIPES || groups * (nb + 2) != stripes)
		return -EBADMSG;
	for (; b < nb; b++) {
		w = rec_word(r1, MMDS__CNT_SHAPE_OFF + 8 + 8 * b);
		memcpy(&d, &w, 8);
		if (a->v <= d)
			break;
	}
	base = a->id + (groups > 1 ? my_stripe(groups) : 0) * (nb + 2);
	atomic_fetch_add(val(a->c, base + b), 1);
	sum = val(a->c, base + nb + 1);
	old = atomic_load_explicit(sum, memory_order_relaxed);
	do {
		memcpy(&d, &old, 8);
		d += a->v;
		memcpy(&nw, &d, 8);
	} while (!atomic_compare_exchange_weak(sum, &old, nw));
	return 0;
}

int mmds_counters_observe(mmds_counters *c, int id, double v)
{
	struct hist_args a = { c, 0, v, NULL };

	if (c == NULL || id < 0 || (uint32_t)id >= c->cap || isnan(v))
		return -EINVAL;
	if (c->readonly)
		return -EACCES;
	a.id = (uint32_t)id;
	return mmds_guard_run(observe_fn, &a);
}

static int hist_read_fn(void *arg)
{
	struct hist_args *a = arg;
	mmds_histogram_info *o = a->out;

	for (int tries = 0; tries < 100; tries++) {
		struct mmds__cnt_shape sh;
		uint64_t s1, s2, acc = 0;
		int rc = hist_head(a->c, a->id, &sh, &s1);

		if (rc < 0)
			return rc;
		memset(o, 0, sizeof(*o));
		o->nbounds = sh.nbounds;
		memcpy(o->bounds, sh.bounds, sizeof(o->bounds));
		for (uint32_t g = 0; g < sh.groups; g++) {
			uint32_t base = a->id + g * (sh.nbounds + 2);
			uint64_t w = atomic_load_explicit(val(a->c, base + sh.nbounds + 1),
							  memory_order_relaxed);
			double d;

			for (uint32_t b = 0; b <= sh.nbounds; b++)
				o->buckets[b] += atomic_load_explicit(
					val(a->c, base + b), memory_order_relaxed);
			memcpy(&d, &w, 8);
			o->sum += d;
		}
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(
			(_Atomic uint64_t *)(uintptr_t)&rec(a->c, a->id)->state,
			memory_order_relaxed);
		if (s1 != s2)
			continue;
		for (uint32_t b = 0; b <= sh.nbounds; b++) {
			acc += o->buckets[b];
			o->buckets[b] = acc;
		}
		o->count = acc;
		return 0;
	}
	return -ENOENT;
}

int mmds_counters_histogram(mmds_counters *c, int id, mmds_histogram_info *out)
{
	struct hist_args a = { c, 0, 0, out };

	if (c == NULL || out == NULL || id < 0 || (uint32_t)id >= c->cap)
		return -EINVAL;
	a.id = (uint32_t)id;
	return mmds_guard_run(hist_read_fn, &a);
}

/* ---- operations ---------------------------------------------------------- */

enum op { OP_ADD, OP_SUB, OP_GET, OP_SET, OP_XCHG, OP_CAS, OP_AND, OP_OR,
	  OP_XOR };

struct op_args {
	mmds_counters *c;
	uint32_t id;
	enum op op;
	uint64_t v;
	uint64_t *out; /* old value, get's value, cas's expected */
};

static int op_fn(void *arg)
{
	struct op_args *a = arg;
	const mmds_counters *c = a->c;
	const struct mmds__cnt_record *r = rec(c, a->id);
	uint32_t stripes;
	_Atomic uint64_t *p;
	uint64_t prev = 0;

	if (STATE(load_state(r)) != MMDS__CNT_ACTIVE)
		return -ENOENT;
	if (rec_kind(r) == MMDS_HISTOGRAM)
		return -EINVAL; /* its words are buckets and a sum */
	stripes = stripes_of(c, a->id, rec_stripes(r));
	if (stripes == 0)
		return -EBADMSG;
	p = val(c, a->id);
	if (stripes > 1) {
		switch (a->op) {
		case OP_ADD:
		case OP_SUB:
			p = val(c, a->id + my_stripe(stripes));
			break;
		case OP_GET:
			for (uint32_t k = 0; k < stripes; k++)
				prev += atomic_load(val(c, a->id + k));
			*a->out = prev;
			return 0;
		case OP_SET:
			for (uint32_t k = 1; k < stripes; k++)
				atomic_store(val(c, a->id + k), 0);
			break;
		default:
			return -EINVAL;
		}
	}
	switch (a->op) {
	case OP_ADD: prev = atomic_fetch_add(p, a->v); break;
	case OP_SUB: prev = atomic_fetch_sub(p, a->v); break;
	case OP_GET: prev = atomic_load(p); break;
	case OP_SET: atomic_store(p, a->v); return 0;
	case OP_XCHG: prev = atomic_exchange(p, a->v); break;
	case OP_AND: prev = atomic_fetch_and(p, a->v); break;
	case OP_OR: prev = atomic_fetch_or(p, a->v); break;
	case OP_XOR: prev = atomic_fetch_xor(p, a->v); break;
	case OP_CAS:
		return atomic_compare_exchange_strong(p, a->out, a->v) ? 1 : 0;
	}
	if (a->out)
		*a->out = prev;
	return 0;
}

static int run_op(mmds_counters *c, int id, enum op op, uint64_t v,
		  uint64_t *out)
{
	struct op_args a = { c, 0, op, v, out };

	if (c == NULL || id < 0 || (uint32_t)id >= c->cap)
		return -EINVAL;
	if (c->readonly && op != OP_GET)
		return -EACCES;
	a.id = (uint32_t)id;
	return mmds_guard_run(op_fn, &a);
}

/* The hot path of add, sub and get on a plain counter: the checks of
 * op_fn() through three guarded accesses of map.h (state, kind and
 * stripes, value), each one instruction on x86-64, instead of a
 * sigsetjmp guard around op_fn().  Returns 1 when the counter is not
 * plain (op_fn() handles it), else op_fn()'s result. */
static inline __attribute__((always_inline)) int
fast_op(mmds_counters *c, int id, enum op op, uint64_t v, uint64_t *out)
{
	const struct mmds__cnt_record *r;
	struct mmds__cnt_record tmp;
	uint64_t st, ks;
	int err;

	if (c == NULL || id < 0 || (uint32_t)id >= c->cap)
		return -EINVAL;
	if (c->readonly && op != OP_GET)
		return -EACCES;
	r = rec(c, (uint32_t)id);
	/* Seq_cst (a plain load on x86-64), so acquire as load_state(). */
	err = mmds_ptr_load64(&r->state, &st);
	if (err)
		return err;
	if (STATE(st) != MMDS__CNT_ACTIVE)
		return -ENOENT;
	err = mmds_ptr_load64((const uint8_t *)r + 16, &ks);
	if (err)
		return err;
	memcpy(&tmp.kind, &ks, 8); /* kind and stripes, as rec_stripes() */
	if (tmp.stripes != 1 || tmp.kind == MMDS_HISTOGRAM)
		return 1;
	switch (op) {
	case OP_ADD:
		return mmds_ptr_add64(val(c, (uint32_t)id), v, out);
	case OP_SUB:
		return mmds_ptr_add64(val(c, (uint32_t)id), (uint64_t)0 - v, out);
	default:
		return mmds_ptr_load64(val(c, (uint32_t)id), out);
	}
}

/* Out of line, so the hot path sets up no frame for it. */
static __attribute__((noinline)) int slow_op(mmds_counters *c, int id,
					     enum op op, uint64_t v,
					     uint64_t *out)
{
	return run_op(c, id, op, v, out);
}

static inline __attribute__((always_inline)) int
add_op(mmds_counters *c, int id, enum op op, uint64_t v, uint64_t *out)
{
	int rc = fast_op(c, id, op, v, out);

	return rc == 1 ? slow_op(c, id, op, v, out) : rc;
}

int mmds_counters_add(mmds_counters *c, int id, uint64_t v, uint64_t *old)
{
	return add_op(c, id, OP_ADD, v, old);
}

int mmds_counters_sub(mmds_counters *c, int id, uint64_t v, uint64_t *old)
{
	return add_op(c, id, OP_SUB, v, old);
}

int mmds_counters_inc(mmds_counters *c, int id, uint64_t *old)
{
	return add_op(c, id, OP_ADD, 1, old);
}

int mmds_counters_dec(mmds_counters *c, int id, uint64_t *old)
{
	return add_op(c, id, OP_SUB, 1, old);
}

int mmds_counters_get(mmds_counters *c, int id, uint64_t *v)
{
	if (v == NULL)
		return -EINVAL;
	return add_op(c, id, OP_GET, 0, v);
}

int mmds_counters_set(mmds_counters *c, int id, uint64_t v)
{
	return run_op(c, id, OP_SET, v, NULL);
}

int mmds_counters_exchange(mmds_counters *c, int id, uint64_t v,
			   uint64_t *old)
{
	return run_op(c, id, OP_XCHG, v, old);
}

int mmds_counters_cas(mmds_counters *c, int id, uint64_t *expected,
		      uint64_t desired)
{
	if (expected == NULL)
		return -EINVAL;
	return run_op(c, id, OP_CAS, desired, expected);
}

int mmds_counters_and(mmds_counters *c, int id, uint64_t v, uint64_t *old)
{
	return run_op(c, id, OP_AND, v, old);
}

int mmds_counters_or(mmds_counters *c, int id, uint64_t v, uint64_t *old)
{
	return run_op(c, id, OP_OR, v, old);
}

int mmds_counters_xor(mmds_counters *c, int id, uint64_t v, uint64_t *old)
{
	return run_op(c, id, OP_XOR, v, old);
}

int mmds_counters_reset(mmds_counters *c, int id)
{
	return run_op(c, id, OP_SET, 0, NULL);
}

int mmds_counters_reset_all(mmds_counters *c)
{
	if (c == NULL)
		return -EINVAL;
	for (uint32_t i = 0; i < c->cap; i++) {
		int err = run_op(c, (int)i, OP_SET, 0, NULL);

		if (err < 0 && err != -ENOENT && err != -EBADMSG)
			return err;
	}
	return 0;
}

struct slot_args {
	mmds_counters *c;
	uint32_t id;
	uint64_t *slot;
};

static int slot_fn(void *arg)
{
	struct slot_args *a = arg;
	const struct mmds__cnt_record *r = rec(a->c, a->id);
	uint32_t stripes;

	if (STATE(load_state(r)) != MMDS__CNT_ACTIVE)
		return -ENOENT;
	if (rec_kind(r) == MMDS_HISTOGRAM)
		return -EINVAL;
	stripes = stripes_of(a->c, a->id, rec_stripes(r));
	if (stripes == 0)
		return -EBADMSG;
	a->slot = (uint64_t *)(void *)val(a->c, a->id + my_stripe(stripes));
	return 0;
}

uint64_t *mmds_counters_slot(mmds_counters *c, int id)
{
	struct slot_args a = { c, 0, NULL };

	if (c == NULL || c->readonly || id < 0 || (uint32_t)id >= c->cap)
		return NULL;
	a.id = (uint32_t)id;
	return mmds_guard_run(slot_fn, &a) == 0 ? a.slot : NULL;
}

/* ---- listing ------------------------------------------------------------- */

struct describe_args {
	mmds_counters *c;
	uint32_t id;
	mmds_counter_info *out;
};

static int describe_fn(void *arg)
{
	struct describe_args *a = arg;

	return read_entry_retry(a->c, a->id, a->out);
}

int mmds_counters_describe(mmds_counters *c, int id, mmds_counter_info *out)
{
	struct describe_args a = { c, 0, out };

	if (c == NULL || out == NULL || id < 0 || (uint32_t)id >= c->cap)
		return -EINVAL;
	a.id = (uint32_t)id;
	return mmds_guard_run(describe_fn, &a);
}

struct snap_args {
	mmds_counters *c;
	mmds_counter_info *out;
	size_t cap;
};

static int snap_fn(void *arg)
{
	struct snap_args *a = arg;
	mmds_counter_info tmp;
	int n = 0;

	for (uint32_t i = 0; i < a->c->cap; i++) {
		mmds_counter_info *e = (size_t)n < a->cap ? &a->out[n] : &tmp;

		if (read_entry_retry(a->c, i, e) == 0)
			n++;
	}
	return n;
}

int mmds_counters_snapshot(mmds_counters *c, mmds_counter_info *out,
			   size_t cap)
{
	struct snap_args a = { c, out, cap };

	if (c == NULL || (out == NULL && cap > 0))
		return -EINVAL;
	return mmds_guard_run(snap_fn, &a);
}

static int count_fn(void *arg)
{
	const mmds_counters *c = arg;
	int n = 0;

	for (uint32_t i = 0; i < c->cap; i++) {
		unsigned s = STATE(load_state(rec(c, i)));

		n += s == MMDS__CNT_ACTIVE || s == MMDS__CNT_STRIPE;
	}
	return n;
}

int mmds_counters_get_stat(mmds_counters *c, mmds_counters_stat *st)
{
	int n;

	if (c == NULL || st == NULL)
		return -EINVAL;
	n = mmds_guard_run(count_fn, c);
	if (n < 0)
		return n;
	memset(st, 0, sizeof(*st));
	st->capacity = c->cap;
	st->used = (uint32_t)n;
	st->stride = c->stride;
	st->grace_ms = c->grace_ms;
	st->file_size = c->file_size;
	st->created_ns = c->created_ns;
	return 0;
}

/* ---- emmap's API ---------------------------------------------------------- */

struct open_n_args {
	mmds_counters *c;
	uint32_t n;
};

/* j if label is "counter_<j>" in canonical decimal, else UINT32_MAX. */
static uint32_t counter_number(const char *label, uint32_t len)
{
	uint64_t j = 0;

	if (len <= 8 || len > 18 || memcmp(label, "counter_", 8) != 0 ||
	    (label[8] == '0' && len > 9))
		return UINT32_MAX;
	for (uint32_t i = 8; i < len; i++) {
		if (label[i] < '0' || label[i] > '9')
			return UINT32_MAX;
		j = j * 10 + (uint64_t)(label[i] - '0');
	}
	return j < UINT32_MAX ? (uint32_t)j : UINT32_MAX;
}

/* One pass instead of n allocations: ids 0..n-1 must be free or hold
 * counter_<id>, and no other id may hold a counter_<j> with j < n. */
static int open_n_locked(void *arg)
{
	struct open_n_args *a = arg;
	mmds_counters *c = a->c;
	uint64_t now = now_ns();

	for (uint32_t i = 0; i < c->cap; i++) {
		const struct mmds__cnt_record *r = rec(c, i);
		uint64_t w;

		reclaim_if_orphan(c, i, now);
		w = load_state(r);
		if (STATE(w) == MMDS__CNT_ACTIVE) {
			uint32_t len = r->label_len,
				 j = len < MMDS_COUNTERS_LABEL_MAX ?
					     counter_number(r->label, len) :
					     UINT32_MAX;

			if (j < a->n && (j != i || r->kind != MMDS_COUNTER ||
					 r->stripes != 1))
				return -EEXIST;
			if (i < a->n && j != i)
				return -EEXIST;
		} else if (i < a->n && !reusable(c, r, now)) {
			return -EEXIST;
		}
	}
	for (uint32_t i = 0; i < a->n; i++) {
		char label[32];
		struct alloc_args al = { c, label, 0, "", 0, MMDS_COUNTER, 1, NULL };

		if (STATE(load_state(rec(c, i))) == MMDS__CNT_ACTIVE)
			continue;
		al.len = (size_t)snprintf(label, sizeof(label),
					  "counter_%" PRIu32, i);
		make_counter(c, i, &al);
	}
	return 0;
}

int mmds_counters_open_n(mmds_counters **out, const char *path, uint32_t n)
{
	mmds_counters *c;
	int err;

	if (out)
		*out = NULL;
	if (out == NULL || path == NULL || n == 0 ||
	    n > MMDS_COUNTERS_MAX_CAPACITY)
		return -EINVAL;
	err = mmds_counters_open(&c, path,
				 &(mmds_counters_opts){
					 .flags = MMDS_COUNTERS_CREATE,
					 .capacity = n });
	if (err < 0)
		return err;
	if (c->cap < n)
		err = -ERANGE;
	if (err == 0)
		err = lock_alloc(c);
	if (err == 0) {
		struct open_n_args a = { c, n };

		err = mmds_guard_run(open_n_locked, &a);
		unlock_alloc(c);
	}
	if (err < 0) {
		mmds_counters_close(c);
		return err;
	}
	*out = c;
	return 0;
}
