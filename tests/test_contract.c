/* The HTTP contract's drift, against the real `recoup serve` on a loopback
 * port it picks: each point the fuzzing from docs/openapi.json found, as
 * the document now says it (405 with Allow, 201 or 200 for POST /v1/cases
 * and 422 for an empty array, one page shape with "next": null on the last
 * page, limit and after refused naming themselves, field present in every
 * error, list items shaped as single cases, the document served without a
 * token). Its traffic is checked against the document too (http_trace).
 *
 * usage: test_contract RECOUP OPENAPI_JSON */
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
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static const char *openapi_path;
static harness srv;

#define INGEST HARNESS_INGEST
#define AGENT HARNESS_AGENT
#define READ HARNESS_READ

/* Every case opened gets a call task: tasks and journal rows to page. */
static void write_institution(void) {
  harness_write(&srv, "recoup.lua",
                "institution { name = 'Contract', timezone = 'Asia/Shanghai', "
                "currency = 'CNY' }\n"
                "service { body_limit = '64KB' }\n"
                "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT', "
                "read = 'env:T_READ' }\n"
                "templates { }\n"
                "workflow(require 'workflows.w')\n");
  harness_mkdir(&srv, "workflows");
  harness_write(&srv, "workflows/w.lua",
                "return recoup.workflow { name = 'w', version = 1, initial = "
                "'open',\n"
                "  states = {\n"
                "    open = { enter = function(case) case:task('call', "
                "{ queue = 'phone' }) end },\n"
                "    paid = { final = true } },\n"
                "  transitions = { open = { 'paid' } },\n"
                "}\n");
}

/* --- a small client ------------------------------------------------------ */

typedef harness_answer answer;

/* A request with one more header line (or none). */
static answer *call(const char *method, const char *path, const char *token,
                    const char *body, const char *header) {
  harness_request r = {0};
  r.token = token;
  r.body = body;
  r.header = header;
  return harness_send(&srv, method, path, &r);
}

static answer *post(const char *path, const char *json) {
  return harness_post(&srv, path, INGEST, json);
}

static answer *get(const char *path) {
  return harness_get(&srv, path, READ);
}

#define expect harness_expect_all

/* --- the server ---------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state;
  write_institution();
  harness_start(&srv);
  /* Three cases, three tasks, journals of a few rows each. */
  expect(post("/v1/cases",
              "[{\"id\":\"C1\",\"balance\":10000,\"amount_due\":5000,"
              "\"due_date\":\"2026-01-01\",\"tags\":[\"vip\"],"
              "\"borrower\":{\"id\":\"B1\",\"name\":\"Wang\"}},"
              "{\"id\":\"C2\",\"balance\":300,\"due_date\":\"2026-01-01\","
              "\"borrower\":{\"id\":\"B2\"}},"
              "{\"id\":\"C3\",\"balance\":700,\"due_date\":\"2026-01-01\","
              "\"borrower\":{\"id\":\"B3\"}}]"),
         201, "\"created\":3", NULL);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  harness_close(&srv);
  return 0;
}

/* --- the tests ----------------------------------------------------------- */

static void test_405_names_the_methods_in_allow(void **state) {
  answer *a;
  (void)state;
  a = call("DELETE", "/v1/cases", READ, NULL, NULL);
  expect(a, 405, "\"code\":\"method_not_allowed\"", "\"field\":null", NULL);
  assert_non_null(strstr(a->headers, "Allow: POST, GET\r\n"));
  a = call("GET", "/v1/payments", READ, NULL, NULL);
  expect(a, 405, NULL);
  assert_non_null(strstr(a->headers, "Allow: POST\r\n"));
  a = call("PUT", "/v1/cases/C1", READ, NULL, NULL);
  expect(a, 405, NULL);
  assert_non_null(strstr(a->headers, "Allow: GET\r\n"));
  a = call("POST", "/health", NULL, "{}", NULL);
  expect(a, 405, NULL);
  assert_non_null(strstr(a->headers, "Allow: GET\r\n"));
}

static void test_post_cases_is_201_when_created_200_when_only_updated(
    void **state) {
  (void)state;
  expect(post("/v1/cases",
              "{\"id\":\"C9\",\"balance\":5,\"due_date\":\"2026-01-01\","
              "\"borrower\":{\"id\":\"B9\"}}"),
         201, "\"created\":1", "\"updated\":0", NULL);
  expect(post("/v1/cases",
              "{\"id\":\"C9\",\"balance\":4,"
              "\"borrower\":{\"id\":\"B9\"}}"),
         200, "\"created\":0", "\"updated\":1", NULL);
  expect(post("/v1/cases", "[]"), 422, "\"code\":\"invalid\"", "\"field\":null",
         NULL);
}

