/* What a handler may spend, and what it may change.
 *
 * Spending. A handler call has an instruction budget and, on a real clock
 * (serve, tick), a wall-clock deadline. Lua's count hook only sees
 * instructions of Lua functions, and only while hooks are allowed, so
 * three kinds of work escaped it: C functions that work in proportion to
 * their input (string.rep, table.sort, table.concat, the pattern matcher,
 * utf8.len ...), Lua run by Lua itself with hooks off (finalizers, and the
 * message handler of an xpcall when the error came from the hook), and
 * catching the budget's error to carry on. Here:
 *   - one budget, in steps: the hook takes HOOK_PERIOD steps each time it
 *     fires; every byte the script's state allocates costs one step in
 *     ALLOC_UNIT; the C library functions whose work is not allocation are
 *     wrapped and charge what they are about to do before they do it
 *     (sandbox_charge); the matcher (lua_match.c) charges its steps;
 *   - the clock is read against the deadline at every charge and every
 *     hook (see "the deadline" below);
 *   - finalizers are never created (setmetatable refuses __gc), xpcall
 *     runs its handler after the stack unwound, with hooks on, and once
 *     the budget or deadline is spent every pcall and xpcall rethrows.
 * A single C call still does work up to what its input holds (a copy of
 * the largest string the memory cap allows): a fraction of a second.
 *
 * Changing. After load, one case's handler must not change what the next
 * one sees: the globals and the libraries (string, table, math, utf8, os,
 * recoup) are read-only proxies with protected metatables, the string
 * metatable is protected, rawset refuses protected tables, and the
 * metatables of the core's objects are protected where they are made. */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <lualib.h>

#include "script_priv.h"

#define HOOK_PERIOD 1000 /* instructions between two looks at the budget */
#define ALLOC_UNIT 64    /* bytes allocated per step charged */
#define REG_PROTECTED "recoup.protected" /* set of read-only tables */
#define LOCKED "locked"                  /* what getmetatable answers */
#define REG_GUARD "recoup.guard" /* the metatable of scripts' metatables */

static int64_t monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t thread_cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The deadline. It stops a handler that runs too long itself (C work the
 * budget does not charge), not one that waits: on several PostgreSQL
 * nodes a handler's read can wait for another node's batch to commit,
 * and on a loaded machine for a CPU. Counted on the wall clock, such
 * waits put cases in error for good (a deadline's failure is not run
 * again) with nothing wrong in the script: pg_serve_nodes saw a case so
 * under load. So it counts the thread's CPU time, except that reading
 * that clock costs a system call (0.25-0.4 us, 1 % of a sweep step), so
 * it is not read while a call stays under half its deadline: the first
 * look, at the first hook or charge after half the deadline on the wall
 * clock, counts that half as spent; from then each look counts the CPU
 * time since the last one and looks again when what is left could be
 * spent. Between the half and the first look only a wait or one C call
 * (a fraction of a second, see above) can pass unhooked. A handler that
 * only computes is stopped at its deadline, as on the wall clock; one
 * that waited, once it has run its deadline's worth. */
static void deadline_look(script *sc, int64_t now) {
  int64_t cpu = thread_cpu_ms();
  if (sc->cpu_mark < 0)
    sc->counted_ms = sc->deadline_ms / 2;
  else if (cpu > sc->cpu_mark)
    sc->counted_ms += cpu - sc->cpu_mark;
  sc->cpu_mark = cpu;
  if (sc->counted_ms >= sc->deadline_ms)
    sc->spent = SPENT_DEADLINE;
  else
    sc->deadline_at = now + (sc->deadline_ms - sc->counted_ms);
}

static void hook(lua_State *L, lua_Debug *ar);

/* Raises the error of a spent budget or deadline; from now on the hook
 * fires on every instruction, so nothing runs past it. */
