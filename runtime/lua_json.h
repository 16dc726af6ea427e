/* Lua values <-> JSON (jansson). Tables with keys 1..n become arrays,
 * others objects; integers stay integers. */
#ifndef RECOUP_LUA_JSON_H
#define RECOUP_LUA_JSON_H

#include <jansson.h>
#include <lua.h>

/* Converts the value at idx; NULL and a message in errbuf when the value
 * holds something JSON cannot (a function, a cycle, NaN). */
json_t *ljson_from_lua(lua_State *L, int idx, char *errbuf, size_t size);
void ljson_push(lua_State *L, const json_t *value);
/* A value being pushed waits in the thread's slot, emptied here: out of
 * memory (a handler at its state's limit) the push does not return to
 * its json_decref, and each such read leaked the whole value. The next
 * hold or ljson_release frees it; one at a time. */
json_t **ljson_hold(void);
void ljson_release(json_t **slot);
/* Pushes the decoded text, or an empty table when text is NULL or bad. */
void ljson_push_text(lua_State *L, const char *text);
/* json_dumps with the flags used everywhere (compact, keys as inserted);
 * caller frees. */
char *ljson_dump(const json_t *value);

#endif
