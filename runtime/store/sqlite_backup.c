/* The store's side of backups: the copy and the checks of a copy. This is
 * part of the store module (the one place that knows SQL), kept in its own
 * file because it works on database files, not on an open store.
 *
 * Why VACUUM INTO and not the online backup API: sqlite3_backup_step()
 * from any connection but the writer's restarts whenever the writer
 * commits, so under a steady flow of payments a copy from a second
 * process never finishes. VACUUM INTO reads inside one read transaction:
 * in WAL mode that is a fixed snapshot that writers never disturb, and it
 * runs in a process of its own (the service spawns it), so the service's
 * loop is not held at all. The price is that the WAL cannot be
 * checkpointed past the snapshot while the copy runs: it grows by what is
 * written meanwhile, and shrinks back at the next checkpoint after. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "backup.h"
#include "input.h"
#include "store/sqlite.h"
#include "store/store.h"

static int db_fail(sqlite3 *db, rc_error *err, const char *what,
                   const char *path) {
  return rc_error_set(err, RC_ESTORE, "db", "%s %s: %s", what, path,
                      db ? sqlite_why(db) : "out of memory");
}

static int sync_file(const char *path, rc_error *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    rc_error_set(err, RC_EIO, "db", "cannot fsync %s: %s", path,
                 strerror(errno));
    if (fd >= 0) close(fd);
    return RC_EIO;
  }
  close(fd);
  return RC_OK;
}

/* The source's WAL, if it has one, synced: every commit in it durable. */
static int sync_wal(const char *src, rc_error *err) {
  char wal[4096];
  if ((size_t)snprintf(wal, sizeof wal, "%s-wal", src) >= sizeof wal)
    return rc_error_set(err, RC_EINVAL, "db", "path too long: %s", src);
  return access(wal, F_OK) != 0 && errno == ENOENT ? RC_OK
                                                   : sync_file(wal, err);
}

/* The source opened for reading. A first import killed midway leaves
 * BOOK-journal (it writes in rollback-journal mode, sqlite.c's
 * import_direct), which a read-only connection cannot play back: every
 * read of it is refused "attempt to write a readonly database". As any
 * writer's open would, a connection that may write plays it back first
 * (the book is then as the import found it), and the copy reads that. */
