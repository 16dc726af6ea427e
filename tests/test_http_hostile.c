/* The real `recoup serve` against hostile HTTP clients, over raw sockets:
 * megabytes of pipelined requests, a thousand idle connections, slow
 * header senders, header syntax a proxy may read differently, duplicate
 * Authorization, Expect: 100-continue, URL escapes that do not decode,
 * and contact points in the logs.
 *
 * usage: test_http_hostile RECOUP */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
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
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

static harness srv;

#define INGEST HARNESS_INGEST
#define READ HARNESS_READ

static void write_institution(void) {
  harness_write(&srv, "recoup.lua",
                "institution { name = 'Hostile', timezone = 'UTC', currency = "
                "'USD' }\n"
                "channel 'sms' { driver = 'file', path = 'sms.jsonl' }\n"
                "service { body_limit = '64KB', header_timeout = '2s', "
                "request_timeout = '5s', idle_timeout = '10s' }\n"
                "tokens { ingest = 'env:T_INGEST', read = 'env:T_READ' }\n"
                "templates { hello = { sms = 'Hello {borrower.name}' } }\n"
                "workflow(require 'workflows.w')\n");
  harness_mkdir(&srv, "workflows");
  harness_write(&srv, "workflows/w.lua",
                "return recoup.workflow { name = 'w', version = 1, initial = "
                "'new',\n"
                "  states = { new = {}, paid = { final = true } },\n"
                "  transitions = { new = { 'paid' } } }\n");
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int raw_connect(void) {
  return harness_connect(&srv);
}

static void send_all(int fd, const char *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    assert_true(n > 0);
    data += n;
    len -= (size_t)n;
  }
}

/* Reads until the peer closes, `want` whole answers have come (answers
 * with Content-Length), or `seconds` pass. */
static size_t read_answers(int fd, char *buf, size_t size, int want,
                           double seconds) {
  size_t got = 0;
  double end = now_s() + seconds;
  buf[0] = '\0';
  while (got + 1 < size && now_s() < end) {
    struct pollfd p = {fd, POLLIN, 0};
    ssize_t n;
    int done = 0;
    if (poll(&p, 1, 50) <= 0) continue;
    n = read(fd, buf + got, size - 1 - got);
    if (n <= 0) break;
    got += (size_t)n;
    buf[got] = '\0';
    if (want) {
      /* count answers whose bodies have fully arrived */
      const char *q = buf;
      int seen = 0;
      while ((q = strstr(q, "HTTP/1.1 ")) != NULL) {
        const char *head_end = strstr(q, "\r\n\r\n"), *cl;
        size_t len = 0;
        if (!head_end) break;
        cl = strstr(q, "Content-Length: ");
        if (cl && cl < head_end) len = strtoul(cl + 16, NULL, 10);
        if ((size_t)(head_end + 4 - buf) + len > got) break;
        seen++;
        q = head_end + 4 + len;
      }
      done = seen >= want;
    }
    if (done) break;
  }
  return got;
}

/* One request on a new connection; the first answer into buf. */
static const char *exchange(const char *request, char *buf, size_t size) {
  int fd = raw_connect();
  send_all(fd, request, strlen(request));
  read_answers(fd, buf, size, 1, 5);
  close(fd);
  return buf;
}

static void expect_answer(const char *request, const char *status,
                          const char *has) {
  char buf[8192];
  exchange(request, buf, sizeof buf);
  if (strncmp(buf, status, strlen(status)) != 0 ||
      !strstr(buf, "{\"error\":{") || (has && !strstr(buf, has)))
    fail_msg("request:\n%s\ngot:\n%s\nwanted %s with %s", request, buf, status,
             has ? has : "an error object");
}

static int group_setup(void **state) {
  struct rlimit rl;
  (void)state;
  /* room for 1,100 client sockets here, and as many in the server */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
    rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  write_institution();
  harness_start(&srv);
  return 0;
}

