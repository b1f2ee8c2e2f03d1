// bench_ring.cc - the IPC ring (include/mmds/ring.h) beside its peers.
//
// Every benchmark here is what a user would set up to pass messages between
// two processes on one host: a producer process and a consumer process
// (forked), the queue in shared memory, each process pinned to its own CPU
// (the consumer, the timed side, to CPU 0; the producers to CPU 1), both
// spinning on empty/full.  Queues of fixed-size messages hold 1024 of them;
// mmds rings have 128 KiB of data (1820 messages of 64 B).  The producer
// starts when the consumer's timed loop starts (a flag in shared memory) and
// sends exactly as many messages as the loop receives.  Per message, the
// producer stores its sequence number in the first 8 bytes and the consumer
// reads them: the same, least work for every peer.
//
//   BM_spsc/<way>/<size>    messages per second, one producer, size 8, 64
//     mmds_push_pop          mmds_ring_push / mmds_ring_pop
//     mmds_claim_readbatch   mmds_ring_claim + mmds_ring_commit /
//                            mmds_ring_read_batch (the zero-copy way)
//     mmds_claim_peekbatch   mmds_ring_claim + mmds_ring_commit /
//                            mmds_ring_peek_batch + mmds_ring_release
//     mmds_pushbatch_readbatch  mmds_ring_push_batch of 16 / read_batch
//     boost_spsc             boost::lockfree::spsc_queue<msg, capacity<1024>>
//                            placed in shared memory, between the processes
//                            (only when Debian's libboost-dev is installed)
//     boost_threads_1M       the same queue sized 1 MiB between two threads
//                            of one process, unpinned: the set-up of this
//                            file's earlier versions, kept to show how much
//                            that set-up changes boost's figure
//     pipe                   write(2) / read(2) of each message on a pipe
//
//   BM_mpsc2/<way>/<size>   two producer processes (both on CPU 1; a full
//                           queue makes them sched_yield), one consumer
//     mmds_push_readbatch    MPSC ring, mmds_ring_push / read_batch
//     mmds_push_pop          MPSC ring, mmds_ring_push / mmds_ring_pop
//     ck_mpsc                Concurrency Kit's ck_ring MPSC of fixed-size
//                            messages (CK_RING_PROTOTYPE), in shared memory,
//                            1023 messages (ring_ck.c: ck_ring.h is C
//                            only; only when libck-dev is installed; with
//                            fewer than 3 CPUs a fixed 20000 messages:
//                            see kCkFewCpus)
//
//   BM_local/<way>/<size>   the code path alone: one thread sends 16
//                           messages, then receives them (CPU time per
//                           message; no line moves between CPUs)
//     mmds_push_pop, mmds_claim_readbatch, mmds_pushbatch_readbatch,
//     boost_spsc             as above, on one SPSC ring / queue
//
//   BM_pingpong/<peer>      round trip of an 8-byte message between the two
//                           processes: the parent sends, the child echoes
//     mmds_push_pop          two SPSC rings, push / pop
//     mmds_push_pop_timed    the same, receiving with mmds_ring_pop_timed()
//                            (spins inside the call before it would sleep)
//     cacheline              the floor: two processes taking turns writing
//                            one 64-bit word of a shared cache line
//     cachelines             the same with a line per direction (the
//                            parent writes one, the child the other), the
//                            layout two rings have; the floor is the
//                            faster of the two
//                           Counters p10_ns / p50_ns: the 10th percentile
//                           and median of windows of 16 round trips, per
//                           round trip; on a shared machine, p10_ns is the
//                           figure to read
//
// All benchmarks use real time.  Numbers are measured, never asserted: see
// docs/PERFORMANCE.md.  Both processes spin on their own CPU, so anything
// else running on the machine disturbs the numbers.

#include <benchmark/benchmark.h>

#include <mmds.h>

#include "ring_ck.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <thread>
#include <vector>

#if defined(__has_include)
#if __has_include(<boost/lockfree/spsc_queue.hpp>)
#include <boost/lockfree/spsc_queue.hpp>
#define HAVE_BOOST_SPSC 1
#endif
#endif

