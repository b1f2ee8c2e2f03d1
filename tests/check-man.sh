#!/bin/sh
# Every public function gets a man page from its header comment.
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
done
echo "$(ls "$tmp" | wc -l) pages made"
exit $fail
