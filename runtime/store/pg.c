/* The PostgreSQL store: the operations table (backend.h) over libpq, for a
 * book that outgrows one machine or lives where the lender keeps its other
 * data (DESIGN.md "Beyond one machine: PostgreSQL").
 *
 * The same book as the SQLite store, with what sharing it takes: ids from
 * sequences, claims with a lease (pg_claim.c), the counters the console
 * draws kept by triggers (pg_schema.c). Statements go with their
 * parameters as text, each prepared once a connection, and rows come back
 * as text, turned into typed values by the column's type: what SQLite
 * gives as integers (counts, sums, flags) comes out as integers here too.
 *
 * A round trip to the server costs more than most statements (~0.4 ms
 * here, several ms on a busy machine): inside a transaction, a write whose
 * result the step does not read is queued in libpq's pipeline, not
 * waited for, and goes to the server with the next statement that must
 * be answered (a read, the commit). Its result is read then, in order: a
 * queued write that failed fails that statement (the batch), never
 * vanishes; the server runs the statements in the order they were made,
 * so locks are taken in the same order as before.
 *
 * A connection the server dropped (restarted, pg_terminate_backend) is
 * made again by the next statement outside a transaction; inside one, the
 * transaction is lost, and the engine runs the batch again as after a
 * deadlock (store_contended).
 *
 * A transaction is READ COMMITTED, PostgreSQL's default, which the claims
 * need (pg.h). A statement that fails aborts the whole transaction in
 * PostgreSQL: the engine's savepoint a event puts that right for one
 * event, as it does for SQLite. */
#include <assert.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jbuf.h"
#include "store/backend.h"
#include "store/book.h"
#include "store/pg.h"

/* A claim's lease when the engine gives none: long enough for a batch on
 * a slow day, short enough that a node's death costs the others little. */
enum { PG_LEASE_MS = 60000 };

/* Prepared statements a connection keeps, by their text (open
 * addressing); beyond PREP_MAX distinct texts (pages built from filters)
 * statements go unnamed, parsed each time, as before. */
enum { PREP_SLOTS = 1024, PREP_MAX = 768 };
typedef struct prep {
  char *sql;    /* owned; NULL: a free slot */
  int prepared; /* on this connection */
} prep;

/* A group's payments looked up ahead, all in its first round trip
 * (op_pays_ahead): each one's case hold, promise and ref look-up, their
 * places in pend (1-based; 0 when read) and their rows, kept until the
 * payment's job asks for them (op_case_ahead, op_payment_by_ref). */
enum { PAYS_AHEAD_MAX = 64 };
typedef struct pay_ahead {
  char case_id[256], ref[256];
  int case_at, promise_at, ref_at, taken;
  PGresult *hold, *promise, *found;
} pay_ahead;

/* Queued statements whose results are not read yet, in order. A write
 * waits here at most until PIPE_MAX of them are queued; never more are
 * (pipe_send reads them first). */
enum { PIPE_MAX = 256 };

/* A figure of the day summed through a transaction (op_figure_add), at
 * most FIGS_MAX distinct ones before they are written. */
enum { FIGS_MAX = 64 };
enum { FIG_PART = 256 };
typedef struct fig {
  char key[5][FIG_PART]; /* figure, day, a, b, c; zero-filled */
  int64_t n, amount;
} fig;

/* Message ids a node takes from the sequence at a time (message_id). */
enum { IDS_AHEAD = 100 };
#define IDS_AHEAD_TEXT "100" /* the same, in message_id's statement */
typedef struct pend {
  const char *what; /* what it was doing, for its error */
  int slot;         /* >= 0: it prepares prep[slot] */
  /* Rows kept for the group (rows_write) sent while a job runs: some may
   * be an earlier job's, so a refusal is no fault of this one's. */
  int kept;
} pend;

typedef struct pg {
  store base;        /* first: the shared part (backend.h) */
  PGconn *c;         /* owned */
  char node[128];    /* this process among the nodes: host:pid */
  char claimer[128]; /* who made the last claims: what ends them checks */
  char scratch[64];  /* a throwaway schema this store made and drops, or "" */
  /* A book being moved in (pg_book.c): the table whose INSERT is prepared
   * as "book_put", or "". */
  char book_table[64];
  char conninfo[2048]; /* how to connect again */
  int manual;          /* a transaction of an op's own is open (depth 0) */
  int async;           /* commits need not wait for the disk (op_scratch) */
  prep prep[PREP_SLOTS];
  int nprep;
  pend pend[PIPE_MAX];
  int npend;
  int64_t ids[IDS_AHEAD]; /* message ids taken ahead, used last first */
  int nids;
  pg_cache batch; /* what this transaction's timer claim read (pg.h) */
  /* The borrowers of the claim's next reminders, read in one statement
   * while this one runs (borrower_ahead): for the claim's rows
   * [ahead_from, ahead_to) (ahead_to 0: none), the timer of the step
   * running, the statement's place in pend (1-based; 0 when read), and
   * its rows. */
  int ahead_from, ahead_to;
  int64_t step_timer;
  int ahead_at;
  PGresult *ahead;
  /* The borrower flags the guard decided on, not yet checked
   * (op_borrower_decided): rows of id, ceased, do_not_contact. The next
   * read ahead carries their check, else the commit. */
  pg_rows checks;
  /* The checks sent, not yet answered by the checks_flying statements
   * that carry them: put back in checks when one of those was refused or
   * skipped (a write queued before it failed, and the engine undid the
   * step and went on), so that the commit still makes them. */
  pg_rows checks_sent;
  int checks_flying, checks_lost;
  /* This transaction created a task: the claim's word that a case has
   * none (pg_cache_case_tasks) may be old. */
  int tasks_added;
  /* The case this transaction last read, or "": cases are never deleted,
   * so an event for it needs no answer to know it went in (op_event_put).
   * Forgotten with a savepoint undone (an insert of it may go with it). */
  char seen_case[256];
  /* The payment ref this transaction last looked up and did not find, or
   * "": its insert need not wait for its answer (op_payment_put). */
  char unseen_ref[256];
  /* The unpaid installments read along with a case's open promise
   * (op_promise_get), kept for the read of them that follows it in a
   * payment's allocation; dropped when any other statement goes first. */
  PGresult *unpaid;
  char unpaid_case[256];
  /* The case a group's job tries to hold next, sent with the read before
   * it (op_case_ahead): whose ("" none), its statement's place in pend
   * (1-based; 0 when read) and its rows, kept for case_get unless another
   * statement goes first. */
  char case_id_ahead[256];
  int case_at;
  PGresult *case_ahead;
  /* The events claim's cases, sent with its events (events_claim_batch):
   * their statement's place in pend (1-based; 0 when read) and rows. */
  int claim_at;
  PGresult *claim_cases;
  /* That case's open promise and unpaid installments, sent after its
   * hold (promise_and_unpaid's read): whose, its place in pend and its
   * rows, kept for the payment's allocation until a statement naming
   * those tables goes first. The case held, no one else changes them. */
  char promise_case[256];
  int promise_at;
  PGresult *promise_ahead;
  /* A group's payments read ahead (pay_ahead), and the one whose case
   * op_case_ahead took last (-1 none), its ref's look-up next. */
  pay_ahead pays[PAYS_AHEAD_MAX];
  int npays, pay_cur, pay_scan; /* pay_scan: pay_keep's first to look at */
  fig figs[FIGS_MAX]; /* figures of the day not written yet */
  int nfigs;
  /* The console's counters this transaction moved, not written yet
   * (pg.h), and what the case last written counts for now: its row
   * stays locked until the transaction ends, so no one else moves it. */
  pg_counts counts;
  pg_case_count known;
  char known_id[160]; /* "" when none */
  /* What a transaction writes and reads nothing back of, not sent yet
   * (pg.h: pg_rows; rows_write): new messages and journal runs, cases'
   * new states, claimed timers ended, timers of cases cancelled, events
   * handled. */
  pg_rows kept[6];
  /* What this transaction has written or kept to write (counted, not
   * exact: anything that may write counts), and a light savepoint's
   * (store_savepoint_light) depth inside the transaction and the count
   * when it began; light 0 when none is open. */
  int64_t changes, light_from;
  int light;
  /* The depth (1: the transaction, more: a savepoint in it) that took the
   * opening of cases (op_hold_opening); 0 when not held. A savepoint
   * rolled back lets go of what it took (the server's locks too). */
  int opening_at;
  /* The place in pend where the light savepoint open began: what comes
   * before it, an earlier job's writes not read at that job's end, is no
   * fault of this one's when refused (end_light). */
  int job_from;
  int sending_kept; /* rows_write is sending rows kept for the group */
  /* store_begin_import: the next transaction begun is an import's; the
   * one begun is (analyse_fresh at its commit). */
  int import_next, importing;
} pg;

/* The tables of kept rows (pg.h: pg_rows), in the order rows_write sends
 * them; the columns of each, in the order its statement takes them; and
 * the most rows kept before they are sent (an import's journal would
 * fill memory). */
enum { KEPT_MSGS, KEPT_RUNS, KEPT_STATES, KEPT_ENDS, KEPT_CUTS, KEPT_EVENTS,
       KEPT_N };
/* A message's id is its twelfth column (next_attempt's 0 goes before
 * it), its writing state and step after it. */
enum { MSG_COLS = 14, MSG_ID_COL = 11, ROWS_MAX = 1024 };
/* A batch's steps whose rows go to the server together before the
 * batch ends (borrower_ahead): few enough that the server writes them
 * while the node runs the next steps, many enough that a statement's
 * own cost (a fifth of a step's at 16; starting its plan, its triggers'
 * WHEN clauses read again, ending it) is shared: at 128 the server does
 * 2 % less a reminder than at 64, and 0.7 % less again at 256, whose
 * last rows of a 1,000-reminder batch wait for its commit. */
enum { ROWS_EARLY = 128 };
static const int kept_cols[KEPT_N] = {MSG_COLS, 4, 5, 1, 2, 1};

#define PG(s) ((pg *)(s))

/* --- statements and rows ------------------------------------------------ */

/* A statement's parameters, as text (numbers are written into num), or
 * in binary form where len is not 0 (nbin of them). The most a statement
 * here takes is a case's 21. */
enum { ARGS_MAX = 24 };
typedef struct args {
  const char *v[ARGS_MAX];
  char num[ARGS_MAX][32];
  int len[ARGS_MAX];
  int n, nbin;
} args;

static void a_text(args *a, const char *s) {
  a->v[a->n++] = s;
}

static void a_int(args *a, int64_t x) {
  snprintf(a->num[a->n], sizeof a->num[0], "%" PRId64, x);
  a->v[a->n] = a->num[a->n];
  a->n++;
}

/* b's columns as a's parameters, each an array of its types[c] in
 * binary form (pg_rows_array; malloc'd into arr): 0, or -1 when memory
 * ran out, -2 when a number column held a text not a number of its
 * type (a_rows_failed says which). */
static int a_rows(args *a, const pg_rows *b, const unsigned *types,
                  const int *same, char **arr) {
  for (int c = 0; c < b->ncols; c++) {
    /* One value (kept_sql): as text, the number checked by pg_rows_same. */
    if (same && same[c]) {
      const char *v = b->v[c];
      if (v && !(arr[c] = strdup(v))) return -1;
      a_text(a, arr[c]);
      continue;
    }
    if (!(arr[c] = pg_rows_array(b, c, types[c], &a->len[a->n])))
      return a->len[a->n] < 0 ? -2 : -1;
    a->nbin++;
    a_text(a, arr[c]);
  }
  return 0;
}

/* The error of a_rows' failure why: a number the node made that is not
 * one is a bug in recoup, never sent as a wrong number. */
static int a_rows_failed(int why, rc_error *err) {
  if (why == -2)
    return rc_error_set(err, RC_EINTERNAL, "db",
                        "a number to send is not a number of its type");
  return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
}

/* -0 is written 0: PostgreSQL keeps the sign ("score": -0.0), SQLite
 * does not (0.0). */
static void a_real(args *a, double x) {
  snprintf(a->num[a->n], sizeof a->num[0], "%.17g", x == 0 ? 0.0 : x);
  a->v[a->n] = a->num[a->n];
  a->n++;
}

static const char borrower_changed[] = "check the borrower the guard read";

/* SQLSTATE classes of a row the book refuses (failed). */
/* What a state write that kept no row says first (pg_states_sql). */
#define STATES_REFUSED "recoup set state: "

static int row_refused(const char *state) {
  return strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0 ||
         strncmp(state, "54", 2) == 0 || strcmp(state, "P0001") == 0;
}
static int check_send(pg *st, rc_error *err);

/* The error of a failed result. A constraint the store did not expect to
 * fail is a bug in recoup: RC_EINTERNAL, as the SQLite backend says it
 * (backend.h's "Errors" says RC_ESTORE; the engine and test_store.c
 * expect what sqlite.c does). */
static void failed(pg *st, const PGresult *r, const char *what, rc_error *err) {
  const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  const char *constraint = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);

  /* A borrower's cease or do-not-contact another node recorded after the
   * guard's read (check_sql): run again, the read sees it. */
  if (what == borrower_changed && state && strcmp(state, "22P02") == 0)
    st->base.contended = 1;

  /* A payment's ref another node recorded after this transaction looked
   * for it (op_payment_put): the transaction is run again, and its look
   * then finds it (a duplicate, or a conflict naming what it was for). */
  if (state && strcmp(state, "23505") == 0 && constraint &&
      strcmp(constraint, "payments_ref_key") == 0)
    st->base.contended = 1;
  /* A row the book refused (store.h's store_refused), as SQLite says it
   * for any constraint or trigger's RAISE: a constraint (class 23), a
   * trigger's RAISE EXCEPTION (P0001), a value the column, a domain or a
   * trigger takes for bad data (class 22) and a row beyond a limit of
   * the server's (class 54: an index entry over its 2,704 bytes). Each
   * is one case's rows, refused at every run: unset, that case's step
   * failed every batch holding it on PostgreSQL, where SQLite set it
   * aside and went on. The database's own failures (53 full disk or
   * memory, 57 a timeout or a shutdown, 58 I/O, XX) stay failures, the
   * batch run again later; 40001, 40P01 and 55P03 run again at once
   * (pg_fail). docs/operations.md "PostgreSQL's errors". */
  if (state && row_refused(state) && !st->base.contended) {
    const char *said = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    const char *refused = said ? strstr(said, "\"" STATES_REFUSED) : NULL;
    st->base.refused = 1;
    /* A state write that kept no row (pg_states_sql): said as SQLite
     * says it, the cases named. */
    if (refused && strcmp(state, "22P02") == 0) {
      /* Up to the message's last quote: a case's id may hold one (L"7),
       * and the first would cut the list of cases there. */
      const char *end = strrchr(refused, '"');
      refused += 1 + strlen(STATES_REFUSED);
      rc_error_set(err, RC_EINTERNAL, NULL,
                   "database: %s: %.*s (its row deleted, or a trigger "
                   "added to the book by hand drops it)",
                   what, end > refused ? (int)(end - refused) : 0, refused);
      return;
    }
    if (strncmp(state, "23", 2) != 0 &&
        !(strcmp(state, "23514") == 0 &&
          PQresultErrorField(r, PG_DIAG_COLUMN_NAME))) {
      char msg[256];
      snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
      msg[strcspn(msg, "\n")] = '\0';
      /* RC_EINTERNAL, as SQLite's refusal is: what the engine sets a
       * case aside for (engine.c poisoned_note). */
      rc_error_set(err, RC_EINTERNAL, NULL,
                   "database: %s: the book refused the row (SQLSTATE %s): %s",
                   what, state, msg);
      return;
    }
  }
  /* A rule of the database's own (a DBA's trigger) that refuses a value
   * and names its column: the input's fault, 422 naming it. The
   * schema's checks name none: a value the engine let through them is
   * recoup's bug. */
  if (state && strcmp(state, "23514") == 0 &&
      PQresultErrorField(r, PG_DIAG_COLUMN_NAME)) {
    rc_error_set(err, RC_EINVAL, PQresultErrorField(r, PG_DIAG_COLUMN_NAME),
                 "the database refused %s: %s", what,
                 PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
    return;
  }
  if (state && strncmp(state, "23", 2) == 0) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
    msg[strcspn(msg, "\n")] = '\0';
    rc_error_set(err, RC_EINTERNAL, NULL,
                 "database: %s: unexpected constraint failure: %s", what, msg);
  } else {
    pg_fail(st->c, r, what, err);
  }
}

/* The slot of sql's prepared statement (made free if new), or -1 when
 * the table is full. FNV-1a of the text. */
static int prep_slot(pg *st, const char *sql) {
  uint32_t h = 2166136261u;
  int i;

  for (const char *p = sql; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  for (i = (int)(h % PREP_SLOTS);; i = (i + 1) % PREP_SLOTS) {
    if (!st->prep[i].sql) break;
    if (strcmp(st->prep[i].sql, sql) == 0) return i;
  }
  if (st->nprep >= PREP_MAX || !(st->prep[i].sql = strdup(sql))) return -1;
  st->nprep++;
  return i;
}

/* The case read ahead is forgotten, unless it is still to be read (its
 * own read keeps it). */
static void case_ahead_drop(pg *st) {
  if (st->case_at) return;
  st->case_id_ahead[0] = '\0';
  PQclear(st->case_ahead);
  st->case_ahead = NULL;
}

static void promise_ahead_drop(pg *st) {
  st->promise_case[0] = '\0';
  st->promise_at = 0;
  PQclear(st->promise_ahead);
  st->promise_ahead = NULL;
}

/* The group's reads ahead are forgotten (those still in the pipeline
 * are read and thrown away there). */
static void pays_ahead_drop(pg *st) {
  for (int i = 0; i < st->npays; i++) {
    PQclear(st->pays[i].hold);
    PQclear(st->pays[i].promise);
    PQclear(st->pays[i].found);
  }
  st->npays = st->pay_scan = 0;
  st->pay_cur = -1;
}

/* Their places in pend after its first `read` were read (pipe_read_ahead,
 * pipe_sync): those read are 0, the rest move up. */
static void pays_ahead_moved(pg *st, int read) {
  for (int i = 0; i < st->npays; i++) {
    int *at[3] = {&st->pays[i].case_at, &st->pays[i].promise_at,
                  &st->pays[i].ref_at};
    for (int k = 0; k < 3; k++) *at[k] = *at[k] > read ? *at[k] - read : 0;
  }
}

static void unpaid_drop(pg *st) {
  PQclear(st->unpaid);
  st->unpaid = NULL;
  case_ahead_drop(st);
}

/* The borrower read ahead is forgotten (its statement, if still in the
 * pipeline, is read and thrown away there). */
static void ahead_drop(pg *st) {
  st->ahead_to = 0;
  st->ahead_at = 0;
  PQclear(st->ahead);
  st->ahead = NULL;
}

/* The guard's decisions checked or not, forgotten (a new transaction,
 * or one rolled back). */
static void checks_forget(pg *st) {
  pg_rows_clear(&st->checks);
  pg_rows_clear(&st->checks_sent);
  st->checks_flying = st->checks_lost = 0;
}

/* The checks waiting went in a statement just queued: they are kept
 * until it is answered (checks_answered). Memory short, they wait on in
 * checks: checked once more later. */
static void checks_carried(pg *st) {
  st->checks_flying++;
  for (int r = 0; r < st->checks.n; r++)
    if (pg_rows_add(&st->checks_sent,
                    (const char *const *)&st->checks.v[r * 3]) != 0)
      return;
  pg_rows_clear(&st->checks);
}

/* A statement carrying checks answered (ok), or was refused or skipped:
 * when none is left unanswered, the checks sent are done with, or, one
 * of them not made, wait again for the next. */
static void checks_answered(pg *st, int ok) {
  if (!ok) st->checks_lost = 1;
  if (st->checks_flying > 0 && --st->checks_flying > 0) return;
  for (int r = 0; st->checks_lost && r < st->checks_sent.n; r++)
    if (pg_rows_add(&st->checks,
                    (const char *const *)&st->checks_sent.v[r * 3]) != 0)
      st->base.contended = 1; /* no check, no commit: run again */
  pg_rows_clear(&st->checks_sent);
  st->checks_lost = 0;
}

/* The claim's cases are no longer this transaction's to rely on. */
static void batch_clear(pg *st) {
  pg_cache_clear(&st->batch);
  ahead_drop(st);
  pays_ahead_drop(st);
}

static int rows_write(pg *st, const char *sql, rc_error *err);
static int pipe_sync(pg *st, PGresult **keep, rc_error *err);

/* Queues sql (preparing it first on this connection if need be) in the
 * pipeline, entering pipeline mode. 0, or -1 when the connection would
 * not take it (its message in err). */
static int pipe_send(pg *st, const char *sql, const args *a, const char *what,
                     rc_error *err) {
  int n = a ? a->n : 0, slot, ok, binary[ARGS_MAX];
  const char *const *v = a ? a->v : NULL;
  const int *lens = a && a->nbin ? a->len : NULL;
  char name[16];

  unpaid_drop(st);
  if (strstr(sql, "promises") || strstr(sql, "installments") ||
      strstr(sql, "plans"))
    promise_ahead_drop(st);
  /* The reads a job makes before it writes (a light savepoint's undo
   * needs them not to count); a function called by SELECT may write. */
  if (strncmp(sql, "SELECT ", 7) != 0 || strstr(sql, "figures_")) {
    st->changes++;
    /* This transaction's own change to a borrower is seen by its reads,
     * and not by the check of a decision the guard made before it (a
     * batch that messaged a borrower, then ceased it, would find its
     * own cease a conflict at each run). */
    if (strstr(sql, "borrowers") || strstr(sql, "contacts")) {
      ahead_drop(st);
      if (check_send(st, err) != RC_OK) return -1;
    }
  }
  /* A statement that names the tables whose rows wait in the node reads
   * or changes them: they go first. */
  if (rows_write(st, sql, err) != RC_OK) return -1;
  /* Its prepare and itself always find room: what is queued is read
   * first when they would not (the reads sent ahead are kept by it). */
  if (st->npend + 2 > PIPE_MAX && pipe_sync(st, NULL, err) != RC_OK)
    return -1;
  slot = prep_slot(st, sql);

  if (PQpipelineStatus(st->c) == PQ_PIPELINE_OFF && !PQenterPipelineMode(st->c))
    return pg_fail(st->c, NULL, what, err), -1;
  for (int i = 0; lens && i < n; i++) binary[i] = lens[i] != 0;
  if (slot < 0)
    ok = PQsendQueryParams(st->c, sql, n, NULL, v, lens, lens ? binary : NULL,
                           0);
  else {
    snprintf(name, sizeof name, "r%d", slot);
    if (!st->prep[slot].prepared) {
      if (!PQsendPrepare(st->c, name, sql, 0, NULL))
        return pg_fail(st->c, NULL, what, err), -1;
      st->prep[slot].prepared = 1;
      assert(st->npend < (int)(sizeof st->pend / sizeof *st->pend));
      st->pend[st->npend++] = (pend){what, slot, 0};
    }
    ok = PQsendQueryPrepared(st->c, name, n, v, lens, lens ? binary : NULL,
                             0);
  }
  if (!ok) return pg_fail(st->c, NULL, what, err), -1;
  assert(st->npend < (int)(sizeof st->pend / sizeof *st->pend));
  st->pend[st->npend++] = (pend){what, -1, st->sending_kept};
  return 0;
}

/* Reads pend[i]'s result: *out the rows (the caller's), or NULL when it
 * failed (the first failure in *rc and err) or was skipped after one.
 * -1 when the connection broke: no more results. */
static int pipe_take(pg *st, int i, PGresult **out, int *rc, rc_error *err) {
  PGresult *r = PQgetResult(st->c);
  ExecStatusType s = PQresultStatus(r);

  *out = NULL;
  if (!r) {
    if (*rc == RC_OK) *rc = pg_fail(st->c, NULL, st->pend[i].what, err);
    return -1;
  }
  if (st->pend[i].slot < 0 && st->pend[i].what == borrower_changed)
    checks_answered(st, s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
    if (st->pend[i].slot >= 0) st->prep[st->pend[i].slot].prepared = 0;
    if (s != PGRES_PIPELINE_ABORTED && *rc == RC_OK) {
      if (i < st->job_from || st->pend[i].kept)
        st->base.replay = STORE_REPLAY_GROUP;
      failed(st, r, st->pend[i].what, err);
      *rc = err && err->code ? err->code : RC_ESTORE;
    }
    PQclear(r);
  } else {
    *out = r;
  }
  PQclear(PQgetResult(st->c)); /* the NULL that ends a statement's */
  return 0;
}

/* r, pend[i]'s rows, kept when they are a group's payment's read ahead:
 * its promise only where its hold found the case (read unheld, it may be
 * old by the time this transaction holds the case). */
static int pay_keep(pg *st, int i, PGresult *r) {
  /* In the order they were sent, as the results come: from the first
   * with a statement still to read, and no further than it. */
  while (st->pay_scan < st->npays) {
    pay_ahead *e = &st->pays[st->pay_scan];
    int *at = e->case_at      ? &e->case_at
              : e->promise_at ? &e->promise_at
              : e->ref_at     ? &e->ref_at
                              : NULL;
    if (!at || *at - 1 < i) { /* all read, or one read elsewhere */
      if (at)
        *at = 0;
      else
        st->pay_scan++;
      continue;
    }
    if (*at - 1 > i) return 0;
    if (at == &e->case_at)
      e->hold = r;
    else if (at == &e->ref_at)
      e->found = r;
    else if (e->hold && PQntuples(e->hold) > 0)
      e->promise = r;
    else
      PQclear(r);
    *at = 0;
    return 1;
  }
  return 0;
}

/* r, pend[i]'s rows: kept when they are the borrower read ahead and it
 * is still wanted, else freed. */
static void ahead_keep(pg *st, int i, PGresult *r) {
  if (i == st->claim_at - 1 && !st->claim_cases)
    st->claim_cases = r;
  else if (i == st->ahead_at - 1 && st->ahead_to && !st->ahead)
    st->ahead = r;
  else if (i == st->case_at - 1 && st->case_id_ahead[0] && !st->case_ahead)
    st->case_ahead = r;
  /* Read unheld (another transaction holds the case), it may be old by
   * the time this one holds it. */
  else if (i == st->promise_at - 1 && st->promise_case[0] &&
           !st->promise_ahead && st->case_ahead &&
           PQntuples(st->case_ahead) > 0)
    st->promise_ahead = r;
  else if (!pay_keep(st, i, r))
    PQclear(r);
}

/* Reads the results up to the borrower read ahead, not waiting for the
 * statements queued after it: the server has answered it already, most
 * often, while this node ran the step before. */
static int pipe_read_ahead(pg *st, rc_error *err) {
  int rc = RC_OK, n = st->ahead_at, i;

  for (i = 0; i < n; i++) {
    PGresult *r;
    if (pipe_take(st, i, &r, &rc, err) != 0) break;
    ahead_keep(st, i, r);
  }
  if (i < n) i++; /* the broken one is read too */
  memmove(st->pend, st->pend + i, (size_t)(st->npend - i) * sizeof *st->pend);
  st->npend -= i;
  st->job_from = st->job_from > i ? st->job_from - i : 0;
  pays_ahead_moved(st, i);
  st->ahead_at = 0;
  return rc;
}

/* Sends what is queued and reads every result, in order, to the sync:
 * the first failure is the answer (RC_ESTORE or RC_EINTERNAL, err set);
 * a statement the server skipped after it says nothing more. With keep,
 * the last statement's result is kept there (NULL if it failed). Leaves
 * pipeline mode. */
static int pipe_sync(pg *st, PGresult **keep, rc_error *err) {
  int rc = RC_OK, i;

  if (keep) *keep = NULL;
  if (PQpipelineStatus(st->c) == PQ_PIPELINE_OFF) return RC_OK;
  if (!PQpipelineSync(st->c)) {
    pays_ahead_moved(st, st->npend);
    st->npend = 0;
    st->ahead_at = st->job_from = 0;
    st->case_at = st->promise_at = st->claim_at = 0;
    return pg_fail(st->c, NULL, "sending to the server", err);
  }
  for (i = 0; i < st->npend; i++) {
    PGresult *r;
    if (pipe_take(st, i, &r, &rc, err) != 0) break;
    if (keep && i == st->npend - 1 && rc == RC_OK)
      *keep = r;
    else
      ahead_keep(st, i, r);
  }
  st->ahead_at = st->job_from = 0;
  st->case_at = st->promise_at = st->claim_at = 0;
  pays_ahead_moved(st, st->npend);
  st->npend = 0;
  /* To the sync (past anything a broken connection left). */
  for (int guard = 0; guard < 1000; guard++) {
    PGresult *r = PQgetResult(st->c);
    ExecStatusType s = PQresultStatus(r);
    if (r) PQclear(r);
    if (s == PGRES_PIPELINE_SYNC || PQstatus(st->c) != CONNECTION_OK) break;
  }
  PQexitPipelineMode(st->c);
  if (rc != RC_OK && keep && *keep) {
    PQclear(*keep);
    *keep = NULL;
  }
  return rc;
}

/* Reads what the queued writes answered, before the connection is used
 * otherwise (a claim, a commit): RC_OK or the first failure. */
static int settle(pg *st, rc_error *err) {
  int rc = rows_write(st, NULL, err);
  if (st->npend) {
    int synced = pipe_sync(st, NULL, rc == RC_OK ? err : NULL);
    if (rc == RC_OK) rc = synced;
  }
  return rc;
}

static int reconnect(pg *st, rc_error *err);

/* Before a statement: a connection the server dropped while this node
 * was outside a transaction is made again here (nothing is lost with
 * it). A dropped connection is seen by reading what the server sent
 * (its goodbye, then the end of the socket): no round trip. Inside a
 * transaction it is not: the statement fails, and the batch with it. */
static int connected(pg *st, rc_error *err) {
  int heard = 0;

  if (st->npend || st->manual || st->base.depth > 0) return RC_OK;
  /* Idle, the server says nothing unasked but a goodbye (its FATAL
   * message, then the end of the socket, which may trail the message by
   * a moment): what there is to read is read, and after a message the
   * end is waited for a little. Otherwise no time is spent here. */
  for (int i = 0; i < 8 && PQstatus(st->c) == CONNECTION_OK &&
                  PQtransactionStatus(st->c) == PQTRANS_IDLE;
       i++) {
    struct pollfd p = {.fd = PQsocket(st->c), .events = POLLIN};
    if (poll(&p, 1, heard ? 25 : 0) != 1) {
      if (!heard) break;
      continue;
    }
    heard = 1;
    PQconsumeInput(st->c);
  }
  if (PQstatus(st->c) == CONNECTION_OK) return RC_OK;
  return reconnect(st, err);
}

/* A connection lost in a transaction: the transaction is gone, and the
 * engine runs the batch again (after connected() made a new one). */
static void lost(pg *st) {
  if (PQstatus(st->c) != CONNECTION_OK && (st->base.depth > 0 || st->manual))
    st->base.contended = 1;
}

/* Runs sql; its result, or NULL with err set. Queued writes before it go
 * in the same round trip, and their failure is its failure. */
static PGresult *run(pg *st, const char *sql, const args *a, const char *what,
                     rc_error *err) {
  PGresult *r = NULL;

  if (connected(st, err) != RC_OK) return NULL;
  if (pipe_send(st, sql, a, what, err) == 0)
    pipe_sync(st, &r, err);
  else
    settle(st, NULL); /* what went before is read; this one failed */
  if (!r) lost(st);
  return r;
}

/* A transaction of the engine's (a batch), not one an op opened. */
static int in_batch(const pg *st) {
  return st->base.depth > 0 && !st->manual;
}

/* A write whose result nobody reads: inside a transaction it is queued
 * (pipe_send), answered with the next statement that waits. */
static int queue(pg *st, const char *sql, const args *a, const char *what,
                 rc_error *err) {
  if (st->base.depth == 0 || st->manual) {
    PGresult *r = run(st, sql, a, what, err);
    if (!r) return err && err->code ? err->code : RC_ESTORE;
    PQclear(r);
    return RC_OK;
  }
  if (pipe_send(st, sql, a, what, err) != 0) {
    settle(st, NULL);
    lost(st);
    return RC_ESTORE;
  }
  return st->npend >= PIPE_MAX ? settle(st, err) : RC_OK;
}

/* Runs a statement for its effect; *changed (may be NULL) how many rows.
 * Without changed, the statement may be queued (queue). */
static int exec(pg *st, const char *sql, const args *a, const char *what,
                int64_t *changed, rc_error *err) {
  PGresult *r;

  if (!changed) return queue(st, sql, a, what, err);
  r = run(st, sql, a, what, err);
  *changed = r ? atoll(PQcmdTuples(r)) : 0;
  if (!r) return err && err->code ? err->code : RC_ESTORE;
  PQclear(r);
  return RC_OK;
}

/* The statement's one row: RC_OK with *out (PQclear it), RC_ENOTFOUND
 * without a row, or the failure. */
static int one(pg *st, const char *sql, const args *a, const char *what,
               PGresult **out, rc_error *err) {
  PGresult *r = run(st, sql, a, what, err);

  *out = NULL;
  if (!r) return RC_ESTORE;
  if (PQntuples(r) == 0) {
    PQclear(r);
    return RC_ENOTFOUND;
  }
  *out = r;
  return RC_OK;
}

static char *dup_col(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static int64_t int_col(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? 0
                                  : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void copy_col(char *dst, size_t size, const PGresult *r, int row,
                     int col) {
  rc_copy(dst, size, PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col));
}

/* Type oids of the columns we turn into numbers (pg_type.h). */
enum {
  OID_BOOL = 16,
  OID_INT8 = 20,
  OID_INT2 = 21,
  OID_INT4 = 23,
  OID_FLOAT4 = 700,
  OID_FLOAT8 = 701,
  OID_NUMERIC = 1700
};

/* Whether a number's text is whole (no point, no exponent, no NaN). */
static int whole(const char *s) {
  return !strpbrk(s, ".eEnN");
}

/* A row's columns as values. A sum of bigints is numeric in PostgreSQL
 * and an integer in SQLite: whole numerics are integers here. A task's
 * priority is whole more often than not, and SQLite keeps a whole one as
 * an integer (shown 10, not 10.0): so is it here. */
static void to_value(const PGresult *r, int row, int col, store_value *v) {
  const char *s = PQgetvalue(r, row, col);
  Oid type = PQftype(r, col);

  v->name = PQfname(r, col);
  if (PQgetisnull(r, row, col)) {
    v->type = STORE_NULL;
  } else if (type == OID_INT8 || type == OID_INT4 || type == OID_INT2) {
    v->type = STORE_INT;
    v->i = strtoll(s, NULL, 10);
  } else if (type == OID_BOOL) {
    v->type = STORE_INT;
    v->i = s[0] == 't';
  } else if (type == OID_NUMERIC ||
             (type == OID_FLOAT8 && !strcmp(v->name, "priority"))) {
    v->type = whole(s) ? STORE_INT : STORE_REAL;
    if (v->type == STORE_INT)
      v->i = strtoll(s, NULL, 10);
    else
      v->r = strtod(s, NULL);
  } else if (type == OID_FLOAT8 || type == OID_FLOAT4) {
    v->type = STORE_REAL;
    v->r = strtod(s, NULL);
  } else {
    v->type = STORE_TEXT;
    v->s = s;
  }
}

/* Hands every row of sql to fn. */
static int rows(pg *st, const char *sql, const args *a, store_row_fn fn,
                void *ud, const char *what, rc_error *err) {
  store_value cols[32];
  PGresult *r = run(st, sql, a, what, err);
  int n, i, j;

  if (!r) return RC_ESTORE;
  n = PQnfields(r) < 32 ? PQnfields(r) : 32;
  for (i = 0; i < PQntuples(r); i++) {
    for (j = 0; j < n; j++) to_value(r, i, j, &cols[j]);
    if (fn(ud, cols, n)) break;
  }
  PQclear(r);
  return RC_OK;
}

/* The one number a statement answers (0 for NULL). */
static int number(pg *st, const char *sql, const args *a, const char *what,
                  int64_t *out, rc_error *err) {
  PGresult *r;
  int rc = one(st, sql, a, what, &r, err);

  *out = 0;
  if (rc == RC_ENOTFOUND) return RC_OK;
  if (rc != RC_OK) return rc;
  *out = int_col(r, 0, 0);
  PQclear(r);
  return RC_OK;
}

/* --- lifecycle -------------------------------------------------------------
 */

static void op_close(store *s) {
  pg *st = PG(s);

  if (!st) return;
  for (int i = 0; i < PREP_SLOTS; i++) free(st->prep[i].sql);
  batch_clear(st);
  unpaid_drop(st);
  for (int t = 0; t < KEPT_N; t++) /* a transaction left open is not kept */
    pg_rows_clear(&st->kept[t]);
  if (st->c) {
    settle(st, NULL);
    unpaid_drop(st); /* what the settling read (a case read ahead) */
    if (PQtransactionStatus(st->c) != PQTRANS_IDLE)
      PQclear(PQexec(st->c, "ROLLBACK"));
    if (st->scratch[0]) {
      char sql[128];
      snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", st->scratch);
      PQclear(PQexec(st->c, sql));
    }
    PQfinish(st->c);
  }
  for (int t = 0; t < KEPT_N; t++) pg_rows_free(&st->kept[t]);
  pg_rows_free(&st->checks);
  pg_rows_free(&st->checks_sent);
  free(st);
}

/* A book of its own for a run that leaves nothing behind (`recoup test
 * --db postgresql://...`, what ":memory:" is to SQLite): the URL's
 * parameter scratch=1 asks for a new schema, named for this process,
 * dropped when the store closes. libpq knows no such parameter: it is
 * taken out of the URL (into conninfo) before connecting. Returns whether
 * it was there. */
static int scratch_asked(const char *where, char *conninfo, size_t size) {
  const char *q = strchr(where, '?'), *p;
  size_t at = 0;
  int found = 0;

  /* Cut, a URL would lose its end (sslmode=require, say) without a word:
   * the caller refuses it (-1). */
  if (strlen(where) >= size) return -1;
  rc_copy(conninfo, size, where);
  if (!q) return 0;
  at = (size_t)(q - where);
  conninfo[at] = '\0';
  for (p = q + 1; *p;) {
    size_t len = strcspn(p, "&");
    if (len == 9 && strncmp(p, "scratch=1", 9) == 0) {
      found = 1;
    } else if (at + len + 2 < size) {
      conninfo[at++] = conninfo[0] && strchr(conninfo, '?') ? '&' : '?';
      memcpy(conninfo + at, p, len);
      at += len;
      conninfo[at] = '\0';
    }
    p += len + (p[len] == '&');
  }
  return found;
}

/* Makes the scratch schema and works in it from now on. */
static int scratch_begin(pg *st, rc_error *err) {
  static unsigned serial;
  char sql[192];

  snprintf(st->scratch, sizeof st->scratch, "recoup_scratch_%d_%u",
           (int)getpid(), ++serial);
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s; SET search_path TO %s",
           st->scratch, st->scratch);
  {
    PGresult *r = PQexec(st->c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) {
      pg_fail(st->c, r, "making a scratch schema", err);
      st->scratch[0] = '\0';
    }
    PQclear(r);
    return ok ? RC_OK : RC_ESTORE;
  }
}

/* The counter rows this connection writes (pg_schema.c, migration 2): the
 * first slot no other live connection on the book holds, under a session
 * advisory lock (PG_SLOT_KEY, the book's schema's) that ends with the
 * connection. With all taken, slot 0, shared: nodes then wait for each
 * other at counter rows, but still count; so does a recoup before
 * session 22 on the same book that took the same slot under the old
 * key. */
enum { SLOTS = 128 };
static void slot_take(pg *st) {
  for (int i = 1; i <= SLOTS; i++) {
    char sql[160];
    PGresult *r;
    int taken;
    snprintf(sql, sizeof sql,
             "SELECT pg_try_advisory_lock(" PG_SLOT_KEY ", %d)", i);
    r = PQexec(st->c, sql);
    taken =
        PQresultStatus(r) == PGRES_TUPLES_OK && PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!taken) continue;
    snprintf(sql, sizeof sql, "SELECT set_config('recoup.slot', '%d', false)",
             i);
    PQclear(PQexec(st->c, sql));
    return;
  }
}