namespace {

constexpr double kMinTime = 0.5;
constexpr uint64_t kRingCap = 128 << 10;
constexpr size_t kQueueMsgs = 1024;
const int kSizes[] = {8, 64};

inline void relax()
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

[[noreturn]] void die(const char *what, int err)
{
	std::fprintf(stderr, "bench_ring: %s: %s\n", what, mmds_strerror(err));
	std::exit(1);
}

void pin(int cpu)
{
	cpu_set_t set;

	if (std::thread::hardware_concurrency() < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

void reap(pid_t pid)
{
	int st = 0;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		std::fprintf(stderr, "bench_ring: child failed\n");
		std::exit(1);
	}
}

// Shared memory for a peer's queue and the start flag.
void *shared(size_t n)
{
	void *p = mmap(nullptr, n, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap", -errno);
	return p;
}

struct Start {
	std::atomic<int> go{0};
};

Start *start_flag()
{
	return new (shared(4096)) Start;
}

void wait_start(Start *s)
{
	while (s->go.load(std::memory_order_acquire) == 0)
		relax();
}

// Fork a producer pinned to CPU 1 running fn(); returns its pid.
template <class F> pid_t spawn(F fn)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork", -errno);
	if (pid == 0) {
		pin(1);
		fn();
		_exit(0);
	}
	return pid;
}

void stamp(void *dst, int64_t i)
{
	std::memcpy(dst, &i, sizeof(i));
}

int64_t seq_of(const void *src)
{
	int64_t v;

	std::memcpy(&v, src, sizeof(v));
	return v;
}

// Windows of w round trips timed one by one: on a shared machine the mean
// mostly measures when the two processes were not both on a CPU, while the
// fast windows are those in which they were.  Reported as counters per
// round trip: p10_ns (10th percentile window) and p50_ns.  (Not used for
// throughput: there the fastest windows are a consumer draining what the
// producer queued while the consumer was off its CPU.)
class Windows {
public:
	explicit Windows(int64_t w) : w_(w), last_(now()) { d_.reserve(1 << 16); }

	inline void tick()
	{
		if (++k_ % w_ != 0)
			return;
		uint64_t t = now();
		if (d_.size() < d_.capacity())
			d_.push_back(t - last_);
		last_ = t;
	}

	void report(benchmark::State &state)
	{
		if (d_.size() < 10)
			return;
		std::sort(d_.begin(), d_.end());
		state.counters["p10_ns"] = double(d_[d_.size() / 10]) / double(w_);
		state.counters["p50_ns"] = double(d_[d_.size() / 2]) / double(w_);
	}

private:
	static uint64_t now()
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
	}

	int64_t w_, k_ = 0;
	uint64_t last_;
	std::vector<uint64_t> d_;
};

template <size_t N> struct Msg {
	char b[N];
};

// ---- mmds ------------------------------------------------------------------

mmds_ring *ring_anon(unsigned mode, uint64_t cap,
		     unsigned role = MMDS_RING_CONSUMER)
{
	mmds_ring *r = nullptr;
	mmds_ring_opts o{};

	o.role = role;
	o.mode = mode;
	o.capacity = cap;
	int rc = mmds_ring_open_anon(&r, &o);
	if (rc < 0)
		die("mmds_ring_open_anon", rc);
	return r;
}

mmds_ring *ring_peer(mmds_ring *r, unsigned role)
{
	mmds_ring *p = nullptr;
	mmds_ring_opts o{};

	o.role = role;
	int rc = mmds_ring_open_fd(&p, mmds_ring_fd(r), &o);
	if (rc < 0)
		die("mmds_ring_open_fd", rc);
	return p;
}

enum class Send { push, claim, push_batch };
enum class Recv { pop, read_batch, peek_batch };

void produce(mmds_ring *p, Send how, size_t size, int64_t from, int64_t n,
	     int64_t step, bool yield)
{
	char buf[1024] = {1};
	int64_t i = from;

	while (i < n) {
		int rc;

		if (how == Send::push) {
			stamp(buf, i);
			rc = mmds_ring_push(p, 0, buf, size);
			if (rc == 0)
				i += step;
		} else if (how == Send::claim) {
			void *d;

			rc = mmds_ring_claim(p, size, &d);
			if (rc == 0) {
				stamp(d, i);
				rc = mmds_ring_commit(p, 0);
				i += step;
			}
		} else {
			char bufs[16][64];
			mmds_ring_msg m[16];
			int64_t k = 0;

			for (; k < 16 && i + k * step < n; k++) {
				stamp(bufs[k], i + k * step);
				m[k].data = bufs[k];
				m[k].len = size;
				m[k].type = 0;
			}
			ssize_t got = mmds_ring_push_batch(p, m, size_t(k));
			rc = got < 0 ? int(got) : 0;
			if (got > 0)
				i += got * step;
		}
		if (rc == -EAGAIN) {
			if (yield)
				sched_yield();
			else
				relax();
		} else if (rc < 0) {
			die("producer", rc);
		}
	}
}

int batch_fn(void *arg, const mmds_ring_msg *m)
{
	*static_cast<int64_t *>(arg) += seq_of(m->data);
	return 0;
}

void throughput_mmds(benchmark::State &state, unsigned mode, int producers,
		     Send how, Recv recv)
{
	const size_t size = size_t(state.range(0));
	const int64_t n = int64_t(state.max_iterations);
	mmds_ring *c = ring_anon(mode, kRingCap);
	Start *go = start_flag();
	pid_t pid[2];
	char buf[1024];
	int64_t sum = 0, pending = 0, calls = 0;

	for (int k = 0; k < producers; k++)
		pid[k] = spawn([&] {
			mmds_ring *p = ring_peer(c, MMDS_RING_PRODUCER);
			wait_start(go);
			produce(p, how, size, k, n, producers, producers > 1);
			mmds_ring_close(p);
		});
	go->go.store(1, std::memory_order_release);
	for (auto _ : state) {
		if (recv == Recv::pop) {
			ssize_t got;

			while ((got = mmds_ring_pop(c, buf, sizeof(buf),
						    nullptr)) == -EAGAIN)
				relax();
			if (got < 0)
				die("mmds_ring_pop", int(got));
			sum += seq_of(buf);
			continue;
		}
		while (pending == 0) {
			ssize_t got;

			if (recv == Recv::read_batch) {
				got = mmds_ring_read_batch(c, 0, batch_fn, &sum);
			} else {
				mmds_ring_msg m[64];

				got = mmds_ring_peek_batch(c, m, 64);
				for (ssize_t j = 0; j < got; j++)
					sum += seq_of(m[j].data);
				if (got > 0)
					mmds_ring_release(c);
			}
			if (got < 0)
				die("consumer", int(got));
			if (got == 0)
				relax();
			else
				calls++;
			pending = got;
		}
		pending--;
	}
	benchmark::DoNotOptimize(sum);
	// messages per batch call that found any: about 1 means the consumer
	// keeps pace with the producer, one message at a time
	if (recv != Recv::pop && calls)
		state.counters["per_batch"] = double(state.iterations()) / double(calls);
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(size));
	for (int k = 0; k < producers; k++)
		reap(pid[k]);
	mmds_ring_close(c);
	munmap(go, 4096);
}

