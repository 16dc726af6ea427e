/* Where names are written in a Lua file: `recoup check` reads the source
 * the way a linter does, because a loaded table no longer knows the line
 * of its keys and strings, and a call's literal arguments are gone by the
 * time it runs. Only table constructors and method calls are understood;
 * anything else is skipped, so an answer is either exact or "not found". */
#ifndef RECOUP_SOURCE_H
#define RECOUP_SOURCE_H

#include <stddef.h>

typedef struct source source;

/* Reads and indexes the file at path; NULL when it cannot be read. */
source *source_open(const char *path);
void source_free(source *s);
const char *source_path(const source *s);

/* The line of the value at a path of keys ("transitions", "call") in any
 * table constructor of the file, the first in the file that has it whole;
 * 0 when none has. */
int source_find(const source *s, const char *const *keys, int n);
/* The line of the string item `value` in the table at path (n = 0: in any
 * table); 0 when none. */
int source_find_item(const source *s, const char *const *keys, int n,
                     const char *value);
/* The first line where the string literal value is written; 0 when none. */
int source_string_line(const source *s, const char *value);

/* One literal argument of a method call. */
typedef struct source_arg {
  enum { SOURCE_OTHER, SOURCE_STRING, SOURCE_NIL, SOURCE_TABLE } kind;
  const char *str; /* SOURCE_STRING (up to its first NUL, if any) */
  int nul;         /* SOURCE_STRING: 1 + the byte of its first NUL ("\0",
                    * "\x00", "\u{0}"), or 0 */
  int table;       /* SOURCE_TABLE: for source_table_* */
} source_arg;

enum { SOURCE_MAX_ARGS = 6 };
typedef struct source_call {
  int line; /* of the method's name */
  int nargs;
  source_arg args[SOURCE_MAX_ARGS];
} source_call;

/* Calls fn for each `x:method(...)` in the file, in order. */
void source_each_call(const source *s, const char *method,
                      void (*fn)(void *ud, const source_call *call), void *ud);
/* Calls fn for each `receiver:name(...)` in the file whose receiver is
 * the plain name given (not a field, `x.receiver:name(`), with the
 * method's name and line. */
void source_each_method(const source *s, const char *receiver,
                        void (*fn)(void *ud, const char *name, int line),
                        void *ud);
/* Whether every key of table t is a literal name or string (nothing the
 * source alone cannot tell), and whether it has key. */
int source_table_literal(const source *s, int t);
int source_table_has(const source *s, int t, const char *key);
/* The value of key in table t when it is one string literal; NULL
 * otherwise (no such key, or a value only a run can tell). */
const char *source_table_string(const source *s, int t, const char *key);
/* That value's first NUL, 1-based (0: none, or no such string). */
int source_table_string_nul(const source *s, int t, const char *key);

/* The candidate nearest to name by edit distance, when it is near enough
 * to be a slip of the keyboard (a third of the name's length, at most 3);
 * NULL otherwise or when name is itself a candidate. */
const char *source_nearest(const char *name, const char *const *cands, int n);

#endif
