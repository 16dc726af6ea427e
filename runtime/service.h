/* The service's parts: serve.c runs the loop (group commit, timers,
 * delivery, signals, logs); api.c answers the routes, with api_work.c (the
 * console's case work), api_figures.c (its figures) and api_session.c
 * (sign-in); backup.c runs the backups it is asked for. */
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
   * (machine tokens, supervisors, admins). Room for as many as `user add`
   * takes (64 names of 64 characters: session.c checks). */
  char queues[4352];
  int by_session; /* came with the session cookie: writes need the CSRF */
  char csrf[48];  /* that session's CSRF token */
} principal;
enum { MAX_QUEUE = 20000, MAX_ROUTES = 48, LATENCY_BUCKETS = 9 };

typedef struct service service;
typedef struct job job;

/* What the loop's thread spent since it started, in ms: on slices of due
 * work, on the outbox's deliveries, on group commits, on a CPU, and
 * waiting for one. A write's wait is told apart by the sums at its
 * queueing and at its commit (serve.c's loop figures). */
typedef struct loop_spent {
  double slices, pumps, commits, on_cpu, cpu_wait;
} loop_spent;
typedef struct slowdown slowdown;

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
  double queued_ms; /* when it was queued (serve.c's loop figures) */
  loop_spent spent; /* the loop's sums when it was queued */
  /* The case it writes, when the request names one (a payment, an
   * event); in body or arg. A group of such jobs is applied in case order
   * (serve.c flush). */
  const char *case_key;
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
  /* Writes whose case another transaction held (serve.c flush), in the
   * order they came, for a later group; retry runs them after held_wait
   * ms, which grows while they stay held. */
  job *held, **held_tail;
  uv_timer_t retry;
  int held_wait, held_limit_ms;
  uv_idle_t work;      /* runs while there is work: commits, events */
  uv_timer_t wake;     /* the next due timer */
  uv_timer_t pump;     /* outbox retries, every second */
  uv_signal_t sigterm, sigint, sighup;
  int handles; /* bit per handle above initialised (work first) */
  int draining, work_active;
  struct backup_service *backup; /* backup.c; NULL for a non-file db */
  struct sim_service *sim;       /* api_simulate.c: the what-if runs */
  /* sign-in (api_session.c) */
  slowdown *slow; /* failed sign-ins by name and address (owned) */
  int signing_in; /* passwords being checked off the loop */
  /* metrics */
  const char *route_names[MAX_ROUTES];
  int64_t requests[MAX_ROUTES][6]; /* by status class: 2xx..5xx, other */
  int64_t latency[LATENCY_BUCKETS];
  double latency_sum;
  int64_t latency_count, commits, jobs_committed;
  int reconnects; /* the store's reconnections already logged */
  /* Reloads across nodes already logged (engine_reloads), and whether
   * the last run did nothing but leave work for another node's version
   * (the next wake then waits: on SQLite that work is due again at once). */
  int64_t reload_generation, reload_failed, reload_waiting;
  int only_waiting;
  int generation_unread; /* the book's reload number did not read: logged */
};

/* api.c */
void api_handle(void *ud, http_request *req);
/* The route a method and path go to: its index, -1 for no such path, -2
 * for a path that takes another method; arg gets the {id}. */
int api_route(const char *method, const char *path, char *arg, size_t size);
/* Answers req with a JSON value (taken) and logs the request. */
void api_reply(service *svc, http_request *req, int route, int status,
               json_t *body, const char *extra_headers);
/* The same with the JSON already encoded (text[len], not taken): a body
 * too large to build on the loop, such as a what-if's report. */
void api_reply_text(service *svc, http_request *req, int route, int status,
                    const char *text, size_t len, const char *extra_headers);
void api_error(service *svc, http_request *req, int route, int status,
               const char *code, const char *field, const char *message);
/* The same with header lines of its own (each ending in CRLF). */
void api_error_headers(service *svc, http_request *req, int route, int status,
                       const char *code, const char *field, const char *message,
                       const char *extra_headers);
int api_status_of(int rc);
/* A payment's ref (its body's), NULL for another write: its group reads
 * ahead what it will look up (serve.c apply_group). */
const char *api_payment_ref(const job *j);
/* The route table, for the test that compares it with the document. */
int api_route_count(void);
void api_route_at(int i, const char **method, const char **pattern, int *roles);

/* Helpers of api.c that api_work.c shares: a row as JSON (times in the
 * institution's zone, JSON columns decoded), a page's limit and `after`
 * text, the read role's masking, the borrower as a case shows it, and an
 * error answer from an rc_error. */
json_t *api_row_json(service *svc, const store_value *cols, int n);
int api_page_params(const http_request *req, int *limit, char *after,
                    size_t size, rc_error *err);
