/* Shared by the script module's files: the state and its calls
 * (script.c), the sandbox (lua_sandbox.c, lua_match.c), the institution
 * loader (institution.c, task_decl.c), the checks of recoup check and
 * describe (script_check.c, script_describe.c) and the bindings
 * (lua_case.c, lua_rt.c, lua_format.c); not for other modules. */
#ifndef RECOUP_SCRIPT_PRIV_H
#define RECOUP_SCRIPT_PRIV_H

#include <lauxlib.h>
#include <lua.h>

#include "recoup/clock.h"
#include "recoup/script.h"

/* Registry keys: C state lives in the registry, never in globals. */
#define REG_WORKFLOWS "recoup.workflows" /* [name][version] = workflow */
#define REG_VALIDATED \
  "recoup.validated" /* weak set of recoup.workflow{} results */
#define REG_ROUTE "recoup.route"
#define REG_TEMPLATES "recoup.templates"
#define REG_POLICY "recoup.policy"
#define REG_CHANNELS "recoup.channels"
#define REG_LOADED "recoup.loaded" /* require cache */
#define REG_SOURCES "recoup.sources" /* weak: a module's table -> its file */
#define REG_WORKFLOW_FILES "recoup.workflow_files" /* [chunk name] = true */
/* [queue] = true: each queue a workflow's case:task names literally (its
 * kind when it gives no queue); REG_TASK_QUEUE_AT "file:line" of the first
 * whose queue only a run can tell. */
#define REG_TASK_QUEUES "recoup.task_queues"
#define REG_TASK_QUEUE_AT "recoup.task_queue_at"
#define REG_FAILED \
  "recoup.failed" /* what a module that failed to load returns */
#define REG_NEXT "recoup.next" /* the base library's next, for __pairs */

/* Keys a handler call looks up every time, interned once and kept in
 * registry slots (script_load): lua_getfield with a C string finds the
 * string anew each time through Lua's cache of C strings, a hash and a
 * strcmp (75 instructions; a reminder step made seventeen look-ups). */
enum script_key {
  SK_STATES,
  SK_ON,
  SK_ENTER,
  SK_FINAL,
  SK_OUTCOME,
  SK_PRIORITY,
  SK_TRANSITIONS,
  SK_THIRD_PARTY,
  SK_LEGAL_NOTICE,
  SK_JSON,
  SK_COUNT
};

/* Why a handler call was stopped (script.spent). */
enum { SPENT_BUDGET = 1, SPENT_DEADLINE };

/* Template texts a script's sends keep split (lua_case.c): an
 * institution's few; beyond, a send splits its text each time. */
#define SCRIPT_PLANS 16
/* Placeholder names of those texts whose meaning a send keeps. */
#define SCRIPT_SEND_NAMES 64
/* Size classes of 16 bytes up to 128 (a case handed to a handler, a short
 * string, a closure) kept by the allocator's pool. */
#define SCRIPT_POOL_CLASSES 8
/* Handlers whose parameters are kept read (script.c, takes_event). */
#define SCRIPT_TAKERS 32

