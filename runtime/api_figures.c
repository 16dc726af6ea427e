/* The figures the supervisors' and strategists' pages draw: Overview,
 * Strategy (workflows), Outbox and the users for the reassign picker.
 *
 * Every figure here is read from counters the store keeps as the data
 * changes (migration "figures" in store.c: triggers for the live ones,
 * the engine's day sums for the rest), so that a page costs a few
 * hundred rows at any size of book: a GROUP BY over a million cases on
 * the service loop held every collector's request for seconds. The one
 * figure that needs each case's history, the roll rates of a month that
 * ended, is computed once by the engine (engine_rolls_settle) and kept. */
#include <stdlib.h>
#include <string.h>

#include "figures.h"
#include "service.h"

/* The windows of the Overview: the last 30 days, today included; roll
 * rates of the last 3 months that ended. */
enum { WINDOW_DAYS = 30, ROLL_MONTHS = 3 };

static void fail(service *svc, http_request *req, int route,
                 const rc_error *err) {
  api_error(svc, req, route, api_status_of(err->code), api_code_of(err->code),
            err->field, err->message);
}

static json_t *time_json(service *svc, const store_value *v) {
  char at[40];
  if (v->type != STORE_INT) return json_null();
  clock_zone_format(clock_zone(engine_clock(svc->eng)), v->i, at, sizeof at);
  return json_string(at);
}

static const char *text(const store_value *v) {
  return v->type == STORE_TEXT ? v->s : "";
}

static void day_string(int64_t days, char *buf, size_t size) {
  rc_date d = clock_date_from_days(days);
  clock_date_format(&d, buf, size);
}

/* --- overview ------------------------------------------------------------ */

/* Money is summed each currency apart: a row's plain amount (balance,
 * payments, promised...) is the institution's currency's, as the
 * report's (a sum of yuan and dollars is neither), and its by_currency
 * lists every currency's, the institution's among them. A book of one
 * currency reads as before, with one entry in each by_currency. */
typedef struct overview {
  service *svc;
  const char *currency; /* the institution's */
  int64_t today;        /* days since the epoch, in the institution's zone */
  char from[16], to[16];
  json_t *by_state;
  int64_t errors;
  int64_t dpd_cases[FIG_BUCKETS], dpd_balance[FIG_BUCKETS];
  json_t *dpd_by[FIG_BUCKETS];
  int64_t payments[WINDOW_DAYS], reduced[WINDOW_DAYS];
  json_t *recovered_by[WINDOW_DAYS];
  int64_t kept, broken, open;
  json_t *contacts, *refusals, *queues, *collectors;
  json_t *currencies; /* every currency with money in the figures */
} overview;

/* A row's currency: figures written before they were kept by currency
 * say '' and were the institution's. */
static const char *currency_of(const overview *o, const store_value *v) {
  return v->type == STORE_TEXT && v->s[0] ? v->s : o->currency;
}

/* The entry for cur in a by_currency list, added (fields zero) when new;
 * cur joins the book's currencies. */
static json_t *currency_entry(overview *o, json_t *list, const char *cur,
                              const char *f1, const char *f2) {
  size_t i;
  json_t *e;
  int known = 0;
  json_array_foreach(o->currencies, i, e) {
    if (!strcmp(json_string_value(e), cur)) known = 1;
  }
  if (!known) json_array_append_new(o->currencies, json_string(cur));
  json_array_foreach(list, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, "currency")), cur))
      return e;
  }
  e = json_pack("{s:s, s:I, s:I}", "currency", cur, f1, (json_int_t)0, f2,
                (json_int_t)0);
  json_array_append_new(list, e);
  return e;
}

static void add(json_t *e, const char *field, int64_t n);

static int code_order(const void *a, const void *b) {
  return strcmp(json_string_value(*(json_t *const *)a),
                json_string_value(*(json_t *const *)b));
}

/* The book's currencies after the institution's in the order of their
 * codes. As the rows named them, a currency moved whenever its cases
 * left a state or its payments were the only ones left, and the
 * Overview's columns and charts changed places from one day to the
 * next: the third column read USD one morning and EUR the next. */
