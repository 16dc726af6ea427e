/* The sandbox: what scripts can and cannot reach, and load-time checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <time.h>

#include "recoup/clock.h"
#include "recoup/engine.h"
#include "recoup/query.h"
#include "recoup/script.h"

#include "lua_json.h"
#include "lua_rt.h"

#define HOSTILE FIXTURES "/hostile"

/* Every attack ends well within this, whatever the machine (generous:
 * it detects hangs, it does not measure speed). */
#define ATTACK_SECONDS 5.0

static double seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static script *load(const char *dir) {
  script *sc = NULL;
  rc_errlist errors = {0};
  if (script_load(&sc, dir, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    fail_msg("cannot load %s", dir);
  }
  rc_errlist_free(&errors);
  return sc;
}

/* Runs chunk in the sandbox; returns its first result as a string (or the
 * error message) in out. */
static int run(script *sc, const char *chunk, char *out, size_t size) {
  lua_State *L = script_lua(sc);
  rc_error err;
  int rc;
  if (luaL_loadbufferx(L, chunk, strlen(chunk), "=probe", "t") != LUA_OK) {
    snprintf(out, size, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return RC_EINVAL;
  }
  rc = script_pcall(sc, 0, 1, &err, NULL);
  if (rc != RC_OK) {
    snprintf(out, size, "%s", err.message);
    return rc;
  }
  snprintf(out, size, "%s", luaL_tolstring(L, -1, NULL));
  lua_pop(L, 2);
  return RC_OK;
}

static void expect(script *sc, const char *chunk, const char *want) {
  char out[1024];
  run(sc, chunk, out, sizeof out);
  if (!strstr(out, want))
    fail_msg("%s\n  gave: %s\n  want: %s", chunk, out, want);
}

static void test_dangerous_globals_are_absent(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  expect(sc, "return type(io)", "nil");
  expect(sc, "return type(debug)", "nil");
  expect(sc, "return type(package)", "nil");
  expect(sc, "return type(dofile)", "nil");
  expect(sc, "return type(loadfile)", "nil");
  expect(sc, "return type(collectgarbage)", "nil");
  expect(sc, "return type(os.execute)", "nil");
  expect(sc, "return type(os.getenv)", "nil");
  expect(sc, "return type(os.remove)", "nil");
  expect(sc, "return type(string.dump)", "nil");
  expect(sc, "return type(coroutine)", "nil");
  expect(sc, "return type(string.format)", "function");
  expect(sc, "return type(utf8.char)", "function");
  script_free(sc);
}

static void test_bytecode_is_refused(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  expect(sc, "local f, e = load('\\27Lua...') return e", "binary chunk");
  expect(sc, "return load('return 1 + 1')()", "2");
  script_free(sc);
}

static void test_require_stays_inside_the_institution(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  expect(sc, "return select(2, pcall(require, '../../etc/passwd'))",
         "not allowed");
  expect(sc, "return select(2, pcall(require, '/etc/passwd'))", "not allowed");
  expect(sc, "return select(2, pcall(require, 'nosuchmodule'))", "not found");
  expect(sc, "return type(require 'workflows.basic')", "table");
  script_free(sc);
}

static void test_globals_are_locked_after_load(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  expect(sc, "leak = 1", "cannot create global 'leak'");
  expect(sc, "return select(2, pcall(institution, {}))",
         "belongs in recoup.lua");
  script_free(sc);
}

static void test_budget_stops_loops_even_under_pcall(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  expect(sc, "while true do end", "instruction budget exceeded");
  expect(sc, "while true do pcall(function() while true do end end) end",
         "instruction budget exceeded");
  {
    /* Deep recursion ends in a stack overflow, the memory cap (the stack
     * is memory) or the budget, whichever comes first; either way an
     * error, not a crash. */
    char out[512];
    assert_int_equal(run(sc,
                         "local function f(n) return f(n + 1) + 1 end "
                         "return f(1)",
                         out, sizeof out),
                     RC_ESCRIPT);
    assert_true(strstr(out, "stack overflow") ||
                strstr(out, "memory limit exceeded") ||
                strstr(out, "instruction budget exceeded"));
  }
  script_free(sc);
}

static void test_memory_cap_stops_huge_strings(void **state) {
  script *sc = load(FIXTURES "/basic");
  char out[256];
  (void)state;
  assert_int_equal(
      run(sc, "return string.rep('x', 64 * 1024 * 1024)", out, sizeof out),
      RC_ESCRIPT);
  assert_non_null(strstr(out, "memory limit exceeded"));
  /* The state is still usable afterwards. */
  expect(sc, "return 6 * 7", "42");
  script_free(sc);
}

static void test_os_time_reads_the_runtime_clock(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  clock_set(script_clock(sc), 1767574800000LL); /* 2026-01-05T09:00+08:00 */
  expect(sc, "return os.time()", "1767574800");
  expect(sc, "return os.date('%Y-%m-%d %H:%M')", "2026-01-05 09:00");
  expect(sc, "return os.date('!%H')", "01");
  expect(sc, "return os.date('%Y-%m-%d', os.time{year=2026, month=1, day=32})",
         "2026-02-01");
  script_free(sc);
}

static void test_check_reports_every_problem(void **state) {
  script *sc = NULL;
  rc_errlist errors = {0};
  const char *wanted[] = {"unknown time zone 'Mars/Olympus'",
                          "currency 'yuan'",
                          "contact_hours",
                          "driver must be",
                          "listen 'nowhere'",
                          "memory_limit",
                          "tokens.admin",
                          "forbidden phrase \"jail\"",
                          "unknown placeholder {borrower.nmae}",
                          "mentions {case.balance}",
                          "initial state 'start' is not in states",
                          "states.first.enter must be a function",
                          "states.first.on.go must be a function",
                          "names 'nowhere', which is not a state",
                          "final state 'done' cannot have outgoing transitions",
                          NULL};
  (void)state;
  assert_int_equal(script_load(&sc, FIXTURES "/broken", &errors), RC_EINVAL);
  assert_null(sc);
  for (int i = 0; wanted[i]; i++) {
    int seen = 0;
    for (int j = 0; j < errors.count; j++) {
      if (strstr(errors.items[j].message, wanted[i])) {
        seen = 1;
        assert_true(errors.items[j].file[0] != '\0');
        assert_true(errors.items[j].line > 0);
      }
    }
    if (!seen) {
      for (int j = 0; j < errors.count; j++)
        rc_error_print(&errors.items[j], stderr);
      fail_msg("no error mentions: %s", wanted[i]);
    }
  }
  rc_errlist_free(&errors);
}

/* Runs chunk with a small budget and checks it ends, in time, with an
 * error that mentions want. */
static void expect_stopped(script *sc, const char *chunk, const char *want) {
  char out[1024];
  double t0 = seconds();
  int rc = run(sc, chunk, out, sizeof out);
  double took = seconds() - t0;
  if (rc != RC_ESCRIPT || !strstr(out, want))
    fail_msg("%s\n  gave: %s\n  want: %s", chunk, out, want);
  if (took > ATTACK_SECONDS) fail_msg("%s took %.1f s", chunk, took);
}

static void test_xpcall_handler_cannot_outlive_the_budget(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  script_set_budget(sc, 200000);
  expect_stopped(sc,
                 "local function spin() while true do end end "
                 "xpcall(spin, spin)",
                 "instruction budget exceeded");
  expect_stopped(sc,
                 "local function spin() while true do end end "
                 "while true do pcall(spin) xpcall(spin, print) end",
                 "instruction budget exceeded");
  /* Lua's own behaviour stays: the handler gets the error value. */
  expect(sc,
         "return select(2, xpcall(error, function(e) return 'h:' .. e end,"
         " 'x', 0))",
         "h:x");
  expect(sc,
         "return select('#', xpcall(function(...) return ... end, print,"
         " 1, 2, 3))",
         "4");
  script_free(sc);
}

static void test_pattern_matching_is_budgeted(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  script_set_budget(sc, 200000);
  expect_stopped(sc, "return string.rep('a', 20000):find('.-.-.-.-.-.-b')",
                 "instruction budget exceeded");
  expect_stopped(sc, "return ('a'):rep(20000):match('.-.-.-.-.-.-b')",
                 "instruction budget exceeded");
  expect_stopped(sc, "for _ in ('a'):rep(20000):gmatch('.-.-.-.-.-.-b') do end",
                 "instruction budget exceeded");
  expect_stopped(sc, "return (('a'):rep(20000):gsub('.-.-.-.-.-.-b', ''))",
                 "instruction budget exceeded");
  /* Plain searches of a long subject are charged too. */
  expect_stopped(sc,
                 "local s = ('a'):rep(1 << 20) "
                 "while true do s:find('b', 1, true) end",
                 "instruction budget exceeded");
  /* The matcher still matches what Lua's does. */
  expect(sc, "return ('key = value'):match('^(%w+)%s*=%s*(%w+)$')", "key");
  expect(sc, "return (string.gsub('hello world', '(%w+)', '<%1>'))",
         "<hello> <world>");
  expect(sc, "return select(2, ('THE (quick) fox'):find('%((%a+)%)'))", "11");
  expect(sc,
         "local n = 0 for w in ('a,b,,c'):gmatch('[^,]*') do n = n + 1 "
         "end return n",
         "4");
  script_free(sc);
}

static void test_c_functions_charge_their_work(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  script_set_budget(sc, 200000);
  expect_stopped(sc,
                 "local t = {1} for i = 1, 18 do table.move(t, 1, #t, #t + 1) "
                 "end table.sort(t)",
                 "instruction budget exceeded");
  expect_stopped(sc, "table.move({}, 1, math.maxinteger - 1, 2)",
                 "instruction budget exceeded");
  expect_stopped(sc,
                 "local t = {''} for i = 1, 16 do table.move(t, 1, #t, #t + 1) "
                 "end while true do table.concat(t) end",
                 "instruction budget exceeded");
  expect_stopped(sc, "local s = ('a'):rep(1 << 20) while true do s:upper() end",
                 "instruction budget exceeded");
  expect_stopped(sc,
                 "local s = ('a'):rep(1 << 20) while true do utf8.len(s) end",
                 "instruction budget exceeded");
  expect_stopped(sc,
                 "local t = {} for i = 1, 5000 do t[i] = i end "
                 "while true do table.insert(t, 1, 0) table.remove(t, 1) end",
                 "instruction budget exceeded");
  expect(sc, "return string.rep('', math.maxinteger)", "");
  script_free(sc);
}

static void test_finalizers_and_weak_tables_are_refused(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  expect(sc, "setmetatable({}, {__gc = function() while true do end end})",
         "__gc is not available");
  expect(sc, "setmetatable({}, {__gc = true})", "__gc is not available");
  expect(sc, "setmetatable({}, {__mode = 'k'})", "weak tables");
  /* The collector reads __mode whenever it runs: it cannot come later. */
  expect(sc, "local mt = {} setmetatable({}, mt) mt.__mode = 'k'",
         "__mode cannot be added to a metatable in use");
  expect(sc, "local mt = {} setmetatable({}, mt) rawset(mt, '__mode', 'k')",
         "__mode is not available");
  expect(sc, "local mt = {} setmetatable({}, mt) setmetatable(mt, nil)",
         "protected metatable");
  expect(sc, "setmetatable({}, setmetatable({}, {}))",
         "cannot have a metatable of its own");
  /* Classes still work. */
  expect(sc,
         "local C = {} C.__index = C function C.new(v) "
         "return setmetatable({v = v}, C) end "
         "function C:get() return self.v end "
         "local a = C.new(4) C.extra = 1 return a:get() + C.new(3):get() "
         "+ a.extra",
         "8");
  expect(sc, "return getmetatable(setmetatable({}, {__index = {}})) ~= nil",
         "true");
  script_set_budget(sc, 200000);
  /* __close runs with hooks on and cannot hold the budget's error. */
  expect_stopped(sc,
                 "local function spin() while true do end end "
                 "local x <close> = setmetatable({}, {__close = spin}) "
                 "error('x')",
                 "instruction budget exceeded");
  script_free(sc);
}

static void test_libraries_and_globals_are_read_only(void **state) {
  script *sc = load(FIXTURES "/basic");
  (void)state;
  expect(sc, "string.rep = nil", "string is read-only");
  expect(sc, "table.insert = nil", "table is read-only");
  expect(sc, "math.pi = 3", "math is read-only");
  expect(sc, "os.time = nil", "os is read-only");
  expect(sc, "tostring = nil", "cannot change global 'tostring'");
  expect(sc, "rawset(_G, 'leak', 1)", "read-only");
  expect(sc, "rawset(string, 'rep', print)", "read-only");
  expect(sc, "setmetatable(_G, nil)", "protected metatable");
  expect(sc, "setmetatable(string, nil)", "protected metatable");
  expect(sc, "return getmetatable('')", "locked");
  expect(sc, "getmetatable('').__index = {}", "attempt to index");
  /* What the next call sees is what the first saw. */
  expect(sc, "return ('ab'):rep(2) .. type(rawget) .. tostring(1)",
         "ababfunction1");
  expect(sc, "local n = 0 for k in pairs(string) do n = n + 1 end return n",
         "1"); /* more than ten: starts with 1 */
  expect(sc, "return type(_G.string.format) .. type(_G._G)", "functiontable");
  script_free(sc);
}

static void test_os_date_stays_in_range_and_zone(void **state) {
  script *sc = load(FIXTURES "/basic"); /* Asia/Shanghai */
  (void)state;
  clock_set(script_clock(sc), 1767574800000LL); /* 2026-01-05T09:00+08:00 */
  expect(sc, "return os.date('%c', math.maxinteger)", "time out of range");
  expect(sc, "return os.date('%c', math.mininteger)", "time out of range");
  expect(sc, "return os.date('%z %Z')", "+0800 Asia/Shanghai");
  expect(sc, "return os.date('!%z %Z')", "+0000 UTC");
  expect(sc, "return os.date('%Y-%m-%d %%', 0)", "1970-01-01 %");
  expect(sc, "return os.date('%Q')", "invalid conversion");
  expect(sc, "return os.date('!*t', 253402300799).year", "9999");
  expect(sc, "return os.date('*t', 253402300799)", "time out of range");
  script_free(sc);
}

static void test_deadline_stops_what_the_budget_allows(void **state) {
  script *sc = load(FIXTURES "/basic"); /* its clock is real */
  rc_error err;
  double t0;
  lua_State *L = script_lua(sc);
  (void)state;
  script_set_budget(sc, INT64_MAX / 8);
  script_set_deadline(sc, 200);
  luaL_loadstring(L, "while true do end");
  t0 = seconds();
  assert_int_equal(script_pcall(sc, 0, 0, &err, NULL), RC_ESCRIPT);
  assert_true(seconds() - t0 < ATTACK_SECONDS);
  assert_string_equal(err.field, "deadline");
  assert_non_null(strstr(err.message, "handler deadline exceeded"));
  /* On a simulated clock the budget alone decides. */
  clock_set(script_clock(sc), 0);
  script_set_budget(sc, 200000);
  luaL_loadstring(L, "while true do end");
  assert_int_equal(script_pcall(sc, 0, 0, &err, NULL), RC_ESCRIPT);
  assert_string_equal(err.field, "budget");
  script_free(sc);
}

/* Stands for a read that waits (another node's batch, a busy machine):
 * time passes, the thread computes nothing. */
static int wait_ms(lua_State *L) {
  lua_Integer ms = luaL_checkinteger(L, 1);
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
  return 0;
}

/* The deadline counts what the handler runs, not what it waits for: a
 * call that waited three times its deadline and then computes (so that
 * hooks look at the clock) ends well; one that computes past its
 * deadline after waiting is still stopped. */
static void test_deadline_counts_running_not_waiting(void **state) {
  script *sc = load(FIXTURES "/basic");
  rc_error err;
  lua_State *L = script_lua(sc);
  (void)state;
  script_set_budget(sc, INT64_MAX / 8);
  script_set_deadline(sc, 200);
  luaL_loadstring(L,
                  "local wait = ...; local n = 0\n"
                  "for i = 1, 6 do wait(100); for j = 1, 20000 do n = n + j "
                  "end end\n"
                  "return n");
  lua_pushcfunction(L, wait_ms);
  assert_int_equal(script_pcall(sc, 1, 1, &err, NULL), RC_OK);
  assert_int_equal(lua_tointeger(L, -1), 6 * (20000LL * 20001 / 2));
  lua_pop(L, 1);
  luaL_loadstring(L, "local wait = ...; wait(300); while true do end");
  lua_pushcfunction(L, wait_ms);
  assert_int_equal(script_pcall(sc, 1, 0, &err, NULL), RC_ESCRIPT);
  assert_string_equal(err.field, "deadline");
  script_free(sc);
}

/* --- hostile handlers through the engine (tests/fixtures/hostile) --- */

static engine *open_hostile(void) {
  engine_options opts = {HOSTILE, ":memory:", 1, 0, 1, 0};
  rc_errlist errors = {0};
  engine *eng = NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    fail_msg("cannot open the hostile fixture");
  }
  rc_errlist_free(&errors);
  return eng;
}

static void run_now(engine *eng) {
  rc_error err;
  assert_int_equal(engine_run(eng, clock_now(engine_clock(eng)), NULL, &err),
                   RC_OK);
}

static void open_case(engine *eng, const char *id) {
  char text[256];
  json_t *j;
  rc_error err;
  snprintf(text, sizeof text,
           "{\"id\": \"%s\", \"balance\": 1000,\"due_date\":\"2026-01-01\", \"borrower\": {\"id\": "
           "\"B-%s\", \"name\": \"N\"}}",
           id, id);
  j = json_loads(text, 0, NULL);
  if (engine_upsert_case(eng, j, 0, NULL, &err) != RC_OK)
    fail_msg("open %s: %s", id, err.message);
  json_decref(j);
  run_now(eng);
}

/* Posts type to a fresh case; returns its error (or "") in out. */
static void attack(engine *eng, const char *id, const char *type, char *out,
                   size_t size) {
  rc_error err;
  store_case c;
  double t0;
  open_case(eng, id);
  assert_int_equal(engine_post(eng, id, type, NULL, NULL, NULL, &err), RC_OK);
  t0 = seconds();
  run_now(eng);
  if (seconds() - t0 > ATTACK_SECONDS)
    fail_msg("%s took %.1f s", type, seconds() - t0);
  assert_int_equal(query_case(engine_query(eng), id, &c, &err), RC_OK);
  snprintf(out, size, "%s", c.error ? c.error : "");
  store_case_free(&c);
}

static void test_hostile_handlers_fail_their_case_in_time(void **state) {
  static const struct {
    const char *type, *want;
  } attacks[] = {
      {"xpcall_spin", "instruction budget exceeded"},
      {"pcall_spin", "instruction budget exceeded"},
      {"pattern", "instruction budget exceeded"},
      {"method_pattern", "instruction budget exceeded"},
      {"gsub_pattern", "instruction budget exceeded"},
      {"sort", "instruction budget exceeded"},
      {"concat", "instruction budget exceeded"},
      {"move_nothing", "instruction budget exceeded"},
      {"upper", "instruction budget exceeded"},
      {"gc", "__gc is not available"},
      {"case_gc", "attempt to index"},
      {"close", "instruction budget exceeded"},
      {"engine_swap", "attempt to index"},
  };
  engine *eng = open_hostile();
  char error[1024], id[16];
  (void)state;
  for (size_t i = 0; i < sizeof attacks / sizeof *attacks; i++) {
    snprintf(id, sizeof id, "H%zu", i);
    attack(eng, id, attacks[i].type, error, sizeof error);
    if (!strstr(error, attacks[i].want))
      fail_msg("%s: error '%s', wanted '%s'", attacks[i].type, error,
               attacks[i].want);
  }
  /* The state is still usable, and a case next door is unharmed. */
  attack(eng, "OK", "ok", error, sizeof error);
  assert_string_equal(error, "");
  engine_close(eng);
}

static int journal_reason(void *ud, const store_value *cols, int n) {
  char *reason = ud;
  for (int i = 0; i < n; i++)
    if (strcmp(cols[i].name, "detail") == 0 && cols[i].s &&
        strstr(cols[i].s, "\"reason\""))
      snprintf(reason, 32, "%s",
               strstr(cols[i].s, "\"reason\"") + strlen("\"reason\":\""));
  return 0;
}

static void test_a_spent_budget_is_journaled_with_its_reason(void **state) {
  engine *eng = open_hostile();
  char error[1024], reason[32] = "";
  rc_error err;
  (void)state;
  attack(eng, "H1", "xpcall_spin", error, sizeof error);
  assert_int_equal(engine_journal_flush(eng, &err), RC_OK);
  assert_int_equal(query_journal(engine_query(eng), "H1", 0, journal_reason,
                                 reason, &err),
                   RC_OK);
  assert_true(strncmp(reason, "budget\"", 7) == 0);
  engine_close(eng);
}

static void test_a_borrower_cannot_be_made_to_crash(void **state) {
  engine *eng = open_hostile();
  char error[1024];
  (void)state;
  attack(eng, "H1", "engine_swap", error, sizeof error);
  assert_non_null(strstr(error, "attempt to index a string value"));
  engine_close(eng);
}

static void test_one_case_cannot_change_what_the_next_sees(void **state) {
  static const char *const poisons[] = {"poison", "poison_raw", "poison_mt",
                                        "poison_string_mt", "case_gc"};
  engine *eng = open_hostile();
  char error[1024], id[16];
  (void)state;
  for (int i = 0; i < 5; i++) {
    snprintf(id, sizeof id, "P%d", i);
    attack(eng, id, poisons[i], error, sizeof error);
    if (!*error) fail_msg("%s was allowed", poisons[i]);
  }
  attack(eng, "OK", "ok", error, sizeof error);
  assert_string_equal(error, "");
  engine_close(eng);
}

static void test_case_writes_are_bounded_and_checked(void **state) {
  static const struct {
    const char *type, *want;
  } writes[] = {
      {"big_set", "larger than 65536 bytes"},
      {"big_data", "at most 262144"},
      {"shared", "timer data is larger than 65536 bytes"},
      {"bad_note", "case:note: the text is not valid UTF-8 (at byte 1)"},
      {"nul_tag", "case:tag: the tag holds a control byte (0x00) at byte 2"},
      {"long_tag", "case:tag: the tag is 65 bytes"},
      {"good_writes", ""},
  };
  engine *eng = open_hostile();
  char error[1024], id[16];
  (void)state;
  for (size_t i = 0; i < sizeof writes / sizeof *writes; i++) {
    snprintf(id, sizeof id, "W%zu", i);
    attack(eng, id, writes[i].type, error, sizeof error);
    if (*writes[i].want ? !strstr(error, writes[i].want) : *error != '\0')
      fail_msg("%s: error '%s', wanted '%s'", writes[i].type, error,
               writes[i].want);
  }
  engine_close(eng);
}

/* A JSON text pushed into a state at its memory limit (a handler reading
 * case.data or its event's data): the parse is freed although the push
 * never returns to free it. Each such read leaked the whole parse, a
 * long-running service growing by the data's size every time. */
static long json_blocks;
static size_t lua_used, lua_most;

static void *counted_malloc(size_t n) {
  void *p = malloc(n);
  if (p) json_blocks++;
  return p;
}

static void counted_free(void *p) {
  if (p) json_blocks--;
  free(p);
}

static void *limited_alloc(void *ud, void *p, size_t was, size_t n) {
  (void)ud;
  if (!p) was = 0;
  if (n == 0) {
    lua_used -= was;
    free(p);
    return NULL;
  }
  if (n > was && lua_used + (n - was) > lua_most) return NULL;
  if (!(p = realloc(p, n))) return NULL;
  lua_used = lua_used - was + n;
  return p;
}

/* A state of unbounded memory until lua_most is set, its JSON counted
 * from *start. */
static lua_State *limited_state(long *start) {
  lua_State *L;
  lua_used = 0;
  lua_most = (size_t)-1;
  L = lua_newstate(limited_alloc, NULL);
  assert_non_null(L);
  json_set_alloc_funcs(counted_malloc, counted_free);
  *start = json_blocks;
  return L;
}

/* Nothing of the JSON made since start is left once L is gone. */
static void limited_close(lua_State *L, long start) {
  lua_close(L);
  assert_int_equal(json_blocks, start);
  json_set_alloc_funcs(malloc, free);
}

/* After the i-th push out of memory (its error popped): the same JSON is
 * held after each as after the first, none more. */
static void held_as_before(lua_State *L, int i, long *held) {
  lua_most = (size_t)-1;
  lua_gc(L, LUA_GCCOLLECT);
  if (i == 0)
    *held = json_blocks;
  else
    assert_int_equal(json_blocks, *held);
}

static int push_text(lua_State *L) {
  ljson_push_text(L, lua_touserdata(L, 1));
  return 1;
}

static void test_json_pushed_out_of_memory_is_freed(void **state) {
  static char text[128 * 1024];
  lua_State *L;
  long start, held = 0;
  (void)state;
  /* Many values, then one too long for what memory is left. */
  strcpy(text, "{\"a\": [1, 2, {\"b\": \"c\"}], \"note\": \"");
  memset(text + strlen(text), 'x', 100 * 1024);
  strcat(text, "\"}");
  L = limited_state(&start);
  /* At most the last one waits, for the next push. */
  for (int i = 0; i < 3; i++) {
    lua_most = lua_used + 64 * 1024;
    lua_pushcfunction(L, push_text);
    lua_pushlightuserdata(L, text);
    assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_ERRMEM);
    lua_pop(L, 1);
    held_as_before(L, i, &held);
  }
  /* With room, the text is there whole. */
  lua_pushcfunction(L, push_text);
  lua_pushlightuserdata(L, text);
  assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_OK);
  assert_int_equal(lua_getfield(L, -1, "note"), LUA_TSTRING);
  assert_int_equal(lua_rawlen(L, -1), 100 * 1024);
  limited_close(L, start);
}

