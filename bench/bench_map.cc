// bench_map.cc - the mapping core (include/mmds/map.h) beside its peers.
//
// One Google Benchmark binary; every peer is measured in the same run, on
// the same file, at the same offsets:
//
//   BM_read/<peer>/<size>, BM_write/<peer>/<size>
//     size 8, 64, 4096, 1048576 bytes at random 8-byte-aligned offsets of a
//     256 MiB file held in the page cache.  Peers:
//       mmds      mmds_map_read() / mmds_map_write()
//       mmds_fast mmds_fast_read() / mmds_fast_write() through a fast view
//                 (mmds_map_fast_view()): the checks and, up to 16 bytes,
//                 the guarded copy inline in the caller
//       pread     pread(2) / pwrite(2) on a separate fd of the same file
//       memcpy    memcpy() to/from a raw mmap(2) (MAP_SHARED) of the file,
//                 with the length a compile-time constant, as code using a
//                 raw pointer writes it (8 and 64 B become plain moves)
//       memcpy_rt the same with the length only known at run time, so it
//                 is a call to the C library's memcpy like inside mmds
//
//   BM_add64/<peer>/threads:N
//     a seq_cst fetch-add of 1 on one 64-bit word of the mmds mapping.
//       mmds      mmds_map_add64()
//       mmds_fast mmds_fast_add64() through a fast view, inline
//       atomic    __atomic_fetch_add(..., __ATOMIC_SEQ_CST) on the same word
//                 (mmds_map_data() + off)
//     With 2 threads each thread has its own word, 128 bytes apart (its own
//     cache line, and not the adjacent-line prefetch pair either).
//
//   BM_guard/<read|write>/<peer>/<size>
//     what the SIGBUS guard costs per access: size 8 and 64 bytes at random
//     8-byte-aligned offsets of a 64 KiB mmds map (mmds_map_open_fd() on the
//     first 64 KiB of the same file), small enough to stay in the cache so
//     the guard is not hidden under cache misses.  Peers:
//       mmds      mmds_map_read() / mmds_map_write(), guarded
//       unguarded the checks lib/map.c makes before the copy (NULL map or
//                 buffer, access mode, bounds against the public
//                 mmds_map_size() without overflow, zero length), then the
//                 same inline copy as lib/map.c's copy() to/from
//                 mmds_map_data() + off, in an out-of-line function of this
//                 file: mmds minus the guard.  mmds_map_data() is taken
//                 once (the base never changes); mmds_map_size() is called
//                 per access, where mmds loads the size field inline, and
//                 the write does not read the flush mode as mmds does.
//       guard_run mmds_guard_run() with a callback doing only the copy (no
//                 checks): the public guard around raw-pointer code
//     "mmds - unguarded" is the guard's cost per access.
//
//   BM_flush/<policy>
//     4 MiB written in 64 pieces of 64 KiB with mmds_map_write() into a
//     fresh 4 MiB file map opened with the policy, level MMDS_SYNC_SYNC:
//       manual       MMDS_FLUSH_MANUAL, no flush at all
//       manual_sync  MMDS_FLUSH_MANUAL, then one mmds_map_sync(SYNC)
//       always       MMDS_FLUSH_ALWAYS (a flush after each of the 64 writes)
//       bytes_1MiB   MMDS_FLUSH_BYTES, every 1 MiB (4 flushes)
//       writes_16    MMDS_FLUSH_WRITES, every 16 writes (4 flushes)
//       millis_10    MMDS_FLUSH_MILLIS, every 10 ms by the flusher thread,
//                    then one mmds_map_flush() so that the iteration pays
//                    for all the write-back it caused
//     Every iteration writes bytes that differ from the last iteration's.
//
//   BM_sync_level/<async|sync|durable>
//     64 KiB written (changing data, one of the 64 pieces of a fresh 4 MiB
//     file map in turn), then mmds_map_sync() of the whole map at the level.
//
//   BM_hugepage_read/<normal|huge>/<mmds|raw>
//     random 8-byte reads over a 1 GiB private anonymous map
//     (mmds_map_open_anon(), MMDS_MAP_PRIVATE), opened with MMDS_HUGE_NONE
//     (normal) or MMDS_HUGE_TRY (huge), every byte written once before the
//     timing so that all pages are faulted in.  4 Mi precomputed 8-byte-
//     aligned offsets over the whole GiB.  Paths: mmds_map_read(), or a
//     memcpy() from mmds_map_data() + off (the TLB is the point, not the
//     call).  The label says what mmds_map_hugepages() reported after the
//     fill ("kind=thp huge=1024MiB"); the counter huge_MiB is the same.
//
// All benchmarks use real time; with threads, the time per iteration and
// the rates are those of all threads together.  Numbers are measured, never
// asserted: see docs/PERFORMANCE.md.
//
// The files live in a mkdtemp() directory under $TMPDIR (default /tmp).
// The 256 MiB one is written fully, faulted in through mmds_map_touch() and
// through the raw mapping, and then unlinked at once (the fds and mappings
// keep it alive).  The 4 MiB files of BM_flush and BM_sync_level are
// created in the same directory by each run of a benchmark and unlinked
// when it ends (MMDS_MAP_UNLINK); the directory is removed at exit.  An
// interrupted run may leave the directory behind, with at most one 4 MiB
// file in it.  It needs 260 MiB of free disk space there and 1.3 GiB of
// free memory (the 1 GiB maps are made one at a time, only when a
// BM_hugepage_read benchmark runs).  Google Benchmark appends its settings
// to the names (".../min_time:0.200/real_time"); --benchmark_filter=BM_read/
// and the like select groups.

