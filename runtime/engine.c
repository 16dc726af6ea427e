/* Event dispatch. Every event — queued from outside or a timer coming due —
 * is atomic inside a batch transaction (group commit): its state change,
 * timers, messages, tasks and journal rows commit together or not at all,
 * and a failing handler rolls back only its own event.
 *
 * A batch runs optimistically, without a savepoint per event: a savepoint
 * makes SQLite copy every page the event touches into a statement journal,
 * which was a fifth of a sweep step. When a handler fails, the batch is
 * rolled back whole and replayed up to the failing event with a savepoint
 * each, so the failure is recorded on its case alone. Nothing leaves the
 * process before commit (the outbox delivers committed rows), so a replay
 * is invisible outside. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "recoup/engine.h"
#include "figures.h"
#include "recoup/policy.h"
#include "store/store.h"
#include "phone.h"
#include "case_input.h"
#include "case_keep.h"
#include "input.h"
#include "jbuf.h"
#include "lua_json.h"
#include "template.h"
#include "user.h"

enum { BATCH = 1000, MAX_HOPS = 16, CONTENDED_TRIES = 100 };
/* How long a simulation waits behind a timer another node holds (or
 * leased for the wait, PG_TIMER_WAIT_MS) before it ends: 150 looks 20 ms
 * apart, three times the wait. */
enum { BEHIND_NAPS = 150, BEHIND_NAP_MS = 20 };
/* How long a claim holds (backend.h "Claims"): far longer than a batch of
 * a thousand events takes, and than a delivery (a webhook's timeout is
 * seconds), so that only a node that died loses its claims. */
enum { LEASE_MS = 5 * 60 * 1000 };
/* How soon a case another writer held is tried again: its node wakes
 * for it then, rather than at once and again (a spin for as long as an
 * import holds its cases) or at the end of the lease. */
enum { HELD_RETRY_MS = 1000 };

enum { MAX_SCRIPTS = 32 };
/* The most an import keeps of the cases it opened (case_keep), on a
 * store that does not keep them itself (store_holds_openings): about
 * 300,000 cases of a few custom fields; later ones are read back. */
enum { KEEP_LIMIT = 64 * 1024 * 1024 };

struct engine {
  store *st;  /* owned */
  query *q;   /* owned: the read side over st, for readers and the guard */
  script *sc; /* the newest of scripts: routes, templates, policy */
  script *scripts[MAX_SCRIPTS]; /* owned, oldest first; [0] owns the clock */
  int nscripts;
  char dir[PATH_MAX];
  char made_dir[PATH_MAX]; /* the first folder made for the book, or "" */
  rc_clock *clk; /* borrowed from scripts[0] */
  /* The book's checks generation (meta checks.generation; 0: not read
   * yet), and the findings of newer checks the scripts loaded despite
   * (owned): warnings, said by the command (engine_check_warnings). */
  int checks_generation;
  rc_errlist check_warnings;
  /* The running step's key (0 until it writes a message or moves the
   * case: step_key), drawn from key_seq, seeded at random so that two
   * nodes' keys seldom meet: what tells a message its own step's move
   * from a later one's (store_message's step, the case's mover). */
  int64_t step_key;
  uint64_t key_seq;
  /* The release timers of the messages the running step deferred (texts
   * owned): a close ends every timer of its case, and arms these again,
   * for the closing step's own messages outlive it (transition). */
  struct step_release {
    rc_time due;
    char *data;
  } *releases;
  int nreleases, releases_cap;
  /* What the running step's messages wait on (moved_on): each is written
   * with the step's key, right when the step moves its case (at once or
   * later: "remind, then reminded"). Those written before any move are
   * kept here (ids): a step that ends without moving its case leaves
   * them waiting on the case's mover as it was (store_messages_step),
   * and an opening, whose case no step has moved yet, writes them
   * waiting on 0 and gives them its key if it moves. */
  int64_t *wrote;
  int nwrote, wrote_cap;
  int step_moved, step_opening;
  engine_stats stats;
  volatile sig_atomic_t interrupted;
  const char *current; /* case whose handler runs; NULL outside handlers */
  store_case view;     /* cached read of one case */
  int view_valid;
  int view_borrowed;       /* view's strings belong to run_event()'s case */
  store_borrower borrower; /* cached read of one borrower */
  int borrower_valid;
  /* borrower is lent by the store (store_borrower_claimed_lend), not to
   * be freed; it lasts past no claim, and each event and batch begins
   * with borrower_valid 0 (invalidate). */
  int borrower_lent;
  jbuf spare_row; /* owned: the room a journal row was built in (row_buf) */
  int own_txn; /* the transaction was opened by an ingest call */
  /* An import is loading: a new case's "opened" journal row and event
   * wait for engine_import_opened, which runs its handler in the
   * import's transaction (no event row written and deleted, one journal
   * run a case). */
  int defer_opened;
  const char *opened_by; /* the import's user, for those journal rows */
  case_keep kept;        /* the cases it opened, for those handlers */
  /* The case event_take handed out is lent from a keeping (its texts
   * there, not to be freed): case_drop. */
  int case_lent;
  /* The workflow the import's last new case went to, its newest version
   * and initial state: the scripts do not change while it loads, and
   * asking Lua again cost a row as much as parsing its money. Without a
   * route() every case goes to the same; "" until the first. */
  struct {
    char workflow[64], initial[64];
    int version;
  } opening;
  /* What this process claims timers and events under: a node name unique
   * to it, and a lease longer than any batch. */
  char node[96];
  store_lease lease;
  /* The console user whose write is being applied ("" for a machine
   * token or the engine's own work): every journal row says who. */
  char actor[USER_NAME_MAX + 1];
  rc_date fig_date; /* the day figures were last added to, formatted: */
  char fig_day[16];
  int event_savepoints; /* a savepoint per event (replaying a batch that
                           failed) */
  engine_progress_fn progress;
  void *progress_ud;
  engine_yield_fn yield; /* asked between steps whether to end the run */
  void *yield_ud;
  /* A handler that spent its budget, deadline or memory in an optimistic
   * batch is not run again when the batch is replayed: its failure is
   * recorded as it was (a deadline would otherwise be waited out twice,
   * and need not fail the same way twice). */
  struct {
    int64_t event_id, timer_id; /* 0, 0: none */
    rc_error why;
    char *traceback; /* owned */
  } spent;
  /* The event whose step failed the batch with a row the book refused
   * (store_refused), to be set aside (engine_run_some). case_id NULL:
   * none. Each string owned. */
  struct {
    char *case_id, *type, *data;
    rc_time at;
    int64_t event_id, timer_id;
    rc_error why;
    int tries;        /* set aside in this run, for a bound */
    rc_error unsaved; /* one that could not be recorded on its case */
    int has_unsaved;
    char *unsaved_case; /* owned; its case, while the run's error is it */
    engine_case_error_fn set_aside; /* told of each case set aside */
    void *set_aside_ud;
  } poisoned;
  /* Reloads across nodes (engine.h engine_reloads). tried: the book's
   * generation this node last loaded its directory for (or took as
   * loaded), so that it loads at most once a generation; looked: a run
   * already followed for a missing version. */
  engine_reloads reloads;
  int64_t tried;
  int looked;
  /* The timers and events this run left waiting, sorted. A SQLite claim
   * hands them out again, first, ahead of everything due after them
   * (again says it was seen): they are passed over, and claims ask for
   * that many more rows. */
  struct passed_key *passed; /* owned */
  int npassed, passed_cap, again;
  /* The cases another writer held when this run came to their timers,
   * sorted: their later timers in the run are passed over too, so that
   * none runs before one passed over (the writer may commit meanwhile). */
  char **held; /* owned, each owned */
  int nheld, held_cap;
  /* An input of a group runs (engine_group_job_begin): its writers try
   * their case rather than wait for it; case_busy says one was held. */
  int group_job, case_busy;
};

static void drop_view(engine *eng) {
  if (!eng->view_borrowed) store_case_free(&eng->view);
  memset(&eng->view, 0, sizeof eng->view);
  eng->view_borrowed = 0;
  eng->view_valid = 0;
}

/* Seeds the case view with the case run_event() just read, sparing the
 * handler's first field access a second SELECT of the same row. The view
 * borrows the case's strings (copying them was two dozen mallocs an
 * event); run_event() drops the view before it frees the case. */
static void view_seed(engine *eng, const store_case *c) {
  drop_view(eng);
  eng->view = *c;
  eng->view_borrowed = 1;
  eng->view_valid = 1;
}

static void invalidate(engine *eng) {
  eng->view_valid = 0;
  eng->borrower_valid = 0;
}

/* Lets go of the borrower read last, lent or owned. */
static void borrower_drop(engine *eng) {
  if (eng->borrower_lent)
    memset(&eng->borrower, 0, sizeof eng->borrower);
  else
    store_borrower_free(&eng->borrower);
  eng->borrower_lent = 0;
  eng->borrower_valid = 0;
}

/* A step's deferred releases let go of: a new step's begin. */
static void releases_forget(engine *eng) {
  for (int i = 0; i < eng->nreleases; i++) free(eng->releases[i].data);
  eng->nreleases = 0;
}

static int rolls_begin(engine *eng, rc_error *err);

/* The node name claims are made under: host and process, so that a node
 * that restarts does not take over claims its former life left. */
static void engine_name_node(engine *eng) {
  char host[64] = "";
  if (gethostname(host, sizeof host - 1) != 0) rc_copy(host, sizeof host, "?");
  snprintf(eng->node, sizeof eng->node, "%s:%ld", host, (long)getpid());
  eng->lease.node = eng->node;
  eng->lease.ms = LEASE_MS;
}

/* --- checks generations --------------------------------------------------
 *
 * A release that adds a script check must not stop a lender's service at
 * the next start: the book keeps the checks generation its scripts last
 * passed whole, and a finding of a check newer than that is a warning
 * until a start finds the scripts clean and holds the book to today's
 * generation (engine_checks_hold). A new book starts at today's. Checks
 * that guard data or money are never findings (rc_error.since 0): they
 * refuse whatever the book. */

#define CHECKS_KEY "checks.generation"

int engine_checks_generation_parse(const char *text) {
  char *end;
  long v = strtol(text, &end, 10);
  return end == text || *end || v < 1 || v > 1000000 ? 0 : (int)v;
}

static int read_checks_generation(engine *eng, rc_error *err) {
  char text[32];
  int rc, v;
  if (eng->checks_generation) return RC_OK;
  rc = store_meta_get(eng->st, CHECKS_KEY, text, sizeof text, err);
  if (rc == RC_ENOTFOUND) { /* a book made before generations were kept */
    eng->checks_generation = 1;
    return RC_OK;
  }
  if (rc != RC_OK) return rc;
  v = engine_checks_generation_parse(text);
  /* A value edited by hand that does not read is no generation: taken
   * as 1 it would turn a held book's refusals back into warnings without
   * a word. Findings weighed against it refuse, naming it; a start that
   * finds the scripts clean writes today's over it. */
  if (v == 0) {
    char shown[sizeof text];
    rc_printable(shown, sizeof shown, text);
    return rc_error_set(err, RC_EINVAL, CHECKS_KEY,
                        "the book's meta %s is '%s', not a checks generation "
                        "(a whole number from 1): delete that row to treat "
                        "the book as older than every check (their findings "
                        "warn), or fix the findings of the scripts",
                        CHECKS_KEY, shown);
  }
  eng->checks_generation = v;
  return RC_OK;
}

/* Each finding of a check no newer than the book's generation is an
 * error; the others are kept as warnings. RC_EINVAL when any was an
 * error. */
static int weigh_findings(engine *eng, rc_errlist *findings, rc_errlist *errors,
                          rc_errlist *warnings) {
  int refused = 0;
  for (int i = 0; i < findings->count; i++) {
    rc_error *f = &findings->items[i];
    if (f->since <= eng->checks_generation) {
      rc_errlist_add(errors, f);
      refused = 1;
    } else {
      rc_errlist_add(warnings, f);
    }
  }
  return refused ? RC_EINVAL : RC_OK;
}

static void add_all(rc_errlist *to, const rc_errlist *from) {
  for (int i = 0; i < from->count; i++) rc_errlist_add(to, &from->items[i]);
}

int engine_checks_generation(engine *eng, int *generation, rc_error *err) {
  int rc = read_checks_generation(eng, err);
  *generation = eng->checks_generation;
  return rc;
}

const rc_errlist *engine_check_warnings(const engine *eng) {
  return &eng->check_warnings;
}

int engine_checks_hold(engine *eng, int *raised, rc_error *err) {
  char text[16];
  int rc;
  *raised = 0;
  if (eng->check_warnings.count > 0) return RC_OK;
  if ((rc = read_checks_generation(eng, err)) == RC_EINVAL)
    eng->checks_generation = 1; /* no generation: the scripts are clean */
  else if (rc != RC_OK)
    return rc;
  if (eng->checks_generation >= RECOUP_CHECKS_GENERATION) return RC_OK;
  snprintf(text, sizeof text, "%d", RECOUP_CHECKS_GENERATION);
  if ((rc = store_meta_put(eng->st, CHECKS_KEY, text, err)) != RC_OK) return rc;
  *raised = eng->checks_generation;
  eng->checks_generation = RECOUP_CHECKS_GENERATION;
  return RC_OK;
}

/* Whether db names a book this open would make: a new book starts at
 * today's generation, so a finding refuses before anything is made. */
static int book_is_new(const engine_options *opts, const char *db) {
  switch (store_where(db)) {
    case STORE_MEMORY:
      return 1;
    case STORE_FILE:
      return !opts->must_exist && access(db, F_OK) != 0;
    default:
      return 0; /* PostgreSQL: a new schema is made at today's */
  }
}

int engine_open(engine **out, const engine_options *opts, rc_errlist *errors) {
  engine *eng = calloc(1, sizeof *eng);
  rc_errlist findings = {0};
  rc_error err;
  const char *db;
  int rc;

  *out = NULL;
  rc_error_clear(&err);
  if (!eng) return RC_ENOMEM;
  if (script_load_findings(&eng->sc, opts->dir, errors, &findings) != RC_OK) {
    add_all(errors, &findings);
    rc_errlist_free(&findings);
    free(eng);
    return RC_EINVAL;
  }
  eng->clk = script_clock(eng->sc);
  eng->scripts[eng->nscripts++] = eng->sc;
  if (sodium_init() >= 0)
    randombytes_buf(&eng->key_seq, sizeof eng->key_seq);
  else
    eng->key_seq = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
  snprintf(eng->dir, sizeof eng->dir, "%s", opts->dir ? opts->dir : ".");
  db = opts->db ? opts->db : script_config(eng->sc)->db;
  if (findings.count > 0 && book_is_new(opts, db)) {
    add_all(errors, &findings);
    rc_errlist_free(&findings);
    script_free(eng->sc);
    free(eng);
    return RC_EINVAL;
  }
  if ((store_where(db) == STORE_FILE && !opts->must_exist &&
       rc_mkdir_parent_made(db, "db", eng->made_dir, sizeof eng->made_dir,
                            &err) != RC_OK) ||
      store_open_flags(&eng->st, db, opts->must_exist ? STORE_MUST_EXIST : 0,
                       &err) != RC_OK ||
      query_open(&eng->q, eng->st, &err) != RC_OK) {
    rc_errlist_add(errors, &err);
    store_close(eng->st);
    /* "--db new/" (a folder) or a book that cannot be made: the folders
     * made for it go again, as a refused first import's do. */
    rc_rmdir_parent_made(db, eng->made_dir);
    script_free(eng->sc);
    free(eng);
    return err.code;
  }
  if (findings.count > 0) {
    rc = read_checks_generation(eng, &err);
    if (rc != RC_OK) { /* and what it would have weighed */
      rc_errlist_add(errors, &err);
      add_all(errors, &findings);
    }
    if (rc != RC_OK || (rc = weigh_findings(eng, &findings, errors,
                                            &eng->check_warnings)) != RC_OK) {
      rc_errlist_free(&findings);
      engine_close(eng);
      return rc;
    }
  }
  rc_errlist_free(&findings);
  if (opts->simulated)
    clock_set(eng->clk, opts->start ? opts->start : clock_now(eng->clk));
  engine_name_node(eng);
  eng->reloads.generation = eng->tried = -1;
  if ((rc = rolls_begin(eng, &err)) != RC_OK) {
    rc_errlist_add(errors, &err);
    engine_close(eng);
    return rc;
  }
  *out = eng;
  return RC_OK;
}

int engine_created_book(const engine *eng) {
  return store_created(eng->st);
}

const char *engine_created_dir(const engine *eng) {
  return eng->made_dir;
}

static void poisoned_forget(engine *eng);

void engine_close(engine *eng) {
  if (!eng) return;
  /* A clean stop gives its claims back; should that fail, they run out
   * their lease. */
  if (eng->st && !store_in_transaction(eng->st))
    store_claims_release(eng->st, &eng->lease, NULL);
  free(eng->spent.traceback);
  rc_errlist_free(&eng->check_warnings);
  poisoned_forget(eng);
  free(eng->poisoned.unsaved_case);
  free(eng->passed);
  for (int i = 0; i < eng->nheld; i++) free(eng->held[i]);
  free(eng->held);
  case_keep_free(&eng->kept);
  drop_view(eng);
  borrower_drop(eng);
  free(eng->spare_row.p);
  releases_forget(eng);
  free(eng->releases);
  free(eng->wrote);
  query_close(eng->q);
  store_close(eng->st);
  /* Newest first: the oldest owns the clock the others borrow. */
  for (int i = eng->nscripts - 1; i >= 0; i--) script_free(eng->scripts[i]);
  free(eng);
}

query *engine_query(engine *eng) {
  return eng->q;
}

int engine_in_transaction(const engine *eng) {
  return store_in_transaction(eng->st);
}

void engine_checkpoint_every(engine *eng, int pages) {
  store_checkpoint_every(eng->st, pages);
}

int engine_checkpoint_apart(engine *eng, int pages, int most, rc_error *err) {
  return store_checkpoint_apart(eng->st, pages, most, err);
}

/* A request waited out any copy of the WAL into the database that a
 * commit started: at the store's 64 MB that was a p99 of 86 ms during
 * a million-case sweep, at 2 MB 24-31 ms. Now the store's own thread
 * copies each 1000 pages (4 MB; 2 MB on a book of 2 KB pages) while the
 * loop goes on; past the store's 64 MB a commit copies the last 250
 * pages or fewer that the thread has not yet reached (measured at 200k
 * cases: 113 copies of 47 ms on the loop before the thread; with it,
 * 1-2 copies of up to 90 ms while a commit copied all the thread had
 * left, then 3-13 of at most 6-13 ms).
 * A sweep that nobody waits on gains too: `recoup tick` copied 64 MB at
 * a time inside its commits, its one thread stopped for each copy and
 * its sync. On the thread, the sweep's own thread spends 0.6 s less a
 * million reminder steps (7.2 -> 6.6 s CPU, both threads' 7.2 -> 7.0)
 * and a million steps in id order take 8-13 % less time on two cores
 * (make bench, quiet, 2026-12-06: 0.39 of raw SQLite -> 0.42-0.44). Cases
 * due in shuffled order cost more in all: the thread, keeping pace,
 * copies a page each time a 1000-page slice holds it where a 64 MB one
 * held it once (100k: 5.1 -> up to 8.6 KB written a step, 15 -> 23 us
 * of both threads' time), in the same time or less on two cores. A
 * tick's thread copying 64 MB slices wrote less in shuffled order but
 * fell behind in id order (~75 MB of WAL a second): past 80 MB each
 * commit waited for it (make bench: id order 1M 0.39 of raw).
 * The thread first: where it cannot start (its connection wants two
 * descriptors more), the copies stay as the book opened them, 64 MB at a
 * time on the caller's thread, and the caller may go on without it (a
 * tick does). */
int engine_copy_apart(engine *eng, rc_error *err) {
  int rc = store_checkpoint_apart(eng->st, 1000, 0, err);
  if (rc == RC_OK) store_checkpoint_every(eng->st, 1000);
  return rc;
}

int engine_journal_flush(engine *eng, rc_error *err) {
  return store_journal_write(eng->st, err);
}

int engine_meta_put(engine *eng, const char *key, const char *value,
                    rc_error *err) {
  return store_meta_put(eng->st, key, value, err);
}

int engine_instance_id(engine *eng, char *buf, size_t size, rc_error *err) {
  return store_instance_id(eng->st, buf, size, err);
}

int engine_writable(engine *eng, rc_error *err) {
  return store_writable(eng->st, err);
}

const char *engine_database(const engine *eng) {
  return store_path(eng->st);
}

int engine_copy_database(const char *src, const char *dst, rc_error *err) {
  return store_copy(src, dst, err);
}

rc_clock *engine_clock(engine *eng) {
  return eng->clk;
}

script *engine_script(engine *eng) {
  return eng->sc;
}

const engine_stats *engine_get_stats(const engine *eng) {
  return &eng->stats;
}

void engine_set_stats(engine *eng, const engine_stats *stats) {
  eng->stats = *stats;
}

void engine_interrupt(engine *eng) {
  eng->interrupted = 1;
}

void engine_set_progress(engine *eng, engine_progress_fn fn, void *ud) {
  eng->progress = fn;
  eng->progress_ud = ud;
}

void engine_set_yield(engine *eng, engine_yield_fn fn, void *ud) {
  eng->yield = fn;
  eng->yield_ud = ud;
}

void engine_on_set_aside(engine *eng, engine_case_error_fn fn, void *ud) {
  eng->poisoned.set_aside = fn;
  eng->poisoned.set_aside_ud = ud;
}

const char *engine_failed_case(const engine *eng) {
  return eng->poisoned.unsaved_case;
}

/* --- rehearsals ------------------------------------------------------ */

/* A database run on a simulated clock keeps where that clock stopped
 * (meta "clock") and is a rehearsal from then on: its cases, timers and
 * queued messages live in simulated time. Run on the real clock (a
 * forgotten --now), it would send every rehearsal message to real
 * borrowers at once; so the real clock needs the caller's word, and a
 * simulated one only goes forward. */
#define REHEARSAL_CLOCK "clock"

int engine_rehearsal(engine *eng, int *yes, rc_time *at, rc_error *err) {
  char buf[32];
  int rc = store_meta_get(eng->st, REHEARSAL_CLOCK, buf, sizeof buf, err);
  *yes = rc == RC_OK;
  if (rc == RC_OK) *at = strtoll(buf, NULL, 10);
  return rc == RC_ENOTFOUND ? RC_OK : rc;
}

/* err about this database: its path is the file the error names. */
static int db_error(engine *eng, rc_error *err, int code, const char *fmt,
                    rc_time a, rc_time b) {
  char ta[40], tb[40];
  clock_zone_format(clock_zone(eng->clk), a, ta, sizeof ta);
  clock_zone_format(clock_zone(eng->clk), b, tb, sizeof tb);
  rc_error_set(err, code, "clock", fmt, ta, tb);
  rc_copy(err->file, sizeof err->file, store_path(eng->st));
  return code;
}

int engine_clock_to(engine *eng, rc_time until, rc_error *err) {
  rc_time at = until;
  int rehearsal, rc;
  if ((rc = engine_rehearsal(eng, &rehearsal, &at, err)) != RC_OK) return rc;
  if (until < at)
    return db_error(eng, err, RC_ECONFLICT,
                    "%s is earlier than this database's simulated clock "
                    "(%s): a rehearsal goes forward only",
                    until, at);
  clock_set(eng->clk, at);
  return RC_OK;
}

int engine_clock_save(engine *eng, rc_time until, rc_error *err) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", (long long)until);
  return store_meta_put(eng->st, REHEARSAL_CLOCK, buf, err);
}

int engine_clock_real(engine *eng, int allowed, rc_error *err) {
  rc_time at, now = clock_now(eng->clk);
  int rehearsal, rc;
  if ((rc = engine_rehearsal(eng, &rehearsal, &at, err)) != RC_OK) return rc;
  if (!rehearsal) return RC_OK;
  if (!allowed)
    return db_error(eng, err, RC_ECONFLICT,
                    "this database has run on a simulated clock (a "
                    "rehearsal, up to %s): on the real clock (%s) its "
                    "messages would go to real borrowers",
                    at, now);
  if (at > now)
    return db_error(eng, err, RC_ECONFLICT,
                    "this database's simulated clock (%s) is ahead of the "
                    "real clock (%s): it can go onto the real clock once "
                    "that time has come",
                    at, now);
  return store_meta_put(eng->st, REHEARSAL_CLOCK, NULL, err);
}

int engine_begin(engine *eng, rc_error *err) {
  invalidate(eng);
  return store_begin(eng->st, err);
}

int engine_begin_unsynced(engine *eng, rc_error *err) {
  invalidate(eng);
  return store_begin_unsynced(eng->st, err);
}

int engine_commit(engine *eng, rc_error *err) {
  invalidate(eng);
  return store_commit(eng->st, err);
}

int engine_sync(engine *eng, rc_error *err) {
  return store_sync(eng->st, err);
}

void engine_rollback(engine *eng) {
  invalidate(eng);
  case_keep_free(&eng->kept);
  store_rollback(eng->st);
}

/* Ingest calls run inside the caller's transaction when there is one
 * (import: one for the whole file), or in their own. */
static int ingest_begin(engine *eng, rc_error *err) {
  if (store_in_transaction(eng->st)) return RC_OK;
  if (engine_begin(eng, err) != RC_OK) return RC_ESTORE;
  eng->own_txn = 1;
  return RC_OK;
}

static int ingest_end(engine *eng, int rc, rc_error *err) {
  if (!eng->own_txn) return rc;
  eng->own_txn = 0;
  if (rc != RC_OK) {
    engine_rollback(eng);
    return rc;
  }
  return engine_commit(eng, err);
}

void engine_set_actor(engine *eng, const char *user) {
  snprintf(eng->actor, sizeof eng->actor, "%s", user ? user : "");
}

/* --- figures for the console ------------------------------------------ */

/* The institution's date at t, "2026-01-31": formatted once a day. */
static void figure_day(engine *eng, rc_time t, char *day, size_t size) {
  rc_date d = clock_zone_date(clock_zone(eng->clk), t);
  if (d.year != eng->fig_date.year || d.month != eng->fig_date.month ||
      d.day != eng->fig_date.day || !eng->fig_day[0]) {
    clock_date_format(&d, eng->fig_day, sizeof eng->fig_day);
    eng->fig_date = d;
  }
  rc_copy(day, size, eng->fig_day);
}

/* Adds to a figure of the day of t (store_figure_add): summed through the
 * batch and written once at its commit. */
static int figure_at(engine *eng, rc_time t, const char *figure, const char *a,
                     const char *b, const char *c, int64_t n, int64_t amount,
                     rc_error *err) {
  char day[16];
  figure_day(eng, t, day, sizeof day);
  return store_figure_add(eng->st, figure, day, a, b, c, n, amount, err);
}

static int figure(engine *eng, const char *figure, const char *a, const char *b,
                  const char *c, int64_t n, int64_t amount, rc_error *err) {
  return figure_at(eng, clock_now(eng->clk), figure, a, b, c, n, amount, err);
}

/* A case's days-past-due bucket is about to change other than by the
 * calendar (a new due date, closing): the month's roll rates need what it
 * was (store_roll_log). A case opening is counted by day and due date
 * (the "opened" figure). */
