/* Console sessions: tokens, the cookie, CSRF and who a request is.
 *
 * A token is 32 random bytes; the browser holds it in an HttpOnly cookie,
 * the database holds only its SHA-256, so a stolen backup signs nobody in.
 * The CSRF token is derived from the session's token with a keyed hash:
 * it is per session, stored nowhere, and cannot be computed from what the
 * database holds. A page script reads it from the sign-in answer or GET
 * /v1/me and sends it in X-CSRF-Token; another site's page can neither
 * read it nor set that header without a CORS preflight we never grant. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "proxy.h"
#include "session.h"
#include "user.h"

/* The most queues `user add` takes, as a JSON array of names that need no
 * escaping: ["q",...] and its NUL. Fewer would leave such an agent none. */
_Static_assert(sizeof(((principal *)0)->queues) >=
                   USER_QUEUES_MAX * (USER_NAME_MAX + 3) + 2,
               "principal.queues holds every queue a user may have");

enum { TOKEN_BYTES = 32, TOUCH_EVERY_MS = 60000 };

static const char csrf_context[] = "recoup csrf v1";

rc_time session_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (rc_time)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void id_of(const unsigned char token[TOKEN_BYTES],
                  char id[SESSION_ID_TEXT + 1]) {
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, token, TOKEN_BYTES);
  sodium_bin2hex(id, SESSION_ID_TEXT + 1, hash, sizeof hash);
}

