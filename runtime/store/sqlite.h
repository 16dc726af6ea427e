/* What the SQLite backend's files share (sqlite.c, sqlite_schema.c). */
#ifndef RECOUP_STORE_SQLITE_H
#define RECOUP_STORE_SQLITE_H

#include <sqlite3.h>

#include "recoup/recoup.h"

/* Brings the database's schema up to this binary's, one migration a
 * transaction; RC_ESTORE naming the step that failed, or when the
 * database is newer than this binary. */
int sqlite_migrate(sqlite3 *db, rc_error *err);

/* A book opened read-only to be copied (backup, simulate, the repl's
 * rehearsal), a first import's journal left by a kill played back first
 * (sqlite_backup.c). SQLite's code; *from to close whatever it says. */
int sqlite_open_source(const char *src, sqlite3 **from);

/* A borrower's contacts packed on its row, borrowers.contacts_packed
 * (schema 23; the format is sqlite_contacts.c's). NULL: read them from
 * the contacts table. */
struct jbuf;
struct store_contact;
/* The packed text of no contacts, and the end mark of every one. */
#define SQLITE_CONTACTS_NONE "."
/* The text for n contacts into out (emptied first); -1 when a kind is
 * none the format knows, or out of memory. */
int sqlite_contacts_pack(struct jbuf *out, const struct store_contact *c,
                         int n);
/* Reads a packed text: RC_OK (*out owned, NULL with none), RC_EINVAL
 * when it does not read (then read the table), RC_ENOMEM (*out, what
 * was read, still to free). */
int sqlite_contacts_unpack(const char *p, size_t len,
                           struct store_contact **out, int *nout);
/* Room for the contacts of one lent borrower (sqlite_contacts_lend):
 * the next lend writes over it; owned by its connection. */
typedef struct sqlite_contacts_room {
  struct store_contact *v;
  char *text;
  int cap;
  size_t size;
} sqlite_contacts_room;
/* The same as sqlite_contacts_unpack, into room: *out and its strings
 * are the room's, valid until the next lend (a borrower's nine strings
 * and its contacts copied and freed were 1.9k instructions a reminder's
 * step). RC_EINVAL, RC_ENOMEM: nothing lent. */
int sqlite_contacts_lend(const char *p, size_t len, sqlite_contacts_room *room,
                         struct store_contact **out, int *nout);
void sqlite_contacts_room_free(sqlite_contacts_room *room);
/* Sets every borrower's packed text from the contacts table (the step
 * that adds the column, a book moved in). Non-zero with *msg set on
 * failure. */
int sqlite_contacts_pack_all(sqlite3 *db, char **msg);
/* Hands fn each borrower whose packed text reads but holds other
 * contacts than the contacts table (either edited by hand alone): its
 * reminders go to the text's while a reply is matched to its case, a
 * report and a move to PostgreSQL read, by the table's. With unread_too
 * (a book of schema 28 on, where nothing reads the table by borrower),
 * also each whose text is NULL or does not read (unread 1): nothing is
 * sent to its contacts. SQLite's code. */
typedef void (*sqlite_contacts_differ_fn)(void *ud, const char *id,
                                          int unread);
int sqlite_contacts_differ(sqlite3 *db, int unread_too,
                           sqlite_contacts_differ_fn fn, void *ud);
/* Sets cases.timer_keys (the timers a case holds, [[due, id, scoped],
 * ...]) from the timers, for cases whose keys are not kept yet: the
 * upgrade that adds them, a book moved in (book_derived). One pass over
 * the timers, sorted by case: no index finds them by case. */
#define SQLITE_TIMER_KEYS_FILL SQLITE_TIMER_KEYS_FILL_ON("cases")
/* The same on table T: a case's row before schema 21, the step's row
 * (case_steps) from it on. A book moved in fills case_steps itself: the
 * view cases would take each update through its trigger (minutes where
 * the fill takes seconds). */
#define SQLITE_TIMER_KEYS_FILL_ON(T)                                   \
  "UPDATE " T                                                          \
  " SET timer_keys = k.keys FROM (SELECT case_id,"                     \
  " json_group_array(json_array(due, id, scoped)) AS keys FROM timers" \
  " GROUP BY case_id) k WHERE " T ".id = k.case_id;"

/* A journal row's detail as readers see it (E: the row, [kind, state,
 * version, at, detail]; ID: its case's id): an `opened` row kept as the
 * array of its values (store.c's opened_short, store.h's
 * STORE_OPENED_AT_*), and a `transition`, `timer`, `message` or `event`
 * row kept so (store.h's store_journal_transition and the three after it;
 * step 26), is the object again, the same text the object kept whole
 * reads as; any other detail as kept. The case's id is one store.c writes short only
 * when it needs no escape; a transition's "to" is its row's state. */