#include <benchmark/benchmark.h>

#include <mmds.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr uint64_t kFileSize = uint64_t(256) << 20;
constexpr size_t kNumOffsets = size_t(1) << 16; // 64 Ki, a power of two
constexpr size_t kMaxLen = size_t(1) << 20;
constexpr uint64_t kSeed = 0x6d6d64732d62656eULL; // fixed: same run to run
constexpr uint64_t kAtomicOff = 0;                // first word of the map
constexpr uint64_t kAtomicStride = 128;           // per-thread spacing

const size_t kSizes[] = {8, 64, 4096, 1048576};

constexpr uint64_t kGuardMapSize = uint64_t(64) << 10;
constexpr size_t kGuardOffsets = 4096;            // a power of two
const size_t kGuardSizes[] = {8, 64};

constexpr uint64_t kScratchSize = uint64_t(4) << 20; // BM_flush, BM_sync_level
constexpr size_t kPiece = size_t(64) << 10;
constexpr size_t kPieces = size_t(kScratchSize / kPiece);

constexpr uint64_t kHugeMapSize = uint64_t(1) << 30;
constexpr size_t kHugeOffsets = size_t(1) << 22;  // 4 Mi, a power of two

struct Fixture {
	mmds_map *map = nullptr;
	int fd = -1;                // separate fd for pread/pwrite
	unsigned char *raw = nullptr; // raw mmap(2) of the same file
	// offs[k]: the offset table for kSizes[k]
	std::vector<uint64_t> offs[sizeof(kSizes) / sizeof(kSizes[0])];
	std::string dir;            // the mkdtemp() directory, until teardown
	mmds_map *small = nullptr;  // BM_guard: first 64 KiB of the file
	// goffs[k]: the offset table for kGuardSizes[k] inside small
	std::vector<uint64_t> goffs[sizeof(kGuardSizes) / sizeof(kGuardSizes[0])];
};

Fixture g;

alignas(64) unsigned char g_src[kMaxLen];
alignas(64) unsigned char g_dst[kMaxLen];

uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

const std::vector<uint64_t> &offsets_for(size_t len)
{
	for (size_t k = 0; k < sizeof(kSizes) / sizeof(kSizes[0]); k++)
		if (kSizes[k] == len)
			return g.offs[k];
	std::abort();
}

[[noreturn]] void die(const char *what, int err)
{
	std::fprintf(stderr, "bench_map: %s: %s\n", what,
		     mmds_strerror(err < 0 ? err : -err));
	if (!g.dir.empty())
		rmdir(g.dir.c_str()); // empty unless a scratch file is open
	std::exit(1);
}

