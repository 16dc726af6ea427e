/* The store: everything durable — borrowers, cases, events, timers,
 * journal, messages, tasks, payments, promises, plans — goes through these
 * calls. This is the engine's private contract with the store: the engine
 * writes through it and query.c reads through it; nothing else includes
 * it. store.c dispatches each call to a backend (backend.h: the table a
 * backend fills; sqlite.c the one this build has). Calls return RC_* codes;
 * failures fill the rc_error, and a read that fails says so (RC_ESTORE), never
 * "nothing found". */
#ifndef RECOUP_STORE_H
#define RECOUP_STORE_H

#include "recoup/query.h"
#include "store/where.h"

typedef struct store_event {
  int64_t id;
  char *case_id, *type, *data; /* owned; data is JSON or NULL */
  rc_time at;
} store_event;

typedef struct store_timer {
  int64_t id;
  char *case_id, *event, *data; /* owned; data is JSON or NULL */
  rc_time due;
} store_timer;

/* A claim's holder and how long it holds (backend.h "Claims"): a
 * backend serving one writer (SQLite) may ignore it. */
typedef struct store_lease {
  const char *node; /* who claims: a name unique to the process */
  int64_t ms;       /* how long the claim holds unless finished */
} store_lease;

/* store_event_finish: what became of a claimed event. */
enum {
  STORE_EVENT_DONE,  /* handled: it is deleted */
  STORE_EVENT_PARKED /* its case is in error: kept as failed for a retry */
};

/* store_timers_cancel: which of a case's timers. */
enum {
  STORE_TIMERS_ALL,    /* every timer (the case closed) */
  STORE_TIMERS_SCOPED, /* those armed in the state it leaves */
  STORE_TIMERS_NAMED   /* those of one event name */
};

/* store_task_take: how a task is taken. */
enum {
  STORE_TAKE_CLAIM, /* an open task only; RC_ECONFLICT otherwise */
  STORE_TAKE_ASSIGN /* open or claimed; RC_ECONFLICT when done/cancelled */
};

/* store_sessions_delete: which sessions. */
enum {
  STORE_SESSIONS_ONE,     /* the session `id` */
  STORE_SESSIONS_OF_USER, /* every session of user `name` but `id` */
  STORE_SESSIONS_STALE    /* expired at `now` or idle since `idle_before` */
};

/* A borrower's contact flags (store_borrower_set_flag). */
typedef enum store_flag {
  STORE_FLAG_DO_NOT_CONTACT, /* the borrower asked for no contact */
  STORE_FLAG_CEASED          /* a cease request: contact stops for good */
} store_flag;

/* What the engine changes of a case, as one write: the fields named in
 * `fields` (STORE_CASE_*), the rest of the struct ignored. */
enum {
  STORE_CASE_STATE = 1 << 0,    /* state, closed, outcome */
  STORE_CASE_ERROR = 1 << 1,    /* error (NULL: out of error) */
  STORE_CASE_DATA = 1 << 2,     /* data (JSON object) */
  STORE_CASE_TAGS = 1 << 3,     /* tags (JSON array) */
  STORE_CASE_QUEUE = 1 << 4,    /* queue (NULL: none) */
  STORE_CASE_MONEY = 1 << 5,    /* balance, amount_due, overpaid */
  STORE_CASE_HOLD = 1 << 6,     /* on_hold */
  STORE_CASE_WORKFLOW = 1 << 7, /* workflow, version and state */
  STORE_CASE_TERMS = 1 << 8     /* terms: what an import rewrites */
};
typedef struct store_case_change {
  const char *id;
  unsigned fields;
  const char *state, *outcome;
  int closed;
  /* With STORE_CASE_STATE: the moving step's key (store_message's step),
   * kept as the case's mover: the outbox tells a message the step that
   * wrote it moved on from one a later step left behind. */
  int64_t mover;
  const char *error, *data, *tags, *queue;
  rc_money balance, amount_due, overpaid;
  int on_hold;
  const char *workflow;
  int version;
  /* money, dates, product, score, data and tags of the case, with its
   * id: store_case_update_fields' fields */
  const store_case *terms;
} store_case_change;

/* What a message moves to, as one write: the fields named in `fields`
 * (STORE_MSG_*), only when its status is only_if (NULL: whatever it is). */
enum {
  STORE_MSG_STATUS = 1 << 0,     /* status */
  STORE_MSG_REASON = 1 << 1,     /* reason */
  STORE_MSG_NOT_BEFORE = 1 << 2, /* not_before */
  STORE_MSG_ATTEMPT = 1 << 3     /* attempts, next_attempt; at is the
                                    attempt's time (sent_at when sent) */
};
typedef struct store_message_change {
  unsigned fields;
  const char *only_if, *status, *reason;
  rc_time not_before, next_attempt, at;
  int attempts;
} store_message_change;

/* An installment plan as one unit: the plan and its installments; each
 * item's id is set when the plan is written. */
typedef struct store_plan_item {
  const char *due_date;
  rc_money amount;
  int64_t id; /* out */
} store_plan_item;
typedef struct store_plan {
  const char *case_id;
  rc_money total;
  int64_t grace_ms;
  rc_time at;
  int n;
  store_plan_item *items; /* seq is the index + 1 */
} store_plan;

/* db: a file path or ":memory:" (SQLite); a postgresql:// URL is
 * RC_EINVAL in this build. */
int store_open(store **out, const char *db, rc_error *err);
/* store_open with flags: STORE_MUST_EXIST opens a SQLite book only if
 * its file is there (RC_ENOTFOUND, saying so), never making an empty one
 * (a command that only reads or retries). */
enum { STORE_MUST_EXIST = 1 };
int store_open_flags(store **out, const char *db, int flags, rc_error *err);
/* Whether this open made the database (a SQLite file that was not
 * there): a command refused before writing to it takes it away again. */
int store_created(const store *st);
void store_close(store *st);
/* The database argument store_open was given, as it may be shown in a
 * message (store_where_shown: a URL's password is ***). */
const char *store_path(const store *st);
/* How many WAL pages a commit may leave before it copies them back into
 * the database (a pause of that many page writes): 16384 after
 * store_open, for throughput; fewer for shorter pauses (SQLite only). */
