/* flush.c - flush policies: counting writes, flushing the dirty range, and
 * the process's one background flusher thread for MMDS_FLUSH_MILLIS. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "map_internal.h"

#define NS_PER_MS UINT64_C(1000000)
#define NS_PER_S UINT64_C(1000000000)

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Raise *a to v unless it is already there. */
static void store_max(_Atomic uint64_t *a, uint64_t v)
{
	uint64_t cur = atomic_load(a);

	while (cur < v && !atomic_compare_exchange_weak(a, &cur, v))
		;
}

/* Move *mark to now if now is at least n past it.  True for exactly one
 * caller per crossing: a CAS, not a store, so a racing writer that saw the
 * same crossing finds the mark moved and backs off. */
static bool claim(_Atomic uint64_t *mark, uint64_t now, uint64_t n)
{
	uint64_t cur = atomic_load(mark);

	while (cur < now && now - cur >= n) {
		if (atomic_compare_exchange_weak(mark, &cur, now))
			return true;
	}
	return false;
}

/* ---- the dirty range -------------------------------------------------------
 * Packed in one word (see flush.h) so that a flush takes it out with one
 * exchange: with two words, a write landing between the two exchanges could
 * leave its start in one flush and its end in the next, and be half lost. */

static uint64_t pack(uint64_t lo, uint64_t hi)
{
	return hi << 32 | lo;
}

static uint64_t range_lo(uint64_t w)
{
	return w & UINT32_MAX;
}

static uint64_t range_hi(uint64_t w)
{
	return w >> 32;
}

/* The granules covering [off, off + len) of the map, len > 0. */
static uint64_t range_of(const struct mmds_map *m, uint64_t off, uint64_t len)
{
	unsigned s = m->flush.gshift;
	uint64_t a = m->delta + off;

	return pack(a >> s, (a + len + (UINT64_C(1) << s) - 1) >> s);
}

/* Widen the dirty range to cover add.  Lock-free; no store when the range
 * already covers it, so rewriting a hot spot does not bounce the line. */
static void range_add(struct mmds__flush *f, uint64_t add)
{
	uint64_t cur = atomic_load(&f->range), want;

	do {
		if (cur == 0) {
			want = add;
		} else {
			want = pack(min64(range_lo(cur), range_lo(add)),
				    max64(range_hi(cur), range_hi(add)));
			if (want == cur)
				return;
		}
	} while (!atomic_compare_exchange_weak(&f->range, &cur, want));
}

/* Sync the granule range w, clamped to the map's current size (it may have
 * shrunk since the writes). */
static int sync_granules(mmds_map *m, uint64_t w, int level)
{
	unsigned s = m->flush.gshift;
	uint64_t a = range_lo(w) << s, b = range_hi(w) << s;
	uint64_t off = a > m->delta ? a - m->delta : 0;
	uint64_t end = b > m->delta ? b - m->delta : 0;
	int err = 0;

	for (int tries = 0; tries < 4; tries++) {
		end = min64(end, mmds_map_size(m));
		if (off >= end)
			return 0; /* a shrink cut all of it off */
		err = mmds_map_sync_range(m, off, end - off,
					  (enum mmds_sync_level)level);
		if (err != -ERANGE)
			break; /* -ERANGE: it shrank meanwhile; clamp again */
	}
	return err;
}

/* Set while this thread's flush_now() syncs, so that the sync's own
 * mmds__flush_synced() leaves the accounting to it. */
static _Thread_local bool in_flush;

/* Whether a write was counted that no finished flush has covered. */
static bool is_dirty(struct mmds__flush *f)
{
	return atomic_load(&f->range) != 0 ||
	       atomic_load(&f->done_bytes) != atomic_load(&f->nbytes);
}

/*
 * Flush the dirty range (or, with whole, the whole map) at level.
 *
 * Guarantee: a write whose mmds__flush_note() returned before this call
 * took flush.lock is on the file at level when this call returns 0: either
 * its range is in w, or an earlier flush took it, and that flush finished
 * (or failed and put the range back) before releasing flush.lock.  A write
 * noted concurrently is covered by this flush or stays in the range for the
 * next one.  On error the range is put back and the counts are not
 * advanced, so nothing is lost from the pending count either.
 */
