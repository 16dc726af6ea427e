/* The store above its backends: choosing one from the database argument,
 * holding a case's journal run until it is written, naming the instance,
 * freeing records, and one call a store.h function into the backend's
 * table (backend.h). Nothing here knows SQL. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/backend.h"
#include "store/fault.h"

store_location store_where(const char *db) {
  if (strcmp(db, ":memory:") == 0) return STORE_MEMORY;
  if (strncmp(db, "postgresql://", 13) == 0 ||
      strncmp(db, "postgres://", 11) == 0)
    return STORE_URL;
  return STORE_FILE;
}

/* Copies s[0..n) into out (of size bytes, at *at), as far as it fits. */
static void shown_put(char *out, size_t size, size_t *at, const char *s,
                      size_t n) {
  while (n-- > 0 && *at + 1 < size) out[(*at)++] = *s++;
  out[*at] = '\0';
}

/* libpq's reading of a URL: the user part ends at the first '@' before
 * the first '/', its password after its first ':'; parameters follow the
 * first '?', separated by '&'. */
void store_where_shown(const char *db, char *out, size_t size) {
  const char *p, *q, *at, *colon;
  size_t n = 0;

  if (size == 0) return;
  out[0] = '\0';
  if (store_where(db) != STORE_URL) {
    shown_put(out, size, &n, db, strlen(db));
    return;
  }
  p = strstr(db, "://") + 3;
  at = p + strcspn(p, "@/?");
  colon = memchr(p, ':', (size_t)(at - p));
  if (*at == '@' && colon) {
    shown_put(out, size, &n, db, (size_t)(colon + 1 - db));
    shown_put(out, size, &n, "***", 3);
    p = at;
  } else {
    shown_put(out, size, &n, db, (size_t)(p - db));
  }
  q = strchr(p, '?');
  shown_put(out, size, &n, p, q ? (size_t)(q - p) : strlen(p));
  for (; q && *q; q += strcspn(q + 1, "&") + 1) {
    size_t len = strcspn(q + 1, "&");
    shown_put(out, size, &n, q, 1);
    if (len >= 9 && strncmp(q + 1, "password=", 9) == 0) {
      shown_put(out, size, &n, "password=***", 12);
    } else {
      shown_put(out, size, &n, q + 1, len);
    }
  }
}

/* The backend a database argument names; NULL with the error set when
 * this build has none for it. */
static const store_ops *store_backend(const char *db, rc_error *err) {
  if (store_where(db) == STORE_URL) {
#ifdef RECOUP_HAVE_PG
    return &store_pg_ops;
#else
    rc_error_set(err, RC_EINVAL, "db", "this build has no PostgreSQL store");
    return NULL;
#endif
  }
  return store_fault_wrap(&store_sqlite_ops);
}

int store_open(store **out, const char *db, rc_error *err) {
  return store_open_flags(out, db, 0, err);
}

int store_open_flags(store **out, const char *db, int flags, rc_error *err) {
  const store_ops *ops = store_backend(db, err);
  store *st;
  char shown[4096];
  int rc;
  *out = NULL;
  if (!ops) return RC_EINVAL;
  if ((rc = ops->open(&st, db, flags, err)) != RC_OK) return rc;
  /* Only messages read it: they never carry a password. */
  store_where_shown(db, shown, sizeof shown);
  if (!(st->where = strdup(shown))) {
    ops->close(st);
    return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  }
  *out = st;
  return RC_OK;
}

int store_created(const store *st) {
  return st->created;
}

void store_close(store *st) {
  char *where;
  if (!st) return;
  where = st->where;
  free(st->run.rows.p);
  free(st->run.case_id);
  st->ops->close(st);
  free(where);
}

const char *store_path(const store *st) {
  return st->where;
}

int store_files(const char *where, char (*paths)[4096], int max) {
  const store_ops *ops;
  if (store_where(where) != STORE_FILE) return 0;
  ops = store_backend(where, NULL);
  return ops ? ops->files(where, paths, max) : 0;
}

int store_remove(const char *where, rc_error *err) {
  char paths[STORE_FILES_MAX][4096];
  int n;
  if (store_where(where) == STORE_URL)
    return rc_error_set(err, RC_EINVAL, "db", "%s is not a database file",
                        where);
  if ((n = store_files(where, paths, STORE_FILES_MAX)) < 0)
    return rc_error_set(err, RC_EINVAL, "db", "path too long: %s", where);
  for (int i = 0; i < n; i++)
    if (unlink(paths[i]) != 0 && errno != ENOENT)
      return rc_error_set(err, RC_EIO, "db", "cannot remove %s: %s", paths[i],
                          strerror(errno));
  return RC_OK;
}

/* The side files go first: a database file without its WAL would be an
 * older database, never a mixed one. */
int store_move(const char *from, const char *to, rc_error *err) {
  char a[STORE_FILES_MAX][4096], b[STORE_FILES_MAX][4096];
  int n, m, rc;
  if (store_where(from) != STORE_FILE || store_where(to) != STORE_FILE)
    return rc_error_set(err, RC_EINVAL, "db", "only a database file can move");
  n = store_files(from, a, STORE_FILES_MAX);
  m = store_files(to, b, STORE_FILES_MAX);
  if (n < 0 || m != n)
    return rc_error_set(err, RC_EINVAL, "db", "path too long: %s", from);
  if ((rc = store_remove(to, err)) != RC_OK) return rc;
  for (int i = n - 1; i >= 0; i--)
    if (rename(a[i], b[i]) != 0 && errno != ENOENT)
      return rc_error_set(err, RC_EIO, "db", "cannot move %s to %s: %s", a[i],
                          b[i], strerror(errno));
  return RC_OK;
}

int store_copy(const char *src, const char *dst, rc_error *err) {
  const store_ops *ops = store_backend(src, err);
  if (!ops) return RC_EINVAL;
  return ops->copy(src, dst, err);
}

void store_checkpoint_every(store *st, int pages) {
  st->ops->checkpoint_every(st, pages);
}

int store_checkpoint_apart(store *st, int pages, int most, rc_error *err) {
  return st->ops->checkpoint_apart(st, pages, most, err);
}

int store_scratch(store *st) {
  return st->ops->scratch(st);
}

int store_writable(store *st, rc_error *err) {
  return st->ops->writable(st, err);
}

/* --- the journal run ------------------------------------------------------ */

static void run_drop(store *st) {
  st->run.n = 0;
  st->run.rows.len = 0;
  st->run.rows.oom = 0;
}

static int run_write(store *st, rc_error *err) {
  int rc;
  if (!st->run.n) return RC_OK;
  jb_lit(&st->run.rows, "]");
  if (st->run.rows.oom) {
    run_drop(st);
    return rc_error_set(err, RC_ENOMEM, NULL, "journal: out of memory");
  }
  rc = st->ops->journal_run(st, st->run.case_id, st->run.at, st->run.n,
                            st->run.rows.p, st->run.rows.len, err);
  run_drop(st);
  return rc;
}

