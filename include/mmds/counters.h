/*
 * mmds/counters.h - persistent counters: a file of named 64-bit counters
 * shared by every process that maps it.
 *
 * A counters file holds up to `capacity` counters.  Each has a label (UTF-8),
 * a kind (counter or gauge), a help text and a 64-bit value.  Values sit each
 * on its own 64-byte cache line (the default) or 8 bytes apart
 * (MMDS_COUNTERS_PACKED).  Processes allocate counters by label, update them
 * with atomic operations, and any process - a monitoring agent, `mmds
 * counters FILE` at a shell - lists them all while the writers run.
 *
 * Counters live in the one shared file: an update is *published* when the
 * atomic instruction completes (every process mapping the file sees it, and
 * it survives kill -9 of the writer, since the page cache keeps it); it is
 * *durable* (survives power loss) after mmds_counters_sync().  Nothing a
 * process added is lost or counted twice when it exits or is killed, and
 * no per-process file is created.
 *
 * Ids.  A counter is named by its id, 0 <= id < capacity, returned by
 * mmds_counters_alloc().  A freed id is not reused until the file's grace
 * period has passed, so a reader that looked a label up shortly before the
 * free never sees a new counter under the old name.
 *
 * Two ways to update.  The functions (mmds_counters_add() ...) check the id
 * and that the counter is allocated, run under the SIGBUS guard (a file
 * truncated under the map is -EFAULT, not a crash), and are sequentially
 * consistent.  For the hottest paths, mmds_counters_slot() returns a pointer
 * to the value once, and the static inline mmds_slot_*() functions below
 * update it with one relaxed atomic instruction: no check, no guard, no
 * call.  The value layout they touch is ABI (docs/FORMAT.md).
 *
 * Striped counters (mmds_counter_def.stripes > 1) spread one logical
 * counter over several cache lines; each thread adds to its own stripe and
 * reads sum them, so threads on different cores do not fight over one line.
 *
 * Thread-safety: every function may be called from many threads at once,
 * except mmds_counters_close(), which must not race with other calls on the
 * same handle.
 */
#ifndef MMDS_COUNTERS_H
#define MMDS_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <mmds/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An open counters file.  Opaque. */
typedef struct mmds_counters mmds_counters;

/* Bytes of a label, including its NUL: at most 127 bytes of UTF-8. */
#define MMDS_COUNTERS_LABEL_MAX 128
/* Bytes of a help text, including its NUL: at most 95 bytes of UTF-8. */
#define MMDS_COUNTERS_HELP_MAX 96
/* Defaults and limits of mmds_counters_opts. */
#define MMDS_COUNTERS_DEFAULT_CAPACITY 1024u
#define MMDS_COUNTERS_MAX_CAPACITY (1u << 24)
#define MMDS_COUNTERS_DEFAULT_GRACE_MS 1000u
/* Most stripes one counter may have. */
#define MMDS_COUNTERS_MAX_STRIPES 64u

/* Kind of a counter (mmds_counter_def.kind).  0 means MMDS_COUNTER. */
enum mmds_counter_kind {
	MMDS_COUNTER = 1, /* only goes up (Prometheus "counter") */
	MMDS_GAUGE = 2,   /* goes up and down; exported as a signed value */
	MMDS_HISTOGRAM = 3 /* observations in fixed buckets, with their sum
	                      and count (mmds_counters_alloc_histogram()) */
};

/* Open flags (mmds_counters_opts.flags), combined with |. */
enum mmds_counters_flag {
	/* Create the file if it does not exist.  Creation never exposes a
	 * half-made file: it is built under a temporary name and linked into
	 * place, so a concurrent opener sees no file or a whole one. */
	MMDS_COUNTERS_CREATE = 1u << 0,
	/* With CREATE: -EEXIST if the file exists. */
	MMDS_COUNTERS_EXCL = 1u << 1,
	/* At creation: values 8 bytes apart instead of one per cache line. */
	MMDS_COUNTERS_PACKED = 1u << 2,
	/* Map read-only: allocation and updates are -EACCES. */
	MMDS_COUNTERS_READONLY = 1u << 3
};

/*
 * Options for mmds_counters_open().  NULL or zero fields mean defaults.
 * capacity, grace_ms and PACKED only matter when the file is created; an
 * existing file keeps the ones it was created with.
 */