static void currencies_in_order(json_t *currencies) {
  size_t n = json_array_size(currencies);
  json_t **v = n > 2 ? calloc(n - 1, sizeof *v) : NULL;
  if (!v) return; /* out of memory: left as read, still right */
  for (size_t i = 1; i < n; i++)
    v[i - 1] = json_incref(json_array_get(currencies, i));
  qsort(v, n - 1, sizeof *v, code_order);
  for (size_t i = 1; i < n; i++) json_array_set_new(currencies, i, v[i - 1]);
  free(v);
}

/* Rows: workflow, state, cases, balance, errors, closed, currency; a
 * state's currencies one after another. */
static int state_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  const char *cur = currency_of(o, &c[6]);
  size_t last = json_array_size(o->by_state);
  json_t *e = last ? json_array_get(o->by_state, last - 1) : NULL, *m;
  (void)n;
  if (!e ||
      strcmp(json_string_value(json_object_get(e, "workflow")), text(&c[0])) ||
      strcmp(json_string_value(json_object_get(e, "state")), text(&c[1]))) {
    e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:[]}", "workflow",
                  text(&c[0]), "state", text(&c[1]), "cases", (json_int_t)0,
                  "balance", (json_int_t)0, "errors", (json_int_t)0, "closed",
                  (json_int_t)0, "by_currency");
    json_array_append_new(o->by_state, e);
  }
  add(e, "cases", c[2].i);
  add(e, "errors", c[4].i);
  add(e, "closed", c[5].i);
  if (!strcmp(cur, o->currency)) add(e, "balance", c[3].i);
  m = currency_entry(o, json_object_get(e, "by_currency"), cur, "cases",
                     "balance");
  add(m, "cases", c[2].i);
  add(m, "balance", c[3].i);
  o->errors += c[4].i;
  return 0;
}

/* Rows: due_date, cases, balance, currency. */
static int due_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  int b = figures_bucket_of(text(&c[0]), o->today);
  const char *cur = currency_of(o, &c[3]);
  json_t *m;
  (void)n;
  if (b < 0) b = 0; /* imports check dates: this is only a guard */
  o->dpd_cases[b] += c[1].i;
  if (!strcmp(cur, o->currency)) o->dpd_balance[b] += c[2].i;
  m = currency_entry(o, o->dpd_by[b], cur, "cases", "balance");
  add(m, "cases", c[1].i);
  add(m, "balance", c[2].i);
  return 0;
}

static int promise_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  const char *status = text(&c[0]);
  (void)n;
  if (!strcmp(status, "kept")) o->kept += c[1].i;
  if (!strcmp(status, "broken")) o->broken += c[1].i;
  if (!strcmp(status, "open")) o->open += c[1].i;
  return 0;
}

/* Which of the window's days a figure's row is: -1 outside. */
static int window_index(const overview *o, const char *day) {
  rc_date d;
  int64_t k;
  if (clock_parse_date(day, &d) != RC_OK) return -1;
  k = clock_date_to_days(d) - (o->today - (WINDOW_DAYS - 1));
  return k >= 0 && k < WINDOW_DAYS ? (int)k : -1;
}

/* Rows: day, currency, -, -, count, amount (payment and reduced). */
static int recovered_row(overview *o, const store_value *c, const char *field,
                         int64_t *sums) {
  int k = window_index(o, text(&c[0]));
  const char *cur = currency_of(o, &c[1]);
  if (k < 0) return 0;
  if (!strcmp(cur, o->currency)) sums[k] += c[5].i;
  add(currency_entry(o, o->recovered_by[k], cur, "payments", "reduced"), field,
      c[5].i);
  return 0;
}

static int payment_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  (void)n;
  return recovered_row(o, c, "payments", o->payments);
}

static int reduced_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  (void)n;
  return recovered_row(o, c, "reduced", o->reduced);
}

/* Adds n to obj[name][field] where obj is keyed by `key`'s value in a
 * list of objects (found by it, appended when new). */
static json_t *entry(json_t *list, const char *key, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, key)), name)) return e;
  }
  e = json_pack("{s:s}", key, name);
  json_array_append_new(list, e);
  return e;
}

static void add(json_t *e, const char *field, int64_t n) {
  json_t *v = json_object_get(e, field);
  json_object_set_new(e, field,
                      json_integer((v ? json_integer_value(v) : 0) + n));
}

static int contact_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  (void)n;
  add(entry(o->contacts, "channel", text(&c[1])), "count", c[4].i);
  return 0;
}

