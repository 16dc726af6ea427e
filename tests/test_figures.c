/* The console's figures: the arithmetic (buckets, rates, months, roll
 * matrices) and the counters the store and the engine keep, on a small
 * book on a simulated clock where every number is known by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "figures.h"
#include "recoup/engine.h"
#include "report.h"

#define FIGURES FIXTURES "/figures"

/* --- arithmetic ------------------------------------------------------------
 */

static void test_buckets_follow_days_past_due(void **state) {
  (void)state;
  assert_int_equal(figures_bucket(-5), 0);
  assert_int_equal(figures_bucket(0), 0);
  assert_int_equal(figures_bucket(1), 1);
  assert_int_equal(figures_bucket(30), 1);
  assert_int_equal(figures_bucket(31), 2);
  assert_int_equal(figures_bucket(60), 2);
  assert_int_equal(figures_bucket(61), 3);
  assert_int_equal(figures_bucket(90), 3);
  assert_int_equal(figures_bucket(91), 4);
  assert_string_equal(figures_bucket_names[4], "90+");
}

static void test_a_due_date_gives_its_bucket_on_a_day(void **state) {
  int64_t nov1 = figures_month_first("2026-11");
  (void)state;
  assert_int_equal(figures_bucket_of(NULL, nov1), 0);
  assert_int_equal(figures_bucket_of("", nov1), 0);
  assert_int_equal(figures_bucket_of("2026-11-20", nov1), 0);
  assert_int_equal(figures_bucket_of("2026-10-10", nov1), 1); /* 22 */
  assert_int_equal(figures_bucket_of("2026-10-02", nov1), 1); /* 30 */
  assert_int_equal(figures_bucket_of("2026-10-01", nov1), 2); /* 31 */
  assert_int_equal(figures_bucket_of("2026-08-03", nov1), 3); /* 90 */
  assert_int_equal(figures_bucket_of("2026-08-02", nov1), 4); /* 91 */
  assert_int_equal(figures_bucket_of("not a date", nov1), -1);
}

static void test_a_rate_needs_something_ended(void **state) {
  (void)state;
  assert_true(figures_rate(0, 0) < 0);
  assert_true(figures_rate(3, 4) == 0.75);
  assert_true(figures_rate(0, 1) == 0);
}

static void test_months_step_across_years(void **state) {
  char out[16];
  (void)state;
  assert_int_equal(figures_month_add("2026-01", -1, out, sizeof out), 0);
  assert_string_equal(out, "2025-12");
  assert_int_equal(figures_month_add("2026-12", 1, out, sizeof out), 0);
  assert_string_equal(out, "2027-01");
  assert_int_equal(figures_month_add("2026-03", -14, out, sizeof out), 0);
  assert_string_equal(out, "2025-01");
  assert_int_equal(figures_month_add("2026-13", 1, out, sizeof out), -1);
  assert_int_equal(figures_month_add("2026-1", 1, out, sizeof out), -1);
  assert_int_equal(figures_month_first("2026-13"), -1);
  assert_int_equal(figures_month_first("1970-02"), 31);
}

static void test_a_roll_matrix_counts_from_and_to(void **state) {
  figures_rolls r;
  int64_t first = figures_month_first("2026-11"),
          next = figures_month_first("2026-12");
  figures_case_at open_late = {FIG_OPEN, "2026-10-10"}, /* 22 then 52 */
      cured = {FIG_OPEN, "2026-11-20"},                 /* current, 11 */
      closed = {FIG_WAS_CLOSED, NULL}, new_case = {FIG_NOT_OPENED, NULL};
  (void)state;
  memset(&r, 0, sizeof r);
  figures_rolls_add(&r, open_late, open_late, first, next, 2);
  figures_rolls_add(&r, open_late, cured, first, next, 1);
  figures_rolls_add(&r, cured, closed, first, next, 1);
  figures_rolls_add(&r, new_case, cured, first, next, 5); /* not open: out */
  figures_rolls_add(&r, closed, cured, first, next, 5);   /* not open: out */
  figures_rolls_add(&r, open_late, open_late, first, next, -1);
  assert_int_equal(r.cases[1][2], 1);
  assert_int_equal(r.cases[1][1], 1);
  assert_int_equal(r.cases[0][FIG_CLOSED], 1);
  for (int f = 0; f < FIG_BUCKETS; f++)
    for (int t = 0; t < FIG_COLUMNS; t++)
      if (!((f == 1 && (t == 1 || t == 2)) || (f == 0 && t == FIG_CLOSED)))
        assert_int_equal(r.cases[f][t], 0);
}

