/* Lua's syntax errors name a character outside ASCII by its first byte
 * ("unexpected symbol near '<\239>'"): a Chinese input method's
 * full-width comma or bracket, typed in a script or at the REPL, read as
 * a riddle. */
#ifndef RECOUP_LUA_SYNTAX_H
#define RECOUP_LUA_SYNTAX_H

#include <stddef.h>

#include <lua.h>

/* After a failed load of buf (its error message on the top of L's
 * stack): a message near such a byte is replaced by one that shows the
 * character, its code point and, for a full-width form of an ASCII
 * character or Chinese quotes, the character to write. Any other
 * message is left as it is. */
void lua_syntax_hint(lua_State *L, const char *buf, size_t len);

#endif