/* The server stops cleanly after all that: exit 0, which under the
 * sanitizers also means no leak and no handle left open. When it does
 * not, its directory stays to be read. */
static int group_teardown(void **state) {
  int status = harness_stop(&srv);
  (void)state;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "the server did not stop cleanly (status %d); see %s\n",
            status, srv.dir);
    return -1;
  }
  harness_close(&srv);
  return 0;
}

/* --- 9: pipelining ------------------------------------------------------ */

static void test_megabytes_of_pipelined_requests_are_all_answered(
    void **state) {
  enum { N = 2300 };
  char pad[1001], *requests, *answers;
  size_t rlen = 0, sent = 0, got = 0, cap = 16u << 20, asize = 8u << 20;
  int fd = raw_connect(), answered = 0;
  double end = now_s() + 20;
  (void)state;
  memset(pad, 'p', 1000);
  pad[1000] = '\0';
  requests = malloc(cap);
  answers = malloc(asize);
  for (int i = 0; i < N; i++) {
    if (i % 100 == 50) {
      /* now and then a body to read: bad JSON, answered 400 */
      static char body[32768];
      memset(body, '[', sizeof body);
      rlen += (size_t)snprintf(requests + rlen, cap - rlen,
                               "POST /v1/payments HTTP/1.1\r\nHost: "
                               "x\r\nAuthorization: Bearer " INGEST
                               "\r\nContent-Length: %zu\r\n\r\n",
                               sizeof body);
      memcpy(requests + rlen, body, sizeof body);
      rlen += sizeof body;
    }
    rlen += (size_t)snprintf(requests + rlen, cap - rlen,
                             "GET /v1/cases/P%d HTTP/1.1\r\nHost: x\r\n"
                             "Authorization: Bearer " READ
                             "\r\n"
                             "X-Pad: %s\r\n\r\n",
                             i, pad);
  }
  assert_true(rlen > (2u << 20));
  fcntl(fd, F_SETFL, O_NONBLOCK);
  /* write and read at once, as a pipelining client must */
  while (now_s() < end) {
    struct pollfd p = {fd, POLLIN | (sent < rlen ? POLLOUT : 0), 0};
    const char *q;
    if (poll(&p, 1, 100) <= 0) continue;
    if ((p.revents & POLLOUT) && sent < rlen) {
      ssize_t n = write(fd, requests + sent, rlen - sent);
      if (n > 0) sent += (size_t)n;
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = read(fd, answers + got, asize - 1 - got);
      if (n <= 0 && errno != EAGAIN) break;
      if (n > 0) got += (size_t)n;
      answers[got] = '\0';
    }
    answered = 0;
    for (q = answers; (q = strstr(q, "HTTP/1.1 ")) != NULL; q++) answered++;
    if (answered >= N + N / 100 && strstr(answers, "unknown case P2299\""))
      break;
  }
  close(fd);
  if (answered < N + N / 100 || sent < rlen)
    fail_msg("sent %zu of %zu bytes; %d answers of %d", sent, rlen, answered,
             N + N / 100);
  /* in order: P0, P1, ... */
  {
    const char *q = answers;
    for (int i = 0; i < N; i++) {
      char want[48];
      snprintf(want, sizeof want, "unknown case P%d\"", i);
      if (!(q = strstr(q, want)))
        fail_msg("answer %d missing or out of order", i);
    }
  }
  free(requests);
  free(answers);
}

/* A client that sends its requests and then closes its sending side
 * still gets every answer. */
static void test_a_half_closed_client_gets_its_answers(void **state) {
  char buf[8192];
  const char *three =
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  int fd = raw_connect(), n = 0;
  (void)state;
  send_all(fd, three, strlen(three));
  shutdown(fd, SHUT_WR);
  read_answers(fd, buf, sizeof buf, 0, 3);
  close(fd);
  for (const char *q = buf; (q = strstr(q, "HTTP/1.1 200")) != NULL; q++) n++;
  assert_int_equal(n, 3);
}

/* --- 10: idle connections ---------------------------------------------- */

