/* The real `recoup serve` on a loopback port it picks, driven over HTTP:
 * every route, the roles, the limits, durability answers, pipelining,
 * chunked bodies, a slow client, reload, and SIGTERM.
 *
 * usage: test_service RECOUP WORK_DIR */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"

static harness srv;

static const char *workflow_v1 =
    "return recoup.workflow { name = 'svc', version = %d, initial = 'new',\n"
    "  states = {\n"
    "    new = { enter = function(case) case:send('sms', 'hello')\n"
    "                                   case:after('2s', 'ring') end,\n"
    "            on = { ring = function() return 'call' end,\n"
    "                   spin = function() while true do end end,\n"
    "                   hog = function() local t = {} for i = 1, 1e9 do "
    "t[i] = string.rep('x', 4096) end end,\n"
    "                   peek = function() return io.open('/etc/passwd') "
    "end } },\n"
    "    call = { enter = function(case) case:task('call', { queue = 'phone' })"
    " end,\n"
    "             on = { task_done = function(case, ev) case:set('outcome', "
    "ev.outcome) end } },\n"
    "    paid = { final = true },\n"
    "  },\n"
    "  transitions = { new = { 'call', 'paid' }, call = { 'paid' } },\n"
    "  tasks = { call = { outcomes = { promise = { amount = 'money' },\n"
    "                                  no_answer = {} } } },\n"
    "  on = { payment = function(case) if case.balance <= 0 then return "
    "'paid' end end },\n"
    "}\n";

static void write_institution(void) {
  harness_write(
      &srv, "recoup.lua",
      "institution { name = 'Svc', timezone = 'UTC', currency = 'USD' "
      "}\n"
      "channel 'sms' { driver = 'file', path = 'sms.jsonl' }\n"
      "service { body_limit = '1MB', request_timeout = '1s', "
      "idle_timeout = '5s', max_connections = 64, "
      "instruction_budget = 10000000, memory_limit = '32MB' }\n"
      "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT', read "
      "= 'env:T_READ', admin = 'env:T_ADMIN' }\n"
      "templates { hello = { sms = 'Hello {borrower.name}' } }\n"
      "workflow(require 'workflows.svc')\n");
  harness_mkdir(&srv, "workflows");
  harness_writef(&srv, "workflows/svc.lua", workflow_v1, 1);
}

/* --- a small client ------------------------------------------------------ */

typedef harness_answer answer;

static answer *call(const char *method, const char *path, const char *token,
                    const char *body, size_t body_len) {
  return harness_call(&srv, method, path, token, body, body_len);
}

static answer *post(const char *path, const char *token, const char *json) {
  return harness_post(&srv, path, token, json);
}

static answer *get(const char *path, const char *token) {
  return harness_get(&srv, path, token);
}

#define expect harness_expect

static int raw_connect(void) {
  return harness_connect(&srv);
}

