/* A database argument as messages and logs show it (store_where_shown):
 * a PostgreSQL URL's password, where libpq would read one, is ***; the
 * rest, and a file's path, as given; never past the buffer. Built with
 * PostgreSQL (RECOUP_PG_ATTACK), a transaction's ends attacked on the
 * test cluster too: a BEGIN queued and never read, a first read refused,
 * a COMMIT refused or its connection lost, the counters' upserts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/where.h"
#ifdef RECOUP_PG_ATTACK
#include <pthread.h>

#include "pg/pgt.h"
#include "store/store.h"
#endif

static void shows(const char *db, const char *expected) {
  char out[512];
  store_where_shown(db, out, sizeof out);
  assert_string_equal(out, expected);
}

static void test_a_password_in_the_user_part_is_hidden(void **state) {
  (void)state;
  shows("postgresql://recoup:s3cret@db.example/book",
        "postgresql://recoup:***@db.example/book");
  shows("postgres://u:p%40ss@h:5432/b?sslmode=require",
        "postgres://u:***@h:5432/b?sslmode=require");
  /* libpq's user part ends at the first '@': what follows is the host */
  shows("postgresql://u:a@b@h/db", "postgresql://u:***@b@h/db");
  shows("postgresql://u:@h/db", "postgresql://u:***@h/db");
}

static void test_a_password_parameter_is_hidden(void **state) {
  (void)state;
  shows("postgresql:///book?host=/tmp/s&password=s3cret&user=r",
        "postgresql:///book?host=/tmp/s&password=***&user=r");
  shows("postgresql:///book?password=s3cret",
        "postgresql:///book?password=***");
  /* a parameter that merely ends in "password" is not one */
  shows("postgresql:///book?xpassword=k", "postgresql:///book?xpassword=k");
}

static void test_what_holds_no_password_is_shown_as_given(void **state) {
  (void)state;
  shows("postgresql:///book?host=/tmp/s&user=recoup",
        "postgresql:///book?host=/tmp/s&user=recoup");
  shows("postgresql://recoup@db/book", "postgresql://recoup@db/book");
  /* a ':' and an '@' past the first '/' are the path's, not a password */
  shows("postgresql://h/db:x@y", "postgresql://h/db:x@y");
  shows("var/recoup.db", "var/recoup.db");
  shows("/srv/u:p@x/recoup.db", "/srv/u:p@x/recoup.db");
  shows(":memory:", ":memory:");
}

static void test_the_buffer_is_never_overrun(void **state) {
  char out[16];
  (void)state;
  memset(out, 'x', sizeof out);
  store_where_shown("postgresql://recoup:s3cret@db.example/book", out, 16);
  assert_string_equal(out, "postgresql://re");
  store_where_shown("postgresql://r:s3cretsecret@h/b", out, 16);
  assert_int_equal(strstr(out, "s3c") == NULL, 1);
  store_where_shown("postgresql://r:s@h/b?password=s3cretsecret", out, 16);
  assert_int_equal(strstr(out, "s3c") == NULL, 1);
}

#ifdef RECOUP_PG_ATTACK
/* The test's database, made afresh before each test (setup). */
static char name[64];
static char *url;

static int setup(void **state) {
  static int serial;
  (void)state;
  free(url);
  snprintf(name, sizeof name, "pgattack_%d_%d", (int)getpid(), ++serial);
  url = pgt_database(name);
  return url ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  pgt_drop(name);
  free(url);
  url = NULL;
  return 0;
}

static long long value(const char *sql) {
  PGconn *c = pgt_connect(url);
  long long v;
  assert_non_null(c);
  v = pgt_value(c, sql);
  PQfinish(c);
  return v;
}

static void run_sql(const char *sql) {
  PGconn *c = pgt_connect(url);
  assert_non_null(c);
  PQclear(pgt_exec(c, sql));
  PQfinish(c);
}

static store *open_book(void) {
  store *st = NULL;
  rc_error err;
  if (store_open(&st, url, &err) != RC_OK) fprintf(stderr, "%s\n", err.message);
  assert_non_null(st);
  return st;
}

