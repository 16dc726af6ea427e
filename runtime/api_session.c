/* The console's identity routes: POST /v1/session signs in (Argon2id off
 * the loop, behind the slow-down), DELETE /v1/session signs out, GET
 * /v1/me says who is signed in, GET /v1/institution names the house for
 * the sign-in page. Who a later request is: session.c. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "input.h"
#include "user.h"
#include "session.h"
#include "slowdown.h"

/* Sign-ins verifying at once: each holds 64 MiB and a core for a tenth of
 * a second; beyond this the rest are told to come back in a second. */
enum { SIGN_IN_MAX = 16 };

typedef struct sign_in {
  uv_work_t work;
  service *svc;
  http_request *req;
  int route;
  char *name, *password; /* owned; the password wiped before it is freed */
  char address[64];
  char replaced[SESSION_ID_TEXT + 1]; /* the cookie's session, or "" */
  int tls, ok;
  engine_sign_in check;
} sign_in;

static void sign_in_free(sign_in *si) {
  if (si->password) {
    sodium_memzero(si->password, strlen(si->password));
    free(si->password);
  }
  free(si->name);
  engine_sign_in_free(&si->check);
  free(si);
}

/* The decoy hash an unknown name is checked against is made on first
 * use: once, before two workers could make it at the same time. */
static uv_once_t decoy_once = UV_ONCE_INIT;
static void make_decoy(void) {
  engine_sign_in none;
  memset(&none, 0, sizeof none);
  engine_sign_in_verify(&none, "");
}

static void verify(uv_work_t *w) {
  sign_in *si = w->data;
  uv_once(&decoy_once, make_decoy);
  si->ok = engine_sign_in_verify(&si->check, si->password);
}

/* The signed-in person: the login (the key, what the journal keeps) and
 * the name people read, null when none was given. */
static json_t *user_json(const store_user *u) {
  json_t *q = json_loads(u->queues && *u->queues ? u->queues : "[]", 0, NULL);
  return json_pack(
      "{s:s, s:o, s:s, s:o}", "name", u->name, "display_name",
      u->display_name[0] ? json_string(u->display_name) : json_null(), "role",
      u->role, "queues", q ? q : json_array());
}

static void log_sign_in(const char *msg, const char *name,
                        const char *address) {
  service_log(
      "info",
      json_pack(
          "{s:s, s:s, s:s}", "msg", msg, "user",
          name && user_check_name(name, "name", NULL) == RC_OK ? name : "?",
          "address", address));
}

static void after_verify(uv_work_t *w, int status) {
  sign_in *si = w->data;
  service *svc = si->svc;
  const institution_config *cfg = script_config(engine_script(svc->eng));
  rc_time now = session_now();
  rc_error err;
  svc->signing_in--;
  if (status != 0) {
    slowdown_end(svc->slow, si->name, si->address, SLOWDOWN_ABANDONED,
                 uv_now(svc->loop));
    api_error(svc, si->req, si->route, 503, "unavailable", NULL,
              "the sign-in was not checked; retry");
  } else if (!si->ok) {
    slowdown_end(svc->slow, si->name, si->address, SLOWDOWN_FAILED,
                 uv_now(svc->loop));
    /* A name no user has is recorded as "?": it is often a password
     * typed into the wrong field. */
    const char *known = si->check.found ? si->name : NULL;
    if (engine_sign_in_failed(svc->eng, known, now, si->address, &err) != RC_OK)
      service_log("error",
                  json_pack("{s:s, s:s}", "msg", "users_log not written",
                            "error", err.message));
    log_sign_in("sign-in failed", known, si->address);
    /* The same words for an unknown name, a wrong password and a disabled
     * user: the answer tells a guesser nothing. */
    api_error(svc, si->req, si->route, 401, "unauthorized", NULL,
              "wrong name or password");
  } else {
    char token[SESSION_TOKEN_TEXT + 1], id[SESSION_ID_TEXT + 1],
        csrf[SESSION_CSRF_TEXT + 1];
    const store_user *u = &si->check.user;
    slowdown_end(svc->slow, si->name, si->address, SLOWDOWN_SUCCEEDED,
                 uv_now(svc->loop));
    /* A browser signing in again (another user at a shared desk) leaves
     * no session of its old cookie behind. */
    if (si->replaced[0] && engine_session_end(svc->eng, si->replaced, NULL, now,
                                              si->address, &err) != RC_OK)
      service_log("warn",
                  json_pack("{s:s, s:s}", "msg", "replaced session not ended",
                            "error", err.message));
    if (session_new(token, id, csrf, &err) != RC_OK ||
        engine_session_create(
            svc->eng, id, u->name, now, now + cfg->session_lifetime_ms,
            now - cfg->session_idle_ms, si->address, &err) != RC_OK) {
      api_error(svc, si->req, si->route, 503, "unavailable", NULL,
                "the session could not be stored; retry");
    } else {
      char cookie[256];
      /* No Max-Age: the browser forgets it when it closes; the service
       * ends it when idle or old, whatever the browser keeps. */
      snprintf(cookie, sizeof cookie,
               "Set-Cookie: recoup_session=%s; Path=/; HttpOnly; "
               "SameSite=Strict%s\r\n",
               token, si->tls ? "; Secure" : "");
      log_sign_in("signed in", u->name, si->address);
      api_reply(svc, si->req, si->route, 200,
                json_pack("{s:o, s:s}", "user", user_json(u), "csrf", csrf),
                cookie);
      sodium_memzero(cookie, sizeof cookie);
    }
    sodium_memzero(token, sizeof token);
  }
  sign_in_free(si);
  service_kick(svc); /* a drain waiting for this answer goes on */
}

