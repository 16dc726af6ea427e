/* Phone numbers to E.164: international forms kept, national ones read
 * with the institution's country, the rest refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "phone.h"

static void expect(const char *in, const char *country, const char *want) {
  char out[17] = "";
  int rc = phone_normalize(in, country, out, sizeof out);
  if (rc != PHONE_OK || strcmp(out, want) != 0)
    fail_msg("%s (%s): got %d '%s', want '%s'", in, country ? country : "-",
             rc, out, want);
}

static void refused(const char *in, const char *country, int want) {
  char out[17] = "";
  int rc = phone_normalize(in, country, out, sizeof out);
  if (rc != want)
    fail_msg("%s (%s): got %d '%s', want %d", in, country ? country : "-", rc,
             out, want);
}

static void test_international_forms_are_kept(void **state) {
  (void)state;
  expect("+8613800000000", NULL, "+8613800000000");
  expect("+86 138-0000-0000", "", "+8613800000000");
  expect("+86 (138) 0000.0000", "US", "+8613800000000");
  expect("0086 138 0000 0000", NULL, "+8613800000000");
  expect("+1 212 555 0100", "CN", "+12125550100");
  /* The country code in brackets (a business card's form): refused as
   * not a number on 08382c0. */
  expect("(+86) 138 0000 0000", "CN", "+8613800000000");
  expect("(+86)0871-6123-4567", NULL, "+8687161234567");
}

/* Clerks write the trunk 0 after the country code ("+86 0871...",
 * "+44 (0)20..."): kept, the number reaches nobody. Italy's 0 is part of
 * its numbers. */
static void test_a_trunk_zero_after_the_country_code_is_dropped(void **state) {
  (void)state;
  expect("+86 0871 6123 4567", "CN", "+8687161234567");
  expect("0086 0871-6123-4567", NULL, "+8687161234567");
  expect("+86 (0)10 1234 5678", "", "+861012345678");
  expect("+44 (0)20 7946 0000", "CN", "+442079460000");
  expect("+39 06 1234 5678", "CN", "+390612345678");
  expect("+1 212 555 0100", "CN", "+12125550100");
}

static void test_national_numbers_take_the_institutions_country(void **state) {
  (void)state;
  expect("138 0000 0000", "CN", "+8613800000000");
  expect("010-1234-5678", "CN", "+861012345678");
  expect("(212) 555-0100", "US", "+12125550100");
  expect("1 212 555 0100", "US", "+12125550100");
  expect("020 7946 0000", "GB", "+442079460000");
  expect("0812 3456 7890", "ID", "+6281234567890");
  expect("06 1234 5678", "IT", "+390612345678"); /* Italy keeps its 0 */
  expect("8 912 345 67 89", "RU", "+79123456789");
}

static void test_what_cannot_be_placed_is_refused(void **state) {
  (void)state;
  refused("138 0000 0000", NULL, PHONE_NO_COUNTRY);
  refused("138 0000 0000", "", PHONE_NO_COUNTRY);
  refused("138 0000 0000", "ZZ", PHONE_UNKNOWN_COUNTRY);
  refused("call me", "CN", PHONE_NOT_A_NUMBER);
  refused("+86 138 0000 0000 ext 5", "CN", PHONE_NOT_A_NUMBER);
  refused("12", "CN", PHONE_NOT_A_NUMBER);
  refused("+123", NULL, PHONE_BAD_LENGTH);
  refused("+1234567890123456", NULL, PHONE_BAD_LENGTH);
  refused("+8613800000000000000000000000000000000", NULL, PHONE_BAD_LENGTH);
  refused("１３８００００００００", "CN", PHONE_NOT_A_NUMBER);
  refused("((+86) 138 0000 0000", "CN", PHONE_NOT_A_NUMBER);
  refused("(+)", "CN", PHONE_NOT_A_NUMBER);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_international_forms_are_kept),
      cmocka_unit_test(test_a_trunk_zero_after_the_country_code_is_dropped),
      cmocka_unit_test(test_national_numbers_take_the_institutions_country),
      cmocka_unit_test(test_what_cannot_be_placed_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
