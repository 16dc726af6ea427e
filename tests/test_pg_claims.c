/* How nodes share one PostgreSQL book (runtime/store/pg_claim.c), shown
 * with several connections on a throwaway cluster before the backend uses
 * them: each due timer is claimed by one node; a node that dies loses its
 * claims after the lease, and one that dies before committing its claim
 * never had them; a case's events go to one node, in order; the outbox is
 * claimed the same way; the guard's decision is one borrower at a time.
 * Lease times are passed in (no waiting for a clock), except where the
 * database's own clock is the point. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pg/pgt.h"
#include "recoup/engine.h"
#include "store/pg.h"

typedef struct fixture {
  char name[64]; /* the test's database */
  char *url;     /* owned */
  PGconn *c;     /* owned: the test's own connection, beside the nodes' */
} fixture;

static int setup(void **state) {
  static int serial;
  fixture *f = calloc(1, sizeof *f);
  rc_error err = {0};

  if (!f) return -1;
  snprintf(f->name, sizeof f->name, "pgclaims_%d_%d", (int)getpid(), ++serial);
  if (!(f->url = pgt_database(f->name)) || !(f->c = pgt_connect(f->url)) ||
      pg_schema_migrate(f->c, &err) != RC_OK) {
    fprintf(stderr, "%s\n", err.message);
    free(f->url);
    free(f);
    return -1;
  }
  PQclear(pgt_exec(f->c,
                   "INSERT INTO borrowers(id, name) VALUES ('B1', 'Wang');"
                   "INSERT INTO cases(id, borrower_id, workflow, version, "
                   "state, currency, opened_at) SELECT 'C' || i, 'B1', "
                   "'standard', 1, 'new', 'CNY', 0 "
                   "FROM generate_series(1, 50) i"));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;

  PQfinish(f->c);
  pgt_drop(f->name);
  free(f->url);
  free(f);
  return 0;
}

/* --- timers ------------------------------------------------------------ */

#define DUE_TIMERS 900
#define NODES 3

typedef struct sweeper {
  const char *url;
  char name[16];
  int64_t *ids; /* owned: what this node claimed */
  int n, failed;
} sweeper;

/* One node's sweep: claims batches until nothing is due, then ends each
 * timer it holds. */
static void *node_sweep(void *arg) {
  sweeper *nd = arg;
  PGconn *c = pgt_connect(nd->url);
  rc_error err = {0};
  PGresult *r;
  int i;

  if (!c) {
    nd->failed = 1;
    return NULL;
  }
  nd->ids = calloc(DUE_TIMERS, sizeof *nd->ids);
  while (nd->ids &&
         (r = pg_claim_timers(c, nd->name, 5000, 7, 60000, 1000, &err))) {
    int rows = PQntuples(r);
    for (i = 0; i < rows && nd->n < DUE_TIMERS; i++)
      nd->ids[nd->n++] = atoll(PQgetvalue(r, i, 0));
    PQclear(r);
    if (rows == 0) break;
  }
  if (!nd->ids || err.code) nd->failed = 1;
  for (i = 0; i < nd->n && !nd->failed; i++)
    if (pg_timer_finish(c, nd->ids[i], nd->name, &err) != 1) nd->failed = 1;
  PQfinish(c);
  return NULL;
}

static int compare_ids(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void test_three_nodes_claim_each_due_timer_once(void **state) {
  fixture *f = *state;
  sweeper nodes[NODES];
  pthread_t t[NODES];
  int64_t *all;
  int i, j, total = 0;
  char sql[512];

  /* Due timers spread over times, and a few not due yet. A case each:
   * a case's later timer waits while a node holds its earlier one
   * (test_a_cases_later_timer_waits_outside_a_batch), and these nodes
   * end theirs only when nothing more is due. */
  snprintf(sql, sizeof sql,
           "INSERT INTO cases(id, borrower_id, workflow, version, state, "
           "currency, opened_at) SELECT 'T' || i, 'B1', 'standard', 1, "
           "'new', 'CNY', 0 FROM generate_series(1, %d) i;"
           "INSERT INTO timers(due, case_id, event, scoped) SELECT "
           "(i * 7) %% 5000, 'T' || i, 'remind', 0 "
           "FROM generate_series(1, %d) i;"
           "INSERT INTO timers(due, case_id, event, scoped) SELECT "
           "9000 + i, 'C1', 'later', 0 FROM generate_series(1, 10) i",
           DUE_TIMERS, DUE_TIMERS);
  PQclear(pgt_exec(f->c, sql));
  memset(nodes, 0, sizeof nodes);
  for (i = 0; i < NODES; i++) {
    nodes[i].url = f->url;
    snprintf(nodes[i].name, sizeof nodes[i].name, "node-%d", i + 1);
    assert_int_equal(pthread_create(&t[i], NULL, node_sweep, &nodes[i]), 0);
  }
  for (i = 0; i < NODES; i++) {
    assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_false(nodes[i].failed);
    total += nodes[i].n;
  }
  assert_int_equal(total, DUE_TIMERS);
  all = calloc((size_t)total, sizeof *all);
  assert_non_null(all);
  for (i = 0, j = 0; i < NODES; i++) {
    memcpy(all + j, nodes[i].ids, (size_t)nodes[i].n * sizeof *all);
    j += nodes[i].n;
    free(nodes[i].ids);
  }
  qsort(all, (size_t)total, sizeof *all, compare_ids);
  for (i = 1; i < total; i++) assert_true(all[i] != all[i - 1]);
  free(all);
  /* Every due timer ended; the later ones untouched and unclaimed. */
  assert_int_equal(pgt_value(f->c, "SELECT count(*) FROM timers"), 10);
  assert_int_equal(pgt_value(f->c,
                             "SELECT count(*) FROM timers WHERE "
                             "claimed_by IS NOT NULL"),
                   0);
}

/* A batch comes in the order the sweep fires it: by due time, then id. */
static void test_claimed_timers_come_in_due_order(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGresult *r;

  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) "
                   "VALUES (30, 'C1', 'c', 0), (10, 'C2', 'a', 0),"
                   "(20, 'C3', 'b', 0), (10, 'C4', 'a2', 0)"));
  r = pg_claim_timers(f->c, "n1", 100, 10, 1000, 0, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 4);
  assert_string_equal(PQgetvalue(r, 0, 3), "a");
  assert_string_equal(PQgetvalue(r, 1, 3), "a2");
  assert_string_equal(PQgetvalue(r, 2, 3), "b");
  assert_string_equal(PQgetvalue(r, 3, 3), "c");
  assert_string_equal(PQgetvalue(r, 3, 1), "C1");
  assert_string_equal(PQgetvalue(r, 3, 2), "30");
  PQclear(r);
}

static void test_a_dead_nodes_timers_pass_on_after_its_lease(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGconn *a = pgt_connect(f->url), *b = pgt_connect(f->url);
  PGresult *r;

  assert_non_null(a);
  assert_non_null(b);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) "
                   "SELECT i, 'C' || i, 'remind', 0 "
                   "FROM generate_series(1, 5) i"));
  /* Node A claims them at 1000 with a lease of 500, then dies. */
  r = pg_claim_timers(a, "A", 100, 10, 500, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 5);
  PQclear(r);
  PQfinish(a);

  /* Within A's lease they are still A's. */
  r = pg_claim_timers(b, "B", 100, 10, 500, 1500, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 0);
  PQclear(r);

  /* After it, B takes all five. */
  r = pg_claim_timers(b, "B", 100, 10, 500, 1501, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 5);
  PQclear(r);

  /* A coming back finds it lost them: ending one is refused (its node
   * rolls back what it did for it); B ends it. */
  assert_int_equal(pg_timer_finish(b, 1, "A", &err), 0);
  assert_int_equal(pg_timer_finish(b, 1, "B", &err), 1);
  assert_int_equal(pgt_value(f->c, "SELECT count(*) FROM timers"), 4);
  PQfinish(b);
}

