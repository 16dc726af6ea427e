/* What the SQLite backend's files share (sqlite.c, sqlite_schema.c). */
#ifndef RECOUP_STORE_SQLITE_H
#define RECOUP_STORE_SQLITE_H

#include <sqlite3.h>

#include "recoup/recoup.h"

/* Brings the database's schema up to this binary's, one migration a
 * transaction; RC_ESTORE naming the step that failed, or when the
 * database is newer than this binary. */
int sqlite_migrate(sqlite3 *db, rc_error *err);
/* The schema version this binary writes (the migrations it knows). */
int store_schema_version(void);

#endif
