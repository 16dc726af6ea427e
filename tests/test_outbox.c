/* Delivery: the file, exec and webhook drivers, retries with backoff, and
 * one idempotency key per message whatever the number of attempts. The
 * webhook gateway is a small HTTP listener this test runs on 127.0.0.1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "recoup/outbox.h"
#include "store/fault.h"

static char dir[256], out_file[300], exec_file[300];

/* --- a gateway that fails twice, then takes the message ---------------- */

typedef struct gateway {
  int fd, port, requests, bad_requests;
  char keys[8][96];
  pthread_t thread;
} gateway;

static gateway gw;

static void *serve(void *arg) {
  gateway *g = arg;
  for (;;) {
    char buf[8192], *key, *end;
    ssize_t n, got = 0;
    long length = 0;
    const char *reply;
    int c = accept(g->fd, NULL, NULL);
    if (c < 0) return NULL;
    while ((n = read(c, buf + got, sizeof buf - 1 - (size_t)got)) > 0) {
      got += n;
      buf[got] = '\0';
      if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
        char *cl = strcasestr(buf, "Content-Length:");
        if (cl) length = strtol(cl + 15, NULL, 10);
        if (got >= (end + 4 - buf) + length) break;
      }
    }
    if (strncmp(buf, "POST /hang", 10) == 0) {
      sleep(2); /* longer than the channel's timeout; never answers */
      close(c);
      continue;
    }
    if (strncmp(buf, "POST /garbage", 13) == 0) {
      const char *junk = "this is not HTTP\r\n\r\n";
      if (write(c, junk, strlen(junk)) < 0) {
      }
      close(c);
      continue;
    }
    if (strncmp(buf, "POST /bad", 9) == 0) {
      g->bad_requests++;
      reply =
          "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
          "Connection: close\r\n\r\n";
    } else {
      if ((key = strcasestr(buf, "Idempotency-Key: ")) && g->requests < 8)
        sscanf(key + 17, "%95[^\r\n]", g->keys[g->requests]);
      g->requests++;
      reply = g->requests <= 2 ? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n"
                                 "Connection: close\r\n\r\n"
                               : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                 "Connection: close\r\n\r\nok";
    }
    if (write(c, reply, strlen(reply)) < 0) {
    }
    close(c);
  }
}

static void start_gateway(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(&gw, 0, sizeof gw);
  gw.fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(gw.fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(gw.fd, 16), 0);
  getsockname(gw.fd, (struct sockaddr *)&a, &len);
  gw.port = ntohs(a.sin_port);
  pthread_create(&gw.thread, NULL, serve, &gw);
}

static void stop_gateway(void) {
  shutdown(gw.fd, SHUT_RDWR);
  close(gw.fd);
  pthread_join(gw.thread, NULL);
}

/* --- an institution with one channel of each kind ---------------------- */

static void write_institution_with(const char *junk);
static void write_institution(void) { write_institution_with("hook_junk"); }

/* Lua the next institution written gets too (a policy, a template). */
static const char *more_lua = "";

/* junk: the name of the eighth channel (the most recoup.lua may declare),
 * so that a reload can take a channel away. */
static void write_institution_with(const char *junk) {
  char path[400];
  FILE *f;
  snprintf(dir, sizeof dir, "/tmp/recoup-test-outbox-%d", (int)getpid());
  mkdir(dir, 0700);
  snprintf(out_file, sizeof out_file, "%s/sms.jsonl", dir);
  snprintf(exec_file, sizeof exec_file, "%s/exec.jsonl", dir);
  unlink(out_file);
  unlink(exec_file);
  snprintf(path, sizeof path, "%s/recoup.lua", dir);
  f = fopen(path, "w");
  fprintf(
      f,
      "institution { name = 'T', timezone = 'UTC', currency = 'USD' }\n"
      "channel 'file' { driver = 'file', path = 'sms.jsonl' }\n"
      "channel 'exec_ok' { driver = 'exec', command = { '/bin/sh', '-c', "
      "'cat >> %s' } }\n"
      "channel 'exec_fail' { driver = 'exec', command = { '/bin/sh', "
      "'-c', 'exit 3' }, retries = 1 }\n"
      "channel 'exec_slow' { driver = 'exec', command = { '/bin/sleep', "
      "'10' }, timeout = '1s' }\n"
      "channel 'hook' { driver = 'webhook', url = "
      "'http://127.0.0.1:%d/sms', headers = { ['X-Api'] = 'k' } }\n"
      "channel 'hook_bad' { driver = 'webhook', url = "
      "'http://127.0.0.1:%d/bad' }\n"
      "channel 'hook_hang' { driver = 'webhook', url = "
      "'http://127.0.0.1:%d/hang', timeout = '1s' }\n"
      "channel '%s' { driver = 'webhook', url = "
      "'http://127.0.0.1:%d/garbage' }\n"
      "local text = 'Hi {borrower.name}'\n"
      "templates { t = { file = text, exec_ok = text, exec_fail = text,"
      " exec_slow = text, hook = text, hook_bad = text,"
      " hook_hang = text, %s = text },\n"
      "  notice = { legal_notice = true, file = text, hook = text },\n"
      "  bye = { file = 'Bye {borrower.name}' } }\n"
      "%s\n"
      /* go sends; move (to b) and close (to done, which says bye)
       * send first when given a channel. */
      "local function go(case, ev)\n"
      "  if ev.channel then case:send(ev.channel, ev.template or 't') end\n"
      "end\n"
      "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',\n"
      "  states = {\n"
      "    a = { on = { go = go,\n"
      "      move = function(case, ev) go(case, ev) return 'b' end,\n"
      "      close = function(case, ev) go(case, ev) return 'done' end } },\n"
      "    b = { on = { go = go, back = function() return 'a' end } },\n"
      "    done = { final = true, outcome = 'paid', enter = function(case)\n"
      "      case:send('file', 'bye') end } },\n"
      "  transitions = { a = { 'b', 'done' }, b = { 'done', 'a' } } })\n",
      exec_file, gw.port, gw.port, gw.port, junk, gw.port, junk, more_lua);
  fclose(f);
}

