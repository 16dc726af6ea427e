/* The daily sweep: N open cases, each with a timer due, each step a real
 * reminder (read the case, Lua handler, render and queue an SMS, transition,
 * journal). Measured side by side with the same writes done straight on
 * SQLite (UPDATE case + INSERT journal + INSERT outbox, 1,000 a transaction,
 * WAL, synchronous=FULL as recoup runs), so the ratio holds on a noisy
 * machine. A third run does recoup's own statements on recoup's own
 * database without the runtime, which splits the gap in two: what the
 * schema costs and what the runtime costs.
 *
 * usage: bench_sweep INSTITUTION_DIR WORK_DIR N...   prints "name value unit"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

#include "recoup/engine.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rm_db(const char *path) {
  char side[600];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
}

static void must(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "bench_sweep: %s failed\n", what);
    exit(1);
  }
}

/* Opens n cases through the engine, each with its reminder timer set, and
 * leaves the engine open at the case's opening time (not timed). */
static engine *open_cases(const char *dir, const char *db, int n, rc_time *t0) {
  engine_options opts = {dir, db, 1, 0, 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  rc_error err;
  rm_db(db);
  must(engine_open(&eng, &opts, &errors) == RC_OK, "engine_open");
  clock_parse_time(engine_clock(eng), "2026-01-05T09:00", t0, NULL);
  clock_set(engine_clock(eng), *t0);
  must(engine_begin(eng, &err) == RC_OK, "begin");
  for (int i = 0; i < n; i++) {
    char text[400];
    json_t *j;
    snprintf(text, sizeof text,
             "{\"id\":\"C%07d\",\"balance\":%d,\"amount_due\":%d,"
             "\"due_date\":\"2025-12-%02d\",\"borrower\":{\"id\":\"B%07d\","
             "\"name\":\"借款人%d\",\"phones\":[\"+86138%08d\"]}}",
             i, 100000 + i, 50000 + i % 1000, 1 + i % 28, i, i, i);
    j = json_loads(text, 0, NULL);
    must(engine_upsert_case(eng, j, 0, NULL, &err) == RC_OK, err.message);
    json_decref(j);
  }
  must(engine_commit(eng, &err) == RC_OK, "commit");
  must(engine_run(eng, *t0, NULL, &err) == RC_OK, "opened"); /* timers set */
  return eng;
}

static double recoup_sweep(const char *dir, const char *db, int n) {
  rc_time t0;
  engine *eng = open_cases(dir, db, n, &t0);
  rc_error err;
  int64_t steps = 0;
  double start, took;
  start = now_s();
  must(engine_run(eng, t0 + 2 * 86400000LL, &steps, &err) == RC_OK, "sweep");
  took = now_s() - start;
  must(steps == n, "every case stepped once");
  engine_close(eng);
  return took;
}

static sqlite3_stmt *prep(sqlite3 *s, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench_sweep: %s: %s\n", sql, sqlite3_errmsg(s));
    exit(1);
  }
  return st;
}

static void run(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  must(rc == SQLITE_DONE || rc == SQLITE_ROW, "raw statement");
  sqlite3_reset(st);
}

/* The storage floor of recoup's own design: on the database recoup made
 * (its tables, indexes and constraints), the statements a reminder step
 * runs, with no Lua, no guard and no engine. What recoup takes beyond this
 * is the runtime; what this takes beyond raw_sweep is the schema. */
