/* The `recoup` command. Errors are reported here, once, as
 * "recoup: FILE:LINE: message" on stderr. Exit status: 0 done, 1 failed
 * (refused input, a handler failed, the database refused), 2 a wrong
 * command line. */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "backup.h"
#include "import.h"
#include "migrate_store.h"
#include "recoup/engine.h"
#include "recoup/outbox.h"
#include "recoup/query.h"
#include "repl.h"
#include "report.h"
#include "serve.h"
#include "simulate.h"
#include "spec.h"
#include "textwidth.h"
#include "store/where.h"
#include "user.h"

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* Options, a bit each: a command lists those it takes. */
enum {
  O_DB = 1 << 0,
  O_NOW = 1 << 1,
  O_LISTEN = 1 << 2,
  O_JSON = 1 << 3,
  O_DELIVER = 1 << 4,
  O_NO_DELIVER = 1 << 5,
  O_VERBOSE = 1 << 6,
  O_ALL = 1 << 7,
  O_REAL_TIME = 1 << 8,
  O_HELP = 1 << 9,
  O_DIRECT = 1 << 10,
};

static const struct option {
  const char *name;
  int bit, takes_value;
} options[] = {
    {"--db", O_DB, 1},           {"--now", O_NOW, 1},
    {"--listen", O_LISTEN, 1},   {"--json", O_JSON, 0},
    {"--deliver", O_DELIVER, 0}, {"--no-deliver", O_NO_DELIVER, 0},
    {"--verbose", O_VERBOSE, 0}, {"-v", O_VERBOSE, 0},
    {"--all", O_ALL, 0},         {"--real-time", O_REAL_TIME, 0},
    {"--help", O_HELP, 0},       {"-h", O_HELP, 0},
    {"--direct", O_DIRECT, 0},
};
enum { NOPTIONS = sizeof options / sizeof options[0] };

typedef struct command command;

typedef struct args {
  const command *cmd;
  const char **pos; /* owned array; the strings are argv's */
  int npos;
  int given; /* O_* bits */
  const char *db, *now, *listen;
} args;

struct command {
  const char *name;
  int (*run)(const args *a);
  int options;          /* O_* bits it takes */
  int min_pos, max_pos; /* max -1: any number */
  const char *synopsis, *what;
};

static int cmd_serve(const args *a);
static int cmd_repl(const args *a);
static int cmd_test(const args *a);
static int cmd_check(const args *a);
static int cmd_import(const args *a);
static int cmd_tick(const args *a);
static int cmd_report(const args *a);
static int cmd_errors(const args *a);
static int cmd_retry(const args *a);
static int cmd_version(const args *a);
static int cmd_help(const args *a);
static int cmd_backup(const args *a);
static int cmd_restore(const args *a);
static int cmd_migrate_store(const args *a);

#define RUNS_CLOCK (O_DB | O_NOW | O_DELIVER | O_NO_DELIVER | O_REAL_TIME)

static const command commands[] = {
    {"serve", cmd_serve, O_DB | O_LISTEN | O_REAL_TIME, 0, 1,
     "[DIR] [--db FILE] [--listen HOST:PORT] [--real-time]",
     "the service (docs/http.md)"},
    {"repl", cmd_repl, O_DB, 0, 1, "[DIR] [--db FILE]",
     "Lua console on a scratch copy"},
    {"test", cmd_test, O_VERBOSE | O_DB, 0, -1,
     "[DIR|FILE...] [-v] [--db postgresql://...]",
     "run *_test.lua specs; -v: each test, and tracebacks;\n"
     "          --db: on scratch schemas of a PostgreSQL database"},
    {"check", cmd_check, O_DB, 0, 1, "[DIR] [--db FILE]",
     "load and validate everything; name what the book holds that\n"
     "          today's input refuses or the sweep cannot run"},
    {"import", cmd_import, RUNS_CLOCK, 1, 2,
     "FILE [DIR] [--db FILE] [--now TIME] [--deliver|--no-deliver]\n"
     "          [--real-time]",
     "load a portfolio (CSV or NDJSON) and run its handlers"},
    {"tick", cmd_tick, RUNS_CLOCK, 0, 1,
     "[DIR] [--db FILE] [--now TIME] [--deliver|--no-deliver] [--real-time]",
     "run due timers and queued events, then deliver"},
    {"report", cmd_report, O_DB | O_NOW | O_JSON, 0, 1,
     "[DIR] [--db FILE] [--now TIME] [--json]", "KPIs"},
    {"errors", cmd_errors, O_DB | O_JSON | O_ALL, 0, 1,
     "[DIR] [--db FILE] [--all] [--json]",
     "cases in error by error, the newest first; --all: each case"},
    {"retry", cmd_retry, O_DB | O_ALL, 0, -1,
     "CASE... [DIR] [--db FILE]  |  retry --all [DIR] [--db FILE]",
     "re-run the failed events of cases in error"},
    {"backup", cmd_backup, O_DB | O_JSON | O_DIRECT, 1, 2,
     "DEST [DIR] [--db FILE] [--json] [--direct]",
     "a checked copy of the database, also while a service runs\n"
     "          (it asks the service; docs/operations.md)"},
    {"restore", cmd_restore, O_DB | O_JSON, 1, 2,
     "SRC [DIR] [--db FILE] [--json]",
     "check a backup and put it in place of the database (no service\n"
     "          may hold it)"},
    {"migrate-store", cmd_migrate_store, 0, 2, 2, "FROM TO",
     "move the whole book from one database to a new one (a file or\n"
     "          postgresql://...), checked by counts and money; no service\n"
     "          may hold either (docs/operations.md)"},
    {"version", cmd_version, 0, 0, 0, "", "print the version"},
    {"help", cmd_help, 0, 0, 0, "", "this text"},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static engine *running; /* for the signal handler of tick */
static volatile sig_atomic_t interrupted;

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out) {
  fputs("usage: recoup COMMAND [ARGS]\n\n", out);
  for (int i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-*s%s%s\n          %s\n", commands[i].synopsis[0] ? 8 : 0,
            commands[i].name,
            commands[i].synopsis[0] && strlen(commands[i].name) >= 8 ? " " : "",
            commands[i].synopsis, commands[i].what);
  fputs(
      "  user    add|list|disable|enable|passwd ...\n"
      "          console users (recoup user --help)\n"
      "  simulate [DIR] --db FILE [--against DIR2] [--days N] [--seed N]\n"
      "          [--runs N] [--json FILE] [--html FILE]\n"
      "          what-if: a strategy on copies of the book (docs/simulate.md)\n"
      "\n"
      "  DIR           the institution (recoup.lua); default .\n"
      "  --db FILE     the database; default service.db in recoup.lua\n"
      "  --now TIME    a rehearsal: a simulated clock up to TIME (a date,\n"
      "                date-time or duration), going on from where the\n"
      "                database's last rehearsal stopped, never back; it\n"
      "                delivers nothing unless --deliver\n"
      "  --real-time   put a database that has rehearsed on the real clock\n"
      "                for good (it then delivers to real borrowers)\n"
      "  --no-deliver  leave the outbox for later\n"
      "\n"
      "exit status: 0 done; 1 failed (refused input, a handler failed, the\n"
      "database refused); 2 a wrong command line\n",
      out);
}

