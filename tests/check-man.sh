#!/bin/sh
# Every public function, option struct and enum gets a man page from its
# header comment, every MMDS_* constant of an enum a page that sources
# its enum's, and every #define MMDS_* a page of its own; mmds(1) names
# every subcommand and exit status.
set -u
: "${AWK:=awk}" "${top_srcdir:=.}"
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0
for h in "$top_srcdir"/include/mmds/*.h; do
	$AWK -v outdir="$tmp" -v header="mmds/${h##*/}" -v version=test \
		-f "$top_srcdir/docs/man/mkman.awk" "$h" || exit 99
	for f in $(grep -o 'mmds_[a-z0-9_]*(' "$h" | sed 's/($//' | sort -u); do
		grep -q "MMDS_API.*[^a-z0-9_]$f(" "$h" || continue
		if [ ! -s "$tmp/$f.3" ]; then
			echo "FAIL: no man page for $f ($h)"; fail=1
		elif ! grep -q '^\.SH DESCRIPTION' "$tmp/$f.3"; then
			echo "FAIL: $f.3 has no description"; fail=1
		fi
	done
	for t in $(sed -n 's/^\(typedef struct\|typedef enum\|enum\|struct\) \(mmds_[a-z0-9_]*\) {.*/\2/p' "$h"); do
		if [ ! -s "$tmp/$t.3" ] || ! grep -q '^\.SH SYNOPSIS' "$tmp/$t.3"; then
			echo "FAIL: no man page for $t ($h)"; fail=1
		fi
	done
	for c in $(awk '/^(typedef )?enum mmds_[a-z0-9_]* \{/ { e = 1; next }
			e && /^}/ { e = 0 }
			e && match($0, /^[ \t]+MMDS_[A-Z0-9_]+/) { s = substr($0, RSTART, RLENGTH); gsub(/[ \t]/, "", s); print s }' "$h"); do
		if ! grep -q "^\.so man3/mmds_[a-z0-9_]*\.3\$" "$tmp/$c.3" 2>/dev/null; then
			echo "FAIL: no man page for the constant $c ($h)"; fail=1
		fi
	done
	# constants: every `#define MMDS_X value` (not include guards, MMDS_API,
	# MMDS__ internals) has a page of its own
	for c in $(sed -n 's/^#define \(MMDS_[A-Z0-9][A-Z0-9_]*\)[ (\t].*/\1/p' "$h" |
			grep -v '^MMDS_API$' | grep -v '^MMDS__' | sort -u); do
		if [ ! -s "$tmp/$c.3" ] || ! grep -q '^\.SH SYNOPSIS' "$tmp/$c.3"; then
			echo "FAIL: no man page for the constant $c ($h)"; fail=1
		fi
	done
done
m1=$top_srcdir/docs/man/mmds.1
for w in 'log info' 'log verify' 'log dump' 'log tail' 'log ship' 'mmds counters serve' 'ring info' \
	'\\-\\-json' '\\-\\-prometheus' '\\-\\-output' '\\-\\-watch' '\\-\\-count' \
	'\\-\\-binary' '\\-\\-from' '\\-\\-max\\-bytes' '\\-\\-listen' '\\-\\-prefix' \
	'\\-\\-label' '\\-\\-file\\-label' '\\-\\-timeout' '\\-\\-max\\-connections' \
	'EXIT STATUS' 'EXAMPLES'; do
	grep -q -- "$w" "$m1" || { echo "FAIL: mmds.1 does not mention $w"; fail=1; }
done
for code in 0 1 2 3 4 5 130; do
	grep -q "^\.B $code\$\|^\.BR $code " "$m1" || { echo "FAIL: mmds.1 does not list exit status $code"; fail=1; }
done
echo "$(ls "$tmp" | wc -l) pages made"
exit $fail
