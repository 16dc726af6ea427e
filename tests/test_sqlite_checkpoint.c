/* Copying the WAL back on a thread of the store's own
 * (runtime/store/sqlite_checkpoint.c): the thread copies while the writer
 * goes on, the WAL stays bounded under a writer that never pauses, and a
 * clean stop leaves no thread behind. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"

static char path[256], wal[300];

static int setup(void **state) {
  (void)state;
  snprintf(path, sizeof path, "/tmp/recoup-test-ckpt-%d.db", (int)getpid());
  snprintf(wal, sizeof wal, "%s-wal", path);
  unlink(path);
  unlink(wal);
  return 0;
}

static int teardown(void **state) {
  char side[300];
  (void)state;
  unlink(path);
  unlink(wal);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  return 0;
}

static long long file_size(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* Threads of this process, from /proc. */
static int threads(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* One transaction that writes about `kb` KB of new rows (a meta key each
 * of 1 KB), as a slice of a sweep writes pages the WAL must copy back. */
static void write_batch(store *st, int batch, int kb) {
  char key[64], value[1025];
  rc_error err;
  memset(value, 'a' + batch % 26, 1024);
  value[1024] = '\0';
  assert_int_equal(store_begin(st, &err), RC_OK);
  for (int i = 0; i < kb; i++) {
    snprintf(key, sizeof key, "ckpt.%d.%d", batch, i);
    assert_int_equal(store_meta_put(st, key, value, &err), RC_OK);
  }
  assert_int_equal(store_commit(st, &err), RC_OK);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* The thread copies what commits left; the writer never does (its own
 * bound is far above what is written here), so the database file grows
 * only by the thread's copies. */
static void test_thread_copies_back(void **state) {
  store *st = NULL;
  rc_error err;
  long long before;
  int i;
  (void)state;
  assert_int_equal(store_open(&st, path, &err), RC_OK);
  assert_int_equal(store_checkpoint_apart(st, 64, 1 << 20, &err), RC_OK);
  before = file_size(path);
  for (i = 0; i < 20; i++) write_batch(st, i, 64);
  /* Waits for the copy (no time is asserted: the file must grow). */
  for (i = 0; i < 3000 && file_size(path) <= before; i++) sleep_ms(10);
  assert_true(file_size(path) > before + 64 * 1024);
  store_close(st);
}

/* A writer that never pauses: the WAL never holds more than `most` pages
 * and a quarter, and one transaction (past `most`, a commit copies the
 * rest itself when the thread is idle, and waits for it past a quarter
 * more). */
static void test_wal_stays_bounded(void **state) {
  store *st = NULL;
  rc_error err;
  const int most = 256, batch_kb = 48;
  /* The WAL's header, and a frame a page: 4 KB pages (a new book) plus
   * a 24-byte header each; a transaction writes its rows and the
   * index's pages, under twice its kilobytes of pages. */
  const long long bound =
      32 + (long long)(most + most / 4 + 2 * batch_kb) * (4096 + 24);
  long long largest = 0;
  (void)state;
  assert_int_equal(store_open(&st, path, &err), RC_OK);
  assert_int_equal(store_checkpoint_apart(st, 32, most, &err), RC_OK);
  for (int i = 0; i < 200; i++) {
    long long n;
    write_batch(st, i, batch_kb);
    if ((n = file_size(wal)) > largest) largest = n;
  }
  printf("largest WAL %lld bytes, bound %lld\n", largest, bound);
  assert_true(largest > 0);
  assert_true(largest <= bound);
  /* Everything written is there. */
  {
    char buf[2048];
    assert_int_equal(store_meta_get(st, "ckpt.199.47", buf, sizeof buf, &err),
                     RC_OK);
    assert_int_equal((int)strlen(buf), 1024);
  }
  store_close(st);
}

/* Started and stopped: one thread more while it copies, none after a
 * stop or a close; stopped, the store goes on as before. */
static void test_stop_leaves_no_thread(void **state) {
  store *st = NULL;
  rc_error err;
  int at_start = threads();
  (void)state;
  assert_int_equal(store_open(&st, path, &err), RC_OK);
  assert_int_equal(threads(), at_start);
  assert_int_equal(store_checkpoint_apart(st, 16, 64, &err), RC_OK);
  assert_int_equal(threads(), at_start + 1);
  write_batch(st, 1, 40);
  /* Started again: still one. */
  assert_int_equal(store_checkpoint_apart(st, 16, 64, &err), RC_OK);
  assert_int_equal(threads(), at_start + 1);
  assert_int_equal(store_checkpoint_apart(st, 0, 0, &err), RC_OK);
  assert_int_equal(threads(), at_start);
  write_batch(st, 2, 40);
  assert_int_equal(store_checkpoint_apart(st, 16, 64, &err), RC_OK);
  write_batch(st, 3, 40);
  store_close(st);
  assert_int_equal(threads(), at_start);
  /* Closed cleanly: the last connection copied everything back. */
  assert_true(file_size(wal) <= 0);
}

/* A database in memory has no WAL: nothing to copy, no thread. */
static void test_memory_has_no_copier(void **state) {
  store *st = NULL;
  rc_error err;
  int at_start = threads();
  (void)state;
  assert_int_equal(store_open(&st, ":memory:", &err), RC_OK);
  assert_int_equal(store_checkpoint_apart(st, 16, 64, &err), RC_OK);
  assert_int_equal(threads(), at_start);
  write_batch(st, 1, 8);
  store_close(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_thread_copies_back, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_wal_stays_bounded, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_leaves_no_thread, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_memory_has_no_copier, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