static double schema_sweep(const char *dir, const char *db, int n) {
  rc_time t0;
  engine *eng = open_cases(dir, db, n, &t0);
  sqlite3 *s;
  sqlite3_stmt *due, *del, *get, *bor, *con, *msg, *jr, *scoped, *tasks, *up;
  double start, took;
  int64_t done = 0;
  engine_close(eng);
  must(sqlite3_open(db, &s) == SQLITE_OK, "open schema");
  sqlite3_exec(s,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;"
               "PRAGMA cache_size=-65536;",
               NULL, NULL, NULL);
  due = prep(s,
             "SELECT id, case_id, due, event, data FROM timers "
             "WHERE due <= ?1 ORDER BY due, id LIMIT 1000");
  del = prep(s, "DELETE FROM timers WHERE id = ?1");
  get = prep(s,
             "SELECT id, borrower_id, workflow, version, state, closed, "
             "outcome, error, product, currency, principal, balance, "
             "amount_due, fees, due_date, opened_at, score, tags, data, "
             "queue, on_hold FROM cases WHERE id = ?1");
  bor = prep(s,
             "SELECT id, name, locale, timezone, address, employer_name, "
             "employer_phone, employer_address, do_not_contact, ceased "
             "FROM borrowers WHERE id = ?1");
  con = prep(s,
             "SELECT kind, value, name, relation FROM contacts "
             "WHERE borrower_id = ?1 ORDER BY position");
  msg = prep(s,
             "INSERT INTO messages(case_id, borrower_id, channel, "
             "template, recipient, to_kind, body, status, reason, at, "
             "not_before) VALUES (?1, ?2, 'sms', 'reminder', ?3, "
             "'borrower', ?4, 'queued', NULL, ?5, 0)");
  jr = prep(s,
            "INSERT INTO journal(case_id, at, kind, state, version, "
            "detail) VALUES (?1, ?2, ?3, ?4, 1, ?5)");
  scoped = prep(s, "DELETE FROM timers WHERE case_id = ?1 AND scoped");
  tasks = prep(s,
               "UPDATE tasks SET status = 'cancelled' WHERE case_id = ?1 "
               "AND NOT keep AND (status = 'open' OR status = 'claimed')");
  up = prep(s,
            "UPDATE cases SET state = 'reminded', closed = 0, "
            "outcome = NULL WHERE id = ?1");
  start = now_s();
  while (done < n) {
    int batch = 0;
    sqlite3_exec(s, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    sqlite3_bind_int64(due, 1, t0 + 2 * 86400000LL);
    while (sqlite3_step(due) == SQLITE_ROW) {
      char case_id[32], borrower[32], name[64], phone[32], body[300];
      int64_t amount;
      snprintf(case_id, sizeof case_id, "%s", sqlite3_column_text(due, 1));
      sqlite3_bind_int64(del, 1, sqlite3_column_int64(due, 0));
      run(del);
      sqlite3_bind_text(get, 1, case_id, -1, SQLITE_STATIC);
      must(sqlite3_step(get) == SQLITE_ROW, "case row");
      snprintf(borrower, sizeof borrower, "%s", sqlite3_column_text(get, 1));
      amount = sqlite3_column_int64(get, 12);
      sqlite3_reset(get);
      sqlite3_bind_text(bor, 1, borrower, -1, SQLITE_STATIC);
      must(sqlite3_step(bor) == SQLITE_ROW, "borrower row");
      snprintf(name, sizeof name, "%s", sqlite3_column_text(bor, 1));
      sqlite3_reset(bor);
      sqlite3_bind_text(con, 1, borrower, -1, SQLITE_STATIC);
      phone[0] = '\0';
      if (sqlite3_step(con) == SQLITE_ROW)
        snprintf(phone, sizeof phone, "%s", sqlite3_column_text(con, 1));
      sqlite3_reset(con);
      snprintf(body, sizeof body,
               "%s您好，您的借款已逾期%d天，应还¥%lld.%02lld。咨询电话400-000-"
               "0000。",
               name, 35, (long long)(amount / 100), (long long)(amount % 100));
      sqlite3_bind_text(jr, 1, case_id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(jr, 2, t0);
      sqlite3_bind_text(jr, 3, "event", -1, SQLITE_STATIC);
      sqlite3_bind_text(jr, 4, "due", -1, SQLITE_STATIC);
      sqlite3_bind_text(jr, 5, "{\"type\":\"remind\"}", -1, SQLITE_STATIC);
      run(jr);
      sqlite3_bind_text(msg, 1, case_id, -1, SQLITE_STATIC);
      sqlite3_bind_text(msg, 2, borrower, -1, SQLITE_STATIC);
      sqlite3_bind_text(msg, 3, phone, -1, SQLITE_STATIC);
      sqlite3_bind_text(msg, 4, body, -1, SQLITE_STATIC);
      sqlite3_bind_int64(msg, 5, t0);
      run(msg);
      sqlite3_bind_text(jr, 3, "message", -1, SQLITE_STATIC);
      sqlite3_bind_text(jr, 5,
                        "{\"id\":1,\"channel\":\"sms\",\"template\":"
                        "\"reminder\",\"to\":\"borrower\",\"status\":"
                        "\"queued\"}",
                        -1, SQLITE_STATIC);
      run(jr);
      sqlite3_bind_text(scoped, 1, case_id, -1, SQLITE_STATIC);
      run(scoped);
      sqlite3_bind_text(tasks, 1, case_id, -1, SQLITE_STATIC);
      run(tasks);
      sqlite3_bind_text(up, 1, case_id, -1, SQLITE_STATIC);
      run(up);
      sqlite3_bind_text(jr, 3, "transition", -1, SQLITE_STATIC);
      sqlite3_bind_text(jr, 4, "reminded", -1, SQLITE_STATIC);
      sqlite3_bind_text(jr, 5,
                        "{\"from\":\"due\",\"to\":\"reminded\","
                        "\"event\":\"remind\"}",
                        -1, SQLITE_STATIC);
      run(jr);
      batch++;
    }
    sqlite3_reset(due);
    must(sqlite3_exec(s, "COMMIT", NULL, NULL, NULL) == SQLITE_OK, "commit");
    must(batch > 0, "timers left to sweep");
    done += batch;
  }
  took = now_s() - start;
  sqlite3_stmt *all[] = {due, del, get, bor, con, msg, jr, scoped, tasks, up};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    sqlite3_finalize(all[i]);
  sqlite3_close(s);
  return took;
}

/* The same writes on raw SQLite, same pragmas and batch size. */
static double raw_sweep(const char *db, int n) {
  sqlite3 *s;
  sqlite3_stmt *up, *jr, *ob;
  double start, took;
  rm_db(db);
  must(sqlite3_open(db, &s) == SQLITE_OK, "open raw");
  sqlite3_exec(s,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "CREATE TABLE cases(id TEXT PRIMARY KEY, state TEXT, "
               "balance INTEGER);"
               "CREATE TABLE journal(id INTEGER PRIMARY KEY, case_id TEXT, "
               "at INTEGER, kind TEXT, detail TEXT);"
               "CREATE TABLE outbox(id INTEGER PRIMARY KEY, case_id TEXT, "
               "body TEXT, status TEXT);",
               NULL, NULL, NULL);
  sqlite3_exec(s, "BEGIN", NULL, NULL, NULL);
  {
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(s, "INSERT INTO cases VALUES (?1, 'due', ?2)", -1, &ins,
                       NULL);
    for (int i = 0; i < n; i++) {
      char id[16];
      snprintf(id, sizeof id, "C%07d", i);
      sqlite3_bind_text(ins, 1, id, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(ins, 2, 100000 + i);
      sqlite3_step(ins);
      sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
  }
  sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
  sqlite3_prepare_v2(s, "UPDATE cases SET state = 'reminded' WHERE id = ?1", -1,
                     &up, NULL);
  sqlite3_prepare_v2(s,
                     "INSERT INTO journal(case_id, at, kind, detail) "
                     "VALUES (?1, ?2, 'transition', ?3)",
                     -1, &jr, NULL);
  sqlite3_prepare_v2(s,
                     "INSERT INTO outbox(case_id, body, status) "
                     "VALUES (?1, ?2, 'queued')",
                     -1, &ob, NULL);
  start = now_s();
  for (int i = 0; i < n; i++) {
    char id[16], body[200];
    if (i % 1000 == 0) sqlite3_exec(s, "BEGIN", NULL, NULL, NULL);
    snprintf(id, sizeof id, "C%07d", i);
    snprintf(body, sizeof body,
             "借款人%d您好，您的借款已逾期%d天，应还¥%d.00。", i, i % 28,
             500 + i % 1000);
    sqlite3_bind_text(up, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_step(up);
    sqlite3_reset(up);
    sqlite3_bind_text(jr, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(jr, 2, i);
    sqlite3_bind_text(jr, 3, "{\"from\":\"due\",\"to\":\"reminded\"}", -1,
                      SQLITE_STATIC);
    sqlite3_step(jr);
    sqlite3_reset(jr);
    sqlite3_bind_text(ob, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ob, 2, body, -1, SQLITE_TRANSIENT);
    sqlite3_step(ob);
    sqlite3_reset(ob);
    if (i % 1000 == 999 || i == n - 1)
      sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
  }
  took = now_s() - start;
  sqlite3_finalize(up);
  sqlite3_finalize(jr);
  sqlite3_finalize(ob);
  sqlite3_close(s);
  return took;
}

int main(int argc, char **argv) {
  char db[512], raw[512];
  struct rusage ru;
  if (argc < 4) {
    fprintf(stderr, "usage: %s INSTITUTION WORK N...\n", argv[0]);
    return 2;
  }
  snprintf(db, sizeof db, "%s/sweep.db", argv[2]);
  snprintf(raw, sizeof raw, "%s/raw.db", argv[2]);
  for (int i = 3; i < argc; i++) {
    int n = atoi(argv[i]);
    double r = recoup_sweep(argv[1], db, n);
    double w = raw_sweep(raw, n);
    double f = schema_sweep(argv[1], db, n);
    printf("sweep_steps_per_s_%d %.0f steps/s\n", n, n / r);
    printf("raw_steps_per_s_%d %.0f steps/s\n", n, n / w);
    printf("sweep_ratio_%d %.2f recoup/raw\n", n, (n / r) / (n / w));
    printf("schema_steps_per_s_%d %.0f steps/s\n", n, n / f);
    printf("schema_ratio_%d %.2f schema/raw\n", n, (n / f) / (n / w));
    printf("runtime_ratio_%d %.2f recoup/schema\n", n, (n / r) / (n / f));
    fflush(stdout);
  }
  getrusage(RUSAGE_SELF, &ru);
  printf("sweep_rss_mb %.1f MB\n", ru.ru_maxrss / 1024.0);
  rm_db(db);
  rm_db(raw);
  return 0;
}
