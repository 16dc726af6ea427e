/* The PostgreSQL backend's own parts: its schema (pg_schema.c) and the
 * statements by which several nodes share one database (pg_claim.c). Only
 * the backend's files and their tests include this header. */
#ifndef RECOUP_STORE_PG_H
#define RECOUP_STORE_PG_H

#include <stdint.h>

#include <libpq-fe.h>

#include "recoup/query.h"
#include "recoup/recoup.h"

/* A case's columns as the store reads them (pg_read_case's order). */
#define PG_CASE_COLS                                                    \
  "id, borrower_id, workflow, version, state, closed, outcome, error, " \
  "product, currency, principal, balance, amount_due, fees, due_date, " \
  "opened_at, score, tags, data, queue, on_hold, overpaid, reduced"

/* A borrower's own columns, of borrowers b (pg_read_borrower's order). */
#define PG_BORROWER_COLS                                             \
  "b.id, b.name, b.locale, b.timezone, b.address, b.employer_name, " \
  "b.employer_phone, b.employer_address, b.do_not_contact, b.ceased, b.area"

/* The first key of the counter slots' session advisory locks (pg.c's
 * slot_take, pg_book.c's count of the other processes on a book): one a
 * book, that is a schema, since advisory locks are the whole database's
 * and two books in two schemas of one database would count each other's
 * processes. Recoups before session 22 took hashtext('recoup.slot') for
 * every schema: pg_book.c counts that key too (a process it cannot place
 * counts as one on this book, never as none). */
#define PG_SLOT_KEY "hashtext('recoup.slot ' || coalesce(current_schema(), ''))"

/* --- schema (pg_schema.c) --------------------------------------------- */

/* How many migrations the backend has: the version of a current book. */
int pg_schema_version(void);

/* Brings the database (the first schema on the connection's search_path)
 * to the current version: creates a new book, upgrades an older one, does
 * nothing to a current one. One transaction under an advisory lock, so
 * that nodes started together migrate once and none sees half a schema.
 * A book newer than this build is refused (RC_ESTORE). */
int pg_schema_migrate(PGconn *c, rc_error *err);

/* The same, to an older version than the current one (the tests' book
 * of an earlier release, to upgrade). */
int pg_schema_migrate_to(PGconn *c, int version, rc_error *err);

/* The version the book records (0: no book yet), or an RC code. */
int pg_schema_read_version(PGconn *c, rc_error *err);

/* --- claims (pg_claim.c) ---------------------------------------------- */

/* The time a lease is measured by: now < 0 asks for the database's clock
 * (one clock for every node, whatever theirs say); tests pass their own. */
#define PG_CLOCK_DB ((int64_t)-1)

/* Each claim below is one statement and commits with the caller's
 * transaction (or alone, outside one). A row is claimed when it is
 * unclaimed or its lease ended (claimed_until < now); the claim sets
 * claimed_by = node and claimed_until = now + lease_ms. Rows another
 * transaction is claiming are skipped, not waited for (FOR UPDATE SKIP
 * LOCKED), so nodes never queue behind each other and never take the same
 * row. A node that dies keeps its claims until their lease ends; then
 * they are anyone's. Each returns its rows (PGRES_TUPLES_OK, the caller
 * PQclear()s) or NULL with err set. */

/* Up to max timers due at or before `until`, in (due, id) order:
 * columns id, case_id, due, event, data; then, so that the batch's steps
 * need not read them again (pg_cache.c), the timer's case from column
 * PG_CLAIM_CASE (PG_CASE_COLS), locked for the caller's transaction
 * (FOR NO KEY UPDATE: another node's payment to it waits for this batch
 * rather than be overwritten by a balance read before it). A case
 * another transaction holds is not waited for: its columns are NULL.
 * A timer whose case has an earlier one held elsewhere is not among them
 * (leased for PG_TIMER_WAIT_MS instead, as pg_lock_timers says). */
PGresult *pg_claim_timers(PGconn *c, const char *node, int64_t until, int max,
                          int64_t lease_ms, int64_t now, rc_error *err);
enum { PG_CLAIM_CASE = 5 };
/* The column of a batch's timer claim that says whether the held case
 * has tasks a move cancels (open or claimed, not kept). */
#define PG_CLAIM_TASKS "tasks_to_cancel"

/* pg_claim_timers' rows, in the caller's open transaction, only locked:
 * no lease is written, so the timers are the transaction's until it ends
 * (it deletes those it runs) and anyone's after. A timer whose case has
 * an earlier one that another transaction holds or a lease keeps is not
 * among them: it must not run first. It is leased to node for
 * PG_TIMER_WAIT_MS instead (with the caller's commit), so that it is
 * tried again then, not at once and again while the earlier one waits. */
