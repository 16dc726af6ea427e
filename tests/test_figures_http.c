/* The console's figures over HTTP, on the real `recoup serve` at a
 * loopback port it picks: GET /v1/overview, /v1/workflows, /v1/outbox and
 * /v1/users answer the roles the contract gives them, refuse bad
 * parameters naming them, answer zeros on an empty book, and add up on a
 * small one where every number is known by hand.
 *
 * usage: test_figures_http RECOUP FIXTURES_DIR */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

static const char *fixtures;
static harness srv;

#define INGEST HARNESS_INGEST
#define AGENT HARNESS_AGENT
#define READ HARNESS_READ
#define ADMIN HARNESS_ADMIN

/* The fixture's workflow, under an institution with no contact hours: the
 * numbers must not depend on the hour the test runs at. */
static void write_institution(void) {
  char path[700], text[8192];
  size_t n;
  FILE *f;
  harness_write(&srv, "recoup.lua",
                "institution { name = 'Figures', timezone = 'Asia/Shanghai', "
                "currency = 'CNY' }\n"
                "service { instruction_budget = 1000000, memory_limit = '32MB' "
                "}\n"
                "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT', read "
                "= 'env:T_READ', admin = 'env:T_ADMIN' }\n"
                "channel 'sms' { driver = 'file', path = '/dev/null' }\n"
                "templates { hi = { sms = 'Hello {borrower.name}' } }\n"
                "workflow(require 'workflows.fig')\n");
  harness_mkdir(&srv, "workflows");
  snprintf(path, sizeof path, "%s/figures/workflows/fig.lua", fixtures);
  f = fopen(path, "r");
  assert_non_null(f);
  n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  harness_write(&srv, "workflows/fig.lua", text);
}

/* --- a small client ------------------------------------------------------ */

typedef harness_answer answer;

static answer *call(const char *method, const char *path, const char *token,
                    const char *body) {
  return harness_call(&srv, method, path, token, body, 0);
}

static answer *get(const char *path, const char *token) {
  return harness_get(&srv, path, token);
}

#define expect harness_expect

/* The answer's JSON (the caller's), after checking the status. */
static json_t *get_json(const char *path, const char *token) {
  answer *a = get(path, token);
  json_t *j;
  if (a->status != 200) fail_msg("GET %s: %ld %s", path, a->status, a->body);
  j = json_loads(a->body, 0, NULL);
  if (!j) fail_msg("GET %s: not JSON: %s", path, a->body);
  return j;
}

/* Compares a part of an answer with the JSON it must equal, exactly. */
static void expect_json(const json_t *got, const char *want_text) {
  json_t *want = json_loads(want_text, JSON_DECODE_ANY, NULL);
  if (!want) fail_msg("bad expectation: %s", want_text);
  if (!json_equal(got, want)) {
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    fail_msg("got %s; wanted %s", g, want_text);
  }
  json_decref(want);
}

/* The institution's date `days` from today, "2026-01-31" (Asia/Shanghai,
 * no summer time: UTC+8). */
static void date_from_today(int days, char *buf, size_t size) {
  time_t t = time(NULL) + 8 * 3600 + (time_t)days * 86400;
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, size, "%Y-%m-%d", &tm);
}

/* --- the server ------------------------------------------------------------
 */

static int group_setup(void **state) {
  (void)state;
  write_institution();
  harness_start(&srv);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  harness_stop(&srv);
  harness_close(&srv);
  return 0;
}

/* --- the tests ----------------------------------------------------------- */

static const char *const routes[] = {"/v1/overview", "/v1/workflows",
                                     "/v1/outbox", "/v1/users"};

static void test_each_route_answers_its_roles(void **state) {
  (void)state;
  for (int i = 0; i < 4; i++) {
    expect(get(routes[i], NULL), 401, "unauthorized");
    expect(get(routes[i], AGENT), 403, "forbidden");
    expect(get(routes[i], INGEST), 403, "forbidden");
    expect(get(routes[i], ADMIN), 200, NULL);
  }
  /* read: the figures, not the outbox (recipients) nor the users */
  expect(get("/v1/overview", READ), 200, "\"by_state\"");
  expect(get("/v1/workflows", READ), 200, "\"workflows\"");
  expect(get("/v1/outbox", READ), 403, "forbidden");
  expect(get("/v1/users", READ), 403, "forbidden");
  /* who is who (a login and the name people read): every reader's, to
   * show names where the journal keeps logins */
  expect(get("/v1/people", NULL), 401, "unauthorized");
  expect(get("/v1/people", INGEST), 403, "forbidden");
  expect(get("/v1/people", AGENT), 200, "{\"items\":[]}");
  expect(get("/v1/people", READ), 200, "{\"items\":[]}");
  expect(get("/v1/people", ADMIN), 200, "{\"items\":[]}");
}

