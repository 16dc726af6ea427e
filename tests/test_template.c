/* Money and dates as the reader expects them, through ICU; texts filled
 * with formatters; a var a send does not pass is an error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>
#include <unicode/ucurr.h>
#include <unicode/unum.h>
#include <unicode/ustring.h>

#include "recoup/script.h"
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

/* A lookup over name/value pairs, plus two case fields. */
static template_value lookup(void *ud, const char *name) {
  const char *const *vars = ud;
  template_value v = {TEMPLATE_MISSING, NULL, 0, 0};
  for (int i = 0; vars[i]; i += 2)
    if (strcmp(vars[i], name) == 0) {
      v.kind = TEMPLATE_TEXT;
      v.text = vars[i + 1];
    }
  if (strcmp(name, "case.balance") == 0) {
    v.kind = TEMPLATE_MONEY;
    v.minor = 480000;
  } else if (strcmp(name, "case.due_date") == 0) {
    v.kind = TEMPLATE_DATE;
    v.text = "2026-01-01";
  }
  return v;
}

static template_ctx context(const char *locale, const char *const *vars) {
  template_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  ctx.name = "promise_confirm";
  ctx.channel = "sms";
  ctx.language = locale;
  ctx.locale = locale;
  ctx.currency = "CNY";
  ctx.lookup = lookup;
  ctx.ud = (void *)vars;
  return ctx;
}

/* text rendered from its plan, as case:send renders it, must give what
 * template_render gives: the bytes, the length needed, the code and the
 * error's words. Every test rendering through here checks both. */
static int render_both(const char *text, const template_ctx *ctx, char *buf,
                       size_t size, size_t *len, rc_error *err) {
  char *again = malloc(size ? size : 1);
  size_t len2 = 0, room = template_plan_size(text);
  template_plan *plan = malloc(room);
  rc_error err2;
  int rc, rc2;
  assert_non_null(again);
  assert_non_null(plan);
  memset(err, 0, sizeof *err);
  memset(&err2, 0, sizeof err2);
  rc = template_render(text, ctx, buf, size, len, err);
  template_plan_make(text, plan);
  rc2 = template_render_plan(plan, ctx, again, size, &len2, &err2);
  assert_int_equal(rc2, rc);
  assert_int_equal(len2, *len);
  if (rc == RC_OK && size) assert_string_equal(again, buf);
  assert_string_equal(err2.message, err->message);
  assert_string_equal(err2.field, err->field);
  free(plan);
  free(again);
  return rc;
}

static int render(const char *text, const template_ctx *ctx, char *buf,
                  size_t size, rc_error *err) {
  size_t len;
  return render_both(text, ctx, buf, size, &len, err);
}

/* The texts a plan must split as template_next reads them: braces
 * doubled, a lone '}', a '{' never closed, an empty placeholder, a name
 * longer than a name is kept, formatters known and not. */
/* A book from before extensions were refused may hold a borrower's
 * "zh-CN-u-ca-buddhist" or "-u-nu-hanidec": formatted as zh-CN, where
 * ICU dated it 佛历2568年 and wrote the amount in Chinese numerals. */
static void test_a_locale_s_extension_is_left_out(void **state) {
  static const char *const tags[] = {"zh-CN-u-ca-buddhist",
                                     "zh-CN-u-nu-hanidec", "zh-CN-x-priv",
                                     "zh-CN-t-en", "zh_CN@calendar=buddhist"};
  char want[128], got[128];
  (void)state;
  for (size_t i = 0; i < sizeof tags / sizeof *tags; i++) {
    template_format_date("zh-CN", "2026-01-31", want, sizeof want);
    template_format_date(tags[i], "2026-01-31", got, sizeof got);
    if (strcmp(want, got) != 0) fail_msg("%s: %s, not %s", tags[i], got, want);
    template_format_money("zh-CN", "CNY", 123456, want, sizeof want);
    template_format_money(tags[i], "CNY", 123456, got, sizeof got);
    if (strcmp(want, got) != 0) fail_msg("%s: %s, not %s", tags[i], got, want);
  }
}

