/* Moving a book, PostgreSQL's side (store.h's store_book_*; book.h): a
 * table's rows read with the columns the catalog names, rows written by
 * column name, and the figures a copy is checked by. What is this
 * backend's alone stays behind: claims (claimed_by, claimed_until: a book
 * moves with no process running) and counter slots (each counter's rows
 * summed over slots, so that the copy is one row a key as in SQLite). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "store/book.h"
#include "store/pg.h"

/* PostgreSQL's type oids this schema's values come in. */
enum {
  OID_INT8 = 20,
  OID_INT2 = 21,
  OID_INT4 = 23,
  OID_FLOAT4 = 700,
  OID_FLOAT8 = 701,
  OID_NUMERIC = 1700
};

static int is_claim(const char *column) {
  return !strcmp(column, "claimed_by") || !strcmp(column, "claimed_until");
}

/* The SELECT that reads a table: its columns but the claims; a table
 * counted in slots summed over them, by its key without the slot. */
static int rows_select(PGconn *c, const char *table, jbuf *sql, rc_error *err) {
  const char *params[1] = {table};
  PGresult *r =
      PQexecParams(c,
                   "SELECT a.attname, a.atttypid IN (20, 21, 23),"
                   "  coalesce(a.attnum = ANY(i.indkey::int2[]), false)"
                   "  FROM pg_attribute a LEFT JOIN pg_index i"
                   "  ON i.indrelid = a.attrelid AND i.indisprimary"
                   "  WHERE a.attrelid = to_regclass($1) AND a.attnum > 0"
                   "  AND NOT a.attisdropped ORDER BY a.attnum",
                   1, NULL, params, NULL, NULL, 0);
  int n, slots = 0, first = 1, rc = RC_OK;

  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    rc = pg_fail(c, r, "reading the columns of a table", err);
    PQclear(r);
    return rc;
  }
  n = PQntuples(r);
  if (n == 0) {
    PQclear(r);
    return rc_error_set(err, RC_ESTORE, NULL,
                        "PostgreSQL: the book has no table %s", table);
  }
  for (int i = 0; i < n; i++)
    if (!strcmp(PQgetvalue(r, i, 0), "slot")) slots = 1;
  jb_lit(sql, "SELECT ");
  for (int i = 0; i < n; i++) {
    const char *col = PQgetvalue(r, i, 0);
    int integer = PQgetvalue(r, i, 1)[0] == 't';
    int key = PQgetvalue(r, i, 2)[0] == 't';
    if (is_claim(col) || (slots && !strcmp(col, "slot"))) continue;
    if (!book_name_ok(col)) {
      PQclear(r);
      return rc_error_set(err, RC_ESTORE, NULL,
                          "PostgreSQL: %s has a column named '%s'", table, col);
    }
    jb_lit(sql, first ? "" : ", ");
    first = 0;
    if (slots && !key)
      jb_lit(sql, integer ? "CAST(sum(\"" : "min(\"");
    else
      jb_lit(sql, "\"");
    jb_lit(sql, col);
    jb_lit(sql, slots && !key ? (integer ? "\") AS bigint) AS \"" : "\") AS \"")
                              : "\"");
    if (slots && !key) {
      jb_lit(sql, col);
      jb_lit(sql, "\"");
    }
  }
  jb_lit(sql, " FROM \"");
  jb_lit(sql, table);
  jb_lit(sql, "\"");
  /* In key order (the key without the slot, grouped by it). */
  first = 1;
  for (int i = 0; i < n; i++) {
    const char *col = PQgetvalue(r, i, 0);
    if (PQgetvalue(r, i, 2)[0] != 't' || !strcmp(col, "slot")) continue;
    if (slots) {
      jb_lit(sql, first ? " GROUP BY \"" : ", \"");
      jb_lit(sql, col);
      jb_lit(sql, "\"");
      first = 0;
    }
  }
  first = 1;
  for (int i = 0; i < n; i++) {
    const char *col = PQgetvalue(r, i, 0);
    if (PQgetvalue(r, i, 2)[0] != 't' || !strcmp(col, "slot")) continue;
    jb_lit(sql, first ? " ORDER BY \"" : ", \"");
    jb_lit(sql, col);
    jb_lit(sql, "\"");
    first = 0;
  }
  PQclear(r);
  if (sql->oom) rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  return rc;
}

