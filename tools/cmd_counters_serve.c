/* cmd_counters_serve.c - `mmds counters serve`: a Prometheus /metrics
 * endpoint for one or more counters files, served by libmicrohttpd.
 *
 * Each scrape exports every file with the library's Prometheus writer
 * (so names are the ones `mmds counters --prometheus` prints), then merges
 * the families across files: one HELP/TYPE per name, every sample with the
 * constant labels (--label) and a per-file label (file="PATH" by default),
 * so two files with the same counter names do not collide.  A name two
 * files export as different kinds (a counter and a gauge, a histogram and
 * a gauge named like its series) cannot be kept apart by a label: the
 * first file keeps it, the other's family is left out and said so (a
 * comment in the exposition, a line on stderr).  libmicrohttpd
 * runs one internal event thread: a slow or hostile client holds only its
 * own connection (non-blocking I/O, a timeout, a connection limit). */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>
#include <mmds.h>

#include "tool.h"

#define MAX_FILES 64
#define MAX_LABELS 16

struct serve {
	int nfiles;
	const char *paths[MAX_FILES];
	mmds_counters *c[MAX_FILES];
	const char *prefix;         /* prepended to every name, or "" */
	const char *file_label;     /* name of the per-file label, or NULL */
	int nlabels;
	char lname[MAX_LABELS][128];
	const char *lvalue[MAX_LABELS];
	pthread_mutex_t lock;       /* one export at a time */
	char *said;                 /* the notes last printed on stderr */
	unsigned timeout_s, max_conn;
};

static int usage(FILE *out)
{
	fprintf(out,
		"usage: mmds counters serve --listen HOST:PORT [--prefix PREFIX]\n"
		"           [--label NAME=VALUE]... [--file-label NAME | --no-file-label]\n"
		"           [--timeout SECONDS] [--max-connections N] COUNTERS...\n"
		"\n"
		"Serves GET /metrics: the counters of every COUNTERS file in the\n"
		"Prometheus text format, each name prefixed with PREFIX, each sample\n"
		"with the constant labels and a label naming its file (file=\"PATH\";\n"
		"--file-label renames it, --no-file-label drops it for one file).\n"
		"HOST may be empty (:PORT) for every address; PORT 0 picks a free\n"
		"port; the address served is printed on stdout.\n"
		"Runs until SIGINT or SIGTERM (exit 130 / 143).\n");
	return out == stdout ? TOOL_OK : TOOL_USAGE;
}

/* A metric family being merged: name, HELP, TYPE and its sample lines. */
struct family {
	char *name, *help, *type;
	char *samples;
	size_t len, cap;
};

struct merge {
	struct family *f;
	int n, cap;
	FILE *notes;  /* a line per family left out, and why */
	off_t notes_at; /* the end of the last whole line in notes */
};

/* The family named name[0..nlen), or NULL. */
static struct family *lookup(struct merge *m, const char *name, size_t nlen)
{
	for (int i = 0; i < m->n; i++)
		if (strlen(m->f[i].name) == nlen && memcmp(m->f[i].name, name, nlen) == 0)
			return &m->f[i];
	return NULL;
}

static const char *const hist_sfx[] = { "_bucket", "_sum", "_count" };

/* Whether a family `name` of type `type` from a later file would mix with
 * one an earlier file already serves under another kind: the same name
 * with another TYPE, a histogram whose series are a served family's names,
 * or a family named as a served histogram's series.  The file label
 * cannot keep those apart; the earlier file keeps the name.  What the
 * name is served as goes to *served. */
