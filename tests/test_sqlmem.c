/* SQLite's allocator: sizes it reports, contents kept across growth, and
 * free lists that reuse blocks and stay bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "sqlmem.h"

static int setup(void **state) {
  (void)state;
  sqlmem_install();
  return sqlite3_initialize() == SQLITE_OK ? 0 : -1;
}

static void test_blocks_are_as_large_as_asked_and_aligned(void **state) {
  const int sizes[] = {1, 47, 48, 49, 100, 1007, 1008, 1009, 5000, 70000};
  (void)state;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    char *p = sqlite3_malloc(sizes[i]);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_true(sqlite3_msize(p) >= (sqlite3_uint64)sizes[i]);
    memset(p, 0x5a, (size_t)sizes[i]); /* all of it is ours to write */
    sqlite3_free(p);
  }
}

static void test_growing_keeps_what_was_written(void **state) {
  char *p = sqlite3_malloc(40);
  (void)state;
  memcpy(p, "recoup keeps this text", 23);
  p = sqlite3_realloc(p, 900); /* to a larger class */
  assert_string_equal(p, "recoup keeps this text");
  p = sqlite3_realloc(p, 9000); /* past the classes */
  assert_string_equal(p, "recoup keeps this text");
  p = sqlite3_realloc(p, 10); /* shrinking keeps the block */
  assert_string_equal(p, "recoup keeps this text");
  sqlite3_free(p);
}

static void test_freed_blocks_are_reused_and_bounded(void **state) {
  enum { MANY = 3000 };
  static void *blocks[MANY];
  size_t before, bytes, after;
  void *p, *q;
  (void)state;
  p = sqlite3_malloc(200);
  sqlite3_free(p);
  q = sqlite3_malloc(190); /* same class: the same block back */
  assert_ptr_equal(p, q);
  sqlite3_free(q);
  sqlmem_cached(&before, &bytes);
  for (int i = 0; i < MANY; i++) blocks[i] = sqlite3_malloc(300);
  for (int i = 0; i < MANY; i++) sqlite3_free(blocks[i]);
  sqlmem_cached(&after, &bytes);
  /* One class keeps at most 512 blocks; the rest went back to malloc. */
  assert_true(after - before <= 512);
  assert_true(after > before);
  assert_true(bytes <= 16u * 512u * 1024u);
  /* Large blocks are never kept. */
  p = sqlite3_malloc(4096);
  sqlmem_cached(&before, &bytes);
  sqlite3_free(p);
  sqlmem_cached(&after, &bytes);
  assert_int_equal(after, before);
}

/* A database runs on it: what a statement allocates comes back. */
static void test_a_database_runs_on_it(void **state) {
  sqlite3 *db;
  sqlite3_stmt *s;
  (void)state;
  assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT) WITHOUT ROWID;"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                   "FROM n WHERE i < 5000) INSERT INTO t SELECT 'k' || i, "
                   "printf('%.*c', i % 700, 'x') FROM n;",
                   NULL, NULL, NULL),
      SQLITE_OK);
  assert_int_equal(
      sqlite3_prepare_v2(db, "SELECT count(*), sum(length(v)) FROM t", -1, &s,
                         NULL),
      SQLITE_OK);
  assert_int_equal(sqlite3_step(s), SQLITE_ROW);
  assert_int_equal(sqlite3_column_int(s, 0), 5000);
  sqlite3_finalize(s);
  sqlite3_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocks_are_as_large_as_asked_and_aligned),
      cmocka_unit_test(test_growing_keeps_what_was_written),
      cmocka_unit_test(test_freed_blocks_are_reused_and_bounded),
      cmocka_unit_test(test_a_database_runs_on_it),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