static int from_lua(lua_State *L) {
  char why[128];
  json_decref(ljson_from_lua(L, 1, why, sizeof why));
  return 0;
}

/* A table turned into JSON by a state at its memory limit (case:set of a
 * nested table): the stack it needs is there before any JSON is made,
 * so that growing it cannot fail halfway and leak what was made. */
static void test_a_table_made_json_out_of_memory_leaks_nothing(void **state) {
  lua_State *L;
  long start;
  (void)state;
  L = limited_state(&start);
  lua_pushcfunction(L, from_lua);
  lua_newtable(L);
  assert_int_equal(lua_pcall(L, 1, 0, 0), LUA_OK);
  /* {x = {x = ... 30 deep}}, each level with a string beside */
  lua_newtable(L);
  for (int i = 0; i < 30; i++) {
    lua_newtable(L);
    lua_pushstring(L, "level");
    lua_setfield(L, -2, "s");
    lua_insert(L, -2);
    lua_setfield(L, -2, "x");
  }
  lua_gc(L, LUA_GCCOLLECT);
  lua_pushcfunction(L, from_lua);
  lua_insert(L, -2);
  lua_most = lua_used;
  lua_pcall(L, 1, 0, 0); /* out of memory or not: nothing left behind */
  lua_most = (size_t)-1;
  limited_close(L, start);
}