/* --- the counters on a small book ------------------------------------------
 */

static engine *eng;
static rc_error err;

/* Rows of one figure, each as "key|key|...=n/amount", in order. */
typedef struct rows {
  char row[32][200];
  int n;
} rows;

static int collect(void *ud, const store_value *cols, int n) {
  rows *r = ud;
  char *p;
  size_t left;
  if (r->n == 32) return 1;
  p = r->row[r->n++];
  left = sizeof r->row[0];
  p[0] = '\0';
  for (int i = 0; i < n; i++) {
    size_t used = strlen(p);
    const char *sep = i == 0 ? "" : "|";
    if (cols[i].type == STORE_INT)
      snprintf(p + used, left - used, "%s%lld", sep, (long long)cols[i].i);
    else if (cols[i].type == STORE_TEXT)
      snprintf(p + used, left - used, "%s%s", sep, cols[i].s);
    else
      snprintf(p + used, left - used, "%s-", sep);
  }
  return 0;
}

static void expect_rows(const rows *r, ...) {
  va_list ap;
  const char *want;
  int i = 0;
  va_start(ap, r);
  while ((want = va_arg(ap, const char *)) != NULL) {
    if (i >= r->n) fail_msg("row %d missing: wanted %s", i, want);
    if (strcmp(r->row[i], want) != 0)
      fail_msg("row %d is %s; wanted %s", i, r->row[i], want);
    i++;
  }
  va_end(ap);
  if (i != r->n) fail_msg("%d rows; wanted %d (extra: %s)", r->n, i, r->row[i]);
}

static rows days(const char *figure, const char *from, const char *to) {
  rows r;
  memset(&r, 0, sizeof r);
  assert_int_equal(query_figures_days(engine_query(eng), figure, from, to,
                                      collect, &r, &err),
                   RC_OK);
  return r;
}

static rows read_rows(int (*fn)(query *, store_row_fn, void *, rc_error *)) {
  rows r;
  memset(&r, 0, sizeof r);
  assert_int_equal(fn(engine_query(eng), collect, &r, &err), RC_OK);
  return r;
}
#define READ(fn) read_rows(fn)

static void at(const char *when) {
  rc_time t;
  assert_int_equal(clock_parse_time(engine_clock(eng), when, &t, NULL), RC_OK);
  assert_int_equal(engine_run(eng, t, NULL, &err), RC_OK);
  clock_set(engine_clock(eng), t);
}

static void run(void) {
  assert_int_equal(engine_run(eng, clock_now(engine_clock(eng)), NULL, &err),
                   RC_OK);
}

static void upsert(const char *json) {
  json_t *j = json_loads(json, 0, NULL);
  assert_non_null(j);
  if (engine_upsert_case(eng, j, 0, NULL, &err) != RC_OK)
    fail_msg("upsert: %s", err.message);
  json_decref(j);
  run();
}

static void post(const char *id, const char *type, const char *data) {
  json_t *d = data ? json_loads(data, 0, NULL) : NULL;
  if (engine_post(eng, id, type, d, NULL, NULL, &err) != RC_OK)
    fail_msg("post %s: %s", type, err.message);
  json_decref(d);
  run();
}

static void pay(const char *id, rc_money amount, const char *ref) {
  if (engine_pay(eng, id, amount, ref, 0, NULL, &err) != RC_OK)
    fail_msg("pay: %s", err.message);
  run();
}

/* The outbox's counters, against a count of the messages themselves. */
static int count_status(void *ud, const store_value *cols, int n) {
  int64_t *counts = ud;
  for (int i = 0; i < n; i++)
    if (!strcmp(cols[i].name, "status") && cols[i].type == STORE_TEXT)
      counts[!strcmp(cols[i].s, "queued")     ? 0
             : !strcmp(cols[i].s, "deferred") ? 1
                                              : 2]++;
  return 0;
}