/* The password a URL carries (in its user part, or a password=
 * parameter), as written there, into out; "" when none. */
static void url_password(const char *where, char *out, size_t size) {
  const char *p = strstr(where, "://"), *at, *colon, *q;
  size_t n = 0;

  out[0] = '\0';
  if (!p) return;
  p += 3;
  at = p + strcspn(p, "@/?");
  colon = memchr(p, ':', (size_t)(at - p));
  if (*at == '@' && colon) {
    n = (size_t)(at - colon - 1);
    p = colon + 1;
  } else if ((q = strstr(where, "?password=")) ||
             (q = strstr(where, "&password="))) {
    p = q + 10;
    n = strcspn(p, "&");
  }
  if (n >= size) n = size - 1;
  memcpy(out, p, n);
  out[n] = '\0';
}

/* Every copy of secret in msg written as ***: libpq quotes a URL's parts
 * it cannot read ("invalid percent-encoded token"), the password too. */
static void scrub(char *msg, size_t size, const char *secret) {
  size_t n = strlen(secret);
  char *hit, *from = msg;

  if (n == 0) return;
  while ((hit = strstr(from, secret))) {
    size_t off = (size_t)(hit - msg), rest = strlen(hit + n) + 1;
    if (off + 4 > size) { /* no room for ***: the message ends here */
      *hit = '\0';
      return;
    }
    if (off + 3 + rest > size) rest = size - off - 3;
    memmove(hit + 3, hit + n, rest);
    memcpy(hit, "***", 3);
    msg[size - 1] = '\0';
    from = hit + 3;
  }
}

/* Connects with st->conninfo and sets the session up: quiet notices, the
 * scratch schema's search_path, a scratch book's commits, the counter
 * slot. RC_OK, or RC_ESTORE with err set (st->c may then be NULL). */
static int session(pg *st, rc_error *err) {
  char msg[4096], secret[2048];

  st->c = PQconnectdb(st->conninfo);
  if (!st->c || PQstatus(st->c) != CONNECTION_OK) {
    snprintf(msg, sizeof msg, "%s",
             st->c ? PQerrorMessage(st->c) : "out of memory");
    url_password(st->conninfo, secret, sizeof secret);
    scrub(msg, sizeof msg, secret);
    msg[strcspn(msg, "\n")] = '\0';
    if (strlen(msg) > 255) msg[255] = '\0';
    return rc_error_set(err, RC_ESTORE, "db",
                        "cannot open the PostgreSQL database: %s", msg);
  }
  /* Text is UTF-8 on both stores: a database of another encoding would
   * refuse a borrower's name half way through an import (LATIN1), or
   * take any bytes and cut characters in two (SQL_ASCII). */
  {
    const char *enc = PQparameterStatus(st->c, "server_encoding");
    if (!enc || strcmp(enc, "UTF8") != 0)
      return rc_error_set(err, RC_ESTORE, "db",
                          "the PostgreSQL database's encoding is %s: recoup "
                          "needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8')",
                          enc ? enc : "unknown");
  }
  /* IF NOT EXISTS and the like say nothing worth a log line. The rest
   * whatever the database or the role sets by default: text goes as
   * UTF-8 (a client_encoding of GBK refused the names), numbers come back
   * exact (extra_float_digits 0 rounded a score to 15 digits), and
   * transactions are READ COMMITTED, which the claims and the look again
   * of op_case_exists need (a default of repeatable read would not see
   * the other writer's commit). */
  PQclear(PQexec(st->c,
                 "SET client_min_messages = warning; "
                 "SET client_encoding = 'UTF8'; "
                 "SET extra_float_digits = 1; "
                 "SET default_transaction_isolation = 'read committed'"));
  if (st->scratch[0]) {
    char sql[128];
    snprintf(sql, sizeof sql, "SET search_path TO %s", st->scratch);
    PQclear(PQexec(st->c, sql));
  }
  if (st->async) PQclear(PQexec(st->c, "SET synchronous_commit = off"));
  return RC_OK;
}

/* The server dropped the connection: a new one, with this node's
 * prepared statements to make again and a counter slot to take again
 * (the old session's lock on its slot ended with it). Counted, for the
 * service's log (store_reconnects). */
static int reconnect(pg *st, rc_error *err) {
  int rc;

  PQfinish(st->c);
  st->c = NULL;
  st->npend = st->job_from = 0;
  batch_clear(st);
  for (int i = 0; i < PREP_SLOTS; i++) st->prep[i].prepared = 0;
  if ((rc = session(st, err)) != RC_OK) return rc;
  slot_take(st);
  st->base.reconnects++;
  return RC_OK;
}

static int op_open(store **out, const char *where, int flags, rc_error *err) {
  pg *st = calloc(1, sizeof *st);
  char host[64] = "";
  int scratch;

  /* STORE_MUST_EXIST: a server's database is there or is refused; the
   * commands that ask it look at a SQLite file only. */
  (void)flags;
  *out = NULL;
  if (!st) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  for (int t = 0; t < KEPT_N; t++) st->kept[t].ncols = kept_cols[t];
  st->checks.ncols = st->checks_sent.ncols = 3;
  st->pay_cur = -1;
  scratch = scratch_asked(where, st->conninfo, sizeof st->conninfo);
  if (scratch < 0) {
    free(st);
    return rc_error_set(err, RC_EINVAL, "db",
                        "the PostgreSQL URL is longer than %zu bytes",
                        sizeof st->conninfo - 1);
  }
  if (session(st, err) != RC_OK) {
    op_close(&st->base);
    return RC_ESTORE;
  }
  gethostname(host, sizeof host - 1);
  snprintf(st->node, sizeof st->node, "%s:%d", host[0] ? host : "node",
           (int)getpid());
  rc_copy(st->claimer, sizeof st->claimer, st->node);
  if ((scratch && scratch_begin(st, err) != RC_OK) ||
      pg_schema_migrate(st->c, err) != RC_OK) {
    op_close(&st->base);
    return RC_ESTORE;
  }
  slot_take(st);
  st->base.ops = &store_pg_ops;
  st->base.passes_held = 1;
  *out = &st->base;
  return RC_OK;
}

/* A what-if or test book: its commits need not wait for the disk. */
static int op_scratch(store *s) {
  PGresult *r;
  int rc;

  if (settle(PG(s), NULL) != RC_OK) return RC_ESTORE;
  r = PQexec(PG(s)->c, "SET synchronous_commit = off");
  rc = PQresultStatus(r) == PGRES_COMMAND_OK ? RC_OK : RC_ESTORE;
  PQclear(r);
  PG(s)->async = rc == RC_OK;
  return rc;
}

static int op_meta_put(store *s, const char *key, const char *value,
                       rc_error *err);

static int op_writable(store *s, rc_error *err) {
  pg *st = PG(s);
  int rc;

  if (st->base.depth > 0) return RC_OK; /* a transaction is open: it writes */
  if ((rc = exec(st, "BEGIN", NULL, "begin", NULL, err)) != RC_OK) return rc;
  st->manual = 1;
  rc = op_meta_put(s, "health", "ok", err);
  PQclear(PQexec(st->c, "ROLLBACK"));
  st->manual = 0;
  return rc;
}

/* Nothing of the kind: PostgreSQL checkpoints on its own settings. */
static void op_checkpoint_every(store *s, int pages) {
  (void)s, (void)pages;
}

static int op_checkpoint_apart(store *s, int pages, int most, rc_error *err) {
  (void)s, (void)pages, (void)most, (void)err;
  return RC_OK;
}

/* Every commit is as durable as the server's synchronous_commit says:
 * none waits for a barrier. */
static int op_durable(store *s, int later, rc_error *err) {
  (void)s, (void)later, (void)err;
  return RC_OK;
}

static void op_import_next(store *s) {
  PG(s)->import_next = 1;
}

/* A PostgreSQL book is copied and removed with PostgreSQL's own tools
 * (pg_dump, DROP DATABASE), by whoever runs the server. */
static int op_copy(const char *src, const char *dst, rc_error *err) {
  (void)src, (void)dst;
  return rc_error_set(err, RC_EINVAL, "db",
                      "a PostgreSQL database is copied with pg_dump or the "
                      "server's own backups, not by recoup");
}

/* A server's database is no file of ours: nothing to list. */
static int op_files(const char *where, char (*paths)[4096], int max) {
  (void)where, (void)paths, (void)max;
  return 0;
}

/* --- transactions ------------------------------------------------------------
 */

static int figs_write(pg *st, rc_error *err);
static int counts_write(pg *st, rc_error *err);
static int count_add(pg *st, int kind, const char *a, const char *b,
                     const char *cur, const int64_t v[4], rc_error *err);

/* Forgets the counters summed, the case known and the rows not sent
 * (pg.h): what a rollback undoes. */
static void counts_forget(pg *st) {
  st->counts.n = 0;
  st->known_id[0] = '\0';
  for (int t = 0; t < KEPT_N; t++) pg_rows_clear(&st->kept[t]);
}

/* Keeps a row of a's parameters (pg_rows), sending what is kept when
 * there are ROWS_MAX. */
static int rows_keep(pg *st, int table, const args *a, rc_error *err) {
  pg_rows *b = &st->kept[table];
  /* A case's state written twice: the last write is the one kept. */
  int put = table == KEPT_STATES ? pg_rows_put(b, a->v) : pg_rows_add(b, a->v);
  st->changes++;
  if (put != 0) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  return b->n >= ROWS_MAX ? rows_write(st, NULL, err) : RC_OK;
}

/* The kept case states, timer ends and cancels (rows_write). As joins
 * with unnest alone, PostgreSQL hashed the whole table at each batch on
 * a book not analysed (every case, every timer): a cost growing with the
 * book. Named in a list it can see (= ANY($1), of a unique key), the
 * rows are each found by key where the batch is a small part of the book
 * and scanned where it is a large one, as its estimate says. A case's
 * timers, by a key not unique and never analysed after an import, are
 * looked up case by case through timers_case (OFFSET 0 keeps the look-ups
 * apart; a list of cases there read every timer), then ended by id. */
/* A state write that keeps fewer rows than it names (a case's row
 * deleted by hand since the step read it, or a trigger of the book's own
 * that returns NULL) fails its statement, as SQLite's does (sqlite.c,
 * sq_case_set_state): the step's journal and timers would otherwise be
 * kept without the state they follow. A failed cast (22P02) carries the
 * cases whose rows were not kept; failed() reads it back. Counted on the
 * server, the failure aborts the transaction before its COMMIT, which
 * the pipeline sends with it. The cases of a batch are distinct
 * (pg_rows_put keeps a case's last state). The first ten are named, the
 * count says the rest: a trigger that drops every row of a batch of
 * thousands would otherwise make a message of every id. */
#define STATES_KEPT_TAIL                                                      \
  " RETURNING cases.id) SELECT CASE WHEN count(*) = cardinality($1::text[]) " \
  "THEN 0 ELSE (" STATES_NOT_KEPT ")::int END FROM w"
#define STATES_NOT_KEPT                                                     \
  "'" STATES_REFUSED                                                        \
  "' || (cardinality($1::text[]) - count(*)) || ' of ' "                    \
  "|| cardinality($1::text[]) || ' rows not kept by the table cases: ' || " \
  "(SELECT string_agg('case ' || i, ', ') FROM (SELECT i FROM "             \
  "unnest($1::text[]) i WHERE i NOT IN (SELECT id FROM w) LIMIT 10) x)"
const char pg_states_sql[] =
    "WITH w AS (UPDATE cases SET state = u.s, closed = u.c, outcome = u.o, "
    "mover = u.m FROM (SELECT unnest($1::text[]) AS i, unnest($2::text[]) "
    "AS s, unnest($3::integer[]) AS c, unnest($4::text[]) AS o, "
    "unnest($5::bigint[]) AS m) AS u "
    "WHERE cases.id = u.i AND cases.id = ANY($1::text[])" STATES_KEPT_TAIL;
/* One case's, outside a batch. The refusal's text counts the rows: made
 * of the parameter alone it would be a constant, which PostgreSQL folds
 * (and fails) while planning, whatever the CASE says. */
static const char pg_state_one_sql[] =
    "WITH w AS (UPDATE cases SET state = $2, closed = $3, outcome = $4, "
    "mover = $5 WHERE id = $1 RETURNING id) SELECT CASE WHEN count(*) = 1 "
    "THEN 0 ELSE "
    "('" STATES_REFUSED
    "' || (1 - count(*)) || ' of 1 rows not kept by the "
    "table cases: case ' || $1)::int END FROM w";
/* The ended timers' ids through a sub-select, whose length the planner
 * does not guess from the list: a batch's first 64 (borrower_ahead), a
 * few of the book's, it took for most of a table never analysed and read
 * it whole to delete them. */
const char pg_ends_sql[] =
    "DELETE FROM timers WHERE id = ANY(ARRAY(SELECT unnest($1::bigint[])))";
#define CUT_IDS                                                        \
  "SELECT t.id FROM "                                                  \
  "(SELECT unnest($1::text[]) AS c, unnest($2::integer[]) AS s) AS u " \
  "CROSS JOIN LATERAL "                                                \
  "(SELECT id FROM timers WHERE case_id = u.c AND (u.s = 0 OR scoped " \
  "<> 0) OFFSET 0) t"
const char pg_cuts_sql[] =
    "DELETE FROM timers WHERE id = ANY(ARRAY(" CUT_IDS "))";
/* Both at once, when a batch's steps both ended timers and cut cases':
 * a step's cut takes its own timer too (a transition cancels the state's
 * timers), which the ends then looked up again, by a statement of their
 * own, to find it gone (1.5 % of the server's work a reminder). In one
 * list, each timer is looked up once. */
const char pg_ends_cuts_sql[] =
    "DELETE FROM timers WHERE id = ANY(ARRAY(SELECT unnest($3::bigint[]) "
    "UNION ALL " CUT_IDS "))";
#undef CUT_IDS
/* The events a batch's steps handled, deleted together: a statement each
 * cost the server more than the payment's own row (46 us of its 220 us a
 * payment on the bench's book, pg_stat_statements). */
static const char pg_event_ends_sql[] =
    "DELETE FROM events WHERE id = ANY(ARRAY(SELECT unnest($1::bigint[])))";

/* The statement that writes kept table t's rows (messages, journal runs
 * or case states), each column an array taken apart by unnest, but a
 * column same[c] says holds one value in every row goes as that value
 * alone ($k::type): a batch's messages mostly share their channel,
 * template, kind of recipient, status and time, its runs their time and
 * its states their state and outcome, and the server received and took
 * apart each such element at every row (12 of the 27 it received a
 * reminder on the bench's book: 251.0k -> 244.5k of its instructions a
 * reminder, the node's 76.3k -> 74.2k). The first column (the key) is
 * always an array: it gives the statement its rows. Each set of columns
 * sent alone is a statement of its own, prepared once a connection (a
 * handful in a run; past the connection's room for prepared statements
 * one goes unprepared, as a page's filters do). With none, the states'
 * text is pg_states_sql's. */
static void kept_sql(int t, const unsigned *types, const int *same,
                     char *sql, size_t size) {
  static const char *const head[KEPT_STATES + 1] = {
      "INSERT INTO messages(case_id, borrower_id, channel, template, "
      "recipient, to_kind, body, status, reason, at, not_before, "
      "next_attempt, id, state, step) OVERRIDING SYSTEM VALUE SELECT ",
      "INSERT INTO journal_runs(case_id, at, n, rows) SELECT ",
      "WITH w AS (UPDATE cases SET state = u.s, closed = u.c, outcome = u.o, "
      "mover = u.m FROM (SELECT "};
  static const char *const as[] = {" AS i", " AS s", " AS c", " AS o", " AS m"};
  int at = snprintf(sql, size, "%s", head[t]);

  for (int c = 0; c < kept_cols[t] && at > 0 && (size_t)at < size; c++) {
    const char *type = types[c] == PG_TEXT   ? "text"
                       : types[c] == PG_INT8 ? "bigint"
                                             : "integer";
    at +=
        snprintf(sql + at, size - (size_t)at,
                 same[c] ? "%s%s$%d::%s%s" : "%s%sunnest($%d::%s[])%s",
                 c ? ", " : "", t == KEPT_MSGS && c == MSG_ID_COL ? "0, " : "",
                 c + 1, type, t == KEPT_STATES ? as[c] : "");
  }
  if (t == KEPT_STATES && at > 0 && (size_t)at < size)
    snprintf(sql + at, size - (size_t)at,
             ") AS u WHERE cases.id = u.i AND cases.id = "
             "ANY($1::text[])" STATES_KEPT_TAIL);
}

/* Sends the rows kept (pg_rows), one statement a table, queued: of the
 * tables that sql names (what it reads or changes of them must see the
 * rows), or of every table when sql is NULL. The arrays are taken apart
 * by unnest in a select list, each array by its own, in step (one row
 * an element, as unnest of several arrays in FROM gives them): there
 * PostgreSQL first copied every element of every array into a store of
 * rows, and the copies were 5 % of the server's work a reminder. */
