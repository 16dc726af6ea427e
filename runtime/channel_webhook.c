/* The webhook driver: HTTP POST through libcurl's multi interface, driven
 * by the libuv loop (curl tells us which sockets to watch and when to wake;
 * libuv tells curl when they are ready), so a slow gateway never blocks the
 * loop. 2xx: sent. 408, 429 and 5xx or no answer: retried. Other 4xx: the
 * gateway refused the message itself, and retrying would not help. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "channel.h"

typedef struct request request;

struct channel_webhook {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  request *active; /* owned list of requests in flight */
};

typedef struct watch {
  uv_poll_t poll;
  curl_socket_t fd;
} watch;

struct request {
  delivery *d;
  CURL *easy;
  struct curl_slist *headers;
  char error[CURL_ERROR_SIZE];
  request *next;
};

static void unlink_request(channel_webhook *w, request *req) {
  for (request **p = &w->active; *p; p = &(*p)->next)
    if (*p == req) {
      *p = req->next;
      return;
    }
}

static void check_done(channel_webhook *w) {
  CURLMsg *msg;
  int pending;
  while ((msg = curl_multi_info_read(w->multi, &pending))) {
    request *req;
    long code = 0;
    char reason[CURL_ERROR_SIZE + 64];
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
    curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
    if (msg->data.result != CURLE_OK) {
      snprintf(
          reason, sizeof reason, "%s",
          req->error[0] ? req->error : curl_easy_strerror(msg->data.result));
      code = -1;
    } else {
      snprintf(reason, sizeof reason, "HTTP %ld", code);
    }
    curl_multi_remove_handle(w->multi, msg->easy_handle);
    curl_easy_cleanup(msg->easy_handle);
    curl_slist_free_all(req->headers);
    unlink_request(w, req);
    if (code >= 200 && code < 300)
      req->d->done(req->d, 1, 0, NULL);
    else
      req->d->done(req->d, 0,
                   code >= 400 && code < 500 && code != 408 && code != 429,
                   reason);
    free(req);
  }
}

static void on_poll(uv_poll_t *p, int status, int events) {
  watch *wt = (watch *)p;
  int running, flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(((channel_webhook *)p->data)->multi, wt->fd, flags,
                           &running);
  check_done(p->data);
}

static void free_watch(uv_handle_t *h) {
  free(h);
}

static int on_socket(CURL *easy, curl_socket_t fd, int action, void *userp,
                     void *socketp) {
  channel_webhook *w = userp;
  watch *wt = socketp;
  int events = 0;
  (void)easy;
  if (action == CURL_POLL_REMOVE) {
    if (wt) {
      (void)uv_poll_stop(&wt->poll); /* cannot fail (libuv's documentation) */
      uv_close((uv_handle_t *)&wt->poll, free_watch);
      curl_multi_assign(w->multi, fd, NULL);
    }
    return 0;
  }
  if (!wt) {
    wt = calloc(1, sizeof *wt);
    if (!wt) return -1;
    wt->fd = fd;
    if (uv_poll_init_socket(w->loop, &wt->poll, fd) != 0) {
      free(wt);
      return -1; /* curl fails the transfer: the message is retried */
    }
    wt->poll.data = w;
    curl_multi_assign(w->multi, fd, wt);
  }
  if (action & CURL_POLL_IN) events |= UV_READABLE;
  if (action & CURL_POLL_OUT) events |= UV_WRITABLE;
  return uv_poll_start(&wt->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timer(uv_timer_t *t) {
  channel_webhook *w = t->data;
  int running;
  curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(w);
}

static int on_timer_change(CURLM *multi, long timeout_ms, void *userp) {
  channel_webhook *w = userp;
  (void)multi;
  if (timeout_ms < 0) return uv_timer_stop(&w->timer) == 0 ? 0 : -1;
  return uv_timer_start(&w->timer, on_timer,
                        timeout_ms ? (uint64_t)timeout_ms : 1, 0) == 0
             ? 0
             : -1;
}

channel_webhook *channel_webhook_open(uv_loop_t *loop) {
  channel_webhook *w = calloc(1, sizeof *w);
  static int initialised;
  if (!w) return NULL;
  if (!initialised) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      free(w);
      return NULL;
    }
    initialised = 1;
  }
  w->loop = loop;
  if (!(w->multi = curl_multi_init())) {
    free(w);
    return NULL;
  }
  /* The last step that can fail; from here on channel_webhook_close
   * frees it. */
  if (uv_timer_init(loop, &w->timer) != 0) {
    curl_multi_cleanup(w->multi);
    free(w);
    return NULL;
  }
  w->timer.data = w;
  curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w);
  curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_timer_change);
  curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w);
  return w;
}

static void free_webhook(uv_handle_t *h) {
  free(h->data);
}

void channel_webhook_close(channel_webhook *w) {
  if (!w) return;
  /* Abandon what is in flight: those messages stay queued and are retried
   * by the next run under the same key. */
  while (w->active) {
    request *req = w->active;
    w->active = req->next;
    curl_multi_remove_handle(w->multi, req->easy);
    curl_easy_cleanup(req->easy);
    curl_slist_free_all(req->headers);
    free(req);
  }
  curl_multi_cleanup(w->multi);
  (void)uv_timer_stop(&w->timer); /* cannot fail */
  uv_close((uv_handle_t *)&w->timer, free_webhook);
}

static size_t discard(char *ptr, size_t size, size_t n, void *ud) {
  (void)ptr;
  (void)ud;
  return size * n;
}

void channel_webhook_send(channel_webhook *w, delivery *d) {
  request *req = calloc(1, sizeof *req);
  CURL *easy = curl_easy_init();
  char header[128];
  if (!req || !easy) {
    free(req);
    if (easy) curl_easy_cleanup(easy);
    d->done(d, 0, 0, "out of memory");
    return;
  }
  req->d = d;
  req->easy = easy;
  req->next = w->active;
  w->active = req;
  req->headers = curl_slist_append(NULL, "Content-Type: application/json");
  snprintf(header, sizeof header, "Idempotency-Key: %s", d->key);
  req->headers = curl_slist_append(req->headers, header);
  for (int i = 0; i < d->ch->nheaders; i++)
    req->headers = curl_slist_append(req->headers, d->ch->headers[i]);
  curl_easy_setopt(easy, CURLOPT_URL, d->ch->url);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, d->payload);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, req->headers);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)d->ch->timeout_ms);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, req);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->error);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "recoup");
  if (curl_multi_add_handle(w->multi, easy) != CURLM_OK) {
    unlink_request(w, req);
    curl_easy_cleanup(easy);
    curl_slist_free_all(req->headers);
    free(req);
    d->done(d, 0, 0, "cannot start the HTTP request");
  }
}