int store_journal_append(store *st, const char *case_id, rc_time at,
                         const char *kind, const char *state, int version,
                         const char *detail, rc_error *err) {
  /* One bad detail would hide every row of its run from the journal. */
  if (detail && !jb_valid(detail))
    return rc_error_set(err, RC_EINVAL, "detail",
                        "journal row '%s' of case %s: its detail is not JSON",
                        kind, case_id);
  return store_journal_append_built(st, case_id, at, kind, state, version,
                                    detail, err);
}

/* A row's state and its comma: quoted once, then copied while a step's
 * rows name it (quoting it was a third of a row's head). */
static void row_state(store *st, const char *state) {
  jbuf *b = &st->run.rows;
  size_t at = b->len, n;
  if (!state) {
    jb_lit(b, "null,");
    return;
  }
  for (int i = 0; i < 2; i++)
    if (st->run.state[i].len && strcmp(st->run.state[i].raw, state) == 0) {
      jb_raw(b, st->run.state[i].json, st->run.state[i].len);
      return;
    }
  jb_quote(b, state);
  jb_lit(b, ",");
  n = b->len - at;
  if (b->oom || strlen(state) >= sizeof st->run.state[0].raw ||
      n > sizeof st->run.state[0].json)
    return;
  st->run.state[1] = st->run.state[0];
  strcpy(st->run.state[0].raw, state);
  memcpy(st->run.state[0].json, b->p + at, n);
  st->run.state[0].len = n;
}

/* A row's head, [kind,state,version,at, in the run it joins (a run of
 * another case, or a full one, written first); its detail follows, then
 * row_close. kind_json: the length of kind where it comes quoted with
 * its comma (ROW_KIND), 0 where it is quoted here: a kind named by a literal is
 * not measured and quoted again on every row. */
#define ROW_KIND(lit) "\"" lit "\",", sizeof(lit) + 2
static int row_open(store *st, const char *case_id, rc_time at,
                    const char *kind, size_t kind_json, const char *state,
                    int version, rc_error *err) {
  jbuf *b = &st->run.rows;
  if (st->run.n && (st->run.n == STORE_JOURNAL_RUN ||
                    strcmp(st->run.case_id, case_id) != 0)) {
    int rc = run_write(st, err);
    if (rc != RC_OK) return rc;
  }
  if (!st->run.n) {
    size_t len = strlen(case_id) + 1;
    if (len > st->run.case_cap) {
      char *grown = realloc(st->run.case_id, len);
      if (!grown)
        return rc_error_set(err, RC_ENOMEM, NULL, "journal: out of memory");
      st->run.case_id = grown;
      st->run.case_cap = len;
    }
    memcpy(st->run.case_id, case_id, len);
    st->run.at = at;
    jb_lit(b, "[[");
  } else {
    jb_lit(b, ",[");
  }
  if (kind_json) {
    jb_raw(b, kind, kind_json);
  } else {
    jb_quote(b, kind);
    jb_lit(b, ",");
  }
  row_state(st, state);
  jb_int(b, version);
  jb_lit(b, ",");
  /* Nearly every row of a run has the run's time: 13 digits a row, a
   * tenth of the journal's bytes, said once in the run's column. */
  if (st->ops->journal_compact && at == st->run.at)
    jb_lit(b, "null");
  else
    jb_int(b, at);
  jb_lit(b, ",");
  return RC_OK;
}

static int row_close(store *st, rc_error *err) {
  jb_lit(&st->run.rows, "]");
  st->run.n++;
  /* Outside a transaction nothing else would write it. */
  return st->depth == 0 ? run_write(st, err) : RC_OK;
}

int store_journal_append_built(store *st, const char *case_id, rc_time at,
                               const char *kind, const char *state,
                               int version, const char *detail,
                               rc_error *err) {
  int rc = row_open(st, case_id, at, kind, 0, state, version, err);
  if (rc != RC_OK) return rc;
  jb_lit(&st->run.rows, detail ? detail : "null");
  return row_close(st, err);
}

int store_journal_transition(store *st, const char *case_id, rc_time at,
                             const char *from, const char *to, int version,
                             const char *event, const char *user,
                             rc_error *err) {
  jbuf *b = &st->run.rows;
  int compact = st->ops->journal_compact;
  int rc = row_open(st, case_id, at, ROW_KIND("transition"), to, version, err);
  if (rc != RC_OK) return rc;
  /* [from, event, user?]: "to" is the row's state. */
  jb_lit(b, compact ? "[" : "{\"from\":");
  jb_quote(b, from);
  if (!compact) {
    jb_lit(b, ",\"to\":");
    jb_quote(b, to);
  }
  jb_lit(b, compact ? "," : ",\"event\":");
  jb_quote(b, event);
  if (user && user[0]) {
    jb_lit(b, compact ? "," : ",\"user\":");
    jb_quote(b, user);
  }
  jb_lit(b, compact ? "]" : "}");
  return row_close(st, err);
}

int store_journal_timer(store *st, const char *case_id, rc_time at,
                        const char *state, int version, const char *event,
                        const char *due, int keep, const char *user,
                        rc_error *err) {
  jbuf *b = &st->run.rows;
  int compact = st->ops->journal_compact;
  int rc = row_open(st, case_id, at, ROW_KIND("timer"), state, version, err);
  if (rc != RC_OK) return rc;
  /* [event, due, keep, user?] */
  jb_lit(b, compact ? "[" : "{\"event\":");
  jb_quote(b, event);
  jb_lit(b, compact ? "," : ",\"due\":");
  jb_quote(b, due);
  jb_lit(b, compact ? "," : ",\"keep\":");
  jb_lit(b, keep ? "true" : "false");
  if (user && user[0]) {
    jb_lit(b, compact ? "," : ",\"user\":");
    jb_quote(b, user);
  }
  jb_lit(b, compact ? "]" : "}");
  return row_close(st, err);
}

