/* test_log_cursor_crash.c - every log.cursor.* crash point: a child dies
 * there (creating, opening, committing or removing a cursor), then another
 * process takes the cursor over and finds the last acknowledged commit or
 * the one in flight, never anything else, never a stuck holder, never a
 * leaked temporary file, and resumes reading exactly there. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mmds/log.h>

#include "t_crash.h"
#include "t_util.h"

Suite *log_cursor_crash_suite(void);

#define RECS 40
#define MAX_POINTS 32

/* Shared with the child: what it had acknowledged when it died. */
struct shared {
	uint64_t lsns[RECS + 1];
	_Atomic int acked;    /* record index whose commit returned, -1 none */
	_Atomic int attempt;  /* record index being committed, -1 none */
};
static struct shared *g_sh;

static const char *logdir(void)
{
	return t_path("log");
}

static void fresh_log(void)
{
	mmds_log *l;
	unsigned char buf[100];
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", logdir());
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(mmds_log_open(&l, logdir(),
				       &(mmds_log_opts){ .flags = MMDS_LOG_CREATE,
							 .segment_size = 16384 }), 0);
	for (uint64_t n = 0; n < RECS; n++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &n, 8);
		ck_assert_int_eq(mmds_log_append(l, 1, buf, 8 + n % 90, &g_sh->lsns[n]), 0);
	}
	g_sh->lsns[RECS] = mmds_log_tail_lsn(l);
	ck_assert_int_eq(mmds_log_close(l), 0);
	atomic_store(&g_sh->acked, -1);
	atomic_store(&g_sh->attempt, -1);
}

/* Files in DIR/cursors whose name starts with a dot (temporaries). */
static int hidden_files(void)
{
	char p[600];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(p, sizeof(p), "%s/cursors", logdir());
	d = opendir(p);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Create the cursor, then commit after every record it reads. */
static int scenario_commit(void *arg)
{
	mmds_log_cursor *c;
	mmds_log_iter *it;
	mmds_log_record r;
	int i = 0;

	(void)arg;
	if (mmds_log_cursor_open(&c, logdir(), "a",
				 &(mmds_log_cursor_opts){ .flags = MMDS_LOG_CURSOR_CREATE }))
		return 2;
	atomic_store(&g_sh->acked, 0); /* created (or found) at record 0 */
	if (mmds_log_cursor_iter(c, &it))
		return 2;
	while (mmds_log_iter_next(it, &r) == 0) {
		atomic_store(&g_sh->attempt, i + 1);
		if (mmds_log_cursor_commit(c, r.next_lsn))
			return 2;
		atomic_store(&g_sh->acked, i + 1);
		i++;
	}
	mmds_log_iter_close(it);
	mmds_log_cursor_close(c);
	return i == RECS ? 0 : 2;
}

/* Remove the cursor (which the parent created at record 5). */
static int scenario_remove(void *arg)
{
	(void)arg;
	return mmds_log_cursor_remove(logdir(), "a") == 0 ? 0 : 2;
}

/* Open the existing cursor and close it. */
static int scenario_open(void *arg)
{
	mmds_log_cursor *c;

	(void)arg;
	if (mmds_log_cursor_open(&c, logdir(), "a", NULL))
		return 2;
	mmds_log_cursor_close(c);
	return 0;
}

static void make_cursor_at(int rec)
{
	mmds_log_cursor *c;

	ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), "a",
					      &(mmds_log_cursor_opts){
						      .flags = MMDS_LOG_CURSOR_CREATE }), 0);
	ck_assert_int_eq(mmds_log_cursor_commit(c, g_sh->lsns[rec]), 0);
	mmds_log_cursor_close(c);
	atomic_store(&g_sh->acked, rec);
	atomic_store(&g_sh->attempt, rec);
}

/* Take the cursor over and read on: it must start at the acknowledged
 * record or the one in flight (exact when exact >= 0), hand out the rest
 * of the log in order, and commit. */
