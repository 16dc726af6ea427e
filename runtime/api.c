/* The HTTP API: routes, roles, JSON in and out. Reads answer at once from
 * committed state; writes become jobs for the next group commit and are
 * answered only after it, so a 2xx always means durable. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backup.h"
#include "case_input.h"
#include "console.h"
#include "import.h"
#include "input.h"
#include "report.h"
#include "mask.h"
#include "phone.h"
#include "service.h"
#include "session.h"
#include "store/where.h"
#include "template.h"
#include "user.h"

typedef void (*read_fn)(service *svc, http_request *req, int route,
                        const char *arg, const principal *who);

typedef struct route_def {
  const char *method, *pattern;
  int roles;       /* 0: open */
  read_fn read;    /* answered at once */
  job_apply write; /* or a job for the group commit */
} route_def;

static void r_health(service *, http_request *, int, const char *,
                  const principal *);
static void r_openapi(service *, http_request *, int, const char *,
                  const principal *);
static void r_metrics(service *, http_request *, int, const char *,
                  const principal *);
static void r_case(service *, http_request *, int, const char *,
                  const principal *);
static void r_cases(service *, http_request *, int, const char *,
                  const principal *);
static void r_journal(service *, http_request *, int, const char *,
                  const principal *);
static void r_tasks(service *, http_request *, int, const char *,
                  const principal *);
static void r_report(service *, http_request *, int, const char *,
                  const principal *);
static void r_reload(service *, http_request *, int, const char *,
                  const principal *);
static void r_import(service *, http_request *, int, const char *,
                  const principal *);
static void r_errors(service *, http_request *, int, const char *,
                  const principal *);
static void r_backup(service *, http_request *, int, const char *,
                  const principal *);
static int w_cases(service *, job *, json_t **, int *, rc_error *);
static int w_event(service *, job *, json_t **, int *, rc_error *);
static int w_payment(service *, job *, json_t **, int *, rc_error *);
static int w_claim(service *, job *, json_t **, int *, rc_error *);
static int w_complete(service *, job *, json_t **, int *, rc_error *);
static int w_receipt(service *, job *, json_t **, int *, rc_error *);
static int w_reply(service *, job *, json_t **, int *, rc_error *);
static int w_retry(service *, job *, json_t **, int *, rc_error *);
static int w_retry_many(service *, job *, json_t **, int *, rc_error *);

#define ANYONE_READING (ROLE_READ | ROLE_AGENT | ROLE_SUPERVISOR)

static const route_def routes[] = {
    {"GET", "/health", 0, r_health, NULL},
    {"GET", "/metrics", 0, r_metrics, NULL},
    {"GET", "/v1/openapi.json", 0, r_openapi, NULL},
    {"POST", "/v1/cases", ROLE_INGEST, NULL, w_cases},
    {"GET", "/v1/cases", ANYONE_READING, r_cases, NULL},
    {"POST", "/v1/import", ROLE_INGEST, r_import, NULL},
    {"GET", "/v1/cases/{}", ANYONE_READING, r_case, NULL},
    {"GET", "/v1/cases/{}/journal", ANYONE_READING, r_journal, NULL},
    {"POST", "/v1/cases/{}/events", ROLE_INGEST, NULL, w_event},
    {"POST", "/v1/cases/{}/retry", ROLE_SUPERVISOR, NULL, w_retry},
    {"POST", "/v1/payments", ROLE_INGEST, NULL, w_payment},
    {"GET", "/v1/tasks", ANYONE_READING, r_tasks, NULL},
    {"POST", "/v1/tasks/{}/claim", ROLE_AGENT, NULL, w_claim},
    {"POST", "/v1/tasks/{}/complete", ROLE_AGENT, NULL, w_complete},
    {"POST", "/v1/messages/{}/receipt", ROLE_INGEST, NULL, w_receipt},
    {"POST", "/v1/replies", ROLE_INGEST, NULL, w_reply},
    {"GET", "/v1/reports/summary", ROLE_READ | ROLE_SUPERVISOR, r_report, NULL},
    {"POST", "/v1/admin/reload", ROLE_ADMIN, r_reload, NULL},
    {"POST", "/v1/admin/backup", ROLE_ADMIN, r_backup, NULL},
    {"GET", "/v1/errors", ROLE_SUPERVISOR, r_errors, NULL},
    {"POST", "/v1/admin/retry", ROLE_SUPERVISOR, NULL, w_retry_many},
    /* The console's case work (api_work.c). */
    {"GET", "/v1/work", ROLE_AGENT | ROLE_SUPERVISOR, api_work_list, NULL},
    {"POST", "/v1/tasks/next", ROLE_AGENT, NULL, api_task_next},
    {"POST", "/v1/tasks/{}/assign", ROLE_SUPERVISOR, NULL, api_task_assign},
    {"POST", "/v1/cases/{}/notes", ROLE_AGENT, NULL, api_case_note},
    {"POST", "/v1/cases/{}/promises", ROLE_AGENT, NULL, api_case_promise},
    {"GET", "/v1/cases/{}/guard", ANYONE_READING, api_case_guard, NULL},
    /* the console's identity (api_session.c) */
    {"GET", "/v1/institution", 0, api_institution, NULL},
    {"POST", "/v1/session", 0, api_sign_in, NULL},
    {"DELETE", "/v1/session", 0, api_sign_out, NULL},
    {"GET", "/v1/me", ANYONE_READING, api_me, NULL},
    {"GET", "/v1/overview", ROLE_SUPERVISOR | ROLE_READ, api_figures_overview,
     NULL},
    {"GET", "/v1/workflows", ROLE_SUPERVISOR | ROLE_READ, api_figures_workflows,
     NULL},
    {"GET", "/v1/outbox", ROLE_SUPERVISOR, api_figures_outbox, NULL},
    {"GET", "/v1/users", ROLE_SUPERVISOR, api_figures_users, NULL},
    {"GET", "/v1/people", ANYONE_READING, api_figures_people, NULL},
    {"GET", "/v1/strategies", ROLE_SUPERVISOR, api_strategies, NULL},
    {"POST", "/v1/simulations", ROLE_SUPERVISOR, api_simulate, NULL},
    {"GET", "/v1/simulations", ROLE_SUPERVISOR | ROLE_READ, api_simulations,
     NULL},
    {"GET", "/v1/simulations/{}", ROLE_SUPERVISOR | ROLE_READ, api_simulation,
     NULL},
};
enum { NROUTES = sizeof routes / sizeof routes[0] };
_Static_assert((int)NROUTES <= (int)MAX_ROUTES,
               "service.h counts requests by route");

int api_route_count(void) {
  return NROUTES;
}

void api_route_at(int i, const char **method, const char **pattern,
                  int *roles) {
  *method = routes[i].method;
  *pattern = routes[i].pattern;
  *roles = routes[i].roles;
}

/* The most cases one list request reads: 10,000 take about 5 ms. A
 * filter that matches few cases then answers short pages with a cursor
 * instead of holding up the service (a rare state at a million cases took
 * 0.1 s warm, 1.8 s cold). */
enum { CASES_WINDOW = 10000 };

/* --- answers ---------------------------------------------------------- */

int api_status_of(int rc) {
  switch (rc) {
    case RC_EINVAL:
      return 422;
    case RC_ENOTFOUND:
      return 404;
    case RC_ECONFLICT:
      return 409;
    case RC_ESTORE:
    case RC_EIO:
      return 503;
    case RC_ESCRIPT: /* the lender's script failed, not the caller */
      return 500;
  }
  return 500;
}

const char *api_code_of(int rc) {
  switch (rc) {
    case RC_EINVAL:
      return "invalid";
    case RC_ENOTFOUND:
      return "not_found";
    case RC_ECONFLICT:
      return "conflict";
    case RC_ESTORE:
    case RC_EIO:
      return "unavailable";
    case RC_ESCRIPT:
      return "script_error";
  }
  return "internal";
}

/* Sends text[len] and logs the request; body, when there is one, is the
 * value text encodes (an error's message goes into the log). */
static void api_send(service *svc, http_request *req, int route, int status,
                     const char *text, size_t len, const json_t *body,
                     const char *extra_headers) {
  /* An answer about people and their debts is kept by no cache: not the
   * browser's (a shared computer's back button), not a proxy's. */
  static const char no_store[] = "Cache-Control: no-store\r\n";
  char small[512], *headers = small;
  size_t extra_len = extra_headers ? strlen(extra_headers) : 0;
  double ms = (double)(uv_hrtime() - req->started_ns) / 1e6;
  static const double bounds[LATENCY_BUCKETS] = {1,   5,   10,   25,   50,
                                                 100, 250, 1000, 1e300};
  int klass = status >= 200 && status < 600 ? status / 100 - 2 : 4;
  json_t *log;
  if (route >= 0 && route < MAX_ROUTES) svc->requests[route][klass]++;
  for (int i = 0; i < LATENCY_BUCKETS; i++)
    if (ms <= bounds[i]) svc->latency[i]++;
  svc->latency_sum += ms / 1000.0;
  svc->latency_count++;
  log = json_pack("{s:s, s:s, s:s, s:i, s:f}", "msg", "request", "method",
                  req->method, "route",
                  route >= 0 ? routes[route].pattern : req->path, "status",
                  status, "ms", (double)(int64_t)(ms * 1000 + 0.5) / 1000);
  {
    /* Who asked: the peer, or the client a trusted proxy names (never a
     * forwarded address from anyone else: docs/operations.md). */
    char client[64];
    int tls;
    session_client(svc, req, client, sizeof client, &tls);
    if (client[0]) json_object_set_new(log, "client", json_string(client));
  }
  if (status >= 400 && body) {
    const char *m = json_string_value(
        json_object_get(json_object_get(body, "error"), "message"));
    if (m) {
      char masked[1024];
      service_mask(m, masked, sizeof masked);
      json_object_set_new(log, "error", json_string(masked));
    }
  }
  service_log(status >= 500 ? "error" : "info", log);
  if (sizeof no_store + extra_len > sizeof small &&
      !(headers = malloc(sizeof no_store + extra_len)))
    headers = (char *)no_store; /* out of memory: the extra lines go */
  else
    snprintf(headers, sizeof no_store + extra_len, "%s%s", no_store,
             extra_headers ? extra_headers : "");
  http_respond(req, status, "application/json", text, len, headers);
  if (headers != small && headers != no_store) free(headers);
}

void api_reply(service *svc, http_request *req, int route, int status,
               json_t *body, const char *extra_headers) {
  char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER)
                    : strdup(status == 204 ? "" : "{}");
  api_send(svc, req, route, status, text ? text : "{}", text ? strlen(text) : 2,
           body, extra_headers);
  free(text);
  json_decref(body);
}

