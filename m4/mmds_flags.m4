# MMDS_CHECK_COMPILE_FLAG(FLAG, [ACTION-IF-OK], [ACTION-IF-NOT])
# Compiles an empty program in the current language with FLAG and -Werror, so
# a flag the compiler only warns about counts as unsupported.
AC_DEFUN([MMDS_CHECK_COMPILE_FLAG], [
	AS_VAR_PUSHDEF([mmds_cv], [mmds_cv_cflag_[]_AC_LANG_ABBREV[]_$1])
	AC_CACHE_CHECK([whether _AC_LANG compiler accepts $1], [mmds_cv], [
		mmds_save_flags=$[]_AC_LANG_PREFIX[]FLAGS
		_AC_LANG_PREFIX[]FLAGS="$[]_AC_LANG_PREFIX[]FLAGS -Werror $1"
		AC_COMPILE_IFELSE([AC_LANG_PROGRAM()],
			[AS_VAR_SET([mmds_cv], [yes])], [AS_VAR_SET([mmds_cv], [no])])
		_AC_LANG_PREFIX[]FLAGS=$mmds_save_flags])
	AS_VAR_IF([mmds_cv], [yes], [$2], [$3])
	AS_VAR_POPDEF([mmds_cv])
])

# MMDS_CHECK_LINK_FLAG(FLAGS, [ACTION-IF-OK], [ACTION-IF-NOT])
# Links an empty program with FLAGS (in both CFLAGS and LDFLAGS).
AC_DEFUN([MMDS_CHECK_LINK_FLAG], [
	AC_MSG_CHECKING([whether the linker accepts $1])
	mmds_save_cflags=$CFLAGS
	mmds_save_ldflags=$LDFLAGS
	CFLAGS="$CFLAGS $1"
	LDFLAGS="$LDFLAGS $1"
	AC_LINK_IFELSE([AC_LANG_PROGRAM()],
		[AC_MSG_RESULT([yes]); $2], [AC_MSG_RESULT([no]); $3])
	CFLAGS=$mmds_save_cflags
	LDFLAGS=$mmds_save_ldflags
])