/* A case another writer held when its timer came: the node claims the
 * case's timers, its own and the free ones (a later one too, so that it
 * does not run first), for a moment; then anyone may claim them. Another
 * node's live claim stays that node's. */
static void test_a_held_cases_timers_are_tried_again_shortly(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGresult *r;

  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) VALUES "
                   "(1, 'C1', 'remind', 0), (2, 'C2', 'remind', 0), "
                   "(5000, 'C1', 'remind', 0)"));
  r = pg_claim_timers(f->c, "A", 100, 10, 500, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 2);
  PQclear(r);
  assert_int_equal(pg_timers_retry(f->c, "C1", "A", 100, 1000, &err), 2);
  /* C1's are A's until 1100, C2's until 1500. */
  r = pg_claim_timers(f->c, "B", 6000, 10, 500, 1100, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 0);
  PQclear(r);
  r = pg_claim_timers(f->c, "B", 6000, 10, 500, 1101, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 2);
  assert_string_equal(PQgetvalue(r, 0, 1), "C1");
  PQclear(r);
  assert_int_equal(pg_timers_retry(f->c, "C1", "A", 100, 1200, &err), 0);
}

/* Closes c and waits until its server process has ended: a connection
 * that drops is seen by the server a moment later. */
static void gone(PGconn *observer, PGconn *c) {
  char sql[128];

  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM pg_stat_activity WHERE pid = %d",
           PQbackendPID(c));
  PQfinish(c);
  while (pgt_value(observer, sql) != 0) usleep(1000);
}

static void test_a_claim_never_committed_leaves_nothing_claimed(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGconn *a = pgt_connect(f->url);
  PGresult *r;

  assert_non_null(a);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) "
                   "SELECT i, 'C' || i, 'remind', 0 "
                   "FROM generate_series(1, 5) i"));
  PQclear(pgt_exec(a, "BEGIN"));
  r = pg_claim_timers(a, "A", 100, 10, 60000, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 5);
  PQclear(r);
  /* The connection drops: the claim rolls back once the server has seen
   * it go (until then its rows are locked, and skipped). */
  gone(f->c, a);

  r = pg_claim_timers(f->c, "B", 100, 10, 60000, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 5);
  PQclear(r);
}

/* A batch's claim brings each timer's case along, so that its steps do
 * not read it again (not its borrower: a step reads that when it runs),
 * and holds the cases until the batch ends:
 * a payment to one on another node waits rather than be overwritten by a
 * balance read before it. A case another transaction holds is not waited
 * for: its timer is claimed all the same, without the case's columns. */

/* A claim, in a batch (pg_lock_timers) or with leases, by a's node "A". */
static PGresult *claim_as_a(PGconn *a, int batch, rc_error *err) {
  return batch ? pg_lock_timers(a, "A", 100, 10, 1000, err)
               : pg_claim_timers(a, "A", 100, 10, 60000, 1000, err);
}

/* Both claims: a case with two timers in the walk comes with its row at
 * both (in a batch, each timer's case is locked beside it), and is the
 * claim's until its transaction ends. */
static void claim_reads_and_holds_cases(fixture *f, int batch) {
  rc_error err = {0};
  PGconn *a = pgt_connect(f->url), *b = pgt_connect(f->url);
  PGresult *r;

  assert_non_null(a);
  assert_non_null(b);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO contacts(borrower_id, position, kind, value, "
                   "relation) VALUES ('B1', 1, 'email', 'w@example.com', "
                   "NULL), ('B1', 0, 'phone', '+8613800000000', 'self');"
                   "UPDATE cases SET balance = 4200 WHERE id = 'C1';"
                   "INSERT INTO timers(due, case_id, event, scoped) VALUES "
                   "(1, 'C1', 'remind', 0), (2, 'C2', 'remind', 0), "
                   "(3, 'C1', 'escalate', 0)"));
  PQclear(pgt_exec(b, "BEGIN"));
  PQclear(pgt_exec(b, "SELECT 1 FROM cases WHERE id = 'C2' FOR UPDATE"));
  PQclear(pgt_exec(a, "BEGIN"));
  r = claim_as_a(a, batch, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 3);
  assert_string_equal(PQgetvalue(r, 0, 1), "C1");
  assert_string_equal(PQgetvalue(r, 0, PG_CLAIM_CASE), "C1");
  assert_string_equal(PQgetvalue(r, 0, PG_CLAIM_CASE + 11), "4200");
  assert_string_equal(PQgetvalue(r, 1, 1), "C2");
  assert_true(PQgetisnull(r, 1, PG_CLAIM_CASE));
  assert_string_equal(PQgetvalue(r, 2, 3), "escalate");
  assert_string_equal(PQgetvalue(r, 2, PG_CLAIM_CASE), "C1");
  assert_string_equal(PQgetvalue(r, 2, PG_CLAIM_CASE + 11), "4200");
  PQclear(r);

  /* C1 is A's until its transaction ends; C2 was never taken from B. */
  PQclear(pgt_exec(f->c, "SET lock_timeout = '50ms'"));
  assert_null(pgt_exec(f->c, "UPDATE cases SET balance = 0 WHERE id = 'C1'"));
  PQclear(pgt_exec(b, "UPDATE cases SET balance = 1 WHERE id = 'C2'"));
  PQclear(pgt_exec(b, "COMMIT"));
  PQclear(pgt_exec(a, "COMMIT"));
  PQclear(pgt_exec(f->c, "UPDATE cases SET balance = 0 WHERE id = 'C1'"));
  assert_int_equal(pgt_value(f->c, "SELECT sum(balance) FROM cases"), 1);
  PQfinish(a);
  PQfinish(b);
}

static void test_a_timer_claim_reads_and_holds_its_cases(void **state) {
  claim_reads_and_holds_cases(*state, 0);
}

static void test_a_batch_claim_reads_and_holds_its_cases(void **state) {
  claim_reads_and_holds_cases(*state, 1);
}

/* Without a time of its own, a lease is measured by the database's clock,
 * the one clock every node shares. */
