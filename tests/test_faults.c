/* Reads that fail must fail closed. A VFS wrapped around SQLite's own
 * fails one chosen read of the database or its WAL, in one of two ways:
 * SQLITE_IOERR_READ (after which SQLite rolls the open transaction back by
 * itself), or a short read that leaves the page zeroed (SQLite finds the
 * page corrupt, an error that leaves the transaction open, and keeps the
 * zeroed page in that connection's cache). Each test repeats its work on a
 * fresh copy of one database with the failure moved one read further each
 * time (read 1, 2, 3, ... until the work no longer reaches the chosen
 * read), the way SQLite's own I/O error tests sweep; each copy is opened
 * anew, so its cache is cold and every page the work needs comes through
 * the VFS. What a failed run left is read on a new connection.
 *
 * Whatever read fails: no contact goes out past the guard's cap, a run
 * that answers OK has fired every due timer (and the timer fires once the
 * fault is gone), an unreadable timer page is an error and not "no timer
 * pending", a read route does not answer 2xx, and the report does not
 * read zero. With the readers as they were (failures read as "nothing
 * found", no check that SQLite had rolled the transaction back), every
 * test here but the timer sweep fails; the sweep passes either way, since
 * the commit meets the same failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "recoup/engine.h"
#include "recoup/http.h"
#include "recoup/outbox.h"
#include "report.h"
#include "service.h"
#include "store/fault.h"

#define FAULTS FIXTURES "/faults"
#define START "2026-03-02T10:00:00Z"

/* --- the fault-injecting VFS ------------------------------------------ */

enum { IOERR, ZEROED };

static struct {
  int mode;     /* IOERR or ZEROED */
  int armed;    /* count reads only while armed */
  long reads;   /* reads counted since armed */
  long fail_at; /* the read that fails (1-based), or 0 and: */
  long page;    /* the first read of this database page fails */
  int page_size;
  int fired; /* that read was reached and failed */
  int shm;   /* the shared-memory index cannot be mapped (ulimit -v) */
} fault;

/* A power cut: what a file holds on the disk is what it held at its
 * last xSync (or when it was opened); every write since is lost. Files
 * whose path begins with `book` keep a copy of that (path + ".synced"),
 * taken at each xSync; power_cut builds a book from those copies. */
static struct {
  char book[300]; /* "" when off */
  long syncs;     /* xSync calls on those files */
  int fail_syncs; /* xSync on those files fails (a disk gone bad) */
} power;

typedef struct fault_file {
  sqlite3_file base;
  int main_db;        /* the database file itself (not its WAL) */
  char synced[340];   /* "": not watched for a power cut */
  sqlite3_file *real; /* follows this struct in the same allocation */
} fault_file;

static void copy_file(const char *from, const char *to);

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;

#define REAL(f) (((fault_file *)(f))->real)

static int f_close(sqlite3_file *f) {
  return REAL(f)->pMethods->xClose(REAL(f));
}
static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
  int chosen =
      fault.page ? ((fault_file *)f)->main_db && !fault.fired &&
                       off == (fault.page - 1) * (sqlite3_int64)fault.page_size
                 : fault.reads + 1 == fault.fail_at;
  if (fault.armed) fault.reads++;
  if (fault.armed && chosen) {
    fault.fired = 1;
    if (fault.mode == IOERR) return SQLITE_IOERR_READ;
    memset(buf, 0, (size_t)n);
    return SQLITE_IOERR_SHORT_READ;
  }
  return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
  return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size) {
  return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags) {
  fault_file *p = (fault_file *)f;
  int rc;
  if (p->synced[0] && power.fail_syncs) return SQLITE_IOERR_FSYNC;
  rc = REAL(f)->pMethods->xSync(REAL(f), flags);
  if (rc == SQLITE_OK && p->synced[0]) {
    char path[340];
    snprintf(path, sizeof path, "%.*s", (int)(strlen(p->synced) - 7),
             p->synced);
    copy_file(path, p->synced);
    power.syncs++;
  }
  return rc;
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size) {
  return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int lock) {
  return REAL(f)->pMethods->xLock(REAL(f), lock);
}
static int f_unlock(sqlite3_file *f, int lock) {
  return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}