enum { PG_TIMER_WAIT_MS = 1000 };
PGresult *pg_lock_timers(PGconn *c, const char *node, int64_t until, int max,
                         int64_t now, rc_error *err);
/* Its statement, for a caller that runs it prepared (a node's batch): $1
 * until, $2 max, $3 now, $4 node, $5 PG_TIMER_WAIT_MS. */
extern const char pg_lock_timers_sql[];

/* Queued messages whose next attempt is due at or before `until`, up to
 * max in (next_attempt, id) order: columns id, case_id, borrower_id,
 * channel, template, recipient, body, attempts, at. */
PGresult *pg_claim_outbox(PGconn *c, const char *node, int64_t until, int max,
                          int64_t lease_ms, int64_t now, rc_error *err);
/* Its statement ($1 node, $2 until, $3 max, $4 lease_ms, $5 now). */
extern const char pg_claim_outbox_sql[];

/* Up to max pending events, in id order, of the cases with the oldest
 * ones, only of cases no other node holds events of: events of one case
 * are handled by one node, in the order they came. The events of cases in
 * error are parked (status 'failed') instead. Columns id, case_id, type,
 * data, at; then the event's case from column PG_CLAIM_CASE, as the timer
 * claim's (pg_cache_fill_events keeps them). Several statements: must
 * run inside the caller's transaction, at READ COMMITTED (PostgreSQL's
 * default), so that each sees what the claimers before it committed; the
 * cases' rows stay locked until the transaction ends. */
PGresult *pg_claim_events(PGconn *c, const char *node, int max,
                          int64_t lease_ms, int64_t now, rc_error *err);
/* Its statements, for a caller that runs them prepared (a node's batch):
 * the cases ($1 max, $2 now: their ids and whether each is in error),
 * the parking of the events of those in error ($1 the ids) and the
 * events ($1 node, $2 ids, $3 lease_ms, $4 now, $5 max); and the ids of
 * r's first column as a text[] literal (malloc'd; NULL: out of memory). */
extern const char pg_claim_event_cases_sql[], pg_park_events_sql[],
    pg_claim_events_sql[], pg_claim_event_cases_all_sql[];
/* The cases' and the events' statements sent together (pg_claim.c): the
 * first's $3, the second's $2, the name of the setting that carries the
 * ids from one to the other. */
extern const char pg_claim_event_cases_set_sql[], pg_claim_events_set_sql[];
char *pg_claim_id_array(const PGresult *r);
/* Whether the cases statement met only cases in error, or only cases
 * another transaction holds: the claim asks
 * again with pg_claim_event_cases_all_sql (pg_claim.c says why). */
int pg_claim_event_cases_wider(const PGresult *cases);
/* The ids of the cases statement's rows (cases, cleared) as above, and
 * whether one is in error; NULL with err set when out of memory. */
char *pg_claim_event_cases(PGresult *cases, int *in_error, rc_error *err);

/* When this node can next claim a timer: the earliest due of the timers
 * free now (unclaimed, or their claimer's lease ended) that no other
 * transaction is claiming, or the end of a live lease (+1 ms) of a claim
 * committed by a node that then died, whichever comes first. Timers in
 * another node's open batch are not counted, so a node whose due timers
 * are all in others' batches sleeps instead of asking again at once.
 * Inside a transaction, the earliest free timer stays locked (FOR KEY
 * SHARE) until it ends. RC_OK with *due, RC_ENOTFOUND when there is none,
 * or RC_ESTORE. */
int pg_timer_next_due(PGconn *c, int64_t now, int64_t *due, rc_error *err);
/* The same counting the timers in other nodes' open batches (still not
 * those under a live lease). */
int pg_timer_first_due(PGconn *c, int64_t now, int64_t *due, rc_error *err);
/* Their statements, for a caller that runs them prepared (a node): $1
 * now; one row, the time or NULL. */
extern const char pg_timer_next_due_sql[], pg_timer_first_due_sql[];

/* Ends a claimed timer: deletes it if this node still holds its claim.
 * Returns 1 when deleted, 0 when the claim was lost (its lease ended and
 * another node took it: the caller rolls back what it did for it), or an
 * RC code. */
int pg_timer_finish(PGconn *c, int64_t id, const char *node, rc_error *err);

/* Gives back every claim of node (a node that stops cleanly), so that the
 * others need not wait for the leases. Returns how many, or an RC code. */
int pg_claims_release(PGconn *c, const char *node, rc_error *err);

/* Claims the timers of case_id that are free or node's for ms from now
 * (PG_CLOCK_DB: the database's clock), skipping those another
 * transaction holds (store.h store_timers_retry). Returns how many, or
 * an RC code. */
int pg_timers_retry(PGconn *c, const char *case_id, const char *node,
                    int64_t ms, int64_t now, rc_error *err);

