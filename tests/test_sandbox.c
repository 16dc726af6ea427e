/* The sandbox: what scripts can and cannot reach, and load-time checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>

#include "recoup/clock.h"
#include "recoup/script.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dangerous_globals_are_absent),
      cmocka_unit_test(test_bytecode_is_refused),
      cmocka_unit_test(test_require_stays_inside_the_institution),
      cmocka_unit_test(test_globals_are_locked_after_load),
      cmocka_unit_test(test_budget_stops_loops_even_under_pcall),
      cmocka_unit_test(test_memory_cap_stops_huge_strings),
      cmocka_unit_test(test_os_time_reads_the_runtime_clock),
      cmocka_unit_test(test_check_reports_every_problem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
