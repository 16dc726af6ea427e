/* `case` and `borrower` in Lua. A case is a userdata holding only its id:
 * every field read goes to the engine, which reads the store (cached until
 * the next write), so a script never sees a stale copy. Methods translate
 * to engine and query calls; no SQL and no guard decision live here. One
 * does more than translate: case:send picks the template's text, fills
 * it, and supplies the recipient and whether it is a third party, the
 * facts the guard (in the engine) rules on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "recoup/engine.h"
#include "lua_json.h"
#include "script_priv.h"
#include "source.h"
#include "template.h"

#define CASE_MT "recoup.case"

/* What a handler may write into a case (docs/lua.md): copies made in C
 * are outside the Lua state's memory cap, so their size is bounded here,
 * before anything is copied. */
enum {
  SET_KEY_MAX = 128,         /* bytes of a case:set key */
  SET_VALUE_MAX = 64 * 1024, /* bytes of a case:set value (a task's fields,
                                a timer's data), as JSON */
  DATA_MAX = 256 * 1024,     /* bytes of a case's data, as JSON */
  NOTE_MAX = 4096,           /* bytes of a note */
  TAG_MAX = 64,              /* bytes of a tag */
  TAGS_MAX = 100             /* tags on a case */
};

typedef struct lcase {
  const char *tag; /* &case_mt_key (below): what check_case looks at */
  engine *eng;
  char id[1]; /* flexible: the case id, NUL-terminated */
} lcase;

/* The cases' metatable is also kept in the registry under this address,
 * and is the first upvalue of the methods and metamethods (lcase_open):
 * a look-up by name hashes and compares the name at every call (three a
 * reminder step, and one more for each case pushed). */
static const char case_mt_key = 0;

/* The cases a spec's or the REPL's rt gives (lcase_push_kept), held
 * weakly: lcase_forget ends them with their test, whose engine closes;
 * a script's handlers keep none past the event. */
static const char kept_key = 0;

static int ended(lua_State *L) {
  return luaL_error(L,
                    "this case is of a test that has ended: read it again "
                    "from the rt the test is given");
}

static lcase *check_case(lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  /* Only lcase_push writes the tag, and no script can reach another of
   * recoup's userdata (they are buffers on a binding's stack) or make
   * one: the tag says what the metatable would, for a third of the
   * calls (check_case was a tenth of a reminder's Lua cost). A light
   * userdata's raw length is 0. */
  if (p && lua_rawlen(L, idx) >= sizeof(lcase) &&
      ((const lcase *)p)->tag == &case_mt_key)
    return p;
  if (p && lua_getmetatable(L, idx)) {
    /* A function without that upvalue (none, or another) compares its
     * first upvalue, or nothing, unequal and asks the registry. */
    int same = lua_rawequal(L, -1, lua_upvalueindex(1));
    if (!same) {
      lua_rawgetp(L, LUA_REGISTRYINDEX, &case_mt_key);
      same = lua_rawequal(L, -1, -2);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (same) return p;
  }
  return luaL_checkudata(L, idx, CASE_MT); /* raises the usual error */
}

/* Raises err as a Lua error: luaL_error longjmps, so this never returns. */
static void raise_error(lua_State *L, const rc_error *err) {
  luaL_error(L, "%s", err->message);
}

static const store_case *view(lua_State *L, lcase *lc) {
  rc_error err;
  const store_case *c = engine_case_view(lc->eng, lc->id, &err);
  if (!c) raise_error(L, &err);
  return c;
}

void lcase_push(lua_State *L, engine *eng, const char *case_id) {
  size_t n = strlen(case_id);
  lcase *lc = lua_newuserdatauv(L, sizeof *lc + n, 0);
  script *sc = script_of(L);
  lc->tag = &case_mt_key;
  lc->eng = eng;
  memcpy(lc->id, case_id, n + 1);
  /* A slot of the registry's array where there is one: found by its
   * address, the metatable is a hash look-up (a hundred instructions). */
  if (sc)
    lua_rawgeti(L, LUA_REGISTRYINDEX, sc->case_mt_ref);
  else
    lua_rawgetp(L, LUA_REGISTRYINDEX, &case_mt_key);
  lua_setmetatable(L, -2);
}

void lcase_push_kept(lua_State *L, engine *eng, const char *case_id) {
  lcase_push(L, eng, case_id);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kept_key) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 4); /* case kept */
    lua_createtable(L, 0, 1); /* case kept mt */
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &kept_key);
  }
  lua_pushvalue(L, -2); /* case kept case */
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1); /* case */
}

/* An ended case trades its metatable for one whose every use raises:
 * check_case, on every call of a handler, stays without a test of the
 * engine. */
void lcase_forget(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kept_key) == LUA_TTABLE) {
    lua_createtable(L, 0, 3); /* kept mt */
    lua_pushcfunction(L, ended);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, ended);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "ended case");
    lua_setfield(L, -2, "__name");
    lua_pushnil(L); /* kept mt nil */
    while (lua_next(L, -3)) {
      ((lcase *)lua_touserdata(L, -2))->eng = NULL;
      lua_pushvalue(L, -3); /* kept mt case true mt */
      lua_setmetatable(L, -3);
      lua_pop(L, 1);
    }
    lua_pop(L, 1); /* kept: the ended metatable popped */
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kept_key);
}

/* Parses a time argument: ISO date/time or a duration from now. */
static rc_time time_arg(lua_State *L, engine *eng, int idx) {
  rc_error err;
  rc_time t;
  const char *s = luaL_checkstring(L, idx);
  if (clock_parse_time(engine_clock(eng), s, &t, &err) != RC_OK)
    raise_error(L, &err);
  return t;
}

static void push_borrower(lua_State *L, engine *eng, const char *id);

/* A name the core keeps as C text (an event, a queue, a task kind, a
 * channel, a template): Lua strings may hold a NUL, which would cut it
 * there ('phone\0x' kept as 'phone', a rule checked on the part only).
 * Refused as the script's error naming what; NULL (not a string) is
 * passed on. */
static const char *name_at(lua_State *L, int idx, const char *what) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  const char *nul = s ? memchr(s, '\0', len) : NULL;
  if (nul)
    luaL_error(L,
               "%s holds a NUL byte (at byte %d of %d): a name is kept as "
               "text, which ends at a NUL",
               what, (int)(nul - s) + 1, (int)len);
  return s;
}

static const char *name_arg(lua_State *L, int idx, const char *what) {
  luaL_checkstring(L, idx);
  return name_at(L, idx, what);
}

/* Text a person will read: valid UTF-8 without NUL (or control bytes
 * other than tab and newlines), at most max bytes. Raises naming what. */
static const char *text_arg(lua_State *L, int idx, const char *what,
                            size_t max) {
  size_t len;
  const char *s = luaL_checklstring(L, idx, &len);
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  if (len > max)
    luaL_error(L, "%s is %d bytes; at most %d are kept", what, (int)len,
               (int)max);
  while (p < end) {
    int n = *p < 0x80             ? 1
            : (*p & 0xe0) == 0xc0 ? 2
            : (*p & 0xf0) == 0xe0 ? 3
            : (*p & 0xf8) == 0xf0 ? 4
                                  : 0;
    uint32_t c;
    if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
      char msg[160];
      snprintf(msg, sizeof msg, "%s holds a control byte (0x%02x) at byte %d",
               what, (unsigned)*p, (int)(p - (const unsigned char *)s) + 1);
      luaL_error(L, "%s", msg);
    }
    if (n == 0 || end - p < n) goto bad;
    c = n == 1 ? *p : (uint32_t)(*p & (0x7f >> n));
    for (int i = 1; i < n; i++) {
      if ((p[i] & 0xc0) != 0x80) goto bad;
      c = c << 6 | (p[i] & 0x3f);
    }
    /* overlong forms, surrogates and beyond U+10FFFF */
    if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) ||
        (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
      goto bad;
    p += n;
  }
  return s;
bad:
  luaL_error(L, "%s is not valid UTF-8 (at byte %d)", what,
             (int)(p - (const unsigned char *)s) + 1);
  return NULL;
}

/* The size of a value as JSON, roughly and from above, walking no further
 * than max: what case:set would copy. The walk is charged to the budget. */