// timed: the receives are mmds_ring_pop_timed() with no timeout (it spins
// a while inside one call before it would sleep) instead of a loop of
// mmds_ring_pop() calls.
void pingpong_mmds(benchmark::State &state, bool timed)
{
	mmds_ring *ping = ring_anon(MMDS_RING_SPSC, kRingCap, MMDS_RING_PRODUCER);
	mmds_ring *pong = ring_anon(MMDS_RING_SPSC, kRingCap);
	const int64_t n = int64_t(state.max_iterations);
	uint64_t v = 0;
	pid_t pid = spawn([&] {
		mmds_ring *in = ring_peer(ping, MMDS_RING_CONSUMER);
		mmds_ring *out = ring_peer(pong, MMDS_RING_PRODUCER);
		for (int64_t i = 0; i < n; i++) {
			if (timed) {
				if (mmds_ring_pop_timed(in, &v, sizeof(v), nullptr, -1) < 0)
					die("mmds_ring_pop_timed", -EIO);
			} else {
				while (mmds_ring_pop(in, &v, sizeof(v), nullptr) == -EAGAIN)
					relax();
			}
			while (mmds_ring_push(out, 0, &v, sizeof(v)) == -EAGAIN)
				relax();
		}
	});
	Windows win(16);

	for (auto _ : state) {
		win.tick();
		v++;
		while (mmds_ring_push(ping, 0, &v, sizeof(v)) == -EAGAIN)
			relax();
		if (timed) {
			if (mmds_ring_pop_timed(pong, &v, sizeof(v), nullptr, -1) < 0)
				die("mmds_ring_pop_timed", -EIO);
		} else {
			while (mmds_ring_pop(pong, &v, sizeof(v), nullptr) == -EAGAIN)
				relax();
		}
	}
	win.report(state);
	reap(pid);
	mmds_ring_close(ping);
	mmds_ring_close(pong);
}

// ---- the code path alone ------------------------------------------------------

