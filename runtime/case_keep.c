#include "case_keep.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A case is its numbers (this struct, copied as bytes) and then its
 * texts, each a 4-byte length + 1 (0 for NULL) and the bytes with their
 * NUL, so that a case can be lent in place (case_keep_lend). */
typedef struct numbers {
  rc_money principal, balance, amount_due, fees, overpaid, reduced;
  rc_time opened_at;
  double score;
  int version, closed, on_hold, has_score;
} numbers;

#define NUMBERS(X)                                                     \
  X(principal)                                                         \
  X(balance) X(amount_due) X(fees) X(overpaid) X(reduced) X(opened_at) \
      X(score) X(version) X(closed) X(on_hold) X(has_score)

enum { TEXTS = 12 };

static void texts(store_case *c, char **v[TEXTS]) {
  char **const all[TEXTS] = {&c->id,      &c->borrower_id, &c->workflow,
                             &c->state,   &c->outcome,     &c->error,
                             &c->product, &c->currency,    &c->due_date,
                             &c->tags,    &c->data,        &c->queue};
  memcpy(v, all, sizeof all);
}

static int reserve(case_keep *k, size_t n) {
  size_t cap;
  unsigned char *grown;
  if (k->len + n <= k->cap) return 1;
  if (k->len + n > k->limit) return 0;
  cap = k->cap ? k->cap * 2 : 64 * 1024;
  while (cap < k->len + n) cap *= 2;
  if (cap > k->limit) cap = k->limit;
  if (!(grown = realloc(k->p, cap))) return 0;
  k->p = grown;
  k->cap = cap;
  return 1;
}

int case_keep_add(case_keep *k, const store_case *c) {
  store_case copy = *c;
  char **v[TEXTS];
  uint32_t size[TEXTS];
  numbers n;
  size_t need = sizeof n;
  if (k->full) return 0;
  memset(&n, 0, sizeof n); /* no padding byte left unset */
#define PUT(f) n.f = c->f;
  NUMBERS(PUT)
#undef PUT
  texts(&copy, v);
  for (int i = 0; i < TEXTS; i++) {
    size[i] = *v[i] ? (uint32_t)strlen(*v[i]) + 1 : 0;
    need += 4 + size[i];
  }
  if (!reserve(k, need)) {
    k->full = 1;
    return 0;
  }
  memcpy(k->p + k->len, &n, sizeof n);
  k->len += sizeof n;
  for (int i = 0; i < TEXTS; i++) {
    memcpy(k->p + k->len, &size[i], 4);
    k->len += 4;
    if (size[i]) memcpy(k->p + k->len, *v[i], size[i]);
    k->len += size[i];
  }
  return 1;
}

int case_keep_next_is(const case_keep *k, const char *id) {
  size_t at = k->next + sizeof(numbers);
  uint32_t len;
  if (k->next >= k->len) return 0;
  memcpy(&len, k->p + at, 4);
  return len && len - 1 == strlen(id) && !memcmp(k->p + at + 4, id, len - 1);
}

/* The next case's numbers into *out and where each text starts in the
 * keeping (NULL for a NULL text) with its size and NUL (size); returns
 * the offset after it. */
static size_t next_case(const case_keep *k, store_case *out,
                        const char *at_text[TEXTS], uint32_t size[TEXTS]) {
  size_t at = k->next + sizeof(numbers);
  uint32_t len;
  numbers n;
  memset(out, 0, sizeof *out);
  memcpy(&n, k->p + k->next, sizeof n);
  for (int i = 0; i < TEXTS; i++) {
    memcpy(&len, k->p + at, 4);
    at += 4;
    at_text[i] = len ? (const char *)k->p + at : NULL;
    size[i] = len;
    at += len;
  }
#define GET(f) out->f = n.f;
  NUMBERS(GET)
#undef GET
  return at;
}

int case_keep_take(case_keep *k, const char *id, store_case *out) {
  const char *at_text[TEXTS];
  uint32_t size[TEXTS];
  char **v[TEXTS];
  size_t after;
  if (k->next >= k->len || (id && !case_keep_next_is(k, id))) return 0;
  after = next_case(k, out, at_text, size);
  texts(out, v);
  for (int i = 0; i < TEXTS; i++) {
    if (!at_text[i]) continue;
    if (!(*v[i] = malloc(size[i]))) {
      store_case_free(out);
      return 0; /* read back instead */
    }
    memcpy(*v[i], at_text[i], size[i]);
  }
  k->next = after;
  return 1;
}

int case_keep_lend(case_keep *k, store_case *out) {
  const char *at_text[TEXTS];
  uint32_t size[TEXTS];
  char **v[TEXTS];
  if (k->next >= k->len) return 0;
  k->next = next_case(k, out, at_text, size);
  texts(out, v);
  for (int i = 0; i < TEXTS; i++) *v[i] = (char *)at_text[i];
  return 1;
}

void case_keep_free(case_keep *k) {
  size_t limit = k->limit;
  free(k->p);
  memset(k, 0, sizeof *k);
  k->limit = limit;
}