void store_checkpoint_every(store *st, int pages);
/* The same copy on a thread of the store's own, so that no commit waits
 * for it: started once `pages` pages wait; past `most` in the WAL (0: the
 * store's own bound, 64 MB) the committing thread copies the rest itself,
 * which keeps the WAL near `most` pages under a writer that never
 * pauses. pages <= 0 stops the thread (store_close does too). SQLite
 * only; others answer RC_OK. */
int store_checkpoint_apart(store *st, int pages, int most, rc_error *err);

int store_begin(store *st, rc_error *err);
int store_commit(store *st, rc_error *err);
/* A transaction nobody outside the process is told of (a sweep's
 * batch): its commit need not reach the disk yet. A power cut may take
 * it back whole, as if the process had stopped just before it; nothing
 * half-written. Whatever then leaves the process and depends on it goes
 * after store_sync (or after a plain store_commit, which makes every
 * commit before it durable too). SQLite: synchronous NORMAL for that
 * transaction (its WAL frames without an fsync). */
int store_begin_unsynced(store *st, rc_error *err);
/* An import's transaction (import.c: one for the whole file). Every row
 * it writes refers to a borrower or case it wrote before in the same
 * transaction, or to one already in the book (neither is ever deleted),
 * and its `opened` handlers write only for their own case: SQLite's
 * store checks no foreign key in it (a look-up a reference, 8 % of an
 * imported row), and checks them again from its end on. */
int store_begin_import(store *st, rc_error *err);
/* The import will soon write a case of this borrower: a hint, nothing
 * read or written (SQLite: the slot of the import's table of new
 * borrowers it will probe, asked into the cache). */
void store_import_ahead(store *st, const char *borrower_id);
/* The barrier: every commit so far reaches the disk (one fsync of the
 * WAL on SQLite when an unsynced commit waits, nothing otherwise). */
int store_sync(store *st, rc_error *err);
int store_rollback(store *st);
int store_in_transaction(const store *st);

/* Whether the database ended the last transaction (at its commit or
 * rollback) to break a deadlock or a serialization conflict between
 * nodes: nothing of it was kept, and it is to be run again. */
int store_contended(const store *st);
/* Whether the last write that failed in this transaction was a row the
 * book refused (a constraint or a trigger of its own), not a failure of
 * the database (I/O, a full disk): the step that wrote it is at fault,
 * and may be set aside. SQLite only; 0 on PostgreSQL. */
int store_refused(const store *st);

/* How many times the store made its connection to the database server
 * again after the server dropped it (PostgreSQL; 0 for SQLite). */
int store_reconnects(const store *st);

/* Something odd the store found in the book and worked around (SQLite: a
 * claim's fired timers that had to be deleted one by one), for the log:
 * handed out once, then NULL until the next. */
const char *store_notice(store *st);

/* Whether a claim may pass over work another process's batch holds, so
 * that what it returns is not the earliest pending (PostgreSQL nodes);
 * 0 for a single writer, whose claim sees everything pending. */
int store_claims_pass_held(const store *st);
/* One event's effects: a savepoint inside the batch transaction. */
int store_savepoint(store *st, rc_error *err);
int store_release(store *st, rc_error *err);
int store_rollback_to(store *st, rc_error *err);
/* One of a group's jobs: a savepoint the backend need not make when
 * savepoints cost the server (PostgreSQL: a subtransaction, and the
 * figures, counters and rows kept in the node sent at each one). Ended
 * as any savepoint; rolled back after its job wrote, nothing is undone
 * and store_replay says the transaction must be run again without it. */
int store_savepoint_light(store *st, rc_error *err);
/* store_replay's answers: the job refused wrote (run the group again
 * without it), or a write of the group was refused whose job is not known
 * (an earlier job's, read after that job ended, or at the commit): run
 * the group again with store_group_checked. */
enum { STORE_REPLAY_JOB = 1, STORE_REPLAY_GROUP = 2 };
int store_replay(const store *st);
/* While on, a light savepoint's writes are all sent and read at its end
 * (slower): after a commit refused with store_replay set, the group runs
 * again so, and the job whose write the server refuses is found. */
void store_group_checked(store *st, int on);

/* RC_ENOTFOUND when the key was never set. */
int store_meta_get(store *st, const char *key, char *buf, size_t size,
                   rc_error *err);
/* value NULL deletes the key. */
int store_meta_put(store *st, const char *key, const char *value,
                   rc_error *err);

/* Borrowers. upsert replaces the contact list when ncontacts >= 0. */
int store_borrower_upsert(store *st, const store_borrower *b, rc_error *err);
/* The same for the borrower of a case being opened (most are new). */
int store_borrower_upsert_opening(store *st, const store_borrower *b,
                                  rc_error *err);
int store_borrower_get(store *st, const char *id, store_borrower *out,
                       rc_error *err);
/* Borrower id as the last claim of timers read it beside a case, when
 * nothing may have written a borrower since: 1; otherwise 0 (read it).
 * Lent, as store_case_claimed_lend's case (no store_borrower_free): it
 * lasts until the backend's next claim or the next borrower lent, which
 * the caller keeps only one of (nine strings and the contacts copied
 * and freed were 1.9k instructions of a 68.7k reminder). */
int store_borrower_claimed_lend(store *st, const char *id, store_borrower *out);
int store_borrower_cases(store *st, const char *borrower_id, store_row_fn fn,
                         void *ud, rc_error *err);

/* Cases. */
int store_case_insert(store *st, const store_case *c, rc_error *err);
/* The same for a case an import opens, whose `opened` run (its journal
 * run through store_case_fresh) follows in this transaction: the backend
 * may write the row only then, with the run and the timers its handler
 * set. Anything that reads or refers to the case before finds it all the
 * same, except store_case_exists_or_hold_opening, which the caller does
 * not ask again for the case until that run. */
int store_case_insert_opening(store *st, const store_case *c, rc_error *err);
/* Does the backend keep an import's new cases until their `opened` runs
 * (store_case_opening_lend hands them out)? Then the caller keeps no
 * copy of its own. */
int store_holds_openings(const store *st);
/* Case id as the import opened it, when it is the next new case the
 * backend kept (the `opened` handlers take them in the order opened):
 * 1; otherwise 0 (read it). Its texts are lent, not the caller's to free
 * (no store_case_free): they last until the backend keeps another new
 * case or the transaction ends, which no handler can bring about (a
 * copy and its frees were 1.6k instructions an imported row). */
