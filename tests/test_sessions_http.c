/* Console sign-in over HTTP, on the real `recoup serve` at a loopback port
 * it picks: the session cookie and its attributes (Secure only through a
 * trusted proxy over TLS), one answer for a wrong password and an unknown
 * name, the slow-down per name and per address, CSRF and Origin on
 * session writes, sign-out, a user disabled by another process, idle
 * expiry, cookies that are no token, tokens beside cookies, and a
 * database that holds no token.
 *
 * The service trusts 127.0.0.1 as a proxy; requests sent from 127.0.0.2
 * (curl's --interface) come from a peer it does not trust.
 *
 * usage: test_sessions_http RECOUP */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "harness.h"

static harness srv;

#define INGEST HARNESS_INGEST
#define AGENT HARNESS_AGENT
#define ADMIN HARNESS_ADMIN
#define UNTRUSTED "127.0.0.2"

/* Every opening enters `call`, which gives a task to the phone queue. */
static const char *workflow =
    "return recoup.workflow { name = 'ses', version = 1, initial = 'call',\n"
    "  states = {\n"
    "    call = { enter = function(case) case:task('call', { queue = 'phone' "
    "}) end,\n"
    "             on = { task_done = function(case, ev) return 'done' end } "
    "},\n"
    "    done = { final = true },\n"
    "  },\n"
    "  transitions = { call = { 'done' } },\n"
    "}\n";

/* recoup.lua with the session timings given (Lua strings). */
static void write_institution(const char *idle, const char *lifetime) {
  harness_writef(
      &srv, "recoup.lua",
      "institution { name = { ['zh-CN'] = '测试贷款', en = 'Test "
      "Lender' },\n"
      "  timezone = 'Asia/Shanghai', locale = 'zh-CN', currency = "
      "'CNY', country = 'CN' }\n"
      "service { instruction_budget = 100000, memory_limit = '32MB',\n"
      "  trusted_proxies = { '127.0.0.1', '10.0.0.0/8' },\n"
      "  session_idle = '%s', session_lifetime = '%s' }\n"
      "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT', admin "
      "= 'env:T_ADMIN' }\n"
      "workflow(require 'workflows.ses')\n",
      idle, lifetime);
  harness_mkdir(&srv, "workflows");
  harness_write(&srv, "workflows/ses.lua", workflow);
}

/* --- a small client ------------------------------------------------------ */

typedef harness_answer answer;
typedef harness_request request;

/* A body is JSON unless the request says otherwise. */
static answer *send_request(const char *method, const char *path,
                            const request *r) {
  request with = *r;
  if (!with.content_type && with.body) with.content_type = "application/json";
  with.timeout = 30;
  return harness_send(&srv, method, path, &with);
}

#define expect harness_expect
#define header harness_header

/* A signed-in session: the cookie ("recoup_session=...") and CSRF. */
typedef struct session {
  char cookie[100], csrf[64], set_cookie[300];
} session;

static char last_token[64];

/* Signs name in from address (a hop a trusted proxy vouches for). */
static answer *sign_in_from(const char *name, const char *password,
                            const char *address) {
  char body[300];
  request r = {0};
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s\"}", name,
           password);
  r.body = body;
  r.forwarded_for = address;
  return send_request("POST", "/v1/session", &r);
}

static session sign_in(const char *name, const char *address) {
  char password[100];
  session s;
  answer *a;
  const char *p;
  memset(&s, 0, sizeof s);
  snprintf(password, sizeof password, "%s-pw-2026", name);
  a = sign_in_from(name, password, address);
  expect(a, 200, "\"csrf\":\"");
  if (!header(a, "Set-Cookie", s.set_cookie, sizeof s.set_cookie))
    fail_msg("no Set-Cookie in %s", a->headers);
  sscanf(s.set_cookie, "%99[^;]", s.cookie);
  sscanf(s.cookie, "recoup_session=%63s", last_token);
  p = strstr(a->body, "\"csrf\":\"") + 8;
  sscanf(p, "%63[^\"]", s.csrf);
  return s;
}

static answer *as(const session *s, const char *method, const char *path,
                  const char *body, int with_csrf) {
  request r = {0};
  r.cookie = s->cookie;
  r.csrf = with_csrf ? s->csrf : NULL;
  r.body = body;
  return send_request(method, path, &r);
}