static int refusal_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  json_t *e = entry(o->refusals, "rule", text(&c[1]));
  (void)n;
  add(e, "count", c[4].i);
  /* deferred (goes out later) or blocked (never) */
  add(e, text(&c[2]), c[4].i);
  return 0;
}

/* Rows: day, user, what (tasks_done, promises, collected), currency,
 * count, amount. */
static int collector_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  json_t *e = entry(o->collectors, "user", text(&c[1])), *by;
  const char *what = text(&c[2]), *cur = currency_of(o, &c[3]);
  const char *field = !strcmp(what, "promises")    ? "promised"
                      : !strcmp(what, "collected") ? "collected"
                                                   : NULL;
  (void)n;
  if (!strcmp(what, "tasks_done")) add(e, "tasks_done", c[4].i);
  if (!strcmp(what, "promises")) add(e, "promises", c[4].i);
  if (!field) return 0;
  if (!strcmp(cur, o->currency)) add(e, field, c[5].i);
  if (!(by = json_object_get(e, "by_currency"))) {
    by = json_array();
    json_object_set_new(e, "by_currency", by);
  }
  add(currency_entry(o, by, cur, "promised", "collected"), field, c[5].i);
  return 0;
}

static int queue_row(void *ud, const store_value *c, int n) {
  overview *o = ud;
  (void)n;
  json_array_append_new(
      o->queues,
      json_pack("{s:o, s:I, s:I, s:o}", "queue",
                c[0].type == STORE_TEXT && c[0].s[0] ? json_string(c[0].s)
                                                     : json_null(),
                "open", (json_int_t)c[1].i, "claimed", (json_int_t)c[2].i,
                "oldest_due", time_json(o->svc, &c[3])));
  return 0;
}

/* Every collector has every figure, zeros too; by name. */
static int by_user(const void *a, const void *b) {
  return strcmp(
      json_string_value(json_object_get(*(json_t *const *)a, "user")),
      json_string_value(json_object_get(*(json_t *const *)b, "user")));
}

static json_t *collectors_json(json_t *list) {
  size_t n = json_array_size(list), i;
  json_t **v = malloc((n ? n : 1) * sizeof *v), *out = json_array();
  static const char *const fields[] = {"tasks_done", "promises", "promised",
                                       "collected"};
  if (!v) return out;
  for (i = 0; i < n; i++) {
    v[i] = json_array_get(list, i);
    for (size_t f = 0; f < 4; f++)
      if (!json_object_get(v[i], fields[f]))
        json_object_set_new(v[i], fields[f], json_integer(0));
    if (!json_object_get(v[i], "by_currency"))
      json_object_set_new(v[i], "by_currency", json_array());
  }
  qsort(v, n, sizeof *v, by_user);
  for (i = 0; i < n; i++) json_array_append(out, v[i]);
  free(v);
  return out;
}

typedef struct roll_read {
  int64_t cases[FIG_BUCKETS][FIG_COLUMNS];
} roll_read;

static int roll_row(void *ud, const store_value *c, int n) {
  roll_read *r = ud;
  (void)n;
  if (c[0].i >= 0 && c[0].i < FIG_BUCKETS && c[1].i >= 0 &&
      c[1].i < FIG_COLUMNS)
    r->cases[c[0].i][c[1].i] = c[2].i;
  return 0;
}

/* The roll rates of the last months that ended, settled once each by the
 * engine (the first Overview of a month pays for the month before). A
 * month before the roll log began is left out. */
static int rolls_json(service *svc, int64_t today, json_t **out,
                      rc_error *err) {
  json_t *buckets = json_array(), *columns = json_array(),
         *months = json_array();
  char month[16], first[16];
  day_string(today, month, sizeof month);
  month[7] = '\0';
  for (int b = 0; b < FIG_BUCKETS; b++) {
    json_array_append_new(buckets, json_string(figures_bucket_names[b]));
    json_array_append_new(columns, json_string(figures_bucket_names[b]));
  }
  json_array_append_new(columns, json_string("closed"));
  for (int k = ROLL_MONTHS; k >= 1; k--) {
    roll_read r;
    json_t *matrix;
    int rc;
    if (figures_month_add(month, -k, first, sizeof first) != 0) continue;
    rc = engine_rolls_settle(svc->eng, first, err);
    if (rc == RC_ENOTFOUND) continue;
    memset(&r, 0, sizeof r);
    if (rc == RC_OK)
      rc = query_rolls_month(engine_query(svc->eng), first, roll_row, &r, err);
    if (rc != RC_OK) {
      json_decref(buckets);
      json_decref(columns);
      json_decref(months);
      return rc;
    }
    matrix = json_array();
    for (int f = 0; f < FIG_BUCKETS; f++) {
      json_t *row = json_array();
      for (int t = 0; t < FIG_COLUMNS; t++)
        json_array_append_new(row, json_integer(r.cases[f][t]));
      json_array_append_new(matrix, row);
    }
    json_array_append_new(
        months, json_pack("{s:s, s:o}", "month", first, "matrix", matrix));
  }
  *out = json_pack("{s:o, s:o, s:o}", "buckets", buckets, "columns", columns,
                   "months", months);
  return RC_OK;
}

