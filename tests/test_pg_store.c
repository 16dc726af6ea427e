/* The store's contract on the PostgreSQL backend (runtime/store/pg.c),
 * what is PostgreSQL's own: an aborted transaction's commit, a book that
 * is not a file, a server that is not there. The contract both backends
 * share is tests/test_store.c's suite, run here by ctest's store_pg
 * (RECOUP_TEST_DB); several nodes and the schema are in test_pg_claims.c
 * and test_pg_schema.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "migrate_store.h"
#include "pg/pgt.h"
#include "store/store.h"
#include "store/pg.h"

/* The test's database, made afresh before each test (setup). */
static char name[64];
static char *path; /* its URL */

static int setup(void **state) {
  static int serial;
  (void)state;
  free(path);
  snprintf(name, sizeof name, "pgstore_%d_%d", (int)getpid(), ++serial);
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

/* The one number a query of the test's database answers. */
static int count_rows(const char *sql) {
  PGconn *c = pgt_connect(path);
  long long v;
  assert_non_null(c);
  v = pgt_value(c, sql);
  PQfinish(c);
  return (int)v;
}

static store *open_store(void) {
  store *st = NULL;
  rc_error err;
  if (store_open(&st, path, &err) != RC_OK)
    fprintf(stderr, "%s\n", err.message);
  assert_non_null(st);
  return st;
}

static void add_case(store *st, const char *id) {
  store_borrower b = {0};
  store_case c = {0};
  rc_error err;
  b.id = "B1";
  b.name = "Wang";
  b.ncontacts = -1;
  assert_int_equal(store_borrower_upsert(st, &b, &err), RC_OK);
  c.id = (char *)id;
  c.borrower_id = "B1";
  c.workflow = "w";
  c.version = 1;
  c.state = "new";
  c.currency = "CNY";
  c.balance = 1000;
  assert_int_equal(store_case_insert(st, &c, &err), RC_OK);
}

/* PostgreSQL answers COMMIT of an aborted transaction with a rollback,
 * not an error: the store says it failed, and nothing of it is kept. */
static void test_a_commit_after_a_failure_fails(void **state) {
  store *st = open_store();
  rc_error err;
  (void)state;
  add_case(st, "L1");
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_payment_insert(st, "L1", 100, "CNY", "R1", 1, &err),
                   RC_OK);
  assert_int_equal(store_payment_insert(st, "L1", -5, "CNY", "R2", 1, &err),
                   RC_EINTERNAL);
  assert_int_equal(store_commit(st, &err), RC_ESTORE);
  assert_non_null(strstr(err.message, "rolled back"));
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 0);
  /* and the store goes on */
  assert_int_equal(store_payment_insert(st, "L1", 100, "CNY", "R1", 1, &err),
                   RC_OK);
  store_close(st);
}

/* The n of the first row store_figures_days gives. */
static int first_n(void *ud, const store_value *cols, int n) {
  (void)n;
  *(int64_t *)ud = cols[4].i;
  return 1;
}

/* A batch's figures of the day are summed by the node and written once,
 * at its commit (a reminder wrote two upserts of the same rows): the
 * table's one row is its first version. A read in the batch sees them,
 * and an event's savepoint rolled back takes its own with it. */
static void test_the_days_figures_are_written_once_a_batch(void **state) {
  store *st = open_store();
  rc_error err;
  int64_t n = 0;
  (void)state;
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int i = 0; i < 3; i++)
    assert_int_equal(store_figure_add(st, "contact", "2026-12-02", "sms",
                                      NULL, NULL, 1, 0, &err),
                     RC_OK);
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  assert_int_equal(store_figure_add(st, "contact", "2026-12-02", "sms", NULL,
                                    NULL, 10, 0, &err),
                   RC_OK);
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(store_figures_days(st, "contact", "2026-12-01",
                                      "2026-12-03", first_n, &n, &err),
                   RC_OK);
  assert_int_equal(n, 3);
  assert_int_equal(store_figure_add(st, "contact", "2026-12-02", "sms", NULL,
                                    NULL, 1, 0, &err),
                   RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT sum(n) FROM figures_days"), 4);
  /* written at the savepoint (to be undone with it) and at the commit */
  assert_int_equal(count_rows("SELECT count(*) FROM figures_days WHERE "
                              "ctid = '(0,2)'"),
                   1);
  store_close(st);
}

/* A batch's moves of the cases its timer claim read are counted by the
 * node and written once (a trigger made two upserts a transition): five
 * cases opened and then moved leave the state's counter at its second
 * version and the new state's at its first, and a move an event's
 * savepoint undid is not counted. */
static void test_a_batch_counts_its_cases_once(void **state) {
  store *st = open_store();
  store_case_change ch = {.fields = STORE_CASE_STATE, .state = "done"};
  store_timer *t;
  char id[8];
  int n;
  rc_error err;
  (void)state;
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof id, "C%d", i);
    add_case(st, id);
    assert_int_equal(store_timer_insert(st, id, 100, "remind", NULL, 1, &err),
                     RC_OK);
  }
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 5);
  store_timers_free(t, n);
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof id, "C%d", i);
    ch.id = id;
    assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
  }
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  ch.state = "lost";
  assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT sum(cases) FROM figures_states "
                              "WHERE state = 'done'"),
                   5);
  assert_int_equal(count_rows("SELECT sum(cases) FROM figures_states "
                              "WHERE state <> 'done'"),
                   0);
  assert_int_equal(count_rows("SELECT sum(balance) FROM figures_due"), 5000);
  assert_int_equal(count_rows("SELECT count(*) FROM figures_states "
                              "WHERE ctid > '(0,3)'"),
                   0);
  store_close(st);
}

/* Sums column col of every row a store read gives (col in the ud's
 * first int64_t, the sum in its second). */
static int sum_col(void *ud, const store_value *cols, int n) {
  int64_t *s = ud;
  if (s[0] < n && cols[s[0]].type == STORE_INT) s[1] += cols[s[0]].i;
  return 0;
}

/* What the arms recovered: the console's figure and the report's (its
 * rows experiment, arm, currency, cases, paid, balance, recovered). */
static void arms_recovered(store *st, int64_t *figure, int64_t *report) {
  int64_t f[2] = {4, 0}, r[2] = {6, 0};
  rc_error err;
  assert_int_equal(store_figures_arms(st, sum_col, f, &err), RC_OK);
  assert_int_equal(store_report_variants(st, sum_col, r, &err), RC_OK);
  *figure = f[1];
  *report = r[1];
}

/* A node sums its transaction's payments by case and adds them to their
 * arms at its commit (schema 5): two nodes adding to one arm at once
 * count each payment once, a savepoint rolled back takes its payment
 * with it, a payment outside a transaction is the trigger's, and a case
 * put in an arm after its payment in the same transaction counts under
 * that arm, as the report sums it (the trigger missed it). */
static void test_two_nodes_count_their_payments_to_one_arm(void **state) {
  store *one = open_store(), *two = open_store();
  int64_t figure, report;
  rc_error err;
  (void)state;
  add_case(one, "C1");
  add_case(one, "C2");
  add_case(one, "C3");
  add_case(one, "C4");
  assert_int_equal(store_variant_put(one, "C1", "tone", "soft", &err), RC_OK);
  assert_int_equal(store_variant_put(one, "C2", "tone", "soft", &err), RC_OK);
  assert_int_equal(store_variant_put(one, "C3", "tone", "firm", &err), RC_OK);
  assert_int_equal(store_begin(one, &err), RC_OK);
  assert_int_equal(store_payment_insert(one, "C1", 300, "CNY", "R1", 1, &err),
                   RC_OK);
  assert_int_equal(store_payment_insert(one, "C3", 50, "CNY", "R2", 1, &err),
                   RC_OK);
  assert_int_equal(store_begin(two, &err), RC_OK);
  assert_int_equal(store_payment_insert(two, "C2", 200, "CNY", "R3", 1, &err),
                   RC_OK);
  assert_int_equal(store_payment_insert(two, "C1", 100, "CNY", NULL, 1, &err),
                   RC_OK);
  assert_int_equal(store_commit(two, &err), RC_OK);
  assert_int_equal(store_savepoint(one, &err), RC_OK);
  assert_int_equal(store_payment_insert(one, "C1", 1000, "CNY", "R4", 1, &err),
                   RC_OK);
  assert_int_equal(store_rollback_to(one, &err), RC_OK);
  assert_int_equal(store_payment_insert(one, "C2", 7, "CNY", "R5", 1, &err),
                   RC_OK);
  assert_int_equal(store_payment_insert(one, "C4", 40, "CNY", "R6", 1, &err),
                   RC_OK);
  assert_int_equal(store_variant_put(one, "C4", "tone", "soft", &err), RC_OK);
  assert_int_equal(store_commit(one, &err), RC_OK);
  assert_int_equal(store_payment_insert(two, "C2", 11, "CNY", "R7", 1, &err),
                   RC_OK);
  arms_recovered(two, &figure, &report);
  assert_int_equal(report, 300 + 50 + 200 + 100 + 7 + 40 + 11);
  assert_int_equal(figure, report);
  assert_int_equal(count_rows("SELECT sum(recovered) FROM figures_arms_money "
                              "WHERE arm = 'firm'"),
                   50);
  store_close(one);
  store_close(two);
}

static void add_message(store *st, int64_t *id) {
  store_message m = {.case_id = "C1", .borrower_id = "B1", .channel = "sms",
                     .template_name = "reminder", .body = "\"quoted\" \\ 您好",
                     .status = "queued", .at = 1};
  rc_error err;
  assert_int_equal(store_message_insert(st, &m, id, &err), RC_OK);
}

/* A node's transaction plans each statement generically from its first
 * use (plan_cache_mode, its own only: pg.c's op_begin), where PostgreSQL
 * planned each one's first five uses again: seen by a trigger on the
 * rows it writes. The server's setting stands outside it. */
static void test_a_transaction_plans_generically_from_the_first_use(
    void **state) {
  store *st = open_store();
  PGconn *c = pgt_connect(path);
  int64_t id;
  rc_error err;
  (void)state;
  assert_non_null(c);
  PQclear(PQexec(c, "CREATE TABLE seen(mode text);"
                    "CREATE FUNCTION see() RETURNS trigger LANGUAGE plpgsql "
                    "AS $$ BEGIN INSERT INTO seen VALUES "
                    "(current_setting('plan_cache_mode')); RETURN NULL; "
                    "END $$;"
                    "CREATE TRIGGER see AFTER INSERT ON messages "
                    "FOR EACH ROW EXECUTE FUNCTION see()"));
  add_case(st, "C1");
  assert_int_equal(store_begin(st, &err), RC_OK);
  add_message(st, &id);
  add_message(st, &id);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM seen WHERE mode = "
                              "'force_generic_plan'"),
                   2);
  add_message(st, &id); /* by itself */
  assert_int_equal(count_rows("SELECT count(*) FROM seen WHERE mode = "
                              "'auto'"),
                   1);
  PQfinish(c);
  store_close(st);
}

/* A batch's new messages and journal runs wait in the node and go as one
 * INSERT a table (a statement each was as dear as its row): rows one
 * statement inserted share its command id (cmin). A read of them in the
 * batch sends them first, and a savepoint rolled back takes its own. */
static void test_a_batch_sends_its_messages_and_runs_together(void **state) {
  store *st = open_store();
  char case_id[16], status[16];
  int64_t id;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int i = 0; i < 3; i++) {
    add_message(st, &id);
    assert_int_equal(store_journal_append(st, "C1", i, "note", "new", 1,
                                          "{\"n\": \"\\\"\"}", &err),
                     RC_OK);
    assert_int_equal(store_journal_write(st, &err), RC_OK);
  }
  assert_int_equal(
      store_message_case(st, id, case_id, sizeof case_id, status, &err), RC_OK);
  assert_string_equal(case_id, "C1");
  assert_string_equal(status, "queued");
  add_message(st, &id);
  add_message(st, &id);
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  add_message(st, &id);
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM messages"), 5);
  assert_int_equal(count_rows("SELECT count(*) FROM messages WHERE body = "
                              "'\"quoted\" \\ 您好'"),
                   5);
  assert_int_equal(count_rows("SELECT count(DISTINCT cmin::text) FROM "
                              "messages"),
                   2);
  assert_int_equal(count_rows("SELECT sum(messages) FROM figures_messages"), 5);
  assert_int_equal(count_rows("SELECT count(*) FROM journal_runs WHERE "
                              "rows::json -> 0 -> 4 ->> 'n' = '\"'"),
                   3);
  assert_int_equal(count_rows("SELECT count(DISTINCT cmin::text) FROM "
                              "journal_runs"),
                   1);
  store_close(st);
}

/* A batch's state writes are kept by case (pg_rows_put): each case's last
 * write wins, in the order the cases were first written, through the
 * table's growth (a search from the last row made a batch quadratic). */
static void test_kept_rows_keep_each_keys_last_write(void **state) {
  pg_rows b = {.ncols = 2};
  char key[16], value[16];
  (void)state;
  for (int round = 0; round < 2; round++)
    for (int i = 0; i < 300; i++) {
      const char *cols[2] = {key, value};
      if (round && i % 3) continue;
      snprintf(key, sizeof key, "C%d", i);
      snprintf(value, sizeof value, "%d", round * 1000 + i);
      assert_int_equal(pg_rows_put(&b, cols), 0);
    }
  assert_int_equal(b.n, 300);
  for (int i = 0; i < 300; i++) {
    snprintf(key, sizeof key, "C%d", i);
    snprintf(value, sizeof value, "%d", i % 3 ? i : 1000 + i);
    assert_string_equal(b.v[2 * i], key);
    assert_string_equal(b.v[2 * i + 1], value);
  }
  pg_rows_clear(&b);
  assert_int_equal(pg_rows_put(&b, (const char *[]){"C7", "x"}), 0);
  assert_int_equal(pg_rows_put(&b, (const char *[]){"C7", "y"}), 0);
  assert_int_equal(b.n, 1);
  assert_string_equal(b.v[1], "y");
  pg_rows_free(&b);
}

