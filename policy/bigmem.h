/*
 * bigmem.h — zeroed memory for large, randomly accessed arrays (flow
 * tables, identifier sets), in huge pages where the kernel gives them: a
 * TLB miss per look-up would cost more than the look-up.  Pages are only
 * backed once touched.
 */
#ifndef NFREDACT_BIGMEM_H
#define NFREDACT_BIGMEM_H

#include <stddef.h>
#include <sys/mman.h>

/** bigmem_alloc() - @size zeroed bytes, or NULL (free with bigmem_free()) */
static inline void *bigmem_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, size, MADV_HUGEPAGE);
	return p;
}

/** bigmem_free() - release what bigmem_alloc() gave; NULL is fine */
static inline void bigmem_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}

#endif
