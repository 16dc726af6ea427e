/* The console's routes attacked from outside, as a hostile client and as
 * a confused user (each test a defect found and fixed): the read role's
 * view of free JSON (a case's data, a task's fields and result), and a
 * named agent completing a task it had not claimed.
 *
 * The harness is test_work_http.c's: the real `recoup serve` at a
 * loopback port it picks, users made with `recoup user add`.
 *
 * usage: test_console_attack RECOUP */
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
#include <jansson.h>
#include <sqlite3.h>

#include "harness.h"

static harness srv;

#define INGEST HARNESS_INGEST
#define AGENT HARNESS_AGENT
#define READ HARNESS_READ
#define ADMIN HARNESS_ADMIN

/* Tasks come from events, so the test decides their kind, queue, due time
 * and priority. `review` is not a contact: its due time stays as given.
 * `call` is declared with priority 10; the state's priority is 5. */
static const char *workflow =
    "return recoup.workflow { name = 'work', version = 1, initial = 'new',\n"
    "  tasks = {\n"
    "    call = { priority = 10, outcomes = {\n"
    "      promise = { amount = 'money', by = 'date', conversation = true },\n"
    "      no_answer = {} } },\n"
    "    visit = { outcomes = { met = { whom = { 'borrower', 'spouse', "
    "'other' }, said = 'text?' } } },\n"
    "    review = { outcomes = { done = {} } },\n"
    "  },\n"
    "  states = {\n"
    "    new = { priority = 5, on = {\n"
    "      review = function(case, ev)\n"
    "        case:task('review', { queue = ev.queue, due = ev.due,\n"
    "                              priority = ev.priority })\n"
    "      end,\n"
    "      call = function(case, ev) case:task('call', { queue = ev.queue })"
    " end,\n"
    "      visit = function(case, ev) case:task('visit', { queue = ev.queue })"
    " end,\n"
    "      remind = function(case) case:send('sms', 'hello') end,\n"
    "      plan = function(case) case:plan { total = 3000, installments = 3,"
    " every = '1mo', first_due = '7d' } end,\n"
    "      done = function() return 'closed' end } },\n"
    "    closed = { final = true },\n"
    "  },\n"
    "  transitions = { new = { 'closed' } },\n"
    "}\n";

static void write_institution(void) {
  harness_write(
      &srv, "recoup.lua",
      "institution { name = 'Work', timezone = 'Asia/Shanghai', "
      "currency = 'CNY' }\n"
      "policy { max_contacts = {\n"
      "  { channels = { 'sms' }, limit = 1, per = '1d' },\n"
      "  { channels = { 'call' }, limit = 7, per = '7d', scope = "
      "'case' } } }\n"
      "channel 'sms' { driver = 'file', path = 'sms.jsonl' }\n"
      "service { instruction_budget = 1000000, memory_limit = '32MB' "
      "}\n"
      "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT', read "
      "= 'env:T_READ', admin = 'env:T_ADMIN' }\n"
      "templates { hello = { sms = { en = 'Hello {borrower.name}' } } "
      "}\n"
      "workflow(require 'workflows.work')\n");
  harness_mkdir(&srv, "workflows");
  harness_write(&srv, "workflows/work.lua", workflow);
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
#define parsed harness_json

/* --- the server ------------------------------------------------------------
 */

static int group_setup(void **state) {
  (void)state;
  write_institution();
  harness_start(&srv);
  harness_add_user(&srv, "li.wei", "agent", "phone");
  harness_add_user(&srv, "wang.fang", "agent", "field");
  harness_add_user(&srv, "zhang.min", "supervisor", NULL);
  harness_add_user(&srv, "zhao.read", "read", NULL);
  harness_add_user(&srv, "old.hand", "agent", "phone");
  {
    const char *disable[] = {"user", "disable", "old.hand", "--db",
                             srv.db, srv.dir,   NULL};
    if (harness_run(&srv, NULL, NULL, 0, disable) != 0)
      fail_msg("could not disable old.hand");
  }
  return 0;
}

static int group_teardown(void **state) {
  int status = harness_stop(&srv), rc = 0;
  (void)state;
  /* A sanitizer build's server that leaked says so at exit: not 0. */
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tail -40 %s >&2", srv.log);
    fprintf(stderr, "the server ended with status %d\n", status);
    if (system(cmd) != 0) fprintf(stderr, "(no server.log)\n");
    rc = -1;
  }
  harness_close(&srv);
  return rc;
}

