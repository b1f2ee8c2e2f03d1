// bench_counters.cc - persistent counters (include/mmds/counters.h) beside
// their peers, in one Google Benchmark binary:
//
//   BM_add/<peer>              one thread adds 1 to one counter
//     mmds_fn     mmds_counters_add(): checked, guarded, seq_cst
//     raw_inline  __atomic_fetch_add(seq_cst) on the counter's own value
//                 (mmds_counters_slot()), inlined in the loop: what a user
//                 compares the checked call with
//     mmds_slot   mmds_slot_inc() on mmds_counters_slot(): relaxed, inline
//     raw_atomic  __atomic_fetch_add(seq_cst) on a word of a raw MAP_SHARED
//                 mapping of another file (what Agrona/hsperfdata do)
//     raw_relaxed the same, relaxed
//   BM_add2/<peer>/threads:2   two threads add 1 at once
//     mmds_plain    both threads on one plain counter (mmds_slot_inc)
//     mmds_striped  one striped counter (4 stripes), each thread its slot;
//                   the counter "distinct" is 1 when the two threads got
//                   different stripes (it must be, every repetition)
//     raw_shared    both on one raw shared word
//     raw_separate  each thread its own raw word, 128 bytes apart
//   BM_get/<peer>              read one counter
//     mmds_fn, mmds_slot (mmds_slot_get), raw_load (relaxed load)
//
// Real time; with threads the rates are of both threads together.  The
// BM_add2 rows also report min and max over repetitions (run with
// --benchmark_repetitions=N): the striped target holds in every one.  Files
// live in a mkdtemp() directory under $TMPDIR and are unlinked at once.

#include <benchmark/benchmark.h>

#include <mmds.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

mmds_counters *g_c;
int g_plain, g_striped;
uint64_t *g_raw; // a raw shared mapping of a second file

bool setup()
{
	const char *tmp = getenv("TMPDIR");
	std::string dir = std::string(tmp ? tmp : "/tmp") + "/mmds-bench-XXXXXX";
	if (mkdtemp(&dir[0]) == nullptr)
		return false;
	std::string path = dir + "/counters", raw = dir + "/raw";
	mmds_counters_opts o{};
	o.flags = MMDS_COUNTERS_CREATE | MMDS_COUNTERS_EXCL;
	o.capacity = 64;
	if (mmds_counters_open(&g_c, path.c_str(), &o) < 0)
		return false;
	g_plain = mmds_counters_alloc(g_c, "plain", nullptr);
	mmds_counter_def d{};
	d.stripes = 4;
	g_striped = mmds_counters_alloc(g_c, "striped", &d);
	int fd = open(raw.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return false;
	void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	unlink(path.c_str());
	unlink(raw.c_str());
	rmdir(dir.c_str());
	if (p == MAP_FAILED || g_plain < 0 || g_striped < 0)
		return false;
	g_raw = static_cast<uint64_t *>(p);
	return true;
}

void BM_add_mmds_fn(benchmark::State &st)
{
	for (auto _ : st)
		mmds_counters_add(g_c, g_plain, 1, nullptr);
}
BENCHMARK(BM_add_mmds_fn)->Name("BM_add/mmds_fn")->UseRealTime();

void BM_add_mmds_slot(benchmark::State &st)
{
	uint64_t *s = mmds_counters_slot(g_c, g_plain);
	for (auto _ : st)
		benchmark::DoNotOptimize(mmds_slot_inc(s));
}
BENCHMARK(BM_add_mmds_slot)->Name("BM_add/mmds_slot")->UseRealTime();

void BM_add_raw_inline(benchmark::State &st)
{
	uint64_t *s = mmds_counters_slot(g_c, g_plain);
	for (auto _ : st)
		benchmark::DoNotOptimize(__atomic_fetch_add(s, 1, __ATOMIC_SEQ_CST));
}
BENCHMARK(BM_add_raw_inline)->Name("BM_add/raw_inline")->UseRealTime();

void BM_add_raw_atomic(benchmark::State &st)
{
	for (auto _ : st)
		benchmark::DoNotOptimize(
			__atomic_fetch_add(&g_raw[0], 1, __ATOMIC_SEQ_CST));
}
BENCHMARK(BM_add_raw_atomic)->Name("BM_add/raw_atomic")->UseRealTime();

void BM_add_raw_relaxed(benchmark::State &st)
{
	for (auto _ : st)
		benchmark::DoNotOptimize(
			__atomic_fetch_add(&g_raw[0], 1, __ATOMIC_RELAXED));
}
BENCHMARK(BM_add_raw_relaxed)->Name("BM_add/raw_relaxed")->UseRealTime();

void BM_add2_mmds_plain(benchmark::State &st)
{
	uint64_t *s = mmds_counters_slot(g_c, g_plain);
	for (auto _ : st)
		benchmark::DoNotOptimize(mmds_slot_inc(s));
}
BENCHMARK(BM_add2_mmds_plain)->Name("BM_add2/mmds_plain")->Threads(2)->UseRealTime();


uint64_t *g_stripe_of[2]; // each thread's slot, to report "distinct"

void BM_add2_mmds_striped(benchmark::State &st)
{
	uint64_t *s = mmds_counters_slot(g_c, g_striped); // this thread's stripe
	g_stripe_of[st.thread_index() & 1] = s;
	for (auto _ : st)
		benchmark::DoNotOptimize(mmds_slot_inc(s));
	if (st.thread_index() == 0)
		st.counters["distinct"] = g_stripe_of[0] != g_stripe_of[1];
}

double min_of(const std::vector<double> &v)
{
	return *std::min_element(v.begin(), v.end());
}

double max_of(const std::vector<double> &v)
{
	return *std::max_element(v.begin(), v.end());
}

BENCHMARK(BM_add2_mmds_striped)->Name("BM_add2/mmds_striped")->Threads(2)->UseRealTime()
	->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);