static int rows_write(pg *st, const char *sql, rc_error *err) {
  static const char *const send[KEPT_N] = {
      NULL, NULL, NULL, pg_ends_sql, pg_cuts_sql, pg_event_ends_sql};
  /* What a statement names when it reads or changes a table's rows
   * (figures_case_count reads the case's row). */
  static const char *const names[KEPT_N][2] = {{"messages", NULL},
                                               {"journal", NULL},
                                               {"cases", "figures_case"},
                                               {"timers", NULL},
                                               {"timers", NULL},
                                               {"events", NULL}};
  static const char *const what[KEPT_N] = {"queue message", "journal",
                                           "set state", "ending a timer",
                                           "cancel timers", "delete event"};
  static const unsigned types[KEPT_N][MSG_COLS] = {
      {PG_TEXT, PG_TEXT, PG_TEXT, PG_TEXT, PG_TEXT, PG_TEXT, PG_TEXT, PG_TEXT,
       PG_TEXT, PG_INT8, PG_INT8, PG_INT8, PG_TEXT, PG_INT8},
      {PG_TEXT, PG_INT8, PG_INT4, PG_TEXT},
      {PG_TEXT, PG_TEXT, PG_INT4, PG_TEXT, PG_INT8},
      {PG_INT8},
      {PG_TEXT, PG_INT4},
      {PG_INT8}};
  int rc = RC_OK;

  for (int t = 0; t < KEPT_N && rc == RC_OK; t++) {
    pg_rows *b = &st->kept[t];
    char *cols[MSG_COLS] = {0};
    int same[MSG_COLS] = {0};
    char shaped[1024];
    const char *text = send[t];
    args a = {0};
    if (!b->n || (sql && !strstr(sql, names[t][0]) &&
                  !(names[t][1] && strstr(sql, names[t][1]))))
      continue;
    if (!text) {
      for (int c = 1; c < b->ncols; c++)
        if ((same[c] = pg_rows_same(b, c, types[t][c])) < 0) {
          pg_rows_clear(b);
          return a_rows_failed(-2, err);
        }
      kept_sql(t, types[t], same, shaped, sizeof shaped);
      text = shaped;
    }
    /* Ends with the cuts kept beside them: one statement (the cuts' two
     * parameters, then the ends' list). */
    pg_rows *cut = t == KEPT_ENDS ? &st->kept[KEPT_CUTS] : NULL;
    char *cut_cols[2] = {0};
    int why = 0;
    if (cut && !cut->n) cut = NULL;
    if (cut) why = a_rows(&a, cut, types[KEPT_CUTS], NULL, cut_cols);
    if (why == 0) why = a_rows(&a, b, types[t], same, cols);
    if (why != 0) rc = a_rows_failed(why, err);
    pg_rows_clear(b); /* before the send, which would send them again */
    if (cut) pg_rows_clear(cut);
    /* Checked, each job's go at its end: they are all this one's. */
    st->sending_kept = st->light && !st->base.checked;
    if (rc == RC_OK)
      rc = exec(st, cut ? pg_ends_cuts_sql : text, &a, what[t], NULL, err);
    st->sending_kept = 0;
    for (int c = 0; c < b->ncols; c++) free(cols[c]);
    for (int c = 0; c < 2; c++) free(cut_cols[c]);
  }
  return rc;
}

static int op_begin(store *s, int nested, rc_error *err) {
  pg *st = PG(s);

  if (nested == 2 && !st->light) {
    /* No SAVEPOINT (a subtransaction on the server), and what the node
     * keeps to write goes once for the group, not at each job. */
    st->light = st->base.depth + 1;
    st->light_from = st->changes;
    st->job_from = st->npend;
    return RC_OK;
  }
  if (nested) {
    st->changes++;
    /* What the savepoint undoes must be what was added inside it. */
    if (figs_write(st, err) != RC_OK || counts_write(st, err) != RC_OK ||
        rows_write(st, NULL, err) != RC_OK)
      return RC_ESTORE;
    return exec(st, "SAVEPOINT ev", NULL, "savepoint", NULL, err);
  }
  pg_conflict_take(); /* a failure before this one's begin */
  st->importing = st->import_next;
  st->import_next = 0;
  batch_clear(st);
  checks_forget(st);
  st->opening_at = 0;
  st->tasks_added = 0;
  st->seen_case[0] = '\0';
  st->unseen_ref[0] = '\0';
  st->nfigs = 0;
  counts_forget(st);
  /* The triggers leave this transaction's counters to the node (schema
   * migration 4), and its statements, each prepared once a connection
   * (pipe_send), take their generic plans from their first use
   * (plan_cache_mode, for this transaction only): PostgreSQL planned each
   * one's first five uses again, 2.4 % of the server's work a reminder
   * in a 5,000-case sweep, where each then kept its generic plan all the
   * same; the kept rows' writes (rows_write) sent a step at a time stayed
   * on custom plans, planned at every use, of the same index scans. Both
   * said with the BEGIN. Neither waits for its answer: they
   * go with the transaction's first statement that does (a payment's
   * look at its ref, a claim, the commit), a round trip a group fewer.
   * Only a connection lost can fail them, and that statement then fails
   * as lost (store_contended): the transaction runs again. */
  if (connected(st, err) != RC_OK) return RC_ESTORE;
  if (pipe_send(st, "BEGIN", NULL, "begin", err) != 0 ||
      /* A group run again to find the write the database refused: a
       * check deferred to the commit is made at each write instead. */
      (st->base.checked && pipe_send(st, "SET CONSTRAINTS ALL IMMEDIATE",
                                     NULL, "begin", err) != 0) ||
      pipe_send(st,
                "SELECT set_config('recoup.counts', 'node', true), "
                "set_config('plan_cache_mode', 'force_generic_plan', true)",
                NULL, "begin", err) != 0) {
    if (settle(st, NULL) == RC_OK) PQclear(PQexec(st->c, "ROLLBACK"));
    return RC_ESTORE;
  }
  return RC_OK;
}

/* Ends a savepoint. Kept, its queued writes are read first, so that one
 * that failed fails its own event (the engine's replay isolates events
 * so). Undone, they are read and forgotten: after a failure the server
 * skips all that is queued, the ROLLBACK TO included, until they are. */
static int end_savepoint(pg *st, int keep, rc_error *err) {
  int rc, taken = st->opening_at >= st->base.depth;

  if (taken) st->opening_at = 0;
  if (!keep) {
    /* It may have undone a claim, and its locks with it; the figures
     * added inside it are forgotten with the rest. */
    batch_clear(st);
    st->seen_case[0] = '\0';
    st->unseen_ref[0] = '\0';
    st->nfigs = 0;
    counts_forget(st);
    settle(st, NULL);
    if (exec(st, "ROLLBACK TO ev", NULL, "rollback to", NULL, err) != RC_OK)
      return RC_ESTORE;
  }
  rc = settle(st, err) != RC_OK
           ? RC_ESTORE
           : exec(st, "RELEASE ev", NULL, "release", NULL, err);
  /* Kept, what it took is the enclosing one's. */
  if (rc == RC_OK && keep && taken) st->opening_at = st->base.depth - 1;
  return rc;
}

/* Ends a light savepoint (op_begin): kept, its queued writes are read,
 * so that one that failed fails its own job; undone, it undoes nothing,
 * and a job that wrote or broke the transaction asks for a replay. */
static int end_light(pg *st, int keep, rc_error *err) {
  int rc = RC_OK;

  st->light = 0;
  /* No subtransaction: what it took is held by the enclosing one. */
  if (st->opening_at >= st->base.depth) st->opening_at = st->base.depth - 1;
  if (keep) {
    /* Unchecked, its writes are read with the next statement that waits
     * (most often the next job's first read, or the commit): a round trip
     * a job fewer. One refused there is no fault of that job's
     * (pipe_take): the group runs again checked. Half the pipeline
     * queued, they are read now, leaving the next job room. */
    if (!st->base.checked && st->npend < PIPE_MAX / 2) return RC_OK;
    if (st->base.checked &&
        (figs_write(st, err) != RC_OK || counts_write(st, err) != RC_OK ||
         rows_write(st, NULL, err) != RC_OK))
      rc = RC_ESTORE;
    if (rc == RC_OK && st->npend) rc = pipe_sync(st, NULL, err);
    /* Its own write refused (a DBA's statement_timeout, a trigger or a
     * check of the database's) aborted the transaction: the group runs
     * again without it. A deadlock or a ref race runs it again as it
     * came. */
    if (rc != RC_OK && pg_conflict_take()) st->base.contended = 1;
    if (rc != RC_OK && !st->base.contended && !st->base.replay)
      st->base.replay = STORE_REPLAY_JOB;
    return rc;
  }
  batch_clear(st);
  st->seen_case[0] = '\0';
  st->unseen_ref[0] = '\0';
  if (st->npend) rc = pipe_sync(st, NULL, NULL);
  /* A deadlock ended the transaction: it runs again as it came. */
  if (pg_conflict_take()) st->base.contended = 1;
  if ((rc != RC_OK || st->changes != st->light_from ||
       PQtransactionStatus(st->c) != PQTRANS_INTRANS) &&
      !st->base.replay)
    st->base.replay = STORE_REPLAY_JOB;
  return RC_OK;
}

/* Commits, sending the COMMIT with what is still queued: one round trip,
 * not one to read the writes and another for the COMMIT. A write refused
 * there has the server skip the COMMIT; the transaction is rolled back,
 * and the group can find its job (store_group_checked), as when the
 * server refuses the COMMIT itself (a DBA's deferred trigger or
 * constraint; its checks then run at each write: op_begin). COMMIT of a
 * transaction a failure aborted answers ROLLBACK, not an error: nothing
 * of it was kept, and the engine must hear so. A connection lost here is
 * not a batch to run again: whether the server committed is unknown, and
 * the caller says the batch failed. */
static int commit(pg *st, rc_error *err) {
  PGresult *r = NULL;
  int rc = rows_write(st, NULL, err), sent = 0;

  if (rc == RC_OK && pipe_send(st, "COMMIT", NULL, "commit", err) != 0)
    rc = RC_ESTORE;
  else if (rc == RC_OK)
    sent = 1, rc = pipe_sync(st, &r, err);
  else
    settle(st, NULL);
  if (pg_conflict_take()) st->base.contended = 1;
  if (rc == RC_OK) {
    if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
      rc = rc_error_set(err, RC_ESTORE, NULL,
                        "PostgreSQL: commit: the transaction was rolled back "
                        "by an earlier failure");
    PQclear(r);
    return rc;
  }
  if (sent && PQstatus(st->c) != CONNECTION_OK) return rc;
  if (PQtransactionStatus(st->c) != PQTRANS_IDLE)
    PQclear(PQexec(st->c, "ROLLBACK")); /* a write refused: COMMIT skipped */
  if (st->base.contended)
    return rc_error_set(err, RC_ESTORE, NULL,
                        "PostgreSQL: commit: the transaction met a deadlock "
                        "or a serialization conflict and was rolled back");
  st->base.replay = STORE_REPLAY_GROUP;
  return rc;
}

/* The tables an import fills that were never analysed (a new book:
 * reltuples -1, or no pages counted, as PostgreSQL 13 says it, or as an
 * analysed table empty then says), analysed once it committed, those
 * this role owns (another role's it may not). Without statistics the
 * planner guesses a key's rows from a table's size (9 to 25 for a
 * borrower's contacts or a case's timers at 5,000 cases, where there
 * are 1 or 2) and gathers them through a bitmap made for each key; a
 * sweep run right after its import, before autovacuum came by (a minute
 * at least), paid that at every reminder: 4.0k of 318.2k server
 * instructions a reminder at 5,000 cases. Analysed, each is an index
 * walk. An older book's statistics are autovacuum's, as are every other
 * table's. */
static const char analyse_fresh_sql[] =
    "DO $$DECLARE t text; BEGIN FOR t IN SELECT c.relname FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = "
    "current_schema() AND c.relname IN ('borrowers', 'contacts', 'cases', "
    "'timers', 'events', 'messages', 'journal_runs') AND (c.reltuples < 0 "
    "OR c.relpages = 0) AND pg_has_role(c.relowner, 'USAGE') LOOP "
    "EXECUTE format('ANALYZE %I.%I', current_schema(), t); END LOOP; END$$";

/* After the import's commit, by itself: a failure here (a DBA's
 * statement_timeout) loses nothing of the import, and the planner
 * merely guesses on until autovacuum analyses the tables. */
static void analyse_fresh(pg *st) {
  int contended = st->base.contended;
  PQclear(run(st, analyse_fresh_sql, NULL, "analyse", NULL));
  st->base.contended = contended;
}

static int op_end(store *s, int nested, int keep, rc_error *err) {
  pg *st = PG(s);
  int rc, importing = st->importing;

  /* For the job that asked for them, not the next. */
  case_ahead_drop(st);
  promise_ahead_drop(st);
  if (nested && st->light == st->base.depth) return end_light(st, keep, err);
  if (nested) return end_savepoint(st, keep, err);
  st->light = 0;
  st->opening_at = 0;
  st->importing = 0;
  batch_clear(st); /* the cases' locks end here */
  unpaid_drop(st);
  st->seen_case[0] = '\0';
  st->unseen_ref[0] = '\0';
  /* A transaction a failure aborted keeps nothing: what the node summed
   * for it is not sent (the server would refuse it), and the COMMIT
   * below says it was rolled back. */
  if (!keep ||
      (!st->npend && PQtransactionStatus(st->c) == PQTRANS_INERROR)) {
    st->nfigs = 0;
    counts_forget(st);
    checks_forget(st);
  }
  /* What is queued is read first: a write that failed there fails the
   * commit, as it would have failed its statement. */
  rc = check_send(st, keep ? err : NULL);
  if (rc == RC_OK) rc = figs_write(st, keep ? err : NULL);
  if (rc == RC_OK) rc = counts_write(st, keep ? err : NULL);
  st->known_id[0] = '\0';
  if (pg_conflict_take()) st->base.contended = 1;
  if (rc == RC_OK && keep && !st->base.contended) {
    rc = commit(st, err);
    if (rc == RC_OK && importing) analyse_fresh(st);
    return rc;
  }
  if (rc == RC_OK) rc = settle(st, keep ? err : NULL);
  /* The server chose this transaction to end a deadlock (or found it in
   * a serialization conflict) somewhere in it: even when the engine
   * rolled back to a savepoint and went on, what it recorded then (an
   * event failed) is no fact. It is not kept; the engine runs it again
   * (store_contended). */
  if (pg_conflict_take()) st->base.contended = 1;
  /* A write kept for the group refused before the COMMIT was sent, for
   * another reason: nothing was kept, and the group can find its job
   * (store_group_checked). */
  if (keep && rc != RC_OK && !st->base.contended)
    st->base.replay = STORE_REPLAY_GROUP;
  if (keep && st->base.contended) {
    PQclear(PQexec(st->c, "ROLLBACK"));
    return rc_error_set(err, RC_ESTORE, NULL,
                        "PostgreSQL: commit: the transaction met a deadlock "
                        "or a serialization conflict and was rolled back");
  }
  PQclear(PQexec(st->c, "ROLLBACK"));
  return keep ? rc : RC_OK;
}

/* --- claims
 * ---------------------------------------------------------------------- */

/* The claimant a lease names (this process's name when none), kept for
 * the finish that follows: timer_finish is given no lease. */
static const char *lease_node(pg *st, const store_lease *lease) {
  rc_copy(st->claimer, sizeof st->claimer,
          lease && lease->node && *lease->node ? lease->node : st->node);
  return st->claimer;
}

static int64_t lease_ms(const store_lease *lease) {
  return lease && lease->ms > 0 ? lease->ms : PG_LEASE_MS;
}

/* pg_claim.c: the earliest time this node can claim a timer (timers in
 * another node's open batch do not count, or the service would wake at
 * once and spin for as long as that batch lasts). */
/* pg_timer_next_due's or pg_timer_first_due's statement, prepared: a
 * service asks at each wake, and each unnamed read was parsed and
 * planned again, 0.87M of the server's instructions a read where it
 * costs 0.09M prepared (100 reads in turn, callgrind). */
static int due_read(store *s, const char *sql, rc_time *due, rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc = RC_OK;

  a_int(&a, PG_CLOCK_DB);
  /* The first due counts timers waiting out a short lease ($2). */
  if (sql == pg_timer_first_due_sql) a_int(&a, PG_TIMER_WAIT_MS);
  if (!(r = run(PG(s), sql, &a, "reading the next timer", err)))
    return RC_ESTORE;
  if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
    rc = RC_ENOTFOUND;
  else
    *due = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  return rc;
}

static int op_timer_next_due(store *s, rc_time *due, rc_error *err) {
  return due_read(s, pg_timer_next_due_sql, due, err);
}

static int op_timer_first_due(store *s, rc_time *due, rc_error *err) {
  return due_read(s, pg_timer_first_due_sql, due, err);
}