static int roll_log(engine *eng, const store_case *c, const char *now_due,
                    int now_status, rc_error *err) {
  char month[16], opened[16];
  rc_date d = clock_zone_date(clock_zone(eng->clk), c->opened_at);
  figure_day(eng, clock_now(eng->clk), month, sizeof month);
  month[7] = '\0';
  snprintf(opened, sizeof opened, "%04d-%02d", d.year, d.month);
  return store_roll_log(eng->st, month, c->id, c->due_date, c->closed, now_due,
                        now_status, opened, err);
}

static int journal(engine *eng, const char *case_id, const char *kind,
                   const char *state, int version, json_t *detail,
                   rc_error *err) {
  char *text;
  int rc;
  if (eng->actor[0]) {
    if (!detail) detail = json_object();
    if (json_is_object(detail))
      json_object_set_new(detail, "user", json_string(eng->actor));
  }
  text = detail ? ljson_dump(detail) : NULL;
  rc = store_journal_append(eng->st, case_id, clock_now(eng->clk), kind, state,
                            version, text, err);
  free(text);
  json_decref(detail);
  return rc;
}

/* An empty buffer for a journal row, in the room the last row was built
 * in: a step writes some three rows, and each allocated its room and
 * freed it (a fifth of the row's own instructions). Taken, so a row built
 * inside another's gets its own; journal_row gives it back. */
static jbuf row_buf(engine *eng) {
  jbuf b = eng->spare_row;
  memset(&eng->spare_row, 0, sizeof eng->spare_row);
  b.len = 0;
  b.oom = 0;
  if (b.p) b.p[0] = '\0';
  return b;
}

/* quoted: every piece of b was quoted here (jb_key and jb_quote, jb_str,
 * jb_num, or jb_json of a number printed here), so the text is JSON by
 * construction and the store's check of it is skipped (a fifth of a journal
 * row's cost); a detail that carries JSON from elsewhere is checked. */
static int journal_row(engine *eng, const char *case_id, const char *kind,
                       const char *state, int version, jbuf *b, int quoted,
                       rc_error *err) {
  int rc;
  if (eng->actor[0]) {
    jb_key(b, "user");
    jb_quote(b, eng->actor);
  }
  jb_lit(b, "}");
  rc = !b->p || b->oom
           ? rc_error_set(err, RC_ENOMEM, NULL, "out of memory")
       : quoted ? store_journal_append_built(eng->st, case_id,
                                             clock_now(eng->clk), kind, state,
                                             version, b->p, err)
                : store_journal_append(eng->st, case_id, clock_now(eng->clk),
                                       kind, state, version, b->p, err);
  /* Kept unless an event's data made it large (the room a row needs is
   * a few hundred bytes). */
  if (!eng->spare_row.p && b->cap <= 4096)
    eng->spare_row = *b;
  else
    free(b->p);
  return rc;
}


/* --- ingest --------------------------------------------------------- */

static json_t *case_json(const case_input *in) {
  const store_case *c = &in->c;
  json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "id", c->id,
                        "borrower_id", c->borrower_id, "currency", c->currency,
                        "principal", (json_int_t)c->principal, "balance",
                        (json_int_t)c->balance, "amount_due",
                        (json_int_t)c->amount_due, "fees", (json_int_t)c->fees);
  if (c->product) json_object_set_new(o, "product", json_string(c->product));
  if (c->due_date) json_object_set_new(o, "due_date", json_string(c->due_date));
  if (c->has_score) json_object_set_new(o, "score", json_real(c->score));
  json_object_set(o, "data", in->data);
  return o;
}

/* The journal keeps what the case opened with, at the time it opened:
 * written from the case as stored, so that an import can write it when
 * the case's handler runs (engine_import_opened) and the row is the same. */
static int journal_opened(engine *eng, const store_case *c, const char *user,
                          rc_error *err) {
  char num[32];
  /* A score is checked where it comes in, so one that is not finite was
   * written into the book by hand: "%.17g" would make it inf or nan, not
   * JSON. The rest is quoted by the store: only the stored custom fields
   * are read again (an import writes one such row a case it opens). */
  if (c->has_score && !isfinite(c->score))
    return rc_error_set(err, RC_EINVAL, "score",
                        "case %s: its stored score is not a finite number; "
                        "set it right in the book",
                        c->id);
  if (c->data && !jb_valid(c->data))
    return rc_error_set(err, RC_EINVAL, "detail",
                        "journal row 'opened' of case %s: its detail is not "
                        "JSON",
                        c->id);
  if (c->has_score) snprintf(num, sizeof num, "%.17g", c->score);
  return store_journal_opened(eng->st, c, c->has_score ? num : NULL, user,
                              err);
}

/* A column the row has that was most likely meant as field (`Balance`,
 * `balance ` with a space, `BALANCE` from a spreadsheet): it landed in
 * case.data, and a refusal that says only "needs balance" leaves a
 * newcomer looking at a file that has it. Into hint as "; this row has
 * 'Balance' (did you mean balance?)", or "". */
static void near_miss(const case_input *in, const char *field, char *hint,
                      size_t size) {
  const char *const known[] = {field, NULL};
  const char *key;
  json_t *v;
  hint[0] = '\0';
  json_object_foreach(in->data, key, v) {
    char shown[64];
    if (!input_key_meant(key, known)) continue;
    rc_printable_line(shown, sizeof shown, key);
    snprintf(hint, size, "; this row has '%s' (did you mean %s?)", shown,
             field);
    return;
  }
}

static int open_new(engine *eng, case_input *in, rc_error *err) {
  static char no_tags[] = "[]";
  store_case *c = &in->c;
  char workflow[64], initial[64];
  struct {
    char *workflow, *state, *tags;
  } given;
  int version, rc;

  /* recoup's own figure: no import has taken anything off a new case's
   * balance yet. */
  if ((in->present & IN_REDUCED) && c->reduced)
    return rc_error_set(err, RC_EINVAL, "reduced",
                        "reduced is what imports take off a case's balance: "
                        "a new case has none (leave it out)");

  /* The same for a file without balance (a column named otherwise, an
   * export that left it out): every case opened with nothing owed and
   * closed as nothing due (500 of the examples' portfolio, CN¥7.3m of
   * principal). Before the money check, which would blame amount_due. */
  if (eng->defer_opened && !(in->present & IN_BALANCE)) {
    char hint[128];
    near_miss(in, "balance", hint, sizeof hint);
    return rc_error_set(err, RC_EINVAL, "balance",
                        "a new case needs balance (everything owed, fees "
                        "included, in minor units; 0 when nothing is)%s",
                        hint);
  }
  if ((rc = case_input_check_money(c, err)) != RC_OK) return rc;
  /* Days past due, the buckets, the templates and the guard's escalation
   * all start from it: a case without one would only fail later, in its
   * handler. Updates may leave it out (it stays as stored). */
  if (!c->due_date || !*c->due_date) {
    char hint[128];
    near_miss(in, "due_date", hint, sizeof hint);
    return rc_error_set(err, RC_EINVAL, "due_date",
                        "a new case needs due_date (the day the amount "
                        "became due, such as 2026-01-01)%s",
                        hint);
  }
  /* A book's file without amount_due opened every case with 0 due, and
   * a workflow closes those as nothing to collect: a newcomer's whole
   * book closed, its money not asked for, in silence. What is overdue
   * is the lender's to say (it is not the balance: an installment
   * loan's balance is mostly not due yet, and a notice overstating it
   * is a misstatement of the debt). rt:open and POST /v1/cases keep 0:
   * a spec or a caller names what it gives. */
  if (eng->defer_opened && c->balance > 0 &&
      !(in->present & IN_AMOUNT_DUE)) {
    char hint[128];
    near_miss(in, "amount_due", hint, sizeof hint);
    return rc_error_set(err, RC_EINVAL, "amount_due",
                        "a new case with a balance needs amount_due (what "
                        "is overdue now, in minor units, at most the "
                        "balance; 0 when the loan is current)%s",
                        hint);
  }
  if (script_config(eng->sc)->has_route) {
    /* route() sees the case's fields as a table. */
    json_t *fields = case_json(in);
    char *text = ljson_dump(fields);
    json_decref(fields);
    rc = script_route(eng->sc, text, workflow, sizeof workflow, err);
    free(text);
  } else if (eng->defer_opened && eng->opening.workflow[0]) {
    rc_copy(workflow, sizeof workflow, eng->opening.workflow);
  } else {
    rc = script_route(eng->sc, NULL, workflow, sizeof workflow, err);
  }
  if (rc != RC_OK) return rc == RC_ESCRIPT ? RC_EINVAL : rc;
  if (eng->defer_opened && !strcmp(workflow, eng->opening.workflow)) {
    version = eng->opening.version;
    rc_copy(initial, sizeof initial, eng->opening.initial);
  } else {
    script_workflow_latest(eng->sc, workflow, &version);
    if ((rc = script_workflow_initial(eng->sc, workflow, version, initial,
                                      sizeof initial, err)) != RC_OK)
      return rc == RC_ESCRIPT || rc == RC_ENOTFOUND ? RC_EINVAL : rc;
    if (eng->defer_opened) {
      rc_copy(eng->opening.workflow, sizeof eng->opening.workflow, workflow);
      rc_copy(eng->opening.initial, sizeof eng->opening.initial, initial);
      eng->opening.version = version;
    }
  }
  /* Its workflow, state and empty tags are these texts while it is
   * written (the store and the keeping copy what they keep), then the
   * input's again: a copy of each was three allocations an imported
   * row, freed on the reader's thread. */
  given.workflow = c->workflow;
  given.state = c->state;
  given.tags = c->tags;
  c->workflow = workflow;
  c->version = version;
  c->state = initial;
  c->opened_at = clock_now(eng->clk);
  if (!c->tags) c->tags = no_tags;
  if ((rc = store_borrower_upsert_opening(eng->st, &in->b, err)) != RC_OK ||
      (rc = (eng->defer_opened ? store_case_insert_opening : store_case_insert)(
           eng->st, c, err)) != RC_OK ||
      (rc = figure(eng, "opened", c->due_date, NULL, NULL, 1, c->balance,
                   err)) != RC_OK) {
    /* failed */
  } else if (eng->defer_opened) { /* engine_import_opened */
    if (!eng->kept.limit) eng->kept.limit = KEEP_LIMIT;
    /* A store that keeps the case unwritten hands it out: one copy. */
    if (c->data && !store_holds_openings(eng->st))
      case_keep_add(&eng->kept, c);
  } else if ((rc = journal_opened(eng, c, eng->actor, err)) == RC_OK) {
    /* Straight into the queue: a case just opened is not in error. */
    rc = store_event_put(eng->st, c->id, "opened", NULL, clock_now(eng->clk),
                         "pending", err);
  }
  c->workflow = given.workflow;
  c->state = given.state;
  c->tags = given.tags;
  return rc;
}

static void changed_money(json_t *fields, json_t *prev, const char *key,
                          rc_money old, rc_money now) {
  if (old == now) return;
  json_object_set_new(fields, key, json_integer(now));
  json_object_set_new(prev, key, json_integer(old));
}

static void changed_text(json_t *fields, json_t *prev, const char *key,
                         const char *old, const char *now) {
  if (old && now && strcmp(old, now) == 0) return;
  if (!old && !now) return;
  json_object_set_new(fields, key, now ? json_string(now) : json_null());
  json_object_set_new(prev, key, old ? json_string(old) : json_null());
}

/* The case a writer changes from what it read, held to the commit
 * (store_case_get_held). An input of a group does not wait for another
 * transaction holding it: that would stop the node's loop; it is refused
 * before it writes, engine_case_busy set, and runs again later (serve.c). */
static int case_busy(engine *eng, const char *id, rc_error *err) {
  eng->case_busy = 1;
  return rc_error_set(err, RC_ESTORE, "case",
                      "case %s is held by another writer; retry", id);
}

static int case_hold(engine *eng, const char *id, store_case *c,
                     rc_error *err) {
  int busy = 0, rc;
  if (!eng->group_job) return store_case_get_held(eng->st, id, c, err);
  rc = store_case_try_hold(eng->st, id, c, &busy, err);
  return rc != RC_OK || !busy ? rc : case_busy(eng, id, err);
}

/* RC_OK when the case exists, RC_ENOTFOUND when it is to be opened. An
 * input of a group does not wait for another writer opening cases (an
 * import holds that right until it commits) any more than for a case. */
static int case_exists_or_opening(engine *eng, const char *id, rc_error *err) {
  int busy = 0, rc;
  if (!eng->group_job)
    return store_case_exists_or_hold_opening(eng->st, id, err);
  rc = store_case_exists_or_try_opening(eng->st, id, &busy, err);
  return rc != RC_OK || !busy ? rc : case_busy(eng, id, err);
}

/* An amount as a refusal says it to the lender: 100000 HRK ->
 * "1,000.00 HRK", in the currency's own decimals. */
static const char *money_said(rc_money v, const char *currency, char *buf,
                              size_t size) {
  char digits[32], grouped[48];
  int d = template_currency_digits(currency), n, g = 0;
  rc_money unit = 1;
  for (int i = 0; i < d; i++) unit *= 10;
  n = snprintf(digits, sizeof digits, "%lld", (long long)(v / unit));
  for (int i = 0; i < n; i++) {
    if (i > 0 && (n - i) % 3 == 0) grouped[g++] = ',';
    grouped[g++] = digits[i];
  }
  grouped[g] = '\0';
  if (d > 0)
    snprintf(buf, size, "%s.%0*lld %s", grouped, d, (long long)(v % unit),
             currency);
  else
    snprintf(buf, size, "%s %s", grouped, currency);
  return buf;
}

/* A case imported again in another currency (a Croatian book's HRK ->
 * EUR): its money must come in the new currency, restated by the
 * lender. Kept as it was, 7,534.50 kuna would read as 7,534.50 euro;
 * recoup does not convert. The balance always, and every other amount
 * the case holds, what snapshots took off its balance (the report's
 * reduced_by_import) among them. Its earlier payments keep theirs
 * (payments.currency). */
static int currency_restated(const store_case *old, const store_case *c,
                             unsigned p, rc_error *err) {
  const char *missing = !(p & IN_BALANCE)                         ? "balance"
                        : !(p & IN_AMOUNT_DUE) && old->amount_due ? "amount_due"
                        : !(p & IN_PRINCIPAL) && old->principal   ? "principal"
                        : !(p & IN_FEES) && old->fees             ? "fees"
                        : !(p & IN_REDUCED) && old->reduced       ? "reduced"
                                                                  : NULL;
  char was[48];
  if (!missing) return RC_OK;
  /* recoup's own figure: the lender may not know it, so say it */
  if (!strcmp(missing, "reduced"))
    return rc_error_set(
        err, RC_EINVAL, "currency",
        "case %s is in %s: moved to %s, its reduced (%s, taken off the "
        "balance by imports) must come in %s too (recoup does not "
        "convert); give it restated in the same row",
        c->id, old->currency, c->currency,
        money_said(old->reduced, old->currency, was, sizeof was), c->currency);
  return rc_error_set(err, RC_EINVAL, "currency",
                      "case %s is in %s: moved to %s, its %s must come in "
                      "%s too (recoup does not convert); give the case's "
                      "money in the new currency in the same row",
                      c->id, old->currency, c->currency, missing, c->currency);
}

/* What a case holds in its currency that no row can restate keeps it
 * there. An open promise of 1,000 kuna is not kept by 1,000 euro, and a
 * plan's installments are a schedule the borrower agreed in kuna: an
 * agreement ends first (kept, broken or completed), then the case
 * moves. What was paid over the balance was paid in kuna and is owed
 * back as it was paid; restated, it would no longer be taken off the
 * kuna payments the report counts as recovered (600 kuna recovered too
 * many, a negative euro figure), so such a case stays in its currency. */
static int currency_unheld(engine *eng, const store_case *old,
                           const store_case *c, rc_error *err) {
  store_promise pr;
  store_installment *due = NULL;
  char amount[48];
  int n = 0, rc;
  if (old->overpaid)
    return rc_error_set(
        err, RC_EINVAL, "currency",
        "case %s holds %s paid over its balance, owed back in %s as it "
        "was paid: it stays in %s (recoup does not convert); leave it out "
        "of the move to %s",
        c->id, money_said(old->overpaid, old->currency, amount, sizeof amount),
        old->currency, old->currency, c->currency);
  rc = store_promise_open(eng->st, old->id, &pr, err);
  if (rc == RC_OK)
    return rc_error_set(
        err, RC_EINVAL, "currency",
        "case %s has an open promise of %s due %s; settle or break it "
        "before moving the case to %s (recoup does not convert)",
        c->id, money_said(pr.amount, old->currency, amount, sizeof amount),
        pr.by_date, c->currency);
  if (rc != RC_ENOTFOUND) return rc;
  if ((rc = store_installments_unpaid(eng->st, old->id, &due, &n, err)))
    return rc;
  if (n > 0) {
    rc_money left = 0;
    for (int i = 0; i < n; i++) left += due[i].amount - due[i].paid;
    rc = rc_error_set(
        err, RC_EINVAL, "currency",
        "case %s has an open plan with %d installment%s unpaid (%s, the "
        "next due %s); it completes before the case moves to %s "
        "(recoup does not convert)",
        c->id, n, n == 1 ? "" : "s",
        money_said(left, old->currency, amount, sizeof amount), due[0].due_date,
        c->currency);
  }
  free(due);
  return rc;
}

/* reduced is recoup's own figure, from the snapshots before: a row may
 * give it only as the case holds it (a feed sending the case back as
 * read), or restated in a move to another currency. */
static int reduced_as_held(const store_case *old, const store_case *c,
                           unsigned p, int moved, rc_error *err) {
  char was[48];
  if (moved || !(p & IN_REDUCED) || c->reduced == old->reduced) return RC_OK;
  return rc_error_set(
      err, RC_EINVAL, "reduced",
      "reduced is what imports took off case %s's balance (%s): an import "
      "gives it only restated in the case's new currency, with currency",
      c->id, money_said(old->reduced, old->currency, was, sizeof was));
}

static int update_known(engine *eng, case_input *in, rc_error *err) {
  store_case old, *c = &in->c;
  json_t *fields = json_object(), *prev = json_object(), *data;
  unsigned p = in->present;
  int rc, moved;

  if ((rc = case_hold(eng, c->id, &old, err)) != RC_OK) {
    json_decref(fields);
    json_decref(prev);
    return rc;
  }
  if (strcmp(old.borrower_id, c->borrower_id) != 0) {
    rc = rc_error_set(err, RC_EINVAL, "borrower_id",
                      "case %s belongs to borrower %s, not %s", c->id,
                      old.borrower_id, c->borrower_id);
    goto done;
  }
  /* Only what the input carries changes; the rest stays as stored. */
#define KEEP_TEXT(bit, f, key)                    \
  if (p & bit)                                    \
    changed_text(fields, prev, key, old.f, c->f); \
  else {                                          \
    free(c->f);                                   \
    c->f = old.f ? strdup(old.f) : NULL;          \
  }
#define KEEP_MONEY(bit, f, key)                    \
  if (p & bit)                                     \
    changed_money(fields, prev, key, old.f, c->f); \
  else                                             \
    c->f = old.f;
  KEEP_TEXT(IN_PRODUCT, product, "product");
  KEEP_TEXT(IN_CURRENCY, currency, "currency");
  KEEP_TEXT(IN_DUE_DATE, due_date, "due_date");
  KEEP_TEXT(IN_TAGS, tags, "tags");
  KEEP_MONEY(IN_PRINCIPAL, principal, "principal");
  KEEP_MONEY(IN_BALANCE, balance, "balance");
  KEEP_MONEY(IN_AMOUNT_DUE, amount_due, "amount_due");
  KEEP_MONEY(IN_FEES, fees, "fees");
#undef KEEP_TEXT
#undef KEEP_MONEY
  if (!(p & IN_AMOUNT_DUE) && c->amount_due > c->balance) {
    /* A snapshot that lowers the balance alone: what is overdue is never
     * more than what is owed, as after a payment. */
    c->amount_due = c->balance;
    changed_money(fields, prev, "amount_due", old.amount_due, c->amount_due);
  }
  if ((rc = case_input_check_money(c, err)) != RC_OK) goto done;
  moved = strcmp(old.currency, c->currency) != 0;
  if ((rc = reduced_as_held(&old, c, p, moved, err)) != RC_OK) goto done;
  if (moved && ((rc = currency_unheld(eng, &old, c, err)) != RC_OK ||
                (rc = currency_restated(&old, c, p, err)) != RC_OK))
    goto done;
  /* Lenders that feed daily snapshots instead of payments show recovery
   * this way: a lower balance. Kept apart from the payments recoup saw.
   * A balance restated in another currency is no reduction. */
  if (moved && (p & IN_REDUCED))
    changed_money(fields, prev, "reduced", old.reduced, c->reduced);
  else
    c->reduced = old.reduced;
  if (!moved && c->balance < old.balance)
    c->reduced += old.balance - c->balance;
  if (p & IN_SCORE) {
    if (!old.has_score || old.score != c->score) {
      json_object_set_new(fields, "score", json_real(c->score));
      json_object_set_new(prev, "score",
                          old.has_score ? json_real(old.score) : json_null());
    }
  } else {
    c->has_score = old.has_score;
    c->score = old.score;
  }
  data = json_loads(old.data ? old.data : "{}", 0, NULL);
  if (!data) data = json_object();
  {
    const char *key;
    json_t *v;
    json_object_foreach(in->data, key, v) {
      json_t *was = json_object_get(data, key);
      if (!was || !json_equal(was, v)) {
        json_object_set(fields, key, v);
        json_object_set(prev, key, was ? was : json_null());
      }
    }
  }
  json_object_update(data, in->data);
  free(c->data);
  c->data = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(data);

  if ((rc = store_borrower_upsert(eng->st, &in->b, err)) != RC_OK) goto done;
  if (json_object_size(fields) == 0) goto done; /* nothing new: no event */
  if ((rc = store_case_write(
           eng->st,
           &(store_case_change){
               .id = c->id, .fields = STORE_CASE_TERMS, .terms = c},
           err)) != RC_OK)
    goto done;
  /* Balance a snapshot took off (paid elsewhere, written down), apart
   * from the payments recoup saw; a new due date moves the case between
   * buckets of days past due. */
  if (!moved && c->balance < old.balance &&
      (rc = figure(eng, "reduced", c->currency, NULL, NULL, 1,
                   old.balance - c->balance, err)) != RC_OK)
    goto done;
  if (!old.closed &&
      !(old.due_date == c->due_date ||
        (old.due_date && c->due_date && !strcmp(old.due_date, c->due_date))) &&
      (rc = roll_log(eng, &old, c->due_date, 0, err)) != RC_OK)
    goto done;
  {
    json_t *detail =
        json_pack("{s:O, s:O}", "fields", fields, "previous", prev);
    char *text = ljson_dump(detail);
    rc = journal(eng, c->id, "updated", old.state, old.version, detail, err);
    if (rc == RC_OK)
      rc = store_event_put(eng->st, c->id, "updated", text, clock_now(eng->clk),
                           NULL, err);
    free(text);
  }
done:
  json_decref(fields);
  json_decref(prev);
  store_case_free(&old);
  return rc;
}

static int upsert_input(engine *eng, case_input *in, int *created,
                        rc_error *err) {
  int rc = ingest_begin(eng, err);
  if (rc == RC_OK) {
    int exists = 0;
    rc = case_exists_or_opening(eng, in->c.id, err);
    if (rc == RC_OK || rc == RC_ENOTFOUND) {
      exists = rc == RC_OK;
      if (created) *created = !exists;
      rc = exists ? update_known(eng, in, err) : open_new(eng, in, err);
    }
    rc = ingest_end(eng, rc, err);
  }
  return rc;
}

int engine_upsert_case(engine *eng, json_t *fields, int text_values,
                       int *created, rc_error *err) {
  case_input in;
  int rc = case_input_parse(fields, text_values, eng->clk,
                            script_config(eng->sc)->currency,
                            script_config(eng->sc)->country, &in, err);
  if (rc == RC_OK) rc = upsert_input(eng, &in, created, err);
  case_input_free(&in);
  return rc;
}

int engine_import_begin(engine *eng, rc_error *err) {
  int rc;
  invalidate(eng);
  rc = store_begin_import(eng->st, err);
  eng->opening.workflow[0] = '\0';
  if (rc == RC_OK && (rc = store_hold_opening(eng->st, err)) != RC_OK)
    engine_rollback(eng);
  return rc;
}

int engine_contended(const engine *eng) {
  return store_contended(eng->st);
}

int engine_import_case(engine *eng, json_t *fields, int text_values,
                       int *created, rc_error *err) {
  int rc;
  eng->defer_opened = 1;
  /* import.c checked every line for NUL before it was parsed. */
  rc = engine_upsert_case(eng, fields, text_values | CASE_INPUT_CHECKED,
                          created, err);
  eng->defer_opened = 0;
  return rc;
}

struct engine_reading {
  rc_clock *clk; /* its own: the time zones it finds are kept in it */
  char *currency, *country;
};

engine_reading *engine_reading_new(engine *eng, rc_error *err) {
  engine_reading *r = calloc(1, sizeof *r);
  const char *zone = clock_zone_name(clock_zone(eng->clk));
  if (!r) {
    rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    return NULL;
  }
  r->currency = strdup(script_config(eng->sc)->currency);
  r->country = strdup(script_config(eng->sc)->country);
  if (!r->currency || !r->country) {
    rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
    engine_reading_free(r);
    return NULL;
  }
  if (!(r->clk = clock_new(zone, err))) {
    engine_reading_free(r);
    return NULL;
  }
  return r;
}

void engine_reading_free(engine_reading *r) {
  if (!r) return;
  clock_free(r->clk);
  free(r->currency);
  free(r->country);
  free(r);
}

int engine_reading_parse(engine_reading *r, json_t *fields, int text_values,
                         case_input *out, rc_error *err) {
  /* import.c checked every line for NUL before it was parsed. */
  return case_input_parse(fields, text_values | CASE_INPUT_CHECKED, r->clk,
                          r->currency, r->country, out, err);
}

void engine_import_ahead(engine *eng, const case_input *in) {
  store_import_ahead(eng->st, in->b.id);
}

int engine_import_input(engine *eng, case_input *in, int *created,
                        rc_error *err) {
  int rc;
  eng->defer_opened = 1;
  rc = upsert_input(eng, in, created, err);
  eng->defer_opened = 0;
  return rc;
}

/* The cases' `opened` handlers, one after the other, optimistically in
 * one savepoint; when one fails, the savepoint is undone and the cases
 * run again with a savepoint each, so that the failure is recorded on
 * its case alone (as engine_run_some replays a batch). */
/* Events only the core emits: posting one would fake a fact (a broken
 * promise sends a field officer; a delivery receipt ends retries). */
static const char *const core_events[] = {
    "opened",           "updated",         "payment",
    "task_done",        "promise_kept",    "promise_broken",
    "installment_missed", "plan_completed", "message_delivered",
    "message_failed",   NULL};

static const char *core_route(const char *type) {
  if (!strcmp(type, "payment")) return "POST /v1/payments (rt:pay)";
  if (!strcmp(type, "task_done"))
    return "POST /v1/tasks/{id}/complete (rt:complete)";
  if (!strcmp(type, "opened") || !strcmp(type, "updated"))
    return "POST /v1/cases (rt:open)";
  if (!strncmp(type, "message_", 8))
    return "POST /v1/messages/{id}/receipt (rt:receipt)";
  return NULL;
}

