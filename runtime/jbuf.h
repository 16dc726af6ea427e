/* JSON text built by appending, for rows written on every event (journal
 * rows, their packed runs): building and dumping a jansson tree for each
 * cost more than the row's INSERT when measured. */
#ifndef RECOUP_JBUF_H
#define RECOUP_JBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct jbuf {
  char *p; /* NUL-terminated; owned */
  size_t len, cap;
  int oom; /* an append failed: p holds a truncated text */
} jbuf;

void jb_raw_grow(jbuf *b, const char *s, size_t n);
/* Inline, the copy into room already there: a journal run and an
 * imported row append some thirty pieces, most of them literals whose
 * length the compiler then knows (a call and a strlen each before). */
static inline void jb_raw(jbuf *b, const char *s, size_t n) {
  if (b->len + n < b->cap && !b->oom) {
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
  } else {
    jb_raw_grow(b, s, n);
  }
}
static inline void jb_lit(jbuf *b, const char *s) {
  jb_raw(b, s, strlen(s));
}
/* An object member's key given as a string literal that needs no escape
 * (the concatenation refuses anything but a literal): its quotes, colon
 * and comma copied as one piece. Quoting a key again on every row cost
 * more than its value; the text is the same as jb_str's. */
#define jb_key(b, lit) \
  ((b)->len > 1 ? jb_lit((b), ",\"" lit "\":") : jb_lit((b), "\"" lit "\":"))
/* A JSON string with the escapes it needs, or null for NULL. */
void jb_quote(jbuf *b, const char *v);
void jb_int(jbuf *b, int64_t v);
/* Object members: "key":value, preceded by a comma unless first in the
 * object (the buffer then holds just its "{"). */
void jb_str(jbuf *b, const char *key, const char *v);
void jb_json(jbuf *b, const char *key, const char *json_text);
void jb_num(jbuf *b, const char *key, int64_t v);

/* Whether text is exactly one JSON value (RFC 8259, surrounding
 * whitespace allowed), nested at most 200 deep. Allocates nothing: it
 * guards text about to be stored, on every event. */
int jb_valid(const char *text);

#endif
