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

void jb_raw_grow(jbuf *b, const char *s, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

/* The bytes a JSON string escapes: one look-up a byte where three
 * comparisons were (a row quotes some thirty strings). */
#define ESC4(n) [n] = 1, [n + 1] = 1, [n + 2] = 1, [n + 3] = 1
static const unsigned char escaped[256] = {
    ESC4(0),  ESC4(4),  ESC4(8),  ESC4(12),  ESC4(16),
    ESC4(20), ESC4(24), ESC4(28), ['"'] = 1, ['\\'] = 1};
#undef ESC4

/* Written in place after one reservation for the worst case (every byte
 * a \u00XX): appending piece by piece cost more than the copying. */
void jb_quote(jbuf *b, const char *v) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *c = (const unsigned char *)v;
  char *o;
  if (!v) {
    jb_raw(b, "null", 4);
    return;
  }
  if (!reserve(b, strlen(v) * 6 + 2)) return;
  o = b->p + b->len;
  *o++ = '"';
  for (;; c++) {
    if (!escaped[*c]) {
      *o++ = (char)*c;
    } else if (!*c) {
      break;
    } else if (*c == '"' || *c == '\\') {
      *o++ = '\\';
      *o++ = (char)*c;
    } else {
      memcpy(o, "\\u00", 4);
      o[4] = hex[*c >> 4];
      o[5] = hex[*c & 15];
      o += 6;
    }
  }
  *o++ = '"';
  *o = '\0';
  b->len = (size_t)(o - b->p);
}

/* One byte, without a strlen and a copy (a member costs two). */
static void jb_byte(jbuf *b, char c) {
  if (!reserve(b, 1)) return;
  b->p[b->len++] = c;
  b->p[b->len] = '\0';
}

/* By hand: snprintf cost a journal run more than the rest of its text.
 * Two digits a division: a run's times have 13 (an imported row writes
 * eleven integers, 1.7k instructions of them one digit at a time). */
void jb_int(jbuf *b, int64_t v) {
  static const char pairs[] =
      "00010203040506070809101112131415161718192021222324"
      "25262728293031323334353637383940414243444546474849"
      "50515253545556575859606162636465666768697071727374"
      "75767778798081828384858687888990919293949596979899";
  char text[24], *p = text + sizeof text;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  while (u >= 100) {
    p -= 2;
    memcpy(p, pairs + u % 100 * 2, 2);
    u /= 100;
  }
  if (u >= 10) {
    p -= 2;
    memcpy(p, pairs + u * 2, 2);
  } else {
    *--p = (char)('0' + u);
  }
  if (v < 0) *--p = '-';
  jb_raw(b, p, (size_t)(text + sizeof text - p));
}

static void member(jbuf *b, const char *key) {
  if (b->len > 1) jb_byte(b, ',');
  jb_quote(b, key);
  jb_byte(b, ':');
}

void jb_str(jbuf *b, const char *key, const char *v) {
  member(b, key);
  jb_quote(b, v);
}

void jb_json(jbuf *b, const char *key, const char *json_text) {
  member(b, key);
  jb_lit(b, json_text);
}

void jb_num(jbuf *b, const char *key, int64_t v) {
  member(b, key);
  jb_int(b, v);
}

/* The checker: a recursive descent over RFC 8259 that allocates nothing.
 * Each function takes the text at a value and returns the text after it,
 * or NULL where the text stops being JSON. */
enum { JSON_MAX_DEPTH = 200 };

static const char *skip_space(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  return p;
}

static const char *check_value(const char *p, int depth);

/* The code unit of \\uXXXX at p (past the u), -1 when not four hex digits. */
static long check_escape(const char *p) {
  long u = 0;
  for (int i = 0; i < 4; i++) {
    char h = p[i];
    int d = h >= '0' && h <= '9'   ? h - '0'
            : h >= 'a' && h <= 'f' ? h - 'a' + 10
            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    u = u * 16 + d;
  }
  return u;
}

static const char *check_string(const char *p) {
  for (p++;; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"') return p + 1;
    if (c < 0x20) return NULL; /* the NUL at the end too */
    if (c == '\\') {
      p++;
      if (*p == 'u') {
        long u = check_escape(p + 1), low;
        /* A surrogate only in a pair: PostgreSQL's json refuses a lone
         * one where it reads the rows (schema 14 keeps them as text, so
         * the run would be stored and every read of it fail), as does
         * jansson. */
        if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF)) return NULL;
        p += 4;
        if (u >= 0xD800 && u <= 0xDBFF) {
          if (p[1] != '\\' || p[2] != 'u' ||
              (low = check_escape(p + 3)) < 0xDC00 || low > 0xDFFF)
            return NULL;
          p += 6;
        }
      } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
        return NULL;
      }
    }
  }
}

static const char *check_digits(const char *p) {
  if (*p < '0' || *p > '9') return NULL;
  while (*p >= '0' && *p <= '9') p++;
  return p;
}

static const char *check_number(const char *p) {
  if (*p == '-') p++;
  if (*p == '0')
    p++;
  else if (!(p = check_digits(p)))
    return NULL;
  if (*p == '.' && !(p = check_digits(p + 1))) return NULL;
  if (*p == 'e' || *p == 'E') {
    p++;
    if (*p == '+' || *p == '-') p++;
    if (!(p = check_digits(p))) return NULL;
  }
  return p;
}

static const char *check_word(const char *p, const char *word) {
  size_t n = strlen(word);
  return strncmp(p, word, n) == 0 ? p + n : NULL;
}

/* Members of an object (pairs) or elements of an array, after the opening
 * bracket, up to and past the closing one. */
static const char *check_members(const char *p, int depth, int pairs) {
  char close = pairs ? '}' : ']';
  p = skip_space(p);
  if (*p == close) return p + 1;
  for (;;) {
    if (pairs) {
      if (*p != '"' || !(p = check_string(p))) return NULL;
      p = skip_space(p);
      if (*p++ != ':') return NULL;
    }
    if (!(p = check_value(p, depth))) return NULL;
    p = skip_space(p);
    if (*p == close) return p + 1;
    if (*p++ != ',') return NULL;
    p = skip_space(p);
  }
}

static const char *check_value(const char *p, int depth) {
  p = skip_space(p);
  switch (*p) {
    case '{':
    case '[':
      return depth < JSON_MAX_DEPTH ? check_members(p + 1, depth + 1, *p == '{')
                                    : NULL;
    case '"':
      return check_string(p);
    case 't':
      return check_word(p, "true");
    case 'f':
      return check_word(p, "false");
    case 'n':
      return check_word(p, "null");
    default:
      return check_number(p);
  }
}

int jb_valid(const char *text) {
  const char *end = text ? check_value(text, 0) : NULL;
  return end && !*skip_space(end);
}
