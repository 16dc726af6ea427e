#ifndef RECOUP_SPEC_H
#define RECOUP_SPEC_H

/* `recoup test [DIR|FILE...]`: runs every *_test.lua found; prints one line
 * per failing test and "N passed, N failed" last. Returns the exit status.
 * db: NULL, each test on a book in memory; a postgresql:// URL, each on a
 * scratch schema of that database, dropped after it. */
int spec_main(int npaths, char **paths, int verbose, const char *db);

#endif
