/* A row read while memory runs out is refused as out of memory, never
 * taken as a row without the field whose copy failed. Linked with
 * -Wl,--wrap=malloc,--wrap=strdup,--wrap=realloc: each allocation
 * recoup's own code makes can be made to fail, the first, the second,
 * ... in turn, the way SQLite's malloc tests sweep. Under `ulimit -v` an
 * import refused a row that had its due_date as "a new case needs
 * due_date", and a failed copy of a product, an address or a phone number
 * would have imported the row without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "case_input.h"
#include "recoup/clock.h"

void *__real_malloc(size_t n);
char *__real_strdup(const char *s);
void *__real_realloc(void *p, size_t n);

/* The allocation that fails (1-based) while armed, 0 for none. */
static long fail_at, made;
static int fired;

static int fails(void) {
  if (!fail_at || ++made != fail_at) return 0;
  fired = 1;
  return 1;
}

void *__wrap_malloc(size_t n) {
  return fails() ? NULL : __real_malloc(n);
}

char *__wrap_strdup(const char *s) {
  return fails() ? NULL : __real_strdup(s);
}

void *__wrap_realloc(void *p, size_t n) {
  return fails() ? NULL : __real_realloc(p, n);
}

static void test_a_failed_copy_is_out_of_memory_not_a_field_left_out(
    void **state) {
  rc_error err;
  rc_clock *clk = clock_new("Asia/Shanghai", &err);
  /* As an import's CSV row gives it: every value a string. */
  json_t *row = json_pack(
      "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id",
      "L1", "borrower_id", "B1", "borrower_name", "周静", "phone",
      "+8613835766268", "address", "北京市朝阳区50号", "employer_phone",
      "+861021451524", "locale", "zh-CN", "product", "personal", "balance",
      "1024443", "amount_due", "271476", "due_date", "2025-10-05", "email",
      "a@example.com", "branch", "东城");
  long sweeps = 0;
  (void)state;
  assert_non_null(clk);
  assert_non_null(row);
  for (long at = 1;; at++) {
    case_input in;
    int rc;
    fail_at = at;
    made = 0;
    fired = 0;
    rc = case_input_parse(row, 1, clk, "CNY", "CN", &in, &err);
    fail_at = 0;
    if (!fired) {
      /* Past the last allocation: the whole row, as given. */
      assert_int_equal(rc, RC_OK);
      case_input_free(&in);
      break;
    }
    sweeps++;
    if (rc == RC_OK) {
      /* A row taken despite a failed allocation must have lost nothing. */
      if (!in.c.due_date || !in.c.product || !in.b.address || !in.b.name ||
          !in.b.locale || !in.b.employer_phone || !in.c.currency ||
          !in.c.borrower_id || in.b.ncontacts != 2 || !in.b.contacts[0].value ||
          !in.b.contacts[1].value)
        fail_msg("allocation %ld failed: the row was taken without a field",
                 at);
    } else if (err.code != RC_ENOMEM) {
      fail_msg(
          "allocation %ld failed: code %d '%s' (field %s), not out of "
          "memory",
          at, err.code, err.message, err.field);
    }
    case_input_free(&in);
  }
  assert_true(sweeps > 5);
  json_decref(row);
  clock_free(clk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(
          test_a_failed_copy_is_out_of_memory_not_a_field_left_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