/* --- fixtures ------------------------------------------------------------ */

static void open_case(const char *id, const char *area) {
  char body[600];
  snprintf(body, sizeof body,
           "{\"id\":\"%s\",\"balance\":500000,\"amount_due\":120000,"
           "\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"B%s\","
           "\"name\":\"Wang %s\",\"phones\":[\"+8613800138000\"],"
           "\"timezone\":\"Asia/Shanghai\",\"address\":\"100 Century Avenue\""
           "%s%s%s}}",
           id, id, id, area ? ",\"area\":\"" : "", area ? area : "",
           area ? "\"" : "");
  expect(post("/v1/cases", INGEST, body), 201, NULL);
}

static void post_event(const char *id, const char *json) {
  char path[100];
  snprintf(path, sizeof path, "/v1/cases/%s/events", id);
  expect(post(path, INGEST, json), 202, NULL);
}

/* Waits (5 s at most: sanitizer builds are slow) until a queue holds n
 * waiting tasks. */
static void wait_tasks(const char *queue, int n) {
  char path[200];
  int got = -1;
  for (int tries = 0; tries < 100; tries++) {
    answer *a;
    json_t *v;
    snprintf(path, sizeof path, "/v1/tasks?queue=%s&status=open&limit=1000",
             queue);
    a = get(path, ADMIN);
    v = parsed(a);
    got = (int)json_array_size(json_object_get(v, "tasks"));
    json_decref(v);
    if (got >= n) return;
    usleep(50000);
  }
  fail_msg("queue %s has %d open tasks, not %d", queue, got, n);
}

/* The task id of the newest waiting task in queue of case. */
static long long task_of(const char *case_id, const char *queue) {
  char path[200];
  json_t *v, *t;
  size_t i;
  long long id = 0;
  snprintf(path, sizeof path, "/v1/tasks?queue=%s&limit=1000", queue);
  v = parsed(get(path, ADMIN));
  json_array_foreach(json_object_get(v, "tasks"), i, t) {
    if (!strcmp(json_string_value(json_object_get(t, "case")), case_id))
      id = json_integer_value(json_object_get(t, "id"));
  }
  json_decref(v);
  if (!id) fail_msg("no task of %s in %s", case_id, queue);
  return id;
}

/* A named agent sees only the cases of its queues. Needs the session
 * routes (POST /v1/session); skipped where they are not built yet. */
static char cookie_jar[700];

static int session_for(const char *name, char *csrf, size_t size) {
  return harness_sign_in(&srv, name, cookie_jar, sizeof cookie_jar, csrf, size);
}

/* A request in the session session_for last opened. */
static answer *as_user(const char *method, const char *path, const char *csrf,
                       const char *body) {
  harness_request r = {0};
  r.csrf = csrf;
  r.cookie_jar = cookie_jar;
  r.body = body;
  return harness_send(&srv, method, path, &r);
}

