/* Crash safety: the real service under a stream of acknowledged writes
 * (cases, payments, events, task completions), SIGKILLed at random points
 * again and again and restarted; then every acknowledged write must be
 * there exactly once, every case's state explained by its journal, no
 * timer lost, no message lost or doubled, and the database intact.
 *
 * With a postgresql:// URL as the fourth argument the service runs on that
 * (empty) PostgreSQL database instead, and the checks read it there: the
 * same checks, in PostgreSQL's SQL, but the file's integrity check (the
 * server keeps its own). The last life there starts after the claims the
 * killed lives had committed are freed, as their leases' end (5 minutes)
 * would free them.
 *
 * usage: test_crash RECOUP WORK_DIR [KILLS [POSTGRESQL_URL]] */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>
#ifdef CRASH_PG
#include <libpq-fe.h>
#endif

static const char *recoup_bin;
static char dir[512], db[600];
static int port;
static pid_t server;
static unsigned seed = 20260105;

static unsigned rnd(unsigned n) {
  seed = seed * 1103515245u + 12345u;
  return (seed >> 8) % n;
}

static void write_institution(void) {
  char path[700];
  FILE *f;
  snprintf(path, sizeof path, "%s/recoup.lua", dir);
  f = fopen(path, "w");
  fputs(
      "institution { name = 'Crash', timezone = 'UTC', currency = 'USD' }\n"
      "channel 'sms' { driver = 'file', path = 'sms.jsonl' }\n"
      "tokens { ingest = 'env:T_INGEST', agent = 'env:T_AGENT' }\n"
      "templates { hello = { sms = 'Hello {borrower.name}' } }\n"
      "workflow(recoup.workflow { name = 'crash', version = 1, initial = "
      "'new',\n"
      "  states = {\n"
      "    new = { enter = function(case) case:send('sms', 'hello')\n"
      "                                   case:after('1s', 'step') end,\n"
      "            on = { step = function() return 'stepped' end } },\n"
      "    stepped = { enter = function(case) case:task('call', { queue = "
      "'q' }) end,\n"
      "                on = { task_done = function(case, ev) case:set('done',"
      " ev.outcome) end } },\n"
      "    paid = { final = true } },\n"
      "  transitions = { new = { 'stepped', 'paid' }, stepped = { 'paid' } "
      "},\n"
      "  on = { payment = function(case) if case.balance <= 0 then return "
      "'paid' end end } })\n",
      f);
  fclose(f);
}