int store_journal_message(store *st, const char *case_id, rc_time at,
                          const char *state, int version, int64_t id,
                          const char *channel, const char *template_name,
                          const char *to, const char *status,
                          const char *reason, const char *user,
                          rc_error *err) {
  jbuf *b = &st->run.rows;
  int compact = st->ops->journal_compact;
  int rc = row_open(st, case_id, at, ROW_KIND("message"), state, version, err);
  if (rc != RC_OK) return rc;
  /* [id, channel, template, to, status, reason?, user?]: a reason null
   * where only a user follows. */
  jb_lit(b, compact ? "[" : "{\"id\":");
  jb_int(b, id);
  jb_lit(b, compact ? "," : ",\"channel\":");
  jb_quote(b, channel);
  jb_lit(b, compact ? "," : ",\"template\":");
  jb_quote(b, template_name);
  jb_lit(b, compact ? "," : ",\"to\":");
  jb_quote(b, to);
  jb_lit(b, compact ? "," : ",\"status\":");
  jb_quote(b, status);
  if (reason || (compact && user && user[0])) {
    jb_lit(b, compact ? "," : ",\"reason\":");
    jb_quote(b, reason);
  }
  if (user && user[0]) {
    jb_lit(b, compact ? "," : ",\"user\":");
    jb_quote(b, user);
  }
  jb_lit(b, compact ? "]" : "}");
  return row_close(st, err);
}

int store_journal_event(store *st, const char *case_id, rc_time at,
                        const char *state, int version, const char *type,
                        const char *user, rc_error *err) {
  jbuf *b = &st->run.rows;
  int compact = st->ops->journal_compact;
  int rc = row_open(st, case_id, at, ROW_KIND("event"), state, version, err);
  if (rc != RC_OK) return rc;
  /* [type, user?] */
  jb_lit(b, compact ? "[" : "{\"type\":");
  jb_quote(b, type);
  if (user && user[0]) {
    jb_lit(b, compact ? "," : ",\"user\":");
    jb_quote(b, user);
  }
  jb_lit(b, compact ? "]" : "}");
  return row_close(st, err);
}

/* Whether v is quoted as itself between two '"' (no byte jb_quote
 * escapes): the compact `opened` row names its case by the run's
 * case_id, which the reader quotes so. */
static int plain_text(const char *v) {
  for (const unsigned char *c = (const unsigned char *)v; *c; c++)
    if (*c < 0x20 || *c == '"' || *c == '\\') return 0;
  return 1;
}

/* The `opened` row's detail, whole: the case as it opened. */
static void opened_whole(jbuf *b, const store_case *c, const char *score,
                         const char *user) {
  /* Keys as literals (jb_key): quoting each again was a third of this
   * row's text, 1.4k instructions an imported row. */
  jb_lit(b, "{");
  jb_key(b, "id");
  jb_quote(b, c->id);
  jb_key(b, "borrower_id");
  jb_quote(b, c->borrower_id);
  jb_key(b, "currency");
  jb_quote(b, c->currency);
  jb_key(b, "principal");
  jb_int(b, c->principal);
  jb_key(b, "balance");
  jb_int(b, c->balance);
  jb_key(b, "amount_due");
  jb_int(b, c->amount_due);
  jb_key(b, "fees");
  jb_int(b, c->fees);
  if (c->product) {
    jb_key(b, "product");
    jb_quote(b, c->product);
  }
  if (c->due_date) {
    jb_key(b, "due_date");
    jb_quote(b, c->due_date);
  }
  if (score) {
    jb_key(b, "score");
    jb_lit(b, score);
  }
  jb_key(b, "data");
  jb_lit(b, c->data ? c->data : "{}");
  jb_key(b, "workflow");
  jb_quote(b, c->workflow);
  jb_key(b, "version");
  jb_int(b, c->version);
  if (user && user[0]) {
    jb_key(b, "user");
    jb_quote(b, user);
  }
  jb_lit(b, "}");
}

/* The same, kept short: its values alone, in the order of
 * STORE_OPENED_AT (store.h), without the case's id and version, which
 * the run and the row hold; a value absent is null, and trailing ones
 * are left out. Half the row's bytes, and the row was half an imported
 * case's journal. */
static void opened_short(jbuf *b, const store_case *c, const char *score,
                         const char *user) {
  const char *tail[4] = {c->due_date, c->product, score,
                         user && user[0] ? user : NULL};
  int last = 3;
  jb_lit(b, "[");
  jb_quote(b, c->borrower_id);
  jb_lit(b, ",");
  jb_quote(b, c->currency);
  jb_lit(b, ",");
  jb_int(b, c->principal);
  jb_lit(b, ",");
  jb_int(b, c->balance);
  jb_lit(b, ",");
  jb_int(b, c->amount_due);
  jb_lit(b, ",");
  jb_int(b, c->fees);
  jb_lit(b, ",");
  jb_lit(b, c->data ? c->data : "{}");
  jb_lit(b, ",");
  jb_quote(b, c->workflow);
  while (last >= 0 && !tail[last]) last--;
  for (int i = 0; i <= last; i++) {
    jb_lit(b, ",");
    if (!tail[i])
      jb_lit(b, "null");
    else if (i == 2) /* a number's text */
      jb_lit(b, tail[i]);
    else
      jb_quote(b, tail[i]);
  }
  jb_lit(b, "]");
}

int store_journal_opened(store *st, const store_case *c, const char *score,
                         const char *user, rc_error *err) {
  jbuf b = {0};
  int rc;
  if (st->ops->journal_short_opened && plain_text(c->id))
    opened_short(&b, c, score, user);
  else
    opened_whole(&b, c, score, user);
  rc = b.p && !b.oom
           ? store_journal_append_built(st, c->id, c->opened_at, "opened",
                                        c->state, c->version, b.p, err)
           : rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  free(b.p);
  return rc;
}

int store_journal_write(store *st, rc_error *err) {
  return run_write(st, err);
}

int store_journal_each(store *st, const char *case_id, int limit,
                       store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->journal_each(st, case_id, limit, fn, ud, err);
}

int store_journal_count(store *st, const char *kind, int64_t *count,
                        rc_error *err) {
  return st->ops->read_count(st, STORE_COUNT_JOURNAL_KIND, kind, 0, count, err);
}

int store_journal_page(store *st, const char *case_id, int64_t after, int limit,
                       store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->journal_page(st, case_id, after, limit, fn, ud, err);
}

/* --- transactions ----------------------------------------------------------
 */

int store_begin(store *st, rc_error *err) {
  int rc;
  st->contended = 0;
  st->refused = 0;
  st->replay = 0;
  rc = st->ops->begin(st, 0, err);
  if (rc == RC_OK) st->depth = 1;
  return rc;
}

int store_commit(store *st, rc_error *err) {
  int rc = run_write(st, err);
  if (rc == RC_OK) rc = st->ops->end(st, 0, 1, err);
  if (rc != RC_OK) {
    store_rollback(st);
    return RC_ESTORE;
  }
  st->depth = 0;
  return RC_OK;
}

int store_begin_unsynced(store *st, rc_error *err) {
  int rc = st->ops->durable(st, 1, err);
  return rc == RC_OK ? store_begin(st, err) : rc;
}

int store_begin_import(store *st, rc_error *err) {
  if (st->ops->import_next) st->ops->import_next(st);
  return store_begin(st, err);
}