static void test_a_plan_renders_what_the_text_renders(void **state) {
  static const char *const vars[] = {"vars.x", "a\"b", "vars.n", "12345", NULL};
  char name[200], text[400], buf[256];
  const char *texts[] = {
      "",
      "plain",
      "{vars.x}",
      "<{vars.x}>{{{vars.n:money}}} and } alone",
      "{{\"k\": \"{vars.x}\"}}",
      "open { never closed",
      "{}",
      "{vars.n:date}",
      "{vars.x:money}",
      "{vars.x:shout}",
      "{vars.missing} after",
      "{case.balance} {case.due_date} {case.due_date:money}",
      "两个{vars.x}和{vars.n:money}。",
      text,
  };
  template_ctx ctx = context("zh-CN", vars);
  rc_error err;
  size_t len;
  (void)state;
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  snprintf(text, sizeof text, "x{vars.%s}y{vars.x}", name);
  for (int json = 0; json < 2; json++) {
    ctx.json = json;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
      render_both(texts[i], &ctx, buf, sizeof buf, &len, &err);
      render_both(texts[i], &ctx, buf, 4, &len, &err); /* cut, as snprintf */
    }
  }
}

static void test_placeholders_name_their_formatter(void **state) {
  char name[32];
  (void)state;
  assert_int_equal(
      template_placeholder("vars.amount:money", 17, name, sizeof name),
      TEMPLATE_FMT_MONEY);
  assert_string_equal(name, "vars.amount");
  assert_int_equal(template_placeholder("vars.by:date", 12, name, sizeof name),
                   TEMPLATE_FMT_DATE);
  assert_int_equal(template_placeholder("case.fees", 9, name, sizeof name),
                   TEMPLATE_FMT_NONE);
  assert_string_equal(name, "case.fees");
  assert_int_equal(template_placeholder("vars.x:monye", 12, name, sizeof name),
                   TEMPLATE_FMT_UNKNOWN);
}

static void test_vars_are_formatted_for_the_reader(void **state) {
  static const char *const vars[] = {"vars.amount", "120000", "vars.by",
                                     "2026-01-10", NULL};
  const char *text =
      "{vars.amount:money} by {vars.by:date} of "
      "{case.balance} due {case.due_date}, raw {vars.amount}";
  template_ctx zh = context("zh-CN", vars), en = context("en", vars);
  char buf[256];
  rc_error err;
  (void)state;
  assert_int_equal(render(text, &zh, buf, sizeof buf, &err), RC_OK);
  assert_string_equal(buf,
                      "¥1,200.00 by 2026年1月10日 of ¥4,800.00 due "
                      "2026年1月1日, raw 120000");
  assert_int_equal(render(text, &en, buf, sizeof buf, &err), RC_OK);
  assert_string_equal(buf,
                      "CN¥1,200.00 by January 10, 2026 of CN¥4,800.00 "
                      "due January 1, 2026, raw 120000");
}

/* A doubled brace is one brace of the text: a webhook's JSON body. A
 * lone '}' stays as it always was. */
static void test_doubled_braces_are_literal(void **state) {
  static const char *const vars[] = {"borrower.name", "Wang", NULL};
  template_ctx en = context("en", vars);
  char buf[256];
  rc_error err;
  (void)state;
  assert_int_equal(render("{{\"name\": \"{borrower.name}\", \"due\": "
                          "\"{case.due_date}\"}}",
                          &en, buf, sizeof buf, &err),
                   RC_OK);
  assert_string_equal(buf,
                      "{\"name\": \"Wang\", \"due\": \"January 1, 2026\"}");
  assert_int_equal(render("{{{borrower.name}}} a}b {{}}", &en, buf, sizeof buf,
                          &err),
                   RC_OK);
  assert_string_equal(buf, "{Wang} a}b {}");
}

/* A template with json = true: each value is the inside of a JSON string
 * (a borrower's name holding a quote, a backslash or a newline broke the
 * body); text outside the values is as written. */
static void test_json_values_are_escaped(void **state) {
  static const char *const vars[] = {"vars.x", "a\"b\\c\nd\x01\xc3\xa9", NULL};
  template_ctx ctx = context("en", vars);
  char buf[256];
  rc_error err;
  (void)state;
  ctx.json = 1;
  assert_int_equal(
      render("{{\"x\": \"{vars.x}\", \"due\": \"{case.due_date}\"}} "
             "\"",
             &ctx, buf, sizeof buf, &err),
      RC_OK);
  assert_string_equal(buf,
                      "{\"x\": \"a\\\"b\\\\c\\nd\\u0001\xc3\xa9\", "
                      "\"due\": \"January 1, 2026\"} \"");
  ctx.json = 0;
  assert_int_equal(render("{vars.x}", &ctx, buf, sizeof buf, &err), RC_OK);
  assert_string_equal(buf, vars[1]);
}

/* `recoup check` (the scripts' load) takes such a template, and still
 * names a '{' never closed. */
