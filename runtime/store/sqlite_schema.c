/* The SQLite backend's schema: its migrations, in order, and the step
 * that runs those a database has not had. PRAGMA user_version records how
 * many ran. */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite.h"

/* The journal as rows, over the runs it is stored in (steps 8 and 9). */
#define JOURNAL_VIEW                                                        \
  "CREATE VIEW journal AS SELECT r.id + e.key AS id, r.case_id AS case_id," \
  "  e.value ->> 3 AS at, e.value ->> 0 AS kind, e.value ->> 1 AS state,"   \
  "  e.value ->> 2 AS version, nullif(e.value -> 4, 'null') AS detail"      \
  "  FROM journal_runs r, json_each(r.rows) e;"

/* The view cases over case_rows and case_steps, and the triggers that
 * let a writer by name write both (step 21; made again by 29). */
#define CASES_VIEW                                                            \
  "CREATE VIEW cases AS SELECT r.id AS id, r.borrower_id AS borrower_id,"     \
  "  r.workflow AS workflow, r.version AS version, s.state AS state,"         \
  "  s.closed AS closed, s.outcome AS outcome, r.error AS error,"             \
  "  r.product AS product, r.currency AS currency, r.principal AS principal," \
  "  r.balance AS balance, r.amount_due AS amount_due, r.fees AS fees,"       \
  "  r.due_date AS due_date, r.opened_at AS opened_at, r.score AS score,"     \
  "  r.tags AS tags, r.data AS data, r.queue AS queue, r.on_hold AS on_hold," \
  "  r.overpaid AS overpaid, r.reduced AS reduced, s.timer_keys AS"           \
  " timer_keys,"                                                              \
  "  s.journal_last AS journal_last, s.tasks_open AS tasks_open,"             \
  "  s.message_last AS message_last"                                          \
  "  FROM case_rows r JOIN case_steps s ON s.id = r.id;"                      \
  "CREATE TRIGGER cases_insert INSTEAD OF INSERT ON cases BEGIN"              \
  "  INSERT INTO case_rows VALUES (new.id, new.borrower_id, new.workflow,"    \
  "    new.version, new.error, new.product, new.currency,"                    \
  "    coalesce(new.principal, 0), coalesce(new.balance, 0),"                 \
  "    coalesce(new.amount_due, 0), coalesce(new.fees, 0), new.due_date,"     \
  "    new.opened_at, new.score, coalesce(new.tags, '[]'),"                   \
  "    coalesce(new.data, '{}'), new.queue, coalesce(new.on_hold, 0),"        \
  "    coalesce(new.overpaid, 0), coalesce(new.reduced, 0));"                 \
  "  INSERT INTO case_steps VALUES (new.id, new.state,"                       \
  " coalesce(new.closed, 0),"                                                 \
  "    new.outcome, coalesce(new.timer_keys, ''),"                            \
  " coalesce(new.journal_last, 0),"                                           \
  "    coalesce(new.tasks_open, 0), coalesce(new.message_last, 0));"          \
  "END;"                                                                      \
  "CREATE TRIGGER cases_update INSTEAD OF UPDATE ON cases BEGIN"              \
  "  UPDATE case_rows SET id = new.id, borrower_id = new.borrower_id,"        \
  "    workflow = new.workflow, version = new.version, error = new.error,"    \
  "    product = new.product, currency = new.currency,"                       \
  "    principal = new.principal, balance = new.balance,"                     \
  "    amount_due = new.amount_due, fees = new.fees, due_date ="              \
  " new.due_date,"                                                            \
  "    opened_at = new.opened_at, score = new.score, tags = new.tags,"        \
  "    data = new.data, queue = new.queue, on_hold = new.on_hold,"            \
  "    overpaid = new.overpaid, reduced = new.reduced WHERE id = old.id;"     \
  "  UPDATE case_steps SET id = new.id, state = new.state, closed ="          \
  " new.closed,"                                                              \
  "    outcome = new.outcome, timer_keys = new.timer_keys,"                   \
  "    journal_last = new.journal_last, tasks_open = new.tasks_open,"         \
  "    message_last = new.message_last WHERE id = old.id;"                    \
  "END;"                                                                      \
  "CREATE TRIGGER cases_delete INSTEAD OF DELETE ON cases BEGIN"              \
  "  DELETE FROM case_steps WHERE id = old.id;"                               \
  "  DELETE FROM case_rows WHERE id = old.id;"                                \
  "END;"

/* The view cases from step 33 on: both tables keyed by the same integer,
 * step_row (case_steps' rowid), each read of a case by id one search of
 * case_steps' id and two seeks of integer keys. The ids are compared
 * too: a row of either table written by hand is never read as another
 * case's. A writer by name writes case_steps first, whose rowid the
 * case_rows row takes. */
#define CASES_VIEW_33                                                         \
  "CREATE VIEW cases AS SELECT s.id AS id, r.borrower_id AS borrower_id,"     \
  "  r.workflow AS workflow, r.version AS version, s.state AS state,"         \
  "  s.closed AS closed, s.outcome AS outcome, r.error AS error,"             \
  "  r.product AS product, r.currency AS currency, r.principal AS principal," \
  "  r.balance AS balance, r.amount_due AS amount_due, r.fees AS fees,"       \
  "  r.due_date AS due_date, r.opened_at AS opened_at, r.score AS score,"     \
  "  r.tags AS tags, r.data AS data, r.queue AS queue, r.on_hold AS on_hold," \
  "  r.overpaid AS overpaid, r.reduced AS reduced, s.timer_keys AS"           \
  " timer_keys,"                                                              \
  "  s.journal_last AS journal_last, s.tasks_open AS tasks_open,"             \
  "  s.message_last AS message_last"                                          \
  "  FROM case_steps s JOIN case_rows r ON r.step_row = s.step_row"           \
  "  AND r.id = s.id;"                                                        \
  "CREATE TRIGGER cases_insert INSTEAD OF INSERT ON cases BEGIN"              \
  "  INSERT INTO case_steps VALUES (new.id, new.state,"                       \
  " coalesce(new.closed, 0),"                                                 \
  "    new.outcome, coalesce(new.timer_keys, ''),"                            \
  " coalesce(new.journal_last, 0),"                                           \
  "    coalesce(new.tasks_open, 0), coalesce(new.message_last, 0), NULL);"    \
  "  INSERT INTO case_rows VALUES (new.id, new.borrower_id, new.workflow,"    \
  "    new.version, new.error, new.product, new.currency,"                    \
  "    coalesce(new.principal, 0), coalesce(new.balance, 0),"                 \
  "    coalesce(new.amount_due, 0), coalesce(new.fees, 0), new.due_date,"     \
  "    new.opened_at, new.score, coalesce(new.tags, '[]'),"                   \
  "    coalesce(new.data, '{}'), new.queue, coalesce(new.on_hold, 0),"        \
  "    coalesce(new.overpaid, 0), coalesce(new.reduced, 0),"                  \
  "    (SELECT step_row FROM case_steps WHERE id = new.id));"                 \
  "END;"                                                                      \
  "CREATE TRIGGER cases_update INSTEAD OF UPDATE ON cases BEGIN"              \
  "  UPDATE case_rows SET id = new.id, borrower_id = new.borrower_id,"        \
  "    workflow = new.workflow, version = new.version, error = new.error,"    \
  "    product = new.product, currency = new.currency,"                       \
  "    principal = new.principal, balance = new.balance,"                     \
  "    amount_due = new.amount_due, fees = new.fees, due_date ="              \
  " new.due_date,"                                                            \
  "    opened_at = new.opened_at, score = new.score, tags = new.tags,"        \
  "    data = new.data, queue = new.queue, on_hold = new.on_hold,"            \
  "    overpaid = new.overpaid, reduced = new.reduced"                        \
  "    WHERE step_row = (SELECT step_row FROM case_steps WHERE id = old.id);" \
  "  UPDATE case_steps SET id = new.id, state = new.state, closed ="          \
  " new.closed,"                                                              \
  "    outcome = new.outcome, timer_keys = new.timer_keys,"                   \
  "    journal_last = new.journal_last, tasks_open = new.tasks_open,"         \
  "    message_last = new.message_last WHERE id = old.id;"                    \
  "END;"                                                                      \
  "CREATE TRIGGER cases_delete INSTEAD OF DELETE ON cases BEGIN"              \
  "  DELETE FROM case_rows"                                                   \
  "    WHERE step_row = (SELECT step_row FROM case_steps WHERE id = old.id);" \
  "  DELETE FROM case_steps WHERE id = old.id;"                               \
  "END;"

/* case_rows' columns after its id (steps 21 and 33). */
#define CASE_ROWS_COLUMNS                                               \
  "  borrower_id TEXT NOT NULL REFERENCES borrowers(id),"               \
  "  workflow TEXT NOT NULL, version INTEGER NOT NULL, error TEXT,"     \
  "  product TEXT, currency TEXT NOT NULL,"                             \
  "  principal INTEGER NOT NULL DEFAULT 0 CHECK (principal >= 0),"      \
  "  balance INTEGER NOT NULL DEFAULT 0,"                               \
  "  amount_due INTEGER NOT NULL DEFAULT 0,"                            \
  "  fees INTEGER NOT NULL DEFAULT 0 CHECK (fees >= 0),"                \
  "  due_date TEXT, opened_at INTEGER NOT NULL, score REAL,"            \
  "  tags TEXT NOT NULL DEFAULT '[]', data TEXT NOT NULL DEFAULT '{}'," \
  "  queue TEXT, on_hold INTEGER NOT NULL DEFAULT 0,"                   \
  "  overpaid INTEGER NOT NULL DEFAULT 0 CHECK (overpaid >= 0),"        \
  "  reduced INTEGER NOT NULL DEFAULT 0 CHECK (reduced >= 0)"

/* case_steps' columns after its id (steps 21, 29 and 33). */
#define CASE_STEPS_COLUMNS                             \
  " state TEXT NOT NULL,"                              \
  "  closed INTEGER NOT NULL DEFAULT 0, outcome TEXT," \
  "  timer_keys TEXT NOT NULL DEFAULT '',"             \
  "  journal_last INTEGER NOT NULL DEFAULT 0,"         \
  "  tasks_open INTEGER NOT NULL DEFAULT 0,"           \
  "  message_last INTEGER NOT NULL DEFAULT 0"