void store_import_ahead(store *st, const char *borrower_id) {
  if (st->ops->import_ahead && borrower_id) st->ops->import_ahead(st, borrower_id);
}

int store_sync(store *st, rc_error *err) {
  return st->ops->durable(st, 0, err);
}

int store_rollback(store *st) {
  int rc;
  run_drop(st);
  rc = st->ops->end(st, 0, 0, NULL);
  st->depth = 0;
  return rc;
}

int store_contended(const store *st) {
  return st->contended;
}

int store_refused(const store *st) {
  return st->refused;
}

int store_reconnects(const store *st) {
  return st->reconnects;
}

int store_key_taken(rc_error *err, const char *key, const char *type,
                    const char *was_case) {
  if (type && strcmp(type, "__note") == 0)
    return rc_error_set(err, RC_ECONFLICT, "key",
                        "event key '%s' already names a note of case %s", key,
                        was_case);
  return rc_error_set(err, RC_ECONFLICT, "key",
                      "event key '%s' already names a '%s' event of case %s",
                      key, type ? type : "(earlier)", was_case);
}

void store_notice_set(store *st, const char *fmt, ...) {
  size_t used = st->notice_told ? 0 : strlen(st->notice);
  va_list ap;
  if (used && used + 3 < sizeof st->notice) {
    memcpy(st->notice + used, "; ", 3);
    used += 2;
  }
  st->notice_told = 0;
  if (used + 1 >= sizeof st->notice) return;
  va_start(ap, fmt);
  vsnprintf(st->notice + used, sizeof st->notice - used, fmt, ap);
  va_end(ap);
}

const char *store_notice(store *st) {
  if (!st->notice_looked && st->ops->notice_look) {
    st->notice_looked = 1;
    st->ops->notice_look(st);
  }
  if (!st->notice[0] || st->notice_told) return NULL;
  st->notice_told = 1;
  {
    /* Its parts are cut by bytes (a case id at "%.60s", the room left):
     * a Chinese id cut inside a character made the service's JSON log
     * line of it fail whole. A broken sequence is '?', as on the CLI. */
    char whole[sizeof st->notice];
    memcpy(whole, st->notice, sizeof whole);
    rc_printable_line(st->notice, sizeof st->notice, whole);
  }
  return st->notice;
}

int store_claims_pass_held(const store *st) {
  return st->passes_held;
}

int store_in_transaction(const store *st) {
  return st->depth > 0;
}

int store_savepoint(store *st, rc_error *err) {
  if (run_write(st, err) != RC_OK || st->ops->begin(st, 1, err) != RC_OK)
    return RC_ESTORE;
  st->depth++;
  return RC_OK;
}

int store_savepoint_light(store *st, rc_error *err) {
  if (run_write(st, err) != RC_OK || st->ops->begin(st, 2, err) != RC_OK)
    return RC_ESTORE;
  st->depth++;
  return RC_OK;
}

int store_replay(const store *st) {
  return st->replay;
}

void store_group_checked(store *st, int on) {
  st->checked = on;
}

int store_release(store *st, rc_error *err) {
  if (run_write(st, err) != RC_OK || st->ops->end(st, 1, 1, err) != RC_OK)
    return RC_ESTORE;
  st->depth--;
  return RC_OK;
}

int store_rollback_to(store *st, rc_error *err) {
  /* Rows still in the run came after the savepoint (it flushed). */
  run_drop(st);
  if (st->ops->end(st, 1, 0, err) != RC_OK) return RC_ESTORE;
  st->depth--;
  st->refused = 0; /* undone with what it refused */
  return RC_OK;
}

/* --- claims ----------------------------------------------------------- */

int store_claims_release(store *st, const store_lease *lease, rc_error *err) {
  static const int kinds[] = {STORE_CLAIM_TIMER, STORE_CLAIM_EVENT,
                              STORE_CLAIM_MESSAGE};
  int rc = RC_OK;
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0] && rc == RC_OK; i++)
    rc = st->ops->release(st, kinds[i], 0, lease, err);
  return rc;
}

int store_timers_retry(store *st, const char *case_id, int64_t ms,
                       const store_lease *lease, rc_error *err) {
  return st->ops->timers_retry
             ? st->ops->timers_retry(st, case_id, ms, lease, err)
             : RC_OK;
}

/* --- the instance ----------------------------------------------------------
 */

int store_instance_id(store *st, char *buf, size_t size, rc_error *err) {
  unsigned char raw[8];
  FILE *f;
  int rc = st->ops->meta_get(st, "instance", buf, size, err);
  if (rc != RC_ENOTFOUND) return rc;
  f = fopen("/dev/urandom", "rb");
  if (!f || fread(raw, 1, sizeof raw, f) != sizeof raw) {
    if (f) fclose(f);
    return rc_error_set(err, RC_EIO, NULL, "cannot read /dev/urandom");
  }
  fclose(f);
  snprintf(buf, size, "%02x%02x%02x%02x%02x%02x%02x%02x", raw[0], raw[1],
           raw[2], raw[3], raw[4], raw[5], raw[6], raw[7]);
  return st->ops->meta_put(st, "instance", buf, err);
}

/* --- script reloads across nodes ----------------------------------------
 */

int store_reload_generation(store *st, int64_t *generation, rc_error *err) {
  char buf[32], *end;
  long long n;
  int rc = st->ops->meta_get(st, "reload.generation", buf, sizeof buf, err);
  *generation = 0;
  if (rc == RC_ENOTFOUND) return RC_OK;
  if (rc != RC_OK) return rc;
  errno = 0;
  n = strtoll(buf, &end, 10);
  if (errno || end == buf || *end || n < 0)
    return rc_error_set(err, RC_ESTORE, NULL,
                        "meta's reload.generation is not a number: '%s'", buf);
  *generation = n;
  return RC_OK;
}

int store_reload_versions(store *st, char *buf, size_t size, rc_error *err) {
  int rc = st->ops->meta_get(st, "reload.versions", buf, size, err);
  if (rc == RC_ENOTFOUND) {
    snprintf(buf, size, "{}");
    return RC_OK;
  }
  return rc;
}

int store_reload_bump(store *st, const char *versions, int64_t *generation,
                      rc_error *err) {
  char buf[32];
  int rc;
  if ((rc = st->ops->meta_put(st, "reload.versions", versions, err)) ||
      (rc = store_reload_generation(st, generation, err)))
    return rc;
  if (*generation == INT64_MAX) /* only by hand: the next would wrap */
    return rc_error_set(err, RC_ESTORE, NULL,
                        "meta's reload.generation is at its largest (%lld): "
                        "set it back to 0 with no service running",
                        (long long)*generation);
  snprintf(buf, sizeof buf, "%lld", (long long)++*generation);
  return st->ops->meta_put(st, "reload.generation", buf, err);
}

/* --- records ---------------------------------------------------------------
 */

