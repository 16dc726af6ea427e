/* The one error type: an error set anew carries nothing of what the
 * struct held before, and what it prints is printable UTF-8 whatever the
 * bytes it was given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "recoup/recoup.h"

static void test_a_new_error_has_no_file_or_line_of_before(void **state) {
  rc_error err;
  (void)state;
  memset(&err, 0xa5, sizeof err); /* what an uncleared stack may hold */
  err.file[sizeof err.file - 1] = '\0';
  assert_int_equal(rc_error_set(&err, RC_EINVAL, NULL, "bad time '%s'", "x"),
                   RC_EINVAL);
  assert_string_equal(err.file, "");
  assert_int_equal(err.line, 0);
  assert_string_equal(err.field, "");
  assert_string_equal(err.message, "bad time 'x'");
}

static void test_printed_errors_name_only_what_was_set(void **state) {
  rc_error err;
  char out[2048] = "";
  FILE *f = fmemopen(out, sizeof out - 1, "w");
  (void)state;
  memset(&err, 0xa5, sizeof err);
  rc_error_set(&err, RC_ENOTFOUND, "case", "unknown case %s", "L1");
  rc_error_print(&err, f);
  rc_error_clear(&err);
  err.code = RC_ESTORE; /* a code and no message: its name */
  rc_error_print(&err, f);
  fclose(f);
  assert_string_equal(out, "recoup: unknown case L1\nrecoup: store\n");
}

static void test_printable_replaces_controls_and_broken_utf8(void **state) {
  char out[64];
  (void)state;
  rc_printable(out, sizeof out, "a\033[31mb\x7f\tc\nd");
  assert_string_equal(out, "a?[31mb?\tc\nd");
  rc_printable(out, sizeof out, "x\xff\xc3y\xc2\x85z"); /* bad bytes, C1 */
  assert_string_equal(out, "x??y??z");
  rc_printable(out, sizeof out, "\xed\xa0\x80|\xf4\x90\x80\x80|\xc0\xaf");
  assert_string_equal(out, "???|????|??"); /* surrogate, > U+10FFFF, overlong */
  rc_printable(out, sizeof out, "王芳 é ¥1,000.00 😀");
  assert_string_equal(out, "王芳 é ¥1,000.00 😀");
}

/* A file name or a script's message holding U+202E turned the rest of the
 * terminal line around ("recoup: fdp.csv: ..." read backwards); U+200B
 * and the others hide letters. One '?' a character; rc_printable_line,
 * for a key inside one line, takes newline and tab too. */
static void test_printable_replaces_invisible_and_bidi(void **state) {
  char out[96];
  (void)state;
  rc_printable(out, sizeof out, "book\u202Evsc.exe: cannot open");
  assert_string_equal(out, "book?vsc.exe: cannot open");
  rc_printable(out, sizeof out,
               "a\u200Bb\u200Fc\u2028d\u2066e\u2069f\uFEFFg\u00ADh\u061Ci\u180Ej");
  assert_string_equal(out, "a?b?c?d?e?f?g?h?i?j");
  rc_printable(out, sizeof out, "\u200A\u2030\u2070 \u00AC"); /* near ones */
  assert_string_equal(out, "\u200A\u2030\u2070 \u00AC");
  rc_printable_line(out, sizeof out, "a\tb\nc\u202Ed");
  assert_string_equal(out, "a?b?c?d");
  /* Tag characters hide "evil" inside a name; the joiner and the Hangul
   * filler draw nothing; emoji with their variation selector stay. */
  rc_printable(out, sizeof out,
               "ok\U000E0065\U000E0076\U000E0069\U000E006C|a\u034Fb|"
               "\u3164|\u2764\uFE0F\U0001F600");
  assert_string_equal(out, "ok????|a?b|?|\u2764\uFE0F\U0001F600");
  /* Format characters that draw nothing, and the Braille blank. */
  rc_printable(out, sizeof out,
               "a\u17B4b|\uFFF9x\uFFFB|\u206A|\u2800|"
               "\U0001D173\U0001BCA0\U00013430|\u3000|\u845B\U000E0100");
  assert_string_equal(out, "a?b|?x?|?|?|???|\u3000|\u845B\U000E0100");
}

/* A subdivision flag is U+1F3F4 and the region in tag characters, ended
 * by U+E007F: one flag on the screen. Shown whole (on fa744ec 🏴??????,
 * a name's Scotland flag six question marks); tags not after the black
 * flag, unended or out of order stay one '?' each; a flag that does not
 * fit is left out whole, never cut into a black flag and tags. */
