#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uloc.h>

#include "case_input.h"
#include "input.h"
#include "jbuf.h"
#include "phone.h"
#include "template.h"

/* The keys a case is read from, by length: every column of every row is
 * looked up here (a walk of all 25 cost some 90 instructions a column). */
static int is_known(const char *key, size_t len) {
  static const char *const by_len[][4] = {
      [2] = {"id"},
      [4] = {"area", "fees", "data", "tags"},
      [5] = {"phone", "email", "score"},
      [6] = {"locale"},
      [7] = {"address", "product", "balance", "reduced"},
      [8] = {"timezone", "currency", "due_date", "borrower"},
      [9] = {"principal"},
      [10] = {"amount_due"},
      [11] = {"borrower_id"},
      [13] = {"borrower_name", "employer_name"},
      [14] = {"employer_phone", "do_not_contact"},
      [16] = {"employer_address"},
  };
  if (len >= sizeof by_len / sizeof by_len[0]) return 0;
  for (int i = 0; i < 4 && by_len[len][i]; i++)
    if (memcmp(by_len[len][i], key, len) == 0) return 1;
  return 0;
}

static int by_key(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Text without the bytes jansson and jb_quote escape differently. */
static int plain_text(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20) return 0;
  return 1;
}

/* The custom fields as json_dumps(COMPACT | SORT_KEYS) writes them. A
 * row's are a few text cells: written by hand (jansson's dump sorted
 * and copied more than the cells' parsing cost); anything else, or text
 * it would escape in its own way, goes through jansson. */
static char *data_text(json_t *data) {
  enum { MAX_KEYS = 32 };
  const char *keys[MAX_KEYS];
  size_t n = 0;
  const char *key;
  json_t *v;
  jbuf b = {0};
  if (json_object_size(data) > MAX_KEYS) goto jansson;
  json_object_foreach(data, key, v) {
    if (!json_is_string(v) || !plain_text(key) ||
        strlen(json_string_value(v)) != json_string_length(v) ||
        !plain_text(json_string_value(v)))
      goto jansson;
    keys[n++] = key;
  }
  qsort(keys, n, sizeof *keys, by_key);
  jb_lit(&b, "{");
  for (size_t i = 0; i < n; i++)
    jb_str(&b, keys[i], json_string_value(json_object_get(data, keys[i])));
  jb_lit(&b, "}");
  if (!b.oom) return b.p;
  free(b.p);
jansson:
  return json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
}

/* An object being read: its members found in one walk, each with its
 * key's length, and a bit a key (its length and first byte). A CSV row
 * gives some 9 of the 26 keys read: a bit not set is a miss without a
 * look-up, a bit set is found among the members (a hash look-up each
 * cost more than the walk). An object with more members than fit is
 * looked up in as before. Keys hold no NUL (jansson refuses one). */
enum { FIELDS_MAX = 32 };

typedef struct fields {
  json_t *obj;
  uint64_t keys;
  int n; /* members in at[]; -1: more than fit */
  struct member {
    const char *key;
    size_t len;
    json_t *v;
  } at[FIELDS_MAX];
} fields;

static uint64_t key_bit(const char *key, size_t len) {
  return (uint64_t)1 << ((len * 7 + (unsigned char)key[0]) & 63);
}

static void fields_of(fields *f, json_t *obj) {
  f->obj = obj;
  f->keys = 0;
  f->n = 0;
  for (void *it = json_object_iter(obj); it;
       it = json_object_iter_next(obj, it)) {
    const char *key = json_object_iter_key(it);
    size_t len = strlen(key);
    f->keys |= key_bit(key, len);
    if (f->n >= 0 && f->n < FIELDS_MAX)
      f->at[f->n++] = (struct member){key, len, json_object_iter_value(it)};
    else
      f->n = -1;
  }
}

static json_t *field_get(const fields *f, const char *key) {
  size_t len = strlen(key);
  if (!(f->keys & key_bit(key, len))) return NULL;
  if (f->n < 0) return json_object_get(f->obj, key);
  for (int i = 0; i < f->n; i++)
    if (f->at[i].len == len && memcmp(f->at[i].key, key, len) == 0)
      return f->at[i].v;
  return NULL;
}

/* A string field; "" in a CSV cell means absent. */
static int get_string(const fields *obj, const char *key, char **out,
                      size_t max, rc_error *err) {
  json_t *v = field_get(obj, key);
  const char *p;
  size_t len, i;
  *out = NULL;
  if (!v || json_is_null(v)) return RC_OK;
  if (!json_is_string(v))
    return rc_error_set(err, RC_EINVAL, key, "%s must be a string", key);
  if (json_string_length(v) == 0) return RC_OK;
  if (json_string_length(v) > max)
    return rc_error_set(err, RC_EINVAL, key, "%s is longer than %zu bytes", key,
                        max);
  /* One pass for both: a NUL anywhere is named before a control byte. */
  for (p = json_string_value(v), len = json_string_length(v), i = 0;
       i < len && (unsigned char)p[i] >= 0x20; i++)
    ;
  if (i < len && memchr(p + i, '\0', len - i))
    return rc_error_set(err, RC_EINVAL, key, "%s holds a NUL character", key);
  if (i < len)
    return rc_error_set(err, RC_EINVAL, key, "%s contains a control character",
                        key);
  /* Out of memory is said, never taken as the field left out: a due_date
   * lost so was "a new case needs due_date" on a row that had one, and a
   * product or an address lost so imported the row without it. */
  if (!(*out = malloc(len + 1)))
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  memcpy(*out, p, len + 1);
  return RC_OK;
}

