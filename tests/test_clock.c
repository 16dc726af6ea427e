/* Durations, ISO times and days past due in real IANA zones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "recoup/clock.h"

static rc_clock *shanghai(void) {
  rc_error err;
  rc_clock *clk = clock_new("Asia/Shanghai", &err);
  assert_non_null(clk);
  return clk;
}

static void test_duration_units_parse(void **state) {
  rc_duration d;
  (void)state;
  assert_int_equal(clock_parse_duration("30m", &d, NULL), RC_OK);
  assert_int_equal(d.ms, 30 * 60000);
  assert_int_equal(clock_parse_duration("12h", &d, NULL), RC_OK);
  assert_int_equal(d.ms, 12 * 3600000);
  assert_int_equal(clock_parse_duration("3d", &d, NULL), RC_OK);
  assert_int_equal(d.days, 3);
  assert_int_equal(clock_parse_duration("2w", &d, NULL), RC_OK);
  assert_int_equal(d.days, 14);
  assert_int_equal(clock_parse_duration("1mo", &d, NULL), RC_OK);
  assert_int_equal(d.months, 1);
}

static void test_bad_duration_names_the_text(void **state) {
  const char *bad[] = {"3x", "", "d", "-1d", "1.5d", "3 d", "99999999d", NULL};
  rc_duration d;
  rc_error err;
  (void)state;
  for (int i = 0; bad[i]; i++) {
    rc_error_clear(&err);
    assert_int_equal(clock_parse_duration(bad[i], &d, &err), RC_EINVAL);
    assert_non_null(strstr(err.message, bad[i]));
  }
}

static void test_iso_times_parse_in_the_institution_zone(void **state) {
  rc_clock *clk = shanghai();
  rc_time t;
  char buf[40];
  (void)state;
  assert_int_equal(clock_parse_time(clk, "2026-01-05T09:00", &t, NULL), RC_OK);
  clock_zone_format(clock_zone(clk), t, buf, sizeof buf);
  assert_string_equal(buf, "2026-01-05T09:00:00+08:00");
  assert_int_equal(t, 1767574800000LL); /* 01:00 UTC */
  assert_int_equal(clock_parse_time(clk, "2026-01-05", &t, NULL), RC_OK);
  assert_int_equal(t, 1767542400000LL); /* local midnight = 16:00Z */
  assert_int_equal(clock_parse_time(clk, "2026-01-05T01:00:00Z", &t, NULL),
                   RC_OK);
  assert_int_equal(t, 1767574800000LL);
  assert_int_equal(clock_parse_time(clk, "2026-01-05T03:00+02:00", &t, NULL),
                   RC_OK);
  assert_int_equal(t, 1767574800000LL);
  assert_int_equal(clock_parse_time(clk, "2026-01-05T09:00:00.250", &t, NULL),
                   RC_OK);
  assert_int_equal(t, 1767574800250LL);
  clock_free(clk);
}

static void test_bad_times_are_refused(void **state) {
  const char *bad[] = {"2026-13-01", "2026-02-30",         "2026-01-05T25:00",
                       "tomorrow",   "2026-01-05T09:00+8", "05/01/2026",
                       NULL};
  rc_clock *clk = shanghai();
  rc_time t;
  rc_error err;
  (void)state;
  for (int i = 0; bad[i]; i++)
    assert_int_equal(clock_parse_time(clk, bad[i], &t, &err), RC_EINVAL);
  clock_free(clk);
}

/* DESIGN "Times": every calendar date from year 1 to 9999 parses, and
 * ICU's calendar agrees with clock_date_to_days before 1582 (proleptic
 * Gregorian, not Julian). */
static void test_every_date_from_year_1_to_9999_parses(void **state) {
  const char *good[] = {"0001-01-01", "0999-12-31", "1000-01-01",
                        "1582-10-10", "2999-12-31", "3000-02-28",
                        "9999-12-31", "2024-02-29", NULL};
  const char *bad[] = {"0000-01-01", "2026-02-29", "1900-02-29", "10000-01-01",
                       NULL};
  rc_clock *clk = shanghai();
  rc_time t;
  rc_date d;
  char buf[40];
  (void)state;
  for (int i = 0; good[i]; i++) {
    assert_int_equal(clock_parse_date(good[i], &d), RC_OK);
    assert_int_equal(clock_parse_time(clk, good[i], &t, NULL), RC_OK);
    /* local midnight comes back as the same day */
    clock_zone_format(clock_zone(clk), t, buf, sizeof buf);
    assert_memory_equal(buf, good[i], 10);
    assert_int_equal(clock_date_to_days(clock_zone_date(clock_zone(clk), t)),
                     clock_date_to_days(d));
  }
  for (int i = 0; bad[i]; i++)
    assert_int_equal(clock_parse_date(bad[i], &d), RC_EINVAL);
  clock_free(clk);
}