static size_t json_size(lua_State *L, int idx, int depth, size_t max) {
  size_t total = 0;
  idx = lua_absindex(L, idx);
  /* Deeper than ljson_from_lua converts: it refuses the value, saying
   * so, before it copies anything below this depth. */
  if (depth > 32) return 0;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t len;
      lua_tolstring(L, idx, &len);
      return len + 2;
    }
    case LUA_TTABLE:
      luaL_checkstack(L, 3, "nested table");
      lua_pushnil(L);
      while (total <= max && lua_next(L, idx)) { /* k v */
        sandbox_charge(L, 1);
        total += json_size(L, -2, depth + 1, max) +
                 json_size(L, -1, depth + 1, max) + 2;
        lua_pop(L, 1);
      }
      if (total > max) lua_pop(L, 1); /* the key lua_next left */
      return total + 2;
    default:
      return 24; /* a number, a boolean, null */
  }
}

/* Collects plan rows into { id, total, status, installments = {...} }. */
static int plan_row(void *ud, const store_value *cols, int n) {
  lua_State *L = ud;
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);
    lua_newtable(L);
    lua_setfield(L, -2, "installments");
  }
  lua_getfield(L, -1, "installments");
  lua_createtable(L, 0, 6);
  for (int i = 0; i < n; i++) {
    const store_value *v = &cols[i];
    int top_level = strcmp(v->name, "plan") == 0 ||
                    strcmp(v->name, "total") == 0 ||
                    strcmp(v->name, "plan_status") == 0;
    if (v->type == STORE_INT)
      lua_pushinteger(L, v->i);
    else if (v->type == STORE_TEXT)
      lua_pushstring(L, v->s);
    else
      continue;
    if (top_level)
      lua_setfield(L, -4,
                   strcmp(v->name, "plan") == 0    ? "id"
                   : strcmp(v->name, "total") == 0 ? "total"
                                                   : "status");
    else
      lua_setfield(L, -2, v->name);
  }
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  lua_pop(L, 1);
  return 0;
}

static void push_plan(lua_State *L, engine *eng, const char *case_id) {
  rc_error err;
  lua_pushnil(L);
  if (query_plan(engine_query(eng), case_id, plan_row, L, &err) != RC_OK)
    luaL_error(L, "%s", err.message);
}

/* The case fields __index knows. */
enum case_field {
  F_NONE,
  F_ID,
  F_STATE,
  F_WORKFLOW,
  F_VERSION,
  F_ERROR,
  F_CLOSED,
  F_OUTCOME,
  F_PRODUCT,
  F_CURRENCY,
  F_PRINCIPAL,
  F_BALANCE,
  F_AMOUNT_DUE,
  F_FEES,
  F_OVERPAID,
  F_DUE_DATE,
  F_DPD,
  F_QUEUE,
  F_ON_HOLD,
  F_SCORE,
  F_OPENED_AT,
  F_TAGS,
  F_DATA,
  F_CURRENT_PROMISE,
  F_CURRENT_PLAN,
  F_BORROWER
};

static const char *const case_field_names[] = {
    [F_NONE] = "",
    [F_ID] = "id",
    [F_STATE] = "state",
    [F_WORKFLOW] = "workflow",
    [F_VERSION] = "version",
    [F_ERROR] = "error",
    [F_CLOSED] = "closed",
    [F_OUTCOME] = "outcome",
    [F_PRODUCT] = "product",
    [F_CURRENCY] = "currency",
    [F_PRINCIPAL] = "principal",
    [F_BALANCE] = "balance",
    [F_AMOUNT_DUE] = "amount_due",
    [F_FEES] = "fees",
    [F_OVERPAID] = "overpaid",
    [F_DUE_DATE] = "due_date",
    [F_DPD] = "dpd",
    [F_QUEUE] = "queue",
    [F_ON_HOLD] = "on_hold",
    [F_SCORE] = "score",
    [F_OPENED_AT] = "opened_at",
    [F_TAGS] = "tags",
    [F_DATA] = "data",
    [F_CURRENT_PROMISE] = "current_promise",
    [F_CURRENT_PLAN] = "current_plan",
    [F_BORROWER] = "borrower",
};

/* Only names with the key's first byte are compared: a strcmp chain
 * from "id" took eleven calls to reach "balance" (0.5k instructions a
 * reminder step). */
static enum case_field case_field_of(const char *k) {
  for (int f = F_ID; f <= F_BORROWER; f++)
    if (case_field_names[f][0] == k[0] && strcmp(case_field_names[f], k) == 0)
      return (enum case_field)f;
  return F_NONE;
}

/* __index, with the methods table as its second upvalue: a method is
 * found by the key the script gave, already a Lua string, and a field by
 * its name after that. */
static int case_index(lua_State *L) {
  lcase *lc = check_case(L, 1);
  const char *key = luaL_checkstring(L, 2);
  const store_case *c;
  lua_pushvalue(L, 2);
  if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL) return 1;
  lua_pop(L, 1);
  c = view(L, lc);
  switch (case_field_of(key)) {
    case F_ID:
      lua_pushstring(L, c->id);
      break;
    case F_STATE:
      lua_pushstring(L, c->state);
      break;
    case F_WORKFLOW:
      lua_pushstring(L, c->workflow);
      break;
    case F_VERSION:
      lua_pushinteger(L, c->version);
      break;
    case F_ERROR:
      lua_pushstring(L, c->error);
      break;
    case F_CLOSED:
      lua_pushboolean(L, c->closed);
      break;
    case F_OUTCOME:
      lua_pushstring(L, c->outcome);
      break;
    case F_PRODUCT:
      lua_pushstring(L, c->product);
      break;
    case F_CURRENCY:
      lua_pushstring(L, c->currency);
      break;
    case F_PRINCIPAL:
      lua_pushinteger(L, c->principal);
      break;
    case F_BALANCE:
      lua_pushinteger(L, c->balance);
      break;
    case F_AMOUNT_DUE:
      lua_pushinteger(L, c->amount_due);
      break;
    case F_FEES:
      lua_pushinteger(L, c->fees);
      break;
    case F_OVERPAID:
      lua_pushinteger(L, c->overpaid);
      break;
    case F_DUE_DATE:
      lua_pushstring(L, c->due_date);
      break;
    case F_DPD:
      lua_pushinteger(L, engine_case_dpd(lc->eng, c));
      break;
    case F_QUEUE:
      lua_pushstring(L, c->queue);
      break;
    case F_ON_HOLD:
      lua_pushboolean(L, c->on_hold);
      break;
    case F_SCORE:
      if (c->has_score)
        lua_pushnumber(L, c->score);
      else
        lua_pushnil(L);
      break;
    case F_OPENED_AT: {
      char at[40];
      clock_zone_format(clock_zone(engine_clock(lc->eng)), c->opened_at, at,
                        sizeof at);
      lua_pushstring(L, at);
      break;
    }
    case F_TAGS:
      ljson_push_text(L, c->tags);
      break;
    case F_DATA:
      ljson_push_text(L, c->data);
      break;
    case F_CURRENT_PROMISE: {
      store_promise p;
      rc_error err;
      int rc = query_promise_open(engine_query(lc->eng), c->id, &p, &err);
      if (rc != RC_OK && rc != RC_ENOTFOUND)
        return luaL_error(L, "%s", err.message);
      if (rc == RC_ENOTFOUND) {
        lua_pushnil(L);
      } else {
        lua_createtable(L, 0, 5);
        lua_pushinteger(L, p.id);
        lua_setfield(L, -2, "id");
        lua_pushinteger(L, p.amount);
        lua_setfield(L, -2, "amount");
        lua_pushinteger(L, p.paid);
        lua_setfield(L, -2, "paid");
        lua_pushstring(L, p.by_date);
        lua_setfield(L, -2, "by");
        lua_pushstring(L, p.status);
        lua_setfield(L, -2, "status");
      }
      break;
    }
    case F_CURRENT_PLAN:
      push_plan(L, lc->eng, c->id);
      break;
    case F_BORROWER: {
      char *bid = strdup(c->borrower_id);
      push_borrower(L, lc->eng, bid);
      free(bid);
      break;
    }
    case F_NONE:
      lua_pushnil(L);
      break;
  }
  return 1;
}

static int case_newindex(lua_State *L) {
  return luaL_error(L,
                    "case fields are read-only; use case:set(\"%s\", "
                    "value) for custom data",
                    luaL_optstring(L, 2, "?"));
}

static int case_tostring(lua_State *L) {
  lcase *lc = check_case(L, 1);
  rc_error err;
  const store_case *c = engine_case_view(lc->eng, lc->id, &err);
  if (c)
    lua_pushfstring(L, "case %s (%s, balance %I)", c->id, c->state,
                    (lua_Integer)c->balance);
  else
    lua_pushfstring(L, "case %s (gone)", lc->id);
  return 1;
}