/* Prints a message as an error ("recoup: ..."), printable whatever bytes
 * the user or a script gave. */
static void vsay(const char *fmt, va_list ap) {
  rc_error err;
  rc_error_clear(&err);
  vsnprintf(err.message, sizeof err.message, fmt, ap);
  rc_error_print(&err, stderr);
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(fmt, ap);
  va_end(ap);
}

/* A wrong command line: the message, then how to call the command (or
 * every command when none is known). */
static int usage_error(const command *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int usage_error(const command *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsay(fmt, ap);
  va_end(ap);
  if (c)
    fprintf(stderr, "usage: recoup %s%s%s\n", c->name,
            c->synopsis[0] ? " " : "", c->synopsis);
  else
    usage(stderr);
  return EXIT_USAGE;
}

/* Reads argv into a for command c; a wrong command line is reported here
 * and EXIT_USAGE returned. */
static int parse_args(const command *c, int argc, char **argv, args *a) {
  memset(a, 0, sizeof *a);
  a->cmd = c;
  a->pos = calloc((size_t)argc, sizeof *a->pos);
  if (!a->pos) return EXIT_FAILED;
  for (int i = 2; i < argc; i++) {
    const char *s = argv[i];
    const struct option *o = NULL;
    if (s[0] != '-' || s[1] == '\0') {
      a->pos[a->npos++] = s;
      continue;
    }
    for (int k = 0; k < NOPTIONS && !o; k++)
      if (strcmp(s, options[k].name) == 0) o = &options[k];
    if (!o) return usage_error(c, "unknown option %s", s);
    if (o->bit == O_HELP) {
      a->given |= O_HELP;
      return EXIT_DONE;
    }
    if (!(c->options & o->bit))
      return usage_error(c, "%s does not take %s", c->name, s);
    if (a->given & o->bit) return usage_error(c, "%s given twice", s);
    a->given |= o->bit;
    if (o->takes_value) {
      if (++i >= argc) return usage_error(c, "%s needs a value", s);
      *(o->bit == O_DB    ? &a->db
        : o->bit == O_NOW ? &a->now
                          : &a->listen) = argv[i];
    }
  }
  if ((a->given & O_DELIVER) && (a->given & O_NO_DELIVER))
    return usage_error(c, "give --deliver or --no-deliver, not both");
  if ((a->given & O_NOW) && (a->given & O_REAL_TIME))
    return usage_error(c, "give --now or --real-time, not both");
  if (a->npos < c->min_pos) return usage_error(c, "%s needs a FILE", c->name);
  if (c->max_pos >= 0 && a->npos > c->max_pos)
    return usage_error(c, "%s takes %s; got %d", c->name,
                       c->max_pos == 0   ? "no arguments"
                       : c->max_pos == 1 ? "at most one argument"
                                         : "at most two arguments",
                       a->npos);
  return EXIT_DONE;
}

static void print_errors(const rc_errlist *errors) {
  for (int i = 0; i < errors->count; i++)
    rc_error_print(&errors->items[i], stderr);
}

/* check's list: a finding of a check newer than generation 1 says what a
 * book made before that check does with it. */
static void print_check_errors(const rc_errlist *errors) {
  for (int i = 0; i < errors->count; i++) {
    rc_error e = errors->items[i];
    if (e.since > 0) {
      char msg[sizeof e.message];
      snprintf(msg, sizeof msg,
               "%s [checks generation %d: serve, tick and import on a book "
               "of an older generation warn and go on, until a start finds "
               "the scripts clean]",
               e.message, e.since);
      rc_copy(e.message, sizeof e.message, msg);
    }
    rc_error_print(&e, stderr);
  }
}

/* The findings of checks newer than the book (engine_check_warnings): a
 * warning each, and when they will refuse. */
static void say_check_warnings(engine *eng, const char *cmd) {
  const rc_errlist *w = engine_check_warnings(eng);
  rc_error err;
  int book = 1;
  rc_error_clear(&err);
  if (w->count == 0) return;
  engine_checks_generation(eng, &book, &err);
  for (int i = 0; i < w->count; i++) {
    rc_error e = w->items[i];
    char msg[sizeof e.message];
    snprintf(msg, sizeof msg,
             "warning: %s [a check of checks generation %d, newer than this "
             "book's %d: %s goes on; once the scripts pass every check, the "
             "next serve, tick or import holds the book to generation %d and "
             "this refuses]",
             e.message, e.since, book, cmd, RECOUP_CHECKS_GENERATION);
    rc_copy(e.message, sizeof e.message, msg);
    rc_error_print(&e, stderr);
  }
}

/* Text from the database (ids, states, scripts' messages) as printable
 * UTF-8 on one line, as every error line shows it (rc_printable): a
 * newline or a tab is '?', as a control character is, not a space that
 * would show an id "B\t1" as "B 1", one nobody can type back. */
static const char *shown(const char *s, char *buf, size_t size) {
  rc_printable_line(buf, size, s ? s : "");
  return buf;
}

/* How a command treats the database's clock (engine.h, rehearsals). */
enum {
  CLOCK_RUN,    /* tick, import: the real clock, or a rehearsal to --now */
  CLOCK_REPORT, /* report: as of --now, or of the rehearsal's clock */
  CLOCK_KEEP,   /* retry, errors: the rehearsal's clock, if any */
};

/* A --now refused, said as --now's. */
static void now_refused(rc_error *err) {
  char msg[sizeof err->message];
  snprintf(msg, sizeof msg, "--now: %s", err->message);
  rc_copy(err->message, sizeof err->message, msg);
  rc_error_print(err, stderr);
}

/* Whether --now reads as a time at all, asked before the book is opened:
 * a first import or tick refused for it would have made an empty book
 * (and the folders to it). Its value waits for the institution's zone and
 * the rehearsal's clock; what makes a text readable does not. */
static int now_readable(const char *now) {
  rc_error err;
  rc_clock *clk;
  rc_time t;
  int ok;
  rc_error_clear(&err);
  if (!(clk = clock_new("UTC", &err))) return 1; /* said when it is read */
  if (!(ok = clock_parse_time(clk, now, &t, &err) == RC_OK)) now_refused(&err);
  clock_free(clk);
  return ok;
}

static int any_row(void *ud, const store_value *cols, int ncols) {
  (void)cols;
  (void)ncols;
  *(int *)ud = 1;
  return 0; /* a few hundred rows at most: read them all */
}

/* Whether --db names the institution's own book (service.db) again. */
static int same_book(const char *given, const char *own) {
  char a[PATH_MAX], b[PATH_MAX];
  if (!own) return 0;
  if (store_where(given) != STORE_FILE || store_where(own) != STORE_FILE)
    return strcmp(given, own) == 0;
  return realpath(given, a) && realpath(own, b) && strcmp(a, b) == 0;
}

/* A --now on the institution's own book (service.db, which its service
 * and nightly tick run), when that runs on the real clock and holds
 * cases, would make the live book a rehearsal for good: its timers fired
 * to TIME, its collectors' tasks made days early, and serve and the
 * nightly tick refusing it until the real clock catches up. A newcomer
 * trying `tick --now` did that without a word. A --db naming another
 * file (a copy, var/sim.db) is a rehearsal asked for. 1: refused, said. */
static int live_book_refused(engine *eng, const args *a, const char *dir) {
  const char *own = script_config(engine_script(eng))->db;
  rc_error err;
  int held = 0, rc;
  if (a->db && !same_book(a->db, own)) return 0;
  rc_error_clear(&err);
  rc = query_figures_states(engine_query(eng), any_row, &held, &err);
  if (rc != RC_OK) {
    rc_error_print(&err, stderr);
    return 1;
  }
  if (!held) return 0;
  {
    say("%s: the institution's book (service.db) runs on the real clock "
        "and holds cases: --now %s would make it a rehearsal for good (its "
        "timers fired up to then, and serve and tick without --now "
        "refusing it until the real clock gets there); nothing was done",
        a->db ? a->db : own ? own : dir, a->now);
    say("rehearse on a copy: recoup backup var/rehearsal.db %s, then the "
        "same command with --db var/rehearsal.db (docs/cli.md, "
        "\"Rehearsals\")",
        dir);
  }
  return 1;
}

/* Opens the institution in dir on the clock `how` asks for; *until is
 * where a run ends (--now, or now). NULL when refused, reported here. */
static engine *open_engine(const args *a, const char *dir, int how,
                           rc_time *until) {
  /* A command that reads or retries (report, errors, retry) refuses a
   * SQLite book that is not there: opening it would make a new, empty
   * book and answer from it, as if a mistyped --db held no cases. */
  engine_options opts = {
      .dir = dir, .db = a->db, .must_exist = how != CLOCK_RUN};
  rc_errlist errors = {0};
  rc_error err;
  engine *eng = NULL;
  rc_time rehearsed;
  int rehearsal;
  rc_error_clear(&err);
  if (a->now && !now_readable(a->now)) return NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    print_errors(&errors);
    rc_errlist_free(&errors);
    return NULL;
  }
  say_check_warnings(eng, a->cmd->name);
  if (how == CLOCK_RUN) { /* tick, import: as serve, they hold a clean book */
    int raised;
    if (engine_checks_hold(eng, &raised, &err) != RC_OK) {
      rc_error_print(&err, stderr);
      engine_close(eng);
      return NULL;
    }
  }
  if (engine_rehearsal(eng, &rehearsal, &rehearsed, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    return NULL;
  }
  if (a->now && !rehearsal && how == CLOCK_RUN &&
      live_book_refused(eng, a, dir)) {
    engine_close(eng);
    return NULL;
  }
  if (a->now) {
    rc_time t;
    /* A duration counts from the rehearsal's clock. */
    if (rehearsal) clock_set(engine_clock(eng), rehearsed);
    if (clock_parse_time(engine_clock(eng), a->now, &t, &err) != RC_OK ||
        engine_clock_to(eng, t, &err) != RC_OK) {
      now_refused(&err);
      engine_close(eng);
      return NULL;
    }
    if (how == CLOCK_REPORT) clock_set(engine_clock(eng), t);
    *until = t;
    return eng;
  }
  if (how != CLOCK_RUN) {
    if (rehearsal) clock_set(engine_clock(eng), rehearsed);
  } else if (rehearsal) {
    if (engine_clock_real(eng, (a->given & O_REAL_TIME) != 0, &err) != RC_OK) {
      rc_error_print(&err, stderr);
      say("go on rehearsing with --now TIME%s",
          a->given & O_REAL_TIME
              ? ""
              : ", or give --real-time to put this database on the real "
                "clock for good (it then delivers its messages)");
      engine_close(eng);
      return NULL;
    }
    printf("%s: a rehearsal until now, on the real clock from now on\n",
           a->db ? a->db : dir);
  }
  *until = clock_now(engine_clock(eng));
  return eng;
}

/* The SQLite file this command's book is, else NULL (PostgreSQL). */
static const char *sqlite_book(engine *eng, const args *a) {
  const char *db = a->db ? a->db : script_config(engine_script(eng))->db;
  return db && store_where(db) == STORE_FILE ? db : NULL;
}

static int was_interrupted(void) {
  return interrupted;
}

/* Hands every message due now to its channel. A rehearsal (--now) sends
 * nothing unless --deliver says so: rehearsing a month must not text real
 * borrowers. */
static int deliver(engine *eng, const args *a) {
  uv_loop_t loop;
  outbox *ob;
  rc_error err;
  const char *db = sqlite_book(eng, a);
  int rc, urc, lock = -1;
  rc_error_clear(&err);
  if ((a->given & O_NO_DELIVER) || (a->now && !(a->given & O_DELIVER)))
    return RC_OK;
  /* Kept until exit, as the book's lock (refused_beside_a_service). */
  if (db && (rc = backup_deliver_lock(db, &lock, was_interrupted, &err)) !=
                RC_OK) {
    rc_error_print(&err, stderr);
    return rc;
  }
  if ((rc = uv_loop_init(&loop)) != 0) {
    rc_error_set(&err, RC_EIO, NULL, "cannot deliver: %s", uv_strerror(rc));
    rc_error_print(&err, stderr);
    return RC_EIO;
  }
  if ((rc = outbox_open(&ob, eng, &loop, &err)) == RC_OK) {
    rc = outbox_drain(ob, &err);
    /* The sends' records were committed without waiting for the disk;
     * the exit status says they are on it (the store's close cannot
     * report a failure). */
    if (rc == RC_OK) rc = engine_sync(eng, &err);
    {
      const outbox_stats *st = outbox_get_stats(ob);
      if (st->sent || st->retried || st->failed || st->held) {
        printf("outbox: %lld sent, %lld to retry, %lld failed",
               (long long)st->sent, (long long)st->retried,
               (long long)st->failed);
        if (st->held) printf(", %lld held by the guard", (long long)st->held);
        printf("\n");
      }
    }
    outbox_close(ob);
  }
  uv_run(&loop, UV_RUN_DEFAULT); /* let closed handles go */
  if ((urc = uv_loop_close(&loop)) != 0 && rc == RC_OK) {
    /* A handle left open: a bug here, said rather than leaked quietly. */
    rc_error_set(&err, RC_EINTERNAL, NULL, "delivery left the loop busy: %s",
                 uv_strerror(urc));
    rc = RC_EINTERNAL;
  }
  if (rc != RC_OK) rc_error_print(&err, stderr);
  return rc;
}

/* The DIR and --db of this command line, to name the next command. */
static void same_place(const args *a, const char *dir, char *buf, size_t size) {
  int here = strcmp(dir, ".") == 0;
  snprintf(buf, size, "%s%s%s%s", here ? "" : " ", here ? "" : dir,
           a->db ? " --db " : "", a->db ? a->db : "");
}

/* After a run in which handlers failed: a failure, and where to look. */
static int handlers_failed(const args *a, const char *dir, int64_t n) {
  char place[1200];
  if (n == 0) return EXIT_DONE;
  same_place(a, dir, place, sizeof place);
  say("%lld handler%s failed: `recoup errors%s` lists the cases; after a "
      "fix, `recoup retry --all%s` runs them again",
      (long long)n, n == 1 ? "" : "s", place, place);
  return EXIT_FAILED;
}

/* What `recoup check` found odd in the book: a warning each, up to
 * ODD_SHOWN of a kind, then how many more. */
enum { ODD_SHOWN = 20 };
typedef struct odd_seen {
  const char *db;
  script *sc; /* the scripts as loaded, for the versions cases run (NULL:
               * they did not load) */
  const rc_errlist *problems; /* what check found in them (NULL: none) */
  int64_t ids, ids_more, timers, timers_more, contacts, contacts_more;
  int64_t parted, parted_more; /* cases parted by hand: check fails */
} odd_seen;

/* An id as a path segment (RFC 3986 unreserved kept), for the routes
 * that take it there. */
static void path_segment(const char *id, char *out, size_t size) {
  static const char hex[] = "0123456789ABCDEF";
  size_t at = 0;
  for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
    int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                (*p >= '0' && *p <= '9') || strchr("-._~", *p);
    if (at + (plain ? 1 : 3) >= size) break;
    if (plain) {
      out[at++] = (char)*p;
    } else {
      out[at++] = '%';
      out[at++] = hex[*p >> 4];
      out[at++] = hex[*p & 15];
    }
  }
  out[at] = '\0';
}