void store_borrower_free(store_borrower *b) {
  for (int i = 0; i < b->ncontacts; i++) {
    free(b->contacts[i].kind);
    free(b->contacts[i].value);
    free(b->contacts[i].name);
    free(b->contacts[i].relation);
  }
  free(b->contacts);
  free(b->id);
  free(b->name);
  free(b->locale);
  free(b->timezone);
  free(b->address);
  free(b->employer_name);
  free(b->employer_phone);
  free(b->employer_address);
  free(b->area);
  memset(b, 0, sizeof *b);
}

void store_case_free(store_case *c) {
  free(c->id);
  free(c->borrower_id);
  free(c->workflow);
  free(c->state);
  free(c->outcome);
  free(c->error);
  free(c->product);
  free(c->currency);
  free(c->due_date);
  free(c->tags);
  free(c->data);
  free(c->queue);
  memset(c, 0, sizeof *c);
}

void store_event_free(store_event *ev) {
  free(ev->case_id);
  free(ev->type);
  free(ev->data);
  memset(ev, 0, sizeof *ev);
}

void store_events_free(store_event *list, int n) {
  for (int i = 0; i < n; i++) store_event_free(&list[i]);
  free(list);
}

void store_timers_free(store_timer *timers, int n) {
  for (int i = 0; i < n; i++) {
    free(timers[i].case_id);
    free(timers[i].event);
    free(timers[i].data);
  }
  free(timers);
}

void store_outgoing_free(store_outgoing *list, int n) {
  for (int i = 0; i < n; i++) {
    free(list[i].case_id);
    free(list[i].borrower_id);
    free(list[i].channel);
    free(list[i].template_name);
    free(list[i].recipient);
    free(list[i].body);
    free(list[i].state);
    free(list[i].case_state);
  }
  free(list);
}

void store_session_free(store_session *s) {
  free(s->queues);
  s->queues = NULL;
}

void store_user_free(store_user *u) {
  free(u->queues);
  u->queues = NULL;
}

/* --- one call a wrapper -------------------------------------------------- */

int store_meta_get(store *st, const char *key, char *buf, size_t size,
                   rc_error *err) {
  return st->ops->meta_get(st, key, buf, size, err);
}

int store_meta_put(store *st, const char *key, const char *value,
                   rc_error *err) {
  return st->ops->meta_put(st, key, value, err);
}

int store_borrower_upsert(store *st, const store_borrower *b, rc_error *err) {
  return st->ops->borrower_put(st, b, err);
}

int store_borrower_upsert_opening(store *st, const store_borrower *b,
                                  rc_error *err) {
  return st->ops->borrower_put_opening
             ? st->ops->borrower_put_opening(st, b, err)
             : st->ops->borrower_put(st, b, err);
}

int store_borrower_get(store *st, const char *id, store_borrower *out,
                       rc_error *err) {
  return st->ops->borrower_get(st, id, out, err);
}

int store_borrower_cases(store *st, const char *borrower_id, store_row_fn fn,
                         void *ud, rc_error *err) {
  return st->ops->read_case_rows(st, STORE_ROWS_BORROWER_CASES, borrower_id, fn,
                                 ud, err);
}

int store_case_insert(store *st, const store_case *c, rc_error *err) {
  return st->ops->case_insert(st, c, err);
}

int store_case_insert_opening(store *st, const store_case *c, rc_error *err) {
  return st->ops->case_insert_opening ? st->ops->case_insert_opening(st, c, err)
                                      : st->ops->case_insert(st, c, err);
}

int store_holds_openings(const store *st) {
  return st->ops->case_opening_lend != NULL;
}

int store_case_opening_lend(store *st, const char *id, store_case *out) {
  return st->ops->case_opening_lend ? st->ops->case_opening_lend(st, id, out)
                                    : 0;
}

int store_case_claimed_lend(store *st, const char *id, store_case *out) {
  return st->ops->case_claimed_lend ? st->ops->case_claimed_lend(st, id, out)
                                    : 0;
}

int store_borrower_claimed_lend(store *st, const char *id,
                                store_borrower *out) {
  return st->ops->borrower_claimed_lend
             ? st->ops->borrower_claimed_lend(st, id, out)
             : 0;
}

int store_case_write(store *st, const store_case_change *ch, rc_error *err) {
  return st->ops->case_write(st, ch, err);
}

int store_case_get(store *st, const char *id, store_case *out, rc_error *err) {
  return st->ops->case_get(st, id, out, err);
}

int store_case_get_held(store *st, const char *id, store_case *out,
                        rc_error *err) {
  return st->ops->case_get_held ? st->ops->case_get_held(st, id, out, err)
                                : st->ops->case_get(st, id, out, err);
}

int store_case_try_hold(store *st, const char *id, store_case *out, int *busy,
                        rc_error *err) {
  if (st->ops->case_try_hold)
    return st->ops->case_try_hold(st, id, out, busy, err);
  *busy = 0;
  return store_case_get_held(st, id, out, err);
}

void store_case_ahead(store *st, const char *id) {
  if (st->ops->case_ahead) st->ops->case_ahead(st, id);
}

void store_pays_ahead(store *st, int n, const char *const *cases,
                      const char *const *refs) {
  if (st->ops->pays_ahead) st->ops->pays_ahead(st, n, cases, refs);
}

int store_case_exists(store *st, const char *id, rc_error *err) {
  return st->ops->case_exists(st, id, err);
}

int store_case_mover(store *st, const char *id, int64_t message, int64_t *mover,
                     int64_t *waits_on, rc_error *err) {
  return st->ops->case_mover(st, id, message, mover, waits_on, err);
}

int store_case_exists_or_hold_opening(store *st, const char *id,
                                      rc_error *err) {
  return st->ops->case_exists_or_hold_opening(st, id, err);
}

int store_case_exists_or_try_opening(store *st, const char *id, int *busy,
                                     rc_error *err) {
  if (st->ops->case_exists_or_try_opening)
    return st->ops->case_exists_or_try_opening(st, id, busy, err);
  *busy = 0;
  return store_case_exists_or_hold_opening(st, id, err);
}

int store_hold_opening(store *st, rc_error *err) {
  return st->ops->hold_opening(st, err);
}

int store_case_fresh(store *st, const char *id, rc_error *err) {
  return st->ops->case_fresh ? st->ops->case_fresh(st, id, err) : RC_OK;
}

int store_cases_each(store *st, const char *state, store_row_fn fn, void *ud,
                     rc_error *err) {
  return st->ops->cases_each(st, state, fn, ud, err);
}

int store_event_put(store *st, const char *case_id, const char *type,
                    const char *data, rc_time at, const char *status,
                    rc_error *err) {
  st->put.event = 1;
  return st->ops->event_put(st, case_id, type, data, at, status, err);
}