static void test_duration_as_time_is_from_now(void **state) {
  rc_clock *clk = shanghai();
  rc_time t;
  (void)state;
  clock_set(clk, 1000000);
  assert_int_equal(clock_parse_time(clk, "2h", &t, NULL), RC_OK);
  assert_int_equal(t, 1000000 + 7200000);
  clock_free(clk);
}

static void test_days_keep_wall_time_across_dst(void **state) {
  rc_error err;
  rc_clock *clk = clock_new("America/New_York", &err);
  rc_time t, later;
  rc_duration d = {0, 1, 0};
  char buf[40];
  (void)state;
  /* 2026-03-08 is the spring-forward day in New York. */
  assert_int_equal(clock_parse_time(clk, "2026-03-07T09:00", &t, NULL), RC_OK);
  later = clock_zone_add(clock_zone(clk), t, &d);
  clock_zone_format(clock_zone(clk), later, buf, sizeof buf);
  assert_string_equal(buf, "2026-03-08T09:00:00-04:00");
  assert_int_equal(later - t, 23 * 3600000LL);
  clock_free(clk);
}

static void test_month_adds_calendar_months(void **state) {
  rc_clock *clk = shanghai();
  rc_time t;
  rc_duration d = {0, 0, 1};
  char buf[40];
  (void)state;
  clock_parse_time(clk, "2026-01-31T10:00", &t, NULL);
  clock_zone_format(clock_zone(clk), clock_zone_add(clock_zone(clk), t, &d),
                    buf, sizeof buf);
  assert_string_equal(buf, "2026-02-28T10:00:00+08:00");
  clock_free(clk);
}

static void test_dpd_counts_local_calendar_days(void **state) {
  rc_clock *clk = shanghai();
  rc_date due = {2026, 1, 1};
  rc_time t;
  (void)state;
  /* 2026-01-05 00:30 in Shanghai is still 2026-01-04 in UTC. */
  clock_parse_time(clk, "2026-01-04T16:30:00Z", &t, NULL);
  assert_int_equal(clock_dpd(clk, &due, t), 4);
  clock_parse_time(clk, "2025-12-30T12:00", &t, NULL);
  assert_int_equal(clock_dpd(clk, &due, t), 0);
  clock_free(clk);
}

/* clock_zone_date and clock_zone_format remember their last answer; walking
 * through New York's DST days and midnights, the remembered day must always be
 * the one ICU gives afresh (clock_zone_format is asked a new instant each time,
 * so it never answers from memory here). */
static void test_remembered_days_match_icu_across_dst(void **state) {
  rc_error err;
  rc_clock *a = clock_new("America/New_York", &err);
  rc_clock *b = clock_new("America/New_York", &err);
  const char *starts[] = {"2026-03-07T00:00", "2026-10-31T00:00"};
  (void)state;
  for (int k = 0; k < 2; k++) {
    rc_time t;
    assert_int_equal(clock_parse_time(a, starts[k], &t, NULL), RC_OK);
    for (rc_time end = t + 3 * 86400000LL; t < end; t += 7 * 60000) {
      rc_date d = clock_zone_date(clock_zone(a), t);
      char want[40], got[16];
      clock_zone_format(clock_zone(b), t, want, sizeof want);
      want[10] = '\0';
      clock_date_format(&d, got, sizeof got);
      assert_string_equal(got, want);
    }
  }
  {
    char first[40], again[40], other[40];
    clock_zone_format(clock_zone(a), 1767225600000LL, first, sizeof first);
    clock_zone_format(clock_zone(a), 1767225600000LL, again, sizeof again);
    clock_zone_format(clock_zone(a), 1767225600000LL + 1000, other,
                      sizeof other);
    assert_string_equal(first, again);
    assert_string_equal(first, "2025-12-31T19:00:00-05:00");
    assert_string_equal(other, "2025-12-31T19:00:01-05:00");
  }
  clock_free(a);
  clock_free(b);
}