/* An id: required, a string, printable (input_check_id). */
static int get_id(const fields *obj, const char *key, const char *field,
                  char **out, rc_error *err) {
  json_t *v = field_get(obj, key);
  *out = NULL;
  if (!v || json_is_null(v) || (json_is_string(v) && !json_string_length(v)))
    return rc_error_set(err, RC_EINVAL, field, "%s is required", field);
  if (!json_is_string(v))
    return rc_error_set(err, RC_EINVAL, field, "%s must be a string", field);
  if (input_check_id(json_string_value(v), json_string_length(v), field,
                     INPUT_ID_MAX, err) != RC_OK)
    return RC_EINVAL;
  *out = strdup(json_string_value(v));
  return *out ? RC_OK : rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
}

/* A flag: a JSON boolean, or in a CSV cell 1/true/yes, 0/false/no. */
static int get_flag(const fields *obj, const char *key, const char *field,
                    int text, int *out, rc_error *err) {
  json_t *v = field_get(obj, key);
  static const char *const yes[] = {"1", "true", "yes", NULL};
  static const char *const no[] = {"0", "false", "no", NULL};
  *out = 0;
  if (!v || json_is_null(v)) return RC_OK;
  if (json_is_boolean(v)) {
    *out = json_is_true(v);
    return RC_OK;
  }
  if (text && json_is_string(v)) {
    const char *s = json_string_value(v);
    if (!*s) return RC_OK;
    for (int i = 0; yes[i]; i++)
      if (strcasecmp(s, yes[i]) == 0) return *out = 1, RC_OK;
    for (int i = 0; no[i]; i++)
      if (strcasecmp(s, no[i]) == 0) return RC_OK;
    return rc_error_set(err, RC_EINVAL, field,
                        "%s must be 1, true or yes (or 0, false, no), not "
                        "'%.40s'",
                        field, s);
  }
  return rc_error_set(err, RC_EINVAL, field, "%s must be true or false", field);
}

/* A BCP 47 language tag ICU knows: "zh-CN", "en", "zh-Hans-CN". The
 * last tag found good is remembered: a file holds few locales. One a
 * thread: an import's reader and the simulation's workers parse rows off
 * the loop's thread.
 *
 * Extensions (a one-letter subtag: -u-, -t-, -x-) are refused, not
 * stripped: ICU honours -u- keys, so "zh-CN-u-ca-buddhist" would date a
 * reminder in the Buddhist era and "-u-nu-hanidec" write its amount in
 * Chinese numerals — the borrower's locale says which language and
 * conventions, the institution's formats the rest. A refusal names the
 * row; a silent rewrite would store a value the file did not hold. */
/* RFC 5646 2.2.8's grandfathered tags: whole tags from before BCP 47's
 * grammar, irregular ("i-klingon") or regular ("zh-min-nan"). ICU maps
 * some to a language it holds no formats for, which then formatted as
 * English ("i-klingon"), and "i-default" to a private-use keyword, which
 * was refused as an extension. None says a language and region. */
static int grandfathered(const char *tag) {
  static const char *const tags[] = {
      "art-lojban", "cel-gaulish", "en-gb-oed", "no-bok",   "no-nyn",
      "sgn-be-fr",  "sgn-be-nl",   "sgn-ch-de", "zh-guoyu", "zh-hakka",
      "zh-min",     "zh-min-nan",  "zh-xiang",  NULL};
  if ((tag[0] == 'i' || tag[0] == 'I') && tag[1] == '-') return 1;
  for (int i = 0; tags[i]; i++)
    if (strcasecmp(tag, tags[i]) == 0) return 1;
  return 0;
}