int sqlite_open_source(const char *src, sqlite3 **from) {
  sqlite3 *rw = NULL;
  int rc = sqlite3_open_v2(src, from, SQLITE_OPEN_READONLY, NULL);
  if (rc != SQLITE_OK) return rc;
  sqlite3_busy_timeout(*from, 10000);
  rc = sqlite3_exec(*from, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
                    NULL);
  if (rc == SQLITE_OK || sqlite3_extended_errcode(*from) !=
                             SQLITE_READONLY_ROLLBACK)
    return SQLITE_OK; /* any other failure is told by the copy */
  sqlite3_close(*from);
  *from = NULL;
  if (sqlite3_open_v2(src, &rw, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(rw, 10000);
    (void)sqlite3_exec(rw, "SELECT count(*) FROM sqlite_schema", NULL, NULL,
                       NULL);
  }
  sqlite3_close(rw);
  rc = sqlite3_open_v2(src, from, SQLITE_OPEN_READONLY, NULL);
  if (rc == SQLITE_OK) sqlite3_busy_timeout(*from, 10000);
  return rc;
}

int store_backup_copy(const char *src, const char *dst, rc_error *err) {
  sqlite3 *from = NULL, *to = NULL;
  sqlite3_stmt *s = NULL;
  int fd, rc = RC_OK;
  /* Debts and phone numbers: the copy is the owner's alone, like the
   * book. VACUUM INTO takes an empty file. */
  if ((fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
    return rc_error_set(err, RC_EIO, "to", "cannot create %s: %s", dst,
                        strerror(errno));
  close(fd);
  if (sqlite_open_source(src, &from) != SQLITE_OK) {
    rc = db_fail(from, err, "cannot open", src);
    goto done;
  }
  if (sqlite3_prepare_v2(from, "VACUUM INTO ?1", -1, &s, NULL) != SQLITE_OK) {
    rc = db_fail(from, err, "cannot copy", src);
    goto done;
  }
  sqlite3_bind_text(s, 1, dst, -1, SQLITE_STATIC);
  if (sqlite3_step(s) != SQLITE_DONE) {
    rc = db_fail(from, err, "cannot copy", src);
    goto done;
  }
  /* The copy may hold a sweep's batch the service committed without an
   * fsync: the book holds it on its disk too before the copy counts. */
  if ((rc = sync_wal(src, err)) != RC_OK) goto done;
  /* The copy keeps the source's WAL flag in its header; a backup is one
   * file that opens anywhere, read-only media included. */
  if (sqlite3_open_v2(dst, &to, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
      sqlite3_exec(to, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) !=
          SQLITE_OK) {
    rc = db_fail(to, err, "cannot finish the copy", dst);
    goto done;
  }
done:
  sqlite3_finalize(s);
  sqlite3_close(from);
  sqlite3_close(to);
  if (rc == RC_OK) rc = sync_file(dst, err);
  if (rc != RC_OK) unlink(dst);
  return rc;
}

/* One integer from a query that returns one row. */
static int one_int(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *s;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  *out = 0;
  if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    *out = sqlite3_column_int64(s, 0);
    rc = SQLITE_OK;
  }
  sqlite3_finalize(s);
  return rc;
}

/* Money by currency: owed on open cases, and every payment. */
static int read_money(sqlite3 *db, store_summary *out) {
  static const char *const sql[2] = {
      "SELECT currency, sum(balance) FROM cases WHERE closed = 0 "
      "GROUP BY currency ORDER BY currency",
      "SELECT c.currency, sum(p.amount) FROM payments p "
      "JOIN cases c ON c.id = p.case_id GROUP BY c.currency "
      "ORDER BY c.currency"};
  for (int k = 0; k < 2; k++) {
    sqlite3_stmt *s;
    int rc;
    if (sqlite3_prepare_v2(db, sql[k], -1, &s, NULL) != SQLITE_OK) return -1;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const char *cur = (const char *)sqlite3_column_text(s, 0);
      int i;
      if (!cur) cur = "";
      for (i = 0; i < out->ncurrencies; i++)
        if (strcmp(out->money[i].currency, cur) == 0) break;
      if (i == out->ncurrencies) {
        if (i == BACKUP_CURRENCIES) continue; /* shown as far as it fits */
        out->ncurrencies++;
        rc_copy(out->money[i].currency, sizeof out->money[i].currency, cur);
      }
      if (k == 0)
        out->money[i].balance = sqlite3_column_int64(s, 1);
      else
        out->money[i].paid = sqlite3_column_int64(s, 1);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return -1;
  }
  return 0;
}

/* The borrowers whose locale has an extension (a one-letter subtag or
 * an ICU keyword): a book from before the import refused them. Told, not
 * refused: a book that cannot say is copied as before. */
static void locale_extensions(sqlite3 *db, store_summary *out) {
  sqlite3_stmt *s = NULL;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, locale FROM borrowers WHERE locale GLOB "
                         "'*[-_]?[-_]*' OR locale GLOB '*[-_]?' OR locale "
                         "GLOB '*@*' ORDER BY id",
                         -1, &s, NULL) != SQLITE_OK)
    return;
  while (sqlite3_step(s) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(s, 0);
    const char *tag = (const char *)sqlite3_column_text(s, 1);
    int64_t i = out->locale_extensions++;
    if (i >= BACKUP_LOCALES_NAMED) continue;
    rc_copy(out->locale_examples[i].id, sizeof out->locale_examples[i].id,
            id ? id : "");
    rc_copy(out->locale_examples[i].locale,
            sizeof out->locale_examples[i].locale, tag ? tag : "");
  }
  sqlite3_finalize(s);
}

int store_backup_check(const char *path, store_summary *out, rc_error *err) {
  sqlite3 *db = NULL;
  sqlite3_stmt *s = NULL;
  struct stat st;
  int rc = RC_OK, known = store_schema_version();
  int64_t v;
  memset(out, 0, sizeof *out);
  if (stat(path, &st) != 0)
    return rc_error_set(err, RC_ENOTFOUND, "db", "%s: %s", path,
                        strerror(errno));
  if (!S_ISREG(st.st_mode))
    return rc_error_set(err, RC_EINVAL, "db", "%s is not a file", path);
  out->bytes = (int64_t)st.st_size;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    rc = db_fail(db, err, "cannot open", path);
    goto done;
  }
  sqlite3_busy_timeout(db, 10000);
  if (one_int(db, "PRAGMA user_version", &v) != SQLITE_OK) {
    rc = rc_error_set(err, RC_EINVAL, "db", "%s is not a database: %s", path,
                      sqlite_why(db));
    goto done;
  }
  out->schema = (int)v;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) !=
          SQLITE_OK ||
      sqlite3_step(s) != SQLITE_ROW) {
    rc_copy(out->integrity, sizeof out->integrity, sqlite_why(db));
  } else {
    const char *first = (const char *)sqlite3_column_text(s, 0);
    rc_copy(out->integrity, sizeof out->integrity, first ? first : "?");
  }
  sqlite3_finalize(s);
  if (strcmp(out->integrity, "ok") != 0) {
    rc = rc_error_set(err, RC_EINVAL, "db",
                      "%s is damaged (integrity_check: %s)", path,
                      out->integrity);
    goto done;
  }
  if (out->schema < 1) {
    rc = rc_error_set(err, RC_EINVAL, "db",
                      "%s is not a recoup database (schema version 0)", path);
    goto done;
  }
  if (out->schema > known) {
    rc = rc_error_set(err, RC_EINVAL, "db",
                      "%s has schema version %d, newer than this recoup "
                      "knows (%d): restore it with the recoup that wrote it",
                      path, out->schema, known);
    goto done;
  }
  if (one_int(db, "SELECT count(*) FROM cases", &out->cases) ||
      one_int(db, "SELECT count(*) FROM cases WHERE closed = 0",
              &out->open_cases) ||
      one_int(db, "SELECT count(*) FROM cases WHERE error IS NOT NULL",
              &out->cases_in_error) ||
      one_int(db, "SELECT count(*) FROM timers", &out->open_timers) ||
      one_int(db,
              "SELECT count(*) FROM messages WHERE status = 'queued' OR "
              "status = 'deferred'",
              &out->queued_messages) ||
      one_int(db, "SELECT count(*) FROM events WHERE status = 'pending'",
              &out->pending_events) ||
      one_int(db, "SELECT count(*) FROM payments", &out->payments) ||
      read_money(db, out) != 0) {
    rc = rc_error_set(err, RC_EINVAL, "db", "%s cannot be read as a book: %s",
                      path, sqlite_why(db));
    goto done;
  }
  locale_extensions(db, out);