static void check_resume(const char *point, unsigned long pass, int exact)
{
	mmds_log_cursor *c;
	mmds_log_iter *it;
	mmds_log_record r;
	int acked = atomic_load(&g_sh->acked), att = atomic_load(&g_sh->attempt);
	int rc, at = -1;
	uint64_t pos, n, want;

	rc = mmds_log_cursor_open(&c, logdir(), "a",
				  &(mmds_log_cursor_opts){ .flags = MMDS_LOG_CURSOR_CREATE });
	ck_assert_msg(rc == 0, "%s pass %lu: takeover = %d", point, pass, rc);
	pos = mmds_log_cursor_position(c);
	for (int i = 0; i <= RECS; i++)
		if (g_sh->lsns[i] == pos)
			at = i;
	ck_assert_msg(at >= 0, "%s pass %lu: position %llu is no record", point, pass,
		      (unsigned long long)pos);
	if (exact >= 0)
		ck_assert_msg(at == exact, "%s pass %lu: at record %d, want %d", point,
			      pass, at, exact);
	else
		ck_assert_msg(at == (acked < 0 ? 0 : acked) || at == att,
			      "%s pass %lu: at record %d, acked %d, in flight %d", point,
			      pass, at, acked, att);
	ck_assert_int_eq(mmds_log_cursor_iter(c, &it), 0);
	for (want = (uint64_t)at; mmds_log_iter_next(it, &r) == 0; want++) {
		memcpy(&n, r.data, 8);
		ck_assert_uint_eq(n, want);
		ck_assert_int_eq(mmds_log_cursor_commit(c, r.next_lsn), 0);
	}
	ck_assert_uint_eq(want, RECS);
	mmds_log_iter_close(it);
	mmds_log_cursor_close(c);
	ck_assert_int_eq(hidden_files(), 0);
	/* never two holders: a second open while held is -EBUSY */
	ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), "a", NULL), 0);
	{
		mmds_log_cursor *d;

		ck_assert_int_eq(mmds_log_cursor_open(&d, logdir(), "a", NULL), -EBUSY);
	}
	ck_assert_uint_eq(mmds_log_cursor_position(c), g_sh->lsns[RECS]);
	mmds_log_cursor_close(c);
}

START_TEST(test_every_cursor_crash_point_resumes_at_the_last_commit)
{
	const char *pts[MAX_POINTS];
	size_t n = t_crash_points("log.cursor.", pts, MAX_POINTS);
	unsigned runs = 0;

	g_sh = mmap(NULL, sizeof(*g_sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g_sh, MAP_FAILED);
	ck_assert_uint_ge(n, 8);
	ck_assert_uint_le(n, MAX_POINTS);
	for (size_t p = 0; p < n; p++) {
		const char *pt = pts[p];
		unsigned long passes[3] = { 1, 2, 17 };

		for (int k = 0; k < 3; k++) {
			unsigned long pass = passes[k];

			fresh_log();
			if (strncmp(pt, "log.cursor.commit.", 18) == 0) {
				int exact;

				ck_assert_msg(t_crash_run(pt, pass, scenario_commit, NULL) == 1,
					      "%s pass %lu not reached", pt, pass);
				ck_assert_int_eq(atomic_load(&g_sh->attempt), (int)pass);
				ck_assert_int_eq(atomic_load(&g_sh->acked), (int)pass - 1);
				/* before the body or the checksum: the old slot wins;
				 * written (even unsynced): the takeover syncs it */
				exact = strstr(pt, ".write") && !strstr(pt, ".written")
						? (int)pass - 1
					: strstr(pt, ".torn") ? (int)pass - 1
					: (int)pass;
				check_resume(pt, pass, exact);
			} else if (strncmp(pt, "log.cursor.create.", 18) == 0) {
				if (pass > 1)
					continue;
				ck_assert_msg(t_crash_run(pt, pass, scenario_commit, NULL) == 1,
					      "%s not reached", pt);
				ck_assert_int_eq(atomic_load(&g_sh->acked), -1);
				if (strcmp(pt, "log.cursor.create.tmp") == 0) {
					mmds_log_cursor *c;

					/* all or nothing: not there yet */
					ck_assert_int_eq(mmds_log_cursor_open(&c, logdir(), "a",
									      NULL),
							 -ENOENT);
					ck_assert_int_eq(hidden_files(), 1);
				}
				check_resume(pt, pass, 0);
			} else if (strcmp(pt, "log.cursor.open.taken") == 0) {
				if (pass > 1)
					continue;
				make_cursor_at(7);
				ck_assert_msg(t_crash_run(pt, pass, scenario_open, NULL) == 1,
					      "%s not reached", pt);
				check_resume(pt, pass, 7);
			} else if (strcmp(pt, "log.cursor.remove.taken") == 0) {
				if (pass > 1)
					continue;
				make_cursor_at(5);
				ck_assert_msg(t_crash_run(pt, pass, scenario_remove, NULL) == 1,
					      "%s not reached", pt);
				/* the remover died before unlinking: still there, free */
				check_resume(pt, pass, 5);
				ck_assert_int_eq(mmds_log_cursor_remove(logdir(), "a"), 0);
				ck_assert_int_eq(mmds_log_cursor_list(logdir(), NULL, 0), 0);
			} else {
				ck_abort_msg("%s: no scenario for this point", pt);
			}
			runs++;
		}
	}
	ck_assert_uint_ge(runs, n);
	munmap(g_sh, sizeof(*g_sh));
}
END_TEST

Suite *log_cursor_crash_suite(void)
{
	Suite *s = suite_create("log_cursor_crash");
	TCase *tc = t_tcase(s, "points", 120);

	tcase_add_test(tc, test_every_cursor_crash_point_resumes_at_the_last_commit);
	return s;
}

int main(void)
{
	return t_run_suite(log_cursor_crash_suite());
}
