/* `recoup report`: what a collections manager reads on Monday morning. */
#include <stdlib.h>
#include <string.h>

#include "report.h"
#include "template.h"
#include "textwidth.h"

/* The report's tables by name, each an array of row objects. */
static const char *const tables[] = {"states",       "dpd",      "promises",
                                     "installments", "contacts", "refusals",
                                     "variants",     "money"};
enum { NTABLES = sizeof tables / sizeof tables[0] };

static int collect(void *ud, const char *table, const store_value *cols,
                   int n) {
  json_t **arrays = ud, *row = json_object();
  int t = 0;
  while (t < NTABLES - 1 && strcmp(tables[t], table) != 0) t++;
  for (int i = 0; i < n; i++) {
    const store_value *v = &cols[i];
    json_object_set_new(row, v->name,
                        v->type == STORE_INT    ? json_integer(v->i)
                        : v->type == STORE_TEXT ? json_string(v->s)
                        : v->type == STORE_REAL ? json_real(v->r)
                                                : json_null());
  }
  json_array_append_new(arrays[t], row);
  return 0;
}

static json_int_t sum_where(const json_t *rows, const char *field,
                            const char *key, const char *value) {
  size_t i;
  json_t *row;
  json_int_t total = 0;
  json_array_foreach(rows, i, row) {
    const char *k = key ? json_string_value(json_object_get(row, key)) : NULL;
    if (!key || (k && strcmp(k, value) == 0))
      total += json_integer_value(json_object_get(row, field));
  }
  return total;
}

static json_t *rate(json_int_t good, json_int_t all) {
  return all > 0 ? json_real((double)good / (double)all) : json_null();
}

/* --- a month's work: the figures the console's Overview reads ---------- */

typedef struct month_sums {
  const char *currency; /* the institution's: figures kept before */
  json_t *recovered;    /* [{currency, recovered}] */
  json_t *collectors;   /* [{user, tasks_done, promises, promised,
                           collected, by_currency}] */
} month_sums;

static void month_add(json_t *e, const char *field, json_int_t v) {
  json_object_set_new(
      e, field,
      json_integer(json_integer_value(json_object_get(e, field)) + v));
}

/* The entry of list for currency, added (fields zero) when new. Figures
 * written before they were keyed by currency say '' and were summed as
 * the institution's. */
static json_t *currency_entry(json_t *list, const store_value *v,
                              const char *fallback, const char *f1,
                              const char *f2) {
  const char *cur = v->type == STORE_TEXT && v->s && v->s[0] ? v->s : fallback;
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, "currency")), cur))
      return e;
  }
  e = json_pack("{s:s, s:I}", "currency", cur, f1, (json_int_t)0);
  if (f2) json_object_set_new(e, f2, json_integer(0));
  json_array_append_new(list, e);
  return e;
}

/* Rows: day, currency, -, -, count, amount. */
static int month_payment(void *ud, const store_value *c, int n) {
  month_sums *m = ud;
  if (n > 5 && c[5].type == STORE_INT)
    month_add(
        currency_entry(m->recovered, &c[1], m->currency, "recovered", NULL),
        "recovered", c[5].i);
  return 0;
}

/* Rows: day, user, what (tasks_done, promises, collected), currency,
 * count, amount (store_figures_days' "collector"). */
static int month_collector(void *ud, const store_value *c, int n) {
  month_sums *m = ud;
  const char *user, *what;
  json_t *e = NULL, *x;
  size_t i;
  if (n < 6 || c[1].type != STORE_TEXT || c[2].type != STORE_TEXT) return 0;
  user = c[1].s, what = c[2].s;
  json_array_foreach(m->collectors, i, x) {
    if (!strcmp(json_string_value(json_object_get(x, "user")), user)) e = x;
  }
  if (!e) {
    e = json_pack("{s:s, s:I, s:I, s:I, s:I, s:[]}", "user", user, "tasks_done",
                  (json_int_t)0, "promises", (json_int_t)0, "promised",
                  (json_int_t)0, "collected", (json_int_t)0, "by_currency");
    json_array_append_new(m->collectors, e);
  }
  if (!strcmp(what, "tasks_done")) month_add(e, "tasks_done", c[4].i);
  if (!strcmp(what, "promises")) {
    month_add(e, "promises", c[4].i);
    month_add(currency_entry(json_object_get(e, "by_currency"), &c[3],
                             m->currency, "promised", "collected"),
              "promised", c[5].i);
  }
  if (!strcmp(what, "collected"))
    month_add(currency_entry(json_object_get(e, "by_currency"), &c[3],
                             m->currency, "promised", "collected"),
              "collected", c[5].i);
  return 0;
}