void BM_add2_raw_shared(benchmark::State &st)
{
	for (auto _ : st)
		benchmark::DoNotOptimize(
			__atomic_fetch_add(&g_raw[0], 1, __ATOMIC_RELAXED));
}
BENCHMARK(BM_add2_raw_shared)->Name("BM_add2/raw_shared")->Threads(2)->UseRealTime()
	->ComputeStatistics("min", min_of)->ComputeStatistics("max", max_of);

void BM_add2_raw_separate(benchmark::State &st)
{
	uint64_t *w = &g_raw[16 + 16 * st.thread_index()]; // 128 bytes apart
	for (auto _ : st)
		benchmark::DoNotOptimize(__atomic_fetch_add(w, 1, __ATOMIC_RELAXED));
}
BENCHMARK(BM_add2_raw_separate)->Name("BM_add2/raw_separate")->Threads(2)->UseRealTime();

void BM_get_mmds_fn(benchmark::State &st)
{
	uint64_t v;
	for (auto _ : st) {
		mmds_counters_get(g_c, g_plain, &v);
		benchmark::DoNotOptimize(v);
	}
}
BENCHMARK(BM_get_mmds_fn)->Name("BM_get/mmds_fn")->UseRealTime();

void BM_get_mmds_slot(benchmark::State &st)
{
	uint64_t *s = mmds_counters_slot(g_c, g_plain);
	for (auto _ : st)
		benchmark::DoNotOptimize(mmds_slot_get(s));
}
BENCHMARK(BM_get_mmds_slot)->Name("BM_get/mmds_slot")->UseRealTime();

void BM_get_raw_load(benchmark::State &st)
{
	for (auto _ : st)
		benchmark::DoNotOptimize(__atomic_load_n(&g_raw[0], __ATOMIC_RELAXED));
}
BENCHMARK(BM_get_raw_load)->Name("BM_get/raw_load")->UseRealTime();

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	if (!setup()) {
		std::fprintf(stderr, "bench_counters: cannot set up the files\n");
		return 1;
	}
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	mmds_counters_close(g_c);
	return 0;
}
