// bench_map.cc - the mapping core (include/mmds/map.h) beside its peers.
//
// One Google Benchmark binary; every peer is measured in the same run, on
// the same file, at the same offsets:
//
//   BM_read/<peer>/<size>, BM_write/<peer>/<size>
//     size 8, 64, 4096, 1048576 bytes at random 8-byte-aligned offsets of a
//     256 MiB file held in the page cache.  Peers:
//       mmds      mmds_map_read() / mmds_map_write()
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
//       atomic    __atomic_fetch_add(..., __ATOMIC_SEQ_CST) on the same word
//                 (mmds_map_data() + off)
//     With 2 threads each thread has its own word, 128 bytes apart (its own
//     cache line, and not the adjacent-line prefetch pair either).
//
// All benchmarks use real time; with threads, the time per iteration and
// the rates are those of all threads together.  Numbers are measured, never
// asserted: see docs/PERFORMANCE.md.
//
// The file lives in a mkdtemp() directory under $TMPDIR (default /tmp).  It
// is written fully, faulted in through mmds_map_touch() and through the raw
// mapping, and then unlinked at once (the fds and mappings keep it alive),
// so nothing is left behind even if the run is interrupted.  It needs
// 256 MiB of free disk space there and as much free memory.  Google
// Benchmark appends its settings to the names (".../min_time:0.200/
// real_time"); --benchmark_filter=BM_read/ and the like select groups.

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
#include <vector>

namespace {

constexpr uint64_t kFileSize = uint64_t(256) << 20;
constexpr size_t kNumOffsets = size_t(1) << 16; // 64 Ki, a power of two
constexpr size_t kMaxLen = size_t(1) << 20;
constexpr uint64_t kSeed = 0x6d6d64732d62656eULL; // fixed: same run to run
constexpr uint64_t kAtomicOff = 0;                // first word of the map
constexpr uint64_t kAtomicStride = 128;           // per-thread spacing

const size_t kSizes[] = {8, 64, 4096, 1048576};

struct Fixture {
	mmds_map *map = nullptr;
	int fd = -1;                // separate fd for pread/pwrite
	unsigned char *raw = nullptr; // raw mmap(2) of the same file
	// offs[k]: the offset table for kSizes[k]
	std::vector<uint64_t> offs[sizeof(kSizes) / sizeof(kSizes[0])];
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
	unlink(path.c_str());
	rmdir(dirbuf.data());
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
}

void teardown()
{
	if (g.raw)
		munmap(g.raw, kFileSize);
	if (g.fd >= 0)
		close(g.fd);
	int err = mmds_map_close(g.map);
	if (err)
		std::fprintf(stderr, "bench_map: mmds_map_close: %s\n",
			     mmds_strerror(err));
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

// ---- registration ---------------------------------------------------------

constexpr double kMinTime = 0.2;

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
		PEER("pread", read_pread),
		PEER("memcpy", read_memcpy),
		PEER("memcpy_rt", read_memcpy_rt),
	};
	const Peer writers[] = {
		PEER("mmds", write_mmds),
		PEER("pwrite", write_pwrite),
		PEER("memcpy", write_memcpy),
		PEER("memcpy_rt", write_memcpy_rt),
	};
	// Size-major, so the peers of one size come out next to each other.
	for (const auto &set : {std::make_pair("BM_read/", readers),
				std::make_pair("BM_write/", writers)}) {
		for (size_t k = 0; k < 4; k++) {
			for (size_t p = 0; p < 4; p++) {
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
		benchmark::RegisterBenchmark("BM_add64/atomic", add64_atomic)
			->Threads(threads)
			->MinTime(kMinTime)
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
