/* Backups and restores (docs/operations.md): the lock that says which
 * service holds a database, `recoup backup`, `recoup restore`, and the
 * service's part — POST /v1/admin/backup and service.backup's schedule.
 *
 * Who copies: a backup taken while a service writes must come from a
 * snapshot the writes cannot disturb. The service does not copy on its
 * loop: it spawns its own binary (`recoup backup FILE --db DB --direct
 * --json`), which copies with VACUUM INTO in one read transaction
 * (store/sqlite_backup.c), checks the copy and prints what it holds; the
 * service answers the request, or logs the scheduled run, when the child
 * exits. The loop only starts a process and reads a pipe. */
#define _GNU_SOURCE /* pipe2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "backup.h"
#include "child.h"
#include "input.h"
#include "recoup/script.h"
#include "service.h"
#include "store/where.h"
#include "template.h"

/* --- what a copy holds ------------------------------------------------- */

json_t *backup_summary_json(const store_summary *s) {
  json_t *money = json_object(), *named = json_array(), *out;
  for (int i = 0; i < s->ncurrencies; i++)
    json_object_set_new(
        money, s->money[i].currency,
        json_pack("{s:I, s:I}", "owed", (json_int_t)s->money[i].balance, "paid",
                  (json_int_t)s->money[i].paid));
  for (int64_t i = 0; i < s->locale_extensions && i < BACKUP_LOCALES_NAMED; i++)
    json_array_append_new(
        named, json_pack("{s:s, s:s}", "id", s->locale_examples[i].id, "locale",
                         s->locale_examples[i].locale));
  out = json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
                  "integrity", s->integrity, "schema", s->schema, "bytes",
                  (json_int_t)s->bytes, "cases", (json_int_t)s->cases,
                  "open_cases", (json_int_t)s->open_cases, "cases_in_error",
                  (json_int_t)s->cases_in_error, "open_timers",
                  (json_int_t)s->open_timers, "queued_messages",
                  (json_int_t)s->queued_messages, "pending_events",
                  (json_int_t)s->pending_events, "payments",
                  (json_int_t)s->payments, "money", money);
  /* The summary's line, as the text says it: how many, the first few
   * named. Absent when there are none, as the line is. */
  if (out && s->locale_extensions)
    json_object_set_new(
        out, "locale_extensions",
        json_pack("{s:I, s:o}", "borrowers", (json_int_t)s->locale_extensions,
                  "first", named));
  else
    json_decref(named);
  return out;
}

void backup_summary_print(const char *what, const char *path,
                          const store_summary *s, const char *locale,
                          FILE *out) {
  char shown[PATH_MAX], owed[64], paid[64];
  rc_printable(shown, sizeof shown, path);
  fprintf(out, "%s %s: %.1f MB, integrity %s, schema version %d\n", what, shown,
          (double)s->bytes / 1e6, s->integrity, s->schema);
  fprintf(out,
          "  cases %lld (%lld open, %lld in error); open timers %lld; queued "
          "messages %lld; queued events %lld; payments %lld\n",
          (long long)s->cases, (long long)s->open_cases,
          (long long)s->cases_in_error, (long long)s->open_timers,
          (long long)s->queued_messages, (long long)s->pending_events,
          (long long)s->payments);
  if (s->locale_extensions) {
    fprintf(out,
            "  borrowers whose locale has an extension, left out when "
            "formatting (the import refuses them now): %lld: ",
            (long long)s->locale_extensions);
    for (int64_t i = 0; i < s->locale_extensions && i < BACKUP_LOCALES_NAMED;
         i++) {
      char id[sizeof s->locale_examples[i].id * 2];
      char tag[sizeof s->locale_examples[i].locale * 2];
      rc_printable_line(id, sizeof id, s->locale_examples[i].id);
      rc_printable_line(tag, sizeof tag, s->locale_examples[i].locale);
      fprintf(out, "%s%s (%s)", i ? ", " : "", id, tag);
    }
    fprintf(out, "%s\n",
            s->locale_extensions > BACKUP_LOCALES_NAMED ? ", ..." : "");
  }
  /* As recoup report shows money, so that the two compare at a glance
   * (the JSON keeps minor units). */
  for (int i = 0; i < s->ncurrencies; i++) {
    template_format_money(locale, s->money[i].currency, s->money[i].balance,
                          owed, sizeof owed);
    template_format_money(locale, s->money[i].currency, s->money[i].paid, paid,
                          sizeof paid);
    fprintf(out, "  %s: owed on open cases %s, paid %s\n", s->money[i].currency,
            owed, paid);
  }
}

/* --- files --------------------------------------------------------------- */

static void lock_path(const char *db, char *buf, size_t size) {
  snprintf(buf, size, "%s.lock", db);
}

/* fsync of the directory holding path: a rename or link is durable only
 * once its directory is. */
static int sync_dir_of(const char *path, rc_error *err) {
  char copy[PATH_MAX];
  int fd;
  rc_copy(copy, sizeof copy, path);
  if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
      fsync(fd) != 0) {
    rc_error_set(err, RC_EIO, NULL, "cannot fsync the directory of %s: %s",
                 path, strerror(errno));
    if (fd >= 0) close(fd);
    return RC_EIO;
  }
  close(fd);
  return RC_OK;
}

/* --- the lock beside the database -------------------------------------- */