int store_event_key_claim(store *st, const char *key, const char *case_id,
                          const char *type, rc_time at, int *duplicate,
                          rc_error *err) {
  return st->ops->event_key(st, key, case_id, type, at, duplicate, err);
}

int store_events_claim(store *st, int max, const store_lease *lease,
                       store_event **out, int *n, rc_error *err) {
  return st->ops->events_claim(st, max, lease, out, n, err);
}

int store_event_finish(store *st, int64_t id, int how, rc_error *err) {
  return st->ops->event_finish(st, id, how, err);
}

int store_events_retry(store *st, const char *case_id, int *count,
                       rc_error *err) {
  return st->ops->events_retry(st, case_id, count, err);
}

int store_events_pending(store *st, int64_t *count, rc_error *err) {
  return st->ops->read_count(st, STORE_COUNT_EVENTS_PENDING, NULL, 0, count,
                             err);
}

int store_timer_insert(store *st, const char *case_id, rc_time due,
                       const char *event, const char *data, int scoped,
                       rc_error *err) {
  if (due < st->put.timer) st->put.timer = due;
  return st->ops->timer_put(st, case_id, due, event, data, scoped, err);
}

void store_watch_puts(store *st) {
  st->put.event = 0;
  st->put.timer = INT64_MAX;
}

int store_put_before(const store *st, rc_time due) {
  return st->put.event || st->put.timer < due;
}

int store_timer_next_due(store *st, rc_time *due, rc_error *err) {
  return st->ops->timer_next_due(st, due, err);
}

int store_timer_first_due(store *st, rc_time *due, rc_error *err) {
  return st->ops->timer_first_due ? st->ops->timer_first_due(st, due, err)
                                  : st->ops->timer_next_due(st, due, err);
}

int store_timers_claim(store *st, rc_time until, int max,
                       const store_lease *lease, store_timer **out, int *n,
                       rc_error *err) {
  return st->ops->timers_claim(st, until, max, lease, out, n, err);
}

int store_timer_finish(store *st, const store_timer *t, int *deleted,
                       rc_error *err) {
  return st->ops->timer_finish(st, t, deleted, err);
}

int store_timers_cancel(store *st, const char *case_id, int which,
                        const char *event, int *count, rc_error *err) {
  return st->ops->timers_cancel(st, case_id, which, event, count, err);
}

int store_timers_each(store *st, const char *case_id, store_row_fn fn, void *ud,
                      rc_error *err) {
  return st->ops->read_case_rows(st, STORE_ROWS_TIMERS, case_id, fn, ud, err);
}

int store_timers_count(store *st, int64_t *count, rc_error *err) {
  return st->ops->read_count(st, STORE_COUNT_TIMERS, NULL, 0, count, err);
}

int store_message_insert(store *st, const store_message *m, int64_t *id,
                         rc_error *err) {
  return st->ops->message_put(st, m, id, err);
}

int store_messages_each(store *st, const char *case_id, store_row_fn fn,
                        void *ud, rc_error *err) {
  return st->ops->read_case_rows(st, STORE_ROWS_MESSAGES, case_id, fn, ud, err);
}

int store_message_update(store *st, int64_t id, const store_message_change *ch,
                         int *changed, rc_error *err) {
  return st->ops->message_update(st, id, ch, changed, err);
}

int store_message_case(store *st, int64_t id, char *case_id, size_t size,
                       char status[16], rc_error *err) {
  return st->ops->message_case(st, id, case_id, size, status, err);
}

int store_message_read(store *st, int64_t id, store_row_fn fn, void *ud,
                       rc_error *err) {
  return st->ops->message_read(st, id, fn, ud, err);
}

int store_task_insert(store *st, const store_task *t, int64_t *id,
                      rc_error *err) {
  return st->ops->task_put(st, t, id, err);
}

int store_tasks_each(store *st, const char *case_id, store_row_fn fn, void *ud,
                     rc_error *err) {
  return st->ops->read_case_rows(st, STORE_ROWS_TASKS, case_id, fn, ud, err);
}

int store_task_get(store *st, int64_t id, store_task_info *out, rc_error *err) {
  return st->ops->task_get(st, id, out, err);
}

int store_task_complete(store *st, int64_t id, const char *outcome,
                        const char *result, rc_time at, rc_error *err) {
  return st->ops->task_complete(st, id, outcome, result, at, err);
}

int store_tasks_cancel_scoped(store *st, const char *case_id, rc_error *err) {
  return st->ops->tasks_cancel_scoped(st, case_id, err);
}

int store_payment_insert(store *st, const char *case_id, rc_money amount,
                         const char *currency, const char *ref, rc_time at,
                         rc_error *err) {
  return st->ops->payment_put(st, case_id, amount, currency, ref, at, err);
}

int store_payment_by_ref(store *st, const char *ref, char *case_id, size_t size,
                         rc_money *amount, rc_error *err) {
  return st->ops->payment_by_ref(st, ref, case_id, size, amount, NULL, err);
}

int store_payment_by_ref_in(store *st, const char *ref, char *case_id,
                            size_t size, rc_money *amount, char *currency,
                            rc_error *err) {
  return st->ops->payment_by_ref(st, ref, case_id, size, amount, currency, err);
}

int store_payments_total(store *st, rc_money *total, rc_error *err) {
  return st->ops->read_total(st, STORE_TOTAL_PAID, total, err);
}

int store_overpaid_total(store *st, rc_money *total, rc_error *err) {
  return st->ops->read_total(st, STORE_TOTAL_OVERPAID, total, err);
}

int store_reduced_total(store *st, rc_money *total, rc_error *err) {
  return st->ops->read_total(st, STORE_TOTAL_REDUCED, total, err);
}

int store_promise_insert(store *st, const char *case_id, rc_money amount,
                         const char *currency, const char *by_date, rc_time at,
                         int64_t *id, rc_error *err) {
  return st->ops->promise_put(st, case_id, amount, currency, by_date, at, id,
                              err);
}

int store_promise_open(store *st, const char *case_id, store_promise *out,
                       rc_error *err) {
  return st->ops->promise_get(st, 0, case_id, out, err);
}

int store_promise_get(store *st, int64_t id, store_promise *out,
                      rc_error *err) {
  return st->ops->promise_get(st, id, NULL, out, err);
}

int store_promise_update(store *st, int64_t id, rc_money paid,
                         const char *status, rc_error *err) {
  return st->ops->promise_update(st, id, paid, status, err);
}

int store_plan_insert(store *st, store_plan *plan, int64_t *id, rc_error *err) {
  return st->ops->plan_put(st, plan, id, err);
}

int store_installments_unpaid(store *st, const char *case_id,
                              store_installment **out, int *n, rc_error *err) {
  return st->ops->installments_unpaid(st, case_id, out, n, err);
}