static void test_printable_shows_a_subdivision_flag_whole(void **state) {
  static const char scotland[] =
      "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074"
      "\U000E007F";
  char out[96], small[12];
  (void)state;
  rc_printable(out, sizeof out, scotland);
  assert_string_equal(out, scotland);
  rc_printable_line(out, sizeof out, "A \U0001F3F4\U000E0067\U000E0062"
                                     "\U000E0073\U000E0063\U000E0074"
                                     "\U000E007F B");
  assert_string_equal(out, "A \U0001F3F4\U000E0067\U000E0062\U000E0073"
                           "\U000E0063\U000E0074\U000E007F B");
  /* No cancel tag, no tag at all, tags elsewhere, a tag below U+E0020. */
  rc_printable(out, sizeof out,
               "\U0001F3F4\U000E0067\U000E0062|\U0001F3F4\U000E007F|"
               "x\U000E0067\U000E007F|\U0001F3F4\U000E0001\U000E007F");
  assert_string_equal(out, "\U0001F3F4??|\U0001F3F4?|x??|\U0001F3F4??");
  /* 4 + 24 bytes do not fit in 12: left out, the text before kept. */
  rc_printable(small, sizeof small, "ab");
  assert_string_equal(small, "ab");
  {
    char text[64];
    snprintf(text, sizeof text, "ab%s", scotland);
    rc_printable(small, sizeof small, text);
    assert_string_equal(small, "ab");
  }
}

/* Tags after a black flag that are no subdivision's code (capitals, a
 * space, more than 7) are a text the screen hides, smuggled past the
 * '?' each tag gets elsewhere: on 08382c0 🏴 + "IGNORE ALL" in tags + the
 * cancel tag was shown whole. */
static void test_printable_shows_no_hidden_text_after_a_black_flag(
    void **state) {
  char out[96];
  (void)state;
  rc_printable(out, sizeof out,
               "\U0001F3F4\U000E0049\U000E0047\U000E004E\U000E0020"
               "\U000E0061\U000E007F|"
               "\U0001F3F4\U000E0061\U000E0062\U000E0063\U000E0064"
               "\U000E0065\U000E0066\U000E0067\U000E0068\U000E007F|"
               "\U0001F3F4\U000E0067\U000E0062\U000E007F");
  assert_string_equal(out, "\U0001F3F4??????|\U0001F3F4?????????|"
                           "\U0001F3F4???");
  /* Seven tags of a code (a region and four more) are a flag still. */
  rc_printable(out, sizeof out,
               "\U0001F3F4\U000E0067\U000E0062\U000E0031\U000E0032"
               "\U000E0033\U000E0034\U000E0035\U000E007F");
  assert_string_equal(out, "\U0001F3F4\U000E0067\U000E0062\U000E0031"
                           "\U000E0032\U000E0033\U000E0034\U000E0035"
                           "\U000E007F");
}

/* A country's flag is two regional indicators: cut between them, a
 * letter in a box is left (on 08382c0 "🇨🇳🇨" in 12 bytes). A flag
 * that does not fit is left out whole; a lone one stays. */
static void test_printable_cuts_no_flag_in_half(void **state) {
  char out[13];
  (void)state;
  rc_printable_line(out, sizeof out, "\U0001F1E8\U0001F1F3\U0001F1E8"
                                     "\U0001F1F3");
  assert_string_equal(out, "\U0001F1E8\U0001F1F3");
  rc_printable_line(out, sizeof out, "\U0001F1E8\U0001F1F3\U0001F1FA");
  assert_string_equal(out, "\U0001F1E8\U0001F1F3\U0001F1FA");
}

static void test_printable_cuts_on_a_character_boundary(void **state) {
  char out[6];
  (void)state;
  assert_int_equal(rc_printable(out, sizeof out, "ab王芳"), 5);
  assert_string_equal(out, "ab王");
  assert_int_equal(rc_printable(out, 1, "abc"), 0);
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_new_error_has_no_file_or_line_of_before),
      cmocka_unit_test(test_printed_errors_name_only_what_was_set),
      cmocka_unit_test(test_printable_replaces_controls_and_broken_utf8),
      cmocka_unit_test(test_printable_cuts_on_a_character_boundary),
      cmocka_unit_test(test_printable_replaces_invisible_and_bidi),
      cmocka_unit_test(test_printable_shows_a_subdivision_flag_whole),
      cmocka_unit_test(test_printable_shows_no_hidden_text_after_a_black_flag),
      cmocka_unit_test(test_printable_cuts_no_flag_in_half),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
