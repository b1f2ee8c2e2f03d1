/* log_cursor.c - named durable cursors of a log (mmds/log.h, "Named durable
 * cursors"), built on the log's public API only.
 *
 * One file per cursor, DIR/cursors/NAME, 2048 bytes in four 512-byte
 * sectors (docs/FORMAT.md, "Log cursors"): an immutable checksummed header,
 * the owner word (owner.h), and two position slots written in turn
 * (LMDB-style double buffering).  A commit overwrites the older slot with
 * sequence number + 1, position and an xxh3 checksum seeded with the
 * header's checksum, then fdatasyncs; a reader takes the valid slot with
 * the higher sequence, so a torn or unsynced write leaves the previous
 * commit readable.  The log's own scans look at "<20 digits>.seg" and
 * ".tmp-*" names in DIR only, never inside DIR/cursors.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <mmds/log.h>
#include <mmds/map.h>

#include "crash.h"
#include "owner.h"

#define CUR_MAGIC "MMDSLCUR"
#define CUR_VERSION 1u
#define CUR_BOM 0x01020304u
#define CUR_SIZE 2048
#define CUR_OWNER_OFF 512
#define CUR_SLOT_OFF(i) (1024 + 512 * (i))
#define CUR_SEQ_MAX ((uint64_t)1 << 62) /* valid sequences lie below */
#define CUR_DIR "cursors"
#define SLOT_RESET 1u /* slot flag: written by a reset or clamp */

/* Sector 0 (bytes 0..111). */
struct cur_header {
	char magic[8];       /* "MMDSLCUR" */
	uint32_t version;    /* CUR_VERSION */
	uint32_t bom;        /* CUR_BOM in the writer's byte order */
	uint64_t log_id;     /* mmds_log_info.log_id of the log */
	uint64_t created_ns; /* CLOCK_REALTIME */
	uint32_t name_len;
	uint32_t reserved;   /* 0 */
	char name[64];       /* NUL padded */
	uint64_t checksum;   /* xxh3-64 of the 104 bytes above */
};
_Static_assert(sizeof(struct cur_header) == 112, "cursor header layout");

/* Sectors 2 and 3 (slot i at 1024 + 512 i, bytes 0..39). */
struct cur_slot {
	uint64_t seq;        /* >= 1; sequence n lives in slot n & 1 */
	uint64_t position;
	uint64_t commit_ns;  /* CLOCK_REALTIME */
	uint32_t flags;      /* SLOT_RESET */
	uint32_t reserved;   /* 0 */
	uint64_t checksum;   /* xxh3-64 of the 32 bytes above, seed = header checksum */
};
_Static_assert(sizeof(struct cur_slot) == 40, "cursor slot layout");

struct mmds_log_cursor {
	pthread_mutex_t mu;       /* serialises commits */
	mmds_log *log;            /* read-only handle, for iterators */
	int cdirfd;               /* DIR/cursors */
	int fd;                   /* the cursor file */
	mmds_map *map;            /* the file, for the owner word (guarded) */
	uint64_t me;              /* mmds__owner_self() at open */
	uint64_t hsum;            /* header checksum: the slots' seed */
	uint64_t seq;             /* sequence of the committed slot */
	_Atomic uint64_t pos;     /* committed position (relaxed: one word) */
	unsigned flags;
	char name[MMDS_LOG_CURSOR_NAME_MAX + 1];
};

static int name_ok(const char *name)
{
	size_t n;

	if (name == NULL || name[0] == '\0' || name[0] == '.' || name[0] == '-')
		return 0;
	for (n = 0; name[n]; n++) {
		char ch = name[n];

		if (n >= MMDS_LOG_CURSOR_NAME_MAX)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		      ch == '-'))
			return 0;
	}
	return 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t header_sum(const struct cur_header *h)
{
	return XXH3_64bits(h, offsetof(struct cur_header, checksum));
}

/* The owner word in a mapped cursor file (its size was checked). */
static _Atomic uint64_t *owner_word(mmds_map *m)
{
	return (_Atomic uint64_t *)(void *)((char *)mmds_map_data(m) + CUR_OWNER_OFF);
}