static void test_idle_connections_lock_out_neither_health_nor_tokens(
    void **state) {
  enum { IDLE = 1100 };
  static int fds[IDLE];
  char buf[4096];
  double t0;
  (void)state;
  for (int i = 0; i < IDLE; i++) {
    fds[i] = raw_connect();
    if (i % 2) send_all(fds[i], "G", 1); /* half of them begin a request */
  }
  t0 = now_s();
  exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", buf, sizeof buf);
  if (strncmp(buf, "HTTP/1.1 200", 12) != 0) fail_msg("/health: %s", buf);
  exchange(
      "GET /v1/cases/NOPE HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " READ
      "\r\n\r\n",
      buf, sizeof buf);
  if (strncmp(buf, "HTTP/1.1 404", 12) != 0 || !strstr(buf, "unknown case"))
    fail_msg("an authenticated client: %s", buf);
  assert_true(now_s() - t0 < 5);
  /* the oldest were closed to make room */
  assert_int_equal(read_answers(fds[0], buf, sizeof buf, 0, 2), 0);
  for (int i = 0; i < IDLE; i++) close(fds[i]);
}

/* A client that keeps its connection busy (authenticated) is not closed
 * to make room for a crowd of idle ones. */
static void test_an_authenticated_keep_alive_client_keeps_its_place(
    void **state) {
  enum { IDLE = 600 };
  static int fds[IDLE];
  const char *req =
      "GET /v1/cases/K HTTP/1.1\r\nHost: x\r\nAuthorization: "
      "Bearer " READ "\r\n\r\n";
  char buf[4096];
  int mine = raw_connect();
  (void)state;
  send_all(mine, req, strlen(req));
  read_answers(mine, buf, sizeof buf, 1, 3);
  assert_non_null(strstr(buf, "HTTP/1.1 404"));
  for (int i = 0; i < IDLE; i++) fds[i] = raw_connect();
  usleep(200000);
  send_all(mine, req, strlen(req));
  read_answers(mine, buf, sizeof buf, 1, 3);
  if (!strstr(buf, "HTTP/1.1 404")) fail_msg("kept connection: %s", buf);
  close(mine);
  for (int i = 0; i < IDLE; i++) close(fds[i]);
}

static void test_slow_headers_are_cut_by_the_header_timeout(void **state) {
  char buf[4096];
  int fd = raw_connect(), quiet = raw_connect();
  double t0 = now_s(), closed_at = 0;
  (void)state;
  send_all(fd, "GET /health HTTP/1.1\r\nHost: x\r\n", 31);
  /* a byte every 300 ms: never a whole head */
  while (now_s() - t0 < 4.5) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 300) > 0) {
      closed_at = now_s();
      break;
    }
    if (write(fd, "X", 1) != 1) {
      closed_at = now_s();
      break;
    }
  }
  if (!closed_at) fail_msg("a slow header sender was not cut off in 4.5 s");
  assert_true(closed_at - t0 < 3.5); /* header_timeout is 2s */
  read_answers(fd, buf, sizeof buf, 1, 1);
  assert_non_null(strstr(buf, "408"));
  close(fd);
  /* a connection that sends nothing goes too */
  assert_int_equal(read_answers(quiet, buf, sizeof buf, 0, 1), 0);
  close(quiet);
}

/* --- 13: header syntax --------------------------------------------------- */