/* What the problems check found do on a book of generation v: those of
 * a check newer than v only warn there. Said beside them, since whether
 * tonight's tick starts is what a lender who just upgraded asks. */
static void checks_say_problems(const char *db, int v,
                                const rc_errlist *problems) {
  int n = problems->count, warn = 0;
  for (int i = 0; i < n; i++)
    if (problems->items[i].since > v) warn++;
  printf("%s: checks generation %d, ", db, v);
  if (v < RECOUP_CHECKS_GENERATION)
    printf("older than this recoup's %d", RECOUP_CHECKS_GENERATION);
  else if (v == RECOUP_CHECKS_GENERATION)
    printf("this recoup's");
  else /* written by a newer recoup, or by hand */
    printf("newer than this recoup's %d", RECOUP_CHECKS_GENERATION);
  if (warn == n)
    printf(
        ": serve, tick and import on it warn of the %s above and go on; "
        "once the scripts pass every check, the next of them holds the "
        "book to %d, and from then on such a problem refuses to start "
        "(docs/operations.md, \"Checks added by an upgrade\")\n",
        n == 1 ? "problem" : "problems", RECOUP_CHECKS_GENERATION);
  else if (warn == 0)
    printf(
        ": serve, tick and import refuse to start on it until the %s "
        "above %s fixed\n",
        n == 1 ? "problem" : "problems", n == 1 ? "is" : "are");
  else
    printf(
        ": serve, tick and import refuse to start on it until the %d "
        "problem%s above not marked [checks generation %d] or newer %s "
        "fixed (the %d so marked only warn on it: docs/operations.md, "
        "\"Checks added by an upgrade\")\n",
        n - warn, n - warn == 1 ? "" : "s", v + 1, n - warn == 1 ? "is" : "are",
        warn);
}

