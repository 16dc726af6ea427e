/* HTTP/1.1 on libuv.
 *
 * Pipelining: when a request is complete the parser is paused, and bytes
 * that arrive meanwhile wait in `pending` until the answer to this one is
 * written; so answers always go out in order and one connection never has
 * two requests in the handler at once. Past PENDING_HIGH buffered bytes
 * reading stops (the client waits in its own socket buffer) and starts
 * again once the parser has taken them: any volume gets through, in order.
 *
 * Time: a new connection must deliver whole headers within
 * header_timeout_ms of connecting (a slowloris client trickling bytes is
 * cut off, whatever it sends); on a keep-alive connection a request's
 * headers get header_timeout_ms from its first byte and the whole request
 * request_timeout_ms; between requests a connection may idle
 * idle_timeout_ms.
 *
 * Room: at max_connections, or at max_per_address from one address, a
 * newcomer is not refused while the server holds connections that have
 * not earned their place: the oldest connection that never completed a
 * request is closed, else the oldest whose requests carried no valid token,
 * else the oldest idle one. Only when every connection is busy in the
 * handler does a newcomer get 503. Holding a thousand idle sockets
 * therefore locks nobody out: /health and clients with a token are served.
 *
 * Syntax: headers are checked byte by byte before http-parser sees them
 * (scan_head), because the parser as Debian builds it is lenient where a
 * proxy in front of us may not be: whitespace before the colon, folded
 * lines and bare CR would let the two read different requests from the
 * same bytes. Headers recoup reads may appear once. */
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <http_parser.h>
#include <jansson.h>
#include <unicode/utf8.h>

#include "recoup/http.h"

enum {
  PENDING_HIGH = 64 * 1024, /* bytes buffered before reading stops */
  PEER_BUCKETS = 1024,
  LINGER_MS = 2000
};

typedef struct conn conn;

/* The connections from one address. */
typedef struct peer {
  unsigned char key[17]; /* family, then 4 bytes (IPv4) or 8 (an IPv6 /64) */
  int n;
  struct peer *next;
} peer;

struct http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  http_limits limits;
  http_handler handler;
  void *ud;
  int port;
  int nconns, in_flight, accepting, closing;
  int read_ahead;            /* connections with read_ahead set */
  int listener_state;        /* 0 open, 1 closing, 2 closed */
  conn *oldest, *newest;     /* open connections, in accept order */
  peer *peers[PEER_BUCKETS]; /* owned */
  int trace_fd;              /* limits.trace_path opened, or -1 */
};

/* Headers recoup reads: each may appear once. */
enum {
  H_AUTHORIZATION,
  H_CONTENT_TYPE,
  H_IDEMPOTENCY_KEY,
  H_CONTENT_LENGTH,
  H_HOST,
  H_TRANSFER_ENCODING,
  H_EXPECT,
  H_COOKIE,
  H_ORIGIN,
  H_X_CSRF_TOKEN,
  H_X_FORWARDED_PROTO,
  H_X_FORWARDED_FOR, /* these two may repeat: see on_header_value */
  H_IF_NONE_MATCH,
  H_OTHER
};
static const char *const header_names[] = {"Authorization",
                                           "Content-Type",
                                           "Idempotency-Key",
                                           "Content-Length",
                                           "Host",
                                           "Transfer-Encoding",
                                           "Expect",
                                           "Cookie",
                                           "Origin",
                                           "X-CSRF-Token",
                                           "X-Forwarded-Proto",
                                           "X-Forwarded-For",
                                           "If-None-Match"};

/* scan_head's states. */
enum {
  SCAN_START,
  SCAN_REQLINE,
  SCAN_REQLINE_CR,
  SCAN_LINE_START,
  SCAN_NAME,
  SCAN_VALUE,
  SCAN_VALUE_CR,
  SCAN_END_CR,
  SCAN_DONE
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  http_parser parser;
  http_server *srv;
  conn *prev, *next; /* in srv's list while listed */
  peer *from;        /* counts this connection; NULL when not listed */
  int listed;
  http_request *req; /* being parsed, or in the handler (owned until then) */
  int in_handler;    /* req was handed over and awaits an answer */
  int parsing;       /* a request has begun arriving */
  int served;        /* requests answered on this connection */
  int trusted;       /* one of them carried a valid token */
  char peer_addr[64]; /* the connected address as text */
  /* header assembly */
  char *field; /* header name being assembled (owned) */
  int in_value, header, headers_done;
  unsigned seen;                    /* bit per H_ header given */
  char *expect, *transfer_encoding; /* owned, this request's */
  size_t header_bytes;
  int scan, rescan;
  size_t scanned; /* bytes at the front of what is unparsed, already scanned */
  /* a limit or rule was broken: answer this and close */
  int error_status;
  const char *error_code, *error_message;
  int keep_alive;
  uint64_t header_deadline, request_deadline; /* uv_now, ms */
  /* bytes read and not yet parsed (owned) */
  char *pending;
  size_t pending_off, pending_len, pending_cap;
  int closing, open_handles;
  int detached;  /* no socket: http_parse_one */
  int paused;    /* reading stopped: enough is buffered already */
  int eof;       /* the client has finished sending */
  int lingering; /* answered and closing: draining what the client sends */
  /* Answered, the answer written whole, and the next request already
   * read (pipelined): it is parsed when the write's callback runs, at the
   * loop's next turn. */
  int read_ahead;
};

