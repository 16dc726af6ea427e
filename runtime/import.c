/* Portfolio import, CSV (RFC 4180 through libcsv) or NDJSON, streamed line
 * by line so a million-row file needs no more memory than the rows in
 * flight between the reader and the writer (and each id, kept to refuse
 * the same case twice). Every byte is checked for
 * UTF-8 before a parser sees it: libcsv passes any byte through and
 * jansson drops a cell it cannot take, so a GBK export once opened cases
 * with a balance of 0. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <csv.h>
#include <jansson.h>

#include "bigmem.h"
#include "case_input.h"
#include "import.h"
#include "input.h"

enum { MAX_ERRORS = 50, MAX_COLUMNS = 256, READ_CHUNK = 64 * 1024 };
/* Cases whose `opened` handlers run together (engine_import_opened): one
 * savepoint for them, redone one by one when a handler fails. A multiple
 * of the runs the store writes at a time (sqlite.c, PENDING_RUNS = 32):
 * the savepoint that follows writes what is left of them one by one. */
enum { OPENED_BATCH = 1024 };
/* Times a file is imported when the database ends it for a deadlock. */
enum { IMPORT_TRIES = 5 };
/* The file is read and its rows parsed on a thread of their own while
 * the import's thread writes them (reading was 16 % of a row's
 * instructions): rows pass in batches, BATCHES of them at most in
 * flight, so memory stays bounded whatever the file's size. */
enum { BATCH_ROWS = 64, BATCHES = 8 };
/* A batch is handed over early once the lines it was read from pass
 * this: rows of up to a megabyte each kept BATCHES * BATCH_ROWS of them
 * (and their copies) in memory, 1.2 GB over one thread's 0.35 GB on a
 * file of 600 such rows. */
enum { BATCH_BYTES = 256 * 1024 };

/* Lines from a stream, at most INPUT_LINE_MAX bytes each: getline() grows
 * its buffer to whatever the file holds (a file without newlines took
 * 4 GB in 16 s). Owns buf. */
typedef struct line_reader {
  FILE *f;
  char *buf;
  size_t start, end; /* unread bytes: buf[start..end) */
  int eof;
} line_reader;

/* Ids read so far and the line of each, to refuse a case given twice:
 * an open-addressed table of offsets into an arena of ids (1 length byte,
 * then the id), about 30 bytes a row. Owns both. */
typedef struct seen_ids {
  uint32_t *slots; /* 2 words a slot: arena offset + 1 (0: empty), line */
  size_t cap, count;
  unsigned char *arena;
  size_t used, size;
  /* The cases opened, in file order: arena offsets, 4 bytes a row. */
  uint32_t *opened;
  size_t nopened, opened_cap;
} seen_ids;

/* What the reader hands the writer, in file order: a row parsed, a row
 * refused (it counts as a row) or a refusal that is not a row's. */
enum { ITEM_CASE, ITEM_REFUSED, ITEM_ERROR };

typedef struct item {
  int kind;
  int64_t line;
  uint32_t id_at; /* ITEM_CASE: its id's offset in the ids' arena */
  int err;        /* else: its refusal in the batch's errs, -1 if lost */
  case_input in;  /* ITEM_CASE: owned */
} item;

typedef struct batch {
  item items[BATCH_ROWS];
  int n;
  rc_error *errs; /* the refusals of its items, in order; owned, NULL
                   * until one (BATCH_ROWS of them) */
  int nerrs;
  size_t bytes; /* of the lines read while it was being filled */
} batch;

/* Batches go round: the reader fills slot `put`, the writer empties slot
 * `take`; `full` of them wait (guarded by mu). The reader frees a slot's
 * rows when it fills the slot again, so what the writer kept of them
 * (jansson's counts) is let go on the thread that made them. */
typedef struct handoff {
  pthread_mutex_t mu;
  pthread_cond_t moved; /* full changed, or done, or cancel */
  batch slots[BATCHES];
  int put, take, full;
  int done;   /* the reader handed its last batch */
  int cancel; /* the writer wants no more rows */
  int threaded;
} handoff;

/* The reader's fields are touched only by the reader thread until it is
 * joined, the writer's only by the import's thread. */
typedef struct importer {
  /* writer */
  engine *eng;
  import_stats *stats;
  rc_errlist *errors;
  int progress;
  int dropping; /* it asked the reader to stop: what follows is not read */
  /* both, read only */
  const char *name;
  handoff *q;
  /* reader */
  engine_reading *reading;
  FILE *f;
  line_reader *r;
  int format;
  int failed_before; /* the error list held errors when the import began */
  int refused;       /* refusals the reader found */
  int64_t line;     /* line being read */
  int64_t row_line; /* line where the current record started */
  /* CSV */
  char *header[MAX_COLUMNS]; /* owned */
  int ncolumns;
  /* The record being built: one string a column, made once after the
   * header and refilled for each record (a new object a record cost
   * more than checking it). cells[i] is the column's value, borrowed. */
  json_t *row; /* owned */
  json_t *cells[MAX_COLUMNS];
  int field; /* index of the next field */
  int in_header;
  int in_record;      /* a CSV record is open across lines */
  int record_bad;     /* its bytes were refused: check it no further */
  size_t record_size; /* bytes of it so far */
  /* both: the reader adds ids; the writer, which alone knows that a
   * row opened a case, the list of those opened (never the arena until
   * the reader is joined). */
  seen_ids seen;
  int stop; /* the rest of the file cannot be read reliably */
} importer;

static void error_text(const importer *im, int64_t line, const char *column,
                       const char *message, rc_error *err) {
  rc_error_clear(err);
  err->code = RC_EINVAL;
  snprintf(err->file, sizeof err->file, "%s", im->name);
  err->line = (int)line;
  if (column && *column) {
    snprintf(err->field, sizeof err->field, "%s", column);
    snprintf(err->message, sizeof err->message, "column %s: %s", column,
             message);
  } else {
    snprintf(err->message, sizeof err->message, "%s", message);
  }
}

