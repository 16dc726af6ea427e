/* What a store backend implements: one table of operations, the way
 * SQLite's VFS is an sqlite3_io_methods table and libuv's src/unix/ one
 * implementation of uv.h. store.c sits above the table (choosing the
 * backend from the database argument, holding a case's journal run,
 * naming the instance, freeing records); sqlite.c is one backend; fault.c
 * wraps another to make chosen operations fail (tests). Nothing but the
 * store's own files includes this header.
 *
 * The table has 112 operations (store.h had 148 calls), in these groups,
 * each there for a reason:
 *
 * - Lifecycle (5): open, close, scratch, writable, checkpoint_every. The
 *   database argument a backend accepts is its own business (store.c
 *   chose the backend from it).
 * - Files (3, no open store): copy, and the files a database is made of
 *   (SQLite: -wal, -shm beside it); callers never build those names.
 * - Transactions (2): begin and end, a batch (nested 0) or one event's
 *   savepoint inside it (nested 1). The engine runs up to a thousand
 *   events a batch; an event that fails rolls back its savepoint only.
 * - Claims (9): timers, pending events and outbox messages are claimed
 *   under a lease and then finished (or given back). SQLite, a single
 *   writer, may ignore the lease; PostgreSQL claims with FOR UPDATE SKIP
 *   LOCKED and claimed_by/claimed_until so that nodes share the work. See
 *   "Claims" below: the contract every backend keeps.
 * - Units of work (39): one operation for what the engine writes as one
 *   thing: a case's changed fields (case_write, where store.h had eight
 *   setters), a journal run, a plan with its installments, a message's
 *   move (status, release, recheck or delivery attempt: one op where
 *   there were four), and the other records (borrowers, events, timers,
 *   payments, promises, tasks, users, sessions, figures, rolls) an insert
 *   or update each.
 * - Reads (52): what the engine and query.c read, as units: a record, a
 *   page, a report, a family of counts. Families of one shape (the
 *   report's seven parts, the five figures, six counts, three totals, a
 *   case's rows of five kinds) are one operation with a `which`.
 * - And five of their own: moving a book (3), checkpoints off the
 *   service's loop (1), a commit synced only when something leaves (1).
 *   Several operations are optional (NULL where a backend has nothing to
 *   gain or nothing to do): store.c says what the front does without.
 *
 * Ids: each backend assigns its own (SQLite keeps its single-writer
 * scheme inside sqlite.c; PostgreSQL uses sequences). Shared code never
 * computes an id.
 *
 * Counters: the figures_* tables (states, due, messages, queues,
 * promises, arms, days) move with the writes that change them, in the
 * same transaction: case_insert and case_write (states, due, arms when a
 * case closes paid), message_put, message_update and
 * messages_cancel_deferred (messages), the task operations (queues),
 * promise_put and promise_update (promises), variant_put and payment_put
 * (arms), figure_add (days). SQLite keeps some with triggers and some in
 * C, summed until the commit; a backend may keep them all with triggers.
 * A rollback (or an event's savepoint rolled back) drops what it added.
 *
 * Errors: every operation returns RC_OK or an RC_* code with the rc_error
 * filled. A failed read is RC_ESTORE, never "nothing found"; RC_ENOTFOUND
 * only where the operation says so. A constraint failure the caller could
 * not have foreseen is RC_EINTERNAL (a store bug, logged by the edge that
 * answers it), not RC_EINVAL: the conflicts an operation expects (a known
 * payment ref or event key) it finds without failing a statement.
 *
 * Strings handed in live for the call only; records handed out are owned
 * by the caller and freed with store.h's *_free functions. */
#ifndef RECOUP_STORE_BACKEND_H
#define RECOUP_STORE_BACKEND_H

#include "jbuf.h"
#include "store/store.h"

typedef struct store_ops store_ops;

/* A journal run holds at most this many rows: a run's rows are numbered
 * from its id, so a page that starts inside a run looks back at most this
 * far for it (PostgreSQL's journal page; SQLite walks a case's runs from
 * its row, schema 17). */
enum { STORE_JOURNAL_RUN = 64 };

