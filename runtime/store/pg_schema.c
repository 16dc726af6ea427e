/* The PostgreSQL backend's schema: its own numbered migrations, the same
 * book as the SQLite backend's schema version 15 (runtime/store.c) in
 * PostgreSQL's terms.
 *
 * What differs from SQLite, and why:
 * - Ids come from identity columns (sequences): several nodes insert at
 *   once, and SQLite's max(id) + 1 of a single writer would hand two of
 *   them the same id. Timers get a global id (SQLite counts within a due
 *   time); the sweep still reads them along (due, id).
 * - A journal run's id is taken from a sequence that steps by 64, the most
 *   rows a run holds: its rows are id .. id + n - 1, as in SQLite, without
 *   two nodes having to agree on the last run's end. A run's key is its
 *   case and id (migration 13): every read of runs names the case.
 * - Timers, events and messages carry a claim (claimed_by, claimed_until:
 *   the node and the end of its lease, ms) so that nodes sharing the
 *   database take each row once (pg_claim.c).
 * - Text keys (ids, states, statuses) compare by their bytes, COLLATE
 *   "C" (migration 11), as SQLite compares text, whatever collation the
 *   database was made with.
 * - Times stay bigint milliseconds and money bigint minor units, as in
 *   SQLite; JSON stays text where only the engine reads it. A journal
 *   run's rows are `json` (kept as written, key order included, and
 *   checked on the way in), which the journal view takes apart.
 * - Every counter of the console's figures that follows rows (promises,
 *   experiment arms, cases by state and by due date, messages by status)
 *   is kept by PL/pgSQL triggers; figures by day, which only the engine
 *   knows, by the store's writes. Since migration 4 a node counts its own
 *   transactions' cases and new messages in memory, as SQLite does, and
 *   writes them at the commit (pg_counts.c); the triggers count the rest.
 *   Counter rows are per connection (migration 2), so nodes do not wait
 *   for each other on them.
 *
 * The version is meta's 'schema.version'. Migrations are appended, never
 * edited once released. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* Migration 11's change of a column to compare by its bytes. */
#define BYTES(col) "ALTER " col " TYPE text COLLATE \"C\""

