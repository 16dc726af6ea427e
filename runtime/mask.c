/* What counts as a contact point, and what does not.
 *
 * E-mail: anything of the shape local@domain (ASCII or UTF-8 letters, the
 * full-width ＠ too) becomes its first character, "***@***" and the last
 * label of the domain: `w***@***.com`.
 *
 * Phone: digits (ASCII or full-width) with up to three separators between
 * groups — space, . - ( ) / _ and their full-width, ideographic and
 * typographic forms — and an optional leading + or (: `+86.138.0000.1234`,
 * `+86 138-0000-1234`, `(010) 6552 9988`, `１３８ ００００ １２３４`. Six
 * digits or more are masked but the last three, the separators kept:
 * `+**.***.****.*234`. A lone run of six digits or more (an account or ID
 * number) goes the same way.
 *
 * Kept as written, because logs need them and they are not contact
 * points: ISO dates (`2026-01-05`, `2026/01/05`), times with their
 * fraction (`19:17:42.123456`), compact stamps (`20261204T191742Z`, a
 * scheduled backup's name), dotted IPv4 addresses (`127.0.0.1`), and
 * anything shorter than six digits (ids like MF00001, line numbers,
 * amounts under a million minor units). A date or a time also ends a
 * phone-like span before it, so that "(2026-12-04T19:17:42+08:00)" or
 * "case 17 2026-12-04" keep their date; a phone number written in the
 * shape of a date (4-2-2 digits) is therefore not masked.
 *
 * Kept too, because they are recoup's own words and a reader needs them
 * whole: a count with its unit, plain ASCII digits then a space and one
 * of the units recoup writes (`10000000 instructions`, `268435456
 * bytes`, `1000000 rows`, `256 MB`), and a script's line number of up
 * to seven digits (`recoup.lua:123456:`). A phone number carries no unit and follows no
 * `.lua:`, so one in a script's error() text is masked still. */
#include <string.h>

#include "mask.h"

enum { OTHER, DIGIT, SEP, PLUS, OPEN };

enum { MIN_DIGITS = 6, KEEP_DIGITS = 3, MAX_SEPS = 3 };

/* The kind of the character at s (of n bytes left): its length in *len,
 * its digit value in *value for DIGIT. */
