/* hugepage.c - probing huge page support and reporting what a map got. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>

#include "hugepage.h"
#include "map_internal.h"

#ifndef HUGETLBFS_MAGIC
#define HUGETLBFS_MAGIC 0x958458f6
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif

/* The first unsigned number after key in file, or 0. */
static unsigned long long read_number(const char *file, const char *key)
{
	char line[256];
	unsigned long long v = 0;
	size_t klen = strlen(key);
	FILE *f = fopen(file, "re");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) == 0) {
			v = strtoull(line + klen, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

size_t mmds__huge_default_size(void)
{
	return (size_t)read_number("/proc/meminfo", "Hugepagesize:") * 1024;
}

size_t mmds__thp_size(void)
{
	size_t v = (size_t)read_number(
		"/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "");

	return v ? v : (size_t)2 << 20;
}

/* The bracketed word of a sysfs mode file, e.g. "always [madvise] never". */
static bool thp_mode_allows(const char *file, const char *const *ok)
{
	char buf[256], *open, *close;
	FILE *f = fopen(file, "re");
	bool allowed = false;

	if (f == NULL)
		return false;
	if (fgets(buf, sizeof(buf), f) && (open = strchr(buf, '[')) &&
	    (close = strchr(open, ']'))) {
		*close = '\0';
		for (; *ok; ok++)
			if (strcmp(open + 1, *ok) == 0)
				allowed = true;
	}
	fclose(f);
	return allowed;
}

bool mmds__thp_available(bool shmem)
{
	static const char *const anon_ok[] = { "always", "madvise", NULL };
	static const char *const shmem_ok[] = { "always", "within_size",
						"advise", "force", NULL };

	if (shmem)
		return thp_mode_allows(
			"/sys/kernel/mm/transparent_hugepage/shmem_enabled",
			shmem_ok);
	return thp_mode_allows("/sys/kernel/mm/transparent_hugepage/enabled",
			       anon_ok);
}

size_t mmds__hugetlbfs_page_size(int fd)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) != 0 || (unsigned long)sf.f_type != HUGETLBFS_MAGIC)
		return 0;
	return (size_t)sf.f_bsize;
}

int mmds__huge_size_bits(size_t size)
{
	int shift = 0;

	if (size == 0)
		return 0;
	while (((size_t)1 << shift) < size)
		shift++;
	return shift << MAP_HUGE_SHIFT;
}

/* ---- report ---------------------------------------------------------------- */

struct smaps_key {
	const char *name;
	size_t len;
	uint64_t *sum;
};

int mmds_map_hugepages(const mmds_map *m, mmds_hugepage_info *info)
{
	uintptr_t lo, hi;
	bool inside = false;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	if (m == NULL || info == NULL)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	info->kind = (enum mmds_huge_kind)m->huge_kind;
	info->page_size = m->huge_kind == MMDS_HUGE_KIND_HUGETLB ? m->granule :
			  m->huge_kind == MMDS_HUGE_KIND_THP ? mmds__thp_size() :
							      mmds__page_size();
	f = fopen("/proc/self/smaps", "re");
	if (f == NULL)
		return -ENOTSUP;
	{
		uint64_t hugetlb_private = 0, hugetlb_shared = 0;
		const struct smaps_key keys[] = {
			{ "AnonHugePages:", 14, &info->anon_huge },
			{ "ShmemPmdMapped:", 15, &info->shmem_pmd },
			{ "FilePmdMapped:", 14, &info->file_pmd },
			{ "Private_Hugetlb:", 16, &hugetlb_private },
			{ "Shared_Hugetlb:", 15, &hugetlb_shared },
		};

		lo = (uintptr_t)m->resv;
		hi = lo + m->resv_len;
		while (getline(&line, &cap, f) > 0) {
			unsigned long start, end;

			/* A VMA header, "start-end perms offset dev inode path";
			 * no field line starts with hex digits and a dash. */
			if (sscanf(line, "%lx-%lx ", &start, &end) == 2) {
				inside = start < hi && end > lo;
				continue;
			}
			if (!inside)
				continue;
			for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
				if (strncmp(line, keys[k].name, keys[k].len) == 0)
					*keys[k].sum += strtoull(line + keys[k].len,
								 NULL, 10) * 1024;
		}
		info->hugetlb = hugetlb_private + hugetlb_shared;
	}
	free(line);
	fclose(f);
	info->huge_bytes = info->anon_huge + info->shmem_pmd + info->file_pmd +
			   info->hugetlb;
	return 0;
}