static http_parser_settings settings;
static void conn_close(conn *c);
static void drain(conn *c);
static void on_timer(uv_timer_t *t);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static char *append(char *s, const char *data, size_t len) {
  size_t old = s ? strlen(s) : 0;
  char *grown = realloc(s, old + len + 1);
  if (!grown) return s;
  memcpy(grown + old, data, len);
  grown[old + len] = '\0';
  return grown;
}

static void free_request(http_request *req) {
  if (!req) return;
  free(req->url);
  free(req->path);
  free(req->query);
  free(req->authorization);
  free(req->content_type);
  free(req->idempotency_key);
  free(req->host);
  free(req->cookie);
  free(req->origin);
  free(req->csrf_token);
  free(req->forwarded_proto);
  free(req->forwarded_for);
  free(req->if_none_match);
  free(req->body);
  free(req);
}

static const char *reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
  }
  return "Status";
}

/* Records why a request is refused; returns -1 for the parser callback. */
static int fail(conn *c, int status, const char *code, const char *message) {
  if (!c->error_status) {
    c->error_status = status;
    c->error_code = code;
    c->error_message = message;
  }
  return -1;
}

/* --- peers ------------------------------------------------------------- */

static unsigned peer_hash(const unsigned char *key) {
  unsigned h = 2166136261u;
  for (int i = 0; i < 17; i++) h = (h ^ key[i]) * 16777619u;
  return h % PEER_BUCKETS;
}

/* The client address as a key: an IPv6 client usually holds a whole /64,
 * so that is what counts as one address. */
static void peer_key(uv_tcp_t *tcp, unsigned char key[17]) {
  struct sockaddr_storage sa;
  int len = sizeof sa;
  memset(key, 0, 17);
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len) != 0) return;
  if (sa.ss_family == AF_INET) {
    key[0] = 4;
    memcpy(key + 1, &((struct sockaddr_in *)&sa)->sin_addr, 4);
  } else if (sa.ss_family == AF_INET6) {
    key[0] = 6;
    memcpy(key + 1, &((struct sockaddr_in6 *)&sa)->sin6_addr, 8);
  }
}

/* The client address as text ("" when unknown): the handler decides
 * what it is (api: a trusted proxy's, or the client's own). */
static void peer_text(uv_tcp_t *tcp, char *out, size_t size) {
  struct sockaddr_storage sa;
  int len = sizeof sa;
  out[0] = '\0';
  if (uv_tcp_getpeername(tcp, (struct sockaddr *)&sa, &len) != 0) return;
  if (sa.ss_family == AF_INET)
    uv_ip4_name((struct sockaddr_in *)&sa, out, size);
  else if (sa.ss_family == AF_INET6)
    uv_ip6_name((struct sockaddr_in6 *)&sa, out, size);
}

static peer *peer_get(http_server *srv, const unsigned char key[17]) {
  unsigned h = peer_hash(key);
  peer *p;
  for (p = srv->peers[h]; p; p = p->next)
    if (memcmp(p->key, key, 17) == 0) return p;
  p = calloc(1, sizeof *p);
  if (!p) return NULL;
  memcpy(p->key, key, 17);
  p->next = srv->peers[h];
  srv->peers[h] = p;
  return p;
}

static void peer_put(http_server *srv, peer *p) {
  peer **pp;
  if (!p || --p->n > 0) return;
  for (pp = &srv->peers[peer_hash(p->key)]; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      free(p);
      return;
    }
}

/* --- writing ----------------------------------------------------------- */

typedef struct write_req {
  uv_write_t req;
  conn *c;
  int close_after;
  int interim; /* 100 Continue: the request goes on */
  char data[]; /* the whole answer */
} write_req;

static void arm(conn *c, uint64_t ms) {
  if (c->closing || c->detached || c->lingering) return;
  if (uv_timer_start(&c->timer, on_timer, ms ? ms : 1, 0) != 0) conn_close(c);
}

/* Milliseconds from now until deadline, at least 1. */
static uint64_t until(conn *c, uint64_t deadline) {
  uint64_t now = uv_now(c->srv->loop);
  return deadline > now ? deadline - now : 1;
}

static void after_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  free(req);
}

/* Closing after an answer: a client may still be sending the body we
 * refused (413). Closing at once would reset the connection and the client
 * could lose our answer; so shut our side, read and drop what comes for a
 * moment, then close (a "lingering close"). */
static void linger(conn *c) {
  uv_shutdown_t *req = malloc(sizeof *req);
  c->lingering = 1;
  if (!req || uv_shutdown(req, (uv_stream_t *)&c->tcp, after_shutdown) != 0) {
    free(req);
    conn_close(c);
    return;
  }
  if (c->eof || uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0 ||
      uv_timer_start(&c->timer, on_timer, LINGER_MS, 0) != 0)
    conn_close(c);
}

static void set_read_ahead(conn *c, int on) {
  c->srv->read_ahead += on - c->read_ahead;
  c->read_ahead = on;
}

static void after_write(uv_write_t *w, int status) {
  write_req *wr = (write_req *)w;
  conn *c = wr->c;
  int close_after = wr->close_after || status < 0, interim = wr->interim;
  free(wr);
  if (!interim) set_read_ahead(c, 0);
  if (c->closing || c->lingering) return;
  if (interim) {
    if (status < 0) conn_close(c);
    return;
  }
  if (close_after) {
    if (status < 0)
      conn_close(c);
    else
      linger(c);
    return;
  }
  /* Ready for the next request: go on with what already arrived. */
  c->in_handler = 0;
  arm(c, (uint64_t)c->srv->limits.idle_timeout_ms);
  http_parser_pause(&c->parser, 0);
  drain(c);
  if (c->closing || c->lingering) return;
  if (c->eof && !c->in_handler) {
    conn_close(c); /* the client sent all it will, and has its answers */
    return;
  }
  if (c->paused && c->pending_len < PENDING_HIGH) {
    c->paused = 0;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
      conn_close(c);
  }
}