static void raise_spent(lua_State *L, script *sc) {
  lua_sethook(L, hook, LUA_MASKCOUNT, 1);
  if (sc->spent == SPENT_DEADLINE)
    luaL_error(L, "handler deadline exceeded (%I ms)",
               (lua_Integer)sc->deadline_ms);
  luaL_error(L, "instruction budget exceeded (%I instructions)",
             (lua_Integer)sc->budget);
}

static void check(lua_State *L, script *sc) {
  if (!sc->spent && sc->budget_left <= 0) sc->spent = SPENT_BUDGET;
  if (!sc->spent && sc->deadline_at) {
    int64_t now = monotonic_ms();
    if (now >= sc->deadline_at) deadline_look(sc, now);
  }
  if (sc->spent) raise_spent(L, sc);
}

static void hook(lua_State *L, lua_Debug *ar) {
  script *sc = script_of(L);
  (void)ar;
  sc->budget_left -= sc->hook_period;
  check(L, sc);
}

void sandbox_charge(lua_State *L, int64_t steps) {
  script *sc = script_of(L);
  if (!sc || !sc->running) return; /* a spec's own state has no budget */
  sc->budget_left -= steps < 0 ? INT64_MAX / 2 : steps;
  check(L, sc);
}

void sandbox_charge_alloc(script *sc, size_t bytes) {
  if (!sc->running) return;
  sc->budget_left -= (int64_t)(bytes / ALLOC_UNIT);
  /* The allocator cannot raise; the next instruction's hook will. Left to
   * the hook's period, a loop of s:upper() on a megabyte string went on
   * for a thousand instructions, a quarter of a gigabyte, past the end. */
  if (sc->budget_left <= 0) lua_sethook(sc->L, hook, LUA_MASKCOUNT, 1);
}

void sandbox_begin(script *sc) {
  lua_State *L = sc->L;
  int64_t budget = sc->budget > 0 ? sc->budget : INT64_MAX / 4;
  sc->running = 1;
  sc->spent = 0;
  sc->budget_left = budget;
  sc->hook_period = budget < HOOK_PERIOD ? (int)budget : HOOK_PERIOD;
  /* The deadline is a safety net for a real clock only: on a simulated
   * one (specs, simulations) the budget alone decides, the same on every
   * machine. */
  sc->deadline_at = sc->deadline_ms > 0 && !clock_is_simulated(sc->clock)
                        ? monotonic_ms() + sc->deadline_ms / 2
                        : 0;
  sc->counted_ms = 0;
  sc->cpu_mark = -1;
  lua_sethook(L, hook, LUA_MASKCOUNT, sc->hook_period);
}

void sandbox_end(script *sc) {
  lua_sethook(sc->L, NULL, 0, 0);
  sc->running = 0;
}

/* --- catching errors ------------------------------------------------- */

/* The message handler of pcall and xpcall: the error value as it is,
 * noted when a crash (a VM error, a binding's) raised it, not error(). */
static int caught(lua_State *L) {
  script *sc = script_of(L);
  lua_Debug ar;
  if (sc && sc->error_fn && lua_type(L, 1) == LUA_TSTRING &&
      lua_getstack(L, 1, &ar) && lua_getinfo(L, "f", &ar)) {
    if (lua_tocfunction(L, -1) != sc->error_fn) {
      snprintf(sc->crash, sizeof sc->crash, "%s", lua_tostring(L, 1));
      sc->crash_len = strlen(lua_tostring(L, 1));
    }
    lua_pop(L, 1);
  }
  lua_settop(L, 1);
  return 1;
}

/* lua_pcall of the n arguments above the function at `at`, with caught
 * as its handler; the stack as lua_pcall leaves it. */
static int pcall_noted(lua_State *L, int at, int n, int nresults) {
  int status;
  lua_pushcfunction(L, caught);
  lua_insert(L, at); /* caught f args... */
  status = lua_pcall(L, n, nresults, at);
  lua_remove(L, at);
  return status;
}

