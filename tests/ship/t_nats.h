/* t_nats.h - real nats-server processes for the shipping tests and bench:
 * started on 127.0.0.1 with JetStream in a private directory, killed with
 * SIGKILL by the tests, and always killed when the test process exits
 * (atexit, and PR_SET_PDEATHSIG if it is killed itself). */
#ifndef T_NATS_H
#define T_NATS_H

#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct t_nats {
	pid_t pid;         /* 0 when not running */
	int port;          /* client port */
	int cport;         /* cluster port, 0 for a single server */
	char name[16];
	char dir[512];     /* JetStream store dir */
	char log[512];     /* the server's output */
	char routes[256];  /* --routes, cluster only */
	char url[64];      /* nats://127.0.0.1:port */
};

/* The nats-server program, or NULL (then the tests skip). */
const char *t_nats_server(void);

/* A TCP port on 127.0.0.1 nobody listens on now. */
int t_nats_free_port(void);

/* Start one JetStream server with store under base/name; 0 or -errno.
 * Returns when it accepts connections (or -ETIMEDOUT after 10 s). */
int t_nats_start(struct t_nats *s, const char *base, const char *name);

/* Start n servers as one cluster (distinct ports, routes to each other). */
int t_nats_start_cluster(struct t_nats *s, int n, const char *base);

/* Start s again with the same arguments (after t_nats_kill). */
int t_nats_restart(struct t_nats *s);

/* SIGKILL the server and reap it (nothing if not running). */
void t_nats_kill(struct t_nats *s);

/* Create stream (subject subj, replicas, Duplicates window in ms; 0 =
 * the server's default of 2 minutes) through url, retrying while the
 * cluster elects its leaders (up to 30 s).  0 or -errno. */
int t_nats_add_stream(const char *url, const char *stream, const char *subj,
		      int replicas, int64_t dup_ms);

/* Connect to url (servers separated by commas).  0 or -EIO. */
typedef struct __natsConnection natsConnection;
int t_nats_connect(const char *url, natsConnection **nc);

/* Number of messages in stream (or -errno). */
int64_t t_nats_stream_msgs(const char *url, const char *stream);

#ifdef __cplusplus
}
#endif

#endif /* T_NATS_H */
