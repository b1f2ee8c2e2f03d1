/* tool.c - what every subcommand of the mmds tool shares: exit codes,
 * option values that say why they are wrong, the kind of a path, signals,
 * a reader that went away, and atomic output files. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mmds.h>

#include "tool.h"

volatile sig_atomic_t tool_stop;

static void on_signal(int sig)
{
	tool_stop = sig;
}

void tool_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int tool_exit_code(int err)
{
	switch (err) {
	case 0:
		return TOOL_OK;
	case -ENOENT:
	case -ENOTDIR:
	case -EISDIR:
	case -ENOTSUP:
		return TOOL_NOTFOUND;
	case -EBADMSG:
		return TOOL_CORRUPT;
	case -EIO:
	case -EFAULT:
	case -ENOSPC:
	case -EFBIG:
	case -EDQUOT:
	case -EPIPE:
	case -EROFS:
		return TOOL_IO;
	default:
		return TOOL_FAIL;
	}
}

int tool_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mmds %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'mmds %s --help'.\n", cmd);
	return TOOL_USAGE;
}

int tool_fail(const char *cmd, const char *path, int err)
{
	fprintf(stderr, "mmds %s: %s: %s\n", cmd, path, mmds_strerror(err));
	return tool_exit_code(err);
}

int tool_parse_u64(const char *cmd, const char *opt, const char *s,
		   uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s == '-' && s[1] >= '0' && s[1] <= '9')
		return tool_usage_error(cmd, "%s: '%s' is negative (a number from %llu to %llu is needed)",
					opt, s, (unsigned long long)min,
					(unsigned long long)max);
	if (*s < '0' || *s > '9')
		return tool_usage_error(cmd, "%s: '%s' is not a number", opt, s);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end)
		return tool_usage_error(cmd, "%s: '%s' is not a number (trailing '%s')",
					opt, s, end);
	if (errno == ERANGE || v > max)
		return tool_usage_error(cmd, "%s: '%s' is too large (at most %llu)",
					opt, s, (unsigned long long)max);
	if (v < min)
		return tool_usage_error(cmd, "%s: '%s' is too small (at least %llu)",
					opt, s, (unsigned long long)min);
	*out = v;
	return 0;
}

int tool_parse_seconds(const char *cmd, const char *opt, const char *s,
		       double max, double *out)
{
	char *end;
	double v;

	if (!((*s >= '0' && *s <= '9') || *s == '.' || *s == '-'))
		return tool_usage_error(cmd, "%s: '%s' is not a number of seconds",
					opt, s);
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end)
		return tool_usage_error(cmd, "%s: '%s' is not a number of seconds%s%s%s",
					opt, s, end != s ? " (trailing '" : "",
					end != s ? end : "", end != s ? "')" : "");
	if (!isfinite(v) || !(v > 0) || v > max)
		return tool_usage_error(cmd, "%s: '%s' is out of range: more than 0 and at most %g seconds",
					opt, s, max);
	*out = v;
	return 0;
}

/* The magic at the start of the file at fd, as a kind. */
static enum tool_kind kind_of_file(int fd)
{
	char m[8];

	if (pread(fd, m, sizeof(m), 0) != (ssize_t)sizeof(m))
		return TOOL_KIND_FILE;
	if (memcmp(m, "MMDSLOG1", 8) == 0)
		return TOOL_KIND_SEGMENT;
	if (memcmp(m, "MMDSCNT1", 8) == 0)
		return TOOL_KIND_COUNTERS;
	if (memcmp(m, "MMDSRNG1", 8) == 0)
		return TOOL_KIND_RING;
	return TOOL_KIND_FILE;
}

/* A directory holding at least one "<20 digits>.seg" segment with the log magic. */
static enum tool_kind kind_of_dir(const char *path)
{
	enum tool_kind k = TOOL_KIND_DIR;
	DIR *d = opendir(path);
	struct dirent *e;

	if (d == NULL)
		return k;
	while (k == TOOL_KIND_DIR && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		int fd;

		if (n != 24 || strcmp(e->d_name + 20, ".seg") != 0)
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
							 O_NONBLOCK);
		if (fd < 0)
			continue;
		if (kind_of_file(fd) == TOOL_KIND_SEGMENT)
			k = TOOL_KIND_LOG;
		close(fd);
	}
	closedir(d);
	return k;
}