int engine_post(engine *eng, const char *case_id, const char *type,
                json_t *data, const char *key, int *duplicate, rc_error *err) {
  char *text = NULL;
  int rc, dup = 0;
  if (duplicate) *duplicate = 0;
  if (!type || !*type)
    return rc_error_set(err, RC_EINVAL, "type", "event type is required");
  for (int i = 0; core_events[i]; i++) {
    const char *route;
    if (strcmp(type, core_events[i]) != 0) continue;
    route = core_route(type);
    if (route)
      return rc_error_set(err, RC_EINVAL, "type",
                          "'%s' events come from the core; use %s", type,
                          route);
    return rc_error_set(err, RC_EINVAL, "type",
                        "'%s' events come from the core (from payments and "
                        "timers) and cannot be posted",
                        type);
  }
  if (type[0] == '_' && type[1] == '_')
    return rc_error_set(err, RC_EINVAL, "type",
                        "event names starting with __ belong to the core");
  if (data && !json_is_object(data))
    return rc_error_set(err, RC_EINVAL, "data", "event data must be an object");
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  if ((rc = store_case_exists(eng->st, case_id, err)) != RC_OK) {
    /* unknown, or the store failed */
  } else if (key && (rc = store_event_key_claim(eng->st, key, case_id, type,
                                                clock_now(eng->clk), &dup,
                                                err)) != RC_OK) {
    /* a key naming another event: refused, nothing written */
  } else if (!dup) {
    if (data) text = ljson_dump(data);
    rc = store_event_put(eng->st, case_id, type, text, clock_now(eng->clk),
                         NULL, err);
  }
  if (duplicate) *duplicate = dup;
  free(text);
  return ingest_end(eng, rc, err);
}

/* Queues an event the core emits for a case (promise_kept,
 * plan_completed, message_failed, reply); takes data. */
static int enqueue_event(engine *eng, const char *case_id, const char *type,
                         json_t *data, rc_error *err) {
  char *text = ljson_dump(data);
  int rc = store_event_put(eng->st, case_id, type, text, clock_now(eng->clk),
                           NULL, err);
  free(text);
  json_decref(data);
  return rc;
}

/* A payment counts towards the open promise and pays the open plan's
 * installments oldest first; what that completes is queued as events
 * after the payment itself. */
static int allocate(engine *eng, const store_case *c, rc_money amount,
                    rc_error *err) {
  store_promise p;
  store_installment *due = NULL;
  int n = 0, rc = RC_OK, all_paid = 1;
  rc_money left = amount;

  rc = store_promise_open(eng->st, c->id, &p, err);
  if (rc != RC_OK && rc != RC_ENOTFOUND) return rc;
  if (rc == RC_OK) {
    rc_money paid = p.paid + amount;
    int kept = paid >= p.amount;
    char taker[USER_NAME_MAX + 1];
    /* Money paid on a promise a collector took is that collector's. */
    rc = store_promise_user_get(eng->st, p.id, taker, sizeof taker, err);
    if (rc == RC_OK)
      rc = figure(eng, "collector", taker, "collected", c->currency, 0, amount,
                  err);
    if (rc != RC_OK && rc != RC_ENOTFOUND) return rc;
    if ((rc = store_promise_update(eng->st, p.id, paid, kept ? "kept" : "open",
                                   err)))
      return rc;
    if (kept) {
      json_t *d = json_pack("{s:I, s:I, s:s, s:I}", "promise", (json_int_t)p.id,
                            "amount", (json_int_t)p.amount, "by", p.by_date,
                            "paid", (json_int_t)paid);
      if ((rc = journal(eng, c->id, "promise_kept", c->state, c->version,
                        json_deep_copy(d), err)) ||
          (rc = enqueue_event(eng, c->id, "promise_kept", d, err)))
        return rc;
    }
  }
  if ((rc = store_installments_unpaid(eng->st, c->id, &due, &n, err)))
    return rc;
  for (int i = 0; i < n && rc == RC_OK; i++) {
    store_installment *it = &due[i];
    rc_money take = it->amount - it->paid;
    const char *status = it->status;
    if (take > left) take = left;
    left -= take;
    it->paid += take;
    if (it->paid >= it->amount)
      status = strcmp(it->status, "missed") == 0 ? "paid_late" : "paid";
    else
      all_paid = 0;
    if (take > 0)
      rc = store_installment_update(eng->st, it->id, it->paid, status, err);
  }
  if (rc == RC_OK && n > 0 && all_paid) {
    json_t *d = json_pack("{s:I}", "plan", (json_int_t)due[0].plan_id);
    if (!(rc = store_plan_status(eng->st, due[0].plan_id, "completed", err)) &&
        !(rc = journal(eng, c->id, "plan_completed", c->state, c->version,
                       json_deep_copy(d), err)))
      rc = enqueue_event(eng, c->id, "plan_completed", d, err);
    else
      json_decref(d);
  }
  free(due);
  return rc;
}

/* A payment's ref names one payment (DESIGN.md "Idempotency is per
 * thing"): the same ref, case and amount again is a duplicate, acknowledged
 * and not applied, even after the payment closed the case; the ref with
 * another case or amount is a conflict that changes nothing. Checked
 * before anything else, so that a resend never meets a rule the first
 * send changed the answer to. */
static int payment_seen(engine *eng, const char *case_id, rc_money amount,
                        const char *currency, const char *ref, int *duplicate,
                        rc_error *err) {
  char was_case[160], was_currency[4] = "";
  rc_money was_amount = 0;
  int rc = store_payment_by_ref_in(eng->st, ref, was_case, sizeof was_case,
                                   &was_amount, was_currency, err);
  if (rc == RC_ENOTFOUND) return RC_OK;
  if (rc != RC_OK) return rc;
  if (strcmp(was_case, case_id) != 0)
    return rc_error_set(err, RC_ECONFLICT, "ref",
                        "payment ref '%s' was already used for case %s", ref,
                        was_case);
  if (was_amount != amount)
    return rc_error_set(err, RC_ECONFLICT, "ref",
                        "payment ref '%s' was already used for an amount of "
                        "%lld on case %s, not %lld",
                        ref, (long long)was_amount, case_id, (long long)amount);
  /* 100 dollars sent with the ref of 100 yuan is another payment: taken
   * for the yuan's resend, the feed would count it recorded. The payment
   * is compared, not the case, which may be in another currency since. */
  if (currency && was_currency[0] && strcmp(was_currency, currency) != 0)
    return rc_error_set(err, RC_ECONFLICT, "ref",
                        "payment ref '%s' was already used for %lld %s on "
                        "case %s, not %s",
                        ref, (long long)was_amount, was_currency, case_id,
                        currency);
  *duplicate = 1;
  return RC_OK;
}

/* A payment is back-dated when the bank's file comes late: dated in the
 * last year, or while the case was open in recoup (a case of years), it
 * is taken. One older than both is a typo (1900-01-05 for 2026-01-05, a
 * year of 0026): recorded, it would stand in the journal, the figures of
 * a month long closed and every report, for ever. The ref rules come
 * first: a resend of a payment taken is a duplicate, as before. */
static const rc_time PAYMENT_PAST_MS = (rc_time)366 * 24 * 60 * 60 * 1000;

static int payment_not_too_old(engine *eng, const store_case *c, rc_time at,
                               rc_error *err) {
  rc_time now = clock_now(eng->clk);
  char when[40], opened[40], year[40];
  if (at >= now - PAYMENT_PAST_MS || at >= c->opened_at) return RC_OK;
  clock_zone_format(clock_zone(eng->clk), at, when, sizeof when);
  clock_zone_format(clock_zone(eng->clk), c->opened_at, opened,
                    sizeof opened);
  clock_zone_format(clock_zone(eng->clk), now - PAYMENT_PAST_MS, year,
                    sizeof year);
  return rc_error_set(err, RC_EINVAL, "at",
                      "at (%s) is too far back: a payment is dated after "
                      "its case was opened (%s) or in the last 366 days "
                      "(since %s)",
                      when, opened, year);
}

/* Payments are facts: whatever passes the shape checks is recorded, on an
 * open or a closed case. What goes beyond the balance brings it to zero and
 * is kept as overpaid, for refund. */
int engine_pay(engine *eng, const char *case_id, rc_money amount,
               const char *ref, rc_time at, int *duplicate, rc_error *err) {
  return engine_pay_in(eng, case_id, amount, NULL, ref, at, duplicate, err);
}

/* A payment in another currency than its case's: a bank feed's USD
 * credit on a CNY loan, or a kuna payment sent after the book moved to
 * euro. Taking it would either change what the case owes in a currency
 * it is not in or sum two currencies: refused, naming both. */
static int payment_currency(const store_case *c, const char *currency,
                            rc_error *err) {
  char shown[24];
  if (!currency || !strcmp(currency, c->currency)) return RC_OK;
  rc_printable(shown, sizeof shown, currency);
  return rc_error_set(err, RC_EINVAL, "currency",
                      "currency %s is not case %s's (%s): a payment is "
                      "recorded in its case's currency and recoup does not "
                      "convert; send it converted to %s, or import the case "
                      "again in %s first",
                      shown, c->id, c->currency, c->currency, shown);
}

int engine_pay_in(engine *eng, const char *case_id, rc_money amount,
                  const char *currency, const char *ref, rc_time at,
                  int *duplicate, rc_error *err) {
  store_case c;
  int rc, dup = 0;
  if (duplicate) *duplicate = 0;
  /* The bound of every amount a case holds (case_input, task_decl): sums
   * of them stay far from int64's end. */
  if (amount <= 0 || amount > 1000000000000000LL)
    return rc_error_set(err, RC_EINVAL, "amount",
                        "payment amount must be a positive number of minor "
                        "units, at most 10^15 (got %lld)",
                        (long long)amount);
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  /* The case is held with the look at the ref: one round trip, not two. */
  if (ref && eng->group_job) store_case_ahead(eng->st, case_id);
  if (ref &&
      ((rc = payment_seen(eng, case_id, amount, currency, ref, &dup, err)) ||
       dup)) {
    if (duplicate) *duplicate = dup;
    return ingest_end(eng, rc, err);
  }
  /* Held: the balance written is this read's less the payment. */
  if ((rc = case_hold(eng, case_id, &c, err)) != RC_OK)
    return ingest_end(eng, rc, err);
  if ((rc = payment_currency(&c, currency, err)) != RC_OK ||
      (at && (rc = payment_not_too_old(eng, &c, at, err)) != RC_OK)) {
    store_case_free(&c);
    return ingest_end(eng, rc, err);
  }
  rc = store_payment_insert(eng->st, case_id, amount, c.currency, ref,
                            at ? at : clock_now(eng->clk), err);
  if (rc == RC_ECONFLICT && ref) {
    /* Another node recorded this ref after the look above (PostgreSQL:
     * the insert waited for that node's commit, then did nothing). The
     * answer is the one the look gives now: a duplicate, or a conflict
     * naming what the ref was used for. */
    rc = payment_seen(eng, case_id, amount, currency, ref, &dup, err);
    if (rc == RC_OK && !dup)
      rc = rc_error_set(err, RC_ECONFLICT, "ref",
                        "payment ref '%s' was already received", ref);
    if (duplicate) *duplicate = dup;
    store_case_free(&c);
    return ingest_end(eng, rc, err);
  }
  if (rc == RC_OK) {
    rc_money applied = amount < c.balance ? amount : c.balance;
    rc_money excess = amount - applied;
    rc_money due = c.amount_due > amount ? c.amount_due - amount : 0;
    json_t *data = json_pack("{s:I}", "amount", (json_int_t)amount);
    char *text;
    char when[40];
    if (applied < 0) applied = 0, excess = amount;
    clock_zone_format(clock_zone(eng->clk), at ? at : clock_now(eng->clk), when,
                sizeof when);
    if (ref) json_object_set_new(data, "ref", json_string(ref));
    json_object_set_new(data, "paid_at", json_string(when));
    if (excess > 0)
      json_object_set_new(data, "overpaid", json_integer((json_int_t)excess));
    text = ljson_dump(data);
    rc = store_case_write(eng->st,
                          &(store_case_change){.id = case_id,
                                               .fields = STORE_CASE_MONEY,
                                               .balance = c.balance - applied,
                                               .amount_due = due,
                                               .overpaid = c.overpaid + excess},
                          err);
    /* keyed by the case's currency, as the payment's row */
    if (rc == RC_OK)
      rc = figure_at(eng, at ? at : clock_now(eng->clk), "payment", c.currency,
                     NULL, NULL, 1, amount, err);
    if (rc == RC_OK)
      rc = journal(eng, case_id, "payment", c.state, c.version,
                   json_deep_copy(data), err);
    if (rc == RC_OK)
      rc = store_event_put(eng->st, case_id, "payment", text,
                           clock_now(eng->clk), NULL, err);
    if (rc == RC_OK) rc = allocate(eng, &c, amount, err);
    free(text);
    json_decref(data);
  }
  store_case_free(&c);
  return ingest_end(eng, rc, err);
}

static script *script_with(engine *eng, const char *workflow, int version) {
  for (int i = eng->nscripts - 1; i >= 0; i--)
    if (script_has_workflow(eng->scripts[i], workflow, version))
      return eng->scripts[i];
  return NULL;
}

static script *script_for(engine *eng, const store_case *c) {
  script *sc = script_with(eng, c->workflow, c->version);
  /* The handler call then reports the missing version; the sweep never
   * gets there (version_waits). */
  return sc ? sc : eng->sc;
}

static int follow_to(engine *eng, int64_t generation);

/* A timer is known by its due time and id, an event by its id (due 0). */
struct passed_key {
  int timer;
  rc_time due;
  int64_t id;
};

