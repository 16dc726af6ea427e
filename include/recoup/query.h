/* The read side: what the routes, the Lua bindings, the reports, the CLI
 * and the compliance guard may ask of the database. Each call is one unit
 * of work (a page of cases, one case, a journal page, the report's
 * figures, the contacts in a window), reads only, and returns RC_OK or
 * the failure in the rc_error: a read that fails never looks like
 * "nothing found". Writes go only through the engine (engine.h); store.h
 * is the engine's private contract with its backend.
 *
 * The records below keep the store_ names they had when readers called
 * the store directly: they are the shapes rows arrive in, shared by the
 * engine and its readers. */
#ifndef RECOUP_QUERY_H
#define RECOUP_QUERY_H

#include "recoup/recoup.h"

typedef struct query query;
typedef struct store store;

/* One column of a row handed to a callback; strings live until the
 * callback returns. */
enum { STORE_NULL, STORE_INT, STORE_REAL, STORE_TEXT };
typedef struct store_value {
  const char *name;
  int type;
  int64_t i;
  double r;
  const char *s;
} store_value;
/* Return non-zero to stop the iteration. */
typedef int (*store_row_fn)(void *ud, const store_value *cols, int ncols);

/* What a column holds beyond its SQL type, by name, the same in every
 * row: a time (ms since the epoch, shown as ISO 8601 in the
 * institution's zone), JSON text (shown decoded), or neither. One list
 * for every reader that shows rows (the HTTP API, the Lua bindings). */
enum { QUERY_PLAIN, QUERY_TIME, QUERY_JSON };
int query_column_kind(const char *name);

typedef struct store_contact {
  char *kind;     /* "phone", "email", "third_party"; owned */
  char *value;    /* number or address; owned */
  char *name;     /* owned, may be NULL */
  char *relation; /* owned, may be NULL */
} store_contact;

/* All strings owned, NULL when absent. */
typedef struct store_borrower {
  char *id, *name, *locale, *timezone, *address;
  char *area; /* groups a field officer's visits */
  char *employer_name, *employer_phone, *employer_address;
  int do_not_contact, ceased;
  store_contact *contacts; /* owned array */
  /* -1 read back: the book's copy of them does not read (SQLite's
   * contacts_packed NULL or garbled), none known and none sent to. */
  int ncontacts;
} store_borrower;

/* All strings owned, NULL when absent. tags is a JSON array, data a JSON
 * object. */
typedef struct store_case {
  char *id, *borrower_id, *workflow, *state, *outcome, *error;
  char *product, *currency, *due_date, *tags, *data, *queue;
  int version, closed, on_hold, has_score;
  double score;
  rc_money principal, balance, amount_due, fees;
  rc_money overpaid; /* paid beyond the balance, kept for refund */
  rc_money reduced;  /* taken off the balance by snapshot imports */
  rc_time opened_at;
} store_case;

void store_case_free(store_case *c);
void store_borrower_free(store_borrower *b);

/* Promises to pay. One open promise per case: a new one supersedes it. */
typedef struct store_promise {
  int64_t id;
  rc_money amount, paid;
  char by_date[16];
  char status[16]; /* open, kept, broken, superseded */
} store_promise;

/* A message for the outbox: strings owned. With it, read by the same
 * statement, what the outbox asks again as it sends: the case's state
 * and mover now against the message's writing state and step (state
 * NULL: written before recoup kept them), the case's hold, the
 * borrower's zone and blocks. */
typedef struct store_outgoing {
  int64_t id;
  char *case_id, *borrower_id, *channel, *template_name, *recipient, *body;
  int attempts;
  rc_time at;
  char *state;      /* the case's when written; NULL: not known */
  int64_t step;     /* the key of the move it waits on (engine.c moved_on) */
  char *case_state; /* the case's now; NULL: no such case */
  int64_t mover;    /* the key of the step that last moved the case */
  int closed, on_hold, ceased, do_not_contact;
  char timezone[64]; /* the borrower's; "" when none */
} store_outgoing;
void store_outgoing_free(store_outgoing *list, int n);

/* A console user (DESIGN.md "People and the console"). The password
 * hash is not here: it never leaves the engine. */
/* A display name: at most 64 characters, each at most 4 bytes. */
enum { USER_NAME_MAX = 64, USER_DISPLAY_SIZE = 64 * 4 + 1 };
typedef struct store_user {
  char name[USER_NAME_MAX + 1];
  /* What people read ("张敏"); "" for none. The name stays the key and
   * what the journal keeps. */
  char display_name[USER_DISPLAY_SIZE];
  char role[16]; /* agent, supervisor, read, admin */
  char *queues;  /* JSON array of queue names; owned */
  int disabled;
  rc_time created_at;
} store_user;
void store_user_free(store_user *u);