static void test_bad_parameters_are_refused_by_name(void **state) {
  (void)state;
  expect(get("/v1/workflows?from=2026-02-01&to=2026-01-01", READ), 422,
         "\"field\":\"from\"");
  expect(get("/v1/workflows?from=2026-13-01", READ), 422, "\"field\":\"from\"");
  expect(get("/v1/workflows?to=soon", READ), 422, "\"field\":\"to\"");
  expect(get("/v1/workflows?from=", READ), 422, "\"field\":\"from\"");
  expect(get("/v1/outbox?status=sent", ADMIN), 422, "\"field\":\"status\"");
  expect(get("/v1/outbox?status=", ADMIN), 422, "\"field\":\"status\"");
  expect(get("/v1/outbox?limit=0", ADMIN), 422, "\"field\":\"limit\"");
  expect(get("/v1/outbox?limit=1001", ADMIN), 422, "\"field\":\"limit\"");
  expect(get("/v1/outbox?after=abc", ADMIN), 422, "\"field\":\"after\"");
  expect(get("/v1/outbox?after=999999", ADMIN), 422, "\"field\":\"after\"");
  expect(get("/v1/outbox?channel=", ADMIN), 422, "\"field\":\"channel\"");
}

/* Nothing imported yet: every figure is a zero, an empty list or null,
 * never an error. */
static void test_an_empty_book_answers_zeros(void **state) {
  json_t *o = get_json("/v1/overview", READ), *w, *wf;
  size_t i;
  json_t *day;
  (void)state;
  expect_json(json_object_get(o, "by_state"), "[]");
  expect_json(json_object_get(o, "by_dpd"),
              "[{\"bucket\":\"current\",\"cases\":0,\"balance\":0,"
              "\"by_currency\":[]},"
              "{\"bucket\":\"1-30\",\"cases\":0,\"balance\":0,"
              "\"by_currency\":[]},"
              "{\"bucket\":\"31-60\",\"cases\":0,\"balance\":0,"
              "\"by_currency\":[]},"
              "{\"bucket\":\"61-90\",\"cases\":0,\"balance\":0,"
              "\"by_currency\":[]},"
              "{\"bucket\":\"90+\",\"cases\":0,\"balance\":0,"
              "\"by_currency\":[]}]");
  expect_json(json_object_get(o, "currencies"), "[\"CNY\"]");
  assert_int_equal(json_array_size(json_object_get(o, "recovered")), 30);
  json_array_foreach(json_object_get(o, "recovered"), i, day) {
    assert_int_equal(json_integer_value(json_object_get(day, "payments")), 0);
    assert_int_equal(json_integer_value(json_object_get(day, "reduced")), 0);
  }
  expect_json(json_object_get(o, "promises"),
              "{\"kept\":0,\"broken\":0,\"open\":0,\"kept_rate\":null}");
  expect_json(json_object_get(o, "contacts"), "[]");
  expect_json(json_object_get(o, "refusals"), "[]");
  expect_json(json_object_get(o, "queues"), "[]");
  expect_json(json_object_get(o, "collectors"), "[]");
  expect_json(json_object_get(o, "errors"), "0");
  expect_json(json_object_get(o, "currency"), "\"CNY\"");
  json_decref(o);
  w = get_json("/v1/workflows", READ);
  wf = json_array_get(json_object_get(w, "workflows"), 0);
  expect_json(json_object_get(wf, "name"), "\"fig\"");
  expect_json(json_object_get(wf, "versions"), "[1]");
  expect_json(json_object_get(wf, "states"),
              "[{\"name\":\"new\",\"priority\":0,\"final\":false,"
              "\"cases\":0,\"declared\":true},"
              "{\"name\":\"paid\",\"priority\":0,\"final\":true,"
              "\"cases\":0,\"declared\":true},"
              "{\"name\":\"reminded\",\"priority\":0,\"final\":false,"
              "\"cases\":0,\"declared\":true}]");
  expect_json(json_object_get(wf, "experiments"), "[]");
  expect_json(json_object_get(json_object_get(wf, "tasks"), "call"),
              "{\"no_answer\":{\"fields\":{},\"conversation\":false},"
              "\"promise\":{\"fields\":{\"amount\":{\"type\":\"money\","
              "\"optional\":false},\"by\":{\"type\":\"date\","
              "\"optional\":false}},\"conversation\":false}}");
  json_decref(w);
  expect(get("/v1/outbox", ADMIN), 200,
         "{\"items\":[],\"next\":null,\"counts\":{\"queued\":0,"
         "\"deferred\":0,\"blocked\":0,\"failed\":0}}");
  expect(get("/v1/users", ADMIN), 200, "{\"items\":[]}");
}