/* The part of every store that store.c owns. A backend's own struct
 * begins with it (`struct sq { store base; sqlite3 *db; ... }`), as every
 * VFS file begins with an sqlite3_file, so `(sq *)st` is the backend's
 * view of the store it gets. */
struct store {
  const store_ops *ops;
  char *where; /* owned: the database argument, as given */
  int depth;   /* 0 outside a transaction, 1 in a batch, 2 in a savepoint */
  /* Set by a backend when the database ended the transaction to break a
   * deadlock or a serialization conflict (PostgreSQL's 40P01, 40001):
   * nothing of it is kept, and running it again is the remedy. Cleared
   * by store_begin. */
  int contended;
  /* Set by a backend when the last write that failed was a row the book
   * refused (a constraint, a trigger's RAISE, a row a trigger dropped):
   * the fault of what was written, not of the database, which a full
   * disk or an I/O error is (those clear it). Cleared by store_begin
   * and by a rollback to a savepoint, which undoes the refused write. */
  int refused;
  /* Set by a backend whose open made the database (SQLite: the file was
   * not there). */
  int created;
  /* What the backend found odd and worked around, for store_notice;
   * notice_told once it was handed out. */
  char notice[320];
  int notice_told, notice_looked;
  /* Set by a backend when a light savepoint (store_savepoint_light) was
   * rolled back after its job wrote: what it wrote is still in the
   * transaction. Cleared by store_begin. Also set when a write the
   * backend kept for the whole transaction was refused at its commit
   * (which job's is not known: run it again with checked set), or while
   * a later job ran. STORE_REPLAY_JOB or STORE_REPLAY_GROUP. */
  int replay;
  /* Set by store_group_checked: a light savepoint sends and reads every
   * write of its job at its end, so that one the server refuses fails
   * its own job. */
  int checked;
  /* Journal rows of one case not yet written: they go to journal_run as
   * one run when another case's row comes, the run is full, before a
   * savepoint or transaction ends, or when the engine flushes it. */
  struct {
    jbuf rows;     /* "[[kind, state, version, at, detail], ..." */
    char *case_id; /* owned */
    size_t case_cap;
    rc_time at;
    int n;
    /* The last two states a row named, as row_open writes them ("due",
     * quote and comma); len 0: none. A step's rows name one or two. */
    struct {
      char raw[24], json[32];
      size_t len;
    } state[2];
  } run;
  /* (pgfast) Times the backend made its connection again after the
   * server dropped it: the service logs each (store_reconnects). */
  int reconnects;
  /* Set by the backend at open when other processes' batches may hold
   * work that its claims pass over (PostgreSQL: SKIP LOCKED): a claim then
   * is not the earliest pending work (store_claims_pass_held). */
  int passes_held;
  /* Since store_watch_puts: whether an event was queued, and the earliest
   * due time of a timer set (a write refused or rolled back counts too:
   * the batch loop only claims again sooner). */
  struct {
    int event;
    rc_time timer;
  } put;
};

/* Sets what the backend found odd (store_notice); one not handed out
 * yet is kept, the new one after it, as far as the room goes. */
