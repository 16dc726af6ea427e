/* recoup — collection-workflow runtime. Shared vocabulary of every module. */
#ifndef RECOUP_RECOUP_H
#define RECOUP_RECOUP_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RECOUP_VERSION "0.1.0"

/* Milliseconds since the Unix epoch, UTC. Local time exists only at the
 * edges (parsing, formatting, dpd), always through an IANA zone. */
typedef int64_t rc_time;

/* Money: minor units (fen, cents). Never a double. */
typedef int64_t rc_money;

/* Copies src into dst[size], cut to fit and always terminated (strlcpy):
 * on the per-event paths snprintf("%s") cost ten times as much. */
static inline void rc_copy(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (size == 0) return;
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Result codes. Negative, like libuv's: 0 is success. */
enum {
  RC_OK = 0,
  RC_EINVAL = -1,    /* bad input: a field, a line, a script */
  RC_ENOTFOUND = -2, /* unknown case, task, message */
  RC_ECONFLICT = -3, /* already done, duplicate */
  RC_ESTORE = -4,    /* the database refused */
  RC_ESCRIPT = -5,   /* a Lua handler failed */
  RC_ENOMEM = -6,
  RC_EIO = -7,
  RC_EINTERNAL = -8, /* a bug in recoup: a check the store did not expect */
};

/* The one error type: filled where the problem is found, reported once at
 * the edge (exit status, HTTP status, journal row). */
typedef struct rc_error {
  int code;
  int line;       /* 0 when there is no line */
  char file[256]; /* "" when there is no file */
  char field[64]; /* "" when no single field is at fault */
  char message[1024];
} rc_error;

void rc_error_clear(rc_error *err);
/* Sets code and message (printf-style); returns code so callers can
 * `return rc_error_set(...)`. field may be NULL. */
int rc_error_set(rc_error *err, int code, const char *field, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));
/* "recoup: FILE:LINE: message" on stream. */
void rc_error_print(const rc_error *err, FILE *stream);
const char *rc_strerror(int code);

/* A list of errors, for `recoup check` and imports that report every
 * problem rather than the first. Owns its array. */
typedef struct rc_errlist {
  rc_error *items;
  int count, cap;
} rc_errlist;

void rc_errlist_add(rc_errlist *list, const rc_error *err);
void rc_errlist_free(rc_errlist *list);

#endif