static const char *const migrations[] = {
    /* 1: the first schema */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE borrowers("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', locale TEXT,"
    "  timezone TEXT, address TEXT, employer_name TEXT, employer_phone TEXT,"
    "  employer_address TEXT,"
    "  do_not_contact INTEGER NOT NULL DEFAULT 0,"
    "  ceased INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE contacts("
    "  id INTEGER PRIMARY KEY,"
    "  borrower_id TEXT NOT NULL REFERENCES borrowers(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('phone','email','third_party')),"
    "  value TEXT, name TEXT, relation TEXT, position INTEGER NOT NULL);"
    "CREATE INDEX contacts_borrower ON contacts(borrower_id, position);"
    "CREATE TABLE cases("
    "  id TEXT PRIMARY KEY,"
    "  borrower_id TEXT NOT NULL REFERENCES borrowers(id),"
    "  workflow TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,"
    "  closed INTEGER NOT NULL DEFAULT 0, outcome TEXT, error TEXT,"
    "  product TEXT, currency TEXT NOT NULL,"
    "  principal INTEGER NOT NULL DEFAULT 0 CHECK (principal >= 0),"
    "  balance INTEGER NOT NULL DEFAULT 0,"
    "  amount_due INTEGER NOT NULL DEFAULT 0,"
    "  fees INTEGER NOT NULL DEFAULT 0 CHECK (fees >= 0),"
    "  due_date TEXT, opened_at INTEGER NOT NULL, score REAL,"
    "  tags TEXT NOT NULL DEFAULT '[]', data TEXT NOT NULL DEFAULT '{}',"
    "  queue TEXT, on_hold INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX cases_borrower ON cases(borrower_id);"
    "CREATE INDEX cases_state ON cases(state);"
    "CREATE TABLE events("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id),"
    "  type TEXT NOT NULL, data TEXT, at INTEGER NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK (status IN ('pending','failed')));"
    "CREATE INDEX events_case ON events(case_id, id);"
    "CREATE INDEX events_pending ON events(status, id);"
    "CREATE TABLE event_keys(key TEXT PRIMARY KEY, case_id TEXT NOT NULL,"
    "  at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE timers("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id),"
    "  due INTEGER NOT NULL, event TEXT NOT NULL, data TEXT,"
    "  scoped INTEGER NOT NULL);"
    "CREATE INDEX timers_due ON timers(due, id);"
    "CREATE INDEX timers_case ON timers(case_id, event);"
    "CREATE TABLE journal("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL, at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL, state TEXT, version INTEGER, detail TEXT);"
    "CREATE INDEX journal_case ON journal(case_id, id);"
    "CREATE TABLE messages("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id),"
    "  borrower_id TEXT NOT NULL, channel TEXT NOT NULL,"
    "  template TEXT NOT NULL, recipient TEXT, to_kind TEXT, body TEXT,"
    "  status TEXT NOT NULL, reason TEXT, at INTEGER NOT NULL,"
    "  not_before INTEGER, attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER, sent_at INTEGER);"
    "CREATE INDEX messages_case ON messages(case_id);"
    "CREATE INDEX messages_borrower ON messages(borrower_id, at);"
    "CREATE INDEX messages_outbox ON messages(status, next_attempt, id);"
    "CREATE TABLE tasks("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id),"
    "  kind TEXT NOT NULL, queue TEXT, due INTEGER, assignee TEXT,"
    "  status TEXT NOT NULL CHECK (status IN"
    "    ('open','claimed','done','cancelled')),"
    "  outcome TEXT, fields TEXT, result TEXT, state TEXT,"
    "  keep INTEGER NOT NULL DEFAULT 0, at INTEGER NOT NULL,"
    "  completed_at INTEGER);"
    "CREATE INDEX tasks_case ON tasks(case_id);"
    "CREATE INDEX tasks_queue ON tasks(queue, status);"
    "CREATE TABLE payments("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0), ref TEXT UNIQUE,"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX payments_case ON payments(case_id);"
    "CREATE TABLE promises("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id),"
    "  amount INTEGER NOT NULL, by_date TEXT NOT NULL,"
    "  paid INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL,"
    "  at INTEGER NOT NULL);"
    "CREATE INDEX promises_case ON promises(case_id, status);"
    "CREATE TABLE plans("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id),"
    "  total INTEGER NOT NULL, grace INTEGER NOT NULL DEFAULT 0,"
    "  status TEXT NOT NULL, at INTEGER NOT NULL);"
    "CREATE INDEX plans_case ON plans(case_id, status);"
    "CREATE TABLE installments("
    "  id INTEGER PRIMARY KEY, plan_id INTEGER NOT NULL REFERENCES plans(id),"
    "  seq INTEGER NOT NULL, due_date TEXT NOT NULL, amount INTEGER NOT NULL,"
    "  paid INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL);"
    "CREATE INDEX installments_plan ON installments(plan_id, seq);"
    "CREATE TABLE variants(case_id TEXT NOT NULL, experiment TEXT NOT NULL,"
    "  arm TEXT NOT NULL, PRIMARY KEY (case_id, experiment)) WITHOUT ROWID;",
    /* 2: nothing reads cases by state through an index (the case list
     * filters while it walks ids), and every transition paid for keeping
     * it: a delete and an insert in a million-entry index. */
    "DROP INDEX IF EXISTS cases_state;",
    /* 3: a CHECK (x IN (three or more values)) makes SQLite build a
     * temporary index on every insert or update that binds x — a third of
     * an import row's time, measured. The same rules, as comparisons. */
    "CREATE TABLE contacts_v3("
    "  id INTEGER PRIMARY KEY,"
    "  borrower_id TEXT NOT NULL REFERENCES borrowers(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind = 'phone' OR kind = 'email' OR"
    "    kind = 'third_party'),"
    "  value TEXT, name TEXT, relation TEXT, position INTEGER NOT NULL);"
    "INSERT INTO contacts_v3 SELECT id, borrower_id, kind, value, name,"
    "  relation, position FROM contacts;"
    "DROP TABLE contacts;"
    "ALTER TABLE contacts_v3 RENAME TO contacts;"
    "CREATE INDEX contacts_borrower ON contacts(borrower_id, position);"
    "CREATE TABLE tasks_v3("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL REFERENCES cases(id),"
    "  kind TEXT NOT NULL, queue TEXT, due INTEGER, assignee TEXT,"
    "  status TEXT NOT NULL CHECK (status = 'open' OR status = 'claimed' OR"
    "    status = 'done' OR status = 'cancelled'),"
    "  outcome TEXT, fields TEXT, result TEXT, state TEXT,"
    "  keep INTEGER NOT NULL DEFAULT 0, at INTEGER NOT NULL,"
    "  completed_at INTEGER);"
    "INSERT INTO tasks_v3 SELECT id, case_id, kind, queue, due, assignee,"
    "  status, outcome, fields, result, state, keep, at, completed_at"
    "  FROM tasks;"
    "DROP TABLE tasks;"
    "ALTER TABLE tasks_v3 RENAME TO tasks;"
    "CREATE INDEX tasks_case ON tasks(case_id);"
    "CREATE INDEX tasks_queue ON tasks(queue, status);",
    /* 4: a case's messages are found among its borrower's (a borrower has
     * few cases), so every message sent pays for two indexes, not three:
     * a sixth of a reminder step's storage time, measured. */
    "DROP INDEX IF EXISTS messages_case;",
    /* 5: a reply is routed by the number or address it came from; without
     * this every reply read all contacts (70 ms at a million borrowers,
     * with the service loop waiting). */
    "CREATE INDEX IF NOT EXISTS contacts_value ON contacts(value);",
    /* 6: a message waiting for its first attempt has next_attempt 0, not
     * NULL, so the outbox walks (status, next_attempt, id) in index order
     * and stops at its batch; with coalesce() it sorted every queued
     * message each time (150 ms a pump at a million queued). */
    "UPDATE messages SET next_attempt = 0 WHERE next_attempt IS NULL AND"
    "  (status = 'queued' OR status = 'deferred');",
    /* 7: no query finds events by case through this index (the queue is
     * read by status, a retry finds the few failed ones by status too),
     * and cases are never deleted, so the foreign key never asks; every
     * event written and deleted paid for it. */
    "DROP INDEX IF EXISTS events_case;",
    /* 8: the journal rows one event writes for one case (the event, its
     * messages, its transition: three or more on every step) are stored
     * as one run, and `journal` becomes a view with the same columns and
     * ids as before. A reminder step wrote three rows and three index
     * entries; now one of each: a fifth of the daily sweep, measured. */
    "CREATE TABLE journal_runs("
    "  id INTEGER PRIMARY KEY," /* the run's first row id: id .. id+n-1 */
    "  case_id TEXT NOT NULL, at INTEGER NOT NULL,"
    "  n INTEGER NOT NULL CHECK (n >= 1 AND n <= 64),"
    /* [[kind, state, version, at, detail], ...]; a run that does not parse
     * would hide every row in it, so it is refused, not written. */
    "  rows TEXT NOT NULL CHECK (json_valid(rows)));"
    /* A detail that never parsed is kept as a JSON string, not lost and
     * not in the way of the upgrade. */
    "INSERT INTO journal_runs SELECT id, case_id, at, 1,"
    "  json_array(json_array(kind, state, version, at,"
    "    CASE WHEN json_valid(detail) THEN json(detail) ELSE detail END))"
    "  FROM journal ORDER BY id;"
    "DROP TABLE journal;"
    "CREATE INDEX journal_runs_case ON journal_runs(case_id, id);" JOURNAL_VIEW,
    /* 9: cases, borrowers and contacts are read by their key on every
     * step; as rowid tables each read was two B-tree searches (the key's
     * index, then the row) and a borrower's contacts one more a contact.
     * Stored in key order they are one search, and a case's foreign key
     * checks get the same saving. migrate() runs this with foreign keys
     * off (a rebuild drops the parent table) and checks them all before
     * committing. A journal run's JSON is now checked where the store
     * builds it (each detail, as it is appended), so the table no longer
     * parses every run again: that was 6% of a sweep step. */
    "CREATE TABLE borrowers_v9("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', locale TEXT,"
    "  timezone TEXT, address TEXT, employer_name TEXT, employer_phone TEXT,"
    "  employer_address TEXT,"
    "  do_not_contact INTEGER NOT NULL DEFAULT 0,"
    "  ceased INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "INSERT INTO borrowers_v9 SELECT id, name, locale, timezone, address,"
    "  employer_name, employer_phone, employer_address, do_not_contact,"
    "  ceased FROM borrowers ORDER BY id;"
    /* The key's columns come first: SQLite 3.40's integrity_check misreads
     * a NOT NULL column of a WITHOUT ROWID table declared before them. */
    "CREATE TABLE contacts_v9("
    "  borrower_id TEXT NOT NULL REFERENCES borrowers(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind = 'phone' OR kind = 'email' OR"
    "    kind = 'third_party'),"
    "  value TEXT, name TEXT, relation TEXT,"
    "  PRIMARY KEY (borrower_id, position)) WITHOUT ROWID;"
    "INSERT INTO contacts_v9 SELECT borrower_id, position, kind, value, name,"
    "  relation FROM contacts ORDER BY borrower_id, position;"
    "CREATE TABLE cases_v9("
    "  id TEXT PRIMARY KEY,"
    "  borrower_id TEXT NOT NULL REFERENCES borrowers(id),"
    "  workflow TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL,"
    "  closed INTEGER NOT NULL DEFAULT 0, outcome TEXT, error TEXT,"
    "  product TEXT, currency TEXT NOT NULL,"
    "  principal INTEGER NOT NULL DEFAULT 0 CHECK (principal >= 0),"
    "  balance INTEGER NOT NULL DEFAULT 0,"
    "  amount_due INTEGER NOT NULL DEFAULT 0,"
    "  fees INTEGER NOT NULL DEFAULT 0 CHECK (fees >= 0),"
    "  due_date TEXT, opened_at INTEGER NOT NULL, score REAL,"
    "  tags TEXT NOT NULL DEFAULT '[]', data TEXT NOT NULL DEFAULT '{}',"
    "  queue TEXT, on_hold INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "INSERT INTO cases_v9 SELECT id, borrower_id, workflow, version, state,"
    "  closed, outcome, error, product, currency, principal, balance,"
    "  amount_due, fees, due_date, opened_at, score, tags, data, queue,"
    "  on_hold FROM cases ORDER BY id;"
    "DROP TABLE cases;"
    "DROP TABLE contacts;"
    "DROP TABLE borrowers;"
    "ALTER TABLE borrowers_v9 RENAME TO borrowers;"
    "ALTER TABLE contacts_v9 RENAME TO contacts;"
    "ALTER TABLE cases_v9 RENAME TO cases;"
    "CREATE INDEX cases_borrower ON cases(borrower_id);"
    "CREATE INDEX contacts_value ON contacts(value);"
    "DROP VIEW journal;"
    "CREATE TABLE journal_runs_v9("
    "  id INTEGER PRIMARY KEY, case_id TEXT NOT NULL, at INTEGER NOT NULL,"
    "  n INTEGER NOT NULL CHECK (n >= 1 AND n <= 64), rows TEXT NOT NULL);"
    "INSERT INTO journal_runs_v9 SELECT id, case_id, at, n, rows"
    "  FROM journal_runs ORDER BY id;"
    "DROP TABLE journal_runs;"
    "ALTER TABLE journal_runs_v9 RENAME TO journal_runs;"
    "CREATE INDEX journal_runs_case ON journal_runs(case_id, id);" JOURNAL_VIEW
    /* Timers are stored in the order they come due: the sweep reads them
     * in that order and deletes each where it read it, two entries a
     * timer (the row, its case's index) where it was three, each at a
     * random place whenever timers come due in another order than they
     * were set (measured: 26 us a timer fired, 8 us stored by due). Ids
     * count within a due time; timers_case carries `scoped` so that a
     * transition finds it has none to end without reading rows. */
    "CREATE TABLE timers_v9("
    "  due INTEGER NOT NULL, id INTEGER NOT NULL,"
    "  case_id TEXT NOT NULL REFERENCES cases(id),"
    "  event TEXT NOT NULL, data TEXT, scoped INTEGER NOT NULL,"
    "  PRIMARY KEY (due, id)) WITHOUT ROWID;"
    "INSERT INTO timers_v9 SELECT due, id, case_id, event, data, scoped"
    "  FROM timers ORDER BY due, id;"
    "DROP TABLE timers;"
    "ALTER TABLE timers_v9 RENAME TO timers;"
    "CREATE INDEX timers_case ON timers(case_id, scoped, event);"
    "PRAGMA foreign_key_check;",
    /* 10: a payment above the balance is a fact, not an error: the excess
     * is kept for refund. An event key names one event: its case and
     * type (NULL on keys taken before, which then match by case alone). */
    "ALTER TABLE cases ADD COLUMN overpaid INTEGER NOT NULL DEFAULT 0"
    "  CHECK (overpaid >= 0);"
    /* What snapshot imports took off the balance (payments made elsewhere,
     * write-downs): reported apart from the payments recoup saw. */
    "ALTER TABLE cases ADD COLUMN reduced INTEGER NOT NULL DEFAULT 0"
    "  CHECK (reduced >= 0);"
    "ALTER TABLE event_keys ADD COLUMN type TEXT;"
    /* What a task counts as for the caps, when its workflow says (a
     * declared kind's counts_as); NULL: by its kind's name. */
    "ALTER TABLE tasks ADD COLUMN channel TEXT;",
    /* 11: cases in error are listed by their first failed event (the one
     * that failed; later ones wait behind it), newest first: `recoup
     * errors` and GET /v1/errors walk failed events down events_pending
     * and ask this index whether the case failed earlier. Without it each
     * row read every failed event below it (a broken workflow parks a
     * failed event a case a day). Only failed events are in it, so the
     * queue's inserts and deletes never touch it. */
    "CREATE INDEX IF NOT EXISTS events_failed ON events(case_id, id)"
    "  WHERE status = 'failed';",
    /* 12: the people who sign in to the console (DESIGN.md "People and
     * the console"). The hash is libsodium's Argon2id string, salt and
     * limits included; queues a JSON array of queue names, built and
     * checked by the engine (the schema parses no JSON). users_log says
     * who was added, disabled, enabled or given a new password, and when:
     * a user is nobody's case, so the case journal does not say it. */
    "CREATE TABLE users("
    "  name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
    "  role TEXT NOT NULL CHECK (role = 'agent' OR role = 'supervisor' OR"
    "    role = 'read' OR role = 'admin'),"
    "  queues TEXT NOT NULL DEFAULT '[]',"
    "  password_hash TEXT NOT NULL,"
    "  disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE users_log("
    "  id INTEGER PRIMARY KEY, at INTEGER NOT NULL, name TEXT NOT NULL,"
    "  change TEXT NOT NULL);",
    /* 13: the console's My work (DESIGN.md "Priority and
     * area"): a task keeps the priority it was made with (its kind's, else
     * its state's; higher first), and the agent's list walks this index
     * in its order for one queue — due now, then priority, then due, then
     * id — reading only waiting tasks (the done ones, most of the table,
     * are not in it). id and status are in the key so that the walk skips
     * future tasks and counts the queue without reading rows. A borrower's
     * area groups a field officer's visits. */
    "ALTER TABLE tasks ADD COLUMN priority NUMERIC NOT NULL DEFAULT 0;"
    "ALTER TABLE borrowers ADD COLUMN area TEXT;"
    "CREATE INDEX tasks_work ON tasks(queue, priority DESC, due, id, status)"
    "  WHERE status = 'open' OR status = 'claimed';"
    /* Promises due and broken, by date, for the My work tabs. */
    "CREATE INDEX promises_due ON promises(status, by_date);",
    /* 14: the console's signed-in people, kept in the
     * database so that a restart signs nobody out and nodes sharing the
     * database share them. id is the SHA-256 of the cookie's token (hex):
     * a copy of the database or a backup signs nobody in. A session ends
     * with its user (deleted), idle (last_seen) or at expires_at. users_log
     * gains the client address of sign-ins and failed ones. */
    "CREATE TABLE sessions("
    "  id TEXT PRIMARY KEY CHECK (length(id) = 64),"
    "  name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  created_at INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL, address TEXT) WITHOUT ROWID;"
    "CREATE INDEX sessions_name ON sessions(name);"
    "ALTER TABLE users_log ADD COLUMN address TEXT;",
    /* 15: what the console's Overview and Strategy draw
     * (runtime/api_figures.c), kept as counters so that a page reads a few
     * hundred rows, never a million: a GROUP BY over the cases on the
     * service loop held every collector's request for seconds (README
     * "What the console's pages cost").
     *
     * Cases and balance by workflow and state (errors and closed beside
     * them) and open cases and balance by due date (a bucket of days past
     * due is today minus the due date: the reader groups the dates, so
     * nothing here depends on the day) are kept by the store's own case
     * writes; figures by the institution's day (payments, reductions by
     * import, contacts, refusals, transitions, each collector's work) by
     * the engine, which knows the day. Both are summed in memory through
     * a batch and written once a key at its commit, so that a sweep of a
     * thousand steps writes a dozen rows, not a thousand (figures_flush).
     * Not triggers on cases or tasks: an UPDATE trigger on a table turns
     * SQLite's one-pass update off, and every transition then paid 8 us
     * more whether or not it fired (measured: the daily sweep lost a third
     * of its rate). Promises, experiment arms and payments change at a
     * person's pace: triggers keep those. Rows whose count falls to zero
     * stay (a state is left and entered again); readers skip them. */
    "CREATE TABLE figures_states("
    "  workflow TEXT NOT NULL, state TEXT NOT NULL,"
    "  cases INTEGER NOT NULL, balance INTEGER NOT NULL,"
    "  errors INTEGER NOT NULL, closed INTEGER NOT NULL,"
    "  PRIMARY KEY (workflow, state)) WITHOUT ROWID;"
    "INSERT INTO figures_states SELECT workflow, state, count(*),"
    "  sum(balance), sum(error IS NOT NULL), sum(closed) FROM cases"
    "  GROUP BY workflow, state;"
    /* '' for a case without a due date: it is current. */
    "CREATE TABLE figures_due("
    "  due_date TEXT PRIMARY KEY, cases INTEGER NOT NULL,"
    "  balance INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO figures_due SELECT coalesce(due_date, ''), count(*),"
    "  sum(balance) FROM cases WHERE NOT closed GROUP BY 1;"
    /* Messages by status, kept by the store's message writes: the
     * outbox's counts were a walk of its index (90 ms at a million
     * queued, on the service loop). */
    "CREATE TABLE figures_messages("
    "  status TEXT PRIMARY KEY, messages INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO figures_messages SELECT status, count(*) FROM messages"
    "  GROUP BY status;"
    "CREATE TABLE figures_promises("
    "  status TEXT PRIMARY KEY, promises INTEGER NOT NULL,"
    "  amount INTEGER NOT NULL, paid INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO figures_promises SELECT status, count(*), sum(amount),"
    "  sum(paid) FROM promises GROUP BY status;"
    "CREATE TRIGGER figures_promise_new AFTER INSERT ON promises BEGIN"
    "  INSERT INTO figures_promises VALUES (new.status, 1, new.amount,"
    "    new.paid) ON CONFLICT DO UPDATE SET promises = promises + 1,"
    "    amount = amount + excluded.amount, paid = paid + excluded.paid;"
    "END;"
    "CREATE TRIGGER figures_promise_change AFTER UPDATE OF status, paid"
    "  ON promises WHEN old.status IS NOT new.status"
    "  OR old.paid IS NOT new.paid BEGIN"
    "  UPDATE figures_promises SET promises = promises - 1,"
    "    amount = amount - old.amount, paid = paid - old.paid"
    "    WHERE status = old.status;"
    "  INSERT INTO figures_promises VALUES (new.status, 1, new.amount,"
    "    new.paid) ON CONFLICT DO UPDATE SET promises = promises + 1,"
    "    amount = amount + excluded.amount, paid = paid + excluded.paid;"
    "END;"
    /* A queue's backlog and oldest task are read along tasks_queue,
     * which now carries the due time: the oldest is the first entry of
     * the queue's open range. */
    "DROP INDEX IF EXISTS tasks_queue;"
    "CREATE INDEX tasks_queue ON tasks(queue, status, due);"
    /* An arm's workflow is its first case's: experiments are a
     * workflow's, and a case that later moves keeps its arm. */
    "CREATE TABLE figures_arms("
    "  experiment TEXT NOT NULL, arm TEXT NOT NULL, workflow TEXT NOT NULL,"
    "  cases INTEGER NOT NULL, recovered INTEGER NOT NULL,"
    "  closed_paid INTEGER NOT NULL,"
    "  PRIMARY KEY (experiment, arm)) WITHOUT ROWID;"
    "INSERT INTO figures_arms SELECT v.experiment, v.arm, min(c.workflow),"
    "  count(*), coalesce(sum((SELECT sum(amount) FROM payments p"
    "  WHERE p.case_id = c.id)), 0), sum(c.closed AND c.outcome = 'paid')"
    "  FROM variants v JOIN cases c ON c.id = v.case_id"
    "  GROUP BY v.experiment, v.arm;"
    "CREATE TRIGGER figures_arm_new AFTER INSERT ON variants BEGIN"
    "  INSERT INTO figures_arms SELECT new.experiment, new.arm, c.workflow,"
    "    1, 0, 0 FROM cases c WHERE c.id = new.case_id"
    "    ON CONFLICT DO UPDATE SET cases = cases + 1;"
    "END;"
    "CREATE TRIGGER figures_arm_paid AFTER INSERT ON payments BEGIN"
    "  UPDATE figures_arms SET recovered = recovered + new.amount"
    "    WHERE (experiment, arm) IN (SELECT experiment, arm FROM variants"
    "    WHERE case_id = new.case_id);"
    "END;"
    /* Figures by the institution's day: figure names what is counted, a,
     * b and c its key ('' when unused); n and amount the sums. */
    "CREATE TABLE figures_days("
    "  figure TEXT NOT NULL, day TEXT NOT NULL, a TEXT NOT NULL,"
    "  b TEXT NOT NULL, c TEXT NOT NULL, n INTEGER NOT NULL,"
    "  amount INTEGER NOT NULL,"
    "  PRIMARY KEY (figure, day, a, b, c)) WITHOUT ROWID;"
    /* Who took a promise, when a console user did: money later paid on
     * it counts as that collector's. */
    "CREATE TABLE figures_promise_users("
    "  promise_id INTEGER PRIMARY KEY, user TEXT NOT NULL);"
    /* Roll rates: the due date (or closed) each case had when it first
     * changed in a month, and the matrices of months that ended, computed
     * once from them and the counters (engine_rolls_settle). */
    /* A row a case and month it changed in: what it was before its first
     * change (due_date, status: 0 open, 1 closed) and after its last
     * (now_due, now_status), and the month it opened: settling a month
     * reads this table alone, never the cases. */
    "CREATE TABLE figures_roll_log("
    "  case_id TEXT NOT NULL, month TEXT NOT NULL, due_date TEXT,"
    "  status INTEGER NOT NULL, now_due TEXT, now_status INTEGER NOT NULL,"
    "  opened TEXT NOT NULL,"
    "  PRIMARY KEY (case_id, month)) WITHOUT ROWID;"
    "CREATE TABLE figures_rolls("
    "  month TEXT NOT NULL, from_bucket INTEGER NOT NULL,"
    "  to_bucket INTEGER NOT NULL, cases INTEGER NOT NULL,"
    "  PRIMARY KEY (month, from_bucket, to_bucket)) WITHOUT ROWID;"
    /* The outbox page walks messages_outbox by (status, next_attempt,
     * id): a message blocked before step 6 has no next_attempt and would
     * never be listed. */
    "UPDATE messages SET next_attempt = 0 WHERE (status = 'blocked' OR"
    "  status = 'failed') AND next_attempt IS NULL;"
    /* The first month whose start the roll log saw: a new book's first;
     * a book with cases already, the month after the engine first opens
     * it (engine_open turns "upgrade" into that month). */
    "INSERT OR REPLACE INTO meta(key, value) SELECT 'figures.rolls_from',"
    "  CASE WHEN EXISTS (SELECT 1 FROM cases) THEN 'upgrade' ELSE '0000-00'"
    "  END;",
    /* 16: the timers a case holds are kept with the case, as their keys
     * in timers ([[due, id, scoped], ...], '' for none), and the index of
     * the timers by case goes. Every timer fired deleted an entry of that
     * index at a random place (a page written a step, a third of a
     * reminder's pages); the case's row is written by the same step
     * anyway, and the store writes the keys in that UPDATE (sqlite.c
     * timer_keys). Not a trigger: see step 15. */
    "ALTER TABLE cases ADD COLUMN timer_keys TEXT NOT NULL DEFAULT '';"
    SQLITE_TIMER_KEYS_FILL
    "DROP INDEX IF EXISTS timers_case;",
    /* 17: a case's journal is found from the case, not by an index: the
     * case's row names its newest run (journal_last) and each run the
     * case's run before it (prev), 0 for none; the index of the runs by
     * case goes. Every step wrote an entry of that index at a random
     * place (a page a step); the case's row is written by the same step
     * anyway, and the store sets journal_last in that UPDATE (sqlite.c
     * journal_ahead). Not a trigger: see step 15. The columns are added
     * and filled in place: a rebuilt journal took twice as long and left
     * the old one's space in the file. */
    "ALTER TABLE journal_runs ADD COLUMN prev INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE cases ADD COLUMN journal_last INTEGER NOT NULL DEFAULT 0;"
    SQLITE_JOURNAL_CHAIN_FILL
    "DROP INDEX IF EXISTS journal_runs_case;",
    /* 18: a case says whether it has tasks a change of its state cancels
     * (tasks_open), so that a step moving a case with none, nearly every
     * reminder, does not look for them: a statement a step. Set by the
     * store with each such task it writes, cleared in the state UPDATE
     * after the cancel (sqlite.c tasks_held). Adding the column writes no
     * row; the fill reads the tasks and writes the cases that have some
     * open. */
    "ALTER TABLE cases ADD COLUMN tasks_open INTEGER NOT NULL DEFAULT 0;"
    SQLITE_TASKS_OPEN_FILL,
    /* 19: a case's messages are found from the case, not by an index of
     * the messages by borrower: the case's row names its newest message
     * (message_last) and each message the case's message before it
     * (prev), 0 for none; a borrower's are those of the borrower's cases
     * (cases_borrower). Every message written took an entry of that index
     * at a random place (a third of a reminder's pages at 100,000 cases);
     * the case's row is written by the same step anyway, and the store
     * sets message_last in that UPDATE (sqlite.c message_last_flush). The
     * columns are added and filled in place, as step 17's. */
    "ALTER TABLE messages ADD COLUMN prev INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE cases ADD COLUMN message_last INTEGER NOT NULL DEFAULT 0;"
    SQLITE_MESSAGE_CHAIN_FILL
    "DROP INDEX IF EXISTS messages_borrower;",
    /* 20: a message's case is no longer looked up as the message is
     * written (its foreign key goes): every reminder's INSERT searched
     * the cases for the row the step had just read, 3.2k to 4.7k
     * instructions of a 108k step (measured). Cases are never deleted
     * (step 7) and the store writes a message only for the case its step
     * holds; the journal's runs have had no such key since step 8. Only
     * the key's text goes, as SQLite documents for removing a constraint
     * (the rows' format is the same): no row is read or written, whatever
     * the book's size. sqlite_migrate makes the connection read the
     * schema again (writable_schema). */
    "PRAGMA writable_schema = ON;"
    "UPDATE sqlite_schema SET sql = replace(sql,"
    "  'case_id TEXT NOT NULL REFERENCES cases(id),', 'case_id TEXT NOT NULL,')"
    "  WHERE type = 'table' AND name = 'messages';",
    /* 21: a step's columns of a case (state, closed, outcome and the
     * pointers a step moves: timer_keys, journal_last, tasks_open,
     * message_last) get a narrow table of their own, case_steps; the
     * rest stays in case_rows. A step rewrote the whole 27-column row
     * (about 126 bytes, 28 cases a leaf page) to change those; now it
     * rewrites a row of a few dozen bytes. The view `cases` joins them
     * in the old column order, so every reader by name is unchanged;
     * its INSTEAD OF triggers let a writer by name (the UPDATE ... FROM
     * fills of a book moved in, a person's sqlite3) write both tables.
     * The store's own writes go to the tables. cases is renamed first
     * (which rewrites the other tables' REFERENCES to case_rows), then
     * rebuilt without the moved columns in key order, as step 9 did;
     * figures_arm_new reads it, so it is made again after. */
    "CREATE TABLE case_steps("
    "  id TEXT PRIMARY KEY," CASE_STEPS_COLUMNS ") WITHOUT ROWID;"
    "INSERT INTO case_steps SELECT id, state, closed, outcome, timer_keys,"
    "  journal_last, tasks_open, message_last FROM cases ORDER BY id;"
    "ALTER TABLE cases RENAME TO case_rows;"
    "CREATE TABLE case_rows_v21("
    "  id TEXT PRIMARY KEY,"
    CASE_ROWS_COLUMNS ") WITHOUT ROWID;"
    "INSERT INTO case_rows_v21 SELECT id, borrower_id, workflow, version, error,"
    "  product, currency, principal, balance, amount_due, fees, due_date,"
    "  opened_at, score, tags, data, queue, on_hold, overpaid, reduced"
    "  FROM case_rows ORDER BY id;"
    "DROP TRIGGER figures_arm_new;"
    "DROP TABLE case_rows;"
    "ALTER TABLE case_rows_v21 RENAME TO case_rows;"
    "CREATE INDEX cases_borrower ON case_rows(borrower_id);"
    "CREATE TRIGGER figures_arm_new AFTER INSERT ON variants BEGIN"
    "  INSERT INTO figures_arms SELECT new.experiment, new.arm, c.workflow,"
    "    1, 0, 0 FROM case_rows c WHERE c.id = new.case_id"
    "    ON CONFLICT DO UPDATE SET cases = cases + 1;"
    "END;"
    CASES_VIEW,
    /* 22: a message queued fresh takes no entry in the outbox's index:
     * the outbox finds those by id, from a cursor kept in meta
     * (outbox.fresh) before which none is queued fresh, as they are
     * written in id order; the index keeps only what is read in its
     * order, the retries and releases (never at next_attempt 0) and the
     * deferred, blocked and failed the console lists (SQLITE_OUTBOX_KEPT).
     * Every reminder wrote an entry at its insert and a delivery moved it
     * (6.5k instructions a message, measured); a delivery of a fresh
     * message now writes none, and the sent ones leave the index. The
     * cursor is set from the old index (a seek) before it goes. */
    SQLITE_OUTBOX_FRESH_FILL
    "DROP INDEX IF EXISTS messages_outbox;"
    "CREATE INDEX messages_outbox ON messages(status, next_attempt, id)"
    "  WHERE " SQLITE_OUTBOX_KEPT ";",
    /* 23: a reminder reads its borrower's contacts from the borrower's
     * row (sqlite_contacts.c): one look-up instead of two, 4k of a step's
     * 87k instructions. The contacts table stays for look-ups by value
     * and reports. NULL (a row written another way) reads the table; the
     * step fills every borrower after this (sqlite_contacts_pack_all). */
    "ALTER TABLE borrowers ADD COLUMN contacts_packed TEXT;",
    /* 24: a case's `opened` row is kept as the array of its values
     * (store.c's store_journal_opened): the object's keys, its id and
     * version were half the bytes an imported case wrote to its journal.
     * The view gives the object again, as it read before; rows kept
     * whole read as they did. */
    "DROP VIEW journal;"
    "CREATE VIEW journal AS SELECT r.id + e.key AS id, r.case_id AS case_id,"
    "  e.value ->> 3 AS at, e.value ->> 0 AS kind, e.value ->> 1 AS state,"
    "  e.value ->> 2 AS version, "
    SQLITE_JOURNAL_DETAIL("e.value", "r.case_id") " AS detail"
    "  FROM journal_runs r, json_each(r.rows) e;",
    /* 25: a timer's case is no longer looked up as the timer is deleted
     * or set (its foreign key goes), as step 20 did for the messages:
     * every timer fired loaded its row's columns for the key's check,
     * 0.8k instructions of a reminder's 76k, and every timer set searched
     * the cases for the row its step holds. Cases are never deleted
     * (step 7), the store sets a timer only for the case its step or
     * import holds, and a timer whose case is missing is deleted when it
     * comes due (the claim reads its case beside it). Only the key's
     * text goes: no row is read or written, whatever the book's size. */
    "PRAGMA writable_schema = ON;"
    "UPDATE sqlite_schema SET sql = replace(sql,"
    "  'case_id TEXT NOT NULL REFERENCES \"case_rows\"(id),',"
    "  'case_id TEXT NOT NULL,')"
    "  WHERE type = 'table' AND name = 'timers';",
    /* 26: a journal row that has its run's time (the run's `at`, nearly
     * every row: an event's rows are written at once) keeps null in its
     * place (store.c row_open): 13 digits a row, a tenth of the
     * journal's bytes; a `transition`, `timer`, `message` or `event`
     * row keeps its detail as the array of its values, as step 24 did
     * for `opened` (sqlite.h SQLITE_JOURNAL_DETAIL): a sweep's reminder
     * wrote 256 bytes to its run, now 151. The view gives the run's time
     * and the objects for them; rows written before keep their own and
     * read as they did. */
    "DROP VIEW journal;"
    "CREATE VIEW journal AS SELECT r.id + e.key AS id, r.case_id AS case_id,"
    "  " SQLITE_JOURNAL_AT("e.value", "r.at") " AS at,"
    "  e.value ->> 0 AS kind, e.value ->> 1 AS state,"
    "  e.value ->> 2 AS version, "
    SQLITE_JOURNAL_DETAIL("e.value", "r.case_id") " AS detail"
    "  FROM journal_runs r, json_each(r.rows) e;",
    /* 27: a console user's name as people read it ("张敏"), beside the
     * login that stays the key and what the journal keeps (NULL: none).
     * The engine checks it (user.c user_check_display). Only users
     * change: no case row is read or written. */
    "ALTER TABLE users ADD COLUMN display_name TEXT;",
    /* 28: contacts kept once (#19). The table was keyed by borrower and
     * position with an index by value beside it (for a reply matched by
     * its sender): every contact was two B-tree entries, 71.7 bytes a
     * case. A borrower's contacts are read from its row's packed copy
     * (23), so the table is now keyed by value, the reply's look-up, and
     * the index goes. A contact without a value (a third party with no
     * phone) keeps an empty blob, X'', in the key: no text equals it (''
     * stays ''), a reply's sender is text, and readers by name see NULL
     * again (nullif(value, X'')). One table, not a side table or a view:
     * a view's writes need triggers naming contacts, which turn off the
     * claim's borrower read (815dd46), a side table is a second tree a
     * re-import writes, and moving a book, counts and dumps keep reading
     * one table. The copies were packed again from the table just before
     * (migrate()): the table is the truth they must say. */
    "CREATE TABLE contacts_v28("
    "  value TEXT NOT NULL,"
    "  borrower_id TEXT NOT NULL REFERENCES borrowers(id) ON DELETE CASCADE,"
    "  position INTEGER NOT NULL,"
    "  kind TEXT NOT NULL CHECK (kind = 'phone' OR kind = 'email' OR"
    "    kind = 'third_party'),"
    "  name TEXT, relation TEXT,"
    "  PRIMARY KEY (value, borrower_id, position)) WITHOUT ROWID;"
    "INSERT INTO contacts_v28 SELECT coalesce(value, X''), borrower_id,"
    "  position, kind, name, relation FROM contacts ORDER BY 1, 2, 3;"
    "DROP TABLE contacts;"
    /* The old rename, as 29's: a view or trigger of the owner's that
     * reads contacts would stop today's, the table not being there
     * meanwhile; it reads the new table once renamed. */
    "PRAGMA legacy_alter_table = ON;"
    "ALTER TABLE contacts_v28 RENAME TO contacts;"
    "PRAGMA legacy_alter_table = OFF;",
    /* 29: case_steps becomes a table with a rowid (its id a unique
     * index): a step's write of its case then finds the row by the rowid
     * the claim read beside it (S_CASE_STATE_AT), one seek of integer
     * keys, and overwrites it where it is. Keyed by its text id alone
     * (WITHOUT ROWID) the UPDATE found the row to delete it and searched
     * the text keys again to insert it back. Rebuilt in key order, so
     * that rowids follow ids and a walk of the ids walks the rows; the
     * view and its triggers go with the old table and are made again. */
    "DROP VIEW cases;"
    "CREATE TABLE case_steps_v29("
    "  id TEXT PRIMARY KEY NOT NULL," CASE_STEPS_COLUMNS ");"
    "INSERT INTO case_steps_v29 SELECT id, state, closed, outcome, timer_keys,"
    "  journal_last, tasks_open, message_last FROM case_steps ORDER BY id;"
    "DROP TABLE case_steps;"
    /* The old rename: a view of the owner's that reads case_steps is
     * not parsed again (it reads the new table once renamed), where
     * today's would stop at it, as the table is not there meanwhile. */
    "PRAGMA legacy_alter_table = ON;"
    "ALTER TABLE case_steps_v29 RENAME TO case_steps;"
    "PRAGMA legacy_alter_table = OFF;"
    CASES_VIEW,
    /* 30: a timer keeps its case's case_steps rowid, where the claim
     * finds the case's row in one seek of integer keys, not a search of
     * the id's text keys and then the rowid (TIMERS_DUE_FROM). A hint:
     * NULL or stale, the claim finds no row and the step reads the case
     * by id. Filled here by the id, one look-up a timer. */
    "ALTER TABLE timers ADD COLUMN step_row INTEGER;"
    "UPDATE timers SET step_row = (SELECT s.rowid FROM case_steps s"
    "  WHERE s.id = timers.case_id);",
    /* 31: one person's tasks (GET /v1/tasks?assignee=, what `user
     * disable` names) found down an index, those of a status in id order
     * (the rowid ends each entry): without it the page read every task
     * of the book for the few someone holds. Only
     * tasks someone claimed or did are in it (an open task has no
     * assignee), so a task a workflow opens pays nothing for it. The
     * index is built with one read of the tasks; nothing is rewritten. */
    "CREATE INDEX IF NOT EXISTS tasks_assignee ON tasks(assignee, status)"
    "  WHERE assignee IS NOT NULL;",
    /* 32: the tasks people hold now (GET /v1/tasks?status=claimed), in
     * id order: the page walked every task of the book by id for the few
     * claimed. Only claimed tasks are in it, so a task a workflow opens
     * pays nothing; a claim and a completion move one entry. Built with
     * one read of the tasks; nothing is rewritten. */
    "CREATE INDEX IF NOT EXISTS tasks_claimed ON tasks(id)"
    "  WHERE status = 'claimed';",
    /* 33: case_rows keyed by its case's case_steps rowid: the claim
     * reads a timer's case as two seeks of integer keys from the timer's
     * step_row (schema 30), where case_rows was a search of the id's text
     * keys, and a new case's row is appended, not put among the ids (see
     * docs/cli.md for what it saves). Both tables name that integer as a
     * column, step_row, their INTEGER PRIMARY KEY: the link is then kept
     * by VACUUM, a dump and a restore, where a plain rowid may be
     * numbered anew. case_steps keeps its rowids (the timers' step_row
     * stay right). Nothing keys case_rows by id now: readers by id find
     * the case_steps row first (the view cases, the store's writes), and
     * the keys of events, tasks, payments, promises and plans name
     * case_steps(id), which holds the same ids (their text edited in
     * place, as steps 20 and 25 did). A case_rows row without its
     * case_steps row (the view never showed it) stops the step, named.
     * The view, its triggers and figures_arm_new, which read case_rows by
     * id, are made again; the old rename, as 29's, for a view of the
     * owner's reading either table. */
    "SELECT 'case_rows', r.id, 'case_steps row (written by hand? delete"
    "  it or give it one)' FROM case_rows r WHERE NOT EXISTS (SELECT 1"
    "  FROM case_steps s WHERE s.id = r.id) LIMIT 1;"
    "DROP VIEW cases;"
    "DROP TRIGGER IF EXISTS figures_arm_new;"
    "CREATE TABLE case_steps_v33("
    "  id TEXT NOT NULL UNIQUE," CASE_STEPS_COLUMNS ","
    "  step_row INTEGER PRIMARY KEY);"
    "INSERT INTO case_steps_v33 SELECT id, state, closed, outcome, timer_keys,"
    "  journal_last, tasks_open, message_last, rowid FROM case_steps"
    "  ORDER BY rowid;"
    "CREATE TABLE case_rows_v33("
    "  id TEXT NOT NULL,"
    CASE_ROWS_COLUMNS ","
    "  step_row INTEGER PRIMARY KEY);"
    "INSERT INTO case_rows_v33 SELECT r.id, r.borrower_id, r.workflow,"
    "  r.version, r.error, r.product, r.currency, r.principal, r.balance,"
    "  r.amount_due, r.fees, r.due_date, r.opened_at, r.score, r.tags,"
    "  r.data, r.queue, r.on_hold, r.overpaid, r.reduced, s.rowid"
    "  FROM case_steps s JOIN case_rows r ON r.id = s.id ORDER BY s.rowid;"
    "DROP TABLE case_rows;"
    "DROP TABLE case_steps;"
    "PRAGMA legacy_alter_table = ON;"
    "ALTER TABLE case_steps_v33 RENAME TO case_steps;"
    "ALTER TABLE case_rows_v33 RENAME TO case_rows;"
    "PRAGMA legacy_alter_table = OFF;"
    "CREATE INDEX cases_borrower ON case_rows(borrower_id);"
    "CREATE TRIGGER figures_arm_new AFTER INSERT ON variants BEGIN"
    "  INSERT INTO figures_arms SELECT new.experiment, new.arm, c.workflow,"
    "    1, 0, 0 FROM case_steps s JOIN case_rows c ON c.step_row = s.step_row"
    "    AND c.id = s.id WHERE s.id = new.case_id"
    "    ON CONFLICT DO UPDATE SET cases = cases + 1;"
    "END;"
    CASES_VIEW_33
    "PRAGMA writable_schema = ON;"
    "UPDATE sqlite_schema SET sql = replace(replace(sql,"
    "  'REFERENCES \"case_rows\"(id)', 'REFERENCES \"case_steps\"(id)'),"
    "  'REFERENCES case_rows(id)', 'REFERENCES case_steps(id)')"
    "  WHERE type = 'table' AND sql LIKE '%REFERENCES%case_rows%';",
    /* 34: a payment keeps the currency it came in, its case's then: a
     * case imported again in another currency (a Croatian book's HRK ->
     * EUR) counted its earlier payments in the new one, kuna summed as
     * euro. Filled from each case's currency now, the best the book
     * knows of the time of each step (one look-up a payment); every
     * payment after is written with it (sq_payment_insert). NULL only
     * for a row another program writes: readers take the case's. */
    "ALTER TABLE payments ADD COLUMN currency TEXT;"
    "UPDATE payments SET currency = (SELECT r.currency FROM case_steps s"
    "  JOIN case_rows r ON r.step_row = s.step_row AND r.id = s.id"
    "  WHERE s.id = payments.case_id);"
    /* The balances the Overview reads (figures_states, figures_due) are
     * kept each currency apart: a book of CNY and USD loans summed yuan
     * and dollars into one figure. A book of one currency (nearly every
     * one) keeps its rows as they were, that currency named; a book of
     * several is counted again from its cases, once. */
    "CREATE TEMP TABLE money_v34 AS SELECT (SELECT currency FROM case_rows"
    "  LIMIT 1) AS one, EXISTS (SELECT 1 FROM case_rows WHERE currency <>"
    "  (SELECT currency FROM case_rows LIMIT 1)) AS several;"
    "CREATE TABLE figures_states_v34("
    "  workflow TEXT NOT NULL, state TEXT NOT NULL, currency TEXT NOT NULL,"
    "  cases INTEGER NOT NULL, balance INTEGER NOT NULL,"
    "  errors INTEGER NOT NULL, closed INTEGER NOT NULL,"
    "  PRIMARY KEY (workflow, state, currency)) WITHOUT ROWID;"
    "INSERT INTO figures_states_v34 SELECT f.workflow, f.state,"
    "  coalesce(m.one, ''), f.cases, f.balance, f.errors, f.closed"
    "  FROM figures_states f, money_v34 m WHERE NOT m.several;"
    "INSERT INTO figures_states_v34 SELECT workflow, state, currency,"
    "  count(*), sum(balance), sum(error IS NOT NULL), sum(closed) FROM cases"
    "  WHERE (SELECT several FROM money_v34) GROUP BY 1, 2, 3;"
    "CREATE TABLE figures_due_v34("
    "  due_date TEXT NOT NULL, currency TEXT NOT NULL,"
    "  cases INTEGER NOT NULL, balance INTEGER NOT NULL,"
    "  PRIMARY KEY (due_date, currency)) WITHOUT ROWID;"
    "INSERT INTO figures_due_v34 SELECT f.due_date, coalesce(m.one, ''),"
    "  f.cases, f.balance FROM figures_due f, money_v34 m WHERE NOT m.several;"
    "INSERT INTO figures_due_v34 SELECT coalesce(due_date, ''), currency,"
    "  count(*), sum(balance) FROM cases WHERE NOT closed AND"
    "  (SELECT several FROM money_v34) GROUP BY 1, 2;"
    "DROP TABLE money_v34;"
    "DROP TABLE figures_states;"
    "DROP TABLE figures_due;"
    /* The old rename, as 29's: a view of the owner's on the figures
     * reads the new tables once renamed. */
    "PRAGMA legacy_alter_table = ON;"
    "ALTER TABLE figures_states_v34 RENAME TO figures_states;"
    "ALTER TABLE figures_due_v34 RENAME TO figures_due;"
    "PRAGMA legacy_alter_table = OFF;",
    /* 35: a queue's tasks of one status in id order (GET
     * /v1/tasks?queue=&status=, the console's Reassign): tasks_queue
     * gives them in due order, so the page walked every task of the book
     * by id until it had a page of the queue's (a million cases: 74 ms a
     * page, most of the book's tasks done before the first open one). The
     * rowid ends each entry, so (queue, status) is in id order after it.
     * Built with one read of the tasks; nothing is rewritten. */
    "CREATE INDEX IF NOT EXISTS tasks_queue_id ON tasks(queue, status, id);",
    /* 36: a queued message whose case moved on since is not sent (a
     * reminder of what is owed, still queued when the borrower paid in
     * full). A message keeps the state its case was in when written and
     * its step's key (a number the engine draws, never 0); a case keeps
     * the key of the step that last moved it (mover). At send, a case in
     * another state than the message's, moved by another step, has moved
     * on; the step that closed it may still thank. Columns added, no row
     * written: the messages before it carry NULL and go as they did. */
    "ALTER TABLE messages ADD COLUMN state TEXT;"
    "ALTER TABLE messages ADD COLUMN step INTEGER;"
    "ALTER TABLE case_steps ADD COLUMN mover INTEGER NOT NULL DEFAULT 0;"
    /* The view's insert named no columns of case_steps: its row now
     * names them (a case written through the view, a book moved in, is
     * one no step has moved). */
    "DROP TRIGGER cases_insert;"
    "CREATE TRIGGER cases_insert INSTEAD OF INSERT ON cases BEGIN"
    "  INSERT INTO case_steps(id, state, closed, outcome, timer_keys,"
    "    journal_last, tasks_open, message_last) VALUES (new.id, new.state,"
    "    coalesce(new.closed, 0), new.outcome, coalesce(new.timer_keys, ''),"
    "    coalesce(new.journal_last, 0), coalesce(new.tasks_open, 0),"
    "    coalesce(new.message_last, 0));"
    "  INSERT INTO case_rows VALUES (new.id, new.borrower_id, new.workflow,"
    "    new.version, new.error, new.product, new.currency,"
    "    coalesce(new.principal, 0), coalesce(new.balance, 0),"
    "    coalesce(new.amount_due, 0), coalesce(new.fees, 0), new.due_date,"
    "    new.opened_at, new.score, coalesce(new.tags, '[]'),"
    "    coalesce(new.data, '{}'), new.queue, coalesce(new.on_hold, 0),"
    "    coalesce(new.overpaid, 0), coalesce(new.reduced, 0),"
    "    (SELECT step_row FROM case_steps WHERE id = new.id));"
    "END;",
    /* 37: an experiment's arms and the promises keep their money each
     * currency apart: an arm that recovered 1,000.00 CNY and 50,000 KZT
     * read 51,000.00, and the promises by status summed yuan and tenge
     * the same way. A promise keeps the currency it was made in, its
     * case's then (a case holding an open promise cannot change currency,
     * so the promise's money never changes currency under it), filled as
     * step 34 filled the payments'. The promises' counters are keyed by
     * status and currency and an arm's money goes to figures_arms_money,
     * keyed by experiment, arm and currency (the payment's); both counted
     * again from the book's rows, so that an upgraded book reads what a
     * new one would. '' is a currency no row named (another program's
     * row): readers take the institution's. */
    "ALTER TABLE promises ADD COLUMN currency TEXT;"
    "UPDATE promises SET currency = (SELECT r.currency FROM case_steps s"
    "  JOIN case_rows r ON r.step_row = s.step_row AND r.id = s.id"
    "  WHERE s.id = promises.case_id);"
    "DROP TRIGGER IF EXISTS figures_promise_new;"
    "DROP TRIGGER IF EXISTS figures_promise_change;"
    "DROP TABLE figures_promises;"
    "CREATE TABLE figures_promises("
    "  status TEXT NOT NULL, currency TEXT NOT NULL,"
    "  promises INTEGER NOT NULL, amount INTEGER NOT NULL,"
    "  paid INTEGER NOT NULL, PRIMARY KEY (status, currency)) WITHOUT ROWID;"
    "INSERT INTO figures_promises SELECT status, coalesce(currency, ''),"
    "  count(*), sum(amount), sum(paid) FROM promises GROUP BY 1, 2;"
    "CREATE TRIGGER figures_promise_new AFTER INSERT ON promises BEGIN"
    "  INSERT INTO figures_promises VALUES (new.status,"
    "    coalesce(new.currency, ''), 1, new.amount, new.paid)"
    "    ON CONFLICT DO UPDATE SET promises = promises + 1,"
    "    amount = amount + excluded.amount, paid = paid + excluded.paid;"
    "END;"
    /* a promise whose currency another writer changes moves with it */
    "CREATE TRIGGER figures_promise_change AFTER UPDATE OF status, paid,"
    "  currency ON promises WHEN old.status IS NOT new.status"
    "  OR old.paid IS NOT new.paid OR old.currency IS NOT new.currency BEGIN"
    "  UPDATE figures_promises SET promises = promises - 1,"
    "    amount = amount - old.amount, paid = paid - old.paid"
    "    WHERE status = old.status AND currency = coalesce(old.currency, '');"
    "  INSERT INTO figures_promises VALUES (new.status,"
    "    coalesce(new.currency, ''), 1, new.amount, new.paid)"
    "    ON CONFLICT DO UPDATE SET promises = promises + 1,"
    "    amount = amount + excluded.amount, paid = paid + excluded.paid;"
    "END;"
    /* An arm keeps its cases and those closed paid (counts add across
     * currencies); its money moves to figures_arms_money. */
    "DROP TRIGGER IF EXISTS figures_arm_paid;"
    "DROP TRIGGER IF EXISTS figures_arm_new;"
    "CREATE TRIGGER figures_arm_new AFTER INSERT ON variants BEGIN"
    "  INSERT INTO figures_arms(experiment, arm, workflow, cases,"
    "    closed_paid) SELECT new.experiment, new.arm, c.workflow, 1, 0"
    "    FROM case_steps s JOIN case_rows c ON c.step_row = s.step_row"
    "    AND c.id = s.id WHERE s.id = new.case_id"
    "    ON CONFLICT DO UPDATE SET cases = cases + 1;"
    "END;"
    "CREATE TABLE figures_arms_money("
    "  experiment TEXT NOT NULL, arm TEXT NOT NULL, currency TEXT NOT NULL,"
    "  recovered INTEGER NOT NULL,"
    "  PRIMARY KEY (experiment, arm, currency)) WITHOUT ROWID;"
    /* CROSS JOIN: each arm case's payments by their case (payments_case),
     * never every payment of the book. The trigger names no case table:
     * the claim keeps the cases it read only while no trigger but the
     * view's may write one (sqlite.c, S_CASE_TRIGGERS). */
    "INSERT INTO figures_arms_money SELECT v.experiment, v.arm,"
    "  coalesce(p.currency, ''), sum(p.amount)"
    "  FROM variants v CROSS JOIN payments p ON p.case_id = v.case_id"
    "  GROUP BY 1, 2, 3;"
    /* A payment made before its case drew its arm (a variant drawn in a
     * later state, on an event) was never the arm's: the trigger counted
     * what came after. The rows cannot tell when a case drew it; the
     * arm's own counter can: where the arm recovered in one currency, or
     * nothing, its money is that counter (an arm that had read 0 read
     * 1,000.00 after the step: a payment made before its case joined the
     * experiment, counted in). */
    "UPDATE figures_arms_money SET recovered = (SELECT a.recovered"
    "  FROM figures_arms a WHERE a.experiment = figures_arms_money.experiment"
    "  AND a.arm = figures_arms_money.arm)"
    "  WHERE (SELECT a.recovered FROM figures_arms a"
    "  WHERE a.experiment = figures_arms_money.experiment"
    "  AND a.arm = figures_arms_money.arm) = 0 OR NOT EXISTS (SELECT 1"
    "  FROM figures_arms_money o WHERE o.experiment ="
    "  figures_arms_money.experiment AND o.arm = figures_arms_money.arm"
    "  AND o.currency <> figures_arms_money.currency);"
    "DELETE FROM figures_arms_money WHERE recovered = 0;"
    "ALTER TABLE figures_arms DROP COLUMN recovered;"
    "CREATE TRIGGER figures_arm_paid AFTER INSERT ON payments BEGIN"
    "  INSERT INTO figures_arms_money SELECT experiment, arm,"
    "    coalesce(new.currency, ''), new.amount FROM variants"
    "    WHERE case_id = new.case_id"
    "    ON CONFLICT DO UPDATE SET recovered = recovered + excluded.recovered;"
    "END;",
    /* 38: My work's counts (due now, due today) are kept, not counted
     * at each load: they read every waiting task of the queue, 362M
     * instructions a load at a million (93 % of GET /v1/work). The
     * waiting tasks are counted by queue, UTC day of their due time
     * (SQLITE_TASK_DAY), and whether claimed and by whom (a named
     * agent's counts leave out what colleagues hold); a load sums the
     * queue's days before the one its bound falls in and reads that
     * day's tasks from tasks_queue up to the bound. UTC days, not the
     * institution's: the desk's day ends at a local midnight, which a
     * zone's offset (or its change) puts anywhere in a UTC day, and the
     * part day read from the index takes any bound. Kept by the store's
     * own task writes, as figures_states is (step 15: no trigger on
     * tasks). A row whose count falls to 0 goes: a queue's past days
     * would pile up, each collector's too. */
    "CREATE TABLE figures_tasks("
    "  queue TEXT NOT NULL, day INTEGER NOT NULL, claimed INTEGER NOT NULL,"
    "  assignee TEXT NOT NULL, n INTEGER NOT NULL,"
    "  PRIMARY KEY (queue, day, claimed, assignee)) WITHOUT ROWID;"
    "INSERT INTO figures_tasks " SQLITE_TASK_COUNTS_OF_ROWS ";",
    /* 39: a message waits on a move: messages.step keeps the key of the
     * move it was written after (its own step's, when that step moved the
     * case; else the case's mover then, 0 for none), and its case has
     * moved on once the case's mover is another, whatever state it is in:
     * a reminder written in `reminded`, its case paid, the payment
     * bounced and back in `reminded` before the reminder went, went. A
     * waiting message written before kept its step's key and went while
     * its case was in its state: one whose case is there still waits on
     * the case's mover now (it goes, as it would have); the others keep
     * their key (moved on, as they were). Only the waiting messages are
     * read: those messages_outbox holds, and the fresh ones from the
     * outbox's cursor on (SQLITE_OUTBOX_FRESH_FILL); each one's case by
     * its id. */
    "UPDATE messages SET step = (SELECT s.mover FROM case_steps s"
    "  WHERE s.id = messages.case_id)"
    "  WHERE id IN (SELECT id FROM messages WHERE " SQLITE_OUTBOX_KEPT
    "  AND status IN ('queued', 'deferred') UNION ALL SELECT id FROM"
    "  messages WHERE id >= coalesce((SELECT CAST(value AS INTEGER) FROM"
    "  meta WHERE key = 'outbox.fresh'), 0) AND status = 'queued'"
    "  AND next_attempt = 0)"
    "  AND state IS NOT NULL AND state = (SELECT s.state FROM case_steps s"
    "  WHERE s.id = messages.case_id)"
    "  AND step IS NOT (SELECT s.mover FROM case_steps s"
    "  WHERE s.id = messages.case_id);",
};

