/* mask_contacts: contact points out of log lines, in the shapes people
 * and systems write them; the things logs need kept as they are. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mask.h"

static void masks_to(const char *in, const char *want) {
  char out[512];
  mask_contacts(in, out, sizeof out);
  if (strcmp(out, want) != 0)
    fail_msg("mask(\"%s\") = \"%s\"; wanted \"%s\"", in, out, want);
  /* masking again changes nothing */
  {
    char again[512];
    mask_contacts(out, again, sizeof again);
    if (strcmp(again, out) != 0)
      fail_msg("mask twice(\"%s\") = \"%s\"", in, again);
  }
}

static void test_phone_numbers_in_any_shape_are_masked(void **state) {
  (void)state;
  masks_to("13800138000", "********000");
  masks_to("+8613800138000", "+**********000");
  masks_to("+86.138.0000.1234", "+**.***.****.*234");
  masks_to("+86 138-0000-1234", "+** ***-****-*234");
  masks_to("+86-138-0000-1234", "+**-***-****-*234");
  masks_to("138 0000 1234", "*** **** *234");
  masks_to("(010) 6552-9988", "(***) ****-*988");
  masks_to("+1 (415) 555-0199", "+* (***) ***-*199");
  masks_to("+44 20 7946 0958", "+** ** **** *958");
  masks_to("138/0000/1234", "***/****/*234");
  masks_to("138_0000_1234", "***_****_*234");
  masks_to("+86 - 138 - 0000 - 1234", "+** - *** - **** - *234");
  masks_to("tel:+8613800138000;ext=1", "tel:+**********000;ext=1");
}

static void test_full_width_and_typographic_forms_are_masked(void **state) {
  (void)state;
  /* full-width digits, ideographic space, full-width plus and hyphen */
  masks_to(
      "\xef\xbc\x91\xef\xbc\x93\xef\xbc\x98\xef\xbc\x90\xef\xbc\x90"
      "\xef\xbc\x90\xef\xbc\x90\xef\xbc\x91\xef\xbc\x92\xef\xbc\x93"
      "\xef\xbc\x94",
      "********\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94");
  masks_to(
      "\xef\xbc\x8b"
      "86\xe3\x80\x80"
      "138\xef\xbc\x8d"
      "0000\xef\xbc\x8d"
      "1234",
      "\xef\xbc\x8b**\xe3\x80\x80***\xef\xbc\x8d****\xef\xbc\x8d*234");
  /* middle dot, en dash */
  masks_to(
      "138\xc2\xb7"
      "0000\xc2\xb7"
      "1234",
      "***\xc2\xb7****\xc2\xb7*234");
  masks_to(
      "138\xe2\x80\x93"
      "0000\xe2\x80\x93"
      "1234",
      "***\xe2\x80\x93****\xe2\x80\x93*234");
  /* inside Chinese text */
  masks_to(
      "\xe7\x94\xb5\xe8\xaf\x9d"
      "13800138000\xe5\x90\x97",
      "\xe7\x94\xb5\xe8\xaf\x9d"
      "********000\xe5\x90\x97");
}

static void test_email_addresses_are_masked(void **state) {
  (void)state;
  masks_to("user@example.com", "u***@***.com");
  masks_to("write to wang.fang+loans@mail.example.com.",
           "write to w***@***.com.");
  masks_to("<a.b@c.cn>", "<a***@***.cn>");
  masks_to("13800138000@qq.com", "1***@***.com");
  masks_to("x@localhost", "x***@***");
  masks_to(
      "user\xef\xbc\xa0"
      "example.com",
      "u***\xef\xbc\xa0***.com");
  masks_to("\xe7\x8e\x8b@example.cn", "\xe7\x8e\x8b***@***.cn");
  masks_to("a@b.com, c@d.org", "a***@***.com, c***@***.org");
  masks_to("call +86 138 0000 1234 or mail li@x.cn",
           "call +** *** **** *234 or mail l***@***.cn");
}

static void test_what_logs_need_is_kept(void **state) {
  (void)state;
  masks_to("case MF00001 in state call", "case MF00001 in state call");
  masks_to("due 2026-01-05, paid 2026/01/09",
           "due 2026-01-05, paid 2026/01/09");
  masks_to("at 2026-12-01T23:05:52+08:00", "at 2026-12-01T23:05:52+08:00");
  masks_to("listening on 127.0.0.1:8080", "listening on 127.0.0.1:8080");
  masks_to("workflows/svc.lua:12: boom", "workflows/svc.lua:12: boom");
  masks_to("amount 99999 exceeds 12000", "amount 99999 exceeds 12000");
  masks_to("v1.2.3, 12:30:45", "v1.2.3, 12:30:45");
  masks_to("a @ b", "a @ b");
  masks_to("", "");
  /* account numbers: long digit runs */
  masks_to("account 6222020200112233445", "account ****************445");
}

