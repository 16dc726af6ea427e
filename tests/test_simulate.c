/* The what-if model (runtime/simulate_model.c): a synthetic book whose
 * borrowers pay with known probabilities by dpd bucket; the calibrated
 * model recovers them within three standard errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "recoup/engine.h"
#include "simulate.h"

#define CALIB FIXTURES "/simulate/calib"

enum { CASES = 400, DAYS = 120 };
static const int64_t DAY = 86400000;
/* The book's truth: a case pays on a day with this probability. */
static const double truth[SIM_BUCKETS] = {0.20, 0.10, 0.05, 0.03, 0.01};

static uint64_t rng = 42;
static double uniform(void) {
  uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static engine *open_book(const char *db, rc_time *start) {
  engine_options opts = {CALIB, db, 1, 0, 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    fail_msg("cannot open the calibration fixture");
  }
  assert_int_equal(
      clock_parse_time(engine_clock(eng), "2026-01-01T00:00", start, NULL),
      RC_OK);
  clock_set(engine_clock(eng), *start);
  return eng;
}

static void test_model_recovers_payment_probabilities_by_bucket(void **st) {
  char dir[] = "/tmp/recoup-test-sim-XXXXXX", db[64];
  rc_time start, now;
  rc_error err;
  engine *eng;
  sim_model m;
  int64_t due_days[CASES];
  (void)st;
  assert_non_null(mkdtemp(dir));
  snprintf(db, sizeof db, "%s/book.db", dir);
  eng = open_book(db, &start);
  /* Cases fall due from 0 to 99 days before the start. */
  for (int i = 0; i < CASES; i++) {
    char text[512], due[16];
    rc_date d = date_from_days(
        date_to_days(zone_date(clock_zone(engine_clock(eng)), start)) -
        i % 100);
    json_t *j;
    due_days[i] = date_to_days(d);
    date_format(&d, due, sizeof due);
    snprintf(text, sizeof text,
             "{\"id\": \"C%03d\", \"borrower\": {\"id\": \"B%03d\"},"
             " \"balance\": 10000000, \"amount_due\": 5000000,"
             " \"due_date\": \"%s\"}",
             i, i, due);
    assert_non_null(j = json_loads(text, 0, NULL));
    assert_int_equal(engine_upsert_case(eng, j, 0, NULL, &err), RC_OK);
    json_decref(j);
  }
  assert_int_equal(engine_run(eng, start, NULL, &err), RC_OK);
  for (int day = 0; day < DAYS; day++) {
    rc_time noon = start + day * DAY + DAY / 2;
    int64_t today =
        date_to_days(zone_date(clock_zone(engine_clock(eng)), noon));
    assert_int_equal(engine_run(eng, noon, NULL, &err), RC_OK);
    assert_int_equal(engine_begin(eng, &err), RC_OK);
    for (int i = 0; i < CASES; i++) {
      int b = sim_bucket((int)(today - due_days[i]));
      if (uniform() < truth[b]) {
        char id[16], ref[32];
        int dup;
        snprintf(id, sizeof id, "C%03d", i);
        snprintf(ref, sizeof ref, "p-%d-%d", day, i);
        assert_int_equal(engine_pay(eng, id, 1, ref, noon, &dup, &err), RC_OK);
      }
    }
    assert_int_equal(engine_commit(eng, &err), RC_OK);
  }
  now = start + DAYS * DAY;
  assert_int_equal(engine_run(eng, now, NULL, &err), RC_OK);
  sim_model_defaults(&m);
  assert_int_equal(
      sim_model_calibrate(engine_query(eng), clock_zone(engine_clock(eng)), now,
                          &m, &err),
      RC_OK);
  assert_int_equal(m.cases, CASES);
  assert_int_equal(m.case_days, (int64_t)CASES * DAYS);
  for (int b = 1; b < SIM_BUCKETS; b++) {
    double se = sqrt(truth[b] * (1 - truth[b]) / (double)m.pay[b].obs);
    assert_true(m.pay[b].calibrated);
    if (fabs(m.pay[b].p - truth[b]) > 3 * se)
      fail_msg("bucket %s: %.4f calibrated, %.4f true (3 se = %.4f)",
               sim_bucket_names[b], m.pay[b].p, truth[b], 3 * se);
  }
  /* dpd 0 is seen on a handful of case-days only: the default stands. */
  assert_false(m.pay[0].calibrated);
  /* Each payment was 1 of a 5,000,000 amount due: a share near 0. */
  assert_true(m.share.calibrated);
  assert_true(m.share.p < 0.001);
  engine_close(eng);
  {
    char side[80];
    unlink(db);
    snprintf(side, sizeof side, "%s-wal", db), unlink(side);
    snprintf(side, sizeof side, "%s-shm", db), unlink(side);
  }
  rmdir(dir);
}

static void test_thin_history_keeps_the_stated_defaults(void **st) {
  sim_model m;
  (void)st;
  sim_model_defaults(&m);
  assert_int_equal(m.min_obs, 30);
  for (int b = 0; b < SIM_BUCKETS; b++) assert_false(m.pay[b].calibrated);
  assert_true(m.reach.p > 0 && m.kept.p > 0 && m.share.p > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_model_recovers_payment_probabilities_by_bucket),
      cmocka_unit_test(test_thin_history_keeps_the_stated_defaults),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
