#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <unicode/uchar.h>

#include "input.h"
#include "source.h"

/* --- text --------------------------------------------------------------- */

/* Decodes the code point at s[*i] (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF) and moves *i past it; 0 when the
 * bytes there are not UTF-8. */
static int next_cp(const unsigned char *s, size_t len, size_t *i,
                   uint32_t *cp) {
  size_t k = *i, n;
  unsigned char c = s[k];
  uint32_t v, min;
  if (c < 0x80) {
    *cp = c;
    *i = k + 1;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF) {
    n = 1, v = c & 0x1F, min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 2, v = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 3, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (len - k <= n) return 0;
  for (size_t j = 1; j <= n; j++) {
    if ((s[k + j] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[k + j] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  *i = k + n + 1;
  return 1;
}

int input_text_check(const char *text, size_t len, input_pos *bad) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  int column = 1;
  while (i < len) {
    uint32_t cp;
    size_t at = i;
    if (s[i] >= 0x80 || s[i] == 0) {
      if (s[i] == 0 || !next_cp(s, len, &i, &cp)) {
        if (bad) {
          bad->offset = at;
          bad->column = column;
          bad->byte = s[at];
        }
        return s[at] == 0 ? INPUT_TEXT_NUL : INPUT_TEXT_BAD_UTF8;
      }
    } else {
      i++;
    }
    column++;
  }
  return INPUT_TEXT_OK;
}

/* The spaces (Unicode's Zs) other than ' '. */
static int unicode_space(uint32_t cp) {
  return cp == 0x00A0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Characters an id cannot be told by: Unicode's noncharacters (U+FDD0..
 * FDEF and the last two of each plane, for a program's own use: tools
 * drop or replace them), private-use characters (each font draws its
 * own, or nothing: two ids look alike on one screen and apart on
 * another), and a combining mark first (it draws on whatever comes
 * before the id: a column's border, the quote of a message), or any
 * other character drawn with the one before it. Only past U+02FF,
 * where the first of them is. */
static int odd_id_char(uint32_t cp, size_t at, const char *field,
                       rc_error *err) {
  int type;
  if ((cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s holds a noncharacter (U+%04X) at byte %zu; ids "
                        "must be printable",
                        field, (unsigned)cp, at + 1);
  if ((cp >= 0xE000 && cp <= 0xF8FF) || cp >= 0xF0000)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s holds a private-use character (U+%04X) at byte "
                        "%zu, which each font draws its own way; ids must "
                        "be printable",
                        field, (unsigned)cp, at + 1);
  if (at != 0) return RC_OK;
  type = u_charType((UChar32)cp);
  if (type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
      type == U_COMBINING_SPACING_MARK)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s starts with a combining mark (U+%04X), which "
                        "draws on what comes before the id; put it after "
                        "the letter it belongs to",
                        field, (unsigned)cp);
  /* Not marks, but drawn with the character before them all the same
   * (Unicode's grapheme clusters): a Hangul vowel or final jamo joins a
   * syllable before it (가 + ᅡA reads 가A), an emoji's skin tone
   * colours the emoji before it, a half-width voiced mark (ﾞ) voices
   * the kana before it. */
  type = u_getIntPropertyValue((UChar32)cp, UCHAR_GRAPHEME_CLUSTER_BREAK);
  if (type == U_GCB_EXTEND || type == U_GCB_SPACING_MARK || type == U_GCB_V ||
      type == U_GCB_T || type == U_GCB_ZWJ)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s starts with U+%04X, which is drawn with the "
                        "character before the id (a Hangul vowel or final "
                        "jamo, an emoji's skin tone, a voiced mark); put "
                        "it after the character it belongs to",
                        field, (unsigned)cp);
  return RC_OK;
}

int input_check_id(const char *text, size_t len, const char *field, size_t max,
                   rc_error *err) {
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0;
  int rc;
  if (len == 0)
    return rc_error_set(err, RC_EINVAL, field, "%s is empty", field);
  if (len > max)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s is longer than %zu bytes (%zu)", field, max, len);
  if (s[0] == ' ' || s[len - 1] == ' ')
    return rc_error_set(err, RC_EINVAL, field, "%s starts or ends with a space",
                        field);
  while (i < len) {
    uint32_t cp;
    size_t at = i;
    if (!next_cp(s, len, &i, &cp))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s is not UTF-8 (byte 0x%02X at byte %zu)", field,
                          s[at], at + 1);
    if (cp == 0)
      return rc_error_set(err, RC_EINVAL, field,
                          "%s holds a NUL character at byte %zu", field,
                          at + 1);
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s holds a control character (U+%04X) at byte %zu",
                          field, (unsigned)cp, at + 1);
    if (rc_invisible(cp))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s holds an invisible or bidirectional formatting "
                          "character (U+%04X) at byte %zu; ids must be "
                          "printable",
                          field, (unsigned)cp, at + 1);
    /* "L1" and "L1" + U+3000 (a Chinese input method's space, common in
     * hand-typed sheets) or "L 1" and "L" U+00A0 "1" look the same and
     * would be two cases; only the plain space is taken. */
    if (unicode_space(cp))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s holds a space other than ' ' (U+%04X) at byte "
                          "%zu; ids take the plain space only",
                          field, (unsigned)cp, at + 1);
    if (cp >= 0x300 && (rc = odd_id_char(cp, at, field, err)) != RC_OK)
      return rc;
  }
  return RC_OK;
}

