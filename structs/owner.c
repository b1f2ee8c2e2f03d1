/* owner.c - owner words and process liveness (owner.h). */
#include "config.h"

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include <mmds/map.h>

#include "owner.h"

#define PID_LIMIT 4194304u /* the kernel's largest pid_max (PID_MAX_LIMIT) */

static pthread_once_t boot_once = PTHREAD_ONCE_INIT;
static uint64_t boot_hash; /* of /proc/sys/kernel/random/boot_id, 0 unknown */
static uint32_t pid_max = PID_LIMIT;

static _Atomic uint64_t self_word; /* 0 until computed */
static _Atomic uint32_t self_word_pid;

/* Read a small /proc file into buf (NUL-terminated).  Bytes read, or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n >= 0)
		buf[n] = 0;
	return n;
}

static void boot_init(void)
{
	char buf[64];
	ssize_t n = read_small("/proc/sys/kernel/random/boot_id", buf,
			       sizeof(buf));

	if (n > 0)
		boot_hash = XXH3_64bits(buf, (size_t)n);
	n = read_small("/proc/sys/kernel/pid_max", buf, sizeof(buf));
	if (n > 0) {
		unsigned long v = strtoul(buf, NULL, 10);

		if (v > 0 && v <= PID_LIMIT)
			pid_max = (uint32_t)v;
	}
}

/*
 * /proc/PID/stat: the state letter and the start time (field 22, clock
 * ticks since boot).  0 on success; -ESRCH if there is no such process;
 * another -errno if it cannot be told (no /proc).
 */
static int proc_stat(uint32_t pid, char *state, uint64_t *start)
{
	char path[48], buf[1024], *p;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%lu/stat", (unsigned long)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n == -ENOENT || n == -ESRCH)
		return -ESRCH;
	if (n <= 0)
		return n < 0 ? (int)n : -EIO;
	/* the command name (field 2) may hold spaces and ')' */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ' || p[2] == 0)
		return -EIO;
	p += 2;
	*state = *p;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -EIO;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

static uint64_t make_word(uint32_t pid, uint64_t start)
{
	uint64_t in[2] = { boot_hash, start };
	uint32_t tag = (uint32_t)(XXH3_64bits(in, sizeof(in)) >> 32);

	if (tag == 0)
		tag = 1;
	return (uint64_t)tag << 32 | pid;
}

uint64_t mmds__owner_self(void)
{
	uint32_t me = (uint32_t)getpid();
	uint64_t w;
	uint64_t start = 0;
	char st;

	/* The pid check makes a forked child compute its own word. */
	if (atomic_load_explicit(&self_word_pid, memory_order_acquire) == me &&
	    (w = atomic_load_explicit(&self_word, memory_order_relaxed)) != 0)
		return w;
	pthread_once(&boot_once, boot_init);
	if (proc_stat(me, &st, &start) != 0)
		start = 0; /* no /proc: every incarnation of me gets one tag */
	w = make_word(me, start);
	atomic_store_explicit(&self_word, w, memory_order_relaxed);
	atomic_store_explicit(&self_word_pid, me, memory_order_release);
	return w;
}

uint64_t mmds__owner_of_pid(uint32_t pid)
{
	uint64_t start;
	char st;

	pthread_once(&boot_once, boot_init);
	if (pid == 0 || pid > pid_max)
		return 0;
	if (proc_stat(pid, &st, &start) != 0 || st == 'Z' || st == 'X')
		return 0;
	return make_word(pid, start);
}

bool mmds__owner_alive(uint64_t w)
{
	uint32_t pid = mmds__owner_pid(w);
	uint64_t start;
	char st;
	int rc;

	pthread_once(&boot_once, boot_init);
	if (w >> 32 == 0 || pid == 0 || pid > pid_max)
		return false;
	if (w == mmds__owner_self())
		return true;
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return false;
	rc = proc_stat(pid, &st, &start);
	if (rc == -ESRCH)
		return false;
	if (rc != 0)
		return true; /* no /proc: the running pid is all we know */
	if (st == 'Z' || st == 'X')
		return false;
	return make_word(pid, start) == w;
}

int mmds__owner_take(_Atomic uint64_t *w, uint64_t *prev)
{
	uint64_t me = mmds__owner_self();
	uint64_t cur = atomic_load_explicit(w, memory_order_acquire);

	for (;;) {
		bool dead = cur != 0 && !mmds__owner_alive(cur);

		if (cur != 0 && !dead)
			return -EBUSY;
		if (atomic_compare_exchange_strong(w, &cur, me)) {
			if (prev)
				*prev = cur;
			return dead ? MMDS__OWNER_TAKEN : MMDS__OWNER_FREE;
		}
		/* cur now holds what beat us; judge that one */
	}
}

int mmds__owner_release(_Atomic uint64_t *w)
{
	uint64_t me = mmds__owner_self();

	if (atomic_compare_exchange_strong_explicit(w, &me, 0,
						    memory_order_release,
						    memory_order_relaxed))
		return 0;
	return -EPERM;
}

struct owner_op {
	_Atomic uint64_t *w;
	uint64_t *prev;
	int rc;
};

static int take_fn(void *arg)
{
	struct owner_op *o = arg;

	o->rc = mmds__owner_take(o->w, o->prev);
	return 0;
}

static int release_fn(void *arg)
{
	struct owner_op *o = arg;

	/* a plain load first: a fault never lands inside the CAS */
	(void)atomic_load_explicit(o->w, memory_order_relaxed);
	o->rc = mmds__owner_release(o->w);
	return 0;
}

int mmds__owner_take_guarded(_Atomic uint64_t *w, uint64_t *prev)
{
	struct owner_op o = { w, prev, 0 };
	int rc = mmds_guard_run(take_fn, &o);

	return rc < 0 ? rc : o.rc;
}

int mmds__owner_release_guarded(_Atomic uint64_t *w)
{
	struct owner_op o = { w, NULL, 0 };
	int rc = mmds_guard_run(release_fn, &o);

	return rc < 0 ? rc : o.rc;
}
