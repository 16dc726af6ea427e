#ifndef RECOUP_REPL_H
#define RECOUP_REPL_H

/* `recoup repl [DIR] [--db FILE]`: a Lua console on a scratch database (or
 * a copy of FILE) with a simulated clock. Reads a pipe as well as a
 * terminal. script_file, if given, runs instead of the prompt. */
int repl_main(const char *dir, const char *db, const char *script_file);

#endif