void api_figures_overview(service *svc, http_request *req, int route,
                          const char *arg, const principal *who) {
  rc_clock *clk = engine_clock(svc->eng);
  query *q = engine_query(svc->eng);
  rc_time now = clock_now(clk);
  rc_date today = clock_zone_date(clock_zone(clk), now);
  overview o;
  json_t *out, *by_dpd, *recovered, *rolls = NULL;
  char as_of[40], day[16];
  rc_error err;
  int rc;
  (void)arg;
  (void)who;
  rc_error_clear(&err);
  memset(&o, 0, sizeof o);
  o.svc = svc;
  o.currency = script_config(engine_script(svc->eng))->currency;
  o.today = clock_date_to_days(today);
  /* the institution's first, then as the figures name them */
  o.currencies = json_pack("[s]", o.currency);
  for (int b = 0; b < FIG_BUCKETS; b++) o.dpd_by[b] = json_array();
  for (int k = 0; k < WINDOW_DAYS; k++) o.recovered_by[k] = json_array();
  day_string(o.today - (WINDOW_DAYS - 1), o.from, sizeof o.from);
  day_string(o.today, o.to, sizeof o.to);
  o.by_state = json_array();
  o.contacts = json_array();
  o.refusals = json_array();
  o.queues = json_array();
  o.collectors = json_array();
  if ((rc = query_figures_states(q, state_row, &o, &err)) ||
      (rc = query_figures_due(q, due_row, &o, &err)) ||
      (rc = query_figures_promises(q, promise_row, &o, &err)) ||
      (rc = query_figures_days(q, "payment", o.from, o.to, payment_row, &o,
                               &err)) ||
      (rc = query_figures_days(q, "reduced", o.from, o.to, reduced_row, &o,
                               &err)) ||
      (rc = query_figures_days(q, "contact", o.from, o.to, contact_row, &o,
                               &err)) ||
      (rc = query_figures_days(q, "refusal", o.from, o.to, refusal_row, &o,
                               &err)) ||
      (rc = query_figures_days(q, "collector", o.from, o.to, collector_row, &o,
                               &err)) ||
      (rc = query_figures_queues(q, queue_row, &o, &err)) ||
      (rc = rolls_json(svc, o.today, &rolls, &err))) {
    json_decref(o.by_state);
    json_decref(o.contacts);
    json_decref(o.refusals);
    json_decref(o.queues);
    json_decref(o.collectors);
    json_decref(o.currencies);
    for (int b = 0; b < FIG_BUCKETS; b++) json_decref(o.dpd_by[b]);
    for (int k = 0; k < WINDOW_DAYS; k++) json_decref(o.recovered_by[k]);
    fail(svc, req, route, &err);
    return;
  }
  currencies_in_order(o.currencies);
  by_dpd = json_array();
  for (int b = 0; b < FIG_BUCKETS; b++)
    json_array_append_new(
        by_dpd, json_pack("{s:s, s:I, s:I, s:o}", "bucket",
                          figures_bucket_names[b], "cases",
                          (json_int_t)o.dpd_cases[b], "balance",
                          (json_int_t)o.dpd_balance[b], "by_currency",
                          o.dpd_by[b]));
  recovered = json_array();
  for (int k = 0; k < WINDOW_DAYS; k++) {
    day_string(o.today - (WINDOW_DAYS - 1) + k, day, sizeof day);
    json_array_append_new(
        recovered,
        json_pack("{s:s, s:I, s:I, s:o}", "day", day, "payments",
                  (json_int_t)o.payments[k], "reduced",
                  (json_int_t)o.reduced[k], "by_currency", o.recovered_by[k]));
  }
  for (size_t i = 0; i < json_array_size(o.refusals); i++) {
    json_t *e = json_array_get(o.refusals, i);
    if (!json_object_get(e, "deferred"))
      json_object_set_new(e, "deferred", json_integer(0));
    if (!json_object_get(e, "blocked"))
      json_object_set_new(e, "blocked", json_integer(0));
  }
  clock_zone_format(clock_zone(clk), now, as_of, sizeof as_of);
  {
    double rate = figures_rate(o.kept, o.kept + o.broken);
    out = json_pack(
        "{s:s, s:s, s:o, s:{s:s, s:s}, s:o, s:o, s:o, s:{s:I, s:I, s:I, "
        "s:o}, s:o, s:o, s:o, s:o, s:o, s:I}",
        "as_of", as_of, "currency", o.currency, "currencies", o.currencies,
        "period", "from", o.from, "to", o.to, "by_state", o.by_state,
        "by_dpd", by_dpd,
        "recovered", recovered, "promises", "kept", (json_int_t)o.kept,
        "broken", (json_int_t)o.broken, "open", (json_int_t)o.open, "kept_rate",
        rate < 0 ? json_null() : json_real(rate), "roll_rates", rolls,
        "contacts", o.contacts, "refusals", o.refusals, "queues", o.queues,
        "collectors", collectors_json(o.collectors), "errors",
        (json_int_t)o.errors);
  }
  json_decref(o.collectors);
  api_reply(svc, req, route, 200, out, NULL);
}