/* A column of kept rows that holds one value in each row (both NULL, or
 * the same text) is sent as that value alone (pg.c, kept_sql); one row
 * alone, or a value that differs or is NULL in some rows only, keeps its
 * array, and a number column's value is checked as its array's are. */
static void test_kept_rows_say_which_columns_hold_one_value(void **state) {
  pg_rows b = {.ncols = 3};
  (void)state;
  assert_int_equal(pg_rows_add(&b, (const char *[]){"C1", "sms", NULL}), 0);
  assert_int_equal(pg_rows_same(&b, 1, PG_TEXT), 0);
  assert_int_equal(pg_rows_add(&b, (const char *[]){"C2", "sms", NULL}), 0);
  assert_int_equal(pg_rows_same(&b, 0, PG_TEXT), 0);
  assert_int_equal(pg_rows_same(&b, 1, PG_TEXT), 1);
  assert_int_equal(pg_rows_same(&b, 2, PG_INT8), 1);
  assert_int_equal(pg_rows_add(&b, (const char *[]){"C3", "smsx", "7"}), 0);
  assert_int_equal(pg_rows_same(&b, 1, PG_TEXT), 0);
  assert_int_equal(pg_rows_same(&b, 2, PG_INT8), 0);
  pg_rows_clear(&b);
  assert_int_equal(pg_rows_add(&b, (const char *[]){"C1", "", "2147483648"}),
                   0);
  assert_int_equal(pg_rows_add(&b, (const char *[]){"C1", "", "2147483648"}),
                   0);
  assert_int_equal(pg_rows_same(&b, 1, PG_TEXT), 1);
  assert_int_equal(pg_rows_same(&b, 2, PG_INT8), 1);
  assert_int_equal(pg_rows_same(&b, 2, PG_INT4), -1);
  pg_rows_free(&b);
}

/* A batch's messages, journal runs and case states whose columns mostly
 * hold one value (channel, template, status, time) are each written as
 * they were: every row, each column its own value; a batch of two runs
 * alike in every column writes both (its key goes as an array). */
static void test_kept_rows_alike_are_each_written(void **state) {
  store *st = open_store();
  store_case_change ch = {.fields = STORE_CASE_STATE, .state = "done"};
  store_message m = {.borrower_id = "B1", .channel = "sms",
                     .template_name = "t", .to_kind = "phone",
                     .status = "queued", .at = 500};
  static const char *const bodies[] = {"one", "two", "three"};
  char id[8];
  rc_error err;
  (void)state;
  for (int i = 0; i < 3; i++) {
    snprintf(id, sizeof id, "C%d", i);
    add_case(st, id);
  }
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int i = 0; i < 3; i++) {
    snprintf(id, sizeof id, "C%d", i);
    m.case_id = ch.id = id;
    m.recipient = "+8613800000000";
    m.body = bodies[i];
    assert_int_equal(store_message_insert(st, &m, NULL, &err), RC_OK);
    assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
    for (int run = 0; run < (i == 1 ? 2 : 1); run++) {
      assert_int_equal(store_journal_append(st, id, 500, "step", "done", 1,
                                            NULL, &err),
                       RC_OK);
      assert_int_equal(store_journal_write(st, &err), RC_OK);
    }
  }
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM messages WHERE "
                              "channel = 'sms' AND template = 't' AND "
                              "to_kind = 'phone' AND status = 'queued' AND "
                              "at = 500 AND reason IS NULL AND not_before "
                              "IS NULL AND recipient = '+8613800000000' AND "
                              "body = CASE case_id WHEN 'C0' THEN 'one' "
                              "WHEN 'C1' THEN 'two' WHEN 'C2' THEN 'three' "
                              "END"),
                   3);
  assert_int_equal(count_rows("SELECT count(*) FROM journal_runs"), 4);
  assert_int_equal(count_rows("SELECT count(*) FROM journal_runs WHERE "
                              "case_id = 'C1' AND at = 500 AND n = 1"),
                   2);
  assert_int_equal(count_rows("SELECT count(*) FROM cases WHERE state = "
                              "'done' AND closed = 0 AND outcome IS NULL"),
                   3);
  /* a batch of two runs alike in every column: two rows */
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int run = 0; run < 2; run++) {
    assert_int_equal(store_journal_append(st, "C2", 600, "step", "done", 1,
                                          NULL, &err),
                     RC_OK);
    assert_int_equal(store_journal_write(st, &err), RC_OK);
  }
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM journal_runs WHERE "
                              "case_id = 'C2' AND at = 600"),
                   2);
  store_close(st);
}

/* Column c of b as the server reads it (pg_rows_array's binary form),
 * each element's text joined by '|' ("<null>" for NULL), or the array's
 * cardinality when type is "count". */
static char *rows_read_back(PGconn *c, const pg_rows *b, int col,
                            unsigned type, const char *sql) {
  int len = 0, binary = 1;
  char *arr = pg_rows_array(b, col, type, &len), *out;
  PGresult *r;
  assert_non_null(arr);
  r = PQexecParams(c, sql, 1, NULL, (const char *const *)&arr, &len, &binary,
                   0);
  free(arr);
  if (PQresultStatus(r) != PGRES_TUPLES_OK)
    fprintf(stderr, "%s", PQresultErrorMessage(r));
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  out = strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  return out;
}

/* A batch's kept rows go as arrays in binary form (no escaping by the
 * node, no parsing by the server): the server reads back each text as
 * it was (quotes, backslashes, braces, "NULL" as a text, NULL itself, an
 * empty text, a long one) and each number, negative and at the ends of
 * its width, as the number. */
static void test_kept_rows_reach_the_server_as_they_were(void **state) {
  static const char *const texts[] = {
      "plain",   "say \"hi\"", "back\\slash", "{a,b}", "NULL",
      NULL,      "",             "\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e", "a\nb\tc", " , "};
  static const char *const ints[] = {"0", "-1", "9223372036854775807",
                                     "-9223372036854775808", NULL,
                                     "42", "-2147483648", "2147483647",
                                     "7", "1"};
  static const char sql[] =
      "SELECT string_agg(coalesce(x::text, '<null>'), '|' ORDER BY i) "
      "FROM unnest($1::%s[]) WITH ORDINALITY u(x, i)";
  pg_rows b = {.ncols = 2}, none = {.ncols = 1};
  char expect[8192] = "", big[3001], q[256];
  PGconn *c = pgt_connect(path);
  char *got;
  (void)state;
  assert_non_null(c);
  memset(big, 'x', 3000);
  big[3000] = '\0';
  for (int i = 0; i < 10; i++) {
    const char *cols[2] = {texts[i], ints[i]};
    assert_int_equal(pg_rows_add(&b, cols), 0);
    strcat(strcat(expect, i ? "|" : ""), texts[i] ? texts[i] : "<null>");
  }
  assert_int_equal(pg_rows_add(&b, (const char *[]){big, "3"}), 0);
  strcat(strcat(expect, "|"), big);
  snprintf(q, sizeof q, sql, "text");
  got = rows_read_back(c, &b, 0, PG_TEXT, q);
  assert_string_equal(got, expect);
  free(got);
  snprintf(q, sizeof q, sql, "bigint");
  got = rows_read_back(c, &b, 1, PG_INT8, q);
  assert_string_equal(got, "0|-1|9223372036854775807|-9223372036854775808|"
                           "<null>|42|-2147483648|2147483647|7|1|3");
  free(got);
  pg_rows_clear(&b);
  assert_int_equal(pg_rows_add(&b, (const char *[]){"a", "-2147483648"}), 0);
  assert_int_equal(pg_rows_add(&b, (const char *[]){"b", "2147483647"}), 0);
  snprintf(q, sizeof q, sql, "integer");
  got = rows_read_back(c, &b, 1, PG_INT4, q);
  assert_string_equal(got, "-2147483648|2147483647");
  free(got);
  got = rows_read_back(c, &none, 0, PG_TEXT,
                       "SELECT coalesce(cardinality($1::text[]), -1)");
  assert_string_equal(got, "0");
  free(got);
  pg_rows_free(&b);
  PQfinish(c);
}

/* The server refuses, in an array's binary form, what it refused in its
 * text form (a text that is not UTF-8), and takes every other byte, a
 * text over 1 MB, NULLs at either end, 1 row and 1,000. */
static void test_kept_rows_in_binary_are_refused_as_in_text(void **state) {
  static const char sql[] =
      "SELECT string_agg(coalesce(x, '<null>'), '|' ORDER BY i) "
      "FROM unnest($1::text[]) WITH ORDINALITY u(x, i)";
  pg_rows b = {.ncols = 1};
  PGconn *c = pgt_connect(path);
  char all[128], bad[2] = {0}, *big, *got, *arr;
  int len, binary = 1;
  (void)state;
  assert_non_null(c);
  for (int i = 1; i < 128; i++) all[i - 1] = (char)i;
  all[127] = '\0';
  assert_int_equal(pg_rows_add(&b, (const char *[]){all}), 0);
  got = rows_read_back(c, &b, 0, PG_TEXT, sql);
  assert_string_equal(got, all);
  free(got);
  for (int byte = 128; byte < 256; byte++) {
    char literal[16];
    const char *text_form = literal;
    PGresult *r;
    bad[0] = (char)byte;
    pg_rows_clear(&b);
    assert_int_equal(pg_rows_add(&b, (const char *[]){bad}), 0);
    arr = pg_rows_array(&b, 0, PG_TEXT, &len);
    r = PQexecParams(c, sql, 1, NULL, (const char *const *)&arr, &len,
                     &binary, 0);
    assert_int_not_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "22021");
    PQclear(r);
    free(arr);
    snprintf(literal, sizeof literal, "{%c}", byte);
    r = PQexecParams(c, sql, 1, NULL, &text_form, NULL, NULL, 0);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "22021");
    PQclear(r);
  }
  big = malloc(1500001);
  assert_non_null(big);
  memset(big, 'y', 1500000);
  big[1500000] = '\0';
  pg_rows_clear(&b);
  assert_int_equal(pg_rows_add(&b, (const char *[]){NULL}), 0);
  assert_int_equal(pg_rows_add(&b, (const char *[]){big}), 0);
  assert_int_equal(pg_rows_add(&b, (const char *[]){NULL}), 0);
  got = rows_read_back(c, &b, 0, PG_TEXT,
                       "SELECT (($1::text[])[1] IS NULL)::text || "
                       "length(($1::text[])[2]) || "
                       "(($1::text[])[3] IS NULL)::text");
  assert_string_equal(got, "true1500000true");
  free(got);
  free(big);
  for (int n = 1; n <= 1000; n += 999) {
    char id[16], want[16];
    pg_rows_clear(&b);
    for (int i = 0; i < n; i++) {
      snprintf(id, sizeof id, "%d", i);
      assert_int_equal(pg_rows_add(&b, (const char *[]){id}), 0);
    }
    got = rows_read_back(c, &b, 0, PG_INT8,
                         "SELECT count(*) || ':' || sum(x) FROM "
                         "unnest($1::bigint[]) x");
    snprintf(want, sizeof want, "%d:%d", n, n * (n - 1) / 2);
    assert_string_equal(got, want);
    free(got);
  }
  pg_rows_free(&b);
  PQfinish(c);
}

/* A batch's new states go as one UPDATE and its claimed timers' ends and
 * cancels as one DELETE each: a read inside the batch sees them, a case
 * written twice keeps its last state (counted once), a rolled-back
 * savepoint drops its own, and a timer armed after a cancel stays.
 * (One UPDATE: the cases' rows all carry its command id, cmin.) */
static void test_a_batch_writes_its_states_and_timers_together(void **state) {
  store *st = open_store();
  store_case_change ch = {.fields = STORE_CASE_STATE, .state = "reminded"};
  const char *ids[] = {"C0", "C1", "C2"};
  store_timer *t;
  store_case c;
  int n, deleted;
  rc_error err;
  (void)state;
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int i = 0; i < 3; i++) {
    add_case(st, ids[i]);
    assert_int_equal(store_timer_insert(st, ids[i], 100, "remind", NULL, 0,
                                        &err),
                     RC_OK);
    assert_int_equal(store_timer_insert(st, ids[i], 900, "later", NULL, 1,
                                        &err),
                     RC_OK);
  }
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(store_timer_finish(st, &t[i], &deleted, &err), RC_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_timers_cancel(st, t[i].case_id, STORE_TIMERS_SCOPED,
                                         NULL, NULL, &err),
                     RC_OK);
    ch.id = t[i].case_id;
    ch.state = "reminded";
    assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
    if (i == 0) { /* its step moves it on at once */
      ch.state = "again";
      assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
    }
  }
  store_timers_free(t, n);
  assert_int_equal(store_case_get(st, "C0", &c, &err), RC_OK);
  assert_string_equal(c.state, "again");
  store_case_free(&c);
  assert_int_equal(store_timers_cancel(st, "C1", STORE_TIMERS_ALL, NULL, NULL,
                                       &err),
                   RC_OK);
  assert_int_equal(store_timer_insert(st, "C1", 950, "after", NULL, 0, &err),
                   RC_OK);
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  ch.id = "C2";
  ch.state = "lost";
  assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
  assert_int_equal(store_timers_cancel(st, "C2", STORE_TIMERS_ALL, NULL, NULL,
                                       &err),
                   RC_OK);
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM cases WHERE id = 'C0' "
                              "AND state = 'again'"),
                   1);
  assert_int_equal(count_rows("SELECT count(*) FROM cases WHERE id <> 'C0' "
                              "AND state = 'reminded'"),
                   2);
  assert_int_equal(count_rows("SELECT count(DISTINCT cmin::text) FROM cases"),
                   1);
  assert_int_equal(count_rows("SELECT count(*) FROM timers WHERE event = "
                              "'after'"),
                   1);
  assert_int_equal(count_rows("SELECT count(*) FROM timers"), 1);
  assert_int_equal(count_rows("SELECT sum(cases) FROM figures_states WHERE "
                              "state = 'again'"),
                   1);
  assert_int_equal(count_rows("SELECT sum(cases) FROM figures_states WHERE "
                              "state = 'reminded'"),
                   2);
  assert_int_equal(count_rows("SELECT sum(cases) FROM figures_states WHERE "
                              "state NOT IN ('again', 'reminded')"),
                   0);
  store_close(st);
}