int backup_lock_hold(const char *db, int *fd, rc_error *err) {
  char path[PATH_MAX + 8];
  backup_holder h;
  lock_path(db, path, sizeof path);
  *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (*fd < 0)
    return rc_error_set(err, RC_EIO, "db", "cannot open %s: %s", path,
                        strerror(errno));
  if (flock(*fd, LOCK_EX | LOCK_NB) == 0) return RC_OK;
  close(*fd);
  *fd = -1;
  /* A holder that has not announced itself yet (a service starting, a
   * command) has no pid to name; one that only shares it is a command
   * (backup_lock_share). */
  switch (backup_lock_holder(db, &h, err)) {
    case 1:
      if (h.pid > 0)
        return rc_error_set(err, RC_ECONFLICT, "db",
                            "another service (pid %d, at %s) holds %s", h.pid,
                            h.address, db);
      break;
    case 0:
      return rc_error_set(
          err, RC_ECONFLICT, "db",
          "a tick or an import (recoup tick, recoup import) runs on %s", db);
  }
  return rc_error_set(err, RC_ECONFLICT, "db", "another process holds %s",
                      path);
}

/* Opens the file db + suffix beside the book (its name in path), made
 * only by the book's owner: a lock file of another user's would keep the
 * service from opening the book (and backup from believing it). Another
 * user opens it only if it is there, to read. */
static int open_beside(const char *db, const char *suffix, char *path,
                       size_t size) {
  struct stat ds;
  int mine = stat(db, &ds) == 0 && ds.st_uid == geteuid();
  snprintf(path, size, "%s%s", db, suffix);
  return open(path, mine ? O_RDWR | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC,
              0600);
}

int backup_lock_share(const char *db, int *fd, backup_holder *h,
                      rc_error *err) {
  char path[PATH_MAX + 8];
  *fd = open_beside(db, ".lock", path, sizeof path);
  if (*fd < 0) return backup_lock_holder(db, h, err);
  /* Held whole by one that ends between the two looks: look again. */
  for (int tries = 0; tries < 3; tries++) {
    int held;
    if (flock(*fd, LOCK_SH | LOCK_NB) == 0) return 0;
    if ((held = backup_lock_holder(db, h, err)) != 0) {
      close(*fd);
      *fd = -1;
      return held;
    }
  }
  close(*fd);
  *fd = -1;
  memset(h, 0, sizeof *h);
  return 1;
}

int backup_deliver_lock(const char *db, int *fd, int (*stop)(void),
                        rc_error *err) {
  char path[PATH_MAX + 16];
  int said = 0;
  /* Another user's command, the file not there, delivers unlocked, as
   * before there was one. */
  *fd = open_beside(db, ".deliver.lock", path, sizeof path);
  if (*fd < 0) return RC_OK;
  /* Not a blocking flock: an interrupt restarts it (SA_RESTART), and a
   * person pressing Ctrl-C while waiting expects to be let go. */
  while (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR) {
      close(*fd);
      *fd = -1;
      return rc_error_set(err, RC_EIO, "db", "cannot lock %s: %s", path,
                          strerror(errno));
    }
    if (stop && stop()) {
      close(*fd);
      *fd = -1;
      return rc_error_set(err, RC_ECONFLICT, "db",
                          "interrupted while waiting for another tick or "
                          "import delivering %s's messages: none sent",
                          db);
    }
    if (!said) {
      fprintf(stderr,
              "recoup: another tick or import is delivering %s's messages: "
              "waiting for it, so that none is sent twice\n",
              db);
      said = 1;
    }
    usleep(100 * 1000);
  }
  return RC_OK;
}

int backup_lock_announce(int fd, const char *address, const char *backups,
                         rc_error *err) {
  json_t *v = json_pack("{s:i, s:s, s:s}", "pid", (int)getpid(), "address",
                        address, "backups", backups);
  char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
  size_t len = text ? strlen(text) : 0;
  int ok =
      text && ftruncate(fd, 0) == 0 && pwrite(fd, text, len, 0) == (ssize_t)len;
  json_decref(v);
  free(text);
  if (!ok)
    return rc_error_set(err, RC_EIO, "db", "cannot write the lock file: %s",
                        strerror(errno));
  return RC_OK;
}

int backup_lock_holder(const char *db, backup_holder *h, rc_error *err) {
  char path[PATH_MAX + 8], text[8192];
  int fd;
  ssize_t n;
  json_t *v;
  memset(h, 0, sizeof *h);
  lock_path(db, path, sizeof path);
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
    if (errno == ENOENT) return 0;
    return rc_error_set(err, RC_EIO, "db", "cannot open %s: %s", path,
                        strerror(errno));
  }
  if (flock(fd, LOCK_SH | LOCK_NB) == 0) { /* nobody holds it */
    close(fd);
    return 0;
  }
  /* The admin token goes where this file says: only if the database's
   * owner wrote it, and nobody else could. */
  {
    struct stat ls, ds;
    if (fstat(fd, &ls) != 0 || stat(db, &ds) != 0 || ls.st_uid != ds.st_uid ||
        (ls.st_mode & 022)) {
      close(fd);
      return rc_error_set(err, RC_EINVAL, "db",
                          "%s is held, but not by the database's owner (or "
                          "others may write it): not asking it",
                          path);
    }
  }
  n = pread(fd, text, sizeof text - 1, 0);
  close(fd);
  text[n > 0 ? n : 0] = '\0';
  if ((v = json_loads(text, 0, NULL))) {
    const char *a = json_string_value(json_object_get(v, "address"));
    const char *b = json_string_value(json_object_get(v, "backups"));
    h->pid = (int)json_integer_value(json_object_get(v, "pid"));
    rc_copy(h->address, sizeof h->address, a ? a : "");
    rc_copy(h->backups, sizeof h->backups, b ? b : "");
    json_decref(v);
  }
  return 1;
}

