/* The `recoup` command. Errors are reported here, once, as
 * "recoup: FILE:LINE: message" with a non-zero exit status. */
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "recoup/engine.h"
#include "import.h"
#include "recoup/outbox.h"
#include "report.h"
#include "repl.h"

int serve_main(const char *dir, const char *db, const char *listen);
#include "spec.h"
#include "user.h"

typedef struct args {
  const char *cmd;
  const char *pos[16];
  int npos;
  const char *db, *now, *listen;
  int json, verbose, deliver, no_deliver;
} args;

static engine *running; /* for the signal handler of tick */

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out) {
  fputs(
      "usage: recoup COMMAND [ARGS]\n"
      "\n"
      "  serve   [DIR] [--listen HOST:PORT] [--db FILE]   run the service\n"
      "  repl    [DIR] [--db FILE]   Lua console on a scratch copy\n"
      "  test    [DIR|FILE...]       run *_test.lua specs\n"
      "  check   [DIR]               load and validate everything\n"
      "  import  FILE [DIR] [--db FILE] [--now TIME]   load a portfolio\n"
      "  tick    [DIR] [--db FILE] [--now TIME]   run due timers and events\n"
      "  report  [DIR] [--db FILE] [--json]   KPIs\n"
      "  retry   CASE [DIR] [--db FILE]   re-run a case's failed event\n"
      "  user    add|list|disable|enable|passwd ...   console users\n"
      "  version\n",
      out);
}

static int parse_args(int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  if (argc < 2) return -1;
  a->cmd = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *s = argv[i];
    const char **slot = NULL;
    if (strcmp(s, "--db") == 0)
      slot = &a->db;
    else if (strcmp(s, "--now") == 0)
      slot = &a->now;
    else if (strcmp(s, "--listen") == 0)
      slot = &a->listen;
    else if (strcmp(s, "--json") == 0)
      a->json = 1;
    else if (strcmp(s, "--deliver") == 0)
      a->deliver = 1;
    else if (strcmp(s, "--no-deliver") == 0)
      a->no_deliver = 1;
    else if (strcmp(s, "-v") == 0 || strcmp(s, "--verbose") == 0)
      a->verbose = 1;
    else if (s[0] == '-' && s[1] == '-') {
      fprintf(stderr, "recoup: unknown option %s\n", s);
      return -1;
    } else if (a->npos < 16)
      a->pos[a->npos++] = s;
    if (slot) {
      if (++i >= argc) {
        fprintf(stderr, "recoup: %s needs a value\n", s);
        return -1;
      }
      *slot = argv[i];
    }
  }
  return 0;
}

static void print_errors(const rc_errlist *errors) {
  for (int i = 0; i < errors->count; i++)
    rc_error_print(&errors->items[i], stderr);
}

/* Opens the institution in dir; a --now time puts the clock in simulation,
 * resuming from where the last simulated run of this database stopped. */
static engine *open_engine(const args *a, const char *dir, rc_time *until) {
  engine_options opts = {dir, a->db, 0, 0, 0};
  rc_errlist errors = {0};
  engine *eng = NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    print_errors(&errors);
    rc_errlist_free(&errors);
    return NULL;
  }
  if (until) *until = clock_now(engine_clock(eng));
  if (a->now) {
    rc_error err;
    rc_time t, last;
    char buf[32];
    int rc;
    if (clock_parse_time(engine_clock(eng), a->now, &t, &err) != RC_OK) {
      rc_error_print(&err, stderr);
      engine_close(eng);
      return NULL;
    }
    rc = query_meta(engine_query(eng), "clock", buf, sizeof buf, &err);
    if (rc != RC_OK && rc != RC_ENOTFOUND) {
      rc_error_print(&err, stderr);
      engine_close(eng);
      return NULL;
    }
    last = rc == RC_OK ? strtoll(buf, NULL, 10) : t;
    clock_set(engine_clock(eng), last < t ? last : t);
    if (until) *until = t;
  }
  return eng;
}

/* Hands every message due now to its channel. A simulation (--now) sends
 * nothing unless --deliver says so: rehearsing a month must not text real
 * borrowers. */
