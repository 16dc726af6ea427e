/* `recoup tick` over 100,000 due timers, killed with SIGKILL halfway and
 * run again: the journal must show every transition exactly once, no timer
 * may be left or lost, and the database must pass its integrity check.
 *
 * usage: test_tick_kill RECOUP INSTITUTION_DIR WORK_DIR */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

enum { CASES = 100000 };

static int run(char *const argv[]) {
  pid_t pid = fork();
  int status;
  if (pid == 0) {
    execv(argv[0], argv);
    _exit(127);
  }
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static long long scalar(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s;
  long long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) return -1;
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
  char csv[1024], db[1024];
  FILE *f;
  sqlite3 *conn;
  pid_t pid;
  int status, killed = 0;
  long long seen = 0;
  if (argc != 4) {
    fprintf(stderr, "usage: %s RECOUP DIR WORK\n", argv[0]);
    return 2;
  }
  mkdir(argv[3], 0700);
  snprintf(csv, sizeof csv, "%s/cases.csv", argv[3]);
  snprintf(db, sizeof db, "%s/tick.db", argv[3]);
  unlink(db);
  f = fopen(csv, "w");
  fprintf(f, "id,borrower_id,balance,amount_due,due_date\n");
  for (int i = 0; i < CASES; i++)
    fprintf(f, "C%06d,B%06d,%d,%d,2026-01-01\n", i, i, 1000 + i, 1000 + i);
  fclose(f);

  {
    char *imp[] = {argv[1], "import",           csv, argv[2], "--db", db,
                   "--now", "2026-01-01T00:00", NULL};
    if (run(imp) != 0) {
      fprintf(stderr, "import failed\n");
      return 1;
    }
  }
  /* Tick two days ahead: every case's one-day timer is due. */
  pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", 1);
    dup2(null, 1);
    execl(argv[1], argv[1], "tick", argv[2], "--db", db, "--now",
          "2026-01-03T00:00", (char *)NULL);
    _exit(127);
  }
  sqlite3_open_v2(db, &conn, SQLITE_OPEN_READONLY, NULL);
  sqlite3_busy_timeout(conn, 1000);
  for (int i = 0; i < 20000; i++) {
    if (waitpid(pid, &status, WNOHANG) == pid) break;
    seen = scalar(conn, "SELECT count(*) FROM journal WHERE kind='transition'");
    if (seen >= CASES / 3) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      killed = 1;
      break;
    }
    sleep_ms(5);
  }
  sqlite3_close(conn);
  printf("tick: killed=%d after %lld of %d transitions\n", killed, seen, CASES);
  if (!killed) {
    fprintf(stderr, "tick finished before it could be killed\n");
    return 1;
  }
  {
    char *again[] = {
        argv[1], "tick", argv[2], "--db", db, "--now", "2026-01-03T00:00",
        NULL};
    if (run(again) != 0) {
      fprintf(stderr, "second tick failed\n");
      return 1;
    }
  }
  sqlite3_open(db, &conn);
  {
    long long transitions =
        scalar(conn, "SELECT count(*) FROM journal WHERE kind='transition'");
    long long twice =
        scalar(conn,
               "SELECT count(*) FROM (SELECT case_id FROM journal WHERE "
               "kind='transition' GROUP BY case_id HAVING count(*) != 1)");
    long long done =
        scalar(conn, "SELECT count(*) FROM cases WHERE state='done'");
    long long timers = scalar(conn, "SELECT count(*) FROM timers");
    long long events = scalar(conn, "SELECT count(*) FROM events");
    sqlite3_stmt *s;
    const char *check = "?";
    sqlite3_prepare_v2(conn, "PRAGMA integrity_check", -1, &s, NULL);
    if (sqlite3_step(s) == SQLITE_ROW)
      check = (const char *)sqlite3_column_text(s, 0);
    printf(
        "transitions=%lld not-exactly-once=%lld done=%lld timers=%lld "
        "events=%lld integrity=%s\n",
        transitions, twice, done, timers, events, check);
    if (transitions != CASES || twice != 0 || done != CASES || timers != 0 ||
        events != 0 || strcmp(check, "ok") != 0) {
      sqlite3_finalize(s);
      sqlite3_close(conn);
      return 1;
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(conn);
  unlink(csv);
  printf("1 passed, 0 failed\n");
  return 0;
}