/* The amount of field in list's entry for currency; 0 when none. */
static json_int_t in_currency(const json_t *list, const char *currency,
                              const char *field) {
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, "currency")), currency))
      return json_integer_value(json_object_get(e, field));
  }
  return 0;
}

static const char *entry_code(const void *p) {
  return json_string_value(json_object_get(*(json_t *const *)p, "currency"));
}

static int code_order(const void *a, const void *b) {
  return strcmp(entry_code(a), entry_code(b));
}

/* The institution's currency first, then the others by code: the order
 * the Overview and simulate give them (api_figures.c,
 * currencies_in_order), so that a book's currencies read in one order
 * wherever a supervisor reads them. Alphabetical, a yuan book's report
 * led with its Australian dollars. */
static void entries_in_order(json_t *list, const char *first) {
  size_t n = json_array_size(list), k = 0;
  json_t **v = n > 1 ? calloc(n, sizeof *v) : NULL;
  if (!v) return; /* one entry, or out of memory: left as read */
  for (size_t i = 0; i < n; i++) v[i] = json_incref(json_array_get(list, i));
  qsort(v, n, sizeof *v, code_order);
  while (k < n && strcmp(entry_code(&v[k]), first)) k++;
  if (k < n) {
    json_t *e = v[k];
    memmove(v + 1, v, k * sizeof *v);
    v[0] = e;
  }
  for (size_t i = 0; i < n; i++) json_array_set_new(list, i, v[i]);
  free(v);
}

static int by_user(const void *a, const void *b) {
  return strcmp(
      json_string_value(json_object_get(*(json_t *const *)a, "user")),
      json_string_value(json_object_get(*(json_t *const *)b, "user")));
}

/* One calendar month (from its first day to `to`): money recovered by
 * payments, and each collector's tasks done, promises taken and money
 * collected on them — read from the day figures kept as the book
 * changes, so a month-end report costs a few hundred rows at any size. */
static json_t *month_json(engine *eng, rc_date first, const char *to,
                          rc_error *err) {
  month_sums m = {script_config(engine_script(eng))->currency, json_array(),
                  json_array()};
  char from[16];
  json_t *sorted, **v;
  size_t n, i;
  clock_date_format(&first, from, sizeof from);
  if (query_figures_days(engine_query(eng), "payment", from, to, month_payment,
                         &m, err) != RC_OK ||
      query_figures_days(engine_query(eng), "collector", from, to,
                         month_collector, &m, err) != RC_OK) {
    json_decref(m.collectors);
    json_decref(m.recovered);
    return NULL;
  }
  n = json_array_size(m.collectors);
  sorted = json_array();
  if ((v = malloc((n ? n : 1) * sizeof *v))) {
    for (i = 0; i < n; i++) v[i] = json_array_get(m.collectors, i);
    qsort(v, n, sizeof *v, by_user);
    for (i = 0; i < n; i++) {
      /* Named as the console names them (张敏): the login alone is
       * what a supervisor who knows the team by name cannot read. A
       * user since removed, or a read that fails, keeps the login. */
      store_user u = {0};
      rc_error ignored;
      const char *login = json_string_value(json_object_get(v[i], "user"));
      int found = query_user(engine_query(eng), login, &u, &ignored) == RC_OK;
      json_object_set_new(v[i], "display_name",
                          found && u.display_name[0]
                              ? json_string(u.display_name)
                              : json_null());
      store_user_free(&u);
      /* the scalars in the institution's currency, as the report's */
      json_t *by = json_object_get(v[i], "by_currency");
      entries_in_order(by, m.currency);
      json_object_set_new(
          v[i], "promised",
          json_integer(in_currency(by, m.currency, "promised")));
      json_object_set_new(
          v[i], "collected",
          json_integer(in_currency(by, m.currency, "collected")));
      json_array_append(sorted, v[i]);
    }
    free(v);
  }
  json_decref(m.collectors);
  entries_in_order(m.recovered, m.currency);
  return json_pack("{s:s, s:s, s:I, s:o, s:o}", "from", from, "to", to,
                   "recovered",
                   in_currency(m.recovered, m.currency, "recovered"),
                   "by_currency", m.recovered, "collectors", sorted);
}

