/* `rt`: a runtime on a scratch database with a simulated clock, as specs
 * and the REPL drive it (DESIGN.md, Testing scripts). */
#ifndef RECOUP_LUA_RT_H
#define RECOUP_LUA_RT_H

#include <lua.h>

#include "recoup/engine.h"

/* Registers the rt and case metatables in a harness state. */
void lrt_open(lua_State *L);
/* Pushes an rt bound to eng (borrowed: it must outlive every use, or
 * lrt_forget it before it closes, after which the rt raises). recoup.money and recoup.date format
 * for the institution of the last rt pushed. */
void lrt_push(lua_State *L, engine *eng);
void lrt_forget(lua_State *L);

#endif