typedef struct mmds_counters_opts {
	unsigned flags;    /* enum mmds_counters_flag bits */
	unsigned mode;     /* permissions of a created file; 0 = 0600 */
	uint32_t capacity; /* counters the file holds; 0 = 1024; at most
	                      MMDS_COUNTERS_MAX_CAPACITY */
	uint32_t grace_ms; /* how long a freed id stays unused; 0 = 1000 ms.
	                      UINT32_MAX means "never reuse". */
} mmds_counters_opts;

/*
 * mmds_counters_open - open (or create) a counters file.
 *
 * On success *out is the handle and 0 is returned; on failure *out is NULL.
 * Errors: -EINVAL (NULL out or path, unknown flags, capacity beyond the
 * maximum, EXCL without CREATE, CREATE with READONLY), -ENOENT, -EEXIST,
 * -EACCES, -EBADMSG (not a counters file, corrupt or truncated header or
 * layout), -ENOTSUP (a newer format version, another byte order), -ENOMEM,
 * -EFAULT or -EIO (the file was truncated, or a memory error hit it, while
 * a read-write open finished a dead allocator's change), or the system's
 * error.  A read-write open that finds the allocation lock held by a dead
 * process takes it over and finishes (or undoes) that process's change
 * first.  Thread-safe.
 */
MMDS_API int mmds_counters_open(mmds_counters **out, const char *path,
				const mmds_counters_opts *opts);

/*
 * mmds_counters_open_n - emmap's open_counters(file, n): open or create a
 * file of (at least) n counters, with ids 0..n-1 allocated as counters
 * labelled "counter_0" ... "counter_<n-1>" (already allocated ones are kept).
 * Errors as mmds_counters_open(), -EINVAL for n == 0, -ERANGE if an existing
 * file holds fewer than n counters, -EEXIST if one of those ids holds a
 * counter with another label, and the allocation lock's -ETIMEDOUT (see
 * mmds_counters_alloc()).
 */
MMDS_API int mmds_counters_open_n(mmds_counters **out, const char *path,
				  uint32_t n);

/*
 * mmds_counters_close - unmap and free the handle.  Accepts NULL.  Does not
 * sync: every update is already published.  0 or the error of munmap/close.
 */
MMDS_API int mmds_counters_close(mmds_counters *c);

/*
 * mmds_counters_sync - make every counter durable (msync + fdatasync).
 * 0, -EINVAL, or the system's error.
 */
MMDS_API int mmds_counters_sync(mmds_counters *c);

/* ---- Allocation ---------------------------------------------------------- */

/* What mmds_counters_alloc() creates.  NULL means all defaults. */
typedef struct mmds_counter_def {
	unsigned kind;     /* enum mmds_counter_kind; 0 = MMDS_COUNTER */
	const char *help;  /* help or unit text, UTF-8, at most
	                      MMDS_COUNTERS_HELP_MAX - 1 bytes; NULL = "" */
	uint32_t stripes;  /* 0 or 1 = a plain counter; 2..MAX_STRIPES = a
	                      striped counter using that many ids (needs the
	                      default, padded layout) */
} mmds_counter_def;

/*
 * mmds_counters_alloc - allocate a counter named label and return its id.
 *
 * The label is 1..MMDS_COUNTERS_LABEL_MAX-1 bytes of valid UTF-8 without
 * control characters.  Allocating a label that exists returns the existing
 * id when kind and stripes match (so every process may allocate the
 * counters it uses at start-up), and -EEXIST when they differ.  A new
 * counter starts at 0; its metadata is complete before its state is
 * published (release), so no reader sees a half-made entry.
 *
 * Returns the id (>= 0) or: -EINVAL (NULL c or label, bad kind, stripes,
 * or an invalid label or help: too long, empty, invalid UTF-8, control
 * characters), -EEXIST, -ENOSPC (no free id, or none whose grace period
 * has passed), -EACCES (read-only), -ETIMEDOUT (a live process, or another
 * thread or handle of this one, held the file's allocation lock for more
 * than 5 seconds), -EFAULT (the file was truncated under the map), -EIO (a
 * memory error in the file).  Thread- and process-safe: allocations
 * serialise on a lock word in the file; a holder that died (gone, a zombie,
 * or a pid now of another process) is taken over at once, and what it
 * left half-done is finished or undone first (docs/FORMAT.md).  Published
 * on return.
 */
