/* Console sessions on the service side: the token a cookie carries, its
 * hash the database keeps, the CSRF token derived from it, and who a
 * request with the cookie is. The engine stores them (engine_session_*);
 * api_session.c answers the routes. */
#ifndef RECOUP_SESSION_H
#define RECOUP_SESSION_H

#include "service.h"

enum {
  SESSION_TOKEN_TEXT = 43, /* 32 random bytes, base64url without padding */
  SESSION_ID_TEXT = 64,    /* hex SHA-256 of the token */
  SESSION_CSRF_TEXT = 43   /* 32 bytes keyed by the token, base64url */
};

/* What a request's cookie says. */
enum {
  SESSION_NONE = 0,   /* no recoup_session cookie */
  SESSION_OK = 1,     /* a live session: who is filled */
  SESSION_ENDED = -1, /* a well-formed token naming no live session */
  SESSION_BAD = -2    /* a cookie that is no token of ours */
};

/* A new token with its id and CSRF token. RC_OK, or RC_EINTERNAL when
 * libsodium does not start. */
int session_new(char token[SESSION_TOKEN_TEXT + 1],
                char id[SESSION_ID_TEXT + 1], char csrf[SESSION_CSRF_TEXT + 1],
                rc_error *err);
/* Who the request's recoup_session cookie signs in (see the enum). A live
 * session is touched (last_seen) at most once a minute. */
int session_identify(service *svc, const http_request *req, principal *who);
/* The id of the session the request's cookie names, whether or not it is
 * live: 1 when there is a well-formed one. */
int session_cookie_id(const http_request *req, char id[SESSION_ID_TEXT + 1]);
/* Whether the request's X-CSRF-Token is who's (constant time). */
int session_csrf_ok(const http_request *req, const principal *who);
/* Whether the request's Origin, when it has one, is the service's own:
 * the host and port of its Host header. A request without Origin passes
 * (not a browser's cross-site request: those carry it). */
int session_same_origin(const http_request *req);
/* The client address and whether the request came over TLS, through the
 * trusted proxies (service.trusted_proxies). */
void session_client(service *svc, const http_request *req, char *addr,
                    size_t size, int *tls);
/* A role name ("agent", ...) as the ROLE_ bits it grants. */
int session_roles_of(const char *role);
/* Wall-clock ms: a session lasts real hours even on a rehearsal clock. */
rc_time session_now(void);

#endif