static void write_raw(conn *c, const char *head, size_t n, const char *extra,
                      const char *body, size_t len, int close_after,
                      int interim) {
  size_t elen = extra ? strlen(extra) : 0, at = 0;
  write_req *wr;
  uv_buf_t buf;
  if (c->closing || c->detached) return;
  wr = malloc(sizeof *wr + n + elen + 2 + len);
  if (!wr) {
    conn_close(c);
    return;
  }
  wr->c = c;
  wr->close_after = close_after;
  wr->interim = interim;
  memcpy(wr->data, head, n);
  at = n;
  if (extra) {
    memcpy(wr->data + at, extra, elen);
    at += elen;
  }
  if (!interim) {
    memcpy(wr->data + at, "\r\n", 2);
    at += 2;
  }
  if (len) memcpy(wr->data + at, body, len);
  buf = uv_buf_init(wr->data, (unsigned)(at + len));
  if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &buf, 1, after_write) != 0) {
    free(wr);
    conn_close(c);
  }
}

/* Bodies longer than this are traced by length only. */
enum { TRACE_BODY_MAX = 4 * 1024 * 1024 };

static json_t *trace_text(const char *s, size_t len) {
  json_t *v = s && len <= TRACE_BODY_MAX ? json_stringn(s, len) : NULL;
  return v ? v : json_null(); /* absent, too long, or not UTF-8 */
}

/* One answer as a JSON line appended to limits.trace_path: what the
 * contract tests check against docs/openapi.json. req is what was read of
 * the request (NULL when nothing was). One write() a line on an O_APPEND
 * file, so services traced into one file do not interleave. */
static void trace(conn *c, const http_request *req, int status,
                  const char *content_type, const char *body, size_t len,
                  const char *extra) {
  json_t *o;
  char *line;
  if (!c->srv || c->srv->trace_fd < 0) return;
  if (status == 204) { /* what is sent: no type, no body */
    content_type = "";
    len = 0;
  }
  o = json_pack("{s:i, s:s, s:o, s:I, s:s?}", "status", status, "content_type",
                content_type ? content_type : "application/json", "body",
                trace_text(body, len), "body_len", (json_int_t)len, "headers",
                extra);
  if (!o) return;
  if (req) {
    json_object_set_new(
        o, "method", req->method[0] ? json_string(req->method) : json_null());
    json_object_set_new(o, "url",
                        trace_text(req->url, req->url ? strlen(req->url) : 0));
    json_object_set_new(
        o, "request_content_type",
        trace_text(req->content_type,
                   req->content_type ? strlen(req->content_type) : 0));
    json_object_set_new(o, "request_body",
                        trace_text(req->body, req->body_len));
    json_object_set_new(o, "request_body_len",
                        json_integer((json_int_t)req->body_len));
    json_object_set_new(o, "authorization",
                        json_boolean(req->authorization != NULL));
  }
  line = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (line) {
    size_t n = strlen(line);
    line[n] = '\n'; /* the NUL becomes the newline: one write */
    if (write(c->srv->trace_fd, line, n + 1) < 0) { /* a test sees the gap */
    }
    free(line);
  }
}

static void send_answer(conn *c, int status, const char *content_type,
                        const char *body, size_t len, const char *extra,
                        int close_after, int head_only) {
  char head[640];
  /* On every answer, the console's pages and the transport's refusals
   * alike: no type sniffing (a JSON body holding a borrower's "<script>"
   * is never run as HTML), no framing (clickjacking), and no Referer
   * leaving with a case id in the URL. */
  int n;
  /* 204 has no body, so neither type nor length (RFC 9110 8.6); nor
   * has 304, whose length would have to be the 200's (8.6 again). */
  if (status == 204 || status == 304)
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nConnection: %s\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "X-Frame-Options: DENY\r\n"
                 "Referrer-Policy: no-referrer\r\n",
                 status, reason_phrase(status), close_after ? "close" : "keep-alive");
  else
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: "
                 "%zu\r\nConnection: %s\r\n"
                 "X-Content-Type-Options: nosniff\r\n"
                 "X-Frame-Options: DENY\r\n"
                 "Referrer-Policy: no-referrer\r\n",
                 status, reason_phrase(status),
                 content_type ? content_type : "application/json", len,
                 close_after ? "close" : "keep-alive");
  /* A HEAD's answer says the length a GET would get, and sends none. */
  if (status == 204 || status == 304 || head_only) len = 0;
  if (n < 0 || (size_t)n >= sizeof head) n = 0;
  write_raw(c, head, (size_t)n, extra, body, len, close_after, 0);
}

/* The transport's own refusals, in the one error shape: these concern the
 * request as a whole, so field is null. Messages are constants without
 * quotes or backslashes. */
static void answer_error(conn *c, int status, const char *code,
                         const char *message) {
  char body[300];
  const char *extra = status == 503
                          ? "Cache-Control: no-store\r\nRetry-After: 1\r\n"
                          : "Cache-Control: no-store\r\n";
  int n = snprintf(
      body, sizeof body,
      "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"field\":null}}", code,
      message);
  if (n < 0 || (size_t)n >= sizeof body) n = 0;
  /* uv_read_stop and uv_timer_stop cannot fail (libuv's documentation):
   * their returns are cast away here; every other libuv return is
   * checked. */
  if (!c->closing && !c->detached) (void)uv_read_stop((uv_stream_t *)&c->tcp);
  if (!c->closing && !c->detached)
    trace(c, c->req, status, "application/json", body, (size_t)n, extra);
  send_answer(c, status, "application/json", body, (size_t)n, extra, 1, 0);
}

