/* The console's case work: My work (an agent's waiting tasks, due now
 * first, then priority, due and id), claim next, assign, notes, promises,
 * the case's extras (promise, plan, waiting tasks with their declared
 * outcomes) and what the guard allows now; and who sees which case
 * (DESIGN.md "Who sees what", "People and the console").
 *
 * Reads answer at once from committed state; writes are jobs of the group
 * commit like api.c's, so a claim-next reads the queue and claims the top
 * task inside one job: jobs apply one at a time, and two agents never get
 * the same task. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "service.h"

/* A named agent sees the cases it worked for this long after. */
#define SCOPE_DAYS 30
/* My work's areas read each task's case and borrower where its counts
 * read counts kept by day (store schema 38) and one day's index entries:
 * at most this many of a queue's tasks due today
 * (a field officer's day is tens; a shared queue's backlog may be
 * hundreds of thousands), past which they are said to be partial. */
#define AREA_TASKS 1000
#define DAY_MS (24 * 60 * 60 * 1000LL)

/* --- who sees what ------------------------------------------------------ */

/* A console user with the agent role and nothing wider: its queues bound
 * what it sees. Machine tokens (no user), supervisors and admins see all;
 * read sees all, masked. */
static int named_agent(const principal *who) {
  return who->user[0] && (who->roles & ROLE_AGENT) &&
         !(who->roles & (ROLE_SUPERVISOR | ROLE_ADMIN)) && who->queues[0];
}

const char *api_agent_queues(const principal *who) {
  return named_agent(who) ? who->queues : NULL;
}

const store_scope *api_scope(service *svc, const principal *who,
                             store_scope *buf) {
  if (!named_agent(who)) return NULL;
  buf->queues = who->queues;
  buf->user = who->user;
  buf->since = clock_now(engine_clock(svc->eng)) - SCOPE_DAYS * DAY_MS;
  return buf;
}

int api_case_scope(service *svc, const principal *who, const char *case_id,
                   rc_error *err) {
  store_scope buf;
  const store_scope *scope = api_scope(svc, who, &buf);
  int visible = 1, rc;
  if (!scope) return RC_OK;
  rc =
      query_case_visible(engine_query(svc->eng), case_id, scope, &visible, err);
  if (rc != RC_OK) return rc;
  /* The same answer as for a case that does not exist. */
  if (!visible)
    return rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", case_id);
  return RC_OK;
}

int api_task_scope(service *svc, const principal *who, int64_t task_id,
                   rc_error *err) {
  char case_id[160];
  int rc;
  if (!named_agent(who)) return RC_OK;
  rc = query_task_case(engine_query(svc->eng), task_id, case_id, sizeof case_id,
                       err);
  if (rc != RC_OK) return rc;
  rc = api_case_scope(svc, who, case_id, err);
  if (rc == RC_ENOTFOUND)
    return rc_error_set(err, RC_ENOTFOUND, "task", "unknown task %lld",
                        (long long)task_id);
  return rc;
}

/* Whether queue is one of a JSON array's names. */
static int has_queue(const char *queues_json, const char *queue) {
  json_t *list = json_loads(queues_json, 0, NULL), *q;
  size_t i;
  int found = 0;
  json_array_foreach(list, i, q) {
    if (json_is_string(q) && strcmp(json_string_value(q), queue) == 0)
      found = 1;
  }
  json_decref(list);
  return found;
}

/* --- small helpers ------------------------------------------------------ */

static void fail(service *svc, http_request *req, int route,
                 const rc_error *err) {
  api_fail_with(svc, req, route, err);
}

static json_t *time_json(service *svc, rc_time t) {
  char at[40];
  if (!t) return json_null();
  clock_zone_format(clock_zone(engine_clock(svc->eng)), t, at, sizeof at);
  return json_string(at);
}

/* The institution's local date of t, shifted by days: "2026-01-31". */
static void local_date(service *svc, rc_time t, int days, char *buf,
                       size_t size) {
  rc_date d = clock_zone_date(clock_zone(engine_clock(svc->eng)), t);
  d = clock_date_from_days(clock_date_to_days(d) + days);
  clock_date_format(&d, buf, size);
}

/* A priority as it was stored: 10, not 10.0. */
static json_t *priority_json(double p) {
  if (p == floor(p) && fabs(p) < 9e15) return json_integer((json_int_t)p);
  return json_real(p);
}

typedef struct rowlist {
  service *svc;
  json_t *list;
} rowlist;

static int collect(void *ud, const store_value *cols, int n) {
  rowlist *r = ud;
  json_array_append_new(r->list, api_row_json(r->svc, cols, n));
  return 0;
}

/* Task rows as the store gives them keep their due time in ms for the
 * order and the cursor: the row's "due_ms" (0: none) beside the text. */
typedef struct work_row {
  int64_t id;
  double priority;
  rc_time due;
  int part;
  json_t *row; /* owned */
} work_row;

typedef struct work_rows {
  service *svc;
  work_row *items;
  int n, cap, part;
  int failed;
} work_rows;

static int collect_work(void *ud, const store_value *cols, int n) {
  work_rows *w = ud;
  work_row *r;
  if (w->n == w->cap) {
    int cap = w->cap ? w->cap * 2 : 64;
    work_row *items = realloc(w->items, sizeof *items * (size_t)cap);
    if (!items) {
      w->failed = 1;
      return 1;
    }
    w->items = items;
    w->cap = cap;
  }
  r = &w->items[w->n++];
  memset(r, 0, sizeof *r);
  r->part = w->part;
  for (int i = 0; i < n; i++) {
    if (!strcmp(cols[i].name, "id")) r->id = cols[i].i;
    if (!strcmp(cols[i].name, "due") && cols[i].type == STORE_INT)
      r->due = cols[i].i;
    if (!strcmp(cols[i].name, "priority"))
      r->priority = cols[i].type == STORE_REAL ? cols[i].r : (double)cols[i].i;
  }
  r->row = api_row_json(w->svc, cols, n);
  return 0;
}

static void work_rows_free(work_rows *w) {
  for (int i = 0; i < w->n; i++) json_decref(w->items[i].row);
  free(w->items);
  memset(w, 0, sizeof *w);
}