/* Money by currency: open cases and their balance (from the dpd rows),
 * what payments recovered, what was overpaid and what imports reduced
 * (from the money rows), the institution's currency first. */
static json_t *by_currency(const json_t *dpd, const json_t *money,
                           const char *first) {
  json_t *list = json_array(), *row, *e;
  size_t i;
  json_array_foreach(money, i, row) {
    json_int_t paid = json_integer_value(json_object_get(row, "paid")),
               over = json_integer_value(json_object_get(row, "overpaid"));
    json_array_append_new(
        list, json_pack("{s:O, s:I, s:I, s:I, s:I, s:I}", "currency",
                        json_object_get(row, "currency"), "open", (json_int_t)0,
                        "balance", (json_int_t)0, "recovered", paid - over,
                        "overpaid", over, "reduced_by_import",
                        json_integer_value(json_object_get(row, "reduced"))));
  }
  json_array_foreach(dpd, i, row) {
    store_value cur = {
        .type = STORE_TEXT,
        .s = json_string_value(json_object_get(row, "currency"))};
    if (!cur.s) continue;
    e = currency_entry(list, &cur, cur.s, "open", "balance");
    month_add(e, "open", json_integer_value(json_object_get(row, "cases")));
    month_add(e, "balance",
              json_integer_value(json_object_get(row, "balance")));
  }
  entries_in_order(list, first);
  return list;
}

int report_build(engine *eng, json_t **report, rc_error *err) {
  rc_clock *clk = engine_clock(eng);
  json_t *arrays[NTABLES], *out;
  json_t *states, *dpd, *promises, *installments, *contacts, *refusals,
      *variants, *money;
  const char *cur = script_config(engine_script(eng))->currency;
  rc_date today = clock_zone_date(clock_zone(clk), clock_now(clk));
  char day[16];
  query_totals totals;
  json_int_t kept, broken, on_time, late, missed;
  int rc;

  *report = NULL;
  for (int t = 0; t < NTABLES; t++) arrays[t] = json_array();
  clock_date_format(&today, day, sizeof day);
  /* A figure that cannot be read fails the report: a zero would read as
   * "nothing recovered". */
  rc = query_report(engine_query(eng), day, collect, arrays, &totals, err);
  if (rc != RC_OK) {
    for (int t = 0; t < NTABLES; t++) json_decref(arrays[t]);
    return rc;
  }
  states = arrays[0];
  dpd = arrays[1];
  promises = arrays[2];
  installments = arrays[3];
  contacts = arrays[4];
  refusals = arrays[5];
  variants = arrays[6];
  money = by_currency(dpd, arrays[7], cur);
  json_decref(arrays[7]);
  kept = sum_where(promises, "promises", "status", "kept");
  broken = sum_where(promises, "promises", "status", "broken");
  on_time = sum_where(installments, "installments", "status", "paid");
  late = sum_where(installments, "installments", "status", "paid_late");
  missed = sum_where(installments, "installments", "status", "missed");
  out = json_pack(
      "{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:{s:o, s:I, s:I, s:o},"
      " s:{s:o, s:o}, s:o, s:o, s:o, s:I, s:I, s:I}",
      "as_of", day, "currency", cur, "cases",
      sum_where(states, "cases", NULL, NULL), "open",
      sum_where(states, "cases", NULL, NULL) -
          sum_where(states, "closed", NULL, NULL),
      "closed", sum_where(states, "closed", NULL, NULL), "errors",
      sum_where(states, "errors", NULL, NULL), "states", states, "dpd", dpd,
      /* what reduced balances; the rest is refunded. Amounts of cases
       * in other currencies are in by_currency only: a sum of yen and
       * yuan is neither. */
      "recovered", in_currency(money, cur, "recovered"), "promises",
      "by_status", promises, "kept", kept, "broken", broken, "kept_rate",
      rate(kept, kept + broken), "installments", "by_status", installments,
      "on_time_rate", rate(on_time, on_time + late + missed), "contacts",
      contacts, "refusals", refusals, "variants", variants, "timers_pending",
      (json_int_t)totals.timers_pending, "events_pending",
      (json_int_t)totals.events_pending, "overpaid",
      in_currency(money, cur, "overpaid"));
  if (out) {
    json_object_set_new(
        out, "reduced_by_import",
        json_integer(in_currency(money, cur, "reduced_by_import")));
    json_object_set_new(out, "by_currency", money);
  } else {
    json_decref(money);
  }
  if (!out) return rc_error_set(err, RC_ENOMEM, NULL, "report: out of memory");
  {
    /* This month so far, and the last one whole: what a supervisor
     * reads at the month's end (or on the first of the next). */
    rc_date first = {today.year, today.month, 1}, prev_first, prev_last;
    char prev_to[16];
    json_t *month, *prev;
    prev_last = clock_date_from_days(clock_date_to_days(first) - 1);
    prev_first = (rc_date){prev_last.year, prev_last.month, 1};
    clock_date_format(&prev_last, prev_to, sizeof prev_to);
    if (!(month = month_json(eng, first, day, err)) ||
        !(prev = month_json(eng, prev_first, prev_to, err))) {
      json_decref(month);
      json_decref(out);
      return err->code ? err->code : RC_ESTORE;
    }
    json_object_set_new(out, "month", month);
    json_object_set_new(out, "previous_month", prev);
  }
  *report = out;
  return RC_OK;
}