/* The step that fills payments.currency; the one that keeps what tells a
 * message whose case moved on; the one that fills promises.currency. */
enum { STEP_PAYMENT_CURRENCY = 34, STEP_MOVED_ON = 36, STEP_MONEY_BY_ARM = 37 };

static int broken_reference(void *ud, int n, char **values, char **names) {
  char *found = ud;
  (void)names;
  snprintf(found, 200, "%s row %s refers to a missing %s",
           n > 0 && values[0] ? values[0] : "?",
           n > 1 && values[1] ? values[1] : "?",
           n > 2 && values[2] ? values[2] : "?");
  return 1;
}

/* After a step that edited sqlite_schema's text: the schema version one
 * more, which makes this connection and every other read the schema
 * again, and the edits closed (SQLite's documented procedure). */
static int schema_edited(sqlite3 *db, char **msg) {
  sqlite3_stmt *s;
  char sql[64];
  int v = -1;
  if (sqlite3_prepare_v2(db, "PRAGMA schema_version", -1, &s, NULL) ==
      SQLITE_OK) {
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
  }
  if (v < 0) {
    *msg = sqlite3_mprintf("read schema_version: %s", sqlite_why(db));
    return 1;
  }
  snprintf(sql, sizeof sql, "PRAGMA schema_version = %d", v + 1);
  return sqlite3_exec(db, sql, NULL, NULL, msg) != SQLITE_OK ||
         sqlite3_exec(db, "PRAGMA writable_schema = OFF", NULL, NULL, msg) !=
             SQLITE_OK;
}