/* --- a copy made here ---------------------------------------------------- */

/* Copies db to dest (never over an existing file): into a hidden partial
 * file beside it, checked, then linked to its name (link fails on an
 * existing name, symlinks included, where rename would replace it). */
/* Whether a tick or an import runs on db: they share its lock file
 * while they run (backup_lock_share); a service holds it whole. */
static int a_command_writes(const char *db) {
  char path[PATH_MAX + 8];
  int fd, shared = 0;
  lock_path(db, path, sizeof path);
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) return 0;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0 && flock(fd, LOCK_SH | LOCK_NB) == 0)
    shared = 1;
  close(fd); /* and its lock with it */
  return shared;
}

static int copy_here(const char *db, const char *dest, store_summary *sum,
                     rc_error *err) {
  char partial[PATH_MAX + 64], copy[PATH_MAX], *base;
  struct stat st;
  int rc;
  if (lstat(dest, &st) == 0)
    return rc_error_set(err, RC_ECONFLICT, "to",
                        "%s exists: a backup never overwrites a file", dest);
  rc_copy(copy, sizeof copy, dest);
  base = strrchr(copy, '/');
  if (base) {
    *base++ = '\0';
    snprintf(partial, sizeof partial, "%s/.%s.partial-%d", copy, base,
             (int)getpid());
  } else {
    snprintf(partial, sizeof partial, ".%s.partial-%d", copy, (int)getpid());
  }
  if ((rc = store_backup_copy(db, partial, err)) != RC_OK) return rc;
  if ((rc = store_backup_check(partial, sum, err)) != RC_OK) {
    unlink(partial);
    return rc;
  }
  /* A first import writes its book's pages only at its end: a copy
   * taken before is of the empty book it made, which no one backing up
   * a book being filled wants kept as its backup. */
  if (sum->cases == 0 && a_command_writes(db)) {
    unlink(partial);
    return rc_error_set(err, RC_ECONFLICT, "db",
                        "%s holds no case yet and an import or a tick is "
                        "writing it (a first import writes the book at its "
                        "end): the copy would be of an empty book, so none "
                        "was kept; back it up once that is done",
                        db);
  }
  if (link(partial, dest) != 0) {
    rc = rc_error_set(err, errno == EEXIST ? RC_ECONFLICT : RC_EIO, "to",
                      "cannot name the copy %s: %s", dest, strerror(errno));
    unlink(partial);
    return rc;
  }
  unlink(partial);
  return sync_dir_of(dest, err);
}

/* --- the command line ---------------------------------------------------- */

static int fail_with(const rc_error *err, int json) {
  if (json) {
    json_t *v = json_pack("{s:{s:s, s:s, s:s}}", "error", "code",
                          api_code_of(err->code), "field", err->field,
                          "message", err->message);
    char *text = json_dumps(v, JSON_COMPACT);
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(v);
  } else {
    rc_error_print(err, stderr);
  }
  return 1;
}

/* The database a command names: --db, else DIR's service.db; the backup
 * directory too when backups is not NULL. */
/* The book's path (db, else the configuration's), where the backups go
 * and the institution's locale, for money as report shows it. With db
 * given, scripts that do not load leave the locale "" (ICU's English):
 * a copy is not refused for them. */