/* pcall(f, ...): Lua's, except that a spent budget cannot be caught. */
static int sb_pcall(lua_State *L) {
  int status;
  luaL_checkany(L, 1);
  status = pcall_noted(L, 1, lua_gettop(L) - 1, LUA_MULTRET);
  if (script_of(L)->spent) raise_spent(L, script_of(L));
  lua_pushboolean(L, status == LUA_OK); /* results status */
  lua_insert(L, 1);
  return lua_gettop(L);
}

/* xpcall(f, msgh, ...): the handler runs after the stack unwound, as an
 * ordinary call with hooks on. Lua calls it where the error is raised,
 * and an error raised by the count hook is raised with hooks off: a
 * handler looping there could never be stopped. It sees the error value;
 * there is no debug library to walk the dead stack with anyway. */
static int sb_xpcall(lua_State *L) {
  int n = lua_gettop(L), status;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 1); /* f msgh args... f */
  lua_rotate(L, 3, 1); /* f msgh f args... */
  status = pcall_noted(L, 3, n - 2, LUA_MULTRET);
  if (script_of(L)->spent) raise_spent(L, script_of(L));
  if (status != LUA_OK) { /* f msgh err */
    lua_pushvalue(L, 2);
    lua_insert(L, 3); /* f msgh msgh err */
    /* The handler's own crash is what xpcall answers: noted as one, so
     * that raised again it is the crash it was (on fa744ec a refusal,
     * 422 with the crash's words, nothing in the journal). */
    pcall_noted(L, 3, 1, 1); /* f msgh result */
    if (script_of(L)->spent) raise_spent(L, script_of(L));
  }
  lua_pushboolean(L, status == LUA_OK);
  lua_replace(L, 2); /* f ok results... */
  return lua_gettop(L) - 1;
}

/* --- metatables and raw access -------------------------------------- */

static int is_protected(lua_State *L, int idx) {
  int yes;
  idx = lua_absindex(L, idx);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_PROTECTED); /* set */
  lua_pushvalue(L, idx);
  yes = lua_rawget(L, -2) != LUA_TNIL;
  lua_pop(L, 2);
  return yes;
}

static int is_gc_key(lua_State *L, int idx) {
  const char *k = lua_type(L, idx) == LUA_TSTRING ? lua_tostring(L, idx) : "";
  return strcmp(k, "__gc") == 0 || strcmp(k, "__mode") == 0;
}

/* The __newindex of a metatable a script made: a plain write, except of
 * __gc and __mode. */
static int guard_newindex(lua_State *L) {
  if (is_gc_key(L, 2))
    return luaL_error(L, "%s cannot be added to a metatable in use",
                      lua_tostring(L, 2));
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 0;
}

/* setmetatable(t, mt) without finalizers or weak tables: a finalizer runs
 * with hooks off wherever the collector happens to run it, and a weak
 * table's cost is paid inside the collector, out of the budget's reach (a
 * chain of ephemerons held the collector for seconds). Neither is needed
 * by a workflow. The collector reads __mode whenever it runs, so mt
 * itself gets a protected metatable that refuses __gc and __mode later;
 * a metatable with a metatable of its own is refused for that reason. */
static int sb_setmetatable(lua_State *L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L,
                        "setmetatable: __gc is not available to scripts "
                        "(a finalizer would run outside the budget)");
    lua_pushliteral(L, "__mode");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L,
                        "setmetatable: weak tables (__mode) are not "
                        "available to scripts");
    lua_pop(L, 2);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_GUARD); /* guard */
    if (lua_getmetatable(L, 2)) {                  /* guard mt's mt */
      if (!lua_rawequal(L, -1, -2) && !is_protected(L, 2))
        return luaL_error(L,
                          "setmetatable: a metatable cannot have a "
                          "metatable of its own in scripts");
      lua_pop(L, 2);
    } else {
      lua_setmetatable(L, 2);
    }
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