/* Reads until the peer closes or `want` answers have come. */
static size_t raw_read(int fd, char *buf, size_t size, int want) {
  size_t got = 0;
  struct timeval tv = {3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (got + 1 < size) {
    ssize_t n = read(fd, buf + got, size - 1 - got);
    int seen = 0;
    if (n <= 0) break;
    got += (size_t)n;
    buf[got] = '\0';
    for (char *p = buf; (p = strstr(p, "HTTP/1.1 ")); p++) seen++;
    if (want && seen >= want && strstr(buf, "\r\n\r\n")) {
      /* whole bodies: crude but enough for small JSON answers */
      usleep(50000);
      n = read(fd, buf + got, size - 1 - got);
      if (n > 0) got += (size_t)n;
      buf[got] = '\0';
      break;
    }
  }
  return got;
}

/* --- the server ---------------------------------------------------------- */

static int group_setup(void **state) {
  (void)state;
  write_institution();
  harness_start(&srv);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  harness_close(&srv);
  return 0;
}

#define INGEST HARNESS_INGEST
#define AGENT HARNESS_AGENT
#define READ HARNESS_READ
#define ADMIN HARNESS_ADMIN

static const char *case_l1 =
    "[{\"id\":\"L1\",\"balance\":5000,\"amount_due\":2000,\"due_date\":"
    "\"2026-01-01\",\"borrower\":{\"id\":\"B1\",\"name\":\"Wang\",\"phones\":"
    "[\"+8613800000001\"]}},{\"id\":\"L2\",\"balance\":100,\"due_date\":\"2026-"
    "01-01\",\"borrower\":{"
    "\"id\":\"B2\",\"name\":\"Li\",\"phones\":[\"+8613800000002\"]}}]";

static void test_health_and_metrics_are_open(void **state) {
  (void)state;
  expect(get("/health", NULL), 200, "\"db_writable\":true");
  expect(get("/health", NULL), 200,
         "\"store\":{\"backend\":\"sqlite\",\"connected\":true,"
         "\"writable\":true}");
  expect(get("/metrics", NULL), 200, "recoup_timers_pending");
}

static void test_tokens_and_roles(void **state) {
  (void)state;
  expect(get("/v1/cases", NULL), 401, "unauthorized");
  expect(get("/v1/cases", "wrong"), 401, "unauthorized");
  expect(post("/v1/payments", READ, "{}"), 403, "forbidden");
  expect(post("/v1/admin/reload", INGEST, ""), 403, "forbidden");
  /* A 403 names the role the route needs. */
  expect(post("/v1/payments", READ, "{}"), 403, "needs the ingest or admin");
  expect(get("/v1/cases", ADMIN), 200, "\"cases\"");
}

/* Collectors see whom to call; the read role sees contact points masked,
 * in the case and in its journal. */
static void test_agents_see_contact_points_and_read_sees_them_masked(
    void **state) {
  answer *a;
  (void)state;
  expect(get("/v1/cases/L1", AGENT), 200, "\"phones\":[\"+8613800000001\"]");
  expect(get("/v1/cases/L1", AGENT), 200, "\"name\":\"Wang\"");
  a = get("/v1/cases/L1", READ);
  expect(a, 200, "\"name\":\"Wang\"");
  if (strstr(a->body, "13800000001"))
    fail_msg("the read role saw a phone number: %s", a->body);
  expect(get("/v1/cases/L1/journal", AGENT), 200, "\"journal\"");
  expect(post("/v1/replies", INGEST,
              "{\"case\":\"L1\",\"from\":\"+8613800000001\",\"text\":"
              "\"call me\"}"),
         202, NULL);
  usleep(300000);
  expect(get("/v1/cases/L1/journal", ADMIN), 200, "+8613800000001");
  a = get("/v1/cases/L1/journal", READ);
  expect(a, 200, "\"journal\"");
  if (strstr(a->body, "13800000001"))
    fail_msg("the read role saw a phone number in the journal: %s", a->body);
  /* Masked, a long text is not cut (it was at 1 KB). */
  {
    char body[3200];
    int n = snprintf(body, sizeof body,
                     "{\"case\":\"L1\",\"from\":\"+8613800000001\","
                     "\"text\":\"");
    memset(body + n, 'w', 2500);
    snprintf(body + n + 2500, sizeof body - (size_t)n - 2500, "END\"}");
    expect(post("/v1/replies", INGEST, body), 202, NULL);
  }
  usleep(300000);
  expect(get("/v1/cases/L1/journal", READ), 200, "wwwEND");
}

static void test_bad_input_gets_the_fitting_status(void **state) {
  (void)state;
  expect(post("/v1/payments", INGEST, "{\"case\": "), 400, "bad_json");
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"L9\",\"amount\":1.5,"
              "\"ref\":\"x\"}"),
         422, "\"field\":\"amount\"");
  expect(get("/v1/cases/nope", READ), 404, "unknown case nope");
  expect(call("DELETE", "/v1/cases", ADMIN, NULL, 0), 405, NULL);
  expect(get("/v2/anything", ADMIN), 404, NULL);
  expect(post("/v1/cases", INGEST,
              "{\"id\":\"X\",\"balance\":-1,"
              "\"borrower\":{\"id\":\"B\"}}"),
         422, "\"field\":\"balance\"");
}

static void test_body_over_the_limit_gets_413(void **state) {
  size_t n = 3u << 20;
  char *big = malloc(n + 1);
  (void)state;
  memset(big, 'x', n);
  big[n] = '\0';
  {
    long status = call("POST", "/v1/cases", INGEST, big, n)->status;
    free(big);
    assert_int_equal(status, 413);
  }
  expect(get("/health", NULL), 200, NULL); /* and the server is fine */
}