/* Hands each row of a result to fn, typed by the column's oid. */
static int rows_hand(PGresult *r, store_value *v, store_row_fn fn, void *ud) {
  int n = PQnfields(r);

  for (int t = 0; t < PQntuples(r); t++) {
    for (int i = 0; i < n; i++) {
      const char *text = PQgetvalue(r, t, i);
      memset(&v[i], 0, sizeof v[i]);
      v[i].name = PQfname(r, i);
      if (PQgetisnull(r, t, i)) {
        v[i].type = STORE_NULL;
        continue;
      }
      switch (PQftype(r, i)) {
        case OID_INT8:
        case OID_INT2:
        case OID_INT4:
          v[i].type = STORE_INT;
          v[i].i = strtoll(text, NULL, 10);
          break;
        case OID_FLOAT4:
        case OID_FLOAT8:
        case OID_NUMERIC:
          v[i].type = STORE_REAL;
          v[i].r = strtod(text, NULL);
          break;
        default:
          v[i].type = STORE_TEXT;
          v[i].s = text;
      }
    }
    if (fn(ud, v, n)) return 1;
  }
  return 0;
}

/* Runs sql row by row (single-row mode: a table of millions is never
 * held whole) and hands the rows to fn. */
static int rows_run(PGconn *c, const char *sql, const char *doing,
                    store_row_fn fn, void *ud, rc_error *err) {
  PGresult *r;
  store_value *v = NULL;
  int rc = RC_OK, stopped = 0;

  if (!PQsendQuery(c, sql) || !PQsetSingleRowMode(c))
    return pg_fail(c, NULL, doing, err);
  while ((r = PQgetResult(c))) {
    ExecStatusType status = PQresultStatus(r);
    if (status == PGRES_SINGLE_TUPLE && !stopped && rc == RC_OK) {
      if (!v && !(v = calloc((size_t)PQnfields(r) + 1, sizeof *v)))
        rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
      else
        stopped = rows_hand(r, v, fn, ud);
    } else if (status != PGRES_SINGLE_TUPLE && status != PGRES_TUPLES_OK &&
               rc == RC_OK) {
      rc = pg_fail(c, r, doing, err);
    }
    PQclear(r);
  }
  free(v);
  return rc;
}

int pg_book_rows(PGconn *c, const char *table, store_row_fn fn, void *ud,
                 rc_error *err) {
  jbuf sql = {0};
  char doing[96];
  int rc;

  if (!table)
    return rows_run(c,
                    "SELECT tablename AS name FROM pg_tables"
                    " WHERE schemaname = current_schema() ORDER BY 1",
                    "listing the book's tables", fn, ud, err);
  if (!book_name_ok(table))
    return rc_error_set(err, RC_EINVAL, NULL, "not a table name: '%s'", table);
  if ((rc = rows_select(c, table, &sql, err)) == RC_OK) {
    snprintf(doing, sizeof doing, "reading %s", table);
    rc = rows_run(c, sql.p, doing, fn, ud, err);
  }
  free(sql.p);
  return rc;
}

static int put_exec(PGconn *c, const char *sql, const char *doing,
                    rc_error *err) {
  PGresult *r = PQexec(c, sql);
  int rc = RC_OK;

  if (PQresultStatus(r) != PGRES_COMMAND_OK &&
      PQresultStatus(r) != PGRES_TUPLES_OK)
    rc = pg_fail(c, r, doing, err);
  PQclear(r);
  return rc;
}

/* A message of a case the book does not hold, refused as the messages'
 * foreign key to the cases refused it until schema 10 (pg_schema.c) and
 * in PostgreSQL's own words (docs/cli.md gives them): a node never
 * writes one, but a SQLite book may hold one added by hand. One
 * anti-join once the messages are in (the cases came before them). */
static const char STRAY_MESSAGE_SQL[] =
    "DO $$ DECLARE k text; BEGIN"
    "  SELECT m.case_id INTO k FROM messages m WHERE NOT EXISTS"
    "    (SELECT 1 FROM cases c WHERE c.id = m.case_id) LIMIT 1;"
    "  IF FOUND THEN RAISE foreign_key_violation USING MESSAGE ="
    "    'insert or update on table \"messages\" violates foreign key' ||"
    "    ' constraint \"messages_case_id_fkey\"', DETAIL = format("
    "    'Key (case_id)=(%s) is not present in table \"cases\".', k);"
    "  END IF;"
    "END $$";