static int resolve_db(const char *dir, const char *db, char *out, size_t size,
                      char *backups, size_t bsize, char *locale, size_t lsize) {
  script *sc = NULL;
  rc_errlist errors = {0}, findings = {0};
  if (locale) *locale = '\0';
  /* Only the configuration is read: a newer check's finding (an upgrade
   * finding something in the scripts) must not stop a backup. */
  if (script_load_findings(&sc, dir, &errors, &findings) != RC_OK) {
    for (int i = 0; !db && i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    rc_errlist_free(&errors);
    rc_errlist_free(&findings);
    if (!db || backups) return RC_EINVAL;
    rc_copy(out, size, db);
    return RC_OK;
  }
  rc_errlist_free(&findings);
  rc_copy(out, size, db ? db : script_config(sc)->db);
  if (backups) rc_copy(backups, bsize, script_config(sc)->backup_to);
  if (locale) rc_copy(locale, lsize, script_config(sc)->locale);
  script_free(sc);
  return RC_OK;
}

typedef struct reply_buf {
  char *p;
  size_t len;
} reply_buf;

static size_t on_reply(char *p, size_t size, size_t n, void *ud) {
  reply_buf *b = ud;
  char *grown;
  if (b->len + size * n > (1u << 20)) return 0;
  if (!(grown = realloc(b->p, b->len + size * n + 1))) return 0;
  b->p = grown;
  memcpy(b->p + b->len, p, size * n);
  b->len += size * n;
  b->p[b->len] = '\0';
  return size * n;
}

/* Asks the service at h->address for a backup to dest. */
static int ask_service(const backup_holder *h, const char *db, const char *dest,
                       const char *locale, int json) {
  const char *token = getenv("RECOUP_ADMIN_TOKEN");
  char url[400], auth[600], host[256], full[PATH_MAX], copy[PATH_MAX];
  char real[PATH_MAX];
  const char *port = strrchr(h->address, ':');
  struct curl_slist *hd = NULL;
  reply_buf b = {0};
  rc_error err;
  long status = 0;
  CURL *c;
  json_t *body;
  char *text;
  int rc = 1;
  rc_error_clear(&err);
  if (!token || !*token) {
    rc_error_set(&err, RC_EINVAL, NULL,
                 "a service (pid %d, at %s) holds %s: set RECOUP_ADMIN_TOKEN "
                 "to the admin token for it to make the backup",
                 h->pid, h->address, db);
    return fail_with(&err, json);
  }
  /* The service writes only into its backup directory. */
  rc_copy(copy, sizeof copy, dest);
  if (!realpath(dirname(copy), real) ||
      snprintf(full, sizeof full, "%s/%s", real,
               strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest) >=
          (int)sizeof full ||
      strcmp(real, h->backups) != 0) {
    rc_error_set(&err, RC_EINVAL, "to",
                 "a service (pid %d) holds %s and writes backups only in %s: "
                 "give a file there",
                 h->pid, db, h->backups);
    return fail_with(&err, json);
  }
  if (!port) {
    rc_error_set(&err, RC_EIO, NULL, "the service's lock names no address");
    return fail_with(&err, json);
  }
  snprintf(host, sizeof host, "%.*s", (int)(port - h->address), h->address);
  if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
    rc_copy(host, sizeof host, "127.0.0.1");
  else if (strcmp(host, "[::]") == 0 || strcmp(host, "::") == 0)
    rc_copy(host, sizeof host, "[::1]");
  snprintf(url, sizeof url, "http://%s%s/v1/admin/backup", host, port);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  body = json_pack("{s:s}", "to", full);
  text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  c = curl_easy_init();
  hd = curl_slist_append(hd, auth);
  hd = curl_slist_append(hd, "Content-Type: application/json");
  hd = curl_slist_append(hd, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (curl_easy_perform(c) != CURLE_OK) {
    rc_error_set(&err, RC_EIO, NULL,
                 "a service (pid %d) holds %s, and it does not answer at %s",
                 h->pid, db, url);
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    json_t *answer = b.p ? json_loads(b.p, 0, NULL) : NULL;
    if (status == 200 && answer) {
      rc = 0;
      if (json) {
        printf("%s\n", b.p);
      } else {
        store_summary s;
        json_t *m = json_object_get(answer, "money"), *v;
        const char *cur;
        memset(&s, 0, sizeof s);
        rc_copy(s.integrity, sizeof s.integrity,
                json_string_value(json_object_get(answer, "integrity")));
#define GET(f) json_integer_value(json_object_get(answer, f))
        s.schema = (int)GET("schema");
        s.bytes = GET("bytes");
        s.cases = GET("cases");
        s.open_cases = GET("open_cases");
        s.cases_in_error = GET("cases_in_error");
        s.open_timers = GET("open_timers");
        s.queued_messages = GET("queued_messages");
        s.pending_events = GET("pending_events");
        s.payments = GET("payments");
#undef GET
        json_object_foreach(m, cur, v) {
          if (s.ncurrencies == BACKUP_CURRENCIES) break;
          rc_copy(s.money[s.ncurrencies].currency, sizeof s.money[0].currency,
                  cur);
          s.money[s.ncurrencies].balance =
              json_integer_value(json_object_get(v, "owed"));
          s.money[s.ncurrencies++].paid =
              json_integer_value(json_object_get(v, "paid"));
        }
        printf("asked the service (pid %d) holding %s\n", h->pid, db);
        backup_summary_print("backup", full, &s, locale, stdout);
      }
    } else {
      json_t *e = json_object_get(answer, "error");
      const char *msg = json_string_value(json_object_get(e, "message"));
      rc_error_set(&err, status == 401 || status == 403 ? RC_EINVAL : RC_EIO,
                   NULL, "the service refused the backup (HTTP %ld): %s",
                   status, msg ? msg : "no reason given");
    }
    json_decref(answer);
  }
  curl_slist_free_all(hd);
  curl_easy_cleanup(c);
  curl_global_cleanup();
  free(text);
  free(b.p);
  return rc ? fail_with(&err, json) : 0;
}

int backup_cli(const char *dest, const char *dir, const char *db, int json,
               int direct) {
  char path[PATH_MAX], locale[64];
  store_summary sum;
  backup_holder h;
  rc_error err;
  rc_error_clear(&err);
  if (resolve_db(dir, db, path, sizeof path, NULL, 0, locale, sizeof locale) !=
      RC_OK)
    return 1;
  if (store_where(path) != STORE_FILE) {
    rc_error_set(&err, RC_EINVAL, "db",
                 "%s is not a database file: back it up with its own tools",
                 path);
    return fail_with(&err, json);
  }
  if (access(path, F_OK) != 0) {
    rc_error_set(&err, RC_ENOTFOUND, "db", "%s: %s", path, strerror(errno));
    return fail_with(&err, json);
  }
  if (!direct) {
    int held = backup_lock_holder(path, &h, &err);
    if (held < 0) return fail_with(&err, json);
    if (held) return ask_service(&h, path, dest, locale, json);
  }
  if (copy_here(path, dest, &sum, &err) != RC_OK) return fail_with(&err, json);
  if (json) {
    json_t *v = backup_summary_json(&sum);
    char *text;
    json_object_set_new(v, "file", json_string(dest));
    text = json_dumps(v, JSON_COMPACT);
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(v);
  } else {
    backup_summary_print("backup", dest, &sum, locale, stdout);
  }
  return 0;
}

/* Moves the book at db (with its side files) aside as db.replaced-STAMP. */
static int move_aside(const char *db, char *kept, size_t size, rc_error *err) {
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  snprintf(kept, size, "%s.replaced-%s", db, stamp);
  return store_move(db, kept, err);
}

int restore_cli(const char *src, const char *dir, const char *db, int json) {
  char path[PATH_MAX], locale[64], lock[PATH_MAX + 8], partial[PATH_MAX + 64],
      kept[PATH_MAX + 64] = "";
  store_summary sum;
  struct stat a, b;
  rc_error err;
  int fd, rc;
  rc_error_clear(&err);
  if (resolve_db(dir, db, path, sizeof path, NULL, 0, locale, sizeof locale) !=
      RC_OK)
    return 1;
  if (store_where(path) != STORE_FILE) {
    rc_error_set(&err, RC_EINVAL, "db", "%s is not a database file", path);
    return fail_with(&err, json);
  }
  if (stat(src, &a) != 0) {
    rc_error_set(&err, RC_ENOTFOUND, NULL, "cannot restore %s: %s", src,
                 strerror(errno));
    return fail_with(&err, json);
  }
  if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
    rc_error_set(&err, RC_EINVAL, "db", "%s is the database itself", src);
    return fail_with(&err, json);
  }
  /* The copy first: a refused one leaves nothing behind, not even a
   * lock file. */
  if ((rc = store_backup_check(src, &sum, &err)) != RC_OK) {
    char msg[sizeof err.message];
    snprintf(msg, sizeof msg, "not restored: %s", err.message);
    rc_copy(err.message, sizeof err.message, msg);
    return fail_with(&err, json);
  }
  /* Held for the whole restore: a service starting meanwhile waits out
   * nothing, it refuses (backup_lock_hold). */
  lock_path(path, lock, sizeof lock);
  if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
    rc_error_set(&err, RC_EIO, "db", "cannot open %s: %s", lock,
                 strerror(errno));
    return fail_with(&err, json);
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    backup_holder h;
    close(fd);
    if (backup_lock_holder(path, &h, &err) == 1)
      rc_error_set(&err, RC_ECONFLICT, "db",
                   "a service (pid %d, at %s) holds %s: stop it first "
                   "(SIGTERM drains it), then restore",
                   h.pid, h.address, path);
    else
      rc_error_set(&err, RC_ECONFLICT, "db", "another process holds %s", lock);
    return fail_with(&err, json);
  }
  snprintf(partial, sizeof partial, "%s.restoring-%d", path, (int)getpid());
  unlink(partial);
  rc = store_backup_copy(src, partial, &err);
  if (rc == RC_OK && access(path, F_OK) == 0)
    rc = move_aside(path, kept, sizeof kept, &err);
  if (rc == RC_OK && rename(partial, path) != 0)
    rc = rc_error_set(&err, RC_EIO, "db", "cannot rename %s to %s: %s", partial,
                      path, strerror(errno));
  if (rc == RC_OK) rc = sync_dir_of(path, &err);
  if (rc != RC_OK) {
    unlink(partial);
    close(fd);
    return fail_with(&err, json);
  }
  close(fd);
  if (json) {
    json_t *v = backup_summary_json(&sum);
    char *text;
    json_object_set_new(v, "file", json_string(path));
    if (kept[0]) json_object_set_new(v, "replaced", json_string(kept));
    text = json_dumps(v, JSON_COMPACT);
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(v);
  } else {
    char from[PATH_MAX];
    rc_printable(from, sizeof from, src);
    printf("restored %s from %s\n", path, from);
    backup_summary_print("restored", path, &sum, locale, stdout);
    if (kept[0])
      printf(
          "the database it replaced is kept as %s (delete it when you no "
          "longer need it)\n",
          kept);
    printf("on start, the service fires the timers that came due meanwhile\n");
  }
  return 0;
}

