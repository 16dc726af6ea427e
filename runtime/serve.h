/* `recoup serve`: the service on a database until SIGTERM (serve.c). */
#ifndef RECOUP_SERVE_H
#define RECOUP_SERVE_H

/* Serves the institution in dir (its database db, or its own when NULL)
 * on listen (or the institution's address when NULL). A rehearsed
 * database is refused unless real_time, which puts it on the real clock for
 * good. Returns the exit status: 0 after a drained stop, 1 when it could
 * not start or the loop failed. */
int serve_main(const char *dir, const char *db, const char *listen,
               int real_time);

#endif