static uint64_t slot_sum(const struct cur_slot *s, uint64_t seed)
{
	return XXH3_64bits_withSeed(s, offsetof(struct cur_slot, checksum), seed);
}

/* Validate a whole cursor file image against its name and log id; fills
 * *hsum and the winning slot.  0, -EBADMSG or -ENOTSUP. */
static int parse_file(const unsigned char *img, const char *name,
		      uint64_t log_id, uint64_t *hsum, struct cur_slot *best)
{
	struct cur_header h;
	struct cur_slot s[2];
	int ok[2];

	memcpy(&h, img, sizeof(h));
	if (memcmp(h.magic, CUR_MAGIC, 8) != 0)
		return -EBADMSG;
	if (h.bom != CUR_BOM)
		return h.bom == __builtin_bswap32(CUR_BOM) ? -ENOTSUP : -EBADMSG;
	if (h.checksum != header_sum(&h))
		return -EBADMSG;
	if (h.version != CUR_VERSION)
		return h.version > CUR_VERSION ? -ENOTSUP : -EBADMSG;
	if (h.name_len != strlen(name) || h.name_len > sizeof(h.name) ||
	    memcmp(h.name, name, h.name_len) != 0 || h.log_id != log_id)
		return -EBADMSG;
	for (int i = 0; i < 2; i++) {
		memcpy(&s[i], img + CUR_SLOT_OFF(i), sizeof(s[i]));
		/* no writer reaches 2^62 commits: a higher sequence is forged,
		 * and the next commit's seq + 1 could wrap to an invalid 0 */
		ok[i] = s[i].seq != 0 && s[i].seq < CUR_SEQ_MAX &&
			(s[i].seq & 1) == (uint64_t)i &&
			s[i].checksum == slot_sum(&s[i], h.checksum);
	}
	if (!ok[0] && !ok[1])
		return -EBADMSG;
	*hsum = h.checksum;
	*best = !ok[1] || (ok[0] && s[0].seq > s[1].seq) ? s[0] : s[1];
	return 0;
}

/* Read the whole file behind fd (exactly CUR_SIZE bytes, regular). */
static int read_image(int fd, unsigned char *img)
{
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size != CUR_SIZE)
		return -EBADMSG;
	n = pread(fd, img, CUR_SIZE, 0);
	if (n < 0)
		return -errno;
	return n == CUR_SIZE ? 0 : -EBADMSG;
}

static int open_log(const char *dir, mmds_log **log, uint64_t *log_id)
{
	mmds_log_info in;
	int rc = mmds_log_open(log, dir, &(mmds_log_opts){ .flags = MMDS_LOG_RDONLY });

	if (rc)
		return rc;
	rc = mmds_log_get_info(*log, &in);
	if (rc) {
		mmds_log_close(*log);
		*log = NULL;
		return rc;
	}
	*log_id = in.log_id;
	return 0;
}

/* Open DIR/cursors (creating it if create, with a mode derived from the
 * log's: directories get x where files get r). */