struct script {
  lua_State *L;
  institution_config cfg;
  size_t mem_used;
  size_t mem_limit;
  /* Small blocks the collector freed, kept for the next allocations of
   * their size (script.c, limited_alloc), each list linked through its
   * blocks' first bytes; counted in mem_used no more. Owned. */
  void *pool[SCRIPT_POOL_CLASSES];
  int pool_n[SCRIPT_POOL_CLASSES];
  int64_t budget; /* instructions per handler call */
  int64_t deadline_ms; /* the handler's own time a call, on a real clock;
                          0: none (lua_sandbox.c "the deadline") */
  /* While a call runs (lua_sandbox.c): */
  int running, depth;  /* inside script_pcall; nested calls */
  int spent;           /* SPENT_*: every catch rethrows */
  /* The base library's error(), and whether the error a protected call
   * last caught was raised by it (msgh): a script's own refusal, not a
   * crash (script_pcall). */
  lua_CFunction error_fn;
  int raised;
  /* The message of the last crash (not error()'s) a script's pcall or
   * xpcall caught, "" when none this call: raised again (error(e, 0))
   * it is still a crash, not the script's refusal (msgh). */
  char crash[512];
  /* crash's whole length: a longer message (a binding quoting what it
   * was given) is kept cut, and msgh looks for its first bytes where
   * the whole would begin. */
  size_t crash_len;
  int hook_period;     /* instructions between two hook calls */
  int64_t budget_left; /* steps left: instructions, bytes, C work */
  int64_t deadline_at; /* monotonic ms of the next look; 0: no deadline */
  int64_t counted_ms;  /* of deadline_ms, counted so far */
  int64_t cpu_mark;    /* the thread's CPU ms when last counted; -1: none */
  int loading;    /* inside script_load: DSL functions allowed */
  int seen_institution, seen_service, seen_tokens, seen_policy;
  int seen_capacity;
  rc_errlist *errors; /* where load problems go, while loading */
  /* Where the findings of checks newer than a book's generation go
   * (rc_error.since), while loading; NULL: to errors with the rest. */
  rc_errlist *findings;
  rc_clock *clock;    /* os.time/os.date and ISO times in handlers */
  int owns_clock;     /* clock is ours to free (not the engine's) */
  /* The workflow last looked up, held by a registry ref: a reminder step
   * asks for its workflow five times, and a workflow once registered is
   * never replaced (script.c, push_workflow). */
  char wf_name[64];
  int wf_version, wf_ref;
  /* The state a handler just returned, as run_handler found it: the
   * engine's transition asks for it next (script_state_info), once, with
   * no Lua run between (script_pcall forgets it). */
  script_state next_info;
  char next_wf[64], next_state[64];
  int next_version, next_known;
  /* Registry slots (luaL_ref), read with lua_rawgeti: the keys above, the
   * templates table, and the case being handled (false outside a
   * handler; recoup.money and recoup.date read its borrower). */
  int key_ref[SK_COUNT];
  /* The keys' interned text, held by those slots: a short string is
   * interned, so a table's key with this text has this address. */
  const char *key_text[SK_COUNT];
  int templates_ref, handler_case_ref;
  int case_mt_ref; /* the cases' metatable (lua_case.c) */
  /* case:send's template texts split once (lua_case.c, send_plan): a
   * text found by the address of its Lua string, which a registry slot
   * keeps alive (so no other string takes that address). Filled once and
   * never evicted: a send's plan is never freed under it by a nested
   * send. Freed with the script. */
  struct {
    const char *text;
    struct template_plan *plan;
  } plans[SCRIPT_PLANS];
  int nplans;
  /* What case:send's look-up made of each placeholder name of those plans
   * (lua_case.c, send_field), by the name's address, which the plan keeps
   * for sc's life. Filled once, never evicted. */
  struct {
    const char *name;
    int field;
  } send_names[SCRIPT_SEND_NAMES];
  int nsend_names;
  /* Whether a handler takes the event (script.c, takes_event), by the
   * function's address: a registry slot keeps each function alive, so no
   * other takes its address while sc lives. Filled once, never evicted. */
  struct {
    const void *fn;
    int takes;
  } takers[SCRIPT_TAKERS];
  int ntakers;
};

extern const char *const script_key_text[SK_COUNT];

/* lua_getfield(L, idx, the key's text), metamethods as there; sc is
 * script_of(L), NULL in a state of another kind (a spec's). */
static inline int script_getkey(lua_State *L, const struct script *sc, int idx,
                                enum script_key k) {
  if (!sc) return lua_getfield(L, idx, script_key_text[k]);
  idx = lua_absindex(L, idx);
  lua_rawgeti(L, LUA_REGISTRYINDEX, sc->key_ref[k]);
  return lua_gettable(L, idx);
}

