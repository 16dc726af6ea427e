#include "case_keep.h"

#include "bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A case is its texts, id first, each a 1-byte size with the NUL (0 for
 * NULL; BIG and 4 bytes when longer) and the bytes with their NUL, so
 * that a case can be lent in place (case_keep_lend); then its whole
 * numbers, each a varint (zigzag: a few bytes where a struct took
 * eight), and its score's 8 bytes when it has one. A case of a few custom
 * fields takes about 100 bytes (193 as the struct and 4-byte sizes): a
 * million-row file fits where about 330,000 did. */
#define WHOLES(X)                                                      \
  X(principal)                                                         \
  X(balance)                                                           \
  X(amount_due) X(fees) X(overpaid) X(reduced) X(opened_at) X(version) \
      X(closed) X(on_hold) X(has_score)

enum { TEXTS = 12, BIG = 255, MOST = 10 * 11 + 8 + TEXTS * 5 };

static void texts(store_case *c, char **v[TEXTS]) {
  char **const all[TEXTS] = {&c->id,      &c->borrower_id, &c->workflow,
                             &c->state,   &c->outcome,     &c->error,
                             &c->product, &c->currency,    &c->due_date,
                             &c->tags,    &c->data,        &c->queue};
  memcpy(v, all, sizeof all);
}

/* Past this the keeping takes its whole limit at once, in huge pages
 * (bigmem_huge): the cases are read back in order, but one a handler,
 * whose own memory had pushed their 4 KB pages out of the TLB (a million
 * bench rows: case_keep_lend and case_keep_add 281 perf samples of the
 * import's thread, 88 so). Its pages are still only taken as written.
 * Grown by halves instead, a region partly in huge pages could not be
 * moved by realloc's mremap any more and was copied, both copies held
 * at once (the import's peak 31 MB higher). */
enum { HUGE_FROM = 2 * 1024 * 1024 };

static int reserve(case_keep *k, size_t n) {
  size_t cap;
  unsigned char *grown;
  if (k->len + n <= k->cap) return 1;
  if (k->len + n > k->limit) return 0;
  cap = k->cap ? k->cap * 2 : 64 * 1024;
  while (cap < k->len + n) cap *= 2;
  if (cap > HUGE_FROM) cap = k->limit;
  if (cap > k->limit) cap = k->limit;
  if (!(grown = realloc(k->p, cap))) return 0;
  if (cap > HUGE_FROM) bigmem_huge(grown, cap);
  k->p = grown;
  k->cap = cap;
  return 1;
}

static unsigned char *put_whole(unsigned char *at, int64_t v) {
  uint64_t z = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
  while (z >= 0x80) {
    *at++ = (unsigned char)(z | 0x80);
    z >>= 7;
  }
  *at++ = (unsigned char)z;
  return at;
}

static const unsigned char *get_whole(const unsigned char *at, int64_t *v) {
  uint64_t z = 0;
  for (int shift = 0;; shift += 7) {
    z |= (uint64_t)(*at & 0x7f) << shift;
    if (!(*at++ & 0x80)) break;
  }
  *v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
  return at;
}

int case_keep_add(case_keep *k, const store_case *c) {
  store_case copy = *c;
  char **v[TEXTS];
  uint32_t size[TEXTS];
  size_t need = MOST;
  unsigned char *at;
  if (k->full) return 0;
  texts(&copy, v);
  for (int i = 0; i < TEXTS; i++) {
    size[i] = *v[i] ? (uint32_t)strlen(*v[i]) + 1 : 0;
    need += size[i];
  }
  if (!reserve(k, need)) {
    k->full = 1;
    return 0;
  }
  at = k->p + k->len;
  for (int i = 0; i < TEXTS; i++) {
    if (size[i] < BIG) {
      *at++ = (unsigned char)size[i];
    } else {
      *at++ = BIG;
      memcpy(at, &size[i], 4);
      at += 4;
    }
    if (size[i]) memcpy(at, *v[i], size[i]);
    at += size[i];
  }
#define PUT(f) at = put_whole(at, c->f);
  WHOLES(PUT)
#undef PUT
  if (c->has_score) {
    memcpy(at, &c->score, sizeof c->score);
    at += sizeof c->score;
  }
  k->len = (size_t)(at - k->p);
  return 1;
}

/* A text's size with its NUL (0: NULL) at *at, which moves past it. */
static uint32_t text_size(const unsigned char **at) {
  uint32_t len = *(*at)++;
  if (len == BIG) {
    memcpy(&len, *at, 4);
    *at += 4;
  }
  return len;
}

/* The next case's numbers into *out and where each text starts in the
 * keeping (NULL for a NULL text) with its size and NUL (size); returns
 * the offset after it. */
static size_t next_case(const case_keep *k, store_case *out,
                        const char *at_text[TEXTS], uint32_t size[TEXTS]) {
  const unsigned char *at = k->p + k->next;
  int64_t v;
  memset(out, 0, sizeof *out);
  for (int i = 0; i < TEXTS; i++) {
    size[i] = text_size(&at);
    at_text[i] = size[i] ? (const char *)at : NULL;
    at += size[i];
  }
#define GET(f)            \
  at = get_whole(at, &v); \
  out->f = v;
  WHOLES(GET)
#undef GET
  if (out->has_score) {
    memcpy(&out->score, at, sizeof out->score);
    at += sizeof out->score;
  }
  return (size_t)(at - k->p);
}

int case_keep_next_is(const case_keep *k, const char *id) {
  const unsigned char *at = k->p + k->next;
  uint32_t size;
  if (k->next >= k->len) return 0;
  size = text_size(&at); /* the id comes first */
  return size && size - 1 == strlen(id) && !memcmp(at, id, size - 1);
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
