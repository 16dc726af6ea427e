/* The institution's Lua: one sandboxed state that holds recoup.lua, its
 * workflows, templates and policy, and runs handlers under an instruction
 * budget and a memory cap. */
#ifndef RECOUP_SCRIPT_H
#define RECOUP_SCRIPT_H

#include <limits.h>
#include <stddef.h>

#include "recoup/policy.h"
#include "recoup/recoup.h"

typedef struct script script;
typedef struct lua_State lua_State;
struct engine;

enum { CHANNEL_FILE = 1, CHANNEL_EXEC, CHANNEL_WEBHOOK };
enum { CHANNEL_MAX = 8, CHANNEL_MAX_ARGS = 16, CHANNEL_MAX_HEADERS = 8 };

/* channel "NAME" { ... } of recoup.lua, parsed. */
typedef struct channel_config {
  char name[32];
  int driver;
  char path[PATH_MAX];              /* file: resolved against dir */
  char args[CHANNEL_MAX_ARGS][256]; /* exec: program and arguments */
  int nargs;
  char url[1024];                         /* webhook */
  char headers[CHANNEL_MAX_HEADERS][256]; /* webhook: "Name: value" */
  int nheaders;
  int timeout_ms; /* one attempt */
  int retries;    /* attempts after the first */
} channel_config;

enum { INSTITUTION_MAX_NAMES = 16, TRUSTED_PROXIES_MAX = 32 };

/* An address block of service.trusted_proxies: IPv4 is held as
 * IPv4-mapped IPv6 (::ffff:a.b.c.d, 96 more bits), so one comparison
 * serves both families. */
typedef struct rc_net {
  unsigned char addr[16];
  int bits; /* 0..128 */
} rc_net;

enum { INSTITUTION_MAX_QUEUES = 32 };
typedef struct institution_config {
  char dir[PATH_MAX]; /* the institution directory */
  char name[128];     /* in the institution's own locale */
  struct {
    char locale[32], name[128];
  } names[INSTITUTION_MAX_NAMES]; /* institution{ name = { en = ... } } */
  int nnames;
  char country[3]; /* ISO 3166-1 alpha-2, "" when not given */
  char timezone[64];
  char locale[32];
  char currency[8];
  char contact_phone[64];
  char listen[128];  /* service.listen, "127.0.0.1:8080" */
  char db[PATH_MAX]; /* service.db resolved against dir */
  size_t body_limit;
  int idle_timeout_ms;    /* a keep-alive connection doing nothing */
  int request_timeout_ms; /* a request must arrive whole within */
  int header_timeout_ms;  /* a new connection must send its headers within */
  int max_connections;
  int max_per_address; /* service.max_connections_per_address */
  /* Console sessions: signed out after this long without a request, and
   * this long after signing in whatever happens (a shift). */
  int64_t session_idle_ms, session_lifetime_ms;
  /* Peers whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  rc_net trusted_proxies[TRUSTED_PROXIES_MAX];
  int ntrusted_proxies;
  int64_t instruction_budget; /* per handler call */
  int64_t handler_deadline_ms; /* wall clock per handler call (real clock) */
  size_t memory_limit;        /* per Lua state */
  char token_env[4][128];     /* ingest, agent, read, admin: variable names */
  /* service.backup (docs/operations.md): the directory backups go to,
   * resolved against dir; every 0: no schedule. */
  char backup_to[PATH_MAX];
  int64_t backup_every_ms;
  int backup_keep;
  int log_level; /* service.log_level: 0 debug, 1 info, 2 warn, 3 error */
  /* capacity{}: tasks a day each queue's collectors complete. */
  struct {
    char queue[64];
    int per_day;
  } capacity[INSTITUTION_MAX_QUEUES];
  int ncapacity;
  int nworkflows;
  int has_route;
  policy_config policy; /* policy{}, parsed */
  channel_config channels[CHANNEL_MAX];
  int nchannels;
} institution_config;

/* The institution's name for a reader of locale: its name in that
 * locale, else in that language (en for en-GB), else in its own. */
const char *institution_name(const institution_config *cfg, const char *locale);

/* Whether the template named name is marked legal_notice (0 for a name
 * the scripts no longer have: such a message is held to every rule). */
int script_template_legal(script *sc, const char *name);

/* The channel named name, or NULL. */
const channel_config *script_channel(const script *sc, const char *name);

/* What the engine needs to know of a state. */
typedef struct script_state {
  int exists;
  int final;
  char outcome[64];
  double priority; /* its tasks' place in My work (higher first); 0 */
  int has_enter;   /* an enter handler: without one, entering runs none */
} script_state;

/* Loads DIR/recoup.lua and everything it requires. Every problem found is
 * appended to errors (file and line in each); returns RC_OK only when there
 * were none. On failure *out is NULL. */
int script_load(script **out, const char *dir, rc_errlist *errors);
/* script_load where the findings of checks newer than generation 1
 * (rc_error.since) go to findings instead and do not refuse the load: the
 * caller weighs them against the book's generation (engine_open). */
int script_load_findings(script **out, const char *dir, rc_errlist *errors,
                         rc_errlist *findings);
void script_free(script *sc);
lua_State *script_lua(script *sc);
const institution_config *script_config(const script *sc);
/* The institution's clock (its zone; simulated or real). Owned by the
 * script; the engine steps it in simulations. */
