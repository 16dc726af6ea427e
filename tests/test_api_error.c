/* An error answer's memory, in process: the message as a caller reads
 * it (api.c's inside_put: folders said in words) is copied into a string
 * sized by a first walk. Linked with -Wl,--wrap=malloc: the largest
 * allocation recoup's own code makes while it answers is recorded. On
 * f937791 the copy took ten times the message's length whatever it
 * held: a script's error quoting a 20 kB value took 200 kB. */
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

void *__real_malloc(size_t n);

static size_t largest;
static int watching;

void *__wrap_malloc(size_t n) {
  if (watching && n > largest) largest = n;
  return __real_malloc(n);
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

static void test_an_error_answer_copies_its_message_once(void **state) {
  static const http_limits limits = {.body_limit = 1 << 20,
                                     .header_limit = 8192,
                                     .url_limit = 2048,
                                     .max_connections = 10,
                                     .max_per_address = 10,
                                     .idle_timeout_ms = 1000,
                                     .header_timeout_ms = 1000,
                                     .request_timeout_ms = 1000};
  static const char text[] = "GET /v1/cases/L1 HTTP/1.1\r\nHost: h\r\n\r\n";
  enum { LEN = 20000 };
  char *message = malloc(LEN + 1);
  http_request *req = NULL;
  (void)state;
  assert_non_null(message);
  memset(message, 'x', LEN);
  message[LEN] = '\0';
  assert_int_equal(http_parse_one(text, strlen(text), &limits, &req), 0);
  assert_non_null(req);
  req->conn = NULL; /* parsed without a socket: the answer goes nowhere */
  largest = 0;
  watching = 1;
  api_error(&svc, req, -1, 422, "invalid", "data", message);
  watching = 0;
  if (largest >= 2 * (size_t)LEN)
    fail_msg("answering a %d-byte message took an allocation of %zu bytes", LEN,
             largest);
  free(message);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_an_error_answer_copies_its_message_once),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
