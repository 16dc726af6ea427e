/* rt methods. Each call that feeds the runtime (open, event, pay, complete,
 * receipt) commits its input and then runs every resulting event before it
 * returns, so a spec reads the consequences on the next line. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lauxlib.h>

#include "lua_json.h"
#include "lua_rt.h"
#include "report.h"
#include "script_priv.h"

#define RT_MT "recoup.rt"

typedef struct lrt {
  engine *eng;
} lrt;

static engine *check_rt(lua_State *L) {
  lrt *rt = luaL_checkudata(L, 1, RT_MT);
  /* A spec may keep its rt past its test (saved = rt), whose engine is
   * closed by then (lrt_forget): reading it was a use after free. */
  if (!rt->eng)
    luaL_error(L,
               "this rt is of a test that has ended: use the rt each "
               "test is given");
  return rt->eng;
}

static int fail(lua_State *L, const rc_error *err) {
  return luaL_error(L, "%s", err->message);
}

/* Runs everything now due; raises on a store failure. */
static void settle(lua_State *L, engine *eng) {
  rc_error err;
  if (engine_run(eng, clock_now(engine_clock(eng)), NULL, &err) != RC_OK)
    fail(L, &err);
}

/* A case argument: a case view, a row with `case`/`id`, or an id. */
static const char *case_arg(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TSTRING) return lua_tostring(L, idx);
  if (lua_isuserdata(L, idx) || lua_istable(L, idx)) {
    lua_getfield(L, idx, "id");
    if (lua_isstring(L, -1)) {
      lua_replace(L, idx);
      return lua_tostring(L, idx);
    }
    lua_pop(L, 1);
  }
  luaL_typeerror(L, idx, "case or case id");
  return NULL;
}

static int64_t id_arg(lua_State *L, int idx, const char *what) {
  if (lua_isinteger(L, idx)) return lua_tointeger(L, idx);
  if (lua_istable(L, idx)) {
    lua_getfield(L, idx, "id");
    if (lua_isinteger(L, -1)) {
      int64_t id = lua_tointeger(L, -1);
      lua_pop(L, 1);
      return id;
    }
  }
  luaL_typeerror(L, idx, what);
  return 0;
}

static int rt_set_clock(lua_State *L) {
  engine *eng = check_rt(L);
  rc_time t;
  rc_error err;
  if (clock_parse_time(engine_clock(eng), luaL_checkstring(L, 2), &t, &err))
    return fail(L, &err);
  clock_set(engine_clock(eng), t);
  return 0;
}

static int rt_now(lua_State *L) {
  engine *eng = check_rt(L);
  char at[40];
  clock_zone_format(clock_zone(engine_clock(eng)), clock_now(engine_clock(eng)),
                    at, sizeof at);
  lua_pushstring(L, at);
  return 1;
}

static int rt_advance(lua_State *L) {
  engine *eng = check_rt(L);
  rc_clock *clk = engine_clock(eng);
  rc_duration d;
  rc_error err;
  rc_time until;
  int64_t steps = 0;
  if (clock_parse_duration(luaL_checkstring(L, 2), &d, &err))
    return fail(L, &err);
  until = clock_zone_add(clock_zone(clk), clock_now(clk), &d);
  if (engine_run(eng, until, &steps, &err) != RC_OK) return fail(L, &err);
  lua_pushinteger(L, steps);
  return 1;
}

static int rt_open(lua_State *L) {
  engine *eng = check_rt(L);
  char msg[256];
  json_t *j;
  rc_error err;
  int rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (!(j = ljson_from_lua(L, 2, msg, sizeof msg)))
    return luaL_error(L, "rt:open: %s", msg);
  rc = engine_upsert_case(eng, j, 0, NULL, &err);
  json_decref(j);
  if (rc != RC_OK) return fail(L, &err);
  settle(L, eng);
  lua_getfield(L, 2, "id");
  lcase_push_kept(L, eng, lua_tostring(L, -1));
  return 1;
}

static int rt_case(lua_State *L) {
  engine *eng = check_rt(L);
  const char *id = case_arg(L, 2);
  rc_error err;
  int rc = query_case_exists(engine_query(eng), id, &err);
  if (rc == RC_OK)
    lcase_push_kept(L, eng, id);
  else if (rc == RC_ENOTFOUND)
    lua_pushnil(L);
  else
    return fail(L, &err);
  return 1;
}

static int rt_event(lua_State *L) {
  engine *eng = check_rt(L);
  const char *id = case_arg(L, 2);
  const char *type = luaL_checkstring(L, 3);
  const char *key = NULL;
  json_t *data = NULL;
  char msg[256];
  rc_error err;
  int rc, duplicate = 0;
  if (lua_istable(L, 5)) { /* rt:event(c, type, data, { key = "K-1" }) */
    lua_getfield(L, 5, "key");
    key = lua_tostring(L, -1); /* the options table keeps it */
    lua_pop(L, 1);
  }
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    if (!(data = ljson_from_lua(L, 4, msg, sizeof msg)))
      return luaL_error(L, "rt:event: %s", msg);
    if (!json_is_object(data)) {
      json_decref(data);
      data = json_object();
    }
  }
  rc = engine_post(eng, id, type, data, key, &duplicate, &err);
  json_decref(data);
  if (rc != RC_OK) return fail(L, &err);
  if (duplicate) {
    lua_pushliteral(L, "duplicate");
    return 1;
  }
  settle(L, eng);
  return 0;
}

