#ifndef RECOUP_SPEC_H
#define RECOUP_SPEC_H

/* `recoup test [DIR|FILE...]`: runs every *_test.lua found; prints one line
 * per failing test and "N passed, N failed" last. Returns the exit status. */
int spec_main(int npaths, char **paths, int verbose);

#endif
