/* The fault backend: it stands in front of another backend's table and
 * makes chosen operations fail with RC_ESTORE, the way a database that
 * broke mid-way would, so that a test can show what the engine and the
 * guard do then (fail closed) for every operation in turn, on any
 * backend. SQLite's own I/O faults are tests/test_faults.c's VFS; this
 * is the same sweep one level up, at the operations table. Rollbacks are
 * never failed: a backend that cannot roll back has lost its connection,
 * which the engine sees at the next operation anyway. Tests only: one
 * set of switches for the process. */
#include <stdlib.h>
#include <string.h>

#include "store/backend.h"
#include "store/fault.h"

static struct {
  int installed;         /* stores opened now go behind the fault backend */
  const store_ops *real; /* the backend behind it */
  int armed;
  char op[32]; /* the operation to fail; "" for any */
  long skip;   /* calls of it to let through first */
  int every;   /* then fail every call, not only the next */
  long fired;
} fault;

void store_fault_install(int on) {
  fault.installed = on;
}

void store_fault_arm(const char *op, long skip, int every) {
  snprintf(fault.op, sizeof fault.op, "%s", op ? op : "");
  fault.skip = skip;
  fault.every = every;
  fault.fired = 0;
  fault.armed = 1;
}

long store_fault_disarm(void) {
  fault.armed = 0;
  return fault.fired;
}

static int fault_fires(const char *op, rc_error *err) {
  if (!fault.armed || (fault.op[0] && strcmp(fault.op, op) != 0)) return 0;
  if (fault.skip > 0) {
    fault.skip--;
    return 0;
  }
  if (!fault.every) fault.armed = 0;
  fault.fired++;
  rc_error_set(err, RC_ESTORE, NULL, "database: %s: injected fault", op);
  return 1;
}

static int f_open(store **out, const char *where, int flags, rc_error *err) {
  int rc = fault.real->open(out, where, flags, err);
  if (rc == RC_OK) (*out)->ops = &store_fault_ops;
  return rc;
}

static void f_close(store *st) {
  fault.real->close(st);
}

static int f_scratch(store *st) {
  return fault.real->scratch(st);
}

static int f_writable(store *st, rc_error *err) {
  if (fault_fires("writable", err)) {
    return RC_ESTORE;
  }
  return fault.real->writable(st, err);
}

static void f_checkpoint_every(store *st, int pages) {
  fault.real->checkpoint_every(st, pages);
}

static int f_checkpoint_apart(store *st, int pages, int most,
                              rc_error *err) {
  return fault.real->checkpoint_apart(st, pages, most, err);
}

static int f_durable(store *st, int later, rc_error *err) {
  return fault.real->durable(st, later, err);
}

static void f_import_next(store *st) {
  if (fault.real->import_next) fault.real->import_next(st);
}

static int f_copy(const char *src, const char *dst, rc_error *err) {
  return fault.real->copy(src, dst, err);
}

static int f_files(const char *where, char (*paths)[4096], int max) {
  return fault.real->files(where, paths, max);
}

static int f_begin(store *st, int nested, rc_error *err) {
  if (fault_fires("begin", err)) {
    return RC_ESTORE;
  }
  return fault.real->begin(st, nested, err);
}

static int f_end(store *st, int nested, int keep, rc_error *err) {
  if (keep && fault_fires("end", err)) {
    return RC_ESTORE;
  }
  return fault.real->end(st, nested, keep, err);
}

static int f_timer_next_due(store *st, rc_time *due, rc_error *err) {
  if (fault_fires("timer_next_due", err)) {
    return RC_ESTORE;
  }
  return fault.real->timer_next_due(st, due, err);
}

static int f_timers_claim(store *st, rc_time until, int max,
                          const store_lease *lease, store_timer **out, int *n,
                          rc_error *err) {
  if (fault_fires("timers_claim", err)) {
    *out = NULL;
    if (n) *n = 0;
    return RC_ESTORE;
  }
  return fault.real->timers_claim(st, until, max, lease, out, n, err);
}

static int f_timer_finish(store *st, const store_timer *t, int *deleted,
                          rc_error *err) {
  if (fault_fires("timer_finish", err)) {
    if (deleted) *deleted = 0;
    return RC_ESTORE;
  }
  return fault.real->timer_finish(st, t, deleted, err);
}

