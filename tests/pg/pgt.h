/* The PostgreSQL tests' side of the throwaway cluster (cluster.sh): where
 * it is, and a database of each test's own on it. */
#ifndef RECOUP_TESTS_PGT_H
#define RECOUP_TESTS_PGT_H

#include <libpq-fe.h>

/* The cluster's URL: $RECOUP_PG_URL, else the first line of the file
 * $RECOUP_PG_URL_FILE names (the ctest fixture writes it). NULL when
 * neither says (the caller fails the test: it cannot run). Static. */
const char *pgt_cluster_url(void);

/* Creates the database `name` afresh on the cluster (dropping one left by
 * an earlier run) and returns its URL (malloc'd), or NULL after printing
 * why. */
char *pgt_database(const char *name);

/* Drops the database `name` (its connections are ended). */
void pgt_drop(const char *name);

/* A connection to url, or NULL after printing why. */
PGconn *pgt_connect(const char *url);

/* Runs sql, which must succeed; returns its result (PQclear() it), or NULL
 * after printing the error. */
PGresult *pgt_exec(PGconn *c, const char *sql);

/* The first column of the first row of sql as a number (-1 on failure). */
long long pgt_value(PGconn *c, const char *sql);

#endif