static int case_eq(lua_State *L) {
  lcase *a = check_case(L, 1), *b = check_case(L, 2);
  lua_pushboolean(L, strcmp(a->id, b->id) == 0);
  return 1;
}

/* Optional data table and {keep = true} after the event name. */
static void timer_tail(lua_State *L, int idx, char **data, int *keep) {
  int opts = 0;
  *data = NULL;
  *keep = 0;
  if (lua_istable(L, idx + 1)) {
    opts = idx + 1;
  } else if (lua_istable(L, idx)) {
    /* One table: options when it holds only `keep`. */
    lua_getfield(L, idx, "keep");
    if (lua_isboolean(L, -1)) {
      int n = 0;
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        n++;
        lua_pop(L, 1);
      }
      if (n == 1) opts = idx;
    }
    lua_pop(L, 1);
  }
  if (opts) {
    lua_getfield(L, opts, "keep");
    *keep = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  if (lua_istable(L, idx) && opts != idx) {
    char msg[256];
    json_t *j;
    if (json_size(L, idx, 0, SET_VALUE_MAX) > SET_VALUE_MAX)
      luaL_error(L, "timer data is larger than %d bytes as JSON",
                 SET_VALUE_MAX);
    if (!(j = ljson_from_lua(L, idx, msg, sizeof msg)))
      luaL_error(L, "timer data: %s", msg);
    *data = ljson_dump(j);
    json_decref(j);
  } else if (!lua_isnoneornil(L, idx) && !lua_istable(L, idx)) {
    luaL_typeerror(L, idx, "table");
  }
}

static int add_timer(lua_State *L, lcase *lc, rc_time due, int event_idx) {
  const char *event = name_arg(L, event_idx, "the timer's event");
  char *data;
  int keep, rc;
  rc_error err;
  timer_tail(L, event_idx + 1, &data, &keep);
  rc = engine_timer(lc->eng, lc->id, due, event, data, keep, &err);
  free(data);
  if (rc != RC_OK) raise_error(L, &err);
  return 0;
}

static int case_after(lua_State *L) {
  lcase *lc = check_case(L, 1);
  rc_duration d;
  rc_error err;
  rc_clock *clk = engine_clock(lc->eng);
  if (clock_parse_duration(luaL_checkstring(L, 2), &d, &err) != RC_OK)
    raise_error(L, &err);
  return add_timer(L, lc, clock_zone_add(clock_zone(clk), clock_now(clk), &d),
                   3);
}

static int case_at(lua_State *L) {
  lcase *lc = check_case(L, 1);
  return add_timer(L, lc, time_arg(L, lc->eng, 2), 3);
}

static int case_at_dpd(lua_State *L) {
  lcase *lc = check_case(L, 1);
  lua_Integer n = luaL_checkinteger(L, 2);
  const store_case *c = view(L, lc);
  rc_date due;
  rc_clock *clk = engine_clock(lc->eng);
  rc_time at;
  if (!c->due_date || clock_parse_date(c->due_date, &due) != RC_OK)
    return luaL_error(L, "case:at_dpd: case %s has no due_date", lc->id);
  if (n < 0 || n > 36500)
    return luaL_error(L,
                      "case:at_dpd: days past due must be 0..36500 (a day "
                      "before the due date: case:at with that date, "
                      "docs/lua.md \"Before the due date, and holidays\")");
  /* The start of the day on which dpd reaches n, in the institution's
   * zone; a day already past fires at once. */
  at = clock_zone_midnight(clock_zone(clk),
                           clock_date_from_days(clock_date_to_days(due) + n));
  if (at < clock_now(clk)) at = clock_now(clk);
  return add_timer(L, lc, at, 3);
}

static int case_cancel(lua_State *L) {
  lcase *lc = check_case(L, 1);
  int n = 0;
  rc_error err;
  if (engine_cancel(lc->eng, lc->id, name_arg(L, 2, "case:cancel: the event"),
                    &n, &err))
    raise_error(L, &err);
  lua_pushinteger(L, n);
  return 1;
}

static int case_set(lua_State *L) {
  lcase *lc = check_case(L, 1);
  const char *key = text_arg(L, 2, "case:set: the key", SET_KEY_MAX);
  char msg[256], *text;
  json_t *j;
  rc_error err;
  int rc;
  size_t size, data;
  luaL_checkany(L, 3);
  if ((size = json_size(L, 3, 0, SET_VALUE_MAX)) > SET_VALUE_MAX)
    return luaL_error(L,
                      "case:set(\"%s\"): the value is larger than %d "
                      "bytes as JSON",
                      key, SET_VALUE_MAX);
  data = view(L, lc)->data ? strlen(view(L, lc)->data) : 0;
  if (data + size > DATA_MAX)
    return luaL_error(L,
                      "case:set(\"%s\"): a case's data holds at most %d "
                      "bytes as JSON (it has %d)",
                      key, DATA_MAX, (int)data);
  if (!(j = ljson_from_lua(L, 3, msg, sizeof msg)))
    return luaL_error(L, "case:set(\"%s\"): %s", key, msg);
  text = ljson_dump(j);
  json_decref(j);
  rc = engine_set_data(lc->eng, lc->id, key, text, &err);
  free(text);
  if (rc != RC_OK) raise_error(L, &err);
  return 0;
}

static int case_tag(lua_State *L) {
  lcase *lc = check_case(L, 1);
  const char *tag = text_arg(L, 2, "case:tag: the tag", TAG_MAX);
  const store_case *c = view(L, lc);
  json_t *tags = json_loads(c->tags ? c->tags : "[]", 0, NULL), *t;
  size_t i;
  int found = 0, rc = RC_OK;
  rc_error err;
  if (!tags) tags = json_array();
  json_array_foreach(tags, i, t) found |=
      json_is_string(t) && strcmp(json_string_value(t), tag) == 0;
  if (!found && json_array_size(tags) >= TAGS_MAX) {
    json_decref(tags);
    return luaL_error(L, "case:tag: a case has at most %d tags", TAGS_MAX);
  }
  if (!found) {
    char *text;
    json_array_append_new(tags, json_string(tag));
    text = ljson_dump(tags);
    rc = engine_set_tags(lc->eng, lc->id, tag, text, &err);
    free(text);
  }
  json_decref(tags);
  if (rc != RC_OK) raise_error(L, &err);
  return 0;
}

static int case_assign(lua_State *L) {
  lcase *lc = check_case(L, 1);
  rc_error err;
  if (engine_assign(lc->eng, lc->id, name_arg(L, 2, "case:assign: the queue"),
                    &err))
    raise_error(L, &err);
  return 0;
}

static int case_note(lua_State *L) {
  lcase *lc = check_case(L, 1);
  rc_error err;
  if (engine_note(lc->eng, lc->id,
                  text_arg(L, 2, "case:note: the text", NOTE_MAX), &err))
    raise_error(L, &err);
  return 0;
}

static int case_variant(lua_State *L) {
  lcase *lc = check_case(L, 1);
  const char *experiment = name_arg(L, 2, "case:variant: the experiment");
  const char *arms[32];
  int weights[32], n = 0, rc;
  char arm[64];
  rc_error err;
  luaL_checktype(L, 3, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 3)) {
    if (n == 32) return luaL_error(L, "case:variant: at most 32 arms");
    if (lua_type(L, -2) != LUA_TSTRING || !lua_isinteger(L, -1) ||
        lua_tointeger(L, -1) < 0 || lua_tointeger(L, -1) > 1000000)
      return luaL_error(L, "case:variant: arms are { A = 50, B = 50 }");
    arms[n] = name_at(L, -2, "case:variant: an arm");
    weights[n++] = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  /* Table order is not stable; sort arms so the pick is. */
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(arms[j - 1], arms[j]) > 0; j--) {
      const char *ta = arms[j];
      int tw = weights[j];
      arms[j] = arms[j - 1];
      weights[j] = weights[j - 1];
      arms[j - 1] = ta;
      weights[j - 1] = tw;
    }
  rc = engine_variant(lc->eng, lc->id, experiment, arms, weights, n, arm,
                      sizeof arm, &err);
  if (rc != RC_OK) raise_error(L, &err);
  lua_pushstring(L, arm);
  return 1;
}