static void test_read_sees_case_data_and_task_results_masked(void **state) {
  char csrf[64], path[200];
  answer *a;
  (void)state;
  expect(post("/v1/cases", INGEST,
              "{\"id\":\"M1\",\"balance\":500000,\"amount_due\":120000,"
              "\"due_date\":\"2026-01-01\",\"data\":{\"alt_phone\":"
              "\"+8613912345678\",\"memo\":\"wife: 13912340000\"},"
              "\"borrower\":{\"id\":\"BM1\",\"name\":\"Wang M1\","
              "\"phones\":[\"+8613800138000\"],\"timezone\":"
              "\"Asia/Shanghai\"}}"),
         201, NULL);
  post_event("M1", "{\"type\":\"visit\",\"data\":{\"queue\":\"field\"}}");
  wait_tasks("field", 1);
  snprintf(path, sizeof path, "/v1/tasks/%lld/complete",
           task_of("M1", "field"));
  expect(post(path, AGENT,
              "{\"outcome\":\"met\",\"whom\":\"spouse\",\"said\":\"call "
              "13987654321 after six\"}"),
         200, NULL);
  /* Who works the case sees it whole. */
  expect(get("/v1/cases/M1", ADMIN), 200, "+8613912345678");
  expect(get("/v1/tasks?queue=field&limit=1000", ADMIN), 200, "13987654321");
  if (!session_for("zhao.read", csrf, sizeof csrf)) skip();
  a = as_user("GET", "/v1/cases/M1", csrf, NULL);
  expect(a, 200, "\"alt_phone\"");
  expect_not(a, "13912345678");
  expect_not(a, "13912340000");
  a = as_user("GET", "/v1/cases?limit=1000", csrf, NULL);
  expect(a, 200, "\"alt_phone\"");
  expect_not(a, "13912345678");
  a = as_user("GET", "/v1/tasks?queue=field&limit=1000", csrf, NULL);
  expect(a, 200, "\"said\"");
  expect_not(a, "13987654321");
  /* As the borrower's own contact points always were. */
  open_case("M0", NULL);
  a = as_user("GET", "/v1/cases/M0", csrf, NULL);
  expect(a, 200, "\"address\":\"100***\"");
  expect_not(a, "Century");
  a = as_user("GET", "/v1/cases/M1/journal", csrf, NULL);
  expect(a, 200, "\"said\"");
  expect_not(a, "13987654321");
  expect_not(a, "13912345678");
}

/* --- completing a task one has not claimed --------------------------------
 */

/* A named agent completing an open task straight from the case page (no
 * claim first) lost the case at once: it was no longer waiting in its
 * queue, and the task done had no assignee, so the 30 days of "cases it
 * completed" did not count it; the figures credited nobody. And it could
 * complete a task a colleague had claimed (which it may not claim),
 * leaving the colleague credited with the work. */
static void test_completing_a_task_makes_it_the_completers(void **state) {
  char csrf[64], path[200], want[100];
  long long open_task, taken_task;
  (void)state;
  open_case("C1", NULL);
  open_case("C2", NULL);
  post_event("C1", "{\"type\":\"review\",\"data\":{\"queue\":\"phone\"}}");
  post_event("C2", "{\"type\":\"review\",\"data\":{\"queue\":\"phone\"}}");
  wait_tasks("phone", 2);
  open_task = task_of("C1", "phone");
  taken_task = task_of("C2", "phone");
  if (!session_for("li.wei", csrf, sizeof csrf)) skip();
  snprintf(path, sizeof path, "/v1/tasks/%lld/complete", open_task);
  expect(as_user("POST", path, csrf, "{\"outcome\":\"done\"}"), 200,
         "\"status\":\"done\"");
  /* Still its case: it completed the task. */
  expect(as_user("GET", "/v1/cases/C1", csrf, NULL), 200, "\"id\":\"C1\"");
  snprintf(want, sizeof want, "\"id\":%lld,", open_task);
  expect(get("/v1/tasks?queue=phone&status=done&limit=1000", ADMIN), 200, want);
  expect(get("/v1/cases/C1/journal", ADMIN), 200, "\"assignee\":\"li.wei\"");
  /* An offline resend of the same completion is still the stored one. */
  expect(as_user("POST", path, csrf, "{\"outcome\":\"done\"}"), 200,
         "\"status\":\"duplicate\"");
  /* A completion refused claims nothing: the job is undone whole. */
  snprintf(path, sizeof path, "/v1/tasks/%lld/complete", taken_task);
  expect(as_user("POST", path, csrf, "{\"outcome\":\"nope\"}"), 422,
         "\"field\":\"outcome\"");
  snprintf(want, sizeof want, "\"id\":%lld,", taken_task);
  expect(get("/v1/tasks?queue=phone&status=open&limit=1000", ADMIN), 200, want);
  /* A colleague's claimed task is not its to finish. */
  snprintf(path, sizeof path, "/v1/tasks/%lld/claim", taken_task);
  expect(post(path, AGENT, "{\"assignee\":\"old.hand\"}"), 200, NULL);
  snprintf(path, sizeof path, "/v1/tasks/%lld/complete", taken_task);
  expect(as_user("POST", path, csrf, "{\"outcome\":\"done\"}"), 409,
         "claimed by old.hand");
  /* A supervisor may finish it (and it stays old.hand's). */
  if (!session_for("zhang.min", csrf, sizeof csrf)) skip();
  expect(as_user("POST", path, csrf, "{\"outcome\":\"done\"}"), 200,
         "\"status\":\"done\"");
}