script *script_of(lua_State *L);
/* Appends a load error located at the Lua caller `level` frames up. */
void script_load_error(lua_State *L, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* script_load_error of a check that came in checks generation since
 * (recoup.h, RECOUP_CHECKS_GENERATION), whose finding a book of an older
 * generation only warns of. */
void script_load_finding(lua_State *L, int level, int since, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
/* Splits "file:line: message" into err. */
void script_error_from_message(const char *msg, int code, rc_error *err);

/* lua_sandbox.c: the budget, the deadline and the read-only environment. */
void sandbox_open(lua_State *L);         /* after the libraries and the DSL */
void sandbox_lock_globals(lua_State *L); /* after recoup.lua has loaded */
void sandbox_begin(script *sc);          /* a call starts: budget, deadline */
void sandbox_end(script *sc);
/* Charges steps of work to the running call; raises when it is spent. */
void sandbox_charge(lua_State *L, int64_t steps);
void sandbox_charge_alloc(script *sc, size_t bytes); /* never raises */

/* lua_case.c: a BCP 47 tag in its usual casing ("zh-cn" -> "zh-CN"), as
 * a text's key is matched; 0 when it is so already (or too long). */
int script_tag_cased(const char *tag, char *out, size_t size);

/* lua_match.c: find, match, gmatch, gsub into the table on top. */
void lmatch_register(lua_State *L);

/* institution.c */
/* The string keys of the table at idx, sorted, so that errors come out in
 * a stable order; the caller frees them with script_free_keys. */
char **script_sorted_keys(lua_State *L, int idx, int *n);
void script_free_keys(char **keys, int n);
void institution_open(lua_State *L); /* the DSL globals and recoup.workflow */
void institution_finish(script *sc); /* cross-section checks after load */

/* script_check.c: checks against the source text, for recoup check */
struct source;
void check_open(lua_State *L);
/* The indexed text of a script file by chunk name, cached until
 * check_done; NULL when it cannot be read. */
const struct source *check_source(lua_State *L, const char *name);
void check_done(lua_State *L);
/* A load error at file:line (line 0: none). */
void check_error(script *sc, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same for a check that came in checks generation since (> 1). */
void check_finding(script *sc, int since, const char *file, int line,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* " (did you mean 'x'?)" or "" into buf. */
const char *check_did_you_mean(const char *near, char *buf, size_t size);
/* The same for the key of the table at idx nearest to name. */
const char *check_nearest_key(lua_State *L, int idx, const char *name,
                              char *buf, size_t size);
void check_templates(script *sc); /* texts, placeholders, channels */
void check_sends(script *sc);     /* literal case:send in workflow files,
                                     and case:METHOD slips of the keyboard */

/* lua_format.c: recoup.money and recoup.date */
int lformat_money(lua_State *L);
int lformat_date(lua_State *L);
/* The same in the institution's locale and currency, in a state of
 * another kind (a spec's, the REPL's: lua_rt.c). */
int lformat_money_institution(lua_State *L, const institution_config *cfg,
                              rc_clock *clk);
int lformat_date_institution(lua_State *L, const institution_config *cfg,
                             rc_clock *clk);

/* lua_case.c */
void lcase_open(lua_State *L);
/* The case method that name is a slip of the keyboard from ("afterr":
 * "after"); NULL when name is a method or near none. */
const char *lcase_method_near(const char *name);
/* The locale, zone and currency of the case at idx and its borrower, into
 * a template context (strings pushed on the stack). */
struct template_ctx;
void lcase_reader(lua_State *L, int idx, struct template_ctx *ctx);
void lcase_push(lua_State *L, struct engine *eng, const char *case_id);
/* A case an rt gives (lua_rt.c), ended by lcase_forget when its engine
 * closes (lrt_forget): one read after raises. */
void lcase_push_kept(lua_State *L, struct engine *eng, const char *case_id);
void lcase_forget(lua_State *L);
/* A store row as a table: times as ISO strings in the institution's zone,
 * the journal's detail decoded, task fields and results spread over it. */
struct store_value;
void lcase_push_row(lua_State *L, struct engine *eng,
                    const struct store_value *cols, int n);
/* The plain-table view of a case given to route(): fields only. */

#endif