/* The book's checks generation (engine.c, "checks generations") and
 * what the next start does with it, so that a lender knows when a newer
 * check's warning becomes a refusal, and that a held book's is one. */
static void checks_say(const char *db, const char *stored,
                       const rc_errlist *problems) {
  char value[100];
  int v = 1; /* none stored: a book made before generations were kept */
  if (stored) {
    v = engine_checks_generation_parse(stored);
    if (v == 0) {
      printf(
          "warning: %s: its meta checks.generation is '%s', not a checks "
          "generation (a whole number from 1)\n"
          "  a newer check's finding refuses on it, naming the row; the next "
          "serve, tick or import that finds the scripts clean writes %d "
          "over it\n",
          db, shown(stored, value, sizeof value), RECOUP_CHECKS_GENERATION);
      return;
    }
  }
  if (problems) {
    checks_say_problems(db, v, problems);
    return;
  }
  if (v < RECOUP_CHECKS_GENERATION)
    printf(
        "%s: checks generation %d, older than this recoup's %d: the scripts "
        "pass every check, so the next serve, tick or import holds the book "
        "to %d, and from then on a newer check's finding refuses to start "
        "instead of warning (docs/operations.md, \"Checks added by an "
        "upgrade\")\n",
        db, v, RECOUP_CHECKS_GENERATION, RECOUP_CHECKS_GENERATION);
  else if (v == RECOUP_CHECKS_GENERATION)
    printf("%s: checks generation %d, this recoup's: every check's finding "
           "refuses to start\n",
           db, v);
  else /* written by a newer recoup, or by hand */
    printf("%s: checks generation %d, newer than this recoup's %d: every "
           "check this recoup has refuses to start\n",
           db, v, RECOUP_CHECKS_GENERATION);
}

static void odd_say(void *ud, const store_odd *o) {
  odd_seen *seen = ud;
  char id[400], why[400], seg[520], db[400], kase[400], ev[200];
  shown(seen->db, db, sizeof db);
  if (strcmp(o->what, "checks") == 0) {
    checks_say(db, o->id, seen->problems);
    return;
  }
  if (strcmp(o->what, "contacts") == 0 ||
      strcmp(o->what, "contacts_unread") == 0) {
    if (seen->contacts++ >= ODD_SHOWN) {
      seen->contacts_more++;
      return;
    }
    if (strcmp(o->what, "contacts") == 0)
      printf("warning: %s: borrower \"%s\": the contacts kept on its row "
             "(contacts_packed) are not those of the contacts table\n"
             "  its reminders go to the row's while a reply is matched to "
             "its case by the table's: once the table is right, import the "
             "borrower's row again, which writes both (docs/operations.md, "
             "\"Choosing a store\")\n",
             db, shown(o->id, id, sizeof id));
    else
      printf("warning: %s: borrower \"%s\": the contacts kept on its row "
             "(contacts_packed) are NULL or do not read\n"
             "  nothing is sent to its phones, emails or third parties "
             "until its contacts are written again: import the borrower's "
             "row again (docs/operations.md, \"Choosing a store\")\n",
             db, shown(o->id, id, sizeof id));
    return;
  }
  if (strcmp(o->what, "task_counts") == 0) {
    /* My work's due now and today read the kept counts, not the rows. */
    printf(
        "warning: %s: queue \"%s\": the counts of its waiting tasks kept "
        "for My work (figures_tasks) are off the tasks table's by %lld "
        "task%s (tasks written by hand?)\n"
        "  My work's due now and today are off as much: with no recoup "
        "process on the book, count them again from the tasks "
        "(docs/cli.md, \"The step to version 38\")\n",
        db, shown(o->id, id, sizeof id), (long long)o->cases,
        o->cases == 1 ? "" : "s");
    return;
  }
  if (strcmp(o->what, "parted") == 0) {
    /* Not a warning: tick, import and migrate-store refuse such a book
     * (its case's timer, its import row, the move), so check does too. */
    if (seen->parted++ >= ODD_SHOWN) {
      seen->parted_more++;
      return;
    }
    printf(
        "%s: case \"%s\" has a case_steps row but no case_rows row at "
        "its step_row (edited by hand?): set that case_rows row's "
        "step_row to its case_steps row's (docs/cli.md); until then "
        "tick, import and migrate-store refuse it\n",
        db, shown(o->id, id, sizeof id));
    return;
  }
  if (strcmp(o->what, "workflow") == 0) {
    /* A version bumped and the old file dropped: its cases would wait
     * unworked with no word from a tick or the service. */
    if (!o->id || !seen->sc || script_has_workflow(seen->sc, o->id, o->version))
      return;
    printf("warning: %s: %lld open case%s run%s workflow %s version %d, "
           "which these scripts do not load: nothing runs for %s (no timer "
           "fires, no event is handled) until it is loaded. Keep that "
           "version's file and load it beside the new one, with a migrate "
           "in the new version to move them on (docs/lua.md, \"Changing a "
           "workflow\")\n",
           db, (long long)o->cases, o->cases == 1 ? "" : "s",
           o->cases == 1 ? "s" : "", shown(o->id, id, sizeof id), o->version,
           o->cases == 1 ? "it" : "them");
    return;
  }
  if (strcmp(o->what, "timer") != 0) {
    int is_case = strcmp(o->what, "case") == 0;
    if (seen->ids++ >= ODD_SHOWN) {
      seen->ids_more++;
      return;
    }
    path_segment(o->id, seg, sizeof seg);
    printf("warning: %s: %s id \"%s\": %s\n", db, o->what,
           shown(o->id, id, sizeof id), shown(o->why, why, sizeof why));
    if (is_case)
      printf(
          "  a payment, import row or body naming it is refused; its "
          "routes take it percent-encoded: /v1/cases/%s "
          "(docs/operations.md, \"Ids an older book holds\")\n",
          seg);
    else
      printf(
          "  an import row or body naming it is refused; its cases go "
          "on (docs/operations.md, \"Ids an older book holds\")\n");
    return;
  }
  if (seen->timers++ >= ODD_SHOWN) {
    seen->timers_more++;
    return;
  }
  printf(
      "warning: %s: timer %s of case \"%s\" (event \"%s\") is due at "
      "\"%s\", not a whole number of milliseconds: %s\n",
      db, o->id, shown(o->case_id, kase, sizeof kase),
      shown(o->event, ev, sizeof ev), shown(o->why, why, sizeof why),
      o->fires ? "it fires at its whole millisecond (edited by hand?)"
               : "it never fires; set it again from the workflow or "
                 "delete it (docs/operations.md, \"Timers that never "
                 "fire\")");
}