/* The guard's serialised decision: holds the borrower's row until the
 * caller's transaction ends, so that counting the borrower's contacts and
 * writing the message are one decision across nodes (two nodes must not
 * both send the fourth SMS of a day). FOR NO KEY UPDATE: deciders of one
 * borrower wait for each other; inserting a case or a message that refers
 * to the borrower does not. Returns 1 when locked, 0 when there is no
 * such borrower, or an RC code. */
int pg_borrower_lock(PGconn *c, const char *borrower_id, rc_error *err);

/* --- a batch's cases (pg_cache.c) ------------------------------------ */

/* What a timer claim read beside its timers, served to the batch's steps
 * instead of a round trip each. An entry is fresh until this node writes
 * its row (pg_cache_forget) or the transaction ends (pg_cache_clear: the
 * case's lock ends with it). The claim's timers are known too: one
 * claimed in this transaction is still there and still this node's
 * unless its case's timers were cancelled since (its row stays locked by
 * the claim), so its end need not wait for the server's count. */
typedef struct pg_cache_entry pg_cache_entry;
typedef struct pg_cache {
  PGresult *rows; /* the claim's; owned */
  pg_cache_entry *slots;
  int nslots;
  int tasks; /* rows' PG_CLAIM_TASKS column, or -1 */
} pg_cache;

/* What an entry stands for: a case, a claimed timer, a claimed event. */
enum { PG_CACHE_CASE = 'c', PG_CACHE_TIMER = 't', PG_CACHE_EVENT = 'e' };

/* Keeps a claim's rows (pg_claim_timers' columns), r included, in place
 * of what k held. RC_OK, or RC_ENOMEM (r freed, k empty). */
int pg_cache_fill(pg_cache *k, PGresult *r);

/* The same for an events claim's rows (pg_claim_events' columns): their
 * cases, locked by the claim; an event id is never taken for a timer's. */
int pg_cache_fill_events(pg_cache *k, PGresult *r);

/* Forgets everything (k stays usable). */
void pg_cache_clear(pg_cache *k);

/* The row of that kind and id is no longer what was read (a write). */
void pg_cache_forget(pg_cache *k, int kind, const char *id);

/* The row of the claim's timer (-1: not the claim's), how many rows the
 * claim has, and the borrower of the case of a row (NULL when its case
 * is not held, or there is no such row). */
int pg_cache_timer_row(pg_cache *k, int64_t timer);
int pg_cache_rows(const pg_cache *k);
const char *pg_cache_borrower_at(pg_cache *k, int row);

/* 0 when the claim saw the held case with no task its move cancels, else
 * 1 (it had some, or the claim did not say). */
int pg_cache_case_tasks(pg_cache *k, const char *case_id);

/* The case's timers may have been deleted (a cancel): their ends ask the
 * server again. */
void pg_cache_timers_cut(pg_cache *k, const char *case_id);

/* 1 with *out read from the cache, or 0 (*out empty) when it holds no
 * fresh row (or memory ran out: the server is asked, and says so). */
int pg_cache_case(pg_cache *k, const char *id, store_case *out);

/* Whether the timer of that id was claimed in this transaction and is
 * still this node's for certain (see above). */
int pg_cache_timer_held(pg_cache *k, int64_t id);

/* The claim's row of a fresh case: r and *row, or NULL (not read, or
 * written since). The case's columns start at PG_CLAIM_CASE. */
const PGresult *pg_cache_case_row(pg_cache *k, const char *id, int *row);

/* --- counters summed in the node (pg_counts.c) ------------------------ */

/* The console's counters that a transaction's writes move (cases by
 * workflow and state, open cases by due date, messages by status, what
 * the arms of experiments recovered),
 * summed through it and written once at its end, as the day's figures
 * are: a trigger's upsert at every write was half a transition's time on
 * the server. Each is a kind, a key of up to two parts and a currency
 * (cases' balances are summed each currency apart), and four sums. */
enum { PG_COUNTS_MAX = 64, PG_COUNT_PART = 128, PG_COUNT_CUR = 16 };
enum {
  PG_COUNT_STATE = 's',
  PG_COUNT_DUE = 'd',
  PG_COUNT_MESSAGE = 'm',
  PG_COUNT_PAID = 'p' /* a case's payments, for its experiments' arms */
};
typedef struct pg_count {
  int kind;
  char a[PG_COUNT_PART], b[PG_COUNT_PART]; /* zero-filled */
  char cur[PG_COUNT_CUR];                   /* zero-filled; "" for none */
  int64_t v[4];
} pg_count;
typedef struct pg_counts {
  pg_count v[PG_COUNTS_MAX];
  int n;
} pg_counts;

/* What a case counts for: its figures_states and figures_due keys and
 * sums. */
