#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/ucurr.h>
#include <unicode/uenum.h>
#include <unicode/udat.h>
#include <unicode/uloc.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#include "input.h"
#include "template.h"

static void icu_locale(const char *locale, char *out, size_t size) {
  static int pinned;
  /* A locale ICU holds no data for (la, tlh: tags it knows, texts it
   * lacks) falls back to ICU's default before its root, and that default
   * comes from LANG and LC_*: a service started under de_DE wrote
   * "1.234.567,89 CN¥" where under C "CN¥ 1234567.89". The same text
   * whatever the environment: the default is the "en" an unset locale
   * gets. One thread formats (see below). */
  if (!pinned) {
    UErrorCode status = U_ZERO_ERROR;
    uloc_setDefault("en", &status);
    pinned = 1;
  }
  /* ICU spells zh-CN as zh_CN. An extension (a one-letter subtag: -u-,
   * -t-, -x-; an ICU keyword after '@') is left out: ICU honours them,
   * and a book from before they were refused (case_input_check_locale)
   * may hold "zh-CN-u-ca-buddhist", which dated a reminder 佛历2568年. */
  const char *src = locale && *locale ? locale : "en";
  size_t n = strcspn(src, "@");
  for (const char *p = src; p < src + n;) {
    size_t len = strcspn(p, "-_@");
    if (p != src && len == 1) {
      n = (size_t)(p - 1 - src);
      break;
    }
    p += len;
    if (*p != '-' && *p != '_') break;
    p++;
  }
  snprintf(out, size, "%.*s", (int)n, src);
  for (char *p = out; *p; p++)
    if (*p == '-') *p = '_';
}

/* Opening an ICU number formatter costs more than the rest of a reminder
 * step together (measured: a fifth of a sweep), so formatters are kept,
 * one per locale and currency. recoup runs one loop on one thread. */
enum { MONEY_CACHE = 16, MONEY_DIGITS = 19 };
/* What ICU writes for one formatter, learnt from its own output: the
 * affixes of each sign, the separators, and after which digits (counted
 * from the right) a group separator goes, for each count of whole digits.
 * ICU still takes 4.3k instructions an amount with a kept formatter (3 %
 * of a reminder step); putting the digits between learnt pieces takes a
 * tenth of that. Learnt only where every probe reads back byte for byte
 * (money_learn), else ICU formats each amount as before. */
