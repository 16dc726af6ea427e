/* `recoup migrate-store FROM TO` (docs/operations.md, "Moving a book"). */
#ifndef RECOUP_MIGRATE_STORE_H
#define RECOUP_MIGRATE_STORE_H

/* Moves the whole book at FROM into TO (a SQLite file or postgresql://),
 * checked; prints what it moved. Returns the exit status: 0 moved, 1
 * refused or failed (TO then holds nothing of FROM's). */
int migrate_store_cli(const char *from, const char *to);

#endif
