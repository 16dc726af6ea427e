/* HTTP/1.1 on libuv.
 *
 * Pipelining: when a request is complete the parser is paused, and bytes
 * that already arrived for the next request wait in `pending` until the
 * answer to this one is written; so answers always go out in order and one
 * connection never has two requests in the handler at once.
 *
 * Time: a connection waiting between requests may idle idle_timeout_ms; a
 * request, once begun, must arrive whole within request_timeout_ms — a
 * client sending one byte a second cannot hold a connection forever. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "recoup/http.h"

typedef struct conn conn;

struct http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  http_limits limits;
  http_handler handler;
  void *ud;
  int port;
  int nconns, in_flight, accepting;
  conn *conns; /* list of open connections */
  int closing;
};

struct conn {
  uv_tcp_t tcp;
  uv_timer_t timer;
  http_parser parser;
  http_server *srv;
  conn *next;
  http_request *req; /* being parsed, or in the handler */
  int in_handler;    /* req was handed over and awaits an answer */
  int parsing;       /* a request has begun arriving */
  char *field;       /* header name being assembled (owned) */
  char **value_slot; /* where the current header value goes */
  int in_value;
  size_t header_bytes;
  int error_status; /* a limit was hit: answer this and close */
  int keep_alive;
  char *pending; /* bytes read past the current request (owned) */
  size_t pending_len;
  int closing;
  int open_handles;
  int detached;  /* no socket: http_parse_one */
  int paused;    /* reading stopped: enough is buffered already */
  int lingering; /* answered and closing: draining what the client sends */
};

static http_parser_settings settings;
static void conn_close(conn *c);
static void feed(conn *c, const char *data, size_t len);
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
  free(req->body);
  free(req);
}

static const char *reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
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
    case 422:
      return "Unprocessable Entity";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
  }
  return "Status";
}

typedef struct write_req {
  uv_write_t req;
  conn *c;
  int close_after;
  char data[]; /* the whole answer */
} write_req;

static void arm(conn *c, int ms) {
  if (!c->closing && !c->detached && !c->lingering)
    uv_timer_start(&c->timer, on_timer, (uint64_t)ms, 0);
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
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  uv_timer_start(&c->timer, on_timer, 2000, 0);
}

static void after_write(uv_write_t *w, int status) {
  write_req *wr = (write_req *)w;
  conn *c = wr->c;
  int close_after = wr->close_after || status < 0;
  free(wr);
  if (c->closing || c->lingering) return;
  if (close_after) {
    if (status < 0)
      conn_close(c);
    else
      linger(c);
    return;
  }
  /* Ready for the next request: go on with what already arrived. */
  c->in_handler = 0;
  arm(c, c->srv->limits.idle_timeout_ms);
  http_parser_pause(&c->parser, 0);
  if (c->paused) {
    c->paused = 0;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  }
  if (c->pending_len) {
    char *data = c->pending;
    size_t len = c->pending_len;
    c->pending = NULL;
    c->pending_len = 0;
    feed(c, data, len);
    free(data);
  }
}

static void send_answer(conn *c, int status, const char *content_type,
                        const char *body, size_t len, const char *extra,
                        int close_after) {
  char head[512];
  int n;
  write_req *wr;
  uv_buf_t buf;
  n = snprintf(head, sizeof head,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Connection: %s\r\n",
               status, reason_phrase(status),
               content_type ? content_type : "application/json", len,
               close_after ? "close" : "keep-alive");
  if (n < 0 || (size_t)n >= sizeof head) n = 0;
  wr = malloc(sizeof *wr + (size_t)n + (extra ? strlen(extra) : 0) + 2 + len);
  if (!wr) {
    conn_close(c);
    return;
  }
  wr->c = c;
  wr->close_after = close_after;
  memcpy(wr->data, head, (size_t)n);
  if (extra) {
    memcpy(wr->data + n, extra, strlen(extra));
    n += (int)strlen(extra);
  }
  memcpy(wr->data + n, "\r\n", 2);
  n += 2;
  if (len) memcpy(wr->data + n, body, len);
  buf = uv_buf_init(wr->data, (unsigned)((size_t)n + len));
  if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &buf, 1, after_write) != 0) {
    free(wr);
    conn_close(c);
  }
}