static int deliver(engine *eng, const args *a) {
  uv_loop_t loop;
  outbox *ob;
  rc_error err;
  int rc;
  if (a->no_deliver || (a->now && !a->deliver)) return 0;
  uv_loop_init(&loop);
  if ((rc = outbox_open(&ob, eng, &loop, &err)) == RC_OK) {
    rc = outbox_drain(ob, &err);
    {
      const outbox_stats *st = outbox_get_stats(ob);
      if (st->sent || st->retried || st->failed)
        printf("outbox: %lld sent, %lld to retry, %lld failed\n",
               (long long)st->sent, (long long)st->retried,
               (long long)st->failed);
    }
    outbox_close(ob);
  }
  uv_run(&loop, UV_RUN_DEFAULT); /* let closed handles go */
  uv_loop_close(&loop);
  if (rc != RC_OK) {
    rc_error_print(&err, stderr);
    return 1;
  }
  return 0;
}

/* The simulated clock a --now run ended at: the next run starts there. */
static int save_clock(engine *eng, const args *a, rc_time t) {
  char buf[32];
  rc_error err;
  if (!a->now) return RC_OK;
  snprintf(buf, sizeof buf, "%lld", (long long)t);
  if (engine_meta_put(eng, "clock", buf, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    return err.code;
  }
  return RC_OK;
}

static int cmd_check(const args *a) {
  const char *dir = a->npos ? a->pos[0] : ".";
  engine_options opts = {dir, ":memory:", 1, 0, 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    print_errors(&errors);
    fprintf(stderr, "recoup: %d problem%s in %s\n", errors.count,
            errors.count == 1 ? "" : "s", dir);
    rc_errlist_free(&errors);
    return 1;
  }
  {
    const institution_config *cfg = script_config(engine_script(eng));
    printf("%s: ok (%s, %s, %d workflow%s)\n", dir, cfg->name, cfg->timezone,
           cfg->nworkflows, cfg->nworkflows == 1 ? "" : "s");
  }
  engine_close(eng);
  return 0;
}

static int cmd_import(const args *a) {
  const char *file, *dir;
  engine *eng;
  import_stats stats;
  rc_errlist errors = {0};
  rc_error err;
  int64_t steps = 0;
  rc_time until;
  double t0, t1, t2;
  if (a->npos < 1) {
    fprintf(stderr, "recoup: import needs a FILE\n");
    return 2;
  }
  file = a->pos[0];
  dir = a->npos > 1 ? a->pos[1] : ".";
  if (!(eng = open_engine(a, dir, &until))) return 1;
  if (a->now) clock_set(engine_clock(eng), until);
  t0 = seconds();
  if (import_file(eng, file, &stats, &errors, isatty(2)) != RC_OK) {
    print_errors(&errors);
    fprintf(stderr, "recoup: %s refused: nothing was imported\n", file);
    rc_errlist_free(&errors);
    engine_close(eng);
    return 1;
  }
  t1 = seconds();
  /* Run the `opened` and `updated` handlers; timers wait for tick. */
  if (engine_run(eng, 0, &steps, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    return 1;
  }
  if (save_clock(eng, a, until) != RC_OK || deliver(eng, a) != 0) {
    engine_close(eng);
    return 1;
  }
  t2 = seconds();
  printf(
      "imported %lld rows from %s in %.2fs: %lld opened, %lld updated; "
      "%lld events handled in %.2fs, %lld handler errors\n",
      (long long)stats.rows, file, t1 - t0, (long long)stats.opened,
      (long long)stats.updated, (long long)steps, t2 - t1,
      (long long)engine_get_stats(eng)->errors);
  engine_close(eng);
  return 0;
}

static void show_progress(void *ud, int64_t steps) {
  (void)ud;
  if (steps % 50000 < 1000)
    fprintf(stderr, "\rtick: %lld events", (long long)steps);
}

static void on_signal(int sig) {
  (void)sig;
  if (running) engine_interrupt(running);
}

static int cmd_tick(const args *a) {
  const char *dir = a->npos ? a->pos[0] : ".";
  engine *eng;
  rc_error err;
  rc_time until;
  int64_t steps = 0;
  const engine_stats *st;
  double t0;
  if (!(eng = open_engine(a, dir, &until))) return 1;
  running = eng;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (isatty(2)) engine_set_progress(eng, show_progress, NULL);
  t0 = seconds();
  if (engine_run(eng, until, &steps, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    return 1;
  }
  if (isatty(2)) fprintf(stderr, "\r");
  if (save_clock(eng, a, until) != RC_OK || deliver(eng, a) != 0) {
    engine_close(eng);
    return 1;
  }
  st = engine_get_stats(eng);
  printf(
      "tick: %lld events handled in %.2fs (%lld timers fired, %lld "
      "transitions, %lld handler errors)\n",
      (long long)steps, seconds() - t0, (long long)st->timers_fired,
      (long long)st->transitions, (long long)st->errors);
  running = NULL;
  engine_close(eng);
  return 0;
}

static int cmd_retry(const args *a) {
  engine *eng;
  rc_error err;
  int64_t steps = 0;
  store_case c;
  if (a->npos < 1) {
    fprintf(stderr, "recoup: retry needs a CASE\n");
    return 2;
  }
  if (!(eng = open_engine(a, a->npos > 1 ? a->pos[1] : ".", NULL))) return 1;
  if (engine_retry(eng, a->pos[0], &err) != RC_OK ||
      engine_run(eng, 0, &steps, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    return 1;
  }
  if (query_case(engine_query(eng), a->pos[0], &c, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    return 1;
  }
  if (c.error)
    printf("case %s failed again: %s\n", c.id, c.error);
  else
    printf("case %s retried: now in %s (%lld events)\n", c.id, c.state,
           (long long)steps);
  store_case_free(&c);
  engine_close(eng);
  return 0;
}

static int cmd_report(const args *a) {
  engine *eng;
  rc_error err;
  json_t *r;
  rc_time until;
  if (!(eng = open_engine(a, a->npos ? a->pos[0] : ".", &until))) return 1;
  if (a->now) {
    clock_set(engine_clock(eng), until);
  } else {
    /* A database driven by simulated time reports as of that time. */
    char buf[32];
    int rc = query_meta(engine_query(eng), "clock", buf, sizeof buf, &err);
    if (rc == RC_OK) clock_set(engine_clock(eng), strtoll(buf, NULL, 10));
    if (rc != RC_OK && rc != RC_ENOTFOUND) {
      rc_error_print(&err, stderr);
      engine_close(eng);
      return 1;
    }
  }
  if (report_build(eng, &r, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    return 1;
  }
  if (a->json) {
    char *text = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(text);
    free(text);
  } else {
    report_print(eng, r, stdout);
  }
  json_decref(r);
  engine_close(eng);
  return 0;
}

int main(int argc, char **argv) {
  args a;
  if (argc > 1 && strcmp(argv[1], "user") == 0)
    return user_main(argc - 1, argv + 1);
  if (parse_args(argc, argv, &a) != 0) {
    usage(stderr);
    return 2;
  }
  if (strcmp(a.cmd, "version") == 0 || strcmp(a.cmd, "--version") == 0) {
    printf("recoup %s\n", RECOUP_VERSION);
    return 0;
  }
  if (strcmp(a.cmd, "help") == 0 || strcmp(a.cmd, "--help") == 0 ||
      strcmp(a.cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(a.cmd, "test") == 0)
    return spec_main(a.npos, (char **)a.pos, a.verbose);
  if (strcmp(a.cmd, "check") == 0) return cmd_check(&a);
  if (strcmp(a.cmd, "import") == 0) return cmd_import(&a);
  if (strcmp(a.cmd, "tick") == 0) return cmd_tick(&a);
  if (strcmp(a.cmd, "retry") == 0) return cmd_retry(&a);
  if (strcmp(a.cmd, "report") == 0) return cmd_report(&a);
  if (strcmp(a.cmd, "serve") == 0)
    return serve_main(a.npos ? a.pos[0] : ".", a.db, a.listen);
  if (strcmp(a.cmd, "repl") == 0)
    return repl_main(a.npos ? a.pos[0] : ".", a.db, NULL);
  fprintf(stderr, "recoup: unknown command '%s'\n", a.cmd);
  usage(stderr);
  return 2;
}