static int sb_rawset(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkany(L, 2);
  luaL_checkany(L, 3);
  if (is_protected(L, 1))
    return luaL_error(L, "rawset: this table is read-only");
  if (is_gc_key(L, 2))
    return luaL_error(L, "rawset: %s is not available to scripts",
                      lua_tostring(L, 2));
  lua_settop(L, 3);
  lua_rawset(L, 1);
  return 1;
}

/* --- C functions that charge for their work --------------------------- */

/* Calls the wrapped function (upvalue 1) with the same arguments. */
static int call_wrapped(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, n, LUA_MULTRET);
  return lua_gettop(L);
}

/* How many of i..j (either may be absent); what a loop over them costs. */
static int64_t span(lua_Integer i, lua_Integer j) {
  if (j < i) return 0;
  if (i < 0 && j > INT64_MAX + i) return INT64_MAX / 2;
  return (int64_t)(j - i) + 1;
}

/* A string position as lstrlib reads it, clipped to 1..len+1. */
static lua_Integer strpos(lua_Integer pos, size_t len) {
  if (pos > 0) return pos > (lua_Integer)len ? (lua_Integer)len + 1 : pos;
  if (pos == 0 || pos < -(lua_Integer)len) return 1;
  return (lua_Integer)len + pos + 1;
}

static int64_t len_arg(lua_State *L, int idx) {
  size_t len = 0;
  if (lua_type(L, idx) == LUA_TSTRING) lua_tolstring(L, idx, &len);
  return (int64_t)len;
}

static int charge_then_call(lua_State *L, int64_t steps) {
  sandbox_charge(L, steps + 1);
  return call_wrapped(L);
}

/* string.rep(s, n [, sep]): n copies, even of nothing (Lua's loop runs
 * n times to copy n empty strings). A result larger than the memory cap
 * fails as a memory error, before anything is charged. */
