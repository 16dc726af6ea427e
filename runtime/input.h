/* Untrusted text and JSON from outside (HTTP bodies, import files, what
 * clients name things): the checks every door shares, so that a rule is
 * written once and a door cannot forget it. */
#ifndef RECOUP_INPUT_H
#define RECOUP_INPUT_H

#include <stddef.h>

#include <jansson.h>

#include "recoup/recoup.h"

/* Bounds a user or an integrator meets (docs/import.md, docs/http.md). */
enum {
  INPUT_ID_MAX = 128,       /* case, borrower ids; refs, keys, assignees */
  INPUT_TYPE_MAX = 64,      /* event types */
  INPUT_LINE_MAX = 1 << 20, /* an NDJSON line, a CSV record */
};

/* Where text stops being clean UTF-8. */
enum { INPUT_TEXT_OK, INPUT_TEXT_NUL, INPUT_TEXT_BAD_UTF8 };
typedef struct input_pos {
  size_t offset; /* of the bad byte */
  int column;    /* 1-based, in characters */
  unsigned char byte;
} input_pos;

/* INPUT_TEXT_OK, or what is wrong and where (NUL byte, invalid UTF-8:
 * overlong forms, surrogates and code points past U+10FFFF included). */
int input_text_check(const char *s, size_t len, input_pos *bad);

/* An id a client gives: 1..max bytes of UTF-8, printable: no control
 * characters, no invisible or bidirectional formatting characters (which
 * make two different ids look the same, or one look like another), no
 * space at either end. err names field. */
int input_check_id(const char *s, size_t len, const char *field, size_t max,
                   rc_error *err);

/* An event type: a name, [A-Za-z][A-Za-z0-9_.-]*, at most INPUT_TYPE_MAX. */
int input_check_name(const char *s, const char *field, rc_error *err);

/* One JSON text from outside. */
enum {
  INPUT_JSON_OK,
  INPUT_JSON_SYNTAX,  /* not one unambiguous JSON value: 400 bad_json */
  INPUT_JSON_REFUSED, /* valid JSON recoup cannot hold: 422 naming the field */
};
/* Parses buf as exactly one JSON object or array (any value with
 * any_value): syntax errors and duplicate keys (at any depth) are
 * INPUT_JSON_SYNTAX with the line, column and, for a duplicate, the key's
 * path in err->field; numbers beyond 64 bits and strings holding \u0000
 * are INPUT_JSON_REFUSED naming the field. err->code is RC_EINVAL. */
int input_json_load(const char *buf, size_t len, int any_value, json_t **out,
                    rc_error *err);

/* The path ("borrower.phones[2]") of the first string in v holding a NUL
 * character, into path; 0 when there is none. */
int input_json_find_nul(const json_t *v, char *path, size_t size);

/* Refuses a key of the object body that known (NULL-terminated) does not
 * hold, naming it in err->field and, when one is close (a typo, a case
 * difference, or a known key as one part of it: `paid_at`, `payment_ref`),
 * the key meant: a misspelt key would otherwise be a value silently
 * dropped (a payment dated now, a ref lost and the money booked twice).
 * what says what takes the keys ("a payment"). RC_EINVAL, or RC_OK. */
int input_json_known_keys(const json_t *body, const char *const *known,
                          const char *what, rc_error *err);
/* The known key (NULL-terminated list) that key most likely meant (a
 * typo, a case difference, spaces around it, or a known key as one part
 * of it), or NULL. */
const char *input_key_meant(const char *key, const char *const *known);

#endif