/* A text of the book or the scripts as every CLI line shows it
 * (rc_printable_line): a state, a channel or a reason holding an escape
 * sequence or a bidi override reached the terminal as it was. A line
 * quotes at most three: each call fills the next of four buffers. */
static const char *str(const json_t *row, const char *key) {
  static char shown[4][256];
  static int next;
  const char *s = json_string_value(json_object_get(row, key));
  char *b = shown[next++ % 4];
  rc_printable_line(b, sizeof shown[0], s ? s : "-");
  return b;
}

static long long num(const json_t *row, const char *key) {
  return (long long)json_integer_value(json_object_get(row, key));
}

/* s in a column of w terminal columns (text_pad: negative w left-aligns):
 * printf's widths count bytes, three for each Chinese character, and ¥
 * two. A line holds at most eight. */
static const char *col(const char *s, int w) {
  static char shown[8][512];
  static int next;
  return text_pad(shown[next++ % 8], sizeof shown[0], s, w);
}

/* An amount for the table in the institution's locale, in the row's
 * currency (the institution's when the row names none). */
static const char *money_text(const institution_config *cfg, const json_t *row,
                              long long minor, char *buf, size_t size) {
  const char *cur = json_string_value(json_object_get(row, "currency"));
  template_format_money(cfg->locale, cur ? cur : cfg->currency, minor, buf,
                        size);
  return buf;
}

/* A line of label and amount for each currency of list that holds one
 * (field non-zero), the institution's always: a book in yen and yuan
 * shows two, never their sum. */
static void money_lines(FILE *out, const institution_config *cfg,
                        const char *label, const json_t *list,
                        const char *field, int always) {
  char money[64];
  size_t i;
  const json_t *e;
  int shown = 0;
  json_array_foreach(list, i, e) {
    long long v = (long long)json_integer_value(json_object_get(e, field));
    const char *cur = json_string_value(json_object_get(e, "currency"));
    if (!v && !(always && cur && !strcmp(cur, cfg->currency))) continue;
    fprintf(out, "%-29s %s\n", label,
            col(money_text(cfg, e, v, money, sizeof money), 22));
    shown = 1;
  }
  if (!shown && always)
    fprintf(out, "%-29s %s\n", label,
            col(money_text(cfg, NULL, 0, money, sizeof money), 22));
}

