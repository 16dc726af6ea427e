/* Console users: input rules and password hashes. Argon2id through
 * libsodium's crypto_pwhash_str with the interactive limits (2 passes over
 * 64 MiB, about a tenth of a second on one core): the limits libsodium
 * recommends for sign-ins a person waits for, and the memory they take is
 * what makes each guess of a stolen hash dear on a GPU. The string keeps
 * its salt and limits, so raising them later needs no migration:
 * crypto_pwhash_str_needs_rehash says which hashes to renew at sign-in. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>
#include <unicode/uchar.h>
#include <unicode/uspoof.h>
#include <unicode/utf8.h>

#include "input.h"
#include "recoup/query.h"
#include "user.h"

#define OPSLIMIT crypto_pwhash_OPSLIMIT_INTERACTIVE
#define MEMLIMIT crypto_pwhash_MEMLIMIT_INTERACTIVE

static int sodium_ready(rc_error *err) {
  if (sodium_init() < 0)
    return rc_error_set(err, RC_EINTERNAL, NULL, "libsodium did not start");
  return RC_OK;
}

/* The characters of a login and of a queue name. */
static int name_char(int c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int user_name_meant(const char *text, char *out, size_t size) {
  size_t n = text ? strlen(text) : 0, from = 0, j, k = 0;
  char low[USER_NAME_MAX + 1];
  int named = 0;
  /* Spaces at the ends are a paste's or a list's ("phone, visits"), not
   * a word's: dropped, not joined ("_visits" was offered, a queue no
   * workflow fills); nothing but spaces and joiners ("   ") is no name. */
  while (from < n && text[from] == ' ') from++;
  while (n > from && text[n - 1] == ' ') n--;
  if (n == from || n - from > USER_NAME_MAX) return 0;
  /* "Zhang.Min" or "Call Queue" are most often typed for zhang.min and
   * call_queue: lowering capitals and joining words by one '_' is all a
   * guess does; anything else (外勤, "a/b") has no spelling to offer. */
  for (j = from; j < n; j++) {
    char c = text[j];
    char d = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c == ' ' ? '_' : c;
    if (c == ' ' && text[j - 1] == ' ') continue;
    if (!name_char(d)) return 0;
    named |= (d >= 'a' && d <= 'z') || (d >= '0' && d <= '9');
    low[k++] = d;
  }
  low[k] = '\0';
  if (!named || strcmp(low, text) == 0 || size <= k) return 0;
  memcpy(out, low, k + 1);
  return 1;
}

int user_check_name(const char *name, const char *field, rc_error *err) {
  size_t n = name ? strlen(name) : 0;
  char meant[USER_NAME_MAX + 1];
  if (n == 0 || n > 64)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s must be 1 to 64 characters of a-z 0-9 . _ -",
                        field);
  for (size_t i = 0; i < n; i++) {
    if (name_char(name[i])) continue;
    if (user_name_meant(name, meant, sizeof meant))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s must be 1 to 64 characters of a-z 0-9 . _ - "
                          "(lowercase): did you mean %s?",
                          field, meant);
    return rc_error_set(err, RC_EINVAL, field,
                        "%s must be 1 to 64 characters of a-z 0-9 . _ - "
                        "(lowercase)",
                        field);
  }
  return RC_OK;
}

/* Spaces of any width (Zs): a full-width 　 as much as ' '. */
static int blank(UChar32 cp) {
  return u_charType(cp) == U_SPACE_SEPARATOR;
}

static int is_mark(UChar32 cp) {
  int type = u_charType(cp);
  return type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK ||
         type == U_COMBINING_SPACING_MARK;
}

/* Marks stacked on one letter: Vietnamese and Tibetan stack up to four
 * ("ệ" written as e and two marks); more are drawn over the lines above
 * and below, a timeline row or a colleague's name in Reassign's list. */
enum { DISPLAY_MARKS_MAX = 4 };