static void test_every_list_ends_with_next_null(void **state) {
  (void)state;
  expect(get("/v1/tasks?limit=2"), 200, "\"next\":2", NULL);
  expect(get("/v1/tasks?limit=100&after=2"), 200, "\"id\":3", "\"next\":null",
         NULL);
  expect(get("/v1/tasks?limit=1000"), 200, "\"next\":null", NULL);
  expect(get("/v1/cases/C1/journal?limit=1"), 200, "\"next\":", NULL);
  expect(get("/v1/cases/C1/journal"), 200, "\"next\":null", NULL);
  expect(get("/v1/cases?limit=1000"), 200, "\"next\":null", NULL);
}

static void test_bad_limit_and_after_are_422_naming_them(void **state) {
  static const char *const limits[] = {
      "0", "-1", "abc", "1.5", "", "1001", "99999999999999999999", "1e3", " 5"};
  static const char *const routes[] = {"/v1/cases", "/v1/tasks",
                                       "/v1/cases/C1/journal"};
  char path[200];
  (void)state;
  for (size_t r = 0; r < 3; r++) {
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++) {
      snprintf(path, sizeof path, "%s?limit=%s", routes[r],
               strcmp(limits[i], " 5") ? limits[i] : "%205");
      expect(get(path), 422, "\"field\":\"limit\"", NULL);
    }
    snprintf(path, sizeof path, "%s?after=", routes[r]);
    expect(get(path), 422, "\"field\":\"after\"", NULL);
    snprintf(path, sizeof path, "%s?limit=1000", routes[r]);
    expect(get(path), 200, NULL);
  }
  expect(get("/v1/tasks?after=abc"), 422, "\"field\":\"after\"", NULL);
  expect(get("/v1/tasks?after=-1"), 422, "\"field\":\"after\"", NULL);
  expect(get("/v1/cases/C1/journal?after=abc"), 422, "\"field\":\"after\"",
         NULL);
  expect(get("/v1/cases/C1/journal?after=99999999999999999999"), 422,
         "\"field\":\"after\"", NULL);
  expect(get("/v1/tasks?status=finished"), 422, "\"field\":\"status\"", NULL);
}

static void test_transport_errors_carry_field_null(void **state) {
  char *big = malloc(70 * 1024), *url = malloc(9 * 1024),
       *header = malloc(17 * 1024);
  (void)state;
  memset(big, 'x', 70 * 1024 - 1);
  big[70 * 1024 - 1] = '\0';
  expect(post("/v1/payments", big), 413, "\"code\":\"body_too_large\"",
         "\"field\":null", NULL);
  strcpy(url, "/v1/cases/");
  memset(url + 10, 'u', 9 * 1024 - 11);
  url[9 * 1024 - 1] = '\0';
  expect(get(url), 414, "\"code\":\"url_too_long\"", "\"field\":null", NULL);
  strcpy(header, "X-Big: ");
  memset(header + 7, 'h', 17 * 1024 - 8);
  header[17 * 1024 - 1] = '\0';
  expect(call("GET", "/v1/cases", READ, NULL, header), 431,
         "\"code\":\"headers_too_large\"", "\"field\":null", NULL);
  expect(call("GET", "/v1/cases", NULL, NULL, NULL), 401, "\"field\":null",
         NULL);
  expect(call("GET", "/v1/nothing", NULL, NULL, NULL), 404, "\"field\":null",
         NULL);
  free(big);
  free(url);
  free(header);
}

static void test_list_items_are_shaped_as_single_cases(void **state) {
  answer *a;
  char one[4096], *item, *extras;
  (void)state;
  a = get("/v1/cases/C1");
  expect(a, 200, NULL);
  snprintf(one, sizeof one, "%s", a->body);
  /* The single case's extras (its promise, plan and waiting tasks) come
   * last and are not in a list's items: each would cost reads a case. */
  if ((extras = strstr(one, ",\"promise\":"))) strcpy(extras, "}");
  a = get("/v1/cases?limit=1");
  expect(a, 200, "\"closed\":false", "\"on_hold\":false",
         "\"borrower\":{\"id\":\"B1\",\"name\":\"Wang\"",
         "\"dpd\":", "\"tags\":[\"vip\"]", NULL);
  assert_null(strstr(a->body, "borrower_id"));
  /* Every field of the single case is in the item, with the same value
   * (the order of keys aside). */
  item = strstr(a->body, "{\"");
  item = strstr(item + 1, "{");
  for (const char *k = one + 1; (k = strstr(k, "\"")) != NULL;) {
    const char *end = strpbrk(k + 1, "\"");
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(end - k + 1), k);
    if (!strstr(item, key)) fail_msg("the list item lacks %s: %s", key, item);
    k = strchr(end, ',');
    if (!k) break;
  }
}