static void test_header_syntax_a_proxy_may_read_otherwise_is_refused(
    void **state) {
  (void)state;
  expect_answer(
      "POST /v1/payments HTTP/1.1\r\nHost: x\r\nAuthorization: "
      "Bearer " INGEST
      "\r\nContent-Length : 37\r\n\r\n"
      "{\"case\":\"L1\",\"amount\":100,\"ref\":\"R1\"}",
      "HTTP/1.1 400", "colon");
  expect_answer("GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n",
                "HTTP/1.1 400", "folding");
  expect_answer("GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\tb\r\n\r\n",
                "HTTP/1.1 400", "CR");
  expect_answer("GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: b\r\n\r\n",
                "HTTP/1.1 400", "CR");
  expect_answer("GET /health HTTP/1.1\r\n Host: x\r\n\r\n", "HTTP/1.1 400",
                NULL);
  expect_answer("GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x01\r\n\r\n",
                "HTTP/1.1 400", "control");
  expect_answer("GET /health HTTP/1.1\r\nHost: x\r\nX(A): a\r\n\r\n",
                "HTTP/1.1 400", NULL);
  expect_answer("GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
                "HTTP/1.1 400", "twice");
  expect_answer("GET /health HTTP/1.1\r\n\r\n", "HTTP/1.1 400", "Host");
  expect_answer(
      "POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Length: "
      "2\r\nContent-Length: 2\r\n\r\n{}",
      "HTTP/1.1 400", NULL);
  expect_answer(
      "POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Length: "
      "2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "HTTP/1.1 400", NULL);
  expect_answer(
      "POST /v1/payments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "gzip, chunked\r\n\r\n0\r\n\r\n",
      "HTTP/1.1 501", NULL);
}

static void test_two_authorization_headers_are_refused(void **state) {
  (void)state;
  /* a read token, then an ingest token: neither may decide */
  expect_answer(
      "POST /v1/payments HTTP/1.1\r\nHost: x\r\nAuthorization: "
      "Bearer " READ "\r\nAuthorization: Bearer " INGEST
      "\r\nContent-Length: 37\r\n\r\n"
      "{\"case\":\"L1\",\"amount\":100,\"ref\":\"R1\"}",
      "HTTP/1.1 400", "Authorization");
}

/* The 16 KB header limit counts the lines as sent: many short lines
 * (32 KB of "X-A: b") are 431, not only one long one. */
static void test_many_short_header_lines_count_whole(void **state) {
  size_t n = 4000, at;
  char *req = malloc(64 + n * 8);
  (void)state;
  at = (size_t)sprintf(req, "GET /health HTTP/1.1\r\nHost: x\r\n");
  for (size_t i = 0; i < n; i++) at += (size_t)sprintf(req + at, "X-A: b\r\n");
  strcpy(req + at, "\r\n");
  expect_answer(req, "HTTP/1.1 431", "headers_too_large");
  free(req);
}

/* A chunked body's trailers never stand in for headers. */
static void test_a_trailer_is_not_a_header(void **state) {
  (void)state;
  expect_answer(
      "POST /v1/payments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n2\r\n{}\r\n0\r\nAuthorization: Bearer " INGEST "\r\n\r\n",
      "HTTP/1.1 401", NULL);
}

static void test_expect_100_continue_is_answered(void **state) {
  char buf[8192];
  const char *body = "{\"case\":\"NOPE\",\"amount\":1,\"ref\":\"E1\"}";
  int fd = raw_connect();
  char head[512];
  (void)state;
  snprintf(
      head, sizeof head,
      "POST /v1/payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " INGEST
      "\r\nExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
      strlen(body));
  send_all(fd, head, strlen(head));
  read_answers(fd, buf, sizeof buf, 0, 1);
  if (strcmp(buf, "HTTP/1.1 100 Continue\r\n\r\n") != 0)
    fail_msg("before the body: %s", buf);
  send_all(fd, body, strlen(body));
  read_answers(fd, buf, sizeof buf, 1, 3);
  if (strncmp(buf, "HTTP/1.1 404", 12) != 0) fail_msg("after it: %s", buf);
  close(fd);
  /* too big: refused at once, the body never sent */
  fd = raw_connect();
  snprintf(head, sizeof head,
           "POST /v1/payments HTTP/1.1\r\nHost: x\r\nExpect: "
           "100-continue\r\nContent-Length: 10000000\r\n\r\n");
  send_all(fd, head, strlen(head));
  read_answers(fd, buf, sizeof buf, 1, 2);
  if (strncmp(buf, "HTTP/1.1 413", 12) != 0) fail_msg("too big: %s", buf);
  close(fd);
  expect_answer(
      "POST /v1/payments HTTP/1.1\r\nHost: x\r\nExpect: "
      "something-else\r\nContent-Length: 2\r\n\r\n",
      "HTTP/1.1 417", NULL);
}

/* --- 5, 16: URLs -----------------------------------------------------------
 */

static void test_ids_and_parameters_that_do_not_decode_are_400(void **state) {
  char req[1024];
  (void)state;
  snprintf(req, sizeof req,
           "POST /v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " INGEST
           "\r\nContent-Length: %zu\r\n\r\n%s",
           strlen("{\"id\":\"MF00001\",\"balance\":100,\"due_date\":\"2026-01-"
                  "01\",\"borrower\":{\"id\":\"B1\"}}"),
           "{\"id\":\"MF00001\",\"balance\":100,\"due_date\":\"2026-01-01\","
           "\"borrower\":{\"id\":\"B1\"}}");
  {
    char buf[4096];
    exchange(req, buf, sizeof buf);
    if (strncmp(buf, "HTTP/1.1 201", 12) != 0) fail_msg("open: %s", buf);
  }
#define GET_READ(path) \
  "GET " path " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " READ "\r\n\r\n"
  expect_answer(GET_READ("/v1/cases/%FF%FE"), "HTTP/1.1 400",
                "\"field\":\"case\"");
  expect_answer(GET_READ("/v1/cases/%+1"), "HTTP/1.1 400", NULL);
  expect_answer(GET_READ("/v1/cases/%-1"), "HTTP/1.1 400", NULL);
  expect_answer(GET_READ("/v1/cases/MF0000%4"), "HTTP/1.1 400", NULL);
  expect_answer(GET_READ("/v1/cases/MF00001%00junk"), "HTTP/1.1 400",
                "\"field\":\"case\"");
  expect_answer(GET_READ("/v1/cases/MF00001%0Ajunk/journal"), "HTTP/1.1 400",
                NULL);
  expect_answer(GET_READ("/v1/cases/%C2%85"), "HTTP/1.1 400", NULL);
  expect_answer(GET_READ("/v1/cases?state=%00"), "HTTP/1.1 400",
                "\"field\":\"state\"");
  expect_answer(GET_READ("/v1/cases?state=%C3%28"), "HTTP/1.1 400",
                "\"field\":\"state\"");
  expect_answer(GET_READ("/v1/cases?state=%ZZ"), "HTTP/1.1 400", NULL);
  expect_answer(GET_READ("/v1/cases?state=new&state=call"), "HTTP/1.1 400",
                "twice");
  /* an unknown id that decodes is still 404, with its error object */
  expect_answer(GET_READ("/v1/cases/%E7%8E%8B"), "HTTP/1.1 404", "not_found");
  snprintf(req, sizeof req,
           "POST /v1/cases/MF00001%%00junk/events HTTP/1.1\r\nHost: x\r\n"
           "Authorization: Bearer " INGEST
           "\r\nContent-Length: 15\r\n\r\n{\"type\":\"note\"}");
  expect_answer(req, "HTTP/1.1 400", "\"field\":\"case\"");
  {
    char buf[8192];
    exchange(GET_READ("/v1/cases/MF00001/journal"), buf, sizeof buf);
    if (strstr(buf, "note")) fail_msg("the event reached MF00001: %s", buf);
  }
}

/* --- 15: logs ----------------------------------------------------------------
 */

static void test_logs_mask_phone_numbers_and_email_addresses(void **state) {
  static const char *const paths[] = {"/v1/cases/%2B86.138.0000.1234",
                                      "/v1/cases/%2B86%20138-0000-1234",
                                      "/v1/cases/user@example.com",
                                      "/v1/cases/%EF%BC%91%EF%BC%93%EF%BC%98"
                                      "%EF%BC%90%EF%BC%90%EF%BC%90%EF%BC%90"
                                      "%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94"};
  char req[512], buf[4096];
  static char log[1 << 20];
  FILE *f;
  size_t n;
  (void)state;
  for (int i = 0; i < 4; i++) {
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " READ
             "\r\n\r\n",
             paths[i]);
    exchange(req, buf, sizeof buf);
    if (strncmp(buf, "HTTP/1.1 404", 12) != 0)
      fail_msg("%s: %s", paths[i], buf);
  }
  usleep(100000);
  f = fopen(srv.log, "r");
  assert_non_null(f);
  n = fread(log, 1, sizeof log - 1, f);
  log[n] = '\0';
  fclose(f);
  assert_non_null(strstr(log, "unknown case"));
  if (strstr(log, "138.0000") || strstr(log, "138-0000") ||
      strstr(log, "user@") || strstr(log, "example.com") ||
      strstr(log, "\xef\xbc\x91\xef\xbc\x93\xef\xbc\x98") ||
      strstr(log, "\\uff11\\uff13") || strstr(log, "secret"))
    fail_msg("a contact point in the log:\n%s", log);
  assert_non_null(strstr(log, "+**.***.****.*234"));
  assert_non_null(strstr(log, "u***@***.com"));
}

