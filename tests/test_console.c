/* The console's file server: which paths it owns, what each answers, and
 * the headers every answer carries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "console.h"

/* The page's body is in the answer's own page buffer (body points there
 * in the original): tests read the copies' page. */
static console_answer ask(const char *method, const char *path,
                          const char *inm) {
  console_answer a;
  memset(&a, 0, sizeof a);
  console_answer_for(method, path, inm, NULL, &a);
  return a;
}

static console_answer ask_in(const char *lang, const char *title,
                             const char *inm) {
  console_answer a;
  console_page words = {lang, title};
  memset(&a, 0, sizeof a);
  console_answer_for("GET", "/", inm, &words, &a);
  return a;
}

static const char *etag_of(const console_answer *a, char *buf, size_t size) {
  const char *p = strstr(a->headers, "ETag: ");
  size_t n;
  assert_non_null(p);
  p += strlen("ETag: ");
  n = strcspn(p, "\r");
  assert_true(n < size);
  memcpy(buf, p, n);
  buf[n] = '\0';
  return buf;
}

static const console_asset *asset(const char *name) {
  for (size_t i = 0; i < console_asset_count; i++)
    if (strcmp(console_assets[i].path, name) == 0) return &console_assets[i];
  return NULL;
}

/* The console's policy; nosniff, X-Frame-Options and Referrer-Policy are
 * the transport's on every answer, so they must not come twice. */
static void assert_security_headers(const console_answer *a) {
  assert_non_null(strstr(a->headers,
                         "Content-Security-Policy: default-src 'none'; "
                         "script-src 'self'; style-src 'self'; img-src 'self' "
                         "data:; connect-src 'self'; font-src 'self'; "
                         "base-uri 'none'; form-action 'self'; "
                         "frame-ancestors 'none'\r\n"));
  assert_null(strstr(a->headers, "X-Frame-Options"));
  assert_null(strstr(a->headers, "X-Content-Type-Options"));
  assert_null(strstr(a->headers, "Referrer-Policy"));
}

static void test_console_owns_the_page_and_its_files(void **state) {
  (void)state;
  assert_true(console_owns("/"));
  assert_true(console_owns("/index.html"));
  assert_true(console_owns("/assets/js/app.js"));
  assert_true(console_owns("/assets/nope.js"));
  /* the rest is the API's, whose 404 is JSON */
  assert_false(console_owns("/favicon.ico"));
  assert_false(console_owns("/v2/anything"));
  assert_false(console_owns("/v1/cases"));
  assert_false(console_owns("/health"));
  assert_false(console_owns("/metrics"));
}

static void test_root_is_the_page_never_cached_stale(void **state) {
  console_answer a = ask("GET", "/", NULL);
  const console_asset *idx = asset("index.html");
  (void)state;
  assert_non_null(idx);
  assert_int_equal(a.status, 200);
  assert_string_equal(a.type, "text/html; charset=utf-8");
  assert_true(a.len > 0 && a.len < sizeof a.page);
  assert_non_null(strstr((const char *)a.page, "<html lang=\"en\">"));
  assert_non_null(strstr((const char *)a.page, "<title>recoup</title>"));
  assert_null(strstr((const char *)a.page, "{"));
  assert_non_null(strstr(a.headers, "Cache-Control: no-cache\r\n"));
  assert_non_null(strstr(a.headers, "ETag: \""));
  assert_security_headers(&a);
}

/* A zh-CN institution's page says so before any script runs: a screen
 * reader reads Chinese as Chinese, the tab shows the lender's name, the
 * browser offers no translation from English. */
static void test_page_speaks_the_institutions_language_from_the_first_byte(
    void **state) {
  console_answer zh = ask_in("zh-CN", "云南小贷", NULL);
  console_answer en = ask_in("en", "Yunnan Microcredit", NULL);
  const char *body = (const char *)zh.page;
  char tag_zh[64], tag_en[64];
  (void)state;
  assert_int_equal(zh.status, 200);
  assert_non_null(strstr(body, "<html lang=\"zh-CN\">"));
  assert_non_null(strstr(body, "<title>云南小贷</title>"));
  assert_non_null(strstr(body, "加载中…"));
  assert_null(strstr(body, "Loading"));
  assert_non_null(strstr((const char *)en.page, "<html lang=\"en\">"));
  assert_non_null(
      strstr((const char *)en.page, "<title>Yunnan Microcredit</title>"));
  /* The page's tag is its own: a browser holding the English page is not
   * told that it still holds the Chinese one. */
  etag_of(&zh, tag_zh, sizeof tag_zh);
  etag_of(&en, tag_en, sizeof tag_en);
  assert_string_not_equal(tag_zh, tag_en);
  assert_int_equal(ask_in("zh-CN", "云南小贷", tag_zh).status, 304);
  assert_int_equal(ask_in("en", "Yunnan Microcredit", tag_zh).status, 200);
  assert_int_equal(
      ask_in("zh-CN", "云南小贷", asset("index.html")->etag).status, 200);
}

