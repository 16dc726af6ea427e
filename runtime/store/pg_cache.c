/* A batch's cases, read by its timer or events claim (pg.h says what an
 * entry promises). A reminder's step read its case, a round trip, and
 * waited for its timer's delete to answer: with them here, a step waits
 * only for its borrower (read when it runs: pg_claim.c says why); an
 * event's step (a payment's) waits for nothing. Entries are found by
 * their id in a table of open addressing over the claim's own rows (the
 * keys are the result's text). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/pg.h"

struct pg_cache_entry {
  const char *key; /* in rows; NULL: a free slot */
  int row;
  char kind;  /* PG_CACHE_CASE, _TIMER */
  char fresh; /* a case: the row is still what was read */
  char cut;   /* a case: its timers may have been deleted since */
};

void pg_cache_clear(pg_cache *k) {
  PQclear(k->rows);
  free(k->slots);
  memset(k, 0, sizeof *k);
}

/* The slot of (kind, key): its entry, or the free slot it would take. */
static pg_cache_entry *slot(pg_cache *k, int kind, const char *key) {
  uint32_t h = 2166136261u ^ (unsigned char)kind;
  int i;

  for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  for (i = (int)(h & (uint32_t)(k->nslots - 1));;
       i = (i + 1) & (k->nslots - 1)) {
    pg_cache_entry *e = &k->slots[i];
    if (!e->key || (e->kind == kind && strcmp(e->key, key) == 0)) return e;
  }
}

static pg_cache_entry *find(pg_cache *k, int kind, const char *key) {
  pg_cache_entry *e;

  if (!k->nslots) return NULL;
  e = slot(k, kind, key);
  return e->key ? e : NULL;
}

/* The first row of a key wins: a case's timers share its row. */
static void add(pg_cache *k, int kind, int row, int col, int fresh) {
  const char *key = PQgetvalue(k->rows, row, col);
  pg_cache_entry *e;

  if (PQgetisnull(k->rows, row, col)) return;
  e = slot(k, kind, key);
  if (!e->key) *e = (pg_cache_entry){key, row, (char)kind, (char)fresh, 0};
}

/* Fills k from a claim's rows whose first column names a `first`. */
static int fill(pg_cache *k, PGresult *r, int first) {
  int n = PQntuples(r), size = 16;

  pg_cache_clear(k);
  if (PQnfields(r) <= PG_CLAIM_CASE) { /* not a claim's rows */
    PQclear(r);
    return RC_OK;
  }
  while (size < 4 * n) size *= 2; /* two keys a row at most: never full */
  if (!(k->slots = calloc((size_t)size, sizeof *k->slots))) {
    PQclear(r);
    return RC_ENOMEM;
  }
  k->rows = r;
  k->nslots = size;
  k->tasks = PQfnumber(r, PG_CLAIM_TASKS);
  for (int i = 0; i < n; i++) {
    int held = !PQgetisnull(r, i, PG_CLAIM_CASE);
    add(k, first, i, 0, 0);
    add(k, PG_CACHE_CASE, i, 1, held); /* known for its timers, held or not */
  }
  return RC_OK;
}

int pg_cache_fill(pg_cache *k, PGresult *r) {
  return fill(k, r, PG_CACHE_TIMER);
}

int pg_cache_fill_events(pg_cache *k, PGresult *r) {
  return fill(k, r, PG_CACHE_EVENT);
}

void pg_cache_forget(pg_cache *k, int kind, const char *id) {
  pg_cache_entry *e = id ? find(k, kind, id) : NULL;
  if (e) e->fresh = 0;
}

void pg_cache_timers_cut(pg_cache *k, const char *case_id) {
  pg_cache_entry *e = case_id ? find(k, PG_CACHE_CASE, case_id) : NULL;
  if (e) e->cut = 1;
}

int pg_cache_case_tasks(pg_cache *k, const char *case_id) {
  pg_cache_entry *e = find(k, PG_CACHE_CASE, case_id);

  /* A case another transaction held is not the claim's to speak for. */
  if (!e || k->tasks < 0 || PQgetisnull(k->rows, e->row, PG_CLAIM_CASE))
    return 1;
  return PQgetvalue(k->rows, e->row, k->tasks)[0] != 'f';
}

int pg_cache_timer_held(pg_cache *k, int64_t id) {
  char key[24];
  pg_cache_entry *t, *c;

  snprintf(key, sizeof key, "%" PRId64, id);
  if (!(t = find(k, PG_CACHE_TIMER, key))) return 0;
  c = find(k, PG_CACHE_CASE, PQgetvalue(k->rows, t->row, 1));
  return c && !c->cut;
}

const PGresult *pg_cache_case_row(pg_cache *k, const char *id, int *row) {
  pg_cache_entry *e = find(k, PG_CACHE_CASE, id);

  if (!e || !e->fresh || PQgetisnull(k->rows, e->row, PG_CLAIM_CASE))
    return NULL;
  *row = e->row;
  return k->rows;
}

int pg_cache_case(pg_cache *k, const char *id, store_case *out) {
  pg_cache_entry *e = find(k, PG_CACHE_CASE, id);

  if (!e || !e->fresh) return 0;
  pg_read_case(k->rows, e->row, PG_CLAIM_CASE, out);
  if (out->id) return 1;
  store_case_free(out);
  return 0;
}

int pg_cache_timer_row(pg_cache *k, int64_t timer) {
  char key[24];
  pg_cache_entry *t;

  snprintf(key, sizeof key, "%" PRId64, timer);
  return (t = find(k, PG_CACHE_TIMER, key)) ? t->row : -1;
}

int pg_cache_rows(const pg_cache *k) {
  return k->rows ? PQntuples(k->rows) : 0;
}

const char *pg_cache_borrower_at(pg_cache *k, int row) {
  if (row < 0 || row >= pg_cache_rows(k) ||
      PQgetisnull(k->rows, row, PG_CLAIM_CASE + 1))
    return NULL;
  return PQgetvalue(k->rows, row, PG_CLAIM_CASE + 1);
}