/* Ends the last table's writing: meta's prepared INSERT is forgotten,
 * another table's COPY ends, and the server answers for all its rows (a
 * row it refused fails the copy here). */
static int put_end(PGconn *c, char *put_table, rc_error *err) {
  char doing[96];
  PGresult *r;
  int rc = RC_OK;

  if (!put_table[0]) return RC_OK;
  snprintf(doing, sizeof doing, "writing %s", put_table);
  if (!strcmp(put_table, "meta")) {
    PQclear(PQexec(c, "DEALLOCATE book_put"));
  } else {
    if (PQputCopyEnd(c, NULL) != 1) rc = pg_fail(c, NULL, doing, err);
    while ((r = PQgetResult(c))) {
      if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == RC_OK)
        rc = pg_fail(c, r, doing, err);
      PQclear(r);
    }
    if (rc == RC_OK && !strcmp(put_table, "messages"))
      rc = put_exec(c, STRAY_MESSAGE_SQL, doing, err);
  }
  put_table[0] = '\0';
  return rc;
}

/* Whether a column of a row is left for this backend to fill: what
 * stores derive (book_derived), and a timer's id (SQLite counts them within a
 * due time; here an identity numbers them, in the order they come, which is
 * (due, id)). */
static int put_skips(const char *table, const char *column) {
  return (!strcmp(table, "timers") && !strcmp(column, "id")) ||
         book_derived(table, column);
}

/* "(the columns given)" into sql; how many, or -1 with err set. */
static int put_columns(jbuf *sql, const char *table, const store_value *cols,
                       int ncols, rc_error *err) {
  int n = 0;

  jb_lit(sql, " (");
  for (int i = 0; i < ncols; i++) {
    if (!book_name_ok(cols[i].name)) {
      rc_error_set(err, RC_EINVAL, NULL, "%s: not a column name: '%s'", table,
                   cols[i].name ? cols[i].name : "");
      return -1;
    }
    if (put_skips(table, cols[i].name)) continue;
    jb_lit(sql, n++ ? ", \"" : "\"");
    jb_lit(sql, cols[i].name);
    jb_lit(sql, "\"");
  }
  jb_lit(sql, ")");
  return n;
}

/* Sends the statement a table's rows go by: meta's INSERT prepared as
 * "book_put", another table's COPY started. Frees sql. */