/* The writer's: err joins the list, up to its end. */
static void report(importer *im, rc_error *err) {
  if (im->errors->count < MAX_ERRORS)
    rc_errlist_add(im->errors, err);
  else if (im->errors->count == MAX_ERRORS) {
    snprintf(err->message, sizeof err->message,
             "more than %d errors; stopping the report here", MAX_ERRORS);
    err->field[0] = '\0';
    rc_errlist_add(im->errors, err);
  }
}

static void row_error(importer *im, int64_t line, const char *column,
                      const char *message) {
  rc_error err;
  error_text(im, line, column, message, &err);
  report(im, &err);
}

/* The writer's: whether the file is known bad (rows are then only
 * checked). */
static int failing(const importer *im) {
  return im->errors->count > 0;
}

/* --- from the reader to the writer -------------------------------------- */

static void batch_clear(batch *b) {
  for (int i = 0; i < b->n; i++)
    if (b->items[i].kind == ITEM_CASE) case_input_free(&b->items[i].in);
  b->n = 0;
  b->nerrs = 0;
  b->bytes = 0;
}

static void consume(importer *im, batch *b);

/* The reader's batch being filled, once the writer is done with it. */
static batch *filling(importer *im) {
  return &im->q->slots[im->q->put];
}

/* Hands the batch being filled to the writer and waits for a free one:
 * 0 when the writer wants no more. */
static int hand_over(importer *im) {
  handoff *q = im->q;
  batch *b = filling(im);
  int go;
  if (!q->threaded) {
    consume(im, b);
    batch_clear(b);
    return !im->dropping;
  }
  pthread_mutex_lock(&q->mu);
  q->full++;
  pthread_cond_signal(&q->moved);
  q->put = (q->put + 1) % BATCHES;
  while (q->full == BATCHES && !q->cancel) pthread_cond_wait(&q->moved, &q->mu);
  go = !q->cancel;
  pthread_mutex_unlock(&q->mu);
  /* Free, or (cancelled) one the writer will only count off. */
  batch_clear(filling(im));
  return go;
}

/* A slot for the next item, handing the batch over when it is full. */
static item *next_item(importer *im) {
  batch *b = filling(im);
  if (b->n == BATCH_ROWS || (b->n > 0 && b->bytes >= BATCH_BYTES)) {
    if (!hand_over(im)) im->stop = 1;
    b = filling(im);
  }
  return &b->items[b->n++];
}

/* The reader's refusal: kind ITEM_REFUSED counts as a row. Its text
 * lost for want of memory, the writer still refuses the file. */
static void refuse(importer *im, int kind, int64_t line, const char *column,
                   const char *message) {
  item *it = next_item(im);
  batch *b = filling(im);
  it->kind = kind;
  it->line = line;
  it->err = -1;
  im->refused++;
  if (!b->errs && !(b->errs = malloc(BATCH_ROWS * sizeof *b->errs))) {
    im->stop = 1;
    return;
  }
  it->err = b->nerrs++;
  error_text(im, line, column, message, &b->errs[it->err]);
}

/* --- reading lines ------------------------------------------------------ */

static int reader_init(line_reader *r, FILE *f) {
  memset(r, 0, sizeof *r);
  r->f = f;
  r->buf = malloc(INPUT_LINE_MAX + READ_CHUNK);
  return r->buf ? RC_OK : RC_ENOMEM;
}

static void reader_fill(line_reader *r) {
  size_t n;
  if (r->eof) return;
  if (r->start > 0) {
    memmove(r->buf, r->buf + r->start, r->end - r->start);
    r->end -= r->start;
    r->start = 0;
  }
  n = fread(r->buf + r->end, 1, INPUT_LINE_MAX + READ_CHUNK - r->end, r->f);
  r->end += n;
  if (n == 0) r->eof = 1;
}

/* The next line, its newline included: 1 and *line, *len; 0 at the end;
 * -1 when no newline comes within INPUT_LINE_MAX bytes. */
static int reader_next(line_reader *r, const char **line, size_t *len) {
  for (;;) {
    char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
    size_t have;
    if (nl) {
      *line = r->buf + r->start;
      *len = (size_t)(nl - *line) + 1;
      if (*len > INPUT_LINE_MAX) return -1;
      r->start += *len;
      return 1;
    }
    have = r->end - r->start;
    if (have > INPUT_LINE_MAX) return -1;
    if (r->eof) {
      if (have == 0) return 0;
      *line = r->buf + r->start;
      *len = have;
      r->start = r->end;
      return 1;
    }
    reader_fill(r);
  }
}

/* The first byte that is not blank, without consuming it (-1: none). */
static int reader_peek(line_reader *r) {
  size_t i = r->start;
  for (;;) {
    while (i < r->end && isspace((unsigned char)r->buf[i])) i++;
    if (i < r->end) return (unsigned char)r->buf[i];
    if (r->eof || r->end - r->start > INPUT_LINE_MAX) return -1;
    i -= r->start;
    reader_fill(r);
    i += r->start;
  }
}

/* --- ids seen ----------------------------------------------------------- */

static uint64_t hash_id(const unsigned char *s, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 1099511628211ull;
  return h;
}

static int seen_grow(seen_ids *t) {
  size_t cap = t->cap ? t->cap * 2 : 1024;
  uint32_t *slots = bigmem_calloc(cap, 2 * sizeof *slots);
  if (!slots) return RC_ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    uint32_t off = t->slots[2 * i];
    size_t k;
    if (!off) continue;
    k = hash_id(t->arena + off, t->arena[off - 1]) & (cap - 1);
    while (slots[2 * k]) k = (k + 1) & (cap - 1);
    slots[2 * k] = off;
    slots[2 * k + 1] = t->slots[2 * i + 1];
  }
  free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return RC_OK;
}

/* id's hash, its slot asked into the cache: the table is probed at
 * random, and on a million rows nearly every probe missed every cache
 * (apply's one load of the slot was 250 of the reading thread's 2,100
 * perf samples). Asked before the row is parsed, it comes meanwhile. */
static uint64_t seen_ahead(const seen_ids *t, const char *id) {
  uint64_t h = hash_id((const unsigned char *)id, strlen(id));
  if (t->cap) __builtin_prefetch(t->slots + 2 * (h & (t->cap - 1)));
  return h;
}