void lcase_push_row(lua_State *L, engine *eng, const store_value *cols, int n) {
  json_t **held;
  lua_createtable(L, 0, n);
  held = ljson_hold(); /* a column's JSON while it is pushed */
  for (int i = 0; i < n; i++) {
    const store_value *v = &cols[i];
    int kind = query_column_kind(v->name);
    if (v->type == STORE_NULL) continue;
    if (kind == QUERY_JSON && v->type == STORE_TEXT) {
      json_t *o = *held = json_loads(v->s, JSON_DECODE_ANY, NULL);
      int spread =
          strcmp(v->name, "fields") == 0 || strcmp(v->name, "result") == 0;
      if (!spread) {
        if (o)
          ljson_push(L, o);
        else
          lua_pushstring(L, v->s);
        lua_setfield(L, -2, v->name);
      } else if (json_is_object(o)) {
        /* Spread task fields and results over the row, as specs expect. */
        const char *k;
        json_t *x;
        json_object_foreach(o, k, x) {
          if (lua_getfield(L, -1, k) == LUA_TNIL) {
            ljson_push(L, x);
            lua_setfield(L, -3, k);
          }
          lua_pop(L, 1);
        }
      }
      ljson_release(held);
      continue;
    }
    if (kind == QUERY_TIME && v->type == STORE_INT) {
      char at[40];
      clock_zone_format(clock_zone(engine_clock(eng)), v->i, at, sizeof at);
      lua_pushstring(L, at);
    } else if (v->type == STORE_INT) {
      lua_pushinteger(L, v->i);
    } else if (v->type == STORE_REAL) {
      lua_pushnumber(L, v->r);
    } else {
      lua_pushstring(L, v->s);
    }
    lua_setfield(L, -2, v->name);
  }
}

typedef struct row_sink {
  lua_State *L;
  engine *eng;
} row_sink;

/* Appends each store row to the array on top of the stack. */
static int push_row(void *ud, const store_value *cols, int n) {
  row_sink *r = ud;
  lcase_push_row(r->L, r->eng, cols, n);
  lua_rawseti(r->L, -2, (lua_Integer)luaL_len(r->L, -2) + 1);
  return 0;
}

static int case_history(lua_State *L) {
  lcase *lc = check_case(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 0);
  row_sink r = {L, lc->eng};
  rc_error err;
  lua_newtable(L);
  /* The rows this event wrote so far are part of the history it reads. */
  if (engine_journal_flush(lc->eng, &err) != RC_OK ||
      query_journal(engine_query(lc->eng), lc->id, (int)n, push_row, &r,
                    &err) != RC_OK)
    return luaL_error(L, "%s", err.message);
  return 1;
}

/* --- messages and tasks --------------------------------------------- */

/* What a send's placeholders are filled from. A text handed to the
 * renderer need only live until it is put, before the next look-up:
 * only a look-up runs Lua (a {vars.*} value's __tostring, which may
 * write to the case and drop the engine's cached reads). So the case's,
 * the borrower's and the institution's texts are handed over where they
 * are, and one made here is made in text; a text Lua made stays on its
 * stack. Pushing each (interning it) cost more than the rendering. */
typedef struct send_fill {
  lua_State *L;
  lcase *lc;
  int vars; /* stack index of the vars table, 0 when none */
  const char *locale;
  int body_at;   /* stack index of the body once it outgrew the C buffer */
  char text[40]; /* a number or a date made for one placeholder */
  script *names; /* keeps the fields of a plan's names (send_field), or NULL */
} send_fill;

static template_value text_of(const char *s) {
  template_value v = {TEMPLATE_TEXT, s ? s : "", 0, 0};
  return v;
}

/* What a placeholder's name asks for: the name's prefix and field. */
enum send_field {
  SF_MISSING, /* no name a send fills */
  SF_VARS,
  SF_B_NAME, /* borrower.*, as borrower_at reads them */
  SF_B_ID,
  SF_B_PHONE,
  SF_B_EMAIL,
  SF_B_ADDRESS,
  SF_B_EMPLOYER_NAME,
  SF_B_LOCALE,
  SF_B_TIMEZONE,
  SF_B_NONE, /* borrower.x: no field, no value */
  SF_C_BALANCE,
  SF_C_AMOUNT_DUE,
  SF_C_FEES,
  SF_C_PRINCIPAL,
  SF_C_DUE_DATE,
  SF_C_DPD,
  SF_C_OPENED_AT,
  SF_C_OTHER, /* read as the script reads case.x */
  SF_I_NAME,
  SF_I_CONTACT_PHONE,
  SF_I_TIMEZONE,
  SF_I_CURRENCY
};

/* The names a send fills by field: {borrower.*} those recoup check lets
 * a template name. Read once a plan's name (send_field): a table. */
static const struct {
  const char *name;
  enum send_field field;
} send_fields[] = {
    {"borrower.name", SF_B_NAME},
    {"borrower.id", SF_B_ID},
    {"borrower.phone", SF_B_PHONE},
    {"borrower.email", SF_B_EMAIL},
    {"borrower.address", SF_B_ADDRESS},
    {"borrower.employer_name", SF_B_EMPLOYER_NAME},
    {"borrower.locale", SF_B_LOCALE},
    {"borrower.timezone", SF_B_TIMEZONE},
    {"case.balance", SF_C_BALANCE},
    {"case.amount_due", SF_C_AMOUNT_DUE},
    {"case.fees", SF_C_FEES},
    {"case.principal", SF_C_PRINCIPAL},
    {"case.due_date", SF_C_DUE_DATE},
    {"case.dpd", SF_C_DPD},
    {"case.opened_at", SF_C_OPENED_AT},
    {"institution.name", SF_I_NAME},
    {"institution.contact_phone", SF_I_CONTACT_PHONE},
    {"institution.timezone", SF_I_TIMEZONE},
    {"institution.currency", SF_I_CURRENCY},
};

static enum send_field send_field_of(const char *name) {
  if (strncmp(name, "vars.", 5) == 0) return SF_VARS;
  for (size_t i = 0; i < sizeof send_fields / sizeof *send_fields; i++)
    if (strcmp(name, send_fields[i].name) == 0) return send_fields[i].field;
  if (strncmp(name, "borrower.", 9) == 0) return SF_B_NONE;
  if (strncmp(name, "case.", 5) == 0) return SF_C_OTHER;
  return SF_MISSING;
}

/* The field of a name a plan keeps (stable: its address is the plan's,
 * for the script's life) is read once and then found by that address:
 * the prefixes and names compared were a third of a send's look-ups. A
 * name rendered without a plan lives on template_render's stack, where
 * the next name takes the same address: read each time. */
static enum send_field send_field(const send_fill *sf, const char *name) {
  script *sc = sf->names;
  enum send_field f;
  if (!sc) return send_field_of(name);
  for (int i = 0; i < sc->nsend_names; i++)
    if (sc->send_names[i].name == name)
      return (enum send_field)sc->send_names[i].field;
  f = send_field_of(name);
  if (sc->nsend_names < SCRIPT_SEND_NAMES) {
    sc->send_names[sc->nsend_names].name = name;
    sc->send_names[sc->nsend_names++].field = f;
  }
  return f;
}

static const char *first_contact(const store_borrower *b, const char *kind);

static const char *borrower_at(const store_borrower *b, enum send_field f) {
  switch (f) {
    case SF_B_NAME:
      return b->name;
    case SF_B_ID:
      return b->id;
    case SF_B_PHONE:
      return first_contact(b, "phone");
    case SF_B_EMAIL:
      return first_contact(b, "email");
    case SF_B_ADDRESS:
      return b->address;
    case SF_B_EMPLOYER_NAME:
      return b->employer_name;
    case SF_B_LOCALE:
      return b->locale;
    case SF_B_TIMEZONE:
      return b->timezone;
    default:
      return NULL;
  }
}

/* The body once it outgrows case:send's C buffer: a userdata on the Lua
 * stack, twice as big each time, so the text is rendered once (a value's
 * __tostring runs once). Making it runs no Lua (the sandbox lets scripts
 * no finalizer), so the text being put is still where the lookup left it. */
static char *send_grow(void *ud, const char *buf, size_t used, size_t need,
                       size_t *size) {
  send_fill *sf = ud;
  lua_State *L = sf->L;
  size_t n = *size * 2 > need ? *size * 2 : need;
  char *big;
  luaL_checkstack(L, 1, "case:send: body");
  big = lua_newuserdatauv(L, n, 0); /* ... body */
  memcpy(big, buf, used);
  if (sf->body_at)
    lua_replace(L, sf->body_at); /* the smaller one let go */
  else
    sf->body_at = lua_gettop(L);
  *size = n;
  return big;
}