/* --- the service's part -------------------------------------------------- */

/* Scheduled copies are named by when they were taken; only names of this
 * shape are pruned, so a copy an admin named stays until removed. */
#define SCHEDULED_PREFIX "recoup-"
#define SCHEDULED_SHAPE "recoup-%4d%2d%2dT%2d%2d%2dZ.db"
/* After a failed copy the schedule tries again in ten minutes (or at its
 * own pace if that is shorter), not at once: a full disk must not become
 * a process started every millisecond. */
enum { BACKUP_OUT_MAX = 65536, SCHEDULE_POLL_MS = 60000, RETRY_S = 600 };

struct backup_service {
  service *svc;
  char exe[PATH_MAX], db[PATH_MAX], dir[PATH_MAX];
  int64_t every_ms; /* 0: no schedule */
  int keep;
  uv_timer_t timer;
  uv_work_t work;       /* the copy's process, started and waited for there */
  int running, handles; /* handles: 1 timer */
  int failing;          /* the last copy failed */
  time_t retry_at;      /* after a failure, the schedule waits till then */
  _Atomic int child;    /* the copy's pid while it runs, else 0 */
  int pid;              /* the last copy's pid (read after it is done) */
  char target[PATH_MAX], partial[PATH_MAX + 64];
  char *buf; /* the child's stdout; written on the worker thread, read on
              * the loop after it is done */
  size_t len;
  int64_t exit_status; /* 128 + signal when killed; -errno when not started */
  uint64_t started_ms;
  double spawn_ms;   /* the loop's part of a copy: queueing it */
  http_request *req; /* the admin's request, or NULL: the schedule's */
  int route;
  /* For /health. */
  char last_ok[64], last_file[PATH_MAX], last_error[1024], last_error_at[64],
      next_at[64];
};