static int op_timers_claim(store *s, rc_time until, int max,
                           const store_lease *lease, store_timer **out, int *n,
                           rc_error *err) {
  pg *st = PG(s);
  PGresult *r;
  store_timer *t;
  int i;

  *out = NULL;
  *n = 0;
  if (max < 1) return RC_OK;
  if (connected(st, err) != RC_OK || settle(st, err) != RC_OK) return RC_ESTORE;
  st->changes++; /* a claim writes its rows */
  if (in_batch(st)) {
    /* pg_lock_timers' statement, prepared: parsed once a connection, and
     * planned once after its first five claims (a generic plan, the same
     * as each claim's own: EXPLAIN under plan_cache_mode =
     * force_generic_plan), where each claim parsed and planned it
     * again, whatever the number of timers it took: a service's claims,
     * as timers come due, take few (a claim of 10: 5.44M of the server's
     * instructions, 2.51M prepared; 100 in turn, callgrind). */
    args a = {0};
    a_int(&a, until);
    a_int(&a, max);
    a_int(&a, PG_CLOCK_DB);
    a_text(&a, lease_node(st, lease));
    a_int(&a, PG_TIMER_WAIT_MS);
    r = run(st, pg_lock_timers_sql, &a, "claiming due timers", err);
  } else
    r = pg_claim_timers(st->c, lease_node(st, lease), until, max,
                        lease_ms(lease), PG_CLOCK_DB, err);
  if (!r) lost(st);
  if (!r) return RC_ESTORE;
  if (!(t = calloc((size_t)PQntuples(r) + 1, sizeof *t))) {
    PQclear(r);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  for (i = 0; i < PQntuples(r); i++) {
    t[i].id = int_col(r, i, 0);
    t[i].case_id = dup_col(r, i, 1);
    t[i].due = int_col(r, i, 2);
    t[i].event = dup_col(r, i, 3);
    t[i].data = dup_col(r, i, 4);
  }
  *n = PQntuples(r);
  *out = t;
  ahead_drop(st);
  /* The cases' locks last as long as the batch's transaction: outside
   * one, they are gone already. */
  if (!in_batch(st)) {
    PQclear(r);
    return RC_OK;
  }
  return pg_cache_fill(&st->batch, r) == RC_OK
             ? RC_OK
             : rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
}

/* Timer ids are never given twice here (a sequence): the id and the
 * claim say which timer it is. In a batch the claim is the row lock
 * (pg_lock_timers): the id alone, since no one else can have taken it. */
static int op_timer_finish(store *s, const store_timer *t, int *deleted,
                           rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  int64_t n;
  int rc;

  /* pg_timer_finish's statement (pg_claim.c), run here so that it goes
   * in one round trip with the writes queued before it, prepared; queued
   * itself when the count is known (pg_cache_timer_held). */
  a_int(&a, t->id);
  st->step_timer = t->id; /* its step's borrower read sends the next's */
  if (in_batch(st) && pg_cache_timer_held(&st->batch, t->id)) {
    *deleted = 1;
    return rows_keep(st, KEPT_ENDS, &a, err); /* sent with the batch's */
  }
  if (in_batch(st))
    rc = exec(st, "DELETE FROM timers WHERE id = $1", &a, "ending a timer",
              &n, err);
  else {
    a_text(&a, st->claimer);
    rc = exec(st, "DELETE FROM timers WHERE id = $1 AND claimed_by = $2", &a,
              "ending a timer", &n, err);
  }
  *deleted = rc == RC_OK && n > 0;
  return rc;
}

/* The setting that carries the claim's case ids from its first statement
 * to its events' (pg_claim_event_cases_set_sql), for this transaction. */
#define CLAIM_SETTING "recoup.claim_cases"

/* The claim's cases and events statements ($1 max, $2 now, $3 the
 * setting), sent together: the cases' rows, with the events' in *events;
 * NULL with err set (*events NULL) when either failed. */
static PGresult *claim_together(pg *st, const args *a, const char *node,
                                int64_t lease_ms, int max, PGresult **events,
                                rc_error *err) {
  args b = {0};
  PGresult *cases;

  *events = NULL;
  a_text(&b, node);
  a_text(&b, CLAIM_SETTING);
  a_int(&b, lease_ms);
  a_int(&b, PG_CLOCK_DB);
  a_int(&b, max);
  if (connected(st, err) != RC_OK) return NULL;
  PQclear(st->claim_cases);
  st->claim_cases = NULL;
  if (pipe_send(st, pg_claim_event_cases_set_sql, a,
                "claiming the cases of queued events", err) != 0) {
    settle(st, NULL);
    lost(st);
    return NULL;
  }
  st->claim_at = st->npend;
  if (pipe_send(st, pg_claim_events_set_sql, &b, "claiming queued events",
                err) == 0)
    pipe_sync(st, events, err);
  else
    settle(st, NULL);
  cases = st->claim_cases;
  st->claim_cases = NULL;
  st->claim_at = 0;
  if (!cases || !*events) {
    PQclear(cases);
    PQclear(*events);
    *events = NULL;
    lost(st);
    return NULL;
  }
  return cases;
}

/* pg_claim_events in a batch's transaction: its statements prepared
 * (planned once a connection, not at each claim: as long as running
 * them), the parking only when a case is in error. */
static PGresult *events_claim_batch(pg *st, const char *node, int max,
                                    int64_t lease_ms, rc_error *err) {
  args a = {0};
  PGresult *cases, *r = NULL;
  char *ids;
  int in_error;

  a_int(&a, max);
  a_int(&a, PG_CLOCK_DB);
  a_text(&a, CLAIM_SETTING);
  if (!(cases = claim_together(st, &a, node, lease_ms, max, &r, err)))
    return NULL;
  /* Most often the events came with their cases. Those of cases in error
   * (not among the ids the events statement read) are parked after it:
   * the same rows as parked before it, the claim of the others' events
   * being by case. */
  if (!pg_claim_event_cases_wider(cases)) {
    if (!(ids = pg_claim_event_cases(cases, &in_error, err))) {
      PQclear(r);
      return NULL;
    }
    a.n = 0;
    a_text(&a, ids);
    if (in_error && exec(st, pg_park_events_sql, &a,
                         "parking the events of cases in error", NULL,
                         err) != RC_OK) {
      PQclear(r);
      r = NULL;
    }
    free(ids);
    return r;
  }
  /* None taken, so none claimed (r is empty): the cases are looked for
   * among all the queued events. */
  PQclear(r);
  r = NULL;
  PQclear(cases);
  a.n = 2;
  if (!(cases = run(st, pg_claim_event_cases_all_sql, &a,
                    "claiming the cases of queued events", err)))
    return NULL;
  if (!(ids = pg_claim_event_cases(cases, &in_error, err))) return NULL;
  a.n = 0;
  a_text(&a, ids);
  if (!in_error ||
      exec(st, pg_park_events_sql, &a, "parking the events of cases in error",
           NULL, err) == RC_OK) {
    a.n = 0;
    a_text(&a, node);
    a_text(&a, ids);
    a_int(&a, lease_ms);
    a_int(&a, PG_CLOCK_DB);
    a_int(&a, max);
    r = run(st, pg_claim_events_sql, &a, "claiming queued events", err);
  }
  free(ids);
  return r;
}

static int op_events_claim(store *s, int max, const store_lease *lease,
                           store_event **out, int *n, rc_error *err) {
  pg *st = PG(s);
  PGresult *r;
  store_event *ev;
  int i;

  *out = NULL;
  *n = 0;
  if (max < 1) return RC_OK;
  /* The claim's statements need a transaction: the engine's batch, or
   * one of their own (a reader's look at the queue). */
  if (st->base.depth == 0 &&
      exec(st, "BEGIN", NULL, "begin", NULL, err) != RC_OK)
    return RC_ESTORE;
  /* In a batch what is queued (its BEGIN, the last steps' writes) goes
   * with the claim's first statement, whose failure theirs is (run): a
   * slice after a payment group waited for its BEGIN alone, a round trip
   * of the four it made. */
  st->manual = st->base.depth == 0;
  st->changes++; /* a claim writes its rows */
  r = st->manual ? pg_claim_events(st->c, lease_node(st, lease), max,
                                   lease_ms(lease), PG_CLOCK_DB, err)
                 : events_claim_batch(st, lease_node(st, lease), max,
                                      lease_ms(lease), err);
  if (!r) lost(st);
  if (st->manual) {
    if (r && exec(st, "COMMIT", NULL, "commit", NULL, err) != RC_OK) {
      PQclear(r);
      r = NULL;
    }
    if (!r) PQclear(PQexec(st->c, "ROLLBACK"));
    st->manual = 0;
  }
  if (!r) return RC_ESTORE;
  if (!(ev = calloc((size_t)PQntuples(r) + 1, sizeof *ev))) {
    PQclear(r);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  for (i = 0; i < PQntuples(r); i++) {
    ev[i].id = int_col(r, i, 0);
    ev[i].case_id = dup_col(r, i, 1);
    ev[i].type = dup_col(r, i, 2);
    ev[i].data = dup_col(r, i, 3);
    ev[i].at = int_col(r, i, 4);
  }
  *n = PQntuples(r);
  *out = ev;
  /* The cases' locks last as long as the batch's transaction: outside
   * one (a reader's look), they are gone already. */
  if (st->base.depth == 0) {
    PQclear(r);
    return RC_OK;
  }
  if (pg_cache_fill_events(&st->batch, r) == RC_OK) return RC_OK;
  store_events_free(ev, *n);
  *out = NULL;
  *n = 0;
  return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
}

static int op_event_finish(store *s, int64_t id, int how, rc_error *err) {
  args a = {0};

  a_int(&a, id);
  if (how == STORE_EVENT_PARKED)
    return exec(PG(s),
                "UPDATE events SET status = 'failed', claimed_by = NULL, "
                "claimed_until = NULL WHERE id = $1",
                &a, "fail event", NULL, err);
  /* In a batch the claim's row lock holds it: its delete waits with the
   * batch's other kept rows, sent before any statement that names events
   * (the next claim) and with the commit. */
  if (in_batch(PG(s))) return rows_keep(PG(s), KEPT_EVENTS, &a, err);
  return exec(PG(s), "DELETE FROM events WHERE id = $1", &a, "delete event",
              NULL, err);
}

static int op_outbox_claim(store *s, rc_time now, int max,
                           const store_lease *lease, store_outgoing **out,
                           int *n, rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  PGresult *r;
  store_outgoing *list;
  int i;

  *out = NULL;
  *n = 0;
  if (max < 1) return RC_OK;
  if (connected(st, err) != RC_OK || settle(st, err) != RC_OK) return RC_ESTORE;
  st->changes++; /* a claim writes its rows */
  /* pg_claim_outbox's statement, prepared: a service claims at each
   * wake, and each unnamed claim was parsed and planned again (a claim
   * of 10: 2.10M of the server's instructions, 1.35M prepared; the
   * generic plan is the claim's own, outbox_due then messages_pkey). */
  a_text(&a, lease_node(st, lease));
  a_int(&a, now);
  a_int(&a, max);
  a_int(&a, lease_ms(lease));
  a_int(&a, PG_CLOCK_DB);
  r = run(st, pg_claim_outbox_sql, &a, "claiming the outbox", err);
  if (!r) lost(st);
  if (!r) return RC_ESTORE;
  if (!(list = calloc((size_t)PQntuples(r) + 1, sizeof *list))) {
    PQclear(r);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  for (i = 0; i < PQntuples(r); i++) {
    list[i].id = int_col(r, i, 0);
    list[i].case_id = dup_col(r, i, 1);
    list[i].borrower_id = dup_col(r, i, 2);
    list[i].channel = dup_col(r, i, 3);
    list[i].template_name = dup_col(r, i, 4);
    list[i].recipient = dup_col(r, i, 5);
    list[i].body = dup_col(r, i, 6);
    list[i].attempts = (int)int_col(r, i, 7);
    list[i].at = int_col(r, i, 8);
    list[i].state = dup_col(r, i, 9);
    list[i].step = int_col(r, i, 10);
    list[i].case_state = dup_col(r, i, 11);
    list[i].closed = (int)int_col(r, i, 12);
    list[i].mover = int_col(r, i, 13);
    list[i].on_hold = (int)int_col(r, i, 14);
    snprintf(list[i].timezone, sizeof list[i].timezone, "%s",
             PQgetisnull(r, i, 15) ? "" : PQgetvalue(r, i, 15));
    list[i].ceased = (int)int_col(r, i, 16);
    list[i].do_not_contact = (int)int_col(r, i, 17);
  }
  *n = PQntuples(r);
  *out = list;
  PQclear(r);
  return RC_OK;
}

static int op_release(store *s, int what, int64_t id, const store_lease *lease,
                      rc_error *err) {
  static const char *const sql[] = {
      [STORE_CLAIM_TIMER] =
          "UPDATE timers SET claimed_by = NULL, claimed_until = NULL WHERE "
          "claimed_by = $1 AND ($2 = 0 OR id = $2)",
      [STORE_CLAIM_EVENT] =
          "UPDATE events SET claimed_by = NULL, claimed_until = NULL WHERE "
          "claimed_by = $1 AND ($2 = 0 OR id = $2)",
      [STORE_CLAIM_MESSAGE] =
          "UPDATE messages SET claimed_by = NULL, claimed_until = NULL WHERE "
          "claimed_by = $1 AND ($2 = 0 OR id = $2)",
  };
  pg *st = PG(s);
  args a = {0};

  if (what < STORE_CLAIM_TIMER || what > STORE_CLAIM_MESSAGE)
    return rc_error_set(err, RC_EINTERNAL, NULL, "unknown claim %d", what);
  a_text(&a, lease_node(st, lease));
  a_int(&a, id);
  if (what == STORE_CLAIM_TIMER) batch_clear(st);
  return exec(st, sql[what], &a, "give back claims", NULL, err);
}

/* pg_claim.c talks to the connection itself: the pipeline first. */
static int op_timers_retry(store *s, const char *case_id, int64_t ms,
                           const store_lease *lease, rc_error *err) {
  pg *st = PG(s);
  int rc;

  if (connected(st, err) != RC_OK || settle(st, err) != RC_OK) return RC_ESTORE;
  rc = pg_timers_retry(st->c, case_id, lease_node(st, lease), ms, PG_CLOCK_DB,
                       err);
  return rc < 0 ? rc : RC_OK;
}

/* --- units of work
 * ------------------------------------------------------------ */

static int op_meta_get(store *s, const char *key, char *buf, size_t size,
                       rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, key);
  rc = one(PG(s), "SELECT value FROM meta WHERE key = $1", &a, "meta", &r, err);
  if (rc == RC_OK) {
    snprintf(buf, size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
  } else if (rc == RC_ENOTFOUND) {
    rc_error_set(err, RC_ENOTFOUND, NULL, "no %s in meta", key);
  }
  return rc;
}

static int op_meta_put(store *s, const char *key, const char *value,
                       rc_error *err) {
  args a = {0};

  a_text(&a, key);
  if (!value)
    return exec(PG(s), "DELETE FROM meta WHERE key = $1", &a, "meta", NULL,
                err);
  a_text(&a, value);
  return exec(PG(s),
              "INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT (key) "
              "DO UPDATE SET value = EXCLUDED.value",
              &a, "meta", NULL, err);
}

static int op_borrower_put(store *s, const store_borrower *b, rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  int rc;

  a_text(&a, b->id);
  a_text(&a, b->name);
  a_text(&a, b->locale);
  a_text(&a, b->timezone);
  a_text(&a, b->address);
  a_text(&a, b->employer_name);
  a_text(&a, b->employer_phone);
  a_text(&a, b->employer_address);
  a_int(&a, b->do_not_contact);
  a_int(&a, b->ceased);
  a_text(&a, b->area);
  rc = exec(st,
            "INSERT INTO borrowers AS b(id, name, locale, timezone, address, "
            "employer_name, employer_phone, employer_address, do_not_contact, "
            "ceased, area) VALUES ($1, coalesce($2, ''), $3, $4, $5, $6, $7, "
            "$8, $9, $10, $11) ON CONFLICT (id) DO UPDATE SET "
            "name = coalesce($2, b.name), locale = coalesce($3, b.locale), "
            "timezone = coalesce($4, b.timezone), "
            "address = coalesce($5, b.address), "
            "employer_name = coalesce($6, b.employer_name), "
            "employer_phone = coalesce($7, b.employer_phone), "
            "employer_address = coalesce($8, b.employer_address), "
            "do_not_contact = greatest(b.do_not_contact, $9), "
            "area = coalesce($11, b.area)",
            &a, "save borrower", NULL, err);
  if (rc != RC_OK || b->ncontacts < 0) return rc;
  a.n = 0;
  a_text(&a, b->id);
  if ((rc = exec(st, "DELETE FROM contacts WHERE borrower_id = $1", &a,
                 "replace contacts", NULL, err)) != RC_OK)
    return rc;
  for (int i = 0; i < b->ncontacts && rc == RC_OK; i++) {
    a.n = 0;
    a_text(&a, b->id);
    a_text(&a, b->contacts[i].kind);
    a_text(&a, b->contacts[i].value);
    a_text(&a, b->contacts[i].name);
    a_text(&a, b->contacts[i].relation);
    a_int(&a, i);
    rc = exec(st,
              "INSERT INTO contacts(borrower_id, kind, value, name, relation, "
              "position) VALUES ($1, $2, $3, $4, $5, $6)",
              &a, "save contact", NULL, err);
  }
  return rc;
}

static int op_borrower_flag(store *s, const char *borrower_id, store_flag flag,
                            int value, rc_error *err) {
  args a = {0};

  a_text(&a, borrower_id);
  a_int(&a, value);
  return exec(PG(s),
              flag == STORE_FLAG_CEASED
                  ? "UPDATE borrowers SET ceased = $2 WHERE id = $1"
                  : "UPDATE borrowers SET do_not_contact = $2 WHERE id = $1",
              &a, "borrower flag", NULL, err);
}

/* --- the counters of cases (pg.h) --- */

/* Whether the node counts this transaction's writes (op_begin said so to
 * the triggers). */
static int counting(const pg *st) {
  return in_batch(st);
}

/* The fields of a change that move a case's counters. */
enum {
  CASE_COUNTED = STORE_CASE_STATE | STORE_CASE_ERROR | STORE_CASE_MONEY |
                 STORE_CASE_WORKFLOW | STORE_CASE_TERMS
};

/* Adds what case id counts for (sign 1) or takes it out (-1): summed in
 * the node when c says what that is, by the server from the row (as it
 * is when this statement runs) when c is NULL. */
static int case_count(pg *st, const char *id, const pg_case_count *c, int sign,
                      rc_error *err) {
  args a = {0};

  st->changes++;
  if (c) {
    if (pg_counts_case(&st->counts, c, sign)) return RC_OK;
    if (counts_write(st, err) != RC_OK) return RC_ESTORE;
    if (pg_counts_case(&st->counts, c, sign)) return RC_OK;
  }
  a_text(&a, id);
  a_int(&a, sign);
  return exec(st, "SELECT figures_case_count($1, $2)", &a, "counters", NULL,
              err);
}

/* What case id counts for, when this transaction knows: the last case
 * it wrote, or one its timer claim read and locked. 1, or 0. */
static int case_known(pg *st, const char *id, pg_case_count *out) {
  const PGresult *r;
  int row;

  if (st->known_id[0] && !strcmp(st->known_id, id)) {
    *out = st->known;
    return 1;
  }
  r = pg_cache_case_row(&st->batch, id, &row);
  return r && pg_case_count_read(r, row, PG_CLAIM_CASE, out);
}

static void case_keep(pg *st, const char *id, const pg_case_count *c) {
  if (strlen(id) >= sizeof st->known_id) {
    st->known_id[0] = '\0';
    return;
  }
  st->known = *c;
  memcpy(st->known_id, id, strlen(id) + 1);
}

/* What a case counted for (was) with a change's fields put in: 1, or 0
 * when a name is missing or too long to keep (then the server counts
 * it). */
static int case_changed(const pg_case_count *was, const store_case_change *ch,
                        pg_case_count *now) {
  unsigned f = ch->fields;
  const char *workflow = was->workflow, *state = was->state, *due = was->due;
  const char *cur = was->currency;

  *now = *was;
  if (f & STORE_CASE_TERMS) {
    now->balance = ch->terms->balance;
    due = ch->terms->due_date ? ch->terms->due_date : "";
    /* imported again in another currency: its balance moves too */
    if (ch->terms->currency) cur = ch->terms->currency;
  }
  if (f & STORE_CASE_WORKFLOW) {
    workflow = ch->workflow;
    state = ch->state;
  }
  if (f & STORE_CASE_MONEY) now->balance = ch->balance;
  if (f & STORE_CASE_STATE) {
    state = ch->state;
    now->closed = ch->closed != 0;
  }
  if (f & STORE_CASE_ERROR) now->error = ch->error != NULL;
  if (!workflow || !state || strlen(workflow) >= PG_COUNT_PART ||
      strlen(state) >= PG_COUNT_PART || strlen(due) >= PG_COUNT_PART ||
      strlen(cur) >= PG_COUNT_CUR)
    return 0;
  memmove(now->currency, cur, strlen(cur) + 1);
  memmove(now->workflow, workflow, strlen(workflow) + 1);
  memmove(now->state, state, strlen(state) + 1);
  memmove(now->due, due, strlen(due) + 1);
  return 1;
}

static int op_case_insert(store *s, const store_case *c, rc_error *err) {
  pg *st = PG(s);
  pg_case_count now;
  args a = {0};
  int rc, known;

  pg_cache_forget(&PG(s)->batch, PG_CACHE_CASE, c->id);
  a_text(&a, c->id);
  a_text(&a, c->borrower_id);
  a_text(&a, c->workflow);
  a_int(&a, c->version);
  a_text(&a, c->state);
  a_int(&a, c->closed);
  a_text(&a, c->outcome);
  a_text(&a, c->error);
  a_text(&a, c->product);
  a_text(&a, c->currency);
  a_int(&a, c->principal);
  a_int(&a, c->balance);
  a_int(&a, c->amount_due);
  a_int(&a, c->fees);
  a_text(&a, c->due_date);
  a_int(&a, c->opened_at);
  if (c->has_score)
    a_real(&a, c->score);
  else
    a_text(&a, NULL);
  a_text(&a, c->tags ? c->tags : "[]");
  a_text(&a, c->data ? c->data : "{}");
  a_text(&a, c->queue);
  a_int(&a, c->on_hold);
  rc = exec(st,
            "INSERT INTO cases(" PG_CASE_COLS
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
            "$13, $14, $15, $16, $17, $18, $19, $20, $21, 0, 0)",
            &a, "insert case", NULL, err);
  if (rc != RC_OK || !counting(st)) return rc;
  if ((known = pg_case_count_of(c, &now)))
    case_keep(st, c->id, &now);
  else
    st->known_id[0] = '\0';
  return case_count(st, c->id, known ? &now : NULL, 1, err);
}

/* The fields of a change, one UPDATE a group as the change names them
 * (in a transaction the node counts them: op_begin). */
static int op_case_write(store *s, const store_case_change *ch, rc_error *err) {
  pg *st = PG(s);
  unsigned f = ch->fields;
  pg_case_count was, now;
  args a = {0};
  int rc = RC_OK, counted = counting(st) && (f & CASE_COUNTED), known = 0;

  /* Taken out of its counters as it was, put back as it is after. */
  if (counted && !(known = case_known(st, ch->id, &was))) {
    st->known_id[0] = '\0';
    rc = case_count(st, ch->id, NULL, -1, err);
  }
  pg_cache_forget(&st->batch, PG_CACHE_CASE, ch->id);

  if (rc == RC_OK && (f & STORE_CASE_TERMS)) {
    const store_case *c = ch->terms;
    a_text(&a, c->id);
    a_text(&a, c->product);
    a_text(&a, c->currency);
    a_int(&a, c->principal);
    a_int(&a, c->balance);
    a_int(&a, c->amount_due);
    a_int(&a, c->fees);
    a_text(&a, c->due_date);
    if (c->has_score)
      a_real(&a, c->score);
    else
      a_text(&a, NULL);
    a_text(&a, c->data ? c->data : "{}");
    a_text(&a, c->tags ? c->tags : "[]");
    a_int(&a, c->reduced);
    rc = exec(st,
              "UPDATE cases SET product = $2, currency = $3, principal = $4, "
              "balance = $5, amount_due = $6, fees = $7, due_date = $8, "
              "score = $9, data = $10, tags = $11, reduced = $12 "
              "WHERE id = $1",
              &a, "update case", NULL, err);
  }
  if (rc == RC_OK && (f & STORE_CASE_WORKFLOW)) {
    a.n = 0;
    a_text(&a, ch->id);
    a_text(&a, ch->workflow);
    a_int(&a, ch->version);
    a_text(&a, ch->state);
    rc = exec(st,
              "UPDATE cases SET workflow = $2, version = $3, state = $4 "
              "WHERE id = $1",
              &a, "set workflow", NULL, err);
  }
  if (rc == RC_OK && (f & STORE_CASE_MONEY)) {
    a.n = 0;
    a_text(&a, ch->id);
    a_int(&a, ch->balance);
    a_int(&a, ch->amount_due);
    a_int(&a, ch->overpaid);
    rc = exec(st,
              "UPDATE cases SET balance = $2, amount_due = $3, overpaid = $4 "
              "WHERE id = $1",
              &a, "set balance", NULL, err);
  }
  if (rc == RC_OK && (f & STORE_CASE_STATE)) {
    a.n = 0;
    a_text(&a, ch->id);
    a_text(&a, ch->state);
    a_int(&a, ch->closed != 0);
    a_text(&a, ch->outcome);
    a_int(&a, ch->mover);
    /* A transition's own write, in a batch: sent with the batch's others
     * (rows_write), before anything that reads the case. */
    if (counting(st))
      rc = rows_keep(st, KEPT_STATES, &a, err);
    else
      rc = exec(st, pg_state_one_sql, &a, "set state", NULL, err);
  }
  if (rc == RC_OK && (f & STORE_CASE_ERROR)) {
    a.n = 0;
    a_text(&a, ch->id);
    a_text(&a, ch->error);
    rc = exec(st, "UPDATE cases SET error = $2 WHERE id = $1", &a, "set error",
              NULL, err);
  }
  if (rc == RC_OK && (f & STORE_CASE_DATA)) {
    a.n = 0;
    a_text(&a, ch->id);
    a_text(&a, ch->data);
    rc = exec(st, "UPDATE cases SET data = $2 WHERE id = $1", &a, "set data",
              NULL, err);
  }
  if (rc == RC_OK && (f & STORE_CASE_TAGS)) {
    a.n = 0;
    a_text(&a, ch->id);
    a_text(&a, ch->tags);
    rc = exec(st, "UPDATE cases SET tags = $2 WHERE id = $1", &a, "set tags",
              NULL, err);
  }
  if (rc == RC_OK && (f & STORE_CASE_QUEUE)) {
    a.n = 0;
    a_text(&a, ch->id);
    a_text(&a, ch->queue);
    rc = exec(st, "UPDATE cases SET queue = $2 WHERE id = $1", &a, "assign",
              NULL, err);
  }
  if (rc == RC_OK && (f & STORE_CASE_HOLD)) {
    a.n = 0;
    a_text(&a, ch->id);
    a_int(&a, ch->on_hold);
    rc = exec(st, "UPDATE cases SET on_hold = $2 WHERE id = $1", &a, "set hold",
              NULL, err);
  }
  if (rc != RC_OK || !counted) return rc;
  if (!known) return case_count(st, ch->id, NULL, 1, err);
  if ((rc = case_count(st, ch->id, &was, -1, err)) != RC_OK) return rc;
  if (!case_changed(&was, ch, &now)) {
    st->known_id[0] = '\0';
    return case_count(st, ch->id, NULL, 1, err);
  }
  case_keep(st, ch->id, &now);
  return case_count(st, ch->id, &now, 1, err);
}

/* An event for a case in error is parked with the case's failed one, not
 * queued (the retry re-queues them all, in order). */
static int op_event_put(store *s, const char *case_id, const char *type,
                        const char *data, rc_time at, const char *status,
                        rc_error *err) {
  args a = {0};
  pg *st = PG(s);
  int64_t n = 1;
  /* A case this transaction read: the insert goes with the next round
   * trip rather than wait for its count. */
  int64_t *count = strcmp(st->seen_case, case_id) == 0 ? NULL : &n;
  int rc;

  a_text(&a, case_id);
  a_text(&a, type);
  a_text(&a, data);
  a_int(&a, at);
  if (status) {
    a_text(&a, status);
    rc = exec(st,
              "INSERT INTO events(case_id, type, data, at, status) SELECT $1, "
              "$2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM cases WHERE "
              "id = $1)",
              &a, "queue event", count, err);
  } else {
    rc = exec(st,
              "INSERT INTO events(case_id, type, data, at, status) SELECT $1, "
              "$2, $3, $4, CASE WHEN c.error IS NULL THEN 'pending' ELSE "
              "'failed' END FROM cases c WHERE c.id = $1",
              &a, "queue event", count, err);
  }
  if (rc == RC_OK && n == 0)
    return rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", case_id);
  return rc;
}

static int op_event_key(store *s, const char *key, const char *case_id,
                        const char *type, rc_time at, int *duplicate,
                        rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  PGresult *r;
  int64_t n;
  int rc, same;

  *duplicate = 0;
  a_text(&a, key);
  a_text(&a, case_id);
  a_int(&a, at);
  a_text(&a, type);
  rc = exec(st,
            "INSERT INTO event_keys(key, case_id, at, type) VALUES ($1, $2, "
            "$3, $4) ON CONFLICT (key) DO NOTHING",
            &a, "event key", &n, err);
  if (rc != RC_OK || n == 1) return rc;
  a.n = 1;
  if ((rc = one(st, "SELECT case_id, type FROM event_keys WHERE key = $1", &a,
                "read event key", &r, err)) != RC_OK)
    return rc == RC_ENOTFOUND ? rc_error_set(err, RC_ESTORE, NULL,
                                             "database: event key vanished")
                              : rc;
  same = strcmp(PQgetvalue(r, 0, 0), case_id) == 0 &&
         (PQgetisnull(r, 0, 1) || strcmp(PQgetvalue(r, 0, 1), type) == 0);
  if (!same)
    store_key_taken(err, key, PQgetisnull(r, 0, 1) ? NULL : PQgetvalue(r, 0, 1),
                    PQgetvalue(r, 0, 0));
  PQclear(r);
  if (!same) return RC_ECONFLICT;
  *duplicate = 1;
  return RC_OK;
}

static int op_events_retry(store *s, const char *case_id, int *count,
                           rc_error *err) {
  args a = {0};
  int64_t n;
  int rc;

  a_text(&a, case_id);
  rc = exec(PG(s),
            "UPDATE events SET status = 'pending' WHERE case_id = $1 AND "
            "status = 'failed'",
            &a, "retry events", &n, err);
  if (count) *count = (int)n;
  return rc;
}

static int op_timer_put(store *s, const char *case_id, rc_time due,
                        const char *event, const char *data, int scoped,
                        rc_error *err) {
  args a = {0};

  a_text(&a, case_id);
  a_int(&a, due);
  a_text(&a, event);
  a_text(&a, data);
  a_int(&a, scoped);
  return exec(PG(s),
              "INSERT INTO timers(case_id, due, event, data, scoped) VALUES "
              "($1, $2, $3, $4, $5)",
              &a, "insert timer", NULL, err);
}

static int op_timers_cancel(store *s, const char *case_id, int which,
                            const char *event, int *count, rc_error *err) {
  args a = {0};
  int64_t n = 0;
  int rc;

  pg_cache_timers_cut(&PG(s)->batch, case_id);
  a_text(&a, case_id);
  if (which == STORE_TIMERS_NAMED) {
    a_text(&a, event);
    rc = exec(PG(s), "DELETE FROM timers WHERE case_id = $1 AND event = $2", &a,
              "cancel timer", &n, err);
  } else if (!count && counting(PG(s))) {
    /* Nobody asks how many: sent with the batch's (rows_write), before
     * anything else that names the timers (a new one of the case's). */
    a_int(&a, which == STORE_TIMERS_SCOPED);
    rc = rows_keep(PG(s), KEPT_CUTS, &a, err);
  } else {
    rc = exec(PG(s),
              which == STORE_TIMERS_SCOPED
                  ? "DELETE FROM timers WHERE case_id = $1 AND scoped <> 0"
                  : "DELETE FROM timers WHERE case_id = $1",
              &a, "cancel timers", count ? &n : NULL, err);
  }
  if (count) *count = (int)n;
  return rc;
}

static int op_journal_run(store *s, const char *case_id, rc_time at, int n,
                          const char *rows_json, size_t len, rc_error *err) {
  char *text = strndup(rows_json, len); /* a parameter ends at its NUL */
  args a = {0};
  int rc;

  if (!text) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  a_text(&a, case_id);
  a_int(&a, at);
  a_int(&a, n);
  a_text(&a, text);
  if (counting(PG(s))) /* in a transaction: sent with the batch's */
    rc = rows_keep(PG(s), KEPT_RUNS, &a, err);
  else
    rc = exec(PG(s),
              "INSERT INTO journal_runs(case_id, at, n, rows) VALUES ($1, "
              "$2, $3, $4)",
              &a, "journal", NULL, err);
  free(text);
  return rc;
}

/* A new message's id: this node takes IDS_AHEAD ids of the messages'
 * sequence in one statement and hands them out one by one, so that a
 * message's insert need not wait for the id the server would give it.
 * Ids taken and not used are gaps, as a rolled-back insert leaves. */
static int message_id(pg *st, int64_t *id, rc_error *err) {
  if (st->nids == 0) {
    PGresult *r;
    /* The sequence looked up once (OFFSET 0 keeps it apart), not at each
     * id: a function of the catalog's, it is not folded into a constant
     * when planned, and the look-up was most of an id's cost. No
     * parameter: planned once a connection (a parameter had it planned
     * at each call, two thirds of its cost). The table is named in a
     * string the kept messages need not be sent before (rows_write). */
    if (!(r = run(st,
                  "SELECT nextval(s) FROM (SELECT pg_get_serial_sequence("
                  "'messag' || 'es', 'id')::regclass AS s OFFSET 0) q, "
                  "generate_series(1, " IDS_AHEAD_TEXT ")",
                  NULL, "message ids", err)))
      return RC_ESTORE;
    for (int i = 0; i < PQntuples(r) && i < IDS_AHEAD; i++)
      st->ids[IDS_AHEAD - 1 - i] = int_col(r, i, 0); /* used from the end */
    st->nids = PQntuples(r) < IDS_AHEAD ? PQntuples(r) : IDS_AHEAD;
    PQclear(r);
    if (st->nids == 0)
      return rc_error_set(err, RC_ESTORE, NULL, "database: no message ids");
  }
  *id = st->ids[--st->nids];
  return RC_OK;
}

static int op_message_put(store *s, const store_message *m, int64_t *id,
                          rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, m->case_id);
  a_text(&a, m->borrower_id);
  a_text(&a, m->channel);
  a_text(&a, m->template_name);
  a_text(&a, m->recipient);
  a_text(&a, m->to_kind);
  a_text(&a, m->body);
  a_text(&a, m->status);
  a_text(&a, m->reason);
  a_int(&a, m->at);
  if (m->not_before)
    a_int(&a, m->not_before);
  else
    a_text(&a, NULL);
  /* In a batch, the id is taken from this node's ids (message_id) and
   * the insert queued: a round trip a message less. */
  if (PG(s)->base.depth > 0 && !PG(s)->manual) {
    int64_t mine = 0;
    if ((rc = message_id(PG(s), &mine, err)) != RC_OK) return rc;
    a_int(&a, mine);
    a_text(&a, m->state);
    a_int(&a, m->step);
    if (id) *id = mine;
    rc = rows_keep(PG(s), KEPT_MSGS, &a, err);
    /* Its counter is the node's in a transaction (op_begin). */
    if (rc == RC_OK && m->status) {
      static const int64_t one[4] = {1, 0, 0, 0};
      rc = count_add(PG(s), PG_COUNT_MESSAGE, m->status, NULL, NULL, one, err);
    }
    return rc;
  }
  a_text(&a, m->state);
  a_int(&a, m->step);
  rc = one(PG(s),
           "INSERT INTO messages(case_id, borrower_id, channel, template, "
           "recipient, to_kind, body, status, reason, at, not_before, "
           "next_attempt, state, step) VALUES ($1, $2, $3, $4, $5, $6, $7, "
           "$8, $9, $10, $11, 0, $12, $13) RETURNING id",
           &a, "queue message", &r, err);
  if (id) *id = rc == RC_OK ? int_col(r, 0, 0) : 0;
  if (rc == RC_OK) PQclear(r);
  return rc == RC_ENOTFOUND ? RC_ESTORE : rc;
}

/* A message the gateway's receipt (or a final failure) settled: its
 * status never goes back, whichever write comes later. */
#define UNSETTLED "status NOT IN ('delivered', 'failed')"

/* The moves the engine makes (store.h: store_message_update), each one
 * statement (two for an attempt on a settled message); a delivery attempt
 * also ends the message's claim. */
static int op_message_update(store *s, int64_t id,
                             const store_message_change *ch, int *changed,
                             rc_error *err) {
  pg *st = PG(s);
  unsigned f = ch->fields;
  args a = {0};
  int64_t n = 0;
  int rc;

  a_int(&a, id);
  if (f & STORE_MSG_ATTEMPT) {
    a_text(&a, ch->status);
    a_int(&a, ch->attempts);
    a_int(&a, ch->next_attempt);
    a_text(&a, ch->reason);
    a_int(&a, ch->at);
    rc = exec(st,
              "UPDATE messages SET status = $2, attempts = $3, "
              "next_attempt = $4, reason = $5, sent_at = CASE WHEN $2 = "
              "'sent' THEN $6 ELSE sent_at END, claimed_by = NULL, "
              "claimed_until = NULL WHERE id = $1 AND " UNSETTLED,
              &a, "delivery attempt", &n, err);
    if (rc == RC_OK && n == 0) {
      /* The gateway's receipt came before the send call returned: the
       * attempt is counted, the receipt's status and reason kept. */
      args k = {0};
      a_int(&k, id);
      a_text(&k, ch->status);
      a_int(&k, ch->attempts);
      a_int(&k, ch->at);
      rc = exec(st,
                "UPDATE messages SET attempts = $3, sent_at = CASE WHEN $2 = "
                "'sent' THEN $4 ELSE sent_at END, claimed_by = NULL, "
                "claimed_until = NULL WHERE id = $1",
                &k, "delivery attempt", NULL, err);
    }
  } else if (ch->only_if && strcmp(ch->only_if, "deferred") == 0 &&
             (f & (STORE_MSG_REASON | STORE_MSG_NOT_BEFORE))) {
    a_text(&a, ch->status);
    a_text(&a, ch->reason);
    if (ch->not_before)
      a_int(&a, ch->not_before);
    else
      a_text(&a, NULL);
    rc = exec(st,
              "UPDATE messages SET status = $2, reason = $3, not_before = $4 "
              "WHERE id = $1 AND status = 'deferred'",
              &a, "defer message", &n, err);
  } else if (ch->only_if && strcmp(ch->only_if, "deferred") == 0 &&
             ch->status && strcmp(ch->status, "queued") == 0) {
    rc = exec(st,
              "UPDATE messages SET status = 'queued' WHERE id = $1 AND "
              "status = 'deferred'",
              &a, "release message", &n, err);
  } else if (!ch->only_if && f == STORE_MSG_STATUS) {
    a_text(&a, ch->status);
    rc =
        exec(st, "UPDATE messages SET status = $2 WHERE id = $1 AND " UNSETTLED,
             &a, "message status", &n, err);
  } else {
    rc = rc_error_set(err, RC_EINTERNAL, NULL,
                      "database: a message change this store cannot make");
  }
  if (changed) *changed = rc == RC_OK && n > 0;
  return rc;
}

/* Found down messages_deferred (schema step 16): the case's deferred
 * messages and no other row. Down messages_borrower it read every
 * message the case's borrower was ever sent; down the outbox's index,
 * every deferred message of the book. The closing step's own ($3) are
 * spared; IS DISTINCT FROM: a message written before schema 22 has no
 * step, and is cancelled. */
const char pg_cancel_deferred_sql[] =
    "UPDATE messages SET status = 'cancelled', reason = $2 WHERE "
    "case_id = $1 AND status = 'deferred' AND step IS DISTINCT FROM $3";

static int op_messages_cancel_deferred(store *s, const char *case_id,
                                       const char *reason, int64_t spare,
                                       rc_error *err) {
  args a = {0};

  a_text(&a, case_id);
  a_text(&a, reason);
  a_int(&a, spare);
  return exec(PG(s), pg_cancel_deferred_sql, &a, "cancel deferred messages",
              NULL, err);
}

/* A statement a message, queued: a step that writes and does not move its
 * case writes one or two. Naming both tables, it sends the rows this node
 * keeps of them first (rows_write): the case's mover as the batch's
 * earlier steps left it. */
static int op_messages_step(store *s, const char *case_id, const int64_t *ids,
                            int n, int64_t step, rc_error *err) {
  int rc = RC_OK;
  for (int i = 0; i < n && rc == RC_OK; i++) {
    args a = {0};
    a_int(&a, ids[i]);
    a_int(&a, step);
    a_text(&a, case_id);
    rc = exec(PG(s),
              "UPDATE messages SET step = CASE WHEN $2::bigint < 0 THEN "
              "(SELECT mover FROM cases WHERE id = $3) ELSE $2::bigint END "
              "WHERE id = $1 AND case_id = $3",
              &a, "message's step", NULL, err);
  }
  return rc;
}

static int op_task_put(store *s, const store_task *t, int64_t *id,
                       rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, t->case_id);
  a_text(&a, t->kind);
  a_text(&a, t->queue);
  if (t->due)
    a_int(&a, t->due);
  else
    a_text(&a, NULL);
  a_text(&a, t->assignee);
  a_text(&a, t->fields);
  a_text(&a, t->state);
  a_int(&a, t->keep);
  a_int(&a, t->at);
  a_text(&a, t->channel);
  a_real(&a, t->priority);
  PG(s)->tasks_added = 1;
  rc = one(PG(s),
           "INSERT INTO tasks(case_id, kind, queue, due, assignee, status, "
           "fields, state, keep, at, channel, priority) VALUES ($1, $2, $3, "
           "$4, $5, 'open', $6, $7, $8, $9, $10, $11) RETURNING id",
           &a, "create task", &r, err);
  if (id) *id = rc == RC_OK ? int_col(r, 0, 0) : 0;
  if (rc == RC_OK) PQclear(r);
  return rc == RC_ENOTFOUND ? RC_ESTORE : rc;
}

static int op_task_complete(store *s, int64_t id, const char *outcome,
                            const char *result, rc_time at, rc_error *err) {
  args a = {0};
  int64_t n;
  int rc;

  a_int(&a, id);
  a_text(&a, outcome);
  a_text(&a, result);
  a_int(&a, at);
  rc = exec(PG(s),
            "UPDATE tasks SET status = 'done', outcome = $2, result = $3, "
            "completed_at = $4 WHERE id = $1 AND status IN ('open', "
            "'claimed')",
            &a, "complete task", &n, err);
  if (rc == RC_OK && n == 0)
    return rc_error_set(err, RC_ECONFLICT, "task",
                        "task %lld is already closed", (long long)id);
  return rc;
}

static int op_task_take(store *s, int64_t id, const char *user, int how,
                        char *case_id, size_t size, rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  PGresult *r;
  int64_t n;
  int rc, open_;

  if (case_id && size) case_id[0] = '\0';
  a_int(&a, id);
  a_text(&a, user);
  if (how == STORE_TAKE_ASSIGN) {
    rc = exec(st,
              "UPDATE tasks SET assignee = $2, status = 'claimed' WHERE "
              "id = $1 AND status IN ('open', 'claimed')",
              &a, "assign task", &n, err);
    if (rc == RC_OK && n == 0)
      return rc_error_set(err, RC_ECONFLICT, "task", "task %lld is not waiting",
                          (long long)id);
    return rc;
  }
  a.n = 1;
  rc = one(st, "SELECT case_id, status FROM tasks WHERE id = $1", &a,
           "read task", &r, err);
  if (rc == RC_ENOTFOUND)
    return rc_error_set(err, RC_ENOTFOUND, "task", "unknown task %lld",
                        (long long)id);
  if (rc != RC_OK) return rc;
  if (case_id) copy_col(case_id, size, r, 0, 0);
  open_ = strcmp(PQgetvalue(r, 0, 1), "open") == 0;
  PQclear(r);
  if (!open_)
    return rc_error_set(err, RC_ECONFLICT, "task", "task %lld is not open",
                        (long long)id);
  a_text(&a, user);
  rc = exec(st,
            "UPDATE tasks SET status = 'claimed', assignee = $2 WHERE id = $1 "
            "AND status = 'open'",
            &a, "claim task", &n, err);
  /* Another node claimed it between the two statements. */
  if (rc == RC_OK && n == 0)
    return rc_error_set(err, RC_ECONFLICT, "task", "task %lld is not open",
                        (long long)id);
  return rc;
}

static int op_tasks_cancel_scoped(store *s, const char *case_id,
                                  rc_error *err) {
  pg *st = PG(s);
  args a = {0};

  /* A case of the batch's claim that had none: another writer adds a
   * task only in the case's step, which waits for this batch. */
  if (in_batch(st) && !st->tasks_added &&
      !pg_cache_case_tasks(&st->batch, case_id))
    return RC_OK;
  a_text(&a, case_id);
  return exec(st,
              "UPDATE tasks SET status = 'cancelled' WHERE case_id = $1 AND "
              "keep = 0 AND status IN ('open', 'claimed')",
              &a, "cancel tasks", NULL, err);
}

/* In a transaction the node adds a payment to its case's arms in the
 * payment's currency (migration 5: the trigger counts other writers'). */
static int payment_count(pg *st, const char *case_id, rc_money amount,
                         const char *currency, rc_error *err) {
  const int64_t v[4] = {amount, 0, 0, 0};

  return counting(st)
             ? count_add(st, PG_COUNT_PAID, case_id, NULL, currency, v, err)
             : RC_OK;
}

static int op_payment_put(store *s, const char *case_id, rc_money amount,
                          const char *currency, const char *ref, rc_time at,
                          rc_error *err) {
  args a = {0};
  pg *st = PG(s);
  int64_t n;
  int rc;

  a_text(&a, case_id);
  a_int(&a, amount);
  a_text(&a, ref);
  a_int(&a, at);
  a_text(&a, currency);
  /* The engine's way: the ref looked for and not found, the case read,
   * in this transaction. Only another node's payment of that ref,
   * committed since, can make the insert fail; failed() has the
   * transaction run again for it. So it waits for no answer. */
  if (ref && amount > 0 && strcmp(st->unseen_ref, ref) == 0 &&
      strcmp(st->seen_case, case_id) == 0) {
    st->unseen_ref[0] = '\0';
    rc = exec(st,
              "INSERT INTO payments(case_id, amount, ref, at, currency) "
              "VALUES ($1, $2, $3, $4, $5)",
              &a, "record payment", NULL, err);
    return rc == RC_OK ? payment_count(st, case_id, amount, currency, err) : rc;
  }
  rc = exec(st,
            "INSERT INTO payments(case_id, amount, ref, at, currency) VALUES "
            "($1, $2, $3, $4, $5) ON CONFLICT (ref) DO NOTHING",
            &a, "record payment", &n, err);
  if (rc == RC_OK && n == 0)
    return rc_error_set(err, RC_ECONFLICT, "ref",
                        "payment ref '%s' was already received", ref);
  return rc == RC_OK ? payment_count(st, case_id, amount, currency, err) : rc;
}

/* An insert that answers its new id. */
static int insert_id(pg *st, const char *sql, const args *a, const char *what,
                     int64_t *id, rc_error *err) {
  PGresult *r;
  int rc = one(st, sql, a, what, &r, err);

  if (id) *id = rc == RC_OK ? int_col(r, 0, 0) : 0;
  if (rc == RC_OK) PQclear(r);
  return rc == RC_ENOTFOUND ? RC_ESTORE : rc;
}

static int op_promise_put(store *s, const char *case_id, rc_money amount,
                          const char *currency, const char *by_date, rc_time at,
                          int64_t *id, rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  int rc;

  a_text(&a, case_id);
  rc = exec(st,
            "UPDATE promises SET status = 'superseded' WHERE case_id = $1 AND "
            "status = 'open'",
            &a, "supersede promise", NULL, err);
  if (rc != RC_OK) return rc;
  a_int(&a, amount);
  a_text(&a, by_date);
  a_int(&a, at);
  a_text(&a, currency);
  return insert_id(st,
                   "INSERT INTO promises(case_id, amount, by_date, status, at, "
                   "currency) VALUES ($1, $2, $3, 'open', $4, $5) RETURNING id",
                   &a, "record promise", id, err);
}

static int op_promise_update(store *s, int64_t id, rc_money paid,
                             const char *status, rc_error *err) {
  args a = {0};

  a_int(&a, id);
  a_int(&a, paid);
  a_text(&a, status);
  return exec(PG(s), "UPDATE promises SET paid = $2, status = $3 WHERE id = $1",
              &a, "update promise", NULL, err);
}

static int op_promise_user_put(store *s, int64_t promise_id, const char *user,
                               rc_error *err) {
  args a = {0};

  a_int(&a, promise_id);
  a_text(&a, user);
  return exec(PG(s),
              "INSERT INTO figures_promise_users(promise_id, \"user\") VALUES "
              "($1, $2) ON CONFLICT (promise_id) DO UPDATE SET \"user\" = "
              "EXCLUDED.\"user\"",
              &a, "promise taker", NULL, err);
}

static int op_plan_put(store *s, const store_plan *p, int64_t *id,
                       rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  int64_t plan = 0;
  int rc;

  a_text(&a, p->case_id);
  rc = exec(st,
            "UPDATE plans SET status = 'superseded' WHERE case_id = $1 AND "
            "status = 'open'",
            &a, "supersede plan", NULL, err);
  if (rc == RC_OK)
    rc = exec(st,
              "UPDATE installments SET status = 'cancelled' WHERE status IN "
              "('due', 'missed') AND plan_id IN (SELECT id FROM plans WHERE "
              "case_id = $1 AND status = 'superseded')",
              &a, "cancel installments", NULL, err);
  if (rc != RC_OK) return rc;
  a_int(&a, p->total);
  a_int(&a, p->grace_ms);
  a_int(&a, p->at);
  rc = insert_id(st,
                 "INSERT INTO plans(case_id, total, grace, status, at) VALUES "
                 "($1, $2, $3, 'open', $4) RETURNING id",
                 &a, "record plan", &plan, err);
  if (id) *id = plan;
  for (int i = 0; i < p->n && rc == RC_OK; i++) {
    a.n = 0;
    a_int(&a, plan);
    a_int(&a, i + 1);
    a_text(&a, p->items[i].due_date);
    a_int(&a, p->items[i].amount);
    rc = insert_id(st,
                   "INSERT INTO installments(plan_id, seq, due_date, amount, "
                   "status) VALUES ($1, $2, $3, $4, 'due') RETURNING id",
                   &a, "record installment", &p->items[i].id, err);
  }
  return rc;
}

static int op_installment_update(store *s, int64_t id, rc_money paid,
                                 const char *status, rc_error *err) {
  args a = {0};

  a_int(&a, id);
  a_int(&a, paid);
  a_text(&a, status);
  return exec(PG(s),
              "UPDATE installments SET paid = $2, status = $3 WHERE id = $1",
              &a, "update installment", NULL, err);
}

static int op_plan_status(store *s, int64_t plan_id, const char *status,
                          rc_error *err) {
  args a = {0};

  a_int(&a, plan_id);
  a_text(&a, status);
  return exec(PG(s), "UPDATE plans SET status = $2 WHERE id = $1", &a,
              "plan status", NULL, err);
}

static int op_variant_put(store *s, const char *case_id, const char *experiment,
                          const char *arm, rc_error *err) {
  args a = {0};

  a_text(&a, case_id);
  a_text(&a, experiment);
  a_text(&a, arm);
  return exec(PG(s),
              "INSERT INTO variants(case_id, experiment, arm) VALUES ($1, $2, "
              "$3)",
              &a, "record variant", NULL, err);
}

static int op_user_put(store *s, const store_user *u, const char *hash,
                       rc_error *err) {
  args a = {0};
  int64_t n;
  int rc;

  a_text(&a, u->name);
  a_text(&a, u->role);
  a_text(&a, u->queues ? u->queues : "[]");
  a_text(&a, hash);
  a_int(&a, u->created_at);
  a_text(&a, u->display_name);
  rc = exec(PG(s),
            "INSERT INTO users(name, role, queues, password_hash, created_at, "
            "display_name) VALUES ($1, $2, $3, $4, $5, nullif($6, '')) "
            "ON CONFLICT (name) DO NOTHING",
            &a, "add user", &n, err);
  if (rc == RC_OK && n == 0)
    return rc_error_set(err, RC_ECONFLICT, "name", "user %s already exists",
                        u->name);
  return rc;
}

static int op_user_update(store *s, const char *name, int disabled,
                          const char *hash, const char *display,
                          const char *queues, rc_error *err) {
  args a = {0};
  int64_t n = 1;
  int rc = RC_OK;

  a_text(&a, name);
  if (disabled >= 0) {
    a_int(&a, disabled != 0);
    rc = exec(PG(s), "UPDATE users SET disabled = $2 WHERE name = $1", &a,
              "update user", &n, err);
  }
  if (rc == RC_OK && n > 0 && hash) {
    a.n = 1;
    a_text(&a, hash);
    rc = exec(PG(s), "UPDATE users SET password_hash = $2 WHERE name = $1", &a,
              "update user", &n, err);
  }
  if (rc == RC_OK && n > 0 && display) {
    a.n = 1;
    a_text(&a, display);
    rc = exec(PG(s),
              "UPDATE users SET display_name = nullif($2, '') WHERE name = $1",
              &a, "update user", &n, err);
  }
  if (rc == RC_OK && n > 0 && queues) {
    a.n = 1;
    a_text(&a, queues);
    rc = exec(PG(s), "UPDATE users SET queues = $2 WHERE name = $1", &a,
              "update user", &n, err);
  }
  if (rc == RC_OK && n == 0)
    return rc_error_set(err, RC_ENOTFOUND, "name", "no user %s", name);
  return rc;
}

static int op_user_log(store *s, rc_time at, const char *name,
                       const char *change, const char *address, rc_error *err) {
  args a = {0};

  a_int(&a, at);
  a_text(&a, name);
  a_text(&a, change);
  a_text(&a, address && *address ? address : NULL);
  return exec(PG(s),
              "INSERT INTO users_log(at, name, change, address) VALUES ($1, "
              "$2, $3, $4)",
              &a, "users log", NULL, err);
}

static int op_session_put(store *s, const char *id, const char *name,
                          rc_time now, rc_time expires_at, const char *address,
                          rc_error *err) {
  args a = {0};

  a_text(&a, id);
  a_text(&a, name);
  a_int(&a, now);
  a_int(&a, expires_at);
  a_text(&a, address && *address ? address : NULL);
  return exec(PG(s),
              "INSERT INTO sessions(id, name, created_at, last_seen, "
              "expires_at, address) VALUES ($1, $2, $3, $3, $4, $5)",
              &a, "add session", NULL, err);
}

static int op_session_touch(store *s, const char *id, rc_time now,
                            rc_error *err) {
  args a = {0};

  a_text(&a, id);
  a_int(&a, now);
  return exec(PG(s),
              "UPDATE sessions SET last_seen = $2 WHERE id = $1 AND "
              "last_seen < $2",
              &a, "touch session", NULL, err);
}

static int op_sessions_delete(store *s, int which, const char *id,
                              const char *name, rc_time now,
                              rc_time idle_before, int *deleted,
                              rc_error *err) {
  args a = {0};
  int64_t n = 0;
  int rc;

  if (which == STORE_SESSIONS_ONE) {
    a_text(&a, id);
    rc = exec(PG(s), "DELETE FROM sessions WHERE id = $1", &a, "end session",
              &n, err);
  } else if (which == STORE_SESSIONS_OF_USER) {
    a_text(&a, name);
    a_text(&a, id);
    rc = exec(PG(s),
              "DELETE FROM sessions WHERE name = $1 AND id IS DISTINCT FROM "
              "$2::text",
              &a, "end sessions", &n, err);
  } else {
    a_int(&a, now);
    a_int(&a, idle_before);
    rc = exec(PG(s),
              "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen <= $2",
              &a, "end stale sessions", NULL, err);
  }
  if (deleted) *deleted = (int)n;
  return rc;
}

/* One figure's upsert, queued. */
static int fig_put(pg *st, const char *const *key, int64_t n, int64_t amount,
                   rc_error *err) {
  args a = {0};

  for (int k = 0; k < 5; k++) a_text(&a, key[k]);
  a_int(&a, n);
  a_int(&a, amount);
  return exec(st,
              "INSERT INTO figures_days AS f(figure, day, a, b, c, n, amount, "
              "slot) VALUES ($1, $2, left($3, 128), left($4, 128), "
              "left($5, 128), $6, $7, figures_slot()) ON CONFLICT (figure, "
              "day, a, b, c, slot) DO UPDATE SET "
              "n = f.n + EXCLUDED.n, amount = f.amount + EXCLUDED.amount",
              &a, "figures", NULL, err);
}

/* The day's figures summed so far, each one upsert, queued (the
 * transaction's end, a savepoint or a read of them sends them). */
static int figs_write(pg *st, rc_error *err) {
  int rc = RC_OK;

  for (int i = 0; i < st->nfigs && rc == RC_OK; i++) {
    const char *key[5];
    if (st->figs[i].n == 0 && st->figs[i].amount == 0) continue;
    for (int k = 0; k < 5; k++) key[k] = st->figs[i].key[k];
    rc = fig_put(st, key, st->figs[i].n, st->figs[i].amount, err);
  }
  st->nfigs = 0;
  return rc;
}

/* One counter's sums (pg_count), queued. */
/* A kind of counter as an index into the statements that write it. */
static int count_which(int kind) {
  switch (kind) {
    case PG_COUNT_STATE:
      return 0;
    case PG_COUNT_DUE:
      return 1;
    case PG_COUNT_MESSAGE:
      return 2;
    default:
      return 3;
  }
}

static int count_put(pg *st, int kind, const char *key_a, const char *key_b,
                     const char *cur, const int64_t v[4], rc_error *err) {
  static const char *const sql[] = {
      "SELECT figures_state_add($1, $2, $3, $4, $5, $6, $7)",
      "SELECT figures_due_add($1, $2, $3, $4)",
      "INSERT INTO figures_messages AS f VALUES ($1, $2, figures_slot()) "
      "ON CONFLICT (status, slot) DO UPDATE SET "
      "messages = f.messages + EXCLUDED.messages",
      "SELECT figures_arm_money_add($1, $2, $3)"};
  static const int nsums[] = {4, 2, 1, 1};
  int which = count_which(kind);
  args a = {0};

  a_text(&a, key_a);
  if (which == 0) a_text(&a, key_b);
  if (which != 2) a_text(&a, cur ? cur : "");
  for (int i = 0; i < nsums[which]; i++) a_int(&a, v[i]);
  return exec(st, sql[which], &a, "counters", NULL, err);
}

/* The counters summed so far (pg.h), one statement a kind, queued (a
 * group of payments moves as many due dates as payments: a statement
 * each cost the server more than the sums); a sum that came to nothing
 * is not written. */
static int counts_write(pg *st, rc_error *err) {
  /* Each an upsert of all its rows, as figures_state_add and
   * figures_due_add make one a row (a call of them each was a statement
   * of its own on the server, a payment's due date one a payment). The
   * node's keys are distinct (pg_counts_add), as one upsert needs. */
  static const char *const sql[] = {
      "INSERT INTO figures_states AS f(workflow, state, currency, cases, "
      "balance, errors, closed, slot) SELECT w, s, k, n, b, e, c, "
      "figures_slot() FROM unnest($1::text[], $2::text[], $3::text[], "
      "$4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[]) AS u(w, s, "
      "k, n, b, e, c) ON CONFLICT (workflow, state, currency, slot) DO "
      "UPDATE SET cases = f.cases + EXCLUDED.cases, balance = f.balance + "
      "EXCLUDED.balance, errors = f.errors + EXCLUDED.errors, closed = "
      "f.closed + EXCLUDED.closed",
      "INSERT INTO figures_due AS f(due_date, currency, cases, balance, "
      "slot) SELECT d, k, n, b, figures_slot() FROM unnest($1::text[], "
      "$2::text[], $3::bigint[], $4::bigint[]) AS u(d, k, n, b) ON "
      "CONFLICT (due_date, currency, slot) DO UPDATE SET cases = f.cases + "
      "EXCLUDED.cases, balance = f.balance + EXCLUDED.balance",
      "INSERT INTO figures_messages AS f SELECT s, m, figures_slot() FROM "
      "unnest($1::text[], $2::bigint[]) AS u(s, m) ON CONFLICT (status, "
      "slot) DO UPDATE SET messages = f.messages + EXCLUDED.messages",
      /* The arms the cases are in when the sums are written: those the
       * report sums their payments under, each payment's currency apart. */
      "INSERT INTO figures_arms_money AS f SELECT v.experiment, v.arm, "
      "u.cur, sum(u.r)::bigint, figures_slot() FROM unnest($1::text[], "
      "$2::text[], $3::bigint[]) AS u(k, cur, r) JOIN variants v ON "
      "v.case_id = u.k GROUP BY 1, 2, 3 ON CONFLICT (experiment, arm, "
      "currency, slot) DO UPDATE SET recovered = f.recovered + "
      "EXCLUDED.recovered"};
  static const int ncols[] = {7, 4, 2, 3};
  static const unsigned types[][7] = {
      {PG_TEXT, PG_TEXT, PG_TEXT, PG_INT8, PG_INT8, PG_INT8, PG_INT8},
      {PG_TEXT, PG_TEXT, PG_INT8, PG_INT8},
      {PG_TEXT, PG_INT8},
      {PG_TEXT, PG_TEXT, PG_INT8}};
  int rc = RC_OK;

  for (int which = 0; which < 4 && rc == RC_OK; which++) {
    pg_rows rows = {.ncols = ncols[which]};
    char *cols[7] = {0};
    args a = {0};
    for (int i = 0; i < st->counts.n && rc == RC_OK; i++) {
      const pg_count *k = &st->counts.v[i];
      args row = {0};
      if (count_which(k->kind) != which ||
          !(k->v[0] || k->v[1] || k->v[2] || k->v[3]))
        continue;
      a_text(&row, k->a);
      if (which == 0) a_text(&row, k->b);
      if (which != 2) a_text(&row, k->cur);
      for (int v = 0; row.n < ncols[which]; v++) a_int(&row, k->v[v]);
      if (pg_rows_add(&rows, row.v) != 0)
        rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    }
    int why = rc == RC_OK && rows.n
                  ? a_rows(&a, &rows, types[which], NULL, cols)
                  : 0;
    if (why != 0) rc = a_rows_failed(why, err);
    if (rc == RC_OK && rows.n)
      rc = exec(st, sql[which], &a, "counters", NULL, err);
    for (int c = 0; c < ncols[which]; c++) free(cols[c]);
    pg_rows_free(&rows);
  }
  st->counts.n = 0;
  return rc;
}

/* Adds to a counter, writing what is summed when the list is full; a
 * key too long to keep is written alone. */
static int count_add(pg *st, int kind, const char *a, const char *b,
                     const char *cur, const int64_t v[4], rc_error *err) {
  st->changes++;
  if (pg_counts_add(&st->counts, kind, a, b, cur, v)) return RC_OK;
  if (counts_write(st, err) != RC_OK) return RC_ESTORE;
  if (pg_counts_add(&st->counts, kind, a, b, cur, v)) return RC_OK;
  return count_put(st, kind, a, b, cur, v, err);
}

/* In a transaction, summed in memory (two upserts a reminder were a fifth
 * of its time on the server) and written once before it commits, as the
 * SQLite store does; a figure with a part too long to keep goes at once.
 * A zero adds nothing (and makes no row, as SQLite's sums do not). */
static int op_figure_add(store *s, const char *figure, const char *day,
                         const char *a_, const char *b, const char *c,
                         int64_t n, int64_t amount, rc_error *err) {
  pg *st = PG(s);
  const char *parts[5] = {figure, day, a_ ? a_ : "", b ? b : "", c ? c : ""};
  char key[5][FIG_PART] = {{0}};
  int i;

  if (n == 0 && amount == 0) return RC_OK;
  st->changes++;
  if (st->base.depth == 0 || st->manual)
    return fig_put(st, parts, n, amount, err);
  for (int k = 0; k < 5; k++) {
    if (strlen(parts[k]) >= FIG_PART) return fig_put(st, parts, n, amount, err);
    strcpy(key[k], parts[k]);
  }
  for (i = 0; i < st->nfigs && memcmp(st->figs[i].key, key, sizeof key); i++)
    ;
  if (i == st->nfigs) {
    if (st->nfigs == FIGS_MAX && figs_write(st, err) != RC_OK) return RC_ESTORE;
    i = st->nfigs++;
    memcpy(st->figs[i].key, key, sizeof key);
    st->figs[i].n = st->figs[i].amount = 0;
  }
  st->figs[i].n += n;
  st->figs[i].amount += amount;
  return RC_OK;
}

static int op_roll_log(store *s, const char *month, const char *case_id,
                       const char *due_date, int status, const char *now_due,
                       int now_status, const char *opened, rc_error *err) {
  args a = {0};

  a_text(&a, month);
  a_text(&a, case_id);
  a_text(&a, due_date);
  a_int(&a, status);
  a_text(&a, now_due);
  a_int(&a, now_status);
  a_text(&a, opened);
  return exec(PG(s),
              "INSERT INTO figures_roll_log(month, case_id, due_date, status, "
              "now_due, now_status, opened) VALUES ($1, $2, $3, $4, $5, $6, "
              "$7) ON CONFLICT (case_id, month) DO UPDATE SET now_due = "
              "EXCLUDED.now_due, now_status = EXCLUDED.now_status",
              &a, "roll log", NULL, err);
}

static int op_roll_put(store *s, const char *month, int from, int to,
                       int64_t cases, rc_error *err) {
  args a = {0};

  a_text(&a, month);
  a_int(&a, from);
  a_int(&a, to);
  a_int(&a, cases);
  return exec(PG(s),
              "INSERT INTO figures_rolls(month, from_bucket, to_bucket, cases) "
              "VALUES ($1, $2, $3, $4) ON CONFLICT (month, from_bucket, "
              "to_bucket) DO UPDATE SET cases = EXCLUDED.cases",
              &a, "roll rates", NULL, err);
}

static int op_rolls_forget(store *s, const char *before, rc_error *err) {
  args a = {0};

  a_text(&a, before);
  return exec(PG(s), "DELETE FROM figures_roll_log WHERE month < $1", &a,
              "roll log", NULL, err);
}

/* --- reads ------------------------------------------------------------------
 */

/* Text is ordered by its bytes, as SQLite orders it, whatever collation
 * the database was made with: reports and pages come out in the same
 * order on both stores. */
#define C " COLLATE \"C\""

#define MESSAGE_COLS                                                      \
  "id, case_id AS \"case\", borrower_id AS borrower, channel, template, " \
  "recipient AS \"to\", to_kind, body, status, reason, at, not_before"
#define TASK_COLS                                                          \
  "id, case_id AS \"case\", kind, queue, due, assignee, status, outcome, " \
  "at, completed_at, fields, result, priority"
/* A journal row out of its run (r, e(v, i)): the journal view's columns. */
#define JOURNAL_COLS                                                     \
  "r.id + e.i - 1 AS id, (e.v ->> 3)::bigint AS at, e.v ->> 0 AS kind, " \
  "e.v ->> 1 AS state, (e.v ->> 2)::bigint AS version, "                 \
  "nullif((e.v -> 4)::text, 'null') AS detail"
#define JOURNAL_FROM                                                         \
  " FROM journal_runs r, json_array_elements(r.rows::json) WITH ORDINALITY " \
  "e(v, i)"

/* A case a named agent may see (sqlite.c's VISIBLE): Q the agent's queues
 * (a JSON array), U the agent, S since when its own done tasks count. */
#define VISIBLE(case_, Q, U, S)                               \
  "EXISTS (SELECT 1 FROM tasks v WHERE v.case_id = " case_    \
  " AND "                                                     \
  "((v.status IN ('open', 'claimed') AND v.queue IN (SELECT " \
  "json_array_elements_text(" Q                               \
  "::json))) OR (v.status = 'done' AND "                      \
  "v.assignee = " U "::text AND v.completed_at >= " S "::bigint)))"

static void a_scope(args *a, const store_scope *scope) {
  a_text(a, scope ? scope->queues : NULL);
  a_text(a, scope ? scope->user : NULL);
  a_int(a, scope ? scope->since : 0);
}

void pg_read_case(const PGresult *r, int row, int col, store_case *out) {
  out->id = dup_col(r, row, col);
  out->borrower_id = dup_col(r, row, col + 1);
  out->workflow = dup_col(r, row, col + 2);
  out->version = (int)int_col(r, row, col + 3);
  out->state = dup_col(r, row, col + 4);
  out->closed = (int)int_col(r, row, col + 5);
  out->outcome = dup_col(r, row, col + 6);
  out->error = dup_col(r, row, col + 7);
  out->product = dup_col(r, row, col + 8);
  out->currency = dup_col(r, row, col + 9);
  out->principal = int_col(r, row, col + 10);
  out->balance = int_col(r, row, col + 11);
  out->amount_due = int_col(r, row, col + 12);
  out->fees = int_col(r, row, col + 13);
  out->due_date = dup_col(r, row, col + 14);
  out->opened_at = int_col(r, row, col + 15);
  out->has_score = !PQgetisnull(r, row, col + 16);
  out->score = out->has_score ? strtod(PQgetvalue(r, row, col + 16), NULL) : 0;
  out->tags = dup_col(r, row, col + 17);
  out->data = dup_col(r, row, col + 18);
  out->queue = dup_col(r, row, col + 19);
  out->on_hold = (int)int_col(r, row, col + 20);
  out->overpaid = int_col(r, row, col + 21);
  out->reduced = int_col(r, row, col + 22);
}

static int op_case_exists(store *s, const char *id, rc_error *err);

/* How a case is read: as it is, held until the transaction ends (FOR NO
 * KEY UPDATE), or held unless another transaction holds it (*busy). */
enum { CASE_READ, CASE_HOLD, CASE_TRY_HOLD };

/* A case read, held as asked; one the batch's claim read is held already.
 * Trying, a case another transaction holds is no row: *busy when it is
 * there all the same, and nothing read. */
static const char *const case_sql[] = {
    "SELECT " PG_CASE_COLS " FROM cases WHERE id = $1",
    "SELECT " PG_CASE_COLS " FROM cases WHERE id = $1 FOR NO KEY UPDATE",
    "SELECT " PG_CASE_COLS
    " FROM cases WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED"};

/* A case's open promise and its open plan's unpaid installments, in
 * read_installment's columns then a kind ('p' the promise, by_date in
 * due_date's place; 'i' an installment): promise_and_unpaid. */
static const char promise_unpaid_sql[] =
    "(SELECT id, NULL::bigint, NULL::integer, by_date, amount, paid, "
    "status, 'p' FROM promises WHERE case_id = $1 AND status = 'open' "
    "ORDER BY id DESC LIMIT 1) UNION ALL "
    "SELECT i.id, i.plan_id, i.seq, i.due_date, i.amount, i.paid, "
    "i.status, 'i' FROM installments i JOIN plans p ON p.id = i.plan_id "
    "WHERE p.case_id = $1 AND p.status = 'open' AND i.paid < i.amount "
    "AND i.status IN ('due', 'missed') ORDER BY 8 DESC, 3";

static const char payment_ref_sql[] =
    "SELECT case_id, amount, currency FROM payments WHERE ref = $1";

static int case_get(store *s, const char *id, int how, store_case *out,
                    int *busy, rc_error *err) {
  args a = {0};
  PGresult *r;
  pg_case_count k;
  int rc;

  memset(out, 0, sizeof *out);
  if (busy) *busy = 0;
  if (!pg_cache_case(&PG(s)->batch, id, out)) {
    a_text(&a, id);
    if (how == CASE_TRY_HOLD && PG(s)->case_ahead &&
        strcmp(PG(s)->case_id_ahead, id) == 0) {
      r = PG(s)->case_ahead; /* read and held with the statement before */
      PG(s)->case_ahead = NULL;
      rc = PQntuples(r) > 0 ? RC_OK : RC_ENOTFOUND;
      if (rc != RC_OK) PQclear(r);
    } else {
      rc = one(PG(s), case_sql[PG(s)->base.depth > 0 ? how : CASE_READ], &a,
               "read case", &r, err);
    }
    if (rc == RC_ENOTFOUND && how == CASE_TRY_HOLD && PG(s)->base.depth > 0 &&
        (rc = op_case_exists(s, id, err)) == RC_OK) {
      *busy = 1;
      return RC_OK;
    }
    if (rc == RC_ENOTFOUND)
      return rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", id);
    if (rc != RC_OK) return rc;
    pg_read_case(r, 0, 0, out);
    PQclear(r);
    /* Held, it stays as read until this node writes it: its write then
     * moves the counters from here, not by a look of the server's. */
    if (how != CASE_READ && PG(s)->base.depth > 0 && counting(PG(s)) &&
        pg_case_count_of(out, &k))
      case_keep(PG(s), id, &k);
  }
  if (PG(s)->base.depth > 0 && strlen(id) < sizeof PG(s)->seen_case)
    strcpy(PG(s)->seen_case, id);
  return RC_OK;
}

static int op_case_get(store *s, const char *id, store_case *out,
                       rc_error *err) {
  return case_get(s, id, CASE_READ, out, NULL, err);
}

static int op_case_get_held(store *s, const char *id, store_case *out,
                            rc_error *err) {
  return case_get(s, id, CASE_HOLD, out, NULL, err);
}

static int op_case_try_hold(store *s, const char *id, store_case *out,
                            int *busy, rc_error *err) {
  return case_get(s, id, CASE_TRY_HOLD, out, busy, err);
}

/* The case's hold and promise read ahead with its group (op_pays_ahead),
 * made the ones op_case_ahead would have sent: 1, or 0 when it has none
 * (or another hold waits for its answer). */
static int pay_take(pg *st, const char *id) {
  for (int k = 0; k < st->npays && !st->case_at; k++) {
    pay_ahead *e = &st->pays[k];
    if (e->taken || strcmp(e->case_id, id) != 0) continue;
    e->taken = 1;
    case_ahead_drop(st);
    promise_ahead_drop(st);
    strcpy(st->case_id_ahead, id);
    st->case_at = e->case_at;
    st->case_ahead = e->hold;
    strcpy(st->promise_case, id);
    st->promise_at = e->promise_at;
    st->promise_ahead = e->promise;
    e->hold = e->promise = NULL;
    e->case_at = e->promise_at = 0;
    st->pay_cur = k;
    return 1;
  }
  return 0;
}

/* Sends case_get's try-hold of id to go with the statement that follows
 * (a payment's ref, which waits for its answer): a round trip a payment
 * fewer. Not in a batch's claimed cases (read already), nor beside a
 * borrower read ahead (whose place in the pipeline comes first). */
static void op_case_ahead(store *s, const char *id) {
  pg *st = PG(s);
  args a = {0};
  rc_error err;
  int row;

  st->pay_cur = -1;
  if (pay_take(st, id)) return;
  if (st->base.depth == 0 || st->manual || st->ahead_at || st->case_at ||
      st->npend + 6 > PIPE_MAX || /* the hold, the promise, the ref */
      strlen(id) >= sizeof st->case_id_ahead ||
      pg_cache_case_row(&st->batch, id, &row))
    return;
  a_text(&a, id);
  if (pipe_send(st, case_sql[CASE_TRY_HOLD], &a, "read case", &err) != 0)
    return; /* the statement that follows meets the same trouble */
  st->case_at = st->npend;
  strcpy(st->case_id_ahead, id);
  /* After the hold: what it reads is what the payment's allocation
   * changes, and no one else may change it now. */
  if (pipe_send(st, promise_unpaid_sql, &a, "promise", &err) != 0) return;
  st->promise_at = st->npend;
  strcpy(st->promise_case, id);
}

/* Sends, for each payment of a group in its order, what its job reads
 * before it writes: its case's hold and promise (op_case_ahead) and its
 * ref's look-up; the first job's look-up waits for them all, a round
 * trip a group where there was one a payment. Each is read before any
 * job of the group writes: the caller names payments of distinct cases
 * and refs, and no other write goes before them; a case or ref named
 * twice is read by its own job, as is any past the pipeline's room. A
 * group run again checked reads each job's as it comes. */
static void op_pays_ahead(store *s, int n, const char *const *cases,
                          const char *const *refs) {
  pg *st = PG(s);
  rc_error err;

  if (st->base.depth == 0 || st->manual || st->base.checked || st->ahead_at ||
      st->case_at || st->npays)
    return;
  for (int i = 0; i < n && st->npays < PAYS_AHEAD_MAX; i++) {
    pay_ahead *e = &st->pays[st->npays];
    args a = {0}, b = {0};
    int row, twice = 0;
    if (!cases[i] || !refs[i] || strlen(cases[i]) >= sizeof e->case_id ||
        strlen(refs[i]) >= sizeof e->ref ||
        pg_cache_case_row(&st->batch, cases[i], &row))
      continue;
    for (int k = 0; k < st->npays; k++)
      twice |= !strcmp(st->pays[k].case_id, cases[i]) ||
               !strcmp(st->pays[k].ref, refs[i]);
    if (twice) continue;
    /* Room for them, prepared, and for what the jobs queue before the
     * first waits (pipe_send reads the pipeline when it is full). */
    if (st->npend + 6 + 16 > PIPE_MAX) break;
    memset(e, 0, sizeof *e);
    strcpy(e->case_id, cases[i]);
    strcpy(e->ref, refs[i]);
    st->npays++;
    a_text(&a, cases[i]);
    a_text(&b, refs[i]);
    if (pipe_send(st, case_sql[CASE_TRY_HOLD], &a, "read case", &err) != 0)
      return; /* the job's own read meets the same trouble */
    e->case_at = st->npend;
    if (pipe_send(st, promise_unpaid_sql, &a, "promise", &err) != 0) return;
    e->promise_at = st->npend;
    if (pipe_send(st, payment_ref_sql, &b, "read payment", &err) != 0)
      return;
    e->ref_at = st->npend;
  }
}

/* The ref looked up ahead for the payment whose case op_case_ahead took
 * last: 1 with *out its rows (none: not found), 0 when there is none
 * for ref, -1 when the round trip that reads it failed (err set). */
static int pay_found(pg *st, const char *ref, PGresult **out,
                     rc_error *err) {
  pay_ahead *e;

  *out = NULL;
  if (st->pay_cur < 0 || st->pay_cur >= st->npays) return 0;
  e = &st->pays[st->pay_cur];
  st->pay_cur = -1;
  if (strcmp(e->ref, ref) != 0) return 0;
  if (e->ref_at && pipe_sync(st, NULL, err) != RC_OK) {
    lost(st);
    return -1;
  }
  if (!e->found) return 0;
  *out = e->found;
  e->found = NULL;
  return 1;
}

static int op_case_exists(store *s, const char *id, rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, id);
  rc = one(PG(s), "SELECT 1 FROM cases WHERE id = $1", &a, "look up case", &r,
           err);
  if (rc == RC_OK) PQclear(r);
  if (rc == RC_ENOTFOUND)
    rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", id);
  return rc;
}