void api_reply_text(service *svc, http_request *req, int route, int status,
                    const char *text, size_t len, const char *extra_headers) {
  api_send(svc, req, route, status, text, len, NULL, extra_headers);
}

/* msg as an HTTP caller reads it: a script's place by its path inside
 * the institution ("recoup.lua:10: amount too small", not
 * "/srv/recoup/recoup.lua:10: ..."), a shipped module's inside the shipped
 * scripts: a caller with an ingest token learns nothing of the machine,
 * and the lender finds the file from the institution. A path is cut where
 * it begins a word (scripts name files as "DIR/file.lua:LINE:"), so that
 * a directory "." does not cut "../" out of other words. Lua names a file
 * whose path is longer than 59 bytes by its end after "..."
 * ("...nce-production/inst/recoup.lua:10:"): the directory's end is cut
 * there too. A directory named alone (require's "not found in DIR or
 * DIR") is said in words; a relative one ("." when served from inside)
 * tells nothing and is left so (inside_put, api_inside_dup). */
/* Whether at holds the k bytes of end, the end of a directory, as Lua
 * cut it: bytes of a character it cut in two are '?' (script.c mends
 * them so). */
static int dir_end_at(const char *at, const char *end, size_t k) {
  size_t j = 0;
  while (j < k && at[j] == '?' && ((unsigned char)end[j] & 0xC0) == 0x80) j++;
  return strncmp(at + j, end + j, k - j) == 0;
}

/* The walk: the length of msg as a caller reads it, written to buf as
 * well when buf is not NULL (room for that length and a NUL). */
static size_t inside_put(const service *svc, const char *msg, char *buf) {
  const char *dirs[2] = {script_config(engine_script(svc->eng))->dir,
                         script_shipped_dir()};
  static const char *const said[2] = {"the institution", "the shipped scripts"};
  size_t o = 0;
  for (const char *p = msg; *p;) {
    size_t n = 0;
    const char *put = p;
    size_t len = 1;
    if (p == msg || strchr(" \t\n'\"`(<", p[-1]))
      for (int i = 0; i < 2 && !n; i++) {
        size_t d = strlen(dirs[i]);
        if (!d) continue;
        if (strncmp(p, dirs[i], d) == 0 && p[d] == '/') {
          n = d + 1, len = 0;
        } else if (dirs[i][0] != '/' || d < 2) {
          continue; /* "." or "inst": nothing of the machine, and "."
                       alone is a word */
        } else if (strncmp(p, dirs[i], d) == 0 &&
                   (!p[d] || strchr(" '\"`),;:", p[d]))) {
          n = d, put = said[i], len = strlen(said[i]);
        } else if (strncmp(p, "...", 3) == 0) {
          /* the longest end of the directory that is there, then '/' */
          for (size_t k = d; k > 0 && !n; k--)
            if (dir_end_at(p + 3, dirs[i] + d - k, k) && p[3 + k] == '/')
              n = 3 + k + 1, len = 0;
        }
      }
    if (buf) memcpy(buf + o, put, len);
    o += len;
    p += n ? n : 1;
  }
  if (buf) buf[o] = '\0';
  return o;
}

/* api_inside into a string of its own, sized by a first walk (NULL when
 * out of memory). A message that named a short folder alone ("not found
 * in /srv/recoup or /opt/recoup", as error(e, 0) re-raises require's)
 * grows when the folder is said in words: sized to msg alone it went out
 * as it was, folders and all; sized at ten times msg, a long message (a
 * script's error quoting a big value) took ten times its memory. */
static char *api_inside_dup(const service *svc, const char *msg) {
  size_t n = inside_put(svc, msg, NULL);
  char *buf = n < SIZE_MAX ? malloc(n + 1) : NULL;
  if (buf) inside_put(svc, msg, buf);
  return buf;
}

/* obj[key], a stored error a script wrote, as api_inside shows it: a
 * case's error names /srv/recoup/recoup.lua:10 in the book (the log, the
 * CLI's `recoup errors` keep it); a supervisor over HTTP or in the
 * console reads recoup.lua:10 as the HTTP refusals say it. */
static void api_inside_key(const service *svc, json_t *obj, const char *key) {
  const char *msg = json_string_value(json_object_get(obj, key));
  char *inside = msg ? api_inside_dup(svc, msg) : NULL;
  if (msg) /* out of memory: nothing that may name a folder */
    json_object_set_new(obj, key,
                        json_string(inside ? inside : "(out of memory)"));
  free(inside);
}

/* Every error is {"error": {"code", "message", "field"}}, field null
 * where no one field or parameter is at fault. */
static void api_error_with(service *svc, http_request *req, int route,
                           int status, const char *code, const char *field,
                           const char *message, const char *extra_headers) {
  char *inside = api_inside_dup(svc, message);
  json_t *e;
  /* Out of memory: no answer that may name a folder. */
  if (!inside) message = "(out of memory)";
  else message = inside;
  e = json_pack("{s:{s:s, s:s, s:s?}}", "error", "code", code, "message",
                message, "field", field && *field ? field : NULL);
  free(inside);
  /* A message quoting bytes that are not UTF-8 cannot be JSON: the
   * answer still says what went wrong. */
  if (!e)
    e = json_pack("{s:{s:s, s:s, s:n}}", "error", "code", code, "message",
                  "(the message is not valid UTF-8)", "field");
  api_reply(svc, req, route, status, e, extra_headers);
}

void api_error_headers(service *svc, http_request *req, int route, int status,
                       const char *code, const char *field, const char *message,
                       const char *extra_headers) {
  api_error_with(svc, req, route, status, code, field, message, extra_headers);
}

void api_error(service *svc, http_request *req, int route, int status,
               const char *code, const char *field, const char *message) {
  api_error_with(svc, req, route, status, code, field, message,
                 status == 503 ? "Retry-After: 1\r\n" : NULL);
}

static void api_fail(service *svc, http_request *req, int route,
                     const rc_error *err) {
  api_error(svc, req, route, api_status_of(err->code), api_code_of(err->code),
            err->field, err->message);
}

/* --- routing and roles ------------------------------------------------ */

/* Matches path against pattern; "{}" takes one segment into arg. */
static int match(const char *pattern, const char *path, char *arg,
                 size_t size) {
  while (*pattern && *path) {
    if (pattern[0] == '{' && pattern[1] == '}') {
      const char *end = strchr(path, '/');
      size_t len = end ? (size_t)(end - path) : strlen(path);
      if (len == 0 || len >= size) return 0;
      memcpy(arg, path, len);
      arg[len] = '\0';
      path += len;
      pattern += 2;
    } else if (*pattern++ != *path++) {
      return 0;
    }
  }
  return *pattern == '\0' && *path == '\0';
}

/* Compares without an early exit, so timing tells nothing of the token. */
static int same_token(const char *given, const char *want) {
  size_t n = strlen(want), m = strlen(given);
  unsigned char diff = (unsigned char)(n != m);
  for (size_t i = 0; i < n; i++)
    diff |= (unsigned char)(want[i] ^ (i < m ? given[i] : 0));
  return n > 0 && diff == 0;
}

/* What identify found besides roles. */
enum { IDENT_NONE = 0, IDENT_BAD = -1, IDENT_ENDED = -2 };

/* Who sent the request: the roles of the bearer token it carries, else
 * of the console session its cookie names (session.c). A token wins over
 * a cookie: a machine does not borrow a person's session. IDENT_NONE with
 * no credential, IDENT_BAD with one that proves nothing, IDENT_ENDED with
 * a session cookie of ours whose session has ended or timed out (the
 * console then asks to sign in again, keeping the page). */
static int identify(service *svc, const http_request *req, principal *who) {
  const char *auth = req->authorization;
  memset(who, 0, sizeof *who);
  if (!auth) {
    switch (session_identify(svc, req, who)) {
      case SESSION_OK:
        return who->roles;
      case SESSION_ENDED:
        return IDENT_ENDED;
      case SESSION_BAD:
        return IDENT_BAD;
    }
    return IDENT_NONE;
  }
  if (strncasecmp(auth, "Bearer ", 7) != 0) return IDENT_BAD;
  auth += 7;
  for (int i = 0; i < 4; i++)
    if (same_token(auth, svc->tokens[i])) who->roles |= 1 << i;
  return who->roles ? who->roles : IDENT_BAD;
}

/* A write sent with the session cookie must come from the console's own
 * page: its Origin (when the browser sends one) is ours, and it carries
 * the session's CSRF token, which another site's page cannot read. A
 * bearer token needs neither: no browser sends it by itself. Sign-in
 * checks its own (it has no session yet). Returns 0, or answers 403. */
static int csrf_refused(service *svc, http_request *req, int route,
                        const principal *who) {
  if (!who->by_session || strcmp(req->method, "GET") == 0 ||
      strcmp(req->method, "HEAD") == 0 || routes[route].read == api_sign_in)
    return 0;
  if (!session_same_origin(req)) {
    api_error(svc, req, route, 403, "csrf", "Origin",
              "a write from another site's page is refused");
    return 1;
  }
  if (!session_csrf_ok(req, who)) {
    api_error(svc, req, route, 403, "csrf", "X-CSRF-Token",
              "a write with the session cookie needs the session's "
              "X-CSRF-Token header");
    return 1;
  }
  return 0;
}

/* Percent-decoding of the path's {id} in place. An id may hold anything
 * printable, '/' included (%2F); it may not hold a NUL, a control
 * character or bytes that are not UTF-8: "MF00001%00junk" is not case
 * MF00001. The field is named for the segment before it ("cases" names
 * "case"). */
static int decode(const char *pattern, char *arg, char *field, size_t size) {
  const char *brace = strstr(pattern, "/{}"), *seg = brace;
  while (seg > pattern && seg[-1] != '/') seg--;
  snprintf(field, size, "%.*s", (int)(brace - seg), seg);
  if (field[0] && field[strlen(field) - 1] == 's')
    field[strlen(field) - 1] = '\0';
  return http_unescape(arg, strlen(arg), 0, arg, strlen(arg) + 1);
}

static const char *unescape_problem(int rc) {
  switch (rc) {
    case HTTP_BAD_ESCAPE:
      return "a '%' not followed by two hex digits";
    case HTTP_BAD_TEXT:
      return "a control character or bytes that are not UTF-8";
    case HTTP_DUPLICATE:
      return "given twice";
  }
  return "more than fits";
}

/* The Allow header of a 405 (RFC 9110 15.5.6): every method the path
 * takes. */
