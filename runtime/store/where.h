/* What a database argument names, for every module that handles one (the
 * CLI, the service, backups, scratch copies) without opening a store:
 * whether it is a file, memory or a server, and the file operations that
 * must take a database's side files along (SQLite's -wal and -shm).
 * store.h, the engine's contract with the store, stays private; this is
 * the part of the store anyone may include. */
#ifndef RECOUP_STORE_WHERE_H
#define RECOUP_STORE_WHERE_H

#include "recoup/recoup.h"

/* The database argument of a store that lives in memory and is gone at
 * close (scratch runs, spec suites, the REPL's empty book). */
#define STORE_SCRATCH ":memory:"

/* Where a database argument points: a file, memory (STORE_SCRATCH), or a
 * server URL (postgresql://... or postgres://...). */
typedef enum store_location {
  STORE_FILE,
  STORE_MEMORY,
  STORE_URL
} store_location;
store_location store_where(const char *db);

/* The database argument as it may be shown (logs, messages): a server
 * URL's password, in its user part or a password= parameter, written
 * as ***. A file's path is shown as it is. Cut to size - 1 bytes. */
void store_where_shown(const char *db, char *out, size_t size);

/* The database at `where` and every file that belongs to it removed, or
 * moved to `to` (whatever was at `to` removed first); a database that is
 * not there is not an error. Memory has nothing to remove; a URL is
 * RC_EINVAL (a server's database is dropped with its own tools). */
int store_remove(const char *where, rc_error *err);
int store_move(const char *from, const char *to, rc_error *err);
/* The paths of the files a database file is made of (itself first, then
 * the side files SQLite may leave), written into paths[0..max-1] of size
 * bytes each, for a caller that must remove them where it cannot call
 * store_remove (a signal handler). Returns how many, or -1 when a path
 * does not fit. */
enum { STORE_FILES_MAX = 4 };
int store_files(const char *where, char (*paths)[4096], int max);

#endif