static int op_case_mover(store *s, const char *id, int64_t message,
                         int64_t *mover, int64_t *waits_on, rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, id);
  a_int(&a, message);
  rc = one(PG(s),
           "SELECT c.mover, (SELECT m.step FROM messages m WHERE m.id = $2) "
           "FROM cases c WHERE c.id = $1",
           &a, "read case", &r, err);
  *mover = rc == RC_OK ? int_col(r, 0, 0) : 0;
  *waits_on = rc == RC_OK ? int_col(r, 0, 1) : 0;
  if (rc == RC_OK) PQclear(r);
  if (rc == RC_ENOTFOUND)
    rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", id);
  return rc;
}

/* The right to open cases, until the transaction ends: one advisory lock
 * for all ids, not one an id (a lock an id filled the server's lock table
 * at ~12,800 new cases in one import: "out of shared memory"). Taken
 * once a transaction (opening_at): a savepoint rolled back lets go of
 * one it took (PostgreSQL 15: pg_locks shows none after ROLLBACK TO),
 * not of one taken before it. Outside a transaction there is nothing to
 * hold.
 * It is the book's, that is the schema's (as PG_SLOT_KEY): imports into
 * two schemas' books of one database waited for each other. A recoup
 * before session 23 takes hashtext('recoup.case') whole, whatever the
 * schema; this one takes that key shared, then its book's key whole: it
 * still waits for such a recoup opening cases (two openers of one case
 * would otherwise meet at its key and fail), and two of this one's in
 * two schemas do not wait. Always in that order (the sub-select's first),
 * so that no two openers wait for each other. */
