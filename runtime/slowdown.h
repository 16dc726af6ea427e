/* Slowing down password guessing: failed sign-ins counted per user name
 * and per client address, each past a free allowance earning a growing
 * wait. Kept in memory, in a table of bounded size. */
#ifndef RECOUP_SLOWDOWN_H
#define RECOUP_SLOWDOWN_H

#include <stdint.h>

typedef struct slowdown slowdown;

/* A table of capacity entries; NULL when out of memory. */
slowdown *slowdown_new(int capacity);
void slowdown_free(slowdown *sd);
/* May a sign-in as name from address start at now_ms (a monotonic clock)?
 * 0: yes, and it is counted in flight until slowdown_end; otherwise the
 * seconds to wait (Retry-After), at least 1. */
int slowdown_begin(slowdown *sd, const char *name, const char *address,
                   uint64_t now_ms);
/* The attempt begun for name and address is over: a success forgets the
 * name's failures (not the address's: one account of one's own must not
 * wipe the count of guesses at others); a failure counts for both; an
 * attempt abandoned (the service was busy) counts for neither. */
enum { SLOWDOWN_ABANDONED = -1, SLOWDOWN_FAILED = 0, SLOWDOWN_SUCCEEDED = 1 };
void slowdown_end(slowdown *sd, const char *name, const char *address,
                  int outcome, uint64_t now_ms);

#endif