int case_input_check_locale(const char *tag, const char *field,
                            rc_error *err) {
  /* Room for a borrower's whole tag (32 bytes): one cut to fit matched
   * its own prefix, a tag never checked ("en-US-abcdef-bcdefg-cdefgh-abcd"
   * taken after the tag one letter longer). */
  static _Thread_local char last_ok[33];
  char buf[96], lang[16] = "", region[16] = "";
  int32_t parsed = 0;
  UErrorCode st = U_ZERO_ERROR;
  int found = 0;
  if (strcmp(tag, last_ok) == 0) return RC_OK;
  if (strchr(tag, '_')) goto bad;
  if (grandfathered(tag))
    return rc_error_set(err, RC_EINVAL, field,
                        "%s '%s' is a grandfathered tag (RFC 5646 2.2.8), "
                        "not a language and region: give one such as zh-CN "
                        "or en",
                        field, tag);
  if ((tag[0] == 'x' || tag[0] == 'X') && tag[1] == '-')
    return rc_error_set(err, RC_EINVAL, field,
                        "%s '%s' is a private-use tag, not a language and "
                        "region: give one such as zh-CN or en",
                        field, tag);
  for (const char *p = tag; *p; p += strcspn(p, "-"), p += *p == '-')
    if (p[0] && (p[1] == '-' || !p[1]) && p != tag)
      return rc_error_set(err, RC_EINVAL, field,
                          "%s '%s': extensions such as -%c- are not taken; "
                          "give the language and region only, such as "
                          "zh-CN or en",
                          field, tag, p[0]);
  uloc_forLanguageTag(tag, buf, sizeof buf, &parsed, &st);
  if (U_FAILURE(st) || parsed != (int32_t)strlen(tag)) goto bad;
  if (strchr(buf, '@')) /* a keyword ICU found another way */
    return rc_error_set(err, RC_EINVAL, field,
                        "%s '%s': extensions are not taken; give the "
                        "language and region only, such as zh-CN or en",
                        field, tag);
  uloc_getLanguage(buf, lang, sizeof lang, &st);
  uloc_getCountry(buf, region, sizeof region, &st);
  /* "und", "und-CN": a tag whose language is undetermined (ICU reads no
   * language in it), where a language to choose texts by is wanted. */
  if (!U_FAILURE(st) && !lang[0] && strncasecmp(tag, "und", 3) == 0 &&
      (!tag[3] || tag[3] == '-'))
    return rc_error_set(err, RC_EINVAL, field,
                        "%s '%s' says the language is undetermined; give "
                        "the language to write in, such as zh-CN or en%s",
                        field, tag,
                        strcmp(field, "locale") == 0
                            ? " (or leave it empty, or 'und' alone, for the "
                              "institution's)"
                            : "");
  if (U_FAILURE(st) || !lang[0]) goto bad;
  for (const char *const *l = uloc_getISOLanguages(); *l && !found; l++)
    found = strcmp(*l, lang) == 0;
  if (!found)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s '%s': '%s' is not a language ICU knows", field,
                        tag, lang);
  if (region[0] && !isdigit((unsigned char)region[0])) {
    found = 0;
    for (const char *const *c = uloc_getISOCountries(); *c && !found; c++)
      found = strcmp(*c, region) == 0;
    if (!found)
      return rc_error_set(err, RC_EINVAL, field,
                          "%s '%s': '%s' is not a region ICU knows", field,
                          tag, region);
  }
  if (strlen(tag) < sizeof last_ok) memcpy(last_ok, tag, strlen(tag) + 1);
  return RC_OK;
bad:
  return rc_error_set(err, RC_EINVAL, field,
                      "%s '%s' is not a language tag such as zh-CN or en "
                      "(BCP 47: parts joined by '-')",
                      field, tag);
}

/* The most any amount may be, in minor units. */
#define MONEY_BOUND 1000000000000000LL

/* A cell of 1 to 15 digits and nothing else (under get_money's bound),
 * read here: strtoll cost some 180 instructions a cell. 0: anything
 * else, left to strtoll. */
static int plain_digits(const char *s, rc_money *out) {
  rc_money v = 0;
  int n = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    if (++n > 15) return 0;
    v = v * 10 + (*s - '0');
  }
  if (*s || n == 0) return 0;
  *out = v;
  return 1;
}

/* What a spreadsheet's money cell most likely meant, for its refusal:
 * "4,724.44" (yuan with a separator and decimals), "¥1,200",
 * "１２３４５００" (full-width digits look like 1234500 on a screen, so a
 * refusal quoting them alone reads as refusing a plain number). A
 * currency sign or a separator without decimals is a figure as a sheet
 * shows money, most likely in yuan or dollars: "¥1,200" is 120000 fen,
 * and a hint of 1200 alone, written as told, would state the debt a
 * hundredth of itself; both readings are given. The minor unit is the
 * row's currency's (cur) as ICU has it: JPY and VND have none, KWD and
 * BHD thousandths, where a hint in fen would be off a hundred or ten
 * times. Writes the hint to buf and returns 1; 0 for anything else. */