// One thread sends 16 messages, then receives them: no cache line moves
// between CPUs, so this is the cost of the calls themselves (guards,
// fences, checks), in CPU time, which a loaded machine disturbs far less
// than the two-process figures.
void local_mmds(benchmark::State &state, Send how, Recv recv)
{
	const size_t size = size_t(state.range(0));
	mmds_ring *c = ring_anon(MMDS_RING_SPSC, kRingCap);
	mmds_ring *p = ring_peer(c, MMDS_RING_PRODUCER);
	char buf[1024] = {1};
	int64_t sum = 0, seq = 0;

	for (auto _ : state) {
		produce(p, how, size, seq, seq + 16, 1, false);
		seq += 16;
		if (recv == Recv::pop) {
			for (int k = 0; k < 16; k++) {
				if (mmds_ring_pop(c, buf, sizeof(buf), nullptr) < 0)
					die("mmds_ring_pop", -EIO);
				sum += seq_of(buf);
			}
		} else if (mmds_ring_read_batch(c, 0, batch_fn, &sum) != 16) {
			die("mmds_ring_read_batch", -EIO);
		}
	}
	benchmark::DoNotOptimize(sum);
	state.SetItemsProcessed(state.iterations() * 16);
	mmds_ring_close(p);
	mmds_ring_close(c);
}

#ifdef HAVE_BOOST_SPSC
template <size_t N> void local_boost(benchmark::State &state)
{
	boost::lockfree::spsc_queue<Msg<N>,
				    boost::lockfree::capacity<kQueueMsgs>> q;
	Msg<N> m{};
	int64_t sum = 0, seq = 0;

	for (auto _ : state) {
		for (int k = 0; k < 16; k++) {
			stamp(m.b, seq++);
			if (!q.push(m))
				die("push", -EIO);
		}
		for (int k = 0; k < 16; k++) {
			if (!q.pop(m))
				die("pop", -EIO);
			sum += seq_of(m.b);
		}
	}
	benchmark::DoNotOptimize(sum);
	state.SetItemsProcessed(state.iterations() * 16);
}
#endif

// ---- raw cache line ----------------------------------------------------------

void pingpong_cacheline(benchmark::State &state)
{
	auto *w = new (shared(4096)) std::atomic<uint64_t>(0);
	const uint64_t n = uint64_t(state.max_iterations);
	pid_t pid = spawn([&] {
		for (uint64_t i = 0; i < n; i++) {
			while (w->load(std::memory_order_acquire) != 2 * i + 1)
				relax();
			w->store(2 * i + 2, std::memory_order_release);
		}
	});
	uint64_t i = 0;
	Windows win(16);

	for (auto _ : state) {
		win.tick();
		w->store(2 * i + 1, std::memory_order_release);
		while (w->load(std::memory_order_acquire) != 2 * i + 2)
			relax();
		i++;
	}
	win.report(state);
	reap(pid);
	munmap(w, 4096);
}

// The same with one line per direction, as two rings have: each process
// writes only its own line and spins only on the other's.
void pingpong_cachelines(benchmark::State &state)
{
	auto *ping = new (shared(4096)) std::atomic<uint64_t>(0);
	auto *pong = new (reinterpret_cast<char *>(ping) + 128) std::atomic<uint64_t>(0);
	const uint64_t n = uint64_t(state.max_iterations);
	pid_t pid = spawn([&] {
		for (uint64_t i = 1; i <= n; i++) {
			while (ping->load(std::memory_order_acquire) != i)
				relax();
			pong->store(i, std::memory_order_release);
		}
	});
	uint64_t i = 1;
	Windows win(16);

	for (auto _ : state) {
		win.tick();
		ping->store(i, std::memory_order_release);
		while (pong->load(std::memory_order_acquire) != i)
			relax();
		i++;
	}
	win.report(state);
	reap(pid);
	munmap(ping, 4096);
}

// ---- boost::lockfree::spsc_queue -------------------------------------------------

#ifdef HAVE_BOOST_SPSC
template <size_t N> void throughput_boost(benchmark::State &state)
{
	using Q = boost::lockfree::spsc_queue<
		Msg<N>, boost::lockfree::capacity<kQueueMsgs>>;
	auto *q = new (shared(sizeof(Q))) Q;
	Start *go = start_flag();
	const int64_t n = int64_t(state.max_iterations);
	pid_t pid = spawn([&] {
		Msg<N> m{};
		wait_start(go);
		for (int64_t i = 0; i < n; i++) {
			stamp(m.b, i);
			while (!q->push(m))
				relax();
		}
	});
	Msg<N> m;
	int64_t sum = 0;

	go->go.store(1, std::memory_order_release);
	for (auto _ : state) {
		while (!q->pop(m))
			relax();
		sum += seq_of(m.b);
	}
	benchmark::DoNotOptimize(sum);
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(N));
	reap(pid);
	q->~Q();
	munmap(q, sizeof(Q));
	munmap(go, 4096);
}