static answer *with_token(const char *token, const char *method,
                          const char *path, const char *body) {
  request r = {0};
  r.token = token;
  r.body = body;
  return send_request(method, path, &r);
}

/* --- the server and the CLI --------------------------------------------- */

/* `recoup user ARGS...` (a NULL-terminated list) with password (or
 * nothing) on stdin; returns its exit status. */
static int run_user(const char *password, const char *const *args) {
  const char *argv[16];
  int n = 0;
  argv[n++] = "user";
  while (*args && n < 15) argv[n++] = *args++;
  argv[n] = NULL;
  return harness_run(&srv, password, NULL, 0, argv);
}

static int group_setup(void **state) {
  (void)state;
  write_institution("1h", "12h");
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  harness_stop(&srv);
  harness_close(&srv);
  return 0;
}

/* --- the tests ----------------------------------------------------------- */

static void test_users_are_added_and_the_service_starts(void **state) {
  (void)state;
  harness_add_user(&srv, "li.wei", "agent", "phone");
  harness_add_user(&srv, "wang.fang", "agent", "field");
  harness_add_user(&srv, "slow.user", "agent", "phone");
  harness_add_user(&srv, "victim", "agent", "phone");
  harness_add_user(&srv, "timid", "agent", "phone");
  harness_start(&srv);
}

static void test_sign_in_sets_the_cookie_with_exact_attributes(void **state) {
  session s;
  char token[64] = "", v[200];
  answer *a;
  (void)state;
  a = sign_in_from("li.wei", "li.wei-pw-2026", "192.0.2.1");
  expect(a, 200,
         "{\"user\":{\"name\":\"li.wei\",\"display_name\":null,\"role\":"
         "\"agent\",\"queues\":["
         "\"phone\"]},\"csrf\":\"");
  assert_true(header(a, "Set-Cookie", v, sizeof v));
  assert_int_equal(sscanf(v, "recoup_session=%63[A-Za-z0-9_-]", token), 1);
  assert_int_equal(strlen(token), 43);
  assert_string_equal(v + strlen("recoup_session=") + 43,
                      "; Path=/; HttpOnly; SameSite=Strict");
  /* The headers every answer carries, and no cache for the API. */
  assert_true(header(a, "X-Content-Type-Options", v, sizeof v));
  assert_string_equal(v, "nosniff");
  assert_true(header(a, "X-Frame-Options", v, sizeof v));
  assert_string_equal(v, "DENY");
  assert_true(header(a, "Referrer-Policy", v, sizeof v));
  assert_string_equal(v, "no-referrer");
  assert_true(header(a, "Cache-Control", v, sizeof v));
  assert_string_equal(v, "no-store");
  /* Errors too, the transport's among them. */
  a = with_token(NULL, "GET", "/v1/nowhere", NULL);
  expect(a, 404, "not_found");
  assert_true(header(a, "X-Frame-Options", v, sizeof v));
  assert_true(header(a, "Cache-Control", v, sizeof v));
  s = sign_in("li.wei", "192.0.2.1");
  assert_int_equal(strlen(s.csrf), 43);
}

static void test_secure_only_through_a_trusted_proxy_over_tls(void **state) {
  request r = {0};
  char v[300];
  answer *a;
  (void)state;
  r.body = "{\"name\":\"li.wei\",\"password\":\"li.wei-pw-2026\"}";
  r.forwarded_proto = "https";
  r.forwarded_for = "192.0.2.2";
  a = send_request("POST", "/v1/session", &r);
  expect(a, 200, NULL);
  assert_true(header(a, "Set-Cookie", v, sizeof v));
  assert_non_null(strstr(v, "; Path=/; HttpOnly; SameSite=Strict; Secure"));
  /* The same header from a peer that is no trusted proxy says nothing. */
  r.from = UNTRUSTED;
  a = send_request("POST", "/v1/session", &r);
  expect(a, 200, NULL);
  assert_true(header(a, "Set-Cookie", v, sizeof v));
  assert_null(strstr(v, "Secure"));
  /* Nor does plain HTTP through the proxy. */
  r.from = NULL;
  r.forwarded_proto = "http";
  a = send_request("POST", "/v1/session", &r);
  expect(a, 200, NULL);
  assert_true(header(a, "Set-Cookie", v, sizeof v));
  assert_null(strstr(v, "Secure"));
}