static void check_template_def(const char *def, const char *want) {
  char dir[] = "/tmp/recoup-template-XXXXXX", path[128];
  script *sc = NULL;
  rc_errlist errors = {0};
  FILE *f;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/recoup.lua", dir);
  assert_non_null(f = fopen(path, "w"));
  fprintf(f,
          "institution { name = 'T', timezone = 'UTC', currency = 'USD' }\n"
          "channel 'hook' { driver = 'exec', command = { '/bin/cat' } }\n"
          "templates { t = { %s } }\n"
          "workflow(recoup.workflow { name = 'm', version = 1, initial = "
          "'open', states = { open = {} } })\n",
          def);
  fclose(f);
  assert_int_equal(script_load(&sc, dir, &errors) == RC_OK, want == NULL);
  if (want && !strstr(errors.items[0].message, want))
    fail_msg("wanted '%s' in: %s", want, errors.items[0].message);
  script_free(sc);
  rc_errlist_free(&errors);
  unlink(path);
  rmdir(dir);
}

/* json = true: `recoup check` renders each text with a sample value
 * holding a quote in each placeholder and refuses what is not JSON. */
static void test_check_reads_json_templates(void **state) {
  (void)state;
  check_template_def(
      "json = true, hook = [[{{\"name\": \"{borrower.name}\", \"a\": "
      "[\"{case.amount_due}\", 1]}}]]",
      NULL);
  check_template_def("json = true, hook = [[{{\"n\": {vars.n}}}]]",
                     "template 't' (hook) is json = true but is not JSON with "
                     "a sample value in each placeholder");
  check_template_def("json = true, hook = [[{{\"n\": \"{vars.n}\"]]",
                     "is not JSON");
  check_template_def("json = 'yes', hook = [[{{}}]]",
                     "template 't': json must be true or false");
  /* A placeholder ending an escape: a name ("Wang") makes "\u000W", "\W"
   * (main passed the first: its sample began with a hex digit). */
  check_template_def("json = true, hook = [[{{\"n\": \"\\u000{vars.n}\"}}]]",
                     "is not JSON");
  check_template_def("json = true, hook = [[{{\"n\": \"\\{vars.n}\"}}]]",
                     "is not JSON");
  check_template_def("json = true, hook = [[{{\"n\": \"\\\\{vars.n}\"}}]]",
                     NULL);
  /* Without it a text is not read as JSON. */
  check_template_def("hook = [[{{\"n\": {vars.n}}}]]", NULL);
}

static void check_templates(const char *text, int ok) {
  char dir[] = "/tmp/recoup-template-XXXXXX", path[128];
  script *sc = NULL;
  rc_errlist errors = {0};
  FILE *f;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/recoup.lua", dir);
  assert_non_null(f = fopen(path, "w"));
  fprintf(f,
          "institution { name = 'T', timezone = 'UTC', currency = 'USD' }\n"
          "channel 'hook' { driver = 'exec', command = { '/bin/cat' } }\n"
          "templates { t = { hook = [[%s]] } }\n"
          "workflow(recoup.workflow { name = 'm', version = 1, initial = "
          "'open', states = { open = {} } })\n",
          text);
  fclose(f);
  assert_int_equal(script_load(&sc, dir, &errors) == RC_OK, ok);
  if (!ok) assert_non_null(strstr(errors.items[0].message, "never closed"));
  script_free(sc);
  rc_errlist_free(&errors);
  unlink(path);
  rmdir(dir);
}

static void test_check_takes_doubled_braces(void **state) {
  (void)state;
  check_templates("{{\"name\": \"{borrower.name}\"}}", 1);
  check_templates("{{\"name\": \"{borrower.name\"", 0);
}

static void test_a_missing_var_is_an_error(void **state) {
  static const char *const vars[] = {"vars.amount", "120000", NULL};
  template_ctx ctx = context("zh-CN", vars);
  char buf[256];
  rc_error err;
  (void)state;
  ctx.language = "en"; /* the text's language, when the reader's is absent */
  assert_int_equal(render("首期到期日{vars.by:date}，每期{vars.amount:money}",
                          &ctx, buf, sizeof buf, &err),
                   RC_EINVAL);
  assert_string_equal(err.message,
                      "template 'promise_confirm' (sms, en) "
                      "needs {vars.by}, which this send does "
                      "not pass");
  assert_string_equal(err.field, "vars.by");
}