static void expect_messages(int64_t queued, int64_t deferred) {
  int64_t q, d, seen[3] = {0, 0, 0};
  assert_int_equal(query_messages_count(engine_query(eng), "queued", &q, &err),
                   RC_OK);
  assert_int_equal(
      query_messages_count(engine_query(eng), "deferred", &d, &err), RC_OK);
  assert_int_equal(q, queued);
  assert_int_equal(d, deferred);
  assert_int_equal(
      query_messages(engine_query(eng), NULL, count_status, seen, &err), RC_OK);
  assert_int_equal(seen[0], queued);
  assert_int_equal(seen[1], deferred);
}

static int task_of(void *ud, const store_value *cols, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(cols[i].name, "id")) *(int64_t *)ud = cols[i].i;
  return 0;
}

static int open_book(void **state) {
  engine_options opts = {FIGURES, ":memory:", 1, 0, 1, 0};
  rc_errlist errors = {0};
  (void)state;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    return -1;
  }
  rc_errlist_free(&errors);
  return 0;
}

static int close_book(void **state) {
  (void)state;
  engine_close(eng);
  return 0;
}

/* The arms' rows (workflow|experiment|arm|cases|recovered|closed_paid|
 * currency, a row an arm and currency, "-" for an arm with no money)
 * summed over the arms: cases and closed paid once an arm, recovered in
 * the institution's currency (CNY) and in all others. */
typedef struct arms_sums {
  long long cases, recovered, paid, elsewhere;
} arms_sums;

/* The length of a row's "workflow|experiment|arm|". */
static size_t arm_key(const char *row) {
  const char *p = row;
  for (int k = 0; k < 3 && p; k++)
    if ((p = strchr(p, '|'))) p++;
  return p ? (size_t)(p - row) : strlen(row);
}

static arms_sums arms_of(const rows *r) {
  arms_sums s = {0, 0, 0, 0};
  for (int i = 0; i < r->n; i++) {
    const char *row = r->row[i];
    char rec[32], cur[16];
    long long c, p;
    size_t key = arm_key(row);
    assert_int_equal(
        sscanf(row + key, "%lld|%31[^|]|%lld|%15s", &c, rec, &p, cur), 4);
    if (i == 0 || key != arm_key(r->row[i - 1]) ||
        strncmp(row, r->row[i - 1], key))
      s.cases += c, s.paid += p;
    if (!strcmp(rec, "-")) continue;
    if (!strcmp(cur, "CNY"))
      s.recovered += atoll(rec);
    else
      s.elsewhere += atoll(rec);
  }
  return s;
}

/* 2026-10-15 in Asia/Shanghai: four cases open (C1 1000 due 10-01, C2
 * 2000 due 08-01, C3 3000 due 10-20, C4 100 due 10-31), each with a call
 * task; C4's handler fails after sending (the SMS would have been
 * deferred: neither is counted) and leaves it in error. */