/* The processor time the service has used, in clock ticks, every thread's
 * (/proc/PID/stat's utime and stime): what a request cost it, which a
 * machine busy with other work does not stretch as it stretches the
 * request's wall time. */
static long service_ticks(void) {
  char path[64], buf[1024], *p;
  unsigned long utime = 0, stime = 0;
  FILE *f;
  size_t n;
  snprintf(path, sizeof path, "/proc/%d/stat", (int)srv.pid);
  f = fopen(path, "r");
  assert_non_null(f);
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The command name may hold spaces: the fields start after its ')'. */
  p = strrchr(buf, ')');
  assert_non_null(p);
  assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
                                 "%lu %lu", &utime, &stime), 2);
  return (long)(utime + stime);
}

static void test_wrong_password_and_unknown_user_answer_alike(void **state) {
  answer *a;
  char wrong[1024], unknown[1024];
  long t0, t_wrong, t_unknown;
  (void)state;
  /* The decoy hash an unknown name is checked against is made on first
   * use: made here, so that the request below pays one hash as the
   * wrong password does. */
  expect(sign_in_from("nobody.first", "not-the-password", "192.0.2.4"), 401,
         "unauthorized");
  t0 = service_ticks();
  a = sign_in_from("wang.fang", "not-the-password", "192.0.2.3");
  expect(a, 401, "unauthorized");
  snprintf(wrong, sizeof wrong, "%s", a->body);
  t_wrong = service_ticks() - t0;
  t0 = service_ticks();
  a = sign_in_from("nobody.here", "not-the-password", "192.0.2.3");
  expect(a, 401, "unauthorized");
  snprintf(unknown, sizeof unknown, "%s", a->body);
  t_unknown = service_ticks() - t0;
  assert_string_equal(wrong, unknown);
  assert_string_equal(wrong,
                      "{\"error\":{\"code\":\"unauthorized\",\"message\":"
                      "\"wrong name or password\",\"field\":null}}");
  /* Both ran Argon2id (64 MiB, tens of milliseconds of processor time,
   * several ticks): an unknown name is not answered at once. Counted in
   * the service's processor time, not the request's wall time, which a
   * loaded machine stretches either way (this failed once so). Loose
   * bounds: this detects a skipped hash, it does not measure. */
  assert_true(t_wrong >= 2);
  assert_true(t_unknown >= 2);
  assert_true(t_unknown * 4 > t_wrong);
  assert_true(t_wrong * 4 > t_unknown);
}

static int retry_after(const answer *a) {
  char v[32];
  return header(a, "Retry-After", v, sizeof v) ? atoi(v) : -1;
}

static void test_slow_down_grows_per_user(void **state) {
  answer *a;
  (void)state;
  for (int i = 0; i < 3; i++)
    expect(sign_in_from("slow.user", "wrong-password", "192.0.2.10"), 401,
           "unauthorized");
  a = sign_in_from("slow.user", "wrong-password", "192.0.2.10");
  expect(a, 429, "\"code\":\"slow_down\"");
  assert_int_equal(retry_after(a), 1);
  /* The name is slowed from any address, the right password included. */
  a = sign_in_from("slow.user", "slow.user-pw-2026", "192.0.2.11");
  expect(a, 429, "slow_down");
  usleep(1100000);
  expect(sign_in_from("slow.user", "wrong-password", "192.0.2.10"), 401,
         "unauthorized");
  a = sign_in_from("slow.user", "wrong-password", "192.0.2.10");
  expect(a, 429, "slow_down");
  assert_int_equal(retry_after(a), 2);
  usleep(2100000);
  /* A success forgets the name's failures. */
  sign_in("slow.user", "192.0.2.10");
  expect(sign_in_from("slow.user", "wrong-password", "192.0.2.10"), 401,
         "unauthorized");
  sign_in("slow.user", "192.0.2.10");
  /* Others are not slowed by it. */
  sign_in("li.wei", "192.0.2.12");
}