typedef struct fixture {
  engine *eng;
  uv_loop_t loop;
  outbox *ob;
} fixture;

static int setup(void **state) {
  static fixture fx;
  engine_options opts;
  rc_errlist errors = {0};
  rc_error err;
  json_t *c;
  start_gateway();
  write_institution();
  memset(&opts, 0, sizeof opts);
  opts.dir = dir;
  opts.db = ":memory:";
  opts.simulated = 1;
  if (engine_open(&fx.eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    return -1;
  }
  c = json_loads(
      "{\"id\":\"C1\",\"balance\":10,\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"B1\","
      "\"name\":\"Ann\",\"phones\":[\"+15550100\"]}}",
      0, NULL);
  if (engine_upsert_case(fx.eng, c, 0, NULL, &err) != RC_OK) return -1;
  json_decref(c);
  uv_loop_init(&fx.loop);
  if (outbox_open(&fx.ob, fx.eng, &fx.loop, &err) != RC_OK) return -1;
  *state = &fx;
  return 0;
}

/* The guard's contact hours, 08:00 to 21:00, in the borrower's zone
 * (Shanghai, UTC+8) while the institution keeps UTC. */
static int setup_hours(void **state) {
  fixture *fx;
  rc_error err;
  json_t *c;
  more_lua = "policy { contact_hours = { '08:00', '21:00' } }";
  store_fault_install(1);
  if (setup(state) != 0) return -1;
  store_fault_install(0);
  more_lua = "";
  fx = *state;
  c = json_loads("{\"id\":\"C1\",\"balance\":10,\"due_date\":\"2026-01-01\","
                 "\"borrower\":{\"id\":\"B1\",\"name\":\"Ann\","
                 "\"timezone\":\"Asia/Shanghai\",\"phones\":[\"+15550100\"]}}",
                 0, NULL);
  if (engine_upsert_case(fx->eng, c, 0, NULL, &err) != RC_OK) return -1;
  json_decref(c);
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  char path[400];
  outbox_close(fx->ob);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  uv_loop_close(&fx->loop);
  engine_close(fx->eng);
  stop_gateway();
  unlink(out_file);
  unlink(exec_file);
  snprintf(path, sizeof path, "%s/recoup.lua", dir);
  unlink(path);
  rmdir(dir);
  return 0;
}

/* The case sends template_name (NULL: "t") by channel. */
static void send_template(fixture *fx, const char *channel,
                          const char *template_name) {
  json_t *d = json_pack("{s:s, s:s?}", "channel", channel, "template",
                        template_name);
  rc_error err;
  assert_int_equal(engine_post(fx->eng, "C1", "go", d, NULL, NULL, &err), RC_OK);
  json_decref(d);
  assert_int_equal(
      engine_run(fx->eng, clock_now(engine_clock(fx->eng)), NULL, &err), RC_OK);
}

static void send_via(fixture *fx, const char *channel) {
  send_template(fx, channel, NULL);
}

typedef struct last_message {
  char status[16], reason[200];
  int64_t id;
} last_message;

static int grab(void *ud, const store_value *cols, int n) {
  last_message *m = ud;
  for (int i = 0; i < n; i++) {
    if (!strcmp(cols[i].name, "status"))
      snprintf(m->status, sizeof m->status, "%s", cols[i].s);
    if (!strcmp(cols[i].name, "id")) m->id = cols[i].i;
    if (!strcmp(cols[i].name, "reason"))
      snprintf(m->reason, sizeof m->reason, "%s",
               cols[i].type == STORE_TEXT ? cols[i].s : "");
  }
  return 0;
}

static last_message last(fixture *fx) {
  last_message m;
  memset(&m, 0, sizeof m);
  query_messages(engine_query(fx->eng), "C1", grab, &m, NULL);
  return m;
}

static void drain(fixture *fx) {
  rc_error err;
  assert_int_equal(outbox_drain(fx->ob, &err), RC_OK);
}

static void later(fixture *fx, int64_t ms) {
  rc_clock *clk = engine_clock(fx->eng);
  clock_set(clk, clock_now(clk) + ms);
}

static char *slurp(const char *path) {
  static char buf[8192];
  FILE *f = fopen(path, "r");
  size_t n = 0;
  buf[0] = '\0';
  if (f) {
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
  }
  buf[n] = '\0';
  return buf;
}

static void test_file_driver_appends_one_line_per_message(void **state) {
  fixture *fx = *state;
  char *text;
  send_via(fx, "file");
  send_via(fx, "file");
  drain(fx);
  assert_string_equal(last(fx).status, "sent");
  text = slurp(out_file);
  assert_non_null(strstr(text, "\"body\":\"Hi Ann\""));
  assert_non_null(strstr(text, "\"to\":\"+15550100\""));
  assert_non_null(strchr(strchr(text, '\n') + 1, '\n')); /* two lines */
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 2);
}