static void test_cases_open_read_and_page(void **state) {
  (void)state;
  expect(post("/v1/cases", INGEST, case_l1), 201, "\"created\":2");
  expect(get("/v1/cases/L1", READ), 200, "\"state\":\"new\"");
  expect(get("/v1/cases/L1", READ), 200, "\"balance\":5000");
  expect(get("/v1/cases?limit=1", READ), 200, "\"next\":\"L1\"");
  expect(get("/v1/cases?limit=1&after=L1", READ), 200, "\"id\":\"L2\"");
  expect(get("/v1/cases?state=new", AGENT), 200, "\"id\":\"L1\"");
  /* Short of a whole window of cases, a page with no match is the end. */
  expect(get("/v1/cases?state=legal", AGENT), 200,
         "{\"cases\":[],\"next\":null}");
  expect(get("/v1/cases/L1/journal", READ), 200, "\"kind\":\"opened\"");
}

static void test_payments_are_idempotent_by_ref(void **state) {
  (void)state;
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"L1\",\"amount\":1000,\"ref\":\"PAY-1\"}"),
         201, "applied");
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"L1\",\"amount\":1000,\"ref\":\"PAY-1\"}"),
         200, "duplicate");
  expect(get("/v1/cases/L1", READ), 200, "\"balance\":4000");
  /* The same ref on another case, or for another amount, changes nothing
   * and says so; the other case's payment is not lost as a duplicate. */
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"L2\",\"amount\":1000,\"ref\":\"PAY-1\"}"),
         409, "\"field\":\"ref\"");
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"L1\",\"amount\":1001,\"ref\":\"PAY-1\"}"),
         409, "already used for an amount of 1000");
  expect(get("/v1/cases/L1", READ), 200, "\"balance\":4000");
  /* Payments are facts: one above the balance is kept as overpaid, and
   * its resend after it closed the case is still a duplicate. */
  expect(post("/v1/cases", INGEST,
              "{\"id\":\"OVER\",\"balance\":100,\"amount_due\":100,"
              "\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"B9\"}}"),
         201, NULL);
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"OVER\",\"amount\":150,\"ref\":\"PAY-2\"}"),
         201, "applied");
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"OVER\",\"amount\":150,\"ref\":\"PAY-2\"}"),
         200, "duplicate");
  expect(get("/v1/cases/OVER", READ), 200, "\"overpaid\":50");
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"NOPE\",\"amount\":1,\"ref\":\"PAY-3\"}"),
         404, NULL);
}

static void test_events_are_idempotent_by_key(void **state) {
  (void)state;
  expect(post("/v1/cases/L2/events", INGEST,
              "{\"type\":\"note\",\"data\":{\"x\":1},\"key\":\"K1\"}"),
         202, "queued");
  expect(post("/v1/cases/L2/events", INGEST,
              "{\"type\":\"note\",\"data\":{\"x\":1},\"key\":\"K1\"}"),
         200, "duplicate");
  expect(post("/v1/cases/L2/events", INGEST, "{\"data\":{}}"), 422,
         "\"field\":\"type\"");
  /* A key names one event: on another case it is a conflict, not a
   * duplicate that drops the second case's dispute. */
  expect(post("/v1/cases/L1/events", INGEST,
              "{\"type\":\"note\",\"data\":{\"x\":1},\"key\":\"K1\"}"),
         409, "\"field\":\"key\"");
  /* Events only the core emits cannot be posted. */
  expect(post("/v1/cases/L2/events", INGEST, "{\"type\":\"promise_broken\"}"),
         422, "come from the core");
}

static void test_a_timer_brings_a_task_without_a_request(void **state) {
  (void)state;
  for (int i = 0; i < 60; i++) {
    answer *a = get("/v1/tasks?queue=phone", AGENT);
    if (strstr(a->body, "\"case\":\"L1\"")) return;
    usleep(100000);
  }
  fail_msg("the call task never appeared: %s",
           get("/v1/tasks?queue=phone", AGENT)->body);
}

static void test_tasks_claim_and_complete_once(void **state) {
  char path[64], id[32] = "";
  answer *a = get("/v1/tasks?queue=phone&status=open", AGENT);
  const char *p = strstr(a->body, "\"id\":");
  (void)state;
  assert_non_null(p);
  sscanf(p + 5, "%31[0-9]", id);
  snprintf(path, sizeof path, "/v1/tasks/%s/claim", id);
  expect(post(path, AGENT, "{\"assignee\":\"agent-7\"}"), 200, "claimed");
  expect(post(path, AGENT, "{\"assignee\":\"agent-8\"}"), 409, "conflict");
  snprintf(path, sizeof path, "/v1/tasks/%s/complete", id);
  /* Checked against the declared outcomes before anything is written. */
  expect(post(path, AGENT, "{\"outcome\":\"promise\",\"amount\":1.5}"), 422,
         "\"field\":\"amount\"");
  expect(post(path, AGENT, "{\"outcome\":\"promise\"}"), 422,
         "amount is required");
  expect(post(path, AGENT, "{\"outcome\":\"later\",\"amount\":1}"), 422,
         "\"field\":\"outcome\"");
  expect(post(path, AGENT, "{\"outcome\":\"promise\",\"amount\":100}"), 200,
         "\"status\":\"done\"");
  /* An offline resend gets the stored result; another body is refused. */
  expect(post(path, AGENT, "{\"outcome\":\"promise\",\"amount\":100}"), 200,
         "\"status\":\"duplicate\"");
  expect(post(path, AGENT, "{\"outcome\":\"no_answer\"}"), 409,
         "already closed");
  expect(post("/v1/tasks/999999/complete", AGENT, "{\"outcome\":\"x\"}"), 404,
         NULL);
  usleep(300000);
  expect(get("/v1/cases/L1", READ), 200, "\"outcome\":\"promise\"");
}