static int money_hint(const char *s, const char *cur, char *buf,
                      size_t size) {
  static const char fullwidth[] = "\xEF\xBC"; /* U+FF00..U+FF3F */
  static const char *const parts[] = {"", "tenths", "", "thousandths",
                                      "ten-thousandths"};
  static const long long pow10[] = {1, 10, 100, 1000, 10000};
  char digits[24], unit[48];
  size_t n = 0, zeros;
  long long minor;
  int decimals = -1, odd = 0, shown = 0, d = template_currency_digits(cur);
  const unsigned char *p = (const unsigned char *)s;
  if (strncmp(s, "$", 1) == 0 || strncmp(s, "\xC2\xA5", 2) == 0 ||
      strncmp(s, "\xEF\xBF\xA5", 3) == 0) { /* $, ¥, ￥ */
    p += *p == '$' ? 1 : *p == 0xC2 ? 2 : 3;
    odd = shown = 1;
  }
  while (*p) {
    int wide = memcmp(p, fullwidth, 2) == 0, c = wide ? p[2] : *p;
    if (wide && c >= 0x90 && c <= 0x99) c = '0' + c - 0x90; /* ０..９ */
    else if (wide && c == 0x8C) c = ',';                     /* ， */
    else if (wide && c == 0x8E) c = '.';                     /* ． */
    else if (wide) return 0;
    p += wide ? 3 : 1;
    odd |= wide;
    if (c >= '0' && c <= '9') {
      if (n + 6 >= sizeof digits || decimals >= 4) return 0;
      digits[n++] = (char)c;
      if (decimals >= 0) decimals++;
    } else if (c == ',' && n > 0 && decimals < 0) {
      odd = shown = 1;
    } else if (c == '.' && n > 0 && decimals < 0) {
      decimals = 0;
    } else {
      return 0;
    }
  }
  if (n == 0 || decimals == 0) return 0;
  if (decimals < 0 && !odd) return 0;
  /* Decimals beyond the currency's are a figure it cannot hold unless
   * they are zeros (JPY's "1,200.00"). */
  for (; decimals > d; decimals--)
    if (digits[--n] != '0') return 0;
  if (decimals >= 0)
    while (decimals++ < d) digits[n++] = '0';
  digits[n] = '\0';
  zeros = strspn(digits, "0");
  if (zeros == n) zeros = n - 1;
  /* A figure to write that get_money then refuses as implausibly large
   * is no hint ("99,999,999,999,999.99" was told 9999999999999999):
   * say the bound; where only the major-unit reading passes it, that
   * reading is left out. */
  minor = strtoll(digits + zeros, NULL, 10); /* saturates: still too big */
  if (minor > MONEY_BOUND) {
    snprintf(buf, size,
             " (that is %s minor units, more than recoup takes: 10^15)",
             digits + zeros);
    return 1;
  }
  if (minor > MONEY_BOUND / pow10[d]) shown = 0;
  snprintf(unit, sizeof unit, "%s's %s", cur, parts[d]);
  if (d == 2 && decimals > 0)
    snprintf(buf, size,
             " (an amount with decimals: in fen or cents, that is %s)",
             digits + zeros);
  else if (d == 2 && shown && digits[zeros] != '0')
    snprintf(buf, size,
             " (as a sheet shows money: if that is %s yuan or dollars, "
             "write %s00, in fen or cents; if the sheet holds fen or cents "
             "already, %s)",
             digits + zeros, digits + zeros, digits + zeros);
  else if (d != 2 && decimals > 0 && d > 0)
    snprintf(buf, size, " (an amount with decimals: in %s, that is %s)", unit,
             digits + zeros);
  else if (d != 2 && decimals > 0)
    snprintf(buf, size,
             " (an amount with decimals: %s has no minor unit, that is %s)",
             cur, digits + zeros);
  else if (d > 0 && d != 2 && shown && digits[zeros] != '0')
    snprintf(buf, size,
             " (as a sheet shows money: if that is %s %s, write %s%.*s, in "
             "%s; if the sheet holds %s already, %s)",
             digits + zeros, cur, digits + zeros, d, "0000", unit, parts[d],
             digits + zeros);
  else
    snprintf(buf, size, " (write it with the digits 0-9 alone: %s)",
             digits + zeros);
  return 1;
}

/* What a currency's minor unit is, for a refusal of an amount: "fen,
 * cents", or where it has none or other than hundredths, what it is. */
static const char *minor_unit(const char *cur, char *buf, size_t size) {
  int d = template_currency_digits(cur);
  if (d == 2) return "fen, cents";
  if (d == 0)
    snprintf(buf, size, "%s has none: whole %s", cur, cur);
  else
    snprintf(buf, size, "%s has %d decimals: %s for 1.%.*s", cur, d,
             d == 1 ? "10" : d == 3 ? "1000" : "10000", d, "0000");
  return buf;
}

/* A date as a Chinese sheet writes it, year first: "2026/2/28",
 * "2026.2.28", "2026-2-8", "2026年2月28日" (Excel and WPS save a date cell
 * so), a time after it or not. Writes " (write 2026-02-28)" to buf and
 * returns 1 when it names a real day; 0 for anything else, the
 * day-first and month-first forms included (which one was meant cannot
 * be told). */
static int date_hint(const char *s, char *buf, size_t size) {
  static const char *const seps[] = {"/", "-", ".", "\xE5\xB9\xB4" /* 年 */,
                                     "\xE6\x9C\x88" /* 月 */};
  int part[3] = {0, 0, 0};
  char iso[16];
  rc_date d;
  size_t digits = strspn(s, "0123456789");
  /* A date cell saved as a number: 20260105, or the day number a sheet
   * keeps under a cell formatted as General (46027, days since Excel's
   * 1899-12-30; 36526 to 73050 are the years 2000 to 2099). */
  if (digits == strlen(s) && (digits == 8 || digits == 5)) {
    long n = strtol(s, NULL, 10);
    if (digits == 8) {
      snprintf(iso, sizeof iso, "%.4s-%.2s-%.2s", s, s + 4, s + 6);
      if (clock_parse_date(iso, &d) != RC_OK) return 0;
      snprintf(buf, size, " (write %s)", iso);
      return 1;
    }
    if (n < 36526 || n > 73050) return 0;
    d = clock_date_from_days(n - 25569);
    clock_date_format(&d, iso, sizeof iso);
    snprintf(buf, size,
             " (a sheet's day number? in Excel and WPS %s is %s: format "
             "the column as yyyy-mm-dd before saving)",
             s, iso);
    return 1;
  }
  for (int k = 0; k < 3; k++) {
    int n = 0;
    for (; *s >= '0' && *s <= '9' && n < 4; s++, n++)
      part[k] = part[k] * 10 + (*s - '0');
    if (k == 0 ? n != 4 : (n < 1 || n > 2)) return 0;
    if (k == 2) break;
    size_t i = 0;
    while (i < sizeof seps / sizeof seps[0] &&
           strncmp(s, seps[i], strlen(seps[i])) != 0)
      i++;
    if (i == sizeof seps / sizeof seps[0]) return 0;
    s += strlen(seps[i]);
  }
  if (strncmp(s, "\xE6\x97\xA5" /* 日 */, 3) == 0) s += 3;
  /* A date-time column's time (Excel's "2026/2/28 0:00", a database
   * export's "2026-02-28 00:00:00"): the day is the date's. */
  if ((*s == ' ' || *s == 'T') && s[1] >= '0' && s[1] <= '9') {
    s += 2; /* the separator and the hour's first digit */
    if (*s >= '0' && *s <= '9') s++;
    if (*s != ':') return 0;
    for (int k = 0; k < 2 && *s == ':'; k++, s += 3)
      if (!(s[1] >= '0' && s[1] <= '5' && s[2] >= '0' && s[2] <= '9'))
        return 0;
  }
  if (*s) return 0;
  snprintf(iso, sizeof iso, "%04d-%02d-%02d", part[0], part[1], part[2]);
  if (clock_parse_date(iso, &d) != RC_OK) return 0;
  snprintf(buf, size, " (write %s)", iso);
  return 1;
}