/* A pump that must be short starts no more than asked; held, the outbox
 * leaves the rest for its caller's next pump instead of pumping again on
 * the loop's next turn (the service, while writes wait for the loop). */
static void test_a_held_outbox_pumps_only_when_asked(void **state) {
  fixture *fx = *state;
  rc_error err;
  for (int i = 0; i < 3; i++) send_via(fx, "file");
  outbox_hold(fx->ob, 1);
  assert_int_equal(outbox_pump_most(fx->ob, 1, &err), 1);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 1);
  outbox_hold(fx->ob, 0);
  assert_int_equal(outbox_pump_most(fx->ob, 1, &err), 1);
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 2);
  uv_run(&fx->loop, UV_RUN_NOWAIT); /* released: it pumps on its own */
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 3);
}

static int lines_of(const char *text) {
  int n = 0;
  for (; *text; text++) n += *text == '\n';
  return n;
}

/* The service's file messages are synced on libuv's thread pool: the pump
 * returns before the fsync, the send is recorded on the loop once the
 * file is synced, and a file message due meanwhile waits behind the
 * batch (lines keep their order). */
static void test_file_messages_are_synced_apart_then_recorded(void **state) {
  fixture *fx = *state;
  rc_error err;
  const char *text, *second;
  send_via(fx, "file");
  send_via(fx, "file");
  outbox_files_apart(fx->ob, 1);
  outbox_hold(fx->ob, 1);
  assert_int_equal(outbox_pump_most(fx->ob, 1, &err), 1);
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 0);
  assert_int_equal(outbox_get_stats(fx->ob)->in_flight, 1);
  assert_int_equal(outbox_files_syncing(fx->ob), 1); /* a stop waits */
  assert_int_equal(outbox_pump_most(fx->ob, 5, &err), 0);
  while (outbox_get_stats(fx->ob)->sent < 1) uv_run(&fx->loop, UV_RUN_ONCE);
  assert_int_equal(outbox_get_stats(fx->ob)->in_flight, 0);
  assert_int_equal(outbox_files_syncing(fx->ob), 0);
  assert_int_equal(lines_of(slurp(out_file)), 1);
  outbox_hold(fx->ob, 0);
  drain(fx);
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 2);
  assert_string_equal(last(fx).status, "sent");
  text = slurp(out_file);
  assert_int_equal(lines_of(text), 2);
  second = strchr(text, '\n') + 1;
  assert_true(strtoll(strstr(text, "\"id\":") + 5, NULL, 10) <
              strtoll(strstr(second, "\"id\":") + 5, NULL, 10));
}

/* Closed while a file batch syncs: the batch frees what it holds, and
 * its send, never recorded, goes again with the same key. */
static void test_an_outbox_closed_while_its_files_sync_sends_again(
    void **state) {
  fixture *fx = *state;
  rc_error err;
  const char *text;
  char key[96];
  send_via(fx, "file");
  outbox_files_apart(fx->ob, 1);
  assert_int_equal(outbox_pump(fx->ob, &err), 1);
  outbox_close(fx->ob);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  assert_string_not_equal(last(fx).status, "sent");
  assert_int_equal(outbox_open(&fx->ob, fx->eng, &fx->loop, &err), RC_OK);
  drain(fx);
  assert_string_equal(last(fx).status, "sent");
  text = slurp(out_file);
  assert_int_equal(lines_of(text), 2);
  sscanf(strstr(text, "\"idempotency_key\":"), "%95[^,]", key);
  assert_non_null(strstr(strchr(text, '\n') + 1, key));
}

/* A file that cannot be written (its path a directory), synced apart:
 * the failure comes back from the thread pool to the loop and is
 * recorded as a retry naming the file, never as sent; once the file can
 * be written, the message goes. */
static void test_a_file_that_cannot_be_written_apart_is_retried(void **state) {
  fixture *fx = *state;
  rc_error err;
  assert_int_equal(mkdir(out_file, 0700), 0);
  send_via(fx, "file");
  outbox_files_apart(fx->ob, 1);
  outbox_hold(fx->ob, 1);
  assert_int_equal(outbox_pump(fx->ob, &err), 1);
  while (outbox_files_syncing(fx->ob)) uv_run(&fx->loop, UV_RUN_ONCE);
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 0);
  assert_int_equal(outbox_get_stats(fx->ob)->retried, 1);
  assert_int_equal(outbox_get_stats(fx->ob)->in_flight, 0);
  assert_string_not_equal(last(fx).status, "sent");
  assert_non_null(strstr(last(fx).reason, "cannot write"));
  assert_int_equal(rmdir(out_file), 0);
  outbox_hold(fx->ob, 0);
  later(fx, 3600 * 1000);
  drain(fx);
  assert_string_equal(last(fx).status, "sent");
  assert_int_equal(lines_of(slurp(out_file)), 1);
}

