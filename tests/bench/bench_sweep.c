/* The daily sweep: N open cases, each with a timer due, each step a real
 * reminder (read the case, Lua handler, render and queue an SMS, transition,
 * journal). Measured side by side with the same writes done straight on
 * SQLite (UPDATE case + INSERT journal + INSERT outbox, 1,000 a transaction,
 * WAL, and a sweep's batches unsynced as recoup commits them: nobody outside
 * waits for a sweep batch, see docs/operations.md "What a power cut can
 * take"), so the ratio holds on a noisy
 * machine. recoup's sweep copies its WAL back into the database on a
 * thread of its own, as `recoup tick` and the service do; the raw run
 * copies inside its commits, as SQLite does by itself (its
 * autocheckpoint, at the store's 64 MB). The CPU figures count every
 * thread's time: the copier's work is in them. A third run does recoup's own statements on recoup's own
 * database without the runtime, which splits the gap in two: what the
 * schema costs and what the runtime costs. A size written sN runs all
 * three with the cases coming due in shuffled order (see nth_case).
 *
 * usage: bench_sweep INSTITUTION_DIR WORK_DIR [s]N...
 *   prints "name value unit"
 *
 * With RECOUP_BENCH_TREES=1 each sweep prints instead the WAL frames its
 * steps appended, by the B-tree each frame's page belongs to: which trees
 * a step writes, and how many pages of each (see spy_install below).
 * With RECOUP_BENCH_STATEMENTS=1 each sweep prints the statements its
 * steps ran, a line a statement's text with its runs a step (see
 * stmt_install below).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>
/* Under `valgrind --tool=callgrind --collect-atstart=no` only recoup's
 * timed sweep is collected: its instructions a step, without the cases'
 * opening or the other two sweeps. Outside valgrind a no-op.
 * Only the instructions: callgrind counts every call made, collecting or
 * not (CALLGRIND_ZERO_STATS keeps them too), so the calls callgrind_annotate
 * shows, "(40,000x)", add the uncollected parts' to the sweep's. The
 * schema sweep makes the same store calls as a step (store_case_write,
 * op_case_write, sq_case_set_state 20,000 times each for 20,000 steps,
 * shown 40,000), the cases' opening its own: count a step's calls under
 * gdb instead (breakpoints set once the timed engine_run is entered,
 * their hits read when it returns). */
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_TOGGLE_COLLECT
#endif

#include "recoup/engine.h"
#include "store/store.h"

/* Bytes this process has written so far (/proc/self/io "wchar": the WAL,
 * the checkpoints into the file), -1 where there is no such file. A
 * figure the machine's load does not change: what a step costs in
 * writes, beside what it costs in time. */
static long long wchar_now(void) {
  FILE *f = fopen("/proc/self/io", "r");
  char line[128];
  long long v = -1;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "wchar: %lld", &v) == 1) break;
  fclose(f);
  return v;
}

/* What the last timed sweep wrote, and the CPU seconds it took (every
 * thread's, user and system): set by each sweep around its timed part.
 * CPU a step moves less than wall time on a machine others share. */
static long long written;
static double cpu;

