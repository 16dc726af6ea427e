#include "bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* Below this calloc takes the memory from the heap, already written. */
enum { BIG = 128 * 1024 };

enum { HUGE = 2 * 1024 * 1024 };

void bigmem_huge(void *p, size_t n) {
#ifdef MADV_HUGEPAGE
  uintptr_t from = ((uintptr_t)p + HUGE - 1) & ~(uintptr_t)(HUGE - 1),
            to = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE - 1);
  /* Refused (no such pages in this kernel, or disabled): 4 KB pages, as
   * before. */
  if (p && to > from) (void)madvise((void *)from, to - from, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

void *bigmem_calloc(size_t n, size_t size) {
  unsigned char *p = calloc(n, size);
  long page = sysconf(_SC_PAGESIZE);
  /* calloc checked n * size. A volatile store: the compiler knows that
   * calloc's memory holds zeros and would drop a plain one. */
  if (p && n * size >= HUGE) bigmem_huge(p, n * size);
  if (p && n * size >= BIG && page > 0)
    for (size_t at = 0; at < n * size; at += (size_t)page)
      ((volatile unsigned char *)p)[at] = 0;
  return p;
}
