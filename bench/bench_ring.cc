// bench_ring.cc - the IPC ring (include/mmds/ring.h) beside its peers.
//
//   BM_throughput/<peer>/<size>
//     messages per second from a producer to a consumer, size 8, 64 and
//     1024 bytes.  The producer is a forked child process that sends exactly
//     as many messages as the timed loop of the parent receives; the rate
//     is that of the parent's loop (items_per_second).  Peers:
//       mmds_spsc   mmds_ring_push / mmds_ring_pop on an SPSC memfd ring
//                   (1 MiB), both sides spinning on -EAGAIN
//       mmds_mpsc   the same on an MPSC ring with one producer process
//       boost_spsc  boost::lockfree::spsc_queue of fixed-size messages
//                   between two threads of one process (only when the
//                   header is installed: Debian's libboost-dev)
//       pipe        write(2)/read(2) of whole messages on a pipe
//       socketpair  the same on an AF_UNIX SOCK_SEQPACKET socketpair
//       mq          mq_send/mq_receive on a POSIX message queue
//
//   BM_pingpong/<peer>
//     round trip of an 8-byte message: the parent sends, a child process
//     echoes it back, the parent waits for the echo.
//       mmds_spsc   two SPSC rings, spinning
//       cacheline   the floor: two processes taking turns writing one
//                   64-bit word of a shared cache line
//
// All benchmarks use real time.  Numbers are measured, never asserted: see
// docs/PERFORMANCE.md.  On a 2-core machine both sides spin on their own
// core, so anything else running disturbs the numbers.

#include <benchmark/benchmark.h>

#include <mmds.h>

#include <fcntl.h>
#include <mqueue.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#if defined(__has_include)
#if __has_include(<boost/lockfree/spsc_queue.hpp>)
#include <boost/lockfree/spsc_queue.hpp>
#define HAVE_BOOST_SPSC 1
#endif
#endif

namespace {

constexpr double kMinTime = 0.5;
const int kSizes[] = {8, 64, 1024};

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

void reap(pid_t pid)
{
	int st = 0;

	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0) {
		std::fprintf(stderr, "bench_ring: child failed\n");
		std::exit(1);
	}
}

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

void throughput_mmds(benchmark::State &state, unsigned mode)
{
	const size_t size = size_t(state.range(0));
	const int64_t n = int64_t(state.max_iterations);
	mmds_ring *c = ring_anon(mode, 1 << 20);
	char buf[1024] = {1};
	pid_t pid = fork();

	if (pid == 0) {
		mmds_ring *p = ring_peer(c, MMDS_RING_PRODUCER);

		for (int64_t i = 0; i < n; i++) {
			std::memcpy(buf, &i, sizeof(i));
			while (mmds_ring_push(p, 0, buf, size) == -EAGAIN)
				relax();
		}
		mmds_ring_close(p);
		_exit(0);
	}
	for (auto _ : state) {
		ssize_t got;

		while ((got = mmds_ring_pop(c, buf, sizeof(buf), nullptr)) ==
		       -EAGAIN)
			relax();
		benchmark::DoNotOptimize(got);
	}
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(size));
	reap(pid);
	mmds_ring_close(c);
}

void pingpong_mmds(benchmark::State &state)
{
	mmds_ring *ping = ring_anon(MMDS_RING_SPSC, 1 << 16, MMDS_RING_PRODUCER);
	mmds_ring *pong = ring_anon(MMDS_RING_SPSC, 1 << 16);
	const int64_t n = int64_t(state.max_iterations);
	uint64_t v = 0;
	pid_t pid = fork();

	if (pid == 0) {
		mmds_ring *in = ring_peer(ping, MMDS_RING_CONSUMER);
		mmds_ring *out = ring_peer(pong, MMDS_RING_PRODUCER);
		for (int64_t i = 0; i < n; i++) {
			while (mmds_ring_pop(in, &v, sizeof(v), nullptr) == -EAGAIN)
				relax();
			while (mmds_ring_push(out, 0, &v, sizeof(v)) == -EAGAIN)
				relax();
		}
		_exit(0);
	}
	mmds_ring *out = ping;
	for (auto _ : state) {
		v++;
		while (mmds_ring_push(out, 0, &v, sizeof(v)) == -EAGAIN)
			relax();
		while (mmds_ring_pop(pong, &v, sizeof(v), nullptr) == -EAGAIN)
			relax();
	}
	reap(pid);
	mmds_ring_close(ping);
	mmds_ring_close(pong);
}

// ---- raw cache line ----------------------------------------------------------