/* My work's order: due now first, then priority (higher first), due, id. */
static int work_order(const void *a, const void *b) {
  const work_row *x = a, *y = b;
  if (x->part != y->part) return x->part < y->part ? -1 : 1;
  if (x->priority != y->priority) return x->priority > y->priority ? -1 : 1;
  if (x->due != y->due) return x->due < y->due ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* The queues a list reads: the one asked for (a named agent's own only),
 * the agent's, or every queue with waiting tasks. A JSON array. */
static int work_queues(service *svc, const principal *who, const char *queue,
                       json_t **out, rc_error *err) {
  *out = NULL;
  if (queue && *queue) {
    if (named_agent(who) && !has_queue(who->queues, queue))
      return rc_error_set(err, RC_EINVAL, "queue",
                          "queue %s is not one of yours", queue);
    *out = json_pack("[s]", queue);
    return RC_OK;
  }
  if (named_agent(who)) {
    *out = json_loads(who->queues, 0, NULL);
    if (!json_is_array(*out)) {
      json_decref(*out);
      *out = json_array();
    }
    return RC_OK;
  }
  {
    rowlist r = {svc, json_array()};
    json_t *row, *names = json_array();
    size_t i;
    int rc = query_work_queues(engine_query(svc->eng), collect, &r, err);
    json_array_foreach(r.list, i, row) {
      json_array_append(names, json_object_get(row, "queue"));
    }
    json_decref(r.list);
    if (rc != RC_OK) {
      json_decref(names);
      return rc;
    }
    *out = names;
    return RC_OK;
  }
}

/* The first `want` waiting tasks of the queues in My work's order after
 * the cursor (NULL: from the start): each queue's own walk of its index,
 * merged. only_open: claimable ones (claim next). */
static int work_top(service *svc, json_t *queues, const char *user,
                    int only_open, const store_work_cursor *after,
                    int after_part, int want, work_rows *w, rc_error *err) {
  rc_time now = clock_now(engine_clock(svc->eng));
  for (int part = after ? after_part : 1; part <= 2; part++) {
    size_t i;
    json_t *q;
    int before = w->n;
    w->part = part;
    json_array_foreach(queues, i, q) {
      int rc =
          query_work_page(engine_query(svc->eng), json_string_value(q), now,
                          part, after && part == after_part ? after : NULL,
                          user, only_open, want, collect_work, w, err);
      if (w->failed) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
      if (rc != RC_OK) return rc;
    }
    /* (qsort of no items would be given a null array.) */
    if (w->n > before)
      qsort(w->items + before, (size_t)(w->n - before), sizeof *w->items,
            work_order);
    /* Keep the first `want` overall: the later part adds only when the
     * due-now part did not fill the page. */
    while (w->n > want) json_decref(w->items[--w->n].row);
    if (w->n >= want) break;
  }
  return RC_OK;
}

/* --- an item of My work --------------------------------------------------
 */

/* Whether the card's numbers may be called now, by the guard's own
 * decision for a call (what the case page asks): a card linked them at
 * 23:30 while the case's Save said "not now". Asked of the case and
 * borrower the card has just read (a second read of both, through the
 * store, was 36k of the 216k instructions a card at 1M). A guard that cannot be read
 * says so, never "allowed": the card then shows the numbers unlinked. */
static void item_call(service *svc, const store_case *c,
                      const store_borrower *b, json_t *item) {
  static const char call[1][24] = {"call"};
  policy_explanation ex;
  rc_zone *zone = NULL;
  rc_error err;
  char until[40];
  const policy_decision *d = &ex.decision;
  const char *rule;
  rc_error_clear(&err);
  if (engine_guard_explain(svc->eng, c, b, call, 1, 0, &ex, &zone, &err) !=
      RC_OK) {
    json_object_set_new(item, "call",
                        json_pack("{s:b, s:s, s:n, s:n}", "allowed_now", 0,
                                  "rule", "guard_unavailable", "next",
                                  "timezone"));
    return;
  }
  if (!zone) zone = clock_zone(engine_clock(svc->eng));
  rule = policy_rule_name(d);
  if (d->verdict == POLICY_DEFER)
    clock_zone_format(zone, d->until, until, sizeof until);
  json_object_set_new(
      item, "call",
      json_pack("{s:b, s:o, s:o, s:s}", "allowed_now",
                d->verdict == POLICY_ALLOW, "rule",
                rule ? json_string(rule) : json_null(), "next",
                d->verdict == POLICY_DEFER ? json_string(until) : json_null(),
                "timezone", clock_zone_name(zone)));
}

/* The case behind a task or promise as My work shows it: who, where,
 * how much, when last contacted, what was promised; with_call: whether
 * its numbers may be called now (the cards show numbers, the desk's
 * table does not). */
static int item_case(service *svc, const principal *who, const char *case_id,
                     int with_call, json_t *item, rc_error *err) {
  query *q = engine_query(svc->eng);
  store_case c;
  store_borrower b;
  store_promise p;
  char channel[24];
  rc_time at;
  int rc, masked = api_masked_for(who), phones;
  if ((rc = query_case(q, case_id, &c, err)) != RC_OK) return rc;
  if ((rc = query_borrower(q, c.borrower_id, &b, err)) != RC_OK) {
    store_case_free(&c);
    return rc;
  }
  json_object_set_new(item, "case", json_string(c.id));
  {
    /* As the case shows the borrower: the read role's address cut and
     * phones masked. The phones are a field officer's: one calls before
     * knocking, from the day's list. */
    json_t *bj = api_borrower_json(&b, masked);
    json_object_set_new(
        item, "borrower",
        json_pack("{s:O, s:O, s:O, s:O, s:O}", "name",
                  json_object_get(bj, "name"), "area",
                  json_object_get(bj, "area"), "address",
                  json_object_get(bj, "address"), "phones",
                  json_object_get(bj, "phones"), "contacts_unreadable",
                  json_object_get(bj, "contacts_unreadable")));
    phones = json_array_size(json_object_get(bj, "phones")) > 0;
    json_decref(bj);
  }
  /* Only where a number is shown to call: the read role's are masked. */
  if (with_call && !masked && phones) item_call(svc, &c, &b, item);
  json_object_set_new(item, "dpd", json_integer(engine_case_dpd(svc->eng, &c)));
  json_object_set_new(item, "amount_due", json_integer(c.amount_due));
  json_object_set_new(item, "balance", json_integer(c.balance));
  json_object_set_new(item, "currency", json_string(c.currency));
  rc = query_last_contact(q, c.id, c.borrower_id, channel, sizeof channel, &at,
                          err);
  if (rc == RC_OK)
    json_object_set_new(
        item, "last_contact",
        json_pack("{s:s, s:o}", "channel", channel, "at", time_json(svc, at)));
  else if (rc == RC_ENOTFOUND)
    json_object_set_new(item, "last_contact", json_null());
  if (rc == RC_OK || rc == RC_ENOTFOUND) {
    rc = query_promise_open(q, c.id, &p, err);
    if (rc == RC_OK)
      json_object_set_new(
          item, "promise",
          json_pack("{s:I, s:I, s:s, s:s}", "id", (json_int_t)p.id, "amount",
                    (json_int_t)p.amount, "by", p.by_date, "status", p.status));
    else if (rc == RC_ENOTFOUND)
      json_object_set_new(item, "promise", json_null());
    if (rc == RC_ENOTFOUND) rc = RC_OK;
  }
  store_borrower_free(&b);
  store_case_free(&c);
  return rc;
}

/* ITEM from a task row (api_row_json of the work page). */
static int item_of_task(service *svc, const principal *who, const work_row *r,
                        int with_call, json_t **out, rc_error *err) {
  json_t *row = r->row;
  json_t *item = json_pack(
      "{s:I, s:O, s:O, s:O, s:O, s:O, s:o}", "task", (json_int_t)r->id, "kind",
      json_object_get(row, "kind"), "queue", json_object_get(row, "queue"),
      "due", json_object_get(row, "due"), "status",
      json_object_get(row, "status"), "assignee",
      json_object_get(row, "assignee"), "priority", priority_json(r->priority));
  int rc =
      item_case(svc, who, json_string_value(json_object_get(row, "case_id")),
                with_call, item, err);
  if (rc != RC_OK) {
    json_decref(item);
    return rc;
  }
  *out = item;
  return RC_OK;
}

/* --- GET /v1/work -------------------------------------------------------- */

/* The cursor of a task page: "part:priority:due:id". */
static int parse_task_cursor(const char *s, int *part, store_work_cursor *c) {
  char *end;
  const char *p = s;
  long long v;
  if ((p[0] != '1' && p[0] != '2') || p[1] != ':') return -1;
  *part = p[0] - '0';
  p += 2;
  c->priority = strtod(p, &end);
  if (end == p || *end != ':' || !isfinite(c->priority)) return -1;
  p = end + 1;
  v = strtoll(p, &end, 10);
  if (end == p || *end != ':' || v < 0) return -1;
  c->due = v;
  p = end + 1;
  v = strtoll(p, &end, 10);
  if (end == p || *end || v <= 0) return -1;
  c->id = v;
  return 0;
}

/* The cursor of a promise page: "date:id". */
static int parse_promise_cursor(const char *s, char *date, int64_t *id) {
  char *end;
  long long v;
  rc_date d;
  if (strlen(s) < 12 || s[10] != ':') return -1;
  memcpy(date, s, 10);
  date[10] = '\0';
  if (clock_parse_date(date, &d) != RC_OK) return -1;
  v = strtoll(s + 11, &end, 10);
  if (*end || v <= 0) return -1;
  *id = v;
  return 0;
}

/* A queue's areas added into the object by_area (area -> count). */
static int add_area(void *ud, const store_value *cols, int n) {
  json_t *by_area = ud;
  const char *area = "";
  int64_t count = 0;
  for (int i = 0; i < n; i++) {
    if (!strcmp(cols[i].name, "area") && cols[i].type == STORE_TEXT)
      area = cols[i].s;
    if (!strcmp(cols[i].name, "n")) count = cols[i].i;
  }
  json_object_set_new(
      by_area, area,
      json_integer(json_integer_value(json_object_get(by_area, area)) + count));
  return 0;
}

typedef struct area_count {
  const char *area;
  json_int_t n;
} area_count;

/* The most tasks first; then by name, as bytes (the same on every
 * store). */
static int area_order(const void *a, const void *b) {
  const area_count *x = a, *y = b;
  if (x->n != y->n) return x->n > y->n ? -1 : 1;
  return strcmp(x->area, y->area);
}

/* by_area as My work's `areas`: [{"area", "today"}], most first. */
static json_t *areas_json(json_t *by_area) {
  size_t n = json_object_size(by_area), k = 0;
  area_count *list = calloc(n ? n : 1, sizeof *list);
  json_t *out = json_array(), *v;
  const char *key;
  if (!list) {
    json_decref(out);
    return NULL;
  }
  json_object_foreach(by_area, key, v) {
    list[k].area = key;
    list[k++].n = json_integer_value(v);
  }
  qsort(list, n, sizeof *list, area_order);
  for (k = 0; k < n; k++)
    json_array_append_new(
        out, json_pack("{s:s, s:I}", "area", list[k].area, "today", list[k].n));
  free(list);
  return out;
}

/* The counts above the list: the queues' tasks due now and today (in
 * all and each queue's), promises due and broken; with_areas: today's
 * tasks by their borrower's area too (a field officer's day). user: a
 * named agent, whose counts leave out what colleagues hold, as its list
 * does. */
static int work_counts(service *svc, json_t *queues, const store_scope *scope,
                       const char *user, int with_areas, json_t **out,
                       rc_error *err) {
  rc_clock *clk = engine_clock(svc->eng);
  rc_time now = clock_now(clk);
  rc_date today = clock_zone_date(clock_zone(clk), now);
  rc_time day_end =
      clock_zone_midnight(clock_zone(clk), clock_date_from_days(clock_date_to_days(today) + 1));
  int64_t due_now = 0, due_today = 0, promises = 0, broken = 0;
  char today_s[16], month_ago[16];
  json_t *q, *each = json_array(), *by_area = json_object(), *areas = NULL;
  size_t i;
  int rc = RC_OK, complete = 1;
  local_date(svc, now, 0, today_s, sizeof today_s);
  local_date(svc, now, -SCOPE_DAYS, month_ago, sizeof month_ago);
  json_array_foreach(queues, i, q) {
    int64_t a, b;
    rc = query_work_counts(engine_query(svc->eng), json_string_value(q), now,
                           day_end, user, &a, &b, err);
    if (rc == RC_OK && with_areas && b > 0)
      rc = query_work_areas(engine_query(svc->eng), json_string_value(q),
                            day_end, user, AREA_TASKS, add_area, by_area, err);
    if (rc != RC_OK) break;
    if (b > AREA_TASKS) complete = 0;
    due_now += a;
    due_today += b;
    json_array_append_new(
        each, json_pack("{s:O, s:I, s:I}", "queue", q, "due_now", (json_int_t)a,
                        "today", (json_int_t)b));
  }
  if (rc == RC_OK && with_areas && !(areas = areas_json(by_area)))
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  json_decref(by_area);
  if (rc == RC_OK)
    rc = query_work_promises_count(engine_query(svc->eng), "open", "", today_s,
                                   scope, &promises, err);
  if (rc == RC_OK)
    rc = query_work_promises_count(engine_query(svc->eng), "broken", month_ago,
                                   today_s, scope, &broken, err);
  if (rc != RC_OK) {
    json_decref(each);
    json_decref(areas);
    return rc;
  }
  *out = json_pack("{s:I, s:I, s:I, s:I, s:o}", "due_now", (json_int_t)due_now,
                   "today", (json_int_t)due_today, "promises_due",
                   (json_int_t)promises, "broken", (json_int_t)broken, "queues",
                   each);
  if (areas) {
    json_object_set_new(*out, "areas", areas);
    json_object_set_new(*out, "areas_complete", json_boolean(complete));
  }
  return RC_OK;
}

/* The promise tabs: a case's waiting task (the first in the scope's
 * queues) stands for it when it has one. */
typedef struct first_task {
  json_t *queues; /* borrowed; NULL: any */
  json_t *found;  /* owned */
} first_task;

static int pick_task(void *ud, const store_value *cols, int n) {
  first_task *f = ud;
  const char *status = NULL, *queue = NULL;
  int64_t id = 0;
  json_t *q;
  size_t i;
  int in = f->queues == NULL;
  for (int k = 0; k < n; k++) {
    if (!strcmp(cols[k].name, "status")) status = cols[k].s;
    if (!strcmp(cols[k].name, "queue")) queue = cols[k].s;
    if (!strcmp(cols[k].name, "id")) id = cols[k].i;
  }
  if (!status || (strcmp(status, "open") && strcmp(status, "claimed")))
    return 0;
  json_array_foreach(f->queues, i, q) {
    if (queue && !strcmp(json_string_value(q), queue)) in = 1;
  }
  if (in && !f->found) f->found = json_integer(id);
  return 0;
}

static int promise_items(service *svc, const principal *who, json_t *queues,
                         const store_scope *scope, const char *tab,
                         const char *after, int limit, int with_call,
                         json_t *items, char *next, size_t size,
                         rc_error *err) {
  rowlist r = {svc, json_array()};
  char today_s[16], month_ago[16], after_date[16] = "";
  int64_t after_id = 0;
  rc_time now = clock_now(engine_clock(svc->eng));
  json_t *row;
  size_t i;
  int rc, broken = !strcmp(tab, "broken");
  next[0] = '\0';
  if (after && *after && parse_promise_cursor(after, after_date, &after_id)) {
    json_decref(r.list); /* a forged cursor costs nothing */
    return rc_error_set(err, RC_EINVAL, "after",
                        "after must be the `next` of the page before");
  }
  local_date(svc, now, 0, today_s, sizeof today_s);
  local_date(svc, now, -SCOPE_DAYS, month_ago, sizeof month_ago);
  rc = query_work_promises(engine_query(svc->eng), broken ? "broken" : "open",
                           broken ? month_ago : "", today_s, after_date,
                           after_id, scope, limit, collect, &r, err);
  json_array_foreach(r.list, i, row) {
    json_t *item;
    first_task f = {scope || json_array_size(queues) == 1 ? queues : NULL,
                    NULL};
    const char *case_id = json_string_value(json_object_get(row, "case_id"));
    if (rc != RC_OK) break;
    rc = query_tasks(engine_query(svc->eng), case_id, pick_task, &f, err);
    if (rc != RC_OK) break;
    item = json_pack("{s:o}", "task", f.found ? f.found : json_null());
    rc = item_case(svc, who, case_id, with_call, item, err);
    /* The promise the tab is about, open or broken. */
    json_object_set_new(
        item, "promise",
        json_pack("{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(row, "id"),
                  "amount", json_object_get(row, "amount"), "paid",
                  json_object_get(row, "paid"), "by",
                  json_object_get(row, "by_date"), "status",
                  json_object_get(row, "status")));
    json_array_append_new(items, item);
    if ((int)i == limit - 1)
      snprintf(next, size, "%s:%lld",
               json_string_value(json_object_get(row, "by_date")),
               (long long)json_integer_value(json_object_get(row, "id")));
  }
  json_decref(r.list);
  return rc;
}

void api_work_list(service *svc, http_request *req, int route, const char *arg,
                   const principal *who) {
  char queue[65] = "", tab[16] = "due", after[512] = "", next[128] = "",
       flag[4] = "";
  store_scope buf, qscope;
  const store_scope *scope = api_scope(svc, who, &buf);
  json_t *queues = NULL, *items = json_array(), *counts = NULL;
  work_rows w = {svc, NULL, 0, 0, 0, 0};
  rc_error err;
  int limit, rc, areas = 0, call = 0;
  char *queues_text = NULL;
  (void)arg;
  rc_error_clear(&err);
  if ((rc = api_page_params(req, &limit, after, sizeof after, &err)) != RC_OK)
    goto done;
  if (http_query(req, "queue", queue, sizeof queue) < 0) {
    rc = rc_error_set(&err, RC_EINVAL, "queue",
                      "queue is longer than 64 "
                      "bytes");
    goto done;
  }
  if ((rc = http_query(req, "tab", tab, sizeof tab)) < 0 ||
      (rc > 0 && strcmp(tab, "due") && strcmp(tab, "promises") &&
       strcmp(tab, "broken"))) {
    rc = rc_error_set(&err, RC_EINVAL, "tab",
                      "tab must be due, promises or broken");
    goto done;
  }
  if (rc == 0) snprintf(tab, sizeof tab, "due");
  /* areas=1: today's tasks by area too (the phone's day list asks). */
  if ((rc = http_query(req, "areas", flag, sizeof flag)) < 0 ||
      (rc > 0 && strcmp(flag, "0") && strcmp(flag, "1"))) {
    rc = rc_error_set(&err, RC_EINVAL, "areas", "areas must be 0 or 1");
    goto done;
  }
  areas = rc > 0 && !strcmp(flag, "1");
  /* call=1: each item with a phone says whether it may be called now.
   * Only the cards (a phone's list) show numbers; a desk's table does
   * not, and each item's guard read is two or three reads more. */
  if ((rc = http_query(req, "call", flag, sizeof flag)) < 0 ||
      (rc > 0 && strcmp(flag, "0") && strcmp(flag, "1"))) {
    rc = rc_error_set(&err, RC_EINVAL, "call", "call must be 0 or 1");
    goto done;
  }
  call = rc > 0 && !strcmp(flag, "1");
  if ((rc = work_queues(svc, who, queue, &queues, &err)) != RC_OK) goto done;
  /* A supervisor's list of one queue counts that queue's promises. */
  if (!scope && queue[0]) {
    queues_text = json_dumps(queues, JSON_COMPACT);
    qscope.queues = queues_text;
    qscope.user = NULL;
    qscope.since = 0;
    scope = &qscope;
  }
  if (!strcmp(tab, "due")) {
    store_work_cursor cur;
    int part = 1;
    if (after[0] && parse_task_cursor(after, &part, &cur)) {
      rc = rc_error_set(&err, RC_EINVAL, "after",
                        "after must be the `next` of the page before");
      goto done;
    }
    rc = work_top(svc, queues, named_agent(who) ? who->user : NULL, 0,
                  after[0] ? &cur : NULL, part, limit + 1, &w, &err);
    for (int i = 0; rc == RC_OK && i < w.n && i < limit; i++) {
      json_t *item;
      if ((rc = item_of_task(svc, who, &w.items[i], call, &item, &err)) ==
          RC_OK)
        json_array_append_new(items, item);
    }
    if (rc == RC_OK && w.n > limit) {
      const work_row *last = &w.items[limit - 1];
      char p[40];
      snprintf(p, sizeof p, "%.17g", last->priority);
      snprintf(next, sizeof next, "%d:%s:%lld:%lld", last->part, p,
               (long long)last->due, (long long)last->id);
    }
  } else {
    rc = promise_items(svc, who, queues, scope, tab, after, limit, call, items,
                       next, sizeof next, &err);
  }
  if (rc == RC_OK)
    rc = work_counts(svc, queues, scope, named_agent(who) ? who->user : NULL,
                     areas && !strcmp(tab, "due"), &counts, &err);
done:
  work_rows_free(&w);
  json_decref(queues);
  free(queues_text);
  if (rc != RC_OK) {
    json_decref(items);
    fail(svc, req, route, &err);
    return;
  }
  api_reply(
      svc, req, route, 200,
      json_pack("{s:o, s:o, s:o}", "items", items, "next",
                next[0] ? json_string(next) : json_null(), "counts", counts),
      NULL);
}

/* --- POST /v1/tasks/next -------------------------------------------------- */

/* The caller's own claimed tasks, looked for a page at a time through a
 * queue's claimed ones (those being worked: few, an index range). */
typedef struct held_rows {
  work_rows *w;
  const char *user;
  int64_t last; /* the page's last id: the next page goes on after it */
  int seen;
} held_rows;

static int collect_held(void *ud, const store_value *cols, int n) {
  held_rows *h = ud;
  int mine = 0;
  h->seen++;
  for (int i = 0; i < n; i++) {
    if (!strcmp(cols[i].name, "id")) h->last = cols[i].i;
    if (!strcmp(cols[i].name, "assignee") && cols[i].type == STORE_TEXT &&
        !strcmp(cols[i].s, h->user))
      mine = 1;
  }
  if (!mine) return 0;
  if (collect_work(h->w, cols, n) != 0) return 1;
  /* A task page names the case "case"; My work's rows "case_id". */
  json_object_set(h->w->items[h->w->n - 1].row, "case_id",
                  json_object_get(h->w->items[h->w->n - 1].row, "case"));
  return 1;
}

/* The oldest task user has claimed in queues and not finished, into w
 * (w->n 0: none). */
static int work_held(service *svc, json_t *queues, const char *user,
                     work_rows *w, rc_error *err) {
  enum { PAGE = 200 };
  size_t i;
  json_t *q;
  json_array_foreach(queues, i, q) {
    held_rows h = {w, user, 0, 0};
    int before = w->n, rc;
    do {
      h.seen = 0;
      rc = query_task_page(engine_query(svc->eng), json_string_value(q),
                           "claimed", user, NULL, h.last, PAGE, collect_held,
                           &h, err);
      if (w->failed) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
      if (rc != RC_OK) return rc;
    } while (w->n == before && h.seen == PAGE);
    /* One a queue at most: keep the oldest. */
    if (w->n > before && before > 0) {
      int keep = w->items[before].id < w->items[0].id ? before : 0;
      int drop = keep ? 0 : before;
      json_decref(w->items[drop].row);
      w->items[0] = w->items[keep];
      w->n = 1;
    }
  }
  return RC_OK;
}

int api_task_next(service *svc, job *j, json_t **reply, int *status,
                  rc_error *err) {
  static const char *const known[] = {"assignee", NULL};
  char queue[65] = "";
  const char *assignee = j->who.user;
  json_t *queues = NULL, *item = NULL;
  work_rows w = {svc, NULL, 0, 0, 0, 0};
  int rc = RC_OK;
  if (http_query(j->req, "queue", queue, sizeof queue) < 0)
    return rc_error_set(err, RC_EINVAL, "queue",
                        "queue is longer than 64 bytes");
  /* A machine token names whom it claims for; a console user claims for
   * itself. */
  if (j->body && !json_is_object(j->body))
    return rc_error_set(err, RC_EINVAL, NULL, "the body must be a JSON object");
  if ((rc = input_json_known_keys(j->body, known, "a claim", err))) return rc;
  if (!assignee[0]) {
    json_t *v = json_object_get(j->body, "assignee");
    if (!json_is_string(v) || !json_string_length(v))
      return rc_error_set(err, RC_EINVAL, "assignee",
                          "assignee is required with a machine token");
    assignee = json_string_value(v);
    if ((rc = input_check_id(assignee, strlen(assignee), "assignee",
                             INPUT_ID_MAX, err)))
      return rc;
  }
  if ((rc = work_queues(svc, &j->who, queue, &queues, err)) != RC_OK) return rc;
  /* A person finishes what it holds before it takes more: a task it
   * claimed and has not finished in these queues (a second press of Next
   * case, a reload, a lost answer) is given again, not another one set
   * aside that no colleague can take. A machine token (a dialer) claims
   * for others as it sees fit. */
  if (j->who.user[0]) rc = work_held(svc, queues, assignee, &w, err);
  if (rc == RC_OK && w.n == 1) {
    json_decref(queues);
    rc = item_of_task(svc, &j->who, &w.items[0], 0, &item, err);
    work_rows_free(&w);
    if (rc != RC_OK) return rc;
    *status = 200;
    *reply = json_pack("{s:o}", "task", item);
    return RC_OK;
  }
  /* The top of the caller's My work among the open tasks, claimed in the
   * same job: no other job of this node runs between the read and the
   * claim. Another node's may (PostgreSQL): a top it claimed meanwhile is
   * passed over for the next, as this node would have given it. Each pass
   * sees one more claim committed; the bound only ends a storm of them. */
  for (int pass = 0; rc == RC_OK; pass++) {
    rc = work_top(svc, queues, NULL, 1, NULL, 1, 1, &w, err);
    if (rc == RC_OK && w.n == 0)
      rc = rc_error_set(err, RC_ENOTFOUND, "queue",
                        "no task waiting in your queues");
    if (rc == RC_OK)
      rc = engine_task_claim(svc->eng, w.items[0].id, assignee, err);
    if (rc != RC_ECONFLICT || pass == 15) break;
    work_rows_free(&w);
    w.svc = svc;
    rc = RC_OK;
  }
  json_decref(queues);
  if (rc == RC_OK) {
    json_object_set_new(w.items[0].row, "status", json_string("claimed"));
    json_object_set_new(w.items[0].row, "assignee", json_string(assignee));
    rc = item_of_task(svc, &j->who, &w.items[0], 0, &item, err);
  }
  work_rows_free(&w);
  if (rc != RC_OK) return rc;
  *status = 200;
  *reply = json_pack("{s:o}", "task", item);
  return RC_OK;
}

/* --- POST /v1/tasks/{id}/assign ------------------------------------------- */

static int64_t task_id_of(const char *arg, rc_error *err) {
  char *end;
  long long id = strtoll(arg, &end, 10);
  if (*end || id <= 0) {
    rc_error_set(err, RC_ENOTFOUND, "task", "unknown task %s", arg);
    return 0;
  }
  return id;
}

/* One task's row as GET /v1/tasks shows it. */
typedef struct one_task {
  service *svc;
  int64_t id;
  json_t *row;
} one_task;

static int pick_row(void *ud, const store_value *cols, int n) {
  one_task *t = ud;
  for (int k = 0; k < n; k++)
    if (!strcmp(cols[k].name, "id") && cols[k].i == t->id && !t->row)
      t->row = api_row_json(t->svc, cols, n);
  return 0;
}

static int task_row(service *svc, int64_t id, json_t **row, rc_error *err) {
  char case_id[160];
  one_task t = {svc, id, NULL};
  int rc =
      query_task_case(engine_query(svc->eng), id, case_id, sizeof case_id, err);
  if (rc == RC_OK)
    rc = query_tasks(engine_query(svc->eng), case_id, pick_row, &t, err);
  if (rc == RC_OK && !t.row)
    rc = rc_error_set(err, RC_ENOTFOUND, "task", "unknown task %lld",
                      (long long)id);
  *row = t.row;
  return rc;
}

/* A person completing a task works it: an open one is claimed for them
 * first, so that it counts as theirs (a named agent goes on seeing the
 * case for 30 days; the figures credit who did the work); one a colleague
 * has claimed is not a named agent's to finish, as it is not its to claim
 * (409). A machine token completes as before. */
int api_task_take(service *svc, const principal *who, int64_t id,
                  rc_error *err) {
  json_t *row = NULL;
  const char *status, *assignee;
  int rc;
  if (!who->user[0]) return RC_OK;
  if ((rc = task_row(svc, id, &row, err)) != RC_OK) return rc;
  status = json_string_value(json_object_get(row, "status"));
  assignee = json_string_value(json_object_get(row, "assignee"));
  if (status && !strcmp(status, "open"))
    rc = engine_task_claim(svc->eng, id, who->user, err);
  else if (status && !strcmp(status, "claimed") && named_agent(who) &&
           assignee && strcmp(assignee, who->user))
    rc = rc_error_set(err, RC_ECONFLICT, "task", "task %lld is claimed by %s",
                      (long long)id, assignee);
  json_decref(row);
  return rc;
}

int api_task_assign(service *svc, job *j, json_t **reply, int *status,
                    rc_error *err) {
  int64_t id = task_id_of(j->arg, err);
  static const char *const known[] = {"user", NULL};
  json_t *user = json_object_get(j->body, "user"), *row = NULL;
  int rc;
  if (!id) return RC_ENOTFOUND;
  if (!json_is_object(j->body))
    return rc_error_set(err, RC_EINVAL, NULL,
                        "the body must be a JSON object {\"user\": name}");
  if ((rc = input_json_known_keys(j->body, known, "an assignment", err)))
    return rc;
  if (!json_is_string(user) || !json_string_length(user))
    return rc_error_set(err, RC_EINVAL, "user", "user must be a user's name");
  if ((rc = engine_task_assign(svc->eng, id, json_string_value(user), err)))
    return rc;
  if ((rc = task_row(svc, id, &row, err))) return rc;
  *status = 200;
  *reply = row;
  return RC_OK;
}

/* --- POST /v1/cases/{id}/notes and /promises ------------------------------ */

int api_case_note(service *svc, job *j, json_t **reply, int *status,
                  rc_error *err) {
  static const char *const known[] = {"text", "key", NULL};
  json_t *text = json_object_get(j->body, "text");
  const char *key;
  engine_note_taken note;
  int rc;
  if ((rc = api_case_scope(svc, &j->who, j->arg, err))) return rc;
  if (!json_is_object(j->body))
    return rc_error_set(err, RC_EINVAL, NULL,
                        "the body must be a JSON object {\"text\": ...}");
  if ((rc = input_json_known_keys(j->body, known, "a note", err))) return rc;
  if (!json_is_string(text))
    return rc_error_set(err, RC_EINVAL, "text", "text must be a string");
  if ((rc = api_idempotency_key(j, &key, err))) return rc;
  if ((rc = engine_case_note(svc->eng, j->arg, json_string_value(text), key,
                             &note, err)))
    return rc;
  /* A resend under the note's key is answered with the note taken. */
  *status = note.duplicate ? 200 : 201;
  *reply = json_pack("{s:{s:s, s:O, s:o, s:o}}", "note", "case", j->arg, "text",
                     text, "at", time_json(svc, note.at), "user",
                     note.user[0] ? json_string(note.user) : json_null());
  if (note.duplicate)
    json_object_set_new(*reply, "status", json_string("duplicate"));
  return RC_OK;
}

int api_case_promise(service *svc, job *j, json_t **reply, int *status,
                     rc_error *err) {
  static const char *const known[] = {"amount", "by", NULL};
  json_t *amount = json_object_get(j->body, "amount");
  json_t *by = json_object_get(j->body, "by");
  char by_date[16];
  int64_t id;
  int rc, duplicate;
  if ((rc = api_case_scope(svc, &j->who, j->arg, err))) return rc;
  if (!json_is_object(j->body))
    return rc_error_set(err, RC_EINVAL, NULL,
                        "the body must be a JSON object {\"amount\", \"by\"}");
  if ((rc = input_json_known_keys(j->body, known, "a promise", err))) return rc;
  if (!json_is_integer(amount) || json_integer_value(amount) <= 0)
    return rc_error_set(err, RC_EINVAL, "amount",
                        "amount must be a positive whole number of minor "
                        "units");
  if (!json_is_string(by))
    return rc_error_set(err, RC_EINVAL, "by",
                        "by must be a date (2026-01-31) or a duration from "
                        "now (7d)");
  if ((rc = engine_case_promise(svc->eng, j->arg, json_integer_value(amount),
                                json_string_value(by), &id, by_date, &duplicate,
                                err)))
    return rc;
  *status = duplicate ? 200 : 201;
  *reply =
      json_pack("{s:{s:I, s:O, s:s, s:s}}", "promise", "id", (json_int_t)id,
                "amount", amount, "by", by_date, "status", "open");
  return RC_OK;
}

/* --- the case's extras ---------------------------------------------------- */

typedef struct plan_rows {
  json_t *plan; /* owned */
} plan_rows;

static int add_installment(void *ud, const store_value *cols, int n) {
  plan_rows *p = ud;
  json_t *inst = json_object();
  for (int k = 0; k < n; k++) {
    const store_value *v = &cols[k];
    if (!strcmp(v->name, "plan") && !p->plan)
      p->plan = json_pack("{s:I, s:o}", "id", (json_int_t)v->i, "installments",
                          json_array());
    else if (!strcmp(v->name, "plan_status") && p->plan)
      json_object_set_new(p->plan, "status", json_string(v->s));
    else if (!strcmp(v->name, "total") && p->plan)
      json_object_set_new(p->plan, "total", json_integer(v->i));
    else if (!strcmp(v->name, "seq") || !strcmp(v->name, "amount") ||
             !strcmp(v->name, "paid"))
      json_object_set_new(inst, v->name, json_integer(v->i));
    else if (!strcmp(v->name, "due") || !strcmp(v->name, "status"))
      json_object_set_new(inst, v->name,
                          v->s ? json_string(v->s) : json_null());
  }
  if (p->plan)
    json_array_append_new(json_object_get(p->plan, "installments"), inst);
  else
    json_decref(inst);
  return 0;
}

typedef struct case_tasks {
  service *svc;
  const store_case *c;
  json_t *list;
  int masked; /* the read role: fields' strings masked */
} case_tasks;

static int add_waiting(void *ud, const store_value *cols, int n) {
  case_tasks *t = ud;
  json_t *row;
  const char *status = NULL, *kind = NULL;
  json_t *outcomes;
  for (int k = 0; k < n; k++) {
    if (!strcmp(cols[k].name, "status")) status = cols[k].s;
    if (!strcmp(cols[k].name, "kind")) kind = cols[k].s;
  }
  if (!status || (strcmp(status, "open") && strcmp(status, "claimed")))
    return 0;
  row = api_row_json(t->svc, cols, n);
  if (t->masked) {
    api_mask_strings(json_object_get(row, "fields"));
    api_mask_strings(json_object_get(row, "result"));
  }
  outcomes = kind ? engine_task_outcomes(t->svc->eng, t->c, kind) : NULL;
  json_object_set_new(row, "outcomes", outcomes ? outcomes : json_null());
  json_array_append_new(t->list, row);
  return 0;
}

int api_case_extras(service *svc, const principal *who, const store_case *c,
                    json_t *out, rc_error *err) {
  query *q = engine_query(svc->eng);
  store_promise p;
  plan_rows plan = {NULL};
  case_tasks tasks = {svc, c, json_array(), api_masked_for(who)};
  int rc = query_promise_open(q, c->id, &p, err);
  if (rc == RC_OK)
    json_object_set_new(
        out, "promise",
        json_pack("{s:I, s:I, s:I, s:s, s:s}", "id", (json_int_t)p.id, "amount",
                  (json_int_t)p.amount, "paid", (json_int_t)p.paid, "by",
                  p.by_date, "status", p.status));
  else if (rc == RC_ENOTFOUND)
    json_object_set_new(out, "promise", json_null());
  else
    goto failed;
  if ((rc = query_plan(q, c->id, add_installment, &plan, err)) != RC_OK)
    goto failed;
  json_object_set_new(out, "plan", plan.plan ? plan.plan : json_null());
  plan.plan = NULL;
  if ((rc = query_tasks(q, c->id, add_waiting, &tasks, err)) != RC_OK)
    goto failed;
  json_object_set_new(out, "tasks", tasks.list);
  return RC_OK;
failed:
  json_decref(plan.plan);
  json_decref(tasks.list);
  return rc;
}

/* --- GET /v1/cases/{id}/guard --------------------------------------------- */

/* At most 16 of the institution's channels, and always call and visit:
 * an institution naming more crowded them out, and a console given no
 * word on a call took it for allowed. */
enum { GUARD_CHANNELS = 16, GUARD_LISTED = GUARD_CHANNELS + 2 };

static void add_channel(char (*list)[24], int *n, int max, const char *name) {
  for (int i = 0; i < *n; i++)
    if (!strcmp(list[i], name)) return;
  if (*n < max && strlen(name) < 24) rc_copy(list[(*n)++], 24, name);
}

/* The channels the guard knows: the institution's delivery channels, the
 * policy's caps and pause, and the person contacts (call, visit). */
static int guard_channels(service *svc, char (*list)[24]) {
  const institution_config *cfg = script_config(engine_script(svc->eng));
  const policy_config *p = &cfg->policy;
  int n = 0;
  for (int i = 0; i < cfg->nchannels; i++)
    add_channel(list, &n, GUARD_CHANNELS, cfg->channels[i].name);
  for (int i = 0; i < p->nrules; i++)
    for (int k = 0; k < p->rules[i].nchannels; k++)
      add_channel(list, &n, GUARD_CHANNELS, p->rules[i].channels[k]);
  for (int i = 0; i < p->npause; i++)
    add_channel(list, &n, GUARD_CHANNELS, p->pause_channels[i]);
  add_channel(list, &n, GUARD_LISTED, "call");
  add_channel(list, &n, GUARD_LISTED, "visit");
  return n;
}

/* A window as people say it: day, week, month, else its length. */
static json_t *per_json(const rc_duration *d) {
  char buf[32];
  if (!d->ms && !d->months && d->days == 1) return json_string("day");
  if (!d->ms && !d->months && d->days == 7) return json_string("week");
  if (!d->ms && !d->days && d->months == 1) return json_string("month");
  if (!d->ms && !d->months)
    snprintf(buf, sizeof buf, "%dd", d->days);
  else if (!d->ms && !d->days)
    snprintf(buf, sizeof buf, "%dmo", d->months);
  else
    snprintf(buf, sizeof buf, "%lldm",
             (long long)(d->ms / 60000 + d->days * 1440LL));
  return json_string(buf);
}

/* The third-party rule and the guard's word on calling a third party
 * now: their numbers follow it, not the borrower's (under
 * third_parties = "none" they are never called; under
 * "no_debt_details" they may be called when the borrower may, with
 * nothing said of the debt). */
static json_t *third_parties_json(const policy_config *p,
                                  const policy_decision *d, rc_zone *zone) {
  const char *rule = policy_rule_name(d);
  char until[40];
  if (d->verdict == POLICY_DEFER)
    clock_zone_format(zone, d->until, until, sizeof until);
  return json_pack(
      "{s:s, s:{s:b, s:s, s:o, s:o, s:o}}", "rule",
      p->third_parties_none ? "none" : "no_debt_details", "call", "allowed_now",
      d->verdict == POLICY_ALLOW, "verdict", policy_verdict_name(d->verdict),
      "next", d->verdict == POLICY_DEFER ? json_string(until) : json_null(),
      "rule", rule ? json_string(rule) : json_null(), "reason",
      d->verdict == POLICY_ALLOW ? json_null() : json_string(d->reason));
}

void api_case_guard(service *svc, http_request *req, int route, const char *arg,
                    const principal *who) {
  static const char call[1][24] = {"call"};
  char channels[GUARD_LISTED][24], hours[32] = "";
  policy_explanation ex[GUARD_LISTED], third;
  const policy_config *p = &script_config(engine_script(svc->eng))->policy;
  store_case c;
  store_borrower b;
  rc_zone *zone = NULL;
  rc_error err;
  char local[40];
  json_t *list, *out;
  int n = guard_channels(svc, channels), rc;
  rc_time now = clock_now(engine_clock(svc->eng)), pause_until = 0;
  rc_error_clear(&err);
  if ((rc = api_case_scope(svc, who, arg, &err)) != RC_OK ||
      (rc = query_case(engine_query(svc->eng), arg, &c, &err)) != RC_OK) {
    fail(svc, req, route, &err);
    return;
  }
  if ((rc = query_borrower(engine_query(svc->eng), c.borrower_id, &b, &err)) !=
      RC_OK) {
    store_case_free(&c);
    fail(svc, req, route, &err);
    return;
  }
  /* The guard's own decision for each channel, and for a call to a third
   * party (the employer, a family member: their numbers on the page); a
   * read that fails is the answer (503), never "allowed". */
  rc = engine_guard_explain(svc->eng, &c, &b, (const char(*)[24])channels, n, 0,
                            ex, &zone, &err);
  if (rc == RC_OK)
    rc = engine_guard_explain(svc->eng, &c, &b, call, 1, 1, &third, NULL, &err);
  if (rc != RC_OK) {
    store_borrower_free(&b);
    store_case_free(&c);
    if (err.code != RC_ENOTFOUND) err.code = RC_ESTORE;
    fail(svc, req, route, &err);
    return;
  }
  if (!zone) zone = clock_zone(engine_clock(svc->eng));
  /* The hours are the borrower's local time (policy_next_window). */
  if (p->has_hours)
    snprintf(hours, sizeof hours, "%02d:%02d\xE2\x80\x93%02d:%02d",
             p->start_min / 60, p->start_min % 60, p->end_min / 60,
             p->end_min % 60);
  list = json_array();
  for (int i = 0; i < n; i++) {
    const policy_decision *d = &ex[i].decision;
    json_t *windows = json_array();
    const char *rule = policy_rule_name(d);
    char until[40];
    for (int k = 0; k < ex[i].nwindows; k++)
      json_array_append_new(
          windows,
          json_pack("{s:o, s:i, s:i, s:s}", "per",
                    per_json(&ex[i].windows[k].per), "used",
                    ex[i].windows[k].used, "limit", ex[i].windows[k].limit,
                    "scope", ex[i].windows[k].per_case ? "case" : "borrower"));
    if (d->verdict == POLICY_DEFER)
      clock_zone_format(zone, d->until, until, sizeof until);
    if (ex[i].paused && ex[i].pause_until > pause_until)
      pause_until = ex[i].pause_until;
    json_array_append_new(
        list,
        json_pack(
            "{s:s, s:b, s:s, s:o, s:o, s:o, s:o}", "channel", channels[i],
            "allowed_now", d->verdict == POLICY_ALLOW, "verdict",
            policy_verdict_name(d->verdict), "next",
            d->verdict == POLICY_DEFER ? json_string(until) : json_null(),
            "rule", rule ? json_string(rule) : json_null(), "reason",
            d->verdict == POLICY_ALLOW ? json_null() : json_string(d->reason),
            "windows", windows));
    json_object_set_new(json_array_get(list, json_array_size(list) - 1),
                        "hours", hours[0] ? json_string(hours) : json_null());
  }
  clock_zone_format(zone, now, local, sizeof local);
  out =
      json_pack("{s:s, s:s, s:s, s:{s:b, s:b, s:b}, s:o, s:o}", "case", arg,
                "timezone", clock_zone_name(zone), "borrower_time", local, "holds",
                "dispute", c.on_hold, "cease", b.ceased, "do_not_contact",
                b.do_not_contact, "pause_until", json_null(), "channels", list);
  json_object_set_new(out, "third_parties",
                      third_parties_json(p, &third.decision, zone));
  if (pause_until) {
    char until[40];
    clock_zone_format(zone, pause_until, until, sizeof until);
    json_object_set_new(out, "pause_until", json_string(until));
  }
  store_borrower_free(&b);
  store_case_free(&c);
  api_reply(svc, req, route, 200, out, NULL);
}
