/* The service's parts: serve.c runs the loop (group commit, timers,
 * delivery, signals, logs), api.c answers the routes. */
#ifndef RECOUP_SERVICE_H
#define RECOUP_SERVICE_H

#include <jansson.h>
#include <uv.h>

#include "recoup/engine.h"
#include "recoup/http.h"
#include "recoup/outbox.h"

enum {
  ROLE_INGEST = 1,
  ROLE_AGENT = 2,
  ROLE_READ = 4,
  ROLE_ADMIN = 8,
  ROLE_SUPERVISOR = 16
};

/* Who sent a request: a machine token's roles, or a console user's. */
typedef struct principal {
  int roles;                    /* ROLE_* bits; 0: nobody */
  char user[USER_NAME_MAX + 1]; /* a console user's name; "" for a token */
  /* A named agent's queues as a JSON array; "" when every queue is its
   * (machine tokens, supervisors, admins). */
  char queues[512];
  int by_session; /* came with the session cookie: writes need the CSRF */
  char csrf[48];  /* that session's CSRF token */
} principal;
enum { MAX_QUEUE = 20000, MAX_ROUTES = 48, LATENCY_BUCKETS = 9 };

typedef struct service service;
typedef struct job job;

/* A write: applied in the next group commit, answered after it. */
typedef int (*job_apply)(service *svc, job *j, json_t **reply, int *status,
                         rc_error *err);
struct job {
  http_request *req;
  job_apply apply;
  json_t *body;   /* owned: the parsed request body */
  char *arg;      /* owned: the id from the path */
  int route;      /* for metrics */
  principal who;  /* who asked: the engine's actor while it applies */
  job *next;
};

struct service {
  uv_loop_t *loop;
  engine *eng;
  outbox *ob;
  http_server *http;
  char tokens[4][256]; /* ingest, agent, read, admin; "" = role disabled */
  job *queue, **queue_tail;
  int queued;
  uv_idle_t work;      /* runs while there is work: commits, events */
  uv_timer_t wake;     /* the next due timer */
  uv_timer_t pump;     /* outbox retries, every second */
  uv_signal_t sigterm, sigint, sighup;
  int handles; /* bit per handle above initialised (work first) */
  int draining, work_active;
  /* metrics */
  const char *route_names[MAX_ROUTES];
  int64_t requests[MAX_ROUTES][6]; /* by status class: 2xx..5xx, other */
  int64_t latency[LATENCY_BUCKETS];
  double latency_sum;
  int64_t latency_count, commits, jobs_committed;
};

/* api.c */
void api_handle(void *ud, http_request *req);
/* The route a method and path go to: its index, -1 for no such path, -2
 * for a path that takes another method; arg gets the {id}. */
int api_route(const char *method, const char *path, char *arg, size_t size);
/* Answers req with a JSON value (taken) and logs the request. */
void api_reply(service *svc, http_request *req, int route, int status,
               json_t *body, const char *extra_headers);
void api_error(service *svc, http_request *req, int route, int status,
               const char *code, const char *field, const char *message);
int api_status_of(int rc);
/* The route table, for the test that compares it with the document. */
int api_route_count(void);
void api_route_at(int i, const char **method, const char **pattern, int *roles);

/* openapi_doc.c, generated from docs/openapi.json by cmake/embed.cmake. */
extern const unsigned char openapi_json[];
extern const size_t openapi_json_len;
const char *api_code_of(int rc);

/* serve.c */
void service_enqueue(service *svc, job *j);
void service_log(const char *level, json_t *fields);
/* Masks contact points in text (mask_contacts); service_log masks every
 * string it writes anyway. */
void service_mask(const char *in, char *out, size_t size);
int service_reload(service *svc, json_t **result);
void service_kick(service *svc);

#endif