/* A reload while a file batch syncs apart: the batch's deliveries hold
 * the old scripts' channel (kept by the engine until it closes); their
 * sends are recorded once, and the next message goes by the new one. */
static void test_a_reload_while_files_sync_apart_records_them_once(
    void **state) {
  fixture *fx = *state;
  rc_errlist errors = {0};
  rc_error err;
  int migrated = 0;
  send_via(fx, "file");
  outbox_files_apart(fx->ob, 1);
  outbox_hold(fx->ob, 1);
  assert_int_equal(outbox_pump(fx->ob, &err), 1);
  write_institution_with("ghost");
  assert_int_equal(engine_reload(fx->eng, &errors, &migrated), RC_OK);
  rc_errlist_free(&errors);
  while (outbox_files_syncing(fx->ob)) uv_run(&fx->loop, UV_RUN_ONCE);
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 1);
  assert_string_equal(last(fx).status, "sent");
  outbox_hold(fx->ob, 0);
  send_via(fx, "file");
  drain(fx);
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 2);
  assert_string_equal(last(fx).status, "sent");
  assert_int_equal(lines_of(slurp(out_file)), 1);
}

static void test_exec_driver_pipes_the_message(void **state) {
  fixture *fx = *state;
  send_via(fx, "exec_ok");
  drain(fx);
  assert_string_equal(last(fx).status, "sent");
  assert_non_null(strstr(slurp(exec_file), "\"channel\":\"exec_ok\""));
}

static void test_exec_failure_retries_then_fails(void **state) {
  fixture *fx = *state;
  send_via(fx, "exec_fail");
  drain(fx);
  assert_string_equal(last(fx).status, "queued");
  assert_string_equal(last(fx).reason, "exit status 3");
  drain(fx); /* not due yet: nothing happens */
  assert_int_equal(outbox_get_stats(fx->ob)->retried, 1);
  later(fx, outbox_backoff_ms(1));
  drain(fx);
  assert_string_equal(last(fx).status, "failed");
}

static void test_exec_timeout_kills_the_command(void **state) {
  fixture *fx = *state;
  send_via(fx, "exec_slow");
  drain(fx);
  assert_string_equal(last(fx).status, "queued");
  assert_non_null(strstr(last(fx).reason, "timed out"));
}

static void test_webhook_retries_with_one_key(void **state) {
  fixture *fx = *state;
  send_via(fx, "hook");
  drain(fx);
  assert_string_equal(last(fx).status, "queued");
  assert_string_equal(last(fx).reason, "HTTP 500");
  later(fx, outbox_backoff_ms(1));
  drain(fx);
  assert_string_equal(last(fx).status, "queued");
  later(fx, outbox_backoff_ms(2));
  drain(fx);
  assert_string_equal(last(fx).status, "sent");
  assert_int_equal(gw.requests, 3);
  assert_true(gw.keys[0][0] != '\0');
  assert_string_equal(gw.keys[0], gw.keys[1]);
  assert_string_equal(gw.keys[1], gw.keys[2]);
}

static void test_webhook_refusal_fails_at_once_and_tells_the_case(
    void **state) {
  fixture *fx = *state;
  int64_t pending = 0;
  send_via(fx, "hook_bad");
  drain(fx);
  assert_string_equal(last(fx).status, "failed");
  assert_string_equal(last(fx).reason, "HTTP 400");
  assert_int_equal(gw.bad_requests, 1);
  query_events_pending(engine_query(fx->eng), &pending, NULL);
  assert_int_equal(pending, 1); /* message_failed, for the workflow */
}

static void test_a_hanging_gateway_times_out_and_is_retried(void **state) {
  fixture *fx = *state;
  uint64_t start = uv_hrtime();
  send_via(fx, "hook_hang");
  drain(fx);
  assert_string_equal(last(fx).status, "queued");
  assert_true(uv_hrtime() - start < 1900000000ull); /* the timeout, not 2 s */
  assert_int_equal(outbox_get_stats(fx->ob)->retried, 1);
}

static void test_a_garbage_answer_is_retried(void **state) {
  fixture *fx = *state;
  send_via(fx, "hook_junk");
  drain(fx);
  assert_string_equal(last(fx).status, "queued");
  assert_true(last(fx).reason[0] != '\0');
}

/* case:send refuses a channel recoup.lua does not declare, so only a
 * message queued before a reload took its channel away meets this. */
static void at(fixture *fx, const char *utc) {
  rc_time t;
  assert_int_equal(clock_parse_time(engine_clock(fx->eng), utc, &t, NULL),
                   RC_OK);
  clock_set(engine_clock(fx->eng), t);
}

static void post_now(fixture *fx, const char *type) {
  rc_error err;
  assert_int_equal(engine_post(fx->eng, "C1", type, NULL, NULL, NULL, &err),
                   RC_OK);
  assert_int_equal(
      engine_run(fx->eng, clock_now(engine_clock(fx->eng)), NULL, &err), RC_OK);
}