static void answer_error(conn *c, int status, const char *code,
                         const char *message) {
  char body[300];
  int n = snprintf(body, sizeof body,
                   "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                   message);
  uv_read_stop((uv_stream_t *)&c->tcp);
  send_answer(c, status, "application/json", body, (size_t)n, NULL, 1);
}

void http_respond(http_request *req, int status, const char *content_type,
                  const char *body, size_t len, const char *extra_headers) {
  conn *c = req->conn;
  if (c) {
    c->srv->in_flight--;
    c->req = NULL;
    send_answer(c, status, content_type, body, len, extra_headers,
                !c->keep_alive || c->srv->closing);
  }
  free_request(req);
}

/* --- parser callbacks -------------------------------------------------- */

static int on_message_begin(http_parser *p) {
  conn *c = p->data;
  c->req = calloc(1, sizeof *c->req);
  if (!c->req) return -1;
  c->req->conn = c;
  c->req->started_ns = uv_hrtime();
  c->parsing = 1;
  c->header_bytes = 0;
  arm(c, c->srv->limits.request_timeout_ms);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if ((c->req->url ? strlen(c->req->url) : 0) + len >
      c->srv->limits.url_limit) {
    c->error_status = 414;
    return -1;
  }
  c->req->url = append(c->req->url, at, len);
  return 0;
}

static int over_headers(conn *c, size_t len) {
  c->header_bytes += len;
  if (c->header_bytes > c->srv->limits.header_limit) {
    c->error_status = 431;
    return 1;
  }
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (over_headers(c, len)) return -1;
  if (c->in_value || !c->field) {
    free(c->field);
    c->field = NULL;
    c->in_value = 0;
  }
  c->field = append(c->field, at, len);
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  if (over_headers(c, len)) return -1;
  if (!c->in_value) {
    c->in_value = 1;
    c->value_slot = NULL;
    if (c->field && strcasecmp(c->field, "Authorization") == 0)
      c->value_slot = &c->req->authorization;
    else if (c->field && strcasecmp(c->field, "Content-Type") == 0)
      c->value_slot = &c->req->content_type;
    else if (c->field && strcasecmp(c->field, "Idempotency-Key") == 0)
      c->value_slot = &c->req->idempotency_key;
    if (c->value_slot) {
      free(*c->value_slot);
      *c->value_slot = NULL;
    }
  }
  if (c->value_slot) *c->value_slot = append(*c->value_slot, at, len);
  return 0;
}

static int on_headers_complete(http_parser *p) {
  conn *c = p->data;
  char *q;
  free(c->field);
  c->field = NULL;
  c->in_value = 0;
  snprintf(c->req->method, sizeof c->req->method, "%s",
           http_method_str((enum http_method)p->method));
  if (!c->req->url) c->req->url = append(NULL, "/", 1);
  c->req->path = strdup(c->req->url);
  if ((q = strchr(c->req->path, '?')) != NULL) {
    *q = '\0';
    c->req->query = strdup(q + 1);
  }
  /* A declared length over the limit is refused before reading it. */
  if (p->content_length != ULLONG_MAX &&
      p->content_length > c->srv->limits.body_limit) {
    c->error_status = 413;
    return -1;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn *c = p->data;
  http_request *r = c->req;
  char *grown;
  if (r->body_len + len > c->srv->limits.body_limit) {
    c->error_status = 413; /* chunked bodies are counted as they come */
    return -1;
  }
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
  if (c->detached) {
    http_parser_pause(p, 1);
    return 0;
  }
  uv_timer_stop(&c->timer);
  c->srv->in_flight++;
  /* Stop here: the next pipelined request waits for this answer. */
  http_parser_pause(p, 1);
  c->srv->handler(c->srv->ud, c->req);
  return 0;
}

static void feed(conn *c, const char *data, size_t len) {
  size_t used;
  if (c->closing) return;
  used = http_parser_execute(&c->parser, &settings, data, len);
  if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) {
    if (used < len) {
      char *rest = malloc(len - used);
      if (rest) {
        memcpy(rest, data + used, len - used);
        free(c->pending);
        c->pending = rest;
        c->pending_len = len - used;
      }
    }
    return;
  }
  if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
    if (c->req && !c->in_handler) {
      free_request(c->req);
      c->req = NULL;
    }
    if (c->error_status == 413)
      answer_error(c, 413, "body_too_large", "the request body is too large");
    else if (c->error_status == 431)
      answer_error(c, 431, "headers_too_large", "the headers are too large");
    else if (c->error_status == 414)
      answer_error(c, 414, "url_too_long", "the URL is too long");
    else
      answer_error(c, 400, "bad_request",
                   http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
  }
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
    conn_close(c);
    return;
  }
  if (c->lingering) { /* answered already: drop it */
    free(buf->base);
    return;
  }
  if (n > 0) {
    if (c->in_handler) {
      /* The client sends ahead: keep it for after the answer. */
      char *grown = realloc(c->pending, c->pending_len + (size_t)n);
      if (grown) {
        memcpy(grown + c->pending_len, buf->base, (size_t)n);
        c->pending = grown;
        c->pending_len += (size_t)n;
      }
      if (c->pending_len >
          c->srv->limits.body_limit + c->srv->limits.header_limit)
        uv_read_stop(s); /* enough buffered: back-pressure on the socket */
    } else {
      feed(c, buf->base, (size_t)n);
    }
  }
  free(buf->base);
}

static void on_timer(uv_timer_t *t) {
  conn *c = t->data;
  if (c->lingering) {
    conn_close(c);
    return;
  }
  if (c->in_handler) return; /* the answer will come */
  if (c->parsing) {
    if (c->req) {
      free_request(c->req);
      c->req = NULL;
    }
    answer_error(c, 408, "request_timeout",
                 "the request did not arrive in time");
    return;
  }
  conn_close(c);
}