static void test_formatters_refuse_what_they_cannot_read(void **state) {
  static const char *const cents[] = {"vars.a", "12.5", NULL};
  static const char *const words[] = {"vars.by", "tomorrow", NULL};
  static const char *const fine[] = {"vars.a", "100000.0", NULL};
  template_ctx ctx = context("en", cents);
  char buf[256];
  rc_error err;
  (void)state;
  assert_int_equal(render("{vars.a:money}", &ctx, buf, sizeof buf, &err),
                   RC_EINVAL);
  assert_string_equal(err.message,
                      "template 'promise_confirm' (sms, en): {vars.a:money}: "
                      "money needs whole minor units (100000 for 1,000.00), "
                      "got '12.5'");
  ctx = context("en", words);
  assert_int_equal(render("{vars.by:date}", &ctx, buf, sizeof buf, &err),
                   RC_EINVAL);
  assert_non_null(strstr(err.message,
                         "date needs an ISO date, a date-time "
                         "or a duration such as \"3d\", got "
                         "'tomorrow'"));
  /* Lua prints a float that holds a whole number with ".0". */
  ctx = context("en", fine);
  assert_int_equal(render("{vars.a:money}", &ctx, buf, sizeof buf, &err),
                   RC_OK);
  assert_string_equal(buf, "CN¥1,000.00");
}

static void test_instants_fall_on_the_readers_day(void **state) {
  static const char *const vars[] = {"vars.at", "2026-03-01T23:30:00Z",
                                     "vars.in", "3d", NULL};
  template_ctx ctx = context("zh-CN", vars);
  rc_error err;
  rc_clock *clk = clock_new("Asia/Shanghai", &err);
  char buf[256];
  rc_time now;
  (void)state;
  assert_non_null(clk);
  assert_int_equal(clock_parse_time(clk, "2026-01-08T09:00", &now, &err),
                   RC_OK);
  clock_set(clk, now);
  ctx.clock = clk;
  assert_int_equal(
      render("{vars.at:date} {vars.in:date}", &ctx, buf, sizeof buf, &err),
      RC_OK);
  assert_string_equal(buf, "2026年3月2日 2026年1月11日");
  clock_free(clk);
}

static void test_render_says_the_length_it_needs(void **state) {
  static const char *const vars[] = {"vars.x", "abcdefghij", NULL};
  template_ctx ctx = context("en", vars);
  char buf[8];
  size_t len;
  rc_error err;
  (void)state;
  assert_int_equal(render_both("<{vars.x}>", &ctx, buf, sizeof buf, &len, &err),
                   RC_OK);
  assert_int_equal(len, 12);
  assert_string_equal(buf, "<abcdef");
}

/* recoup.money and recoup.date outside a handler: the institution's
 * locale and currency. */
static void test_script_formatters_default_to_the_institution(void **state) {
  script *sc = NULL;
  rc_errlist errors = {0};
  lua_State *L;
  (void)state;
  assert_int_equal(script_load(&sc, FIXTURES "/trial", &errors), RC_OK);
  L = script_lua(sc);
  assert_int_equal(luaL_dostring(L,
                                 "return recoup.money(100000) .. '|' .. "
                                 "recoup.money(250, 'USD') .. '|' .. "
                                 "recoup.date('2026-01-31')"),
                   LUA_OK);
  assert_string_equal(lua_tostring(L, -1), "¥1,000.00|US$2.50|2026年1月31日");
  lua_pop(L, 1);
  /* luaL_dostring says 1 for any error. */
  assert_int_not_equal(luaL_dostring(L, "return recoup.date('soon')"), LUA_OK);
  assert_non_null(strstr(lua_tostring(L, -1), "recoup.date: date needs"));
  lua_pop(L, 1);
  assert_int_not_equal(luaL_dostring(L, "return recoup.money(1, 'usd')"),
                       LUA_OK);
  lua_pop(L, 1);
  script_free(sc);
  rc_errlist_free(&errors);
}

/* Money as ICU writes it with a formatter of its own, scaled to minor
 * units: what template_format_money gave before it learnt ICU's pieces. */
static void icu_money(const char *locale, const char *currency,
                      rc_money minor, char *buf, size_t size) {
  UErrorCode status = U_ZERO_ERROR;
  UChar code[4], out[128];
  char loc[32];
  int32_t digits, len;
  UNumberFormat *fmt;
  snprintf(loc, sizeof loc, "%s", *locale ? locale : "en");
  for (char *p = loc; *p; p++)
    if (*p == '-') *p = '_';
  u_uastrcpy(code, currency);
  digits = ucurr_getDefaultFractionDigits(code, &status);
  fmt = unum_open(UNUM_CURRENCY, NULL, 0, loc, NULL, &status);
  unum_setTextAttribute(fmt, UNUM_CURRENCY_CODE, code, 3, &status);
  unum_setAttribute(fmt, UNUM_SCALE, -digits);
  len = unum_formatInt64(fmt, minor, out, 128, NULL, &status);
  u_strToUTF8(buf, (int32_t)size, NULL, out, len, &status);
  assert_false(U_FAILURE(status));
  unum_close(fmt);
}