/* Whose view a read is (DESIGN.md "Who sees what"): a named agent sees
 * the cases with a waiting task in one of its queues, and those with a
 * task it completed since `since` (30 days back). queues is a JSON array
 * of queue names; a NULL scope (or NULL queues) is everyone's view. */
typedef struct store_scope {
  const char *queues; /* JSON array, NULL: every queue */
  const char *user;   /* the agent, or NULL */
  rc_time since;
} store_scope;

/* A place in My work's order: after this priority, due time and id. */
typedef struct store_work_cursor {
  double priority;
  rc_time due; /* 0 for a task with no due time */
  int64_t id;
} store_work_cursor;
/* A console session with its user as they are now (role, queues and
 * disabled read from users on every look-up: a change takes effect at
 * once). The token and its hash are not here. */
typedef struct store_session {
  char name[USER_NAME_MAX + 1];
  char role[16];
  char *queues; /* the user's, JSON array; owned */
  int disabled;
  rc_time created_at, last_seen, expires_at;
} store_session;
void store_session_free(store_session *s);

/* The engine opens one over its store and hands it out (engine_query). */
int query_open(query **out, store *st, rc_error *err);
void query_close(query *q);

/* --- one case, one borrower ------------------------------------------ */

/* RC_ENOTFOUND for an unknown case; *out is the caller's to free. */
int query_case(query *q, const char *id, store_case *out, rc_error *err);
/* RC_OK when the case exists, RC_ENOTFOUND when not. */
int query_case_exists(query *q, const char *id, rc_error *err);
int query_borrower(query *q, const char *id, store_borrower *out,
                   rc_error *err);
/* The borrower's cases, one row each. */
int query_borrower_cases(query *q, const char *borrower_id, store_row_fn fn,
                         void *ud, rc_error *err);
/* Cases in one state (every case when state is NULL), one row each. */
int query_cases(query *q, const char *state, store_row_fn fn, void *ud,
                rc_error *err);
/* The case's open promise; RC_ENOTFOUND when it has none. */
int query_promise_open(query *q, const char *case_id, store_promise *out,
                       rc_error *err);
/* The case's open plan with its installments, one row per installment
 * (the plan's columns on every row). */
int query_plan(query *q, const char *case_id, store_row_fn fn, void *ud,
               rc_error *err);

/* --- a case's history and effects, for tests and the REPL ------------- */

/* The journal of a case, oldest first: all of it when limit <= 0, else
 * the last `limit` rows. Rows an event is still writing are not seen
 * until the engine writes them (engine_journal_flush). */
int query_journal(query *q, const char *case_id, int limit, store_row_fn fn,
                  void *ud, rc_error *err);
/* Messages, tasks, timers of a case (of every case when case_id is NULL
 * for messages and tasks). */
int query_messages(query *q, const char *case_id, store_row_fn fn, void *ud,
                   rc_error *err);
int query_tasks(query *q, const char *case_id, store_row_fn fn, void *ud,
                rc_error *err);
int query_timers(query *q, const char *case_id, store_row_fn fn, void *ud,
                 rc_error *err);

/* --- pages for the HTTP API ------------------------------------------ */

/* Keyset pages ordered by id, after `after` (NULL, "" or 0 for the first
 * page); filters are NULL when not given. A case page reads at most
 * `window` cases after the cursor, so that a filter matching few of a
 * million cases answers in milliseconds; when the window was read whole,
 * window_end is its last id (else ""), where the next page goes on. */
typedef struct query_case_filter {
  const char *state, *queue, *after;
  int limit, window;
  const store_scope *scope; /* a named agent's view; NULL: all */
} query_case_filter;
int query_case_page(query *q, const query_case_filter *f, store_row_fn fn,
                    void *ud, char *window_end, size_t size, rc_error *err);
/* The cases of the borrowers whose own phone is `phone` (E.164), rows as
 * query_case_page's, by id after f->after; f->state, queue and window
 * unused. */
int query_cases_phone(query *q, const char *phone, const query_case_filter *f,
                      store_row_fn fn, void *ud, rc_error *err);
/* RC_ENOTFOUND when the case is unknown. */
int query_journal_page(query *q, const char *case_id, int64_t after, int limit,
                       store_row_fn fn, void *ud, rc_error *err);
/* One message as a row (id, case, channel, template, to: the recipient);
 * no row when the id is unknown. */
int query_message(query *q, int64_t id, store_row_fn fn, void *ud,
                  rc_error *err);
/* assignee: the user holding (or who did) the tasks, or NULL for anyone's;
 * queues: a JSON array of the queues a named agent may see, or NULL. */
