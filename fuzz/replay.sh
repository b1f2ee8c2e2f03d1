#!/bin/sh
# replay.sh - part of `make check`: every fuzz target's regression corpus
# (fuzz/regress/TARGET/) and freshly made seeds, through the plain replay
# driver (fuzz/replay.c, no libFuzzer needed).  Any crash, sanitizer report
# or failed check fails the test.  Findings not fixed yet live in
# fuzz/findings/ and are not replayed.
set -u
: "${top_srcdir:=.}" "${top_builddir:=.}"
seeds=$(mktemp -d) || exit 99
trap 'rm -rf "$seeds"' EXIT
"$top_builddir/fuzz/mkseeds" "$seeds" || { echo "FAIL: mkseeds"; exit 1; }
fail=0
for t in log counters ring; do
	if ! "$top_builddir/fuzz/replay_$t" "$top_srcdir/fuzz/regress/$t" "$seeds/$t"; then
		echo "FAIL: replay_$t"
		fail=1
	fi
done
exit $fail