/* Step 21 makes cases a view: a trigger of the book's owner on the table
 * cases would go with the old table, unsaid (one that reads cases from
 * another table stops the step, by SQLite's own check). Before 21 recoup
 * has none on cases. Refused, naming it, before anything is changed. */
static int own_trigger_on_cases(sqlite3 *db, rc_error *err) {
  sqlite3_stmt *s;
  int found = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT name FROM sqlite_schema WHERE type = 'trigger'"
                         " AND tbl_name = 'cases' COLLATE NOCASE LIMIT 1",
                         -1, &s, NULL) != SQLITE_OK)
    return rc_error_set(err, RC_ESTORE, NULL,
                        "database migration 21 failed: %s (%d)",
                        sqlite_why(db), sqlite3_extended_errcode(db));
  if (sqlite3_step(s) == SQLITE_ROW) {
    found = 1;
    rc_error_set(err, RC_ESTORE, NULL,
                 "database migration 21 failed: the trigger %s of your own "
                 "is on the table cases, which this step makes a view of "
                 "two tables: drop it first and make it again after on "
                 "case_rows or case_steps (docs/cli.md); nothing was changed",
                 (const char *)sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  return found;
}

/* Steps 28, 29 and 33 copy the columns recoup made of the table they make
 * again (contacts; case_steps; both case tables): a column the book's owner
 * added (ALTER TABLE ... ADD COLUMN) would be gone with its values, unsaid.
 * Refused, naming it, before anything is changed. */
static int own_column_on(sqlite3 *db, int step, const char *table,
                         const char *known, rc_error *err) {
  sqlite3_stmt *s;
  int found = 0;
  char *sql = sqlite3_mprintf(
      "SELECT name FROM pragma_table_info('%q') "
      "WHERE name NOT IN (%s) LIMIT 1",
      table, known);
  if (!sql || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    sqlite3_free(sql);
    return rc_error_set(err, RC_ESTORE, NULL,
                        "database migration %d failed: %s (%d)", step,
                        sqlite_why(db), sqlite3_extended_errcode(db));
  }
  sqlite3_free(sql);
  if (sqlite3_step(s) == SQLITE_ROW) {
    found = 1;
    rc_error_set(err, RC_ESTORE, NULL,
                 "database migration %d failed: the column %s of your own "
                 "on the table %s would be lost, as this step makes the "
                 "table again with recoup's columns: copy it to a table of "
                 "your own and drop it (ALTER TABLE %s DROP COLUMN %s), "
                 "then run this again (docs/cli.md); nothing was changed",
                 step, (const char *)sqlite3_column_text(s, 0), table, table,
                 (const char *)sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  return found;
}

/* Step 30 adds timers.step_row, 34 payments.currency: a column of the
 * owner's by that name stopped it with SQLite's "duplicate column name".
 * Said in the owner's terms, with what to do. */
static int own_column_named(sqlite3 *db, int step, const char *table,
                            const char *column, rc_error *err) {
  sqlite3_stmt *s;
  int found;
  char *sql = sqlite3_mprintf("SELECT 1 FROM pragma_table_info('%q') WHERE "
                              "name = '%q' COLLATE NOCASE",
                              table, column);
  if (!sql || sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
    sqlite3_free(sql);
    return rc_error_set(err, RC_ESTORE, NULL,
                        "database migration %d failed: %s (%d)", step,
                        sqlite_why(db), sqlite3_extended_errcode(db));
  }
  sqlite3_free(sql);
  found = sqlite3_step(s) == SQLITE_ROW;
  sqlite3_finalize(s);
  if (found)
    rc_error_set(err, RC_ESTORE, NULL,
                 "database migration %d failed: the column %s of "
                 "your own on the table %s has the name this step "
                 "gives a column of recoup's: rename yours (ALTER TABLE "
                 "%s RENAME COLUMN %s TO another name), then run "
                 "this again (docs/cli.md); nothing was changed",
                 step, column, table, table, column);
  return found;
}

/* Steps 28 and 29 make a table again (contacts; case_steps and the view
 * cases), which drops the triggers and indexes on it: those of the book's
 * owner (recoup's own are in the step) are read first, in the order they
 * were made, as *sql (NULL for none), to be made again after it. 1 when
 * they cannot be read. */
static const char own_on_contacts[] =
    "SELECT sql FROM sqlite_schema WHERE type IN ('trigger', 'index') AND"
    " tbl_name = 'contacts' COLLATE NOCASE AND sql IS NOT NULL AND name NOT"
    " IN ('contacts_value', 'contacts_borrower') ORDER BY rowid";
static const char own_on_steps[] =
    "SELECT sql FROM sqlite_schema WHERE ((type = 'trigger' AND"
    " (tbl_name = 'case_steps' COLLATE NOCASE OR"
    " tbl_name = 'cases' COLLATE NOCASE) AND name NOT IN"
    " ('cases_insert', 'cases_update', 'cases_delete')) OR (type = 'index'"
    " AND tbl_name = 'case_steps' COLLATE NOCASE AND sql IS NOT NULL))"
    " ORDER BY rowid";

/* Step 33 makes case_rows and case_steps again, which drops the
 * triggers and indexes on them, and the view cases with the triggers on
 * it: those of the book's owner, read first as own_on_steps reads them
 * for 29. */
static const char own_on_rows[] =
    "SELECT sql FROM sqlite_schema WHERE ((type = 'trigger' AND"
    " (tbl_name = 'case_rows' COLLATE NOCASE OR"
    " tbl_name = 'case_steps' COLLATE NOCASE OR"
    " tbl_name = 'cases' COLLATE NOCASE) AND name NOT IN"
    " ('cases_insert', 'cases_update', 'cases_delete')) OR (type = 'index'"
    " AND (tbl_name = 'case_rows' COLLATE NOCASE OR"
    " tbl_name = 'case_steps' COLLATE NOCASE) AND sql IS NOT NULL AND"
    " name <> 'cases_borrower')) ORDER BY rowid";

/* Step 30 fills timers.step_row with an UPDATE of every timer, which
 * fires the owner's UPDATE triggers on timers: one that refuses updates
 * (RAISE(ABORT): timers kept append-only) stopped the upgrade, one that
 * drops them (RAISE(IGNORE)) left every timer without its rowid, one
 * that audits wrote a row a timer for a change recoup's hint alone. They
 * are dropped for the step and made again after it, as they were. */
static const char own_on_timers[] =
    "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND"
    " tbl_name = 'timers' COLLATE NOCASE AND sql IS NOT NULL ORDER BY rowid";
/* Step 34 fills payments.currency the same way, past the owner's UPDATE
 * triggers on payments (an audit's, an append-only rule's). recoup's own
 * (figures_arm_paid) is an INSERT trigger, dropped and made again with
 * them, unchanged. */
static const char own_on_payments[] =
    "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND"
    " tbl_name = 'payments' COLLATE NOCASE AND sql IS NOT NULL ORDER BY rowid";

/* Step 37 fills promises.currency the same way, past the owner's UPDATE
 * triggers on promises. recoup's own (figures_promise_new and _change)
 * are made anew by the step. */
static const char own_on_promises[] =
    "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND"
    " tbl_name = 'promises' COLLATE NOCASE AND sql IS NOT NULL AND name NOT"
    " IN ('figures_promise_new', 'figures_promise_change') ORDER BY rowid";

/* Drops the triggers on table that own_on_timers, own_on_payments or
 * own_on_promises read
 * (read first, as *own, by own_objects_on); 1 with *msg when one cannot
 * be dropped. */
static int own_triggers_dropped(sqlite3 *db, const char *table, char **msg) {
  sqlite3_stmt *s;
  char *drop = NULL, *sql;
  int rc;
  sql = sqlite3_mprintf("SELECT name FROM sqlite_schema WHERE type = "
                        "'trigger' AND tbl_name = '%q' COLLATE NOCASE",
                        table);
  rc = sql ? sqlite3_prepare_v2(db, sql, -1, &s, NULL) : SQLITE_NOMEM;
  sqlite3_free(sql);
  if (rc != SQLITE_OK) {
    *msg = sqlite3_mprintf("read triggers: %s", sqlite_why(db));
    return 1;
  }
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    char *more = sqlite3_mprintf("%sDROP TRIGGER \"%w\";", drop ? drop : "",
                                 (const char *)sqlite3_column_text(s, 0));
    sqlite3_free(drop);
    if (!(drop = more)) {
      rc = SQLITE_NOMEM;
      break;
    }
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) {
    sqlite3_free(drop);
    *msg = sqlite3_mprintf("read triggers: %s", sqlite3_errstr(rc));
    return 1;
  }
  rc = drop ? sqlite3_exec(db, drop, NULL, NULL, msg) : SQLITE_OK;
  sqlite3_free(drop);
  return rc != SQLITE_OK;
}

static int own_objects_on(sqlite3 *db, const char *query, char **sql,
                          char **msg) {
  sqlite3_stmt *s;
  size_t len = 0;
  int rc = SQLITE_DONE;
  *sql = NULL;
  if (sqlite3_prepare_v2(db, query, -1, &s, NULL) != SQLITE_OK) {
    *msg = sqlite3_mprintf("read triggers and indexes: %s", sqlite_why(db));
    return 1;
  }
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(s, 0);
    size_t n = t ? strlen(t) : 0;
    char *more = n ? sqlite3_realloc64(*sql, len + n + 2) : *sql;
    if (!n) continue;
    if (!more) {
      rc = SQLITE_NOMEM;
      break;
    }
    *sql = more;
    memcpy(*sql + len, t, n);
    len += n;
    memcpy(*sql + len, ";", 2);
    len++;
  }
  sqlite3_finalize(s);
  if (rc == SQLITE_DONE) return 0;
  *msg = sqlite3_mprintf("read triggers and indexes: %s", sqlite3_errstr(rc));
  sqlite3_free(*sql);
  *sql = NULL;
  return 1;
}

/* The owner's triggers and indexes read by own_objects_on made again
 * after the step. One that no longer holds on the new table (a unique
 * index on contacts(value) once two contacts lack a number, both X''
 * since 28) stops the step, said in the owner's terms in out. */
static int own_made_again(sqlite3 *db, const char *own, char *out, size_t size,
                          char **msg) {
  if (!own || sqlite3_exec(db, own, NULL, NULL, msg) == SQLITE_OK) return 0;
  snprintf(out, size,
           "a trigger or index of your own on the table this step makes "
           "again cannot be made again after it (%s): drop it and make it "
           "again after the upgrade (docs/cli.md); the book stays as it was "
           "before this step",
           *msg ? *msg : "?");
  return 1;
}

/* A view of the owner's that reads cases stops step 21 inside SQLite with
 * "error in view V: no such table: main.case_rows", naming a table the
 * owner never made: said again in the owner's terms. */
static void own_view_on_cases(const char *msg, char *out, size_t size) {
  static const char lead[] = "error in view ";
  const char *name = msg + sizeof lead - 1, *end;
  if (strncmp(msg, lead, sizeof lead - 1) != 0 ||
      !(end = strchr(name, ':')) || !strstr(end, "case_rows"))
    return;
  snprintf(out, size,
           "the view %.*s of your own reads the table cases, which this step "
           "makes a view of two tables: drop it first and make it again "
           "after (docs/cli.md); nothing was changed",
           (int)(end - name < 80 ? end - name : 80), name);
}

static int schema_version_read(sqlite3 *db, int *version, rc_error *err) {
  sqlite3_stmt *s;
  int target = (int)(sizeof migrations / sizeof migrations[0]);
  *version = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) !=
      SQLITE_OK)
    return rc_error_set(err, RC_ESTORE, NULL,
                        "database: read schema version: %s (%d)",
                        sqlite_why(db), sqlite3_extended_errcode(db));
  if (sqlite3_step(s) == SQLITE_ROW) *version = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  if (*version > target)
    return rc_error_set(err, RC_ESTORE, NULL,
                        "database schema version %d is newer than this "
                        "recoup (%d); upgrade recoup",
                        *version, target);
  return RC_OK;
}

