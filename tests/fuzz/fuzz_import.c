/* CSV and NDJSON portfolio rows through the real import, on a scratch
 * database. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "import.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static engine *eng;
  import_stats stats;
  rc_errlist errors = {0};
  FILE *f;
  if (!eng) {
    engine_options opts = {FIXTURES "/basic", ":memory:", 1, 0, 1, 0};
    if (engine_open(&eng, &opts, &errors) != RC_OK) abort();
  }
  if (size == 0) return 0;
  f = fmemopen((void *)data, size, "r");
  if (!f) return 0;
  import_stream(eng, f, "fuzz", data[0] == '{' ? IMPORT_NDJSON : IMPORT_CSV,
                &stats, &errors, 0);
  fclose(f);
  rc_errlist_free(&errors);
  return 0;
}