/* Adds id (at line, its hash h from seen_ahead); returns the line it was
 * first seen on, 0 if new, -1 when memory ran out. */
static int64_t seen_add(seen_ids *t, const char *id, uint64_t h,
                        int64_t line) {
  size_t n = strlen(id), k;
  if (n == 0 || n > 255) return 0; /* refused as an id anyway */
  if ((t->count + 1) * 2 > t->cap && seen_grow(t) != RC_OK) return -1;
  for (k = h & (t->cap - 1); t->slots[2 * k]; k = (k + 1) & (t->cap - 1)) {
    uint32_t off = t->slots[2 * k];
    if (t->arena[off - 1] == n && memcmp(t->arena + off, id, n) == 0)
      return t->slots[2 * k + 1];
  }
  if (t->used + n + 1 > t->size) {
    size_t size = t->size ? t->size * 2 : 64 * 1024;
    unsigned char *arena;
    if (size > UINT32_MAX) return -1;
    arena = realloc(t->arena, size);
    if (!arena) return -1;
    t->arena = arena;
    t->size = size;
  }
  if (t->used == 0) t->used = 1; /* offset 0 means an empty slot */
  t->arena[t->used] = (unsigned char)n;
  memcpy(t->arena + t->used + 1, id, n);
  t->slots[2 * k] = (uint32_t)(t->used + 1);
  t->slots[2 * k + 1] = line > UINT32_MAX ? UINT32_MAX : (uint32_t)line;
  t->used += n + 1;
  t->count++;
  return 0;
}

/* Notes that the id at arena offset at opened a case. */
static int seen_opened(seen_ids *t, uint32_t at) {
  if (at == 0) return RC_EINTERNAL; /* a case opened has an id */
  if (t->nopened == t->opened_cap) {
    size_t cap = t->opened_cap ? t->opened_cap * 2 : 1024;
    uint32_t *grown = realloc(t->opened, cap * sizeof *grown);
    if (!grown) return RC_ENOMEM;
    t->opened = grown;
    t->opened_cap = cap;
  }
  t->opened[t->nopened++] = at;
  return RC_OK;
}

static void seen_free(seen_ids *t) {
  free(t->slots);
  free(t->arena);
  free(t->opened);
  memset(t, 0, sizeof *t);
}

/* --- rows --------------------------------------------------------------- */

/* A CSV row's other bad cells, after its first (first, refused already):
 * each named, ROW_ERRORS_MAX in all, so that a row is mended at once
 * rather than one cell an import. The row is read again without each
 * cell found bad (from a copy: the row's cells are used again by the
 * next record), an id it then lacks standing in as "x", until it reads,
 * or an error names no cell of the row, or one comes again. */
enum { ROW_ERRORS_MAX = 10 };

static void more_cell_errors(importer *im, json_t *obj, int64_t line,
                             const rc_error *first) {
  json_t *copy;
  rc_error err = *first;
  char bad[ROW_ERRORS_MAX][sizeof err.field];
  int nbad = 0;
  if (!err.field[0] || !json_object_get(obj, err.field) ||
      !(copy = json_copy(obj)))
    return;
  for (;;) {
    case_input in;
    int seen, rc, again;
    if (nbad < ROW_ERRORS_MAX)
      snprintf(bad[nbad++], sizeof bad[0], "%s", err.field);
    json_object_del(copy, err.field);
    do {
      rc_error_clear(&err);
      rc = engine_reading_parse(im->reading, copy, 1, &in, &err);
      case_input_free(&in);
      seen = again = 0;
      if (rc == RC_OK || rc == RC_ENOMEM || !err.field[0]) break;
      for (int i = 0; i < nbad && !seen; i++) seen = !strcmp(bad[i], err.field);
      /* A cell taken away that the row must have: a stand-in, once. */
      if (seen && !json_object_get(copy, err.field))
        again = json_object_set_new(copy, err.field, json_string("x")) == 0;
    } while (again);
    if (rc == RC_OK || rc == RC_ENOMEM || !err.field[0] || seen ||
        !json_object_get(copy, err.field) || nbad == ROW_ERRORS_MAX)
      break;
    refuse(im, ITEM_ERROR, line, err.field, err.message);
  }
  json_decref(copy);
}

/* One record, read: refused, or parsed for the writer. */
/* Whether a cell reads as a sheet's total row's label (合计, 总计, Total:),
 * blanks inside and a colon after dropped ("合  计："). */
static int total_label(const char *cell) {
  static const char *const words[] = {"合计", "总计", "小计", "共计", "汇总",
                                      "total", "sum", NULL};
  char folded[32];
  size_t n = 0;
  for (const unsigned char *c = (const unsigned char *)cell; *c;) {
    if (*c == ' ' || *c == '\t') {
      c++;
    } else if (c[0] == 0xE3 && c[1] == 0x80 && c[2] == 0x80) {
      c += 3; /* U+3000 */
    } else {
      if (n + 1 >= sizeof folded) return 0;
      folded[n++] = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
      c++;
    }
  }
  folded[n] = '\0';
  if (n && folded[n - 1] == ':') folded[--n] = '\0';
  else if (n >= 3 && strcmp(folded + n - 3, "\xEF\xBC\x9A") == 0)
    folded[n -= 3] = '\0'; /* U+FF1A, the full-width colon */
  for (int i = 0; words[i]; i++)
    if (strcmp(folded, words[i]) == 0) return 1;
  return 0;
}

/* The total row's label a refused CSV row holds, or NULL: "id is
 * required" or "borrower_id is required" on the last line of a sheet
 * did not say that the row is the sheet's sum, to delete. */
static const char *total_row(json_t *obj) {
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    if (json_is_string(v) && total_label(json_string_value(v)))
      return json_string_value(v);
  }
  return NULL;
}