static void test_leases_run_on_the_databases_clock(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGresult *r;

  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) "
                   "VALUES (1, 'C1', 'remind', 0)"));
  r = pg_claim_timers(f->c, "A", 100, 10, 3600000, PG_CLOCK_DB, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  PQclear(r);
  r = pg_claim_timers(f->c, "B", 100, 10, 3600000, PG_CLOCK_DB, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 0);
  PQclear(r);
  /* an hour from the database's now, give or take the test's run */
  assert_int_equal(
      pgt_value(f->c,
                "SELECT count(*) FROM timers WHERE claimed_until - "
                "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                " BETWEEN 3000000 AND 3600000"),
      1);
  /* a node stopping cleanly gives its claims back at once */
  assert_int_equal(pg_claims_release(f->c, "A", &err), 1);
  r = pg_claim_timers(f->c, "B", 100, 10, 3600000, PG_CLOCK_DB, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  PQclear(r);
}

/* The next due time a node reads is one it can claim: the timers another
 * node's open batch holds do not count (else the node would wake at once,
 * claim nothing and ask again, a busy loop for as long as that batch
 * lasts), a dead node's committed claim counts from the end of its lease,
 * and the earliest free timer a node's batch is about to claim stays its
 * own until that batch ends. */
static void test_the_next_due_time_is_one_this_node_can_claim(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGconn *a = pgt_connect(f->url), *b = pgt_connect(f->url);
  PGresult *r;
  int64_t due = 0;

  assert_non_null(a);
  assert_non_null(b);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) "
                   "SELECT i, 'C' || i, 'remind', 0 "
                   "FROM generate_series(1, 5) i;"
                   "INSERT INTO timers(due, case_id, event, scoped) "
                   "VALUES (5000, 'C9', 'later', 0)"));
  assert_int_equal(pg_timer_next_due(b, 1000, &due, &err), RC_OK);
  assert_int_equal(due, 1);

  /* A's batch holds the five due ones: B's next is the later one. */
  PQclear(pgt_exec(a, "BEGIN"));
  r = pg_claim_timers(a, "A", 1000, 10, 60000, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 5);
  PQclear(r);
  assert_int_equal(pg_timer_next_due(b, 1000, &due, &err), RC_OK);
  assert_int_equal(due, 5000);

  /* A commits its claims and dies: they are free when its lease ends
   * (1000 + 60000 by the clock passed in); the later timer comes first. */
  PQclear(pgt_exec(a, "COMMIT"));
  gone(f->c, a);
  assert_int_equal(pg_timer_next_due(b, 1000, &due, &err), RC_OK);
  assert_int_equal(due, 5000);
  assert_int_equal(pg_timer_next_due(b, 4000, &due, &err), RC_OK);
  assert_int_equal(due, 5000);
  PQclear(pgt_exec(f->c, "DELETE FROM timers WHERE due = 5000"));
  assert_int_equal(pg_timer_next_due(b, 1000, &due, &err), RC_OK);
  assert_int_equal(due, 61001);
  /* after the lease, they are due again */
  assert_int_equal(pg_timer_next_due(b, 61001, &due, &err), RC_OK);
  assert_int_equal(due, 1);

  /* Inside B's batch, the timer its next-due read named is B's to claim:
   * another node's claim passes over it, B's own takes it. */
  PQclear(pgt_exec(b, "BEGIN"));
  assert_int_equal(pg_timer_next_due(b, 70000, &due, &err), RC_OK);
  assert_int_equal(due, 1);
  r = pg_claim_timers(f->c, "C", 100, 1, 60000, 70000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  assert_string_equal(PQgetvalue(r, 0, 2), "2");
  PQclear(r);
  r = pg_claim_timers(b, "B", 100, 10, 60000, 70000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 4);
  assert_string_equal(PQgetvalue(r, 0, 2), "1");
  PQclear(r);
  PQclear(pgt_exec(b, "COMMIT"));

  /* Every timer held, none free: none to wait for but the leases. */
  assert_int_equal(pg_timer_next_due(b, 70000, &due, &err), RC_OK);
  assert_int_equal(due, 130001);
  PQclear(pgt_exec(f->c, "DELETE FROM timers"));
  assert_int_equal(pg_timer_next_due(b, 70000, &due, &err), RC_ENOTFOUND);
  PQfinish(b);
}

/* --- events ------------------------------------------------------------ */

static char *ids_of(PGresult *r, int col) {
  static char out[256];
  size_t at = 0;
  int i;

  out[0] = '\0';
  for (i = 0; i < PQntuples(r) && at < sizeof out - 32; i++)
    at += (size_t)snprintf(out + at, sizeof out - at, "%s%s", i ? " " : "",
                           PQgetvalue(r, i, col));
  return out;
}

static PGresult *claim_events(PGconn *c, const char *node, int max,
                              int64_t now) {
  rc_error err = {0};
  PGresult *r = pg_claim_events(c, node, max, 500, now, &err);

  if (!r) fprintf(stderr, "%s\n", err.message);
  return r;
}

/* Rows of table read by this connection's open transaction so far. */
static long long rows_read(PGconn *c, const char *table) {
  char sql[160];

  snprintf(sql, sizeof sql,
           "SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM "
           "pg_stat_xact_user_tables WHERE relname = '%s'",
           table);
  return pgt_value(c, sql);
}

/* A book of 5,000 cases, never analysed (as after an import), Ci's
 * reminder due at 10 + i. */
static void reminders_due(PGconn *c) {
  PQclear(pgt_exec(c,
                   "INSERT INTO cases(id, borrower_id, workflow, version, "
                   "state, currency, opened_at) SELECT 'C' || i, 'B1', "
                   "'standard', 1, 'new', 'CNY', 0 "
                   "FROM generate_series(51, 5000) i;"
                   "INSERT INTO timers(due, case_id, event, scoped) "
                   "SELECT 10 + i, 'C' || i, 'remind', 0 "
                   "FROM generate_series(1, 5000) i"));
}

/* A book of 5,000 cases, never analysed (as after an import), each with
 * a reminder due, a few of them claimed under a lease: a batch's claim
 * reads the cases of its timers, not the book (a join planned by its
 * estimate read every case), the next-due look-up reads the timers
 * under a lease, not every timer (schema 8's timers_claimed), and an
 * events claim reads the cases of the events queued, not the book. */
static void test_a_claim_reads_its_batch_not_the_book(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGresult *r;
  long long before;
  int64_t due = 0;

  reminders_due(f->c);
  r = pg_claim_timers(f->c, "A", 13, 3, 60000, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 3);
  PQclear(r);

  PQclear(pgt_exec(f->c, "BEGIN"));
  before = rows_read(f->c, "timers");
  assert_int_equal(pg_timer_next_due(f->c, 1000, &due, &err), RC_OK);
  assert_int_equal(due, 14);
  assert_in_range(rows_read(f->c, "timers") - before, 1, 16);
  before = rows_read(f->c, "cases");
  r = pg_lock_timers(f->c, "A", 1000, 100, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 100);
  assert_string_equal(PQgetvalue(r, 0, PG_CLAIM_CASE), "C4");
  assert_string_equal(PQgetvalue(r, 99, PG_CLAIM_CASE), "C103");
  PQclear(r);
  assert_in_range(rows_read(f->c, "cases") - before, 100, 120);
  PQclear(pgt_exec(f->c, "COMMIT"));

  /* Their lease over, the three are due first again; by the database's
   * clock too, which reads the leases through the index as well. */
  assert_int_equal(pg_timer_next_due(f->c, 61001, &due, &err), RC_OK);
  assert_int_equal(due, 11);
  PQclear(pgt_exec(f->c, "BEGIN"));
  before = rows_read(f->c, "timers");
  assert_int_equal(pg_timer_next_due(f->c, PG_CLOCK_DB, &due, &err), RC_OK);
  assert_int_equal(due, 11);
  assert_in_range(rows_read(f->c, "timers") - before, 1, 16);
  PQclear(pgt_exec(f->c, "COMMIT"));

  /* An events claim, asked after each batch, reads the cases of the
   * events queued: none, then one. */
  for (int queued = 0; queued < 2; queued++) {
    if (queued)
      PQclear(pgt_exec(f->c, "INSERT INTO events(case_id, type, at) "
                             "VALUES ('C4000', 'paid', 1)"));
    PQclear(pgt_exec(f->c, "BEGIN"));
    before = rows_read(f->c, "cases");
    r = claim_events(f->c, "A", 100, 1000);
    assert_non_null(r);
    assert_int_equal(PQntuples(r), queued);
    PQclear(r);
    assert_in_range(rows_read(f->c, "cases") - before, 0, 2 * queued);
    PQclear(pgt_exec(f->c, "COMMIT"));
  }
}

