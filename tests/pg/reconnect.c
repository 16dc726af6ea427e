/* The PostgreSQL store when the server drops its connection
 * (pg_terminate_backend, a restart), and its queued writes when one fails
 * (runtime/store/pg.c): outside a transaction the next operation connects
 * again, takes a counter slot again and goes on; inside one the
 * transaction is lost and said to be run again (store_contended), and
 * the next begin connects again. A queued write that fails fails the
 * commit (or its savepoint), and nothing of the batch is kept. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pg/pgt.h"
#include "store/backend.h"

static char name[64];
static char *path;

static int setup(void **state) {
  static int serial;
  (void)state;
  free(path);
  snprintf(name, sizeof name, "pgreconnect_%d_%d", (int)getpid(), ++serial);
  path = pgt_database(name);
  return path ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  pgt_drop(name);
  free(path);
  path = NULL;
  return 0;
}

static long long value(const char *sql) {
  PGconn *c = pgt_connect(path);
  long long v;
  assert_non_null(c);
  v = pgt_value(c, sql);
  PQfinish(c);
  return v;
}

/* Ends every other session on the test's database, as an operator's
 * pg_terminate_backend does, and waits until they are gone. */
static void terminate_others(void) {
  PGconn *c = pgt_connect(path);
  assert_non_null(c);
  PQclear(pgt_exec(c, "SELECT pg_terminate_backend(pid) FROM "
                      "pg_stat_activity WHERE datname = current_database() "
                      "AND pid <> pg_backend_pid()"));
  for (int i = 0; i < 500; i++) {
    if (pgt_value(c, "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                     "current_database() AND pid <> pg_backend_pid()") == 0)
      break;
    usleep(10000);
  }
  PQfinish(c);
}

static store *open_store(void) {
  store *st = NULL;
  rc_error err;
  if (store_open(&st, path, &err) != RC_OK)
    fprintf(stderr, "%s\n", err.message);
  assert_non_null(st);
  return st;
}

static int add_case(store *st, const char *id, rc_error *err) {
  store_borrower b = {.id = "B1", .name = "Wang", .ncontacts = -1};
  store_case c = {.id = (char *)id,
                  .borrower_id = "B1",
                  .workflow = "w",
                  .version = 1,
                  .state = "new",
                  .currency = "CNY",
                  .balance = 1000};
  int rc = store_borrower_upsert(st, &b, err);
  return rc == RC_OK ? store_case_insert(st, &c, err) : rc;
}

static void test_outside_a_transaction_the_next_operation_reconnects(
    void **state) {
  store *st = open_store();
  store_case c;
  rc_error err;
  (void)state;
  assert_int_equal(add_case(st, "C1", &err), RC_OK);
  assert_int_equal(store_reconnects(st), 0);
  terminate_others();
  if (store_case_get(st, "C1", &c, &err) != RC_OK)
    fail_msg("after the session ended: %s", err.message);
  assert_string_equal(c.state, "new");
  store_case_free(&c);
  assert_int_equal(store_reconnects(st), 1);
  /* The new session took a counter slot: its advisory lock is held.
   * (pg_locks is the whole cluster's: other tests' nodes hold slots in
   * their own databases at the same time.) */
  assert_int_equal(value("SELECT count(*) FROM pg_locks WHERE locktype = "
                         "'advisory' AND granted AND database = (SELECT oid "
                         "FROM pg_database WHERE datname = "
                         "current_database())"),
                   1);
  /* And its writes count in it. */
  assert_int_equal(store_figure_add(st, "payments", "2026-01-05", "", "", "",
                                    1, 500, &err),
                   RC_OK);
  assert_int_equal(value("SELECT count(*) FROM figures_days WHERE slot > 0"),
                   1);
  store_close(st);
}

static void test_inside_a_transaction_the_batch_fails_and_runs_again(
    void **state) {
  store *st = open_store();
  store_case c;
  rc_error err;
  (void)state;
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(add_case(st, "C1", &err), RC_OK); /* queued */
  terminate_others();
  assert_int_not_equal(store_case_get(st, "C1", &c, &err), RC_OK);
  assert_true(store_contended(st)); /* the engine runs the batch again */
  store_rollback(st);
  /* The batch again: the begin connects anew. */
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_reconnects(st), 1);
  assert_int_equal(add_case(st, "C1", &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(value("SELECT count(*) FROM cases"), 1);
  store_close(st);
}

static void test_a_queued_write_that_fails_fails_the_commit(void **state) {
  store *st = open_store();
  rc_error err;
  (void)state;
  assert_int_equal(add_case(st, "C1", &err), RC_OK);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(add_case(st, "C2", &err), RC_OK);
  /* C1 again: refused by the server, answered only at the commit. */
  (void)add_case(st, "C1", &err);
  assert_int_not_equal(store_commit(st, &err), RC_OK);
  assert_non_null(strstr(err.message, "insert case"));
  assert_int_equal(value("SELECT count(*) FROM cases"), 1); /* no C2 */
  /* The store goes on. */
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(add_case(st, "C2", &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(value("SELECT count(*) FROM cases"), 2);
  store_close(st);
}

static void test_a_queued_write_that_fails_fails_its_savepoint(void **state) {
  store *st = open_store();
  rc_error err;
  (void)state;
  assert_int_equal(add_case(st, "C1", &err), RC_OK);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(add_case(st, "C2", &err), RC_OK);
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  (void)add_case(st, "C1", &err);
  /* Its event's end hears of it, not a later one's. */
  assert_int_not_equal(store_release(st, &err), RC_OK);
  store_rollback_to(st, &err);
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  assert_int_equal(add_case(st, "C3", &err), RC_OK);
  assert_int_equal(store_release(st, &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(value("SELECT count(*) FROM cases"), 3);
  store_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_outside_a_transaction_the_next_operation_reconnects, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_inside_a_transaction_the_batch_fails_and_runs_again, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_queued_write_that_fails_fails_the_commit, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_queued_write_that_fails_fails_its_savepoint, setup,
          teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
