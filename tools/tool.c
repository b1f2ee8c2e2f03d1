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
	/* strtod also reads hex ("0x10" is 16), "inf" and "nan": not seconds */
	if (strpbrk(s, "xXpPiInN") != NULL)
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

size_t tool_utf8_prefix(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i], need, min;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return i;
		if (n - i <= need)
			return i;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return i;
}

int tool_once(const char *cmd, const char *opt, int *seen)
{
	if (*seen)
		return tool_usage_error(cmd, "%s given twice: give it once", opt);
	*seen = 1;
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

/* A directory holding at least one "<20 digits>.seg" segment with the log
 * magic.  *err is the error of a directory or segment that could not be
 * read (EACCES...), which then says more than "no segments". */
static enum tool_kind kind_of_dir(const char *path, int *err)
{
	enum tool_kind k = TOOL_KIND_DIR;
	DIR *d = opendir(path);
	struct dirent *e;

	*err = 0;
	if (d == NULL) {
		*err = -errno;
		return k;
	}
	while (k == TOOL_KIND_DIR && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		int fd;

		if (n != 24 || strcmp(e->d_name + 20, ".seg") != 0)
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
							 O_NONBLOCK);
		if (fd < 0) {
			if (*err == 0)
				*err = -errno;
			continue;
		}
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

/* After "PATH is KIND": which command reads a path of kind k. */
static void print_reader(enum tool_kind k, const char *path)
{
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
}

/* The kind of what stat says st is, reading the magic of a regular file;
 * *err as kind_of_dir() says for a directory, else 0. */
static enum tool_kind kind_of(const char *path, const struct stat *st, int *err)
{
	enum tool_kind k = TOOL_KIND_SPECIAL;

	*err = 0;
	if (S_ISDIR(st->st_mode)) {
		k = kind_of_dir(path, err);
		if (k != TOOL_KIND_DIR)
			*err = 0;
	} else if (S_ISREG(st->st_mode)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

		k = TOOL_KIND_FILE;
		if (fd >= 0) {
			k = kind_of_file(fd);
			close(fd);
		}
	}
	return k;
}

/* stat(path) said ENOTDIR: name the component before the last that is
 * not a directory, what it is, and which command reads it. */
static void explain_notdir(const char *cmd, const char *path)
{
	char prefix[PATH_MAX];
	struct stat st;
	int err;

	for (const char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		enum tool_kind k;

		if ((size_t)(p - path) >= sizeof(prefix))
			break;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(p - path), path);
		if (stat(prefix, &st) != 0 || S_ISDIR(st.st_mode))
			continue;
		k = kind_of(prefix, &st, &err);
		fprintf(stderr, "mmds %s: %s: %s is %s, not a directory", cmd, path,
			prefix, k == TOOL_KIND_FILE ? "a file" : kind_name(k));
		if (k == TOOL_KIND_FILE)
			fprintf(stderr, " (and not an mmds file)\n");
		else
			print_reader(k, prefix);
		return;
	}
	fprintf(stderr, "mmds %s: %s: a component of the path before the last is a file, not a directory\n",
		cmd, path);
}

int tool_check_kind(const char *cmd, const char *path, enum tool_kind want)
{
	enum tool_kind k;
	struct stat st;
	int err;

	if (stat(path, &st) != 0) {
		err = -errno;
		if (err == -ENOTDIR)
			explain_notdir(cmd, path);
		else
			fprintf(stderr, "mmds %s: %s: %s\n", cmd, path,
				strerror(-err));
		return tool_exit_code(err);
	}
	if (S_ISREG(st.st_mode)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

		if (fd < 0) {
			err = -errno;
			fprintf(stderr, "mmds %s: %s: %s\n", cmd, path,
				strerror(-err));
			return tool_exit_code(err);
		}
		close(fd);
	}
	k = kind_of(path, &st, &err);
	if (k == want)
		return 0;
	if (err) {
		/* unreadable: that is the reason, not "no log segments" */
		fprintf(stderr, "mmds %s: %s: %s\n", cmd, path, strerror(-err));
		return tool_exit_code(err);
	}
	fprintf(stderr, "mmds %s: %s is %s, not %s", cmd, path, kind_name(k),
		want == TOOL_KIND_LOG ? "a log directory"
		: want == TOOL_KIND_COUNTERS ? "a counters file" : "a ring file");
	print_reader(k, path);
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

/* Where --output writes: path itself, or the file a symbolic link at path
 * points to (followed up to 16 times), so that the link survives the
 * rename.  -ELOOP for more, -ENAMETOOLONG for a path too long. */
static int resolve_link(const char *path, char *out, size_t cap)
{
	char target[PATH_MAX];

	if ((size_t)snprintf(out, cap, "%s", path) >= cap)
		return -ENAMETOOLONG;
	for (int hops = 0; hops < 16; hops++) {
		struct stat st;
		const char *slash;
		ssize_t n;

		if (lstat(out, &st) != 0 || !S_ISLNK(st.st_mode))
			return 0; /* not a link (or missing): write here */
		n = readlink(out, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		slash = strrchr(out, '/');
		if (target[0] == '/' || slash == NULL) {
			if ((size_t)snprintf(out, cap, "%s", target) >= cap)
				return -ENAMETOOLONG;
		} else {
			char dir[PATH_MAX];

			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - out), out);
			if ((size_t)snprintf(out, cap, "%s/%s", dir, target) >= cap)
				return -ENAMETOOLONG;
		}
	}
	return -ELOOP;
}

/* Write all of buf to fd: 0 or a negative errno (EFBIG, ENOSPC, EIO...). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR && !tool_stop)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int tool_write_atomic(const char *cmd, const char *given,
		      int (*fill)(FILE *out, void *arg), void *arg)
{
	char path[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX + 16];
	const char *slash;
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	mode_t um;
	FILE *f;
	int fd, dfd, rc;

	rc = resolve_link(given, path, sizeof(path));
	if (rc < 0) {
		fprintf(stderr, "mmds %s: %s: %s\n", cmd, given, strerror(-rc));
		return rc;
	}
	/* rename() would replace a FIFO or a device node (/dev/stdout) by a
	 * regular file, and fails late on a directory */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		int dir_ = S_ISDIR(st.st_mode);

		fprintf(stderr, "mmds %s: %s %s, not a regular file: --output replaces a regular file\n",
			cmd, given, dir_ ? "is a directory" : "is a FIFO, socket or device");
		return dir_ ? -EISDIR : -ENOTSUP;
	}
	slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
		fprintf(stderr, "mmds %s: %s: path too long\n", cmd, given);
		return -ENAMETOOLONG;
	}
	/* the export goes to memory first: a failure of the export and one of
	 * the write are told apart, and the write's errno is the real reason */
	f = open_memstream(&buf, &len);
	if (f == NULL) {
		rc = -errno;
		fprintf(stderr, "mmds %s: %s: %s\n", cmd, given, strerror(-rc));
		return rc;
	}
	rc = fill(f, arg);
	if (fclose(f) != 0 && rc >= 0)
		rc = -ENOMEM;
	if (rc < 0) {
		free(buf);
		fprintf(stderr, "mmds %s: %s: export failed, the file is left as it was: %s\n",
			cmd, given, mmds_strerror(rc));
		return rc;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		free(buf);
		fprintf(stderr, "mmds %s: %s: cannot create a temporary file beside it: %s\n",
			cmd, given, strerror(-rc));
		return rc;
	}
	um = umask(0);
	umask(um);
	rc = fchmod(fd, 0666 & ~um) != 0 ? -errno : 0;
	if (rc == 0)
		rc = write_all(fd, buf, len);
	free(buf);
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = -errno;
	if (rc < 0) {
		fprintf(stderr, "mmds %s: %s: writing failed, the file is left as it was: %s\n",
			cmd, given, strerror(-rc));
		unlink(tmp);
		return rc;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		rc = -errno;
		if (dfd >= 0)
			close(dfd);
		fprintf(stderr, "mmds %s: %s: written, but syncing its directory failed: %s\n",
			cmd, given, strerror(-rc));
		return rc;
	}
	close(dfd);
	return 0;
}