#define OPENING_OLD "hashtext('recoup.case'), 0"
#define OPENING_BOOK \
  "hashtext('recoup.case ' || coalesce(current_schema(), '')), 0"
static int op_hold_opening(store *s, rc_error *err) {
  pg *st = PG(s);
  int rc;

  if (st->base.depth == 0 && !st->manual) return RC_OK;
  /* Held already: taking it again was a round trip for nothing (an
   * import's every new case). */
  if (st->opening_at && !st->manual) return RC_OK;
  rc = exec(st,
            "SELECT pg_advisory_xact_lock(" OPENING_BOOK
            ") FROM (SELECT "
            "pg_advisory_xact_lock_shared(" OPENING_OLD ") OFFSET 0) o",
            NULL, "hold the opening of cases", NULL, err);
  if (rc == RC_OK && !st->manual) st->opening_at = st->base.depth;
  return rc;
}

/* The same without waiting: *busy when another transaction holds it. The
 * book's key is not tried unless the old one was taken (CASE's order). */
static int try_hold_opening(pg *st, int *busy, rc_error *err) {
  PGresult *r;
  int rc;

  *busy = 0;
  if (st->opening_at) return RC_OK;
  rc = one(st,
           "SELECT CASE WHEN pg_try_advisory_xact_lock_shared(" OPENING_OLD
           ") THEN pg_try_advisory_xact_lock(" OPENING_BOOK ") ELSE false END",
           NULL, "hold the opening of cases", &r, err);
  if (rc != RC_OK) return rc;
  *busy = strcmp(PQgetvalue(r, 0, 0), "t") != 0;
  if (!*busy) st->opening_at = st->base.depth;
  PQclear(r);
  return RC_OK;
}

/* A case not found may be one another writer (a node, an import) is
 * opening now, uncommitted: opening it here too would wait for that
 * writer and then fail on the key, where SQLite's one writer finds the
 * case and updates it. So a writer that will open the case it does not
 * find holds the opening of cases and looks again: the second of two
 * openers waits for the first and finds its case (READ COMMITTED: a new
 * statement sees the commit). A mere lookup (an event, a reply to an
 * unknown id) never waits so: op_case_exists. */
static int op_case_exists_or_hold_opening(store *s, const char *id,
                                          rc_error *err) {
  /* Held before the look: no other opener can have come between. */
  int held = PG(s)->opening_at != 0, rc = op_case_exists(s, id, err);

  if (rc == RC_ENOTFOUND && !held &&
      PQtransactionStatus(PG(s)->c) == PQTRANS_INTRANS &&
      (rc = op_hold_opening(s, err)) == RC_OK)
    rc = op_case_exists(s, id, err);
  return rc;
}

/* The same for a service's write, which the node sets aside while
 * another writer (an import, another node's group) opens cases. */
static int op_case_exists_or_try_opening(store *s, const char *id, int *busy,
                                         rc_error *err) {
  int held = PG(s)->opening_at != 0, rc = op_case_exists(s, id, err);

  *busy = 0;
  if (rc == RC_ENOTFOUND && !held &&
      PQtransactionStatus(PG(s)->c) == PQTRANS_INTRANS &&
      (rc = try_hold_opening(PG(s), busy, err)) == RC_OK)
    rc = *busy ? RC_OK : op_case_exists(s, id, err);
  return rc;
}

void pg_read_borrower(const PGresult *r, int row, int col,
                      store_borrower *out) {
  out->id = dup_col(r, row, col);
  out->name = dup_col(r, row, col + 1);
  out->locale = dup_col(r, row, col + 2);
  out->timezone = dup_col(r, row, col + 3);
  out->address = dup_col(r, row, col + 4);
  out->employer_name = dup_col(r, row, col + 5);
  out->employer_phone = dup_col(r, row, col + 6);
  out->employer_address = dup_col(r, row, col + 7);
  out->do_not_contact = (int)int_col(r, row, col + 8);
  out->ceased = (int)int_col(r, row, col + 9);
  out->area = dup_col(r, row, col + 10);
}

static const char borrower_sql[] =
    "SELECT " PG_BORROWER_COLS ", k.kind, k.value, k.name, k.relation "
    "FROM borrowers b LEFT JOIN contacts k ON k.borrower_id = b.id "
    "WHERE b.id = $1 ORDER BY k.position";

/* $1 borrowers, $2 their ceased and $3 their do_not_contact as the guard
 * decided: a difference is a failed cast (22P02), which failed() takes
 * for a conflict. A missing borrower passes: the guard read none. Each
 * is looked up by its key (OFFSET 0): as a join, PostgreSQL read every
 * borrower of the book to hash them against the 16 at each read ahead. */
#define CHECK_EXPR                                                          \
  "(SELECT bool_and(CASE WHEN b.ceased = u.c AND b.do_not_contact = u.d "   \
  "THEN true ELSE ('changed: ' || b.id)::int::bool END) FROM "              \
  "(SELECT unnest($1::text[]) AS i, unnest($2::integer[]) AS c, "           \
  "unnest($3::integer[]) AS d) AS u "                                       \
  "CROSS JOIN LATERAL (SELECT * FROM borrowers b WHERE b.id = u.i "         \
  "OFFSET 0) b)"
static const char check_sql[] = "SELECT " CHECK_EXPR;

/* The borrowers read ahead ($4, each once), each one's rows together,
 * carrying the check of the guard's decisions since the last. Each is
 * looked up by its key (OFFSET 0 keeps the look-ups apart): on a book
 * not yet analysed, "b.id = ANY($4)" read every borrower and contact
 * for each read, 5 times the work of 16 look-ups at 5,000 cases. */
const char pg_borrowers_ahead_sql[] =
    "SELECT " PG_BORROWER_COLS ", k.kind, k.value, k.name, k.relation "
    "FROM (SELECT unnest($4::text[]) AS id) AS w CROSS JOIN LATERAL "
    "(SELECT * FROM "
    "borrowers b WHERE b.id = w.id OFFSET 0) b LEFT JOIN LATERAL (SELECT * "
    "FROM contacts k WHERE k.borrower_id = b.id OFFSET 0) k ON true "
    "WHERE coalesce(" CHECK_EXPR ", true) ORDER BY b.id, k.position";

/* How many reminders' borrowers one read ahead brings: a statement each
 * cost the server more than its rows (waking for it, planning and
 * starting its plan, ending it), and a read one step early as much as a
 * read a few steps early (what the guard decides on is checked later,
 * op_borrower_decided). At 16 the reads were four in five of a sweep's
 * statements. As many as the rows sent early (ROWS_EARLY): the steps'
 * rows go after each read, so the server writes them while the node
 * runs the next steps; at half as many, every other read went alone and
 * the server waited while the node ran those steps (and the reads cost
 * it 1.2 % more a reminder). A write refused fails the batch at the next
 * read, not only at its commit. A step finds its rows by halving the
 * read (ahead_first), so more read ahead costs the node no more. */
enum { BORROWERS_AHEAD = 128 };

/* The checks' three parameters, in a (malloc'd into arr): 0, or -1 when
 * memory ran out. */
static int checks_args(pg *st, args *a, char *arr[3]) {
  static const unsigned types[3] = {PG_TEXT, PG_INT4, PG_INT4};
  return a_rows(a, &st->checks, types, NULL, arr);
}

/* The guard's decisions' check, by itself (the commit's, or when many
 * wait). */
static int check_send(pg *st, rc_error *err) {
  args a = {0};
  char *arr[3] = {0};
  int rc;

  if (!st->checks.n) return RC_OK;
  if ((rc = checks_args(st, &a, arr)) != 0)
    rc = a_rows_failed(rc, err);
  else if (pipe_send(st, check_sql, &a, borrower_changed, err) != 0) {
    settle(st, NULL);
    lost(st);
    rc = RC_ESTORE;
  } else {
    /* Carried before its answer can be read (queue's settle would). */
    checks_carried(st);
    rc = st->npend >= PIPE_MAX ? settle(st, err) : RC_OK;
  }
  for (int c = 0; c < 3; c++) free(arr[c]);
  return rc;
}

/* The guard decided on b's flags as read; a read ahead is older than the
 * decision, so they are checked where they are now, later than any read
 * of this transaction, without waiting: with the next read ahead, else at
 * the commit. A borrower decided on again the same needs one check. */
enum { CHECKS_MAX = 64 };
static int op_borrower_decided(store *s, const store_borrower *b,
                               rc_error *err) {
  pg *st = PG(s);
  char ceased[16], dnc[16];
  const char *cols[3] = {b->id, ceased, dnc};

  /* Outside the engine's transaction it was read and decided at once. */
  if (st->base.depth == 0 || st->manual) return RC_OK;
  snprintf(ceased, sizeof ceased, "%d", b->ceased);
  snprintf(dnc, sizeof dnc, "%d", b->do_not_contact);
  for (int r = 0; r < st->checks.n; r++) {
    char **row = &st->checks.v[r * 3];
    if (!strcmp(row[0], b->id) && !strcmp(row[1], ceased) &&
        !strcmp(row[2], dnc))
      return RC_OK;
  }
  if (st->checks.n >= CHECKS_MAX && check_send(st, err) != RC_OK)
    return RC_ESTORE;
  if (pg_rows_add(&st->checks, cols) != 0)
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  return RC_OK;
}

/* After a step's borrower read, sends the read of the borrowers of the
 * claim's next reminders, unless read already, not waiting for it: the
 * server answers it while this node runs the step, and the next steps
 * find them read. A reminder so reads its borrower a few steps early (a
 * batch's messages wait for its commit); the guard's decision on it is
 * checked later (op_borrower_decided), so a cease or do-not-contact
 * another node records meanwhile still stops its message. */
static int borrower_ahead(pg *st, rc_error *err) {
  pg_rows ids = {.ncols = 1};
  args a = {0};
  char *arr[4] = {0};
  int row, end, rc = RC_OK;

  if (!in_batch(st) || st->npend + 2 > PIPE_MAX ||
      (row = pg_cache_timer_row(&st->batch, st->step_timer)) < 0)
    return RC_OK;
  if (++row >= st->ahead_from && row < st->ahead_to) return RC_OK;
  ahead_drop(st);
  for (end = row; end < row + BORROWERS_AHEAD &&
                  end < pg_cache_rows(&st->batch);
       end++) {
    const char *id = pg_cache_borrower_at(&st->batch, end);
    if (id && pg_rows_put(&ids, &id) != 0) goto out; /* each once */
  }
  if (!ids.n || checks_args(st, &a, arr) != 0 ||
      a_rows(&a, &ids, (const unsigned[]){PG_TEXT}, NULL, &arr[3]) != 0)
    goto out;
  if (pipe_send(st, pg_borrowers_ahead_sql, &a, borrower_changed, NULL) != 0)
    goto out;
  checks_carried(st);
  st->ahead_from = row;
  st->ahead_to = end;
  st->ahead_at = st->npend;
  /* The rows the steps before kept go after it, not waiting: the server
   * writes them while this node runs the next steps. Kept to the commit,
   * the server wrote a batch's rows while the node waited, and the node
   * ran the batch's steps while the server had little to do: the two
   * took turns on two cores. After the read, not before it: this node
   * reads it some steps on, and the server then still has these rows to
   * write while the node goes on. A refusal fails the batch at the next
   * statement that waits, as one at the commit fails it there. */
  if (st->kept[KEPT_ENDS].n >= ROWS_EARLY && rows_write(st, NULL, err) != 0)
    rc = RC_ESTORE;
  /* The server answers what it has now, not at the next sync. */
  else if (!PQsendFlushRequest(st->c) || PQflush(st->c) != 0)
    ahead_drop(st);
out:
  for (int c = 0; c < 4; c++) free(arr[c]);
  pg_rows_free(&ids);
  return rc;
}

/* The first row of id's in r, the borrowers read ahead, or PQntuples
 * when none. They come in their ids' byte order (ORDER BY b.id, COLLATE
 * "C" since schema 11, as strcmp orders them): looked for halving the
 * rows, where a walk from the first row cost the node as much a step as
 * the rows read ahead (a strcmp each). Not found so, the rows are walked
 * all the same: an order unlike strcmp's finds each borrower still. */
static int ahead_first(const PGresult *r, const char *id) {
  int lo = 0, hi = PQntuples(r), n = hi;

  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (strcmp(PQgetvalue(r, mid, 0), id) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo < n && !strcmp(PQgetvalue(r, lo, 0), id)) return lo;
  for (lo = 0; lo < n && strcmp(PQgetvalue(r, lo, 0), id) != 0; lo++)
    ;
  return lo;
}

/* The borrowers read ahead, if this step's is among them: their rows,
 * id's being [*from, *to), or NULL (err set when reading them failed: r
 * is then NULL too). The rows stay the store's. */
static PGresult *borrower_read_ahead(pg *st, const char *id, int *from,
                                     int *to, int *rc, rc_error *err) {
  int row;

  *rc = RC_OK;
  if (!st->ahead_to) return NULL;
  row = pg_cache_timer_row(&st->batch, st->step_timer);
  if (row < st->ahead_from || row >= st->ahead_to) { /* not for this step */
    ahead_drop(st);
    return NULL;
  }
  if (st->ahead_at && (*rc = pipe_read_ahead(st, err)) != RC_OK) {
    ahead_drop(st);
    /* The rest is read to its end: the server takes no ROLLBACK while
     * the pipeline is aborted, and none may be queued when it is all. */
    pipe_sync(st, NULL, NULL);
    return NULL;
  }
  if (!st->ahead) return NULL;
  *from = ahead_first(st->ahead, id);
  for (*to = *from; *to < PQntuples(st->ahead) &&
                    !strcmp(PQgetvalue(st->ahead, *to, 0), id);
       ++*to)
    ;
  return *to > *from ? st->ahead : NULL;
}

/* out from a borrower's rows [from, to) of r (one a contact, or one with
 * none). */
static int borrower_of(const PGresult *r, int from, int to,
                       store_borrower *out, rc_error *err) {
  pg_read_borrower(r, from, 0, out);
  if (!PQgetisnull(r, from, 11)) {
    out->contacts = calloc((size_t)(to - from), sizeof *out->contacts);
    if (!out->contacts) {
      store_borrower_free(out);
      return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    }
    for (int i = from; i < to; i++) {
      store_contact *k = &out->contacts[out->ncontacts++];
      k->kind = dup_col(r, i, 11);
      k->value = dup_col(r, i, 12);
      k->name = dup_col(r, i, 13);
      k->relation = dup_col(r, i, 14);
    }
  }
  return RC_OK;
}

static int op_borrower_get(store *s, const char *id, store_borrower *out,
                           rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  PGresult *r, *own = NULL;
  int rc, from = 0, to = 0;

  memset(out, 0, sizeof *out);
  a_text(&a, id);
  r = borrower_read_ahead(st, id, &from, &to, &rc, err);
  if (rc != RC_OK) return rc;
  if (!r && (r = own = run(st, borrower_sql, &a, "read borrower", err)))
    to = PQntuples(r);
  if (!r) return RC_ESTORE;
  rc = to > from ? borrower_of(r, from, to, out, err)
                 : rc_error_set(err, RC_ENOTFOUND, "borrower",
                                "unknown borrower %s", id);
  PQclear(own);
  /* After: it may replace the rows read. */
  if (borrower_ahead(st, rc == RC_OK ? err : NULL) != RC_OK && rc == RC_OK) {
    /* A failed answer owns nothing, as the contract's other failures. */
    store_borrower_free(out);
    rc = RC_ESTORE;
  }
  return rc;
}