struct money_fast {
  int ok;
  char affix[2][2][24]; /* [negative][suffix] */
  char group[8], point[8];
  uint32_t groups[2][MONEY_DIGITS + 1]; /* [negative][whole digits] */
};
static struct money_fmt {
  char locale[40], currency[4];
  UNumberFormat *fmt;
  int32_t digits;
  struct money_fast fast;
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

int template_currency_digits(const char *currency) {
  return (int)currency_digits(currency);
}

/* Whether an X code is one of ICU's common currencies (the CFA francs,
 * the East Caribbean dollar, the CFP franc): the other X codes are gold
 * and other metals, units of account, testing and "no currency". */
static int x_code_common(const char *code) {
  UErrorCode status = U_ZERO_ERROR;
  UEnumeration *e =
      ucurr_openISOCurrencies(UCURR_COMMON | UCURR_NON_DEPRECATED, &status);
  const char *s;
  int found = 0;
  if (U_FAILURE(status)) return 0;
  while (!found && (s = uenum_next(e, NULL, &status)) && U_SUCCESS(status))
    found = strcmp(s, code) == 0;
  uenum_close(e);
  return found;
}

/* Names people write for a currency that ISO 4217 gives another code:
 * a ledger in China says RMB, one in Taiwan NTD. The refusal says the
 * code meant, since "not a currency ICU knows" leaves the yuan unnamed. */
static const char *code_meant(const char *up) {
  static const struct {
    const char *said, *why;
  } meant[] = {
      {"RMB", "is not an ISO 4217 code (the renminbi's is CNY)"},
      {"NTD", "is not an ISO 4217 code (the New Taiwan dollar's is TWD)"},
  };
  for (size_t i = 0; i < sizeof meant / sizeof meant[0]; i++)
    if (strcmp(up, meant[i].said) == 0) return meant[i].why;
  return NULL;
}

/* Why a code not of three capitals is refused: "cny" or " CNY " says
 * the code it most likely is, when that one passes. */
static const char *code_unwritten(const char *code) {
  static _Thread_local char why[96];
  char up[4];
  size_t n = 0;
  const char *p = code ? code : "";
  while (*p == ' ') p++;
  for (; *p && *p != ' ' && n < 3; p++)
    up[n++] = *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
  up[n] = '\0';
  while (*p == ' ') p++;
  if (n == 3 && !*p && code_meant(up)) return code_meant(up);
  if (n == 3 && !*p && strspn(up, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3 &&
      !template_currency_refused(up)) {
    snprintf(why, sizeof why,
             "is not an ISO 4217 code as written: write %s (three capital "
             "letters, no space)",
             up);
    return why;
  }
  return "is not an ISO 4217 code (three capital letters, such as CNY)";
}

const char *template_currency_refused(const char *code) {
  /* the code of the row before: an import's rows mostly share one */
  static _Thread_local char last_ok[4];
  UErrorCode status = U_ZERO_ERROR;
  UChar u[4];
  if (!code || strlen(code) != 3 ||
      strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
    return code_unwritten(code);
  if (!strcmp(code, last_ok)) return NULL;
  u_uastrcpy(u, code);
  /* Any time up to now: a currency withdrawn since (HRK, 2023) still
   * names the debts a book opened in it, and their re-imports. */
  if (!ucurr_isAvailable(u, -8.64e15, ucal_getNow(), &status) ||
      U_FAILURE(status))
    return code_meant(code) ? code_meant(code)
                            : "is not an ISO 4217 currency ICU knows";
  /* A debt in gold, in drawing rights or in the testing code has no
   * minor unit in ISO 4217 (ICU would invent two decimals for it). */
  if (code[0] == 'X' && !x_code_common(code))
    return "is a precious metal, a unit of account or a testing code, "
           "not money a debt is owed in";
  memcpy(last_ok, code, 4);
  return NULL;
}

const char *template_money_example(const char *currency, char *buf,
                                   size_t size) {
  int d = currency && *currency ? (int)currency_digits(currency) : 2;
  if (d == 2)
    snprintf(buf, size, "5000 for 50.00");
  else if (d == 0)
    snprintf(buf, size, "%s has no minor unit: 5000 for 5000", currency);
  else
    snprintf(buf, size, "%s has %d decimals: 50%.*s for 50.%.*s", currency, d,
             d, "0000", d, "0000");
  return buf;
}

/* Copies a piece of ICU's output into a learnt field: the first time it
 * is seen, else it must be what was seen before. */
static int money_piece(char *field, size_t size, const char *s, size_t n) {
  if (n >= size) return 0;
  if (!*field) {
    memcpy(field, s, n);
    field[n] = '\0';
    return 1;
  }
  return strlen(field) == n && memcmp(field, s, n) == 0;
}

/* ICU's UTF-8 text of an amount, 0 where it gives none. */
static int money_icu(UNumberFormat *fmt, rc_money minor, char *buf,
                     size_t size) {
  UErrorCode status = U_ZERO_ERROR;
  UChar out[128];
  int32_t len = unum_formatInt64(fmt, minor, out, 128, NULL, &status);
  if (U_FAILURE(status) || len <= 0) return 0;
  status = U_ZERO_ERROR;
  u_strToUTF8(buf, (int32_t)size, NULL, out, len, &status);
  return status == U_ZERO_ERROR;
}

/* The amount between the learnt pieces; its length, 0 where it needs more
 * than size - 1 bytes. */
static size_t money_put(const struct money_fast *f, int32_t digits,
                        rc_money minor, char *buf, size_t size) {
  int neg = minor < 0;
  uint64_t abs_minor = neg ? 0 - (uint64_t)minor : (uint64_t)minor, unit = 1;
  uint64_t whole;
  char d[MONEY_DIGITS + 1], out[256];
  int k = 0;
  size_t n = 0;
  for (int i = 0; i < digits; i++) unit *= 10;
  whole = abs_minor / unit;
  do {
    d[k++] = (char)('0' + whole % 10);
    whole /= 10;
  } while (whole);
#define PUT(s)                                \
  do {                                        \
    size_t l_ = strlen(s);                    \
    memcpy(out + n, s, l_);                   \
    n += l_;                                  \
  } while (0)
  PUT(f->affix[neg][0]);
  for (int r = k - 1; r >= 0; r--) {
    out[n++] = d[r];
    if (r && (f->groups[neg][k] >> r & 1)) PUT(f->group);
  }
  if (digits > 0) {
    uint64_t frac = abs_minor % unit;
    PUT(f->point);
    for (int i = digits - 1; i >= 0; i--, frac /= 10)
      out[n + (size_t)i] = (char)('0' + frac % 10);
    n += (size_t)digits;
  }
  PUT(f->affix[neg][1]);
#undef PUT
  if (n >= size) return 0;
  memcpy(buf, out, n);
  buf[n] = '\0';
  return n;
}

/* Reads ICU's text of an amount whose digits are known: the affixes, the
 * separators and where the groups break, or 0 where the text is not those
 * digits in order between two affixes (other digits than ASCII, a
 * separator inside the minor units, pieces that differ from before). */
static int money_read(struct money_fast *f, int32_t digits, int neg,
                      const char *want, const char *s) {
  size_t n = strlen(want), len = strlen(s), j = 0, p, last, k = n - digits;
  int seen_point = 0;
  uint32_t mask = 0;
  for (p = 0; p < len && (s[p] < '0' || s[p] > '9'); p++) {
  }
  for (last = len; last > p && (s[last - 1] < '0' || s[last - 1] > '9');
       last--) {
  }
  if (p == len || !money_piece(f->affix[neg][0], sizeof f->affix[0][0], s, p) ||
      !money_piece(f->affix[neg][1], sizeof f->affix[0][1], s + last,
                   len - last))
    return 0;
  while (p < last) {
    size_t q = p;
    if (s[p] >= '0' && s[p] <= '9') {
      if (j >= n || s[p] != want[j]) return 0;
      j++, p++;
      continue;
    }
    while (q < last && (s[q] < '0' || s[q] > '9')) q++;
    if (digits > 0 && j == k && !seen_point) {
      if (!money_piece(f->point, sizeof f->point, s + p, q - p)) return 0;
      seen_point = 1;
    } else if (j > 0 && j < k) {
      if (!money_piece(f->group, sizeof f->group, s + p, q - p)) return 0;
      mask |= 1u << (k - j);
    } else {
      return 0;
    }
    p = q;
  }
  if (j != n || seen_point != (digits > 0)) return 0;
  if (f->groups[neg][k] && f->groups[neg][k] != mask) return 0;
  f->groups[neg][k] = mask;
  return 1;
}

/* Learns the pieces from one amount of each sign and count of whole
 * digits, then checks them against ICU on other amounts of every length
 * (nines, a one and zeros, zero, the int64 limits): one differing byte and
 * ICU keeps formatting every amount of this formatter. */
static void money_learn(struct money_fmt *m) {
  static const char *const probes[] = {"1234567890123456789",
                                       "9012345678901234567"};
  struct money_fast *f = &m->fast;
  char icu[256], fast[256];
  rc_money extra[] = {0, 1, -1, INT64_MIN, INT64_MAX, INT64_MIN + 1};
  memset(f, 0, sizeof *f);
  if (m->digits < 0 || m->digits >= MONEY_DIGITS) return;
  for (int neg = 0; neg < 2; neg++)
    for (int n = m->digits + 1; n <= MONEY_DIGITS; n++) {
      char want[MONEY_DIGITS + 1];
      rc_money v = 0;
      memcpy(want, probes[0], (size_t)n);
      want[n] = '\0';
      for (int i = 0; i < n; i++) v = v * 10 + (want[i] - '0');
      if (!money_icu(m->fmt, neg ? -v : v, icu, sizeof icu) ||
          !money_read(f, m->digits, neg, want, icu))
        return;
    }
  for (int neg = 0; neg < 2; neg++)
    for (int n = 1; n <= MONEY_DIGITS; n++) {
      /* Nines, but 19 nines pass INT64_MAX. */
      rc_money vs[3] = {0, n < MONEY_DIGITS ? 0 : 9199999999999999999LL, 1};
      for (int i = 0; i < n; i++) {
        vs[0] = vs[0] * 10 + (probes[1][i] - '0');
        if (n < MONEY_DIGITS) vs[1] = vs[1] * 10 + 9;
        if (i) vs[2] *= 10;
      }
      for (int i = 0; i < 3; i++) {
        rc_money v = neg ? -vs[i] : vs[i];
        if (!money_icu(m->fmt, v, icu, sizeof icu) ||
            !money_put(f, m->digits, v, fast, sizeof fast) ||
            strcmp(icu, fast) != 0)
          return;
      }
    }
  for (size_t i = 0; i < sizeof extra / sizeof *extra; i++)
    if (!money_icu(m->fmt, extra[i], icu, sizeof icu) ||
        !money_put(f, m->digits, extra[i], fast, sizeof fast) ||
        strcmp(icu, fast) != 0)
      return;
  f->ok = 1;
}

static struct money_fmt *money_formatter(const char *locale,
                                         const char *currency) {
  char loc[32];
  UErrorCode status = U_ZERO_ERROR;
  UChar code[4];
  struct money_fmt *m;
  if (!locale) locale = "";
  /* A locale is kept cut to fit (a formatter reads its first 31 bytes
   * only): compared whole, a longer one missed at every amount, and each
   * miss opened a formatter and learnt it again (1.2M instructions). */
  for (int i = 0; i < MONEY_CACHE; i++)
    if (money_cache[i].fmt && strcmp(money_cache[i].currency, currency) == 0 &&
        strncmp(money_cache[i].locale, locale,
                sizeof money_cache[i].locale - 1) == 0)
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
  money_learn(m);
  return m;
}

int template_money_learnt(const char *locale, const char *currency) {
  struct money_fmt *m = money_formatter(locale, currency);
  return m && m->fast.ok;
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
  if (m->fast.ok && money_put(&m->fast, digits, minor, buf, size))
    return RC_OK;
  len = unum_formatInt64(m->fmt, minor, out, 128, NULL, &status);
  if (U_FAILURE(status) || len <= 0) goto plain;
  status = U_ZERO_ERROR;
  u_strToUTF8(buf, (int32_t)size, NULL, out, len, &status);
  /* A text that exactly fills buf is only a warning, and leaves no NUL:
   * it does not fit, as one a byte longer. */
  if (status != U_ZERO_ERROR) goto plain;
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
  /* A text that exactly fills buf is only a warning, and leaves no NUL:
   * it does not fit, as one a byte longer. */
  if (status != U_ZERO_ERROR) goto plain;
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

/* Where a rendering writes: buf, grown by grow when it has one. */
typedef struct render_out {
  char *buf;
  size_t size, len; /* len counts what did not fit as well */
  const template_ctx *ctx;
} render_out;

/* put's way when the bytes do not fit: into a bigger buffer when the
 * caller gives one, else as far as they fit. */
static void put_over(render_out *o, const char *s, size_t n) {
  if (o->ctx->grow && o->len < o->size)
    o->buf = o->ctx->grow(o->ctx->ud, o->buf, o->len, o->len + n + 1, &o->size);
  if (o->len < o->size) {
    size_t room = o->size - o->len - 1;
    memcpy(o->buf + o->len, s, n < room ? n : room);
  }
  o->len += n;
}

/* Appends n bytes (a message's pieces fit but for long bodies). */
static inline void put(render_out *o, const char *s, size_t n) {
  if (o->len + n < o->size) {
    memcpy(o->buf + o->len, s, n);
    o->len += n;
  } else {
    put_over(o, s, n);
  }
}

/* A value inside a JSON string: '"', '\\' and control characters
 * escaped, the rest (UTF-8 included) as it is. */
static void put_json(render_out *o, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t from = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[6] = {'\\', 0};
    size_t k = 2;
    if (c == '"' || c == '\\')
      esc[1] = (char)c;
    else if (c == '\n')
      esc[1] = 'n';
    else if (c == '\r')
      esc[1] = 'r';
    else if (c == '\t')
      esc[1] = 't';
    else if (c < 0x20) {
      memcpy(esc + 1, "u00", 3);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      k = 6;
    } else {
      continue;
    }
    put(o, s + from, i - from);
    put(o, esc, k);
    from = i + 1;
  }
  put(o, s + from, n - from);
}

/* A placeholder's value, escaped where the text is JSON. */
static void put_value(render_out *o, const char *s) {
  if (o->ctx->json)
    put_json(o, s, strlen(s));
  else
    put(o, s, strlen(s));
}

const char *template_next(const char *p, template_piece *piece) {
  const char *q;
  memset(piece, 0, sizeof *piece);
  if (!*p) return NULL;
  piece->at = p;
  if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
    piece->len = 1;
    return p + 2;
  }
  if (*p == '{') {
    if (!(q = strchr(p + 1, '}'))) {
      piece->len = strlen(p);
      piece->unclosed = 1;
      return p + piece->len;
    }
    piece->at = p + 1;
    piece->len = (size_t)(q - p - 1);
    piece->placeholder = 1;
    return q + 1;
  }
  for (q = p; *q && *q != '{' && !(q[0] == '}' && q[1] == '}'); q++)
    ;
  piece->len = (size_t)(q - p);
  return q;
}

/* One placeholder's value into o: looked up, checked, formatted. at/len
 * is its inside as written, for the formatter's error. */
static int render_placeholder(render_out *o, const char *name, template_fmt fmt,
                              const char *at, size_t len, rc_error *err) {
  const template_ctx *ctx = o->ctx;
  const char *lang = ctx->language ? ctx->language : ctx->locale;
  char value[256];
  template_value v = ctx->lookup(ctx->ud, name);
  const char *nul;
  rc_error why;
  if (v.kind == TEMPLATE_MISSING)
    return rc_error_set(err, RC_EINVAL, name,
                        "template '%s' (%s, %s) needs {%s}, which this send "
                        "does not pass",
                        ctx->name, ctx->channel, lang, name);
  /* A borrower reads no "nil" and no hole where a value should be. */
  if (v.kind == TEMPLATE_UNSET)
    return rc_error_set(err, RC_EINVAL, name,
                        "template '%s' (%s, %s) needs {%s}, which this %s "
                        "has no value for",
                        ctx->name, ctx->channel, lang, name,
                        strncmp(name, "borrower.", 9) == 0 ? "borrower"
                                                           : "case");
  /* A Lua string with a NUL: every reader of the text would stop there
   * (a webhook's JSON cut silently), so the send fails naming it. */
  nul = v.kind == TEMPLATE_TEXT && v.len && v.text
            ? memchr(v.text, '\0', v.len)
            : NULL;
  if (nul)
    return rc_error_set(err, RC_EINVAL, name,
                        "template '%s' (%s, %s): {%s} holds a NUL byte "
                        "(byte %zu of its value)",
                        ctx->name, ctx->channel, lang, name,
                        (size_t)(nul - v.text) + 1);
  /* Text shown as it is: put whole, not copied through value first. */
  if (v.kind == TEMPLATE_TEXT && fmt == TEMPLATE_FMT_NONE) {
    const char *t = v.text ? v.text : "";
    input_pos bad;
    /* A script's string cut inside a character (name:sub(1, 4) of a
     * Chinese name): no outbox driver can carry it as JSON text, so
     * it is said here, where the send can name it, not retried later
     * as "out of memory". Case fields and data are UTF-8 already. */
    if (input_text_check(t, strlen(t), &bad) != INPUT_TEXT_OK)
      return rc_error_set(err, RC_EINVAL, name,
                          "template '%s' (%s, %s): {%s} is not valid UTF-8 "
                          "(byte 0x%02X at byte %zu of its value)",
                          ctx->name, ctx->channel, lang, name, bad.byte,
                          bad.offset + 1);
    put_value(o, t);
    return RC_OK;
  }
  if (template_format_value(fmt, &v, ctx, value, sizeof value, &why))
    return rc_error_set(err, RC_EINVAL, name,
                        "template '%s' (%s, %s): {%.*s}: %s", ctx->name,
                        ctx->channel, lang, (int)len, at, why.message);
  put_value(o, value);
  return RC_OK;
}

static void render_end(render_out *o, size_t *len) {
  *len = o->len;
  if (o->size) o->buf[o->len < o->size ? o->len : o->size - 1] = '\0';
}

int template_render(const char *text, const template_ctx *ctx, char *buf,
                    size_t size, size_t *len, rc_error *err) {
  const char *p = text;
  render_out o = {buf, size, 0, ctx};
  template_piece pc;
  *len = 0;
  while ((p = template_next(p, &pc)) != NULL) {
    char name[TEMPLATE_NAME_MAX];
    template_fmt fmt;
    if (!pc.placeholder) {
      put(&o, pc.at, pc.len);
      continue;
    }
    int rc;
    fmt = template_placeholder(pc.at, pc.len, name, sizeof name);
    if ((rc = render_placeholder(&o, name, fmt, pc.at, pc.len, err)))
      return rc;
  }
  render_end(&o, len);
  return RC_OK;
}

/* --- a text split once ------------------------------------------------- */

typedef struct plan_piece {
  const char *at; /* template_next's piece, in the text */
  size_t len;
  const char *name; /* a placeholder's, cut as template_render cuts it;
                       NULL for literal text */
  template_fmt fmt;
} plan_piece;

struct template_plan {
  size_t n;
  plan_piece piece[]; /* then the names, each NUL-terminated */
};

/* What text splits into: its pieces and the bytes of their names. */
static void plan_count(const char *text, size_t *pieces, size_t *names) {
  template_piece pc;
  *pieces = *names = 0;
  for (const char *p = text; (p = template_next(p, &pc)) != NULL;) {
    char name[TEMPLATE_NAME_MAX];
    ++*pieces;
    if (pc.placeholder) {
      template_placeholder(pc.at, pc.len, name, sizeof name);
      *names += strlen(name) + 1;
    }
  }
}

size_t template_plan_size(const char *text) {
  size_t pieces, names;
  plan_count(text, &pieces, &names);
  return sizeof(template_plan) + pieces * sizeof(plan_piece) + names;
}

void template_plan_make(const char *text, template_plan *plan) {
  size_t pieces, names;
  char *name;
  template_piece pc;
  plan_count(text, &pieces, &names);
  plan->n = 0;
  name = (char *)(plan->piece + pieces);
  for (const char *p = text; (p = template_next(p, &pc)) != NULL;) {
    plan_piece *out = &plan->piece[plan->n++];
    out->at = pc.at;
    out->len = pc.len;
    out->name = NULL;
    out->fmt = TEMPLATE_FMT_NONE;
    if (pc.placeholder) {
      char cut[TEMPLATE_NAME_MAX];
      size_t n;
      out->fmt = template_placeholder(pc.at, pc.len, cut, sizeof cut);
      n = strlen(cut) + 1;
      memcpy(name, cut, n);
      out->name = name;
      name += n;
    }
  }
}

int template_render_plan(const template_plan *plan, const template_ctx *ctx,
                         char *buf, size_t size, size_t *len, rc_error *err) {
  render_out o = {buf, size, 0, ctx};
  *len = 0;
  for (size_t i = 0; i < plan->n; i++) {
    const plan_piece *pc = &plan->piece[i];
    int rc;
    if (!pc->name) {
      put(&o, pc->at, pc->len);
      continue;
    }
    if ((rc = render_placeholder(&o, pc->name, pc->fmt, pc->at, pc->len, err)))
      return rc;
  }
  render_end(&o, len);
  return RC_OK;
}