static void test_a_day_of_work_is_counted(void **state) {
  int64_t task = 0;
  json_t *done;
  rows r;
  (void)state;
  at("2026-10-15T10:00");
  upsert(
      "{\"id\":\"C1\",\"balance\":1000,\"due_date\":\"2026-10-01\","
      "\"borrower\":{\"id\":\"B1\",\"phones\":[\"+8613800000001\"]}}");
  upsert(
      "{\"id\":\"C2\",\"balance\":2000,\"due_date\":\"2026-08-01\","
      "\"borrower\":{\"id\":\"B2\",\"phones\":[\"+8613800000002\"]}}");
  upsert(
      "{\"id\":\"C3\",\"balance\":3000,\"due_date\":\"2026-10-20\","
      "\"borrower\":{\"id\":\"B3\",\"phones\":[\"+8613800000003\"]}}");
  r = READ(query_figures_queues);
  expect_rows(&r, "phone|3|0|1792029600000", NULL);
  /* C4 is only there to fail. */
  upsert(
      "{\"id\":\"C4\",\"balance\":100,\"due_date\":\"2026-10-31\","
      "\"borrower\":{\"id\":\"B4\",\"phones\":[\"+8613800000004\"]}}");
  post("C2", "remind", NULL);      /* an SMS, new -> reminded */
  pay("C1", 1000, "p1");           /* new -> paid, closed */
  engine_set_actor(eng, "li.wei"); /* a promise by a collector */
  post("C3", "pledge", "{\"amount\":500,\"by\":\"2026-10-20\"}");
  engine_set_actor(eng, "");
  query_tasks(engine_query(eng), "C3", task_of, &task, &err);
  assert_true(task > 0);
  assert_int_equal(engine_task_claim(eng, task, "wang.fang", &err), RC_OK);
  done = json_pack("{s:s}", "outcome", "no_answer");
  assert_int_equal(engine_task_complete(eng, task, done, NULL, NULL, &err),
                   RC_OK);
  json_decref(done);
  run();
  pay("C3", 200, "p2"); /* on li.wei's promise */
  at("2026-10-15T22:00");
  post("C3", "nudge", NULL);    /* after hours: deferred */
  post("C4", "sendboom", NULL); /* fails: counts nothing */

  r = READ(query_figures_states);
  expect_rows(&r, "fig|new|2|2900|1|0|CNY", "fig|paid|1|0|0|1|CNY",
              "fig|reminded|1|2000|0|0|CNY", NULL);
  r = READ(query_figures_due);
  expect_rows(&r, "2026-08-01|1|2000|CNY", "2026-10-20|1|2800|CNY",
              "2026-10-31|1|100|CNY", NULL);
  r = READ(query_figures_promises);
  expect_rows(&r, "open|1|500|200|CNY", NULL);
  expect_messages(1, 1);
  r = READ(query_figures_queues);
  expect_rows(&r, "phone|1|0|1792029600000", NULL);
  r = days("payment", "2026-10-15", "2026-10-15");
  expect_rows(&r, "2026-10-15|CNY|||2|1200", NULL);
  r = days("contact", "2026-10-01", "2026-10-31");
  expect_rows(&r, "2026-10-15|call|||1|0", "2026-10-15|sms|||1|0", NULL);
  r = days("refusal", "2026-10-15", "2026-10-15");
  expect_rows(&r, "2026-10-15|contact_hours|deferred|sms|1|0", NULL);
  r = days("transition", "2026-10-15", "2026-10-15");
  expect_rows(&r, "2026-10-15|fig|new|paid|1|0",
              "2026-10-15|fig|new|reminded|1|0", NULL);
  r = days("collector", "2026-10-15", "2026-10-15");
  expect_rows(&r, "2026-10-15|li.wei|collected|CNY|0|200",
              "2026-10-15|li.wei|promises|CNY|1|500",
              "2026-10-15|wang.fang|tasks_done||1|0", NULL);
  /* One arm or the other: three cases, 1200 recovered, one closed paid. */
  r = READ(query_figures_arms);
  {
    arms_sums s = arms_of(&r);
    assert_int_equal(s.cases, 4);
    assert_int_equal(s.recovered, 1200);
    assert_int_equal(s.paid, 1);
  }
}

/* A snapshot lowers C2's balance and moves its due date; the deferred SMS
 * goes out the next morning; the promise breaks after its day. */
static void test_reductions_releases_and_broken_promises(void **state) {
  rows r;
  (void)state;
  upsert(
      "{\"id\":\"C2\",\"balance\":1500,\"due_date\":\"2026-10-10\","
      "\"borrower\":{\"id\":\"B2\"}}");
  r = days("reduced", "2026-10-15", "2026-10-15");
  expect_rows(&r, "2026-10-15|CNY|||1|500", NULL);
  at("2026-11-05T10:00");
  r = days("contact", "2026-10-16", "2026-10-16");
  expect_rows(&r, "2026-10-16|sms|||1|0", NULL);
  expect_messages(2, 0);
  r = READ(query_figures_promises);
  expect_rows(&r, "broken|1|500|200|CNY", NULL);
  r = READ(query_figures_due);
  expect_rows(&r, "2026-10-10|1|1500|CNY", "2026-10-20|1|2800|CNY",
              "2026-10-31|1|100|CNY", NULL);
}

