/* The cases an import opened, packed in one buffer in the order they
 * were opened, so that their `opened` handlers start from the case as
 * written instead of reading each back (a read was 8 % of a row's
 * instructions). Bounded: past its limit a case is not kept and the
 * handler reads it as before. */
#ifndef RECOUP_CASE_KEEP_H
#define RECOUP_CASE_KEEP_H

#include <stddef.h>

#include "recoup/query.h"

typedef struct case_keep {
  unsigned char *p; /* owned */
  size_t len, cap;
  size_t next; /* the next case to hand out */
  size_t limit;
  int full; /* one case did not fit: no later one is kept either */
} case_keep;

/* Keeps a copy of c: 1; nothing (and no error) once the limit is
 * reached: 0. */
int case_keep_add(case_keep *k, const store_case *c);
/* The next case kept, into *out, its texts in the keeping itself: they
 * last until the keeping is added to or freed, and are not the caller's
 * to free (no store_case_free). 0 when none is left. */
int case_keep_lend(case_keep *k, store_case *out);
/* Is the next case kept case id? */
int case_keep_next_is(const case_keep *k, const char *id);
void case_keep_free(case_keep *k);

#endif
