/* map_demo.c - the mapping core in a few lines: create a file, write and
 * read it, count with an atomic shared by a child process, grow it without
 * moving it, and make it durable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mmds.h>

#define CHECK(call)                                                          \
	do {                                                                 \
		int err_ = (call);                                           \
		if (err_ < 0) {                                              \
			fprintf(stderr, "%s: %s\n", #call, mmds_strerror(err_)); \
			exit(1);                                             \
		}                                                            \
	} while (0)

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "map_demo.dat";
	char greeting[32] = { 0 };
	uint64_t hits = 0;
	mmds_map *m;
	void *base;
	pid_t pid;

	CHECK(mmds_map_open(&m, path, &(mmds_map_opts){
		.flags = MMDS_MAP_CREATE | MMDS_MAP_TRUNCATE, .size = 4096 }));
	printf("mmds %s: mapped %s, %llu bytes\n", mmds_version(), path,
	       (unsigned long long)mmds_map_size(m));

	CHECK(mmds_map_write(m, 64, "hello, mapped world", 19));
	CHECK(mmds_map_read(m, 64, greeting, 19));
	printf("read back: \"%s\"\n", greeting);

	/* A child shares the mapping: both add to one counter at offset 0. */
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 100000; i++)
			CHECK(mmds_map_add64(m, 0, 1, NULL));
		_exit(0);
	}
	for (int i = 0; i < 100000; i++)
		CHECK(mmds_map_add64(m, 0, 1, NULL));
	waitpid(pid, NULL, 0);
	CHECK(mmds_map_load64(m, 0, &hits));
	printf("two processes counted %llu hits (expected 200000)\n",
	       (unsigned long long)hits);

	base = mmds_map_data(m);
	CHECK(mmds_map_resize(m, 1 << 20));
	printf("grew to %llu bytes; base %s\n",
	       (unsigned long long)mmds_map_size(m),
	       base == mmds_map_data(m) ? "did not move" : "MOVED");
	CHECK(mmds_map_write(m, (1 << 20) - 5, "tail", 5));

	CHECK(mmds_map_sync(m, MMDS_SYNC_DURABLE));
	printf("synced durably; the file now survives power loss\n");
	CHECK(mmds_map_close(m));
	unlink(path);
	return hits == 200000 ? 0 : 1;
}