static void allow_header(const char *path, char *out, size_t size) {
  char arg[512];
  size_t at = (size_t)snprintf(out, size, "Allow:");
  for (int i = 0; i < NROUTES && at < size; i++)
    if (match(routes[i].pattern, path, arg, sizeof arg))
      at +=
          (size_t)snprintf(out + at, size - at, "%s %s",
                           at > strlen("Allow:") ? "," : "", routes[i].method);
  if (at < size) snprintf(out + at, size - at, "\r\n");
}

int api_route(const char *method, const char *path, char *arg, size_t size) {
  int known = 0;
  for (int i = 0; i < NROUTES; i++) {
    if (!match(routes[i].pattern, path, arg, size)) continue;
    known = 1;
    if (strcmp(routes[i].method, method) == 0) return i;
  }
  return known ? -2 : -1;
}

void api_handle(void *ud, http_request *req) {
  service *svc = ud;
  char arg[512] = "";
  int found = -1, path_known = 0, ident;
  principal who;
  if (console_owns(req->path)) { /* the web console's page and files */
    const institution_config *cfg = script_config(engine_script(svc->eng));
    console_page words = {cfg->locale, institution_name(cfg, cfg->locale)};
    console_handle(req, &words);
    return;
  }
  for (int i = 0; i < NROUTES; i++) {
    if (!match(routes[i].pattern, req->path, arg, sizeof arg)) continue;
    path_known = 1;
    if (strcmp(routes[i].method, req->method) == 0) {
      found = i;
      break;
    }
  }
  if (found < 0 && path_known) {
    char allow[128];
    allow_header(req->path, allow, sizeof allow);
    api_error_with(svc, req, -1, 405, "method_not_allowed", NULL,
                   "this route takes another method", allow);
    return;
  }
  if (found < 0) {
    api_error(svc, req, -1, 404, "not_found", NULL, "no such route");
    return;
  }
  {
    char field[64], name[64], msg[160];
    int rc;
    if (strstr(routes[found].pattern, "{}") &&
        (rc = decode(routes[found].pattern, arg, field, sizeof field)) < 0) {
      snprintf(msg, sizeof msg, "the %s id in the path holds %s", field,
               unescape_problem(rc));
      api_error(svc, req, found, 400, "bad_request", field, msg);
      return;
    }
    if ((rc = http_query_check(req, name, sizeof name)) != 0) {
      snprintf(msg, sizeof msg, "query parameter %s: %s", name,
               unescape_problem(rc));
      api_error(svc, req, found, 400, "bad_request", name[0] ? name : "query",
                msg);
      return;
    }
  }
  ident = identify(svc, req, &who);
  if (routes[found].roles) {
    int roles = who.roles;
    if (roles == 0 && ident == IDENT_ENDED) {
      api_error(svc, req, found, 401, "session_expired", NULL,
                "the session has ended or timed out: sign in again");
      return;
    }
    if (roles == 0) {
      api_error(svc, req, found, 401, "unauthorized", NULL,
                "a valid bearer token or a console session is required");
      return;
    }
    req->trusted = 1; /* a valid token: its connection is kept longest */
    if (!(roles & (routes[found].roles | ROLE_ADMIN))) {
      char msg[160];
      static const char *const names[] = {"ingest", "agent", "read", "admin"};
      size_t n = (size_t)snprintf(msg, sizeof msg, "this route needs the ");
      int first = 1;
      for (int i = 0; i < 4 && n < sizeof msg; i++)
        if ((routes[found].roles | ROLE_ADMIN) & (1 << i)) {
          n += (size_t)snprintf(msg + n, sizeof msg - n, "%s%s",
                                first ? "" : " or ", names[i]);
          first = 0;
        }
      if (n < sizeof msg)
        snprintf(msg + n, sizeof msg - n, " token%s",
                 routes[found].roles & ROLE_SUPERVISOR ? " or a supervisor"
                                                        : "");
      api_error(svc, req, found, 403, "forbidden", NULL, msg);
      return;
    }
  }
  if (csrf_refused(svc, req, found, &who)) return;
  if (routes[found].read) {
    routes[found].read(svc, req, found, arg, &who);
    return;
  }
  {
    job *j;
    json_t *body = NULL;
    if (svc->draining) {
      api_error(svc, req, found, 503, "shutting_down", NULL,
                "the service is shutting down");
      return;
    }
    if (svc->queued >= MAX_QUEUE) {
      api_error(svc, req, found, 503, "busy", NULL,
                "too many writes waiting; retry shortly");
      return;
    }
    if (req->body_len > 0) {
      rc_error err;
      switch (input_json_load(req->body, req->body_len, 1, &body, &err)) {
        case INPUT_JSON_SYNTAX:
          api_error(svc, req, found, 400, "bad_json", err.field, err.message);
          return;
        case INPUT_JSON_REFUSED:
          api_error(svc, req, found, 422, "invalid", err.field, err.message);
          return;
      }
    }
    j = calloc(1, sizeof *j);
    if (!j) {
      json_decref(body);
      api_error(svc, req, found, 503, "busy", NULL, "out of memory");
      return;
    }
    j->req = req;
    j->apply = routes[found].write;
    j->body = body;
    j->arg = strdup(arg);
    j->route = found;
    j->who = who;
    /* A write held for its case (serve.c) keeps later writes to that case
     * behind it: every route that names one case says which. */
    if (j->apply == w_payment)
      j->case_key = json_string_value(json_object_get(body, "case"));
    else if (j->apply == w_cases)
      j->case_key = json_string_value(json_object_get(body, "id"));
    else if (j->apply == w_event || j->apply == w_retry ||
             j->apply == api_case_note || j->apply == api_case_promise)
      j->case_key = j->arg;
    service_enqueue(svc, j);
  }
}

/* --- helpers for bodies ----------------------------------------------- */

static int need_object(json_t *body, rc_error *err) {
  if (!json_is_object(body))
    return rc_error_set(err, RC_EINVAL, NULL, "the body must be a JSON object");
  return RC_OK;
}

/* A body a person or a program writes by hand: an object of these keys
 * alone (input_json_known_keys), so that a misspelt key is refused, not
 * a value dropped. */
static int need_keys(json_t *body, const char *const *known, const char *what,
                     rc_error *err) {
  int rc = need_object(body, err);
  return rc ? rc : input_json_known_keys(body, known, what, err);
}

/* A string field: *out is NULL when absent (or null); a value of another
 * type is refused naming the field, never taken as absent. */
static int body_string(json_t *body, const char *key, const char **out,
                       rc_error *err) {
  json_t *v = json_object_get(body, key);
  *out = NULL;
  if (!v || json_is_null(v)) return RC_OK;
  if (!json_is_string(v))
    return rc_error_set(err, RC_EINVAL, key, "%s must be a string", key);
  *out = json_string_value(v);
  return RC_OK;
}

/* An id field (case, ref, key, assignee): a string, printable, bounded. */
static int body_id(json_t *body, const char *key, const char **out,
                   rc_error *err) {
  int rc = body_string(body, key, out, err);
  if (rc == RC_OK && *out)
    rc = input_check_id(*out, strlen(*out), key, INPUT_ID_MAX, err);
  return rc;
}

/* The clock skew allowed between a payment system and us: a payment dated
 * later than now plus this is refused, not booked in the future. */
enum { PAYMENT_SKEW_MS = 5 * 60 * 1000 };

static int payment_time(service *svc, const char *text, rc_time *at,
                        rc_error *err) {
  rc_clock *clk = engine_clock(svc->eng);
  rc_time now = clock_now(clk);
  char when[40], limit[40];
  if (clock_parse_time(clk, text, at, err) != RC_OK) {
    snprintf(err->field, sizeof err->field, "at");
    return RC_EINVAL;
  }
  if (*at > now + PAYMENT_SKEW_MS) {
    clock_zone_format(clock_zone(clk), *at, when, sizeof when);
    clock_zone_format(clock_zone(clk), now, limit, sizeof limit);
    return rc_error_set(err, RC_EINVAL, "at",
                        "at (%s) is in the future: a payment is dated at most "
                        "5 minutes after now (%s)",
                        when, limit);
  }
  return RC_OK;
}

static int64_t path_id(const char *arg, const char *what, rc_error *err) {
  char *end;
  long long id;
  /* Past 64 bits strtoll answers the largest id: another row's. */
  errno = 0;
  id = strtoll(arg, &end, 10);
  if (*end || id <= 0 || errno == ERANGE) {
    rc_error_set(err, RC_ENOTFOUND, what, "unknown %s %s", what, arg);
    return 0;
  }
  return id;
}

/* --- writes ----------------------------------------------------------- */

/* Cases whose key kept in case.data reads as a contact column (the
 * case is written as given): one warning for the whole body, as import
 * gives one for its file, naming the first (a program posting thousands
 * of cases with a "Mobile" key got a line for each, an answer twice the
 * size of its request). */
typedef struct contact_seen {
  long long cases;
  char id[200], key[100];
} contact_seen;

static void contact_note(contact_seen *seen, json_t *one) {
  const char *key = case_input_contact_key(one), *id;
  if (!key || seen->cases++ > 0) return;
  id = json_string_value(json_object_get(one, "id"));
  rc_printable_line(seen->id, sizeof seen->id, id ? id : "");
  rc_printable_line(seen->key, sizeof seen->key, key);
}

static json_t *contact_warnings(const contact_seen *seen) {
  char msg[600], which[400];
  if (!seen->cases) return NULL;
  if (seen->cases == 1)
    snprintf(which, sizeof which, "case %s: '%s' reads", seen->id, seen->key);
  else
    snprintf(which, sizeof which,
             "%lld cases kept a key that reads as a contact column (first: "
             "case %s, '%s'): each key reads",
             seen->cases, seen->id, seen->key);
  snprintf(msg, sizeof msg,
           "%s as a contact column and is kept in case.data: recoup never "
           "sends to it. Give a borrower's number in borrower.phones (an "
           "email in borrower.emails), or put the key under data to keep it "
           "there on purpose",
           which);
  return json_pack("[s]", msg);
}

