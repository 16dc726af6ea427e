/* Rows a transaction inserts into one table, kept in the node and sent
 * as one statement (pg.h says when). Each column goes as one array
 * parameter in PostgreSQL's binary form, which the statement takes
 * apart with unnest. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/pg.h"

void pg_rows_clear(pg_rows *b) {
  for (int i = 0; i < b->n * b->ncols; i++) free(b->v[i]);
  if (b->nkeys) memset(b->keys, 0, (size_t)b->nkeys * sizeof *b->keys);
  b->n = 0;
}

void pg_rows_free(pg_rows *b) {
  pg_rows_clear(b);
  free(b->v);
  free(b->keys);
  b->v = NULL;
  b->keys = NULL;
  b->cap = b->nkeys = 0;
}

int pg_rows_add(pg_rows *b, const char *const *cols) {
  int base = b->n * b->ncols;

  if (b->n == b->cap) {
    int cap = b->cap ? 2 * b->cap : 64;
    char **v = realloc(b->v, (size_t)cap * (size_t)b->ncols * sizeof *v);
    if (!v) return -1;
    b->v = v;
    b->cap = cap;
  }
  for (int c = 0; c < b->ncols; c++) {
    b->v[base + c] = NULL;
    if (cols[c] && !(b->v[base + c] = strdup(cols[c]))) {
      for (int k = 0; k < c; k++) free(b->v[base + k]);
      return -1;
    }
  }
  b->n++;
  return 0;
}

/* The slot of key in b's table of keys: its row's, or the free one it
 * would take. FNV-1a. */
static int key_slot(const pg_rows *b, const char *key) {
  uint32_t h = 2166136261u;
  int i;

  for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  for (i = (int)(h & (uint32_t)(b->nkeys - 1));;
       i = (i + 1) & (b->nkeys - 1))
    if (!b->keys[i] || !strcmp(b->v[(b->keys[i] - 1) * b->ncols], key))
      return i;
}

/* Makes room in the table of keys for one more row: at most half full. */
static int keys_room(pg_rows *b) {
  int size = b->nkeys ? b->nkeys : 64;
  int *keys;

  if (2 * (b->n + 1) <= b->nkeys) return 0;
  while (2 * (b->n + 1) > size) size *= 2;
  if (!(keys = calloc((size_t)size, sizeof *keys))) return -1;
  free(b->keys);
  b->keys = keys;
  b->nkeys = size;
  for (int r = 0; r < b->n; r++)
    if (b->v[r * b->ncols]) b->keys[key_slot(b, b->v[r * b->ncols])] = r + 1;
  return 0;
}

int pg_rows_put(pg_rows *b, const char *const *cols) {
  char *fresh[PG_ROWS_COLS_MAX] = {0};
  char **row;
  int slot;

  if (b->ncols > PG_ROWS_COLS_MAX || keys_room(b) != 0) return -1;
  if (!cols[0]) return pg_rows_add(b, cols); /* no key: never replaced */
  slot = key_slot(b, cols[0]);
  if (!b->keys[slot]) {
    if (pg_rows_add(b, cols) != 0) return -1;
    b->keys[slot] = b->n;
    return 0;
  }
  row = &b->v[(b->keys[slot] - 1) * b->ncols];
  for (int c = 0; c < b->ncols; c++)
    if (cols[c] && !(fresh[c] = strdup(cols[c]))) {
      for (int k = 0; k < c; k++) free(fresh[k]);
      return -1;
    }
  for (int c = 0; c < b->ncols; c++) {
    free(row[c]);
    row[c] = fresh[c];
  }
  return 0;
}

static unsigned char *put32(unsigned char *p, uint32_t x) {
  p[0] = (unsigned char)(x >> 24);
  p[1] = (unsigned char)(x >> 16);
  p[2] = (unsigned char)(x >> 8);
  p[3] = (unsigned char)x;
  return p + 4;
}

/* The number s says, into *x, if it is one whole decimal number within
 * type's range: 0, or -1. Unchecked, a text not a number went as 0 and
 * one past an int4 wrapped: a wrong number stored, where a refusal
 * shows the bug that made it. */
static int number(unsigned type, const char *s, int64_t *x) {
  char *end;
  long long v;

  errno = 0;
  v = strtoll(s, &end, 10);
  if (end == s || *end || errno ||
      (type == PG_INT4 && (v < INT32_MIN || v > INT32_MAX)))
    return -1;
  *x = v;
  return 0;
}

/* The bytes of one value of type: its text, or its number (checked by
 * number()) as a big-endian integer of the type's width. */
static unsigned char *put_value(unsigned char *p, unsigned type,
                                const char *s, size_t len) {
  int64_t v = 0;
  uint64_t x;

  if (type == PG_TEXT) {
    memcpy(p, s, len);
    return p + len;
  }
  (void)number(type, s, &v);
  x = (uint64_t)v;
  if (type == PG_INT8) p = put32(p, (uint32_t)(x >> 32));
  return put32(p, (uint32_t)x);
}

/* array_recv's form: dimensions, a has-nulls flag, the element type, each
 * dimension's length and lower bound, then each element's length (-1 for
 * NULL) and bytes. The text goes as it is: nothing to escape. */
char *pg_rows_array(const pg_rows *b, int col, unsigned type, int *len) {
  size_t size = b->n ? 20 : 12, width = type == PG_INT8 ? 8 : 4;
  int nulls = 0;
  unsigned char *out, *p;

  int64_t x;

  *len = -1;
  for (int r = 0; r < b->n; r++) {
    const char *s = b->v[r * b->ncols + col];
    if (s && type != PG_TEXT && number(type, s, &x) != 0) return NULL;
    size += 4 + (!s ? 0 : type == PG_TEXT ? strlen(s) : width);
    nulls |= !s;
  }
  *len = 0;
  if (size > INT_MAX || !(out = malloc(size))) return NULL;
  p = put32(out, b->n ? 1 : 0);
  p = put32(p, (uint32_t)nulls);
  p = put32(p, type);
  if (b->n) {
    p = put32(p, (uint32_t)b->n);
    p = put32(p, 1);
  }
  for (int r = 0; r < b->n; r++) {
    const char *s = b->v[r * b->ncols + col];
    size_t n = !s ? 0 : type == PG_TEXT ? strlen(s) : width;
    p = put32(p, s ? (uint32_t)n : UINT32_MAX);
    if (s) p = put_value(p, type, s, n);
  }
  *len = (int)size;
  return (char *)out;
}

int pg_rows_same(const pg_rows *b, int col, unsigned type) {
  const char *first = b->n ? b->v[col] : NULL;
  int64_t x;

  if (b->n < 2) return 0;
  for (int r = 1; r < b->n; r++) {
    const char *s = b->v[r * b->ncols + col];
    if (!s != !first || (s && strcmp(s, first) != 0)) return 0;
  }
  return first && type != PG_TEXT && number(type, first, &x) != 0 ? -1 : 1;
}