static void start(void) {
  int out[2];
  char line[256] = "";
  FILE *f;
  if (pipe(out) != 0) exit(2);
  server = fork();
  if (server == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(out[1], 1);
    dup2(null, 2);
    close(out[0]);
    setenv("T_INGEST", "i", 1);
    setenv("T_AGENT", "a", 1);
    execl(recoup_bin, recoup_bin, "serve", dir, "--listen", "127.0.0.1:0",
          "--db", db, (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  f = fdopen(out[0], "r");
  if (!fgets(line, sizeof line, f) ||
      sscanf(line, "listening on http://127.0.0.1:%d", &port) != 1) {
    fprintf(stderr, "the server did not start: %s\n", line);
    exit(1);
  }
  fclose(f);
}

static size_t sink(char *p, size_t s, size_t n, void *ud) {
  size_t len = s * n, *used = ((size_t *)ud);
  char *buf = (char *)(used + 1);
  if (*used + len < 4000) {
    memcpy(buf + *used, p, len);
    *used += len;
    buf[*used] = '\0';
  }
  return s * n;
}

/* 2xx: acknowledged. 0: no answer (the server died under it). */
static long post(const char *path, const char *token, const char *body,
                 char *reply) {
  char url[256], auth[64];
  struct {
    size_t used;
    char buf[4096];
  } r = {0, ""};
  struct curl_slist *h = NULL;
  long status = 0;
  CURL *c = curl_easy_init();
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  h = curl_slist_append(h, auth);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  if (curl_easy_perform(c) == CURLE_OK)
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (reply) snprintf(reply, 4096, "%s", r.buf);
  return status;
}

enum { MAX = 20000 };
static char acked_cases[MAX][16], acked_refs[MAX][16], acked_keys[MAX][16];
static int ncases, nrefs, nkeys, ntasks_done;
static long acked_tasks[MAX];
static int next_case, next_ref, next_key;

/* One random write; records it when acknowledged. 0 when the server is
 * gone. */
static int one_write(void) {
  char body[512], path[128], reply[4096];
  long st;
  unsigned what = rnd(10);
  if (what < 4 || ncases < 5) {
    char id[16];
    snprintf(id, sizeof id, "C%d", next_case++);
    snprintf(body, sizeof body,
             "{\"id\":\"%s\",\"balance\":1000,\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"B%s\","
             "\"name\":\"N\",\"phones\":[\"+15550100\"]}}",
             id, id);
    st = post("/v1/cases", "i", body, NULL);
    if (st == 201) snprintf(acked_cases[ncases++], 16, "%s", id);
  } else if (what < 7) {
    char ref[16];
    snprintf(ref, sizeof ref, "R%d", next_ref++);
    snprintf(body, sizeof body,
             "{\"case\":\"%s\",\"amount\":%u,\"ref\":\"%s\"}",
             acked_cases[rnd((unsigned)ncases)], 1 + rnd(50), ref);
    st = post("/v1/payments", "i", body, NULL);
    if (st == 201) snprintf(acked_refs[nrefs++], 16, "%s", ref);
    if (st == 422 || st == 200) st = 201; /* over the balance, or closed */
  } else if (what < 9) {
    char key[16];
    snprintf(key, sizeof key, "K%d", next_key++);
    snprintf(path, sizeof path, "/v1/cases/%s/events",
             acked_cases[rnd((unsigned)ncases)]);
    snprintf(body, sizeof body, "{\"type\":\"poke\",\"key\":\"%s\"}", key);
    st = post(path, "i", body, NULL);
    if (st == 202) snprintf(acked_keys[nkeys++], 16, "%s", key);
  } else {
    /* Complete an open task, if the sweep made any. */
    char *p;
    long id;
    CURL *c = curl_easy_init();
    char url[128];
    struct {
      size_t used;
      char buf[4096];
    } r = {0, ""};
    struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer a");
    snprintf(url, sizeof url,
             "http://127.0.0.1:%d/v1/tasks?status=open&limit=1", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    st = curl_easy_perform(c) == CURLE_OK ? 200 : 0;
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (!st) return 0;
    if ((p = strstr(r.buf, "\"id\":")) == NULL) return 1;
    id = strtol(p + 5, NULL, 10);
    snprintf(path, sizeof path, "/v1/tasks/%ld/complete", id);
    st = post(path, "a", "{\"outcome\":\"reached\"}", reply);
    if (st == 200) acked_tasks[ntasks_done++] = id;
    if (st == 409) st = 200;
  }
  (void)reply;
  return st != 0;
}

/* The book the checks read: the SQLite file, or (CRASH_PG) the
 * PostgreSQL database. */
static sqlite3 *s;
#ifdef CRASH_PG
static PGconn *pgc;
#endif

static long long scalar(const char *sql) {
  sqlite3_stmt *st;
  long long v = -1;
#ifdef CRASH_PG
  if (pgc) {
    PGresult *r = PQexec(pgc, sql);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
      v = atoll(PQgetvalue(r, 0, 0));
    else
      fprintf(stderr, "bad query %s: %s\n", sql, PQerrorMessage(pgc));
    PQclear(r);
    return v;
  }
#endif
  if (sqlite3_prepare_v2(s, sql, -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "bad query %s: %s\n", sql, sqlite3_errmsg(s));
    return -1;
  }
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static long long count_where(const char *fmt, const char *arg) {
  char sql[512];
  snprintf(sql, sizeof sql, fmt, arg);
  return scalar(sql);
}

/* A statement without rows; 0 when it failed. */
static int run(const char *sql) {
#ifdef CRASH_PG
  if (pgc) {
    PGresult *r = PQexec(pgc, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "%s: %s\n", sql, PQerrorMessage(pgc));
    PQclear(r);
    return ok;
  }
#endif
  return sqlite3_exec(s, sql, NULL, NULL, NULL) == SQLITE_OK;
}

/* A key of the outbox file into the temporary table seen. */
static void seen_add(const char *key) {
  static sqlite3_stmt *ins;
#ifdef CRASH_PG
  if (pgc) {
    const char *params[1] = {key};
    if (!key) return;
    PQclear(PQexecParams(pgc, "INSERT INTO seen VALUES ($1)", 1, NULL, params,
                         NULL, NULL, 0));
    return;
  }
#endif
  if (!key) {
    sqlite3_finalize(ins);
    ins = NULL;
    return;
  }
  if (!ins) sqlite3_prepare_v2(s, "INSERT INTO seen VALUES (?1)", -1, &ins, NULL);
  sqlite3_bind_text(ins, 1, key, -1, SQLITE_TRANSIENT);
  sqlite3_step(ins);
  sqlite3_reset(ins);
}

/* A detail's field, in the book's SQL. */
static const char *to_of(void) {
#ifdef CRASH_PG
  if (pgc) return "(j.detail::json ->> 'to')";
#endif
  return "json_extract(j.detail, '$.to')";
}

static const char *detail_to(void) {
#ifdef CRASH_PG
  if (pgc) return "(detail::json ->> 'to')";
#endif
  return "json_extract(detail, '$.to')";
}

int main(int argc, char **argv) {
  int kills = argc > 3 ? atoi(argv[3]) : 20, failed = 0;
  long long lost = 0, doubled = 0;
  const char *url = argc > 4 ? argv[4] : NULL;
  if (argc < 3) {
    fprintf(stderr, "usage: %s RECOUP WORK [KILLS]\n", argv[0]);
    return 2;
  }
  recoup_bin = argv[1];
  snprintf(dir, sizeof dir, "%s", argv[2]);
  mkdir(dir, 0700);
  snprintf(db, sizeof db, "%s/crash.db", dir);
  if (url) {
#ifdef CRASH_PG
    snprintf(db, sizeof db, "%s", url);
    if (!(pgc = PQconnectdb(url)) || PQstatus(pgc) != CONNECTION_OK) {
      fprintf(stderr, "cannot connect to %s\n", url);
      return 1;
    }
#else
    fprintf(stderr, "this test_crash was built without PostgreSQL\n");
    return 1;
#endif
  }
  {
    char f[700];
    unlink(db);
    snprintf(f, sizeof f, "%s-wal", db);
    unlink(f);
    snprintf(f, sizeof f, "%s/sms.jsonl", dir);
    unlink(f);
  }
  write_institution();
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  for (int k = 0; k < kills; k++) {
    int writes = 15 + (int)rnd(40);
    start();
    for (int w = 0; w < writes; w++)
      if (!one_write()) break;
    /* Now and then a life long enough for the timers: tasks appear, and
     * later lives complete them. */
    if (k % 4 == 3) {
      usleep(1300000);
      for (int w = 0; w < 10; w++)
        if (!one_write()) break;
    }
    /* Kill it in the middle of more writes, at a random moment. */
    {
      pid_t killer = fork();
      if (killer == 0) {
        struct timespec ts = {0, (long)(rnd(40) + 1) * 1000000L};
        nanosleep(&ts, NULL);
        kill(server, SIGKILL);
        _exit(0);
      }
      while (one_write()) {
      }
      waitpid(killer, NULL, 0);
      waitpid(server, NULL, 0);
    }
  }
  /* A last life: let the timers and the outbox catch up, then stop.
   * On PostgreSQL, what the killed lives had claimed and committed is
   * freed first, as the end of their leases would free it. */
#ifdef CRASH_PG
  if (pgc &&
      !run("UPDATE messages SET claimed_until = 0 WHERE claimed_by IS NOT "
           "NULL; UPDATE timers SET claimed_until = 0 WHERE claimed_by IS NOT "
           "NULL; UPDATE events SET claimed_until = 0 WHERE claimed_by IS NOT "
           "NULL"))
    return 1;
#endif
  start();
  sleep(url ? 8 : 3); /* PostgreSQL's round trips are slower */
  kill(server, SIGTERM);
  waitpid(server, NULL, 0);
  curl_global_cleanup();

  if (!url && sqlite3_open(db, &s) != SQLITE_OK) return 1;
  for (int i = 0; i < ncases; i++) {
    long long n = count_where("SELECT count(*) FROM cases WHERE id = '%s'",
                              acked_cases[i]);
    lost += n == 0;
  }
  for (int i = 0; i < nrefs; i++) {
    long long n = count_where("SELECT count(*) FROM payments WHERE ref = '%s'",
                              acked_refs[i]);
    lost += n == 0;
    doubled += n > 1;
  }
  for (int i = 0; i < nkeys; i++)
    lost += count_where("SELECT count(*) FROM event_keys WHERE key = '%s'",
                        acked_keys[i]) == 0;
  for (int i = 0; i < ntasks_done; i++) {
    char id[32];
    snprintf(id, sizeof id, "%ld", acked_tasks[i]);
    lost += count_where("SELECT count(*) FROM tasks WHERE id = %s AND "
                        "status = 'done'",
                        id) == 0;
  }
  {
    char sql[512];
    long long bad_balance = scalar(
        "SELECT count(*) FROM cases c WHERE c.balance <> 1000 - (SELECT "
        "coalesce(sum(amount), 0) FROM payments p WHERE p.case_id = c.id)");
    long long unexplained, twice;
    long long timerless = scalar(
        "SELECT count(*) FROM cases c WHERE c.state = 'new' AND c.error IS "
        "NULL AND NOT EXISTS (SELECT 1 FROM timers t WHERE t.case_id = c.id) "
        "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.case_id = c.id)");
    long long stuck = scalar("SELECT count(*) FROM timers WHERE due < "
                             "(SELECT max(at) FROM journal) - 5000");
    /* A hello the outbox came to after its case had moved on (a restart
     * later than its one-second step, a payment that closed it) is
     * cancelled, not lost: explained when its case did leave 'new'. */
    long long unsent = scalar(
        "SELECT count(*) FROM messages m WHERE status <> 'sent' AND NOT "
        "(status = 'cancelled' AND reason IN ('case_moved_on', "
        "'case_closed') AND (SELECT c.state FROM cases c WHERE c.id = "
        "m.case_id) <> 'new')");
    long long errors =
        scalar("SELECT count(*) FROM cases WHERE error IS NOT NULL");
    char check[64] = "ok";
    char path[700], line[4096];
    long long in_file = 0, file_dups = 0,
              sent = scalar("SELECT count(*) FROM messages WHERE status = "
                            "'sent'");
    FILE *f;
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM cases c WHERE c.state <> coalesce((SELECT "
             "%s FROM journal j WHERE j.case_id = c.id AND j.kind = "
             "'transition' ORDER BY j.id DESC LIMIT 1), 'new')",
             to_of());
    unexplained = scalar(sql);
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM (SELECT case_id FROM journal WHERE kind = "
             "'transition' AND %s = 'stepped' GROUP BY case_id HAVING "
             "count(*) > 1) x",
             detail_to());
    twice = scalar(sql);
    /* SQLite's file checked page by page; a PostgreSQL server keeps its
     * own. */
    if (!url) {
      sqlite3_stmt *st;
      sqlite3_prepare_v2(s, "PRAGMA integrity_check", -1, &st, NULL);
      if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(check, sizeof check, "%s", sqlite3_column_text(st, 0));
      sqlite3_finalize(st);
    }
    /* Every sent message is in the file; a key seen twice is one message
     * written again after a crash, which readers drop by its key. */
    snprintf(path, sizeof path, "%s/sms.jsonl", dir);
    f = fopen(path, "r");
    run("CREATE TEMP TABLE seen(key TEXT)");
    while (f && fgets(line, sizeof line, f)) {
      char *k = strstr(line, "\"idempotency_key\":\""), key[64];
      if (!k || sscanf(k + 19, "%63[^\"]", key) != 1) continue;
      seen_add(key);
      in_file++;
    }
    seen_add(NULL);
    if (f) fclose(f);
    file_dups = in_file - scalar("SELECT count(DISTINCT key) FROM seen");
    {
      long long missing =
          scalar("SELECT count(*) FROM messages m WHERE m.status = 'sent' AND "
                 "NOT EXISTS (SELECT 1 FROM seen WHERE key LIKE '%-' || m.id)");
      printf(
          "kills=%d acknowledged: cases=%d payments=%d events=%d tasks=%d\n"
          "lost=%lld duplicates=%lld wrong_balances=%lld "
          "unexplained_states=%lld timers_lost=%lld overdue_timers=%lld "
          "double_transitions=%lld\n"
          "messages sent=%lld unsent=%lld in_file=%lld "
          "rewritten_after_crash=%lld missing_from_file=%lld "
          "case_errors=%lld integrity=%s\n",
          kills, ncases, nrefs, nkeys, ntasks_done, lost, doubled, bad_balance,
          unexplained, timerless, stuck, twice, sent, unsent, in_file,
          file_dups, missing, errors, check);
      failed = lost || doubled || bad_balance || unexplained || timerless ||
               stuck || twice || unsent || missing || errors ||
               strcmp(check, "ok") != 0 || ncases < kills;
    }
  }
  if (s) sqlite3_close(s);
#ifdef CRASH_PG
  if (pgc) PQfinish(pgc);
#endif
  printf("%d passed, %d failed\n", !failed, failed);
  return failed;
}
