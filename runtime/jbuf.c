#include "jbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jb_raw(jbuf *b, const char *s, size_t n) {
  if (b->oom) return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->len + n + 1) * 2;
    char *grown = realloc(b->p, cap);
    if (!grown) {
      b->oom = 1;
      return;
    }
    b->p = grown;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void jb_lit(jbuf *b, const char *s) {
  jb_raw(b, s, strlen(s));
}

void jb_quote(jbuf *b, const char *v) {
  char esc[8];
  if (!v) {
    jb_lit(b, "null");
    return;
  }
  jb_lit(b, "\"");
  for (const unsigned char *c = (const unsigned char *)v; *c;) {
    const unsigned char *run = c;
    while (*c && *c != '"' && *c != '\\' && *c >= 0x20) c++;
    if (c > run) jb_raw(b, (const char *)run, (size_t)(c - run));
    if (!*c) break;
    if (*c == '"' || *c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)*c;
      jb_raw(b, esc, 2);
    } else {
      snprintf(esc, sizeof esc, "\\u%04x", *c);
      jb_lit(b, esc);
    }
    c++;
  }
  jb_lit(b, "\"");
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
