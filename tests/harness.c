/* The service test harness (harness.h): one copy of what a dozen
 * integration tests each carried — the scratch directory, `recoup serve`
 * forked on 127.0.0.1:0 and its port read from its first line, a curl
 * client with tokens, cookies and headers, and the answer's checks. */
#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

/* --- the scratch directory ----------------------------------------------- */

void harness_open(harness *h, const char *bin, const char *name) {
  memset(h, 0, sizeof *h);
  h->bin = bin;
  snprintf(h->dir, sizeof h->dir, "/tmp/recoup-test-%s-%d", name,
           (int)getpid());
  snprintf(h->db, sizeof h->db, "%s/%s.db", h->dir, name);
  snprintf(h->log, sizeof h->log, "%s/server.log", h->dir);
  if (mkdir(h->dir, 0700) != 0) fail_msg("cannot make %s", h->dir);
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

void harness_open_in(harness *h, const harness *parent, const char *sub) {
  memset(h, 0, sizeof *h);
  h->bin = parent->bin;
  snprintf(h->dir, sizeof h->dir, "%.400s/%.100s", parent->dir, sub);
  snprintf(h->db, sizeof h->db, "%s/%s.db", h->dir, sub);
  snprintf(h->log, sizeof h->log, "%s/server.log", h->dir);
  if (mkdir(h->dir, 0700) != 0) fail_msg("cannot make %s", h->dir);
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

void harness_path(const harness *h, const char *name, char *out, size_t size) {
  snprintf(out, size, "%s/%s", h->dir, name);
}

void harness_write(harness *h, const char *name, const char *text) {
  harness_writef(h, name, "%s", text);
}

void harness_writef(harness *h, const char *name, const char *fmt, ...) {
  char path[700];
  FILE *f;
  va_list ap;
  harness_path(h, name, path, sizeof path);
  if (!(f = fopen(path, "w"))) fail_msg("cannot write %s", path);
  va_start(ap, fmt);
  vfprintf(f, fmt, ap);
  va_end(ap);
  fclose(f);
}

void harness_mkdir(harness *h, const char *name) {
  char path[700];
  harness_path(h, name, path, sizeof path);
  mkdir(path, 0700);
}

/* --- the server ---------------------------------------------------------- */

/* In the child: stdout into the pipe, stderr appended to the log, the
 * four tokens and env in the environment, then `recoup serve`. */
static void harness_exec_serve(const harness *h, int out) {
  int err = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
  dup2(out, 1);
  if (err >= 0) dup2(err, 2);
  setenv("T_INGEST", HARNESS_INGEST, 1);
  setenv("T_AGENT", HARNESS_AGENT, 1);
  setenv("T_READ", HARNESS_READ, 1);
  setenv("T_ADMIN", HARNESS_ADMIN, 1);
  for (const char *const *e = h->env; e && *e; e++) putenv((char *)*e);
  execl(h->bin, h->bin, "serve", h->serve_dir ? h->serve_dir : h->dir,
        "--listen", "127.0.0.1:0", "--db", h->db, (char *)NULL);
  _exit(127);
}

/* The server says "listening on http://127.0.0.1:PORT" once it listens:
 * nothing is sent before, so no request races the start. */
void harness_start(harness *h) {
  int out[2];
  char line[256] = "";
  FILE *f;
  assert_int_equal(pipe(out), 0);
  h->pid = fork();
  if (h->pid == 0) {
    close(out[0]);
    harness_exec_serve(h, out[1]);
  }
  close(out[1]);
  f = fdopen(out[0], "r");
  if (!fgets(line, sizeof line, f)) line[0] = '\0';
  fclose(f);
  if (sscanf(line, "listening on http://127.0.0.1:%d", &h->port) != 1)
    fail_msg("the server did not start: \"%s\" (see %s)", line, h->log);
}

static int harness_signal(harness *h, int sig) {
  int status = -1;
  if (h->pid <= 0) return 0;
  kill(h->pid, sig);
  waitpid(h->pid, &status, 0);
  h->pid = 0;
  return status;
}

/* Its wait status: 0 when it exited cleanly (a sanitizer build's server
 * that leaked exits otherwise). */
int harness_stop(harness *h) {
  return harness_signal(h, SIGTERM);
}

void harness_kill(harness *h) {
  harness_signal(h, SIGKILL);
}

/* KEEP=1 in the environment keeps the directory to look at. */
void harness_close(harness *h) {
  char cmd[700];
  harness_kill(h);
  if (h->curl) curl_easy_cleanup(h->curl);
  h->curl = NULL;
  curl_global_cleanup();
  if (getenv("KEEP")) return;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", h->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", h->dir);
}

/* --- the command line ---------------------------------------------------- */

static void harness_read_all(int fd, char *out, size_t size) {
  size_t got = 0;
  ssize_t n;
  char sink[4096];
  while (out && got + 1 < size && (n = read(fd, out + got, size - 1 - got)) > 0)
    got += (size_t)n;
  if (out && size) out[got] = '\0';
  while (read(fd, sink, sizeof sink) > 0) {
  }
}

int harness_run(const harness *h, const char *input, char *out, size_t size,
                const char *const *args) {
  const char *argv[32];
  int in[2], res[2], status = -1, n = 0;
  pid_t pid;
  argv[n++] = h->bin;
  while (*args && n < 31) argv[n++] = *args++;
  argv[n] = NULL;
  assert_int_equal(pipe(in), 0);
  assert_int_equal(pipe(res), 0);
  if ((pid = fork()) == 0) {
    dup2(in[0], 0);
    dup2(res[1], 1);
    dup2(res[1], 2);
    close(in[1]);
    close(res[0]);
    setenv("T_INGEST", HARNESS_INGEST, 1);
    setenv("T_AGENT", HARNESS_AGENT, 1);
    setenv("T_READ", HARNESS_READ, 1);
    setenv("T_ADMIN", HARNESS_ADMIN, 1);
    execv(h->bin, (char *const *)argv);
    _exit(127);
  }
  close(in[0]);
  close(res[1]);
  if (input && write(in[1], input, strlen(input)) < 0) {
  }
  close(in[1]);
  harness_read_all(res[0], out, size);
  close(res[0]);
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void harness_add_user(const harness *h, const char *name, const char *role,
                      const char *queues) {
  char password[100], out[2048];
  const char *dir = h->serve_dir ? h->serve_dir : h->dir;
  const char *args[] = {"user",   "add", name,
                        "--role", role,  dir,
                        "--db",   h->db, queues ? "--queues" : NULL,
                        queues,   NULL};
  snprintf(password, sizeof password, "%s-pw-2026\n", name);
  if (harness_run(h, password, out, sizeof out, args) != 0)
    fail_msg("could not add user %s: %s", name, out);
}

/* --- the client ---------------------------------------------------------- */

static size_t harness_collect(char *p, size_t size, size_t n, void *ud) {
  harness_answer *a = ud;
  size_t take = size * n;
  if (a->len + take >= sizeof a->body) take = sizeof a->body - 1 - a->len;
  memcpy(a->body + a->len, p, take);
  a->len += take;
  a->body[a->len] = '\0';
  return size * n;
}

static size_t harness_collect_header(char *p, size_t size, size_t n, void *ud) {
  harness_answer *a = ud;
  size_t take = size * n;
  if (a->hlen + take >= sizeof a->headers)
    take = sizeof a->headers - 1 - a->hlen;
  memcpy(a->headers + a->hlen, p, take);
  a->hlen += take;
  a->headers[a->hlen] = '\0';
  return size * n;
}

static struct curl_slist *harness_add_header(struct curl_slist *l,
                                             const char *name,
                                             const char *value) {
  char line[20000];
  if (!value) return l;
  snprintf(line, sizeof line, "%s: %s", name, value);
  return curl_slist_append(l, line);
}

static struct curl_slist *harness_headers(const harness_request *r) {
  struct curl_slist *l = NULL;
  if (r->token) {
    char auth[300];
    snprintf(auth, sizeof auth, "Bearer %s", r->token);
    l = harness_add_header(l, "Authorization", auth);
  }
  l = harness_add_header(l, "Cookie", r->cookie);
  l = harness_add_header(l, "X-CSRF-Token", r->csrf);
  l = harness_add_header(l, "Origin", r->origin);
  l = harness_add_header(l, "X-Forwarded-For", r->forwarded_for);
  l = harness_add_header(l, "X-Forwarded-Proto", r->forwarded_proto);
  l = harness_add_header(l, "Content-Type", r->content_type);
  if (r->header) l = curl_slist_append(l, r->header);
  /* curl would wait a second for 100-continue on a large body */
  return curl_slist_append(l, "Expect:");
}

static double harness_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static CURL *harness_handle(const harness *h) {
  harness *owner = (harness *)h;
  if (!h->reuse_connection) return curl_easy_init();
  if (!owner->curl) owner->curl = curl_easy_init();
  curl_easy_reset(owner->curl);
  return owner->curl;
}

harness_answer *harness_send_into(const harness *h, harness_answer *a,
                                  const char *method, const char *path,
                                  const harness_request *r) {
  char *url = malloc(strlen(path) + 64); /* paths may be long on purpose */
  struct curl_slist *l = harness_headers(r);
  CURL *c = harness_handle(h);
  double t0 = harness_now();
  memset(a, 0, sizeof *a);
  sprintf(url, "http://127.0.0.1:%d%s", h->port, path);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, l);
  if (r->from) curl_easy_setopt(c, CURLOPT_INTERFACE, r->from);
  if (r->cookie_jar) {
    curl_easy_setopt(c, CURLOPT_COOKIEFILE, r->cookie_jar);
    curl_easy_setopt(c, CURLOPT_COOKIEJAR, r->cookie_jar);
  }
  if (r->body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
                     (long)(r->body_len ? r->body_len : strlen(r->body)));
  }
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, harness_collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, harness_collect_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, r->timeout ? r->timeout : 20L);
  if (curl_easy_perform(c) != CURLE_OK)
    a->status = -1;
  else
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a->status);
  a->seconds = harness_now() - t0;
  curl_slist_free_all(l);
  free(url);
  if (!h->reuse_connection) curl_easy_cleanup(c);
  return a;
}

