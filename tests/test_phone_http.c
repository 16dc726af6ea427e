/* A borrower on the line, over HTTP on the real `recoup serve` at a
 * loopback port it picks: GET /v1/cases?phone= finds their cases from the
 * number as a collector hears or sees it (spaced, dashed, with +86 or
 * 0086), read as the import reads a phone; a number many borrowers share
 * is paged; a number that is not one is 422 naming `phone`; a named
 * agent finds only what Cases shows it.
 *
 * usage: test_phone_http RECOUP */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "harness.h"

static harness srv;

#define INGEST HARNESS_INGEST
#define AGENT HARNESS_AGENT
#define READ HARNESS_READ
#define ADMIN HARNESS_ADMIN
#define expect harness_expect
#define expect_not harness_expect_not

typedef harness_answer answer;

static const char *workflow =
    "return recoup.workflow { name = 'ph', version = 1, initial = 'new',\n"
    "  tasks = { review = { outcomes = { done = {} } } },\n"
    "  states = {\n"
    "    new = { on = { review = function(case, ev)\n"
    "      case:task('review', { queue = ev.queue }) end } },\n"
    "    closed = { final = true },\n"
    "  },\n"
    "  transitions = { new = { 'closed' } },\n"
    "}\n";

static answer *get(const char *path, const char *token) {
  return harness_get(&srv, path, token);
}

/* A case of borrower bid, whose own phone is phone; third: a contact
 * person's number kept with the borrower, or NULL. */
static void open_case(const char *id, const char *bid, const char *phone,
                      const char *third) {
  char body[700];
  snprintf(body, sizeof body,
           "{\"id\":\"%s\",\"balance\":500000,\"amount_due\":120000,"
           "\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"%s\","
           "\"name\":\"Name %s\",\"phones\":[\"%s\"]%s%s%s}}",
           id, bid, bid, phone,
           third ? ",\"contacts\":[{\"name\":\"Spouse\",\"relation\":"
                   "\"spouse\",\"phone\":\""
                 : "",
           third ? third : "", third ? "\"}]" : "");
  expect(harness_post(&srv, "/v1/cases", INGEST, body), 201, NULL);
}

static void review(const char *id, const char *queue) {
  char path[100], body[100];
  snprintf(path, sizeof path, "/v1/cases/%s/events", id);
  snprintf(body, sizeof body,
           "{\"type\":\"review\",\"data\":{\"queue\":\"%s\"}}", queue);
  expect(harness_post(&srv, path, INGEST, body), 202, NULL);
}

/* The ids of a case list, in order: "P1 P2". */
static void ids(const answer *a, char *out, size_t size) {
  json_t *v = harness_json(a), *c;
  size_t i, at = 0;
  out[0] = '\0';
  json_array_foreach(json_object_get(v, "cases"), i, c) {
    at += (size_t)snprintf(out + at, size - at, "%s%s", at ? " " : "",
                           json_string_value(json_object_get(c, "id")));
  }
  json_decref(v);
}

/* Waits (5 s at most: sanitizer builds are slow) until queue holds n
 * open tasks. */
static void wait_tasks(const char *queue, int n) {
  char path[200];
  int got = -1;
  for (int tries = 0; tries < 100; tries++) {
    json_t *v;
    snprintf(path, sizeof path, "/v1/tasks?queue=%s&status=open", queue);
    v = harness_json(get(path, ADMIN));
    got = (int)json_array_size(json_object_get(v, "tasks"));
    json_decref(v);
    if (got >= n) return;
    usleep(50000);
  }
  fail_msg("queue %s has %d open tasks, not %d", queue, got, n);
}

static int group_setup(void **state) {
  (void)state;
  harness_write(&srv, "recoup.lua",
                "institution { name = 'Ph', timezone = 'Asia/Shanghai', "
                "currency = 'CNY', country = 'CN' }\n"
                "service { instruction_budget = 1000000, memory_limit = "
                "'32MB' }\n"
                "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT', "
                "read = 'env:T_READ', admin = 'env:T_ADMIN' }\n"
                "workflow(require 'workflows.ph')\n");
  harness_mkdir(&srv, "workflows");
  harness_write(&srv, "workflows/ph.lua", workflow);
  harness_start(&srv);
  harness_add_user(&srv, "li.wei", "agent", "phone");
  /* Two borrowers share 138 0013 8000 (P1, P2 and P3: P2 and P3 one
   * borrower's); P4's borrower has another number and keeps 138 0013 8000
   * as a spouse's. */
  open_case("P1", "BA", "+8613800138000", NULL);
  open_case("P2", "BB", "+8613800138000", NULL);
  open_case("P3", "BB", "+8613800138000", NULL);
  open_case("P4", "BC", "+8613900139000", "+8613800138000");
  review("P1", "phone");
  review("P2", "field");
  review("P3", "field");
  review("P4", "phone");
  wait_tasks("phone", 2);
  wait_tasks("field", 2);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  harness_stop(&srv);
  harness_close(&srv);
  return 0;
}

