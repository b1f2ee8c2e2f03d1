#!/bin/sh
# Every symbol the library exports starts with mmds_.
set -u
: "${NM:=nm}" "${top_builddir:=.}"
fail=0
checked=0
for lib in "$top_builddir"/lib/.libs/libmmds.so "$top_builddir"/lib/.libs/libmmds.a; do
	[ -f "$lib" ] || continue
	case $lib in
	*.so) syms=$($NM -D --defined-only "$lib" | awk 'NF == 3 { print $3 }') ;;
	*) syms=$($NM -g --defined-only "$lib" | awk 'NF == 3 { print $3 }') ;;
	esac
	count=$(echo "$syms" | grep -c '^mmds_')
	# __odr_asan.NAME: AddressSanitizer's one-definition-rule indicator
	# for the global NAME, emitted in ASan builds; not an export of ours
	bad=$(echo "$syms" | grep -v '^mmds_' | grep -v '^MMDS_' |
		grep -v '^__odr_asan[._]mmds_' | grep -v '^$')
	if [ -n "$bad" ]; then
		echo "FAIL: $lib exports symbols without the mmds_ prefix:"
		echo "$bad"
		fail=1
	fi
	if [ "$count" -eq 0 ]; then
		echo "FAIL: $lib exports no mmds_ symbol at all"; fail=1
	fi
	echo "ok: $lib ($count mmds_ symbols)"
	checked=$((checked + 1))
done
[ "$checked" -gt 0 ] || { echo "no library built"; exit 99; }
exit $fail