/* The journal's policy rows written by the outbox, as "verdict reason
 * until;" one after the other. */
static int outbox_policy(void *ud, const store_value *cols, int n) {
  char *seen = ud;
  for (int i = 0; i < n; i++)
    if (!strcmp(cols[i].name, "detail") && cols[i].type == STORE_TEXT &&
        strstr(cols[i].s, "\"what\":\"outbox\"")) {
      json_t *d = json_loads(cols[i].s, 0, NULL);
      size_t len = strlen(seen);
      snprintf(seen + len, 512 - len, "%s %s %s;",
               json_string_value(json_object_get(d, "verdict")),
               json_string_value(json_object_get(d, "reason")),
               json_object_get(d, "until")
                   ? json_string_value(json_object_get(d, "until"))
                   : "-");
      json_decref(d);
    }
  return 0;
}

static const char *outbox_journal(fixture *fx) {
  static char seen[512];
  seen[0] = '\0';
  query_journal(engine_query(fx->eng), "C1", 0, outbox_policy, seen, NULL);
  return seen;
}

/* Queued at 20:59:50 the borrower's time, its first attempt fails; the
 * retry falls due after 21:00 and waits for 08:00 without being counted
 * as an attempt, then goes on as the retries it had left. */
static void test_a_retry_after_hours_waits_for_the_window(void **state) {
  fixture *fx = *state;
  at(fx, "2026-01-05T12:59:50");
  send_via(fx, "hook");
  drain(fx);
  assert_string_equal(last(fx).status, "queued");
  assert_string_equal(last(fx).reason, "HTTP 500");
  assert_int_equal(gw.requests, 1);
  later(fx, outbox_backoff_ms(1)); /* 21:00:20 in Shanghai */
  drain(fx);
  assert_int_equal(gw.requests, 1);
  assert_string_equal(last(fx).status, "queued");
  assert_string_equal(last(fx).reason, "contact_hours");
  assert_string_equal(outbox_journal(fx),
                      "deferred contact_hours 2026-01-06T00:00:00+00:00;");
  at(fx, "2026-01-05T23:59:59"); /* 07:59:59: not yet */
  drain(fx);
  assert_int_equal(gw.requests, 1);
  at(fx, "2026-01-06T00:00:00");
  drain(fx); /* the second attempt, failing as the gateway's second */
  assert_int_equal(gw.requests, 2);
  later(fx, outbox_backoff_ms(2));
  drain(fx);
  assert_string_equal(last(fx).status, "sent");
  assert_int_equal(gw.requests, 3);
  assert_string_equal(gw.keys[0], gw.keys[2]);
  assert_int_equal(outbox_get_stats(fx->ob)->retried, 2);
}

/* Queued in the window, it reaches the outbox after it closed (a stopped
 * service, a long backlog): it waits for the next window. */
static void test_a_message_reached_after_hours_waits(void **state) {
  fixture *fx = *state;
  at(fx, "2026-01-05T12:00:00"); /* 20:00 in Shanghai */
  send_via(fx, "file");
  at(fx, "2026-01-05T15:30:00"); /* 23:30 */
  drain(fx);
  assert_string_equal(last(fx).status, "queued");
  assert_int_equal(lines_of(slurp(out_file)), 0);
  assert_int_equal(outbox_get_stats(fx->ob)->held, 1);
  at(fx, "2026-01-06T00:00:00");
  drain(fx);
  assert_string_equal(last(fx).status, "sent");
  assert_int_equal(lines_of(slurp(out_file)), 1);
}

/* A cease recorded between the queueing and the sending blocks what is
 * queued, but for a legal notice, which passes a cease when queued too. */
static void test_a_cease_since_queueing_blocks_but_a_legal_notice(
    void **state) {
  fixture *fx = *state;
  at(fx, "2026-01-05T02:00:00"); /* 10:00 in Shanghai */
  send_template(fx, "file", "t");
  send_template(fx, "file", "notice");
  post_now(fx, "cease");
  drain(fx);
  assert_int_equal(lines_of(slurp(out_file)), 1);
  assert_non_null(strstr(slurp(out_file), "\"template\":\"notice\""));
  assert_string_equal(outbox_journal(fx), "blocked ceased -;");
  assert_int_equal(outbox_get_stats(fx->ob)->sent, 1);
}

/* A dispute opened since blocks it too. */
static void test_a_dispute_since_queueing_blocks(void **state) {
  fixture *fx = *state;
  at(fx, "2026-01-05T02:00:00");
  send_via(fx, "hook");
  post_now(fx, "dispute");
  drain(fx);
  assert_int_equal(gw.requests, 0);
  assert_string_equal(last(fx).status, "blocked");
  assert_string_equal(last(fx).reason, "dispute_hold");
}

/* A guard that cannot read holds the message: its read is the outbox's
 * (store_outbox_due), whose failure is the pump's error; not sent, not
 * failed, and sent once the store answers again. */