static void open_case(const char *id, long balance, int due_in,
                      const char *borrower_extra) {
  char body[600], due[16];
  date_from_today(due_in, due, sizeof due);
  snprintf(body, sizeof body,
           "{\"id\":\"%s\",\"balance\":%ld,\"due_date\":\"%s\",\"borrower\":"
           "{\"id\":\"B%s\",\"phones\":[\"+861380000%04d\"]%s}}",
           id, balance, due, id, (int)(id[0] - 'A'), borrower_extra);
  expect(call("POST", "/v1/cases", INGEST, body), 201, NULL);
}

/* Waits (5 s at most: sanitizer builds are slow) for a case's state, or
 * for its error when state is NULL. */
static void wait_case(const char *id, const char *state) {
  char path[100], want[100];
  snprintf(path, sizeof path, "/v1/cases/%s", id);
  snprintf(want, sizeof want, "\"state\":\"%s\"", state ? state : "");
  for (int tries = 0; tries < 100; tries++) {
    answer *a = get(path, ADMIN);
    if (a->status == 200 && (state ? strstr(a->body, want) != NULL
                                   : strstr(a->body, "\"error\":\"") != NULL))
      return;
    usleep(50000);
  }
  fail_msg("case %s never reached %s", id, state ? state : "its error");
}

/* Five cases, by hand: A 1000.00 due 10 days ago (paid in full: closed),
 * B 2000.00 due 45 days ago (300.00 paid), C 3000.00 due in 5 days
 * (reminded: an SMS), D 500.00 due 100 days ago (reminded, but its
 * borrower asked not to be contacted: its call task and SMS are
 * refused), E 700.00 due 20 days ago
 * (its handler fails: in error). */
