/* Moving a book, SQLite's side (store.h's store_book_*; book.h): a table's
 * rows read as neutral values named by the schema's own columns (SELECT *,
 * so a table the "diet" migrations reshape is read as it now is), rows
 * written by column name, and the figures a copy is checked by. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "store/book.h"
#include "store/sqlite.h"

int book_name_ok(const char *name) {
  if (!name || !*name || strlen(name) > 63) return 0;
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
      return 0;
  return 1;
}

int book_schema_version_row(const char *table, const store_value *cols,
                            int ncols) {
  if (strcmp(table, "meta") != 0) return 0;
  for (int i = 0; i < ncols; i++)
    if (cols[i].name && !strcmp(cols[i].name, "key"))
      return cols[i].type == STORE_TEXT && !strcmp(cols[i].s, "schema.version");
  return 0;
}

/* Columns a store keeps from other rows by itself: never copied, the
 * target derives them. All are SQLite's, found again from the rows copied
 * when a book is moved in (sqlite.c op_book_put): cases.timer_keys (schema
 * migration 16), the keys of its case's pending timers, and the journal's
 * chain (17), cases.journal_last and journal_runs.prev, and whether a
 * case has open tasks (18), cases.tasks_open, the messages' chain
 * (19), cases.message_last and messages.prev, a borrower's contacts
 * packed on its row (23), borrowers.contacts_packed, and a timer's case's
 * case_steps rowid (30), timers.step_row: another book's rowids. And the
 * step keys (35), cases.mover and messages.step, left out together: a
 * message queued before the move, its case moved on by no step since,
 * goes as one written before them (0 and 0 are alike); the next step
 * that moves the case tells them apart again. */
int book_derived(const char *table, const char *column) {
  if (!strcmp(table, "borrowers")) return !strcmp(column, "contacts_packed");
  if (!strcmp(table, "timers")) return !strcmp(column, "step_row");
  if (!strcmp(table, "cases"))
    return !strcmp(column, "timer_keys") || !strcmp(column, "journal_last") ||
           !strcmp(column, "tasks_open") || !strcmp(column, "message_last") ||
           !strcmp(column, "mover");
  if (!strcmp(table, "messages") && !strcmp(column, "step")) return 1;
  return (!strcmp(table, "journal_runs") || !strcmp(table, "messages")) &&
         !strcmp(column, "prev");
}

static int book_fail(sqlite3 *db, rc_error *err, const char *doing,
                     const char *table) {
  return rc_error_set(err, RC_ESTORE, NULL, "database: %s %s: %s (%d)", doing,
                      table, sqlite_why(db), sqlite3_extended_errcode(db));
}

/* Hands each row of a prepared statement to fn, columns named. */
static int book_each(sqlite3 *db, sqlite3_stmt *s, const char *table,
                     store_row_fn fn, void *ud, rc_error *err) {
  int n = sqlite3_column_count(s), rc;
  store_value *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);

  if (!v) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    for (int i = 0; i < n; i++) {
      memset(&v[i], 0, sizeof v[i]);
      v[i].name = sqlite3_column_name(s, i);
      switch (sqlite3_column_type(s, i)) {
        case SQLITE_NULL:
          v[i].type = STORE_NULL;
          break;
        case SQLITE_INTEGER:
          v[i].type = STORE_INT;
          v[i].i = sqlite3_column_int64(s, i);
          break;
        case SQLITE_FLOAT:
          v[i].type = STORE_REAL;
          v[i].r = sqlite3_column_double(s, i);
          break;
        default: /* text; a blob is no value of this schema, read as text */
          v[i].type = STORE_TEXT;
          v[i].s = (const char *)sqlite3_column_text(s, i);
          if (!v[i].s) v[i].s = "";
      }
    }
    if (fn(ud, v, n)) {
      rc = SQLITE_DONE;
      break;
    }
  }
  free(v);
  if (rc != SQLITE_DONE) return book_fail(db, err, "reading", table);
  return RC_OK;
}

/* journal_runs as the book keeps it, each run with a row kept short (its
 * detail an array: `opened`, `transition`, `timer`, `message`, `event`)
 * or with its time kept
 * as the run's (null) given whole, its rows in order. Every run written
 * since step 26 holds ",null," (its first row's time), as may an older
 * run's detail: those are built again to the same text. */