#define SQLITE_JOURNAL_DETAIL(E, ID)                                          \
  "CASE WHEN json_type(" E ", '$[4]') = 'array' THEN CASE " E " ->> 0 "       \
  "WHEN 'opened' THEN json('{\"id\":\"' || " ID " || '\",\"borrower_id\":' "  \
  "|| (" E " -> '$[4][0]') || ',\"currency\":' || (" E " -> '$[4][1]') || "   \
  "',\"principal\":' || (" E " -> '$[4][2]') || ',\"balance\":' || (" E       \
  " -> '$[4][3]') || ',\"amount_due\":' || (" E " -> '$[4][4]') || "          \
  "',\"fees\":' || (" E " -> '$[4][5]') || coalesce(',\"product\":' || "      \
  "nullif(" E " -> '$[4][9]', 'null'), '') || coalesce(',\"due_date\":' || "  \
  "nullif(" E " -> '$[4][8]', 'null'), '') || coalesce(',\"score\":' || "     \
  "nullif(" E " -> '$[4][10]', 'null'), '') || ',\"data\":' || (" E           \
  " -> '$[4][6]') || ',\"workflow\":' || (" E " -> '$[4][7]') || "            \
  "',\"version\":' || (" E " -> 2) || coalesce(',\"user\":' || nullif(" E     \
  " -> '$[4][11]', 'null'), '') || '}') "                                     \
  "WHEN 'transition' THEN json('{\"from\":' || (" E " -> '$[4][0]') || "      \
  "',\"to\":' || (" E " -> 1) || ',\"event\":' || (" E " -> '$[4][1]') || "   \
  "coalesce(',\"user\":' || (" E " -> '$[4][2]'), '') || '}') "              \
  "WHEN 'timer' THEN json('{\"event\":' || (" E " -> '$[4][0]') || "          \
  "',\"due\":' || (" E " -> '$[4][1]') || ',\"keep\":' || (" E                \
  " -> '$[4][2]') || coalesce(',\"user\":' || (" E " -> '$[4][3]'), '') || "  \
  "'}') WHEN 'message' THEN json('{\"id\":' || (" E " -> '$[4][0]') || "       \
  "',\"channel\":' || (" E " -> '$[4][1]') || ',\"template\":' || (" E       \
  " -> '$[4][2]') || ',\"to\":' || (" E " -> '$[4][3]') || ',\"status\":' "   \
  "|| (" E " -> '$[4][4]') || coalesce(',\"reason\":' || nullif(" E          \
  " -> '$[4][5]', 'null'), '') || coalesce(',\"user\":' || (" E              \
  " -> '$[4][6]'), '') || '}') WHEN 'event' THEN json('{\"type\":' || (" E   \
  " -> '$[4][0]') || coalesce(',\"user\":' || (" E " -> '$[4][1]'), '') || "  \
  "'}') ELSE " E " -> 4 END ELSE nullif(" E " -> 4, 'null') END"

/* A journal row's time (E the row, RUN the run's `at`): a row that has
 * its run's time keeps null in its place (step 26, store.c row_open);
 * rows written before keep their own. */
#define SQLITE_JOURNAL_AT(E, RUN) "coalesce(" E " ->> 3, " RUN ")"

/* Sets each journal run's link to its case's run before it
 * (journal_runs.prev) and each case's newest run (cases.journal_last)
 * from the runs: the upgrade that adds them, a book moved in
 * (book_derived). One sort of the runs by case where no index finds
 * them by case. */
#define SQLITE_JOURNAL_CHAIN_FILL SQLITE_JOURNAL_CHAIN_FILL_ON("cases")
#define SQLITE_JOURNAL_CHAIN_FILL_ON(T)                                   \
  "UPDATE journal_runs SET prev = w.prev FROM (SELECT id, lag(id, 1, 0) " \
  "OVER (PARTITION BY case_id ORDER BY id) AS prev FROM journal_runs) w " \
  "WHERE journal_runs.id = w.id AND w.prev <> 0;"                         \
  "UPDATE " T                                                             \
  " SET journal_last = j.last FROM (SELECT case_id, "                     \
  "max(id) AS last FROM journal_runs GROUP BY case_id) j "                \
  "WHERE " T ".id = j.case_id;"

/* Sets each message's link to its case's message before it
 * (messages.prev) and each case's newest message (cases.message_last)
 * from the messages: the upgrade that adds them, a book moved in
 * (book_derived). One sort of the messages by case. */
#define SQLITE_MESSAGE_CHAIN_FILL SQLITE_MESSAGE_CHAIN_FILL_ON("cases")
#define SQLITE_MESSAGE_CHAIN_FILL_ON(T)                               \
  "UPDATE messages SET prev = w.prev FROM (SELECT id, lag(id, 1, 0) " \
  "OVER (PARTITION BY case_id ORDER BY id) AS prev FROM messages) w " \
  "WHERE messages.id = w.id AND w.prev <> 0;"                         \
  "UPDATE " T                                                         \
  " SET message_last = m.last FROM (SELECT case_id, "                 \
  "max(id) AS last FROM messages GROUP BY case_id) m "                \
  "WHERE " T ".id = m.case_id;"