static void csrf_of(const unsigned char token[TOKEN_BYTES],
                    char csrf[SESSION_CSRF_TEXT + 1]) {
  unsigned char mac[32];
  crypto_generichash(mac, sizeof mac, (const unsigned char *)csrf_context,
                     sizeof csrf_context - 1, token, TOKEN_BYTES);
  sodium_bin2base64(csrf, SESSION_CSRF_TEXT + 1, mac, sizeof mac,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int session_new(char token[SESSION_TOKEN_TEXT + 1],
                char id[SESSION_ID_TEXT + 1], char csrf[SESSION_CSRF_TEXT + 1],
                rc_error *err) {
  unsigned char raw[TOKEN_BYTES];
  if (sodium_init() < 0)
    return rc_error_set(err, RC_EINTERNAL, NULL, "libsodium did not start");
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(token, SESSION_TOKEN_TEXT + 1, raw, sizeof raw,
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  id_of(raw, id);
  csrf_of(raw, csrf);
  sodium_memzero(raw, sizeof raw);
  return RC_OK;
}

/* The value of the recoup_session cookie in a Cookie header (RFC 6265
 * 4.2.1: "name=value; name=value"): 1 with it in raw, 0 when absent, -1
 * when it is given twice or is not one of our tokens. Two of them would
 * be a cookie planted beside ours (by a sibling domain): neither is
 * believed. */
static int cookie_token(const char *header, unsigned char raw[TOKEN_BYTES]) {
  static const char name[] = "recoup_session=";
  const char *p = header, *found = NULL;
  size_t found_len = 0, bin_len = 0;
  int count = 0;
  while (p && *p) {
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    if (len >= sizeof name - 1 && memcmp(p, name, sizeof name - 1) == 0) {
      found = p + sizeof name - 1;
      found_len = len - (sizeof name - 1);
      while (found_len &&
             (found[found_len - 1] == ' ' || found[found_len - 1] == '\t'))
        found_len--;
      count++;
    }
    p = end ? end + 1 : NULL;
  }
  if (count == 0) return 0;
  if (count > 1 || found_len != SESSION_TOKEN_TEXT) return -1;
  if (sodium_base642bin(raw, TOKEN_BYTES, found, found_len, NULL, &bin_len,
                        NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      bin_len != TOKEN_BYTES)
    return -1;
  return 1;
}

int session_cookie_id(const http_request *req, char id[SESSION_ID_TEXT + 1]) {
  unsigned char raw[TOKEN_BYTES];
  if (!req->cookie || cookie_token(req->cookie, raw) != 1) return 0;
  id_of(raw, id);
  sodium_memzero(raw, sizeof raw);
  return 1;
}

int session_roles_of(const char *role) {
  /* DESIGN.md "Who sees what": a supervisor reads everything and works
   * tasks too; admin passes every check, as the admin token does. */
  if (strcmp(role, "agent") == 0) return ROLE_AGENT;
  if (strcmp(role, "supervisor") == 0)
    return ROLE_SUPERVISOR | ROLE_READ | ROLE_AGENT;
  if (strcmp(role, "read") == 0) return ROLE_READ;
  if (strcmp(role, "admin") == 0) return ROLE_ADMIN;
  return 0;
}

int session_identify(service *svc, const http_request *req, principal *who) {
  const institution_config *cfg = script_config(engine_script(svc->eng));
  unsigned char raw[TOKEN_BYTES];
  char id[SESSION_ID_TEXT + 1];
  store_session s;
  rc_error err;
  rc_time now = session_now();
  int rc, touch_every;
  if (!req->cookie) return SESSION_NONE;
  if ((rc = cookie_token(req->cookie, raw)) <= 0)
    return rc == 0 ? SESSION_NONE : SESSION_BAD;
  id_of(raw, id);
  rc = query_session(engine_query(svc->eng), id, &s, &err);
  if (rc == RC_ENOTFOUND) {
    sodium_memzero(raw, sizeof raw);
    return SESSION_ENDED;
  }
  if (rc != RC_OK) {
    /* The database cannot say: nobody is signed in for this request. */
    char masked[1024];
    service_mask(err.message, masked, sizeof masked);
    service_log("error", json_pack("{s:s, s:s}", "msg", "session unreadable",
                                   "error", masked));
    sodium_memzero(raw, sizeof raw);
    return SESSION_ENDED;
  }
  /* Checked on every request, from the users row as it is now: a user
   * disabled by `recoup user disable` (another process) is out at once. */
  if (s.disabled || s.expires_at <= now ||
      s.last_seen + cfg->session_idle_ms <= now || !session_roles_of(s.role)) {
    store_session_free(&s);
    sodium_memzero(raw, sizeof raw);
    return SESSION_ENDED;
  }
  /* last_seen is written at most once a minute (a quarter of the idle
   * time when that is shorter): not a write per request. */
  touch_every = cfg->session_idle_ms / 4 < TOUCH_EVERY_MS
                    ? (int)(cfg->session_idle_ms / 4)
                    : TOUCH_EVERY_MS;
  if (now - s.last_seen >= touch_every &&
      engine_session_touch(svc->eng, id, now, &err) != RC_OK) {
    char masked[1024];
    service_mask(err.message, masked, sizeof masked);
    service_log("warn", json_pack("{s:s, s:s}", "msg", "session not touched",
                                  "error", masked));
  }
  who->roles = session_roles_of(s.role);
  snprintf(who->user, sizeof who->user, "%s", s.name);
  /* A named agent works its queues; everyone else sees all of them. */
  if (strcmp(s.role, "agent") == 0 && s.queues &&
      strlen(s.queues) < sizeof who->queues)
    snprintf(who->queues, sizeof who->queues, "%s", s.queues);
  else if (strcmp(s.role, "agent") == 0)
    snprintf(who->queues, sizeof who->queues, "[]"); /* never "all" */
  who->by_session = 1;
  csrf_of(raw, who->csrf);
  sodium_memzero(raw, sizeof raw);
  store_session_free(&s);
  return SESSION_OK;
}

int session_csrf_ok(const http_request *req, const principal *who) {
  size_t n = strlen(who->csrf);
  if (!who->by_session || n == 0 || !req->csrf_token ||
      strlen(req->csrf_token) != n)
    return 0;
  return sodium_memcmp(req->csrf_token, who->csrf, n) == 0;
}

/* Lowercase copy of at most size-1 bytes; 0 when it does not fit. */
static int lower_copy(const char *in, size_t len, char *out, size_t size) {
  if (len >= size) return 0;
  for (size_t i = 0; i < len; i++)
    out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
  out[len] = '\0';
  return 1;
}

int session_same_origin(const http_request *req) {
  const char *o = req->origin, *host = req->host, *authority;
  char a[300], h[300];
  size_t hl;
  if (!o) return 1;
  /* "null" (a sandboxed frame, a file: page) is nobody's origin. */
  if (strncasecmp(o, "http://", 7) == 0)
    authority = o + 7;
  else if (strncasecmp(o, "https://", 8) == 0)
    authority = o + 8;
  else
    return 0;
  if (!host) return 0;
  while (*host == ' ' || *host == '\t') host++;
  hl = strlen(host);
  while (hl && (host[hl - 1] == ' ' || host[hl - 1] == '\t')) hl--;
  /* Compared by host and port, not scheme: behind a TLS proxy the Host
   * is the public name while this side speaks plain HTTP. */
  return lower_copy(authority, strlen(authority), a, sizeof a) &&
         lower_copy(host, hl, h, sizeof h) && *a && strcmp(a, h) == 0;
}

void session_client(service *svc, const http_request *req, char *addr,
                    size_t size, int *tls) {
  const institution_config *cfg = script_config(engine_script(svc->eng));
  proxy_client(cfg->trusted_proxies, cfg->ntrusted_proxies, req->peer,
               req->forwarded_for, req->forwarded_proto, addr, size, tls);
}
