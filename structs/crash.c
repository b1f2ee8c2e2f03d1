/* crash.c - named crash points for the test build (crash.h). */
#include "config.h"

#include "crash.h"

#ifdef MMDS_CRASH_POINTS

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern struct mmds__crash_point *const __start_mmds_crash[]
	__attribute__((weak));
extern struct mmds__crash_point *const __stop_mmds_crash[]
	__attribute__((weak));

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static char stalled[128];
static _Atomic unsigned long stall_every, stall_us; /* 0: nothing stalls */
static char armed[128];
static _Atomic unsigned long countdown; /* 0: nothing armed */

static void read_env(void)
{
	const char *e = getenv("MMDS_CRASH");
	const char *colon;
	size_t n;
	unsigned long pass = 1;

	if (e == NULL || *e == 0)
		return;
	colon = strchr(e, ':');
	n = colon ? (size_t)(colon - e) : strlen(e);
	if (n >= sizeof(armed))
		return;
	if (colon)
		pass = strtoul(colon + 1, NULL, 10);
	memcpy(armed, e, n);
	armed[n] = 0;
	atomic_store(&countdown, pass ? pass : 1);
}

void mmds__crash_hit(struct mmds__crash_point *p)
{
	unsigned long hit, every;

	pthread_once(&env_once, read_env);
	hit = atomic_fetch_add_explicit(&p->hits, 1, memory_order_relaxed) + 1;
	every = atomic_load_explicit(&stall_every, memory_order_relaxed);
	if (every && hit % every == 0 && strcmp(p->name, stalled) == 0)
		usleep((useconds_t)atomic_load_explicit(&stall_us,
							memory_order_relaxed));
	if (atomic_load_explicit(&countdown, memory_order_relaxed) == 0 ||
	    strcmp(p->name, armed) != 0)
		return;
	if (atomic_fetch_sub(&countdown, 1) == 1)
		for (;;)
			kill(getpid(), SIGKILL);
}

size_t mmds__crash_count(void)
{
	if (__start_mmds_crash == NULL)
		return 0;
	return (size_t)(__stop_mmds_crash - __start_mmds_crash);
}

const struct mmds__crash_point *mmds__crash_at(size_t i)
{
	return i < mmds__crash_count() ? __start_mmds_crash[i] : NULL;
}

void mmds__crash_arm(const char *name, unsigned long pass)
{
	pthread_once(&env_once, read_env);
	atomic_store(&countdown, 0);
	if (name == NULL || strlen(name) >= sizeof(armed))
		return;
	strcpy(armed, name);
	atomic_store(&countdown, pass ? pass : 1);
}

void mmds__crash_stall(const char *name, unsigned long every,
		       unsigned long usec)
{
	atomic_store(&stall_every, 0);
	if (name == NULL || every == 0 || strlen(name) >= sizeof(stalled))
		return;
	strcpy(stalled, name);
	atomic_store(&stall_us, usec);
	atomic_store(&stall_every, every);
}

unsigned long mmds__crash_hits(const char *name)
{
	unsigned long n = 0;

	for (size_t i = 0; i < mmds__crash_count(); i++)
		if (strcmp(__start_mmds_crash[i]->name, name) == 0)
			n += atomic_load(&__start_mmds_crash[i]->hits);
	return n;
}

#endif /* MMDS_CRASH_POINTS */