/* A batch's timer claim reads its cases along (pg_cache.c), not their
 * borrowers: a cease another node commits while this batch runs stops
 * this batch's next message to that borrower, as it did before the
 * claim read anything. */
static void test_a_cease_committed_during_a_batch_is_seen(void **state) {
  store *st = open_store();
  store_timer *t;
  store_borrower b;
  PGconn *other;
  int n;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  assert_int_equal(store_timer_insert(st, "C1", 100, "remind", NULL, 1, &err),
                   RC_OK);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 1);
  store_timers_free(t, n);
  assert_int_equal(store_borrower_get(st, "B1", &b, &err), RC_OK);
  assert_int_equal(b.ceased, 0);
  store_borrower_free(&b);
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other, "UPDATE borrowers SET ceased = 1 WHERE id = 'B1'"));
  PQfinish(other);
  assert_int_equal(store_borrower_get(st, "B1", &b, &err), RC_OK);
  assert_int_equal(b.ceased, 1);
  store_borrower_free(&b);
  assert_int_equal(store_commit(st, &err), RC_OK);
  store_close(st);
}

/* Ends the store's own session from another connection, waiting until
 * it is gone: what the store does next without the server, it did not
 * ask the server for. Client sessions only: an autovacuum worker in the
 * same database (ctest -j2 on a loaded machine counted two) is not the
 * store's. */
static void end_the_stores_session(void) {
  PGconn *other = pgt_connect(path);
  assert_non_null(other);
  /* Not before the session has answered what it was sent (a read ahead
   * is sent and not waited for): ended while the server still worked on
   * it, the answer was lost and the test failed under load. Waiting for
   * its client's next message is what a server that answered does. */
  for (int i = 0; i < 1000 &&
                  pgt_value(other, "SELECT count(*) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND "
                                   "pid <> pg_backend_pid() AND backend_type "
                                   "= 'client backend' AND wait_event IS "
                                   "DISTINCT FROM 'ClientRead'") != 0;
       i++) {
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(pgt_value(other,
                             "SELECT count(*) FROM (SELECT pid FROM "
                             "pg_stat_activity WHERE datname = "
                             "current_database() AND pid <> pg_backend_pid() "
                             "AND backend_type = 'client backend' "
                             "OFFSET 0) p WHERE "
                             "pg_terminate_backend(p.pid, 10000)"),
                   1);
  PQfinish(other);
}

/* A batch's events claim reads their cases along, locked (pg_cache.c), as
 * the timer claim does: a payment's event step reads its case without a
 * round trip. */
static void test_an_events_claim_reads_its_cases(void **state) {
  store *st = open_store();
  store_event *ev;
  store_case c;
  int n;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  assert_int_equal(store_event_put(st, "C1", "payment", "{}", 1, NULL, &err),
                   RC_OK);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_events_claim(st, 10, NULL, &ev, &n, &err), RC_OK);
  assert_int_equal(n, 1);
  store_events_free(ev, n);
  end_the_stores_session();
  assert_int_equal(store_case_get(st, "C1", &c, &err), RC_OK);
  assert_string_equal(c.id, "C1");
  assert_int_equal(c.balance, 1000);
  store_case_free(&c);
  store_rollback(st);
  store_close(st);
}

/* A payment the engine looked its ref up for goes in without waiting for
 * an answer. Another node's payment of the same ref, committed between
 * the look and the insert, fails the commit as a conflict: the caller
 * runs it again (the serve group commit does), and its look then finds
 * the ref. */
static void test_a_ref_paid_meanwhile_elsewhere_runs_it_again(void **state) {
  store *st = open_store();
  store_case c;
  char was[64];
  rc_money amount;
  PGconn *other;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(
      store_payment_by_ref(st, "R1", was, sizeof was, &amount, &err),
      RC_ENOTFOUND);
  assert_int_equal(store_case_get(st, "C1", &c, &err), RC_OK);
  store_case_free(&c);
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other,
                   "INSERT INTO payments(case_id, amount, ref, at) "
                   "VALUES ('C1', 7, 'R1', 1)"));
  PQfinish(other);
  assert_int_equal(store_payment_insert(st, "C1", 7, "CNY", "R1", 2, &err),
                   RC_OK);
  assert_int_equal(store_event_put(st, "C1", "payment", "{}", 2, NULL, &err),
                   RC_OK);
  assert_int_not_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(store_contended(st), 1);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 1);
  assert_int_equal(count_rows("SELECT count(*) FROM events"), 0);
  store_close(st);
}

/* A group's job needs no SAVEPOINT on the server (a subtransaction):
 * refused before it wrote, there is nothing to undo; refused after, the
 * store says the group must run again without it, and nothing of it is
 * kept. */
static void test_a_job_refused_after_writing_asks_for_a_replay(void **state) {
  store *st = open_store();
  store_case c;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  assert_int_equal(store_case_get_held(st, "C1", &c, &err), RC_OK);
  store_case_free(&c);
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(store_replay(st), 0);
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  assert_int_equal(store_payment_insert(st, "C1", 7, "CNY", "R1", 2, &err),
                   RC_OK);
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(store_replay(st), 1);
  store_rollback(st);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 0);
  /* a new transaction starts clean */
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_replay(st), 0);
  store_rollback(st);
  store_close(st);
}

/* A case read held is counted by the node from that read when it is
 * written (no look of the server's): the counters follow what another
 * connection changed before the read, and the write. */
static void test_a_held_case_is_counted_from_its_read(void **state) {
  store *st = open_store();
  store_case c;
  PGconn *other;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other, "UPDATE cases SET balance = 800, state = 'late' "
                          "WHERE id = 'C1'"));
  PQfinish(other);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  assert_int_equal(store_case_get_held(st, "C1", &c, &err), RC_OK);
  assert_int_equal(c.balance, 800);
  assert_int_equal(
      store_case_write(st,
                       &(store_case_change){.id = "C1",
                                            .fields = STORE_CASE_MONEY,
                                            .balance = c.balance - 300},
                       &err),
      RC_OK);
  store_case_free(&c);
  assert_int_equal(store_release(st, &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT sum(balance) FROM figures_states "
                              "WHERE state = 'late'"),
                   500);
  assert_int_equal(count_rows("SELECT coalesce(sum(cases), 0) FROM "
                              "figures_states WHERE state = 'new'"),
                   0);
  assert_int_equal(count_rows("SELECT sum(balance) FROM figures_due"), 500);
  store_close(st);
}

/* A payment's case is held with the look at its ref, in one round trip
 * (store_case_ahead); a case another transaction holds is still busy. */
static void test_a_payments_case_is_held_with_its_ref_look(void **state) {
  store *st = open_store();
  store_case c;
  char was[64];
  rc_money amount;
  int busy = -1;
  PGconn *other;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  add_case(st, "C2");
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other, "BEGIN"));
  PQclear(pgt_exec(other, "SELECT 1 FROM cases WHERE id = 'C2' FOR UPDATE"));
  assert_int_equal(store_begin(st, &err), RC_OK);
  store_case_ahead(st, "C2");
  assert_int_equal(
      store_payment_by_ref(st, "R2", was, sizeof was, &amount, &err),
      RC_ENOTFOUND);
  assert_int_equal(store_case_try_hold(st, "C2", &c, &busy, &err), RC_OK);
  assert_int_equal(busy, 1);
  PQclear(pgt_exec(other, "COMMIT"));
  PQfinish(other);
  store_case_ahead(st, "C1");
  assert_int_equal(
      store_payment_by_ref(st, "R1", was, sizeof was, &amount, &err),
      RC_ENOTFOUND);
  end_the_stores_session();
  assert_int_equal(store_case_try_hold(st, "C1", &c, &busy, &err), RC_OK);
  assert_int_equal(busy, 0);
  assert_string_equal(c.id, "C1");
  assert_int_equal(c.balance, 1000);
  store_case_free(&c);
  store_rollback(st);
  store_close(st);
}

/* C1's open promise of 300 and its open plan of three installments of
 * 200, due 2026-12-01 to 03. */
static void add_promise_and_plan(PGconn *other) {
  PQclear(pgt_exec(other,
                   "INSERT INTO promises(case_id, amount, by_date, status, at) "
                   "VALUES ('C1', 300, '2026-12-09', 'open', 1);"
                   "INSERT INTO plans(case_id, total, status, at) VALUES "
                   "('C1', 600, 'open', 1);"
                   "INSERT INTO installments(plan_id, seq, due_date, amount, "
                   "status) SELECT id, s, '2026-12-0' || s, 200, 'due' FROM "
                   "plans, generate_series(1, 3) s"));
}

/* A payment's first round trip, as engine_pay makes it: the case held
 * ahead, the ref looked up (not found), then the hold taken. busy as
 * store_case_try_hold says. */
static int hold_with_ref_look(store *st, const char *case_id,
                              const char *ref) {
  store_case c;
  char was[64];
  rc_money amount;
  int busy = -1;
  rc_error err;
  store_case_ahead(st, case_id);
  assert_int_equal(
      store_payment_by_ref(st, ref, was, sizeof was, &amount, &err),
      RC_ENOTFOUND);
  assert_int_equal(store_case_try_hold(st, case_id, &c, &busy, &err), RC_OK);
  store_case_free(&c);
  return busy;
}

/* The case's open promise and unpaid installments go with its hold and
 * the ref look, in the same round trip; read while another transaction
 * held the case, they are asked again. */
static void test_a_payments_promise_is_read_with_its_hold(void **state) {
  store *st = open_store();
  store_case c;
  store_promise p;
  store_installment *due;
  int busy = -1, n;
  PGconn *other;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  other = pgt_connect(path);
  assert_non_null(other);
  add_promise_and_plan(other);
  PQclear(pgt_exec(other, "BEGIN"));
  PQclear(pgt_exec(other, "SELECT 1 FROM cases WHERE id = 'C1' FOR UPDATE"));
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  assert_int_equal(hold_with_ref_look(st, "C1", "R0"), 1);
  PQclear(pgt_exec(other, "UPDATE promises SET paid = 100"));
  PQclear(pgt_exec(other, "COMMIT"));
  PQfinish(other);
  assert_int_equal(store_case_try_hold(st, "C1", &c, &busy, &err), RC_OK);
  assert_int_equal(busy, 0);
  store_case_free(&c);
  assert_int_equal(store_promise_open(st, "C1", &p, &err), RC_OK);
  assert_int_equal(p.paid, 100); /* asked again, not the unheld read */
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  assert_int_equal(hold_with_ref_look(st, "C1", "R1"), 0);
  end_the_stores_session();
  assert_int_equal(store_promise_open(st, "C1", &p, &err), RC_OK);
  assert_int_equal(p.amount, 300);
  assert_int_equal(p.paid, 100);
  assert_int_equal(store_installments_unpaid(st, "C1", &due, &n, &err), RC_OK);
  assert_int_equal(n, 3);
  assert_int_equal(due[0].seq, 1);
  free(due);
  store_rollback(st);
  store_close(st);
}

/* A group whose first job writes what the database refuses (constraint,
 * added by another connection; write, the job's writes), run unchecked
 * then checked: checked, its own end refuses it; unchecked, the next
 * job's first read does, and the store asks for the group to run again
 * checked, not for that next job to be left out. */
static void the_first_jobs_refusal_is_its_own(store *st, const char *constraint,
                                              void (*write)(store *)) {
  store_case c;
  int busy = -1;
  PGconn *other = pgt_connect(path);
  rc_error err;
  assert_non_null(other);
  PQclear(pgt_exec(other, constraint));
  PQfinish(other);
  for (int checked = 0; checked < 2; checked++) {
    store_group_checked(st, checked);
    assert_int_equal(store_begin(st, &err), RC_OK);
    assert_int_equal(store_savepoint_light(st, &err), RC_OK);
    write(st);
    if (checked) {
      assert_int_not_equal(store_release(st, &err), RC_OK);
      assert_int_equal(store_replay(st), STORE_REPLAY_JOB);
    } else {
      assert_int_equal(store_release(st, &err), RC_OK);
      assert_int_equal(store_savepoint_light(st, &err), RC_OK);
      assert_int_not_equal(store_case_try_hold(st, "C2", &c, &busy, &err),
                           RC_OK);
      assert_int_equal(store_rollback_to(st, &err), RC_OK);
      assert_int_equal(store_replay(st), STORE_REPLAY_GROUP);
    }
    store_rollback(st);
  }
  store_group_checked(st, 0);
}

static void pay_500(store *st) {
  rc_error err;
  assert_int_equal(hold_with_ref_look(st, "C1", "R1"), 0);
  assert_int_equal(store_payment_insert(st, "C1", 500, "CNY", "R1", 2, &err),
                   RC_OK);
}

/* A group's job does not wait for its writes at its end: they are read
 * with the next job's first read. */