static int w_rep(lua_State *L) {
  script *sc = script_of(L);
  lua_Integer n = luaL_checkinteger(L, 2);
  int64_t l = len_arg(L, 1) + len_arg(L, 3);
  luaL_checkstring(L, 1);
  if (n <= 0 || l == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (n > (lua_Integer)(sc->mem_limit / (size_t)l)) return call_wrapped(L);
  return charge_then_call(L, n / 8); /* a short memcpy a copy */
}

/* string.byte(s, i, j), utf8.codepoint(s, i, j): a value pushed a byte. */
static int w_byte(lua_State *L) {
  size_t len;
  luaL_checklstring(L, 1, &len);
  {
    lua_Integer i = strpos(luaL_optinteger(L, 2, 1), len);
    lua_Integer j = strpos(luaL_optinteger(L, 3, i), len);
    return charge_then_call(L, span(i, j));
  }
}

/* utf8.len, utf8.offset, tonumber, string.pack/unpack: a scan. */
static int w_scan(lua_State *L) {
  int64_t total = 0;
  for (int i = 1; i <= lua_gettop(L); i++) total += len_arg(L, i);
  return charge_then_call(L, total / 8);
}

/* load(chunk): the parser takes a few instructions' time a byte. */
static int w_load(lua_State *L) {
  return charge_then_call(L, len_arg(L, 1));
}

/* string.char, utf8.char, table.pack, print, select: an argument each. */
static int w_args(lua_State *L) {
  int64_t total = lua_gettop(L);
  for (int i = 1; i <= lua_gettop(L); i++) total += len_arg(L, i) / 8;
  return charge_then_call(L, total);
}

/* table.concat(t, sep, i, j) and table.unpack(t, i, j). */
static int w_range(lua_State *L) {
  int at = lua_toboolean(L, lua_upvalueindex(2)) ? 3 : 2; /* where i is */
  lua_Integer i, j;
  luaL_checkany(L, 1);
  i = luaL_optinteger(L, at, 1);
  j = lua_isnoneornil(L, at + 1) ? luaL_len(L, 1)
                                 : luaL_checkinteger(L, at + 1);
  return charge_then_call(L, span(i, j));
}

/* table.insert(t, [pos,] v) and table.remove(t [, pos]): a shift. */
static int w_shift(lua_State *L) {
  lua_Integer n = luaL_len(L, 1);
  lua_Integer pos = n;
  if (lua_gettop(L) >= 3 ||
      (lua_toboolean(L, lua_upvalueindex(2)) && lua_gettop(L) >= 2))
    pos = luaL_checkinteger(L, 2);
  return charge_then_call(L, span(pos, n));
}

/* table.move(a1, f, e, t [, a2]) */
static int w_move(lua_State *L) {
  lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
  return charge_then_call(L, span(f, e));
}

/* table.sort(t [, comp]): n log n comparisons and moves. */
static int w_sort(lua_State *L) {
  lua_Integer n = luaL_len(L, 1);
  int64_t log = 1;
  while (log < 63 && ((int64_t)1 << log) < n) log++;
  return charge_then_call(L, n > 0 ? (int64_t)n * log : 0);
}

/* rawequal(a, b): two long strings are compared byte by byte. */
static int w_rawequal(lua_State *L) {
  return charge_then_call(L, (len_arg(L, 1) + len_arg(L, 2)) / 16);
}

/* Replaces lib[name] (the table on top) by a wrapper over it. */
static void wrap(lua_State *L, const char *name, lua_CFunction w, int flag) {
  if (lua_getfield(L, -1, name) != LUA_TFUNCTION) { /* lib f */
    lua_pop(L, 1);
    return;
  }
  lua_pushboolean(L, flag);
  lua_pushcclosure(L, w, 2); /* lib wrapper */
  lua_setfield(L, -2, name);
}

static void wrap_library(lua_State *L) {
  lua_pushglobaltable(L); /* G */
  wrap(L, "tonumber", w_scan, 0);
  wrap(L, "load", w_load, 0);
  wrap(L, "print", w_args, 0);
  wrap(L, "warn", w_args, 0);
  wrap(L, "select", w_args, 0);
  wrap(L, "rawequal", w_rawequal, 0);
  lua_pushcfunction(L, sb_pcall);
  lua_setfield(L, -2, "pcall");
  lua_pushcfunction(L, sb_xpcall);
  lua_setfield(L, -2, "xpcall");
  lua_pushcfunction(L, sb_setmetatable);
  lua_setfield(L, -2, "setmetatable");
  lua_pushcfunction(L, sb_rawset);
  lua_setfield(L, -2, "rawset");

  lua_getfield(L, -1, "string"); /* G string */
  lmatch_register(L);
  wrap(L, "rep", w_rep, 0);
  wrap(L, "byte", w_byte, 0);
  wrap(L, "char", w_args, 0);
  wrap(L, "pack", w_scan, 0);
  wrap(L, "unpack", w_scan, 0);
  wrap(L, "packsize", w_scan, 0);
  lua_pop(L, 1);

  lua_getfield(L, -1, "table"); /* G table */
  wrap(L, "concat", w_range, 1);
  wrap(L, "unpack", w_range, 0);
  wrap(L, "insert", w_shift, 0);
  wrap(L, "remove", w_shift, 1);
  wrap(L, "move", w_move, 0);
  wrap(L, "sort", w_sort, 0);
  wrap(L, "pack", w_args, 0);
  lua_pop(L, 1);

  lua_getfield(L, -1, "utf8"); /* G utf8 */
  wrap(L, "len", w_scan, 0);
  wrap(L, "offset", w_scan, 0);
  wrap(L, "codepoint", w_byte, 0);
  wrap(L, "char", w_args, 0);
  lua_pop(L, 2);
}

/* --- read-only tables ------------------------------------------------- */

static int proxy_newindex(lua_State *L) {
  const char *name = lua_tostring(L, lua_upvalueindex(1));
  return luaL_error(L, "%s is read-only: scripts cannot change %s.%s", name,
                    name, luaL_optstring(L, 2, "?"));
}

/* __pairs: next over the table behind the proxy (upvalues next, real). */
static int proxy_pairs(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushnil(L);
  return 3;
}

static void mark_protected(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_PROTECTED); /* set */
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* Gives the table at idx (empty; the proxy) a protected metatable that
 * reads from the table on top (popped) and refuses writes with
 * newindex (a C function taking the name as upvalue 1). */
static void make_proxy(lua_State *L, int idx, const char *name,
                       lua_CFunction newindex) {
  idx = lua_absindex(L, idx);
  lua_createtable(L, 0, 5); /* real mt */
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_pushcclosure(L, newindex, 1);
  lua_setfield(L, -2, "__newindex");
  lua_getfield(L, LUA_REGISTRYINDEX, REG_NEXT);
  lua_pushvalue(L, -3); /* real mt next real */
  lua_pushcclosure(L, proxy_pairs, 2);
  lua_setfield(L, -2, "__pairs");
  lua_pushliteral(L, LOCKED);
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, idx);
  lua_pop(L, 1); /* real */
  mark_protected(L, idx);
}

