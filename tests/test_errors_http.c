/* Cases in error over HTTP, on the real `recoup serve` at a loopback port
 * it picks: GET /v1/errors lists them (newest failure first, paged),
 * POST /v1/admin/retry re-queues them after a fix, only the admin token
 * may do either, and a read the database refuses answers 5xx.
 *
 * usage: test_errors_http RECOUP */
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
#include <sqlite3.h>

#include "harness.h"

static harness srv;

#define INGEST HARNESS_INGEST
#define AGENT HARNESS_AGENT
#define READ HARNESS_READ
#define ADMIN HARNESS_ADMIN

/* `boom` fails until the script is fixed (reloaded with %s = "nil"). */
static const char *workflow =
    "return recoup.workflow { name = 'err', version = 1, initial = 'new',\n"
    "  states = {\n"
    "    new = { on = { boom = function(case) %s end,\n"
    "                   done = function() return 'closed' end } },\n"
    "    closed = { final = true },\n"
    "  },\n"
    "  transitions = { new = { 'closed' } },\n"
    "}\n";
static const char *broken = "error('boom for ' .. case.id)";
static const char *fixed = "case:set('boomed', true)";

static void write_institution(void) {
  harness_write(
      &srv, "recoup.lua",
      "institution { name = 'Err', timezone = 'UTC', currency = 'USD' "
      "}\n"
      "service { instruction_budget = 100000, memory_limit = '32MB' }\n"
      "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT', read "
      "= 'env:T_READ', admin = 'env:T_ADMIN' }\n"
      "workflow(require 'workflows.err')\n"
      "route(require 'workflows.route')\n");
  harness_mkdir(&srv, "workflows");
  harness_writef(&srv, "workflows/err.lua", workflow, broken);
  harness_write(&srv, "workflows/route.lua",
                "return function(c)\n"
                "  if c.product == 'refused' then error('not ours') end\n"
                "  assert(c.product ~= 'asserted', 'amount too small')\n"
                "  assert(c.product ~= 'bare')\n"
                "  if c.product == 'crash' then local x; return x.y end\n"
                "  if c.product == 'missing' then require('no_such') end\n"
                "  return 'err'\n"
                "end\n");
}

/* --- a small client ------------------------------------------------------ */

typedef harness_answer answer;

static answer *post(const char *path, const char *token, const char *json) {
  return harness_post(&srv, path, token, json);
}

static answer *get(const char *path, const char *token) {
  return harness_get(&srv, path, token);
}

#define expect harness_expect
#define expect_not harness_expect_not

/* Waits (5 s at most: sanitizer builds are slow) until a case's error is
 * set (want_error) or cleared. */