static void test_a_jobs_writes_are_read_with_the_next_job(void **state) {
  store *st = open_store();
  (void)state;
  add_case(st, "C1");
  add_case(st, "C2");
  the_first_jobs_refusal_is_its_own(
      st, "ALTER TABLE payments ADD CONSTRAINT small CHECK (amount < 100)",
      pay_500);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 0);
  store_close(st);
}

static void set_state_bad(store *st) {
  store_case_change ch = {.id = "C1", .fields = STORE_CASE_STATE,
                          .state = "bad"};
  store_case c;
  rc_error err;
  assert_int_equal(store_case_get_held(st, "C1", &c, &err), RC_OK);
  store_case_free(&c);
  assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
}

/* What a job kept for the group (a case's new state) goes with the first
 * statement of a later job that reads those rows: refused there, it is
 * no fault of that job's either. */
static void test_a_kept_write_refused_in_a_later_job_is_not_its_fault(
    void **state) {
  store *st = open_store();
  (void)state;
  add_case(st, "C1");
  add_case(st, "C2");
  the_first_jobs_refusal_is_its_own(
      st, "ALTER TABLE cases ADD CONSTRAINT good CHECK (state <> 'bad')",
      set_state_bad);
  assert_int_equal(count_rows("SELECT count(*) FROM cases WHERE state = "
                              "'bad'"),
                   0);
  store_close(st);
}

/* However long the queue of a transaction's writes, the statement that
 * follows, with the rows kept, a guard's check and a case held ahead
 * sent before it, has its place in the pipeline (pipe_send's bound). */
static void test_a_long_queue_leaves_room_for_the_next_read(void **state) {
  store *st = open_store();
  store_case_change ch = {.id = "C1", .fields = STORE_CASE_STATE};
  store_borrower b = {.id = "B1"};
  store_case c;
  char was[64];
  rc_money amount;
  int busy;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  for (int pairs = 100; pairs < 140; pairs++) {
    assert_int_equal(store_begin(st, &err), RC_OK);
    for (int i = 0; i < pairs; i++) {
      assert_int_equal(store_savepoint(st, &err), RC_OK);
      assert_int_equal(store_release(st, &err), RC_OK);
    }
    assert_int_equal(store_savepoint_light(st, &err), RC_OK);
    ch.state = pairs % 2 ? "odd" : "even";
    assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
    assert_int_equal(store_borrower_decided(st, &b, &err), RC_OK);
    store_case_ahead(st, "C1");
    assert_int_equal(
        store_payment_by_ref(st, "R1", was, sizeof was, &amount, &err),
        RC_ENOTFOUND);
    assert_int_equal(store_case_try_hold(st, "C1", &c, &busy, &err), RC_OK);
    store_case_free(&c);
    assert_int_equal(store_release(st, &err), RC_OK);
    assert_int_equal(store_commit(st, &err), RC_OK);
  }
  assert_int_equal(count_rows("SELECT count(*) FROM cases WHERE state = "
                              "'odd'"),
                   1);
  store_close(st);
}

/* A payment's allocation reads the case's open promise, then its open
 * plan's unpaid installments: both in one round trip, the installments
 * kept for the read that follows unless a statement goes first. */
static void test_a_promise_is_read_with_the_unpaid_installments(void **state) {
  store *st = open_store();
  store_promise p;
  store_installment *due;
  int64_t second;
  PGconn *other;
  int n;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  other = pgt_connect(path);
  assert_non_null(other);
  add_promise_and_plan(other);
  PQfinish(other);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_promise_open(st, "C1", &p, &err), RC_OK);
  assert_int_equal(p.amount, 300);
  assert_string_equal(p.by_date, "2026-12-09");
  assert_string_equal(p.status, "open");
  /* a write between: the server is asked again */
  assert_int_equal(store_installments_unpaid(st, "C1", &due, &n, &err), RC_OK);
  assert_int_equal(n, 3);
  second = due[1].id;
  assert_int_equal(store_installment_update(st, due[0].id, 200, "paid", &err),
                   RC_OK);
  free(due);
  assert_int_equal(store_promise_open(st, "C1", &p, &err), RC_OK);
  assert_int_equal(store_installment_update(st, second, 200, "paid", &err),
                   RC_OK);
  assert_int_equal(store_installments_unpaid(st, "C1", &due, &n, &err), RC_OK);
  assert_int_equal(n, 1);
  assert_int_equal(due[0].seq, 3);
  free(due);
  /* nothing between: the server is not asked */
  assert_int_equal(store_promise_open(st, "C1", &p, &err), RC_OK);
  end_the_stores_session();
  assert_int_equal(store_installments_unpaid(st, "C1", &due, &n, &err), RC_OK);
  assert_int_equal(n, 1);
  assert_int_equal(due[0].seq, 3);
  assert_int_equal(due[0].amount, 200);
  assert_string_equal(due[0].due_date, "2026-12-03");
  free(due);
  store_rollback(st);
  store_close(st);
}

/* An import opens every case of its file in one transaction, each looked
 * for first: those lookups held an advisory lock an id, and the server's
 * lock table ran out at ~12,800 new cases ("out of shared memory"). */
static void test_many_new_cases_in_one_transaction(void **state) {
  store *st = open_store();
  rc_error err;
  (void)state;
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int i = 0; i < 20000; i++) {
    char id[32];
    int rc;
    snprintf(id, sizeof id, "N%06d", i);
    rc = store_case_exists_or_hold_opening(st, id, &err);
    if (rc != RC_ENOTFOUND) fprintf(stderr, "case %d: %s\n", i, err.message);
    assert_int_equal(rc, RC_ENOTFOUND);
  }
  add_case(st, "N000001");
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM cases"), 1);
  store_close(st);
}

/* A store whose statements give up on a lock after 200 ms: a statement
 * that would wait fails instead of hanging the test (lock_timeout). */
static store *open_impatient(void) {
  char url[1024];
  store *st = NULL;
  rc_error err;
  snprintf(url, sizeof url, "%s&options=-c%%20lock_timeout%%3D200", path);
  if (store_open(&st, url, &err) != RC_OK)
    fprintf(stderr, "%s\n", err.message);
  assert_non_null(st);
  return st;
}

/* Another writer opening cases (an import, a node) holds the opening
 * until its commit. A lookup that does not find its case (an event or a
 * reply to an unknown id) answers at once; only a writer that will open
 * the case waits for it. The lookup used to take the opening lock and
 * wait too: every 404 then waited for every import. */
static void test_a_lookup_does_not_wait_for_an_opening(void **state) {
  PGconn *other = pgt_connect(path);
  store *st = open_store(), *impatient;
  rc_error err;
  (void)state;
  add_case(st, "L1");
  store_close(st);
  impatient = open_impatient();
  assert_non_null(other);
  PQclear(pgt_exec(other, "BEGIN"));
  PQclear(pgt_exec(other,
                   "SELECT pg_advisory_xact_lock(hashtext('recoup.case'), 0)"));
  assert_int_equal(store_begin(impatient, &err), RC_OK);
  assert_int_equal(store_case_exists(impatient, "NOPE", &err), RC_ENOTFOUND);
  assert_string_equal(err.field, "case");
  assert_int_equal(store_case_exists(impatient, "L1", &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(impatient, "L1", &err),
                   RC_OK);
  assert_int_equal(store_commit(impatient, &err), RC_OK);
  /* the opener waits (here: gives up on the lock) */
  assert_int_equal(store_begin(impatient, &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(impatient, "NOPE", &err),
                   RC_ESTORE);
  assert_non_null(strstr(err.message, "lock timeout"));
  store_rollback(impatient);
  PQclear(pgt_exec(other, "COMMIT"));
  assert_int_equal(store_begin(impatient, &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(impatient, "NOPE", &err),
                   RC_ENOTFOUND);
  assert_int_equal(store_commit(impatient, &err), RC_OK);
  store_close(impatient);
  PQfinish(other);
}

/* The opening of cases is a book's, that is a schema's: an import into
 * one schema's book of a database waited for one into another's. A
 * writer still waits for one in its own book, and for a recoup before
 * session 23 anywhere in the database (which takes the database's key:
 * test_a_lookup_does_not_wait_for_an_opening). */
static void test_an_opening_waits_only_for_its_own_book(void **state) {
  PGconn *c = pgt_connect(path);
  char url[1024];
  store *st = open_store(), *other = NULL, *same;
  rc_error err;
  (void)state;
  assert_non_null(c);
  PQclear(pgt_exec(c, "CREATE SCHEMA other"));
  PQfinish(c);
  snprintf(url, sizeof url,
           "%s&options=-csearch_path%%3Dother%%20-clock_timeout%%3D200", path);
  if (store_open(&other, url, &err) != RC_OK)
    fprintf(stderr, "%s\n", err.message);
  assert_non_null(other);
  same = open_impatient();
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(st, "FIRST", &err),
                   RC_ENOTFOUND);
  assert_int_equal(store_begin(other, &err), RC_OK);
  if (store_case_exists_or_hold_opening(other, "NOPE", &err) != RC_ENOTFOUND)
    fail_msg("the other book's opener: %s", err.message);
  assert_int_equal(store_commit(other, &err), RC_OK);
  assert_int_equal(store_begin(same, &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(same, "NOPE", &err),
                   RC_ESTORE);
  assert_non_null(strstr(err.message, "lock timeout"));
  store_rollback(same);
  store_rollback(st);
  store_close(same);
  store_close(other);
  store_close(st);
}

/* `recoup migrate-store` from a PostgreSQL database that holds no book
 * refuses it and leaves it as it was: opening it as a store had created
 * a new book's schema there first. */
static void test_a_move_from_no_book_writes_nothing(void **state) {
  char to[128];
  (void)state;
  snprintf(to, sizeof to, "/tmp/pgstore_%d_to.db", (int)getpid());
  unlink(to);
  assert_int_equal(migrate_store_cli(path, to), 1);
  assert_int_equal(count_rows("SELECT count(*) FROM pg_tables WHERE "
                              "schemaname = 'public'"),
                   0);
  assert_int_equal(access(to, F_OK), -1);
}

/* A PostgreSQL book is not a file: recoup neither copies nor removes it. */
static void test_files_are_not_a_postgresql_book(void **state) {
  rc_error err;
  (void)state;
  assert_int_equal(store_copy(path, "/tmp/x.db", &err), RC_EINVAL);
  assert_int_equal(store_remove(path, &err), RC_EINVAL);
  assert_int_equal(store_files(path, NULL, 0), 0);
  assert_int_equal(count_rows("SELECT 1"), 1);
}

/* A server that is not there: a clear error naming the database. */
static void test_an_unreachable_server_is_named(void **state) {
  store *st = NULL;
  rc_error err;
  (void)state;
  assert_int_equal(
      store_open(&st, "postgresql:///nothing?host=/nonexistent", &err),
      RC_ESTORE);
  assert_null(st);
  assert_string_equal(err.field, "db");
  assert_non_null(strstr(err.message, "PostgreSQL"));
}

/* Case id with a timer due at 100, its borrower B<id>: reminders of a
 * batch to borrowers of their own. */
static void add_reminder(store *st, int i) {
  char bid[16], cid[16];
  store_borrower b = {0};
  store_case c = {0};
  rc_error err;
  snprintf(bid, sizeof bid, "B%d", i);
  snprintf(cid, sizeof cid, "C%d", i);
  b.id = bid;
  b.name = bid;
  b.ncontacts = -1;
  assert_int_equal(store_borrower_upsert(st, &b, &err), RC_OK);
  c.id = cid;
  c.borrower_id = bid;
  c.workflow = "w";
  c.version = 1;
  c.state = "new";
  c.currency = "CNY";
  c.balance = 1000;
  assert_int_equal(store_case_insert(st, &c, &err), RC_OK);
  assert_int_equal(store_timer_insert(st, cid, 100, "remind", NULL, 1, &err),
                   RC_OK);
}

/* A batch's timers are its own by their row lock, not by a lease written
 * on each: another claimer skips them while the batch runs, and one the
 * batch did not run is anyone's once it commits, not its lease later. */
static void test_a_batch_holds_its_timers_by_their_lock(void **state) {
  store *st = open_store();
  store_timer *t;
  PGconn *other;
  int n, deleted;
  rc_error err;
  (void)state;
  add_reminder(st, 1);
  add_reminder(st, 2);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 2);
  other = pgt_connect(path);
  assert_non_null(other);
  assert_int_equal(pgt_value(other, "SELECT count(*) FROM (SELECT id FROM "
                                    "timers FOR UPDATE SKIP LOCKED) t"),
                   0);
  PQfinish(other);
  assert_int_equal(store_timer_finish(st, &t[0], &deleted, &err), RC_OK);
  assert_int_equal(deleted, 1);
  store_timers_free(t, n);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM timers WHERE case_id = "
                              "'C2' AND claimed_by IS NULL"),
                   1);
  assert_int_equal(count_rows("SELECT count(*) FROM timers"), 1);
  store_close(st);
}

/* A batch of two reminders (C1 to B1, C2 to B2) whose first step has
 * read its borrower: the claim's timers, two. */
static store_timer *first_step_read(store *st) {
  store_timer *t;
  store_borrower b;
  int n, deleted;
  rc_error err;
  add_reminder(st, 1);
  add_reminder(st, 2);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 2);
  assert_int_equal(store_timer_finish(st, &t[0], &deleted, &err), RC_OK);
  assert_int_equal(store_borrower_get(st, "B1", &b, &err), RC_OK);
  store_borrower_free(&b);
  return t;
}

/* The borrower of a batch's next reminder is read while this one runs:
 * its step reads it without asking the server (here gone by then). */