static int w_cases(service *svc, job *j, json_t **reply, int *status,
                   rc_error *err) {
  json_t *list = json_is_array(j->body) ? j->body : NULL, *one, *out;
  json_t *warnings;
  contact_seen seen = {0};
  size_t i;
  int created_n = 0, updated_n = 0, rc = RC_OK;
  if (!list && !json_is_object(j->body))
    return rc_error_set(err, RC_EINVAL, NULL,
                        "the body must be a case object or an array of them");
  if (list && json_array_size(list) == 0)
    return rc_error_set(err, RC_EINVAL, NULL,
                        "the array holds no case: nothing to open or update");
  out = json_array();
  if (list) {
    json_array_foreach(list, i, one) {
      int created = 0;
      if ((rc = engine_upsert_case(svc->eng, one, 0, &created, err))) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "case %zu: %s", i + 1, err->message);
        snprintf(err->message, sizeof err->message, "%s", msg);
        break;
      }
      json_array_append_new(
          out, json_pack("{s:s, s:b}", "id",
                         json_string_value(json_object_get(one, "id")),
                         "created", created));
      contact_note(&seen, one);
      created ? created_n++ : updated_n++;
    }
  } else {
    int created = 0;
    rc = engine_upsert_case(svc->eng, j->body, 0, &created, err);
    if (rc == RC_OK) {
      json_array_append_new(
          out, json_pack("{s:s, s:b}", "id",
                         json_string_value(json_object_get(j->body, "id")),
                         "created", created));
      contact_note(&seen, j->body);
      created ? created_n++ : updated_n++;
    }
  }
  if (rc != RC_OK) {
    json_decref(out);
    return rc;
  }
  *status = created_n ? 201 : 200;
  *reply = json_pack("{s:i, s:i, s:o}", "created", created_n, "updated",
                     updated_n, "cases", out);
  if (*reply && (warnings = contact_warnings(&seen)))
    json_object_set_new(*reply, "warnings", warnings);
  return RC_OK;
}

int api_idempotency_key(job *j, const char **key, rc_error *err) {
  int rc;
  if ((rc = body_id(j->body, "key", key, err))) return rc;
  /* Two keys that differ: which one names the write is a guess, and the
   * wrong guess writes a retry twice. */
  if (*key && j->req->idempotency_key &&
      strcmp(*key, j->req->idempotency_key) != 0)
    return rc_error_set(err, RC_EINVAL, "key",
                        "key and the Idempotency-Key header differ: give "
                        "one, or the same in both");
  if (!*key && (*key = j->req->idempotency_key) &&
      (rc = input_check_id(*key, strlen(*key), "Idempotency-Key", INPUT_ID_MAX,
                           err)))
    return rc;
  return RC_OK;
}

static int w_event(service *svc, job *j, json_t **reply, int *status,
                   rc_error *err) {
  static const char *const known[] = {"type", "data", "key", NULL};
  const char *type, *key;
  json_t *data;
  int rc, duplicate = 0;
  if ((rc = need_keys(j->body, known, "an event", err))) return rc;
  if ((rc = body_string(j->body, "type", &type, err))) return rc;
  if (!type) return rc_error_set(err, RC_EINVAL, "type", "type is required");
  if ((rc = input_check_name(type, "type", err))) return rc;
  data = json_object_get(j->body, "data");
  if ((rc = api_idempotency_key(j, &key, err))) return rc;
  rc = engine_post(svc->eng, j->arg, type, data, key, &duplicate, err);
  if (rc == RC_OK && duplicate) {
    *status = 200;
    *reply = json_pack("{s:s, s:s}", "status", "duplicate", "key", key);
    return RC_OK; /* acknowledged, not applied twice */
  }
  if (rc) return rc;
  *status = 202;
  *reply = json_pack("{s:s, s:s}", "status", "queued", "type", type);
  return RC_OK;
}

static int w_payment(service *svc, job *j, json_t **reply, int *status,
                     rc_error *err) {
  static const char *const known[] = {"case", "amount", "ref", "at",
                                      "currency", NULL};
  const char *case_id, *ref, *at_text, *currency, *why;
  char code[24];
  json_t *amount;
  rc_time at = 0;
  int rc, duplicate = 0;
  if ((rc = need_keys(j->body, known, "a payment", err))) return rc;
  if ((rc = body_id(j->body, "case", &case_id, err))) return rc;
  if (!case_id) return rc_error_set(err, RC_EINVAL, "case", "case is required");
  amount = json_object_get(j->body, "amount");
  if (!json_is_integer(amount)) {
    /* A bank feed's "50.00" or 50.0: the answer says what to send. */
    char got[64] = "";
    if (json_is_real(amount)) {
      snprintf(got, sizeof got, ", not %g", json_real_value(amount));
    } else if (json_is_string(amount)) {
      char shown[40];
      rc_printable(shown, sizeof shown, json_string_value(amount));
      snprintf(got, sizeof got, ", not the string \"%s\"", shown);
    }
    /* The institution's currency: the case's is not read before the
     * body is (a payment is for the case's own, nearly always the same). */
    char example[64];
    return rc_error_set(
        err, RC_EINVAL, "amount",
        "amount %s a JSON integer of minor units (%s)%s",
        amount && !json_is_null(amount) ? "must be" : "is required:",
        template_money_example(
            script_config(engine_script(svc->eng))->currency, example,
            sizeof example),
        got);
  }
  if ((rc = body_string(j->body, "ref", &ref, err))) return rc;
  if (!ref || !*ref)
    return rc_error_set(err, RC_EINVAL, "ref",
                        "ref is required: it makes the payment idempotent");
  if ((rc = input_check_id(ref, strlen(ref), "ref", INPUT_ID_MAX, err)))
    return rc;
  if ((rc = body_string(j->body, "at", &at_text, err))) return rc;
  if (at_text && (rc = payment_time(svc, at_text, &at, err))) return rc;
  if ((rc = body_string(j->body, "currency", &currency, err))) return rc;
  /* A code as a feed mistypes it ("cny", "CNY ", "") is said as such, as
   * an import says it, before the ref or the case is looked at: compared
   * with the case's, 'cny' read as another currency than CNY, and the
   * refusal advised importing the case again in it. */
  if (currency && (why = template_currency_refused(currency))) {
    rc_printable(code, sizeof code, currency);
    return rc_error_set(err, RC_EINVAL, "currency", "currency '%s' %s", code,
                        why);
  }
  rc = engine_pay_in(svc->eng, case_id, json_integer_value(amount), currency,
                     ref, at, &duplicate, err);
  if (rc == RC_OK && duplicate) {
    *status = 200;
    *reply = json_pack("{s:s, s:s}", "status", "duplicate", "ref", ref);
    return RC_OK;
  }
  if (rc) return rc;
  *status = 201;
  *reply = json_pack("{s:s, s:s, s:I, s:s}", "status", "applied", "case",
                     case_id, "amount", json_integer_value(amount), "ref", ref);
  return RC_OK;
}

const char *api_payment_ref(const job *j) {
  json_t *ref;
  if (j->apply != w_payment || !json_is_object(j->body)) return NULL;
  ref = json_object_get(j->body, "ref");
  return json_is_string(ref) ? json_string_value(ref) : NULL;
}

static int w_claim(service *svc, job *j, json_t **reply, int *status,
                   rc_error *err) {
  static const char *const known[] = {"assignee", NULL};
  int64_t id = path_id(j->arg, "task", err);
  const char *who;
  int rc;
  if (!id) return RC_ENOTFOUND;
  if ((rc = api_task_scope(svc, &j->who, id, err))) return rc;
  /* No body is a console user's claim for itself. */
  if (j->body && (rc = need_keys(j->body, known, "a claim", err))) return rc;
  if ((rc = body_id(j->body, "assignee", &who, err))) return rc;
  /* A console user claims for itself. */
  if (j->who.user[0]) who = j->who.user;
  if ((rc = engine_task_claim(svc->eng, id, who, err))) return rc;
  *status = 200;
  *reply = json_pack("{s:I, s:s, s:s}", "task", (json_int_t)id, "status",
                     "claimed", "assignee", who);
  return RC_OK;
}

static int w_complete(service *svc, job *j, json_t **reply, int *status,
                      rc_error *err) {
  int64_t id = path_id(j->arg, "task", err);
  json_t *result = NULL;
  int rc, duplicate = 0;
  if (!id) return RC_ENOTFOUND;
  if ((rc = api_task_scope(svc, &j->who, id, err))) return rc;
  if ((rc = need_object(j->body, err))) return rc;
  if ((rc = api_task_take(svc, &j->who, id, err))) return rc;
  if ((rc = engine_task_complete(svc->eng, id, j->body, &result, &duplicate,
                                 err)))
    return rc;
  *status = 200;
  *reply = json_pack("{s:I, s:s, s:o}", "task", (json_int_t)id, "status",
                     duplicate ? "duplicate" : "done", "result",
                     result ? result : json_null());
  return RC_OK;
}

static int w_receipt(service *svc, job *j, json_t **reply, int *status,
                     rc_error *err) {
  int64_t id = path_id(j->arg, "message", err);
  const char *st;
  int rc, duplicate = 0;
  if (!id) return RC_ENOTFOUND;
  if ((rc = body_string(j->body, "status", &st, err))) return rc;
  if ((rc = engine_receipt(svc->eng, id, st, &duplicate, err))) return rc;
  *status = 200;
  *reply = json_pack("{s:I, s:s}", "message", (json_int_t)id, "status",
                     duplicate ? "duplicate" : st);
  return RC_OK;
}

static int w_reply(service *svc, job *j, json_t **reply, int *status,
                   rc_error *err) {
  char case_id[160];
  const char *case_given, *from, *text;
  int rc;
  if ((rc = need_object(j->body, err)) ||
      (rc = body_id(j->body, "case", &case_given, err)) ||
      (rc = body_string(j->body, "from", &from, err)) ||
      (rc = body_string(j->body, "text", &text, err)))
    return rc;
  rc = engine_reply(svc->eng, case_given, from, text, case_id, err);
  if (rc) return rc;
  *status = 202;
  *reply = json_pack("{s:s, s:s}", "status", "queued", "case", case_id);
  return RC_OK;
}

static int w_retry(service *svc, job *j, json_t **reply, int *status,
                   rc_error *err) {
  int rc = engine_retry(svc->eng, j->arg, err);
  if (rc) return rc;
  *status = 202;
  *reply = json_pack("{s:s, s:s}", "status", "queued", "case", j->arg);
  return RC_OK;
}

/* {"all": true} or {"cases": [ids]}: the cases re-queued and, for a
 * list, those refused (unknown: 404, not in error: 409). With none
 * re-queued the answer is the first refusal's status. */
enum { RETRY_LISTED = 1000 };

static void add_queued(void *ud, const char *case_id) {
  if (json_array_size(ud) < RETRY_LISTED)
    json_array_append_new(ud, json_string(case_id));
}

