#ifndef RECOUP_IMPORT_H
#define RECOUP_IMPORT_H

#include <stdio.h>

#include "recoup/engine.h"

typedef struct import_stats {
  int64_t rows, opened, updated;
} import_stats;

enum { IMPORT_AUTO, IMPORT_CSV, IMPORT_NDJSON };

/* Reads a portfolio snapshot from f (named name in messages) and applies
 * it in one transaction: every row is checked, every bad row reported
 * (line and column), and if any is bad nothing is written. Memory stays
 * bounded whatever the file size. progress: report on stderr. */
int import_stream(engine *eng, FILE *f, const char *name, int format,
                  import_stats *stats, rc_errlist *errors, int progress);
int import_file(engine *eng, const char *path, import_stats *stats,
                rc_errlist *errors, int progress);

#endif
