#include "lua_syntax.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The code point of the UTF-8 sequence at s (at most n bytes) and its
 * length in *used; -1 when it does not decode. */
static long decode(const unsigned char *s, size_t n, size_t *used) {
  long cp;
  size_t k, need;
  if (s[0] >= 0xF0 && s[0] <= 0xF4) need = 4, cp = s[0] & 0x07;
  else if (s[0] >= 0xE0) need = 3, cp = s[0] & 0x0F;
  else if (s[0] >= 0xC2 && s[0] < 0xE0) need = 2, cp = s[0] & 0x1F;
  else return -1;
  if (need > n) return -1;
  for (k = 1; k < need; k++) {
    if ((s[k] & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (s[k] & 0x3F);
  }
  *used = need;
  return cp;
}

/* The ASCII character a Chinese input method's punctuation stands for,
 * or 0. */
static int ascii_meant(long cp) {
  if (cp >= 0xFF01 && cp <= 0xFF5E) return (int)(cp - 0xFEE0);
  switch (cp) {
  case 0x3000: return ' ';
  case 0x3001: return ',';
  case 0x3002: return '.';
  case 0x3010: return '[';
  case 0x3011: return ']';
  case 0x2018: case 0x2019: return '\'';
  case 0x201C: case 0x201D: return '"';
  default: return 0;
  }
}

/* The first character of line (1-based) in buf whose first byte is lead,
 * outside a quoted string and a comment: the one the lexer stopped at. */
static const unsigned char *find_char(const char *buf, size_t len, long line,
                                      unsigned char lead, size_t *clen) {
  const unsigned char *p = (const unsigned char *)buf, *end = p + len;
  long at = 1;
  int quote = 0;
  while (p < end && at < line)
    if (*p++ == '\n') at++;
  for (; p < end && *p != '\n'; p++) {
    if (quote) {
      if (*p == '\\' && p + 1 < end) p++;
      else if (*p == quote) quote = 0;
    } else if (*p == '"' || *p == '\'') {
      quote = *p;
    } else if (*p == '-' && p + 1 < end && p[1] == '-') {
      return NULL;
    } else if (*p == lead && decode(p, (size_t)(end - p), clen) >= 0) {
      return p;
    }
  }
  return NULL;
}

void lua_syntax_hint(lua_State *L, const char *buf, size_t len) {
  const char *msg = lua_tostring(L, -1), *near, *colon;
  const unsigned char *c;
  char *stop, hint[160];
  long line = 0, byte, cp;
  size_t clen = 0;
  int meant;
  if (!msg || !(near = strstr(msg, "'<\\"))) return;
  byte = strtol(near + 3, &stop, 10);
  if (byte < 0xC2 || byte > 0xF4 || strncmp(stop, ">'", 2) != 0) return;
  /* "chunk:LINE: message": the first ":digits:" */
  for (colon = strchr(msg, ':'); colon; colon = strchr(colon + 1, ':')) {
    char *e;
    line = strtol(colon + 1, &e, 10);
    if (e > colon + 1 && *e == ':') break;
    line = 0;
  }
  if (line <= 0 || !(c = find_char(buf, len, line, (unsigned char)byte, &clen)))
    return;
  cp = decode(c, clen, &clen);
  meant = ascii_meant(cp);
  if (meant)
    snprintf(hint, sizeof hint,
             "'%.*s' (U+%04lX, as a Chinese input method types it: write "
             "'%c')",
             (int)clen, (const char *)c, cp, meant);
  else
    snprintf(hint, sizeof hint,
             "'%.*s' (U+%04lX: outside a string or a comment, Lua reads "
             "ASCII only)",
             (int)clen, (const char *)c, cp);
  lua_pushlstring(L, msg, (size_t)(near - msg));
  lua_pushstring(L, hint);
  lua_pushstring(L, stop + 2);
  lua_concat(L, 3);
  lua_remove(L, -2);
}