static int w_retry_many(service *svc, job *j, json_t **reply, int *status,
                        rc_error *err) {
  static const char *const known[] = {"all", "cases", NULL};
  json_t *all, *list, *id, *queued, *refused;
  size_t i;
  int rc, count = 0;
  if ((rc = need_keys(j->body, known, "a retry", err))) return rc;
  all = json_object_get(j->body, "all");
  list = json_object_get(j->body, "cases");
  if (all && !json_is_boolean(all))
    return rc_error_set(err, RC_EINVAL, "all", "all must be true or false");
  if (json_is_true(all) == (list != NULL))
    return rc_error_set(err, RC_EINVAL, "cases",
                        "give {\"all\": true} or {\"cases\": [ids]}");
  if (list && (!json_is_array(list) || json_array_size(list) == 0 ||
               json_array_size(list) > RETRY_LISTED))
    return rc_error_set(err, RC_EINVAL, "cases",
                        "cases must be a list of 1 to %d case ids",
                        RETRY_LISTED);
  json_array_foreach(list, i, id) {
    if (!json_is_string(id))
      return rc_error_set(err, RC_EINVAL, "cases",
                          "cases[%zu] must be a case id (a string)", i);
  }
  queued = json_array();
  refused = json_array();
  if (!list) {
    rc = engine_retry_all(svc->eng, add_queued, queued, &count, err);
  } else {
    json_array_foreach(list, i, id) {
      rc = engine_retry(svc->eng, json_string_value(id), err);
      if (rc == RC_ENOTFOUND || rc == RC_ECONFLICT) {
        json_array_append_new(
            refused, json_pack("{s:o, s:i, s:s, s:s}", "case", json_copy(id),
                               "status", api_status_of(rc), "code",
                               api_code_of(rc), "message", err->message));
        rc = RC_OK;
      } else if (rc == RC_OK) {
        add_queued(queued, json_string_value(id));
        count++;
      } else {
        break;
      }
    }
  }
  if (rc != RC_OK) {
    json_decref(queued);
    json_decref(refused);
    return rc;
  }
  *reply = json_pack("{s:s, s:i, s:o, s:o}", "status", "queued", "queued",
                     count, "cases", queued, "refused", refused);
  *status = 202;
  if (list && count == 0) {
    json_t *first = json_array_get(refused, 0);
    *status = (int)json_integer_value(json_object_get(first, "status"));
    json_object_set_new(
        *reply, "error",
        json_pack("{s:O, s:O, s:s}", "code", json_object_get(first, "code"),
                  "message", json_object_get(first, "message"), "field",
                  "cases"));
    json_object_set_new(*reply, "status", json_string("refused"));
  }
  return RC_OK;
}

/* --- reads ------------------------------------------------------------ */

/* Text as stored: a case's error written by a version before 32 could
 * be cut inside a character, and json_pack refused the whole case for it
 * (GET /v1/cases/ID answered {}; a list dropped the key). The bytes that
 * are not UTF-8 show as U+FFFD; the rest of the text stays readable. */
static json_t *stored_text(const char *s) {
  size_t n;
  char *clean;
  json_t *j;
  if (!s) return json_null();
  if ((j = json_string(s))) return j;
  n = 3 * strlen(s) + 1;
  if (!(clean = malloc(n))) return json_null();
  rc_utf8_lossy(clean, n, s);
  j = json_string(clean);
  free(clean);
  return j ? j : json_null();
}

static json_t *value_json(const store_value *v) {
  switch (v->type) {
    case STORE_INT:
      return json_integer(v->i);
    case STORE_REAL:
      return json_real(v->r);
    case STORE_TEXT:
      return stored_text(v->s);
  }
  return json_null();
}

typedef struct rows {
  service *svc;
  json_t *list;
  char last[512];
  int64_t last_id;
} rows;

json_t *api_row_json(service *svc, const store_value *cols, int n) {
  json_t *row = json_object();
  for (int i = 0; i < n; i++) {
    const store_value *v = &cols[i];
    int kind = query_column_kind(v->name);
    if (kind == QUERY_TIME && v->type == STORE_INT) {
      char at[40];
      clock_zone_format(clock_zone(engine_clock(svc->eng)), v->i, at, sizeof at);
      json_object_set_new(row, v->name, json_string(at));
    } else if (kind == QUERY_JSON && v->type == STORE_TEXT) {
      json_t *d = json_loads(v->s, JSON_DECODE_ANY, NULL);
      json_object_set_new(row, v->name, d ? d : json_string(v->s));
    } else {
      json_object_set_new(row, v->name, value_json(v));
    }
  }
  return row;
}

static int add_row(void *ud, const store_value *cols, int n) {
  rows *r = ud;
  json_t *row = api_row_json(r->svc, cols, n);
  for (int i = 0; i < n; i++) {
    const store_value *v = &cols[i];
    if (!strcmp(v->name, "id")) {
      if (v->type == STORE_TEXT)
        snprintf(r->last, sizeof r->last, "%s", v->s);
      else
        r->last_id = v->i;
    }
  }
  json_array_append_new(r->list, row);
  return 0;
}

/* Pages: limit is 1 to PAGE_MAX items (PAGE_DEFAULT when absent), in
 * decimal digits; after is the `next` of the page before: a case id on
 * /v1/cases (after_id NULL), a row or task id on the journal and tasks.
 * Anything else is 422 naming the parameter, never read as a default
 * ("limit=abc" was one item, "after=abc" the first page). */
enum { PAGE_MAX = 1000, PAGE_DEFAULT = 100 };

static int digits_value(const char *s, int64_t max, int64_t *out) {
  int64_t v = 0;
  if (!*s) return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > (max - (*s - '0')) / 10) return -1;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return 0;
}

static int page_params(const http_request *req, int *limit, char *after,
                       size_t size, int64_t *after_id, rc_error *err) {
  char buf[32];
  int64_t v = PAGE_DEFAULT;
  int rc = http_query(req, "limit", buf, sizeof buf);
  if (rc < 0 || (rc > 0 && (digits_value(buf, PAGE_MAX, &v) || v < 1)))
    return rc_error_set(err, RC_EINVAL, "limit",
                        "limit must be a whole number from 1 to %d", PAGE_MAX);
  *limit = (int)v;
  if (after_id) {
    char id[32];
    *after_id = 0;
    rc = http_query(req, "after", id, sizeof id);
    if (rc < 0 || (rc > 0 && digits_value(id, INT64_MAX, after_id)))
      return rc_error_set(err, RC_EINVAL, "after",
                          "after must be the `next` of the page before: a "
                          "whole number");
    return RC_OK;
  }
  after[0] = '\0';
  rc = http_query(req, "after", after, size);
  if (rc < 0 || (rc > 0 && (!after[0] || strlen(after) > INPUT_ID_MAX)))
    return rc_error_set(err, RC_EINVAL, "after",
                        "after must be the `next` of the page before: a "
                        "case id of 1 to %d bytes",
                        INPUT_ID_MAX);
  return RC_OK;
}

/* `next` on a page of rows with integer ids: the last id when the page is
 * full, else null (the last page). */
static void page_next_id(json_t *out, const rows *r, int limit) {
  json_object_set_new(out, "next",
                      (int)json_array_size(r->list) == limit
                          ? json_integer(r->last_id)
                          : json_null());
}

/* A filter longer than any state, queue or status is refused, not cut. */
static int filter_params(const http_request *req, const char *a, const char *b,
                         rc_error *err) {
  char buf[64];
  if (http_query(req, a, buf, sizeof buf) < 0)
    return rc_error_set(err, RC_EINVAL, a, "%s is longer than %zu bytes", a,
                        sizeof buf - 1);
  if (b && http_query(req, b, buf, sizeof buf) < 0)
    return rc_error_set(err, RC_EINVAL, b, "%s is longer than %zu bytes", b,
                        sizeof buf - 1);
  return RC_OK;
}

/* A task's status is one of four; another filters nothing, so it is
 * refused rather than answered with an empty list. */
static int task_status_param(const http_request *req, rc_error *err) {
  static const char *const known[] = {"open", "claimed", "done", "cancelled",
                                      NULL};
  char status[16];
  int rc = http_query(req, "status", status, sizeof status);
  if (rc == 0) return RC_OK;
  for (int k = 0; rc > 0 && known[k]; k++)
    if (!strcmp(status, known[k])) return RC_OK;
  return rc_error_set(err, RC_EINVAL, "status",
                      "status must be open, claimed, done or cancelled");
}


/* The read role sees contact points masked (DESIGN.md "Who sees what"):
 * phones and e-mails as the logs show them, addresses cut to their first
 * characters. Agents, who call and visit, and admins see them whole. */
static int masked_for(const principal *who) {
  return who->roles > 0 &&
         !(who->roles &
           (ROLE_AGENT | ROLE_ADMIN | ROLE_INGEST | ROLE_SUPERVISOR));
}

/* Masking may lengthen a string a little (an e-mail's "***"); a note may
 * be 4 KB: the buffer is sized from the text, never cut. */
static json_t *masked_string(const char *s, int masked) {
  size_t size;
  char *buf;
  json_t *out;
  if (!s) return json_null();
  if (!masked) return json_string(s);
  size = strlen(s) * 2 + 64;
  if (!(buf = malloc(size))) return json_string("***");
  mask_contacts(s, buf, size);
  out = json_string(buf);
  free(buf);
  return out;
}

/* An address keeps its first three characters (a city, a district). */
static json_t *masked_address(const char *s, int masked) {
  char buf[64];
  size_t n = 0;
  int chars = 0;
  if (!s) return json_null();
  if (!masked) return json_string(s);
  while (s[n] && chars < 3 && n < 16) {
    n++;
    while ((s[n] & 0xC0) == 0x80) n++; /* the rest of a UTF-8 character */
    chars++;
  }
  snprintf(buf, sizeof buf, "%.*s***", (int)n, s);
  return json_string(buf);
}

/* Every string in v, masked in place (journal details, for the read
 * role: a reply's sender, a phone in an update). */
static void mask_strings(json_t *v) {
  const char *key;
  json_t *item;
  size_t i;
  if (json_is_object(v)) {
    json_object_foreach(v, key, item) {
      if (json_is_string(item))
        json_object_set_new(v, key,
                            masked_string(json_string_value(item), 1));
      else
        mask_strings(item);
    }
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, item) {
      if (json_is_string(item))
        json_array_set_new(v, i, masked_string(json_string_value(item), 1));
      else
        mask_strings(item);
    }
  }
}