int store_installment_get(store *st, int64_t id, store_installment *out,
                          char *plan_status, size_t size, rc_error *err) {
  return st->ops->installment_get(st, id, out, plan_status, size, err);
}

int store_installment_update(store *st, int64_t id, rc_money paid,
                             const char *status, rc_error *err) {
  return st->ops->installment_update(st, id, paid, status, err);
}

int store_plan_status(store *st, int64_t plan_id, const char *status,
                      rc_error *err) {
  return st->ops->plan_status(st, plan_id, status, err);
}

int store_plan_each(store *st, const char *case_id, store_row_fn fn, void *ud,
                    rc_error *err) {
  return st->ops->read_case_rows(st, STORE_ROWS_PLAN, case_id, fn, ud, err);
}

int store_task_take(store *st, int64_t id, const char *assignee, int how,
                    char *case_id, size_t size, rc_error *err) {
  return st->ops->task_take(st, id, assignee, how, case_id, size, err);
}

int store_report_states(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_STATES, NULL, fn, ud, err);
}

int store_report_dpd(store *st, const char *today, store_row_fn fn, void *ud,
                     rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_DPD, today, fn, ud, err);
}

int store_report_promises(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_PROMISES, NULL, fn, ud, err);
}

int store_report_installments(store *st, store_row_fn fn, void *ud,
                              rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_INSTALLMENTS, NULL, fn, ud, err);
}

int store_report_contacts(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_CONTACTS, NULL, fn, ud, err);
}

int store_report_refusals(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_REFUSALS, NULL, fn, ud, err);
}

int store_report_variants(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_VARIANTS, NULL, fn, ud, err);
}

int store_report_money(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_MONEY, NULL, fn, ud, err);
}

int store_report_versions(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_report(st, STORE_REPORT_VERSIONS, NULL, fn, ud, err);
}

int store_contact_times(store *st, const char *case_id, const char *borrower_id,
                        const char *channel, rc_time since,
                        int64_t exclude_message, int max, rc_time *times,
                        int *n, rc_error *err) {
  return st->ops->contact_times(st, case_id, borrower_id, channel, since,
                                exclude_message, max, times, n, err);
}

int store_borrower_decided(store *st, const store_borrower *b, rc_error *err) {
  return st->ops->borrower_decided ? st->ops->borrower_decided(st, b, err)
                                   : RC_OK;
}

int store_last_conversation(store *st, const char *borrower_id, rc_time *at,
                            rc_error *err) {
  return st->ops->last_conversation(st, borrower_id, at, err);
}

int store_borrower_set_flag(store *st, const char *borrower_id, store_flag flag,
                            int value, rc_error *err) {
  return st->ops->borrower_flag(st, borrower_id, flag, value, err);
}

int store_messages_cancel_deferred(store *st, const char *case_id,
                                   const char *reason, int64_t spare,
                                   rc_error *err) {
  return st->ops->messages_cancel_deferred(st, case_id, reason, spare, err);
}

int store_messages_step(store *st, const char *case_id, const int64_t *ids,
                        int n, int64_t step, rc_error *err) {
  return st->ops->messages_step(st, case_id, ids, n, step, err);
}

int store_outbox_due(store *st, rc_time now, int max, store_outgoing **out,
                     int *n, rc_error *err) {
  return st->ops->outbox_claim(st, now, max, NULL, out, n, err);
}

int store_reply_case(store *st, const char *from, char *case_id, size_t size,
                     rc_error *err) {
  return st->ops->reply_case(st, from, case_id, size, err);
}

int store_cases_below_version(store *st, const char *workflow, int below,
                              store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->cases_below_version(st, workflow, below, fn, ud, err);
}

int store_cases_phone(store *st, const char *phone, const char *after,
                      int limit, const store_scope *scope, store_row_fn fn,
                      void *ud, rc_error *err) {
  return st->ops->cases_phone(st, phone, after, limit, scope, fn, ud, err);
}

int store_cases_page(store *st, const char *state, const char *queue,
                     const char *after, int limit, int window,
                     const store_scope *scope, char *window_end, size_t size,
                     store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->cases_page(st, state, queue, after, limit, window, scope,
                             window_end, size, fn, ud, err);
}

int store_tasks_page(store *st, const char *queue, const char *status,
                     const char *assignee, const char *queues, int64_t after,
                     int limit, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->tasks_page(st, queue, status, assignee, queues, after, limit,
                             fn, ud, err);
}

int store_errors_page(store *st, int64_t before, int limit, store_row_fn fn,
                      void *ud, rc_error *err) {
  return st->ops->errors_page(st, before, limit, fn, ud, err);
}

int store_timers_overdue(store *st, rc_time now, int64_t *count,
                         rc_error *err) {
  return st->ops->read_count(st, STORE_COUNT_TIMERS_OVERDUE, NULL, now, count,
                             err);
}

int store_variant_get(store *st, const char *case_id, const char *experiment,
                      char *arm, size_t size, rc_error *err) {
  return st->ops->variant_get(st, case_id, experiment, arm, size, err);
}

int store_variant_put(store *st, const char *case_id, const char *experiment,
                      const char *arm, rc_error *err) {
  return st->ops->variant_put(st, case_id, experiment, arm, err);
}

int store_user_insert(store *st, const store_user *u, const char *hash,
                      rc_error *err) {
  return st->ops->user_put(st, u, hash, err);
}

int store_user_get(store *st, const char *name, store_user *out, char *hash,
                   size_t size, rc_error *err) {
  return st->ops->user_get(st, name, out, hash, size, err);
}

int store_user_update(store *st, const char *name, int disabled,
                      const char *hash, const char *display,
                      const char *queues, rc_error *err) {
  return st->ops->user_update(st, name, disabled, hash, display, queues, err);
}

int store_users_each(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->users_each(st, fn, ud, err);
}

int store_figure_add(store *st, const char *figure, const char *day,
                     const char *a, const char *b, const char *c, int64_t n,
                     int64_t amount, rc_error *err) {
  return st->ops->figure_add(st, figure, day, a, b, c, n, amount, err);
}

int store_figures_states(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_figures(st, STORE_FIGURES_STATES, fn, ud, err);
}

int store_figures_due(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_figures(st, STORE_FIGURES_DUE, fn, ud, err);
}

int store_figures_promises(store *st, store_row_fn fn, void *ud,
                           rc_error *err) {
  return st->ops->read_figures(st, STORE_FIGURES_PROMISES, fn, ud, err);
}

int store_figures_queues(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_figures(st, STORE_FIGURES_QUEUES, fn, ud, err);
}

int store_figures_arms(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->read_figures(st, STORE_FIGURES_ARMS, fn, ud, err);
}