static void test_the_next_reminders_borrower_is_read_ahead(void **state) {
  store *st = open_store();
  store_timer *t = first_step_read(st);
  store_borrower b;
  int deleted;
  rc_error err;
  (void)state;
  end_the_stores_session();
  assert_int_equal(store_timer_finish(st, &t[1], &deleted, &err), RC_OK);
  assert_int_equal(store_borrower_get(st, "B2", &b, &err), RC_OK);
  assert_string_equal(b.name, "B2");
  store_borrower_free(&b);
  store_timers_free(t, 2);
  store_rollback(st);
  store_close(st);
}

/* The borrowers of a batch's next reminders are read ahead in one
 * statement (one each cost the server as much as its rows): after the
 * first step's read, the next four steps read theirs, contacts in order,
 * without asking the server (here gone by then). */
static void test_the_next_reminders_borrowers_are_read_ahead_together(
    void **state) {
  store *st = open_store();
  store_timer *t;
  store_borrower b;
  PGconn *other;
  int n, deleted;
  rc_error err;
  (void)state;
  for (int i = 1; i <= 5; i++) add_reminder(st, i);
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other,
                   "INSERT INTO contacts(borrower_id, position, kind, value) "
                   "VALUES ('B3', 1, 'phone', '+8613800000002'), "
                   "('B3', 0, 'phone', '+8613800000001'), "
                   "('B4', 0, 'email', 'b4@example.com')"));
  PQfinish(other);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 5);
  assert_int_equal(store_timer_finish(st, &t[0], &deleted, &err), RC_OK);
  assert_int_equal(store_borrower_get(st, "B1", &b, &err), RC_OK);
  store_borrower_free(&b);
  end_the_stores_session();
  for (int i = 1; i < 5; i++) {
    char id[8];
    snprintf(id, sizeof id, "B%d", i + 1);
    assert_int_equal(store_timer_finish(st, &t[i], &deleted, &err), RC_OK);
    assert_int_equal(store_borrower_get(st, id, &b, &err), RC_OK);
    assert_string_equal(b.name, id);
    assert_int_equal(b.ncontacts, i == 2 ? 2 : i == 3 ? 1 : 0);
    if (i == 2) {
      assert_string_equal(b.contacts[0].value, "+8613800000001");
      assert_string_equal(b.contacts[1].value, "+8613800000002");
    }
    store_borrower_free(&b);
  }
  store_timers_free(t, n);
  store_rollback(st);
  store_close(st);
}

/* The most rows one scan of table gave in sql's plan, run with params
 * (text) in a transaction rolled back. */
static int most_rows_read(PGconn *c, const char *sql, int n,
                          const char *const *params, const char *table) {
  char explain[4096], on[64];
  PGresult *r;
  int most = 0;
  snprintf(explain, sizeof explain,
           "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) %s", sql);
  snprintf(on, sizeof on, " on %s ", table);
  PQclear(pgt_exec(c, "BEGIN"));
  r = PQexecParams(c, explain, n, NULL, params, NULL, NULL, 0);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  for (int i = 0; i < PQntuples(r); i++) {
    const char *line = PQgetvalue(r, i, 0), *rows = strstr(line, "rows=");
    if (strstr(line, on) && rows && atoi(rows + 5) > most)
      most = atoi(rows + 5);
  }
  PQclear(r);
  PQclear(pgt_exec(c, "ROLLBACK"));
  return most;
}

/* The read ahead of 16 borrowers with the check of 16 decisions, on a
 * book of 2,000 borrowers never analysed (as after an import): each is
 * looked up by its key, not every borrower read (the check, a join, read
 * all 2,000 to hash them against its 16 at each read ahead). Analysed,
 * the same. */
static void test_a_read_ahead_and_its_checks_read_few_borrowers(
    void **state) {
  static const char ids[] = "{B1,B2,B3,B4,B5,B6,B7,B8,B9,B10,B11,B12,B13,"
                            "B14,B15,B16}";
  static const char zeros[] = "{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}";
  const char *params[4] = {ids, zeros, zeros, "{B17,B18}"};
  PGconn *c;
  (void)state;
  store_close(open_store()); /* the schema */
  c = pgt_connect(path);
  assert_non_null(c);
  PQclear(pgt_exec(c, "INSERT INTO borrowers(id, name) SELECT 'B' || i, "
                      "'n' FROM generate_series(1, 2000) i"));
  for (int analysed = 0; analysed < 2; analysed++) {
    assert_in_range(
        most_rows_read(c, pg_borrowers_ahead_sql, 4, params, "borrowers"), 1,
        16);
    PQclear(pgt_exec(c, "ANALYZE borrowers"));
  }
  PQfinish(c);
}

/* A case's deferred messages are cancelled reading those alone: not
 * every deferred one of the book (2,000 of 1,000 other borrowers), nor
 * every message its borrower was sent (500 sent ones: on fa744ec the
 * cancel read all 502), never analysed and analysed. Each cancel is
 * counted on a connection of its own (no other reads pending in its
 * counts), in a transaction rolled back. */
static void test_a_case_s_deferred_cancel_reads_its_own(void **state) {
  const char *params[3] = {"C1", "case_closed", "7"};
  PGconn *c;
  (void)state;
  store_close(open_store()); /* the schema */
  c = pgt_connect(path);
  assert_non_null(c);
  PQclear(pgt_exec(c, "INSERT INTO borrowers(id) SELECT 'B' || i FROM "
                      "generate_series(1, 1000) i"));
  PQclear(pgt_exec(c, "INSERT INTO cases(id, borrower_id, workflow, "
                      "version, state, currency, opened_at) SELECT 'C' || "
                      "i, 'B' || i, 'w', 1, 'new', 'CNY', 0 FROM "
                      "generate_series(1, 1000) i"));
  PQclear(pgt_exec(c, "INSERT INTO messages(case_id, borrower_id, channel, "
                      "template, status, at, next_attempt) SELECT 'C' || "
                      "(1 + i % 1000), 'B' || (1 + i % 1000), 'sms', 't', "
                      "'deferred', i, 0 FROM generate_series(0, 1999) i"));
  PQclear(pgt_exec(c, "INSERT INTO messages(case_id, borrower_id, channel, "
                      "template, status, at, next_attempt) SELECT 'C1', "
                      "'B1', 'sms', 't', 'sent', 3000 + i, 0 FROM "
                      "generate_series(1, 500) i"));
  for (int analysed = 0; analysed < 2; analysed++) {
    PGconn *one = pgt_connect(path);
    PGresult *r;
    assert_non_null(one);
    PQclear(pgt_exec(one, "BEGIN"));
    r = PQexecParams(one, pg_cancel_deferred_sql, 3, NULL, params, NULL, NULL,
                     0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    assert_string_equal(PQcmdTuples(r), "2");
    PQclear(r);
    assert_int_equal(pgt_value(one, "SELECT seq_tup_read + coalesce("
                                    "idx_tup_fetch, 0) FROM "
                                    "pg_stat_xact_user_tables WHERE "
                                    "relname = 'messages'"),
                     2);
    PQclear(pgt_exec(one, "ROLLBACK"));
    PQfinish(one);
    PQclear(pgt_exec(c, "ANALYZE"));
  }
  PQfinish(c);
}

/* A borrower this batch itself changed after its read ahead went is read
 * again: the batch sees its own writes. */
static void test_a_borrower_the_batch_changed_is_read_again(void **state) {
  store *st = open_store();
  store_timer *t = first_step_read(st);
  store_borrower b;
  int deleted;
  rc_error err;
  (void)state;
  assert_int_equal(
      store_borrower_set_flag(st, "B2", STORE_FLAG_CEASED, 1, &err), RC_OK);
  assert_int_equal(store_timer_finish(st, &t[1], &deleted, &err), RC_OK);
  assert_int_equal(store_borrower_get(st, "B2", &b, &err), RC_OK);
  assert_int_equal(b.ceased, 1);
  store_borrower_free(&b);
  store_timers_free(t, 2);
  assert_int_equal(store_commit(st, &err), RC_OK);
  store_close(st);
}

/* n reminders of one batch to B1 (C1, C2, ...): the batch's first step
 * has read B1, and so sent the read of the second's ahead; another node
 * then records sql. The claim's timers. */
static store_timer *second_reminder_after(store *st, int reminders,
                                          const char *sql) {
  store_timer *t;
  store_borrower b;
  PGconn *other;
  int n, deleted;
  rc_error err;
  for (int i = 1; i <= reminders; i++) {
    char id[8];
    snprintf(id, sizeof id, "C%d", i);
    add_case(st, id);
    assert_int_equal(store_timer_insert(st, id, 100, "remind", NULL, 1, &err),
                     RC_OK);
  }
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, reminders);
  assert_int_equal(store_timer_finish(st, &t[0], &deleted, &err), RC_OK);
  assert_int_equal(store_borrower_get(st, "B1", &b, &err), RC_OK);
  assert_int_equal(store_borrower_decided(st, &b, &err), RC_OK);
  store_borrower_free(&b);
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other, sql));
  PQfinish(other);
  assert_int_equal(store_timer_finish(st, &t[1], &deleted, &err), RC_OK);
  return t;
}

/* The second reminder decides on B1 as read (ahead, so before the cease
 * or do-not-contact): the batch cannot commit that, and runs again
 * (store_contended), where B1 is read as it is now. The check of the
 * first decision goes with the read ahead of the third reminder's
 * borrower, if any, else with the commit. */
static void a_flag_recorded_between_two_reminders_is_seen(int reminders,
                                                          const char *sql,
                                                          int ceased,
                                                          int dnc) {
  store *st = open_store();
  store_timer *t = second_reminder_after(st, reminders, sql);
  store_borrower b;
  int n;
  rc_error err;
  assert_int_equal(store_borrower_get(st, "B1", &b, &err), RC_OK);
  if (!b.ceased && !b.do_not_contact) {
    assert_int_equal(store_borrower_decided(st, &b, &err), RC_OK);
    assert_int_not_equal(store_commit(st, &err), RC_OK);
    assert_true(store_contended(st));
    store_timers_free(t, reminders);
    assert_int_equal(store_begin(st, &err), RC_OK);
    assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err),
                     RC_OK);
    assert_int_equal(n, reminders);
    store_borrower_free(&b);
    assert_int_equal(store_borrower_get(st, "B1", &b, &err), RC_OK);
  }
  assert_int_equal(b.ceased, ceased);
  assert_int_equal(b.do_not_contact, dnc);
  store_borrower_free(&b);
  store_timers_free(t, reminders);
  store_rollback(st);
  store_close(st);
}

static void test_a_cease_between_two_reminders_stops_the_second(void **state) {
  (void)state;
  a_flag_recorded_between_two_reminders_is_seen(
      2, "UPDATE borrowers SET ceased = 1 WHERE id = 'B1'", 1, 0);
}

static void test_a_cease_is_checked_with_the_next_read_ahead(void **state) {
  (void)state;
  a_flag_recorded_between_two_reminders_is_seen(
      3, "UPDATE borrowers SET ceased = 1 WHERE id = 'B1'", 1, 0);
}

static void test_a_do_not_contact_between_two_reminders_stops_the_second(
    void **state) {
  (void)state;
  a_flag_recorded_between_two_reminders_is_seen(
      3, "UPDATE borrowers SET do_not_contact = 1 WHERE id = 'B1'", 0, 1);
}

/* A batch that decided on B1 for a message, then ceases B1 itself (a
 * cease event after a reminder, B1's cases both in it): the guard's
 * decision is checked against the borrower as it was before this
 * transaction's own write, not after, else the batch would never commit
 * (each run again decides, then ceases, the same). Here the reminders'
 * borrowers were read ahead together, so the decision's check waits. */
static void test_a_batch_that_ceases_a_borrower_it_decided_on_commits(
    void **state) {
  store *st = open_store();
  store_timer *t;
  store_borrower b;
  int n, deleted;
  rc_error err;
  (void)state;
  for (int i = 1; i <= 3; i++) {
    char id[8];
    snprintf(id, sizeof id, "C%d", i);
    add_case(st, id);
    assert_int_equal(store_timer_insert(st, id, 100, "remind", NULL, 1, &err),
                     RC_OK);
  }
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 3);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(store_timer_finish(st, &t[i], &deleted, &err), RC_OK);
    assert_int_equal(store_borrower_get(st, "B1", &b, &err), RC_OK);
    assert_int_equal(store_borrower_decided(st, &b, &err), RC_OK);
    store_borrower_free(&b);
  }
  assert_int_equal(
      store_borrower_set_flag(st, "B1", STORE_FLAG_CEASED, 1, &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_false(store_contended(st));
  assert_int_equal(count_rows("SELECT ceased FROM borrowers WHERE id = 'B1'"),
                   1);
  store_timers_free(t, n);
  store_close(st);
}

/* The read ahead that carries the check of the guard's decisions is
 * refused or skipped (here a write queued before it failed, so the
 * server skips it; a statement_timeout would do the same), and the
 * engine undoes that step's event and goes on: the decisions still get
 * their check, with the commit. B5 was decided on for the fifth
 * reminder, then ceased elsewhere; a DBA's trigger refuses the
 * seventeenth reminder's new timer, queued before its borrower read,
 * which sends the next read ahead. */
static void test_a_check_the_server_skipped_is_made_with_the_commit(
    void **state) {
  store *st = open_store();
  store_timer *t;
  store_borrower b;
  PGconn *other;
  int n, deleted;
  rc_error err;
  (void)state;
  for (int i = 1; i <= 18; i++) add_reminder(st, i);
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(
      other, "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
             "$$BEGIN IF NEW.event = 'refused' THEN RAISE check_violation "
             "USING COLUMN = 'event'; END IF; RETURN NEW; END$$; "
             "CREATE TRIGGER refuse BEFORE INSERT ON timers FOR EACH ROW "
             "EXECUTE FUNCTION refuse()"));
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 20, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 18);
  for (int i = 0; i < 17; i++) {
    char id[8];
    snprintf(id, sizeof id, "B%d", i + 1);
    if (i == 16) {
      PQclear(pgt_exec(other, "UPDATE borrowers SET ceased = 1 "
                              "WHERE id = 'B5'"));
      assert_int_equal(store_savepoint(st, &err), RC_OK);
      assert_int_equal(
          store_timer_insert(st, "C17", 300, "refused", NULL, 1, &err), RC_OK);
    }
    assert_int_equal(store_timer_finish(st, &t[i], &deleted, &err), RC_OK);
    assert_int_equal(store_borrower_get(st, id, &b, &err), RC_OK);
    assert_int_equal(b.ceased, 0);
    assert_int_equal(store_borrower_decided(st, &b, &err), RC_OK);
    store_borrower_free(&b);
  }
  assert_int_not_equal(store_release(st, &err), RC_OK);
  store_rollback_to(st, NULL);
  PQfinish(other);
  assert_int_not_equal(store_commit(st, &err), RC_OK);
  assert_true(store_contended(st));
  store_timers_free(t, n);
  store_close(st);
}