static void test_receipts_replies_and_reports(void **state) {
  (void)state;
  expect(post("/v1/messages/1/receipt", INGEST, "{\"status\":\"delivered\"}"),
         200, "delivered");
  /* A gateway's retry is acknowledged once; the other outcome is refused. */
  expect(post("/v1/messages/1/receipt", INGEST, "{\"status\":\"delivered\"}"),
         200, "\"status\":\"duplicate\"");
  expect(post("/v1/messages/1/receipt", INGEST, "{\"status\":\"failed\"}"), 409,
         "is delivered");
  expect(post("/v1/messages/1/receipt", INGEST, "{\"status\":\"lost\"}"), 422,
         NULL);
  /* An id past 64 bits is no message, not the largest one. */
  expect(post("/v1/messages/99999999999999999999/receipt", INGEST,
              "{\"status\":\"delivered\"}"),
         404, "unknown message 99999999999999999999");
  expect(post("/v1/replies", INGEST,
              "{\"from\":\"+8613800000002\",\"text\":\"ok\"}"),
         202, "\"case\":\"L2\"");
  /* An empty sender is no sender (it was looked up, and a contact kept
   * without a value would have matched it). */
  expect(post("/v1/replies", INGEST, "{\"from\":\"\",\"text\":\"ok\"}"),
         422, "needs the sender (from) or the case");
  expect(get("/v1/reports/summary", READ), 200, "\"recovered\":1100");
}

static void test_import_over_http_is_all_or_nothing(void **state) {
  const char *good =
      "id,borrower_id,balance,amount_due,due_date\nI1,BI1,100,100,2026-01-01\n"
      "I2,BI2,200,200,2026-01-01\n";
  const char *bad =
      "id,borrower_id,balance,amount_due,due_date\nI3,BI3,100,100,2026-01-01\n"
      "I4,BI4,-5,0,2026-01-01\n";
  (void)state;
  expect(post("/v1/import", INGEST, good), 200, "\"opened\":2");
  expect(post("/v1/import", INGEST, bad), 422, "\"line\":3");
  expect(get("/v1/cases/I3", READ), 404, NULL);
}

static void test_pipelined_requests_are_answered_in_order(void **state) {
  char buf[8192];
  const char *two =
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v1/cases/L2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
      "read-secret\r\n\r\n";
  int fd = raw_connect();
  char *first, *second;
  (void)state;
  assert_int_equal(write(fd, two, strlen(two)), (ssize_t)strlen(two));
  raw_read(fd, buf, sizeof buf, 2);
  close(fd);
  first = strstr(buf, "db_writable");
  second = strstr(buf, "\"id\":\"L2\"");
  assert_non_null(first);
  assert_non_null(second);
  assert_true(first < second);
}

static void test_chunked_body(void **state) {
  char buf[4096], req[1024];
  const char *part1 = "{\"case\":\"L2\",\"amount\":10",
             *part2 = ",\"ref\":\"CHUNK\"}";
  int fd = raw_connect(), n;
  (void)state;
  n = snprintf(req, sizeof req,
               "POST /v1/payments HTTP/1.1\r\nHost: x\r\nAuthorization: "
               "Bearer ingest-secret\r\nTransfer-Encoding: chunked\r\n\r\n"
               "%zx\r\n%s\r\n%zx\r\n%s\r\n0\r\n\r\n",
               strlen(part1), part1, strlen(part2), part2);
  assert_int_equal(write(fd, req, (size_t)n), n);
  raw_read(fd, buf, sizeof buf, 1);
  close(fd);
  if (!strstr(buf, "201 Created")) fail_msg("%s", buf);
}