int store_case_opening_lend(store *st, const char *id, store_case *out);
/* Case id as the last claim of timers read it beside its timer, when
 * nothing may have written it since (its timer's step takes it): 1;
 * otherwise 0 (read it). Its texts are lent, as
 * store_case_opening_lend's (no store_case_free): they last until the
 * backend's next claim, which no handler can bring about (a copy and its
 * frees were 1.7k instructions of an 80k reminder). */
int store_case_claimed_lend(store *st, const char *id, store_case *out);
/* The fields the change names, one case, one write (store_case_change). */
int store_case_write(store *st, const store_case_change *ch, rc_error *err);
int store_case_get(store *st, const char *id, store_case *out, rc_error *err);
/* The same, for a writer that changes the case from what it read (a
 * payment takes its amount off the balance read): in a transaction, the
 * case is held until the commit, so that another node's writer waits and
 * then reads what this one wrote instead of writing over it. */
int store_case_get_held(store *st, const char *id, store_case *out,
                        rc_error *err);
/* The same, for a sweep's step, which must not stall its node for
 * another writer's whole transaction (a long import): a case another
 * transaction holds is not waited for, *busy is 1 and nothing is read. */
int store_case_try_hold(store *st, const char *id, store_case *out, int *busy,
                        rc_error *err);
/* The case store_case_try_hold will be asked for next, after one read
 * between (a payment's ref): a store that answers in round trips may
 * read and hold it with that read. Nothing is read when another
 * statement goes first; a store that needs no trip does nothing. */
void store_case_ahead(store *st, const char *id);
/* The payments a group of jobs will make, in its order, before any of
 * them runs: a store that answers in round trips may send each one's
 * case hold and ref look-up (store_case_ahead's, and
 * store_payment_by_ref's) at once, read when the first job asks. The
 * caller names no case or ref twice, and lets no other write go before
 * them; a store that needs no trip does nothing. */
void store_pays_ahead(store *st, int n, const char *const *cases,
                      const char *const *refs);
/* RC_OK when the case exists, RC_ENOTFOUND when not. It never waits
 * for another writer. */
int store_case_exists(store *st, const char *id, rc_error *err);
/* The key of the step that last moved the case (store_case_change's
 * mover; 0: none since the book kept keys, or since a move of the book),
 * and the move its message `message` waits on (store_message's step; 0
 * when the message is not there or keeps none); RC_ENOTFOUND when there
 * is no such case. Read apart from the case: it is asked only at a
 * deferred message's release, where a column more in every read of a
 * case cost a sweep 250 instructions a step. */
int store_case_mover(store *st, const char *id, int64_t message, int64_t *mover,
                     int64_t *waits_on, rc_error *err);
/* The same, for a writer that opens the case when it is not found (an
 * upsert, an import): in a transaction, a case not found is looked for
 * again holding the opening of cases until the commit, so that two
 * writers opening one id on two nodes do not both insert it (the second
 * waits for the first, then finds the case). A miss may come without a
 * message: the caller opens the case. */
int store_case_exists_or_hold_opening(store *st, const char *id,
                                      rc_error *err);
/* The same, for an input of a service's group, which must not stall its
 * node for another writer's whole transaction (an import opening cases):
 * when another transaction holds the opening of cases, *busy is 1 and
 * nothing is known of the case. */
int store_case_exists_or_try_opening(store *st, const char *id, int *busy,
                                     rc_error *err);
/* Holds the opening of cases until the transaction ends, before any row
 * is locked: an import takes it first, so that imports of the same cases
 * wait for one another instead of locking them in opposite orders. */
int store_hold_opening(store *st, rc_error *err);
/* Case id's row is as store_case_insert wrote it in this transaction:
 * no timer set, no journal written since. A hint (an import's `opened`
 * pass gives it for each case it opened), so that a backend that keeps
 * both in the case's row need not read them back. Fails only as a write
 * would: what the backend held for another case is written first. */
int store_case_fresh(store *st, const char *id, rc_error *err);
/* Cases in error, for reports and retries. */
int store_cases_each(store *st, const char *state, store_row_fn fn, void *ud,
                     rc_error *err);

/* The durable event queue. status NULL queues an event (parked with
 * its case's failed event when the case is in error); "pending" for a
 * case just opened, "failed" to park a fired timer whose own handler
 * failed or whose case is in error (it runs after the retry, in order).
 * RC_ENOTFOUND for an unknown case. */
int store_event_put(store *st, const char *case_id, const char *type,
                    const char *data, rc_time at, const char *status,
                    rc_error *err);
/* An idempotency key names one event: its case and type. A new key is
 * recorded; the same key, case and type again sets *duplicate; the key
 * with another case or type is RC_ECONFLICT naming what it was, and
 * nothing is written. */
int store_event_key_claim(store *st, const char *key, const char *case_id,
                          const char *type, rc_time at, int *duplicate,
                          rc_error *err);
/* Claims up to max pending events in arrival order, skipping (and
 * parking) those of cases in error; *out is owned by the caller
 * (store_events_free). lease: backend.h "Claims"; NULL for this
 * process's default. */
int store_events_claim(store *st, int max, const store_lease *lease,
                       store_event **out, int *n, rc_error *err);
void store_events_free(store_event *list, int n);
/* A claimed event handled (STORE_EVENT_DONE: deleted) or parked
 * (STORE_EVENT_PARKED: failed, for the case's retry). */
int store_event_finish(store *st, int64_t id, int how, rc_error *err);
/* Turns the case's failed events back into pending ones; returns how many
 * through *count. */
int store_events_retry(store *st, const char *case_id, int *count,
                       rc_error *err);
int store_events_pending(store *st, int64_t *count, rc_error *err);
void store_event_free(store_event *ev);

/* Durable timers: the database is the heap, one index on due time. */
int store_timer_insert(store *st, const char *case_id, rc_time due,
                       const char *event, const char *data, int scoped,
                       rc_error *err);
/* The earliest due time; RC_ENOTFOUND when no timer is pending. */
int store_timer_next_due(store *st, rc_time *due, rc_error *err);
/* The same counting the timers other nodes' open batches hold, which
 * store_timer_next_due passes over (store_claims_pass_held). */