/* November: C2's due date moves again, C3 pays up. In December the two
 * months that ended are settled: in October nothing was open on the
 * first; in November C2 stayed 1-30 (22 days on the first, 11 on
 * December's), C4 rolled from 1-30 to 31-60 (1 day, then 31) and C3
 * went from 1-30 (12 days) to closed. */
static void test_roll_rates_of_ended_months(void **state) {
  rows r;
  (void)state;
  upsert(
      "{\"id\":\"C2\",\"due_date\":\"2026-11-20\","
      "\"borrower\":{\"id\":\"B2\"}}");
  pay("C3", 2800, "p3");
  at("2026-12-03T10:00");
  assert_int_equal(engine_rolls_settle(eng, "2026-10", &err), RC_OK);
  memset(&r, 0, sizeof r);
  assert_int_equal(
      query_rolls_month(engine_query(eng), "2026-10", collect, &r, &err),
      RC_OK);
  expect_rows(&r, "-1|-1|0", NULL);
  assert_int_equal(engine_rolls_settle(eng, "2026-11", &err), RC_OK);
  memset(&r, 0, sizeof r);
  assert_int_equal(
      query_rolls_month(engine_query(eng), "2026-11", collect, &r, &err),
      RC_OK);
  expect_rows(&r, "-1|-1|0", "1|1|1", "1|2|1", "1|5|1", NULL);
  /* Settled once: the same again reads what was kept. */
  assert_int_equal(engine_rolls_settle(eng, "2026-11", &err), RC_OK);
  /* October's log is gone: it cannot be settled again differently. */
  assert_int_equal(engine_rolls_settle(eng, "2026-09", &err), RC_ENOTFOUND);
  r = days("payment", "2026-11-05", "2026-11-05");
  expect_rows(&r, "2026-11-05|CNY|||1|2800", NULL);
  r = READ(query_figures_states);
  expect_rows(&r, "fig|new|1|100|1|0|CNY", "fig|paid|2|0|0|2|CNY",
              "fig|reminded|1|1500|0|0|CNY", NULL);
}

/* The counters against the cases themselves: what a GROUP BY over the
 * book would say. */
typedef struct by_state {
  char state[8][32];
  int64_t cases[8], balance[8], errors[8];
  int n;
} by_state;

static int case_row(void *ud, const store_value *cols, int n) {
  by_state *b = ud;
  const char *state = NULL;
  int64_t balance = 0, error = 0;
  int k;
  for (int i = 0; i < n; i++) {
    if (!strcmp(cols[i].name, "state")) state = cols[i].s;
    if (!strcmp(cols[i].name, "balance")) balance = cols[i].i;
    if (!strcmp(cols[i].name, "error")) error = cols[i].type != STORE_NULL;
  }
  for (k = 0; k < b->n && strcmp(b->state[k], state); k++) {
  }
  if (k == b->n) snprintf(b->state[b->n++], sizeof b->state[0], "%s", state);
  b->cases[k]++;
  b->balance[k] += balance;
  b->errors[k] += error;
  return 0;
}

static void test_counters_agree_with_the_cases(void **state) {
  by_state b;
  rows r;
  (void)state;
  memset(&b, 0, sizeof b);
  assert_int_equal(query_cases(engine_query(eng), NULL, case_row, &b, &err),
                   RC_OK);
  r = READ(query_figures_states);
  assert_int_equal(r.n, b.n);
  for (int k = 0; k < b.n; k++) {
    char want[200];
    int found = 0;
    for (int i = 0; i < r.n; i++) {
      snprintf(want, sizeof want, "fig|%s|%lld|%lld|%lld|", b.state[k],
               (long long)b.cases[k], (long long)b.balance[k],
               (long long)b.errors[k]);
      found |= !strncmp(r.row[i], want, strlen(want));
    }
    if (!found) fail_msg("no counter row for %s", want);
  }
}

/* The entry of list whose key is value; NULL when none. */
static json_t *entry_of(json_t *list, const char *key, const char *value) {
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, key)), value)) return e;
  }
  return NULL;
}

/* A promise li.wei took on a case in yen, and a payment on it: the
 * month's report keeps them in yen, apart from the yuan of the
 * collector's other work (on 2cbe540 summed as yuan, with nothing
 * saying so). */
