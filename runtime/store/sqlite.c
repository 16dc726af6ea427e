#define _GNU_SOURCE /* sync_file_range */
/* The SQLite backend (backend.h): every statement recoup runs on SQLite,
 * and the operations table over them. Statements are prepared once, on
 * first use, and reset after every call, so the hot path (a timer firing)
 * never re-parses SQL. The schema and its migrations are
 * sqlite_schema.c's; backups sqlite_backup.c's. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "bigmem.h"
#include "case_keep.h"
#include "jbuf.h"
#include "sqlmem.h"
#include "store/backend.h"
#include "store/book.h"
#include "store/sqlite.h"
#include "store/sqlite_checkpoint.h"

typedef struct sq sq;

static void sq_close(sq *st);
static void writeback_stop(sq *st);
static int sq_sync(sq *st, rc_error *err);
static int sq_event_fail(sq *st, int64_t id, rc_error *err);
static void timer_keys_forget(sq *st);
static int timer_keys_flush(sq *st, rc_error *err);
static int message_last_flush(sq *st, rc_error *err);
static void message_last_forget(sq *st);
static void outbox_fresh_forget(sq *st);
static void message_last_seen(sq *st, const char *id, int64_t last);
static int timer_keys_text(sq *st, jbuf *b, rc_error *err);
static int timer_keys_known(sq *st, const char *text, rc_error *err);
static int timer_keys_of(sq *st, const char *case_id, rc_error *err);
static int timer_keys_switch(sq *st, const char *case_id, rc_error *err);
static void journal_chain_forget(sq *st);
static void tasks_forget(sq *st);
static void tasks_seen(sq *st, const char *id, int open, int dirty);
static void case_chain_seen(sq *st, const char *id, sqlite3_stmt *s, int col);
static void chain_seen(sq *st, const char *id, int64_t head);
static int journal_ahead(sq *st, const char *id, int64_t *next, rc_error *err);

/* A figure's key: five parts of at most FIGURE_PART bytes each. */
#define FIGURE_PART 128
#define FIGURE_KEY_MAX (5 * (FIGURE_PART + 1))

enum {
  S_BEGIN,
  S_COMMIT,
  S_ROLLBACK,
  S_SAVEPOINT,
  S_RELEASE,
  S_ROLLBACK_TO,
  S_META_GET,
  S_META_PUT,
  S_BORROWER_UPSERT,
  S_BORROWER_NEW,
  S_BORROWER_GET,
  S_CONTACTS_DELETE,
  S_CONTACT_INSERT,
  S_CONTACT_DELETE,
  S_CONTACTS_PACKED,
  S_BORROWER_CASES,
  S_CASE_INSERT,
  S_CASE_INSERT_RUN,
  S_CASE_STEP_LAST,
  S_CASE_OPENING,
  S_CASES_ANY,
  S_BORROWERS_ANY,
  S_CASE_UPDATE,
  S_CASE_GET,
  S_CASE_EXISTS,
  S_CASE_MOVER,
  S_CASE_MOVER_ONLY,
  S_CASE_MOVER_AT,
  S_MESSAGE_STEP,
  S_CASE_STEP_ROW,
  S_CASE_STATE,
  S_CASE_STATE_AT,
  S_CASE_ERROR,
  S_CASE_DATA,
  S_CASE_TAGS,
  S_CASE_QUEUE,
  S_CASE_MONEY,
  S_CASE_HOLD,
  S_CASE_WORKFLOW,
  S_CASE_WORKFLOW_STATE,
  S_CASES_ALL,
  S_CASES_STATE,
  S_EVENT_KEY,
  S_EVENT_KEY_GET,
  S_EVENT_INSERT,
  S_EVENT_QUEUE,
  S_EVENT_NEXT,
  S_EVENT_DELETE,
  S_EVENT_FAIL,
  S_EVENTS_RETRY,
  S_EVENTS_PENDING,
  S_TIMER_INSERT,
  S_TIMER_ID,
  S_TIMER_LAST,
  S_TIMER_INSERT_ID,
  S_TIMER_NEXT,
  S_TIMERS_DUE,
  S_TIMERS_DUE_CASES,
  S_TIMERS_DUE_BARE,
  S_CLAIM_STEPS,
  S_CLAIM_BORROWERS,
  S_SCHEMA_VERSION,
  S_CASE_TRIGGERS,
  S_BORROWER_TRIGGERS,
  S_TIMER_DELETE,
  S_TIMER_DELETE_REAL,
  S_TIMER_FIRED,
  S_TIMERS_FIRED_AT,
  S_TIMERS_FIRED_AMID,
  S_TIMER_END,
  S_TIMER_KEYS,
  S_TIMER_KEYS_PUT,
  S_CASE_JOURNAL,
  S_TIMERS_CASE,
  S_TIMERS_COUNT,
  S_DATA_VERSION,
  S_JOURNAL_APPEND,
  S_JOURNAL_CASE,
  S_JOURNAL_TAIL,
  S_JOURNAL_COUNT,
  S_JOURNAL_NEXT,
  S_JOURNAL_HEAD,
  S_MESSAGE_INSERT,
  S_MESSAGE_NEXT,
  S_CLAIMW_TRIGGERS,
  S_MESSAGE_LAST,
  S_MESSAGE_LAST_PUT,
  S_MESSAGES_CASE,
  S_MESSAGES_ALL,
  S_MESSAGE_STATUS,
  S_MESSAGE_CASE,
  S_MESSAGE_READ,
  S_TASK_INSERT,
  S_TASKS_CASE,
  S_TASKS_ALL,
  S_TASK_GET,
  S_TASK_COMPLETE,
  S_TASKS_CANCEL,
  S_TASKS_OPEN,
  S_PAYMENT_INSERT,
  S_PAYMENT_BY_REF,
  S_OVERPAID_TOTAL,
  S_REDUCED_TOTAL,
  S_PAYMENTS_TOTAL,
  S_VARIANT_GET,
  S_VARIANT_PUT,
  S_PROMISE_SUPERSEDE,
  S_PROMISE_INSERT,
  S_PROMISE_OPEN,
  S_PROMISE_GET,
  S_PROMISE_UPDATE,
  S_PLAN_SUPERSEDE,
  S_PLAN_CANCEL_INSTALLMENTS,
  S_PLAN_INSERT,
  S_INSTALLMENT_INSERT,
  S_INSTALLMENTS_UNPAID,
  S_INSTALLMENT_GET,
  S_INSTALLMENT_UPDATE,
  S_PLAN_STATUS,
  S_PLAN_EACH,
  S_TASK_CLAIM,
  S_REPORT_STATES,
  S_REPORT_DPD,
  S_REPORT_PROMISES,
  S_REPORT_INSTALLMENTS,
  S_REPORT_CONTACTS,
  S_REPORT_REFUSALS,
  S_REPORT_VARIANTS,
  S_REPORT_VERSIONS,
  S_REPORT_MONEY,
  S_CONTACTS_MSG_CASE,
  S_CONTACTS_MSG_BORROWER,
  S_CONTACTS_TASK_CASE,
  S_CONTACTS_TASK_BORROWER,
  S_LAST_CONVERSATION,
  S_BORROWER_DNC,
  S_BORROWER_CEASED,
  S_MESSAGE_RELEASE,
  S_MESSAGE_RECHECK,
  S_MESSAGES_CANCEL_DEFERRED,
  S_OUTBOX_DUE,
  S_OUTBOX_FRESH,
  S_MESSAGES_END,
  S_OUTBOX_FRESH_ONE,
  S_MESSAGE_ATTEMPT,
  S_REPLY_CASE,
  S_CASES_BELOW,
  S_CASES_PAGE,
  S_CASES_PHONE,
  S_CASES_WINDOW_END,
  S_TASKS_PAGE,
  S_TASKS_PAGE_BY,
  S_TASKS_PAGE_HELD,
  S_TASKS_PAGE_CLAIMED,
  S_TASKS_PAGE_QUEUE,
  S_JOURNAL_PAGE,
  S_TIMERS_OVERDUE,
  S_META_DELETE,
  S_ERRORS_PAGE,
  S_USER_INSERT,
  S_USER_GET,
  S_USER_DISABLED,
  S_USER_PASSWORD,
  S_USER_DISPLAY,
  S_USER_QUEUES,
  S_USERS,
  S_USER_LOG,
  S_WORK_PAGE,
  S_WORK_QUEUES,
  S_WORK_COUNTS,
  S_WORK_AREAS,
  S_WORK_PROMISES,
  S_WORK_PROMISES_COUNT,
  S_CASE_VISIBLE,
  S_LAST_CONTACT,
  S_TASK_ASSIGN,
  S_SESSION_INSERT,
  S_SESSION_GET,
  S_SESSION_TOUCH,
  S_SESSION_DELETE,
  S_SESSIONS_OF_USER_DELETE,
  S_SESSIONS_STALE_DELETE,
  S_FIGURE_ADD,
  S_FIGURES_STATE_ADD,
  S_FIGURES_DUE_ADD,
  S_CASE_FIGURES,
  S_ARMS_CLOSED_PAID,
  S_FIGURES_MSG_ADD,
  S_FIGURES_MSG_COUNT,
  S_FIGURES_TASK_ADD,
  S_FIGURES_TASK_GONE,
  S_TASKS_CANCELLING,
  S_MESSAGE_STATUS_GET,
  S_FIGURES_STATES,
  S_FIGURES_DUE,
  S_FIGURES_PROMISES,
  S_FIGURES_QUEUES,
  S_FIGURES_DAYS,
  S_FIGURES_ARMS,
  S_PROMISE_USER_PUT,
  S_PROMISE_USER_GET,
  S_MESSAGE_CURSOR,
  S_OUTBOX_PAGE,
  S_OUTBOX_WINDOW_END,
  S_OUTBOX_PAGE_FRESH,
  S_OUTBOX_WINDOW_END_FRESH,
  S_OUTBOX_FRESH_CUT,
  S_ROLL_LOG,
  S_ROLLS_MONTH,
  S_ROLLS_LOGGED,
  S_ROLL_PUT,
  S_ROLLS_FORGET,
  S_COUNT
};

#define CASE_COLS                                                       \
  "id, borrower_id, workflow, version, state, closed, outcome, error, " \
  "product, currency, principal, balance, amount_due, fees, due_date, " \
  "opened_at, score, tags, data, queue, on_hold, overpaid, reduced"
#define MESSAGE_COLS                                                    \
  "id, case_id AS 'case', borrower_id AS borrower, channel, template, " \
  "recipient AS 'to', to_kind, body, status, reason, at, not_before"
/* A journal row out of its run; the same columns as the journal view. */
#define JOURNAL_COLS                                                   \
  "r.id + e.key AS id, " SQLITE_JOURNAL_AT("e.value", "r.at") " AS at, " \
  "e.value ->> 0 AS kind, e.value ->> 1 AS state, "                      \
  "e.value ->> 2 AS version, " SQLITE_JOURNAL_DETAIL("e.value", "?1")    \
  " AS detail"
/* A case's journal runs (?1 the case) as the table r(id, prev, n, rows,
 * seen: rows in it and the newer runs, at), newest first: from the run the
 * case's row names (journal_last) down each run's prev. Each step goes to
 * an older run of the same case, so a damaged link ends the walk; it never
 * loops or strays into another case's journal. WHILE: whether the walk
 * goes on past run r. */
#define JOURNAL_CHAIN(WHILE)                                                 \
  "WITH RECURSIVE r(id, prev, n, rows, seen, at) AS (SELECT j.id, j.prev, " \
  "j.n, j.rows, j.n, j.at FROM case_steps c, journal_runs j WHERE "          \
  "c.id = ?1 AND j.id = c.journal_last AND j.case_id = ?1 UNION ALL "        \
  "SELECT j.id, j.prev, j.n, j.rows, r.seen + j.n, j.at FROM r, "            \
  "journal_runs j WHERE j.id = r.prev AND j.id < r.id AND j.case_id = ?1 "   \
  "AND " WHILE ") "
/* A case's messages (?1 the case; BORROWER: all the cases of borrower
 * ?1) as the table r(id), newest first: from the message the case's row
 * names (message_last) down each message's prev. Each step goes to an
 * older message of the same case, so a damaged link ends the walk. UNTIL
 * ends it early too: the guard's window stops at the first message not
 * after its start (?3), as a message's time is when it was written, so
 * that a case's history is not read at each contact (2,000 old messages
 * made a window 130 times dearer). */
#define MESSAGE_CHAIN(WHERE, UNTIL)                                            \
  "WITH RECURSIVE r(id, case_id) AS (SELECT message_last, id FROM case_steps " \
  "WHERE " WHERE                                                               \
  " AND message_last <> 0 UNION ALL SELECT m.prev, r.case_id "                 \
  "FROM r, messages m WHERE m.id = r.id AND m.prev <> 0 AND m.prev < m.id "    \
  "AND m.case_id = r.case_id" UNTIL ") "
#define TASK_COLS                                                        \
  "id, case_id AS 'case', kind, queue, due, assignee, status, outcome, " \
  "at, completed_at, fields, result, priority"

/* A case a named agent may see (DESIGN.md "Who sees what"): a waiting
 * task of it in one of the agent's queues (?Q, a JSON array), or a task
 * the agent (?U) completed since ?S. Read down tasks_case: a case has few
 * tasks. */
#define VISIBLE(case_, Q, U, S)                                           \
  "EXISTS (SELECT 1 FROM tasks v WHERE v.case_id = " case_ " AND "      \
  "(((v.status = 'open' OR v.status = 'claimed') AND v.queue IN "        \
  "(SELECT value FROM json_each(" Q "))) OR (v.status = 'done' AND "     \
  "v.assignee = " U " AND v.completed_at >= " S ")))"

/* A case's columns from its two tables, r and s, as CASE_COLS and then
 * case_steps' own and its rowid, which the view cannot give. */
#define CASE_ROW_STEP_COLS                                              \
  "r.id, r.borrower_id, r.workflow, r.version, s.state, s.closed, "     \
  "s.outcome, r.error, r.product, r.currency, r.principal, r.balance, " \
  "r.amount_due, r.fees, r.due_date, r.opened_at, r.score, r.tags, "    \
  "r.data, r.queue, r.on_hold, r.overpaid, r.reduced, s.timer_keys, "   \
  "s.journal_last, s.tasks_open, s.message_last, s.rowid"
/* Case ?'s case_rows row (schema 33): found by its case_steps rowid,
 * the id checked. */
#define CASE_ROW_OF(ID) \
  "step_row = (SELECT rowid FROM case_steps WHERE id = " ID ") AND id = " ID
/* A due message and what the guard asks of it again as it leaves, in
 * the statement that finds it (outgoing_rows): its case's state and
 * mover (case_steps by id), hold (case_rows by step_row), borrower's
 * zone and blocks (borrowers by id) — three seeks a message, where a
 * read of their own cost a statement more (store_outbox_guard_get,
 * session 39). Left joins: a message whose case is gone still comes,
 * and the outbox holds it. */
#define OUTBOX_COLS                                                       \
  "SELECT m.id, m.case_id, m.borrower_id, m.channel, m.template, "        \
  "m.recipient, m.body, m.attempts, m.at, m.state, m.step, s.state, "     \
  "s.closed, s.mover, r.on_hold, b.timezone, b.ceased, b.do_not_contact " \
  "FROM messages m LEFT JOIN case_steps s ON s.id = m.case_id "           \
  "LEFT JOIN case_rows r ON r.step_row = s.step_row AND r.id = s.id "     \
  "LEFT JOIN borrowers b ON b.id = r.borrower_id "
/* The claim's columns up to its case's (S_TIMERS_DUE). */
#define TIMERS_DUE_CASES \
  "SELECT t.id, t.case_id, t.due, t.event, t.data, " CASE_ROW_STEP_COLS
/* Its case_steps row at the rowid the timer keeps (schema 30), and its
 * case_rows row at the same (schema 33): two seeks of integer keys,
 * where an id's is a search of text keys. Every timer the store sets
 * keeps it (each write of a timer follows a read or an insert of its
 * case, step_row_of). NULL (a timer inserted by hand) or stale (the row
 * made again since; the ids checked) finds no row: the claim keeps no
 * case for it (ahead_keep) and the step reads that case by id, as a
 * timer of a case not claimed. */
#define TIMERS_DUE_FROM                                                  \
  " FROM timers t "                                                      \
  "LEFT JOIN case_steps s ON s.rowid = t.step_row AND s.id = t.case_id " \
  "LEFT JOIN case_rows r ON r.step_row = s.rowid AND r.id = t.case_id "
#define TIMERS_DUE_WHERE "WHERE t.due <= ?1 ORDER BY t.due, t.id LIMIT ?2"

/* A borrower's columns as borrower_read reads them, each after prefix p
 * ("b." or ""). */
#define BORROWER_COLS(p)                                                 \
  p "id, " p "name, " p "locale, " p "timezone, " p "address, " p        \
  "employer_name, " p "employer_phone, " p "employer_address, " p        \
  "do_not_contact, " p "ceased, " p "area, " p "contacts_packed"

/* A borrower's row as store_borrower gives it (bind_borrower), its
 * contacts packed in ?12: NULL when the list is not given, and a new
 * borrower then has none. */
#define BORROWER_INSERT                                                  \
  "INSERT INTO borrowers(id, name, locale, timezone, address, "          \
  "employer_name, employer_phone, employer_address, do_not_contact, "    \
  "ceased, area, contacts_packed) VALUES (?1, coalesce(?2, ''), ?3, ?4, " \
  "?5, ?6, ?7, ?8, ?9, ?10, ?11, coalesce(?12, '" SQLITE_CONTACTS_NONE "'))"

/* My work's count of a queue's waiting tasks due before a bound (see
 * S_WORK_COUNTS). */
#define WORK_COUNT(DAY, FROM, TO)                                            \
  "((SELECT coalesce(sum(n), 0) FROM figures_tasks WHERE queue = ?1 AND "    \
  "day < " DAY " AND (?8 IS NULL OR claimed = 0 OR assignee = ?8)) + "       \
  "(SELECT count(*) FROM tasks WHERE queue = ?1 AND status IN ('open', "     \
  "'claimed') AND due >= " FROM " AND due < " TO ") - (SELECT count(*) "     \
  "FROM tasks WHERE ?8 IS NOT NULL AND queue = ?1 AND status = 'claimed' "   \
  "AND due >= " FROM " AND due < " TO " AND assignee IS NOT ?8))"

static const char *const sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_SAVEPOINT] = "SAVEPOINT ev",
    [S_RELEASE] = "RELEASE ev",
    [S_ROLLBACK_TO] = "ROLLBACK TO ev",
    [S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [S_META_PUT] =
        "INSERT INTO meta(key, value) VALUES (?1, ?2) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [S_BORROWER_UPSERT] = BORROWER_INSERT
        " ON CONFLICT(id) DO UPDATE SET"
        " name = coalesce(?2, name), locale = coalesce(?3, locale),"
        " timezone = coalesce(?4, timezone), address = coalesce(?5, address),"
        " employer_name = coalesce(?6, employer_name),"
        " employer_phone = coalesce(?7, employer_phone),"
        " employer_address = coalesce(?8, employer_address),"
        " do_not_contact = max(do_not_contact, ?9),"
        " area = coalesce(?11, area),"
        " contacts_packed = coalesce(?12, contacts_packed)",
    /* A borrower not in the book yet, or nothing (sqlite3_changes 0). */
    [S_BORROWER_NEW] = BORROWER_INSERT " ON CONFLICT(id) DO NOTHING",
    /* The borrower and their contacts packed (schema 23): a reminder
     * reads one of these per case. */
    [S_BORROWER_GET] =
        "SELECT " BORROWER_COLS("") " FROM borrowers WHERE id = ?1",
    /* Every contact of a borrower: a scan since the table is keyed by
     * value (schema 28), run only when the copy on the borrower's row
     * does not say them all (sq_borrower_upsert). */
    [S_CONTACTS_DELETE] = "DELETE FROM contacts WHERE borrower_id = ?1",
    /* One contact by its key, as the borrower's packed copy says it. */
    [S_CONTACT_DELETE] =
        "DELETE FROM contacts WHERE value = coalesce(?1, X'') AND "
        "borrower_id = ?2 AND position = ?3",
    /* A contact without a value keeps X'' in the key (schema 28). A
     * row of the borrower's the copy did not name (added by hand, which
     * check --db names) may hold the key: it is that contact, written
     * over, where the import stopped at its key (contacts_delete finds
     * only the copy's rows). Its own key only: a unique index of the
     * owner's still refuses. */
    [S_CONTACT_INSERT] =
        "INSERT INTO contacts(borrower_id, kind, value, name, relation, "
        "position) VALUES (?1, ?2, coalesce(?3, X''), ?4, ?5, ?6) "
        "ON CONFLICT(value, borrower_id, position) DO UPDATE SET "
        "kind = excluded.kind, name = excluded.name, "
        "relation = excluded.relation",
    [S_CONTACTS_PACKED] =
        "UPDATE borrowers SET contacts_packed = ?2 WHERE id = ?1",
    [S_BORROWER_CASES] =
        "SELECT id, state, balance FROM cases "
        "WHERE borrower_id = ?1 ORDER BY id",
    /* A new case is two rows (schema 21): case_rows' columns numbered
     * as the case's fields (bind_case), case_steps' its own
     * (bind_steps). case_rows' row is written second, keyed by the
     * rowid of the first (?5, schema 33). */
    [S_CASE_INSERT] =
        "INSERT INTO case_rows(id, borrower_id, workflow, version, error, "
        "product, currency, principal, balance, amount_due, fees, due_date, "
        "opened_at, score, tags, data, queue, on_hold, step_row) VALUES (?1, "
        "?2, ?3, ?4, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, "
        "?19, ?20, ?21, ?5)",
    /* A case written at its opening's run (held_write_first) names the
     * run and the timers its handler set (?5, ?6; 0 and '' otherwise):
     * one write instead of two. Its rowid ?7, NULL for the next. */
    [S_CASE_INSERT_RUN] =
        "INSERT INTO case_steps(rowid, id, state, closed, outcome, "
        "journal_last, timer_keys) VALUES (?7, ?1, ?2, ?3, ?4, ?5, ?6)",
    /* The largest case_steps rowid: the next cases' rows follow it
     * (pending_flush). */
    [S_CASE_STEP_LAST] = "SELECT coalesce(max(rowid), 0) FROM case_steps",
    [S_CASE_UPDATE] =
        "UPDATE case_rows SET product = ?2, currency = ?3, principal = ?4, "
        "balance = ?5, amount_due = ?6, fees = ?7, due_date = ?8, score = ?9,"
        " data = ?10, tags = ?11, reduced = ?12 WHERE " CASE_ROW_OF("?1"),
    /* timer_keys and journal_last last: the step's read of its case
     * brings them. */
    /* The view's join, of the tables: its case_steps rowid too, which
     * the timers its step sets keep (step_row_of). */
    [S_CASE_GET] = "SELECT " CASE_ROW_STEP_COLS
                   " FROM case_steps s JOIN case_rows r ON r.step_row = "
                   "s.rowid AND r.id = s.id WHERE s.id = ?1",
    /* The narrow table: more keys a page to search. */
    [S_CASE_EXISTS] = "SELECT 1 FROM case_steps WHERE id = ?1",
    /* The case's mover and the move its message ?2 waits on (NULL: 0). */
    [S_CASE_MOVER] = "SELECT s.mover, (SELECT m.step FROM messages m WHERE "
                     "m.id = ?2) FROM case_steps s WHERE s.id = ?1",
    /* The same without the message: read while a batch's rows wait. */
    [S_CASE_MOVER_ONLY] = "SELECT mover FROM case_steps WHERE id = ?1",
    /* At the row the claim read it from (?2, its rowid), the id checked:
     * a seek of integer keys. */
    [S_CASE_MOVER_AT] =
        "SELECT mover FROM case_steps WHERE rowid = ?2 AND id = ?1",
    /* A message's move waited on (?2), or the case's mover (?2 < 0). */
    [S_MESSAGE_STEP] =
        "UPDATE messages SET step = CASE WHEN ?2 < 0 THEN (SELECT mover "
        "FROM case_steps WHERE id = ?3) ELSE ?2 END WHERE id = ?1 AND "
        "case_id = ?3",
    /* A timer's case's rowid, where its write follows no read of the
     * case (sq_timer_insert): what the claim finds the case's row by. */
    [S_CASE_STEP_ROW] = "SELECT rowid FROM case_steps WHERE id = ?1",
    /* The same, for an import's row (held_safe: never a held case). */
    [S_CASE_OPENING] = "SELECT 1 FROM case_steps WHERE id = ?1",
    [S_CASES_ANY] = "SELECT 1 FROM cases LIMIT 1",
    [S_BORROWERS_ANY] = "SELECT 1 FROM borrowers LIMIT 1",
    /* With the timers the step left the case (?5, timer_keys), the run
     * its journal is about to get (?6, journal_last) and 0 when its tasks
     * were just cancelled (?7, tasks_open), each NULL when unchanged: the
     * one write of the case's row a step makes. */
    [S_CASE_STATE] =
        "UPDATE case_steps SET state = ?2, closed = ?3, outcome = ?4, "
        "timer_keys = coalesce(?5, timer_keys), "
        "journal_last = coalesce(?6, journal_last), "
        "tasks_open = coalesce(?7, tasks_open), "
        "message_last = coalesce(?8, message_last), mover = ?10 WHERE id = ?1",
    /* The same at the row the claim read (?9, its rowid; schema 29):
     * one seek of integer keys, where the id's is a search of text keys
     * and finds the rowid only. The id checked too: a rowid read before
     * is a hint, never the case's key. */
    [S_CASE_STATE_AT] =
        "UPDATE case_steps SET state = ?2, closed = ?3, outcome = ?4, "
        "timer_keys = coalesce(?5, timer_keys), "
        "journal_last = coalesce(?6, journal_last), "
        "tasks_open = coalesce(?7, tasks_open), "
        "message_last = coalesce(?8, message_last), mover = ?10 "
        "WHERE rowid = ?9 AND id = ?1",
    /* A run written for a case whose row did not name it yet. */
    [S_CASE_JOURNAL] =
        "UPDATE case_steps SET journal_last = ?2, "
        "timer_keys = coalesce(?3, timer_keys) WHERE id = ?1",
    [S_CASE_ERROR] =
        "UPDATE case_rows SET error = ?2 WHERE " CASE_ROW_OF("?1"),
    [S_CASE_DATA] = "UPDATE case_rows SET data = ?2 WHERE " CASE_ROW_OF("?1"),
    [S_CASE_TAGS] = "UPDATE case_rows SET tags = ?2 WHERE " CASE_ROW_OF("?1"),
    [S_CASE_QUEUE] =
        "UPDATE case_rows SET queue = ?2 WHERE " CASE_ROW_OF("?1"),
    [S_CASE_MONEY] =
        "UPDATE case_rows SET balance = ?2, amount_due = ?3, overpaid = ?4 "
        "WHERE " CASE_ROW_OF("?1"),
    [S_CASE_HOLD] =
        "UPDATE case_rows SET on_hold = ?2 WHERE " CASE_ROW_OF("?1"),
    /* A case moved to another workflow or version (a reload's migrate):
     * its two rows written apart, never through the cases view, whose
     * trigger writes case_steps' id and so has SQLite look for the
     * events of the old id, which no index keys (a walk of every pending
     * event a case moved). */
    [S_CASE_WORKFLOW] = "UPDATE case_rows SET workflow = ?2, version = ?3 "
                        "WHERE " CASE_ROW_OF("?1"),
    [S_CASE_WORKFLOW_STATE] = "UPDATE case_steps SET state = ?2 WHERE id = ?1",
    [S_CASES_ALL] =
        "SELECT id, state, workflow, version, balance, error "
        "FROM cases ORDER BY id",
    [S_CASES_STATE] =
        "SELECT id, state, workflow, version, balance, error "
        "FROM cases WHERE state = ?1 ORDER BY id",
    [S_EVENT_KEY] =
        "INSERT INTO event_keys(key, case_id, at, type) "
        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(key) DO NOTHING",
    [S_EVENT_KEY_GET] = "SELECT case_id, type FROM event_keys WHERE key = ?1",
    /* An event for a case in error is parked with the case's failed one
     * ("failed"), not queued: the retry re-queues them all in order, and
     * the queue does not walk past parked events on every read (with a
     * broken workflow that can be most of the book). */
    [S_EVENT_QUEUE] =
        "INSERT INTO events(case_id, type, data, at, status) "
        "SELECT ?1, ?2, ?3, ?4, CASE WHEN c.error IS NULL THEN 'pending' "
        "ELSE 'failed' END FROM cases c WHERE c.id = ?1",
    [S_EVENT_INSERT] =
        "INSERT INTO events(case_id, type, data, at, status) "
        "VALUES (?1, ?2, ?3, ?4, ?5)",
    /* Per-case order: a case in error holds all its later events. Those
     * queued before it failed come back flagged, to be parked. */
    [S_EVENT_NEXT] =
        "SELECT e.id, e.case_id, e.type, e.data, e.at, c.error IS NOT NULL "
        "FROM events e JOIN cases c ON c.id = e.case_id "
        "WHERE e.status = 'pending' AND e.id > ?2 ORDER BY e.id LIMIT ?1",
    [S_EVENT_DELETE] = "DELETE FROM events WHERE id = ?1",
    [S_EVENT_FAIL] = "UPDATE events SET status = 'failed' WHERE id = ?1",
    [S_EVENTS_RETRY] =
        "UPDATE events SET status = 'pending' "
        "WHERE case_id = ?1 AND status = 'failed'",
    [S_EVENTS_PENDING] = "SELECT count(*) FROM events WHERE status='pending'",
    /* The next id at this due time: timers due together fire in the
     * order they were set. */
    [S_TIMER_INSERT] =
        "INSERT INTO timers(due, id, case_id, event, data, scoped, step_row)"
        " VALUES (?2, (SELECT coalesce(max(id), 0) + 1 FROM timers"
        " WHERE due = ?2), ?1, ?3, ?4, ?5, ?7) RETURNING id",
    /* The same in two statements, where the transaction holds the write
     * lock: RETURNING fills a temporary table each time, half the
     * insert's cost. */
    [S_TIMER_ID] = "SELECT coalesce(max(id), 0) + 1 FROM timers WHERE due = ?1",
    [S_TIMER_LAST] = "SELECT coalesce(max(due), 0) FROM timers",
    [S_TIMER_INSERT_ID] =
        "INSERT INTO timers(due, id, case_id, event, data, scoped, step_row)"
        " VALUES (?2, ?6, ?1, ?3, ?4, ?5, ?7)",
    [S_TIMER_NEXT] = "SELECT min(due) FROM timers",
    /* Each timer's case beside it, as S_CASE_GET reads it (columns from
     * 5 on; NULL when the case is missing): the step's read of its case
     * takes it from the claim (ahead_take), and its borrower's from
     * column 32 on (ahead_borrower). The tables, not the view: a join on
     * the right of a LEFT JOIN is not flattened. */
    [S_TIMERS_DUE] = TIMERS_DUE_CASES ", " BORROWER_COLS("b.") TIMERS_DUE_FROM
        "LEFT JOIN borrowers b ON b.id = r.borrower_id " TIMERS_DUE_WHERE,
    /* The same without the borrowers, where the steps of the last claims
     * read too few of those read (ahead_drop). */
    [S_TIMERS_DUE_CASES] = TIMERS_DUE_CASES TIMERS_DUE_FROM TIMERS_DUE_WHERE,
    /* The same timers without their cases, where the steps of the last
     * claims took too few of those read (ahead_drop). */
    [S_TIMERS_DUE_BARE] =
        "SELECT id, case_id, due, event, data FROM timers "
        "WHERE due <= ?1 ORDER BY due, id LIMIT ?2",
    /* The cases of a claim whose case ids came in key order, read as a
     * range, a cursor walking case_steps' ids forward and each row's
     * case_rows beside it at the same rowid (ahead_ranges): a row a step
     * instead of a key looked up (2.1k instructions each). No upper
     * bound: stepped no further than the claim's last id (range_to), and
     * a bound is a comparison a row. Columns as S_CASE_GET's. */
    [S_CLAIM_STEPS] = "SELECT " CASE_ROW_STEP_COLS
                      " FROM case_steps s JOIN case_rows r ON r.step_row = "
                      "s.rowid AND r.id = s.id WHERE s.id >= ?1 ORDER BY s.id",
    [S_CLAIM_BORROWERS] = "SELECT " BORROWER_COLS("") " FROM borrowers "
                          "WHERE id >= ?1 ORDER BY id",
    [S_SCHEMA_VERSION] = "PRAGMA schema_version",
    /* A trigger of someone else's that may write a case's row from a
     * statement that does not name a case table (case_writes). Those of
     * the schema: the view's own, and figures_arm_new, which reads. */
    [S_CASE_TRIGGERS] =
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
        "name NOT IN ('cases_insert', 'cases_update', 'cases_delete', "
        "'figures_arm_new') AND (sql LIKE '%case_rows%' OR "
        "sql LIKE '%case_steps%' OR sql LIKE '%cases%')",
    /* A trigger that may write a borrower's row or contacts from a
     * statement that does not name them (borrower_writes): the schema
     * has none. */
    [S_BORROWER_TRIGGERS] =
        "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND "
        "(sql LIKE '%borrowers%' OR sql LIKE '%contacts%')",
    /* The whole timer, not only its key: a timer set after this one was
     * cancelled, due at the same time, is given the same id. */
    [S_TIMER_DELETE] =
        "DELETE FROM timers WHERE due = ?3 AND id = ?1 AND case_id = ?2 "
        "AND event = ?4 AND data IS ?5",
    /* The same timer whose due a book edited by hand holds as a real
     * number (300.5), the claim having read its integer part. */
    [S_TIMER_DELETE_REAL] =
        "DELETE FROM timers WHERE due > ?3 - 1 AND due < ?3 + 1 AND "
        "id = ?1 AND case_id = ?2 AND event = ?4 AND data IS ?5 AND "
        "typeof(due) <> 'integer'",
    /* A claimed timer fired, by its key alone (st->claimed). */
    [S_TIMER_FIRED] = "DELETE FROM timers WHERE due = ?1 AND id = ?2",
    /* The claimed timers fired, by their keys alone (st->fired): those
     * at the first and last due times, and all due between; each a seek
     * and a run of neighbouring entries. Not (due, id) >= (?, ?): its
     * row values are compared again on every row, 1.2k instructions a
     * timer more (callgrind). */
    [S_TIMERS_FIRED_AT] =
        "DELETE FROM timers WHERE due = ?1 AND id >= ?2 AND id <= ?3",
    [S_TIMERS_FIRED_AMID] = "DELETE FROM timers WHERE due > ?1 AND due < ?2",
    /* One of a case's timers, found by its key (timer_keys); ?4 an
     * event's name or NULL for any, ?5 1 for scoped timers only. The case
     * is checked: a key outlives its timer only in a book whose timers
     * were edited behind the store's back. */
    [S_TIMER_END] =
        "DELETE FROM timers WHERE due = ?1 AND id = ?2 AND case_id = ?3 "
        "AND (?4 IS NULL OR event = ?4) AND (?5 = 0 OR scoped)",
    /* journal_last too: the step that sets a timer journals next (an
     * import's `opened` handler reads its case no other way). */
    /* Its rowid too, which the timer about to be set keeps. */
    [S_TIMER_KEYS] =
        "SELECT timer_keys, journal_last, rowid FROM case_steps WHERE id = ?1",
    [S_TIMER_KEYS_PUT] =
        "UPDATE case_steps SET timer_keys = ?2 WHERE id = ?1",
    [S_TIMERS_CASE] =
        "SELECT t.id, t.event, t.due, t.data, t.scoped FROM case_steps c, "
        "json_each(CASE c.timer_keys WHEN '' THEN '[]' ELSE c.timer_keys "
        "END) k, timers t WHERE c.id = ?1 AND t.due = k.value ->> 0 AND "
        "t.id = k.value ->> 1 AND t.case_id = ?1 ORDER BY t.due, t.id",
    [S_TIMERS_COUNT] = "SELECT count(*) FROM timers",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_JOURNAL_APPEND] =
        "INSERT INTO journal_runs(id, case_id, at, n, prev, rows) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [S_JOURNAL_CASE] = JOURNAL_CHAIN("1") "SELECT " JOURNAL_COLS
                       " FROM r, json_each(r.rows) e ORDER BY r.id, e.key",
    /* The newest ?2 rows: the walk stops once its runs hold as many. */
    [S_JOURNAL_TAIL] =
        JOURNAL_CHAIN("r.seen < ?2") "SELECT * FROM (SELECT " JOURNAL_COLS
        " FROM r, json_each(r.rows) e ORDER BY r.id DESC, e.key DESC "
        "LIMIT ?2) ORDER BY id",
    /* instr() first: json_each on every run of a big journal took seven
     * times as long as a row each did; a row starts ["kind", in a run. */
    [S_JOURNAL_COUNT] =
        "SELECT count(*) FROM journal_runs r, json_each(r.rows) e WHERE "
        "instr(r.rows, '[' || json_quote(?1) || ',') AND e.value ->> 0 = ?1",
    /* Ids stay dense and increasing: a run starts after the last one. */
    [S_JOURNAL_NEXT] =
        "SELECT coalesce((SELECT id + n FROM journal_runs ORDER BY id DESC "
        "LIMIT 1), 1)",
    [S_JOURNAL_HEAD] =
        "SELECT journal_last FROM case_steps WHERE id = ?1",
    [S_MESSAGE_INSERT] =
        "INSERT INTO messages(case_id, borrower_id, channel, template, "
        "recipient, to_kind, body, status, reason, at, not_before, "
        "next_attempt, prev, state, step) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 0, ?12, ?13, "
        "?14)",
    /* The id the next message gets: an INTEGER PRIMARY KEY without
     * AUTOINCREMENT takes the largest plus one. */
    [S_MESSAGE_NEXT] = "SELECT coalesce(max(id), 0) + 1 FROM messages",
    /* A trigger of someone else's on the messages or the journal, or one
     * that may read them from a statement a claim's step runs while its
     * rows wait (claimw_allowed); or a UNIQUE index made by hand. A
     * CHECK, or a UNIQUE written inside the table (sql NULL here), is not
     * seen: a row it refuses fails the batch as contended and the rerun
     * writes rows as they come (claimw_flush), so its own step fails. */
    [S_CLAIMW_TRIGGERS] =
        "SELECT count(*) FROM sqlite_master WHERE (type = 'trigger' AND "
        "name NOT IN ('cases_insert', 'cases_update', 'cases_delete', "
        "'figures_arm_new', 'figures_arm_paid', 'figures_promise_new', "
        "'figures_promise_change')) OR (type = 'index' AND "
        "tbl_name IN ('messages', 'journal_runs') AND sql LIKE '%UNIQUE%')",
    [S_MESSAGE_LAST] =
        "SELECT message_last FROM case_steps WHERE id = ?1",
    [S_MESSAGE_LAST_PUT] =
        "UPDATE case_steps SET message_last = ?2 WHERE id = ?1",
    [S_MESSAGES_CASE] = MESSAGE_CHAIN("id = ?1", "") "SELECT " MESSAGE_COLS
                        " FROM messages WHERE id IN (SELECT id FROM r) "
                        "ORDER BY id",
    [S_MESSAGES_ALL] = "SELECT " MESSAGE_COLS " FROM messages ORDER BY id",
    [S_MESSAGE_STATUS] = "UPDATE messages SET status = ?2 WHERE id = ?1",
    [S_MESSAGE_CASE] = "SELECT case_id, status FROM messages WHERE id = ?1",
    [S_MESSAGE_READ] = "SELECT id, case_id AS 'case', channel, template, "
                       "recipient AS 'to' FROM messages WHERE id = ?1",
    [S_TASK_INSERT] =
        "INSERT INTO tasks(case_id, kind, queue, due, assignee, status, "
        "fields, state, keep, at, channel, priority) VALUES (?1, ?2, ?3, ?4, "
        "?5, 'open', ?6, ?7, ?8, ?9, ?10, ?11)",
    [S_TASKS_CASE] = "SELECT " TASK_COLS
                     " FROM tasks WHERE case_id = ?1 "
                     "ORDER BY id",
    [S_TASKS_ALL] = "SELECT " TASK_COLS " FROM tasks ORDER BY id",
    [S_TASK_GET] =
        "SELECT case_id, kind, status, outcome, result, queue, assignee, due "
        "FROM tasks WHERE id = ?1",
    [S_TASK_COMPLETE] =
        "UPDATE tasks SET status = 'done', outcome = ?2, result = ?3, "
        "completed_at = ?4 WHERE id = ?1 AND status IN ('open','claimed')",
    [S_TASKS_CANCEL] =
        "UPDATE tasks SET status = 'cancelled' WHERE case_id = ?1 "
        "AND NOT keep AND status IN ('open','claimed')",
    [S_TASKS_OPEN] =
        "UPDATE case_steps SET tasks_open = 1 WHERE id = ?1 AND NOT "
        "tasks_open",
    [S_PAYMENT_INSERT] =
        "INSERT INTO payments(case_id, amount, ref, at, currency) VALUES "
        "(?1,?2,?3,?4,?5) ON CONFLICT(ref) DO NOTHING",
    [S_PAYMENT_BY_REF] = "SELECT case_id, amount, currency FROM payments WHERE ref = ?1",
    [S_PAYMENTS_TOTAL] = "SELECT coalesce(sum(amount), 0) FROM payments",
    [S_OVERPAID_TOTAL] = "SELECT coalesce(sum(overpaid), 0) FROM cases",
    [S_REDUCED_TOTAL] = "SELECT coalesce(sum(reduced), 0) FROM cases",
    [S_VARIANT_GET] =
        "SELECT arm FROM variants WHERE case_id = ?1 "
        "AND experiment = ?2",
    [S_VARIANT_PUT] =
        "INSERT INTO variants(case_id, experiment, arm) "
        "VALUES (?1, ?2, ?3)",
    [S_PROMISE_SUPERSEDE] =
        "UPDATE promises SET status = 'superseded' "
        "WHERE case_id = ?1 AND status = 'open'",
    [S_PROMISE_INSERT] =
        "INSERT INTO promises(case_id, amount, by_date, "
        "status, at, currency) VALUES (?1, ?2, ?3, 'open', ?4, ?5)",
    [S_PROMISE_OPEN] =
        "SELECT id, amount, paid, by_date, status FROM "
        "promises WHERE case_id = ?1 AND status = 'open' "
        "ORDER BY id DESC LIMIT 1",
    [S_PROMISE_GET] =
        "SELECT id, amount, paid, by_date, status FROM "
        "promises WHERE id = ?1",
    [S_PROMISE_UPDATE] =
        "UPDATE promises SET paid = ?2, status = ?3 "
        "WHERE id = ?1",
    [S_PLAN_SUPERSEDE] =
        "UPDATE plans SET status = 'superseded' "
        "WHERE case_id = ?1 AND status = 'open'",
    [S_PLAN_CANCEL_INSTALLMENTS] =
        "UPDATE installments SET status = 'cancelled' WHERE status IN "
        "('due','missed') AND plan_id IN (SELECT id FROM plans WHERE "
        "case_id = ?1 AND status = 'superseded')",
    [S_PLAN_INSERT] =
        "INSERT INTO plans(case_id, total, grace, status, at) "
        "VALUES (?1, ?2, ?3, 'open', ?4)",
    [S_INSTALLMENT_INSERT] =
        "INSERT INTO installments(plan_id, seq, due_date, amount, status) "
        "VALUES (?1, ?2, ?3, ?4, 'due')",
    [S_INSTALLMENTS_UNPAID] =
        "SELECT i.id, i.plan_id, i.seq, i.due_date, i.amount, i.paid, "
        "i.status FROM installments i JOIN plans p ON p.id = i.plan_id "
        "WHERE p.case_id = ?1 AND p.status = 'open' AND i.paid < i.amount "
        "AND i.status IN ('due','missed') ORDER BY i.seq",
    [S_INSTALLMENT_GET] =
        "SELECT i.id, i.plan_id, i.seq, i.due_date, i.amount, i.paid, "
        "i.status, p.status FROM installments i JOIN plans p ON "
        "p.id = i.plan_id WHERE i.id = ?1",
    [S_INSTALLMENT_UPDATE] =
        "UPDATE installments SET paid = ?2, "
        "status = ?3 WHERE id = ?1",
    [S_PLAN_STATUS] = "UPDATE plans SET status = ?2 WHERE id = ?1",
    [S_PLAN_EACH] =
        "SELECT p.id AS plan, p.total, p.status AS plan_status, i.id, i.seq,"
        " i.due_date AS due, i.amount, i.paid, i.status FROM plans p JOIN "
        "installments i ON i.plan_id = p.id WHERE p.case_id = ?1 AND "
        "p.id = (SELECT max(id) FROM plans WHERE case_id = ?1) "
        "ORDER BY i.seq",
    [S_TASK_CLAIM] =
        "UPDATE tasks SET status = 'claimed', assignee = ?2 "
        "WHERE id = ?1 AND status = 'open'",
    [S_REPORT_STATES] =
        "SELECT workflow, state, currency, count(*) AS cases, sum(balance) "
        "AS balance, sum(error IS NOT NULL) AS errors, sum(closed) AS closed "
        "FROM cases GROUP BY workflow, state, currency "
        "ORDER BY workflow, state, currency",
    /* Days past due in the institution's calendar: today is passed in. */
    [S_REPORT_DPD] =
        "SELECT CASE WHEN d <= 0 THEN 'current' WHEN d <= 30 THEN '1-30' "
        "WHEN d <= 60 THEN '31-60' WHEN d <= 90 THEN '61-90' ELSE '90+' END "
        "AS bucket, currency, count(*) AS cases, sum(balance) AS balance "
        "FROM (SELECT CAST(julianday(?1) - julianday(coalesce(due_date, ?1)) "
        "AS INTEGER) AS d, currency, balance FROM cases WHERE NOT closed) "
        "GROUP BY bucket, currency ORDER BY min(d), currency",
    /* Each status's promises by the currency each was made in (the
     * case's for a row another program wrote without one). */
    [S_REPORT_PROMISES] =
        "SELECT status, coalesce(currency, (SELECT c.currency FROM cases c "
        "WHERE c.id = p.case_id)) AS currency, count(*) AS promises, "
        "sum(amount) AS amount, sum(paid) AS paid FROM promises p GROUP BY "
        "1, 2 ORDER BY 1, 2",
    /* By the currency of each plan's case now: a case holding an open
     * plan cannot change currency, so only a plan that ended before its
     * case moved reads in the new one. */
    [S_REPORT_INSTALLMENTS] =
        "SELECT status, (SELECT c.currency FROM plans p JOIN cases c ON "
        "c.id = p.case_id WHERE p.id = i.plan_id) AS currency, count(*) AS "
        "installments, sum(amount) AS amount, sum(paid) AS paid FROM "
        "installments i GROUP BY 1, 2 ORDER BY 1, 2",
    [S_REPORT_CONTACTS] =
        "SELECT 'message' AS kind, channel, status, count(*) AS count FROM "
        "messages GROUP BY channel, status UNION ALL SELECT 'task', kind, "
        "status, count(*) FROM tasks GROUP BY kind, status "
        "ORDER BY 1, 2, 3",
    /* Every deferral and refusal the guard made, messages and tasks. */
    [S_REPORT_REFUSALS] =
        "SELECT json_extract(e.value, '$[4].verdict') AS status, "
        "json_extract(e.value, '$[4].reason') AS reason, count(*) AS count "
        "FROM journal_runs r, json_each(r.rows) e WHERE "
        "instr(r.rows, '[\"policy\",') AND e.value ->> 0 = 'policy' "
        "GROUP BY 1, 2 ORDER BY 1, 2",
    [S_REPORT_VERSIONS] =
        "SELECT workflow, version, count(*) AS cases FROM cases WHERE "
        "closed = 0 GROUP BY workflow, version ORDER BY workflow, version",
    /* An arm's cases and balance in their currency, what it recovered
     * in the currency each payment came in (a case moved from kuna to
     * euro: its kuna payments are kuna, step 34). CROSS JOIN: each arm
     * case's payments by their case, never every payment of the book. */
    [S_REPORT_VARIANTS] =
        "SELECT experiment, arm, currency, sum(cases) AS cases, sum(paid) "
        "AS paid, sum(balance) AS balance, sum(recovered) AS recovered FROM "
        "(SELECT v.experiment, v.arm, c.currency, 1 AS cases, (c.closed AND "
        "c.outcome = 'paid') AS paid, c.balance, 0 AS recovered FROM "
        "variants v JOIN cases c ON c.id = v.case_id UNION ALL SELECT "
        "v.experiment, v.arm, coalesce(p.currency, c.currency), 0, 0, 0, "
        "p.amount FROM variants v CROSS JOIN payments p ON p.case_id = "
        "v.case_id "
        "JOIN cases c ON c.id = v.case_id) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    /* Money by currency: what payments brought in, in the currency each
     * came in (its case's then: step 34), what was paid over the balance
     * and what imports took off it, in the case's. */
    [S_REPORT_MONEY] =
        "SELECT currency, sum(paid) AS paid, sum(overpaid) AS overpaid, "
        "sum(reduced) AS reduced FROM (SELECT coalesce(p.currency, "
        "c.currency) AS currency, p.amount AS paid, 0 AS overpaid, 0 AS "
        "reduced FROM payments p JOIN cases c ON c.id = p.case_id "
        "UNION ALL SELECT currency, 0, overpaid, reduced FROM cases) "
        "GROUP BY currency ORDER BY currency",
    /* The guard reads the newest contacts in a window, as many as its
     * limit: their number is the count it compares, and the oldest of
     * them leaving the window is when there is room again. ?5 is the
     * message asked about (the largest id for one not yet written): it
     * does not count against itself, and of the deferred messages only
     * those written before it count, so that waiting messages go out in
     * the order they were written. */
    [S_CONTACTS_MSG_CASE] =
        MESSAGE_CHAIN("id = ?1", " AND m.at > ?3") "SELECT at FROM messages "
        "WHERE id IN "
        "(SELECT id FROM r) AND at > ?3 "
        "AND channel = ?2 AND status <> 'blocked' "
        "AND status <> 'cancelled' AND id <> ?5 AND (status <> 'deferred' OR "
        "id < ?5) ORDER BY at DESC LIMIT ?6",
    [S_CONTACTS_MSG_BORROWER] =
        MESSAGE_CHAIN("rowid IN (SELECT step_row FROM case_rows "
                      "WHERE borrower_id = ?1)",
                      " AND m.at > ?3") "SELECT at FROM "
        "messages WHERE "
        "id IN (SELECT id FROM r) AND channel = ?2 AND at > ?3 AND "
        "status <> 'blocked' "
        "AND status <> 'cancelled' AND id <> ?5 AND (status <> 'deferred' OR "
        "id < ?5) ORDER BY at DESC LIMIT ?6",
/* Comparisons, not IN (...): a list of three made SQLite build a
 * temporary index each time the guard asked. */
#define TASK_CHANNEL                                                  \
  "coalesce(t.channel, CASE t.kind WHEN 'call' THEN 'call' "          \
  "WHEN 'visit' THEN 'visit' WHEN 'home_visit' THEN 'visit' "         \
  "WHEN 'workplace_visit' THEN 'visit' END) = ?2 "
    [S_CONTACTS_TASK_CASE] =
        "SELECT t.at FROM tasks t WHERE t.case_id = ?1 AND " TASK_CHANNEL
        "AND t.at > ?3 AND t.status <> 'cancelled' ORDER BY t.at DESC "
        "LIMIT ?6",
    [S_CONTACTS_TASK_BORROWER] =
        "SELECT t.at FROM tasks t JOIN cases c ON c.id = t.case_id "
        "WHERE c.borrower_id = ?1 AND " TASK_CHANNEL
        "AND t.at > ?3 AND t.status <> 'cancelled' ORDER BY t.at DESC "
        "LIMIT ?6",
#undef TASK_CHANNEL
    [S_LAST_CONVERSATION] =
        "SELECT max(t.completed_at) FROM tasks t JOIN cases c ON "
        "c.id = t.case_id WHERE c.borrower_id = ?1 AND t.status = 'done' AND "
        "(json_extract(t.result, '$.conversation') IS 1 OR (t.kind = 'call' "
        "AND json_extract(t.result, '$.reached') IN (1, 'true', 'yes')))",
    [S_BORROWER_DNC] =
        "UPDATE borrowers SET do_not_contact = ?2 "
        "WHERE id = ?1",
    [S_BORROWER_CEASED] = "UPDATE borrowers SET ceased = ?2 WHERE id = ?1",
    /* Its next attempt 1, not 0: an old message queued again is read
     * from the outbox's index, not taken for a fresh one (step 22). */
    [S_MESSAGE_RELEASE] =
        "UPDATE messages SET status = 'queued', next_attempt = "
        "max(next_attempt, 1) WHERE id = ?1 AND status = 'deferred'",
    /* Down the case's chain, not the outbox's index: that walked every
     * deferred message of the book to find the case's (without the
     * index's condition the planner cannot take that index). The closing
     * step's own (?3) are spared; IS NOT: a message written before
     * schema 36 has no step, and is cancelled. */
    [S_MESSAGES_CANCEL_DEFERRED] =
        MESSAGE_CHAIN("id = ?1", "") "UPDATE messages SET status = "
        "'cancelled', reason = ?2 WHERE id IN (SELECT id FROM r) AND "
        "case_id = ?1 AND status = 'deferred' AND step IS NOT ?3",
    [S_MESSAGE_RECHECK] =
        "UPDATE messages SET status = ?2, reason = ?3, not_before = ?4 "
        "WHERE id = ?1 AND status = 'deferred'",
    /* The queued ones waiting again, down the outbox's index (the fresh
     * ones are not in it: S_OUTBOX_FRESH), next attempt from ?3 to ?1:
     * the released ones (1) are read apart from the retries. */
    [S_OUTBOX_DUE] = OUTBOX_COLS
        "WHERE status = 'queued' AND " SQLITE_OUTBOX_KEPT " AND next_attempt "
        "BETWEEN ?3 AND ?1 ORDER BY next_attempt, m.id LIMIT ?2",
    /* The fresh ones, from the fresh cursor ?1 on, in id order: what
     * this walk passes was written after the cursor and has been sent. */
    [S_OUTBOX_FRESH] = OUTBOX_COLS
        "WHERE m.id >= ?1 AND status = 'queued' AND next_attempt = 0 "
        "ORDER BY m.id LIMIT ?2",
    [S_MESSAGES_END] = "SELECT coalesce(max(id), 0) + 1 FROM messages",
    [S_OUTBOX_FRESH_ONE] = OUTBOX_COLS
        "WHERE m.id = ?1 AND status = 'queued' AND next_attempt = 0",
    [S_REPLY_CASE] =
        "SELECT c.id FROM contacts k JOIN cases c ON c.borrower_id = "
        "k.borrower_id WHERE k.value = ?1 AND k.kind IN ('phone','email') "
        "AND NOT c.closed ORDER BY (SELECT m.at FROM messages m WHERE "
        "m.id = c.message_last) DESC, "
        "c.opened_at DESC LIMIT 1",
    [S_CASES_BELOW] =
        "SELECT id, version, state FROM cases WHERE "
        "workflow = ?1 AND version < ?2 AND NOT closed "
        "ORDER BY id",
    /* A page reads at most ?5 cases after the cursor (see
     * store_cases_page) and keeps those that match. */
    [S_CASES_PAGE] =
        "SELECT " CASE_COLS
        " FROM (SELECT * FROM cases WHERE id > ?3 ORDER BY id LIMIT ?5) w "
        "WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR queue = ?2) "
        "AND (?6 IS NULL OR " VISIBLE("w.id", "?6", "?7", "?8") ") "
        "ORDER BY id LIMIT ?4",
    /* A caller's number: its borrowers by contacts_value, their cases by
     * cases_borrower. Their own phones only: a spouse's number listed as
     * a contact is not the borrower on the line. */
    [S_CASES_PHONE] =
        "SELECT " CASE_COLS " FROM cases WHERE borrower_id IN (SELECT "
        "borrower_id FROM contacts WHERE value = ?1 AND kind = 'phone') "
        "AND id > ?2 AND (?4 IS NULL OR " VISIBLE("cases.id", "?4", "?5",
                                                  "?6") ") "
        "ORDER BY id LIMIT ?3",
    [S_CASES_WINDOW_END] =
        "SELECT max(id), count(*) FROM (SELECT id FROM cases WHERE id > ?1 "
        "ORDER BY id LIMIT ?2)",
    [S_TASKS_PAGE] =
        "SELECT " TASK_COLS
        " FROM tasks WHERE (?1 IS NULL OR queue = ?1) "
        "AND (?2 IS NULL OR status = ?2) AND id > ?3 "
        "AND (?5 IS NULL OR queue IN (SELECT value FROM json_each(?5))) "
        "ORDER BY id LIMIT ?4",
    /* One person's tasks (?6), walked down tasks_assignee: a supervisor
     * asks for the few someone holds among a book's hundred thousand,
     * which the page above would scan for. With a status (?2) the index
     * gives them in id order, past the many the person did (2,000 done:
     * 12 ms walked by assignee alone, 17 ms scanned, microseconds now);
     * without, the person's tasks are sorted. */
    [S_TASKS_PAGE_BY] =
        "SELECT " TASK_COLS
        " FROM tasks WHERE assignee = ?6 AND (?1 IS NULL OR queue = ?1) "
        "AND (?2 IS NULL OR status = ?2) AND id > ?3 "
        "AND (?5 IS NULL OR queue IN (SELECT value FROM json_each(?5))) "
        "ORDER BY id LIMIT ?4",
    [S_TASKS_PAGE_HELD] =
        "SELECT " TASK_COLS
        " FROM tasks WHERE assignee = ?6 AND status = ?2 "
        "AND (?1 IS NULL OR queue = ?1) AND id > ?3 "
        "AND (?5 IS NULL OR queue IN (SELECT value FROM json_each(?5))) "
        "ORDER BY id LIMIT ?4",
    /* What people hold now (?2 'claimed', anyone's), walked down
     * tasks_claimed, which holds only those: the page above walked every
     * task by id for the few claimed among a book's done ones (100,000
     * tasks, 100 claimed: 5.7 ms a page, 0.18 ms down the index). */
    [S_TASKS_PAGE_CLAIMED] =
        "SELECT " TASK_COLS
        " FROM tasks WHERE status = 'claimed' AND id > ?3 "
        "AND (?1 IS NULL OR queue = ?1) "
        "AND (?5 IS NULL OR queue IN (SELECT value FROM json_each(?5))) "
        "ORDER BY id LIMIT ?4",
    /* One queue's tasks of one status (?1, ?2: the console's Reassign,
     * a queue's open tasks), walked down tasks_queue_id from the cursor:
     * the page above walked the book's tasks by id until it had a page of
     * the queue's (a million cases: 74 ms, the open ones the newest). */
    [S_TASKS_PAGE_QUEUE] =
        "SELECT " TASK_COLS
        " FROM tasks WHERE queue = ?1 AND status = ?2 AND id > ?3 "
        "AND (?5 IS NULL OR queue IN (SELECT value FROM json_each(?5))) "
        "ORDER BY id LIMIT ?4",
    /* Rows after ?2: the walk stops at the run that holds ?2 or is
     * older. Only the oldest ?3 runs with such rows are opened (each
     * holds one at least): a page opened every run the walk passed and
     * sorted all their rows (the first page of a 320,000-row journal:
     * 610 ms where it is 77, and 114 by the index before step 17). */
    [S_JOURNAL_PAGE] =
        JOURNAL_CHAIN("r.id > ?2") "SELECT " JOURNAL_COLS
        " FROM (SELECT id, rows, at FROM r WHERE id + n - 1 > ?2 ORDER BY id "
        "LIMIT ?3) r, json_each(r.rows) e WHERE r.id + e.key > ?2 "
        "ORDER BY r.id, e.key LIMIT ?3",
    [S_TIMERS_OVERDUE] = "SELECT count(*) FROM timers WHERE due <= ?1",
    [S_META_DELETE] = "DELETE FROM meta WHERE key = ?1",
    /* A case in error holds its failed event and parks the later ones
     * beside it: the first failed event of each case is the one that
     * failed. Walked down the (status, id) index from the cursor, so a
     * page costs its rows and the events parked between them, not a scan
     * of the cases. */
    [S_ERRORS_PAGE] =
        "SELECT c.id AS 'case', c.state, e.type AS event, c.error, "
        "e.at AS since, e.id AS event_id "
        "FROM events e JOIN cases c ON c.id = e.case_id "
        "WHERE e.status = 'failed' AND e.id < ?1 AND c.error IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM events p WHERE p.case_id = e.case_id "
        "AND p.status = 'failed' AND p.id < e.id) "
        "ORDER BY e.id DESC LIMIT ?2",
    [S_MESSAGE_ATTEMPT] =
        "UPDATE messages SET status = CASE WHEN status IN ('delivered', "
        "'failed') THEN status ELSE ?2 END, attempts = ?3, next_attempt = "
        "CASE WHEN ?2 = 'queued' AND ?4 = 0 THEN 1 ELSE ?4 END, "
        "reason = CASE WHEN status IN ('delivered', 'failed') THEN reason "
        "ELSE ?5 END, sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at "
        "END WHERE id = ?1",
    [S_USER_INSERT] =
        "INSERT INTO users(name, role, queues, password_hash, created_at, "
        "display_name) VALUES (?1, ?2, ?3, ?4, ?5, nullif(?6, '')) "
        "ON CONFLICT(name) DO NOTHING",
    [S_USER_GET] =
        "SELECT name, role, queues, disabled, created_at, password_hash, "
        "display_name FROM users WHERE name = ?1",
    [S_USER_DISABLED] = "UPDATE users SET disabled = ?2 WHERE name = ?1",
    [S_USER_PASSWORD] = "UPDATE users SET password_hash = ?2 WHERE name = ?1",
    [S_USER_DISPLAY] =
        "UPDATE users SET display_name = nullif(?2, '') WHERE name = ?1",
    [S_USER_QUEUES] = "UPDATE users SET queues = ?2 WHERE name = ?1",
    [S_USERS] =
        "SELECT name, role, queues, disabled, created_at, display_name "
        "FROM users ORDER BY name",
    [S_USER_LOG] =
        "INSERT INTO users_log(at, name, change, address) "
        "VALUES (?1, ?2, ?3, ?4)",
    [S_SESSION_INSERT] =
        "INSERT INTO sessions(id, name, created_at, last_seen, expires_at, "
        "address) VALUES (?1, ?2, ?3, ?3, ?4, ?5)",
    [S_SESSION_GET] =
        "SELECT s.name, u.role, u.queues, u.disabled, s.created_at, "
        "s.last_seen, s.expires_at FROM sessions s JOIN users u "
        "ON u.name = s.name WHERE s.id = ?1",
    [S_SESSION_TOUCH] =
        "UPDATE sessions SET last_seen = ?2 WHERE id = ?1 AND last_seen < ?2",
    [S_SESSION_DELETE] = "DELETE FROM sessions WHERE id = ?1",
    [S_SESSIONS_OF_USER_DELETE] =
        "DELETE FROM sessions WHERE name = ?1 AND id IS NOT ?2",
    [S_SESSIONS_STALE_DELETE] =
        "DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen <= ?2",
    /* One queue's waiting tasks in My work's order, down tasks_work:
     * ?3 = 1 the tasks due now (due at or before ?2; no due time is due),
     * 2 the later ones; each part in (priority desc, due, id) after the
     * cursor (?4, ?5, ?6; ?7 = 0: from the start). ?9: a named agent sees
     * the open tasks and its own claimed ones; ?10 = 1 only open ones
     * (claim next). The due and status terms are read from the index:
     * tasks skipped cost no row. */
    [S_WORK_PAGE] =
        "SELECT t.id, t.case_id, t.kind, t.queue, t.due, t.assignee, "
        "t.status, t.priority, t.at FROM tasks t "
        "WHERE t.queue = ?1 AND (t.status = 'open' OR t.status = 'claimed') "
        "AND (CASE WHEN coalesce(t.due, 0) <= ?2 THEN 1 ELSE 2 END) = ?3 "
        "AND (?7 = 0 OR t.priority < ?4 OR (t.priority = ?4 AND "
        "(coalesce(t.due, 0) > ?5 OR (coalesce(t.due, 0) = ?5 AND "
        "t.id > ?6)))) "
        "AND (?10 = 0 OR t.status = 'open') "
        "AND (?9 IS NULL OR t.status = 'open' OR t.assignee = ?9) "
        "ORDER BY t.priority DESC, t.due, t.id LIMIT ?8",
    /* The queues that have waiting tasks: one index seek a queue. */
    [S_WORK_QUEUES] =
        "WITH RECURSIVE q(name) AS (SELECT (SELECT min(queue) FROM tasks "
        "WHERE status = 'open' OR status = 'claimed') UNION ALL SELECT "
        "(SELECT min(queue) FROM tasks WHERE (status = 'open' OR status = "
        "'claimed') AND queue > q.name) FROM q WHERE q.name IS NOT NULL) "
        "SELECT name AS queue FROM q WHERE name IS NOT NULL",
    /* Due now and due today: each the kept counts of the queue's days
     * before the one its bound falls in (figures_tasks, schema 38), and
     * that day's tasks up to the bound read from tasks_queue's entries
     * (?2 the day, ?3 its start, ?4 the bound: now + 1; ?5, ?6, ?7 the
     * same for the end of the local day). For a named agent (?8), less
     * what colleagues hold: their rows of the counts, and of the day's
     * tasks the claimed ones whose assignee is not the agent (a row read
     * each of those few, where naming the assignee in the first count
     * would read every task's row). */
    [S_WORK_COUNTS] = "SELECT " WORK_COUNT("?2", "?3", "?4") ", " WORK_COUNT(
        "?5", "?6", "?7"),
    /* The same tasks due today by their borrower's area: at most ?3 of
     * them read from the index, then each one's case and borrower. A
     * case or borrower not found counts as no area, so that the areas
     * add up to the day's count. */
    [S_WORK_AREAS] =
        "SELECT coalesce(b.area, '') AS area, count(*) AS n FROM (SELECT "
        "case_id FROM tasks WHERE queue = ?1 AND (status = 'open' OR "
        "status = 'claimed') AND coalesce(due, 0) < ?2 AND (?4 IS NULL OR "
        "status = 'open' OR assignee = ?4) LIMIT ?3) t "
        "LEFT JOIN case_steps s ON s.id = t.case_id "
        "LEFT JOIN case_rows r ON r.step_row = s.step_row AND r.id = s.id "
        "LEFT JOIN borrowers b ON b.id = r.borrower_id GROUP BY 1 ORDER BY 1",
    /* Promises of one status with by_date in [?2, ?3], after the cursor
     * (?4 date, ?5 id), in the scope: ?6 queues (NULL: all cases), ?7 the
     * agent, ?8 since. */
    [S_WORK_PROMISES] =
        "SELECT p.id, p.case_id, p.amount, p.paid, p.by_date, p.status "
        "FROM promises p WHERE p.status = ?1 AND p.by_date >= ?2 AND "
        "p.by_date <= ?3 AND (p.by_date > ?4 OR (p.by_date = ?4 AND "
        "p.id > ?5)) AND (?6 IS NULL OR " VISIBLE("p.case_id", "?6", "?7",
                                                  "?8") ") "
        "ORDER BY p.by_date, p.id LIMIT ?9",
    [S_WORK_PROMISES_COUNT] =
        "SELECT count(*) FROM promises p WHERE p.status = ?1 AND "
        "p.by_date >= ?2 AND p.by_date <= ?3 AND (?6 IS NULL OR " VISIBLE(
            "p.case_id", "?6", "?7", "?8") ")",
    [S_CASE_VISIBLE] = "SELECT " VISIBLE("?1", "?2", "?3", "?4"),
    /* The newest contact made with the case: a message that left or will
     * (not blocked, cancelled or still deferred), or a contact task done.
     * The chain is read back to the newest such message, the newest
     * written of those sent at the same time. */
    [S_LAST_CONTACT] =
        MESSAGE_CHAIN("id = ?1", " AND (m.status = 'blocked' OR m.status = "
                                 "'cancelled' OR m.status = 'deferred')")
        "SELECT channel, at FROM (SELECT channel, "
        "at FROM messages WHERE id IN (SELECT id FROM r) "
        "AND status <> 'blocked' AND "
        "status <> 'cancelled' AND status <> 'deferred' ORDER BY at DESC, "
        "id DESC LIMIT 1) UNION ALL SELECT channel, at FROM (SELECT coalesce("
        "t.channel, CASE t.kind WHEN 'call' THEN 'call' WHEN 'visit' THEN "
        "'visit' WHEN 'home_visit' THEN 'visit' WHEN 'workplace_visit' THEN "
        "'visit' END) AS channel, t.completed_at AS at FROM tasks t WHERE "
        "t.case_id = ?1 AND t.status = 'done' AND channel IS NOT NULL "
        "ORDER BY t.completed_at DESC LIMIT 1) ORDER BY at DESC LIMIT 1",
    [S_TASK_ASSIGN] =
        "UPDATE tasks SET assignee = ?2, status = 'claimed' WHERE id = ?1 "
        "AND (status = 'open' OR status = 'claimed')",
    [S_FIGURE_ADD] =
        "INSERT INTO figures_days(figure, day, a, b, c, n, amount) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO UPDATE SET "
        "n = n + excluded.n, amount = amount + excluded.amount",
    [S_FIGURES_STATE_ADD] =
        "INSERT INTO figures_states(workflow, state, currency, cases, "
        "balance, errors, closed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON "
        "CONFLICT DO UPDATE SET cases = cases + excluded.cases, balance = "
        "balance + excluded.balance, errors = errors + excluded.errors, "
        "closed = closed + excluded.closed",
    [S_FIGURES_DUE_ADD] =
        "INSERT INTO figures_due(due_date, currency, cases, balance) VALUES "
        "(?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET cases = cases + "
        "excluded.cases, balance = balance + excluded.balance",
    [S_CASE_FIGURES] =
        "SELECT workflow, state, due_date, balance, closed, error IS NOT NULL,"
        " currency FROM cases WHERE id = ?1",
    [S_ARMS_CLOSED_PAID] =
        "UPDATE figures_arms SET closed_paid = closed_paid + 1 WHERE "
        "(experiment, arm) IN (SELECT experiment, arm FROM variants WHERE "
        "case_id = ?1)",
    [S_FIGURES_MSG_ADD] =
        "INSERT INTO figures_messages(status, messages) VALUES (?1, ?2) "
        "ON CONFLICT DO UPDATE SET messages = messages + excluded.messages",
    [S_FIGURES_MSG_COUNT] =
        "SELECT coalesce((SELECT messages FROM figures_messages WHERE "
        "status = ?1), 0)",
    /* My work's kept counts (schema 38): the key's day and claimed come
     * as the text of figure keys. */
    [S_FIGURES_TASK_ADD] =
        "INSERT INTO figures_tasks(queue, day, claimed, assignee, n) VALUES "
        "(?1, CAST(?2 AS INTEGER), CAST(?3 AS INTEGER), ?4, ?5) ON CONFLICT "
        "DO UPDATE SET n = n + excluded.n",
    [S_FIGURES_TASK_GONE] =
        "DELETE FROM figures_tasks WHERE queue = ?1 AND day = CAST(?2 AS "
        "INTEGER) AND claimed = CAST(?3 AS INTEGER) AND assignee = ?4 AND "
        "n = 0",
    /* What a cancel takes out of them, read before it. */
    [S_TASKS_CANCELLING] =
        "SELECT queue, due, status, assignee FROM tasks WHERE case_id = ?1 "
        "AND NOT keep AND status IN ('open','claimed')",
    [S_MESSAGE_STATUS_GET] = "SELECT status FROM messages WHERE id = ?1",
    [S_FIGURES_STATES] =
        "SELECT workflow, state, cases, balance, errors, closed, currency "
        "FROM figures_states WHERE cases <> 0 ORDER BY workflow, state, "
        "currency",
    [S_FIGURES_DUE] =
        "SELECT due_date, cases, balance, currency FROM figures_due WHERE "
        "cases <> 0 ORDER BY due_date, currency",
    [S_FIGURES_PROMISES] =
        "SELECT status, promises, amount, paid, currency FROM "
        "figures_promises WHERE promises <> 0 ORDER BY status, currency",
    /* Each queue's backlog along tasks_queue (queue, status, due): the
     * queues found by skipping from one to the next (a seek each), the
     * open and claimed ranges counted, their first due times read. What
     * it costs is the backlog's size, not the book's. */
    [S_FIGURES_QUEUES] =
        "WITH RECURSIVE q(queue) AS (SELECT (SELECT min(queue) FROM tasks) "
        "UNION ALL SELECT (SELECT min(queue) FROM tasks WHERE queue > "
        "q.queue) FROM q WHERE q.queue IS NOT NULL), n(queue) AS (SELECT "
        "queue FROM q WHERE queue IS NOT NULL UNION ALL SELECT NULL WHERE "
        "EXISTS (SELECT 1 FROM tasks WHERE queue IS NULL AND status = "
        "'open') OR EXISTS (SELECT 1 FROM tasks WHERE queue IS NULL AND "
        "status = 'claimed')) SELECT * FROM (SELECT queue, (SELECT count(*) "
        "FROM tasks t WHERE t.queue IS n.queue AND t.status = 'open') AS "
        "open, (SELECT count(*) FROM tasks t WHERE t.queue IS n.queue AND "
        "t.status = 'claimed') AS claimed, (SELECT min(d) FROM (SELECT "
        "min(due) AS d FROM tasks t WHERE t.queue IS n.queue AND t.status = "
        "'open' UNION ALL SELECT min(due) FROM tasks t WHERE t.queue IS "
        "n.queue AND t.status = 'claimed')) AS oldest_due FROM n) WHERE "
        "open + claimed > 0",
    [S_FIGURES_DAYS] =
        "SELECT day, a, b, c, n, amount FROM figures_days WHERE figure = ?1 "
        "AND day >= ?2 AND day <= ?3 ORDER BY day, a, b, c",
    /* An arm a row each currency it recovered money in (currency NULL
     * for an arm that recovered none). */
    [S_FIGURES_ARMS] =
        "SELECT a.workflow, a.experiment, a.arm, a.cases, m.recovered, "
        "a.closed_paid, m.currency FROM figures_arms a LEFT JOIN "
        "figures_arms_money m ON m.experiment = a.experiment AND m.arm = "
        "a.arm ORDER BY a.workflow, a.experiment, a.arm, m.currency",
    [S_PROMISE_USER_PUT] =
        "INSERT OR REPLACE INTO figures_promise_users(promise_id, user) "
        "VALUES (?1, ?2)",
    [S_PROMISE_USER_GET] =
        "SELECT user FROM figures_promise_users WHERE promise_id = ?1",
    [S_MESSAGE_CURSOR] =
        "SELECT status, next_attempt FROM messages WHERE id = ?1",
    /* A page of one status in the outbox's own order (next attempt, then
     * id) from the cursor message on: a walk of messages_outbox that
     * reads the page and the other channels' messages between. */
    [S_OUTBOX_PAGE] =
        "SELECT id, case_id AS 'case', channel, template, status, reason, "
        "not_before AS until, attempts, at, recipient AS 'to' FROM (SELECT * "
        "FROM messages WHERE status = ?1 AND " SQLITE_OUTBOX_KEPT " AND "
        "(next_attempt, id) > (?3, ?4) ORDER BY status, next_attempt, id "
        "LIMIT ?6) WHERE ?2 IS NULL OR channel = ?2 ORDER BY next_attempt, "
        "id LIMIT ?5",
    /* The last message of a window of the walk, and how many it holds. */
    [S_OUTBOX_WINDOW_END] =
        "SELECT id, count(*) OVER () FROM (SELECT id, next_attempt FROM "
        "messages WHERE status = ?1 AND " SQLITE_OUTBOX_KEPT " AND "
        "(next_attempt, id) > (?2, ?3) ORDER BY status, next_attempt, id "
        "LIMIT ?4) ORDER BY next_attempt DESC, id DESC LIMIT 1",
    /* The same two for the fresh queued ones (next attempt 0, before all
     * others of the status), by id from ?7 (?5 below: the fresh cursor,
     * or past the page's `after`) up to the cut ?8 (?6), and among them
     * the released ones (1) from the index, as the outbox sends them
     * (sq_outbox_due). */
#define OUTBOX_RELEASED(after, cut)                                   \
  "FROM messages WHERE status = ?1 AND " SQLITE_OUTBOX_KEPT " AND " \
  "next_attempt = 1 AND id > " after " AND id <= " cut
    [S_OUTBOX_PAGE_FRESH] =
        "SELECT id, case_id AS 'case', channel, template, status, reason, "
        "not_before AS until, attempts, at, recipient AS 'to' FROM (SELECT * "
        "FROM messages WHERE id >= ?7 AND id <= ?8 AND status = ?1 AND "
        "next_attempt = 0 UNION ALL SELECT * " OUTBOX_RELEASED("?4", "?8")
        " ORDER BY id LIMIT ?6) WHERE ?2 IS NULL OR "
        "channel = ?2 ORDER BY id LIMIT ?5",
    [S_OUTBOX_WINDOW_END_FRESH] =
        "SELECT id, count(*) OVER () FROM (SELECT id FROM messages WHERE "
        "id >= ?5 AND id <= ?6 AND status = ?1 AND next_attempt = 0 "
        "UNION ALL SELECT id " OUTBOX_RELEASED("?3", "?6") " ORDER BY "
        "id LIMIT ?4) ORDER BY id DESC LIMIT 1",
#undef OUTBOX_RELEASED
    /* Where a page's walk of the fresh part stops: the first message
     * from ?1 on that a next page can go on after within the fresh part
     * (sq_outbox_page's `after`: next attempt 0 or 1 and of no status
     * listed after the queued). */
    [S_OUTBOX_FRESH_CUT] =
        "SELECT id FROM messages WHERE id >= ?1 AND next_attempt IN (0, 1) "
        "AND status NOT IN ('deferred', 'blocked', 'failed') ORDER BY id "
        "LIMIT 1",
    /* The first change of a case's bucket in a month keeps what it was
     * before (status: 0 open, 1 closed, 2 not yet opened). */
    [S_ROLL_LOG] =
        "INSERT INTO figures_roll_log(month, case_id, due_date, status, "
        "now_due, now_status, opened) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
        "ON CONFLICT DO UPDATE SET now_due = excluded.now_due, "
        "now_status = excluded.now_status",
    [S_ROLLS_MONTH] =
        "SELECT from_bucket, to_bucket, cases FROM figures_rolls "
        "WHERE month = ?1 ORDER BY 1, 2",
    /* Each case that changed since the start of month ?1: what it was at
     * that start (its first entry from then on) and at the next month's
     * (its first entry from then on), and now. */
    /* Every case whose bucket changed since the start of month ?1, an
     * entry a month it changed in, and what it is now. */
    [S_ROLLS_LOGGED] =
        "SELECT case_id, month, due_date, status, now_due, now_status, "
        "opened FROM figures_roll_log WHERE month >= ?1 "
        "ORDER BY case_id, month",
    [S_ROLL_PUT] =
        "INSERT INTO figures_rolls(month, from_bucket, to_bucket, cases) "
        "VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO UPDATE SET "
        "cases = excluded.cases",
    [S_ROLLS_FORGET] = "DELETE FROM figures_roll_log WHERE month < ?1",
};

/* A timer's key in timers (due, id) and whether it ends with its case's
 * state: what cases.timer_keys holds for each timer of the case, as
 * [[due, id, scoped], ...], '' for none. It replaces an index of the
 * timers by case (timers_case), which every timer fired wrote at a random
 * place: the case's row is written by the same step anyway. */
typedef struct timer_key {
  int64_t due, id;
  int scoped;
} timer_key;

/* The SQLite backend's store: the shared part first (backend.h). */
enum { PENDING_RUNS = 32, CLAIMW_ROWS = 32, FIRED_ROWS = 32 };

/* Whether the book has a trigger (or index) the schema does not know that
 * a shortcut must not run beside, as of schema_version: looked at once a
 * transaction (checked), again only when the schema changed. */
typedef struct {
  int64_t schema;
  int checked, found;
} trigger_check;

struct sq {
  store base;
  sqlite3 *db;
  sq_ckpt *ckpt; /* owned: copies the WAL back (sqlite_checkpoint.c) */
  sqlite3_stmt *stmts[S_COUNT]; /* owned, prepared at open (a file) */
  /* Whether a statement may write a case's row (case_writes): 0 not
   * known yet, 1 no, 2 yes. */
  unsigned char writes_case[S_COUNT];
  /* The same for a borrower's row or contacts (borrower_writes). */
  unsigned char writes_borrower[S_COUNT];
  /* Whether a statement may run while fired timers wait (fired_safe): 0
   * not known yet, 1 yes, 2 no. */
  unsigned char fired_ok[S_COUNT];
  /* The cases the last claim of timers read beside them (sq_timers_due),
   * for the steps' reads of their cases: a statement a step less. Valid
   * only in the transaction that claimed, which holds the write lock, and
   * only for a case nothing wrote since: every statement that may write
   * a case's row marks its case in `written` (two bits of its hash; a
   * false hit only reads the row again) or, when it does not say which,
   * drops them all; so does a rollback. */
  struct {
    struct ahead_case {
      store_case c; /* its numbers; its strings are in text */
      /* Where each of case_texts and timer_keys begins in text, -1 for
       * NULL; id -1: taken, or no such case. Not strings of their own:
       * a thousand cases' strings held at once sent every malloc down
       * its slow path (1.9k instructions a step). */
      int32_t at[13];
      /* The same for its borrower's texts (borrower_texts, then the
       * contacts packed); bat[0] -1: none kept (no such borrower, or
       * its contacts not packed). Not marked taken: a borrower may have
       * several cases in one claim. */
      int32_t bat[10];
      int64_t journal_last, message_last;
      int64_t steps_rowid; /* its case_steps row's (schema 29) */
      int tasks_open, do_not_contact, ceased;
    } *v;
    int n, cap, next;
    /* How many of the n kept a step took; while bare > 0 the claims
     * keep none (ahead_drop). */
    int taken, bare;
    /* A statement that may write a borrower's row or contacts ran since
     * the claim (borrower_writes): its borrowers are not taken. */
    int borrowers_written;
    /* Whether the last claim read the borrowers; how many of them the
     * steps took; while cases_only > 0 the claims read none. */
    int with_borrowers, borrowers_taken, cases_only;
    /* Whether the last claim's case ids came in key order, 32 or more
     * of them: the next claim reads its cases as ranges (ahead_ranges). */
    int ranged;
    /* Whether a trigger not the schema's names a case table (then none
     * is kept). */
    trigger_check triggers;
    /* Whether a trigger names borrowers or contacts (then the claim
     * reads no borrower beside its cases). */
    trigger_check borrower_triggers;
    char *text;
    size_t len, size;
    uint64_t written[1024]; /* a bit set of 65,536 */
    /* The contacts of the borrower lent last (store_borrower_claimed_lend). */
    sqlite_contacts_room lent;
  } ahead;
  /* Pending timers, kept as they are set and deleted so that /metrics
   * does not count ten million index entries (0.1 s) on every scrape.
   * Counted again after a rollback, or when another connection has
   * written (data_version moves). */
  int64_t timers;
  int timers_known;
  int64_t data_version;
  /* How often the borrower of a case being opened was new, lately: tried
   * as new first while the score is not negative (sq_borrower_upsert). */
  int opening_new;
  /* The import holding the opening of cases found none in the book: its
   * rows' look-ups would all miss (it holds the write lock, and gives
   * each id once), so they are not made. Until its handlers run or the
   * transaction ends. */
  int no_cases;
  /* Figures by day added during the transaction (store_figure_add), one
   * entry a key, written at its commit. */
  struct {
    struct figure_sum *v; /* owned */
    int n, cap;
    /* An index into v by key: slot holds an entry's index + 1, 0 when
     * empty; twice as many slots as v can hold (open addressing). An
     * import adds a case's figures a million times, to a few hundred
     * keys. */
    int *slot; /* owned; 2 * cap */
  } figures;
  /* What the case last read or written in this transaction counts for
   * (case_fig): a transition needs what its case was, which the engine
   * has just read; reading it again was a fifth of the figures' cost a
   * step (measured). Forgotten when a transaction begins or rolls back. */
  struct case_fig *fig_case; /* owned */
  char fig_case_id[160];     /* "" when none */
  /* The case_steps rowid of the case a step last took from the claim
   * (ahead_take): where its write goes (S_CASE_STATE_AT). A hint only,
   * that statement checks the id. */
  struct {
    char id[160]; /* "" when none */
    int64_t rowid;
  } step_row;
  /* The timers one case holds (cases.timer_keys), known since the
   * transaction read or changed them; dirty when changed and not yet
   * written. The step that fires a timer and moves its case on writes
   * them with the case's new state, in the UPDATE it makes anyway
   * (S_CASE_STATE); anything else that would read them writes them
   * first (timer_keys_flush). */
  struct {
    char case_id[160];
    timer_key *v; /* owned */
    int n, cap, known, dirty;
    /* A timer of case_id fired before its keys were known: taken out of
     * them when they are read, which the step's read of the case does
     * (sq_case_get), so that firing reads nothing more. */
    timer_key fired;
    int has_fired;
  } keys;
  /* The journal of one case as a chain (cases.journal_last, each run's
   * prev), known since the transaction read or wrote it: head is the
   * case's newest run in journal_runs. ahead: the case's row already
   * names the run store.c holds for it, which is written next and gets
   * id next: the step's state UPDATE set it (sq_case_set_state), so that
   * writing the run writes the row no second time. next is the id the
   * next run gets, 0 when not known. */
  struct {
    char case_id[160];
    int64_t head, next;
    int known, ahead;
    /* The newest run of the case read while the chain was ahead for
     * another ("" when none): the chain's once that case's run is
     * written, as the case read next was before its step writes. */
    char seen_id[160];
    int64_t seen_head;
  } chain;
  /* No event is pending: a claim in this transaction found none, and no
   * event row was written since (events_written, the connection's update
   * hook, sees every path that queues one). Under a simulated clock the
   * sweep claims events before each due time, a statement a step that
   * finds none; in a transaction no other connection writes. */
  int events_none;
  /* Whether one case has tasks a change of its state cancels
   * (cases.tasks_open), known since the transaction read or changed it;
   * dirty when the cancel ended them all and the row does not say so yet:
   * the state UPDATE that follows it says so. */
  struct {
    char case_id[160];
    int known, open, dirty;
  } tasks;
  /* The newest message of one case (cases.message_last), known since the
   * transaction read or wrote it; dirty when written and the case's row
   * does not name it yet: the state UPDATE that follows it in a step
   * names it, anything else that reads the chain writes it first
   * (message_last_flush). */
  struct {
    char case_id[160];
    int64_t last;
    int known, dirty;
  } msg;
  /* The outbox's fresh cursor (meta outbox.fresh), known since read;
   * dirty when moved on and not yet written: the next delivery's record
   * writes it (one behind costs a longer walk, never a message). The last
   * walk went up to ahead (0: not known) and found there the fresh ones
   * held: a message long in flight keeps the cursor at itself, and the
   * next walk asks those again and goes on from ahead rather than pass
   * every message sent since (sq_outbox_due). */
  struct {
    int64_t from, ahead, held[256];
    int nheld, known, dirty;
  } fresh;
  /* The timers the transaction set, the last at each due time (a slot
   * by due, id 0 free; forgotten when it begins or rolls back): the next
   * at a due time found there takes the id after it without looking
   * (S_TIMER_ID), and so does one due after every timer (`beyond`, once
   * `known`: the last due in the book, read at the second look-up, not
   * to cost a transaction that sets one timer a statement more; then of
   * the timers set since), which takes 1. A look-up writes the pending
   * runs first (their timers count): with one last timer kept, handlers
   * setting timers 1 and 3 days ahead cut the batches to a row each
   * (22 % more instructions an imported row). */
  struct {
    struct {
      int64_t due, id;
    } slot[8];
    int64_t beyond;
    int looked, known;
  } timer_ids;
  /* The keys of the timers the last claim read (sq_timers_due), in its
   * order, while no timer has been ended since but by its own firing:
   * the row under such a key is the one claimed, so its firing deletes
   * it by the key alone (S_TIMER_FIRED), without comparing its case,
   * event and data (1.3k instructions a step, measured). Only where the
   * claim's transaction holds the write lock; gone with timer_ids
   * (timer_ids_forget: a new transaction, a rollback, a book copied in)
   * and with any timer ended by its key (timer_keys_end), after which a
   * timer set may take a claimed one's key again. */
  struct {
    timer_key *v;
    int n, cap, next;
  } claimed;
  /* The claimed timers fired and not deleted yet: claimed.v[first] to
   * claimed.v[last] (their keys kept, lo and hi: the claim's keys may go
   * first), each fired in the claim's order, deleted as one range
   * (S_TIMERS_FIRED_AT, _AMID) where a statement each was 5.5k
 * instructions a step.
   * Held where the claim's rows are (fired_on): in a batch outside any
   * savepoint, with the write lock, no trigger of someone else's. The
   * range holds only those timers while no timer is set in it or at a
   * due time inside it, and none is ended or read there: whatever may
   * (stmt_of, fired_safe; a timer set, ended or its id looked up at a
   * due time between lo's and hi's) deletes them first, as the claim's
   * end and the commit do; a rollback forgets them. A timer set due at
   * or before the claim's last (`until`, never in the ordinary sweep,
   * which sets them ahead) could fall between two fired later: then the
   * claim's rest is deleted a timer a statement (`stop`). */
  struct {
    timer_key lo, hi;
    int n, last;
    int64_t until;
    int stop, keyed;
    /* A delete before a statement failed: the commit refuses, why. */
    int failed;
    rc_error why;
    /* A fired timer deleted by its real due (fired_real_due). */
    sqlite3_stmt *by_due;
    /* The range once held another count of timers than it fired: said
     * once a connection (store_notice). */
    int told;
    /* The last claim read a due that is not a whole number (real_due):
     * a timer not found by its due then is looked for by its real one. */
    int real_due;
  } fired;
  /* The new cases an import opened whose rows are not written yet
   * (store_case_insert_opening), in the order opened; cases.next is the
   * first. Each is written at its `opened` run with the run's id and the
   * timers its handler set: inserting the row and then updating it cost
   * 16k instructions a case more. Its timer (one) waits with it:
   * timers reference cases. Any statement that may read or refer to a
   * held case writes them all first (stmt, held_safe); a failure there
   * is kept for the commit to refuse (failed, why). Each savepoint marks
   * where the list was, for a rollback to it to hold them again. */
  struct {
    case_keep cases;
    struct {
      int held;
      int64_t due, id;
      char *event, *data;
      int scoped;
    } timer;
    /* The next case handed to its handler (store_case_opening_lend),
     * written or not: a case is as the import left it until its own
     * handler runs, as when the engine kept a copy of its own. */
    size_t copied;
    /* The last case handed so (at, the offset after it), decoded: its
     * run writes it next and need not decode it again (held_lend). Until
     * a case is held anew, which may move the list. */
    struct {
      size_t at, after;
      store_case c;
      int valid;
    } lent;
    struct {
      size_t len, next, copied;
      int full;
    } marks[4];
    int nmarks, writing, failed;
    rc_error why;
  } held;
  /* The runs of held cases taken off the list and not written yet, each
   * with its case (lent from held.cases, which grows by no case
   * meanwhile), the run's row and the timer that waited: written
   * PENDING_RUNS at a time, one statement a table for them all, where a
   * statement a row cost some 3k instructions more each (pending_flush).
   * Whatever writes the held cases first writes these before them; a
   * savepoint begins with none. */
  struct pending_run {
    store_case c;
    int64_t run, head;
    rc_time at;
    int n;
    char *rows, *keys; /* owned */
    size_t len;
    int timer, scoped;
    int64_t due, id;
    char *event, *data; /* owned */
  } pending[PENDING_RUNS];
  int npending;
  /* The contacts of an import's new borrowers, written PENDING_RUNS at a
   * time the same way (contacts_flush): their texts in `text`, each at
   * its offset (-1: NULL). Anything that reads contacts writes them
   * first, as the pending runs. */
  struct {
    jbuf text;
    struct pending_contact {
      long borrower, kind, value, name, relation;
      int position;
    } row[PENDING_RUNS];
    int n;
    /* Each text parameter of the batch's statement: 0 when it is bound
     * to NULL (bind_kept). */
    unsigned char bound[PENDING_RUNS][5];
  } new_contacts;
  /* An import's new borrowers, written PENDING_RUNS at a time ahead of
   * their contacts (borrowers_flush): while the book had none when it
   * began (no_borrowers), a borrower whose id the import has not given
   * before is new without a look-up. `seen` keeps a hash of each id
   * given (open-addressed, 0 empty): one met again, or a hash met twice
   * by chance, takes the look-up every borrower made before. */
  int no_borrowers;
  struct {
    jbuf text;
    struct pending_borrower {
      /* id, name ... employer_address, area, contacts packed (-1: NULL) */
      long text[10];
      int do_not_contact, ceased;
    } row[PENDING_RUNS];
    int n;
    unsigned char bound[PENDING_RUNS][10]; /* as new_contacts' */
    uint64_t *seen; /* owned */
    size_t cap, count;
  } new_borrowers;
  jbuf packed; /* a borrower's contacts packed, for its row (upsert) */
  sqlite3_stmt *batch[6]; /* owned: pending_flush's, prepared once */
  /* The messages and journal runs a batch's steps wrote, not written yet
   * (claimw): each was a statement of its own, 11.1k and 7.4k
   * instructions a step where a row of a statement of 32 costs some
   * 1.5k less. Held only in a batch outside any savepoint, with the write
   * lock, in a book with no trigger of someone else's (claimw_allowed):
   * a failing step undoes the whole batch there, and no row here can be
   * refused or read but by a statement that writes them first (stmt_of,
   * claimw_safe). Their ids are given as they are held (the run's from
   * the journal's chain, the message's from msg_next), so the rows are
   * those the steps would have written. Written before any statement
   * that is not known to leave those tables alone, at the claim's end
   * and at the commit; a rollback forgets them. */
  struct {
    jbuf text; /* their texts, each NUL-ended, at its offset (-1: NULL) */
    struct claimw_msg {
      long text[10]; /* case_id .. reason, S_MESSAGE_INSERT's ?1 to ?9,
                        and state (?13) */
      int len[10];   /* their lengths, bound without SQLite's strlen */
      int64_t at, not_before, prev, step;
      int64_t id; /* the one SQLite gives it, checked (claimw_write) */
    } msg[CLAIMW_ROWS];
    struct claimw_run {
      long case_id, rows;
      size_t len;
      int64_t id, head;
      rc_time at;
      int n;
    } run[CLAIMW_ROWS];
    int nmsg, nrun;
    int64_t msg_next; /* 0: not known */
    /* A write before a statement failed: the commit refuses, why. */
    int failed;
    rc_error why;
    /* claimw_allowed's; `off` after a refused row: held no more until
     * this connection's next commit (sq_commit). */
    trigger_check triggers;
    int off;
    sqlite3_stmt *msgs[6], *runs[6]; /* owned: 1, 2, 4 ... 32 rows */
    /* The same messages' where their rows share MSG_SHARED's texts: those
     * bound once for all (claimw_write). Owned. */
    sqlite3_stmt *msgs_shared[6];
  } claimw;
  /* A book being moved in (sqlite_book.c): the last table's INSERT. */
  sqlite3_stmt *book_put; /* owned */
  char book_table[64];
  /* Commits left unsynced (store_commit_unsynced): `later`, the next
   * transaction is one; `lazy`, the open one is (synchronous NORMAL,
   * FULL again at its end); `unsynced`, a commit since the last sync of
   * the WAL wrote frames no fsync has covered. `scratch`: a what-if copy,
   * never synced. */
  int later, lazy, unsynced, scratch;
  /* `import_next`: the next transaction is an import's
   * (store_begin_import); `fk_off`: foreign keys are off on the
   * connection for it, until they are on again (fk_resume). */
  int import_next, fk_off;
  /* The import's transaction writes the book itself, not the WAL
   * (import_direct): the book is in rollback-journal mode until it
   * ends (import_direct_end). */
  int direct;
  /* While direct: a thread that starts the kernel writing out what
   * SQLite wrote into the book (import_writeback) through SQLite's own
   * descriptor of it (fd, -1 when not found), each time it is asked;
   * `on` while it runs; wb_at, the book's size in pages when it last
   * was asked. */
  struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t asked;
    int fd, on, ask, stop;
  } wb;
  int64_t wb_at;
  /* An import's transaction (import_spill): the book's size in pages
   * from which its cache is written out, and when it last was; `spill`,
   * half the cache in pages, 0 outside an import. */
  int64_t spill_from, spilled_at;
  int spill;
  /* An import into a book without cases loads without the secondary
   * indexes of the tables it fills (import_indexes_drop): `sql`, their
   * CREATE statements (owned; NULL: none dropped); `built`, the depth of
   * the transaction or savepoint that created them again, 0 while they
   * are not; `failed`, a barrier's build failed and took the whole
   * transaction with it (a full disk), `why` then says how. */
  struct {
    char *sql;
    int built, failed;
    rc_error why;
  } idx;
  /* Debug builds: the rows that referred to nothing as the import began
   * (fk_baseline), -1 when they could not be counted. */
  int64_t fk_before;
  /* The failure after which SQLite had rolled the whole transaction back
   * (a full disk, an I/O error): the statements refused after it give it
   * (exec_step), as the one a user can act on. */
  int rolled_back;
  rc_error rolled_why;
};

static void bind_scope(sqlite3_stmt *s, int i, const store_scope *scope);
/* One counter row and what the transaction adds to it: v is the
 * released part, written at commit; sp the open savepoint's (one event),
 * dropped if it rolls back. */
/* The counter tables: figures_days, _states, _due, _messages, _tasks. */
enum { FIG_DAY, FIG_STATE, FIG_DUE, FIG_MSG, FIG_TASK };
typedef struct figure_sum {
  int kind;
  char key[FIGURE_KEY_MAX]; /* its key's parts, each NUL-ended */
  size_t len;
  int64_t v[4], sp[4]; /* FIG_DAY: n, amount; FIG_STATE: cases, balance,
                          errors, closed; FIG_DUE: cases, balance;
                          FIG_MSG: messages; FIG_TASK: n */
} figure_sum;

/* A failure that rolled the transaction back is kept: its caller may
 * take it for one event's failure and go on (a store call from a handler
 * fails the handler), and the statements after it would be refused
 * naming no cause. */
static void rolled_back_by(sq *st, const rc_error *why) {
  if (st->base.depth > 0 && sqlite3_get_autocommit(st->db) &&
      !st->rolled_back) {
    st->rolled_back = 1;
    st->rolled_why = *why;
  }
}

const char *sqlite_why(sqlite3 *db) {
  switch (sqlite3_extended_errcode(db)) {
  case SQLITE_IOERR_SHMMAP:
  case SQLITE_IOERR_SHMSIZE:
    return "out of memory: the book's shared-memory index (its -shm file) "
           "could not be mapped (memory or address space ran out, e.g. "
           "ulimit -v), not a disk fault";
  case SQLITE_IOERR_NOMEM:
    return "out of memory (SQLite could not allocate), not a disk fault";
  default:
    return sqlite3_errmsg(db);
  }
}

static int fail(sq *st, rc_error *err, const char *what) {
  int code = sqlite3_extended_errcode(st->db);
  rc_error why;
  rc_error_set(&why, RC_ESTORE, NULL, "database: %s: %s (%d)", what,
               sqlite_why(st->db), code);
  st->base.refused = 0;
  rolled_back_by(st, &why);
  if (err) *err = why;
  return RC_ESTORE;
}

static int held_any(const sq *st);
static int held_safe(int which);
static int claimw_safe(int which);
static void claimw_barrier(sq *st);
static void claimw_drop(sq *st);
static int claimw_flush(sq *st, rc_error *err);
static int claimw_refused(sq *st, rc_error *err);
static int fired_safe(sq *st, int which);
static void fired_barrier(sq *st);
static void fired_drop(sq *st);
static int fired_flush(sq *st, rc_error *err);
static int fired_refused(sq *st, rc_error *err);
static void held_barrier(sq *st);
static void held_drop(sq *st);
static int held_flush(sq *st, rc_error *err);
static void pending_drop(sq *st);
static void pending_lost(sq *st, const rc_error *err);
static int pending_flush(sq *st, rc_error *err);
static void timer_ids_forget(sq *st);
static int contacts_flush(sq *st, rc_error *err);
static int borrowers_flush(sq *st, rc_error *err);
static void borrowers_forget(sq *st);
static int borrower_add(sq *st, const store_borrower *b, const char *packed,
                        rc_error *err);
static int borrower_first_seen(sq *st, const char *id);
static int contact_add(sq *st, const char *borrower_id, const store_contact *c,
                       int position, rc_error *err);
static int held_refused(sq *st, rc_error *err);
static int ahead_borrower(sq *st, const char *id, store_borrower *out,
                          int lend);
static int held_mark(sq *st, rc_error *err);
static void held_unmark(sq *st, int keep);
static void import_indexes_barrier(sq *st, int which);
static void import_indexes_forget(sq *st);
static int import_indexes_build(sq *st, rc_error *err);
static void import_indexes_unmark(sq *st, int keep);
static int pragma_text(void *ud, int n, char **values, char **names);

enum { BARE_CLAIMS = 16 };

/* The cases a claim read ahead (struct sq's `ahead`) go. */
static void ahead_drop(sq *st) {
  /* A case kept costs a claim about what its read saves a step (the
   * join, its columns and their copy: 7-11k instructions). Where most go
   * untaken (a batch that fails at its 50th step and is replayed, a
   * slice the service cuts short, a case with several timers due at
   * once, whose first step writes it), the claim that keeps them cost
   * 12.1G instructions where the bare one cost 7.2G (a tick of 3,000
   * cases, one in seven failing). Then the next claims keep none, and
   * one in BARE_CLAIMS looks again. */
  if (st->ahead.n >= 32 && 4 * st->ahead.taken < 3 * st->ahead.n)
    st->ahead.bare = BARE_CLAIMS;
  /* A borrower read beside its case costs the claim about 5.3k
   * instructions and saves its step 6.6k (a reminder, measured): where
   * the steps took their cases but read few borrowers (handlers that
   * send nothing), the next claims read none. */
  else if (st->ahead.with_borrowers && st->ahead.taken >= 32 &&
           2 * st->ahead.borrowers_taken < st->ahead.taken)
    st->ahead.cases_only = BARE_CLAIMS;
  st->ahead.n = st->ahead.next = st->ahead.taken = 0;
  st->ahead.with_borrowers = st->ahead.borrowers_taken = 0;
  st->ahead.len = 0;
}

static uint64_t ahead_hash(const char *id) {
  uint64_t h = 14695981039346656037u; /* FNV-1a */
  for (; *id; id++) h = (h ^ (unsigned char)*id) * 1099511628211u;
  /* Mixed (MurmurHash3's finalizer): ids that differ in a digit differ
   * in FNV's high bits only, and a bit set needs them all. */
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdu;
  h ^= h >> 33;
  return h;
}

/* Case id was written, or may have been (NULL: any case). */
static void ahead_touch(sq *st, const char *id) {
  uint64_t h;
  if (!id) {
    ahead_drop(st);
    return;
  }
  h = ahead_hash(id);
  st->ahead.written[(h >> 6) & 1023] |= 1ull << (h & 63);
  st->ahead.written[(h >> 38) & 1023] |= 1ull << ((h >> 32) & 63);
}

static int ahead_written(sq *st, const char *id) {
  uint64_t h = ahead_hash(id);
  return (st->ahead.written[(h >> 6) & 1023] >> (h & 63) & 1) &&
         (st->ahead.written[(h >> 38) & 1023] >> ((h >> 32) & 63) & 1);
}

/* Whether statement `which` may write a case's row: any statement that
 * changes rows and names a case table (the view `cases` writes both
 * through its triggers; no other trigger or foreign key action writes
 * them). Read from the text, so a statement added later is counted
 * without being listed. */
static int case_writes(sq *st, int which) {
  if (!st->writes_case[which]) {
    const char *t = sql[which];
    int writes = strstr(t, "INSERT") || strstr(t, "UPDATE") ||
                 strstr(t, "DELETE") || strstr(t, "REPLACE");
    int names = strstr(t, "case_rows") || strstr(t, "case_steps") ||
                strstr(t, "cases");
    st->writes_case[which] = writes && names ? 2 : 1;
  }
  return st->writes_case[which] == 2;
}

/* Whether statement `which` may write a borrower's row or contacts, as
 * case_writes reads it ("contacts" also names contacts_packed). */
static int borrower_writes(sq *st, int which) {
  if (!st->writes_borrower[which]) {
    const char *t = sql[which];
    int writes = strstr(t, "INSERT") || strstr(t, "UPDATE") ||
                 strstr(t, "DELETE") || strstr(t, "REPLACE");
    int names = strstr(t, "borrowers") || strstr(t, "contacts");
    st->writes_borrower[which] = writes && names ? 2 : 1;
  }
  return st->writes_borrower[which] == 2;
}

/* stmt for a statement about to write the row of case `id` (NULL: of a
 * case it does not say), or not to write one. */
static sqlite3_stmt *stmt_of(sq *st, int which, const char *id) {
  if ((held_any(st) || st->npending || st->new_contacts.n ||
       st->new_borrowers.n) &&
      !st->held.writing && !held_safe(which))
    held_barrier(st);
  if ((st->claimw.nmsg || st->claimw.nrun) && !claimw_safe(which))
    claimw_barrier(st);
  if (st->fired.n && !st->fired.keyed && !fired_safe(st, which))
    fired_barrier(st);
  if (st->ahead.n && (st->writes_case[which] ? st->writes_case[which] == 2
                                             : case_writes(st, which)))
    ahead_touch(st, id);
  if (st->ahead.n && borrower_writes(st, which))
    st->ahead.borrowers_written = 1;
  if (st->idx.sql && !st->idx.built) import_indexes_barrier(st, which);
  if (!st->stmts[which] &&
      sqlite3_prepare_v3(st->db, sql[which], -1, SQLITE_PREPARE_PERSISTENT,
                         &st->stmts[which], NULL) != SQLITE_OK) {
    /* Every statement of a book in a file was prepared as it opened
     * (sq_prepare_all) and is kept until it closes; one in memory holds
     * only what recoup made. One not prepared here is a bug in this
     * file; say so loudly in every build rather than return a code
     * nobody expects. */
    fprintf(stderr, "recoup: store: cannot prepare %d: %s\n", which,
            sqlite_why(st->db));
    abort();
  }
  return st->stmts[which];
}

static sqlite3_stmt *stmt(sq *st, int which) {
  return stmt_of(st, which, NULL);
}

/* SQLITE_STATIC: SQLite keeps the pointer instead of copying the text,
 * which was a malloc and a copy for every string of every row. Safe
 * because every statement here is stepped before its function returns and
 * its bindings cleared after (exec_stmt, each_row and the readers). */
static void bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v)
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

/* Steps a statement that returns no rows, then resets it; clears its
 * bindings unless every one is bound again before each step
 * (exec_rebound). */
static int exec_step(sq *st, sqlite3_stmt *s, int clear, rc_error *err,
                     const char *what) {
  int rc;
  /* An I/O error or a full disk makes SQLite roll the whole transaction
   * back by itself, even from a read. Statements after that would each
   * commit alone, outside the batch: refuse them until the engine rolls
   * back too. */
  if (st->base.depth > 0 && sqlite3_get_autocommit(st->db)) {
    sqlite3_clear_bindings(s);
    /* The cause, when the failure was a barrier's that returns none, or
     * one its caller passed over. */
    if (st->idx.failed || st->rolled_back) {
      if (err) *err = st->idx.failed ? st->idx.why : st->rolled_why;
      return RC_ESTORE;
    }
    return rc_error_set(err, RC_ESTORE, NULL,
                        "database: %s: the transaction was rolled back by an "
                        "earlier failure",
                        what);
  }
  rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (clear) sqlite3_clear_bindings(s);
  if (rc != SQLITE_DONE) {
    /* Inputs are checked before they reach the store, and the conflicts
     * the store expects (a known payment ref or event key) are found
     * without failing a statement: a constraint that fails here is a bug
     * in recoup, not the client's fault. The edge that reports it logs
     * it (the service logs every 5xx with its message). */
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      rc_error why;
      rc_error_set(&why, RC_EINTERNAL, NULL,
                   "database: %s: unexpected constraint failure: %s", what,
                   sqlite_why(st->db));
      st->base.refused = 1;
      /* A trigger's RAISE(ROLLBACK) ends the transaction as an I/O error
       * does (fail). */
      rolled_back_by(st, &why);
      if (err) *err = why;
      return RC_EINTERNAL;
    }
    return fail(st, err, what);
  }
  return RC_OK;
}

static int exec_stmt(sq *st, sqlite3_stmt *s, rc_error *err, const char *what) {
  return exec_step(st, s, 1, err, what);
}

/* For the statements an import runs for every row, each of whose
 * parameters is bound every time: clearing them again was 90 to 130
 * instructions a statement (sqlite3_clear_bindings walks them all).
 * A reminder step's timer delete and message insert bind all theirs too.
 * The text bound SQLITE_STATIC stays pointed at, unread: a step comes
 * only after the next binding. */
static int exec_rebound(sq *st, sqlite3_stmt *s, rc_error *err,
                        const char *what) {
  return exec_step(st, s, 0, err, what);
}

/* exec_rebound for an INSERT that must write `rows` rows into `table`.
 * A trigger of the book's own (made by hand) may drop a row with
 * RAISE(IGNORE), the statement going on as if written: counted here, a
 * shortfall is refused as a failing constraint is (the caller's rows
 * then lost, its transaction undone), naming the table. */
static int exec_wrote(sq *st, sqlite3_stmt *s, int rows, const char *table,
                      rc_error *err, const char *what) {
  int rc = exec_step(st, s, 0, err, what), kept;
  if (rc != RC_OK || (kept = sqlite3_changes(st->db)) == rows) return rc;
  st->base.refused = 1;
  return rc_error_set(err, RC_EINTERNAL, NULL,
                      "database: %s: %d of %d rows not kept by the table %s "
                      "(a trigger added to the book by hand drops them, "
                      "e.g. RAISE(IGNORE))",
                      what, rows - kept, rows, table);
}

static char *dup_col(sqlite3_stmt *s, int i) {
  const unsigned char *v = sqlite3_column_text(s, i);
  return v ? strdup((const char *)v) : NULL;
}

/* Hands every row of a prepared, bound statement to fn. */
static int each_row(sq *st, sqlite3_stmt *s, store_row_fn fn, void *ud,
                    rc_error *err) {
  store_value cols[32];
  int rc, n = sqlite3_column_count(s);
  if (n > 32) n = 32;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    for (int i = 0; i < n; i++) {
      cols[i].name = sqlite3_column_name(s, i);
      switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
          cols[i].type = STORE_INT;
          cols[i].i = sqlite3_column_int64(s, i);
          break;
        case SQLITE_FLOAT:
          cols[i].type = STORE_REAL;
          cols[i].r = sqlite3_column_double(s, i);
          break;
        case SQLITE_NULL:
          cols[i].type = STORE_NULL;
          break;
        default:
          cols[i].type = STORE_TEXT;
          cols[i].s = (const char *)sqlite3_column_text(s, i);
      }
    }
    if (fn(ud, cols, n)) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    fail(st, err, "read");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return RC_ESTORE;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return RC_OK;
}

/* No migration step returns rows but PRAGMA foreign_key_check, and a row
 * from it is a reference the step broke: the step stops and rolls back. */
/* The WAL is copied back after this many bytes, whatever the book's page
 * size (the autocheckpoint counts pages: 2 KB pages at the old count
 * would copy twice as often, and did cost what the smaller pages saved). */
static int sq_pages_of(sqlite3 *db, int bytes) {
  sqlite3_stmt *s;
  int page = 4096;
  if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &s, NULL) == SQLITE_OK) {
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) > 0)
      page = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
  }
  return bytes / page;
}

/* SQLite's update hook: an event row inserted or changed (queued, or a
 * failed one queued again) may be pending. */
static void events_written(void *ud, int op, const char *db,
                           const char *table, sqlite3_int64 rowid) {
  sq *st = ud;
  (void)db, (void)rowid;
  if (op != SQLITE_DELETE && !strcmp(table, "events")) st->events_none = 0;
}

/* Every statement prepared when the book opens, not at its first use:
 * a book changed by hand (a trigger naming a column that is not there,
 * an index or a table recoup needs dropped, a view where a table was)
 * is refused here, naming the statement and SQLite's reason, before
 * any case is read or written; a statement that did not prepare at its
 * first use, deep in a step, could only abort. Once prepared, a change
 * made while the book is open (the service running) is met by SQLite's
 * own prepare again inside sqlite3_step, which fails the step with its
 * reason as any other store error. */
static int sq_prepare_all(sq *st, const char *path, rc_error *err) {
  /* recoup's own triggers and views, as its migrations leave them. Most
   * are in no statement of recoup's: one dropped would not fail to
   * prepare, and the figures it keeps would drift unsaid (figures_*),
   * or a hand edit of `cases` would fail (cases_insert, cases_delete).
   * test_import checks this list against a new book's. */
  static const char *const own[] = {
      "trigger cases_delete",     "trigger cases_insert",
      "trigger cases_update",     "trigger figures_arm_new",
      "trigger figures_arm_paid", "trigger figures_promise_change",
      "trigger figures_promise_new", "view cases",
      "view journal"};
  enum { NOWN = sizeof own / sizeof *own };
  int found[NOWN] = {0};
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(st->db,
                         "SELECT type || ' ' || name FROM sqlite_schema "
                         "WHERE type IN ('trigger', 'view')",
                         -1, &s, NULL) != SQLITE_OK)
    return rc_error_set(err, RC_ESTORE, "db", "cannot read database %s: %s",
                        path, sqlite_why(st->db));
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(s, 0);
    for (int i = 0; name && i < NOWN; i++)
      if (!strcmp(name, own[i])) found[i] = 1;
  }
  if (sqlite3_finalize(s) != SQLITE_OK)
    return rc_error_set(err, RC_ESTORE, "db", "cannot read database %s: %s",
                        path, sqlite_why(st->db));
  for (int i = 0; i < NOWN; i++)
    if (!found[i])
      return rc_error_set(
          err, RC_ESTORE, "db",
          "the book %s was changed by hand and recoup cannot use it: "
          "recoup's %s is missing; put back a backup of the book "
          "(docs/operations.md, \"A book changed by hand\"); the command "
          "did nothing",
          path, own[i]);
  for (int i = 0; i < S_COUNT; i++) {
    const char *t = sql[i];
    int len = 0;
    if (sqlite3_prepare_v3(st->db, t, -1, SQLITE_PREPARE_PERSISTENT,
                           &st->stmts[i], NULL) == SQLITE_OK)
      continue;
    /* The statement's head (INSERT INTO timers ..., SELECT ... FROM x). */
    while (t[len] && len < 72) len++;
    return rc_error_set(
        err, RC_ESTORE, "db",
        "the book %s was changed by hand and recoup cannot use it: its "
        "statement \"%.*s%s\" fails: %s; undo the change (the sqlite3 "
        "shell's .schema lists the book's triggers, views and indexes; "
        "docs/operations.md, \"A book changed by hand\"); the command did "
        "nothing",
        path, len, t, t[len] ? "..." : "", sqlite_why(st->db));
  }
  return RC_OK;
}

/* A connection's settings. journal_mode = WAL on a book just made takes
 * the file's exclusive lock, which SQLite may refuse at once rather than
 * wait for (a lock upgrade that could deadlock calls no busy handler):
 * of two processes making one book together, one was told "database is
 * locked" (first_open_race, seen under ASan). Tried again, 10 ms apart,
 * for as long as the busy timeout waits; the settings are idempotent. */
static int sq_configure(sqlite3 *db, const char *settings, char **msg) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    int rc = sqlite3_exec(db, settings, NULL, NULL, msg);
    /* Time, not tries: an attempt may itself wait out the busy timeout
     * (a first import holding the book), and 500 of those are an hour. */
    clock_gettime(CLOCK_MONOTONIC, &t);
    if ((rc & 0xff) != SQLITE_BUSY ||
        (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >=
            5000)
      return rc;
    sqlite3_free(*msg);
    *msg = NULL;
    sqlite3_sleep(10);
  }
}

/* Timers whose due is text (a hand edit, a tool that wrote a date):
 * text sorts above every number, so the sweep's `due <= now` never
 * takes them and they never fire. Told once a connection, at the first
 * look for a notice (tick warns after its run, serve logs it after its
 * first turn); one seek of timers' key, where text sorts last. A book
 * that cannot say runs as before. */
static void timers_never_due(sq *st) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(st->db,
                         "SELECT (SELECT count(*) FROM timers WHERE due >= "
                         "''), due, case_id FROM timers WHERE due >= '' "
                         "ORDER BY due, id LIMIT 1",
                         -1, &s, NULL) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) > 0)
    store_notice_set(&st->base,
                     "timers: %lld due at a time that is not a number (as "
                     "\"%.40s\", of case %.60s) never fire: `recoup check "
                     "--db` names them (docs/operations.md, \"Timers that "
                     "never fire\")",
                     (long long)sqlite3_column_int64(s, 0),
                     (const char *)sqlite3_column_text(s, 1),
                     (const char *)sqlite3_column_text(s, 2));
  sqlite3_finalize(s);
}

static int sq_open(sq **out, const char *path, int flags, rc_error *err) {
  sq *st;
  int memory = strcmp(path, ":memory:") == 0, created = 0;
  char *msg = NULL;

  *out = NULL;
  sqlmem_install();
  /* Memory statistics cost a mutex and bookkeeping on every allocation, a
   * tenth of a timer sweep when measured; recoup never reads them. It only
   * takes effect before SQLite initialises, so the first open sets it. */
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
  /* A connection is used by one thread only (SQLITE_OPEN_NOMUTEX), but
   * the service's WAL copier is a second thread with a connection of its
   * own (sqlite_checkpoint.c): SQLite's shared state needs its mutexes. */
  sqlite3_config(SQLITE_CONFIG_MULTITHREAD);
  if (!memory) {
    /* Debts and phone numbers: the file is the owner's alone. Made here
     * (O_EXCL) or found: whoever made it may take it away again (an
     * import refused into a new book, store_created). */
    int fd = flags & STORE_MUST_EXIST
                 ? open(path, O_RDWR | O_CLOEXEC)
                 : open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 && !(flags & STORE_MUST_EXIST))
      created = 1;
    else if (fd < 0 && errno == EEXIST) {
      fd = open(path, O_RDWR | O_CLOEXEC);
      /* A link to no file yet (O_EXCL never follows one): made where it
       * points, as before, but not counted as made here, so that a
       * refused import leaves link and file alone. */
      if (fd < 0 && errno == ENOENT)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    }
    if (fd < 0 && errno == ENOENT && flags & STORE_MUST_EXIST)
      return rc_error_set(err, RC_ENOTFOUND, "db",
                          "%s: no such database (nothing was imported into "
                          "it: check --db, or service.db in recoup.lua)",
                          path);
    if (fd < 0)
      return rc_error_set(err, RC_EIO, "db", "cannot open database %s: %s",
                          path, strerror(errno));
    close(fd);
  }
  st = calloc(1, sizeof *st);
  if (!st) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  st->wb.fd = -1;
  st->base.created = created;
  if (sqlite3_open_v2(path, &st->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                          (flags & STORE_MUST_EXIST ? 0 : SQLITE_OPEN_CREATE),
                      NULL) != SQLITE_OK) {
    rc_error_set(err, RC_ESTORE, "db", "cannot open database %s: %s", path,
                 st->db ? sqlite_why(st->db) : "out of memory");
    sq_close(st);
    return RC_ESTORE;
  }
  sqlite3_busy_timeout(st->db, 5000);
  sqlite3_update_hook(st->db, events_written, st);
  /* WAL with synchronous=FULL: every commit is fsync'd, so what was
   * acknowledged survives a power cut, not only a crash. Group commit (a
   * thousand events, or every waiting HTTP write, per transaction) keeps
   * that to one fsync for many.
   * The WAL is copied back into the file every 64 MB, not every 4 MB (the
   * default): when cases come due in an order unrelated to their ids,
   * each batch writes a page of each index at random, and a batch of a
   * thousand already exceeds 4 MB, so every commit copied its pages again
   * though the next batches write most of them anew. Measured on 100k
   * cases coming due shuffled: 12.6k -> 17.0k steps/s. The file is cut
   * back to 64 MB after each copy. The service asks for less (see
   * store_checkpoint_every).
   * A new book has 4 KB pages. 2 KB pages were chosen when a step
   * changed four trees at random places and wrote less with them; since
   * two of those trees went (schema 16 and 17) a step costs more CPU at
   * 2 KB than the bytes save. 100k cases due shuffled (bench_sweep, CPU
   * time of the timed part, three alternated pairs): recoup's step 56 ->
   * 47 us, its frames appended to the WAL 1.90 -> 1.46 (the borrower's
   * messages index has half the pages, so a batch dirties fewer), for
   * 7.6 KB written a step instead of 5.2. The size only takes on an
   * empty file; a book made before keeps its pages (changing them takes
   * a VACUUM of the whole file, docs/cli.md). */
  if (sq_configure(st->db,
                   memory ? "PRAGMA foreign_keys = ON;"
                          : "PRAGMA page_size = 4096;"
                            "PRAGMA journal_mode = WAL;"
                            "PRAGMA synchronous = FULL;"
                            "PRAGMA journal_size_limit = 67108864;"
                            "PRAGMA foreign_keys = ON;"
                            "PRAGMA cache_size = -65536;",
                   &msg) != SQLITE_OK) {
    /* Setting WAL mode waits for a writer that took the book to itself:
     * a first import into a book it made (import_direct), until it ends. */
    if (sqlite3_errcode(st->db) == SQLITE_BUSY)
      rc_error_set(err, RC_ESTORE, "db",
                   "%s is being written by another process (a first import "
                   "into it holds it until it ends): run this once it is "
                   "done",
                   path);
    else
      rc_error_set(err, RC_ESTORE, "db", "cannot configure database %s: %s",
                   path, msg ? sqlite_why(st->db) : "?");
    sqlite3_free(msg);
    sq_close(st);
    return RC_ESTORE;
  }
  if (!memory &&
      sq_ckpt_new(&st->ckpt, st->db, sq_pages_of(st->db, 64 << 20), err) !=
          RC_OK) {
    sq_close(st);
    return RC_ENOMEM;
  }
  if (sqlite_migrate(st->db, err) != RC_OK) {
    sq_close(st);
    return RC_ESTORE;
  }
  /* Set once any upgrade is done: a step that rebuilds indexes sorts
   * millions of entries, which in memory took 0.6 GB at a million cases;
   * in temporary files, 170 MB. */
  if (!memory)
    sqlite3_exec(st->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
  /* A book in memory is recoup's alone, made just now (a spec's, a
   * rehearsal's): nothing changed it by hand, and `recoup test` opens
   * one a test (15M instructions each, 21 tests in examples/microfinance). */
  if (!memory && sq_prepare_all(st, path, err) != RC_OK) {
    sq_close(st);
    return RC_ESTORE;
  }
  *out = st;
  return RC_OK;
}

static void sq_close(sq *st) {
  if (!st) return;
  free(st->fig_case);
  free(st->figures.slot);
  free(st->figures.v);
  free(st->keys.v);
  free(st->claimed.v);
  sqlite3_finalize(st->fired.by_due);
  free(st->ahead.v);
  free(st->ahead.text);
  sqlite_contacts_room_free(&st->ahead.lent);
  held_drop(st);
  import_indexes_forget(st);
  for (int i = 0; i < S_COUNT; i++) sqlite3_finalize(st->stmts[i]);
  sqlite3_finalize(st->book_put);
  for (int i = 0; i < 6; i++) {
    sqlite3_finalize(st->batch[i]);
    sqlite3_finalize(st->claimw.msgs[i]);
    sqlite3_finalize(st->claimw.msgs_shared[i]);
    sqlite3_finalize(st->claimw.runs[i]);
  }
  free(st->claimw.text.p);
  free(st->new_contacts.text.p);
  free(st->packed.p);
  free(st->new_borrowers.text.p);
  free(st->new_borrowers.seen);
  if (st->base.depth > 0) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
  writeback_stop(st);
  /* A command's exit tells its caller the work is done. */
  (void)sq_sync(st, NULL);
  sq_ckpt_free(st->ckpt); /* its thread joined before the last copy */
  sqlite3_close(st->db);
  free(st);
}

/* --- figures by day ------------------------------------------------------ */

static int one_row(sq *st, sqlite3_stmt *s, int rc, rc_error *err,
                   const char *what);

/* The key's parts, as they are stored. */
static void figure_parts(const figure_sum *f, const char *part[5]) {
  const char *p = f->key;
  for (int i = 0; i < 5; i++) {
    part[i] = p;
    if (p < f->key + f->len) p += strlen(p) + 1;
  }
}

static int figure_write(sq *st, const figure_sum *f, const int64_t *v,
                        rc_error *err) {
  static const int which[] = {S_FIGURE_ADD, S_FIGURES_STATE_ADD,
                              S_FIGURES_DUE_ADD, S_FIGURES_MSG_ADD,
                              S_FIGURES_TASK_ADD};
  static const int nkeys[] = {5, 3, 2, 1, 4}, nvalues[] = {2, 4, 2, 1, 1};
  sqlite3_stmt *s = stmt(st, which[f->kind]);
  const char *part[5];
  int k = nkeys[f->kind], rc;
  figure_parts(f, part);
  for (int i = 0; i < k; i++) bind_text(s, i + 1, part[i]);
  for (int i = 0; i < nvalues[f->kind]; i++)
    sqlite3_bind_int64(s, k + i + 1, v[i]);
  rc = exec_stmt(st, s, err, "figures");
  /* A task count that fell to 0 goes (schema 38). */
  if (rc != RC_OK || f->kind != FIG_TASK || v[0] >= 0) return rc;
  s = stmt(st, S_FIGURES_TASK_GONE);
  for (int i = 0; i < k; i++) bind_text(s, i + 1, part[i]);
  return exec_stmt(st, s, err, "figures");
}

/* Forgets every key held. */
static void figures_clear(sq *st) {
  if (st->figures.n && st->figures.slot)
    memset(st->figures.slot, 0, 2 * (size_t)st->figures.cap * sizeof(int));
  st->figures.n = 0;
}

/* Writes what the transaction added, a row a key; then nothing is held. */
static int figures_flush(sq *st, rc_error *err) {
  int rc = RC_OK;
  for (int i = 0; i < st->figures.n && rc == RC_OK; i++) {
    figure_sum *f = &st->figures.v[i];
    if (f->v[0] || f->v[1] || f->v[2] || f->v[3])
      rc = figure_write(st, f, f->v, err);
  }
  figures_clear(st);
  return rc;
}

/* Eight bytes a round, not one: a day's figure key is about 40 bytes,
 * hashed ten times a reminder's step. Only this process's table uses
 * it: nothing written depends on the byte order. */
static unsigned figure_hash(int kind, const char *key, size_t len) {
  uint64_t h = 0x9e3779b97f4a7c15u ^ (uint64_t)kind ^ (uint64_t)len << 8;
  uint64_t w;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    memcpy(&w, key + i, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdu;
    h ^= h >> 29;
  }
  w = 0;
  memcpy(&w, key + i, len - i);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
  return (unsigned)(h ^ h >> 32);
}

/* The slot of a key: where it is, or the empty one where it goes. */
static int *figure_slot(sq *st, int kind, const char *key, size_t len) {
  unsigned mask = 2u * (unsigned)st->figures.cap - 1;
  unsigned i = figure_hash(kind, key, len) & mask;
  for (;; i = (i + 1) & mask) {
    int *slot = &st->figures.slot[i];
    const figure_sum *f;
    if (!*slot) return slot;
    f = &st->figures.v[*slot - 1];
    if (f->kind == kind && f->len == len && !memcmp(f->key, key, len))
      return slot;
  }
}

/* A savepoint ends: released, its part joins the transaction's; rolled
 * back, it is dropped. */
static void figures_savepoint_end(sq *st, int keep) {
  for (int i = 0; i < st->figures.n; i++) {
    figure_sum *f = &st->figures.v[i];
    for (int k = 0; k < 4; k++) {
      if (keep) f->v[k] += f->sp[k];
      f->sp[k] = 0;
    }
  }
}

/* Adds v to the counter row of kind keyed by parts (NULL is ""). */
static int figures_add(sq *st, int kind, const char *const *parts, int nparts,
                       const int64_t v[4], rc_error *err) {
  figure_sum key;
  int i;
  key.kind = kind;
  key.len = 0;
  /* A longer name is cut: figures group by it, nothing looks it up. */
  for (int k = 0; k < nparts; k++) {
    const char *p = parts[k] ? parts[k] : "";
    size_t len = strlen(p);
    if (len > FIGURE_PART) len = FIGURE_PART;
    memcpy(key.key + key.len, p, len);
    key.len += len;
    key.key[key.len++] = '\0';
  }
  int *slot;
  if (st->base.depth == 0) return figure_write(st, &key, v, err);
  if (st->figures.n == st->figures.cap) {
    /* Grown (and indexed again) before a new key could need the room. */
    int cap = st->figures.cap ? st->figures.cap * 2 : 64;
    figure_sum *grown = realloc(st->figures.v, (size_t)cap * sizeof *grown);
    int *slots = calloc(2 * (size_t)cap, sizeof *slots);
    if (grown) st->figures.v = grown;
    if (!grown || !slots) {
      free(slots);
      return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    }
    free(st->figures.slot);
    st->figures.slot = slots;
    st->figures.cap = cap;
    for (int k = 0; k < st->figures.n; k++)
      *figure_slot(st, st->figures.v[k].kind, st->figures.v[k].key,
                   st->figures.v[k].len) = k + 1;
  }
  slot = figure_slot(st, kind, key.key, key.len);
  if (*slot) {
    i = *slot - 1;
  } else {
    i = st->figures.n++;
    memset(key.v, 0, sizeof key.v);
    memset(key.sp, 0, sizeof key.sp);
    st->figures.v[i] = key;
    *slot = i + 1;
  }
  for (int k = 0; k < 4; k++) {
    if (st->base.depth > 1)
      st->figures.v[i].sp[k] += v[k];
    else
      st->figures.v[i].v[k] += v[k];
  }
  return RC_OK;
}

static int sq_figure_add(sq *st, const char *figure, const char *day,
                         const char *a, const char *b, const char *c, int64_t n,
                         int64_t amount, rc_error *err) {
  const char *parts[5] = {figure, day, a, b, c};
  int64_t v[4] = {n, amount, 0, 0};
  return figures_add(st, FIG_DAY, parts, 5, v, err);
}

/* Moves n messages from status `from` to `to` (either NULL: none) in
 * figures_messages. */
static int messages_move(sq *st, const char *from, const char *to, int64_t n,
                         rc_error *err) {
  int rc = RC_OK;
  if (n == 0 || (from && to && !strcmp(from, to))) return RC_OK;
  if (from) {
    int64_t v[4] = {-n, 0, 0, 0};
    rc = figures_add(st, FIG_MSG, &from, 1, v, err);
  }
  if (rc == RC_OK && to) {
    int64_t v[4] = {n, 0, 0, 0};
    rc = figures_add(st, FIG_MSG, &to, 1, v, err);
  }
  return rc;
}

/* --- My work's kept counts (figures_tasks, schema 38) ------------------ */

#define TASK_DAY_MS (24 * 60 * 60 * 1000LL)

/* A count's key written whole and at once: figures_add cuts a long part
 * (a name figures group by), where a count is looked up by its queue and
 * assignee. */
static int task_count_write(sq *st, const char *const key[4], int64_t n,
                            rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_FIGURES_TASK_ADD);
  int rc;
  for (int i = 0; i < 4; i++) bind_text(s, i + 1, key[i]);
  sqlite3_bind_int64(s, 5, n);
  if ((rc = exec_stmt(st, s, err, "figures")) != RC_OK || n >= 0) return rc;
  s = stmt(st, S_FIGURES_TASK_GONE);
  for (int i = 0; i < 4; i++) bind_text(s, i + 1, key[i]);
  return exec_stmt(st, s, err, "figures");
}

/* Adds sign to the count of a task as it is: its queue, due time (none:
 * has_due 0), status and assignee; nothing when it is not waiting in a
 * queue. The day is SQLITE_TASK_DAY's; an open task's assignee is
 * not its key's (anyone may claim it). */
static int task_count(sq *st, const char *queue, int64_t due, int has_due,
                      const char *status, const char *assignee, int sign,
                      rc_error *err) {
  int64_t v[4] = {sign, 0, 0, 0};
  const char *key[4];
  char day[24];
  int claimed;
  if (!queue || !status) return RC_OK;
  claimed = !strcmp(status, "claimed");
  if (!claimed && strcmp(status, "open")) return RC_OK;
  snprintf(day, sizeof day, "%lld",
           (long long)(!has_due || due < 0 ? -1 : due / TASK_DAY_MS));
  key[0] = queue;
  key[1] = day;
  key[2] = claimed ? "1" : "0";
  key[3] = claimed && assignee ? assignee : "";
  if (strlen(key[0]) > FIGURE_PART || strlen(key[3]) > FIGURE_PART)
    return task_count_write(st, key, sign, err);
  return figures_add(st, FIG_TASK, key, 4, v, err);
}

/* A task as its count keys it, read before a write changes it. Owns its
 * text: the write comes after the read's statement is reset. */
typedef struct task_was {
  char *queue, *status, *assignee; /* owned; NULL for none */
  int64_t due;
  int has_due;
} task_was;

static void task_was_free(task_was *w) {
  free(w->queue);
  free(w->status);
  free(w->assignee);
  memset(w, 0, sizeof *w);
}

static char *col_dup(sqlite3_stmt *s, int col, int *oom) {
  const char *t = (const char *)sqlite3_column_text(s, col);
  char *d = t ? strdup(t) : NULL;
  if (t && !d) *oom = 1;
  return d;
}

/* From the row s stands on: the columns of queue, due, status and
 * assignee. RC_ENOMEM when a copy cannot be made. */
static int task_was_read(task_was *w, sqlite3_stmt *s, int queue, int due,
                         int status, int assignee, rc_error *err) {
  int oom = 0;
  memset(w, 0, sizeof *w);
  w->queue = col_dup(s, queue, &oom);
  w->status = col_dup(s, status, &oom);
  w->assignee = col_dup(s, assignee, &oom);
  w->has_due = sqlite3_column_type(s, due) != SQLITE_NULL;
  w->due = sqlite3_column_int64(s, due);
  if (!oom) return RC_OK;
  task_was_free(w);
  return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
}

/* Moves a task's count from what it was to status and assignee. */
static int task_was_moved(sq *st, const task_was *w, const char *status,
                          const char *assignee, rc_error *err) {
  int rc = task_count(st, w->queue, w->due, w->has_due, w->status, w->assignee,
                      -1, err);
  if (rc == RC_OK && status)
    rc = task_count(st, w->queue, w->due, w->has_due, status, assignee, 1, err);
  return rc;
}

/* Task id as its count keys it (S_TASK_GET); RC_ENOTFOUND when there is
 * no such task. */
static int task_was_get(sq *st, int64_t id, task_was *w, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_TASK_GET);
  int rc;
  memset(w, 0, sizeof *w);
  sqlite3_bind_int64(s, 1, id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    rc = task_was_read(w, s, 5, 7, 2, 6, err);
  else if (rc == SQLITE_DONE)
    rc = RC_ENOTFOUND;
  else
    rc = fail(st, err, "read task");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

/* A message's status before a write that may change it; "" when there
 * is no such message. */
static int message_status(sq *st, int64_t id, char *buf, size_t size,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_MESSAGE_STATUS_GET);
  int rc;
  sqlite3_bind_int64(s, 1, id);
  rc = one_row(st, s, sqlite3_step(s), err, "message status");
  buf[0] = '\0';
  if (rc == RC_OK) rc_copy(buf, size, (const char *)sqlite3_column_text(s, 0));
  sqlite3_reset(s);
  return rc == RC_ENOTFOUND ? RC_OK : rc;
}

/* What a case counts for in figures_states and figures_due: balances
 * are summed each currency apart. */
typedef struct case_fig {
  char workflow[FIGURE_PART + 1], state[FIGURE_PART + 1], due[32];
  char currency[16];
  int64_t balance;
  int closed, error;
} case_fig;

/* Reads what the case counts for now, before a write changes it:
 * RC_ENOTFOUND when there is no such case (the write changes nothing). */
static int case_fig_read(sq *st, const char *id, case_fig *f, rc_error *err) {
  sqlite3_stmt *s;
  int rc;
  if (st->fig_case && st->fig_case_id[0] && !strcmp(id, st->fig_case_id)) {
    *f = *st->fig_case;
    return RC_OK;
  }
  s = stmt(st, S_CASE_FIGURES);
  bind_text(s, 1, id);
  rc = one_row(st, s, sqlite3_step(s), err, "case figures");
  if (rc == RC_OK) {
    const unsigned char *due = sqlite3_column_text(s, 2);
    rc_copy(f->workflow, sizeof f->workflow,
            (const char *)sqlite3_column_text(s, 0));
    rc_copy(f->state, sizeof f->state, (const char *)sqlite3_column_text(s, 1));
    rc_copy(f->due, sizeof f->due, due ? (const char *)due : "");
    rc_copy(f->currency, sizeof f->currency,
            (const char *)sqlite3_column_text(s, 6));
    f->balance = sqlite3_column_int64(s, 3);
    f->closed = sqlite3_column_int(s, 4);
    f->error = sqlite3_column_int(s, 5);
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

/* Remembers what case id counts for now (case_fig_read). */
static void case_fig_keep(sq *st, const char *id, const case_fig *f) {
  if (strlen(id) >= sizeof st->fig_case_id ||
      (!st->fig_case && !(st->fig_case = malloc(sizeof *st->fig_case)))) {
    st->fig_case_id[0] = '\0';
    return;
  }
  *st->fig_case = *f;
  memcpy(st->fig_case_id, id, strlen(id) + 1);
}

/* Adds a case to its figures_states row (sign 1) or takes it out (-1). */
static int case_fig_state(sq *st, const case_fig *f, int sign, rc_error *err) {
  const char *key[3] = {f->workflow, f->state, f->currency};
  int64_t v[4] = {sign, sign * f->balance, sign * f->error, sign * f->closed};
  return figures_add(st, FIG_STATE, key, 3, v, err);
}

/* The same for its figures_due row: open cases only. */
static int case_fig_due(sq *st, const case_fig *f, int sign, rc_error *err) {
  const char *key[2] = {f->due, f->currency};
  int64_t v[4] = {sign, sign * f->balance, 0, 0};
  return f->closed ? RC_OK : figures_add(st, FIG_DUE, key, 2, v, err);
}

static int case_fig_count(sq *st, const case_fig *f, int sign, rc_error *err) {
  int rc = case_fig_state(st, f, sign, err);
  return rc == RC_OK ? case_fig_due(st, f, sign, err) : rc;
}

/* A case moves from what it was to what it is; each row only when the
 * write changed what it counts (a transition leaves the due date's). */
static int case_fig_move(sq *st, const case_fig *was, const case_fig *now,
                         rc_error *err) {
  int rc = RC_OK, closed = was->closed != now->closed,
      money = was->balance != now->balance ||
              strcmp(was->currency, now->currency) != 0;
  if (money || closed || was->error != now->error ||
      strcmp(was->state, now->state) || strcmp(was->workflow, now->workflow)) {
    if ((rc = case_fig_state(st, was, -1, err)) == RC_OK)
      rc = case_fig_state(st, now, 1, err);
  }
  if (rc == RC_OK && (money || closed || strcmp(was->due, now->due))) {
    if ((rc = case_fig_due(st, was, -1, err)) == RC_OK)
      rc = case_fig_due(st, now, 1, err);
  }
  return rc;
}

static void sq_checkpoint_every(sq *st, int pages) {
  if (st->ckpt) sq_ckpt_every(st->ckpt, pages);
}

static int sq_checkpoint_apart(sq *st, int pages, int most, rc_error *err) {
  if (!st->ckpt) return RC_OK; /* in memory: no WAL */
  if (most <= 0) most = sq_pages_of(st->db, 64 << 20); /* as journal_size_limit */
  return sq_ckpt_apart(st->ckpt, pages, most, err);
}

/* store.c keeps base.depth: it is 1 in a batch, 2 in a savepoint, while
 * these run; they read it and never set it. */
static void import_direct_end(sq *st);

static int sq_rollback(sq *st) {
  int rc = RC_OK;
  ahead_drop(st);
  held_drop(st);
  claimw_drop(st);
  st->claimw.failed = 0;
  fired_drop(st);
  st->fired.failed = 0;
  import_indexes_forget(st);
  figures_clear(st);
  timer_keys_forget(st);
  timer_ids_forget(st);
  journal_chain_forget(st);
  tasks_forget(st);
  message_last_forget(st);
  outbox_fresh_forget(st);
  st->events_none = 0;
  st->fig_case_id[0] = '\0';
  st->timers_known = 0;
  if (st->base.depth == 0) return RC_OK;
  /* After some errors SQLite has already rolled back; that is fine. */
  if (!sqlite3_get_autocommit(st->db))
    rc = exec_stmt(st, stmt(st, S_ROLLBACK), NULL, "rollback");
  import_direct_end(st);
  return rc;
}

/* The open transaction's commit waits for the disk (lazy 0: synchronous
 * FULL, as the book is opened) or not (1: NORMAL, still atomic). SQLite
 * takes the level only between transactions. */
static int sync_level(sq *st, int lazy, rc_error *err) {
  if (st->lazy == lazy || st->scratch || !st->ckpt) return RC_OK;
  if (sqlite3_exec(st->db,
                   lazy ? "PRAGMA synchronous = NORMAL"
                        : "PRAGMA synchronous = FULL",
                   NULL, NULL, NULL) != SQLITE_OK)
    return fail(st, err, "synchronous");
  st->lazy = lazy;
  return RC_OK;
}

/* The barrier: one fsync of the WAL makes every frame in it durable,
 * the unsynced commits' with the rest. */
static int sq_sync(sq *st, rc_error *err) {
  sqlite3_file *wal = NULL;
  if (!st->unsynced) return RC_OK;
  if (sqlite3_file_control(st->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
                           &wal) != SQLITE_OK ||
      !wal || !wal->pMethods ||
      wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL) != SQLITE_OK)
    return rc_error_set(err, RC_ESTORE, "db",
                        "cannot make the last commits durable: the WAL of %s "
                        "could not be synced",
                        sqlite3_db_filename(st->db, "main"));
  st->unsynced = 0;
  return RC_OK;
}

static int sq_release(sq *st, rc_error *err) {
  if (timer_keys_flush(st, err) != RC_OK ||
      message_last_flush(st, err) != RC_OK ||
      exec_stmt(st, stmt(st, S_RELEASE), err, "release") != RC_OK)
    return RC_ESTORE;
  /* After a ROLLBACK TO the savepoint's part is already gone. */
  figures_savepoint_end(st, 1);
  return RC_OK;
}

/* An import's transaction checks no foreign key (store_begin_import says
 * why none can fail): each was a look-up in the tree referred to, for
 * a row's case (its borrower), contact (the same) and timer (its case),
 * 8.5k instructions of an imported row's 105k (20,000 bench rows). The
 * connection takes the setting only between transactions; not taken,
 * the checks stay, which is as right. */
static void fk_suspend(sq *st) {
  int now = 1;
  if (!sqlite3_get_autocommit(st->db)) return;
  sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_FKEY, 0, &now);
  st->fk_off = now == 0;
}

/* Once the import's transaction ended, every other checks its keys: one
 * the connection cannot have them on for is refused (sq_begin). */
static int fk_resume(sq *st, rc_error *err) {
  int now = 0;
  if (!st->fk_off) return RC_OK;
  if (sqlite3_get_autocommit(st->db))
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_ENABLE_FKEY, 1, &now);
  if (!now)
    return rc_error_set(err, RC_ESTORE, NULL,
                        "database: foreign keys cannot be turned on again");
  st->fk_off = 0;
  return RC_OK;
}

/* Debug builds, which the test suites run, prove the checks skipped at
 * each import's commit: a row it wrote that refers to nothing fails it.
 * What counts is what the import added: a book may hold such rows from
 * before (a hand edit made with the sqlite3 shell, whose foreign keys are
 * off), and blaming every later import for them refused each one in a
 * debug build where a release build took it. A release build trusts the
 * proof (the scan reads every table that refers to another). */
#ifndef NDEBUG
/* The rows that refer to nothing, counted; the first's table and the
 * table it refers to in what (size bytes). -1: the scan failed. */
static int64_t fk_broken(sq *st, char *what, size_t size) {
  sqlite3_stmt *s;
  int64_t n = 0;
  int rc;
  if (sqlite3_prepare_v2(st->db, "PRAGMA foreign_key_check", -1, &s, NULL) !=
      SQLITE_OK)
    return -1;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    if (n++ == 0 && what)
      snprintf(what, size, "a row of %s that refers to no row of %s",
               (const char *)sqlite3_column_text(s, 0),
               (const char *)sqlite3_column_text(s, 2));
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? n : -1;
}
#endif

/* Right after the import's BEGIN (IMMEDIATE: nobody writes meanwhile). */
static void fk_baseline(sq *st) {
#ifdef NDEBUG
  (void)st;
#else
  if (st->fk_off) st->fk_before = fk_broken(st, NULL, 0);
#endif
}

static int fk_verify(sq *st, rc_error *err) {
#ifdef NDEBUG
  (void)st, (void)err;
  return RC_OK;
#else
  char what[300] = "";
  int64_t now;
  if (!st->fk_off) return RC_OK;
  if (st->fk_before < 0 || (now = fk_broken(st, what, sizeof what)) < 0)
    return fail(st, err, "foreign_key_check");
  if (now > st->fk_before)
    return rc_error_set(err, RC_EINTERNAL, NULL,
                        "database: the import wrote rows that refer to "
                        "nothing: %" PRId64 " in the book, %" PRId64
                        " before it (the first: %s)",
                        now, st->fk_before, what);
  return RC_OK;
#endif
}

/* A first import in rollback-journal mode (import_direct) left every
 * page SQLite wrote into the book in the kernel's cache until the
 * commit's fsync, which then waited for the disk to take them all (on a
 * million bench rows 0.53 s of its 0.67 s in fsyncs, strace -T, loaded
 * machine). Each time the book has grown by WRITEBACK_PAGES, a thread
 * asks the kernel to start writing them: the disk takes them while the
 * import goes on, and the commit waits for what is left. On the thread:
 * asked on the import's, the calls waited for the disk's queue (0.25 s
 * of them on that million). The order SQLite relies on stays: these
 * pages are written already (a page the rollback journal covers only
 * once the journal is synced), and the kernel may write them out at any
 * time anyway. */
enum { WRITEBACK_PAGES = 4096 };

#ifdef SYNC_FILE_RANGE_WRITE
static void *writeback_main(void *arg) {
  sq *st = arg;
  pthread_mutex_lock(&st->wb.mu);
  for (;;) {
    while (!st->wb.ask && !st->wb.stop)
      pthread_cond_wait(&st->wb.asked, &st->wb.mu);
    if (st->wb.stop) break;
    st->wb.ask = 0;
    pthread_mutex_unlock(&st->wb.mu);
    (void)sync_file_range(st->wb.fd, 0, 0, SYNC_FILE_RANGE_WRITE);
    pthread_mutex_lock(&st->wb.mu);
  }
  pthread_mutex_unlock(&st->wb.mu);
  return NULL;
}

/* The descriptor SQLite reads and writes the book through, found among
 * the process's first ones by the file's device and inode: SQLite has no
 * call that gives it, and the book opened again would not do (closing
 * that second descriptor would drop every lock the process holds on the
 * book, SQLite's too: www.sqlite.org/howtocorrupt.html, 2.2). -1 when
 * not found. */
static int book_descriptor(sq *st) {
  struct stat book, one;
  const char *path = sqlite3_db_filename(st->db, "main");
  if (!path || !*path || stat(path, &book) != 0) return -1;
  for (int fd = 0; fd < 1024; fd++)
    if (fstat(fd, &one) == 0 && S_ISREG(one.st_mode) &&
        one.st_dev == book.st_dev && one.st_ino == book.st_ino)
      return fd;
  return -1;
}
#endif

/* Without the thread (none could start) the import goes on as before. */
static void writeback_start(sq *st) {
#ifdef SYNC_FILE_RANGE_WRITE
  st->wb.on = st->wb.ask = st->wb.stop = 0;
  if ((st->wb.fd = book_descriptor(st)) < 0) return;
  if (pthread_mutex_init(&st->wb.mu, NULL) != 0) return;
  if (pthread_cond_init(&st->wb.asked, NULL) != 0) {
    pthread_mutex_destroy(&st->wb.mu);
    return;
  }
  if (pthread_create(&st->wb.thread, NULL, writeback_main, st) != 0) {
    pthread_cond_destroy(&st->wb.asked);
    pthread_mutex_destroy(&st->wb.mu);
    return;
  }
  st->wb.on = 1;
#else
  (void)st;
#endif
}

static void writeback_stop(sq *st) {
  if (!st->wb.on) return;
  pthread_mutex_lock(&st->wb.mu);
  st->wb.stop = 1;
  pthread_cond_signal(&st->wb.asked);
  pthread_mutex_unlock(&st->wb.mu);
  pthread_join(st->wb.thread, NULL);
  pthread_cond_destroy(&st->wb.asked);
  pthread_mutex_destroy(&st->wb.mu);
  st->wb.on = 0;
}

static void import_writeback(sq *st, int64_t pages) {
  if (!st->wb.on || pages - st->wb_at < WRITEBACK_PAGES) return;
  st->wb_at = pages;
  pthread_mutex_lock(&st->wb.mu);
  st->wb.ask = 1;
  pthread_cond_signal(&st->wb.asked);
  pthread_mutex_unlock(&st->wb.mu);
}

/* A first import into a book this process made (store_created) and
 * without cases writes its pages into the book itself, in SQLite's
 * rollback-journal mode, not through the WAL: the WAL wrote each page,
 * the commit read back all frames written since the first one written
 * again (the trees' right edges) to sum them afresh, and the checkpoint
 * read them all again to copy them into the book. Pages past the book's
 * size when the transaction began (all of a first import's but a few)
 * need no copy in the journal: a rollback cuts the file back. Still all
 * or nothing, synced at the commit; a process killed midway leaves a
 * journal the next open plays back. Only a book made here, which nobody
 * knew of before: another process opening it meanwhile waits for the
 * commit (its open sets WAL mode) and, past its 5 s, is refused
 * "database is locked" where it would have read the empty book. Only
 * when no other connection has it open (leaving WAL takes the book to
 * itself; asked without waiting): otherwise through the WAL, as before.
 * A million bench rows (/proc io, 3 alternated pairs, load 9-12):
 * written 1,653 -> 796 MB, read 1,377 -> 273 MB, CPU user 10.0-13.1 ->
 * 8.4-11.2 s, system 4.5-5.1 -> 2.4-2.9 s; two million: written 2,999 ->
 * 1,637 MB, read 3,158 -> 634 MB, CPU 36.0 -> 31.8 s. */
static void import_direct(sq *st) {
  char mode[24] = "", wait[24] = "";
  sqlite3_stmt *q;
  int none;
  writeback_stop(st); /* none runs outside a direct import; for sure */
  st->direct = 0;
  /* In memory there is no WAL. In a service the WAL copier's connection
   * has the book open: the switch below is refused there. */
  if (!st->ckpt || !st->base.created) return;
  q = stmt(st, S_CASES_ANY);
  none = q && sqlite3_step(q) == SQLITE_DONE;
  if (q) sqlite3_reset(q);
  if (!none) return;
  sqlite3_exec(st->db, "PRAGMA busy_timeout", pragma_text, wait, NULL);
  sqlite3_busy_timeout(st->db, 0);
  sqlite3_exec(st->db, "PRAGMA journal_mode = DELETE", pragma_text, mode,
               NULL);
  sqlite3_busy_timeout(st->db, *wait ? atoi(wait) : 5000);
  st->direct = !strcmp(mode, "delete");
  st->wb_at = 0;
  if (st->direct) writeback_start(st);
}

/* The import's transaction ended (committed or rolled back): WAL again.
 * Where that fails (a full disk), the next open sets it. */
static void import_direct_end(sq *st) {
  if (!st->direct) return;
  st->direct = 0;
  writeback_stop(st);
  sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
}

/* BEGIN IMMEDIATE for an import, its savepoints journalled in a file.
 * The import runs its cases' `opened` handlers 1,024 to a savepoint
 * (engine_import_opened), each keeping a copy of some 0.9 page a case it
 * changes. Kept in memory (the book's temp_store 2), that copy is a list
 * of 1 KB blocks allocated and freed again each savepoint; in a file, it
 * is written over again in the kernel's cache (a few hundred KB). The
 * pager chooses at the transaction's start, so the setting changes for
 * the BEGIN alone: sorts and temporary tables stay as the book has them.
 * A million bench rows (10 alternated pairs on a loaded machine): CPU
 * 11.79 -> 11.50 s (user 9.78 -> 9.14 s, system 2.00 -> 2.36 s), peak
 * memory unchanged (238-239 MB). */
static int import_begin(sq *st, rc_error *err) {
  char temp[24] = "";
  char *restore;
  int rc;
  sqlite3_exec(st->db, "PRAGMA temp_store", pragma_text, temp, NULL);
  import_direct(st);
  sqlite3_exec(st->db, "PRAGMA temp_store = FILE", NULL, NULL, NULL);
  rc = exec_stmt(st, stmt(st, S_BEGIN), err, "begin");
  if (rc != RC_OK) import_direct_end(st);
  restore = sqlite3_mprintf("PRAGMA temp_store = %s", *temp ? temp : "DEFAULT");
  if (restore) sqlite3_exec(st->db, restore, NULL, NULL, NULL);
  sqlite3_free(restore);
  return rc;
}

/* The book's size in pages, -1 when it cannot be read. */
static int64_t page_count(sq *st) {
  sqlite3_stmt *s;
  int64_t n = -1;
  if (sqlite3_prepare_v2(st->db, "PRAGMA page_count", -1, &s, NULL) !=
      SQLITE_OK)
    return -1;
  if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return n;
}

/* An import four times larger than the cache has its dirty pages
 * written to the WAL (uncommitted, as SQLite does when the cache is
 * full) between its savepoints, each time the book grew by half the
 * cache. Left to the cache, a page is written out when the cache is
 * full, in the middle of a savepoint of 1,024 `opened` handlers
 * (engine_import_opened), and SQLite first copies the page as it was
 * into the savepoint's journal, so that ROLLBACK TO can bring it back:
 * nearly every page past the cache's size was written twice. Written out
 * between the savepoints, it needs no copy. The price: the pages the
 * import keeps changing (the trees' right edges) are written to the WAL
 * again, and once a frame is written again, the commit reads the WAL back
 * from it to sum it afresh; so it starts only once the book is four
 * caches bigger, where that read mostly happened anyway. A million bench
 * rows (strace, writer's reads and writes): 1,483,681 -> 1,290,754
 * calls, 3,793 -> 3,418 MB; 388,947 -> 137,467 of them to the savepoint's
 * file (flushing from the start: 1,262,062, but 200,000 rows then took
 * 268k where 237k). */
static int import_spill(sq *st, rc_error *err) {
  int64_t pages;
  rc_error why;
  int rc;
  if (!st->spill || st->base.depth != 1) return RC_OK;
  if ((pages = page_count(st)) < 0) return fail(st, err, "page_count");
  import_writeback(st, pages);
  if (pages < st->spill_from || pages - st->spilled_at < st->spill)
    return RC_OK;
  if ((rc = sqlite3_db_cacheflush(st->db)) == SQLITE_OK) {
    st->spilled_at = pages;
    return RC_OK;
  }
  /* Its failure is not the connection's message (a full disk is). */
  rc_error_set(&why, RC_ESTORE, NULL,
               "database: write the import's pages: %s (%d)",
               sqlite3_errstr(rc), rc);
  rolled_back_by(st, &why);
  if (err) *err = why;
  return RC_ESTORE;
}

/* Half the connection's cache, in pages (cache_size: pages when
 * positive, KB when negative); fewer when RECOUP_IMPORT_SPILL_PAGES
 * says so (tests: 1 writes the cache out before every savepoint). */
static int import_spill_pages(sq *st) {
  char cache[24] = "";
  const char *v = getenv("RECOUP_IMPORT_SPILL_PAGES");
  int64_t n;
  if (v && atoll(v) > 0 && atoll(v) < (1 << 29)) return (int)atoll(v);
  sqlite3_exec(st->db, "PRAGMA cache_size", pragma_text, cache, NULL);
  n = strtoll(cache, NULL, 10);
  if (n < 0) n = -n * sq_pages_of(st->db, 1 << 20) / 1024;
  return n < 2 ? 1 : n > (1 << 30) ? 1 << 29 : (int)(n / 2);
}

static int sq_begin(sq *st, int nested, rc_error *err) {
  int lazy, import;
  /* What a savepoint rolls back is then only what it changed. */
  if (nested)
    return claimw_flush(st, err) != RC_OK || fired_flush(st, err) != RC_OK ||
                   import_spill(st, err) != RC_OK ||
                   timer_keys_flush(st, err) != RC_OK ||
                   message_last_flush(st, err) != RC_OK ||
                   held_mark(st, err) != RC_OK ||
                   exec_stmt(st, stmt(st, S_SAVEPOINT), err, "savepoint") !=
                       RC_OK
               ? RC_ESTORE
               : RC_OK;
  st->fig_case_id[0] = '\0';
  st->spill = 0;
  lazy = st->later;
  st->later = 0; /* for this transaction only, whatever comes of it */
  import = st->import_next;
  st->import_next = 0; /* the same */
  if (st->base.depth != 0)
    return rc_error_set(err, RC_ESTORE, NULL, "transaction already open");
  st->rolled_back = 0;
  if (!import && fk_resume(st, err) != RC_OK) return RC_ESTORE;
  ahead_drop(st);
  st->ahead.triggers.checked = 0; /* another connection may have made one */
  st->ahead.borrower_triggers.checked = 0;
  timer_keys_forget(st); /* another connection may have written since */
  journal_chain_forget(st);
  tasks_forget(st);
  message_last_forget(st);
  st->events_none = 0;
  held_drop(st);
  claimw_drop(st);
  st->claimw.failed = 0;
  fired_drop(st);
  st->fired.failed = 0;
  st->claimw.triggers.checked = 0; /* the same */
  import_indexes_forget(st);
  timer_ids_forget(st);
  if (lazy && sync_level(st, 1, err) != RC_OK) return RC_ESTORE;
  if (import) fk_suspend(st);
  if ((import ? import_begin(st, err)
              : exec_stmt(st, stmt(st, S_BEGIN), err, "begin")) != RC_OK) {
    (void)sync_level(st, 0, NULL);
    (void)fk_resume(st, NULL);
    return RC_ESTORE;
  }
  fk_baseline(st);
  if (import) {
    st->spill = import_spill_pages(st);
    st->spilled_at = page_count(st);
    st->spill_from = st->spilled_at + 8 * (int64_t)st->spill;
  }
  return RC_OK;
}

static int sq_end(sq *st, int nested, int keep, rc_error *err) {
  if (nested) held_unmark(st, keep);
  if (nested && keep) {
    /* After the release's own writes (timer keys, message pointers): the
     * first to read through an index would build it in this savepoint. */
    int rc = sq_release(st, err);
    import_indexes_unmark(st, 1);
    return rc;
  }
  if (nested) {
    import_indexes_unmark(st, 0);
    ahead_drop(st); /* read before the savepoint, or undone with it */
    /* ROLLBACK TO keeps the savepoint open; RELEASE then drops it empty. */
    st->timers_known = 0;
    st->fig_case_id[0] = '\0';
    timer_keys_forget(st);
    journal_chain_forget(st);
    tasks_forget(st);
    message_last_forget(st);
    outbox_fresh_forget(st);
    st->events_none = 0; /* a row it deleted is back */
    timer_ids_forget(st);
    fired_drop(st); /* none waits in a savepoint (sq_begin) */
    figures_savepoint_end(st, 0);
    if (exec_stmt(st, stmt(st, S_ROLLBACK_TO), err, "rollback to") != RC_OK)
      return RC_ESTORE;
    return sq_release(st, err);
  }
  st->spill = 0;
  if (!keep) {
    int rc = sq_rollback(st);
    (void)sync_level(st, 0, NULL);
    (void)fk_resume(st, NULL);
    return rc;
  }
  long wrote = sq_ckpt_commits(st->ckpt);
  if (claimw_flush(st, err) != RC_OK || claimw_refused(st, err) != RC_OK ||
      fired_flush(st, err) != RC_OK || fired_refused(st, err) != RC_OK ||
      held_flush(st, err) != RC_OK || held_refused(st, err) != RC_OK ||
      timer_keys_flush(st, err) != RC_OK ||
      message_last_flush(st, err) != RC_OK || figures_flush(st, err) != RC_OK ||
      import_indexes_build(st, err) != RC_OK || fk_verify(st, err) != RC_OK ||
      exec_stmt(st, stmt(st, S_COMMIT), err, "commit") != RC_OK) {
    sq_rollback(st);
    (void)sync_level(st, 0, NULL);
    (void)fk_resume(st, NULL);
    return RC_ESTORE;
  }
  held_drop(st); /* all written: its memory goes */
  /* A batch committed: the one a refused waiting row failed has run
   * again (at once, before any other transaction on this connection)
   * with rows written as they come, and its step was set aside. Rows
   * wait again from the next batch on: another row refused costs that
   * batch one more run, as the first did. Left off, every batch of the
   * connection's life wrote rows one a statement. */
  st->claimw.off = 0;
  import_direct_end(st);
  ahead_drop(st); /* the lock that kept them true goes */
  import_indexes_forget(st);
  /* A synced commit's fsync of the WAL covered every frame before it. */
  if (sq_ckpt_commits(st->ckpt) != wrote) st->unsynced = st->lazy;
  /* Committed whatever comes of it; a next transaction refuses to begin
   * while the keys are still off (sq_begin). */
  (void)fk_resume(st, NULL);
  return sync_level(st, 0, err);
}

/* The answer of a statement that reads at most one row: RC_OK with the
 * row still on s (SQLITE_ROW), RC_ENOTFOUND without one, or the store's
 * failure. The caller resets s. */
static int one_row(sq *st, sqlite3_stmt *s, int rc, rc_error *err,
                   const char *what) {
  if (rc == SQLITE_ROW) return RC_OK;
  if (rc == SQLITE_DONE) return RC_ENOTFOUND;
  return fail(st, err, what);
}

static int sq_meta_get(sq *st, const char *key, char *buf, size_t size,
                       rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_META_GET);
  int rc;
  bind_text(s, 1, key);
  rc = one_row(st, s, sqlite3_step(s), err, "meta");
  if (rc == RC_OK) /* a NULL written by hand reads as no text */
    snprintf(buf, size, "%s",
             sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0)
                                       : "");
  else if (rc == RC_ENOTFOUND)
    rc_error_set(err, RC_ENOTFOUND, NULL, "no %s in meta", key);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

static int sq_meta_put(sq *st, const char *key, const char *value,
                       rc_error *err) {
  sqlite3_stmt *s = stmt(st, value ? S_META_PUT : S_META_DELETE);
  bind_text(s, 1, key);
  if (value) bind_text(s, 2, value);
  return exec_stmt(st, s, err, "meta");
}

static int borrower_read(sq *st, const char *id, store_borrower *out,
                         rc_error *err);
static void bind_borrower(sqlite3_stmt *s, const store_borrower *b,
                          const char *packed);

static int same_text(const char *a, const char *b) {
  return a == b || (a && b && strcmp(a, b) == 0);
}

/* Would the upsert below leave the borrower as stored? A text it is not
 * given stays; do_not_contact only rises; ceased is the borrower's own. */
static int borrower_same(const store_borrower *b, const store_borrower *was) {
  const char *const now[] = {b->name,          b->locale,
                             b->timezone,      b->address,
                             b->employer_name, b->employer_phone,
                             b->employer_address, b->area};
  const char *const old[] = {was->name,          was->locale,
                             was->timezone,      was->address,
                             was->employer_name, was->employer_phone,
                             was->employer_address, was->area};
  for (size_t i = 0; i < sizeof now / sizeof now[0]; i++)
    if (now[i] && !same_text(now[i], old[i])) return 0;
  return b->do_not_contact <= was->do_not_contact;
}

static int contacts_same(const store_borrower *b, const store_borrower *was) {
  if (b->ncontacts < 0) return 1; /* the list is not given: it stays */
  if (b->ncontacts != was->ncontacts) return 0;
  for (int i = 0; i < b->ncontacts; i++) {
    const store_contact *x = &b->contacts[i], *y = &was->contacts[i];
    if (!same_text(x->kind, y->kind) || !same_text(x->value, y->value) ||
        !same_text(x->name, y->name) || !same_text(x->relation, y->relation))
      return 0;
  }
  return 1;
}

/* A borrower is read before it is written: a daily snapshot gives most
 * borrowers again unchanged, and rewriting the row and its contacts
 * (deleted and inserted) was four B-tree writes a row for nothing. A new
 * case's borrower is often new too, and then inserting it at once saves
 * the read that misses (4.5k instructions); when it is not, the insert
 * that does nothing costs 6.7k more than the read alone. So it is tried
 * first while more than 3 in 5 such borrowers were new, lately: each new
 * one scores 2, each known one -3. */
enum { OPENING_NEW = 2, OPENING_KNOWN = -3, OPENING_BOUND = 30 };

static void opening_seen(sq *st, int found) {
  int v = st->opening_new + (found ? OPENING_KNOWN : OPENING_NEW);
  st->opening_new = v > OPENING_BOUND    ? OPENING_BOUND
                    : v < -OPENING_BOUND ? -OPENING_BOUND
                                         : v;
}

/* The borrower's contacts packed for its row (st->packed): NULL when the
 * list is not given. Refused before anything is written when it cannot
 * be packed (a kind the contacts table's CHECK would refuse anyway). */
static int borrower_packed(sq *st, const store_borrower *b,
                           const char **packed, rc_error *err) {
  *packed = NULL;
  if (b->ncontacts < 0) return RC_OK;
  if (sqlite_contacts_pack(&st->packed, b->contacts, b->ncontacts) == 0) {
    *packed = st->packed.p;
    return RC_OK;
  }
  if (st->packed.oom)
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  return rc_error_set(err, RC_EINVAL, "contacts",
                      "borrower %s: a contact's kind is not phone, email "
                      "or third_party",
                      b->id);
}

/* Deletes a borrower's contacts by the keys its packed copy gave (gone),
 * one look-up each: the table is keyed by value (schema 28). When the
 * copy did not read (ncontacts -1) or a key finds no row (the copy and
 * the table differ, a hand edit), the table is scanned for the
 * borrower's rows instead. A row the table holds beyond the copy's is
 * not seen: `recoup check --db` names that borrower. */
static int contacts_delete(sq *st, const char *id, const store_borrower *gone,
                           rc_error *err) {
  sqlite3_stmt *s;
  int rc = contacts_flush(st, err), i;
  if (rc != RC_OK) return rc;
  for (i = 0; i < gone->ncontacts; i++) {
    s = stmt(st, S_CONTACT_DELETE);
    bind_text(s, 1, gone->contacts[i].value);
    bind_text(s, 2, id);
    sqlite3_bind_int(s, 3, i);
    if ((rc = exec_rebound(st, s, err, "replace contacts")) != RC_OK)
      return rc;
    if (sqlite3_changes(st->db) != 1) break;
  }
  if (gone->ncontacts >= 0 && i == gone->ncontacts) return RC_OK;
  s = stmt(st, S_CONTACTS_DELETE);
  bind_text(s, 1, id);
  return exec_stmt(st, s, err, "replace contacts");
}

static int borrower_upsert(sq *st, const store_borrower *b, int opening,
                           store_borrower *gone, rc_error *err);

/* gone holds the contacts a change replaces until they are deleted. */
static int sq_borrower_upsert(sq *st, const store_borrower *b, int opening,
                              rc_error *err) {
  store_borrower gone = {0};
  int rc = borrower_upsert(st, b, opening, &gone, err);
  store_borrower_free(&gone);
  return rc;
}

static int borrower_upsert(sq *st, const store_borrower *b, int opening,
                           store_borrower *gone, rc_error *err) {
  sqlite3_stmt *s;
  store_borrower was;
  const char *packed;
  /* In an import into a book that had no borrowers, one whose id it
   * gives first is new (written with the next ones), and one it gave
   * before is looked up, not tried as new. */
  int rc, found = 1, same_row = 0, same_contacts = 0, first = 0,
          known = st->no_borrowers && st->base.depth > 0;
  if ((rc = borrower_packed(st, b, &packed, err)) != RC_OK) return rc;
  if (known) first = borrower_first_seen(st, b->id);
  if (opening && first) {
    if ((rc = borrower_add(st, b, packed, err)) != RC_OK) return rc;
    found = 0;
    same_row = 1;
  } else if ((rc = borrowers_flush(st, err)) != RC_OK) {
    return rc; /* the look-up below, or the upsert, sees them */
  } else if (opening && !known && st->opening_new >= 0) {
    s = stmt(st, S_BORROWER_NEW);
    bind_borrower(s, b, packed);
    if ((rc = exec_rebound(st, s, err, "save borrower")) != RC_OK) return rc;
    found = sqlite3_changes(st->db) == 0;
    same_row = !found;
  }
  if (found) {
    rc = borrower_read(st, b->id, &was, err);
    if (rc != RC_OK && rc != RC_ENOTFOUND) return rc;
    found = rc == RC_OK;
  }
  if (opening) opening_seen(st, found);
  if (found) {
    same_row = borrower_same(b, &was);
    same_contacts = contacts_same(b, &was);
    if (!same_contacts) { /* deleted by their keys below */
      gone->contacts = was.contacts;
      gone->ncontacts = was.ncontacts;
      was.contacts = NULL;
      was.ncontacts = 0;
    }
    store_borrower_free(&was);
    if (same_row && same_contacts) return RC_OK;
  }
  /* The packed copy changes with the contacts, in the row's write or
   * alone (a new borrower's was given at its insert). */
  if (!same_row) {
    s = stmt(st, S_BORROWER_UPSERT);
    bind_borrower(s, b, same_contacts ? NULL : packed);
    if ((rc = exec_rebound(st, s, err, "save borrower")) != RC_OK) return rc;
  } else if (found && !same_contacts) {
    s = stmt(st, S_CONTACTS_PACKED);
    bind_text(s, 1, b->id);
    bind_text(s, 2, packed);
    if ((rc = exec_rebound(st, s, err, "save contacts")) != RC_OK) return rc;
  }
  if (b->ncontacts < 0 || same_contacts) return RC_OK;
  if (found && (rc = contacts_delete(st, b->id, gone, err)) != RC_OK)
    return rc;
  for (int i = 0; i < b->ncontacts; i++) {
    /* A new borrower's, in an import: written with the next ones. */
    if (opening && !found && st->base.depth > 0) {
      if ((rc = contact_add(st, b->id, &b->contacts[i], i, err)) != RC_OK)
        return rc;
      continue;
    }
    s = stmt(st, S_CONTACT_INSERT);
    bind_text(s, 1, b->id);
    bind_text(s, 2, b->contacts[i].kind);
    bind_text(s, 3, b->contacts[i].value);
    bind_text(s, 4, b->contacts[i].name);
    bind_text(s, 5, b->contacts[i].relation);
    sqlite3_bind_int(s, 6, i);
    if ((rc = exec_wrote(st, s, 1, "contacts", err, "save contact")) != RC_OK)
      return rc;
  }
  return RC_OK;
}

static void bind_borrower(sqlite3_stmt *s, const store_borrower *b,
                          const char *packed) {
  bind_text(s, 1, b->id);
  bind_text(s, 2, b->name);
  bind_text(s, 3, b->locale);
  bind_text(s, 4, b->timezone);
  bind_text(s, 5, b->address);
  bind_text(s, 6, b->employer_name);
  bind_text(s, 7, b->employer_phone);
  bind_text(s, 8, b->employer_address);
  sqlite3_bind_int(s, 9, b->do_not_contact);
  sqlite3_bind_int(s, 10, b->ceased);
  bind_text(s, 11, b->area);
  bind_text(s, 12, packed);
}

/* RC_ENOTFOUND without a message: an import's new borrower misses here
 * on every row, and formatting one cost as much as the look-up. */
static int borrower_read(sq *st, const char *id, store_borrower *out,
                         rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_BORROWER_GET);
  const char *packed;
  int rc, unpacked = RC_EINVAL;
  memset(out, 0, sizeof *out);
  if ((rc = contacts_flush(st, err)) != RC_OK) return rc;
  if (ahead_borrower(st, id, out, 0)) return RC_OK;
  bind_text(s, 1, id);
  if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    out->id = dup_col(s, 0);
    out->name = dup_col(s, 1);
    out->locale = dup_col(s, 2);
    out->timezone = dup_col(s, 3);
    out->address = dup_col(s, 4);
    out->employer_name = dup_col(s, 5);
    out->employer_phone = dup_col(s, 6);
    out->employer_address = dup_col(s, 7);
    out->do_not_contact = sqlite3_column_int(s, 8);
    out->ceased = sqlite3_column_int(s, 9);
    out->area = dup_col(s, 10);
    if ((packed = (const char *)sqlite3_column_text(s, 11)))
      unpacked = sqlite_contacts_unpack(packed,
                                        (size_t)sqlite3_column_bytes(s, 11),
                                        &out->contacts, &out->ncontacts);
    rc = unpacked == RC_ENOMEM ? SQLITE_NOMEM : SQLITE_DONE;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  /* A copy NULL or not readable fails closed: no contacts known
   * (store.h, ncontacts -1), nothing sent to anyone. The table, keyed by
   * value (schema 28), has no look-up by borrower to fall back on. */
  if (rc == SQLITE_DONE && out->id && unpacked == RC_EINVAL) {
    out->contacts = NULL;
    out->ncontacts = -1;
  }
  if (rc != SQLITE_DONE || !out->id) {
    store_borrower_free(out);
    return rc == SQLITE_DONE ? RC_ENOTFOUND : fail(st, err, "read borrower");
  }
  return RC_OK;
}

static int sq_borrower_get(sq *st, const char *id, store_borrower *out,
                           rc_error *err) {
  int rc = borrower_read(st, id, out, err);
  if (rc == RC_ENOTFOUND)
    rc_error_set(err, RC_ENOTFOUND, "borrower", "unknown borrower %s", id);
  return rc;
}

static int sq_borrower_cases(sq *st, const char *borrower_id, store_row_fn fn,
                             void *ud, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_BORROWER_CASES);
  bind_text(s, 1, borrower_id);
  return each_row(st, s, fn, ud, err);
}

/* S_CASE_INSERT's parameters from ?at + 1, its case_steps rowid ?at + 5:
 * ?6 and ?7 (closed, outcome) are case_steps' (bind_steps), left
 * unbound here: binding them anyway was 2 of 21 bindings a row for
 * nothing. */
static void bind_case(sqlite3_stmt *s, int at, const store_case *c,
                      int64_t step_row) {
  bind_text(s, at + 1, c->id);
  bind_text(s, at + 2, c->borrower_id);
  bind_text(s, at + 3, c->workflow);
  sqlite3_bind_int(s, at + 4, c->version);
  sqlite3_bind_int64(s, at + 5, step_row);
  bind_text(s, at + 8, c->error);
  bind_text(s, at + 9, c->product);
  bind_text(s, at + 10, c->currency);
  sqlite3_bind_int64(s, at + 11, c->principal);
  sqlite3_bind_int64(s, at + 12, c->balance);
  sqlite3_bind_int64(s, at + 13, c->amount_due);
  sqlite3_bind_int64(s, at + 14, c->fees);
  bind_text(s, at + 15, c->due_date);
  sqlite3_bind_int64(s, at + 16, c->opened_at);
  if (c->has_score)
    sqlite3_bind_double(s, at + 17, c->score);
  else
    sqlite3_bind_null(s, at + 17);
  bind_text(s, at + 18, c->tags ? c->tags : "[]");
  bind_text(s, at + 19, c->data ? c->data : "{}");
  bind_text(s, at + 20, c->queue);
  sqlite3_bind_int(s, at + 21, c->on_hold);
}

/* The case writes below keep figures_states and figures_due: each reads
 * what the case counted for (one look-up of a row the engine has just
 * read) and moves it (case_fig_move). */

/* What the store holds of a case just inserted (or held, to be). */
/* What the figures count of a case. */
static void case_fig_of(const store_case *c, case_fig *f) {
  memset(f, 0, sizeof *f);
  rc_copy(f->workflow, sizeof f->workflow, c->workflow);
  rc_copy(f->state, sizeof f->state, c->state);
  rc_copy(f->due, sizeof f->due, c->due_date ? c->due_date : "");
  rc_copy(f->currency, sizeof f->currency, c->currency ? c->currency : "");
  f->balance = c->balance;
  f->closed = c->closed;
  f->error = c->error != NULL;
}

static int case_inserted(sq *st, const store_case *c, rc_error *err) {
  case_fig now;
  int rc;
  /* A new case holds no timers: its opening sets them without a read. */
  if (st->base.depth > 0 && strlen(c->id) < sizeof st->keys.case_id) {
    if ((rc = timer_keys_flush(st, err)) != RC_OK) return rc;
    timer_keys_forget(st);
    memcpy(st->keys.case_id, c->id, strlen(c->id) + 1);
    st->keys.known = 1;
  }
  case_fig_of(c, &now);
  if (st->base.depth > 0) case_fig_keep(st, c->id, &now);
  return case_fig_count(st, &now, 1, err);
}

/* A case's two rows (schema 21: case_rows, case_steps); the second
 * naming its opening's run and timers (run > 0), or not. */
static int keys_apart_begin(sq *st, rc_error *err);
static int keys_apart_end(sq *st, int rc, rc_error *err);

/* The step row's seven parameters from ?at + 1 (S_CASE_INSERT_RUN), its
 * rowid ?at + 7 the next (NULL) when 0. */
static void bind_steps(sqlite3_stmt *s, int at, const store_case *c,
                       int64_t run, const char *keys, int64_t rowid) {
  bind_text(s, at + 1, c->id);
  bind_text(s, at + 2, c->state);
  sqlite3_bind_int(s, at + 3, c->closed);
  bind_text(s, at + 4, c->outcome);
  sqlite3_bind_int64(s, at + 5, run);
  bind_text(s, at + 6, keys ? keys : "");
  if (rowid)
    sqlite3_bind_int64(s, at + 7, rowid);
  else
    sqlite3_bind_null(s, at + 7);
}

/* Case id's case_steps rowid, as just read or inserted: where its step's
 * write goes (S_CASE_STATE_AT) and what the timers set for it keep
 * (step_row_of). A hint: both check the id. */
static void step_row_seen(sq *st, const char *id, int64_t rowid) {
  size_t len = strlen(id);
  if (len < sizeof st->step_row.id) {
    memcpy(st->step_row.id, id, len + 1);
    st->step_row.rowid = rowid;
  } else {
    st->step_row.id[0] = '\0';
  }
}

static int case_rows_insert(sq *st, const store_case *c, int64_t run,
                            const char *keys, rc_error *err) {
  sqlite3_stmt *s;
  int rc;
  /* Its borrower may be waiting to be written (borrowers_flush). */
  if ((rc = borrowers_flush(st, err)) != RC_OK) return rc;
  /* Outside a transaction, both rows or neither: a case_rows row alone
   * is hidden by the view and keeps its id taken. */
  if ((rc = keys_apart_begin(st, err)) != RC_OK) return rc;
  /* Every parameter of both is bound each time (an import's every row):
   * their bindings are not cleared after. case_steps' row first: its
   * rowid is case_rows' key (schema 33), and in hand for the timers its
   * opening sets (step_row_of). */
  s = stmt(st, S_CASE_INSERT_RUN);
  bind_steps(s, 0, c, run, keys, 0);
  if ((rc = exec_wrote(st, s, 1, "case_steps", err, "insert case")) == RC_OK) {
    int64_t rowid = sqlite3_last_insert_rowid(st->db);
    step_row_seen(st, c->id, rowid);
    s = stmt(st, S_CASE_INSERT);
    bind_case(s, 0, c, rowid);
    rc = exec_wrote(st, s, 1, "case_rows", err, "insert case");
  }
  return keys_apart_end(st, rc, err);
}

static int sq_case_insert(sq *st, const store_case *c, rc_error *err) {
  int rc;
  if ((rc = case_rows_insert(st, c, 0, NULL, err)) != RC_OK) return rc;
  return case_inserted(st, c, err);
}

/* --- an import's new cases, held until their `opened` run (held) ------- */

/* Bytes: the one copy of an import's new cases (the engine keeps none). */
enum { HELD_LIMIT = 128 << 20 };

static int held_any(const sq *st) {
  return st->held.cases.next < st->held.cases.len;
}

static int held_first_is(const sq *st, const char *id) {
  return case_keep_next_is(&st->held.cases, id);
}

/* Why a statement need not write the held cases first (sqlite.h,
 * SQLITE_HELD_*; test_store checks each against the tables it touches):
 * every statement not listed writes them first. */
static const unsigned char held_why[S_COUNT] = {
    [S_BEGIN] = SQLITE_HELD_NO_ROWS,
    [S_SAVEPOINT] = SQLITE_HELD_NO_ROWS,
    [S_RELEASE] = SQLITE_HELD_NO_ROWS,
    [S_ROLLBACK_TO] = SQLITE_HELD_NO_ROWS,
    [S_ROLLBACK] = SQLITE_HELD_NO_ROWS,
    [S_BORROWER_NEW] = SQLITE_HELD_APART,
    [S_BORROWER_UPSERT] = SQLITE_HELD_APART,
    [S_BORROWER_GET] = SQLITE_HELD_APART,
    [S_CONTACTS_DELETE] = SQLITE_HELD_APART,
    [S_CONTACT_INSERT] = SQLITE_HELD_APART,
    [S_CONTACT_DELETE] = SQLITE_HELD_APART,
    [S_CONTACTS_PACKED] = SQLITE_HELD_APART,
    [S_JOURNAL_NEXT] = SQLITE_HELD_APART,
    [S_JOURNAL_APPEND] = SQLITE_HELD_APART,
    /* A case the engine looked up and missed (S_CASE_EXISTS writes the
     * held ones first), or an import's row: one never gives an id twice. */
    [S_CASE_INSERT] = SQLITE_HELD_OWN,
    [S_CASE_INSERT_RUN] = SQLITE_HELD_OWN,
    /* Their rowids, read by the writer of the held cases (pending_flush). */
    [S_CASE_STEP_LAST] = SQLITE_HELD_OWN,
    /* An import's look-up of a row's id: never a held one (as above). */
    [S_CASE_OPENING] = SQLITE_HELD_OWN,
    /* The next timer id at a due time: its caller writes a held timer
     * first (sq_timer_add). */
    [S_TIMER_ID] = SQLITE_HELD_OWN,
    /* The last due time of all timers: the same (timer_id_next). */
    [S_TIMER_LAST] = SQLITE_HELD_OWN,
};

static int held_safe(int which) {
  return held_why[which] != 0;
}

int sqlite_statements(void) {
  return S_COUNT;
}

const char *sqlite_statement_sql(int which) {
  return which >= 0 && which < S_COUNT ? sql[which] : NULL;
}

int sqlite_statement_held(int which) {
  return which >= 0 && which < S_COUNT ? held_why[which] : 0;
}

static void held_timer_drop(sq *st) {
  free(st->held.timer.event);
  free(st->held.timer.data);
  memset(&st->held.timer, 0, sizeof st->held.timer);
}

/* The first held case, lent (case_keep_lend). */
static int held_lend(sq *st, store_case *out) {
  if (st->held.lent.valid && st->held.lent.at == st->held.cases.next &&
      st->held.cases.next < st->held.cases.len) {
    *out = st->held.lent.c;
    st->held.cases.next = st->held.lent.after;
    return 1;
  }
  return case_keep_lend(&st->held.cases, out);
}

/* Forgets what is held (a rollback; the end of a transaction). */
static void held_drop(sq *st) {
  st->no_cases = 0;
  pending_drop(st);
  st->new_contacts.n = 0;
  st->new_contacts.text.len = 0;
  borrowers_forget(st);
  held_timer_drop(st);
  case_keep_free(&st->held.cases);
  st->held.lent.valid = 0;
  st->held.copied = 0;
  st->held.nmarks = 0;
  st->held.failed = 0;
}

/* A timer's seven parameters from ?at + 1 (S_TIMER_INSERT_ID); its
 * case's case_steps rowid ?at + 7, NULL when 0 (not in hand). */
static void bind_timer(sqlite3_stmt *s, int at, const char *case_id,
                       int64_t due, const char *event, const char *data,
                       int scoped, int64_t id, int64_t step_row) {
  bind_text(s, at + 1, case_id);
  sqlite3_bind_int64(s, at + 2, due);
  bind_text(s, at + 3, event);
  bind_text(s, at + 4, data);
  sqlite3_bind_int(s, at + 5, scoped);
  sqlite3_bind_int64(s, at + 6, id);
  if (step_row)
    sqlite3_bind_int64(s, at + 7, step_row);
  else
    sqlite3_bind_null(s, at + 7);
}

/* The case_steps rowid of case `id` when in hand (st->step_row), else 0:
 * a hint its timers keep for the claim (TIMERS_DUE_FROM), which checks
 * the id. */
static int64_t step_row_of(const sq *st, const char *id) {
  return st->step_row.id[0] && !strcmp(st->step_row.id, id) ? st->step_row.rowid
                                                            : 0;
}

/* A journal run's six parameters from ?at + 1 (S_JOURNAL_APPEND). */
static void bind_run(sqlite3_stmt *s, int at, int64_t id, const char *case_id,
                     rc_time when, int n, int64_t head, const char *rows,
                     size_t len) {
  sqlite3_bind_int64(s, at + 1, id);
  bind_text(s, at + 2, case_id);
  sqlite3_bind_int64(s, at + 3, when);
  sqlite3_bind_int(s, at + 4, n);
  sqlite3_bind_int64(s, at + 5, head);
  sqlite3_bind_text(s, at + 6, rows, (int)len, SQLITE_STATIC);
}

/* Writes the first held case: with its run (run > 0) and the keys of the
 * timers it holds, or as store_case_insert would have; then its timer. */
static int held_write_first(sq *st, int64_t run, const char *keys,
                            rc_error *err) {
  store_case c;
  sqlite3_stmt *s;
  int rc;
  /* Lent, not copied: nothing is added to the held cases meanwhile. */
  if (!held_lend(st, &c))
    return rc_error_set(err, RC_EINTERNAL, NULL, "no held case to write");
  st->held.writing = 1;
  rc = case_rows_insert(st, &c, run, keys, err);
  if (rc == RC_OK && st->held.timer.held) {
    s = stmt(st, S_TIMER_INSERT_ID);
    bind_timer(s, 0, c.id, st->held.timer.due, st->held.timer.event,
               st->held.timer.data, st->held.timer.scoped, st->held.timer.id,
               step_row_of(st, c.id));
    rc = exec_wrote(st, s, 1, "timers", err, "insert timer");
  }
  held_timer_drop(st);
  st->held.writing = 0;
  /* Off the list and not written (or without the timer its handler set),
   * as pending rows that failed: a handler that caught this (pcall) must
   * not let the import commit without it. */
  if (rc != RC_OK) pending_lost(st, err);
  return rc;
}

/* --- the runs of held cases, written several at a time (pending) ------- */

/* Pending rows that did not write are gone from memory, up to
 * PENDING_RUNS other cases' with them: the commit refuses, naming why.
 * The call that wrote them may fail one handler only, which can catch it
 * (pcall) and go on; the import then committed without those cases. */
static void pending_lost(sq *st, const rc_error *err) {
  if (!st->held.failed) {
    if (err)
      st->held.why = *err;
    else
      rc_error_set(&st->held.why, RC_ESTORE, NULL,
                   "database: an import's new cases were not written");
  }
  st->held.failed = 1;
}

static void pending_drop(sq *st) {
  for (int i = 0; i < st->npending; i++) {
    struct pending_run *r = &st->pending[i];
    free(r->rows);
    free(r->keys);
    free(r->event);
    free(r->data);
  }
  st->npending = 0;
}

/* Statement `which` (INSERT ... VALUES with parameters ?1 to ?stride)
 * for PENDING_RUNS rows: its tuple again for each, row j's parameters
 * moved on by j * stride, and what follows the tuple (ON CONFLICT) once. NULL
 * when it cannot be made (out of memory, or a SQLite built to take fewer
 * parameters, 999 before 3.32): the rows are then written one by one.
 *
 * INSERT OR FAIL: a statement of several rows whose constraints abort it
 * keeps a journal of its own, a copy of each page it changes. Kept in
 * memory, its end walked the savepoint's journal from its start
 * (engine_import_opened's savepoint of 1,024 cases): the walk grew with
 * the book, 12.9 s for a million rows where 10.9 s without it. In a file
 * (import_begin) the copies are still written: 10.8 s where 10.1 s
 * without them. A failing one leaves its earlier rows written; no
 * matter: the rows of every pending run are then lost (pending_lost)
 * and the commit refuses. */
static sqlite3_stmt *rows_stmt(sq *st, sqlite3_stmt **slot, int which,
                               int stride, int rows, unsigned shared);

static sqlite3_stmt *batch_stmt(sq *st, int slot, int which, int stride) {
  return rows_stmt(st, &st->batch[slot], which, stride, PENDING_RUNS, 0);
}

/* batch_stmt's statement for `rows` rows, kept in *slot; parameter ?n
 * with bit n of `shared` set is row 0's in every row (not moved on). */
static sqlite3_stmt *rows_stmt(sq *st, sqlite3_stmt **slot, int which,
                               int stride, int rows, unsigned shared) {
  const char *text = sql[which], *values = strstr(text, "VALUES ("), *end;
  int depth = 0;
  jbuf b = {0};
  if (st->ahead.n && case_writes(st, which)) ahead_drop(st);
  if (st->ahead.n && borrower_writes(st, which))
    st->ahead.borrowers_written = 1;
  if (*slot || !values ||
      rows * stride > sqlite3_limit(st->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1))
    return *slot;
  values += strlen("VALUES ");
  for (end = values; *end && (end == values || depth > 0); end++)
    depth += (*end == '(') - (*end == ')');
  if (strncmp(text, "INSERT INTO ", 12) != 0) {
    fprintf(stderr, "recoup: store: %d is no INSERT INTO\n", which);
    abort();
  }
  jb_lit(&b, "INSERT OR FAIL INTO ");
  jb_raw(&b, text + 12, (size_t)(values - text - 12));
  for (int j = 0; j < rows; j++) {
    const char *p = values;
    if (j) jb_lit(&b, ", ");
    while (p < end) {
      char *next, num[24];
      if (*p != '?') {
        jb_raw(&b, p++, 1);
        continue;
      }
      long n = strtol(p + 1, &next, 10);
      snprintf(num, sizeof num, "?%ld",
               n < 32 && (shared >> n & 1) ? n : n + j * stride);
      jb_lit(&b, num);
      p = next;
    }
  }
  jb_lit(&b, end);
  /* Not prepared (the book changed by hand since it opened, where its
   * one-row form prepared: sq_prepare_all): NULL, and the rows go one by
   * one, whose statement's step then fails with SQLite's reason. */
  if (!b.oom && sqlite3_prepare_v3(st->db, b.p, -1, SQLITE_PREPARE_PERSISTENT,
                                   slot, NULL) != SQLITE_OK)
    *slot = NULL;
  free(b.p);
  return *slot;
}

/* One pending run as held_write_first would have written it. */
static int pending_write_one(sq *st, const struct pending_run *r,
                             rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_JOURNAL_APPEND);
  int rc;
  bind_run(s, 0, r->run, r->c.id, r->at, r->n, r->head, r->rows, r->len);
  if ((rc = exec_wrote(st, s, 1, "journal_runs", err, "journal")) != RC_OK ||
      (rc = case_rows_insert(st, &r->c, r->run, r->keys, err)) != RC_OK ||
      !r->timer)
    return rc;
  s = stmt(st, S_TIMER_INSERT_ID);
  bind_timer(s, 0, r->c.id, r->due, r->event, r->data, r->scoped, r->id,
             step_row_of(st, r->c.id));
  return exec_wrote(st, s, 1, "timers", err, "insert timer");
}

static int count_of(sq *st, int which, const char *arg, int64_t *count,
                    rc_error *err);

/* Writes the pending runs: PENDING_RUNS of them as one INSERT a table
 * (their timers too when each has one), fewer one by one. */
static int pending_flush(sq *st, rc_error *err) {
  sqlite3_stmt *run, *rows, *steps, *timers = NULL;
  int n = st->npending, with_timer = 0, rc = RC_OK, i,
      writing = st->held.writing;
  int64_t last = 0;
  if (n == 0) return RC_OK;
  /* Their cases' borrowers first. */
  if ((rc = borrowers_flush(st, err)) != RC_OK) return rc;
  st->held.writing = 1; /* no barrier: they are being written */
  for (i = 0; i < n; i++) with_timer += st->pending[i].timer;
  /* The batch gives its case_steps rows the rowids after the last one,
   * which their case_rows rows take as their key (schema 33) and their
   * timers keep: SQLite's own choice for a row without one, given
   * explicitly so that it holds whatever SQLite would choose. */
  if (n == PENDING_RUNS && (run = batch_stmt(st, 0, S_JOURNAL_APPEND, 6)) &&
      (rows = batch_stmt(st, 1, S_CASE_INSERT, 21)) &&
      (steps = batch_stmt(st, 2, S_CASE_INSERT_RUN, 7)) &&
      (with_timer < n || (timers = batch_stmt(st, 3, S_TIMER_INSERT_ID, 7))) &&
      (rc = count_of(st, S_CASE_STEP_LAST, NULL, &last, err)) == RC_OK &&
      last < INT64_MAX - PENDING_RUNS) {
    for (i = 0; i < n; i++) {
      const struct pending_run *r = &st->pending[i];
      bind_run(run, i * 6, r->run, r->c.id, r->at, r->n, r->head, r->rows,
               r->len);
      bind_case(rows, i * 21, &r->c, last + 1 + i);
      bind_steps(steps, i * 7, &r->c, r->run, r->keys, last + 1 + i);
      if (timers)
        bind_timer(timers, i * 7, r->c.id, r->due, r->event, r->data, r->scoped,
                   r->id, last + 1 + i);
    }
    if ((rc = exec_wrote(st, run, n, "journal_runs", err, "journal")) ==
            RC_OK &&
        (rc = exec_wrote(st, steps, n, "case_steps", err, "insert case")) ==
            RC_OK &&
        (rc = exec_wrote(st, rows, n, "case_rows", err, "insert case")) ==
            RC_OK) {
      if (timers) rc = exec_wrote(st, timers, n, "timers", err, "insert timer");
      for (i = 0; rc == RC_OK && !timers && i < n; i++) {
        const struct pending_run *r = &st->pending[i];
        sqlite3_stmt *s;
        if (!r->timer) continue;
        s = stmt(st, S_TIMER_INSERT_ID);
        bind_timer(s, 0, r->c.id, r->due, r->event, r->data, r->scoped, r->id,
                   last + 1 + i);
        rc = exec_wrote(st, s, 1, "timers", err, "insert timer");
      }
    }
  } else if (rc == RC_OK) {
    for (i = 0; rc == RC_OK && i < n; i++)
      rc = pending_write_one(st, &st->pending[i], err);
  }
  st->held.writing = writing;
  pending_drop(st);
  if (rc != RC_OK) pending_lost(st, err);
  return rc;
}

/* --- a batch's messages and journal runs, written together (claimw) --- */

/* Whether statement `which` leaves messages and journal_runs alone (and
 * may run while rows for them wait): those a reminder's step runs. Any
 * other writes the waiting rows first (stmt_of). With no trigger of
 * someone else's in the book (claimw_allowed) these fire none. */
static int claimw_safe(int which) {
  switch (which) {
  case S_CASE_GET:
  case S_CASE_MOVER_ONLY:
  case S_CASE_MOVER_AT:
  case S_CASE_STEP_ROW:
  case S_CASE_STATE:
  case S_CASE_STATE_AT:
  case S_CASE_JOURNAL:
  case S_BORROWER_GET:
  case S_TIMER_FIRED:
  case S_TIMERS_FIRED_AT:
  case S_TIMERS_FIRED_AMID:
  case S_TIMER_DELETE:
  case S_TIMER_END:
  case S_TIMER_KEYS:
  case S_TIMER_KEYS_PUT:
  case S_TIMER_ID:
  case S_TIMER_LAST:
  case S_TIMER_INSERT_ID:
  case S_JOURNAL_HEAD:
  case S_MESSAGE_LAST:
  case S_MESSAGE_LAST_PUT:
  case S_RELEASE:
  case S_SCHEMA_VERSION:
  case S_CLAIMW_TRIGGERS:
  /* Read only while no message waits (claimw_msg_add). */
  case S_MESSAGE_NEXT:
  /* Read only while no run waits (journal_next). */
  case S_JOURNAL_NEXT:
    return 1;
  default:
    return 0;
  }
}

/* Whether the book lets a batch's rows wait: no trigger but the schema's
 * (one of someone else's could refuse a row, which must fail its own
 * step, or read a table whose rows wait), no index that may refuse one.
 * Looked at once a transaction, again when the schema changed. */
/* Statement `which` counts what check c is about; 1 when it found none. */
static int no_foreign_triggers(sq *st, trigger_check *c, int which) {
  sqlite3_stmt *s;
  int64_t schema = -1;
  if (c->checked) return !c->found;
  s = stmt(st, S_SCHEMA_VERSION);
  if (sqlite3_step(s) == SQLITE_ROW) schema = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  if (schema < 0) return 0;
  if (schema != c->schema) {
    s = stmt(st, which);
    c->found = sqlite3_step(s) != SQLITE_ROW || sqlite3_column_int(s, 0) != 0;
    sqlite3_reset(s);
    c->schema = schema;
  }
  c->checked = 1;
  return !c->found;
}

static int claimw_allowed(sq *st) {
  return no_foreign_triggers(st, &st->claimw.triggers, S_CLAIMW_TRIGGERS);
}

/* Whether a row written now may wait: in a batch (depth 1: a failing step
 * undoes the batch, not itself alone), with the write lock, outside an
 * import's ways. */
static int claimw_on(sq *st) {
  return st->base.depth == 1 && !st->claimw.off && !st->direct &&
         !held_any(st) && !st->npending && !st->held.writing &&
         !sqlite3_get_autocommit(st->db) && claimw_allowed(st);
}

static void claimw_drop(sq *st) {
  st->claimw.nmsg = st->claimw.nrun = 0;
  st->claimw.text.len = 0;
  st->claimw.text.oom = 0;
  st->claimw.msg_next = 0;
}

/* A text kept for a waiting row: its offset (-1 for NULL). */
static long claimw_text(sq *st, const char *v, size_t len) {
  jbuf *b = &st->claimw.text;
  long at = (long)b->len;
  if (!v) return -1;
  jb_raw(b, v, len);
  jb_raw(b, "", 1);
  return at;
}

static const char *claimw_at(const sq *st, long at) {
  return at < 0 ? NULL : st->claimw.text.p + at;
}

/* The statement for 2^k rows of `which` (slots[k]); NULL when it cannot
 * be made. */
static sqlite3_stmt *claimw_stmt(sq *st, sqlite3_stmt **slots, int k, int which,
                                 int stride, unsigned shared) {
  return rows_stmt(st, &slots[k], which, stride, 1 << k, shared);
}

/* The texts of a sweep's messages that are most often one for all (their
 * channel, template, kind of recipient, status and writing state: a
 * claimw_msg's text[] 2, 3, 5, 7 and 9), and their parameters (?3, ?4,
 * ?6, ?8, ?13). Where a batch's rows share them, they are bound once:
 * five binds a message fewer (three fewer than before messages kept
 * their writing state, session 40): a reminder's step 58,979 -> 58,255
 * instructions (callgrind, bench_sweep 20k in id order), where the two
 * columns and the case's mover had cost it 834. */
#define MSG_SHARED ((1u << 2) | (1u << 3) | (1u << 5) | (1u << 7) | (1u << 9))
#define MSG_SHARED_PARAMS \
  ((1u << 3) | (1u << 4) | (1u << 6) | (1u << 8) | (1u << 13))

/* Whether messages [from, from + n) share row from's MSG_SHARED texts. */
static int claimw_msgs_share(const sq *st, int from, int n) {
  const struct claimw_msg *a = &st->claimw.msg[from];
  for (int j = 1; j < n; j++) {
    const struct claimw_msg *b = &st->claimw.msg[from + j];
    for (int t = 0; t < 10; t++) {
      if (!(MSG_SHARED >> t & 1)) continue;
      if ((a->text[t] < 0) != (b->text[t] < 0) || a->len[t] != b->len[t] ||
          a->len[t] < 0 ||
          (a->text[t] >= 0 &&
           memcmp(claimw_at(st, a->text[t]), claimw_at(st, b->text[t]),
                  (size_t)a->len[t]) != 0))
        return 0;
    }
  }
  return 1;
}

/* Writes the waiting rows, as few statements as their count's bits. */
static int claimw_write(sq *st, rc_error *err) {
  int rc = RC_OK, done, k, j;
  for (done = 0; rc == RC_OK && done < st->claimw.nrun; done += 1 << k) {
    sqlite3_stmt *s;
    for (k = 5; (1 << k) > st->claimw.nrun - done; k--) continue;
    if (!(s = claimw_stmt(st, st->claimw.runs, k, S_JOURNAL_APPEND, 6, 0)))
      return rc_error_set(err, RC_ENOMEM, NULL, "journal: out of memory");
    for (j = 0; j < 1 << k; j++) {
      const struct claimw_run *r = &st->claimw.run[done + j];
      bind_run(s, j * 6, r->id, claimw_at(st, r->case_id), r->at, r->n,
               r->head, claimw_at(st, r->rows), r->len);
    }
    rc = exec_wrote(st, s, 1 << k, "journal_runs", err, "journal");
  }
  for (done = 0; rc == RC_OK && done < st->claimw.nmsg; done += 1 << k) {
    sqlite3_stmt *s;
    int shared;
    for (k = 5; (1 << k) > st->claimw.nmsg - done; k--) continue;
    shared = k > 0 && claimw_msgs_share(st, done, 1 << k);
    if (!(s = claimw_stmt(st, shared ? st->claimw.msgs_shared : st->claimw.msgs,
                          k, S_MESSAGE_INSERT, 14,
                          shared ? MSG_SHARED_PARAMS : 0)))
      return rc_error_set(err, RC_ENOMEM, NULL, "queue message: out of memory");
    for (j = 0; j < 1 << k; j++) {
      const struct claimw_msg *m = &st->claimw.msg[done + j];
      int at = j * 14;
      for (int t = 0; t < 10; t++) {
        int p = at + (t < 9 ? 1 + t : 13);
        if (j && shared && (MSG_SHARED >> t & 1)) continue; /* row 0's */
        if (m->text[t] < 0)
          sqlite3_bind_null(s, p);
        else
          sqlite3_bind_text(s, p, claimw_at(st, m->text[t]), m->len[t],
                            SQLITE_STATIC);
      }
      sqlite3_bind_int64(s, at + 10, m->at);
      if (m->not_before)
        sqlite3_bind_int64(s, at + 11, m->not_before);
      else
        sqlite3_bind_null(s, at + 11);
      sqlite3_bind_int64(s, at + 12, m->prev);
      sqlite3_bind_int64(s, at + 14, m->step);
    }
    rc = exec_wrote(st, s, 1 << k, "messages", err, "queue message");
    /* The ids SQLite gave are those given (msg_next): nothing else wrote
     * a message since it was read. Told, not found (a seek a row). */
    if (rc == RC_OK &&
        sqlite3_last_insert_rowid(st->db) !=
            st->claimw.msg[done + (1 << k) - 1].id)
      rc = rc_error_set(err, RC_EINTERNAL, NULL,
                        "queue message: message %lld written as %lld",
                        (long long)st->claimw.msg[done + (1 << k) - 1].id,
                        (long long)sqlite3_last_insert_rowid(st->db));
  }
  return rc;
}

/* Writes the waiting rows; then none waits. One the book refused (a
 * constraint) is refused again in its own step: the batch runs again
 * (contended) with rows written as they come on this connection, so
 * that the step that made it fails alone, as it did before. */
static int claimw_flush(sq *st, rc_error *err) {
  int rc;
  if (!st->claimw.nmsg && !st->claimw.nrun) {
    st->claimw.msg_next = 0;
    return RC_OK;
  }
  if (st->claimw.text.oom) {
    claimw_drop(st);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  rc = claimw_write(st, err);
  claimw_drop(st);
  if (rc != RC_OK && st->base.refused) {
    st->claimw.off = 1;
    st->base.refused = 0;
    st->base.contended = 1;
  }
  return rc;
}

/* stmt_of's: the rows waiting are written before a statement that may
 * read or refer to them; a failure is kept for the commit to refuse. */
static void claimw_barrier(sq *st) {
  rc_error err;
  if (claimw_flush(st, &err) == RC_OK) return;
  if (!st->claimw.failed) st->claimw.why = err;
  st->claimw.failed = 1;
}

/* What a barrier could not write, for the commit to refuse with. */
static int claimw_refused(sq *st, rc_error *err) {
  if (!st->claimw.failed) return RC_OK;
  if (err) *err = st->claimw.why;
  return RC_ESTORE;
}

/* A message as sq_message_insert writes it, with id, left to wait. */
static int claimw_msg_add(sq *st, const store_message *m, int64_t prev,
                          int64_t *id, rc_error *err) {
  struct claimw_msg *w;
  const char *text[10] = {
      m->case_id, m->borrower_id, m->channel, m->template_name, m->recipient,
      m->to_kind, m->body,        m->status,  m->reason,        m->state};
  int rc;
  if (st->claimw.nmsg == CLAIMW_ROWS &&
      (rc = claimw_flush(st, err)) != RC_OK)
    return rc;
  /* Its id is known before it is written: the case's row and the next
   * message name it. */
  if (!st->claimw.msg_next) {
    sqlite3_stmt *s = stmt(st, S_MESSAGE_NEXT);
    rc = one_row(st, s, sqlite3_step(s), err, "queue message");
    st->claimw.msg_next = rc == RC_OK ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc != RC_OK) return rc == RC_ENOTFOUND ? RC_ESTORE : rc;
  }
  w = &st->claimw.msg[st->claimw.nmsg];
  for (int t = 0; t < 10; t++) {
    size_t len = text[t] ? strlen(text[t]) : 0;
    w->text[t] = claimw_text(st, text[t], len);
    /* -1 (SQLite measures it, as before) past what an int holds: SQLite
     * refuses such a text either way. */
    w->len[t] = len > INT_MAX ? -1 : (int)len;
  }
  if (st->claimw.text.oom) {
    claimw_drop(st);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  w->at = m->at;
  w->not_before = m->not_before;
  w->prev = prev;
  w->step = m->step;
  w->id = *id = st->claimw.msg_next++;
  st->claimw.nmsg++;
  return RC_OK;
}

/* A journal run as sq_journal_run writes it, left to wait. */
static int claimw_run_add(sq *st, int64_t id, const char *case_id, rc_time at,
                          int n, int64_t head, const char *rows, size_t len,
                          rc_error *err) {
  struct claimw_run *r;
  int rc;
  if (st->claimw.nrun == CLAIMW_ROWS &&
      (rc = claimw_flush(st, err)) != RC_OK)
    return rc;
  r = &st->claimw.run[st->claimw.nrun];
  r->case_id = claimw_text(st, case_id, strlen(case_id));
  r->rows = claimw_text(st, rows, len);
  if (st->claimw.text.oom) {
    claimw_drop(st);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  r->len = len;
  r->id = id;
  r->head = head;
  r->at = at;
  r->n = n;
  st->claimw.nrun++;
  return RC_OK;
}

/* --- a claim's fired timers, deleted as one range (fired) ------------ */

/* Whether statement `which` may run while fired timers wait: it does not
 * name the timers (no trigger but the schema's, none on timers: fired_on)
 * and deletes no case (a timer's reference to its case is checked). The
 * timer statements that take a key (S_TIMER_ID, S_TIMER_INSERT_ID,
 * S_TIMER_END) are compared with the range by their callers (fired_near)
 * and run through fired_keyed. Read from the text, so a statement added
 * later is counted without being listed. */
static int fired_safe(sq *st, int which) {
  if (!st->fired_ok[which]) {
    const char *t = sql[which];
    int deletes_case = strstr(t, "DELETE") &&
                       (strstr(t, "case_rows") || strstr(t, "case_steps") ||
                        strstr(t, "cases"));
    st->fired_ok[which] = strstr(t, "timers") || deletes_case ? 2 : 1;
  }
  return st->fired_ok[which] == 1;
}

/* Whether a claimed timer fired now may wait: where a batch's rows may
 * (claimw_on, whatever became of its own rows), while the claim's keys
 * are kept. */
static int fired_on(sq *st) {
  return st->base.depth == 1 && !st->fired.stop && st->claimed.n &&
         !st->direct && !held_any(st) && !st->npending &&
         !st->held.writing && !sqlite3_get_autocommit(st->db) &&
         claimw_allowed(st);
}

static void fired_drop(sq *st) {
  st->fired.n = 0;
}

/* One of fired_flush's statements: its parameters a, b (and c), the
 * timers it deleted added to *done. */
static int fired_delete(sq *st, int which, int64_t a, int64_t b, int64_t c,
                        int64_t *done, rc_error *err) {
  sqlite3_stmt *s = stmt(st, which);
  int rc;
  sqlite3_bind_int64(s, 1, a);
  sqlite3_bind_int64(s, 2, b);
  if (which == S_TIMERS_FIRED_AT) sqlite3_bind_int64(s, 3, c);
  rc = exec_rebound(st, s, err, "delete timers");
  if (rc == RC_OK) *done += sqlite3_changes(st->db);
  return rc;
}

/* A fired timer whose key no row has: a due stored as a real number
 * (set by hand: 1767834000000.5), which the claim read as its integer
 * part. The row of that id whose due is within a unit of the key's;
 * prepared on first use (fired.by_due). */
static int fired_real_due(sq *st, const timer_key *k, int64_t *done,
                          rc_error *err) {
  if (!st->fired.by_due &&
      sqlite3_prepare_v3(st->db,
                         "DELETE FROM timers WHERE due > ?1 - 1 AND "
                         "due < ?1 + 1 AND id = ?2 AND "
                         "typeof(due) <> 'integer'",
                         -1, SQLITE_PREPARE_PERSISTENT, &st->fired.by_due,
                         NULL) != SQLITE_OK)
    return fail(st, err, "delete timers");
  sqlite3_bind_int64(st->fired.by_due, 1, k->due);
  sqlite3_bind_int64(st->fired.by_due, 2, k->id);
  if (exec_rebound(st, st->fired.by_due, err, "delete timers") != RC_OK)
    return RC_ESTORE;
  *done += sqlite3_changes(st->db);
  return RC_OK;
}

/* The fired timers the range missed (claimed.v[last - n + 1] to
 * claimed.v[last]: a claim deletes them before it reads its own), a
 * statement each, by key; a key no row has, by its real due. Those the
 * range deleted are gone and count nothing. */
static int fired_one(sq *st, int n, int64_t *done, rc_error *err) {
  int rc = RC_OK;
  for (int i = st->fired.last - n + 1; i <= st->fired.last && rc == RC_OK;
       i++) {
    const timer_key *k = &st->claimed.v[i];
    int64_t one = 0;
    if ((rc = fired_delete(st, S_TIMER_FIRED, k->due, k->id, 0, &one, err)) ==
            RC_OK &&
        !one)
      rc = fired_real_due(st, k, &one, err);
    *done += one;
  }
  return rc;
}

/* Deletes the fired timers waiting; then none waits. Exactly those: a
 * range that held fewer than fired (a due a book edited by hand holds as
 * a real number, read by the claim as its integer part) has the rest
 * deleted a statement each, told once (store_notice); a count that
 * differs then, or a range that held more (a timer the claim did not
 * read inside it: deleted, and only a rollback brings it back), means
 * the transaction must not commit. */
static int fired_flush(sq *st, rc_error *err) {
  const timer_key *lo = &st->fired.lo, *hi = &st->fired.hi;
  int64_t done = 0;
  int n = st->fired.n, rc;
  if (!n) return RC_OK;
  st->fired.n = 0; /* stmt_of's barrier: nothing waits now */
  if (lo->due == hi->due)
    rc = fired_delete(st, S_TIMERS_FIRED_AT, lo->due, lo->id, hi->id, &done,
                      err);
  else if ((rc = fired_delete(st, S_TIMERS_FIRED_AT, lo->due, lo->id,
                              INT64_MAX, &done, err)) == RC_OK &&
           (rc = fired_delete(st, S_TIMERS_FIRED_AMID, lo->due, hi->due, 0,
                              &done, err)) == RC_OK)
    rc = fired_delete(st, S_TIMERS_FIRED_AT, hi->due, INT64_MIN, hi->id,
                      &done, err);
  if (rc == RC_OK && done < n) {
    int64_t range = done;
    rc = fired_one(st, n, &done, err);
    if (rc == RC_OK && done == n && !st->fired.told) {
      st->fired.told = 1;
      store_notice_set(
          &st->base,
          "timers: %d fired between due %lld id %lld and due %lld id "
          "%lld, but that range of the book held %lld: the other %lld "
          "deleted one by one; a timer's due there is not a whole "
          "number (edited by hand?)",
          n, (long long)lo->due, (long long)lo->id, (long long)hi->due,
          (long long)hi->id, (long long)range, (long long)(done - range));
    }
  }
  if (rc == RC_OK && done != n)
    rc = rc_error_set(err, RC_EINTERNAL, NULL,
                      "database: delete timers: %d fired, %lld deleted", n,
                      (long long)done);
  return rc;
}

/* stmt_of's: the fired timers are deleted before a statement that may
 * read or refer to them; a failure is kept for the commit to refuse. */
static void fired_barrier(sq *st) {
  rc_error err;
  if (fired_flush(st, &err) == RC_OK) return;
  if (!st->fired.failed) st->fired.why = err;
  st->fired.failed = 1;
}

static int fired_refused(sq *st, rc_error *err) {
  if (!st->fired.failed) return RC_OK;
  if (err) *err = st->fired.why;
  return RC_ESTORE;
}

/* Before a timer is set, ended or its id looked up at due time `due`:
 * the fired timers are deleted first when that due time is among
 * theirs; a timer set at or before the claim's last stops the claim's
 * rest from waiting (fired). */
static int fired_near(sq *st, int64_t due, int sets, rc_error *err) {
  if (sets && st->claimed.n && due <= st->fired.until) st->fired.stop = 1;
  if (st->fired.n && due >= st->fired.lo.due && due <= st->fired.hi.due)
    return fired_flush(st, err);
  return RC_OK;
}

/* stmt for a timer statement fired_near looked at. */
static sqlite3_stmt *fired_keyed(sq *st, int which) {
  sqlite3_stmt *s;
  st->fired.keyed = 1;
  s = stmt(st, which);
  st->fired.keyed = 0;
  return s;
}

/* Claimed timer k (claimed.v[i]) fired: waits to be deleted with the
 * run it follows, or begins a run, the last deleted first. */
static int fired_hold(sq *st, int i, rc_error *err) {
  int rc;
  if (st->fired.n && i != st->fired.last + 1 &&
      (rc = fired_flush(st, err)) != RC_OK)
    return rc;
  if (!st->fired.n) st->fired.lo = st->claimed.v[i];
  st->fired.hi = st->claimed.v[i];
  st->fired.last = i;
  /* FIRED_ROWS at a time, not the claim's thousand at its end: the
   * pages they free are then taken by the rows the next steps write
   * (messages, journal, timers) in the same transaction. */
  if (++st->fired.n == FIRED_ROWS) return fired_flush(st, err);
  return RC_OK;
}

/* The first held case's run (id, its rows) and the timer its handler
 * set, taken off the list to be written with the next ones. keys: the
 * case's timer keys, owned from here on. */
static int pending_add(sq *st, int64_t id, rc_time at, int n, int64_t head,
                       const char *rows, size_t len, char *keys,
                       rc_error *err) {
  struct pending_run *r;
  int rc;
  if (st->npending == PENDING_RUNS && (rc = pending_flush(st, err)) != RC_OK) {
    free(keys);
    return rc;
  }
  r = &st->pending[st->npending];
  memset(r, 0, sizeof *r);
  r->keys = keys;
  if (!(r->rows = malloc(len ? len : 1))) {
    free(keys);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  if (len) memcpy(r->rows, rows, len);
  /* Lent, not copied: no case is held anew before these are written. */
  if (!held_lend(st, &r->c)) {
    free(r->rows);
    free(keys);
    return rc_error_set(err, RC_EINTERNAL, NULL, "no held case to write");
  }
  r->run = id;
  r->head = head;
  r->at = at;
  r->n = n;
  r->len = len;
  if (st->held.timer.held) {
    r->timer = 1;
    r->due = st->held.timer.due;
    r->id = st->held.timer.id;
    r->scoped = st->held.timer.scoped;
    r->event = st->held.timer.event;
    r->data = st->held.timer.data;
    memset(&st->held.timer, 0, sizeof st->held.timer);
  }
  st->npending++;
  return RC_OK;
}

/* A text kept for a pending contact: its offset (-1 for NULL). */
static long contact_text(jbuf *b, const char *v) {
  long at = (long)b->len;
  if (!v) return -1;
  jb_raw(b, v, strlen(v) + 1);
  return at;
}

static const char *contact_at(const jbuf *b, long at) {
  return at < 0 ? NULL : b->p + at;
}

/* Writes the pending contacts: PENDING_RUNS as one INSERT, fewer one by
 * one. */
/* Binds a batch statement's text parameter i, where *bound says whether
 * it may hold a text now: a NULL is bound only over a text. A batch's
 * rows mostly leave the same parameters NULL (a name and little else),
 * and binding each again, or clearing them all, was 230 to 360
 * instructions a row of a 69k import row. A statement prepared again or
 * cleared (exec_step after a rollback) holds only NULLs, which a flag
 * of 1 merely binds again. */
static void bind_kept(sqlite3_stmt *s, int i, const char *v,
                      unsigned char *bound) {
  if (v)
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else if (*bound)
    sqlite3_bind_null(s, i);
  *bound = v != NULL;
}

static int contacts_flush(sq *st, rc_error *err) {
  const jbuf *t = &st->new_contacts.text;
  int n = st->new_contacts.n, rc = borrowers_flush(st, err);
  sqlite3_stmt *all = rc == RC_OK && n == PENDING_RUNS
                          ? batch_stmt(st, 4, S_CONTACT_INSERT, 6)
                          : NULL;
  for (int i = 0; i < n && rc == RC_OK; i++) {
    const struct pending_contact *c = &st->new_contacts.row[i];
    sqlite3_stmt *s = all ? all : stmt(st, S_CONTACT_INSERT);
    const long text[5] = {c->borrower, c->kind, c->value, c->name, c->relation};
    int at = all ? i * 6 : 0;
    for (int k = 0; k < 5; k++) {
      if (all)
        bind_kept(s, at + 1 + k, contact_at(t, text[k]),
                  &st->new_contacts.bound[i][k]);
      else
        bind_text(s, at + 1 + k, contact_at(t, text[k]));
    }
    sqlite3_bind_int(s, at + 6, c->position);
    if (!all) rc = exec_wrote(st, s, 1, "contacts", err, "save contact");
  }
  if (all) rc = exec_wrote(st, all, n, "contacts", err, "save contact");
  st->new_contacts.n = 0;
  st->new_contacts.text.len = 0;
  if (rc != RC_OK) pending_lost(st, err);
  return rc;
}

/* Writes the pending borrowers: PENDING_RUNS as one INSERT, fewer one by
 * one. Their contacts come after them (contacts_flush). */
static int borrowers_flush(sq *st, rc_error *err) {
  const jbuf *t = &st->new_borrowers.text;
  int n = st->new_borrowers.n, rc = RC_OK;
  sqlite3_stmt *all =
      n == PENDING_RUNS ? batch_stmt(st, 5, S_BORROWER_NEW, 12) : NULL;
  if (n == 0) return RC_OK;
  for (int i = 0; i < n && rc == RC_OK; i++) {
    const struct pending_borrower *r = &st->new_borrowers.row[i];
    sqlite3_stmt *s = all ? all : stmt(st, S_BORROWER_NEW);
    int at = all ? i * 12 : 0;
    for (int k = 0; k < 10; k++) {
      const char *v = contact_at(t, r->text[k]);
      int param = at + (k < 8 ? 1 + k : 3 + k);
      if (all)
        bind_kept(s, param, v, &st->new_borrowers.bound[i][k]);
      else
        bind_text(s, param, v);
    }
    sqlite3_bind_int(s, at + 9, r->do_not_contact);
    sqlite3_bind_int(s, at + 10, r->ceased);
    if (!all) rc = exec_rebound(st, s, err, "save borrower");
  }
  if (all) rc = exec_rebound(st, all, err, "save borrower");
  st->new_borrowers.n = 0;
  st->new_borrowers.text.len = 0;
  if (rc != RC_OK) pending_lost(st, err);
  return rc;
}

/* The import's transaction ends, or it cannot tell new borrowers any
 * more: the pending ones (written or undone already) and the ids. */
static void borrowers_forget(sq *st) {
  st->no_borrowers = 0;
  st->new_borrowers.n = 0;
  st->new_borrowers.text.len = 0;
  free(st->new_borrowers.seen);
  st->new_borrowers.seen = NULL;
  st->new_borrowers.cap = st->new_borrowers.count = 0;
}

/* Whether the import gives this borrower's id for the first time (kept
 * from here on). 0 when it may have given it, or the ids cannot be kept
 * (out of memory: every borrower is then looked up, as before). */
static uint64_t borrower_hash(const char *id) {
  uint64_t h = 14695981039346656037u;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++)
    h = (h ^ *p) * 1099511628211u;
  return h ? h : 1;
}

/* The table is probed at random, a slot a row: in a million rows' 16 MB
 * nearly every probe missed every cache (the import's thread's loads of
 * its slots were 250 of its 10,300 perf samples on a million bench rows),
 * hence op_import_ahead, a few rows before. */
static int borrower_first_seen(sq *st, const char *id) {
  uint64_t h = borrower_hash(id), *v;
  size_t cap = st->new_borrowers.cap, i;
  if (2 * (st->new_borrowers.count + 1) > cap) {
    size_t ncap = cap ? 2 * cap : 1024;
    uint64_t *nv = bigmem_calloc(ncap, sizeof *nv);
    if (!nv) {
      st->no_borrowers = 0;
      return 0;
    }
    for (i = 0; i < cap; i++) {
      size_t j = st->new_borrowers.seen[i] & (ncap - 1);
      if (!st->new_borrowers.seen[i]) continue;
      while (nv[j]) j = (j + 1) & (ncap - 1);
      nv[j] = st->new_borrowers.seen[i];
    }
    free(st->new_borrowers.seen);
    st->new_borrowers.seen = nv;
    st->new_borrowers.cap = cap = ncap;
  }
  v = st->new_borrowers.seen;
  for (i = h & (cap - 1); v[i]; i = (i + 1) & (cap - 1))
    if (v[i] == h) return 0;
  v[i] = h;
  st->new_borrowers.count++;
  return 1;
}

/* A new borrower, to be written with the next ones. */
static int borrower_add(sq *st, const store_borrower *b, const char *packed,
                        rc_error *err) {
  jbuf *t = &st->new_borrowers.text;
  const char *const text[10] = {
      b->id,      b->name,          b->locale,         b->timezone,
      b->address, b->employer_name, b->employer_phone, b->employer_address,
      b->area,    packed};
  struct pending_borrower *r;
  int rc;
  if (st->new_borrowers.n == PENDING_RUNS &&
      (rc = borrowers_flush(st, err)) != RC_OK)
    return rc;
  r = &st->new_borrowers.row[st->new_borrowers.n];
  for (int k = 0; k < 10; k++) r->text[k] = contact_text(t, text[k]);
  r->do_not_contact = b->do_not_contact;
  r->ceased = b->ceased;
  if (t->oom) {
    t->oom = 0;
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  st->new_borrowers.n++;
  return RC_OK;
}

/* A new borrower's contact, to be written with the next ones. */
static int contact_add(sq *st, const char *borrower_id, const store_contact *c,
                       int position, rc_error *err) {
  jbuf *t = &st->new_contacts.text;
  struct pending_contact *r;
  int rc;
  if (st->new_contacts.n == PENDING_RUNS &&
      (rc = contacts_flush(st, err)) != RC_OK)
    return rc;
  r = &st->new_contacts.row[st->new_contacts.n];
  r->borrower = contact_text(t, borrower_id);
  r->kind = contact_text(t, c->kind);
  r->value = contact_text(t, c->value);
  r->name = contact_text(t, c->name);
  r->relation = contact_text(t, c->relation);
  r->position = position;
  if (t->oom) {
    t->oom = 0;
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  st->new_contacts.n++;
  return RC_OK;
}

static int held_flush(sq *st, rc_error *err) {
  int rc = contacts_flush(st, err);
  if (rc == RC_OK) rc = pending_flush(st, err);
  while (rc == RC_OK && held_any(st)) rc = held_write_first(st, 0, NULL, err);
  return rc;
}

/* Before a statement that may read or refer to a held case. It cannot
 * fail where it is: the failure is kept, and the commit refuses. */
static void held_barrier(sq *st) {
  rc_error err;
  if (held_flush(st, &err) == RC_OK) return;
  if (!st->held.failed) st->held.why = err;
  st->held.failed = 1;
  held_timer_drop(st);
  st->held.cases.next = st->held.cases.len;
}

/* What a barrier could not write, for the commit to refuse with. */
static int held_refused(sq *st, rc_error *err) {
  if (!st->held.failed) return RC_OK;
  if (err) *err = st->held.why;
  return RC_ESTORE;
}

/* A savepoint begins: where the held list is, for a rollback to it. A
 * timer held is written first (a rollback would drop it), and the
 * pending runs (one would undo them). */
static int held_mark(sq *st, rc_error *err) {
  int rc = contacts_flush(st, err);
  if (rc == RC_OK) rc = pending_flush(st, err);
  if (rc == RC_OK && (st->held.timer.held || st->held.nmarks >= 4))
    rc = held_flush(st, err);
  if (rc == RC_OK && st->held.nmarks < 4) {
    st->held.marks[st->held.nmarks].len = st->held.cases.len;
    st->held.marks[st->held.nmarks].next = st->held.cases.next;
    st->held.marks[st->held.nmarks].full = st->held.cases.full;
    st->held.marks[st->held.nmarks].copied = st->held.copied;
  }
  if (rc == RC_OK) st->held.nmarks++;
  return rc;
}

/* The savepoint ends: kept, or rolled back, and then the cases written
 * since are held again and those held since are gone. */
static void held_unmark(sq *st, int keep) {
  int i = --st->held.nmarks;
  if (!keep) { /* all since the savepoint began */
    pending_drop(st);
    st->new_contacts.n = 0;
    st->new_contacts.text.len = 0;
    st->new_borrowers.n = 0;
    st->new_borrowers.text.len = 0;
  }
  if (keep || i < 0 || i >= 4) return;
  held_timer_drop(st);
  st->held.cases.len = st->held.marks[i].len;
  st->held.cases.next = st->held.marks[i].next;
  st->held.cases.full = st->held.marks[i].full;
  st->held.copied = st->held.marks[i].copied;
}

/* RECOUP_IMPORT_HOLD_BYTES, for tests: a small limit, so that the cases
 * past it are written at once and read back for their handlers. */
static size_t held_limit(void) {
  const char *v = getenv("RECOUP_IMPORT_HOLD_BYTES");
  long long n = v ? atoll(v) : 0;
  return n > 0 && n < HELD_LIMIT ? (size_t)n : HELD_LIMIT;
}

/* --- an import's indexes, built at its end (idx) ----------------------- */

/* The tables an import writes a row of for each row of its file. */
#define IMPORT_TABLES                                              \
  "'borrowers', 'contacts', 'case_rows', 'case_steps', 'timers', " \
  "'journal_runs'"

/* sqlite3_exec's callback: the one value a pragma reads, as text. */
static int pragma_text(void *ud, int n, char **values, char **names) {
  (void)names;
  if (n == 1 && values[0]) snprintf(ud, 24, "%s", values[0]);
  return 0;
}

static void import_indexes_forget(sq *st) {
  free(st->idx.sql);
  st->idx.sql = NULL;
  st->idx.built = st->idx.failed = 0;
}

/* A first import, into a book without cases, fills the tables it writes
 * without their secondary indexes (cases_borrower; contacts_value too
 * until schema 28 keyed the contacts by value): an entry put into each
 * for every row was two of its seven B-tree inserts, where CREATE INDEX
 * once the rows are in sorts them and writes each index's pages once,
 * full. Dropped and created in the import's own
 * transaction, so no other connection sees a book without them and a
 * failed import's rollback brings them back. A unique index stays: it
 * refuses a row as it comes. */
static int import_indexes_drop(sq *st, rc_error *err) {
  sqlite3_stmt *s;
  jbuf create = {0}, drop = {0};
  int rc;
  if (sqlite3_prepare_v2(st->db,
                         "SELECT name, sql FROM sqlite_schema WHERE type = "
                         "'index' AND sql IS NOT NULL AND sql NOT LIKE "
                         "'CREATE UNIQUE %' AND tbl_name IN (" IMPORT_TABLES
                         ") ORDER BY name",
                         -1, &s, NULL) != SQLITE_OK)
    return fail(st, err, "list the indexes");
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    char *one = sqlite3_mprintf("DROP INDEX \"%w\";",
                                (const char *)sqlite3_column_text(s, 0));
    if (!one) drop.oom = 1;
    if (one) jb_lit(&drop, one);
    sqlite3_free(one);
    jb_lit(&create, (const char *)sqlite3_column_text(s, 1));
    jb_lit(&create, ";");
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE)
    rc = fail(st, err, "list the indexes");
  else if (create.oom || drop.oom)
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  else if (drop.p &&
           sqlite3_exec(st->db, drop.p, NULL, NULL, NULL) != SQLITE_OK)
    rc = fail(st, err, "drop the indexes for the import");
  else
    rc = RC_OK;
  free(drop.p);
  if (rc == RC_OK && create.p) {
    st->idx.sql = create.p;
    st->idx.built = 0;
  } else {
    free(create.p);
  }
  return rc;
}

/* The indexes dropped for the load, created again (at most once a
 * transaction, unless a savepoint that created them rolls back). */
static int import_indexes_build(sq *st, rc_error *err) {
  char temp[24] = "", cache[24] = "", *restore;
  int rc = RC_OK;
  if (!st->idx.sql || st->idx.built) return RC_OK;
  if (st->idx.failed) {
    if (err) *err = st->idx.why;
    return RC_ESTORE;
  }
  /* The sort keeps what does not fit in 8 MB in a temporary file, not
   * in memory as a book's connection has it (temp_store 2) nor in as much
   * again as the cache (64 MB) beside the cache: sorted so, a million
   * rows' entries took the import's peak from 212 to 282 MB; so, 212.
   * No temporary table is open to be lost by the switch. */
  sqlite3_exec(st->db, "PRAGMA temp_store", pragma_text, temp, NULL);
  sqlite3_exec(st->db, "PRAGMA cache_size", pragma_text, cache, NULL);
  sqlite3_exec(st->db, "PRAGMA temp_store = FILE; PRAGMA cache_size = -8192",
               NULL, NULL, NULL);
  /* All or none, to be made again whole. */
  if (sqlite3_exec(st->db, "SAVEPOINT import_indexes", NULL, NULL, NULL) !=
      SQLITE_OK) {
    rc = fail(st, err, "create the indexes after the import");
  } else if (sqlite3_exec(st->db, st->idx.sql, NULL, NULL, NULL) != SQLITE_OK) {
    rc = fail(st, err, "create the indexes after the import");
    sqlite3_exec(st->db, "ROLLBACK TO import_indexes; RELEASE import_indexes",
                 NULL, NULL, NULL);
  } else if (sqlite3_exec(st->db, "RELEASE import_indexes", NULL, NULL, NULL) !=
             SQLITE_OK) {
    rc = fail(st, err, "create the indexes after the import");
  }
  restore = sqlite3_mprintf("PRAGMA temp_store = %s; PRAGMA cache_size = %s",
                            *temp ? temp : "DEFAULT", *cache ? cache : "-2000");
  if (restore) sqlite3_exec(st->db, restore, NULL, NULL, NULL);
  sqlite3_free(restore);
  if (rc == RC_OK) st->idx.built = st->base.depth;
  return rc;
}

/* Before a statement that may read through a dropped index: any but
 * those that may run before the held cases are written (held_why),
 * none of which reads one. One that fails here is made again at the
 * commit, which refuses if it cannot. */
static void import_indexes_barrier(sq *st, int which) {
  rc_error why;
  if (st->held.writing || held_safe(which)) return;
  /* A full disk or an I/O error rolls the whole transaction back: every
   * statement after is refused (exec_stmt), with this as the reason,
   * which a user can act on, where "rolled back by an earlier failure"
   * names none. */
  if (import_indexes_build(st, &why) != RC_OK && !st->idx.failed &&
      sqlite3_get_autocommit(st->db)) {
    st->idx.failed = 1;
    st->idx.why = why;
  }
}

/* A savepoint ends (its depth is base.depth): what it created is its
 * parent's when kept, gone when rolled back. */
static void import_indexes_unmark(sq *st, int keep) {
  if (!st->idx.sql || st->idx.built < st->base.depth) return;
  st->idx.built = keep ? st->base.depth - 1 : 0;
}

static int sq_case_insert_opening(sq *st, const store_case *c, rc_error *err) {
  int rc;
  if (st->base.depth == 0 || st->held.nmarks >= 4 || st->held.failed)
    return sq_case_insert(st, c, err);
  if (!st->held.cases.limit) st->held.cases.limit = held_limit();
  /* The pending runs' cases are lent from the list a case may move. */
  if ((rc = pending_flush(st, err)) != RC_OK) return rc;
  st->held.lent.valid = 0;
  if (!case_keep_add(&st->held.cases, c)) return sq_case_insert(st, c, err);
  return case_inserted(st, c, err);
}

static int sq_case_update_fields(sq *st, const store_case *c, rc_error *err) {
  sqlite3_stmt *s = stmt_of(st, S_CASE_UPDATE, c->id);
  case_fig was, now;
  int rc;
  bind_text(s, 1, c->id);
  bind_text(s, 2, c->product);
  bind_text(s, 3, c->currency);
  sqlite3_bind_int64(s, 4, c->principal);
  sqlite3_bind_int64(s, 5, c->balance);
  sqlite3_bind_int64(s, 6, c->amount_due);
  sqlite3_bind_int64(s, 7, c->fees);
  bind_text(s, 8, c->due_date);
  if (c->has_score)
    sqlite3_bind_double(s, 9, c->score);
  else
    sqlite3_bind_null(s, 9);
  bind_text(s, 10, c->data ? c->data : "{}");
  bind_text(s, 11, c->tags ? c->tags : "[]");
  sqlite3_bind_int64(s, 12, c->reduced);
  if ((rc = case_fig_read(st, c->id, &was, err)) != RC_OK)
    return rc == RC_ENOTFOUND ? exec_stmt(st, s, err, "update case") : rc;
  if ((rc = exec_stmt(st, s, err, "update case")) != RC_OK) return rc;
  now = was;
  now.balance = c->balance;
  rc_copy(now.due, sizeof now.due, c->due_date ? c->due_date : "");
  /* imported again in another currency: its balance moves with it */
  if (c->currency) rc_copy(now.currency, sizeof now.currency, c->currency);
  if (st->base.depth > 0) case_fig_keep(st, c->id, &now);
  return case_fig_move(st, &was, &now, err);
}

/* The timer keys a case's row just read holds: kept as the case's, unless
 * another case's changed keys are held (those are written first, which a
 * read does not do). Keys that do not read are left for timer_keys_of to
 * report. */
static void case_keys_text_seen(sq *st, const char *id, const char *keys) {
  int same = !strcmp(st->keys.case_id, id);
  rc_error ignored;
  if (same ? st->keys.known : st->keys.dirty || st->keys.has_fired) return;
  if (!same) {
    if (strlen(id) >= sizeof st->keys.case_id) return;
    timer_keys_forget(st);
    memcpy(st->keys.case_id, id, strlen(id) + 1);
  }
  (void)timer_keys_known(st, keys, &ignored);
}

static void case_keys_seen(sq *st, const char *id, sqlite3_stmt *s, int col) {
  case_keys_text_seen(st, id, (const char *)sqlite3_column_text(s, col));
}

/* A case this transaction inserted and nothing changed since: no timer
 * keys, no journal run (store_case_fresh). Held as a read of its row
 * would hold them, saving an import's `opened` pass that read; the keys
 * of the case before (one whose handler moved it on) are written first,
 * as its next read would. */
static int sq_case_fresh(sq *st, const char *id, rc_error *err) {
  int rc;
  if (st->base.depth == 0) return RC_OK;
  chain_seen(st, id, 0);
  if ((rc = timer_keys_switch(st, id, err)) != RC_OK) return rc;
  return st->keys.known ? RC_OK : timer_keys_known(st, NULL, err);
}

/* A case's text columns (CASE_COLS' numbers) and their fields. */
static const struct {
  int col;
  size_t field;
} case_texts[12] = {
    {0, offsetof(store_case, id)},        {1, offsetof(store_case, borrower_id)},
    {2, offsetof(store_case, workflow)},  {4, offsetof(store_case, state)},
    {6, offsetof(store_case, outcome)},   {7, offsetof(store_case, error)},
    {8, offsetof(store_case, product)},   {9, offsetof(store_case, currency)},
    {14, offsetof(store_case, due_date)}, {17, offsetof(store_case, tags)},
    {18, offsetof(store_case, data)},     {19, offsetof(store_case, queue)}};

/* A borrower's text columns but its contacts (BORROWER_COLS' numbers)
 * and their fields. */
static const struct {
  int col;
  size_t field;
} borrower_texts[9] = {
    {0, offsetof(store_borrower, id)},
    {1, offsetof(store_borrower, name)},
    {2, offsetof(store_borrower, locale)},
    {3, offsetof(store_borrower, timezone)},
    {4, offsetof(store_borrower, address)},
    {5, offsetof(store_borrower, employer_name)},
    {6, offsetof(store_borrower, employer_phone)},
    {7, offsetof(store_borrower, employer_address)},
    {10, offsetof(store_borrower, area)}};

/* Where S_TIMERS_DUE's borrower columns begin. */
enum { AHEAD_BORROWER = 33 };

static char **case_text(store_case *c, int k) {
  return (char **)((char *)c + case_texts[k].field);
}

/* A case's columns but its texts, from column `at` of s. */
static void case_numbers(sqlite3_stmt *s, int at, store_case *out) {
  out->version = sqlite3_column_int(s, at + 3);
  out->closed = sqlite3_column_int(s, at + 5);
  out->principal = sqlite3_column_int64(s, at + 10);
  out->balance = sqlite3_column_int64(s, at + 11);
  out->amount_due = sqlite3_column_int64(s, at + 12);
  out->fees = sqlite3_column_int64(s, at + 13);
  out->opened_at = sqlite3_column_int64(s, at + 15);
  out->has_score = sqlite3_column_type(s, at + 16) != SQLITE_NULL;
  out->score = sqlite3_column_double(s, at + 16);
  out->on_hold = sqlite3_column_int(s, at + 20);
  out->overpaid = sqlite3_column_int64(s, at + 21);
  out->reduced = sqlite3_column_int64(s, at + 22);
}

/* A case's columns as S_CASE_GET reads them. */
static void case_cols(sqlite3_stmt *s, store_case *out) {
  for (int k = 0; k < 12; k++) *case_text(out, k) = dup_col(s, case_texts[k].col);
  case_numbers(s, 0, out);
}

/* What a read of a case's row tells the caches, in a transaction. */
static void case_seen(sq *st, const char *id, const store_case *c) {
  case_fig f;
  if (!c->workflow || !c->state) return;
  case_fig_of(c, &f);
  case_fig_keep(st, id, &f);
}

/* The case id as the last claim read it, when nothing may have written
 * it since: the read it saves is a sixth of a reminder's step. The
 * claim's order is the steps' order; a few timers may be passed over
 * (held, or left for another version). Lent: its texts are the claim's
 * own (store_case_claimed_lend), which the next claim's overwrite;
 * otherwise copies. */
static int ahead_take(sq *st, const char *id, store_case *out, int lend) {
  int end = st->ahead.next + 8 < st->ahead.n ? st->ahead.next + 8 : st->ahead.n;
  for (int i = st->ahead.next; i < end; i++) {
    struct ahead_case *a = &st->ahead.v[i];
    const char *t = st->ahead.text;
    if (a->at[0] < 0 || strcmp(t + a->at[0], id) != 0) continue;
    st->ahead.next = i + 1;
    if (ahead_written(st, id)) return 0;
    *out = a->c;
    for (int k = 0; k < 12; k++)
      *case_text(out, k) = a->at[k] < 0 ? NULL
                           : lend       ? st->ahead.text + a->at[k]
                                        : strdup(t + a->at[k]);
    a->at[0] = -1; /* taken */
    st->ahead.taken++;
    case_keys_text_seen(st, id, a->at[12] < 0 ? NULL : t + a->at[12]);
    chain_seen(st, id, a->journal_last);
    tasks_seen(st, id, a->tasks_open, 0);
    message_last_seen(st, id, a->message_last);
    case_seen(st, id, out);
    step_row_seen(st, id, a->steps_rowid);
    return 1;
  }
  return 0;
}

/* Borrower id as the last claim read it beside a case a step just took,
 * when no statement may have written a borrower since: the read it saves
 * is a statement a reminder's step (store_borrower_get after
 * store_case_get). Copies, or lent: its texts are the claim's, its
 * contacts ahead.lent's (store_borrower_claimed_lend); 0 when not kept
 * (or out of memory: the read then says so). */
static int ahead_borrower(sq *st, const char *id, store_borrower *out,
                          int lend) {
  int from = st->ahead.next > 8 ? st->ahead.next - 8 : 0;
  if (!st->ahead.n || st->ahead.borrowers_written || st->base.depth == 0 ||
      sqlite3_get_autocommit(st->db))
    return 0;
  for (int i = st->ahead.next - 1; i >= from; i--) {
    const struct ahead_case *a = &st->ahead.v[i];
    const char *t = st->ahead.text, *packed;
    int oom = 0;
    if (a->bat[0] < 0 || strcmp(t + a->bat[0], id) != 0) continue;
    memset(out, 0, sizeof *out);
    packed = t + a->bat[9];
    if (lend) {
      if (sqlite_contacts_lend(packed, strlen(packed), &st->ahead.lent,
                               &out->contacts, &out->ncontacts) != RC_OK) {
        memset(out, 0, sizeof *out);
        return 0;
      }
      for (int k = 0; k < 9; k++)
        if (a->bat[k] >= 0)
          *(char **)((char *)out + borrower_texts[k].field) =
              st->ahead.text + a->bat[k];
      out->do_not_contact = a->do_not_contact;
      out->ceased = a->ceased;
      st->ahead.borrowers_taken++;
      return 1;
    }
    for (int k = 0; k < 9; k++) {
      char **f = (char **)((char *)out + borrower_texts[k].field);
      if (a->bat[k] >= 0 && !(*f = strdup(t + a->bat[k]))) oom = 1;
    }
    out->do_not_contact = a->do_not_contact;
    out->ceased = a->ceased;
    if (oom || sqlite_contacts_unpack(packed, strlen(packed), &out->contacts,
                                      &out->ncontacts) != RC_OK) {
      store_borrower_free(out);
      return 0;
    }
    st->ahead.borrowers_taken++;
    return 1;
  }
  return 0;
}

static int case_look_up(sq *st, const char *id, int which, rc_error *err);

static int sq_case_get(sq *st, const char *id, store_case *out, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_CASE_GET);
  int rc;
  memset(out, 0, sizeof *out);
  /* Not once SQLite has rolled the batch back by itself (exec_step). */
  if (st->ahead.n && !sqlite3_get_autocommit(st->db) &&
      ahead_take(st, id, out, 0))
    return RC_OK;
  bind_text(s, 1, id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    case_cols(s, out);
    if (st->base.depth > 0) {
      case_keys_seen(st, id, s, 23);
      case_chain_seen(st, id, s, 24);
      tasks_seen(st, id, sqlite3_column_int(s, 25), 0);
      message_last_seen(st, id, sqlite3_column_int64(s, 26));
    }
    step_row_seen(st, id, sqlite3_column_int64(s, 27));
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc == SQLITE_ROW && st->base.depth > 0) case_seen(st, id, out);
  if (rc == SQLITE_ROW) return RC_OK;
  /* An import's new case whose rows the book refused (a handler caught
   * that with pcall, or failed on it) is missing for that cause, which
   * the commit refuses with: said now, as the import's reason, rather
   * than as a case nobody gave. */
  if (rc == SQLITE_DONE && st->held.failed) return held_refused(st, err);
  if (rc == SQLITE_DONE) {
    /* Its case_steps row there without its case_rows row at the same
     * step_row (one deleted and inserted again by hand, docs/cli.md) is
     * a case damaged, not one nobody gave: read as unknown, its timers
     * fired as a gone case's and it left the book without a word. */
    if ((rc = case_look_up(st, id, S_CASE_EXISTS, err)) == RC_OK)
      return rc_error_set(err, RC_ESTORE, "case",
                          "case %s has a case_steps row but no case_rows "
                          "row at its step_row (edited by hand?): set that "
                          "case_rows row's step_row to its case_steps "
                          "row's (docs/cli.md)",
                          id);
    if (rc != RC_ENOTFOUND) return rc;
    return rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", id);
  }
  return fail(st, err, "read case");
}

/* RC_ENOTFOUND without a message: an import's new case misses here on
 * every row, and formatting one cost a third of the look-up. */
static int case_look_up(sq *st, const char *id, int which, rc_error *err) {
  sqlite3_stmt *s = stmt(st, which);
  int rc;
  bind_text(s, 1, id);
  rc = one_row(st, s, sqlite3_step(s), err, "look up case");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

static int sq_case_exists(sq *st, const char *id, rc_error *err) {
  int rc = case_look_up(st, id, S_CASE_EXISTS, err);
  if (rc == RC_ENOTFOUND)
    rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", id);
  return rc;
}

/* Reads the case's counted figures before a write: a case that is not
 * there is written as before (the write finds nothing). */
#define FIG_BEFORE(id)                                \
  case_fig was, now;                                  \
  int rc = case_fig_read(st, (id), &was, err), found; \
  if (rc != RC_OK && rc != RC_ENOTFOUND) return rc;   \
  found = rc == RC_OK;                                \
  now = was

static int sq_case_set_state(sq *st, const char *id, const char *state,
                             int closed, const char *outcome, int64_t mover,
                             rc_error *err) {
  /* The timers the step ended go with the state (timer_keys), and so
   * does the run its journal gets next (journal_last). */
  int keys = st->keys.dirty && !strcmp(st->keys.case_id, id);
  int tasks = st->tasks.dirty && !strcmp(st->tasks.case_id, id);
  int msg = st->msg.dirty && !strcmp(st->msg.case_id, id);
  /* At the row the claim read it from, when the step took it there. */
  int which = step_row_of(st, id) ? S_CASE_STATE_AT : S_CASE_STATE;
  int64_t run;
  jbuf b = {0};
  sqlite3_stmt *s = stmt_of(st, which, id);
  FIG_BEFORE(id);
  if ((rc = journal_ahead(st, id, &run, err)) != RC_OK) return rc;
  if (keys && (rc = timer_keys_text(st, &b, err)) != RC_OK) return rc;
again:
  bind_text(s, 1, id);
  bind_text(s, 2, state);
  sqlite3_bind_int(s, 3, closed);
  bind_text(s, 4, outcome);
  /* Every parameter bound, NULL where unchanged: no clearing after
   * (exec_rebound). */
  if (keys)
    bind_text(s, 5, b.p ? b.p : "");
  else
    sqlite3_bind_null(s, 5);
  if (run)
    sqlite3_bind_int64(s, 6, run);
  else
    sqlite3_bind_null(s, 6);
  if (tasks)
    sqlite3_bind_int(s, 7, 0);
  else
    sqlite3_bind_null(s, 7);
  if (msg)
    sqlite3_bind_int64(s, 8, st->msg.last);
  else
    sqlite3_bind_null(s, 8);
  if (which == S_CASE_STATE_AT) sqlite3_bind_int64(s, 9, st->step_row.rowid);
  sqlite3_bind_int64(s, 10, mover);
  rc = exec_rebound(st, s, err, "set state");
  /* No row there (the case's row made again since the claim): by its
   * id, as every other write. */
  if (which == S_CASE_STATE_AT && rc == RC_OK && sqlite3_changes(st->db) == 0) {
    which = S_CASE_STATE;
    s = stmt_of(st, which, id);
    goto again;
  }
  /* Not by its id either: the row deleted by hand since the step read
   * it, or dropped by a trigger of the book's own (RAISE(IGNORE)). The
   * step's journal and timers would be kept without the state they
   * follow: refused as a row a trigger dropped is (exec_wrote). */
  if (rc == RC_OK && sqlite3_changes(st->db) == 0) {
    st->base.refused = 1;
    rc = rc_error_set(err, RC_EINTERNAL, NULL,
                      "database: set state: case %s: 1 of 1 rows not kept "
                      "by the table case_steps (its row deleted, or a "
                      "trigger added to the book by hand drops it, e.g. "
                      "RAISE(IGNORE))",
                      id);
  }
  free(b.p);
  if (rc == RC_OK && keys) st->keys.dirty = 0;
  if (rc == RC_OK && tasks) st->tasks.dirty = 0;
  if (rc == RC_OK && msg) st->msg.dirty = 0;
  if (rc == RC_OK && run) st->chain.ahead = 1;
  if (rc != RC_OK || !found) return rc;
  rc_copy(now.state, sizeof now.state, state);
  now.closed = closed != 0;
  /* A champion/challenger arm counts its cases closed paid. */
  if (now.closed && !was.closed && outcome && !strcmp(outcome, "paid")) {
    s = stmt(st, S_ARMS_CLOSED_PAID);
    bind_text(s, 1, id);
    if ((rc = exec_stmt(st, s, err, "arms")) != RC_OK) return rc;
  }
  if (st->base.depth > 0) case_fig_keep(st, id, &now);
  return case_fig_move(st, &was, &now, err);
}

static int set_text(sq *st, int which, const char *id, const char *v,
                    rc_error *err, const char *what) {
  sqlite3_stmt *s = stmt_of(st, which, id); /* the row of case id only */
  bind_text(s, 1, id);
  bind_text(s, 2, v);
  return exec_stmt(st, s, err, what);
}

static int sq_case_set_error(sq *st, const char *id, const char *error,
                             rc_error *err) {
  FIG_BEFORE(id);
  if ((rc = set_text(st, S_CASE_ERROR, id, error, err, "set error")) != RC_OK ||
      !found)
    return rc;
  now.error = error != NULL;
  if (st->base.depth > 0) case_fig_keep(st, id, &now);
  return case_fig_move(st, &was, &now, err);
}

static int sq_case_set_data(sq *st, const char *id, const char *data_json,
                            rc_error *err) {
  return set_text(st, S_CASE_DATA, id, data_json, err, "set data");
}

static int sq_case_set_tags(sq *st, const char *id, const char *tags_json,
                            rc_error *err) {
  return set_text(st, S_CASE_TAGS, id, tags_json, err, "set tags");
}

static int sq_case_set_queue(sq *st, const char *id, const char *queue,
                             rc_error *err) {
  return set_text(st, S_CASE_QUEUE, id, queue, err, "assign");
}

static int sq_case_set_money(sq *st, const char *id, rc_money balance,
                             rc_money amount_due, rc_money overpaid,
                             rc_error *err) {
  sqlite3_stmt *s = stmt_of(st, S_CASE_MONEY, id);
  FIG_BEFORE(id);
  bind_text(s, 1, id);
  sqlite3_bind_int64(s, 2, balance);
  sqlite3_bind_int64(s, 3, amount_due);
  sqlite3_bind_int64(s, 4, overpaid);
  if ((rc = exec_stmt(st, s, err, "set balance")) != RC_OK || !found) return rc;
  now.balance = balance;
  if (st->base.depth > 0) case_fig_keep(st, id, &now);
  return case_fig_move(st, &was, &now, err);
}

static int sq_case_set_hold(sq *st, const char *id, int on_hold,
                            rc_error *err) {
  sqlite3_stmt *s = stmt_of(st, S_CASE_HOLD, id);
  bind_text(s, 1, id);
  sqlite3_bind_int(s, 2, on_hold);
  return exec_stmt(st, s, err, "set hold");
}

static int sq_case_set_workflow(sq *st, const char *id, const char *workflow,
                                int version, const char *state, rc_error *err) {
  sqlite3_stmt *s = stmt_of(st, S_CASE_WORKFLOW, id);
  FIG_BEFORE(id);
  bind_text(s, 1, id);
  bind_text(s, 2, workflow);
  sqlite3_bind_int(s, 3, version);
  if ((rc = exec_stmt(st, s, err, "set workflow")) != RC_OK) return rc;
  s = stmt_of(st, S_CASE_WORKFLOW_STATE, id);
  bind_text(s, 1, id);
  bind_text(s, 2, state);
  if ((rc = exec_stmt(st, s, err, "set workflow")) != RC_OK || !found)
    return rc;
  rc_copy(now.workflow, sizeof now.workflow, workflow);
  rc_copy(now.state, sizeof now.state, state);
  if (st->base.depth > 0) case_fig_keep(st, id, &now);
  return case_fig_move(st, &was, &now, err);
}

static int sq_cases_each(sq *st, const char *state, store_row_fn fn, void *ud,
                         rc_error *err) {
  sqlite3_stmt *s = stmt(st, state ? S_CASES_STATE : S_CASES_ALL);
  if (state) bind_text(s, 1, state);
  return each_row(st, s, fn, ud, err);
}

/* status NULL: queued, or parked when the case is in error. */
static int event_insert(sq *st, const char *case_id, const char *type,
                        const char *data, rc_time at, const char *status,
                        rc_error *err) {
  /* It reads its case's row (named, so as not to count as a write of
   * every case: case_writes). */
  sqlite3_stmt *s = stmt_of(st, status ? S_EVENT_INSERT : S_EVENT_QUEUE,
                            case_id);
  int rc;
  bind_text(s, 1, case_id);
  bind_text(s, 2, type);
  bind_text(s, 3, data);
  sqlite3_bind_int64(s, 4, at);
  if (status) bind_text(s, 5, status);
  if ((rc = exec_stmt(st, s, err, "queue event")) != RC_OK) return rc;
  if (sqlite3_changes(st->db) == 0)
    return rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", case_id);
  return RC_OK;
}

static int sq_event_insert(sq *st, const char *case_id, const char *type,
                           const char *data, rc_time at, rc_error *err) {
  return event_insert(st, case_id, type, data, at, NULL, err);
}

static int sq_event_insert_as(sq *st, const char *case_id, const char *type,
                              const char *data, rc_time at, const char *status,
                              rc_error *err) {
  return event_insert(st, case_id, type, data, at, status, err);
}

static int sq_event_key_claim(sq *st, const char *key, const char *case_id,
                              const char *type, rc_time at, int *duplicate,
                              rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_EVENT_KEY);
  int rc, same = 0;
  *duplicate = 0;
  bind_text(s, 1, key);
  bind_text(s, 2, case_id);
  sqlite3_bind_int64(s, 3, at);
  bind_text(s, 4, type);
  if ((rc = exec_stmt(st, s, err, "event key")) != RC_OK) return rc;
  if (sqlite3_changes(st->db) == 1) return RC_OK;
  s = stmt(st, S_EVENT_KEY_GET);
  bind_text(s, 1, key);
  if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *was_case = (const char *)sqlite3_column_text(s, 0);
    const char *was_type = (const char *)sqlite3_column_text(s, 1);
    same = strcmp(was_case, case_id) == 0 &&
           (!was_type || strcmp(was_type, type) == 0);
    if (!same) store_key_taken(err, key, was_type, was_case);
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_ROW) return fail(st, err, "read event key");
  if (!same) return RC_ECONFLICT;
  *duplicate = 1;
  return RC_OK;
}

/* Room for one more of a claim's entries in *v (cap of them now, at most
 * max): a claim asks for what is left of its batch, a thousand entries,
 * and under a simulated clock mostly gets one (each due time in turn):
 * calloc'ing the whole batch zeroed up to 40 KB for each of a step's two
 * claims. NULL when out of memory (*v is then still the caller's). */
static void *claim_room(void *v, int *cap, int count, int max, size_t size) {
  int grown;
  void *p;
  if (count < *cap) return v;
  grown = *cap ? *cap * 2 : 16;
  if (grown > max) grown = max > 0 ? max : 1;
  if (grown <= count) grown = count + 1;
  if (!(p = realloc(v, (size_t)grown * size))) return NULL;
  *cap = grown;
  return p;
}

/* An event queued before its case failed is parked beside the failed one
 * (the retry brings it back, in order) the first time a read meets it, so
 * that no later read steps over it again. */
static int sq_events_next(sq *st, int max, store_event **out, int *n,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_EVENT_NEXT);
  store_event *ev = NULL, *room;
  int64_t after = 0, park[64];
  int rc = SQLITE_DONE, count = 0, cap = 0;
  *out = NULL;
  *n = 0;
  if (st->base.depth > 0 && st->events_none) return RC_OK;
  if (!(ev = claim_room(ev, &cap, 0, max, sizeof *ev)))
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  while (count < max) {
    int rows = 0, parked = 0, limit = max - count;
    sqlite3_bind_int(s, 1, limit);
    sqlite3_bind_int64(s, 2, after);
    while (count < max && parked < 64 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
      rows++;
      after = sqlite3_column_int64(s, 0);
      if (sqlite3_column_int(s, 5)) {
        park[parked++] = after;
        continue;
      }
      if (!(room = claim_room(ev, &cap, count, max, sizeof *ev))) {
        sqlite3_reset(s);
        store_events_free(ev, count);
        return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
      }
      ev = room;
      ev[count].id = after;
      ev[count].case_id = dup_col(s, 1);
      ev[count].type = dup_col(s, 2);
      ev[count].data = dup_col(s, 3);
      ev[count].at = sqlite3_column_int64(s, 4);
      count++;
    }
    if (rc == SQLITE_ROW) rc = SQLITE_DONE; /* stopped early, not at the end */
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) break;
    for (int i = 0; i < parked; i++)
      if (sq_event_fail(st, park[i], err) != RC_OK) {
        store_events_free(ev, count);
        return RC_ESTORE;
      }
    if (rows < limit && parked < 64) break; /* the queue's end */
  }
  if (rc != SQLITE_DONE) {
    store_events_free(ev, count);
    return fail(st, err, "next events");
  }
  /* Parking changed rows, and the hook saw it: none is pending now. */
  if (count == 0 && st->base.depth > 0) st->events_none = 1;
  *out = ev;
  *n = count;
  return RC_OK;
}

static int by_id(sq *st, int which, int64_t id, rc_error *err,
                 const char *what) {
  sqlite3_stmt *s = stmt(st, which);
  sqlite3_bind_int64(s, 1, id);
  return exec_stmt(st, s, err, what);
}

static int sq_event_delete(sq *st, int64_t id, rc_error *err) {
  return by_id(st, S_EVENT_DELETE, id, err, "delete event");
}

static int sq_event_fail(sq *st, int64_t id, rc_error *err) {
  return by_id(st, S_EVENT_FAIL, id, err, "fail event");
}

static int sq_events_retry(sq *st, const char *case_id, int *count,
                           rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_EVENTS_RETRY);
  int rc;
  bind_text(s, 1, case_id);
  rc = exec_stmt(st, s, err, "retry events");
  if (count) *count = rc == RC_OK ? sqlite3_changes(st->db) : 0;
  return rc;
}

/* The one number a counting statement returns. */
static int count_of(sq *st, int which, const char *arg, int64_t *count,
                    rc_error *err) {
  sqlite3_stmt *s = stmt(st, which);
  int rc;
  if (arg) bind_text(s, 1, arg);
  rc = sqlite3_step(s);
  *count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  if (rc != SQLITE_ROW) fail(st, err, "count");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_ROW ? RC_OK : RC_ESTORE;
}

static int sq_events_pending(sq *st, int64_t *count, rc_error *err) {
  return count_of(st, S_EVENTS_PENDING, NULL, count, err);
}

/* After a statement that set (sign 1) or ended (sign -1) timers: keeps
 * the pending count, passing the statement's result on. */
static int timers_changed(sq *st, int sign, int rc) {
  if (rc == RC_OK && st->timers_known)
    st->timers += sign * (int64_t)sqlite3_changes(st->db);
  return rc;
}

/* --- the timers a case holds (cases.timer_keys) ------------------------ */

/* The held keys as timer_keys stores them. */
static int timer_keys_text(sq *st, jbuf *b, rc_error *err) {
  for (int i = 0; i < st->keys.n; i++) {
    jb_lit(b, i ? ",[" : "[[");
    jb_int(b, st->keys.v[i].due);
    jb_lit(b, ",");
    jb_int(b, st->keys.v[i].id);
    jb_lit(b, st->keys.v[i].scoped ? ",1]" : ",0]");
  }
  if (st->keys.n) jb_lit(b, "]");
  if (!b->oom) return RC_OK;
  free(b->p);
  b->p = NULL;
  return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
}

/* Writes the held keys if changed; they stay known. */
static int timer_keys_flush(sq *st, rc_error *err) {
  sqlite3_stmt *s;
  jbuf b = {0};
  int rc;
  /* A fired timer still to take out of keys not read yet. */
  if (st->keys.has_fired && !st->keys.known &&
      (rc = timer_keys_of(st, st->keys.case_id, err)) != RC_OK)
    return rc;
  if (!st->keys.dirty) return RC_OK;
  if ((rc = timer_keys_text(st, &b, err)) != RC_OK) return rc;
  s = stmt_of(st, S_TIMER_KEYS_PUT, st->keys.case_id);
  bind_text(s, 1, st->keys.case_id);
  bind_text(s, 2, b.p ? b.p : "");
  rc = exec_stmt(st, s, err, "timer keys");
  free(b.p);
  if (rc == RC_OK) st->keys.dirty = 0;
  return rc;
}

/* Forgets the held keys (a rollback; a new transaction). */
static void timer_keys_forget(sq *st) {
  st->keys.known = st->keys.dirty = st->keys.has_fired = 0;
  st->keys.n = 0;
}

static int timer_keys_add(sq *st, int64_t due, int64_t id, int scoped,
                          rc_error *err) {
  if (st->keys.n == st->keys.cap) {
    int cap = st->keys.cap ? st->keys.cap * 2 : 8;
    timer_key *v = realloc(st->keys.v, (size_t)cap * sizeof *v);
    if (!v) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    st->keys.v = v;
    st->keys.cap = cap;
  }
  st->keys.v[st->keys.n++] = (timer_key){due, id, scoped};
  return RC_OK;
}

/* strtoll for the keys' numbers: every step reads its case's keys, and
 * glibc's strtoll was three quarters of that (≈ 650 instructions a step
 * for a due time, an id and a flag). Up to 18 digits cannot overflow;
 * anything else (a sign other than '-', spaces, more digits) is strtoll's,
 * which gives the same number and end for what is taken here. */
static int64_t key_number(const char *p, char **end) {
  const char *d = p + (*p == '-');
  uint64_t v = 0;
  int n = 0;
  while (n <= 18 && d[n] >= '0' && d[n] <= '9')
    v = v * 10 + (uint64_t)(d[n++] - '0');
  if (n == 0 || n > 18) return strtoll(p, end, 10);
  *end = (char *)(d + n);
  return *p == '-' ? -(int64_t)v : (int64_t)v;
}

/* Parses [[due, id, scoped], ...] as timer_keys_flush writes it. */
static int timer_keys_parse(sq *st, const char *text, rc_error *err) {
  int64_t part[3];
  int k = 0, rc = RC_OK;
  const char *p = text ? text : "";
  while (*p && rc == RC_OK) {
    char *end;
    if (*p == '[' || *p == ']' || *p == ',') {
      p++;
      continue;
    }
    part[k] = key_number(p, &end);
    if (end == p)
      return rc_error_set(err, RC_ESTORE, NULL,
                          "database: case %s: its timer keys do not read: %s",
                          st->keys.case_id, text);
    p = end;
    if (++k == 3) {
      rc = timer_keys_add(st, part[0], part[1], part[2] != 0, err);
      k = 0;
    }
  }
  if (rc == RC_OK && k)
    return rc_error_set(err, RC_ESTORE, NULL,
                        "database: case %s: its timer keys do not read: %s",
                        st->keys.case_id, text);
  return rc;
}

/* Takes key k out of the keys held; dirty when it was there. */
static void timer_keys_drop(sq *st, const timer_key *k) {
  int kept = 0;
  for (int i = 0; i < st->keys.n; i++)
    if (st->keys.v[i].due != k->due || st->keys.v[i].id != k->id)
      st->keys.v[kept++] = st->keys.v[i];
  if (kept < st->keys.n) st->keys.dirty = 1;
  st->keys.n = kept;
}

/* The keys held become case_id's (nothing else may be dirty), as read
 * from the case's row: text, NULL for a case that is not there. */
static int timer_keys_known(sq *st, const char *text, rc_error *err) {
  int rc;
  st->keys.n = 0;
  if ((rc = timer_keys_parse(st, text, err)) != RC_OK) {
    timer_keys_forget(st);
    return rc;
  }
  st->keys.known = 1;
  if (st->keys.has_fired) timer_keys_drop(st, &st->keys.fired);
  st->keys.has_fired = 0;
  return RC_OK;
}

/* Makes the keys held case_id's: another case's written first if they
 * changed; a timer of case_id fired meanwhile is left out. */
static int timer_keys_switch(sq *st, const char *case_id, rc_error *err) {
  int rc;
  if (!strcmp(st->keys.case_id, case_id)) return RC_OK;
  if ((rc = timer_keys_flush(st, err)) != RC_OK) return rc;
  timer_keys_forget(st);
  if (strlen(case_id) >= sizeof st->keys.case_id)
    return rc_error_set(err, RC_EINVAL, "case", "case id too long: %.40s...",
                        case_id);
  memcpy(st->keys.case_id, case_id, strlen(case_id) + 1);
  return RC_OK;
}

/* Makes the keys held those of case_id, read unless known. A case that
 * is not there holds none. */
static int timer_keys_of(sq *st, const char *case_id, rc_error *err) {
  sqlite3_stmt *s;
  int rc;
  /* Outside a transaction nothing is held over: another connection may
   * write between two statements. */
  if (st->base.depth == 0) timer_keys_forget(st);
  rc = timer_keys_switch(st, case_id, err);
  if (rc != RC_OK || st->keys.known) return rc;
  s = stmt(st, S_TIMER_KEYS);
  bind_text(s, 1, case_id);
  rc = one_row(st, s, sqlite3_step(s), err, "timer keys");
  if (rc == RC_OK && st->base.depth > 0) case_chain_seen(st, case_id, s, 1);
  if (rc == RC_OK) step_row_seen(st, case_id, sqlite3_column_int64(s, 2));
  if (rc == RC_OK || rc == RC_ENOTFOUND)
    rc = timer_keys_known(
        st, rc == RC_OK ? (const char *)sqlite3_column_text(s, 0) : NULL, err);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

/* The keys changed: outside a transaction written now (nothing else
 * would), inside it when the case's state is, or before they are read. */
static int timer_keys_changed(sq *st, rc_error *err) {
  int rc;
  st->keys.dirty = 1;
  if (st->base.depth > 0) return RC_OK;
  rc = timer_keys_flush(st, err);
  timer_keys_forget(st);
  return rc;
}

/* Ends the timers of case_id that match (event NULL: any; scoped_only:
 * those ending with its state), by their keys; *count how many. */
static int timer_keys_end(sq *st, const char *case_id, const char *event,
                          int scoped_only, int *count, rc_error *err) {
  sqlite3_stmt *s = fired_keyed(st, S_TIMER_END);
  int rc = timer_keys_of(st, case_id, err), kept = 0, ended = 0;
  /* A claimed timer ended here leaves its key to the next timer set at
   * its due time: the claim's keys no longer say which row is which. */
  if (st->keys.n) st->claimed.n = 0;
  if (count) *count = 0;
  if (rc != RC_OK) return rc;
  for (int i = 0; i < st->keys.n; i++) {
    const timer_key *k = &st->keys.v[i];
    if (scoped_only && !k->scoped) {
      st->keys.v[kept++] = *k;
      continue;
    }
    rc = fired_near(st, k->due, 0, err);
    sqlite3_bind_int64(s, 1, k->due);
    sqlite3_bind_int64(s, 2, k->id);
    bind_text(s, 3, case_id);
    bind_text(s, 4, event);
    sqlite3_bind_int(s, 5, scoped_only);
    if (rc != RC_OK) sqlite3_clear_bindings(s);
    if (rc != RC_OK || (rc = exec_stmt(st, s, err, "end timer")) != RC_OK) {
      timer_keys_forget(st); /* some ended, some not: read them again */
      return rc;
    }
    if (sqlite3_changes(st->db) > 0)
      ended++;
    else if (event)
      st->keys.v[kept++] = *k; /* another event's timer */
  }
  if (kept == st->keys.n) return RC_OK;
  st->keys.n = kept;
  if (st->timers_known) st->timers -= ended;
  if (count) *count = ended;
  return timer_keys_changed(st, err);
}

/* Outside a transaction a timer and its case's keys change together all
 * the same: a savepoint makes the statements one transaction. */
static int keys_apart_begin(sq *st, rc_error *err) {
  if (st->base.depth > 0) return RC_OK;
  return sqlite3_exec(st->db, "SAVEPOINT timer_keys", NULL, NULL, NULL) ==
                 SQLITE_OK
             ? RC_OK
             : fail(st, err, "timer keys");
}

/* Ends keys_apart_begin's savepoint: kept when rc is RC_OK. */
static int keys_apart_end(sq *st, int rc, rc_error *err) {
  if (st->base.depth > 0) return rc;
  if (rc == RC_OK &&
      sqlite3_exec(st->db, "RELEASE timer_keys", NULL, NULL, NULL) != SQLITE_OK)
    rc = fail(st, err, "timer keys");
  if (rc != RC_OK) {
    sqlite3_exec(st->db, "ROLLBACK TO timer_keys; RELEASE timer_keys", NULL,
                 NULL, NULL);
    st->timers_known = 0;
  }
  return rc;
}

/* The timer the first held case's handler set waits with it. */
static int held_timer_set(sq *st, int64_t due, int64_t id, const char *event,
                          const char *data, int scoped, rc_error *err) {
  if (!(st->held.timer.event = strdup(event)) ||
      (data && !(st->held.timer.data = strdup(data)))) {
    held_timer_drop(st);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  st->held.timer.held = 1;
  st->held.timer.due = due;
  st->held.timer.id = id;
  st->held.timer.scoped = scoped;
  return RC_OK;
}

static void timer_ids_forget(sq *st) {
  memset(&st->timer_ids, 0, sizeof st->timer_ids);
  st->claimed.n = st->claimed.next = 0;
}

static size_t timer_slot(int64_t due) {
  return (size_t)(((uint64_t)due * 0x9E3779B97F4A7C15u) >> 61);
}

/* The id of a timer set at `due` in the transaction (timer_ids). */
static int timer_id_next(sq *st, int64_t due, int64_t *id, rc_error *err) {
  size_t k = timer_slot(due);
  sqlite3_stmt *s;
  int rc;
  if (st->timer_ids.slot[k].id && st->timer_ids.slot[k].due == due) {
    *id = st->timer_ids.slot[k].id + 1;
    return RC_OK;
  }
  if (st->timer_ids.known && due > st->timer_ids.beyond) {
    *id = 1;
    return RC_OK;
  }
  /* The pending runs' timers count. */
  if ((rc = pending_flush(st, err)) != RC_OK) return rc;
  s = fired_keyed(st, S_TIMER_ID);
  sqlite3_bind_int64(s, 1, due);
  rc = one_row(st, s, sqlite3_step(s), err, "timer id");
  if (rc == RC_OK) *id = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  if (rc != RC_OK || st->timer_ids.known || !st->timer_ids.looked++) return rc;
  s = stmt(st, S_TIMER_LAST);
  rc = one_row(st, s, sqlite3_step(s), err, "timer id");
  if (rc == RC_OK) {
    st->timer_ids.beyond = sqlite3_column_int64(s, 0);
    st->timer_ids.known = 1;
  }
  sqlite3_reset(s);
  return rc;
}

static void timer_id_set(sq *st, int64_t due, int64_t id) {
  size_t k = timer_slot(due);
  st->timer_ids.slot[k].due = due;
  st->timer_ids.slot[k].id = id;
  if (st->timer_ids.known && due > st->timer_ids.beyond)
    st->timer_ids.beyond = due;
}

/* The case_steps rowid a timer of case id keeps: in hand (the case just
 * read or inserted, or its timer keys just read: timer_keys_of), else
 * looked up, where no held or pending case waits to be written (their
 * barrier would end an import's batch); 0 when not found (the claim
 * then reads that case by id). */
static int64_t step_row_at(sq *st, const char *id) {
  int64_t rowid = step_row_of(st, id);
  sqlite3_stmt *s;
  if (rowid || held_any(st) || st->npending) return rowid;
  s = stmt(st, S_CASE_STEP_ROW);
  bind_text(s, 1, id);
  if (sqlite3_step(s) == SQLITE_ROW) rowid = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rowid) step_row_seen(st, id, rowid);
  return rowid;
}

static int sq_timer_insert(sq *st, const char *case_id, rc_time due,
                           const char *event, const char *data, int scoped,
                           rc_error *err) {
  sqlite3_stmt *s;
  int64_t id = 0;
  int apart, rc = timer_keys_of(st, case_id, err);
  if (rc != RC_OK) return rc;
  /* In a transaction no other writer comes between the two statements
   * (BEGIN IMMEDIATE holds the write lock). */
  apart = st->base.depth == 0 || sqlite3_get_autocommit(st->db);
  if ((rc = fired_near(st, due, 1, err)) != RC_OK) return rc;
  /* One timer waits with its held case; a second writes both. */
  if (!apart && st->held.timer.held && (rc = held_flush(st, err)) != RC_OK)
    return rc;
  if (!apart && (rc = timer_id_next(st, due, &id, err)) != RC_OK) return rc;
  if (!apart && held_first_is(st, case_id)) {
    if ((rc = held_timer_set(st, due, id, event, data, scoped, err)) != RC_OK)
      return rc;
  } else {
    int64_t step_row = step_row_at(st, case_id);
    s = apart ? stmt(st, S_TIMER_INSERT) : fired_keyed(st, S_TIMER_INSERT_ID);
    bind_text(s, 1, case_id);
    sqlite3_bind_int64(s, 2, due);
    bind_text(s, 3, event);
    bind_text(s, 4, data);
    sqlite3_bind_int(s, 5, scoped);
    if (step_row)
      sqlite3_bind_int64(s, 7, step_row);
    else
      sqlite3_bind_null(s, 7);
    if (!apart) {
      sqlite3_bind_int64(s, 6, id);
      if ((rc = exec_wrote(st, s, 1, "timers", err, "insert timer")) != RC_OK)
        return rc;
    } else if (st->base.depth > 0) {
      sqlite3_clear_bindings(s);
      return exec_stmt(st, s, err, "insert timer"); /* says why */
    } else {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        id = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s);
      }
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      if ((rc & 0xff) == SQLITE_CONSTRAINT) /* as exec_stmt says it */
        return rc_error_set(err, RC_EINTERNAL, NULL,
                            "database: insert timer: unexpected constraint "
                            "failure: %s",
                            sqlite_why(st->db));
      if (rc != SQLITE_DONE) return fail(st, err, "insert timer");
    }
  }
  if (!apart) timer_id_set(st, due, id);
  if (st->timers_known) st->timers++;
  if ((rc = timer_keys_add(st, due, id, scoped != 0, err)) != RC_OK) {
    timer_keys_forget(st);
    return rc;
  }
  return timer_keys_changed(st, err);
}

static int sq_timer_next_due(sq *st, rc_time *due, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_TIMER_NEXT);
  int rc = one_row(st, s, sqlite3_step(s), err, "next timer");
  if (rc == RC_OK && sqlite3_column_type(s, 0) == SQLITE_NULL)
    rc = RC_ENOTFOUND;
  if (rc == RC_OK) *due = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  return rc;
}

/* Whether the claim may keep its cases: not while a trigger the schema
 * does not know may write one unseen. */
static int ahead_allowed(sq *st) {
  return no_foreign_triggers(st, &st->ahead.triggers, S_CASE_TRIGGERS);
}

/* Column col of s copied to the end of st->ahead.text, where *at says
 * (-1 for NULL); 0 when out of memory. */
static int ahead_text(sq *st, sqlite3_stmt *s, int col, int32_t *at) {
  const char *v = (const char *)sqlite3_column_text(s, col);
  size_t len = v ? strlen(v) + 1 : 0;
  if (!v) {
    *at = -1;
    return 1;
  }
  if (st->ahead.len + len > st->ahead.size) {
    size_t size = 2 * (st->ahead.len + len) + 4096;
    char *text = size <= INT32_MAX ? realloc(st->ahead.text, size) : NULL;
    if (!text) return 0;
    st->ahead.text = text;
    st->ahead.size = size;
  }
  memcpy(st->ahead.text + st->ahead.len, v, len);
  *at = (int32_t)st->ahead.len;
  st->ahead.len += len;
  return 1;
}

/* Where a claimed case's columns are for ahead_keep: CASE_COLS' in r
 * from rc, but case_steps' (state, closed, outcome: 4-6) in s from sc
 * and timer_keys, journal_last, tasks_open, message_last, its rowid in
 * s from sk; its borrower's (BORROWER_COLS) in b from bc, b NULL for
 * none. */
typedef struct {
  sqlite3_stmt *r, *s, *b;
  int rc, sc, sk, bc;
} ahead_cols;

static inline int ahead_keep_borrower(sq *st, int i, sqlite3_stmt *b,
                                      int bc);

/* A claimed case kept for ahead_take, none when c is NULL or its rows
 * are not both there; 0 when out of memory (then none is kept). */
static inline int ahead_keep(sq *st, const ahead_cols *c) {
  struct ahead_case *a;
  if (st->ahead.n == st->ahead.cap) {
    int cap = st->ahead.cap ? 2 * st->ahead.cap : 64;
    void *v = realloc(st->ahead.v, (size_t)cap * sizeof *st->ahead.v);
    if (!v) return 0;
    st->ahead.v = v;
    st->ahead.cap = cap;
  }
  a = &st->ahead.v[st->ahead.n++];
  a->at[0] = a->bat[0] = -1;
  /* The view's inner join: both rows, or no case. */
  if (!c || sqlite3_column_type(c->r, c->rc) == SQLITE_NULL ||
      sqlite3_column_type(c->s, c->sc) == SQLITE_NULL)
    return 1;
  for (int k = 0; k < 13; k++) {
    int col = k < 12 ? case_texts[k].col : -1;
    int steps = col < 0 || (col >= 4 && col <= 6);
    if (!ahead_text(st, steps ? c->s : c->r,
                    col < 0 ? c->sk : steps ? c->sc + col - 4 : c->rc + col,
                    &a->at[k]))
      return 0;
  }
  case_numbers(c->r, c->rc, &a->c);
  a->journal_last = sqlite3_column_int64(c->s, c->sk + 1);
  a->tasks_open = sqlite3_column_int(c->s, c->sk + 2);
  a->message_last = sqlite3_column_int64(c->s, c->sk + 3);
  a->steps_rowid = sqlite3_column_int64(c->s, c->sk + 4);
  return !c->b || ahead_keep_borrower(st, st->ahead.n - 1, c->b, c->bc);
}

/* The borrower of kept case i, from column bc of b, when there is one
 * with its contacts packed (else the step reads it as before:
 * borrower_read); 0 when out of memory. */
static inline int ahead_keep_borrower(sq *st, int i, sqlite3_stmt *b,
                                      int bc) {
  struct ahead_case *a = &st->ahead.v[i];
  if (!st->ahead.with_borrowers || a->at[0] < 0 ||
      sqlite3_column_type(b, bc) == SQLITE_NULL ||
      sqlite3_column_type(b, bc + 11) == SQLITE_NULL)
    return 1;
  /* The packed text is read to its length, the kept one to its NUL. */
  if (strlen((const char *)sqlite3_column_text(b, bc + 11)) !=
      (size_t)sqlite3_column_bytes(b, bc + 11))
    return 1;
  for (int k = 0; k < 10; k++)
    if (!ahead_text(st, b, bc + (k < 9 ? borrower_texts[k].col : 11),
                    &a->bat[k])) {
      a->bat[0] = -1;
      return 0;
    }
  a->do_not_contact = sqlite3_column_int(b, bc + 8);
  a->ceased = sqlite3_column_int(b, bc + 9);
  return 1;
}

/* Whether the claimed timers' case ids come in key order (SQLite's
 * BINARY order is strcmp's for texts without a NUL). */
static int claim_ordered(const store_timer *t, int n) {
  for (int i = 1; i < n; i++)
    if (!t[i - 1].case_id || !t[i].case_id ||
        strcmp(t[i - 1].case_id, t[i].case_id) > 0)
      return 0;
  return n > 0 && t[0].case_id;
}

/* Column 0 of a range's row, "" for NULL (never a key). */
static const char *range_key(sqlite3_stmt *s) {
  const char *v = (const char *)sqlite3_column_text(s, 0);
  return v ? v : "";
}

/* A range walked beside a claim: its statement, its last answer, and
 * whether its row was the one of an id sought (kept). */
typedef struct {
  sqlite3_stmt *s;
  int rc, kept;
} range;

/* Steps range r to the first row whose key is not below id; 1 when that
 * row's key is id. *skipped counts the rows passed over not kept. */
static int range_to(range *r, const char *id, int *skipped) {
  while (r->rc == SQLITE_ROW) {
    int cmp = strcmp(range_key(r->s), id);
    if (cmp > 0) return 0;
    if (cmp == 0) {
      r->kept = 1;
      return 1;
    }
    if (!r->kept) ++*skipped;
    r->kept = 0;
    r->rc = sqlite3_step(r->s);
  }
  return 0;
}

/* Ranges walked past this many rows not claimed (a claim's cases far
 * apart in a book of many more) stop: the cases left are read by their
 * steps, and the next claims join again. */
enum { RANGE_SLACK = 64 };

/* The borrowers of the kept cases: a range when their ids come in key
 * order too, one look-up each otherwise; 0 when out of memory or a read
 * failed (then none is kept). */
static int ahead_range_borrowers(sq *st, int n) {
  int first = -1, last = -1, ordered = 1, rc, skipped = 0, ok = 1;
  sqlite3_stmt *b;
  for (int i = 0; i < n && ordered; i++) {
    if (st->ahead.v[i].at[0] < 0) continue;
    if (last >= 0 && strcmp(st->ahead.text + st->ahead.v[last].at[1],
                            st->ahead.text + st->ahead.v[i].at[1]) > 0)
      ordered = 0;
    if (first < 0) first = i;
    last = i;
  }
  if (first < 0) return 1;
  if (!ordered) {
    char key[160];
    b = stmt(st, S_BORROWER_GET);
    for (int i = 0; ok && i < n; i++) {
      const char *id;
      size_t len;
      if (st->ahead.v[i].at[0] < 0) continue;
      /* Bound from a copy: keeping the borrower may move ahead.text,
       * which a key bound in place would point into. A longer id (a
       * hand-edited book) is copied by SQLite. */
      id = st->ahead.text + st->ahead.v[i].at[1];
      len = strlen(id);
      if (len < sizeof key) {
        memcpy(key, id, len + 1);
        sqlite3_bind_text(b, 1, key, (int)len, SQLITE_STATIC);
      } else {
        sqlite3_bind_text(b, 1, id, (int)len, SQLITE_TRANSIENT);
      }
      rc = sqlite3_step(b);
      ok = rc == SQLITE_DONE || (rc == SQLITE_ROW &&
                                 ahead_keep_borrower(st, i, b, 0));
      sqlite3_reset(b);
    }
    sqlite3_clear_bindings(b);
    return ok;
  }
  b = stmt(st, S_CLAIM_BORROWERS);
  /* A copy: ahead.text may move as borrowers are kept. */
  char *lo = strdup(st->ahead.text + st->ahead.v[first].at[1]);
  if (!lo) ok = 0;
  if (ok) {
    range w = {b, SQLITE_ROW, 0};
    bind_text(b, 1, lo);
    w.rc = sqlite3_step(b);
    for (int i = first; ok && i <= last && skipped <= n + RANGE_SLACK; i++)
      if (st->ahead.v[i].at[0] >= 0 &&
          range_to(&w, st->ahead.text + st->ahead.v[i].at[1], &skipped))
        ok = ahead_keep_borrower(st, i, b, 0);
    ok = ok && (w.rc == SQLITE_ROW || w.rc == SQLITE_DONE);
  }
  sqlite3_reset(b);
  sqlite3_clear_bindings(b);
  free(lo);
  return ok;
}

/* The cases of claimed timers t[0..n), their case ids in key order
 * (claim_ordered), kept for ahead_take as S_TIMERS_DUE would have kept
 * them, read by walking case_steps and case_rows from the first id to
 * the last beside the timers: a row a step, not a look-up. 0 when out
 * of memory or a read failed (then none is kept: the steps read their
 * cases, never counting on a failed read); *far set when the ranges
 * held many more rows than the claim. */
static int ahead_ranges(sq *st, const store_timer *t, int n, int *far) {
  sqlite3_stmt *s = stmt(st, S_CLAIM_STEPS);
  ahead_cols c = {s, s, NULL, 0, 4, 23, 0};
  range steps = {s, SQLITE_ROW, 0};
  int skipped = 0, ok = 1, i;
  bind_text(s, 1, t[0].case_id);
  steps.rc = sqlite3_step(s);
  for (i = 0; ok && i < n; i++) {
    int found =
        skipped <= n + RANGE_SLACK && range_to(&steps, t[i].case_id, &skipped);
    ok = ahead_keep(st, found ? &c : NULL);
  }
  *far = skipped > n + RANGE_SLACK;
  ok = ok && (steps.rc == SQLITE_ROW || steps.rc == SQLITE_DONE);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return ok && (!st->ahead.with_borrowers || ahead_range_borrowers(st, n));
}

/* Room for max keys in st->claimed; 0 when out of memory (then none is
 * kept, and the timers fired are deleted as any other). */
static int claimed_room(sq *st, int max) {
  if (max > st->claimed.cap) {
    timer_key *v = realloc(st->claimed.v, (size_t)max * sizeof *v);
    if (!v) return 0;
    st->claimed.v = v;
    st->claimed.cap = max;
  }
  return max > 0;
}

/* Where the timer of key (due, id) is in the last claim (st->claimed),
 * when it is one the claim read, still as it read it and not fired yet
 * (`scoped` marks one fired: a timer set after it may take its key); -1
 * when not. Timers fire in the claim's order: the search begins after
 * the last one found. */
static int claimed_still(sq *st, int64_t due, int64_t id) {
  for (int k = 0, i = st->claimed.next; k < st->claimed.n; k++, i++) {
    if (i == st->claimed.n) i = 0;
    if (st->claimed.v[i].due == due && st->claimed.v[i].id == id &&
        !st->claimed.v[i].scoped) {
      st->claimed.v[i].scoped = 1;
      st->claimed.next = i + 1;
      return i;
    }
  }
  return -1;
}

/* A claimed timer whose due is not a whole number: said once a
 * connection (store_notice), as the range's fallback says its own. */
static void real_due_told(sq *st, const store_timer *t) {
  st->fired.real_due = 1;
  if (st->fired.told) return;
  st->fired.told = 1;
  store_notice_set(&st->base,
                   "timers: the due of case %.80s's timer '%.80s' is not a "
                   "whole number (edited by hand?): fired by what it holds, "
                   "not its key",
                   t->case_id ? t->case_id : "?", t->event ? t->event : "?");
}

static int sq_timers_due(sq *st, rc_time until, int max, store_timer **out,
                         int *n, rc_error *err) {
  sqlite3_stmt *s;
  store_timer *t = NULL, *room = NULL;
  int rc, count = 0, cap = 0, keep, claimed, real, ranged, far = 0;
  ahead_cols cols;
  *out = NULL;
  *n = 0;
  /* The last claim's rows are written at its end, its timers deleted. */
  if ((rc = claimw_flush(st, err)) != RC_OK ||
      (rc = fired_flush(st, err)) != RC_OK)
    return rc;
  if (!(t = room = claim_room(t, &cap, 0, max, sizeof *t)))
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  /* The cases are kept only where the transaction holds the write lock
   * (BEGIN IMMEDIATE): nothing else writes them before the steps. */
  ahead_drop(st);
  memset(st->ahead.written, 0, sizeof st->ahead.written);
  st->ahead.borrowers_written = 0;
  keep = st->base.depth > 0 && !sqlite3_get_autocommit(st->db) &&
         ahead_allowed(st);
  if (keep && st->ahead.bare > 0) {
    st->ahead.bare--;
    keep = 0;
  }
  st->ahead.with_borrowers =
      keep && st->ahead.cases_only == 0 &&
      no_foreign_triggers(st, &st->ahead.borrower_triggers,
                          S_BORROWER_TRIGGERS);
  if (keep && st->ahead.cases_only > 0) st->ahead.cases_only--;
  /* Cases in key order last time: the timers alone, then their cases as
   * ranges (ahead_ranges). */
  ranged = keep && st->ahead.ranged;
  s = stmt(st, !keep || ranged             ? S_TIMERS_DUE_BARE
               : st->ahead.with_borrowers ? S_TIMERS_DUE
                                          : S_TIMERS_DUE_CASES);
  cols = (ahead_cols){s, s, st->ahead.with_borrowers ? s : NULL, 5, 9, 28,
                      AHEAD_BORROWER};
  sqlite3_bind_int64(s, 1, until);
  sqlite3_bind_int(s, 2, max);
  st->claimed.n = st->claimed.next = 0;
  st->fired.real_due = 0;
  claimed = st->base.depth > 0 && !sqlite3_get_autocommit(st->db) &&
            claimed_room(st, max);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW && count < max) {
    if (!(room = claim_room(t, &cap, count, max, sizeof *t))) break;
    t = room;
    t[count].id = sqlite3_column_int64(s, 0);
    t[count].case_id = dup_col(s, 1);
    t[count].due = sqlite3_column_int64(s, 2);
    t[count].event = dup_col(s, 3);
    t[count].data = dup_col(s, 4);
    /* A due a book edited by hand holds as a real number (300.5) is
     * read as its integer part: a key no row has, which a timer set
     * meanwhile at that due is given, and deleted by a range or key in
     * its place while this one fired again at the next claim. Such a
     * timer keeps its place among the claimed but as taken (scoped 1:
     * never found by key, no range spans it); its firing finds it by
     * what it holds (sq_timer_delete). */
    real = sqlite3_column_type(s, 2) != SQLITE_INTEGER;
    if (real) real_due_told(st, &t[count]);
    if (claimed)
      st->claimed.v[st->claimed.n++] =
          (timer_key){t[count].due, t[count].id, real};
    count++;
    if (keep && !ranged && !ahead_keep(st, &cols)) keep = 0;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) st->claimed.n = 0;
  if (keep && room && (rc == SQLITE_ROW || rc == SQLITE_DONE)) {
    int ordered = claim_ordered(t, count);
    if (ranged && (!ordered || !ahead_ranges(st, t, count, &far))) keep = 0;
    st->ahead.ranged = ordered && count >= 32 && !far;
  }
  st->fired.stop = 0;
  if (st->claimed.n) st->fired.until = st->claimed.v[st->claimed.n - 1].due;
  if (!room || !keep || (rc != SQLITE_ROW && rc != SQLITE_DONE))
    ahead_drop(st);
  if (!room) {
    store_timers_free(t, count);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    store_timers_free(t, count);
    return fail(st, err, "due timers");
  }
  *out = t;
  *n = count;
  return RC_OK;
}

static int timer_fired_keys(sq *st, const store_timer *t,
                            const timer_key *fired, rc_error *err);

/* Timer t found by all it holds (S_TIMER_DELETE or _REAL), deleted. */
static int timer_delete_whole(sq *st, int which, const store_timer *t,
                              int *deleted, rc_error *err) {
  sqlite3_stmt *s = stmt(st, which);
  int rc;
  sqlite3_bind_int64(s, 1, t->id);
  bind_text(s, 2, t->case_id);
  sqlite3_bind_int64(s, 3, t->due);
  bind_text(s, 4, t->event);
  bind_text(s, 5, t->data);
  rc = timers_changed(st, -1, exec_rebound(st, s, err, "delete timer"));
  *deleted = rc == RC_OK && sqlite3_changes(st->db) > 0;
  return rc;
}

static int sq_timer_delete(sq *st, const store_timer *t, int *deleted,
                           rc_error *err) {
  int at = st->base.depth > 0 ? claimed_still(st, t->due, t->id) : -1;
  int by_key = at >= 0;
  timer_key fired = {t->due, t->id, 0};
  sqlite3_stmt *s;
  int rc;
  if (by_key && fired_on(st)) {
    /* The row under the key is the one claimed (st->claimed): there,
     * as S_TIMER_FIRED would find it. */
    if ((rc = fired_hold(st, at, err)) != RC_OK) return rc;
    if (st->timers_known) st->timers--;
    *deleted = 1;
    return timer_fired_keys(st, t, &fired, err);
  }
  if (by_key) {
    s = stmt(st, S_TIMER_FIRED);
    sqlite3_bind_int64(s, 1, t->due);
    sqlite3_bind_int64(s, 2, t->id);
    rc = timers_changed(st, -1, exec_rebound(st, s, err, "delete timer"));
    *deleted = rc == RC_OK && sqlite3_changes(st->db) > 0;
  } else {
    rc = timer_delete_whole(st, S_TIMER_DELETE, t, deleted, err);
    /* Its due a real number (sq_timers_due): a rare miss pays for it. */
    if (rc == RC_OK && !*deleted && st->fired.real_due)
      rc = timer_delete_whole(st, S_TIMER_DELETE_REAL, t, deleted, err);
  }
  if (!*deleted) return rc;
  return timer_fired_keys(st, t, &fired, err);
}

/* Timer t, fired (its key `fired`), leaves its case's keys. */
static int timer_fired_keys(sq *st, const store_timer *t,
                            const timer_key *fired, rc_error *err) {
  int rc;
  if ((rc = timer_keys_switch(st, t->case_id, err)) != RC_OK) return rc;
  /* Unknown keys: the step's read of the case brings them (sq_case_get);
   * a second timer of the case fired before that reads them now. */
  if (!st->keys.known && !st->keys.has_fired && st->base.depth > 0) {
    st->keys.fired = *fired;
    st->keys.has_fired = 1;
    return RC_OK;
  }
  if ((rc = timer_keys_of(st, t->case_id, err)) != RC_OK) return rc;
  timer_keys_drop(st, fired);
  return st->keys.dirty ? timer_keys_changed(st, err) : RC_OK;
}

/* Every transition asks; most cases have nothing to end, which their
 * keys say without a read of the timers. */
static int sq_timers_delete_scoped(sq *st, const char *case_id, rc_error *err) {
  return timer_keys_end(st, case_id, NULL, 1, NULL, err);
}

static int sq_timers_cancel_all(sq *st, const char *case_id, rc_error *err) {
  return timer_keys_end(st, case_id, NULL, 0, NULL, err);
}

static int sq_timers_cancel(sq *st, const char *case_id, const char *event,
                            int *count, rc_error *err) {
  return timer_keys_end(st, case_id, event, 0, count, err);
}

static int sq_timers_each(sq *st, const char *case_id, store_row_fn fn,
                          void *ud, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_TIMERS_CASE);
  int rc = timer_keys_flush(st, err);
  if (rc != RC_OK) return rc;
  bind_text(s, 1, case_id);
  return each_row(st, s, fn, ud, err);
}

static int sq_timers_count(sq *st, int64_t *count, rc_error *err) {
  int64_t version;
  int rc = count_of(st, S_DATA_VERSION, NULL, &version, err);
  if (rc != RC_OK) return rc;
  if (version != st->data_version) {
    st->timers_known = 0;
    st->data_version = version;
  }
  if (!st->timers_known) {
    rc = count_of(st, S_TIMERS_COUNT, NULL, &st->timers, err);
    if (rc != RC_OK) return rc;
    st->timers_known = 1;
  }
  *count = st->timers;
  return RC_OK;
}

/* --- a case's journal as a chain (cases.journal_last, runs' prev) ------- */

/* Forgets what the chain held (a rollback; a new transaction). */
static void journal_chain_forget(sq *st) {
  st->chain.known = st->chain.ahead = 0;
  st->chain.next = 0;
  st->chain.seen_id[0] = '\0';
}

/* The id the next run gets. */
static int journal_next(sq *st, int64_t *next, rc_error *err) {
  int rc;
  if (st->base.depth > 0 && st->chain.next > 0) {
    *next = st->chain.next;
    return RC_OK;
  }
  /* The pending runs' ids are taken, and so are those of the batch's
   * runs waiting (claimw); its messages may wait on: the first step's
   * was written alone here, a statement a batch. */
  if ((rc = pending_flush(st, err)) != RC_OK ||
      (st->claimw.nrun && (rc = claimw_flush(st, err)) != RC_OK) ||
      (rc = count_of(st, S_JOURNAL_NEXT, NULL, next, err)) != RC_OK)
    return rc;
  if (st->base.depth > 0) st->chain.next = *next;
  return RC_OK;
}

/* One number of case_id's row (statement which, ?1 the case), 0 and
 * RC_ENOTFOUND when there is no such case. */
static int case_number(sq *st, int which, const char *case_id, int64_t *v,
                       const char *what, rc_error *err) {
  sqlite3_stmt *s = stmt(st, which);
  int rc;
  bind_text(s, 1, case_id);
  rc = one_row(st, s, sqlite3_step(s), err, what);
  *v = rc == RC_OK ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

/* The newest run of case_id (0: none, or no such case), from the chain
 * held when it is the case's; read and held otherwise, unless the chain
 * held is ahead of its run. */
static int journal_head(sq *st, const char *case_id, int64_t *head,
                        rc_error *err) {
  int rc;
  /* Outside a transaction nothing is held over: another connection may
   * write between two statements. */
  if (st->base.depth > 0 && st->chain.known &&
      !strcmp(st->chain.case_id, case_id)) {
    *head = st->chain.head;
    return RC_OK;
  }
  rc = case_number(st, S_JOURNAL_HEAD, case_id, head, "journal", err);
  if (rc != RC_OK && rc != RC_ENOTFOUND) return rc;
  if (st->base.depth > 0 && !st->chain.ahead &&
      strlen(case_id) < sizeof st->chain.case_id) {
    memcpy(st->chain.case_id, case_id, strlen(case_id) + 1);
    st->chain.head = *head;
    st->chain.known = 1;
  }
  return RC_OK;
}

/* The newest run a case's row just read names: held as the case's unless
 * a chain is held for it already (then the row may be ahead of it) or
 * held ahead for another case. */
static void case_chain_seen(sq *st, const char *id, sqlite3_stmt *s, int col) {
  chain_seen(st, id, sqlite3_column_int64(s, col));
}

static void chain_seen(sq *st, const char *id, int64_t head) {
  if (strlen(id) >= sizeof st->chain.case_id ||
      (st->chain.known && !strcmp(st->chain.case_id, id)))
    return;
  /* Until the run held ahead is written, only its write changes a
   * journal_last (another case's run is refused before it). */
  if (st->chain.ahead) {
    memcpy(st->chain.seen_id, id, strlen(id) + 1);
    st->chain.seen_head = head;
    return;
  }
  memcpy(st->chain.case_id, id, strlen(id) + 1);
  st->chain.head = head;
  st->chain.known = 1;
}

/* The run store.c holds, when it is case id's and the transaction's: the
 * id its run will get, for the case's state UPDATE to carry, then ahead
 * of the run. 0 when not (the run's write then writes the row). */
static int journal_ahead(sq *st, const char *id, int64_t *next, rc_error *err) {
  int64_t head;
  int rc;
  *next = 0;
  if (st->base.depth == 0 || st->base.run.n == 0 ||
      strcmp(st->base.run.case_id, id) != 0 ||
      strlen(id) >= sizeof st->chain.case_id)
    return RC_OK;
  if ((rc = journal_head(st, id, &head, err)) != RC_OK ||
      (rc = journal_next(st, next, err)) != RC_OK)
    return rc;
  /* journal_head holds it unless another case's is ahead, which the run
   * held being this case's rules out. */
  if (!st->chain.known || strcmp(st->chain.case_id, id) != 0) *next = 0;
  return RC_OK;
}

static int sq_journal_run(sq *st, const char *case_id, rc_time at, int n,
                          const char *rows, size_t len, rc_error *err) {
  sqlite3_stmt *s;
  int64_t id = 0, head = 0;
  int ahead = st->chain.ahead, keys = 0, pend = 0, rc;
  jbuf b = {0};
  /* The run a case's row was set ahead for is the next written. */
  if (ahead && strcmp(st->chain.case_id, case_id) != 0) {
    journal_chain_forget(st);
    return rc_error_set(err, RC_EINTERNAL, NULL,
                        "journal: case %s names a run never written",
                        st->chain.case_id);
  }
  /* Outside a transaction the run and its case's row change together
   * all the same. */
  if ((rc = keys_apart_begin(st, err)) != RC_OK) return rc;
  if ((rc = journal_next(st, &id, err)) == RC_OK &&
      (rc = journal_head(st, case_id, &head, err)) == RC_OK) {
    /* A held case's run waits with it, to be written with the next ones
     * (pending_add). */
    pend = !ahead && st->base.depth > 0 && held_first_is(st, case_id);
    if (!pend && claimw_on(st)) {
      rc = claimw_run_add(st, id, case_id, at, n, head, rows, len, err);
    } else if (!pend) {
      s = stmt(st, S_JOURNAL_APPEND);
      bind_run(s, 0, id, case_id, at, n, head, rows, len);
      rc = exec_wrote(st, s, 1, "journal_runs", err, "journal");
    }
  }
  /* The case's row names its new run; the timers its step changed go in
   * the same write, which for a held case is its first. */
  if (rc == RC_OK && pend) {
    keys = st->keys.dirty && !strcmp(st->keys.case_id, case_id);
    if (keys) rc = timer_keys_text(st, &b, err);
    if (rc == RC_OK) {
      rc = pending_add(st, id, at, n, head, rows, len, b.p, err);
      b.p = NULL; /* pending_add's */
    }
    free(b.p);
  } else if (rc == RC_OK && !ahead && held_first_is(st, case_id)) {
    keys = st->keys.dirty && !strcmp(st->keys.case_id, case_id);
    if (keys) rc = timer_keys_text(st, &b, err);
    if (rc == RC_OK) rc = held_write_first(st, id, keys && b.p ? b.p : "", err);
    free(b.p);
  } else if (rc == RC_OK && !ahead) {
    keys = st->keys.dirty && !strcmp(st->keys.case_id, case_id);
    if (keys) rc = timer_keys_text(st, &b, err);
    s = stmt_of(st, S_CASE_JOURNAL, case_id);
    bind_text(s, 1, case_id);
    sqlite3_bind_int64(s, 2, id);
    if (keys) bind_text(s, 3, b.p ? b.p : "");
    if (rc == RC_OK) rc = exec_stmt(st, s, err, "journal");
    sqlite3_clear_bindings(s);
    free(b.p);
  }
  rc = keys_apart_end(st, rc, err);
  if (rc == RC_OK && keys) st->keys.dirty = 0;
  if (rc != RC_OK || st->base.depth == 0 ||
      strlen(case_id) >= sizeof st->chain.case_id) {
    journal_chain_forget(st);
    return rc;
  }
  memcpy(st->chain.case_id, case_id, strlen(case_id) + 1);
  st->chain.head = id;
  st->chain.next = id + n;
  st->chain.known = 1;
  st->chain.ahead = 0;
  /* The run held ahead is written: the case read meanwhile is next. */
  if (ahead && st->chain.seen_id[0] && strcmp(st->chain.seen_id, case_id)) {
    memcpy(st->chain.case_id, st->chain.seen_id, sizeof st->chain.case_id);
    st->chain.head = st->chain.seen_head;
  }
  st->chain.seen_id[0] = '\0';
  return RC_OK;
}

static int sq_journal_each(sq *st, const char *case_id, int limit,
                           store_row_fn fn, void *ud, rc_error *err) {
  sqlite3_stmt *s;
  s = stmt(st, limit > 0 ? S_JOURNAL_TAIL : S_JOURNAL_CASE);
  bind_text(s, 1, case_id);
  if (limit > 0) sqlite3_bind_int(s, 2, limit);
  return each_row(st, s, fn, ud, err);
}

static int sq_journal_count(sq *st, const char *kind, int64_t *count,
                            rc_error *err) {
  return count_of(st, S_JOURNAL_COUNT, kind, count, err);
}

/* --- a case's messages as a chain (cases.message_last, messages' prev) -- */

/* Forgets the newest message held (a rollback; a new transaction). */
static void message_last_forget(sq *st) {
  st->msg.known = st->msg.dirty = 0;
}

static int message_last_put(sq *st, const char *case_id, int64_t last,
                            rc_error *err) {
  sqlite3_stmt *s = stmt_of(st, S_MESSAGE_LAST_PUT, case_id);
  bind_text(s, 1, case_id);
  sqlite3_bind_int64(s, 2, last);
  return exec_stmt(st, s, err, "queue message");
}

/* Writes the newest message held into its case's row if the row does not
 * name it yet; it stays known. */
static int message_last_flush(sq *st, rc_error *err) {
  int rc;
  if (!st->msg.dirty) return RC_OK;
  rc = message_last_put(st, st->msg.case_id, st->msg.last, err);
  if (rc == RC_OK) st->msg.dirty = 0;
  return rc;
}

/* The newest message a case's row just read names: held as the case's
 * unless one still to be written is held (for this case it is newer). */
static void message_last_seen(sq *st, const char *id, int64_t last) {
  if (st->msg.dirty || strlen(id) >= sizeof st->msg.case_id) return;
  memcpy(st->msg.case_id, id, strlen(id) + 1);
  st->msg.last = last;
  st->msg.known = 1;
}

/* The newest message of case_id (0: none), held or read. */
static int message_last_of(sq *st, const char *case_id, int64_t *last,
                           rc_error *err) {
  int rc;
  if (st->base.depth > 0 && st->msg.known &&
      !strcmp(st->msg.case_id, case_id)) {
    *last = st->msg.last;
    return RC_OK;
  }
  if ((rc = message_last_flush(st, err)) != RC_OK) return rc;
  rc = case_number(st, S_MESSAGE_LAST, case_id, last, "queue message", err);
  return rc == RC_ENOTFOUND ? RC_OK : rc;
}

/* Each message names its case's message before it (prev) and the case's
 * row its newest (message_last), where an index of the messages by
 * borrower took an entry at a random place a message. In a transaction
 * the row is named by the case's state UPDATE that follows in a step
 * (sq_case_set_state), or before anything reads the chain. */
static int sq_message_insert(sq *st, const store_message *m, int64_t *id,
                             rc_error *err) {
  sqlite3_stmt *s;
  int64_t prev = 0, made = 0;
  int rc;
  if ((rc = keys_apart_begin(st, err)) != RC_OK) return rc;
  if ((rc = message_last_of(st, m->case_id, &prev, err)) != RC_OK)
    return keys_apart_end(st, rc, err);
  if (claimw_on(st)) {
    rc = claimw_msg_add(st, m, prev, &made, err);
  } else {
    s = stmt(st, S_MESSAGE_INSERT);
    bind_text(s, 1, m->case_id);
    bind_text(s, 2, m->borrower_id);
    bind_text(s, 3, m->channel);
    bind_text(s, 4, m->template_name);
    bind_text(s, 5, m->recipient);
    bind_text(s, 6, m->to_kind);
    bind_text(s, 7, m->body);
    bind_text(s, 8, m->status);
    bind_text(s, 9, m->reason);
    sqlite3_bind_int64(s, 10, m->at);
    if (m->not_before)
      sqlite3_bind_int64(s, 11, m->not_before);
    else
      sqlite3_bind_null(s, 11);
    sqlite3_bind_int64(s, 12, prev);
    bind_text(s, 13, m->state);
    sqlite3_bind_int64(s, 14, m->step);
    rc = exec_rebound(st, s, err, "queue message");
    if (rc == RC_OK) made = sqlite3_last_insert_rowid(st->db);
  }
  if (rc == RC_OK && st->base.depth > 0 &&
      strlen(m->case_id) < sizeof st->msg.case_id) {
    memcpy(st->msg.case_id, m->case_id, strlen(m->case_id) + 1);
    st->msg.last = made;
    st->msg.known = st->msg.dirty = 1;
  } else if (rc == RC_OK) {
    rc = message_last_put(st, m->case_id, made, err);
  }
  rc = keys_apart_end(st, rc, err);
  if (rc != RC_OK) message_last_forget(st);
  if (id) *id = made;
  if (rc == RC_OK) rc = messages_move(st, NULL, m->status, 1, err);
  return rc;
}

static int sq_messages_each(sq *st, const char *case_id, store_row_fn fn,
                            void *ud, rc_error *err) {
  sqlite3_stmt *s;
  int rc = message_last_flush(st, err);
  if (rc != RC_OK) return rc;
  s = stmt(st, case_id ? S_MESSAGES_CASE : S_MESSAGES_ALL);
  if (case_id) bind_text(s, 1, case_id);
  return each_row(st, s, fn, ud, err);
}

/* A gateway's receipt (delivered or failed) or the send's outcome
 * settles a message once: a status never goes back from them. */
static int settled(const char *status) {
  return strcmp(status, "delivered") == 0 || strcmp(status, "failed") == 0;
}

static int sq_message_set_status(sq *st, int64_t id, const char *status,
                                 int *done, rc_error *err) {
  sqlite3_stmt *s;
  char was[16];
  int rc = message_status(st, id, was, sizeof was, err);
  if (rc != RC_OK || (*done = !settled(was)) == 0) return rc;
  s = stmt(st, S_MESSAGE_STATUS);
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, status);
  if ((rc = exec_stmt(st, s, err, "message status")) != RC_OK || !was[0])
    return rc;
  return messages_move(st, was, status, 1, err);
}

static int sq_message_case(sq *st, int64_t id, char *case_id, size_t size,
                           char status[16], rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_MESSAGE_CASE);
  int rc;
  sqlite3_bind_int64(s, 1, id);
  rc = one_row(st, s, sqlite3_step(s), err, "message");
  if (rc == RC_OK) {
    snprintf(case_id, size, "%s", (const char *)sqlite3_column_text(s, 0));
    rc_copy(status, 16, (const char *)sqlite3_column_text(s, 1));
  }
  sqlite3_reset(s);
  if (rc != RC_ENOTFOUND) return rc;
  return rc_error_set(err, RC_ENOTFOUND, "message", "unknown message %lld",
                      (long long)id);
}

static int sq_message_read(sq *st, int64_t id, store_row_fn fn, void *ud,
                           rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_MESSAGE_READ);
  sqlite3_bind_int64(s, 1, id);
  return each_row(st, s, fn, ud, err);
}

static int sq_task_insert(sq *st, const store_task *t, int64_t *id,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_TASK_INSERT);
  int rc;
  bind_text(s, 1, t->case_id);
  bind_text(s, 2, t->kind);
  bind_text(s, 3, t->queue);
  if (t->due)
    sqlite3_bind_int64(s, 4, t->due);
  else
    sqlite3_bind_null(s, 4);
  bind_text(s, 5, t->assignee);
  bind_text(s, 6, t->fields);
  bind_text(s, 7, t->state);
  sqlite3_bind_int(s, 8, t->keep);
  sqlite3_bind_int64(s, 9, t->at);
  bind_text(s, 10, t->channel);
  /* A whole priority is stored as an integer (NUMERIC): shown as 10, not
   * 10.0. */
  if (t->priority == (double)(int64_t)t->priority)
    sqlite3_bind_int64(s, 11, (int64_t)t->priority);
  else
    sqlite3_bind_double(s, 11, t->priority);
  rc = exec_stmt(st, s, err, "create task");
  if (id) *id = rc == RC_OK ? sqlite3_last_insert_rowid(st->db) : 0;
  if (rc == RC_OK)
    rc = task_count(st, t->queue, t->due, t->due != 0, "open", NULL, 1, err);
  if (rc != RC_OK || t->keep) return rc;
  /* The case's row says it has one, unless the transaction knows it does
   * already (a dirty clear has not been written: the row still says 1). */
  if (st->base.depth > 0 && st->tasks.known && st->tasks.open &&
      !strcmp(st->tasks.case_id, t->case_id))
    return RC_OK;
  s = stmt_of(st, S_TASKS_OPEN, t->case_id);
  bind_text(s, 1, t->case_id);
  rc = exec_stmt(st, s, err, "create task");
  if (rc == RC_OK) tasks_seen(st, t->case_id, 1, 0);
  return rc;
}

static int sq_tasks_each(sq *st, const char *case_id, store_row_fn fn, void *ud,
                         rc_error *err) {
  sqlite3_stmt *s = stmt(st, case_id ? S_TASKS_CASE : S_TASKS_ALL);
  if (case_id) bind_text(s, 1, case_id);
  return each_row(st, s, fn, ud, err);
}

static int sq_task_get(sq *st, int64_t id, store_task_info *out,
                       rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_TASK_GET);
  int rc;
  memset(out, 0, sizeof *out);
  sqlite3_bind_int64(s, 1, id);
  if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    rc_copy(out->case_id, sizeof out->case_id,
            (const char *)sqlite3_column_text(s, 0));
    rc_copy(out->kind, sizeof out->kind,
            (const char *)sqlite3_column_text(s, 1));
    rc_copy(out->status, sizeof out->status,
            (const char *)sqlite3_column_text(s, 2));
    out->result = dup_col(s, 4);
    if (sqlite3_column_type(s, 5) != SQLITE_NULL)
      rc_copy(out->queue, sizeof out->queue,
              (const char *)sqlite3_column_text(s, 5));
    if (sqlite3_column_type(s, 6) != SQLITE_NULL)
      rc_copy(out->assignee, sizeof out->assignee,
              (const char *)sqlite3_column_text(s, 6));
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc == SQLITE_ROW) return RC_OK;
  if (rc == SQLITE_DONE)
    return rc_error_set(err, RC_ENOTFOUND, "task", "unknown task %lld",
                        (long long)id);
  return fail(st, err, "read task");
}

static int sq_task_complete(sq *st, int64_t id, const char *outcome,
                            const char *result, rc_time at, rc_error *err) {
  sqlite3_stmt *s;
  task_was was;
  int rc = task_was_get(st, id, &was, err);
  if (rc != RC_OK && rc != RC_ENOTFOUND) return rc;
  s = stmt(st, S_TASK_COMPLETE);
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, outcome);
  bind_text(s, 3, result);
  sqlite3_bind_int64(s, 4, at);
  if ((rc = exec_stmt(st, s, err, "complete task")) == RC_OK) {
    if (sqlite3_changes(st->db) == 0)
      rc = rc_error_set(err, RC_ECONFLICT, "task",
                        "task %lld is already closed", (long long)id);
    else
      rc = task_was_moved(st, &was, NULL, NULL, err);
  }
  task_was_free(&was);
  return rc;
}

/* --- whether a case has tasks its state's change cancels (tasks_open) - */

/* Forgets what was held (a rollback; a new transaction). */
static void tasks_forget(sq *st) {
  st->tasks.known = st->tasks.dirty = 0;
  st->tasks.case_id[0] = '\0';
}

/* Holds what the transaction read or made of case id's tasks_open:
 * another case's clear not yet written is given up (its row keeps
 * saying 1, and its next cancel looks again). Outside a transaction
 * nothing is held: another connection may write between two statements. */
static void tasks_seen(sq *st, const char *id, int open, int dirty) {
  size_t len = strlen(id);
  if (st->base.depth == 0 || len >= sizeof st->tasks.case_id) return;
  memcpy(st->tasks.case_id, id, len + 1);
  st->tasks.known = 1;
  st->tasks.open = open != 0;
  st->tasks.dirty = dirty;
}

/* The counts of the tasks a cancel is about to take out, taken out
 * first: in the cancel's transaction, which fails whole if it does. Read
 * whole before any count is written; a case holds a few. */
static int tasks_cancel_counted(sq *st, const char *case_id, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_TASKS_CANCELLING);
  task_was *was = NULL;
  int n = 0, cap = 0, rc = RC_OK, step;
  bind_text(s, 1, case_id);
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    if (n == cap) {
      task_was *more = realloc(was, sizeof *was * (size_t)(cap = cap * 2 + 4));
      if (!more) {
        rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
        break;
      }
      was = more;
    }
    if ((rc = task_was_read(&was[n], s, 0, 1, 2, 3, err)) != RC_OK) break;
    n++;
  }
  if (rc == RC_OK && step != SQLITE_DONE) rc = fail(st, err, "cancel tasks");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  for (int i = 0; i < n; i++) {
    if (rc == RC_OK) rc = task_was_moved(st, &was[i], NULL, NULL, err);
    task_was_free(&was[i]);
  }
  free(was);
  return rc;
}

/* Every transition asks; most cases have no task, which their row, read
 * by the step, says. */
static int sq_tasks_cancel_scoped(sq *st, const char *case_id, rc_error *err) {
  sqlite3_stmt *s;
  int rc;
  if (st->base.depth > 0 && st->tasks.known && !st->tasks.open &&
      !strcmp(st->tasks.case_id, case_id))
    return RC_OK;
  if ((rc = tasks_cancel_counted(st, case_id, err)) != RC_OK) return rc;
  s = stmt(st, S_TASKS_CANCEL);
  bind_text(s, 1, case_id);
  rc = exec_stmt(st, s, err, "cancel tasks");
  if (rc == RC_OK) tasks_seen(st, case_id, 0, 1);
  return rc;
}

static int sq_payment_insert(sq *st, const char *case_id, rc_money amount,
                             const char *currency, const char *ref,
                             rc_time at, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PAYMENT_INSERT);
  int rc;
  bind_text(s, 1, case_id);
  sqlite3_bind_int64(s, 2, amount);
  bind_text(s, 3, ref);
  sqlite3_bind_int64(s, 4, at);
  bind_text(s, 5, currency);
  if ((rc = exec_stmt(st, s, err, "record payment")) != RC_OK) return rc;
  if (sqlite3_changes(st->db) == 0)
    return rc_error_set(err, RC_ECONFLICT, "ref",
                        "payment ref '%s' was already received", ref);
  return RC_OK;
}

static int sq_payment_by_ref(sq *st, const char *ref, char *case_id,
                             size_t size, rc_money *amount, char *currency,
                             rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PAYMENT_BY_REF);
  int rc;
  bind_text(s, 1, ref);
  if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const unsigned char *cur = sqlite3_column_text(s, 2);
    rc_copy(case_id, size, (const char *)sqlite3_column_text(s, 0));
    *amount = sqlite3_column_int64(s, 1);
    if (currency) rc_copy(currency, 4, cur ? (const char *)cur : "");
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc == SQLITE_ROW) return RC_OK;
  if (rc == SQLITE_DONE) return RC_ENOTFOUND;
  return fail(st, err, "read payment");
}

static int sq_payments_total(sq *st, rc_money *total, rc_error *err) {
  return count_of(st, S_PAYMENTS_TOTAL, NULL, total, err);
}

static int sq_overpaid_total(sq *st, rc_money *total, rc_error *err) {
  return count_of(st, S_OVERPAID_TOTAL, NULL, total, err);
}

static int sq_reduced_total(sq *st, rc_money *total, rc_error *err) {
  return count_of(st, S_REDUCED_TOTAL, NULL, total, err);
}

static int sq_variant_get(sq *st, const char *case_id, const char *experiment,
                          char *arm, size_t size, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_VARIANT_GET);
  int rc;
  bind_text(s, 1, case_id);
  bind_text(s, 2, experiment);
  rc = one_row(st, s, sqlite3_step(s), err, "variant");
  if (rc == RC_OK)
    snprintf(arm, size, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

static int sq_variant_put(sq *st, const char *case_id, const char *experiment,
                          const char *arm, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_VARIANT_PUT);
  bind_text(s, 1, case_id);
  bind_text(s, 2, experiment);
  bind_text(s, 3, arm);
  return exec_stmt(st, s, err, "record variant");
}

static int sq_promise_insert(sq *st, const char *case_id, rc_money amount,
                             const char *currency, const char *by_date,
                             rc_time at, int64_t *id, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PROMISE_SUPERSEDE);
  int rc;
  bind_text(s, 1, case_id);
  if ((rc = exec_stmt(st, s, err, "supersede promise")) != RC_OK) return rc;
  s = stmt(st, S_PROMISE_INSERT);
  bind_text(s, 1, case_id);
  sqlite3_bind_int64(s, 2, amount);
  bind_text(s, 3, by_date);
  sqlite3_bind_int64(s, 4, at);
  bind_text(s, 5, currency);
  rc = exec_stmt(st, s, err, "record promise");
  if (id) *id = rc == RC_OK ? sqlite3_last_insert_rowid(st->db) : 0;
  return rc;
}

static int read_promise(sq *st, sqlite3_stmt *s, store_promise *out,
                        rc_error *err) {
  int rc = one_row(st, s, sqlite3_step(s), err, "promise");
  memset(out, 0, sizeof *out);
  if (rc == RC_OK) {
    out->id = sqlite3_column_int64(s, 0);
    out->amount = sqlite3_column_int64(s, 1);
    out->paid = sqlite3_column_int64(s, 2);
    snprintf(out->by_date, sizeof out->by_date, "%s",
             (const char *)sqlite3_column_text(s, 3));
    snprintf(out->status, sizeof out->status, "%s",
             (const char *)sqlite3_column_text(s, 4));
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

static int sq_promise_open(sq *st, const char *case_id, store_promise *out,
                           rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PROMISE_OPEN);
  bind_text(s, 1, case_id);
  return read_promise(st, s, out, err);
}

static int sq_promise_get(sq *st, int64_t id, store_promise *out,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PROMISE_GET);
  sqlite3_bind_int64(s, 1, id);
  return read_promise(st, s, out, err);
}

static int sq_promise_update(sq *st, int64_t id, rc_money paid,
                             const char *status, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PROMISE_UPDATE);
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_int64(s, 2, paid);
  bind_text(s, 3, status);
  return exec_stmt(st, s, err, "update promise");
}

static int sq_plan_insert(sq *st, const char *case_id, rc_money total,
                          int64_t grace_ms, rc_time at, int64_t *id,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PLAN_SUPERSEDE);
  int rc;
  bind_text(s, 1, case_id);
  if ((rc = exec_stmt(st, s, err, "supersede plan")) != RC_OK) return rc;
  s = stmt(st, S_PLAN_CANCEL_INSTALLMENTS);
  bind_text(s, 1, case_id);
  if ((rc = exec_stmt(st, s, err, "cancel installments")) != RC_OK) return rc;
  s = stmt(st, S_PLAN_INSERT);
  bind_text(s, 1, case_id);
  sqlite3_bind_int64(s, 2, total);
  sqlite3_bind_int64(s, 3, grace_ms);
  sqlite3_bind_int64(s, 4, at);
  rc = exec_stmt(st, s, err, "record plan");
  if (id) *id = rc == RC_OK ? sqlite3_last_insert_rowid(st->db) : 0;
  return rc;
}

static int sq_installment_insert(sq *st, int64_t plan_id, int seq,
                                 const char *due_date, rc_money amount,
                                 int64_t *id, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_INSTALLMENT_INSERT);
  int rc;
  sqlite3_bind_int64(s, 1, plan_id);
  sqlite3_bind_int(s, 2, seq);
  bind_text(s, 3, due_date);
  sqlite3_bind_int64(s, 4, amount);
  rc = exec_stmt(st, s, err, "record installment");
  if (id) *id = rc == RC_OK ? sqlite3_last_insert_rowid(st->db) : 0;
  return rc;
}

static void read_installment(sqlite3_stmt *s, store_installment *i) {
  i->id = sqlite3_column_int64(s, 0);
  i->plan_id = sqlite3_column_int64(s, 1);
  i->seq = sqlite3_column_int(s, 2);
  snprintf(i->due_date, sizeof i->due_date, "%s",
           (const char *)sqlite3_column_text(s, 3));
  i->amount = sqlite3_column_int64(s, 4);
  i->paid = sqlite3_column_int64(s, 5);
  snprintf(i->status, sizeof i->status, "%s",
           (const char *)sqlite3_column_text(s, 6));
}

static int sq_installments_unpaid(sq *st, const char *case_id,
                                  store_installment **out, int *n,
                                  rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_INSTALLMENTS_UNPAID);
  store_installment *list = NULL;
  int count = 0, cap = 0, rc;
  *out = NULL;
  *n = 0;
  bind_text(s, 1, case_id);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (count == cap) {
      store_installment *grown;
      cap = cap ? cap * 2 : 8;
      grown = realloc(list, (size_t)cap * sizeof *list);
      if (!grown) {
        rc = SQLITE_NOMEM;
        break;
      }
      list = grown;
    }
    read_installment(s, &list[count++]);
  }
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_NOMEM)
      rc_error_set(err, RC_ENOMEM, NULL, "installments: out of memory");
    else
      fail(st, err, "unpaid installments");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    free(list);
    return rc == SQLITE_NOMEM ? RC_ENOMEM : RC_ESTORE;
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  *out = list;
  *n = count;
  return RC_OK;
}

static int sq_installment_get(sq *st, int64_t id, store_installment *out,
                              char *plan_status, size_t size, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_INSTALLMENT_GET);
  int rc;
  sqlite3_bind_int64(s, 1, id);
  rc = one_row(st, s, sqlite3_step(s), err, "installment");
  if (rc == RC_OK) {
    read_installment(s, out);
    snprintf(plan_status, size, "%s", (const char *)sqlite3_column_text(s, 7));
  }
  sqlite3_reset(s);
  return rc;
}

static int sq_installment_update(sq *st, int64_t id, rc_money paid,
                                 const char *status, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_INSTALLMENT_UPDATE);
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_int64(s, 2, paid);
  bind_text(s, 3, status);
  return exec_stmt(st, s, err, "update installment");
}

static int sq_plan_status(sq *st, int64_t plan_id, const char *status,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PLAN_STATUS);
  sqlite3_bind_int64(s, 1, plan_id);
  bind_text(s, 2, status);
  return exec_stmt(st, s, err, "plan status");
}

static int sq_plan_each(sq *st, const char *case_id, store_row_fn fn, void *ud,
                        rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PLAN_EACH);
  bind_text(s, 1, case_id);
  return each_row(st, s, fn, ud, err);
}

static int sq_task_claim(sq *st, int64_t id, const char *assignee,
                         char *case_id, size_t size, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_TASK_GET);
  task_was was = {0};
  int rc, open_ = 0;
  sqlite3_bind_int64(s, 1, id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    snprintf(case_id, size, "%s", (const char *)sqlite3_column_text(s, 0));
    open_ = strcmp((const char *)sqlite3_column_text(s, 2), "open") == 0;
    if (open_ && task_was_read(&was, s, 5, 7, 2, 6, err) != RC_OK)
      rc = SQLITE_NOMEM;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE && rc != SQLITE_NOMEM)
    fail(st, err, "read task");
  sqlite3_reset(s);
  if (rc == SQLITE_NOMEM) return RC_ENOMEM;
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return RC_ESTORE;
  if (rc != SQLITE_ROW)
    return rc_error_set(err, RC_ENOTFOUND, "task", "unknown task %lld",
                        (long long)id);
  if (!open_)
    return rc_error_set(err, RC_ECONFLICT, "task", "task %lld is not open",
                        (long long)id);
  s = stmt(st, S_TASK_CLAIM);
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, assignee);
  rc = exec_stmt(st, s, err, "claim task");
  if (rc == RC_OK && sqlite3_changes(st->db) > 0)
    rc = task_was_moved(st, &was, "claimed", assignee, err);
  task_was_free(&was);
  return rc;
}

static int sq_report_states(sq *st, store_row_fn fn, void *ud, rc_error *err) {
  return each_row(st, stmt(st, S_REPORT_STATES), fn, ud, err);
}

static int sq_report_dpd(sq *st, const char *today, store_row_fn fn, void *ud,
                         rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_REPORT_DPD);
  bind_text(s, 1, today);
  return each_row(st, s, fn, ud, err);
}

static int sq_report_promises(sq *st, store_row_fn fn, void *ud,
                              rc_error *err) {
  return each_row(st, stmt(st, S_REPORT_PROMISES), fn, ud, err);
}

static int sq_report_installments(sq *st, store_row_fn fn, void *ud,
                                  rc_error *err) {
  return each_row(st, stmt(st, S_REPORT_INSTALLMENTS), fn, ud, err);
}

static int sq_report_contacts(sq *st, store_row_fn fn, void *ud,
                              rc_error *err) {
  return each_row(st, stmt(st, S_REPORT_CONTACTS), fn, ud, err);
}

static int sq_report_refusals(sq *st, store_row_fn fn, void *ud,
                              rc_error *err) {
  return each_row(st, stmt(st, S_REPORT_REFUSALS), fn, ud, err);
}

static int sq_report_variants(sq *st, store_row_fn fn, void *ud,
                              rc_error *err) {
  return each_row(st, stmt(st, S_REPORT_VARIANTS), fn, ud, err);
}

/* Inserts t into the newest-first list times[*n] of at most max. */
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

static int sq_contact_times(sq *st, const char *case_id,
                            const char *borrower_id, const char *channel,
                            rc_time since, int64_t exclude_message, int max,
                            rc_time *times, int *n, rc_error *err) {
  if (max <= 0) return RC_OK;
  if (message_last_flush(st, err) != RC_OK) return RC_ESTORE;
  for (int pass = 0; pass < 2; pass++) {
    int rc;
    sqlite3_stmt *s = stmt(
        st, case_id
                ? (pass ? S_CONTACTS_TASK_CASE : S_CONTACTS_MSG_CASE)
                : (pass ? S_CONTACTS_TASK_BORROWER : S_CONTACTS_MSG_BORROWER));
    bind_text(s, 1, case_id ? case_id : borrower_id);
    bind_text(s, 2, channel);
    sqlite3_bind_int64(s, 3, since);
    if (!pass)
      sqlite3_bind_int64(s, 5, exclude_message ? exclude_message : INT64_MAX);
    sqlite3_bind_int(s, 6, max);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
      keep_newest(times, n, max, sqlite3_column_int64(s, 0));
    if (rc != SQLITE_DONE) fail(st, err, "count contacts");
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return RC_ESTORE;
  }
  return RC_OK;
}

static int sq_last_conversation(sq *st, const char *borrower_id, rc_time *at,
                                rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_LAST_CONVERSATION);
  int rc;
  bind_text(s, 1, borrower_id);
  rc = one_row(st, s, sqlite3_step(s), err, "last conversation");
  if (rc == RC_OK && sqlite3_column_type(s, 0) == SQLITE_NULL)
    rc = RC_ENOTFOUND;
  if (rc == RC_OK) *at = sqlite3_column_int64(s, 0);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

static int sq_borrower_set_flag(sq *st, const char *borrower_id,
                                store_flag flag, int value, rc_error *err) {
  sqlite3_stmt *s = stmt(
      st, flag == STORE_FLAG_CEASED ? S_BORROWER_CEASED : S_BORROWER_DNC);
  bind_text(s, 1, borrower_id);
  sqlite3_bind_int(s, 2, value);
  return exec_stmt(st, s, err, "borrower flag");
}

static int sq_message_recheck(sq *st, int64_t id, const char *status,
                              const char *reason, rc_time not_before,
                              int *changed, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_MESSAGE_RECHECK);
  int rc;
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, status);
  bind_text(s, 3, reason);
  if (not_before)
    sqlite3_bind_int64(s, 4, not_before);
  else
    sqlite3_bind_null(s, 4);
  rc = exec_stmt(st, s, err, "defer message");
  *changed = rc == RC_OK && sqlite3_changes(st->db) > 0;
  if (*changed) rc = messages_move(st, "deferred", status, 1, err);
  return rc;
}

static int sq_messages_cancel_deferred(sq *st, const char *case_id,
                                       const char *reason, int64_t spare,
                                       rc_error *err) {
  sqlite3_stmt *s;
  int rc = message_last_flush(st, err);
  if (rc != RC_OK) return rc;
  s = stmt_of(st, S_MESSAGES_CANCEL_DEFERRED, case_id); /* reads its row */
  bind_text(s, 1, case_id);
  bind_text(s, 2, reason);
  sqlite3_bind_int64(s, 3, spare);
  if ((rc = exec_stmt(st, s, err, "cancel deferred messages")) != RC_OK)
    return rc;
  return messages_move(st, "deferred", "cancelled", sqlite3_changes(st->db),
                       err);
}

static int sq_message_release(sq *st, int64_t id, int *released,
                              rc_error *err) {
  int rc = by_id(st, S_MESSAGE_RELEASE, id, err, "release message");
  *released = rc == RC_OK && sqlite3_changes(st->db) > 0;
  if (*released) rc = messages_move(st, "deferred", "queued", 1, err);
  return rc;
}

/* --- the outbox's fresh messages (step 22) ------------------------------ */

static void outbox_fresh_forget(sq *st) {
  st->fresh.known = st->fresh.dirty = 0;
  st->fresh.ahead = 0;
}

/* The fresh cursor: no message before it is queued fresh. A book without
 * one is walked from its first message. */
static int outbox_fresh_from(sq *st, int64_t *from, rc_error *err) {
  if (!st->fresh.known) {
    sqlite3_stmt *s = stmt(st, S_META_GET);
    int rc;
    bind_text(s, 1, "outbox.fresh");
    rc = sqlite3_step(s);
    st->fresh.from = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(st, err, "outbox");
    st->fresh.known = 1;
  }
  *from = st->fresh.from;
  return RC_OK;
}

/* Writes the cursor the outbox moved on, in the transaction that records
 * a delivery: a rollback takes both back. */
static int outbox_fresh_flush(sq *st, rc_error *err) {
  char text[24];
  int rc;
  if (!st->fresh.dirty) return RC_OK;
  snprintf(text, sizeof text, "%lld", (long long)st->fresh.from);
  if ((rc = sq_meta_put(st, "outbox.fresh", text, err)) == RC_OK)
    st->fresh.dirty = 0;
  return rc;
}

/* Appends s's rows to list, at most max in all; SQLite's last answer. */
static int outgoing_rows(sqlite3_stmt *s, store_outgoing *list, int *count,
                         int max) {
  int rc = SQLITE_DONE;
  while (*count < max && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    store_outgoing *m = &list[(*count)++];
    m->id = sqlite3_column_int64(s, 0);
    m->case_id = dup_col(s, 1);
    m->borrower_id = dup_col(s, 2);
    m->channel = dup_col(s, 3);
    m->template_name = dup_col(s, 4);
    m->recipient = dup_col(s, 5);
    m->body = dup_col(s, 6);
    m->attempts = sqlite3_column_int(s, 7);
    m->at = sqlite3_column_int64(s, 8);
    m->state = dup_col(s, 9);
    m->step = sqlite3_column_int64(s, 10);
    m->case_state = dup_col(s, 11);
    m->closed = sqlite3_column_int(s, 12);
    m->mover = sqlite3_column_int64(s, 13);
    m->on_hold = sqlite3_column_int(s, 14);
    snprintf(m->timezone, sizeof m->timezone, "%s",
             sqlite3_column_type(s, 15) == SQLITE_TEXT
                 ? (const char *)sqlite3_column_text(s, 15)
                 : "");
    m->ceased = sqlite3_column_int(s, 16);
    m->do_not_contact = sqlite3_column_int(s, 17);
  }
  if (*count >= max) rc = SQLITE_DONE; /* not stepped: the rest waits */
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

/* Merges list[0, a) and list[a, b), each in id order, into id order and
 * keeps the first max; the count kept, or -1 out of memory. */
static int outgoing_merge(store_outgoing *list, int a, int b, int max) {
  store_outgoing *all = malloc((size_t)b * sizeof *all);
  int i = 0, j = a, k = 0;
  if (!all) return -1;
  while (i < a || j < b)
    all[k++] = j == b || (i < a && list[i].id < list[j].id) ? list[i++]
                                                            : list[j++];
  if (b <= max) {
    memcpy(list, all, (size_t)b * sizeof *all);
    free(all);
    return b;
  }
  memcpy(list, all, (size_t)max * sizeof *all);
  memmove(all, all + max, (size_t)(b - max) * sizeof *all);
  store_outgoing_free(all, b - max);
  return max;
}

/* The fresh messages and the released ones first, by id (a release's next
 * attempt, 1, stands for 0: a message deferred overnight goes before that
 * morning's, in the order it had before step 22 and has on PostgreSQL),
 * the fresh from the cursor, then those waiting again down the index. The
 * cursor moves to the first fresh one found, or else past the last
 * message there was before the walk: what it passes has been sent or
 * settled and never is queued fresh again (a release or a retry sets a
 * next attempt), and a message written later takes a larger id (none is
 * deleted; a transaction rolled back forgets the cursor,
 * outbox_fresh_forget). */
static int sq_outbox_due(sq *st, rc_time now, int max, store_outgoing **out,
                         int *n, rc_error *err) {
  sqlite3_stmt *s;
  /* Room for max fresh ones and max released ones before the merge. */
  store_outgoing *list =
      calloc((size_t)(max > 0 ? 2 * (size_t)max : 1), sizeof *list);
  int64_t from = 0, end = 0, walk;
  int count = 0, rc;
  *out = NULL;
  *n = 0;
  if (!list) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  if ((rc = outbox_fresh_from(st, &from, err)) != RC_OK) {
    free(list);
    return rc;
  }
  /* The end before the walk: a message another process commits between
   * the two takes an id after it, and is walked next time. */
  s = stmt(st, S_MESSAGES_END);
  if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    end = sqlite3_column_int64(s, 0);
    rc = SQLITE_DONE;
  }
  sqlite3_reset(s);
  /* Far ahead of the cursor: those the last walk held, asked one by one
   * (a search each), cost less than the walk between (a row each). All
   * of them are asked, and the walk gets room for one at least. */
  walk = from;
  if (st->fresh.ahead > from && st->fresh.nheld < max &&
      st->fresh.ahead - from > 8 * (int64_t)st->fresh.nheld + 256) {
    s = stmt(st, S_OUTBOX_FRESH_ONE);
    for (int i = 0; i < st->fresh.nheld && rc == SQLITE_DONE; i++) {
      sqlite3_bind_int64(s, 1, st->fresh.held[i]);
      rc = outgoing_rows(s, list, &count, count + 1);
    }
    walk = st->fresh.ahead;
  }
  if (rc == SQLITE_DONE) {
    s = stmt(st, S_OUTBOX_FRESH);
    sqlite3_bind_int64(s, 1, walk);
    sqlite3_bind_int(s, 2, max - count);
    rc = outgoing_rows(s, list, &count, max);
  }
  if (rc == SQLITE_DONE && max > 0) {
    /* What the walk saw: up to its last row if it stopped at max, else
     * up to the end; the fresh ones there are those it gives (a message
     * committed since the end was read is after it). */
    int64_t ahead = count == max ? list[count - 1].id + 1 : end, next;
    int held = 0;
    while (held < count && list[held].id < ahead) held++;
    st->fresh.nheld = 0;
    st->fresh.ahead = 0;
    if (held <= (int)(sizeof st->fresh.held / sizeof st->fresh.held[0])) {
      for (int i = 0; i < held; i++) st->fresh.held[i] = list[i].id;
      st->fresh.nheld = held;
      st->fresh.ahead = ahead;
    }
    next = held > 0 ? list[0].id : ahead;
    if (next > st->fresh.from) {
      st->fresh.from = next;
      st->fresh.dirty = 1;
    }
  }
  if (rc == SQLITE_DONE && max > 0) {
    /* After the cursor's bookkeeping, which reads the fresh ones alone:
     * one the merge leaves out is still held, or after the cursor. */
    int fresh = count;
    s = stmt(st, S_OUTBOX_DUE);
    sqlite3_bind_int64(s, 1, 1);
    sqlite3_bind_int(s, 2, max);
    sqlite3_bind_int64(s, 3, 1);
    rc = outgoing_rows(s, list, &count, fresh + max);
    if (rc == SQLITE_DONE && count > fresh && fresh > 0 &&
        (count = outgoing_merge(list, fresh, count, max)) < 0) {
      store_outgoing_free(list, fresh + max);
      return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    }
  }
  /* Fewer than max: every released one is in (max of them were asked). */
  if (rc == SQLITE_DONE && count < max) {
    s = stmt(st, S_OUTBOX_DUE);
    sqlite3_bind_int64(s, 1, now);
    sqlite3_bind_int(s, 2, max - count);
    sqlite3_bind_int64(s, 3, 2);
    rc = outgoing_rows(s, list, &count, max);
  }
  if (rc != SQLITE_DONE) {
    store_outgoing_free(list, count);
    return fail(st, err, "outbox");
  }
  *out = list;
  *n = count;
  return RC_OK;
}

/* A send call that returns after the gateway's receipt records its
 * attempt but leaves the receipt's status (and no reason over it). */
static int sq_message_attempt(sq *st, int64_t id, const char *status,
                              int attempts, rc_time next_attempt,
                              const char *reason, rc_time at, int *done,
                              rc_error *err) {
  sqlite3_stmt *s;
  char was[16];
  int rc = message_status(st, id, was, sizeof was, err);
  if (rc == RC_OK) rc = outbox_fresh_flush(st, err);
  if (rc != RC_OK) return rc;
  *done = !settled(was);
  s = stmt(st, S_MESSAGE_ATTEMPT);
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, status);
  sqlite3_bind_int(s, 3, attempts);
  sqlite3_bind_int64(s, 4, next_attempt); /* 0: at once (see migration 6) */
  bind_text(s, 5, reason);
  sqlite3_bind_int64(s, 6, at);
  if ((rc = exec_stmt(st, s, err, "delivery attempt")) != RC_OK || !was[0] ||
      !*done)
    return rc;
  return messages_move(st, was, status, 1, err);
}

static int sq_figures_messages(sq *st, const char *status, int64_t *count,
                               rc_error *err) {
  return count_of(st, S_FIGURES_MSG_COUNT, status, count, err);
}

static int sq_reply_case(sq *st, const char *from, char *case_id, size_t size,
                         rc_error *err) {
  sqlite3_stmt *s;
  int rc;
  if ((rc = message_last_flush(st, err)) != RC_OK) return rc;
  s = stmt(st, S_REPLY_CASE);
  bind_text(s, 1, from);
  rc = one_row(st, s, sqlite3_step(s), err, "reply case");
  if (rc == RC_OK)
    snprintf(case_id, size, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

static int sq_cases_below_version(sq *st, const char *workflow, int below,
                                  store_row_fn fn, void *ud, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_CASES_BELOW);
  bind_text(s, 1, workflow);
  sqlite3_bind_int(s, 2, below);
  return each_row(st, s, fn, ud, err);
}

static int sq_writable(sq *st, rc_error *err) {
  int rc;
  if (st->base.depth > 0) return RC_OK; /* a transaction is open: it writes */
  if ((rc = sq_begin(st, 0, err)) != RC_OK) return rc;
  st->base.depth = 1; /* for the rollback: store.c is not in this */
  rc = sq_meta_put(st, "health", "ok", err);
  sq_rollback(st);
  st->base.depth = 0;
  return rc;
}

static int sq_cases_page(sq *st, const char *state, const char *queue,
                         const char *after, int limit, int window,
                         const store_scope *scope, char *window_end,
                         size_t size, store_row_fn fn, void *ud,
                         rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_CASES_PAGE);
  int rc;
  window_end[0] = '\0';
  bind_text(s, 1, state);
  bind_text(s, 2, queue);
  bind_text(s, 3, after ? after : "");
  sqlite3_bind_int(s, 4, limit);
  sqlite3_bind_int(s, 5, window);
  bind_scope(s, 6, scope);
  if ((rc = each_row(st, s, fn, ud, err)) != RC_OK) return rc;
  s = stmt(st, S_CASES_WINDOW_END);
  bind_text(s, 1, after ? after : "");
  sqlite3_bind_int(s, 2, window);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_int(s, 1) == window &&
      sqlite3_column_text(s, 0))
    rc_copy(window_end, size, (const char *)sqlite3_column_text(s, 0));
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(st, err, "case page");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? RC_OK : RC_ESTORE;
}

static int sq_cases_phone(sq *st, const char *phone, const char *after,
                          int limit, const store_scope *scope,
                          store_row_fn fn, void *ud, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_CASES_PHONE);
  bind_text(s, 1, phone);
  bind_text(s, 2, after ? after : "");
  sqlite3_bind_int(s, 3, limit);
  bind_scope(s, 4, scope);
  return each_row(st, s, fn, ud, err);
}

static int sq_tasks_page(sq *st, const char *queue, const char *status,
                         const char *assignee, const char *queues,
                         int64_t after, int limit, store_row_fn fn, void *ud,
                         rc_error *err) {
  int which = S_TASKS_PAGE;
  sqlite3_stmt *s;
  if (assignee)
    which = status ? S_TASKS_PAGE_HELD : S_TASKS_PAGE_BY;
  else if (status && queue)
    which = S_TASKS_PAGE_QUEUE;
  else if (status && strcmp(status, "claimed") == 0)
    which = S_TASKS_PAGE_CLAIMED;
  s = stmt(st, which);
  bind_text(s, 1, queue);
  bind_text(s, 2, status);
  sqlite3_bind_int64(s, 3, after);
  sqlite3_bind_int(s, 4, limit);
  bind_text(s, 5, queues);
  if (assignee) bind_text(s, 6, assignee);
  return each_row(st, s, fn, ud, err);
}

static int sq_journal_page(sq *st, const char *case_id, int64_t after,
                           int limit, store_row_fn fn, void *ud,
                           rc_error *err) {
  sqlite3_stmt *s;
  s = stmt(st, S_JOURNAL_PAGE);
  bind_text(s, 1, case_id);
  sqlite3_bind_int64(s, 2, after);
  sqlite3_bind_int(s, 3, limit);
  return each_row(st, s, fn, ud, err);
}

static int sq_errors_page(sq *st, int64_t before, int limit, store_row_fn fn,
                          void *ud, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_ERRORS_PAGE);
  sqlite3_bind_int64(s, 1, before > 0 ? before : INT64_MAX);
  sqlite3_bind_int(s, 2, limit);
  return each_row(st, s, fn, ud, err);
}

static int sq_timers_overdue(sq *st, rc_time now, int64_t *count,
                             rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_TIMERS_OVERDUE);
  int rc;
  sqlite3_bind_int64(s, 1, now);
  rc = sqlite3_step(s);
  *count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  if (rc != SQLITE_ROW) fail(st, err, "overdue timers");
  sqlite3_reset(s);
  return rc == SQLITE_ROW ? RC_OK : RC_ESTORE;
}

static int sq_copy(const char *src, const char *dst, rc_error *err) {
  sqlite3 *from = NULL, *to = NULL;
  sqlite3_backup *b;
  int rc = RC_OK;
  if (sqlite_open_source(src, &from) != SQLITE_OK) {
    rc = rc_error_set(err, RC_ESTORE, "db", "cannot open %s: %s", src,
                      from ? sqlite_why(from) : "out of memory");
  } else if (sqlite3_open(dst, &to) != SQLITE_OK) {
    rc = rc_error_set(err, RC_ESTORE, "db", "cannot create %s", dst);
  } else if (!(b = sqlite3_backup_init(to, "main", from, "main"))) {
    rc = rc_error_set(err, RC_ESTORE, "db", "cannot copy %s: %s", src,
                      sqlite_why(to));
  } else {
    sqlite3_backup_step(b, -1);
    if (sqlite3_backup_finish(b) != SQLITE_OK)
      rc = rc_error_set(err, RC_ESTORE, "db", "cannot copy %s: %s", src,
                        sqlite_why(to));
  }
  sqlite3_close(from);
  sqlite3_close(to);
  return rc;
}

/* --- console users ------------------------------------------------------ */

static int sq_user_insert(sq *st, const store_user *u, const char *hash,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_USER_INSERT);
  int rc;
  bind_text(s, 1, u->name);
  bind_text(s, 2, u->role);
  bind_text(s, 3, u->queues ? u->queues : "[]");
  bind_text(s, 4, hash);
  sqlite3_bind_int64(s, 5, u->created_at);
  bind_text(s, 6, u->display_name);
  if ((rc = exec_stmt(st, s, err, "add user")) != RC_OK) return rc;
  if (sqlite3_changes(st->db) == 0)
    return rc_error_set(err, RC_ECONFLICT, "name", "user %s already exists",
                        u->name);
  return RC_OK;
}

static int sq_user_get(sq *st, const char *name, store_user *out, char *hash,
                       size_t size, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_USER_GET);
  int rc;
  memset(out, 0, sizeof *out);
  bind_text(s, 1, name);
  rc = one_row(st, s, sqlite3_step(s), err, "user");
  if (rc == RC_OK) {
    rc_copy(out->name, sizeof out->name,
            (const char *)sqlite3_column_text(s, 0));
    rc_copy(out->role, sizeof out->role,
            (const char *)sqlite3_column_text(s, 1));
    out->queues = dup_col(s, 2);
    out->disabled = sqlite3_column_int(s, 3);
    out->created_at = sqlite3_column_int64(s, 4);
    if (hash) rc_copy(hash, size, (const char *)sqlite3_column_text(s, 5));
    if (sqlite3_column_type(s, 6) == SQLITE_TEXT)
      rc_copy(out->display_name, sizeof out->display_name,
              (const char *)sqlite3_column_text(s, 6));
    if (!out->queues) rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  } else if (rc == RC_ENOTFOUND) {
    rc_error_set(err, RC_ENOTFOUND, "name", "no user %s", name);
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

/* An update of one user by name: RC_ENOTFOUND when there is none. */
static int user_update(sq *st, sqlite3_stmt *s, const char *name,
                       rc_error *err) {
  int rc = exec_stmt(st, s, err, "update user");
  if (rc == RC_OK && sqlite3_changes(st->db) == 0)
    return rc_error_set(err, RC_ENOTFOUND, "name", "no user %s", name);
  return rc;
}

static int sq_user_set_disabled(sq *st, const char *name, int disabled,
                                rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_USER_DISABLED);
  bind_text(s, 1, name);
  sqlite3_bind_int(s, 2, disabled != 0);
  return user_update(st, s, name, err);
}

static int sq_user_set_password(sq *st, const char *name, const char *hash,
                                rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_USER_PASSWORD);
  bind_text(s, 1, name);
  bind_text(s, 2, hash);
  return user_update(st, s, name, err);
}

static int sq_user_set_display(sq *st, const char *name, const char *display,
                               rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_USER_DISPLAY);
  bind_text(s, 1, name);
  bind_text(s, 2, display);
  return user_update(st, s, name, err);
}

static int sq_user_set_queues(sq *st, const char *name, const char *queues,
                              rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_USER_QUEUES);
  bind_text(s, 1, name);
  bind_text(s, 2, queues);
  return user_update(st, s, name, err);
}

static int sq_users_each(sq *st, store_row_fn fn, void *ud, rc_error *err) {
  return each_row(st, stmt(st, S_USERS), fn, ud, err);
}

static int sq_user_log_from(sq *st, rc_time at, const char *name,
                            const char *change, const char *address,
                            rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_USER_LOG);
  sqlite3_bind_int64(s, 1, at);
  bind_text(s, 2, name);
  bind_text(s, 3, change);
  bind_text(s, 4, address && *address ? address : NULL);
  return exec_stmt(st, s, err, "users log");
}

/* --- console sessions --------------------------------------------------- */

static int sq_session_insert(sq *st, const char *id, const char *name,
                             rc_time now, rc_time expires_at,
                             const char *address, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_SESSION_INSERT);
  bind_text(s, 1, id);
  bind_text(s, 2, name);
  sqlite3_bind_int64(s, 3, now);
  sqlite3_bind_int64(s, 4, expires_at);
  bind_text(s, 5, address && *address ? address : NULL);
  return exec_stmt(st, s, err, "add session");
}

static int sq_session_get(sq *st, const char *id, store_session *out,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_SESSION_GET);
  int rc;
  memset(out, 0, sizeof *out);
  bind_text(s, 1, id);
  rc = one_row(st, s, sqlite3_step(s), err, "session");
  if (rc == RC_OK) {
    rc_copy(out->name, sizeof out->name,
            (const char *)sqlite3_column_text(s, 0));
    rc_copy(out->role, sizeof out->role,
            (const char *)sqlite3_column_text(s, 1));
    out->queues = dup_col(s, 2);
    out->disabled = sqlite3_column_int(s, 3);
    out->created_at = sqlite3_column_int64(s, 4);
    out->last_seen = sqlite3_column_int64(s, 5);
    out->expires_at = sqlite3_column_int64(s, 6);
    if (!out->queues) rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  } else if (rc == RC_ENOTFOUND) {
    rc_error_set(err, RC_ENOTFOUND, "session", "no such session");
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc;
}

static int sq_session_touch(sq *st, const char *id, rc_time now,
                            rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_SESSION_TOUCH);
  bind_text(s, 1, id);
  sqlite3_bind_int64(s, 2, now);
  return exec_stmt(st, s, err, "touch session");
}

static int sq_session_delete(sq *st, const char *id, int *deleted,
                             rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_SESSION_DELETE);
  int rc;
  bind_text(s, 1, id);
  rc = exec_stmt(st, s, err, "end session");
  if (deleted) *deleted = rc == RC_OK && sqlite3_changes(st->db) > 0;
  return rc;
}

static int sq_sessions_of_user_delete(sq *st, const char *name,
                                      const char *keep_id, int *deleted,
                                      rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_SESSIONS_OF_USER_DELETE);
  int rc;
  bind_text(s, 1, name);
  bind_text(s, 2, keep_id);
  rc = exec_stmt(st, s, err, "end sessions");
  if (deleted) *deleted = rc == RC_OK ? sqlite3_changes(st->db) : 0;
  return rc;
}

static int sq_sessions_stale_delete(sq *st, rc_time now, rc_time idle_before,
                                    rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_SESSIONS_STALE_DELETE);
  sqlite3_bind_int64(s, 1, now);
  sqlite3_bind_int64(s, 2, idle_before);
  return exec_stmt(st, s, err, "end stale sessions");
}

/* --- the console's case work (migration: work) ------------------------- */

/* ?i queues, ?i+1 user, ?i+2 since; all NULL for everyone's view. */
static void bind_scope(sqlite3_stmt *s, int i, const store_scope *scope) {
  bind_text(s, i, scope ? scope->queues : NULL);
  bind_text(s, i + 1, scope ? scope->user : NULL);
  sqlite3_bind_int64(s, i + 2, scope ? scope->since : 0);
}

static void bind_priority(sqlite3_stmt *s, int i, double p) {
  if (p == (double)(int64_t)p)
    sqlite3_bind_int64(s, i, (int64_t)p);
  else
    sqlite3_bind_double(s, i, p);
}

static int sq_work_page(sq *st, const char *queue, rc_time now, int part,
                        const store_work_cursor *after, const char *user,
                        int only_open, int limit, store_row_fn fn, void *ud,
                        rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_WORK_PAGE);
  bind_text(s, 1, queue);
  sqlite3_bind_int64(s, 2, now);
  sqlite3_bind_int(s, 3, part);
  bind_priority(s, 4, after ? after->priority : 0);
  sqlite3_bind_int64(s, 5, after ? after->due : 0);
  sqlite3_bind_int64(s, 6, after ? after->id : 0);
  sqlite3_bind_int(s, 7, after != NULL);
  sqlite3_bind_int(s, 8, limit);
  bind_text(s, 9, user);
  sqlite3_bind_int(s, 10, only_open);
  return each_row(st, s, fn, ud, err);
}

static int sq_work_queues(sq *st, store_row_fn fn, void *ud, rc_error *err) {
  return each_row(st, stmt(st, S_WORK_QUEUES), fn, ud, err);
}

static int sq_work_counts(sq *st, const char *queue, rc_time now,
                          rc_time day_end, const char *user, int64_t *due_now,
                          int64_t *today, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_WORK_COUNTS);
  rc_time bound[2] = {now + 1, day_end}; /* due <= now; due < day_end */
  int rc;
  bind_text(s, 1, queue);
  for (int i = 0; i < 2; i++) {
    int64_t day = bound[i] >= 0 ? bound[i] / TASK_DAY_MS
                                : -1 - (-1 - bound[i]) / TASK_DAY_MS;
    sqlite3_bind_int64(s, 2 + 3 * i, day);
    sqlite3_bind_int64(s, 3 + 3 * i, day * TASK_DAY_MS);
    sqlite3_bind_int64(s, 4 + 3 * i, bound[i]);
  }
  bind_text(s, 8, user);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *due_now = sqlite3_column_int64(s, 0);
    *today = sqlite3_column_int64(s, 1);
  }
  if (rc != SQLITE_ROW) fail(st, err, "count work");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_ROW ? RC_OK : RC_ESTORE;
}

static int sq_work_areas(sq *st, const char *queue, rc_time day_end,
                         const char *user, int max, store_row_fn fn, void *ud,
                         rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_WORK_AREAS);
  bind_text(s, 1, queue);
  sqlite3_bind_int64(s, 2, day_end);
  sqlite3_bind_int(s, 3, max);
  bind_text(s, 4, user);
  return each_row(st, s, fn, ud, err);
}

static int sq_work_promises(sq *st, const char *status, const char *from,
                            const char *to, const char *after_date,
                            int64_t after_id, const store_scope *scope,
                            int limit, store_row_fn fn, void *ud,
                            rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_WORK_PROMISES);
  bind_text(s, 1, status);
  bind_text(s, 2, from);
  bind_text(s, 3, to);
  bind_text(s, 4, after_date ? after_date : "");
  sqlite3_bind_int64(s, 5, after_id);
  bind_scope(s, 6, scope);
  sqlite3_bind_int(s, 9, limit);
  return each_row(st, s, fn, ud, err);
}

static int sq_work_promises_count(sq *st, const char *status, const char *from,
                                  const char *to, const store_scope *scope,
                                  int64_t *count, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_WORK_PROMISES_COUNT);
  int rc;
  bind_text(s, 1, status);
  bind_text(s, 2, from);
  bind_text(s, 3, to);
  bind_scope(s, 6, scope);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *count = sqlite3_column_int64(s, 0);
  if (rc != SQLITE_ROW) fail(st, err, "count promises");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_ROW ? RC_OK : RC_ESTORE;
}

static int sq_case_visible(sq *st, const char *case_id,
                           const store_scope *scope, int *visible,
                           rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_CASE_VISIBLE);
  int rc;
  *visible = 0;
  bind_text(s, 1, case_id);
  bind_scope(s, 2, scope);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) *visible = sqlite3_column_int(s, 0);
  if (rc != SQLITE_ROW) fail(st, err, "case scope");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_ROW ? RC_OK : RC_ESTORE;
}

static int sq_last_contact(sq *st, const char *case_id, const char *borrower_id,
                           char *channel, size_t size, rc_time *at,
                           rc_error *err) {
  sqlite3_stmt *s;
  int rc;
  (void)borrower_id; /* the case's messages are found from the case */
  if ((rc = message_last_flush(st, err)) != RC_OK) return rc;
  s = stmt(st, S_LAST_CONTACT);
  bind_text(s, 1, case_id);
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    rc_copy(channel, size, (const char *)sqlite3_column_text(s, 0));
    *at = sqlite3_column_int64(s, 1);
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(st, err, "last contact");
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc == SQLITE_ROW) return RC_OK;
  return rc == SQLITE_DONE ? RC_ENOTFOUND : RC_ESTORE;
}

static int sq_task_assign(sq *st, int64_t id, const char *user, rc_error *err) {
  sqlite3_stmt *s;
  task_was was;
  int rc = task_was_get(st, id, &was, err);
  if (rc != RC_OK && rc != RC_ENOTFOUND) return rc;
  s = stmt(st, S_TASK_ASSIGN);
  sqlite3_bind_int64(s, 1, id);
  bind_text(s, 2, user);
  if ((rc = exec_stmt(st, s, err, "assign task")) == RC_OK) {
    if (sqlite3_changes(st->db) == 0)
      rc = rc_error_set(err, RC_ECONFLICT, "task", "task %lld is not waiting",
                        (long long)id);
    else
      rc = task_was_moved(st, &was, "claimed", user, err);
  }
  task_was_free(&was);
  return rc;
}
/* --- figures for the console --------------------------------------------- */

static int sq_figures_states(sq *st, store_row_fn fn, void *ud, rc_error *err) {
  return each_row(st, stmt(st, S_FIGURES_STATES), fn, ud, err);
}

static int sq_figures_due(sq *st, store_row_fn fn, void *ud, rc_error *err) {
  return each_row(st, stmt(st, S_FIGURES_DUE), fn, ud, err);
}

static int sq_figures_promises(sq *st, store_row_fn fn, void *ud,
                               rc_error *err) {
  return each_row(st, stmt(st, S_FIGURES_PROMISES), fn, ud, err);
}

static int sq_figures_queues(sq *st, store_row_fn fn, void *ud, rc_error *err) {
  return each_row(st, stmt(st, S_FIGURES_QUEUES), fn, ud, err);
}

static int sq_figures_days(sq *st, const char *figure, const char *from,
                           const char *to, store_row_fn fn, void *ud,
                           rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_FIGURES_DAYS);
  bind_text(s, 1, figure);
  bind_text(s, 2, from);
  bind_text(s, 3, to);
  return each_row(st, s, fn, ud, err);
}

static int sq_figures_arms(sq *st, store_row_fn fn, void *ud, rc_error *err) {
  return each_row(st, stmt(st, S_FIGURES_ARMS), fn, ud, err);
}

static int sq_promise_user_put(sq *st, int64_t promise_id, const char *user,
                               rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PROMISE_USER_PUT);
  sqlite3_bind_int64(s, 1, promise_id);
  bind_text(s, 2, user);
  return exec_stmt(st, s, err, "promise taker");
}

static int sq_promise_user_get(sq *st, int64_t promise_id, char *user,
                               size_t size, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_PROMISE_USER_GET);
  int rc;
  sqlite3_bind_int64(s, 1, promise_id);
  rc = one_row(st, s, sqlite3_step(s), err, "promise taker");
  if (rc == RC_OK) rc_copy(user, size, (const char *)sqlite3_column_text(s, 0));
  sqlite3_reset(s);
  return rc;
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

/* A channel's messages are found among the others': a page reads at most
 * this many messages of each status, so that a channel with few never
 * holds the service up walking a million queued SMS (the page then ends
 * early, with where to go on). The fresh part's walk by id reads at most
 * about as many messages of any status: the sent ones there do not count
 * against the window, and a million sent past a message long in flight
 * (the fresh cursor stays at it) were read by every page. */
enum { OUTBOX_WINDOW = 10000 };

static int sq_outbox_page(sq *st, const char *const *statuses, int nstatuses,
                          const char *channel, int64_t after, int limit,
                          int64_t *resume, store_row_fn fn, void *ud,
                          rc_error *err) {
  counted c = {fn, ud, 0, 0};
  int window = channel ? OUTBOX_WINDOW : limit;
  int64_t from_attempt = INT64_MIN, from_id = INT64_MIN, fresh = 0;
  int k = 0, rc;
  /* Queued ones come in two parts: the fresh (next attempt 0) by id from
   * the fresh cursor, not in the index, with the released ones among
   * them, then those waiting again. part 0 is the fresh one. */
  int part = 0;
  if ((rc = outbox_fresh_from(st, &fresh, err)) != RC_OK) return rc;
  if (after > 0) {
    sqlite3_stmt *s = stmt(st, S_MESSAGE_CURSOR);
    sqlite3_bind_int64(s, 1, after);
    rc = one_row(st, s, sqlite3_step(s), err, "outbox cursor");
    if (rc == RC_OK) {
      const char *status = (const char *)sqlite3_column_text(s, 0);
      for (k = 0; k < nstatuses && strcmp(statuses[k], status) != 0; k++) {
      }
      from_attempt = sqlite3_column_int64(s, 1);
      from_id = after;
      if (k == nstatuses) k = 0; /* it has left the list: from the top */
      /* Past the fresh part only if it is past next attempt 0 (or 1, a
       * released one, listed there): one sent since it was shown (left
       * the list, next attempt still 0) goes on with the fresh ones after
       * it, as the walk by (next_attempt, id) did. A status with no fresh
       * part skips to its index at once. */
      if (from_attempt != 0 && from_attempt != 1) part = 1;
    }
    sqlite3_reset(s);
    if (rc == RC_ESTORE) return rc;
    if (rc == RC_ENOTFOUND)
      return rc_error_set(err, RC_EINVAL, "after",
                          "after names no message: give the `next` of the "
                          "page before");
  }
  *resume = 0;
  for (; k < nstatuses && c.rows < limit && !c.stop; part = !part) {
    int fresh_part = part == 0 && !strcmp(statuses[k], "queued");
    sqlite3_stmt *s;
    int before = c.rows;
    /* The fresh part from the cursor, or past the page's `after`. */
    int64_t lo = from_id != INT64_MIN && from_id >= fresh ? from_id + 1 : fresh;
    int64_t cut = INT64_MAX;
    if (part == 0 && !fresh_part) continue; /* no fresh part: to the index */
    if (fresh_part && lo <= INT64_MAX - OUTBOX_WINDOW) {
      /* A page goes on after the cut: none is missed or listed twice
       * (no cut when none is found: the walk goes on as before). */
      s = stmt(st, S_OUTBOX_FRESH_CUT);
      sqlite3_bind_int64(s, 1, lo + OUTBOX_WINDOW);
      if ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cut = sqlite3_column_int64(s, 0);
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(st, err, "outbox");
    }
    /* The queued ones' index after the released ones the fresh part has
     * listed. */
    if (part == 1 && from_attempt <= 1 && !strcmp(statuses[k], "queued")) {
      from_attempt = 1;
      from_id = INT64_MAX;
    }
    s = stmt(st, fresh_part ? S_OUTBOX_PAGE_FRESH : S_OUTBOX_PAGE);
    bind_text(s, 1, statuses[k]);
    bind_text(s, 2, channel);
    sqlite3_bind_int64(s, 3, from_attempt);
    sqlite3_bind_int64(s, 4, from_id);
    sqlite3_bind_int(s, 5, limit - c.rows);
    sqlite3_bind_int(s, 6, window);
    if (fresh_part) {
      sqlite3_bind_int64(s, 7, lo);
      sqlite3_bind_int64(s, 8, cut);
    }
    if ((rc = each_row(st, s, count_row, &c, err)) != RC_OK) return rc;
    if (channel && c.rows - before < limit - before) {
      /* Short: the status ran out, or the window did. */
      s = stmt(st,
               fresh_part ? S_OUTBOX_WINDOW_END_FRESH : S_OUTBOX_WINDOW_END);
      bind_text(s, 1, statuses[k]);
      sqlite3_bind_int64(s, 2, from_attempt);
      sqlite3_bind_int64(s, 3, from_id);
      sqlite3_bind_int(s, 4, window);
      if (fresh_part) {
        sqlite3_bind_int64(s, 5, lo);
        sqlite3_bind_int64(s, 6, cut);
      }
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW && sqlite3_column_int(s, 1) == window)
        *resume = sqlite3_column_int64(s, 0);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail(st, err, "outbox");
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return RC_ESTORE;
      if (*resume) return RC_OK;
    }
    if (cut != INT64_MAX && !c.stop && c.rows < limit) {
      *resume = cut; /* short at the cut: the next page goes on there */
      return RC_OK;
    }
    from_attempt = from_id = INT64_MIN;
    if (part == 1) k++;
  }
  return RC_OK;
}

static int sq_roll_log(sq *st, const char *month, const char *case_id,
                       const char *due_date, int status, const char *now_due,
                       int now_status, const char *opened, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_ROLL_LOG);
  bind_text(s, 1, month);
  bind_text(s, 2, case_id);
  bind_text(s, 3, due_date);
  sqlite3_bind_int(s, 4, status);
  bind_text(s, 5, now_due);
  sqlite3_bind_int(s, 6, now_status);
  bind_text(s, 7, opened);
  return exec_stmt(st, s, err, "roll log");
}

static int sq_rolls_month(sq *st, const char *month, store_row_fn fn, void *ud,
                          rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_ROLLS_MONTH);
  bind_text(s, 1, month);
  return each_row(st, s, fn, ud, err);
}

static int sq_rolls_logged(sq *st, const char *since, store_row_fn fn, void *ud,
                           rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_ROLLS_LOGGED);
  bind_text(s, 1, since);
  return each_row(st, s, fn, ud, err);
}

static int sq_roll_put(sq *st, const char *month, int from, int to,
                       int64_t cases, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_ROLL_PUT);
  bind_text(s, 1, month);
  sqlite3_bind_int(s, 2, from);
  sqlite3_bind_int(s, 3, to);
  sqlite3_bind_int64(s, 4, cases);
  return exec_stmt(st, s, err, "roll rates");
}

static int sq_rolls_forget(sq *st, const char *before, rc_error *err) {
  sqlite3_stmt *s = stmt(st, S_ROLLS_FORGET);
  bind_text(s, 1, before);
  return exec_stmt(st, s, err, "roll log");
}

/* --- what-if reads (simulate.c) --------------------------------------- */

/* Prepared per call and finalized after: a simulation asks each a few
 * times a simulated day, and none is on the engine's hot path. */
static const char *const sim_sql[] = {
    [STORE_SIM_CASES] =
        "SELECT id, borrower_id, state, closed, error IS NOT NULL, on_hold, "
        "balance, amount_due, due_date, workflow, version, opened_at, "
        "currency FROM cases ORDER BY id",
    [STORE_SIM_MESSAGES] = "SELECT id, case_id, channel, status, at "
                           "FROM messages WHERE id > ?1 ORDER BY id",
    [STORE_SIM_TASKS] = "SELECT id, case_id, kind, queue, status, at "
                        "FROM tasks WHERE id > ?1 ORDER BY id",
    /* Written as tasks_work's WHERE, so that the day's backlog reads
     * that index of the waiting tasks alone: `status IN (...)` read
     * every task of the copy, done ones too, each simulated day. */
    [STORE_SIM_BACKLOG] =
        "SELECT coalesce(queue, ''), count(*) FROM tasks "
        "WHERE status = 'open' OR status = 'claimed' GROUP BY 1 ORDER BY 1",
    [STORE_SIM_JOURNAL] = "SELECT case_id, at, state FROM journal "
                          "ORDER BY case_id, id",
    [STORE_SIM_PAYMENTS] = "SELECT case_id, at, amount FROM payments "
                           "ORDER BY case_id, at, id",
    [STORE_SIM_PROMISES] =
        "SELECT status, count(*) FROM promises GROUP BY 1 ORDER BY 1",
    [STORE_SIM_CONTACTS] =
        "SELECT case_id, at FROM messages WHERE status NOT IN "
        "('blocked', 'cancelled') UNION ALL SELECT case_id, "
        "coalesce(completed_at, at) FROM tasks WHERE status = 'done' AND "
        "kind IN ('call', 'visit', 'home_visit', 'workplace_visit') "
        "ORDER BY 1, 2",
    [STORE_SIM_OUTCOMES] =
        "SELECT kind, coalesce(outcome, ''), count(*) FROM tasks "
        "WHERE status = 'done' GROUP BY 1, 2 ORDER BY 1, 2",
    [STORE_SIM_REPLIES] = "SELECT case_id, at FROM journal WHERE kind = "
                          "'event' AND json_extract(detail, '$.type') = "
                          "'reply' ORDER BY case_id, at",
};

int sqlite_sim_statements(void) {
  return STORE_SIM_COUNT;
}

const char *sqlite_sim_statement_sql(int which) {
  return which >= 0 && which < STORE_SIM_COUNT ? sim_sql[which] : NULL;
}

static int sq_scratch(sq *st) {
  /* A what-if copy dies with the run: a power cut loses nothing anyone
   * keeps, so its commits need not wait for the disk. */
  st->scratch = 1;
  st->unsynced = 0;
  return sqlite3_exec(st->db, "PRAGMA synchronous = OFF;", NULL, NULL, NULL) ==
                 SQLITE_OK
             ? RC_OK
             : RC_ESTORE;
}

static int sq_sim_read(sq *st, int which, int64_t after, store_row_fn fn,
                       void *ud, rc_error *err) {
  sqlite3_stmt *s = NULL;
  int rc;
  if (which < 0 || which >= STORE_SIM_COUNT)
    return rc_error_set(err, RC_EINVAL, NULL, "unknown simulation read");
  if (sqlite3_prepare_v2(st->db, sim_sql[which], -1, &s, NULL) != SQLITE_OK)
    return fail(st, err, "simulation read");
  if (sqlite3_bind_parameter_count(s) > 0) sqlite3_bind_int64(s, 1, after);
  rc = each_row(st, s, fn, ud, err);
  sqlite3_finalize(s);
  return rc;
}

/* --- the operations table ----------------------------------------------- */

/* Every operation gets the shared store; this backend's is the sq that
 * begins with it. */
#define SQ(s) ((sq *)(s))

static int op_open(store **out, const char *where, int flags, rc_error *err) {
  sq *st;
  int rc = sq_open(&st, where, flags, err);
  *out = NULL;
  if (rc != RC_OK) return rc;
  st->base.ops = &store_sqlite_ops;
  *out = &st->base;
  return RC_OK;
}

static void op_close(store *s) {
  sq_close(SQ(s));
}

static int op_scratch(store *s) {
  return sq_scratch(SQ(s));
}

static int op_writable(store *s, rc_error *err) {
  return sq_writable(SQ(s), err);
}

static void op_checkpoint_every(store *s, int pages) {
  sq_checkpoint_every(SQ(s), pages);
}

static int op_checkpoint_apart(store *s, int pages, int most, rc_error *err) {
  return sq_checkpoint_apart(SQ(s), pages, most, err);
}

/* The database and its side files: the WAL and its index, and a rollback
 * journal an older version may have left. */
static int op_files(const char *where, char (*paths)[4096], int max) {
  static const char *const sides[] = {"", "-wal", "-shm", "-journal"};
  int n = 0;
  for (size_t i = 0; i < sizeof sides / sizeof sides[0] && n < max; i++, n++)
    if ((size_t)snprintf(paths[n], sizeof paths[n], "%s%s", where, sides[i]) >=
        sizeof paths[n])
      return -1;
  return n;
}

static int op_begin(store *s, int nested, rc_error *err) {
  return sq_begin(SQ(s), nested, err);
}

static int op_end(store *s, int nested, int keep, rc_error *err) {
  return sq_end(SQ(s), nested, keep, err);
}

static void op_import_next(store *s) {
  SQ(s)->import_next = 1;
}

static void op_notice_look(store *s) {
  timers_never_due(SQ(s));
}

static void op_import_ahead(store *s, const char *borrower_id) {
  sq *st = SQ(s);
  if (st->no_borrowers && st->base.depth > 0 && st->new_borrowers.cap)
    __builtin_prefetch(st->new_borrowers.seen +
                       (borrower_hash(borrower_id) &
                        (st->new_borrowers.cap - 1)));
}

static int op_durable(store *s, int later, rc_error *err) {
  if (later) {
    SQ(s)->later = 1;
    return RC_OK;
  }
  return sq_sync(SQ(s), err);
}

static int op_timer_next_due(store *s, rc_time *due, rc_error *err) {
  return sq_timer_next_due(SQ(s), due, err);
}

/* One writer: a claim is the read itself, held by the open transaction. */
static int op_timers_claim(store *s, rc_time until, int max,
                           const store_lease *lease, store_timer **out, int *n,
                           rc_error *err) {
  (void)lease;
  return sq_timers_due(SQ(s), until, max, out, n, err);
}

static int op_timer_finish(store *s, const store_timer *t, int *deleted,
                           rc_error *err) {
  int rc = keys_apart_begin(SQ(s), err);
  if (rc == RC_OK) rc = sq_timer_delete(SQ(s), t, deleted, err);
  return keys_apart_end(SQ(s), rc, err);
}

static int op_events_claim(store *s, int max, const store_lease *lease,
                           store_event **out, int *n, rc_error *err) {
  (void)lease;
  return sq_events_next(SQ(s), max, out, n, err);
}

static int op_event_finish(store *s, int64_t id, int how, rc_error *err) {
  return how == STORE_EVENT_PARKED ? sq_event_fail(SQ(s), id, err)
                                   : sq_event_delete(SQ(s), id, err);
}

static int op_outbox_claim(store *s, rc_time now, int max,
                           const store_lease *lease, store_outgoing **out,
                           int *n, rc_error *err) {
  (void)lease;
  return sq_outbox_due(SQ(s), now, max, out, n, err);
}

/* Nothing is held but by the transaction: nothing to give back. */
static int op_release(store *s, int what, int64_t id, const store_lease *lease,
                      rc_error *err) {
  (void)s, (void)what, (void)id, (void)lease, (void)err;
  return RC_OK;
}

static int op_meta_get(store *s, const char *key, char *buf, size_t size,
                       rc_error *err) {
  return sq_meta_get(SQ(s), key, buf, size, err);
}

static int op_meta_put(store *s, const char *key, const char *value,
                       rc_error *err) {
  return sq_meta_put(SQ(s), key, value, err);
}

static int op_borrower_put(store *s, const store_borrower *b, rc_error *err) {
  return sq_borrower_upsert(SQ(s), b, 0, err);
}

static int op_borrower_put_opening(store *s, const store_borrower *b,
                                   rc_error *err) {
  return sq_borrower_upsert(SQ(s), b, 1, err);
}

static int op_borrower_flag(store *s, const char *borrower_id, store_flag flag,
                            int value, rc_error *err) {
  return sq_borrower_set_flag(SQ(s), borrower_id, flag, value, err);
}

static int op_case_insert(store *s, const store_case *c, rc_error *err) {
  return sq_case_insert(SQ(s), c, err);
}

/* Each field its own statement still: the figures' counters follow each
 * (case_fig); the engine changes one or two fields at a time. */
static int op_case_write(store *s, const store_case_change *ch, rc_error *err) {
  sq *st = SQ(s);
  unsigned f = ch->fields;
  int rc = RC_OK;
  if (f & STORE_CASE_TERMS) rc = sq_case_update_fields(st, ch->terms, err);
  if (rc == RC_OK && (f & STORE_CASE_WORKFLOW))
    rc = sq_case_set_workflow(st, ch->id, ch->workflow, ch->version,
                              ch->state, err);
  if (rc == RC_OK && (f & STORE_CASE_MONEY))
    rc = sq_case_set_money(st, ch->id, ch->balance, ch->amount_due,
                           ch->overpaid, err);
  if (rc == RC_OK && (f & STORE_CASE_STATE))
    rc = sq_case_set_state(st, ch->id, ch->state, ch->closed, ch->outcome,
                           ch->mover, err);
  if (rc == RC_OK && (f & STORE_CASE_ERROR))
    rc = sq_case_set_error(st, ch->id, ch->error, err);
  if (rc == RC_OK && (f & STORE_CASE_DATA))
    rc = sq_case_set_data(st, ch->id, ch->data, err);
  if (rc == RC_OK && (f & STORE_CASE_TAGS))
    rc = sq_case_set_tags(st, ch->id, ch->tags, err);
  if (rc == RC_OK && (f & STORE_CASE_QUEUE))
    rc = sq_case_set_queue(st, ch->id, ch->queue, err);
  if (rc == RC_OK && (f & STORE_CASE_HOLD))
    rc = sq_case_set_hold(st, ch->id, ch->on_hold, err);
  return rc;
}

static int op_event_put(store *s, const char *case_id, const char *type,
                        const char *data, rc_time at, const char *status,
                        rc_error *err) {
  return status ? sq_event_insert_as(SQ(s), case_id, type, data, at, status,
                                     err)
                : sq_event_insert(SQ(s), case_id, type, data, at, err);
}

static int op_event_key(store *s, const char *key, const char *case_id,
                        const char *type, rc_time at, int *duplicate,
                        rc_error *err) {
  return sq_event_key_claim(SQ(s), key, case_id, type, at, duplicate, err);
}

static int op_events_retry(store *s, const char *case_id, int *count,
                           rc_error *err) {
  return sq_events_retry(SQ(s), case_id, count, err);
}

static int op_timer_put(store *s, const char *case_id, rc_time due,
                        const char *event, const char *data, int scoped,
                        rc_error *err) {
  int rc = keys_apart_begin(SQ(s), err);
  if (rc == RC_OK)
    rc = sq_timer_insert(SQ(s), case_id, due, event, data, scoped, err);
  return keys_apart_end(SQ(s), rc, err);
}

static int op_timers_cancel(store *s, const char *case_id, int which,
                            const char *event, int *count, rc_error *err) {
  int rc = keys_apart_begin(SQ(s), err);
  if (count) *count = 0;
  if (rc != RC_OK) return rc;
  if (which == STORE_TIMERS_ALL)
    rc = sq_timers_cancel_all(SQ(s), case_id, err);
  else if (which == STORE_TIMERS_SCOPED)
    rc = sq_timers_delete_scoped(SQ(s), case_id, err);
  else
    rc = sq_timers_cancel(SQ(s), case_id, event, count, err);
  return keys_apart_end(SQ(s), rc, err);
}

static int op_journal_run(store *s, const char *case_id, rc_time at, int n,
                          const char *rows, size_t len, rc_error *err) {
  return sq_journal_run(SQ(s), case_id, at, n, rows, len, err);
}

static int op_message_put(store *s, const store_message *m, int64_t *id,
                          rc_error *err) {
  return sq_message_insert(SQ(s), m, id, err);
}

/* The moves the engine makes, each one statement. */
static int op_message_update(store *s, int64_t id,
                             const store_message_change *ch, int *changed,
                             rc_error *err) {
  sq *st = SQ(s);
  unsigned f = ch->fields;
  int done = 1, rc;
  if (f & STORE_MSG_ATTEMPT) {
    rc = sq_message_attempt(st, id, ch->status, ch->attempts, ch->next_attempt,
                            ch->reason, ch->at, &done, err);
  } else if (ch->only_if && strcmp(ch->only_if, "deferred") == 0 &&
             (f & (STORE_MSG_REASON | STORE_MSG_NOT_BEFORE))) {
    rc = sq_message_recheck(st, id, ch->status, ch->reason, ch->not_before,
                            &done, err);
  } else if (ch->only_if && strcmp(ch->only_if, "deferred") == 0 &&
             ch->status && strcmp(ch->status, "queued") == 0) {
    rc = sq_message_release(st, id, &done, err);
  } else if (!ch->only_if && f == STORE_MSG_STATUS) {
    rc = sq_message_set_status(st, id, ch->status, &done, err);
  } else {
    rc = rc_error_set(err, RC_EINTERNAL, NULL,
                      "database: a message change this store cannot make");
  }
  if (changed) *changed = rc == RC_OK && done;
  return rc;
}

static int op_messages_cancel_deferred(store *s, const char *case_id,
                                       const char *reason, int64_t spare,
                                       rc_error *err) {
  return sq_messages_cancel_deferred(SQ(s), case_id, reason, spare, err);
}

/* The held row of message id (claimw), NULL when it is not held. A
 * step's own are the last held. */
static struct claimw_msg *claimw_held_msg(sq *st, int64_t id) {
  for (int i = st->claimw.nmsg - 1; i >= 0; i--)
    if (st->claimw.msg[i].id == id) return &st->claimw.msg[i];
  return NULL;
}

/* Rows a batch holds (claimw) are changed where they wait, the case's
 * mover read apart (a seek): an UPDATE wrote them first, a statement a
 * step where 32 rows share one, and a step that sends and stays cost
 * 93.0k instructions where 70.4k (bench_sweep's institution sending
 * without moving, 20k in id order). Others, a statement a message. */
static int op_messages_step(store *s, const char *case_id, const int64_t *ids,
                            int n, int64_t step, rc_error *err) {
  sq *st = SQ(s);
  int rc = RC_OK, held = 1;
  for (int i = 0; i < n && held; i++) held = claimw_held_msg(st, ids[i]) != 0;
  if (held && step < 0) {
    int64_t row = step_row_of(st, case_id);
    sqlite3_stmt *q =
        stmt_of(st, row ? S_CASE_MOVER_AT : S_CASE_MOVER_ONLY, case_id);
    bind_text(q, 1, case_id);
    if (row) sqlite3_bind_int64(q, 2, row);
    rc = sqlite3_step(q);
    if (rc == SQLITE_DONE && row) { /* its row made again: by its id */
      sqlite3_reset(q);
      sqlite3_clear_bindings(q);
      q = stmt_of(st, S_CASE_MOVER_ONLY, case_id);
      bind_text(q, 1, case_id);
      rc = sqlite3_step(q);
    }
    rc = one_row(st, q, rc, err, "read case");
    step = rc == RC_OK ? sqlite3_column_int64(q, 0) : 0;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    if (rc != RC_OK) return rc == RC_ENOTFOUND ? RC_ESTORE : rc;
    /* still held: the read writes none of them */
    for (int i = 0; i < n && held; i++) held = claimw_held_msg(st, ids[i]) != 0;
  }
  for (int i = 0; held && i < n; i++) claimw_held_msg(st, ids[i])->step = step;
  if (held) return RC_OK;
  for (int i = 0; i < n && rc == RC_OK; i++) {
    sqlite3_stmt *q = stmt_of(st, S_MESSAGE_STEP, case_id);
    sqlite3_bind_int64(q, 1, ids[i]);
    sqlite3_bind_int64(q, 2, step);
    bind_text(q, 3, case_id);
    rc = exec_stmt(st, q, err, "message's step");
  }
  return rc;
}

static int op_task_put(store *s, const store_task *t, int64_t *id,
                       rc_error *err) {
  return sq_task_insert(SQ(s), t, id, err);
}

static int op_task_complete(store *s, int64_t id, const char *outcome,
                            const char *result, rc_time at, rc_error *err) {
  return sq_task_complete(SQ(s), id, outcome, result, at, err);
}

static int op_task_take(store *s, int64_t id, const char *user, int how,
                        char *case_id, size_t size, rc_error *err) {
  char scratch[160];
  if (how == STORE_TAKE_ASSIGN) {
    if (case_id && size) case_id[0] = '\0';
    return sq_task_assign(SQ(s), id, user, err);
  }
  return case_id ? sq_task_claim(SQ(s), id, user, case_id, size, err)
                 : sq_task_claim(SQ(s), id, user, scratch, sizeof scratch, err);
}

static int op_tasks_cancel_scoped(store *s, const char *case_id,
                                  rc_error *err) {
  return sq_tasks_cancel_scoped(SQ(s), case_id, err);
}

static int op_payment_put(store *s, const char *case_id, rc_money amount,
                          const char *currency, const char *ref, rc_time at,
                          rc_error *err) {
  return sq_payment_insert(SQ(s), case_id, amount, currency, ref, at, err);
}

static int op_promise_put(store *s, const char *case_id, rc_money amount,
                          const char *currency, const char *by_date, rc_time at,
                          int64_t *id, rc_error *err) {
  return sq_promise_insert(SQ(s), case_id, amount, currency, by_date, at, id,
                           err);
}

static int op_promise_update(store *s, int64_t id, rc_money paid,
                             const char *status, rc_error *err) {
  return sq_promise_update(SQ(s), id, paid, status, err);
}

static int op_promise_user_put(store *s, int64_t promise_id, const char *user,
                               rc_error *err) {
  return sq_promise_user_put(SQ(s), promise_id, user, err);
}

static int op_plan_put(store *s, const store_plan *p, int64_t *id,
                       rc_error *err) {
  int rc = sq_plan_insert(SQ(s), p->case_id, p->total, p->grace_ms, p->at, id,
                          err);
  for (int i = 0; i < p->n && rc == RC_OK; i++)
    rc = sq_installment_insert(SQ(s), *id, i + 1, p->items[i].due_date,
                               p->items[i].amount, &p->items[i].id, err);
  return rc;
}

static int op_installment_update(store *s, int64_t id, rc_money paid,
                                 const char *status, rc_error *err) {
  return sq_installment_update(SQ(s), id, paid, status, err);
}

static int op_plan_status(store *s, int64_t plan_id, const char *status,
                          rc_error *err) {
  return sq_plan_status(SQ(s), plan_id, status, err);
}

static int op_variant_put(store *s, const char *case_id, const char *experiment,
                          const char *arm, rc_error *err) {
  return sq_variant_put(SQ(s), case_id, experiment, arm, err);
}

static int op_user_put(store *s, const store_user *u, const char *hash,
                       rc_error *err) {
  return sq_user_insert(SQ(s), u, hash, err);
}

static int op_user_update(store *s, const char *name, int disabled,
                          const char *hash, const char *display,
                          const char *queues, rc_error *err) {
  int rc = RC_OK;
  if (disabled >= 0) rc = sq_user_set_disabled(SQ(s), name, disabled, err);
  if (rc == RC_OK && hash) rc = sq_user_set_password(SQ(s), name, hash, err);
  if (rc == RC_OK && display)
    rc = sq_user_set_display(SQ(s), name, display, err);
  if (rc == RC_OK && queues) rc = sq_user_set_queues(SQ(s), name, queues, err);
  return rc;
}

static int op_user_log(store *s, rc_time at, const char *name,
                       const char *change, const char *address, rc_error *err) {
  return sq_user_log_from(SQ(s), at, name, change, address, err);
}

static int op_session_put(store *s, const char *id, const char *name,
                          rc_time now, rc_time expires_at, const char *address,
                          rc_error *err) {
  return sq_session_insert(SQ(s), id, name, now, expires_at, address, err);
}

static int op_session_touch(store *s, const char *id, rc_time now,
                            rc_error *err) {
  return sq_session_touch(SQ(s), id, now, err);
}

static int op_sessions_delete(store *s, int which, const char *id,
                              const char *name, rc_time now,
                              rc_time idle_before, int *deleted,
                              rc_error *err) {
  switch (which) {
  case STORE_SESSIONS_ONE: return sq_session_delete(SQ(s), id, deleted, err);
  case STORE_SESSIONS_OF_USER:
    return sq_sessions_of_user_delete(SQ(s), name, id, deleted, err);
  default:
    if (deleted) *deleted = 0;
    return sq_sessions_stale_delete(SQ(s), now, idle_before, err);
  }
}

static int op_figure_add(store *s, const char *figure, const char *day,
                         const char *a, const char *b, const char *c, int64_t n,
                         int64_t amount, rc_error *err) {
  return sq_figure_add(SQ(s), figure, day, a, b, c, n, amount, err);
}

static int op_roll_log(store *s, const char *month, const char *case_id,
                       const char *due_date, int status, const char *now_due,
                       int now_status, const char *opened, rc_error *err) {
  return sq_roll_log(SQ(s), month, case_id, due_date, status, now_due,
                     now_status, opened, err);
}

static int op_roll_put(store *s, const char *month, int from, int to,
                       int64_t cases, rc_error *err) {
  return sq_roll_put(SQ(s), month, from, to, cases, err);
}

static int op_rolls_forget(store *s, const char *before, rc_error *err) {
  return sq_rolls_forget(SQ(s), before, err);
}

static int op_case_get(store *s, const char *id, store_case *out,
                       rc_error *err) {
  return sq_case_get(SQ(s), id, out, err);
}

static int op_case_exists(store *s, const char *id, rc_error *err) {
  return sq_case_exists(SQ(s), id, err);
}

static int op_case_mover(store *s, const char *id, int64_t message,
                         int64_t *mover, int64_t *waits_on, rc_error *err) {
  sq *st = SQ(s);
  sqlite3_stmt *q = stmt(st, S_CASE_MOVER);
  int rc;
  bind_text(q, 1, id);
  sqlite3_bind_int64(q, 2, message);
  rc = one_row(st, q, sqlite3_step(q), err, "read case");
  *mover = rc == RC_OK ? sqlite3_column_int64(q, 0) : 0;
  *waits_on = rc == RC_OK ? sqlite3_column_int64(q, 1) : 0;
  if (rc == RC_ENOTFOUND)
    rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", id);
  sqlite3_reset(q);
  sqlite3_clear_bindings(q);
  return rc;
}

/* The one writer holds the opening of cases with the rest of the book:
 * only the look-up. The caller opens the case it misses. */
static int op_case_exists_or_hold_opening(store *s, const char *id,
                                          rc_error *err) {
  /* A look-up that misses cost an imported row 1.8k instructions. */
  if (SQ(s)->no_cases) return RC_ENOTFOUND;
  return case_look_up(SQ(s), id, S_CASE_OPENING, err);
}

/* The one writer holds the opening of cases with the rest of the book.
 * An import that begins its own transaction on a book without cases
 * (a lender's first) knows every row of it new. */
static int op_hold_opening(store *s, rc_error *err) {
  sq *st = SQ(s);
  sqlite3_stmt *q;
  int rc;
  st->no_cases = 0;
  st->no_borrowers = 0;
  if (st->base.depth != 1) return RC_OK;
  q = stmt(st, S_CASES_ANY);
  rc = one_row(st, q, sqlite3_step(q), err, "look up cases");
  sqlite3_reset(q);
  st->no_cases = rc == RC_ENOTFOUND;
  if (rc != RC_ENOTFOUND) return rc;
  /* Nor borrowers: each id the file gives first is a new one. */
  q = stmt(st, S_BORROWERS_ANY);
  rc = one_row(st, q, sqlite3_step(q), err, "look up borrowers");
  sqlite3_reset(q);
  st->no_borrowers = rc == RC_ENOTFOUND;
  if (rc != RC_OK && rc != RC_ENOTFOUND) return rc;
  return import_indexes_drop(st, err);
}

static int op_case_insert_opening(store *s, const store_case *c,
                                  rc_error *err) {
  return sq_case_insert_opening(SQ(s), c, err);
}

static int op_case_opening_lend(store *s, const char *id, store_case *out) {
  sq *st = SQ(s);
  case_keep from = st->held.cases;
  st->no_cases = 0; /* the handlers run: the rows are all in */
  st->no_borrowers = 0;
  from.next = st->held.copied;
  if (!case_keep_next_is(&from, id) || !case_keep_lend(&from, out)) return 0;
  st->held.lent.at = st->held.copied;
  st->held.lent.after = from.next;
  st->held.lent.c = *out;
  st->held.lent.valid = 1;
  st->held.copied = from.next;
  return 1;
}

static int op_case_claimed_lend(store *s, const char *id, store_case *out) {
  sq *st = SQ(s);
  memset(out, 0, sizeof *out);
  /* Not once SQLite has rolled the batch back by itself (exec_step). */
  return st->ahead.n && !sqlite3_get_autocommit(st->db) &&
         ahead_take(st, id, out, 1);
}

static int op_case_fresh(store *s, const char *id, rc_error *err) {
  SQ(s)->no_cases = 0; /* a handler runs: the rows are all in */
  SQ(s)->no_borrowers = 0;
  return sq_case_fresh(SQ(s), id, err);
}

static int op_borrower_get(store *s, const char *id, store_borrower *out,
                           rc_error *err) {
  return sq_borrower_get(SQ(s), id, out, err);
}

static int op_borrower_claimed_lend(store *s, const char *id,
                                    store_borrower *out) {
  sq *st = SQ(s);
  memset(out, 0, sizeof *out);
  /* An import's borrowers and contacts not written yet are read from the
   * table (borrower_read writes them first). */
  return !st->new_contacts.n && !st->new_borrowers.n &&
         ahead_borrower(st, id, out, 1);
}

static int op_read_case_rows(store *s, int which, const char *id,
                             store_row_fn fn, void *ud, rc_error *err) {
  switch (which) {
  case STORE_ROWS_MESSAGES: return sq_messages_each(SQ(s), id, fn, ud, err);
  case STORE_ROWS_TASKS: return sq_tasks_each(SQ(s), id, fn, ud, err);
  case STORE_ROWS_TIMERS: return sq_timers_each(SQ(s), id, fn, ud, err);
  case STORE_ROWS_PLAN: return sq_plan_each(SQ(s), id, fn, ud, err);
  default: return sq_borrower_cases(SQ(s), id, fn, ud, err);
  }
}

static int op_cases_each(store *s, const char *state, store_row_fn fn, void *ud,
                         rc_error *err) {
  return sq_cases_each(SQ(s), state, fn, ud, err);
}

static int op_journal_each(store *s, const char *case_id, int limit,
                           store_row_fn fn, void *ud, rc_error *err) {
  return sq_journal_each(SQ(s), case_id, limit, fn, ud, err);
}

static int op_read_report(store *s, int which, const char *arg, store_row_fn fn,
                          void *ud, rc_error *err) {
  sq *st = SQ(s);
  switch (which) {
  case STORE_REPORT_STATES: return sq_report_states(st, fn, ud, err);
  case STORE_REPORT_DPD: return sq_report_dpd(st, arg, fn, ud, err);
  case STORE_REPORT_PROMISES: return sq_report_promises(st, fn, ud, err);
  case STORE_REPORT_INSTALLMENTS:
    return sq_report_installments(st, fn, ud, err);
  case STORE_REPORT_CONTACTS: return sq_report_contacts(st, fn, ud, err);
  case STORE_REPORT_REFUSALS: return sq_report_refusals(st, fn, ud, err);
  case STORE_REPORT_VERSIONS:
    return each_row(st, stmt(st, S_REPORT_VERSIONS), fn, ud, err);
  case STORE_REPORT_MONEY:
    return each_row(st, stmt(st, S_REPORT_MONEY), fn, ud, err);
  default: return sq_report_variants(st, fn, ud, err);
  }
}

static int op_read_figures(store *s, int which, store_row_fn fn, void *ud,
                           rc_error *err) {
  sq *st = SQ(s);
  switch (which) {
  case STORE_FIGURES_STATES: return sq_figures_states(st, fn, ud, err);
  case STORE_FIGURES_DUE: return sq_figures_due(st, fn, ud, err);
  case STORE_FIGURES_PROMISES: return sq_figures_promises(st, fn, ud, err);
  case STORE_FIGURES_QUEUES: return sq_figures_queues(st, fn, ud, err);
  default: return sq_figures_arms(st, fn, ud, err);
  }
}

static int op_figures_days(store *s, const char *figure, const char *from,
                           const char *to, store_row_fn fn, void *ud,
                           rc_error *err) {
  return sq_figures_days(SQ(s), figure, from, to, fn, ud, err);
}

static int op_read_count(store *s, int which, const char *arg, rc_time at,
                         int64_t *count, rc_error *err) {
  sq *st = SQ(s);
  switch (which) {
  case STORE_COUNT_EVENTS_PENDING: return sq_events_pending(st, count, err);
  case STORE_COUNT_TIMERS: return sq_timers_count(st, count, err);
  case STORE_COUNT_TIMERS_OVERDUE:
    return sq_timers_overdue(st, at, count, err);
  case STORE_COUNT_FIGURES_MESSAGES:
    return sq_figures_messages(st, arg, count, err);
  default: return sq_journal_count(st, arg, count, err);
  }
}

static int op_read_total(store *s, int which, rc_money *total, rc_error *err) {
  switch (which) {
  case STORE_TOTAL_PAID: return sq_payments_total(SQ(s), total, err);
  case STORE_TOTAL_OVERPAID: return sq_overpaid_total(SQ(s), total, err);
  default: return sq_reduced_total(SQ(s), total, err);
  }
}

static int op_task_get(store *s, int64_t id, store_task_info *out,
                       rc_error *err) {
  return sq_task_get(SQ(s), id, out, err);
}

static int op_promise_get(store *s, int64_t id, const char *case_id,
                          store_promise *out, rc_error *err) {
  return id > 0 ? sq_promise_get(SQ(s), id, out, err)
                : sq_promise_open(SQ(s), case_id, out, err);
}

static int op_promise_user_get(store *s, int64_t promise_id, char *user,
                               size_t size, rc_error *err) {
  return sq_promise_user_get(SQ(s), promise_id, user, size, err);
}

static int op_installments_unpaid(store *s, const char *case_id,
                                  store_installment **out, int *n,
                                  rc_error *err) {
  return sq_installments_unpaid(SQ(s), case_id, out, n, err);
}

static int op_installment_get(store *s, int64_t id, store_installment *out,
                              char *plan_status, size_t size, rc_error *err) {
  return sq_installment_get(SQ(s), id, out, plan_status, size, err);
}

static int op_payment_by_ref(store *s, const char *ref, char *case_id,
                             size_t size, rc_money *amount, char *currency,
                             rc_error *err) {
  return sq_payment_by_ref(SQ(s), ref, case_id, size, amount, currency, err);
}

static int op_variant_get(store *s, const char *case_id, const char *experiment,
                          char *arm, size_t size, rc_error *err) {
  return sq_variant_get(SQ(s), case_id, experiment, arm, size, err);
}

static int op_message_case(store *s, int64_t id, char *case_id, size_t size,
                           char status[16], rc_error *err) {
  return sq_message_case(SQ(s), id, case_id, size, status, err);
}

static int op_message_read(store *s, int64_t id, store_row_fn fn, void *ud,
                           rc_error *err) {
  return sq_message_read(SQ(s), id, fn, ud, err);
}

static int op_contact_times(store *s, const char *case_id,
                            const char *borrower_id, const char *channel,
                            rc_time since, int64_t exclude_message, int max,
                            rc_time *times, int *n, rc_error *err) {
  return sq_contact_times(SQ(s), case_id, borrower_id, channel, since,
                          exclude_message, max, times, n, err);
}

static int op_last_conversation(store *s, const char *borrower_id, rc_time *at,
                                rc_error *err) {
  return sq_last_conversation(SQ(s), borrower_id, at, err);
}

static int op_last_contact(store *s, const char *case_id,
                           const char *borrower_id, char *channel, size_t size,
                           rc_time *at, rc_error *err) {
  return sq_last_contact(SQ(s), case_id, borrower_id, channel, size, at, err);
}

static int op_reply_case(store *s, const char *from, char *case_id, size_t size,
                         rc_error *err) {
  return sq_reply_case(SQ(s), from, case_id, size, err);
}

static int op_cases_phone(store *s, const char *phone, const char *after,
                          int limit, const store_scope *scope,
                          store_row_fn fn, void *ud, rc_error *err) {
  return sq_cases_phone(SQ(s), phone, after, limit, scope, fn, ud, err);
}

static int op_cases_page(store *s, const char *state, const char *queue,
                         const char *after, int limit, int window,
                         const store_scope *scope, char *window_end,
                         size_t size, store_row_fn fn, void *ud,
                         rc_error *err) {
  return sq_cases_page(SQ(s), state, queue, after, limit, window, scope,
                       window_end, size, fn, ud, err);
}

static int op_tasks_page(store *s, const char *queue, const char *status,
                         const char *assignee, const char *queues,
                         int64_t after, int limit, store_row_fn fn, void *ud,
                         rc_error *err) {
  return sq_tasks_page(SQ(s), queue, status, assignee, queues, after, limit, fn,
                       ud, err);
}

static int op_journal_page(store *s, const char *case_id, int64_t after,
                           int limit, store_row_fn fn, void *ud,
                           rc_error *err) {
  return sq_journal_page(SQ(s), case_id, after, limit, fn, ud, err);
}

static int op_errors_page(store *s, int64_t before, int limit, store_row_fn fn,
                          void *ud, rc_error *err) {
  return sq_errors_page(SQ(s), before, limit, fn, ud, err);
}

static int op_outbox_page(store *s, const char *const *statuses, int nstatuses,
                          const char *channel, int64_t after, int limit,
                          int64_t *resume, store_row_fn fn, void *ud,
                          rc_error *err) {
  return sq_outbox_page(SQ(s), statuses, nstatuses, channel, after, limit,
                        resume, fn, ud, err);
}

static int op_work_page(store *s, const char *queue, rc_time now, int part,
                        const store_work_cursor *after, const char *user,
                        int only_open, int limit, store_row_fn fn, void *ud,
                        rc_error *err) {
  return sq_work_page(SQ(s), queue, now, part, after, user, only_open, limit,
                      fn, ud, err);
}

static int op_work_queues(store *s, store_row_fn fn, void *ud, rc_error *err) {
  return sq_work_queues(SQ(s), fn, ud, err);
}

static int op_work_counts(store *s, const char *queue, rc_time now,
                          rc_time day_end, const char *user, int64_t *due_now,
                          int64_t *today, rc_error *err) {
  return sq_work_counts(SQ(s), queue, now, day_end, user, due_now, today, err);
}

static int op_work_areas(store *s, const char *queue, rc_time day_end,
                         const char *user, int max, store_row_fn fn, void *ud,
                         rc_error *err) {
  return sq_work_areas(SQ(s), queue, day_end, user, max, fn, ud, err);
}

static int op_work_promises(store *s, const char *status, const char *from,
                            const char *to, const char *after_date,
                            int64_t after_id, const store_scope *scope,
                            int limit, store_row_fn fn, void *ud,
                            rc_error *err) {
  return sq_work_promises(SQ(s), status, from, to, after_date, after_id,
                          scope, limit, fn, ud, err);
}

static int op_work_promises_count(store *s, const char *status,
                                  const char *from, const char *to,
                                  const store_scope *scope, int64_t *count,
                                  rc_error *err) {
  return sq_work_promises_count(SQ(s), status, from, to, scope, count, err);
}

static int op_case_visible(store *s, const char *case_id,
                           const store_scope *scope, int *visible,
                           rc_error *err) {
  return sq_case_visible(SQ(s), case_id, scope, visible, err);
}

static int op_users_each(store *s, store_row_fn fn, void *ud, rc_error *err) {
  return sq_users_each(SQ(s), fn, ud, err);
}

static int op_user_get(store *s, const char *name, store_user *out, char *hash,
                       size_t size, rc_error *err) {
  return sq_user_get(SQ(s), name, out, hash, size, err);
}

static int op_session_get(store *s, const char *id, store_session *out,
                          rc_error *err) {
  return sq_session_get(SQ(s), id, out, err);
}

static int op_rolls(store *s, const char *month, int logged, store_row_fn fn,
                    void *ud, rc_error *err) {
  return logged ? sq_rolls_logged(SQ(s), month, fn, ud, err)
                : sq_rolls_month(SQ(s), month, fn, ud, err);
}

static int op_cases_below_version(store *s, const char *workflow, int below,
                                  store_row_fn fn, void *ud, rc_error *err) {
  return sq_cases_below_version(SQ(s), workflow, below, fn, ud, err);
}

static int op_sim_read(store *s, int which, int64_t after, store_row_fn fn,
                       void *ud, rc_error *err) {
  return sq_sim_read(SQ(s), which, after, fn, ud, err);
}

/* --- moving a book (branch "migrate"; sqlite_book.c) ---------------------- */

static int op_book_rows(store *s, const char *table, store_row_fn fn, void *ud,
                        rc_error *err) {
  int rc = timer_keys_flush(SQ(s), err);
  if (rc == RC_OK) rc = fired_flush(SQ(s), err);
  return rc == RC_OK ? sqlite_book_rows(SQ(s)->db, table, fn, ud, err) : rc;
}

static int op_book_put(store *s, const char *table, const store_value *cols,
                       int ncols, rc_error *err) {
  sq *st = SQ(s);
  int rc;
  ahead_drop(st); /* its statements are not this file's */
  rc = sqlite_book_put(st->db, &st->book_put, st->book_table,
                           sizeof st->book_table, table, cols, ncols, err);
  timer_ids_forget(st); /* timers copied in, ids and all */
  /* The end: each case's timers, which the copy leaves out (book_derived),
   * found again from the timers copied. */
  if (rc == RC_OK && !table) {
    timer_keys_forget(st);
    if (sqlite3_exec(st->db, SQLITE_TIMER_KEYS_FILL_ON("case_steps"), NULL,
                     NULL, NULL) != SQLITE_OK)
      rc = fail(st, err, "timer keys");
  }
  /* And each timer's case's row (book_derived), this book's rowids. */
  if (rc == RC_OK && !table &&
      sqlite3_exec(st->db,
                   "UPDATE timers SET step_row = (SELECT s.rowid FROM "
                   "case_steps s WHERE s.id = timers.case_id)",
                   NULL, NULL, NULL) != SQLITE_OK)
    rc = fail(st, err, "timers");
  /* And each case's journal chain, from the runs copied (book_derived). */
  if (rc == RC_OK && !table) {
    journal_chain_forget(st);
    if (sqlite3_exec(st->db, SQLITE_JOURNAL_CHAIN_FILL_ON("case_steps"), NULL,
                     NULL, NULL) != SQLITE_OK)
      rc = fail(st, err, "journal");
  }
  /* And whether each case has open tasks, from the tasks copied. */
  if (rc == RC_OK && !table) {
    tasks_forget(st);
    if (sqlite3_exec(st->db, SQLITE_TASKS_OPEN_FILL_ON("case_steps"), NULL,
                     NULL, NULL) != SQLITE_OK)
      rc = fail(st, err, "tasks");
  }
  /* And each case's messages' chain, from the messages copied. */
  if (rc == RC_OK && !table) {
    message_last_forget(st);
    if (sqlite3_exec(st->db, SQLITE_MESSAGE_CHAIN_FILL_ON("case_steps"), NULL,
                     NULL, NULL) != SQLITE_OK)
      rc = fail(st, err, "messages");
  }
  /* And the outbox's fresh cursor, from the messages copied. */
  if (rc == RC_OK && !table) {
    outbox_fresh_forget(st);
    if (sqlite3_exec(st->db, SQLITE_OUTBOX_FRESH_FILL, NULL, NULL, NULL) !=
        SQLITE_OK)
      rc = fail(st, err, "outbox");
  }
  /* And each borrower's contacts packed, from the contacts copied. */
  if (rc == RC_OK && !table) {
    char *msg = NULL;
    if (sqlite_contacts_pack_all(st->db, &msg))
      rc = rc_error_set(err, RC_ESTORE, NULL, "database: %s",
                        msg ? msg : "packing contacts");
    sqlite3_free(msg);
  }
  return rc;
}

static int op_book_figures(store *s, store_row_fn fn, void *ud, rc_error *err) {
  return sqlite_book_figures(SQ(s)->db, fn, ud, err);
}

const store_ops store_sqlite_ops = {
    .name = "sqlite",
    .open = op_open,
    .close = op_close,
    .scratch = op_scratch,
    .writable = op_writable,
    .checkpoint_every = op_checkpoint_every,
    .copy = sq_copy,
    .files = op_files,
    .begin = op_begin,
    .end = op_end,
    .timer_next_due = op_timer_next_due,
    .timers_claim = op_timers_claim,
    .timer_finish = op_timer_finish,
    .events_claim = op_events_claim,
    .event_finish = op_event_finish,
    .outbox_claim = op_outbox_claim,
    .release = op_release,
    .meta_get = op_meta_get,
    .meta_put = op_meta_put,
    .borrower_put = op_borrower_put,
    .borrower_put_opening = op_borrower_put_opening,
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
    .case_exists = op_case_exists,
    .case_mover = op_case_mover,
    .case_exists_or_hold_opening = op_case_exists_or_hold_opening,
    .hold_opening = op_hold_opening,
    .case_fresh = op_case_fresh,
    .case_insert_opening = op_case_insert_opening,
    .case_opening_lend = op_case_opening_lend,
    .case_claimed_lend = op_case_claimed_lend,
    .borrower_claimed_lend = op_borrower_claimed_lend,
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
    /* p99 (session 8) */
    .checkpoint_apart = op_checkpoint_apart,
    .durable = op_durable,
    .import_next = op_import_next,
    .import_ahead = op_import_ahead,
    .notice_look = op_notice_look,
    .journal_short_opened = 1,
    .journal_compact = 1,
};