static int kind_conflict(struct merge *m, const char *name, size_t nlen,
			 const char *type, FILE *why)
{
	struct family *f = lookup(m, name, nlen);
	int hist = strcmp(type, "histogram") == 0;

	if (f && f->samples && f->type && strcmp(f->type, type) != 0) {
		fprintf(why, "an earlier file serves %s as a %s", f->name, f->type);
		return 1;
	}
	for (int k = 0; k < 3; k++) {
		size_t sl = strlen(hist_sfx[k]);
		char series[320];

		if (hist && nlen + sl < sizeof(series)) {
			memcpy(series, name, nlen);
			memcpy(series + nlen, hist_sfx[k], sl);
			f = lookup(m, series, nlen + sl);
			if (f && f->samples) {
				fprintf(why, "an earlier file serves %s as a %s", f->name,
					f->type ? f->type : "sample");
				return 1;
			}
		}
		if (!hist && nlen > sl && memcmp(name + nlen - sl, hist_sfx[k], sl) == 0) {
			f = lookup(m, name, nlen - sl);
			if (f && f->samples && f->type && strcmp(f->type, "histogram") == 0) {
				fprintf(why, "an earlier file serves %.*s as a series of the histogram %s",
					(int)nlen, name, f->name);
				return 1;
			}
		}
	}
	return 0;
}

static struct family *family(struct merge *m, const char *name, size_t nlen)
{
	for (int i = 0; i < m->n; i++)
		if (strlen(m->f[i].name) == nlen && memcmp(m->f[i].name, name, nlen) == 0)
			return &m->f[i];
	if (m->n == m->cap) {
		int cap = m->cap ? 2 * m->cap : 32;
		struct family *f = realloc(m->f, (size_t)cap * sizeof(*f));

		if (f == NULL)
			return NULL;
		m->f = f;
		m->cap = cap;
	}
	memset(&m->f[m->n], 0, sizeof(m->f[0]));
	m->f[m->n].name = strndup(name, nlen);
	if (m->f[m->n].name == NULL)
		return NULL;
	return &m->f[m->n++];
}

static int append(struct family *f, const char *s, size_t n)
{
	if (f->len + n + 1 > f->cap) {
		size_t cap = (f->len + n + 1) * 2;
		char *b = realloc(f->samples, cap);

		if (b == NULL)
			return -ENOMEM;
		f->samples = b;
		f->cap = cap;
	}
	memcpy(f->samples + f->len, s, n);
	f->len += n;
	f->samples[f->len] = '\0';
	return 0;
}

/* A label value in the exposition format: \\ \" \n escaped, and each
 * byte that is not UTF-8 (a path may hold any) as U+FFFD: Prometheus
 * refuses a whole scrape with a label value that is not UTF-8. */
static void label_value(FILE *f, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t n = strlen(v);

	fputc('"', f);
	while (n > 0) {
		size_t ok = tool_utf8_prefix(p, n);

		for (size_t i = 0; i < ok; i++) {
			if (p[i] == '\\' || p[i] == '"')
				fprintf(f, "\\%c", p[i]);
			else if (p[i] == '\n')
				fputs("\\n", f);
			else
				fputc(p[i], f);
		}
		if (ok < n) {
			fputs("\xef\xbf\xbd", f);
			ok++;
		}
		p += ok;
		n -= ok;
	}
	fputc('"', f);
}

/* The labels every sample of file i carries, as `a="x",b="y"` (may be ""). */
static char *labels_of(const struct serve *s, int i)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	for (int k = 0; k < s->nlabels; k++) {
		fprintf(f, "%s%s=", k ? "," : "", s->lname[k]);
		label_value(f, s->lvalue[k]);
	}
	if (s->file_label) {
		fprintf(f, "%s%s=", s->nlabels ? "," : "", s->file_label);
		label_value(f, s->paths[i]);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Fold one file's exposition (text from the library: per family HELP,
 * TYPE, then its samples) into m. */