/* t[key] as Lua makes it text, none where it is nil. Its text stays on
 * the stack until the body is rendered: room is asked for by the
 * placeholders that push, not by every one. */
static template_value field_text(lua_State *L, int t, const char *key,
                                 int none) {
  template_value v = {TEMPLATE_TEXT, NULL, 0, 0};
  luaL_checkstack(L, 4, "too many placeholders");
  if (lua_getfield(L, t, key) == LUA_TNIL) {
    lua_pop(L, 1);
    v.kind = none;
    return v;
  }
  v.text = luaL_tolstring(L, -1, &v.len);
  lua_remove(L, -2);
  return v;
}

static template_value send_lookup(void *ud, const char *name) {
  send_fill *sf = ud;
  lua_State *L = sf->L;
  lcase *lc = sf->lc;
  const institution_config *cfg;
  const store_case *c;
  template_value v = {TEMPLATE_TEXT, NULL, 0, 0};
  enum send_field f = send_field(sf, name);
  switch (f) {
    case SF_VARS:
      if (!sf->vars) {
        v.kind = TEMPLATE_MISSING;
        return v;
      }
      return field_text(L, sf->vars, name + 5, TEMPLATE_MISSING);
    case SF_B_NAME:
    case SF_B_ID:
    case SF_B_PHONE:
    case SF_B_EMAIL:
    case SF_B_ADDRESS:
    case SF_B_EMPLOYER_NAME:
    case SF_B_LOCALE:
    case SF_B_TIMEZONE:
    case SF_B_NONE: {
      /* Asked again each time: a {vars.*} value's __tostring may have
       * written to the case, which drops the engine's cached read. */
      rc_error err;
      const store_borrower *bv =
          engine_borrower_view(lc->eng, view(L, lc)->borrower_id, &err);
      if (!bv) raise_error(L, &err);
      v.text = borrower_at(bv, f);
      if (!v.text) v.kind = TEMPLATE_UNSET;
      return v;
    }
    case SF_C_BALANCE:
    case SF_C_AMOUNT_DUE:
    case SF_C_FEES:
    case SF_C_PRINCIPAL:
      c = view(L, lc);
      v.kind = TEMPLATE_MONEY;
      v.minor = f == SF_C_BALANCE      ? c->balance
                : f == SF_C_AMOUNT_DUE ? c->amount_due
                : f == SF_C_FEES       ? c->fees
                                       : c->principal;
      return v;
    case SF_C_DUE_DATE:
      v = text_of(view(L, lc)->due_date);
      v.kind = TEMPLATE_DATE;
      return v;
    case SF_C_DPD: {
      /* case.dpd's text, not through Lua */
      char *p = sf->text + sizeof sf->text;
      int dpd = engine_case_dpd(lc->eng, view(L, lc));
      unsigned u = dpd < 0 ? 0u - (unsigned)dpd : (unsigned)dpd;
      *--p = '\0';
      do *--p = (char)('0' + u % 10);
      while (u /= 10);
      if (dpd < 0) *--p = '-';
      return text_of(p);
    }
    case SF_C_OPENED_AT:
      clock_zone_format(clock_zone(engine_clock(lc->eng)),
                        view(L, lc)->opened_at, sf->text, sizeof sf->text);
      sf->text[10] = '\0';
      v = text_of(sf->text);
      v.kind = TEMPLATE_DATE;
      return v;
    case SF_C_OTHER:
      view(L, lc);
      return field_text(L, 1, name + 5, TEMPLATE_UNSET);
    case SF_I_NAME:
    case SF_I_CONTACT_PHONE:
    case SF_I_TIMEZONE:
    case SF_I_CURRENCY:
      cfg = script_config(engine_script(lc->eng));
      return text_of(f == SF_I_NAME ? institution_name(cfg, sf->locale)
                     : f == SF_I_CONTACT_PHONE ? cfg->contact_phone
                     : f == SF_I_TIMEZONE      ? cfg->timezone
                                               : cfg->currency);
    case SF_MISSING:
      break;
  }
  /* A name the load's check refuses ({foo}, {institution.bogus}) in a
   * text a script built or changed at run time (templates' tables are
   * the script's own): an error of the send, not a blank. */
  v.kind = TEMPLATE_MISSING;
  return v;
}

/* The length of locale's language, "zh" of "zh-CN": strcspn with its
 * set cost as much as the rest of a send's choice of text. */
static size_t language_len(const char *locale) {
  size_t n = 0;
  while (locale[n] && locale[n] != '-' && locale[n] != '_') n++;
  return n;
}

/* RFC 5646 2.1.1's casing (language lower, a four-letter script title, a
 * two-letter region upper): tags compare without regard to case, and a
 * borrower's is kept as its file wrote it ("zh-cn"), where the scripts'
 * texts are keyed "zh-CN". */
int script_tag_cased(const char *tag, char *out, size_t size) {
  size_t i = 0, start = 0;
  int differs = 0;
  for (;; i++) {
    if (i + 1 >= size) return 0;
    if (tag[i] && tag[i] != '-' && tag[i] != '_') continue;
    for (size_t k = start; k < i; k++) {
      unsigned char c = (unsigned char)tag[k];
      int upper = start > 0 && (i - start == 2 || (i - start == 4 && k == start));
      unsigned char want = upper && c >= 'a' && c <= 'z'    ? c - 32
                           : !upper && c >= 'A' && c <= 'Z' ? c + 32
                                                            : c;
      differs |= want != c;
      out[k] = (char)want;
    }
    out[i] = tag[i];
    if (!tag[i]) return differs;
    start = i + 1;
  }
}

/* Picks the text of a template for a channel and locale: the recipient's
 * locale (as written, then in its usual casing), then its language (en for
 * en-GB), then the institution's locale, then English, then any. *lang:
 * the language of the text. */
static const char *pick_text(lua_State *L, int def, int channel,
                             const char *locale, const char *home,
                             const char **lang) {
  int t;
  char language[16], cased[40];
  const char *tries[5] = {locale, NULL, language, home, "en"};
  size_t n = language_len(locale);
  if (n >= sizeof language) n = sizeof language - 1;
  for (size_t k = 0; k < n; k++) /* en of en-GB, zh of ZH-cn */
    language[k] = locale[k] >= 'A' && locale[k] <= 'Z' ? locale[k] + 32
                                                       : locale[k];
  language[n] = '\0';
  *lang = locale;
  lua_pushvalue(L, channel); /* as Lua has it: not interned again */
  t = lua_gettable(L, def);
  if (t == LUA_TSTRING) return lua_tostring(L, -1);
  if (t != LUA_TTABLE) return NULL;
  for (int i = 0; i < 5; i++) {
    /* Cased only once the tag as written found nothing: the usual case. */
    if (i == 1 && script_tag_cased(locale, cased, sizeof cased)) tries[1] = cased;
    if (tries[i] && lua_getfield(L, -1, tries[i]) == LUA_TSTRING) {
      /* language and cased are on the C stack: the caller keeps locale,
       * home is the institution's, "en" a literal. */
      int own = tries[i] == language || tries[i] == cased;
      if (own) {
        lua_pushstring(L, tries[i]);
        lua_insert(L, -3); /* lang text tbl -> text kept below */
      }
      *lang = own ? lua_tostring(L, -3) : tries[i];
      lua_replace(L, -2);
      return lua_tostring(L, -1);
    }
    if (tries[i]) lua_pop(L, 1);
  }
  lua_pushnil(L);
  if (lua_next(L, -2)) {
    *lang = lua_tostring(L, -2); /* the template table keeps it */
    lua_replace(L, -3);
    lua_pop(L, 1);
    return lua_tostring(L, -1);
  }
  return NULL;
}

/* The borrower's first contact point of a kind ("phone", "email"). */
static const char *first_contact(const store_borrower *b, const char *kind) {
  for (int i = 0; i < b->ncontacts; i++)
    if (strcmp(b->contacts[i].kind, kind) == 0) return b->contacts[i].value;
  return NULL;
}

/* Who a message goes to: the borrower's own contact point for the channel,
 * the employer, home, or a third party named by name or relation. */