int input_check_name(const char *s, const char *field, rc_error *err) {
  size_t n = strlen(s);
  if (n == 0) return rc_error_set(err, RC_EINVAL, field, "%s is empty", field);
  if (n > INPUT_TYPE_MAX)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s is longer than %d bytes (%zu)", field,
                        INPUT_TYPE_MAX, n);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    int digit = c >= '0' && c <= '9';
    if (!(letter || (i > 0 && (digit || c == '_' || c == '.' || c == '-'))))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s must be a name: a letter, then letters, digits, "
                          "'_', '.' or '-' (byte %zu is not)",
                          field, i + 1);
  }
  return RC_OK;
}

/* --- JSON --------------------------------------------------------------- */

enum { PATH_DEPTH = 16 };

static void path_append_key(char *path, size_t size, const char *key,
                            size_t klen) {
  size_t n = strlen(path);
  if (n && n + 1 < size) path[n++] = '.';
  if (klen > size - 1 - n) klen = n < size - 1 ? size - 1 - n : 0;
  memcpy(path + n, key, klen);
  path[n + klen] = '\0';
}

static void path_append_index(char *path, size_t size, size_t index) {
  size_t n = strlen(path);
  if (n < size) snprintf(path + n, size - n, "[%zu]", index);
}

/* The path of the value being read at offset of a JSON text that is
 * valid up to there (jansson stops at the first problem): the key just
 * read in an object, the element's index in an array. Keys are given as
 * written, escapes and all. */
static void path_at(const char *text, size_t len, size_t offset, char *path,
                    size_t size) {
  struct {
    int object;
    size_t index;
    size_t key, klen; /* the last key read, as an offset into text */
  } stack[PATH_DEPTH];
  int depth = 0, in_string = 0, is_key = 0, expect_key = 0;
  size_t start = 0;
  if (offset > len) offset = len;
  for (size_t i = 0; i < offset; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        i++;
      } else if (c == '"') {
        in_string = 0;
        if (is_key && depth > 0 && depth <= PATH_DEPTH) {
          stack[depth - 1].key = start;
          stack[depth - 1].klen = i - start;
        }
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = 1;
        start = i + 1;
        is_key = depth > 0 && depth <= PATH_DEPTH && stack[depth - 1].object &&
                 expect_key;
        break;
      case '{':
      case '[':
        if (depth < PATH_DEPTH) {
          stack[depth].object = c == '{';
          stack[depth].index = 0;
          stack[depth].klen = 0;
          stack[depth].key = 0;
        }
        depth++;
        expect_key = c == '{';
        break;
      case '}':
      case ']':
        if (depth > 0) depth--;
        expect_key = 0;
        break;
      case ',':
        if (depth > 0 && depth <= PATH_DEPTH) {
          if (stack[depth - 1].object)
            expect_key = 1;
          else
            stack[depth - 1].index++;
        }
        break;
      case ':':
        expect_key = 0;
        break;
    }
  }
  path[0] = '\0';
  for (int d = 0; d < depth && d < PATH_DEPTH; d++) {
    if (stack[d].object) {
      if (stack[d].klen || d + 1 < depth)
        path_append_key(path, size, text + stack[d].key, stack[d].klen);
    } else {
      path_append_index(path, size, stack[d].index);
    }
  }
}