int store_timer_first_due(store *st, rc_time *due, rc_error *err);
/* Claims up to max timers due at or before until, in due order (ties by
 * id). *out is owned by the caller: store_timers_free. */
int store_timers_claim(store *st, rc_time until, int max,
                       const store_lease *lease, store_timer **out, int *n,
                       rc_error *err);
void store_timers_free(store_timer *timers, int n);
/* Watches what is queued from now on: store_put_before says whether an
 * event was queued, or a timer set due before due, since. A simulation
 * runs the timers of one claim at their own due times only while nothing
 * its handlers queued comes first. */
void store_watch_puts(store *st);
int store_put_before(const store *st, rc_time due);
/* Deletes the claimed timer t as store_timers_claim gave it; *deleted is
 * 0 when it was already gone (cancelled by an earlier event in the same
 * batch), even if a timer armed since has been given its id. */
int store_timer_finish(store *st, const store_timer *t, int *deleted,
                       rc_error *err);
/* The case's timers of one kind (STORE_TIMERS_ALL, _SCOPED: armed in the
 * state it leaves, _NAMED: of the event `event`); *count how many (may be
 * NULL). */
int store_timers_cancel(store *st, const char *case_id, int which,
                        const char *event, int *count, rc_error *err);
/* Gives back every claim of the lease's node (timers, events, outbox
 * messages) not finished, so that other nodes need not wait out the
 * lease after a clean stop. */
int store_claims_release(store *st, const store_lease *lease, rc_error *err);
/* Claims the case's timers, free or the lease's node's, for ms from now:
 * a case another writer held (store_case_try_hold) has its timers tried
 * again then, in their order, and not before, when its node wakes. */
int store_timers_retry(store *st, const char *case_id, int64_t ms,
                       const store_lease *lease, rc_error *err);
int store_timers_each(store *st, const char *case_id, store_row_fn fn, void *ud,
                      rc_error *err);
int store_timers_count(store *st, int64_t *count, rc_error *err);

/* The journal: append-only. detail is JSON or NULL. */
int store_journal_append(store *st, const char *case_id, rc_time at,
                         const char *kind, const char *state, int version,
                         const char *detail, rc_error *err);
/* The same for a detail the engine wrote itself with jbuf (jbuf.h), every
 * string quoted by it: not read again to check it (an import writes one a
 * case it opens). */
int store_journal_append_built(store *st, const char *case_id, rc_time at,
                               const char *kind, const char *state,
                               int version, const char *detail,
                               rc_error *err);
/* The row `transition` of a case that moved to state `to`, its detail
 * {"from", "to", "event", "user"?} (user NULL or "" for none). Readers
 * see that object; a backend may keep it as [from, event, user?], the
 * row's state being `to` (SQLite does). */
int store_journal_transition(store *st, const char *case_id, rc_time at,
                             const char *from, const char *to, int version,
                             const char *event, const char *user,
                             rc_error *err);
/* The row `timer` of a timer set, its detail {"event", "due", "keep",
 * "user"?} (due the time's text); kept as [event, due, keep, user?] where
 * the backend can. */
int store_journal_timer(store *st, const char *case_id, rc_time at,
                        const char *state, int version, const char *event,
                        const char *due, int keep, const char *user,
                        rc_error *err);
/* The row `message` of a message written, its detail {"id", "channel",
 * "template", "to", "status", "reason"?, "user"?} (reason NULL for
 * none); kept as [id, channel, template, to, status, reason?, user?]
 * where the backend can. */
int store_journal_message(store *st, const char *case_id, rc_time at,
                          const char *state, int version, int64_t id,
                          const char *channel, const char *template_name,
                          const char *to, const char *status,
                          const char *reason, const char *user,
                          rc_error *err);
/* The row `event` of an event without data, its detail {"type",
 * "user"?}; kept as [type, user?] where the backend can. */
int store_journal_event(store *st, const char *case_id, rc_time at,
                        const char *state, int version, const char *type,
                        const char *user, rc_error *err);
/* The row `opened` of case c (at c->opened_at, in its state and
 * version): the case as it opened, as the object {"id", "borrower_id",
 * "currency", "principal", "balance", "amount_due", "fees", "product"?,
 * "due_date"?, "score"?, "data", "workflow", "version", "user"?} (keys
 * with ? only when given; score the number's JSON text, user NULL or ""
 * for none). Readers see that object; a backend may keep it shorter, as
 * the array of its values from STORE_OPENED_AT on (SQLite does). */
int store_journal_opened(store *st, const store_case *c, const char *score,
                         const char *user, rc_error *err);
/* The array's places: [borrower_id, currency, principal, balance,
 * amount_due, fees, data, workflow, due_date, product, score, user],
 * null when absent, the trailing absent ones left out. */
enum {
  STORE_OPENED_AT_BORROWER,
  STORE_OPENED_AT_CURRENCY,
  STORE_OPENED_AT_PRINCIPAL,
  STORE_OPENED_AT_BALANCE,
  STORE_OPENED_AT_AMOUNT_DUE,
  STORE_OPENED_AT_FEES,
  STORE_OPENED_AT_DATA,
  STORE_OPENED_AT_WORKFLOW,
  STORE_OPENED_AT_DUE_DATE,
  STORE_OPENED_AT_PRODUCT,
  STORE_OPENED_AT_SCORE,
  STORE_OPENED_AT_USER
};
/* The rows an event writes for a case are held and written as one run;
 * this writes them now. The engine calls it at the end of each event, so
 * that a run the database refuses fails that event, not a later one. */
int store_journal_write(store *st, rc_error *err);
/* Rows of a case, oldest first; limit <= 0 means all, otherwise the last
 * `limit` rows. Readers see written rows only: rows still held in a run
 * wait for store_journal_write. */
int store_journal_each(store *st, const char *case_id, int limit,
                       store_row_fn fn, void *ud, rc_error *err);
int store_journal_count(store *st, const char *kind, int64_t *count,
                        rc_error *err);