int user_check_shown(const char *text, const char *field, int most,
                     rc_error *err) {
  const uint8_t *s = (const uint8_t *)text;
  size_t len = text ? strlen(text) : 0;
  int32_t i = 0;
  int chars = 0, ends_blank = 0, marks = 0;
  input_pos bad;
  if (len == 0) return RC_OK;
  /* most characters are at most 4 * most bytes: a longer text is refused
   * before it is read a character at a time (U8_NEXT counts in int32_t). */
  if (len > (size_t)most * 4)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s is longer than %d characters (%zu bytes)", field,
                        most, len);
  if (input_text_check(text, len, &bad) != INPUT_TEXT_OK)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s is not UTF-8 (byte 0x%02X at character "
                        "%d)",
                        field, bad.byte, bad.column);
  while ((size_t)i < len) {
    UChar32 cp;
    U8_NEXT(s, i, (int32_t)len, cp);
    chars++;
    if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s holds a control character (U+%04X) "
                          "at character %d",
                          field, (unsigned)cp, chars);
    if (rc_invisible(cp))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s holds an invisible, joining or "
                          "bidirectional formatting character (U+%04X) at "
                          "character %d; a name is what people read",
                          field, (unsigned)cp, chars);
    if (u_charType(cp) == U_PRIVATE_USE_CHAR || U_IS_UNICODE_NONCHAR(cp))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s holds a private-use character or a "
                          "noncharacter (U+%04X) at character %d, which each "
                          "font draws its own way",
                          field, (unsigned)cp, chars);
    marks = is_mark(cp) ? marks + 1 : 0;
    if (chars == 1 && marks)
      return rc_error_set(err, RC_EINVAL, field,
                          "%s starts with a combining mark "
                          "(U+%04X), which is drawn on the text before the "
                          "name; put it after the letter it belongs to",
                          field, (unsigned)cp);
    if (marks > DISPLAY_MARKS_MAX)
      return rc_error_set(err, RC_EINVAL, field,
                          "%s stacks more than %d combining marks "
                          "on one letter (character %d), drawn over the lines "
                          "around the name",
                          field, DISPLAY_MARKS_MAX, chars);
    if (chars == 1 && blank(cp))
      return rc_error_set(err, RC_EINVAL, field, "%s starts with a space",
                          field);
    ends_blank = blank(cp);
  }
  if (ends_blank)
    return rc_error_set(err, RC_EINVAL, field, "%s ends with a space", field);
  if (chars > most)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s is longer than %d characters (%d)", field, most,
                        chars);
  return RC_OK;
}

int user_check_display(const char *display, rc_error *err) {
  return user_check_shown(display, "display_name", 64, err);
}

int user_skeleton(const char *name, char *out, size_t size) {
  UErrorCode status = U_ZERO_ERROR;
  USpoofChecker *sc;
  int32_t n = 0;
  if (!name || !*name || size == 0) return 0;
  /* A checker a call: a few hundred users are compared only when one is
   * added or renamed, and nothing is kept to be freed at exit. */
  sc = uspoof_open(&status);
  if (U_SUCCESS(status))
    n = uspoof_getSkeletonUTF8(sc, 0, name, -1, out, (int32_t)size, &status);
  uspoof_close(sc);
  if (U_FAILURE(status) || n <= 0 || (size_t)n >= size) return 0;
  out[n] = '\0';
  return 1;
}

int user_check_role(const char *role, rc_error *err) {
  static const char *const roles[] = {"agent", "supervisor", "read", "admin"};
  for (size_t i = 0; role && i < sizeof roles / sizeof roles[0]; i++)
    if (strcmp(role, roles[i]) == 0) return RC_OK;
  return rc_error_set(err, RC_EINVAL, "role",
                      "role must be agent, supervisor, read or admin");
}

#define QUEUES_RULE                                              \
  "queues must be names of 1 to 64 characters of a-z 0-9 . _ - " \
  "(lowercase), separated by commas"

/* Which queue of the list is refused, and for what: its first character
 * out of the rule, shown as itself only when it is plain ASCII (a control
 * or bidirectional character is named by its code point, never written to
 * the terminal). */
static int bad_queue(const char *q, size_t n, int at, rc_error *err) {
  const uint8_t *s = (const uint8_t *)q;
  int32_t i = 0, chars = 0;
  if (n == 0)
    return rc_error_set(err, RC_EINVAL, "queues",
                        QUEUES_RULE ": queue %d is empty", at);
  if (n > USER_NAME_MAX)
    return rc_error_set(err, RC_EINVAL, "queues",
                        QUEUES_RULE ": queue %d is %zu bytes long", at, n);
  while ((size_t)i < n) {
    UChar32 cp;
    U8_NEXT(s, i, (int32_t)n, cp);
    chars++;
    if (name_char(cp)) continue;
    if (cp >= 0x20 && cp < 0x7F) {
      /* The same guess a login's refusal offers (user_name_meant). */
      char text[USER_NAME_MAX + 1], meant[USER_NAME_MAX + 1], hint[96] = "";
      char what[16];
      memcpy(text, q, n);
      text[n] = '\0';
      if (user_name_meant(text, meant, sizeof meant))
        snprintf(hint, sizeof hint, " (did you mean %s?)", meant);
      if (cp == ' ')
        rc_copy(what, sizeof what, "a space");
      else
        snprintf(what, sizeof what, "'%c'", (char)cp);
      return rc_error_set(err, RC_EINVAL, "queues",
                          QUEUES_RULE ": queue %d has %s at character %d%s", at,
                          what, (int)chars, hint);
    }
    if (cp < 0)
      return rc_error_set(err, RC_EINVAL, "queues",
                          QUEUES_RULE ": queue %d is not UTF-8 (character %d)",
                          at, (int)chars);
    /* A printable letter (电话: a workflow's queue written in Chinese)
     * is shown as itself, a control, invisible or bidirectional one by
     * its code point only. */
    if (u_isprint(cp) && !u_hasBinaryProperty(cp, UCHAR_BIDI_CONTROL) &&
        u_charType(cp) != U_FORMAT_CHAR && !blank(cp) && !is_mark(cp)) {
      int32_t from = i;
      U8_BACK_1(s, 0, from);
      return rc_error_set(err, RC_EINVAL, "queues",
                          QUEUES_RULE
                          ": queue %d has '%.*s' (U+%04X) at "
                          "character %d",
                          at, (int)(i - from), q + from, (unsigned)cp,
                          (int)chars);
    }
    return rc_error_set(err, RC_EINVAL, "queues",
                        QUEUES_RULE ": queue %d has U+%04X at character %d", at,
                        (unsigned)cp, (int)chars);
  }
  return RC_OK;
}