static void test_a_slow_client_is_cut_off(void **state) {
  char buf[1024];
  int fd = raw_connect();
  ssize_t n;
  (void)state;
  assert_int_equal(write(fd, "GET /hea", 8), 8);
  sleep(2); /* request_timeout is 1s */
  n = (ssize_t)raw_read(fd, buf, sizeof buf, 1);
  close(fd);
  assert_true(n > 0);
  assert_non_null(strstr(buf, "408"));
}

static void test_a_broken_reload_keeps_the_old_scripts(void **state) {
  (void)state;
  harness_write(&srv, "workflows/svc.lua", "return recoup.workflow { name = 'svc' ");
  expect(post("/v1/admin/reload", ADMIN, ""), 422, "do not load");
  expect(post("/v1/cases", INGEST,
              "{\"id\":\"R1\",\"balance\":10,\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"BR\"}}"),
         201, NULL);
  expect(get("/v1/cases/R1", READ), 200, "\"version\":1");
  harness_writef(&srv, "workflows/svc.lua", workflow_v1, 2);
  expect(post("/v1/admin/reload", ADMIN, ""), 200, "reloaded");
  expect(post("/v1/cases", INGEST,
              "{\"id\":\"R2\",\"balance\":10,\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"BR\"}}"),
         201, NULL);
  expect(get("/v1/cases/R2", READ), 200, "\"version\":2");
  expect(get("/v1/cases/R1", READ), 200, "\"version\":1");
}

static void test_hostile_handlers_harm_only_their_case(void **state) {
  static const char *const events[] = {"spin", "hog", "peek"};
  (void)state;
  for (int i = 0; i < 3; i++) {
    char body[200], id[16], path[64];
    snprintf(id, sizeof id, "H%d", i);
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"balance\":10,\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"BH\"}}", id);
    expect(post("/v1/cases", INGEST, body), 201, NULL);
    snprintf(path, sizeof path, "/v1/cases/%s/events", id);
    snprintf(body, sizeof body, "{\"type\":\"%s\"}", events[i]);
    expect(post(path, INGEST, body), 202, NULL);
  }
  for (int tries = 0; tries < 50; tries++) {
    if (strstr(get("/v1/cases/H2", READ)->body, "\"error\":\"")) break;
    usleep(100000);
  }
  expect(get("/v1/cases/H0", READ), 200, "instruction budget exceeded");
  expect(get("/v1/cases/H1", READ), 200, "memory limit exceeded");
  expect(get("/v1/cases/H2", READ), 200, "attempt to index a nil value");
  expect(get("/health", NULL), 200, NULL);
  expect(get("/v1/cases/L2", READ), 200, "\"error\":null");
}

static void test_idle_connections_beyond_the_limit_make_room(void **state) {
  static int fds[10000];
  int n = 0, want = 10000;
  struct rlimit rl;
  char buf[512];
  (void)state;
  /* 10,000 idle connections, or as many as this process may open. */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 10100)
    want = (int)rl.rlim_cur - 100;
  for (int i = 0; i < want; i++) fds[n++] = raw_connect();
  /* The limit is 64: each newcomer pushed out the oldest connection that
   * had not sent a request, so the first ones were closed... */
  assert_int_equal(raw_read(fds[0], buf, sizeof buf, 1), 0);
  /* ...and a newcomer is served, not refused. */
  expect(get("/metrics", NULL), 200, NULL);
  for (int i = 0; i < n; i++) close(fds[i]);
  expect(get("/health", NULL), 200, NULL);
}

static void test_a_locked_database_answers_503_then_recovers(void **state) {
  sqlite3 *lock;
  (void)state;
  assert_int_equal(sqlite3_open(srv.db, &lock), SQLITE_OK);
  assert_int_equal(sqlite3_exec(lock, "BEGIN EXCLUSIVE", NULL, NULL, NULL),
                   SQLITE_OK);
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"L2\",\"amount\":1,\"ref\":\"LOCKED\"}"),
         503, NULL);
  sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(lock);
  expect(post("/v1/payments", INGEST,
              "{\"case\":\"L2\",\"amount\":1,\"ref\":\"LOCKED\"}"),
         201, NULL);
}

static void test_logs_hold_no_tokens_and_no_phone_numbers(void **state) {
  char log[1 << 16];
  FILE *f;
  size_t n;
  (void)state;
  /* A request whose error names a phone number. */
  post("/v1/cases", INGEST,
       "{\"id\":\"P1\",\"borrower\":{\"id\":\"BP\",\"phones\":"
       "[\"13800138000x\"]}}");
  f = fopen(srv.log, "r");
  assert_non_null(f);
  n = fread(log, 1, sizeof log - 1, f);
  log[n] = '\0';
  fclose(f);
  assert_null(strstr(log, "secret"));
  assert_null(strstr(log, "13800138000"));
  assert_non_null(strstr(log, "********000"));
}

