/* Hostile handlers against the real `recoup serve` (issue 14): each attack
 * of tests/fixtures/hostile is posted as an event over HTTP; /health must
 * answer within a bound while it runs, the case must end in error with
 * the reason, and after a kill -9 in the middle of attacks the service
 * must start again on the same database and answer within the same bound.
 *
 * usage: test_hostile_scripts RECOUP FIXTURE_DIR */
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

#include "harness.h"

/* How long /health may take while an attack runs. Generous: it detects a
 * hung loop, it does not measure speed; sanitizers slow everything. */
#ifdef SANITIZED
#define BOUND_MS 5000
#else
#define BOUND_MS 1000
#endif

#define INGEST HARNESS_INGEST
#define READ HARNESS_READ

static const char *fixture;
static harness srv;

/* --- a small client ------------------------------------------------------ */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1000 + ts.tv_nsec / 1e6;
}

typedef harness_answer answer;

/* A POST when there is a body, a GET otherwise. */
static answer *call(const char *path, const char *token, const char *body) {
  harness_request r = {0};
  r.token = token;
  r.body = body;
  r.timeout = 30;
  return harness_send(&srv, body ? "POST" : "GET", path, &r);
}

#define expect harness_expect

/* /health answers 200 within the bound. */
static void health_in_time(const char *when) {
  answer *a = call("/health", NULL, NULL);
  if (a->status != 200 || a->seconds * 1000 > BOUND_MS)
    fail_msg("%s: /health gave %ld after %.0f ms (bound %d ms)", when,
             a->status, a->seconds * 1000, BOUND_MS);
}

/* --- the server ------------------------------------------------------------
 */

/* Starts the service on the test's database; returns when it listens. */
/* The fixture is served as it is; the database is the scratch dir's. */
static void start_server(void) {
  srv.serve_dir = fixture;
  harness_start(&srv);
}

static void kill_server(void) {
  harness_kill(&srv);
}

static int group_setup(void **state) {
  (void)state;
  start_server();
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  harness_close(&srv);
  return 0;
}

/* --- attacks ---------------------------------------------------------------
 */

static void open_case(const char *id) {
  char body[200];
  snprintf(body, sizeof body,
           "{\"id\":\"%s\",\"balance\":1000,\"due_date\":\"2026-01-01\","
           "\"borrower\":{\"id\":\"B%s\","
           "\"name\":\"N\"}}",
           id, id);
  expect(call("/v1/cases", INGEST, body), 201, NULL);
}

static void post_event(const char *id, const char *type) {
  char path[100], body[100];
  snprintf(path, sizeof path, "/v1/cases/%s/events", id);
  snprintf(body, sizeof body, "{\"type\":\"%s\"}", type);
  expect(call(path, INGEST, body), 202, NULL);
}

/* Waits for the case's error, asking /health between reads. */
static void wait_for_error(const char *id, const char *want) {
  char path[100];
  answer *a;
  snprintf(path, sizeof path, "/v1/cases/%s", id);
  for (int tries = 0; tries < 200; tries++) {
    health_in_time(id);
    a = call(path, READ, NULL);
    if (a->status == 200 && !strstr(a->body, "\"error\":null")) {
      if (!strstr(a->body, want))
        fail_msg("case %s: %s; wanted an error with %s", id, a->body, want);
      return;
    }
    usleep(20000);
  }
  fail_msg("case %s never failed", id);
}

static void test_health_answers_during_every_attack(void **state) {
  static const struct {
    const char *type, *want;
  } attacks[] = {
      {"xpcall_spin", "instruction budget exceeded"},
      {"pcall_spin", "instruction budget exceeded"},
      {"pattern", "instruction budget exceeded"},
      {"method_pattern", "instruction budget exceeded"},
      {"gsub_pattern", "instruction budget exceeded"},
      {"sort", "instruction budget exceeded"},
      {"rep_empty", "\"error\""}, /* none: rep of nothing is nothing */
      {"concat", "instruction budget exceeded"},
      {"move_nothing", "instruction budget exceeded"},
      {"upper", "instruction budget exceeded"},
      {"gc", "__gc is not available"},
      {"case_gc", "attempt to index a string value"},
      {"close", "instruction budget exceeded"},
      {"engine_swap", "attempt to index a string value"},
      {"poison", "string is read-only"},
      {"poison_raw", "read-only"},
      {"poison_mt", "protected metatable"},
  };
  char id[16];
  (void)state;
  for (size_t i = 0; i < sizeof attacks / sizeof *attacks; i++) {
    snprintf(id, sizeof id, "A%zu", i);
    open_case(id);
    post_event(id, attacks[i].type);
    health_in_time(attacks[i].type);
    if (strcmp(attacks[i].type, "rep_empty") != 0)
      wait_for_error(id, attacks[i].want);
  }
  /* The reason is journaled. */
  expect(call("/v1/cases/A0/journal", READ, NULL), 200,
         "\"reason\":\"budget\"");
  /* A well-behaved handler on another case still runs. */
  open_case("OK1");
  post_event("OK1", "ok");
  for (int tries = 0; tries < 100; tries++) {
    if (strstr(call("/v1/cases/OK1", READ, NULL)->body, "fine")) return;
    usleep(20000);
  }
  fail_msg("the well-behaved case never ran: %s",
           call("/v1/cases/OK1", READ, NULL)->body);
}

static void test_a_restart_after_kill_mid_attack_answers_in_time(void **state) {
  char id[16];
  double t0;
  (void)state;
  /* Attacks queued and running when the process dies. */
  for (int i = 0; i < 12; i++) {
    snprintf(id, sizeof id, "K%d", i);
    open_case(id);
    post_event(id, i % 3 == 0 ? "xpcall_spin" : i % 3 == 1 ? "pattern" : "gc");
  }
  kill_server();
  t0 = now_ms();
  start_server();
  health_in_time("after restart");
  if (now_ms() - t0 > BOUND_MS)
    fail_msg("the restart took %.0f ms to answer /health (bound %d ms)",
             now_ms() - t0, BOUND_MS);
  /* Each queued attack ran once, failed its case, and is not run again. */
  for (int i = 0; i < 12; i++) {
    snprintf(id, sizeof id, "K%d", i);
    wait_for_error(id, i % 3 == 2 ? "__gc" : "instruction budget exceeded");
  }
  kill_server();
  t0 = now_ms();
  start_server();
  health_in_time("after a second restart");
  expect(call("/v1/cases/K0", READ, NULL), 200, "instruction budget exceeded");
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_health_answers_during_every_attack),
      cmocka_unit_test(test_a_restart_after_kill_mid_attack_answers_in_time),
  };
  if (argc != 3) {
    fprintf(stderr, "usage: %s RECOUP FIXTURE_DIR\n", argv[0]);
    return 2;
  }
  harness_open(&srv, argv[1], "hostile");
  fixture = argv[2];
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