#define BOOK_JOURNAL_RUNS                                                     \
  "SELECT id, case_id, at, n, CASE WHEN instr(rows, '[\"opened\",') OR "     \
  "instr(rows, ',null,') THEN (SELECT '[' || group_concat(CASE WHEN "        \
  "e.value ->> 3 IS NULL OR json_type(e.value, '$[4]') = 'array' THEN "      \
  "'[' || (e.value -> 0) || ',' || (e.value -> 1) || ',' || (e.value -> 2) " \
  "|| ',' || " SQLITE_JOURNAL_AT("e.value", "r.at") " || ',' || coalesce("   \
  SQLITE_JOURNAL_DETAIL("e.value", "r.case_id") ", 'null') || ']' ELSE "    \
  "e.value END, ',') || ']' FROM (SELECT value FROM json_each(r.rows) "      \
  "ORDER BY key) e) ELSE rows END AS rows, prev FROM journal_runs r"

/* A case_steps row whose case_rows row is not at its step_row (one
 * deleted and inserted again by hand, docs/cli.md) is a case the view
 * does not show: the move would leave it behind, and the counts it is
 * checked by, read through the view on both sides, would agree. */
static int book_cases_whole(sqlite3 *db, rc_error *err) {
  sqlite3_stmt *s;
  int rc;
  if (sqlite3_prepare_v2(db,
                         "SELECT s.id FROM case_steps s WHERE NOT EXISTS "
                         "(SELECT 1 FROM case_rows r WHERE r.step_row = "
                         "s.step_row AND r.id = s.id) LIMIT 1",
                         -1, &s, NULL) != SQLITE_OK)
    return book_fail(db, err, "reading", "case_steps");
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW)
    rc = rc_error_set(err, RC_ESTORE, NULL,
                      "case %s has a case_steps row but no case_rows row at "
                      "its step_row (edited by hand?): set that case_rows "
                      "row's step_row to its case_steps row's (docs/cli.md)",
                      (const char *)sqlite3_column_text(s, 0));
  else if (rc == SQLITE_DONE)
    rc = RC_OK;
  else
    rc = book_fail(db, err, "reading", "case_steps");
  sqlite3_finalize(s);
  return rc;
}

int sqlite_book_rows(sqlite3 *db, const char *table, store_row_fn fn, void *ud,
                     rc_error *err) {
  const char *s_text = NULL;
  char sql[256];
  sqlite3_stmt *s;
  int rc;

  /* A case is read and written whole, as the view cases (schema 21):
   * its two tables are not the book's. */
  if (!table)
    snprintf(sql, sizeof sql,
             "SELECT name FROM sqlite_schema WHERE (type = 'table' AND "
             "name NOT LIKE 'sqlite_%%' AND name <> 'case_rows' AND "
             "name <> 'case_steps') OR (type = 'view' AND name = 'cases') "
             "ORDER BY name");
  else if (!book_name_ok(table))
    return rc_error_set(err, RC_EINVAL, NULL, "not a table name: '%s'", table);
  /* Timers are stored by (due, id), ids counting within a due time: read
   * in that order, a backend that numbers them anew keeps their order. */
  else if (!strcmp(table, "timers"))
    snprintf(sql, sizeof sql, "SELECT * FROM timers ORDER BY due, id");
  /* A run's `opened` row kept short goes out whole (as the view reads
   * it): the book it moves to may keep it only so. */
  else if (!strcmp(table, "journal_runs"))
    s_text = BOOK_JOURNAL_RUNS;
  /* A contact without a value keeps X'' in the table's key (schema 28):
   * it goes out as NULL, in the order of a borrower's list. */
  else if (!strcmp(table, "contacts"))
    s_text = "SELECT borrower_id, position, kind, nullif(value, X'') AS "
             "value, name, relation FROM contacts "
             "ORDER BY borrower_id, position";
  else
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\"", table);
  if (table && !strcmp(table, "cases") && (rc = book_cases_whole(db, err)))
    return rc;
  if (sqlite3_prepare_v2(db, s_text ? s_text : sql, -1, &s, NULL) != SQLITE_OK)
    return book_fail(db, err, "reading", table ? table : "the table list");
  rc = book_each(db, s, table ? table : "the table list", fn, ud, err);
  sqlite3_finalize(s);
  return rc;
}

/* INSERT INTO table (the columns given) VALUES (?, ...); meta replaces
 * (a new book has its own 'figures.rolls_from'). */