static void add_case(store *st, const char *id, const char *due) {
  store_borrower b = {.id = "B1", .name = "Wang", .ncontacts = -1};
  store_case c = {0};
  rc_error err;
  assert_int_equal(store_borrower_upsert(st, &b, &err), RC_OK);
  c.id = (char *)id;
  c.borrower_id = "B1";
  c.workflow = "w";
  c.version = 1;
  c.state = "new";
  c.currency = "CNY";
  c.balance = 1000;
  c.due_date = (char *)due;
  assert_int_equal(store_case_insert(st, &c, &err), RC_OK);
}

/* Ends the store's session from another connection (client backends
 * only), waiting until it is gone. */
static void end_the_stores_session(void) {
  assert_int_equal(
      value("SELECT count(*) FROM (SELECT pid FROM pg_stat_activity WHERE "
            "datname = current_database() AND pid <> pg_backend_pid() AND "
            "backend_type = 'client backend' OFFSET 0) p WHERE "
            "pg_terminate_backend(p.pid, 10000)"),
      1);
}

/* The case held, then (unless busy) the payment and the balance less
 * it: RC_OK, or the first failure. */
static int hold_and_pay(store *st, const char *case_id, const char *ref,
                        rc_money amount, int *busy) {
  store_case c;
  store_case_change ch = {.id = case_id, .fields = STORE_CASE_MONEY};
  rc_error err;
  int rc = store_case_try_hold(st, case_id, &c, busy, &err);
  if (rc != RC_OK || *busy) return rc;
  ch.balance = c.balance - amount;
  store_case_free(&c);
  if (store_payment_insert(st, case_id, amount, "CNY", ref, 1, &err) != RC_OK ||
      store_case_write(st, &ch, &err) != RC_OK)
    return RC_ESTORE;
  return RC_OK;
}

/* A payment in a transaction of its own, as a payment's writer makes
 * it: the ref looked at, the case held, the payment and the balance. */
static int pay(store *st, const char *case_id, const char *ref,
               rc_money amount) {
  char was[64];
  rc_money paid;
  int busy = 0, rc;
  rc_error err;
  if (store_begin(st, &err) != RC_OK) return -1;
  rc = store_payment_by_ref(st, ref, was, sizeof was, &paid, &err);
  if (rc == RC_OK) {
    store_rollback(st);
    return 1; /* known: kept before */
  }
  if (rc != RC_ENOTFOUND ||
      hold_and_pay(st, case_id, ref, amount, &busy) != RC_OK || busy) {
    store_rollback(st);
    return -1;
  }
  return store_commit(st, &err) == RC_OK ? 0 : -1;
}

/* The console's counters as the cases are: by workflow and state, by due
 * date of the open ones ('' for none). The rows that differ. */
static long long counters_off(void) {
  return value(
      "SELECT (SELECT count(*) FROM (SELECT workflow, state, count(*) n, "
      "sum(balance) b, sum(closed) c FROM cases GROUP BY 1, 2) a FULL JOIN "
      "(SELECT workflow, state, sum(cases) n, sum(balance) b, sum(closed) "
      "c FROM figures_states GROUP BY 1, 2 HAVING sum(cases) <> 0) f "
      "USING (workflow, state) WHERE a.n IS DISTINCT FROM f.n OR a.b IS "
      "DISTINCT FROM f.b OR a.c IS DISTINCT FROM f.c) + (SELECT count(*) "
      "FROM (SELECT coalesce(due_date, '') d, count(*) n, sum(balance) b "
      "FROM cases WHERE closed = 0 GROUP BY 1) a FULL JOIN (SELECT "
      "due_date d, sum(cases) n, sum(balance) b FROM figures_due GROUP BY "
      "1 HAVING sum(cases) <> 0) f USING (d) WHERE a.n IS DISTINCT FROM "
      "f.n OR a.b IS DISTINCT FROM f.b)");
}

/* A BEGIN queued and never read: rolled back at once, committed empty,
 * its connection lost before anything was read, whether the rollback or
 * a read comes next. Each next transaction starts clean and keeps its
 * payment. */
