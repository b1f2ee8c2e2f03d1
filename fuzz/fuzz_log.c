/* fuzz_log.c - fuzz target for the log: the input becomes a log directory
 * (segments, the lock file, a writer's temporary file, other names), which
 * is opened as a reader and as a writer in both recovery modes; every
 * record is iterated and read by LSN, records are appended and read back,
 * the log is verified, closed and reopened, and the mmds tool reads it.
 * Input layout in fuzz.h; docs/FUZZING.md. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mmds.h>

#include "fixup.h"
#include "fuzz.h"

#define MAX_RECORDS (1u << 20) /* bound on one walk */
#define BUF_CAP 4096u

static char logdir[PATH_MAX];
static unsigned char buf[BUF_CAP];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	snprintf(logdir, sizeof(logdir), "%s/log", fz_dir());
	return 0;
}

/* ---- the directory ------------------------------------------------------ */

static void write_segment(unsigned kind, unsigned mode, const uint8_t *b,
			  size_t len)
{
	char name[32];
	uint64_t base, ss;
	uint8_t *img;
	size_t n;

	if ((kind & 7) == FZ_LOG_SEGNAME) {
		if (len < 8)
			return;
		base = fz_le64(b);
		b += 8;
		len -= 8;
	} else {
		base = fz_log_base_lsn(b, len);
	}
	n = len;
	ss = fz_log_declared_size(b, len);
	if ((kind & FZ_LOG_EXTEND) && ss > n && ss <= FZ_EXTEND_MAX)
		n = (size_t)ss;
	img = calloc(1, n ? n : 1);
	if (img == NULL)
		abort();
	if (len)
		memcpy(img, b, len);
	if (mode & FZ_MODE_FIXUP)
		fz_fixup_log_segment(img, n);
	snprintf(name, sizeof(name), "%020llu.seg", (unsigned long long)base);
	fz_write_file(logdir, name, img, n);
	free(img);
}

static void write_other(const uint8_t *b, size_t len)
{
	static const char chars[] = "0123456789abcdefghijklmnopqrstuvwxyz.";
	char name[48];
	size_t n, i;

	if (len < 1)
		return;
	n = b[0] % 41;
	if (n > len - 1)
		n = len - 1;
	for (i = 0; i < n; i++)
		name[i] = chars[b[1 + i] % (sizeof(chars) - 1)];
	name[n] = 0;
	if (n == 0 || strspn(name, ".") == n) {
		/* "", "." and ".." are not names a file can have */
		name[0] = 'x';
		name[n ? n : 1] = 0;
	}
	fz_write_file(logdir, name, b + 1 + n, len - 1 - n);
}

static void materialize(const uint8_t *data, size_t size)
{
	size_t pos = 1;
	int files = 0;

	fz_clear_dir(logdir);
	while (size > 0 && pos + 5 <= size && files++ < FZ_LOG_MAX_FILES) {
		unsigned kind = data[pos];
		size_t len = fz_le32(data + pos + 1);
		const uint8_t *b = data + pos + 5;

		pos += 5;
		if (len > size - pos)
			len = size - pos;
		pos += len;
		switch (kind & 7) {
		case FZ_LOG_LOCK:
			fz_write_file(logdir, "lock", b, len);
			break;
		case FZ_LOG_TMP:
			fz_write_file(logdir, ".tmp-1-00000000000000000000.seg", b, len);
			break;
		case FZ_LOG_OTHER:
			write_other(b, len);
			break;
		default:
			write_segment(kind, data[0], b, len);
			break;
		}
	}
}

/* ---- reading ------------------------------------------------------------ */

static unsigned touch(const void *p, size_t n)
{
	const unsigned char *b = p;
	unsigned s = 0;

	for (size_t i = 0; i < n; i++)
		s += b[i];
	return s;
}

/* Read the record at lsn by LSN and compare with what the iterator saw. */
static void read_same(mmds_log *l, const mmds_log_record *r)
{
	mmds_log_record rr;
	int64_t got = mmds_log_read(l, r->lsn, buf, sizeof(buf), &rr);
	size_t n = r->len < sizeof(buf) ? r->len : sizeof(buf);

	FZ_CHECK(got == (int64_t)r->len,
		 "read(%llu) = %lld, the iterator returned %u bytes there",
		 (unsigned long long)r->lsn, (long long)got, r->len);
	FZ_CHECK(rr.type == r->type && rr.next_lsn == r->next_lsn &&
			 rr.lsn == r->lsn,
		 "read(%llu) and the iterator disagree on the record",
		 (unsigned long long)r->lsn);
	FZ_CHECK(memcmp(buf, r->data, n) == 0,
		 "read(%llu) and the iterator return other payloads",
		 (unsigned long long)r->lsn);
}