static void test_sigterm_drains_and_exits_zero(void **state) {
  int status = -1;
  (void)state;
  status = harness_stop(&srv);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

/* A start-up sweep whose steps each spin a few milliseconds, in a
 * service of its own: a request that comes during a slice (a thousand
 * steps, begun before any request) ends it at a step boundary, once the
 * slice ran the few steps it would have run had writes been coming
 * (serve.c, BUSY_MIN: 8 here, where a step is slow), and is answered
 * with the steps committed so far: counted in timers left, never in
 * milliseconds. Before, each request waited for the whole slice: every
 * answer said all or none were left. */
enum { CUT_CASES = 200 };

static long overdue_now(harness *h) {
  harness_answer *a = harness_get(h, "/metrics", NULL);
  const char *p = strstr(a->body, "\nrecoup_timers_overdue ");
  if (a->status != 200 || !p) fail_msg("no overdue gauge: %s", a->body);
  return atol(p + strlen("\nrecoup_timers_overdue "));
}

static void test_a_request_ends_the_slice_it_came_in(void **state) {
  harness cut;
  char csv[700], cmd[2400];
  FILE *f;
  long left = CUT_CASES, was, least_gap = CUT_CASES;
  int between = 0, asked = 0;
  (void)state;
  harness_open_in(&cut, &srv, "cut");
  harness_write(
      &cut, "recoup.lua",
      "institution { name = 'Cut', timezone = 'UTC', currency = 'USD' }\n"
      "service { instruction_budget = 200000000 }\n"
      "workflow(recoup.workflow { name = 'cut', version = 1, "
      "initial = 'due', states = {\n"
      "  due = { enter = function(case) case:after('1s', 'spin') end,\n"
      "          on = { spin = function(case) local x = 0\n"
      "            for i = 1, 400000 do x = x + i % 7 end\n"
      "            return 'spun' end } },\n"
      "  spun = { on = {} } },\n"
      "  transitions = { due = { 'spun' } } })\n");
  harness_path(&cut, "book.csv", csv, sizeof csv);
  if (!(f = fopen(csv, "w"))) fail_msg("cannot write %s", csv);
  fprintf(f, "id,borrower_id,borrower_name,phone,balance,amount_due,fees,"
             "due_date,branch\n");
  for (int i = 0; i < CUT_CASES; i++)
    fprintf(f, "K%03d,B%03d,N %d,+86138%08d,1000,500,0,2026-01-01,n\n", i,
            i, i, i);
  fclose(f);
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --db '%s' > /dev/null",
           cut.bin, csv, cut.dir, cut.db);
  assert_int_equal(system(cmd), 0);
  usleep(1200000); /* every case's timer due */
  harness_start(&cut);
  while (left > 0 && asked++ < 4 * CUT_CASES) {
    was = left;
    left = overdue_now(&cut);
    assert_in_range(left, 0, was);
    if (left > 0 && left < CUT_CASES) between++;
    if (left > 0 && was < CUT_CASES && was - left < least_gap)
      least_gap = was - left;
  }
  assert_int_equal(left, 0);
  /* Answered during the sweep, each between slices of a few steps. */
  assert_true(between >= 3);
  assert_in_range(least_gap, 0, 9);
  assert_int_equal(WEXITSTATUS(harness_stop(&cut)), 0);
  harness_close(&cut);
}

/* `want` answers read whole from a kept connection (by their
 * Content-Length), as soon as they come: NUL-ended in buf. */
static void answers_on(int fd, char *buf, size_t size, int want) {
  size_t got = 0;
  buf[0] = '\0';
  for (;;) {
    const char *at = buf, *end, *len;
    int whole = 0;
    ssize_t n = 0;
    while ((end = strstr(at, "\r\n\r\n")) &&
           (len = strstr(at, "Content-Length: ")) && len < end &&
           end + 4 + atol(len + 16) <= buf + got) {
      at = end + 4 + atol(len + 16);
      whole++;
    }
    if (whole >= want) return;
    if (got + 1 >= size || (n = read(fd, buf + got, size - 1 - got)) <= 0)
      fail_msg("no whole answer: %s", buf);
    got += (size_t)n;
    buf[got] = '\0';
  }
}