/* --- workflows (Strategy) --------------------------------------------------
 */

/* A date parameter: absent gives def; anything but a calendar date is
 * 422 naming it. */
static int date_param(const http_request *req, const char *name, int64_t def,
                      int64_t *days, rc_error *err) {
  char buf[32];
  rc_date d;
  int rc = http_query(req, name, buf, sizeof buf);
  if (rc == 0) {
    *days = def;
    return RC_OK;
  }
  if (rc < 0 || clock_parse_date(buf, &d) != RC_OK)
    return rc_error_set(err, RC_EINVAL, name,
                        "%s must be a date such as 2026-01-31", name);
  *days = clock_date_to_days(d);
  return RC_OK;
}

typedef struct strategy {
  const char *currency; /* the institution's */
  json_t *workflows;    /* engine_workflows, counts added */
  json_t *counts;       /* {workflow: {state: cases}} */
  json_t *flows;        /* {workflow: [{from, to, count}]} taken */
  json_t *arms;         /* {workflow: {experiment: [arm...]}} */
} strategy;

static json_t *member(json_t *obj, const char *key, json_t *(*make)(void)) {
  json_t *v = json_object_get(obj, key);
  if (!v) {
    v = make();
    json_object_set_new(obj, key, v);
  }
  return v;
}

static int strategy_state(void *ud, const store_value *c, int n) {
  strategy *s = ud;
  json_t *w = member(s->counts, text(&c[0]), json_object);
  json_t *had = json_object_get(w, text(&c[1]));
  (void)n;
  json_object_set_new(
      w, text(&c[1]),
      json_integer((had ? json_integer_value(had) : 0) + c[2].i));
  return 0;
}

static int strategy_flow(void *ud, const store_value *c, int n) {
  strategy *s = ud;
  json_t *list = member(s->flows, text(&c[1]), json_array);
  size_t i;
  json_t *e;
  (void)n;
  json_array_foreach(list, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, "from")), text(&c[2])) &&
        !strcmp(json_string_value(json_object_get(e, "to")), text(&c[3]))) {
      add(e, "count", c[4].i);
      return 0;
    }
  }
  json_array_append_new(
      list, json_pack("{s:s, s:s, s:I}", "from", text(&c[2]), "to", text(&c[3]),
                      "count", (json_int_t)c[4].i));
  return 0;
}

/* Rows: workflow, experiment, arm, cases, recovered, closed_paid,
 * currency; an arm a row each currency it recovered money in, in the
 * order of their codes (recovered and currency NULL when none). An
 * arm's money is kept each currency apart, as the Overview's: its plain
 * `recovered` is the institution's currency's (a sum of yuan and tenge
 * is neither), its by_currency lists each, the institution's first and
 * always there. Cases and cases closed paid are counts: they add. */