done:
  sqlite3_close(db);
  return rc;
}

/* Ids a book may hold from before input_check_id refused them. */
static int odd_ids(sqlite3 *db, const char *what, const char *sql,
                   store_odd_fn fn, void *ud) {
  sqlite3_stmt *s = NULL;
  int rc;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
    return sqlite3_errcode(db);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(s, 0);
    size_t len = (size_t)sqlite3_column_bytes(s, 0);
    rc_error why;
    rc_error_clear(&why);
    if (!id || input_check_id(id, len, what, INPUT_ID_MAX, &why) == RC_OK)
      continue;
    fn(ud, &(store_odd){.what = what, .id = id, .why = why.message});
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Timers whose due is not a whole number: text (set by hand, or by a
 * tool that wrote a date) compares above every number, so `due <= now`
 * never takes it; a real number is claimed as its whole part and fired
 * (sqlite.c fired_real_due). A scan: this is a command's look, not the
 * sweep's. */
static int odd_timers(sqlite3 *db, store_odd_fn fn, void *ud) {
  sqlite3_stmt *s = NULL;
  int rc;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, case_id, event, CAST(due AS TEXT), "
                         "typeof(due) = 'real' FROM timers WHERE typeof(due) "
                         "<> 'integer' ORDER BY case_id, id",
                         -1, &s, NULL) != SQLITE_OK)
    return sqlite3_errcode(db);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)sqlite3_column_int64(s, 0));
    fn(ud, &(store_odd){.what = "timer",
                        .id = id,
                        .case_id = (const char *)sqlite3_column_text(s, 1),
                        .event = (const char *)sqlite3_column_text(s, 2),
                        .why = (const char *)sqlite3_column_text(s, 3),
                        .fires = sqlite3_column_int(s, 4)});
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A borrower whose contacts kept on its row differ from the table's
 * (sqlite_contacts_differ), handed on as an odd thing of its own. */