/* Messages (the outbox). */
typedef struct store_message {
  const char *case_id, *borrower_id, *channel, *template_name, *recipient;
  const char *to_kind, *body, *status, *reason;
  /* The case's state when written, and the key of the move it waits on
   * (the writing step's, or, store_messages_step, the case's mover then;
   * engine.c moved_on): what the outbox asks of the case again as it
   * sends (store_outgoing). */
  const char *state;
  int64_t step;
  rc_time at, not_before;
} store_message;
int store_message_insert(store *st, const store_message *m, int64_t *id,
                         rc_error *err);
int store_messages_each(store *st, const char *case_id, store_row_fn fn,
                        void *ud, rc_error *err);
/* A message's move, one write (store_message_change): its status (a
 * receipt's), a deferred one's release ("deferred" -> "queued") or
 * recheck (deferred anew to not_before, blocked or cancelled, with the
 * reason), or a delivery attempt (STORE_MSG_ATTEMPT: status "sent",
 * "queued" for a retry at next_attempt, or "failed"; reason the gateway's
 * word or NULL). A message already "delivered" or "failed" keeps that
 * status and reason (an attempt is still counted). *changed (may be NULL)
 * is 0 when only_if did not hold or the message was settled. */
int store_message_update(store *st, int64_t id, const store_message_change *ch,
                         int *changed, rc_error *err);
/* A message's case and its status now. */
int store_message_case(store *st, int64_t id, char *case_id, size_t size,
                       char status[16], rc_error *err);
/* One message as a row (id, case, channel, template, to); none when the
 * id is unknown. */
int store_message_read(store *st, int64_t id, store_row_fn fn, void *ud,
                       rc_error *err);

/* Tasks. fields is a JSON object of what the script gave. */
typedef struct store_task {
  const char *case_id, *kind, *queue, *assignee, *state, *fields;
  const char *channel; /* counts as, for the caps; NULL: by kind */
  rc_time due, at;
  int keep;
  double priority; /* higher first in My work */
} store_task;
int store_task_insert(store *st, const store_task *t, int64_t *id,
                      rc_error *err);
int store_tasks_each(store *st, const char *case_id, store_row_fn fn, void *ud,
                     rc_error *err);
/* One task's case, kind, status and stored result (owned, JSON or NULL);
 * RC_ENOTFOUND when unknown. */
typedef struct store_task_info {
  char case_id[160], kind[64], status[16];
  char queue[64], assignee[USER_NAME_MAX + 1]; /* "" when none */
  char *result;
} store_task_info;
int store_task_get(store *st, int64_t id, store_task_info *out, rc_error *err);
/* Marks an open or claimed task done; RC_ECONFLICT when it is not open. */
int store_task_complete(store *st, int64_t id, const char *outcome,
                        const char *result, rc_time at, rc_error *err);
int store_tasks_cancel_scoped(store *st, const char *case_id, rc_error *err);

/* Payments: ref is unique; RC_ECONFLICT for a known one. currency is
 * the case's when the payment came: a case imported again in another
 * currency (HRK -> EUR) keeps its earlier payments in theirs. */
int store_payment_insert(store *st, const char *case_id, rc_money amount,
                         const char *currency, const char *ref, rc_time at,
                         rc_error *err);
/* The payment a ref names: its case and amount; RC_ENOTFOUND if none. */
int store_payment_by_ref(store *st, const char *ref, char *case_id, size_t size,
                         rc_money *amount, rc_error *err);
/* store_payment_by_ref with the payment's currency too (4 bytes, "" for
 * a row without one). */
int store_payment_by_ref_in(store *st, const char *ref, char *case_id,
                            size_t size, rc_money *amount, char *currency,
                            rc_error *err);
int store_payments_total(store *st, rc_money *total, rc_error *err);
/* Paid beyond the balances, over all cases: owed back to borrowers. */
int store_overpaid_total(store *st, rc_money *total, rc_error *err);
/* What snapshot imports took off the balances, over all cases. */
int store_reduced_total(store *st, rc_money *total, rc_error *err);

/* Promises to pay (store_promise in query.h). currency is the case's,
 * as a payment's. */
int store_promise_insert(store *st, const char *case_id, rc_money amount,
                         const char *currency, const char *by_date, rc_time at,
                         int64_t *id, rc_error *err);
/* RC_ENOTFOUND when the case has no open promise. */
int store_promise_open(store *st, const char *case_id, store_promise *out,
                       rc_error *err);
/* RC_ENOTFOUND for an unknown promise. */
int store_promise_get(store *st, int64_t id, store_promise *out, rc_error *err);
int store_promise_update(store *st, int64_t id, rc_money paid,
                         const char *status, rc_error *err);

/* Installment plans. One open plan per case: a new one supersedes it. */
typedef struct store_installment {
  int64_t id, plan_id;
  int seq;
  char due_date[16];
  rc_money amount, paid;
  char status[16]; /* due, paid, missed, paid_late, cancelled */
} store_installment;
/* The plan and its installments, one unit; *id the plan's, each item's
 * id set. */
int store_plan_insert(store *st, store_plan *plan, int64_t *id, rc_error *err);
/* The open plan's installments not yet paid in full, oldest first. *out
 * is malloc'd; the caller frees it. */
int store_installments_unpaid(store *st, const char *case_id,
                              store_installment **out, int *n, rc_error *err);
/* RC_ENOTFOUND for an unknown installment. */
int store_installment_get(store *st, int64_t id, store_installment *out,
                          char *plan_status, size_t size, rc_error *err);
int store_installment_update(store *st, int64_t id, rc_money paid,
                             const char *status, rc_error *err);
int store_plan_status(store *st, int64_t plan_id, const char *status,
                      rc_error *err);
/* The case's open plan with its installments, as rows (plan columns on
 * every row). */
int store_plan_each(store *st, const char *case_id, store_row_fn fn, void *ud,
                    rc_error *err);
/* STORE_TAKE_CLAIM: an open task to assignee (RC_ECONFLICT when not
 * open, RC_ENOTFOUND when unknown; case_id gets its case);
 * STORE_TAKE_ASSIGN: an open or claimed one (RC_ECONFLICT when done or
 * cancelled). */
int store_task_take(store *st, int64_t id, const char *assignee, int how,
                    char *case_id, size_t size, rc_error *err);

