#include <stdlib.h>
#include <string.h>

#include <unicode/ucurr.h>
#include <unicode/udat.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#include "template.h"

static void icu_locale(const char *locale, char *out, size_t size) {
  /* ICU spells zh-CN as zh_CN. */
  snprintf(out, size, "%s", locale && *locale ? locale : "en");
  for (char *p = out; *p; p++)
    if (*p == '-') *p = '_';
}

/* Opening an ICU number formatter costs more than the rest of a reminder
 * step together (measured: a fifth of a sweep), so formatters are kept,
 * one per locale and currency. recoup runs one loop on one thread. */
enum { MONEY_CACHE = 16 };
static struct money_fmt {
  char locale[40], currency[4];
  UNumberFormat *fmt;
  int32_t digits;
} money_cache[MONEY_CACHE];
static int money_next;

/* Minor digits of an ISO currency code (2 when ICU does not know it). */
static int32_t currency_digits(const char *currency) {
  UErrorCode status = U_ZERO_ERROR;
  UChar code[4];
  int32_t digits;
  u_uastrcpy(code, currency);
  digits = ucurr_getDefaultFractionDigits(code, &status);
  return U_FAILURE(status) || digits < 0 || digits > 4 ? 2 : digits;
}

static struct money_fmt *money_formatter(const char *locale,
                                         const char *currency) {
  char loc[32];
  UErrorCode status = U_ZERO_ERROR;
  UChar code[4];
  struct money_fmt *m;
  if (!locale) locale = "";
  for (int i = 0; i < MONEY_CACHE; i++)
    if (money_cache[i].fmt && strcmp(money_cache[i].currency, currency) == 0 &&
        strcmp(money_cache[i].locale, locale) == 0)
      return &money_cache[i];
  icu_locale(locale, loc, sizeof loc);
  u_uastrcpy(code, currency);
  m = &money_cache[money_next];
  money_next = (money_next + 1) % MONEY_CACHE;
  if (m->fmt) unum_close(m->fmt);
  m->fmt = unum_open(UNUM_CURRENCY, NULL, 0, loc, NULL, &status);
  if (U_SUCCESS(status))
    unum_setTextAttribute(m->fmt, UNUM_CURRENCY_CODE, code, 3, &status);
  if (U_FAILURE(status)) {
    if (m->fmt) unum_close(m->fmt);
    m->fmt = NULL;
    return NULL;
  }
  m->digits = currency_digits(currency);
  /* The formatter takes minor units and moves the decimal point itself:
   * ICU scales in decimal, exactly, and the amount is never text to parse
   * or a double. */
  unum_setAttribute(m->fmt, UNUM_SCALE, -m->digits);
  if (unum_getAttribute(m->fmt, UNUM_SCALE) != -m->digits) {
    /* An ICU that does not scale would print minor units as major ones;
     * the plain "123.45 CNY" is right, if less pretty. */
    unum_close(m->fmt);
    m->fmt = NULL;
    return NULL;
  }
  rc_copy(m->locale, sizeof m->locale, locale);
  rc_copy(m->currency, sizeof m->currency, currency);
  return m;
}

int template_format_money(const char *locale, const char *currency,
                          rc_money minor, char *buf, size_t size) {
  UErrorCode status = U_ZERO_ERROR;
  UChar out[128];
  int32_t len, digits;
  /* The magnitude as unsigned: -INT64_MIN does not fit in an int64. */
  uint64_t unit = 1,
           abs_minor = minor < 0 ? 0 - (uint64_t)minor : (uint64_t)minor;
  struct money_fmt *m;

  if (!currency || strlen(currency) != 3) currency = "XXX";
  m = money_formatter(locale, currency);
  /* The plain form needs the currency's own digits too: KWD has three. */
  digits = m ? m->digits : currency_digits(currency);
  if (!m) goto plain;
  len = unum_formatInt64(m->fmt, minor, out, 128, NULL, &status);
  if (U_FAILURE(status) || len <= 0) goto plain;
  status = U_ZERO_ERROR;
  u_strToUTF8(buf, (int32_t)size, NULL, out, len, &status);
  if (U_FAILURE(status)) goto plain;
  return RC_OK;
plain:
  for (int i = 0; i < digits; i++) unit *= 10;
  if (digits > 0)
    snprintf(buf, size, "%s%llu.%0*llu %s", minor < 0 ? "-" : "",
             (unsigned long long)(abs_minor / unit), digits,
             (unsigned long long)(abs_minor % unit), currency);
  else
    snprintf(buf, size, "%lld %s", (long long)minor, currency);
  return RC_OK;
}

int template_format_date(const char *locale, const char *iso_date, char *buf,
                         size_t size) {
  UErrorCode status = U_ZERO_ERROR;
  UChar out[128], utc[4];
  char loc[64];
  rc_date d;
  int32_t len;
  UDateFormat *fmt;

  if (clock_parse_date(iso_date, &d) != RC_OK) {
    snprintf(buf, size, "%s", iso_date ? iso_date : "");
    return RC_EINVAL;
  }
  icu_locale(locale, loc, sizeof loc);
  u_uastrcpy(utc, "UTC");
  /* A due date is a calendar day, not an instant: format it in UTC so no
   * zone shifts it to the day before. */
  fmt = udat_open(UDAT_NONE, UDAT_LONG, loc, utc, -1, NULL, 0, &status);
  if (U_FAILURE(status)) goto plain;
  len = udat_format(fmt, (UDate)date_to_days(d) * 86400000.0, out, 128, NULL,
                    &status);
  udat_close(fmt);
  if (U_FAILURE(status)) goto plain;
  status = U_ZERO_ERROR;
  u_strToUTF8(buf, (int32_t)size, NULL, out, len, &status);
  if (U_FAILURE(status)) goto plain;
  return RC_OK;
plain:
  snprintf(buf, size, "%s", iso_date);
  return RC_OK;
}