static int strategy_arm(void *ud, const store_value *c, int n) {
  strategy *s = ud;
  json_t *w = member(s->arms, text(&c[0]), json_object);
  json_t *arms = member(w, text(&c[1]), json_array);
  size_t last = json_array_size(arms);
  json_t *arm = last ? json_array_get(arms, last - 1) : NULL, *by;
  const char *cur;
  (void)n;
  if (!arm ||
      strcmp(json_string_value(json_object_get(arm, "arm")), text(&c[2]))) {
    arm = json_pack("{s:s, s:I, s:I, s:I, s:[{s:s, s:I}]}", "arm", text(&c[2]),
                    "cases", (json_int_t)c[3].i, "recovered", (json_int_t)0,
                    "closed_paid", (json_int_t)c[5].i, "by_currency",
                    "currency", s->currency, "recovered", (json_int_t)0);
    json_array_append_new(arms, arm);
  }
  if (c[6].type != STORE_TEXT || c[4].type != STORE_INT) return 0;
  /* '' was written by another program: the institution's */
  cur = c[6].s[0] ? c[6].s : s->currency;
  by = json_object_get(arm, "by_currency");
  if (!strcmp(cur, s->currency)) {
    add(arm, "recovered", c[4].i);
    add(json_array_get(by, 0), "recovered", c[4].i);
  } else {
    json_array_append_new(by, json_pack("{s:s, s:I}", "currency", cur,
                                        "recovered", (json_int_t)c[4].i));
  }
  return 0;
}

/* Declared states with their live counts, then any state cases are in
 * that this version does not declare (an older version's). */
static void strategy_states(json_t *wf, json_t *counts) {
  json_t *states = json_object_get(wf, "states"), *st;
  const char *name;
  size_t i;
  json_t *left = json_deep_copy(counts ? counts : json_object());
  json_array_foreach(states, i, st) {
    const char *s = json_string_value(json_object_get(st, "name"));
    json_t *n = json_object_get(left, s);
    json_object_set_new(st, "cases",
                        json_integer(n ? json_integer_value(n) : 0));
    json_object_set_new(st, "declared", json_true());
    json_object_del(left, s);
  }
  json_object_foreach(left, name, st) {
    json_array_append_new(
        states, json_pack("{s:s, s:I, s:i, s:b, s:b}", "name", name, "cases",
                          (json_int_t)json_integer_value(st), "priority", 0,
                          "final", 0, "declared", 0));
  }
  json_decref(left);
}

/* Declared transitions with how many cases took each in the period, then
 * those taken that this version does not declare. */
static void strategy_transitions(json_t *wf, json_t *flows) {
  json_t *list = json_object_get(wf, "transitions"), *t, *f;
  size_t i, j;
  json_array_foreach(list, i, t) {
    json_int_t count = 0;
    json_array_foreach(flows, j, f) {
      if (!strcmp(json_string_value(json_object_get(f, "from")),
                  json_string_value(json_object_get(t, "from"))) &&
          !strcmp(json_string_value(json_object_get(f, "to")),
                  json_string_value(json_object_get(t, "to")))) {
        count = json_integer_value(json_object_get(f, "count"));
        json_object_set_new(f, "matched", json_true());
      }
    }
    json_object_set_new(t, "count", json_integer(count));
    json_object_set_new(t, "declared", json_true());
  }
  json_array_foreach(flows, j, f) {
    if (json_object_get(f, "matched")) continue;
    json_array_append_new(
        list,
        json_pack("{s:O, s:O, s:O, s:b}", "from", json_object_get(f, "from"),
                  "to", json_object_get(f, "to"), "count",
                  json_object_get(f, "count"), "declared", 0));
  }
}