/* "phone,phone" is most often a slip for two queues ("phone,field"):
 * refused naming both places, where a list that kept it would warn of it
 * twice and show it twice in user list. */
static int repeated_queue(json_t *a, const char *name, int at, rc_error *err) {
  size_t i;
  json_t *q;
  json_array_foreach(a, i, q) {
    if (strcmp(json_string_value(q), name) == 0)
      return rc_error_set(err, RC_EINVAL, "queues",
                          "queues: queue %d (%s) is queue %zu again", at, name,
                          i + 1);
  }
  return RC_OK;
}

int user_queues_json(const char *list, char **json, rc_error *err) {
  json_t *a = json_array();
  const char *p = list;
  int rc = RC_OK, at = 0;
  *json = NULL;
  if (!a) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  while (p && *p && rc == RC_OK) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    char name[USER_NAME_MAX + 2];
    if ((rc = bad_queue(p, n, ++at, err)) != RC_OK) break;
    memcpy(name, p, n);
    name[n] = '\0';
    if ((rc = repeated_queue(a, name, at, err)) != RC_OK) break;
    if (json_array_size(a) >= USER_QUEUES_MAX)
      rc = rc_error_set(err, RC_EINVAL, "queues",
                        "queues: at most %d a user (queue %d is one more)",
                        USER_QUEUES_MAX, at);
    else if (json_array_append_new(a, json_string(name)) != 0)
      rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    p = end ? end + 1 : NULL;
    if (p && !*p)
      rc = rc_error_set(err, RC_EINVAL, "queues",
                        QUEUES_RULE ": the list ends with a comma");
  }
  if (rc == RC_OK && !(*json = json_dumps(a, JSON_COMPACT)))
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  json_decref(a);
  return rc;
}

int user_check_password(const char *password, size_t len, rc_error *err) {
  input_pos bad;
  if (len < USER_PASSWORD_MIN)
    return rc_error_set(err, RC_EINVAL, "password",
                        "password must be at least %d bytes",
                        USER_PASSWORD_MIN);
  if (len > USER_PASSWORD_MAX)
    return rc_error_set(err, RC_EINVAL, "password",
                        "password must be at most %d bytes", USER_PASSWORD_MAX);
  switch (input_text_check(password, len, &bad)) {
    case INPUT_TEXT_NUL:
      return rc_error_set(err, RC_EINVAL, "password",
                          "password holds a NUL byte");
    case INPUT_TEXT_BAD_UTF8:
      return rc_error_set(err, RC_EINVAL, "password",
                          "password is not valid UTF-8");
    default:
      return RC_OK;
  }
}

int user_hash(const char *password, char *hash, rc_error *err) {
  int rc;
  if ((rc = sodium_ready(err)) != RC_OK) return rc;
  if (crypto_pwhash_str(hash, password, strlen(password), OPSLIMIT, MEMLIMIT) !=
      0)
    return rc_error_set(err, RC_ENOMEM, NULL,
                        "cannot hash the password: out of memory");
  return RC_OK;
}

/* A hash of random bytes, made once: what an unknown name is checked
 * against. */
static const char *decoy(void) {
  static char hash[USER_HASH_SIZE];
  unsigned char secret[32];
  if (hash[0]) return hash;
  randombytes_buf(secret, sizeof secret);
  if (crypto_pwhash_str(hash, (const char *)secret, sizeof secret, OPSLIMIT,
                        MEMLIMIT) != 0)
    hash[0] = '\0';
  sodium_memzero(secret, sizeof secret);
  return hash;
}

int user_verify(const char *hash, const char *password) {
  int match;
  if (sodium_ready(NULL) != RC_OK) return 0;
  match = hash != NULL;
  if (!hash) hash = decoy();
  /* Constant time in the password: libsodium compares the derived keys
   * with sodium_memcmp. */
  if (crypto_pwhash_str_verify(hash, password, strlen(password)) != 0) return 0;
  return match;
}