/* Reports: one row per line of the report, named columns. */
int store_report_states(store *st, store_row_fn fn, void *ud, rc_error *err);
/* today: the institution's local date, "2026-01-31". */
int store_report_dpd(store *st, const char *today, store_row_fn fn, void *ud,
                     rc_error *err);
int store_report_promises(store *st, store_row_fn fn, void *ud, rc_error *err);
int store_report_installments(store *st, store_row_fn fn, void *ud,
                              rc_error *err);
int store_report_contacts(store *st, store_row_fn fn, void *ud, rc_error *err);
int store_report_refusals(store *st, store_row_fn fn, void *ud, rc_error *err);
int store_report_variants(store *st, store_row_fn fn, void *ud, rc_error *err);
/* Open cases by workflow and version (workflow, version, cases): one
 * scan of the cases, for a start and a reload to say which wait on a
 * version no script loads. */
int store_report_versions(store *st, store_row_fn fn, void *ud, rc_error *err);
/* Money by the cases' currency: currency, paid, overpaid, reduced. */
int store_report_money(store *st, store_row_fn fn, void *ud, rc_error *err);

/* The newest contacts on channel since `since` (messages neither blocked
 * nor cancelled, other than exclude_message; contact tasks not cancelled),
 * for the case or, case_id NULL, all the borrower's cases: merged into
 * times[*n], newest first, at most max. */
int store_contact_times(store *st, const char *case_id, const char *borrower_id,
                        const char *channel, rc_time since,
                        int64_t exclude_message, int max, rc_time *times,
                        int *n, rc_error *err);
/* The guard decided on b's ceased and do_not_contact as read. A store
 * whose read may be older than the decision (PostgreSQL reads a batch's
 * borrowers ahead) checks them against the borrower as it is now: when
 * another writer changed them since, the transaction fails at its commit
 * as contended (store_contended), and runs again to read them anew. */
int store_borrower_decided(store *st, const store_borrower *b, rc_error *err);
/* When a call with the borrower last reached them (a call task completed
 * with reached = true); RC_ENOTFOUND when never. */
int store_last_conversation(store *st, const char *borrower_id, rc_time *at,
                            rc_error *err);
int store_borrower_set_flag(store *st, const char *borrower_id, store_flag flag,
                            int value, rc_error *err);
/* The case's deferred messages, cancelled with reason (it closed), but
 * those the step of key `spare` wrote (store_message's step): the step
 * that closes a case may thank for the payment that closed it. */
int store_messages_cancel_deferred(store *st, const char *case_id,
                                   const char *reason, int64_t spare,
                                   rc_error *err);
/* The move case_id's messages ids[0..n) wait on (store_message's step)
 * set to step, or, step < 0, to the case's mover now (a step that wrote
 * them ended without moving the case: they wait on the move before). */
int store_messages_step(store *st, const char *case_id, const int64_t *ids,
                        int n, int64_t step, rc_error *err);

/* The outbox: messages to deliver now — queued, and for a retry its time
 * reached — first attempts oldest first, then retries by their time, each
 * with what the guard asks of its case and borrower as it leaves, read
 * with it (store_outgoing). *out is owned by the caller. */
int store_outbox_due(store *st, rc_time now, int max, store_outgoing **out,
                     int *n, rc_error *err);
/* A random name for this database, made once: it prefixes idempotency
 * keys so that two databases never send the same key. */
int store_instance_id(store *st, char *buf, size_t size, rc_error *err);

/* Script reloads across nodes (meta's 'reload.generation' and
 * 'reload.versions'). bump, in the reloading transaction: the next
 * generation, recorded with versions (JSON, workflow name -> the newest
 * version loaded); the versions row is written first, so that two nodes
 * reloading at once wait for each other there (PostgreSQL) and each gets
 * its own number. generation: the last one bumped, 0 before any. versions:
 * what the last reload recorded, "{}" before any. */
int store_reload_bump(store *st, const char *versions, int64_t *generation,
                      rc_error *err);
int store_reload_generation(store *st, int64_t *generation, rc_error *err);
int store_reload_versions(store *st, char *buf, size_t size, rc_error *err);

/* Where an inbound reply from a phone number or address belongs: the
 * borrower's open case most recently written to. */
int store_reply_case(store *st, const char *from, char *case_id, size_t size,
                     rc_error *err);

/* Open cases of a workflow on a version older than `below`. */
int store_cases_below_version(store *st, const char *workflow, int below,
                              store_row_fn fn, void *ud, rc_error *err);
/* Copies the database at src into a new file dst (SQLite: its online
 * backup): src is only read, and the copy is consistent even while another
 * process writes to src. */
int store_copy(const char *src, const char *dst, rc_error *err);
/* A cheap write, rolled back: can the database take writes now? */
int store_writable(store *st, rc_error *err);

/* Lists for the HTTP API: keyset pages ordered by id, after `after`
 * (NULL or 0 for the first page); filters are NULL when not given.
 * A case page reads at most `window` cases after the cursor, so that a
 * filter matching few of a million cases answers in milliseconds, not
 * seconds; when the window was read whole, window_end is its last id
 * (else ""), where the next page goes on. */
int store_cases_page(store *st, const char *state, const char *queue,
                     const char *after, int limit, int window,
                     const store_scope *scope, char *window_end, size_t size,
                     store_row_fn fn, void *ud, rc_error *err);
/* The cases of the borrowers with phone (E.164) among their own phones,
 * by id after `after`, as the case page's rows: the contacts' key by
 * value (SQLite; contacts_value on PostgreSQL) finds the borrowers,
 * cases_borrower their cases; limit bounds a number many
 * borrowers share. scope as store_case_visible's (NULL: all). */
int store_cases_phone(store *st, const char *phone, const char *after,
                      int limit, const store_scope *scope, store_row_fn fn,
                      void *ud, rc_error *err);
/* assignee: the user the tasks are held by or were done by (NULL: any);
 * queues: a JSON array the tasks' queue must be in (NULL: any). */
int store_tasks_page(store *st, const char *queue, const char *status,
                     const char *assignee, const char *queues, int64_t after,
                     int limit, store_row_fn fn, void *ud, rc_error *err);
int store_journal_page(store *st, const char *case_id, int64_t after, int limit,
                       store_row_fn fn, void *ud, rc_error *err);
