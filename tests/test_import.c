/* Portfolio import: all or nothing, errors with line and column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "import.h"

static engine *open_mem(void) {
  engine_options opts = {FIXTURES "/basic", ":memory:", 1, 0, 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  assert_int_equal(engine_open(&eng, &opts, &errors), RC_OK);
  return eng;
}

typedef struct counter {
  int n;
} counter;

static int count_row(void *ud, const store_value *cols, int n) {
  (void)cols;
  (void)n;
  ((counter *)ud)->n++;
  return 0;
}

static int cases(engine *eng) {
  counter c = {0};
  query_cases(engine_query(eng), NULL, count_row, &c, NULL);
  return c.n;
}

static void test_csv_imports_every_row(void **state) {
  engine *eng = open_mem();
  import_stats stats;
  rc_errlist errors = {0};
  store_case c;
  store_borrower b;
  (void)state;
  assert_int_equal(import_file(eng, FIXTURES "/good.csv", &stats, &errors, 0),
                   RC_OK);
  assert_int_equal(stats.rows, 3);
  assert_int_equal(stats.opened, 3);
  assert_int_equal(cases(eng), 3);
  assert_int_equal(query_case(engine_query(eng), "L3", &c, NULL), RC_OK);
  assert_int_equal(c.balance, 200000);
  assert_string_equal(c.product, "auto");
  /* Unknown columns land in data, quoted newlines intact. */
  assert_non_null(strstr(c.data, "\"branch\":\"south\\nannex\""));
  store_case_free(&c);
  assert_int_equal(query_borrower(engine_query(eng), "B2", &b, NULL), RC_OK);
  assert_string_equal(b.name, "Li, Lei");
  store_borrower_free(&b);
  engine_close(eng);
}

static void test_negative_balance_refuses_the_whole_file(void **state) {
  engine *eng = open_mem();
  import_stats stats;
  rc_errlist errors = {0};
  (void)state;
  assert_int_equal(
      import_file(eng, FIXTURES "/bad_balance.csv", &stats, &errors, 0),
      RC_EINVAL);
  assert_int_equal(errors.count, 1);
  assert_int_equal(errors.items[0].line, 7);
  assert_string_equal(errors.items[0].field, "balance");
  assert_non_null(strstr(errors.items[0].message, "column balance"));
  assert_non_null(strstr(errors.items[0].message, "negative"));
  assert_int_equal(cases(eng), 0);
  rc_errlist_free(&errors);
  engine_close(eng);
}

static void test_ndjson_reports_each_bad_line(void **state) {
  engine *eng = open_mem();
  import_stats stats;
  rc_errlist errors = {0};
  (void)state;
  assert_int_equal(import_file(eng, FIXTURES "/bad.ndjson", &stats, &errors, 0),
                   RC_EINVAL);
  assert_int_equal(errors.count, 2);
  assert_int_equal(errors.items[0].line, 3);
  assert_non_null(strstr(errors.items[0].message, "not JSON"));
  assert_int_equal(errors.items[1].line, 4);
  assert_non_null(strstr(errors.items[1].message, "whole number"));
  assert_int_equal(cases(eng), 0);
  rc_errlist_free(&errors);
  engine_close(eng);
}

static void test_ndjson_takes_nested_and_flat_shapes(void **state) {
  engine *eng = open_mem();
  import_stats stats;
  rc_errlist errors = {0};
  store_borrower b;
  store_case c;
  (void)state;
  assert_int_equal(
      import_file(eng, FIXTURES "/good.ndjson", &stats, &errors, 0), RC_OK);
  assert_int_equal(stats.opened, 2);
  assert_int_equal(query_borrower(engine_query(eng), "B1", &b, NULL), RC_OK);
  assert_string_equal(b.employer_name, "Acme");
  assert_int_equal(b.ncontacts, 1);
  store_borrower_free(&b);
  assert_int_equal(query_case(engine_query(eng), "N2", &c, NULL), RC_OK);
  assert_string_equal(c.data, "{\"region\":\"west\"}");
  assert_string_equal(c.currency, "CNY"); /* the institution's default */
  store_case_free(&c);
  engine_close(eng);
}