void store_notice_set(store *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An event key's refusal: the key already names what `type` (the
 * earlier claim's type, NULL from a book before keys had one) stands
 * for, of was_case. A note's key is held under the core's own type,
 * which no caller ever wrote: said "a note", never "a '__note' event". */
int store_key_taken(rc_error *err, const char *key, const char *type,
                    const char *was_case);

/* store_lease, STORE_EVENT_*, STORE_TIMERS_*, STORE_TAKE_* and
 * STORE_SESSIONS_* are in store.h: the engine passes them too. */

/* What a claim is of (release). */
enum { STORE_CLAIM_TIMER, STORE_CLAIM_EVENT, STORE_CLAIM_MESSAGE };

/* read_case_rows: a case's rows of one kind (columns as store.h says). */
enum {
  STORE_ROWS_MESSAGES,
  STORE_ROWS_TASKS,
  STORE_ROWS_TIMERS,
  STORE_ROWS_PLAN,
  STORE_ROWS_BORROWER_CASES /* the id given is a borrower's */
};

/* read_report: the lines of one part of the report. */
enum {
  STORE_REPORT_STATES,
  STORE_REPORT_DPD, /* arg: the institution's date, "2026-01-31" */
  STORE_REPORT_PROMISES,
  STORE_REPORT_INSTALLMENTS,
  STORE_REPORT_CONTACTS,
  STORE_REPORT_REFUSALS,
  STORE_REPORT_VARIANTS,
  STORE_REPORT_VERSIONS,
  STORE_REPORT_MONEY /* by currency: paid, overpaid, reduced */
};

/* read_figures: the counters kept as cases change (store.h says the
 * columns). */
enum {
  STORE_FIGURES_STATES,
  STORE_FIGURES_DUE,
  STORE_FIGURES_PROMISES,
  STORE_FIGURES_QUEUES,
  STORE_FIGURES_ARMS
};

/* read_count: one number. */
enum {
  STORE_COUNT_EVENTS_PENDING,
  STORE_COUNT_TIMERS,
  STORE_COUNT_TIMERS_OVERDUE,   /* due at or before `at` */
  STORE_COUNT_FIGURES_MESSAGES, /* the figures' counter for status `arg` */
  STORE_COUNT_JOURNAL_KIND      /* journal rows of kind `arg` */
};

/* read_total: one sum of money over all cases. */
enum { STORE_TOTAL_PAID, STORE_TOTAL_OVERPAID, STORE_TOTAL_REDUCED };

/* Claims. The engine claims work, does it inside its batch transaction,
 * and finishes each item there; a batch that rolls back leaves its items
 * claimable again. Every backend guarantees:
 *
 * - Atomic: an item is handed to one claimant at a time. A claim holds
 *   until its item is finished, released, or lease->ms has passed since
 *   the claim (then anyone may claim it again: its node died).
 * - Ordered: timers by (due, id); events by id (arrival), skipping the
 *   events of cases in error, which the claim parks (as event_finish
 *   PARKED) so no later claim steps over them again; outbox messages
 *   first attempts oldest first, then retries by next attempt, id.
 * - Bounded: at most max items; *out is malloc'd (free with the
 *   matching *_free), *n how many; *n == 0 is "nothing due", which is
 *   not an error.
 * - Finished as given: timer_finish deletes the timer only if it is the
 *   one claimed (same id, case, due, event and data): *deleted is 0 when
 *   an event of the same batch cancelled it (even if another timer got
 *   its id since). The backend keeps nothing in memory across a
 *   rollback: a claim made in a rolled back transaction is gone with it.
 * - A PostgreSQL backend claims with
 *   UPDATE ... SET claimed_by = node, claimed_until = now + ms
 *   WHERE id IN (SELECT id ... AND (claimed_until IS NULL OR
 *   claimed_until < now) ORDER BY ... LIMIT max FOR UPDATE SKIP LOCKED)
 *   RETURNING ...; finishing deletes or updates the row WHERE claimed_by
 *   = node; release sets claimed_by/claimed_until back to NULL. */

struct store_ops {
  const char *name; /* "sqlite", "postgresql", "fault" */

  /* --- lifecycle ------------------------------------------------------ */
  /* Opens (creating and upgrading the schema) the database `where`: the
   * backend allocates its own struct (zeroed, `store base` first), sets
   * base.ops to its table and hands out &base; store.c sets base.where
   * and owns base.run and base.depth. */
  int (*open)(store **out, const char *where, int flags, rc_error *err);
  /* Rolls back an open transaction, frees everything. */
  void (*close)(store *st);
  /* A throwaway copy (what-if runs): commits need not reach the disk. */
  int (*scratch)(store *st);
  /* Can the database take writes now? A cheap write, rolled back. */
  int (*writable)(store *st, rc_error *err);
  /* How much a commit may leave to copy back later (SQLite: WAL pages
   * before a checkpoint); a backend without the notion ignores it. */
  void (*checkpoint_every)(store *st, int pages);

  /* --- files (no open store) -------------------------------------------- */
  /* A consistent copy of the database src at dst (dst must not exist). */
  int (*copy)(const char *src, const char *dst, rc_error *err);
  /* The files a database file is made of, itself first (where.h's
   * store_files): store.c removes and moves them together. A backend
   * without files answers 0. */
  int (*files)(const char *where, char (*paths)[4096], int max);
  /* store.h's store_book_present; NULL for a backend of files (a file is
   * checked as a file before it is opened). */
  int (*book_present)(const char *where);

  /* --- transactions ------------------------------------------------------ */
  /* nested 0: the batch transaction; 1: a savepoint inside it (one
   * event); 2: a savepoint the backend may leave unsaid (one of a group's
   * jobs, store_savepoint_light): rolled back after it wrote, it sets
   * base.replay instead. end with keep 1 commits / releases, 0 rolls
   * back. store.c
   * writes the journal run before a commit or a release and drops it at
   * a rollback, and keeps st->depth. */
  int (*begin)(store *st, int nested, rc_error *err);
  int (*end)(store *st, int nested, int keep, rc_error *err);

  /* --- claims (see "Claims") ------------------------------------------- */
  /* The earliest due time of a timer nobody holds; RC_ENOTFOUND when none
   * is pending. */
  int (*timer_next_due)(store *st, rc_time *due, rc_error *err);
  /* store.h: store_timer_first_due. NULL: the same as timer_next_due. */
  int (*timer_first_due)(store *st, rc_time *due, rc_error *err);
  int (*timers_claim)(store *st, rc_time until, int max,
                      const store_lease *lease, store_timer **out, int *n,
                      rc_error *err);
  int (*timer_finish)(store *st, const store_timer *t, int *deleted,
                      rc_error *err);
  int (*events_claim)(store *st, int max, const store_lease *lease,
                      store_event **out, int *n, rc_error *err);
  int (*event_finish)(store *st, int64_t id, int how, rc_error *err);
  /* Messages to deliver at `now` (queued, retry time reached); the
   * delivery's outcome is message_update with STORE_MSG_ATTEMPT. Today
   * the outbox reaches it through query.c (store_outbox_due) with lease
   * NULL, outside the engine's transaction: one process delivers. Two
   * nodes delivering need the outbox to claim under a lease and give its
   * claims back (release) when it stops. */
  int (*outbox_claim)(store *st, rc_time now, int max, const store_lease *lease,
                      store_outgoing **out, int *n, rc_error *err);
  /* Gives back claims not finished (STORE_CLAIM_*; id 0: every claim of
   * the lease's node of that kind). */
  int (*release)(store *st, int what, int64_t id, const store_lease *lease,
                 rc_error *err);
  /* store.h: store_timers_retry. NULL for a backend whose claims are
   * reads: nothing to do. */
  int (*timers_retry)(store *st, const char *case_id, int64_t ms,
                      const store_lease *lease, rc_error *err);

  /* --- units of work ------------------------------------------------------ */
  /* RC_ENOTFOUND when the key was never set; value NULL deletes. */
  int (*meta_get)(store *st, const char *key, char *buf, size_t size,
                  rc_error *err);
  int (*meta_put)(store *st, const char *key, const char *value, rc_error *err);

  /* Inserts or replaces; the contact list is replaced when ncontacts >= 0. */
  int (*borrower_put)(store *st, const store_borrower *b, rc_error *err);
  /* The same for the borrower of a case being opened, most often new;
   * optional (borrower_put stands in). */
  int (*borrower_put_opening)(store *st, const store_borrower *b,
                              rc_error *err);
  int (*borrower_flag)(store *st, const char *borrower_id, store_flag flag,
                       int value, rc_error *err);

  int (*case_insert)(store *st, const store_case *c, rc_error *err);
  /* optional (case_insert stands in): store_case_insert_opening */
  int (*case_insert_opening)(store *st, const store_case *c, rc_error *err);
  /* optional (NULL: keeps none): store_case_opening_lend */
  int (*case_opening_lend)(store *st, const char *id, store_case *out);
  /* optional (NULL: lends none): store_case_claimed_lend */
  int (*case_claimed_lend)(store *st, const char *id, store_case *out);
  /* optional (NULL: lends none): store_borrower_claimed_lend */
  int (*borrower_claimed_lend)(store *st, const char *id, store_borrower *out);
  /* The fields of ch->fields (STORE_CASE_*) from ch, one case, one write;
   * the figures' counters follow. Nothing for an unknown case. */
  int (*case_write)(store *st, const store_case_change *ch, rc_error *err);

  /* status NULL: pending, or parked (failed) when the case is in error;
   * RC_ENOTFOUND for an unknown case. */
  int (*event_put)(store *st, const char *case_id, const char *type,
                   const char *data, rc_time at, const char *status,
                   rc_error *err);
  /* An idempotency key: store.h's store_event_key_claim. */
  int (*event_key)(store *st, const char *key, const char *case_id,
                   const char *type, rc_time at, int *duplicate, rc_error *err);
  /* The case's failed events back to pending; *count how many. */
  int (*events_retry)(store *st, const char *case_id, int *count,
                      rc_error *err);

  int (*timer_put)(store *st, const char *case_id, rc_time due,
                   const char *event, const char *data, int scoped,
                   rc_error *err);
  /* which: STORE_TIMERS_*; event for _NAMED; *count (may be NULL). */
  int (*timers_cancel)(store *st, const char *case_id, int which,
                       const char *event, int *count, rc_error *err);

  /* One run of a case's journal: n rows, rows a JSON array of
   * [kind, state, version, at, detail] (detail JSON or null), the first
   * row's time `at`. Rows get ids in order; readers see them as rows. */
  int (*journal_run)(store *st, const char *case_id, rc_time at, int n,
                     const char *rows, size_t len, rc_error *err);

  int (*message_put)(store *st, const store_message *m, int64_t *id,
                     rc_error *err);
  /* A message's move (store.h: store_message_change); *changed is 0 when
   * only_if did not hold (changed may be NULL). */
  int (*message_update)(store *st, int64_t id, const store_message_change *ch,
                        int *changed, rc_error *err);
  int (*messages_cancel_deferred)(store *st, const char *case_id,
                                  const char *reason, int64_t spare,
                                  rc_error *err);
  /* store.h: store_messages_step. */
  int (*messages_step)(store *st, const char *case_id, const int64_t *ids,
                       int n, int64_t step, rc_error *err);

  int (*task_put)(store *st, const store_task *t, int64_t *id, rc_error *err);
  int (*task_complete)(store *st, int64_t id, const char *outcome,
                       const char *result, rc_time at, rc_error *err);
  /* how: STORE_TAKE_*; case_id (may be NULL) gets the task's case. */
  int (*task_take)(store *st, int64_t id, const char *user, int how,
                   char *case_id, size_t size, rc_error *err);
  int (*tasks_cancel_scoped)(store *st, const char *case_id, rc_error *err);

  /* RC_ECONFLICT for a ref already known. */
  int (*payment_put)(store *st, const char *case_id, rc_money amount,
                     const char *currency, const char *ref, rc_time at,
                     rc_error *err);

  int (*promise_put)(store *st, const char *case_id, rc_money amount,
                     const char *currency, const char *by_date, rc_time at,
                     int64_t *id, rc_error *err);
  int (*promise_update)(store *st, int64_t id, rc_money paid,
                        const char *status, rc_error *err);
  int (*promise_user_put)(store *st, int64_t promise_id, const char *user,
                          rc_error *err);

  /* A plan and its n installments, one unit; supersedes the open plan
   * when the engine says so (plan_status). */
  int (*plan_put)(store *st, const store_plan *p, int64_t *id, rc_error *err);
  int (*installment_update)(store *st, int64_t id, rc_money paid,
                            const char *status, rc_error *err);
  int (*plan_status)(store *st, int64_t plan_id, const char *status,
                     rc_error *err);

  int (*variant_put)(store *st, const char *case_id, const char *experiment,
                     const char *arm, rc_error *err);

  /* RC_ECONFLICT naming "name" when taken. */
  int (*user_put)(store *st, const store_user *u, const char *hash,
                  rc_error *err);
  /* disabled < 0 leaves it; hash NULL leaves it; display NULL leaves
   * it, "" clears it; queues (a JSON array) NULL leaves them;
   * RC_ENOTFOUND naming "name" for an unknown user. */
  int (*user_update)(store *st, const char *name, int disabled,
                     const char *hash, const char *display, const char *queues,
                     rc_error *err);
  /* address NULL or "" for none. */
  int (*user_log)(store *st, rc_time at, const char *name, const char *change,
                  const char *address, rc_error *err);

  int (*session_put)(store *st, const char *id, const char *name, rc_time now,
                     rc_time expires_at, const char *address, rc_error *err);
  int (*session_touch)(store *st, const char *id, rc_time now, rc_error *err);
  /* which: STORE_SESSIONS_*; *deleted how many (may be NULL). */
  int (*sessions_delete)(store *st, int which, const char *id, const char *name,
                         rc_time now, rc_time idle_before, int *deleted,
                         rc_error *err);

  /* Adds to a figure of a day (store.h: store_figure_add). */
  int (*figure_add)(store *st, const char *figure, const char *day,
                    const char *a, const char *b, const char *c, int64_t n,
                    int64_t amount, rc_error *err);
  int (*roll_log)(store *st, const char *month, const char *case_id,
                  const char *due_date, int status, const char *now_due,
                  int now_status, const char *opened, rc_error *err);
  int (*roll_put)(store *st, const char *month, int from, int to, int64_t cases,
                  rc_error *err);
  int (*rolls_forget)(store *st, const char *before, rc_error *err);

  /* --- reads (store.h and query.h say what each answers) ------------------ */
  int (*case_get)(store *st, const char *id, store_case *out, rc_error *err);
  /* store.h: store_case_get_held. A backend with one writer holds every
   * case its transaction reads already: NULL, and case_get serves. */
  int (*case_get_held)(store *st, const char *id, store_case *out,
                       rc_error *err);
  /* store.h: store_case_try_hold. NULL: case_get_held serves, never
   * busy. */
  int (*case_try_hold)(store *st, const char *id, store_case *out, int *busy,
                       rc_error *err);
  /* store.h: store_case_ahead. NULL: nothing to gain. */
  void (*case_ahead)(store *st, const char *id);
  /* store.h: store_pays_ahead. NULL: nothing to gain. */
  void (*pays_ahead)(store *st, int n, const char *const *cases,
                     const char *const *refs);
  int (*case_exists)(store *st, const char *id, rc_error *err);
  /* store.h: store_case_mover. */
  int (*case_mover)(store *st, const char *id, int64_t message, int64_t *mover,
                    int64_t *waits_on, rc_error *err);
  /* store.h: store_case_exists_or_hold_opening, store_hold_opening. A
   * backend with one writer holds the opening of cases already: its
   * first is case_exists, its second does nothing. */
  int (*case_exists_or_hold_opening)(store *st, const char *id, rc_error *err);
  /* store.h: store_case_exists_or_try_opening. NULL: the first serves,
   * never busy. */
  int (*case_exists_or_try_opening)(store *st, const char *id, int *busy,
                                    rc_error *err);
  int (*hold_opening)(store *st, rc_error *err);
  /* store.h: store_case_fresh. NULL: nothing to skip. */
  int (*case_fresh)(store *st, const char *id, rc_error *err);
  int (*borrower_get)(store *st, const char *id, store_borrower *out,
                      rc_error *err);
  int (*read_case_rows)(store *st, int which, const char *id, store_row_fn fn,
                        void *ud, rc_error *err);
  int (*cases_each)(store *st, const char *state, store_row_fn fn, void *ud,
                    rc_error *err);
  int (*journal_each)(store *st, const char *case_id, int limit,
                      store_row_fn fn, void *ud, rc_error *err);
  int (*read_report)(store *st, int which, const char *arg, store_row_fn fn,
                     void *ud, rc_error *err);
  int (*read_figures)(store *st, int which, store_row_fn fn, void *ud,
                      rc_error *err);
  int (*figures_days)(store *st, const char *figure, const char *from,
                      const char *to, store_row_fn fn, void *ud, rc_error *err);
  int (*read_count)(store *st, int which, const char *arg, rc_time at,
                    int64_t *count, rc_error *err);
  int (*read_total)(store *st, int which, rc_money *total, rc_error *err);
  int (*task_get)(store *st, int64_t id, store_task_info *out, rc_error *err);
  /* id > 0: that promise; else the case's open one. RC_ENOTFOUND. */
  int (*promise_get)(store *st, int64_t id, const char *case_id,
                     store_promise *out, rc_error *err);
  int (*promise_user_get)(store *st, int64_t promise_id, char *user,
                          size_t size, rc_error *err);
  int (*installments_unpaid)(store *st, const char *case_id,
                             store_installment **out, int *n, rc_error *err);
  int (*installment_get)(store *st, int64_t id, store_installment *out,
                         char *plan_status, size_t size, rc_error *err);
  /* currency: NULL, or 4 bytes for the payment's */
  int (*payment_by_ref)(store *st, const char *ref, char *case_id, size_t size,
                        rc_money *amount, char *currency, rc_error *err);
  int (*variant_get)(store *st, const char *case_id, const char *experiment,
                     char *arm, size_t size, rc_error *err);
  int (*message_case)(store *st, int64_t id, char *case_id, size_t size,
                      char status[16], rc_error *err);
  int (*message_read)(store *st, int64_t id, store_row_fn fn, void *ud,
                      rc_error *err);
  /* The guard's reads: store.h's store_contact_times,
   * store_last_conversation, store_last_contact, store_reply_case. */
  int (*contact_times)(store *st, const char *case_id, const char *borrower_id,
                       const char *channel, rc_time since,
                       int64_t exclude_message, int max, rc_time *times, int *n,
                       rc_error *err);
  /* store.h: store_borrower_decided. NULL: a read is never older than
   * the decision made on it (one writer). */
  int (*borrower_decided)(store *st, const store_borrower *b, rc_error *err);
  int (*last_conversation)(store *st, const char *borrower_id, rc_time *at,
                           rc_error *err);
  int (*last_contact)(store *st, const char *case_id, const char *borrower_id,
                      char *channel, size_t size, rc_time *at, rc_error *err);
  int (*reply_case)(store *st, const char *from, char *case_id, size_t size,
                    rc_error *err);
  /* Pages for the API and the console (store.h says each). */
  int (*cases_page)(store *st, const char *state, const char *queue,
                    const char *after, int limit, int window,
                    const store_scope *scope, char *window_end, size_t size,
                    store_row_fn fn, void *ud, rc_error *err);
  int (*cases_phone)(store *st, const char *phone, const char *after,
                     int limit, const store_scope *scope, store_row_fn fn,
                     void *ud, rc_error *err);
  int (*tasks_page)(store *st, const char *queue, const char *status,
                    const char *assignee, const char *queues, int64_t after,
                    int limit, store_row_fn fn, void *ud, rc_error *err);
  int (*journal_page)(store *st, const char *case_id, int64_t after, int limit,
                      store_row_fn fn, void *ud, rc_error *err);
  int (*errors_page)(store *st, int64_t before, int limit, store_row_fn fn,
                     void *ud, rc_error *err);
  int (*outbox_page)(store *st, const char *const *statuses, int nstatuses,
                     const char *channel, int64_t after, int limit,
                     int64_t *resume, store_row_fn fn, void *ud, rc_error *err);
  int (*work_page)(store *st, const char *queue, rc_time now, int part,
                   const store_work_cursor *after, const char *user,
                   int only_open, int limit, store_row_fn fn, void *ud,
                   rc_error *err);
  int (*work_queues)(store *st, store_row_fn fn, void *ud, rc_error *err);
  int (*work_counts)(store *st, const char *queue, rc_time now, rc_time day_end,
                     const char *user, int64_t *due_now, int64_t *today,
                     rc_error *err);
  int (*work_areas)(store *st, const char *queue, rc_time day_end,
                    const char *user, int max, store_row_fn fn, void *ud,
                    rc_error *err);
  int (*work_promises)(store *st, const char *status, const char *from,
                       const char *to, const char *after_date, int64_t after_id,
                       const store_scope *scope, int limit, store_row_fn fn,
                       void *ud, rc_error *err);
  int (*work_promises_count)(store *st, const char *status, const char *from,
                             const char *to, const store_scope *scope,
                             int64_t *count, rc_error *err);
  int (*case_visible)(store *st, const char *case_id, const store_scope *scope,
                      int *visible, rc_error *err);
  int (*users_each)(store *st, store_row_fn fn, void *ud, rc_error *err);
  int (*user_get)(store *st, const char *name, store_user *out, char *hash,
                  size_t size, rc_error *err);
  int (*session_get)(store *st, const char *id, store_session *out,
                     rc_error *err);
  /* Rolls: store.h's store_rolls_month (logged 0) and store_rolls_logged
   * (logged 1, month is `since`). */
  int (*rolls)(store *st, const char *month, int logged, store_row_fn fn,
               void *ud, rc_error *err);
  int (*cases_below_version)(store *st, const char *workflow, int below,
                             store_row_fn fn, void *ud, rc_error *err);
  /* STORE_SIM_* */
  int (*sim_read)(store *st, int which, int64_t after, store_row_fn fn,
                  void *ud, rc_error *err);

  /* --- moving a book (branch "migrate"; store.h's store_book_*) --------- */
  int (*book_rows)(store *st, const char *table, store_row_fn fn, void *ud,
                   rc_error *err);
  int (*book_put)(store *st, const char *table, const store_value *cols,
                  int ncols, rc_error *err);
  int (*book_figures)(store *st, store_row_fn fn, void *ud, rc_error *err);
  /* store.h's store_book_place. NULL: a file, told apart by its path. */
  void (*book_place)(store *st, char *out, size_t size);
  /* --- p99 (session 8): checkpoints off the service's loop ------------- */
  /* Copy what commits leave to copy back (checkpoint_every) on a thread
   * of the backend's own once `pages` wait, bounded near `most` (0: the
   * backend's own bound); pages
   * <= 0 stops that thread (store_close stops it too). A backend
   * without the notion answers RC_OK. */
  int (*checkpoint_apart)(store *st, int pages, int most, rc_error *err);
  /* --- durable (session 11): a commit synced only when something leaves */
  /* later 1: the next transaction begun (store_begin_unsynced) need not
   * reach the disk at its commit; it does with the next commit that
   * does, or the next call with later 0, which makes every commit so far
   * durable (a barrier: free when none waits). A backend whose commits
   * are always durable answers RC_OK. */
  int (*durable)(store *st, int later, rc_error *err);
  /* --- import (session 20) -------------------------------------------- */
  /* store.h: store_begin_import: the next transaction begun is an
   * import's. NULL: nothing to gain, a plain transaction. */
  void (*import_next)(store *st);
  /* optional (NULL: no hint): store_import_ahead */
  void (*import_ahead)(store *st, const char *borrower_id);
  /* --- the journal's `opened` row (session 29) -------------------------- */
  /* 1: the backend keeps an `opened` row's detail as the array of its
   * values (store.h, store_journal_opened) and gives readers the object
   * again; 0: kept as the object (also under store/fault.c's wrapper,
   * which does not say: a row so kept reads the same). */
  int journal_short_opened;
  /* --- what the book holds odd (session 35) ----------------------------- */
  /* optional (NULL: nothing to look for): store_notice's first call looks
   * (store_notice_set), not the open: a read at open fills the page
   * cache the first reads after it would have gone to the disk for. */
  void (*notice_look)(store *st);
  /* --- shorter journal rows (session 35) ------------------------------ */
  /* 1: the backend keeps the time of a row that has its run's time (the
   * run's `at`, its first row's) as null in the row, and the detail of
   * a `transition`, `timer`, `message` or `event` row as the array of
   * its values (store.h, store_journal_transition and the three after
   * it), and gives readers the run's time and the objects again; 0:
   * every row whole
   * (PostgreSQL, and under store/fault.c's wrapper: rows so kept read
   * the same). */
  int journal_compact;
};

/* The backends this build has. */
extern const store_ops store_sqlite_ops;
/* runtime/store/pg.c, in a build with libpq (RECOUP_HAVE_PG). */
extern const store_ops store_pg_ops;

#endif
