#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "recoup/clock.h"

struct rc_zone {
  char name[64];
  UCalendar *cal; /* owned; reused for every conversion in this zone */
  rc_zone *next;
  /* The last answers, since a sweep asks the same again and again: the
   * local day around one instant (dpd of every case) and the text of the
   * last two instants (every event at the same time, every timer it sets
   * due at the same time). A zone's rules do not change while the process
   * runs. */
  rc_time day_from, day_to; /* [from, to) is local day `day`; empty at first */
  rc_date day;
  struct {
    rc_time at;
    char text[40]; /* "" until used */
  } texts[2];      /* an event's time and the due time of its timers */
  int text_next;
  /* A local day whose offset holds all day (most days): any instant in
   * [from, to) is its date, the time since from, and the offset, with no
   * ICU call and no printf (a shuffled sweep formats a new instant each
   * step). Empty at first. */
  struct {
    rc_time from, to;
    char date[12]; /* "2026-01-05T" */
    char offset[8]; /* "+08:00" */
  } steady;
  /* The last calendar add: an import's `opened` handlers and a sweep's
   * steps set "1d" from the same now, case after case. */
  struct {
    int used;
    rc_time from, to;
    int32_t days, months;
  } added;
};

struct rc_clock {
  int simulated;
  rc_time now;    /* meaningful only when simulated */
  rc_zone *home;  /* the institution's zone, first in the list */
  rc_zone *zones; /* owned list */
};

static rc_zone *zone_open(const char *name, rc_error *err) {
  UChar uname[64], canonical[64];
  UErrorCode status = U_ZERO_ERROR;
  UBool system = 0;
  rc_zone *zone;

  if (!name || !*name || strlen(name) >= sizeof uname / sizeof uname[0]) {
    rc_error_set(err, RC_EINVAL, "timezone",
                 "time zone name is empty or too long");
    return NULL;
  }
  u_uastrcpy(uname, name);
  ucal_getCanonicalTimeZoneID(uname, -1, canonical, 64, &system, &status);
  /* ICU maps unknown names to GMT silently in ucal_open, so ask first. */
  if (U_FAILURE(status) || !system) {
    rc_error_set(err, RC_EINVAL, "timezone",
                 "unknown time zone '%s' (use an IANA name such as "
                 "Asia/Shanghai)",
                 name);
    return NULL;
  }
  zone = calloc(1, sizeof *zone);
  if (!zone) {
    rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    return NULL;
  }
  snprintf(zone->name, sizeof zone->name, "%s", name);
  zone->cal = ucal_open(uname, -1, "en_US_POSIX", UCAL_GREGORIAN, &status);
  /* Proleptic Gregorian, as clock_date_to_days counts: ICU's calendar is Julian
   * before 1582-10-15 unless told otherwise, and dates go back to year 1. */
  if (U_SUCCESS(status)) ucal_setGregorianChange(zone->cal, -8.64e15, &status);
  if (U_FAILURE(status)) {
    if (zone->cal) ucal_close(zone->cal);
    free(zone);
    rc_error_set(err, RC_EINVAL, "timezone", "cannot open time zone '%s': %s",
                 name, u_errorName(status));
    return NULL;
  }
  return zone;
}

rc_clock *clock_new(const char *zone, rc_error *err) {
  rc_clock *clk = calloc(1, sizeof *clk);
  if (!clk) {
    rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    return NULL;
  }
  clk->home = zone_open(zone, err);
  if (!clk->home) {
    free(clk);
    return NULL;
  }
  clk->zones = clk->home;
  return clk;
}

void clock_free(rc_clock *clk) {
  rc_zone *z, *next;
  if (!clk) return;
  for (z = clk->zones; z; z = next) {
    next = z->next;
    ucal_close(z->cal);
    free(z);
  }
  free(clk);
}

void clock_set(rc_clock *clk, rc_time t) {
  clk->simulated = 1;
  clk->now = t;
}

int clock_is_simulated(const rc_clock *clk) {
  return clk->simulated;
}