// The set-up of earlier versions: threads, a 1 MiB queue, no pinning.
template <size_t N> void throughput_boost_threads(benchmark::State &state)
{
	auto *q = new boost::lockfree::spsc_queue<Msg<N>>((1 << 20) / N);
	const int64_t n = int64_t(state.max_iterations);
	cpu_set_t all, saved;

	sched_getaffinity(0, sizeof(saved), &saved);
	CPU_ZERO(&all);
	for (unsigned c = 0; c < std::thread::hardware_concurrency(); c++)
		CPU_SET(c, &all);
	sched_setaffinity(0, sizeof(all), &all);
	std::thread prod([&] {
		Msg<N> m{};
		for (int64_t i = 0; i < n; i++) {
			stamp(m.b, i);
			while (!q->push(m))
				relax();
		}
	});
	Msg<N> m;
	int64_t sum = 0;

	for (auto _ : state) {
		while (!q->pop(m))
			relax();
		sum += seq_of(m.b);
	}
	benchmark::DoNotOptimize(sum);
	prod.join();
	sched_setaffinity(0, sizeof(saved), &saved);
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(N));
	delete q;
}
#endif

// ---- ck_ring MPSC ------------------------------------------------------------

void throughput_ck(benchmark::State &state)
{
	const size_t size = size_t(state.range(0));
	struct bench_ck *q = bench_ck_new(size);
	Start *go = start_flag();
	const int64_t n = int64_t(state.max_iterations);
	pid_t pid[2];
	int64_t sum = 0;

	for (int k = 0; k < 2; k++)
		pid[k] = spawn([&] {
			wait_start(go);
			bench_ck_produce(q, k, n, 2);
		});
	go->go.store(1, std::memory_order_release);
	for (auto _ : state)
		sum += bench_ck_consume(q);
	benchmark::DoNotOptimize(sum);
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(size));
	reap(pid[0]);
	reap(pid[1]);
	bench_ck_free(q);
	munmap(go, 4096);
}

// ---- pipe ----------------------------------------------------------------------

bool read_full(int fd, char *buf, size_t n)
{
	while (n > 0) {
		ssize_t k = read(fd, buf, n);
		if (k <= 0)
			return false;
		buf += k;
		n -= size_t(k);
	}
	return true;
}

void throughput_pipe(benchmark::State &state)
{
	const size_t size = size_t(state.range(0));
	const int64_t n = int64_t(state.max_iterations);
	char buf[1024] = {1};
	int fds[2];
	int64_t sum = 0;

	if (pipe2(fds, O_CLOEXEC))
		die("pipe", -errno);
	pid_t pid = spawn([&] {
		close(fds[0]);
		for (int64_t i = 0; i < n; i++) {
			stamp(buf, i);
			if (write(fds[1], buf, size) != ssize_t(size))
				_exit(1);
		}
	});
	close(fds[1]);
	for (auto _ : state) {
		if (!read_full(fds[0], buf, size))
			die("read", -EIO);
		sum += seq_of(buf);
	}
	benchmark::DoNotOptimize(sum);
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(size));
	reap(pid);
	close(fds[0]);
}

void reg(const std::string &name, int size,
	 std::function<void(benchmark::State &)> fn)
{
	benchmark::RegisterBenchmark(name.c_str(), fn)
		->Arg(size)
		->MinTime(kMinTime)
		->UseRealTime();
}

// ck_ring's MPSC enqueue waits, spinning, for every earlier producer to
// publish; with its two producers sharing one CPU, a producer preempted
// between its reservation and its publication makes the other spin out
// its time slice, and a run sized by time takes many minutes.  With fewer
// than a CPU for each of the three processes it therefore runs a fixed
// kCkFewCpus messages, to show that cost without waiting for ever.
// (mmds's MPSC producers never wait for one another: a claim is complete
// in the record header.)
constexpr int64_t kCkFewCpus = 20000;

bool ck_few_cpus()
{
	return sysconf(_SC_NPROCESSORS_ONLN) < 3;
}