/* --- issue 20: handles on a failure path -----------------------------------
 */

/* A second service on the same port fails to listen and exits 1 having
 * closed and freed what it opened (the sanitizers, in their build, say
 * so on stderr otherwise). */
static void test_a_port_in_use_fails_cleanly(void **state) {
  char listen[64], db[600], log[600], text[8192] = "";
  int status = -1;
  FILE *f;
  pid_t pid;
  (void)state;
  snprintf(listen, sizeof listen, "127.0.0.1:%d", srv.port);
  /* Its own database: a second service on the first one's is refused
   * before it listens (the lock beside the database, backup.h). */
  harness_path(&srv, "h2.db", db, sizeof db);
  harness_path(&srv, "second.log", log, sizeof log);
  pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY),
        err = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(null, 1);
    dup2(err, 2);
    execl(srv.bin, srv.bin, "serve", srv.dir, "--listen", listen, "--db", db,
          (char *)NULL);
    _exit(127);
  }
  waitpid(pid, &status, 0);
  f = fopen(log, "r");
  assert_non_null(f);
  text[fread(text, 1, sizeof text - 1, f)] = '\0';
  fclose(f);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 1);
  if (!strstr(text, "recoup: cannot listen on") || strstr(text, "Sanitizer"))
    fail_msg("stderr:\n%s", text);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_megabytes_of_pipelined_requests_are_all_answered),
      cmocka_unit_test(test_a_half_closed_client_gets_its_answers),
      cmocka_unit_test(
          test_idle_connections_lock_out_neither_health_nor_tokens),
      cmocka_unit_test(test_an_authenticated_keep_alive_client_keeps_its_place),
      cmocka_unit_test(test_slow_headers_are_cut_by_the_header_timeout),
      cmocka_unit_test(
          test_header_syntax_a_proxy_may_read_otherwise_is_refused),
      cmocka_unit_test(test_two_authorization_headers_are_refused),
      cmocka_unit_test(test_many_short_header_lines_count_whole),
      cmocka_unit_test(test_a_trailer_is_not_a_header),
      cmocka_unit_test(test_expect_100_continue_is_answered),
      cmocka_unit_test(test_ids_and_parameters_that_do_not_decode_are_400),
      cmocka_unit_test(test_logs_mask_phone_numbers_and_email_addresses),
      cmocka_unit_test(test_a_port_in_use_fails_cleanly),
  };
  if (argc != 2) {
    fprintf(stderr, "usage: %s RECOUP\n", argv[0]);
    return 2;
  }
  harness_open(&srv, argv[1], "hostile");
  signal(SIGPIPE, SIG_IGN);
  /* TEST_FILTER=name runs one test (each against a fresh server) */
  if (getenv("TEST_FILTER")) cmocka_set_test_filter(getenv("TEST_FILTER"));
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
