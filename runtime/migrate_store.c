/* `recoup migrate-store FROM TO`: a whole book moved from one store to
 * another (SQLite to PostgreSQL, or back), through the store seam
 * (store.h's store_book_*): every table copied row by row with its ids,
 * in one transaction on TO, then checked — counts per table and money
 * sums read through both stores must agree, or TO's transaction is rolled
 * back and nothing of FROM is left there.
 *
 * It never merges: TO must hold no book. It never copies from a book in
 * use: a service holds a SQLite book's lock file (backup.c), and every
 * recoup process on a PostgreSQL book holds a counter slot there
 * (store_book_figures' "connections"). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "migrate_store.h"
#include "store/store.h"
#include "store/where.h"

/* A progress line on stderr every this many rows (RECOUP_MIGRATE_EVERY
 * changes it: tests of a small book). */
enum { MIGRATE_EVERY = 100000 };

/* --- the figures a copy is checked by ----------------------------------- */

typedef struct figure {
  char *name; /* owned */
  int64_t value;
} figure;

typedef struct figures {
  figure *v; /* owned */
  int n, cap;
  int64_t connections; /* other processes on the database: not compared */
  int oom;
} figures;

static int figures_row(void *ud, const store_value *cols, int n) {
  figures *f = ud;
  if (n < 2 || cols[0].type != STORE_TEXT) return 0;
  if (!strcmp(cols[0].s, "connections")) {
    f->connections = cols[1].i;
    return 0;
  }
  if (f->n == f->cap) {
    int cap = f->cap ? 2 * f->cap : 64;
    figure *v = realloc(f->v, (size_t)cap * sizeof *v);
    if (!v) return f->oom = 1;
    f->v = v;
    f->cap = cap;
  }
  if (!(f->v[f->n].name = strdup(cols[0].s))) return f->oom = 1;
  f->v[f->n++].value =
      cols[1].type == STORE_REAL ? (int64_t)cols[1].r : cols[1].i;
  return 0;
}

static int figure_cmp(const void *a, const void *b) {
  return strcmp(((const figure *)a)->name, ((const figure *)b)->name);
}

static void figures_free(figures *f) {
  for (int i = 0; i < f->n; i++) free(f->v[i].name);
  free(f->v);
  memset(f, 0, sizeof *f);
}

/* The store's figures, sorted by name. */
static int figures_read(store *st, figures *f, rc_error *err) {
  int rc;
  figures_free(f);
  if ((rc = store_book_figures(st, figures_row, f, err)) != RC_OK) return rc;
  if (f->oom) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  qsort(f->v, (size_t)f->n, sizeof *f->v, figure_cmp);
  return RC_OK;
}

static const figure *figures_find(const figures *f, const char *name) {
  figure key = {.name = (char *)name};
  return bsearch(&key, f->v, (size_t)f->n, sizeof *f->v, figure_cmp);
}

/* The first figure (by name) FROM and TO disagree on, in err; a figure
 * one side lacks counts as a disagreement. */
static int figures_compare(const figures *from, const figures *to,
                           rc_error *err) {
  for (int pass = 0; pass < 2; pass++) {
    const figures *x = pass ? to : from, *y = pass ? from : to;
    for (int i = 0; i < x->n; i++) {
      const figure *o = figures_find(y, x->v[i].name);
      char a[32] = "none", b[32] = "none";
      if (o && o->value == x->v[i].value) continue;
      snprintf(pass ? b : a, sizeof a, "%" PRId64, x->v[i].value);
      if (o) snprintf(pass ? a : b, sizeof a, "%" PRId64, o->value);
      return rc_error_set(err, RC_ESTORE, NULL,
                          "the copy does not match: %s is %s on FROM, %s on "
                          "TO",
                          x->v[i].name, a, b);
    }
  }
  return RC_OK;
}

/* Rows in the book that a new, empty one does not have: meta aside (a
 * new book has its own), the first table with rows. */
static const figure *figures_first_rows(const figures *f) {
  for (const char *const *t = store_book_tables; *t; t++) {
    const figure *o = figures_find(f, *t);
    if (o && o->value > 0 && strcmp(*t, "meta") != 0) return o;
  }
  return NULL;
}