static void test_slow_down_per_address(void **state) {
  request r = {0};
  char name[64], body[200];
  answer *a;
  (void)state;
  /* One address trying one password on many names. */
  for (int i = 0; i < 20; i++) {
    snprintf(name, sizeof name, "spray.%d", i);
    expect(sign_in_from(name, "Summer2026!", "198.51.100.7"), 401,
           "unauthorized");
  }
  a = sign_in_from("spray.new", "Summer2026!", "198.51.100.7");
  expect(a, 429, "slow_down");
  assert_true(retry_after(a) >= 1);
  /* The right-most hop the proxy did not add is the client: a made-up
   * hop on the left does not make another address. (Asked before any
   * other sign-in is verified: the first wait is one second, and one
   * Argon2id check on a loaded machine can outlast it.) */
  expect(sign_in_from("spray.new2", "Summer2026!", "203.0.113.9, 198.51.100.7"),
         429, "slow_down");
  /* The proxy names another client: that one is not slowed. */
  expect(sign_in_from("spray.new", "Summer2026!", "198.51.100.8"), 401,
         "unauthorized");
  /* From a peer that is no proxy, X-Forwarded-For is not believed: the
   * peer is the client, and it has not failed 20 times. */
  snprintf(body, sizeof body,
           "{\"name\":\"spray.x\",\"password\":\"Summer2026!\"}");
  r.body = body;
  r.forwarded_for = "198.51.100.7";
  r.from = UNTRUSTED;
  expect(send_request("POST", "/v1/session", &r), 401, "unauthorized");
}

static void test_a_session_reads(void **state) {
  session s = sign_in("li.wei", "192.0.2.20");
  answer *a;
  (void)state;
  expect(as(&s, "GET", "/v1/tasks?queue=phone", NULL, 0), 200, "\"tasks\"");
  a = as(&s, "GET", "/v1/me", NULL, 0);
  expect(a, 200,
         "{\"user\":{\"name\":\"li.wei\",\"display_name\":null,\"role\":"
         "\"agent\",\"queues\":["
         "\"phone\"]},\"csrf\":\"");
  assert_non_null(strstr(a->body, s.csrf));
  /* No cookie: 401 unauthorized, not session_expired. */
  expect(with_token(NULL, "GET", "/v1/me", NULL), 401, "\"unauthorized\"");
  /* An agent's session may not reload. */
  expect(as(&s, "POST", "/v1/admin/reload", NULL, 1), 403, "forbidden");
}

static char task_id[32];

static void open_case_with_task(const char *id) {
  char body[300];
  snprintf(body, sizeof body,
           "{\"id\":\"%s\",\"balance\":10,\"due_date\":\"2026-01-01\","
           "\"borrower\":{\"id\":\"B%s\"}}",
           id, id);
  expect(with_token(INGEST, "POST", "/v1/cases", body), 201, NULL);
  for (int tries = 0; tries < 100; tries++) {
    char path[100];
    answer *a;
    const char *p;
    snprintf(path, sizeof path, "/v1/tasks?queue=phone&status=open");
    a = with_token(AGENT, "GET", path, NULL);
    if ((p = strstr(a->body, "\"id\":")) != NULL) {
      sscanf(p + 5, "%31[0-9]", task_id);
      return;
    }
    usleep(50000);
  }
  fail_msg("no task came for case %s", id);
}

static void test_a_session_write_needs_the_csrf_token(void **state) {
  session s = sign_in("li.wei", "192.0.2.21");
  char path[100];
  request r = {0};
  answer *a;
  (void)state;
  open_case_with_task("S1");
  snprintf(path, sizeof path, "/v1/tasks/%s/claim", task_id);
  a = as(&s, "POST", path, "{\"assignee\":\"li.wei\"}", 0);
  expect(a, 403, "\"code\":\"csrf\"");
  expect(a, 403, "\"field\":\"X-CSRF-Token\"");
  r.cookie = s.cookie;
  r.csrf = "W6T_FbembjOOdfFXxTjblhrF6iwOTS6tsDow50IKiZ4"; /* another's */
  r.body = "{\"assignee\":\"li.wei\"}";
  expect(send_request("POST", path, &r), 403, "csrf");
  expect(as(&s, "POST", path, "{\"assignee\":\"li.wei\"}", 1), 200, "claimed");
  /* The engine journals the user whose write it applies. */
  snprintf(path, sizeof path, "/v1/tasks/%s/complete", task_id);
  expect(as(&s, "POST", path, "{\"outcome\":\"no_answer\"}", 1), 200, NULL);
  expect(with_token(ADMIN, "GET", "/v1/cases/S1/journal", NULL), 200,
         "\"user\":\"li.wei\"");
  /* A bearer token needs no CSRF token. */
  expect(with_token(INGEST, "POST", "/v1/cases",
                    "{\"id\":\"S2\",\"balance\":10,\"due_date\":"
                    "\"2026-01-01\",\"borrower\":{\"id\":\"BS2\"}}"),
         201, NULL);
}

