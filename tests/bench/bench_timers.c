/* Timer scale: a database holding N pending timers, made directly with
 * SQLite in recoup's schema. The benchmark script then starts the service
 * on it and measures start-up time and memory: only the next due timer is
 * armed, nothing is loaded. This program also prints how long arming
 * takes (finding the next due timer among N, as the service does after
 * every batch), cold on a fresh open and warm.
 *
 * usage: bench_timers INSTITUTION DB N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "recoup/engine.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  engine_options opts;
  rc_errlist errors = {0};
  engine *eng;
  sqlite3 *s;
  sqlite3_stmt *ins;
  long n;
  if (argc != 4) return 2;
  n = atol(argv[3]);
  unlink(argv[2]);
  memset(&opts, 0, sizeof opts);
  opts.dir = argv[1];
  opts.db = argv[2];
  if (engine_open(&eng, &opts, &errors) != RC_OK) return 1; /* the schema */
  engine_close(eng);
  if (sqlite3_open(argv[2], &s) != SQLITE_OK) return 1;
  sqlite3_exec(s,
               "PRAGMA synchronous = OFF; BEGIN;"
               "INSERT INTO borrowers(id, name) VALUES ('B', 'Bench');"
               "INSERT INTO cases(id, borrower_id, workflow, version, state, "
               "currency, balance, opened_at) VALUES ('C0000000', 'B', "
               "'sweep', 1, 'due', 'CNY', 100, 0);",
               NULL, NULL, NULL);
  if (sqlite3_prepare_v2(s,
                         "INSERT INTO timers(due, id, case_id, event, scoped) "
                         "VALUES (?1, ?2, 'C0000000', 'remind', 1)",
                         -1, &ins, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench_timers: %s\n", sqlite3_errmsg(s));
    return 1;
  }
  /* Due over the next year: none now, so start-up only arms the next. */
  for (long i = 0; i < n; i++) {
    sqlite3_bind_int64(ins, 1, 4102444800000LL + (i * 7919) % 31536000000LL);
    sqlite3_bind_int64(ins, 2, i + 1);
    if (sqlite3_step(ins) != SQLITE_DONE) {
      fprintf(stderr, "bench_timers: %s\n", sqlite3_errmsg(s));
      return 1;
    }
    sqlite3_reset(ins);
  }
  sqlite3_finalize(ins);
  sqlite3_exec(s, "COMMIT; PRAGMA wal_checkpoint(TRUNCATE);", NULL, NULL, NULL);
  sqlite3_close(s);
  {
    const int warm = 10000;
    rc_time due = 0;
    double t0, cold, t1;
    if (engine_open(&eng, &opts, &errors) != RC_OK) return 1;
    t0 = now_s();
    if (engine_next_due(eng, &due, NULL) != RC_OK) return 1;
    cold = now_s() - t0;
    t1 = now_s();
    for (int i = 0; i < warm; i++) engine_next_due(eng, &due, NULL);
    printf("timers_10m_arm_cold_us %.1f us\n", cold * 1e6);
    printf("timers_10m_arm_us %.2f us\n", (now_s() - t1) / warm * 1e6);
    engine_close(eng);
  }
  return 0;
}