int api_masked_for(const principal *who);
json_t *api_borrower_json(const store_borrower *b, int masked);
json_t *api_masked_string(const char *s, int masked);
/* Every string in v masked in place (the read role's view of free JSON:
 * a case's data, a task's fields and result). */
void api_mask_strings(json_t *v);
void api_fail_with(service *svc, http_request *req, int route,
                   const rc_error *err);

/* api_work.c: the console's case work (My work, claim next, assign,
 * notes, promises, what the guard allows now) and who sees which case. */
void api_work_list(service *svc, http_request *req, int route,
                   const char *arg, const principal *who);
void api_case_guard(service *svc, http_request *req, int route,
                    const char *arg, const principal *who);
int api_task_next(service *svc, job *j, json_t **reply, int *status,
                  rc_error *err);
int api_task_assign(service *svc, job *j, json_t **reply, int *status,
                    rc_error *err);
int api_case_note(service *svc, job *j, json_t **reply, int *status,
                  rc_error *err);
/* A write's idempotency key: the body's `key` or the Idempotency-Key
 * header (both, differing: RC_EINVAL naming "key"); *key NULL for none. */
int api_idempotency_key(job *j, const char **key, rc_error *err);
int api_case_promise(service *svc, job *j, json_t **reply, int *status,
                     rc_error *err);
/* A named agent's view (DESIGN.md "Who sees what"): *buf filled and
 * returned, or NULL for everyone who sees every case (machine tokens,
 * supervisors, admins, read). */
const store_scope *api_scope(service *svc, const principal *who,
                             store_scope *buf);
/* A named agent's queues (a JSON array), NULL for everyone else. */
const char *api_agent_queues(const principal *who);
/* RC_OK when who may see the case (or the task's case); else
 * RC_ENOTFOUND as for an unknown case, so that a hidden case is not
 * confirmed to exist; a read that fails is its error. */
int api_case_scope(service *svc, const principal *who, const char *case_id,
                   rc_error *err);
int api_task_scope(service *svc, const principal *who, int64_t task_id,
                   rc_error *err);
/* Before a console user completes a task: an open one is claimed for
 * them; a colleague's claimed one refused to a named agent (409). */
int api_task_take(service *svc, const principal *who, int64_t id,
                  rc_error *err);
/* The case's open promise, its plan, its waiting tasks with their
 * declared outcomes, added to a case's JSON. */
int api_case_extras(service *svc, const principal *who, const store_case *c,
                    json_t *out, rc_error *err);
/* api_session.c: the console's identity routes (read_fn shaped). */
void api_sign_in(service *svc, http_request *req, int route, const char *arg,
                 const principal *who);
void api_sign_out(service *svc, http_request *req, int route, const char *arg,
                  const principal *who);
void api_me(service *svc, http_request *req, int route, const char *arg,
            const principal *who);
void api_institution(service *svc, http_request *req, int route,
                     const char *arg, const principal *who);

/* openapi_doc.c, generated from docs/openapi.json by cmake/embed.cmake. */
extern const unsigned char openapi_json[];
extern const size_t openapi_json_len;
const char *api_code_of(int rc);

/* api_figures.c: the Overview, Strategy, Outbox and users pages. */
void api_figures_overview(service *svc, http_request *req, int route,
                          const char *arg, const principal *who);
void api_figures_workflows(service *svc, http_request *req, int route,
                           const char *arg, const principal *who);
void api_figures_outbox(service *svc, http_request *req, int route,
                        const char *arg, const principal *who);
void api_figures_users(service *svc, http_request *req, int route,
                       const char *arg, const principal *who);
/* GET /v1/people: every user's login and display name, for any reader. */
void api_figures_people(service *svc, http_request *req, int route,
                        const char *arg, const principal *who);

/* api_simulate.c: what-if from the console (docs/simulate.md). Start
 * after the backup service (the reports live beside the backups); stop
 * kills a running simulation before the loop's last run; free after it. */
typedef struct sim_service sim_service;
int sim_service_start(service *svc, const char *db, rc_error *err);
void sim_service_stop(sim_service *s);
void sim_service_free(sim_service *s);
void api_strategies(service *svc, http_request *req, int route,
                    const char *arg, const principal *who);
void api_simulations(service *svc, http_request *req, int route,
                     const char *arg, const principal *who);
void api_simulation(service *svc, http_request *req, int route,
                    const char *arg, const principal *who);
void api_simulate(service *svc, http_request *req, int route, const char *arg,
                  const principal *who);

/* serve.c */
void service_enqueue(service *svc, job *j);
void service_log(const char *level, json_t *fields);
/* Masks contact points in text (mask_contacts); service_log masks every
 * string it writes anyway. */
void service_mask(const char *in, char *out, size_t size);
/* Reloads the scripts; by names who asked in the service log (a console
 * user's name, "token" for the admin token, "SIGHUP"). */
int service_reload(service *svc, const char *by, json_t **result);
void service_kick(service *svc);

#endif