harness_answer *harness_send(const harness *h, const char *method,
                             const char *path, const harness_request *r) {
  static harness_answer a;
  return harness_send_into(h, &a, method, path, r);
}

harness_answer *harness_call(const harness *h, const char *method,
                             const char *path, const char *token,
                             const char *body, size_t body_len) {
  harness_request r = {0};
  r.token = token;
  r.body = body;
  r.body_len = body_len;
  return harness_send(h, method, path, &r);
}

harness_answer *harness_get(const harness *h, const char *path,
                            const char *token) {
  return harness_call(h, "GET", path, token, NULL, 0);
}

harness_answer *harness_post(const harness *h, const char *path,
                             const char *token, const char *json) {
  return harness_call(h, "POST", path, token, json, 0);
}

int harness_sign_in(const harness *h, const char *name, char *jar,
                    size_t jar_size, char *csrf, size_t csrf_size) {
  static harness_answer a;
  char body[300];
  const char *token;
  harness_request r = {0};
  json_t *v;
  snprintf(jar, jar_size, "%s/cookies-%s", h->dir, name);
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"password\":\"%s-pw-2026\"}",
           name, name);
  r.body = body;
  r.content_type = "application/json";
  r.cookie_jar = jar;
  harness_send_into(h, &a, "POST", "/v1/session", &r);
  v = a.status == 200 ? json_loads(a.body, 0, NULL) : NULL;
  token = json_string_value(json_object_get(v, "csrf"));
  snprintf(csrf, csrf_size, "%s", token ? token : "");
  json_decref(v);
  return a.status == 200;
}