static int fold(struct merge *m, const struct serve *s, int file, char *text,
		const char *labels)
{
	char *line, *save = NULL;
	int skip = 0; /* the samples of the current family are left out */

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		int help = strncmp(line, "# HELP ", 7) == 0;
		int type = strncmp(line, "# TYPE ", 7) == 0;
		const char *name = help || type ? line + 7 : line;
		size_t nlen = strcspn(name, help || type ? " " : " {");
		struct family *f;
		char *head = NULL, *ls;
		size_t hlen = 0;
		FILE *hf;
		int rc;

		if (line[0] == '#' && !help && !type)
			continue;
		if (help)
			skip = 0;
		if (type) {
			const char *kind = name + nlen + (name[nlen] == ' ');

			fprintf(m->notes, "%s: %.*s is a %s there, left out: ",
				s->paths[file], (int)nlen, name, kind);
			skip = kind_conflict(m, name, nlen, kind, m->notes);
			fputs(skip ? "\n" : "", m->notes);
			if (!skip) { /* take the line back */
				fflush(m->notes);
				fseeko(m->notes, m->notes_at, SEEK_SET);
			}
			m->notes_at = ftello(m->notes);
			if (skip)
				continue;
		}
		if (skip)
			continue;
		/* samples of a histogram belong to the family without the suffix */
		f = NULL;
		if (!help && !type) {
			const char *const *sfx = hist_sfx;

			for (int k = 0; k < 3 && f == NULL; k++) {
				size_t sl = strlen(sfx[k]);

				if (nlen > sl && memcmp(name + nlen - sl, sfx[k], sl) == 0) {
					for (int j = 0; j < m->n; j++)
						if (strlen(m->f[j].name) == nlen - sl &&
						    memcmp(m->f[j].name, name, nlen - sl) == 0 &&
						    m->f[j].type && strcmp(m->f[j].type, "histogram") == 0)
							f = &m->f[j];
				}
			}
		}
		if (f == NULL)
			f = family(m, name, nlen);
		if (f == NULL)
			return -ENOMEM;
		if (help || type) {
			char **slot = help ? &f->help : &f->type;

			if (*slot == NULL && (*slot = strdup(name + nlen + (name[nlen] == ' '))) == NULL)
				return -ENOMEM;
			continue;
		}
		hf = open_memstream(&head, &hlen);
		if (hf == NULL)
			return -ENOMEM;
		ls = (char *)name + nlen;
		fprintf(hf, "%s%.*s", s->prefix, (int)nlen, name);
		if (*labels && *ls == '{')
			fprintf(hf, "{%s%s%s\n", labels, ls[1] == '}' ? "" : ",", ls + 1);
		else if (*labels)
			fprintf(hf, "{%s}%s\n", labels, ls);
		else
			fprintf(hf, "%s\n", ls);
		if (fclose(hf) != 0) {
			free(head);
			return -ENOMEM;
		}
		rc = append(f, head, strlen(head));
		free(head);
		if (rc)
			return rc;
	}
	return 0;
}

/* Each line of notes to f, after head. */
static void say_notes(FILE *f, const char *head, const char *notes)
{
	for (const char *nl; *notes; notes = nl + 1) {
		nl = strchr(notes, '\n');
		if (nl == NULL)
			break;
		fprintf(f, "%s%.*s\n", head, (int)(nl - notes), notes);
	}
}