MMDS_API int mmds_counters_alloc(mmds_counters *c, const char *label,
				 const mmds_counter_def *def);

/*
 * mmds_counters_find - the id of the allocated counter named label, or
 * -ENOENT; -EINVAL for NULL arguments; -EFAULT (truncated file) or -EIO
 * (memory error).  Lock-free.
 */
MMDS_API int mmds_counters_find(mmds_counters *c, const char *label);

/*
 * mmds_counters_free - free a counter (all its stripes).  Its id is not
 * reused before the grace period has passed.  0, -EINVAL, -ENOENT (not
 * allocated, or a stripe rather than the counter's id), -EACCES,
 * -ETIMEDOUT, -EFAULT, -EIO (the lock as in mmds_counters_alloc()).  A
 * free that returned is never undone, even if the process is killed
 * right after.  Updates through an id or slot after the free are the
 * caller's bug once the grace period has passed.
 */
MMDS_API int mmds_counters_free(mmds_counters *c, int id);

/* ---- Operations ---------------------------------------------------------- */

/*
 * Atomic operations on counter id, across threads and processes,
 * sequentially consistent.  Each read-modify-write stores the previous
 * value in *old (old may be NULL).  Values are 64-bit and wrap modulo 2^64;
 * a gauge's value is the same bits read as int64_t.
 *
 * Striped counters: add, sub, inc and dec act on the calling thread's
 * stripe, and *old receives that stripe's previous value (not the sum);
 * get returns the sum of the stripes; set stores v in stripe 0 and 0 in the
 * others (not atomic as a whole).  exchange, compare-exchange, and, or and
 * xor are -EINVAL on striped counters.
 *
 * Returns 0 (cas: 1 if it swapped, 0 if not, with the current value in
 * *expected), or: -EINVAL (NULL c, id out of range, NULL val/expected, a
 * bitwise op or exchange on a striped counter), -ENOENT (id not
 * allocated), -EACCES (update on a read-only handle), -EBADMSG (the
 * counter's stripe count in the file is impossible), -EFAULT (the file was
 * truncated under the map), -EIO (a memory error in the file).  No lock,
 * no allocation, no system call.  Published on return.
 */
MMDS_API int mmds_counters_add(mmds_counters *c, int id, uint64_t v,
			       uint64_t *old);
MMDS_API int mmds_counters_sub(mmds_counters *c, int id, uint64_t v,
			       uint64_t *old);
MMDS_API int mmds_counters_inc(mmds_counters *c, int id, uint64_t *old);
MMDS_API int mmds_counters_dec(mmds_counters *c, int id, uint64_t *old);
MMDS_API int mmds_counters_get(mmds_counters *c, int id, uint64_t *val);
MMDS_API int mmds_counters_set(mmds_counters *c, int id, uint64_t v);
MMDS_API int mmds_counters_exchange(mmds_counters *c, int id, uint64_t v,
				    uint64_t *old);
MMDS_API int mmds_counters_cas(mmds_counters *c, int id, uint64_t *expected,
			       uint64_t desired);
MMDS_API int mmds_counters_and(mmds_counters *c, int id, uint64_t v,
			       uint64_t *old);
MMDS_API int mmds_counters_or(mmds_counters *c, int id, uint64_t v,
			      uint64_t *old);
MMDS_API int mmds_counters_xor(mmds_counters *c, int id, uint64_t v,
			       uint64_t *old);

/*
 * mmds_counters_reset - set counter id to 0 (every stripe).
 * mmds_counters_reset_all - set every allocated counter to 0 (skipping
 * ids that are not, or have impossible metadata).
 * 0 or the errors of mmds_counters_set() (reset_all: -EINVAL, -EACCES,
 * -EFAULT, -EIO).  Not atomic across counters.
 */
MMDS_API int mmds_counters_reset(mmds_counters *c, int id);
MMDS_API int mmds_counters_reset_all(mmds_counters *c);

/* ---- Histograms ---------------------------------------------------------- */

/* Most finite bucket bounds of a histogram. */
#define MMDS_HISTOGRAM_MAX_BOUNDS 24u

