/* Portfolio import, CSV (RFC 4180 through libcsv) or NDJSON, streamed line
 * by line so a million-row file needs no more memory than one row. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>
#include <jansson.h>

#include "import.h"

enum { MAX_ERRORS = 50, MAX_COLUMNS = 256 };

typedef struct importer {
  engine *eng;
  const char *name;
  import_stats *stats;
  rc_errlist *errors;
  int progress;
  int64_t line;     /* line being read */
  int64_t row_line; /* line where the current record started */
  /* CSV */
  char *header[MAX_COLUMNS]; /* owned */
  int ncolumns;
  json_t *row; /* owned: the record being built */
  int field;   /* index of the next field */
  int in_header;
} importer;

static void row_error(importer *im, int64_t line, const char *column,
                      const char *message) {
  rc_error err;
  rc_error_clear(&err);
  err.code = RC_EINVAL;
  snprintf(err.file, sizeof err.file, "%s", im->name);
  err.line = (int)line;
  if (column && *column) {
    snprintf(err.field, sizeof err.field, "%s", column);
    snprintf(err.message, sizeof err.message, "column %s: %s", column, message);
  } else {
    snprintf(err.message, sizeof err.message, "%s", message);
  }
  if (im->errors->count < MAX_ERRORS)
    rc_errlist_add(im->errors, &err);
  else if (im->errors->count == MAX_ERRORS) {
    snprintf(err.message, sizeof err.message,
             "more than %d bad rows; stopping the report here", MAX_ERRORS);
    err.field[0] = '\0';
    rc_errlist_add(im->errors, &err);
  }
}

static int failing(const importer *im) {
  return im->errors->count > 0;
}

/* One record: write it, or only check it once the file is known bad. */
static void apply(importer *im, json_t *obj, int text, int64_t line) {
  rc_error err;
  int created = 0, rc;
  rc_error_clear(&err);
  im->stats->rows++;
  if (failing(im))
    rc = engine_check_case(im->eng, obj, text, &err);
  else
    rc = engine_upsert_case(im->eng, obj, text, &created, &err);
  if (rc != RC_OK) {
    row_error(im, line, err.field, err.message);
  } else if (!failing(im)) {
    if (created)
      im->stats->opened++;
    else
      im->stats->updated++;
  }
  if (im->progress && im->stats->rows % 50000 == 0)
    fprintf(stderr, "\rimport: %lld rows", (long long)im->stats->rows);
}

static void csv_field(void *data, size_t len, void *ud) {
  importer *im = ud;
  if (im->field == 0) im->row_line = im->line;
  if (im->in_header) {
    if (im->field < MAX_COLUMNS) {
      char *name = malloc(len + 1);
      memcpy(name, data ? data : "", len);
      name[len] = '\0';
      /* Trim spaces and a UTF-8 byte-order mark spreadsheets add. */
      if (im->field == 0 && len >= 3 && memcmp(name, "\xEF\xBB\xBF", 3) == 0)
        memmove(name, name + 3, len - 2);
      im->header[im->field] = name;
    }
  } else if (im->field < im->ncolumns) {
    json_object_set_new(im->row, im->header[im->field],
                        json_stringn(data ? data : "", len));
  }
  im->field++;
}

static void csv_row(int c, void *ud) {
  importer *im = ud;
  (void)c;
  if (im->in_header) {
    im->in_header = 0;
    im->ncolumns = im->field < MAX_COLUMNS ? im->field : MAX_COLUMNS;
    if (im->field > MAX_COLUMNS)
      row_error(im, im->row_line, NULL, "more than 256 columns");
    for (int i = 0; i < im->ncolumns; i++) {
      if (!im->header[i][0])
        row_error(im, im->row_line, NULL,
                  "the header has an empty column name");
      for (int j = 0; j < i; j++)
        if (strcmp(im->header[i], im->header[j]) == 0)
          row_error(im, im->row_line, im->header[i],
                    "the header names this column twice");
    }
    {
      int has_id = 0;
      for (int i = 0; i < im->ncolumns; i++)
        has_id |= strcmp(im->header[i], "id") == 0;
      if (!has_id)
        row_error(im, im->row_line, NULL,
                  "the header has no 'id' column (is the first row a header?)");
    }
  } else if (im->field == 1 && json_object_size(im->row) == 1 &&
             json_string_length(json_object_get(im->row, im->header[0])) == 0) {
    /* A blank line. */
  } else if (im->field != im->ncolumns) {
    char msg[128];
    snprintf(msg, sizeof msg, "%d fields, but the header has %d", im->field,
             im->ncolumns);
    row_error(im, im->row_line, NULL, msg);
  } else {
    apply(im, im->row, 1, im->row_line);
  }
  json_object_clear(im->row);
  im->field = 0;
}

