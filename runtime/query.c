/* The read side over the engine's store: each call one unit of work, each
 * failure reported. Readers never hold the store itself, so nothing but
 * the engine can write. */
#include <stdlib.h>
#include <string.h>

#include "recoup/query.h"
#include "store/store.h"

struct query {
  store *st; /* the engine's; not owned */
};

int query_column_kind(const char *name) {
  static const char *const times[] = {
      "at", "due", "opened_at", "completed_at", "not_before", "created_at"};
  static const char *const json[] = {"detail", "fields", "result",
                                     "tags",   "data",   "queues"};
  for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
    if (strcmp(name, times[i]) == 0) return QUERY_TIME;
  for (size_t i = 0; i < sizeof json / sizeof json[0]; i++)
    if (strcmp(name, json[i]) == 0) return QUERY_JSON;
  return QUERY_PLAIN;
}

int query_open(query **out, store *st, rc_error *err) {
  query *q = calloc(1, sizeof *q);
  *out = NULL;
  if (!q) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  q->st = st;
  *out = q;
  return RC_OK;
}

void query_close(query *q) {
  free(q);
}

int query_case(query *q, const char *id, store_case *out, rc_error *err) {
  return store_case_get(q->st, id, out, err);
}

int query_case_exists(query *q, const char *id, rc_error *err) {
  return store_case_exists(q->st, id, err);
}

int query_borrower(query *q, const char *id, store_borrower *out,
                   rc_error *err) {
  return store_borrower_get(q->st, id, out, err);
}

int query_borrower_cases(query *q, const char *borrower_id, store_row_fn fn,
                         void *ud, rc_error *err) {
  return store_borrower_cases(q->st, borrower_id, fn, ud, err);
}

int query_cases(query *q, const char *state, store_row_fn fn, void *ud,
                rc_error *err) {
  return store_cases_each(q->st, state, fn, ud, err);
}

int query_promise_open(query *q, const char *case_id, store_promise *out,
                       rc_error *err) {
  return store_promise_open(q->st, case_id, out, err);
}

int query_plan(query *q, const char *case_id, store_row_fn fn, void *ud,
               rc_error *err) {
  return store_plan_each(q->st, case_id, fn, ud, err);
}

int query_journal(query *q, const char *case_id, int limit, store_row_fn fn,
                  void *ud, rc_error *err) {
  return store_journal_each(q->st, case_id, limit, fn, ud, err);
}

int query_messages(query *q, const char *case_id, store_row_fn fn, void *ud,
                   rc_error *err) {
  return store_messages_each(q->st, case_id, fn, ud, err);
}

int query_tasks(query *q, const char *case_id, store_row_fn fn, void *ud,
                rc_error *err) {
  return store_tasks_each(q->st, case_id, fn, ud, err);
}

int query_timers(query *q, const char *case_id, store_row_fn fn, void *ud,
                 rc_error *err) {
  return store_timers_each(q->st, case_id, fn, ud, err);
}

int query_case_page(query *q, const query_case_filter *f, store_row_fn fn,
                    void *ud, char *window_end, size_t size, rc_error *err) {
  return store_cases_page(q->st, f->state, f->queue, f->after, f->limit,
                          f->window, f->scope, window_end, size, fn, ud, err);
}

int query_cases_phone(query *q, const char *phone, const query_case_filter *f,
                      store_row_fn fn, void *ud, rc_error *err) {
  return store_cases_phone(q->st, phone, f->after, f->limit, f->scope, fn, ud,
                           err);
}

int query_journal_page(query *q, const char *case_id, int64_t after, int limit,
                       store_row_fn fn, void *ud, rc_error *err) {
  int rc = store_case_exists(q->st, case_id, err);
  if (rc != RC_OK) return rc;
  return store_journal_page(q->st, case_id, after, limit, fn, ud, err);
}

int query_message(query *q, int64_t id, store_row_fn fn, void *ud,
                  rc_error *err) {
  return store_message_read(q->st, id, fn, ud, err);
}

int query_task_page(query *q, const char *queue, const char *status,
                    const char *assignee, const char *queues, int64_t after,
                    int limit, store_row_fn fn, void *ud, rc_error *err) {
  return store_tasks_page(q->st, queue, status, assignee, queues, after, limit,
                          fn, ud, err);
}

