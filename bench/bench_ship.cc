// bench_ship.cc - shipping a log into NATS JetStream (include/mmds/ship.h)
// beside the raw client publishing the same records, in the same run, to
// the same nats-server (one, JetStream on file storage, on 127.0.0.1).
//
//     mmds        mmds_log_ship() of N records already in the log, from a
//                 new cursor to a new stream: read, publish with headers and
//                 the ordering chain, wait for every ack, commit the cursor
//     raw         js_PublishAsync() of the same payloads, then
//                 js_PublishAsyncComplete(): the client's best case
//     raw_headers as raw, with the same message id and headers as mmds
//                 (the cost of de-duplication on the server)
//
// Records of 64 B and 1 KiB; items/s is records shipped per second.
// BENCH_SHIP_RECORDS sets N (default 50000).  Needs nats-server.
#include "config.h"

#include <benchmark/benchmark.h>

#include <mmds.h>
#include <mmds/ship.h>
#include <nats/nats.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ftw.h>
#include <unistd.h>

#include "t_nats.h"

namespace {

struct env {
	bool ok = false;
	std::string base, url;
	t_nats srv{};
	natsConnection *nc = nullptr;
	jsCtx *js = nullptr;
	int seq = 0;
};

env &get_env();

int rm_one(const char *path, const struct stat *, int, struct FTW *)
{
	remove(path);
	return 0;
}

// The servers die with the process (t_nats.c); their store goes too.
void remove_base()
{
	env &e = get_env();
	t_nats_kill(&e.srv);
	if (!e.base.empty())
		nftw(e.base.c_str(), rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

env &get_env()
{
	static env e;
	static bool tried;

	if (tried)
		return e;
	tried = true;
	char tmpl[] = "/tmp/mmds-bench-ship.XXXXXX";
	if (t_nats_server() == nullptr || mkdtemp(tmpl) == nullptr)
		return e;
	e.base = tmpl;
	atexit(remove_base);
	if (t_nats_start(&e.srv, tmpl, "n1") != 0 || t_nats_connect(e.srv.url, &e.nc) != 0)
		return e;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = 4096;
	if (natsConnection_JetStream(&e.js, e.nc, &jo) != NATS_OK)
		return e;
	e.url = e.srv.url;
	e.ok = true;
	return e;
}

uint64_t records()
{
	const char *v = getenv("BENCH_SHIP_RECORDS");
	return v && *v ? strtoull(v, nullptr, 10) : 50000;
}

// A new stream (and its subject) for one iteration.
std::string new_stream(env &e, std::string &subj)
{
	std::string name = "B" + std::to_string(++e.seq);
	subj = "bench." + name;
	t_nats_add_stream(e.url.c_str(), name.c_str(), subj.c_str(), 1, 0);
	return name;
}

void drop_stream(env &e, const std::string &name)
{
	js_DeleteStream(e.js, name.c_str(), nullptr, nullptr);
}

void BM_mmds(benchmark::State &state)
{
	env &e = get_env();
	if (!e.ok) {
		state.SkipWithError("nats-server not available");
		return;
	}
	size_t len = (size_t)state.range(0);
	uint64_t n = records();
	std::vector<char> buf(len, 'x');
	std::string dir = e.base + "/log" + std::to_string(len) + "." + std::to_string(++e.seq);
	mmds_log *l;
	mmds_log_opts lo{};

	lo.flags = MMDS_LOG_CREATE;
	if (mmds_log_open(&l, dir.c_str(), &lo) != 0) {
		state.SkipWithError("log open");
		return;
	}
	for (uint64_t i = 0; i < n; i++)
		mmds_log_append(l, 1, buf.data(), len, nullptr);
	mmds_log_close(l);
	for (auto _ : state) {
		state.PauseTiming();
		std::string subj, stream = new_stream(e, subj);
		mmds_log_cursor_remove(dir.c_str(), "bench");
		mmds_ship_opts o{};
		o.url = e.url.c_str();
		o.stream = stream.c_str();
		o.subject = subj.c_str();
		o.cursor = "bench";
		o.flags = MMDS_SHIP_CREATE_CURSOR | MMDS_SHIP_UNTIL_CAUGHT_UP;
		o.log_fn = [](void *, const char *) {};
		mmds_ship_stats st;
		state.ResumeTiming();
		int rc = mmds_log_ship(dir.c_str(), &o, &st);
		state.PauseTiming();
		drop_stream(e, stream);
		if (rc != 0 || st.acked != n) {
			state.SkipWithError("ship failed");
			break;
		}
		state.ResumeTiming();
	}
	state.SetItemsProcessed((int64_t)(state.iterations() * n));
	state.SetBytesProcessed((int64_t)(state.iterations() * n * len));
}

void raw(benchmark::State &state, bool headers)
{
	env &e = get_env();
	if (!e.ok) {
		state.SkipWithError("nats-server not available");
		return;
	}
	size_t len = (size_t)state.range(0);
	uint64_t n = records();
	std::vector<char> buf(len, 'x');

	for (auto _ : state) {
		state.PauseTiming();
		std::string subj, stream = new_stream(e, subj);
		state.ResumeTiming();
		for (uint64_t i = 0; i < n; i++) {
			natsStatus s;
			if (headers) {
				natsMsg *m = nullptr;
				char id[48], lsn[24];
				jsPubOptions po;
				snprintf(id, sizeof(id), "%016x:%" PRIu64, 0x1234u, i);
				snprintf(lsn, sizeof(lsn), "%" PRIu64, i);
				natsMsg_Create(&m, subj.c_str(), nullptr, buf.data(), (int)len);
				natsMsgHeader_Set(m, "Mmds-Log-Id", "0000000000001234");
				natsMsgHeader_Set(m, "Mmds-Lsn", lsn);
				natsMsgHeader_Set(m, "Mmds-Type", "1");
				jsPubOptions_Init(&po);
				po.MsgId = id;
				s = js_PublishMsgAsync(e.js, &m, &po);
				natsMsg_Destroy(m);
			} else {
				s = js_PublishAsync(e.js, subj.c_str(), buf.data(), (int)len, nullptr);
			}
			if (s != NATS_OK)
				break; /* counted below: the acks will not all come */
		}
		bool ok = js_PublishAsyncComplete(e.js, nullptr) == NATS_OK;
		state.PauseTiming();
		drop_stream(e, stream);
		if (!ok) {
			state.SkipWithError("acks did not come");
			break;
		}
		state.ResumeTiming();
	}
	state.SetItemsProcessed((int64_t)(state.iterations() * n));
	state.SetBytesProcessed((int64_t)(state.iterations() * n * len));
}

void BM_raw(benchmark::State &state) { raw(state, false); }
void BM_raw_headers(benchmark::State &state) { raw(state, true); }

} // namespace

BENCHMARK(BM_mmds)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_raw)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_raw_headers)->Arg(64)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

BENCHMARK_MAIN();