/* The borrower as a collector needs them: name and contact points. */
static json_t *borrower_json(const store_borrower *b, int masked) {
  json_t *phones = json_array(), *emails = json_array(),
         *contacts = json_array();
  json_t *o;
  for (int i = 0; i < b->ncontacts; i++) {
    const store_contact *k = &b->contacts[i];
    if (!strcmp(k->kind, "phone"))
      json_array_append_new(phones, masked_string(k->value, masked));
    else if (!strcmp(k->kind, "email"))
      json_array_append_new(emails, masked_string(k->value, masked));
    else
      json_array_append_new(
          contacts, json_pack("{s:o, s:o, s:o}", "name",
                              k->name ? json_string(k->name) : json_null(),
                              "relation",
                              k->relation ? json_string(k->relation)
                                          : json_null(),
                              "phone", masked_string(k->value, masked)));
  }
  o = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b}", "id",
                b->id, "name", b->name ? json_string(b->name) : json_null(),
                "locale", b->locale ? json_string(b->locale) : json_null(),
                "timezone",
                b->timezone ? json_string(b->timezone) : json_null(),
                "phones", phones, "emails", emails, "address",
                masked_address(b->address, masked), "contacts", contacts,
                "do_not_contact", b->do_not_contact, "ceased", b->ceased);
  json_object_set_new(o, "area", json_string(b->area ? b->area : ""));
  /* The book's copy of the contacts does not read (store.h, ncontacts
   * -1): the empty lists above are not "no phone", and a collector told
   * so asks for the row to be imported again instead of giving up. */
  json_object_set_new(o, "contacts_unreadable", json_boolean(b->ncontacts < 0));
  json_object_set_new(
      o, "employer",
      json_pack("{s:o, s:o, s:o}", "name",
                b->employer_name ? json_string(b->employer_name) : json_null(),
                "phone", masked_string(b->employer_phone, masked), "address",
                masked_address(b->employer_address, masked)));
  return o;
}

/* A list's cases as GET /v1/cases/{id} shows one: booleans, the borrower
 * with their name and contact points (masked for the read role), dpd on
 * the clock, tags and data never null. */
static int case_items(service *svc, const principal *who, json_t *list,
                      rc_error *err) {
  size_t i;
  json_t *row;
  int masked = masked_for(who);
  json_array_foreach(list, i, row) {
    store_case c;
    store_borrower b;
    const char *bid = json_string_value(json_object_get(row, "borrower_id"));
    memset(&c, 0, sizeof c);
    c.due_date = (char *)json_string_value(json_object_get(row, "due_date"));
    json_object_set_new(row, "dpd",
                        json_integer(engine_case_dpd(svc->eng, &c)));
    json_object_set_new(
        row, "closed",
        json_boolean(json_integer_value(json_object_get(row, "closed"))));
    json_object_set_new(
        row, "on_hold",
        json_boolean(json_integer_value(json_object_get(row, "on_hold"))));
    if (!bid || query_borrower(engine_query(svc->eng), bid, &b, err) != RC_OK)
      return bid ? err->code : rc_error_set(err, RC_ESTORE, "borrower",
                                            "a case without a borrower");
    json_object_set_new(row, "borrower", borrower_json(&b, masked));
    store_borrower_free(&b);
    json_object_del(row, "borrower_id");
    api_inside_key(svc, row, "error");
    if (json_is_null(json_object_get(row, "tags")))
      json_object_set_new(row, "tags", json_array());
    if (json_is_null(json_object_get(row, "data")))
      json_object_set_new(row, "data", json_object());
    /* A case's data is the lender's free JSON: a second phone, a
     * spouse's e-mail. The journal's copy of it is masked; so is this. */
    if (masked) mask_strings(json_object_get(row, "data"));
  }
  return RC_OK;
}

static json_t *case_json(service *svc, const store_case *c) {
  char at[40];
  json_t *o = json_pack(
      "{s:s, s:s, s:s, s:i, s:o, s:b, s:s?, s:s?, s:s, s:I, s:I, s:I, s:I, "
      "s:s?, s:i, s:s?, s:b}",
      "id", c->id, "state", c->state, "workflow", c->workflow, "version",
      c->version, "error", stored_text(c->error), "closed", c->closed,
      "outcome", c->outcome,
      "product", c->product, "currency", c->currency, "principal",
      (json_int_t)c->principal, "balance", (json_int_t)c->balance, "amount_due",
      (json_int_t)c->amount_due, "fees", (json_int_t)c->fees, "due_date",
      c->due_date, "dpd", engine_case_dpd(svc->eng, c), "queue", c->queue,
      "on_hold", c->on_hold);
  clock_zone_format(clock_zone(engine_clock(svc->eng)), c->opened_at, at, sizeof at);
  json_object_set_new(o, "opened_at", json_string(at));
  json_object_set_new(o, "overpaid", json_integer((json_int_t)c->overpaid));
  json_object_set_new(o, "reduced", json_integer((json_int_t)c->reduced));
  json_object_set_new(o, "score",
                      c->has_score ? json_real(c->score) : json_null());
  json_object_set_new(o, "tags", json_loads(c->tags ? c->tags : "[]", 0, NULL));
  json_object_set_new(o, "data", json_loads(c->data ? c->data : "{}", 0, NULL));
  json_object_set_new(o, "borrower", json_pack("{s:s}", "id", c->borrower_id));
  return o;
}

static void r_case(service *svc, http_request *req, int route,
                   const char *arg, const principal *who) {
  store_case c;
  rc_error err;
  store_borrower b;
  json_t *out;
  if (api_case_scope(svc, who, arg, &err) != RC_OK ||
      query_case(engine_query(svc->eng), arg, &c, &err) != RC_OK) {
    api_fail(svc, req, route, &err);
    return;
  }
  if (query_borrower(engine_query(svc->eng), c.borrower_id, &b, &err) !=
      RC_OK) {
    store_case_free(&c);
    api_fail(svc, req, route, &err);
    return;
  }
  out = case_json(svc, &c);
  api_inside_key(svc, out, "error");
  json_object_set_new(out, "borrower", borrower_json(&b, masked_for(who)));
  if (masked_for(who)) mask_strings(json_object_get(out, "data"));
  if (api_case_extras(svc, who, &c, out, &err) != RC_OK) {
    json_decref(out);
    store_borrower_free(&b);
    store_case_free(&c);
    api_fail(svc, req, route, &err);
    return;
  }
  api_reply(svc, req, route, 200, out, NULL);
  store_borrower_free(&b);
  store_case_free(&c);
}

/* ?phone=: a borrower on the line, the number as the collector heard it
 * ("138 0013 8000", "+86 138-0013-8000"), read as the import reads a
 * phone (the institution's country, E.164) so that it meets the stored
 * form. Not combined with state or queue: the caller wants the person's
 * cases, whatever they are. 0: no phone given. */
static int phone_param(service *svc, const http_request *req, char *e164,
                       rc_error *err) {
  char phone[64], other[64];
  int rc = http_query(req, "phone", phone, sizeof phone);
  if (rc == 0) return 0;
  if (rc < 0)
    return rc_error_set(err, RC_EINVAL, "phone",
                        "phone is longer than %zu bytes", sizeof phone - 1);
  if (http_query(req, "state", other, sizeof other) > 0 ||
      http_query(req, "queue", other, sizeof other) > 0)
    return rc_error_set(err, RC_EINVAL, "phone",
                        "phone lists a number's cases; it does not go with "
                        "state or queue");
  rc = phone_normalize(
      phone, script_config(engine_script(svc->eng))->country, e164, 17);
  if (rc != PHONE_OK)
    return rc_error_set(err, RC_EINVAL, "phone", "phone '%s' %s", phone,
                        phone_problem(rc));
  return 1;
}

static void r_cases(service *svc, http_request *req, int route,
                    const char *arg, const principal *who) {
  char state[64], queue[64], after[512], window_end[512];
  store_scope scope;
  rows r = {svc, json_array(), "", 0};
  query_case_filter f = {NULL, NULL, after, 0, CASES_WINDOW, NULL};
  const char *next = NULL;
  char e164[17];
  int phone = 0, rc;
  rc_error err;
  (void)arg;
  if (page_params(req, &f.limit, after, sizeof after, NULL, &err) != RC_OK ||
      filter_params(req, "state", "queue", &err) != RC_OK ||
      (phone = phone_param(svc, req, e164, &err)) < 0) {
    json_decref(r.list);
    api_fail(svc, req, route, &err);
    return;
  }
  if (http_query(req, "state", state, sizeof state) > 0) f.state = state;
  if (http_query(req, "queue", queue, sizeof queue) > 0) f.queue = queue;
  f.scope = api_scope(svc, who, &scope);
  window_end[0] = '\0';
  if (phone)
    rc = query_cases_phone(engine_query(svc->eng), e164, &f, add_row, &r,
                           &err);
  else
    rc = query_case_page(engine_query(svc->eng), &f, add_row, &r, window_end,
                         sizeof window_end, &err);
  if (rc != RC_OK) {
    json_decref(r.list);
    api_fail(svc, req, route, &err);
    return;
  }
  /* A full page goes on after its last case; a short one after the cases
   * it read, when it stopped before the end. */
  if ((int)json_array_size(r.list) == f.limit)
    next = r.last;
  else if (window_end[0])
    next = window_end;
  if (case_items(svc, who, r.list, &err) != RC_OK) {
    json_decref(r.list);
    api_fail(svc, req, route, &err);
    return;
  }
  api_reply(svc, req, route, 200,
            json_pack("{s:o, s:s?}", "cases", r.list, "next", next), NULL);
}

/* The message a delivery row is about, as read: {case, channel,
 * template, recipient}. */
static int message_of_row(void *ud, const store_value *cols, int n) {
  json_t *m = ud;
  for (int i = 0; i < n; i++) {
    const char *k = cols[i].name;
    if (cols[i].type != STORE_TEXT) continue;
    if (!strcmp(k, "case") || !strcmp(k, "channel") || !strcmp(k, "template"))
      json_object_set_new(m, k, json_string(cols[i].s));
    if (!strcmp(k, "to"))
      json_object_set_new(m, "recipient", json_string(cols[i].s));
  }
  return 0;
}

/* A delivery row names its message by id alone, and "Message sent" did
 * not say which: the message's channel, template and recipient go into
 * its detail (the recipient masked with the rest for the read role). A
 * read by id a delivery row, a page's at most. */