/* Iterate every record from the start; returns the last iterator result
 * (-EAGAIN at the end of the published records). */
static int walk(mmds_log *l, unsigned long *count, uint64_t *stop)
{
	mmds_log_iter *it = NULL;
	mmds_log_record r;
	uint64_t prev = 0;
	unsigned long n = 0;
	int rc = mmds_log_iter_open(&it, l, MMDS_LOG_START);

	FZ_ERRNO(rc);
	if (rc)
		return rc;
	while (n < MAX_RECORDS && (rc = mmds_log_iter_next(it, &r)) == 0) {
		FZ_CHECK(r.next_lsn > r.lsn && r.lsn >= prev,
			 "records out of order: %llu..%llu after %llu",
			 (unsigned long long)r.lsn,
			 (unsigned long long)r.next_lsn,
			 (unsigned long long)prev);
		FZ_CHECK(r.len == 0 || r.data != NULL, "no payload pointer");
		prev = r.next_lsn;
		(void)touch(r.data, r.len);
		read_same(l, &r);
		FZ_CHECK(mmds_log_iter_lsn(it) == r.next_lsn,
			 "iterator at %llu after a record ending at %llu",
			 (unsigned long long)mmds_log_iter_lsn(it),
			 (unsigned long long)r.next_lsn);
		n++;
	}
	FZ_ERRNO(rc);
	if (rc == -EAGAIN)
		FZ_ERRNO(mmds_log_iter_wait(it, 0));
	if (stop)
		*stop = mmds_log_iter_lsn(it);
	mmds_log_iter_close(it);
	if (count)
		*count = n;
	return rc;
}

/* Reads and iterators at positions that are not (all) record starts. */
static void probe(mmds_log *l, const uint8_t *data, size_t size)
{
	uint64_t tail = mmds_log_tail_lsn(l), first = mmds_log_first_lsn(l);
	uint64_t from_input = size >= 9 ? fz_le64(data + size - 8) : 24;
	uint64_t lsns[] = { 0, 8, 16, first, first + 8, tail, tail + 8,
			    mmds_log_durable_lsn(l), UINT64_MAX, UINT64_MAX - 7,
			    from_input, from_input & ~(uint64_t)7 };
	mmds_log_info in;
	int rc;

	rc = mmds_log_get_info(l, &in);
	FZ_CHECK(rc == 0, "get_info: %d", rc);
	for (size_t i = 0; i < sizeof(lsns) / sizeof(lsns[0]); i++) {
		mmds_log_record r;
		mmds_log_iter *it = NULL;
		int64_t got = mmds_log_read(l, lsns[i], buf, 16, &r);

		FZ_ERRNO(got);
		rc = mmds_log_iter_open(&it, l, lsns[i]);
		FZ_ERRNO(rc);
		if (rc == 0) {
			FZ_ERRNO(mmds_log_iter_next(it, &r));
			mmds_log_iter_close(it);
		}
	}
}

static void reader_phase(const uint8_t *data, size_t size)
{
	static const char *const tools[][8] = {
		{ "mmds", "log", "info", logdir },
		{ "mmds", "log", "verify", logdir },
		{ "mmds", "log", "dump", "--json", "--max-bytes", "0", logdir },
		{ "mmds", "log", "tail", "-n", "2", logdir },
	};
	mmds_log *l = NULL;
	mmds_log_report rep;
	unsigned long n = 0;
	int rc, vrc, wrc = 0;

	materialize(data, size);
	memset(&rep, 0, sizeof(rep));
	vrc = mmds_log_verify(logdir, &rep);
	FZ_ERRNO(vrc);
	FZ_CHECK(rep.reason <= MMDS_LOG_CUT_BAD_SEGMENT, "report reason %u",
		 rep.reason);
	(void)mmds_log_cut_name(rep.reason);
	rc = mmds_log_open(&l, logdir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });
	fz_trace("log: verify %d (%s at %llu), reader open %d", vrc,
		 mmds_log_cut_name(rep.reason), (unsigned long long)rep.bad_lsn, rc);
	FZ_ERRNO(rc);
	FZ_CHECK(rc == 0 || l == NULL, "a failed open returned a handle");
	if (rc == 0) {
		wrc = walk(l, &n, NULL);
		fz_trace("log: reader read %lu records, then %d", n, wrc);
		probe(l, data, size);
		if (vrc == 0 && rep.reason == MMDS_LOG_CUT_NONE)
			FZ_CHECK(wrc == -EAGAIN || wrc == 0,
				 "verify passes but reading stops with %d after %lu records",
				 wrc, n);
		FZ_ERRNO(mmds_log_close(l));
	}
	for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
		int argc = 0;

		while (argc < 8 && tools[i][argc])
			argc++;
		fz_tool(argc, tools[i]);
	}
}

