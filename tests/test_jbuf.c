/* The JSON text builder behind every journal row: what it writes must
 * parse back to exactly what was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

#include "jbuf.h"

static void test_integers_at_the_edges(void **state) {
  const int64_t values[] = {0, 7, -7, 1000000, INT64_MAX, INT64_MIN};
  const char *texts[] = {
      "0", "7", "-7", "1000000", "9223372036854775807", "-9223372036854775808"};
  (void)state;
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    jbuf b = {0};
    jb_int(&b, values[i]);
    assert_string_equal(b.p, texts[i]);
    free(b.p);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_integers_at_the_edges),
      cmocka_unit_test(test_strings_parse_back_unchanged),
      cmocka_unit_test(test_long_strings_grow_the_buffer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
