/* Copying the WAL back into the database file (a checkpoint), part of the
 * SQLite store.
 *
 * SQLite's own autocheckpoint copies on the connection that committed,
 * inside that commit: for the service, that is the loop's thread, and
 * every answer waits for the copy (random page writes and an fsync of the
 * database file). Apart, a thread with a connection of its own copies
 * (PASSIVE: it never waits for the loop's connection, nor holds it up),
 * and the loop only tells it that pages wait.
 *
 * A PASSIVE copy never starts the WAL again from its beginning: that
 * happens when the writer begins a transaction with every frame already
 * copied, and a writer that commits without pause (a long sweep) always
 * has a frame or more the copier has not reached. So past `most` pages
 * the thread is woken each time it is idle, and copies what came since
 * its last copy: fewer frames each time, as copying a frame is quicker
 * than writing it. A commit that finds it idle with at most a quarter of
 * `pages` left copies those itself (a few ms: the writer's thread is the
 * service's loop, and every answer waits for it); the next transaction
 * then writes at the start of the WAL. A quarter past `most`, the commit
 * waits for the thread's copy to end and copies the rest: the bound
 * holds whatever the pace. Crash safety is SQLite's: a frame counts as
 * copied only once the database file is synced, whichever connection
 * copies it. */
#include "store/sqlite_checkpoint.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "sqlmem.h"

struct sq_ckpt {
  sqlite3 *db; /* the caller's connection, whose WAL hook this is */
  int pages, most;
  int apart; /* the thread runs */
  pthread_t thread;
  sqlite3 *own; /* the thread's connection */
  /* Under mu: shared with the thread. */
  pthread_mutex_t mu;
  pthread_cond_t cv, idle;
  int wake, stop, copying;
  int copied; /* frames copied back, as the last copy left them */
  /* Commits that wrote to the WAL; only the caller's thread touches it. */
  long commits;
};

/* The thread: one PASSIVE copy each time a commit asks. SQLITE_BUSY is a
 * copy the caller's connection is making (past `most`): nothing to do. */
static void *ckpt_thread(void *arg) {
  sq_ckpt *c = arg;
  sqlmem_thread_apart();
  /* Told apart from the loop in top -H and /proc (tests/bench/p99.sh). */
  (void)prctl(PR_SET_NAME, "recoup-walcopy", 0, 0, 0);
  pthread_mutex_lock(&c->mu);
  for (;;) {
    int log = 0, done = 0, rc;
    while (!c->stop && !c->wake) pthread_cond_wait(&c->cv, &c->mu);
    if (c->stop) break;
    c->wake = 0;
    c->copying = 1;
    pthread_mutex_unlock(&c->mu);
    rc = sqlite3_wal_checkpoint_v2(c->own, "main", SQLITE_CHECKPOINT_PASSIVE,
                                   &log, &done);
    pthread_mutex_lock(&c->mu);
    c->copying = 0;
    if (rc == SQLITE_OK && done >= 0) c->copied = done;
    pthread_cond_signal(&c->idle);
  }
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* A PASSIVE copy on the caller's connection, from a commit. */
static void copy_here(sq_ckpt *c, sqlite3 *db, const char *name) {
  int log = 0, done = 0;
  if (sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &log,
                                &done) == SQLITE_OK &&
      done >= 0) {
    pthread_mutex_lock(&c->mu);
    c->copied = done;
    pthread_mutex_unlock(&c->mu);
  }
}

/* The WAL hook: after each commit of the caller's connection, with the
 * number of frames now in the WAL. */