static const char *recipient_of(const store_borrower *b, const char *channel,
                                const char *to) {
  int postal = strcmp(channel, "letter") == 0 || strcmp(channel, "visit") == 0;
  if (!to || strcmp(to, "borrower") == 0)
    return postal ? b->address
                  : first_contact(
                        b, strcmp(channel, "email") == 0 ? "email" : "phone");
  if (strcmp(to, "employer") == 0)
    return strcmp(channel, "letter") == 0 ? b->employer_address
                                          : b->employer_phone;
  if (strcmp(to, "home") == 0) return b->address;
  for (int i = 0; i < b->ncontacts; i++) {
    const store_contact *c = &b->contacts[i];
    if (strcmp(c->kind, "third_party") == 0 &&
        ((c->name && strcmp(c->name, to) == 0) ||
         (c->relation && strcmp(c->relation, to) == 0)))
      return c->value;
  }
  return NULL;
}

void lcase_reader(lua_State *L, int idx, template_ctx *ctx) {
  lcase *lc = luaL_testudata(L, idx, CASE_MT);
  const store_case *c;
  const store_borrower *b;
  rc_error err;
  if (!lc || !(c = engine_case_view(lc->eng, lc->id, &err))) return;
  ctx->clock = engine_clock(lc->eng);
  if (c->currency && *c->currency) {
    lua_pushstring(L, c->currency);
    ctx->currency = lua_tostring(L, -1);
  }
  if (!(b = engine_borrower_view(lc->eng, c->borrower_id, &err))) return;
  if (b->locale && *b->locale) {
    lua_pushstring(L, b->locale);
    ctx->locale = lua_tostring(L, -1);
  }
  if (b->timezone && *b->timezone)
    ctx->zone = clock_zone_get(ctx->clock, b->timezone, NULL);
}

/* The plan of the text at index text (template.h), split once for the
 * script sc (script_priv.h, plans); NULL when sc keeps none (a spec's
 * state, or its plans are full): the text is rendered as it is. */
static const template_plan *send_plan(lua_State *L, script *sc, int text) {
  const char *s = lua_tostring(L, text);
  template_plan *plan;
  if (!sc) return NULL;
  for (int i = 0; i < sc->nplans; i++)
    if (sc->plans[i].text == s) return sc->plans[i].plan;
  if (sc->nplans == SCRIPT_PLANS) return NULL;
  /* First the slot that keeps s alive (it may raise: nothing to free yet),
   * so that no other string takes its address while sc lives. */
  luaL_checkstack(L, 1, "case:send: template");
  lua_pushvalue(L, text);
  luaL_ref(L, LUA_REGISTRYINDEX);
  if (!(plan = malloc(template_plan_size(s)))) return NULL;
  template_plan_make(s, plan);
  sc->plans[sc->nplans].text = s;
  sc->plans[sc->nplans++].plan = plan;
  return plan;
}

/* case:send(channel, template [, vars] [, { to = ... }]) */
static int case_send(lua_State *L) {
  lcase *lc = check_case(L, 1);
  const char *channel = name_arg(L, 2, "case:send: the channel");
  const char *name = name_arg(L, 3, "case:send: the template");
  const char *to = NULL, *text, *locale, *recipient, *lang;
  const script *sc = engine_script(lc->eng);
  const script *own = script_of(L); /* the state's own, for its registry */
  const institution_config *cfg = script_config(sc);
  const store_borrower *bv;
  int vars = lua_istable(L, 4) ? 4 : 0, def, third_party, text_at;
  char near[128], small[2048], *body = small, currency[4] = "";
  size_t len;
  send_fill sf;
  template_ctx ctx;
  rc_error err;

  /* `to` stays on the stack: a placeholder's __tostring may take it out
   * of its table, and it is read after the rendering. */
  if (lua_istable(L, 5)) {
    lua_getfield(L, 5, "to");
    to = name_at(L, -1, "case:send: to");
  } else if (vars && lua_getfield(L, 4, "to") == LUA_TSTRING) {
    /* send(ch, tpl, { to = "employer" }) with no vars */
    to = name_at(L, -1, "case:send: to");
  } else if (vars) {
    lua_pop(L, 1);
  }
  if (own)
    lua_rawgeti(L, LUA_REGISTRYINDEX, own->templates_ref);
  else
    lua_getfield(L, LUA_REGISTRYINDEX, REG_TEMPLATES);
  lua_pushvalue(L, 3); /* the name as Lua has it: not interned again */
  if (lua_gettable(L, -2) != LUA_TTABLE)
    return luaL_error(L, "case:send: unknown template '%s'%s", name,
                      check_nearest_key(L, -2, name, near, sizeof near));
  def = lua_gettop(L);
  /* An institution that declares its channels sends through them only;
   * one that declares none (a test rig) has the channels its templates
   * name, and the outbox fails what it cannot deliver. */
  if (cfg->nchannels > 0 && !script_channel(sc, channel)) {
    const char *names[CHANNEL_MAX];
    const char *close;
    for (int i = 0; i < cfg->nchannels; i++) names[i] = cfg->channels[i].name;
    close = source_nearest(channel, names, cfg->nchannels);
    snprintf(near, sizeof near, close ? " (did you mean '%s'?)" : "", close);
    return luaL_error(L, "case:send: no channel '%s'%s", channel, near);
  }
  script_getkey(L, own, def, SK_THIRD_PARTY);
  third_party = lua_toboolean(L, -1);
  lua_pop(L, 1);

  /* The borrower is the engine's cached read, which a placeholder's Lua
   * may drop: what must outlive the rendering is copied onto the Lua
   * stack, the recipient read after it (below). */
  if (!(bv = engine_borrower_view(lc->eng, view(L, lc)->borrower_id, &err)))
    raise_error(L, &err);
  locale = cfg->locale;
  if (bv->locale) {
    lua_pushstring(L, bv->locale);
    locale = lua_tostring(L, -1);
  }
  memset(&ctx, 0, sizeof ctx);
  ctx.clock = engine_clock(lc->eng);
  ctx.zone =
      bv->timezone ? clock_zone_get(ctx.clock, bv->timezone, NULL) : NULL;
  script_getkey(L, own, def, SK_JSON);
  ctx.json = lua_toboolean(L, -1);
  lua_pop(L, 1);

  text = pick_text(L, def, 2, locale, cfg->locale, &lang);
  if (!text)
    return luaL_error(L,
                      "case:send: template '%s' has no text for channel "
                      "'%s'%s",
                      name, channel,
                      check_nearest_key(L, def, channel, near, sizeof near));
  text_at = lua_gettop(L); /* the text: kept there while its plan is read */
  /* A text of another language than the reader's (a fallback) has its
   * dates, money and institution name in its own language, so the
   * message reads in one: an English text for a zh-CN reader says
   * "Jan 2, 2026", not "2026年1月2日". One of the reader's language
   * keeps the reader's locale (en-GB dates for an en text). */
  {
    size_t n = language_len(locale);
    if (lang && (strncmp(lang, locale, n) != 0 ||
                 (lang[n] && lang[n] != '-' && lang[n] != '_')))
      locale = lang;
  }
  /* Fill {placeholders}: a var the send does not pass is an error of
   * this send, never a blank in a message a borrower reads. */
  sf.L = L;
  sf.lc = lc;
  sf.vars = vars;
  sf.locale = locale;
  ctx.name = name;
  ctx.channel = channel;
  ctx.locale = locale;
  ctx.language = lang;
  /* Kept: the view may be dropped. A code of another length is formatted
   * as no currency ("XXX"), the empty one as well. */
  {
    const char *code = view(L, lc)->currency;
    if (code && strlen(code) == 3) memcpy(currency, code, sizeof currency);
  }
  ctx.currency = currency;
  ctx.lookup = send_lookup;
  ctx.grow = send_grow;
  ctx.ud = &sf;
  sf.body_at = 0;
  {
    script *keeper = script_of(L);
    const template_plan *plan = send_plan(L, keeper, text_at);
    int top = lua_gettop(L);
    sf.names = plan ? keeper : NULL;
    if ((plan
             ? template_render_plan(plan, &ctx, small, sizeof small, &len, &err)
             : template_render(text, &ctx, small, sizeof small, &len, &err)) !=
        RC_OK)
      return luaL_error(L, "case:send: %s", err.message);
    /* The body stays where it was rendered (small, or the userdata kept
     * at body_at): no Lua runs before it is stored. */
    if (sf.body_at) {
      body = lua_touserdata(L, sf.body_at);
      top = sf.body_at;
    }
    lua_settop(L, top);
  }
  /* Read after the rendering, which may have dropped the view; nothing
   * drops it again before engine_send has stored the message. */
  if (!(bv = engine_borrower_view(lc->eng, view(L, lc)->borrower_id, &err)))
    raise_error(L, &err);
  recipient = recipient_of(bv, channel, to); /* NULL when there is none */
  {
    engine_message m;
    policy_decision d;
    int64_t id = 0;
    script_getkey(L, own, def, SK_LEGAL_NOTICE);
    memset(&m, 0, sizeof m);
    m.legal_notice = lua_toboolean(L, -1);
    lua_pop(L, 1);
    m.channel = channel;
    m.template_name = name;
    m.body = body;
    m.to_kind = to ? to : "borrower";
    m.recipient = recipient;
    m.third_party_template = third_party;
    m.to_third_party =
        to && strcmp(to, "borrower") != 0 && strcmp(to, "home") != 0;
    if (engine_send(lc->eng, lc->id, &m, &d, &id, &err) != RC_OK)
      raise_error(L, &err);
    if (d.verdict == POLICY_ALLOW) {
      lua_pushstring(L, "queued");
      return 1;
    }
    if (d.verdict == POLICY_DEFER) {
      char until[40];
      clock_zone_format(clock_zone(engine_clock(lc->eng)), d.until, until,
                        sizeof until);
      lua_pushstring(L, "deferred");
      lua_pushstring(L, until);
      return 2;
    }
    lua_pushstring(L, "blocked");
    lua_pushstring(L, d.reason);
    return 2;
  }
}