static void test_a_begin_never_read_leaves_the_next_clean(void **state) {
  store *st = open_book();
  rc_error err;
  (void)state;
  add_case(st, "C1", NULL);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_rollback(st), RC_OK);
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(pay(st, "C1", "R1", 10), 0);
  /* lost, then rolled back unread */
  assert_int_equal(store_begin(st, &err), RC_OK);
  end_the_stores_session();
  store_rollback(st);
  assert_int_equal(pay(st, "C1", "R2", 20), 0);
  /* lost, then a read: it fails, and the transaction is run again */
  assert_int_equal(store_begin(st, &err), RC_OK);
  end_the_stores_session();
  {
    char was[64];
    rc_money paid;
    assert_int_not_equal(
        store_payment_by_ref(st, "R3", was, sizeof was, &paid, &err), RC_OK);
  }
  assert_int_equal(store_contended(st), 1);
  store_rollback(st);
  assert_int_equal(pay(st, "C1", "R3", 30), 0);
  /* lost, then committed unread: nothing to keep, but not said kept */
  assert_int_equal(store_begin(st, &err), RC_OK);
  end_the_stores_session();
  (void)store_commit(st, &err);
  assert_int_equal(pay(st, "C1", "R4", 40), 0);
  assert_int_equal(value("SELECT sum(amount) FROM payments"), 100);
  assert_int_equal(value("SELECT balance FROM cases"), 900);
  assert_int_equal(counters_off(), 0);
  store_close(st);
}

/* The first read, which carries the queued BEGIN, refused by the server
 * (the table it reads renamed away by a DBA): it fails, the transaction
 * is rolled back, and the next, the table back, keeps its payment. */
static void test_a_first_read_refused_leaves_the_next_clean(void **state) {
  store *st = open_book();
  char was[64];
  rc_money paid;
  rc_error err;
  (void)state;
  add_case(st, "C1", NULL);
  assert_int_equal(pay(st, "C1", "R1", 10), 0);
  run_sql("ALTER TABLE payments RENAME TO payments_away");
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_not_equal(
      store_payment_by_ref(st, "R2", was, sizeof was, &paid, &err), RC_OK);
  store_rollback(st);
  run_sql("ALTER TABLE payments_away RENAME TO payments");
  assert_int_equal(pay(st, "C1", "R2", 20), 0);
  assert_int_equal(pay(st, "C1", "R2", 20), 1);
  assert_int_equal(value("SELECT sum(amount) FROM payments"), 30);
  assert_int_equal(counters_off(), 0);
  store_close(st);
}

/* The commit's round trip fails at each point: a deferred check of a
 * DBA's refuses the COMMIT (the group can find its job: the checks then
 * run at each write); the COMMIT kills its own session (a connection
 * lost in that round trip: the commit fails, nothing held). A retry of
 * the same ref afterwards keeps the payment once. */
static void test_a_commit_refused_or_lost_keeps_the_payment_once(void **state) {
  store *st = open_book();
  (void)state;
  add_case(st, "C1", "2026-12-01");
  run_sql(
      "CREATE FUNCTION dba_check() RETURNS trigger LANGUAGE plpgsql AS "
      "$$ BEGIN IF NEW.amount = 13 THEN RAISE 'unlucky'; END IF; "
      "IF NEW.amount = 17 THEN PERFORM pg_terminate_backend("
      "pg_backend_pid()); END IF; RETURN NULL; END $$;"
      "CREATE CONSTRAINT TRIGGER dba_check AFTER INSERT ON payments "
      "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "
      "dba_check()");
  assert_int_equal(pay(st, "C1", "R1", 13), -1);
  assert_int_equal(store_contended(st), 0);
  assert_int_equal(store_replay(st), STORE_REPLAY_GROUP);
  assert_int_equal(value("SELECT count(*) FROM payments"), 0);
  store_group_checked(st, 1);
  assert_int_equal(pay(st, "C1", "R1", 13), -1);
  store_group_checked(st, 0);
  assert_int_equal(pay(st, "C1", "R1", 10), 0);
  assert_int_equal(pay(st, "C1", "R2", 17), -1);
  assert_int_equal(value("SELECT count(*) FROM payments"), 1);
  run_sql("DROP TRIGGER dba_check ON payments");
  assert_int_equal(pay(st, "C1", "R2", 17), 0);
  assert_int_equal(pay(st, "C1", "R2", 17), 1);
  assert_int_equal(value("SELECT sum(amount) FROM payments"), 27);
  assert_int_equal(value("SELECT balance FROM cases"), 973);
  assert_int_equal(counters_off(), 0);
  store_close(st);
}