static int put_statement(PGconn *c, jbuf *sql, const char *table,
                         rc_error *err) {
  int copy = strcmp(table, "meta") != 0, rc = RC_OK;
  char doing[96];
  PGresult *r;

  if (sql->oom) {
    free(sql->p);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  r = copy ? PQexec(c, sql->p) : PQprepare(c, "book_put", sql->p, 0, NULL);
  if (PQresultStatus(r) != (copy ? PGRES_COPY_IN : PGRES_COMMAND_OK)) {
    snprintf(doing, sizeof doing, "writing %s", table);
    rc = pg_fail(c, r, doing, err);
  }
  PQclear(r);
  free(sql->p);
  return rc;
}

/* A table's rows go in one COPY (a round trip a row took ~1 ms: a book of
 * millions of rows took hours). COPY keeps the ids given, as INSERT's
 * OVERRIDING SYSTEM VALUE does: payment refs, task ids and journal ids
 * stay true. */
static int put_copy_start(PGconn *c, const char *table,
                          const store_value *cols, int ncols, rc_error *err) {
  jbuf sql = {0};

  jb_lit(&sql, "COPY \"");
  jb_lit(&sql, table);
  jb_lit(&sql, "\"");
  if (put_columns(&sql, table, cols, ncols, err) < 0) {
    free(sql.p);
    return RC_EINVAL;
  }
  jb_lit(&sql, " FROM STDIN");
  return put_statement(c, &sql, table, err);
}

/* A value in COPY's text format: \N for NULL, and the four characters
 * that would end a field or a row escaped. */
static void copy_value(jbuf *line, const store_value *v) {
  char num[32];
  const char *p, *from;

  switch (v->type) {
    case STORE_INT:
      snprintf(num, sizeof num, "%" PRId64, v->i);
      jb_lit(line, num);
      return;
    case STORE_REAL:
      snprintf(num, sizeof num, "%.17g", v->r);
      jb_lit(line, num);
      return;
    case STORE_TEXT:
      break;
    default:
      jb_lit(line, "\\N");
      return;
  }
  for (p = from = v->s;; p++) {
    const char *esc = *p == '\\'  ? "\\\\"
                      : *p == '\t' ? "\\t"
                      : *p == '\n' ? "\\n"
                      : *p == '\r' ? "\\r"
                                   : NULL;
    if (!esc && *p) continue;
    jb_raw(line, from, (size_t)(p - from));
    if (!*p) return;
    jb_lit(line, esc);
    from = p + 1;
  }
}

/* One row of the table's COPY: libpq gathers rows into large sends. */
static int put_copy_row(PGconn *c, const char *table, const store_value *cols,
                        int ncols, rc_error *err) {
  jbuf line = {0};
  char doing[96];
  int n = 0, rc = RC_OK;

  for (int i = 0; i < ncols; i++) {
    if (put_skips(table, cols[i].name)) continue;
    if (n++) jb_lit(&line, "\t");
    copy_value(&line, &cols[i]);
  }
  jb_lit(&line, "\n");
  if (line.oom) {
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  } else if (PQputCopyData(c, line.p, (int)line.len) != 1) {
    snprintf(doing, sizeof doing, "writing %s", table);
    rc = pg_fail(c, NULL, doing, err);
  }
  free(line.p);
  return rc;
}

/* meta's rows: INSERT, so that a new book's own 'figures.rolls_from'
 * gives way to the source's. */
static int put_prepare(PGconn *c, const char *table, const store_value *cols,
                       int ncols, rc_error *err) {
  jbuf sql = {0};
  int n;

  jb_lit(&sql, "INSERT INTO \"");
  jb_lit(&sql, table);
  jb_lit(&sql, "\" AS t");
  if ((n = put_columns(&sql, table, cols, ncols, err)) < 0) {
    free(sql.p);
    return RC_EINVAL;
  }
  jb_lit(&sql, " VALUES (");
  for (int i = 1; i <= n; i++) {
    char p[16];
    snprintf(p, sizeof p, "%s$%d", i > 1 ? ", " : "", i);
    jb_lit(&sql, p);
  }
  jb_lit(&sql, ") ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value");
  return put_statement(c, &sql, table, err);
}

/* Moves every sequence of the book past the largest value its column
 * holds: identities (ids) and the journal's run ids, which step by 64
 * (the next run then starts at least 64 past the last run's start, past
 * its rows). */
static const char SEQUENCES_SQL[] =
    "DO $$ DECLARE r record; m bigint; BEGIN"
    "  FOR r IN SELECT c.relname AS t, a.attname AS col,"
    "    pg_get_serial_sequence(format('%I', c.relname), a.attname) AS seq"
    "    FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
    "    WHERE c.relnamespace = current_schema()::regnamespace"
    "    AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped LOOP"
    "    CONTINUE WHEN r.seq IS NULL;"
    "    EXECUTE format('SELECT max(%I) FROM %I', r.col, r.t) INTO m;"
    "    IF m IS NOT NULL THEN PERFORM setval(r.seq, m); END IF;"
    "  END LOOP;"
    "END $$";

/* The book's triggers only keep the console's counters (figures_*),
 * which are copied as they are after the rows: firing them for every row
 * copied took three quarters of a move's time. Off for the copy, on
 * again at its end; in TO's transaction, so that a copy rolled back
 * leaves them on. A role that does not own the table cannot turn them
 * off: the copy then goes slower, the same. */
static void put_triggers_off(PGconn *c, const char *table) {
  char sql[128];
  PGresult *r;

  PQclear(PQexec(c, "SAVEPOINT book_triggers"));
  snprintf(sql, sizeof sql, "ALTER TABLE \"%s\" DISABLE TRIGGER USER", table);
  r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK)
    PQclear(PQexec(c, "ROLLBACK TO SAVEPOINT book_triggers"));
  PQclear(r);
  PQclear(PQexec(c, "RELEASE SAVEPOINT book_triggers"));
}