static void apply(importer *im, json_t *obj, int text, int64_t line) {
  rc_error err;
  item *it;
  uint32_t id_at = 0;
  const char *id = json_string_value(json_object_get(obj, "id"));
  uint64_t h = id ? seen_ahead(&im->seen, id) : 0;
  int rc;
  rc_error_clear(&err);
  it = next_item(im);
  rc = engine_reading_parse(im->reading, obj, text, &it->in, &err);
  /* Its id is added whether its cells read or not, and a case given
   * twice is refused for that alone, as when the id was looked up before
   * the row was parsed. */
  if (id) {
    int64_t first = seen_add(&im->seen, id, h, line);
    if (first != 0) {
      case_input_free(&it->in);
      filling(im)->n--;
    }
    if (first < 0) {
      refuse(im, ITEM_REFUSED, line, NULL,
             "out of memory keeping the ids read");
      im->stop = 1;
      return;
    }
    if (first > 0) {
      char msg[300];
      snprintf(msg, sizeof msg,
               "case %.150s is also on line %lld: a file gives each case "
               "once",
               id, (long long)first);
      refuse(im, ITEM_REFUSED, line, "id", msg);
      return;
    }
    /* seen_add put a new id last (an empty or long one is refused). */
    id_at = (uint32_t)(im->seen.used - strlen(id));
  }
  if (rc != RC_OK) {
    case_input_free(&it->in);
    filling(im)->n--;
    {
      const char *label = text ? total_row(obj) : NULL;
      char msg[sizeof err.message + 200];
      if (label)
        snprintf(msg, sizeof msg,
                 "%s (this row reads as the sheet's total row, '%.40s': "
                 "delete it before saving)",
                 err.message, label);
      refuse(im, ITEM_REFUSED, line, err.field, label ? msg : err.message);
    }
    if (text && err.code != RC_ENOMEM) more_cell_errors(im, obj, line, &err);
    return;
  }
  it->kind = ITEM_CASE;
  it->line = line;
  it->id_at = id_at;
  if (it->in.contact_key[0] && im->stats->contact_rows++ == 0) {
    im->stats->contact_line = line;
    rc_copy(im->stats->contact_key, sizeof im->stats->contact_key,
            it->in.contact_key);
  }
}

/* The writer's: a row written, or only counted once the file is known
 * bad (the reader checked it). */
static void write_row(importer *im, item *it) {
  rc_error err;
  int created = 0;
  im->stats->rows++;
  if (!failing(im)) {
    rc_error_clear(&err);
    if (engine_import_input(im->eng, &it->in, &created, &err) != RC_OK) {
      row_error(im, it->line, err.field, err.message);
    } else if (created) {
      im->stats->opened++;
      if (seen_opened(&im->seen, it->id_at) != RC_OK) {
        row_error(im, it->line, NULL, "out of memory keeping the ids read");
        im->dropping = 1;
        return;
      }
    } else {
      im->stats->updated++;
    }
  }
  if (im->progress && im->stats->rows % 50000 == 0)
    fprintf(stderr, "\rimport: %lld rows", (long long)im->stats->rows);
}

/* Rows a batch's writer looks ahead (engine_import_ahead): what the store
 * probes at random for a row is asked into the cache while the rows
 * before it are written. */
enum { AHEAD_ROWS = 4 };

static void ahead(importer *im, batch *b, int i) {
  if (i < b->n && b->items[i].kind == ITEM_CASE && !failing(im))
    engine_import_ahead(im->eng, &b->items[i].in);
}

static void consume(importer *im, batch *b) {
  for (int i = 0; i < AHEAD_ROWS; i++) ahead(im, b, i);
  for (int i = 0; i < b->n && !im->dropping; i++) {
    item *it = &b->items[i];
    ahead(im, b, i + AHEAD_ROWS);
    if (it->kind == ITEM_CASE) {
      write_row(im, it);
      continue;
    }
    if (it->kind == ITEM_REFUSED) im->stats->rows++;
    if (it->err >= 0)
      report(im, &b->errs[it->err]);
    else
      row_error(im, it->line, NULL, "out of memory reading the file");
  }
  /* A full report: the rest of the file would change nothing. */
  if (im->errors->count > MAX_ERRORS) im->dropping = 1;
}

/* The reader's: whether it refused anything (or the list held errors
 * already): in the header, the writer has none of its own. */
static int reader_failing(const importer *im) {
  return im->failed_before || im->refused > 0;
}

/* The line's bytes are UTF-8 without NUL, or the line is reported with
 * the column (in characters) of the first bad byte and, when known, the
 * CSV column it is in. */
static int clean_line(importer *im, const char *line, size_t len) {
  input_pos bad;
  int kind = input_text_check(line, len, &bad);
  char msg[400], where[80] = "";
  if (kind == INPUT_TEXT_OK) return 1;
  if (im->header[0] && !im->in_header && !im->in_record) {
    /* The cell it is in, counting separators outside quotes. */
    int cell = 0, quoted = 0;
    for (size_t i = 0; i < bad.offset; i++) {
      if (line[i] == '"') quoted = !quoted;
      if (line[i] == ',' && !quoted) cell++;
    }
    if (cell < im->ncolumns)
      snprintf(where, sizeof where, " (in column %.60s)", im->header[cell]);
  }
  if (kind == INPUT_TEXT_NUL)
    snprintf(msg, sizeof msg,
             "column %d%s: a NUL byte; text must be UTF-8 without NUL",
             bad.column, where);
  else
    snprintf(msg, sizeof msg,
             "column %d%s: not UTF-8 (byte 0x%02X); the file must be UTF-8 "
             "(convert a GBK or GB18030 export with iconv -f GB18030 -t "
             "UTF-8)",
             bad.column, where, bad.byte);
  refuse(im, ITEM_ERROR, im->line, NULL, msg);
  return 0;
}

static void too_long(importer *im, int64_t line, const char *what) {
  char msg[200];
  snprintf(msg, sizeof msg,
           "%s is longer than %d bytes (the limit of a line; lines end in LF "
           "or CRLF)",
           what, INPUT_LINE_MAX);
  refuse(im, ITEM_ERROR, line, NULL, msg);
  im->stop = 1;
}

/* --- CSV ---------------------------------------------------------------- */

/* Column i's value becomes a new string (two columns of one name share
 * it, the later one's text winning, as in an object). */