static void test_a_small_book_adds_up(void **state) {
  json_t *o, *w, *wf, *arm;
  char today[16], path[120];
  size_t i;
  long long cases = 0, recovered = 0, paid = 0;
  (void)state;
  open_case("A", 100000, -10, "");
  open_case("B", 200000, -45, "");
  open_case("C", 300000, 5, "");
  open_case("D", 50000, -100, ",\"do_not_contact\":true");
  open_case("E", 70000, -20, "");
  wait_case("E", "new");
  expect(call("POST", "/v1/payments", INGEST,
              "{\"case\":\"A\",\"amount\":100000,\"ref\":\"pa\"}"),
         201, NULL);
  expect(call("POST", "/v1/payments", INGEST,
              "{\"case\":\"B\",\"amount\":30000,\"ref\":\"pb\"}"),
         201, NULL);
  expect(call("POST", "/v1/cases/C/events", INGEST, "{\"type\":\"remind\"}"),
         202, NULL);
  expect(call("POST", "/v1/cases/D/events", INGEST, "{\"type\":\"remind\"}"),
         202, NULL);
  expect(call("POST", "/v1/cases/E/events", INGEST, "{\"type\":\"boom\"}"), 202,
         NULL);
  wait_case("A", "paid");
  wait_case("C", "reminded");
  wait_case("D", "reminded");
  wait_case("E", NULL);
  date_from_today(0, today, sizeof today);

  o = get_json("/v1/overview", READ);
  expect_json(json_object_get(o, "by_state"),
              "[{\"workflow\":\"fig\",\"state\":\"new\",\"cases\":2,"
              "\"balance\":240000,\"errors\":1,\"closed\":0,\"by_currency\":"
              "[{\"currency\":\"CNY\",\"cases\":2,\"balance\":240000}]},"
              "{\"workflow\":\"fig\",\"state\":\"paid\",\"cases\":1,"
              "\"balance\":0,\"errors\":0,\"closed\":1,\"by_currency\":"
              "[{\"currency\":\"CNY\",\"cases\":1,\"balance\":0}]},"
              "{\"workflow\":\"fig\",\"state\":\"reminded\",\"cases\":2,"
              "\"balance\":350000,\"errors\":0,\"closed\":0,\"by_currency\":"
              "[{\"currency\":\"CNY\",\"cases\":2,\"balance\":350000}]}]");
  expect_json(json_object_get(o, "by_dpd"),
              "[{\"bucket\":\"current\",\"cases\":1,\"balance\":300000,"
              "\"by_currency\":[{\"currency\":\"CNY\",\"cases\":1,"
              "\"balance\":300000}]},"
              "{\"bucket\":\"1-30\",\"cases\":1,\"balance\":70000,"
              "\"by_currency\":[{\"currency\":\"CNY\",\"cases\":1,"
              "\"balance\":70000}]},"
              "{\"bucket\":\"31-60\",\"cases\":1,\"balance\":170000,"
              "\"by_currency\":[{\"currency\":\"CNY\",\"cases\":1,"
              "\"balance\":170000}]},"
              "{\"bucket\":\"61-90\",\"cases\":0,\"balance\":0,"
              "\"by_currency\":[]},"
              "{\"bucket\":\"90+\",\"cases\":1,\"balance\":50000,"
              "\"by_currency\":[{\"currency\":\"CNY\",\"cases\":1,"
              "\"balance\":50000}]}]");
  expect_json(json_object_get(o, "currencies"), "[\"CNY\"]");
  {
    json_t *days = json_object_get(o, "recovered"),
           *last = json_array_get(days, 29);
    char want[240];
    snprintf(want, sizeof want,
             "{\"day\":\"%s\",\"payments\":130000,\"reduced\":0,"
             "\"by_currency\":[{\"currency\":\"CNY\",\"payments\":130000,"
             "\"reduced\":0}]}",
             today);
    expect_json(last, want);
    for (i = 0; i < 29; i++)
      assert_int_equal(json_integer_value(json_object_get(
                           json_array_get(days, i), "payments")),
                       0);
  }
  expect_json(json_object_get(o, "contacts"),
              "[{\"channel\":\"sms\",\"count\":1}]");
  /* D's call task and its SMS, both refused for its borrower */
  expect_json(json_object_get(o, "refusals"),
              "[{\"rule\":\"do_not_contact\",\"count\":2,\"blocked\":2,"
              "\"deferred\":0}]");
  {
    json_t *q = json_array_get(json_object_get(o, "queues"), 0);
    assert_int_equal(json_array_size(json_object_get(o, "queues")), 1);
    expect_json(json_object_get(q, "queue"), "\"phone\"");
    expect_json(json_object_get(q, "open"), "2");
    expect_json(json_object_get(q, "claimed"), "0");
    assert_true(json_is_string(json_object_get(q, "oldest_due")));
  }
  expect_json(json_object_get(o, "errors"), "1");
  expect_json(json_object_get(o, "collectors"), "[]");
  json_decref(o);

  snprintf(path, sizeof path, "/v1/workflows?from=%s&to=%s", today, today);
  w = get_json(path, READ);
  wf = json_array_get(json_object_get(w, "workflows"), 0);
  expect_json(json_object_get(wf, "transitions"),
              "[{\"from\":\"new\",\"to\":\"reminded\",\"count\":2,"
              "\"declared\":true},"
              "{\"from\":\"new\",\"to\":\"paid\",\"count\":1,"
              "\"declared\":true},"
              "{\"from\":\"reminded\",\"to\":\"paid\",\"count\":0,"
              "\"declared\":true}]");
  assert_int_equal(
      json_integer_value(json_object_get(
          json_array_get(json_object_get(wf, "states"), 0), "cases")),
      2);
  /* Arms are picked by a hash of the case id: their sums are known. */
  json_array_foreach(
      json_object_get(json_array_get(json_object_get(wf, "experiments"), 0),
                      "arms"),
      i, arm) {
    cases += json_integer_value(json_object_get(arm, "cases"));
    recovered += json_integer_value(json_object_get(arm, "recovered"));
    paid += json_integer_value(json_object_get(arm, "closed_paid"));
  }
  assert_int_equal(cases, 5);
  assert_int_equal(recovered, 130000);
  assert_int_equal(paid, 1);
  json_decref(w);
  /* Yesterday nothing moved. */
  date_from_today(-1, today, sizeof today);
  snprintf(path, sizeof path, "/v1/workflows?from=%s&to=%s", today, today);
  expect(get(path, READ), 200,
         "{\"from\":\"new\",\"to\":\"reminded\",\"count\":0");
}

static void test_the_outbox_lists_held_messages_by_page(void **state) {
  json_t *page, *item;
  long long next;
  char path[100];
  (void)state;
  page = get_json("/v1/outbox?status=blocked", ADMIN);
  assert_int_equal(json_array_size(json_object_get(page, "items")), 1);
  item = json_array_get(json_object_get(page, "items"), 0);
  expect_json(json_object_get(item, "case"), "\"D\"");
  expect_json(json_object_get(item, "channel"), "\"sms\"");
  expect_json(json_object_get(item, "status"), "\"blocked\"");
  expect_json(json_object_get(item, "reason"), "\"do_not_contact\"");
  expect_json(json_object_get(item, "to"), "\"+8613800000003\"");
  expect_json(json_object_get(page, "next"), "null");
  expect_json(json_object_get(json_object_get(page, "counts"), "blocked"), "1");
  json_decref(page);
  expect(get("/v1/outbox?status=blocked&channel=email", ADMIN), 200,
         "\"items\":[],\"next\":null");
  page = get_json("/v1/outbox?status=blocked&limit=1", ADMIN);
  next = json_integer_value(json_object_get(page, "next"));
  assert_true(next > 0);
  json_decref(page);
  snprintf(path, sizeof path, "/v1/outbox?status=blocked&limit=1&after=%lld",
           next);
  expect(get(path, ADMIN), 200, "\"items\":[],\"next\":null");
}

