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
#include <curl/curl.h>
#include <sqlite3.h>

static const char *recoup_bin;
static char dir[512];
static int port;
static pid_t server;

#define INGEST "ingest-secret"
#define AGENT "agent-secret"
#define READ "read-secret"
#define ADMIN "admin-secret"

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

static void write_file(const char *name, const char *fmt, ...) {
  char path[700];
  FILE *f;
  va_list ap;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  f = fopen(path, "w");
  assert_non_null(f);
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fclose(f);
}

static void write_institution(void) {
  char sub[600];
  write_file("recoup.lua",
             "institution { name = 'Err', timezone = 'UTC', currency = 'USD' "
             "}\n"
             "service { instruction_budget = 100000, memory_limit = '32MB' }\n"
             "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT', read "
             "= 'env:T_READ', admin = 'env:T_ADMIN' }\n"
             "workflow(require 'workflows.err')\n");
  snprintf(sub, sizeof sub, "%s/workflows", dir);
  mkdir(sub, 0700);
  write_file("workflows/err.lua", workflow, broken);
}

/* --- a small client ------------------------------------------------------ */

typedef struct answer {
  long status;
  char body[65536];
  size_t len;
} answer;

static size_t collect(char *p, size_t size, size_t n, void *ud) {
  answer *a = ud;
  size_t take = size * n;
  if (a->len + take >= sizeof a->body) take = sizeof a->body - 1 - a->len;
  memcpy(a->body + a->len, p, take);
  a->len += take;
  a->body[a->len] = '\0';
  return size * n;
}

static answer *call(const char *method, const char *path, const char *token,
                    const char *body) {
  static answer a;
  char url[600], auth[300];
  struct curl_slist *h = NULL;
  CURL *c = curl_easy_init();
  memset(&a, 0, sizeof a);
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
  }
  h = curl_slist_append(h, "Expect:");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  if (curl_easy_perform(c) != CURLE_OK)
    a.status = -1;
  else
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return &a;
}

static answer *post(const char *path, const char *token, const char *json) {
  return call("POST", path, token, json);
}

static answer *get(const char *path, const char *token) {
  return call("GET", path, token, NULL);
}

static void expect(answer *a, long status, const char *has) {
  if (a->status != status || (has && !strstr(a->body, has)))
    fail_msg("got %ld %s; wanted %ld with %s", a->status, a->body, status,
             has ? has : "anything");
}

static void expect_not(answer *a, const char *hasnt) {
  if (strstr(a->body, hasnt)) fail_msg("%s holds %s", a->body, hasnt);
}

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

static void start_server(void) {
  int out[2];
  char line[256] = "";
  char db[600], log[600];
  FILE *f;
  assert_int_equal(pipe(out), 0);
  snprintf(db, sizeof db, "%s/err.db", dir);
  snprintf(log, sizeof log, "%s/server.log", dir);
  server = fork();
  if (server == 0) {
    int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(out[1], 1);
    if (err >= 0) dup2(err, 2);
    close(out[0]);
    setenv("T_INGEST", INGEST, 1);
    setenv("T_AGENT", AGENT, 1);
    setenv("T_READ", READ, 1);
    setenv("T_ADMIN", ADMIN, 1);
    execl(recoup_bin, recoup_bin, "serve", dir, "--listen", "127.0.0.1:0",
          "--db", db, (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  f = fdopen(out[0], "r");
  if (!fgets(line, sizeof line, f)) fail_msg("the server printed nothing");
  if (sscanf(line, "listening on http://127.0.0.1:%d", &port) != 1)
    fail_msg("unexpected first line: %s", line);
}

static int group_setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/recoup-test-errors-%d", (int)getpid());
  mkdir(dir, 0700);
  write_institution();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  start_server();
  return 0;
}

static int group_teardown(void **state) {
  static const char *const files[] = {
      "workflows/err.lua", "workflows",  "recoup.lua", "err.db",
      "err.db-wal",        "err.db-shm", "server.log"};
  (void)state;
  if (server > 0) {
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
  }
  curl_global_cleanup();
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    remove(path);
  }
  rmdir(dir);
  return 0;
}

/* --- the tests ----------------------------------------------------------- */

static void open_case(const char *id) {
  char body[200];
  snprintf(body, sizeof body,
           "{\"id\":\"%s\",\"balance\":10,\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"B%s\"}}", id,
           id);
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
  write_file("workflows/err.lua", workflow, fixed);
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
  char db[600];
  sqlite3 *other;
  answer *a;
  (void)state;
  snprintf(db, sizeof db, "%s/err.db", dir);
  assert_int_equal(sqlite3_open(db, &other), SQLITE_OK);
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
  };
  if (argc != 2) {
    fprintf(stderr, "usage: %s RECOUP\n", argv[0]);
    return 2;
  }
  recoup_bin = argv[1];
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