static int ckpt_on_commit(void *ud, sqlite3 *db, const char *name,
                          int frames) {
  sq_ckpt *c = ud;
  int waiting, here;
  c->commits++;
  if (!c->apart) {
    if (c->pages > 0 && frames >= c->pages)
      (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
                                      NULL, NULL);
    return SQLITE_OK;
  }
  pthread_mutex_lock(&c->mu);
  if (frames >= c->most + c->most / 4)
    while (c->copying) pthread_cond_wait(&c->idle, &c->mu);
  /* Fewer frames than were copied: the WAL started again since. */
  waiting = frames >= c->copied ? frames - c->copied : frames;
  here = frames >= c->most && !c->copying &&
         (waiting <= c->pages / 4 || frames >= c->most + c->most / 4);
  if (!here && !c->copying && (waiting >= c->pages || frames >= c->most)) {
    c->wake = 1;
    pthread_cond_signal(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
  if (here) copy_here(c, db, name);
  return SQLITE_OK;
}

int sq_ckpt_new(sq_ckpt **out, sqlite3 *db, int pages, rc_error *err) {
  sq_ckpt *c = calloc(1, sizeof *c);
  *out = NULL;
  if (!c) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  c->db = db;
  c->pages = pages;
  sqlite3_wal_hook(db, ckpt_on_commit, c);
  *out = c;
  return RC_OK;
}

long sq_ckpt_commits(const sq_ckpt *c) {
  return c ? c->commits : 0;
}

void sq_ckpt_every(sq_ckpt *c, int pages) {
  c->pages = pages;
}

static void ckpt_join(sq_ckpt *c) {
  if (!c->apart) return;
  pthread_mutex_lock(&c->mu);
  c->stop = 1;
  pthread_cond_signal(&c->cv);
  pthread_mutex_unlock(&c->mu);
  pthread_join(c->thread, NULL);
  pthread_cond_destroy(&c->cv);
  pthread_cond_destroy(&c->idle);
  pthread_mutex_destroy(&c->mu);
  sqlite3_close(c->own);
  c->own = NULL;
  c->apart = 0;
}

/* The thread's connection: the same file, its WAL opened by a read (a
 * checkpoint on a connection that has read nothing copies nothing). */
static int ckpt_open_own(sq_ckpt *c, rc_error *err) {
  const char *path = sqlite3_db_filename(c->db, "main");
  if (!path || !*path)
    return rc_error_set(err, RC_EINVAL, "db",
                        "a database in memory has no WAL to copy back");
  if (sqlite3_open_v2(path, &c->own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK ||
      sqlite3_busy_timeout(c->own, 5000) != SQLITE_OK ||
      sqlite3_exec(c->own,
                   "PRAGMA synchronous = FULL;"
                   "SELECT count(*) FROM sqlite_schema;",
                   NULL, NULL, NULL) != SQLITE_OK) {
    rc_error_set(err, RC_ESTORE, "db",
                 "cannot open a second connection to %s to copy its WAL "
                 "back: %s",
                 path, c->own ? sqlite3_errmsg(c->own) : "out of memory");
    sqlite3_close(c->own);
    c->own = NULL;
    return RC_ESTORE;
  }
  return RC_OK;
}

int sq_ckpt_apart(sq_ckpt *c, int pages, int most, rc_error *err) {
  int rc;
  ckpt_join(c);
  if (pages <= 0) return RC_OK;
  if (most < pages) most = pages;
  if ((rc = ckpt_open_own(c, err)) != RC_OK) return rc;
  c->stop = c->wake = c->copying = c->copied = 0;
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  pthread_cond_init(&c->idle, NULL);
  if ((rc = pthread_create(&c->thread, NULL, ckpt_thread, c)) != 0) {
    pthread_cond_destroy(&c->cv);
    pthread_cond_destroy(&c->idle);
    pthread_mutex_destroy(&c->mu);
    sqlite3_close(c->own);
    c->own = NULL;
    return rc_error_set(err, RC_EIO, NULL,
                        "cannot start the thread that copies the WAL back: %s",
                        strerror(rc));
  }
  /* Only once the thread runs: a caller that goes on without it keeps
   * the copies it had (the thread reads neither). */
  c->pages = pages;
  c->most = most;
  c->apart = 1;
  return RC_OK;
}

void sq_ckpt_free(sq_ckpt *c) {
  if (!c) return;
  ckpt_join(c);
  sqlite3_wal_hook(c->db, NULL, NULL);
  free(c);
}
