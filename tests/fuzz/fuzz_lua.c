/* The Lua bindings from a sandboxed handler: the input is a program of
 * bytes that the `fuzz` handler of tests/fixtures/hostile reads as calls on
 * case and borrower objects with arguments of every kind (strings, huge
 * integers, tables, the case itself, durations and dates good and bad).
 * Nothing may crash or hang, and afterwards another case's handler must
 * still see the environment as loaded (`check`). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recoup/engine.h"
#include "recoup/query.h"

enum { PROGRAM_MAX = 4096, REOPEN_EVERY = 2000 };

static engine *eng;
static long runs;

static void open_case(const char *id) {
  char text[200];
  json_t *j;
  rc_error err;
  snprintf(text, sizeof text,
           "{\"id\": \"%s\", \"balance\": 1000, \"due_date\": \"2026-01-01\","
           " \"borrower\": {\"id\": \"B-%s\", \"name\": \"N\", \"phones\": "
           "[\"+8613800000000\"]}}",
           id, id);
  j = json_loads(text, 0, NULL);
  if (engine_upsert_case(eng, j, 0, NULL, &err) != RC_OK) {
    fprintf(stderr, "open %s: %s\n", id, err.message);
    abort();
  }
  json_decref(j);
}

static void run(void) {
  rc_error err;
  if (engine_run(eng, clock_now(engine_clock(eng)), NULL, &err) != RC_OK) {
    fprintf(stderr, "engine_run: %s\n", err.message);
    abort();
  }
}

static void post(const char *id, const char *type, json_t *data) {
  rc_error err;
  if (engine_post(eng, id, type, data, NULL, NULL, &err) != RC_OK) {
    fprintf(stderr, "post %s: %s\n", type, err.message);
    abort();
  }
  run();
}

static void stop(void) {
  engine_close(eng);
  eng = NULL;
}

static void start(void) {
  engine_options opts = {FIXTURES "/hostile", ":memory:", 1, 0, 1, 0};
  rc_errlist errors = {0};
  rc_time t;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    abort();
  }
  rc_errlist_free(&errors);
  clock_parse_time(engine_clock(eng), "2026-01-05T09:00", &t, NULL);
  clock_set(engine_clock(eng), t);
  open_case("CHECK");
  run();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char id[32];
  json_t *program, *fields;
  store_case c;
  rc_error err;
  if (!eng || runs % REOPEN_EVERY == 0) {
    if (!eng) atexit(stop);
    stop();
    start();
  }
  runs++;
  if (size > PROGRAM_MAX) size = PROGRAM_MAX;
  program = json_array();
  for (size_t i = 0; i < size; i++)
    json_array_append_new(program, json_integer(data[i]));
  fields = json_pack("{s:o}", "program", program);
  snprintf(id, sizeof id, "F%ld", runs);
  open_case(id);
  run();
  post(id, "fuzz", fields);
  json_decref(fields);
  /* One case's handler cannot change what another's sees. */
  post("CHECK", "check", NULL);
  if (query_case(engine_query(eng), "CHECK", &c, &err) != RC_OK) abort();
  if (c.error) {
    fprintf(stderr, "after a fuzz program, check failed: %s\n", c.error);
    abort();
  }
  store_case_free(&c);
  return 0;
}