/* The entry for currency in a by_currency list; fails without one. */
static json_t *in_currency(json_t *list, const char *currency) {
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, "currency")), currency))
      return e;
  }
  fail_msg("no %s in %s", currency, json_dumps(list, JSON_COMPACT));
  return NULL;
}

static void open_case_in(const char *id, const char *currency, long balance,
                         int due_in) {
  char body[600], due[16];
  date_from_today(due_in, due, sizeof due);
  snprintf(body, sizeof body,
           "{\"id\":\"%s\",\"currency\":\"%s\",\"balance\":%ld,"
           "\"due_date\":\"%s\",\"borrower\":{\"id\":\"B%s\"}}",
           id, currency, balance, due, id);
  expect(call("POST", "/v1/cases", INGEST, body), 201, NULL);
}

/* A lender's book in several currencies: a dollar loan beside the yuan
 * ones, and a Croatian loan paid in kuna and then moved to euro (HRK ->
 * EUR, 2023). The Overview sums each currency apart: the yuan figures
 * of the test before stay as they were, and every other currency has
 * its own entry; the kuna paid before the move stay kuna, in the
 * Overview and the report. A payment in another currency than its
 * case's, and a move to another currency whose balance is not restated,
 * are refused naming `currency`. Fails on 4921bb4 (no by_currency; the
 * dollars added to the yuan balance). */
static void test_two_currencies_are_summed_apart(void **state) {
  json_t *o, *row, *e, *r;
  (void)state;
  /* a case has a currency: none given is the institution's, an empty
   * one is refused */
  expect(call("POST", "/v1/cases", INGEST,
              "{\"id\":\"N\",\"currency\":\"\",\"balance\":100,\"due_date\":"
              "\"2026-01-01\","
              "\"borrower\":{\"id\":\"BN\"}}"),
         422, "\"field\":\"currency\"");
  open_case_in("U", "USD", 500000, -10);
  open_case_in("H", "HRK", 753450, -12);
  wait_case("U", "new");
  wait_case("H", "new");
  expect(call("POST", "/v1/payments", INGEST,
              "{\"case\":\"U\",\"amount\":100,\"ref\":\"pu\","
              "\"currency\":\"USD\"}"),
         201, NULL);
  expect(call("POST", "/v1/payments", INGEST,
              "{\"case\":\"U\",\"amount\":100,\"ref\":\"pu2\","
              "\"currency\":\"CNY\"}"),
         422, "\"field\":\"currency\"");
  expect(call("POST", "/v1/payments", INGEST,
              "{\"case\":\"H\",\"amount\":10000,\"ref\":\"ph\"}"),
         201, NULL);
  /* moved to euro without its balance restated: 7,534.50 kuna is no
   * 7,534.50 euro */
  expect(call("POST", "/v1/cases", INGEST,
              "{\"id\":\"H\",\"currency\":\"EUR\",\"borrower\":"
              "{\"id\":\"BH\"}}"),
         422, "\"field\":\"currency\"");
  expect(call("POST", "/v1/cases", INGEST,
              "{\"id\":\"H\",\"currency\":\"EUR\",\"balance\":98671,"
              "\"borrower\":{\"id\":\"BH\"}}"),
         200, NULL);
  expect(call("POST", "/v1/payments", INGEST,
              "{\"case\":\"H\",\"amount\":5000,\"ref\":\"ph2\"}"),
         201, NULL);

  o = get_json("/v1/overview", READ);
  expect_json(json_array_get(json_object_get(o, "currencies"), 0), "\"CNY\"");
  assert_int_equal(json_array_size(json_object_get(o, "currencies")), 4);
  /* the others in the order of their codes, not as the rows named them
   * (6fcc684: EUR and USD by their cases' states, then HRK, whose
   * payments alone are left: columns that changed places as cases moved) */
  expect_json(json_object_get(o, "currencies"),
              "[\"CNY\",\"EUR\",\"HRK\",\"USD\"]");
  row = json_array_get(json_object_get(o, "by_state"), 0); /* fig/new */
  expect_json(json_object_get(row, "state"), "\"new\"");
  expect_json(json_object_get(row, "cases"), "4");
  expect_json(json_object_get(row, "balance"), "240000"); /* yuan alone */
  expect_json(in_currency(json_object_get(row, "by_currency"), "USD"),
              "{\"currency\":\"USD\",\"cases\":1,\"balance\":499900}");
  expect_json(in_currency(json_object_get(row, "by_currency"), "EUR"),
              "{\"currency\":\"EUR\",\"cases\":1,\"balance\":93671}");
  row = json_array_get(json_object_get(o, "by_dpd"), 1); /* 1-30 */
  expect_json(json_object_get(row, "cases"), "3");
  expect_json(json_object_get(row, "balance"), "70000");
  assert_int_equal(json_array_size(json_object_get(row, "by_currency")), 3);
  row = json_array_get(json_object_get(o, "recovered"), 29); /* today */
  expect_json(json_object_get(row, "payments"), "130000");
  expect_json(in_currency(json_object_get(row, "by_currency"), "USD"),
              "{\"currency\":\"USD\",\"payments\":100,\"reduced\":0}");
  expect_json(in_currency(json_object_get(row, "by_currency"), "HRK"),
              "{\"currency\":\"HRK\",\"payments\":10000,\"reduced\":0}");
  expect_json(in_currency(json_object_get(row, "by_currency"), "EUR"),
              "{\"currency\":\"EUR\",\"payments\":5000,\"reduced\":0}");
  json_decref(o);

  r = get_json("/v1/reports/summary", READ);
  e = in_currency(json_object_get(r, "by_currency"), "HRK");
  expect_json(json_object_get(e, "recovered"), "10000");
  e = in_currency(json_object_get(r, "by_currency"), "EUR");
  expect_json(json_object_get(e, "recovered"), "5000");
  expect_json(json_object_get(e, "balance"), "93671");
  json_decref(r);
}