static void test_a_foreign_origin_is_refused(void **state) {
  session s = sign_in("li.wei", "192.0.2.22");
  char own[100], path[100];
  request r = {0};
  (void)state;
  snprintf(own, sizeof own, "http://127.0.0.1:%d", srv.port);
  snprintf(path, sizeof path, "/v1/tasks/%s/claim", "999999");
  r.cookie = s.cookie;
  r.csrf = s.csrf;
  r.body = "{\"assignee\":\"li.wei\"}";
  r.origin = "http://evil.example";
  expect(send_request("POST", path, &r), 403, "\"field\":\"Origin\"");
  r.origin = "null";
  expect(send_request("POST", path, &r), 403, "csrf");
  r.origin = own; /* our own page: on to the route (no such task) */
  expect(send_request("POST", path, &r), 404, "not_found");
  /* Sign-in from another site's page, or as a form. */
  memset(&r, 0, sizeof r);
  r.body = "{\"name\":\"li.wei\",\"password\":\"li.wei-pw-2026\"}";
  r.forwarded_for = "192.0.2.22";
  r.origin = "https://evil.example";
  expect(send_request("POST", "/v1/session", &r), 403, "csrf");
  r.origin = own;
  expect(send_request("POST", "/v1/session", &r), 200, "csrf");
  r.origin = NULL;
  r.content_type = "application/x-www-form-urlencoded";
  expect(send_request("POST", "/v1/session", &r), 415,
         "unsupported_media_type");
  r.content_type = "text/plain";
  expect(send_request("POST", "/v1/session", &r), 415, "Content-Type");
}

static void test_sign_out_ends_the_session(void **state) {
  session s = sign_in("li.wei", "192.0.2.23");
  char v[300];
  answer *a;
  (void)state;
  expect(as(&s, "GET", "/v1/me", NULL, 0), 200, NULL);
  /* Signing out with a live session is a write: CSRF applies. */
  expect(as(&s, "DELETE", "/v1/session", NULL, 0), 403, "csrf");
  a = as(&s, "DELETE", "/v1/session", NULL, 1);
  assert_int_equal(a->status, 204);
  assert_int_equal(a->len, 0);
  assert_true(header(a, "Set-Cookie", v, sizeof v));
  assert_string_equal(v,
                      "recoup_session=; Path=/; HttpOnly; SameSite=Strict; "
                      "Max-Age=0");
  expect(as(&s, "GET", "/v1/me", NULL, 0), 401, "\"session_expired\"");
  expect(as(&s, "GET", "/v1/tasks", NULL, 0), 401, "\"session_expired\"");
  /* Signing out again only clears the cookie. */
  expect(as(&s, "DELETE", "/v1/session", NULL, 0), 204, NULL);
}

static void test_signing_in_again_ends_the_cookies_old_session(void **state) {
  session s = sign_in("li.wei", "192.0.2.32"), t;
  request r = {0};
  answer *a;
  (void)state;
  r.cookie = s.cookie;
  r.forwarded_for = "192.0.2.32";
  r.body = "{\"name\":\"wang.fang\",\"password\":\"wang.fang-pw-2026\"}";
  a = send_request("POST", "/v1/session", &r);
  expect(a, 200, "wang.fang");
  memset(&t, 0, sizeof t);
  assert_true(header(a, "Set-Cookie", t.set_cookie, sizeof t.set_cookie));
  sscanf(t.set_cookie, "%99[^;]", t.cookie);
  expect(as(&s, "GET", "/v1/me", NULL, 0), 401, "session_expired");
  expect(as(&t, "GET", "/v1/me", NULL, 0), 200, "wang.fang");
}

