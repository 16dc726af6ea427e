#include "bigmem.h"

#include <stdlib.h>
#include <unistd.h>

/* Below this calloc takes the memory from the heap, already written. */
enum { BIG = 128 * 1024 };

void *bigmem_calloc(size_t n, size_t size) {
  unsigned char *p = calloc(n, size);
  long page = sysconf(_SC_PAGESIZE);
  /* calloc checked n * size. A volatile store: the compiler knows that
   * calloc's memory holds zeros and would drop a plain one. */
  if (p && n * size >= BIG && page > 0)
    for (size_t at = 0; at < n * size; at += (size_t)page)
      ((volatile unsigned char *)p)[at] = 0;
  return p;
}