static int rt_pay(lua_State *L) {
  engine *eng = check_rt(L);
  const char *id = case_arg(L, 2);
  lua_Integer amount;
  const char *ref = luaL_optstring(L, 4, NULL);
  rc_error err;
  int duplicate = 0;
  /* luaL_checkinteger would take "1200.00" and 1200.0 as 1200 minor
   * units: a spec or REPL line meaning 1,200 yuan paid 12 and passed. */
  if (!lua_isinteger(L, 3)) {
    if (lua_type(L, 3) == LUA_TNUMBER)
      return luaL_error(L,
                        "rt:pay: amount must be a whole number of minor "
                        "units (fen, cents), not %s: 1,200.00 is 120000",
                        lua_tostring(L, 3));
    if (lua_type(L, 3) == LUA_TSTRING)
      return luaL_error(L,
                        "rt:pay: amount must be a whole number of minor "
                        "units (fen, cents), not the text '%s': 1,200.00 "
                        "is 120000",
                        lua_tostring(L, 3));
    return luaL_error(L,
                      "rt:pay: amount must be a whole number of minor "
                      "units (fen, cents), not %s",
                      luaL_typename(L, 3));
  }
  amount = lua_tointeger(L, 3);
  if (engine_pay(eng, id, amount, ref, 0, &duplicate, &err) != RC_OK)
    return fail(L, &err);
  if (duplicate) {
    lua_pushliteral(L, "duplicate");
    return 1;
  }
  settle(L, eng);
  return 0;
}

static int rt_complete(lua_State *L) {
  engine *eng = check_rt(L);
  int64_t id = id_arg(L, 2, "task or task id");
  char msg[256];
  json_t *j;
  rc_error err;
  int rc, duplicate = 0;
  luaL_checktype(L, 3, LUA_TTABLE);
  if (!(j = ljson_from_lua(L, 3, msg, sizeof msg)))
    return luaL_error(L, "rt:complete: %s", msg);
  rc = engine_task_complete(eng, id, j, NULL, &duplicate, &err);
  json_decref(j);
  if (rc != RC_OK) return fail(L, &err);
  if (duplicate) {
    lua_pushliteral(L, "duplicate");
    return 1;
  }
  settle(L, eng);
  return 0;
}

/* rt:reply(from_or_case, text): from a phone number or address, or on a
 * given case. */
static int rt_reply(lua_State *L) {
  engine *eng = check_rt(L);
  const char *text = luaL_checkstring(L, 3);
  char case_id[160];
  rc_error err;
  int rc;
  if (lua_isuserdata(L, 2))
    rc = engine_reply(eng, case_arg(L, 2), NULL, text, case_id, &err);
  else
    rc = engine_reply(eng, NULL, luaL_checkstring(L, 2), text, case_id, &err);
  if (rc != RC_OK) return fail(L, &err);
  settle(L, eng);
  lcase_push_kept(L, eng, case_id);
  return 1;
}

static int rt_report(lua_State *L) {
  engine *eng = check_rt(L);
  json_t **held = ljson_hold(); /* out of memory the push raises */
  rc_error err;
  if (report_build(eng, held, &err) != RC_OK) return fail(L, &err);
  ljson_push(L, *held);
  ljson_release(held);
  return 1;
}

static int rt_claim(lua_State *L) {
  engine *eng = check_rt(L);
  int64_t id = id_arg(L, 2, "task or task id");
  rc_error err;
  if (engine_task_claim(eng, id, luaL_checkstring(L, 3), &err) != RC_OK)
    return fail(L, &err);
  return 0;
}

static int rt_receipt(lua_State *L) {
  engine *eng = check_rt(L);
  int64_t id = id_arg(L, 2, "message or message id");
  rc_error err;
  if (engine_receipt(eng, id, luaL_checkstring(L, 3), NULL, &err) != RC_OK)
    return fail(L, &err);
  settle(L, eng);
  return 0;
}

static int rt_retry(lua_State *L) {
  engine *eng = check_rt(L);
  rc_error err;
  if (engine_retry(eng, case_arg(L, 2), &err) != RC_OK) return fail(L, &err);
  settle(L, eng);
  return 0;
}

typedef struct rows {
  lua_State *L;
  engine *eng;
  int filter; /* index of the filter table, 0 for none */
} rows;

/* Appends a row when it matches the filter (equality on every field). */
static int add_row(void *ud, const store_value *cols, int n) {
  rows *r = ud;
  lua_State *L = r->L;
  lcase_push_row(L, r->eng, cols, n);
  if (r->filter) {
    lua_pushnil(L);
    while (lua_next(L, r->filter)) {
      lua_pushvalue(L, -2);
      lua_gettable(L, -4); /* row row_value */
      if (!lua_compare(L, -1, -2, LUA_OPEQ)) {
        lua_pop(L, 4); /* value, row value, key, row */
        return 0;
      }
      lua_pop(L, 2);
    }
  }
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  return 0;
}

