/* The route table in runtime/api.c and the document the binary serves
 * (docs/openapi.json, compiled in) describe the same API: every route and
 * method of one is in the other, with the same roles, and the compiled-in
 * copy is the file in the tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "service.h"

static json_t *doc;

static const char *const role_names[4] = {"ingest", "agent", "read", "admin"};

/* "/v1/cases/{}" in the table is "/v1/cases/{id}" in the document. */
static void doc_path(const char *pattern, char *out, size_t size) {
  size_t at = 0;
  for (const char *p = pattern; *p && at + 5 < size; p++) {
    if (p[0] == '{' && p[1] == '}') {
      memcpy(out + at, "{id}", 4);
      at += 4;
      p++;
    } else {
      out[at++] = *p;
    }
  }
  out[at] = '\0';
}

static void lower(const char *in, char *out, size_t size) {
  size_t i = 0;
  for (; in[i] && i + 1 < size; i++)
    out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
  out[i] = '\0';
}

/* The roles an operation's security names, as ROLE_ bits; 0 for none. */
static int doc_roles(json_t *op) {
  json_t *sec = json_object_get(op, "security"), *alt;
  size_t i;
  int roles = 0;
  json_array_foreach(sec, i, alt) {
    json_t *users = json_object_get(alt, "session"), *name;
    size_t k;
    for (int r = 0; r < 4; r++)
      if (json_object_get(alt, role_names[r])) roles |= 1 << r;
    /* a console user's session, with the users' roles it admits */
    json_array_foreach(users, k, name) {
      const char *s = json_string_value(name);
      for (int r = 0; s && r < 4; r++)
        if (!strcmp(s, role_names[r])) roles |= 1 << r;
      if (s && !strcmp(s, "supervisor")) roles |= ROLE_SUPERVISOR;
    }
  }
  return roles;
}

static void test_every_route_is_documented_with_its_roles(void **state) {
  (void)state;
  for (int i = 0; i < api_route_count(); i++) {
    const char *method, *pattern;
    char path[128], m[16];
    int roles;
    json_t *op;
    api_route_at(i, &method, &pattern, &roles);
    doc_path(pattern, path, sizeof path);
    lower(method, m, sizeof m);
    op = json_object_get(json_object_get(json_object_get(doc, "paths"), path),
                         m);
    if (!op) fail_msg("%s %s is not in docs/openapi.json", method, path);
    if (!json_is_array(json_object_get(op, "security")))
      fail_msg("%s %s: the document gives no security", method, path);
    /* admin may use every route that needs a token */
    if (doc_roles(op) != (roles ? roles | ROLE_ADMIN : 0))
      fail_msg("%s %s: roles %#x in the table, %#x in the document", method,
               path, roles ? roles | ROLE_ADMIN : 0, doc_roles(op));
  }
}

static void test_every_documented_route_is_in_the_table(void **state) {
  const char *path, *m;
  json_t *item, *op;
  (void)state;
  json_object_foreach(json_object_get(doc, "paths"), path, item) {
    json_object_foreach(item, m, op) {
      int found = 0;
      for (int i = 0; i < api_route_count() && !found; i++) {
        const char *method, *pattern;
        char p[128], lm[16];
        int roles;
        api_route_at(i, &method, &pattern, &roles);
        doc_path(pattern, p, sizeof p);
        lower(method, lm, sizeof lm);
        found = !strcmp(p, path) && !strcmp(lm, m);
      }
      if (!found && strcmp(m, "parameters") != 0)
        fail_msg("%s %s is documented but not routed", m, path);
    }
  }
}

static void test_the_compiled_in_document_is_the_file(void **state) {
  FILE *f = fopen(OPENAPI_JSON, "rb");
  static char file[1 << 20];
  size_t n;
  (void)state;
  assert_non_null(f);
  n = fread(file, 1, sizeof file, f);
  fclose(f);
  assert_int_equal(n, openapi_json_len);
  assert_memory_equal(file, openapi_json, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_route_is_documented_with_its_roles),
      cmocka_unit_test(test_every_documented_route_is_in_the_table),
      cmocka_unit_test(test_the_compiled_in_document_is_the_file),
  };
  json_error_t e;
  doc = json_loadb((const char *)openapi_json, openapi_json_len, 0, &e);
  if (!doc) {
    fprintf(stderr, "the compiled-in document is not JSON: %s (line %d)\n",
            e.text, e.line);
    return 1;
  }
  {
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    json_decref(doc);
    return rc;
  }
}