static int f_events_claim(store *st, int max, const store_lease *lease,
                          store_event **out, int *n, rc_error *err) {
  if (fault_fires("events_claim", err)) {
    *out = NULL;
    if (n) *n = 0;
    return RC_ESTORE;
  }
  return fault.real->events_claim(st, max, lease, out, n, err);
}

static int f_event_finish(store *st, int64_t id, int how, rc_error *err) {
  if (fault_fires("event_finish", err)) {
    return RC_ESTORE;
  }
  return fault.real->event_finish(st, id, how, err);
}

static int f_outbox_claim(store *st, rc_time now, int max,
                          const store_lease *lease, store_outgoing **out,
                          int *n, rc_error *err) {
  if (fault_fires("outbox_claim", err)) {
    *out = NULL;
    if (n) *n = 0;
    return RC_ESTORE;
  }
  return fault.real->outbox_claim(st, now, max, lease, out, n, err);
}

static int f_release(store *st, int what, int64_t id, const store_lease *lease,
                     rc_error *err) {
  if (fault_fires("release", err)) {
    return RC_ESTORE;
  }
  return fault.real->release(st, what, id, lease, err);
}

static int f_meta_get(store *st, const char *key, char *buf, size_t size,
                      rc_error *err) {
  if (fault_fires("meta_get", err)) {
    return RC_ESTORE;
  }
  return fault.real->meta_get(st, key, buf, size, err);
}