static double cpu_now(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

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

/* The WAL frames a sweep appends, by page: a VFS over the default one
 * that reads the page number in each frame's header as SQLite writes it
 * (24 bytes, written apart from its page, at offset 32 or after). What
 * a commit writes is each page its transaction dirtied, once: frames a
 * step are the pages of each tree a step costs. Registered only in the
 * trees run: it initialises SQLite before the store configures it, so
 * that run's times are not figures. */
static sqlite3_vfs *spy_base;
static int spy_counting;
static unsigned *spy_frames; /* frames by page number */
static size_t spy_cap;

typedef struct {
  sqlite3_file file;
  sqlite3_file *real; /* the default VFS's file, after this struct */
  int wal;
} spy_file;

#define REAL(f) (((spy_file *)(f))->real)

static void spy_count(const unsigned char *header) {
  size_t page = (size_t)header[0] << 24 | (size_t)header[1] << 16 |
                (size_t)header[2] << 8 | header[3];
  if (page >= spy_cap) {
    size_t cap = page * 2 + 1024;
    unsigned *grown = realloc(spy_frames, cap * sizeof *grown);
    must(grown != NULL, "count frames");
    memset(grown + spy_cap, 0, (cap - spy_cap) * sizeof *grown);
    spy_frames = grown, spy_cap = cap;
  }
  spy_frames[page]++;
}

static int spy_close(sqlite3_file *f) {
  return REAL(f)->pMethods->xClose(REAL(f));
}
static int spy_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 at) {
  return REAL(f)->pMethods->xRead(REAL(f), buf, n, at);
}
static int spy_write(sqlite3_file *f, const void *buf, int n,
                     sqlite3_int64 at) {
  /* Only the connection committing writes its WAL: the service's WAL
   * copier writes the database file. */
  if (((spy_file *)f)->wal && spy_counting && n == 24 && at >= 32)
    spy_count(buf);
  return REAL(f)->pMethods->xWrite(REAL(f), buf, n, at);
}
static int spy_truncate(sqlite3_file *f, sqlite3_int64 size) {
  return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int spy_sync(sqlite3_file *f, int flags) {
  return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int spy_size(sqlite3_file *f, sqlite3_int64 *size) {
  return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int spy_lock(sqlite3_file *f, int level) {
  return REAL(f)->pMethods->xLock(REAL(f), level);
}
static int spy_unlock(sqlite3_file *f, int level) {
  return REAL(f)->pMethods->xUnlock(REAL(f), level);
}
static int spy_reserved(sqlite3_file *f, int *out) {
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int spy_control(sqlite3_file *f, int op, void *arg) {
  return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int spy_sector(sqlite3_file *f) {
  return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int spy_device(sqlite3_file *f) {
  return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int spy_shm_map(sqlite3_file *f, int i, int size, int extend,
                       void volatile **p) {
  return REAL(f)->pMethods->xShmMap(REAL(f), i, size, extend, p);
}
static int spy_shm_lock(sqlite3_file *f, int at, int n, int flags) {
  return REAL(f)->pMethods->xShmLock(REAL(f), at, n, flags);
}
static void spy_shm_barrier(sqlite3_file *f) {
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int spy_shm_unmap(sqlite3_file *f, int drop) {
  return REAL(f)->pMethods->xShmUnmap(REAL(f), drop);
}
static int spy_fetch(sqlite3_file *f, sqlite3_int64 at, int n, void **p) {
  return REAL(f)->pMethods->xFetch(REAL(f), at, n, p);
}
static int spy_unfetch(sqlite3_file *f, sqlite3_int64 at, void *p) {
  return REAL(f)->pMethods->xUnfetch(REAL(f), at, p);
}

static const sqlite3_io_methods spy_methods = {3,
                                               spy_close,
                                               spy_read,
                                               spy_write,
                                               spy_truncate,
                                               spy_sync,
                                               spy_size,
                                               spy_lock,
                                               spy_unlock,
                                               spy_reserved,
                                               spy_control,
                                               spy_sector,
                                               spy_device,
                                               spy_shm_map,
                                               spy_shm_lock,
                                               spy_shm_barrier,
                                               spy_shm_unmap,
                                               spy_fetch,
                                               spy_unfetch};

static int spy_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                    int flags, int *out_flags) {
  spy_file *sf = (spy_file *)f;
  int rc;
  (void)vfs;
  sf->real = (sqlite3_file *)(sf + 1);
  sf->wal = (flags & SQLITE_OPEN_WAL) != 0;
  rc = spy_base->xOpen(spy_base, name, sf->real, flags, out_flags);
  f->pMethods = rc == SQLITE_OK && sf->real->pMethods ? &spy_methods : NULL;
  return rc;
}

static void spy_install(void) {
  static sqlite3_vfs spy;
  spy_base = sqlite3_vfs_find(NULL);
  must(spy_base != NULL, "find the default VFS");
  spy = *spy_base;
  spy.zName = "bench_spy";
  spy.szOsFile = (int)sizeof(spy_file) + spy_base->szOsFile;
  spy.xOpen = spy_open;
  must(sqlite3_vfs_register(&spy, 1) == SQLITE_OK, "register the spy VFS");
}

static void spy_start(void) {
  if (spy_frames) memset(spy_frames, 0, spy_cap * sizeof *spy_frames);
  spy_counting = spy_base != NULL;
}

/* The frames counted since spy_start, a line a tree (index or table, as
 * dbstat names it) with at least 0.0005 frames a step. A page counts as
 * the tree that holds it at the end: the timers' pages a sweep empties
 * are freed and taken again by the trees it appends to, so their frames
 * show there; a page no tree holds at the end counts as "(free)". */
static void spy_print(const char *db, const char *sweep, int shuffled, int n) {
  sqlite3 *s;
  sqlite3_stmt *q;
  if (!spy_counting) return;
  spy_counting = 0;
  must(sqlite3_open(db, &s) == SQLITE_OK, "open to map pages");
  must(sqlite3_exec(s, "CREATE TEMP TABLE frames(page INTEGER PRIMARY KEY, n)",
                    NULL, NULL, NULL) == SQLITE_OK,
       "frames table");
  must(sqlite3_prepare_v2(s, "INSERT INTO frames VALUES (?1, ?2)", -1, &q,
                          NULL) == SQLITE_OK,
       "frames insert");
  sqlite3_exec(s, "BEGIN", NULL, NULL, NULL);
  for (size_t p = 0; p < spy_cap; p++)
    if (spy_frames[p]) {
      sqlite3_bind_int64(q, 1, (sqlite3_int64)p);
      sqlite3_bind_int64(q, 2, spy_frames[p]);
      sqlite3_step(q);
      sqlite3_reset(q);
    }
  sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
  sqlite3_finalize(q);
  must(sqlite3_prepare_v2(
           s,
           "SELECT coalesce(d.name, '(free)'), sum(f.n) FROM frames f "
           "LEFT JOIN (SELECT pageno, name FROM dbstat) d ON d.pageno = f.page "
           "GROUP BY 1 ORDER BY 2 DESC",
           -1, &q, NULL) == SQLITE_OK,
       "map pages to trees (dbstat)");
  while (sqlite3_step(q) == SQLITE_ROW) {
    double per_step = sqlite3_column_double(q, 1) / n;
    if (per_step >= 0.0005)
      printf("%s%s_frames_%s_%d %.3f frames\n", sweep,
             shuffled ? "_shuffled" : "",
             (const char *)sqlite3_column_text(q, 0), n, per_step);
  }
  sqlite3_finalize(q);
  sqlite3_close(s);
}

/* The statements a sweep runs, by their text: SQLITE_TRACE_STMT on every
 * connection (an auto extension), which SQLite calls at a statement's
 * first step after a reset, and for each statement a trigger runs (its
 * text begins "-- "). What a step costs in statements, as the trees run
 * gives what it costs in pages; not timed either. */
typedef struct {
  const char *sql; /* the prepared statement's own text, stable while it is */
  char *text;
  long long runs;
} stmt_count;
static stmt_count *stmt_seen;
static size_t stmt_n, stmt_cap;
static int stmt_tracing, stmt_counting;

static int stmt_traced(unsigned type, void *ud, void *p, void *x) {
  const char *sql = x;
  size_t i;
  (void)type, (void)ud, (void)p;
  if (!stmt_counting) return 0;
  for (i = 0; i < stmt_n; i++)
    if (stmt_seen[i].sql == sql && !strcmp(stmt_seen[i].text, sql)) break;
  if (i == stmt_n) {
    if (stmt_n == stmt_cap) {
      size_t cap = stmt_cap * 2 + 64;
      stmt_count *grown = realloc(stmt_seen, cap * sizeof *grown);
      must(grown != NULL, "count statements");
      stmt_seen = grown, stmt_cap = cap;
    }
    stmt_seen[stmt_n].sql = sql;
    stmt_seen[stmt_n].text = strdup(sql);
    must(stmt_seen[stmt_n].text != NULL, "count statements");
    stmt_seen[stmt_n++].runs = 0;
  }
  stmt_seen[i].runs++;
  return 0;
}

static int stmt_trace(sqlite3 *db, const char **msg,
                      const struct sqlite3_api_routines *api) {
  (void)msg, (void)api;
  sqlite3_trace_v2(db, SQLITE_TRACE_STMT, stmt_traced, NULL);
  return SQLITE_OK;
}

static void stmt_install(void) {
  stmt_tracing = 1;
  must(sqlite3_auto_extension((void (*)(void))stmt_trace) == SQLITE_OK,
       "trace statements");
}

static void stmt_start(void) {
  for (size_t i = 0; i < stmt_n; i++) free(stmt_seen[i].text);
  stmt_n = 0;
  stmt_counting = stmt_tracing;
}

/* The runs counted since stmt_start, a line a text (the same text
 * prepared twice counts once), with at least 0.0005 runs a step; the
 * text's first 100 characters, its spaces run together. */
static void stmt_print(const char *sweep, int shuffled, int n) {
  double total = 0;
  if (!stmt_counting) return;
  stmt_counting = 0;
  for (size_t i = 0; i < stmt_n; i++) {
    char line[101];
    size_t k = 0;
    long long runs = stmt_seen[i].runs;
    if (!stmt_seen[i].text) continue;
    for (size_t j = i + 1; j < stmt_n; j++)
      if (stmt_seen[j].text && !strcmp(stmt_seen[j].text, stmt_seen[i].text)) {
        runs += stmt_seen[j].runs;
        free(stmt_seen[j].text);
        stmt_seen[j].text = NULL;
      }
    for (const char *c = stmt_seen[i].text; *c && k < sizeof line - 1; c++)
      if (!(*c == ' ' || *c == '\n') || (k && line[k - 1] != ' '))
        line[k++] = *c == '\n' ? ' ' : *c;
    line[k] = 0;
    total += (double)runs / n;
    if ((double)runs / n >= 0.0005)
      printf("%s%s_statement %.3f %s\n", sweep, shuffled ? "_shuffled" : "",
             (double)runs / n, line);
  }
  printf("%s%s_statements_%d %.3f statements\n", sweep,
         shuffled ? "_shuffled" : "", n, total);
}

/* Shuffled, case k comes due (k * 7919 mod n) ms after the others would:
 * a fixed permutation. In id order every B-tree a step touches is read
 * and written in key order, which a real book never is: cases are loaded
 * in about the order of their ids, but their timers come due in an order
 * that has nothing to do with them. */
enum { SHUFFLE = 7919 };

/* The inverse of SHUFFLE mod n, by extended Euclid (n not a multiple of
 * SHUFFLE, a prime). */
static int64_t shuffle_inverse(int n) {
  int64_t r0 = n, r1 = SHUFFLE, t0 = 0, t1 = 1;
  while (r1) {
    int64_t q = r0 / r1, t = t0 - q * t1, r = r0 - q * r1;
    t0 = t1, t1 = t, r0 = r1, r1 = r;
  }
  return t0 < 0 ? t0 + n : t0;
}

/* The i-th case to come due, in the same order for recoup and raw (so the
 * ratio stays like for like): k with k * SHUFFLE = i (mod n), given the
 * inverse above; 0 for id order. Computed before the timed loop, which
 * pays only this multiplication. */
static int nth_case(int i, int n, int64_t inverse) {
  return inverse ? (int)((int64_t)i * inverse % n) : i;
}

/* Opens n cases through the engine in id order, each with its reminder
 * timer set, and leaves the engine open at the cases' opening time (not
 * timed). */
static engine *open_cases(const char *dir, const char *db, int n, int shuffled,
                          rc_time *t0) {
  engine_options opts = {.dir = dir, .db = db, .simulated = 1, .quiet = 1};
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
  if (shuffled) {
    sqlite3 *s;
    sqlite3_stmt *q;
    char sql[800];
    engine_close(eng);
    must(n % SHUFFLE != 0, "a size that 7919 does not divide");
    /* Each case's row names its timers by their keys (timer_keys):
     * moved with the timers, as a book whose cases came due in this
     * order would have them. Left stale, every step would look its timer
     * up in vain and write the keys again (2.7 % of a step, counted),
     * which no real book pays. */
    snprintf(sql, sizeof sql,
             "UPDATE timers SET due = due + "
             "CAST(substr(case_id, 2) AS INTEGER) * %d %% %d;"
             "UPDATE case_steps SET timer_keys = (SELECT json_group_array("
             "json_array(json_extract(k.value, '$[0]') + "
             "CAST(substr(case_steps.id, 2) AS INTEGER) * %d %% %d, "
             "json_extract(k.value, '$[1]'), json_extract(k.value, '$[2]'))) "
             "FROM json_each(case_steps.timer_keys) k) "
             "WHERE timer_keys <> '';",
             SHUFFLE, n, SHUFFLE, n);
    must(sqlite3_open(db, &s) == SQLITE_OK, "open to shuffle");
    must(sqlite3_exec(s, sql, NULL, NULL, NULL) == SQLITE_OK, "shuffle");
    must(sqlite3_prepare_v2(s,
                            "SELECT count(*) FROM cases c, "
                            "json_each(c.timer_keys) k WHERE c.timer_keys "
                            "<> '' AND NOT EXISTS (SELECT 1 FROM timers t "
                            "WHERE t.due = json_extract(k.value, '$[0]') "
                            "AND t.id = json_extract(k.value, '$[1]'))",
                            -1, &q, NULL) == SQLITE_OK &&
             sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 0) == 0,
         "every case's timer keys name its shuffled timers");
    sqlite3_finalize(q);
    sqlite3_close(s);
    must(engine_open(&eng, &opts, &errors) == RC_OK, "engine_open");
    clock_set(engine_clock(eng), *t0);
  }
  return eng;
}

static double recoup_sweep(const char *dir, const char *db, int n,
                           int shuffled) {
  rc_time t0;
  engine *eng = open_cases(dir, db, n, shuffled, &t0);
  rc_error err;
  int64_t steps = 0;
  double start, took;
  /* The WAL copied back as `recoup tick` and the service copy it. */
  must(engine_copy_apart(eng, &err) == RC_OK, "the WAL's copier thread");
  written = wchar_now();
  cpu = cpu_now();
  spy_start();
  stmt_start();
  start = now_s();
  CALLGRIND_TOGGLE_COLLECT;
  must(engine_run(eng, t0 + 2 * 86400000LL, &steps, &err) == RC_OK, "sweep");
  CALLGRIND_TOGGLE_COLLECT;
  took = now_s() - start;
  engine_close(eng);
  stmt_print("sweep", shuffled, n);
  spy_print(db, "sweep", shuffled, n);
  written = wchar_now() - written;
  cpu = cpu_now() - cpu;
  must(steps == n, "every case stepped once");
  return took;
}

static void ok(int rc, const rc_error *err) {
  if (rc != RC_OK) {
    fprintf(stderr, "bench_sweep: store: %s\n", err->message);
    exit(1);
  }
}

/* The storage floor of recoup's own design: the store calls a reminder
 * step makes (the same statements, so they cannot drift apart), on the
 * database recoup made, with no Lua, no guard and no engine. What recoup
 * takes beyond this is the runtime; what this takes beyond raw_sweep is
 * the schema. */
static double schema_sweep(const char *dir, const char *db, int n,
                           int shuffled) {
  rc_time t0;
  engine *eng = open_cases(dir, db, n, shuffled, &t0);
  store *st;
  rc_error err;
  double start, took;
  int64_t done = 0;
  engine_close(eng);
  ok(store_open(&st, db, &err), &err);
  written = wchar_now();
  cpu = cpu_now();
  spy_start();
  stmt_start();
  start = now_s();
  while (done < n) {
    store_timer *due;
    int count;
    ok(store_begin_unsynced(st, &err), &err);
    ok(store_timers_claim(st, t0 + 2 * 86400000LL, 1000, NULL, &due, &count,
                          &err),
       &err);
    for (int i = 0; i < count; i++) {
      const char *id = due[i].case_id;
      char body[300];
      store_case c;
      store_borrower b;
      store_message m = {0};
      int64_t msg_id;
      int deleted;
      ok(store_timer_finish(st, &due[i], &deleted, &err), &err);
      ok(store_case_get(st, id, &c, &err), &err);
      ok(store_borrower_get(st, c.borrower_id, &b, &err), &err);
      ok(store_journal_append(st, id, t0, "event", c.state, 1,
                              "{\"type\":\"remind\"}", &err),
         &err);
      snprintf(body, sizeof body,
               "%s您好，您的借款已逾期%d天，应还¥%lld.%02lld。咨询电话400-000-"
               "0000。",
               b.name, 35, (long long)(c.amount_due / 100),
               (long long)(c.amount_due % 100));
      m.case_id = id;
      m.borrower_id = c.borrower_id;
      m.channel = "sms";
      m.template_name = "reminder";
      m.recipient = b.ncontacts ? b.contacts[0].value : NULL;
      m.to_kind = "borrower";
      m.body = body;
      m.status = "queued";
      m.at = t0;
      ok(store_message_insert(st, &m, &msg_id, &err), &err);
      ok(store_journal_append(st, id, t0, "message", c.state, 1,
                              "{\"id\":1,\"channel\":\"sms\",\"template\":"
                              "\"reminder\",\"to\":\"borrower\",\"status\":"
                              "\"queued\"}",
                              &err),
         &err);
      ok(store_timers_cancel(st, id, STORE_TIMERS_SCOPED, NULL, NULL, &err),
         &err);
      ok(store_tasks_cancel_scoped(st, id, &err), &err);
      ok(store_case_write(
             st,
             &(store_case_change){
                 .id = id, .fields = STORE_CASE_STATE, .state = "reminded"},
             &err),
         &err);
      ok(store_journal_append(st, id, t0, "transition", "reminded", 1,
                              "{\"from\":\"due\",\"to\":\"reminded\","
                              "\"event\":\"remind\"}",
                              &err),
         &err);
      store_case_free(&c);
      store_borrower_free(&b);
    }
    store_timers_free(due, count);
    ok(store_commit(st, &err), &err);
    must(count > 0, "timers left to sweep");
    done += count;
  }
  took = now_s() - start;
  store_close(st);
  stmt_print("schema", shuffled, n);
  spy_print(db, "schema", shuffled, n);
  written = wchar_now() - written;
  cpu = cpu_now() - cpu;
  return took;
}

/* The same writes on raw SQLite, same pragmas and batch size. */
static double raw_sweep(const char *db, int n, int shuffled) {
  sqlite3 *s;
  sqlite3_stmt *up, *jr, *ob;
  double start, took;
  int64_t inverse = shuffled ? shuffle_inverse(n) : 0;
  rm_db(db);
  must(sqlite3_open(db, &s) == SQLITE_OK, "open raw");
  sqlite3_exec(s,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
               /* the pragmas of recoup's store */
               "PRAGMA wal_autocheckpoint=16384; PRAGMA cache_size=-65536;"
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
  written = wchar_now();
  cpu = cpu_now();
  spy_start();
  start = now_s();
  for (int i = 0; i < n; i++) {
    char id[16], body[200];
    int k = nth_case(i, n, inverse);
    if (i % 1000 == 0) sqlite3_exec(s, "BEGIN", NULL, NULL, NULL);
    snprintf(id, sizeof id, "C%07d", k);
    snprintf(body, sizeof body,
             "借款人%d您好，您的借款已逾期%d天，应还¥%d.00。", k, k % 28,
             500 + k % 1000);
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
  spy_print(db, "raw", shuffled, n);
  written = wchar_now() - written;
  cpu = cpu_now() - cpu;
  return took;
}

int main(int argc, char **argv) {
  char db[512], raw[512];
  struct rusage ru;
  const char *trees = getenv("RECOUP_BENCH_TREES");
  if (argc < 4) {
    fprintf(stderr, "usage: %s INSTITUTION WORK N...\n", argv[0]);
    return 2;
  }
  const char *statements = getenv("RECOUP_BENCH_STATEMENTS");
  if (trees && strcmp(trees, "1") == 0) spy_install();
  if (statements && strcmp(statements, "1") == 0) stmt_install();
  snprintf(db, sizeof db, "%s/sweep.db", argv[2]);
  snprintf(raw, sizeof raw, "%s/raw.db", argv[2]);
  for (int i = 3; i < argc; i++) {
    /* "s100000": 100,000 cases coming due in shuffled order. */
    int shuffled = argv[i][0] == 's';
    int n = atoi(argv[i] + shuffled);
    const char *tag = shuffled ? "_shuffled" : "";
    double r = recoup_sweep(argv[1], db, n, shuffled);
    long long rb = written;
    double rc = cpu;
    double w = raw_sweep(raw, n, shuffled);
    long long wb = written;
    double wc = cpu;
    double f = schema_sweep(argv[1], db, n, shuffled);
    long long fb = written;
    double fc = cpu;
    /* the frames or statements are printed, the times not figures */
    if (spy_base || stmt_tracing) continue;
    printf("sweep%s_steps_per_s_%d %.0f steps/s\n", tag, n, n / r);
    printf("raw%s_steps_per_s_%d %.0f steps/s\n", tag, n, n / w);
    printf("sweep%s_ratio_%d %.2f recoup/raw\n", tag, n, (n / r) / (n / w));
    printf("schema%s_steps_per_s_%d %.0f steps/s\n", tag, n, n / f);
    printf("schema%s_ratio_%d %.2f schema/raw\n", tag, n, (n / f) / (n / w));
    printf("runtime%s_ratio_%d %.2f recoup/schema\n", tag, n,
           (n / r) / (n / f));
    /* Written a step, WAL and checkpoints together (0: not measured). */
    printf("sweep%s_kb_per_step_%d %.2f KB\n", tag, n,
           rb < 0 ? 0 : rb / 1024.0 / n);
    printf("raw%s_kb_per_step_%d %.2f KB\n", tag, n,
           wb < 0 ? 0 : wb / 1024.0 / n);
    printf("schema%s_kb_per_step_%d %.2f KB\n", tag, n,
           fb < 0 ? 0 : fb / 1024.0 / n);
    printf("sweep%s_cpu_us_per_step_%d %.1f us\n", tag, n, rc * 1e6 / n);
    printf("raw%s_cpu_us_per_step_%d %.1f us\n", tag, n, wc * 1e6 / n);
    printf("schema%s_cpu_us_per_step_%d %.1f us\n", tag, n, fc * 1e6 / n);
    printf("sweep%s_cpu_ratio_%d %.2f raw/recoup CPU\n", tag, n, wc / rc);
    fflush(stdout);
  }
  getrusage(RUSAGE_SELF, &ru);
  printf("sweep_rss_mb %.1f MB\n", ru.ru_maxrss / 1024.0);
  rm_db(db);
  rm_db(raw);
  return 0;
}