static int key_cmp(const struct passed_key *a, const struct passed_key *b) {
  if (a->timer != b->timer) return a->timer < b->timer ? -1 : 1;
  if (a->due != b->due) return a->due < b->due ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

static int passed_at(const engine *eng, struct passed_key key, int *at) {
  int lo = 0, hi = eng->npassed;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (key_cmp(&eng->passed[mid], &key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *at = lo;
  return lo < eng->npassed && !key_cmp(&eng->passed[lo], &key);
}

/* Whether the run left this work waiting already; notes that claims
 * hand such work out again. */
static int passed_over(engine *eng, struct passed_key key) {
  int at;
  if (!eng->npassed || !passed_at(eng, key, &at)) return 0;
  eng->again = 1;
  return 1;
}

/* Out of memory, the work is not noted: it is only counted again. */
static void pass_over(engine *eng, struct passed_key key) {
  int at;
  if (passed_at(eng, key, &at)) return;
  if (eng->npassed == eng->passed_cap) {
    int cap = eng->passed_cap ? eng->passed_cap * 2 : 64;
    struct passed_key *grown =
        realloc(eng->passed, (size_t)cap * sizeof *grown);
    if (!grown) return;
    eng->passed = grown;
    eng->passed_cap = cap;
  }
  memmove(eng->passed + at + 1, eng->passed + at,
          (size_t)(eng->npassed - at) * sizeof *eng->passed);
  eng->passed[at] = key;
  eng->npassed++;
}

static int held_at(const engine *eng, const char *case_id, int *at) {
  int lo = 0, hi = eng->nheld;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (strcmp(eng->held[mid], case_id) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *at = lo;
  return lo < eng->nheld && !strcmp(eng->held[lo], case_id);
}

/* Out of memory, the case is not noted: its timers wait out their lease. */
static void note_held(engine *eng, const char *case_id) {
  int at;
  char *id;
  if (held_at(eng, case_id, &at)) return;
  if (eng->nheld == eng->held_cap) {
    int cap = eng->held_cap ? eng->held_cap * 2 : 16;
    char **grown = realloc(eng->held, (size_t)cap * sizeof *grown);
    if (!grown) return;
    eng->held = grown;
    eng->held_cap = cap;
  }
  if (!(id = strdup(case_id))) return;
  memmove(eng->held + at + 1, eng->held + at,
          (size_t)(eng->nheld - at) * sizeof *eng->held);
  eng->held[at] = id;
  eng->nheld++;
}

/* At the end of a run: the held cases' timers are tried again shortly
 * (their claims would otherwise hold for the lease). */
static int retry_held(engine *eng, rc_error *err) {
  int rc = RC_OK;
  for (int i = 0; i < eng->nheld; i++) {
    if (rc == RC_OK)
      rc = store_timers_retry(eng->st, eng->held[i], HELD_RETRY_MS,
                              &eng->lease, err);
    free(eng->held[i]);
  }
  eng->nheld = 0;
  return rc;
}

/* How many more rows a claim asks for: those it would hand out again. */
static int passed_extra(const engine *eng) {
  return eng->again ? eng->npassed : 0;
}

/* A case on a workflow version this node has not loaded: another node
 * reloaded scripts that this one has not followed yet, or this node's
 * files are behind. It follows the book first (once a run, and loads
 * at most once a generation); if the version is still missing, the
 * case's work is left as it was, for a node that has it — never put in
 * error for a file missing here. */
static int version_waits(engine *eng, const store_case *c) {
  int64_t generation;
  rc_error err;
  if (c->closed || c->error || script_with(eng, c->workflow, c->version))
    return 0;
  if (!eng->looked) {
    eng->looked = 1;
    if (store_reload_generation(eng->st, &generation, &err) == RC_OK &&
        generation != eng->tried && follow_to(eng, generation) == RC_OK &&
        script_with(eng, c->workflow, c->version))
      return 0;
  }
  snprintf(eng->reloads.missing, sizeof eng->reloads.missing, "%s v%d",
           c->workflow, c->version);
  eng->reloads.waiting++;
  return 1;
}

/* A resend of the same completion (a collector's phone retrying without
 * signal) is answered with what was stored; another body for a done task
 * is a conflict. Resends compare after normalising, as the first send was
 * stored. */
static int completion_seen(const store_task_info *t, json_t *body,
                           json_t **result, int *duplicate, int64_t task_id,
                           rc_error *err) {
  json_t *stored = t->result ? json_loads(t->result, 0, NULL) : NULL;
  json_t *given = json_deep_copy(body);
  int same;
  json_object_del(given, "conversation");
  if (stored) json_object_del(stored, "conversation");
  same = stored && strcmp(t->status, "done") == 0 && json_equal(stored, given);
  json_decref(given);
  if (same) {
    *duplicate = 1;
    if (result) *result = stored;
    else json_decref(stored);
    return RC_OK;
  }
  json_decref(stored);
  return rc_error_set(err, RC_ECONFLICT, "task",
                      "task %lld is already closed (%s)", (long long)task_id,
                      strcmp(t->status, "done") == 0
                          ? "done, with another outcome or other fields"
                          : t->status);
}

/* What a task's kind counts as for the guard (call, visit), or NULL. */
static const char *task_contact(engine *eng, const store_case *c,
                                const store_task_info *t, script_task_kind *k) {
  if (script_task_kind_info(script_for(eng, c), c->workflow, c->version,
                            t->kind, k, NULL) == RC_OK &&
      k->counts_as[0])
    return k->counts_as;
  if (!strcmp(t->kind, "call")) return "call";
  if (!strcmp(t->kind, "visit") || !strcmp(t->kind, "home_visit") ||
      !strcmp(t->kind, "workplace_visit"))
    return "visit";
  return NULL;
}

/* A task done is a contact on what its kind counts as (call, visit), and
 * work done by whoever did it: the console user completing it, else the
 * one who had claimed it. */
static int task_figures(engine *eng, const store_case *c,
                        const store_task_info *t, rc_error *err) {
  script_task_kind k;
  const char *channel = task_contact(eng, c, t, &k),
             *who = eng->actor[0] ? eng->actor : t->assignee;
  int rc;
  if (channel && (rc = figure(eng, "contact", channel, NULL, NULL, 1, 0, err)))
    return rc;
  if (who[0])
    return figure(eng, "collector", who, "tasks_done", NULL, 1, 0, err);
  return RC_OK;
}

/* When a call or visit was recorded, in the borrower's own time, and
 * whether that was inside the contact hours: the guard only moves a
 * task's due time into them, a collector may still ring at 22:00, and a
 * supervisor answering that complaint reads it here instead of working
 * out the borrower's zone from the institution's time. */
static int contact_when(engine *eng, const store_case *c,
                        const store_task_info *t, json_t *data, rc_error *err) {
  script_task_kind k;
  const store_borrower *b;
  const policy_config *p = &script_config(eng->sc)->policy;
  rc_zone *zone = NULL;
  rc_time now = clock_now(eng->clk);
  char when[40];
  if (!task_contact(eng, c, t, &k)) return RC_OK;
  if (!(b = engine_borrower_view(eng, c->borrower_id, err)))
    return RC_ENOTFOUND;
  if (b->timezone && b->timezone[0])
    zone = clock_zone_get(eng->clk, b->timezone, NULL);
  if (!zone) zone = clock_zone(eng->clk);
  clock_zone_format(zone, now, when, sizeof when);
  json_object_set_new(data, "borrower_time", json_string(when));
  if (p->has_hours)
    json_object_set_new(data, "within_contact_hours",
                        json_boolean(policy_next_window(p, zone, now) == now));
  return RC_OK;
}

static int promise_day_check(engine *eng, const char *by_date, rc_error *err);
static int promise_outcome_check(engine *eng, const char *by, rc_error *err);

int engine_task_complete(engine *eng, int64_t task_id, json_t *outcome,
                         json_t **result, int *duplicate, rc_error *err) {
  store_task_info t;
  store_case c;
  json_t *body = NULL;
  int rc, conversation = 0, dup = 0;
  if (result) *result = NULL;
  if (duplicate) *duplicate = 0;
  if (!json_is_object(outcome) ||
      !json_string_value(json_object_get(outcome, "outcome")))
    return rc_error_set(err, RC_EINVAL, "outcome",
                        "a task completion needs an outcome string");
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  if ((rc = store_task_get(eng->st, task_id, &t, err)) != RC_OK)
    return ingest_end(eng, rc, err);
  if ((rc = case_hold(eng, t.case_id, &c, err)) != RC_OK) {
    free(t.result);
    return ingest_end(eng, rc, err);
  }
  /* Checked against the declaration before anything is written. */
  body = json_deep_copy(outcome);
  rc = script_task_check(script_for(eng, &c), c.workflow, c.version, t.kind,
                         c.currency, body, &conversation, err);
  /* A promise outcome is held to the promise's rules here, where the
   * collector can be told, not later in the handler's case:promise: a
   * "money" field takes 0 (a fee waived), a promise of nothing does not. */
  if (rc == RC_OK &&
      !strcmp(json_string_value(json_object_get(body, "outcome")), "promise")) {
    json_t *amount = json_object_get(body, "amount");
    if (json_is_integer(amount) && json_integer_value(amount) <= 0)
      rc = rc_error_set(err, RC_EINVAL, "amount",
                        "a promise needs a positive amount in minor units");
    else if (json_is_string(json_object_get(body, "by")))
      rc = promise_outcome_check(
          eng, json_string_value(json_object_get(body, "by")), err);
    /* Above the balance the handler's case:promise would put the case in
     * error after the task was done. Only while the task is open: a
     * resend of a completion taken before a payment is still the one
     * taken, not a refusal. */
    if (rc == RC_OK && json_is_integer(amount) &&
        json_integer_value(amount) > c.balance &&
        (!strcmp(t.status, "open") || !strcmp(t.status, "claimed")))
      rc = rc_error_set(err, RC_EINVAL, "amount",
                        "promise of %lld exceeds the balance (%lld)",
                        (long long)json_integer_value(amount),
                        (long long)c.balance);
  }
  if (rc == RC_OK && strcmp(t.status, "open") != 0 &&
      strcmp(t.status, "claimed") != 0)
    rc = completion_seen(&t, body, result, &dup, task_id, err);
  if (rc == RC_OK && !dup) {
    const char *what = json_string_value(json_object_get(body, "outcome"));
    char *text;
    if (conversation) json_object_set_new(body, "conversation", json_true());
    text = ljson_dump(body);
    rc = store_task_complete(eng->st, task_id, what, text, clock_now(eng->clk),
                             err);
    free(text);
    if (rc == RC_ECONFLICT) {
      /* Another node completed it after the read above (PostgreSQL: the
       * read came before the case was held, and this completion waited
       * for that node's). The answer is the one the task gives now: a
       * resend of that completion is a duplicate, as after it. */
      free(t.result);
      t.result = NULL;
      if ((rc = store_task_get(eng->st, task_id, &t, err)) == RC_OK)
        rc = completion_seen(&t, body, result, &dup, task_id, err);
    }
    if (rc == RC_OK && !dup) rc = task_figures(eng, &c, &t, err);
    if (rc == RC_OK && !dup) {
      json_t *data = json_deep_copy(body);
      json_object_set_new(data, "task", json_integer(task_id));
      json_object_set_new(data, "kind", json_string(t.kind));
      text = ljson_dump(data);
      /* The journal's row says when in the borrower's time; the handler's
       * event (text, dumped above) keeps what it was given. */
      rc = contact_when(eng, &c, &t, data, err);
      if (rc == RC_OK)
        rc = journal(eng, t.case_id, "task_done", NULL, 0, data, err);
      else
        json_decref(data);
      if (rc == RC_OK)
        rc = store_event_put(eng->st, t.case_id, "task_done", text,
                             clock_now(eng->clk), NULL, err);
      free(text);
    }
    if (rc == RC_OK && !dup && result) *result = json_incref(body);
  }
  if (duplicate) *duplicate = dup;
  json_decref(body);
  store_case_free(&c);
  free(t.result);
  return ingest_end(eng, rc, err);
}

int engine_task_claim(engine *eng, int64_t task_id, const char *assignee,
                      rc_error *err) {
  char case_id[160];
  int rc;
  if (!assignee || !*assignee)
    return rc_error_set(err, RC_EINVAL, "assignee",
                        "claiming a task needs an assignee");
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  rc = store_task_take(eng->st, task_id, assignee, STORE_TAKE_CLAIM, case_id,
                       sizeof case_id, err);
  if (rc == RC_OK)
    rc = journal(eng, case_id, "task_claimed", NULL, 0,
                 json_pack("{s:I, s:s}", "task", (json_int_t)task_id,
                           "assignee", assignee),
                 err);
  return ingest_end(eng, rc, err);
}

/* --- a person's work on a case (the console) ------------------------- */

/* The case a person works on, outside any handler. A closed case still
 * takes a note (a call after the last payment is worth recording), not a
 * promise. */
static int person_case(engine *eng, const char *case_id, store_case *c,
                       rc_error *err) {
  int rc = case_hold(eng, case_id, c, err);
  if (rc == RC_ENOTFOUND)
    return rc_error_set(err, RC_ENOTFOUND, "case", "unknown case %s", case_id);
  return rc;
}

static int promise_record(engine *eng, const store_case *c, rc_money amount,
                          const char *by_date, int64_t *id, rc_error *err);

/* Whether queue is in a user's queues (a JSON array). */
static int user_has_queue(const char *queues_json, const char *queue) {
  json_t *list = json_loads(queues_json ? queues_json : "[]", 0, NULL), *q;
  size_t i;
  int found = 0;
  json_array_foreach(list, i, q) {
    if (json_is_string(q) && strcmp(json_string_value(q), queue) == 0)
      found = 1;
  }
  json_decref(list);
  return found;
}

json_t *engine_task_outcomes(engine *eng, const store_case *c,
                             const char *kind) {
  return script_task_outcomes(script_for(eng, c), c->workflow, c->version,
                              kind);
}

/* A note's key is claimed as an event key of this type: no event can be
 * posted with it (names starting "__" belong to the core), so a note's
 * key and an event's never stand for each other. */
#define NOTE_KEY_TYPE "__note"

typedef struct note_seen {
  const char *key;
  int found;
  char *text; /* owned */
  rc_time at;
  char user[USER_NAME_MAX + 1];
} note_seen;

/* A journal row: the note the key named, if this is it. */
static int note_row(void *ud, const store_value *cols, int n) {
  note_seen *w = ud;
  const char *kind = NULL, *detail = NULL;
  rc_time at = 0;
  json_t *d;
  for (int k = 0; k < n; k++) {
    if (!strcmp(cols[k].name, "kind"))
      kind = cols[k].s;
    else if (!strcmp(cols[k].name, "detail"))
      detail = cols[k].s;
    else if (!strcmp(cols[k].name, "at"))
      at = cols[k].i;
  }
  if (!kind || strcmp(kind, "note") != 0 || !detail) return 0;
  if (!(d = json_loads(detail, 0, NULL))) return 0;
  if (json_is_string(json_object_get(d, "key")) &&
      !strcmp(json_string_value(json_object_get(d, "key")), w->key)) {
    const char *text = json_string_value(json_object_get(d, "text"));
    const char *user = json_string_value(json_object_get(d, "user"));
    free(w->text);
    w->text = text ? strdup(text) : NULL;
    w->at = at;
    snprintf(w->user, sizeof w->user, "%s", user ? user : "");
    w->found = 1;
  }
  json_decref(d);
  return 0;
}

/* note_again's look at the newest rows: how many it was handed. */
enum { NOTE_LOOK_FIRST = 32 };
typedef struct note_rows {
  note_seen *seen;
  int rows;
} note_rows;

static int note_counted(void *ud, const store_value *cols, int n) {
  note_rows *got = ud;
  got->rows++;
  return note_row(got->seen, cols, n);
}

/* A key already taken for this case's note: the same text is a resend
 * (a lost answer, a proxy's 5xx), answered with the note taken; other
 * text under the key is a conflict, not a second note nor an edit. */
static int note_again(engine *eng, const char *case_id, const char *text,
                      const char *key, engine_note_taken *out, rc_error *err) {
  note_seen w = {.key = key};
  int rc;
  /* A resend in the same group commit finds the first in rows held. */
  if ((rc = store_journal_write(eng->st, err)) != RC_OK) return rc;
  /* A resend comes soon after the note (a lost answer, a proxy's 5xx):
   * the case's newest rows first, four times as many each look, not the
   * whole journal of a case years old. A look that reads fewer rows than
   * it asked for read them all. */
  for (int limit = NOTE_LOOK_FIRST; !w.found; limit *= 4) {
    note_rows got = {.seen = &w};
    if ((rc = store_journal_each(eng->st, case_id, limit, note_counted, &got,
                                 err)) != RC_OK) {
      free(w.text);
      return rc;
    }
    if (got.rows < limit || limit > INT_MAX / 4) break;
  }
  if (w.found && w.text && strcmp(w.text, text) != 0)
    rc = rc_error_set(err, RC_ECONFLICT, "key",
                      "key '%s' already names another note of case %s: a "
                      "new note needs a new key",
                      key, case_id);
  /* No note of this case under the key: an event of it took the key
   * before keys had a type (the claim matches those by case alone).
   * Answered duplicate, the note was never written. */
  else if (!w.found)
    rc = rc_error_set(err, RC_ECONFLICT, "key",
                      "key '%s' already names an event of case %s: a note "
                      "needs a key of its own",
                      key, case_id);
  else {
    out->at = w.at;
    snprintf(out->user, sizeof out->user, "%s", w.user);
  }
  out->duplicate = rc == RC_OK;
  free(w.text);
  return rc;
}

int engine_case_note(engine *eng, const char *case_id, const char *text,
                     const char *key, engine_note_taken *out, rc_error *err) {
  store_case c;
  engine_note_taken none;
  int rc, dup = 0;
  if (!out) out = &none;
  memset(out, 0, sizeof *out);
  if (!text || !*text)
    return rc_error_set(err, RC_EINVAL, "text", "a note needs text");
  if (strlen(text) > ENGINE_NOTE_MAX)
    return rc_error_set(err, RC_EINVAL, "text",
                        "the note is too long (%zu bytes; at most %d)",
                        strlen(text), ENGINE_NOTE_MAX);
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  if ((rc = person_case(eng, case_id, &c, err)) != RC_OK)
    return ingest_end(eng, rc, err);
  out->at = clock_now(eng->clk);
  snprintf(out->user, sizeof out->user, "%s", eng->actor);
  if (key && (rc = store_event_key_claim(eng->st, key, case_id, NOTE_KEY_TYPE,
                                         out->at, &dup, err)) == RC_ECONFLICT)
    rc = rc_error_set(err, RC_ECONFLICT, "key",
                      "key '%s' already names another write (a note of "
                      "another case, or an event): a new note needs a new key",
                      key);
  if (rc == RC_OK && dup)
    rc = note_again(eng, case_id, text, key, out, err);
  else if (rc == RC_OK)
    rc = journal(eng, case_id, "note", c.state, c.version,
                 key ? json_pack("{s:s, s:s}", "text", text, "key", key)
                     : json_pack("{s:s}", "text", text),
                 err);
  store_case_free(&c);
  return ingest_end(eng, rc, err);
}

int engine_case_promise(engine *eng, const char *case_id, rc_money amount,
                        const char *by, int64_t *id, char *by_date,
                        int *duplicate, rc_error *err) {
  store_case c;
  store_promise open_;
  rc_time at;
  rc_date d;
  rc_error perr;
  int rc;
  *id = 0;
  *duplicate = 0;
  if (amount <= 0)
    return rc_error_set(err, RC_EINVAL, "amount",
                        "a promise needs a positive amount in minor units");
  /* A date, a date-time or a duration from now ("7d"): the promise is
   * for the institution's calendar day it names. */
  if (!by || clock_parse_time(eng->clk, by, &at, &perr) != RC_OK)
    return rc_error_set(err, RC_EINVAL, "by",
                        "by must be a date (2026-01-31), a date-time or a "
                        "duration from now (7d)");
  d = clock_zone_date(clock_zone(eng->clk), at);
  clock_date_format(&d, by_date, 16);
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  if ((rc = person_case(eng, case_id, &c, err)) != RC_OK)
    return ingest_end(eng, rc, err);
  if (c.closed) {
    rc = rc_error_set(err, RC_ECONFLICT, "case",
                      "case %s is closed: it takes no promise", case_id);
  } else if ((rc = store_promise_open(eng->st, case_id, &open_, err)) ==
                 RC_OK &&
             open_.amount == amount && strcmp(open_.by_date, by_date) == 0) {
    /* The same promise sent again (a double tap, a resend without
     * signal) is the one already taken, not a second one. */
    *id = open_.id;
    *duplicate = 1;
  } else if (rc == RC_OK || rc == RC_ENOTFOUND) {
    rc = promise_record(eng, &c, amount, by_date, id, err);
  }
  store_case_free(&c);
  return ingest_end(eng, rc, err);
}

int engine_task_assign(engine *eng, int64_t task_id, const char *user,
                       rc_error *err) {
  store_task_info t;
  store_user u;
  int rc;
  if (!user || !*user)
    return rc_error_set(err, RC_EINVAL, "user", "assigning needs a user");
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  if ((rc = store_task_get(eng->st, task_id, &t, err)) != RC_OK)
    return ingest_end(eng, rc, err);
  free(t.result);
  rc = store_user_get(eng->st, user, &u, NULL, 0, err);
  if (rc == RC_ENOTFOUND) {
    rc = rc_error_set(err, RC_EINVAL, "user", "unknown user %s", user);
  } else if (rc == RC_OK) {
    if (u.disabled)
      rc = rc_error_set(err, RC_EINVAL, "user", "user %s is disabled", user);
    else if (strcmp(u.role, "agent") && strcmp(u.role, "supervisor") &&
             strcmp(u.role, "admin"))
      rc = rc_error_set(err, RC_EINVAL, "user",
                        "user %s has the %s role: it works no tasks", user,
                        u.role);
    else if (!strcmp(u.role, "agent") && !user_has_queue(u.queues, t.queue))
      rc = rc_error_set(err, RC_EINVAL, "user",
                        "queue %s is not among user %s's queues", t.queue,
                        user);
    store_user_free(&u);
  }
  if (rc == RC_OK && strcmp(t.status, "open") && strcmp(t.status, "claimed"))
    rc = rc_error_set(err, RC_ECONFLICT, "task", "task %lld is %s",
                      (long long)task_id, t.status);
  if (rc == RC_OK)
    rc = store_task_take(eng->st, task_id, user, STORE_TAKE_ASSIGN, NULL, 0,
                         err);
  if (rc == RC_OK)
    rc = journal(eng, t.case_id, "task_assigned", NULL, 0,
                 json_pack("{s:I, s:s, s:o, s:s}", "task", (json_int_t)task_id,
                           "queue", t.queue, "from",
                           t.assignee[0] ? json_string(t.assignee)
                                         : json_null(),
                           "to", user),
                 err);
  return ingest_end(eng, rc, err);
}

static int held_back(const char *status) {
  return strcmp(status, "deferred") == 0 || strcmp(status, "blocked") == 0 ||
         strcmp(status, "cancelled") == 0;
}

/* A message's outcome queued for its case. Since SQLite schema 20 a
 * message added to the book by hand may name a case the book does not
 * hold (docs/cli.md): its outcome is recorded all the same, with no case
 * to tell. Refusing it stopped the service's outbox for every borrower
 * (a final failure) or had a gateway retry its receipt for ever. */
static int tell_case(engine *eng, const char *case_id, const char *type,
                     const char *data, rc_error *err) {
  int rc = store_event_put(eng->st, case_id, type, data, clock_now(eng->clk),
                           NULL, err);
  return rc == RC_ENOTFOUND ? RC_OK : rc;
}

int engine_receipt(engine *eng, int64_t message_id, const char *status,
                   int *duplicate, rc_error *err) {
  char case_id[160], was[16], data[64];
  int delivered, changed = 0;
  int rc;
  if (duplicate) *duplicate = 0;
  if (!status || (strcmp(status, "delivered") && strcmp(status, "failed")))
    return rc_error_set(err, RC_EINVAL, "status",
                        "a receipt status is \"delivered\" or \"failed\"");
  delivered = strcmp(status, "delivered") == 0;
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  rc = store_message_case(eng->st, message_id, case_id, sizeof case_id, was,
                          err);
  /* Only a queued message goes to a gateway, and the guard's verdicts
   * are given before it ever is: a receipt for one it held back names
   * another message, and would settle this one unsent. */
  if (rc == RC_OK && held_back(was))
    rc = rc_error_set(err, RC_ECONFLICT, "message",
                      "message %lld was never sent: it is %s",
                      (long long)message_id, was);
  if (rc == RC_OK)
    rc = store_message_update(
        eng->st, message_id,
        &(store_message_change){.fields = STORE_MSG_STATUS, .status = status},
        &changed, err);
  /* Settled before: read again, as another receipt may have come between
   * the read and the write. A gateway's retry is acknowledged, the other
   * outcome refused — a status never goes back. */
  if (rc == RC_OK && !changed)
    rc = store_message_case(eng->st, message_id, case_id, sizeof case_id, was,
                            err);
  if (rc == RC_OK && !changed && strcmp(was, status) != 0)
    rc = rc_error_set(err, RC_ECONFLICT, "status", "message %lld is %s",
                      (long long)message_id, was);
  if (rc == RC_OK && !changed && duplicate) *duplicate = 1;
  snprintf(data, sizeof data, "{\"message\":%lld}", (long long)message_id);
  if (rc == RC_OK && changed)
    rc = tell_case(eng, case_id,
                   delivered ? "message_delivered" : "message_failed", data,
                   err);
  return ingest_end(eng, rc, err);
}

int engine_delivery(engine *eng, int64_t message_id, const char *case_id,
                    int ok, int final, int attempts, rc_time next_attempt,
                    const char *reason, rc_error *err) {
  const char *status = ok ? "sent" : final ? "failed" : "queued";
  int changed = 0, rc;
  /* The record of a send already made need not wait for the disk: a power
   * cut that takes it back has the message sent again with the same
   * idempotency key, as a crash between the send and the record would;
   * the next barrier (an answer, the next hand-over) makes it durable. */
  if (!store_in_transaction(eng->st)) {
    if ((rc = engine_begin_unsynced(eng, err)) != RC_OK) return rc;
    eng->own_txn = 1;
  }
  rc = store_message_update(
      eng->st, message_id,
      &(store_message_change){
          .fields = STORE_MSG_STATUS | STORE_MSG_REASON | STORE_MSG_ATTEMPT,
          .status = status,
          .attempts = attempts,
          .next_attempt = ok || final ? 0 : next_attempt,
          .reason = reason,
          .at = clock_now(eng->clk)},
      &changed, err);
  if (rc == RC_OK) {
    json_t *d =
        json_pack("{s:I, s:s, s:i, s:s?}", "message", (json_int_t)message_id,
                  "status", status, "attempts", attempts, "reason", reason);
    if (!ok && !final) {
      char at[40];
      clock_zone_format(clock_zone(eng->clk), next_attempt, at, sizeof at);
      json_object_set_new(d, "retry_at", json_string(at));
    }
    rc = journal(eng, case_id, "delivery", NULL, 0, d, err);
  }
  /* Not changed: the gateway's receipt came first and its event is
   * queued already. */
  if (rc == RC_OK && changed && final && !ok) {
    json_t *d = json_pack("{s:I, s:s?}", "message", (json_int_t)message_id,
                          "reason", reason);
    char *text = ljson_dump(d);
    rc = tell_case(eng, case_id, "message_failed", text, err);
    free(text);
    json_decref(d);
  }
  return ingest_end(eng, rc, err);
}

int engine_reply(engine *eng, const char *case_id, const char *from,
                 const char *text, char *case_out, rc_error *err) {
  char e164[17];
  int rc;
  if (!text)
    return rc_error_set(err, RC_EINVAL, "text", "a reply needs its text");
  /* An empty sender names nobody: matched, it found a contact kept
   * without a value ('' in a book edited by hand). */
  if (!case_id && (!from || !*from))
    return rc_error_set(err, RC_EINVAL, "from",
                        "a reply needs the sender (from) or the case");
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  /* A gateway writes the sender as it likes: "+86 138...", "0086...",
   * "138...". Contact points are stored in E.164, so the sender is too. */
  if (from && phone_normalize(from, script_config(eng->sc)->country, e164,
                              sizeof e164) == PHONE_OK)
    from = e164;
  if (case_id) {
    snprintf(case_out, 160, "%s", case_id);
    rc = store_case_exists(eng->st, case_id, err);
  } else if ((rc = store_reply_case(eng->st, from, case_out, 160, err)) ==
             RC_ENOTFOUND) {
    rc = rc_error_set(err, RC_ENOTFOUND, "from",
                      "no open case of a borrower reachable at %s", from);
  }
  if (rc == RC_OK)
    rc = enqueue_event(eng, case_out, "reply",
                       json_pack("{s:s, s:s?}", "text", text, "from", from),
                       err);
  return ingest_end(eng, rc, err);
}

int engine_retry(engine *eng, const char *case_id, rc_error *err) {
  store_case c;
  int rc, n = 0;
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  if ((rc = case_hold(eng, case_id, &c, err)) != RC_OK)
    return ingest_end(eng, rc, err);
  if (!c.error) {
    rc = rc_error_set(err, RC_ECONFLICT, "case", "case %s is not in error",
                      case_id);
  } else {
    rc = store_events_retry(eng->st, case_id, &n, err);
    if (rc == RC_OK)
      rc = store_case_write(
          eng->st,
          &(store_case_change){.id = case_id, .fields = STORE_CASE_ERROR}, err);
    if (rc == RC_OK)
      rc = journal(eng, case_id, "retry", c.state, c.version,
                   json_pack("{s:s, s:i}", "error", c.error, "events", n), err);
  }
  store_case_free(&c);
  return ingest_end(eng, rc, err);
}

/* Case ids read from the store, for work that writes while it walks them
 * (the statement that read them is reset first). */
typedef struct id_list {
  char **ids;
  int n, cap;
} id_list;

static int collect_id(void *ud, const store_value *cols, int n) {
  id_list *l = ud;
  (void)n;
  if (l->n == l->cap) {
    char **grown;
    l->cap = l->cap ? l->cap * 2 : 64;
    grown = realloc(l->ids, (size_t)l->cap * sizeof *l->ids);
    if (!grown) return 1;
    l->ids = grown;
  }
  l->ids[l->n++] = strdup(cols[0].s);
  return 0;
}

static void id_list_free(id_list *l) {
  for (int i = 0; i < l->n; i++) free(l->ids[i]);
  free(l->ids);
}

int engine_retry_all(engine *eng, engine_case_fn each, void *ud, int *count,
                     rc_error *err) {
  id_list cases = {0};
  int rc;
  *count = 0;
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  rc = store_errors_page(eng->st, 0, INT_MAX, collect_id, &cases, err);
  for (int i = 0; i < cases.n && rc == RC_OK; i++) {
    if (!cases.ids[i])
      rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory listing cases");
    else if ((rc = engine_retry(eng, cases.ids[i], err)) == RC_OK) {
      (*count)++;
      if (each) each(ud, cases.ids[i]);
    }
  }
  id_list_free(&cases);
  return ingest_end(eng, rc, err);
}

/* --- console users -------------------------------------------------- */

static int user_password_ok(const char *password, rc_error *err) {
  return user_check_password(password, password ? strlen(password) : 0, err);
}

/* 1 when a display name reads as the login: the same letters, whatever
 * their case or width ("Li.Wei", "ｌｉ．ｗｅｉ" for li.wei). */
static int reads_as_login(const char *display, const char *login) {
  const unsigned char *d = (const unsigned char *)display;
  const unsigned char *l = (const unsigned char *)login;
  while (*d && *l) {
    unsigned c = *d++;
    /* U+FF01..FF5E, the full-width forms of ! to ~: EF BC 81..EF BD 9E. */
    if (c == 0xEF && (d[0] == 0xBC || d[0] == 0xBD) && d[1] >= 0x80 &&
        d[1] <= 0xBF) {
      unsigned cp = 0xF000u | (unsigned)(d[0] & 0x3F) << 6 | (d[1] & 0x3F);
      if (cp >= 0xFF01 && cp <= 0xFF5E) c = cp - 0xFEE0, d += 2;
    }
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    if (c != *l++) return 0;
  }
  return !*d && !*l;
}

/* Skeletons (user_skeleton) are of at most a 64-character name. */
enum { SKELETON_SIZE = 1024 };

typedef struct {
  const char *name, *display; /* the user changed and their display name */
  int added; /* 1: name is new, asked against logins and display names */
  /* The display name looks like the user's own login ("Ii.wei" for
   * li.wei): it shows what the login shows. */
  int looks_own;
  /* Their skeletons, "" when none could be made. */
  char name_skel[SKELETON_SIZE], display_skel[SKELETON_SIZE];
  char clash[USER_NAME_MAX + 1];
  /* What clashes: NC_LOGIN display reads as clash's login, NC_LOOKS_LOGIN
   * looks like it, NC_LOOKS_SHOWN looks like (not is) clash's display name
   * `shown`; NC_NAME name is, or looks like, clash's display name;
   * NC_NAME_LOOKS name looks like clash's login. */
  enum {
    NC_LOGIN = 1,
    NC_LOOKS_LOGIN,
    NC_LOOKS_SHOWN,
    NC_NAME,
    NC_NAME_LOOKS
  } how;
  char shown[256];
} name_clash;

static int same_skeleton(const char *skel, const char *text) {
  char other[SKELETON_SIZE];
  return *skel && text && *text && user_skeleton(text, other, sizeof other) &&
         !strcmp(skel, other);
}

static int find_clash(void *ud, const store_value *cols, int ncols) {
  name_clash *nc = ud;
  /* A NULL column's s is not set (no display name). */
  const char *login = cols[0].type == STORE_TEXT ? cols[0].s : NULL;
  const char *shown =
      ncols > 5 && cols[5].type == STORE_TEXT ? cols[5].s : NULL;
  int has_display = nc->display && *nc->display;
  if (!login || strcmp(login, nc->name) == 0) return 0;
  if (has_display && reads_as_login(nc->display, login))
    nc->how = NC_LOGIN;
  /* A display name like the user's own login is refused only where the
   * login itself would be: "mary" shown for mary, in a book that let
   * "rnary" be another's login before logins were kept apart, shows what
   * mary's login always did. */
  else if (has_display && !nc->looks_own &&
           same_skeleton(nc->display_skel, login))
    nc->how = NC_LOOKS_LOGIN;
  /* Two people may share a name as it is written (two 张敏), not one
   * made to look like another's with other letters. */
  else if (has_display && !nc->looks_own && shown &&
           strcmp(shown, nc->display) != 0 &&
           same_skeleton(nc->display_skel, shown))
    nc->how = NC_LOOKS_SHOWN;
  else if (nc->added && shown &&
           (reads_as_login(shown, nc->name) ||
            same_skeleton(nc->name_skel, shown)))
    nc->how = NC_NAME;
  /* A user with no display name is shown by login: "rnary" beside mary
   * reads as her. */
  else if (nc->added && same_skeleton(nc->name_skel, login))
    nc->how = NC_NAME_LOOKS;
  else
    return 0;
  rc_copy(nc->clash, sizeof nc->clash, login);
  rc_copy(nc->shown, sizeof nc->shown, shown ? shown : "");
  return 1;
}

/* A name on screen stands for one person: a display name that reads as
 * another user's login (or a new login that is another's display name)
 * would show one person's calls, promises and reassignments as the
 * other's in the timeline, the top bar and Reassign's list. Asked inside
 * the write's transaction, so two adds cannot both pass. */
int engine_user_names_apart(engine *eng, const char *name, const char *display,
                            int added, rc_error *err) {
  name_clash nc;
  int rc;
  memset(&nc, 0, sizeof nc);
  nc.name = name;
  nc.display = display;
  nc.added = added;
  /* A skeleton that cannot be made compares with nothing: the checks by
   * case and width above still hold. */
  if (!user_skeleton(name, nc.name_skel, sizeof nc.name_skel))
    nc.name_skel[0] = '\0';
  if (display && *display &&
      !user_skeleton(display, nc.display_skel, sizeof nc.display_skel))
    nc.display_skel[0] = '\0';
  nc.looks_own = nc.name_skel[0] && !strcmp(nc.name_skel, nc.display_skel);
  rc = store_users_each(eng->st, find_clash, &nc, err);
  if (rc != RC_OK || !nc.clash[0]) return rc;
  switch (nc.how) {
    case NC_LOGIN:
      return rc_error_set(err, RC_ECONFLICT, "display_name",
                          "display_name '%s' reads as the login of user %s: "
                          "the console would show %s's work as theirs",
                          display, nc.clash, name);
    case NC_LOOKS_LOGIN:
      return rc_error_set(err, RC_ECONFLICT, "display_name",
                          "display_name '%s' looks like %s, the login of user "
                          "%s (letters of another script or shape that read "
                          "the same): the console would show %s's work as "
                          "theirs",
                          display, nc.clash, nc.clash, name);
    case NC_LOOKS_SHOWN:
      return rc_error_set(err, RC_ECONFLICT, "display_name",
                          "display_name '%s' looks like '%s', the display name "
                          "of user %s, with other letters: the console would "
                          "show one's work as the other's (the same name as "
                          "written may be shared)",
                          display, nc.shown, nc.clash);
    case NC_NAME_LOOKS:
      return rc_error_set(err, RC_ECONFLICT, "name",
                          "name %s looks like %s, the login of user %s "
                          "(letters of another shape that read the same): the "
                          "console would show one's work as the other's",
                          name, nc.clash, nc.clash);
    default:
      return rc_error_set(err, RC_ECONFLICT, "name",
                          "name %s is%s the display name of user %s ('%s'): "
                          "the console would show one's work as the other's",
                          name, reads_as_login(nc.shown, name) ? "" : " like",
                          nc.clash, nc.shown);
  }
}

int engine_user_add(engine *eng, const char *name, const char *role,
                    const char *queues, const char *password,
                    const char *display, rc_error *err) {
  store_user u = {0};
  char hash[USER_HASH_SIZE];
  int rc;
  if ((rc = user_check_name(name, "name", err)) != RC_OK ||
      (rc = user_check_role(role, err)) != RC_OK ||
      (rc = user_check_display(display, err)) != RC_OK ||
      (rc = user_password_ok(password, err)) != RC_OK ||
      (rc = user_queues_json(queues, &u.queues, err)) != RC_OK)
    return rc;
  rc_copy(u.name, sizeof u.name, name);
  rc_copy(u.role, sizeof u.role, role);
  rc_copy(u.display_name, sizeof u.display_name, display ? display : "");
  u.created_at = clock_now(eng->clk);
  /* Hashed before the transaction: a tenth of a second no writer waits. */
  if ((rc = user_hash(password, hash, err)) == RC_OK &&
      (rc = ingest_begin(eng, err)) == RC_OK) {
    rc = engine_user_names_apart(eng, name, display, 1, err);
    if (rc == RC_OK) rc = store_user_insert(eng->st, &u, hash, err);
    if (rc == RC_OK)
      rc = store_user_log(eng->st, u.created_at, name, "added", NULL, err);
    rc = ingest_end(eng, rc, err);
  }
  sodium_memzero(hash, sizeof hash);
  store_user_free(&u);
  return rc;
}

int engine_user_set_display(engine *eng, const char *name, const char *display,
                            rc_error *err) {
  int rc;
  if ((rc = user_check_name(name, "name", err)) != RC_OK ||
      (rc = user_check_display(display, err)) != RC_OK ||
      (rc = ingest_begin(eng, err)) != RC_OK)
    return rc;
  rc = engine_user_names_apart(eng, name, display, 0, err);
  if (rc == RC_OK)
    rc = store_user_update(eng->st, name, -1, NULL, display ? display : "",
                           NULL, err);
  if (rc == RC_OK)
    rc = store_user_log(eng->st, clock_now(eng->clk), name, "display_name",
                        NULL, err);
  return ingest_end(eng, rc, err);
}

int engine_user_set_queues(engine *eng, const char *name, const char *queues,
                           rc_error *err) {
  char *json = NULL;
  int rc;
  if ((rc = user_check_name(name, "name", err)) != RC_OK ||
      (rc = user_queues_json(queues, &json, err)) != RC_OK)
    return rc;
  /* Sessions read the users row on every request: the agent's next list
   * and Next case follow the new queues without a new sign-in. */
  if ((rc = ingest_begin(eng, err)) == RC_OK) {
    rc = store_user_update(eng->st, name, -1, NULL, NULL, json, err);
    if (rc == RC_OK)
      rc = store_user_log(eng->st, clock_now(eng->clk), name, "queues", NULL,
                          err);
    rc = ingest_end(eng, rc, err);
  }
  free(json);
  return rc;
}

int engine_user_set_disabled(engine *eng, const char *name, int disabled,
                             rc_error *err) {
  int rc;
  if ((rc = user_check_name(name, "name", err)) != RC_OK ||
      (rc = ingest_begin(eng, err)) != RC_OK)
    return rc;
  rc = store_user_update(eng->st, name, disabled, NULL, NULL, NULL, err);
  if (rc == RC_OK && disabled)
    rc = store_sessions_delete(eng->st, STORE_SESSIONS_OF_USER, NULL, name, 0,
                               0, NULL, err);
  if (rc == RC_OK)
    rc = store_user_log(eng->st, clock_now(eng->clk), name,
                        disabled ? "disabled" : "enabled", NULL, err);
  return ingest_end(eng, rc, err);
}

int engine_user_passwd(engine *eng, const char *name, const char *password,
                       rc_error *err) {
  char hash[USER_HASH_SIZE];
  int rc;
  if ((rc = user_check_name(name, "name", err)) != RC_OK ||
      (rc = user_password_ok(password, err)) != RC_OK)
    return rc;
  if ((rc = user_hash(password, hash, err)) == RC_OK &&
      (rc = ingest_begin(eng, err)) == RC_OK) {
    rc = store_user_update(eng->st, name, -1, hash, NULL, NULL, err);
    /* Whoever knew the old password is signed out with it. */
    if (rc == RC_OK)
      rc = store_sessions_delete(eng->st, STORE_SESSIONS_OF_USER, NULL, name, 0,
                                 0, NULL, err);
    if (rc == RC_OK)
      rc = store_user_log(eng->st, clock_now(eng->clk), name, "password", NULL,
                          err);
    rc = ingest_end(eng, rc, err);
  }
  sodium_memzero(hash, sizeof hash);
  return rc;
}

_Static_assert(sizeof(((engine_sign_in *)0)->hash) == USER_HASH_SIZE,
               "engine_sign_in holds a whole Argon2id string");

int engine_sign_in_prepare(engine *eng, const char *name, engine_sign_in *s,
                           rc_error *err) {
  int rc;
  memset(s, 0, sizeof *s);
  if (!name || user_check_name(name, "name", NULL) != RC_OK) return RC_OK;
  rc = store_user_get(eng->st, name, &s->user, s->hash, sizeof s->hash, err);
  if (rc == RC_ENOTFOUND) return RC_OK;
  s->found = rc == RC_OK;
  return rc;
}

int engine_sign_in_verify(const engine_sign_in *s, const char *password) {
  int match;
  if (!password) return 0;
  match = user_verify(s->found ? s->hash : NULL, password);
  return s->found && match && !s->user.disabled;
}

void engine_sign_in_free(engine_sign_in *s) {
  sodium_memzero(s->hash, sizeof s->hash);
  store_user_free(&s->user);
}

int engine_user_check(engine *eng, const char *name, const char *password,
                      store_user *out, rc_error *err) {
  engine_sign_in s;
  int rc, match;
  memset(out, 0, sizeof *out);
  if (!name || !password)
    return rc_error_set(err, RC_EINVAL, "password", "wrong name or password");
  if ((rc = engine_sign_in_prepare(eng, name, &s, err)) != RC_OK) return rc;
  match = user_verify(s.found ? s.hash : NULL, password);
  if (s.found && match && !s.user.disabled) {
    *out = s.user; /* the queues move to the caller */
    s.user.queues = NULL;
    rc = RC_OK;
  } else if (s.found && match) {
    rc = rc_error_set(err, RC_EINVAL, "name", "user %s is disabled", name);
  } else {
    rc = rc_error_set(err, RC_EINVAL, "password", "wrong name or password");
  }
  engine_sign_in_free(&s);
  return rc;
}

/* --- console sessions ----------------------------------------------- */

int engine_session_create(engine *eng, const char *id, const char *name,
                          rc_time now, rc_time expires_at, rc_time idle_before,
                          const char *address, rc_error *err) {
  int rc;
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  rc = store_sessions_delete(eng->st, STORE_SESSIONS_STALE, NULL, NULL, now,
                             idle_before, NULL, err);
  if (rc == RC_OK)
    rc = store_session_insert(eng->st, id, name, now, expires_at, address, err);
  if (rc == RC_OK)
    rc = store_user_log(eng->st, now, name, "signed_in", address, err);
  return ingest_end(eng, rc, err);
}

int engine_session_touch(engine *eng, const char *id, rc_time now,
                         rc_error *err) {
  int rc;
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  return ingest_end(eng, store_session_touch(eng->st, id, now, err), err);
}

int engine_session_end(engine *eng, const char *id, const char *name,
                       rc_time now, const char *address, rc_error *err) {
  int rc, deleted = 0;
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  rc = store_sessions_delete(eng->st, STORE_SESSIONS_ONE, id, NULL, 0, 0,
                             &deleted, err);
  if (rc == RC_OK && deleted && name && *name)
    rc = store_user_log(eng->st, now, name, "signed_out", address, err);
  return ingest_end(eng, rc, err);
}

int engine_sign_in_failed(engine *eng, const char *name, rc_time now,
                          const char *address, rc_error *err) {
  int rc;
  if (!name || user_check_name(name, "name", NULL) != RC_OK) name = "?";
  if ((rc = ingest_begin(eng, err)) != RC_OK) return rc;
  return ingest_end(
      eng, store_user_log(eng->st, now, name, "sign_in_failed", address, err),
      err);
}

/* --- dispatch ------------------------------------------------------- */

/* The running step's key, drawn when first asked: never 0 (a case never
 * moved, a message written before schema 35). Keys are compared only
 * among one case's steps, where a node's counter never repeats one
 * within 2^31 steps and two nodes' (or runs') meet once in 2^31: 31
 * bits, four bytes of a row SQLite keeps for a number that fits them,
 * where 63 took eight in every moved case's row and message. */
static int64_t step_key(engine *eng) {
  while (!eng->step_key)
    eng->step_key = (int64_t)(++eng->key_seq & (uint64_t)INT32_MAX);
  return eng->step_key;
}

/* The running step's first move of its case: what it wrote before
 * waits on its key from now on, as what it writes next does. Only an
 * opening's need writing (they were written waiting on 0); the others
 * were written with the key. */
static int step_moves(engine *eng, const char *case_id, rc_error *err) {
  int rc = RC_OK;
  if (eng->step_moved) return RC_OK;
  eng->step_moved = 1;
  if (eng->step_opening && eng->nwrote)
    rc = store_messages_step(eng->st, case_id, eng->wrote, eng->nwrote,
                             step_key(eng), err);
  eng->nwrote = 0;
  return rc;
}

/* The running step ends: what it wrote without moving its case waits on
 * the move before it (the case's mover, read by the store), so that a
 * later step's move leaves it behind, even back to the state it was
 * written in. */
static int step_ends(engine *eng, const char *case_id, rc_error *err) {
  int rc = RC_OK;
  if (!eng->step_moved && !eng->step_opening && eng->nwrote)
    rc =
        store_messages_step(eng->st, case_id, eng->wrote, eng->nwrote, -1, err);
  eng->nwrote = 0;
  eng->step_opening = 0;
  return rc;
}

/* A closed case's waiting messages will never be asked about again: they
 * are cancelled with it, and their release timers went with the rest —
 * but for the closing step's own, which moved_on lets go: a thank-you
 * written at 22:00 by the payment handler that returns the final state
 * waits for 08:00 and goes, its timer armed again. */
static int close_messages(engine *eng, const char *case_id, rc_error *err) {
  int rc = store_messages_cancel_deferred(eng->st, case_id, "case_closed",
                                          step_key(eng), err);
  for (int i = 0; rc == RC_OK && i < eng->nreleases; i++)
    rc = store_timer_insert(eng->st, case_id, eng->releases[i].due, "__release",
                            eng->releases[i].data, 0, err);
  return rc;
}

/* sc: the loaded script that holds the case's workflow version (a case
 * runs on the version it started on, even after reloads brought newer
 * ones), found once by dispatch for the event's every hop. */
static int transition(engine *eng, script *sc, const store_case *c,
                      const char *from, const char *to, const char *event,
                      script_state *info, rc_error *err) {
  int rc;
  *info = script_state_info(sc, c->workflow, c->version, to);
  if (!info->exists)
    return rc_error_set(err, RC_ESCRIPT, "state",
                        "handler for '%s' in state '%s' returned '%s', which "
                        "is not a state of workflow %s v%d",
                        event ? event : "enter", from, to, c->workflow,
                        c->version);
  /* Whether from -> to is declared was asked already: by the handler's
   * call for another state (script.c, run_handler, which names the
   * handler's line), by dispatch for the same one. */
  /* Leaving a state ends what belonged to it; closing the case ends every
   * timer, since no handler will run again. */
  if ((rc = step_moves(eng, c->id, err)) ||
      (rc = store_timers_cancel(
           eng->st, c->id, info->final ? STORE_TIMERS_ALL : STORE_TIMERS_SCOPED,
           NULL, NULL, err)) ||
      (info->final && (rc = close_messages(eng, c->id, err))) ||
      (rc = store_tasks_cancel_scoped(eng->st, c->id, err)) ||
      (rc = store_case_write(
           eng->st,
           &(store_case_change){.id = c->id,
                                .fields = STORE_CASE_STATE,
                                .state = to,
                                .closed = info->final,
                                .outcome = info->final ? info->outcome : NULL,
                                .mover = step_key(eng)},
           err)) ||
      (rc = figure(eng, "transition", c->workflow, from, to, 1, 0, err)) ||
      (info->final && !c->closed &&
       (rc = roll_log(eng, c, c->due_date, 1, err))))
    return rc;
  invalidate(eng);
  eng->stats.transitions++;
  return store_journal_transition(eng->st, c->id, clock_now(eng->clk), from,
                                  to, c->version, event ? event : "enter",
                                  eng->actor, err);
}

static int dispatch(engine *eng, const store_case *c, const char *type,
                    const char *data, rc_time at, char **traceback,
                    rc_error *err) {
  script_call call = {eng,  c->id,      c->workflow, c->state,
                      NULL, c->version, data,        at};
  char next[64], state[64];
  int rc, hops = 0;
  /* `opened` enters the initial state; anything else goes to `on`. */
  call.event = strcmp(type, "opened") == 0 ? NULL : type;
  eng->step_key = 0; /* a step of its own */
  releases_forget(eng);
  eng->nwrote = 0;
  eng->step_moved = 0;
  eng->step_opening = call.event == NULL;
  script *sc = script_for(eng, c);
  rc = script_run_handler(sc, &call, next, sizeof next, traceback, err);
  if (rc == RC_ENOTFOUND) return step_ends(eng, c->id, err);
  if (rc != RC_OK) return rc;
  rc_copy(state, sizeof state, c->state);
  while (next[0]) {
    script_state info;
    if (++hops > MAX_HOPS)
      return rc_error_set(err, RC_ESCRIPT, "state",
                          "more than %d transitions in one event (enter "
                          "handlers that route in a loop?)",
                          MAX_HOPS);
    if (strcmp(next, state) == 0 &&
        !script_transition_allowed(sc, c->workflow, c->version, state, next))
      return rc_error_set(err, RC_ESCRIPT, "state",
                          "handler returned the current state '%s'; return "
                          "nil to stay, or declare '%s' -> '%s' to re-enter",
                          state, state, state);
    if ((rc = transition(eng, sc, c, state, next, call.event, &info, err)))
      return rc;
    rc_copy(state, sizeof state, next);
    call.state = state;
    call.event = NULL;
    /* A state without an enter handler is entered without a call: the
     * call would find none (a tenth of the glue of a reminder step). */
    if (!info.has_enter) break;
    rc = script_run_handler(sc, &call, next, sizeof next, traceback, err);
    if (rc == RC_ENOTFOUND) break;
    if (rc != RC_OK) return rc;
    if (info.final && next[0])
      return rc_error_set(err, RC_ESCRIPT, "state",
                          "enter of final state '%s' returned '%s'; a closed "
                          "case cannot move on",
                          state, next);
  }
  return step_ends(eng, c->id, err);
}

/* Why a handler failed, for the journal: "budget", "deadline" or "memory"
 * when the sandbox stopped it, "error" otherwise. */
static const char *failure_reason(const rc_error *why) {
  if (strcmp(why->field, "budget") == 0 ||
      strcmp(why->field, "deadline") == 0 || strcmp(why->field, "memory") == 0)
    return why->field;
  return "error";
}

/* Records a failure after the event's own savepoint was rolled back. */
static int record_failure(engine *eng, const char *case_id, const char *type,
                          const char *data, rc_time at, int64_t event_id,
                          int64_t timer_id, const rc_error *why,
                          const char *traceback, rc_error *err) {
  store_case c;
  int rc, deleted;
  if ((rc = store_savepoint(eng->st, err))) return rc;
  if (event_id) {
    rc = store_event_finish(eng->st, event_id, STORE_EVENT_PARKED, err);
  } else if (!timer_id) {
    /* An imported case's `opened`, never queued: parked as failed, as the
     * queued one would be, with its opening journaled before the error. */
    rc = store_event_put(eng->st, case_id, type, data, at, "failed", err);
    if (rc == RC_OK && (rc = store_case_get(eng->st, case_id, &c, err)) == RC_OK) {
      rc = journal_opened(eng, &c, eng->opened_by, err);
      store_case_free(&c);
    }
  } else {
    /* The timer becomes a failed event: `recoup retry` replays it. */
    store_timer t = {timer_id, (char *)case_id, (char *)type, (char *)data, at};
    rc = store_timer_finish(eng->st, &t, &deleted, err);
    if (rc == RC_OK)
      rc = store_event_put(eng->st, case_id, type, data, at, "failed", err);
  }
  if (rc == RC_OK)
    rc = store_case_write(
        eng->st,
        &(store_case_change){
            .id = case_id, .fields = STORE_CASE_ERROR, .error = why->message},
        err);
  if (rc == RC_OK &&
      (rc = store_case_get(eng->st, case_id, &c, err)) == RC_OK) {
    rc = journal(eng, case_id, "error", c.state, c.version,
                 json_pack("{s:s, s:s, s:s, s:s}", "event", type, "message",
                           why->message, "reason", failure_reason(why),
                           "traceback", traceback ? traceback : why->message),
                 err);
    store_case_free(&c);
  }
  invalidate(eng);
  eng->stats.errors++;
  if (rc != RC_OK) {
    store_rollback_to(eng->st, NULL);
    return rc;
  }
  return store_release(eng->st, err);
}

/* Timers the core sets for itself ("__promise_due", "__installment_due")
 * become the public event when still relevant; *type is set to "" when
 * the promise was kept or the installment paid meanwhile. */
static int ask_guard(engine *eng, const store_case *c, const char *channel,
                     int legal_notice, int third_party_template,
                     int to_third_party, int64_t exclude_message,
                     policy_decision *d, rc_error *err);
static int journal_policy(engine *eng, const char *case_id, const char *channel,
                          const char *what, const policy_decision *d,
                          rc_error *err);

/* What a deferred message's release needs to ask the guard again, and
 * the state and step that wrote it (moved_on): kept in its timer, so that
 * a reload of the scripts changes nothing. */
typedef struct release_info {
  int64_t message;
  const char *channel, *state;
  int64_t step;
  int legal_notice, third_party_template, to_third_party;
} release_info;

/* own: the running step's message, whose timer a close in the same step
 * arms again (close_messages). */
static int release_timer(engine *eng, const char *case_id, rc_time due,
                         const release_info *r, int own, rc_error *err) {
  json_t *d =
      json_pack("{s:I, s:s, s:s, s:I, s:b, s:b, s:b}", "message",
                (json_int_t)r->message, "channel", r->channel, "state",
                r->state, "step", (json_int_t)r->step, "legal", r->legal_notice,
                "tp", r->third_party_template, "to_tp", r->to_third_party);
  char *text = ljson_dump(d);
  int rc = text ? store_timer_insert(eng->st, case_id, due, "__release", text,
                                     0, err)
                : rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  json_decref(d);
  if (rc == RC_OK && own) {
    if (eng->nreleases == eng->releases_cap) {
      int cap = eng->releases_cap ? 2 * eng->releases_cap : 4;
      void *v = realloc(eng->releases, (size_t)cap * sizeof *eng->releases);
      if (!v) {
        free(text);
        return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
      }
      eng->releases = v;
      eng->releases_cap = cap;
    }
    eng->releases[eng->nreleases++] = (struct step_release){due, text};
    return RC_OK;
  }
  free(text);
  return rc;
}

/* A deferred message asked again at its release: deferred anew (to
 * not_before), blocked or cancelled, with the reason; *changed is 0 when
 * it was no longer deferred. */
static int message_recheck(engine *eng, int64_t id, const char *status,
                           const char *reason, rc_time not_before, int *changed,
                           rc_error *err) {
  return store_message_update(
      eng->st, id,
      &(store_message_change){
          .fields = STORE_MSG_STATUS | STORE_MSG_REASON | STORE_MSG_NOT_BEFORE,
          .only_if = "deferred",
          .status = status,
          .reason = reason,
          .not_before = not_before},
      changed, err);
}

/* Whether a message's case has moved on from it, the one rule a deferred
 * message's release and a queued one's send follow: a step after the one
 * that wrote it moved the case, whatever state it is in now. A message
 * waits on a move (store_message's step): its own step's when that step
 * moved the case (the step that closes a case may thank for the last
 * payment; a step that sends, then moves on, "reminded", meant its
 * message), else the one before it (the case's mover then, 0 for none).
 * Each move gives the case its step's key (mover), so the message's case
 * has moved on once the two differ: a case that left and came back,
 * or re-entered its state (a declared x -> x ends the state's timers
 * and tasks, and its messages too), has. Keys are drawn apart by each
 * step (step_key), never 0, and compared only within one case. A
 * message written before recoup kept states (NULL) goes as it did; a
 * book moved by `recoup migrate-store` keeps no keys (0 and 0 alike: its
 * messages go until a step moves their case). */
static int moved_on(const char *wrote_in, int64_t waits_on, int64_t mover) {
  return wrote_in && waits_on != mover;
}

/* A deferred message's time has come. It goes out only if its case has
 * not moved on from it (moved_on), and the guard, asked again, agrees: a
 * dispute opened meanwhile blocks it, a cap filled meanwhile defers it
 * again. The move it waits on is read from its row with the case's
 * mover (the step that wrote it may have ended without moving the case
 * after setting its timer, store_messages_step), one read a release.
 * (Timers set before the guard deferred more than the contact hours carry
 * only the message id: released as then.) */
static int release_message(engine *eng, const store_case *c, json_t *d,
                           rc_error *err) {
  json_int_t id = json_integer_value(json_object_get(d, "message"));
  const char *channel = json_string_value(json_object_get(d, "channel"));
  const char *state = json_string_value(json_object_get(d, "state"));
  json_t *by = json_object_get(d, "step");
  int64_t step = json_is_integer(by) ? json_integer_value(by) : -1, mover = 0,
          waits_on = 0;
  policy_decision dd;
  int released = 0, rc;
  if (channel && state &&
      (rc = store_case_mover(eng->st, c->id, id, &mover, &waits_on, err)) !=
          RC_OK)
    return rc;
  if (channel && moved_on(state, waits_on, mover)) {
    memset(&dd, 0, sizeof dd);
    dd.verdict = POLICY_BLOCK;
    snprintf(dd.reason, sizeof dd.reason, "case_moved_on");
    if ((rc = message_recheck(eng, id, "cancelled", dd.reason, 0, &released,
                              err)) ||
        !released)
      return rc;
    return journal(
        eng, c->id, "policy", c->state, c->version,
        json_pack("{s:s, s:I, s:s, s:s}", "channel", channel, "message", id,
                  "verdict", "cancelled", "reason", dd.reason),
        err);
  }
  if (channel) {
    release_info r;
    rc = ask_guard(eng, c, channel, json_is_true(json_object_get(d, "legal")),
                   json_is_true(json_object_get(d, "tp")),
                   json_is_true(json_object_get(d, "to_tp")), id, &dd, err);
    if (rc != RC_OK) return rc;
    if (dd.verdict != POLICY_ALLOW) {
      const char *what = dd.verdict == POLICY_DEFER ? "deferred" : "blocked";
      if ((rc = message_recheck(eng, id, what, dd.reason,
                                dd.verdict == POLICY_DEFER ? dd.until : 0,
                                &released, err)) ||
          !released)
        return rc;
      r.message = id;
      r.channel = channel;
      r.state = state;
      r.step = step;
      r.legal_notice = json_is_true(json_object_get(d, "legal"));
      r.third_party_template = json_is_true(json_object_get(d, "tp"));
      r.to_third_party = json_is_true(json_object_get(d, "to_tp"));
      if (dd.verdict == POLICY_DEFER &&
          (rc = release_timer(eng, c->id, dd.until, &r, 0, err)))
        return rc;
      return journal_policy(eng, c->id, channel, "release", &dd, err);
    }
  }
  rc = store_message_update(eng->st, id,
                            &(store_message_change){.fields = STORE_MSG_STATUS,
                                                    .only_if = "deferred",
                                                    .status = "queued"},
                            &released, err);
  if (rc == RC_OK && released)
    rc = figure(eng, "contact", channel, NULL, NULL, 1, 0, err);
  if (rc == RC_OK && released)
    rc = journal(eng, c->id, "released", c->state, c->version,
                 json_pack("{s:I}", "message", id), err);
  return rc;
}

static int core_timer(engine *eng, const store_case *c, const char *timer,
                      const char *data, char *type, size_t size,
                      char **public_data, rc_error *err) {
  json_t *d = data ? json_loads(data, 0, NULL) : NULL;
  int rc = RC_OK;
  type[0] = '\0';
  *public_data = NULL;
  if (strcmp(timer, "__promise_due") == 0) {
    store_promise p;
    json_int_t id = json_integer_value(json_object_get(d, "promise"));
    rc = store_promise_get(eng->st, id, &p, err);
    if (rc == RC_ENOTFOUND)
      rc = RC_OK; /* nothing left to break */
    else if (rc == RC_OK && strcmp(p.status, "open") == 0) {
      json_t *out = json_pack("{s:I, s:I, s:s, s:I}", "promise", id, "amount",
                              (json_int_t)p.amount, "by", p.by_date, "paid",
                              (json_int_t)p.paid);
      rc = store_promise_update(eng->st, p.id, p.paid, "broken", err);
      *public_data = ljson_dump(out);
      json_decref(out);
      snprintf(type, size, "promise_broken");
    }
  } else if (strcmp(timer, "__installment_due") == 0) {
    store_installment it;
    char plan_status[16];
    json_int_t id = json_integer_value(json_object_get(d, "installment"));
    rc = store_installment_get(eng->st, id, &it, plan_status,
                               sizeof plan_status, err);
    if (rc == RC_ENOTFOUND)
      rc = RC_OK;
    else if (rc == RC_OK && strcmp(plan_status, "open") == 0 &&
             strcmp(it.status, "due") == 0 && it.paid < it.amount) {
      json_t *out =
          json_pack("{s:I, s:i, s:s, s:I, s:I}", "plan", (json_int_t)it.plan_id,
                    "installment", it.seq, "due", it.due_date, "amount",
                    (json_int_t)it.amount, "paid", (json_int_t)it.paid);
      rc = store_installment_update(eng->st, it.id, it.paid, "missed", err);
      *public_data = ljson_dump(out);
      json_decref(out);
      snprintf(type, size, "installment_missed");
    }
  } else if (strcmp(timer, "__release") == 0) {
    rc = release_message(eng, c, d, err);
  }
  json_decref(d);
  return rc;
}

/* One event being run: where it came from (a queued event or a fired
 * timer) and what it says. */
typedef struct event_run {
  const char *case_id;
  const char *type, *data; /* after a core timer's translation */
  /* What arrived, kept for a failure: a retry replays it from the start. */
  const char *arrived_type, *arrived_data;
  rc_time at;
  int64_t event_id, timer_id; /* both 0: an imported case's `opened` */
  char *owned_data;           /* a core timer's public data */
  char core_type[32];
} event_run;

static void pass_over_event(engine *eng, const event_run *ev) {
  pass_over(eng, ev->timer_id ? (struct passed_key){1, ev->at, ev->timer_id}
                              : (struct passed_key){0, 0, ev->event_id});
}

/* Takes the event off its queue and reads its case. *go is 1 with *c read
 * when the event goes on; 0 when there is nothing more to do: its timer
 * was cancelled by an earlier event of the batch, its case is gone, or
 * its case is in error (a fired timer is parked beside the failed event,
 * to run after the retry, in order; a queued one keeps its place among
 * the case's events). */
/* Lets go of the case event_take handed out. */
static void case_drop(engine *eng, store_case *c) {
  if (eng->case_lent)
    memset(c, 0, sizeof *c);
  else
    store_case_free(c);
  eng->case_lent = 0;
}

static int event_take(engine *eng, event_run *ev, store_case *c, int *go,
                      rc_error *err) {
  int rc = RC_OK, deleted = 1, busy = 0;
  *go = 0;
  eng->case_lent = 0;
  if (!ev->event_id && !ev->timer_id) {
    /* An imported case's `opened`: its opening goes first in its run,
     * and the event's time is the opening's, as the queued one had. The
     * case is as the import wrote it: no row of the file or handler
     * before this one changes another case. Lent from where it is kept,
     * not copied: nothing keeps a case anew while handlers run (only an
     * import's rows do, defer_opened). */
    eng->case_lent = store_case_opening_lend(eng->st, ev->case_id, c) ||
                     (case_keep_next_is(&eng->kept, ev->case_id) &&
                      case_keep_lend(&eng->kept, c));
    if (!eng->case_lent &&
        (rc = store_case_get(eng->st, ev->case_id, c, err)) != RC_OK)
      return rc;
    ev->at = c->opened_at;
    /* The store is told the case is as inserted once its opening is
     * queued: that wrote the case before's run, with the timers its
     * handler set. */
    if ((rc = journal_opened(eng, c, eng->opened_by, err)) != RC_OK ||
        (rc = store_case_fresh(eng->st, ev->case_id, err)) != RC_OK) {
      case_drop(eng, c);
      return rc;
    }
    eng->stats.events++;
    *go = 1;
    return RC_OK;
  }
  /* The case is read before its timer is taken: a case this node has
   * no version for leaves its timer where it is. Held: the claim passes
   * over a case another node's writer holds (a payment), and a step that
   * then read it would write back what that writer changed (a promise's
   * due timer broke the promise it had just kept, with the paid amount
   * it read before). Not waited for: that writer may hold it for long
   * (an import, to its commit), and the node's loop, HTTP included,
   * would stop as long; the work is left as it is, for after. (An
   * event's case is held by its claim: never busy.) */
  if (ev->timer_id && held_at(eng, ev->case_id, &(int){0}))
    busy = 1;
  else if (!ev->timer_id ||
           !(eng->case_lent = store_case_claimed_lend(eng->st, ev->case_id, c)))
    rc = store_case_try_hold(eng->st, ev->case_id, c, &busy, err);
  if (rc == RC_OK && busy) {
    note_held(eng, ev->case_id);
    pass_over_event(eng, ev);
    return RC_OK;
  }
  if (rc == RC_OK && version_waits(eng, c)) {
    pass_over_event(eng, ev);
    case_drop(eng, c);
    return RC_OK;
  }
  if (ev->timer_id && (rc == RC_OK || rc == RC_ENOTFOUND)) {
    store_timer t = {ev->timer_id, (char *)ev->case_id, (char *)ev->type,
                     (char *)ev->data, ev->at};
    int found = rc == RC_OK;
    rc = store_timer_finish(eng->st, &t, &deleted, err);
    if (rc != RC_OK || !deleted) {
      if (found) case_drop(eng, c);
      return rc;
    }
    rc = found ? RC_OK : RC_ENOTFOUND;
  }
  if (rc == RC_ENOTFOUND) /* the case is gone; so is its event */
    return ev->event_id ? store_event_finish(eng->st, ev->event_id,
                                             STORE_EVENT_DONE, err)
                        : RC_OK;
  if (rc != RC_OK) return rc;
  if (c->error) {
    if (ev->timer_id)
      rc = store_event_put(eng->st, ev->case_id, ev->type, ev->data, ev->at,
                           "failed", err);
    case_drop(eng, c);
    return rc;
  }
  if (ev->event_id &&
      (rc = store_event_finish(eng->st, ev->event_id, STORE_EVENT_DONE, err)) !=
          RC_OK) {
    case_drop(eng, c);
    return rc;
  }
  eng->stats.events++;
  if (ev->timer_id) eng->stats.timers_fired++;
  *go = 1;
  return RC_OK;
}

/* What the core makes of the event before any handler: a core timer
 * becomes the event it stands for (or nothing), the event is journaled,
 * a dispute holds the case and a cease request stops contact with the
 * borrower. *go is 1 when handlers run next, with *c as the case is now;
 * 0 when not (a closed case runs no handler), *c then freed. */
static int event_meaning(engine *eng, event_run *ev, store_case *c, int *go,
                         rc_error *err) {
  const char *type = ev->type;
  int rc = RC_OK, holds, cease;
  *go = 0;
  if (type[0] == '_' && type[1] == '_') {
    char *public_data = NULL;
    rc = core_timer(eng, c, type, ev->data, ev->core_type, sizeof ev->core_type,
                    &public_data, err);
    if (rc != RC_OK || !ev->core_type[0]) {
      free(public_data);
      case_drop(eng, c);
      return rc;
    }
    ev->type = type = ev->core_type;
    ev->data = ev->owned_data = public_data;
  }
  if (!ev->data) {
    rc = store_journal_event(eng->st, ev->case_id, clock_now(eng->clk),
                             c->state, c->version, type, eng->actor, err);
  } else {
    jbuf b = row_buf(eng);
    jb_lit(&b, "{");
    jb_key(&b, "type");
    jb_quote(&b, type);
    jb_key(&b, "data"); /* stored JSON, as it came: checked */
    jb_lit(&b, ev->data);
    rc = journal_row(eng, ev->case_id, "event", c->state, c->version, &b, 0,
                     err);
  }
  /* The first byte before the calls: a reminder's event is none of the
   * three, and asked four times. */
  holds = type[0] == 'd' && (strcmp(type, "dispute") == 0 ||
                             strcmp(type, "dispute_resolved") == 0);
  cease = type[0] == 'c' && strcmp(type, "cease") == 0;
  if (rc == RC_OK && holds)
    rc = store_case_write(
        eng->st,
        &(store_case_change){.id = ev->case_id,
                             .fields = STORE_CASE_HOLD,
                             .on_hold = !strcmp(type, "dispute")},
        err);
  else if (rc == RC_OK && cease)
    rc = store_borrower_set_flag(eng->st, c->borrower_id, STORE_FLAG_CEASED, 1,
                                 err);
  if (rc == RC_OK && c->closed == 0 && (holds || cease)) {
    invalidate(eng);
    case_drop(eng, c);
    if ((rc = store_case_get(eng->st, ev->case_id, c, err)) != RC_OK) return rc;
  }
  if (rc != RC_OK || c->closed) {
    case_drop(eng, c);
    return rc;
  }
  *go = 1;
  return RC_OK;
}

/* Runs the case's handlers for the event (or, replaying a batch, the
 * failure a handler that spent its limit had the first time) and writes
 * the event's journal run. RC_OK, or the handler's failure in *why. */
static int event_handlers(engine *eng, const event_run *ev, store_case *c,
                          rc_error *why, char **traceback) {
  int rc;
  rc_error_clear(why);
  view_seed(eng, c);
  eng->current = c->id;
  if (eng->event_savepoints && (eng->spent.event_id || eng->spent.timer_id) &&
      eng->spent.event_id == ev->event_id &&
      eng->spent.timer_id == ev->timer_id) {
    *why = eng->spent.why; /* the replay of a handler that spent its limit */
    *traceback = eng->spent.traceback;
    eng->spent.traceback = NULL;
    eng->spent.event_id = eng->spent.timer_id = 0;
    rc = RC_ESCRIPT;
  } else {
    rc = dispatch(eng, c, ev->type, ev->data, ev->at, traceback, why);
  }
  if (rc == RC_OK && store_journal_write(eng->st, why) != RC_OK)
    rc = RC_ESTORE; /* its journal refused: this event failed */
  eng->current = NULL;
  drop_view(eng); /* it may borrow from c, freed by the caller */
  return rc;
}

/* A handler failed. In an optimistic batch (no savepoint per event) the
 * batch must be undone and replayed with savepoints: *replay is set, and
 * a failure of the handler's limits is kept so that the replay does not
 * run it again. With savepoints, the event's effects are rolled back and
 * the failure recorded on the case. */
static int event_failed(engine *eng, const event_run *ev, rc_error *why,
                        char **traceback, int *replay, rc_error *err) {
  int rc;
  if (!eng->event_savepoints) {
    if (strcmp(failure_reason(why), "error") != 0) {
      free(eng->spent.traceback);
      eng->spent.event_id = ev->event_id;
      eng->spent.timer_id = ev->timer_id;
      eng->spent.why = *why;
      eng->spent.traceback = *traceback;
      *traceback = NULL;
    }
    *replay = 1;
    return RC_OK;
  }
  if ((rc = store_rollback_to(eng->st, err)) != RC_OK) return rc;
  return record_failure(eng, ev->case_id, ev->arrived_type, ev->arrived_data,
                        ev->at, ev->event_id, ev->timer_id, why, *traceback,
                        err);
}

/* One event of one case: take it, apply the core's meaning, run the
 * handlers, finish. Returns an error only when the store failed: a
 * handler's failure is the case's business, recorded on the case, or,
 * in an optimistic batch, *replay asks for the batch to be run again
 * with a savepoint per event. */
static int run_event(engine *eng, event_run *ev, int *replay, rc_error *err) {
  store_case c;
  rc_error why;
  char *traceback = NULL;
  int rc, go;

  ev->arrived_type = ev->type;
  ev->arrived_data = ev->data;
  ev->owned_data = NULL;
  ev->core_type[0] = '\0';
  if (eng->event_savepoints && (rc = store_savepoint(eng->st, err))) return rc;
  invalidate(eng);
  rc = event_take(eng, ev, &c, &go, err);
  if (rc == RC_OK && go) rc = event_meaning(eng, ev, &c, &go, err);
  if (rc == RC_OK && go) {
    if (event_handlers(eng, ev, &c, &why, &traceback) != RC_OK) {
      rc = event_failed(eng, ev, &why, &traceback, replay, err);
      free(traceback);
      free(ev->owned_data);
      case_drop(eng, &c);
      return rc; /* the savepoint, if any, was rolled back */
    }
    case_drop(eng, &c);
  }
  free(ev->owned_data);
  if (!eng->event_savepoints) return rc; /* a store failure ends the batch */
  if (rc != RC_OK) {
    store_rollback_to(eng->st, NULL);
    return rc;
  }
  return store_release(eng->st, err);
}

static int opened_each(engine *eng, const char *const *ids, int n,
                       int *replay, rc_error *err) {
  int rc = RC_OK;
  for (int i = 0; i < n && rc == RC_OK && !*replay; i++) {
    event_run ev = {.case_id = ids[i], .type = "opened"};
    rc = run_event(eng, &ev, replay, err);
  }
  return rc;
}

int engine_import_opened(engine *eng, const char *const *ids, int n,
                         rc_error *err) {
  char actor[sizeof eng->actor];
  engine_stats saved = eng->stats;
  size_t kept_from = eng->kept.next;
  int rc, replay = 0;
  /* Handlers write as the engine's own work, as they did from the queue;
   * the opening says who imported. */
  rc_copy(actor, sizeof actor, eng->actor);
  eng->actor[0] = '\0';
  eng->opened_by = actor;
  eng->event_savepoints = 0;
  if ((rc = store_savepoint(eng->st, err)) == RC_OK) {
    rc = opened_each(eng, ids, n, &replay, err);
    if (rc == RC_OK && !replay) {
      rc = store_release(eng->st, err);
    } else {
      store_rollback_to(eng->st, NULL);
      invalidate(eng);
      eng->stats = saved;
      eng->kept.next = kept_from;
    }
  }
  if (rc == RC_OK && replay) {
    eng->event_savepoints = 1;
    replay = 0;
    rc = opened_each(eng, ids, n, &replay, err);
    eng->event_savepoints = 0;
  }
  if (rc != RC_OK || eng->kept.next >= eng->kept.len)
    case_keep_free(&eng->kept);
  rc_copy(eng->actor, sizeof eng->actor, actor);
  eng->opened_by = NULL;
  return rc;
}

int engine_run(engine *eng, rc_time until, int64_t *steps, rc_error *err) {
  int rc = engine_run_some(eng, until, INT64_MAX, steps, NULL, err);
  /* The caller reports the run done: its batches are made durable. */
  return rc == RC_OK ? store_sync(eng->st, err) : rc;
}

static int due_after_passed(engine *eng, rc_time until, rc_time *due,
                            rc_error *err);

int engine_next_due(engine *eng, rc_time *due, rc_error *err) {
  int rc;
  /* Not a timer the last run left waiting, where claims hand those out
   * again (SQLite): the service would wake for it at once, or, told it
   * only waits, a minute later, late for the timers after it. */
  if (!eng->again || !eng->npassed)
    return store_timer_next_due(eng->st, due, err);
  /* A look, not a claim: in a transaction given back, where a PostgreSQL
   * claim only locks. Outside one it wrote a lease on timers due next
   * week, which a node killed meanwhile left behind (pg_serve_nodes). */
  if (store_in_transaction(eng->st)) {
    rc = due_after_passed(eng, INT64_MAX, due, err);
  } else {
    if ((rc = store_begin(eng->st, err)) != RC_OK) return rc;
    rc = due_after_passed(eng, INT64_MAX, due, err);
    store_rollback(eng->st);
  }
  if (rc != RC_OK) return rc;
  return *due ? RC_OK : RC_ENOTFOUND;
}

int engine_reconnects(engine *eng) {
  return store_reconnects(eng->st);
}

const char *engine_store_notice(engine *eng) {
  return store_notice(eng->st);
}

int engine_job_begin(engine *eng, rc_error *err) {
  invalidate(eng);
  return store_savepoint(eng->st, err);
}

void engine_pays_ahead(engine *eng, int n, const char *const *cases,
                       const char *const *refs) {
  store_pays_ahead(eng->st, n, cases, refs);
}

int engine_group_job_begin(engine *eng, rc_error *err) {
  int rc;
  invalidate(eng);
  rc = store_savepoint_light(eng->st, err);
  eng->group_job = rc == RC_OK; /* engine_job_end ends it */
  eng->case_busy = 0;
  return rc;
}

int engine_case_busy(const engine *eng) {
  return eng->case_busy;
}

_Static_assert((int)ENGINE_REPLAY_GROUP == (int)STORE_REPLAY_GROUP,
               "engine.h says the store's answer");

int engine_group_replay(const engine *eng) {
  return store_replay(eng->st);
}

void engine_group_checked(engine *eng, int on) {
  store_group_checked(eng->st, on);
}

int engine_job_end(engine *eng, int rc, rc_error *err) {
  invalidate(eng);
  eng->group_job = 0;
  if (rc == RC_OK) return store_release(eng->st, err);
  store_rollback_to(eng->st, NULL);
  return rc;
}

/* A batch undone moves a simulated clock back to where the batch began
 * (its steps moved it to each timer's due time). A real clock has nothing
 * to undo: clock_set would make it simulated, stopped at that moment for
 * the rest of the process (a service whose handler failed once never saw
 * a later timer come due). */
static void clock_restore(engine *eng, rc_time t) {
  if (clock_is_simulated(eng->clk)) clock_set(eng->clk, t);
}

/* The database ended the batch to break a deadlock with another node (or
 * a serialization conflict): nothing of it was kept, not even an event
 * failure it recorded, so it runs again from the same state in memory,
 * as a replay does. A deadlock names one victim and the other goes on,
 * so this ends; the bound is for a database that says so every time. */
static int batch_contended(engine *eng, const engine_stats *stats,
                           rc_time clock, int *tries) {
  if (!store_contended(eng->st) || ++*tries > CONTENDED_TRIES) return 0;
  eng->stats = *stats;
  clock_restore(eng, clock);
  return 1;
}

static void poisoned_forget(engine *eng) {
  free(eng->poisoned.case_id);
  free(eng->poisoned.type);
  free(eng->poisoned.data);
  eng->poisoned.case_id = eng->poisoned.type = eng->poisoned.data = NULL;
}

/* A step failed its batch (ev, why): noted when the book refused one of
 * its rows, not when the database failed (an I/O error, a full disk: the
 * whole batch runs again, later). */
static void poisoned_note(engine *eng, const event_run *ev,
                          const rc_error *why) {
  poisoned_forget(eng);
  /* The refusal's own error (RC_EINTERNAL: a constraint, a row dropped),
   * not one that came after it in the same step (out of memory). */
  if (!store_refused(eng->st) || why->code != RC_EINTERNAL) return;
  eng->poisoned.case_id = strdup(ev->case_id);
  eng->poisoned.type = strdup(ev->arrived_type ? ev->arrived_type : ev->type);
  eng->poisoned.data = ev->arrived_data ? strdup(ev->arrived_data) : NULL;
  if (!eng->poisoned.case_id || !eng->poisoned.type ||
      (ev->arrived_data && !eng->poisoned.data)) {
    poisoned_forget(eng); /* out of memory: the batch fails as before */
    return;
  }
  eng->poisoned.at = ev->at;
  eng->poisoned.event_id = ev->event_id;
  eng->poisoned.timer_id = ev->timer_id;
  eng->poisoned.why = *why;
}

/* A step that fails with a row the book refuses (a trigger or a
 * constraint made by hand: RAISE(ROLLBACK) ends the whole transaction,
 * which no savepoint undoes) would fail its batch at every run, and no
 * other case's timers would fire. Its batch undone, it is set aside as a
 * handler's failure is: its case in error, the refusal in its journal,
 * its timer a failed event that `recoup retry` runs again (the book
 * mended). Where even that is refused, its work stays in the book, left
 * waiting for the rest of the run, and the run fails after the others'
 * steps, saying why. 1: set aside, the batch to run again without it. */
enum { POISONED_MAX = 64 };

static int poisoned_set_aside(engine *eng) {
  rc_error err;
  /* A timer is known by its due time and id, an event by its id. */
  struct passed_key key = {eng->poisoned.timer_id != 0,
                           eng->poisoned.timer_id ? eng->poisoned.at : 0,
                           eng->poisoned.timer_id ? eng->poisoned.timer_id
                                                  : eng->poisoned.event_id};
  int rc, at;
  if (!eng->poisoned.case_id || ++eng->poisoned.tries > POISONED_MAX) return 0;
  rc = store_begin_unsynced(eng->st, &err);
  if (rc == RC_OK)
    rc = record_failure(eng, eng->poisoned.case_id, eng->poisoned.type,
                        eng->poisoned.data, eng->poisoned.at,
                        eng->poisoned.event_id, eng->poisoned.timer_id,
                        &eng->poisoned.why, NULL, &err);
  if (rc == RC_OK) rc = engine_commit(eng, &err);
  if (rc == RC_OK && eng->poisoned.set_aside)
    eng->poisoned.set_aside(eng->poisoned.set_aside_ud, eng->poisoned.case_id,
                            &eng->poisoned.why);
  if (rc != RC_OK) {
    engine_rollback(eng);
    pass_over(eng, key);
    /* Not noted (out of memory): the batch would meet it again. */
    if (!passed_at(eng, key, &at)) return 0;
    if (!eng->poisoned.has_unsaved) {
      eng->poisoned.has_unsaved = 1;
      eng->poisoned.unsaved_case = strdup(eng->poisoned.case_id);
      rc_error_set(&eng->poisoned.unsaved, RC_ESTORE, "case",
                   "case %s: its step fails (%s), and so does putting "
                   "the case in error (%s): its work is left in the book, "
                   "the other cases' went on",
                   eng->poisoned.case_id, eng->poisoned.why.message,
                   err.message);
    }
  }
  poisoned_forget(eng);
  return 1;
}

/* The run's error once POISONED_MAX cases were set aside and one more
 * is refused: the book refuses more than one case's rows (a trigger or
 * a constraint made by hand on the whole of a table), and putting the
 * whole book in error would help no one. Said, not only the last
 * refusal, which read as one case at fault. */
static void poisoned_cut(engine *eng, rc_error *err) {
  char why[sizeof err->message];
  rc_copy(why, sizeof why, err->message);
  snprintf(err->message, sizeof err->message,
           "%s (case %.200s); %d cases set aside in this run before it (in "
           "error: `recoup errors` lists them); the run stopped here, the "
           "other cases' work left waiting: a refusal of so many is the "
           "book's (a trigger or constraint made by hand?): mend it, then "
           "`recoup retry --all`",
           why, eng->poisoned.case_id ? eng->poisoned.case_id : "?",
           POISONED_MAX);
}

/* When the first timer due by until that the run has not left waiting is
 * due (0: none). On a store whose claims hand waiting work out again
 * (a claim is only a read there). */
static int due_after_passed(engine *eng, rc_time until, rc_time *due,
                            rc_error *err) {
  store_timer *timers;
  int count, rc;
  *due = 0;
  rc = store_timers_claim(eng->st, until, eng->npassed + 1, &eng->lease,
                          &timers, &count, err);
  if (rc != RC_OK) return rc;
  for (int i = 0; i < count && !*due; i++) {
    int at;
    if (!passed_at(eng, (struct passed_key){1, timers[i].due, timers[i].id},
                   &at))
      *due = timers[i].due;
  }
  if (count)
    store_timers_free(timers, count);
  else
    free(timers);
  return RC_OK;
}

/* Whether the caller wants the run to end before its next step, `done`
 * steps in. Never before the run's first step (a run always moves on),
 * nor in a replay, which must reach the event that failed. */
static int yields(engine *eng, int64_t done, int replaying) {
  return eng->yield && done > 0 && !replaying &&
         eng->yield(eng->yield_ud, done);
}

int engine_run_some(engine *eng, rc_time until, int64_t max_steps,
                    int64_t *steps, int *more, rc_error *err) {
  int simulated = clock_is_simulated(eng->clk);
  int64_t total = 0;
  int rc = RC_OK;
  int limit_replay = 0; /* > 0: replaying that many events, a savepoint each */
  int contended = 0;    /* times this batch was ended by a deadlock */
  int naps = 0;         /* looks again behind another node's timer (below) */

  eng->interrupted = 0;
  eng->looked = 0;
  eng->npassed = 0;
  eng->poisoned.tries = eng->poisoned.has_unsaved = 0;
  free(eng->poisoned.unsaved_case);
  eng->poisoned.unsaved_case = NULL;
  poisoned_forget(eng);
  if (more) *more = 0;
  for (;;) {
    int n = 0, batch = limit_replay ? limit_replay : BATCH, replay = 0;
    int stop = 0; /* the caller asked the run to end: this batch ends */
    engine_stats saved_stats = eng->stats;
    /* Work left for a node that has its version counts as a step, so a
     * batch ends; a batch of nothing else is idleness (on SQLite the same
     * work comes back at every claim). */
    int64_t saved_waiting = eng->reloads.waiting;
    int passed = eng->npassed;
    rc_time saved_clock = clock_now(eng->clk);
    int behind = 0; /* ended at an earlier timer it cannot take */
    if (eng->interrupted) break;
    if (total >= max_steps) {
      if (more) *more = 1;
      break;
    }
    /* A slice smaller than a batch stays small: the service answers
     * waiting requests between slices. */
    if (batch > max_steps - total) batch = (int)(max_steps - total);
    eng->event_savepoints = limit_replay > 0;
    /* A batch acknowledges nothing: a power cut that takes it back leaves
     * its timers and events in the book, to run again. Whatever leaves
     * the process because of it waits for a sync (engine_sync). */
    invalidate(eng);
    if ((rc = store_begin_unsynced(eng->st, err)) != RC_OK) break;
    while (n < batch && rc == RC_OK && !replay && !stop) {
      store_event *events;
      store_timer *timers;
      rc_time due, limit;
      int count, fresh = 0, again = eng->again;
      int64_t waiting = eng->reloads.waiting;
      /* The caller may end the run between claims, and between the timers
       * of a claim, not between its events: on PostgreSQL an event's
       * claim is a lease that outlives the batch, and a case's later
       * event, free, would run before the one left claimed. */
      if ((stop = yields(eng, total + n, limit_replay))) break;
      /* Queued events first, in arrival order; those their handlers queue
       * come in the next round, still before any timer. */
      if ((rc = store_events_claim(eng->st, batch - n + passed_extra(eng),
                                   &eng->lease, &events, &count, err)) != RC_OK)
        break;
      for (int i = 0; i < count && rc == RC_OK && !replay; i++) {
        if (passed_over(eng, (struct passed_key){0, 0, events[i].id})) continue;
        fresh++;
        event_run ev = {.case_id = events[i].case_id,
                        .type = events[i].type,
                        .data = events[i].data,
                        .at = events[i].at,
                        .event_id = events[i].id};
        if ((rc = run_event(eng, &ev, &replay, err)) != RC_OK)
          poisoned_note(eng, &ev, err);
        n++;
      }
      store_events_free(events, count);
      if (fresh > eng->reloads.waiting - waiting || eng->again > again)
        continue;
      waiting = eng->reloads.waiting; /* none, or all wait: the timers */
      /* No timer is idleness; a failed read is not: the batch stops
       * with the error rather than report that nothing was due. None
       * free may still leave one held (below). */
      if ((rc = store_timer_next_due(eng->st, &due, err)) != RC_OK) {
        if (rc != RC_ENOTFOUND) break;
        rc = RC_OK;
        due = INT64_MAX;
      }
      limit = simulated
                  ? until
                  : (until < clock_now(eng->clk) ? until : clock_now(eng->clk));
      /* A simulation never runs past a timer another node's batch holds
       * (the next due time passes over those): its clock would move
       * beyond it, and were that batch given back, the timer would run
       * here late, setting its case's next timers from the wrong day
       * (pg_nodes: one case of 3,000 in a few runs). This batch ends, as
       * when every due timer is held; the holder goes on. Nor does it end
       * its run before a held timer due in it, when no free one is left
       * there: the run after it begins past the held one (the book's
       * clock). */
      if (simulated && store_claims_pass_held(eng->st)) {
        rc_time first;
        if ((rc = store_timer_first_due(eng->st, &first, err)) != RC_OK) {
          if (rc == RC_ENOTFOUND) rc = RC_OK;
          break;
        }
        if (first < due && first <= limit) {
          behind = 1;
          break;
        }
      }
      if (due > limit) break;
      /* A simulation lives through every due time in order, so each
       * handler sees the hour its timer was set for. */
      if (simulated && due > clock_now(eng->clk)) clock_set(eng->clk, due);
      /* Every due time to the limit in one claim (shuffled, each time has
       * its own timer). A simulation runs each at its own time, and stops
       * at one that what a handler queued before it must precede: the
       * next round claims again, events first. It stops only where the
       * clock moves on: the timers of one time run together, as when
       * that time was claimed alone.
       * Where other nodes' batches hold timers the claim passes over, a
       * simulation claims only the earliest due time, for the reason
       * above: a later one could pass over one held. */
      rc = store_timers_claim(eng->st,
                              simulated && store_claims_pass_held(eng->st)
                                  ? clock_now(eng->clk)
                                  : limit,
                              batch - n + passed_extra(eng), &eng->lease,
                              &timers, &count, err);
      store_watch_puts(eng->st);
      again = eng->again;
      fresh = 0;
      for (int i = 0; i < count && rc == RC_OK && !replay; i++) {
        if (passed_over(eng,
                        (struct passed_key){1, timers[i].due, timers[i].id}))
          continue;
        if (simulated && timers[i].due > clock_now(eng->clk)) {
          if (store_put_before(eng->st, timers[i].due)) break;
          clock_set(eng->clk, timers[i].due);
        }
        /* A claim only reads or row-locks: the timers not run are due
         * still, and the next batch claims them again. */
        if ((stop = yields(eng, total + n, limit_replay))) break;
        fresh++;
        event_run ev = {.case_id = timers[i].case_id,
                        .type = timers[i].event,
                        .data = timers[i].data,
                        .at = timers[i].due,
                        .timer_id = timers[i].id};
        if ((rc = run_event(eng, &ev, &replay, err)) != RC_OK)
          poisoned_note(eng, &ev, err);
        n++;
      }
      if (count)
        store_timers_free(timers, count);
      else
        free(timers);
      if (stop || (rc == RC_OK && eng->again > again)) continue;
      /* Only work already left waiting is due now: a simulation goes on
       * to the next time something else is due. */
      if (rc == RC_OK && simulated && count > 0 && fresh == 0) {
        if ((rc = due_after_passed(eng, until, &due, err)) != RC_OK) break;
        if (due <= clock_now(eng->clk)) break;
        clock_set(eng->clk, due);
        continue;
      }
      /* Due, yet none to claim: another node holds them in its batch.
       * This batch ends (committed) rather than wait inside it, where two
       * nodes would each wait for the other's timers for ever.
       * A simulation is behind them: the claim was of its clock's time
       * alone, and what it did not get (held, or leased for the wait
       * behind a case's earlier timer) is due at that time. Ended there,
       * every node could end at once with those timers left, and the run
       * after begins at the book's clock, past them (three `tick --now`
       * nodes: a case's third 11:00 timer ran at 15:00, the one it set
       * then past the walk; pg_order_nodes). */
      if (rc == RC_OK && fresh <= eng->reloads.waiting - waiting) {
        if (simulated && count == 0 && store_claims_pass_held(eng->st))
          behind = 1;
        break;
      }
    }
    eng->event_savepoints = 0;
    if (rc == RC_OK && replay) {
      /* Event n failed: undo the batch and everything it did in memory,
       * then run its first n events again, each in a savepoint. The
       * store reads the same rows, so the same events come back. */
      engine_rollback(eng);
      eng->stats = saved_stats;
      eng->reloads.waiting = saved_waiting;
      clock_restore(eng, saved_clock);
      limit_replay = n;
      rc = RC_OK;
      continue;
    }
    if (rc != RC_OK) engine_rollback(eng);
    if (rc == RC_OK) rc = engine_commit(eng, err);
    if (rc != RC_OK &&
        batch_contended(eng, &saved_stats, saved_clock, &contended)) {
      eng->reloads.waiting = saved_waiting;
      rc = RC_OK;
      continue;
    }
    /* Not a replay: the batch runs again from its start, with its first
     * events optimistic again. */
    if (rc != RC_OK && eng->poisoned.case_id) {
      eng->stats = saved_stats;
      eng->reloads.waiting = saved_waiting;
      clock_restore(eng, saved_clock);
      if (poisoned_set_aside(eng)) {
        limit_replay = contended = 0;
        rc = RC_OK;
        continue;
      }
      if (eng->poisoned.tries > POISONED_MAX && err) poisoned_cut(eng, err);
    }
    poisoned_forget(eng);
    if (rc != RC_OK) break;
    limit_replay = contended = 0;
    total += n;
    /* Work newly left waiting is passed over in the next batch. */
    if (!stop && n == eng->reloads.waiting - saved_waiting &&
        eng->npassed == passed) {
      /* A simulation behind a timer it cannot take looks again a little
       * later, for a while: ended there, it left the timer to a holder
       * that may be ending too (a batch that only found work waiting),
       * or to no one (a timer leased for the wait is anyone's when the
       * wait ends), and the run after it begins at this run's end (the
       * book's clock), where the timer then ran late (three `tick --now`
       * nodes: a case's timers an hour late, one it set then after its
       * later one; pg_order_nodes). */
      if (!behind || naps >= BEHIND_NAPS) break;
      naps++;
      nanosleep(&(struct timespec){0, BEHIND_NAP_MS * 1000000L}, NULL);
      continue;
    }
    naps = 0;
    if (eng->progress) eng->progress(eng->progress_ud, total);
    if (stop) { /* its next step was due: more remains */
      if (more) *more = 1;
      break;
    }
  }
  if (rc == RC_OK && simulated && until > clock_now(eng->clk))
    clock_set(eng->clk, until);
  if (rc == RC_OK && eng->poisoned.has_unsaved) {
    if (err) *err = eng->poisoned.unsaved;
    rc = RC_ESTORE;
  } else {
    /* The run failed for another cause, or not at all. */
    free(eng->poisoned.unsaved_case);
    eng->poisoned.unsaved_case = NULL;
  }
  if (rc == RC_OK)
    rc = retry_held(eng, err);
  else
    retry_held(eng, &(rc_error){0});
  if (steps) *steps = total;
  return rc;
}

/* --- reload ---------------------------------------------------------- */

/* Moves the open cases of one workflow from older versions to the newest,
 * where its migrate says so. Each case in its own savepoint. */
static int migrate_workflow(engine *eng, const char *name, int version,
                            int same_state, int *migrated, rc_error *err) {
  id_list cases = {0};
  int rc = RC_OK;
  rc = store_cases_below_version(eng->st, name, version, collect_id, &cases,
                                 err);
  for (int i = 0; i < cases.n && rc == RC_OK; i++) {
    char state[64];
    rc_error why;
    store_case c;
    if ((rc = store_savepoint(eng->st, err))) break;
    invalidate(eng);
    rc = store_case_get(eng->st, cases.ids[i], &c, err);
    if (rc == RC_ENOTFOUND)
      rc = RC_OK; /* gone since it was listed */
    else if (rc == RC_OK) {
      int r =
          script_migrate(eng->sc, eng, c.id, name, state, sizeof state, &why);
      /* A what-if candidate without migrate takes the same state name. */
      if (r == RC_ENOTFOUND && same_state) {
        snprintf(state, sizeof state, "%s", c.state);
        r = RC_OK;
      }
      script_state info = script_state_info(eng->sc, name, version, state);
      if (r == RC_OK && state[0] && info.exists && !info.final) {
        rc =
            store_case_write(eng->st,
                             &(store_case_change){.id = c.id,
                                                  .fields = STORE_CASE_WORKFLOW,
                                                  .workflow = name,
                                                  .version = version,
                                                  .state = state},
                             err);
        if (rc == RC_OK)
          rc = journal(
              eng, c.id, "migrated", state, version,
              json_pack("{s:i, s:i, s:s, s:s}", "from_version", c.version,
                        "to_version", version, "from", c.state, "to", state),
              err);
        if (rc == RC_OK) (*migrated)++;
      } else if (r == RC_ESCRIPT || (r == RC_OK && state[0])) {
        /* A migrate that fails or names no usable state leaves the case
         * where it was, and says so in its journal. */
        rc = journal(eng, c.id, "migrate_refused", c.state, c.version,
                     json_pack("{s:s}", "reason",
                               r == RC_ESCRIPT ? why.message
                                               : "not a non-final state of "
                                                 "the new version"),
                     err);
      }
      store_case_free(&c);
    }
    if (rc == RC_OK)
      rc = store_release(eng->st, err);
    else
      store_rollback_to(eng->st, NULL);
  }
  for (int i = 0; i < cases.n; i++) free(cases.ids[i]);
  free(cases.ids);
  return rc;
}

/* Loads the institution's directory anew beside the running scripts; the
 * new set is the one new cases get. */
static int load_beside(engine *eng, rc_errlist *errors) {
  script *sc = NULL;
  rc_error err;
  int rc;
  if (eng->nscripts >= MAX_SCRIPTS) {
    rc_error_set(&err, RC_ECONFLICT, NULL,
                 "%d script versions are loaded; restart the service to "
                 "reload again",
                 MAX_SCRIPTS);
    rc_errlist_add(errors, &err);
    return RC_ECONFLICT;
  }
  {
    /* Weighed against the book as it is now: a reload is refused for
     * what a start would refuse. Read again, not as at open: another
     * node, or a tick, may have held the book to a newer generation
     * since, and from then on a newer check's finding refuses. */
    rc_errlist findings = {0}, warnings = {0};
    if ((rc = script_load_findings(&sc, eng->dir, errors, &findings)) !=
        RC_OK) {
      add_all(errors, &findings);
    } else {
      if (findings.count > 0) {
        eng->checks_generation = 0;
        rc = read_checks_generation(eng, &err);
      }
      if (rc != RC_OK) {
        rc_errlist_add(errors, &err);
        add_all(errors, &findings);
      } else {
        rc = weigh_findings(eng, &findings, errors, &warnings);
      }
    }
    rc_errlist_free(&findings);
    if (rc != RC_OK) {
      rc_errlist_free(&warnings);
      script_free(sc);
      return rc;
    }
    rc_errlist_free(&eng->check_warnings);
    eng->check_warnings = warnings;
  }
  script_use_clock(sc, eng->clk);
  eng->scripts[eng->nscripts++] = sc;
  eng->sc = sc;
  invalidate(eng);
  return RC_OK;
}

struct unloaded {
  engine *eng;
  int64_t cases;
  char *text;
  size_t size, used;
  int cut; /* a version left out: ", and more" said once */
};

/* Each version whole or none: the list was cut mid-name at its room
 * ("pay v120 (1 case), ") with no word of the versions left out. */
static int unloaded_row(void *ud, const store_value *cols, int n) {
  static const char more[] = ", and more";
  struct unloaded *u = ud;
  char name[200], one[300];
  int len;
  if (n < 3 || cols[0].type != STORE_TEXT ||
      script_with(u->eng, cols[0].s, (int)cols[1].i))
    return 0;
  u->cases += cols[2].i;
  if (u->cut) return 0;
  rc_printable_line(name, sizeof name, cols[0].s);
  len = snprintf(one, sizeof one, "%s%s v%lld (%lld case%s)",
                 u->used ? ", " : "", name, (long long)cols[1].i,
                 (long long)cols[2].i, cols[2].i == 1 ? "" : "s");
  if (len > 0 && u->used + (size_t)len + sizeof more <= u->size) {
    memcpy(u->text + u->used, one, (size_t)len + 1);
    u->used += (size_t)len;
  } else if (u->used + sizeof more <= u->size) {
    memcpy(u->text + u->used, more, sizeof more);
    u->used += sizeof more - 1;
    u->cut = 1;
  }
  return 0;
}

int engine_unloaded_versions(engine *eng, int64_t *cases, char *versions,
                             size_t size, rc_error *err) {
  struct unloaded u = {eng, 0, versions, size, 0, 0};
  int rc;
  if (size) *versions = '\0';
  rc = store_report_versions(eng->st, unloaded_row, &u, err);
  *cases = u.cases;
  return rc;
}

/* What a reload records in the book: each workflow's newest version. */
static char *loaded_versions(engine *eng) {
  const char *names[64];
  int n = script_workflow_names(eng->sc, names, 64), version;
  json_t *v = json_object();
  char *text;
  for (int i = 0; i < n; i++)
    if (script_workflow_latest(eng->sc, names[i], &version) == RC_OK)
      json_object_set_new(v, names[i], json_integer(version));
  text = ljson_dump(v);
  json_decref(v);
  return text;
}

/* The versions the book's last reload named that no loaded script holds:
 * this node's files are behind the reloading node's. */
static void find_behind(engine *eng) {
  char text[4096];
  json_t *v;
  const char *name;
  json_t *version;
  rc_error err;
  size_t used = 0;
  eng->reloads.behind[0] = '\0';
  if (store_reload_versions(eng->st, text, sizeof text, &err) != RC_OK ||
      !(v = json_loads(text, 0, NULL)))
    return;
  json_object_foreach(v, name, version) {
    int ver = (int)json_integer_value(version);
    if (script_with(eng, name, ver) || used >= sizeof eng->reloads.behind)
      continue;
    used += (size_t)snprintf(eng->reloads.behind + used,
                             sizeof eng->reloads.behind - used, "%s%s v%d",
                             used ? ", " : "", name, ver);
  }
  json_decref(v);
}

/* Another node reloaded: this one loads its own directory, once for the
 * generation whatever comes of it. */
static int follow_to(engine *eng, int64_t generation) {
  rc_errlist errors = {0};
  int rc;
  eng->tried = generation;
  rc = load_beside(eng, &errors);
  if (rc == RC_OK) {
    eng->reloads.generation = generation;
    eng->reloads.failed = 0;
    eng->reloads.followed++;
    find_behind(eng);
  } else {
    eng->reloads.failed = generation;
    if (errors.count > 0)
      eng->reloads.why = errors.items[0];
    else
      rc_error_set(&eng->reloads.why, rc, NULL, "the scripts did not load");
  }
  rc_errlist_free(&errors);
  return rc;
}

int engine_follow(engine *eng, rc_error *err) {
  int64_t generation;
  int rc = store_reload_generation(eng->st, &generation, err);
  if (rc != RC_OK) return rc;
  if (eng->reloads.generation < 0) {
    /* The scripts loaded at open are this node's newest. */
    eng->reloads.generation = eng->tried = generation;
    find_behind(eng);
    return RC_OK;
  }
  if (generation != eng->reloads.generation && generation != eng->tried)
    follow_to(eng, generation);
  return RC_OK;
}

const engine_reloads *engine_reload_state(const engine *eng) {
  return &eng->reloads;
}

int engine_reload(engine *eng, rc_errlist *errors, int *migrated) {
  rc_error err;
  int rc;
  const char *names[64];
  int nnames = 0;
  int64_t generation = 0;
  char *versions;
  *migrated = 0;
  if ((rc = load_beside(eng, errors)) != RC_OK) return rc;
  /* Workflows that declare migrate move their running cases on. */
  nnames = script_workflow_names(eng->sc, names, 64);
  if ((rc = engine_begin(eng, &err)) != RC_OK) {
    rc_errlist_add(errors, &err);
    return rc;
  }
  for (int i = 0; i < nnames && rc == RC_OK; i++) {
    int version;
    if (script_workflow_latest(eng->sc, names[i], &version) == RC_OK)
      rc = migrate_workflow(eng, names[i], version, 0, migrated, &err);
  }
  /* The other nodes on the book follow this generation. */
  if (rc == RC_OK && (versions = loaded_versions(eng))) {
    rc = store_reload_bump(eng->st, versions, &generation, &err);
    free(versions);
  }
  if (rc == RC_OK)
    rc = engine_commit(eng, &err);
  else
    engine_rollback(eng);
  if (rc != RC_OK) {
    rc_errlist_add(errors, &err);
    return rc;
  }
  eng->reloads.generation = eng->tried = generation;
  eng->reloads.failed = 0;
  eng->reloads.behind[0] = '\0';
  return RC_OK;
}

int engine_scratch(engine *eng) {
  return store_scratch(eng->st);
}

int engine_adopt(engine *eng, int *moved, rc_error *err) {
  const char *names[64];
  int n = script_workflow_names(eng->sc, names, 64), rc;
  *moved = 0;
  if ((rc = engine_begin(eng, err)) != RC_OK) return rc;
  for (int i = 0; i < n && rc == RC_OK; i++) {
    int version;
    if (script_workflow_latest(eng->sc, names[i], &version) == RC_OK)
      rc = migrate_workflow(eng, names[i], version, 1, moved, err);
  }
  if (rc == RC_OK) return engine_commit(eng, err);
  engine_rollback(eng);
  return rc;
}

/* --- effects, called by the bindings during a handler --------------- */

const store_case *engine_case_view(engine *eng, const char *id, rc_error *err) {
  if (eng->view_valid && strcmp(eng->view.id, id) == 0) return &eng->view;
  drop_view(eng);
  if (store_case_get(eng->st, id, &eng->view, err) != RC_OK) return NULL;
  eng->view_valid = 1;
  return &eng->view;
}

const store_borrower *engine_borrower_view(engine *eng, const char *id,
                                           rc_error *err) {
  if (eng->borrower_valid && strcmp(eng->borrower.id, id) == 0)
    return &eng->borrower;
  borrower_drop(eng);
  if (!(eng->borrower_lent =
            store_borrower_claimed_lend(eng->st, id, &eng->borrower)) &&
      store_borrower_get(eng->st, id, &eng->borrower, err) != RC_OK)
    return NULL;
  eng->borrower_valid = 1;
  return &eng->borrower;
}

int engine_case_dpd(engine *eng, const store_case *c) {
  rc_date due;
  if (!c->due_date || clock_parse_date(c->due_date, &due) != RC_OK) return 0;
  return clock_dpd(eng->clk, &due, clock_now(eng->clk));
}

const char *engine_current_case(const engine *eng) {
  return eng->current;
}

static int own_case(engine *eng, const char *case_id, rc_error *err) {
  if (!eng->current)
    return rc_error_set(err, RC_EINVAL, NULL,
                        "cases can only be changed from a workflow handler "
                        "(use rt:event or rt:pay in specs)");
  if (strcmp(eng->current, case_id) != 0)
    return rc_error_set(err, RC_EINVAL, NULL,
                        "a handler of case %s cannot change case %s",
                        eng->current, case_id);
  return RC_OK;
}

static int case_journal(engine *eng, const char *case_id, const char *kind,
                        json_t *detail, rc_error *err) {
  const store_case *c = engine_case_view(eng, case_id, err);
  if (!c) {
    json_decref(detail);
    return RC_ENOTFOUND;
  }
  return journal(eng, case_id, kind, c->state, c->version, detail, err);
}

int engine_timer(engine *eng, const char *case_id, rc_time due,
                 const char *event, const char *data_json, int keep,
                 rc_error *err) {
  char when[40];
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  if (!event || !*event)
    return rc_error_set(err, RC_EINVAL, "event", "a timer needs an event name");
  if (event[0] == '_' && event[1] == '_')
    return rc_error_set(err, RC_EINVAL, "event",
                        "event names starting with __ belong to the core");
  if ((rc = store_timer_insert(eng->st, case_id, due, event, data_json, !keep,
                               err)))
    return rc;
  clock_zone_format(clock_zone(eng->clk), due, when, sizeof when);
  {
    /* Every state entry sets timers: the store writes the row from its
     * values, in the form it keeps. */
    const store_case *c = engine_case_view(eng, case_id, err);
    if (!c) return RC_ENOTFOUND;
    return store_journal_timer(eng->st, case_id, clock_now(eng->clk),
                               c->state, c->version, event, when, keep,
                               eng->actor, err);
  }
}

int engine_cancel(engine *eng, const char *case_id, const char *event,
                  int *count, rc_error *err) {
  int rc = own_case(eng, case_id, err), n = 0;
  if (rc) return rc;
  if (event[0] == '_' && event[1] == '_')
    return rc_error_set(err, RC_EINVAL, "event",
                        "event names starting with __ belong to the core");
  if ((rc = store_timers_cancel(eng->st, case_id, STORE_TIMERS_NAMED, event, &n,
                                err)))
    return rc;
  if (count) *count = n;
  return case_journal(eng, case_id, "cancel",
                      json_pack("{s:s, s:i}", "event", event, "timers", n),
                      err);
}

int engine_set_data(engine *eng, const char *case_id, const char *key,
                    const char *data_json, rc_error *err) {
  const store_case *c;
  json_t *data, *value;
  char *text;
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  if (!(c = engine_case_view(eng, case_id, err))) return RC_ENOTFOUND;
  data = json_loads(c->data ? c->data : "{}", 0, NULL);
  if (!data) data = json_object();
  value = json_loads(data_json, JSON_DECODE_ANY, NULL);
  if (!value || json_is_null(value))
    json_object_del(data, key);
  else
    json_object_set(data, key, value);
  text = json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS);
  rc = store_case_write(
      eng->st,
      &(store_case_change){
          .id = case_id, .fields = STORE_CASE_DATA, .data = text},
      err);
  free(text);
  json_decref(data);
  invalidate(eng);
  if (rc == RC_OK)
    rc = case_journal(eng, case_id, "set",
                      json_pack("{s:s, s:O}", "key", key, "value",
                                value ? value : json_null()),
                      err);
  json_decref(value);
  return rc;
}

int engine_set_tags(engine *eng, const char *case_id, const char *tag,
                    const char *tags_json, rc_error *err) {
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  if ((rc = store_case_write(
           eng->st,
           &(store_case_change){
               .id = case_id, .fields = STORE_CASE_TAGS, .tags = tags_json},
           err)))
    return rc;
  invalidate(eng);
  return case_journal(eng, case_id, "tag", json_pack("{s:s}", "tag", tag), err);
}

int engine_assign(engine *eng, const char *case_id, const char *queue,
                  rc_error *err) {
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  if ((rc = store_case_write(
           eng->st,
           &(store_case_change){
               .id = case_id, .fields = STORE_CASE_QUEUE, .queue = queue},
           err)))
    return rc;
  invalidate(eng);
  return case_journal(eng, case_id, "assign",
                      json_pack("{s:s}", "queue", queue), err);
}

int engine_note(engine *eng, const char *case_id, const char *text,
                rc_error *err) {
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  return case_journal(eng, case_id, "note", json_pack("{s:s}", "text", text),
                      err);
}

/* FNV-1a: stable across runs and machines, so a case keeps its arm. */
static uint32_t fnv1a(const char *a, const char *b) {
  uint32_t h = 2166136261u;
  for (const char *p = a; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  h = (h ^ 0xff) * 16777619u;
  for (const char *p = b; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  return h;
}

int engine_variant(engine *eng, const char *case_id, const char *experiment,
                   const char *const *arms, const int *weights, int n,
                   char *arm, size_t size, rc_error *err) {
  int64_t total = 0, pick;
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  rc = store_variant_get(eng->st, case_id, experiment, arm, size, err);
  if (rc != RC_ENOTFOUND) return rc; /* the case's arm, or a failed read */
  for (int i = 0; i < n; i++) total += weights[i];
  if (n == 0 || total <= 0)
    return rc_error_set(err, RC_EINVAL, "arms",
                        "case:variant needs arms with positive weights");
  pick = fnv1a(case_id, experiment) % (uint64_t)total;
  for (int i = 0; i < n; i++) {
    if (pick < weights[i]) {
      snprintf(arm, size, "%s", arms[i]);
      break;
    }
    pick -= weights[i];
  }
  if ((rc = store_variant_put(eng->st, case_id, experiment, arm, err)))
    return rc;
  return case_journal(
      eng, case_id, "variant",
      json_pack("{s:s, s:s}", "experiment", experiment, "arm", arm), err);
}

static int core_timer_at(engine *eng, const char *case_id, rc_time due,
                         const char *event, const char *key, int64_t id,
                         rc_error *err);

/* Journals what the guard decided when it was not a plain yes, on the
 * case as c has it (NULL: as the engine's view has it). */
static int journal_policy_on(engine *eng, const char *case_id,
                             const store_case *c, const char *channel,
                             const char *what, const policy_decision *d,
                             rc_error *err) {
  json_t *detail;
  engine_stats *st = &eng->stats;
  int k, rc;
  if (d->verdict == POLICY_ALLOW) return RC_OK;
  for (k = 0; k < st->npolicy; k++)
    if (!strcmp(st->policy[k].reason, d->reason) &&
        !strcmp(st->policy[k].verdict, policy_verdict_name(d->verdict)))
      break;
  if (k == st->npolicy && k < ENGINE_POLICY_REASONS) {
    snprintf(st->policy[k].verdict, sizeof st->policy[k].verdict, "%s",
             policy_verdict_name(d->verdict));
    snprintf(st->policy[k].reason, sizeof st->policy[k].reason, "%s",
             d->reason);
    st->npolicy++;
  }
  if (k < st->npolicy) st->policy[k].count++;
  if ((rc = figure(eng, "refusal", d->reason, policy_verdict_name(d->verdict),
                   channel, 1, 0, err)))
    return rc;
  detail = json_pack("{s:s, s:s, s:s, s:s}", "channel", channel, "what", what,
                     "verdict", policy_verdict_name(d->verdict), "reason",
                     d->reason);
  if (d->verdict == POLICY_DEFER) {
    char until[40];
    clock_zone_format(clock_zone(eng->clk), d->until, until, sizeof until);
    json_object_set_new(detail, "until", json_string(until));
  }
  if (c) return journal(eng, case_id, "policy", c->state, c->version, detail, err);
  return case_journal(eng, case_id, "policy", detail, err);
}

static int journal_policy(engine *eng, const char *case_id, const char *channel,
                          const char *what, const policy_decision *d,
                          rc_error *err) {
  return journal_policy_on(eng, case_id, NULL, channel, what, d, err);
}

/* The guard's question for this case and borrower: the engine's path
 * and the console's explanation (engine_guard_explain) ask it alike. */
static void guard_request(engine *eng, const store_case *c,
                          const store_borrower *b, const char *channel,
                          policy_request *req) {
  rc_zone *zone = clock_zone_get(eng->clk, b->timezone, NULL);
  memset(req, 0, sizeof *req);
  req->case_id = c->id;
  req->borrower_id = c->borrower_id;
  req->channel = channel;
  req->do_not_contact = b->do_not_contact;
  req->ceased = b->ceased;
  req->on_hold = c->on_hold;
  req->zone = zone ? zone : clock_zone(eng->clk);
  req->now = clock_now(eng->clk);
}

static int ask_guard(engine *eng, const store_case *c, const char *channel,
                     int legal_notice, int third_party_template,
                     int to_third_party, int64_t exclude_message,
                     policy_decision *d, rc_error *err) {
  const store_borrower *b = engine_borrower_view(eng, c->borrower_id, err);
  policy_request req;
  int rc;
  if (!b) return RC_ENOTFOUND;
  guard_request(eng, c, b, channel, &req);
  req.legal_notice = legal_notice;
  req.third_party_template = third_party_template;
  req.to_third_party = to_third_party;
  req.exclude_message = exclude_message;
  if ((rc = policy_allow_contact(&script_config(eng->sc)->policy, eng->q, &req,
                                 d, err)))
    return rc;
  /* A cease another node recorded since b was read still stops this. */
  return store_borrower_decided(eng->st, b, err);
}

int engine_guard_explain(engine *eng, const store_case *c,
                         const store_borrower *b, const char (*channels)[24],
                         int n, int to_third_party, policy_explanation *out,
                         rc_zone **zone, rc_error *err) {
  int rc = RC_OK;
  for (int i = 0; i < n && rc == RC_OK; i++) {
    policy_request req;
    guard_request(eng, c, b, channels[i], &req);
    req.to_third_party = to_third_party;
    req.third_party_template = to_third_party;
    if (zone) *zone = req.zone;
    rc = policy_explain(&script_config(eng->sc)->policy, eng->q, &req, &out[i],
                        err);
  }
  return rc;
}

/* What the guard says of a queued message now, of what can change
 * between its queueing and its leaving: its case moved on, a block set
 * since (the legal notice passes cease, do-not-contact and a dispute, as
 * when it was queued) or the borrower's contact hours. Caps and the pause
 * were asked when it was queued, and its contact counted then: asked
 * again, it would count against itself.
 * Moved on is moved_on, as for a deferred message at its release. A
 * legal notice is held to it too: a notice of proceedings for a debt paid
 * since must not go; the exemption DESIGN gives it is from the borrower's
 * blocks, not from the case's own course. Cancelled, as a deferred
 * message whose case moved on is at its release. */
static void outbox_decide(engine *eng, const store_outgoing *m,
                          policy_decision *d) {
  rc_zone *zone =
      m->timezone[0] ? clock_zone_get(eng->clk, m->timezone, NULL) : NULL;
  rc_time now = clock_now(eng->clk), open;
  memset(d, 0, sizeof *d);
  d->verdict = POLICY_ALLOW;
  d->until = now;
  if (moved_on(m->state, m->step, m->mover)) {
    d->verdict = POLICY_BLOCK;
    snprintf(d->reason, sizeof d->reason, "%s",
             m->closed ? "case_closed" : "case_moved_on");
    return;
  }
  if ((m->on_hold || m->ceased || m->do_not_contact) &&
      !script_template_legal(eng->sc, m->template_name)) {
    d->verdict = POLICY_BLOCK;
    snprintf(d->reason, sizeof d->reason, "%s",
             m->on_hold  ? "dispute_hold"
             : m->ceased ? "ceased"
                         : "do_not_contact");
    return;
  }
  open = policy_next_window(&script_config(eng->sc)->policy,
                            zone ? zone : clock_zone(eng->clk), now);
  if (open > now) {
    d->verdict = POLICY_DEFER;
    d->until = open;
    snprintf(d->reason, sizeof d->reason, "contact_hours");
  }
}

int engine_outbox_check(engine *eng, const store_outgoing *m, int *go,
                        rc_error *err) {
  policy_decision d;
  store_case c;
  int moved, rc, changed = 0, own = 0;
  *go = 0;
  /* Its case gone (a row deleted by hand): held, and said. */
  if (!m->case_state)
    return rc_error_set(err, RC_ENOTFOUND, "case",
                        "message %lld: its case %s is not in the book",
                        (long long)m->id, m->case_id);
  outbox_decide(eng, m, &d);
  if (d.verdict == POLICY_ALLOW) {
    *go = 1;
    return RC_OK;
  }
  moved =
      !strcmp(d.reason, "case_closed") || !strcmp(d.reason, "case_moved_on");
  /* In the pump's transaction, a savepoint of its own: a write that fails
   * here leaves the message as it was and the pump's other records. */
  if (!store_in_transaction(eng->st)) {
    if ((rc = engine_begin_unsynced(eng, err)) != RC_OK) return rc;
    eng->own_txn = 1;
  } else if ((rc = store_savepoint(eng->st, err)) != RC_OK) {
    return rc;
  } else {
    own = 1;
  }
  /* Rare: the case read whole, for its journal row. */
  if ((rc = store_case_get(eng->st, m->case_id, &c, err)) != RC_OK) {
    if (own) store_rollback_to(eng->st, NULL);
    return own ? rc : ingest_end(eng, rc, err);
  }
  /* Deferred: queued still, its next attempt at the window's start and
   * its attempts as they were (no gateway was asked). Blocked or
   * cancelled: settled, as a deferred message at its release. */
  rc = store_message_update(
      eng->st, m->id,
      &(store_message_change){
          .fields = STORE_MSG_STATUS | STORE_MSG_REASON | STORE_MSG_ATTEMPT,
          .status = d.verdict == POLICY_DEFER ? "queued"
                    : moved                   ? "cancelled"
                                              : "blocked",
          .attempts = m->attempts,
          .next_attempt = d.verdict == POLICY_DEFER ? d.until : 0,
          .reason = d.reason,
          .at = clock_now(eng->clk)},
      &changed, err);
  if (rc == RC_OK && changed && moved)
    rc = journal(eng, c.id, "policy", c.state, c.version,
                 json_pack("{s:s, s:s, s:I, s:s, s:s}", "channel", m->channel,
                           "what", "outbox", "message", (json_int_t)m->id,
                           "verdict", "cancelled", "reason", d.reason),
                 err);
  else if (rc == RC_OK && changed)
    rc = journal_policy_on(eng, c.id, &c, m->channel, "outbox", &d, err);
  store_case_free(&c);
  if (own) {
    if (rc != RC_OK) {
      store_rollback_to(eng->st, NULL);
      return rc;
    }
    return store_release(eng->st, err);
  }
  return ingest_end(eng, rc, err);
}

int engine_send(engine *eng, const char *case_id, const engine_message *msg,
                policy_decision *d, int64_t *id, rc_error *err) {
  const store_case *c;
  store_message m;
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  if (!(c = engine_case_view(eng, case_id, err))) return RC_ENOTFOUND;
  memset(d, 0, sizeof *d);
  if (!msg->recipient || !*msg->recipient) {
    d->verdict = POLICY_BLOCK;
    snprintf(d->reason, sizeof d->reason, "no_recipient");
  } else if ((rc = ask_guard(eng, c, msg->channel, msg->legal_notice,
                             msg->third_party_template, msg->to_third_party, 0,
                             d, err))) {
    return rc;
  }
  memset(&m, 0, sizeof m);
  m.case_id = case_id;
  m.borrower_id = c->borrower_id;
  m.channel = msg->channel;
  m.template_name = msg->template_name;
  m.recipient = msg->recipient;
  m.to_kind = msg->to_kind;
  m.body = msg->body;
  m.state = c->state;
  /* What it waits on (moved_on): the step's key, but an opening's before
   * it moves its case (step_moves). */
  m.step = eng->step_opening && !eng->step_moved ? 0 : step_key(eng);
  m.status = d->verdict == POLICY_ALLOW   ? "queued"
             : d->verdict == POLICY_DEFER ? "deferred"
                                          : "blocked";
  m.reason = d->verdict == POLICY_ALLOW ? NULL : d->reason;
  m.at = clock_now(eng->clk);
  m.not_before = d->verdict == POLICY_DEFER ? d->until : 0;
  if ((rc = store_message_insert(eng->st, &m, id, err))) return rc;
  if (!eng->step_moved && d->verdict != POLICY_BLOCK) {
    if (eng->nwrote == eng->wrote_cap) {
      int cap = eng->wrote_cap ? 2 * eng->wrote_cap : 4;
      void *v = realloc(eng->wrote, (size_t)cap * sizeof *eng->wrote);
      if (!v) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
      eng->wrote = v;
      eng->wrote_cap = cap;
    }
    eng->wrote[eng->nwrote++] = *id;
  }
  /* A contact is counted the day it is queued; a deferred one the day
   * it is released. */
  if (d->verdict == POLICY_ALLOW &&
      (rc = figure(eng, "contact", msg->channel, NULL, NULL, 1, 0, err)))
    return rc;
  /* A deferred message is released when what held it ends, by a durable
   * timer of the core's own that asks the guard again then. */
  if (d->verdict == POLICY_DEFER) {
    release_info r = {*id,
                      msg->channel,
                      c->state,
                      m.step,
                      msg->legal_notice,
                      msg->third_party_template,
                      msg->to_third_party};
    if ((rc = release_timer(eng, case_id, d->until, &r, 1, err))) return rc;
  }
  if ((rc = journal_policy(eng, case_id, msg->channel, msg->template_name, d,
                           err)))
    return rc;
  return store_journal_message(eng->st, case_id, clock_now(eng->clk),
                               c->state, c->version, *id, msg->channel,
                               msg->template_name, msg->to_kind, m.status,
                               m.reason, eng->actor, err);
}

static int core_timer_at(engine *eng, const char *case_id, rc_time due,
                         const char *event, const char *key, int64_t id,
                         rc_error *err) {
  char data[64];
  snprintf(data, sizeof data, "{\"%s\":%lld}", key, (long long)id);
  return store_timer_insert(eng->st, case_id, due, event, data, 0, err);
}

/* The first instant after the local day `date` has ended. */
static rc_time end_of_day(engine *eng, const char *date) {
  rc_date d;
  clock_parse_date(date, &d);
  return clock_zone_midnight(clock_zone(eng->clk),
                       clock_date_from_days(clock_date_to_days(d) + 1));
}

/* A promise's day must not have passed and must fall within the
 * policy's promise_horizon: a promise pauses the case's escalation until
 * that day, so a far one ("9999-12-31", "99999d") would pause it for
 * ever on one person's word. */
static int promise_day_check(engine *eng, const char *by_date, rc_error *err) {
  const policy_config *p = &script_config(eng->sc)->policy;
  rc_duration h = p->promise_horizon;
  rc_zone *zone = clock_zone(eng->clk);
  rc_date d, last;
  char last_s[16];
  if (!by_date || clock_parse_date(by_date, &d) != RC_OK)
    return rc_error_set(err, RC_EINVAL, "by",
                        "a promise needs `by` as a date such as 2026-01-31");
  if (end_of_day(eng, by_date) <= clock_now(eng->clk))
    return rc_error_set(err, RC_EINVAL, "by", "promise date %s has passed",
                        by_date);
  /* No policy{} at all: the default horizon. */
  if (!h.ms && !h.days && !h.months)
    clock_parse_duration(POLICY_PROMISE_HORIZON, &h, NULL);
  last = clock_zone_date(zone, clock_zone_add(zone, clock_now(eng->clk), &h));
  if (clock_date_to_days(d) > clock_date_to_days(last)) {
    clock_date_format(&last, last_s, sizeof last_s);
    return rc_error_set(err, RC_EINVAL, "by",
                        "promise date %s is beyond the promise horizon of "
                        "%d%s (policy.promise_horizon): %s at the latest",
                        by_date, h.months ? h.months : h.days,
                        h.months ? "mo" : "d", last_s);
  }
  return RC_OK;
}

/* A task's promise outcome: `by` as the task's declaration let it
 * through (a date, or a date-time taken as its local day). */
static int promise_outcome_check(engine *eng, const char *by, rc_error *err) {
  rc_time at;
  rc_date d;
  char day[16];
  if (clock_parse_time(eng->clk, by, &at, NULL) != RC_OK)
    return rc_error_set(err, RC_EINVAL, "by",
                        "a promise needs `by` as a date such as 2026-01-31");
  d = clock_zone_date(clock_zone(eng->clk), at);
  clock_date_format(&d, day, sizeof day);
  return promise_day_check(eng, day, err);
}

/* A promise's checks and effects, for a handler's case:promise and a
 * collector's promise alike: the open one is superseded, and a core timer
 * at the end of its day decides kept or broken. */
static int promise_record(engine *eng, const store_case *c, rc_money amount,
                          const char *by_date, int64_t *id, rc_error *err) {
  rc_date d;
  int rc;
  if (amount <= 0)
    return rc_error_set(err, RC_EINVAL, "amount",
                        "a promise needs a positive amount in minor units");
  if (!by_date || clock_parse_date(by_date, &d) != RC_OK)
    return rc_error_set(err, RC_EINVAL, "by",
                        "a promise needs `by` as a date such as 2026-01-31");
  if ((rc = promise_day_check(eng, by_date, err)) != RC_OK) return rc;
  if (amount > c->balance)
    return rc_error_set(err, RC_EINVAL, "amount",
                        "promise of %lld exceeds the balance (%lld)",
                        (long long)amount, (long long)c->balance);
  if ((rc = store_promise_insert(eng->st, c->id, amount, c->currency, by_date,
                                 clock_now(eng->clk), id, err)) ||
      (rc = core_timer_at(eng, c->id, end_of_day(eng, by_date), "__promise_due",
                          "promise", *id, err)))
    return rc;
  if (eng->actor[0] &&
      ((rc = store_promise_user_put(eng->st, *id, eng->actor, err)) ||
       (rc = figure(eng, "collector", eng->actor, "promises", c->currency, 1,
                    amount, err))))
    return rc;
  return journal(eng, c->id, "promise", c->state, c->version,
                 json_pack("{s:I, s:I, s:s}", "id", (json_int_t)*id, "amount",
                           (json_int_t)amount, "by", by_date),
                 err);
}

int engine_promise(engine *eng, const char *case_id, rc_money amount,
                   const char *by_date, int64_t *id, rc_error *err) {
  const store_case *c;
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  if (amount <= 0)
    return rc_error_set(err, RC_EINVAL, "amount",
                        "a promise needs a positive amount in minor units");
  if (!(c = engine_case_view(eng, case_id, err))) return RC_ENOTFOUND;
  return promise_record(eng, c, amount, by_date, id, err);
}

/* No plan runs longer than this: a schedule beyond it is a typo (a
 * period of 2147483647 months) and its timers would never fire. */
#define PLAN_SPAN_DAYS (30 * 366)

int engine_plan(engine *eng, const char *case_id,
                const engine_installment *items, int n,
                const rc_duration *grace, int64_t *id, rc_error *err) {
  const store_case *c;
  rc_money total = 0;
  json_t *list;
  int rc = own_case(eng, case_id, err);
  rc_date today = clock_zone_date(clock_zone(eng->clk), clock_now(eng->clk));
  int64_t first_day = 0;
  if (rc) return rc;
  if (n < 1 || n > 360)
    return rc_error_set(err, RC_EINVAL, "installments",
                        "a plan has 1 to 360 installments");
  if (!(c = engine_case_view(eng, case_id, err))) return RC_ENOTFOUND;
  for (int i = 0; i < n; i++) {
    rc_date d;
    if (items[i].amount <= 0)
      return rc_error_set(err, RC_EINVAL, "amount",
                          "installment %d needs a positive amount", i + 1);
    /* Summed without overflow: amounts near the integer limit once
     * wrapped negative and passed the balance check. */
    if (items[i].amount > c->balance - total)
      return rc_error_set(err, RC_EINVAL, "total",
                          "the installments add up to more than the balance "
                          "(%lld)",
                          (long long)c->balance);
    if (clock_parse_date(items[i].due_date, &d) != RC_OK)
      return rc_error_set(err, RC_EINVAL, "due",
                          "installment %d: '%s' is not a date", i + 1,
                          items[i].due_date);
    if (i == 0) first_day = clock_date_to_days(d);
    if (i == 0 && first_day < clock_date_to_days(today))
      return rc_error_set(err, RC_EINVAL, "first_due",
                          "the first installment falls on %s, which has "
                          "passed",
                          items[i].due_date);
    if (clock_date_to_days(d) - clock_date_to_days(today) > PLAN_SPAN_DAYS)
      return rc_error_set(err, RC_EINVAL, "due",
                          "installment %d falls on %s, more than 30 years "
                          "from now",
                          i + 1, items[i].due_date);
    if (i > 0 && strcmp(items[i].due_date, items[i - 1].due_date) < 0)
      return rc_error_set(err, RC_EINVAL, "due",
                          "installment %d falls before installment %d", i + 1,
                          i);
    total += items[i].amount;
  }
  {
    store_plan_item plan_items[360];
    store_plan plan = {case_id,
                       total,
                       grace->ms + grace->days * 86400000LL,
                       clock_now(eng->clk),
                       n,
                       plan_items};
    for (int i = 0; i < n; i++)
      plan_items[i] = (store_plan_item){items[i].due_date, items[i].amount, 0};
    if ((rc = store_plan_insert(eng->st, &plan, id, err))) return rc;
    list = json_array();
    for (int i = 0; i < n && rc == RC_OK; i++) {
      rc_time missed = clock_zone_add(clock_zone(eng->clk),
                                      end_of_day(eng, items[i].due_date), grace);
      rc = core_timer_at(eng, case_id, missed, "__installment_due",
                         "installment", plan_items[i].id, err);
      json_array_append_new(
          list, json_pack("{s:s, s:I}", "due", items[i].due_date, "amount",
                          (json_int_t)items[i].amount));
    }
  }
  if (rc != RC_OK) {
    json_decref(list);
    return rc;
  }
  return case_journal(
      eng, case_id, "plan",
      json_pack("{s:I, s:I, s:o}", "id", (json_int_t)*id, "total",
                (json_int_t)total, "installments", list),
      err);
}

/* A task's place in My work (DESIGN.md "Priority and area"): the
 * priority case:task gave, else its kind's declared one, else its
 * state's; 0 when none says. Kept on the row, so that the list is one
 * index walk and a reload does not reorder the work already waiting. */
static int task_priority(engine *eng, const store_case *c,
                         const script_task_kind *decl, const char *fields_json,
                         double *priority, rc_error *err) {
  script_state info;
  int rc;
  if (fields_json && strstr(fields_json, "\"priority\"")) {
    json_t *f = json_loads(fields_json, 0, NULL);
    json_t *p = json_object_get(f, "priority");
    if (json_is_number(p)) {
      *priority = json_number_value(p);
      json_decref(f);
      return RC_OK;
    }
    json_decref(f);
  }
  *priority = decl->priority;
  if (decl->priority != 0) return RC_OK;
  rc = script_state_read(script_for(eng, c), c->workflow, c->version, c->state,
                         &info, err);
  *priority = info.priority;
  return rc;
}

/* A task's queue is one an agent can be given (recoup user's rule), or
 * the task is refused as a script error naming it: computed at run time
 * (`queue = ev.queue`, "Field Team") or the kind standing for it
 * (case:task("Call")), it would be stored where only supervisors see it
 * and no agent's Next case ever gives it, and `recoup check` cannot see
 * a queue made at run time. The case is set aside with the event kept
 * for `recoup retry` after the script is fixed. A book of checks
 * generation 4 or older (its scripts may pass only the older checks,
 * kinds as queues among them) keeps storing such tasks, as it did; the
 * start that holds it to 5 turns this on. */
enum { TASK_QUEUE_GENERATION = 5 };

static int task_queue_check(engine *eng, const char *kind, const char *queue,
                            rc_error *err) {
  char shown[USER_NAME_MAX * 4 + 1], meant[USER_NAME_MAX + 1], hint[160] = "";
  const char *q = queue ? queue : kind;
  rc_error bad;
  int rc;
  if (user_check_name(q, "queue", &bad) == RC_OK) return RC_OK;
  /* An unreadable generation loosens nothing (read_checks_generation). */
  if ((rc = read_checks_generation(eng, err)) == RC_OK &&
      eng->checks_generation < TASK_QUEUE_GENERATION)
    return RC_OK;
  if (rc != RC_OK && rc != RC_EINVAL) return rc;
  if (strlen(q) < sizeof shown)
    rc_printable_line(shown, sizeof shown, q);
  else
    snprintf(shown, sizeof shown, "(%zu bytes)", strlen(q));
  if (user_name_meant(q, meant, sizeof meant))
    snprintf(hint, sizeof hint, " (did you mean %s?)", meant);
  if (queue)
    return rc_error_set(err, RC_EINVAL, "queue",
                        "case:task: queue '%s' is no queue an agent can be "
                        "given (1 to 64 characters of a-z 0-9 . _ -, as "
                        "recoup user --queues takes them)%s: its tasks would "
                        "reach supervisors only; no task was made",
                        shown, hint);
  return rc_error_set(err, RC_EINVAL, "queue",
                      "case:task: with no queue given, its tasks go to the "
                      "queue named as the kind, '%s', which is no queue an "
                      "agent can be given (1 to 64 characters of a-z 0-9 . _ "
                      "-, as recoup user --queues takes them)%s: give the "
                      "task a queue; no task was made",
                      shown, hint);
}

int engine_task(engine *eng, const char *case_id, const char *kind,
                const char *queue, rc_time due, const char *assignee,
                const char *fields_json, int keep, int64_t *id,
                policy_decision *d, rc_error *err) {
  const store_case *c;
  const char *channel = policy_task_channel(kind);
  script_task_kind decl;
  store_task t;
  int rc = own_case(eng, case_id, err);
  if (rc) return rc;
  if (!(c = engine_case_view(eng, case_id, err))) return RC_ENOTFOUND;
  if (script_task_kind_info(script_for(eng, c), c->workflow, c->version, kind,
                            &decl, err) == RC_ESCRIPT)
    return RC_ESCRIPT;
  if (decl.any && !decl.declared)
    return rc_error_set(err, RC_EINVAL, "kind",
                        "task kind '%s' is not declared in workflow %s's "
                        "tasks",
                        kind, c->workflow);
  if (decl.counts_as[0]) channel = decl.counts_as;
  *id = 0;
  memset(d, 0, sizeof *d);
  if ((rc = task_queue_check(eng, kind, queue, err)) != RC_OK) return rc;
  if (channel) {
    /* A call or a visit is a contact: the guard may refuse it, and its due
     * time moves into the borrower's contact hours. */
    const store_borrower *b;
    rc_zone *zone;
    if ((rc = ask_guard(eng, c, channel, 0, 0, 0, 0, d, err))) return rc;
    if (d->verdict == POLICY_BLOCK)
      return journal_policy(eng, case_id, channel, kind, d, err);
    b = engine_borrower_view(eng, c->borrower_id, err);
    zone = b ? clock_zone_get(eng->clk, b->timezone, NULL) : NULL;
    if (!due || due < clock_now(eng->clk)) due = clock_now(eng->clk);
    /* A rule that ends (the pause after a conversation, a full cap) moves
     * the task to when it ends, and the journal says so; the contact hours
     * alone only move its due time. */
    if (d->verdict == POLICY_DEFER && strcmp(d->reason, "contact_hours") != 0) {
      if (due < d->until) due = d->until;
      if ((rc = journal_policy(eng, case_id, channel, kind, d, err))) return rc;
    } else {
      d->verdict = POLICY_ALLOW;
    }
    due = policy_next_window(&script_config(eng->sc)->policy,
                             zone ? zone : clock_zone(eng->clk), due);
    d->until = due;
  }
  memset(&t, 0, sizeof t);
  t.case_id = case_id;
  t.kind = kind;
  t.queue = queue ? queue : kind;
  t.due = due;
  t.assignee = assignee;
  t.state = c->state;
  t.fields = fields_json;
  t.channel = decl.counts_as[0] ? decl.counts_as : NULL;
  t.keep = keep;
  t.at = clock_now(eng->clk);
  if ((rc = task_priority(eng, c, &decl, fields_json, &t.priority, err)) ||
      (rc = store_task_insert(eng->st, &t, id, err)))
    return rc;
  {
    /* When it is due, after the guard moved it into the contact hours: a
     * supervisor reads from here when the call was meant to happen. */
    char when[40];
    clock_zone_format(clock_zone(eng->clk), due, when, sizeof when);
    return case_journal(eng, case_id, "task",
                        json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)*id,
                                  "kind", kind, "queue", t.queue, "due", when),
                        err);
  }
}

/* --- roll rates --------------------------------------------------------- */

/* A book upgraded to the roll log saw none of this month's changes: its
 * first month with a known start is the next one. */
static int rolls_begin(engine *eng, rc_error *err) {
  char from[16], month[16];
  int rc =
      store_meta_get(eng->st, "figures.rolls_from", from, sizeof from, err);
  if (rc == RC_ENOTFOUND || (rc == RC_OK && strcmp(from, "upgrade") != 0))
    return RC_OK;
  if (rc != RC_OK) return rc;
  figure_day(eng, clock_now(eng->clk), month, sizeof month);
  month[7] = '\0';
  if (figures_month_add(month, 1, from, sizeof from) != 0) return RC_OK;
  return store_meta_put(eng->st, "figures.rolls_from", from, err);
}

/* Where the cases were at the starts of the month and of the next, from
 * the counters of now and the log of what changed since: a case not in
 * the log was, at both starts, what it is now. */
typedef struct rolls_walk {
  figures_rolls r;
  int64_t first, next; /* the two starts, days since the epoch */
  char month[8];       /* the month being settled */
  int opened_late;     /* the case being read opened in it or later */
  char next_month[8];
  char case_id[160]; /* the case whose log rows are being read */
  figures_case_at start, end, now;
  int has_end;
  char start_due[16], end_due[16], now_due[16];
} rolls_walk;

static void rolls_case_end(rolls_walk *w) {
  if (!w->case_id[0]) return;
  /* Opened since the start: out of the matrix. The counters' part lost
   * it at its opening due date (rolls_opened_row), which is what its
   * first log entry says it was; it is now at another. */
  if (w->opened_late) {
    figures_rolls_add(&w->r, w->start, w->start, w->first, w->next, 1);
    figures_rolls_add(&w->r, w->now, w->now, w->first, w->next, -1);
    w->case_id[0] = '\0';
    return;
  }
  /* Taken out of the counters' part, put in with its own two values. */
  figures_rolls_add(&w->r, w->now, w->now, w->first, w->next, -1);
  figures_rolls_add(&w->r, w->start, w->has_end ? w->end : w->now, w->first,
                    w->next, 1);
  w->case_id[0] = '\0';
}

static void case_at(figures_case_at *at, char *buf, size_t size,
                    const store_value *due, int64_t status) {
  at->status = (int)status;
  at->due_date = NULL;
  if (due->type == STORE_TEXT) {
    snprintf(buf, size, "%s", due->s);
    at->due_date = buf;
  }
}

static int rolls_due_row(void *ud, const store_value *cols, int n) {
  rolls_walk *w = ud;
  figures_case_at at = {FIG_OPEN, cols[0].s};
  (void)n;
  figures_rolls_add(&w->r, at, at, w->first, w->next, cols[1].i);
  return 0;
}

/* Cases opened since the month began, by day and the due date they
 * opened with (day, a, b, c, n, amount): not open at its start, taken
 * out of the counters' part as they opened; those that changed since are
 * in the log (rolls_case_end). */
static int rolls_opened_row(void *ud, const store_value *cols, int n) {
  rolls_walk *w = ud;
  figures_case_at at = {FIG_OPEN, cols[1].type == STORE_TEXT ? cols[1].s : ""};
  (void)n;
  figures_rolls_add(&w->r, at, at, w->first, w->next, -cols[4].i);
  return 0;
}

/* case_id, month, due_date, status, now_due, now_status, opened */
static int rolls_log_row(void *ud, const store_value *cols, int n) {
  rolls_walk *w = ud;
  (void)n;
  if (strcmp(cols[0].s, w->case_id) != 0) {
    rolls_case_end(w);
    snprintf(w->case_id, sizeof w->case_id, "%s", cols[0].s);
    case_at(&w->start, w->start_due, sizeof w->start_due, &cols[2], cols[3].i);
    w->has_end = 0;
    w->opened_late = strcmp(cols[6].s, w->month) >= 0;
  }
  if (!w->has_end && strcmp(cols[1].s, w->next_month) >= 0) {
    case_at(&w->end, w->end_due, sizeof w->end_due, &cols[2], cols[3].i);
    w->has_end = 1;
  }
  /* What it is now: after its last change, in its last row. */
  case_at(&w->now, w->now_due, sizeof w->now_due, &cols[4], cols[5].i);
  return 0;
}

static int rolls_seen(void *ud, const store_value *cols, int n) {
  (void)cols;
  (void)n;
  *(int *)ud = 1;
  return 1;
}

int engine_rolls_settle(engine *eng, const char *month, rc_error *err) {
  rolls_walk *w;
  char from[16];
  int rc, seen = 0;
  if ((rc = store_rolls_month(eng->st, month, rolls_seen, &seen, err)) || seen)
    return rc;
  /* The first month the log still covers from its start: later than the
   * last one settled (whose older entries it dropped). */
  rc = store_meta_get(eng->st, "figures.rolls_from", from, sizeof from, err);
  if (rc == RC_ENOTFOUND || (rc == RC_OK && strcmp(month, from) < 0))
    return rc_error_set(err, RC_ENOTFOUND, "month",
                        "no roll rates for %s: the changes of the book are "
                        "known from %s on",
                        month, rc == RC_OK ? from : "its next month");
  if (rc != RC_OK) return rc;
  if (!(w = calloc(1, sizeof *w)))
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  if (figures_month_add(month, 1, w->next_month, sizeof w->next_month) != 0) {
    free(w);
    return rc_error_set(err, RC_EINVAL, "month", "%s is no month", month);
  }
  w->first = figures_month_first(month);
  w->next = figures_month_first(w->next_month);
  snprintf(w->month, sizeof w->month, "%s", month);
  if ((rc = ingest_begin(eng, err)) != RC_OK) {
    free(w);
    return rc;
  }
  rc = store_figures_due(eng->st, rolls_due_row, w, err);
  if (rc == RC_OK) {
    char first_day[16];
    snprintf(first_day, sizeof first_day, "%s-01", month);
    rc = store_figures_days(eng->st, "opened", first_day, "9999-12-31",
                            rolls_opened_row, w, err);
  }
  if (rc == RC_OK)
    rc = store_rolls_logged(eng->st, month, rolls_log_row, w, err);
  if (rc == RC_OK) {
    rolls_case_end(w);
    /* Every cell, zeros too: a settled month has rows (and the mark
     * -1, -1 when nothing was open). */
    rc = store_roll_put(eng->st, month, -1, -1, 0, err);
    for (int f = 0; f < FIG_BUCKETS && rc == RC_OK; f++)
      for (int t = 0; t < FIG_COLUMNS && rc == RC_OK; t++)
        if (w->r.cases[f][t])
          rc = store_roll_put(eng->st, month, f, t, w->r.cases[f][t], err);
  }
  /* The next month to settle is this one's next: older entries are done
   * with. */
  if (rc == RC_OK) rc = store_rolls_forget(eng->st, w->next_month, err);
  if (rc == RC_OK)
    rc = store_meta_put(eng->st, "figures.rolls_from", w->next_month, err);
  free(w);
  return ingest_end(eng, rc, err);
}

/* --- the workflows loaded ------------------------------------------------ */

json_t *engine_workflows(engine *eng) {
  json_t *out = json_array();
  const char *names[64];
  int n = script_workflow_names(eng->sc, names, 64);
  for (int a = 1; a < n; a++) /* by name: the registry's order is a hash's */
    for (int b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
      const char *t = names[b];
      names[b] = names[b - 1];
      names[b - 1] = t;
    }
  for (int i = 0; i < n; i++) {
    int all[64], nall = 0, latest = 0;
    json_t *versions = json_array(), *wf = NULL;
    /* Every version any loaded script holds: cases run on the version
     * they started on, after reloads too. */
    for (int s = 0; s < eng->nscripts; s++) {
      int v[32],
          nv = script_workflow_versions(eng->scripts[s], names[i], v, 32);
      for (int k = 0; k < nv; k++) {
        int seen = 0;
        for (int j = 0; j < nall; j++) seen |= all[j] == v[k];
        if (!seen && nall < 64) all[nall++] = v[k];
      }
    }
    for (int a = 1; a < nall; a++)
      for (int b = a; b > 0 && all[b - 1] > all[b]; b--) {
        int t = all[b];
        all[b] = all[b - 1];
        all[b - 1] = t;
      }
    for (int k = 0; k < nall; k++)
      json_array_append_new(versions, json_integer(all[k]));
    script_workflow_latest(eng->sc, names[i], &latest);
    wf = script_workflow_describe(eng->sc, names[i], latest);
    if (!wf) {
      json_decref(versions);
      continue;
    }
    json_object_set_new(wf, "name", json_string(names[i]));
    json_object_set_new(wf, "version", json_integer(latest));
    json_object_set_new(wf, "versions", versions);
    json_array_append_new(out, wf);
  }
  return out;
}
