// bench_log.cc - the append-only log (include/mmds/log.h) beside its peers.
//
// One Google Benchmark binary; every peer frames the same records (a 16-byte
// header, the payload, padding to 8 bytes) in the same run:
//
//   BM_append/<peer>/<payload bytes 8|64|1024>   published appends
//     mmds         mmds_log_append() (64 MiB segments, rollover included;
//                  the writer's pretoucher thread populates ahead on the
//                  other core: compare real time, the CPU column leaves
//                  that thread out)
//     write        write(2) of header + payload to an O_APPEND file
//     fwrite       fwrite() of header + payload, then fflush()
//     fwrite_buffered  fwrite() only (stdio's buffer, flushed when full)
//     memcpy       a raw framed memcpy into a prefaulted MAP_SHARED mapping
//                  (header stored last with release), no checksum
//     memcpy_xxh3  the same with the header's xxh3 of the payload, as the
//                  log frames it, into a prefaulted mapping: the limit
//     memcpy_xxh3_fresh  the same into fresh fallocated pages (mapped
//                  without MAP_POPULATE: each page's first touch faults)
//
//   BM_durable/<peer>/<payload bytes>[/threads:N]  durable appends
//     mmds_sync    mmds_log_append() then mmds_log_sync() of that record,
//                  8/64/1024 B by one thread, 64 B by 4 or 16 threads
//                  sharing one log: concurrent syncs share one flush
//                  (group commit)
//     write_fdatasync        write(2) + fdatasync() per record, 8/64/1024 B
//     write_fdatasync_shared write(2) + fdatasync() per record by 16
//                  threads on one O_APPEND file
//     write_fdatasync_per64  write(2) per record, fdatasync() every 64
//
// Rates are records per second (items_per_second) of all threads together,
// real time.  Files live in a mkdtemp() directory under $TMPDIR (default
// /tmp), removed at the end.  Numbers are measured, never asserted: see
// docs/PERFORMANCE.md.