/* rt:report() (the specs' runtime) in a state at its memory limit: the
 * report is freed although the push raises before rt_report could free
 * it (each such call leaked the whole report). */
static int rt_call_report(lua_State *L) {
  lua_getglobal(L, "rt");
  lua_getfield(L, -1, "report");
  lua_insert(L, -2);
  return lua_pcall(L, 1, 1, 0);
}

static void test_rt_report_out_of_memory_is_freed(void **state) {
  engine *eng = open_hostile();
  lua_State *L;
  long start, held = 0;
  (void)state;
  L = limited_state(&start);
  lrt_open(L);
  lrt_push(L, eng);
  lua_setglobal(L, "rt");
  /* Once with room, for what the first report sets up to keep. */
  assert_int_equal(rt_call_report(L), LUA_OK);
  lua_pop(L, 1);
  lua_gc(L, LUA_GCCOLLECT);
  start = json_blocks;
  /* At most the last one waits, for the next push. */
  for (int i = 0; i < 3; i++) {
    lua_getglobal(L, "rt");
    lua_getfield(L, -1, "report");
    lua_insert(L, -2);
    lua_most = lua_used + 512;
    assert_int_equal(lua_pcall(L, 1, 1, 0), LUA_ERRMEM);
    lua_pop(L, 1);
    held_as_before(L, i, &held);
  }
  assert_int_equal(rt_call_report(L), LUA_OK);
  assert_int_equal(lua_getfield(L, -1, "states"), LUA_TTABLE);
  limited_close(L, start);
  engine_close(eng);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dangerous_globals_are_absent),
      cmocka_unit_test(test_bytecode_is_refused),
      cmocka_unit_test(test_require_stays_inside_the_institution),
      cmocka_unit_test(test_globals_are_locked_after_load),
      cmocka_unit_test(test_budget_stops_loops_even_under_pcall),
      cmocka_unit_test(test_memory_cap_stops_huge_strings),
      cmocka_unit_test(test_json_pushed_out_of_memory_is_freed),
      cmocka_unit_test(test_a_table_made_json_out_of_memory_leaks_nothing),
      cmocka_unit_test(test_os_time_reads_the_runtime_clock),
      cmocka_unit_test(test_check_reports_every_problem),
      cmocka_unit_test(test_xpcall_handler_cannot_outlive_the_budget),
      cmocka_unit_test(test_pattern_matching_is_budgeted),
      cmocka_unit_test(test_c_functions_charge_their_work),
      cmocka_unit_test(test_finalizers_and_weak_tables_are_refused),
      cmocka_unit_test(test_libraries_and_globals_are_read_only),
      cmocka_unit_test(test_os_date_stays_in_range_and_zone),
      cmocka_unit_test(test_deadline_stops_what_the_budget_allows),
      cmocka_unit_test(test_deadline_counts_running_not_waiting),
      cmocka_unit_test(test_hostile_handlers_fail_their_case_in_time),
      cmocka_unit_test(test_a_spent_budget_is_journaled_with_its_reason),
      cmocka_unit_test(test_a_borrower_cannot_be_made_to_crash),
      cmocka_unit_test(test_one_case_cannot_change_what_the_next_sees),
      cmocka_unit_test(test_case_writes_are_bounded_and_checked),
      cmocka_unit_test(test_rt_report_out_of_memory_is_freed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