static void row_cell(importer *im, int i, const char *text, size_t len) {
  json_t *v = json_stringn_nocheck(text, len);
  if (!v) return;
  json_object_set_new(im->row, im->header[i], v);
  for (int k = 0; k < im->ncolumns; k++)
    if (k == i || strcmp(im->header[k], im->header[i]) == 0) im->cells[k] = v;
}

/* A column name without the spaces libcsv leaves around it: U+00A0
 * (spreadsheets write it) and U+3000 (a Chinese input method's), with
 * any blanks between them. libcsv drops ' ' and tab only, so
 * 'balance' U+3000 was a column of its own: its cells went to case.data
 * and the refusal named "'balance　' (did you mean balance?)", a name
 * that looks the same as the one asked for. */
static int csv_blank(char c);

static void header_trim(char *name) {
  size_t len = strlen(name), from = 0;
  for (;;) {
    if (len > from && csv_blank(name[len - 1]))
      len--;
    else if (len - from >= 2 && !memcmp(name + len - 2, "\xC2\xA0", 2))
      len -= 2;
    else if (len - from >= 3 && !memcmp(name + len - 3, "\xE3\x80\x80", 3))
      len -= 3;
    else
      break;
  }
  for (;;) {
    if (from < len && csv_blank(name[from]))
      from++;
    else if (len - from >= 2 && !memcmp(name + from, "\xC2\xA0", 2))
      from += 2;
    else if (len - from >= 3 && !memcmp(name + from, "\xE3\x80\x80", 3))
      from += 3;
    else
      break;
  }
  memmove(name, name + from, len - from);
  name[len - from] = '\0';
}

static void csv_field(void *data, size_t len, void *ud) {
  importer *im = ud;
  if (im->in_header) {
    if (im->field < MAX_COLUMNS) {
      char *name = malloc(len + 1);
      memcpy(name, data ? data : "", len);
      name[len] = '\0';
      /* Trim spaces and a UTF-8 byte-order mark spreadsheets add. */
      if (im->field == 0 && len >= 3 && memcmp(name, "\xEF\xBB\xBF", 3) == 0)
        memmove(name, name + 3, len - 2);
      header_trim(name);
      im->header[im->field] = name;
    }
  } else if (im->field < im->ncolumns) {
    json_t *cell = im->cells[im->field];
    /* The same text as the record before (a branch, a currency, a fee
     * the whole file gives alike) keeps its string: setting it again
     * was a copy made and one freed, and a custom field the writer
     * still held (case.data) a new string put into the row as well,
     * some 1k instructions a row on the bench's book. The string is
     * only read meanwhile, on either thread. */
    if (cell && json_string_length(cell) == len &&
        (len == 0 || memcmp(json_string_value(cell), data, len) == 0)) {
      im->field++;
      return;
    }
    /* The line was checked for UTF-8 (clean_line), and a cell's bytes
     * are whole characters of it. A row the writer holds may hold the
     * cell (case.data): its count changes on that thread meanwhile. */
    if (cell && __atomic_load_n(&cell->refcount, __ATOMIC_ACQUIRE) == 1)
      json_string_setn_nocheck(cell, data ? data : "", len);
    else /* the last record's value is still held: keep it as it was */
      row_cell(im, im->field, data ? data : "", len);
  }
  im->field++;
}

/* A column a spreadsheet names as a person would (Phone, Borrower Name,
 * EMAIL, do-not-contact, ID, Borrower_ID): the same letters as one of
 * recoup's columns in another case, with spaces or dashes for its
 * underscores, or typed in the full-width forms of a Chinese input
 * method (ｐｈｏｎｅ looks like phone on a screen). Kept as written an
 * optional one went to case.data without a word: a whole book imported
 * with no phone to send a reminder to; a required one refused every row
 * ("borrower_id is required") without naming the column meant. The
 * money and date columns a new case needs are named by the row's own
 * refusal instead (engine.c near_miss), and a name that only resembles
 * one is the lender's own. */
static const char *column_written_otherwise(const char *name) {
  static const char *const optional[] = {
      "borrower_name", "phone",          "email",    "address",
      "employer_name", "employer_phone", "employer_address",
      "area",          "locale",         "timezone", "product",
      "currency",      "principal",      "fees",     "score",
      "tags",          "do_not_contact", NULL};
  static const char *const required[] = {"id", "borrower_id", NULL};
  char folded[32];
  size_t n = 0;
  for (const unsigned char *a = (const unsigned char *)name; *a; n++) {
    unsigned c = *a++;
    /* U+FF01..FF5E, the full-width forms of '!'..'~'; U+3000, the
     * full-width space. */
    if (c == 0xEF && (a[0] == 0xBC || a[0] == 0xBD) && a[1] >= 0x80 &&
        a[1] <= 0xBF) {
      c = 0xFF00 + ((a[0] & 0x03u) << 6 | (a[1] & 0x3Fu)) - 0xFEE0;
      if (c < '!' || c > '~') return NULL;
      a += 2;
    } else if (c == 0xE3 && a[0] == 0x80 && a[1] == 0x80) {
      c = ' ';
      a += 2;
    }
    if (n + 1 >= sizeof folded) return NULL;
    folded[n] = c >= 'A' && c <= 'Z'   ? (char)(c - 'A' + 'a')
                : c == ' ' || c == '-' ? '_'
                                       : (char)c;
  }
  folded[n] = '\0';
  for (int k = 0; k < 2; k++)
    for (const char *const *c = k ? required : optional; *c; c++)
      if (strcmp(folded, *c) == 0) return strcmp(name, *c) ? *c : NULL;
  return NULL;
}