/* The borrower's cap is counted when the guard asks, not read ahead: a
 * message another node queued to B1 between the two reminders counts. */
static void test_a_cap_reached_between_two_reminders_is_counted(void **state) {
  store *st = open_store();
  store_timer *t = second_reminder_after(
      st, 2, "INSERT INTO messages (case_id, borrower_id, channel, template, "
          "status, at) VALUES ('C1', 'B1', 'sms', 'r', 'queued', 150)");
  rc_time times[4];
  int n = 0;
  rc_error err;
  (void)state;
  assert_int_equal(store_contact_times(st, NULL, "B1", "sms", 0, 0, 4, times,
                                       &n, &err),
                   RC_OK);
  assert_int_equal(n, 1);
  store_timers_free(t, 2);
  assert_int_equal(store_commit(st, &err), RC_OK);
  store_close(st);
}

static void add_task(store *st, const char *case_id) {
  store_task t = {.case_id = case_id, .kind = "call", .queue = "calls",
                  .state = "new", .fields = "{}", .due = 100, .at = 100};
  int64_t id;
  rc_error err;
  assert_int_equal(store_task_insert(st, &t, &id, &err), RC_OK);
}

/* A batch's move of a case cancels its open tasks; the claim says which
 * of its cases have any, so a case with none costs no statement (most
 * have none). A task the batch added itself is still cancelled. A
 * statement trigger counts the cancels sent: C1's and C3's, not C2's. */
static void test_a_case_with_no_task_sends_no_cancel(void **state) {
  store *st = open_store();
  store_timer *t;
  PGconn *other;
  int n;
  rc_error err;
  (void)state;
  for (int i = 1; i <= 3; i++) {
    char id[8];
    snprintf(id, sizeof id, "C%d", i);
    add_case(st, id);
    assert_int_equal(store_timer_insert(st, id, 100, "remind", NULL, 1, &err),
                     RC_OK);
  }
  add_task(st, "C1");
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other,
                   "CREATE TABLE cancels(n int); CREATE FUNCTION "
                   "count_cancel() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN INSERT INTO cancels VALUES (1); RETURN NULL; END "
                   "$$; CREATE TRIGGER count_cancel AFTER UPDATE ON tasks "
                   "FOR EACH STATEMENT EXECUTE FUNCTION count_cancel()"));
  PQfinish(other);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, 10, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, 3);
  store_timers_free(t, n);
  assert_int_equal(store_tasks_cancel_scoped(st, "C1", &err), RC_OK);
  assert_int_equal(store_tasks_cancel_scoped(st, "C2", &err), RC_OK);
  add_task(st, "C3");
  assert_int_equal(store_tasks_cancel_scoped(st, "C3", &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM tasks WHERE status = "
                              "'cancelled'"),
                   2);
  assert_int_equal(count_rows("SELECT count(*) FROM cancels"), 2);
  store_close(st);
}

/* The round trips the store's connection waits for: libpq's sends that
 * end in a Sync (a pipeline read to its end) or carry a simple query
 * (PQexec). Defined here, this send is the one libpq calls. */
static int trips;
/* Whether a send carried the journal's INSERT (its prepare: the text). */
static int journal_sent;

ssize_t send(int fd, const void *buf, size_t n, int flags) {
  static const char journal[] = "INSERT INTO journal_runs";
  const unsigned char *p = buf;
  if ((n >= 5 && memcmp(p + n - 5, "S\0\0\0\4", 5) == 0) ||
      (n >= 1 && p[0] == 'Q'))
    trips++;
  for (size_t i = 0; i + sizeof journal - 1 <= n && !journal_sent; i++)
    journal_sent = memcmp(p + i, journal, sizeof journal - 1) == 0;
  return sendto(fd, buf, n, flags, NULL, 0);
}

/* A transaction waits only for what the engine reads and for its end:
 * the BEGIN goes with the first read, the COMMIT with the writes still
 * queued. Two payments, each read in one round trip (its case held with
 * its ref look), then the commit: three, where they were five. A
 * transaction that read nothing waits once. */
static void test_a_transaction_waits_for_its_reads_and_its_commit(
    void **state) {
  store *st = open_store();
  store_case_change ch = {.id = "C1", .fields = STORE_CASE_MONEY};
  rc_error err;
  (void)state;
  add_case(st, "C1");
  add_case(st, "C2");
  trips = 0;
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(trips, 0);
  assert_int_equal(hold_with_ref_look(st, "C1", "R1"), 0);
  assert_int_equal(store_payment_insert(st, "C1", 100, "CNY", "R1", 1, &err),
                   RC_OK);
  ch.balance = 900;
  assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
  assert_int_equal(hold_with_ref_look(st, "C2", "R2"), 0);
  assert_int_equal(store_payment_insert(st, "C2", 50, "CNY", "R2", 1, &err),
                   RC_OK);
  assert_int_equal(trips, 2);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(trips, 3);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 2);
  assert_int_equal(count_rows("SELECT balance FROM cases WHERE id = 'C1'"),
                   900);
  trips = 0;
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(trips, 1);
  store_close(st);
}

/* A batch's events claim waits once, its BEGIN and both its statements
 * (the cases, then their events) in one round trip, where it waited three
 * times; a case in error has its events parked in it, the others' claimed.
 * The events handled are deleted with the batch's next statement that
 * reads events (the next claim, which finds none of them) or its commit. */
static void test_an_events_claim_waits_once(void **state) {
  PGconn *c = pgt_connect(path);
  store *st = open_store();
  store_event *ev;
  int n;
  rc_error err;
  (void)state;
  assert_non_null(c);
  add_case(st, "C1");
  add_case(st, "C2");
  add_case(st, "C3");
  for (int i = 0; i < 2; i++) {
    assert_int_equal(store_event_put(st, "C1", "payment", "{}", 1, NULL, &err),
                     RC_OK);
    assert_int_equal(store_event_put(st, "C3", "payment", "{}", 1, NULL, &err),
                     RC_OK);
  }
  assert_int_equal(store_event_put(st, "C2", "payment", "{}", 1, NULL, &err),
                   RC_OK);
  PQclear(pgt_exec(c, "UPDATE cases SET error = 'boom' WHERE id = 'C3'"));
  trips = 0;
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_events_claim(st, 10, NULL, &ev, &n, &err), RC_OK);
  assert_int_equal(trips, 1);
  assert_int_equal(n, 3);
  for (int i = 0; i < n; i++) {
    assert_string_not_equal(ev[i].case_id, "C3");
    assert_int_equal(store_event_finish(st, ev[i].id, STORE_EVENT_DONE, &err),
                     RC_OK);
  }
  store_events_free(ev, n);
  assert_int_equal(trips, 1);
  assert_int_equal(store_events_claim(st, 10, NULL, &ev, &n, &err), RC_OK);
  assert_int_equal(n, 0);
  store_events_free(ev, n);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM events WHERE status = "
                              "'pending'"),
                   0);
  assert_int_equal(count_rows("SELECT count(*) FROM events WHERE case_id = "
                              "'C3' AND status = 'failed'"),
                   2);
  assert_int_equal(count_rows("SELECT count(*) FROM events"), 2);
  store_close(st);
  PQfinish(c);
}

/* The opening of cases held by a store's transaction, as another
 * connection sees it: the old key, taken shared only there. Only this
 * test's database: other tests' books on the same cluster (an import in
 * pg_import_analyse, run beside this one by ctest -j) take it too. */
static long long opening_held(PGconn *c) {
  return pgt_value(c,
                   "SELECT count(*) FROM pg_locks WHERE locktype = "
                   "'advisory' AND mode = 'ShareLock' AND granted AND "
                   "pid <> pg_backend_pid() AND database = (SELECT oid "
                   "FROM pg_database WHERE datname = current_database())");
}

/* The opening of cases is taken once a transaction: each case not found
 * after the first is looked for in one round trip, not two (the look,
 * then the lock with the look again). A savepoint rolled back lets go of
 * the lock it took, on the server too: the next case not found takes it
 * again; one taken before the savepoint stays. */
static void test_the_opening_is_taken_once_a_transaction(void **state) {
  PGconn *c = pgt_connect(path);
  store *st = open_store();
  rc_error err;
  (void)state;
  assert_non_null(c);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(st, "A", &err),
                   RC_ENOTFOUND);
  trips = 0;
  assert_int_equal(store_case_exists_or_hold_opening(st, "B", &err),
                   RC_ENOTFOUND);
  assert_int_equal(trips, 1);
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(st, "C", &err),
                   RC_ENOTFOUND);
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(opening_held(c), 1);
  store_rollback(st);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(st, "A", &err),
                   RC_ENOTFOUND);
  assert_int_equal(store_rollback_to(st, &err), RC_OK);
  assert_int_equal(opening_held(c), 0);
  assert_int_equal(store_case_exists_or_hold_opening(st, "B", &err),
                   RC_ENOTFOUND);
  assert_int_equal(opening_held(c), 1);
  assert_int_equal(store_savepoint(st, &err), RC_OK);
  assert_int_equal(store_case_exists_or_hold_opening(st, "C", &err),
                   RC_ENOTFOUND);
  assert_int_equal(store_release(st, &err), RC_OK);
  trips = 0;
  assert_int_equal(store_case_exists_or_hold_opening(st, "D", &err),
                   RC_ENOTFOUND);
  assert_int_equal(trips, 1);
  store_rollback(st);
  assert_int_equal(opening_held(c), 0);
  store_close(st);
  PQfinish(c);
}

/* Steps of a batch of reminders from the claim's first (a case's
 * borrower is B and its number): each ends its timer, reads its
 * borrower, journals and moves its case, until one fails or after
 * steps. RC_OK or the first failure. */
static int run_steps(store *st, store_timer *t, int steps) {
  store_case_change ch = {.fields = STORE_CASE_STATE, .state = "reminded"};
  rc_error err;
  int rc = RC_OK, deleted;
  for (int i = 0; i < steps && rc == RC_OK; i++) {
    char bid[16];
    store_borrower b;
    snprintf(bid, sizeof bid, "B%s", t[i].case_id + 1);
    ch.id = t[i].case_id;
    if ((rc = store_timer_finish(st, &t[i], &deleted, &err)) == RC_OK &&
        (rc = store_borrower_get(st, bid, &b, &err)) == RC_OK) {
      assert_string_equal(b.name, bid); /* its own, whatever the order */
      store_borrower_free(&b);
      if ((rc = store_journal_append(st, t[i].case_id, 100, "event",
                                     "new", 1, NULL, &err)) == RC_OK &&
          (rc = store_journal_write(st, &err)) == RC_OK)
        rc = store_case_write(st, &ch, &err);
    }
  }
  return rc;
}

/* A batch's reminders: more than twice the steps whose rows go
 * together (pg.c's ROWS_EARLY, 128). */
enum { BATCH = 300 };

/* A batch begun and its BATCH reminders claimed. */
static store_timer *batch_claimed(store *st) {
  store_timer *t;
  rc_error err;
  int n;
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, BATCH, NULL, &t, &n, &err),
                   RC_OK);
  assert_int_equal(n, BATCH);
  return t;
}

/* What the book holds of the batches: journal runs, cases moved, timers
 * left. */
static void batch_kept(int runs, int moved, int timers) {
  assert_int_equal(count_rows("SELECT count(*) FROM journal_runs"), runs);
  assert_int_equal(count_rows("SELECT count(*) FROM cases WHERE state = "
                              "'reminded'"),
                   moved);
  assert_int_equal(count_rows("SELECT count(*) FROM timers"), timers);
}

/* A batch's rows go to the server while its steps run, some steps at a
 * time after a borrower read ahead, not all at its commit: the server
 * writes them while the node runs the next steps (on two cores they took
 * turns). Its waits do not grow. A write refused there fails the batch
 * at a later read, or at the commit: nothing of it is kept, and the next
 * batch runs (the failed read leaves no aborted pipeline behind). */
