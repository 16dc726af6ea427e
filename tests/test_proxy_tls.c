/* TLS behind nginx (docs/operations.md): Debian's nginx, configured from
 * contrib/nginx/recoup.conf on loopback ports this test picks, with a
 * throwaway certificate from openssl, in front of the real `recoup serve`
 * that trusts it (service.trusted_proxies). Signing in to the console
 * through it gives a Secure cookie, and the log names the client nginx
 * saw; a request straight to the service from an address it does not
 * trust, with a forged X-Forwarded-For, is logged with the address it
 * really came from, and gets no Secure cookie.
 *
 * Exits 77 (skipped, with the reason) without nginx or openssl.
 *
 * usage: test_proxy_tls RECOUP CONTRIB_NGINX_CONF */
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
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "harness.h"

static const char *site_conf;
static int tls_port, plain_port;
static pid_t proxy;
static harness srv;

#define NAME "li.wei"
#define PASSWORD "li.wei-pw-2026"
#define UNTRUSTED "127.0.0.2" /* a loopback address, not in trusted_proxies */
#define FORGED "203.0.113.66"
#define CLIENT "127.0.0.3" /* the browser, as nginx sees it */

static void slurp(const char *name, char *buf, size_t size) {
  char path[600];
  FILE *f;
  size_t n;
  snprintf(path, sizeof path, "%s/%s", srv.dir, name);
  f = fopen(path, "r");
  n = f ? fread(buf, 1, size - 1, f) : 0;
  buf[n] = '\0';
  if (f) fclose(f);
}

/* A loopback port free now (the kernel's pick, released for nginx). */
static int free_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  int s = socket(AF_INET, SOCK_STREAM, 0), p;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
  p = ntohs(a.sin_port);
  close(s);
  return p;
}

