#!/bin/sh
# test_prometheus.sh - the metrics path end to end, against the real
# programs: Debian's prometheus scrapes `mmds counters serve` and
# node_exporter's textfile collector reading `mmds counters --output`, all
# on 127.0.0.1; then Prometheus's HTTP API must return the counters'
# values.  Skips (77) with the reason when prometheus, node_exporter, curl
# or the serve subcommand are missing (.ci/run installs them as root).
set -u
b=${top_builddir:-.}
mmds=$b/tools/mmds
mk=$b/tests/tools/mkcounters

skip() { echo "SKIP: $*"; exit 77; }
command -v prometheus >/dev/null || skip "prometheus is not installed (apt-get install prometheus)"
command -v curl >/dev/null || skip "curl is not installed"
nodeexp=$(command -v prometheus-node-exporter || command -v node_exporter || true)
"$mmds" counters serve --help >/dev/null 2>&1 ||
	skip "mmds counters serve is not built (libmicrohttpd-dev missing at configure time)"

dir=$(mktemp -d "${TMPDIR:-/tmp}/mmds-prom.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*"; for f in "$dir"/*.log; do echo "== $f"; tail -20 "$f"; done; exit 1; }

# a TCP port nobody listens on (curl exits 7 when it cannot connect)
free_port() {
	while :; do
		p=$(( $(od -An -N2 -tu2 /dev/urandom) % 30000 + 20000 ))
		curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$p/"
		[ $? = 7 ] && break
	done
	echo "$p"
}

"$mk" "$dir/app.cnt" || fail "cannot make the counters file"
# a second file with the same names: the file label keeps them apart
"$mk" "$dir/other.cnt" || fail "cannot make the second counters file"

"$mmds" counters serve --listen 127.0.0.1:0 --label job_role=api "$dir/app.cnt" "$dir/other.cnt" \
	>"$dir/serve.out" 2>"$dir/serve.log" &
pids="$pids $!"
for i in $(seq 50); do grep -q listening "$dir/serve.out" && break; sleep 0.1; done
serve=$(sed -n 's|.*http://\([^/]*\)/metrics|\1|p' "$dir/serve.out")
[ -n "$serve" ] || fail "mmds counters serve did not start"

targets_node=""
if [ -n "$nodeexp" ]; then
	mkdir "$dir/textfile"
	"$mmds" counters --prometheus --output "$dir/textfile/mmds.prom" "$dir/app.cnt" ||
		fail "export to the textfile directory failed"
	nport=$(free_port)
	"$nodeexp" --web.listen-address="127.0.0.1:$nport" --collector.disable-defaults \
		--collector.textfile --collector.textfile.directory="$dir/textfile" \
		>"$dir/node.log" 2>&1 &
	pids="$pids $!"
	targets_node="
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:$nport']"
else
	echo "note: prometheus-node-exporter is not installed: the textfile path is not tested"
fi

pport=$(free_port)
cat >"$dir/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: mmds
    static_configs:
      - targets: ['$serve']$targets_node
YML
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
	--web.listen-address="127.0.0.1:$pport" >"$dir/prometheus.log" 2>&1 &
pids="$pids $!"

# query EXPR WANT: wait until Prometheus answers EXPR with the value WANT
query() {
	for i in $(seq 60); do
		out=$(curl -s --max-time 2 -G "http://127.0.0.1:$pport/api/v1/query" \
			--data-urlencode "query=$1" 2>/dev/null)
		case $out in *"\"$2\"]"*) echo "ok: $1 = $2"; return 0 ;; esac
		sleep 1
	done
	fail "Prometheus never answered $1 = $2 (last: $out)"
}

query 'requests_total{job="mmds",job_role="api"}' 42
query 'temperature{job="mmds"}' -3
query 'latency_seconds_count{job="mmds"}' 3
query 'latency_seconds_bucket{job="mmds",le="0.5"}' 2
query 'latency_seconds_bucket{job="mmds",le="1"}' 2
query 'latency_seconds_sum{job="mmds",file="'"$dir/app.cnt"'"}' 2.75
query 'count(requests_total{job="mmds"})' 2
query 'sum(requests_total{job="mmds"})' 84
# a NaN sum is "NaN" in the text format; "-nan" failed the whole scrape
query 'odd_seconds_sum{job="mmds",file="'"$dir/app.cnt"'"}' NaN
query 'odd_seconds_bucket{job="mmds",le="0.5",file="'"$dir/other.cnt"'"}' 1
if [ -n "$nodeexp" ]; then
	query 'requests_total{job="node"}' 42
	query 'latency_seconds_bucket{job="node",le="+Inf"}' 3
	query 'node_textfile_scrape_error{job="node"}' 0
	query 'odd_seconds_count{job="node"}' 2
fi
echo "PASS: Prometheus reads the counters through serve${nodeexp:+ and the textfile collector}"