/* The whole exposition of every file into *out (malloc'd). */
static int render(struct serve *s, char **out, size_t *outlen)
{
	struct merge m = { 0 };
	FILE *f = NULL;
	char *notes = NULL;
	size_t nlen = 0;
	int rc = 0;

	m.notes = open_memstream(&notes, &nlen);
	if (m.notes == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->nfiles && rc == 0; i++) {
		char *text = NULL, *labels = labels_of(s, i);
		size_t len = 0;
		FILE *t = open_memstream(&text, &len);

		if (t == NULL || labels == NULL) {
			if (t)
				fclose(t);
			free(text);
			free(labels);
			rc = -ENOMEM;
			break;
		}
		rc = mmds_counters_export(s->c[i], t, MMDS_COUNTERS_PROMETHEUS);
		if (fclose(t) != 0 && rc >= 0)
			rc = -ENOMEM;
		if (rc >= 0)
			rc = fold(&m, s, i, text, labels);
		else
			fprintf(stderr, "mmds counters serve: %s: %s\n", s->paths[i],
				mmds_strerror(rc));
		free(text);
		free(labels);
	}
	if (rc >= 0)
		fseeko(m.notes, m.notes_at, SEEK_SET);
	if (fclose(m.notes) != 0 && rc >= 0)
		rc = -ENOMEM;
	if (notes)
		notes[m.notes_at] = '\0';
	/* say on stderr what is left out when it changes, not every scrape */
	if (rc >= 0 && notes && strcmp(notes, s->said ? s->said : "") != 0) {
		say_notes(stderr, "mmds counters serve: ", notes);
		free(s->said);
		s->said = strdup(notes);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc >= 0) {
		f = open_memstream(out, outlen);
		if (f == NULL)
			rc = -ENOMEM;
		else if (notes) /* comments: a reader of /metrics sees them */
			say_notes(f, "# mmds counters serve: ", notes);
	}
	free(notes);
	for (int i = 0; i < m.n; i++) {
		struct family *fa = &m.f[i];

		if (f && fa->samples) {
			if (fa->help)
				fprintf(f, "# HELP %s%s %s\n", s->prefix, fa->name, fa->help);
			if (fa->type)
				fprintf(f, "# TYPE %s%s %s\n", s->prefix, fa->name, fa->type);
			fputs(fa->samples, f);
		}
		free(fa->name);
		free(fa->help);
		free(fa->type);
		free(fa->samples);
	}
	free(m.f);
	if (f && fclose(f) != 0)
		rc = -ENOMEM;
	return rc < 0 ? rc : 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned code,
			     const char *type, const char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	/* PERSISTENT bodies are never written to: the cast only meets the API */
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, mode);
	enum MHD_Result ret;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **ctx)
{
	static int first_call;
	struct serve *s = cls;
	char *body = NULL;
	size_t len = 0;
	int rc;

	(void)version;
	(void)upload;
	if (*ctx == NULL) {
		/* headers only so far: answer once the request is whole */
		*ctx = &first_call;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0; /* a body is ignored */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     "only GET and HEAD\n", 18, MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/") == 0)
		return reply(conn, MHD_HTTP_OK, "text/plain; charset=utf-8",
			     "mmds counters: see /metrics\n", 28,
			     MHD_RESPMEM_PERSISTENT);
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain",
			     "not found: try /metrics\n", 24, MHD_RESPMEM_PERSISTENT);
	rc = render(s, &body, &len);
	if (rc < 0) {
		static char msg[256];
		int n;

		free(body);
		n = snprintf(msg, sizeof(msg), "export failed: %s\n", mmds_strerror(rc));
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
			     msg, (size_t)n, MHD_RESPMEM_MUST_COPY);
	}
	return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
		     body, len, MHD_RESPMEM_MUST_FREE);
}

/* A listening socket for "HOST:PORT", "[V6]:PORT" or ":PORT" (every
 * address); prints the address. */
static int listen_on(const char *spec)
{
	char host[256], port[16], shown[300];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *ai, *a;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = -1, rc, one = 1;

	if (colon == NULL || colon[1] == '\0' ||
	    (size_t)(colon - spec) >= sizeof(host) || strlen(colon + 1) >= sizeof(port)) {
		tool_usage_error("counters", "--listen: '%s' is not HOST:PORT", spec);
		return -TOOL_USAGE;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	snprintf(port, sizeof(port), "%s", colon + 1);
	/* getaddrinfo takes "99999" modulo 65536 and service names: a port
	 * here is a decimal number 0..65535 */
	{
		char *end;
		unsigned long p;

		errno = 0;
		p = port[0] >= '0' && port[0] <= '9' ? strtoul(port, &end, 10) : 0;
		if (port[0] < '0' || port[0] > '9' || *end || errno || p > 65535) {
			tool_usage_error("counters", "--listen: port '%s' is not a number from 0 to 65535 (0: any free port)",
					 port);
			return -TOOL_USAGE;
		}
	}
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	/* ":PORT" is every address (AI_PASSIVE with no host), as exporters'
	 * --web.listen-address=:9100 */
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0) {
		tool_usage_error("counters", "--listen: '%s': %s", spec, gai_strerror(rc));
		return -TOOL_USAGE;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, 64) == 0)
			break;
		rc = errno;
		close(fd);
		fd = -1;
		errno = rc;
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		fprintf(stderr, "mmds counters serve: cannot listen on %s: %s\n", spec,
			strerror(errno));
		return -TOOL_FAIL;
	}
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
		snprintf(shown, sizeof(shown), ss.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
			 host, port);
		printf("listening on http://%s/metrics\n", shown);
		fflush(stdout);
	}
	return fd;
}