static void test_a_disabled_users_session_is_refused_at_once(void **state) {
  session s = sign_in("victim", "192.0.2.24");
  (void)state;
  expect(as(&s, "GET", "/v1/tasks", NULL, 0), 200, NULL);
  /* Another process writes the same database. */
  {
    const char *disable[] = {"disable", "victim", srv.dir,
                             "--db",    srv.db,   NULL};
    assert_int_equal(run_user(NULL, disable), 0);
  }
  expect(as(&s, "GET", "/v1/tasks", NULL, 0), 401, "\"session_expired\"");
  expect(as(&s, "GET", "/v1/me", NULL, 0), 401, "\"session_expired\"");
  /* Signing in again is a wrong password, in the same words. */
  expect(sign_in_from("victim", "victim-pw-2026", "192.0.2.24"), 401,
         "wrong name or password");
}

static void test_a_new_password_ends_the_users_sessions(void **state) {
  session s = sign_in("timid", "192.0.2.25");
  (void)state;
  expect(as(&s, "GET", "/v1/me", NULL, 0), 200, NULL);
  {
    const char *passwd[] = {"passwd", "timid", srv.dir, "--db", srv.db, NULL};
    assert_int_equal(run_user("timid-pw-2026\n", passwd), 0);
  }
  expect(as(&s, "GET", "/v1/me", NULL, 0), 401, "\"session_expired\"");
}

/* Raw bytes to the service (what curl will not send): its status. */
static int raw_status(const char *data, size_t len) {
  char buf[512] = "";
  int fd = harness_connect(&srv), status = -1;
  ssize_t n;
  assert_int_equal(write(fd, data, len), (ssize_t)len);
  if ((n = read(fd, buf, sizeof buf - 1)) > 0)
    sscanf(buf, "HTTP/1.1 %d", &status);
  close(fd);
  return status;
}