/* --- the copy --------------------------------------------------------- */

typedef struct copy {
  store *to;
  const char *table;
  int64_t rows, total, every;
  /* RECOUP_MIGRATE_CORRUPT=TABLE.COLUMN (tests): that integer column of
   * the table's first row is written one higher, so that a test can show
   * the check catching a copy that went wrong and rolling it back. */
  char corrupt[128];
  store_value *buf; /* owned; the corrupted row */
  int nbuf;
  rc_error *err;
  int rc;
} copy;

/* The row's key, for an error: its id, else its first column. */
static void row_key(const store_value *cols, int n, char *buf, size_t size) {
  const store_value *k = n > 0 ? &cols[0] : NULL;
  for (int i = 0; i < n; i++)
    if (cols[i].name && !strcmp(cols[i].name, "id")) k = &cols[i];
  if (!k)
    snprintf(buf, size, "?");
  else if (k->type == STORE_INT)
    snprintf(buf, size, "%s %" PRId64, k->name, k->i);
  else if (k->type == STORE_TEXT)
    snprintf(buf, size, "%s '%.60s'", k->name, k->s);
  else
    snprintf(buf, size, "%s ?", k->name);
}

/* The row as the corrupting test hook wants it (cols when untouched). */
static const store_value *copy_corrupt(copy *c, const store_value *cols,
                                       int n) {
  const char *dot = strchr(c->corrupt, '.');
  size_t len = dot ? (size_t)(dot - c->corrupt) : 0;
  if (!dot || c->rows > 0 || strlen(c->table) != len ||
      strncmp(c->corrupt, c->table, len) != 0)
    return cols;
  if (n > c->nbuf) {
    store_value *b = realloc(c->buf, (size_t)n * sizeof *b);
    if (!b) return cols;
    c->buf = b;
    c->nbuf = n;
  }
  memcpy(c->buf, cols, (size_t)n * sizeof *cols);
  for (int i = 0; i < n; i++)
    if (!strcmp(cols[i].name, dot + 1) && cols[i].type == STORE_INT)
      c->buf[i].i++;
  return c->buf;
}

static int copy_row(void *ud, const store_value *cols, int n) {
  copy *c = ud;
  rc_error e;
  char key[128];

  rc_error_clear(&e);
  if ((c->rc = store_book_put(c->to, c->table, copy_corrupt(c, cols, n), n,
                              &e)) != RC_OK) {
    row_key(cols, n, key, sizeof key);
    rc_error_set(c->err, c->rc, "to", "TO: %s row %s: %s", c->table, key,
                 e.message);
    return 1;
  }
  c->rows++;
  if (++c->total % c->every == 0)
    fprintf(stderr, "migrate-store: %" PRId64 " rows (%s: %" PRId64 ")\n",
            c->total, c->table, c->rows);
  return 0;
}

typedef struct names {
  char list[64][64];
  int n, unknown;
  char first_unknown[64];
} names;

static int names_row(void *ud, const store_value *cols, int n) {
  names *t = ud;
  int known = 0;
  if (n < 1 || cols[0].type != STORE_TEXT) return 0;
  for (const char *const *k = store_book_tables; *k; k++)
    if (!strcmp(*k, cols[0].s)) known = 1;
  if (!known && !t->unknown++)
    snprintf(t->first_unknown, sizeof t->first_unknown, "%s", cols[0].s);
  if (t->n < 64) snprintf(t->list[t->n++], sizeof t->list[0], "%s", cols[0].s);
  return 0;
}

static int names_has(const names *t, const char *name) {
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->list[i], name)) return 1;
  return 0;
}

/* Every table of FROM into TO, inside TO's open transaction. */
/* TO starts at today's checks generation and meta's copy brings FROM's
 * over it; a FROM made before generations were kept has none, and is
 * generation 1 (engine.c): TO's key goes too. Kept, the checks an older
 * book only warns of would refuse to start the moved one (and meta's
 * rows would not count the same on both). */
