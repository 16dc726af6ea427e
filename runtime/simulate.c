/* `recoup simulate`: runs the current scripts and, with --against, a
 * candidate on private copies of the book, day by day on a simulated
 * clock, with borrowers and collectors played by a behaviour model
 * calibrated from the book's own journal (simulate_model.c).
 *
 * Nothing is delivered: the outbox is never started, so the messages the
 * scripts send stay queued in the copies, and the copies live in a 0700
 * directory removed on every way out (a signal only sets a flag that the
 * day loop checks; cleanup then runs on the ordinary path, and atexit
 * catches the rest).
 *
 * Randomness is our own splitmix64, seeded from --seed and keyed by case,
 * day and purpose: both arms draw the same numbers for the same borrower
 * on the same day (common random numbers), so their difference is the
 * strategy's, not the dice's, and one seed gives byte-identical JSON. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "recoup/engine.h"
#include "store/where.h"
#include "simulate.h"
#include "template.h"
#include "textwidth.h"

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };
enum { SIM_QUEUES = 32, SIM_CHANNELS = 16, DEFAULT_CAPACITY = 100 };
static const int64_t DAY_MS = 86400000;

/* --- leaving cleanly ------------------------------------------------- */

static char tmp_dir[PATH_MAX]; /* "" when there is none */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  interrupted = sig;
}

static void remove_tmp(void) {
  DIR *d;
  if (!tmp_dir[0]) return;
  if ((d = opendir(tmp_dir))) {
    const struct dirent *e;
    while ((e = readdir(d))) {
      char path[PATH_MAX + 256];
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
      unlink(path);
    }
    closedir(d);
  }
  rmdir(tmp_dir);
  tmp_dir[0] = '\0';
}

/* --- dice ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

enum {
  DRAW_PAY,
  DRAW_SHARE,
  DRAW_REACH,
  DRAW_OUTCOME,
  DRAW_KEPT,
  DRAW_DAYS,
  DRAW_REPLY
};

/* A uniform number in [0, 1) for one borrower, day and purpose. */
static double draw(uint64_t seed, uint64_t case_hash, int day, int purpose) {
  uint64_t s = seed ^ case_hash ^ ((uint64_t)(unsigned)day << 32) ^
               ((uint64_t)(unsigned)purpose * 0x2545F4914F6CDD1DULL);
  splitmix64(&s);
  return (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
}

/* --- the command line -------------------------------------------------- */

typedef struct sim_opts {
  const char *dir, *db, *against, *json, *html;
  int days, runs;
  uint64_t seed;
} sim_opts;

static const char synopsis[] =
    "usage: recoup simulate [DIR] --db FILE [--against DIR2] [--days N] "
    "[--seed N]\n"
    "                       [--runs N] [--json FILE] [--html FILE]\n";

static int usage_error(const char *fmt, const char *what) {
  rc_error err;
  rc_error_clear(&err);
  snprintf(err.message, sizeof err.message, fmt, what);
  rc_error_print(&err, stderr);
  fputs(synopsis, stderr);
  return EXIT_USAGE;
}

static int number(const char *flag, const char *text, long long lo,
                  long long hi, long long *out) {
  char *end;
  long long v;
  errno = 0;
  v = strtoll(text, &end, 10);
  if (errno || end == text || *end || v < lo || v > hi) {
    rc_error err;
    rc_error_clear(&err);
    snprintf(err.message, sizeof err.message,
             "%s must be a whole number from %lld to %lld, got '%.40s'", flag,
             lo, hi, text);
    rc_error_print(&err, stderr);
    fputs(synopsis, stderr);
    return EXIT_USAGE;
  }
  *out = v;
  return EXIT_DONE;
}

static int parse(int argc, char **argv, sim_opts *o) {
  static const char *const flags[] = {"--db",   "--against", "--days", "--seed",
                                      "--runs", "--json",    "--html", NULL};
  int seen = 0;
  memset(o, 0, sizeof *o);
  o->days = 30, o->runs = 1, o->seed = 1;
  for (int i = 0; i < argc; i++) {
    const char *s = argv[i];
    int k;
    long long v;
    if (s[0] != '-' || !s[1]) {
      if (o->dir)
        return usage_error("simulate takes one DIR; got '%.200s' too", s);
      o->dir = s;
      continue;
    }
    if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
      fputs(synopsis, stdout);
      return -1;
    }
    for (k = 0; flags[k] && strcmp(flags[k], s); k++) {
    }
    if (!flags[k]) return usage_error("unknown option %.200s", s);
    if (seen & (1 << k)) return usage_error("%s given twice", s);
    seen |= 1 << k;
    if (i + 1 >= argc) return usage_error("%s needs a value", s);
    s = argv[++i];
    switch (k) {
      case 0:
        o->db = s;
        break;
      case 1:
        o->against = s;
        break;
      case 2:
        if (number("--days", s, 1, 365, &v)) return EXIT_USAGE;
        o->days = (int)v;
        break;
      case 3:
        if (number("--seed", s, 0, LLONG_MAX, &v)) return EXIT_USAGE;
        o->seed = (uint64_t)v;
        break;
      case 4:
        if (number("--runs", s, 1, 100, &v)) return EXIT_USAGE;
        o->runs = (int)v;
        break;
      case 5:
        o->json = s;
        break;
      default:
        o->html = s;
        break;
    }
  }
  if (!o->dir) o->dir = ".";
  return EXIT_DONE;
}

/* --- one arm ---------------------------------------------------------- */

/* What the simulation remembers of a case between days. */
typedef struct sim_case {
  char *id; /* owned */
  uint64_t hash;
  int last_contact; /* simulated day of the last contact that went out */
  int promise_day;  /* day a promise falls due (-1: none) */
  int promise_kept;
  rc_money promise_amount;
  char state[64];
} sim_case;

typedef struct counter {
  char name[64];
  int64_t n;
} counter;

typedef struct counters {
  counter c[SIM_QUEUES];
  int n;
} counters;

static int64_t *counter_slot(counters *cs, const char *name) {
  for (int i = 0; i < cs->n; i++)
    if (!strcmp(cs->c[i].name, name)) return &cs->c[i].n;
  if (cs->n == SIM_QUEUES) return NULL;
  snprintf(cs->c[cs->n].name, sizeof cs->c[0].name, "%s", name);
  cs->c[cs->n].n = 0;
  return &cs->c[cs->n++].n;
}

static void counter_add(counters *cs, const char *name, int64_t by) {
  int64_t *slot = counter_slot(cs, name ? name : "");
  if (slot) *slot += by;
}

static json_t *counters_json(const counters *cs) {
  json_t *o = json_object();
  for (int i = 0; i < cs->n; i++)
    json_object_set_new(o, cs->c[i].name, json_integer(cs->c[i].n));
  return o;
}

typedef struct outgoing {
  int64_t id;
  sim_case *c;
  double reply; /* the chance of a reply: the model's for its channel */
} outgoing;

typedef struct arm {
  const sim_opts *o;
  const sim_model *m;
  engine *eng;
  query *q;
  uint64_t seed;
  sim_case *cases; /* owned, by id */
  int ncases;
  int64_t last_message, last_task; /* ids seen */
  int64_t refusals_seen;           /* the guard's refusals so far */
  int day;                         /* simulated day, 0 first */
  rc_time day_start;
  char today[16];
  int32_t today_days;
  /* this day's figures */
  rc_money recovered; /* in the institution's currency */
  counters recovered_by; /* every currency's, apart */
  int64_t payments, refusals, legal, held;
  counters messages, opened, done, backlog, states;
  int moved, stayed, errors;
  int64_t replies; /* this day's */
  outgoing *out;   /* messages to mark delivered; owned */
  int nout, capout, oom;
  json_t *outcome_cache; /* "workflow/version/kind" -> outcomes; owned */
} arm;

