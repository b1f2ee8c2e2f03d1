/* map_async.c - flush, touch, copy and create on a thread of their own, with
 * completion through an eventfd and an optional callback; operations on a
 * map are cancelled and joined by mmds_map_close(). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "map_internal.h"

enum kind { OP_FLUSH, OP_TOUCH, OP_COPY, OP_CREATE };

#define PIECE ((uint64_t)1 << 20)

struct mmds_async {
	struct mmds__bg bg;   /* first: the map's list holds &bg */
	enum kind kind;
	mmds_map *map;        /* NULL for copy and create, and once the map's
				 close has joined the operation */
	uint64_t off, len;
	enum mmds_sync_level level;
	char *src, *dst, *path;
	unsigned flags;
	mmds_map_opts opts;
	mmds_map *made;       /* the map a create opened, until taken */
	atomic_bool cancel;
	_Atomic int result;   /* -EINPROGRESS until done */
	int efd;
	mmds_async_fn fn;
	void *arg;
	pthread_t thread;
	bool joined;
};

/* The operation whose thread this is: its callback may close its map. */
static _Thread_local mmds_async *running;

/* Sync or touch [off, off + len) of the map piece by piece, checking for
 * cancellation between pieces. */
static int in_pieces(mmds_async *op)
{
	mmds_map *m = op->map;
	uint64_t size = load_size(m), off = op->off, len = op->len, end;
	int err;

	if (len == 0) {
		if (off > size)
			return -ERANGE;
		len = size - off;
	}
	if (!in_range(off, len, size))
		return -ERANGE;
	end = off + len;
	for (uint64_t at = off; at < end; at += PIECE) {
		uint64_t n = end - at < PIECE ? end - at : PIECE;

		if (atomic_load(&op->cancel))
			return -ECANCELED;
		if (op->kind == OP_TOUCH)
			err = mmds_map_touch(m, at, n);
		else
			err = mmds_map_sync_range(m, at, n,
						  op->level == MMDS_SYNC_ASYNC
							  ? MMDS_SYNC_ASYNC
							  : MMDS_SYNC_SYNC);
		if (err)
			return err;
	}
	if (op->kind == OP_FLUSH && op->level == MMDS_SYNC_DURABLE && len) {
		if (atomic_load(&op->cancel))
			return -ECANCELED;
		/* The pages are clean now: this adds fdatasync and the
		 * directory. */
		return mmds_map_sync_range(m, off, len, MMDS_SYNC_DURABLE);
	}
	return 0;
}

static int run(mmds_async *op)
{
	int in, err;

	if (atomic_load(&op->cancel))
		return -ECANCELED;
	switch (op->kind) {
	case OP_FLUSH:
	case OP_TOUCH:
		return in_pieces(op);
	case OP_COPY:
		in = open(op->src, O_RDONLY | O_CLOEXEC);
		if (in < 0)
			return neg_errno();
		err = mmds__copy_to_path(in, op->dst, op->flags, &op->cancel);
		close(in);
		return err;
	case OP_CREATE:
		return mmds_map_open(&op->made, op->path, &op->opts);
	}
	return -EINVAL;
}

static void *async_thread(void *arg)
{
	mmds_async *op = arg;
	uint64_t one = 1;
	int rc;

	running = op;
	rc = run(op);

	atomic_store(&op->result, rc);
	if (write(op->efd, &one, sizeof(one)) != sizeof(one)) {
		/* an eventfd write of 1 cannot fail short of overflow */
	}
	if (op->fn)
		op->fn(op, rc, op->arg);
	return NULL;
}

static void join(mmds_async *op)
{
	if (!op->joined) {
		pthread_join(op->thread, NULL);
		op->joined = true;
	}
}

/* mmds_map_close(): cancel and wait; the handle stays for the caller. */
static void async_stop(struct mmds__bg *bg)
{
	mmds_async *op = (mmds_async *)bg;

	atomic_store(&op->cancel, true);
	/* Closed from the operation's own callback: it has completed, and
	 * its thread cannot join itself; mmds_async_free() joins it. */
	if (running != op)
		join(op);
	op->map = NULL;
}

static void op_free(mmds_async *op)
{
	if (op->efd >= 0)
		close(op->efd);
	free(op->src);
	free(op->dst);
	free(op->path);
	free(op);
}

static mmds_async *op_new(enum kind kind, mmds_async_fn fn, void *arg)
{
	mmds_async *op = calloc(1, sizeof(*op));

	if (op == NULL)
		return NULL;
	op->kind = kind;
	op->fn = fn;
	op->arg = arg;
	op->bg.stop = async_stop;
	atomic_init(&op->result, -EINPROGRESS);
	op->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (op->efd < 0) {
		free(op);
		return NULL;
	}
	return op;
}

