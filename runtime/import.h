#ifndef RECOUP_IMPORT_H
#define RECOUP_IMPORT_H

#include <stdio.h>

#include "recoup/engine.h"

typedef struct import_stats {
  int64_t rows, opened, updated;
  int64_t handled; /* `opened` events handled in the import's transaction */
  /* Rows with a key kept in case.data that reads as a contact column
   * (case_input_contact_like): how many, the first's line and key. */
  int64_t contact_rows, contact_line;
  char contact_key[48];
} import_stats;

enum { IMPORT_AUTO, IMPORT_CSV, IMPORT_NDJSON };

/* Reads a portfolio snapshot from f (named name in messages) and applies
 * it in one transaction: every row is checked, every bad row reported
 * (line and column; past the 50th the rest is not read), and if any is
 * bad nothing is written; the file is read on a thread of its own. The
 * cases it opens run their `opened` handlers in the same transaction (a
 * handler's failure is its case's, as from the queue); known cases'
 * `updated` are queued. Memory stays bounded whatever the file size (ids: about 34
 * bytes a row). progress: report on stderr. */
int import_stream(engine *eng, FILE *f, const char *name, int format,
                  import_stats *stats, rc_errlist *errors, int progress);
int import_file(engine *eng, const char *path, import_stats *stats,
                rc_errlist *errors, int progress);
/* The warning of stats's rows whose contact-like key went to case.data
 * into buf ("" when none): one sentence, for the CLI and HTTP alike. */
void import_contact_warning(const import_stats *stats, char *buf,
                            size_t size);

#endif