static int keep_checks_generation(store *from, store *to, rc_error *err) {
  static const char key[] = "checks.generation";
  char text[32];
  rc_error e;
  int rc;
  rc_error_clear(&e);
  rc = store_meta_get(from, key, text, sizeof text, &e);
  if (rc == RC_OK) return RC_OK;
  if (rc != RC_ENOTFOUND)
    return rc_error_set(err, rc, "from", "FROM: %s", e.message);
  if ((rc = store_meta_put(to, key, NULL, &e)) != RC_OK)
    return rc_error_set(err, rc, "to", "TO: %s", e.message);
  return RC_OK;
}

static int copy_book(store *from, store *to, rc_error *err) {
  names tables = {0};
  copy c = {.to = to, .err = err, .every = MIGRATE_EVERY};
  const char *every = getenv("RECOUP_MIGRATE_EVERY");
  const char *corrupt = getenv("RECOUP_MIGRATE_CORRUPT");
  rc_error e;
  int rc;

  if (every && atoll(every) > 0) c.every = atoll(every);
  if (corrupt) snprintf(c.corrupt, sizeof c.corrupt, "%s", corrupt);
  rc_error_clear(&e);
  if ((rc = store_book_rows(from, NULL, names_row, &tables, &e)) != RC_OK)
    return rc_error_set(err, rc, "from", "FROM: %s", e.message);
  /* A table this recoup does not know would be left behind: a newer
   * schema, or not a book of ours. */
  if (tables.unknown)
    return rc_error_set(err, RC_EINVAL, "from",
                        "FROM has a table this recoup does not copy (%s): "
                        "move it with the recoup that wrote it",
                        tables.first_unknown);
  for (const char *const *t = store_book_tables; *t; t++) {
    if (!names_has(&tables, *t))
      return rc_error_set(err, RC_EINVAL, "from",
                          "FROM has no table %s: not a whole recoup book", *t);
    c.table = *t;
    c.rows = 0;
    if ((rc = store_book_put(to, *t, NULL, 0, &e)) != RC_OK) {
      free(c.buf);
      return rc_error_set(err, rc, "to", "TO: %s", e.message);
    }
    c.rc = RC_OK;
    rc = store_book_rows(from, *t, copy_row, &c, &e);
    if (c.rc != RC_OK) {
      free(c.buf);
      return c.rc;
    }
    if (rc != RC_OK) {
      free(c.buf);
      return rc_error_set(err, rc, "from", "FROM: %s", e.message);
    }
  }
  free(c.buf);
  if ((rc = store_book_put(to, NULL, NULL, 0, &e)) != RC_OK)
    return rc_error_set(err, rc, "to", "TO: %s", e.message);
  return keep_checks_generation(from, to, err);
}

/* --- the command ------------------------------------------------------- */

typedef struct side {
  const char *where;
  const char *label; /* "FROM", "TO" */
  store *st;
  int lock;    /* the lock file's fd (a SQLite book), or -1 */
  int created; /* TO was no file before: removed if the move fails */
  /* store_book_place, asked once opened, before any transaction: a
   * statement that failed there would end the snapshot FROM is read in */
  char place[256];
  figures fig;
} side;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A SQLite FROM must be a recoup book this recoup can read, checked
 * read-only before the store opens it (which would make a new book of a
 * missing file, or of any SQLite file). */
static int from_file_check(const char *where, rc_error *err) {
  store_summary sum;
  struct stat st;
  rc_error e;

  if (stat(where, &st) != 0)
    return rc_error_set(err, RC_ENOTFOUND, "from",
                        "FROM: no database at %s: %s", where, strerror(errno));
  rc_error_clear(&e);
  if (store_backup_check(where, &sum, &e) == RC_OK) return RC_OK;
  if (strstr(e.message, "newer than"))
    return rc_error_set(err, RC_EINVAL, "from",
                        "FROM: %s has schema version %d, newer than this "
                        "recoup knows: move it with the recoup that wrote it",
                        where, sum.schema);
  return rc_error_set(err, RC_EINVAL, "from", "FROM: %s", e.message);
}