static int sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  int status;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  status = system(cmd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* --- a small client ------------------------------------------------------ */

typedef struct answer {
  long status;
  char body[16384], headers[16384];
  size_t len, hlen;
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

static size_t collect_header(char *p, size_t size, size_t n, void *ud) {
  answer *a = ud;
  size_t take = size * n;
  if (a->hlen + take >= sizeof a->headers)
    take = sizeof a->headers - 1 - a->hlen;
  memcpy(a->headers + a->hlen, p, take);
  a->hlen += take;
  a->headers[a->hlen] = '\0';
  return size * n;
}

/* Signs in at url, from source address `from` (NULL: the default), with
 * an X-Forwarded-For of forged (or none). */
static answer *sign_in(const char *url, const char *from, const char *forged) {
  static answer a;
  char cafile[400], xff[200];
  struct curl_slist *h = NULL;
  CURL *c = curl_easy_init();
  memset(&a, 0, sizeof a);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS,
                   "{\"name\":\"" NAME "\",\"password\":\"" PASSWORD "\"}");
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:");
  if (forged) {
    snprintf(xff, sizeof xff, "X-Forwarded-For: %s", forged);
    h = curl_slist_append(h, xff);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (from) curl_easy_setopt(c, CURLOPT_INTERFACE, from);
  /* The throwaway certificate is the only one trusted. */
  snprintf(cafile, sizeof cafile, "%s/cert.pem", srv.dir);
  curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  if (curl_easy_perform(c) != CURLE_OK)
    a.status = -1;
  else
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &a.status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return &a;
}

/* The Set-Cookie header's value; its name in any case (HTTP/2, which
 * curl and nginx speak over TLS, sends it in lower case). */
static const char *set_cookie(const answer *a) {
  static char v[400];
  const char *p = a->headers, *end;
  for (; *p; p++)
    if (strncasecmp(p, "set-cookie: ", 12) == 0 &&
        (p == a->headers || p[-1] == '\n'))
      break;
  if (!*p) return NULL;
  end = strstr(p, "\r\n");
  p += 12;
  snprintf(v, sizeof v, "%.*s", (int)(end ? end - p : (long)strlen(p)), p);
  return v;
}

/* --- the pieces ---------------------------------------------------------- */

/* nginx.conf around contrib's site, its ports and files made ours. */
static void write_nginx_conf(void) {
  char conf[1200];
  assert_int_equal(
      sh("sed -e 's|server 127.0.0.1:8080;|server 127.0.0.1:%d;|' "
         "-e 's|^\\( *\\)listen 80;|\\1listen 127.0.0.1:%d;|' "
         "-e 's|^\\( *\\)listen 443 ssl http2;|\\1listen 127.0.0.1:%d ssl "
         "http2;|' "
         "-e '/listen \\[::\\]/d' "
         "-e 's|/etc/ssl/certs/recoup.example.org.pem|%s/cert.pem|' "
         "-e 's|/etc/ssl/private/recoup.example.org.key|%s/key.pem|' "
         "-e 's|recoup.example.org|localhost|' '%s' > '%s/site.conf'",
         srv.port, plain_port, tls_port, srv.dir, srv.dir, site_conf, srv.dir),
      0);
  /* Every line of contrib's that names a port or a file was replaced. */
  assert_int_equal(sh("grep -q 'listen 127.0.0.1:%d ssl' '%s/site.conf' && "
                      "grep -q 'server 127.0.0.1:%d;' '%s/site.conf' && "
                      "! grep -q '/etc/ssl' '%s/site.conf'",
                      tls_port, srv.dir, srv.port, srv.dir, srv.dir),
                   0);
  snprintf(conf, sizeof conf,
           "daemon off;\n"
           "master_process off;\n"
           "pid %s/nginx.pid;\n"
           "error_log %s/nginx-error.log;\n"
           "events { worker_connections 64; }\n"
           "http {\n"
           "  access_log %s/nginx-access.log;\n"
           "  client_body_temp_path %s/tmp-body;\n"
           "  proxy_temp_path %s/tmp-proxy;\n"
           "  fastcgi_temp_path %s/tmp-fcgi;\n"
           "  uwsgi_temp_path %s/tmp-uwsgi;\n"
           "  scgi_temp_path %s/tmp-scgi;\n"
           "  include %s/site.conf;\n"
           "}\n",
           srv.dir, srv.dir, srv.dir, srv.dir, srv.dir, srv.dir, srv.dir,
           srv.dir, srv.dir);
  harness_write(&srv, "nginx.conf", conf);
}

static void start_proxy(void) {
  char conf[400], url[200];
  snprintf(conf, sizeof conf, "%s/nginx.conf", srv.dir);
  if (sh("nginx -t -p '%s' -c '%s' > '%s/nginx-t.log' 2>&1", srv.dir, conf,
         srv.dir) != 0) {
    char log[4096];
    slurp("nginx-t.log", log, sizeof log);
    fail_msg("nginx refuses the configuration: %s", log);
  }
  if ((proxy = fork()) == 0) {
    execlp("nginx", "nginx", "-p", srv.dir, "-c", conf, (char *)NULL);
    _exit(127);
  }
  /* Up when it answers over TLS. */
  snprintf(url, sizeof url, "https://localhost:%d/health", tls_port);
  for (int i = 0; i < 100; i++) {
    char cafile[400];
    CURL *c = curl_easy_init();
    long status = 0;
    answer a;
    memset(&a, 0, sizeof a);
    snprintf(cafile, sizeof cafile, "%s/cert.pem", srv.dir);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, cafile);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_RESOLVE, NULL);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    if (curl_easy_perform(c) == CURLE_OK)
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (status == 200) return;
    usleep(50000);
  }
  fail_msg("nginx did not answer on https://localhost:%d", tls_port);
}