void http_respond(http_request *req, int status, const char *content_type,
                  const char *body, size_t len, const char *extra_headers) {
  conn *c = req->conn;
  if (c) {
    c->srv->in_flight--;
    c->req = NULL;
    c->served++;
    if (req->trusted) c->trusted = 1;
    if (!c->closing)
      trace(c, req, status, content_type, body, len, extra_headers);
    send_answer(c, status, content_type, body, len, extra_headers,
                !c->keep_alive || c->srv->closing,
                strcmp(req->method, "HEAD") == 0);
    /* A client that does not read its answers holds up nothing. */
    if (!c->closing && !c->lingering && !c->detached && c->pending_len > 0 &&
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0)
      set_read_ahead(c, 1);
  }
  free_request(req);
}

/* --- header syntax ----------------------------------------------------- */

static int is_tchar(unsigned char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9') || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Checks the request line and header lines of the request being read,
 * RFC 9112 section 5 without its obsolete allowances: a field name is a
 * token directly followed by ':', no line starts with whitespace (folding,
 * or whitespace before the first field), CR only before LF, no control
 * characters other than HT in values. A lone LF ends a line (RFC 9112
 * 2.2 allows it; http-parser reads it the same way). */
static int scan_head(conn *c, const char *data, size_t len) {
  static const char *const bad_cr = "a CR not followed by LF";
  for (size_t i = 0; i < len && c->scan != SCAN_DONE; i++) {
    unsigned char ch = (unsigned char)data[i];
    switch (c->scan) {
      case SCAN_START:
        if (ch != '\r' && ch != '\n') {
          c->scan = SCAN_REQLINE;
          i--;
        }
        break;
      case SCAN_REQLINE:
        if (ch == '\r')
          c->scan = SCAN_REQLINE_CR;
        else if (ch == '\n')
          c->scan = SCAN_LINE_START;
        else if (ch < 0x20 || ch == 0x7f)
          return fail(c, 400, "bad_request",
                      "a control character in the request line");
        break;
      case SCAN_REQLINE_CR:
      case SCAN_VALUE_CR:
        if (ch != '\n') return fail(c, 400, "bad_request", bad_cr);
        c->scan = SCAN_LINE_START;
        break;
      case SCAN_LINE_START:
        if (ch == '\r')
          c->scan = SCAN_END_CR;
        else if (ch == '\n')
          c->scan = SCAN_DONE;
        else if (ch == ' ' || ch == '\t')
          return fail(c, 400, "bad_request",
                      "a header line starts with whitespace (obsolete line "
                      "folding)");
        else if (is_tchar(ch))
          c->scan = SCAN_NAME;
        else
          return fail(c, 400, "bad_request",
                      "a header name holds a character not allowed there");
        break;
      case SCAN_NAME:
        if (ch == ':')
          c->scan = SCAN_VALUE;
        else if (!is_tchar(ch))
          return fail(c, 400, "bad_request",
                      ch == ' ' || ch == '\t'
                          ? "whitespace between a header name and its colon"
                          : "a header name holds a character not allowed "
                            "there");
        break;
      case SCAN_VALUE:
        if (ch == '\r')
          c->scan = SCAN_VALUE_CR;
        else if (ch == '\n')
          c->scan = SCAN_LINE_START;
        else if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
          return fail(c, 400, "bad_request",
                      "a control character in a header value");
        break;
      case SCAN_END_CR:
        if (ch != '\n') return fail(c, 400, "bad_request", bad_cr);
        c->scan = SCAN_DONE;
        break;
    }
  }
  return 0;
}

/* --- parser callbacks -------------------------------------------------- */

static int on_message_begin(http_parser *p) {
  conn *c = p->data;
  uint64_t now = c->detached ? 0 : uv_now(c->srv->loop);
  c->req = calloc(1, sizeof *c->req);
  if (!c->req) return -1;
  c->req->conn = c;
  c->req->started_ns = uv_hrtime();
  memcpy(c->req->peer, c->peer_addr, sizeof c->req->peer);
  c->parsing = 1;
  c->header_bytes = 0;
  c->seen = 0;
  /* A new connection's header deadline runs from when it connected. */
  if (c->served > 0)
    c->header_deadline = now + (uint64_t)c->srv->limits.header_timeout_ms;
  c->request_deadline = now + (uint64_t)c->srv->limits.request_timeout_ms;
  c->headers_done = 0;
  if (!c->detached)
    arm(c, until(c, c->header_deadline < c->request_deadline
                        ? c->header_deadline
                        : c->request_deadline));
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if ((c->req->url ? strlen(c->req->url) : 0) + len > c->srv->limits.url_limit)
    return fail(c, 414, "url_too_long", "the URL is too long");
  c->req->url = append(c->req->url, at, len);
  return 0;
}

static int over_headers(conn *c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes > c->srv->limits.header_limit)
    return fail(c, 431, "headers_too_large", "the headers are too large");
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  /* A new line costs its ": " and CRLF too: counting names and values
   * alone let 4,000 lines "X-A: b" (32 KB) through a 16 KB limit. */
  int line = c->in_value || !c->field;
  if (over_headers(c, len + (line ? 4 : 0))) return -1;
  if (line) {
    free(c->field);
    c->field = NULL;
    c->in_value = 0;
  }
  c->field = append(c->field, at, len);
  return 0;
}