static int op_read_case_rows(store *s, int which, const char *id,
                             store_row_fn fn, void *ud, rc_error *err) {
  pg *st = PG(s);
  args a = {0};

  if (id) a_text(&a, id);
  switch (which) {
    case STORE_ROWS_MESSAGES:
      return rows(st,
                  id ? "SELECT " MESSAGE_COLS
                       " FROM messages WHERE case_id = "
                       "$1 ORDER BY id"
                     : "SELECT " MESSAGE_COLS " FROM messages ORDER BY id",
                  &a, fn, ud, "messages", err);
    case STORE_ROWS_TASKS:
      return rows(st,
                  id ? "SELECT " TASK_COLS
                       " FROM tasks WHERE case_id = $1 "
                       "ORDER BY id"
                     : "SELECT " TASK_COLS " FROM tasks ORDER BY id",
                  &a, fn, ud, "tasks", err);
    case STORE_ROWS_TIMERS:
      return rows(st,
                  "SELECT id, event, due, data, scoped FROM timers WHERE "
                  "case_id = $1 ORDER BY due, id",
                  &a, fn, ud, "timers", err);
    case STORE_ROWS_PLAN:
      return rows(
          st,
          "SELECT p.id AS plan, p.total, p.status AS plan_status, i.id, "
          "i.seq, i.due_date AS due, i.amount, i.paid, i.status FROM "
          "plans p JOIN installments i ON i.plan_id = p.id WHERE "
          "p.case_id = $1 AND p.id = (SELECT max(id) FROM plans WHERE "
          "case_id = $1) ORDER BY i.seq",
          &a, fn, ud, "plan", err);
    default:
      return rows(st,
                  "SELECT id, state, balance FROM cases WHERE borrower_id = $1 "
                  "ORDER BY id" C,
                  &a, fn, ud, "borrower cases", err);
  }
}

static int op_cases_each(store *s, const char *state, store_row_fn fn, void *ud,
                         rc_error *err) {
  args a = {0};

  if (state) a_text(&a, state);
  return rows(PG(s),
              state ? "SELECT id, state, workflow, version, balance, error "
                      "FROM cases WHERE state = $1 ORDER BY id" C
                    : "SELECT id, state, workflow, version, balance, error "
                      "FROM cases ORDER BY id" C,
              &a, fn, ud, "cases", err);
}

static int op_journal_each(store *s, const char *case_id, int limit,
                           store_row_fn fn, void *ud, rc_error *err) {
  args a = {0};

  a_text(&a, case_id);
  if (limit <= 0)
    return rows(PG(s),
                "SELECT " JOURNAL_COLS JOURNAL_FROM
                " WHERE r.case_id = $1 ORDER BY r.id, e.i",
                &a, fn, ud, "journal", err);
  a_int(&a, limit);
  return rows(PG(s),
              "SELECT * FROM (SELECT " JOURNAL_COLS JOURNAL_FROM
              " WHERE r.case_id = $1 ORDER BY r.id DESC, e.i DESC LIMIT $2) t "
              "ORDER BY id",
              &a, fn, ud, "journal", err);
}

static int op_read_report(store *s, int which, const char *arg, store_row_fn fn,
                          void *ud, rc_error *err) {
  pg *st = PG(s);
  args a = {0};

  switch (which) {
    case STORE_REPORT_STATES:
      return rows(st,
                  "SELECT workflow, state, currency, count(*) AS cases, "
                  "sum(balance) AS balance, sum((error IS NOT NULL)::int) AS "
                  "errors, sum(closed) AS closed FROM cases GROUP BY "
                  "workflow, state, currency ORDER BY workflow" C ", state" C
                  ", currency" C,
                  NULL, fn, ud, "report", err);
    case STORE_REPORT_DPD:
      /* Days past due in the institution's calendar: today is given. */
      a_text(&a, arg);
      return rows(
          st,
          "SELECT CASE WHEN d <= 0 THEN 'current' WHEN d <= 30 THEN "
          "'1-30' WHEN d <= 60 THEN '31-60' WHEN d <= 90 THEN '61-90' "
          "ELSE '90+' END AS bucket, currency, count(*) AS cases, "
          "sum(balance) AS balance FROM (SELECT $1::date - "
          "coalesce(due_date::date, $1::date) AS d, currency, balance FROM "
          "cases WHERE closed = 0) x GROUP BY bucket, currency "
          "ORDER BY min(d), currency" C,
          &a, fn, ud, "report", err);
    case STORE_REPORT_PROMISES:
      return rows(st,
                  "SELECT * FROM (SELECT status, coalesce(currency, (SELECT "
                  "c.currency FROM cases c WHERE c.id = p.case_id)) AS "
                  "currency, count(*) AS promises, sum(amount) AS amount, "
                  "sum(paid) AS paid FROM promises p GROUP BY 1, 2) x ORDER "
                  "BY status" C ", currency" C,
                  NULL, fn, ud, "report", err);
    case STORE_REPORT_INSTALLMENTS:
      return rows(st,
                  "SELECT * FROM (SELECT i.status, c.currency, count(*) AS "
                  "installments, sum(i.amount) AS amount, sum(i.paid) AS paid "
                  "FROM installments i LEFT JOIN plans p ON p.id = i.plan_id "
                  "LEFT JOIN cases c ON c.id = p.case_id GROUP BY 1, 2) x "
                  "ORDER BY status" C ", currency" C,
                  NULL, fn, ud, "report", err);
    case STORE_REPORT_CONTACTS:
      return rows(st,
                  "SELECT * FROM (SELECT 'message'::text AS kind, channel, "
                  "status, count(*) AS count FROM messages GROUP BY channel, "
                  "status UNION ALL SELECT 'task', kind, status, count(*) FROM "
                  "tasks GROUP BY kind, status) x ORDER BY kind" C ", channel" C
                  ", status" C,
                  NULL, fn, ud, "report", err);
    case STORE_REPORT_REFUSALS:
      /* strpos first: a run holds a policy row only now and then. */
      return rows(
          st,
          "SELECT * FROM (SELECT e.v -> 4 ->> 'verdict' AS status, "
          "e.v -> 4 ->> 'reason' AS reason, count(*) AS count FROM "
          "journal_runs r, json_array_elements(r.rows::json) e(v) WHERE "
          "strpos(r.rows, '[\"policy\",') > 0 AND e.v ->> 0 = "
          "'policy' GROUP BY 1, 2) x ORDER BY status" C ", reason" C,
          NULL, fn, ud, "report", err);
    case STORE_REPORT_MONEY:
      /* Payments by their own currency (the case's when it came);
       * overpaid and reduced by the case's. */
      return rows(st,
                  "SELECT currency, sum(paid) AS paid, sum(overpaid) AS "
                  "overpaid, sum(reduced) AS reduced FROM (SELECT "
                  "coalesce(p.currency, c.currency) AS currency, p.amount AS "
                  "paid, 0::bigint AS overpaid, "
                  "0::bigint AS reduced FROM payments p JOIN cases c ON "
                  "c.id = p.case_id UNION ALL SELECT currency, 0, overpaid, "
                  "reduced FROM cases) x GROUP BY currency ORDER BY "
                  "currency" C,
                  NULL, fn, ud, "report", err);
    case STORE_REPORT_VERSIONS:
      return rows(st,
                  "SELECT workflow, version, count(*) AS cases FROM cases "
                  "WHERE closed = 0 GROUP BY workflow, version ORDER BY "
                  "workflow" C ", version",
                  NULL, fn, ud, "report", err);
    default:
      return rows(
          st,
          /* an arm's recovered in the currency each payment came in */
          "SELECT experiment, arm, currency, sum(cases)::bigint AS cases, "
          "sum(paid)::bigint AS paid, sum(balance)::bigint AS balance, "
          "sum(recovered)::bigint AS recovered FROM (SELECT v.experiment, "
          "v.arm, c.currency, 1 AS cases, CASE WHEN c.closed <> 0 AND "
          "c.outcome = 'paid' THEN 1 ELSE 0 END AS paid, c.balance, "
          "0::bigint AS recovered FROM variants v JOIN cases c ON c.id = "
          "v.case_id UNION ALL SELECT v.experiment, v.arm, "
          "coalesce(p.currency, c.currency), 0, 0, 0, p.amount FROM variants "
          "v JOIN payments p ON p.case_id = v.case_id JOIN cases c ON c.id = "
          "v.case_id) u GROUP BY experiment, arm, currency ORDER BY "
          "experiment" C ", arm" C ", currency" C,
          NULL, fn, ud, "report", err);
  }
}

static int op_read_figures(store *s, int which, store_row_fn fn, void *ud,
                           rc_error *err) {
  static const char *const sql[] = {
      [STORE_FIGURES_STATES] =
          "SELECT workflow, state, sum(cases)::bigint AS cases, "
          "sum(balance)::bigint AS balance, sum(errors)::bigint AS errors, "
          "sum(closed)::bigint AS closed, currency FROM figures_states "
          "GROUP BY workflow, state, currency HAVING sum(cases) <> 0 ORDER "
          "BY workflow" C ", state" C ", currency" C,
      [STORE_FIGURES_DUE] =
          "SELECT due_date, sum(cases)::bigint AS cases, "
          "sum(balance)::bigint AS balance, currency FROM figures_due GROUP "
          "BY due_date, currency HAVING sum(cases) <> 0 ORDER BY due_date" C
          ", currency" C,
      [STORE_FIGURES_PROMISES] =
          "SELECT status, sum(promises)::bigint AS promises, "
          "sum(amount)::bigint AS amount, sum(paid)::bigint AS paid, "
          "currency FROM figures_promises GROUP BY status, currency HAVING "
          "sum(promises) <> 0 ORDER BY status" C ", currency" C,
      [STORE_FIGURES_QUEUES] =
          "SELECT queue, count(*) FILTER (WHERE status = 'open') AS open, "
          "count(*) FILTER (WHERE status = 'claimed') AS claimed, min(due) "
          "AS oldest_due FROM tasks WHERE status IN ('open', 'claimed') "
          "GROUP BY queue ORDER BY queue" C " NULLS LAST",
      [STORE_FIGURES_ARMS] =
          "SELECT a.workflow, a.experiment, a.arm, a.cases, m.recovered, "
          "a.closed_paid, m.currency FROM (SELECT min(workflow) AS "
          "workflow, experiment, arm, sum(cases)::bigint AS cases, "
          "sum(closed_paid)::bigint AS closed_paid FROM figures_arms GROUP "
          "BY experiment, arm) a LEFT JOIN (SELECT experiment, arm, "
          "currency, sum(recovered)::bigint AS recovered FROM "
          "figures_arms_money GROUP BY experiment, arm, currency) m ON "
          "m.experiment = a.experiment AND m.arm = a.arm ORDER BY "
          "a.workflow" C ", a.experiment" C ", a.arm" C ", m.currency" C,
  };

  if (which < STORE_FIGURES_STATES || which > STORE_FIGURES_ARMS)
    which = STORE_FIGURES_ARMS;
  if (counts_write(PG(s), err) != RC_OK) return RC_ESTORE;
  return rows(PG(s), sql[which], NULL, fn, ud, "figures", err);
}

static int op_figures_days(store *s, const char *figure, const char *from,
                           const char *to, store_row_fn fn, void *ud,
                           rc_error *err) {
  args a = {0};

  if (figs_write(PG(s), err) != RC_OK) return RC_ESTORE;
  a_text(&a, figure);
  a_text(&a, from);
  a_text(&a, to);
  return rows(PG(s),
              "SELECT day, a, b, c, sum(n)::bigint AS n, "
              "sum(amount)::bigint AS amount FROM figures_days WHERE "
              "figure = $1 AND day >= $2 AND day <= $3 GROUP BY day, a, b, c "
              "ORDER BY day" C ", a" C ", b" C ", c" C,
              &a, fn, ud, "figures", err);
}

static int op_read_count(store *s, int which, const char *arg, rc_time at,
                         int64_t *count, rc_error *err) {
  pg *st = PG(s);
  args a = {0};

  switch (which) {
    case STORE_COUNT_EVENTS_PENDING:
      return number(st, "SELECT count(*) FROM events WHERE status = 'pending'",
                    NULL, "count", count, err);
    case STORE_COUNT_TIMERS:
      return number(st, "SELECT count(*) FROM timers", NULL, "count", count,
                    err);
    case STORE_COUNT_TIMERS_OVERDUE:
      a_int(&a, at);
      return number(st, "SELECT count(*) FROM timers WHERE due <= $1", &a,
                    "overdue timers", count, err);
    case STORE_COUNT_FIGURES_MESSAGES:
      if (counts_write(st, err) != RC_OK) return RC_ESTORE;
      a_text(&a, arg);
      return number(st,
                    "SELECT coalesce((SELECT sum(messages) FROM "
                    "figures_messages WHERE status = $1), 0)",
                    &a, "count", count, err);
    default:
      a_text(&a, arg);
      return number(st,
                    "SELECT count(*) FROM journal_runs r, "
                    "json_array_elements(r.rows::json) e(v) WHERE "
                    "strpos(r.rows, '[' || to_json($1::text)::text || "
                    "',') > 0 AND e.v ->> 0 = $1",
                    &a, "count", count, err);
  }
}

static int op_read_total(store *s, int which, rc_money *total, rc_error *err) {
  static const char *const sql[] = {
      [STORE_TOTAL_PAID] = "SELECT coalesce(sum(amount), 0) FROM payments",
      [STORE_TOTAL_OVERPAID] = "SELECT coalesce(sum(overpaid), 0) FROM cases",
      [STORE_TOTAL_REDUCED] = "SELECT coalesce(sum(reduced), 0) FROM cases",
  };

  if (which < STORE_TOTAL_PAID || which > STORE_TOTAL_REDUCED)
    which = STORE_TOTAL_REDUCED;
  return number(PG(s), sql[which], NULL, "total", total, err);
}

static int op_task_get(store *s, int64_t id, store_task_info *out,
                       rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  memset(out, 0, sizeof *out);
  a_int(&a, id);
  rc = one(PG(s),
           "SELECT case_id, kind, status, outcome, result, queue, assignee "
           "FROM tasks WHERE id = $1",
           &a, "read task", &r, err);
  if (rc == RC_ENOTFOUND)
    return rc_error_set(err, RC_ENOTFOUND, "task", "unknown task %lld",
                        (long long)id);
  if (rc != RC_OK) return rc;
  copy_col(out->case_id, sizeof out->case_id, r, 0, 0);
  copy_col(out->kind, sizeof out->kind, r, 0, 1);
  copy_col(out->status, sizeof out->status, r, 0, 2);
  out->result = dup_col(r, 0, 4);
  copy_col(out->queue, sizeof out->queue, r, 0, 5);
  copy_col(out->assignee, sizeof out->assignee, r, 0, 6);
  PQclear(r);
  return RC_OK;
}

/* A case's open promise and its open plan's unpaid installments in one
 * round trip, or none when read with the case's hold. */
static int promise_and_unpaid(pg *st, const char *case_id, store_promise *out,
                              rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc = RC_ENOTFOUND;

  if (st->promise_ahead && strcmp(st->promise_case, case_id) == 0) {
    r = st->promise_ahead; /* read with the case's hold (op_case_ahead) */
    st->promise_ahead = NULL;
    promise_ahead_drop(st);
  } else {
    a_text(&a, case_id);
    r = run(st, promise_unpaid_sql, &a, "promise", err);
  }
  if (!r) return RC_ESTORE;
  if (PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 7), "p") == 0) {
    out->id = int_col(r, 0, 0);
    out->amount = int_col(r, 0, 4);
    out->paid = int_col(r, 0, 5);
    copy_col(out->by_date, sizeof out->by_date, r, 0, 3);
    copy_col(out->status, sizeof out->status, r, 0, 6);
    rc = RC_OK;
  }
  st->unpaid = r;
  strcpy(st->unpaid_case, case_id);
  return rc;
}

static int op_promise_get(store *s, int64_t id, const char *case_id,
                          store_promise *out, rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  memset(out, 0, sizeof *out);
  if (id > 0) {
    a_int(&a, id);
    rc = one(PG(s),
             "SELECT id, amount, paid, by_date, status FROM promises WHERE "
             "id = $1",
             &a, "promise", &r, err);
  } else if (PG(s)->base.depth > 0 && !PG(s)->manual &&
             strlen(case_id) < sizeof PG(s)->unpaid_case) {
    return promise_and_unpaid(PG(s), case_id, out, err);
  } else {
    a_text(&a, case_id);
    rc = one(PG(s),
             "SELECT id, amount, paid, by_date, status FROM promises WHERE "
             "case_id = $1 AND status = 'open' ORDER BY id DESC LIMIT 1",
             &a, "promise", &r, err);
  }
  if (rc != RC_OK) return rc;
  out->id = int_col(r, 0, 0);
  out->amount = int_col(r, 0, 1);
  out->paid = int_col(r, 0, 2);
  copy_col(out->by_date, sizeof out->by_date, r, 0, 3);
  copy_col(out->status, sizeof out->status, r, 0, 4);
  PQclear(r);
  return RC_OK;
}

/* A one-text answer into buf: RC_OK, RC_ENOTFOUND or the failure. */
static int text_of(pg *st, const char *sql, const args *a, const char *what,
                   char *buf, size_t size, rc_error *err) {
  PGresult *r;
  int rc = one(st, sql, a, what, &r, err);

  if (rc != RC_OK) return rc;
  copy_col(buf, size, r, 0, 0);
  PQclear(r);
  return RC_OK;
}

static int op_promise_user_get(store *s, int64_t promise_id, char *user,
                               size_t size, rc_error *err) {
  args a = {0};

  a_int(&a, promise_id);
  return text_of(PG(s),
                 "SELECT \"user\" FROM figures_promise_users WHERE "
                 "promise_id = $1",
                 &a, "promise taker", user, size, err);
}

static void read_installment(const PGresult *r, int row, store_installment *i) {
  i->id = int_col(r, row, 0);
  i->plan_id = int_col(r, row, 1);
  i->seq = (int)int_col(r, row, 2);
  copy_col(i->due_date, sizeof i->due_date, r, row, 3);
  i->amount = int_col(r, row, 4);
  i->paid = int_col(r, row, 5);
  copy_col(i->status, sizeof i->status, r, row, 6);
}

static int op_installments_unpaid(store *s, const char *case_id,
                                  store_installment **out, int *n,
                                  rc_error *err) {
  args a = {0};
  PGresult *r;
  store_installment *list;
  int i, first = 0;

  *out = NULL;
  *n = 0;
  /* Read with the promise (promise_and_unpaid), nothing sent since: its
   * rows after the promise's. */
  if (PG(s)->unpaid && strcmp(PG(s)->unpaid_case, case_id) == 0) {
    r = PG(s)->unpaid;
    PG(s)->unpaid = NULL;
    first = PQntuples(r) > 0 && strcmp(PQgetvalue(r, 0, 7), "p") == 0;
  } else {
    a_text(&a, case_id);
    r = run(PG(s),
            "SELECT i.id, i.plan_id, i.seq, i.due_date, i.amount, i.paid, "
            "i.status FROM installments i JOIN plans p ON p.id = i.plan_id "
            "WHERE p.case_id = $1 AND p.status = 'open' AND i.paid < i.amount "
            "AND i.status IN ('due', 'missed') ORDER BY i.seq",
            &a, "unpaid installments", err);
  }
  if (!r) return RC_ESTORE;
  if (PQntuples(r) == first) {
    PQclear(r);
    return RC_OK;
  }
  if (!(list = calloc((size_t)(PQntuples(r) - first), sizeof *list))) {
    PQclear(r);
    return rc_error_set(err, RC_ENOMEM, NULL, "installments: out of memory");
  }
  for (i = first; i < PQntuples(r); i++)
    read_installment(r, i, &list[i - first]);
  *out = list;
  *n = PQntuples(r) - first;
  PQclear(r);
  return RC_OK;
}

static int op_installment_get(store *s, int64_t id, store_installment *out,
                              char *plan_status, size_t size, rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_int(&a, id);
  rc = one(PG(s),
           "SELECT i.id, i.plan_id, i.seq, i.due_date, i.amount, i.paid, "
           "i.status, p.status FROM installments i JOIN plans p ON "
           "p.id = i.plan_id WHERE i.id = $1",
           &a, "installment", &r, err);
  if (rc != RC_OK) return rc;
  read_installment(r, 0, out);
  copy_col(plan_status, size, r, 0, 7);
  PQclear(r);
  return RC_OK;
}

static int op_payment_by_ref(store *s, const char *ref, char *case_id,
                             size_t size, rc_money *amount, char *currency,
                             rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, ref);
  switch (pay_found(PG(s), ref, &r, err)) {
  case 1:
    rc = PQntuples(r) > 0 ? RC_OK : RC_ENOTFOUND;
    if (rc != RC_OK) PQclear(r);
    break;
  case 0:
    rc = one(PG(s), payment_ref_sql, &a, "read payment", &r, err);
    break;
  default:
    return RC_ESTORE;
  }
  if (rc == RC_ENOTFOUND && PG(s)->base.depth > 0 &&
      strlen(ref) < sizeof PG(s)->unseen_ref)
    strcpy(PG(s)->unseen_ref, ref);
  if (rc != RC_OK) return rc;
  copy_col(case_id, size, r, 0, 0);
  *amount = int_col(r, 0, 1);
  if (currency) copy_col(currency, 4, r, 0, 2);
  PQclear(r);
  return RC_OK;
}

static int op_variant_get(store *s, const char *case_id, const char *experiment,
                          char *arm, size_t size, rc_error *err) {
  args a = {0};

  a_text(&a, case_id);
  a_text(&a, experiment);
  return text_of(PG(s),
                 "SELECT arm FROM variants WHERE case_id = $1 AND "
                 "experiment = $2",
                 &a, "variant", arm, size, err);
}

static int op_message_read(store *s, int64_t id, store_row_fn fn, void *ud,
                           rc_error *err) {
  args a = {0};

  a_int(&a, id);
  return rows(PG(s),
              "SELECT id, case_id AS \"case\", channel, template, recipient "
              "AS \"to\" FROM messages WHERE id = $1",
              &a, fn, ud, "message", err);
}

static int op_message_case(store *s, int64_t id, char *case_id, size_t size,
                           char status[16], rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_int(&a, id);
  rc = one(PG(s), "SELECT case_id, status FROM messages WHERE id = $1", &a,
           "message", &r, err);
  if (rc == RC_OK) {
    copy_col(case_id, size, r, 0, 0);
    copy_col(status, 16, r, 0, 1);
    PQclear(r);
  }
  if (rc != RC_ENOTFOUND) return rc;
  return rc_error_set(err, RC_ENOTFOUND, "message", "unknown message %lld",
                      (long long)id);
}

/* Keeps the max newest of the times seen, newest first. */
static void keep_newest(rc_time *times, int *n, int max, rc_time t) {
  int i;

  if (*n == max) {
    if (times[max - 1] >= t) return; /* older than all that are kept */
    i = max - 1;
  } else {
    i = (*n)++;
  }
  while (i > 0 && times[i - 1] < t) {
    times[i] = times[i - 1];
    i--;
  }
  times[i] = t;
}

/* What a task counts as for the caps: its declared channel, else by kind. */
#define TASK_CHANNEL                                              \
  "coalesce(t.channel, CASE t.kind WHEN 'call' THEN 'call' WHEN " \
  "'visit' THEN 'visit' WHEN 'home_visit' THEN 'visit' WHEN "     \
  "'workplace_visit' THEN 'visit' END)"

/* The guard's count (sqlite.c says why each term): the newest messages,
 * then the newest contact tasks, merged. */
static int op_contact_times(store *s, const char *case_id,
                            const char *borrower_id, const char *channel,
                            rc_time since, int64_t exclude_message, int max,
                            rc_time *times, int *n, rc_error *err) {
  pg *st = PG(s);

  if (max <= 0) return RC_OK;
  /* The count and the message the guard then writes are one decision per
   * borrower across nodes: the borrower's row stays locked until this
   * batch commits, so another node's guard counts after it, seeing its
   * messages (two nodes must not both send a borrower's fourth SMS). */
  if (st->base.depth > 0 && (settle(st, err) != RC_OK ||
                             pg_borrower_lock(st->c, borrower_id, err) < 0))
    return RC_ESTORE;
  for (int pass = 0; pass < 2; pass++) {
    args a = {0};
    PGresult *r;
    const char *sql;

    if (pass == 0) {
      a_text(&a, borrower_id);
      a_text(&a, channel);
      a_int(&a, since);
      a_int(&a, exclude_message ? exclude_message : INT64_MAX);
      a_int(&a, max);
      if (case_id) a_text(&a, case_id);
      sql = case_id ? "SELECT at FROM messages WHERE borrower_id = $1 AND "
                      "case_id = $6 AND channel = $2 AND at > $3 AND status "
                      "NOT IN ('blocked', 'cancelled') AND id <> $4 AND "
                      "(status <> 'deferred' OR id < $4) ORDER BY at DESC "
                      "LIMIT $5"
                    : "SELECT at FROM messages WHERE borrower_id = $1 AND "
                      "channel = $2 AND at > $3 AND status NOT IN "
                      "('blocked', 'cancelled') AND id <> $4 AND (status <> "
                      "'deferred' OR id < $4) ORDER BY at DESC LIMIT $5";
    } else {
      a_text(&a, case_id ? case_id : borrower_id);
      a_text(&a, channel);
      a_int(&a, since);
      a_int(&a, max);
      sql = case_id ? "SELECT t.at FROM tasks t WHERE t.case_id = $1 "
                      "AND " TASK_CHANNEL
                      " = $2 AND t.at > $3 AND t.status <> "
                      "'cancelled' ORDER BY t.at DESC LIMIT $4"
                    : "SELECT t.at FROM tasks t JOIN cases c ON c.id = "
                      "t.case_id WHERE c.borrower_id = $1 AND " TASK_CHANNEL
                      " = $2 AND t.at > $3 AND t.status <> 'cancelled' "
                      "ORDER BY t.at DESC LIMIT $4";
    }
    if (!(r = run(st, sql, &a, "count contacts", err))) return RC_ESTORE;
    for (int i = 0; i < PQntuples(r); i++)
      keep_newest(times, n, max, int_col(r, i, 0));
    PQclear(r);
  }
  return RC_OK;
}

static int op_last_conversation(store *s, const char *borrower_id, rc_time *at,
                                rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, borrower_id);
  rc = one(PG(s),
           "SELECT max(t.completed_at) FROM tasks t JOIN cases c ON "
           "c.id = t.case_id WHERE c.borrower_id = $1 AND t.status = 'done' "
           "AND ((t.result::json ->> 'conversation') IN ('1', 'true') OR "
           "(t.kind = 'call' AND (t.result::json ->> 'reached') IN ('1', "
           "'true', 'yes')))",
           &a, "last conversation", &r, err);
  if (rc != RC_OK) return rc;
  if (PQgetisnull(r, 0, 0))
    rc = RC_ENOTFOUND;
  else
    *at = int_col(r, 0, 0);
  PQclear(r);
  return rc;
}

static int op_last_contact(store *s, const char *case_id,
                           const char *borrower_id, char *channel, size_t size,
                           rc_time *at, rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, case_id);
  a_text(&a, borrower_id);
  rc =
      one(PG(s),
          "SELECT channel, at FROM ((SELECT channel, at FROM messages WHERE "
          "borrower_id = $2 AND case_id = $1 AND status NOT IN ('blocked', "
          "'cancelled', 'deferred') ORDER BY at DESC LIMIT 1) UNION ALL "
          "(SELECT " TASK_CHANNEL
          " AS channel, t.completed_at AS at FROM "
          "tasks t WHERE t.case_id = $1 AND t.status = 'done' AND " TASK_CHANNEL
          " IS NOT NULL ORDER BY t.completed_at DESC LIMIT 1)) "
          "x ORDER BY at DESC LIMIT 1",
          &a, "last contact", &r, err);
  if (rc != RC_OK) return rc;
  copy_col(channel, size, r, 0, 0);
  *at = int_col(r, 0, 1);
  PQclear(r);
  return RC_OK;
}

static int op_reply_case(store *s, const char *from, char *case_id, size_t size,
                         rc_error *err) {
  args a = {0};

  a_text(&a, from);
  return text_of(PG(s),
                 "SELECT c.id FROM contacts k JOIN cases c ON c.borrower_id = "
                 "k.borrower_id WHERE k.value = $1 AND k.kind IN ('phone', "
                 "'email') AND c.closed = 0 ORDER BY (SELECT max(m.at) FROM "
                 "messages m WHERE m.borrower_id = c.borrower_id AND "
                 "m.case_id = c.id) DESC NULLS LAST, c.opened_at DESC LIMIT 1",
                 &a, "reply case", case_id, size, err);
}

/* As sqlite.c's S_CASES_PHONE: the borrower's own phones only. */
static int op_cases_phone(store *s, const char *phone, const char *after,
                          int limit, const store_scope *scope,
                          store_row_fn fn, void *ud, rc_error *err) {
  args a = {0};
  a_text(&a, phone);
  a_text(&a, after ? after : "");
  a_int(&a, limit);
  a_scope(&a, scope);
  return rows(PG(s),
              "SELECT " PG_CASE_COLS " FROM cases WHERE borrower_id IN "
              "(SELECT borrower_id FROM contacts WHERE value = $1 AND kind = "
              "'phone') AND id" C " > $2 AND ($4::text IS NULL OR " VISIBLE(
                  "cases.id", "$4", "$5", "$6") ") ORDER BY id" C " LIMIT $3",
              &a, fn, ud, "cases by phone", err);
}