rc_time clock_now(const rc_clock *clk) {
  struct timespec ts;
  if (clk->simulated) return clk->now;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (rc_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rc_zone *clock_zone(rc_clock *clk) {
  return clk->home;
}

rc_zone *clock_zone_get(rc_clock *clk, const char *name, rc_error *err) {
  rc_zone *z;
  if (!name || !*name) return clk->home;
  for (z = clk->zones; z; z = z->next)
    if (strcmp(z->name, name) == 0) return z;
  z = zone_open(name, err);
  if (!z) return NULL;
  z->next = clk->zones->next; /* keep home first */
  clk->zones->next = z;
  return z;
}

const char *clock_zone_name(const rc_zone *zone) {
  return zone->name;
}

int clock_parse_duration(const char *text, rc_duration *out, rc_error *err) {
  const char *p = text;
  int64_t n = 0;
  memset(out, 0, sizeof *out);
  if (!text || !isdigit((unsigned char)*p)) goto bad;
  while (isdigit((unsigned char)*p)) {
    n = n * 10 + (*p++ - '0');
    if (n > 100000) {
      return rc_error_set(err, RC_EINVAL, "duration",
                          "duration '%s' is too long", text);
    }
  }
  if (strcmp(p, "s") == 0)
    out->ms = n * 1000;
  else if (strcmp(p, "m") == 0)
    out->ms = n * 60000;
  else if (strcmp(p, "h") == 0)
    out->ms = n * 3600000;
  else if (strcmp(p, "d") == 0)
    out->days = (int32_t)n;
  else if (strcmp(p, "w") == 0)
    out->days = (int32_t)(n * 7);
  else if (strcmp(p, "mo") == 0)
    out->months = (int32_t)n;
  else
    goto bad;
  return RC_OK;
bad:
  return rc_error_set(err, RC_EINVAL, "duration",
                      "bad duration '%s' (expected a whole number and a unit: "
                      "30m, 12h, 3d, 2w, 1mo)",
                      text ? text : "(nil)");
}

rc_time clock_zone_add(rc_zone *zone, rc_time t, const rc_duration *d) {
  UErrorCode status = U_ZERO_ERROR;
  rc_time to;
  t += d->ms;
  if (!d->days && !d->months) return t;
  if (zone->added.used && zone->added.from == t &&
      zone->added.days == d->days && zone->added.months == d->months)
    return zone->added.to;
  ucal_setMillis(zone->cal, (UDate)t, &status);
  if (d->months) ucal_add(zone->cal, UCAL_MONTH, d->months, &status);
  if (d->days) ucal_add(zone->cal, UCAL_DATE, d->days, &status);
  to = (rc_time)ucal_getMillis(zone->cal, &status);
  zone->added.used = U_SUCCESS(status);
  zone->added.from = t;
  zone->added.to = to;
  zone->added.days = d->days;
  zone->added.months = d->months;
  return to;
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return 0;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 1;
}

static int days_in_month(int y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return dm[m - 1];
}

static int parse_date_prefix(const char **p, rc_date *d) {
  if (!digits(p, 4, &d->year) || **p != '-') return 0;
  (*p)++;
  if (!digits(p, 2, &d->month) || **p != '-') return 0;
  (*p)++;
  if (!digits(p, 2, &d->day)) return 0;
  /* Every calendar date the four digits can write but year 0 (DESIGN,
   * "Times"): range rules (a payment in the future, a first installment
   * in the past) are the callers' own errors that say so. */
  if (d->year < 1 || d->year > 9999 || d->month < 1 || d->month > 12 ||
      d->day < 1 || d->day > days_in_month(d->year, d->month))
    return 0;
  return 1;
}

int clock_parse_date(const char *text, rc_date *out) {
  const char *p = text;
  if (!text || !parse_date_prefix(&p, out)) return RC_EINVAL;
  return *p ? RC_EINVAL : RC_OK;
}

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian
 * calendar, no tables, no time zone. */
int64_t clock_date_to_days(rc_date d) {
  int64_t y = d.year - (d.month <= 2);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = (d.month + 9) % 12;
  int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

rc_date clock_date_from_days(int64_t z) {
  rc_date d;
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  d.day = (int)(doy - (153 * mp + 2) / 5 + 1);
  d.month = (int)(mp < 10 ? mp + 3 : mp - 9);
  d.year = (int)(yoe + era * 400 + (d.month <= 2));
  return d;
}

static rc_time zone_local(rc_zone *zone, rc_date d, int h, int mi, int s,
                          int ms) {
  UErrorCode status = U_ZERO_ERROR;
  ucal_clear(zone->cal);
  ucal_setDateTime(zone->cal, d.year, d.month - 1, d.day, h, mi, s, &status);
  ucal_set(zone->cal, UCAL_MILLISECOND, ms);
  return (rc_time)ucal_getMillis(zone->cal, &status);
}

rc_time clock_zone_midnight(rc_zone *zone, rc_date d) {
  return zone_local(zone, d, 0, 0, 0, 0);
}

rc_time clock_zone_time(rc_zone *zone, rc_date d, int hour, int minute,
                        int second) {
  return zone_local(zone, d, hour, minute, second, 0);
}

int64_t clock_zone_offset_ms(rc_zone *zone, rc_time t) {
  UErrorCode status = U_ZERO_ERROR;
  ucal_setMillis(zone->cal, (UDate)t, &status);
  return (int64_t)ucal_get(zone->cal, UCAL_ZONE_OFFSET, &status) +
         ucal_get(zone->cal, UCAL_DST_OFFSET, &status);
}

int clock_parse_time(rc_clock *clk, const char *text, rc_time *out,
                     rc_error *err) {
  const char *p = text;
  rc_date d;
  int h = 0, mi = 0, s = 0, ms = 0;
  rc_duration dur;

  if (!text) return rc_error_set(err, RC_EINVAL, "time", "time is missing");
  if (!parse_date_prefix(&p, &d)) {
    rc_error lerr;
    if (clock_parse_duration(text, &dur, &lerr) == RC_OK) {
      *out = clock_zone_add(clk->home, clock_now(clk), &dur);
      return RC_OK;
    }
    goto bad;
  }
  if (*p == '\0') {
    *out = clock_zone_midnight(clk->home, d);
    return RC_OK;
  }
  if (*p != 'T' && *p != ' ') goto bad;
  p++;
  if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi)) goto bad;
  if (*p == ':') {
    p++;
    if (!digits(&p, 2, &s)) goto bad;
    if (*p == '.') {
      int frac = 0, n = 0;
      p++;
      while (isdigit((unsigned char)*p)) {
        if (n < 3) frac = frac * 10 + (*p - '0');
        n++;
        p++;
      }
      if (n == 0) goto bad;
      for (; n < 3; n++) frac *= 10;
      ms = frac;
    }
  }
  if (h > 23 || mi > 59 || s > 59) goto bad;
  if (*p == '\0') {
    *out = zone_local(clk->home, d, h, mi, s, ms);
    return RC_OK;
  }
  {
    int64_t offset_min = 0;
    if (*p == 'Z' && p[1] == '\0') {
      offset_min = 0;
    } else if (*p == '+' || *p == '-') {
      int sign = *p++ == '-' ? -1 : 1, oh, om;
      if (!digits(&p, 2, &oh)) goto bad;
      if (*p == ':') p++;
      if (!digits(&p, 2, &om) || *p || oh > 23 || om > 59) goto bad;
      offset_min = sign * (oh * 60 + om);
    } else {
      goto bad;
    }
    *out = (clock_date_to_days(d) * 86400 + h * 3600 + mi * 60 + s) * 1000 +
           ms - offset_min * 60000;
    return RC_OK;
  }
bad:
  return rc_error_set(err, RC_EINVAL, "time",
                      "bad time '%s' (expected 2026-01-05, 2026-01-05T09:00, "
                      "2026-01-05T09:00+08:00 or a duration such as 3d)",
                      text);
}

rc_date clock_zone_date(rc_zone *zone, rc_time t) {
  UErrorCode status = U_ZERO_ERROR;
  rc_date d;
  if (t >= zone->day_from && t < zone->day_to) return zone->day;
  ucal_setMillis(zone->cal, (UDate)t, &status);
  d.year = ucal_get(zone->cal, UCAL_YEAR, &status);
  d.month = ucal_get(zone->cal, UCAL_MONTH, &status) + 1;
  d.day = ucal_get(zone->cal, UCAL_DATE, &status);
  if (U_SUCCESS(status)) {
    rc_time from = clock_zone_midnight(zone, d);
    rc_time to = clock_zone_midnight(
        zone, clock_date_from_days(clock_date_to_days(d) + 1));
    /* A day that starts at midnight, and ends at the next day's first
     * instant: where DST ends at 01:00 back to 00:00 (Havana), the next
     * midnight read as a local time is its second 00:00. */
    ucal_setMillis(zone->cal, (UDate)(to - 1), &status);
    if (from <= t && t < to &&
        ucal_get(zone->cal, UCAL_DATE, &status) == d.day && U_SUCCESS(status)) {
      zone->day_from = from;
      zone->day_to = to;
      zone->day = d;
    }
  }
  return d;
}

int clock_zone_minute_of_day(rc_zone *zone, rc_time t) {
  UErrorCode status = U_ZERO_ERROR;
  ucal_setMillis(zone->cal, (UDate)t, &status);
  return ucal_get(zone->cal, UCAL_HOUR_OF_DAY, &status) * 60 +
         ucal_get(zone->cal, UCAL_MINUTE, &status);
}

static void two_digits(char *at, int64_t n) {
  at[0] = (char)('0' + n / 10 % 10);
  at[1] = (char)('0' + n % 10);
}

/* The instant's text from its steady day: 1 when t is in it. */
static int steady_format(const rc_zone *zone, rc_time t, char *buf,
                         size_t size) {
  char text[32];
  int64_t s;
  if (t < zone->steady.from || t >= zone->steady.to) return 0;
  s = (t - zone->steady.from) / 1000;
  memcpy(text, zone->steady.date, 11);
  two_digits(text + 11, s / 3600);
  text[13] = ':';
  two_digits(text + 14, s / 60 % 60);
  text[16] = ':';
  two_digits(text + 17, s % 60);
  memcpy(text + 19, zone->steady.offset, 7);
  rc_copy(buf, size, text);
  return 1;
}

/* Remembers t's local day for steady_format when no offset change falls
 * in it; text is t's text, made by ICU. */
static void steady_remember(rc_zone *zone, rc_time t, const char *text) {
  UErrorCode status = U_ZERO_ERROR;
  UDate next;
  int64_t since;
  clock_zone_date(zone, t); /* for its day_from and day_to */
  if (strlen(text) != 25 || t < zone->day_from || t >= zone->day_to) return;
  /* A day whose midnight fell in a DST gap (Sao Paulo 2018-11-04) starts
   * at 01:00: steady_format counts the time from 00:00. A day before a
   * change back at 01:00 to 00:00 (Havana 1998-10-25) ends at the second
   * 00:00, the change on its end: 25 hours, the first 00:xx in it. */
  since = (t - zone->day_from) / 1000;
  if (zone->day_to - zone->day_from != 86400000 ||
      atoi(text + 11) != since / 3600 || atoi(text + 14) != since / 60 % 60 ||
      atoi(text + 17) != since % 60)
    return;
  ucal_setMillis(zone->cal, (UDate)zone->day_from, &status);
  if (ucal_getTimeZoneTransitionDate(zone->cal, UCAL_TZ_TRANSITION_NEXT, &next,
                                     &status) &&
      next < (UDate)zone->day_to)
    return;
  if (U_FAILURE(status)) return;
  zone->steady.from = zone->day_from;
  zone->steady.to = zone->day_to;
  memcpy(zone->steady.date, text, 11);
  zone->steady.date[11] = '\0';
  memcpy(zone->steady.offset, text + 19, 7);
}

void clock_zone_format(rc_zone *zone, rc_time t, char *buf, size_t size) {
  UErrorCode status = U_ZERO_ERROR;
  int off;
  for (int i = 0; i < 2; i++)
    if (zone->texts[i].text[0] && zone->texts[i].at == t) {
      rc_copy(buf, size, zone->texts[i].text);
      return;
    }
  if (steady_format(zone, t, buf, size)) return;
  ucal_setMillis(zone->cal, (UDate)t, &status);
  off = (ucal_get(zone->cal, UCAL_ZONE_OFFSET, &status) +
         ucal_get(zone->cal, UCAL_DST_OFFSET, &status)) /
        60000;
  snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d",
           ucal_get(zone->cal, UCAL_YEAR, &status) % 10000,
           (ucal_get(zone->cal, UCAL_MONTH, &status) + 1) % 100,
           ucal_get(zone->cal, UCAL_DATE, &status) % 100,
           ucal_get(zone->cal, UCAL_HOUR_OF_DAY, &status) % 100,
           ucal_get(zone->cal, UCAL_MINUTE, &status) % 100,
           ucal_get(zone->cal, UCAL_SECOND, &status) % 100, off < 0 ? '-' : '+',
           (abs(off) / 60) % 100, abs(off) % 60);
  if (U_SUCCESS(status) && size >= sizeof zone->texts[0].text) {
    int i = zone->text_next;
    memcpy(zone->texts[i].text, buf, sizeof zone->texts[i].text);
    zone->texts[i].text[sizeof zone->texts[i].text - 1] = '\0';
    zone->texts[i].at = t;
    zone->text_next = 1 - i;
    steady_remember(zone, t, zone->texts[i].text);
  }
}

void clock_date_format(const rc_date *d, char *buf, size_t size) {
  snprintf(buf, size, "%04d-%02d-%02d", d->year % 10000, d->month % 100,
           d->day % 100);
}

int clock_dpd(rc_clock *clk, const rc_date *due, rc_time now) {
  int64_t days = clock_date_to_days(clock_zone_date(clk->home, now)) -
                 clock_date_to_days(*due);
  return days > 0 ? (int)days : 0;
}
