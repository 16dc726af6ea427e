#ifndef RECOUP_REPL_H
#define RECOUP_REPL_H

#include <lua.h>

/* `recoup repl [DIR] [--db FILE]`: a Lua console on a scratch database (or
 * a copy of FILE) with a simulated clock. Reads a pipe as well as a
 * terminal. script_file, if given, runs instead of the prompt. */
int repl_main(const char *dir, const char *db, const char *script_file);

/* lua.c's l_print with a pretty printer (repl_print.c): each argument on
 * a line of its own; the engine, for money and a case's timers and tasks,
 * is upvalue 1 (a light userdata). Call it protected: a __tostring that
 * fails raises. */
int repl_print(lua_State *L);

#endif