static int f_meta_put(store *st, const char *key, const char *value,
                      rc_error *err) {
  if (fault_fires("meta_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->meta_put(st, key, value, err);
}

static int f_borrower_put(store *st, const store_borrower *b, rc_error *err) {
  if (fault_fires("borrower_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->borrower_put(st, b, err);
}

static int f_borrower_flag(store *st, const char *borrower_id, store_flag flag,
                           int value, rc_error *err) {
  if (fault_fires("borrower_flag", err)) {
    return RC_ESTORE;
  }
  return fault.real->borrower_flag(st, borrower_id, flag, value, err);
}

static int f_case_insert(store *st, const store_case *c, rc_error *err) {
  if (fault_fires("case_insert", err)) {
    return RC_ESTORE;
  }
  return fault.real->case_insert(st, c, err);
}

static int f_case_write(store *st, const store_case_change *ch, rc_error *err) {
  if (fault_fires("case_write", err)) {
    return RC_ESTORE;
  }
  return fault.real->case_write(st, ch, err);
}

static int f_event_put(store *st, const char *case_id, const char *type,
                       const char *data, rc_time at, const char *status,
                       rc_error *err) {
  if (fault_fires("event_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->event_put(st, case_id, type, data, at, status, err);
}

static int f_event_key(store *st, const char *key, const char *case_id,
                       const char *type, rc_time at, int *duplicate,
                       rc_error *err) {
  if (fault_fires("event_key", err)) {
    if (duplicate) *duplicate = 0;
    return RC_ESTORE;
  }
  return fault.real->event_key(st, key, case_id, type, at, duplicate, err);
}

static int f_events_retry(store *st, const char *case_id, int *count,
                          rc_error *err) {
  if (fault_fires("events_retry", err)) {
    if (count) *count = 0;
    return RC_ESTORE;
  }
  return fault.real->events_retry(st, case_id, count, err);
}

static int f_timer_put(store *st, const char *case_id, rc_time due,
                       const char *event, const char *data, int scoped,
                       rc_error *err) {
  if (fault_fires("timer_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->timer_put(st, case_id, due, event, data, scoped, err);
}

static int f_timers_cancel(store *st, const char *case_id, int which,
                           const char *event, int *count, rc_error *err) {
  if (fault_fires("timers_cancel", err)) {
    if (count) *count = 0;
    return RC_ESTORE;
  }
  return fault.real->timers_cancel(st, case_id, which, event, count, err);
}

static int f_journal_run(store *st, const char *case_id, rc_time at, int n,
                         const char *rows, size_t len, rc_error *err) {
  if (fault_fires("journal_run", err)) {
    return RC_ESTORE;
  }
  return fault.real->journal_run(st, case_id, at, n, rows, len, err);
}

static int f_message_put(store *st, const store_message *m, int64_t *id,
                         rc_error *err) {
  if (fault_fires("message_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->message_put(st, m, id, err);
}

static int f_message_update(store *st, int64_t id,
                            const store_message_change *ch, int *changed,
                            rc_error *err) {
  if (fault_fires("message_update", err)) {
    if (changed) *changed = 0;
    return RC_ESTORE;
  }
  return fault.real->message_update(st, id, ch, changed, err);
}

static int f_messages_cancel_deferred(store *st, const char *case_id,
                                      const char *reason, int64_t spare,
                                      rc_error *err) {
  if (fault_fires("messages_cancel_deferred", err)) {
    return RC_ESTORE;
  }
  return fault.real->messages_cancel_deferred(st, case_id, reason, spare, err);
}

static int f_messages_step(store *st, const char *case_id, const int64_t *ids,
                           int n, int64_t step, rc_error *err) {
  if (fault_fires("messages_step", err)) return RC_ESTORE;
  return fault.real->messages_step(st, case_id, ids, n, step, err);
}

static int f_task_put(store *st, const store_task *t, int64_t *id,
                      rc_error *err) {
  if (fault_fires("task_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->task_put(st, t, id, err);
}

static int f_task_complete(store *st, int64_t id, const char *outcome,
                           const char *result, rc_time at, rc_error *err) {
  if (fault_fires("task_complete", err)) {
    return RC_ESTORE;
  }
  return fault.real->task_complete(st, id, outcome, result, at, err);
}

static int f_task_take(store *st, int64_t id, const char *user, int how,
                       char *case_id, size_t size, rc_error *err) {
  if (fault_fires("task_take", err)) {
    return RC_ESTORE;
  }
  return fault.real->task_take(st, id, user, how, case_id, size, err);
}

static int f_tasks_cancel_scoped(store *st, const char *case_id,
                                 rc_error *err) {
  if (fault_fires("tasks_cancel_scoped", err)) {
    return RC_ESTORE;
  }
  return fault.real->tasks_cancel_scoped(st, case_id, err);
}

static int f_payment_put(store *st, const char *case_id, rc_money amount,
                         const char *currency, const char *ref, rc_time at,
                         rc_error *err) {
  if (fault_fires("payment_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->payment_put(st, case_id, amount, currency, ref, at, err);
}

static int f_promise_put(store *st, const char *case_id, rc_money amount,
                         const char *currency, const char *by_date, rc_time at,
                         int64_t *id, rc_error *err) {
  if (fault_fires("promise_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->promise_put(st, case_id, amount, currency, by_date, at, id,
                                 err);
}

static int f_promise_update(store *st, int64_t id, rc_money paid,
                            const char *status, rc_error *err) {
  if (fault_fires("promise_update", err)) {
    return RC_ESTORE;
  }
  return fault.real->promise_update(st, id, paid, status, err);
}

static int f_promise_user_put(store *st, int64_t promise_id, const char *user,
                              rc_error *err) {
  if (fault_fires("promise_user_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->promise_user_put(st, promise_id, user, err);
}

static int f_plan_put(store *st, const store_plan *p, int64_t *id,
                      rc_error *err) {
  if (fault_fires("plan_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->plan_put(st, p, id, err);
}

static int f_installment_update(store *st, int64_t id, rc_money paid,
                                const char *status, rc_error *err) {
  if (fault_fires("installment_update", err)) {
    return RC_ESTORE;
  }
  return fault.real->installment_update(st, id, paid, status, err);
}

static int f_plan_status(store *st, int64_t plan_id, const char *status,
                         rc_error *err) {
  if (fault_fires("plan_status", err)) {
    return RC_ESTORE;
  }
  return fault.real->plan_status(st, plan_id, status, err);
}

static int f_variant_put(store *st, const char *case_id, const char *experiment,
                         const char *arm, rc_error *err) {
  if (fault_fires("variant_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->variant_put(st, case_id, experiment, arm, err);
}

static int f_user_put(store *st, const store_user *u, const char *hash,
                      rc_error *err) {
  if (fault_fires("user_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->user_put(st, u, hash, err);
}

static int f_user_update(store *st, const char *name, int disabled,
                         const char *hash, const char *display,
                         const char *queues, rc_error *err) {
  if (fault_fires("user_update", err)) {
    return RC_ESTORE;
  }
  return fault.real->user_update(st, name, disabled, hash, display, queues,
                                 err);
}

static int f_user_log(store *st, rc_time at, const char *name,
                      const char *change, const char *address, rc_error *err) {
  if (fault_fires("user_log", err)) {
    return RC_ESTORE;
  }
  return fault.real->user_log(st, at, name, change, address, err);
}

static int f_session_put(store *st, const char *id, const char *name,
                         rc_time now, rc_time expires_at, const char *address,
                         rc_error *err) {
  if (fault_fires("session_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->session_put(st, id, name, now, expires_at, address, err);
}

static int f_session_touch(store *st, const char *id, rc_time now,
                           rc_error *err) {
  if (fault_fires("session_touch", err)) {
    return RC_ESTORE;
  }
  return fault.real->session_touch(st, id, now, err);
}

static int f_sessions_delete(store *st, int which, const char *id,
                             const char *name, rc_time now, rc_time idle_before,
                             int *deleted, rc_error *err) {
  if (fault_fires("sessions_delete", err)) {
    if (deleted) *deleted = 0;
    return RC_ESTORE;
  }
  return fault.real->sessions_delete(st, which, id, name, now, idle_before,
                                     deleted, err);
}

static int f_figure_add(store *st, const char *figure, const char *day,
                        const char *a, const char *b, const char *c, int64_t n,
                        int64_t amount, rc_error *err) {
  if (fault_fires("figure_add", err)) {
    return RC_ESTORE;
  }
  return fault.real->figure_add(st, figure, day, a, b, c, n, amount, err);
}

static int f_roll_log(store *st, const char *month, const char *case_id,
                      const char *due_date, int status, const char *now_due,
                      int now_status, const char *opened, rc_error *err) {
  if (fault_fires("roll_log", err)) {
    return RC_ESTORE;
  }
  return fault.real->roll_log(st, month, case_id, due_date, status, now_due,
                              now_status, opened, err);
}

static int f_roll_put(store *st, const char *month, int from, int to,
                      int64_t cases, rc_error *err) {
  if (fault_fires("roll_put", err)) {
    return RC_ESTORE;
  }
  return fault.real->roll_put(st, month, from, to, cases, err);
}

static int f_rolls_forget(store *st, const char *before, rc_error *err) {
  if (fault_fires("rolls_forget", err)) {
    return RC_ESTORE;
  }
  return fault.real->rolls_forget(st, before, err);
}

static int f_case_get(store *st, const char *id, store_case *out,
                      rc_error *err) {
  if (fault_fires("case_get", err)) {
    memset(out, 0, sizeof *out);
    return RC_ESTORE;
  }
  return fault.real->case_get(st, id, out, err);
}

static int f_case_exists(store *st, const char *id, rc_error *err) {
  if (fault_fires("case_exists", err)) {
    return RC_ESTORE;
  }
  return fault.real->case_exists(st, id, err);
}

static int f_case_mover(store *st, const char *id, int64_t message,
                        int64_t *mover, int64_t *waits_on, rc_error *err) {
  if (fault_fires("case_mover", err)) return RC_ESTORE;
  return fault.real->case_mover(st, id, message, mover, waits_on, err);
}

static int f_case_exists_or_hold_opening(store *st, const char *id,
                                         rc_error *err) {
  if (fault_fires("case_exists_or_hold_opening", err)) return RC_ESTORE;
  return fault.real->case_exists_or_hold_opening(st, id, err);
}

static int f_hold_opening(store *st, rc_error *err) {
  if (fault_fires("hold_opening", err)) return RC_ESTORE;
  return fault.real->hold_opening(st, err);
}

static int f_borrower_get(store *st, const char *id, store_borrower *out,
                          rc_error *err) {
  if (fault_fires("borrower_get", err)) {
    memset(out, 0, sizeof *out);
    return RC_ESTORE;
  }
  return fault.real->borrower_get(st, id, out, err);
}

static int f_read_case_rows(store *st, int which, const char *id,
                            store_row_fn fn, void *ud, rc_error *err) {
  if (fault_fires("read_case_rows", err)) {
    return RC_ESTORE;
  }
  return fault.real->read_case_rows(st, which, id, fn, ud, err);
}

static int f_cases_each(store *st, const char *state, store_row_fn fn, void *ud,
                        rc_error *err) {
  if (fault_fires("cases_each", err)) {
    return RC_ESTORE;
  }
  return fault.real->cases_each(st, state, fn, ud, err);
}

static int f_journal_each(store *st, const char *case_id, int limit,
                          store_row_fn fn, void *ud, rc_error *err) {
  if (fault_fires("journal_each", err)) {
    return RC_ESTORE;
  }
  return fault.real->journal_each(st, case_id, limit, fn, ud, err);
}

static int f_read_report(store *st, int which, const char *arg, store_row_fn fn,
                         void *ud, rc_error *err) {
  if (fault_fires("read_report", err)) {
    return RC_ESTORE;
  }
  return fault.real->read_report(st, which, arg, fn, ud, err);
}

static int f_read_figures(store *st, int which, store_row_fn fn, void *ud,
                          rc_error *err) {
  if (fault_fires("read_figures", err)) {
    return RC_ESTORE;
  }
  return fault.real->read_figures(st, which, fn, ud, err);
}

static int f_figures_days(store *st, const char *figure, const char *from,
                          const char *to, store_row_fn fn, void *ud,
                          rc_error *err) {
  if (fault_fires("figures_days", err)) {
    return RC_ESTORE;
  }
  return fault.real->figures_days(st, figure, from, to, fn, ud, err);
}

static int f_read_count(store *st, int which, const char *arg, rc_time at,
                        int64_t *count, rc_error *err) {
  if (fault_fires("read_count", err)) {
    if (count) *count = 0;
    return RC_ESTORE;
  }
  return fault.real->read_count(st, which, arg, at, count, err);
}

static int f_read_total(store *st, int which, rc_money *total, rc_error *err) {
  if (fault_fires("read_total", err)) {
    return RC_ESTORE;
  }
  return fault.real->read_total(st, which, total, err);
}

static int f_task_get(store *st, int64_t id, store_task_info *out,
                      rc_error *err) {
  if (fault_fires("task_get", err)) {
    memset(out, 0, sizeof *out);
    return RC_ESTORE;
  }
  return fault.real->task_get(st, id, out, err);
}

static int f_promise_get(store *st, int64_t id, const char *case_id,
                         store_promise *out, rc_error *err) {
  if (fault_fires("promise_get", err)) {
    memset(out, 0, sizeof *out);
    return RC_ESTORE;
  }
  return fault.real->promise_get(st, id, case_id, out, err);
}

static int f_promise_user_get(store *st, int64_t promise_id, char *user,
                              size_t size, rc_error *err) {
  if (fault_fires("promise_user_get", err)) {
    return RC_ESTORE;
  }
  return fault.real->promise_user_get(st, promise_id, user, size, err);
}

static int f_installments_unpaid(store *st, const char *case_id,
                                 store_installment **out, int *n,
                                 rc_error *err) {
  if (fault_fires("installments_unpaid", err)) {
    *out = NULL;
    if (n) *n = 0;
    return RC_ESTORE;
  }
  return fault.real->installments_unpaid(st, case_id, out, n, err);
}

static int f_installment_get(store *st, int64_t id, store_installment *out,
                             char *plan_status, size_t size, rc_error *err) {
  if (fault_fires("installment_get", err)) {
    memset(out, 0, sizeof *out);
    return RC_ESTORE;
  }
  return fault.real->installment_get(st, id, out, plan_status, size, err);
}

static int f_payment_by_ref(store *st, const char *ref, char *case_id,
                            size_t size, rc_money *amount, char *currency,
                            rc_error *err) {
  if (fault_fires("payment_by_ref", err)) {
    return RC_ESTORE;
  }
  return fault.real->payment_by_ref(st, ref, case_id, size, amount, currency,
                                    err);
}

static int f_variant_get(store *st, const char *case_id, const char *experiment,
                         char *arm, size_t size, rc_error *err) {
  if (fault_fires("variant_get", err)) {
    return RC_ESTORE;
  }
  return fault.real->variant_get(st, case_id, experiment, arm, size, err);
}

static int f_message_case(store *st, int64_t id, char *case_id, size_t size,
                          char status[16], rc_error *err) {
  if (fault_fires("message_case", err)) {
    return RC_ESTORE;
  }
  return fault.real->message_case(st, id, case_id, size, status, err);
}

static int f_message_read(store *st, int64_t id, store_row_fn fn, void *ud,
                          rc_error *err) {
  if (fault_fires("message_read", err)) {
    return RC_ESTORE;
  }
  return fault.real->message_read(st, id, fn, ud, err);
}

static int f_contact_times(store *st, const char *case_id,
                           const char *borrower_id, const char *channel,
                           rc_time since, int64_t exclude_message, int max,
                           rc_time *times, int *n, rc_error *err) {
  if (fault_fires("contact_times", err)) {
    if (n) *n = 0;
    return RC_ESTORE;
  }
  return fault.real->contact_times(st, case_id, borrower_id, channel, since,
                                   exclude_message, max, times, n, err);
}

static int f_last_conversation(store *st, const char *borrower_id, rc_time *at,
                               rc_error *err) {
  if (fault_fires("last_conversation", err)) {
    return RC_ESTORE;
  }
  return fault.real->last_conversation(st, borrower_id, at, err);
}

static int f_last_contact(store *st, const char *case_id,
                          const char *borrower_id, char *channel, size_t size,
                          rc_time *at, rc_error *err) {
  if (fault_fires("last_contact", err)) {
    return RC_ESTORE;
  }
  return fault.real->last_contact(st, case_id, borrower_id, channel, size, at,
                                  err);
}

static int f_reply_case(store *st, const char *from, char *case_id, size_t size,
                        rc_error *err) {
  if (fault_fires("reply_case", err)) {
    return RC_ESTORE;
  }
  return fault.real->reply_case(st, from, case_id, size, err);
}

static int f_cases_phone(store *st, const char *phone, const char *after,
                         int limit, const store_scope *scope, store_row_fn fn,
                         void *ud, rc_error *err) {
  if (fault_fires("cases_phone", err)) {
    return RC_ESTORE;
  }
  return fault.real->cases_phone(st, phone, after, limit, scope, fn, ud, err);
}

static int f_cases_page(store *st, const char *state, const char *queue,
                        const char *after, int limit, int window,
                        const store_scope *scope, char *window_end, size_t size,
                        store_row_fn fn, void *ud, rc_error *err) {
  if (fault_fires("cases_page", err)) {
    return RC_ESTORE;
  }
  return fault.real->cases_page(st, state, queue, after, limit, window, scope,
                                window_end, size, fn, ud, err);
}

static int f_tasks_page(store *st, const char *queue, const char *status,
                        const char *assignee, const char *queues, int64_t after,
                        int limit, store_row_fn fn, void *ud, rc_error *err) {
  if (fault_fires("tasks_page", err)) {
    return RC_ESTORE;
  }
  return fault.real->tasks_page(st, queue, status, assignee, queues, after,
                                limit, fn, ud, err);
}

static int f_journal_page(store *st, const char *case_id, int64_t after,
                          int limit, store_row_fn fn, void *ud, rc_error *err) {
  if (fault_fires("journal_page", err)) {
    return RC_ESTORE;
  }
  return fault.real->journal_page(st, case_id, after, limit, fn, ud, err);
}

static int f_errors_page(store *st, int64_t before, int limit, store_row_fn fn,
                         void *ud, rc_error *err) {
  if (fault_fires("errors_page", err)) {
    return RC_ESTORE;
  }
  return fault.real->errors_page(st, before, limit, fn, ud, err);
}

static int f_outbox_page(store *st, const char *const *statuses, int nstatuses,
                         const char *channel, int64_t after, int limit,
                         int64_t *resume, store_row_fn fn, void *ud,
                         rc_error *err) {
  if (fault_fires("outbox_page", err)) {
    return RC_ESTORE;
  }
  return fault.real->outbox_page(st, statuses, nstatuses, channel, after, limit,
                                 resume, fn, ud, err);
}

static int f_work_page(store *st, const char *queue, rc_time now, int part,
                       const store_work_cursor *after, const char *user,
                       int only_open, int limit, store_row_fn fn, void *ud,
                       rc_error *err) {
  if (fault_fires("work_page", err)) {
    return RC_ESTORE;
  }
  return fault.real->work_page(st, queue, now, part, after, user, only_open,
                               limit, fn, ud, err);
}

static int f_work_queues(store *st, store_row_fn fn, void *ud, rc_error *err) {
  if (fault_fires("work_queues", err)) {
    return RC_ESTORE;
  }
  return fault.real->work_queues(st, fn, ud, err);
}

static int f_work_counts(store *st, const char *queue, rc_time now,
                         rc_time day_end, const char *user, int64_t *due_now,
                         int64_t *today, rc_error *err) {
  if (fault_fires("work_counts", err)) {
    return RC_ESTORE;
  }
  return fault.real->work_counts(st, queue, now, day_end, user, due_now, today,
                                 err);
}

static int f_work_areas(store *st, const char *queue, rc_time day_end,
                        const char *user, int max, store_row_fn fn, void *ud,
                        rc_error *err) {
  if (fault_fires("work_areas", err)) {
    return RC_ESTORE;
  }
  return fault.real->work_areas(st, queue, day_end, user, max, fn, ud, err);
}

static int f_work_promises(store *st, const char *status, const char *from,
                           const char *to, const char *after_date,
                           int64_t after_id, const store_scope *scope,
                           int limit, store_row_fn fn, void *ud,
                           rc_error *err) {
  if (fault_fires("work_promises", err)) {
    return RC_ESTORE;
  }
  return fault.real->work_promises(st, status, from, to, after_date, after_id,
                                   scope, limit, fn, ud, err);
}

static int f_work_promises_count(store *st, const char *status,
                                 const char *from, const char *to,
                                 const store_scope *scope, int64_t *count,
                                 rc_error *err) {
  if (fault_fires("work_promises_count", err)) {
    if (count) *count = 0;
    return RC_ESTORE;
  }
  return fault.real->work_promises_count(st, status, from, to, scope, count,
                                         err);
}

static int f_case_visible(store *st, const char *case_id,
                          const store_scope *scope, int *visible,
                          rc_error *err) {
  if (fault_fires("case_visible", err)) {
    if (visible) *visible = 0;
    return RC_ESTORE;
  }
  return fault.real->case_visible(st, case_id, scope, visible, err);
}

static int f_users_each(store *st, store_row_fn fn, void *ud, rc_error *err) {
  if (fault_fires("users_each", err)) {
    return RC_ESTORE;
  }
  return fault.real->users_each(st, fn, ud, err);
}

static int f_user_get(store *st, const char *name, store_user *out, char *hash,
                      size_t size, rc_error *err) {
  if (fault_fires("user_get", err)) {
    memset(out, 0, sizeof *out);
    return RC_ESTORE;
  }
  return fault.real->user_get(st, name, out, hash, size, err);
}

static int f_session_get(store *st, const char *id, store_session *out,
                         rc_error *err) {
  if (fault_fires("session_get", err)) {
    memset(out, 0, sizeof *out);
    return RC_ESTORE;
  }
  return fault.real->session_get(st, id, out, err);
}

static int f_rolls(store *st, const char *month, int logged, store_row_fn fn,
                   void *ud, rc_error *err) {
  if (fault_fires("rolls", err)) {
    return RC_ESTORE;
  }
  return fault.real->rolls(st, month, logged, fn, ud, err);
}

static int f_cases_below_version(store *st, const char *workflow, int below,
                                 store_row_fn fn, void *ud, rc_error *err) {
  if (fault_fires("cases_below_version", err)) {
    return RC_ESTORE;
  }
  return fault.real->cases_below_version(st, workflow, below, fn, ud, err);
}

static int f_sim_read(store *st, int which, int64_t after, store_row_fn fn,
                      void *ud, rc_error *err) {
  if (fault_fires("sim_read", err)) {
    return RC_ESTORE;
  }
  return fault.real->sim_read(st, which, after, fn, ud, err);
}

/* --- moving a book (branch "migrate") ------------------------------------ */

static int f_book_rows(store *st, const char *table, store_row_fn fn, void *ud,
                       rc_error *err) {
  if (fault_fires("book_rows", err)) return RC_ESTORE;
  return fault.real->book_rows(st, table, fn, ud, err);
}

static int f_book_put(store *st, const char *table, const store_value *cols,
                      int ncols, rc_error *err) {
  if (fault_fires("book_put", err)) return RC_ESTORE;
  return fault.real->book_put(st, table, cols, ncols, err);
}

static int f_book_figures(store *st, store_row_fn fn, void *ud,
                          rc_error *err) {
  if (fault_fires("book_figures", err)) return RC_ESTORE;
  return fault.real->book_figures(st, fn, ud, err);
}

const store_ops store_fault_ops = {
    .name = "fault",
    .open = f_open,
    .close = f_close,
    .scratch = f_scratch,
    .writable = f_writable,
    .checkpoint_every = f_checkpoint_every,
    .copy = f_copy,
    .files = f_files,
    .begin = f_begin,
    .end = f_end,
    .timer_next_due = f_timer_next_due,
    .timers_claim = f_timers_claim,
    .timer_finish = f_timer_finish,
    .events_claim = f_events_claim,
    .event_finish = f_event_finish,
    .outbox_claim = f_outbox_claim,
    .release = f_release,
    .meta_get = f_meta_get,
    .meta_put = f_meta_put,
    .borrower_put = f_borrower_put,
    .borrower_flag = f_borrower_flag,
    .case_insert = f_case_insert,
    .case_write = f_case_write,
    .event_put = f_event_put,
    .event_key = f_event_key,
    .events_retry = f_events_retry,
    .timer_put = f_timer_put,
    .timers_cancel = f_timers_cancel,
    .journal_run = f_journal_run,
    .message_put = f_message_put,
    .message_update = f_message_update,
    .messages_cancel_deferred = f_messages_cancel_deferred,
    .messages_step = f_messages_step,
    .task_put = f_task_put,
    .task_complete = f_task_complete,
    .task_take = f_task_take,
    .tasks_cancel_scoped = f_tasks_cancel_scoped,
    .payment_put = f_payment_put,
    .promise_put = f_promise_put,
    .promise_update = f_promise_update,
    .promise_user_put = f_promise_user_put,
    .plan_put = f_plan_put,
    .installment_update = f_installment_update,
    .plan_status = f_plan_status,
    .variant_put = f_variant_put,
    .user_put = f_user_put,
    .user_update = f_user_update,
    .user_log = f_user_log,
    .session_put = f_session_put,
    .session_touch = f_session_touch,
    .sessions_delete = f_sessions_delete,
    .figure_add = f_figure_add,
    .roll_log = f_roll_log,
    .roll_put = f_roll_put,
    .rolls_forget = f_rolls_forget,
    .case_get = f_case_get,
    .case_exists = f_case_exists,
    .case_mover = f_case_mover,
    .case_exists_or_hold_opening = f_case_exists_or_hold_opening,
    .hold_opening = f_hold_opening,
    .borrower_get = f_borrower_get,
    .read_case_rows = f_read_case_rows,
    .cases_each = f_cases_each,
    .journal_each = f_journal_each,
    .read_report = f_read_report,
    .read_figures = f_read_figures,
    .figures_days = f_figures_days,
    .read_count = f_read_count,
    .read_total = f_read_total,
    .task_get = f_task_get,
    .promise_get = f_promise_get,
    .promise_user_get = f_promise_user_get,
    .installments_unpaid = f_installments_unpaid,
    .installment_get = f_installment_get,
    .payment_by_ref = f_payment_by_ref,
    .variant_get = f_variant_get,
    .message_case = f_message_case,
    .message_read = f_message_read,
    .contact_times = f_contact_times,
    .last_conversation = f_last_conversation,
    .last_contact = f_last_contact,
    .reply_case = f_reply_case,
    .cases_page = f_cases_page,
    .cases_phone = f_cases_phone,
    .tasks_page = f_tasks_page,
    .journal_page = f_journal_page,
    .errors_page = f_errors_page,
    .outbox_page = f_outbox_page,
    .work_page = f_work_page,
    .work_queues = f_work_queues,
    .work_counts = f_work_counts,
    .work_areas = f_work_areas,
    .work_promises = f_work_promises,
    .work_promises_count = f_work_promises_count,
    .case_visible = f_case_visible,
    .users_each = f_users_each,
    .user_get = f_user_get,
    .session_get = f_session_get,
    .rolls = f_rolls,
    .cases_below_version = f_cases_below_version,
    .sim_read = f_sim_read,
    /* moving a book (branch "migrate") */
    .book_rows = f_book_rows,
    .book_put = f_book_put,
    .book_figures = f_book_figures,
    /* p99 (session 8) */
    .checkpoint_apart = f_checkpoint_apart,
    .durable = f_durable,
    .import_next = f_import_next,
};

const store_ops *store_fault_wrap(const store_ops *ops) {
  if (!fault.installed) return ops;
  fault.real = ops;
  return &store_fault_ops;
}
