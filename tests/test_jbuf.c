/* The JSON text builder behind every journal row: what it writes must
 * parse back to exactly what was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "jbuf.h"

static void test_integers_at_the_edges(void **state) {
  const int64_t values[] = {
      0,         7,        -7, 10, 99, 100, -100, 1000000, 1767574800000,
      INT64_MAX, INT64_MIN};
  const char *texts[] = {"0",
                         "7",
                         "-7",
                         "10",
                         "99",
                         "100",
                         "-100",
                         "1000000",
                         "1767574800000",
                         "9223372036854775807",
                         "-9223372036854775808"};
  (void)state;
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    jbuf b = {0};
    jb_int(&b, values[i]);
    assert_string_equal(b.p, texts[i]);
    free(b.p);
  }
}

/* Two digits a division: every length from 1 to 19 digits, at its first
 * and last value and as 1234567890..., either sign, written as
 * snprintf writes it; INT64_MIN's 19 digits have no positive twin. */
static void expect_like_printf(int64_t v) {
  char want[24];
  jbuf b = {0};
  snprintf(want, sizeof want, "%lld", (long long)v);
  jb_int(&b, v);
  assert_false(b.oom);
  assert_string_equal(b.p, want);
  assert_int_equal(b.len, strlen(want));
  free(b.p);
}

static void test_integers_of_every_length_read_as_printf(void **state) {
  int64_t low = 1; /* 10^(digits - 1) */
  (void)state;
  for (int digits = 1; digits <= 19; digits++) {
    int64_t high = digits == 19 ? INT64_MAX : low * 10 - 1;
    int64_t mixed = 0;
    for (int i = 0; i < digits; i++) mixed = mixed * 10 + (i + 1) % 10;
    const int64_t values[] = {low, high, mixed, low + 1, high - 1};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
      expect_like_printf(values[i]);
      expect_like_printf(-values[i]);
    }
    if (digits < 19) low *= 10;
  }
  expect_like_printf(0);
  expect_like_printf(INT64_MIN);
  expect_like_printf(INT64_MIN + 1);
  /* A walk through the range: each step multiplies by about 1.5. */
  for (uint64_t u = 1; u <= (uint64_t)INT64_MAX; u += u / 2 + 1) {
    expect_like_printf((int64_t)u);
    expect_like_printf(-(int64_t)u);
  }
}

static void test_strings_parse_back_unchanged(void **state) {
  const char *given = "王\"小\\明\n\t\x01 ok";
  jbuf b = {0};
  json_t *back;
  (void)state;
  jb_lit(&b, "{");
  jb_str(&b, "name", given);
  jb_str(&b, "none", NULL);
  jb_json(&b, "n", "12");
  jb_lit(&b, ",\"v\":");
  jb_int(&b, -5);
  jb_lit(&b, "}");
  assert_false(b.oom);
  back = json_loads(b.p, 0, NULL);
  assert_non_null(back);
  assert_string_equal(json_string_value(json_object_get(back, "name")), given);
  assert_true(json_is_null(json_object_get(back, "none")));
  assert_int_equal(json_integer_value(json_object_get(back, "n")), 12);
  assert_int_equal(json_integer_value(json_object_get(back, "v")), -5);
  json_decref(back);
  free(b.p);
}

/* Longer than the first allocation, escapes and all. */
static void test_long_strings_grow_the_buffer(void **state) {
  char *given = malloc(5001);
  jbuf b = {0};
  json_t *back;
  (void)state;
  for (int i = 0; i < 5000; i++) given[i] = "a\"\\\n"[i % 4];
  given[5000] = '\0';
  jb_lit(&b, "[");
  jb_quote(&b, given);
  jb_lit(&b, ",");
  jb_quote(&b, given);
  jb_lit(&b, "]");
  assert_false(b.oom);
  back = json_loads(b.p, 0, NULL);
  assert_non_null(back);
  assert_string_equal(json_string_value(json_array_get(back, 1)), given);
  json_decref(back);
  free(b.p);
  free(given);
}

/* jb_key with jb_quote or jb_int writes what jb_str and jb_num do, as the
 * first member and after one. */
static void test_literal_keys_write_as_quoted_ones(void **state) {
  jbuf a = {0}, b = {0};
  (void)state;
  jb_lit(&a, "{");
  jb_str(&a, "id", "C1");
  jb_num(&a, "balance", -5);
  jb_str(&a, "due", NULL);
  jb_lit(&a, "}");
  jb_lit(&b, "{");
  jb_key(&b, "id");
  jb_quote(&b, "C1");
  jb_key(&b, "balance");
  jb_int(&b, -5);
  jb_key(&b, "due");
  jb_quote(&b, NULL);
  jb_lit(&b, "}");
  assert_string_equal(b.p, a.p);
  assert_string_equal(b.p, "{\"id\":\"C1\",\"balance\":-5,\"due\":null}");
  free(a.p);
  free(b.p);
}

/* jb_raw copies in place while the piece and the NUL fit (len + n < cap)
 * and grows otherwise: a piece that fills the buffer to its last byte,
 * one that meets cap exactly, an empty one, and a buffer whose earlier
 * append failed, which takes nothing more. */
