/* What the two backends share to move a book (store.h's store_book_*):
 * the statement that reads a book's figures, written once in the SQL
 * both engines speak, so that SQLite and PostgreSQL are checked by the
 * same sums. Only the backends' book files include this header. */
#ifndef RECOUP_STORE_BOOK_H
#define RECOUP_STORE_BOOK_H

#include <sqlite3.h>

#include "recoup/query.h"

/* Rows (name, value): counts per table, sums in minor units. sum() of a
 * bigint is numeric in PostgreSQL: each is cast back to bigint. Counter
 * tables are compared by their sums, not their rows (PostgreSQL keeps a
 * row a slot). meta's schema.version is each backend's own (SQLite keeps
 * the version in PRAGMA user_version). */
#define BOOK_SUM(x) "CAST(coalesce(sum(" x "), 0) AS bigint)"
#define BOOK_COUNT(t) "SELECT '" t "', count(*) FROM " t " UNION ALL "
#define BOOK_FIGURES_SQL  \
  BOOK_COUNT("borrowers") \
  BOOK_COUNT("contacts") BOOK_COUNT("cases") BOOK_COUNT("events")             \
  BOOK_COUNT("event_keys") BOOK_COUNT("timers") BOOK_COUNT("journal_runs")    \
  BOOK_COUNT("messages") BOOK_COUNT("tasks") BOOK_COUNT("payments")           \
  BOOK_COUNT("promises") BOOK_COUNT("plans") BOOK_COUNT("installments")       \
  BOOK_COUNT("variants") BOOK_COUNT("users") BOOK_COUNT("users_log")          \
  BOOK_COUNT("sessions") BOOK_COUNT("figures_promise_users")                  \
  BOOK_COUNT("figures_roll_log") BOOK_COUNT("figures_rolls")                  \
  "SELECT 'meta', count(*) FROM meta WHERE key <> 'schema.version' "          \
  "UNION ALL SELECT 'journal rows', " BOOK_SUM("n") " FROM journal_runs "     \
  "UNION ALL SELECT 'balance ' || currency, " BOOK_SUM("balance")             \
  " FROM cases GROUP BY currency "                                            \
  "UNION ALL SELECT 'amount due ' || currency, " BOOK_SUM("amount_due")       \
  " FROM cases GROUP BY currency "                                            \
  "UNION ALL SELECT 'principal ' || currency, " BOOK_SUM("principal")         \
  " FROM cases GROUP BY currency "                                            \
  "UNION ALL SELECT 'fees ' || currency, " BOOK_SUM("fees")                   \
  " FROM cases GROUP BY currency "                                            \
  "UNION ALL SELECT 'overpaid ' || currency, " BOOK_SUM("overpaid")           \
  " FROM cases GROUP BY currency "                                            \
  "UNION ALL SELECT 'reduced ' || currency, " BOOK_SUM("reduced")             \
  " FROM cases GROUP BY currency "                                            \
  "UNION ALL SELECT 'payments ' || coalesce(p.currency, c.currency), "       \
  BOOK_SUM("p.amount") " FROM payments p JOIN cases c ON c.id = p.case_id "   \
  "GROUP BY coalesce(p.currency, c.currency) "                                \
  "UNION ALL SELECT 'promised', " BOOK_SUM("amount") " FROM promises "        \
  "UNION ALL SELECT 'promised paid', " BOOK_SUM("paid") " FROM promises "     \
  "UNION ALL SELECT 'plans total', " BOOK_SUM("total") " FROM plans "         \
  "UNION ALL SELECT 'installments amount', " BOOK_SUM("amount")                      \
  " FROM installments "                                                       \
  "UNION ALL SELECT 'installments paid', " BOOK_SUM("paid")                   \
  " FROM installments "                                                       \
  "UNION ALL SELECT 'figures_states cases', " BOOK_SUM("cases")               \
  " FROM figures_states "                                                     \
  "UNION ALL SELECT 'figures_states balance', " BOOK_SUM("balance")           \
  " FROM figures_states "                                                     \
  "UNION ALL SELECT 'figures_states errors', " BOOK_SUM("errors")             \
  " FROM figures_states "                                                     \
  "UNION ALL SELECT 'figures_states closed', " BOOK_SUM("closed")             \
  " FROM figures_states "                                                     \
  "UNION ALL SELECT 'figures_due cases', " BOOK_SUM("cases")                  \
  " FROM figures_due "                                                        \
  "UNION ALL SELECT 'figures_due balance', " BOOK_SUM("balance")              \
  " FROM figures_due "                                                        \
  "UNION ALL SELECT 'figures_messages messages', " BOOK_SUM("messages")                \
  " FROM figures_messages "                                                   \
  "UNION ALL SELECT 'figures_promises promises', " BOOK_SUM("promises")                \
  " FROM figures_promises "                                                   \
  "UNION ALL SELECT 'figures_promises amount', " BOOK_SUM("amount")           \
  " FROM figures_promises "                                                   \
  "UNION ALL SELECT 'figures_promises paid', " BOOK_SUM("paid")               \
  " FROM figures_promises "                                                   \
  "UNION ALL SELECT 'figures_arms cases', " BOOK_SUM("cases")                 \
  " FROM figures_arms "                                                       \
  "UNION ALL SELECT 'figures_arms_money recovered ' || currency, "            \
  BOOK_SUM("recovered") " FROM figures_arms_money GROUP BY currency "         \
  "UNION ALL SELECT 'figures_arms closed paid', " BOOK_SUM("closed_paid")     \
  " FROM figures_arms "                                                       \
  "UNION ALL SELECT 'figures_days n', " BOOK_SUM("n") " FROM figures_days "   \
  "UNION ALL SELECT 'figures_days amount', " BOOK_SUM("amount")               \
  " FROM figures_days "                                                       \
  "UNION ALL SELECT 'figures_rolls cases', " BOOK_SUM("cases")                \
  " FROM figures_rolls "                                                      \
  "UNION ALL SELECT 'figures_tasks n', " BOOK_SUM("n") " FROM figures_tasks"