/* Opens one side: its lock (a file), its store, its figures. */
static int side_open(side *s, rc_error *err) {
  store_location loc = store_where(s->where);
  struct stat st;
  rc_error e;
  int rc;

  rc_error_clear(&e);
  if (loc == STORE_MEMORY)
    return rc_error_set(err, RC_EINVAL, s->label[0] == 'F' ? "from" : "to",
                        "%s: a book in memory cannot be moved", s->label);
  if (loc == STORE_FILE) {
    if (s->label[0] == 'F' && (rc = from_file_check(s->where, err)) != RC_OK)
      return rc;
    if (s->label[0] == 'T') s->created = stat(s->where, &st) != 0;
    /* A service starting meanwhile refuses (it cannot take the lock). */
    if ((rc = backup_lock_hold(s->where, &s->lock, &e)) != RC_OK)
      return rc_error_set(err, rc, s->label[0] == 'F' ? "from" : "to",
                          "%s: %s: stop it first", s->label, e.message);
  }
  /* Opened, an empty database would be given a new book's schema. */
  if (loc == STORE_URL && s->label[0] == 'F' &&
      store_book_present(s->where) == RC_ENOTFOUND) {
    char shown[512];
    store_where_shown(s->where, shown, sizeof shown);
    return rc_error_set(err, RC_EINVAL, "from",
                        "FROM: %s holds no recoup book (no schema)", shown);
  }
  if ((rc = store_open(&s->st, s->where, &e)) != RC_OK)
    return rc_error_set(err, rc, s->label[0] == 'F' ? "from" : "to", "%s: %s",
                        s->label, e.message);
  return RC_OK;
}

static int side_figures(side *s, rc_error *err) {
  rc_error e;
  int rc;
  rc_error_clear(&e);
  if ((rc = figures_read(s->st, &s->fig, &e)) != RC_OK)
    return rc_error_set(err, rc, s->label[0] == 'F' ? "from" : "to", "%s: %s",
                        s->label, e.message);
  if (s->fig.connections > 0)
    return rc_error_set(err, RC_ECONFLICT, s->label[0] == 'F' ? "from" : "to",
                        "%s: %" PRId64
                        " other recoup process%s (a service, a "
                        "node, a tick) %s the database: stop them first",
                        s->label, s->fig.connections,
                        s->fig.connections == 1 ? "" : "es",
                        s->fig.connections == 1 ? "holds" : "hold");
  return RC_OK;
}

static void side_close(side *s, int failed) {
  rc_error e;
  if (s->st) {
    if (store_in_transaction(s->st)) store_rollback(s->st);
    store_close(s->st);
    s->st = NULL;
  }
  /* A file this command made, holding no book: not left behind. */
  if (failed && s->created) {
    char lock[4200];
    store_remove(s->where, &e);
    snprintf(lock, sizeof lock, "%s.lock", s->where);
    unlink(lock);
  }
  if (s->lock >= 0) close(s->lock);
  s->lock = -1;
  figures_free(&s->fig);
}

static void print_moved(const side *from, const side *to, double secs) {
  int64_t total = 0;
  printf("moved the book %s -> %s in %.1fs\n", from->where, to->where, secs);
  printf("  rows:");
  for (const char *const *t = store_book_tables; *t; t++) {
    const figure *f = figures_find(&to->fig, *t);
    if (f) {
      printf(" %s %" PRId64 "%s", *t, f->value, t[1] ? "," : "\n");
      total += f->value;
    }
  }
  {
    const figure *j = figures_find(&to->fig, "journal rows");
    printf("  %" PRId64 " rows in all; the journal's runs hold %" PRId64
           " entries\n",
           total, j ? j->value : 0);
  }
  /* Money by currency: "balance KES", "payments KES", ... */
  for (int i = 0; i < to->fig.n; i++) {
    const char *name = to->fig.v[i].name, *cur;
    char key[96];
    const figure *f;
    if (strncmp(name, "balance ", 8) != 0) continue;
    cur = name + 8;
    printf("  %s:", cur);
    static const char *const parts[] = {"balance",  "amount due", "principal",
                                        "payments", "fees",       "overpaid",
                                        "reduced"};
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
      snprintf(key, sizeof key, "%s %s", parts[p], cur);
      f = figures_find(&to->fig, key);
      printf(" %s %" PRId64 "%s", parts[p], f ? f->value : 0,
             p + 1 < sizeof parts / sizeof parts[0] ? "," : " (minor units)\n");
    }
  }
  printf("  checked: %d counts and sums agree on both stores\n", to->fig.n);
}