/* Holds case id and pays it, then writes the other's balance, queued:
 * the write goes in the commit's round trip. */
static void pay_then_write(store *st, const char *id, const char *other,
                           const char *ref) {
  store_case c;
  store_case_change ch = {
      .id = other, .fields = STORE_CASE_MONEY, .balance = 500};
  int busy = 0;
  rc_error err;
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_case_try_hold(st, id, &c, &busy, &err), RC_OK);
  assert_int_equal(busy, 0);
  store_case_free(&c);
  assert_int_equal(store_payment_insert(st, id, 10, "CNY", ref, 1, &err),
                   RC_OK);
  assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
}

static void *commit_apart(void *st) {
  rc_error err;
  static int rc;
  rc = store_commit(st, &err);
  return &rc;
}

/* Two nodes, each holding its case and writing the other's in the
 * commit's round trip: a deadlock the server breaks there (40P01). The
 * victim's commit fails as a conflict (run again as it came), nothing of
 * it kept; run again, it keeps its payment once, and both go on clean. */
static void test_a_deadlock_in_the_commits_round_trip_runs_again(void **state) {
  store *a, *b;
  pthread_t t;
  void *ra;
  int rb;
  rc_error err;
  (void)state;
  a = open_book();
  b = open_book();
  add_case(a, "C1", NULL);
  add_case(a, "C2", NULL);
  pay_then_write(a, "C1", "C2", "RA");
  pay_then_write(b, "C2", "C1", "RB");
  assert_int_equal(pthread_create(&t, NULL, commit_apart, a), 0);
  usleep(200 * 1000); /* a waits for b's case first */
  rb = store_commit(b, &err);
  assert_int_equal(pthread_join(t, &ra), 0);
  assert_int_equal((*(int *)ra == RC_OK) + (rb == RC_OK), 1);
  assert_int_equal(store_contended(*(int *)ra == RC_OK ? b : a), 1);
  assert_int_equal(value("SELECT count(*) FROM payments"), 1);
  assert_int_equal(pay(a, "C1", "RA", 10) >= 0, 1);
  assert_int_equal(pay(b, "C2", "RB", 10) >= 0, 1);
  assert_int_equal(pay(a, "C2", "RB", 10), 1);
  assert_int_equal(value("SELECT sum(amount) FROM payments"), 20);
  assert_int_equal(counters_off(), 0);
  store_close(a);
  store_close(b);
}

/* One transaction moves the counters of one state and one due date many
 * times, a due date none and '' both, a state out and back in, a case
 * closed, a workflow renamed; then one rolled back: the counters are the
 * cases' sums still. */
static void test_counters_moved_twice_in_one_transaction_add_up(void **state) {
  store *st = open_book();
  static const char *const ids[] = {"C1", "C2", "C3", "C4", "C5"};
  static const char *const dues[] = {NULL, "", "2026-12-01", "2026-12-01",
                                     NULL};
  rc_error err;
  (void)state;
  for (int i = 0; i < 5; i++) add_case(st, ids[i], dues[i]);
  for (int round = 0; round < 2; round++) {
    assert_int_equal(store_begin(st, &err), RC_OK);
    for (int i = 0; i < 5; i++) {
      store_case c;
      int busy = 0;
      store_case_change ch = {.id = ids[i]};
      assert_int_equal(store_case_try_hold(st, ids[i], &c, &busy, &err), RC_OK);
      ch.fields = STORE_CASE_MONEY;
      ch.balance = c.balance - 7;
      store_case_free(&c);
      assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
      ch.fields = STORE_CASE_STATE;
      ch.state = "called";
      assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
      ch.state = i == 2 ? "paid" : "new";
      ch.closed = i == 2;
      assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
      if (i == 4) {
        ch.fields = STORE_CASE_WORKFLOW;
        ch.workflow = "w2";
        ch.version = 2;
        ch.state = "new";
        assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
      }
    }
    if (round == 0)
      assert_int_equal(store_commit(st, &err), RC_OK);
    else
      store_rollback(st);
    assert_int_equal(counters_off(), 0);
  }
  assert_int_equal(value("SELECT count(*) FROM cases WHERE workflow = 'w2'"),
                   1);
  store_close(st);
}