/* Puts a read-only proxy in G[name] in place of the library there. */
static void protect_library(lua_State *L, const char *name) {
  lua_pushglobaltable(L);                        /* G */
  if (lua_getfield(L, -1, name) != LUA_TTABLE) { /* G lib */
    lua_pop(L, 2);
    return;
  }
  lua_newtable(L); /* G lib proxy */
  lua_insert(L, -2);
  make_proxy(L, -2, name, proxy_newindex); /* G proxy */
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

void sandbox_open(lua_State *L) {
  static const char *const libraries[] = {"string", "table",  "math", "utf8",
                                          "os",     "recoup", NULL};
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_PROTECTED);
  lua_getglobal(L, "next");
  lua_setfield(L, LUA_REGISTRYINDEX, REG_NEXT);
  lua_createtable(L, 0, 2); /* guard */
  lua_pushcfunction(L, guard_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushliteral(L, LOCKED);
  lua_setfield(L, -2, "__metatable");
  lua_setfield(L, LUA_REGISTRYINDEX, REG_GUARD);
  wrap_library(L);
  /* Strings' methods come from the string metatable's __index: the real
   * string table, which scripts cannot reach once it is protected. */
  lua_pushliteral(L, "");
  lua_getmetatable(L, -1); /* "" mt */
  lua_pushliteral(L, LOCKED);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 2);
  for (int i = 0; libraries[i]; i++) protect_library(L, libraries[i]);
}

static int global_newindex(lua_State *L) {
  int exists;
  lua_getmetatable(L, 1); /* G k v mt */
  lua_getfield(L, -1, "__index");
  lua_pushvalue(L, 2);
  exists = lua_rawget(L, -2) != LUA_TNIL;
  return luaL_error(L,
                    "scripts cannot %s global '%s' after loading; "
                    "use a local",
                    exists ? "change" : "create", luaL_optstring(L, 2, "?"));
}

void sandbox_lock_globals(lua_State *L) {
  /* Everything recoup.lua left in the globals moves to a table only the
   * proxy's metatable holds; the global table itself, which every loaded
   * chunk keeps as its _ENV, stays empty and refuses writes. */
  lua_pushglobaltable(L); /* G */
  lua_newtable(L);        /* G real */
  lua_pushnil(L);
  while (lua_next(L, -3)) { /* G real k v */
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, -4); /* G real k */
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) { /* G real k v */
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, -5); /* G real k */
  }
  make_proxy(L, -2, "_G", global_newindex); /* G */
  lua_pop(L, 1);
}