/* A language tag's letters: a-z, A-Z, 0-9, '-' and '_'. */
static int locale_ok(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
      return 0;
  return 1;
}

/* "application/json", any case, parameters (charset) allowed. */
static int json_content(const char *ct) {
  size_t n;
  if (!ct) return 0;
  while (*ct == ' ' || *ct == '\t') ct++;
  n = strcspn(ct, ";");
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

/* The request's body holds the password in clear: every way out of a
 * sign-in wipes it (sodium_memzero, which the compiler may not drop),
 * the refusals too — a 415 or a CSRF refusal answered before the body is
 * read left it in the freed buffer for the next malloc to hand out. */
static void wipe_body(http_request *req) {
  if (req->body) sodium_memzero(req->body, req->body_len);
}

/* The parsed copies of the strings (jansson's own buffers) wiped, then
 * the value let go. */
static void wipe_json(json_t *v) {
  const char *key;
  json_t *item;
  size_t i;
  if (json_is_string(v)) {
    sodium_memzero((void *)json_string_value(v), json_string_length(v));
  } else if (json_is_object(v)) {
    json_object_foreach(v, key, item) wipe_json(item);
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, item) wipe_json(item);
  }
}

static void refuse_sign_in(service *svc, http_request *req, int route,
                           json_t *body, int status, const char *code,
                           const char *field, const char *message) {
  if (body) {
    wipe_json(body);
    json_decref(body);
  }
  wipe_body(req);
  api_error(svc, req, route, status, code, field, message);
}

void api_sign_in(service *svc, http_request *req, int route, const char *arg,
                 const principal *who) {
  static const char *const known[] = {"name", "password", NULL};
  json_t *body = NULL, *name, *password;
  rc_error err;
  sign_in *si;
  int wait;
  (void)arg;
  (void)who;
  /* A form another site's page posts here cannot say application/json
   * without a CORS preflight, which is never granted. */
  if (!json_content(req->content_type)) {
    refuse_sign_in(svc, req, route, NULL, 415, "unsupported_media_type",
                   "Content-Type", "Content-Type must be application/json");
    return;
  }
  if (!session_same_origin(req)) {
    refuse_sign_in(svc, req, route, NULL, 403, "csrf", "Origin",
                   "a sign-in from another site's page is refused");
    return;
  }
  if (svc->draining) {
    refuse_sign_in(svc, req, route, NULL, 503, "shutting_down", NULL,
                   "the service is shutting down");
    return;
  }
  switch (input_json_load(req->body ? req->body : "", req->body_len, 1, &body,
                          &err)) {
    case INPUT_JSON_SYNTAX: {
      /* jansson quotes the text where it stopped ("near '\"hunter2'"):
       * in a sign-in that may be the password, and the message is
       * logged. The line and column say where. */
      char *near = strstr(err.message, " near ");
      if (near) *near = '\0';
      refuse_sign_in(svc, req, route, NULL, 400, "bad_json", err.field,
                     err.message);
      return;
    }
    case INPUT_JSON_REFUSED:
      refuse_sign_in(svc, req, route, NULL, 422, "invalid", err.field,
                     err.message);
      return;
  }
  /* As every other body: a key the route does not take is refused with
   * the key it meant ("pasword": did you mean `password`?), not ignored. */
  if (json_is_object(body) &&
      input_json_known_keys(body, known, "a sign-in", &err) != RC_OK) {
    refuse_sign_in(svc, req, route, body, 422, "invalid", err.field,
                   err.message);
    return;
  }
  name = json_object_get(body, "name");
  password = json_object_get(body, "password");
  if (!json_is_object(body) || !json_is_string(name) ||
      !json_is_string(password)) {
    const char *field = !json_is_object(body)   ? NULL
                        : !json_is_string(name) ? "name"
                                                : "password";
    refuse_sign_in(
        svc, req, route, body, 422, "invalid", field,
        field ? (strcmp(field, "name") == 0
                     ? "name is required: the user's name, a string"
                     : "password is required: a string")
              : "the body must be a JSON object with name and password");
    return;
  }
  si = calloc(1, sizeof *si);
  if (si) {
    si->name = strdup(json_string_value(name));
    si->password = strdup(json_string_value(password));
  }
  /* The request's copies of the password go now; si's is wiped when
   * done. */
  wipe_json(body);
  json_decref(body);
  wipe_body(req);
  if (!si || !si->name || !si->password) {
    if (si) sign_in_free(si);
    api_error(svc, req, route, 503, "busy", NULL, "out of memory");
    return;
  }
  si->svc = svc;
  si->req = req;
  si->route = route;
  si->work.data = si;
  session_client(svc, req, si->address, sizeof si->address, &si->tls);
  if (!session_cookie_id(req, si->replaced)) si->replaced[0] = '\0';
  if ((wait = slowdown_begin(svc->slow, si->name, si->address,
                             uv_now(svc->loop))) > 0) {
    char retry[64];
    snprintf(retry, sizeof retry, "Retry-After: %d\r\n", wait);
    sign_in_free(si);
    api_error_headers(svc, req, route, 429, "slow_down", NULL,
                      "too many failed sign-ins: wait before trying again",
                      retry);
    return;
  }
  if (svc->signing_in >= SIGN_IN_MAX ||
      engine_sign_in_prepare(svc->eng, si->name, &si->check, &err) != RC_OK ||
      uv_queue_work(svc->loop, &si->work, verify, after_verify) != 0) {
    /* Not a failure of the user's: the attempt is not counted. */
    slowdown_end(svc->slow, si->name, si->address, SLOWDOWN_ABANDONED,
                 uv_now(svc->loop));
    sign_in_free(si);
    api_error(svc, req, route, 503, "busy", NULL,
              "too many sign-ins at once; retry shortly");
    return;
  }
  svc->signing_in++;
}