static char **header_slot(conn *c) {
  switch (c->header) {
    case H_AUTHORIZATION:
      return &c->req->authorization;
    case H_CONTENT_TYPE:
      return &c->req->content_type;
    case H_IDEMPOTENCY_KEY:
      return &c->req->idempotency_key;
    case H_HOST:
      return &c->req->host;
    case H_COOKIE:
      return &c->req->cookie;
    case H_ORIGIN:
      return &c->req->origin;
    case H_X_CSRF_TOKEN:
      return &c->req->csrf_token;
    case H_X_FORWARDED_PROTO:
      return &c->req->forwarded_proto;
    case H_X_FORWARDED_FOR:
      return &c->req->forwarded_for;
    case H_IF_NONE_MATCH:
      return &c->req->if_none_match;
    case H_TRANSFER_ENCODING:
      return &c->transfer_encoding;
    case H_EXPECT:
      return &c->expect;
  }
  return NULL;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  char **slot;
  if (over_headers(c, len)) return -1;
  if (!c->in_value) {
    c->in_value = 1;
    c->header = H_OTHER;
    /* Trailers after a chunked body are read and ignored: none may stand
     * in for a header (an Authorization after the body). */
    for (int h = 0; c->field && !c->headers_done && h < H_OTHER; h++)
      if (strcasecmp(c->field, header_names[h]) == 0) c->header = h;
    if (c->header == H_X_FORWARDED_FOR || c->header == H_IF_NONE_MATCH) {
      /* Each proxy on the way may add its own line: several lines are one
       * list (RFC 9110 5.3), in order, the nearest hop last. */
      if ((slot = header_slot(c)) != NULL && *slot)
        *slot = append(*slot, ",", 1);
    } else if (c->header != H_OTHER) {
      /* Two Authorization headers (a read token, then an ingest token)
       * must not leave the choice to whoever reads last; nor two Cookie,
       * Origin, X-CSRF-Token or X-Forwarded-Proto headers. */
      if (c->seen & (1u << c->header))
        return fail(c, 400, "bad_request",
                    c->header == H_AUTHORIZATION
                        ? "the Authorization header is given twice"
                        : "a header that may appear once is given twice");
      c->seen |= 1u << c->header;
    }
    if ((slot = header_slot(c)) != NULL && !*slot) *slot = append(NULL, "", 0);
  }
  if ((slot = header_slot(c)) != NULL) *slot = append(*slot, at, len);
  return 0;
}