typedef struct pg_case_count {
  char workflow[PG_COUNT_PART], state[PG_COUNT_PART], due[PG_COUNT_PART];
  char currency[PG_COUNT_CUR];
  int64_t balance;
  int closed, error;
} pg_case_count;

/* Adds v to the counter of that kind and key. 1 when added; 0 when k is
 * full (the caller writes what k holds, then adds again) or a part is
 * too long to keep (the caller writes this one at once). */
int pg_counts_add(pg_counts *k, int kind, const char *a, const char *b,
                  const char *cur, const int64_t v[4]);

/* Adds a case's counts (sign 1) or takes them out (-1): 1, or 0 as
 * pg_counts_add (nothing added then). */
int pg_counts_case(pg_counts *k, const pg_case_count *c, int sign);

/* A case's counts from a row of PG_CASE_COLS starting at col, or from
 * a case. 1, or 0 when a part is too long to keep. */
int pg_case_count_read(const PGresult *r, int row, int col,
                       pg_case_count *out);
int pg_case_count_of(const store_case *c, pg_case_count *out);

/* --- rows sent a batch at a time (pg_batch.c) ------------------------- */

/* Rows of one table that a transaction writes and reads nothing back
 * of (a reminder's message and journal run, its case's new state, its
 * timer's end), kept in the node and sent as one INSERT, UPDATE or
 * DELETE taking them from unnest(...) instead of a statement each: a
 * statement's start and end on the server cost as much as its row.
 * The owner sends them before anything that could read them (pg.c:
 * rows_write) and drops them with what a rollback undoes. Each row is
 * ncols texts (NULL for NULL), copied. */
typedef struct pg_rows {
  int ncols;
  char **v; /* owned; n rows of ncols */
  int n, cap;
  /* pg_rows_put's rows by their first column: row + 1, 0 a free slot
   * (a search from the last row made a batch's writes quadratic). */
  int *keys; /* owned; nkeys slots, a power of two */
  int nkeys;
} pg_rows;

/* 0, or -1 when memory ran out (nothing added). */
int pg_rows_add(pg_rows *b, const char *const *cols);
/* The same, but a row whose first column is cols[0] already is replaced
 * (a row's key written twice: the last write wins); at most
 * PG_ROWS_COLS_MAX columns. A table so written takes no pg_rows_add. */
enum { PG_ROWS_COLS_MAX = 16 };
int pg_rows_put(pg_rows *b, const char *const *cols);
/* Column col of every row as an array of type's elements in
 * PostgreSQL's binary form (malloc'd, *len its bytes): the server reads
 * it without parsing, and text is sent unescaped. A PG_INT4 or PG_INT8
 * column holds numbers' text, each one whole decimal number within its
 * type's range. NULL when one is not (*len -1) or memory ran out (0). */
enum { PG_INT8 = 20, PG_INT4 = 23, PG_TEXT = 25 }; /* the types' oids */
char *pg_rows_array(const pg_rows *b, int col, unsigned type, int *len);
/* Whether column col holds one value in each of two rows or more (NULL
 * in each, or the same text): 1, else 0; -1 when it is a number column
 * whose value is not one of type's (as pg_rows_array refuses). */
int pg_rows_same(const pg_rows *b, int col, unsigned type);
void pg_rows_clear(pg_rows *b);
void pg_rows_free(pg_rows *b);

/* The read ahead of the next reminders' borrowers ($4), carrying the
 * check of the guard's decisions ($1 borrowers, $2 ceased, $3
 * do_not_contact): pg.c. */
extern const char pg_borrowers_ahead_sql[];
/* The statements that write a batch's kept case states, timer ends and
 * timer cancels, and the ends and cancels together (the tests read their
 * plans). */
extern const char pg_states_sql[], pg_ends_sql[], pg_cuts_sql[],
    pg_ends_cuts_sql[];
/* The statement that cancels a case's deferred messages (the tests read
 * its plan). */
extern const char pg_cancel_deferred_sql[];

/* A case (PG_CASE_COLS) and a borrower's own columns (PG_BORROWER_COLS)
 * from row of r, starting at column col, into *out (owned strings).
 * pg.c. */
void pg_read_case(const PGresult *r, int row, int col, store_case *out);
void pg_read_borrower(const PGresult *r, int row, int col,
                      store_borrower *out);

/* An RC_ESTORE error from a failed result (or the connection's message
 * when there is no result), naming what was being done. Always returns
 * RC_ESTORE. */
int pg_fail(PGconn *c, const PGresult *r, const char *doing, rc_error *err);

/* Whether pg_fail met a deadlock or a serialization failure on this
 * thread since the last call (the transaction is to be run again, not
 * its events failed); clears it. */
int pg_conflict_take(void);

#endif