static int unit(const unsigned char *s, size_t n, size_t *len, int *value) {
  *len = 1;
  if (s[0] >= '0' && s[0] <= '9') {
    *value = s[0] - '0';
    return DIGIT;
  }
  if (s[0] == '+') return PLUS;
  if (s[0] == '(') return OPEN;
  if (strchr(" .-)/_\t", s[0]) && s[0]) return SEP;
  if (s[0] < 0x80) return OTHER;
  /* the length of a UTF-8 character, however broken */
  if (s[0] >= 0xf0 && n >= 4)
    *len = 4;
  else if (s[0] >= 0xe0 && n >= 3)
    *len = 3;
  else if (s[0] >= 0xc0 && n >= 2)
    *len = 2;
  if (*len == 2 && s[0] == 0xc2 && (s[1] == 0xb7 || s[1] == 0xa0))
    return SEP; /* middle dot, no-break space */
  if (*len == 3 && s[0] == 0xef && s[1] == 0xbc) {
    if (s[2] >= 0x90 && s[2] <= 0x99) {
      *value = s[2] - 0x90; /* full-width digits */
      return DIGIT;
    }
    if (s[2] == 0x8b) return PLUS;
    if (s[2] == 0x88) return OPEN;
    if (s[2] == 0x89 || s[2] == 0x8d || s[2] == 0x8e || s[2] == 0x8f)
      return SEP;
  }
  if (*len == 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
    return SEP; /* ideographic space */
  if (*len == 3 && s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0x90 && s[2] <= 0x95)
    return SEP; /* hyphens and dashes */
  if (*len == 3 && s[0] == 0xe2 && s[1] == 0x88 && s[2] == 0x92)
    return SEP; /* minus sign */
  return OTHER;
}

static int is_local_char(unsigned char ch) {
  return ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+/=?^_`{|}~.-", ch));
}

static int is_domain_char(unsigned char ch) {
  return ch >= 0x80 || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
}

/* An '@' (or ＠) at s[i]: its length, else 0. */
static size_t at_sign(const unsigned char *s, size_t i, size_t n) {
  if (s[i] == '@') return 1;
  if (i + 2 < n && s[i] == 0xef && s[i + 1] == 0xbc && s[i + 2] == 0xa0)
    return 3;
  return 0;
}

/* The next e-mail address in s[i..n): its start, its '@' and its end, or
 * 0. Its local part begins no earlier than i. */
static int next_email(const unsigned char *s, size_t n, size_t i, size_t *from,
                      size_t *at, size_t *end) {
  for (size_t p = i; p < n; p++) {
    size_t a = at_sign(s, p, n), f = p, e;
    if (!a) continue;
    while (f > i && is_local_char(s[f - 1])) f--;
    e = p + a;
    while (e < n && is_domain_char(s[e])) e++;
    while (e > p + a && s[e - 1] == '.') e--; /* the end of a sentence */
    if (f == p || e == p + a) continue;
    *from = f;
    *at = p;
    *end = e;
    return 1;
  }
  return 0;
}

typedef struct out {
  char *buf;
  size_t size, len;
  int full;
} out;

static void put(out *o, const unsigned char *s, size_t n) {
  if (o->full || o->len + n + 1 > o->size) {
    o->full = 1;
    return;
  }
  memcpy(o->buf + o->len, s, n);
  o->len += n;
}

static void put_email(out *o, const unsigned char *s, size_t from, size_t at,
                      size_t end) {
  size_t first, dot = end, a = s[at] == '@' ? 1 : 3;
  int v;
  unit(s + from, at - from, &first, &v);
  put(o, s + from, first);
  put(o, (const unsigned char *)"***", 3);
  put(o, s + at, a);
  put(o, (const unsigned char *)"***", 3);
  for (size_t k = at + a; k < end; k++)
    if (s[k] == '.') dot = k;
  put(o, s + dot, end - dot);
}

/* A date YYYY-MM-DD (or with / or .) at s: its length, else 0. */
static size_t date_at(const unsigned char *s, size_t n) {
  int y, m, d;
  if (n < 10) return 0;
  for (int k = 0; k < 10; k++)
    if ((k == 4 || k == 7) ? (s[k] != s[4] || !strchr("-/.", s[k]) || !s[k])
                           : (s[k] < '0' || s[k] > '9'))
      return 0;
  if (n > 10 && s[10] >= '0' && s[10] <= '9') return 0;
  y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + s[3] - '0';
  m = (s[5] - '0') * 10 + s[6] - '0';
  d = (s[8] - '0') * 10 + s[9] - '0';
  return y >= 1000 && y <= 2999 && m >= 1 && m <= 12 && d >= 1 && d <= 31 ? 10
                                                                          : 0;
}

static int two_digits(const unsigned char *s, int max) {
  return s[0] >= '0' && s[0] <= '9' && s[1] >= '0' && s[1] <= '9' &&
         (s[0] - '0') * 10 + s[1] - '0' <= max;
}

static int is_digit(unsigned char ch) {
  return ch >= '0' && ch <= '9';
}

/* A time HH:MM:SS, with a fraction of up to nine digits, at s: its length,
 * else 0. */
static size_t time_at(const unsigned char *s, size_t n) {
  size_t k = 8;
  if (n < 8 || !two_digits(s, 23) || s[2] != ':' || !two_digits(s + 3, 59) ||
      s[5] != ':' || !two_digits(s + 6, 60))
    return 0;
  if (k + 1 < n && s[k] == '.' && is_digit(s[k + 1]))
    for (k++; k < n && k < 18 && is_digit(s[k]); k++) continue;
  return k < n && is_digit(s[k]) ? 0 : k;
}

/* A compact stamp YYYYMMDDTHHMMSS or YYYYMMDDTHHMM, with an optional Z,
 * at s: its length, else 0. */
static size_t stamp_at(const unsigned char *s, size_t n) {
  size_t k = 13;
  if (n < 13 || s[8] != 'T' || !two_digits(s, 29) || !two_digits(s + 2, 99) ||
      !two_digits(s + 4, 12) || !two_digits(s + 6, 31) || s[0] == '0' ||
      (s[4] == '0' && s[5] == '0') || (s[6] == '0' && s[7] == '0') ||
      !two_digits(s + 9, 23) || !two_digits(s + 11, 59))
    return 0;
  if (k + 1 < n && two_digits(s + k, 60)) k += 2;
  if (k < n && is_digit(s[k])) return 0;
  return k < n && s[k] == 'Z' ? k + 1 : k;
}

/* A date, a time or a stamp starting at s[i] (not in the middle of a digit
 * run): its length, else 0. */
static size_t kept_at(const unsigned char *s, size_t n, size_t i) {
  size_t len;
  if (!is_digit(s[i]) || (i > 0 && is_digit(s[i - 1]))) return 0;
  if ((len = date_at(s + i, n - i)) > 0) return len;
  if ((len = time_at(s + i, n - i)) > 0) return len;
  return stamp_at(s + i, n - i);
}

/* The span s[0..len) is a dotted IPv4 address. */
static int ipv4(const unsigned char *s, size_t len) {
  int groups = 0, digits = 0, value = 0;
  for (size_t k = 0; k <= len; k++) {
    if (k == len || s[k] == '.') {
      if (digits == 0 || value > 255) return 0;
      groups++;
      digits = value = 0;
    } else if (s[k] >= '0' && s[k] <= '9' && digits < 3) {
      value = value * 10 + s[k] - '0';
      digits++;
    } else {
      return 0;
    }
  }
  return groups == 4;
}

/* A run of ASCII digits at s[i] followed by a space and a unit recoup
 * writes ("10000000 instructions"): its digits, else 0. */
static size_t count_at(const unsigned char *s, size_t n, size_t i) {
  static const char *const units[] = {"instructions", "bytes", "rows",
                                      "KB",           "MB",    "GB"};
  size_t end = i;
  if (i > 0 && is_digit(s[i - 1])) return 0;
  while (end < n && is_digit(s[end])) end++;
  if (end == i || end >= n || s[end] != ' ') return 0;
  for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
    size_t len = strlen(units[u]);
    unsigned char after;
    if (end + 1 + len > n || memcmp(s + end + 1, units[u], len) != 0)
      continue;
    after = end + 1 + len < n ? s[end + 1 + len] : '\0';
    if (!((after >= 'a' && after <= 'z') || (after >= 'A' && after <= 'Z') ||
          is_digit(after) || after >= 0x80))
      return end - i;
  }
  return 0;
}

/* A phone-like span starting at s[i]: returns its end and the number of
 * digits in it, or i when none starts here. */
static size_t phone_at(const unsigned char *s, size_t n, size_t i, size_t stop,
                       int *digits) {
  size_t k = i, len, end = i;
  int kind, v, seps = 0;
  *digits = 0;
  kind = unit(s + k, n - k, &len, &v);
  if (kind == PLUS || kind == OPEN) k += len; /* a lead-in, then digits */
  while (k < stop) {
    kind = unit(s + k, n - k, &len, &v);
    if (kind == DIGIT && kept_at(s, n, k) > 0) {
      break; /* a date or a time is no part of a phone number */
    } else if (kind == DIGIT && *digits > 0 && count_at(s, n, k) >= MIN_DIGITS) {
      break; /* nor a count of ours: "13800138000 (10000000 instructions)" */
    } else if (kind == DIGIT) {
      (*digits)++;
      seps = 0;
      k += len;
      end = k;
    } else if ((kind == SEP || kind == OPEN) && *digits > 0 &&
               ++seps <= MAX_SEPS) {
      k += len;
    } else if (kind == SEP && *digits == 0 && k > i && ++seps <= 1) {
      k += len; /* "+86 138..." or "( 010 )" */
    } else {
      break;
    }
  }
  return *digits ? end : i;
}

/* The phone-like span s[i..end) is a count recoup wrote with its unit
 * ("(10000000 instructions)") or a script's line ("recoup.lua:123456"). */
static int own_number(const unsigned char *s, size_t n, size_t i,
                      size_t end) {
  if (s[i] == '(') i++;
  for (size_t k = i; k < end; k++)
    if (!is_digit(s[k])) return 0;
  /* A script of ten million lines is none recoup loads; a phone after
   * ".lua:" (eleven digits) is masked still. */
  if (i >= 5 && memcmp(s + i - 5, ".lua:", 5) == 0) return end - i <= 7;
  return count_at(s, n, i) == end - i;
}

static void put_phone(out *o, const unsigned char *s, size_t n, size_t i,
                      size_t end, int digits) {
  int seen = 0;
  while (i < end) {
    size_t len;
    int v, kind = unit(s + i, n - i, &len, &v);
    if (kind == DIGIT && digits - seen++ > KEEP_DIGITS)
      put(o, (const unsigned char *)"*", 1);
    else
      put(o, s + i, len);
    i += len;
  }
}

size_t mask_contacts(const char *in, char *buf, size_t size) {
  const unsigned char *s = (const unsigned char *)in;
  size_t n = strlen(in), i = 0, mail_from = 0, mail_at = 0, mail_end = 0;
  out o = {buf, size, 0, 0};
  if (size == 0) return 0;
  if (!next_email(s, n, 0, &mail_from, &mail_at, &mail_end)) mail_from = n;
  while (i < n && !o.full) {
    size_t len, end, date;
    int v, kind, digits;
    /* The next e-mail address, looked for from here on. */
    if (mail_from < i && !next_email(s, n, i, &mail_from, &mail_at, &mail_end))
      mail_from = mail_at = mail_end = n;
    if (i == mail_from) {
      put_email(&o, s, mail_from, mail_at, mail_end);
      i = mail_end;
      if (!next_email(s, n, i, &mail_from, &mail_at, &mail_end)) mail_from = n;
      continue;
    }
    kind = unit(s + i, n - i, &len, &v);
    if ((date = kept_at(s, n, i)) > 0) {
      put(&o, s + i, date);
      i += date;
      continue;
    }
    if ((kind == DIGIT || kind == PLUS || kind == OPEN) &&
        (end = phone_at(s, n, i, mail_from, &digits)) > i) {
      if (digits >= MIN_DIGITS && !ipv4(s + i, end - i) &&
          !own_number(s, n, i, end))
        put_phone(&o, s, n, i, end, digits);
      else
        put(&o, s + i, end - i);
      i = end;
      continue;
    }
    put(&o, s + i, len);
    i += len;
  }
  buf[o.len] = '\0';
  return o.len;
}