static void test_a_batchs_rows_go_before_its_commit(void **state) {
  store *st = open_store();
  store_timer *t;
  PGconn *other;
  rc_error err;
  int waits;
  (void)state;
  for (int i = 1; i <= BATCH; i++) add_reminder(st, i);
  t = batch_claimed(st);
  journal_sent = 0;
  trips = 0;
  assert_int_equal(run_steps(st, t, 160), RC_OK);
  assert_int_equal(journal_sent, 1);
  waits = trips;
  assert_in_range(waits, 1, 160 / 16 + 1); /* the borrowers read ahead */
  assert_int_equal(run_steps(st, t + 160, BATCH - 160), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  store_timers_free(t, BATCH);
  batch_kept(BATCH, BATCH, 0);

  /* The same with the journal refused by the database. */
  PQclear(pgt_exec(other = pgt_connect(path),
                   "UPDATE cases SET state = 'new';"
                   "INSERT INTO timers(due, case_id, event, scoped) "
                   "SELECT 100, id, 'remind', 1 FROM cases;"
                   "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE "
                   "plpgsql AS $$ BEGIN RAISE 'refused'; END $$;"
                   "CREATE TRIGGER refuse BEFORE INSERT ON journal_runs "
                   "FOR EACH ROW EXECUTE FUNCTION refuse()"));
  PQfinish(other);
  t = batch_claimed(st);
  assert_int_not_equal(run_steps(st, t, BATCH), RC_OK); /* before the end */
  store_rollback(st);
  store_timers_free(t, BATCH);
  batch_kept(BATCH, 0, BATCH);
  /* And the store goes on: the batch rolled back is gone. */
  PQclear(pgt_exec(other = pgt_connect(path), "DROP TRIGGER refuse ON "
                                              "journal_runs"));
  PQfinish(other);
  t = batch_claimed(st);
  assert_int_equal(run_steps(st, t, BATCH), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  store_timers_free(t, BATCH);
  batch_kept(2 * BATCH, BATCH, 0);
  store_close(st);
}

/* Borrower ids whose byte order is not a natural collation's: b and B,
 * a letter with a diacritic, Chinese, digits of different lengths. A
 * batch's borrowers are read ahead in byte order and each step finds its
 * own among them by halving the read (pg.c, ahead_first): each step gets
 * its own borrower and its contacts, never a neighbour's. */
static void test_a_step_reads_its_own_borrower_whatever_its_id(void **state) {
  static const char *const prefix[] = {"B",  "b", "\xc3\x84", "\xe5\xbc\xa0",
                                       "0-", "Z"};
  enum { N = 260 };
  store *st = open_store();
  store_timer *t;
  PGconn *other;
  rc_error err;
  int n, deleted;
  (void)state;
  for (int i = 1; i <= N; i++) {
    char bid[32], cid[16];
    store_borrower b = {0};
    store_case c = {0};
    snprintf(bid, sizeof bid, "%s%d", prefix[i % 6], i);
    snprintf(cid, sizeof cid, "C%d", i);
    b.id = bid;
    b.name = bid;
    b.ncontacts = -1;
    assert_int_equal(store_borrower_upsert(st, &b, &err), RC_OK);
    c.id = cid;
    c.borrower_id = bid;
    c.workflow = "w";
    c.version = 1;
    c.state = "new";
    c.currency = "CNY";
    c.balance = 1000;
    assert_int_equal(store_case_insert(st, &c, &err), RC_OK);
    assert_int_equal(store_timer_insert(st, cid, 100, "remind", NULL, 1, &err),
                     RC_OK);
  }
  /* Every fifth borrower has i % 3 + 1 phones: its rows are several. */
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(
      pgt_exec(other,
               "INSERT INTO contacts(borrower_id, position, kind, value) "
               "SELECT b.id, p, 'phone', b.id || '/' || p FROM borrowers b, "
               "generate_series(0, 2) p WHERE substring(b.id from "
               "'[0-9]+$')::int % 5 = 0 AND p <= substring(b.id from "
               "'[0-9]+$')::int % 3"));
  PQfinish(other);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 200, N, NULL, &t, &n, &err), RC_OK);
  assert_int_equal(n, N);
  for (int k = 0; k < n; k++) {
    int i = atoi(t[k].case_id + 1);
    char bid[32], phone[48];
    store_borrower b;
    snprintf(bid, sizeof bid, "%s%d", prefix[i % 6], i);
    assert_int_equal(store_timer_finish(st, &t[k], &deleted, &err), RC_OK);
    assert_int_equal(store_borrower_get(st, bid, &b, &err), RC_OK);
    assert_string_equal(b.name, bid);
    assert_int_equal(b.ncontacts, i % 5 ? 0 : i % 3 + 1);
    for (int p = 0; p < b.ncontacts; p++) {
      snprintf(phone, sizeof phone, "%s/%d", bid, p);
      assert_string_equal(b.contacts[p].value, phone);
    }
    store_borrower_free(&b);
  }
  assert_int_equal(store_commit(st, &err), RC_OK);
  store_timers_free(t, n);
  store_close(st);
}

/* The connection lost before the commit's round trip: the commit fails,
 * nothing of the transaction is kept, and the store goes on with a new
 * connection. A queued write refused in that round trip (a ref another
 * node paid meanwhile) fails the commit the same way: the COMMIT sent
 * behind it is skipped, and the caller runs it again (contended). */
static void test_a_commit_without_its_server_keeps_nothing(void **state) {
  store *st = open_store();
  PGconn *other;
  rc_error err;
  (void)state;
  add_case(st, "C1");
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(hold_with_ref_look(st, "C1", "R1"), 0);
  assert_int_equal(store_payment_insert(st, "C1", 100, "CNY", "R1", 1, &err),
                   RC_OK);
  end_the_stores_session();
  assert_int_equal(store_commit(st, &err), RC_ESTORE);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 0);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(hold_with_ref_look(st, "C1", "R1"), 0);
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other, "INSERT INTO payments(case_id, amount, ref, at) "
                          "VALUES ('C1', 7, 'R1', 1)"));
  PQfinish(other);
  assert_int_equal(store_payment_insert(st, "C1", 100, "CNY", "R1", 1, &err),
                   RC_OK);
  assert_int_equal(store_commit(st, &err), RC_ESTORE);
  assert_int_equal(store_contended(st), 1);
  assert_int_equal(count_rows("SELECT sum(amount) FROM payments"), 7);
  PQclear(pgt_exec(other = pgt_connect(path), "DELETE FROM payments"));
  PQfinish(other);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_payment_insert(st, "C1", 100, "CNY", "R1", 1, &err),
                   RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 1);
  store_close(st);
}

/* A transaction's counters go in one upsert a kind, whatever the rows:
 * the functions that add one row each (the triggers' way, for other
 * writers) are not called, here made to fail if they were. Payments to
 * three cases, two sharing a due date, one with none. */
static void test_the_counters_go_in_one_upsert_a_kind(void **state) {
  store *st = open_store();
  store_case_change ch = {.fields = STORE_CASE_MONEY};
  static const char *const ids[] = {"C1", "C2", "C3"};
  PGconn *other;
  rc_error err;
  (void)state;
  for (int i = 0; i < 3; i++) add_case(st, ids[i]);
  other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other, "UPDATE cases SET due_date = '2026-12-01' "
                          "WHERE id <> 'C3'"));
  PQclear(pgt_exec(other,
                   "CREATE OR REPLACE FUNCTION figures_due_add(d text, n "
                   "bigint, b bigint) RETURNS void LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE 'a row at a time'; END $$;"
                   "CREATE OR REPLACE FUNCTION figures_state_add(w text, s "
                   "text, n bigint, b bigint, e bigint, c bigint) RETURNS "
                   "void LANGUAGE plpgsql AS $$ BEGIN RAISE 'a row at a "
                   "time'; END $$"));
  PQfinish(other);
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int i = 0; i < 3; i++) {
    store_case c;
    int busy;
    assert_int_equal(store_case_try_hold(st, ids[i], &c, &busy, &err), RC_OK);
    store_case_free(&c);
    ch.id = ids[i];
    ch.balance = 900 - 100 * i;
    assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
  }
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(count_rows("SELECT sum(balance) FROM figures_due WHERE "
                              "due_date = '2026-12-01'"),
                   1700);
  assert_int_equal(count_rows("SELECT sum(balance) FROM figures_due WHERE "
                              "due_date = ''"),
                   700);
  assert_int_equal(count_rows("SELECT sum(cases) FROM figures_due"), 3);
  assert_int_equal(count_rows("SELECT sum(balance) FROM figures_states"),
                   2400);
  assert_int_equal(count_rows("SELECT sum(cases) FROM figures_states"), 3);
  store_close(st);
}

/* Rows of timers read by scans on c (its backend's counts not yet
 * reported). */
static long long timers_read(PGconn *c) {
  return pgt_value(c, "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) "
                      "FROM pg_stat_xact_user_tables WHERE relname = "
                      "'timers'");
}

/* A connection to a new book of n cases, PREFIX1 to PREFIXn, of one
 * borrower. */
static PGconn *cases_book(const char *prefix, int n) {
  char sql[256];
  PGconn *c;
  store_close(open_store()); /* the schema */
  c = pgt_connect(path);
  assert_non_null(c);
  PQclear(pgt_exec(c, "INSERT INTO borrowers(id) VALUES ('B1')"));
  snprintf(sql, sizeof sql,
           "INSERT INTO cases(id, borrower_id, workflow, version, state, "
           "currency, opened_at) SELECT '%s' || i, 'B1', 'w', 1, 'new', "
           "'CNY', 0 FROM generate_series(1, %d) i",
           prefix, n);
  PQclear(pgt_exec(c, sql));
  return c;
}

/* A batch's kept case states, timer ends and timer cancels (apart and
 * together) for 400 of a book's 4,000 cases, never analysed (as after an import) and analysed:
 * a tenth of the book, each row is found by its key, no scan of cases or
 * timers gives more rows than the batch has (as joins with unnest, each
 * read all 4,000 to hash them at each batch). */
static void test_a_batchs_states_and_timers_are_found_by_key(void **state) {
  char ids[4096] = "{", states[2048] = "{", zeros[1024] = "{";
  char nulls[2048] = "{", *timer_ids, *few_ids;
  const char *few[1];
  long long read;
  PGconn *c;
  PGresult *r;
  (void)state;
  c = cases_book("C", 4000);
  PQclear(pgt_exec(c, "INSERT INTO timers(due, case_id, event, scoped) "
                      "SELECT i, 'C' || i, 'remind', 1 FROM "
                      "generate_series(1, 4000) i"));
  for (int i = 1; i <= 4000; i += 10) {
    const char *sep = i > 1 ? "," : "";
    snprintf(ids + strlen(ids), sizeof ids - strlen(ids), "%sC%d", sep, i);
    snprintf(states + strlen(states), sizeof states - strlen(states),
             "%sdone", sep);
    snprintf(zeros + strlen(zeros), sizeof zeros - strlen(zeros), "%s0", sep);
    snprintf(nulls + strlen(nulls), sizeof nulls - strlen(nulls), "%sNULL",
             sep);
  }
  strcat(ids, "}"), strcat(states, "}"), strcat(zeros, "}");
  strcat(nulls, "}");
  r = pgt_exec(c, "SELECT array_agg(id)::text FROM timers WHERE id % 10 = 1");
  timer_ids = strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  r = pgt_exec(c, "SELECT array_agg(id)::text FROM timers WHERE id <= 64");
  few[0] = few_ids = strdup(PQgetvalue(r, 0, 0));
  PQclear(r);
  for (int analysed = 0; analysed < 2; analysed++) {
    const char *set[5] = {ids, states, zeros, nulls, zeros};
    const char *ends[1] = {timer_ids}, *cuts[2] = {ids, zeros};
    assert_in_range(most_rows_read(c, pg_states_sql, 5, set, "cases"), 1, 400);
    assert_in_range(most_rows_read(c, pg_ends_sql, 1, ends, "timers"), 1,
                    400);
    assert_in_range(most_rows_read(c, pg_cuts_sql, 2, cuts, "timers"), 1,
                    400);
    {
      const char *both[3] = {ids, zeros, timer_ids};
      assert_in_range(most_rows_read(c, pg_ends_cuts_sql, 3, both, "timers"),
                      1, 400);
    }
    /* A batch's first 64, sent before its end (borrower_ahead): the rows
     * a scan reads, not only those it gives (a filter drops the rest). */
    PQclear(pgt_exec(c, "BEGIN"));
    read = -timers_read(c);
    PQclear(PQexecParams(c, pg_ends_sql, 1, NULL, few, NULL, NULL, 0));
    assert_int_equal(read + timers_read(c), 64);
    PQclear(pgt_exec(c, "ROLLBACK"));
    PQclear(pgt_exec(c, "ANALYZE cases"));
    PQclear(pgt_exec(c, "ANALYZE timers"));
  }
  /* And each writes what it wrote before: 400 states, 400 timers gone. */
  PQclear(pgt_exec(c, "BEGIN"));
  {
    const char *set[5] = {ids, states, zeros, nulls, zeros};
    const char *cuts[2] = {ids, zeros};
    PQclear(PQexecParams(c, pg_states_sql, 5, NULL, set, NULL, NULL, 0));
    PQclear(PQexecParams(c, pg_cuts_sql, 2, NULL, cuts, NULL, NULL, 0));
  }
  assert_int_equal(
      pgt_value(c, "SELECT count(*) FROM cases WHERE state = 'done'"), 400);
  assert_int_equal(pgt_value(c, "SELECT count(*) FROM timers"), 3600);
  assert_int_equal(pgt_value(c, "SELECT count(*) FROM timers t JOIN cases "
                                "c ON c.id = t.case_id WHERE c.state = "
                                "'done'"),
                   0);
  PQclear(pgt_exec(c, "ROLLBACK"));
  /* Ends and cuts together delete both: the 400 cases' timers and the
   * first 64, of which 7 are theirs. */
  PQclear(pgt_exec(c, "BEGIN"));
  {
    const char *both[3] = {ids, zeros, few_ids};
    PQclear(PQexecParams(c, pg_ends_cuts_sql, 3, NULL, both, NULL, NULL, 0));
  }
  assert_int_equal(pgt_value(c, "SELECT count(*) FROM timers"), 3543);
  assert_int_equal(pgt_value(c, "SELECT count(*) FROM timers WHERE id <= 64"),
                   0);
  PQclear(pgt_exec(c, "ROLLBACK"));
  free(timer_ids);
  free(few_ids);
  PQfinish(c);
}