/* recoup's own counts with their unit and a script's line numbers are
 * read whole (a spent budget was "(*****000 instructions)"); a phone in a
 * script's error() text beside them is masked still. */
static void test_our_counts_and_line_numbers_are_kept(void **state) {
  (void)state;
  masks_to("recoup.lua:12: instruction budget exceeded (10000000 instructions)",
           "recoup.lua:12: instruction budget exceeded (10000000 instructions)");
  masks_to("memory limit 268435456 bytes", "memory limit 268435456 bytes");
  masks_to("imported 1000000 rows; 4096 MB", "imported 1000000 rows; 4096 MB");
  masks_to("workflows/big.lua:123456: boom", "workflows/big.lua:123456: boom");
  /* a script's words: the phone has no unit, so it goes */
  masks_to("workflows/svc.lua:12: no answer at 13800138000",
           "workflows/svc.lua:12: no answer at ********000");
  masks_to("recoup.lua:9: 13800138000 (10000000 instructions)",
           "recoup.lua:9: ********000 (10000000 instructions)");
  masks_to("call 13800138000 rowsXY", "call ********000 rowsXY");
  masks_to("call +8613800138000 bytes", "call +**********000 bytes");
  masks_to("call 138 0000 1234 rows", "call *** **** *234 rows");
  masks_to("x.lua:13800138000", "x.lua:********000");
}

/* A log line may quote the clock in parentheses, after a number, with a
 * fraction of a second or as a backup's compact stamp: none of it is a
 * phone number, and the contact points around it are still masked. */
static void test_dates_and_times_are_kept_beside_contacts(void **state) {
  (void)state;
  masks_to("on the real clock (2026-12-04T19:17:42+08:00)",
           "on the real clock (2026-12-04T19:17:42+08:00)");
  masks_to("case 17 2026-12-04 19:17:42.123456+08",
           "case 17 2026-12-04 19:17:42.123456+08");
  masks_to("at 12:30 2026-12-04", "at 12:30 2026-12-04");
  masks_to("[2026/12/04 09:00:00]", "[2026/12/04 09:00:00]");
  masks_to("wrote backup-20261204T191742Z.db",
           "wrote backup-20261204T191742Z.db");
  masks_to("stamp 20261204T1917Z", "stamp 20261204T1917Z");
  masks_to("called 13800138000 at 2026-12-04T19:17:42, no answer",
           "called ********000 at 2026-12-04T19:17:42, no answer");
  masks_to("(+86 138 0000 1234) 2026-12-04", "(+** *** **** *234) 2026-12-04");
  masks_to("mail li@x.cn (2026-12-04)", "mail l***@***.cn (2026-12-04)");
  /* Chinese: "phone 138... , on 2026-12-04 (real clock)" */
  masks_to(
      "\xe7\x94\xb5\xe8\xaf\x9d"
      "13800138000\xef\xbc\x8c"
      "\xe4\xba\x8e\xef\xbc\x88"
      "2026-12-04T19:17:42+08:00\xef\xbc\x89",
      "\xe7\x94\xb5\xe8\xaf\x9d"
      "********000\xef\xbc\x8c"
      "\xe4\xba\x8e\xef\xbc\x88"
      "2026-12-04T19:17:42+08:00\xef\xbc\x89");
  /* not a date or a time: masked as before */
  masks_to("(20261204) call", "(*****204) call");
  masks_to("12:30:45.1380013800012", "12:30:**.**********012");
  masks_to("20261304T191742Z", "*****304T***742Z");
}

static void test_output_is_cut_at_a_character_boundary(void **state) {
  char out[8];
  (void)state;
  assert_true(mask_contacts("abcdefghijk", out, sizeof out) == 7);
  assert_string_equal(out, "abcdefg");
  mask_contacts("\xe7\x8e\x8b\xe7\x8e\x8b\xe7\x8e\x8b", out, sizeof out);
  assert_string_equal(out, "\xe7\x8e\x8b\xe7\x8e\x8b");
  mask_contacts("13800138000", out, 4);
  assert_int_equal(strlen(out), 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_phone_numbers_in_any_shape_are_masked),
      cmocka_unit_test(test_full_width_and_typographic_forms_are_masked),
      cmocka_unit_test(test_email_addresses_are_masked),
      cmocka_unit_test(test_what_logs_need_is_kept),
      cmocka_unit_test(test_our_counts_and_line_numbers_are_kept),
      cmocka_unit_test(test_dates_and_times_are_kept_beside_contacts),
      cmocka_unit_test(test_output_is_cut_at_a_character_boundary),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
