#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "recoup/recoup.h"

/* Its texts emptied, not zeroed: every reader stops at the NUL, and
 * zeroing 1.3 KB was 180 instructions, twice an imported row. */
void rc_error_clear(rc_error *err) {
  err->code = 0;
  err->line = 0;
  err->since = 0;
  err->file[0] = '\0';
  err->field[0] = '\0';
  err->message[0] = '\0';
}

int rc_error_set(rc_error *err, int code, const char *field, const char *fmt,
                 ...) {
  va_list ap;
  if (!err) return code;
  /* A new error: nothing of an earlier one (or of the stack the caller
   * did not clear) may be printed as its file and line. */
  err->code = code;
  err->line = 0;
  err->since = 0;
  err->file[0] = '\0';
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return code;
}

/* Bytes in a valid UTF-8 sequence starting at s, or 0 (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static int utf8_length(const unsigned char *s) {
  int n = s[0] < 0x80   ? 1
          : s[0] < 0xc2 ? 0
          : s[0] < 0xe0 ? 2
          : s[0] < 0xf0 ? 3
          : s[0] < 0xf5 ? 4
                        : 0;
  unsigned char lo = 0x80, hi = 0xbf;
  if (s[0] == 0xe0) lo = 0xa0;
  if (s[0] == 0xed) hi = 0x9f;
  if (s[0] == 0xf0) lo = 0x90;
  if (s[0] == 0xf4) hi = 0x8f;
  for (int i = 1; i < n; i++, lo = 0x80, hi = 0xbf)
    if (s[i] < lo || s[i] > hi) return 0;
  return n;
}

/* Characters that draw nothing or reorder what is around them: bidi
 * embeddings, overrides and isolates (the "Trojan Source" characters),
 * the directional marks, zero-width characters, line and paragraph
 * separators, the byte-order mark, the soft hyphen, the combining
 * grapheme joiner, the Hangul fillers and the Braille blank (they draw
 * as blanks), the tag characters U+E0000..E007F (they hide a whole
 * ASCII text inside one visible one), and the other format characters
 * fonts draw as nothing: the deprecated U+206A..206F, the Khmer
 * inherent vowels U+17B4/17B5, the interlinear annotation marks
 * U+FFF9..FFFB, the Egyptian hieroglyph, shorthand and musical format
 * controls. On a terminal U+202E turns the rest of the line around; in
 * an id they let two different ids look the same. Variation selectors
 * stay: emoji and CJK names need them. */
int rc_invisible(uint32_t cp) {
  return cp == 0x061C || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) ||
         cp == 0xFEFF || cp == 0x180E || cp == 0x00AD || cp == 0x034F ||
         cp == 0x115F || cp == 0x1160 || cp == 0x3164 || cp == 0xFFA0 ||
         cp == 0x17B4 || cp == 0x17B5 || cp == 0x2800 ||
         (cp >= 0xFFF9 && cp <= 0xFFFB) || (cp >= 0x13430 && cp <= 0x1343F) ||
         (cp >= 0x1BCA0 && cp <= 0x1BCA3) ||
         (cp >= 0x1D173 && cp <= 0x1D17A) || (cp >= 0xE0000 && cp <= 0xE007F);
}

/* The bytes of an emoji tag sequence's tags at s (after U+1F3F4, the
 * black flag): a subdivision's code in tag characters (UTS #51: a region
 * and 1 to 4 more, 3 to 7 tags of the digits and lower-case letters,
 * U+E0030..E0039 and U+E0061..E007A), then the cancel tag U+E007F; 0
 * when s holds none. There the tags are the flag's subdivision (🏴 +
 * "gbsct" is Scotland's), drawn as one flag, not hidden text: shown
 * whole, where each elsewhere is a '?'. Any other tag, or more of them,
 * is text a screen hides (a sentence in tags after a black flag), and
 * stays one '?' each. */
static size_t flag_tags(const unsigned char *s) {
  size_t k = 0;
  for (;; k += 4) {
    uint32_t cp;
    if (s[k] != 0xf3 || s[k + 1] != 0xa0 || (s[k + 2] & 0xfe) != 0x80 ||
        (s[k + 3] & 0xc0) != 0x80)
      return 0;
    cp = 0xE0000 | (uint32_t)(s[k + 2] & 0x3f) << 6 | (s[k + 3] & 0x3f);
    if (cp == 0xE007F) return k >= 3 * 4 ? k + 4 : 0;
    if (k == 7 * 4 || !((cp >= 0xE0030 && cp <= 0xE0039) ||
                        (cp >= 0xE0061 && cp <= 0xE007A)))
      return 0;
  }
}

/* A regional indicator (U+1F1E6..1F1FF, A to Z): two of them are a
 * country's flag (🇨🇳), one alone a letter in a box. */