static void test_a_collector_s_month_is_kept_by_currency(void **state) {
  json_t *r, *month, *li, *jpy;
  (void)state;
  upsert(
      "{\"id\":\"C5\",\"currency\":\"JPY\",\"balance\":5000,"
      "\"due_date\":\"2026-11-20\",\"borrower\":{\"id\":\"B5\","
      "\"phones\":[\"+8613800000005\"]}}");
  engine_set_actor(eng, "li.wei");
  post("C5", "pledge", "{\"amount\":3000,\"by\":\"2026-12-20\"}");
  engine_set_actor(eng, "");
  pay("C5", 1000, "p5");
  assert_int_equal(report_build(eng, &r, &err), RC_OK);
  month = json_object_get(r, "month");
  li = entry_of(json_object_get(month, "collectors"), "user", "li.wei");
  assert_non_null(li);
  assert_int_equal(json_integer_value(json_object_get(li, "promised")), 0);
  jpy = entry_of(json_object_get(li, "by_currency"), "currency", "JPY");
  assert_non_null(jpy);
  assert_int_equal(json_integer_value(json_object_get(jpy, "promised")), 3000);
  assert_int_equal(json_integer_value(json_object_get(jpy, "collected")), 1000);
  jpy = entry_of(json_object_get(month, "by_currency"), "currency", "JPY");
  assert_non_null(jpy);
  assert_int_equal(json_integer_value(json_object_get(jpy, "recovered")), 1000);
  assert_int_equal(json_integer_value(json_object_get(month, "recovered")), 0);
  json_decref(r);
}

/* The book of the test before holds C5 in yen beside the yuan cases,
 * every case in one arm or the other of "tone": the arms' money and the
 * promises' counters keep the yen apart, and so does the report's
 * promises by status (on d8b7683 the arms' recovered added 1,000 yen to
 * the 4,000.00 yuan, and the promises' 3,000 yen to the yuan promised). */
static void test_arms_and_promises_keep_each_currency(void **state) {
  json_t *report, *row;
  arms_sums s;
  size_t i;
  int yen = 0;
  rows r;
  (void)state;
  r = READ(query_figures_arms);
  s = arms_of(&r);
  assert_int_equal(s.cases, 5);
  assert_int_equal(s.recovered, 4000); /* C1 1000, C3 200 + 2800 */
  assert_int_equal(s.elsewhere, 1000); /* C5's yen */
  r = READ(query_figures_promises);
  expect_rows(&r, "broken|1|500|200|CNY", "open|1|3000|1000|JPY", NULL);
  assert_int_equal(report_build(eng, &report, &err), RC_OK);
  json_array_foreach(
      json_object_get(json_object_get(report, "promises"), "by_status"), i,
      row) {
    const char *cur = json_string_value(json_object_get(row, "currency"));
    assert_non_null(cur);
    if (strcmp(cur, "JPY")) continue;
    yen = 1;
    assert_string_equal(json_string_value(json_object_get(row, "status")),
                        "open");
    assert_int_equal(json_integer_value(json_object_get(row, "amount")), 3000);
  }
  assert_true(yen);
  json_decref(report);
}

int main(void) {
  const struct CMUnitTest arithmetic[] = {
      cmocka_unit_test(test_buckets_follow_days_past_due),
      cmocka_unit_test(test_a_due_date_gives_its_bucket_on_a_day),
      cmocka_unit_test(test_a_rate_needs_something_ended),
      cmocka_unit_test(test_months_step_across_years),
      cmocka_unit_test(test_a_roll_matrix_counts_from_and_to),
  };
  const struct CMUnitTest book[] = {
      cmocka_unit_test(test_a_day_of_work_is_counted),
      cmocka_unit_test(test_reductions_releases_and_broken_promises),
      cmocka_unit_test(test_roll_rates_of_ended_months),
      cmocka_unit_test(test_counters_agree_with_the_cases),
      cmocka_unit_test(test_a_collector_s_month_is_kept_by_currency),
      cmocka_unit_test(test_arms_and_promises_keep_each_currency),
  };
  int failed = cmocka_run_group_tests(arithmetic, NULL, NULL);
  return failed + cmocka_run_group_tests(book, open_book, close_book);
}
