/* A workflow as declared, for the console's Strategy page: its states,
 * transitions and task kinds with their outcomes, read from the loaded
 * definition (never from the source text), in a stable order. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "script_priv.h"
#include "task_decl.h"

/* Pushes registry.workflows[name] (a table of versions) or returns 0. */
static int push_versions(lua_State *L, const char *name) {
  lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOWS); /* wfs */
  if (lua_getfield(L, -1, name) != LUA_TTABLE) {     /* wfs versions */
    lua_pop(L, 2);
    return 0;
  }
  lua_replace(L, -2); /* versions */
  return 1;
}

int script_workflow_versions(script *sc, const char *name, int *versions,
                             int max) {
  lua_State *L = sc->L;
  int n = 0;
  if (!push_versions(L, name)) return 0;
  lua_pushnil(L);
  while (lua_next(L, -2)) { /* versions version wf */
    lua_pop(L, 1);
    if (lua_isinteger(L, -1) && n < max)
      versions[n++] = (int)lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  /* Ascending: the table's order is the hash's. */
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && versions[j - 1] > versions[j]; j--) {
      int t = versions[j];
      versions[j] = versions[j - 1];
      versions[j - 1] = t;
    }
  return n;
}

json_t *script_workflow_describe(script *sc, const char *name, int version) {
  lua_State *L = sc->L;
  json_t *states = json_array(), *transitions = json_array(), *tasks;
  char **names;
  int n, wf;
  if (!push_versions(L, name)) return NULL;
  lua_rawgeti(L, -1, version); /* versions wf */
  if (!lua_istable(L, -1)) {
    lua_pop(L, 2);
    json_decref(states);
    json_decref(transitions);
    return NULL;
  }
  wf = lua_gettop(L);
  if (lua_getfield(L, wf, "states") == LUA_TTABLE) {
    names = script_sorted_keys(L, -1, &n);
    for (int i = 0; i < n; i++) {
      json_t *st = json_pack("{s:s}", "name", names[i]);
      lua_getfield(L, -1, names[i]); /* states state */
      if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "priority");
        json_object_set_new(st, "priority",
                            lua_type(L, -1) == LUA_TNUMBER
                                ? json_real(lua_tonumber(L, -1))
                                : json_integer(0));
        lua_getfield(L, -2, "final");
        json_object_set_new(st, "final", json_boolean(lua_toboolean(L, -1)));
        lua_pop(L, 2);
      }
      lua_pop(L, 1);
      json_array_append_new(states, st);
    }
    script_free_keys(names, n);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, wf, "transitions") == LUA_TTABLE) {
    names = script_sorted_keys(L, -1, &n);
    for (int i = 0; i < n; i++) {
      lua_getfield(L, -1, names[i]); /* transitions list */
      if (lua_istable(L, -1)) {
        lua_Integer len = luaL_len(L, -1);
        for (lua_Integer j = 1; j <= len; j++) {
          if (lua_rawgeti(L, -1, j) == LUA_TSTRING)
            json_array_append_new(
                transitions, json_pack("{s:s, s:s}", "from", names[i], "to",
                                       lua_tostring(L, -1)));
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 1);
    }
    script_free_keys(names, n);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, wf, "tasks") == LUA_TTABLE) {
    tasks = json_object();
    names = script_sorted_keys(L, -1, &n);
    for (int i = 0; i < n; i++) {
      /* the same shape as a case's waiting tasks carry (task_decl.c) */
      json_t *outcomes = task_decl_outcomes(L, wf, names[i]);
      if (outcomes) json_object_set_new(tasks, names[i], outcomes);
    }
    script_free_keys(names, n);
  } else {
    tasks = json_null();
  }
  lua_pop(L, 1);
  lua_getfield(L, wf, "initial");
  {
    json_t *out =
        json_pack("{s:s?, s:o, s:o, s:o}", "initial", lua_tostring(L, -1),
                  "states", states, "transitions", transitions, "tasks", tasks);
    lua_pop(L, 3); /* initial wf versions */
    return out;
  }
}