static void on_closed(uv_handle_t *h) {
  conn *c = h->data;
  if (--c->open_handles > 0) return;
  free(c->pending);
  free(c->field);
  free(c);
}

static void conn_close(conn *c) {
  http_server *srv = c->srv;
  if (c->closing) return;
  c->closing = 1;
  for (conn **p = &srv->conns; *p; p = &(*p)->next)
    if (*p == c) {
      *p = c->next;
      break;
    }
  srv->nconns--;
  if (c->req) {
    if (c->in_handler)
      c->req->conn = NULL; /* the handler still answers; nobody listens */
    else
      free_request(c->req);
    if (c->in_handler) srv->in_flight--;
    c->req = NULL;
  }
  uv_close((uv_handle_t *)&c->timer, on_closed);
  uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void refuse_close(uv_handle_t *h) {
  free(h);
}

static void refuse_written(uv_write_t *w, int status) {
  (void)status;
  uv_close((uv_handle_t *)w->handle, refuse_close);
  free(w);
}

static void on_connection(uv_stream_t *l, int status) {
  http_server *srv = l->data;
  conn *c;
  if (status < 0) return;
  if (!srv->accepting || srv->nconns >= srv->limits.max_connections) {
    /* Over the limit: take it only to say so. */
    static char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n";
    uv_tcp_t *t = malloc(sizeof *t);
    uv_write_t *w = malloc(sizeof *w);
    uv_buf_t buf = uv_buf_init(busy, sizeof busy - 1);
    if (!t || !w) {
      free(t);
      free(w);
      return;
    }
    uv_tcp_init(srv->loop, t);
    if (uv_accept(l, (uv_stream_t *)t) != 0 ||
        uv_write(w, (uv_stream_t *)t, &buf, 1, refuse_written) != 0) {
      free(w);
      uv_close((uv_handle_t *)t, refuse_close);
    }
    return;
  }
  c = calloc(1, sizeof *c);
  if (!c) return;
  c->srv = srv;
  uv_tcp_init(srv->loop, &c->tcp);
  uv_timer_init(srv->loop, &c->timer);
  c->open_handles = 2;
  c->tcp.data = c->timer.data = c;
  if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->timer, on_closed);
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->next = srv->conns;
  srv->conns = c;
  srv->nconns++;
  uv_timer_start(&c->timer, on_timer, (uint64_t)srv->limits.idle_timeout_ms, 0);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
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
  uv_tcp_init(loop, &srv->listener);
  srv->listener.data = srv;
  if ((rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection)) !=
          0) {
    uv_close((uv_handle_t *)&srv->listener, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    free(srv);
    return rc_error_set(err, RC_EIO, "listen", "cannot listen on %s: %s",
                        listen, uv_strerror(rc));
  }
  uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
  srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
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
  int status = -1;
  memset(&srv, 0, sizeof srv);
  memset(&c, 0, sizeof c);
  srv.limits = *limits;
  c.srv = &srv;
  c.detached = 1;
  *out = NULL;
  init_settings();
  http_parser_init(&c.parser, HTTP_REQUEST);
  c.parser.data = &c;
  http_parser_execute(&c.parser, &settings, data, len);
  if (HTTP_PARSER_ERRNO(&c.parser) == HPE_PAUSED && c.in_handler) {
    status = 0;
    *out = c.req;
    c.req = NULL;
  } else if (HTTP_PARSER_ERRNO(&c.parser) != HPE_OK) {
    status = c.error_status ? c.error_status : 400;
  }
  free_request(c.req);
  free(c.field);
  return status;
}

int http_server_port(const http_server *srv) {
  return srv->port;
}

int http_server_in_flight(const http_server *srv) {
  return srv->in_flight;
}

void http_server_stop_accepting(http_server *srv) {
  srv->accepting = 0;
  if (!uv_is_closing((uv_handle_t *)&srv->listener))
    uv_close((uv_handle_t *)&srv->listener, NULL);
}

void http_server_close(http_server *srv) {
  if (!srv) return;
  srv->closing = 1;
  http_server_stop_accepting(srv);
  while (srv->conns) conn_close(srv->conns);
  uv_run(srv->loop, UV_RUN_NOWAIT);
  free(srv);
}

static int hexval(int ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

int http_query(const http_request *req, const char *name, char *buf,
               size_t size) {
  const char *p = req->query;
  size_t nlen = strlen(name);
  while (p && *p) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
      size_t o = 0;
      for (size_t i = nlen + 1; i < len && o + 1 < size; i++) {
        if (p[i] == '%' && i + 2 < len && hexval(p[i + 1]) >= 0 &&
            hexval(p[i + 2]) >= 0) {
          buf[o++] = (char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
          i += 2;
        } else {
          buf[o++] = p[i] == '+' ? ' ' : p[i];
        }
      }
      buf[o] = '\0';
      return 1;
    }
    p = end ? end + 1 : NULL;
  }
  return 0;
}