/* While writes come, a slice sized for 2 ms at the last slices' pace
 * ends for a request once it ran 2 ms: a slice planned at cheap steps'
 * pace that meets dear ones (a few ms each) no longer runs all the cheap
 * steps' count of them. Cheap cases come due, then, once they are swept,
 * dear ones: their first slice is planned at the cheap ones' pace. A
 * client on one connection keeps writing (payments for a case that does
 * not exist: writes that queue no step) and reads the gauge between.
 * A dear step takes tens of ms (a Debug build): the eight a slice runs
 * first outlast the client's turn to send its next request, also on a
 * loaded CI machine, so a longer slice is the server's doing. */
enum { CHEAP_CASES = 300, DEAR_CASES = 60 };

/* pipelined: the payment and the gauge's request sent together, the
 * second read with the first and waiting in the server, not the socket. */
static void dear_steps_between_answers(int pipelined) {
  harness cut;
  char csv[700], cmd[2400], req[4096], buf[32768], at[32];
  FILE *f;
  time_t dear_at;
  long left = CHEAP_CASES + DEAR_CASES, was, most_dear = 0;
  int between = 0, asked = 0, fd, imported = !pipelined, swept = 0;
  const char *p;
  harness_open_in(&cut, &srv, pipelined ? "pipecut" : "busycut");
  /* The dear cases' timers share one due time, 3-4 s on; or, imported
   * over HTTP once the cheap ones are swept, a time passed. */
  dear_at = time(NULL) + (pipelined ? -60 : 4);
  strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S", gmtime(&dear_at));
  harness_writef(
      &cut, "recoup.lua",
      "institution { name = 'Cut', timezone = 'UTC', currency = 'USD' }\n"
      "service { instruction_budget = 400000000 }\n"
      "tokens { ingest = 'env:T_INGEST' }\n"
      "workflow(recoup.workflow { name = 'cut', version = 1, "
      "initial = 'due', states = {\n"
      "  due = { enter = function(case)\n"
      "            if case.id < 'D' then case:after('1s', 'spin')\n"
      "            else case:at('%s', 'spin') end end,\n"
      "          on = { spin = function(case) local x = 0\n"
      "            if case.id > 'D' then\n"
      "              for i = 1, 2000000 do x = x + i %% 7 end end\n"
      "            return 'spun' end } },\n"
      "  spun = { on = {} } },\n"
      "  transitions = { due = { 'spun' } } })\n",
      at);
  harness_path(&cut, "book.csv", csv, sizeof csv);
  if (!(f = fopen(csv, "w"))) fail_msg("cannot write %s", csv);
  fprintf(f,
          "id,borrower_id,borrower_name,phone,balance,amount_due,fees,"
          "due_date,branch\n");
  /* C: cheap, due in a second; D: dear. */
  for (int i = 0; i < CHEAP_CASES + DEAR_CASES * !pipelined; i++)
    fprintf(f, "%c%03d,B%03d,N %d,+86138%08d,100000,500,0,2026-01-01,n\n",
            i < CHEAP_CASES ? 'C' : 'D', i, i, i, i);
  fclose(f);
  snprintf(cmd, sizeof cmd, "'%s' import '%s' '%s' --db '%s' > /dev/null",
           cut.bin, csv, cut.dir, cut.db);
  assert_int_equal(system(cmd), 0);
  usleep(1200000); /* the cheap cases' timers due */
  harness_start(&cut);
  fd = harness_connect(&cut);
  while ((left > 0 || !imported) && asked++ < 100000) {
    int body, n = 0, dear = !imported && left == 0;
    /* Pipelined, once the cheap cases are swept: the dear ones imported
     * (due at once) before the payment and the gauge's request. */
    if (dear) {
      char rows[2048];
      int len = snprintf(rows, sizeof rows,
                         "id,borrower_id,balance,amount_due,"
                         "due_date\n");
      for (int i = 0; i < DEAR_CASES; i++)
        len += snprintf(rows + len, sizeof rows - (size_t)len,
                        "D%03d,B%03d,1000,1000,2026-01-01\n", i, i);
      n = snprintf(req, sizeof req,
                   "POST /v1/import HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\nContent-Type: text/csv\r\n"
                   "Content-Length: %d\r\n\r\n%s",
                   HARNESS_INGEST, len, rows);
      imported = 1;
      left = DEAR_CASES;
    }
    body =
        snprintf(buf, sizeof buf,
                 "{\"case\":\"nobody\",\"amount\":1,\"ref\":\"R%d\"}", asked);
    n += snprintf(req + n, sizeof req - (size_t)n,
                  "POST /v1/payments HTTP/1.1\r\nHost: x\r\n"
                  "Authorization: Bearer %s\r\n"
                  "Content-Type: application/json\r\n"
                  "Content-Length: %d\r\n\r\n%s",
                  HARNESS_INGEST, body, buf);
    if (pipelined)
      n += snprintf(req + n, sizeof req - (size_t)n,
                    "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_int_equal(write(fd, req, (size_t)n), n);
    answers_on(fd, buf, sizeof buf, 1 + pipelined + dear);
    if (strncmp(buf, dear ? "HTTP/1.1 200" : "HTTP/1.1 404", 12) != 0)
      fail_msg("payment: %s", buf);
    if (!pipelined) {
      n = snprintf(req, sizeof req, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
      assert_int_equal(write(fd, req, (size_t)n), n);
      answers_on(fd, buf, sizeof buf, 1);
    }
    if (!(p = strstr(buf, "\nrecoup_timers_pending ")))
      fail_msg("no pending gauge: %s", buf);
    was = left;
    left = atol(p + strlen("\nrecoup_timers_pending "));
    assert_in_range(left, 0, was);
    /* Only dear cases left (pipelined: imported). */
    swept = swept || (imported && was <= DEAR_CASES);
    if (swept && was - left > most_dear) most_dear = was - left;
    between += left > 0 && left < DEAR_CASES;
  }
  close(fd);
  assert_int_equal(left, 0);
  print_message("dear steps between answers, at most: %ld (%d answers)\n",
                most_dear, between);
  assert_true(between >= 3);
  /* BUSY_MIN (8) a slice, and between two answers of the gauge two
   * slices at most: one the payment ended, one the gauge's request.
   * Before, the first slice of dear steps ran as many as the cheap ones'
   * pace allowed (23-46 in a Debug build). */
  assert_in_range(most_dear, 0, 2 * 8 + 2);
  assert_int_equal(WEXITSTATUS(harness_stop(&cut)), 0);
  harness_close(&cut);
}

static void test_a_busy_slice_ends_for_a_request_once_its_time_is_up(
    void **state) {
  (void)state;
  dear_steps_between_answers(0);
}

/* Before, a request read with the payment before it waited for the whole
 * slice after the payment's commit: in no socket, the poll missed it. */
static void test_a_pipelined_request_ends_the_slice_too(void **state) {
  (void)state;
  dear_steps_between_answers(1);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_health_and_metrics_are_open),
      cmocka_unit_test(test_tokens_and_roles),
      cmocka_unit_test(test_bad_input_gets_the_fitting_status),
      cmocka_unit_test(test_body_over_the_limit_gets_413),
      cmocka_unit_test(test_cases_open_read_and_page),
      cmocka_unit_test(test_agents_see_contact_points_and_read_sees_them_masked),
      cmocka_unit_test(test_payments_are_idempotent_by_ref),
      cmocka_unit_test(test_events_are_idempotent_by_key),
      cmocka_unit_test(test_a_timer_brings_a_task_without_a_request),
      cmocka_unit_test(test_tasks_claim_and_complete_once),
      cmocka_unit_test(test_receipts_replies_and_reports),
      cmocka_unit_test(test_import_over_http_is_all_or_nothing),
      cmocka_unit_test(test_pipelined_requests_are_answered_in_order),
      cmocka_unit_test(test_chunked_body),
      cmocka_unit_test(test_a_slow_client_is_cut_off),
      cmocka_unit_test(test_a_broken_reload_keeps_the_old_scripts),
      cmocka_unit_test(test_hostile_handlers_harm_only_their_case),
      cmocka_unit_test(test_idle_connections_beyond_the_limit_make_room),
      cmocka_unit_test(test_a_locked_database_answers_503_then_recovers),
      cmocka_unit_test(test_logs_hold_no_tokens_and_no_phone_numbers),
      cmocka_unit_test(test_sigterm_drains_and_exits_zero),
      cmocka_unit_test(test_a_request_ends_the_slice_it_came_in),
      cmocka_unit_test(
          test_a_busy_slice_ends_for_a_request_once_its_time_is_up),
      cmocka_unit_test(test_a_pipelined_request_ends_the_slice_too),
  };
  if (argc != 2) {
    fprintf(stderr, "usage: %s RECOUP\n", argv[0]);
    return 2;
  }
  /* TEST_FILTER=name runs the tests whose names match */
  if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
  harness_open(&srv, argv[1], "service");
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
