/* test_owner.c - owner words (structs/owner.h): one word names a process,
 * dead means gone, zombie, impossible or another incarnation, and a takeover
 * of a dead owner has exactly one winner among racing processes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mmds/map.h>

#include "owner.h"
#include "t_util.h"

Suite *owner_suite(void);

/* A child that reports its owner word through a pipe, then waits to be
 * killed.  Returns its pid; *word gets its owner word. */
static pid_t spawn_sleeper(uint64_t *word)
{
	int fd[2];
	pid_t pid;

	ck_assert_int_eq(pipe(fd), 0);
	pid = t_fork();
	if (pid == 0) {
		uint64_t w = mmds__owner_self();

		close(fd[0]);
		if (write(fd[1], &w, sizeof(w)) != sizeof(w))
			_exit(1);
		for (;;)
			pause();
	}
	close(fd[1]);
	ck_assert_int_eq(read(fd[0], word, sizeof(*word)), sizeof(*word));
	close(fd[0]);
	return pid;
}

START_TEST(test_self_word_names_this_process)
{
	uint64_t w = mmds__owner_self();

	ck_assert_uint_ne(w, 0);
	ck_assert_uint_ne(w >> 32, 0);
	ck_assert_uint_eq(mmds__owner_pid(w), (uint32_t)getpid());
	ck_assert(mmds__owner_alive(w));
	ck_assert_uint_eq(mmds__owner_of_pid((uint32_t)getpid()), w);
	ck_assert_uint_eq(mmds__owner_self(), w);
}
END_TEST