/* The messages the outbox's index holds (messages_outbox, partial since
 * step 22): the queued ones waiting again (a retry's or a release's next
 * attempt, never 0) and the deferred, blocked and failed that the console
 * lists. A message queued fresh (next_attempt 0) is not in it: the outbox
 * finds those by id from its fresh cursor (SQLITE_OUTBOX_FRESH_FILL), and
 * sent, delivered and cancelled ones nobody reads in that order. One
 * CASE, not ORs: a query may use a partial index only where one of its
 * terms is the index's condition, so each repeats this text. Part of step
 * 22's schema: never changed. */
#define SQLITE_OUTBOX_KEPT                                            \
  "CASE status WHEN 'queued' THEN next_attempt <> 0 WHEN 'deferred' " \
  "THEN 1 WHEN 'blocked' THEN 1 WHEN 'failed' THEN 1 ELSE 0 END"

/* The outbox's fresh cursor (meta outbox.fresh): no message before that
 * id is queued fresh. Set from the messages by the upgrade that adds it
 * and a book moved in (book_derived); the outbox moves it on (sqlite.c
 * sq_outbox_due). */
#define SQLITE_OUTBOX_FRESH_FILL                                        \
  "INSERT OR REPLACE INTO meta(key, value) SELECT 'outbox.fresh', "     \
  "coalesce((SELECT min(id) FROM messages WHERE status = 'queued' AND " \
  "next_attempt = 0), (SELECT coalesce(max(id), 0) + 1 FROM messages));"

/* Sets cases.tasks_open (1: the case has a task open or claimed that
 * leaving its state cancels, one not kept) from the tasks: the upgrade
 * that adds it, a book moved in (book_derived). Reads the tasks only. */
#define SQLITE_TASKS_OPEN_FILL SQLITE_TASKS_OPEN_FILL_ON("cases")
#define SQLITE_TASKS_OPEN_FILL_ON(T)                           \
  "UPDATE " T                                                  \
  " SET tasks_open = 1 WHERE id IN (SELECT case_id FROM tasks" \
  " WHERE NOT keep AND status IN ('open', 'claimed'));"

/* A waiting task's day in figures_tasks (step 38): whole UTC days since
 * 1970 of its due time. One without a due (My work takes it as due at
 * 0) or due before 1970 is kept at day -1, which every reader past 1970
 * counts whole. The same text on PostgreSQL (pg_schema.c, 24). */
#define SQLITE_TASK_DAY(DUE) \
  "CASE WHEN " DUE " IS NULL OR " DUE " < 0 THEN -1 ELSE " DUE " / 86400000 END"

/* The counts of figures_tasks as the tasks make them: a row a queue,
 * day, whether claimed and by whom ('' for an open task, whoever it
 * names). The step that adds them fills them so; check and the tests
 * hold the kept ones to it (SQL both stores speak). */
#define SQLITE_TASK_COUNTS_OF_ROWS                                         \
  "SELECT queue, " SQLITE_TASK_DAY("due") " AS day, CASE WHEN status = "   \
  "'claimed' THEN 1 ELSE 0 END AS claimed, CASE WHEN status = 'claimed' "  \
  "THEN coalesce(assignee, '') ELSE '' END AS assignee, count(*) AS n "    \
  "FROM tasks WHERE status IN ('open', 'claimed') AND queue IS NOT NULL "  \
  "GROUP BY 1, 2, 3, 4"

/* The keys whose kept count is not the rows' (n: kept less counted),
 * summed over PostgreSQL's slots. */
#define SQLITE_TASK_COUNTS_DIFFER                                          \
  "SELECT queue, day, claimed, assignee, sum(n) AS n FROM (SELECT queue, " \
  "day, claimed, assignee, n FROM figures_tasks UNION ALL SELECT queue, "  \
  "day, claimed, assignee, -n FROM (" SQLITE_TASK_COUNTS_OF_ROWS ") r) d " \
  "GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"

/* Why a statement of the SQLite store need not write the new cases an
 * import holds in memory before it runs (0: it writes them first). */
enum {
  SQLITE_HELD_NO_ROWS = 1, /* a transaction's bound, not its commit */
  SQLITE_HELD_APART,       /* touches neither cases nor a table that
                              refers to them (a foreign key) */
  SQLITE_HELD_OWN,         /* touches cases or timers, but its callers
                              never reach a held case with it */
};
/* The store's statements (for test_store): how many, the SQL text of
 * one, and its SQLITE_HELD_* reason. */
int sqlite_statements(void);
const char *sqlite_statement_sql(int which);
int sqlite_statement_held(int which);
/* The same of simulate's reads (sim_sql[], prepared per call). */
int sqlite_sim_statements(void);
const char *sqlite_sim_statement_sql(int which);

/* SQLite's message for db's last error, told as what it is where
 * SQLite's own words mislead: the shared-memory index (the book's -shm
 * file) that could not be mapped is "disk I/O error" to SQLite, but is
 * memory or address space running out (ulimit -v), not the disk. */
const char *sqlite_why(sqlite3 *db);

/* The schema version this binary writes (the migrations it knows). */
int store_schema_version(void);

#endif