static void test_a_cases_events_go_to_one_node_in_order(void **state) {
  fixture *f = *state;
  PGconn *a = pgt_connect(f->url), *b = pgt_connect(f->url);
  PGresult *r;

  assert_non_null(a);
  assert_non_null(b);
  /* paid1, paid2, reply3: each type carries its event's id */
  PQclear(pgt_exec(f->c,
                   "INSERT INTO events(case_id, type, at) VALUES "
                   "('C1', 'paid', 1), ('C2', 'paid', 2),"
                   "('C1', 'reply', 3);"
                   "UPDATE events SET type = type || id"));

  /* A asks for one event: the oldest, and C1 is A's until it commits
   * (its row is locked) and after (its claim's lease). */
  PQclear(pgt_exec(a, "BEGIN"));
  r = claim_events(a, "A", 1, 1000);
  assert_non_null(r);
  assert_string_equal(ids_of(r, 2), "paid1");
  PQclear(r);

  /* B, meanwhile, skips C1 and takes C2. */
  PQclear(pgt_exec(b, "BEGIN"));
  r = claim_events(b, "B", 10, 1000);
  assert_non_null(r);
  assert_string_equal(ids_of(r, 1), "C2");
  PQclear(r);
  PQclear(pgt_exec(b, "DELETE FROM events WHERE case_id = 'C2'")); /* done */
  PQclear(pgt_exec(a, "COMMIT"));
  PQclear(pgt_exec(b, "COMMIT"));

  /* C1's next event, and one that comes now: not B's (it would handle
   * them before paid1), A's, in order. */
  PQclear(pgt_exec(f->c,
                   "INSERT INTO events(case_id, type, at) "
                   "VALUES ('C1', 'late', 4)"));
  PQclear(pgt_exec(b, "BEGIN"));
  r = claim_events(b, "B", 10, 1100);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 0);
  PQclear(r);
  PQclear(pgt_exec(b, "COMMIT"));
  PQclear(pgt_exec(a, "BEGIN"));
  r = claim_events(a, "A", 10, 1100);
  assert_non_null(r);
  assert_string_equal(ids_of(r, 2), "reply3 late");
  PQclear(r);
  PQclear(pgt_exec(a, "COMMIT"));

  /* A dies; after its lease B has C1's three, in their order. */
  PQfinish(a);
  PQclear(pgt_exec(b, "BEGIN"));
  r = claim_events(b, "B", 10, 1700);
  assert_non_null(r);
  assert_string_equal(ids_of(r, 2), "paid1 reply3 late");
  PQclear(r);
  PQclear(pgt_exec(b, "COMMIT"));
  PQfinish(b);
}

/* A case in error holds its events: a claim parks them beside its failed
 * one instead of handing them out. */
static void test_events_of_a_case_in_error_are_parked(void **state) {
  fixture *f = *state;
  PGresult *r;

  PQclear(pgt_exec(f->c,
                   "UPDATE cases SET error = 'boom' WHERE id = 'C1';"
                   "INSERT INTO events(case_id, type, at) VALUES "
                   "('C1', 'paid', 1), ('C2', 'paid', 2)"));
  PQclear(pgt_exec(f->c, "BEGIN"));
  r = claim_events(f->c, "A", 10, 1000);
  assert_non_null(r);
  assert_string_equal(ids_of(r, 1), "C2");
  PQclear(r);
  PQclear(pgt_exec(f->c, "COMMIT"));
  assert_int_equal(pgt_value(f->c,
                             "SELECT count(*) FROM events WHERE "
                             "case_id = 'C1' AND status = 'failed' "
                             "AND claimed_by IS NULL"),
                   1);
}

/* Payments coming faster than a node handles their events leave
 * thousands queued; a claim looks at the oldest few (four events for each
 * case asked for), not at every one of them. Fifty cases, eight events
 * each, interleaved: a claim of two groups eight events, not fifty cases'
 * 400, and still takes the two oldest cases. */
/* n events queued for cases C1..C50 in turn. */
static void queue_events(PGconn *c, int n) {
  char sql[256];

  snprintf(sql, sizeof sql,
           "INSERT INTO events(case_id, type, at) SELECT "
           "'C' || (1 + i %% 50), 'paid', i FROM generate_series(0, %d) i",
           n - 1);
  PQclear(pgt_exec(c, sql));
}

/* The most rows= a line naming `node` says in the plan of the events
 * claim's first statement, run (EXPLAIN ANALYZE) asking for 2 cases. */
static int claim_plan_rows(PGconn *c, const char *node) {
  const char *params[2] = {"2", "1000"};
  char sql[2048];
  PGresult *r;
  int most = -1;

  snprintf(sql, sizeof sql, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) %s",
           pg_claim_event_cases_sql);
  r = PQexecParams(c, sql, 2, NULL, params, NULL, NULL, 0);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  for (int i = 0; i < PQntuples(r); i++) {
    const char *line = PQgetvalue(r, i, 0), *rows = strstr(line, "rows=");
    if (strstr(line, node) && rows && atoi(rows + 5) > most)
      most = atoi(rows + 5);
  }
  PQclear(r);
  return most;
}

static void test_an_events_claim_looks_at_the_oldest_only(void **state) {
  fixture *f = *state;
  const char *params[2] = {"2", "1000"};
  PGresult *r;

  queue_events(f->c, 400);
  assert_in_range(claim_plan_rows(f->c, "Aggregate"), 1, 8);
  PQclear(pgt_exec(f->c, "BEGIN"));
  r = PQexecParams(f->c, pg_claim_event_cases_sql, 2, NULL, params, NULL,
                   NULL, 0);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  assert_string_equal(ids_of(r, 0), "C1 C2");
  PQclear(r);
  PQclear(pgt_exec(f->c, "COMMIT"));
}

/* A node that fell behind: thousands of events queued in a table never
 * analysed (autovacuum had not come by). The claim reads the oldest few,
 * not every queued event (the planner, taking the queued for a handful,
 * read them all through a bitmap and sorted them at every claim). */
static void test_an_events_claim_reads_few_of_a_backlog(void **state) {
  fixture *f = *state;

  queue_events(f->c, 2000);
  assert_in_range(claim_plan_rows(f->c, " on events e"), 1, 8);
}

/* A case whose events fill the few a claim looks at, held by another
 * transaction (a node working through its backlog, a DBA's session):
 * the claim skips its row and took nothing, so a healthy case's event
 * behind them waited for as long as that case was held. */
static void test_a_held_cases_backlog_does_not_stop_the_others(void **state) {
  fixture *f = *state;
  PGconn *a = pgt_connect(f->url);
  PGresult *r;

  assert_non_null(a);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO events(case_id, type, at) SELECT 'C1', "
                   "'paid', i FROM generate_series(1, 8) i;"
                   "INSERT INTO events(case_id, type, at) "
                   "VALUES ('C2', 'paid', 9)"));
  PQclear(pgt_exec(a, "BEGIN"));
  PQclear(pgt_exec(a, "SELECT 1 FROM cases WHERE id = 'C1' "
                      "FOR NO KEY UPDATE"));
  PQclear(pgt_exec(f->c, "BEGIN"));
  r = claim_events(f->c, "B", 2, 1000);
  assert_non_null(r);
  assert_string_equal(ids_of(r, 1), "C2");
  PQclear(r);
  PQclear(pgt_exec(f->c, "COMMIT"));
  PQclear(pgt_exec(a, "COMMIT"));
  PQfinish(a);
}

static void test_claiming_events_needs_a_transaction(void **state) {
  fixture *f = *state;
  rc_error err = {0};

  assert_null(pg_claim_events(f->c, "A", 10, 500, 1000, &err));
  assert_int_equal(err.code, RC_EINTERNAL);
}

/* --- outbox ------------------------------------------------------------ */