void setup()
{
	const char *tmp = std::getenv("TMPDIR");
	std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") +
			  "/bench_map.XXXXXX";
	std::vector<char> dirbuf(dir.begin(), dir.end());
	dirbuf.push_back('\0');
	if (mkdtemp(dirbuf.data()) == nullptr)
		die("mkdtemp", errno);
	std::string path = std::string(dirbuf.data()) + "/data";

	mmds_map_opts o{};
	o.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL;
	o.size = kFileSize;
	int err = mmds_map_open(&g.map, path.c_str(), &o);
	if (err == 0) {
		g.fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
		if (g.fd < 0)
			err = -errno;
	}
	// Gone from the namespace now; the fds and mappings keep the data.
	// The directory stays for the scratch files of BM_flush and
	// BM_sync_level; teardown() removes it.
	unlink(path.c_str());
	g.dir = dirbuf.data();
	if (err)
		die("open", err);

	// Write the whole file with a pattern (not just allocated extents).
	for (size_t i = 0; i < kMaxLen; i++)
		g_src[i] = static_cast<unsigned char>(i * 131 + 7);
	for (uint64_t off = 0; off < kFileSize; off += kMaxLen) {
		err = mmds_map_write(g.map, off, g_src, kMaxLen);
		if (err)
			die("mmds_map_write (fill)", err);
	}
	err = mmds_map_touch(g.map, 0, 0);
	if (err)
		die("mmds_map_touch", err);

	void *p = mmap(nullptr, kFileSize, PROT_READ | PROT_WRITE, MAP_SHARED,
		       g.fd, 0);
	if (p == MAP_FAILED)
		die("mmap", errno);
	g.raw = static_cast<unsigned char *>(p);
	// Fault the raw mapping in for writing too, so neither side starts
	// with page faults the other does not take.
	long ps = sysconf(_SC_PAGESIZE);
	for (uint64_t off = 0; off < kFileSize; off += uint64_t(ps)) {
		volatile unsigned char *b = g.raw + off;
		*b = *b;
	}

	uint64_t s = kSeed;
	for (size_t k = 0; k < sizeof(kSizes) / sizeof(kSizes[0]); k++) {
		uint64_t slots = (kFileSize - kSizes[k]) / 8 + 1;
		g.offs[k].resize(kNumOffsets);
		for (auto &off : g.offs[k])
			off = (splitmix64(&s) % slots) * 8;
	}

	// One untimed pass of the 8-byte pattern through both mappings, so
	// the first benchmark does not pay for cold page-table and TLB state
	// that the later ones find warm.
	for (uint64_t off : g.offs[0]) {
		err = mmds_map_read(g.map, off, g_dst, 8);
		if (err)
			die("mmds_map_read (warm-up)", err);
		std::memcpy(g_dst + 8, g.raw + off, 8);
		benchmark::ClobberMemory();
	}

	// BM_guard's small map: a second mmds map of the same file, its first
	// 64 KiB, faulted in for writing.
	mmds_map_opts so{};
	so.size = kGuardMapSize;
	err = mmds_map_open_fd(&g.small, g.fd, &so);
	if (err)
		die("mmds_map_open_fd (64 KiB)", err);
	err = mmds_map_touch(g.small, 0, 0);
	if (err)
		die("mmds_map_touch (64 KiB)", err);
	for (size_t k = 0; k < sizeof(kGuardSizes) / sizeof(kGuardSizes[0]); k++) {
		uint64_t slots = (kGuardMapSize - kGuardSizes[k]) / 8 + 1;
		g.goffs[k].resize(kGuardOffsets);
		for (auto &off : g.goffs[k])
			off = (splitmix64(&s) % slots) * 8;
	}
}

void huge_release();

void teardown()
{
	huge_release();
	int err = mmds_map_close(g.small);
	if (err)
		std::fprintf(stderr, "bench_map: mmds_map_close (64 KiB): %s\n",
			     mmds_strerror(err));
	if (g.raw)
		munmap(g.raw, kFileSize);
	if (g.fd >= 0)
		close(g.fd);
	err = mmds_map_close(g.map);
	if (err)
		std::fprintf(stderr, "bench_map: mmds_map_close: %s\n",
			     mmds_strerror(err));
	if (!g.dir.empty() && rmdir(g.dir.c_str()) != 0)
		std::fprintf(stderr, "bench_map: rmdir %s: %s\n", g.dir.c_str(),
			     std::strerror(errno));
}

void finish(benchmark::State &state, size_t len)
{
	state.SetItemsProcessed(int64_t(state.iterations()));
	state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(len));
}

// ---- read -----------------------------------------------------------------