int query_work_page(query *q, const char *queue, rc_time now, int part,
                    const store_work_cursor *after, const char *user,
                    int only_open, int limit, store_row_fn fn, void *ud,
                    rc_error *err) {
  return store_work_page(q->st, queue, now, part, after, user, only_open,
                         limit, fn, ud, err);
}

int query_work_queues(query *q, store_row_fn fn, void *ud, rc_error *err) {
  return store_work_queues(q->st, fn, ud, err);
}

int query_work_counts(query *q, const char *queue, rc_time now, rc_time day_end,
                      const char *user, int64_t *due_now, int64_t *today,
                      rc_error *err) {
  return store_work_counts(q->st, queue, now, day_end, user, due_now, today,
                           err);
}

int query_work_areas(query *q, const char *queue, rc_time day_end,
                     const char *user, int max, store_row_fn fn, void *ud,
                     rc_error *err) {
  return store_work_areas(q->st, queue, day_end, user, max, fn, ud, err);
}

int query_work_promises(query *q, const char *status, const char *from,
                        const char *to, const char *after_date,
                        int64_t after_id, const store_scope *scope, int limit,
                        store_row_fn fn, void *ud, rc_error *err) {
  return store_work_promises(q->st, status, from, to, after_date, after_id,
                             scope, limit, fn, ud, err);
}

int query_work_promises_count(query *q, const char *status, const char *from,
                              const char *to, const store_scope *scope,
                              int64_t *count, rc_error *err) {
  return store_work_promises_count(q->st, status, from, to, scope, count,
                                   err);
}

int query_task_case(query *q, int64_t task_id, char *case_id, size_t size,
                    rc_error *err) {
  store_task_info t;
  int rc = store_task_get(q->st, task_id, &t, err);
  if (rc != RC_OK) return rc;
  free(t.result);
  rc_copy(case_id, size, t.case_id);
  return RC_OK;
}

int query_case_visible(query *q, const char *case_id, const store_scope *scope,
                       int *visible, rc_error *err) {
  if (!scope || !scope->queues) {
    *visible = 1;
    return RC_OK;
  }
  return store_case_visible(q->st, case_id, scope, visible, err);
}

int query_last_contact(query *q, const char *case_id, const char *borrower_id,
                       char *channel, size_t size, rc_time *at,
                       rc_error *err) {
  return store_last_contact(q->st, case_id, borrower_id, channel, size, at,
                            err);
}

int query_error_page(query *q, int64_t before, int limit, store_row_fn fn,
                     void *ud, rc_error *err) {
  return store_errors_page(q->st, before, limit, fn, ud, err);
}

/* Hands a report table's rows on with the table's name. */
typedef struct table {
  query_table_fn fn;
  void *ud;
  const char *name;
} table;

static int table_row(void *ud, const store_value *cols, int n) {
  table *t = ud;
  return t->fn(t->ud, t->name, cols, n);
}

int query_report(query *q, const char *today, query_table_fn fn, void *ud,
                 query_totals *totals, rc_error *err) {
  table t = {fn, ud, NULL};
  int rc;
  store *st = q->st;
  memset(totals, 0, sizeof *totals);
#define TABLE(name_, call_) (t.name = (name_), (rc = (call_)) != RC_OK)
  if (TABLE("states", store_report_states(st, table_row, &t, err)) ||
      TABLE("dpd", store_report_dpd(st, today, table_row, &t, err)) ||
      TABLE("promises", store_report_promises(st, table_row, &t, err)) ||
      TABLE("installments",
            store_report_installments(st, table_row, &t, err)) ||
      TABLE("contacts", store_report_contacts(st, table_row, &t, err)) ||
      TABLE("refusals", store_report_refusals(st, table_row, &t, err)) ||
      TABLE("variants", store_report_variants(st, table_row, &t, err)) ||
      TABLE("money", store_report_money(st, table_row, &t, err)))
    return rc;
#undef TABLE
  /* Money is in the "money" table, by currency: a total of every
   * payment whatever its case's currency was none. */
  if ((rc = store_timers_count(st, &totals->timers_pending, err)) != RC_OK)
    return rc;
  return store_events_pending(st, &totals->events_pending, err);
}