static void test_the_outbox_is_claimed_once(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGconn *b = pgt_connect(f->url);
  PGresult *r;

  assert_non_null(b);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO messages(case_id, borrower_id, channel, "
                   "template, status, at, next_attempt) VALUES "
                   "('C1', 'B1', 'sms', 't1', 'queued', 1, 0),"
                   "('C2', 'B1', 'sms', 't2', 'queued', 2, 0),"
                   "('C3', 'B1', 'sms', 't3', 'sent', 3, 0),"
                   "('C4', 'B1', 'sms', 't4', 'queued', 4, 5000),"
                   "('C5', 'B1', 'sms', 't5', 'queued', 5, 10)"));
  PQclear(pgt_exec(f->c, "BEGIN"));
  r = pg_claim_outbox(f->c, "A", 1000, 2, 60000, 100, &err);
  assert_non_null(r);
  assert_string_equal(ids_of(r, 4), "t1 t2");
  PQclear(r);
  /* B, while A's claim is not committed yet: skips A's rows. */
  r = pg_claim_outbox(b, "B", 1000, 10, 60000, 100, &err);
  assert_non_null(r);
  assert_string_equal(ids_of(r, 4), "t5");
  PQclear(r);
  PQclear(pgt_exec(f->c, "COMMIT"));
  /* Committed: still A's, for the lease. */
  r = pg_claim_outbox(b, "B", 1000, 10, 60000, 100, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 0);
  PQclear(r);
  PQfinish(b);
}

/* The messages rows this connection's transaction read so far. */
static long long messages_read(PGconn *c) {
  return pgt_value(c, "SELECT seq_tup_read + idx_tup_fetch FROM "
                      "pg_stat_xact_user_tables WHERE relname = 'messages'");
}

/* A sweep's messages sent, and the next sweep's queued, in a table never
 * analysed during the run: a claim of two reads two, not every queued
 * one (the planner, taking the queued for a handful, read them all
 * through a bitmap and sorted them at every claim); and still two once
 * the table is analysed. */
static void test_an_outbox_claim_reads_few_of_a_backlog(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  long long before;
  PGresult *r;

  for (int sweep = 0; sweep < 2; sweep++) {
    if (sweep) PQclear(pgt_exec(f->c, "UPDATE messages SET status = 'sent'"));
    PQclear(pgt_exec(f->c, "INSERT INTO messages(case_id, borrower_id, "
                           "channel, template, status, at, next_attempt) "
                           "SELECT 'C' || (1 + i % 50), 'B1', 'sms', 't', "
                           "'queued', i, i FROM generate_series(0, 1999) i"));
  }
  /* Without statistics, then with (most of the table sent). */
  for (int analysed = 0; analysed < 2; analysed++) {
    if (analysed) PQclear(pgt_exec(f->c, "ANALYZE messages"));
    PQclear(pgt_exec(f->c, "BEGIN"));
    before = messages_read(f->c);
    r = pg_claim_outbox(f->c, "A", 100000, 2, 60000, 100, &err);
    assert_non_null(r);
    assert_int_equal(PQntuples(r), 2);
    PQclear(r);
    assert_in_range(messages_read(f->c) - before, 2, 8);
    PQclear(pgt_exec(f->c, "COMMIT"));
  }
}

/* --- the guard ---------------------------------------------------------- */

#define SMS_A_DAY 3

/* The guard's decision for one SMS to B1, inside c's open transaction:
 * 1 when it writes the message, 0 when the cap refuses it. */
static int guard_decide(PGconn *c, const char *tmpl) {
  long long sent =
      pgt_value(c,
                "SELECT count(*) FROM messages WHERE borrower_id = 'B1' "
                "AND channel = 'sms' AND at > 0");
  char sql[256];

  if (sent < 0 || sent >= SMS_A_DAY) return 0;
  snprintf(sql, sizeof sql,
           "INSERT INTO messages(case_id, borrower_id, channel, template, "
           "status, at, next_attempt) VALUES ('C1', 'B1', 'sms', '%s', "
           "'queued', 10, 0)",
           tmpl);
  PQclear(pgt_exec(c, sql));
  return 1;
}

/* Whether the connection whose backend is pid waits for a lock. */
static int waits_for_lock(PGconn *observer, int pid) {
  char sql[160];

  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM pg_stat_activity WHERE pid = %d AND "
           "wait_event_type = 'Lock'",
           pid);
  return pgt_value(observer, sql) == 1;
}

/* Two nodes decide the third and fourth SMS of B1's day at once: the
 * second waits for the first's decision, sees its message, and refuses.
 * Counting without the lock, both would have seen two and sent. */
static void test_the_guard_decides_one_borrower_at_a_time(void **state) {
  fixture *f = *state;
  rc_error err = {0};
  PGconn *a = pgt_connect(f->url), *b = pgt_connect(f->url);
  PGresult *r;
  const char *params[1] = {"B1"};
  int rc;

  assert_non_null(a);
  assert_non_null(b);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO messages(case_id, borrower_id, channel, "
                   "template, status, at, next_attempt) VALUES "
                   "('C1', 'B1', 'sms', 'first', 'sent', 1, 0),"
                   "('C1', 'B1', 'sms', 'second', 'sent', 2, 0)"));

  PQclear(pgt_exec(a, "BEGIN"));
  assert_int_equal(pg_borrower_lock(a, "B1", &err), 1);
  assert_int_equal(guard_decide(a, "third"), 1);

  /* B asks for the same borrower: it must wait, not decide. */
  PQclear(pgt_exec(b, "BEGIN"));
  assert_int_equal(PQsendQueryParams(b,
                                     "SELECT 1 FROM borrowers WHERE id = $1 "
                                     "FOR NO KEY UPDATE",
                                     1, NULL, params, NULL, NULL, 0),
                   1);
  for (;;) {
    assert_int_equal(PQconsumeInput(b), 1);
    assert_int_equal(PQisBusy(b), 1); /* answered: it did not wait */
    if (waits_for_lock(f->c, PQbackendPID(b))) break;
    usleep(1000);
  }
  /* A borrower's row held for the guard does not stop a new case of it. */
  PQclear(pgt_exec(f->c, "SET statement_timeout = '20s'"));
  assert_non_null(r = pgt_exec(f->c,
                               "INSERT INTO cases(id, borrower_id, "
                               "workflow, version, state, currency, "
                               "opened_at) VALUES ('C99', 'B1', "
                               "'standard', 1, 'new', 'CNY', 0)"));
  PQclear(r);

  PQclear(pgt_exec(a, "COMMIT"));
  r = PQgetResult(b);
  assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
  assert_int_equal(PQntuples(r), 1);
  PQclear(r);
  assert_null(PQgetResult(b));
  rc = guard_decide(b, "fourth");
  assert_int_equal(rc, 0);
  PQclear(pgt_exec(b, "COMMIT"));
  assert_int_equal(pgt_value(f->c,
                             "SELECT count(*) FROM messages WHERE "
                             "borrower_id = 'B1'"),
                   SMS_A_DAY);
  assert_int_equal(pg_borrower_lock(f->c, "nobody", &err), 0);
  PQfinish(a);
  PQfinish(b);
}

/* --- a node's next wake ------------------------------------------------ */

static void write_file(const char *path, const char *text) {
  FILE *fp = fopen(path, "w");
  assert_non_null(fp);
  fputs(text, fp);
  fclose(fp);
}

/* A node on the fixture's book whose one workflow takes `ping`: its
 * script in a directory of its own (dir, path: the caller's, removed by
 * close_ping_node); simulated from start when start is not 0. */
static engine *open_ping_node(const fixture *f, char *dir, size_t dir_size,
                              char *path, size_t path_size,
                              engine_options *opts, rc_time start) {
  rc_errlist errors = {0};
  engine *eng = NULL;
  snprintf(dir, dir_size, "/tmp/recoup-pgclaims-%d", (int)getpid());
  mkdir(dir, 0700);
  snprintf(path, path_size, "%s/recoup.lua", dir);
  write_file(path,
             "institution { name = 'R', timezone = 'UTC', currency = 'CNY' }\n"
             "workflow(recoup.workflow { name = 'standard', version = 1, "
             "initial = 'new', states = { new = { on = { ping = "
             "function() end } } } })\n");
  memset(opts, 0, sizeof *opts);
  opts->dir = dir;
  opts->db = f->url;
  opts->quiet = 1;
  opts->simulated = start != 0;
  opts->start = start;
  assert_int_equal(engine_open(&eng, opts, &errors), RC_OK);
  return eng;
}