static int open_cursor_dir(const char *dir, int create, unsigned *fmode)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), cfd, rc;
	struct stat st;
	unsigned mode = 0600;

	if (dfd < 0)
		return -errno;
	if (fstatat(dfd, "lock", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		mode = st.st_mode & 0666;
	if (fmode && *fmode == 0)
		*fmode = mode;
	cfd = openat(dfd, CUR_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cfd < 0 && errno == ENOENT && create) {
		unsigned dmode = (mode & 0777) | ((mode & 0444) >> 2) | 0700;

		if (mkdirat(dfd, CUR_DIR, dmode) != 0 && errno != EEXIST) {
			rc = -errno;
			close(dfd);
			return rc;
		}
		if (fsync(dfd) != 0) {
			rc = -errno;
			close(dfd);
			return rc;
		}
		cfd = openat(dfd, CUR_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	rc = cfd;
	if (cfd < 0) {
		rc = -errno;
		/* O_NOFOLLOW|O_DIRECTORY on a link may say ENOTDIR */
		if (rc == -ENOTDIR || rc == -ELOOP)
			rc = fstatat(dfd, CUR_DIR, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					     S_ISLNK(st.st_mode) ? -ELOOP : -EBADMSG;
	}
	close(dfd);
	return rc;
}

static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Create DIR/cursors/name at position pos: a complete, synced temporary
 * file linked under its name, so others see all of it or nothing.
 * 0, -EEXIST (someone else created it first: use theirs), or an error. */
static int create_file(int cdirfd, const char *name, uint64_t log_id,
		       uint64_t pos, unsigned mode)
{
	unsigned char img[CUR_SIZE];
	struct cur_header h;
	struct cur_slot s;
	char tmp[MMDS_LOG_CURSOR_NAME_MAX + 32];
	int fd, rc;

	memset(img, 0, sizeof(img));
	memset(&h, 0, sizeof(h));
	memcpy(h.magic, CUR_MAGIC, 8);
	h.version = CUR_VERSION;
	h.bom = CUR_BOM;
	h.log_id = log_id;
	h.created_ns = now_ns();
	h.name_len = (uint32_t)strlen(name);
	memcpy(h.name, name, h.name_len);
	h.checksum = header_sum(&h);
	memcpy(img, &h, sizeof(h));
	memset(&s, 0, sizeof(s));
	s.seq = 1;
	s.position = pos;
	s.commit_ns = h.created_ns;
	s.checksum = slot_sum(&s, h.checksum);
	memcpy(img + CUR_SLOT_OFF(1), &s, sizeof(s));

	snprintf(tmp, sizeof(tmp), ".tmp-%016llx-%s",
		 (unsigned long long)mmds__owner_self(), name);
	unlinkat(cdirfd, tmp, 0);
	fd = openat(cdirfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    mode);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, img, sizeof(img), 0);
	if (rc == 0 && fdatasync(fd) != 0)
		rc = -errno;
	close(fd);
	if (rc == 0) {
		MMDS_CRASH("log.cursor.create.tmp");
		rc = linkat(cdirfd, tmp, cdirfd, name, 0) == 0 ? 0 : -errno;
		if (rc == 0)
			MMDS_CRASH("log.cursor.create.linked");
	}
	unlinkat(cdirfd, tmp, 0);
	if (rc == 0 && fsync(cdirfd) != 0)
		rc = -errno;
	return rc;
}

/* Drop temporary files that dead creators left in DIR/cursors. */
static void remove_stale_tmp(int cdirfd)
{
	int fd = openat(cdirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		unsigned long long w;

		if (strncmp(e->d_name, ".tmp-", 5) != 0 ||
		    sscanf(e->d_name + 5, "%16llx-", &w) != 1)
			continue;
		if (!mmds__owner_alive((uint64_t)w))
			unlinkat(cdirfd, e->d_name, 0);
	}
	closedir(d);
}

/* Open name in cdirfd for reading and writing, never through a link. */
static int open_file(int cdirfd, const char *name, int flags)
{
	int fd = openat(cdirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd >= 0)
		return fd;
	return errno == EISDIR ? -EBADMSG : -errno;
}

/* Whether fd is still the file called name (not removed and replaced). */
static int still_named(int cdirfd, const char *name, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 &&
	       fstatat(cdirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

MMDS_API int mmds_log_cursor_open(mmds_log_cursor **out, const char *dir,
				  const char *name,
				  const mmds_log_cursor_opts *opts)
{
	mmds_log_cursor_opts o = opts ? *opts : (mmds_log_cursor_opts){ 0 };
	unsigned char img[CUR_SIZE];
	struct cur_slot best;
	mmds_log_cursor *c;
	uint64_t log_id;
	int rc, tries = 0;

	if (out)
		*out = NULL;
	if (out == NULL || dir == NULL || !name_ok(name) ||
	    (o.flags & ~(unsigned)(MMDS_LOG_CURSOR_CREATE | MMDS_LOG_CURSOR_CLAMP)))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->cdirfd = c->fd = -1;
	c->map = NULL;
	c->flags = o.flags;
	strcpy(c->name, name);
	pthread_mutex_init(&c->mu, NULL);
	rc = open_log(dir, &c->log, &log_id);
	if (rc)
		goto fail;
	rc = open_cursor_dir(dir, (o.flags & MMDS_LOG_CURSOR_CREATE) != 0, &o.mode);
	if (rc < 0)
		goto fail;
	c->cdirfd = rc;
	if (o.flags & MMDS_LOG_CURSOR_CREATE)
		remove_stale_tmp(c->cdirfd);
again:
	rc = open_file(c->cdirfd, name, O_RDWR);
	if (rc == -ENOENT && (o.flags & MMDS_LOG_CURSOR_CREATE) && tries++ < 8) {
		uint64_t pos = o.start;

		if (pos == MMDS_LOG_START)
			pos = mmds_log_first_lsn(c->log);
		else if (pos == MMDS_LOG_END)
			pos = mmds_log_tail_lsn(c->log);
		rc = create_file(c->cdirfd, name, log_id, pos, o.mode);
		if (rc == 0 || rc == -EEXIST)
			goto again;
	}
	/* created each time, removed each time before we could open it: a
	 * remover keeps racing us, as when the file is removed after open */
	if (rc == -ENOENT && (o.flags & MMDS_LOG_CURSOR_CREATE))
		rc = -EBUSY;
	if (rc < 0)
		goto fail;
	c->fd = rc;
	rc = read_image(c->fd, img);
	if (rc)
		goto fail;
	rc = mmds_map_open_fd(&c->map, c->fd, &(mmds_map_opts){ .access = MMDS_RDWR });
	if (rc < 0)
		goto fail;
	rc = mmds__owner_take_guarded(owner_word(c->map), NULL);
	if (rc < 0) {
		mmds_map_close(c->map);
		c->map = NULL;
		goto fail;
	}
	c->me = mmds__owner_self();
	MMDS_CRASH("log.cursor.open.taken");
	if (!still_named(c->cdirfd, name, c->fd)) {
		/* removed (or replaced) between our open and our take */
		mmds__owner_release_guarded(owner_word(c->map));
		c->me = 0;
		mmds_map_close(c->map);
		c->map = NULL;
		close(c->fd);
		c->fd = -1;
		if (tries++ < 8)
			goto again;
		rc = -EBUSY; /* removed and recreated under us, again and again */
		goto fail;
	}
	/* A dead holder's last write may sit unsynced in the page cache:
	 * make what we are about to serve durable first. */
	if (fdatasync(c->fd) != 0) {
		rc = -errno;
		goto fail; /* close gives the cursor back */
	}
	rc = read_image(c->fd, img);
	if (rc == 0)
		rc = parse_file(img, name, log_id, &c->hsum, &best);
	if (rc)
		goto fail;
	c->seq = best.seq;
	atomic_store_explicit(&c->pos, best.position, memory_order_relaxed);
	*out = c;
	return 0;
fail:
	mmds_log_cursor_close(c);
	return rc;
}

MMDS_API void mmds_log_cursor_close(mmds_log_cursor *c)
{
	if (c == NULL)
		return;
	if (c->map) {
		if (c->me)
			mmds__owner_release_guarded(owner_word(c->map));
		mmds_map_close(c->map);
	}
	if (c->fd >= 0)
		close(c->fd);
	if (c->cdirfd >= 0)
		close(c->cdirfd);
	mmds_log_close(c->log);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

MMDS_API uint64_t mmds_log_cursor_position(const mmds_log_cursor *c)
{
	return c ? atomic_load_explicit(&((mmds_log_cursor *)c)->pos,
					memory_order_relaxed) : 0;
}

static int store(mmds_log_cursor *c, uint64_t lsn, int reset)
{
	struct cur_slot s;
	uint64_t w;
	int i, rc;

	if (c == NULL)
		return -EINVAL;
	pthread_mutex_lock(&c->mu);
	/* read, not loaded from the map: a truncated file is an error here */
	if (pread(c->fd, &w, sizeof(w), CUR_OWNER_OFF) != (ssize_t)sizeof(w)) {
		rc = -EBADMSG;
		goto out;
	}
	if (w != c->me || mmds__owner_self() != c->me) {
		rc = -EPERM;
		goto out;
	}
	rc = 0;
	if (lsn == atomic_load_explicit(&c->pos, memory_order_relaxed) && !reset)
		goto out;
	if (lsn < atomic_load_explicit(&c->pos, memory_order_relaxed) && !reset) {
		rc = -ERANGE;
		goto out;
	}
	memset(&s, 0, sizeof(s));
	s.seq = c->seq + 1;
	s.position = lsn;
	s.commit_ns = now_ns();
	s.flags = reset ? SLOT_RESET : 0;
	s.checksum = slot_sum(&s, c->hsum);
	i = (int)(s.seq & 1);
	/* The body first, the checksum last: a crash between them leaves a
	 * torn slot, which readers skip for the other one. */
	MMDS_CRASH("log.cursor.commit.write");
	rc = write_all(c->fd, &s, offsetof(struct cur_slot, checksum),
		       CUR_SLOT_OFF(i));
	if (rc)
		goto out;
	MMDS_CRASH("log.cursor.commit.torn");
	rc = write_all(c->fd, &s.checksum, sizeof(s.checksum),
		       CUR_SLOT_OFF(i) + (off_t)offsetof(struct cur_slot, checksum));
	if (rc)
		goto out;
	MMDS_CRASH("log.cursor.commit.written");
	if (fdatasync(c->fd) != 0) {
		rc = -errno;
		goto out;
	}
	MMDS_CRASH("log.cursor.commit.synced");
	c->seq = s.seq;
	atomic_store_explicit(&c->pos, lsn, memory_order_relaxed);
out:
	pthread_mutex_unlock(&c->mu);
	return rc;
}

MMDS_API int mmds_log_cursor_commit(mmds_log_cursor *c, uint64_t lsn)
{
	return store(c, lsn, 0);
}

MMDS_API int mmds_log_cursor_reset(mmds_log_cursor *c, uint64_t lsn)
{
	return store(c, lsn, 1);
}

MMDS_API int mmds_log_cursor_iter(mmds_log_cursor *c, mmds_log_iter **it)
{
	uint64_t pos, first, tail, to;
	int rc, clamped = 0;

	if (it)
		*it = NULL;
	if (c == NULL || it == NULL)
		return -EINVAL;
	pos = mmds_log_cursor_position(c);
	first = mmds_log_first_lsn(c->log);
	tail = mmds_log_tail_lsn(c->log);
	if (pos < first || pos > tail) {
		if (!(c->flags & MMDS_LOG_CURSOR_CLAMP))
			return -ERANGE;
		to = pos < first ? first : tail;
		rc = mmds_log_cursor_reset(c, to);
		if (rc)
			return rc;
		pos = to;
		clamped = 1;
	}
	rc = mmds_log_iter_open(it, c->log, pos);
	if (rc)
		return rc;
	return clamped ? MMDS_LOG_CURSOR_CLAMPED : 0;
}

/* Fill *ci from cursor file name in cdirfd (status set on failure). */
static void read_info(int cdirfd, const char *name, uint64_t log_id,
		      mmds_log_cursor_info *ci)
{
	unsigned char img[CUR_SIZE];
	struct cur_slot best;
	uint64_t hsum, w;
	int fd, rc;

	memset(ci, 0, sizeof(*ci));
	snprintf(ci->name, sizeof(ci->name), "%s", name);
	fd = open_file(cdirfd, name, O_RDONLY);
	if (fd < 0) {
		ci->status = fd;
		return;
	}
	rc = read_image(fd, img);
	close(fd);
	if (rc == 0)
		rc = parse_file(img, name, log_id, &hsum, &best);
	if (rc) {
		ci->status = rc;
		return;
	}
	ci->position = best.position;
	ci->commits = best.seq;
	ci->commit_ns = best.commit_ns;
	memcpy(&w, img + CUR_OWNER_OFF, sizeof(w));
	ci->owner_pid = mmds__owner_alive(w) ? mmds__owner_pid(w) : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const mmds_log_cursor_info *)a)->name,
		      ((const mmds_log_cursor_info *)b)->name);
}

/* Every cursor of the log with id log_id in dir, into a malloc'd *v. */
static int list_all(const char *dir, uint64_t log_id, mmds_log_cursor_info **v,
		    size_t *n)
{
	mmds_log_cursor_info *a = NULL, *na;
	size_t cnt = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int cfd = open_cursor_dir(dir, 0, NULL), rc = 0;

	*v = NULL;
	*n = 0;
	if (cfd == -ENOENT)
		return 0;
	if (cfd < 0)
		return cfd;
	d = fdopendir(cfd);
	if (d == NULL) {
		rc = -errno;
		close(cfd);
		return rc;
	}
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		if (!name_ok(e->d_name))
			continue;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			na = realloc(a, cap * sizeof(*a));
			if (na == NULL) {
				rc = -ENOMEM;
				break;
			}
			a = na;
		}
		read_info(dirfd(d), e->d_name, log_id, &a[cnt++]);
		errno = 0;
	}
	if (rc == 0 && errno != 0)
		rc = -errno;
	closedir(d);
	if (rc) {
		free(a);
		return rc;
	}
	if (cnt > 1)
		qsort(a, cnt, sizeof(*a), by_name);
	*v = a;
	*n = cnt;
	return 0;
}

MMDS_API int mmds_log_cursor_list(const char *dir, mmds_log_cursor_info *out,
				  size_t cap)
{
	mmds_log_cursor_info *v;
	mmds_log *log;
	uint64_t log_id;
	size_t n;
	int rc;

	if (dir == NULL || (out == NULL && cap > 0))
		return -EINVAL;
	rc = open_log(dir, &log, &log_id);
	if (rc)
		return rc;
	mmds_log_close(log);
	rc = list_all(dir, log_id, &v, &n);
	if (rc)
		return rc;
	if (n > (size_t)INT32_MAX)
		n = INT32_MAX;
	if (out != NULL && n > 0 && cap > 0)
		memcpy(out, v, (n < cap ? n : cap) * sizeof(*v));
	free(v);
	return (int)n;
}

MMDS_API int mmds_log_cursor_remove(const char *dir, const char *name)
{
	unsigned char img[CUR_SIZE];
	mmds_map *map = NULL;
	int cfd, fd, rc;

	if (dir == NULL || !name_ok(name))
		return -EINVAL;
	cfd = open_cursor_dir(dir, 0, NULL);
	if (cfd < 0)
		return cfd;
	fd = open_file(cfd, name, O_RDWR);
	if (fd < 0) {
		close(cfd);
		return fd;
	}
	rc = read_image(fd, img);
	if (rc == 0 && memcmp(img, CUR_MAGIC, 8) != 0)
		rc = -EBADMSG;
	if (rc)
		goto out;
	rc = mmds_map_open_fd(&map, fd, &(mmds_map_opts){ .access = MMDS_RDWR });
	if (rc < 0)
		goto out;
	/* Hold it while unlinking, so no opener takes it meanwhile; an opener
	 * that opened it before sees it unnamed after its take and retries. */
	rc = mmds__owner_take_guarded(owner_word(map), NULL);
	if (rc >= 0) {
		MMDS_CRASH("log.cursor.remove.taken");
		rc = 0;
		if (unlinkat(cfd, name, 0) != 0)
			rc = -errno;
		else if (fsync(cfd) != 0)
			rc = -errno;
		if (rc && rc != -ENOENT)
			mmds__owner_release_guarded(owner_word(map));
	}
	mmds_map_close(map);
out:
	close(fd);
	close(cfd);
	return rc;
}

MMDS_API int mmds_log_retain_cursors(mmds_log *log, const char *dir,
				     uint64_t lsn)
{
	mmds_log_cursor_info *v;
	mmds_log_info in;
	mmds_log *other;
	uint64_t other_id;
	size_t n;
	int rc;

	if (log == NULL || dir == NULL)
		return -EINVAL;
	rc = mmds_log_get_info(log, &in);
	if (rc)
		return rc;
	if (!in.writer)
		return -EACCES;
	rc = open_log(dir, &other, &other_id);
	if (rc)
		return rc == -ENOENT ? -EINVAL : rc;
	mmds_log_close(other);
	if (other_id != in.log_id)
		return -EINVAL;
	rc = list_all(dir, in.log_id, &v, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (v[i].status)
			rc = v[i].status == -ENOENT ? 0 : v[i].status;
		else if (v[i].position < lsn)
			lsn = v[i].position;
	}
	free(v);
	if (rc)
		return rc;
	return mmds_log_retain(log, lsn);
}