/* The book's odd things, said; a book that is not there is not looked
 * at unless --db named it. Warnings, not a refusal: serve runs such a
 * book as before; but a case parted by hand fails the check, as tick,
 * import and migrate-store refuse the book for it. */
static int check_book(const args *a, const char *dir, const char *db,
                      script *sc, const rc_errlist *problems) {
  odd_seen seen = {.db = db, .sc = sc, .problems = problems};
  char name[400];
  struct stat sb;
  rc_error err;
  rc_error_clear(&err);
  if (store_where(db) != STORE_FILE) {
    if (a->db) printf("%s: a PostgreSQL book is not read by check\n", dir);
    return EXIT_DONE;
  }
  if (stat(db, &sb) != 0 && !a->db) return EXIT_DONE;
  if (store_book_odd(db, odd_say, &seen, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    return EXIT_FAILED;
  }
  shown(db, name, sizeof name);
  if (seen.ids_more)
    printf("warning: %s: %lld more ids like these\n", name,
           (long long)seen.ids_more);
  if (seen.timers_more)
    printf("warning: %s: %lld more timers like these\n", name,
           (long long)seen.timers_more);
  if (seen.contacts_more)
    printf("warning: %s: %lld more borrowers like these\n", name,
           (long long)seen.contacts_more);
  if (seen.parted_more)
    printf("%s: %lld more cases like these\n", name,
           (long long)seen.parted_more);
  if (seen.parted) {
    fprintf(stderr, "recoup: %s: %lld case%s parted by hand\n", name,
            (long long)seen.parted, seen.parted == 1 ? "" : "s");
    return EXIT_FAILED;
  }
  return EXIT_DONE;
}

/* The book beside the problems check found: whether they stop its
 * serve, tick and import or only warn depends on its generation, which
 * a lender who just upgraded needs to know most. The scripts are loaded
 * again for service.db when only newer checks' findings refused them
 * (with errors, service.db is not known unless --db names the book). */
static void check_book_beside(const args *a, const char *dir,
                              const rc_errlist *problems) {
  script *sc = NULL;
  rc_errlist errors = {0}, findings = {0};
  const char *db = a->db;
  if (script_load_findings(&sc, dir, &errors, &findings) == RC_OK && !db)
    db = script_config(sc)->db;
  if (db) check_book(a, dir, db, sc, problems);
  if (sc) script_free(sc);
  rc_errlist_free(&errors);
  rc_errlist_free(&findings);
}

static int cmd_check(const args *a) {
  const char *dir = a->npos ? a->pos[0] : ".";
  int rc;
  engine_options opts = {
      .dir = dir, .db = STORE_SCRATCH, .simulated = 1, .quiet = 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    print_check_errors(&errors);
    check_book_beside(a, dir, &errors);
    say("%d problem%s in %s", errors.count, errors.count == 1 ? "" : "s", dir);
    rc_errlist_free(&errors);
    return EXIT_FAILED;
  }
  {
    const institution_config *cfg = script_config(engine_script(eng));
    char where[4200], name[400];
    printf("%s: ok (%s, %s, %d workflow%s)\n", shown(dir, where, sizeof where),
           shown(cfg->name, name, sizeof name), cfg->timezone, cfg->nworkflows,
           cfg->nworkflows == 1 ? "" : "s");
    rc = check_book(a, dir, a->db ? a->db : cfg->db, engine_script(eng), NULL);
  }
  engine_close(eng);
  return rc;
}

/* A service on a SQLite book runs its own timers and delivers its own
 * outbox. A SQLite book's claims take no lease (one writer), and the
 * messages a service is sending are in its memory: a tick or an import
 * beside it could deliver the same queued message from both processes.
 * So they refuse while one holds the book (its lock file, as restore and
 * migrate-store read it), and share the lock while they run, so that a
 * service starting meanwhile refuses in turn. A running service imports
 * by POST /v1/import. PostgreSQL books share their work between
 * processes by claims. */
static int refused_beside_a_service(engine *eng, const args *a, const char *cmd,
                                    int *lock) {
  const char *db = sqlite_book(eng, a);
  backup_holder h;
  rc_error err;
  int held;
  rc_error_clear(&err);
  *lock = -1;
  if (!db) return 0;
  /* The lock is kept until the command exits (the kernel drops it). */
  if ((held = backup_lock_share(db, lock, &h, &err)) == 0) return 0;
  if (held > 0 && h.pid > 0)
    rc_error_set(&err, RC_ECONFLICT, "db",
                 "a service (pid %d, at %s) holds %s and runs its timers and "
                 "delivers its messages itself: %s",
                 h.pid, h.address, db,
                 strcmp(cmd, "import") == 0
                     ? "import into it with POST /v1/import, or stop it "
                       "first (SIGTERM drains it)"
                     : "no tick is needed beside it (stop it first, SIGTERM "
                       "drains it, to tick by hand)");
  else if (held > 0)
    rc_error_set(&err, RC_ECONFLICT, "db",
                 "another recoup process (a restore, a migrate-store) holds "
                 "%s: %s once it is done",
                 db, cmd);
  rc_error_print(&err, stderr);
  return 1;
}

/* A first import refused leaves no book behind: the file this command
 * made (engine_created_book), its WAL and its lock file, when it made
 * that too, and the folders it made for them (engine_created_dir) if
 * nothing else is in them. Not while another recoup process holds the
 * book (it found the file and shares the lock: an import beside, whose
 * cases it would take away). The book's engine is closed here. */
static void unmake_book(engine *eng, const args *a, int lock, int lock_made) {
  char *db = sqlite_book(eng, a) ? strdup(sqlite_book(eng, a)) : NULL;
  char path[PATH_MAX + 16], made[PATH_MAX];
  int alone = lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0;
  rc_copy(made, sizeof made, engine_created_dir(eng));
  engine_close(eng);
  if (!db || !alone) {
    free(db);
    return;
  }
  /* -journal: the import writes a book it made in rollback-journal mode
   * (sqlite.c import_direct); a rollback that could not finish leaves
   * one, which the next open of a new book by that name would play. */
  for (int i = 0; i < 4; i++) {
    static const char *const sides[] = {"", "-wal", "-shm", "-journal"};
    snprintf(path, sizeof path, "%s%s", db, sides[i]);
    unlink(path);
  }
  snprintf(path, sizeof path, "%s.lock", db);
  if (lock_made) unlink(path);
  rc_rmdir_parent_made(db, made);
  free(db);
}

static int cmd_import(const args *a) {
  const char *file = a->pos[0], *dir = a->npos > 1 ? a->pos[1] : ".";
  engine *eng;
  import_stats stats;
  rc_errlist errors = {0};
  rc_error err;
  int64_t steps = 0, failed;
  rc_time until;
  double t0, t1, t2;
  int lock, lock_made = 0, created;
  rc_error_clear(&err);
  if (!(eng = open_engine(a, dir, CLOCK_RUN, &until))) return EXIT_FAILED;
  if ((created = engine_created_book(eng) && sqlite_book(eng, a))) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s.lock", sqlite_book(eng, a));
    lock_made = access(path, F_OK) != 0;
  }
  if (refused_beside_a_service(eng, a, "import", &lock)) {
    engine_close(eng);
    return EXIT_FAILED;
  }
  if (a->now) clock_set(engine_clock(eng), until);
  t0 = seconds();
  if (import_file(eng, file, &stats, &errors, isatty(2)) != RC_OK) {
    print_errors(&errors);
    say("%s refused: nothing was imported", file);
    rc_errlist_free(&errors);
    if (created)
      unmake_book(eng, a, lock, lock_made);
    else
      engine_close(eng);
    return EXIT_FAILED;
  }
  t1 = seconds();
  /* The `opened` handlers ran in the import's transaction; run the
   * `updated` ones and what handlers queued; timers wait for tick. */
  if (engine_run(eng, 0, &steps, &err) != RC_OK ||
      (a->now && engine_clock_save(eng, until, &err) != RC_OK)) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    return EXIT_FAILED;
  }
  t2 = seconds();
  failed = engine_get_stats(eng)->errors;
  /* Said before the delivery's line: the rows are in the book whatever
   * the gateways answer, and the lines come in the order things happen. */
  printf(
      "imported %lld rows from %s in %.2fs: %lld opened, %lld updated; "
      "%lld events handled in %.2fs, %lld handler errors\n",
      (long long)stats.rows, file, t1 - t0, (long long)stats.opened,
      (long long)stats.updated, (long long)(stats.handled + steps), t2 - t1,
      (long long)failed);
  {
    char warning[600];
    import_contact_warning(&stats, warning, sizeof warning);
    if (*warning) say("warning: %s", warning);
  }
  fflush(stdout);
  if (deliver(eng, a) != RC_OK) {
    engine_close(eng);
    return EXIT_FAILED;
  }
  engine_close(eng);
  return handlers_failed(a, dir, failed);
}