static int name_deliveries(service *svc, const char *case_id, json_t *list,
                           rc_error *err) {
  size_t i;
  json_t *row;
  json_array_foreach(list, i, row) {
    json_t *detail = json_object_get(row, "detail"), *m;
    json_t *id = json_object_get(detail, "message");
    const char *kind = json_string_value(json_object_get(row, "kind"));
    int rc;
    if (!kind || strcmp(kind, "delivery") || !json_is_object(detail) ||
        !json_is_integer(id))
      continue;
    m = json_object();
    rc = query_message(engine_query(svc->eng), json_integer_value(id),
                       message_of_row, m, err);
    /* Only its own case's message: a hand-edited journal names no other. */
    if (rc == RC_OK && json_is_string(json_object_get(m, "case")) &&
        !strcmp(json_string_value(json_object_get(m, "case")), case_id)) {
      json_object_del(m, "case");
      json_object_update_missing(detail, m);
    }
    json_decref(m);
    if (rc != RC_OK) return rc;
  }
  return RC_OK;
}

/* A task_done row keeps what was recorded as numbers: 500000 is ¥5,000.00
 * only when the kind declares the field money (a plan's total), and the
 * console showed it as 500000. Its money fields go into the detail as
 * money_fields {"total": true}, by the case's workflow as loaded now:
 * names as keys, which the read role's masking of every string leaves
 * readable. The case is read once, and only for a page holding such a
 * row. */
static int name_money(service *svc, const char *case_id, json_t *list,
                      rc_error *err) {
  store_case c;
  int have = 0;
  size_t i;
  json_t *row;
  json_array_foreach(list, i, row) {
    json_t *detail = json_object_get(row, "detail"), *outcomes, *fields, *f;
    json_t *money;
    const char *kind = json_string_value(json_object_get(row, "kind"));
    const char *task = json_string_value(json_object_get(detail, "kind"));
    const char *outcome = json_string_value(json_object_get(detail, "outcome"));
    const char *name;
    if (!kind || strcmp(kind, "task_done") || !task || !outcome) continue;
    if (!have) {
      int rc = query_case(engine_query(svc->eng), case_id, &c, err);
      if (rc != RC_OK) return rc;
      have = 1;
    }
    outcomes = engine_task_outcomes(svc->eng, &c, task);
    fields = json_object_get(json_object_get(outcomes, outcome), "fields");
    money = json_object();
    json_object_foreach(fields, name, f) {
      const char *type = json_string_value(json_object_get(f, "type"));
      if (type && !strcmp(type, "money") &&
          json_is_integer(json_object_get(detail, name)))
        json_object_set_new(money, name, json_true());
    }
    if (json_object_size(money))
      json_object_set_new(detail, "money_fields", money);
    else
      json_decref(money);
    json_decref(outcomes);
  }
  if (have) store_case_free(&c);
  return RC_OK;
}

static void r_journal(service *svc, http_request *req, int route,
                      const char *arg, const principal *who) {
  rows r = {svc, json_array(), "", 0};
  int limit;
  int64_t after;
  rc_error err;
  /* Paged by row id: rows of a sweep's unsynced batch that a power cut
   * took back would be numbered again (a payment's, the batch redone),
   * and a reader past them would never see those. Only what is on the
   * disk is answered. */
  if (page_params(req, &limit, NULL, 0, &after, &err) != RC_OK ||
      api_case_scope(svc, who, arg, &err) != RC_OK ||
      engine_sync(svc->eng, &err) != RC_OK ||
      query_journal_page(engine_query(svc->eng), arg, after, limit, add_row, &r,
                         &err) != RC_OK ||
      name_deliveries(svc, arg, r.list, &err) != RC_OK ||
      name_money(svc, arg, r.list, &err) != RC_OK) {
    json_decref(r.list);
    api_fail(svc, req, route, &err);
    return;
  }
  if (masked_for(who)) mask_strings(r.list);
  {
    size_t i;
    json_t *row, *out;
    json_array_foreach(r.list, i, row) {
      json_t *detail = json_object_get(row, "detail");
      const char *kind = json_string_value(json_object_get(row, "kind"));
      if (kind && !strcmp(kind, "error") && json_is_object(detail)) {
        api_inside_key(svc, detail, "message");
        api_inside_key(svc, detail, "traceback");
      }
    }
    out = json_pack("{s:s, s:o}", "case", arg, "journal", r.list);
    page_next_id(out, &r, limit);
    api_reply(svc, req, route, 200, out, NULL);
  }
}

/* assignee=NAME: one person's tasks (a supervisor finding what someone
 * still holds before disabling them). A name no login could be is 422;
 * an agent limited to queues asks for their own only (DESIGN.md "Who
 * sees what": another's holdings are the supervisor's to see). Returns 0
 * with *given 0 or 1, or answers and returns -1. */
static int assignee_param(service *svc, http_request *req, int route,
                          const principal *who, char *name, size_t size,
                          int *given) {
  rc_error err;
  int rc = http_query(req, "assignee", name, size);
  *given = rc > 0;
  if (rc == 0) return 0;
  if (rc < 0 || user_check_name(name, "assignee", &err) != RC_OK) {
    if (rc < 0)
      rc_error_set(&err, RC_EINVAL, "assignee",
                   "assignee must be 1 to 64 characters of a-z 0-9 . _ -");
    api_fail(svc, req, route, &err);
    return -1;
  }
  if (api_agent_queues(who) && strcmp(name, who->user) != 0) {
    api_error(svc, req, route, 403, "forbidden", "assignee",
              "an agent sees only the tasks they hold: assignee must be "
              "their own login or left out");
    return -1;
  }
  return 0;
}

static void r_tasks(service *svc, http_request *req, int route,
                    const char *arg, const principal *who) {
  char queue[64], status[16], assignee[72];
  rows r = {svc, json_array(), "", 0};
  int limit, hq, hs, ha;
  int64_t after;
  json_t *out;
  rc_error err;
  (void)arg;
  if (page_params(req, &limit, NULL, 0, &after, &err) != RC_OK ||
      filter_params(req, "queue", NULL, &err) != RC_OK ||
      task_status_param(req, &err) != RC_OK) {
    json_decref(r.list);
    api_fail(svc, req, route, &err);
    return;
  }
  if (assignee_param(svc, req, route, who, assignee, sizeof assignee, &ha)) {
    json_decref(r.list);
    return;
  }
  hq = http_query(req, "queue", queue, sizeof queue);
  hs = http_query(req, "status", status, sizeof status);
  /* Paged by row id, as the journal is (r_journal). */
  if (engine_sync(svc->eng, &err) != RC_OK ||
      query_task_page(engine_query(svc->eng), hq ? queue : NULL,
                      hs ? status : NULL, ha ? assignee : NULL,
                      api_agent_queues(who), after, limit, add_row, &r,
                      &err) != RC_OK) {
    json_decref(r.list);
    api_fail(svc, req, route, &err);
    return;
  }
  /* A task's fields and result are free text too (what was said on a
   * visit, a number the borrower gave). */
  if (masked_for(who)) {
    size_t i;
    json_t *row;
    json_array_foreach(r.list, i, row) {
      mask_strings(json_object_get(row, "fields"));
      mask_strings(json_object_get(row, "result"));
    }
  }
  out = json_pack("{s:o}", "tasks", r.list);
  page_next_id(out, &r, limit);
  api_reply(svc, req, route, 200, out, NULL);
}

static void r_errors(service *svc, http_request *req, int route,
                     const char *arg, const principal *who) {
  int limit;
  int64_t before = 0;
  rc_error err;
  json_t *page;
  (void)arg;
  rc_error_clear(&err);
  if (page_params(req, &limit, NULL, 0, &before, &err) != RC_OK) {
    api_fail(svc, req, route, &err);
    return;
  }
  page = report_errors(svc->eng, before, limit, &err);
  if (!page) {
    api_fail(svc, req, route, &err);
    return;
  }
  {
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(page, "errors"), i, row)
        api_inside_key(svc, row, "error");
  }
  api_reply(svc, req, route, 200, page, NULL);
}

static void r_report(service *svc, http_request *req, int route,
                     const char *arg, const principal *who) {
  json_t *report;
  rc_error err;
  (void)arg;
  if (report_build(svc->eng, &report, &err) != RC_OK) {
    api_fail(svc, req, route, &err);
    return;
  }
  api_reply(svc, req, route, 200, report, NULL);
}

/* Whether this node holds its database: which store, whether a read
 * reaches it (connected) and whether a write would be kept (writable, a
 * write rolled back). On PostgreSQL a node that lost its server, or one
 * on a read-only standby, is not writable: 503, so that a balancer sends
 * the payments to another node. */
static json_t *health_store(service *svc, int *writable) {
  rc_error err;
  char id[64];
  int connected = engine_instance_id(svc->eng, id, sizeof id, &err) == RC_OK;
  *writable = connected && engine_writable(svc->eng, &err) == RC_OK;
  return json_pack(
      "{s:s, s:b, s:b}", "backend",
      store_where(engine_database(svc->eng)) == STORE_URL ? "postgresql"
                                                          : "sqlite",
      "connected", connected, "writable", *writable);
}

static void r_health(service *svc, http_request *req, int route,
                     const char *arg, const principal *who) {
  int writable;
  json_t *st = health_store(svc, &writable);
  (void)arg;
  (void)who;
  api_reply(svc, req, route, writable ? 200 : 503,
            json_pack("{s:s, s:b, s:o, s:b, s:o}", "status",
                      writable ? "ok" : "degraded", "db_writable", writable,
                      "store", st, "draining", svc->draining, "backup",
                      backup_service_health(svc->backup)),
            writable ? NULL : "Retry-After: 5\r\n");
}

/* A copy of the book into the backup directory (backup.c). */
static void r_backup(service *svc, http_request *req, int route,
                     const char *arg, const principal *who) {
  (void)arg;
  (void)who;
  backup_service_request(svc, svc->backup, req, route);
}

/* The contract, docs/openapi.json, compiled in (openapi_doc.c is made
 * from it at build time): no token, so that clients can be generated from
 * a running service. */
static void r_openapi(service *svc, http_request *req, int route,
                      const char *arg, const principal *who) {
  (void)arg;
  svc->requests[route][0]++;
  http_respond(req, 200, "application/json", (const char *)openapi_json,
               openapi_json_len, "Cache-Control: no-store\r\n");
}

static void r_reload(service *svc, http_request *req, int route,
                     const char *arg, const principal *who) {
  json_t *result = NULL;
  int rc = service_reload(svc, who->user[0] ? who->user : "token", &result);
  (void)arg;
  api_reply(svc, req, route, rc == RC_OK ? 200 : 422, result, NULL);
}

/* An import is its own transaction (all or nothing, any size). The body
 * is already in memory (the server's request limit bounds it) and is read
 * from there: a copy spooled to /tmp could be cut by a full disk and its
 * cut last line still parse (an amount "50000" read as "500"). */