static void test_cookies_that_are_no_token_are_401_never_500(void **state) {
  static char huge[12000];
  static const char *const bad[] = {
      "recoup_session=x",
      "recoup_session=",
      "recoup_session=!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
      "recoup_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      "recoup_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* none */
      "recoup_session=%00%00%00",
      "other=1; recoup_session=\"quoted\"",
      "recoup_session==AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  };
  session s = sign_in("li.wei", "192.0.2.26");
  char two[200], req[16500];
  request r = {0};
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r.cookie = bad[i];
    expect(send_request("GET", "/v1/tasks", &r), 401, NULL);
  }
  /* A token of the right shape that names no session has ended. */
  r.cookie = bad[4];
  expect(send_request("GET", "/v1/tasks", &r), 401, "session_expired");
  memset(huge, 'A', sizeof huge - 1);
  memcpy(huge, "recoup_session=", 15);
  r.cookie = huge;
  expect(send_request("GET", "/v1/tasks", &r), 401, NULL);
  /* Ours beside a planted one: neither is believed. */
  snprintf(two, sizeof two, "%s; recoup_session=%s", s.cookie,
           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
  r.cookie = two;
  expect(send_request("GET", "/v1/tasks", &r), 401, NULL);
  /* Ours among other cookies is. */
  snprintf(two, sizeof two, "theme=dark; %s; lang=en", s.cookie);
  r.cookie = two;
  expect(send_request("GET", "/v1/tasks", &r), 200, NULL);
  /* A NUL or a control byte in the header is refused by the transport
   * (400), and two Cookie headers too: never a 500. */
  {
    int n = snprintf(req, sizeof req,
                     "GET /v1/tasks HTTP/1.1\r\nHost: x\r\nCookie: "
                     "recoup_session=AAAA");
    req[n++] = '\0';
    n += snprintf(req + n, sizeof req - (size_t)n, "AAAA\r\n\r\n");
    assert_int_equal(raw_status(req, (size_t)n), 400);
    n = snprintf(req, sizeof req,
                 "GET /v1/tasks HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n"
                 "Cookie: %s\r\n\r\n",
                 s.cookie, s.cookie);
    assert_int_equal(raw_status(req, (size_t)n), 400);
  }
  /* The service is still there. */
  expect(as(&s, "GET", "/v1/me", NULL, 0), 200, NULL);
}

static void test_a_token_still_works_and_wins(void **state) {
  session s = sign_in("li.wei", "192.0.2.27");
  request r = {0};
  (void)state;
  r.token = AGENT;
  r.cookie = "recoup_session=garbage";
  expect(send_request("GET", "/v1/tasks", &r), 200, NULL);
  /* A wrong token is not rescued by a good cookie. */
  r.token = "not-a-token";
  r.cookie = s.cookie;
  expect(send_request("GET", "/v1/tasks", &r), 401, "unauthorized");
  /* With a token, /v1/me has nobody to name. */
  expect(with_token(AGENT, "GET", "/v1/me", NULL), 403, "forbidden");
}

static void test_reload_by_a_user_is_logged_with_the_name(void **state) {
  char path[700], line[4096];
  session s;
  FILE *f;
  int found = 0;
  (void)state;
  harness_add_user(&srv, "root.admin", "admin", NULL);
  s = sign_in("root.admin", "192.0.2.28");
  expect(as(&s, "POST", "/v1/admin/reload", NULL, 0), 403, "csrf");
  expect(as(&s, "POST", "/v1/admin/reload", NULL, 1), 200, "reloaded");
  snprintf(path, sizeof path, "%s/server.log", srv.dir);
  f = fopen(path, "r");
  assert_non_null(f);
  while (fgets(line, sizeof line, f))
    if (strstr(line, "\"msg\":\"reloaded\"") &&
        strstr(line, "\"by\":\"root.admin\""))
      found = 1;
  fclose(f);
  assert_true(found);
}

static void test_the_database_holds_no_token(void **state) {
  static char bytes[1 << 22];
  sqlite3 *h;
  sqlite3_stmt *st;
  int rows = 0;
  (void)state;
  sign_in("li.wei", "192.0.2.29");
  assert_int_equal(strlen(last_token), 43);
  assert_int_equal(sqlite3_open_v2(srv.db, &h, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(h, "SELECT id, name FROM sessions", -1, &st, NULL),
      SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    assert_int_equal(strlen(id), 64);
    assert_null(strstr(id, last_token));
    rows++;
  }
  sqlite3_finalize(st);
  assert_true(rows > 0);
  /* Sign-ins, sign-outs and failures are in users_log with the address. */
  assert_int_equal(sqlite3_prepare_v2(h,
                                      "SELECT count(*) FROM users_log WHERE "
                                      "name = 'li.wei' AND change = "
                                      "'signed_in' AND address = '192.0.2.29'",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 1);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(h,
                                      "SELECT count(*) FROM users_log WHERE "
                                      "change = 'sign_in_failed' AND address "
                                      "= '198.51.100.7'",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(st, 0), 20);
  sqlite3_finalize(st);
  assert_int_equal(sqlite3_prepare_v2(h,
                                      "SELECT count(*) FROM users_log WHERE "
                                      "change = 'signed_out'",
                                      -1, &st, NULL),
                   SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  assert_true(sqlite3_column_int(st, 0) >= 1);
  sqlite3_finalize(st);
  sqlite3_close(h);
  /* Nor anywhere in its files, the WAL included. */
  {
    static const char *const suffix[] = {"", "-wal"};
    for (int i = 0; i < 2; i++) {
      char path[700];
      FILE *f;
      size_t n;
      snprintf(path, sizeof path, "%s%s", srv.db, suffix[i]);
      if (!(f = fopen(path, "rb"))) continue;
      while ((n = fread(bytes, 1, sizeof bytes, f)) > 0)
        for (size_t at = 0; at + 43 <= n; at++)
          if (memcmp(bytes + at, last_token, 43) == 0)
            fail_msg("the token is in %s at %zu", path, at);
      fclose(f);
    }
  }
}

static void test_sessions_survive_a_restart(void **state) {
  session s = sign_in("li.wei", "192.0.2.30");
  (void)state;
  harness_stop(&srv);
  harness_start(&srv);
  expect(as(&s, "GET", "/v1/me", NULL, 0), 200, "li.wei");
}

static void test_an_idle_session_times_out(void **state) {
  session s;
  (void)state;
  harness_stop(&srv);
  write_institution("2s", "6s");
  harness_start(&srv);
  s = sign_in("li.wei", "192.0.2.31");
  /* Requests a second apart keep it alive past its idle time... */
  for (int i = 0; i < 4; i++) {
    usleep(800000);
    expect(as(&s, "GET", "/v1/me", NULL, 0), 200, NULL);
  }
  /* ...and two idle seconds end it. */
  usleep(2600000);
  expect(as(&s, "GET", "/v1/me", NULL, 0), 401, "session_expired");
  /* The lifetime ends one however busy. */
  s = sign_in("li.wei", "192.0.2.31");
  for (int i = 0; i < 8; i++) {
    usleep(900000);
    if (as(&s, "GET", "/v1/me", NULL, 0)->status == 401) break;
  }
  expect(as(&s, "GET", "/v1/me", NULL, 0), 401, "session_expired");
  harness_stop(&srv);
  write_institution("1h", "12h");
}

static void test_the_institution_is_open(void **state) {
  (void)state;
  harness_start(&srv);
  expect(with_token(NULL, "GET", "/v1/institution", NULL), 200,
         "{\"name\":\"测试贷款\",\"names\":{\"zh-CN\":\"测试贷款\",\"en\":"
         "\"Test Lender\"},\"locale\":\"zh-CN\",\"timezone\":\"Asia/"
         "Shanghai\",\"currency\":\"CNY\",\"country\":\"CN\"}");
  expect(with_token(NULL, "GET", "/v1/institution?locale=en", NULL), 200,
         "{\"name\":\"Test Lender\"");
  expect(with_token(NULL, "GET", "/v1/institution?locale=%3Cx%3E", NULL), 422,
         "\"field\":\"locale\"");
}

static void test_bad_proxy_and_session_settings_are_named(void **state) {
  char bad[600], out[600], cmd[2000], text[4096] = "";
  FILE *f;
  size_t n;
  (void)state;
  snprintf(bad, sizeof bad, "%s/bad.lua", srv.dir);
  f = fopen(bad, "w");
  assert_non_null(f);
  fprintf(f,
          "institution { name = 'X', timezone = 'UTC', currency = 'USD' }\n"
          "service { trusted_proxies = { '127.0.0.1', '10.0.0.1/8', "
          "'proxy.example' },\n"
          "  session_idle = '13h', session_lifetime = '12h' }\n");
  fclose(f);
  snprintf(out, sizeof out, "%s/bad", srv.dir);
  mkdir(out, 0700);
  snprintf(cmd, sizeof cmd,
           "cp %s %s/recoup.lua && %s check %s 2>&1; rm -rf %s %s", bad, out,
           srv.bin, out, out, bad);
  f = popen(cmd, "r");
  assert_non_null(f);
  n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  pclose(f);
  assert_non_null(strstr(text, "service.trusted_proxies[2] '10.0.0.1/8'"));
  assert_non_null(strstr(text, "service.trusted_proxies[3] 'proxy.example'"));
  assert_non_null(strstr(text,
                         "service.session_idle must not be longer than "
                         "service.session_lifetime"));
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_users_are_added_and_the_service_starts),
      cmocka_unit_test(test_sign_in_sets_the_cookie_with_exact_attributes),
      cmocka_unit_test(test_secure_only_through_a_trusted_proxy_over_tls),
      cmocka_unit_test(test_wrong_password_and_unknown_user_answer_alike),
      cmocka_unit_test(test_slow_down_grows_per_user),
      cmocka_unit_test(test_slow_down_per_address),
      cmocka_unit_test(test_a_session_reads),
      cmocka_unit_test(test_a_session_write_needs_the_csrf_token),
      cmocka_unit_test(test_a_foreign_origin_is_refused),
      cmocka_unit_test(test_sign_out_ends_the_session),
      cmocka_unit_test(test_signing_in_again_ends_the_cookies_old_session),
      cmocka_unit_test(test_a_disabled_users_session_is_refused_at_once),
      cmocka_unit_test(test_a_new_password_ends_the_users_sessions),
      cmocka_unit_test(test_cookies_that_are_no_token_are_401_never_500),
      cmocka_unit_test(test_a_token_still_works_and_wins),
      cmocka_unit_test(test_reload_by_a_user_is_logged_with_the_name),
      cmocka_unit_test(test_the_database_holds_no_token),
      cmocka_unit_test(test_sessions_survive_a_restart),
      cmocka_unit_test(test_an_idle_session_times_out),
      cmocka_unit_test(test_the_institution_is_open),
      cmocka_unit_test(test_bad_proxy_and_session_settings_are_named),
  };
  if (argc < 2) {
    fprintf(stderr, "usage: %s RECOUP\n", argv[0]);
    return 2;
  }
  harness_open(&srv, argv[1], "ses");
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