void api_sign_out(service *svc, http_request *req, int route, const char *arg,
                  const principal *who) {
  char id[SESSION_ID_TEXT + 1], address[64], cookie[160];
  rc_error err;
  int tls;
  (void)arg;
  session_client(svc, req, address, sizeof address, &tls);
  /* Ended in the database whether or not it was still live: the cookie
   * stops naming anything even if a copy of it survives. */
  if (session_cookie_id(req, id) &&
      engine_session_end(svc->eng, id, who->by_session ? who->user : NULL,
                         session_now(), address, &err) != RC_OK) {
    api_error(svc, req, route, 503, "unavailable", NULL,
              "the session could not be ended; retry");
    return;
  }
  if (who->by_session) log_sign_in("signed out", who->user, address);
  snprintf(cookie, sizeof cookie,
           "Set-Cookie: recoup_session=; Path=/; HttpOnly; SameSite=Strict; "
           "Max-Age=0%s\r\n",
           tls ? "; Secure" : "");
  api_reply(svc, req, route, 204, NULL, cookie);
}

void api_me(service *svc, http_request *req, int route, const char *arg,
            const principal *who) {
  store_user u;
  rc_error err;
  (void)arg;
  /* A valid token, but no person: the route is not the token's. */
  if (!who->by_session) {
    api_error(svc, req, route, 403, "forbidden", NULL,
              "GET /v1/me is for a signed-in console user; a bearer token "
              "is no user");
    return;
  }
  if (query_user(engine_query(svc->eng), who->user, &u, &err) != RC_OK) {
    api_error(svc, req, route, err.code == RC_ENOTFOUND ? 401 : 503,
              err.code == RC_ENOTFOUND ? "session_expired" : "unavailable",
              NULL,
              err.code == RC_ENOTFOUND ? "the session's user is gone"
                                       : "the user could not be read");
    return;
  }
  api_reply(svc, req, route, 200,
            json_pack("{s:o, s:s}", "user", user_json(&u), "csrf", who->csrf),
            NULL);
  store_user_free(&u);
}

/* The sign-in page shows whose console it is before anyone signs in. */
void api_institution(service *svc, http_request *req, int route,
                     const char *arg, const principal *who) {
  const institution_config *cfg = script_config(engine_script(svc->eng));
  char locale[32];
  json_t *names = json_object();
  int has;
  (void)arg;
  (void)who;
  has = http_query(req, "locale", locale, sizeof locale);
  if (has < 0 || (has > 0 && !locale_ok(locale))) {
    json_decref(names);
    api_error(svc, req, route, 422, "invalid", "locale",
              "locale must be a language tag such as zh-CN or en");
    return;
  }
  /* The institution's own locale first, then the others as given. */
  json_object_set_new(names, cfg->locale,
                      json_string(institution_name(cfg, cfg->locale)));
  for (int i = 0; i < cfg->nnames; i++)
    if (!json_object_get(names, cfg->names[i].locale))
      json_object_set_new(names, cfg->names[i].locale,
                          json_string(cfg->names[i].name));
  api_reply(svc, req, route, 200,
            json_pack("{s:s, s:o, s:s, s:s, s:s, s:s?}", "name",
                      institution_name(cfg, has > 0 ? locale : cfg->locale),
                      "names", names, "locale", cfg->locale, "timezone",
                      cfg->timezone, "currency", cfg->currency, "country",
                      cfg->country[0] ? cfg->country : NULL),
            NULL);
}
