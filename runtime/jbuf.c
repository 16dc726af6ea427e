#include "jbuf.h"

#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL; 0 once an allocation has failed. */
static int reserve(jbuf *b, size_t n) {
  if (b->oom) return 0;
  if (b->len + n + 1 > b->cap) {
    /* A row's text is a few hundred bytes: one allocation, not four. */
    size_t cap = (b->len + n + 1) * 2 < 512 ? 512 : (b->len + n + 1) * 2;
    char *grown = realloc(b->p, cap);
    if (!grown) {
      b->oom = 1;
      return 0;
    }
    b->p = grown;
    b->cap = cap;
  }
  return 1;
}

void jb_raw(jbuf *b, const char *s, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void jb_lit(jbuf *b, const char *s) {
  jb_raw(b, s, strlen(s));
}

/* Written in place after one reservation for the worst case (every byte
 * a \u00XX): appending piece by piece cost more than the copying. */
void jb_quote(jbuf *b, const char *v) {
  static const char hex[] = "0123456789abcdef";
  char *o;
  if (!v) {
    jb_raw(b, "null", 4);
    return;
  }
  if (!reserve(b, strlen(v) * 6 + 2)) return;
  o = b->p + b->len;
  *o++ = '"';
  for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
    if (*c == '"' || *c == '\\') {
      *o++ = '\\';
      *o++ = (char)*c;
    } else if (*c < 0x20) {
      memcpy(o, "\\u00", 4);
      o[4] = hex[*c >> 4];
      o[5] = hex[*c & 15];
      o += 6;
    } else {
      *o++ = (char)*c;
    }
  }
  *o++ = '"';
  *o = '\0';
  b->len = (size_t)(o - b->p);
}

/* By hand: snprintf cost a journal run more than the rest of its text. */
void jb_int(jbuf *b, int64_t v) {
  char text[24], *p = text + sizeof text;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  jb_raw(b, p, (size_t)(text + sizeof text - p));
}

static void member(jbuf *b, const char *key) {
  if (b->len > 1) jb_lit(b, ",");
  jb_quote(b, key);
  jb_lit(b, ":");
}

void jb_str(jbuf *b, const char *key, const char *v) {
  member(b, key);
  jb_quote(b, v);
}

void jb_json(jbuf *b, const char *key, const char *json_text) {
  member(b, key);
  jb_lit(b, json_text);
}