/* The name is the lender's text, put into the page escaped. */
static void test_page_title_is_escaped(void **state) {
  console_answer a =
      ask_in("en\"><script>", "A&B <script>alert(1)</script> \"'", NULL);
  const char *body = (const char *)a.page;
  (void)state;
  assert_int_equal(a.status, 200);
  assert_non_null(strstr(body, "<html lang=\"en&quot;&gt;&lt;script&gt;\">"));
  assert_non_null(strstr(body,
                         "<title>A&amp;B &lt;script&gt;alert(1)&lt;/"
                         "script&gt; &quot;&#39;</title>"));
  assert_int_equal(strstr(body, "<script") - body,
                   strstr(body, "<script type=\"module\"") - body);
}

static void test_assets_have_their_type(void **state) {
  console_answer js = ask("GET", "/assets/js/app.js", NULL);
  console_answer css = ask("GET", "/assets/css/console.css", NULL);
  console_answer lib = ask("GET", "/assets/vendor/echarts.min.js", NULL);
  (void)state;
  assert_int_equal(js.status, 200);
  assert_string_equal(js.type, "text/javascript; charset=utf-8");
  assert_int_equal(css.status, 200);
  assert_string_equal(css.type, "text/css; charset=utf-8");
  assert_int_equal(lib.status, 200);
  assert_true(lib.len > 500000);
  assert_security_headers(&js);
}

static void test_head_answers_without_a_body(void **state) {
  console_answer a = ask("HEAD", "/", NULL);
  (void)state;
  /* the GET's length; the transport sends no body for a HEAD */
  assert_int_equal(a.status, 200);
  assert_int_equal(a.len, ask("GET", "/", NULL).len);
}

static void test_matching_etag_is_not_modified(void **state) {
  char tag[64], list[128];
  console_answer a, b, c, d, page = ask("GET", "/", NULL);
  (void)state;
  etag_of(&page, tag, sizeof tag);
  a = ask("GET", "/", tag);
  assert_int_equal(a.status, 304);
  assert_int_equal(a.len, 0);
  assert_security_headers(&a);
  snprintf(list, sizeof list, "\"other\", W/%s", tag);
  b = ask("GET", "/", list);
  assert_int_equal(b.status, 304);
  c = ask("GET", "/", "\"0000000000000000\"");
  assert_int_equal(c.status, 200);
  d = ask("GET", "/", "*");
  assert_int_equal(d.status, 304);
}

static void test_unknown_asset_is_a_plain_404(void **state) {
  console_answer a = ask("GET", "/assets/js/nope.js", NULL);
  console_answer b = ask("GET", "/work", NULL);
  (void)state;
  assert_int_equal(a.status, 404);
  assert_string_equal(a.type, "text/plain; charset=utf-8");
  assert_null(strstr((const char *)a.page, "<html"));
  assert_int_equal(b.status, 404);
  assert_security_headers(&a);
}

static void test_no_path_traversal(void **state) {
  static const char *const paths[] = {"/assets/../CMakeLists.txt",
                                      "/assets/js/../../index.html",
                                      "/assets/%2e%2e/CMakeLists.txt",
                                      "/assets/%2E%2E/%2e%2e/etc/passwd",
                                      "/assets/..%2fCMakeLists.txt",
                                      "/assets//js/app.js",
                                      "/assets/./js/app.js",
                                      "/assets/",
                                      "/assets"};
  (void)state;
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
    assert_int_equal(ask("GET", paths[i], NULL).status, 404);
}

static void test_other_methods_are_refused(void **state) {
  static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH",
                                        "OPTIONS"};
  (void)state;
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    console_answer a = ask(methods[i], "/", NULL);
    assert_int_equal(a.status, 405);
    assert_non_null(strstr(a.headers, "Allow: GET, HEAD\r\n"));
    assert_security_headers(&a);
  }
}

static void test_page_has_no_inline_script_or_style(void **state) {
  const console_asset *idx = asset("index.html");
  char text[4096];
  (void)state;
  assert_true(idx->len < sizeof text);
  memcpy(text, idx->bytes, idx->len);
  text[idx->len] = '\0';
  assert_null(strstr(text, "<style"));
  assert_null(strstr(text, "style="));
  assert_null(strstr(text, "onload="));
  /* every script names its source */
  for (const char *p = text; (p = strstr(p, "<script")) != NULL; p++)
    assert_non_null(strstr(p, "src="));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_console_owns_the_page_and_its_files),
      cmocka_unit_test(test_root_is_the_page_never_cached_stale),
      cmocka_unit_test(
          test_page_speaks_the_institutions_language_from_the_first_byte),
      cmocka_unit_test(test_page_title_is_escaped),
      cmocka_unit_test(test_assets_have_their_type),
      cmocka_unit_test(test_head_answers_without_a_body),
      cmocka_unit_test(test_matching_etag_is_not_modified),
      cmocka_unit_test(test_unknown_asset_is_a_plain_404),
      cmocka_unit_test(test_no_path_traversal),
      cmocka_unit_test(test_other_methods_are_refused),
      cmocka_unit_test(test_page_has_no_inline_script_or_style),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