/* Cases in error, the newest failure first: columns case, state, event
 * (the type of the event that failed), error, since (that event's time)
 * and event_id, the cursor: a page goes on below `before` (0 for the
 * first page). */
int store_errors_page(store *st, int64_t before, int limit, store_row_fn fn,
                      void *ud, rc_error *err);
/* Gauges for /metrics. */
int store_timers_overdue(store *st, rc_time now, int64_t *count, rc_error *err);

/* Champion/challenger assignments, stable per case. */
/* RC_ENOTFOUND when the case has no arm in the experiment yet. */
int store_variant_get(store *st, const char *case_id, const char *experiment,
                      char *arm, size_t size, rc_error *err);
int store_variant_put(store *st, const char *case_id, const char *experiment,
                      const char *arm, rc_error *err);

/* Console users. The hash (libsodium's Argon2id string) goes in and comes
 * out only here, for the engine; query.h hands out users without it. */
/* RC_ECONFLICT, naming "name", when the name is taken. */
int store_user_insert(store *st, const store_user *u, const char *hash,
                      rc_error *err);
/* RC_ENOTFOUND for an unknown name; hash (when not NULL) gets the stored
 * hash. *out is the caller's to free (store_user_free). */
int store_user_get(store *st, const char *name, store_user *out, char *hash,
                   size_t size, rc_error *err);
/* disabled < 0 leaves it, hash NULL leaves it, display NULL leaves it
 * ("" clears it), queues (a JSON array of names, "[]" for none) NULL
 * leaves them; RC_ENOTFOUND, naming "name", for an unknown name. */
int store_user_update(store *st, const char *name, int disabled,
                      const char *hash, const char *display,
                      const char *queues, rc_error *err);
/* Every user by name: name, role, queues, disabled, created_at,
 * display_name (NULL for none). */
int store_users_each(store *st, store_row_fn fn, void *ud, rc_error *err);
/* --- figures for the console (migration: figures) ---------------------- */

/* Adds n and amount to a figure of the institution's day (figures_days:
 * figure, day, keys a, b, c; NULL keys are ""). Summed in memory and
 * written at the transaction's commit, dropped with its rollback or its
 * event's savepoint; written at once outside a transaction. */
int store_figure_add(store *st, const char *figure, const char *day,
                     const char *a, const char *b, const char *c, int64_t n,
                     int64_t amount, rc_error *err);
/* The counters the triggers keep (rows whose count is 0 are left out):
 * workflow, state, cases, balance, errors, closed; due_date ("" for none),
 * cases, balance of open cases; status, promises, amount, paid; queue,
 * open, claimed, oldest_due; workflow, experiment, arm, cases, recovered,
 * closed_paid. */
int store_figures_states(store *st, store_row_fn fn, void *ud, rc_error *err);
int store_figures_due(store *st, store_row_fn fn, void *ud, rc_error *err);
int store_figures_promises(store *st, store_row_fn fn, void *ud, rc_error *err);
int store_figures_queues(store *st, store_row_fn fn, void *ud, rc_error *err);
int store_figures_arms(store *st, store_row_fn fn, void *ud, rc_error *err);
/* Messages with a status now (figures_messages). */
int store_figures_messages(store *st, const char *status, int64_t *count,
                           rc_error *err);
/* Rows day, a, b, c, n, amount of one figure, days from..to inclusive. */
int store_figures_days(store *st, const char *figure, const char *from,
                       const char *to, store_row_fn fn, void *ud,
                       rc_error *err);
/* The console user who took a promise; RC_ENOTFOUND when none did. */
int store_promise_user_put(store *st, int64_t promise_id, const char *user,
                           rc_error *err);
int store_promise_user_get(store *st, int64_t promise_id, char *user,
                           size_t size, rc_error *err);
/* A page of the outbox: messages with the statuses listed, in that order,
 * each status in delivery order (next attempt, id), from the message
 * after `after` (0: the first page); channel NULL for all. RC_EINVAL
 * naming "after" when it names no message. */
int store_outbox_page(store *st, const char *const *statuses, int nstatuses,
                      const char *channel, int64_t after, int limit,
                      int64_t *resume, store_row_fn fn, void *ud,
                      rc_error *err);
/* Roll rates. A case's bucket changes by the calendar except when its due
 * date changes, it closes or it opens: each change of its due date or
 * closing logs, for its month, what the case was before the month's
 * first change (status 0 open with due_date, 1 closed), what it is after
 * this one (now_due, now_status), and the month it opened. */
int store_roll_log(store *st, const char *month, const char *case_id,
                   const char *due_date, int status, const char *now_due,
                   int now_status, const char *opened, rc_error *err);
/* Rows from_bucket, to_bucket, cases of a month's matrix once computed. */
int store_rolls_month(store *st, const char *month, store_row_fn fn, void *ud,
                      rc_error *err);
/* Log rows from month `since` on, by case then month: case_id, month,
 * due_date, status, now_due, now_status, opened. */
int store_rolls_logged(store *st, const char *since, store_row_fn fn, void *ud,
                       rc_error *err);
int store_roll_put(store *st, const char *month, int from, int to,
                   int64_t cases, rc_error *err);
/* Drops log entries of months before `before`. */
int store_rolls_forget(store *st, const char *before, rc_error *err);

/* One line of users_log: change is "added", "disabled", "enabled",
 * "display_name", "queues" or "password", or a sign-in's ("signed_in", "signed_out",
 * "sign_in_failed") with the client's address (NULL or "" for none). */
int store_user_log(store *st, rc_time at, const char *name, const char *change,
                   const char *address, rc_error *err);

/* Console sessions, by id: the hex SHA-256 of the cookie's token (the
 * token itself is never stored). */
int store_session_insert(store *st, const char *id, const char *name,
                         rc_time now, rc_time expires_at, const char *address,
                         rc_error *err);
/* The session and its user; RC_ENOTFOUND when there is none. *out is the
 * caller's to free (store_session_free). */
int store_session_get(store *st, const char *id, store_session *out,
                      rc_error *err);
/* last_seen = now (never backwards). */
int store_session_touch(store *st, const char *id, rc_time now, rc_error *err);
/* STORE_SESSIONS_ONE: the session id; _OF_USER: every session of the
 * user `name` but id (NULL: all); _STALE: past their lifetime
 * (expires_at <= now) or idle since idle_before. *deleted how many (may
 * be NULL). */