static void close_ping_node(engine *eng, const char *dir, const char *path) {
  engine_close(eng);
  unlink(path);
  rmdir(dir);
}

/* After a run that passed over a case another connection holds, the node
 * looks for its next wake past the timers it left waiting: a look, not a
 * claim. Outside a transaction that look wrote a lease on a timer due next
 * week, which no node could then claim until the lease ended (a killed
 * node left such claims behind). */
static void test_the_next_wake_leases_no_timer_not_due(void **state) {
  fixture *f = *state;
  char dir[64], path[128];
  engine_options opts;
  rc_error err = {0};
  PGconn *holder = pgt_connect(f->url);
  engine *eng = open_ping_node(f, dir, sizeof dir, path, sizeof path, &opts, 0);
  int64_t steps = 0;
  rc_time due = 0;
  long long week;

  assert_non_null(holder);

  /* C1's timer is due now, its case held by another connection; C2's is
   * due in a week. */
  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) VALUES "
                   "((extract(epoch FROM now()) * 1000)::bigint - 60000, "
                   "'C1', 'ping', 0), "
                   "((extract(epoch FROM now()) * 1000)::bigint + "
                   "7 * 86400000, 'C2', 'ping', 0)"));
  week = pgt_value(f->c, "SELECT due FROM timers WHERE case_id = 'C2'");
  PQclear(pgt_exec(holder, "BEGIN"));
  PQclear(pgt_exec(holder,
                   "SELECT 1 FROM cases WHERE id = 'C1' FOR NO KEY UPDATE"));

  assert_int_equal(engine_run(eng, clock_now(engine_clock(eng)), &steps, &err),
                   RC_OK);
  assert_int_equal(
      pgt_value(f->c, "SELECT count(*) FROM timers WHERE case_id = 'C1'"), 1);
  assert_int_equal(engine_next_due(eng, &due, &err), RC_OK);
  assert_int_equal(due, week);
  assert_int_equal(pgt_value(f->c,
                             "SELECT count(*) FROM timers WHERE case_id = "
                             "'C2' AND claimed_until IS NOT NULL"),
                   0);

  PQclear(pgt_exec(holder, "COMMIT"));
  PQfinish(holder);
  close_ping_node(eng, dir, path);
}

/* A simulation on several nodes keeps to one due time a claim: a node
 * whose claim passed over an earlier timer another batch holds must not
 * run a later one first, or its clock moves past the held one, which it
 * then runs late if that batch gives it back (pg_nodes: a case's next
 * timers set from the wrong day). */
static void test_a_simulation_does_not_run_past_a_held_timer(void **state) {
  fixture *f = *state;
  char dir[64], path[128];
  engine_options opts;
  rc_errlist errors = {0};
  rc_error err = {0};
  const rc_time start = 1767225600000; /* 2026-01-01T00:00Z */
  PGconn *holder = pgt_connect(f->url);
  engine *eng =
      open_ping_node(f, dir, sizeof dir, path, sizeof path, &opts, start);
  int64_t steps = 0;

  assert_non_null(holder);

  /* C1's timer is due in an hour, held by another node's batch; C2's in
   * two hours. */
  PQclear(pgt_exec(f->c, "INSERT INTO timers(due, case_id, event, scoped) "
                         "VALUES (1767229200000, 'C1', 'ping', 0), "
                         "(1767232800000, 'C2', 'ping', 0)"));
  PQclear(pgt_exec(holder, "BEGIN"));
  PQclear(pgt_exec(holder,
                   "SELECT 1 FROM timers WHERE case_id = 'C1' FOR UPDATE"));
  assert_int_equal(engine_run(eng, start + 86400000, &steps, &err), RC_OK);
  assert_int_equal(
      pgt_value(f->c, "SELECT count(*) FROM timers WHERE case_id = 'C2'"), 1);

  /* Given back (that node's batch rolled back), a node beginning where
   * the first did runs both, each at its own hour. */
  engine_close(eng);
  PQclear(pgt_exec(holder, "ROLLBACK"));
  assert_int_equal(engine_open(&eng, &opts, &errors), RC_OK);
  assert_int_equal(engine_run(eng, start + 86400000, &steps, &err), RC_OK);
  assert_int_equal(pgt_value(f->c, "SELECT count(*) FROM timers"), 0);
  assert_int_equal(pgt_value(f->c, "SELECT at FROM journal WHERE "
                                   "case_id = 'C1' AND kind = 'event'"),
                   1767229200000);
  assert_int_equal(pgt_value(f->c, "SELECT at FROM journal WHERE "
                                   "case_id = 'C2' AND kind = 'event'"),
                   1767232800000);

  PQfinish(holder);
  close_ping_node(eng, dir, path);
}

/* Another node's batch that gives C1's first timer back after a while
 * (its commit, the timer run there). */
typedef struct giver {
  PGconn *holder;
  int ms;
} giver;

static void *give_back(void *arg) {
  giver *g = arg;
  nanosleep(&(struct timespec){0, g->ms * 1000000L}, NULL);
  PQclear(pgt_exec(g->holder, "DELETE FROM timers WHERE event = 'first'"));
  PQclear(pgt_exec(g->holder, "COMMIT"));
  return NULL;
}

/* A simulation whose claim at its clock's time gets nothing (C1's second
 * timer waits for its first, in another node's batch) is behind that
 * timer, not done: it looks again until the holder gives it up, and runs
 * the second at its own hour. It ended its run there, and when every
 * node did so at once, the node after them began at the book's clock,
 * past the timer (pg_order_nodes: a case's third timer an hour late, the
 * one it set past the walk). */
static void test_a_simulation_waits_for_a_timer_its_claim_missed(
    void **state) {
  fixture *f = *state;
  char dir[64], path[128];
  engine_options opts;
  rc_error err = {0};
  const rc_time start = 1767225600000; /* 2026-01-01T00:00Z */
  giver g = {pgt_connect(f->url), 300};
  engine *eng =
      open_ping_node(f, dir, sizeof dir, path, sizeof path, &opts, start);
  int64_t steps = 0;
  pthread_t t;

  assert_non_null(g.holder);
  PQclear(pgt_exec(f->c, "INSERT INTO timers(due, case_id, event, scoped) "
                         "VALUES (1767229200000, 'C1', 'first', 0), "
                         "(1767229200000, 'C1', 'ping', 0), "
                         "(1767236400000, 'C2', 'ping', 0)"));
  PQclear(pgt_exec(g.holder, "BEGIN"));
  PQclear(pgt_exec(g.holder,
                   "SELECT 1 FROM timers WHERE event = 'first' FOR UPDATE"));
  assert_int_equal(pthread_create(&t, NULL, give_back, &g), 0);
  assert_int_equal(engine_run(eng, start + 86400000, &steps, &err), RC_OK);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(pgt_value(f->c, "SELECT count(*) FROM timers"), 0);
  assert_int_equal(pgt_value(f->c, "SELECT at FROM journal WHERE "
                                   "case_id = 'C1' AND kind = 'event'"),
                   1767229200000);

  PQfinish(g.holder);
  close_ping_node(eng, dir, path);
}

/* A batch's claim of at most max timers due by 10000, at now, in a
 * transaction it opens and leaves open: its rows, and the timers' rows
 * it read in *read. */