template <size_t Len> void read_mmds(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	size_t i = 0;
	for (auto _ : state) {
		int rc = mmds_map_read(g.map, off[i++ & (kNumOffsets - 1)],
				       g_dst, Len);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_map_read failed");
			break;
		}
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void read_mmds_fast(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	mmds_map_fast f;
	mmds_map_fast_view(g.map, &f);
	size_t i = 0;
	for (auto _ : state) {
		int rc = mmds_fast_read(&f, off[i++ & (kNumOffsets - 1)], g_dst,
					Len);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_fast_read failed");
			break;
		}
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void read_pread(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	size_t i = 0;
	for (auto _ : state) {
		ssize_t n = pread(g.fd, g_dst, Len,
				  off_t(off[i++ & (kNumOffsets - 1)]));
		if (__builtin_expect(n != ssize_t(Len), 0)) {
			state.SkipWithError("pread failed");
			break;
		}
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void read_memcpy(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	const unsigned char *raw = g.raw;
	size_t i = 0;
	for (auto _ : state) {
		std::memcpy(g_dst, raw + off[i++ & (kNumOffsets - 1)], Len);
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void read_memcpy_rt(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	const unsigned char *raw = g.raw;
	// Hide the constant from the compiler with a volatile load (not
	// DoNotOptimize(len): GCC 12 drops the store of an lvalue passed to
	// benchmark 1.7.1's "+m,r" asm and then calls memcpy with garbage).
	volatile size_t vlen = size_t(state.range(0));
	const size_t len = vlen;
	size_t i = 0;
	for (auto _ : state) {
		std::memcpy(g_dst, raw + off[i++ & (kNumOffsets - 1)], len);
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

// ---- write ----------------------------------------------------------------

template <size_t Len> void write_mmds(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	size_t i = 0;
	for (auto _ : state) {
		int rc = mmds_map_write(g.map, off[i++ & (kNumOffsets - 1)],
					g_src, Len);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_map_write failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void write_mmds_fast(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	mmds_map_fast f;
	mmds_map_fast_view(g.map, &f);
	size_t i = 0;
	for (auto _ : state) {
		int rc = mmds_fast_write(&f, off[i++ & (kNumOffsets - 1)], g_src,
					 Len);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_fast_write failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void write_pwrite(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	size_t i = 0;
	for (auto _ : state) {
		ssize_t n = pwrite(g.fd, g_src, Len,
				   off_t(off[i++ & (kNumOffsets - 1)]));
		if (__builtin_expect(n != ssize_t(Len), 0)) {
			state.SkipWithError("pwrite failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void write_memcpy(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	unsigned char *raw = g.raw;
	size_t i = 0;
	for (auto _ : state) {
		unsigned char *d = raw + off[i++ & (kNumOffsets - 1)];
		std::memcpy(d, g_src, Len);
		benchmark::DoNotOptimize(d);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void write_memcpy_rt(benchmark::State &state)
{
	const uint64_t *off = offsets_for(Len).data();
	unsigned char *raw = g.raw;
	volatile size_t vlen = size_t(state.range(0));
	const size_t len = vlen;
	size_t i = 0;
	for (auto _ : state) {
		unsigned char *d = raw + off[i++ & (kNumOffsets - 1)];
		std::memcpy(d, g_src, len);
		benchmark::DoNotOptimize(d);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

// ---- atomics --------------------------------------------------------------

void add64_mmds(benchmark::State &state)
{
	uint64_t off = kAtomicOff + uint64_t(state.thread_index()) * kAtomicStride;
	for (auto _ : state) {
		uint64_t old;
		int rc = mmds_map_add64(g.map, off, 1, &old);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_map_add64 failed");
			break;
		}
		benchmark::DoNotOptimize(old);
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
}

void add64_mmds_fast(benchmark::State &state)
{
	uint64_t off = kAtomicOff + uint64_t(state.thread_index()) * kAtomicStride;
	mmds_map_fast f;
	mmds_map_fast_view(g.map, &f);
	for (auto _ : state) {
		uint64_t old;
		int rc = mmds_fast_add64(&f, off, 1, &old);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_fast_add64 failed");
			break;
		}
		benchmark::DoNotOptimize(old);
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
}

void add64_atomic(benchmark::State &state)
{
	uint64_t off = kAtomicOff + uint64_t(state.thread_index()) * kAtomicStride;
	auto *w = reinterpret_cast<uint64_t *>(
		static_cast<unsigned char *>(mmds_map_data(g.map)) + off);
	for (auto _ : state) {
		uint64_t old = __atomic_fetch_add(w, 1, __ATOMIC_SEQ_CST);
		benchmark::DoNotOptimize(old);
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
}

// ---- guard ----------------------------------------------------------------

// lib/map.c's copy(), verbatim: up to 16 bytes inline, memcpy above.
inline void small_copy(void *dst, const void *src, size_t n)
{
	unsigned char *d = static_cast<unsigned char *>(dst);
	const unsigned char *s = static_cast<const unsigned char *>(src);

	if (n > 16) {
		std::memcpy(d, s, n);
	} else if (n >= 8) {
		uint64_t a, b;

		std::memcpy(&a, s, 8);
		std::memcpy(&b, s + n - 8, 8);
		std::memcpy(d, &a, 8);
		std::memcpy(d + n - 8, &b, 8);
	} else if (n >= 4) {
		uint32_t a, b;

		std::memcpy(&a, s, 4);
		std::memcpy(&b, s + n - 4, 4);
		std::memcpy(d, &a, 4);
		std::memcpy(d + n - 4, &b, 4);
	} else if (n) {
		unsigned char a = s[0], b = s[n / 2], c = s[n - 1];

		d[0] = a;
		d[n / 2] = b;
		d[n - 1] = c;
	}
}

// What the unguarded peer knows of the map, as the fields mmds reads.
struct Unguarded {
	const mmds_map *map;
	unsigned char *base; // mmds_map_data(), constant for the map's life
	unsigned access;     // from mmds_map_get_info()
};

// Out of line like the library's functions, and (GCC) not specialised for
// the constant length of a call site, which the library cannot be either.
#if defined(__GNUC__) && !defined(__clang__)
#define BENCH_OUT_OF_LINE __attribute__((noinline, noipa))
#else
#define BENCH_OUT_OF_LINE __attribute__((noinline))
#endif

// mmds_map_read() without the guard.
BENCH_OUT_OF_LINE int unguarded_read(const Unguarded *u, uint64_t off,
				     void *buf, size_t len)
{
	if (u->map == nullptr || (buf == nullptr && len))
		return -EINVAL;
	if (!(u->access & MMDS_READ))
		return -EACCES;
	uint64_t size = mmds_map_size(u->map);
	if (!(off <= size && len <= size - off))
		return -ERANGE;
	if (len == 0)
		return 0;
	small_copy(buf, u->base + off, len);
	return 0;
}

// mmds_map_write() without the guard.
BENCH_OUT_OF_LINE int unguarded_write(const Unguarded *u, uint64_t off,
				      const void *buf, size_t len)
{
	if (u->map == nullptr || (buf == nullptr && len))
		return -EINVAL;
	if (!(u->access & MMDS_WRITE))
		return -EACCES;
	uint64_t size = mmds_map_size(u->map);
	if (!(off <= size && len <= size - off))
		return -ERANGE;
	if (len == 0)
		return 0;
	small_copy(u->base + off, buf, len);
	return 0;
}

Unguarded unguarded_of(mmds_map *m)
{
	mmds_map_info info;
	int err = mmds_map_get_info(m, &info);
	if (err)
		die("mmds_map_get_info", err);
	return Unguarded{m, static_cast<unsigned char *>(mmds_map_data(m)),
			 info.access};
}

struct CopyArgs {
	void *dst;
	const void *src;
	size_t len;
};

// mmds_guard_run()'s callback: the copy and nothing else.
int raw_copy(void *arg)
{
	const CopyArgs *a = static_cast<const CopyArgs *>(arg);
	small_copy(a->dst, a->src, a->len);
	return 0;
}

const std::vector<uint64_t> &guard_offsets_for(size_t len)
{
	for (size_t k = 0; k < sizeof(kGuardSizes) / sizeof(kGuardSizes[0]); k++)
		if (kGuardSizes[k] == len)
			return g.goffs[k];
	std::abort();
}

template <size_t Len> void guard_read_mmds(benchmark::State &state)
{
	const uint64_t *off = guard_offsets_for(Len).data();
	size_t i = 0;
	for (auto _ : state) {
		int rc = mmds_map_read(g.small, off[i++ & (kGuardOffsets - 1)],
				       g_dst, Len);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_map_read failed");
			break;
		}
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void guard_read_unguarded(benchmark::State &state)
{
	const uint64_t *off = guard_offsets_for(Len).data();
	const Unguarded u = unguarded_of(g.small);
	size_t i = 0;
	for (auto _ : state) {
		int rc = unguarded_read(&u, off[i++ & (kGuardOffsets - 1)],
					g_dst, Len);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("unguarded_read failed");
			break;
		}
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void guard_read_run(benchmark::State &state)
{
	const uint64_t *off = guard_offsets_for(Len).data();
	const unsigned char *base =
		static_cast<const unsigned char *>(mmds_map_data(g.small));
	size_t i = 0;
	for (auto _ : state) {
		CopyArgs a{g_dst, base + off[i++ & (kGuardOffsets - 1)], Len};
		int rc = mmds_guard_run(raw_copy, &a);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_guard_run failed");
			break;
		}
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void guard_write_mmds(benchmark::State &state)
{
	const uint64_t *off = guard_offsets_for(Len).data();
	size_t i = 0;
	for (auto _ : state) {
		int rc = mmds_map_write(g.small, off[i++ & (kGuardOffsets - 1)],
					g_src, Len);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_map_write failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void guard_write_unguarded(benchmark::State &state)
{
	const uint64_t *off = guard_offsets_for(Len).data();
	const Unguarded u = unguarded_of(g.small);
	size_t i = 0;
	for (auto _ : state) {
		int rc = unguarded_write(&u, off[i++ & (kGuardOffsets - 1)],
					 g_src, Len);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("unguarded_write failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

template <size_t Len> void guard_write_run(benchmark::State &state)
{
	const uint64_t *off = guard_offsets_for(Len).data();
	unsigned char *base = static_cast<unsigned char *>(mmds_map_data(g.small));
	size_t i = 0;
	for (auto _ : state) {
		CopyArgs a{base + off[i++ & (kGuardOffsets - 1)], g_src, Len};
		int rc = mmds_guard_run(raw_copy, &a);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_guard_run failed");
			break;
		}
		benchmark::ClobberMemory();
	}
	finish(state, Len);
}

// ---- flush policies and sync levels ---------------------------------------

struct FlushCase {
	const char *name;
	mmds_flush_policy policy;
	bool final_sync;  // one mmds_map_sync(SYNC) after the 64 writes
	bool final_flush; // one mmds_map_flush() after the 64 writes
};

const FlushCase kFlushCases[] = {
	{"manual", {MMDS_FLUSH_MANUAL, 0, MMDS_SYNC_SYNC}, false, false},
	{"manual_sync", {MMDS_FLUSH_MANUAL, 0, MMDS_SYNC_SYNC}, true, false},
	{"always", {MMDS_FLUSH_ALWAYS, 0, MMDS_SYNC_SYNC}, false, false},
	{"bytes_1MiB", {MMDS_FLUSH_BYTES, uint64_t(1) << 20, MMDS_SYNC_SYNC},
	 false, false},
	{"writes_16", {MMDS_FLUSH_WRITES, 16, MMDS_SYNC_SYNC}, false, false},
	{"millis_10", {MMDS_FLUSH_MILLIS, 10, MMDS_SYNC_SYNC}, false, true},
};

struct SyncCase {
	const char *name;
	enum mmds_sync_level level;
};

const SyncCase kSyncCases[] = {
	{"async", MMDS_SYNC_ASYNC},
	{"sync", MMDS_SYNC_SYNC},
	{"durable", MMDS_SYNC_DURABLE},
};

// The source of the n-th write: g_src shifted by 1..255 bytes.  g_src
// repeats every 256 bytes and consecutive shifts differ, so each iteration
// writes other bytes than the one before at every offset.
const unsigned char *changing_src(uint64_t n)
{
	return g_src + 1 + n % 255;
}

// A fresh 4 MiB file in g.dir under the given policy, written once and
// made durable untimed (block allocation, first-touch faults and the
// directory entry are not what is measured); unlinked by its close.
mmds_map *open_scratch(benchmark::State &state, const char *name,
		       const mmds_flush_policy &policy)
{
	std::string path = g.dir + "/" + name;
	mmds_map_opts o{};
	o.flags = MMDS_MAP_CREATE | MMDS_MAP_EXCL | MMDS_MAP_UNLINK;
	o.size = kScratchSize;
	o.flush = policy;
	mmds_map *m = nullptr;
	int err = mmds_map_open(&m, path.c_str(), &o);
	if (err) {
		state.SkipWithError("mmds_map_open (scratch) failed");
		return nullptr;
	}
	for (size_t j = 0; j < kPieces && err == 0; j++)
		err = mmds_map_write(m, j * kPiece, changing_src(0), kPiece);
	if (err == 0)
		err = mmds_map_sync(m, MMDS_SYNC_DURABLE);
	if (err) {
		state.SkipWithError("scratch warm-up failed");
		mmds_map_close(m);
		return nullptr;
	}
	return m;
}

void close_scratch(benchmark::State &state, mmds_map *m)
{
	// Outside the timing; under a policy other than manual it flushes
	// what a failed iteration may have left.
	if (mmds_map_close(m) != 0 && !state.error_occurred())
		state.SkipWithError("mmds_map_close (scratch) failed");
}

void flush_policy(benchmark::State &state, size_t k)
{
	const FlushCase &c = kFlushCases[k];
	std::string name = std::string("flush_") + c.name;
	mmds_map *m = open_scratch(state, name.c_str(), c.policy);
	if (m == nullptr)
		return;
	uint64_t round = 1;
	for (auto _ : state) {
		const unsigned char *src = changing_src(round++);
		int rc = 0;
		for (size_t j = 0; j < kPieces && rc == 0; j++)
			rc = mmds_map_write(m, j * kPiece, src, kPiece);
		if (rc == 0 && c.final_sync)
			rc = mmds_map_sync(m, MMDS_SYNC_SYNC);
		if (rc == 0 && c.final_flush)
			rc = mmds_map_flush(m);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("write or flush failed");
			break;
		}
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
	state.SetBytesProcessed(int64_t(state.iterations()) *
				int64_t(kScratchSize));
	close_scratch(state, m);
}

void sync_level(benchmark::State &state, size_t k)
{
	const SyncCase &c = kSyncCases[k];
	std::string name = std::string("sync_") + c.name;
	mmds_map *m = open_scratch(state, name.c_str(), mmds_flush_policy{});
	if (m == nullptr)
		return;
	uint64_t n = 1;
	for (auto _ : state) {
		int rc = mmds_map_write(m, (n % kPieces) * kPiece,
					changing_src(n / kPieces + 1), kPiece);
		n++;
		if (rc == 0)
			rc = mmds_map_sync(m, c.level);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("write or sync failed");
			break;
		}
	}
	finish(state, kPiece);
	close_scratch(state, m);
}

// ---- huge pages -----------------------------------------------------------

struct HugeFixture {
	mmds_map *map = nullptr;
	unsigned huge = 0;         // enum mmds_huge the map was opened with
	mmds_hugepage_info info{}; // mmds_map_hugepages() after the fill
	std::vector<uint64_t> offs;
};

HugeFixture gh;

void huge_release()
{
	int err = mmds_map_close(gh.map);
	gh.map = nullptr;
	if (err)
		std::fprintf(stderr, "bench_map: mmds_map_close (1 GiB): %s\n",
			     mmds_strerror(err));
}

const char *huge_kind_name(enum mmds_huge_kind k)
{
	switch (k) {
	case MMDS_HUGE_KIND_NONE:
		return "none";
	case MMDS_HUGE_KIND_THP:
		return "thp";
	case MMDS_HUGE_KIND_HUGETLB:
		return "hugetlb";
	}
	return "?";
}

// The 1 GiB map opened with `huge`, written once whole.  One such map at a
// time: the previous one is closed first.  0 or a negative errno.
int huge_map(unsigned huge)
{
	if (gh.map && gh.huge == huge)
		return 0;
	huge_release();
	mmds_map_opts o{};
	o.flags = MMDS_MAP_PRIVATE;
	o.size = kHugeMapSize;
	o.huge = huge;
	int err = mmds_map_open_anon(&gh.map, &o);
	if (err)
		return err;
	gh.huge = huge;
	// Every byte written once: every page (huge or not) faulted in.
	std::memset(mmds_map_data(gh.map), 0xa5, size_t(kHugeMapSize));
	benchmark::ClobberMemory();
	err = mmds_map_hugepages(gh.map, &gh.info);
	if (err)
		return err;
	if (gh.offs.empty()) {
		uint64_t s = kSeed ^ 0x68756765ULL;
		uint64_t slots = (kHugeMapSize - 8) / 8 + 1;
		gh.offs.resize(kHugeOffsets);
		for (auto &off : gh.offs)
			off = (splitmix64(&s) % slots) * 8;
	}
	return 0;
}

void huge_label(benchmark::State &state)
{
	uint64_t mib = gh.info.huge_bytes >> 20;
	state.SetLabel(std::string("kind=") + huge_kind_name(gh.info.kind) +
		       " huge=" + std::to_string(mib) + "MiB");
	state.counters["huge_MiB"] = double(mib);
}

void huge_read_mmds(benchmark::State &state, unsigned huge)
{
	int err = huge_map(huge);
	if (err) {
		state.SkipWithError(mmds_strerror(err));
		return;
	}
	const uint64_t *off = gh.offs.data();
	const mmds_map *m = gh.map;
	size_t i = 0;
	for (auto _ : state) {
		int rc = mmds_map_read(m, off[i++ & (kHugeOffsets - 1)], g_dst, 8);
		if (__builtin_expect(rc != 0, 0)) {
			state.SkipWithError("mmds_map_read failed");
			break;
		}
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, 8);
	huge_label(state);
}

void huge_read_raw(benchmark::State &state, unsigned huge)
{
	int err = huge_map(huge);
	if (err) {
		state.SkipWithError(mmds_strerror(err));
		return;
	}
	const uint64_t *off = gh.offs.data();
	const unsigned char *base =
		static_cast<const unsigned char *>(mmds_map_data(gh.map));
	size_t i = 0;
	for (auto _ : state) {
		std::memcpy(g_dst, base + off[i++ & (kHugeOffsets - 1)], 8);
		benchmark::DoNotOptimize(g_dst);
		benchmark::ClobberMemory();
	}
	finish(state, 8);
	huge_label(state);
}

// ---- registration ---------------------------------------------------------

constexpr double kMinTime = 0.2;
constexpr double kSlowMinTime = 0.5; // disk-bound and 1 GiB benchmarks

using Fn = void (*)(benchmark::State &);

struct Peer {
	const char *name;
	Fn fn[4]; // one per kSizes entry
};

#define PEER(name, tmpl)                                                  \
	Peer                                                              \
	{                                                                 \
		name, { tmpl<8>, tmpl<64>, tmpl<4096>, tmpl<1048576> }    \
	}

void register_all()
{
	const Peer readers[] = {
		PEER("mmds", read_mmds),
		PEER("mmds_fast", read_mmds_fast),
		PEER("pread", read_pread),
		PEER("memcpy", read_memcpy),
		PEER("memcpy_rt", read_memcpy_rt),
	};
	const Peer writers[] = {
		PEER("mmds", write_mmds),
		PEER("mmds_fast", write_mmds_fast),
		PEER("pwrite", write_pwrite),
		PEER("memcpy", write_memcpy),
		PEER("memcpy_rt", write_memcpy_rt),
	};
	// Size-major, so the peers of one size come out next to each other.
	for (const auto &set : {std::make_pair("BM_read/", readers),
				std::make_pair("BM_write/", writers)}) {
		for (size_t k = 0; k < 4; k++) {
			for (size_t p = 0; p < 5; p++) {
				std::string name =
					std::string(set.first) + set.second[p].name;
				benchmark::RegisterBenchmark(name.c_str(),
							     set.second[p].fn[k])
					->Arg(int64_t(kSizes[k]))
					->MinTime(kMinTime)
					->UseRealTime();
			}
		}
	}
	for (int threads : {1, 2}) {
		benchmark::RegisterBenchmark("BM_add64/mmds", add64_mmds)
			->Threads(threads)
			->MinTime(kMinTime)
			->UseRealTime();
		benchmark::RegisterBenchmark("BM_add64/mmds_fast", add64_mmds_fast)
			->Threads(threads)
			->MinTime(kMinTime)
			->UseRealTime();
		benchmark::RegisterBenchmark("BM_add64/atomic", add64_atomic)
			->Threads(threads)
			->MinTime(kMinTime)
			->UseRealTime();
	}

	struct GuardPeer {
		const char *name;
		Fn fn[2]; // one per kGuardSizes entry
	};
	const GuardPeer guard_readers[] = {
		{"mmds", {guard_read_mmds<8>, guard_read_mmds<64>}},
		{"unguarded", {guard_read_unguarded<8>, guard_read_unguarded<64>}},
		{"guard_run", {guard_read_run<8>, guard_read_run<64>}},
	};
	const GuardPeer guard_writers[] = {
		{"mmds", {guard_write_mmds<8>, guard_write_mmds<64>}},
		{"unguarded", {guard_write_unguarded<8>, guard_write_unguarded<64>}},
		{"guard_run", {guard_write_run<8>, guard_write_run<64>}},
	};
	for (const auto &set : {std::make_pair("BM_guard/read/", guard_readers),
				std::make_pair("BM_guard/write/", guard_writers)}) {
		for (size_t k = 0; k < 2; k++) {
			for (size_t p = 0; p < 3; p++) {
				std::string name =
					std::string(set.first) + set.second[p].name;
				benchmark::RegisterBenchmark(name.c_str(),
							     set.second[p].fn[k])
					->Arg(int64_t(kGuardSizes[k]))
					->MinTime(kMinTime)
					->UseRealTime();
			}
		}
	}

	for (size_t k = 0; k < sizeof(kFlushCases) / sizeof(kFlushCases[0]); k++) {
		std::string name = std::string("BM_flush/") + kFlushCases[k].name;
		benchmark::RegisterBenchmark(name.c_str(), flush_policy, k)
			->MinTime(kSlowMinTime)
			->UseRealTime();
	}
	for (size_t k = 0; k < sizeof(kSyncCases) / sizeof(kSyncCases[0]); k++) {
		std::string name = std::string("BM_sync_level/") + kSyncCases[k].name;
		benchmark::RegisterBenchmark(name.c_str(), sync_level, k)
			->MinTime(kSlowMinTime)
			->UseRealTime();
	}

	const std::pair<const char *, unsigned> huge_modes[] = {
		{"normal", MMDS_HUGE_NONE},
		{"huge", MMDS_HUGE_TRY},
	};
	for (const auto &mode : huge_modes) {
		std::string name = std::string("BM_hugepage_read/") + mode.first;
		benchmark::RegisterBenchmark((name + "/mmds").c_str(),
					     huge_read_mmds, mode.second)
			->MinTime(kSlowMinTime)
			->UseRealTime();
		benchmark::RegisterBenchmark((name + "/raw").c_str(),
					     huge_read_raw, mode.second)
			->MinTime(kSlowMinTime)
			->UseRealTime();
	}
}

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	setup();
	benchmark::AddCustomContext("mmds_version", mmds_version());
	benchmark::AddCustomContext("file_size", std::to_string(kFileSize));
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	teardown();
	return 0;
}