int store_sessions_delete(store *st, int which, const char *id,
                          const char *name, rc_time now, rc_time idle_before,
                          int *deleted, rc_error *err);

/* The console's case work (query.h says what each answers). part 1: the
 * tasks due at or before now, 2: the later ones; after NULL: from the
 * start; user: a named agent (sees open tasks and its own claimed ones);
 * only_open: claimed ones left out. Rows: id, case_id, kind, queue, due,
 * assignee, status, priority, at. */
int store_work_page(store *st, const char *queue, rc_time now, int part,
                    const store_work_cursor *after, const char *user,
                    int only_open, int limit, store_row_fn fn, void *ud,
                    rc_error *err);
/* Each queue with waiting tasks, a row each (queue). */
int store_work_queues(store *st, store_row_fn fn, void *ud, rc_error *err);
/* user: a named agent (open tasks and its own claimed ones); NULL: all. */
int store_work_counts(store *st, const char *queue, rc_time now,
                      rc_time day_end, const char *user, int64_t *due_now,
                      int64_t *today, rc_error *err);
/* Rows: area ("" for none), n; of at most max of the queue's waiting
 * tasks due before day_end (user as above). */
int store_work_areas(store *st, const char *queue, rc_time day_end,
                     const char *user, int max, store_row_fn fn, void *ud,
                     rc_error *err);
/* Promises of a status with by_date in [from, to] (ISO dates), ordered by
 * date and id after (after_date, after_id); rows: id, case_id, amount,
 * paid, by_date, status. */
int store_work_promises(store *st, const char *status, const char *from,
                        const char *to, const char *after_date,
                        int64_t after_id, const store_scope *scope, int limit,
                        store_row_fn fn, void *ud, rc_error *err);
int store_work_promises_count(store *st, const char *status, const char *from,
                              const char *to, const store_scope *scope,
                              int64_t *count, rc_error *err);
int store_case_visible(store *st, const char *case_id, const store_scope *scope,
                       int *visible, rc_error *err);
/* RC_ENOTFOUND when the case was never contacted. */
int store_last_contact(store *st, const char *case_id, const char *borrower_id,
                       char *channel, size_t size, rc_time *at, rc_error *err);

/* What-if reads (simulate.c), rows in the order of each statement:
 * _CASES every case (id, borrower_id, state, closed, in_error, on_hold,
 * balance, amount_due, due_date, workflow, version, opened_at); _MESSAGES
 * and _TASKS the rows after id `after`; _BACKLOG waiting tasks by queue;
 * _JOURNAL (case_id, at, state), _PAYMENTS (case_id, at, amount) and
 * _CONTACTS (case_id, at) by case and time; _PROMISES and _OUTCOMES
 * counts by status, and by task kind and outcome. */
enum {
  STORE_SIM_CASES,
  STORE_SIM_MESSAGES,
  STORE_SIM_TASKS,
  STORE_SIM_BACKLOG,
  STORE_SIM_JOURNAL,
  STORE_SIM_PAYMENTS,
  STORE_SIM_PROMISES,
  STORE_SIM_CONTACTS,
  STORE_SIM_OUTCOMES,
  STORE_SIM_REPLIES,
  STORE_SIM_COUNT
};
/* A throwaway copy: commits no longer wait for the disk. */
int store_scratch(store *st);
int store_sim_read(store *st, int which, int64_t after, store_row_fn fn,
                   void *ud, rc_error *err);

/* --- moving a book (recoup migrate-store, branch "migrate") -------------
 *
 * A whole book copied from one store to another, table by table, through
 * the store seam: rows leave one backend as neutral values (store_value,
 * named by the source's own columns) and enter the other, which maps them
 * onto its columns by name. The command (runtime/migrate_store.c) runs the
 * copy in one transaction on the target and checks it with
 * store_book_figures on both sides before committing. */

/* The book's tables in the order a copy writes them: a table before the
 * tables that refer to it, the counters (figures_*) after the rows whose
 * triggers touch them. NULL-terminated. */
extern const char *const store_book_tables[];
/* Each row of `table` (fn gets its columns, named), in key order. What a
 * backend keeps only for itself stays behind: PostgreSQL's claims
 * (claimed_by, claimed_until) and counter slots (summed over slots).
 * table NULL: the names of the book's tables in this database, one text
 * column "name" a row (a table the copy does not know is refused, never
 * left behind). */
int store_book_rows(store *st, const char *table, store_row_fn fn, void *ud,
                    rc_error *err);
/* Writes one row into `table`, ids kept (except where a backend numbers a
 * table its own way: PostgreSQL numbers timers, which SQLite counts
 * within a due time). ncols 0 starts the table: rows that triggers wrote
 * during the copy are dropped (meta keeps its rows, and each backend its
 * own meta 'schema.version'). table NULL ends the copy: sequences moved
 * past the ids copied. Must run inside a transaction (store_begin).
 * PostgreSQL streams a table's rows in one COPY: a row the server refuses
 * fails the put that ends the table (the next table's start, or NULL). */
int store_book_put(store *st, const char *table, const store_value *cols,
                   int ncols, rc_error *err);
/* What a copy is checked by: rows (name, value) with a name and a count
 * or a sum in minor units: rows per table, journal rows, money by
 * currency (balance, amount due, principal, fees, overpaid, reduced,
 * payments), promises, plans and installments, the counters' sums. Same
 * names on every backend; order unspecified. One more row,
 * "connections", is no part of the book: how many other recoup processes
 * hold the book now (PostgreSQL: its schema, and any recoup before session
 * 22 in its database; SQLite says 0, its lock file says). */
int store_book_figures(store *st, store_row_fn fn, void *ud, rc_error *err);
/* Where the book lives, as its server names it, into out: two stores
 * whose places are equal and not "" hold one book (one database and
 * schema named by two URLs). "" when the backend has no server (a file:
 * compare its path) or could not say. */
void store_book_place(store *st, char *out, size_t size);
/* Whether the server database at `where` holds a recoup book, asked
 * without opening a store (which would make one in an empty database):
 * RC_ENOTFOUND when it holds none; RC_OK when it does, for a file, and
 * when it cannot tell (store_open then says why). */
int store_book_present(const char *where);

#endif