/* The value without surrounding whitespace equals want, ignoring case. */
static int value_is(const char *v, const char *want) {
  size_t n;
  while (*v == ' ' || *v == '\t') v++;
  n = strlen(v);
  while (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
  return n == strlen(want) && strncasecmp(v, want, n) == 0;
}

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static int on_headers_complete(http_parser *p) {
  conn *c = p->data;
  int v11 = p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1);
  char *q;
  free(c->field);
  c->field = NULL;
  c->in_value = 0;
  c->headers_done = 1;
  snprintf(c->req->method, sizeof c->req->method, "%s",
           http_method_str((enum http_method)p->method));
  if (!c->req->url) c->req->url = append(NULL, "/", 1);
  c->req->path = strdup(c->req->url);
  if (c->req->path && (q = strchr(c->req->path, '?')) != NULL) {
    *q = '\0';
    c->req->query = strdup(q + 1);
  }
  if (!c->req->path) return -1;
  /* RFC 9112 3.2: exactly one Host in HTTP/1.1. */
  if (v11 && !(c->seen & (1u << H_HOST)))
    return fail(c, 400, "bad_request", "an HTTP/1.1 request needs a Host");
  if (c->seen & (1u << H_TRANSFER_ENCODING)) {
    if (c->seen & (1u << H_CONTENT_LENGTH))
      return fail(c, 400, "bad_request",
                  "Content-Length and Transfer-Encoding together");
    if (!value_is(c->transfer_encoding, "chunked"))
      return fail(c, 501, "not_implemented",
                  "the only transfer coding accepted is chunked");
  }
  /* A declared length over the limit is refused before reading it. */
  if (p->content_length != ULLONG_MAX &&
      p->content_length > c->srv->limits.body_limit)
    return fail(c, 413, "body_too_large", "the request body is too large");
  if (c->seen & (1u << H_EXPECT)) {
    if (!value_is(c->expect, "100-continue"))
      return fail(c, 417, "expectation_failed",
                  "the only expectation met is 100-continue");
    /* The client waits for a go-ahead before it sends the body. */
    if (v11 && (p->flags & F_CHUNKED ||
                (p->content_length != ULLONG_MAX && p->content_length > 0)))
      write_raw(c, continue_line, sizeof continue_line - 1, NULL, NULL, 0, 0,
                1);
  }
  if (!c->detached) arm(c, until(c, c->request_deadline));
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  http_request *r = c->req;
  char *grown;
  if (r->body_len + len > c->srv->limits.body_limit)
    /* chunked bodies are counted as they come */
    return fail(c, 413, "body_too_large", "the request body is too large");
  grown = realloc(r->body, r->body_len + len + 1);
  if (!grown) return -1;
  r->body = grown;
  memcpy(r->body + r->body_len, at, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn *c = p->data;
  c->parsing = 0;
  c->in_handler = 1;
  c->keep_alive = http_should_keep_alive(p);
  free(c->expect);
  free(c->transfer_encoding);
  c->expect = c->transfer_encoding = NULL;
  c->scan = SCAN_START; /* what follows is the next request's head */
  c->rescan = 1;
  /* Stop here: the next pipelined request waits for this answer. */
  http_parser_pause(p, 1);
  if (c->detached) return 0;
  (void)uv_timer_stop(&c->timer);
  c->srv->in_flight++;
  c->srv->handler(c->srv->ud, c->req);
  return 0;
}

/* Scans and parses len bytes; *used says how many the parser took.
 * Returns 0, or -1 when the request is refused (the reason in c). */
static int parse(conn *c, const char *data, size_t len, size_t *used) {
  enum http_errno e;
  *used = 0;
  if (c->scanned < len && scan_head(c, data + c->scanned, len - c->scanned))
    return -1;
  c->scanned = len;
  *used = http_parser_execute(&c->parser, &settings, data, len);
  if (c->rescan) {
    c->scanned = 0;
    c->rescan = 0;
  } else {
    c->scanned = len - *used;
  }
  e = HTTP_PARSER_ERRNO(&c->parser);
  if (e == HPE_OK || e == HPE_PAUSED) return 0;
  if (!c->error_status) fail(c, 400, "bad_request", http_errno_description(e));
  return -1;
}

/* Parses what is pending, up to the end of the next complete request. */
static void drain(conn *c) {
  while (c->pending_len > 0 && !c->in_handler && !c->closing && !c->lingering) {
    size_t used;
    int rc = parse(c, c->pending + c->pending_off, c->pending_len, &used);
    c->pending_off += used;
    c->pending_len -= used;
    if (rc != 0) {
      answer_error(c, c->error_status, c->error_code, c->error_message);
      if (c->req && !c->in_handler) {
        free_request(c->req);
        c->req = NULL;
      }
      return;
    }
    if (used == 0 && !c->in_handler) break; /* cannot happen; be safe */
  }
  if (c->pending_len == 0) c->pending_off = 0;
}

static int keep(conn *c, const char *data, size_t len) {
  if (c->pending_off &&
      c->pending_off + c->pending_len + len > c->pending_cap) {
    memmove(c->pending, c->pending + c->pending_off, c->pending_len);
    c->pending_off = 0;
  }
  if (c->pending_len + len > c->pending_cap) {
    size_t cap = c->pending_cap ? c->pending_cap : 16384;
    char *grown;
    while (cap < c->pending_len + len) cap *= 2;
    if (!(grown = realloc(c->pending, cap))) return -1;
    c->pending = grown;
    c->pending_cap = cap;
  }
  memcpy(c->pending + c->pending_off + c->pending_len, data, len);
  c->pending_len += len;
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = buf->base ? suggested : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn *c = s->data;
  if (n < 0) {
    free(buf->base);
    if (n != UV_EOF || c->lingering || !(c->in_handler || c->pending_len)) {
      conn_close(c);
      return;
    }
    /* The client has sent everything: answer what came, then close. */
    c->eof = 1;
    (void)uv_read_stop(s);
    return;
  }
  if (c->lingering || n == 0) { /* answered already: drop it */
    free(buf->base);
    return;
  }
  if (keep(c, buf->base, (size_t)n) != 0) {
    free(buf->base);
    conn_close(c);
    return;
  }
  free(buf->base);
  drain(c);
  if (!c->closing && !c->lingering && c->pending_len >= PENDING_HIGH) {
    (void)uv_read_stop(s); /* enough buffered: back-pressure */
    c->paused = 1;
  }
}

static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  if (c->lingering) {
    conn_close(c);
    return;
  }
  if (c->in_handler) return; /* the answer will come */
  if (c->parsing) {
    answer_error(c, 408, "request_timeout",
                 "the request did not arrive in time");
    if (c->req) {
      free_request(c->req);
      c->req = NULL;
    }
    return;
  }
  conn_close(c);
}

/* --- connections ------------------------------------------------------- */

static void on_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->open_handles > 0) return;
  free(c->pending);
  free(c->field);
  free(c->expect);
  free(c->transfer_encoding);
  free(c);
}

