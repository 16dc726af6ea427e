/* A database argument as messages and logs show it (store_where_shown):
 * a PostgreSQL URL's password, where libpq would read one, is ***; the
 * rest, and a file's path, as given; never past the buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/where.h"

static void shows(const char *db, const char *expected) {
  char out[512];
  store_where_shown(db, out, sizeof out);
  assert_string_equal(out, expected);
}

static void test_a_password_in_the_user_part_is_hidden(void **state) {
  (void)state;
  shows("postgresql://recoup:s3cret@db.example/book",
        "postgresql://recoup:***@db.example/book");
  shows("postgres://u:p%40ss@h:5432/b?sslmode=require",
        "postgres://u:***@h:5432/b?sslmode=require");
  /* libpq's user part ends at the first '@': what follows is the host */
  shows("postgresql://u:a@b@h/db", "postgresql://u:***@b@h/db");
  shows("postgresql://u:@h/db", "postgresql://u:***@h/db");
}

static void test_a_password_parameter_is_hidden(void **state) {
  (void)state;
  shows("postgresql:///book?host=/tmp/s&password=s3cret&user=r",
        "postgresql:///book?host=/tmp/s&password=***&user=r");
  shows("postgresql:///book?password=s3cret",
        "postgresql:///book?password=***");
  /* a parameter that merely ends in "password" is not one */
  shows("postgresql:///book?xpassword=k", "postgresql:///book?xpassword=k");
}

static void test_what_holds_no_password_is_shown_as_given(void **state) {
  (void)state;
  shows("postgresql:///book?host=/tmp/s&user=recoup",
        "postgresql:///book?host=/tmp/s&user=recoup");
  shows("postgresql://recoup@db/book", "postgresql://recoup@db/book");
  /* a ':' and an '@' past the first '/' are the path's, not a password */
  shows("postgresql://h/db:x@y", "postgresql://h/db:x@y");
  shows("var/recoup.db", "var/recoup.db");
  shows("/srv/u:p@x/recoup.db", "/srv/u:p@x/recoup.db");
  shows(":memory:", ":memory:");
}

static void test_the_buffer_is_never_overrun(void **state) {
  char out[16];
  (void)state;
  memset(out, 'x', sizeof out);
  store_where_shown("postgresql://recoup:s3cret@db.example/book", out, 16);
  assert_string_equal(out, "postgresql://re");
  store_where_shown("postgresql://r:s3cretsecret@h/b", out, 16);
  assert_int_equal(strstr(out, "s3c") == NULL, 1);
  store_where_shown("postgresql://r:s@h/b?password=s3cretsecret", out, 16);
  assert_int_equal(strstr(out, "s3c") == NULL, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_password_in_the_user_part_is_hidden),
      cmocka_unit_test(test_a_password_parameter_is_hidden),
      cmocka_unit_test(test_what_holds_no_password_is_shown_as_given),
      cmocka_unit_test(test_the_buffer_is_never_overrun),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