static void show_progress(void *ud, int64_t steps) {
  (void)ud;
  if (steps % 50000 < 1000)
    fprintf(stderr, "\rtick: %lld events", (long long)steps);
}

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
  if (running) engine_interrupt(running);
}

static int cmd_tick(const args *a) {
  const char *dir = a->npos ? a->pos[0] : ".";
  engine *eng;
  rc_error err;
  rc_time until;
  int64_t steps = 0, failed;
  const engine_stats *st;
  double t0;
  int lock;
  rc_error_clear(&err);
  if (!(eng = open_engine(a, dir, CLOCK_RUN, &until))) return EXIT_FAILED;
  if (refused_beside_a_service(eng, a, "tick", &lock)) {
    engine_close(eng);
    return EXIT_FAILED;
  }
  /* As the service does: a long sweep no longer stops for each copy of
   * the WAL into the database (engine_copy_apart). A copier that cannot
   * start (too few open files for its connection) is a sweep a little
   * slower, never a sweep not done: a cron's tick was refused for it. */
  if (engine_copy_apart(eng, &err) != RC_OK) {
    char line[400];
    say("warning: %s; the WAL is copied back on the sweep's own thread",
        shown(err.message, line, sizeof line));
    rc_error_clear(&err);
  }
  running = eng;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (isatty(2)) engine_set_progress(eng, show_progress, NULL);
  t0 = seconds();
  if (engine_run(eng, until, &steps, &err) != RC_OK ||
      (a->now && engine_clock_save(eng, until, &err) != RC_OK)) {
    rc_error_print(&err, stderr);
    running = NULL;
    engine_close(eng);
    return EXIT_FAILED;
  }
  if (isatty(2)) fprintf(stderr, "\r");
  {
    const char *notice = engine_store_notice(eng);
    char line[400];
    if (notice) say("warning: %s", shown(notice, line, sizeof line));
  }
  if (deliver(eng, a) != RC_OK) {
    running = NULL;
    engine_close(eng);
    return EXIT_FAILED;
  }
  st = engine_get_stats(eng);
  failed = st->errors;
  printf(
      "tick: %lld events handled in %.2fs (%lld timers fired, %lld "
      "transitions, %lld handler errors)\n",
      (long long)steps, seconds() - t0, (long long)st->timers_fired,
      (long long)st->transitions, (long long)failed);
  {
    /* Cases on a version these scripts do not load are left for a
     * process that has it: with one process, nobody. Said, or a
     * version bumped with its old file dropped stops them unseen. */
    const engine_reloads *r = engine_reload_state(eng);
    if (r->waiting > 0) {
      char place[1200];
      same_place(a, dir, place, sizeof place);
      say("warning: cases on workflow %s were left waiting: these scripts "
          "do not load that version, so nothing runs for them; `recoup "
          "check%s` names them (docs/lua.md, \"Changing a workflow\")",
          r->missing, place);
    }
  }
  running = NULL;
  engine_close(eng);
  return handlers_failed(a, dir, failed);
}

/* --- retry ------------------------------------------------------------ */

typedef struct case_list {
  char **ids; /* owned, and each string */
  int n, cap;
} case_list;

static void case_list_add(void *ud, const char *id) {
  case_list *l = ud;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 16;
    char **grown = realloc(l->ids, (size_t)cap * sizeof *grown);
    if (!grown) return; /* it was retried; only its line is lost */
    l->ids = grown;
    l->cap = cap;
  }
  if ((l->ids[l->n] = strdup(id))) l->n++;
}

