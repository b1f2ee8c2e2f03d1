/* t_nats.c - nats-server processes for tests and benches (t_nats.h). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "t_nats.h"

#ifndef NATS_SERVER_PATH
#define NATS_SERVER_PATH ""
#endif

#define MAXPIDS 64
static pid_t pids[MAXPIDS];
static pid_t owner;

static void kill_all(void)
{
	if (getpid() != owner)
		return; /* a forked child leaves the servers to its parent */
	for (int i = 0; i < MAXPIDS; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
}

static void track(pid_t pid, pid_t old)
{
	if (owner == 0) {
		owner = getpid();
		atexit(kill_all);
	}
	for (int i = 0; i < MAXPIDS; i++)
		if (pids[i] == old) {
			pids[i] = pid;
			return;
		}
}

const char *t_nats_server(void)
{
	static char found[512];
	const char *env = getenv("NATS_SERVER");
	const char *path;
	char *p, *save = NULL, buf[4096];

	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	if (NATS_SERVER_PATH[0] && access(NATS_SERVER_PATH, X_OK) == 0)
		return NATS_SERVER_PATH;
	path = getenv("PATH");
	snprintf(buf, sizeof(buf), "%s:/usr/sbin:/usr/local/sbin", path ? path : "/usr/bin");
	for (p = strtok_r(buf, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		snprintf(found, sizeof(found), "%s/nats-server", p);
		if (access(found, X_OK) == 0)
			return found;
	}
	return NULL;
}

int t_nats_free_port(void)
{
	static int used[256], nused;
	for (;;) {
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t len = sizeof(a);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, dup = 0;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
		    getsockname(fd, (struct sockaddr *)&a, &len)) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
		port = ntohs(a.sin_port);
		close(fd);
		/* never hand out the same port twice in one process */
		for (int i = 0; i < nused; i++)
			dup |= used[i] == port;
		if (dup)
			continue;
		if (nused < 256)
			used[nused++] = port;
		return port;
	}
}

static int can_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int spawn(struct t_nats *s)
{
	const char *srv = t_nats_server();
	char port[16], cl[64];
	const char *argv[24];
	int n = 0;
	pid_t pid;

	if (srv == NULL)
		return -ENOENT;
	snprintf(port, sizeof(port), "%d", s->port);
	argv[n++] = srv;
	argv[n++] = "-js";
	argv[n++] = "-a";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "-sd";
	argv[n++] = s->dir;
	argv[n++] = "-n";
	argv[n++] = s->name;
	if (s->cport) {
		snprintf(cl, sizeof(cl), "nats://127.0.0.1:%d", s->cport);
		argv[n++] = "--cluster";
		argv[n++] = cl;
		argv[n++] = "--cluster_name";
		argv[n++] = "mmds";
		argv[n++] = "--routes";
		argv[n++] = s->routes;
	}
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* die with the test, however it ends */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(srv, (char *const *)argv);
		_exit(127);
	}
	track(pid, 0);
	s->pid = pid;
	for (int i = 0; i < 1000; i++) {
		if (can_connect(s->port))
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			track(0, pid);
			s->pid = 0;
			return -ECHILD;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static void init(struct t_nats *s, const char *base, const char *name)
{
	s->pid = 0;
	s->port = t_nats_free_port();
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->dir, sizeof(s->dir), "%s/%s", base, name);
	snprintf(s->log, sizeof(s->log), "%s/%s.log", base, name);
	snprintf(s->url, sizeof(s->url), "nats://127.0.0.1:%d", s->port);
	mkdir(s->dir, 0700);
}

int t_nats_start(struct t_nats *s, const char *base, const char *name)
{
	init(s, base, name);
	s->cport = 0;
	return spawn(s);
}

int t_nats_start_cluster(struct t_nats *s, int n, const char *base)
{
	char name[16];
	int rc;

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "n%d", i + 1);
		init(&s[i], base, name);
		s[i].cport = t_nats_free_port();
	}
	for (int i = 0; i < n; i++) {
		size_t len = 0;

		s[i].routes[0] = '\0';
		for (int j = 0; j < n; j++)
			if (j != i)
				len += (size_t)snprintf(s[i].routes + len, sizeof(s[i].routes) - len,
							"%snats://127.0.0.1:%d", len ? "," : "",
							s[j].cport);
	}
	for (int i = 0; i < n; i++)
		if ((rc = spawn(&s[i])) != 0)
			return rc;
	return 0;
}

int t_nats_restart(struct t_nats *s)
{
	return spawn(s);
}

void t_nats_kill(struct t_nats *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	track(0, s->pid);
	s->pid = 0;
}

static natsStatus set_servers(natsOptions *no, const char *url)
{
	char copy[1024], *p, *save = NULL;
	const char *v[16];
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", url);
	for (p = strtok_r(copy, ",", &save); p && n < 16; p = strtok_r(NULL, ",", &save))
		v[n++] = p;
	return natsOptions_SetServers(no, v, n);
}

int t_nats_connect(const char *url, natsConnection **nc)
{
	natsOptions *o = NULL;
	natsStatus st = natsOptions_Create(&o);

	if (st == NATS_OK)
		st = set_servers(o, url);
	if (st == NATS_OK)
		st = natsOptions_SetTimeout(o, 2000);
	if (st == NATS_OK)
		st = natsConnection_Connect(nc, o);
	natsOptions_Destroy(o);
	return st == NATS_OK ? 0 : -EIO;
}

static int js_connect(const char *url, natsConnection **nc, jsCtx **js)
{
	natsStatus st = t_nats_connect(url, nc) ? NATS_ERR : NATS_OK;

	if (st == NATS_OK)
		st = natsConnection_JetStream(js, *nc, NULL);
	if (st != NATS_OK) {
		natsConnection_Destroy(*nc);
		*nc = NULL;
		return -EIO;
	}
	return 0;
}

int t_nats_add_stream(const char *url, const char *stream, const char *subj,
		      int replicas, int64_t dup_ms)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamConfig cfg;
	jsStreamInfo *si = NULL;
	jsErrCode ec = 0;
	const char *subjects[1] = { subj };
	natsStatus st = NATS_ERR;

	for (int i = 0; i < 300; i++) {
		if (js_connect(url, &nc, &js) == 0) {
			jsStreamConfig_Init(&cfg);
			cfg.Name = stream;
			cfg.Subjects = subjects;
			cfg.SubjectsLen = 1;
			cfg.Storage = js_FileStorage;
			cfg.Replicas = replicas;
			cfg.Duplicates = dup_ms * 1000000;
			st = js_AddStream(&si, js, &cfg, NULL, &ec);
			jsStreamInfo_Destroy(si);
			si = NULL;
			/* the leader must answer before the stream is usable */
			if (st == NATS_OK)
				st = js_GetStreamInfo(&si, js, stream, NULL, &ec);
			jsStreamInfo_Destroy(si);
			si = NULL;
			jsCtx_Destroy(js);
			natsConnection_Destroy(nc);
			if (st == NATS_OK)
				return 0;
		}
		usleep(100000);
	}
	fprintf(stderr, "t_nats_add_stream %s at %s: %s (JetStream error %d)\n",
		stream, url, natsStatus_GetText(st), (int)ec);
	return -EIO;
}

int64_t t_nats_stream_msgs(const char *url, const char *stream)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	int64_t n = -EIO;

	if (js_connect(url, &nc, &js))
		return -EIO;
	if (js_GetStreamInfo(&si, js, stream, NULL, NULL) == NATS_OK)
		n = (int64_t)si->State.Msgs;
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return n;
}