static void wait_case(const char *id, int want_error) {
  char path[100];
  snprintf(path, sizeof path, "/v1/cases/%s", id);
  for (int tries = 0; tries < 100; tries++) {
    answer *a = get(path, ADMIN);
    int has_error = strstr(a->body, "\"error\":\"") != NULL;
    if (a->status == 200 && has_error == want_error) return;
    usleep(50000);
  }
  fail_msg("case %s never %s", id, want_error ? "failed" : "recovered");
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

static void open_case(const char *id) {
  char body[200];
  snprintf(body, sizeof body,
           "{\"id\":\"%s\",\"balance\":10,\"due_date\":\"2026-01-01\","
           "\"borrower\":{\"id\":\"B%s\"}}",
           id, id);
  expect(post("/v1/cases", INGEST, body), 201, NULL);
}

static void post_event(const char *id, const char *type) {
  char path[100], body[100];
  snprintf(path, sizeof path, "/v1/cases/%s/events", id);
  snprintf(body, sizeof body, "{\"type\":\"%s\"}", type);
  expect(post(path, INGEST, body), 202, NULL);
}

static void test_errors_lists_failed_cases_newest_first(void **state) {
  answer *a;
  (void)state;
  open_case("E1");
  open_case("E2");
  open_case("E3");
  post_event("E1", "boom");
  wait_case("E1", 1);
  post_event("E2", "boom");
  wait_case("E2", 1);
  a = get("/v1/errors", ADMIN);
  expect(a, 200, "\"case\":\"E2\"");
  expect(a, 200, "\"case\":\"E1\"");
  expect(a, 200, "\"event\":\"boom\"");
  expect(a, 200, "boom for E1");
  expect(a, 200, "\"state\":\"new\"");
  expect(a, 200, "\"since\":\"");
  expect(a, 200, "\"next\":null");
  expect_not(a, "E3");
  assert_true(strstr(a->body, "\"E2\"") < strstr(a->body, "\"E1\""));
  /* A stored error names the script as HTTP refusals do, by its path
   * inside the institution (the book, the log and `recoup errors` keep
   * the full path): the list, the case, its journal's message and
   * traceback. */
  expect(a, 200, "\"error\":\"workflows/err.lua:3: boom for E1\"");
  expect_not(a, srv.dir);
  a = get("/v1/cases/E1", ADMIN);
  expect(a, 200, "\"error\":\"workflows/err.lua:3: boom for E1\"");
  expect_not(a, srv.dir);
  a = get("/v1/cases?state=new", ADMIN);
  expect(a, 200, "\"error\":\"workflows/err.lua:3: boom for E1\"");
  expect_not(a, srv.dir);
  a = get("/v1/cases/E1/journal", ADMIN);
  expect(a, 200, "\"message\":\"workflows/err.lua:3: boom for E1\"");
  expect(a, 200, "\\n\\tworkflows/err.lua:3: in ");
  expect_not(a, srv.dir);
}

static void test_errors_are_paged(void **state) {
  char path[100];
  long long next = 0;
  answer *a;
  const char *at;
  (void)state;
  a = get("/v1/errors?limit=1", ADMIN);
  expect(a, 200, "\"case\":\"E2\"");
  expect_not(a, "\"E1\"");
  at = strstr(a->body, "\"next\":");
  assert_non_null(at);
  next = strtoll(at + 7, NULL, 10);
  assert_true(next > 0);
  snprintf(path, sizeof path, "/v1/errors?limit=1&after=%lld", next);
  a = get(path, ADMIN);
  expect(a, 200, "\"case\":\"E1\"");
  expect_not(a, "\"E2\"");
  expect(get("/v1/errors?after=soon", ADMIN), 422, "\"field\":\"after\"");
}

static void test_only_the_admin_token_sees_and_retries(void **state) {
  static const char *const others[] = {READ, AGENT, INGEST};
  (void)state;
  for (int i = 0; i < 3; i++) {
    expect(get("/v1/errors", others[i]), 403, "needs the admin token");
    expect(post("/v1/admin/retry", others[i], "{\"all\":true}"), 403,
           "needs the admin token");
  }
  expect(get("/v1/errors", NULL), 401, "unauthorized");
  expect(post("/v1/admin/retry", NULL, "{\"all\":true}"), 401, NULL);
  /* Nothing was re-queued by the refused requests. */
  expect(get("/v1/errors", ADMIN), 200, "\"case\":\"E1\"");
}

static void test_retry_refuses_a_bad_body(void **state) {
  (void)state;
  expect(post("/v1/admin/retry", ADMIN, "{}"), 422, "\"field\":\"cases\"");
  expect(post("/v1/admin/retry", ADMIN, "{\"all\":\"yes\"}"), 422,
         "\"field\":\"all\"");
  expect(post("/v1/admin/retry", ADMIN, "{\"all\":false}"), 422,
         "\"field\":\"cases\"");
  expect(post("/v1/admin/retry", ADMIN, "{\"cases\":[]}"), 422,
         "\"field\":\"cases\"");
  expect(post("/v1/admin/retry", ADMIN, "{\"cases\":[1]}"), 422,
         "\"field\":\"cases\"");
  expect(post("/v1/admin/retry", ADMIN, "{\"all\":true,\"cases\":[\"E1\"]}"),
         422, "\"field\":\"cases\"");
  expect(post("/v1/admin/retry", ADMIN, "[\"E1\"]"), 422, NULL);
  expect(post("/v1/admin/retry", ADMIN, "{\"all\":"), 400, "bad_json");
}

static void test_retry_of_cases_not_in_error_is_refused(void **state) {
  (void)state;
  expect(post("/v1/admin/retry", ADMIN, "{\"cases\":[\"E9\"]}"), 404,
         "unknown case E9");
  expect(post("/v1/admin/retry", ADMIN, "{\"cases\":[\"E3\"]}"), 409,
         "case E3 is not in error");
  expect(get("/v1/errors", ADMIN), 200, "\"case\":\"E1\"");
}

static void test_retry_requeues_listed_cases_after_a_fix(void **state) {
  answer *a;
  (void)state;
  harness_writef(&srv, "workflows/err.lua", workflow, fixed);
  expect(post("/v1/admin/reload", ADMIN, ""), 200, "reloaded");
  a = post("/v1/admin/retry", ADMIN, "{\"cases\":[\"E1\",\"E9\",\"E3\"]}");
  expect(a, 202, "\"queued\":1");
  expect(a, 202, "\"cases\":[\"E1\"]");
  expect(a, 202, "{\"case\":\"E9\",\"status\":404");
  expect(a, 202, "{\"case\":\"E3\",\"status\":409");
  wait_case("E1", 0);
  expect(get("/v1/cases/E1", ADMIN), 200, "\"boomed\":true");
  a = get("/v1/errors", ADMIN);
  expect(a, 200, "\"case\":\"E2\"");
  expect_not(a, "\"E1\"");
}

static void test_retry_all_requeues_every_case_in_error(void **state) {
  (void)state;
  expect(post("/v1/admin/retry", ADMIN, "{\"all\":true}"), 202,
         "\"queued\":1,\"cases\":[\"E2\"]");
  wait_case("E2", 0);
  expect(get("/v1/errors", ADMIN), 200, "{\"errors\":[],\"next\":null}");
  expect(post("/v1/admin/retry", ADMIN, "{\"all\":true}"), 202, "\"queued\":0");
}

/* The events table renamed under the service: the list cannot be read,
 * and says so rather than answering an empty 200. */
static void test_a_read_the_database_refuses_answers_5xx(void **state) {
  sqlite3 *other;
  answer *a;
  (void)state;
  assert_int_equal(sqlite3_open(srv.db, &other), SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);
  assert_int_equal(sqlite3_exec(other, "ALTER TABLE events RENAME TO hidden",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  a = get("/v1/errors", ADMIN);
  assert_true(a->status >= 500 && a->status < 600);
  expect(a, a->status, "\"error\"");
  assert_int_equal(sqlite3_exec(other, "ALTER TABLE hidden RENAME TO events",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(other);
  expect(get("/v1/errors", ADMIN), 200, "\"errors\":[]");
}

/* route() a new case waits on, over HTTP: the script's own error() and
 * assert(cond, "words") refuse the case (422, the words); assert(cond)
 * without words and a crash are the script failing (500 script_error).
 * Either names the script by its path inside the institution, never the
 * machine's (an ingest token's caller learnt /srv/...; on main the
 * assert was a 500 too). */
static void test_route_refusals_and_crashes_name_the_script_inside(
    void **state) {
  static const char *const products[] = {"refused", "asserted", "bare",
                                         "crash", "missing"};
  static const long status[] = {422, 422, 500, 500, 500};
  static const char *const said[] = {
      "\"message\":\"workflows/route.lua:2: not ours\"",
      "\"message\":\"workflows/route.lua:3: amount too small\"",
      "\"message\":\"workflows/route.lua:4: assertion failed!\"",
      "\"message\":\"workflows/route.lua:5: attempt to index a nil value",
      "\"message\":\"workflows/route.lua:6: require: module 'no_such' not "
      "found in the institution or the shipped scripts\""};
  char shipped[4096];
  (void)state;
  /* RECOUP_SCRIPTS as the server has it, else the built-in one */
  snprintf(shipped, sizeof shipped, "%s",
           getenv("RECOUP_SCRIPTS") && *getenv("RECOUP_SCRIPTS")
               ? getenv("RECOUP_SCRIPTS")
               : RECOUP_SCRIPTS_DIR);
  for (int i = 0; i < 5; i++) {
    char body[200];
    answer *a;
    snprintf(body, sizeof body,
             "{\"id\":\"R%d\",\"balance\":10,\"amount_due\":10,"
             "\"due_date\":\"2026-01-01\",\"product\":\"%s\","
             "\"borrower\":{\"id\":\"BR%d\"}}",
             i, products[i], i);
    a = post("/v1/cases", INGEST, body);
    harness_expect_all(a, status[i],
                       status[i] == 422 ? "\"code\":\"invalid\""
                                        : "\"code\":\"script_error\"",
                       said[i], NULL);
    expect_not(a, srv.dir);
    expect_not(a, shipped);
    expect_not(a, "...");
  }
}

/* A reload that does not load lists why, file and line, also where Lua
 * names the file by its end cut inside a character (the folder here is
 * Chinese, padded so): on main the list was empty, each error's file
 * not UTF-8 and left out of the answer. */
static void test_a_reload_that_fails_lists_why_from_a_chinese_folder(
    void **state) {
  answer *a;
  (void)state;
  harness_write(&srv, "workflows/route.lua",
                "return function(c) local x = = 1 end\n");
  a = post("/v1/admin/reload", ADMIN, "{}");
  harness_expect_all(a, 422, "\"line\":1",
                     "\"message\":\"unexpected symbol near '='\"", NULL);
  write_institution();
}

/* A case error an older version stored cut inside a character (before
 * session 32, a long Chinese error at 1,023 bytes): the case is shown,
 * the broken bytes as U+FFFD, not answered as {}. */
static void test_a_stored_error_that_is_not_utf8_is_shown(void **state) {
  sqlite3 *other;
  answer *a;
  (void)state;
  open_case("E5");
  assert_int_equal(sqlite3_open(srv.db, &other), SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);
  assert_int_equal(
      sqlite3_exec(other,
                   "UPDATE cases SET error = CAST('recoup.lua:9: ' || "
                   "X'E98791E9A29DE4B8' AS TEXT) WHERE id = 'E5'",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(other);
  a = get("/v1/cases/E5", ADMIN);
  harness_expect_all(a, 200, "\"id\":\"E5\"",
                     "\"error\":\"recoup.lua:9: \xe9\x87\x91\xe9\xa2\x9d"
                     "\xef\xbf\xbd\xef\xbf\xbd\"",
                     NULL);
  a = get("/v1/cases?state=new", ADMIN);
  harness_expect_all(a, 200, "\"id\":\"E5\"",
                     "\"error\":\"recoup.lua:9: \xe9\x87\x91\xe9\xa2\x9d"
                     "\xef\xbf\xbd\xef\xbf\xbd\"",
                     NULL);
}

/* A stored error naming the shipped folder alone, as error(e, 0)
 * re-raises require's refusal: "/usr" (RECOUP_SCRIPTS here, as short as
 * /opt/recoup or /srv/app) said as "the shipped scripts" is longer than
 * it. On 69f785a the words did not fit the message's own length and the
 * error went out as stored, the server's folder in it. */
static void test_a_stored_error_naming_a_short_folder_is_said_inside(
    void **state) {
  static const char *const said =
      "\"error\":\"require: module 'a' not found in the shipped scripts; "
      "require: module 'b' not found in the shipped scripts\"";
  sqlite3 *other;
  answer *a;
  (void)state;
  open_case("E6");
  assert_int_equal(sqlite3_open(srv.db, &other), SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);
  assert_int_equal(
      sqlite3_exec(other,
                   "UPDATE cases SET error = 'require: module ''a'' not "
                   "found in /usr; require: module ''b'' not found in /usr' "
                   "WHERE id = 'E6'",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(other);
  a = get("/v1/cases/E6", ADMIN);
  harness_expect_all(a, 200, said, NULL);
  expect_not(a, "/usr");
  a = get("/v1/cases?state=new", ADMIN);
  harness_expect_all(a, 200, said, NULL);
  expect_not(a, "/usr");
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors_lists_failed_cases_newest_first),
      cmocka_unit_test(test_errors_are_paged),
      cmocka_unit_test(test_only_the_admin_token_sees_and_retries),
      cmocka_unit_test(test_retry_refuses_a_bad_body),
      cmocka_unit_test(test_retry_of_cases_not_in_error_is_refused),
      cmocka_unit_test(test_retry_requeues_listed_cases_after_a_fix),
      cmocka_unit_test(test_retry_all_requeues_every_case_in_error),
      cmocka_unit_test(test_a_read_the_database_refuses_answers_5xx),
      cmocka_unit_test(test_route_refusals_and_crashes_name_the_script_inside),
      cmocka_unit_test(
          test_a_reload_that_fails_lists_why_from_a_chinese_folder),
      cmocka_unit_test(test_a_stored_error_that_is_not_utf8_is_shown),
      cmocka_unit_test(
          test_a_stored_error_naming_a_short_folder_is_said_inside),
  };
  if (argc != 2) {
    fprintf(stderr, "usage: %s RECOUP\n", argv[0]);
    return 2;
  }
  /* A folder name long enough that Lua names its scripts by their last
   * 56 bytes ("...款机构-123/workflows/route.lua:2:"), which are the
   * machine's too; in Chinese, padded so that those bytes begin inside a
   * character (36 bytes before "/workflows": "-PID", then the name's
   * end). */
  {
    char name[100];
    int digits = snprintf(NULL, 0, "%d", (int)getpid()), pad = 0;
    while ((35 - digits - pad) % 3 != 1) pad++;
    snprintf(name, sizeof name, "err-贷款机构的文件夹贷款机构的文件夹%.*s", pad,
             "xx");
    harness_open(&srv, argv[1], name);
  }
  /* Shipped scripts in a folder shorter than "the shipped scripts" (this
   * institution requires none of them). */
  setenv("RECOUP_SCRIPTS", "/usr", 1);
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