int query_task_page(query *q, const char *queue, const char *status,
                    const char *assignee, const char *queues, int64_t after,
                    int limit, store_row_fn fn, void *ud, rc_error *err);
/* Cases in error, the newest failure first: columns case, state, event
 * (the type of the event that failed), error, since (that event's time)
 * and event_id, the cursor: a page goes on below `before` (0 for the
 * first page). */
int query_error_page(query *q, int64_t before, int limit, store_row_fn fn,
                     void *ud, rc_error *err);

/* --- the console's case work ------------------------------------------ */

/* One queue's waiting tasks in My work's order (DESIGN.md "Priority and
 * area"): part 1 the tasks due at or before now (a task without a due
 * time is due), part 2 the later ones; within each, priority (higher
 * first), due, id, after the cursor (NULL: from the start). user: a named
 * agent, who sees the open tasks and those it claimed (NULL: all).
 * only_open: the claimed ones left out (claim next). Rows: id, case_id,
 * kind, queue, due, assignee, status, priority, at. Walks one index: no
 * sort, no case read. */
int query_work_page(query *q, const char *queue, rc_time now, int part,
                    const store_work_cursor *after, const char *user,
                    int only_open, int limit, store_row_fn fn, void *ud,
                    rc_error *err);
/* The queues that have waiting tasks, a row each (queue). */
int query_work_queues(query *q, store_row_fn fn, void *ud, rc_error *err);
/* A queue's waiting tasks due now, and due before day_end; user as for
 * query_work_page (a named agent counts what its list shows). From the
 * counts kept by day (schema 38) and the tasks of the day each bound
 * falls in: a day's tasks read, not the queue's. */
int query_work_counts(query *q, const char *queue, rc_time now, rc_time day_end,
                      const char *user, int64_t *due_now, int64_t *today,
                      rc_error *err);
/* A queue's waiting tasks due before day_end by their borrower's area,
 * a row each (area, "" for none; n), counted over at most max of them:
 * each costs a case and a borrower read, where query_work_counts reads
 * kept counts and an index. */
int query_work_areas(query *q, const char *queue, rc_time day_end,
                     const char *user, int max, store_row_fn fn, void *ud,
                     rc_error *err);
/* Promises of one status (open, broken) due in [from, to] (ISO dates),
 * in the scope, by date and id after the cursor ("" and 0: from the
 * start). Rows: id, case_id, amount, paid, by_date, status. */
int query_work_promises(query *q, const char *status, const char *from,
                        const char *to, const char *after_date,
                        int64_t after_id, const store_scope *scope, int limit,
                        store_row_fn fn, void *ud, rc_error *err);
int query_work_promises_count(query *q, const char *status, const char *from,
                              const char *to, const store_scope *scope,
                              int64_t *count, rc_error *err);
/* The case a task belongs to (case_id of at least 160 bytes);
 * RC_ENOTFOUND naming "task" for an unknown task. */
int query_task_case(query *q, int64_t task_id, char *case_id, size_t size,
                    rc_error *err);
/* Whether the scope may see the case: RC_OK and *visible. */
int query_case_visible(query *q, const char *case_id, const store_scope *scope,
                       int *visible, rc_error *err);
/* The newest contact made with the case (a message that left, a contact
 * task done): its channel and time; RC_ENOTFOUND when none. */
int query_last_contact(query *q, const char *case_id, const char *borrower_id,
                       char *channel, size_t size, rc_time *at, rc_error *err);

/* --- figures ----------------------------------------------------------- */

/* The report's tables, named "states", "dpd", "promises",
 * "installments", "contacts", "refusals", "variants" and "money" (by the
 * cases' currency: paid, overpaid, reduced): every row of each goes to
 * fn with its table's name. today is the institution's local date,
 * "2026-01-31". */
typedef int (*query_table_fn)(void *ud, const char *table,
                              const store_value *cols, int ncols);
typedef struct query_totals {
  int64_t timers_pending, events_pending;
} query_totals;
int query_report(query *q, const char *today, query_table_fn fn, void *ud,
                 query_totals *totals, rc_error *err);

/* The console's figures (runtime/api_figures.c), read from counters kept
 * as the data changes: each call reads at most a few hundred rows
 * whatever the size of the book. Rows as store.h documents them
 * (store_figures_*): cases and balance by workflow and state; open cases
 * and balance by due date; promises by status; open and claimed tasks by
 * queue with the oldest due; experiment arms; one figure of figures_days
 * ("payment", "reduced", "contact", "refusal", "transition",
 * "collector") for days from..to. */