static void test_a_guard_that_cannot_read_holds_the_message(void **state) {
  fixture *fx = *state;
  rc_error err;
  at(fx, "2026-01-05T02:00:00");
  send_via(fx, "file");
  store_fault_arm("outbox_claim", 0, 1);
  assert_int_not_equal(outbox_drain(fx->ob, &err), RC_OK);
  assert_true(store_fault_disarm() >= 1);
  assert_string_equal(last(fx).status, "queued");
  assert_int_equal(lines_of(slurp(out_file)), 0);
  drain(fx);
  assert_string_equal(last(fx).status, "sent");
  assert_int_equal(lines_of(slurp(out_file)), 1);
}

/* Every message of C1 in id order, as "template status reason;". */
static int each_message(void *ud, const store_value *cols, int n) {
  char *seen = ud, row[3][64] = {"", "", "-"};
  size_t len = strlen(seen);
  for (int i = 0; i < n; i++) {
    int k = !strcmp(cols[i].name, "template") ? 0
            : !strcmp(cols[i].name, "status") ? 1
            : !strcmp(cols[i].name, "reason") ? 2
                                              : -1;
    if (k >= 0 && cols[i].type == STORE_TEXT)
      snprintf(row[k], sizeof row[k], "%s", cols[i].s);
  }
  snprintf(seen + len, 512 - len, "%s %s %s;", row[0], row[1], row[2]);
  return 0;
}

static const char *messages_of(fixture *fx) {
  static char seen[512];
  seen[0] = '\0';
  query_messages(engine_query(fx->eng), "C1", each_message, seen, NULL);
  return seen;
}

/* The step posted, given a channel to send by first (NULL: none). */
static void post_sending(fixture *fx, const char *type, const char *channel,
                         const char *template_name) {
  json_t *d =
      json_pack("{s:s?, s:s?}", "channel", channel, "template", template_name);
  rc_error err;
  assert_int_equal(engine_post(fx->eng, "C1", type, d, NULL, NULL, &err),
                   RC_OK);
  json_decref(d);
  assert_int_equal(
      engine_run(fx->eng, clock_now(engine_clock(fx->eng)), NULL, &err), RC_OK);
}

/* 08:00 the next morning in Shanghai: what is due runs, then the outbox. */
static void morning(fixture *fx) {
  rc_error err;
  at(fx, "2026-01-06T00:00:00");
  assert_int_equal(
      engine_run(fx->eng, clock_now(engine_clock(fx->eng)), NULL, &err), RC_OK);
  drain(fx);
}

/* Queued while open, its case closed by a later step before the outbox
 * came to it (a gateway down, a held outbox): cancelled, journaled. The
 * closing step's own messages go: one it wrote before returning the
 * final state, and the final state's thanks. */
static void test_a_case_closed_since_queueing_cancels_not_its_closing_step(
    void **state) {
  fixture *fx = *state;
  send_via(fx, "file");
  post_sending(fx, "close", "file", "notice");
  drain(fx);
  assert_string_equal(messages_of(fx),
                      "t cancelled case_closed;"
                      "notice sent -;bye sent -;");
  assert_string_equal(outbox_journal(fx), "cancelled case_closed -;");
  assert_int_equal(lines_of(slurp(out_file)), 2);
  assert_int_equal(outbox_get_stats(fx->ob)->held, 1);
}

/* Moved on to another state by a later step: cancelled too; what the
 * move's own step and the new state's steps write goes. */
static void test_a_case_moved_on_since_queueing_cancels(void **state) {
  fixture *fx = *state;
  send_via(fx, "file");
  post_sending(fx, "move", "file", NULL);
  post_sending(fx, "go", "file", NULL);
  drain(fx);
  assert_string_equal(messages_of(fx),
                      "t cancelled case_moved_on;"
                      "t sent -;t sent -;");
  assert_string_equal(outbox_journal(fx), "cancelled case_moved_on -;");
}

/* More messages whose case moved on than a pump reads (256) before the
 * ones that go: one drain cancels them all and sends the rest. On
 * 0a67ea0 the drain stopped after the first 256, all held, and sent
 * nothing: `tick --deliver` after a rehearsal sent none of the day's
 * letters, each run cancelling 256 more. */
static int count_status(void *ud, const store_value *cols, int n) {
  int *seen = ud; /* cancelled, sent */
  for (int i = 0; i < n; i++)
    if (!strcmp(cols[i].name, "status") && cols[i].type == STORE_TEXT) {
      if (!strcmp(cols[i].s, "cancelled")) seen[0]++;
      if (!strcmp(cols[i].s, "sent")) seen[1]++;
    }
  return 0;
}

static void test_a_drain_goes_past_a_whole_batch_held(void **state) {
  fixture *fx = *state;
  int seen[2] = {0, 0};
  for (int i = 0; i < 300; i++) send_via(fx, "file");
  post_sending(fx, "move", "file", NULL);
  post_sending(fx, "go", "file", NULL);
  drain(fx);
  assert_int_equal(lines_of(slurp(out_file)), 2);
  assert_int_equal(query_messages(engine_query(fx->eng), "C1", count_status,
                                  seen, NULL),
                   RC_OK);
  assert_int_equal(seen[0], 300);
  assert_int_equal(seen[1], 2);
  assert_int_equal(outbox_get_stats(fx->ob)->held, 300);
}