void api_figures_workflows(service *svc, http_request *req, int route,
                           const char *arg, const principal *who) {
  rc_clock *clk = engine_clock(svc->eng);
  query *q = engine_query(svc->eng);
  rc_date today = clock_zone_date(clock_zone(clk), clock_now(clk));
  int64_t to = 0, from = 0, t = clock_date_to_days(today);
  char from_s[16], to_s[16];
  strategy s;
  rc_error err;
  size_t i;
  json_t *wf;
  int rc;
  (void)arg;
  (void)who;
  rc_error_clear(&err);
  if (date_param(req, "to", t, &to, &err) != RC_OK ||
      date_param(req, "from", to - (WINDOW_DAYS - 1), &from, &err) != RC_OK) {
    fail(svc, req, route, &err);
    return;
  }
  if (from > to) {
    api_error(svc, req, route, 422, "invalid", "from",
              "from must be on or before to");
    return;
  }
  day_string(from, from_s, sizeof from_s);
  day_string(to, to_s, sizeof to_s);
  s.currency = script_config(engine_script(svc->eng))->currency;
  s.counts = json_object();
  s.flows = json_object();
  s.arms = json_object();
  if ((rc = query_figures_states(q, strategy_state, &s, &err)) ||
      (rc = query_figures_days(q, "transition", from_s, to_s, strategy_flow, &s,
                               &err)) ||
      (rc = query_figures_arms(q, strategy_arm, &s, &err))) {
    json_decref(s.counts);
    json_decref(s.flows);
    json_decref(s.arms);
    fail(svc, req, route, &err);
    return;
  }
  s.workflows = engine_workflows(svc->eng);
  json_array_foreach(s.workflows, i, wf) {
    const char *name = json_string_value(json_object_get(wf, "name"));
    json_t *arms = json_object_get(s.arms, name), *experiments = json_array();
    const char *experiment;
    json_t *list;
    strategy_states(wf, json_object_get(s.counts, name));
    strategy_transitions(wf, member(s.flows, name, json_array));
    json_object_foreach(arms, experiment, list) {
      json_array_append_new(experiments, json_pack("{s:s, s:O}", "name",
                                                   experiment, "arms", list));
    }
    json_object_set_new(wf, "experiments", experiments);
  }
  json_decref(s.counts);
  json_decref(s.flows);
  json_decref(s.arms);
  api_reply(svc, req, route, 200,
            json_pack("{s:{s:s, s:s}, s:o}", "period", "from", from_s, "to",
                      to_s, "workflows", s.workflows),
            NULL);
}

/* --- outbox ------------------------------------------------------------------
 */

static const char *const outbox_statuses[] = {"queued", "deferred", "blocked",
                                              "failed"};
enum { OUTBOX_STATUSES = 4, OUTBOX_MAX = 1000, OUTBOX_DEFAULT = 100 };

typedef struct outbox_page {
  service *svc;
  json_t *items;
  int64_t last;
} outbox_page;

static int outbox_row(void *ud, const store_value *c, int n) {
  outbox_page *p = ud;
  json_t *row = json_object();
  for (int i = 0; i < n; i++) {
    const store_value *v = &c[i];
    json_t *j;
    if (!strcmp(v->name, "at") || !strcmp(v->name, "until"))
      j = time_json(p->svc, v);
    else if (v->type == STORE_INT)
      j = json_integer(v->i);
    else if (v->type == STORE_TEXT)
      j = json_string(v->s);
    else
      j = json_null();
    json_object_set_new(row, v->name, j ? j : json_null());
    if (!strcmp(v->name, "id")) p->last = v->i;
  }
  json_array_append_new(p->items, row);
  return 0;
}

/* A whole number from 1 to max, or 422 naming the parameter. */
static int count_param(const http_request *req, const char *name, int64_t max,
                       int64_t def, int64_t *out, rc_error *err) {
  char buf[32];
  int64_t v = 0;
  int rc = http_query(req, name, buf, sizeof buf);
  if (rc == 0) {
    *out = def;
    return RC_OK;
  }
  if (rc > 0 && buf[0]) {
    const char *s = buf;
    for (; *s >= '0' && *s <= '9' && v <= (INT64_MAX - 9) / 10; s++)
      v = v * 10 + (*s - '0');
    if (!*s && v >= 1 && v <= max) {
      *out = v;
      return RC_OK;
    }
  }
  return rc_error_set(err, RC_EINVAL, name,
                      "%s must be a whole number from 1 to %lld", name,
                      (long long)max);
}