int query_gauges_read(query *q, rc_time now, query_gauges *out, rc_error *err) {
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = store_timers_count(q->st, &out->timers_pending, err)) != RC_OK ||
      (rc = store_timers_overdue(q->st, now, &out->timers_overdue, err)) !=
          RC_OK ||
      (rc = store_figures_messages(q->st, "queued", &out->messages_queued,
                                   err)) != RC_OK)
    return rc;
  return store_figures_messages(q->st, "deferred", &out->messages_deferred,
                                err);
}

int query_events_pending(query *q, int64_t *count, rc_error *err) {
  return store_events_pending(q->st, count, err);
}

int query_meta(query *q, const char *key, char *buf, size_t size,
               rc_error *err) {
  return store_meta_get(q->st, key, buf, size, err);
}

int query_user(query *q, const char *name, store_user *out, rc_error *err) {
  return store_user_get(q->st, name, out, NULL, 0, err);
}

int query_users(query *q, store_row_fn fn, void *ud, rc_error *err) {
  return store_users_each(q->st, fn, ud, err);
}

int query_session(query *q, const char *id, store_session *out, rc_error *err) {
  return store_session_get(q->st, id, out, err);
}

int query_contacts(query *q, const char *case_id, const char *borrower_id,
                   const char (*channels)[24], int nchannels, rc_time since,
                   int limit, int64_t exclude_message, int64_t *count,
                   rc_time *oldest, rc_error *err) {
  rc_time stack[64], *times = stack;
  int n = 0, rc = RC_OK;
  *count = 0;
  *oldest = 0;
  if (limit <= 0) return RC_OK;
  if (limit > 64 && !(times = malloc(sizeof *times * (size_t)limit)))
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  for (int i = 0; i < nchannels && rc == RC_OK; i++)
    rc = store_contact_times(q->st, case_id, borrower_id, channels[i], since,
                             exclude_message, limit, times, &n, err);
  if (rc == RC_OK) {
    *count = n;
    if (n > 0) *oldest = times[n - 1];
  }
  if (times != stack) free(times);
  return rc;
}

int query_last_conversation(query *q, const char *borrower_id, rc_time *at,
                            rc_error *err) {
  return store_last_conversation(q->st, borrower_id, at, err);
}

int query_outbox_due(query *q, rc_time now, int max, store_outgoing **out,
                     int *n, rc_error *err) {
  return store_outbox_due(q->st, now, max, out, n, err);
}

int query_figures_states(query *q, store_row_fn fn, void *ud, rc_error *err) {
  return store_figures_states(q->st, fn, ud, err);
}

int query_figures_due(query *q, store_row_fn fn, void *ud, rc_error *err) {
  return store_figures_due(q->st, fn, ud, err);
}

int query_figures_promises(query *q, store_row_fn fn, void *ud, rc_error *err) {
  return store_figures_promises(q->st, fn, ud, err);
}

int query_figures_queues(query *q, store_row_fn fn, void *ud, rc_error *err) {
  return store_figures_queues(q->st, fn, ud, err);
}

int query_figures_arms(query *q, store_row_fn fn, void *ud, rc_error *err) {
  return store_figures_arms(q->st, fn, ud, err);
}

int query_figures_days(query *q, const char *figure, const char *from,
                       const char *to, store_row_fn fn, void *ud,
                       rc_error *err) {
  return store_figures_days(q->st, figure, from, to, fn, ud, err);
}

int query_rolls_month(query *q, const char *month, store_row_fn fn, void *ud,
                      rc_error *err) {
  return store_rolls_month(q->st, month, fn, ud, err);
}

int query_outbox_page(query *q, const char *const *statuses, int nstatuses,
                      const char *channel, int64_t after, int limit,
                      int64_t *resume, store_row_fn fn, void *ud,
                      rc_error *err) {
  return store_outbox_page(q->st, statuses, nstatuses, channel, after, limit,
                           resume, fn, ud, err);
}

int query_messages_count(query *q, const char *status, int64_t *count,
                         rc_error *err) {
  return store_figures_messages(q->st, status, count, err);
}

int query_sim(query *q, int which, int64_t after, store_row_fn fn, void *ud,
              rc_error *err) {
  return store_sim_read(q->st, which, after, fn, ud, err);
}