static void rfc3339(time_t t, char *buf, size_t size) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* /health is open to anyone: times and a flag, no paths, no messages
 * (those are in the log). */
json_t *backup_service_health(const backup_service *b) {
  if (!b) return json_null();
  return json_pack("{s:b, s:b, s:s?, s:s?, s:s?}", "running", b->running,
                   "failing", b->failing, "last_ok",
                   b->last_ok[0] ? b->last_ok : NULL, "last_error_at",
                   b->last_error_at[0] ? b->last_error_at : NULL, "next_at",
                   b->every_ms && b->next_at[0] ? b->next_at : NULL);
}

/* When the newest scheduled copy in the directory was taken; 0: none. */
static time_t newest_scheduled(const backup_service *b) {
  DIR *d = opendir(b->dir);
  struct dirent *e;
  time_t newest = 0;
  if (!d) return 0;
  while ((e = readdir(d))) {
    struct tm tm;
    time_t t;
    char tail;
    memset(&tm, 0, sizeof tm);
    if (sscanf(e->d_name, SCHEDULED_SHAPE "%c", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &tail) != 6)
      continue;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if ((t = timegm(&tm)) > newest) newest = t;
  }
  closedir(d);
  return newest;
}

static int name_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes the oldest scheduled copies beyond keep (names sort by time). */
static void prune(backup_service *b) {
  DIR *d = opendir(b->dir);
  struct dirent *e;
  char **names = NULL;
  int n = 0, cap = 0;
  if (!d) return;
  while ((e = readdir(d))) {
    int f[6];
    char tail;
    if (sscanf(e->d_name, SCHEDULED_SHAPE "%c", &f[0], &f[1], &f[2], &f[3],
               &f[4], &f[5], &tail) != 6)
      continue;
    if (n == cap) {
      char **grown =
          realloc(names, (size_t)(cap = cap ? cap * 2 : 16) * sizeof *names);
      if (!grown) break;
      names = grown;
    }
    if (!(names[n] = strdup(e->d_name))) break;
    n++;
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof *names, name_cmp);
  for (int i = 0; i < n; i++) {
    if (i < n - b->keep) {
      char path[PATH_MAX + 300];
      snprintf(path, sizeof path, "%s/%s", b->dir, names[i]);
      if (unlink(path) == 0)
        service_log("info", json_pack("{s:s, s:s}", "msg", "old backup removed",
                                      "file", path));
      else
        service_log("warn", json_pack("{s:s, s:s, s:s}", "msg",
                                      "cannot remove an old backup", "file",
                                      path, "error", strerror(errno)));
    }
    free(names[i]);
  }
  free(names);
}

static void arm_schedule(backup_service *b);

/* The child is gone and its pipe read to the end: answer, log, prune. */
static void finish(backup_service *b) {
  json_t *result = b->buf ? json_loads(b->buf, 0, NULL) : NULL;
  json_t *e = json_object_get(result, "error");
  double secs = (double)(uv_now(b->svc->loop) - b->started_ms) / 1000.0;
  time_t now = time(NULL);
  int ok = b->exit_status == 0 && result && !e;
  b->failing = !ok;
  if (!ok)
    b->retry_at =
        now + (b->every_ms && b->every_ms / 1000 < RETRY_S ? b->every_ms / 1000
                                                           : RETRY_S);
  if (ok) {
    rfc3339(now, b->last_ok, sizeof b->last_ok);
    rc_copy(b->last_file, sizeof b->last_file, b->target);
    json_object_set_new(result, "seconds", json_real(secs));
    service_log("info", json_pack("{s:s, s:s, s:f, s:f, s:O?, s:O?, s:O?}",
                                  "msg", "backup made", "file", b->target,
                                  "seconds", secs, "loop_ms", b->spawn_ms,
                                  "cases", json_object_get(result, "cases"),
                                  "bytes", json_object_get(result, "bytes"),
                                  "money", json_object_get(result, "money")));
    if (!b->req) prune(b);
  } else {
    const char *msg = json_string_value(json_object_get(e, "message"));
    char why[900];
    if (b->exit_status < 0)
      snprintf(why, sizeof why, "cannot start %s: %s", b->exe,
               strerror((int)-b->exit_status));
    else
      snprintf(why, sizeof why, "%s",
               msg ? msg : "the copy process failed (see the log above)");
    if (b->exit_status >= 128 && b->pid > 0) { /* killed: its partial stays */
      char partial[PATH_MAX + 80];
      snprintf(partial, sizeof partial, "%s%d", b->partial, b->pid);
      unlink(partial);
    }
    snprintf(b->last_error, sizeof b->last_error, "%s: %s", b->target, why);
    rfc3339(now, b->last_error_at, sizeof b->last_error_at);
    service_log("error", json_pack("{s:s, s:s, s:s, s:I}", "msg",
                                   "backup failed", "file", b->target, "error",
                                   why, "exit", (json_int_t)b->exit_status));
  }
  if (b->req) {
    if (ok) {
      api_reply(b->svc, b->req, b->route, 200, result, NULL);
      result = NULL;
    } else {
      const char *code = json_string_value(json_object_get(e, "code"));
      const char *field = json_string_value(json_object_get(e, "field"));
      int conflict = code && strcmp(code, "conflict") == 0;
      api_error(b->svc, b->req, b->route, conflict ? 409 : 503,
                conflict ? "conflict" : "unavailable",
                field && *field ? field : NULL, b->last_error);
    }
    b->req = NULL;
  }
  json_decref(result);
  free(b->buf);
  b->buf = NULL;
  b->len = 0;
  b->running = 0;
  arm_schedule(b);
  /* A draining service stops once nothing is in flight: the loop's work
   * handle looks again. */
  service_kick(b->svc);
}

