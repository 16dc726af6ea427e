/* See pgt.h. */
#include "pgt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *pgt_cluster_url(void) {
  static char url[1024];
  const char *env = getenv("RECOUP_PG_URL"), *file;
  FILE *f;

  if (env && *env) return env;
  if (url[0]) return url;
  if (!(file = getenv("RECOUP_PG_URL_FILE")) || !(f = fopen(file, "r"))) {
    fprintf(stderr,
            "no PostgreSQL cluster: set RECOUP_PG_URL or run the "
            "test through ctest (tests/pg/cluster.sh)\n");
    return NULL;
  }
  if (!fgets(url, sizeof url, f)) url[0] = '\0';
  fclose(f);
  url[strcspn(url, "\r\n")] = '\0';
  return url[0] ? url : NULL;
}

PGconn *pgt_connect(const char *url) {
  PGconn *c = PQconnectdb(url);

  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "connecting to %s: %s", url, PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  /* Notices (IF EXISTS of nothing) are not the tests' output. */
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return c;
}

PGresult *pgt_exec(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);

  if (PQresultStatus(r) != PGRES_COMMAND_OK &&
      PQresultStatus(r) != PGRES_TUPLES_OK) {
    fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return NULL;
  }
  return r;
}

long long pgt_value(PGconn *c, const char *sql) {
  PGresult *r = pgt_exec(c, sql);
  long long v = -1;

  if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
    v = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  return v;
}

/* The cluster's URL with its database replaced by name: cluster.sh's
 * URLs name the "postgres" database as their path. */
static char *pgt_url_of(const char *base, const char *name) {
  const char *at = strstr(base, "/postgres?");
  size_t len;
  char *out;

  if (!at) {
    fprintf(stderr, "%s: not a cluster.sh URL\n", base);
    return NULL;
  }
  len = strlen(base) + strlen(name) + 1;
  if (!(out = malloc(len))) return NULL;
  snprintf(out, len, "%.*s/%s%s", (int)(at - base), base, name,
           at + strlen("/postgres"));
  return out;
}

static int pgt_admin(const char *fmt, const char *name) {
  const char *base = pgt_cluster_url();
  char sql[256];
  PGconn *c;
  PGresult *r;

  if (!base || !(c = pgt_connect(base))) return -1;
  snprintf(sql, sizeof sql, fmt, name);
  r = pgt_exec(c, sql);
  PQclear(r);
  PQfinish(c);
  return r ? 0 : -1;
}

char *pgt_database(const char *name) {
  const char *base = pgt_cluster_url();

  if (!base) return NULL;
  pgt_drop(name);
  if (pgt_admin("CREATE DATABASE \"%s\"", name) != 0) return NULL;
  return pgt_url_of(base, name);
}

void pgt_drop(const char *name) {
  pgt_admin("DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
}