/* A remembered day ends at the next day's first instant: where DST ends
 * at 01:00 back to 00:00 (Havana, every November), the next day's midnight
 * read as a local time is its second 00:00, and the first 00:xx hour is
 * the next day's (a case's dpd counted it in the day before). */
static void test_remembered_days_end_at_the_first_midnight(void **state) {
  rc_error err;
  rc_clock *a = clock_new("America/Havana", &err);
  rc_clock *b = clock_new("America/Havana", &err);
  rc_time t;
  (void)state;
  assert_non_null(a);
  assert_non_null(b);
  assert_int_equal(clock_parse_time(a, "2026-10-31T00:00Z", &t, NULL), RC_OK);
  for (rc_time end = t + 2 * 86400000LL; t < end; t += 10 * 60000) {
    rc_date got = clock_zone_date(clock_zone(a), t), want;
    clock_zone_date(clock_zone(b), t - 400 * 86400000LL);
    want = clock_zone_date(clock_zone(b), t);
    if (got.day != want.day)
      fail_msg("at %lld: day %d, ICU says %d", (long long)t, got.day,
               want.day);
  }
  clock_free(a);
  clock_free(b);
}

/* clock_zone_format answers an instant of a day it has seen without ICU
 * when no offset change falls in that day: across New York's DST days
 * and midnights, and Lord Howe's half-hour change, every instant of a
 * walk (a new one each time, in the remembered day mostly) is the text
 * ICU gives afresh (b formats an instant far away first, so its answer
 * is never remembered). */
static void test_remembered_days_format_as_icu_does(void **state) {
  const char *zones[] = {"America/New_York", "Australia/Lord_Howe",
                         "Asia/Kolkata"};
  const char *starts[] = {"2026-03-07T00:00", "2026-10-31T00:00",
                          "2026-04-04T00:00"};
  (void)state;
  for (int z = 0; z < 3; z++) {
    rc_error err;
    rc_clock *a = clock_new(zones[z], &err);
    rc_clock *b = clock_new(zones[z], &err);
    assert_non_null(a);
    assert_non_null(b);
    for (int k = 0; k < 3; k++) {
      rc_time t;
      assert_int_equal(clock_parse_time(a, starts[k], &t, NULL), RC_OK);
      for (rc_time end = t + 3 * 86400000LL; t < end; t += 7 * 60000 + 1001) {
        char want[40], got[40], far[40];
        clock_zone_format(clock_zone(b), t + 400 * 86400000LL, far,
                          sizeof far);
        clock_zone_format(clock_zone(b), t, want, sizeof want);
        clock_zone_format(clock_zone(a), t, got, sizeof got);
        assert_string_equal(got, want);
      }
    }
    clock_free(a);
    clock_free(b);
  }
}

/* Every instant formats as ICU gives it afresh in zones whose days start
 * oddly: Sao Paulo's and Havana's DST began at midnight (the day's first
 * instant reads 01:00), Havana's 1998 and Moncton's 1940 DST ended at
 * 01:00 back to 00:00 (the day before is 25 hours to the second 00:00,
 * and no change falls inside it), Kathmandu's +05:45 began at 00:00 by moving to
 * 00:15, Apia skipped 2011-12-30, Chatham and St John's keep odd minutes,
 * Casablanca's Ramadan, Dublin's negative DST, LMT offsets with seconds
 * in 1900, instants before 1970, a leap day and year 9999. a answers
 * from the days it remembers; b forgets (an instant far away first). */
