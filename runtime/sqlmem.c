#include "sqlmem.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer a kept block is poisoned, so that a use after
 * SQLite freed it is still caught though the memory is not returned. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Blocks up to 1 KB, in 64-byte classes; larger ones go straight to
 * malloc (pages of the cache are allocated in bulk by SQLite and are not
 * freed per statement). A header before each block keeps its usable size,
 * which SQLite asks for, and keeps the block 16-byte aligned. */
enum {
  HEADER = 16,
  GRAIN = 64,
  CLASSES = 16,
  LARGEST = GRAIN * CLASSES - HEADER, /* usable bytes of the last class */
  KEPT = 512 /* blocks a class holds at most: 4 MB over all classes */
};

/* The lists are the loop's thread's (see `apart` below).
 * Kept blocks are held here by their start, not linked through their own
 * memory: a leak checker then sees them reachable at exit. */
static char *kept_blocks[CLASSES][KEPT];
static int kept[CLASSES];
/* Set on a thread other than the loop's that also runs SQLite (the WAL
 * copier, sqlite_checkpoint.c): its blocks come from malloc and go back
 * to free, the kept ones stay the loop's alone. A block keeps its
 * header and class size either way, so either thread may free it. */
static _Thread_local int apart;

static size_t usable(const void *p) {
  size_t n;
  memcpy(&n, (const char *)p - HEADER, sizeof n);
  return n;
}

/* The class of a block of usable size n; only for n <= LARGEST. */
static int class_of(size_t n) {
  return (int)((n + HEADER - 1) / GRAIN);
}

static void *mem_malloc(int want) {
  size_t n = want > 0 ? (size_t)want : 1;
  char *p;
  if (n <= LARGEST) {
    int c = class_of(n);
    n = (size_t)(c + 1) * GRAIN - HEADER;
    if (!apart && kept[c] > 0) {
      p = kept_blocks[c][--kept[c]] + HEADER;
      UNPOISON(p, n);
      return p;
    }
  }
  p = malloc(n + HEADER);
  if (!p) return NULL;
  memcpy(p, &n, sizeof n);
  return p + HEADER;
}

static void mem_free(void *p) {
  size_t n;
  if (!p) return;
  n = usable(p);
  if (n <= LARGEST) {
    int c = class_of(n);
    if (!apart && kept[c] < KEPT) {
      kept_blocks[c][kept[c]++] = (char *)p - HEADER;
      POISON(p, n);
      return;
    }
  }
  free((char *)p - HEADER);
}

static int mem_size(void *p) {
  return p ? (int)usable(p) : 0;
}

static void *mem_realloc(void *p, int want) {
  void *grown;
  size_t have = usable(p);
  if (want > 0 && (size_t)want <= have) return p;
  if (!(grown = mem_malloc(want))) return NULL;
  memcpy(grown, p, have < usable(grown) ? have : usable(grown));
  mem_free(p);
  return grown;
}

static int mem_roundup(int want) {
  size_t n = want > 0 ? (size_t)want : 1;
  return n <= LARGEST ? (class_of(n) + 1) * GRAIN - HEADER : want;
}

static int mem_init(void *ud) {
  (void)ud;
  return SQLITE_OK;
}

static void mem_shutdown(void *ud) {
  (void)ud;
}

void sqlmem_install(void) {
  static const sqlite3_mem_methods methods = {
      mem_malloc,  mem_free, mem_realloc,  mem_size,
      mem_roundup, mem_init, mem_shutdown, NULL};
  static int installed;
  if (installed) return;
  installed = 1;
  /* SQLite copies the methods; it refuses (SQLITE_MISUSE) once it has
   * initialised, and then keeps the allocator it has. */
  sqlite3_config(SQLITE_CONFIG_MALLOC, &methods);
}

void sqlmem_thread_apart(void) {
  apart = 1;
}

void sqlmem_cached(size_t *blocks, size_t *bytes) {
  *blocks = *bytes = 0;
  for (int c = 0; c < CLASSES; c++) {
    *blocks += (size_t)kept[c];
    *bytes += (size_t)kept[c] * (size_t)((c + 1) * GRAIN);
  }
}