static int regional_indicator(const unsigned char *s) {
  return s[0] == 0xf0 && s[1] == 0x9f && s[2] == 0x87 && s[3] >= 0xa6 &&
         s[3] <= 0xbf;
}

static size_t printable(char *dst, size_t size, const char *src, int lines) {
  const unsigned char *s = (const unsigned char *)src;
  size_t o = 0;
  if (size == 0) return 0;
  while (*s && o + 1 < size) {
    int n = utf8_length(s);
    uint32_t cp = n == 1   ? s[0]
                  : n == 2 ? (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f)
                  : n == 3 ? (uint32_t)(s[0] & 0x0f) << 12 |
                                 (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f)
                  : n == 4 ? (uint32_t)(s[0] & 0x07) << 18 |
                                 (uint32_t)(s[1] & 0x3f) << 12 |
                                 (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f)
                           : 0;
    /* C0 and C1 controls (bar newline and tab where lines are kept), DEL
     * and broken sequences would reach a terminal as commands or garbage:
     * one '?' a byte; an invisible or bidirectional character one '?'. */
    if (n == 0 || (cp < 0x20 && !(lines && (cp == '\n' || cp == '\t'))) ||
        (cp >= 0x7f && cp <= 0x9f)) {
      dst[o++] = '?';
      s++;
    } else if (rc_invisible(cp)) {
      dst[o++] = '?';
      s += n;
    } else if (cp == 0x1F3F4 && flag_tags(s + n)) {
      size_t all = (size_t)n + flag_tags(s + n);
      if (o + all >= size) break; /* the flag whole or not at all */
      memcpy(dst + o, s, all);
      o += all;
      s += all;
    } else if (regional_indicator(s) && regional_indicator(s + 4)) {
      /* A flag cut at the end of the room would leave half of it, a
       * letter in a box, and pair what follows with the wrong half. */
      if (o + 8 >= size) break;
      memcpy(dst + o, s, 8);
      o += 8;
      s += 8;
    } else if (o + (size_t)n < size) {
      memcpy(dst + o, s, (size_t)n);
      o += (size_t)n;
      s += n;
    } else {
      break;
    }
  }
  dst[o] = '\0';
  return o;
}

size_t rc_utf8_lossy(char *dst, size_t size, const char *src) {
  const unsigned char *s = (const unsigned char *)src;
  size_t o = 0;
  if (size == 0) return 0;
  while (*s) {
    int n = utf8_length(s);
    if (n == 0) {
      if (o + 3 >= size) break;
      memcpy(dst + o, "\xef\xbf\xbd", 3); /* U+FFFD */
      o += 3;
      s++;
    } else {
      if (o + (size_t)n >= size) break;
      memcpy(dst + o, s, (size_t)n);
      o += (size_t)n;
      s += n;
    }
  }
  dst[o] = '\0';
  return o;
}

size_t rc_printable(char *dst, size_t size, const char *src) {
  return printable(dst, size, src, 1);
}

size_t rc_printable_line(char *dst, size_t size, const char *src) {
  return printable(dst, size, src, 0);
}

void rc_error_print(const rc_error *err, FILE *stream) {
  char file[sizeof err->file], message[sizeof err->message];
  rc_printable(file, sizeof file, err->file);
  rc_printable(message, sizeof message,
               err->message[0] ? err->message : rc_strerror(err->code));
  if (file[0] && err->line > 0)
    fprintf(stream, "recoup: %s:%d: %s\n", file, err->line, message);
  else if (file[0])
    fprintf(stream, "recoup: %s: %s\n", file, message);
  else
    fprintf(stream, "recoup: %s\n", message);
}

const char *rc_strerror(int code) {
  switch (code) {
    case RC_OK:
      return "ok";
    case RC_EINVAL:
      return "invalid";
    case RC_ENOTFOUND:
      return "not_found";
    case RC_ECONFLICT:
      return "conflict";
    case RC_ESTORE:
      return "store";
    case RC_ESCRIPT:
      return "script";
    case RC_ENOMEM:
      return "no_memory";
    case RC_EIO:
      return "io";
    case RC_EINTERNAL:
      return "internal";
  }
  return "error";
}

void rc_errlist_add(rc_errlist *list, const rc_error *err) {
  if (list->count == list->cap) {
    int cap = list->cap ? list->cap * 2 : 8;
    rc_error *items = realloc(list->items, (size_t)cap * sizeof *items);
    if (!items) return; /* dropping a report beats crashing the checker */
    list->items = items;
    list->cap = cap;
  }
  list->items[list->count++] = *err;
}

void rc_errlist_free(rc_errlist *list) {
  free(list->items);
  list->items = NULL;
  list->count = list->cap = 0;
}
