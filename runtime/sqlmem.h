/* SQLite's memory, through small free lists kept per size. A sweep step
 * runs a dozen statements, and each one allocates its record buffers and
 * cursors and frees them when it ends: about fifty malloc/free pairs a
 * step, more than glibc's per-size caches hold (seven blocks each), so
 * most went through its slower paths. malloc and free were 9% of a step's
 * instructions; with these lists a step takes 4.6% fewer (callgrind). */
#ifndef RECOUP_SQLMEM_H
#define RECOUP_SQLMEM_H

#include <stddef.h>

/* Installs the allocator; must come before SQLite initialises (the first
 * store_open does it). Later calls do nothing. */
void sqlmem_install(void);

/* This thread (not the loop's) runs SQLite too: its blocks bypass the
 * lists, which only the loop's thread touches. */
void sqlmem_thread_apart(void);

/* What the lists hold now, for tests: blocks and their bytes. */
void sqlmem_cached(size_t *blocks, size_t *bytes);

#endif