static int find_nul(const json_t *v, char *path, size_t size) {
  size_t n = strlen(path);
  switch (json_typeof(v)) {
    case JSON_STRING:
      return strlen(json_string_value(v)) != json_string_length(v);
    case JSON_OBJECT: {
      const char *key;
      json_t *item;
      json_object_foreach((json_t *)v, key, item) {
        path_append_key(path, size, key, strlen(key));
        if (find_nul(item, path, size)) return 1;
        path[n] = '\0';
      }
      return 0;
    }
    case JSON_ARRAY: {
      size_t i;
      json_t *item;
      json_array_foreach(v, i, item) {
        path_append_index(path, size, i);
        if (find_nul(item, path, size)) return 1;
        path[n] = '\0';
      }
      return 0;
    }
    default:
      return 0;
  }
}

int input_json_find_nul(const json_t *v, char *path, size_t size) {
  path[0] = '\0';
  return find_nul(v, path, size);
}

int input_json_load(const char *buf, size_t len, int any_value, json_t **out,
                    rc_error *err) {
  json_error_t jerr;
  json_t *v;
  input_pos bad;
  char path[sizeof err->field];
  int line = 1;
  *out = NULL;
  /* A byte-order mark (what some Windows tools write first) is no JSON
   * (RFC 8259 8.1); jansson would show it as an invisible "near". */
  if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
    rc_error_set(err, RC_EINVAL, NULL,
                 "bad JSON at line 1 column 1: a byte-order mark (EF BB BF) "
                 "before the value; send the JSON without one");
    return INPUT_JSON_SYNTAX;
  }
  /* Our own look first: it says which byte, where jansson says "near". */
  switch (input_text_check(buf, len, &bad)) {
    case INPUT_TEXT_NUL:
    case INPUT_TEXT_BAD_UTF8:
      for (size_t i = 0; i < bad.offset; i++) line += buf[i] == '\n';
      {
        int column = 1;
        for (size_t i = bad.offset; i > 0 && buf[i - 1] != '\n'; i--)
          column += ((unsigned char)buf[i - 1] & 0xC0) != 0x80;
        if (bad.byte)
          rc_error_set(err, RC_EINVAL, NULL,
                       "bad JSON at line %d column %d: not UTF-8 (byte "
                       "0x%02X)",
                       line, column, bad.byte);
        else
          rc_error_set(err, RC_EINVAL, NULL,
                       "bad JSON at line %d column %d: a NUL byte", line,
                       column);
      }
      return INPUT_JSON_SYNTAX;
  }
  v = json_loadb(buf, len,
                 JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL |
                     (any_value ? JSON_DECODE_ANY : 0),
                 &jerr);
  if (!v) {
    size_t at = jerr.position > 0 ? (size_t)jerr.position : 0;
    switch (json_error_code(&jerr)) {
      case json_error_duplicate_key:
        path_at(buf, len, at, path, sizeof path);
        rc_error_set(err, RC_EINVAL, path,
                     "bad JSON at line %d column %d: the key '%s' appears "
                     "twice in one object",
                     jerr.line, jerr.column, path);
        return INPUT_JSON_SYNTAX;
      case json_error_numeric_overflow:
        path_at(buf, len, at, path, sizeof path);
        rc_error_set(err, RC_EINVAL, path,
                     "%s%sholds a number beyond what recoup stores (integers "
                     "are 64-bit: -9223372036854775808 to "
                     "9223372036854775807)",
                     path, *path ? " " : "");
        return INPUT_JSON_REFUSED;
      case json_error_null_byte_in_key:
        path_at(buf, len, at, path, sizeof path);
        rc_error_set(err, RC_EINVAL, path,
                     "a key in %s holds \\u0000 (NUL), which recoup does not "
                     "accept in text",
                     *path ? path : "the body");
        return INPUT_JSON_REFUSED;
      default:
        /* "\\udc80" is valid JSON that names no character (a lone
         * surrogate): content refused, naming its field, as NUL is. */
        if (strncmp(jerr.text, "invalid Unicode", 15) == 0) {
          path_at(buf, len, at, path, sizeof path);
          rc_error_set(err, RC_EINVAL, path,
                       "%s%sholds %s: not a character (a lone surrogate "
                       "escape), so not UTF-8 text",
                       path, *path ? " " : "", jerr.text + 16);
          return INPUT_JSON_REFUSED;
        }
        rc_error_set(err, RC_EINVAL, NULL, "bad JSON at line %d column %d: %s",
                     jerr.line, jerr.column, jerr.text);
        return INPUT_JSON_SYNTAX;
    }
  }
  if (input_json_find_nul(v, path, sizeof path)) {
    json_decref(v);
    rc_error_set(err, RC_EINVAL, path,
                 "%s%sholds \\u0000 (NUL), which recoup does not accept in "
                 "text",
                 path, *path ? " " : "");
    return INPUT_JSON_REFUSED;
  }
  *out = v;
  return INPUT_JSON_OK;
}