static int valid_label_name(const char *n, size_t len)
{
	if (len == 0 || (len >= 2 && n[0] == '_' && n[1] == '_'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = n[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (i > 0 && c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

static int valid_prefix(const char *p)
{
	for (size_t i = 0; p[i]; i++) {
		char c = p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      c == ':' || (i > 0 && c >= '0' && c <= '9')))
			return 0;
	}
	return 1;
}

int mmds_tool_counters_serve(int argc, char **argv)
{
	struct serve s = { .prefix = "", .file_label = "file", .timeout_s = 10,
			   .max_conn = 256 };
	const char *listen_spec = NULL;
	struct MHD_Daemon *d;
	sigset_t block, old;
	int fd, rc = TOOL_OK, no_file_label = 0, have_file_label = 0;
	int seen_listen = 0, seen_prefix = 0, seen_timeout = 0, seen_max = 0;

	pthread_mutex_init(&s.lock, NULL);
	for (int i = 1, dashes = 0; i < argc; i++) {
		const char *a = argv[i];
		int takes = strcmp(a, "--listen") == 0 || strcmp(a, "--prefix") == 0 ||
			    strcmp(a, "--label") == 0 || strcmp(a, "--file-label") == 0 ||
			    strcmp(a, "--timeout") == 0 ||
			    strcmp(a, "--max-connections") == 0;

		if (!dashes && strcmp(a, "--") == 0) {
			dashes = 1; /* after "--" every word is a path, even "-x" */
			continue;
		}
		if (dashes) {
			if (s.nfiles == MAX_FILES)
				return tool_usage_error("counters", "at most %d COUNTERS files",
							MAX_FILES);
			s.paths[s.nfiles++] = a;
			continue;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return usage(stdout);
		if (takes && i + 1 >= argc)
			return tool_usage_error("counters", "%s needs a value", a);
		if (strcmp(a, "--listen") == 0) {
			if (tool_once("counters", a, &seen_listen))
				return TOOL_USAGE;
			listen_spec = argv[++i];
		} else if (strcmp(a, "--prefix") == 0) {
			if (tool_once("counters", a, &seen_prefix))
				return TOOL_USAGE;
			s.prefix = argv[++i];
			if (!valid_prefix(s.prefix))
				return tool_usage_error("counters", "--prefix: '%s' is not a metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)",
							s.prefix);
		} else if (strcmp(a, "--label") == 0) {
			const char *l = argv[++i], *eq = strchr(l, '=');

			if (eq == NULL || !valid_label_name(l, (size_t)(eq - l)) ||
			    eq - l >= 128)
				return tool_usage_error("counters", "--label: '%s' is not NAME=VALUE with NAME in [a-zA-Z_][a-zA-Z0-9_]*",
							l);
			if (s.nlabels == MAX_LABELS)
				return tool_usage_error("counters", "--label: at most %d labels",
							MAX_LABELS);
			if (tool_utf8_prefix((const unsigned char *)eq + 1, strlen(eq + 1)) !=
			    strlen(eq + 1))
				return tool_usage_error("counters", "--label: the value of '%.*s' is not valid UTF-8 (Prometheus refuses it)",
							(int)(eq - l), l);
			snprintf(s.lname[s.nlabels], sizeof(s.lname[0]), "%.*s",
				 (int)(eq - l), l);
			s.lvalue[s.nlabels++] = eq + 1;
		} else if (strcmp(a, "--file-label") == 0) {
			if (tool_once("counters", a, &have_file_label))
				return TOOL_USAGE;
			s.file_label = argv[++i];
			if (!valid_label_name(s.file_label, strlen(s.file_label)))
				return tool_usage_error("counters", "--file-label: '%s' is not a label name",
							s.file_label);
		} else if (strcmp(a, "--no-file-label") == 0) {
			no_file_label = 1;
		} else if (strcmp(a, "--timeout") == 0) {
			uint64_t v;

			if (tool_once("counters", a, &seen_timeout) ||
			    tool_parse_u64("counters", "--timeout", argv[++i], 1, 3600, &v))
				return TOOL_USAGE;
			s.timeout_s = (unsigned)v;
		} else if (strcmp(a, "--max-connections") == 0) {
			uint64_t v;

			if (tool_once("counters", a, &seen_max) ||
			    tool_parse_u64("counters", "--max-connections", argv[++i], 1,
					   10000, &v))
				return TOOL_USAGE;
			s.max_conn = (unsigned)v;
		} else if (a[0] == '-' && a[1] != '\0') {
			return tool_usage_error("counters", "unknown option '%s' for 'mmds counters serve'",
						a);
		} else if (s.nfiles == MAX_FILES) {
			return tool_usage_error("counters", "at most %d COUNTERS files", MAX_FILES);
		} else {
			s.paths[s.nfiles++] = a;
		}
	}
	if (no_file_label && have_file_label)
		return tool_usage_error("counters", "--file-label and --no-file-label cannot be used together");
	if (no_file_label && s.nfiles > 1)
		return tool_usage_error("counters", "--no-file-label needs one COUNTERS file: the file label keeps the series of several files apart");
	if (no_file_label)
		s.file_label = NULL;
	for (int k = 0; k < s.nlabels; k++)
		if (s.file_label && strcmp(s.lname[k], s.file_label) == 0)
			return tool_usage_error("counters", "--label %s: the file label has that name (see --file-label)",
						s.lname[k]);
	if (listen_spec == NULL)
		return tool_usage_error("counters", "'mmds counters serve' needs --listen HOST:PORT");
	if (s.nfiles == 0)
		return tool_usage_error("counters", "'mmds counters serve' needs a COUNTERS file");
	for (int i = 0; i < s.nfiles; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(s.paths[i], s.paths[j]) == 0)
				return tool_usage_error("counters", "%s given twice: its series would be served twice with the same labels",
							s.paths[i]);
	for (int i = 0; i < s.nfiles; i++) {
		rc = tool_check_kind("counters", s.paths[i], TOOL_KIND_COUNTERS);
		if (rc == 0) {
			int err = mmds_counters_open(&s.c[i], s.paths[i], &(mmds_counters_opts){
								.flags = MMDS_COUNTERS_READONLY });
			if (err < 0)
				rc = tool_fail("counters", s.paths[i], err);
		}
		if (rc)
			goto out;
	}
	fd = listen_on(listen_spec);
	if (fd < 0) {
		rc = -fd;
		goto out;
	}
	/* the daemon's thread must not take SIGINT/SIGTERM from the main thread */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0,
			     NULL, NULL, on_request, &s,
			     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			     MHD_OPTION_CONNECTION_TIMEOUT, s.timeout_s,
			     MHD_OPTION_CONNECTION_LIMIT, s.max_conn,
			     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
			     MHD_OPTION_END);
	if (d == NULL) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		close(fd);
		fprintf(stderr, "mmds counters serve: cannot start the HTTP server\n");
		rc = TOOL_FAIL;
		goto out;
	}
	{
		sigset_t wait_mask = old;

		sigdelset(&wait_mask, SIGINT);
		sigdelset(&wait_mask, SIGTERM);
		while (!tool_stop)
			sigsuspend(&wait_mask);
	}
	MHD_stop_daemon(d);
	close(fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
	for (int i = 0; i < s.nfiles; i++)
		mmds_counters_close(s.c[i]);
	pthread_mutex_destroy(&s.lock);
	free(s.said);
	return rc;
}