static const char *const migrations[] = {
    /* 1: the book as SQLite's schema version 15 left it */
    "CREATE TABLE borrowers("
    "  id text PRIMARY KEY, name text NOT NULL DEFAULT '', locale text,"
    "  timezone text, address text, employer_name text, employer_phone text,"
    "  employer_address text,"
    "  do_not_contact integer NOT NULL DEFAULT 0,"
    "  ceased integer NOT NULL DEFAULT 0, area text);"
    "CREATE TABLE contacts("
    "  borrower_id text NOT NULL REFERENCES borrowers(id) ON DELETE CASCADE,"
    "  position integer NOT NULL,"
    "  kind text NOT NULL CHECK (kind IN ('phone', 'email', 'third_party')),"
    "  value text, name text, relation text,"
    "  PRIMARY KEY (borrower_id, position));"
    "CREATE INDEX contacts_value ON contacts(value);"
    "CREATE TABLE cases("
    "  id text PRIMARY KEY,"
    "  borrower_id text NOT NULL REFERENCES borrowers(id),"
    "  workflow text NOT NULL, version bigint NOT NULL, state text NOT NULL,"
    "  closed integer NOT NULL DEFAULT 0, outcome text, error text,"
    "  product text, currency text NOT NULL,"
    "  principal bigint NOT NULL DEFAULT 0 CHECK (principal >= 0),"
    "  balance bigint NOT NULL DEFAULT 0,"
    "  amount_due bigint NOT NULL DEFAULT 0,"
    "  fees bigint NOT NULL DEFAULT 0 CHECK (fees >= 0),"
    "  due_date text, opened_at bigint NOT NULL, score double precision,"
    "  tags text NOT NULL DEFAULT '[]', data text NOT NULL DEFAULT '{}',"
    "  queue text, on_hold integer NOT NULL DEFAULT 0,"
    "  overpaid bigint NOT NULL DEFAULT 0 CHECK (overpaid >= 0),"
    "  reduced bigint NOT NULL DEFAULT 0 CHECK (reduced >= 0));"
    "CREATE INDEX cases_borrower ON cases(borrower_id);"
    "CREATE TABLE events("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  case_id text NOT NULL REFERENCES cases(id),"
    "  type text NOT NULL, data text, at bigint NOT NULL,"
    "  status text NOT NULL DEFAULT 'pending'"
    "    CHECK (status IN ('pending', 'failed')),"
    "  claimed_by text, claimed_until bigint);"
    "CREATE INDEX events_pending ON events(status, id);"
    "CREATE INDEX events_failed ON events(case_id, id)"
    "  WHERE status = 'failed';"
    /* A case's own pending events, for claiming them together. */
    "CREATE INDEX events_case_pending ON events(case_id, id)"
    "  WHERE status = 'pending';"
    "CREATE TABLE event_keys(key text PRIMARY KEY, case_id text NOT NULL,"
    "  at bigint NOT NULL, type text);"
    "CREATE TABLE timers("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  due bigint NOT NULL,"
    "  case_id text NOT NULL REFERENCES cases(id),"
    "  event text NOT NULL, data text, scoped integer NOT NULL,"
    "  claimed_by text, claimed_until bigint);"
    "CREATE INDEX timers_due ON timers(due, id);"
    "CREATE INDEX timers_case ON timers(case_id, scoped, event);"
    "CREATE SEQUENCE journal_run_ids INCREMENT BY 64;"
    "CREATE TABLE journal_runs("
    "  id bigint PRIMARY KEY DEFAULT nextval('journal_run_ids'),"
    "  case_id text NOT NULL, at bigint NOT NULL,"
    "  n integer NOT NULL CHECK (n >= 1 AND n <= 64),"
    /* [[kind, state, version, at, detail], ...] */
    "  rows json NOT NULL);"
    "ALTER SEQUENCE journal_run_ids OWNED BY journal_runs.id;"
    "CREATE INDEX journal_runs_case ON journal_runs(case_id, id);"
    "CREATE VIEW journal AS SELECT r.id + e.i - 1 AS id, r.case_id,"
    "  (e.v ->> 3)::bigint AS at, e.v ->> 0 AS kind, e.v ->> 1 AS state,"
    "  (e.v ->> 2)::bigint AS version,"
    "  nullif((e.v -> 4)::text, 'null') AS detail"
    "  FROM journal_runs r,"
    "  json_array_elements(r.rows) WITH ORDINALITY AS e(v, i);"
    "CREATE TABLE messages("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  case_id text NOT NULL REFERENCES cases(id),"
    "  borrower_id text NOT NULL, channel text NOT NULL,"
    "  template text NOT NULL, recipient text, to_kind text, body text,"
    "  status text NOT NULL, reason text, at bigint NOT NULL,"
    "  not_before bigint, attempts integer NOT NULL DEFAULT 0,"
    "  next_attempt bigint, sent_at bigint,"
    "  claimed_by text, claimed_until bigint);"
    "CREATE INDEX messages_borrower ON messages(borrower_id, at);"
    "CREATE INDEX messages_outbox ON messages(status, next_attempt, id);"
    "CREATE TABLE tasks("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  case_id text NOT NULL REFERENCES cases(id),"
    "  kind text NOT NULL, queue text, due bigint, assignee text,"
    "  status text NOT NULL"
    "    CHECK (status IN ('open', 'claimed', 'done', 'cancelled')),"
    "  outcome text, fields text, result text, state text,"
    "  keep integer NOT NULL DEFAULT 0, at bigint NOT NULL,"
    "  completed_at bigint, channel text,"
    "  priority double precision NOT NULL DEFAULT 0);"
    "CREATE INDEX tasks_case ON tasks(case_id);"
    "CREATE INDEX tasks_queue ON tasks(queue, status, due);"
    "CREATE INDEX tasks_work ON tasks(queue, priority DESC, due, id, status)"
    "  WHERE status IN ('open', 'claimed');"
    "CREATE TABLE payments("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  case_id text NOT NULL REFERENCES cases(id),"
    "  amount bigint NOT NULL CHECK (amount > 0), ref text UNIQUE,"
    "  at bigint NOT NULL);"
    "CREATE INDEX payments_case ON payments(case_id);"
    "CREATE TABLE promises("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  case_id text NOT NULL REFERENCES cases(id),"
    "  amount bigint NOT NULL, by_date text NOT NULL,"
    "  paid bigint NOT NULL DEFAULT 0, status text NOT NULL,"
    "  at bigint NOT NULL);"
    "CREATE INDEX promises_case ON promises(case_id, status);"
    "CREATE INDEX promises_due ON promises(status, by_date);"
    "CREATE TABLE plans("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  case_id text NOT NULL REFERENCES cases(id),"
    "  total bigint NOT NULL, grace bigint NOT NULL DEFAULT 0,"
    "  status text NOT NULL, at bigint NOT NULL);"
    "CREATE INDEX plans_case ON plans(case_id, status);"
    "CREATE TABLE installments("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  plan_id bigint NOT NULL REFERENCES plans(id),"
    "  seq integer NOT NULL, due_date text NOT NULL, amount bigint NOT NULL,"
    "  paid bigint NOT NULL DEFAULT 0, status text NOT NULL);"
    "CREATE INDEX installments_plan ON installments(plan_id, seq);"
    "CREATE TABLE variants(case_id text NOT NULL, experiment text NOT NULL,"
    "  arm text NOT NULL, PRIMARY KEY (case_id, experiment));"
    "CREATE TABLE users("
    "  name text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
    "  role text NOT NULL"
    "    CHECK (role IN ('agent', 'supervisor', 'read', 'admin')),"
    "  queues text NOT NULL DEFAULT '[]',"
    "  password_hash text NOT NULL,"
    "  disabled integer NOT NULL DEFAULT 0,"
    "  created_at bigint NOT NULL);"
    "CREATE TABLE users_log("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  at bigint NOT NULL, name text NOT NULL, change text NOT NULL,"
    "  address text);"
    "CREATE TABLE sessions("
    "  id text PRIMARY KEY CHECK (length(id) = 64),"
    "  name text NOT NULL REFERENCES users(name) ON DELETE CASCADE,"
    "  created_at bigint NOT NULL, last_seen bigint NOT NULL,"
    "  expires_at bigint NOT NULL, address text);"
    "CREATE INDEX sessions_name ON sessions(name);"
    /* The console's counters (SQLite's migration 15 says why each). */
    "CREATE TABLE figures_states("
    "  workflow text NOT NULL, state text NOT NULL,"
    "  cases bigint NOT NULL, balance bigint NOT NULL,"
    "  errors bigint NOT NULL, closed bigint NOT NULL,"
    "  PRIMARY KEY (workflow, state));"
    "CREATE TABLE figures_due("
    "  due_date text PRIMARY KEY, cases bigint NOT NULL,"
    "  balance bigint NOT NULL);"
    "CREATE TABLE figures_messages("
    "  status text PRIMARY KEY, messages bigint NOT NULL);"
    "CREATE TABLE figures_promises("
    "  status text PRIMARY KEY, promises bigint NOT NULL,"
    "  amount bigint NOT NULL, paid bigint NOT NULL);"
    "CREATE TABLE figures_arms("
    "  experiment text NOT NULL, arm text NOT NULL, workflow text NOT NULL,"
    "  cases bigint NOT NULL, recovered bigint NOT NULL,"
    "  closed_paid bigint NOT NULL,"
    "  PRIMARY KEY (experiment, arm));"
    "CREATE TABLE figures_days("
    "  figure text NOT NULL, day text NOT NULL, a text NOT NULL,"
    "  b text NOT NULL, c text NOT NULL, n bigint NOT NULL,"
    "  amount bigint NOT NULL,"
    "  PRIMARY KEY (figure, day, a, b, c));"
    /* "user" is a keyword in PostgreSQL: quoted wherever it is named. */
    "CREATE TABLE figures_promise_users("
    "  promise_id bigint PRIMARY KEY, \"user\" text NOT NULL);"
    "CREATE TABLE figures_roll_log("
    "  case_id text NOT NULL, month text NOT NULL, due_date text,"
    "  status integer NOT NULL, now_due text, now_status integer NOT NULL,"
    "  opened text NOT NULL,"
    "  PRIMARY KEY (case_id, month));"
    "CREATE TABLE figures_rolls("
    "  month text NOT NULL, from_bucket integer NOT NULL,"
    "  to_bucket integer NOT NULL, cases bigint NOT NULL,"
    "  PRIMARY KEY (month, from_bucket, to_bucket));"
    /* Promises by status: a new promise counts in its status... */
    "CREATE FUNCTION figures_promise_new() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_promises AS f"
    "    VALUES (NEW.status, 1, NEW.amount, NEW.paid)"
    "    ON CONFLICT (status) DO UPDATE SET promises = f.promises + 1,"
    "    amount = f.amount + EXCLUDED.amount, paid = f.paid + EXCLUDED.paid;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER figures_promise_new AFTER INSERT ON promises"
    "  FOR EACH ROW EXECUTE FUNCTION figures_promise_new();"
    /* ...and one that changes moves from its old status to its new. */
    "CREATE FUNCTION figures_promise_change() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  UPDATE figures_promises SET promises = promises - 1,"
    "    amount = amount - OLD.amount, paid = paid - OLD.paid"
    "    WHERE status = OLD.status;"
    "  INSERT INTO figures_promises AS f"
    "    VALUES (NEW.status, 1, NEW.amount, NEW.paid)"
    "    ON CONFLICT (status) DO UPDATE SET promises = f.promises + 1,"
    "    amount = f.amount + EXCLUDED.amount, paid = f.paid + EXCLUDED.paid;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER figures_promise_change"
    "  AFTER UPDATE OF status, paid ON promises FOR EACH ROW"
    "  WHEN (OLD.status IS DISTINCT FROM NEW.status"
    "    OR OLD.paid IS DISTINCT FROM NEW.paid)"
    "  EXECUTE FUNCTION figures_promise_change();"
    /* An arm's workflow is its first case's. */
    "CREATE FUNCTION figures_arm_new() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_arms AS f SELECT NEW.experiment, NEW.arm,"
    "    c.workflow, 1, 0, 0 FROM cases c WHERE c.id = NEW.case_id"
    "    ON CONFLICT (experiment, arm) DO UPDATE SET cases = f.cases + 1;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER figures_arm_new AFTER INSERT ON variants"
    "  FOR EACH ROW EXECUTE FUNCTION figures_arm_new();"
    "CREATE FUNCTION figures_arm_paid() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  UPDATE figures_arms SET recovered = recovered + NEW.amount"
    "    WHERE (experiment, arm) IN (SELECT experiment, arm FROM variants"
    "    WHERE case_id = NEW.case_id);"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER figures_arm_paid AFTER INSERT ON payments"
    "  FOR EACH ROW EXECUTE FUNCTION figures_arm_paid();"
    /* Cases by workflow and state, and open cases by due date ('' for
     * none), kept as cases are written. SQLite's store sums these in
     * memory through a batch (its triggers would cost every transition);
     * here the database keeps them, each a row upsert. */
    "CREATE FUNCTION figures_state_add(w text, s text, n bigint, b bigint,"
    "  e bigint, c bigint) RETURNS void LANGUAGE sql AS $$"
    "  INSERT INTO figures_states AS f VALUES (w, s, n, b, e, c)"
    "    ON CONFLICT (workflow, state) DO UPDATE SET cases = f.cases + n,"
    "    balance = f.balance + b, errors = f.errors + e,"
    "    closed = f.closed + c $$;"
    "CREATE FUNCTION figures_due_add(d text, n bigint, b bigint)"
    "  RETURNS void LANGUAGE sql AS $$"
    "  INSERT INTO figures_due AS f VALUES (coalesce(d, ''), n, b)"
    "    ON CONFLICT (due_date) DO UPDATE SET cases = f.cases + n,"
    "    balance = f.balance + b $$;"
    "CREATE FUNCTION figures_case() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "    PERFORM figures_state_add(NEW.workflow, NEW.state, 1, NEW.balance,"
    "      (NEW.error IS NOT NULL)::int, NEW.closed);"
    "    IF NEW.closed = 0 THEN"
    "      PERFORM figures_due_add(NEW.due_date, 1, NEW.balance);"
    "    END IF;"
    "    RETURN NULL;"
    "  END IF;"
    "  IF OLD.workflow <> NEW.workflow OR OLD.state <> NEW.state"
    "    OR OLD.balance <> NEW.balance OR OLD.closed <> NEW.closed"
    "    OR (OLD.error IS NULL) <> (NEW.error IS NULL) THEN"
    "    PERFORM figures_state_add(OLD.workflow, OLD.state, -1, -OLD.balance,"
    "      -(OLD.error IS NOT NULL)::int, -OLD.closed);"
    "    PERFORM figures_state_add(NEW.workflow, NEW.state, 1, NEW.balance,"
    "      (NEW.error IS NOT NULL)::int, NEW.closed);"
    "  END IF;"
    "  IF OLD.balance <> NEW.balance OR OLD.closed <> NEW.closed"
    "    OR OLD.due_date IS DISTINCT FROM NEW.due_date THEN"
    "    IF OLD.closed = 0 THEN"
    "      PERFORM figures_due_add(OLD.due_date, -1, -OLD.balance);"
    "    END IF;"
    "    IF NEW.closed = 0 THEN"
    "      PERFORM figures_due_add(NEW.due_date, 1, NEW.balance);"
    "    END IF;"
    "  END IF;"
    /* An experiment's arm counts its cases closed paid. */
    "  IF NEW.closed <> 0 AND OLD.closed = 0 AND NEW.outcome = 'paid' THEN"
    "    UPDATE figures_arms SET closed_paid = closed_paid + 1"
    "      WHERE (experiment, arm) IN (SELECT experiment, arm FROM variants"
    "      WHERE case_id = NEW.id);"
    "  END IF;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER figures_case AFTER INSERT OR UPDATE ON cases"
    "  FOR EACH ROW EXECUTE FUNCTION figures_case();"
    /* Messages by status. */
    "CREATE FUNCTION figures_message() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'UPDATE' THEN"
    "    IF OLD.status = NEW.status THEN RETURN NULL; END IF;"
    "    INSERT INTO figures_messages AS f VALUES (OLD.status, -1)"
    "      ON CONFLICT (status) DO UPDATE SET messages = f.messages - 1;"
    "  END IF;"
    "  INSERT INTO figures_messages AS f VALUES (NEW.status, 1)"
    "    ON CONFLICT (status) DO UPDATE SET messages = f.messages + 1;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER figures_message AFTER INSERT OR UPDATE OF status"
    "  ON messages FOR EACH ROW EXECUTE FUNCTION figures_message();"
    /* A new book's roll log starts with its first month. */
    "INSERT INTO meta(key, value) VALUES ('figures.rolls_from', '0000-00')"
    "  ON CONFLICT (key) DO NOTHING;",
    /* 2: counters in slots. With one row a counter, every node's batch
     * that moved a case in or out of a state waited at that row for the
     * other node's commit, and two batches that took two counters in
     * opposite orders deadlocked. Now each connection adds to rows of its
     * own slot (figures_slot(): the setting recoup.slot, which a store
     * takes at connect under an advisory lock, pg.c's slot_take), so no
     * two connections write one counter row; the figures are the sums
     * over slots. Rows of slot 0 are the counts before this migration
     * (and those of a connection that found no free slot). */
    "CREATE FUNCTION figures_slot() RETURNS integer LANGUAGE sql STABLE AS $$"
    "  SELECT coalesce(nullif(current_setting('recoup.slot', true), ''),"
    "    '0')::integer $$;"
    "ALTER TABLE figures_states ADD COLUMN slot integer NOT NULL DEFAULT 0,"
    "  DROP CONSTRAINT figures_states_pkey,"
    "  ADD PRIMARY KEY (workflow, state, slot);"
    "ALTER TABLE figures_due ADD COLUMN slot integer NOT NULL DEFAULT 0,"
    "  DROP CONSTRAINT figures_due_pkey, ADD PRIMARY KEY (due_date, slot);"
    "ALTER TABLE figures_messages ADD COLUMN slot integer NOT NULL DEFAULT 0,"
    "  DROP CONSTRAINT figures_messages_pkey, ADD PRIMARY KEY (status, slot);"
    "ALTER TABLE figures_promises ADD COLUMN slot integer NOT NULL DEFAULT 0,"
    "  DROP CONSTRAINT figures_promises_pkey, ADD PRIMARY KEY (status, slot);"
    "ALTER TABLE figures_arms ADD COLUMN slot integer NOT NULL DEFAULT 0,"
    "  DROP CONSTRAINT figures_arms_pkey,"
    "  ADD PRIMARY KEY (experiment, arm, slot);"
    "ALTER TABLE figures_days ADD COLUMN slot integer NOT NULL DEFAULT 0,"
    "  DROP CONSTRAINT figures_days_pkey,"
    "  ADD PRIMARY KEY (figure, day, a, b, c, slot);"
    /* A change is a negative row in the writer's slot, not an update of
     * the row the count is in (which may be another node's). */
    "CREATE OR REPLACE FUNCTION figures_promise_add(s text, n bigint,"
    "  a bigint, p bigint) RETURNS void LANGUAGE sql AS $$"
    "  INSERT INTO figures_promises AS f VALUES (s, n, a, p, figures_slot())"
    "    ON CONFLICT (status, slot) DO UPDATE SET"
    "    promises = f.promises + n, amount = f.amount + a,"
    "    paid = f.paid + p $$;"
    "CREATE OR REPLACE FUNCTION figures_promise_new() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  PERFORM figures_promise_add(NEW.status, 1, NEW.amount, NEW.paid);"
    "  RETURN NULL;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_promise_change() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  PERFORM figures_promise_add(OLD.status, -1, -OLD.amount, -OLD.paid);"
    "  PERFORM figures_promise_add(NEW.status, 1, NEW.amount, NEW.paid);"
    "  RETURN NULL;"
    "END $$;"
    /* An arm's counters: cases, recovered and closed paid as deltas. */
    "CREATE FUNCTION figures_arm_add(k text, n bigint, r bigint, p bigint)"
    "  RETURNS void LANGUAGE sql AS $$"
    "  INSERT INTO figures_arms AS f SELECT v.experiment, v.arm, c.workflow,"
    "    n, r, p, figures_slot() FROM variants v JOIN cases c"
    "    ON c.id = v.case_id WHERE v.case_id = k"
    "    ON CONFLICT (experiment, arm, slot) DO UPDATE SET"
    "    cases = f.cases + n, recovered = f.recovered + r,"
    "    closed_paid = f.closed_paid + p $$;"
    "CREATE OR REPLACE FUNCTION figures_arm_new() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_arms AS f SELECT NEW.experiment, NEW.arm,"
    "    c.workflow, 1, 0, 0, figures_slot() FROM cases c"
    "    WHERE c.id = NEW.case_id"
    "    ON CONFLICT (experiment, arm, slot) DO UPDATE SET"
    "    cases = f.cases + 1;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_arm_paid() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  PERFORM figures_arm_add(NEW.case_id, 0, NEW.amount, 0);"
    "  RETURN NULL;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_state_add(w text, s text, n bigint,"
    "  b bigint, e bigint, c bigint) RETURNS void LANGUAGE sql AS $$"
    "  INSERT INTO figures_states AS f VALUES (w, s, n, b, e, c,"
    "    figures_slot())"
    "    ON CONFLICT (workflow, state, slot) DO UPDATE SET"
    "    cases = f.cases + n, balance = f.balance + b,"
    "    errors = f.errors + e, closed = f.closed + c $$;"
    "CREATE OR REPLACE FUNCTION figures_due_add(d text, n bigint, b bigint)"
    "  RETURNS void LANGUAGE sql AS $$"
    "  INSERT INTO figures_due AS f VALUES (coalesce(d, ''), n, b,"
    "    figures_slot())"
    "    ON CONFLICT (due_date, slot) DO UPDATE SET cases = f.cases + n,"
    "    balance = f.balance + b $$;"
    "CREATE OR REPLACE FUNCTION figures_case() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "    PERFORM figures_state_add(NEW.workflow, NEW.state, 1, NEW.balance,"
    "      (NEW.error IS NOT NULL)::int, NEW.closed);"
    "    IF NEW.closed = 0 THEN"
    "      PERFORM figures_due_add(NEW.due_date, 1, NEW.balance);"
    "    END IF;"
    "    RETURN NULL;"
    "  END IF;"
    "  IF OLD.workflow <> NEW.workflow OR OLD.state <> NEW.state"
    "    OR OLD.balance <> NEW.balance OR OLD.closed <> NEW.closed"
    "    OR (OLD.error IS NULL) <> (NEW.error IS NULL) THEN"
    "    PERFORM figures_state_add(OLD.workflow, OLD.state, -1, -OLD.balance,"
    "      -(OLD.error IS NOT NULL)::int, -OLD.closed);"
    "    PERFORM figures_state_add(NEW.workflow, NEW.state, 1, NEW.balance,"
    "      (NEW.error IS NOT NULL)::int, NEW.closed);"
    "  END IF;"
    "  IF OLD.balance <> NEW.balance OR OLD.closed <> NEW.closed"
    "    OR OLD.due_date IS DISTINCT FROM NEW.due_date THEN"
    "    IF OLD.closed = 0 THEN"
    "      PERFORM figures_due_add(OLD.due_date, -1, -OLD.balance);"
    "    END IF;"
    "    IF NEW.closed = 0 THEN"
    "      PERFORM figures_due_add(NEW.due_date, 1, NEW.balance);"
    "    END IF;"
    "  END IF;"
    "  IF NEW.closed <> 0 AND OLD.closed = 0 AND NEW.outcome = 'paid' THEN"
    "    PERFORM figures_arm_add(NEW.id, 0, 0, 1);"
    "  END IF;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_message() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'UPDATE' THEN"
    "    IF OLD.status = NEW.status THEN RETURN NULL; END IF;"
    "    INSERT INTO figures_messages AS f VALUES (OLD.status, -1,"
    "      figures_slot())"
    "      ON CONFLICT (status, slot) DO UPDATE SET messages = f.messages - 1;"
    "  END IF;"
    "  INSERT INTO figures_messages AS f VALUES (NEW.status, 1, figures_slot())"
    "    ON CONFLICT (status, slot) DO UPDATE SET messages = f.messages + 1;"
    "  RETURN NULL;"
    "END $$;",
    /* 3: the counters' helpers in PL/pgSQL. A function in SQL is planned
     * again at each call (PostgreSQL keeps no plan of its body), and a
     * transition called two: they were half the time of a reminder's
     * UPDATE of its case. PL/pgSQL keeps its statements' plans for the
     * session. Same names, arguments and rows. */
    "CREATE OR REPLACE FUNCTION figures_promise_add(s text, n bigint,"
    "  a bigint, p bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_promises AS f VALUES (s, n, a, p, figures_slot())"
    "    ON CONFLICT (status, slot) DO UPDATE SET"
    "    promises = f.promises + n, amount = f.amount + a,"
    "    paid = f.paid + p;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_arm_add(k text, n bigint, r bigint,"
    "  p bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_arms AS f SELECT v.experiment, v.arm, c.workflow,"
    "    n, r, p, figures_slot() FROM variants v JOIN cases c"
    "    ON c.id = v.case_id WHERE v.case_id = k"
    "    ON CONFLICT (experiment, arm, slot) DO UPDATE SET"
    "    cases = f.cases + n, recovered = f.recovered + r,"
    "    closed_paid = f.closed_paid + p;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_state_add(w text, s text, n bigint,"
    "  b bigint, e bigint, c bigint) RETURNS void LANGUAGE plpgsql AS $$"
    "BEGIN"
    "  INSERT INTO figures_states AS f VALUES (w, s, n, b, e, c,"
    "    figures_slot())"
    "    ON CONFLICT (workflow, state, slot) DO UPDATE SET"
    "    cases = f.cases + n, balance = f.balance + b,"
    "    errors = f.errors + e, closed = f.closed + c;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_due_add(d text, n bigint, b bigint)"
    "  RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_due AS f VALUES (coalesce(d, ''), n, b,"
    "    figures_slot())"
    "    ON CONFLICT (due_date, slot) DO UPDATE SET cases = f.cases + n,"
    "    balance = f.balance + b;"
    "END $$;",
    /* 4: a node counts its own transactions' cases and new messages, summed
     * through the transaction and written at its end (pg_counts.c); the
     * triggers were half a reminder's time on the server. A node says so
     * for each transaction (recoup.counts = 'node', pg.c's op_begin), and
     * the triggers count every other write: a node's outside a
     * transaction, an older release's, one made by hand. A case a node
     * writes without knowing what it counted for is taken out and put
     * back by figures_case_count. An arm's cases closed paid in a node's
     * transaction are counted by a trigger of their own (figures_case
     * counts them for the other writers). */
    "CREATE FUNCTION figures_case_count(k text, sign bigint) RETURNS void"
    "  LANGUAGE plpgsql AS $$ DECLARE c record; BEGIN"
    "  SELECT workflow, state, balance, closed, error, due_date INTO c"
    "    FROM cases WHERE id = k FOR NO KEY UPDATE;"
    "  IF NOT FOUND THEN RETURN; END IF;"
    "  PERFORM figures_state_add(c.workflow, c.state, sign, sign * c.balance,"
    "    sign * (c.error IS NOT NULL)::int, sign * c.closed);"
    "  IF c.closed = 0 THEN"
    "    PERFORM figures_due_add(c.due_date, sign, sign * c.balance);"
    "  END IF;"
    "END $$;"
    "DROP TRIGGER figures_case ON cases;"
    "CREATE TRIGGER figures_case AFTER INSERT OR UPDATE ON cases"
    "  FOR EACH ROW"
    "  WHEN (current_setting('recoup.counts', true) IS DISTINCT FROM 'node')"
    "  EXECUTE FUNCTION figures_case();"
    "CREATE FUNCTION figures_case_paid() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  PERFORM figures_arm_add(NEW.id, 0, 0, 1);"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER figures_case_paid AFTER UPDATE OF closed ON cases"
    "  FOR EACH ROW WHEN (NEW.closed <> 0 AND OLD.closed = 0"
    "    AND NEW.outcome = 'paid'"
    "    AND current_setting('recoup.counts', true) = 'node')"
    "  EXECUTE FUNCTION figures_case_paid();"
    "DROP TRIGGER figures_message ON messages;"
    "CREATE TRIGGER figures_message AFTER UPDATE OF status ON messages"
    "  FOR EACH ROW EXECUTE FUNCTION figures_message();"
    "CREATE TRIGGER figures_message_new AFTER INSERT ON messages"
    "  FOR EACH ROW"
    "  WHEN (current_setting('recoup.counts', true) IS DISTINCT FROM 'node')"
    "  EXECUTE FUNCTION figures_message();",
    /* 5: a node sums its transaction's payments by case and adds them to
     * their arms in one statement at its end (pg.c's counts_write): the
     * trigger's look-up of a payment's arms was two thirds of a payment's
     * INSERT on the server, for cases that mostly have none. The trigger
     * counts every other writer's payments, as migration 4's do. */
    "DROP TRIGGER figures_arm_paid ON payments;"
    "CREATE TRIGGER figures_arm_paid AFTER INSERT ON payments"
    "  FOR EACH ROW"
    "  WHEN (current_setting('recoup.counts', true) IS DISTINCT FROM 'node')"
    "  EXECUTE FUNCTION figures_arm_paid();"
    /* The events claim's oldest queued events, in id order whatever the
     * table's statistics say (pg_claim.c says why). */
    "CREATE INDEX events_unparked ON events(id) WHERE status <> 'failed';",
    /* 6: the outbox claim's due messages, walked in messages_outbox's
     * order whatever the table's statistics say (pg_claim.c says why).
     * Said to return one row: the claim then marks them through the
     * primary key (a thousand, PostgreSQL's guess for a function, had it
     * hash the whole table to mark a few). $1 until, $2 max, $3 now. */
    "CREATE FUNCTION outbox_due(bigint, integer, bigint)"
    "  RETURNS SETOF bigint LANGUAGE plpgsql ROWS 1"
    "  SET enable_bitmapscan = off SET enable_seqscan = off AS $$ BEGIN"
    "  RETURN QUERY SELECT m.id FROM messages m WHERE m.status = 'queued'"
    "    AND m.next_attempt <= $1"
    "    AND (m.claimed_until IS NULL OR m.claimed_until < $3)"
    "    ORDER BY m.next_attempt, m.id LIMIT $2 FOR UPDATE SKIP LOCKED;"
    "END $$;",
    /* 7: a case's pages half filled, so that a sweep's or a payment's
     * write of a case puts its new version on the case's own page: no
     * index touched (a HOT update: no column it writes is indexed), where
     * a full page sent it to another and into both indexes again (the
     * sweep's UPDATE of its states: 3.5 times the server's time, 1.3
     * times the WAL). Pages already full stay so until rewritten
     * (docs/operations.md: VACUUM FULL). */
    "ALTER TABLE cases SET (fillfactor = 50);",
    /* 8: the timers under a lease, for the next-due look-up's second part
     * (pg_claim.c, next_due_sql), which read every timer of the book at
     * each batch to find the few claimed (1,275,000 rows over a 50,000
     * case sweep). Partial: a timer written unclaimed, as a sweep's and an
     * import's are, and a batch's claim (a row lock, no write) touch it
     * not at all; only a lease's claim and its release do. */
    "CREATE INDEX timers_claimed ON timers(claimed_until)"
    "  WHERE claimed_until IS NOT NULL;",
    /* 9: a batch's due timers, walked in timers_due's order whatever the
     * table's statistics say (pg_claim.c, lock_timers_sql, says why), as
     * migration 6's outbox_due walks the outbox. $1 until, $2 max, $3
     * now. */
    "CREATE FUNCTION timers_due(bigint, integer, bigint)"
    "  RETURNS TABLE(id bigint, case_id text, due bigint, event text,"
    "    data text) LANGUAGE plpgsql"
    "  SET enable_bitmapscan = off SET enable_seqscan = off AS $$ BEGIN"
    "  RETURN QUERY SELECT t.id, t.case_id, t.due, t.event, t.data"
    "    FROM timers t WHERE t.due <= $1"
    "    AND (t.claimed_until IS NULL OR t.claimed_until < $3)"
    "    ORDER BY t.due, t.id LIMIT $2 FOR UPDATE OF t SKIP LOCKED;"
    "END $$;",
    /* 10: a message is written without looking its case up, as SQLite's
     * schema 20 does: the key's check (a look-up of the case and a lock
     * on it, through SPI, at each row) was a tenth of the server's work
     * a reminder. Cases are never deleted and a node writes a message
     * only for the case its step holds, as the journal's runs have been
     * written since the start. migrate-store still refuses a message of
     * a case the book does not hold (pg_book.c, put_end). A key a DBA
     * named otherwise stays; nothing is read or rewritten. */
    "ALTER TABLE messages DROP CONSTRAINT IF EXISTS messages_case_id_fkey;",
    /* 11: the keys (ids, states, statuses, dates as text) compare by
     * their bytes, COLLATE "C", as SQLite compares text: under the
     * database's collation each comparison in an index went through
     * strcoll, 5 % of the server's work a reminder. Byte order is the
     * order recoup's reads already asked for (pg.c's C), which an index
     * of the key now serves; equality is the same under either. Only the
     * indexes on these columns are built again, no table is rewritten
     * and no key checked again. The journal view and the two triggers
     * that name a converted column are made again as they were. */
    "DROP VIEW journal;"
    "DROP TRIGGER figures_promise_change ON promises;"
    "DROP TRIGGER figures_message ON messages;"
    "ALTER TABLE borrowers " BYTES("id") ";"
    "ALTER TABLE contacts " BYTES("borrower_id") ", " BYTES("value") ";"
    "ALTER TABLE cases " BYTES("id") ", " BYTES("borrower_id") ", "
    BYTES("workflow") ", " BYTES("state") ", " BYTES("due_date") ", "
    BYTES("queue") ";"
    "ALTER TABLE events " BYTES("case_id") ", " BYTES("status") ", "
    BYTES("type") ";"
    "ALTER TABLE event_keys " BYTES("key") ", " BYTES("case_id") ";"
    "ALTER TABLE timers " BYTES("case_id") ", " BYTES("event") ";"
    "ALTER TABLE journal_runs " BYTES("case_id") ";"
    "ALTER TABLE messages " BYTES("case_id") ", " BYTES("borrower_id") ", "
    BYTES("status") ";"
    "ALTER TABLE tasks " BYTES("case_id") ", " BYTES("queue") ", "
    BYTES("status") ";"
    "ALTER TABLE payments " BYTES("case_id") ", " BYTES("ref") ";"
    "ALTER TABLE promises " BYTES("case_id") ", " BYTES("status") ", "
    BYTES("by_date") ";"
    "ALTER TABLE plans " BYTES("case_id") ", " BYTES("status") ";"
    "ALTER TABLE variants " BYTES("case_id") ", " BYTES("experiment") ", "
    BYTES("arm") ";"
    "ALTER TABLE users " BYTES("name") ";"
    "ALTER TABLE sessions " BYTES("id") ", " BYTES("name") ";"
    "ALTER TABLE meta " BYTES("key") ";"
    "ALTER TABLE figures_states " BYTES("workflow") ", " BYTES("state") ";"
    "ALTER TABLE figures_due " BYTES("due_date") ";"
    "ALTER TABLE figures_messages " BYTES("status") ";"
    "ALTER TABLE figures_promises " BYTES("status") ";"
    "ALTER TABLE figures_arms " BYTES("experiment") ", " BYTES("arm") ", "
    BYTES("workflow") ";"
    "ALTER TABLE figures_days " BYTES("figure") ", " BYTES("day") ", "
    BYTES("a") ", " BYTES("b") ", " BYTES("c") ";"
    "ALTER TABLE figures_roll_log " BYTES("case_id") ", " BYTES("month") ";"
    "ALTER TABLE figures_rolls " BYTES("month") ";"
    "CREATE VIEW journal AS SELECT r.id + e.i - 1 AS id, r.case_id,"
    "  (e.v ->> 3)::bigint AS at, e.v ->> 0 AS kind, e.v ->> 1 AS state,"
    "  (e.v ->> 2)::bigint AS version,"
    "  nullif((e.v -> 4)::text, 'null') AS detail"
    "  FROM journal_runs r,"
    "  json_array_elements(r.rows) WITH ORDINALITY AS e(v, i);"
    "CREATE TRIGGER figures_promise_change"
    "  AFTER UPDATE OF status, paid ON promises FOR EACH ROW"
    "  WHEN (OLD.status IS DISTINCT FROM NEW.status"
    "    OR OLD.paid IS DISTINCT FROM NEW.paid)"
    "  EXECUTE FUNCTION figures_promise_change();"
    "CREATE TRIGGER figures_message AFTER UPDATE OF status ON messages"
    "  FOR EACH ROW EXECUTE FUNCTION figures_message();",
    /* 12: a case's timers by due time, in place of by scope and event:
     * the batch's claim (pg_claim.c, lock_timers_sql) asks of each timer
     * whether its case has an earlier one, which this index answers
     * from its entries, where the old one sent it to every timer's row
     * of the case. The case's other look-ups (cancels, cuts, a lease's
     * retry, a case's timers in due order) name the case first, which
     * either index serves; a case holds a handful of timers, so reading
     * them to match a scope or an event costs what the old index's
     * entries did. No more index entries a timer than before. */
    "DROP INDEX IF EXISTS timers_case;"
    "CREATE INDEX timers_case ON timers(case_id, due, id);",
    /* 13: a journal run keyed by its case and id, in place of by its id
     * with an index by case beside: one index entry a run where there
     * were two (the key's was 2 % of the server's work a reminder). Every
     * read of runs names the case (a case's journal, its pages and
     * `after` cursors) or reads them all (reports, exports, moves); ids
     * still come from the one sequence stepping by 64, unique as before,
     * but the key no longer checks that alone. The key is built again,
     * the table is not rewritten. */
    "ALTER TABLE journal_runs DROP CONSTRAINT journal_runs_pkey;"
    "DROP INDEX journal_runs_case;"
    "ALTER TABLE journal_runs ADD PRIMARY KEY (case_id, id);",
    /* 14: a journal run's rows as text, not json: json's input parsed
     * each run at every INSERT (3 % of the server's work a reminder) to
     * check what the store has checked already, each detail as it built
     * the run (store.c), as SQLite's schema 9 stopped checking it. Its
     * readers (the journal view, a case's journal and pages, the reports)
     * take the rows as json where they read them, parsed there as
     * json_array_elements parsed them already. The table is rewritten
     * (json and text hold the same bytes, but no cast says so); the view
     * is made again over the new column. */
    "DROP VIEW journal;"
    "ALTER TABLE journal_runs ALTER COLUMN rows TYPE text;"
    "CREATE VIEW journal AS SELECT r.id + e.i - 1 AS id, r.case_id,"
    "  (e.v ->> 3)::bigint AS at, e.v ->> 0 AS kind, e.v ->> 1 AS state,"
    "  (e.v ->> 2)::bigint AS version,"
    "  nullif((e.v -> 4)::text, 'null') AS detail"
    "  FROM journal_runs r,"
    "  json_array_elements(r.rows::json) WITH ORDINALITY AS e(v, i);",
    /* 15: the messages' ids cached a hundred at a time by each server
     * process, as a node takes them (pg.c, message_id): uncached, each
     * of a node's hundred nextval calls read and wrote the sequence's
     * page, 2.5k of the server's instructions a message. A process's ids
     * not used when it ends are gaps, as a node's ids taken ahead and not
     * used already are; ids were never in the order messages were
     * written across nodes (each node takes its own hundred). The
     * journal's runs keep an uncached sequence: a case's runs must come
     * in the order they are written, and two processes' caches would
     * interleave them. Nothing is read or rewritten. */
    "ALTER TABLE messages ALTER COLUMN id SET CACHE 100;",
    /* 16: a case's deferred messages (a cancel, pg.c's
     * pg_cancel_deferred_sql) found by their case among the deferred
     * ones alone: down messages_borrower a cancel read every message its
     * borrower was ever sent (2,000 sent reminders, 2,000 rows for two
     * deferred). Only deferred messages are in it, a few in the book
     * (quiet hours, a guard's wait), so a message written or sent pays
     * nothing for it; made with one read of the table. */
    "CREATE INDEX messages_deferred ON messages(case_id)"
    "  WHERE status = 'deferred';",
    /* 17: a console user's name as people read it, as SQLite's 27: only
     * users change. */
    "ALTER TABLE users ADD COLUMN display_name text;",
    /* 18: one person's tasks in id order, as SQLite's 31: only tasks
     * someone claimed or did are in it. The column compares by its bytes
     * first, as 11 made every indexed text column (no table rewritten). */
    "ALTER TABLE tasks " BYTES("assignee") ";"
    "CREATE INDEX IF NOT EXISTS tasks_assignee ON tasks(assignee, status, id)"
    "  WHERE assignee IS NOT NULL;",
    /* 19: the tasks people hold now in id order, as SQLite's 32: only
     * claimed tasks are in it. */
    "CREATE INDEX IF NOT EXISTS tasks_claimed ON tasks(id)"
    "  WHERE status = 'claimed';",
    /* 20: a payment keeps the currency it came in, as SQLite's 34: filled
     * from each case's currency now (every payment row written again,
     * once), written with every payment after. */
    "ALTER TABLE payments ADD COLUMN currency text;"
    "UPDATE payments p SET currency = c.currency FROM cases c"
    "  WHERE c.id = p.case_id;"
    /* The Overview's balances each currency apart, as SQLite's 34: a book
     * of one currency names it on its rows, a book of several is counted
     * again from its cases (into slot 0, the counts before), once. The
     * helpers take the currency; the trigger that counts other writers'
     * changes moves a case's balance when its currency changes. */
    "CREATE TEMP TABLE money_v20 ON COMMIT DROP AS SELECT (SELECT currency"
    "  FROM cases LIMIT 1) AS one, EXISTS (SELECT 1 FROM cases WHERE"
    "  currency <> (SELECT currency FROM cases LIMIT 1)) AS several;"
    "ALTER TABLE figures_states ADD COLUMN currency text COLLATE \"C\""
    "  NOT NULL DEFAULT '', DROP CONSTRAINT figures_states_pkey;"
    "ALTER TABLE figures_due ADD COLUMN currency text COLLATE \"C\""
    "  NOT NULL DEFAULT '', DROP CONSTRAINT figures_due_pkey;"
    "UPDATE figures_states SET currency = coalesce((SELECT one FROM"
    "  money_v20), '') WHERE NOT (SELECT several FROM money_v20);"
    "UPDATE figures_due SET currency = coalesce((SELECT one FROM"
    "  money_v20), '') WHERE NOT (SELECT several FROM money_v20);"
    "DELETE FROM figures_states WHERE (SELECT several FROM money_v20);"
    "DELETE FROM figures_due WHERE (SELECT several FROM money_v20);"
    "INSERT INTO figures_states(workflow, state, currency, cases, balance,"
    "  errors, closed, slot) SELECT workflow, state, currency, count(*),"
    "  coalesce(sum(balance), 0)::bigint, count(error),"
    "  coalesce(sum(closed), 0)::bigint, 0 FROM cases"
    "  WHERE (SELECT several FROM money_v20) GROUP BY 1, 2, 3;"
    "INSERT INTO figures_due(due_date, currency, cases, balance, slot)"
    "  SELECT coalesce(due_date, ''), currency, count(*),"
    "  coalesce(sum(balance), 0)::bigint, 0 FROM cases WHERE closed = 0"
    "  AND (SELECT several FROM money_v20) GROUP BY 1, 2;"
    "ALTER TABLE figures_states"
    "  ADD PRIMARY KEY (workflow, state, currency, slot);"
    "ALTER TABLE figures_due ADD PRIMARY KEY (due_date, currency, slot);"
    "DROP FUNCTION figures_state_add(text, text, bigint, bigint, bigint,"
    "  bigint);"
    "DROP FUNCTION figures_due_add(text, bigint, bigint);"
    /* PL/pgSQL, as 3 made them: planned once a session, not a call */
    "CREATE FUNCTION figures_state_add(w text, s text, k text, n bigint,"
    "  b bigint, e bigint, c bigint) RETURNS void LANGUAGE plpgsql AS $$"
    "BEGIN"
    "  INSERT INTO figures_states AS f(workflow, state, currency, cases,"
    "    balance, errors, closed, slot) VALUES (w, s, k, n, b, e, c,"
    "    figures_slot())"
    "    ON CONFLICT (workflow, state, currency, slot) DO UPDATE SET"
    "    cases = f.cases + n, balance = f.balance + b,"
    "    errors = f.errors + e, closed = f.closed + c;"
    "END $$;"
    "CREATE FUNCTION figures_due_add(d text, k text, n bigint, b bigint)"
    "  RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_due AS f(due_date, currency, cases, balance, slot)"
    "    VALUES (coalesce(d, ''), k, n, b, figures_slot())"
    "    ON CONFLICT (due_date, currency, slot) DO UPDATE SET"
    "    cases = f.cases + n, balance = f.balance + b;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_case() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "    PERFORM figures_state_add(NEW.workflow, NEW.state, NEW.currency, 1,"
    "      NEW.balance, (NEW.error IS NOT NULL)::int, NEW.closed);"
    "    IF NEW.closed = 0 THEN"
    "      PERFORM figures_due_add(NEW.due_date, NEW.currency, 1,"
    "        NEW.balance);"
    "    END IF;"
    "    RETURN NULL;"
    "  END IF;"
    "  IF OLD.workflow <> NEW.workflow OR OLD.state <> NEW.state"
    "    OR OLD.balance <> NEW.balance OR OLD.closed <> NEW.closed"
    "    OR OLD.currency <> NEW.currency"
    "    OR (OLD.error IS NULL) <> (NEW.error IS NULL) THEN"
    "    PERFORM figures_state_add(OLD.workflow, OLD.state, OLD.currency, -1,"
    "      -OLD.balance, -(OLD.error IS NOT NULL)::int, -OLD.closed);"
    "    PERFORM figures_state_add(NEW.workflow, NEW.state, NEW.currency, 1,"
    "      NEW.balance, (NEW.error IS NOT NULL)::int, NEW.closed);"
    "  END IF;"
    "  IF OLD.balance <> NEW.balance OR OLD.closed <> NEW.closed"
    "    OR OLD.currency <> NEW.currency"
    "    OR OLD.due_date IS DISTINCT FROM NEW.due_date THEN"
    "    IF OLD.closed = 0 THEN"
    "      PERFORM figures_due_add(OLD.due_date, OLD.currency, -1,"
    "        -OLD.balance);"
    "    END IF;"
    "    IF NEW.closed = 0 THEN"
    "      PERFORM figures_due_add(NEW.due_date, NEW.currency, 1,"
    "        NEW.balance);"
    "    END IF;"
    "  END IF;"
    "  IF NEW.closed <> 0 AND OLD.closed = 0 AND NEW.outcome = 'paid' THEN"
    "    PERFORM figures_arm_add(NEW.id, 0, 0, 1);"
    "  END IF;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_case_count(k text, sign bigint)"
    "  RETURNS void LANGUAGE plpgsql AS $$ DECLARE c record; BEGIN"
    "  SELECT workflow, state, currency, balance, closed, error, due_date"
    "    INTO c FROM cases WHERE id = k FOR NO KEY UPDATE;"
    "  IF NOT FOUND THEN RETURN; END IF;"
    "  PERFORM figures_state_add(c.workflow, c.state, c.currency, sign,"
    "    sign * c.balance, sign * (c.error IS NOT NULL)::int,"
    "    sign * c.closed);"
    "  IF c.closed = 0 THEN"
    "    PERFORM figures_due_add(c.due_date, c.currency, sign,"
    "      sign * c.balance);"
    "  END IF;"
    "END $$;",
    /* 21: a queue's tasks of one status in id order (GET
     * /v1/tasks?queue=&status=, the console's Reassign), as SQLite's 35:
     * tasks_queue gives them in due order, and the page walked the
     * book's tasks by id. */
    "CREATE INDEX IF NOT EXISTS tasks_queue_id ON tasks(queue, status, id);",
    /* 22: what tells a queued message whose case moved on since, as
     * SQLite's 36: the state and step a message was written in, the key
     * of the step that last moved a case. Columns added, no row written
     * (a column without a default, or a constant one, rewrites nothing):
     * the messages before carry NULL and go as they did. */
    "ALTER TABLE messages ADD COLUMN state text, ADD COLUMN step bigint;"
    "ALTER TABLE cases ADD COLUMN mover bigint NOT NULL DEFAULT 0;",
    /* 23: the arms' and the promises' money each currency apart, as
     * SQLite's 37: a promise keeps its case's currency (filled from each
     * case's now, every promise row written again, once), the promises'
     * counters are keyed by status and currency, an arm's money moves to
     * figures_arms_money by the payment's currency; both counted again
     * from the rows (into slot 0). figures_arm_add keeps an arm's cases
     * and those closed paid: the case trigger that calls it is made
     * again for its new arguments. */
    "ALTER TABLE promises ADD COLUMN currency text;"
    "UPDATE promises p SET currency = c.currency FROM cases c"
    "  WHERE c.id = p.case_id;"
    "DELETE FROM figures_promises;"
    "ALTER TABLE figures_promises ADD COLUMN currency text COLLATE \"C\""
    "  NOT NULL DEFAULT '', DROP CONSTRAINT figures_promises_pkey,"
    "  ADD PRIMARY KEY (status, currency, slot);"
    "INSERT INTO figures_promises(status, currency, promises, amount, paid,"
    "  slot) SELECT status, coalesce(currency, ''), count(*),"
    "  coalesce(sum(amount), 0)::bigint, coalesce(sum(paid), 0)::bigint, 0"
    "  FROM promises GROUP BY 1, 2;"
    "DROP FUNCTION figures_promise_add(text, bigint, bigint, bigint);"
    "CREATE FUNCTION figures_promise_add(s text, k text, n bigint, a bigint,"
    "  p bigint) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_promises AS f(status, currency, promises, amount,"
    "    paid, slot) VALUES (s, k, n, a, p, figures_slot())"
    "    ON CONFLICT (status, currency, slot) DO UPDATE SET"
    "    promises = f.promises + n, amount = f.amount + a,"
    "    paid = f.paid + p;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_promise_new() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  PERFORM figures_promise_add(NEW.status, coalesce(NEW.currency, ''), 1,"
    "    NEW.amount, NEW.paid);"
    "  RETURN NULL;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_promise_change() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  PERFORM figures_promise_add(OLD.status, coalesce(OLD.currency, ''),"
    "    -1, -OLD.amount, -OLD.paid);"
    "  PERFORM figures_promise_add(NEW.status, coalesce(NEW.currency, ''), 1,"
    "    NEW.amount, NEW.paid);"
    "  RETURN NULL;"
    "END $$;"
    /* a promise whose currency another writer changes moves with it */
    "DROP TRIGGER figures_promise_change ON promises;"
    "CREATE TRIGGER figures_promise_change"
    "  AFTER UPDATE OF status, paid, currency ON promises FOR EACH ROW"
    "  WHEN (OLD.status IS DISTINCT FROM NEW.status"
    "    OR OLD.paid IS DISTINCT FROM NEW.paid"
    "    OR OLD.currency IS DISTINCT FROM NEW.currency)"
    "  EXECUTE FUNCTION figures_promise_change();"
    "DROP FUNCTION figures_arm_add(text, bigint, bigint, bigint);"
    "CREATE FUNCTION figures_arm_add(k text, n bigint, p bigint)"
    "  RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_arms AS f(experiment, arm, workflow, cases,"
    "    closed_paid, slot) SELECT v.experiment, v.arm, c.workflow, n, p,"
    "    figures_slot() FROM variants v JOIN cases c ON c.id = v.case_id"
    "    WHERE v.case_id = k"
    "    ON CONFLICT (experiment, arm, slot) DO UPDATE SET"
    "    cases = f.cases + n, closed_paid = f.closed_paid + p;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_arm_new() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_arms AS f(experiment, arm, workflow, cases,"
    "    closed_paid, slot) SELECT NEW.experiment, NEW.arm, c.workflow, 1, 0,"
    "    figures_slot() FROM cases c WHERE c.id = NEW.case_id"
    "    ON CONFLICT (experiment, arm, slot) DO UPDATE SET"
    "    cases = f.cases + 1;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_case_paid() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  PERFORM figures_arm_add(NEW.id, 0, 1);"
    "  RETURN NULL;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_case() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  IF TG_OP = 'INSERT' THEN"
    "    PERFORM figures_state_add(NEW.workflow, NEW.state, NEW.currency, 1,"
    "      NEW.balance, (NEW.error IS NOT NULL)::int, NEW.closed);"
    "    IF NEW.closed = 0 THEN"
    "      PERFORM figures_due_add(NEW.due_date, NEW.currency, 1,"
    "        NEW.balance);"
    "    END IF;"
    "    RETURN NULL;"
    "  END IF;"
    "  IF OLD.workflow <> NEW.workflow OR OLD.state <> NEW.state"
    "    OR OLD.balance <> NEW.balance OR OLD.closed <> NEW.closed"
    "    OR OLD.currency <> NEW.currency"
    "    OR (OLD.error IS NULL) <> (NEW.error IS NULL) THEN"
    "    PERFORM figures_state_add(OLD.workflow, OLD.state, OLD.currency, -1,"
    "      -OLD.balance, -(OLD.error IS NOT NULL)::int, -OLD.closed);"
    "    PERFORM figures_state_add(NEW.workflow, NEW.state, NEW.currency, 1,"
    "      NEW.balance, (NEW.error IS NOT NULL)::int, NEW.closed);"
    "  END IF;"
    "  IF OLD.balance <> NEW.balance OR OLD.closed <> NEW.closed"
    "    OR OLD.currency <> NEW.currency"
    "    OR OLD.due_date IS DISTINCT FROM NEW.due_date THEN"
    "    IF OLD.closed = 0 THEN"
    "      PERFORM figures_due_add(OLD.due_date, OLD.currency, -1,"
    "        -OLD.balance);"
    "    END IF;"
    "    IF NEW.closed = 0 THEN"
    "      PERFORM figures_due_add(NEW.due_date, NEW.currency, 1,"
    "        NEW.balance);"
    "    END IF;"
    "  END IF;"
    "  IF NEW.closed <> 0 AND OLD.closed = 0 AND NEW.outcome = 'paid' THEN"
    "    PERFORM figures_arm_add(NEW.id, 0, 1);"
    "  END IF;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TABLE figures_arms_money("
    "  experiment text COLLATE \"C\" NOT NULL,"
    "  arm text COLLATE \"C\" NOT NULL,"
    "  currency text COLLATE \"C\" NOT NULL, recovered bigint NOT NULL,"
    "  slot integer NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (experiment, arm, currency, slot));"
    "INSERT INTO figures_arms_money SELECT v.experiment, v.arm,"
    "  coalesce(p.currency, ''), sum(p.amount)::bigint, 0"
    "  FROM variants v JOIN payments p ON p.case_id = v.case_id"
    "  GROUP BY 1, 2, 3;"
    /* A payment made before its case drew its arm was never the arm's:
     * where the arm recovered in one currency, or nothing, its money is
     * its own counter, as SQLite's 37. */
    "UPDATE figures_arms_money m SET recovered = a.r FROM (SELECT"
    "  experiment, arm, sum(recovered)::bigint AS r FROM figures_arms"
    "  GROUP BY 1, 2) a WHERE a.experiment = m.experiment AND a.arm = m.arm"
    "  AND (a.r = 0 OR NOT EXISTS (SELECT 1 FROM figures_arms_money o"
    "  WHERE o.experiment = m.experiment AND o.arm = m.arm"
    "  AND o.currency <> m.currency));"
    "DELETE FROM figures_arms_money WHERE recovered = 0;"
    "ALTER TABLE figures_arms DROP COLUMN recovered;"
    /* k's arms, in the payment's currency ('' when it names none: read as
     * the institution's, as SQLite's) */
    "CREATE FUNCTION figures_arm_money_add(k text, cur text, r bigint)"
    "  RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    "  INSERT INTO figures_arms_money AS f SELECT v.experiment, v.arm,"
    "    coalesce(cur, ''), r, figures_slot() FROM variants v"
    "    WHERE v.case_id = k"
    "    ON CONFLICT (experiment, arm, currency, slot) DO UPDATE SET"
    "    recovered = f.recovered + EXCLUDED.recovered;"
    "END $$;"
    "CREATE OR REPLACE FUNCTION figures_arm_paid() RETURNS trigger"
    "  LANGUAGE plpgsql AS $$ BEGIN"
    "  PERFORM figures_arm_money_add(NEW.case_id, NEW.currency, NEW.amount);"
    "  RETURN NULL;"
    "END $$;",
    /* 24: My work's counts kept, as SQLite's 38: the waiting tasks by
     * queue, UTC day of their due time (-1: none, or before 1970),
     * whether claimed and by whom, counted from the rows into slot 0. A
     * trigger keeps them for every writer (a task is written at a
     * person's pace, or once by the step that opens it), in the
     * connection's slot as the other counters; a row whose count comes
     * to 0 goes, so that a queue's past days do not pile up. */
    "CREATE TABLE figures_tasks("
    "  queue text COLLATE \"C\" NOT NULL, day bigint NOT NULL,"
    "  claimed integer NOT NULL, assignee text COLLATE \"C\" NOT NULL,"
    "  n bigint NOT NULL, slot integer NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (queue, day, claimed, assignee, slot));"
    "INSERT INTO figures_tasks(queue, day, claimed, assignee, n, slot)"
    "  SELECT queue, CASE WHEN due IS NULL OR due < 0 THEN -1"
    "  ELSE due / 86400000 END, CASE WHEN status = 'claimed' THEN 1 ELSE 0"
    "  END, CASE WHEN status = 'claimed' THEN coalesce(assignee, '')"
    "  ELSE '' END, count(*), 0 FROM tasks"
    "  WHERE status IN ('open', 'claimed') AND queue IS NOT NULL"
    "  GROUP BY 1, 2, 3, 4;"
    "CREATE FUNCTION figures_task_add(q text, d bigint, s text, a text,"
    "  k bigint) RETURNS void LANGUAGE plpgsql AS $$"
    "  DECLARE dy bigint; c integer; who text; m bigint; BEGIN"
    "  IF q IS NULL OR s IS NULL OR s NOT IN ('open', 'claimed') THEN"
    "    RETURN;"
    "  END IF;"
    "  dy := CASE WHEN d IS NULL OR d < 0 THEN -1 ELSE d / 86400000 END;"
    "  c := CASE WHEN s = 'claimed' THEN 1 ELSE 0 END;"
    "  who := CASE WHEN s = 'claimed' THEN coalesce(a, '') ELSE '' END;"
    "  INSERT INTO figures_tasks AS f(queue, day, claimed, assignee, n, slot)"
    "    VALUES (q, dy, c, who, k, figures_slot())"
    "    ON CONFLICT (queue, day, claimed, assignee, slot) DO UPDATE SET"
    "    n = f.n + k RETURNING f.n INTO m;"
    "  IF m = 0 THEN"
    "    DELETE FROM figures_tasks WHERE queue = q AND day = dy"
    "      AND claimed = c AND assignee = who AND slot = figures_slot()"
    "      AND n = 0;"
    "  END IF;"
    "END $$;"
    "CREATE FUNCTION figures_task() RETURNS trigger LANGUAGE plpgsql AS $$"
    "  BEGIN"
    "  IF TG_OP <> 'INSERT' THEN"
    "    PERFORM figures_task_add(OLD.queue, OLD.due, OLD.status,"
    "      OLD.assignee, -1);"
    "  END IF;"
    "  IF TG_OP <> 'DELETE' THEN"
    "    PERFORM figures_task_add(NEW.queue, NEW.due, NEW.status,"
    "      NEW.assignee, 1);"
    "  END IF;"
    "  RETURN NULL;"
    "END $$;"
    "CREATE TRIGGER figures_task_row AFTER INSERT OR DELETE ON tasks"
    "  FOR EACH ROW EXECUTE FUNCTION figures_task();"
    "CREATE TRIGGER figures_task_change"
    "  AFTER UPDATE OF queue, due, status, assignee ON tasks FOR EACH ROW"
    "  WHEN (OLD.queue IS DISTINCT FROM NEW.queue"
    "    OR OLD.due IS DISTINCT FROM NEW.due"
    "    OR OLD.status IS DISTINCT FROM NEW.status"
    "    OR OLD.assignee IS DISTINCT FROM NEW.assignee)"
    "  EXECUTE FUNCTION figures_task();",
    /* 25: a message waits on a move, as SQLite's 39: its step keeps the
     * key of the move it was written after (its own step's, when that
     * step moved the case; else the case's mover then), and its case has
     * moved on once its mover is another. A waiting message written
     * before kept its step's key and went while its case was in its
     * state: one whose case is there still waits on the case's mover now
     * (it goes, as it would have); the others keep their key (moved on,
     * as they were). Only the waiting messages are read (messages_outbox
     * for the queued, messages_deferred for the deferred). */
    "UPDATE messages m SET step = c.mover FROM cases c"
    "  WHERE m.status IN ('queued', 'deferred') AND m.state IS NOT NULL"
    "  AND c.id = m.case_id AND c.state = m.state"
    "  AND m.step IS DISTINCT FROM c.mover;",
};
#undef BYTES

int pg_schema_version(void) {
  return (int)(sizeof migrations / sizeof migrations[0]);
}

/* Whether a failure on this thread since pg_conflict_take was the
 * server's choice of a victim: a deadlock (40P01) or a serialization
 * failure (40001), or a lock another transaction held past a DBA's
 * lock_timeout (55P03, where SQLite waits out its busy timeout): run
 * again, the other has gone. One thread runs a store's transaction at a time, and
 * pg_fail is where every failure passes, with only the connection in
 * hand. */
static _Thread_local int conflict_seen;

int pg_conflict_take(void) {
  int seen = conflict_seen;
  conflict_seen = 0;
  return seen;
}

int pg_fail(PGconn *c, const PGresult *r, const char *doing, rc_error *err) {
  const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  char text[512];
  size_t n;

  if (state && (!strcmp(state, "40P01") || !strcmp(state, "40001") ||
                !strcmp(state, "55P03")))
    conflict_seen = 1;

  /* libpq's messages end in a newline; ours do not. */
  snprintf(text, sizeof text, "%s", msg && *msg ? msg : "no answer");
  n = strlen(text);
  while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' ')) text[--n] = '\0';
  return rc_error_set(err, RC_ESTORE, NULL, "PostgreSQL: %s: %s", doing, text);
}

/* Runs sql (no parameters, no rows wanted). */
static int schema_exec(PGconn *c, const char *sql, const char *doing,
                       rc_error *err) {
  PGresult *r = PQexec(c, sql);
  int rc = RC_OK;

  if (PQresultStatus(r) != PGRES_COMMAND_OK &&
      PQresultStatus(r) != PGRES_TUPLES_OK)
    rc = pg_fail(c, r, doing, err);
  PQclear(r);
  return rc;
}

/* meta's version under the lock, or 0 when meta does not exist yet. */
static int schema_locked_version(PGconn *c, rc_error *err) {
  PGresult *r = PQexec(c, "SELECT to_regclass('meta') IS NOT NULL");
  int version = 0, has_meta;

  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    version = pg_fail(c, r, "reading the schema version", err);
    PQclear(r);
    return version;
  }
  has_meta = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  if (!has_meta) return 0;
  r = PQexec(c, "SELECT value FROM meta WHERE key = 'schema.version'");
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    version = pg_fail(c, r, "reading the schema version", err);
  } else if (PQntuples(r) == 1) {
    char *end;
    long v = strtol(PQgetvalue(r, 0, 0), &end, 10);
    if (*end != '\0' || v < 0 || v > 100000)
      version = rc_error_set(err, RC_ESTORE, NULL,
                             "PostgreSQL: meta's schema.version is not a "
                             "version: '%s'",
                             PQgetvalue(r, 0, 0));
    else
      version = (int)v;
  }
  PQclear(r);
  return version;
}