static int book_prepare(sqlite3 *db, sqlite3_stmt **put, const char *table,
                        const store_value *cols, int ncols, rc_error *err) {
  jbuf sql = {0};
  int rc = RC_OK, n = 0, blank = -1; /* the value a NULL keeps as '' */

  jb_lit(&sql, strcmp(table, "meta") ? "INSERT INTO \""
                                     : "INSERT OR REPLACE INTO \"");
  jb_lit(&sql, table);
  jb_lit(&sql, "\" (");
  for (int i = 0; i < ncols; i++) {
    if (!book_name_ok(cols[i].name)) {
      free(sql.p);
      return rc_error_set(err, RC_EINVAL, NULL, "%s: not a column name: '%s'",
                          table, cols[i].name ? cols[i].name : "");
    }
    if (book_derived(table, cols[i].name)) continue;
    if (!strcmp(table, "contacts") && !strcmp(cols[i].name, "value"))
      blank = n;
    jb_lit(&sql, n++ ? ", \"" : "\"");
    jb_lit(&sql, cols[i].name);
    jb_lit(&sql, "\"");
  }
  jb_lit(&sql, ") VALUES (");
  for (int i = 0; i < n; i++) {
    if (i) jb_lit(&sql, ", ");
    jb_lit(&sql, i == blank ? "coalesce(?, X'')" : "?");
  }
  jb_lit(&sql, ")");
  if (sql.oom)
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  else if (sqlite3_prepare_v3(db, sql.p, -1, SQLITE_PREPARE_PERSISTENT, put,
                              NULL) != SQLITE_OK)
    rc = book_fail(db, err, "writing", table);
  free(sql.p);
  return rc;
}

int sqlite_book_put(sqlite3 *db, sqlite3_stmt **put, char *put_table,
                    size_t size, const char *table, const store_value *cols,
                    int ncols, rc_error *err) {
  char sql[128];
  int rc;

  if (!table) { /* the end: ids go on from the largest (max(id) + 1) */
    sqlite3_finalize(*put);
    *put = NULL;
    put_table[0] = '\0';
    return RC_OK;
  }
  if (!book_name_ok(table))
    return rc_error_set(err, RC_EINVAL, NULL, "not a table name: '%s'", table);
  if (ncols == 0) { /* a table starts: what triggers wrote goes */
    sqlite3_finalize(*put);
    *put = NULL;
    put_table[0] = '\0';
    if (!strcmp(table, "meta")) return RC_OK;
    snprintf(sql, sizeof sql, "DELETE FROM \"%s\"", table);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
      return book_fail(db, err, "emptying", table);
    return RC_OK;
  }
  /* SQLite keeps its schema's version apart (PRAGMA user_version). */
  if (book_schema_version_row(table, cols, ncols)) return RC_OK;
  if (!*put || strcmp(put_table, table) != 0) {
    sqlite3_finalize(*put);
    *put = NULL;
    put_table[0] = '\0';
    if ((rc = book_prepare(db, put, table, cols, ncols, err)) != RC_OK)
      return rc;
    snprintf(put_table, size, "%s", table);
  }
  for (int i = 0, p = 0; i < ncols; i++) {
    if (book_derived(table, cols[i].name)) continue;
    if (++p > sqlite3_bind_parameter_count(*put)) break;
    switch (cols[i].type) {
      case STORE_INT:
        sqlite3_bind_int64(*put, p, cols[i].i);
        break;
      case STORE_REAL:
        sqlite3_bind_double(*put, p, cols[i].r);
        break;
      case STORE_TEXT:
        sqlite3_bind_text(*put, p, cols[i].s, -1, SQLITE_STATIC);
        break;
      default:
        sqlite3_bind_null(*put, p);
    }
  }
  rc = sqlite3_step(*put);
  sqlite3_reset(*put);
  sqlite3_clear_bindings(*put);
  if (rc != SQLITE_DONE) return book_fail(db, err, "writing", table);
  return RC_OK;
}

int sqlite_book_figures(sqlite3 *db, store_row_fn fn, void *ud, rc_error *err) {
  sqlite3_stmt *s;
  store_value v[2] = {{.name = "name", .type = STORE_TEXT, .s = "connections"},
                      {.name = "value", .type = STORE_INT}};
  int rc;

  if (sqlite3_prepare_v2(db, BOOK_FIGURES_SQL, -1, &s, NULL) != SQLITE_OK)
    return book_fail(db, err, "reading", "the book's figures");
  rc = book_each(db, s, "the book's figures", fn, ud, err);
  sqlite3_finalize(s);
  /* A service on a SQLite book says so by its lock file (backup.c), which
   * the command holds: nobody else here. */
  if (rc == RC_OK) fn(ud, v, 2);
  return rc;
}