static const char TRIGGERS_ON_SQL[] =
    "DO $$ DECLARE r record; BEGIN"
    "  FOR r IN SELECT DISTINCT c.relname AS t FROM pg_trigger g"
    "    JOIN pg_class c ON c.oid = g.tgrelid"
    "    WHERE c.relnamespace = current_schema()::regnamespace"
    "    AND NOT g.tgisinternal AND g.tgenabled = 'D' LOOP"
    "    EXECUTE format('ALTER TABLE %I ENABLE TRIGGER USER', r.t);"
    "  END LOOP;"
    "END $$";

int pg_book_put(PGconn *c, char *put_table, size_t size, const char *table,
                const store_value *cols, int ncols, rc_error *err) {
  const char *values[96];
  char nums[96][32], doing[96];
  int n = 0, rc;
  PGresult *r;

  if (!table) {
    if ((rc = put_end(c, put_table, err)) != RC_OK ||
        (rc = put_exec(c, TRIGGERS_ON_SQL, "turning the triggers on again",
                       err)) != RC_OK)
      return rc;
    return put_exec(c, SEQUENCES_SQL, "moving the sequences past the ids", err);
  }
  if (!book_name_ok(table))
    return rc_error_set(err, RC_EINVAL, NULL, "not a table name: '%s'", table);
  snprintf(doing, sizeof doing, "writing %s", table);
  if (ncols == 0) { /* a table starts: what triggers wrote goes */
    char sql[128];
    if ((rc = put_end(c, put_table, err)) != RC_OK) return rc;
    if (!strcmp(table, "meta")) return RC_OK;
    put_triggers_off(c, table);
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", table);
    return put_exec(c, sql, doing, err);
  }
  if (book_schema_version_row(table, cols, ncols)) return RC_OK;
  if (ncols > (int)(sizeof values / sizeof values[0]))
    return rc_error_set(err, RC_EINVAL, NULL, "%s: %d columns is too many",
                        table, ncols);
  if (strcmp(put_table, table) != 0) {
    if ((rc = put_end(c, put_table, err)) != RC_OK) return rc;
    rc = strcmp(table, "meta") != 0
             ? put_copy_start(c, table, cols, ncols, err)
             : put_prepare(c, table, cols, ncols, err);
    if (rc != RC_OK) return rc;
    snprintf(put_table, size, "%s", table);
  }
  if (strcmp(table, "meta") != 0)
    return put_copy_row(c, table, cols, ncols, err);
  for (int i = 0; i < ncols; i++) {
    if (put_skips(table, cols[i].name)) continue;
    switch (cols[i].type) {
      case STORE_INT:
        snprintf(nums[n], sizeof nums[n], "%" PRId64, cols[i].i);
        values[n] = nums[n];
        break;
      case STORE_REAL:
        snprintf(nums[n], sizeof nums[n], "%.17g", cols[i].r);
        values[n] = nums[n];
        break;
      case STORE_TEXT:
        values[n] = cols[i].s;
        break;
      default:
        values[n] = NULL;
    }
    n++;
  }
  r = PQexecPrepared(c, "book_put", n, values, NULL, NULL, 0);
  rc =
      PQresultStatus(r) == PGRES_COMMAND_OK ? RC_OK : pg_fail(c, r, doing, err);
  PQclear(r);
  return rc;
}

/* Other connections that hold a counter slot (pg.c's slot_take: every
 * recoup process on the book takes one): a service, a node, a tick. A
 * book in another schema of the database is not counted (PG_SLOT_KEY);
 * an older recoup anywhere in the database is. */
static const char CONNECTIONS_SQL[] =
    "SELECT 'connections', count(DISTINCT pid) FROM pg_locks"
    " WHERE locktype = 'advisory' AND objsubid = 2"
    " AND classid::bigint IN ((" PG_SLOT_KEY
    ")::bigint & 4294967295, hashtext('recoup.slot')::bigint & 4294967295)"
    " AND pid <> pg_backend_pid()"
    " AND database = (SELECT oid FROM pg_database"
    "   WHERE datname = current_database())";

int pg_book_figures(PGconn *c, store_row_fn fn, void *ud, rc_error *err) {
  int rc =
      rows_run(c, BOOK_FIGURES_SQL, "reading the book's figures", fn, ud, err);
  if (rc == RC_OK)
    rc =
        rows_run(c, CONNECTIONS_SQL, "reading who holds the book", fn, ud, err);
  return rc;
}