int query_figures_states(query *q, store_row_fn fn, void *ud, rc_error *err);
int query_figures_due(query *q, store_row_fn fn, void *ud, rc_error *err);
int query_figures_promises(query *q, store_row_fn fn, void *ud, rc_error *err);
int query_figures_queues(query *q, store_row_fn fn, void *ud, rc_error *err);
int query_figures_arms(query *q, store_row_fn fn, void *ud, rc_error *err);
int query_figures_days(query *q, const char *figure, const char *from,
                       const char *to, store_row_fn fn, void *ud,
                       rc_error *err);
/* A month's roll-rate matrix once the engine has settled it
 * (engine_rolls_settle): rows from_bucket, to_bucket, cases; none when
 * it has not. */
int query_rolls_month(query *q, const char *month, store_row_fn fn, void *ud,
                      rc_error *err);
/* The outbox by status (queued, deferred, blocked, failed, in that order
 * when statuses lists several), each in delivery order, from after the
 * message `after` (0: from the top); channel NULL for all. Rows: id,
 * case, channel, template, status, reason, until, attempts, at, to. With
 * a channel a page reads at most 10,000 messages of a status: when that
 * ends it early, *resume is the message to go on after (else 0). */
int query_outbox_page(query *q, const char *const *statuses, int nstatuses,
                      const char *channel, int64_t after, int limit,
                      int64_t *resume, store_row_fn fn, void *ud,
                      rc_error *err);
/* Messages with one status now, from the counter the store keeps. */
int query_messages_count(query *q, const char *status, int64_t *count,
                         rc_error *err);

/* The gauges of /metrics and /health. */
typedef struct query_gauges {
  int64_t timers_pending, timers_overdue; /* overdue: due at or before now */
  int64_t messages_queued, messages_deferred;
} query_gauges;
int query_gauges_read(query *q, rc_time now, query_gauges *out, rc_error *err);
int query_events_pending(query *q, int64_t *count, rc_error *err);

/* A value the engine keeps in the database (the simulated clock of
 * `recoup tick`); RC_ENOTFOUND when it was never set. */
int query_meta(query *q, const char *key, char *buf, size_t size,
               rc_error *err);

/* --- console users ---------------------------------------------------- */

/* RC_ENOTFOUND, naming "name", for an unknown user; *out is the caller's
 * to free (store_user_free). */
int query_user(query *q, const char *name, store_user *out, rc_error *err);
/* Every user by name, a row each: name, role, queues (JSON), disabled,
 * created_at. */
int query_users(query *q, store_row_fn fn, void *ud, rc_error *err);
/* The session whose id (hex SHA-256 of its token) is id; RC_ENOTFOUND,
 * naming "session", when none. *out is the caller's (store_session_free). */
int query_session(query *q, const char *id, store_session *out, rc_error *err);

/* --- for the compliance guard ----------------------------------------- */

/* Contacts on any of the channels since `since` — messages neither
 * blocked nor cancelled (exclude_message: one being released, not counted
 * against itself) and contact tasks not cancelled — for the one case or,
 * when case_id is NULL, all the borrower's cases, counted up to limit.
 * *oldest is the time of the oldest of the newest `limit` contacts: when
 * the count is at the limit, the window has room again once it leaves.
 * Task kinds count as their channel (call; visit, home_visit and
 * workplace_visit; or what the workflow's counts_as says). */
int query_contacts(query *q, const char *case_id, const char *borrower_id,
                   const char (*channels)[24], int nchannels, rc_time since,
                   int limit, int64_t exclude_message, int64_t *count,
                   rc_time *oldest, rc_error *err);
/* When a call last reached the borrower (a call task completed with
 * reached = true); RC_ENOTFOUND when never. */
int query_last_conversation(query *q, const char *borrower_id, rc_time *at,
                            rc_error *err);

/* --- for the outbox ---------------------------------------------------- */

/* Messages to deliver now — queued, and for a retry its time reached —
 * first attempts oldest first, then retries by their time. *out is the
 * caller's (store_outgoing_free). */
int query_outbox_due(query *q, rc_time now, int max, store_outgoing **out,
                     int *n, rc_error *err);

/* --- for `recoup simulate` --------------------------------------------- */

/* One of the what-if reads, QUERY_SIM_* (the same as store.h's
 * STORE_SIM_*): the rows after id `after` where the read takes one. */
enum {
  QUERY_SIM_CASES,
  QUERY_SIM_MESSAGES,
  QUERY_SIM_TASKS,
  QUERY_SIM_BACKLOG,
  QUERY_SIM_JOURNAL,
  QUERY_SIM_PAYMENTS,
  QUERY_SIM_PROMISES,
  QUERY_SIM_CONTACTS,
  QUERY_SIM_OUTCOMES,
  QUERY_SIM_REPLIES /* (case_id, at) of borrowers' replies, by case */
};
int query_sim(query *q, int which, int64_t after, store_row_fn fn, void *ud,
              rc_error *err);

#endif
