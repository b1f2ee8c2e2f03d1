#!/bin/sh
# run-fuzz.sh SRCDIR BUILDDIR TARGET... - what `make fuzz` runs: make the
# seed corpora with the library (fuzz/mkseeds), then run each fuzz target
# for FUZZ_SECONDS (default 30) on its working corpus (BUILDDIR/fuzz/corpus/,
# kept between runs), the seeds and the regression corpus.  A crash, a
# sanitizer report, a failed check, a leak or an input slower than
# FUZZ_TIMEOUT seconds (default 5) is a finding: its input is saved under
# BUILDDIR/fuzz/artifacts/TARGET/ and the script exits 1.  FUZZ_ARGS adds
# libFuzzer options; FUZZ_LEDGER names a file that gets one line per target
# run (executions, coverage, corpus, findings).  docs/FUZZING.md.
set -u
src=$1 build=$2
shift 2
secs=${FUZZ_SECONDS:-30}
timeout=${FUZZ_TIMEOUT:-5}
status=0

rm -rf "$build/fuzz/seeds"
"$build/fuzz/mkseeds" "$build/fuzz/seeds" || { echo "fuzz: mkseeds failed" >&2; exit 1; }
for t in "$@"; do
	corpus=$build/fuzz/corpus/$t
	art=$build/fuzz/artifacts/$t
	log=$build/fuzz/fuzz_$t.log
	mkdir -p "$corpus" "$art"
	regress=$src/fuzz/regress/$t
	[ -d "$regress" ] || regress=
	echo "== fuzz_$t: ${secs}s, timeout ${timeout}s per input =="
	# shellcheck disable=SC2086
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		"$build/fuzz/fuzz_$t" -max_total_time="$secs" -timeout="$timeout" \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" \
		${FUZZ_ARGS:-} "$corpus" "$build/fuzz/seeds/$t" $regress \
		>"$log" 2>&1
	rc=$?
	grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -n 2
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log"
	found=$(find "$art" -type f 2>/dev/null | wc -l)
	if [ -n "${FUZZ_LEDGER:-}" ]; then
		# one line per run, to add up a campaign made of many runs
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
		printf '%s %s secs=%s execs=%s cov=%s corpus=%s findings=%s rc=%s\n' \
			"$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$t" "$secs" "${execs:-0}" \
			"${cov:-?}" "$(find "$corpus" -type f | wc -l)" "$found" "$rc" \
			>>"$FUZZ_LEDGER"
	fi
	if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
		status=1
		echo "fuzz_$t: FINDING (exit $rc); the end of $log:"
		tail -n 60 "$log"
		echo "inputs in $art/:"
		ls -l "$art"
	else
		echo "fuzz_$t: no finding"
	fi
done
exit $status