/* 100 (fen or cents) to case T under ref pt, in currency (NULL: none
 * named). */
static answer *pay_t(const char *currency) {
  char body[200];
  if (currency)
    snprintf(body, sizeof body,
             "{\"case\":\"T\",\"amount\":100,\"ref\":\"pt\","
             "\"currency\":\"%s\"}",
             currency);
  else
    snprintf(body, sizeof body,
             "{\"case\":\"T\",\"amount\":100,\"ref\":\"pt\"}");
  return call("POST", "/v1/payments", INGEST, body);
}

/* A payment's currency as a feed mistypes it is said as such, as an
 * import says it, whatever the ref: on 6fcc684 'cny' was compared with
 * the case's CNY and refused as another currency, the answer advising
 * the case be imported again "in cny"; "CNY " and "" the same. Nothing
 * is recorded: the ref stays free for the payment sent right. A ref
 * names a payment in its currency: another is a conflict. */
static void test_a_payments_mistyped_currency_is_said_so(void **state) {
  (void)state;
  open_case_in("T", "CNY", 100000, -3);
  wait_case("T", "new");
  expect(pay_t("cny"), 422,
         "currency 'cny' is not an ISO 4217 code as written: write CNY");
  expect(pay_t("CNY "), 422,
         "currency 'CNY ' is not an ISO 4217 code as written: write CNY");
  expect(pay_t(""), 422,
         "currency '' is not an ISO 4217 code (three capital letters");
  expect(pay_t("ZZZ"), 422,
         "currency 'ZZZ' is not an ISO 4217 currency ICU knows");
  expect(pay_t("CNY"), 201, NULL);
  /* a resend mistyped is refused too, not taken for the payment */
  expect(pay_t("cny"), 422, "\"field\":\"currency\"");
  /* 100 dollars with the ref of 100 yuan is another payment: on 6fcc684
   * it was answered a duplicate, and the feed counted it recorded */
  expect(pay_t("USD"), 409,
         "payment ref 'pt' was already used for 100 CNY on case T, not USD");
  expect(pay_t("CNY"), 200, "\"duplicate\"");
  expect(pay_t(NULL), 200, "\"duplicate\"");
}

/* What the report's experiment arms recovered in currency, all arms. */
static json_int_t arms_recovered_in(json_t *report, const char *currency) {
  json_int_t sum = 0;
  size_t i;
  json_t *row;
  json_array_foreach(json_object_get(report, "variants"), i, row) {
    if (!strcmp(json_string_value(json_object_get(row, "currency")), currency))
      sum += json_integer_value(json_object_get(row, "recovered"));
  }
  return sum;
}

/* amount (fen, kuna cents) to case id under ref, in the case's currency. */
static answer *pay(const char *id, long amount, const char *ref) {
  char body[200];
  snprintf(body, sizeof body,
           "{\"case\":\"%s\",\"amount\":%ld,\"ref\":\"%s\"}", id, amount,
           ref);
  return call("POST", "/v1/payments", INGEST, body);
}