static void r_import(service *svc, http_request *req, int route,
                     const char *arg, const principal *who) {
  static char empty[1];
  FILE *f;
  import_stats stats;
  rc_errlist errors = {0};
  int rc, format = IMPORT_AUTO;
  (void)arg;
  if (svc->draining) {
    api_error(svc, req, route, 503, "shutting_down", NULL,
              "the service is shutting down");
    return;
  }
  /* Never a NULL buffer: fmemopen would allocate one of its own. */
  f = fmemopen(req->body ? req->body : empty, req->body_len, "r");
  if (!f) {
    api_error(svc, req, route, 503, "unavailable", NULL,
              "cannot read the import");
    return;
  }
  if (req->content_type && strstr(req->content_type, "csv"))
    format = IMPORT_CSV;
  else if (req->content_type && (strstr(req->content_type, "ndjson") ||
                                 strstr(req->content_type, "jsonl")))
    format = IMPORT_NDJSON;
  service_kick(svc); /* events from it run after */
  rc = import_stream(svc->eng, f, "body", format, &stats, &errors, 0);
  fclose(f);
  if (rc != RC_OK) {
    json_t *list = json_array();
    for (int i = 0; i < errors.count; i++) {
      char *inside = api_inside_dup(svc, errors.items[i].message);
      size_t room = sizeof errors.items[i].message - 1;
      /* Cut to the message's room on a character boundary (JSON holds
       * only whole characters); out of memory, no message that may name
       * a folder. */
      if (inside && strlen(inside) > room) {
        while (room > 0 && ((unsigned char)inside[room] & 0xC0) == 0x80)
          room--;
        inside[room] = '\0';
      }
      rc_copy(errors.items[i].message, sizeof errors.items[i].message,
              inside ? inside : "(out of memory)");
      free(inside);
      json_array_append_new(
          list,
          json_pack("{s:i, s:s?, s:s}", "line", errors.items[i].line, "field",
                    errors.items[i].field[0] ? errors.items[i].field : NULL,
                    "message", errors.items[i].message));
    }
    api_reply(
        svc, req, route, rc == RC_EINVAL ? 422 : api_status_of(rc),
        json_pack("{s:{s:s, s:s, s:s?, s:o}}", "error", "code",
                  rc == RC_EINVAL ? "invalid" : api_code_of(rc), "message",
                  errors.count ? errors.items[0].message : "refused", "field",
                  errors.count && errors.items[0].field[0]
                      ? errors.items[0].field
                      : NULL,
                  "errors", list),
        NULL);
    rc_errlist_free(&errors);
    return;
  }
  {
    char warning[600];
    json_t *answer = json_pack("{s:I, s:I, s:I}", "rows",
                               (json_int_t)stats.rows, "opened",
                               (json_int_t)stats.opened, "updated",
                               (json_int_t)stats.updated);
    import_contact_warning(&stats, warning, sizeof warning);
    if (*warning && answer)
      json_object_set_new(answer, "warnings", json_pack("[s]", warning));
    api_reply(svc, req, route, 200, answer, NULL);
  }
}

/* --- metrics ---------------------------------------------------------- */

/* Each family opens with its HELP and TYPE lines: Prometheus reads a family
 * without HELP, and `promtool check metrics` (run by test_metrics) does not.
 * The help texts hold no backslash or newline, so they need no escaping. */
static void metrics_family(FILE *f, const char *name, const char *type,
                           const char *help) {
  fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the exposition format quotes it: a guard's reason holds
 * a channel's name, which a script chose. */
static void metrics_label(FILE *f, const char *value) {
  for (const char *p = value; *p; p++) {
    if (*p == '\\' || *p == '"')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else
      fputc(*p, f);
  }
}

static void metrics_requests(FILE *f, const service *svc) {
  static const char *const classes[] = {"2xx", "3xx", "4xx", "5xx", "other"};
  static const char *const le[LATENCY_BUCKETS] = {
      "0.001", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "+Inf"};
  metrics_family(f, "recoup_http_requests_total", "counter",
                 "HTTP requests answered, by route and status class.");
  for (int r = 0; r < NROUTES; r++)
    for (int k = 0; k < 5; k++)
      if (svc->requests[r][k])
        fprintf(f,
                "recoup_http_requests_total{method=\"%s\",route=\"%s\","
                "status=\"%s\"} %lld\n",
                routes[r].method, routes[r].pattern, classes[k],
                (long long)svc->requests[r][k]);
  metrics_family(f, "recoup_http_request_duration_seconds", "histogram",
                 "Time taken to answer HTTP requests.");
  for (int b = 0; b < LATENCY_BUCKETS; b++)
    fprintf(f, "recoup_http_request_duration_seconds_bucket{le=\"%s\"} %lld\n",
            le[b], (long long)svc->latency[b]);
  fprintf(f, "recoup_http_request_duration_seconds_sum %.6f\n",
          svc->latency_sum);
  fprintf(f, "recoup_http_request_duration_seconds_count %lld\n",
          (long long)svc->latency_count);
}

static void metrics_one(FILE *f, const char *name, const char *type,
                        const char *help, int64_t value) {
  metrics_family(f, name, type, help);
  fprintf(f, "%s %lld\n", name, (long long)value);
}

static void metrics_engine(FILE *f, const service *svc,
                           const engine_stats *es, const query_gauges *g) {
  metrics_one(f, "recoup_events_processed_total", "counter",
              "Events the engine has taken and finished.", es->events);
  metrics_one(f, "recoup_handler_errors_total", "counter",
              "Workflow handlers that raised an error.", es->errors);
  metrics_one(f, "recoup_timers_fired_total", "counter",
              "Timers that came due and were handled.", es->timers_fired);
  metrics_one(f, "recoup_transitions_total", "counter",
              "Cases moved from one state to another.", es->transitions);
  metrics_one(f, "recoup_timers_pending", "gauge",
              "Timers set and not yet fired.", g->timers_pending);
  metrics_one(f, "recoup_timers_overdue", "gauge",
              "Pending timers whose time has passed.", g->timers_overdue);
  metrics_one(f, "recoup_group_commits_total", "counter",
              "Transactions that committed a batch of queued writes.",
              svc->commits);
}

/* Which reload of the book this node runs, and the versions new cases
 * get here: nodes that disagree have not all followed a reload. */
static void metrics_reloads(FILE *f, service *svc) {
  const engine_reloads *r = engine_reload_state(svc->eng);
  script *sc = engine_script(svc->eng);
  const char *names[64];
  int n = script_workflow_names(sc, names, 64), version;
  metrics_one(f, "recoup_reload_generation", "gauge",
              "The book's script reload this node has loaded.", r->generation);
  metrics_one(f, "recoup_reload_failed_generation", "gauge",
              "A reload of the book whose scripts did not load on this "
              "node (0: none).",
              r->failed);
  metrics_one(f, "recoup_version_waits_total", "counter",
              "Events and timers left for a node that has their "
              "workflow version.",
              r->waiting);
  metrics_family(f, "recoup_workflow_version", "gauge",
                 "The newest version of each workflow loaded here.");
  for (int i = 0; i < n; i++)
    if (script_workflow_latest(sc, names[i], &version) == RC_OK) {
      fprintf(f, "recoup_workflow_version{workflow=\"");
      metrics_label(f, names[i]);
      fprintf(f, "\"} %d\n", version);
    }
}

static void metrics_outbox(FILE *f, const outbox_stats *os,
                           const query_gauges *g) {
  metrics_family(f, "recoup_delivery_attempts_total", "counter",
                 "Attempts to deliver a message, by result.");
  fprintf(f,
          "recoup_delivery_attempts_total{result=\"sent\"} %lld\n"
          "recoup_delivery_attempts_total{result=\"retry\"} %lld\n"
          "recoup_delivery_attempts_total{result=\"failed\"} %lld\n",
          (long long)os->sent, (long long)os->retried, (long long)os->failed);
  metrics_family(f, "recoup_outbox_messages", "gauge",
                 "Messages in the outbox waiting to be sent, by status.");
  fprintf(f,
          "recoup_outbox_messages{status=\"queued\"} %lld\n"
          "recoup_outbox_messages{status=\"deferred\"} %lld\n",
          (long long)g->messages_queued, (long long)g->messages_deferred);
}

static void metrics_policy(FILE *f, const engine_stats *es) {
  metrics_family(f, "recoup_policy_decisions_total", "counter",
                 "Contacts the guard deferred or refused, by verdict and "
                 "reason.");
  for (int k = 0; k < es->npolicy; k++) {
    fprintf(f, "recoup_policy_decisions_total{verdict=\"");
    metrics_label(f, es->policy[k].verdict);
    fprintf(f, "\",reason=\"");
    metrics_label(f, es->policy[k].reason);
    fprintf(f, "\"} %lld\n", (long long)es->policy[k].count);
  }
}

static void r_metrics(service *svc, http_request *req, int route,
                      const char *arg, const principal *who) {
  const engine_stats *es = engine_get_stats(svc->eng);
  query_gauges g;
  rc_error err;
  char *out = NULL;
  size_t len = 0;
  FILE *f;
  (void)arg;
  (void)who;
  /* Gauges that cannot be read are not zero: the scrape fails, and the
   * monitoring sees the gap. */
  if (query_gauges_read(engine_query(svc->eng),
                        clock_now(engine_clock(svc->eng)), &g, &err) != RC_OK) {
    api_fail(svc, req, route, &err);
    return;
  }
  f = open_memstream(&out, &len);
  if (!f) {
    rc_error_set(&err, RC_ENOMEM, NULL, "out of memory writing /metrics");
    api_fail(svc, req, route, &err);
    return;
  }
  metrics_requests(f, svc);
  metrics_engine(f, svc, es, &g);
  metrics_reloads(f, svc);
  metrics_outbox(f, outbox_get_stats(svc->ob), &g);
  metrics_policy(f, es);
  fclose(f);
  svc->requests[route][0]++;
  http_respond(req, 200, "text/plain; version=0.0.4", out, len,
               "Cache-Control: no-store\r\n");
  free(out);
}

/* --- for api_work.c ----------------------------------------------------- */

int api_page_params(const http_request *req, int *limit, char *after,
                    size_t size, rc_error *err) {
  return page_params(req, limit, after, size, NULL, err);
}

int api_masked_for(const principal *who) {
  return masked_for(who);
}

json_t *api_borrower_json(const store_borrower *b, int masked) {
  return borrower_json(b, masked);
}

json_t *api_masked_string(const char *s, int masked) {
  return masked_string(s, masked);
}

void api_mask_strings(json_t *v) { mask_strings(v); }

void api_fail_with(service *svc, http_request *req, int route,
                   const rc_error *err) {
  api_fail(svc, req, route, err);
}