static void test_reimport_updates_known_cases(void **state) {
  engine *eng = open_mem();
  import_stats stats;
  rc_errlist errors = {0};
  (void)state;
  import_file(eng, FIXTURES "/good.csv", &stats, &errors, 0);
  assert_int_equal(import_file(eng, FIXTURES "/good.csv", &stats, &errors, 0),
                   RC_OK);
  assert_int_equal(stats.opened, 0);
  assert_int_equal(stats.updated, 3);
  assert_int_equal(cases(eng), 3);
  engine_close(eng);
}

static void test_a_missing_id_column_is_reported(void **state) {
  engine *eng = open_mem();
  import_stats stats;
  rc_errlist errors = {0};
  FILE *f = tmpfile();
  (void)state;
  fputs("case,balance\nL1,100\n", f);
  rewind(f);
  assert_int_equal(
      import_stream(eng, f, "mem.csv", IMPORT_CSV, &stats, &errors, 0),
      RC_EINVAL);
  assert_non_null(strstr(errors.items[0].message, "no 'id' column"));
  fclose(f);
  rc_errlist_free(&errors);
  engine_close(eng);
}

static void test_short_rows_and_bad_fields_name_the_line(void **state) {
  engine *eng = open_mem();
  import_stats stats;
  rc_errlist errors = {0};
  FILE *f = tmpfile();
  (void)state;
  fputs(
      "id,borrower_id,balance,due_date,phone,timezone\n"
      "L1,B1,100,2026-01-01,+8613800000000,Asia/Shanghai\n"
      "L2,B2,100\n"
      "L3,B3,100,2026-02-30,,\n"
      "L4,B4,1e3,,,\n"
      "L5,B5,100,,call me,\n"
      "L6,B6,100,,,Asia/Nowhere\n"
      "L7,,100,,,\n",
      f);
  rewind(f);
  assert_int_equal(
      import_stream(eng, f, "mem.csv", IMPORT_CSV, &stats, &errors, 0),
      RC_EINVAL);
  assert_int_equal(errors.count, 6);
  assert_int_equal(errors.items[0].line, 3);
  assert_non_null(strstr(errors.items[0].message, "3 fields"));
  assert_string_equal(errors.items[1].field, "due_date");
  assert_string_equal(errors.items[2].field, "balance");
  assert_string_equal(errors.items[3].field, "phone");
  assert_string_equal(errors.items[4].field, "timezone");
  assert_string_equal(errors.items[5].field, "borrower_id");
  assert_int_equal(errors.items[5].line, 8);
  assert_int_equal(cases(eng), 0);
  fclose(f);
  rc_errlist_free(&errors);
  engine_close(eng);
}

static void test_a_score_must_be_a_finite_number(void **state) {
  engine *eng = open_mem();
  import_stats stats;
  rc_errlist errors = {0};
  FILE *f = tmpfile();
  (void)state;
  fputs("id,borrower_id,score\nL1,B1,nan\nL2,B2,inf\nL3,B3,612.5\n", f);
  rewind(f);
  assert_int_equal(
      import_stream(eng, f, "mem.csv", IMPORT_CSV, &stats, &errors, 0),
      RC_EINVAL);
  assert_int_equal(errors.count, 2);
  assert_string_equal(errors.items[0].field, "score");
  assert_int_equal(errors.items[1].line, 3);
  fclose(f);
  rc_errlist_free(&errors);
  engine_close(eng);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csv_imports_every_row),
      cmocka_unit_test(test_negative_balance_refuses_the_whole_file),
      cmocka_unit_test(test_ndjson_reports_each_bad_line),
      cmocka_unit_test(test_ndjson_takes_nested_and_flat_shapes),
      cmocka_unit_test(test_reimport_updates_known_cases),
      cmocka_unit_test(test_a_missing_id_column_is_reported),
      cmocka_unit_test(test_short_rows_and_bad_fields_name_the_line),
      cmocka_unit_test(test_a_score_must_be_a_finite_number),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