/* SQLite's side (sqlite_book.c), on the backend's connection; put and
 * put_table are the backend's cache of the last table's INSERT (the
 * backend finalizes *put when it closes). */
int sqlite_book_rows(sqlite3 *db, const char *table, store_row_fn fn, void *ud,
                     rc_error *err);
int sqlite_book_put(sqlite3 *db, sqlite3_stmt **put, char *put_table,
                    size_t size, const char *table, const store_value *cols,
                    int ncols, rc_error *err);
int sqlite_book_figures(sqlite3 *db, store_row_fn fn, void *ud, rc_error *err);

#ifdef RECOUP_HAVE_PG
#include <libpq-fe.h>
/* PostgreSQL's side (pg_book.c). put_table names the table whose INSERT
 * is prepared on the connection as "book_put" ("" when none). */
int pg_book_rows(PGconn *c, const char *table, store_row_fn fn, void *ud,
                 rc_error *err);
int pg_book_put(PGconn *c, char *put_table, size_t size, const char *table,
                const store_value *cols, int ncols, rc_error *err);
int pg_book_figures(PGconn *c, store_row_fn fn, void *ud, rc_error *err);
#endif

/* Whether a table or column name is one a statement may carry quoted:
 * lower-case letters, digits and '_' (every name of both schemas). */
int book_name_ok(const char *name);
/* Whether a column is one a store derives from other rows (not copied:
 * cases.timer_keys, SQLite's index of a case's timers; cases.journal_last
 * and journal_runs.prev, SQLite's chain of a case's journal;
 * borrowers.contacts_packed, SQLite's copy of a borrower's contacts). */
int book_derived(const char *table, const char *column);
/* Whether a row of meta is its 'schema.version', which every backend
 * keeps its own (not copied). */
int book_schema_version_row(const char *table, const store_value *cols,
                            int ncols);

#endif
