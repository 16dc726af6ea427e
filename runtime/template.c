#include <ctype.h>
#include <stdio.h>
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
  len = udat_format(fmt, (UDate)clock_date_to_days(d) * 86400000.0, out, 128, NULL,
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

/* --- placeholders ---------------------------------------------------- */

template_fmt template_placeholder(const char *inner, size_t len, char *name,
                                  size_t name_size) {
  const char *colon = memchr(inner, ':', len);
  size_t n = colon ? (size_t)(colon - inner) : len, flen;
  const char *f;
  if (name_size) {
    if (n >= name_size) n = name_size - 1;
    memcpy(name, inner, n);
    name[n] = '\0';
  }
  if (!colon) return TEMPLATE_FMT_NONE;
  f = colon + 1;
  flen = len - (size_t)(f - inner);
  if (flen == 5 && memcmp(f, "money", 5) == 0) return TEMPLATE_FMT_MONEY;
  if (flen == 4 && memcmp(f, "date", 4) == 0) return TEMPLATE_FMT_DATE;
  return TEMPLATE_FMT_UNKNOWN;
}

/* Whole minor units from text: "100000", "-250", or the "100000.0" that
 * Lua prints for a float holding a whole number. */
static int parse_minor(const char *text, rc_money *out) {
  const char *p = text;
  uint64_t v = 0;
  int neg = *p == '-';
  if (neg) p++;
  if (!isdigit((unsigned char)*p)) return 0;
  for (; isdigit((unsigned char)*p); p++) {
    if (v > (UINT64_MAX - 9) / 10) return 0;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (*p == '.') {
    for (p++; *p == '0'; p++) {
    }
  }
  if (*p || v > (uint64_t)INT64_MAX + (uint64_t)neg) return 0;
  *out = neg ? (rc_money)(0 - v) : (rc_money)v;
  return 1;
}

/* A date, a date-time or a duration from now, as the reader's calendar
 * day: an instant falls on the day it is where the reader lives. */
static int parse_day(const char *text, const template_ctx *ctx, char *iso,
                     size_t size) {
  rc_date d;
  rc_time t;
  if (clock_parse_date(text, &d) == RC_OK) {
    clock_date_format(&d, iso, size);
    return 1;
  }
  if (!ctx->clock || clock_parse_time(ctx->clock, text, &t, NULL) != RC_OK)
    return 0;
  d = clock_zone_date(ctx->zone ? ctx->zone : clock_zone(ctx->clock), t);
  clock_date_format(&d, iso, size);
  return 1;
}

int template_format_value(template_fmt fmt, const template_value *v,
                          const template_ctx *ctx, char *buf, size_t size,
                          rc_error *err) {
  rc_money minor = v->minor;
  const char *text = v->text ? v->text : "";
  if (v->kind == TEMPLATE_MONEY ||
      (fmt == TEMPLATE_FMT_MONEY && v->kind == TEMPLATE_TEXT)) {
    if (v->kind == TEMPLATE_TEXT && !parse_minor(text, &minor))
      return rc_error_set(err, RC_EINVAL, NULL,
                          "money needs whole minor units (100000 for "
                          "1,000.00), got '%.64s'",
                          text);
    return template_format_money(ctx->locale, ctx->currency, minor, buf, size);
  }
  if (v->kind == TEMPLATE_DATE ||
      (fmt == TEMPLATE_FMT_DATE && v->kind == TEMPLATE_TEXT)) {
    char iso[16];
    if (!parse_day(text, ctx, iso, sizeof iso))
      return rc_error_set(err, RC_EINVAL, NULL,
                          "date needs an ISO date, a date-time or a duration "
                          "such as \"3d\", got '%.64s'",
                          text);
    template_format_date(ctx->locale, iso, buf, size);
    return RC_OK;
  }
  snprintf(buf, size, "%s", text);
  return RC_OK;
}

/* Appends n bytes to buf as far as they fit; *len counts them all. */
static void put(char *buf, size_t size, size_t *len, const char *s, size_t n) {
  if (*len < size) {
    size_t room = size - *len - 1;
    memcpy(buf + *len, s, n < room ? n : room);
  }
  *len += n;
}

int template_render(const char *text, const template_ctx *ctx, char *buf,
                    size_t size, size_t *len, rc_error *err) {
  const char *p = text, *lang = ctx->language ? ctx->language : ctx->locale;
  *len = 0;
  while (*p) {
    const char *open = strchr(p, '{'), *close;
    char name[128], value[256];
    template_fmt fmt;
    template_value v;
    rc_error why;
    if (!open || !(close = strchr(open, '}'))) {
      put(buf, size, len, p, strlen(p));
      break;
    }
    put(buf, size, len, p, (size_t)(open - p));
    fmt = template_placeholder(open + 1, (size_t)(close - open - 1), name,
                               sizeof name);
    v = ctx->lookup(ctx->ud, name);
    if (v.kind == TEMPLATE_MISSING)
      return rc_error_set(err, RC_EINVAL, name,
                          "template '%s' (%s, %s) needs {%s}, which this send "
                          "does not pass",
                          ctx->name, ctx->channel, lang, name);
    if (template_format_value(fmt, &v, ctx, value, sizeof value, &why))
      return rc_error_set(
          err, RC_EINVAL, name, "template '%s' (%s, %s): {%.*s}: %s", ctx->name,
          ctx->channel, lang, (int)(close - open - 1), open + 1, why.message);
    /* A value longer than the stack buffer is text: put it whole. */
    if (v.kind == TEMPLATE_TEXT && fmt == TEMPLATE_FMT_NONE && v.text)
      put(buf, size, len, v.text, strlen(v.text));
    else
      put(buf, size, len, value, strlen(value));
    p = close + 1;
  }
  if (size) buf[*len < size ? *len : size - 1] = '\0';
  return RC_OK;
}