/* What mmds_counters_alloc_histogram() makes. */
typedef struct mmds_histogram_def {
	const char *help;      /* as mmds_counter_def.help; NULL = "" */
	const double *bounds;  /* upper bounds (inclusive) of the finite
	                          buckets, finite and strictly increasing; a
	                          last +Inf bucket is always added */
	uint32_t nbounds;      /* 1..MMDS_HISTOGRAM_MAX_BOUNDS */
	uint32_t stripes;      /* 0 or 1: one set of buckets; 2..: that many
	                          sets, one per thread as for striped counters;
	                          stripes * (nbounds + 2) ids at most 64 */
} mmds_histogram_def;

/*
 * mmds_counters_alloc_histogram - allocate (or find) the histogram label:
 * stripes * (nbounds + 2) consecutive ids (per set: nbounds + 1 bucket
 * counts and the sum of the observations), made and published under the
 * allocation lock and its intent like a striped counter, so a process
 * killed at any step leaves the histogram whole or not at all.  The bounds
 * live in the file (docs/FORMAT.md), so every reader exports the same
 * buckets.  Returns the id (>= 0) or: -EINVAL (bad label, help or bounds,
 * too many ids, a packed file with stripes > 1), -EACCES (read-only),
 * -EEXIST (label taken by another kind or other bounds), -ENOSPC, -EBUSY,
 * -EDEADLK, -EFAULT, -EIO as mmds_counters_alloc().  Thread-safe.
 */
MMDS_API int mmds_counters_alloc_histogram(mmds_counters *c, const char *label,
					   const mmds_histogram_def *def);

/*
 * mmds_counters_observe - record the observation v in histogram id: one
 * atomic add to its bucket (in the calling thread's set) and a
 * compare-and-swap loop adding v to the set's sum.  A reader may see the
 * bucket before the sum moves.  0, -EINVAL (NaN, id out of range or not a
 * histogram), -EACCES (read-only), -ENOENT (not allocated), -EBADMSG
 * (invalid bounds in the file), -EFAULT, -EIO.  Thread- and process-safe,
 * no system call.
 */
MMDS_API int mmds_counters_observe(mmds_counters *c, int id, double v);

/* A histogram as a reader sees it: buckets are cumulative, as Prometheus
 * exports them: buckets[i] counts observations <= bounds[i], and
 * buckets[nbounds] (le="+Inf") equals count. */
typedef struct mmds_histogram_info {
	uint32_t nbounds;
	double bounds[MMDS_HISTOGRAM_MAX_BOUNDS];
	uint64_t buckets[MMDS_HISTOGRAM_MAX_BOUNDS + 1];
	uint64_t count;
	double sum;
} mmds_histogram_info;

/*
 * mmds_counters_histogram - read histogram id into *out (the sum of every
 * set).  0, -EINVAL (NULL, id out of range, not a histogram), -ENOENT (not
 * allocated, or it changed under every re-read), -EBADMSG (invalid
 * metadata), -EFAULT, -EIO.  Lock-free; works on a read-only handle.
 */
MMDS_API int mmds_counters_histogram(mmds_counters *c, int id,
				     mmds_histogram_info *out);

/* ---- Hot path: direct slots ---------------------------------------------- */

/*
 * mmds_counters_slot - the address of counter id's value, for the inline
 * mmds_slot_*() functions: for a striped counter, the calling thread's
 * stripe (cache the pointer per thread).  NULL if c is NULL or read-only,
 * id is out of range or not an allocated counter.  Valid until the handle
 * is closed or the counter freed; the pointer is not guarded (a file
 * truncated under the map faults).
 */
MMDS_API uint64_t *mmds_counters_slot(mmds_counters *c, int id);

/*
 * Relaxed atomic read-modify-writes on a slot: atomic across threads and
 * processes, one instruction, no ordering against other memory (use the
 * functions above when a counter update must order other data).  Return
 * the previous value (mmds_slot_get: the current value).
 */
static inline uint64_t mmds_slot_add(uint64_t *slot, uint64_t v)
{
	return __atomic_fetch_add(slot, v, __ATOMIC_RELAXED);
}
static inline uint64_t mmds_slot_inc(uint64_t *slot)
{
	return __atomic_fetch_add(slot, 1, __ATOMIC_RELAXED);
}
static inline uint64_t mmds_slot_sub(uint64_t *slot, uint64_t v)
{
	return __atomic_fetch_sub(slot, v, __ATOMIC_RELAXED);
}
static inline uint64_t mmds_slot_get(const uint64_t *slot)
{
	return __atomic_load_n(slot, __ATOMIC_RELAXED);
}

