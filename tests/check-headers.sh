#!/bin/sh
# Every public header compiles alone, as C99 -pedantic and as C++.
set -u
: "${CC:=cc}" "${CXX:=c++}" "${top_srcdir:=.}" "${top_builddir:=.}"
inc="-I$top_builddir/include -I$top_srcdir/include"
fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
headers=$(cd "$top_srcdir/include" && find . -name '*.h' | sed 's|^\./||' | sort)
[ -n "$headers" ] || { echo "no headers found"; exit 99; }
for h in $headers mmds/version.h; do
	printf '#include <%s>\n#include <%s>\nint mmds_header_check_%s;\n' "$h" "$h" \
		"$(echo "$h" | tr -c 'a-zA-Z0-9\n' _)" > "$tmp/t.c"
	if ! $CC -std=c99 -pedantic -Wall -Wextra -Werror $inc -c -o "$tmp/t.o" "$tmp/t.c"; then
		echo "FAIL: $h does not compile alone as C99 -pedantic"; fail=1
	fi
	if command -v "${CXX%% *}" >/dev/null 2>&1; then
		cp "$tmp/t.c" "$tmp/t.cc"
		if ! $CXX -std=c++11 -pedantic -Wall -Wextra -Werror $inc -c -o "$tmp/t.o" "$tmp/t.cc"; then
			echo "FAIL: $h does not compile alone as C++"; fail=1
		fi
	fi
	echo "ok: $h"
done
exit $fail
