/* recoup — collection-workflow runtime. Shared vocabulary of every module. */
#ifndef RECOUP_RECOUP_H
#define RECOUP_RECOUP_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define RECOUP_VERSION "0.1.0"

/* The generation of `recoup check`'s script checks: raised by one each
 * release that adds a check an institution's scripts may newly fail. A
 * book keeps the generation its scripts last passed whole (meta's
 * checks.generation; a new book starts at this one), and a finding of a
 * newer check is a warning there, not a refusal to start (docs/cli.md
 * "Checks after an upgrade"). */
#define RECOUP_CHECKS_GENERATION 5

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
  /* A script check's finding that a book of an older checks generation
   * only warns of: the generation the check came in. 0 for every other
   * error, those of the checks that guard data or money included. */
  int since;
  char file[256]; /* "" when there is no file */
  char field[64]; /* "" when no single field is at fault */
  char message[1024];
} rc_error;

void rc_error_clear(rc_error *err);
/* Starts a new error: sets code, field and message (printf-style) and
 * clears file and line, which the caller sets after when it knows them.
 * Returns code so callers can `return rc_error_set(...)`. field may be
 * NULL. */
int rc_error_set(rc_error *err, int code, const char *field, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

/* mkdir -p of dir, or of the directory above path, with mode 0700: a
 * failure is RC_EIO naming field. */
int rc_mkdirs(const char *dir, const char *field, rc_error *err);
int rc_mkdir_parent(const char *path, const char *field, rc_error *err);
/* rc_mkdir_parent that says in made[size] the first directory it made
 * ("" when all were there); rc_rmdir_parent_made takes away again the
 * empty ones among those, from path's directory up to made. */
int rc_mkdir_parent_made(const char *path, const char *field, char *made,
                         size_t size, rc_error *err);
void rc_rmdir_parent_made(const char *path, const char *made);
/* "recoup: FILE:LINE: message" on stream, printable (rc_printable). */
void rc_error_print(const rc_error *err, FILE *stream);
/* Copies src into dst[size] (cut on a character boundary, terminated)
 * with every byte of a control character (newline and tab kept) or of
 * invalid UTF-8, and each invisible or bidirectional formatting character
 * (rc_invisible), replaced by '?': text from outside (file names,
 * scripts' error messages) made safe for a terminal and for JSON. Returns
 * the length written. */
size_t rc_printable(char *dst, size_t size, const char *src);
/* rc_printable that keeps no newline or tab either: a key or a name
 * shown inside one line. */
size_t rc_printable_line(char *dst, size_t size, const char *src);
/* Copies src into dst[size] (cut on a character boundary, terminated)
 * with each byte that is not part of well-formed UTF-8 replaced by
 * U+FFFD: text stored by an older version, shown as JSON (which holds
 * only UTF-8) rather than hidden. 3 * strlen(src) + 1 always suffices.
 * Returns the length written. */
size_t rc_utf8_lossy(char *dst, size_t size, const char *src);
/* Whether cp draws nothing or reorders the text around it (bidi
 * controls, zero-width characters, line separators, the BOM). */
int rc_invisible(uint32_t cp);
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