/* Foreign keys and defensive mode back as they were before the steps. */
static int migrate_end(sqlite3 *db, int defensive, int rc) {
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, defensive, (int *)NULL);
  sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
  return rc;
}

/* A new book starts at today's checks generation (engine.c, "checks
 * generations"): written with its first step, so that no process finds it
 * made and without one. A book made before has none: generation 1. */
#define STR_(x) #x
#define STR(x) STR_(x)
#define NEW_BOOK_CHECKS                                              \
  "INSERT INTO meta(key, value) VALUES ('checks.generation', '" STR( \
      RECOUP_CHECKS_GENERATION) "')"

int sqlite_migrate(sqlite3 *db, rc_error *err) {
  int version, target = (int)(sizeof migrations / sizeof migrations[0]);
  int defensive = 0;
  char *msg = NULL, *own = NULL, pragma[64], broken[320] = "";

  if (schema_version_read(db, &version, err) != RC_OK) return RC_ESTORE;
  if (version == target) return RC_OK;
  /* A step that rebuilds a table others refer to drops it first; with
   * foreign keys on, that would delete or refuse. Steps that do so check
   * every reference themselves before they commit. */
  sqlite3_exec(db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
  /* A step that edits sqlite_schema (writable_schema) is refused by a
   * SQLite built defensive: off while the steps run, then as it was. */
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &defensive);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 0, (int *)NULL);
  for (;;) {
    /* Each step reads the version again under the book's write lock: two
     * processes that open a new book together both read 0 above, and
     * the one that waited finds the other's steps done (whoever holds
     * the lock runs the next step, once). */
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK) {
      /* Another process held its write lock past the busy timeout (a
       * long write, an older recoup's service): the upgrade has not
       * begun, and nothing says so in "database is locked" alone. */
      if (sqlite3_errcode(db) == SQLITE_BUSY)
        rc_error_set(err, RC_ESTORE, NULL,
                     "database migration %d has not begun: another process "
                     "kept writing the book for 5 s (%s); run this again "
                     "once it is done",
                     version + 1, msg ? msg : "?");
      else
        rc_error_set(err, RC_ESTORE, NULL, "database migration %d failed: %s",
                     version + 1, msg ? msg : "?");
      sqlite3_free(msg);
      return migrate_end(db, defensive, RC_ESTORE);
    }
    if (schema_version_read(db, &version, err) != RC_OK) {
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return migrate_end(db, defensive, RC_ESTORE);
    }
    if (version == target) break;
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
    if ((version + 1 == 21 && own_trigger_on_cases(db, err)) ||
        (version + 1 == 28 &&
         own_column_on(db, 28, "contacts",
                       "'borrower_id', 'position', 'kind', 'value', 'name',"
                       " 'relation'",
                       err)) ||
        (version + 1 == 29 &&
         own_column_on(db, 29, "case_steps",
                       "'id', 'state', 'closed', 'outcome', 'timer_keys',"
                       " 'journal_last', 'tasks_open', 'message_last'",
                       err)) ||
        (version + 1 == 30 &&
         own_column_named(db, 30, "timers", "step_row", err)) ||
        (version + 1 == 33 &&
         own_column_on(db, 33, "case_rows",
                       "'id', 'borrower_id', 'workflow', 'version', 'error',"
                       " 'product', 'currency', 'principal', 'balance',"
                       " 'amount_due', 'fees', 'due_date', 'opened_at',"
                       " 'score', 'tags', 'data', 'queue', 'on_hold',"
                       " 'overpaid', 'reduced'",
                       err)) ||
        (version + 1 == 33 &&
         own_column_on(db, 33, "case_steps",
                       "'id', 'state', 'closed', 'outcome', 'timer_keys',"
                       " 'journal_last', 'tasks_open', 'message_last'",
                       err)) ||
        (version + 1 == STEP_PAYMENT_CURRENCY &&
         own_column_named(db, STEP_PAYMENT_CURRENCY, "payments", "currency",
                          err)) ||
        (version + 1 == STEP_MOVED_ON &&
         (own_column_named(db, STEP_MOVED_ON, "messages", "state", err) ||
          own_column_named(db, STEP_MOVED_ON, "messages", "step", err) ||
          own_column_named(db, STEP_MOVED_ON, "case_steps", "mover", err))) ||
        (version + 1 == STEP_MONEY_BY_ARM &&
         own_column_named(db, STEP_MONEY_BY_ARM, "promises", "currency",
                          err))) {
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return migrate_end(db, defensive, RC_ESTORE);
    }
    /* 28 packs every borrower again from the table while it is still
     * keyed by borrower (a walk in key order, no sort). */
    if ((version + 1 == 28 &&
         (sqlite_contacts_pack_all(db, &msg) ||
          own_objects_on(db, own_on_contacts, &own, &msg))) ||
        (version + 1 == 29 && own_objects_on(db, own_on_steps, &own, &msg)) ||
        (version + 1 == 30 && (own_objects_on(db, own_on_timers, &own, &msg) ||
                               own_triggers_dropped(db, "timers", &msg))) ||
        (version + 1 == 33 && own_objects_on(db, own_on_rows, &own, &msg)) ||
        (version + 1 == STEP_PAYMENT_CURRENCY &&
         (own_objects_on(db, own_on_payments, &own, &msg) ||
          own_triggers_dropped(db, "payments", &msg))) ||
        (version + 1 == STEP_MONEY_BY_ARM &&
         (own_objects_on(db, own_on_promises, &own, &msg) ||
          own_triggers_dropped(db, "promises", &msg))) ||
        sqlite3_exec(db, migrations[version], broken_reference, broken, &msg) ||
        own_made_again(db, own, broken, sizeof broken, &msg) ||
        (strstr(migrations[version], "writable_schema") &&
         schema_edited(db, &msg)) ||
        (version == 0 && sqlite3_exec(db, NEW_BOOK_CHECKS, NULL, NULL, &msg)) ||
        (version + 1 == 23 && sqlite_contacts_pack_all(db, &msg)) ||
        sqlite3_exec(db, pragma, NULL, NULL, &msg) ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, &msg)) {
      if (version + 1 == 21 && msg && !broken[0])
        own_view_on_cases(msg, broken, sizeof broken);
      rc_error_set(err, RC_ESTORE, NULL, "database migration %d failed: %s",
                   version + 1,
                   broken[0] ? broken
                   : msg     ? msg
                             : "?");
      sqlite3_free(msg);
      sqlite3_free(own);
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      sqlite3_exec(db, "PRAGMA writable_schema = OFF", NULL, NULL, NULL);
      sqlite3_exec(db, "PRAGMA legacy_alter_table = OFF", NULL, NULL, NULL);
      return migrate_end(db, defensive, RC_ESTORE);
    }
    sqlite3_free(own);
    own = NULL;
  }
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  return migrate_end(db, defensive, RC_OK);
}

int store_schema_version(void) {
  return (int)(sizeof migrations / sizeof migrations[0]);
}