/* The service holds its outbox while requests write and asks for pumps
 * itself: a pump of its that held a whole batch must not leave the loop
 * turning to pump again (the idle handle ran on while held, every turn,
 * for as long as the writes went on). */
static void test_a_held_outbox_that_held_a_batch_stops_pumping(void **state) {
  fixture *fx = *state;
  rc_error err;
  int seen[2] = {0, 0};
  for (int i = 0; i < 300; i++) send_via(fx, "file");
  post_sending(fx, "move", "file", NULL);
  outbox_hold(fx->ob, 1);
  assert_int_equal(outbox_pump_most(fx->ob, 256, &err), 0);
  uv_run(&fx->loop, UV_RUN_NOWAIT);
  assert_false(uv_loop_alive(&fx->loop));
  outbox_hold(fx->ob, 0);
  drain(fx);
  assert_int_equal(query_messages(engine_query(fx->eng), "C1", count_status,
                                  seen, NULL),
                   RC_OK);
  assert_int_equal(seen[0], 300);
  assert_int_equal(seen[1], 1);
}

/* Queued in a, its case moved to b and back to a by later steps before
 * the outbox came to it: cancelled, though its case is in the state that
 * wrote it; what a step writes after the return goes. On f834129 it went
 * (its case was in its state again): the borrower got the reminder of a
 * visit to the state that was over. */
static void test_a_case_that_left_and_came_back_since_queueing_cancels(
    void **state) {
  fixture *fx = *state;
  send_via(fx, "file");
  post_now(fx, "move");
  post_now(fx, "back");
  send_via(fx, "file");
  drain(fx);
  assert_string_equal(messages_of(fx), "t cancelled case_moved_on;t sent -;");
  assert_string_equal(outbox_journal(fx), "cancelled case_moved_on -;");
  assert_int_equal(lines_of(slurp(out_file)), 1);
}

/* A legal notice queued before the case closed goes no more than a
 * reminder: DESIGN lets it pass the borrower's blocks (cease), not the
 * end of the debt it is about. */
static void test_a_legal_notice_of_a_case_closed_since_is_cancelled(
    void **state) {
  fixture *fx = *state;
  send_template(fx, "file", "notice");
  post_sending(fx, "close", NULL, NULL);
  drain(fx);
  assert_string_equal(messages_of(fx),
                      "notice cancelled case_closed;bye sent -;");
}

/* Closed at 22:00 the borrower's time, the final state's thanks waits for
 * 08:00 and goes then: the step that wrote it closed the case, which has
 * not moved on from it. On f8566a3 it was cancelled at its release
 * (case_moved_on): a borrower who paid in full at night was never
 * thanked (the examples' auto_loan thanks so). */
static void test_a_closing_steps_thanks_deferred_to_the_morning_goes(
    void **state) {
  fixture *fx = *state;
  at(fx, "2026-01-05T14:00:00"); /* 22:00 in Shanghai */
  post_sending(fx, "close", NULL, NULL);
  assert_string_equal(messages_of(fx), "bye deferred contact_hours;");
  morning(fx);
  assert_string_equal(messages_of(fx), "bye sent -;");
  assert_int_equal(lines_of(slurp(out_file)), 1);
}

/* Paid in full at 22:00 the borrower's time: the payment's step thanks,
 * then returns the final state. Its thanks waits for 08:00 and goes, as
 * the final state's own does; a reminder written two steps before the
 * close was cancelled with it. On d8b7683 the close cancelled every
 * deferred message of the case, the closing step's too (case_closed),
 * and the borrower who paid at night was thanked only by the final
 * state's enter, never by the handler that saw the payment. */
static void test_a_closing_steps_message_written_before_the_close_goes(
    void **state) {
  fixture *fx = *state;
  at(fx, "2026-01-05T14:00:00"); /* 22:00 in Shanghai */
  send_via(fx, "file");
  post_now(fx, "go"); /* a step that writes nothing */
  post_sending(fx, "close", "file", NULL);
  assert_string_equal(messages_of(fx),
                      "t cancelled case_closed;t deferred contact_hours;"
                      "bye deferred contact_hours;");
  morning(fx);
  assert_string_equal(messages_of(fx),
                      "t cancelled case_closed;t sent -;bye sent -;");
  assert_int_equal(lines_of(slurp(out_file)), 2);
}

/* At 22:00 a step sends, then moves the case on (a reminder, then
 * "reminded"): its message waits for 08:00 and goes, by the rule the
 * outbox sends by; an earlier step's message, left behind by that move,
 * is cancelled at its release. On d8b7683 the release compared the
 * writing state alone and cancelled both (case_moved_on), where the same
 * message queued by day went. */
static void test_a_step_that_sends_then_moves_at_night_sends_in_the_morning(
    void **state) {
  fixture *fx = *state;
  at(fx, "2026-01-05T14:00:00"); /* 22:00 in Shanghai */
  send_via(fx, "file");
  post_sending(fx, "move", "file", NULL);
  assert_string_equal(messages_of(fx),
                      "t deferred contact_hours;"
                      "t deferred contact_hours;");
  morning(fx);
  assert_string_equal(messages_of(fx), "t cancelled case_moved_on;t sent -;");
  assert_int_equal(lines_of(slurp(out_file)), 1);
}

