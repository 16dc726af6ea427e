/* Copying the WAL back into the database file (sqlite_checkpoint.c). */
#ifndef RECOUP_STORE_SQLITE_CHECKPOINT_H
#define RECOUP_STORE_SQLITE_CHECKPOINT_H

#include <sqlite3.h>

#include "recoup/recoup.h"

typedef struct sq_ckpt sq_ckpt;

/* Takes over db's WAL hook: from now on a commit that leaves `pages` WAL
 * pages copies them back itself, as SQLite's autocheckpoint does. */
int sq_ckpt_new(sq_ckpt **out, sqlite3 *db, int pages, rc_error *err);
/* How many commits have written to the WAL so far (a commit that
 * changed nothing writes nothing, and syncs nothing). */
long sq_ckpt_commits(const sq_ckpt *c);

/* Copies back on the caller's thread after this many pages (a commit
 * that does so waits for the copy). */
void sq_ckpt_every(sq_ckpt *c, int pages);
/* Copies back on a thread of its own, through a connection of its own,
 * once `pages` pages wait; the commit never waits for that copy. Past
 * `most` pages in the WAL the thread copies whenever it is idle, and a
 * commit that finds it idle with at most pages/4 frames left copies
 * those, so that the next transaction starts the WAL again from its
 * beginning; a quarter past `most`, the commit waits for the thread's
 * copy to end and copies the rest (the WAL stays under `most` and a
 * quarter, and a transaction). pages <= 0 stops the thread and goes
 * back to copying on the caller's thread. */
int sq_ckpt_apart(sq_ckpt *c, int pages, int most, rc_error *err);
/* Stops the thread (joined) and gives the hook back to SQLite. */
void sq_ckpt_free(sq_ckpt *c);

#endif