static void test_the_document_is_served_without_a_token(void **state) {
  answer *a;
  FILE *f = fopen(openapi_path, "rb");
  static char want[sizeof a->body];
  size_t n;
  (void)state;
  assert_non_null(f);
  n = fread(want, 1, sizeof want - 1, f);
  fclose(f);
  want[n] = '\0';
  a = call("GET", "/v1/openapi.json", NULL, NULL, NULL);
  expect(a, 200, "\"openapi\": \"3.1.0\"", NULL);
  assert_non_null(strstr(a->headers, "Content-Type: application/json"));
  /* The body is the file the binary was built from (the first 256 KB). */
  assert_int_equal(strncmp(a->body, want, sizeof a->body - 1), 0);
}

/* Money is at most 10^15 minor units everywhere, payments included. */
static void test_a_payment_above_10_15_is_422_naming_amount(void **state) {
  (void)state;
  expect(post("/v1/payments",
              "{\"case\":\"C1\",\"amount\":"
              "1000000000000001,\"ref\":\"BIG\"}"),
         422, "\"field\":\"amount\"", NULL);
  expect(post("/v1/payments",
              "{\"case\":\"C1\",\"amount\":0,"
              "\"ref\":\"ZERO\"}"),
         422, "\"field\":\"amount\"", NULL);
}

/* Every calendar date from year 1 to 9999; 2026-02-29 is no date. */
static void test_dates_from_year_1_to_9999_are_accepted(void **state) {
  (void)state;
  expect(post("/v1/cases",
              "[{\"id\":\"D1\",\"balance\":5,\"due_date\":"
              "\"0001-01-01\",\"borrower\":{\"id\":\"BD\"}},"
              "{\"id\":\"D2\",\"balance\":5,\"due_date\":"
              "\"9999-12-31\",\"borrower\":{\"id\":\"BD\"}},"
              "{\"id\":\"D3\",\"balance\":5,\"due_date\":"
              "\"3000-02-28\",\"borrower\":{\"id\":\"BD\"}}]"),
         201, "\"created\":3", NULL);
  expect(get("/v1/cases/D1"), 200, "\"due_date\":\"0001-01-01\"", NULL);
  expect(get("/v1/cases/D2"), 200, "\"due_date\":\"9999-12-31\"", "\"dpd\":0",
         NULL);
  expect(post("/v1/cases",
              "{\"id\":\"D4\",\"balance\":5,\"due_date\":"
              "\"2026-02-29\",\"borrower\":{\"id\":\"BD\"}}"),
         422, "\"field\":\"due_date\"", NULL);
  /* Read as a date (the refusal quotes it), then refused by a range
   * rule that says so: a payment too far back (engine_pay). */
  expect(post("/v1/payments",
              "{\"case\":\"D1\",\"amount\":1,\"ref\":"
              "\"OLD\",\"at\":\"0999-06-01T10:00\"}"),
         422, "\"field\":\"at\"", "at (0999-06-01T10:00:00", "too far back",
         NULL);
  expect(post("/v1/payments",
              "{\"case\":\"D1\",\"amount\":1,\"ref\":"
              "\"LATE\",\"at\":\"9999-01-01\"}"),
         422, "\"field\":\"at\"", "in the future", NULL);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_405_names_the_methods_in_allow),
      cmocka_unit_test(
          test_post_cases_is_201_when_created_200_when_only_updated),
      cmocka_unit_test(test_every_list_ends_with_next_null),
      cmocka_unit_test(test_bad_limit_and_after_are_422_naming_them),
      cmocka_unit_test(test_transport_errors_carry_field_null),
      cmocka_unit_test(test_list_items_are_shaped_as_single_cases),
      cmocka_unit_test(test_the_document_is_served_without_a_token),
      cmocka_unit_test(test_a_payment_above_10_15_is_422_naming_amount),
      cmocka_unit_test(test_dates_from_year_1_to_9999_are_accepted),
  };
  if (argc != 3) {
    fprintf(stderr, "usage: %s RECOUP OPENAPI_JSON\n", argv[0]);
    return 2;
  }
  harness_open(&srv, argv[1], "c");
  openapi_path = argv[2];
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