#include <benchmark/benchmark.h>
// inline, as the log's own record checksum: the peer is a framed append
// written as well as it can be
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <mmds.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace {

std::string g_dir;

const std::string &tmpdir()
{
	static std::once_flag once;
	std::call_once(once, [] {
		const char *base = getenv("TMPDIR");
		std::string t = std::string(base && *base ? base : "/tmp") +
				"/mmds-bench-log.XXXXXX";
		if (mkdtemp(&t[0]) == nullptr) {
			perror("mkdtemp");
			exit(1);
		}
		g_dir = t;
	});
	return g_dir;
}

void rm_tree(const std::string &dir)
{
	DIR *d = opendir(dir.c_str());
	if (d == nullptr)
		return;
	while (struct dirent *e = readdir(d)) {
		std::string n = e->d_name;
		if (n == "." || n == "..")
			continue;
		std::string p = dir + "/" + n;
		if (e->d_type == DT_DIR)
			rm_tree(p);
		else
			unlink(p.c_str());
	}
	closedir(d);
	rmdir(dir.c_str());
}

struct Frame {
	uint8_t buf[16 + 1024];
	size_t total;
	Frame(size_t len)
	{
		memset(buf, 0xab, sizeof(buf));
		uint64_t w = len | uint64_t(1) << 32 | uint64_t(0x8000) << 48;
		memcpy(buf, &w, 8);
		total = 16 + ((len + 7) & ~size_t(7));
	}
};

mmds_log *open_log(const std::string &name)
{
	std::string dir = tmpdir() + "/" + name;
	rm_tree(dir);
	mmds_log *l = nullptr;
	mmds_log_opts o{};
	o.flags = MMDS_LOG_CREATE;
	int rc = mmds_log_open(&l, dir.c_str(), &o);
	if (rc) {
		fprintf(stderr, "mmds_log_open: %s\n", mmds_strerror(rc));
		exit(1);
	}
	return l;
}

void BM_append_mmds(benchmark::State &state)
{
	size_t len = size_t(state.range(0));
	mmds_log *l = open_log("append");
	char payload[1024];
	memset(payload, 0x5a, sizeof(payload));
	uint64_t n = 0;
	for (auto _ : state) {
		uint64_t lsn;
		if (mmds_log_append(l, 1, payload, len, &lsn) != 0)
			state.SkipWithError("append failed");
		if ((++n & 0xfffff) == 0) // keep the disk footprint bounded
			mmds_log_retain(l, lsn);
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
	state.SetBytesProcessed(int64_t(state.iterations() * len));
	mmds_log_close(l);
	rm_tree(tmpdir() + "/append");
}

void BM_append_write(benchmark::State &state)
{
	size_t len = size_t(state.range(0));
	std::string p = tmpdir() + "/write.dat";
	int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	Frame f(len);
	uint64_t n = 0;
	for (auto _ : state) {
		if (write(fd, f.buf, f.total) != ssize_t(f.total))
			state.SkipWithError("write failed");
		if ((++n & 0xfffff) == 0 && ftruncate(fd, 0) != 0)
			state.SkipWithError("ftruncate failed");
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
	state.SetBytesProcessed(int64_t(state.iterations() * len));
	close(fd);
	unlink(p.c_str());
}

void BM_append_fwrite(benchmark::State &state)
{
	size_t len = size_t(state.range(0));
	std::string p = tmpdir() + "/fwrite.dat";
	FILE *fp = fopen(p.c_str(), "ae");
	Frame f(len);
	uint64_t n = 0;
	for (auto _ : state) {
		if (fwrite(f.buf, 1, f.total, fp) != f.total || fflush(fp) != 0)
			state.SkipWithError("fwrite failed");
		if ((++n & 0xfffff) == 0 && ftruncate(fileno(fp), 0) != 0)
			state.SkipWithError("ftruncate failed");
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
	state.SetBytesProcessed(int64_t(state.iterations() * len));
	fclose(fp);
	unlink(p.c_str());
}

// The raw peers' file: 256 MiB, preallocated, mapped shared (prefaulted
// unless fresh), removed at the end.
struct RawFile {
	static constexpr size_t size = size_t(256) << 20;
	std::string path;
	int fd;
	bool fresh;
	uint8_t *base = nullptr;

	RawFile(const char *name, bool fresh_) : path(tmpdir() + "/" + name), fresh(fresh_)
	{
		fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0 && posix_fallocate(fd, 0, off_t(size)) == 0)
			map();
	}
	bool ok() const { return base != nullptr; }
	void map()
	{
		void *m = mmap(nullptr, size, PROT_READ | PROT_WRITE,
			       MAP_SHARED | (fresh ? 0 : MAP_POPULATE), fd, 0);
		base = m == MAP_FAILED ? nullptr : static_cast<uint8_t *>(m);
	}
	// fresh pages again: unmapped, the blocks given back and taken anew
	bool remake()
	{
		munmap(base, size);
		base = nullptr;
		if (ftruncate(fd, 0) == 0 && posix_fallocate(fd, 0, off_t(size)) == 0)
			map();
		return ok();
	}
	~RawFile()
	{
		if (base)
			munmap(base, size);
		if (fd >= 0)
			close(fd);
		unlink(path.c_str());
	}
};

void BM_append_memcpy(benchmark::State &state)
{
	size_t len = size_t(state.range(0));
	RawFile raw("raw.dat", false);
	if (!raw.ok()) {
		state.SkipWithError("cannot create the file");
		return;
	}
	const size_t size = raw.size;
	uint8_t *base = raw.base;
	Frame f(len);
	uint64_t w;
	memcpy(&w, f.buf, 8);
	size_t pos = 0;
	for (auto _ : state) {
		if (pos + f.total > size)
			pos = 0;
		memcpy(base + pos + 8, f.buf + 8, f.total - 8);
		__atomic_store_n(reinterpret_cast<uint64_t *>(base + pos), w, __ATOMIC_RELEASE);
		pos += f.total;
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
	state.SetBytesProcessed(int64_t(state.iterations() * len));
}

void BM_append_fwrite_buffered(benchmark::State &state)
{
	size_t len = size_t(state.range(0));
	std::string p = tmpdir() + "/fwrite_buffered.dat";
	FILE *fp = fopen(p.c_str(), "ae");
	Frame f(len);
	uint64_t n = 0;
	for (auto _ : state) {
		if (fwrite(f.buf, 1, f.total, fp) != f.total)
			state.SkipWithError("fwrite failed");
		if ((++n & 0xfffff) == 0 && (fflush(fp) != 0 || ftruncate(fileno(fp), 0) != 0))
			state.SkipWithError("ftruncate failed");
	}
	fflush(fp);
	state.SetItemsProcessed(int64_t(state.iterations()));
	state.SetBytesProcessed(int64_t(state.iterations() * len));
	fclose(fp);
	unlink(p.c_str());
}

// A raw framed append as the log frames it: payload, then the xxh3 of the
// payload seeded by the position, then the header word (release).  fresh:
// the mapping is not prefaulted and is remade (untimed) when full, so
// every page is touched for the first time by an append.
void append_memcpy_xxh3(benchmark::State &state, bool fresh)
{
	size_t len = size_t(state.range(0));
	RawFile raw("raw_xxh3.dat", fresh);
	if (!raw.ok()) {
		state.SkipWithError("cannot create the file");
		return;
	}
	const size_t size = raw.size;
	uint8_t *base = raw.base;
	Frame f(len);
	uint64_t w;
	memcpy(&w, f.buf, 8);
	size_t pos = 0;
	for (auto _ : state) {
		if (pos + f.total > size) {
			pos = 0;
			if (fresh) {
				state.PauseTiming();
				if (!raw.remake()) {
					state.SkipWithError("cannot remake the file");
					break;
				}
				base = raw.base;
				state.ResumeTiming();
			}
		}
		uint8_t *r = base + pos;
		memcpy(r + 16, f.buf + 16, len);
		uint64_t sum = XXH3_64bits_withSeed(r + 16, len, pos ^ w);
		memcpy(r + 8, &sum, 8);
		__atomic_store_n(reinterpret_cast<uint64_t *>(r), w, __ATOMIC_RELEASE);
		pos += f.total;
		benchmark::ClobberMemory();
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
	state.SetBytesProcessed(int64_t(state.iterations() * len));
}

void BM_append_memcpy_xxh3(benchmark::State &state)
{
	append_memcpy_xxh3(state, false);
}

void BM_append_memcpy_xxh3_fresh(benchmark::State &state)
{
	append_memcpy_xxh3(state, true);
}

// One log shared by the threads of the group-commit benchmark, and one
// O_APPEND file shared by the threads of its write + fdatasync peer, opened
// before any benchmark runs.
mmds_log *g_durable;
int g_shared_fd = -1;

void BM_durable_mmds_sync(benchmark::State &state)
{
	size_t len = size_t(state.range(0));
	char payload[1024];
	memset(payload, 0x5a, sizeof(payload));
	for (auto _ : state) {
		uint64_t lsn;
		mmds_log *l = g_durable;
		// the record's own LSN: that record and all before it (its end
		// would also wait for whatever record another thread reserved
		// right after it)
		if (mmds_log_append(l, 1, payload, len, &lsn) != 0 ||
		    mmds_log_sync(l, lsn) != 0)
			state.SkipWithError("append/sync failed");
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_durable_write_fdatasync_shared(benchmark::State &state)
{
	Frame f(size_t(state.range(0)));
	for (auto _ : state) {
		if (write(g_shared_fd, f.buf, f.total) != ssize_t(f.total) ||
		    fdatasync(g_shared_fd) != 0)
			state.SkipWithError("write/fdatasync failed");
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
}

void BM_durable_write_fdatasync(benchmark::State &state)
{
	int every = int(state.range(1));
	std::string p = tmpdir() + "/durable.dat";
	int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	Frame f(size_t(state.range(0)));
	int n = 0;
	for (auto _ : state) {
		if (write(fd, f.buf, f.total) != ssize_t(f.total))
			state.SkipWithError("write failed");
		if (++n % every == 0 && fdatasync(fd) != 0)
			state.SkipWithError("fdatasync failed");
	}
	state.SetItemsProcessed(int64_t(state.iterations()));
	close(fd);
	unlink(p.c_str());
}

} // namespace

BENCHMARK(BM_append_mmds)->Name("BM_append/mmds")->Arg(8)->Arg(64)->Arg(1024)->UseRealTime();
BENCHMARK(BM_append_write)->Name("BM_append/write")->Arg(8)->Arg(64)->Arg(1024)->UseRealTime();
BENCHMARK(BM_append_fwrite)->Name("BM_append/fwrite")->Arg(8)->Arg(64)->Arg(1024)->UseRealTime();
BENCHMARK(BM_append_fwrite_buffered)
	->Name("BM_append/fwrite_buffered")->Arg(8)->Arg(64)->Arg(1024)->UseRealTime();
BENCHMARK(BM_append_memcpy)->Name("BM_append/memcpy")->Arg(8)->Arg(64)->Arg(1024)->UseRealTime();
BENCHMARK(BM_append_memcpy_xxh3)
	->Name("BM_append/memcpy_xxh3")->Arg(8)->Arg(64)->Arg(1024)->UseRealTime();
BENCHMARK(BM_append_memcpy_xxh3_fresh)
	->Name("BM_append/memcpy_xxh3_fresh")->Arg(8)->Arg(64)->Arg(1024)->UseRealTime();
BENCHMARK(BM_durable_mmds_sync)
	->Name("BM_durable/mmds_sync")->Arg(8)->Arg(64)->Arg(1024)
	->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_durable_mmds_sync)
	->Name("BM_durable/mmds_sync")->Arg(64)->Threads(4)->Threads(16)
	->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_durable_write_fdatasync)
	->Name("BM_durable/write_fdatasync")->Args({ 8, 1 })->Args({ 64, 1 })->Args({ 1024, 1 })
	->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_durable_write_fdatasync_shared)
	->Name("BM_durable/write_fdatasync_shared")->Arg(64)->Threads(16)
	->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_durable_write_fdatasync)
	->Name("BM_durable/write_fdatasync_per64")->Args({ 64, 64 })->UseRealTime();

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	tmpdir();
	g_durable = open_log("durable");
	g_shared_fd = open((g_dir + "/shared.dat").c_str(),
			   O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (g_shared_fd < 0) {
		perror("shared.dat");
		return 1;
	}
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	if (g_durable)
		mmds_log_close(g_durable);
	close(g_shared_fd);
	rm_tree(g_dir);
	return 0;
}