static int capacity_of(const institution_config *cfg, const char *queue) {
  for (int i = 0; i < cfg->ncapacity; i++)
    if (!strcmp(cfg->capacity[i].queue, queue)) return cfg->capacity[i].per_day;
  return DEFAULT_CAPACITY;
}

static int sim_case_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, ((const sim_case *)b)->id);
}

static sim_case *find_case(arm *a, const char *id) {
  return bsearch(&id, a->cases, (size_t)a->ncases, sizeof *a->cases,
                 sim_case_cmp);
}

/* The cases at the start, and each day's walk over them. */
typedef struct case_walk {
  arm *a;
  int start; /* collecting the case list */
  int oom, cap;
  rc_error *err;
  int rc;
} case_walk;

static int collect_case(void *ud, const store_value *v, int n) {
  case_walk *w = ud;
  arm *a = w->a;
  sim_case *c;
  if (n < 12 || v[0].type != STORE_TEXT) return 0;
  if (a->ncases == w->cap) {
    int cap = w->cap ? w->cap * 2 : 1024;
    sim_case *g = realloc(a->cases, (size_t)cap * sizeof *g);
    if (!g) return w->oom = 1;
    a->cases = g, w->cap = cap;
  }
  c = &a->cases[a->ncases];
  memset(c, 0, sizeof *c);
  if (!(c->id = strdup(v[0].s))) return w->oom = 1;
  a->ncases++;
  c->hash = hash_str(v[0].s);
  c->last_contact = -1000;
  c->promise_day = -1;
  snprintf(c->state, sizeof c->state, "%s", v[2].s ? v[2].s : "");
  if (!v[3].i && v[4].i) a->held++;
  return 0;
}

/* A payment today, by the model: the case's own dice decide. */
typedef struct payment {
  char id[160];
  char currency[16]; /* the case's; "" when the book did not say */
  rc_money amount;
} payment;

typedef struct day_walk {
  arm *a;
  payment *pay; /* owned */
  int npay, cap, oom;
} day_walk;

static void add_payment(day_walk *w, const char *id, const char *currency,
                        rc_money amount) {
  if (w->npay == w->cap) {
    int cap = w->cap ? w->cap * 2 : 256;
    payment *g = realloc(w->pay, (size_t)cap * sizeof *g);
    if (!g) {
      w->oom = 1;
      return;
    }
    w->pay = g, w->cap = cap;
  }
  snprintf(w->pay[w->npay].id, sizeof w->pay[0].id, "%s", id);
  rc_copy(w->pay[w->npay].currency, sizeof w->pay[0].currency, currency);
  w->pay[w->npay++].amount = amount;
}

static int walk_day(void *ud, const store_value *v, int n) {
  day_walk *w = ud;
  arm *a = w->a;
  const sim_model *m = a->m;
  sim_case *c;
  rc_money balance, due;
  int dpd = 0;
  double p;
  rc_date dd;
  const char *cur;
  if (n < 12 || v[0].type != STORE_TEXT || !(c = find_case(a, v[0].s)))
    return 0;
  cur = n > 12 && v[12].type == STORE_TEXT ? v[12].s : "";
  if (v[3].i || v[4].i || v[5].i) return 0; /* closed, in error, on hold */
  balance = v[6].i, due = v[7].i;
  if (balance <= 0) return 0;
  if (c->promise_day == a->day) {
    c->promise_day = -1;
    if (c->promise_kept && c->promise_amount > 0) {
      add_payment(w, c->id, cur,
                  c->promise_amount < balance ? c->promise_amount : balance);
      return 0;
    }
  }
  if (due <= 0) return 0;
  if (v[8].type == STORE_TEXT && clock_parse_date(v[8].s, &dd) == RC_OK)
    dpd = (int)(a->today_days - clock_date_to_days(dd));
  p = sim_model_pay(m, v[2].type == STORE_TEXT ? v[2].s : "", dpd);
  if (a->day - c->last_contact <= m->contact_days) p *= m->lift;
  if (draw(a->seed, c->hash, a->day, DRAW_PAY) < p) {
    /* Between half and all of the model's share, rounded to whole minor
     * units; never more than the balance. */
    double share =
        m->share.p * (0.5 + draw(a->seed, c->hash, a->day, DRAW_SHARE));
    rc_money amount = (rc_money)((double)due * (share > 1 ? 1 : share) + 0.5);
    if (amount < 1) amount = 1;
    if (amount > balance) amount = balance;
    add_payment(w, c->id, cur, amount);
  }
  return 0;
}

/* At the end of the day: cases by state, and those that went to legal. */
static int count_states(void *ud, const store_value *v, int n) {
  arm *a = ud;
  sim_case *c;
  if (n < 3 || v[0].type != STORE_TEXT || v[2].type != STORE_TEXT ||
      !(c = find_case(a, v[0].s)))
    return 0;
  if (strcmp(c->state, v[2].s) && !strcmp(v[2].s, "legal")) a->legal++;
  snprintf(c->state, sizeof c->state, "%s", v[2].s);
  counter_add(&a->states, c->state, 1);
  return 0;
}

/* --- collectors ------------------------------------------------------- */

typedef struct work_item {
  int64_t id;
  char case_id[160], kind[32];
} work_item;

typedef struct work_list {
  work_item *items; /* owned */
  int n, cap, oom;
} work_list;

static int collect_work(void *ud, const store_value *v, int n) {
  work_list *l = ud;
  if (n < 3 || v[0].type != STORE_INT || v[1].type != STORE_TEXT) return 0;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 64;
    work_item *g = realloc(l->items, (size_t)cap * sizeof *g);
    if (!g) return l->oom = 1;
    l->items = g, l->cap = cap;
  }
  l->items[l->n].id = v[0].i;
  snprintf(l->items[l->n].case_id, sizeof l->items[0].case_id, "%s", v[1].s);
  snprintf(l->items[l->n].kind, sizeof l->items[0].kind, "%s",
           v[2].type == STORE_TEXT ? v[2].s : "");
  l->n++;
  return 0;
}

static int collect_queue(void *ud, const store_value *v, int n) {
  counters *qs = ud;
  if (n >= 1 && v[0].type == STORE_TEXT) counter_add(qs, v[0].s, 0);
  return 0;
}

/* Defaults for outcome shares where the book is thin. */
static double default_share(const char *kind, const char *outcome) {
  static const struct {
    const char *outcome;
    double call, visit, other;
  } table[] = {
      {"promise", 0.45, 0.35, 0.3},    {"hardship", 0.10, 0.15, 0.1},
      {"refused", 0.35, 0.25, 0.2},    {"dispute", 0.10, 0.05, 0.05},
      {"not_found", 0.0, 0.25, 0.2},   {"no_answer", 0.8, 0.0, 0.0},
      {"wrong_number", 0.2, 0.0, 0.0}, {"agreed", 0.6, 0.6, 0.6},
      {"declined", 0.4, 0.4, 0.4},     {"proceed", 0.5, 0.5, 0.5},
      {"settle", 0.3, 0.3, 0.3},       {"write_off", 0.2, 0.2, 0.2},
  };
  int call = !strcmp(kind, "call"), visit = strstr(kind, "visit") != NULL;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (!strcmp(table[i].outcome, outcome))
      return call ? table[i].call : visit ? table[i].visit : table[i].other;
  return 0.1;
}