static int f_reserved(sqlite3_file *f, int *out) {
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_control(sqlite3_file *f, int op, void *arg) {
  return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f) {
  return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_device(sqlite3_file *f) {
  return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shm_map(sqlite3_file *f, int page, int size, int extend,
                     void volatile **out) {
  if (fault.shm) return SQLITE_IOERR_SHMMAP; /* as unix's mmap failing */
  return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}
static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
  return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void f_shm_barrier(sqlite3_file *f) {
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shm_unmap(sqlite3_file *f, int del) {
  return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

/* Version 2: shared memory for the WAL, no memory-mapped reads (every
 * page comes through xRead). */
static const sqlite3_io_methods fault_io = {
    2,        f_close,   f_read,     f_write,       f_truncate,  f_sync,
    f_size,   f_lock,    f_unlock,   f_reserved,    f_control,   f_sector,
    f_device, f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, NULL,
    NULL};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                  int flags, int *out) {
  fault_file *p = (fault_file *)f;
  int rc;
  (void)vfs;
  p->real = (sqlite3_file *)&p[1];
  p->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
  p->synced[0] = '\0';
  if (power.book[0] && name &&
      strncmp(name, power.book, strlen(power.book)) == 0) {
    /* What was there at the open is on the disk (a clean close before). */
    snprintf(p->synced, sizeof p->synced, "%s.synced", name);
    copy_file(name, p->synced);
  }
  rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out);
  p->base.pMethods = p->real->pMethods ? &fault_io : NULL;
  return rc;
}

static void install_vfs(void) {
  real_vfs = sqlite3_vfs_find(NULL);
  fault_vfs = *real_vfs;
  fault_vfs.iVersion = real_vfs->iVersion;
  fault_vfs.szOsFile = (int)sizeof(fault_file) + real_vfs->szOsFile;
  fault_vfs.zName = "fault";
  fault_vfs.xOpen = v_open;
  assert_int_equal(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
}

static void arm(int mode, long at) {
  fault.mode = mode;
  fault.page = 0;
  fault.armed = 1;
  fault.reads = 0;
  fault.fail_at = at;
  fault.fired = 0;
}

/* Fails the first read of the page that holds `table`'s b-tree in the
 * seed (and so in a fresh copy of it). */
static void arm_table(int mode, const char *seed_db, const char *table) {
  sqlite3 *db;
  sqlite3_stmt *s;
  char sql[200];
  assert_int_equal(sqlite3_open_v2(seed_db, &db, SQLITE_OPEN_READONLY, NULL),
                   SQLITE_OK);
  snprintf(sql, sizeof sql,
           "SELECT rootpage, (SELECT page_size FROM pragma_page_size)"
           " FROM sqlite_master WHERE type = 'table' AND name = '%s'",
           table);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  arm(mode, 0);
  fault.page = sqlite3_column_int64(s, 0);
  fault.page_size = sqlite3_column_int(s, 1);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

static void disarm(void) {
  fault.armed = 0;
}

/* --- databases ---------------------------------------------------------- */

static char dir[] = "/tmp/recoup-faults-XXXXXX";
static char seed[300], copy[300];

static engine *open_db(const char *db) {
  engine_options opts = {.dir = FAULTS, .db = db, .simulated = 1, .quiet = 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  rc_time t;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    fail_msg("cannot open the faults fixture");
  }
  rc_errlist_free(&errors);
  assert_int_equal(clock_parse_time(engine_clock(eng), START, &t, NULL), RC_OK);
  clock_set(engine_clock(eng), t);
  return eng;
}

static void copy_file(const char *from, const char *to) {
  char buf[65536];
  size_t n;
  FILE *in = fopen(from, "rb"), *out;
  unlink(to);
  if (!in) return; /* no WAL left: nothing to copy */
  out = fopen(to, "wb");
  assert_non_null(out);
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  fclose(out);
}

/* A fresh copy of the seed database, opened cold. */
static engine *open_copy(void) {
  char from[320], to[320];
  copy_file(seed, copy);
  snprintf(from, sizeof from, "%s-wal", seed);
  snprintf(to, sizeof to, "%s-wal", copy);
  copy_file(from, to);
  snprintf(to, sizeof to, "%s-shm", copy);
  unlink(to);
  return open_db(copy);
}

/* The copy again, on a new connection: a zeroed page stays in the old
 * one's cache, as it would in a service until it restarts. */
static engine *reopen_copy(engine *eng) {
  engine_close(eng);
  return open_db(copy);
}

/* Re-runs a case the failure left in error, as an operator would. */
static void retry_if_failed(engine *eng) {
  store_case c;
  rc_error err;
  if (query_case(engine_query(eng), "C1", &c, &err) != RC_OK)
    fail_msg("case: %s", err.message);
  if (c.error && engine_retry(eng, "C1", &err) != RC_OK)
    fail_msg("retry: %s", err.message);
  store_case_free(&c);
}

static void open_case(engine *eng, const char *id) {
  char text[512];
  json_t *j;
  rc_error err;
  snprintf(text, sizeof text,
           "{\"id\": \"%s\", \"balance\": 1000, \"amount_due\": 500,"
           " \"due_date\": \"2026-03-01\", \"borrower\": {\"id\": \"B1\","
           " \"name\": \"Ann\", \"phones\": [\"+15550100\"]}}",
           id);
  j = json_loads(text, 0, NULL);
  assert_non_null(j);
  if (engine_upsert_case(eng, j, 0, NULL, &err) != RC_OK)
    fail_msg("open %s: %s", id, err.message);
  json_decref(j);
}

static void post(engine *eng, const char *id, const char *type) {
  rc_error err;
  if (engine_post(eng, id, type, NULL, NULL, NULL, &err) != RC_OK)
    fail_msg("post %s: %s", type, err.message);
}

static void run_now(engine *eng) {
  rc_error err;
  if (engine_run(eng, clock_now(engine_clock(eng)), NULL, &err) != RC_OK)
    fail_msg("run: %s", err.message);
}

/* The seed: borrower B1 with case C1 (its `go` timer due in a day) and
 * two messages sent today, the cap; `queued` says what else waits. */
static void make_seed(const char *queued) {
  engine *eng;
  snprintf(seed, sizeof seed, "%s/seed.db", dir);
  snprintf(copy, sizeof copy, "%s/copy.db", dir);
  unlink(seed);
  eng = open_db(seed);
  open_case(eng, "C1");
  post(eng, "C1", "nudge");
  post(eng, "C1", "nudge");
  run_now(eng);
  if (queued) post(eng, "C1", queued);
  engine_close(eng);
}

/* --- row counting ----------------------------------------------------- */

typedef struct tally {
  const char *column, *value;
  int n;
} tally;

static int count_where(void *ud, const store_value *cols, int n) {
  tally *t = ud;
  for (int i = 0; i < n; i++)
    if (!strcmp(cols[i].name, t->column) && cols[i].type == STORE_TEXT &&
        !strcmp(cols[i].s, t->value))
      t->n++;
  return 0;
}

static int messages_with_status(engine *eng, const char *status) {
  tally t = {"status", status, 0};
  rc_error err;
  if (query_messages(engine_query(eng), "C1", count_where, &t, &err) != RC_OK)
    fail_msg("messages: %s", err.message);
  return t.n;
}

static const char *state_of(engine *eng, char *buf, size_t size) {
  store_case c;
  rc_error err;
  if (query_case(engine_query(eng), "C1", &c, &err) != RC_OK)
    fail_msg("case: %s", err.message);
  snprintf(buf, size, "%s", c.state);
  store_case_free(&c);
  return buf;
}

/* --- the guard -------------------------------------------------------- */

/* B1 has had both messages the day allows; a third `nudge` asks for one
 * more. If any read fails — the contact count among them — the event
 * fails and nothing is queued; run again without the fault, the guard
 * counts and defers it. Before reads returned their errors, a failed count
 * read as zero contacts and the message was queued. */
static void guard_sweep(int mode) {
  long at;
  int fired_in_run = 0;
  make_seed("nudge");
  for (at = 1;; at++) {
    engine *eng = open_copy();
    rc_error err;
    int rc;
    arm(mode, at);
    rc = engine_run(eng, clock_now(engine_clock(eng)), NULL, &err);
    disarm();
    if (!fault.fired) {
      assert_int_equal(rc, RC_OK);
      assert_int_equal(messages_with_status(eng, "queued"), 2);
      assert_int_equal(messages_with_status(eng, "deferred"), 1);
      engine_close(eng);
      break;
    }
    fired_in_run++;
    eng = reopen_copy(eng); /* what the run left, on a clean connection */
    if (messages_with_status(eng, "queued") != 2)
      fail_msg(
          "read %ld failed and a message past the cap was queued "
          "(run: %s)",
          at, rc == RC_OK ? "ok" : err.message);
    /* The fault is gone: the guard counts and defers it to tomorrow. */
    retry_if_failed(eng);
    run_now(eng);
    assert_int_equal(messages_with_status(eng, "queued"), 2);
    assert_int_equal(messages_with_status(eng, "deferred"), 1);
    engine_close(eng);
  }
  assert_true(fired_in_run > 3); /* the sweep reached reads inside the run */
}

static void test_no_contact_goes_out_when_the_guard_cannot_count(void **state) {
  (void)state;
  guard_sweep(IOERR);
  guard_sweep(ZEROED);
}

/* The same at the operations table (store/fault.c), for any backend: the
 * n-th store operation of the run fails, n = 1, 2, 3, ... until the run
 * no longer reaches it. Whichever fails — the count of contacts, the
 * case's read, the claim, the journal, the commit — no message past the
 * cap is queued, and once the fault is gone the guard defers it. */
static void test_no_contact_goes_out_when_any_store_operation_fails(
    void **state) {
  long at, fired = 0;
  (void)state;
  make_seed("nudge");
  store_fault_install(1);
  for (at = 0;; at++) {
    engine *eng = open_copy();
    rc_error err;
    int rc;
    store_fault_arm(NULL, at, 0);
    rc = engine_run(eng, clock_now(engine_clock(eng)), NULL, &err);
    if (!store_fault_disarm()) {
      assert_int_equal(rc, RC_OK);
      assert_int_equal(messages_with_status(eng, "queued"), 2);
      assert_int_equal(messages_with_status(eng, "deferred"), 1);
      engine_close(eng);
      break;
    }
    fired++;
    eng = reopen_copy(eng);
    if (messages_with_status(eng, "queued") != 2)
      fail_msg("operation %ld failed and a message past the cap was queued",
               at + 1);
    retry_if_failed(eng);
    run_now(eng);
    assert_int_equal(messages_with_status(eng, "queued"), 2);
    assert_int_equal(messages_with_status(eng, "deferred"), 1);
    engine_close(eng);
  }
  store_fault_install(0);
  assert_true(fired > 10); /* the sweep went through the whole event */
}

/* The guard's own read failing every time: the event fails, nothing is
 * queued, and the case says why. */
static void test_the_guard_fails_closed_when_it_cannot_count(void **state) {
  engine *eng;
  rc_error err;
  store_case c;
  (void)state;
  make_seed("nudge");
  store_fault_install(1);
  eng = open_copy();
  store_fault_arm("contact_times", 0, 1);
  assert_int_equal(engine_run(eng, clock_now(engine_clock(eng)), NULL, &err),
                   RC_OK);
  assert_true(store_fault_disarm() > 0);
  store_fault_install(0);
  assert_int_equal(messages_with_status(eng, "queued"), 2);
  assert_int_equal(messages_with_status(eng, "deferred"), 0);
  assert_int_equal(query_case(engine_query(eng), "C1", &c, &err), RC_OK);
  assert_non_null(c.error);
  assert_non_null(strstr(c.error, "injected fault"));
  store_case_free(&c);
  engine_close(eng);
}

/* --- timers ------------------------------------------------------------ */

/* C1's timer is due a day after START. A run that answers RC_OK has fired
 * it, whatever read failed; a run that did not fire it says why; and
 * once the fault is gone the timer fires. Before, a failed read of the
 * next due time ended the run as if nothing were due. */
static void timer_sweep(int mode) {
  long at;
  char buf[64];
  make_seed(NULL);
  for (at = 1;; at++) {
    engine *eng = open_copy();
    rc_time until = clock_now(engine_clock(eng)) + 2 * 86400000LL;
    rc_error err;
    int rc;
    arm(mode, at);
    rc = engine_run(eng, until, NULL, &err);
    disarm();
    eng = reopen_copy(eng); /* what the run left, on a clean connection */
    if (rc == RC_OK && strcmp(state_of(eng, buf, sizeof buf), "done") != 0)
      fail_msg(
          "read %ld failed and the run ended as if idle, the timer "
          "still pending",
          at);
    if (rc != RC_OK) {
      assert_true(fault.fired);
      retry_if_failed(eng);
      if (engine_run(eng, until, NULL, &err) != RC_OK)
        fail_msg("read %ld: the run after the fault failed: %s", at,
                 err.message);
    }
    assert_string_equal(state_of(eng, buf, sizeof buf), "done");
    engine_close(eng);
    if (!fault.fired) break;
  }
}

/* The page of the timers themselves, zeroed. The service asks for the
 * next due time between runs to arm its wake-up: an unreadable page is an
 * error there, not "no timer pending" (before, it slept a minute as if
 * idle). A run that meets it fails, and the timer fires once the page
 * reads again. */
static void test_the_timers_page_unreadable_is_an_error(void **state) {
  engine *eng;
  rc_error err;
  char buf[64];
  int rc;
  rc_time until, due;
  (void)state;
  make_seed(NULL);
  eng = open_copy();
  until = clock_now(engine_clock(eng)) + 2 * 86400000LL;
  arm_table(ZEROED, seed, "timers");
  rc = engine_next_due(eng, &due, &err);
  disarm();
  assert_true(fault.fired);
  if (rc == RC_ENOTFOUND)
    fail_msg("the timers could not be read and the engine said none pending");
  assert_int_equal(rc, RC_ESTORE);
  eng = reopen_copy(eng);
  arm_table(ZEROED, seed, "timers");
  rc = engine_run(eng, until, NULL, &err);
  disarm();
  assert_true(fault.fired);
  eng = reopen_copy(eng);
  if (rc == RC_OK && strcmp(state_of(eng, buf, sizeof buf), "done") != 0)
    fail_msg("the timers could not be read and the run ended as if idle");
  assert_int_not_equal(rc, RC_OK);
  assert_int_equal(engine_run(eng, until, NULL, &err), RC_OK);
  assert_string_equal(state_of(eng, buf, sizeof buf), "done");
  engine_close(eng);
}

/* Under `ulimit -v` the WAL's shared-memory index may not map: SQLite
 * calls that a disk I/O error (5386), and so did recoup; it is memory. */
static void test_an_index_that_cannot_be_mapped_is_told_as_memory(
    void **state) {
  engine_options opts = {.dir = FAULTS, .simulated = 1, .quiet = 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  int rc;
  (void)state;
  make_seed(NULL);
  copy_file(seed, copy);
  opts.db = copy;
  fault.shm = 1;
  rc = engine_open(&eng, &opts, &errors);
  fault.shm = 0;
  if (rc == RC_OK) {
    engine_close(eng);
    fail_msg("the book opened without its shared-memory index");
  }
  assert_true(errors.count > 0);
  if (!strstr(errors.items[0].message, "shared-memory index") ||
      !strstr(errors.items[0].message, "not a disk fault"))
    fail_msg("told as: %s", errors.items[0].message);
  rc_errlist_free(&errors);
}

static void test_a_failed_timer_read_is_an_error_not_idleness(void **state) {
  (void)state;
  timer_sweep(IOERR);
  timer_sweep(ZEROED);
}

/* --- routes ------------------------------------------------------------ */

/* Answers one GET in process; returns the status class (2 for 2xx...). */
static int get(service *svc, const char *path) {
  char text[512];
  http_limits limits = {.body_limit = 1 << 20,
                        .header_limit = 8192,
                        .url_limit = 2048,
                        .max_connections = 10,
                        .max_per_address = 10,
                        .idle_timeout_ms = 1000,
                        .header_timeout_ms = 1000,
                        .request_timeout_ms = 1000};
  http_request *req = NULL;
  int64_t before[5], cls = -1;
  int route;
  char arg[256];
  snprintf(text, sizeof text,
           "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin\r\n\r\n",
           path);
  assert_int_equal(http_parse_one(text, strlen(text), &limits, &req), 0);
  req->conn = NULL; /* parsed without a socket: the answer goes nowhere */
  route = api_route(req->method, req->path, arg, sizeof arg);
  assert_true(route >= 0);
  memcpy(before, svc->requests[route], sizeof before);
  api_handle(svc, req); /* answered at once: reads are not jobs */
  for (int k = 0; k < 5; k++)
    if (svc->requests[route][k] != before[k]) cls = k + 2;
  return (int)cls;
}

static void sweep_route(int mode, const char *path) {
  long at;
  int answered_5xx = 0;
  for (at = 1;; at++) {
    engine *eng = open_copy();
    uv_loop_t loop;
    rc_error err;
    service svc;
    int cls;
    memset(&svc, 0, sizeof svc);
    uv_loop_init(&loop);
    svc.loop = &loop;
    svc.eng = eng;
    snprintf(svc.tokens[3], sizeof svc.tokens[3], "admin");
    assert_int_equal(outbox_open(&svc.ob, eng, &loop, &err), RC_OK);
    arm(mode, at);
    cls = get(&svc, path);
    disarm();
    outbox_close(svc.ob);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    engine_close(eng);
    if (!fault.fired) {
      assert_int_equal(cls, 2);
      break;
    }
    if (cls != 5)
      fail_msg("GET %s: read %ld failed and the answer was %dxx", path, at,
               cls);
    answered_5xx++;
  }
  assert_true(answered_5xx > 0);
}

static void test_a_read_route_answers_5xx_when_a_read_fails(void **state) {
  static const char *const paths[] = {
      "/v1/cases?state=waiting", "/v1/cases/C1",        "/v1/cases/C1/journal",
      "/v1/tasks?status=open",   "/v1/reports/summary", "/metrics"};
  (void)state;
  make_seed(NULL);
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    sweep_route(IOERR, paths[i]);
    sweep_route(ZEROED, paths[i]);
  }
}

/* --- the report -------------------------------------------------------- */

/* Every figure is read or the report fails: a failed read of the
 * payments is not "nothing recovered". */
static void report_sweep(int mode) {
  long at;
  int failed = 0;
  make_seed(NULL);
  for (at = 1;; at++) {
    engine *eng = open_copy();
    json_t *r = NULL;
    rc_error err;
    int rc;
    arm(mode, at);
    rc = report_build(eng, &r, &err);
    disarm();
    if (!fault.fired) {
      assert_int_equal(rc, RC_OK);
      assert_int_equal(json_integer_value(json_object_get(r, "cases")), 1);
      json_decref(r);
      engine_close(eng);
      break;
    }
    if (rc == RC_OK)
      fail_msg("read %ld failed and the report was built anyway", at);
    assert_null(r);
    failed++;
    engine_close(eng);
  }
  assert_true(failed > 0);
}

static void test_report_figures_fail_instead_of_reading_zero(void **state) {
  (void)state;
  report_sweep(IOERR);
  report_sweep(ZEROED);
}

/* --- a power cut ------------------------------------------------------- */

static char power_dir[320], gate[340];

/* The faults workflow with its channel a gateway command that appends
 * what it is handed to `gate`, a line a message: sent is sent, whatever
 * the book says. */
static void power_setup(void) {
  char from[400], to[400], line[512], cmd[420];
  FILE *in, *out;
  snprintf(power_dir, sizeof power_dir, "%s/power", dir);
  snprintf(gate, sizeof gate, "%s/gate.jsonl", power_dir);
  snprintf(cmd, sizeof cmd, "mkdir -p %s/var", power_dir);
  assert_int_equal(system(cmd), 0);
  snprintf(from, sizeof from, "%s/recoup.lua", FAULTS);
  snprintf(to, sizeof to, "%s/recoup.lua", power_dir);
  in = fopen(from, "r");
  out = fopen(to, "w");
  assert_non_null(in);
  assert_non_null(out);
  while (fgets(line, sizeof line, in))
    if (strstr(line, "channel \"sms\""))
      fprintf(out,
              "channel \"sms\" { driver = \"exec\","
              " command = { \"/bin/sh\", \"-c\", \"cat >> %s; echo >> %s\" } }\n",
              gate, gate);
    else
      fputs(line, out);
  fclose(in);
  fclose(out);
}

static engine *power_open(const char *db) {
  engine_options opts = {.dir = power_dir, .db = db, .quiet = 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    fail_msg("cannot open %s", db);
  }
  rc_errlist_free(&errors);
  return eng;
}

/* The book as the disk holds it after a power cut now, copied to `to`. */
static void power_cut(const char *to) {
  char from[400], side[400];
  snprintf(from, sizeof from, "%s.synced", power.book);
  copy_file(from, to);
  snprintf(from, sizeof from, "%s-wal.synced", power.book);
  snprintf(side, sizeof side, "%s-wal", to);
  copy_file(from, side);
  snprintf(side, sizeof side, "%s-shm", to);
  unlink(side);
}

/* One number read from a book the power cut left (its own connection). */
static long long scalar(const char *db, const char *sql) {
  sqlite3 *h;
  sqlite3_stmt *s;
  long long v;
  /* SQLite's own VFS: a read is no open to watch for the cut. */
  assert_int_equal(
      sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, real_vfs->zName),
      SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(h);
  return v;
}

static void assert_consistent(const char *db) {
  sqlite3 *h;
  sqlite3_stmt *s;
  assert_int_equal(
      sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, real_vfs->zName),
      SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1, &s, NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
  sqlite3_finalize(s);
  sqlite3_close(h);
}

static long gate_lines(void) {
  char line[2048];
  long n = 0;
  FILE *f = fopen(gate, "r");
  if (!f) return 0;
  while (fgets(line, sizeof line, f)) n++;
  fclose(f);
  return n;
}

/* A sweep's batch commits without an fsync; an acknowledged write and a
 * message handed to the gateway are on the disk before anyone hears of
 * them; a batch the cut took back runs again, its message written once. */
static void test_a_power_cut_loses_nothing_acknowledged(void **state) {
  char cut1[400], cut2[400];
  engine *eng, *after;
  int64_t steps = 0;
  int more = 0;
  long synced;
  uv_loop_t loop;
  outbox *ob;
  rc_error err;
  (void)state;
  power_setup();
  snprintf(power.book, sizeof power.book, "%s/book.db", power_dir);
  snprintf(cut1, sizeof cut1, "%s/cut1.db", power_dir);
  snprintf(cut2, sizeof cut2, "%s/cut2.db", power_dir);
  eng = power_open(power.book);
  open_case(eng, "C1");
  run_now(eng); /* its `go` timer set, a day away */
  engine_close(eng);

  eng = power_open(power.book);
  /* Acknowledged: a payment and an event, as an HTTP write's answer. */
  assert_int_equal(engine_pay(eng, "C1", 300, "P1", 0, NULL, &err), RC_OK);
  post(eng, "C1", "nudge");
  synced = power.syncs;
  assert_int_equal(engine_run_some(eng, clock_now(engine_clock(eng)), 1000,
                                   &steps, &more, &err),
                   RC_OK);
  assert_true(steps >= 2); /* the payment's event and the nudge */
  assert_int_equal(power.syncs, synced); /* the batch waited for no disk */
  assert_int_equal(scalar(power.book, "SELECT count(*) FROM messages"), 1);

  power_cut(cut1);
  assert_consistent(cut1);
  assert_int_equal(scalar(cut1, "SELECT count(*) FROM payments"), 1);
  assert_int_equal(scalar(cut1, "SELECT balance FROM cases"), 700);
  assert_int_equal(scalar(cut1, "SELECT count(*) FROM messages"), 0);
  assert_int_equal(scalar(cut1, "SELECT count(*) FROM events"), 2);
  after = power_open(cut1); /* the batch the cut took back runs again */
  run_now(after);
  engine_close(after);
  assert_int_equal(scalar(cut1, "SELECT count(*) FROM messages"), 1);
  assert_int_equal(scalar(cut1, "SELECT count(*) FROM events"), 0);

  /* The message goes to the gateway: its batch is on the disk first. */
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(outbox_open(&ob, eng, &loop, &err), RC_OK);
  synced = power.syncs;
  assert_int_equal(outbox_pump(ob, &err), 1);
  assert_int_equal(power.syncs, synced + 1);
  power_cut(cut2);
  /* The record of the send waits for no disk. */
  synced = power.syncs;
  assert_int_equal(outbox_drain(ob, &err), RC_OK);
  assert_int_equal(power.syncs, synced);
  /* A turn of the service: a slice, then a payment's commit, one fsync. */
  post(eng, "C1", "nudge");
  synced = power.syncs;
  assert_int_equal(engine_run_some(eng, clock_now(engine_clock(eng)), 1000,
                                   &steps, &more, &err),
                   RC_OK);
  assert_int_equal(engine_pay(eng, "C1", 100, "P2", 0, NULL, &err), RC_OK);
  assert_int_equal(power.syncs, synced + 1);
  outbox_close(ob);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  engine_close(eng);
  power.book[0] = '\0';
  assert_int_equal(gate_lines(), 1);
  assert_consistent(cut2);
  assert_int_equal(scalar(cut2, "SELECT count(*) FROM messages"), 1);
  assert_int_equal(scalar(cut2, "SELECT count(*) FROM events"), 0);
  assert_int_equal(scalar(cut2, "SELECT count(*) FROM payments"), 1);
}

/* A book watched for a power cut (power_cut copies it to `cut`). */
static engine *power_book(const char *name, char *cut, size_t size) {
  power_setup();
  snprintf(power.book, sizeof power.book, "%s/book-%s.db", power_dir, name);
  snprintf(cut, size, "%s/cut-%s.db", power_dir, name);
  return power_open(power.book);
}

/* A slice of the service's sweep: its commits left unsynced. */
static int64_t slice(engine *eng) {
  int64_t steps = 0;
  int more = 0;
  rc_error err;
  assert_int_equal(engine_run_some(eng, clock_now(engine_clock(eng)), 1000,
                                   &steps, &more, &err),
                   RC_OK);
  return steps;
}

/* A journal is read by row id (`after`, `next`): a consumer that was
 * answered rows of a sweep's unsynced batch would, after a power cut,
 * never ask for the rows that take those ids again (a payment's, the
 * batch worked out anew). The answer waits for the disk. */
static void test_a_journal_page_read_is_on_the_disk_first(void **state) {
  /* The task list and the outbox are paged by row id too. */
  static const char *const paths[] = {"/v1/cases/C1/journal", "/v1/tasks",
                                      "/v1/outbox"};
  char cut[400];
  engine *eng;
  long long rows;
  uv_loop_t loop;
  service svc;
  rc_error err;
  (void)state;
  eng = power_book("read", cut, sizeof cut);
  open_case(eng, "C1");
  run_now(eng);
  memset(&svc, 0, sizeof svc);
  assert_int_equal(uv_loop_init(&loop), 0);
  svc.loop = &loop;
  svc.eng = eng;
  snprintf(svc.tokens[3], sizeof svc.tokens[3], "admin");
  assert_int_equal(outbox_open(&svc.ob, eng, &loop, &err), RC_OK);
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    post(eng, "C1", "nudge");
    assert_true(slice(eng) >= 1);
    rows = scalar(power.book, "SELECT count(*) FROM journal");
    assert_int_equal(get(&svc, paths[i]), 2);
    power_cut(cut);
    assert_consistent(cut);
    if (scalar(cut, "SELECT count(*) FROM journal") != rows)
      fail_msg("GET %s answered before the disk held the sweep's rows",
               paths[i]);
  }
  outbox_close(svc.ob);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  engine_close(eng);
  power.book[0] = '\0';
}

/* A sweep's batch a power cut took back is worked out again once: the
 * same journal rows, messages and figures as had it not been cut. */
static void test_a_batch_the_cut_took_back_runs_again_once(void **state) {
  static const char *const figures =
      "SELECT (SELECT coalesce(sum(messages), 0) FROM figures_messages) * "
      "1000000 + (SELECT coalesce(sum(n), 0) FROM figures_days)";
  char cut[400];
  engine *eng;
  long long journal, messages, figured;
  (void)state;
  eng = power_book("again", cut, sizeof cut);
  open_case(eng, "C1");
  open_case(eng, "C2");
  run_now(eng);
  post(eng, "C1", "nudge");
  post(eng, "C2", "nudge");
  assert_int_equal(slice(eng), 2);
  power_cut(cut);
  journal = scalar(power.book, "SELECT count(*) FROM journal");
  messages = scalar(power.book, "SELECT count(*) FROM messages");
  figured = scalar(power.book, figures);
  engine_close(eng);
  power.book[0] = '\0';
  assert_int_equal(messages, 2);
  assert_int_equal(scalar(cut, "SELECT count(*) FROM events"), 2);
  assert_int_equal(scalar(cut, "SELECT count(*) FROM messages"), 0);

  eng = power_open(cut);
  run_now(eng);
  engine_close(eng);
  assert_int_equal(scalar(cut, "SELECT count(*) FROM events"), 0);
  assert_int_equal(scalar(cut, "SELECT count(*) FROM journal"), journal);
  assert_int_equal(scalar(cut, "SELECT count(*) FROM messages"), messages);
  assert_int_equal(scalar(cut, figures), figured);
}

/* The idempotency key of the line a gateway was handed (`n`th, from 1). */
static void gate_key(int n, char *key, size_t size) {
  char line[2048];
  json_t *j;
  FILE *f = fopen(gate, "r");
  assert_non_null(f);
  for (int i = 0; i < n; i++) assert_non_null(fgets(line, sizeof line, f));
  fclose(f);
  j = json_loads(line, 0, NULL);
  assert_non_null(j);
  snprintf(key, size, "%s",
           json_string_value(json_object_get(j, "idempotency_key")));
  json_decref(j);
}

/* A case opened and nudged, its message written by a sweep's slice. */
static void nudged(engine *eng, const char *id) {
  open_case(eng, id);
  run_now(eng);
  post(eng, id, "nudge");
  assert_int_equal(slice(eng), 1);
}

/* The one waiting message handed to the gateway and its send recorded;
 * the book cut to `cut` (when given) just after the record. */
static void deliver_one(engine *eng, const char *cut) {
  uv_loop_t loop;
  outbox *ob;
  rc_error err;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(outbox_open(&ob, eng, &loop, &err), RC_OK);
  assert_int_equal(outbox_pump(ob, &err), 1);
  assert_int_equal(outbox_drain(ob, &err), RC_OK);
  if (cut) power_cut(cut);
  outbox_close(ob);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

/* A send's record is left unsynced: a power cut that takes it back has
 * the message handed over again with the same idempotency key (as a
 * crash between the send and the record would), never lost, and the
 * next acknowledged write makes the record durable. */
static void test_a_send_the_cut_forgot_goes_again_with_its_key(void **state) {
  static const char *const sent =
      "SELECT count(*) FROM messages WHERE status = 'sent'";
  char cut[400], first[128], again[128];
  engine *eng;
  rc_error err;
  (void)state;
  eng = power_book("send", cut, sizeof cut);
  unlink(gate);
  nudged(eng, "C1");
  deliver_one(eng, NULL);
  assert_int_equal(scalar(power.book, sent), 1);
  /* An acknowledged write after it: the record is durable with it. */
  assert_int_equal(engine_pay(eng, "C1", 100, "P1", 0, NULL, &err), RC_OK);
  power_cut(cut);
  assert_int_equal(scalar(cut, sent), 1);
  engine_close(eng);
  power.book[0] = '\0';
  assert_int_equal(gate_lines(), 1);

  /* Cut before any later write: the record is gone, the message goes
   * again with the key it had. */
  eng = power_book("send2", cut, sizeof cut);
  nudged(eng, "C2");
  deliver_one(eng, cut);
  engine_close(eng);
  power.book[0] = '\0';
  assert_int_equal(gate_lines(), 2);
  assert_int_equal(
      scalar(cut, "SELECT count(*) FROM messages WHERE status = 'queued'"), 1);
  eng = power_open(cut);
  deliver_one(eng, NULL);
  engine_close(eng);
  assert_int_equal(gate_lines(), 3);
  gate_key(2, first, sizeof first);
  gate_key(3, again, sizeof again);
  assert_string_equal(first, again);
  assert_int_equal(scalar(cut, sent), 1);
}

/* `recoup tick --deliver` ends with its sends' records unsynced: the
 * command must sync them and say so when the disk refuses, not exit 0
 * and leave them to a close that cannot report. */
static void test_a_sync_the_disk_refuses_is_an_error(void **state) {
  char cut[400];
  engine *eng;
  rc_error err;
  (void)state;
  eng = power_book("refused", cut, sizeof cut);
  unlink(gate);
  nudged(eng, "C1");
  deliver_one(eng, NULL);
  power.fail_syncs = 1;
  rc_error_clear(&err);
  assert_int_equal(engine_sync(eng, &err), RC_ESTORE);
  assert_non_null(strstr(err.message, "could not be synced"));
  power.fail_syncs = 0;
  assert_int_equal(engine_sync(eng, &err), RC_OK);
  power_cut(cut);
  assert_int_equal(
      scalar(cut, "SELECT count(*) FROM messages WHERE status = 'sent'"), 1);
  engine_close(eng);
  power.book[0] = '\0';
}

/* A message the guard held back (deferred, blocked, cancelled) was never
 * handed to a gateway: a receipt for it names the wrong message and is
 * refused, and the message still goes out when its time comes, instead
 * of being settled as delivered and never sent. */
static void test_a_receipt_for_a_message_never_sent_is_refused(void **state) {
  static const char *const deferred =
      "SELECT count(*) FROM messages WHERE id = 3 AND status = 'deferred'";
  engine *eng;
  int dup = -1;
  rc_error err;
  (void)state;
  make_seed("nudge"); /* a third message: over the cap, deferred */
  eng = open_copy();
  run_now(eng);
  assert_int_equal(scalar(copy, deferred), 1);
  assert_int_equal(engine_receipt(eng, 3, "delivered", &dup, &err),
                   RC_ECONFLICT);
  assert_string_equal(err.field, "message");
  assert_non_null(strstr(err.message, "never sent"));
  assert_int_equal(engine_receipt(eng, 3, "failed", &dup, &err), RC_ECONFLICT);
  engine_close(eng);
  assert_int_equal(scalar(copy, deferred), 1);
  assert_int_equal(scalar(copy, "SELECT count(*) FROM events"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_power_cut_loses_nothing_acknowledged),
      cmocka_unit_test(test_a_journal_page_read_is_on_the_disk_first),
      cmocka_unit_test(test_a_batch_the_cut_took_back_runs_again_once),
      cmocka_unit_test(test_a_send_the_cut_forgot_goes_again_with_its_key),
      cmocka_unit_test(test_a_sync_the_disk_refuses_is_an_error),
      cmocka_unit_test(test_a_receipt_for_a_message_never_sent_is_refused),
      cmocka_unit_test(test_no_contact_goes_out_when_the_guard_cannot_count),
      cmocka_unit_test(test_no_contact_goes_out_when_any_store_operation_fails),
      cmocka_unit_test(test_the_guard_fails_closed_when_it_cannot_count),
      cmocka_unit_test(test_a_failed_timer_read_is_an_error_not_idleness),
      cmocka_unit_test(test_the_timers_page_unreadable_is_an_error),
      cmocka_unit_test(test_a_read_route_answers_5xx_when_a_read_fails),
      cmocka_unit_test(test_report_figures_fail_instead_of_reading_zero),
      cmocka_unit_test(test_an_index_that_cannot_be_mapped_is_told_as_memory),
  };
  char path[320];
  engine *eng;
  int failed;
  assert_non_null(mkdtemp(dir));
  /* The first engine configures SQLite (allocator, threading); the VFS
   * goes in after, as the default for every database opened later. */
  snprintf(path, sizeof path, "%s/first.db", dir);
  eng = open_db(path);
  engine_close(eng);
  install_vfs();
  failed = cmocka_run_group_tests(tests, NULL, NULL);
  snprintf(path, sizeof path, "rm -rf %s", dir);
  if (system(path) != 0) fprintf(stderr, "cannot remove %s\n", dir);
  return failed;
}