static int flush_now(mmds_map *m, int level, bool whole)
{
	struct mmds__flush *f = &m->flush;
	uint64_t nb, nw, w;
	int err = 0;

	pthread_mutex_lock(&f->lock);
	/* Counts before the range: a write counted in nb widened the range
	 * before it bumped nbytes, so w (or an earlier flush) covers it. */
	nb = atomic_load(&f->nbytes);
	nw = atomic_load(&f->nwrites);
	w = atomic_exchange(&f->range, 0);
	in_flush = true; /* this flush does its own accounting */
	if (whole)
		err = mmds_map_sync_range(m, 0, 0, (enum mmds_sync_level)level);
	else if (w)
		err = sync_granules(m, w, level);
	in_flush = false;
	if (err) {
		if (w)
			range_add(f, w);
		pthread_mutex_unlock(&f->lock);
		return err;
	}
	store_max(&f->done_bytes, nb);
	store_max(&f->mark_bytes, nb);
	store_max(&f->mark_writes, nw);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/* A flush nobody is waiting for: keep its error for mmds_map_flush(). */
static void flush_detached(mmds_map *m)
{
	int err = flush_now(m, atomic_load(&m->flush.level), false);

	if (err)
		atomic_store(&m->flush.error, err);
}

/* ---- the flusher thread ----------------------------------------------------
 * One per process, running while the list of MILLIS maps is not empty.  It
 * holds fl.lock only to walk the list; it flushes with fl.lock released and
 * the map marked `flushing`, which close waits on before the map is freed.
 * Nothing else is ever taken while fl.lock is held, and fl.lock is never
 * taken while a map's flush.lock or m->lock is held. */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* the flusher's sleep; close's wait */
	pthread_condattr_t cattr;
	clockid_t clock;         /* cond's clock */
	struct mmds_map *head;   /* maps in MILLIS mode */
	pthread_t tid;
	bool running;
	uintptr_t gen;           /* bumped to stop the running thread */
} fl = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t fl_once = PTHREAD_ONCE_INIT;
/* A fork left the child with registered maps and no thread: the next
 * MILLIS write in the child starts one.  Relaxed: a hint, rechecked under
 * fl.lock. */
static atomic_bool fl_orphaned;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void fl_prepare(void)
{
	pthread_mutex_lock(&fl.lock);
}

static void fl_parent(void)
{
	pthread_mutex_unlock(&fl.lock);
}

/* The child has no flusher thread, whatever fl says. */
static void fl_child(void)
{
	fl.running = false;
	fl.gen++;
	for (struct mmds_map *m = fl.head; m; m = m->flush.next)
		m->flush.flushing = false;
	pthread_cond_init(&fl.cond, &fl.cattr);
	atomic_store_explicit(&fl_orphaned, fl.head != NULL,
			      memory_order_relaxed);
	pthread_mutex_unlock(&fl.lock);
}

static void fl_init(void)
{
	pthread_condattr_init(&fl.cattr);
	fl.clock = CLOCK_MONOTONIC;
	if (pthread_condattr_setclock(&fl.cattr, CLOCK_MONOTONIC) != 0)
		fl.clock = CLOCK_REALTIME;
	pthread_cond_init(&fl.cond, &fl.cattr);
	pthread_atfork(fl_prepare, fl_parent, fl_child);
}