void report_print(engine *eng, const json_t *r, FILE *out) {
  const institution_config *cfg = script_config(engine_script(eng));
  char money[64], name[400];
  size_t i;
  json_t *row;
  const json_t *v;

#define MONEY(x) money_text(cfg, row, (x), money, sizeof money)
#define COL(s, w) col((s), (w))

  rc_printable_line(name, sizeof name, cfg->name);
  fprintf(out, "%s — report as of %s\n\n", name, str(r, "as_of"));
  fprintf(out, "%-14s %-16s %8s %22s %7s\n", "workflow", "state", "cases",
          "balance", "errors");
  json_array_foreach(json_object_get(r, "states"), i, row)
      fprintf(out, "%s %s %8lld %s %7lld\n", COL(str(row, "workflow"), -14),
              COL(str(row, "state"), -16), num(row, "cases"),
              COL(MONEY(num(row, "balance")), 22), num(row, "errors"));
  fprintf(out, "%-31s %8lld (%lld open, %lld closed, %lld in error)\n\n",
          "total", num(r, "cases"), num(r, "open"), num(r, "closed"),
          num(r, "errors"));

  fprintf(out, "%-20s %8s %22s\n", "days past due", "cases", "balance");
  json_array_foreach(json_object_get(r, "dpd"), i, row)
      fprintf(out, "%s %8lld %s\n", COL(str(row, "bucket"), -20),
              num(row, "cases"), COL(MONEY(num(row, "balance")), 22));
  fputc('\n', out);
  v = json_object_get(r, "by_currency");
  money_lines(out, cfg, "recovered by payments", v, "recovered", 1);
  money_lines(out, cfg, "balance reduced by import", v, "reduced_by_import", 1);
  money_lines(out, cfg, "overpaid, to refund", v, "overpaid", 0);

  v = json_object_get(r, "promises");
  fprintf(out, "%-29s %lld kept, %lld broken", "promises to pay",
          num(v, "kept"), num(v, "broken"));
  if (json_is_real(json_object_get(v, "kept_rate")))
    fprintf(out, " (kept rate %.1f%%)",
            100 * json_real_value(json_object_get(v, "kept_rate")));
  fputc('\n', out);
  v = json_object_get(r, "installments");
  fprintf(out, "%-29s", "installments");
  if (json_array_size(json_object_get(v, "by_status")) == 0)
    fputs(" none", out);
  /* rows by status, a row a currency: each status once, its counts
   * added */
  json_array_foreach(json_object_get(v, "by_status"), i, row) {
    const json_t *rows = json_object_get(v, "by_status");
    const char *status = json_string_value(json_object_get(row, "status"));
    if (i && json_equal(json_object_get(json_array_get(rows, i - 1), "status"),
                        json_object_get(row, "status")))
      continue;
    fprintf(out, " %lld %s",
            (long long)sum_where(rows, "installments", "status",
                                 status ? status : ""),
            str(row, "status"));
  }
  if (json_is_real(json_object_get(v, "on_time_rate")))
    fprintf(out, " (on time %.1f%%)",
            100 * json_real_value(json_object_get(v, "on_time_rate")));
  fputs("\n\n", out);

  fprintf(out, "%-8s %-22s %-10s %8s\n", "contact", "channel/kind", "status",
          "count");
  json_array_foreach(json_object_get(r, "contacts"), i, row)
      fprintf(out, "%s %s %s %8lld\n", COL(str(row, "kind"), -8),
              COL(str(row, "channel"), -22), COL(str(row, "status"), -10),
              num(row, "count"));
  if (json_array_size(json_object_get(r, "refusals"))) {
    fprintf(out, "\n%-10s %-32s %8s\n", "refused", "reason", "count");
    json_array_foreach(json_object_get(r, "refusals"), i, row)
        fprintf(out, "%s %s %8lld\n", COL(str(row, "status"), -10),
                COL(str(row, "reason"), -32), num(row, "count"));
  }
  if (json_array_size(json_object_get(r, "variants"))) {
    fprintf(out, "\n%-16s %-8s %8s %8s %22s\n", "experiment", "arm", "cases",
            "paid", "recovered");
    json_array_foreach(json_object_get(r, "variants"), i, row)
        fprintf(out, "%s %s %8lld %8lld %s\n", COL(str(row, "experiment"), -16),
                COL(str(row, "arm"), -8), num(row, "cases"), num(row, "paid"),
                COL(MONEY(num(row, "recovered")), 22));
  }
  for (int k = 0; k < 2; k++) {
    const json_t *m = json_object_get(r, k ? "previous_month" : "month");
    char head[80];
    if (!m) continue;
    snprintf(head, sizeof head, "%s, %s to %s",
             k ? "the month before" : "this month", str(m, "from"),
             str(m, "to"));
    fprintf(out, "\n%s\n", head);
    money_lines(out, cfg, "recovered by payments",
                json_object_get(m, "by_currency"), "recovered", 1);
    if (!json_array_size(json_object_get(m, "collectors"))) {
      fprintf(out, "%-29s none\n", "collectors' tasks done");
      continue;
    }
    fprintf(out, "%-24s %10s %8s %22s %22s\n", "collector", "tasks done",
            "promises", "promised", "collected");
    json_array_foreach(json_object_get(m, "collectors"), i, row) {
      /* a line for each currency the collector's money was in; the
       * counts on the first */
      const json_t *by = json_object_get(row, "by_currency"), *e;
      size_t j, nby = json_array_size(by);
      for (j = 0; j < (nby ? nby : 1); j++) {
        char promised[64], collected[64];
        e = json_array_get(by, j);
        money_text(cfg, e, num(e, "promised"), promised, sizeof promised);
        money_text(cfg, e, num(e, "collected"), collected, sizeof collected);
        if (j == 0) {
          char who[USER_DISPLAY_SIZE + USER_NAME_MAX + 4];
          if (json_is_string(json_object_get(row, "display_name")))
            snprintf(who, sizeof who, "%s (%s)", str(row, "display_name"),
                     str(row, "user"));
          else
            snprintf(who, sizeof who, "%s", str(row, "user"));
          fprintf(out, "%s %10lld %8lld %s %s\n", COL(who, -24),
                  num(row, "tasks_done"), num(row, "promises"),
                  COL(promised, 22), COL(collected, 22));
        }
        else
          fprintf(out, "%-24s %10s %8s %s %s\n", "", "", "", COL(promised, 22),
                  COL(collected, 22));
      }
    }
  }
  fprintf(out, "\n%-29s %lld timers pending, %lld events queued\n", "engine",
          num(r, "timers_pending"), num(r, "events_pending"));
#undef MONEY
#undef COL
}