/* Money: a whole number of minor units, >= 0. */
static int get_money(const fields *obj, const char *key, int text,
                     const char *cur, rc_money *out, int *present,
                     rc_error *err) {
  json_t *v = field_get(obj, key);
  char unit[64];
  *present = 0;
  if (!v || json_is_null(v)) return RC_OK;
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
  } else if (text && json_is_string(v)) {
    const char *s = json_string_value(v);
    if (!*s) return RC_OK;
    if (!plain_digits(s, out)) {
      char *end;
      errno = 0;
      *out = strtoll(s, &end, 10);
      if (*end || errno || !(isdigit((unsigned char)*s) || *s == '-')) {
        char hint[200] = "";
        money_hint(s, cur, hint, sizeof hint);
        return rc_error_set(err, RC_EINVAL, key,
                            "%s must be a whole number of minor units (%s), "
                            "got '%s'%s",
                            key, minor_unit(cur, unit, sizeof unit), s, hint);
      }
    }
  } else if (json_is_real(v)) {
    return rc_error_set(err, RC_EINVAL, key,
                        "%s must be a whole number of minor units (%s), "
                        "not %g",
                        key, minor_unit(cur, unit, sizeof unit),
                        json_real_value(v));
  } else {
    return rc_error_set(err, RC_EINVAL, key,
                        "%s must be a whole number of minor units", key);
  }
  if (*out < 0)
    return rc_error_set(err, RC_EINVAL, key, "%s must not be negative (%lld)",
                        key, (long long)*out);
  if (*out > MONEY_BOUND)
    return rc_error_set(err, RC_EINVAL, key, "%s is implausibly large", key);
  *present = 1;
  return RC_OK;
}

/* A phone number as given, to E.164 in out (at least 17 bytes), or an
 * error naming what (the field) and why. */
static int phone_field(const char *s, const char *country, char *out,
                       const char *field, const char *what, rc_error *err) {
  int rc = phone_normalize(s, country, out, 17);
  if (rc != PHONE_OK) {
    /* Full-width digits (a Chinese input method's １３９) look like 139
     * on a screen: a refusal quoting them alone reads as refusing a good
     * number. */
    const char *wide = strstr(s, "\xEF\xBC");
    int fullwidth = wide && (unsigned char)wide[2] >= 0x90 &&
                    (unsigned char)wide[2] <= 0x99;
    return rc_error_set(err, RC_EINVAL, field, "%s '%s' %s%s", what, s,
                        phone_problem(rc),
                        fullwidth ? " (it has full-width digits: write it "
                                    "with 0-9)"
                                  : "");
  }
  return RC_OK;
}

/* A contact whose copy failed is an error, not a contact without its
 * number (get_string). */
static int add_contact(store_borrower *b, const char *kind, const char *value,
                       const char *name, const char *relation, rc_error *err) {
  store_contact *c =
      realloc(b->contacts, (size_t)(b->ncontacts + 1) * sizeof *c);
  if (!c) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  b->contacts = c;
  c += b->ncontacts++;
  c->kind = strdup(kind);
  c->value = value ? strdup(value) : NULL;
  c->name = name ? strdup(name) : NULL;
  c->relation = relation ? strdup(relation) : NULL;
  if (!c->kind || (value && !c->value) || (name && !c->name) ||
      (relation && !c->relation))
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  return RC_OK;
}

/* phones / emails: an array of strings or one string. */
static int get_points(const fields *obj, const char *plural, const char *single,
                      const char *kind, const char *country, store_borrower *b,
                      int *present, rc_error *err) {
  json_t *v = field_get(obj, plural);
  size_t i;
  json_t *item;
  if (!v) v = field_get(obj, single);
  if (!v || json_is_null(v)) return RC_OK;
  if (json_is_string(v)) {
    /* One point, as a CSV cell gives it: read where it is, not through
     * a list made for it (a list and its free a row). */
    const char *s = json_string_value(v);
    char e164[17];
    int rc = RC_OK;
    if (json_string_length(v) == 0) return RC_OK;
    if (strcmp(kind, "phone") == 0) {
      if ((rc = phone_field(s, country, e164, single, single, err)) == RC_OK)
        rc = add_contact(b, kind, e164, NULL, NULL, err);
    } else if (strcmp(kind, "email") == 0 && !strchr(s, '@')) {
      rc = rc_error_set(err, RC_EINVAL, single,
                        "%s '%s' is not an email address", single, s);
    } else {
      rc = add_contact(b, kind, s, NULL, NULL, err);
    }
    *present = 1;
    return rc;
  }
  if (!json_is_array(v))
    return rc_error_set(err, RC_EINVAL, plural, "%s must be a list of strings",
                        plural);
  json_array_foreach(v, i, item) {
    const char *s = json_string_value(item);
    char e164[17], what[32];
    if (!s)
      return rc_error_set(err, RC_EINVAL, plural, "%s[%zu] must be a string",
                          plural, i + 1);
    if (strcmp(kind, "phone") == 0) {
      int rc;
      snprintf(what, sizeof what, "%s[%zu]", plural, i + 1);
      if ((rc = phone_field(s, country, e164, plural, what, err)) ||
          (rc = add_contact(b, kind, e164, NULL, NULL, err)))
        return rc;
      continue;
    }
    if (strcmp(kind, "email") == 0 && !strchr(s, '@'))
      return rc_error_set(err, RC_EINVAL, plural,
                          "%s[%zu] '%s' is not an email address", plural, i + 1,
                          s);
    if (add_contact(b, kind, s, NULL, NULL, err)) return RC_ENOMEM;
  }
  *present = 1;
  return RC_OK;
}