/* case:promise { amount = , by = "2026-01-31" } -> id */
/* A date argument may be a date or a duration from now (DESIGN.md
 * "Dates or durations"): a duration becomes the institution's date it
 * reaches. Other text is passed on for the engine to refuse. */
static const char *date_or_duration(lua_State *L, lcase *lc, const char *text,
                                    char *buf, size_t size) {
  rc_duration d;
  rc_error err;
  rc_clock *clk = engine_clock(lc->eng);
  rc_date day;
  (void)L;
  if (!text || clock_parse_duration(text, &d, &err) != RC_OK) return text;
  day = clock_zone_date(clock_zone(clk),
                        clock_zone_add(clock_zone(clk), clock_now(clk), &d));
  clock_date_format(&day, buf, size);
  return buf;
}

static int case_promise(lua_State *L) {
  lcase *lc = check_case(L, 1);
  int64_t id = 0;
  rc_error err;
  rc_money amount;
  const char *by;
  char by_buf[16];
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "amount");
  if (!lua_isinteger(L, -1))
    return luaL_error(L,
                      "case:promise: amount must be a whole number of "
                      "minor units");
  amount = lua_tointeger(L, -1);
  lua_getfield(L, 2, "by");
  by = date_or_duration(L, lc, lua_tostring(L, -1), by_buf, sizeof by_buf);
  if (engine_promise(lc->eng, lc->id, amount, by, &id, &err) != RC_OK)
    raise_error(L, &err);
  lua_pushinteger(L, id);
  return 1;
}

/* Due dates of n installments from first, every d (days or months). */
static int schedule_dates(lua_State *L, const char *first,
                          const rc_duration *every, int n,
                          engine_installment *items) {
  rc_date d0;
  if (clock_parse_date(first, &d0) != RC_OK)
    return luaL_error(L, "case:plan: first_due '%s' is not a date", first);
  for (int i = 0; i < n; i++) {
    rc_date d = d0;
    if (every->months) {
      int m = d0.month - 1 + every->months * i;
      static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      int last;
      d.year = d0.year + m / 12;
      d.month = m % 12 + 1;
      last = dm[d.month - 1] +
             (d.month == 2 &&
              ((d.year % 4 == 0 && d.year % 100 != 0) || d.year % 400 == 0));
      if (d.day > last) d.day = last; /* the 31st becomes month's end */
    } else {
      d = clock_date_from_days(clock_date_to_days(d0) +
                               (int64_t)every->days * i);
    }
    clock_date_format(&d, items[i].due_date, sizeof items[i].due_date);
  }
  return 0;
}

/* A text field of case:plan's table, on top of the stack: raises naming
 * the field (luaL_check* would name argument #-1). */
static const char *plan_text(lua_State *L, const char *field) {
  if (lua_type(L, -1) != LUA_TSTRING)
    luaL_error(L, "case:plan: %s must be a string, not a %s", field,
               luaL_typename(L, -1));
  return lua_tostring(L, -1);
}

/* case:plan { installments = 6, every = "1mo", first_due = "2026-02-01",
 *             total = 120000, grace = "3d" }  or  { schedule = {...} } */
static int case_plan(lua_State *L) {
  lcase *lc = check_case(L, 1);
  engine_installment *items;
  rc_duration grace = {0, 0, 0}, every = {0, 0, 1};
  rc_error err;
  int64_t id = 0;
  int n, rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  if (lua_getfield(L, 2, "grace") != LUA_TNIL &&
      clock_parse_duration(plan_text(L, "grace"), &grace, &err) != RC_OK)
    return luaL_error(L, "case:plan: grace: %s", err.message);
  if (grace.months || grace.days > 366 || grace.ms > 366 * 86400000LL)
    return luaL_error(L, "case:plan: grace is at most 366 days, in d, h or m");
  lua_pop(L, 1);
  if (lua_getfield(L, 2, "schedule") == LUA_TTABLE) {
    n = (int)luaL_len(L, -1);
    if (n < 1 || n > 360)
      return luaL_error(L, "case:plan: schedule has 1 to 360 installments");
    items = lua_newuserdatauv(L, sizeof *items * (size_t)n, 0);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, -2, i + 1);
      if (!lua_istable(L, -1))
        return luaL_error(L,
                          "case:plan: schedule[%d] must be { due = , "
                          "amount = }",
                          i + 1);
      lua_getfield(L, -1, "due");
      lua_getfield(L, -2, "amount");
      if (!lua_isstring(L, -2) || !lua_isinteger(L, -1))
        return luaL_error(L,
                          "case:plan: schedule[%d] needs due (a date) "
                          "and amount (minor units)",
                          i + 1);
      {
        char due[16];
        snprintf(items[i].due_date, sizeof items[i].due_date, "%s",
                 date_or_duration(L, lc, lua_tostring(L, -2), due,
                                  sizeof due));
      }
      items[i].amount = lua_tointeger(L, -1);
      lua_pop(L, 3);
    }
  } else {
    const store_case *c = view(L, lc);
    rc_money total, base;
    const char *first;
    char first_buf[16];
    lua_getfield(L, 2, "installments");
    if (!lua_isinteger(L, -1))
      return luaL_error(L,
                        "case:plan: installments must be a whole number "
                        "(or give a schedule)");
    n = (int)lua_tointeger(L, -1);
    if (n < 1 || n > 360)
      return luaL_error(L, "case:plan: a plan has 1 to 360 installments");
    if (lua_getfield(L, 2, "every") != LUA_TNIL) {
      if (clock_parse_duration(plan_text(L, "every"), &every, &err))
        return luaL_error(L, "case:plan: every: %s", err.message);
      if (every.ms || (!every.days && !every.months))
        return luaL_error(L,
                          "case:plan: installments fall on days: every "
                          "takes d, w or mo");
      if (every.days > 366 || every.months > 12)
        return luaL_error(L,
                          "case:plan: every is at most a year (366d, 52w "
                          "or 12mo), got '%s'",
                          lua_tostring(L, -1));
    }
    lua_getfield(L, 2, "total");
    if (!lua_isnil(L, -1) && !lua_isinteger(L, -1))
      return luaL_error(L,
                        "case:plan: total must be a whole number of minor "
                        "units");
    total = lua_isnil(L, -1) ? c->balance : lua_tointeger(L, -1);
    if (lua_getfield(L, 2, "first_due") != LUA_TNIL) {
      first = date_or_duration(L, lc, plan_text(L, "first_due"), first_buf,
                               sizeof first_buf);
    } else {
      /* One period from today, in the institution's calendar. */
      rc_clock *clk = engine_clock(lc->eng);
      rc_date today = clock_zone_date(clock_zone(clk), clock_now(clk));
      engine_installment two[2];
      clock_date_format(&today, first_buf, sizeof first_buf);
      schedule_dates(L, first_buf, &every, 2, two);
      snprintf(first_buf, sizeof first_buf, "%s", two[1].due_date);
      first = first_buf;
    }
    if (total <= 0) return luaL_error(L, "case:plan: total must be positive");
    if (total < n)
      return luaL_error(L,
                        "case:plan: total %I cannot be split into %d "
                        "installments",
                        (lua_Integer)total, n);
    items = lua_newuserdatauv(L, sizeof *items * (size_t)n, 0);
    schedule_dates(L, first, &every, n, items);
    /* Even shares in minor units; the remainder goes on the last. */
    base = total / n;
    for (int i = 0; i < n; i++) items[i].amount = base;
    items[n - 1].amount = total - base * (n - 1);
  }
  rc = engine_plan(lc->eng, lc->id, items, n, &grace, &id, &err);
  if (rc != RC_OK) raise_error(L, &err);
  lua_pushinteger(L, id);
  return 1;
}