static int list(lua_State *L, int which) {
  engine *eng = check_rt(L);
  rows r = {L, eng, 0};
  const char *case_id = NULL;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    r.filter = 2;
    lua_getfield(L, 2, "case");
    if (lua_isuserdata(L, -1)) { /* a case view: filter by its id */
      lua_getfield(L, -1, "id");
      lua_setfield(L, 2, "case");
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "case");
    case_id = lua_tostring(L, -1); /* kept alive by the filter table */
    lua_pop(L, 1);
  }
  rc_error err;
  int rc;
  lua_newtable(L);
  if (which == 0)
    rc = query_messages(engine_query(eng), case_id, add_row, &r, &err);
  else
    rc = query_tasks(engine_query(eng), case_id, add_row, &r, &err);
  if (rc != RC_OK) return fail(L, &err);
  return 1;
}

static int rt_messages(lua_State *L) {
  return list(L, 0);
}

static int rt_tasks(lua_State *L) {
  return list(L, 1);
}

static int rt_journal(lua_State *L) {
  engine *eng = check_rt(L);
  rows r = {L, eng, 0};
  const char *id = case_arg(L, 2);
  rc_error err;
  lua_newtable(L);
  if (query_journal(engine_query(eng), id, 0, add_row, &r, &err) != RC_OK)
    return fail(L, &err);
  return 1;
}

static int rt_timers(lua_State *L) {
  engine *eng = check_rt(L);
  rows r = {L, eng, 0};
  const char *id = case_arg(L, 2);
  rc_error err;
  lua_newtable(L);
  if (query_timers(engine_query(eng), id, add_row, &r, &err) != RC_OK)
    return fail(L, &err);
  return 1;
}

static int rt_tostring(lua_State *L) {
  engine *eng = check_rt(L);
  char at[40];
  clock_zone_format(clock_zone(engine_clock(eng)), clock_now(engine_clock(eng)),
                    at, sizeof at);
  lua_pushfstring(L, "rt (%s, clock %s)",
                  script_config(engine_script(eng))->name, at);
  return 1;
}

/* recoup.money and recoup.date as the service has them, in a spec and
 * the REPL: the institution's locale, currency and zone (as outside a
 * handler there), of the engine the last rt pushed drives. */
#define RT_CURRENT "recoup.rt.current"

static engine *current_engine(lua_State *L, const char *fn) {
  lrt *rt;
  lua_getfield(L, LUA_REGISTRYINDEX, RT_CURRENT); /* rt or nil */
  rt = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!rt)
    luaL_error(L,
               "%s: no institution is loaded yet: call it inside a test, "
               "where rt is",
               fn);
  return rt->eng;
}

static int rt_format_money(lua_State *L) {
  engine *eng = current_engine(L, "recoup.money");
  return lformat_money_institution(L, script_config(engine_script(eng)),
                                   engine_clock(eng));
}

static int rt_format_date(lua_State *L) {
  engine *eng = current_engine(L, "recoup.date");
  return lformat_date_institution(L, script_config(engine_script(eng)),
                                  engine_clock(eng));
}

void lrt_forget(lua_State *L) {
  lrt *rt;
  lua_getfield(L, LUA_REGISTRYINDEX, RT_CURRENT); /* rt or nil */
  if ((rt = lua_touserdata(L, -1))) rt->eng = NULL;
  lua_pop(L, 1);
  lcase_forget(L);
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, RT_CURRENT);
}

void lrt_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"set_clock", rt_set_clock},
                                     {"advance", rt_advance},
                                     {"now", rt_now},
                                     {"open", rt_open},
                                     {"case", rt_case},
                                     {"event", rt_event},
                                     {"pay", rt_pay},
                                     {"messages", rt_messages},
                                     {"tasks", rt_tasks},
                                     {"complete", rt_complete},
                                     {"receipt", rt_receipt},
                                     {"journal", rt_journal},
                                     {"timers", rt_timers},
                                     {"retry", rt_retry},
                                     {"claim", rt_claim},
                                     {"report", rt_report},
                                     {"reply", rt_reply},
                                     {NULL, NULL}};
  lcase_open(L);
  luaL_newmetatable(L, RT_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, rt_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
  lua_createtable(L, 0, 3); /* recoup */
  lua_pushcfunction(L, rt_format_money);
  lua_setfield(L, -2, "money");
  lua_pushcfunction(L, rt_format_date);
  lua_setfield(L, -2, "date");
  lua_pushstring(L, RECOUP_VERSION);
  lua_setfield(L, -2, "version");
  lua_setglobal(L, "recoup");
}

void lrt_push(lua_State *L, engine *eng) {
  lrt *rt = lua_newuserdatauv(L, sizeof *rt, 0);
  rt->eng = eng;
  luaL_setmetatable(L, RT_MT);
  lua_pushvalue(L, -1); /* rt rt */
  lua_setfield(L, LUA_REGISTRYINDEX, RT_CURRENT);
}
