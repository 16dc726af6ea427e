#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "lua_json.h"

enum { MAX_DEPTH = 32 };

static json_t *convert(lua_State *L, int idx, int depth, char *err,
                       size_t size);

/* A table is an array when its keys are exactly 1..n. */
static int array_length(lua_State *L, int idx) {
  lua_Integer n = 0, max = 0;
  lua_pushnil(L); /* key */
  while (lua_next(L, idx)) {
    lua_pop(L, 1); /* key */
    if (lua_type(L, -1) != LUA_TNUMBER || !lua_isinteger(L, -1)) {
      lua_pop(L, 1);
      return -1;
    }
    lua_Integer k = lua_tointeger(L, -1);
    if (k < 1) {
      lua_pop(L, 1);
      return -1;
    }
    if (k > max) max = k;
    n++;
  }
  return n == max && n > 0 ? (int)n : (n == 0 ? 0 : -1);
}

static json_t *convert_table(lua_State *L, int idx, int depth, char *err,
                             size_t size) {
  int n = array_length(L, idx);
  json_t *out;
  if (n > 0) {
    out = json_array();
    for (int i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i); /* item */
      json_t *v = convert(L, lua_gettop(L), depth + 1, err, size);
      lua_pop(L, 1);
      if (!v) {
        json_decref(out);
        return NULL;
      }
      json_array_append_new(out, v);
    }
    return out;
  }
  out = json_object();
  lua_pushnil(L); /* key */
  while (lua_next(L, idx)) {
    size_t klen;
    if (lua_type(L, -2) != LUA_TSTRING) {
      snprintf(err, size, "table keys must be all strings or 1..n");
      lua_pop(L, 2);
      json_decref(out);
      return NULL;
    }
    if (strlen(lua_tolstring(L, -2, &klen)) != klen) {
      snprintf(err, size, "a table key holds a NUL byte (\\0)");
      lua_pop(L, 2);
      json_decref(out);
      return NULL;
    }
    json_t *v = convert(L, lua_gettop(L), depth + 1, err, size);
    if (!v) {
      lua_pop(L, 2);
      json_decref(out);
      return NULL;
    }
    if (json_object_set_new(out, lua_tostring(L, -2), v) != 0) {
      snprintf(err, size, "a table key is not valid UTF-8");
      lua_pop(L, 2);
      json_decref(out);
      return NULL;
    }
    lua_pop(L, 1); /* value */
  }
  return out;
}

static json_t *convert(lua_State *L, int idx, int depth, char *err,
                       size_t size) {
  if (depth > MAX_DEPTH) {
    snprintf(err, size, "value nested deeper than %d levels", MAX_DEPTH);
    return NULL;
  }
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      return json_null();
    case LUA_TBOOLEAN:
      return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
      if (lua_isinteger(L, idx)) return json_integer(lua_tointeger(L, idx));
      {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d)) {
          snprintf(err, size, "number %g cannot be stored", d);
          return NULL;
        }
        return json_real(d);
      }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      json_t *v;
      /* Stored JSON is read back as C strings: a NUL would cut the text
       * (or make the row unreadable), so it never goes in. */
      if (memchr(s, '\0', len)) {
        snprintf(err, size, "string holds a NUL byte (\\0)");
        return NULL;
      }
      v = json_stringn(s, len);
      if (!v) snprintf(err, size, "string is not valid UTF-8");
      return v;
    }
    case LUA_TTABLE:
      luaL_checkstack(L, 4, "nested table");
      return convert_table(L, lua_absindex(L, idx), depth, err, size);
    default:
      snprintf(err, size, "a %s cannot be stored", luaL_typename(L, idx));
      return NULL;
  }
}

json_t *ljson_from_lua(lua_State *L, int idx, char *errbuf, size_t size) {
  idx = lua_absindex(L, idx);
  /* The stack the deepest value takes, grown before any JSON is made: out
   * of memory (a handler at its limit) growing it halfway jumped past
   * every json_decref, leaking what was made. Within it, convert's own
   * checks never grow it, and nothing else there raises. */
  luaL_checkstack(L, 4 * (MAX_DEPTH + 2), "nested table");
  return convert(L, idx, 0, errbuf, size);
}

void ljson_push(lua_State *L, const json_t *v) {
  size_t i;
  const char *key;
  json_t *item;
  luaL_checkstack(L, 3, "json value");
  switch (json_typeof(v)) {
    case JSON_OBJECT:
      lua_createtable(L, 0, (int)json_object_size(v));
      json_object_foreach((json_t *)v, key, item) {
        ljson_push(L, item);
        lua_setfield(L, -2, key);
      }
      break;
    case JSON_ARRAY:
      lua_createtable(L, (int)json_array_size(v), 0);
      json_array_foreach(v, i, item) {
        ljson_push(L, item);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    case JSON_STRING:
      lua_pushlstring(L, json_string_value(v), json_string_length(v));
      break;
    case JSON_INTEGER:
      lua_pushinteger(L, json_integer_value(v));
      break;
    case JSON_REAL:
      lua_pushnumber(L, json_real_value(v));
      break;
    case JSON_TRUE:
      lua_pushboolean(L, 1);
      break;
    case JSON_FALSE:
      lua_pushboolean(L, 0);
      break;
    default:
      lua_pushnil(L);
  }
}

/* A value being pushed waits here (ljson_hold): one a thread rather than
 * one a state, whose registry look-up cost some 280 instructions a
 * case.data read. */
static _Thread_local json_t *held_value;

json_t **ljson_hold(void) {
  /* What a push that ran out of memory left. */
  json_decref(held_value);
  held_value = NULL;
  return &held_value;
}

void ljson_release(json_t **slot) {
  json_decref(*slot);
  *slot = NULL;
}

void ljson_push_text(lua_State *L, const char *text) {
  json_t **held = ljson_hold();
  if (text && (*held = json_loads(text, JSON_DECODE_ANY, NULL))) {
    ljson_push(L, *held);
    ljson_release(held);
  } else {
    lua_newtable(L);
  }
}

char *ljson_dump(const json_t *value) {
  return json_dumps(value,
                    JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
}