/* --- checks -------------------------------------------------------------- */

void harness_expect(const harness_answer *a, long status, const char *has) {
  if (a->status != status || (has && !strstr(a->body, has)))
    fail_msg("got %ld %s; wanted %ld with %s", a->status, a->body, status,
             has ? has : "anything");
}

void harness_expect_all(const harness_answer *a, long status, ...) {
  va_list ap;
  const char *has;
  if (a->status != status)
    fail_msg("got %ld %s; wanted %ld", a->status, a->body, status);
  va_start(ap, status);
  while ((has = va_arg(ap, const char *)))
    if (!strstr(a->body, has))
      fail_msg("got %ld %s; wanted %ld with %s", a->status, a->body, status,
               has);
  va_end(ap);
}

void harness_expect_not(const harness_answer *a, const char *hasnt) {
  if (strstr(a->body, hasnt)) fail_msg("%s holds %s", a->body, hasnt);
}

int harness_header(const harness_answer *a, const char *name, char *out,
                   size_t size) {
  char want[100];
  const char *p, *end;
  snprintf(want, sizeof want, "\r\n%s: ", name);
  if (!(p = strstr(a->headers, want))) return 0;
  p += strlen(want);
  end = strstr(p, "\r\n");
  snprintf(out, size, "%.*s", (int)(end ? end - p : (long)strlen(p)), p);
  return 1;
}

json_t *harness_json(const harness_answer *a) {
  json_error_t e;
  json_t *v = json_loads(a->body, 0, &e);
  if (!v) fail_msg("not JSON (%s): %s", e.text, a->body);
  return v;
}

int harness_connect(const harness *h) {
  struct sockaddr_in addr;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)h->port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
  return fd;
}
