/* Rows a transaction inserts into one table, kept in the node and sent
 * as one statement (pg.h says when). Each column goes as one array
 * parameter in PostgreSQL's text form ({"a","b",NULL}), which the
 * statement takes apart with unnest. */
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

char *pg_rows_array(const pg_rows *b, int col) {
  size_t size = 3;
  char *out, *p;

  for (int r = 0; r < b->n; r++) {
    const char *s = b->v[r * b->ncols + col];
    size += 5; /* quotes and comma, or NULL and comma */
    for (; s && *s; s++) size += (*s == '"' || *s == '\\') ? 2 : 1;
  }
  if (!(out = p = malloc(size))) return NULL;
  *p++ = '{';
  for (int r = 0; r < b->n; r++) {
    const char *s = b->v[r * b->ncols + col];
    if (r) *p++ = ',';
    if (!s) {
      memcpy(p, "NULL", 4);
      p += 4;
      continue;
    }
    *p++ = '"';
    for (; *s; s++) {
      if (*s == '"' || *s == '\\') *p++ = '\\';
      *p++ = *s;
    }
    *p++ = '"';
  }
  *p++ = '}';
  *p = '\0';
  return out;
}