/* Every locale and currency the tests and examples use, and some whose
 * groups, separators, affixes or digits differ (lakhs, a two-digit
 * minimum group, spaces, suffixes, Arabic digits): each amount byte for
 * byte as ICU writes it, whether learnt or not. The reminders' own
 * zh-CN and en formatters must be learnt. */
static void test_money_is_icus_byte_for_byte(void **state) {
  static const char *const locales[] = {
      "en", "zh-CN", "zh_CN", "", "ja", "de", "fr", "en-IN", "es", "pl",
      "de-CH", "ar-EG", "he", "pt-BR", "sv", "ko"};
  static const char *const currencies[] = {"CNY", "USD", "XXX", "JPY", "KWD",
                                           "KRW", "EUR", "INR", "CHF", "CLF"};
  uint64_t x = 88172645463325252ULL;
  (void)state;
  assert_true(template_money_learnt("zh-CN", "CNY"));
  assert_true(template_money_learnt("en", "USD"));
  assert_true(template_money_learnt("en", "CNY"));
  for (size_t l = 0; l < sizeof locales / sizeof *locales; l++)
    for (size_t c = 0; c < sizeof currencies / sizeof *currencies; c++)
      for (int i = 0; i < 300; i++) {
        char got[256], want[256];
        rc_money v;
        /* Every magnitude: a random 64-bit number cut to i % 20 digits. */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v = (rc_money)(x >> 1);
        for (int d = 19 - i % 20; d > 0; d--) v /= 10;
        if (i % 2) v = -v;
        if (i == 0) v = 0;
        if (i == 1) v = INT64_MIN;
        if (i == 2) v = INT64_MAX;
        if (i == 3) v = -1;
        if (i == 4) v = 1000;
        template_format_money(locales[l], currencies[c], v, got, sizeof got);
        icu_money(locales[l], currencies[c], v, want, sizeof want);
        if (strcmp(got, want) != 0)
          fail_msg("'%s' %s %lld: got '%s', want '%s'", locales[l],
                   currencies[c], (long long)v, got, want);
      }
}

/* A buffer that ICU's text exactly fills: ICU writes no NUL there (a
 * warning, not a failure), so the text must not be kept. Whatever size,
 * the buffer ends in a NUL within it and nothing is written past it.
 * Failed on main (79028ea): "$1,234.56" in 9 bytes, the date likewise. */
static void test_icu_text_ends_in_its_buffer_whatever_its_size(void **st) {
  static const char *const pairs[][2] = {
      {"en", "USD"}, {"zh-CN", "CNY"}, {"ar-EG", "EGP"}, {"de-CH", "CHF"}};
  (void)st;
  for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++)
    for (size_t size = 1; size < 40; size++) {
      char money[48], date[48];
      memset(money, 'Z', sizeof money);
      memset(date, 'Z', sizeof date);
      template_format_money(pairs[k][0], pairs[k][1], 123456, money, size);
      template_format_date(pairs[k][0], "2026-01-31", date, size);
      if (!memchr(money, '\0', size) || !memchr(date, '\0', size))
        fail_msg("%s %s in %zu bytes: no NUL", pairs[k][0], pairs[k][1],
                 size);
      assert_true(money[size] == 'Z' && date[size] == 'Z');
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_money_in_minor_units),
      cmocka_unit_test(test_dates_by_locale),
      cmocka_unit_test(test_a_locale_s_extension_is_left_out),
      cmocka_unit_test(test_placeholders_name_their_formatter),
      cmocka_unit_test(test_vars_are_formatted_for_the_reader),
      cmocka_unit_test(test_doubled_braces_are_literal),
      cmocka_unit_test(test_check_takes_doubled_braces),
      cmocka_unit_test(test_a_missing_var_is_an_error),
      cmocka_unit_test(test_formatters_refuse_what_they_cannot_read),
      cmocka_unit_test(test_instants_fall_on_the_readers_day),
      cmocka_unit_test(test_render_says_the_length_it_needs),
      cmocka_unit_test(test_a_plan_renders_what_the_text_renders),
      cmocka_unit_test(test_json_values_are_escaped),
      cmocka_unit_test(test_check_reads_json_templates),
      cmocka_unit_test(test_script_formatters_default_to_the_institution),
      cmocka_unit_test(test_money_is_icus_byte_for_byte),
      cmocka_unit_test(test_icu_text_ends_in_its_buffer_whatever_its_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