/* Sleep until the monotonic time deadline (UINT64_MAX: until woken). */
static void fl_sleep(uint64_t deadline)
{
	struct timespec ts;
	uint64_t t;

	if (deadline == UINT64_MAX) {
		pthread_cond_wait(&fl.cond, &fl.lock);
		return;
	}
	t = deadline;
	if (fl.clock != CLOCK_MONOTONIC) {
		uint64_t now = now_ns();

		clock_gettime(fl.clock, &ts);
		t = (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
		t = sat_add(t, deadline > now ? deadline - now : 0);
	}
	/* Clamped for a 32-bit time_t: 68 years is "never" here. */
	ts.tv_sec = (time_t)min64(t / NS_PER_S, INT32_MAX);
	ts.tv_nsec = (long)(t % NS_PER_S);
	pthread_cond_timedwait(&fl.cond, &fl.lock, &ts);
}

/* The next deadline of a map flushed (or found clean) at now. */
static uint64_t next_deadline(const struct mmds__flush *f, uint64_t now)
{
	uint64_t d = sat_add(f->deadline, f->period_ns);

	return d > now ? d : sat_add(now, f->period_ns);
}

static void *flusher_main(void *arg)
{
	uintptr_t gen = (uintptr_t)arg;

	pthread_mutex_lock(&fl.lock);
	while (fl.gen == gen) {
		uint64_t now = now_ns(), next = UINT64_MAX;
		struct mmds_map *pick = NULL;

		for (struct mmds_map *m = fl.head; m; m = m->flush.next) {
			struct mmds__flush *f = &m->flush;

			if (f->deadline <= now) {
				if (is_dirty(f)) {
					pick = m;
					break;
				}
				f->deadline = next_deadline(f, now);
			}
			next = min64(next, f->deadline);
		}
		if (pick == NULL) {
			fl_sleep(next);
			continue;
		}
		pick->flush.flushing = true;
		pthread_mutex_unlock(&fl.lock);
		flush_detached(pick);
		pthread_mutex_lock(&fl.lock);
		pick->flush.flushing = false;
		pick->flush.deadline = next_deadline(&pick->flush, now_ns());
		pthread_cond_broadcast(&fl.cond);
	}
	pthread_mutex_unlock(&fl.lock);
	return NULL;
}

/* Start a flusher thread (fl.lock held).  0 or a negative errno. */
static int fl_start(void)
{
	sigset_t all, old;
	pthread_t tid;
	int rc;

	/* The thread inherits this mask: no signal is ever delivered to it. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, NULL, flusher_main, (void *)(fl.gen + 1));
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -rc;
#if defined(__GLIBC__)
	pthread_setname_np(tid, "mmds-flusher");
#endif
	fl.gen++;
	fl.tid = tid;
	fl.running = true;
	atomic_store_explicit(&fl_orphaned, false, memory_order_relaxed);
	return 0;
}

/* Tell the running thread to stop (fl.lock held); the caller joins *tid
 * after releasing fl.lock. */
static void fl_stop(pthread_t *tid)
{
	fl.gen++;
	fl.running = false;
	*tid = fl.tid;
	pthread_cond_broadcast(&fl.cond);
}

static void fl_unlink(struct mmds_map *m)
{
	for (struct mmds_map **p = &fl.head; *p; p = &(*p)->flush.next) {
		if (*p == m) {
			*p = m->flush.next;
			break;
		}
	}
	m->flush.next = NULL;
	m->flush.registered = false;
}

/* In a forked child with inherited MILLIS maps: start the thread. */
static void fl_adopt(void)
{
	pthread_mutex_lock(&fl.lock);
	/* fl_start() clears the flag; on failure the next write tries again. */
	if (fl.head != NULL && !fl.running)
		(void)fl_start();
	else
		atomic_store(&fl_orphaned, false);
	pthread_mutex_unlock(&fl.lock);
}

/* ---- policy -------------------------------------------------------------- */

static int check_policy(const mmds_flush_policy *p)
{
	switch (p->mode) {
	case MMDS_FLUSH_MANUAL:
	case MMDS_FLUSH_ALWAYS:
		break;
	case MMDS_FLUSH_BYTES:
	case MMDS_FLUSH_WRITES:
	case MMDS_FLUSH_MILLIS:
		if (p->every == 0)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	switch ((int)p->level) {
	case 0:
	case MMDS_SYNC_ASYNC:
	case MMDS_SYNC_SYNC:
	case MMDS_SYNC_DURABLE:
		return 0;
	default:
		return -EINVAL;
	}
}

static int apply(mmds_map *m, const mmds_flush_policy *p)
{
	static const mmds_flush_policy manual;
	struct mmds__flush *f = &m->flush;
	pthread_t tid;
	bool join = false;
	int err;

	if (p == NULL)
		p = &manual;
	err = check_policy(p);
	if (err)
		return err;
	pthread_once(&fl_once, fl_init);
	pthread_mutex_lock(&fl.lock);
	if (p->mode == MMDS_FLUSH_MILLIS && !fl.running) {
		err = fl_start();
		if (err)
			goto out; /* nothing changed */
	}
	atomic_store_explicit(&f->every, p->every, memory_order_relaxed);
	atomic_store_explicit(&f->level,
			      p->level ? (int)p->level : MMDS_SYNC_SYNC,
			      memory_order_relaxed);
	if (p->mode == MMDS_FLUSH_MILLIS) {
		f->period_ns = p->every > UINT64_MAX / NS_PER_MS ?
				       UINT64_MAX :
				       p->every * NS_PER_MS;
		f->deadline = sat_add(now_ns(), f->period_ns);
		if (!f->registered) {
			f->next = fl.head;
			fl.head = m;
			f->registered = true;
		}
		pthread_cond_broadcast(&fl.cond);
	} else if (f->registered) {
		fl_unlink(m);
		if (fl.head == NULL && fl.running) {
			fl_stop(&tid);
			join = true;
		}
	}
	atomic_store_explicit(&f->mode, (int)p->mode, memory_order_release);
out:
	pthread_mutex_unlock(&fl.lock);
	if (join)
		pthread_join(tid, NULL);
	return err;
}

/* ---- hooks for map.c ----------------------------------------------------- */

int mmds__flush_open(struct mmds_map *m, const mmds_flush_policy *policy)
{
	struct mmds__flush *f = &m->flush;
	uint64_t span = (uint64_t)m->delta + m->capacity;
	unsigned s = 0;

	while ((UINT64_C(1) << s) < mmds__page_size())
		s++;
	/* Coarser granules only for maps beyond 2^32 pages (16 TiB). */
	while ((span >> s) >= UINT32_MAX)
		s++;
	f->gshift = s;
	atomic_store(&f->level, MMDS_SYNC_SYNC);
	if (pthread_mutex_init(&f->lock, NULL) != 0)
		return -ENOMEM;
	f->inited = true;
	return apply(m, policy);
}

int mmds__flush_close(struct mmds_map *m)
{
	struct mmds__flush *f = &m->flush;
	pthread_t tid;
	bool join = false;
	int err = 0, bg;

	if (!f->inited)
		return 0;
	pthread_once(&fl_once, fl_init);
	pthread_mutex_lock(&fl.lock);
	if (f->registered) {
		fl_unlink(m);
		if (fl.head == NULL && fl.running) {
			fl_stop(&tid);
			join = true;
		}
	}
	while (f->flushing)
		pthread_cond_wait(&fl.cond, &fl.lock);
	pthread_mutex_unlock(&fl.lock);
	if (join)
		pthread_join(tid, NULL);

	if (atomic_load(&f->mode) != MMDS_FLUSH_MANUAL && is_dirty(f))
		err = flush_now(m, atomic_load(&f->level), false);
	bg = atomic_exchange(&f->error, 0);
	pthread_mutex_destroy(&f->lock);
	f->inited = false;
	return err ? err : bg;
}

void mmds__flush_note_slow(struct mmds_map *m, uint64_t off, uint64_t len)
{
	struct mmds__flush *f = &m->flush;
	/* Acquire: pairs with apply()'s release, so `every` is the new one. */
	int mode = atomic_load_explicit(&f->mode, memory_order_acquire);
	uint64_t w, b, every;

	if (len == 0 || mode == MMDS_FLUSH_MANUAL)
		return;
	/* nwrites before the range, nbytes after: see flush_now() and
	 * mmds__flush_synced() for why each side needs its order. */
	w = atomic_fetch_add(&f->nwrites, 1) + 1;
	range_add(f, range_of(m, off, len));
	b = atomic_fetch_add(&f->nbytes, len) + len;
	every = atomic_load_explicit(&f->every, memory_order_relaxed);
	switch (mode) {
	case MMDS_FLUSH_ALWAYS:
		break;
	case MMDS_FLUSH_BYTES:
		if (!claim(&f->mark_bytes, b, every ? every : 1))
			return;
		break;
	case MMDS_FLUSH_WRITES:
		if (!claim(&f->mark_writes, w, every ? every : 1))
			return;
		break;
	default: /* MILLIS: the flusher's business */
		if (atomic_load_explicit(&fl_orphaned, memory_order_relaxed))
			fl_adopt();
		return;
	}
	flush_detached(m);
}

void mmds__flush_presync(struct mmds_map *m)
{
	m->flush.sync_seq = atomic_load(&m->flush.nwrites);
	m->flush.sync_armed = true;
}

/* Whether a sync of [off, off + len) covered the granule range w, as far
 * as w lies inside the map. */
static bool sync_covers(const struct mmds_map *m, uint64_t w, uint64_t off,
			uint64_t len)
{
	uint64_t ps = mmds__page_size();
	unsigned s = m->flush.gshift;
	uint64_t size = atomic_load(&((struct mmds_map *)m)->size);
	uint64_t s0 = (m->delta + off) & ~(ps - 1);
	uint64_t s1 = round_up(m->delta + off + len, ps);
	uint64_t r0 = max64(range_lo(w) << s, m->delta & ~(ps - 1));
	uint64_t r1 = min64(range_hi(w) << s, round_up(m->delta + size, ps));

	return r0 >= r1 || (s0 <= r0 && r1 <= s1);
}

/*
 * Forget what the sync just made durable.  Safe against concurrent writes:
 * a write noted before mmds__flush_presync() wrote its bytes before the
 * msync started, so the msync covered them.  A write that bumped nwrites
 * after it is seen by the check below, which puts the range back; one that
 * bumps nwrites after the check widens the range after the exchange, so it
 * stays dirty.  Writers bump nwrites before widening the range for this.
 *
 * Safe against concurrent flushes: the range is only ever taken out under
 * flush.lock, which is held until it is synced or put back, so a flush
 * never finds it empty while a write is out of it and unsynced.  Under
 * m->lock flush.lock may only be tried (lock order): if a flush holds it,
 * this forgets nothing and the flush, or the next one, syncs the range.
 */
void mmds__flush_synced(struct mmds_map *m, uint64_t off, uint64_t len,
			int level)
{
	struct mmds__flush *f = &m->flush;
	uint64_t nb, w;

	if (!f->sync_armed)
		return;
	f->sync_armed = false;
	if (in_flush || !f->inited || level < atomic_load(&f->level))
		return;
	if (pthread_mutex_trylock(&f->lock) != 0)
		return;
	nb = atomic_load(&f->nbytes);
	w = atomic_load(&f->range);
	if (w != 0 && (!sync_covers(m, w, off, len) ||
		       !atomic_compare_exchange_strong(&f->range, &w, 0)))
		goto out;
	if (atomic_load(&f->nwrites) != f->sync_seq) {
		if (w != 0)
			range_add(f, w);
		goto out;
	}
	store_max(&f->done_bytes, nb);
	store_max(&f->mark_bytes, nb);
	store_max(&f->mark_writes, f->sync_seq);
out:
	pthread_mutex_unlock(&f->lock);
}

/* ---- public API ---------------------------------------------------------- */

int mmds_map_set_flush(mmds_map *m, const mmds_flush_policy *policy)
{
	if (m == NULL || policy == NULL)
		return -EINVAL;
	return apply(m, policy);
}

int mmds_map_get_flush(const mmds_map *m, mmds_flush_policy *policy)
{
	struct mmds__flush *f;

	if (m == NULL || policy == NULL)
		return -EINVAL;
	f = &((mmds_map *)m)->flush;
	/* Under fl.lock, which apply() holds: one policy, not a blend. */
	pthread_mutex_lock(&fl.lock);
	memset(policy, 0, sizeof(*policy));
	policy->mode = (enum mmds_flush_mode)atomic_load(&f->mode);
	policy->every = atomic_load(&f->every);
	policy->level = (enum mmds_sync_level)atomic_load(&f->level);
	pthread_mutex_unlock(&fl.lock);
	return 0;
}

int mmds_map_mark_dirty(mmds_map *m, uint64_t off, uint64_t len)
{
	uint64_t size;

	if (m == NULL)
		return -EINVAL;
	size = mmds_map_size(m);
	if (off > size || len > size - off)
		return -ERANGE;
	mmds__flush_note(m, off, len);
	return 0;
}

uint64_t mmds_map_pending(const mmds_map *m)
{
	struct mmds__flush *f;
	uint64_t done;

	if (m == NULL)
		return 0;
	f = &((mmds_map *)m)->flush;
	/* done first: it never passes nbytes, so the difference is >= 0. */
	done = atomic_load(&f->done_bytes);
	return atomic_load(&f->nbytes) - done;
}

int mmds_map_flush(mmds_map *m)
{
	struct mmds__flush *f;
	int err, bg;

	if (m == NULL)
		return -EINVAL;
	f = &m->flush;
	bg = atomic_exchange(&f->error, 0);
	/* Under MANUAL writes are not tracked: only the whole map is safe. */
	err = flush_now(m, atomic_load(&f->level),
			atomic_load(&f->mode) == MMDS_FLUSH_MANUAL);
	return err ? err : bg;
}