void pingpong_cacheline(benchmark::State &state)
{
	auto *w = static_cast<std::atomic<uint64_t> *>(
		mmap(nullptr, 4096, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0));
	const uint64_t n = uint64_t(state.max_iterations);

	if (w == MAP_FAILED)
		die("mmap", -errno);
	new (w) std::atomic<uint64_t>(0);
	pid_t pid = fork();
	if (pid == 0) {
		for (uint64_t i = 0; i < n; i++) {
			while (w->load(std::memory_order_acquire) != 2 * i + 1)
				relax();
			w->store(2 * i + 2, std::memory_order_release);
		}
		_exit(0);
	}
	uint64_t i = 0;
	for (auto _ : state) {
		w->store(2 * i + 1, std::memory_order_release);
		while (w->load(std::memory_order_acquire) != 2 * i + 2)
			relax();
		i++;
	}
	reap(pid);
	munmap(w, 4096);
}

// ---- boost::lockfree::spsc_queue between threads --------------------------------

#ifdef HAVE_BOOST_SPSC
template <size_t N> struct Msg {
	char b[N];
};

template <size_t N> void throughput_boost(benchmark::State &state)
{
	auto *q = new boost::lockfree::spsc_queue<Msg<N>>((1 << 20) / N);
	const int64_t n = int64_t(state.max_iterations);
	std::thread prod([&] {
		Msg<N> m{};
		for (int64_t i = 0; i < n; i++) {
			std::memcpy(m.b, &i, sizeof(i));
			while (!q->push(m))
				relax();
		}
	});
	Msg<N> m;
	for (auto _ : state) {
		while (!q->pop(m))
			relax();
		benchmark::DoNotOptimize(m);
	}
	prod.join();
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(N));
	delete q;
}
#endif

// ---- pipe, socketpair, POSIX message queue ------------------------------------

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

void throughput_fds(benchmark::State &state, bool socket)
{
	const size_t size = size_t(state.range(0));
	const int64_t n = int64_t(state.max_iterations);
	char buf[1024] = {1};
	int fds[2];

	if (socket ? socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds)
		   : pipe2(fds, O_CLOEXEC))
		die(socket ? "socketpair" : "pipe", -errno);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (int64_t i = 0; i < n; i++)
			if (write(fds[1], buf, size) != ssize_t(size))
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	for (auto _ : state)
		if (!read_full(fds[0], buf, size))
			die("read", -EIO);
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(size));
	reap(pid);
	close(fds[0]);
}

void throughput_mq(benchmark::State &state)
{
	const size_t size = size_t(state.range(0));
	const int64_t n = int64_t(state.max_iterations);
	char name[64], buf[1024] = {1};
	struct mq_attr attr{};

	std::snprintf(name, sizeof(name), "/mmds_bench_ring.%ld", long(getpid()));
	attr.mq_maxmsg = 10; // the default /proc/sys/fs/mqueue/msg_max
	attr.mq_msgsize = long(size);
	mqd_t q = mq_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600,
			  &attr);
	if (q == mqd_t(-1)) {
		state.SkipWithError("mq_open failed");
		return;
	}
	mq_unlink(name);
	pid_t pid = fork();
	if (pid == 0) {
		for (int64_t i = 0; i < n; i++)
			if (mq_send(q, buf, size, 0) != 0)
				_exit(1);
		_exit(0);
	}
	for (auto _ : state)
		if (mq_receive(q, buf, sizeof(buf), nullptr) != ssize_t(size))
			die("mq_receive", -errno);
	state.SetItemsProcessed(state.iterations());
	state.SetBytesProcessed(state.iterations() * int64_t(size));
	reap(pid);
	mq_close(q);
}

void register_all()
{
	for (int size : kSizes) {
		auto reg = [&](const std::string &peer, auto fn) {
			benchmark::RegisterBenchmark(
				("BM_throughput/" + peer).c_str(), fn)
				->Arg(size)
				->MinTime(kMinTime)
				->UseRealTime();
		};
		reg("mmds_spsc", [](benchmark::State &s) {
			throughput_mmds(s, MMDS_RING_SPSC);
		});
		reg("mmds_mpsc", [](benchmark::State &s) {
			throughput_mmds(s, MMDS_RING_MPSC);
		});
#ifdef HAVE_BOOST_SPSC
		if (size == 8)
			reg("boost_spsc", throughput_boost<8>);
		else if (size == 64)
			reg("boost_spsc", throughput_boost<64>);
		else
			reg("boost_spsc", throughput_boost<1024>);
#endif
		reg("pipe", [](benchmark::State &s) { throughput_fds(s, false); });
		reg("socketpair",
		    [](benchmark::State &s) { throughput_fds(s, true); });
		reg("mq", throughput_mq);
	}
	benchmark::RegisterBenchmark("BM_pingpong/mmds_spsc", pingpong_mmds)
		->MinTime(kMinTime)
		->UseRealTime();
	benchmark::RegisterBenchmark("BM_pingpong/cacheline", pingpong_cacheline)
		->MinTime(kMinTime)
		->UseRealTime();
}

} // namespace

int main(int argc, char **argv)
{
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::AddCustomContext("mmds_version", mmds_version());
#ifdef HAVE_BOOST_SPSC
	benchmark::AddCustomContext("boost_spsc", "yes");
#else
	benchmark::AddCustomContext("boost_spsc",
				    "absent (install libboost-dev)");
#endif
	register_all();
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
