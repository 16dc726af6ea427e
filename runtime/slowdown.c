/* Slow-down after failed sign-ins.
 *
 * A user name may fail 3 times freely, then waits 1 s, 2 s, 4 s ... up to
 * 5 minutes before each further try: a person who mistypes loses seconds,
 * a guesser gets a few hundred tries a day. An address may fail 20 times
 * freely (an office behind one NAT mistypes too), then waits from 1 s up
 * to a minute: it catches one machine trying one password on many names,
 * without letting a stranger at the same address lock the office out for
 * long. Past the free tries, one attempt at a time: a hundred parallel
 * guesses all starting before the first fails would skip the waits.
 *
 * The table is a fixed array (capacity entries, scanned: sign-ins are rare
 * and each costs a tenth of a second of Argon2id, the scan microseconds),
 * keyed by a hash of the name or address, so no input grows it. When it
 * is full, an entry nobody has failed with for 15 minutes goes first, else
 * the one with the fewest failures: flooding it with new names (one
 * failure each) cannot push out the count of a user under attack. */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "slowdown.h"

enum {
  KEY_BYTES = 16,
  USER_FREE = 3,
  ADDRESS_FREE = 20,
  FORGET_MS = 15 * 60 * 1000
};
static const uint64_t USER_CAP_MS = 300000, ADDRESS_CAP_MS = 60000;

typedef struct entry {
  unsigned char key[KEY_BYTES];
  int used;
  int failures, in_flight;
  uint64_t until_ms; /* no attempt before this */
  uint64_t last_ms;  /* the last failure */
} entry;

struct slowdown {
  entry *entries; /* owned */
  int capacity;
};

slowdown *slowdown_new(int capacity) {
  slowdown *sd = calloc(1, sizeof *sd);
  if (!sd) return NULL;
  sd->entries = calloc((size_t)capacity, sizeof *sd->entries);
  if (!sd->entries) {
    free(sd);
    return NULL;
  }
  sd->capacity = capacity;
  return sd;
}

void slowdown_free(slowdown *sd) {
  if (!sd) return;
  free(sd->entries);
  free(sd);
}

/* kind 'u' for a name, 'a' for an address: the same text is two keys. */
static void make_key(char kind, const char *text,
                     unsigned char key[KEY_BYTES]) {
  crypto_generichash_state st;
  crypto_generichash_init(&st, NULL, 0, KEY_BYTES);
  crypto_generichash_update(&st, (const unsigned char *)&kind, 1);
  crypto_generichash_update(&st, (const unsigned char *)text, strlen(text));
  crypto_generichash_final(&st, key, KEY_BYTES);
}

static int forgotten(const entry *e, uint64_t now) {
  return !e->in_flight && e->until_ms <= now && now - e->last_ms >= FORGET_MS;
}

static entry *find(slowdown *sd, const unsigned char key[KEY_BYTES],
                   uint64_t now) {
  for (int i = 0; i < sd->capacity; i++) {
    entry *e = &sd->entries[i];
    if (e->used && memcmp(e->key, key, KEY_BYTES) == 0) {
      if (forgotten(e, now)) {
        e->used = 0;
        return NULL;
      }
      return e;
    }
  }
  return NULL;
}

static entry *add(slowdown *sd, const unsigned char key[KEY_BYTES],
                  uint64_t now) {
  entry *victim = NULL;
  for (int i = 0; i < sd->capacity; i++) {
    entry *e = &sd->entries[i];
    if (!e->used || forgotten(e, now)) {
      victim = e;
      break;
    }
    if (e->in_flight) continue;
    if (!victim || e->failures < victim->failures ||
        (e->failures == victim->failures && e->last_ms < victim->last_ms))
      victim = e;
  }
  if (!victim) return NULL;
  memset(victim, 0, sizeof *victim);
  memcpy(victim->key, key, KEY_BYTES);
  victim->used = 1;
  victim->last_ms = now;
  return victim;
}

/* Milliseconds e makes an attempt wait now (0: none). */
static uint64_t wait_of(const entry *e, int free_tries, uint64_t now) {
  if (!e) return 0;
  if (e->until_ms > now) return e->until_ms - now;
  /* One at a time past the free tries, counting those in flight as
   * failures to come: before any has failed, a burst still gets only the
   * free tries at once. */
  if (e->in_flight > 0 && e->failures + e->in_flight >= free_tries)
    return 1000;
  return 0;
}

int slowdown_begin(slowdown *sd, const char *name, const char *address,
                   uint64_t now_ms) {
  unsigned char ku[KEY_BYTES], ka[KEY_BYTES];
  entry *u, *a;
  uint64_t wait, wa;
  make_key('u', name, ku);
  make_key('a', address, ka);
  u = find(sd, ku, now_ms);
  a = find(sd, ka, now_ms);
  wait = wait_of(u, USER_FREE, now_ms);
  wa = wait_of(a, ADDRESS_FREE, now_ms);
  if (wa > wait) wait = wa;
  if (wait > 0) return (int)((wait + 999) / 1000);
  /* Counted in flight before anything is added: an entry in flight is
   * never the one pushed out to make room for the other. */
  if (u) u->in_flight++;
  if (a) a->in_flight++;
  if (!u && (u = add(sd, ku, now_ms)) != NULL) u->in_flight++;
  if (!a && (a = add(sd, ka, now_ms)) != NULL) a->in_flight++;
  if (!u || !a) { /* every entry in flight: not below capacity sign-ins */
    if (u) u->in_flight--;
    if (a) a->in_flight--;
    return 1;
  }
  return 0;
}

static void failed(entry *e, int free_tries, uint64_t cap, uint64_t now) {
  e->failures++;
  e->last_ms = now;
  if (e->failures >= free_tries) {
    int shift = e->failures - free_tries;
    uint64_t delay = shift >= 20 ? cap : 1000ull << shift;
    e->until_ms = now + (delay < cap ? delay : cap);
  }
}

void slowdown_end(slowdown *sd, const char *name, const char *address,
                  int outcome, uint64_t now_ms) {
  unsigned char ku[KEY_BYTES], ka[KEY_BYTES];
  entry *u, *a;
  make_key('u', name, ku);
  make_key('a', address, ka);
  /* Either may have gone (pushed out by a full table): nothing to do. */
  if ((u = find(sd, ku, now_ms)) != NULL) {
    if (u->in_flight > 0) u->in_flight--;
    if (outcome == SLOWDOWN_SUCCEEDED) {
      u->failures = 0;
      u->until_ms = 0;
    } else if (outcome == SLOWDOWN_FAILED) {
      failed(u, USER_FREE, USER_CAP_MS, now_ms);
    }
  }
  if ((a = find(sd, ka, now_ms)) != NULL) {
    if (a->in_flight > 0) a->in_flight--;
    if (outcome == SLOWDOWN_FAILED)
      failed(a, ADDRESS_FREE, ADDRESS_CAP_MS, now_ms);
  }
}