/* ---- writing ------------------------------------------------------------ */

static const uint32_t sizes[] = { 0, 13, 200, 3000 };

static void pattern(unsigned char *p, size_t n, unsigned k)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(k * 31 + i);
}

static void check_record(mmds_log *l, uint64_t lsn, unsigned k, const char *when)
{
	unsigned char want[3000];
	mmds_log_record r;
	int64_t got = mmds_log_read(l, lsn, buf, sizeof(buf), &r);

	pattern(want, sizes[k], k);
	FZ_CHECK(got == (int64_t)sizes[k] && r.type == 0x100 + k &&
			 memcmp(buf, want, sizes[k]) == 0,
		 "%s: the record appended at %llu reads back as %lld (%s)", when,
		 (unsigned long long)lsn, (long long)got,
		 got < 0 ? mmds_strerror((int)got) : "other bytes");
}

/* Open as the writer with this recovery mode, check what recovery says,
 * append, read back, close and reopen.  thread: whether the first open
 * runs the writer's background thread (one open of four does: its
 * populating and the segment it makes ahead cost most of an input). */
static void writer_phase(const uint8_t *data, size_t size, unsigned recovery,
			 int thread)
{
	unsigned char pay[3000];
	uint64_t lsn[4], end = 0, stop = 0, scanned;
	int ok[4] = { 0 };
	mmds_log *w = NULL, *rd = NULL;
	mmds_log_report rep;
	mmds_log_info in;
	mmds_log_reservation res;
	mmds_log_iter *it = NULL;
	mmds_log_record r;
	int rc;

	materialize(data, size);
	rc = mmds_log_open(&w, logdir,
			   &(mmds_log_opts){ .recovery = recovery,
					     .flags = thread ? 0 : MMDS_LOG_NO_THREAD });
	fz_trace("log: writer open (recovery %u) %d", recovery, rc);
	FZ_ERRNO(rc);
	FZ_CHECK(rc == 0 || w == NULL, "a failed open returned a handle");
	if (rc)
		return;
	FZ_CHECK(mmds_log_get_report(w, &rep) == 0, "no report");
	FZ_CHECK(rep.reason <= MMDS_LOG_CUT_BAD_SEGMENT, "reason %u", rep.reason);
	FZ_CHECK(rep.end_lsn == mmds_log_tail_lsn(w),
		 "recovery says the log ends at %llu, the writer's tail is %llu",
		 (unsigned long long)rep.end_lsn,
		 (unsigned long long)mmds_log_tail_lsn(w));
	FZ_CHECK(mmds_log_get_info(w, &in) == 0, "get_info");
	FZ_CHECK(in.first_lsn <= in.tail_lsn && in.durable_lsn <= in.tail_lsn,
		 "first %llu, durable %llu, tail %llu",
		 (unsigned long long)in.first_lsn,
		 (unsigned long long)in.durable_lsn,
		 (unsigned long long)in.tail_lsn);
	/* recovery vouches for the records from where it started scanning
	 * (bytes below the durable point are not scanned again) */
	scanned = rep.scan_from;
	rc = walk(w, NULL, &stop);
	FZ_CHECK(rc == -EAGAIN || (rc == -EBADMSG && stop < rep.scan_from),
		 "the recovered log (scanned from %llu) does not read to its end %llu: %s at %llu",
		 (unsigned long long)rep.scan_from, (unsigned long long)rep.end_lsn,
		 mmds_strerror(rc), (unsigned long long)stop);
	probe(w, data, size);

	/* a reader beside the writer */
	rc = mmds_log_open(&rd, logdir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });
	FZ_ERRNO(rc);
	if (rc == 0) {
		walk(rd, NULL, NULL);
		mmds_log_close(rd);
		rd = NULL;
	}

	for (unsigned k = 0; k < 4; k++) {
		pattern(pay, sizes[k], k);
		rc = mmds_log_append(w, (uint16_t)(0x100 + k), pay, sizes[k], &lsn[k]);
		FZ_ERRNO(rc);
		fz_trace("log: append %u bytes: %d at %llu", sizes[k], rc,
			 (unsigned long long)lsn[k]);
		if (rc == 0) {
			ok[k] = 1;
			check_record(w, lsn[k], k, "after append");
			end = mmds_log_tail_lsn(w);
		}
		if (k == 1 && mmds_log_reserve(w, 40, &res) == 0)
			FZ_CHECK(mmds_log_abort(w, &res) == 0, "abort");
	}
	for (unsigned k = 0; k < 4; k++) {
		if (!ok[k])
			continue;
		rc = mmds_log_iter_open(&it, w, lsn[k]);
		FZ_CHECK(rc == 0, "iter_open(%llu): %d", (unsigned long long)lsn[k], rc);
		for (unsigned j = k; j < 4; j++) {
			if (!ok[j])
				continue;
			rc = mmds_log_iter_next(it, &r);
			FZ_CHECK(rc == 0 && r.lsn == lsn[j],
				 "iterating from %llu: %s at %llu, not the record appended at %llu",
				 (unsigned long long)lsn[k], mmds_strerror(rc),
				 (unsigned long long)mmds_log_iter_lsn(it),
				 (unsigned long long)lsn[j]);
		}
		mmds_log_iter_close(it);
		break;
	}
	/* and a reader from the start gets there too */
	rc = walk(w, NULL, &stop);
	FZ_CHECK(stop >= end || (rc == -EBADMSG && stop < scanned),
		 "iterating from the start stops at %llu (%s), before the records appended up to %llu",
		 (unsigned long long)stop, mmds_strerror(rc), (unsigned long long)end);
	rc = mmds_log_sync(w, UINT64_MAX);
	FZ_ERRNO(rc);
	if (rc == 0)
		FZ_CHECK(mmds_log_durable_lsn(w) >= end, "durable %llu < %llu after sync",
			 (unsigned long long)mmds_log_durable_lsn(w),
			 (unsigned long long)end);
	memset(&rep, 0, sizeof(rep));
	rc = mmds_log_verify(logdir, &rep);
	FZ_CHECK((rc == 0 && !rep.corrupt) || (rc == -EBADMSG && rep.bad_lsn < scanned),
		 "verify after recovery (from %llu) and appends: %s (%s at %llu)",
		 (unsigned long long)scanned, mmds_strerror(rc),
		 mmds_log_cut_name(rep.reason), (unsigned long long)rep.bad_lsn);
	FZ_ERRNO(mmds_log_close(w));
	w = NULL;

	/* a clean close must reopen with nothing cut and nothing lost */
	rc = mmds_log_open(&w, logdir, &(mmds_log_opts){ .flags = MMDS_LOG_NO_THREAD });
	FZ_CHECK(rc == 0, "the recovered, appended and closed log does not reopen: %s",
		 mmds_strerror(rc));
	FZ_CHECK(mmds_log_get_report(w, &rep) == 0, "no report");
	FZ_CHECK(rep.bytes_cut == 0 && rep.segments_removed == 0,
		 "reopening after a clean close cut %llu bytes, %llu segments (%s)",
		 (unsigned long long)rep.bytes_cut,
		 (unsigned long long)rep.segments_removed,
		 mmds_log_cut_name(rep.reason));
	for (unsigned k = 0; k < 4; k++)
		if (ok[k])
			check_record(w, lsn[k], k, "after reopening");
	rc = walk(w, NULL, &stop);
	FZ_CHECK(stop >= end || (rc == -EBADMSG && stop < scanned),
		 "after reopening, iterating from the start stops at %llu (%s), before the records appended up to %llu",
		 (unsigned long long)stop, mmds_strerror(rc), (unsigned long long)end);
	FZ_ERRNO(mmds_log_close(w));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_begin();
	reader_phase(data, size);
	writer_phase(data, size, MMDS_LOG_RECOVER_REFUSE, 1);
	writer_phase(data, size, MMDS_LOG_RECOVER_TRUNCATE, 0);
	fz_check_fds();
	return 0;
}