/* ---- Listing and export -------------------------------------------------- */

/* One counter as a reader sees it. */
typedef struct mmds_counter_info {
	int id;
	unsigned kind;        /* enum mmds_counter_kind */
	uint32_t stripes;     /* ids it uses: 1 for a plain counter */
	uint64_t generation;  /* bumped each time the id is allocated */
	uint64_t value;       /* the value (sum of the stripes); for a
	                         histogram, its count of observations */
	char label[MMDS_COUNTERS_LABEL_MAX]; /* NUL-terminated, valid UTF-8 */
	char help[MMDS_COUNTERS_HELP_MAX];   /* NUL-terminated, valid UTF-8 */
} mmds_counter_info;

/*
 * mmds_counters_describe - fill *out with counter id: label, kind, value.
 * 0, -EINVAL, -ENOENT (not allocated, or it changed under every re-read),
 * -EBADMSG (its metadata is invalid: a corrupt or hostile file), -EFAULT
 * (truncated file), -EIO (memory error).
 */
MMDS_API int mmds_counters_describe(mmds_counters *c, int id,
				    mmds_counter_info *out);

/*
 * mmds_counters_snapshot - every allocated counter, in id order, into
 * out[0..cap).  Each entry is consistent on its own: label, kind and value
 * belong to the same allocation (an entry changing under the read is read
 * again, a slot being allocated or freed is skipped); entries are not a
 * snapshot of one instant across counters.  Entries with invalid metadata
 * (a hostile or corrupt file) are skipped.  Returns the number of counters
 * found, which may exceed cap (then only cap were stored; out may be NULL
 * with cap 0 to count), or -EINVAL, -EFAULT, -EIO.  Lock-free; works on a
 * read-only handle.
 */
MMDS_API int mmds_counters_snapshot(mmds_counters *c, mmds_counter_info *out,
				    size_t cap);

/* Formats of mmds_counters_export(). */
enum mmds_counters_format {
	/* Prometheus text exposition format 0.0.4: labels sanitised to
	 * metric names ([a-zA-Z_:][a-zA-Z0-9_:]*), counters suffixed _total,
	 * HELP and TYPE lines.  Names are unique: of labels that sanitise to
	 * one name the lowest id keeps it, the others take the first free of
	 * _id<ID>, _id<ID>_1, ... before the suffix, as does a label that
	 * gives a histogram's sample name (H_bucket, H_sum, H_count).  The
	 * same file content
	 * gives the same names.  A histogram is a family of name_bucket{le=...}
	 * (cumulative, le="+Inf" last), name_sum and name_count; a sum made
	 * non-finite by infinite observations is +Inf, -Inf or NaN. */
	MMDS_COUNTERS_PROMETHEUS = 1,
	/* {"counters":[{"id":0,"label":"...","kind":"counter","help":"...",
	 *   "stripes":1,"value":123}, ...]} ; gauges' values are signed.  A
	 * histogram's entry (kind "histogram", value = count) adds
	 * "bounds":[...],"buckets":[cumulative counts, +Inf last],"sum":S,
	 * "count":N; a non-finite sum is null (JSON has no infinities). */
	MMDS_COUNTERS_JSON = 2
};

/*
 * mmds_counters_export - write a snapshot of every counter to out in the
 * given format.  Returns the number of counters written, or -EINVAL,
 * -ENOMEM, -EFAULT, -EIO (a write to out failed, or a memory error in the
 * file).
 */
MMDS_API int mmds_counters_export(mmds_counters *c, FILE *out,
				  unsigned format);

/* ---- Information --------------------------------------------------------- */

typedef struct mmds_counters_stat {
	uint32_t capacity;   /* ids the file holds */
	uint32_t used;       /* ids allocated now (stripes included) */
	uint32_t stride;     /* bytes between values: 64, or 8 when packed */
	uint32_t grace_ms;   /* grace period of freed ids */
	uint64_t file_size;  /* bytes */
	uint64_t created_ns; /* creation time, CLOCK_REALTIME ns */
} mmds_counters_stat;

/* mmds_counters_get_stat - fill *st.  0, -EINVAL, -EFAULT, -EIO. */
MMDS_API int mmds_counters_get_stat(mmds_counters *c, mmds_counters_stat *st);

#ifdef __cplusplus
}
#endif

#endif /* MMDS_COUNTERS_H */