static void csv_row(int c, void *ud) {
  importer *im = ud;
  (void)c;
  im->in_record = 0;
  im->record_size = 0;
  if (im->record_bad) {
    im->record_bad = 0;
  } else if (im->in_header) {
    im->in_header = 0;
    im->ncolumns = im->field < MAX_COLUMNS ? im->field : MAX_COLUMNS;
    if (im->field > MAX_COLUMNS)
      refuse(im, ITEM_ERROR, im->row_line, NULL, "more than 256 columns");
    for (int i = 0; i < im->ncolumns; i++) {
      if (!im->header[i][0])
        refuse(im, ITEM_ERROR, im->row_line, NULL,
               "the header has an empty column name");
      for (int j = 0; j < i; j++)
        if (strcmp(im->header[i], im->header[j]) == 0)
          refuse(im, ITEM_ERROR, im->row_line, im->header[i],
                 "the header names this column twice");
    }
    for (int i = 0; i < im->ncolumns; i++) {
      const char *meant = column_written_otherwise(im->header[i]);
      char msg[320], shown[64];
      if (!meant) continue;
      rc_printable_line(shown, sizeof shown, im->header[i]);
      if (strcmp(meant, "id") == 0 || strcmp(meant, "borrower_id") == 0)
        snprintf(msg, sizeof msg,
                 "column '%s' is recoup's %s written otherwise: name it %s "
                 "(as written, its cells are not read as %s)",
                 shown, meant, meant, meant);
      else
        snprintf(msg, sizeof msg,
                 "column '%s' is recoup's %s written otherwise: name it %s "
                 "(as written, its cells would be kept in case.data and "
                 "never read as %s)",
                 shown, meant, meant, meant);
      refuse(im, ITEM_ERROR, im->row_line, NULL, msg);
      im->stop = 1;
    }
    {
      int has_id = 0;
      /* An id column named otherwise was named above, with its name. */
      for (int i = 0; i < im->ncolumns; i++) {
        const char *meant = column_written_otherwise(im->header[i]);
        has_id |= strcmp(im->header[i], "id") == 0 ||
                  (meant && strcmp(meant, "id") == 0);
      }
      if (!has_id) {
        /* A sheet's own names (贷款编号, 客户姓名, 余额) are the usual
         * cause: name them, and what they should be. Every row after
         * would only add "id is required", so the file is read no
         * further. */
        char msg[400];
        size_t at = (size_t)snprintf(
            msg, sizeof msg,
            "the header has no 'id' column (is the first row a header?); "
            "its columns are");
        for (int i = 0; i < im->ncolumns && i < 6 && at < 200; i++) {
          const char *name = im->header[i];
          int len = (int)strlen(name);
          if (len > 40) /* cut between characters */
            for (len = 40; len > 0 && (name[len] & 0xC0) == 0x80; len--)
              ;
          at += (size_t)snprintf(msg + at, sizeof msg - at, "%s %.*s",
                                 i ? "," : "", len, name);
        }
        snprintf(msg + at, sizeof msg - at,
                 "%s: rename them to recoup's (id, borrower_id, "
                 "borrower_name, phone, balance, amount_due, due_date, ...: "
                 "docs/import.md)",
                 im->ncolumns > 6 ? ", ..." : "");
        refuse(im, ITEM_ERROR, im->row_line, NULL, msg);
        im->stop = 1;
      }
    }
    for (int i = 0; i < im->ncolumns; i++)
      if (!im->cells[i]) row_cell(im, i, "", 0);
  } else if (im->field == 1 && im->ncolumns > 0 &&
             json_string_length(im->cells[0]) == 0) {
    /* A blank line. */
  } else if (im->field != im->ncolumns) {
    char msg[128];
    snprintf(msg, sizeof msg, "%d fields, but the header has %d", im->field,
             im->ncolumns);
    refuse(im, ITEM_ERROR, im->row_line, NULL, msg);
  } else {
    apply(im, im->row, 1, im->row_line);
  }
  im->field = 0;
}

/* libcsv's blanks: dropped around an unquoted field. */
static int csv_blank(char c) {
  return c == ' ' || c == '\t';
}

/* A record that is one line, with no quote and no CR but its CRLF, and
 * that does not start blank (libcsv reads a blank start and a newline
 * as no record at all): its fields and its end handed to csv_field and
 * csv_row as libcsv would, without its byte-by-byte state machine (about
 * 3,000 instructions a 9-column row, 3 % of an import). 0: the line is
 * left to libcsv. */
static int csv_plain(importer *im, const char *line, size_t n) {
  size_t end = n, at = 0;
  if (im->in_header || im->in_record || im->record_bad || end == 0 ||
      line[end - 1] != '\n')
    return 0;
  end--;
  if (end > 0 && line[end - 1] == '\r') end--;
  if (end == 0 || csv_blank(line[0]) || memchr(line, '"', end) ||
      memchr(line, '\r', end))
    return 0;
  im->in_record = 1;
  for (;;) {
    const char *comma = memchr(line + at, ',', end - at);
    size_t stop = comma ? (size_t)(comma - line) : end, from = at;
    while (from < stop && csv_blank(line[from])) from++;
    while (stop > from && csv_blank(line[stop - 1])) stop--;
    csv_field((void *)(line + from), stop - from, im);
    if (!comma) break;
    at = (size_t)(comma - line) + 1;
  }
  csv_row('\n', im);
  return 1;
}

static void import_csv(importer *im, line_reader *r) {
  struct csv_parser p;
  const char *line;
  size_t n;
  int got;
  csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
  im->row = json_object();
  im->in_header = 1;
  while (!im->stop && (got = reader_next(r, &line, &n)) != 0) {
    im->line++;
    if (got < 0) {
      too_long(im, im->line, "the line");
      break;
    }
    filling(im)->bytes += n;
    if (!im->in_record) {
      size_t k = 0;
      while (k < n &&
             (line[k] == '\r' || line[k] == '\n' || csv_blank(line[k]) ||
              line[k] == ','))
        k++;
      /* A blank line: libcsv reads no record there either, but left the
       * next record's errors naming it. A row of empty cells (",,,,") is
       * one too: Excel and WPS save the formatted rows below a sheet's
       * data so, and each was refused "id is required" where it holds
       * nothing to import; above its header (a sheet whose first row is
       * left empty) it was taken for the header, a refusal for each
       * empty name and each pair of them ("names this column twice"). */
      if (k == n) continue;
      im->row_line = im->line;
    }
    /* A refused record is still parsed, so that the next ones keep their
     * fields; its cells are checked no further. */
    if (!clean_line(im, line, n)) {
      if (im->in_header) break; /* without a header no row can be read */
      im->record_bad = 1;
    }
    if (csv_plain(im, line, n)) continue;
    im->in_record = 1;
    im->record_size += n;
    if (im->record_size > INPUT_LINE_MAX) {
      char what[80];
      snprintf(what, sizeof what,
               "the record from line %lld (a quote left "
               "open?)",
               (long long)im->row_line);
      too_long(im, im->row_line, what);
      break;
    }
    if (csv_parse(&p, line, n, csv_field, csv_row, im) != n) {
      refuse(im, ITEM_ERROR, im->line, NULL, csv_strerror(csv_error(&p)));
      break;
    }
  }
  if (!im->stop && !(im->in_header && reader_failing(im))) {
    /* The quote was opened in the record's first line, not on the last
     * line of the file (often a blank one), where the reader would look. */
    if (csv_fini(&p, csv_field, csv_row, im) != 0)
      refuse(im, ITEM_ERROR, im->row_line, NULL,
             "a quote opened in this record is never closed: the file ends "
             "inside it");
  }
  if (im->in_header && !reader_failing(im))
    refuse(im, ITEM_ERROR, 1, NULL, "the file is empty");
  csv_free(&p);
  json_decref(im->row);
  for (int i = 0; i < MAX_COLUMNS && im->header[i]; i++) free(im->header[i]);
}