struct rc_clock *script_clock(script *sc);
/* Where the shipped scripts/ live (compiled in, RECOUP_SCRIPTS overrides). */
const char *script_shipped_dir(void);

/* Makes the script read clk (borrowed) instead of its own clock: scripts
 * reloaded beside the first share the engine's one clock. */
void script_use_clock(script *sc, struct rc_clock *clk);
int script_has_workflow(script *sc, const char *name, int version);
/* The names of the workflows this script registers; the strings live as
 * long as the script. Returns how many (at most max). */
int script_workflow_names(script *sc, const char **names, int max);
/* The queues the loaded workflows' case:task calls name in their source
 * (a call without queue: its kind), sorted, at most max; the strings
 * live as long as the script. *unseen_at is "file:line" of the first
 * call whose queue only a run can tell (or a workflow file that does
 * not read), NULL when there is none. Returns how many. */
int script_task_queues(script *sc, const char **names, int max,
                       const char **unseen_at);
/* Asks workflow `name` (its latest version in this script) where a case
 * now on an older version goes: *state gets the answer, "" for nil (the
 * case stays where it is). RC_ENOTFOUND: the workflow has no migrate. */
int script_migrate(script *sc, struct engine *eng, const char *case_id,
                   const char *name, char *state, size_t size, rc_error *err);

/* Workflows, by name and version. */
int script_workflow_latest(script *sc, const char *name, int *version);
/* The initial state of workflow name, version: RC_OK; RC_ENOTFOUND for
 * a workflow not loaded; RC_ESCRIPT when the script's tables, changed
 * at run time, do not give one (err says why). */
int script_workflow_initial(script *sc, const char *name, int version,
                            char *state, size_t size, rc_error *err);
script_state script_state_info(script *sc, const char *workflow, int version,
                               const char *state);
/* The same, RC_ESCRIPT with err when the script's tables, changed at run
 * time, raise as they are read (in a handler: the binding raises it). */
int script_state_read(script *sc, const char *workflow, int version,
                      const char *state, script_state *info, rc_error *err);
int script_transition_allowed(script *sc, const char *workflow, int version,
                              const char *from, const char *to);

/* The versions of workflow `name` this script holds, ascending; returns
 * how many (at most max). */
int script_workflow_versions(script *sc, const char *name, int *versions,
                             int max);
/* A workflow version as declared (script_describe.c): {"initial",
 * "states": [{"name", "priority", "final"}], "transitions": [{"from",
 * "to"}], "tasks": {kind: {outcome: {"fields": {name: {"type",
 * "optional", "choices"?}}, "conversation"}}} or null when it declares no
 * task kinds}, names sorted. NULL when the version is not loaded. */
struct json_t *script_workflow_describe(script *sc, const char *name,
                                        int version);

/* What a workflow declares of a task kind (its `tasks` table). */
typedef struct script_task_kind {
  int any;            /* the workflow declares its task kinds */
  int declared;       /* ... and this one among them */
  char counts_as[16]; /* "call", "visit", or "" when not said */
  double priority;    /* higher first in a collector's list */
} script_task_kind;
/* RC_OK declared, RC_ENOTFOUND not; RC_ESCRIPT with err (may be NULL)
 * when the tables raise as they are read. */
int script_task_kind_info(script *sc, const char *workflow, int version,
                          const char *kind, script_task_kind *out,
                          rc_error *err);
/* Checks a task completion (the JSON body) against the declared outcomes
 * of kind in the workflow; date fields given as durations become dates in
 * body. Nothing declared: only an outcome string is required. RC_EINVAL
 * names the field. *conversation: the outcome starts the pause after a
 * conversation. */
struct json_t;
/* The declared outcomes of kind, shaped for the console's forms (see
 * task_decl_outcomes); NULL when the workflow does not declare the kind. */
struct json_t *script_task_outcomes(script *sc, const char *workflow,
                                    int version, const char *kind);
int script_task_check(script *sc, const char *workflow, int version,
                      const char *kind, const char *currency,
                      struct json_t *body, int *conversation, rc_error *err);

/* Asks route() (or the only workflow) where a new case goes. The case is
 * described by a JSON object of its fields. */
int script_route(script *sc, const char *case_json, char *workflow, size_t size,
                 rc_error *err);

/* Runs one handler of a case: the state's `enter` when event is NULL,
 * otherwise the state's (or the workflow's) `on[event]`. *next receives
 * the state returned, "" for nil. RC_ENOTFOUND: no such handler.
 * RC_ESCRIPT: the handler failed; err->message is the first line and
 * *traceback (malloc'd, caller frees) the whole story. */
typedef struct script_call {
  struct engine *eng;
  const char *case_id, *workflow, *state, *event;
  int version;
  const char *event_json; /* the event's fields, or NULL */
  rc_time at;
} script_call;
int script_run_handler(script *sc, const script_call *call, char *next,
                       size_t size, char **traceback, rc_error *err);

/* Protected call with the budget and traceback, for spec and repl code:
 * calls the function below nargs arguments on the stack. */
int script_pcall(script *sc, int nargs, int nresults, rc_error *err,
                 char **traceback);
void script_set_budget(script *sc, int64_t instructions);
/* A wall-clock limit on each call, applied only while the script's clock
 * is real (serve, tick): the budget alone decides in simulations. 0: none.
 * An overrun fails the call with err->field "deadline" ("budget" for the
 * instruction budget, "memory" for the memory cap). */
void script_set_deadline(script *sc, int64_t ms);

#endif
