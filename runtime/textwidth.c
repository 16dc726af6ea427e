#include "textwidth.h"

#include <string.h>

#include <unicode/uchar.h>
#include <unicode/utf8.h>

#include "recoup/recoup.h"

int text_char_cols(int32_t c) {
  int8_t gc;
  if (c < 0) return 1; /* a byte that does not decode: shown as one */
  if (c == 0x200B) return 0;
  gc = (int8_t)u_charType(c);
  if (gc == U_NON_SPACING_MARK || gc == U_ENCLOSING_MARK || gc == U_FORMAT_CHAR)
    return 0;
  switch (u_getIntPropertyValue(c, UCHAR_EAST_ASIAN_WIDTH)) {
    case U_EA_WIDE:
    case U_EA_FULLWIDTH:
      return 2;
    default:
      return 1;
  }
}

int text_cols(const char *s) {
  int32_t i = 0, n = (int32_t)strlen(s);
  int cols = 0;
  while (i < n) {
    UChar32 c;
    U8_NEXT(s, i, n, c);
    cols += text_char_cols(c);
  }
  return cols;
}

int text_cut(char *dst, size_t size, const char *src, int cols) {
  int32_t i = 0, n = (int32_t)strlen(src);
  int used = 0;
  size_t o = 0;
  if (size == 0) return 0;
  while (i < n) {
    int32_t at = i;
    UChar32 c;
    int w;
    U8_NEXT(src, i, n, c);
    w = text_char_cols(c);
    if (used + w > cols || o + (size_t)(i - at) >= size) break;
    memcpy(dst + o, src + at, (size_t)(i - at));
    o += (size_t)(i - at);
    used += w;
  }
  dst[o] = '\0';
  return used;
}

int text_cut_printable(char *dst, size_t size, const char *src, int cols) {
  char clean[1024];
  rc_printable_line(clean, sizeof clean, src ? src : "");
  return text_cut(dst, size, clean, cols);
}

const char *text_pad(char *dst, size_t size, const char *src, int width) {
  int left = width < 0, want = left ? -width : width;
  int fill = want - text_cols(src);
  size_t len = strlen(src), o = 0;
  if (size == 0) return dst;
  if (fill < 0) fill = 0;
  if (!left)
    for (; fill > 0 && o + 1 < size; fill--) dst[o++] = ' ';
  if (o + len >= size) len = size - 1 - o;
  memcpy(dst + o, src, len);
  o += len;
  if (left)
    for (; fill > 0 && o + 1 < size; fill--) dst[o++] = ' ';
  dst[o] = '\0';
  return dst;
}