static int64_t history_count(const sim_model *m, const char *kind,
                             const char *outcome) {
  for (int i = 0; i < m->noutcomes; i++)
    if (!strcmp(m->outcomes[i].kind, kind) &&
        !strcmp(m->outcomes[i].outcome, outcome))
      return m->outcomes[i].n;
  return 0;
}

static int is_unreached(const char *outcome) {
  return !strcmp(outcome, "no_answer") || !strcmp(outcome, "wrong_number") ||
         !strcmp(outcome, "not_reached") || !strcmp(outcome, "voicemail");
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Whether the service would take a promise for this balance: something
 * owed, and the declared amount's bounds leave an amount from 1 to the
 * balance. Else the simulated collector records another outcome, as a
 * collector does when the borrower cannot promise the minimum (on
 * 08382c0 the promise was sent held to min, refused, a simulation error
 * and the task left open). */
static int promise_fits(json_t *outcome, rc_money balance) {
  json_t *amount =
      json_object_get(json_object_get(outcome, "fields"), "amount");
  json_t *lo = json_object_get(amount, "min"),
         *hi = json_object_get(amount, "max");
  if (balance <= 0) return 0;
  if (json_is_integer(lo) && json_integer_value(lo) > balance) return 0;
  return !json_is_integer(hi) || json_integer_value(hi) >= 1;
}

/* Picks an outcome among the declared ones: for a call, first whether it
 * reaches the borrower; then by the book's shares where it has
 * min_obs of them, else by the defaults. A case makes no promise the
 * service would refuse (promise_fits). */
static const char *pick_outcome(arm *a, const sim_case *c, const char *kind,
                                json_t *declared, rc_money balance,
                                int *reached) {
  const sim_model *m = a->m;
  const char *names[32], *key;
  double w[32], total = 0, hist_total = 0, x;
  int n = 0, want_reached = 1, use_history;
  json_t *value;
  *reached = 0;
  if (!strcmp(kind, "call"))
    want_reached = draw(a->seed, c->hash, a->day, DRAW_REACH) < m->reach.p;
  json_object_foreach(declared, key, value) {
    if (n == 32) break;
    if (!strcmp(key, "promise") && !promise_fits(value, balance)) continue;
    if (!strcmp(kind, "call") && is_unreached(key) == want_reached) continue;
    names[n] = key;
    hist_total += (double)history_count(m, kind, key);
    n++;
  }
  if (n == 0) { /* nothing on that side: any declared outcome */
    json_object_foreach(declared, key, value) {
      if (n == 32) break;
      if (!strcmp(key, "promise") && !promise_fits(value, balance)) continue;
      names[n++] = key;
    }
  }
  if (n == 0) return NULL;
  /* The declaration is a Lua table, whose order changes from one process
   * to the next: sorted, one seed gives one result. */
  qsort(names, (size_t)n, sizeof names[0], name_cmp);
  use_history = hist_total >= m->min_obs;
  for (int i = 0; i < n; i++) {
    w[i] = use_history ? (double)history_count(m, kind, names[i])
                       : default_share(kind, names[i]);
    total += w[i];
  }
  x = draw(a->seed, c->hash, a->day, DRAW_OUTCOME) * total;
  for (int i = 0; i < n; i++) {
    if (total <= 0 || x < w[i] || i == n - 1) {
      *reached = !strcmp(kind, "call")
                     ? want_reached
                     : !is_unreached(names[i]) && strcmp(names[i], "not_found");
      return names[i];
    }
    x -= w[i];
  }
  return names[n - 1];
}

/* v held to a field's declared bounds: a simulated collector records
 * what the form would take (task_decl.c). */
static json_int_t within(json_t *spec, json_int_t v) {
  json_t *lo = json_object_get(spec, "min"), *hi = json_object_get(spec, "max");
  if (json_is_integer(lo) && v < json_integer_value(lo))
    v = json_integer_value(lo);
  if (json_is_integer(hi) && v > json_integer_value(hi))
    v = json_integer_value(hi);
  return v;
}

/* The completion body: the outcome and a value for each field it needs.
 * Money is what is overdue, else the balance, never above the balance:
 * the service refuses a promise above it (on fa744ec each such
 * completion was a simulation error, the promise never made). */
static json_t *completion(arm *a, sim_case *c, const char *kind,
                          const char *outcome, json_t *fields,
                          rc_money amount_due, rc_money balance) {
  rc_money money = amount_due > 0 ? amount_due : balance;
  json_t *body = json_pack("{s:s}", "outcome", outcome), *spec;
  const char *name;
  json_object_foreach(fields, name, spec) {
    const char *type = json_string_value(json_object_get(spec, "type"));
    json_t *choices = json_object_get(spec, "choices");
    if (json_is_true(json_object_get(spec, "optional")) || !type) continue;
    if (json_is_array(choices) && json_array_size(choices))
      json_object_set(body, name, json_array_get(choices, 0));
    else if (!strcmp(type, "money"))
      json_object_set_new(
          body, name,
          json_integer(within(
              spec, money > balance ? balance : money > 0 ? money : 1)));
    else if (!strcmp(type, "date")) {
      int days = 1 + (int)(draw(a->seed, c->hash, a->day, DRAW_DAYS) * 7);
      char when[16];
      rc_date d = clock_date_from_days(a->today_days + days);
      clock_date_format(&d, when, sizeof when);
      json_object_set_new(body, name, json_string(when));
      if (!strcmp(outcome, "promise")) {
        c->promise_day = a->day + days;
        c->promise_kept =
            draw(a->seed, c->hash, a->day, DRAW_KEPT) < a->m->kept.p;
      }
    } else if (!strcmp(type, "int"))
      json_object_set_new(body, name, json_integer(within(spec, 6)));
    else if (!strcmp(type, "bool"))
      json_object_set_new(body, name, json_true());
    else
      json_object_set_new(body, name, json_string("simulated"));
  }
  if (!strcmp(outcome, "promise")) {
    json_t *amt = json_object_get(body, "amount");
    c->promise_amount = json_is_integer(amt) ? json_integer_value(amt) : 0;
  }
  (void)kind;
  return body;
}

static json_t *declared_outcomes(arm *a, const store_case *sc,
                                 const char *kind) {
  char key[256];
  json_t *o;
  snprintf(key, sizeof key, "%s/%d/%s", sc->workflow, sc->version, kind);
  if ((o = json_object_get(a->outcome_cache, key))) return o;
  o = script_task_outcomes(engine_script(a->eng), sc->workflow, sc->version,
                           kind);
  if (!o) o = json_object();
  json_object_set_new(a->outcome_cache, key, o);
  return o;
}

/* Each queue's collectors complete at most its capacity of the tasks due
 * now, in My work's order (due first, then priority); the rest waits. */
static int work_queues(arm *a, rc_time now, rc_error *err) {
  counters queues = {0};
  const institution_config *cfg = script_config(engine_script(a->eng));
  int rc = query_work_queues(a->q, collect_queue, &queues, err);
  for (int i = 0; i < queues.n && rc == RC_OK; i++) {
    work_list l = {0};
    int cap = capacity_of(cfg, queues.c[i].name);
    if (cap == 0) continue;
    rc = query_work_page(a->q, queues.c[i].name, now, 1, NULL, NULL, 0, cap,
                         collect_work, &l, err);
    if (rc == RC_OK && l.oom)
      rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    for (int k = 0; k < l.n && rc == RC_OK; k++) {
      store_case sc;
      sim_case *c = find_case(a, l.items[k].case_id);
      json_t *declared, *fields, *body;
      const char *outcome;
      int reached, dup;
      rc_error why;
      if (!c) continue;
      if ((rc = query_case(a->q, c->id, &sc, err)) != RC_OK) break;
      declared = declared_outcomes(a, &sc, l.items[k].kind);
      outcome = pick_outcome(a, c, l.items[k].kind, declared, sc.balance,
                             &reached);
      if (!outcome) outcome = "done";
      fields = json_object_get(json_object_get(declared, outcome), "fields");
      body = completion(a, c, l.items[k].kind, outcome, fields, sc.amount_due,
                        sc.balance);
      rc_error_clear(&why);
      if ((rc = engine_job_begin(a->eng, err)) == RC_OK) {
        int r =
            engine_task_complete(a->eng, l.items[k].id, body, NULL, &dup, &why);
        if (r == RC_ESTORE) *err = why;
        rc = engine_job_end(a->eng, r == RC_ESTORE ? r : RC_OK, err);
        if (r == RC_OK) {
          counter_add(&a->done, queues.c[i].name, 1);
          if (reached) c->last_contact = a->day;
        } else if (r != RC_ESTORE) {
          a->errors++;
        }
      }
      json_decref(body);
      store_case_free(&sc);
    }
    free(l.items);
  }
  return rc;
}

/* --- a day's figures ---------------------------------------------------- */

static int on_message(void *ud, const store_value *v, int n) {
  arm *a = ud;
  sim_case *c;
  if (n < 4) return 0;
  a->last_message = v[0].i;
  if (v[3].type == STORE_TEXT &&
      (!strcmp(v[3].s, "blocked") || !strcmp(v[3].s, "cancelled")))
    return 0;
  counter_add(&a->messages, v[2].s, 1);
  /* A message put off to a later window has not gone out (yet). */
  if (v[3].type != STORE_TEXT || strcmp(v[3].s, "queued")) return 0;
  if (v[1].type == STORE_TEXT && (c = find_case(a, v[1].s))) {
    c->last_contact = a->day;
    if (a->nout == a->capout) {
      int cap = a->capout ? a->capout * 2 : 256;
      outgoing *g = realloc(a->out, (size_t)cap * sizeof *g);
      if (!g) return a->oom = 1;
      a->out = g, a->capout = cap;
    }
    a->out[a->nout].id = v[0].i;
    a->out[a->nout].reply =
        sim_model_reply(a->m, v[2].type == STORE_TEXT ? v[2].s : NULL);
    a->out[a->nout++].c = c;
  }
  return 0;
}

/* The messages of the day "go out": the outbox never runs, so the
 * simulation marks each sent and delivered (message_delivered reaches
 * the workflow), and a borrower replies with the model's reply rate for
 * the message's channel. */
static int deliver_day(arm *a, rc_error *err) {
  int rc = engine_begin(a->eng, err);
  for (int i = 0; i < a->nout && rc == RC_OK; i++) {
    sim_case *c = a->out[i].c;
    rc_error why;
    int r;
    char case_out[160];
    rc_error_clear(&why);
    if ((rc = engine_job_begin(a->eng, err)) != RC_OK) break;
    r = engine_delivery(a->eng, a->out[i].id, c->id, 1, 1, 1, 0, NULL, &why);
    if (r == RC_OK)
      r = engine_receipt(a->eng, a->out[i].id, "delivered", NULL, &why);
    if (r == RC_OK && draw(a->seed, c->hash ^ (uint64_t)a->out[i].id, a->day,
                           DRAW_REPLY) < a->out[i].reply) {
      r = engine_reply(a->eng, c->id, NULL, "simulated reply", case_out, &why);
      if (r == RC_OK) a->replies++;
    }
    if (r == RC_ESTORE) *err = why;
    if (r != RC_OK && r != RC_ESTORE) a->errors++;
    rc = engine_job_end(a->eng, r == RC_ESTORE ? r : RC_OK, err);
  }
  a->nout = 0;
  if (rc == RC_OK) return engine_commit(a->eng, err);
  engine_rollback(a->eng);
  return rc;
}

static int on_task(void *ud, const store_value *v, int n) {
  arm *a = ud;
  if (n < 4) return 0;
  a->last_task = v[0].i;
  counter_add(&a->opened, v[3].type == STORE_TEXT ? v[3].s : "", 1);
  return 0;
}

static int on_backlog(void *ud, const store_value *v, int n) {
  arm *a = ud;
  if (n >= 2 && v[0].type == STORE_TEXT)
    counter_add(&a->backlog, v[0].s, v[1].i);
  return 0;
}

/* The guard's refusals: contacts it blocked, and those it put off to a
 * later window (a cap full, outside contact hours), which did not go out
 * when the strategy asked. */
static int64_t refusals_total(engine *eng) {
  const engine_stats *st = engine_get_stats(eng);
  int64_t n = 0;
  for (int i = 0; i < st->npolicy; i++) n += st->policy[i].count;
  return n;
}

static void day_reset(arm *a) {
  a->recovered = 0;
  a->recovered_by.n = 0;
  a->payments = a->refusals = a->legal = a->replies = 0;
  a->messages.n = a->opened.n = a->done.n = a->backlog.n = a->states.n = 0;
}

static int step_day(arm *a, rc_error *err) {
  day_walk w = {0};
  rc_time mid = a->day_start + DAY_MS / 2, end = a->day_start + DAY_MS;
  int64_t steps;
  int rc;
  rc_date d = clock_zone_date(clock_zone(engine_clock(a->eng)), a->day_start);
  a->today_days = (int32_t)clock_date_to_days(d);
  clock_date_format(&d, a->today, sizeof a->today);
  day_reset(a);
  w.a = a;
  /* The morning: timers and events up to noon; then collectors work. */
  if ((rc = engine_run(a->eng, mid, &steps, err)) != RC_OK) return rc;
  if ((rc = engine_begin(a->eng, err)) != RC_OK) return rc;
  rc = work_queues(a, mid, err);
  if (rc == RC_OK)
    rc = engine_commit(a->eng, err);
  else
    engine_rollback(a->eng);
  if (rc != RC_OK) return rc;
  /* Borrowers: the state each case is in now decides its dice. */
  if ((rc = query_sim(a->q, QUERY_SIM_CASES, 0, walk_day, &w, err)) != RC_OK)
    goto done;
  if (w.oom) {
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    goto done;
  }
  if ((rc = engine_begin(a->eng, err)) != RC_OK) goto done;
  for (int i = 0; i < w.npay && rc == RC_OK; i++) {
    char ref[256];
    int dup;
    rc_error why;
    snprintf(ref, sizeof ref, "sim-%d-%s", a->day, w.pay[i].id);
    rc_error_clear(&why);
    if ((rc = engine_job_begin(a->eng, err)) != RC_OK) break;
    {
      int r = engine_pay(a->eng, w.pay[i].id, w.pay[i].amount, ref, mid, &dup,
                         &why);
      if (r == RC_OK) {
        /* Each currency apart: a sum of yuan and dollars is neither. */
        const char *inst = script_config(engine_script(a->eng))->currency,
                   *cur = w.pay[i].currency[0] ? w.pay[i].currency : inst;
        if (!strcmp(cur, inst)) a->recovered += w.pay[i].amount;
        counter_add(&a->recovered_by, cur, w.pay[i].amount);
        a->payments++;
      } else if (r == RC_ESTORE) {
        *err = why;
      } else {
        a->errors++;
      }
      rc = engine_job_end(a->eng, r == RC_ESTORE ? r : RC_OK, err);
    }
  }
  if (rc == RC_OK)
    rc = engine_commit(a->eng, err);
  else
    engine_rollback(a->eng);
  /* The afternoon: what the payments set off, and the timers. */
  if (rc == RC_OK) rc = engine_run(a->eng, end, &steps, err);
  if (rc == RC_OK)
    rc = query_sim(a->q, QUERY_SIM_MESSAGES, a->last_message, on_message, a,
                   err);
  if (rc == RC_OK && a->oom)
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  /* What the receipts and replies set off, before the day ends. */
  if (rc == RC_OK && a->nout && (rc = deliver_day(a, err)) == RC_OK)
    rc = engine_run(a->eng, end, &steps, err);
  if (rc == RC_OK)
    rc = query_sim(a->q, QUERY_SIM_TASKS, a->last_task, on_task, a, err);
  if (rc == RC_OK)
    rc = query_sim(a->q, QUERY_SIM_BACKLOG, 0, on_backlog, a, err);
  if (rc == RC_OK)
    rc = query_sim(a->q, QUERY_SIM_CASES, 0, count_states, a, err);
  if (rc == RC_OK) {
    int64_t total = refusals_total(a->eng);
    a->refusals = total - a->refusals_seen;
    a->refusals_seen = total;
  }
done:
  free(w.pay);
  return rc;
}

static json_t *day_json(const arm *a) {
  json_t *d = json_object();
  json_object_set_new(d, "date", json_string(a->today));
  json_object_set_new(d, "recovered", json_integer(a->recovered));
  json_object_set_new(d, "recovered_by_currency",
                      counters_json(&a->recovered_by));
  json_object_set_new(d, "payments", json_integer(a->payments));
  json_object_set_new(d, "messages", counters_json(&a->messages));
  json_object_set_new(d, "refusals", json_integer(a->refusals));
  json_object_set_new(d, "replies", json_integer(a->replies));
  json_object_set_new(d, "tasks_opened", counters_json(&a->opened));
  json_object_set_new(d, "tasks_done", counters_json(&a->done));
  json_object_set_new(d, "backlog", counters_json(&a->backlog));
  json_object_set_new(d, "legal", json_integer(a->legal));
  json_object_set_new(d, "states", counters_json(&a->states));
  return d;
}

/* --- summaries ------------------------------------------------------------ */

static void add_into(json_t *sum, const char *key, json_t *obj) {
  const char *k;
  json_t *v, *into = json_object_get(sum, key);
  json_object_foreach(obj, k, v) {
    json_t *have = json_object_get(into, k);
    json_object_set_new(
        into, k,
        json_integer(json_integer_value(have) + json_integer_value(v)));
  }
}

/* Whether a queue's backlog keeps rising: past its capacity at the end,
 * and the second half of the run's days higher than the first. */
static int rising(json_t *days, const char *queue, int capacity) {
  size_t n = json_array_size(days), half = n / 2;
  double first = 0, second = 0;
  int64_t last;
  if (n < 2) return 0;
  for (size_t i = 0; i < n; i++) {
    int64_t b = json_integer_value(json_object_get(
        json_object_get(json_array_get(days, i), "backlog"), queue));
    if (i < half)
      first += (double)b;
    else
      second += (double)b;
  }
  last = json_integer_value(json_object_get(
      json_object_get(json_array_get(days, n - 1), "backlog"), queue));
  return last > capacity &&
         second / (double)(n - half) > 1.1 * first / (double)(half ? half : 1);
}

static json_t *summarize(json_t *days, const institution_config *cfg) {
  json_t *s = json_object(), *peak = json_object(), *cap = json_object(),
         *rise = json_array();
  int64_t recovered = 0, payments = 0, refusals = 0, legal = 0, replies = 0;
  size_t i;
  json_t *d;
  const char *k;
  json_t *v;
  json_object_set_new(s, "messages", json_object());
  json_object_set_new(s, "recovered_by_currency", json_object());
  json_object_set_new(s, "tasks_opened", json_object());
  json_object_set_new(s, "tasks_done", json_object());
  json_array_foreach(days, i, d) {
    recovered += json_integer_value(json_object_get(d, "recovered"));
    payments += json_integer_value(json_object_get(d, "payments"));
    refusals += json_integer_value(json_object_get(d, "refusals"));
    legal += json_integer_value(json_object_get(d, "legal"));
    replies += json_integer_value(json_object_get(d, "replies"));
    add_into(s, "messages", json_object_get(d, "messages"));
    add_into(s, "recovered_by_currency",
             json_object_get(d, "recovered_by_currency"));
    add_into(s, "tasks_opened", json_object_get(d, "tasks_opened"));
    add_into(s, "tasks_done", json_object_get(d, "tasks_done"));
    json_object_foreach(json_object_get(d, "backlog"), k, v) {
      if (json_integer_value(v) > json_integer_value(json_object_get(peak, k)))
        json_object_set_new(peak, k, json_integer(json_integer_value(v)));
      else if (!json_object_get(peak, k))
        json_object_set_new(peak, k, json_integer(json_integer_value(v)));
    }
  }
  json_object_foreach(peak, k, v) {
    int c = capacity_of(cfg, k);
    json_object_set_new(cap, k, json_integer(c));
    if (rising(days, k, c)) json_array_append_new(rise, json_string(k));
  }
  json_object_set_new(s, "recovered", json_integer(recovered));
  json_object_set_new(s, "payments", json_integer(payments));
  json_object_set_new(s, "refusals", json_integer(refusals));
  json_object_set_new(s, "replies", json_integer(replies));
  json_object_set_new(s, "legal", json_integer(legal));
  json_object_set_new(s, "peak_backlog", peak);
  json_object_set_new(s, "capacity", cap);
  json_object_set_new(s, "backlog_rising", rise);
  d = json_array_get(days, json_array_size(days) - 1);
  json_object_set(s, "states", json_object_get(d, "states"));
  return s;
}

/* --- running an arm ------------------------------------------------------- */

static void show_progress(const char *name, int run, int runs, int day,
                          int days) {
  fprintf(stderr, "\rsimulate: %s, run %d/%d, day %d/%d   ", name, run, runs,
          day, days);
}

/* One run of one arm: a fresh copy of the book, its scripts, the days. */
static int run_arm(const sim_opts *o, const sim_model *m, const char *name,
                   const char *dir, int candidate, int run, rc_time start,
                   json_t **out, rc_error *err) {
  char path[PATH_MAX + 64];
  engine_options eo = {.dir = dir, .simulated = 1, .start = start, .quiet = 1};
  rc_errlist errors = {0};
  arm a;
  int rc;
  case_walk cw;
  json_t *days = json_array(), *r;
  memset(&a, 0, sizeof a);
  a.o = o, a.m = m, a.seed = o->seed + (uint64_t)run;
  a.outcome_cache = json_object();
  snprintf(path, sizeof path, "%s/%s-%d.db", tmp_dir, name, run);
  eo.db = path;
  if ((rc = engine_copy_database(o->db, path, err)) != RC_OK) goto out;
  if ((rc = engine_open(&a.eng, &eo, &errors)) != RC_OK) {
    if (errors.count) *err = errors.items[0];
    goto out;
  }
  a.q = engine_query(a.eng);
  engine_scratch(a.eng);
  if (candidate && (rc = engine_adopt(a.eng, &a.moved, err)) != RC_OK) goto out;
  memset(&cw, 0, sizeof cw);
  cw.a = &a, cw.start = 1;
  if ((rc = query_sim(a.q, QUERY_SIM_CASES, 0, collect_case, &cw, err)) !=
      RC_OK)
    goto out;
  if (cw.oom) {
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    goto out;
  }
  /* Open cases the loaded scripts have no state for stay where they were. */
  {
    script *sc = engine_script(a.eng);
    for (int i = 0; i < a.ncases; i++) {
      store_case c;
      if (query_case(a.q, a.cases[i].id, &c, err) != RC_OK) continue;
      if (!c.closed &&
          !script_state_info(sc, c.workflow, c.version, c.state).exists)
        a.stayed++;
      store_case_free(&c);
    }
  }
  /* Start counting from what the book already holds. */
  query_sim(a.q, QUERY_SIM_MESSAGES, 0, on_message, &a, err);
  query_sim(a.q, QUERY_SIM_TASKS, 0, on_task, &a, err);
  for (int i = 0; i < a.ncases; i++) a.cases[i].last_contact = -1000;
  a.refusals_seen = refusals_total(a.eng);
  for (a.day = 0; a.day < o->days; a.day++) {
    if (interrupted) {
      rc = rc_error_set(err, RC_EINTERNAL, NULL, "interrupted");
      goto out;
    }
    if (isatty(2)) show_progress(name, run + 1, o->runs, a.day + 1, o->days);
    a.day_start = start + (rc_time)a.day * DAY_MS;
    if ((rc = step_day(&a, err)) != RC_OK) goto out;
    json_array_append_new(days, day_json(&a));
  }
  r = json_object();
  json_object_set_new(r, "seed", json_integer((json_int_t)a.seed));
  json_object_set_new(r, "days", days);
  days = NULL;
  {
    json_t *s = summarize(json_object_get(r, "days"),
                          script_config(engine_script(a.eng)));
    json_object_set_new(s, "moved", json_integer(a.moved));
    json_object_set_new(s, "stayed", json_integer(a.stayed));
    json_object_set_new(s, "held", json_integer(a.held));
    json_object_set_new(s, "simulation_errors", json_integer(a.errors));
    json_object_set_new(r, "summary", s);
  }
  *out = r;
out:
  json_decref(days);
  json_decref(a.outcome_cache);
  free(a.out);
  if (a.eng) engine_close(a.eng);
  for (int i = 0; i < a.ncases; i++) free(a.cases[i].id);
  free(a.cases);
  rc_errlist_free(&errors);
  store_remove(path, NULL);
  return rc;
}

/* The mean over runs of every number in the summaries, and the range of
 * the top-level ones. */
static void mean_into(json_t *mean, json_t *range, json_t *s, int first,
                      int runs, const char *prefix) {
  const char *k;
  json_t *v;
  json_object_foreach(s, k, v) {
    if (json_is_integer(v) || json_is_real(v)) {
      double x = json_number_value(v);
      json_t *have = json_object_get(mean, k);
      json_object_set_new(
          mean, k, json_real((have ? json_number_value(have) : 0) + x / runs));
      if (range && !prefix) {
        json_t *rg = json_object_get(range, k);
        if (first || !rg)
          json_object_set_new(range, k, json_pack("[f,f]", x, x));
        else {
          double lo = json_real_value(json_array_get(rg, 0)),
                 hi = json_real_value(json_array_get(rg, 1));
          json_object_set_new(
              range, k, json_pack("[f,f]", x < lo ? x : lo, x > hi ? x : hi));
        }
      }
    } else if (json_is_object(v)) {
      json_t *sub = json_object_get(mean, k);
      if (!sub) json_object_set_new(mean, k, sub = json_object());
      mean_into(sub, NULL, v, first, runs, k);
    } else if (first) {
      json_object_set(mean, k, v);
    }
  }
}

static json_t *arm_result(const char *name, const char *dir, json_t *runs) {
  json_t *a = json_object(), *first = json_array_get(runs, 0);
  size_t n = json_array_size(runs), i;
  json_t *r;
  json_object_set_new(a, "name", json_string(name));
  json_object_set_new(a, "dir", json_string(dir));
  json_object_set(a, "days", json_object_get(first, "days"));
  if (n == 1) {
    json_object_set(a, "summary", json_object_get(first, "summary"));
  } else {
    json_t *mean = json_object(), *range = json_object();
    json_array_foreach(runs, i, r) {
      mean_into(mean, range, json_object_get(r, "summary"), i == 0, (int)n,
                NULL);
    }
    /* A queue rising in any run is flagged. */
    json_t *rise = json_array(), *q;
    size_t k;
    json_array_foreach(runs, i, r) {
      json_t *list =
          json_object_get(json_object_get(r, "summary"), "backlog_rising");
      json_array_foreach(list, k, q) {
        size_t m;
        json_t *have;
        int seen = 0;
        json_array_foreach(rise, m, have) {
          seen |= json_equal(have, q);
        }
        if (!seen) json_array_append(rise, q);
      }
    }
    json_object_set_new(mean, "backlog_rising", rise);
    json_object_set_new(a, "summary", mean);
    json_object_set_new(a, "range", range);
    json_object_set(a, "runs", runs);
  }
  return a;
}

/* --- the table -------------------------------------------------------- */

static double num(json_t *o, const char *k) {
  return json_number_value(json_object_get(o, k));
}

const char *sim_money(const sim_report *r, double minor, char *buf,
                      size_t size) {
  /* A mean of runs is rounded to the minor unit a payment could make. */
  rc_money m = (rc_money)llround(minor);
  if (!r || !r->currency || !r->currency[0] ||
      template_format_money(r->locale, r->currency, m, buf, size) != 0)
    snprintf(buf, size, "%.2f", minor / 100.0);
  return buf;
}

static int key_order(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The institution's currency first, then the others in the order of
 * their codes. As the runs paid them first, the lines of two seeds or
 * two strategies stood in another order ("recovered KWD" above
 * "recovered JPY" in one table, below it in the next). */
static json_t *codes_in_order(json_t *seen, const sim_report *r) {
  size_t n = json_object_size(seen), k = 0;
  const char **codes = calloc(n ? n : 1, sizeof *codes), *key;
  json_t *out = json_object(), *v;
  if (!codes) return json_incref(seen); /* as paid: still every one */
  json_object_foreach(seen, key, v) {
    (void)v;
    codes[k++] = key;
  }
  qsort(codes, n, sizeof *codes, key_order);
  if (r && r->currency && json_object_get(seen, r->currency))
    json_object_set_new(out, r->currency, json_true());
  for (k = 0; k < n; k++) json_object_set_new(out, codes[k], json_true());
  free(codes);
  return out;
}

json_t *sim_currencies(json_t *arms, const sim_report *r) {
  json_t *seen = json_object(), *keys, *a, *v;
  size_t i;
  const char *k;
  json_array_foreach(arms, i, a) {
    json_object_foreach(json_object_get(json_object_get(a, "summary"),
                                        "recovered_by_currency"),
                        k, v) {
      (void)v;
      json_object_set_new(seen, k, json_true());
    }
  }
  keys = codes_in_order(seen, r);
  json_decref(seen);
  if (json_object_size(keys) > 1 ||
      (json_object_size(keys) == 1 && r && r->currency &&
       !json_object_get(keys, r->currency)))
    return keys;
  json_decref(keys);
  return NULL;
}

/* Pads cell to width columns: a currency sign such as ¥ is one column
 * and more than one byte, so printf's byte count would shift the row. */
static void put_cell(FILE *out, const char *cell, int width) {
  int cols = text_cols(cell);
  fputc(' ', out);
  for (; cols < width; cols++) fputc(' ', out);
  fputs(cell, out);
}

/* A row's label in the first column, 30 wide as a terminal shows it. */
static void put_label(FILE *out, const char *label) {
  char shown[256];
  fprintf(out, "  %s", text_pad(shown, sizeof shown, label, -30));
}

/* A cell a column: 20 wide, 40 with --runs' ranges beside the means. */
static int cell_width(json_t *arms) {
  return json_object_get(json_array_get(arms, 0), "range") ? 40 : 20;
}

static void row(FILE *out, const char *label, json_t *arms, const char *obj,
                const char *key, int money, const sim_report *rep) {
  size_t i;
  json_t *a;
  int width = cell_width(arms);
  put_label(out, label);
  json_array_foreach(arms, i, a) {
    json_t *s = json_object_get(a, "summary"),
           *rg = json_object_get(a, "range");
    double v = obj ? num(json_object_get(s, obj), key) : num(s, key);
    char cell[160], lo[48], hi[48];
    int ranged = rg && !obj && json_object_get(rg, key);
    if (money)
      sim_money(rep, v, cell, sizeof cell);
    else
      snprintf(cell, sizeof cell, "%.*f", ranged, v);
    if (ranged) {
      json_t *r = json_object_get(rg, key);
      double l = json_number_value(json_array_get(r, 0)),
             h = json_number_value(json_array_get(r, 1));
      size_t n = strlen(cell);
      if (money)
        snprintf(cell + n, sizeof cell - n, " [%s-%s]",
                 sim_money(rep, l, lo, sizeof lo),
                 sim_money(rep, h, hi, sizeof hi));
      else
        snprintf(cell + n, sizeof cell - n, " [%.0f-%.0f]", l, h);
    }
    put_cell(out, cell, width);
  }
  fputc('\n', out);
}

/* Keys of obj across the arms' summaries, in first-seen order. */
static json_t *keys_of(json_t *arms, const char *obj) {
  json_t *keys = json_object(), *a, *v;
  size_t i;
  const char *k;
  json_array_foreach(arms, i, a) {
    json_t *o = json_object_get(json_object_get(a, "summary"), obj);
    json_object_foreach(o, k, v) {
      (void)v;
      json_object_set_new(keys, k, json_true());
    }
  }
  return keys;
}

static void group(FILE *out, json_t *arms, const char *obj, const char *title,
                  const sim_report *rep) {
  json_t *keys = keys_of(arms, obj), *v;
  const char *k;
  json_object_foreach(keys, k, v) {
    char label[160], key[96];
    (void)v;
    /* 20 columns of whole characters: 20 bytes split a Chinese one */
    text_cut_printable(key, sizeof key, k[0] ? k : "(none)", 20);
    snprintf(label, sizeof label, "%s %s", title, key);
    row(out, label, arms, obj, k, 0, rep);
  }
  json_decref(keys);
}

static void print_table(FILE *out, json_t *result, const sim_report *rep) {
  json_t *arms = json_object_get(result, "arms"), *a, *keys, *v;
  size_t i;
  const char *k;
  int width = cell_width(arms);
  fprintf(out, "\n  %-30s", "");
  json_array_foreach(arms, i, a) {
    char name[96];
    const char *s = json_string_value(json_object_get(a, "name"));
    text_cut_printable(name, sizeof name, s ? s : "", 20);
    put_cell(out, name, width);
  }
  fputc('\n', out);
  row(out, "recovered", arms, NULL, "recovered", 1, rep);
  if ((keys = sim_currencies(arms, rep))) {
    /* "recovered" is the institution's currency's; each one apart */
    json_object_foreach(keys, k, v) {
      sim_report in = *rep;
      char label[64];
      (void)v;
      in.currency = k;
      snprintf(label, sizeof label, "recovered %s", k);
      row(out, label, arms, "recovered_by_currency", k, 1, &in);
    }
    json_decref(keys);
  }
  row(out, "payments", arms, NULL, "payments", 0, rep);
  group(out, arms, "messages", "messages", rep);
  row(out, "guard refusals", arms, NULL, "refusals", 0, rep);
  row(out, "replies", arms, NULL, "replies", 0, rep);
  group(out, arms, "tasks_opened", "tasks opened", rep);
  group(out, arms, "tasks_done", "tasks done", rep);
  keys = keys_of(arms, "peak_backlog");
  json_object_foreach(keys, k, v) {
    char label[160], queue[80];
    (void)v;
    text_cut_printable(queue, sizeof queue, k[0] ? k : "(none)", 16);
    snprintf(label, sizeof label, "peak backlog %s", queue);
    put_label(out, label);
    json_array_foreach(arms, i, a) {
      json_t *s = json_object_get(a, "summary");
      json_t *rise = json_object_get(s, "backlog_rising"), *q;
      size_t j;
      int up = 0;
      char cell[64];
      json_array_foreach(rise, j, q) {
        up |= !strcmp(json_string_value(q), k);
      }
      snprintf(cell, sizeof cell, "%.0f/%.0f%s",
               num(json_object_get(s, "peak_backlog"), k),
               num(json_object_get(s, "capacity"), k), up ? " RISING" : "");
      put_cell(out, cell, width);
    }
    fputc('\n', out);
  }
  json_decref(keys);
  row(out, "legal referrals", arms, NULL, "legal", 0, rep);
  group(out, arms, "states", "at the end:", rep);
  row(out, "cases moved to the workflow", arms, NULL, "moved", 0, rep);
  row(out, "cases that stayed", arms, NULL, "stayed", 0, rep);
  row(out, "cases held (in error)", arms, NULL, "held", 0, rep);
  fputs(
      "  (peak backlog: tasks waiting / completed a day; RISING: the "
      "backlog keeps growing past capacity)\n",
      out);
}

int sim_arms_alike(const json_t *result_c) {
  json_t *arms = json_object_get((json_t *)result_c, "arms");
  json_t *cur = json_array_get(arms, 0), *cand = json_array_get(arms, 1);
  json_t *a, *b;
  if (json_array_size(arms) != 2) return 0;
  a = json_object_get(cur, "runs") ? json_object_get(cur, "runs") : cur;
  b = json_object_get(cand, "runs") ? json_object_get(cand, "runs") : cand;
  /* Day by day, run by run: a difference anywhere is the candidate's. */
  if (json_is_array(a)) {
    size_t i;
    json_t *r;
    if (json_array_size(a) != json_array_size(b)) return 0;
    json_array_foreach(a, i, r) {
      if (!json_equal(json_object_get(r, "days"),
                      json_object_get(json_array_get(b, i), "days")))
        return 0;
    }
    return 1;
  }
  return json_equal(json_object_get(a, "days"), json_object_get(b, "days"));
}

/* Said under the table when the candidate changed nothing: most often a
 * change to an `enter` of states the cases already stand in, which the
 * cases moved at the start never run again. */
static const char alike_note[] =
    "the candidate did day by day what the current strategy did: its "
    "change reached no case in these days. A change to a state's `enter` "
    "reaches only cases that enter that state after the start; cases "
    "already there keep the timers and tasks the current strategy gave "
    "them (a new first step, such as the first SMS or call days later, "
    "reaches no case of a book whose cases have opened). docs/simulate.md, "
    "\"Things to know\", says how to try such a change";

/* --- the command ---------------------------------------------------------- */

static int check_dir(const char *dir, int exit_code,
                     const institution_config **cfg_out, engine **keep) {
  engine_options eo = {
      .dir = dir, .db = STORE_SCRATCH, .simulated = 1, .quiet = 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  rc_error e;
  if (engine_open(&eng, &eo, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    rc_error_clear(&e);
    snprintf(e.message, sizeof e.message, "%d problem%s in %s: not simulated",
             errors.count, errors.count == 1 ? "" : "s", dir);
    rc_error_print(&e, stderr);
    rc_errlist_free(&errors);
    return exit_code;
  }
  if (cfg_out) *cfg_out = script_config(engine_script(eng));
  if (keep)
    *keep = eng;
  else
    engine_close(eng);
  return EXIT_DONE;
}

/* The book's now: where its rehearsal clock stopped, else its newest
 * journal row (so that one book gives one result whenever it is run). */
typedef struct latest {
  rc_time at;
} latest;

static int on_latest(void *ud, const store_value *v, int n) {
  latest *l = ud;
  if (n >= 2 && v[1].type == STORE_INT && v[1].i > l->at) l->at = v[1].i;
  return 0;
}

static int book_now(engine *eng, rc_time *now, rc_error *err) {
  int rehearsal, rc;
  rc_time at;
  latest l = {0};
  if ((rc = engine_rehearsal(eng, &rehearsal, &at, err)) != RC_OK) return rc;
  if (rehearsal) {
    *now = at;
    return RC_OK;
  }
  if ((rc = query_sim(engine_query(eng), QUERY_SIM_JOURNAL, 0, on_latest, &l,
                      err)) != RC_OK)
    return rc;
  *now = l.at ? l.at : clock_now(engine_clock(eng));
  return RC_OK;
}

int simulate_main(int argc, char **argv) {
  sim_opts o;
  sim_model m;
  rc_error err;
  engine *cal = NULL, *probe = NULL;
  const institution_config *cfg = NULL;
  char path[PATH_MAX + 64];
  json_t *result = NULL, *arms;
  rc_time start = 0;
  int rc = parse(argc, argv, &o), ncases = 0;
  char locale[32], currency[8];
  sim_report rep = {.locale = locale, .currency = currency};
  if (rc == -1) return EXIT_DONE;
  if (rc != EXIT_DONE) return rc;
  rc_error_clear(&err);
  if (check_dir(o.dir, EXIT_FAILED, &cfg, &probe) != EXIT_DONE)
    return EXIT_FAILED;
  if (!o.db) {
    static char db[PATH_MAX];
    snprintf(db, sizeof db, "%s", cfg->db);
    o.db = db;
  }
  /* Copied: the configuration goes with the engine that read it. */
  snprintf(locale, sizeof locale, "%s", cfg->locale);
  snprintf(currency, sizeof currency, "%s", cfg->currency);
  engine_close(probe);
  if (o.against && check_dir(o.against, EXIT_USAGE, NULL, NULL) != EXIT_DONE)
    return EXIT_USAGE;
  if (access(o.db, R_OK) != 0) {
    rc_error_set(&err, RC_ENOTFOUND, "db", "%s: %s", o.db, strerror(errno));
    rc_error_print(&err, stderr);
    return EXIT_FAILED;
  }
  /* Signals only set a flag; the day loop checks it. */
  {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
  }
  {
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/recoup-sim-XXXXXX",
             base && base[0] ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
      rc_error_set(&err, RC_EIO, NULL, "mkdtemp %s: %s", tmp_dir,
                   strerror(errno));
      tmp_dir[0] = '\0';
      rc_error_print(&err, stderr);
      return EXIT_FAILED;
    }
    chmod(tmp_dir, 0700);
    atexit(remove_tmp);
  }
  /* The model, from a copy of the book opened with the current scripts. */
  sim_model_defaults(&m);
  snprintf(path, sizeof path, "%s/calibrate.db", tmp_dir);
  {
    engine_options eo = {.dir = o.dir, .db = path, .simulated = 1, .quiet = 1};
    rc_errlist errors = {0};
    if ((rc = engine_copy_database(o.db, path, &err)) != RC_OK ||
        (rc = engine_open(&cal, &eo, &errors)) != RC_OK) {
      if (errors.count) err = errors.items[0];
      rc_errlist_free(&errors);
      goto fail;
    }
  }
  if ((rc = book_now(cal, &start, &err)) != RC_OK ||
      (rc =
           sim_model_calibrate(engine_query(cal), clock_zone(engine_clock(cal)),
                               start, &m, &err)) != RC_OK)
    goto fail;
  ncases = (int)m.cases;
  engine_close(cal);
  cal = NULL;
  remove(path);
  {
    /* Measured on the 2-core build host with the example's workflow
     * (make bench-simulate: 100k cases, 60 days, two arms in 63 s): about
     * 5 microseconds a case-day in a Release build, 13 in a Debug one. */
#ifdef NDEBUG
    const double per_case_day = 5.5e-6;
#else
    const double per_case_day = 13e-6;
#endif
    int narms = o.against ? 2 : 1;
    double est = per_case_day * ncases * o.days * narms * o.runs;
    if (est > 10)
      fprintf(stderr,
              "simulate: %d cases, %d days, %d arm%s, %d run%s: about %.0f "
              "seconds\n",
              ncases, o.days, narms, narms == 1 ? "" : "s", o.runs,
              o.runs == 1 ? "" : "s", est);
  }
  result = json_object();
  arms = json_array();
  json_object_set_new(result, "arms", arms);
  for (int k = 0; k < (o.against ? 2 : 1); k++) {
    const char *name = k ? "candidate" : "current";
    const char *dir = k ? o.against : o.dir;
    json_t *runs = json_array();
    for (int r = 0; r < o.runs; r++) {
      json_t *one = NULL;
      if ((rc = run_arm(&o, &m, name, dir, k, r, start, &one, &err)) != RC_OK) {
        json_decref(runs);
        goto fail;
      }
      json_array_append_new(runs, one);
    }
    json_array_append_new(arms, arm_result(name, dir, runs));
    json_decref(runs);
  }
  if (isatty(2)) fputs("\r\033[K", stderr);
  json_object_set_new(result, "model", sim_model_json(&m));
  json_object_set_new(result, "days", json_integer(o.days));
  json_object_set_new(result, "runs", json_integer(o.runs));
  json_object_set_new(result, "seed", json_integer((json_int_t)o.seed));
  sim_model_print(&m, stdout);
  print_table(stdout, result, &rep);
  if (o.against && sim_arms_alike(result)) printf("note: %s\n", alike_note);
  {
    int64_t held = json_integer_value(json_object_get(
        json_object_get(json_array_get(arms, 0), "summary"), "held"));
    if (held)
      printf(
          "%lld case%s in error %s held: not simulated (recoup errors "
          "lists %s)\n",
          (long long)held, held == 1 ? "" : "s", held == 1 ? "is" : "are",
          held == 1 ? "it" : "them");
  }
  if (o.json) {
    if (json_dump_file(result, o.json, JSON_INDENT(2) | JSON_PRESERVE_ORDER) !=
        0) {
      rc_error_set(&err, RC_EIO, "json", "cannot write %s", o.json);
      rc = RC_EIO;
      goto fail;
    }
  }
  if (o.html) {
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    if (mf) {
      sim_model_print(&m, mf);
      fclose(mf);
    }
    rep.model_text = text;
    rc = sim_html_write(result, o.html, &rep, &err);
    rep.model_text = NULL;
    free(text);
    if (rc != RC_OK) goto fail;
  }
  json_decref(result);
  remove_tmp();
  return EXIT_DONE;
fail:
  if (isatty(2)) fputs("\n", stderr);
  if (interrupted)
    fprintf(stderr, "recoup: simulate: interrupted; nothing was kept\n");
  else
    rc_error_print(&err, stderr);
  if (cal) engine_close(cal);
  json_decref(result);
  remove_tmp();
  return interrupted ? 128 + interrupted : EXIT_FAILED;
}
