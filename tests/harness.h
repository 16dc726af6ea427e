/* The service test harness: the real `recoup serve` on a loopback port it
 * picks, in a scratch directory of its own, and a small HTTP client for
 * it. Every integration test over HTTP uses it, so that a test file holds
 * only its institution and its tests.
 *
 * Life cycle, like a libuv handle the test owns:
 *   harness_open(&h, bin, "name")   scratch dir /tmp/recoup-test-name-PID
 *   harness_write(&h, "recoup.lua", "institution { ... }")
 *   harness_start(&h)               forks `recoup serve`, reads its port
 *   harness_get(&h, "/health", NULL) ...
 *   harness_stop(&h)                SIGTERM, reaped; its exit status
 *   harness_close(&h)               kills what still runs, removes the dir
 *
 * Failures are cmocka failures (fail_msg): the harness is for tests. */
#ifndef RECOUP_TESTS_HARNESS_H
#define RECOUP_TESTS_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

/* The tokens every served institution may name as env:T_INGEST, ...: the
 * harness puts these four in the server's environment. */
#define HARNESS_INGEST "ingest-secret"
#define HARNESS_AGENT "agent-secret"
#define HARNESS_READ "read-secret"
#define HARNESS_ADMIN "admin-secret"

typedef struct harness {
  const char *bin;        /* the recoup binary */
  char dir[512];          /* the scratch directory (recoup.lua, server.log) */
  char db[600];           /* the database served: dir/NAME.db unless set */
  char log[600];          /* the server's stderr, appended: dir/server.log */
  const char *serve_dir;  /* the institution served; NULL: dir */
  const char *const *env; /* more NAME=VALUE for the server, NULL-ended */
  int reuse_connection;   /* 1: one keep-alive connection for requests */
  int port;               /* where the running server listens */
  pid_t pid;              /* the running server, 0 when none */
  void *curl;             /* the kept connection's handle (owned) */
} harness;

/* An answer, body and headers cut (and NUL-ended) at their buffers. */
typedef struct harness_answer {
  long status; /* -1: no answer (the connection failed or timed out) */
  char body[262144];
  size_t len;
  char headers[8192];
  size_t hlen;
  double seconds; /* how long the exchange took */
} harness_answer;

/* What a request carries besides method and path; NULL or 0: not sent. */
typedef struct harness_request {
  const char *token; /* Authorization: Bearer */
  const char *cookie, *csrf, *origin, *forwarded_for, *forwarded_proto;
  const char *content_type; /* default application/json with a session body */
  const char *header;       /* one more header line, "Name: value" */
  const char *cookie_jar;   /* a file curl reads cookies from and saves to */
  const char *from;         /* the local address to send from */
  const char *body;
  size_t body_len; /* 0: strlen(body) */
  long timeout;    /* seconds; 0: 20 */
} harness_request;

/* --- the scratch directory and the server -------------------------------- */

void harness_open(harness *h, const char *bin, const char *name);
/* A second server's directory: sub inside parent's, database sub.db. */
void harness_open_in(harness *h, const harness *parent, const char *sub);
void harness_write(harness *h, const char *name, const char *text);
void harness_writef(harness *h, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void harness_mkdir(harness *h, const char *name);
void harness_path(const harness *h, const char *name, char *out, size_t size);
void harness_start(harness *h);
int harness_stop(harness *h);
void harness_kill(harness *h);
void harness_close(harness *h);

/* `recoup ARGS...` (NULL-ended) with input on its stdin (or none), its
 * stdout and stderr into out (when not NULL); the exit status, -1 when it
 * did not exit. */
int harness_run(const harness *h, const char *input, char *out, size_t size,
                const char *const *args);
/* A console user NAME whose password is NAME-pw-2026, on the served
 * database; queues only for agents. */
void harness_add_user(const harness *h, const char *name, const char *role,
                      const char *queues);

/* --- the client ---------------------------------------------------------- */

harness_answer *harness_send_into(const harness *h, harness_answer *a,
                                  const char *method, const char *path,
                                  const harness_request *r);
/* The next three answer into one static answer, overwritten by the next. */
harness_answer *harness_send(const harness *h, const char *method,
                             const char *path, const harness_request *r);
harness_answer *harness_call(const harness *h, const char *method,
                             const char *path, const char *token,
                             const char *body, size_t body_len);
harness_answer *harness_get(const harness *h, const char *path,
                            const char *token);
harness_answer *harness_post(const harness *h, const char *path,
                             const char *token, const char *json);
/* A session for NAME (password NAME-pw-2026): its cookies saved in
 * dir/cookies-NAME (into jar), its CSRF token into csrf; 0 when refused. */
int harness_sign_in(const harness *h, const char *name, char *jar,
                    size_t jar_size, char *csrf, size_t csrf_size);

/* The answer has status and holds has (when not NULL). */
void harness_expect(const harness_answer *a, long status, const char *has);
/* The answer has status and every one of the NULL-ended strings. */
void harness_expect_all(const harness_answer *a, long status, ...);
void harness_expect_not(const harness_answer *a, const char *hasnt);
/* The value of header name (as the service spells it) into out; 0: none. */
int harness_header(const harness_answer *a, const char *name, char *out,
                   size_t size);
/* The answer's JSON, the caller's to json_decref; a failure when not JSON. */
json_t *harness_json(const harness_answer *a);

/* A plain TCP connection to the server, for what curl will not send. */
int harness_connect(const harness *h);

#endif