/* --- NDJSON ------------------------------------------------------------- */

static void import_ndjson(importer *im, line_reader *r) {
  const char *line;
  size_t n;
  int got;
  while (!im->stop && (got = reader_next(r, &line, &n)) != 0) {
    rc_error err;
    json_t *obj;
    size_t i = 0;
    im->line++;
    if (got < 0) {
      too_long(im, im->line, "the line");
      break;
    }
    filling(im)->bytes += n;
    while (i < n && isspace((unsigned char)line[i])) i++;
    if (i == n) continue; /* blank lines are allowed */
    if (!clean_line(im, line, n)) continue;
    switch (input_json_load(line, n, 1, &obj, &err)) {
      case INPUT_JSON_OK:
        if (!json_is_object(obj))
          refuse(im, ITEM_ERROR, im->line, NULL,
                 "each line must be one JSON object, on its own line");
        else
          apply(im, obj, 0, im->line);
        json_decref(obj);
        break;
      case INPUT_JSON_SYNTAX: {
        /* jansson's "end of file expected" is a second value or garbage
         * after the first: say it in words. */
        char msg[sizeof err.message + 64];
        const char *m = err.message;
        /* "bad JSON at line 1 column 9: ..." -> "column 9: ..." */
        if (strncmp(m, "bad JSON at line ", 17) == 0 && strstr(m, "column "))
          m = strstr(m, "column ");
        if (strstr(m, "end of file expected"))
          snprintf(msg, sizeof msg,
                   "not JSON: %s (each line must be exactly one object)", m);
        else
          snprintf(msg, sizeof msg, "not JSON: %s", m);
        refuse(im, ITEM_ERROR, im->line, err.field, msg);
        break;
      }
      default:
        refuse(im, ITEM_ERROR, im->line, err.field, err.message);
    }
  }
}

/* Every case the file opened runs its `opened` handlers, in file order,
 * once all rows are in (as the queued events did after the load): a
 * handler sees the borrowers as the whole file left them. */
static int run_opened(importer *im, rc_error *err) {
  const seen_ids *t = &im->seen;
  char(*ids)[256] = malloc(OPENED_BATCH * sizeof *ids);
  const char *list[OPENED_BATCH];
  int rc = RC_OK;
  if (!ids) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  for (size_t i = 0; i < t->nopened && rc == RC_OK; i += OPENED_BATCH) {
    int n = 0;
    for (size_t k = i; k < t->nopened && n < OPENED_BATCH; k++, n++) {
      const unsigned char *id = t->arena + t->opened[k];
      memcpy(ids[n], id, id[-1]);
      ids[n][id[-1]] = '\0';
      list[n] = ids[n];
    }
    rc = engine_import_opened(im->eng, list, n, err);
    if (rc == RC_OK) im->stats->handled += n;
    if (im->progress)
      fprintf(stderr, "\rimport: %lld handlers", (long long)im->stats->handled);
  }
  free(ids);
  return rc;
}

/* The reader: the file to its end (or to a refusal that stops it), its
 * last batch handed over. */
static void read_rows(importer *im) {
  handoff *q = im->q;
  batch *b;
  if (im->format == IMPORT_NDJSON)
    import_ndjson(im, im->r);
  else
    import_csv(im, im->r);
  if (ferror(im->f)) refuse(im, ITEM_ERROR, im->line, NULL, "read error");
  b = filling(im);
  if (!q->threaded) {
    consume(im, b);
    batch_clear(b);
    return;
  }
  pthread_mutex_lock(&q->mu);
  if (b->n > 0 && !q->cancel) {
    q->full++;
    q->put = (q->put + 1) % BATCHES;
  }
  q->done = 1;
  pthread_cond_signal(&q->moved);
  pthread_mutex_unlock(&q->mu);
}

static void *reader_main(void *arg) {
  read_rows(arg);
  return NULL;
}

/* The writer: every batch, in order, until the reader is done; once it
 * wants no more rows, the reader is told so and what comes is dropped. */
static void write_rows(importer *im) {
  handoff *q = im->q;
  for (;;) {
    pthread_mutex_lock(&q->mu);
    while (q->full == 0 && !q->done) pthread_cond_wait(&q->moved, &q->mu);
    if (q->full == 0) {
      pthread_mutex_unlock(&q->mu);
      return;
    }
    pthread_mutex_unlock(&q->mu);
    if (!im->dropping) consume(im, &q->slots[q->take]);
    pthread_mutex_lock(&q->mu);
    q->full--;
    if (im->dropping) q->cancel = 1;
    pthread_cond_signal(&q->moved);
    pthread_mutex_unlock(&q->mu);
    q->take = (q->take + 1) % BATCHES;
  }
}

/* Reads the file on a thread while this one writes (on this one alone
 * when no thread can start). */