/* --- an agent of many queues ----------------------------------------------
 */

/* `user add` takes up to 64 queues of up to 64 characters; the session
 * kept a named agent's queues in 512 bytes and, when they did not fit,
 * gave it none: an agent of 31 queues signed in, /v1/me listed them, and
 * My work, its cases and claim next were all empty ("not one of yours"). */
static void test_an_agent_of_many_queues_sees_them_all(void **state) {
  char csrf[64], queues[2600] = "";
  size_t at = 0;
  answer *a;
  (void)state;
  for (int i = 0; i < 30; i++)
    at += (size_t)snprintf(queues + at, sizeof queues - at,
                           "queue-number-%02d,", i);
  snprintf(queues + at, sizeof queues - at, "phone");
  harness_add_user(&srv, "many.queues", "agent", queues);
  open_case("Q1", NULL);
  post_event("Q1", "{\"type\":\"review\",\"data\":{\"queue\":\"phone\"}}");
  wait_tasks("phone", 1);
  if (!session_for("many.queues", csrf, sizeof csrf)) skip();
  expect(as_user("GET", "/v1/me", csrf, NULL), 200, "\"queue-number-29\"");
  expect(as_user("GET", "/v1/cases/Q1", csrf, NULL), 200, "\"id\":\"Q1\"");
  a = as_user("GET", "/v1/work?queue=phone", csrf, NULL);
  expect(a, 200, "\"case\":\"Q1\"");
  expect(as_user("POST", "/v1/tasks/next?queue=phone", csrf, NULL), 200,
         "\"assignee\":\"many.queues\"");
  /* Still bounded by them. */
  expect(as_user("GET", "/v1/work?queue=field", csrf, NULL), 422,
         "\"field\":\"queue\"");
}

/* --- forged cursors ---------------------------------------------------------
 */

/* A promise tab's `after` that is not a `next` is 422, and costs the
 * service nothing: it leaked the page's list each time (an agent could
 * grow the service's memory at will; the sanitizer build's server reports
 * it at exit, which the teardown checks). */
static void test_forged_cursors_are_refused_and_cost_nothing(void **state) {
  static const char *const forged[] = {
      "garbage",      "2026-13-45:1", "2026-12-01:0", "2026-12-01:-1",
      "2026-12-01x1", "0000-01-01:1", "%20"};
  char csrf[64], path[200];
  (void)state;
  if (!session_for("li.wei", csrf, sizeof csrf)) skip();
  for (size_t i = 0; i < sizeof forged / sizeof forged[0]; i++) {
    snprintf(path, sizeof path, "/v1/work?tab=promises&after=%s", forged[i]);
    expect(as_user("GET", path, csrf, NULL), 422, "\"field\":\"after\"");
    snprintf(path, sizeof path, "/v1/work?tab=broken&after=%s", forged[i]);
    expect(as_user("GET", path, csrf, NULL), 422, "\"field\":\"after\"");
    snprintf(path, sizeof path, "/v1/work?after=%s", forged[i]);
    expect(as_user("GET", path, csrf, NULL), 422, "\"field\":\"after\"");
  }
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_read_sees_case_data_and_task_results_masked),
      cmocka_unit_test(test_completing_a_task_makes_it_the_completers),
      cmocka_unit_test(test_an_agent_of_many_queues_sees_them_all),
      cmocka_unit_test(test_forged_cursors_are_refused_and_cost_nothing),
  };
  if (argc < 2) {
    fprintf(stderr, "usage: %s RECOUP\n", argv[0]);
    return 2;
  }
  harness_open(&srv, argv[1], "attack");
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