static int parse_borrower(const fields *obj, json_t *nested, int text,
                          rc_clock *clk, const char *country, store_borrower *b,
                          rc_error *err) {
  fields inner;
  const fields *src = obj;
  int rc, present = 0;
  b->ncontacts = 0;
  if (nested) {
    fields_of(&inner, nested);
    src = &inner;
    if ((rc = get_id(src, "id", "borrower.id", &b->id, err))) return rc;
    if ((rc = get_string(src, "name", &b->name, 256, err))) return rc;
  } else {
    if ((rc = get_id(obj, "borrower_id", "borrower_id", &b->id, err)))
      return rc;
    if ((rc = get_string(obj, "borrower_name", &b->name, 256, err))) return rc;
  }
  if ((rc = get_string(src, "locale", &b->locale, 32, err))) return rc;
  /* BCP 47's "undetermined": a tag, saying the language is not known,
   * which is what no locale says. Taken so (the institution's texts and
   * formats; a known borrower keeps the locale the book holds), not
   * refused as "not a language tag" nor stored for ICU's root formats. */
  if (b->locale && strcasecmp(b->locale, "und") == 0) {
    free(b->locale);
    b->locale = NULL;
  }
  if (b->locale && case_input_check_locale(b->locale, "locale", err) != RC_OK)
    return RC_EINVAL;
  if ((rc = get_string(src, "timezone", &b->timezone, 63, err))) return rc;
  if (b->timezone && !clock_zone_get(clk, b->timezone, err)) {
    snprintf(err->field, sizeof err->field, "timezone");
    return RC_EINVAL;
  }
  if ((rc = get_string(src, "address", &b->address, 512, err))) return rc;
  /* A field officer's visits are grouped by it (a district, a route). */
  if ((rc = get_string(src, "area", &b->area, 128, err))) return rc;
  if (nested && json_object_get(nested, "employer") &&
      !json_is_null(json_object_get(nested, "employer")) &&
      !json_is_object(json_object_get(nested, "employer")))
    return rc_error_set(err, RC_EINVAL, "borrower.employer",
                        "borrower.employer must be an object { name, phone, "
                        "address }");
  if (nested && json_is_object(json_object_get(nested, "employer"))) {
    fields e;
    fields_of(&e, json_object_get(nested, "employer"));
    if ((rc = get_string(&e, "name", &b->employer_name, 256, err))) return rc;
    if ((rc = get_string(&e, "phone", &b->employer_phone, 64, err))) return rc;
    if ((rc = get_string(&e, "address", &b->employer_address, 512, err)))
      return rc;
  } else {
    if ((rc = get_string(src, "employer_name", &b->employer_name, 256, err)))
      return rc;
    if ((rc = get_string(src, "employer_phone", &b->employer_phone, 64, err)))
      return rc;
    if ((rc = get_string(src, "employer_address", &b->employer_address, 512,
                         err)))
      return rc;
  }
  if (b->employer_phone) {
    char e164[17];
    if ((rc = phone_field(b->employer_phone, country, e164, "employer_phone",
                          "employer_phone", err)))
      return rc;
    free(b->employer_phone);
    if (!(b->employer_phone = strdup(e164)))
      return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  if ((rc = get_points(src, "phones", "phone", "phone", country, b, &present,
                       err)))
    return rc;
  if ((rc = get_points(src, "emails", "email", "email", country, b, &present,
                       err)))
    return rc;
  if (nested) {
    json_t *contacts = json_object_get(nested, "contacts"), *item;
    size_t i;
    if (contacts && !json_is_array(contacts))
      return rc_error_set(err, RC_EINVAL, "borrower.contacts",
                          "borrower.contacts must be a list of { name, "
                          "relation, phone }");
    json_array_foreach(contacts, i, item) {
      char e164[17];
      const char *name = json_string_value(json_object_get(item, "name"));
      const char *rel = json_string_value(json_object_get(item, "relation"));
      const char *phone = json_string_value(json_object_get(item, "phone"));
      if (!json_is_object(item) || !name || !rel)
        return rc_error_set(err, RC_EINVAL, "borrower.contacts",
                            "borrower.contacts[%zu] needs a name and a "
                            "relation",
                            i + 1);
      if (!phone && json_object_get(item, "phone") &&
          !json_is_null(json_object_get(item, "phone")))
        return rc_error_set(err, RC_EINVAL, "borrower.contacts",
                            "borrower.contacts[%zu].phone must be a string",
                            i + 1);
      if (phone) {
        char what[48];
        snprintf(what, sizeof what, "borrower.contacts[%zu].phone", i + 1);
        if ((rc = phone_field(phone, country, e164, "borrower.contacts", what,
                              err)))
          return rc;
      }
      if ((rc = add_contact(b, "third_party", phone ? e164 : NULL, name, rel,
                            err)))
        return rc;
      present = 1;
    }
  }
  if ((rc = get_flag(src, "do_not_contact",
                     nested ? "borrower.do_not_contact" : "do_not_contact",
                     text, &b->do_not_contact, err)))
    return rc;
  if (!present) b->ncontacts = -1; /* keep what the store has */
  return RC_OK;
}

int case_input_parse(json_t *obj, int text, rc_clock *clk,
                     const char *default_currency, const char *country,
                     case_input *in, rc_error *err) {
  static const struct {
    const char *key;
    unsigned bit;
    size_t offset;
  } money[] = {
      {"principal", IN_PRINCIPAL, offsetof(store_case, principal)},
      {"balance", IN_BALANCE, offsetof(store_case, balance)},
      {"amount_due", IN_AMOUNT_DUE, offsetof(store_case, amount_due)},
      {"fees", IN_FEES, offsetof(store_case, fees)},
      /* recoup's own, given only to restate it in a case's new
       * currency (engine.c, currency_restated) */
      {"reduced", IN_REDUCED, offsetof(store_case, reduced)},
  };
  store_case *c = &in->c;
  json_t *v, *nested;
  const char *key;
  int rc, present, checked = text & CASE_INPUT_CHECKED;
  fields top;

  text &= ~CASE_INPUT_CHECKED;
  memset(in, 0, sizeof *in);
  in->data = json_object();
  if (!json_is_object(obj))
    return rc_error_set(err, RC_EINVAL, NULL, "a case must be an object");
  if (!checked) {
    /* NUL anywhere, custom fields too: C strings would cut the text there
     * (an id MF00001\0EVIL named case MF00001). */
    char path[sizeof err->field];
    if (input_json_find_nul(obj, path, sizeof path))
      return rc_error_set(err, RC_EINVAL, path, "%s holds a NUL character",
                          path);
  }
  fields_of(&top, obj);
  if ((rc = get_id(&top, "id", "id", &c->id, err))) return rc;
  nested = field_get(&top, "borrower");
  if (nested && !json_is_object(nested))
    return rc_error_set(err, RC_EINVAL, "borrower",
                        "borrower must be an object with an id");
  if ((rc = parse_borrower(&top, nested, text, clk, country, &in->b, err)))
    return rc;
  if (!(c->borrower_id = strdup(in->b.id)))
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  if (in->b.ncontacts >= 0) in->present |= IN_CONTACTS;

  if ((rc = get_string(&top, "product", &c->product, 64, err))) return rc;
  if (c->product) in->present |= IN_PRODUCT;
  /* Every case has a currency. Left out (or null) it is the
   * institution's, as an empty cell of a sheet; an empty string in JSON
   * is a feed's mapping that lost the column: a dollar loan booked in
   * yuan unsaid. */
  v = text ? NULL : field_get(&top, "currency");
  if (v && json_is_string(v) && json_string_length(v) == 0)
    return rc_error_set(err, RC_EINVAL, "currency",
                        "currency is empty: leave it out for the "
                        "institution's (%s), or give the case's ISO 4217 "
                        "code",
                        default_currency);
  if ((rc = get_string(&top, "currency", &c->currency, 3, err))) return rc;
  if (c->currency) {
    const char *why = template_currency_refused(c->currency);
    if (why)
      return rc_error_set(err, RC_EINVAL, "currency", "currency '%s' %s",
                          c->currency, why);
    in->present |= IN_CURRENCY;
  } else if (!(c->currency = strdup(default_currency))) {
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  for (size_t i = 0; i < sizeof money / sizeof money[0]; i++) {
    rc_money *dst = (rc_money *)((char *)c + money[i].offset);
    if ((rc = get_money(&top, money[i].key, text, c->currency, dst, &present,
                        err)))
      return rc;
    if (present) in->present |= money[i].bit;
  }
  /* An update that gives one of the two is checked against the stored
   * other by the engine. */
  if ((in->present & IN_AMOUNT_DUE) && (in->present & IN_BALANCE) &&
      (rc = case_input_check_money(c, err)))
    return rc;
  if ((rc = get_string(&top, "due_date", &c->due_date, 10, err))) {
    json_t *given = field_get(&top, "due_date");
    char hint[160];
    if (text && json_is_string(given) &&
        date_hint(json_string_value(given), hint, sizeof hint))
      snprintf(err->message, sizeof err->message,
               "due_date '%s' is not a date such as 2026-01-31%s",
               json_string_value(given), hint);
    else if (err->field[0])
      snprintf(err->message, sizeof err->message,
               "due_date must be a date such as 2026-01-31");
    return rc;
  }
  if (c->due_date) {
    rc_date d;
    if (clock_parse_date(c->due_date, &d) != RC_OK) {
      char hint[160] = "";
      if (text) date_hint(c->due_date, hint, sizeof hint);
      return rc_error_set(err, RC_EINVAL, "due_date",
                          "due_date '%s' is not a date such as 2026-01-31%s",
                          c->due_date, hint);
    }
    in->present |= IN_DUE_DATE;
  }
  v = field_get(&top, "score");
  if (v && !json_is_null(v) && !(json_is_string(v) && !json_string_length(v))) {
    if (json_is_number(v)) {
      c->score = json_number_value(v);
    } else if (text && json_is_string(v)) {
      char *end;
      c->score = strtod(json_string_value(v), &end);
      if (*end)
        return rc_error_set(err, RC_EINVAL, "score",
                            "score '%s' is not a number", json_string_value(v));
    } else {
      return rc_error_set(err, RC_EINVAL, "score", "score must be a number");
    }
    if (!isfinite(c->score))
      return rc_error_set(err, RC_EINVAL, "score", "score must be a number");
    c->has_score = 1;
    in->present |= IN_SCORE;
  }
  v = field_get(&top, "tags");
  if (v && text && json_is_string(v) && json_string_length(v)) {
    /* A CSV cell: tags separated by ';'. */
    json_t *list = json_array();
    const char *p = json_string_value(v);
    while (*p) {
      size_t n = strcspn(p, ";");
      if (n) json_array_append_new(list, json_stringn(p, n));
      p += n;
      if (*p) p++;
    }
    c->tags = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    in->present |= IN_TAGS;
  } else if (v && json_is_array(v)) {
    size_t i;
    json_t *t;
    json_array_foreach(v, i, t) {
      if (!json_is_string(t))
        return rc_error_set(err, RC_EINVAL, "tags",
                            "tags must be a list of strings (tags[%zu] is "
                            "not)",
                            i + 1);
      if (json_string_length(t) == 0 || json_string_length(t) > 64)
        return rc_error_set(err, RC_EINVAL, "tags",
                            "tags[%zu] must be 1 to 64 bytes", i + 1);
    }
    c->tags = json_dumps(v, JSON_COMPACT);
    in->present |= IN_TAGS;
  } else if (v && !json_is_null(v) && !(text && json_is_string(v))) {
    return rc_error_set(err, RC_EINVAL, "tags",
                        "tags must be a list of strings such as [\"vip\"]");
  }
  v = field_get(&top, "data");
  if (v && json_is_object(v)) {
    json_object_update(in->data, v);
  } else if (v && !json_is_null(v)) {
    return rc_error_set(err, RC_EINVAL, "data", "data must be an object");
  }
  /* Any other column lands in case.data: one that reads as a contact
   * column is named for a warning (its phone is never sent to). */
  for (int i = 0; i < top.n; i++) {
    v = top.at[i].v;
    if (is_known(top.at[i].key, top.at[i].len) ||
        (text && json_is_string(v) && json_string_length(v) == 0))
      continue;
    json_object_set(in->data, top.at[i].key, v);
    if (!in->contact_key[0] && json_is_string(v) &&
        case_input_contact_like(top.at[i].key, top.at[i].len))
      rc_copy(in->contact_key, sizeof in->contact_key, top.at[i].key);
  }
  if (top.n < 0) {
    json_object_foreach(obj, key, v) {
      if (is_known(key, strlen(key)) ||
          (text && json_is_string(v) && json_string_length(v) == 0))
        continue;
      json_object_set(in->data, key, v);
      if (!in->contact_key[0] && json_is_string(v) &&
          case_input_contact_like(key, strlen(key)))
        rc_copy(in->contact_key, sizeof in->contact_key, key);
    }
  }
  if (json_object_size(in->data) > 0) in->present |= IN_DATA;
  c->data = data_text(in->data);
  return RC_OK;
}

int case_input_contact_like(const char *key, size_t len) {
  /* One pass, a look only where a word could start: a data key costs
   * a few instructions a byte (import, 100k rows: see docs/import.md). */
  for (size_t i = 0; i < len; i++) {
    const char *p = key + i;
    size_t left = len - i;
    switch ((unsigned char)*p | 0x20) {
    case 'p':
      if (left >= 5 && strncasecmp(p, "phone", 5) == 0) return 1;
      break;
    case 'e':
      if (left >= 5 && strncasecmp(p, "email", 5) == 0) return 1;
      break;
    case 'm':
      if (left >= 6 && strncasecmp(p, "mobile", 6) == 0) return 1;
      break;
    case 0xE7: /* 电话 */
      if (left >= 6 && !memcmp(p, "\xE7\x94\xB5\xE8\xAF\x9D", 6)) return 1;
      break;
    case 0xE6: /* 手机 */
      if (left >= 6 && !memcmp(p, "\xE6\x89\x8B\xE6\x9C\xBA", 6)) return 1;
      break;
    }
  }
  return 0;
}

const char *case_input_contact_key(json_t *obj) {
  const char *key;
  json_t *v;
  if (!json_is_object(obj)) return NULL;
  json_object_foreach(obj, key, v) {
    if (json_is_string(v) && json_string_length(v) > 0 &&
        !is_known(key, strlen(key)) &&
        case_input_contact_like(key, strlen(key)))
      return key;
  }
  return NULL;
}

/* DESIGN "Balance and amount due": the balance is everything owed, fees
 * included; what is overdue now is part of it. */
int case_input_check_money(const store_case *c, rc_error *err) {
  if (c->amount_due > c->balance)
    return rc_error_set(err, RC_EINVAL, "amount_due",
                        "amount_due (%lld) is more than the balance (%lld), "
                        "which includes everything owed",
                        (long long)c->amount_due, (long long)c->balance);
  return RC_OK;
}

void case_input_free(case_input *in) {
  store_case_free(&in->c);
  store_borrower_free(&in->b);
  json_decref(in->data);
  memset(in, 0, sizeof *in);
}