static const char *kind_name(enum tool_kind k)
{
	switch (k) {
	case TOOL_KIND_LOG:
		return "a log directory";
	case TOOL_KIND_COUNTERS:
		return "a counters file";
	case TOOL_KIND_RING:
		return "a ring file";
	case TOOL_KIND_SEGMENT:
		return "a segment file of a log";
	case TOOL_KIND_DIR:
		return "a directory without log segments";
	case TOOL_KIND_FILE:
		return "a file without an mmds magic (not an mmds file)";
	default:
		return "not a regular file or directory";
	}
}

int tool_check_kind(const char *cmd, const char *path, enum tool_kind want)
{
	enum tool_kind k;
	struct stat st;

	if (stat(path, &st) != 0) {
		int err = -errno;

		if (err == -ENOTDIR)
			fprintf(stderr, "mmds %s: %s: a component of the path before the last is a file, not a directory\n",
				cmd, path);
		else
			fprintf(stderr, "mmds %s: %s: %s\n", cmd, path,
				strerror(-err));
		return tool_exit_code(err);
	}
	if (S_ISDIR(st.st_mode)) {
		k = kind_of_dir(path);
	} else if (S_ISREG(st.st_mode)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

		if (fd < 0) {
			int err = -errno;

			fprintf(stderr, "mmds %s: %s: %s\n", cmd, path,
				strerror(-err));
			return tool_exit_code(err);
		}
		k = kind_of_file(fd);
		close(fd);
	} else {
		k = TOOL_KIND_SPECIAL;
	}
	if (k == want)
		return 0;
	fprintf(stderr, "mmds %s: %s is %s, not %s", cmd, path, kind_name(k),
		want == TOOL_KIND_LOG ? "a log directory"
		: want == TOOL_KIND_COUNTERS ? "a counters file" : "a ring file");
	switch (k) {
	case TOOL_KIND_LOG:
		fprintf(stderr, "; read it with 'mmds log info %s'\n", path);
		break;
	case TOOL_KIND_COUNTERS:
		fprintf(stderr, "; read it with 'mmds counters %s'\n", path);
		break;
	case TOOL_KIND_RING:
		fprintf(stderr, "; read it with 'mmds ring info %s'\n", path);
		break;
	case TOOL_KIND_SEGMENT: {
		const char *slash = strrchr(path, '/');

		fprintf(stderr, "; 'mmds log' reads the whole log: 'mmds log info %.*s'\n",
			slash ? (int)(slash - path) + (slash == path) : 1,
			slash ? path : ".");
		break;
	}
	default:
		fputc('\n', stderr);
	}
	return TOOL_NOTFOUND;
}

int tool_output_alive(void)
{
	struct pollfd p = { .fd = STDOUT_FILENO, .events = 0 };

	if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)))
		return -EPIPE;
	return 0;
}

int tool_reader_gone(void)
{
	signal(SIGPIPE, SIG_DFL);
	raise(SIGPIPE);
	return TOOL_IO;
}

int tool_write_atomic(const char *cmd, const char *path,
		      int (*fill)(FILE *out, void *arg), void *arg)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX], tmp[PATH_MAX];
	mode_t um;
	FILE *f = NULL;
	int fd, dfd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
		fprintf(stderr, "mmds %s: %s: path too long\n", cmd, path);
		return -ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		fprintf(stderr, "mmds %s: %s: cannot create a temporary file beside it: %s\n",
			cmd, path, strerror(-rc));
		return rc;
	}
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) != 0 || (f = fdopen(fd, "w")) == NULL) {
		rc = -errno;
		close(fd);
		goto fail;
	}
	rc = fill(f, arg);
	if (rc < 0)
		goto fail_quiet_close;
	errno = 0;
	if (fflush(f) == EOF || ferror(f)) {
		rc = errno ? -errno : -EIO;
		goto fail_close;
	}
	if (fsync(fileno(f)) != 0) {
		rc = -errno;
		goto fail_close;
	}
	if (fclose(f) == EOF) {
		f = NULL;
		rc = -errno;
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path) != 0) {
		rc = -errno;
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		rc = -errno;
		if (dfd >= 0)
			close(dfd);
		fprintf(stderr, "mmds %s: %s: written, but syncing its directory failed: %s\n",
			cmd, path, strerror(-rc));
		return rc;
	}
	close(dfd);
	return 0;
fail_close:
	fclose(f);
fail:
	fprintf(stderr, "mmds %s: %s: writing failed, the file is left as it was: %s\n",
		cmd, path, strerror(-rc));
	unlink(tmp);
	return rc;
fail_quiet_close:
	fclose(f);
	fprintf(stderr, "mmds %s: %s: export failed, the file is left as it was: %s\n",
		cmd, path, mmds_strerror(rc));
	unlink(tmp);
	return rc;
}