static int group_setup(void **state) {
  (void)state;
  /* nginx's workers read the certificate and write their logs here. */
  chmod(srv.dir, 0755);
  /* A throwaway certificate for localhost, a day long. */
  if (sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
         "/CN=localhost -addext subjectAltName=DNS:localhost "
         "-keyout '%s/key.pem' -out '%s/cert.pem' > '%s/openssl.log' 2>&1",
         srv.dir, srv.dir, srv.dir) != 0)
    fail_msg("openssl could not make a certificate (see %s/openssl.log)",
             srv.dir);
  harness_write(
      &srv, "recoup.lua",
      "institution { name = 'TLS', timezone = 'UTC', currency = 'USD' "
      "}\n"
      "service { trusted_proxies = { '127.0.0.1' },\n"
      "          max_connections_per_address = 1024 }\n"
      "workflow(recoup.workflow { name = 'w', version = 1, initial = "
      "'new', states = { new = {} } })\n");
  harness_add_user(&srv, NAME, "agent", NULL); /* password NAME-pw-2026 */
  harness_start(&srv);
  tls_port = free_port();
  plain_port = free_port();
  write_nginx_conf();
  start_proxy();
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  if (proxy > 0) {
    kill(proxy, SIGTERM);
    waitpid(proxy, NULL, 0);
  }
  harness_stop(&srv);
  harness_close(&srv);
  return 0;
}

/* --- the tests ----------------------------------------------------------- */

static void test_sign_in_through_nginx_gives_a_secure_cookie(void **state) {
  char url[200], log[65536];
  answer *a;
  const char *cookie;
  (void)state;
  snprintf(url, sizeof url, "https://localhost:%d/v1/session", tls_port);
  /* What a client sends as X-Forwarded-For, nginx replaces. */
  a = sign_in(url, CLIENT, FORGED);
  if (a->status != 200) fail_msg("got %ld %s", a->status, a->body);
  assert_non_null(strstr(a->body, "\"csrf\""));
  cookie = set_cookie(a);
  assert_non_null(cookie);
  if (!strstr(cookie, "; Secure")) fail_msg("no Secure in: %s", cookie);
  assert_non_null(strstr(cookie, "HttpOnly"));
  /* The service logged the client nginx saw, not what the client said. */
  slurp("server.log", log, sizeof log);
  if (!strstr(log, "\"client\":\"" CLIENT "\""))
    fail_msg("no request logged from %s: %s", CLIENT, log);
  assert_null(strstr(log, FORGED));
  /* Plain HTTP to nginx goes to HTTPS. */
  snprintf(url, sizeof url, "http://localhost:%d/v1/session", plain_port);
  a = sign_in(url, NULL, NULL);
  assert_int_equal(a->status, 301);
}

static void test_forged_forwarded_for_is_logged_with_the_real_address(
    void **state) {
  char url[200], log[65536];
  answer *a;
  const char *cookie;
  (void)state;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/session", srv.port);
  a = sign_in(url, UNTRUSTED, FORGED);
  if (a->status != 200) fail_msg("got %ld %s", a->status, a->body);
  cookie = set_cookie(a);
  assert_non_null(cookie);
  assert_null(strstr(cookie, "Secure"));
  slurp("server.log", log, sizeof log);
  if (!strstr(log, "\"client\":\"" UNTRUSTED "\""))
    fail_msg("no request logged from %s: %s", UNTRUSTED, log);
  if (strstr(log, FORGED)) fail_msg("the forged address was logged: %s", log);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_in_through_nginx_gives_a_secure_cookie),
      cmocka_unit_test(
          test_forged_forwarded_for_is_logged_with_the_real_address),
  };
  if (argc < 3) {
    fprintf(stderr, "usage: test_proxy_tls RECOUP NGINX_SITE_CONF\n");
    return 2;
  }
  site_conf = argv[2];
  if (system("command -v nginx > /dev/null 2>&1") != 0) {
    printf(
        "SKIP: nginx is not installed (Debian's nginx; make deps "
        "installs it)\n");
    return 77;
  }
  if (system("command -v openssl > /dev/null 2>&1") != 0) {
    printf("SKIP: openssl is not installed\n");
    return 77;
  }
  harness_open(&srv, argv[1], "tls");
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
