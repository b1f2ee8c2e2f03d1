/* fuzz_util.c - the harness pieces every fuzz target shares (fuzz.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static char scratch[PATH_MAX];
FILE *fz_devnull;
static int fd_mark = -1;

uint64_t fz_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint32_t fz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int tracing = -1;

void fz_trace(const char *fmt, ...)
{
	va_list ap;

	if (tracing < 0)
		tracing = getenv("MMDS_FUZZ_TRACE") != NULL;
	if (!tracing)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==fuzz== FINDING at %s:%d: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

/* Remove everything under path (not path itself); depth-limited. */
static void remove_tree(const char *path, int depth)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char sub[PATH_MAX];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (unlink(sub) == 0)
			continue;
		if ((errno == EISDIR || errno == EPERM) && depth < 4) {
			remove_tree(sub, depth + 1);
			rmdir(sub);
		}
	}
	closedir(d);
}

void fz_clear_dir(const char *path)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		fz_fail(__FILE__, __LINE__, "mkdir", "%s: %s", path, strerror(errno));
	remove_tree(path, 0);
}

uint8_t *fz_image(const uint8_t *data, size_t size,
		  uint64_t (*declared)(const uint8_t *f, size_t len), size_t *n)
{
	size_t len = size ? size - 1 : 0;
	uint64_t want;
	uint8_t *img;

	*n = len;
	if (size == 0)
		return NULL;
	want = declared(data + 1, len);
	if ((data[0] & FZ_MODE_EXTEND) && want > len && want <= FZ_EXTEND_MAX)
		*n = (size_t)want;
	img = calloc(1, *n ? *n : 1);
	if (img == NULL)
		abort();
	if (len)
		memcpy(img, data + 1, len);
	return img;
}

int fz_write_file(const char *dir, const char *name, const void *p, size_t len)
{
	char path[PATH_MAX];
	const char *b = p;
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t n = write(fd, b, len);

		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			break;
		}
		b += n;
		len -= (size_t)n;
	}
	close(fd);
	return rc;
}

const char *fz_dir(void)
{
	return scratch;
}

static void cleanup(void)
{
	if (scratch[0]) {
		remove_tree(scratch, 0);
		rmdir(scratch);
	}
}

/* Scratch directories of fuzzing processes that died (a crash ends the
 * process before atexit runs) are removed by the next one. */
static void remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	char sub[PATH_MAX];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		long pid;

		if (sscanf(e->d_name, "mmds-fuzz-%ld-", &pid) != 1 || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", parent, e->d_name);
		remove_tree(sub, 0);
		rmdir(sub);
	}
	closedir(d);
}

void fz_init(void)
{
	const char *parent = getenv("MMDS_FUZZ_TMPDIR");
	struct rlimit rl = { FZ_FSIZE_LIMIT, FZ_FSIZE_LIMIT };

	if (scratch[0])
		return;
	if (parent == NULL || parent[0] == 0)
		parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	if (parent == NULL || parent[0] == 0)
		parent = "/tmp";
	remove_stale(parent);
	snprintf(scratch, sizeof(scratch), "%s/mmds-fuzz-%ld-XXXXXX", parent,
		 (long)getpid());
	if (mkdtemp(scratch) == NULL)
		fz_fail(__FILE__, __LINE__, "mkdtemp", "%s: %s", scratch,
			strerror(errno));
	atexit(cleanup);
	/* a hostile size must fail with -EFBIG, not fill the disk */
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
		perror("setrlimit(RLIMIT_FSIZE)");
	fz_devnull = fopen("/dev/null", "w");
	if (fz_devnull == NULL)
		fz_fail(__FILE__, __LINE__, "fopen", "/dev/null: %s", strerror(errno));
}

static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

void fz_begin(void)
{
	fd_mark = lowest_free_fd();
}

void fz_check_fds(void)
{
	char link[64], target[PATH_MAX] = "?";
	ssize_t n;

	if (fd_mark < 0)
		return;
	/* libFuzzer's own threads open files for a moment (its RSS monitor):
	 * only a descriptor that stays open is a leak */
	for (int i = 0; i < 200; i++) {
		if (lowest_free_fd() == fd_mark)
			return;
		usleep(1000);
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd_mark);
	n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 1] = 0;
	fz_fail(__FILE__, __LINE__, "no descriptor leaked",
		"descriptor %d (%s) left open by the library", fd_mark, target);
}
