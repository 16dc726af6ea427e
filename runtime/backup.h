/* Backups and restores of the SQLite book (docs/operations.md).
 *
 * store/sqlite_backup.c is the storage side (the SQL: the copy and the checks);
 * backup.c the rest: the lock beside the database that says which service
 * holds it, the commands `recoup backup` and `recoup restore`, and the
 * service's part (POST /v1/admin/backup and the schedule). */
#ifndef RECOUP_BACKUP_H
#define RECOUP_BACKUP_H

#include <stdint.h>

#include <jansson.h>

#include "recoup/recoup.h"

enum { BACKUP_CURRENCIES = 16, BACKUP_LOCALES_NAMED = 3 };

/* What a copy of the book holds, read back from the copy itself. */
typedef struct store_summary {
  int schema;          /* PRAGMA user_version */
  char integrity[512]; /* "ok", or the first problem integrity_check saw */
  int64_t bytes;       /* the file's size */
  int64_t cases, open_cases, cases_in_error, open_timers, queued_messages,
      pending_events, payments;
  /* Borrowers whose locale carries an extension (-u-, -t-, -x-, '@'),
   * refused for new input since they could change how a message reads
   * and left out when formatting: how many, and the first few (id and
   * locale as stored, cut to fit). */
  int64_t locale_extensions;
  struct {
    char id[132], locale[64];
  } locale_examples[BACKUP_LOCALES_NAMED];
  int ncurrencies;
  struct {
    char currency[8];
    int64_t balance; /* owed on open cases */
    int64_t paid;    /* every payment recorded */
  } money[BACKUP_CURRENCIES];
} store_summary;

/* --- store/sqlite_backup.c ------------------------------------------- */

/* Copies the database at src into dst (a new file, created 0600) with
 * VACUUM INTO: one read transaction, so the copy is one consistent
 * snapshot however many writes the service commits meanwhile (in WAL mode
 * a reader neither waits for writers nor restarts). dst is fsync'd and
 * made a one-file database (no -wal). */
int store_backup_copy(const char *src, const char *dst, rc_error *err);
/* Reads a copy back: integrity_check, schema version, counts and money.
 * RC_OK only when it is a recoup book this binary can open: integrity
 * "ok" and a schema version from 1 to store_schema_version(); otherwise
 * err says which (the summary is filled as far as it could be). */
int store_backup_check(const char *path, store_summary *out, rc_error *err);

/* Something a book written by an older recoup may hold that today's
 * input refuses, or that the sweep cannot run: a case or borrower id
 * HTTP bodies and imports refuse (input_check_id: a trailing U+3000, a
 * tag character), a timer whose due is text (never due: the sweep
 * compares numbers) or a real number (fired at its whole millisecond),
 * a borrower whose contacts kept on its row (contacts_packed) read but
 * are not the contacts table's (a hand edit of one alone: reminders go
 * by the row's, a reply is matched to its case by the table's).
 * Strings live for the call only. */
typedef struct store_odd {
  const char *what;    /* "case", "borrower", "timer", "contacts",
                        * "workflow", "parted" (a case whose case_steps
                        * row has no case_rows row at its step_row: an
                        * error, not a warning), "checks" (once: the
                        * book's checks generation as stored in id, NULL
                        * for none), "task_counts" (a queue whose kept
                        * counts of waiting tasks are not its tasks') */
  const char *id;      /* the id as stored (a timer's: its number;
                        * contacts': their borrower's; a workflow's: its
                        * name; task_counts': the queue) */
  const char *case_id; /* a timer's case; NULL otherwise */
  const char *event;   /* a timer's event; NULL otherwise */
  const char *why;     /* input_check_id's message, or the due as stored */
  int fires;           /* a timer: 1 when the sweep still fires it */
  int version;         /* a workflow: the version open cases run */
  int64_t cases;       /* a workflow: how many open cases run it;
                        * task_counts: the tasks they are off by, summed
                        * without sign over the queue's days */
} store_odd;
typedef void (*store_odd_fn)(void *ud, const store_odd *o);
/* Hands fn each odd thing of the SQLite book at path, opened read-only
 * (no migration, no write: a book a service holds may be looked at). */
int store_book_odd(const char *path, store_odd_fn fn, void *ud, rc_error *err);

/* --- backup.c ---------------------------------------------------------- */

json_t *backup_summary_json(const store_summary *s);
/* The summary's lines; money formatted in locale (the institution's, as
 * recoup report shows it; "" for ICU's English). */
void backup_summary_print(const char *what, const char *path,
                          const store_summary *s, const char *locale,
                          FILE *out);

/* The lock beside a database file (DB.lock): a service holds it with
 * flock for as long as it runs, and writes there where it listens and
 * where it writes backups. The kernel drops the lock when the process
 * ends, however it ends, so a lock is never stale. */
typedef struct backup_holder {
  int pid;
  char address[256];  /* HOST:PORT the service answers on */
  char backups[4096]; /* its backup directory, resolved */
} backup_holder;

/* The service takes the lock (fd is kept until exit); RC_ECONFLICT when
 * another process holds it, err naming it. */
int backup_lock_hold(const char *db, int *fd, rc_error *err);
/* Writes the service's address and backup directory into its lock. */
int backup_lock_announce(int fd, const char *address, const char *backups,
                         rc_error *err);
/* Whether a service holds db: 1 (and *h filled), 0, or an RC_* < 0. */
int backup_lock_holder(const char *db, backup_holder *h, rc_error *err);
/* A command that writes the book beside no service (`recoup tick`,
 * `recoup import`) shares the lock until it exits (*fd, kept; -1 when
 * there is no lock file it may make): a service starting meanwhile
 * cannot take it whole and refuses, while a backup (which only asks who
 * holds it whole) still copies and other commands go on. 0 when shared,
 * 1 when a service or another process holds it whole (*h filled as by
 * backup_lock_holder), or an RC_* < 0. */
int backup_lock_share(const char *db, int *fd, backup_holder *h, rc_error *err);
/* Commands that deliver a SQLite book's outbox (`recoup tick`, `recoup
 * import`) do it one at a time: the messages one is sending are known
 * only to it, so a second would send them again. Takes DB.deliver.lock
 * whole (*fd kept until exit; -1 when there is no lock file it may
 * make), waiting for the one delivering (said once on stderr); gives up
 * with RC_ECONFLICT when stop() says so meanwhile (an interrupt). */
int backup_deliver_lock(const char *db, int *fd, int (*stop)(void),
                        rc_error *err);

/* `recoup backup` and `recoup restore` (main.c parses the line). db: --db
 * or NULL for DIR's service.db. */
int backup_cli(const char *dest, const char *dir, const char *db, int json,
               int direct);
int restore_cli(const char *src, const char *dir, const char *db, int json);

/* The service's part: the backup directory (created 0700) and, with
 * every_ms, the schedule. The copy runs in a child process. */
typedef struct backup_service backup_service;
struct service;
struct http_request;
int backup_service_start(struct service *svc, const char *db, const char *dir,
                         int64_t every_ms, int keep, backup_service **out,
                         rc_error *err);
const char *backup_service_dir(const backup_service *b);
/* POST /v1/admin/backup: answered when the copy is made and checked. */
void backup_service_request(struct service *svc, backup_service *b,
                            struct http_request *req, int route);
/* For /health: the directory, the last copy, the last failure, the next
 * scheduled time; null when there is no backup service. */
json_t *backup_service_health(const backup_service *b);
/* Stops the schedule (and a scheduled copy under way) before the loop's
 * last run; free after it. */
void backup_service_stop(backup_service *b);
void backup_service_free(backup_service *b);

#endif