/* However it is written, the number finds its borrowers' cases and only
 * theirs; each with what a list row shows. */
static void test_a_number_as_typed_finds_its_borrowers_cases(void **state) {
  static const char *const typed[] = {
      "138%200013%208000", "13800138000", "%2B86%20138-0013-8000",
      "0086%20138%200013%208000", "(138)%200013-8000", NULL};
  char path[200], got[200];
  answer *a;
  (void)state;
  for (int i = 0; typed[i]; i++) {
    snprintf(path, sizeof path, "/v1/cases?phone=%s", typed[i]);
    a = get(path, AGENT);
    expect(a, 200, NULL);
    ids(a, got, sizeof got);
    if (strcmp(got, "P1 P2 P3") != 0)
      fail_msg("phone=%s found \"%s\", not \"P1 P2 P3\"", typed[i], got);
  }
  harness_expect_all(a, 200, "\"name\":\"Name BA\"", "\"state\":\"new\"",
                     "\"balance\":500000", "\"currency\":\"CNY\"",
                     "\"due_date\":\"2026-01-01\"", "\"next\":null", NULL);
  a = get("/v1/cases?phone=139-0013-9000", AGENT);
  ids(a, got, sizeof got);
  assert_string_equal(got, "P4");
  /* The read role finds them too, the numbers masked as ever. */
  a = get("/v1/cases?phone=13900139000", READ);
  expect(a, 200, "\"id\":\"P4\"");
  expect_not(a, "13900139000");
}

static void test_a_number_of_no_one_finds_none(void **state) {
  (void)state;
  expect(get("/v1/cases?phone=137%200000%200000", AGENT), 200,
         "{\"cases\":[],\"next\":null}");
}

/* A number many borrowers share answers a page at a time. */
static void test_a_shared_number_is_paged(void **state) {
  char got[200];
  answer *a;
  (void)state;
  a = get("/v1/cases?phone=13800138000&limit=2", AGENT);
  ids(a, got, sizeof got);
  assert_string_equal(got, "P1 P2");
  expect(a, 200, "\"next\":\"P2\"");
  a = get("/v1/cases?phone=13800138000&limit=2&after=P2", AGENT);
  ids(a, got, sizeof got);
  assert_string_equal(got, "P3");
}

static void test_what_is_not_a_number_is_422_naming_phone(void **state) {
  answer *a;
  (void)state;
  a = get("/v1/cases?phone=abc", AGENT);
  expect(a, 422, "\"field\":\"phone\"");
  expect(a, 422, "phone 'abc'");
  expect(get("/v1/cases?phone=12", AGENT), 422, "\"field\":\"phone\"");
  /* +86 and 14 digits: more than E.164's 15. */
  expect(get("/v1/cases?phone=12345678901234", AGENT), 422,
         "\"field\":\"phone\"");
  expect(get("/v1/cases?phone=", AGENT), 422, "\"field\":\"phone\"");
  expect(get("/v1/cases?phone=13800138000&state=new", AGENT), 422,
         "\"field\":\"phone\"");
}

/* li.wei (queue phone) finds P1, not P2 and P3 (field's): Cases' scope. */
static void test_an_agent_finds_only_what_cases_shows_it(void **state) {
  char jar[700], csrf[64], got[200];
  harness_request r = {0};
  answer *a;
  (void)state;
  assert_true(harness_sign_in(&srv, "li.wei", jar, sizeof jar, csrf,
                              sizeof csrf));
  r.csrf = csrf;
  r.cookie_jar = jar;
  a = harness_send(&srv, "GET", "/v1/cases?phone=138%200013%208000", &r);
  expect(a, 200, NULL);
  ids(a, got, sizeof got);
  assert_string_equal(got, "P1");
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_number_as_typed_finds_its_borrowers_cases),
      cmocka_unit_test(test_a_number_of_no_one_finds_none),
      cmocka_unit_test(test_a_shared_number_is_paged),
      cmocka_unit_test(test_what_is_not_a_number_is_422_naming_phone),
      cmocka_unit_test(test_an_agent_finds_only_what_cases_shows_it),
  };
  if (argc < 2) {
    fprintf(stderr, "usage: test_phone_http RECOUP\n");
    return 2;
  }
  harness_open(&srv, argv[1], "phone");
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