static PGresult *lock_batch(PGconn *c, int max, int64_t now, long long *read) {
  rc_error err = {0};
  long long before;
  PGresult *r;

  PQclear(pgt_exec(c, "BEGIN"));
  before = rows_read(c, "timers");
  r = pg_lock_timers(c, "A", 10000, max, now, &err);
  *read = rows_read(c, "timers") - before;
  return r;
}

/* A batch's claim on a book never analysed (as after an import) walks
 * the due timers in order and stops at the batch (schema 9's
 * timers_due): it read every remaining timer and sorted them all at each
 * batch. A timer another node's batch holds, one under a live lease and
 * one not due are passed over; a lease that ended is claimed again, in
 * its due order. */
static void test_a_batch_claim_walks_the_due_timers(void **state) {
  fixture *f = *state;
  PGconn *other = pgt_connect(f->url);
  long long read;
  PGresult *r;

  assert_non_null(other);
  reminders_due(f->c);
  PQclear(pgt_exec(f->c,
                   "UPDATE timers SET claimed_by = 'A', claimed_until = 500 "
                   "WHERE case_id IN ('C2', 'C3');"
                   "UPDATE timers SET due = 100000 WHERE case_id = 'C5'"));
  PQclear(pgt_exec(other, "BEGIN"));
  PQclear(pgt_exec(other, "SELECT 1 FROM timers WHERE case_id = 'C4' "
                          "FOR UPDATE"));
  r = lock_batch(f->c, 1000, 400, &read);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1000);
  assert_string_equal(PQgetvalue(r, 0, 1), "C1");
  assert_string_equal(PQgetvalue(r, 1, 1), "C6");
  assert_string_equal(PQgetvalue(r, 999, 1), "C1004");
  assert_string_equal(PQgetvalue(r, 999, PG_CLAIM_CASE), "C1004");
  PQclear(r);
  /* The walk; each timer's case looked up for an earlier timer held
   * elsewhere (lock_timers_sql's `waits`) reads no row: timers_case
   * (schema 12) holds a case's timers by due time, and the look-up stops
   * at the timer's own entry (it read each of the case's timers, 2,003). */
  assert_in_range(read, 1000, 1040);
  PQclear(pgt_exec(f->c, "DELETE FROM timers WHERE case_id = 'C1' OR "
                         "due BETWEEN 16 AND 1014"));
  PQclear(pgt_exec(f->c, "COMMIT"));
  /* The leases over, C2 and C3 come first; C4 is still held. */
  r = lock_batch(f->c, 3, 600, &read);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 3);
  assert_string_equal(PQgetvalue(r, 0, 1), "C2");
  assert_string_equal(PQgetvalue(r, 1, 1), "C3");
  assert_string_equal(PQgetvalue(r, 2, 1), "C1005");
  PQclear(r);
  assert_in_range(read, 3, 40);
  PQclear(pgt_exec(f->c, "COMMIT"));
  PQclear(pgt_exec(other, "COMMIT"));
  PQfinish(other);
}

/* A case's timers run in their due order, whichever node takes them. A
 * fourth case's reminder deferred by the guard has its release due before
 * its escalation. Node A's batch takes the release, but the case is held
 * by a payment's writer W, so A passes over it (and keeps the timer until
 * its batch ends); W done, node B's batch walks past the release (A holds
 * it) to the escalation. B must not take it: it would run first and the
 * release find the case moved on. It is leased to B for a moment instead,
 * and the case left for A. */
static void test_a_cases_later_timer_waits_for_its_earlier_one(void **state) {
  fixture *f = *state;
  PGconn *a = pgt_connect(f->url), *b = pgt_connect(f->url),
         *w = pgt_connect(f->url);
  rc_error err = {0};
  PGresult *r;

  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(w);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) VALUES "
                   "(1, 'C1', '__release', 0), (2, 'C1', 'escalate', 1), "
                   "(3, 'C2', 'escalate', 1)"));
  PQclear(pgt_exec(w, "BEGIN"));
  PQclear(pgt_exec(w, "SELECT 1 FROM cases WHERE id = 'C1' FOR UPDATE"));
  PQclear(pgt_exec(a, "BEGIN"));
  r = pg_lock_timers(a, "A", 100, 1, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  assert_string_equal(PQgetvalue(r, 0, 3), "__release");
  assert_true(PQgetisnull(r, 0, PG_CLAIM_CASE));
  PQclear(r);
  PQclear(pgt_exec(w, "COMMIT"));

  PQclear(pgt_exec(b, "BEGIN"));
  r = pg_lock_timers(b, "B", 100, 10, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  assert_string_equal(PQgetvalue(r, 0, 1), "C2");
  PQclear(r);
  /* C1 is free for A's step, which runs the release. */
  assert_int_equal(pgt_value(a, "SELECT count(*) FROM (SELECT 1 FROM cases "
                                "WHERE id = 'C1' FOR NO KEY UPDATE SKIP "
                                "LOCKED) c"),
                   1);
  PQclear(pgt_exec(a, "DELETE FROM timers WHERE due = 1"));
  PQclear(pgt_exec(a, "COMMIT"));
  PQclear(pgt_exec(b, "DELETE FROM timers WHERE due = 3"));
  PQclear(pgt_exec(b, "COMMIT"));
  assert_int_equal(pgt_value(f->c, "SELECT claimed_until FROM timers WHERE "
                                   "due = 2 AND claimed_by = 'B'"),
                   1000 + PG_TIMER_WAIT_MS);

  /* Its wait over, the escalation is anyone's, with its case. */
  PQclear(pgt_exec(b, "BEGIN"));
  r = pg_lock_timers(b, "B", 100, 10, 1000 + PG_TIMER_WAIT_MS, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 0);
  PQclear(r);
  PQclear(pgt_exec(b, "COMMIT"));
  PQclear(pgt_exec(b, "BEGIN"));
  r = pg_lock_timers(b, "B", 100, 10, 1001 + PG_TIMER_WAIT_MS, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  assert_string_equal(PQgetvalue(r, 0, 3), "escalate");
  assert_string_equal(PQgetvalue(r, 0, PG_CLAIM_CASE), "C1");
  PQclear(r);
  PQclear(pgt_exec(b, "COMMIT"));
  PQfinish(a);
  PQfinish(b);
  PQfinish(w);
}

/* The gap a claim's walk leaves may be a lease, not a lock: a case's
 * earlier timer leased to another node keeps its later one waiting,
 * while the walk's other timers, before and after the gap, are taken; in
 * a batch (pg_lock_timers) or outside one. */
static void lease_in_the_walk(fixture *f, int batch) {
  rc_error err = {0};
  PGresult *r;

  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped, "
                   "claimed_by, claimed_until) VALUES "
                   "(1, 'C2', 'escalate', 1, NULL, NULL), "
                   "(2, 'C1', '__release', 0, 'B', 5000), "
                   "(3, 'C1', 'escalate', 1, NULL, NULL), "
                   "(4, 'C2', 'later', 1, NULL, NULL)"));
  PQclear(pgt_exec(f->c, "BEGIN"));
  r = claim_as_a(f->c, batch, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 2);
  assert_string_equal(PQgetvalue(r, 0, 3), "escalate");
  assert_string_equal(PQgetvalue(r, 0, 1), "C2");
  assert_string_equal(PQgetvalue(r, 1, 3), "later");
  PQclear(r);
  PQclear(pgt_exec(f->c, "COMMIT"));
  assert_int_equal(pgt_value(f->c,
                             "SELECT claimed_until FROM timers WHERE "
                             "due = 3 AND claimed_by = 'A'"),
                   1000 + PG_TIMER_WAIT_MS);
}

static void test_a_lease_in_the_walk_keeps_its_cases_later_timer(void **state) {
  lease_in_the_walk(*state, 1);
}