static void case_list_free(case_list *l) {
  for (int i = 0; i < l->n; i++) free(l->ids[i]);
  free(l->ids);
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* After the retried cases ran: each moved on, or failed again (a line
 * each on stderr; a line each on stdout for the others unless quiet).
 * Returns how many failed again or could not be read. */
static int retry_outcome(engine *eng, const case_list *retried, int quiet) {
  int again = 0;
  for (int i = 0; i < retried->n; i++) {
    store_case c;
    rc_error err;
    char id[200], state[200];
    rc_error_clear(&err);
    if (query_case(engine_query(eng), retried->ids[i], &c, &err) != RC_OK) {
      rc_error_print(&err, stderr);
      again++;
      continue;
    }
    shown(c.id, id, sizeof id);
    if (c.error) {
      char why[1100];
      say("case %s failed again: %s", id, shown(c.error, why, sizeof why));
      again++;
    } else if (!quiet) {
      printf("case %s retried: now in %s\n", id,
             shown(c.state, state, sizeof state));
    }
    store_case_free(&c);
  }
  return again;
}

static int cmd_retry(const args *a) {
  int all = (a->given & O_ALL) != 0, ncases = a->npos, failed = 0, count = 0;
  const char *dir = ".";
  engine *eng;
  rc_error err;
  rc_time until;
  int64_t steps = 0;
  case_list retried = {0};
  rc_error_clear(&err);
  if (all) {
    if (a->npos > 1)
      return usage_error(a->cmd, "retry --all takes no CASE, only a DIR");
    dir = a->npos ? a->pos[0] : ".";
    ncases = 0;
  } else if (a->npos == 0) {
    return usage_error(a->cmd, "retry needs a CASE, or --all");
  } else if (a->npos > 1 &&
             (is_dir(a->pos[a->npos - 1]) || access("recoup.lua", F_OK) != 0)) {
    /* The last argument is DIR when it is a directory, or when there is
     * no institution here for the cases to belong to. */
    dir = a->pos[--ncases];
  }
  if (!(eng = open_engine(a, dir, CLOCK_KEEP, &until))) return EXIT_FAILED;
  if (all) {
    if (engine_retry_all(eng, case_list_add, &retried, &count, &err) != RC_OK) {
      rc_error_print(&err, stderr);
      engine_close(eng);
      case_list_free(&retried);
      return EXIT_FAILED;
    }
    if (count == 0) printf("no cases in error\n");
  }
  for (int i = 0; i < ncases; i++) {
    if (engine_retry(eng, a->pos[i], &err) != RC_OK) {
      rc_error_print(&err, stderr);
      failed++;
    } else {
      case_list_add(&retried, a->pos[i]);
    }
  }
  if (engine_run(eng, 0, &steps, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    case_list_free(&retried);
    return EXIT_FAILED;
  }
  {
    int again = retry_outcome(eng, &retried, all);
    if (all && count > 0)
      printf("retried %d case%s: %d moved on, %d failed again\n", count,
             count == 1 ? "" : "s", count - again, again);
    if (again) {
      char place[1200];
      same_place(a, dir, place, sizeof place);
      say("`recoup errors%s` lists the cases in error", place);
    }
    failed += again;
  }
  engine_close(eng);
  case_list_free(&retried);
  return failed ? EXIT_FAILED : EXIT_DONE;
}

/* --- errors ----------------------------------------------------------- */

static const char *const error_columns[] = {"case", "state", "event", "since",
                                            "error"};
enum { NERROR_COLUMNS = 5, ERRORS_PAGE = 1000 };

static void print_line(const char *const *v, const int *width, int n) {
  for (int k = 0; k < n; k++)
    printf("%s%*s", v[k], k + 1 < n ? width[k] - text_cols(v[k]) + 2 : 0, "");
  printf("\n");
}

static void print_error_line(const char *const *v, const int *width) {
  print_line(v, width, NERROR_COLUMNS);
}

/* Cases failed by the same error in the same event, newest first: 200
 * cases failed by one script line read as 200 rows of the same text. */
typedef struct error_groups {
  json_t *list;  /* [{event, error, cases, newest, newest_since, oldest,
                    oldest_since}] in the order first seen */
  json_t *index; /* error_key -> position in list */
} error_groups;

static int word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* The group an error is of: event, then the error with its case's own id,
 * where it stands as a word, as one mark ("no phone for case C1" and "...
 * C2" are one error told of each case). The place Lua puts first
 * ("./w.lua:17: ") is kept as written: case 17 is not line 17. The
 * caller frees it. */
static char *error_key(const char *event, const char *error, const char *id) {
  size_t idn = strlen(id), n = strlen(event) + strlen(error) + 2, o = 0;
  const char *body = strstr(error, ": "), *p;
  char *key = malloc(n);
  if (!key) return NULL;
  /* "file:line: " first: the id is looked for after it */
  if (body && body > error && body[-1] >= '0' && body[-1] <= '9') {
    const char *d = body;
    while (d > error && d[-1] >= '0' && d[-1] <= '9') d--;
    body = d > error && d[-1] == ':' ? body + 2 : error;
  } else {
    body = error;
  }
  o = (size_t)snprintf(key, n, "%s\x1f%.*s", event, (int)(body - error), error);
  for (p = body; *p;) {
    if (idn && strncmp(p, id, idn) == 0 && (p == body || !word_char(p[-1])) &&
        !word_char(p[idn])) {
      key[o++] = '\x1e';
      p += idn;
    } else {
      key[o++] = *p++;
    }
  }
  key[o] = '\0';
  return key;
}

static void group_error_rows(error_groups *g, json_t *rows) {
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    const char *event = json_string_value(json_object_get(row, "event")),
               *error = json_string_value(json_object_get(row, "error")),
               *id = json_string_value(json_object_get(row, "case")),
               *since = json_string_value(json_object_get(row, "since"));
    char *key = error_key(event ? event : "", error ? error : "", id ? id : "");
    json_t *at, *e;
    if (!key) continue;
    if ((at = json_object_get(g->index, key))) {
      e = json_array_get(g->list, (size_t)json_integer_value(at));
      json_object_set_new(
          e, "cases",
          json_integer(json_integer_value(json_object_get(e, "cases")) + 1));
    } else {
      json_object_set_new(g->index, key,
                          json_integer((json_int_t)json_array_size(g->list)));
      e = json_pack("{s:s, s:s, s:I, s:s, s:s}", "event", event ? event : "",
                    "error", error ? error : "", "cases", (json_int_t)1,
                    "newest", id ? id : "", "newest_since", since ? since : "");
      json_array_append_new(g->list, e);
    }
    /* the rows come newest first: the last seen is the oldest */
    if (e) {
      json_object_set_new(e, "oldest", json_string(id ? id : ""));
      json_object_set_new(e, "oldest_since", json_string(since ? since : ""));
    }
    free(key);
  }
}

static void print_error_groups(const error_groups *g) {
  static const char *const head[] = {"cases",  "event", "newest", "since",
                                     "oldest", "since", "error"};
  static const char *const field[] = {NULL,           "event",  "newest",
                                      "newest_since", "oldest", "oldest_since",
                                      "error"};
  enum { N = 7 };
  char cells[N][1100];
  const char *v[N];
  int width[N];
  size_t i;
  json_t *e;
  for (int k = 0; k < N; k++) width[k] = text_cols(head[k]);
  for (int pass = 0; pass < 2; pass++) {
    if (pass) print_line(head, width, N);
    json_array_foreach(g->list, i, e) {
      for (int k = 0; k < N; k++) {
        if (!field[k])
          snprintf(cells[k], sizeof cells[k], "%lld",
                   (long long)json_integer_value(json_object_get(e, "cases")));
        else
          shown(json_string_value(json_object_get(e, field[k])), cells[k],
                sizeof cells[k]);
        v[k] = cells[k];
        if (!pass && text_cols(v[k]) > width[k]) width[k] = text_cols(v[k]);
      }
      if (pass) print_line(v, width, N);
    }
  }
}

/* One page as aligned text, the error last; the columns are as wide as
 * the first page needs, under a header printed with it. */
static void print_error_rows(json_t *rows, int *width) {
  char cells[NERROR_COLUMNS][1100];
  const char *v[NERROR_COLUMNS];
  size_t i;
  json_t *row;
  if (width[0] == 0) {
    for (int k = 0; k < NERROR_COLUMNS; k++)
      width[k] = text_cols(error_columns[k]);
    json_array_foreach(rows, i, row) {
      for (int k = 0; k < NERROR_COLUMNS; k++) {
        const char *s =
            json_string_value(json_object_get(row, error_columns[k]));
        int w = text_cols(shown(s, cells[k], sizeof cells[k]));
        if (w > width[k]) width[k] = w;
      }
    }
    print_error_line(error_columns, width);
  }
  json_array_foreach(rows, i, row) {
    for (int k = 0; k < NERROR_COLUMNS; k++)
      v[k] = shown(json_string_value(json_object_get(row, error_columns[k])),
                   cells[k], sizeof cells[k]);
    print_error_line(v, width);
  }
}

static int cmd_errors(const args *a) {
  const char *dir = a->npos ? a->pos[0] : ".";
  engine *eng;
  rc_error err;
  rc_time until;
  int64_t before = 0;
  int width[NERROR_COLUMNS] = {0}, total = 0, json = (a->given & O_JSON) != 0;
  int all = (a->given & O_ALL) != 0;
  error_groups groups;
  rc_error_clear(&err);
  if (!(eng = open_engine(a, dir, CLOCK_KEEP, &until))) return EXIT_FAILED;
  groups.list = json_array();
  groups.index = json_object();
  if (json) printf("{\"errors\": [");
  do {
    json_t *page = report_errors(eng, before, ERRORS_PAGE, &err), *rows, *row;
    size_t i;
    if (!page) {
      if (json) printf("]}\n");
      rc_error_print(&err, stderr);
      engine_close(eng);
      json_decref(groups.list);
      json_decref(groups.index);
      return EXIT_FAILED;
    }
    rows = json_object_get(page, "errors");
    if (json) {
      json_array_foreach(rows, i, row) {
        char *text = json_dumps(row, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n  %s", total++ ? "," : "", text ? text : "{}");
        free(text);
      }
    } else if (json_array_size(rows) && all) {
      print_error_rows(rows, width);
      total += (int)json_array_size(rows);
    } else {
      group_error_rows(&groups, rows);
      total += (int)json_array_size(rows);
    }
    before = json_integer_value(json_object_get(page, "next"));
    json_decref(page);
  } while (before > 0);
  if (json) {
    printf("%s]}\n", total ? "\n" : "");
  } else if (total == 0) {
    printf("no cases in error\n");
  } else if (!all) {
    char place[1200];
    /* The command as typed here: run from another folder, a bare
     * `recoup errors --all` finds no recoup.lua, or another book. */
    same_place(a, dir, place, sizeof place);
    print_error_groups(&groups);
    printf(
        "%d case%s in error, %d error%s; `recoup errors --all%s` lists "
        "each case\n",
        total, total == 1 ? "" : "s", (int)json_array_size(groups.list),
        json_array_size(groups.list) == 1 ? "" : "s", place);
  }
  json_decref(groups.list);
  json_decref(groups.index);
  engine_close(eng);
  return EXIT_DONE;
}

/* --- the rest --------------------------------------------------------- */

static int cmd_report(const args *a) {
  engine *eng;
  rc_error err;
  json_t *r;
  rc_time until;
  if (!(eng = open_engine(a, a->npos ? a->pos[0] : ".", CLOCK_REPORT, &until)))
    return EXIT_FAILED;
  if (report_build(eng, &r, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    engine_close(eng);
    return EXIT_FAILED;
  }
  if (a->given & O_JSON) {
    char *text = json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(text);
    free(text);
  } else {
    report_print(eng, r, stdout);
  }
  json_decref(r);
  engine_close(eng);
  return EXIT_DONE;
}

static int cmd_serve(const args *a) {
  return serve_main(a->npos ? a->pos[0] : ".", a->db, a->listen,
                    (a->given & O_REAL_TIME) != 0);
}

static int cmd_repl(const args *a) {
  return repl_main(a->npos ? a->pos[0] : ".", a->db, NULL);
}

static int cmd_test(const args *a) {
  return spec_main(a->npos, (char **)a->pos, (a->given & O_VERBOSE) != 0,
                   a->db);
}

static int cmd_backup(const args *a) {
  return backup_cli(a->pos[0], a->npos > 1 ? a->pos[1] : ".", a->db,
                    (a->given & O_JSON) != 0, (a->given & O_DIRECT) != 0);
}

static int cmd_restore(const args *a) {
  return restore_cli(a->pos[0], a->npos > 1 ? a->pos[1] : ".", a->db,
                     (a->given & O_JSON) != 0);
}

static int cmd_migrate_store(const args *a) {
  return migrate_store_cli(a->pos[0], a->pos[1]);
}

/* The build said after the version: "(Release, profile-guided)" is the
 * binary `make release` makes for installing. */
#ifndef RECOUP_BUILD
#define RECOUP_BUILD "not profile-guided"
#endif
static int cmd_version(const args *a) {
  (void)a;
  printf("recoup %s (%s)\n", RECOUP_VERSION, RECOUP_BUILD);
  return EXIT_DONE;
}

static int cmd_help(const args *a) {
  (void)a;
  usage(stdout);
  return EXIT_DONE;
}

int main(int argc, char **argv) {
  const command *c = NULL;
  const char *name;
  args a;
  int rc;
  if (argc < 2) return usage_error(NULL, "no command given");
  if (strcmp(argv[1], "user") == 0) return user_main(argc - 1, argv + 1);
  if (strcmp(argv[1], "simulate") == 0)
    return simulate_main(argc - 2, argv + 2);
  name = argv[1];
  if (!strcmp(name, "--version")) name = "version";
  if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
  for (int i = 0; i < NCOMMANDS && !c; i++)
    if (strcmp(name, commands[i].name) == 0) c = &commands[i];
  if (!c) return usage_error(NULL, "unknown command '%s'", name);
  if ((rc = parse_args(c, argc, argv, &a)) == EXIT_DONE) {
    if (a.given & O_HELP)
      printf("usage: recoup %s%s%s\n          %s\n", c->name,
             c->synopsis[0] ? " " : "", c->synopsis, c->what);
    else
      rc = c->run(&a);
  }
  free(a.pos);
  return rc;
}