/* --- keys a body may hold ----------------------------------------------- */

enum { KEY_NEAR_MAX = 64 };

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int same_ignoring_case(const char *a, size_t alen, const char *b) {
  size_t i = 0;
  for (; i < alen && b[i]; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
  return i == alen && !b[i];
}

/* "amt" for "amount": the same first letter, the rest in order. */
static int abbreviates(const char *a, const char *b) {
  if (strlen(a) < 3 || lower((unsigned char)*a) != lower((unsigned char)*b))
    return 0;
  for (; *b && *a; b++)
    if (lower((unsigned char)*a) == lower((unsigned char)*b)) a++;
  return !*a;
}

/* The known key a mistyped one most likely meant, or NULL. */
static const char *key_meant(const char *key, const char *const *known) {
  size_t n = strlen(key);
  const char *meant;
  int count = 0;
  if (n == 0 || n > KEY_NEAR_MAX) return NULL;
  for (; known[count]; count++)
    if (same_ignoring_case(key, n, known[count]) ||
        abbreviates(key, known[count]))
      return known[count];
  meant = source_nearest(key, known, count);
  if (meant) return meant;
  /* A known key as one part of it (paid_at, payment_ref, caseId): the
   * last part first, as "payment ref" is a ref. */
  for (size_t end = n; end > 0;) {
    size_t start = end;
    while (start > 0 && !strchr("_-. ", key[start - 1]) &&
           !(key[start] >= 'A' && key[start] <= 'Z' && start < end &&
             key[start - 1] >= 'a' && key[start - 1] <= 'z'))
      start--;
    for (int i = 0; known[i]; i++)
      if (same_ignoring_case(key + start, end - start, known[i]))
        return known[i];
    end = start;
    while (end > 0 && strchr("_-. ", key[end - 1])) end--;
  }
  return NULL;
}

const char *input_key_meant(const char *key, const char *const *known) {
  return key_meant(key, known);
}

int input_json_known_keys(const json_t *body, const char *const *known,
                          const char *what, rc_error *err) {
  const char *key, *meant;
  json_t *v;
  char shown[sizeof err->field], hint[96] = "", list[160] = "";
  size_t used = 0;
  if (!json_is_object(body)) return RC_OK;
  json_object_foreach((json_t *)body, key, v) {
    int i = 0;
    while (known[i] && strcmp(known[i], key) != 0) i++;
    if (known[i]) continue;
    /* The client's text, read on a screen and in logs. */
    rc_printable_line(shown, sizeof shown, key);
    if ((meant = key_meant(key, known)))
      snprintf(hint, sizeof hint, " (did you mean `%s`?)", meant);
    for (i = 0; known[i] && used < sizeof list; i++)
      used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                               i == 0         ? ""
                               : known[i + 1] ? ", "
                                              : " and ",
                               known[i]);
    return rc_error_set(err, RC_EINVAL, shown,
                        "unknown field `%s`%s: %s takes %s%s; leave out any "
                        "other key",
                        shown, hint, what, known[1] ? "" : "only ", list);
  }
  return RC_OK;
}