static void test_a_lease_in_the_walk_keeps_its_later_timer_outside_a_batch(
    void **state) {
  lease_in_the_walk(*state, 0);
}

/* A timer that waits (its case's earlier one was another node's) is
 * still due: a simulation's clock must not pass it. pg_timer_first_due
 * counted only timers free of a lease, so once the earlier one had run,
 * the waiting one (leased for the wait) was passed over, and a node of
 * `tick --now` moved its clock to the next due time; the case's timer
 * ran an hour late there, and one it set then came after the case's
 * later timer (pg_order_nodes). A lease longer than the wait (a node's
 * lease claim) is still passed over. */
static void test_a_timer_that_waits_holds_a_simulations_clock(void **state) {
  fixture *f = *state;
  PGconn *other = pgt_connect(f->url);
  rc_error err = {0};
  PGresult *r;
  int64_t due = 0;

  assert_non_null(other);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) VALUES "
                   "(100, 'C1', 'a', 1), (100, 'C1', 'b', 1), "
                   "(200, 'C2', 'later', 1)"));
  PQclear(pgt_exec(other, "BEGIN"));
  PQclear(
      pgt_exec(other, "SELECT id FROM timers WHERE event = 'a' FOR UPDATE"));
  PQclear(pgt_exec(f->c, "BEGIN"));
  r = pg_lock_timers(f->c, "A", 100, 10, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 0); /* b waits for a */
  PQclear(r);
  PQclear(pgt_exec(f->c, "COMMIT"));
  PQclear(pgt_exec(other, "DELETE FROM timers WHERE event = 'a'"));
  PQclear(pgt_exec(other, "COMMIT"));
  assert_int_equal(pg_timer_first_due(f->c, 1001, &due, &err), RC_OK);
  assert_int_equal(due, 100);
  /* Leased longer than the wait: passed over, as before. */
  PQclear(pgt_exec(f->c, "UPDATE timers SET claimed_until = 61000 WHERE "
                         "event = 'b'"));
  assert_int_equal(pg_timer_first_due(f->c, 1001, &due, &err), RC_OK);
  assert_int_equal(due, 200);
  PQfinish(other);
}

/* The same outside a batch, where the claim writes leases: a case's
 * later timer is not claimed while its earlier one is another node's. */
static void test_a_cases_later_timer_waits_outside_a_batch(void **state) {
  fixture *f = *state;
  PGconn *a = pgt_connect(f->url), *b = pgt_connect(f->url);
  rc_error err = {0};
  PGresult *r;
  long long release;

  assert_non_null(a);
  assert_non_null(b);
  PQclear(pgt_exec(f->c,
                   "INSERT INTO timers(due, case_id, event, scoped) VALUES "
                   "(1, 'C1', '__release', 0), (2, 'C1', 'escalate', 1), "
                   "(3, 'C2', 'escalate', 1)"));
  r = pg_claim_timers(a, "A", 100, 1, 60000, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  assert_string_equal(PQgetvalue(r, 0, 3), "__release");
  release = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);

  r = pg_claim_timers(b, "B", 100, 10, 60000, 1000, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  assert_string_equal(PQgetvalue(r, 0, 1), "C2");
  assert_string_equal(PQgetvalue(r, 0, PG_CLAIM_CASE), "C2");
  PQclear(r);
  /* Left waiting for a moment, not for B's whole lease. */
  assert_int_equal(pgt_value(f->c, "SELECT claimed_until FROM timers WHERE "
                                   "due = 2 AND claimed_by = 'B'"),
                   1000 + PG_TIMER_WAIT_MS);

  /* A's release ran; the escalation is anyone's after its wait. */
  assert_int_equal(pg_timer_finish(a, release, "A", &err), 1);
  r = pg_claim_timers(b, "B", 100, 10, 60000, 1001 + PG_TIMER_WAIT_MS, &err);
  assert_non_null(r);
  assert_int_equal(PQntuples(r), 1);
  assert_string_equal(PQgetvalue(r, 0, 3), "escalate");
  assert_string_equal(PQgetvalue(r, 0, 1), "C1");
  PQclear(r);
  PQfinish(a);
  PQfinish(b);
}

/* A message added by hand for case GONE, which the book does not hold,
 * with this status: its id. */
static long long gone_message(PGconn *c, const char *status) {
  char sql[320];
  snprintf(sql, sizeof sql,
           "INSERT INTO messages(case_id, borrower_id, channel, template, "
           "recipient, body, status, at, next_attempt) VALUES ('GONE', "
           "'B-GONE', 'sms', 't', '+8613800000000', 'hello', '%s', 0, 0) "
           "RETURNING id",
           status);
  return pgt_value(c, sql);
}

/* Since schema 10 a message added to the book by hand may name a case
 * the book does not hold (docs/operations.md), as on SQLite since its
 * schema 20: its send's final failure and its gateway's receipt are
 * recorded like any other's, with no case to tell. */
static void test_a_message_of_a_case_not_in_the_book_settles(void **state) {
  fixture *f = *state;
  char dir[64], path[128];
  engine_options opts;
  rc_error err = {0};
  engine *eng;
  long long failed = gone_message(f->c, "queued");
  long long sent = gone_message(f->c, "sent");
  int dup = -1;

  assert_true(failed > 0 && sent > 0);
  eng = open_ping_node(f, dir, sizeof dir, path, sizeof path, &opts, 0);
  if (engine_delivery(eng, failed, "GONE", 0, 1, 3, 0, "rejected", &err) !=
      RC_OK)
    fail_msg("final failure: %s", err.message);
  if (engine_receipt(eng, sent, "delivered", &dup, &err) != RC_OK)
    fail_msg("receipt: %s", err.message);
  assert_int_equal(dup, 0);
  close_ping_node(eng, dir, path);
  assert_int_equal(pgt_value(f->c, "SELECT count(*) FROM messages WHERE "
                                   "case_id = 'GONE' AND status IN "
                                   "('failed', 'delivered')"),
                   2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(
          test_three_nodes_claim_each_due_timer_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_claimed_timers_come_in_due_order,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_dead_nodes_timers_pass_on_after_its_lease, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_claim_never_committed_leaves_nothing_claimed, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_held_cases_timers_are_tried_again_shortly, setup, teardown),
      cmocka_unit_test_setup_teardown(test_leases_run_on_the_databases_clock,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_timer_claim_reads_and_holds_its_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_the_next_due_time_is_one_this_node_can_claim, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_claim_reads_its_batch_not_the_book, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cases_events_go_to_one_node_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_events_of_a_case_in_error_are_parked,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_an_events_claim_looks_at_the_oldest_only, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_an_events_claim_reads_few_of_a_backlog, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_held_cases_backlog_does_not_stop_the_others, setup, teardown),
      cmocka_unit_test_setup_teardown(test_claiming_events_needs_a_transaction,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_the_outbox_is_claimed_once, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_an_outbox_claim_reads_few_of_a_backlog, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_the_guard_decides_one_borrower_at_a_time, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_the_next_wake_leases_no_timer_not_due, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_simulation_does_not_run_past_a_held_timer, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_simulation_waits_for_a_timer_its_claim_missed, setup,
          teardown),
      cmocka_unit_test_setup_teardown(test_a_batch_claim_walks_the_due_timers,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cases_later_timer_waits_for_its_earlier_one, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cases_later_timer_waits_outside_a_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_batch_claim_reads_and_holds_its_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_timer_that_waits_holds_a_simulations_clock, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_lease_in_the_walk_keeps_its_later_timer_outside_a_batch, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_lease_in_the_walk_keeps_its_cases_later_timer, setup,
          teardown),
      cmocka_unit_test_setup_teardown(
          test_a_message_of_a_case_not_in_the_book_settles, setup, teardown),
  };
  if (!pgt_cluster_url()) return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