START_TEST(test_forked_child_has_its_own_word)
{
	uint64_t parent = mmds__owner_self(), child;
	pid_t pid = spawn_sleeper(&child);

	ck_assert_uint_ne(child, parent);
	ck_assert_uint_eq(mmds__owner_pid(child), (uint32_t)pid);
	ck_assert(mmds__owner_alive(child));
	ck_assert_uint_eq(mmds__owner_of_pid((uint32_t)pid), child);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
END_TEST

START_TEST(test_zombie_is_dead)
{
	uint64_t w;
	pid_t pid = spawn_sleeper(&w);
	siginfo_t si;

	ck_assert(mmds__owner_alive(w));
	kill(pid, SIGKILL);
	/* wait until it is a zombie, without reaping it */
	ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	ck_assert(!mmds__owner_alive(w));
	ck_assert_uint_eq(mmds__owner_of_pid((uint32_t)pid), 0);
	waitpid(pid, NULL, 0);
	ck_assert(!mmds__owner_alive(w));
}
END_TEST

START_TEST(test_impossible_and_reused_words_are_dead)
{
	uint64_t me = mmds__owner_self();

	ck_assert(!mmds__owner_alive(0));
	/* pid 0, a pid beyond any pid_max, and a tag of 0 */
	ck_assert(!mmds__owner_alive(me & 0xffffffff00000000u));
	ck_assert(!mmds__owner_alive((me & 0xffffffff00000000u) | 0x7fffffffu));
	ck_assert(!mmds__owner_alive((me & 0xffffffff00000000u) | 0xffffffffu));
	ck_assert(!mmds__owner_alive(me & 0xffffffffu));
	/* this very pid with another incarnation: an earlier process that had
	 * the same pid (e.g. before a container restart) */
	ck_assert(!mmds__owner_alive(me + ((uint64_t)1 << 32)));
	ck_assert(!mmds__owner_alive(me ^ ((uint64_t)0x5a5a << 40)));
}
END_TEST

START_TEST(test_take_and_release)
{
	_Atomic uint64_t word = 0;
	uint64_t me = mmds__owner_self(), prev = 42, dead;

	ck_assert_int_eq(mmds__owner_take(&word, &prev), MMDS__OWNER_FREE);
	ck_assert_uint_eq(prev, 0);
	ck_assert_uint_eq(atomic_load(&word), me);
	/* held by this process already: busy, not re-entered */
	ck_assert_int_eq(mmds__owner_take(&word, NULL), -EBUSY);
	ck_assert_int_eq(mmds__owner_release(&word), 0);
	ck_assert_uint_eq(atomic_load(&word), 0);
	ck_assert_int_eq(mmds__owner_release(&word), -EPERM);

	/* a dead owner's word is taken over and reported */
	dead = me + ((uint64_t)1 << 32);
	atomic_store(&word, dead);
	ck_assert_int_eq(mmds__owner_take(&word, &prev), MMDS__OWNER_TAKEN);
	ck_assert_uint_eq(prev, dead);
	ck_assert_uint_eq(atomic_load(&word), me);
	/* a release by someone who no longer owns it leaves it alone */
	atomic_store(&word, dead);
	ck_assert_int_eq(mmds__owner_release(&word), -EPERM);
	ck_assert_uint_eq(atomic_load(&word), dead);
}
END_TEST

START_TEST(test_live_owner_in_other_process_is_busy)
{
	_Atomic uint64_t word;
	uint64_t w;
	pid_t pid = spawn_sleeper(&w);

	atomic_store(&word, w);
	ck_assert_int_eq(mmds__owner_take(&word, NULL), -EBUSY);
	ck_assert_uint_eq(atomic_load(&word), w);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(mmds__owner_take(&word, NULL), MMDS__OWNER_TAKEN);
	ck_assert_uint_eq(atomic_load(&word), mmds__owner_self());
}
END_TEST

/* Many processes race to take over one dead owner's word: exactly one
 * wins each round, and the word then names the winner. */
START_TEST(test_takeover_race_has_one_winner)
{
	enum { ROUNDS = 40, RACERS = 6 };
	struct shared {
		_Atomic uint64_t word;
		_Atomic uint64_t winners;
		_Atomic uint64_t winner_word;
	} *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(sh, MAP_FAILED);
	for (int round = 0; round < ROUNDS; round++) {
		t_barrier *b = t_barrier_new(RACERS);
		pid_t kids[RACERS];

		atomic_store(&sh->word, mmds__owner_self() + ((uint64_t)7 << 32));
		atomic_store(&sh->winners, 0);
		for (int i = 0; i < RACERS; i++) {
			kids[i] = t_fork();
			if (kids[i] == 0) {
				int rc;

				t_barrier_wait(b);
				rc = mmds__owner_take(&sh->word, NULL);
				T_CHILD_ASSERT(rc == MMDS__OWNER_TAKEN || rc == -EBUSY);
				if (rc == MMDS__OWNER_TAKEN) {
					atomic_fetch_add(&sh->winners, 1);
					atomic_store(&sh->winner_word,
						     mmds__owner_self());
				}
				/* stay alive until every racer has tried */
				t_barrier_wait(b);
				_exit(0);
			}
		}
		for (int i = 0; i < RACERS; i++)
			t_wait_child(kids[i]);
		ck_assert_uint_eq(atomic_load(&sh->winners), 1);
		ck_assert_uint_eq(atomic_load(&sh->word),
				  atomic_load(&sh->winner_word));
		t_barrier_free(b);
	}
	munmap(sh, sizeof(*sh));
}
END_TEST

/* The guarded calls on a word in a file truncated under the map are
 * -EFAULT, not SIGBUS. */
START_TEST(test_guarded_take_and_release_on_truncated_file_are_efault)
{
	mmds_map *m = NULL;
	_Atomic uint64_t *w;

	ck_assert_int_eq(mmds_map_open(&m, t_path("own"), &(mmds_map_opts){
					       .flags = MMDS_MAP_CREATE, .size = 4096 }), 0);
	w = (_Atomic uint64_t *)mmds_map_data(m);
	ck_assert_int_eq(mmds__owner_take_guarded(w, NULL), MMDS__OWNER_FREE);
	ck_assert_int_eq(mmds__owner_release_guarded(w), 0);
	ck_assert_int_eq(truncate(t_path("own"), 0), 0);
	ck_assert_int_eq(mmds__owner_take_guarded(w, NULL), -EFAULT);
	ck_assert_int_eq(mmds__owner_release_guarded(w), -EFAULT);
	mmds_map_close(m);
}
END_TEST

Suite *owner_suite(void)
{
	Suite *s = suite_create("owner");
	TCase *tc = t_tcase(s, "words", 30);

	tcase_add_test(tc, test_self_word_names_this_process);
	tcase_add_test(tc, test_forked_child_has_its_own_word);
	tcase_add_test(tc, test_zombie_is_dead);
	tcase_add_test(tc, test_impossible_and_reused_words_are_dead);
	tcase_add_test(tc, test_take_and_release);
	tcase_add_test(tc, test_live_owner_in_other_process_is_busy);
	tcase_add_test(tc, test_takeover_race_has_one_winner);
	tcase_add_test(tc, test_guarded_take_and_release_on_truncated_file_are_efault);
	return s;
}

int main(void)
{
	return t_run_suite(owner_suite());
}
