/* The console's counters a transaction moves, summed in the node (pg.h
 * says why). A transaction moves few of them (a sweep: a state out and
 * one in), so the sums are a short list searched in order; an import's
 * many due dates fill it, and it is written and started again. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/pg.h"

/* Copies s into a zero-filled part of size bytes: 0 when it does not
 * fit. */
static int part_of(char *dst, size_t size, const char *s) {
  size_t n = s ? strlen(s) : 0;

  if (n >= size) return 0;
  memset(dst, 0, size);
  if (n) memcpy(dst, s, n);
  return 1;
}

static int part(char dst[PG_COUNT_PART], const char *s) {
  return part_of(dst, PG_COUNT_PART, s);
}

int pg_counts_add(pg_counts *k, int kind, const char *a, const char *b,
                  const char *cur, const int64_t v[4]) {
  char ka[PG_COUNT_PART], kb[PG_COUNT_PART], kc[PG_COUNT_CUR];
  int i;

  if (!part(ka, a) || !part(kb, b) || !part_of(kc, sizeof kc, cur)) return 0;
  for (i = 0; i < k->n; i++) {
    pg_count *c = &k->v[i];
    if (c->kind == kind && !memcmp(c->a, ka, sizeof ka) &&
        !memcmp(c->b, kb, sizeof kb) && !memcmp(c->cur, kc, sizeof kc))
      break;
  }
  if (i == k->n) {
    if (k->n == PG_COUNTS_MAX) return 0;
    k->n++;
    k->v[i].kind = kind;
    memcpy(k->v[i].a, ka, sizeof ka);
    memcpy(k->v[i].b, kb, sizeof kb);
    memcpy(k->v[i].cur, kc, sizeof kc);
    memset(k->v[i].v, 0, sizeof k->v[i].v);
  }
  for (int j = 0; j < 4; j++) k->v[i].v[j] += v[j];
  return 1;
}

int pg_counts_case(pg_counts *k, const pg_case_count *c, int sign) {
  int64_t state[4] = {sign, sign * c->balance, sign * c->error,
                      sign * c->closed};
  int64_t due[4] = {sign, sign * c->balance, 0, 0};

  /* Room for both first: half a case counted would be counted twice
   * once the caller has written the list and added it again. */
  if (k->n > PG_COUNTS_MAX - 2) return 0;
  if (!pg_counts_add(k, PG_COUNT_STATE, c->workflow, c->state, c->currency,
                     state))
    return 0;
  return c->closed ? 1
                   : pg_counts_add(k, PG_COUNT_DUE, c->due, NULL, c->currency,
                                   due);
}

int pg_case_count_read(const PGresult *r, int row, int col,
                       pg_case_count *out) {
  const char *due = PQgetisnull(r, row, col + 14) ? ""
                                                  : PQgetvalue(r, row, col + 14);

  out->balance = atoll(PQgetvalue(r, row, col + 11));
  out->closed = atoi(PQgetvalue(r, row, col + 5));
  out->error = !PQgetisnull(r, row, col + 7);
  return part(out->workflow, PQgetvalue(r, row, col + 2)) &&
         part(out->state, PQgetvalue(r, row, col + 4)) && part(out->due, due) &&
         part_of(out->currency, sizeof out->currency,
                 PQgetvalue(r, row, col + 9));
}

int pg_case_count_of(const store_case *c, pg_case_count *out) {
  out->balance = c->balance;
  out->closed = c->closed;
  out->error = c->error != NULL;
  return part(out->workflow, c->workflow) && part(out->state, c->state) &&
         part(out->due, c->due_date ? c->due_date : "") &&
         part_of(out->currency, sizeof out->currency,
                 c->currency ? c->currency : "");
}