int store_figures_messages(store *st, const char *status, int64_t *count,
                           rc_error *err) {
  return st->ops->read_count(st, STORE_COUNT_FIGURES_MESSAGES, status, 0, count,
                             err);
}

int store_figures_days(store *st, const char *figure, const char *from,
                       const char *to, store_row_fn fn, void *ud,
                       rc_error *err) {
  return st->ops->figures_days(st, figure, from, to, fn, ud, err);
}

int store_promise_user_put(store *st, int64_t promise_id, const char *user,
                           rc_error *err) {
  return st->ops->promise_user_put(st, promise_id, user, err);
}

int store_promise_user_get(store *st, int64_t promise_id, char *user,
                           size_t size, rc_error *err) {
  return st->ops->promise_user_get(st, promise_id, user, size, err);
}

int store_outbox_page(store *st, const char *const *statuses, int nstatuses,
                      const char *channel, int64_t after, int limit,
                      int64_t *resume, store_row_fn fn, void *ud,
                      rc_error *err) {
  return st->ops->outbox_page(st, statuses, nstatuses, channel, after, limit,
                              resume, fn, ud, err);
}

int store_roll_log(store *st, const char *month, const char *case_id,
                   const char *due_date, int status, const char *now_due,
                   int now_status, const char *opened, rc_error *err) {
  return st->ops->roll_log(st, month, case_id, due_date, status, now_due,
                           now_status, opened, err);
}

int store_rolls_month(store *st, const char *month, store_row_fn fn, void *ud,
                      rc_error *err) {
  return st->ops->rolls(st, month, 0, fn, ud, err);
}

int store_rolls_logged(store *st, const char *since, store_row_fn fn, void *ud,
                       rc_error *err) {
  return st->ops->rolls(st, since, 1, fn, ud, err);
}

int store_roll_put(store *st, const char *month, int from, int to,
                   int64_t cases, rc_error *err) {
  return st->ops->roll_put(st, month, from, to, cases, err);
}

int store_rolls_forget(store *st, const char *before, rc_error *err) {
  return st->ops->rolls_forget(st, before, err);
}

int store_user_log(store *st, rc_time at, const char *name, const char *change,
                   const char *address, rc_error *err) {
  return st->ops->user_log(st, at, name, change, address, err);
}

int store_session_insert(store *st, const char *id, const char *name,
                         rc_time now, rc_time expires_at, const char *address,
                         rc_error *err) {
  return st->ops->session_put(st, id, name, now, expires_at, address, err);
}

int store_session_get(store *st, const char *id, store_session *out,
                      rc_error *err) {
  return st->ops->session_get(st, id, out, err);
}

int store_session_touch(store *st, const char *id, rc_time now, rc_error *err) {
  return st->ops->session_touch(st, id, now, err);
}

int store_sessions_delete(store *st, int which, const char *id,
                          const char *name, rc_time now, rc_time idle_before,
                          int *deleted, rc_error *err) {
  return st->ops->sessions_delete(st, which, id, name, now, idle_before,
                                  deleted, err);
}

int store_work_page(store *st, const char *queue, rc_time now, int part,
                    const store_work_cursor *after, const char *user,
                    int only_open, int limit, store_row_fn fn, void *ud,
                    rc_error *err) {
  return st->ops->work_page(st, queue, now, part, after, user, only_open, limit,
                            fn, ud, err);
}

int store_work_queues(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->work_queues(st, fn, ud, err);
}

int store_work_counts(store *st, const char *queue, rc_time now,
                      rc_time day_end, const char *user, int64_t *due_now,
                      int64_t *today, rc_error *err) {
  return st->ops->work_counts(st, queue, now, day_end, user, due_now, today,
                              err);
}

int store_work_areas(store *st, const char *queue, rc_time day_end,
                     const char *user, int max, store_row_fn fn, void *ud,
                     rc_error *err) {
  return st->ops->work_areas(st, queue, day_end, user, max, fn, ud, err);
}

int store_work_promises(store *st, const char *status, const char *from,
                        const char *to, const char *after_date,
                        int64_t after_id, const store_scope *scope, int limit,
                        store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->work_promises(st, status, from, to, after_date, after_id,
                                scope, limit, fn, ud, err);
}

int store_work_promises_count(store *st, const char *status, const char *from,
                              const char *to, const store_scope *scope,
                              int64_t *count, rc_error *err) {
  return st->ops->work_promises_count(st, status, from, to, scope, count, err);
}

int store_case_visible(store *st, const char *case_id, const store_scope *scope,
                       int *visible, rc_error *err) {
  return st->ops->case_visible(st, case_id, scope, visible, err);
}

int store_last_contact(store *st, const char *case_id, const char *borrower_id,
                       char *channel, size_t size, rc_time *at, rc_error *err) {
  return st->ops->last_contact(st, case_id, borrower_id, channel, size, at,
                               err);
}

int store_sim_read(store *st, int which, int64_t after, store_row_fn fn,
                   void *ud, rc_error *err) {
  return st->ops->sim_read(st, which, after, fn, ud, err);
}

/* --- moving a book (branch "migrate") ------------------------------------ */

/* Parents first (borrowers before contacts and cases, cases before what
 * belongs to a case, plans before installments, users before sessions),
 * counters last: SQLite's and PostgreSQL's triggers add to figures_* as
 * promises, variants and payments arrive; those rows are then replaced by
 * the source's own counters, which no recount could give back (an arm's
 * workflow is its first case's, figures by day are the engine's). */
const char *const store_book_tables[] = {
    "meta",          "borrowers",     "contacts",
    "cases",         "events",        "event_keys",
    "timers",        "journal_runs",  "messages",
    "tasks",         "payments",      "promises",
    "plans",         "installments",  "variants",
    "users",         "users_log",     "sessions",
    "figures_states", "figures_due",  "figures_messages",
    "figures_promises", "figures_arms", "figures_arms_money",
    "figures_days", "figures_promise_users", "figures_roll_log",
    "figures_rolls", "figures_tasks", NULL};

int store_book_rows(store *st, const char *table, store_row_fn fn, void *ud,
                    rc_error *err) {
  return st->ops->book_rows(st, table, fn, ud, err);
}

int store_book_put(store *st, const char *table, const store_value *cols,
                   int ncols, rc_error *err) {
  return st->ops->book_put(st, table, cols, ncols, err);
}

int store_book_figures(store *st, store_row_fn fn, void *ud, rc_error *err) {
  return st->ops->book_figures(st, fn, ud, err);
}

void store_book_place(store *st, char *out, size_t size) {
  if (size) out[0] = '\0';
  if (st->ops->book_place && size) st->ops->book_place(st, out, size);
}

int store_book_present(const char *where) {
  const store_ops *ops = store_backend(where, NULL);
  return ops && ops->book_present ? ops->book_present(where) : RC_OK;
}