static void test_odd_days_format_as_icu_does(void **state) {
  static const struct {
    const char *zone, *start;
  } walks[] = {
      {"America/Sao_Paulo", "2018-11-03T12:00Z"},
      {"America/Havana", "2026-03-07T12:00Z"},
      {"America/Havana", "1998-10-24T00:00Z"},
      {"America/Moncton", "1940-09-20T00:00Z"},
      {"Asia/Kathmandu", "1985-12-31T00:00Z"},
      {"Asia/Kathmandu", "1900-01-01T00:00Z"},
      {"Pacific/Apia", "2011-12-29T00:00Z"},
      {"Pacific/Chatham", "2026-04-04T00:00Z"},
      {"Pacific/Chatham", "2026-09-26T00:00Z"},
      {"America/St_Johns", "2026-11-01T00:00Z"},
      {"Africa/Casablanca", "2026-02-14T00:00Z"},
      {"Europe/Dublin", "2026-10-24T00:00Z"},
      {"Europe/Dublin", "1900-01-01T00:00Z"},
      {"Australia/Lord_Howe", "1969-12-30T00:00Z"},
      {"Asia/Shanghai", "2024-02-28T00:00Z"},
      {"Asia/Shanghai", "9999-12-30T00:00Z"},
  };
  (void)state;
  for (size_t w = 0; w < sizeof walks / sizeof walks[0]; w++) {
    rc_error err;
    rc_clock *a = clock_new(walks[w].zone, &err);
    rc_clock *b = clock_new(walks[w].zone, &err);
    rc_time t;
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(clock_parse_time(a, walks[w].start, &t, NULL), RC_OK);
    for (rc_time end = t + 3 * 86400000LL; t < end; t += 13 * 60000 + 999) {
      char want[40], got[40], far[40];
      clock_zone_format(clock_zone(b), t - 400 * 86400000LL, far, sizeof far);
      clock_zone_format(clock_zone(b), t, want, sizeof want);
      clock_zone_format(clock_zone(a), t, got, sizeof got);
      if (strcmp(got, want) != 0)
        fail_msg("%s at %lld: %s, ICU says %s", walks[w].zone, (long long)t,
                 got, want);
    }
    clock_free(a);
    clock_free(b);
  }
}

/* clock_zone_add remembers its last answer: the same add again, the same
 * instant with another duration, and another instant each give what a
 * zone that never answered before gives, across New York's DST day. */
static void test_remembered_adds_match_a_fresh_zone(void **state) {
  rc_error err;
  rc_clock *a = clock_new("America/New_York", &err);
  const rc_duration ds[] = {{0, 1, 0}, {0, 1, 0}, {3600000, 1, 0},
                            {0, 2, 0}, {0, 0, 1}, {0, 1, 0}};
  rc_time t;
  (void)state;
  assert_int_equal(clock_parse_time(a, "2026-03-07T09:00", &t, NULL), RC_OK);
  for (rc_time end = t + 2 * 86400000LL; t < end; t += 5 * 3600000LL)
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
      rc_clock *b = clock_new("America/New_York", &err);
      assert_int_equal(clock_zone_add(clock_zone(a), t, &ds[i]),
                       clock_zone_add(clock_zone(b), t, &ds[i]));
      clock_free(b);
    }
  clock_free(a);
}

static void test_unknown_zone_is_an_error(void **state) {
  rc_error err;
  (void)state;
  assert_null(clock_new("Mars/Olympus", &err));
  assert_non_null(strstr(err.message, "Mars/Olympus"));
  assert_null(clock_new("+08:00", &err));
}

static void test_civil_days_round_trip(void **state) {
  (void)state;
  for (int64_t d = -800000; d < 800000; d += 997) {
    rc_date c = clock_date_from_days(d);
    assert_int_equal(clock_date_to_days(c), d);
  }
  rc_date epoch = {1970, 1, 1};
  assert_int_equal(clock_date_to_days(epoch), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_duration_units_parse),
      cmocka_unit_test(test_bad_duration_names_the_text),
      cmocka_unit_test(test_iso_times_parse_in_the_institution_zone),
      cmocka_unit_test(test_bad_times_are_refused),
      cmocka_unit_test(test_every_date_from_year_1_to_9999_parses),
      cmocka_unit_test(test_duration_as_time_is_from_now),
      cmocka_unit_test(test_days_keep_wall_time_across_dst),
      cmocka_unit_test(test_month_adds_calendar_months),
      cmocka_unit_test(test_dpd_counts_local_calendar_days),
      cmocka_unit_test(test_remembered_days_match_icu_across_dst),
      cmocka_unit_test(test_remembered_days_end_at_the_first_midnight),
      cmocka_unit_test(test_remembered_days_format_as_icu_does),
      cmocka_unit_test(test_odd_days_format_as_icu_does),
      cmocka_unit_test(test_remembered_adds_match_a_fresh_zone),
      cmocka_unit_test(test_unknown_zone_is_an_error),
      cmocka_unit_test(test_civil_days_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