void register_all()
{
	for (int size : kSizes) {
		reg("BM_spsc/mmds_push_pop", size, [](benchmark::State &s) {
			throughput_mmds(s, MMDS_RING_SPSC, 1, Send::push,
					Recv::pop);
		});
		reg("BM_spsc/mmds_claim_readbatch", size,
		    [](benchmark::State &s) {
			    throughput_mmds(s, MMDS_RING_SPSC, 1, Send::claim,
					    Recv::read_batch);
		    });
		reg("BM_spsc/mmds_claim_peekbatch", size,
		    [](benchmark::State &s) {
			    throughput_mmds(s, MMDS_RING_SPSC, 1, Send::claim,
					    Recv::peek_batch);
		    });
		reg("BM_spsc/mmds_pushbatch_readbatch", size,
		    [](benchmark::State &s) {
			    throughput_mmds(s, MMDS_RING_SPSC, 1,
					    Send::push_batch, Recv::read_batch);
		    });
#ifdef HAVE_BOOST_SPSC
		reg("BM_spsc/boost_spsc", size,
		    size == 8 ? throughput_boost<8> : throughput_boost<64>);
		reg("BM_spsc/boost_threads_1M", size,
		    size == 8 ? throughput_boost_threads<8>
			      : throughput_boost_threads<64>);
#endif
		reg("BM_spsc/pipe", size, throughput_pipe);
		reg("BM_mpsc2/mmds_push_readbatch", size,
		    [](benchmark::State &s) {
			    throughput_mmds(s, MMDS_RING_MPSC, 2, Send::push,
					    Recv::read_batch);
		    });
		reg("BM_mpsc2/mmds_push_pop", size, [](benchmark::State &s) {
			throughput_mmds(s, MMDS_RING_MPSC, 2, Send::push,
					Recv::pop);
		});
		if (bench_ck_available() && ck_few_cpus())
			benchmark::RegisterBenchmark("BM_mpsc2/ck_mpsc", throughput_ck)
				->Arg(size)
				->Iterations(kCkFewCpus)
				->UseRealTime();
		else if (bench_ck_available())
			reg("BM_mpsc2/ck_mpsc", size, throughput_ck);
	}
	for (int size : kSizes) {
		auto local = [&](const std::string &name,
				 std::function<void(benchmark::State &)> fn) {
			benchmark::RegisterBenchmark(name.c_str(), fn)
				->Arg(size)
				->MinTime(kMinTime);
		};
		local("BM_local/mmds_push_pop", [](benchmark::State &s) {
			local_mmds(s, Send::push, Recv::pop);
		});
		local("BM_local/mmds_claim_readbatch", [](benchmark::State &s) {
			local_mmds(s, Send::claim, Recv::read_batch);
		});
		local("BM_local/mmds_pushbatch_readbatch",
		      [](benchmark::State &s) {
			      local_mmds(s, Send::push_batch, Recv::read_batch);
		      });
#ifdef HAVE_BOOST_SPSC
		local("BM_local/boost_spsc",
		      size == 8 ? local_boost<8> : local_boost<64>);
#endif
	}
	benchmark::RegisterBenchmark("BM_pingpong/mmds_push_pop",
				     [](benchmark::State &s) { pingpong_mmds(s, false); })
		->MinTime(kMinTime)
		->UseRealTime();
	benchmark::RegisterBenchmark("BM_pingpong/mmds_push_pop_timed",
				     [](benchmark::State &s) { pingpong_mmds(s, true); })
		->MinTime(kMinTime)
		->UseRealTime();
	benchmark::RegisterBenchmark("BM_pingpong/cacheline", pingpong_cacheline)
		->MinTime(kMinTime)
		->UseRealTime();
	benchmark::RegisterBenchmark("BM_pingpong/cachelines", pingpong_cachelines)
		->MinTime(kMinTime)
		->UseRealTime();
}

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	pin(0);
	benchmark::AddCustomContext("mmds_version", mmds_version());
#ifdef HAVE_BOOST_SPSC
	benchmark::AddCustomContext("boost_spsc", "yes");
#else
	benchmark::AddCustomContext("boost_spsc",
				    "absent (install libboost-dev)");
#endif
	benchmark::AddCustomContext("ck_ring",
				    !bench_ck_available() ? "absent (install libck-dev)"
				    : ck_few_cpus() ? "fewer than 3 CPUs: a fixed 20000 messages"
						    : "yes");
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
