/* The one shape a case arrives in — rt:open, CSV/NDJSON import, HTTP —
 * checked field by field before anything is written. */
#ifndef RECOUP_CASE_INPUT_H
#define RECOUP_CASE_INPUT_H

#include <jansson.h>

#include "recoup/clock.h"
#include "recoup/query.h"

enum {
  IN_PRODUCT = 1 << 0,
  IN_CURRENCY = 1 << 1,
  IN_PRINCIPAL = 1 << 2,
  IN_BALANCE = 1 << 3,
  IN_AMOUNT_DUE = 1 << 4,
  IN_FEES = 1 << 5,
  IN_DUE_DATE = 1 << 6,
  IN_SCORE = 1 << 7,
  IN_DATA = 1 << 8,
  IN_TAGS = 1 << 9,
  IN_CONTACTS = 1 << 10,
  IN_REDUCED = 1 << 11,
};

typedef struct case_input {
  store_case c;     /* owned strings; data and tags as JSON text */
  store_borrower b; /* owned; ncontacts -1 when no contact was given */
  json_t *data;     /* owned: the custom fields given (merged on update) */
  unsigned present; /* IN_* bits: what the input carried */
  /* The first key kept in case.data that reads as a contact column
   * (Phone, mobile_no, 手机): "" when none (case_input_contact_like). */
  char contact_key[48];
} case_input;

/* Added to text_values: obj's text was checked for NUL where it was read
 * (an import checks each line, or its JSON as it loads it), so it is not
 * walked again. */
enum { CASE_INPUT_CHECKED = 2 };

/* Reads obj (nested rt:open shape or flat import columns). text_values:
 * numbers may come as strings, as CSV cells do. Phone numbers are stored
 * in E.164, national ones read with country (ISO 3166-1, "" for none).
 * Errors name the field. */
int case_input_parse(json_t *obj, int text_values, rc_clock *clk,
                     const char *default_currency, const char *country,
                     case_input *out, rc_error *err);
void case_input_free(case_input *in);
/* A key of len bytes that names a contact point as a sheet would
 * (phone, email or mobile in any case, 电话, 手机): kept in case.data,
 * recoup never sends to it. */
int case_input_contact_like(const char *key, size_t len);
/* The first key of obj (flat, as POST /v1/cases takes it) that is not
 * one of recoup's and reads so, with text in it; NULL when none. */
const char *case_input_contact_key(json_t *obj);
/* The money fields agree: amount_due is at most the balance (which
 * includes everything owed). For a case as it will be stored. */
int case_input_check_money(const store_case *c, rc_error *err);
/* A BCP 47 tag ICU knows (zh-CN, en, zh-Hans-CN), without extensions
 * (-u-ca-buddhist and kin). Errors name field. */
int case_input_check_locale(const char *tag, const char *field,
                            rc_error *err);

#endif