static int migrate(side *from, side *to, rc_error *err) {
  const figure *rows;
  double start = now_seconds();
  rc_error e;
  int rc;

  rc_error_clear(&e);
  if ((rc = side_open(from, err)) != RC_OK) return rc;
  store_book_place(from->st, from->place, sizeof from->place);
  /* One snapshot of FROM for the copy and its figures. */
  if ((rc = store_begin(from->st, &e)) != RC_OK)
    return rc_error_set(err, rc, "from", "FROM: %s", e.message);
  if ((rc = side_figures(from, err)) != RC_OK) return rc;
  if (!figures_first_rows(&from->fig))
    return rc_error_set(err, RC_EINVAL, "from",
                        "FROM: %s holds no book (no rows in any table)",
                        from->where);
  if ((rc = side_open(to, err)) != RC_OK) return rc;
  /* One PostgreSQL book by two URLs (another host name, another
   * parameter): FROM's own connection would be TO's "other recoup
   * process". */
  store_book_place(to->st, to->place, sizeof to->place);
  if (from->place[0] && strcmp(from->place, to->place) == 0)
    return rc_error_set(err, RC_EINVAL, "to",
                        "FROM and TO are the same database");
  if ((rc = side_figures(to, err)) != RC_OK) return rc;
  if ((rows = figures_first_rows(&to->fig)))
    return rc_error_set(err, RC_ECONFLICT, "to",
                        "TO: %s already holds a book (%" PRId64
                        " rows in %s): migrate-store never merges; give it "
                        "a new database",
                        to->where, rows->value, rows->name);
  if ((rc = store_begin(to->st, &e)) != RC_OK)
    return rc_error_set(err, rc, "to", "TO: %s", e.message);
  if ((rc = copy_book(from->st, to->st, err)) != RC_OK) return rc;
  /* Read back through TO's store, before it commits. */
  if ((rc = side_figures(to, err)) != RC_OK) return rc;
  if ((rc = figures_compare(&from->fig, &to->fig, &e)) != RC_OK)
    return rc_error_set(err, rc, "to",
                        "%s; TO's transaction was rolled back: nothing of "
                        "FROM is in it",
                        e.message);
  if ((rc = store_commit(to->st, &e)) != RC_OK)
    return rc_error_set(err, rc, "to", "TO: %s", e.message);
  print_moved(from, to, now_seconds() - start);
  return RC_OK;
}

/* One file by two names (book.db and ./book.db, a link): the lock file
 * FROM takes is then the one TO asks for, and the refusal would send the
 * lender looking for another process that does not exist. */
static int same_file(const char *a, const char *b) {
  struct stat x, y;
  return store_where(a) == STORE_FILE && store_where(b) == STORE_FILE &&
         stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
         x.st_ino == y.st_ino;
}

int migrate_store_cli(const char *from, const char *to) {
  side f = {.where = from, .label = "FROM", .lock = -1};
  side t = {.where = to, .label = "TO", .lock = -1};
  rc_error err;
  int rc;

  rc_error_clear(&err);
  if (!strcmp(from, to) || same_file(from, to)) {
    rc_error_set(&err, RC_EINVAL, "to", "FROM and TO are the same database");
    rc_error_print(&err, stderr);
    return 1;
  }
  rc = migrate(&f, &t, &err);
  side_close(&t, rc != RC_OK);
  side_close(&f, 0);
  if (rc != RC_OK) {
    rc_error_print(&err, stderr);
    return 1;
  }
  return 0;
}