static void import_csv(importer *im, FILE *f) {
  struct csv_parser p;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  csv_init(&p, CSV_STRICT | CSV_STRICT_FINI);
  im->row = json_object();
  im->in_header = 1;
  while ((n = getline(&line, &cap, f)) > 0) {
    im->line++;
    if (csv_parse(&p, line, (size_t)n, csv_field, csv_row, im) != (size_t)n) {
      row_error(im, im->line, NULL, csv_strerror(csv_error(&p)));
      break;
    }
  }
  if (!failing(im) || im->line > 0) {
    if (csv_fini(&p, csv_field, csv_row, im) != 0)
      row_error(im, im->line, NULL, "the file ends inside a quoted field");
  }
  if (im->in_header) row_error(im, 1, NULL, "the file is empty");
  csv_free(&p);
  free(line);
  json_decref(im->row);
  for (int i = 0; i < MAX_COLUMNS && im->header[i]; i++) free(im->header[i]);
}

static void import_ndjson(importer *im, FILE *f) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    json_error_t jerr;
    json_t *obj;
    const char *p = line;
    im->line++;
    while (*p && isspace((unsigned char)*p)) p++;
    if (!*p) continue;
    obj = json_loadb(line, (size_t)n, JSON_DISABLE_EOF_CHECK, &jerr);
    if (!obj) {
      char msg[300];
      snprintf(msg, sizeof msg, "not JSON: %s (column %d)", jerr.text,
               jerr.column);
      row_error(im, im->line, NULL, msg);
      continue;
    }
    if (!json_is_object(obj)) {
      row_error(im, im->line, NULL, "each line must be one JSON object");
    } else {
      apply(im, obj, 0, im->line);
    }
    json_decref(obj);
  }
  free(line);
}

int import_stream(engine *eng, FILE *f, const char *name, int format,
                  import_stats *stats, rc_errlist *errors, int progress) {
  importer im;
  rc_error err;
  int before = errors->count;
  memset(&im, 0, sizeof im);
  memset(stats, 0, sizeof *stats);
  im.eng = eng;
  im.name = name;
  im.stats = stats;
  im.errors = errors;
  im.progress = progress;
  if (format == IMPORT_AUTO) {
    int c;
    while ((c = fgetc(f)) != EOF && isspace(c)) {
    }
    format = c == '{' ? IMPORT_NDJSON : IMPORT_CSV;
    if (c != EOF) ungetc(c, f);
  }
  if (engine_begin(eng, &err) != RC_OK) {
    rc_errlist_add(errors, &err);
    return err.code;
  }
  if (format == IMPORT_NDJSON)
    import_ndjson(&im, f);
  else
    import_csv(&im, f);
  if (ferror(f)) row_error(&im, im.line, NULL, "read error");
  if (progress) fprintf(stderr, "\r");
  if (errors->count > before) {
    engine_rollback(eng);
    stats->opened = stats->updated = 0;
    return RC_EINVAL;
  }
  if (engine_commit(eng, &err) != RC_OK) {
    rc_errlist_add(errors, &err);
    return err.code;
  }
  return RC_OK;
}

int import_file(engine *eng, const char *path, import_stats *stats,
                rc_errlist *errors, int progress) {
  FILE *f = fopen(path, "rb");
  int format = IMPORT_AUTO, rc;
  size_t n = strlen(path);
  if (!f) {
    rc_error err;
    rc_error_set(&err, RC_EIO, NULL, "cannot open %s", path);
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
