/* What the SQLite backend's files share (sqlite.c, sqlite_schema.c). */
#ifndef RECOUP_STORE_SQLITE_H
#define RECOUP_STORE_SQLITE_H

#include <sqlite3.h>

#include "recoup/recoup.h"

/* Brings the database's schema up to this binary's, one migration a
 * transaction; RC_ESTORE naming the step that failed, or when the
 * database is newer than this binary. */
int sqlite_migrate(sqlite3 *db, rc_error *err);
/* Sets cases.timer_keys (the timers a case holds, [[due, id, scoped],
 * ...]) from the timers, for cases whose keys are not kept yet: the
 * upgrade that adds them, a book moved in (book_derived). One pass over
 * the timers, sorted by case: no index finds them by case. */
#define SQLITE_TIMER_KEYS_FILL                                         \
  "UPDATE cases SET timer_keys = k.keys FROM (SELECT case_id,"         \
  " json_group_array(json_array(due, id, scoped)) AS keys FROM timers" \
  " GROUP BY case_id) k WHERE cases.id = k.case_id;"

/* The schema version this binary writes (the migrations it knows). */
int store_schema_version(void);

#endif
