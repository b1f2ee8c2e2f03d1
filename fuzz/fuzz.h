/* fuzz.h - what the fuzz targets share (fuzz_util.c): the input containers,
 * a per-process scratch directory, the mmds tool run in-process, and the
 * checks that turn a wrong answer into a finding.  docs/FUZZING.md. */
#ifndef MMDS_FUZZ_H
#define MMDS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The libFuzzer entry points; replay.c calls them without libFuzzer. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Input byte 0 of every target. */
#define FZ_MODE_FIXUP 0x01u  /* recompute checksums before the library reads */
#define FZ_MODE_EXTEND 0x02u /* counters/ring: pad the file with zeros to the
                                size its header declares (<= FZ_EXTEND_MAX) */

/* Log input: after byte 0, chunks of  kind:u8 len:u32le bytes[len]  (len is
 * clamped to what is left).  kind & 7 says which file the bytes become: */
enum {
	FZ_LOG_SEG = 0,   /* a segment named after its header's base_lsn */
	FZ_LOG_SEGNAME,   /* a segment named after bytes[0..8) (u64le); the
	                     file is bytes[8..] */
	FZ_LOG_LOCK,      /* the "lock" file */
	FZ_LOG_TMP,       /* a ".tmp-1-<n>.seg" file a writer left */
	FZ_LOG_OTHER      /* bytes[0] = name length n (<= 40), then the name
	                     (made of [0-9a-z.]), then the file */
};
#define FZ_LOG_EXTEND 0x08u /* segment: pad to its header's segment_size */
#define FZ_LOG_MAX_FILES 8
#define FZ_EXTEND_MAX ((size_t)1 << 20)
/* Every file the library makes or grows stops at this size (RLIMIT_FSIZE:
 * a hostile size is -EFBIG, not a full tmpfs). */
#define FZ_FSIZE_LIMIT ((uint64_t)16 << 20)

/* Set up once: scratch directory, limits, stdout/stderr of the tool. */
void fz_init(void);
/* The per-process scratch directory (created by fz_init). */
const char *fz_dir(void);
/* Empty directory path (create it if missing).  Aborts on failure. */
void fz_clear_dir(const char *path);
/* Write len bytes (may be 0) to dir/name.  0 or -errno. */
int fz_write_file(const char *dir, const char *name, const void *p, size_t len);
/* The file an input of the counters or ring target describes (a mode
 * byte, then the file's bytes): a copy of the bytes, padded with zeros to
 * the size declared(bytes) says its header declares when the mode asks
 * (FZ_MODE_EXTEND, at most FZ_EXTEND_MAX).  *n its size; the caller frees
 * it.  NULL for an empty input (no file at all).  Aborts without memory. */
uint8_t *fz_image(const uint8_t *data, size_t size,
		  uint64_t (*declared)(const uint8_t *f, size_t len), size_t *n);
/* /dev/null, opened by fz_init. */
extern FILE *fz_devnull;
/* Run `mmds ARGS...` in-process, its output thrown away; its exit status. */
int fz_tool(int argc, const char *const *argv);
/* Call fz_begin at the start of each input and fz_check_fds at its end:
 * a descriptor opened in between and left open is a finding.  (Not from
 * fz_init: libFuzzer keeps pipes to its symbolizer open between inputs.) */
void fz_begin(void);
void fz_check_fds(void);

/* With MMDS_FUZZ_TRACE=1 in the environment, print what each step
 * returned (to see what an input reaches); otherwise nothing. */
__attribute__((format(printf, 1, 2))) void fz_trace(const char *fmt, ...);

/* Unsigned little-endian loads from untrusted bytes. */
uint64_t fz_le64(const uint8_t *p);
uint32_t fz_le32(const uint8_t *p);

/* A wrong result that is not a crash: print it and abort (a finding). */
#define FZ_CHECK(cond, ...)                                                  \
	do {                                                                 \
		if (!(cond))                                                 \
			fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
	} while (0)
__attribute__((noreturn, format(printf, 4, 5))) void
fz_fail(const char *file, int line, const char *cond, const char *fmt, ...);
/* An error code must be 0 / a count, or a negative errno. */
#define FZ_ERRNO(rc) FZ_CHECK((rc) > -4096, "impossible return %lld", (long long)(rc))

#endif /* MMDS_FUZZ_H */