typedef struct odd_to {
  store_odd_fn fn;
  void *ud;
} odd_to;

static void odd_contacts_one(void *ud, const char *id, int unread) {
  const odd_to *to = ud;
  to->fn(to->ud, &(store_odd){.what = unread ? "contacts_unread" : "contacts",
                              .id = id});
}

static int odd_contacts(sqlite3 *db, int64_t version, store_odd_fn fn,
                        void *ud) {
  odd_to to = {fn, ud};
  /* The copy on the borrower's row is schema 23's; from 28 on it is the
   * only read of a borrower's contacts, and one that does not read sends
   * nothing (before, such a copy sent the read to the table). */
  return version < 23 ? SQLITE_OK
                      : sqlite_contacts_differ(db, version >= 28,
                                               odd_contacts_one, &to);
}

/* The workflow versions open cases run, for check to say which of them
 * the scripts no longer load: their cases wait, unworked, and nothing
 * else says so (engine.c version_waits). Every workflow a book's open
 * cases run is handed over; check keeps the ones not loaded. */
static int odd_workflows(sqlite3 *db, store_odd_fn fn, void *ud) {
  sqlite3_stmt *s = NULL;
  int rc;
  if (sqlite3_prepare_v2(db,
                         "SELECT workflow, version, count(*) FROM cases "
                         "WHERE closed = 0 GROUP BY workflow, version "
                         "ORDER BY workflow, version",
                         -1, &s, NULL) != SQLITE_OK)
    return sqlite3_errcode(db);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    fn(ud, &(store_odd){.what = "workflow",
                        .id = (const char *)sqlite3_column_text(s, 0),
                        .version = sqlite3_column_int(s, 1),
                        .cases = sqlite3_column_int64(s, 2)});
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Cases parted by hand: a case_steps row without its case_rows row at
 * its step_row (one deleted and inserted again, docs/cli.md) is a case
 * the view does not show, which tick, import and migrate-store refuse,
 * naming it (sqlite.c sq_case_get, sqlite_book.c). Before step 33 the
 * two tables were joined by id. A scan: a command's look. */
static int odd_parted(sqlite3 *db, int64_t version, store_odd_fn fn, void *ud) {
  sqlite3_stmt *s = NULL;
  int rc;
  if (version < 21) return SQLITE_OK; /* cases was one table */
  if (sqlite3_prepare_v2(
          db,
          version >= 33
              ? "SELECT s.id FROM case_steps s WHERE NOT EXISTS (SELECT 1 "
                "FROM case_rows r WHERE r.step_row = s.step_row AND r.id = "
                "s.id) ORDER BY s.id"
              : "SELECT s.id FROM case_steps s WHERE NOT EXISTS (SELECT 1 "
                "FROM case_rows r WHERE r.id = s.id) ORDER BY s.id",
          -1, &s, NULL) != SQLITE_OK)
    return sqlite3_errcode(db);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    fn(ud, &(store_odd){.what = "parted",
                        .id = (const char *)sqlite3_column_text(s, 0)});
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Queues whose counts kept for My work (figures_tasks, step 38) are not
 * their tasks': a task written by hand, not through recoup (the store's
 * own writes keep them, not a trigger). A read of every waiting task:
 * a command's look. */
static int odd_task_counts(sqlite3 *db, int64_t version, store_odd_fn fn,
                           void *ud) {
  sqlite3_stmt *s = NULL;
  int rc;
  if (version < 38) return SQLITE_OK;
  if (sqlite3_prepare_v2(db,
                         "SELECT queue, sum(abs(n)) FROM ("
                         SQLITE_TASK_COUNTS_DIFFER ") GROUP BY queue "
                         "ORDER BY queue",
                         -1, &s, NULL) != SQLITE_OK)
    return sqlite3_errcode(db);
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    fn(ud, &(store_odd){.what = "task_counts",
                        .id = (const char *)sqlite3_column_text(s, 0),
                        .cases = sqlite3_column_int64(s, 1)});
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The book's checks generation as stored (NULL: the book has none, a
 * NULL value reads as no text), for check to say what the next start
 * does with it (engine.c, "checks generations"). */
static int odd_checks(sqlite3 *db, store_odd_fn fn, void *ud) {
  sqlite3_stmt *s = NULL;
  int rc;
  if (sqlite3_prepare_v2(db,
                         "SELECT value FROM meta WHERE key = "
                         "'checks.generation'",
                         -1, &s, NULL) != SQLITE_OK)
    return sqlite3_errcode(db);
  if ((rc = sqlite3_step(s)) == SQLITE_ROW || rc == SQLITE_DONE) {
    const char *v =
        rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    fn(ud, &(store_odd){.what = "checks",
                        .id = rc == SQLITE_ROW ? (v ? v : "") : NULL});
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(s);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A book in rollback-journal mode a first import holds to itself: said
 * as every command opening it says it (sqlite.c), not as a book that is
 * not one ("is not a database: database is locked"). */
static int odd_busy(const char *path, rc_error *err) {
  return rc_error_set(err, RC_ESTORE, "db",
                      "%s is being written by another process (a first "
                      "import into it holds it until it ends): run this "
                      "once it is done",
                      path);
}

int store_book_odd(const char *path, store_odd_fn fn, void *ud, rc_error *err) {
  sqlite3 *db = NULL;
  struct stat st;
  int rc = RC_OK, known = store_schema_version();
  int64_t v = 0;
  /* A FIFO would hold the open until something writes to it (check
   * waited for ever); a directory or a device is no book either. */
  if (stat(path, &st) != 0)
    return rc_error_set(err, RC_ENOTFOUND, "db", "%s: %s", path,
                        strerror(errno));
  if (!S_ISREG(st.st_mode))
    return rc_error_set(err, RC_EINVAL, "db", "%s is not a file", path);
  if (sqlite_open_source(path, &db) != SQLITE_OK) {
    rc = db_fail(db, err, "cannot open", path);
  } else if (one_int(db, "PRAGMA user_version", &v) != SQLITE_OK) {
    if (sqlite3_errcode(db) == SQLITE_BUSY)
      rc = odd_busy(path, err);
    else
      rc = rc_error_set(err, RC_EINVAL, "db", "%s is not a database: %s",
                        path, sqlite_why(db));
  } else if (v < 1) {
    rc = rc_error_set(err, RC_EINVAL, "db",
                      "%s is not a recoup database (schema version 0)", path);
  } else if (v > known) {
    /* Read as today's, a newer book's tables would be misread, and no
     * command of this recoup opens it: an "ok" would be wrong. */
    rc = rc_error_set(err, RC_EINVAL, "db",
                      "%s has schema version %lld, newer than this recoup "
                      "knows (%d): check it with the recoup that wrote it",
                      path, (long long)v, known);
  } else if (odd_ids(db, "case", "SELECT id FROM cases", fn, ud) ||
             odd_ids(db, "borrower", "SELECT id FROM borrowers", fn, ud) ||
             odd_parted(db, v, fn, ud) || odd_timers(db, fn, ud) ||
             odd_contacts(db, v, fn, ud) || odd_workflows(db, fn, ud) ||
             odd_task_counts(db, v, fn, ud) || odd_checks(db, fn, ud)) {
    if (sqlite3_errcode(db) == SQLITE_BUSY)
      rc = odd_busy(path, err);
    else
      rc = rc_error_set(err, RC_ESTORE, "db", "%s cannot be read as a book: %s",
                      path, sqlite_why(db));
  }
  sqlite3_close(db);
  return rc;
}