static int start(mmds_async **out, mmds_async *op)
{
	int err;

	if (op->map)
		mmds__bg_add(op->map, &op->bg);
	err = mmds__thread_start(&op->thread, async_thread, op);
	if (err) {
		if (op->map)
			mmds__bg_remove(op->map, &op->bg);
		op_free(op);
		return err;
	}
	*out = op;
	return 0;
}

static int new_error(void)
{
	return errno == EMFILE || errno == ENFILE ? -EMFILE : -ENOMEM;
}

static int on_map(mmds_async **out, enum kind kind, mmds_map *m, uint64_t off,
		  uint64_t len, enum mmds_sync_level level, mmds_async_fn fn,
		  void *arg)
{
	mmds_async *op;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (m == NULL)
		return -EINVAL;
	if (kind == OP_FLUSH && level != MMDS_SYNC_ASYNC &&
	    level != MMDS_SYNC_SYNC && level != MMDS_SYNC_DURABLE)
		return -EINVAL;
	op = op_new(kind, fn, arg);
	if (op == NULL)
		return new_error();
	op->map = m;
	op->off = off;
	op->len = len;
	op->level = level;
	return start(out, op);
}

int mmds_async_flush(mmds_async **out, mmds_map *m, uint64_t off, uint64_t len,
		     enum mmds_sync_level level, mmds_async_fn fn, void *arg)
{
	return on_map(out, OP_FLUSH, m, off, len, level, fn, arg);
}

int mmds_async_touch(mmds_async **out, mmds_map *m, uint64_t off, uint64_t len,
		     mmds_async_fn fn, void *arg)
{
	return on_map(out, OP_TOUCH, m, off, len, MMDS_SYNC_SYNC, fn, arg);
}

int mmds_async_copy(mmds_async **out, const char *src, const char *dst,
		    unsigned flags, mmds_async_fn fn, void *arg)
{
	mmds_async *op;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (src == NULL || dst == NULL || (flags & ~(unsigned)MMDS_COPY_EXCL))
		return -EINVAL;
	op = op_new(OP_COPY, fn, arg);
	if (op == NULL)
		return new_error();
	op->src = strdup(src);
	op->dst = strdup(dst);
	op->flags = flags;
	if (op->src == NULL || op->dst == NULL) {
		op_free(op);
		return -ENOMEM;
	}
	return start(out, op);
}

int mmds_async_create(mmds_async **out, const char *path,
		      const mmds_map_opts *opts, mmds_async_fn fn, void *arg)
{
	mmds_async *op;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (path == NULL)
		return -EINVAL;
	op = op_new(OP_CREATE, fn, arg);
	if (op == NULL)
		return new_error();
	op->path = strdup(path);
	if (op->path == NULL) {
		op_free(op);
		return -ENOMEM;
	}
	if (opts)
		op->opts = *opts;
	return start(out, op);
}

int mmds_async_fd(const mmds_async *op)
{
	return op ? op->efd : -1;
}

int mmds_async_result(const mmds_async *op)
{
	return op ? atomic_load(&((mmds_async *)op)->result) : -EINVAL;
}

int mmds_async_wait(mmds_async *op, int timeout_ms)
{
	struct pollfd p;
	int rc;

	if (op == NULL)
		return -EINVAL;
	p.fd = op->efd;
	p.events = POLLIN;
	do
		rc = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return neg_errno();
	if (rc == 0)
		return -ETIMEDOUT;
	return atomic_load(&op->result);
}

int mmds_async_cancel(mmds_async *op)
{
	if (op == NULL)
		return -EINVAL;
	atomic_store(&op->cancel, true);
	return 0;
}

int mmds_async_take_map(mmds_async *op, mmds_map **out)
{
	int rc;

	if (op == NULL || out == NULL || op->kind != OP_CREATE)
		return -EINVAL;
	*out = NULL;
	rc = atomic_load(&op->result);
	if (rc)
		return rc;
	*out = op->made;
	op->made = NULL;
	return 0;
}

int mmds_async_free(mmds_async *op)
{
	int rc;

	if (op == NULL)
		return 0;
	atomic_store(&op->cancel, true);
	if (op->map)
		mmds__bg_remove(op->map, &op->bg);
	join(op);
	rc = atomic_load(&op->result);
	if (op->made)
		mmds_map_close(op->made);
	op_free(op);
	return rc;
}
