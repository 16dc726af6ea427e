/* A small HTTP/1.1 server on libuv with http-parser: keep-alive, pipelined
 * requests answered in order, chunked bodies, Expect: 100-continue, strict
 * header syntax, and hard limits on what a client can make it hold (body,
 * headers, URL, connections, per-address connections, time). */
#ifndef RECOUP_HTTP_H
#define RECOUP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "recoup/recoup.h"

typedef struct http_server http_server;

typedef struct http_limits {
  size_t body_limit;      /* bytes; larger bodies get 413 */
  size_t header_limit;    /* bytes of all headers; 431 */
  size_t url_limit;       /* bytes; 414 */
  int max_connections;    /* all addresses together */
  int max_per_address;    /* from one client address (IPv6: one /64) */
  int idle_timeout_ms;    /* a keep-alive connection with nothing to do */
  int header_timeout_ms;  /* a new connection must send whole headers */
  int request_timeout_ms; /* a request must arrive whole within this */
  /* Tests: every answer, with what was read of its request, appended to
   * this file as a JSON line (RECOUP_HTTP_TRACE); NULL for none. */
  const char *trace_path;
} http_limits;

/* One request, handed to the handler; it stays valid until the handler
 * (now or later) answers it with http_respond. Strings owned by the
 * request; NULL when absent. */
typedef struct http_request {
  char method[16];
  char *url;   /* as sent: path and query */
  char *path;  /* without the query, not decoded */
  char *query; /* after '?', not decoded */
  char *authorization, *content_type, *idempotency_key;
  /* Each given at most once (a second is refused with 400), but
   * X-Forwarded-For and If-None-Match, lists whose lines are joined with
   * "," in order. */
  char *host, *cookie, *origin, *csrf_token; /* csrf_token: X-CSRF-Token */
  char *forwarded_proto, *forwarded_for;     /* X-Forwarded-Proto, -For */
  char *if_none_match;
  char peer[64]; /* the connected address as text; "" when unknown */
  char *body;
  size_t body_len;
  uint64_t started_ns; /* uv_hrtime when the request arrived */
  /* Set by the handler when the request proved who sent it (a valid
   * token): its connection is then the last to be closed when the server
   * or its address is full. */
  int trusted;
  void *conn; /* private; NULL once the client has gone */
} http_request;

typedef void (*http_handler)(void *ud, http_request *req);

int http_server_start(http_server **out, uv_loop_t *loop, const char *listen,
                      const http_limits *limits, http_handler handler, void *ud,
                      rc_error *err);
int http_server_port(const http_server *srv);
/* Answers a request (and frees it). extra_headers: full lines, each ending
 * in CRLF, or NULL. */
void http_respond(http_request *req, int status, const char *content_type,
                  const char *body, size_t len, const char *extra_headers);
void http_server_stop_accepting(http_server *srv);
/* Requests handed to the handler and not yet answered. */
int http_server_in_flight(const http_server *srv);
/* Connections answered whose next request was already read (pipelined):
 * it is parsed at the loop's next turn, once the answer's write ends. */
int http_server_read_ahead(const http_server *srv);
/* Closes every connection and the listener; the server is freed when
 * libuv has let go of them: run the loop to finish. */
void http_server_close(http_server *srv);
/* Parses one request from a buffer with the server's own parser and
 * limits, without a socket: for fuzzing and tests. Returns 0 and the
 * request (free it with http_request_free), or the status an answer would
 * carry (400, 413, 414, 417, 431, 501), or -1 when the buffer ends early. */
int http_parse_one(const char *data, size_t len, const http_limits *limits,
                   http_request **out);
void http_request_free(http_request *req);

/* Percent-decoding of len bytes of a URL part into out (NUL-terminated);
 * plus_is_space for query parameters. Returns the decoded length, or one
 * of the negative codes below. Decoded text must be UTF-8 without control
 * characters (C0, DEL, C1): an id with a NUL in it is refused, never cut. */
enum {
  HTTP_BAD_ESCAPE = -1, /* '%' not followed by two hex digits */
  HTTP_BAD_TEXT = -2,   /* a control character or invalid UTF-8 */
  HTTP_TOO_LONG = -3,   /* does not fit in out */
  HTTP_DUPLICATE = -4   /* a query parameter given twice */
};
int http_unescape(const char *in, size_t len, int plus_is_space, char *out,
                  size_t size);
/* Checks every query parameter: each decodes (as above) and none is given
 * twice (HTTP_DUPLICATE). Returns 0, or a negative code with the parameter's
 * name (as sent, cut to size) in name. */
int http_query_check(const http_request *req, char *name, size_t size);
/* Query parameter `name`, decoded, into buf: 1 when present, 0 when
 * absent, a negative code when it does not decode (see above). */
int http_query(const http_request *req, const char *name, char *buf,
               size_t size);

#endif