typedef struct error_page {
  rc_zone *zone;
  json_t *list;
  int64_t last; /* the cursor: the last row's failed event */
} error_page;

/* Text from scripts (an error message) may hold any bytes; JSON holds
 * only UTF-8. */
static json_t *text_json(const char *s) {
  size_t n = strlen(s) + 1;
  char *clean = malloc(n);
  json_t *j;
  if (!clean) return json_null();
  rc_printable(clean, n, s);
  j = json_string(clean);
  free(clean);
  return j ? j : json_null();
}

static int error_row(void *ud, const store_value *cols, int n) {
  error_page *p = ud;
  json_t *row = json_object();
  for (int i = 0; i < n; i++) {
    const store_value *v = &cols[i];
    if (strcmp(v->name, "event_id") == 0) {
      p->last = v->i;
    } else if (strcmp(v->name, "since") == 0) {
      char at[40];
      clock_zone_format(p->zone, v->i, at, sizeof at);
      json_object_set_new(row, v->name, json_string(at));
    } else {
      json_object_set_new(
          row, v->name, v->type == STORE_TEXT ? text_json(v->s) : json_null());
    }
  }
  json_array_append_new(p->list, row);
  return 0;
}

json_t *report_errors(engine *eng, int64_t before, int limit, rc_error *err) {
  error_page p = {clock_zone(engine_clock(eng)), json_array(), 0};
  if (query_error_page(engine_query(eng), before, limit, error_row, &p, err) !=
      RC_OK) {
    json_decref(p.list);
    return NULL;
  }
  return json_pack("{s:o, s:o}", "errors", p.list, "next",
                   (int)json_array_size(p.list) == limit ? json_integer(p.last)
                                                         : json_null());
}