void api_figures_outbox(service *svc, http_request *req, int route,
                        const char *arg, const principal *who) {
  query *q = engine_query(svc->eng);
  const char *statuses[OUTBOX_STATUSES];
  int nstatuses = 0, rc;
  char status[16], channel[64];
  int64_t limit, after, resume = 0, counts[OUTBOX_STATUSES];
  int hs, hc;
  outbox_page p = {svc, NULL, 0};
  rc_error err;
  (void)arg;
  (void)who;
  rc_error_clear(&err);
  hs = http_query(req, "status", status, sizeof status);
  hc = http_query(req, "channel", channel, sizeof channel);
  if (hs > 0)
    for (int k = 0; k < OUTBOX_STATUSES; k++)
      if (!strcmp(status, outbox_statuses[k]))
        statuses[nstatuses++] = outbox_statuses[k];
  if (hs < 0 || (hs > 0 && nstatuses == 0)) {
    api_error(svc, req, route, 422, "invalid", "status",
              "status must be queued, deferred, blocked or failed");
    return;
  }
  if (hc < 0 || (hc > 0 && !channel[0])) {
    api_error(svc, req, route, 422, "invalid", "channel",
              "channel must be a channel's name, at most 63 bytes");
    return;
  }
  if (count_param(req, "limit", OUTBOX_MAX, OUTBOX_DEFAULT, &limit, &err) ||
      count_param(req, "after", INT64_MAX, 0, &after, &err)) {
    fail(svc, req, route, &err);
    return;
  }
  if (hs == 0)
    for (int k = 0; k < OUTBOX_STATUSES; k++)
      statuses[nstatuses++] = outbox_statuses[k];
  /* Paged by message id, as the journal is by row id (api.c r_journal):
   * only what is on the disk is answered. */
  if (engine_sync(svc->eng, &err) != RC_OK) {
    fail(svc, req, route, &err);
    return;
  }
  p.items = json_array();
  rc = query_outbox_page(q, statuses, nstatuses, hc > 0 ? channel : NULL, after,
                         (int)limit, &resume, outbox_row, &p, &err);
  for (int k = 0; k < OUTBOX_STATUSES && rc == RC_OK; k++)
    rc = query_messages_count(q, outbox_statuses[k], &counts[k], &err);
  if (rc != RC_OK) {
    json_decref(p.items);
    fail(svc, req, route, &err);
    return;
  }
  api_reply(
      svc, req, route, 200,
      json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I}}", "items", p.items, "next",
                resume ? json_integer(resume)
                : (int64_t)json_array_size(p.items) == limit
                    ? json_integer(p.last)
                    : json_null(),
                "counts", "queued", (json_int_t)counts[0], "deferred",
                (json_int_t)counts[1], "blocked", (json_int_t)counts[2],
                "failed", (json_int_t)counts[3]),
      NULL);
}

/* --- users -------------------------------------------------------------------
 */

static json_t *display_json(const store_value *c, int n) {
  return n > 5 && c[5].type == STORE_TEXT ? json_string(c[5].s) : json_null();
}

/* name, role, queues (JSON), disabled, created_at, display_name: never
 * the hash, which the read side does not even have. */
static int user_row(void *ud, const store_value *c, int n) {
  json_t *items = ud, *queues = NULL;
  if (c[2].type == STORE_TEXT) queues = json_loads(c[2].s, 0, NULL);
  json_array_append_new(
      items, json_pack("{s:s, s:o, s:s, s:o, s:b}", "name", text(&c[0]),
                       "display_name", display_json(c, n), "role", text(&c[1]),
                       "queues", queues ? queues : json_array(), "disabled",
                       (int)c[3].i));
  return 0;
}

/* Who is who, for every reader: a login and the name people read, so
 * that an assignee or a journal's "by" shows 张敏 where it keeps
 * zhang.min. Roles, queues and who is disabled stay the supervisor's
 * (/v1/users). */
static int person_row(void *ud, const store_value *c, int n) {
  json_array_append_new(ud, json_pack("{s:s, s:o}", "name", text(&c[0]),
                                      "display_name", display_json(c, n)));
  return 0;
}

/* {"items": [...]}: every user by name, each as row makes it. */
static void users_reply(service *svc, http_request *req, int route,
                        store_row_fn row) {
  json_t *items = json_array();
  rc_error err;
  if (query_users(engine_query(svc->eng), row, items, &err) != RC_OK) {
    json_decref(items);
    fail(svc, req, route, &err);
    return;
  }
  api_reply(svc, req, route, 200, json_pack("{s:o}", "items", items), NULL);
}

void api_figures_people(service *svc, http_request *req, int route,
                        const char *arg, const principal *who) {
  (void)arg;
  (void)who;
  users_reply(svc, req, route, person_row);
}

void api_figures_users(service *svc, http_request *req, int route,
                       const char *arg, const principal *who) {
  (void)arg;
  (void)who;
  users_reply(svc, req, route, user_row);
}