int pg_schema_read_version(PGconn *c, rc_error *err) {
  return schema_locked_version(c, err);
}

/* Under the caller's transaction and lock: the missing migrations. */
static int schema_upgrade(PGconn *c, int target, rc_error *err) {
  int version = schema_locked_version(c, err);
  char doing[64], sql[128];
  int rc;

  if (version < 0) return version;
  if (version > target)
    return rc_error_set(err, RC_ESTORE, NULL,
                        "PostgreSQL: the book's schema is version %d, newer "
                        "than this recoup's %d: upgrade recoup",
                        version, target);
  /* Current: nothing to write, so that a role that may only read (a
   * report's, a standby's) opens the book. */
  if (version == target) return RC_OK;
  /* A new book starts at today's checks generation (engine.c); a book
   * made before has none: generation 1. */
  if (version == 0) {
    snprintf(sql, sizeof sql,
             "INSERT INTO meta(key, value) VALUES ('checks.generation', "
             "'%d')",
             RECOUP_CHECKS_GENERATION);
    if ((rc = schema_exec(c,
                          "CREATE TABLE meta(key text PRIMARY KEY, value text)",
                          "creating meta", err)) != RC_OK ||
        (rc = schema_exec(c, sql, "recording the checks generation", err)) !=
            RC_OK)
      return rc;
  }
  for (; version < target; version++) {
    snprintf(doing, sizeof doing, "schema migration %d", version + 1);
    if ((rc = schema_exec(c, migrations[version], doing, err)) != RC_OK)
      return rc;
  }
  snprintf(sql, sizeof sql,
           "INSERT INTO meta(key, value) VALUES ('schema.version', '%d') "
           "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
           target);
  return schema_exec(c, sql, "recording the schema version", err);
}

int pg_schema_migrate(PGconn *c, rc_error *err) {
  return pg_schema_migrate_to(c, pg_schema_version(), err);
}

int pg_schema_migrate_to(PGconn *c, int version, rc_error *err) {
  int rc;

  if (version < 1 || version > pg_schema_version())
    return rc_error_set(err, RC_EINTERNAL, NULL,
                        "PostgreSQL: no schema version %d", version);
  if ((rc = schema_exec(c, "BEGIN", "beginning the migration", err)) != RC_OK)
    return rc;
  /* Nodes started together: the first migrates, the others wait here and
   * then find the book current. The lock ends with the transaction. */
  rc = schema_exec(c, "SELECT pg_advisory_xact_lock(hashtext('recoup.schema'))",
                   "waiting for another node's migration", err);
  if (rc == RC_OK) rc = schema_upgrade(c, version, err);
  if (rc == RC_OK)
    return schema_exec(c, "COMMIT", "committing the migration", err);
  PQclear(PQexec(c, "ROLLBACK"));
  return rc;
}