/* Case M imported again in EUR, its balance restated, with what the row
 * adds (",\"reduced\":1327"). */
static answer *move_m(const char *more) {
  char body[400];
  snprintf(body, sizeof body,
           "{\"id\":\"M\",\"currency\":\"EUR\",\"balance\":5309%s,"
           "\"borrower\":{\"id\":\"BM\"}}",
           more);
  return call("POST", "/v1/cases", INGEST, body);
}

/* A case moved to another currency (HRK -> EUR) holds no amount of the
 * currency it leaves: its open promise and plan, agreed with the
 * borrower in kuna, end first (an import cannot restate an agreement),
 * a case holding kuna paid over its balance stays in kuna (owed back as
 * paid), and what snapshots took off its balance comes restated in the
 * row, as the balance does; an import gives that figure for this alone.
 * On b365a5a the move was taken with the promise open: 1,000 kuna
 * promised read as 1,000 euro and was kept by 1,000 euro; kuna reduced
 * and overpaid read as euro. */
static void test_a_case_moves_currency_with_nothing_held(void **state) {
  json_t *c;
  (void)state;
  open_case_in("M", "HRK", 200000, -5);
  wait_case("M", "new");
  /* a snapshot takes 100 kuna off: reduced by import */
  expect(call("POST", "/v1/cases", INGEST,
              "{\"id\":\"M\",\"balance\":190000,\"borrower\":{\"id\":\"BM\"}}"),
         200, NULL);
  expect(call("POST", "/v1/cases/M/promises", AGENT,
              "{\"amount\":100000,\"by\":\"7d\"}"),
         201, NULL);
  expect(move_m(",\"reduced\":1327"), 422,
         "case M has an open promise of 1,000.00 HRK due ");
  expect(move_m(",\"reduced\":1327"), 422, "before moving the case to EUR");
  expect(pay("M", 100000, "pm1"), 201, NULL);
  expect(call("POST", "/v1/cases/M/events", INGEST,
              "{\"type\":\"restructure\",\"data\":{\"total\":50000}}"),
         202, NULL);
  wait_case("M", "reminded");
  expect(move_m(",\"reduced\":1327"), 422,
         "case M has an open plan with 2 installments unpaid (500.00 HRK, "
         "the next due ");
  expect(pay("M", 50000, "pm2"), 201, NULL);
  expect(move_m(""), 422,
         "its reduced (100.00 HRK, taken off the balance by imports) must "
         "come in EUR too");
  /* recoup's own figure is not an import's to set otherwise */
  expect(call("POST", "/v1/cases", INGEST,
              "{\"id\":\"M\",\"reduced\":5,\"borrower\":{\"id\":\"BM\"}}"),
         422, "\"field\":\"reduced\"");
  expect(call("POST", "/v1/cases", INGEST,
              "{\"id\":\"M2\",\"balance\":100,\"amount_due\":100,"
              "\"reduced\":5,\"borrower\":{\"id\":\"BM\"}}"),
         422, "\"field\":\"reduced\"");
  /* as the case holds it: a feed sending the case back as read */
  expect(call("POST", "/v1/cases", INGEST,
              "{\"id\":\"M\",\"reduced\":10000,\"borrower\":{\"id\":\"BM\"}}"),
         200, NULL);
  expect(move_m(",\"reduced\":1327"), 200, NULL);
  c = get_json("/v1/cases/M", READ);
  expect_json(json_object_get(c, "currency"), "\"EUR\"");
  expect_json(json_object_get(c, "balance"), "5309");
  expect_json(json_object_get(c, "reduced"), "1327");
  json_decref(c);

  /* 150 kuna paid on a debt of 100: 50 kuna to refund keep it in kuna */
  open_case_in("O", "HRK", 10000, -5);
  wait_case("O", "new");
  expect(pay("O", 15000, "po"), 201, NULL);
  expect(call("POST", "/v1/cases", INGEST,
              "{\"id\":\"O\",\"currency\":\"EUR\",\"balance\":0,"
              "\"borrower\":{\"id\":\"BO\"}}"),
         422,
         "case O holds 50.00 HRK paid over its balance, owed back in HRK as "
         "it was paid: it stays in HRK");

}

/* The report of the book the test before left (cases in CNY, USD, EUR,
 * HRK and now AUD) lists the institution's currency first, then the
 * others by code, as the Overview does (alphabetical on b365a5a: AUD
 * before CNY), keeps what the moved case restated in its new currency,
 * and counts what its experiment arms recovered in the currency each
 * payment came in. */