/* On a libuv worker thread: starts the copy's process, reads what it
 * prints, waits for it. No SQLite here (the store runs SQLite single-
 * threaded): the child has its own; started with child_spawn, off the
 * loop (child.h says why not uv_spawn). */
static void copy_work(uv_work_t *w) {
  backup_service *b = w->data;
  char *args[] = {b->exe, "backup",   b->target, "--db",
                  b->db,  "--direct", "--json",  NULL};
  int fds[2], rc;
  pid_t pid;
  ssize_t n;
  b->exit_status = 0;
  b->len = 0;
  b->pid = 0;
  if (!(b->buf = malloc(BACKUP_OUT_MAX + 1))) {
    b->exit_status = -ENOMEM;
    return;
  }
  b->buf[0] = '\0';
  if (pipe2(fds, O_CLOEXEC) != 0) {
    b->exit_status = -errno;
    return;
  }
  rc = child_spawn(&pid, b->exe, args, NULL, fds[1], -1, 0);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    b->exit_status = -rc;
    return;
  }
  b->pid = (int)pid;
  atomic_store(&b->child, (int)pid);
  while (b->len < BACKUP_OUT_MAX &&
         ((n = read(fds[0], b->buf + b->len, BACKUP_OUT_MAX - b->len)) > 0 ||
          (n < 0 && errno == EINTR)))
    if (n > 0) b->len += (size_t)n;
  b->buf[b->len] = '\0';
  close(fds[0]);
  b->exit_status = child_wait(pid);
  atomic_store(&b->child, 0);
}

static void copy_done(uv_work_t *w, int status) {
  (void)status;
  finish(w->data);
}

/* Starts the copy of the book to target (a full path in the directory). */
static int start_copy(backup_service *b, const char *target, rc_error *err) {
  const char *base = strrchr(target, '/') + 1;
  int rc;
  rc_copy(b->target, sizeof b->target, target);
  snprintf(b->partial, sizeof b->partial, "%s/.%s.partial-", b->dir, base);
  uint64_t t0 = uv_hrtime();
  b->work.data = b;
  b->started_ms = uv_now(b->svc->loop);
  rc = uv_queue_work(b->svc->loop, &b->work, copy_work, copy_done);
  b->spawn_ms = (double)(uv_hrtime() - t0) / 1e6;
  if (rc != 0)
    return rc_error_set(err, RC_EIO, NULL, "cannot start the copy: %s",
                        uv_strerror(rc));
  b->running = 1;
  return RC_OK;
}

static void on_schedule(uv_timer_t *t) {
  backup_service *b = t->data;
  time_t now = time(NULL), last = newest_scheduled(b);
  char name[64], target[PATH_MAX + 64];
  rc_error err;
  struct tm tm;
  if (b->running || b->svc->draining) return arm_schedule(b);
  if ((last && (int64_t)(now - last) * 1000 < b->every_ms) || now < b->retry_at)
    return arm_schedule(b);
  gmtime_r(&now, &tm);
  strftime(name, sizeof name, SCHEDULED_PREFIX "%Y%m%dT%H%M%SZ.db", &tm);
  snprintf(target, sizeof target, "%s/%s", b->dir, name);
  rc_error_clear(&err);
  b->req = NULL;
  if (start_copy(b, target, &err) != RC_OK) {
    b->failing = 1;
    b->retry_at = now + RETRY_S;
    snprintf(b->last_error, sizeof b->last_error, "%s", err.message);
    rfc3339(now, b->last_error_at, sizeof b->last_error_at);
    service_log("error", json_pack("{s:s, s:s}", "msg", "backup failed",
                                   "error", err.message));
    arm_schedule(b);
  }
}

/* Wakes when the next scheduled copy is due, or within a minute (the
 * clock may be set meanwhile). */
static void arm_schedule(backup_service *b) {
  time_t now = time(NULL), last, next;
  int64_t ms;
  if (!b->every_ms || !(b->handles & 1) || b->svc->draining) return;
  last = newest_scheduled(b);
  next = last ? last + (time_t)(b->every_ms / 1000) : now;
  if (next < b->retry_at) next = b->retry_at;
  rfc3339(next > now ? next : now, b->next_at, sizeof b->next_at);
  ms = next > now ? (int64_t)(next - now) * 1000 : 0;
  if (ms > SCHEDULE_POLL_MS) ms = SCHEDULE_POLL_MS;
  uv_timer_start(&b->timer, on_schedule, (uint64_t)ms, 0);
}

