/* Rows a transaction inserts into one table, kept in the node and sent
 * as one statement (pg.h says when). Each column goes as one array
 * parameter in PostgreSQL's text form ({"a","b",NULL}), which the
 * statement takes apart with unnest. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/pg.h"

void pg_rows_clear(pg_rows *b) {
  for (int i = 0; i < b->n * b->ncols; i++) free(b->v[i]);
  b->n = 0;
}

void pg_rows_free(pg_rows *b) {
  pg_rows_clear(b);
  free(b->v);
  b->v = NULL;
  b->cap = 0;
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

int pg_rows_put(pg_rows *b, const char *const *cols) {
  /* From the last: a case is mostly written again by the step that
   * wrote it. */
  if (b->ncols > PG_ROWS_COLS_MAX) return -1;
  for (int r = b->n - 1; r >= 0; r--) {
    char **row = &b->v[r * b->ncols];
    char *fresh[PG_ROWS_COLS_MAX] = {0};
    if (!row[0] || !cols[0] || strcmp(row[0], cols[0]) != 0) continue;
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
  return pg_rows_add(b, cols);
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