/* A batch's states, exactly ROWS_MAX (1,024) of them and one more, each
 * case's written twice: every case ends in its last state. */
static void test_a_batch_of_rows_max_states_and_one_more(void **state) {
  store *st = open_book();
  rc_error err;
  (void)state;
  run_sql("INSERT INTO borrowers(id, name) VALUES ('B1', 'Wang')");
  run_sql(
      "INSERT INTO cases(id, borrower_id, workflow, version, state, "
      "currency, balance, opened_at) SELECT 'C' || i, 'B1', 'w', 1, "
      "'new', 'CNY', 100, 0 FROM generate_series(1, 1025) i");
  for (int n = 1024; n <= 1025; n++) {
    assert_int_equal(store_begin(st, &err), RC_OK);
    for (int pass = 0; pass < 2; pass++)
      for (int i = 1; i <= n; i++) {
        char id[16], st_name[16];
        store_case_change ch = {.id = id, .fields = STORE_CASE_STATE};
        snprintf(id, sizeof id, "C%d", i);
        snprintf(st_name, sizeof st_name, "s%d_%d", n, pass);
        ch.state = st_name;
        assert_int_equal(store_case_write(st, &ch, &err), RC_OK);
      }
    assert_int_equal(store_commit(st, &err), RC_OK);
    assert_int_equal(value(n == 1024 ? "SELECT count(*) FROM cases WHERE "
                                       "state = 's1024_1'"
                                     : "SELECT count(*) FROM cases WHERE "
                                       "state = 's1025_1'"),
                     n);
  }
  assert_int_equal(counters_off(), 0);
  store_close(st);
}

/* A batch's timer ends and cancels, exactly ROWS_MAX (1,024) of each and
 * one more: 1,025 cases, each a timer due (claimed and ended) and one
 * armed in its state (cancelled as it leaves). None is left, and the
 * timers of a case not in the batch are untouched. */