static void conn_close(conn *c) {
  http_server *srv = c->srv;
  if (c->closing) return;
  c->closing = 1;
  set_read_ahead(c, 0);
  if (c->listed) {
    if (c->prev)
      c->prev->next = c->next;
    else
      srv->oldest = c->next;
    if (c->next)
      c->next->prev = c->prev;
    else
      srv->newest = c->prev;
    c->listed = 0;
    srv->nconns--;
    peer_put(srv, c->from);
    c->from = NULL;
  }
  if (c->req) {
    if (c->in_handler) {
      c->req->conn = NULL; /* the handler still answers; nobody listens */
      srv->in_flight--;
    } else {
      free_request(c->req);
    }
    c->req = NULL;
  }
  uv_close((uv_handle_t *)&c->timer, on_closed);
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

/* How readily a connection gives up its place to a newcomer: 4 answered
 * and closing anyway, 3 never completed a request, 2 no request of it
 * carried a token, 1 idle between requests, 0 busy in the handler
 * (never). */
static int expendable(const conn *c) {
  if (c->lingering) return 4;
  if (c->in_handler) return 0;
  if (!c->served) return 3;
  if (!c->trusted) return 2;
  return c->parsing ? 0 : 1;
}

/* Makes room for one more connection (from p, when p is given): closes
 * the most expendable, oldest first. Returns 0 when there was room. */
static int make_room(http_server *srv, const peer *p) {
  conn *best = NULL;
  int best_rank = 0;
  for (conn *c = srv->oldest; c && best_rank < 4; c = c->next) {
    int rank;
    if (p && c->from != p) continue;
    if ((rank = expendable(c)) > best_rank) {
      best = c;
      best_rank = rank;
    }
  }
  if (!best) return -1;
  conn_close(best);
  return 0;
}

/* Full of busy connections: say so at once rather than leave it hanging. */
static void refuse(conn *c, const char *code, const char *message) {
  answer_error(c, 503, code, message);
}

static void on_connection(uv_stream_t *l, int status) {
  http_server *srv = l->data;
  unsigned char key[17];
  peer *from;
  conn *c;
  if (status < 0) return; /* EMFILE and the like: the next one may work */
  c = calloc(1, sizeof *c);
  if (!c) return;
  c->srv = srv;
  c->tcp.data = c->timer.data = c;
  if (uv_tcp_init(srv->loop, &c->tcp) != 0) {
    free(c);
    return;
  }
  c->open_handles = 1;
  if (uv_timer_init(srv->loop, &c->timer) != 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return;
  }
  c->open_handles = 2;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  if (!srv->accepting) {
    refuse(c, "shutting_down", "the service is shutting down");
    return;
  }
  peer_key(&c->tcp, key);
  peer_text(&c->tcp, c->peer_addr, sizeof c->peer_addr);
  if (!(from = peer_get(srv, key))) {
    conn_close(c);
    return;
  }
  from->n++; /* counted now: closing others to make room never frees it */
  if ((from->n > srv->limits.max_per_address && make_room(srv, from) != 0) ||
      (srv->nconns >= srv->limits.max_connections &&
       make_room(srv, NULL) != 0)) {
    peer_put(srv, from);
    refuse(c, "busy", "too many connections; retry shortly");
    return;
  }
  c->from = from;
  c->listed = 1;
  c->prev = srv->newest;
  if (srv->newest)
    srv->newest->next = c;
  else
    srv->oldest = c;
  srv->newest = c;
  srv->nconns++;
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->header_deadline =
      uv_now(srv->loop) + (uint64_t)srv->limits.header_timeout_ms;
  uv_tcp_nodelay(&c->tcp, 1); /* an optimisation: failing is harmless */
  arm(c, (uint64_t)srv->limits.header_timeout_ms);
  if (!c->closing &&
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
    conn_close(c);
}

static void init_settings(void) {
  settings.on_message_begin = on_message_begin;
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_body = on_body;
  settings.on_message_complete = on_message_complete;
}

static void on_listener_closed(uv_handle_t *h) {
  http_server *srv = h->data;
  srv->listener_state = 2;
  if (srv->closing) free(srv);
}

int http_server_start(http_server **out, uv_loop_t *loop, const char *listen,
                      const http_limits *limits, http_handler handler, void *ud,
                      rc_error *err) {
  http_server *srv = calloc(1, sizeof *srv);
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound, rc;
  char host[128];
  const char *colon = strrchr(listen, ':');
  *out = NULL;
  if (!srv) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  srv->trace_fd = -1;
  if (!colon || (size_t)(colon - listen) >= sizeof host) {
    free(srv);
    return rc_error_set(err, RC_EINVAL, "listen",
                        "listen '%s' is not HOST:PORT", listen);
  }
  snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
  if (uv_ip4_addr(host, atoi(colon + 1), &addr) != 0) {
    free(srv);
    return rc_error_set(err, RC_EINVAL, "listen",
                        "listen '%s': not an IPv4 address", listen);
  }
  init_settings();
  srv->loop = loop;
  srv->limits = *limits;
  srv->handler = handler;
  srv->ud = ud;
  srv->accepting = 1;
  if ((rc = uv_tcp_init(loop, &srv->listener)) != 0) {
    free(srv);
    return rc_error_set(err, RC_EIO, "listen", "cannot listen on %s: %s",
                        listen, uv_strerror(rc));
  }
  srv->listener.data = srv;
  if ((rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection)) !=
          0 ||
      (rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound,
                               &len)) != 0) {
    /* freed by on_listener_closed when the caller runs the loop */
    srv->closing = 1;
    srv->listener_state = 1;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
    return rc_error_set(err, RC_EIO, "listen", "cannot listen on %s: %s",
                        listen, uv_strerror(rc));
  }
  srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
  if (limits->trace_path &&
      (srv->trace_fd = open(limits->trace_path,
                            O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) <
          0) {
    http_server_close(srv);
    return rc_error_set(err, RC_EIO, "trace", "cannot open %s",
                        limits->trace_path);
  }
  *out = srv;
  return RC_OK;
}

void http_request_free(http_request *req) {
  free_request(req);
}

int http_parse_one(const char *data, size_t len, const http_limits *limits,
                   http_request **out) {
  http_server srv;
  conn c;
  size_t used;
  int status = -1;
  memset(&srv, 0, sizeof srv);
  memset(&c, 0, sizeof c);
  srv.limits = *limits;
  srv.trace_fd = -1;
  c.srv = &srv;
  c.detached = 1;
  *out = NULL;
  init_settings();
  http_parser_init(&c.parser, HTTP_REQUEST);
  c.parser.data = &c;
  if (parse(&c, data, len, &used) != 0)
    status = c.error_status;
  else if (c.in_handler) {
    status = 0;
    *out = c.req;
    c.req = NULL;
  }
  free_request(c.req);
  free(c.field);
  free(c.expect);
  free(c.transfer_encoding);
  return status;
}

int http_server_port(const http_server *srv) {
  return srv->port;
}

int http_server_in_flight(const http_server *srv) {
  return srv->in_flight;
}

int http_server_read_ahead(const http_server *srv) {
  return srv->read_ahead;
}

void http_server_stop_accepting(http_server *srv) {
  srv->accepting = 0;
  if (srv->listener_state == 0) {
    srv->listener_state = 1;
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
  }
}

void http_server_close(http_server *srv) {
  if (!srv) return;
  srv->closing = 1;
  if (srv->trace_fd >= 0) close(srv->trace_fd);
  srv->trace_fd = -1;
  http_server_stop_accepting(srv);
  while (srv->oldest) conn_close(srv->oldest);
  if (srv->listener_state == 2) free(srv);
}

/* --- URLs -------------------------------------------------------------- */

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* Well-formed UTF-8 (no overlong forms, surrogates or values past
 * U+10FFFF: ICU's U8_NEXT) without control characters. */
static int text_ok(const unsigned char *s, size_t len) {
  int32_t i = 0, n = len > INT32_MAX ? -1 : (int32_t)len;
  if (n < 0) return 0;
  while (i < n) {
    UChar32 c;
    U8_NEXT(s, i, n, c);
    if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f)) return 0;
  }
  return 1;
}