/* A batch's state write that keeps none of its rows (a trigger of the
 * book's own dropping them all) is refused naming the first ten cases and
 * counting the rest: on 72d03b3 the message named all 400, a message of
 * 9 kB, growing with the batch. */
static void test_a_refused_batchs_states_are_said_in_bounds(void **state) {
  const char *set[5], *said;
  PGconn *c;
  PGresult *r;
  (void)state;
  c = cases_book("case-number-", 400);
  PQclear(pgt_exec(c,
                   "CREATE FUNCTION drop_all() RETURNS trigger "
                   "LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$; "
                   "CREATE TRIGGER drop_all BEFORE UPDATE ON cases FOR "
                   "EACH ROW EXECUTE FUNCTION drop_all()"));
  /* The batch as the store sends it: ids, states, closed, outcomes,
   * movers. */
  r = pgt_exec(c,
               "SELECT array_agg(id)::text, array_agg('done'::text)::text, "
               "array_agg(0)::text, array_agg(NULL::text)::text, "
               "array_agg(7)::text FROM cases");
  for (int k = 0; k < 5; k++) set[k] = PQgetvalue(r, 0, k);
  {
    PGresult *refused =
        PQexecParams(c, pg_states_sql, 5, NULL, set, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(refused), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(refused, PG_DIAG_SQLSTATE), "22P02");
    said = PQresultErrorField(refused, PG_DIAG_MESSAGE_PRIMARY);
    assert_non_null(strstr(said,
                           "400 of 400 rows not kept by the table "
                           "cases: case case-number-"));
    assert_in_range(strlen(said), 1, 400);
    PQclear(refused);
  }
  PQclear(r);
  PQfinish(c);
}

/* A number column whose text is not a whole number of its type is
 * refused (NULL, *len -1), never sent as a wrong number: strtoll
 * unchecked made a non-number 0 and wrapped an int4. A NULL, the ends
 * of each type and a sign pass. */
static void test_kept_numbers_not_numbers_are_refused(void **state) {
  static const struct {
    unsigned type;
    const char *text;
    int ok;
  } cases[] = {{PG_INT4, "12x", 0},
               {PG_INT4, "", 0},
               {PG_INT4, "abc", 0},
               {PG_INT4, "1.5", 0},
               {PG_INT4, "2147483648", 0},
               {PG_INT4, "-2147483649", 0},
               {PG_INT8, "9223372036854775808", 0},
               {PG_INT8, "-9223372036854775809", 0},
               {PG_INT8, "7 ", 0},
               {PG_INT4, "2147483647", 1},
               {PG_INT4, "-2147483648", 1},
               {PG_INT4, NULL, 1},
               {PG_INT8, "9223372036854775807", 1},
               {PG_INT8, "-9223372036854775808", 1},
               {PG_INT8, "+5", 1}};
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pg_rows b = {.ncols = 1};
    const char *before = "1", *row = cases[i].text;
    int len = 0;
    char *arr;
    /* after a good row: the whole array is refused, not cut short */
    assert_int_equal(pg_rows_add(&b, &before), 0);
    assert_int_equal(pg_rows_add(&b, &row), 0);
    arr = pg_rows_array(&b, 0, cases[i].type, &len);
    if (cases[i].ok) {
      assert_non_null(arr);
      assert_true(len > 0);
    } else {
      assert_null(arr);
      assert_int_equal(len, -1);
    }
    free(arr);
    pg_rows_free(&b);
  }
}

/* One job of a group as apply_group runs it on its payment: its light
 * savepoint, its case held with its ref looked up, then its writes, the
 * balance less the payment. busy and the balance it read come back. */
static int pay_in_group(store *st, const char *case_id, const char *ref,
                        rc_money amount, rc_money *balance,
                        store_promise *promise) {
  store_case c;
  store_case_change ch = {.fields = STORE_CASE_MONEY};
  char was[64];
  rc_money paid;
  int busy = -1;
  rc_error err;
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  store_case_ahead(st, case_id);
  assert_int_equal(
      store_payment_by_ref(st, ref, was, sizeof was, &paid, &err),
      RC_ENOTFOUND);
  assert_int_equal(store_case_try_hold(st, case_id, &c, &busy, &err), RC_OK);
  if (!busy) {
    *balance = c.balance;
    if (promise)
      assert_int_equal(store_promise_open(st, case_id, promise, &err), RC_OK);
    store_case_free(&c);
    assert_int_equal(
        store_payment_insert(st, case_id, amount, "CNY", ref, 1, &err), RC_OK);
    ch.id = case_id;
    ch.balance = *balance - amount;
    assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
  }
  assert_int_equal(store_release(st, &err), RC_OK);
  return busy;
}

/* A group's payments named before its first job are read in one round
 * trip, the first job's, where each waited for its own: three payments
 * and the commit wait twice, not four times. What they read is what each
 * would have read: the case held and its open promise, the ref found or
 * not; a case another transaction holds is busy. A case or ref named
 * twice, one too long to keep, or one never named is read by its own
 * job, after the writes before it; a name whose job never comes is
 * forgotten with the transaction. */
static void test_a_groups_payments_are_read_in_one_round_trip(void **state) {
  store *st = open_store();
  const char *cases[] = {"C1", "C2", "C3", "C4", NULL, "C2"};
  const char *refs[] = {"R1", "R2", "R3", "R4", "R9", "R5"};
  char was[64], longer[300];
  rc_money amount, balance = 0;
  store_promise p;
  PGconn *other;
  rc_error err;
  (void)state;
  for (int i = 0; i < 4; i++) add_case(st, cases[i]);
  other = pgt_connect(path);
  assert_non_null(other);
  add_promise_and_plan(other);
  trips = 0;
  assert_int_equal(store_begin(st, &err), RC_OK);
  store_pays_ahead(st, 6, cases, refs);
  assert_int_equal(trips, 0);
  assert_int_equal(pay_in_group(st, "C1", "R1", 100, &balance, &p), 0);
  assert_int_equal(trips, 1);
  assert_int_equal(balance, 1000);
  assert_int_equal(p.amount, 300);
  assert_int_equal(pay_in_group(st, "C2", "R2", 50, &balance, NULL), 0);
  assert_int_equal(pay_in_group(st, "C3", "R3", 20, &balance, NULL), 0);
  assert_int_equal(trips, 1);
  /* C2 again, a case named twice: read after its first payment. */
  assert_int_equal(pay_in_group(st, "C2", "R5", 5, &balance, NULL), 0);
  assert_int_equal(balance, 950);
  assert_int_equal(trips, 2);
  assert_int_equal(store_commit(st, &err), RC_OK); /* C4 never came */
  assert_int_equal(trips, 3);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 4);
  assert_int_equal(count_rows("SELECT balance FROM cases WHERE id = 'C2'"),
                   945);

  /* R1 paid already, C4 held by another transaction, a ref as long as
   * hostile callers make it, a ref named and another looked up. */
  memset(longer, 'x', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  PQclear(pgt_exec(other, "BEGIN"));
  PQclear(pgt_exec(other, "SELECT 1 FROM cases WHERE id = 'C4' FOR UPDATE"));
  {
    const char *c2[] = {"C1", "C4", "C3", longer};
    const char *r2[] = {"R1", "R4", "R6", "R7"};
    assert_int_equal(store_begin(st, &err), RC_OK);
    store_pays_ahead(st, 4, c2, r2);
  }
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  store_case_ahead(st, "C1");
  assert_int_equal(store_payment_by_ref(st, "R1", was, sizeof was, &amount,
                                        &err),
                   RC_OK);
  assert_string_equal(was, "C1");
  assert_int_equal(amount, 100);
  assert_int_equal(store_release(st, &err), RC_OK);
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  assert_int_equal(hold_with_ref_look(st, "C4", "R4"), 1);
  assert_int_equal(store_release(st, &err), RC_OK);
  assert_int_equal(pay_in_group(st, "C3", "R8", 1, &balance, NULL), 0);
  assert_int_equal(balance, 980);
  assert_int_equal(store_commit(st, &err), RC_OK);
  PQclear(pgt_exec(other, "COMMIT"));
  PQfinish(other);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 5);
  assert_int_equal(count_rows("SELECT balance FROM cases WHERE id = 'C3'"),
                   979);
  store_close(st);
}

/* sql run by a session of its own, as a DBA's. */
static void run_on_other(const char *sql) {
  PGconn *other = pgt_connect(path);
  assert_non_null(other);
  PQclear(pgt_exec(other, sql));
  PQfinish(other);
}

/* A group's reads sent ahead and refused (the table of payments renamed
 * away by a DBA): the first job's read fails as the group's, not as its
 * own (store_replay: the group runs again checked), and the group run
 * again checked reads each job's own as it comes (two reads, two checked
 * ends, the commit), keeping its payments. */
static void test_a_groups_reads_refused_ahead_run_it_again_checked(
    void **state) {
  store *st = open_store();
  const char *cases[] = {"C1", "C2"};
  const char *refs[] = {"R1", "R2"};
  char was[64];
  rc_money paid, balance = 0;
  rc_error err;
  (void)state;
  for (int i = 0; i < 2; i++) add_case(st, cases[i]);
  run_on_other("ALTER TABLE payments RENAME TO payments_away");
  assert_int_equal(store_begin(st, &err), RC_OK);
  store_pays_ahead(st, 2, cases, refs);
  assert_int_equal(store_savepoint_light(st, &err), RC_OK);
  store_case_ahead(st, "C1");
  assert_int_not_equal(
      store_payment_by_ref(st, "R1", was, sizeof was, &paid, &err), RC_OK);
  assert_int_equal(store_replay(st), STORE_REPLAY_GROUP);
  store_rollback_to(st, &err);
  store_rollback(st);
  run_on_other("ALTER TABLE payments_away RENAME TO payments");
  store_group_checked(st, 1);
  trips = 0;
  assert_int_equal(store_begin(st, &err), RC_OK);
  store_pays_ahead(st, 2, cases, refs);
  assert_int_equal(pay_in_group(st, "C1", "R1", 10, &balance, NULL), 0);
  assert_int_equal(pay_in_group(st, "C2", "R2", 10, &balance, NULL), 0);
  assert_int_equal(store_commit(st, &err), RC_OK);
  store_group_checked(st, 0);
  assert_int_equal(trips, 5);
  assert_int_equal(count_rows("SELECT count(*) FROM payments"), 2);
  assert_int_equal(count_rows("SELECT sum(balance) FROM cases"), 1980);
  store_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_a_commit_after_a_failure_fails,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_the_days_figures_are_written_once_a_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_batch_counts_its_cases_once,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_two_nodes_count_their_payments_to_one_arm, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_batch_sends_its_messages_and_runs_together, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_batch_writes_its_states_and_timers_together, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cease_committed_during_a_batch_is_seen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_an_events_claim_reads_its_cases,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_an_events_claim_waits_once, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_a_ref_paid_meanwhile_elsewhere_runs_it_again, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_promise_is_read_with_the_unpaid_installments, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_payments_case_is_held_with_its_ref_look, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_payments_promise_is_read_with_its_hold, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_jobs_writes_are_read_with_the_next_job, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_kept_write_refused_in_a_later_job_is_not_its_fault, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_long_queue_leaves_room_for_the_next_read, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_kept_rows_in_binary_are_refused_as_in_text, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_job_refused_after_writing_asks_for_a_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_held_case_is_counted_from_its_read,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_new_cases_in_one_transaction,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_lookup_does_not_wait_for_an_opening, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_an_opening_waits_only_for_its_own_book, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_the_opening_is_taken_once_a_transaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_move_from_no_book_writes_nothing,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_files_are_not_a_postgresql_book,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_an_unreachable_server_is_named,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_batch_holds_its_timers_by_their_lock, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_the_next_reminders_borrower_is_read_ahead, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_the_next_reminders_borrowers_are_read_ahead_together, setup,
          teardown),
      cmocka_unit_test(test_kept_rows_keep_each_keys_last_write),
      cmocka_unit_test(test_kept_rows_say_which_columns_hold_one_value),
      cmocka_unit_test_setup_teardown(test_kept_rows_alike_are_each_written,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_kept_rows_reach_the_server_as_they_were, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_read_ahead_and_its_checks_read_few_borrowers, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_case_s_deferred_cancel_reads_its_own, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_borrower_the_batch_changed_is_read_again, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_batch_that_ceases_a_borrower_it_decided_on_commits, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_check_the_server_skipped_is_made_with_the_commit, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cease_between_two_reminders_stops_the_second, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cease_is_checked_with_the_next_read_ahead, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_do_not_contact_between_two_reminders_stops_the_second, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cap_reached_between_two_reminders_is_counted, setup,
          teardown),
      cmocka_unit_test_setup_teardown(test_a_case_with_no_task_sends_no_cancel,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_transaction_waits_for_its_reads_and_its_commit, setup,
          teardown),
      cmocka_unit_test_setup_teardown(test_a_batchs_rows_go_before_its_commit,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_step_reads_its_own_borrower_whatever_its_id, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_commit_without_its_server_keeps_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_the_counters_go_in_one_upsert_a_kind, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_batchs_states_and_timers_are_found_by_key, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_refused_batchs_states_are_said_in_bounds, setup, teardown),
      cmocka_unit_test(test_kept_numbers_not_numbers_are_refused),
      cmocka_unit_test_setup_teardown(
          test_a_groups_payments_are_read_in_one_round_trip, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_groups_reads_refused_ahead_run_it_again_checked, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_transaction_plans_generically_from_the_first_use, setup,
          teardown),
  };
  if (!pgt_cluster_url()) return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