static void test_a_batch_of_rows_max_timer_ends_and_cancels(void **state) {
  store *st = open_book();
  store_lease lease = {.node = "n1", .ms = 60000};
  store_timer *t = NULL;
  int n = 0;
  rc_error err;
  (void)state;
  run_sql("INSERT INTO borrowers(id, name) VALUES ('B1', 'Wang')");
  run_sql(
      "INSERT INTO cases(id, borrower_id, workflow, version, state, "
      "currency, balance, opened_at) SELECT 'C' || i, 'B1', 'w', 1, "
      "'new', 'CNY', 100, 0 FROM generate_series(1, 1026) i");
  run_sql(
      "INSERT INTO timers(due, case_id, event, scoped) SELECT 1, "
      "'C' || i, 'a', 0 FROM generate_series(1, 1025) i UNION ALL "
      "SELECT 100, 'C' || i, 'b', 1 FROM generate_series(1, 1026) i");
  assert_int_equal(store_begin(st, &err), RC_OK);
  assert_int_equal(store_timers_claim(st, 1, 2000, &lease, &t, &n, &err),
                   RC_OK);
  assert_int_equal(n, 1025);
  for (int i = 0; i < n; i++) {
    int deleted = 0;
    assert_int_equal(store_timer_finish(st, &t[i], &deleted, &err), RC_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(store_timers_cancel(st, t[i].case_id, STORE_TIMERS_SCOPED,
                                         NULL, NULL, &err),
                     RC_OK);
  }
  store_timers_free(t, n);
  assert_int_equal(store_commit(st, &err), RC_OK);
  assert_int_equal(value("SELECT count(*) FROM timers"), 1);
  assert_int_equal(value("SELECT count(*) FROM timers WHERE case_id = "
                         "'C1026' AND event = 'b'"),
                   1);
  store_close(st);
}

/* The store's session ended by the server while the node idles after a
 * payment (its BEGIN queued, its COMMIT with its writes): the node's next
 * read, outside a transaction, finds a new connection, not an error. */
static void test_a_session_ended_after_a_commit_is_made_again(void **state) {
  store *st = open_book();
  rc_money total = 0;
  rc_error err;
  (void)state;
  add_case(st, "C1", NULL);
  for (int i = 0; i < 3; i++) {
    char ref[16];
    snprintf(ref, sizeof ref, "R%d", i);
    assert_int_equal(pay(st, "C1", ref, 10), 0);
    end_the_stores_session();
    usleep(50 * 1000);
    assert_int_equal(store_payments_total(st, &total, &err), RC_OK);
    assert_int_equal(total, 10 * (i + 1));
  }
  assert_int_equal(store_reconnects(st), 3);
  store_close(st);
}

/* One job of a group on its payment, as engine_pay makes it: its light
 * savepoint, the case named with the look at the ref, the case held,
 * the payment and the balance less it. 0 kept, 1 the ref known already,
 * 2 the case busy, 3 no such case (the job's savepoint undone), -1 the
 * transaction failed (the group ends there). */
static int pay_job(store *st, const char *case_id, const char *ref) {
  char was[64];
  rc_money paid;
  int busy = 0, rc;
  rc_error err;
  if (store_savepoint_light(st, &err) != RC_OK) return -1;
  store_case_ahead(st, case_id);
  rc = store_payment_by_ref(st, ref, was, sizeof was, &paid, &err);
  if (rc == RC_OK) return store_release(st, &err) == RC_OK ? 1 : -1;
  if (rc != RC_ENOTFOUND) return -1;
  rc = hold_and_pay(st, case_id, ref, 1, &busy);
  if (rc == RC_ENOTFOUND && !store_contended(st)) {
    store_rollback_to(st, &err);
    return 3;
  }
  if (rc != RC_OK || store_release(st, &err) != RC_OK) return -1;
  return busy ? 2 : 0;
}

/* A group of 65 payments named ahead (one more than are read ahead):
 * C10 held by another node's open transaction (busy), C50 unknown (its
 * job undone: the jobs after it read their own), R05 kept before
 * (known), and R40 paid on another case by another node after the
 * reads ahead (the first job's round trip), before this group's job for
 * it: that run fails as a race and runs again as it came, and then R40
 * is a conflict, each ref kept once, every balance less exactly the
 * payments kept on its case. */
static void test_a_groups_65_payments_read_ahead_raced(void **state) {
  store *st = open_book();
  PGconn *holder, *racer;
  char cases[65][8], refs[65][8];
  const char *cn[65], *rn[65];
  int outcome[65], runs = 0, replay = 0, rc;
  rc_error err;
  (void)state;
  run_sql("INSERT INTO borrowers(id, name) VALUES ('B1', 'Wang')");
  run_sql("INSERT INTO cases(id, borrower_id, workflow, version, state, "
          "currency, balance, opened_at) SELECT 'C' || lpad(i::text, 2, "
          "'0'), 'B1', 'w', 1, 'new', 'CNY', 1000, 0 FROM "
          "generate_series(1, 66) i WHERE i <> 50");
  run_sql("INSERT INTO payments(case_id, amount, ref, at) VALUES ('C05', "
          "1, 'R05', 1)");
  for (int i = 0; i < 65; i++) {
    snprintf(cases[i], sizeof cases[i], "C%02d", i + 1);
    snprintf(refs[i], sizeof refs[i], "R%02d", i + 1);
    cn[i] = cases[i];
    rn[i] = refs[i];
  }
  holder = pgt_connect(url);
  racer = pgt_connect(url);
  assert_non_null(holder);
  assert_non_null(racer);
  PQclear(pgt_exec(holder, "BEGIN"));
  PQclear(pgt_exec(holder, "SELECT 1 FROM cases WHERE id = 'C10' FOR "
                           "UPDATE"));
  do {
    assert_true(++runs <= 3);
    store_group_checked(st, replay == STORE_REPLAY_GROUP);
    for (int i = 0; i < 65; i++) outcome[i] = -1;
    assert_int_equal(store_begin(st, &err), RC_OK);
    store_pays_ahead(st, 65, cn, rn);
    for (int i = 0, job = 0; i < 65 && job >= 0; i++) {
      job = outcome[i] = pay_job(st, cases[i], refs[i]);
      if (i == 2 && runs == 1)
        PQclear(pgt_exec(racer, "INSERT INTO payments(case_id, amount, "
                                "ref, at) VALUES ('C66', 1, 'R40', 1)"));
    }
    rc = outcome[64] < 0 ? RC_ESTORE : store_commit(st, &err);
    /* As apply_group: a race runs the group again as it came. */
    replay = store_contended(st) ? 0 : store_replay(st);
    if (rc != RC_OK) store_rollback(st);
    store_group_checked(st, 0);
  } while (rc != RC_OK);
  PQclear(pgt_exec(holder, "COMMIT"));
  PQfinish(holder);
  PQfinish(racer);
  assert_true(runs >= 2); /* the race failed the first */
  for (int i = 0; i < 65; i++)
    assert_int_equal(outcome[i], i == 9    ? 2
                                 : i == 49 ? 3
                                 : i == 4 || i == 39 ? 1
                                                     : 0);
  assert_int_equal(value("SELECT count(*) FROM payments"), 63);
  assert_int_equal(value("SELECT count(*) FROM (SELECT ref FROM payments "
                         "GROUP BY ref HAVING count(*) > 1) d"),
                   0);
  assert_int_equal(value("SELECT count(*) FROM cases c WHERE balance <> "
                         "1000 - (SELECT count(*) FROM payments p WHERE "
                         "p.case_id = c.id AND p.ref <> 'R05' AND p.ref "
                         "<> 'R40')"),
                   0);
  store_close(st);
}

/* A batch of 128 reminder steps (two of the rows' early writes, 64 steps
 * each), as the sweep makes them: each ends its timer, reads its
 * borrower, journals and moves its case. RC_OK, or the first failure,
 * the commit's included. */
static int sweep_128(store *st) {
  store_case_change ch = {.fields = STORE_CASE_STATE, .state = "reminded"};
  store_timer *t = NULL;
  rc_error err;
  int n = 0, rc, deleted;
  if ((rc = store_begin(st, &err)) != RC_OK) return rc;
  rc = store_timers_claim(st, 200, 128, NULL, &t, &n, &err);
  if (rc == RC_OK) assert_int_equal(n, 128);
  for (int i = 0; i < n && rc == RC_OK; i++) {
    char bid[16];
    store_borrower b;
    snprintf(bid, sizeof bid, "B%s", t[i].case_id + 1);
    ch.id = t[i].case_id;
    if ((rc = store_timer_finish(st, &t[i], &deleted, &err)) == RC_OK &&
        (rc = store_borrower_get(st, bid, &b, &err)) == RC_OK) {
      store_borrower_free(&b);
      if ((rc = store_journal_append(st, t[i].case_id, 100, "event", "new",
                                     1, NULL, &err)) == RC_OK &&
          (rc = store_journal_write(st, &err)) == RC_OK)
        rc = store_case_write(st, &ch, &err);
    }
  }
  store_timers_free(t, n);
  if (rc == RC_OK) return store_commit(st, &err);
  store_rollback(st);
  return rc;
}

/* A DBA's trigger refuses one step's journal in a batch whose rows go to
 * the server 64 steps at a time: the first step's (the first early
 * write), the 64th's and the 65th's (either side of it), the 128th's
 * (the commit's). Each time the batch fails and nothing of it is kept
 * (no journal, no case moved, every timer still there); the trigger
 * gone, the same batch keeps all 128. */
static void test_a_step_refused_at_each_early_write_keeps_nothing(
    void **state) {
  static const int refused[] = {1, 64, 65, 128};
  store *st = open_book();
  (void)state;
  run_sql("INSERT INTO borrowers(id, name) SELECT 'B' || i, 'Wang' FROM "
          "generate_series(1, 128) i");
  run_sql("INSERT INTO cases(id, borrower_id, workflow, version, state, "
          "currency, balance, opened_at) SELECT 'C' || i, 'B' || i, 'w', 1, "
          "'new', 'CNY', 100, 0 FROM generate_series(1, 128) i");
  run_sql("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
          "$$ BEGIN IF NEW.case_id = current_setting('test.refuse') THEN "
          "RAISE 'refused'; END IF; RETURN NEW; END $$");
  run_sql("CREATE TRIGGER refuse BEFORE INSERT ON journal_runs FOR EACH "
          "ROW EXECUTE FUNCTION refuse()");
  for (size_t k = 0; k < sizeof refused / sizeof *refused; k++) {
    char sql[128];
    /* the timers in the claim's order (due, id): step i is C<i> */
    run_sql("DELETE FROM timers");
    run_sql("INSERT INTO timers(due, case_id, event, scoped) SELECT 100, "
            "'C' || i, 'remind', 1 FROM generate_series(1, 128) i ORDER "
            "BY i");
    snprintf(sql, sizeof sql,
             "ALTER DATABASE %s SET test.refuse = 'C%d'", name, refused[k]);
    run_sql(sql);
    store_close(st); /* the setting is read by a new session */
    st = open_book();
    assert_int_not_equal(sweep_128(st), RC_OK);
    assert_int_equal(value("SELECT count(*) FROM journal_runs"), 0);
    assert_int_equal(value("SELECT count(*) FROM cases WHERE state <> "
                           "'new'"),
                     0);
    assert_int_equal(value("SELECT count(*) FROM timers"), 128);
  }
  {
    char sql[128];
    snprintf(sql, sizeof sql, "ALTER DATABASE %s SET test.refuse = ''",
             name);
    run_sql(sql);
  }
  store_close(st);
  st = open_book();
  assert_int_equal(sweep_128(st), RC_OK);
  assert_int_equal(value("SELECT count(*) FROM cases WHERE state = "
                         "'reminded'"),
                   128);
  assert_int_equal(value("SELECT count(*) FROM timers"), 0);
  assert_int_equal(value("SELECT count(*) FROM journal_runs"), 128);
  store_close(st);
}

#define PG_ATTACK_TESTS                                                      \
  cmocka_unit_test_setup_teardown(                                           \
      test_a_session_ended_after_a_commit_is_made_again, setup, teardown),   \
      cmocka_unit_test_setup_teardown(                                       \
          test_a_begin_never_read_leaves_the_next_clean, setup, teardown),   \
      cmocka_unit_test_setup_teardown(                                       \
          test_a_first_read_refused_leaves_the_next_clean, setup, teardown), \
      cmocka_unit_test_setup_teardown(                                       \
          test_a_commit_refused_or_lost_keeps_the_payment_once, setup,       \
          teardown),                                                         \
      cmocka_unit_test_setup_teardown(                                       \
          test_a_deadlock_in_the_commits_round_trip_runs_again, setup,       \
          teardown),                                                         \
      cmocka_unit_test_setup_teardown(                                       \
          test_counters_moved_twice_in_one_transaction_add_up, setup,        \
          teardown),                                                         \
      cmocka_unit_test_setup_teardown(                                       \
          test_a_batch_of_rows_max_states_and_one_more, setup, teardown),    \
      cmocka_unit_test_setup_teardown(                                       \
          test_a_batch_of_rows_max_timer_ends_and_cancels, setup, teardown), \
      cmocka_unit_test_setup_teardown(                                       \
          test_a_groups_65_payments_read_ahead_raced, setup, teardown), \
      cmocka_unit_test_setup_teardown(                                       \
          test_a_step_refused_at_each_early_write_keeps_nothing, setup,      \
          teardown),
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
#ifdef RECOUP_PG_ATTACK
      PG_ATTACK_TESTS
#endif
          cmocka_unit_test(test_a_password_in_the_user_part_is_hidden),
      cmocka_unit_test(test_a_password_parameter_is_hidden),
      cmocka_unit_test(test_what_holds_no_password_is_shown_as_given),
      cmocka_unit_test(test_the_buffer_is_never_overrun),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