int backup_service_start(service *svc, const char *db, const char *dir,
                         int64_t every_ms, int keep, backup_service **out,
                         rc_error *err) {
  backup_service *b = calloc(1, sizeof *b);
  size_t size;
  int rc;
  *out = NULL;
  if (!b) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  b->svc = svc;
  b->every_ms = every_ms;
  b->keep = keep;
  size = sizeof b->exe;
  if ((rc = uv_exepath(b->exe, &size)) != 0) {
    free(b);
    return rc_error_set(err, RC_EIO, NULL, "cannot find recoup's binary: %s",
                        uv_strerror(rc));
  }
  if (!realpath(db, b->db)) {
    free(b);
    return rc_error_set(err, RC_EIO, "db", "%s: %s", db, strerror(errno));
  }
  /* A backup directory that cannot be made does not keep the service
   * from serving: each copy fails, saying why, in the log and /health. */
  if (rc_mkdirs(dir, "backup.to", err) != RC_OK || !realpath(dir, b->dir)) {
    rc_copy(b->dir, sizeof b->dir, dir);
    b->failing = 1;
    service_log("error",
                json_pack("{s:s, s:s, s:s}", "msg", "backups unavailable",
                          "directory", dir, "error", strerror(errno)));
  }
  if (uv_timer_init(svc->loop, &b->timer) == 0) {
    b->timer.data = b;
    b->handles |= 1;
  }
  arm_schedule(b);
  *out = b;
  return RC_OK;
}

const char *backup_service_dir(const backup_service *b) {
  return b->dir;
}

/* A name the admin gave: a plain file name in the backup directory, or
 * that directory's full path and a plain file name. Nothing else: no
 * subdirectory, no "..", no hidden or partial names, no other place. */
static int target_of(const backup_service *b, const char *to, char *out,
                     size_t size, rc_error *err) {
  const char *name = to;
  size_t dlen = strlen(b->dir);
  if (to[0] == '/') {
    if (strncmp(to, b->dir, dlen) != 0 || to[dlen] != '/')
      return rc_error_set(err, RC_EINVAL, "to",
                          "to must be a file in the backup directory %s",
                          b->dir);
    name = to + dlen + 1;
  }
  if (!name[0] || name[0] == '.' || strlen(name) > 200)
    return rc_error_set(err, RC_EINVAL, "to",
                        "to must name a file (1 to 200 characters, not "
                        "starting with '.') in the backup directory");
  for (const char *p = name; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
      return rc_error_set(err, RC_EINVAL, "to",
                          "to must be a plain file name in the backup "
                          "directory %s (letters, digits, '.', '-', '_'; no "
                          "'/' or '..')",
                          b->dir);
  snprintf(out, size, "%s/%s", b->dir, name);
  return RC_OK;
}

void backup_service_request(service *svc, backup_service *b, http_request *req,
                            int route) {
  json_t *body = NULL;
  const char *to = NULL;
  char target[PATH_MAX + 300], name[64];
  struct stat st;
  rc_error err;
  rc_error_clear(&err);
  if (!b) {
    api_error(svc, req, route, 503, "unavailable", NULL,
              "this service's database is not a file it can back up");
    return;
  }
  if (svc->draining) {
    api_error(svc, req, route, 503, "shutting_down", NULL,
              "the service is shutting down");
    return;
  }
  if (req->body_len > 0) {
    switch (input_json_load(req->body, req->body_len, 1, &body, &err)) {
      case INPUT_JSON_SYNTAX:
        api_error(svc, req, route, 400, "bad_json", err.field, err.message);
        return;
      case INPUT_JSON_REFUSED:
        api_error(svc, req, route, 422, "invalid", err.field, err.message);
        return;
    }
  }
  if (body && !json_is_object(body)) {
    json_decref(body);
    api_error(svc, req, route, 422, "invalid", NULL,
              "the body must be a JSON object");
    return;
  }
  if (body) {
    static const char *const known[] = {"to", NULL};
    json_t *v = json_object_get(body, "to");
    if (input_json_known_keys(body, known, "a backup", &err) != RC_OK) {
      api_error(svc, req, route, 422, "invalid", err.field, err.message);
      json_decref(body);
      return;
    }
    if (v && !json_is_string(v)) {
      json_decref(body);
      api_error(svc, req, route, 422, "invalid", "to", "to must be a string");
      return;
    }
    to = json_string_value(v);
  }
  if (!to) {
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(name, sizeof name, SCHEDULED_PREFIX "%Y%m%dT%H%M%SZ.db", &tm);
    to = name;
  }
  if (target_of(b, to, target, sizeof target, &err) != RC_OK) {
    json_decref(body);
    api_error(svc, req, route, 422, "invalid", "to", err.message);
    return;
  }
  json_decref(body);
  if (lstat(target, &st) == 0) {
    api_error(svc, req, route, 409, "conflict", "to",
              "that file exists: a backup never overwrites a file");
    return;
  }
  if (b->running) {
    api_error(svc, req, route, 409, "conflict", NULL,
              "a backup is running; ask again when it is done");
    return;
  }
  if (start_copy(b, target, &err) != RC_OK) {
    api_error(svc, req, route, 503, "unavailable", NULL, err.message);
    return;
  }
  b->req = req;
  b->route = route;
}

void backup_service_stop(backup_service *b) {
  int pid;
  if (!b) return;
  /* A scheduled copy at exit is stopped; the child removes nothing when
   * killed, so its partial file goes here. */
  if (b->running && (pid = atomic_load(&b->child)) > 0) {
    char partial[PATH_MAX + 80];
    kill(pid, SIGKILL);
    snprintf(partial, sizeof partial, "%s%d", b->partial, pid);
    unlink(partial);
  }
  if (b->handles & 1) {
    uv_close((uv_handle_t *)&b->timer, NULL);
    b->handles &= ~1;
  }
}

/* After the loop let go of every handle. */
void backup_service_free(backup_service *b) {
  if (!b) return;
  free(b->buf);
  free(b);
}