static int op_cases_page(store *s, const char *state, const char *queue,
                         const char *after, int limit, int window,
                         const store_scope *scope, char *window_end,
                         size_t size, store_row_fn fn, void *ud,
                         rc_error *err) {
  pg *st = PG(s);
  args a = {0};
  PGresult *r;
  int rc;

  window_end[0] = '\0';
  a_text(&a, state);
  a_text(&a, queue);
  a_text(&a, after ? after : "");
  a_int(&a, limit);
  a_int(&a, window);
  a_scope(&a, scope);
  rc = rows(st,
            "SELECT " PG_CASE_COLS " FROM (SELECT * FROM cases WHERE id" C
            " > $3 ORDER BY id" C
            " LIMIT $5) w WHERE ($1::text IS NULL OR "
            "state = $1) AND ($2::text IS NULL OR queue = $2) AND ($6::text "
            "IS NULL OR " VISIBLE("w.id", "$6", "$7", "$8") ") ORDER BY id" C
                                                            " LIMIT $4",
            &a, fn, ud, "case page", err);
  if (rc != RC_OK) return rc;
  a.n = 0;
  a_text(&a, after ? after : "");
  a_int(&a, window);
  rc = one(st,
           "SELECT max(id" C
           "), count(*) FROM (SELECT id FROM cases WHERE "
           "id" C " > $1 ORDER BY id" C " LIMIT $2) w",
           &a, "case page", &r, err);
  if (rc != RC_OK) return rc == RC_ENOTFOUND ? RC_OK : rc;
  if (int_col(r, 0, 1) == window && !PQgetisnull(r, 0, 0))
    copy_col(window_end, size, r, 0, 0);
  PQclear(r);
  return RC_OK;
}

/* With an assignee, walked down tasks_assignee (assignee, status, id): the
 * few a person holds are found without reading the book's other tasks.
 * The status is in the statement when given, not `$2 IS NULL OR`: a
 * prepared statement's generic plan would not seek by it. */
#define TASKS_WHERE                                                         \
  "AND ($1::text IS NULL OR queue = $1) AND id > $3 AND ($5::text IS NULL " \
  "OR queue IN (SELECT json_array_elements_text($5::json))) ORDER BY id "   \
  "LIMIT $4"
static int op_tasks_page(store *s, const char *queue, const char *status,
                         const char *assignee, const char *queues,
                         int64_t after, int limit, store_row_fn fn, void *ud,
                         rc_error *err) {
  args a = {0};
  /* One queue's tasks of a status (the console's Reassign): down
   * tasks_queue_id in id order, both in the statement. What people hold
   * now, anyone's: down tasks_claimed, which holds only those (the
   * status in the statement, as the partial index says it). */
  const char *sql =
      !assignee && status && queue
          ? "SELECT " TASK_COLS
            " FROM tasks WHERE queue = $1 AND status = $2 " TASKS_WHERE
      : !assignee && status && strcmp(status, "claimed") == 0
          ? "SELECT " TASK_COLS
            " FROM tasks WHERE status = 'claimed' AND $2::text IS NOT "
            "NULL " TASKS_WHERE
      : !assignee
          ? "SELECT " TASK_COLS
            " FROM tasks WHERE ($2::text IS NULL OR status = $2) " TASKS_WHERE
      : status
          ? "SELECT " TASK_COLS
            " FROM tasks WHERE assignee = $6 AND status = $2 " TASKS_WHERE
          : "SELECT " TASK_COLS
            " FROM tasks WHERE assignee = $6 AND $2::text IS NULL " TASKS_WHERE;

  a_text(&a, queue);
  a_text(&a, status);
  a_int(&a, after);
  a_int(&a, limit);
  a_text(&a, queues);
  if (assignee) a_text(&a, assignee);
  return rows(PG(s), sql, &a, fn, ud, "task page", err);
}
#undef TASKS_WHERE

static int op_journal_page(store *s, const char *case_id, int64_t after,
                           int limit, store_row_fn fn, void *ud,
                           rc_error *err) {
  args a = {0};

  a_text(&a, case_id);
  a_int(&a, after);
  a_int(&a, limit);
  a_int(&a, STORE_JOURNAL_RUN);
  return rows(PG(s),
              "SELECT " JOURNAL_COLS JOURNAL_FROM
              " WHERE r.case_id = $1 AND r.id > $2::bigint - $4::bigint AND "
              "r.id + e.i - 1 > $2 ORDER BY r.id, e.i LIMIT $3",
              &a, fn, ud, "journal page", err);
}

static int op_errors_page(store *s, int64_t before, int limit, store_row_fn fn,
                          void *ud, rc_error *err) {
  args a = {0};

  a_int(&a, before > 0 ? before : INT64_MAX);
  a_int(&a, limit);
  return rows(PG(s),
              "SELECT c.id AS \"case\", c.state, e.type AS event, c.error, "
              "e.at AS since, e.id AS event_id FROM events e JOIN cases c ON "
              "c.id = e.case_id WHERE e.status = 'failed' AND e.id < $1 AND "
              "c.error IS NOT NULL AND NOT EXISTS (SELECT 1 FROM events p "
              "WHERE p.case_id = e.case_id AND p.status = 'failed' AND "
              "p.id < e.id) ORDER BY e.id DESC LIMIT $2",
              &a, fn, ud, "errors page", err);
}

/* Counts the rows handed on, so that a page spanning statuses knows how
 * many it still needs. */
typedef struct counted {
  store_row_fn fn;
  void *ud;
  int rows, stop;
} counted;

static int count_row(void *ud, const store_value *cols, int n) {
  counted *c = ud;
  c->rows++;
  return (c->stop = c->fn(c->ud, cols, n));
}

/* A channel's page reads at most this many messages of each status
 * (sqlite.c's OUTBOX_WINDOW says why). */
enum { OUTBOX_WINDOW = 10000 };

static int op_outbox_page(store *s, const char *const *statuses, int nstatuses,
                          const char *channel, int64_t after, int limit,
                          int64_t *resume, store_row_fn fn, void *ud,
                          rc_error *err) {
  pg *st = PG(s);
  counted c = {fn, ud, 0, 0};
  int window = channel ? OUTBOX_WINDOW : limit;
  int64_t from_attempt = INT64_MIN, from_id = INT64_MIN;
  int k = 0, rc;
  args a = {0};
  PGresult *r;

  *resume = 0;
  if (after > 0) {
    a_int(&a, after);
    rc = one(st, "SELECT status, next_attempt FROM messages WHERE id = $1", &a,
             "outbox cursor", &r, err);
    if (rc == RC_ENOTFOUND)
      return rc_error_set(err, RC_EINVAL, "after",
                          "after names no message: give the `next` of the "
                          "page before");
    if (rc != RC_OK) return rc;
    for (k = 0; k < nstatuses && strcmp(statuses[k], PQgetvalue(r, 0, 0));
         k++) {
    }
    if (k == nstatuses) k = 0; /* it has left the list: from the top */
    from_attempt = int_col(r, 0, 1);
    from_id = after;
    PQclear(r);
  }
  for (; k < nstatuses && c.rows < limit && !c.stop; k++) {
    int before = c.rows;
    a.n = 0;
    a_text(&a, statuses[k]);
    a_text(&a, channel);
    a_int(&a, from_attempt);
    a_int(&a, from_id);
    a_int(&a, limit - c.rows);
    a_int(&a, window);
    rc = rows(st,
              "SELECT id, case_id AS \"case\", channel, template, status, "
              "reason, not_before AS until, attempts, at, recipient AS \"to\" "
              "FROM (SELECT * FROM messages WHERE status = $1 AND "
              "(next_attempt, id) > ($3, $4) ORDER BY status, next_attempt, "
              "id LIMIT $6) w WHERE $2::text IS NULL OR channel = $2 ORDER BY "
              "next_attempt, id LIMIT $5",
              &a, count_row, &c, "outbox page", err);
    if (rc != RC_OK) return rc;
    if (channel && c.rows - before < limit - before) {
      a.n = 0;
      a_text(&a, statuses[k]);
      a_int(&a, from_attempt);
      a_int(&a, from_id);
      a_int(&a, window);
      rc = one(st,
               "SELECT id, count(*) OVER () FROM (SELECT id, next_attempt "
               "FROM messages WHERE status = $1 AND (next_attempt, id) > ($2, "
               "$3) ORDER BY status, next_attempt, id LIMIT $4) w ORDER BY "
               "next_attempt DESC, id DESC LIMIT 1",
               &a, "outbox", &r, err);
      if (rc == RC_OK) {
        if (int_col(r, 0, 1) == window) *resume = int_col(r, 0, 0);
        PQclear(r);
      } else if (rc != RC_ENOTFOUND) {
        return rc;
      }
      if (*resume) return RC_OK;
    }
    from_attempt = from_id = INT64_MIN;
  }
  return RC_OK;
}

static int op_work_page(store *s, const char *queue, rc_time now, int part,
                        const store_work_cursor *after, const char *user,
                        int only_open, int limit, store_row_fn fn, void *ud,
                        rc_error *err) {
  args a = {0};

  a_text(&a, queue);
  a_int(&a, now);
  a_int(&a, part);
  a_real(&a, after ? after->priority : 0);
  a_int(&a, after ? after->due : 0);
  a_int(&a, after ? after->id : 0);
  a_int(&a, after != NULL);
  a_int(&a, limit);
  a_text(&a, user);
  a_int(&a, only_open);
  return rows(PG(s),
              "SELECT t.id, t.case_id, t.kind, t.queue, t.due, t.assignee, "
              "t.status, t.priority, t.at FROM tasks t WHERE t.queue = $1 AND "
              "t.status IN ('open', 'claimed') AND (CASE WHEN "
              "coalesce(t.due, 0) <= $2 THEN 1 ELSE 2 END) = $3 AND ($7 = 0 "
              "OR t.priority < $4 OR (t.priority = $4 AND (coalesce(t.due, 0) "
              "> $5 OR (coalesce(t.due, 0) = $5 AND t.id > $6)))) AND ($10 = "
              "0 OR t.status = 'open') AND ($9::text IS NULL OR t.status = "
              "'open' OR t.assignee = $9) ORDER BY t.priority DESC, t.due, "
              "t.id LIMIT $8",
              &a, fn, ud, "work page", err);
}

static int op_work_queues(store *s, store_row_fn fn, void *ud, rc_error *err) {
  return rows(PG(s),
              "SELECT DISTINCT queue" C
              " AS queue FROM tasks WHERE status IN "
              "('open', 'claimed') AND queue IS NOT NULL ORDER BY 1",
              NULL, fn, ud, "work queues", err);
}

/* As SQLite's S_WORK_COUNTS: each bound's count is the kept counts of
 * the queue's days before the one it falls in (figures_tasks, summed
 * over slots) and that day's tasks up to it, read from tasks_queue. */
#define WORK_COUNT(DAY, FROM, TO)                                            \
  "((SELECT coalesce(sum(n), 0) FROM figures_tasks WHERE queue = $1 AND "    \
  "day < " DAY " AND ($8::text IS NULL OR claimed = 0 OR assignee = $8)) "   \
  "+ (SELECT count(*) FROM tasks WHERE queue = $1 AND status IN ('open', "   \
  "'claimed') AND due >= " FROM " AND due < " TO ") - (SELECT count(*) "     \
  "FROM tasks WHERE $8::text IS NOT NULL AND queue = $1 AND status = "       \
  "'claimed' AND due >= " FROM " AND due < " TO " AND assignee IS DISTINCT " \
  "FROM $8))::bigint"

static int op_work_counts(store *s, const char *queue, rc_time now,
                          rc_time day_end, const char *user, int64_t *due_now,
                          int64_t *today, rc_error *err) {
  const int64_t day_ms = 24 * 60 * 60 * 1000LL;
  rc_time bound[2] = {now + 1, day_end}; /* due <= now; due < day_end */
  args a = {0};
  PGresult *r;
  int rc;

  a_text(&a, queue);
  for (int i = 0; i < 2; i++) {
    int64_t day =
        bound[i] >= 0 ? bound[i] / day_ms : -1 - (-1 - bound[i]) / day_ms;
    a_int(&a, day);
    a_int(&a, day * day_ms);
    a_int(&a, bound[i]);
  }
  a_text(&a, user);
  rc = one(PG(s),
           "SELECT " WORK_COUNT("$2::bigint", "$3::bigint", "$4::bigint") ", "
           WORK_COUNT("$5::bigint", "$6::bigint", "$7::bigint"),
           &a, "count work", &r, err);
  if (rc != RC_OK) return rc == RC_ENOTFOUND ? RC_ESTORE : rc;
  *due_now = int_col(r, 0, 0);
  *today = int_col(r, 0, 1);
  PQclear(r);
  return RC_OK;
}
#undef WORK_COUNT

/* As SQLite's S_WORK_AREAS: at most $3 of the tasks due today, each
 * one's case and borrower read after. */
static int op_work_areas(store *s, const char *queue, rc_time day_end,
                         const char *user, int max, store_row_fn fn, void *ud,
                         rc_error *err) {
  args a = {0};

  a_text(&a, queue);
  a_int(&a, day_end);
  a_int(&a, max);
  a_text(&a, user);
  return rows(PG(s),
              "SELECT coalesce(b.area, '')" C
              " AS area, count(*) AS n FROM "
              "(SELECT case_id FROM tasks WHERE queue = $1 AND status IN "
              "('open', 'claimed') AND coalesce(due, 0) < $2 AND ($4::text IS "
              "NULL OR status = 'open' OR assignee = $4) LIMIT $3) t "
              "LEFT JOIN cases c ON c.id = t.case_id LEFT JOIN borrowers b ON "
              "b.id = c.borrower_id GROUP BY 1 ORDER BY 1",
              &a, fn, ud, "work areas", err);
}

static int op_work_promises(store *s, const char *status, const char *from,
                            const char *to, const char *after_date,
                            int64_t after_id, const store_scope *scope,
                            int limit, store_row_fn fn, void *ud,
                            rc_error *err) {
  args a = {0};

  a_text(&a, status);
  a_text(&a, from);
  a_text(&a, to);
  a_text(&a, after_date ? after_date : "");
  a_int(&a, after_id);
  a_scope(&a, scope);
  a_int(&a, limit);
  return rows(PG(s),
              "SELECT p.id, p.case_id, p.amount, p.paid, p.by_date, p.status "
              "FROM promises p WHERE p.status = $1 AND p.by_date >= $2 AND "
              "p.by_date <= $3 AND (p.by_date" C
              " > $4 OR (p.by_date = $4 "
              "AND p.id > $5)) AND ($6::text IS NULL OR " VISIBLE(
                  "p.case_id", "$6", "$7", "$8") ") ORDER BY p.by_date" C
                                                 ", p.id LIMIT $9",
              &a, fn, ud, "promises", err);
}

static int op_work_promises_count(store *s, const char *status,
                                  const char *from, const char *to,
                                  const store_scope *scope, int64_t *count,
                                  rc_error *err) {
  args a = {0};

  a_text(&a, status);
  a_text(&a, from);
  a_text(&a, to);
  a_scope(&a, scope);
  return number(PG(s),
                "SELECT count(*) FROM promises p WHERE p.status = $1 AND "
                "p.by_date >= $2 AND p.by_date <= $3 AND ($4::text IS NULL "
                "OR " VISIBLE("p.case_id", "$4", "$5", "$6") ")",
                &a, "count promises", count, err);
}

static int op_case_visible(store *s, const char *case_id,
                           const store_scope *scope, int *visible,
                           rc_error *err) {
  args a = {0};
  int64_t v;
  int rc;

  a_text(&a, case_id);
  a_scope(&a, scope);
  rc = number(PG(s), "SELECT (" VISIBLE("$1::text", "$2", "$3", "$4") ")::int",
              &a, "case scope", &v, err);
  *visible = rc == RC_OK && v;
  return rc;
}

static int op_users_each(store *s, store_row_fn fn, void *ud, rc_error *err) {
  return rows(PG(s),
              "SELECT name, role, queues, disabled, created_at, display_name "
              "FROM users ORDER BY name" C,
              NULL, fn, ud, "users", err);
}

static int op_user_get(store *s, const char *name, store_user *out, char *hash,
                       size_t size, rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  memset(out, 0, sizeof *out);
  a_text(&a, name);
  rc = one(PG(s),
           "SELECT name, role, queues, disabled, created_at, password_hash, "
           "display_name FROM users WHERE name = $1",
           &a, "user", &r, err);
  if (rc == RC_ENOTFOUND)
    return rc_error_set(err, RC_ENOTFOUND, "name", "no user %s", name);
  if (rc != RC_OK) return rc;
  copy_col(out->name, sizeof out->name, r, 0, 0);
  copy_col(out->role, sizeof out->role, r, 0, 1);
  out->queues = dup_col(r, 0, 2);
  out->disabled = (int)int_col(r, 0, 3);
  out->created_at = int_col(r, 0, 4);
  if (hash) copy_col(hash, size, r, 0, 5);
  if (!PQgetisnull(r, 0, 6))
    copy_col(out->display_name, sizeof out->display_name, r, 0, 6);
  PQclear(r);
  if (!out->queues) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  return RC_OK;
}

static int op_session_get(store *s, const char *id, store_session *out,
                          rc_error *err) {
  args a = {0};
  PGresult *r;
  int rc;

  memset(out, 0, sizeof *out);
  a_text(&a, id);
  rc = one(PG(s),
           "SELECT s.name, u.role, u.queues, u.disabled, s.created_at, "
           "s.last_seen, s.expires_at FROM sessions s JOIN users u ON "
           "u.name = s.name WHERE s.id = $1",
           &a, "session", &r, err);
  if (rc == RC_ENOTFOUND)
    return rc_error_set(err, RC_ENOTFOUND, "session", "no such session");
  if (rc != RC_OK) return rc;
  copy_col(out->name, sizeof out->name, r, 0, 0);
  copy_col(out->role, sizeof out->role, r, 0, 1);
  out->queues = dup_col(r, 0, 2);
  out->disabled = (int)int_col(r, 0, 3);
  out->created_at = int_col(r, 0, 4);
  out->last_seen = int_col(r, 0, 5);
  out->expires_at = int_col(r, 0, 6);
  PQclear(r);
  if (!out->queues) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  return RC_OK;
}

static int op_rolls(store *s, const char *month, int logged, store_row_fn fn,
                    void *ud, rc_error *err) {
  args a = {0};

  a_text(&a, month);
  return rows(PG(s),
              logged ? "SELECT case_id, month, due_date, status, now_due, "
                       "now_status, opened FROM figures_roll_log WHERE "
                       "month >= $1 ORDER BY case_id" C ", month" C
                     : "SELECT from_bucket, to_bucket, cases FROM "
                       "figures_rolls WHERE month = $1 ORDER BY 1, 2",
              &a, fn, ud, "rolls", err);
}

static int op_cases_below_version(store *s, const char *workflow, int below,
                                  store_row_fn fn, void *ud, rc_error *err) {
  args a = {0};

  a_text(&a, workflow);
  a_int(&a, below);
  return rows(PG(s),
              "SELECT id, version, state FROM cases WHERE workflow = $1 AND "
              "version < $2 AND closed = 0 ORDER BY id" C,
              &a, fn, ud, "cases below version", err);
}

static int op_sim_read(store *s, int which, int64_t after, store_row_fn fn,
                       void *ud, rc_error *err) {
  static const char *const sql[] = {
      [STORE_SIM_CASES] =
          "SELECT id, borrower_id, state, closed, (error IS NOT NULL)::int, "
          "on_hold, balance, amount_due, due_date, workflow, version, "
          "opened_at, currency FROM cases ORDER BY id" C,
      [STORE_SIM_MESSAGES] =
          "SELECT id, case_id, channel, status, at FROM "
          "messages WHERE id > $1 ORDER BY id",
      [STORE_SIM_TASKS] =
          "SELECT id, case_id, kind, queue, status, at FROM "
          "tasks WHERE id > $1 ORDER BY id",
      [STORE_SIM_BACKLOG] =
          "SELECT coalesce(queue, ''), count(*) FROM tasks WHERE status IN "
          "('open', 'claimed') GROUP BY 1 ORDER BY coalesce(queue, '')" C,
      [STORE_SIM_JOURNAL] =
          "SELECT case_id, at, state FROM journal ORDER BY "
          "case_id" C ", id",
      [STORE_SIM_PAYMENTS] =
          "SELECT case_id, at, amount FROM payments ORDER "
          "BY case_id" C ", at, id",
      [STORE_SIM_PROMISES] =
          "SELECT status, count(*) FROM promises GROUP BY "
          "1 ORDER BY status" C,
      [STORE_SIM_CONTACTS] =
          "SELECT * FROM (SELECT case_id, at FROM messages WHERE status NOT "
          "IN ('blocked', 'cancelled') UNION ALL SELECT case_id, "
          "coalesce(completed_at, at) FROM tasks WHERE status = 'done' AND "
          "kind IN ('call', 'visit', 'home_visit', 'workplace_visit')) x "
          "ORDER BY case_id" C ", at",
      [STORE_SIM_OUTCOMES] =
          "SELECT kind, coalesce(outcome, ''), count(*) FROM tasks WHERE "
          "status = 'done' GROUP BY 1, 2 ORDER BY kind" C
          ", coalesce(outcome, '')" C,
      [STORE_SIM_REPLIES] =
          "SELECT case_id, at FROM journal WHERE kind = 'event' AND "
          "(detail::json ->> 'type') = 'reply' ORDER BY case_id" C ", at",
  };
  args a = {0};

  if (which < 0 || which >= STORE_SIM_COUNT || !sql[which])
    return rc_error_set(err, RC_EINVAL, NULL, "unknown simulation read");
  if (which == STORE_SIM_MESSAGES || which == STORE_SIM_TASKS) a_int(&a, after);
  return rows(PG(s), sql[which], &a, fn, ud, "simulation read", err);
}

/* --- the operations table
 * ------------------------------------------------------ */

/* --- moving a book (branch "migrate"; pg_book.c) ------------------------- */

/* pg_book.c talks to the connection itself: what the pipeline holds is
 * answered first. */
static int op_book_rows(store *s, const char *table, store_row_fn fn, void *ud,
                        rc_error *err) {
  if (settle(PG(s), err) != RC_OK) return RC_ESTORE;
  return pg_book_rows(PG(s)->c, table, fn, ud, err);
}

static int op_book_put(store *s, const char *table, const store_value *cols,
                       int ncols, rc_error *err) {
  pg *st = PG(s);
  if (settle(st, err) != RC_OK) return RC_ESTORE;
  return pg_book_put(st->c, st->book_table, sizeof st->book_table, table, cols,
                     ncols, err);
}

static int op_book_figures(store *s, store_row_fn fn, void *ud, rc_error *err) {
  if (settle(PG(s), err) != RC_OK) return RC_ESTORE;
  return pg_book_figures(PG(s)->c, fn, ud, err);
}

/* The server (its system identifier, which a copy made from it by a base
 * backup shares, and its start), the database and the schema: what no two
 * books share, whatever URLs name them. */
static void op_book_place(store *s, char *out, size_t size) {
  PGresult *r = PQexec(
      PG(s)->c,
      "SELECT (SELECT system_identifier FROM pg_control_system()) || '/' || "
      "extract(epoch FROM pg_postmaster_start_time()) || '/' || (SELECT oid "
      "FROM pg_database WHERE datname = current_database()) || '/' || "
      "current_schema()");
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
      !PQgetisnull(r, 0, 0))
    rc_copy(out, size, PQgetvalue(r, 0, 0));
  PQclear(r);
}

/* Asked on a connection of its own: op_open would create the schema of a
 * new book in a database that has none. */
static int op_book_present(const char *where) {
  char conninfo[2048];
  PGconn *c;
  int version = 1;

  if (scratch_asked(where, conninfo, sizeof conninfo) != 0) return RC_OK;
  c = PQconnectdb(conninfo);
  if (c && PQstatus(c) == CONNECTION_OK)
    version = pg_schema_read_version(c, NULL);
  PQfinish(c);
  return version == 0 ? RC_ENOTFOUND : RC_OK;
}

const store_ops store_pg_ops = {
    .name = "postgresql",
    .open = op_open,
    .close = op_close,
    .scratch = op_scratch,
    .writable = op_writable,
    .checkpoint_every = op_checkpoint_every,
    .copy = op_copy,
    .files = op_files,
    .begin = op_begin,
    .end = op_end,
    .timer_next_due = op_timer_next_due,
    .timer_first_due = op_timer_first_due,
    .timers_claim = op_timers_claim,
    .timer_finish = op_timer_finish,
    .events_claim = op_events_claim,
    .event_finish = op_event_finish,
    .outbox_claim = op_outbox_claim,
    .release = op_release,
    .timers_retry = op_timers_retry,
    .meta_get = op_meta_get,
    .meta_put = op_meta_put,
    .borrower_put = op_borrower_put,
    .borrower_flag = op_borrower_flag,
    .case_insert = op_case_insert,
    .case_write = op_case_write,
    .event_put = op_event_put,
    .event_key = op_event_key,
    .events_retry = op_events_retry,
    .timer_put = op_timer_put,
    .timers_cancel = op_timers_cancel,
    .journal_run = op_journal_run,
    .message_put = op_message_put,
    .message_update = op_message_update,
    .messages_cancel_deferred = op_messages_cancel_deferred,
    .messages_step = op_messages_step,
    .task_put = op_task_put,
    .task_complete = op_task_complete,
    .task_take = op_task_take,
    .tasks_cancel_scoped = op_tasks_cancel_scoped,
    .payment_put = op_payment_put,
    .promise_put = op_promise_put,
    .promise_update = op_promise_update,
    .promise_user_put = op_promise_user_put,
    .plan_put = op_plan_put,
    .installment_update = op_installment_update,
    .plan_status = op_plan_status,
    .variant_put = op_variant_put,
    .user_put = op_user_put,
    .user_update = op_user_update,
    .user_log = op_user_log,
    .session_put = op_session_put,
    .session_touch = op_session_touch,
    .sessions_delete = op_sessions_delete,
    .figure_add = op_figure_add,
    .roll_log = op_roll_log,
    .roll_put = op_roll_put,
    .rolls_forget = op_rolls_forget,
    .case_get = op_case_get,
    .case_get_held = op_case_get_held,
    .case_try_hold = op_case_try_hold,
    .case_ahead = op_case_ahead,
    .pays_ahead = op_pays_ahead,
    .case_exists = op_case_exists,
    .case_mover = op_case_mover,
    .case_exists_or_hold_opening = op_case_exists_or_hold_opening,
    .case_exists_or_try_opening = op_case_exists_or_try_opening,
    .hold_opening = op_hold_opening,
    .borrower_get = op_borrower_get,
    .read_case_rows = op_read_case_rows,
    .cases_each = op_cases_each,
    .journal_each = op_journal_each,
    .read_report = op_read_report,
    .read_figures = op_read_figures,
    .figures_days = op_figures_days,
    .read_count = op_read_count,
    .read_total = op_read_total,
    .task_get = op_task_get,
    .promise_get = op_promise_get,
    .promise_user_get = op_promise_user_get,
    .installments_unpaid = op_installments_unpaid,
    .installment_get = op_installment_get,
    .payment_by_ref = op_payment_by_ref,
    .variant_get = op_variant_get,
    .message_case = op_message_case,
    .message_read = op_message_read,
    .contact_times = op_contact_times,
    .borrower_decided = op_borrower_decided,
    .last_conversation = op_last_conversation,
    .last_contact = op_last_contact,
    .reply_case = op_reply_case,
    .cases_page = op_cases_page,
    .cases_phone = op_cases_phone,
    .tasks_page = op_tasks_page,
    .journal_page = op_journal_page,
    .errors_page = op_errors_page,
    .outbox_page = op_outbox_page,
    .work_page = op_work_page,
    .work_queues = op_work_queues,
    .work_counts = op_work_counts,
    .work_areas = op_work_areas,
    .work_promises = op_work_promises,
    .work_promises_count = op_work_promises_count,
    .case_visible = op_case_visible,
    .users_each = op_users_each,
    .user_get = op_user_get,
    .session_get = op_session_get,
    .rolls = op_rolls,
    .cases_below_version = op_cases_below_version,
    .sim_read = op_sim_read,
    /* moving a book (branch "migrate") */
    .book_rows = op_book_rows,
    .book_put = op_book_put,
    .book_figures = op_book_figures,
    .book_place = op_book_place,
    .book_present = op_book_present,
    /* p99 (session 8) */
    .checkpoint_apart = op_checkpoint_apart,
    .durable = op_durable,
    .import_next = op_import_next,
};
