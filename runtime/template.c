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

int template_format_money(const char *locale, const char *currency,
                          rc_money minor, char *buf, size_t size) {
  UErrorCode status = U_ZERO_ERROR;
  UChar code[4], out[128];
  char loc[64], decimal[64];
  int32_t digits, len;
  rc_money unit = 1, abs_minor = minor < 0 ? -minor : minor;
  UNumberFormat *fmt;

  icu_locale(locale, loc, sizeof loc);
  u_uastrcpy(code, currency && *currency ? currency : "XXX");
  digits = ucurr_getDefaultFractionDigits(code, &status);
  if (U_FAILURE(status) || digits < 0 || digits > 4) digits = 2;
  for (int i = 0; i < digits; i++) unit *= 10;
  if (digits > 0)
    snprintf(decimal, sizeof decimal, "%s%lld.%0*lld", minor < 0 ? "-" : "",
             (long long)(abs_minor / unit), digits,
             (long long)(abs_minor % unit));
  else
    snprintf(decimal, sizeof decimal, "%lld", (long long)minor);
  status = U_ZERO_ERROR;
  fmt = unum_open(UNUM_CURRENCY, NULL, 0, loc, NULL, &status);
  if (U_FAILURE(status)) goto plain;
  unum_setTextAttribute(fmt, UNUM_CURRENCY_CODE, code, 3, &status);
  len = unum_formatDecimal(fmt, decimal, -1, out, 128, NULL, &status);
  unum_close(fmt);
  if (U_FAILURE(status) || len <= 0) goto plain;
  status = U_ZERO_ERROR;
  u_strToUTF8(buf, (int32_t)size, NULL, out, len, &status);
  if (U_FAILURE(status)) goto plain;
  return RC_OK;
plain:
  snprintf(buf, size, "%s %s", decimal, currency ? currency : "");
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