/* case:task(kind, { queue =, due =, assignee =, keep =, ...fields }) */
static int case_task(lua_State *L) {
  lcase *lc = check_case(L, 1);
  const char *kind = name_arg(L, 2, "case:task: the kind");
  const char *queue = NULL, *assignee = NULL;
  rc_time due = 0;
  int keep = 0, rc;
  int64_t id = 0;
  char *fields = NULL, msg[256];
  rc_error err;
  if (!lua_isnoneornil(L, 3)) {
    json_t *j;
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 3, "queue");
    queue = name_at(L, -1, "case:task: queue");
    lua_getfield(L, 3, "assignee");
    assignee = name_at(L, -1, "case:task: assignee");
    lua_getfield(L, 3, "keep");
    keep = lua_toboolean(L, -1);
    if (lua_getfield(L, 3, "due") != LUA_TNIL) due = time_arg(L, lc->eng, -1);
    if (json_size(L, 3, 0, SET_VALUE_MAX) > SET_VALUE_MAX)
      return luaL_error(L,
                        "case:task: the fields are larger than %d bytes "
                        "as JSON",
                        SET_VALUE_MAX);
    if (!(j = ljson_from_lua(L, 3, msg, sizeof msg)))
      return luaL_error(L, "case:task: %s", msg);
    json_object_del(j, "queue");
    json_object_del(j, "assignee");
    json_object_del(j, "keep");
    json_object_del(j, "due");
    fields = ljson_dump(j);
    json_decref(j);
  }
  {
    policy_decision d;
    rc = engine_task(lc->eng, lc->id, kind, queue, due, assignee, fields, keep,
                     &id, &d, &err);
    free(fields);
    if (rc == RC_ESCRIPT) {
      /* The script's own error, raised in a workflow table the core read
       * (script_state_read): it says where already. */
      lua_pushstring(L, err.message);
      return lua_error(L);
    }
    if (rc != RC_OK) raise_error(L, &err);
    if (!id) {
      /* The guard refused the contact: nil, "blocked", reason. */
      lua_pushnil(L);
      lua_pushstring(L, "blocked");
      lua_pushstring(L, d.reason);
      return 3;
    }
    if (d.verdict == POLICY_DEFER) {
      /* A rule with an end held it: id, "deferred", when it is due. */
      char until[40];
      clock_zone_format(clock_zone(engine_clock(lc->eng)), d.until, until,
                        sizeof until);
      lua_pushinteger(L, id);
      lua_pushstring(L, "deferred");
      lua_pushstring(L, until);
      return 3;
    }
  }
  lua_pushinteger(L, id);
  return 1;
}

/* --- borrower ------------------------------------------------------- */

/* borrower:cases(): the engine and the borrower's id are the closure's
 * upvalues, out of the script's reach (a metatable field was not: a
 * script could put any value there and have it read as an engine). */
static int borrower_cases(lua_State *L) {
  {
    engine *eng = lua_touserdata(L, lua_upvalueindex(1));
    const char *id = lua_tostring(L, lua_upvalueindex(2));
    lua_newtable(L);
    row_sink r = {L, eng};
    rc_error err;
    if (eng && id &&
        query_borrower_cases(engine_query(eng), id, push_row, &r, &err) !=
            RC_OK)
      return luaL_error(L, "%s", err.message);
    /* Replace rows by live case views. */
    for (lua_Integer i = 1; i <= luaL_len(L, -1); i++) {
      lua_rawgeti(L, -1, i);
      lua_getfield(L, -1, "id");
      lcase_push(L, eng, lua_tostring(L, -1));
      lua_rawseti(L, -4, i);
      lua_pop(L, 2);
    }
  }
  return 1;
}

static void set_string(lua_State *L, const char *key, const char *v) {
  if (!v) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, key);
}

static void push_borrower(lua_State *L, engine *eng, const char *id) {
  const store_borrower *bv;
  store_borrower b;
  rc_error err;
  int np = 0, ne = 0, nc = 0;
  if (!(bv = engine_borrower_view(eng, id, &err))) raise_error(L, &err);
  b = *bv; /* a shallow copy: the engine owns the strings */
  lua_createtable(L, 0, 12);
  set_string(L, "id", b.id);
  set_string(L, "name", b.name);
  set_string(L, "locale", b.locale);
  set_string(L, "timezone", b.timezone);
  set_string(L, "address", b.address);
  set_string(L, "area", b.area);
  lua_pushboolean(L, b.do_not_contact);
  lua_setfield(L, -2, "do_not_contact");
  lua_pushboolean(L, b.ceased);
  lua_setfield(L, -2, "ceased");
  lua_createtable(L, 0, 3);
  set_string(L, "name", b.employer_name);
  set_string(L, "phone", b.employer_phone);
  set_string(L, "address", b.employer_address);
  lua_setfield(L, -2, "employer");
  lua_newtable(L); /* phones */
  lua_newtable(L); /* emails */
  lua_newtable(L); /* contacts */
  for (int i = 0; i < b.ncontacts; i++) {
    store_contact *c = &b.contacts[i];
    if (strcmp(c->kind, "phone") == 0) {
      lua_pushstring(L, c->value);
      lua_rawseti(L, -4, ++np);
    } else if (strcmp(c->kind, "email") == 0) {
      lua_pushstring(L, c->value);
      lua_rawseti(L, -3, ++ne);
    } else {
      lua_createtable(L, 0, 3);
      set_string(L, "name", c->name);
      set_string(L, "relation", c->relation);
      set_string(L, "phone", c->value);
      lua_rawseti(L, -2, ++nc);
    }
  }
  lua_setfield(L, -4, "contacts");
  lua_setfield(L, -3, "emails");
  lua_setfield(L, -2, "phones");
  /* Methods through a protected per-call metatable. */
  lua_createtable(L, 0, 2);
  lua_createtable(L, 0, 1);
  lua_pushlightuserdata(L, eng);
  lua_pushstring(L, b.id);
  lua_pushcclosure(L, borrower_cases, 2);
  lua_setfield(L, -2, "cases");
  lua_setfield(L, -2, "__index");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

static const luaL_Reg case_methods[] = {{"after", case_after},
                                        {"at", case_at},
                                        {"at_dpd", case_at_dpd},
                                        {"cancel", case_cancel},
                                        {"send", case_send},
                                        {"task", case_task},
                                        {"set", case_set},
                                        {"tag", case_tag},
                                        {"assign", case_assign},
                                        {"note", case_note},
                                        {"variant", case_variant},
                                        {"history", case_history},
                                        {"promise", case_promise},
                                        {"plan", case_plan},
                                        {NULL, NULL}};

const char *lcase_method_near(const char *name) {
  const char *names[sizeof case_methods / sizeof *case_methods];
  int n = 0;
  for (; case_methods[n].name; n++) names[n] = case_methods[n].name;
  return source_nearest(name, names, n);
}

void lcase_open(lua_State *L) {
  static const luaL_Reg metamethods[] = {{"__newindex", case_newindex},
                                         {"__tostring", case_tostring},
                                         {"__eq", case_eq},
                                         {NULL, NULL}};
  script *sc = script_of(L);
  luaL_newmetatable(L, CASE_MT);
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &case_mt_key);
  if (sc) {
    lua_pushvalue(L, -1);
    sc->case_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_pushvalue(L, -1);
  luaL_setfuncs(L, metamethods, 1);
  luaL_newlibtable(L, case_methods);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, case_methods, 1); /* mt methods */
  lua_pushvalue(L, -2);
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, case_index, 2);
  lua_setfield(L, -3, "__index");
  lua_setfield(L, -2, "methods");
  lua_pushstring(L, "case");
  lua_setfield(L, -2, "__name");
  /* getmetatable(case) answers this, never the table: its methods and
   * __index are the same for every case. */
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}
