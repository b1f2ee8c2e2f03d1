/* hugepage.h - what the machine offers in huge pages (hugepage.c). */
#ifndef MMDS_HUGEPAGE_H
#define MMDS_HUGEPAGE_H

#include <stdbool.h>
#include <stddef.h>

/* The default HugeTLB page size (/proc/meminfo), or 0 if unknown. */
size_t mmds__huge_default_size(void);

/* The transparent huge page size (PMD size); 2 MiB if unknown. */
size_t mmds__thp_size(void);

/* Whether MADV_HUGEPAGE can give transparent huge pages to anonymous
 * memory (shmem false) or to shared memory / memfd (shmem true). */
bool mmds__thp_available(bool shmem);

/* If fd lives on hugetlbfs, its huge page size; else 0. */
size_t mmds__hugetlbfs_page_size(int fd);

/* The MAP_HUGE_* / MFD_HUGE_* bits that ask for pages of size bytes (a
 * power of two), or 0 for the default size. */
int mmds__huge_size_bits(size_t size);

#endif /* MMDS_HUGEPAGE_H */