static void read_and_write(importer *im) {
  handoff *q = im->q;
  pthread_t reader;
  q->threaded = pthread_mutex_init(&q->mu, NULL) == 0;
  if (q->threaded && pthread_cond_init(&q->moved, NULL) != 0) {
    pthread_mutex_destroy(&q->mu);
    q->threaded = 0;
  }
  if (q->threaded && pthread_create(&reader, NULL, reader_main, im) != 0) {
    pthread_cond_destroy(&q->moved);
    pthread_mutex_destroy(&q->mu);
    q->threaded = 0;
  }
  if (!q->threaded) {
    read_rows(im);
  } else {
    write_rows(im);
    pthread_join(reader, NULL);
    pthread_cond_destroy(&q->moved);
    pthread_mutex_destroy(&q->mu);
  }
  for (int i = 0; i < BATCHES; i++) {
    batch_clear(&q->slots[i]);
    free(q->slots[i].errs);
  }
}

static int import_once(engine *eng, FILE *f, const char *name, int format,
                       import_stats *stats, rc_errlist *errors, int progress) {
  importer im;
  line_reader r;
  rc_error err;
  handoff *q;
  int before = errors->count;
  memset(&im, 0, sizeof im);
  memset(stats, 0, sizeof *stats);
  im.eng = eng;
  im.name = name;
  im.stats = stats;
  im.errors = errors;
  im.progress = progress;
  im.f = f;
  im.r = &r;
  im.failed_before = errors->count > 0;
  if (!(q = calloc(1, sizeof *q)) || reader_init(&r, f) != RC_OK) {
    free(q);
    rc_error_set(&err, RC_ENOMEM, NULL, "out of memory");
    rc_errlist_add(errors, &err);
    return RC_ENOMEM;
  }
  im.q = q;
  if (!(im.reading = engine_reading_new(eng, &err))) {
    free(r.buf);
    free(q);
    rc_errlist_add(errors, &err);
    return err.code;
  }
  reader_fill(&r);
  if (r.end >= 3 && memcmp(r.buf, "\xEF\xBB\xBF", 3) == 0)
    r.start = 3; /* the byte-order mark some editors write */
  if (format == IMPORT_AUTO)
    format = reader_peek(&r) == '{' ? IMPORT_NDJSON : IMPORT_CSV;
  im.format = format;
  if (engine_import_begin(eng, &err) != RC_OK) {
    engine_reading_free(im.reading);
    free(r.buf);
    free(q);
    rc_errlist_add(errors, &err);
    return err.code;
  }
  read_and_write(&im);
  engine_reading_free(im.reading);
  free(q);
  if (progress) fprintf(stderr, "\r");
  free(r.buf);
  if (errors->count > before) {
    seen_free(&im.seen);
    engine_rollback(eng);
    stats->opened = stats->updated = 0;
    return RC_EINVAL;
  }
  if (run_opened(&im, &err) != RC_OK) {
    seen_free(&im.seen);
    engine_rollback(eng);
    stats->opened = stats->updated = stats->handled = 0;
    rc_errlist_add(errors, &err);
    return err.code;
  }
  seen_free(&im.seen);
  if (progress) fprintf(stderr, "\r");
  if (engine_commit(eng, &err) != RC_OK) {
    rc_errlist_add(errors, &err);
    return err.code;
  }
  return RC_OK;
}

/* The database ended the import's transaction to break a deadlock with
 * another writer (PostgreSQL: a node's batch that locked a case before
 * its borrower, where an import locks the borrower first): nothing of it
 * was kept, and the file is read again from where it started. A stream
 * that cannot be read again (a pipe) fails as it did. */
int import_stream(engine *eng, FILE *f, const char *name, int format,
                  import_stats *stats, rc_errlist *errors, int progress) {
  long start = ftell(f);
  int before = errors->count, rc;
  for (int tries = 1;; tries++) {
    rc = import_once(eng, f, name, format, stats, errors, progress);
    if (rc == RC_OK || !engine_contended(eng) || tries >= IMPORT_TRIES ||
        start < 0 || fseek(f, start, SEEK_SET) != 0)
      return rc;
    /* The attempt's errors are forgotten; a caller frees the list only
     * when the import failed, so one that was empty is left empty. */
    if (before == 0)
      rc_errlist_free(errors);
    else
      errors->count = before;
    clearerr(f);
    if (progress)
      fprintf(stderr, "import: another writer's deadlock: reading %s again\n",
              name);
  }
}

void import_contact_warning(const import_stats *stats, char *buf,
                            size_t size) {
  char key[sizeof stats->contact_key * 2];
  *buf = '\0';
  if (stats->contact_rows == 0) return;
  rc_printable_line(key, sizeof key, stats->contact_key);
  snprintf(buf, size,
           "%lld row%s kept a key that reads as a contact column in "
           "case.data (first: line %lld, '%s'): recoup never sends to it. "
           "Give a borrower's number as phone (an email as email), or put "
           "the key under data to keep it there on purpose "
           "(docs/import.md)",
           (long long)stats->contact_rows,
           stats->contact_rows == 1 ? "" : "s",
           (long long)stats->contact_line, key);
}

int import_file(engine *eng, const char *path, import_stats *stats,
                rc_errlist *errors, int progress) {
  FILE *f = fopen(path, "rb");
  int format = IMPORT_AUTO, rc;
  size_t n = strlen(path);
  struct stat sb;
  /* fopen opens a folder for reading; its read fails later as "the file
   * is empty" and "read error", which names nothing a lender did. */
  if (f && fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(f);
    f = NULL;
    errno = EISDIR;
  }
  if (!f) {
    rc_error err;
    rc_error_set(&err, RC_EIO, NULL, "cannot open %s: %s", path,
                 strerror(errno));
    rc_errlist_add(errors, &err);
    return RC_EIO;
  }
  if (n > 4 && strcmp(path + n - 4, ".csv") == 0)
    format = IMPORT_CSV;
  else if ((n > 7 && strcmp(path + n - 7, ".ndjson") == 0) ||
           (n > 6 && strcmp(path + n - 6, ".jsonl") == 0))
    format = IMPORT_NDJSON;
  rc = import_stream(eng, f, path, format, stats, errors, progress);
  fclose(f);
  return rc;
}