/* Deferred at 22:00 by a step that did not move its case, the case
 * moved on and came back to the state before 08:00 (a payment, then its
 * bounce): cancelled at its release. One written after the return, then
 * a step that stays, goes. On f834129 both went at 08:00. */
static void test_a_deferred_message_whose_case_left_and_came_back_is_cancelled(
    void **state) {
  fixture *fx = *state;
  at(fx, "2026-01-05T14:00:00"); /* 22:00 in Shanghai */
  send_via(fx, "file");
  post_now(fx, "move");
  post_now(fx, "back");
  send_via(fx, "file");
  post_now(fx, "go"); /* a step that writes nothing and stays */
  assert_string_equal(messages_of(fx),
                      "t deferred contact_hours;"
                      "t deferred contact_hours;");
  morning(fx);
  assert_string_equal(messages_of(fx), "t cancelled case_moved_on;t sent -;");
  assert_int_equal(lines_of(slurp(out_file)), 1);
}

/* A check that cannot be recorded holds the message and says why: the
 * pump's error (the service logs it), not a message silently left. */
static void test_a_check_that_cannot_be_recorded_is_said(void **state) {
  fixture *fx = *state;
  rc_error err;
  at(fx, "2026-01-05T02:00:00");
  send_via(fx, "file");
  post_now(fx, "cease");
  store_fault_arm("message_update", 0, 1);
  assert_int_not_equal(outbox_drain(fx->ob, &err), RC_OK);
  assert_true(store_fault_disarm() >= 1);
  assert_true(err.message[0] != '\0');
  assert_string_equal(last(fx).status, "queued");
  assert_string_equal(outbox_journal(fx), "");
  drain(fx);
  assert_string_equal(last(fx).status, "blocked");
  assert_string_equal(outbox_journal(fx), "blocked ceased -;");
  assert_int_equal(lines_of(slurp(out_file)), 0);
}

static void test_unknown_channel_fails(void **state) {
  fixture *fx = *state;
  rc_errlist errors = {0};
  int migrated = 0;
  write_institution_with("ghost");
  assert_int_equal(engine_reload(fx->eng, &errors, &migrated), RC_OK);
  send_via(fx, "ghost");
  write_institution();
  assert_int_equal(engine_reload(fx->eng, &errors, &migrated), RC_OK);
  rc_errlist_free(&errors);
  drain(fx);
  assert_string_equal(last(fx).status, "failed");
  assert_non_null(strstr(last(fx).reason, "no channel"));
}

static void test_backoff_doubles_to_an_hour(void **state) {
  (void)state;
  assert_int_equal(outbox_backoff_ms(1), 30000);
  assert_int_equal(outbox_backoff_ms(2), 60000);
  assert_int_equal(outbox_backoff_ms(3), 120000);
  assert_int_equal(outbox_backoff_ms(20), 3600000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_file_driver_appends_one_line_per_message, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_held_outbox_pumps_only_when_asked,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_file_messages_are_synced_apart_then_recorded, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_an_outbox_closed_while_its_files_sync_sends_again, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_file_that_cannot_be_written_apart_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_reload_while_files_sync_apart_records_them_once, setup,
          teardown),
      cmocka_unit_test_setup_teardown(test_exec_driver_pipes_the_message, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_exec_failure_retries_then_fails,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_exec_timeout_kills_the_command,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_webhook_retries_with_one_key, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_webhook_refusal_fails_at_once_and_tells_the_case, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_hanging_gateway_times_out_and_is_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_garbage_answer_is_retried, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_a_case_closed_since_queueing_cancels_not_its_closing_step, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_case_moved_on_since_queueing_cancels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_drain_goes_past_a_whole_batch_held,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_held_outbox_that_held_a_batch_stops_pumping, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_case_that_left_and_came_back_since_queueing_cancels, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_deferred_message_whose_case_left_and_came_back_is_cancelled,
          setup_hours, teardown),

      cmocka_unit_test_setup_teardown(
          test_a_legal_notice_of_a_case_closed_since_is_cancelled, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_check_that_cannot_be_recorded_is_said, setup_hours, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_closing_steps_thanks_deferred_to_the_morning_goes, setup_hours,
          teardown),
      cmocka_unit_test_setup_teardown(test_unknown_channel_fails, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_a_retry_after_hours_waits_for_the_window, setup_hours, teardown),
      cmocka_unit_test_setup_teardown(test_a_message_reached_after_hours_waits,
                                      setup_hours, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cease_since_queueing_blocks_but_a_legal_notice, setup_hours,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_closing_steps_message_written_before_the_close_goes,
          setup_hours, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_step_that_sends_then_moves_at_night_sends_in_the_morning,
          setup_hours, teardown),
      cmocka_unit_test_setup_teardown(test_a_dispute_since_queueing_blocks,
                                      setup_hours, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_guard_that_cannot_read_holds_the_message, setup_hours,
          teardown),
      cmocka_unit_test(test_backoff_doubles_to_an_hour),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
