#define _GNU_SOURCE /* memmem */
/* POST /v1/session's refusals, in process: each way out before the
 * password is checked wipes the request body that holds it (the body is
 * read as the answer leaves: http_respond is wrapped at link time), and
 * a key the route does not take is refused as on every other route.
 * Before session 33 only the path that went on to verify wiped it; a
 * 415, a CSRF refusal, a draining service, bad JSON or a missing field
 * left the password in a freed buffer, and unknown keys were ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "recoup/engine.h"
#include "recoup/http.h"
#include "service.h"

/* What the last answer was, and whether the body still held the secret
 * when it was sent. */
static struct {
  int status, secret_in_body, secret_in_answer, answered;
  char answer[1024];
} last;

void __real_http_respond(http_request *req, int status,
                         const char *content_type, const char *body,
                         size_t len, const char *extra_headers);

void __wrap_http_respond(http_request *req, int status,
                         const char *content_type, const char *body,
                         size_t len, const char *extra_headers) {
  last.answered = 1;
  last.status = status;
  last.secret_in_body =
      req->body && memmem(req->body, req->body_len, "hunter2", 7) != NULL;
  last.secret_in_answer = body && memmem(body, len, "hunter2", 7) != NULL;
  snprintf(last.answer, sizeof last.answer, "%.*s", (int)len, body ? body : "");
  __real_http_respond(req, status, content_type, body, len, extra_headers);
}

static engine *eng;
static service svc;

static int setup(void **state) {
  engine_options opts = {FIXTURES "/basic", ":memory:", 1, 0, 1, 0};
  rc_errlist errors = {0};
  (void)state;
  if (engine_open(&eng, &opts, &errors) != RC_OK) return -1;
  memset(&svc, 0, sizeof svc);
  svc.eng = eng;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  engine_close(eng);
  return 0;
}

/* Signs in with headers (full lines) and body; returns the status. */
static int sign_in(const char *headers, const char *body) {
  static const http_limits limits = {.body_limit = 1 << 20,
                                     .header_limit = 8192,
                                     .url_limit = 2048,
                                     .max_connections = 10,
                                     .max_per_address = 10,
                                     .idle_timeout_ms = 1000,
                                     .header_timeout_ms = 1000,
                                     .request_timeout_ms = 1000};
  char text[2048], arg[64];
  http_request *req = NULL;
  int route = api_route("POST", "/v1/session", arg, sizeof arg);
  assert_true(route >= 0);
  snprintf(text, sizeof text,
           "POST /v1/session HTTP/1.1\r\nHost: console.example\r\n%s"
           "Content-Length: %zu\r\n\r\n%s",
           headers, strlen(body), body);
  assert_int_equal(http_parse_one(text, strlen(text), &limits, &req), 0);
  assert_non_null(req);
  req->conn = NULL; /* parsed without a socket: the answer goes nowhere */
  memset(&last, 0, sizeof last);
  api_sign_in(&svc, req, route, arg, NULL);
  assert_true(last.answered);
  if (last.secret_in_body)
    fail_msg("answered %d with the password still in the request body",
             last.status);
  if (last.secret_in_answer)
    fail_msg("answered %d quoting the password: %s", last.status,
             last.answer);
  return last.status;
}

#define JSON "Content-Type: application/json\r\n"
#define GOOD "{\"name\":\"li\",\"password\":\"hunter2\"}"

static void test_each_refusal_wipes_the_body(void **state) {
  (void)state;
  assert_int_equal(sign_in("Content-Type: text/plain\r\n", GOOD), 415);
  assert_int_equal(sign_in(JSON "Origin: https://evil.example\r\n", GOOD),
                   403);
  assert_non_null(strstr(last.answer, "\"code\":\"csrf\""));
  svc.draining = 1;
  assert_int_equal(sign_in(JSON, GOOD), 503);
  svc.draining = 0;
  /* jansson's message quotes where it stopped: the password here. */
  assert_int_equal(sign_in(JSON, "{\"name\":\"li\",\"password\":\"hunter2"),
                   400);
  assert_int_equal(sign_in(JSON, "{\"name\":\"li\",\"password\":hunter2}"),
                   400);
  assert_int_equal(sign_in(JSON, "{\"name\":1,\"password\":\"hunter2\"}"),
                   422);
  assert_non_null(strstr(last.answer, "\"field\":\"name\""));
  assert_int_equal(sign_in(JSON, "[\"li\",\"hunter2\"]"), 422);
  assert_int_equal(
      sign_in(JSON, "{\"name\":\"li\",\"password\":\"hunter2\\u0000\"}"), 422);
}

/* As every other body: refused naming the key, with the one meant. */
static void test_unknown_keys_are_refused(void **state) {
  (void)state;
  assert_int_equal(sign_in(JSON, "{\"name\":\"li\",\"pasword\":\"hunter2\"}"),
                   422);
  assert_non_null(strstr(last.answer, "\"field\":\"pasword\""));
  assert_non_null(strstr(last.answer, "did you mean `password`?"));
  assert_int_equal(
      sign_in(JSON,
              "{\"name\":\"li\",\"password\":\"hunter2\",\"remember\":true}"),
      422);
  assert_non_null(strstr(last.answer, "\"code\":\"invalid\""));
  assert_non_null(strstr(last.answer, "\"field\":\"remember\""));
  assert_non_null(strstr(last.answer, "a sign-in takes name and password"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_each_refusal_wipes_the_body),
      cmocka_unit_test(test_unknown_keys_are_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