static void test_the_report_s_currencies_read_as_the_overview_s(void **state) {
  json_t *r, *by;
  (void)state;
  open_case_in("AU", "AUD", 100000, -3);
  wait_case("AU", "new");
  r = get_json("/v1/reports/summary", READ);
  by = json_object_get(r, "by_currency");
  expect_json(json_object_get(json_array_get(by, 0), "currency"), "\"CNY\"");
  expect_json(json_object_get(json_array_get(by, 1), "currency"), "\"AUD\"");
  expect_json(json_object_get(in_currency(by, "EUR"), "reduced_by_import"),
              "1327");
  expect_json(json_object_get(in_currency(by, "HRK"), "overpaid"), "5000");
  /* the arms recovered each payment in its currency: M's and H's kuna
   * (1,500 and 100) with O's 150, H's 50 euro alone in euro (on b365a5a
   * the kuna of the moved cases were counted as euro) */
  assert_int_equal(arms_recovered_in(r, "HRK"), 175000);
  assert_int_equal(arms_recovered_in(r, "EUR"), 5000);
  json_decref(r);
}

/* The book the tests before left: every case in an arm of "tone", money
 * recovered in yuan (the small book's 1,300.00 and T's 1.00), dollars
 * (U), kuna (H, M, O) and euro (H after its move), and M's promise of
 * 1,000.00 kuna. The Strategy page's arms keep each currency apart: an
 * arm's `recovered` is its yuan alone, its by_currency each currency's,
 * yuan first; the report's promises by status name their currency (on
 * d8b7683 the arms read yuan, dollars, kuna and euro added, 310,200, and
 * the kuna promised was summed with any yuan). */
static void test_the_arms_and_promises_keep_each_currency(void **state) {
  json_t *w, *arms, *arm, *r, *row;
  json_int_t cny = 0, plain = 0, usd = 0, hrk = 0, eur = 0, kuna = 0;
  size_t i, j;
  (void)state;
  w = get_json("/v1/workflows", READ);
  arms = json_object_get(
      json_array_get(
          json_object_get(json_array_get(json_object_get(w, "workflows"), 0),
                          "experiments"),
          0),
      "arms");
  assert_int_equal(json_array_size(arms), 2);
  json_array_foreach(arms, i, arm) {
    json_t *by = json_object_get(arm, "by_currency"), *e;
    expect_json(json_object_get(json_array_get(by, 0), "currency"), "\"CNY\"");
    plain += json_integer_value(json_object_get(arm, "recovered"));
    json_array_foreach(by, j, e) {
      const char *cur = json_string_value(json_object_get(e, "currency"));
      json_int_t v = json_integer_value(json_object_get(e, "recovered"));
      if (!strcmp(cur, "CNY"))
        cny += v;
      else if (!strcmp(cur, "USD"))
        usd += v;
      else if (!strcmp(cur, "HRK"))
        hrk += v;
      else if (!strcmp(cur, "EUR"))
        eur += v;
      else
        fail_msg("an arm recovered %s", cur);
      /* the others in the order of their codes */
      if (j > 1)
        assert_true(strcmp(json_string_value(json_object_get(
                               json_array_get(by, j - 1), "currency")),
                           cur) < 0);
    }
  }
  assert_int_equal(plain, 130100);
  assert_int_equal(cny, 130100);
  assert_int_equal(usd, 100);
  assert_int_equal(hrk, 175000);
  assert_int_equal(eur, 5000);
  json_decref(w);

  r = get_json("/v1/reports/summary", READ);
  json_array_foreach(
      json_object_get(json_object_get(r, "promises"), "by_status"), i, row) {
    const char *cur = json_string_value(json_object_get(row, "currency"));
    if (!cur) fail_msg("a promises row without its currency");
    if (!strcmp(cur, "HRK"))
      kuna += json_integer_value(json_object_get(row, "amount"));
  }
  assert_int_equal(kuna, 100000);
  json_decref(r);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_route_answers_its_roles),
      cmocka_unit_test(test_bad_parameters_are_refused_by_name),
      cmocka_unit_test(test_an_empty_book_answers_zeros),
      cmocka_unit_test(test_a_small_book_adds_up),
      cmocka_unit_test(test_the_outbox_lists_held_messages_by_page),
      cmocka_unit_test(test_two_currencies_are_summed_apart),
      cmocka_unit_test(test_a_payments_mistyped_currency_is_said_so),
      cmocka_unit_test(test_a_case_moves_currency_with_nothing_held),
      cmocka_unit_test(test_the_report_s_currencies_read_as_the_overview_s),
      cmocka_unit_test(test_the_arms_and_promises_keep_each_currency),
  };
  if (argc != 3) {
    fprintf(stderr, "usage: %s RECOUP FIXTURES_DIR\n", argv[0]);
    return 2;
  }
  harness_open(&srv, argv[1], "fig");
  fixtures = argv[2];
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