int http_unescape(const char *in, size_t len, int plus_is_space, char *out,
                  size_t size) {
  size_t o = 0;
  int rc = 0;
  if (size == 0) return HTTP_TOO_LONG;
  for (size_t i = 0; i < len && rc == 0; i++) {
    int ch = (unsigned char)in[i];
    if (ch == '%') {
      /* exactly two hex digits: strtol would take "%+1" and "%-1" */
      if (i + 2 >= len || hexval(in[i + 1]) < 0 || hexval(in[i + 2]) < 0) {
        rc = HTTP_BAD_ESCAPE;
        break;
      }
      ch = hexval(in[i + 1]) * 16 + hexval(in[i + 2]);
      i += 2;
    } else if (ch == '+' && plus_is_space) {
      ch = ' ';
    }
    if (o + 1 >= size)
      rc = HTTP_TOO_LONG;
    else
      out[o++] = (char)ch;
  }
  out[o] = '\0'; /* what fits, even on failure */
  if (rc == 0 && !text_ok((const unsigned char *)out, o)) rc = HTTP_BAD_TEXT;
  return rc < 0 ? rc : (int)o;
}

/* Calls fn for each name=value pair of the query, until it returns
 * non-zero. */
static int each_param(const char *q,
                      int (*fn)(void *ud, const char *name, size_t nlen,
                                const char *value, size_t vlen),
                      void *ud) {
  while (q && *q) {
    const char *end = strchr(q, '&'), *eq;
    size_t len = end ? (size_t)(end - q) : strlen(q), nlen;
    int rc;
    eq = memchr(q, '=', len);
    nlen = eq ? (size_t)(eq - q) : len;
    if (len > 0 &&
        (rc = fn(ud, q, nlen, eq ? eq + 1 : q + len, eq ? len - nlen - 1 : 0)))
      return rc;
    q = end ? end + 1 : NULL;
  }
  return 0;
}

typedef struct query_find {
  const char *name;
  char *buf;
  size_t size;
  int rc;
} query_find;

static int find_param(void *ud, const char *name, size_t nlen,
                      const char *value, size_t vlen) {
  query_find *f = ud;
  if (strlen(f->name) != nlen || strncmp(name, f->name, nlen) != 0) return 0;
  f->rc = http_unescape(value, vlen, 1, f->buf, f->size);
  if (f->rc >= 0) f->rc = 1;
  return 1;
}

int http_query(const http_request *req, const char *name, char *buf,
               size_t size) {
  query_find f = {name, buf, size, 0};
  each_param(req->query, find_param, &f);
  return f.rc;
}

typedef struct query_check {
  const char *query;
  char *name;
  size_t size;
} query_check;

/* Decodes a parameter's name into a fresh string, or NULL. */
static char *param_name(const char *name, size_t nlen, int *rc) {
  char *out = malloc(nlen + 1);
  *rc = out ? http_unescape(name, nlen, 1, out, nlen + 1) : HTTP_TOO_LONG;
  if (*rc < 0) {
    free(out);
    return NULL;
  }
  return out;
}

typedef struct query_dup {
  const char *stop; /* the parameter being checked */
  const char *name; /* its decoded name */
  int found;
} query_dup;

static int same_name(void *ud, const char *name, size_t nlen, const char *value,
                     size_t vlen) {
  query_dup *d = ud;
  char *other;
  int rc;
  (void)value;
  (void)vlen;
  if (name >= d->stop) return 1;
  if ((other = param_name(name, nlen, &rc)) != NULL) {
    d->found = strcmp(other, d->name) == 0;
    free(other);
  }
  return d->found;
}

static int check_param(void *ud, const char *name, size_t nlen,
                       const char *value, size_t vlen) {
  query_check *qc = ud;
  char *decoded, *dname;
  int rc;
  snprintf(qc->name, qc->size, "%.*s", (int)nlen, name);
  if (!(dname = param_name(name, nlen, &rc))) return rc;
  if (!(decoded = malloc(vlen + 1))) {
    free(dname);
    return HTTP_TOO_LONG;
  }
  rc = http_unescape(value, vlen, 1, decoded, vlen + 1);
  free(decoded);
  if (rc >= 0) {
    /* given twice: which one counts would be a guess */
    query_dup d = {name, dname, 0};
    each_param(qc->query, same_name, &d);
    rc = d.found ? HTTP_DUPLICATE : 0;
  }
  free(dname);
  return rc < 0 ? rc : 0;
}

int http_query_check(const http_request *req, char *name, size_t size) {
  query_check qc = {req->query, name, size};
  if (size) name[0] = '\0';
  return each_param(req->query, check_param, &qc);
}
