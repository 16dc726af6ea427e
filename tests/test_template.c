/* Money and dates as the reader expects them, through ICU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "template.h"

static void expect_money(const char *locale, const char *currency,
                         rc_money minor, const char *want) {
  char buf[64];
  template_format_money(locale, currency, minor, buf, sizeof buf);
  if (strcmp(buf, want) != 0)
    fail_msg("%s %s %lld: got '%s', want '%s'", locale, currency,
             (long long)minor, buf, want);
}

static void test_money_in_minor_units(void **state) {
  (void)state;
  expect_money("zh-CN", "CNY", 100000, "¥1,000.00");
  expect_money("zh-CN", "CNY", 5, "¥0.05");
  expect_money("en", "USD", 123456789, "$1,234,567.89");
  expect_money("en", "CNY", 120000, "CN¥1,200.00");
  expect_money("ja", "JPY", 1200, "￥1,200"); /* no minor unit */
  expect_money("en", "USD", -250, "-$2.50");
  /* Beyond a double's exact integers: still exact. */
  expect_money("en", "USD", 900719925474099299LL, "$9,007,199,254,740,992.99");
  /* Found by fuzzing: the most negative amount has no positive twin. */
  expect_money("en", "USD", INT64_MIN, "-$92,233,720,368,547,758.08");
  expect_money("en", "USD", INT64_MAX, "$92,233,720,368,547,758.07");
  expect_money("zh-CN", "CNY", -1, "-¥0.01");
  expect_money("en", "KWD", 1234567,
               "KWD\xc2\xa0"
               "1,234.567"); /* 3 digits */
  expect_money("en", "KRW", 12345, "₩12,345");
}

static void test_dates_by_locale(void **state) {
  char buf[64];
  (void)state;
  template_format_date("zh-CN", "2026-01-31", buf, sizeof buf);
  assert_string_equal(buf, "2026年1月31日");
  template_format_date("en", "2026-01-31", buf, sizeof buf);
  assert_string_equal(buf, "January 31, 2026");
  assert_int_equal(template_format_date("en", "31/01/2026", buf, sizeof buf),
                   RC_EINVAL);
  assert_string_equal(buf, "31/01/2026");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_money_in_minor_units),
      cmocka_unit_test(test_dates_by_locale),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