static void test_appends_at_the_capacity_edge(void **state) {
  char fill[600];
  size_t cap;
  jbuf b = {0};
  (void)state;
  memset(fill, 'f', sizeof fill);
  jb_raw(&b, "", 0);
  assert_non_null(b.p);
  assert_int_equal(b.len, 0);
  assert_string_equal(b.p, "");
  cap = b.cap;
  assert_true(cap > 2 && cap <= sizeof fill);
  jb_raw(&b, fill, cap - 1); /* the NUL in the last byte */
  assert_int_equal(b.cap, cap);
  assert_int_equal(b.len, cap - 1);
  assert_int_equal(b.p[cap - 1], '\0');
  jb_lit(&b, "x"); /* len + n == cap: no room for the NUL */
  assert_true(b.cap > cap);
  assert_int_equal(b.len, cap);
  assert_int_equal(b.p[cap - 1], 'x');
  assert_int_equal(b.p[cap], '\0');
  assert_int_equal(strlen(b.p), cap);
  jb_raw(&b, fill, 0);
  assert_int_equal(b.len, cap);
  b.oom = 1;
  jb_lit(&b, "y");
  jb_raw(&b, fill, 1);
  assert_int_equal(b.len, cap);
  assert_int_equal(strlen(b.p), cap);
  free(b.p);
}

static void test_the_checker_knows_json(void **state) {
  const char *good[] = {"0",
                        "-0.5e+3",
                        "\"\"",
                        " {\"a\":[1,true,null,{}]} ",
                        "[]",
                        "\"\\u00e9\\n\\/\"",
                        "\"\\ud83d\\ude00\"",
                        "{\"k\" : \"v\" ,\"n\":-12}",
                        "false"};
  const char *bad[] = {
      "",        " ",     "{",       "[1,]",        "{\"a\"}",    "{\"a\":1,}",
      "01",      "1.",    ".5",      "-",           "1e",         "tru",
      "nul",     "\"abc", "\"\\x\"", "\"\\u12g4\"", "\"a\nb\"",   "[1] 2",
      "{'a':1}", "NaN",   "nan",     "Infinity",    "{\"a\":1}}", "[1 2]"};
  char deep[1000];
  (void)state;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    assert_true(jb_valid(good[i]));
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_false(jb_valid(bad[i]));
  assert_false(jb_valid(NULL));
  /* A surrogate outside a pair: PostgreSQL's json refuses it where it
   * reads a run's rows (kept as text since schema 14). */
  assert_false(jb_valid("\"\\ud800x\""));
  assert_false(jb_valid("\"\\udc00\""));
  assert_false(jb_valid("\"\\ud800\""));
  assert_false(jb_valid("[\"\\ud800\\u0041\"]"));
  /* Nesting is bounded: the checker's stack, not the text, sets the limit. */
  memset(deep, '[', 500);
  memset(deep + 500, ']', 500);
  deep[999] = '\0';
  assert_false(jb_valid(deep));
  memset(deep, '[', 100);
  memset(deep + 100, ']', 100);
  deep[200] = '\0';
  assert_true(jb_valid(deep));
}

/* Mutated texts, each judged by the checker and by jansson: they agree
 * wherever jansson's verdict is about JSON and not about its own limits
 * (numbers it cannot hold). */
static void test_the_checker_agrees_with_a_parser(void **state) {
  const char *seeds[] = {"{\"type\":\"remind\",\"n\":[1,-2.5e3,true,null]}",
                         "[\"a\\\"b\\u00e9\",{\"x\":{}},[],false]"};
  const char alphabet[] = "{}[]\",:\\ tfnlrue0123-.Eau";
  uint32_t seed = 12345;
  int disagreements = 0;
  (void)state;
  for (int round = 0; round < 20000; round++) {
    char text[128];
    const char *from = seeds[round % 2];
    size_t n = strlen(from);
    json_error_t jerr;
    json_t *parsed;
    memcpy(text, from, n + 1);
    for (int m = 0; m < 1 + round % 3; m++) {
      size_t at;
      seed = seed * 1103515245u + 12345u;
      at = (seed >> 8) % n;
      text[at] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
    }
    parsed = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!parsed &&
        (strstr(jerr.text, "overflow") || strstr(jerr.text, "too big")))
      continue;
    if (!parsed != !jb_valid(text)) {
      print_message("disagree on %s (jansson: %s)\n", text,
                    parsed ? "valid" : jerr.text);
      disagreements++;
    }
    json_decref(parsed);
  }
  assert_int_equal(disagreements, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_integers_at_the_edges),
      cmocka_unit_test(test_integers_of_every_length_read_as_printf),
      cmocka_unit_test(test_strings_parse_back_unchanged),
      cmocka_unit_test(test_long_strings_grow_the_buffer),
      cmocka_unit_test(test_literal_keys_write_as_quoted_ones),
      cmocka_unit_test(test_appends_at_the_capacity_edge),
      cmocka_unit_test(test_the_checker_knows_json),
      cmocka_unit_test(test_the_checker_agrees_with_a_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
