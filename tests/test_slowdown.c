/* The sign-in slow-down (runtime/slowdown.c) on a clock of our own: free
 * tries, waits that double to a cap, per name and per address, one at a
 * time past the free tries, and a full table that keeps the counts that
 * matter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "slowdown.h"

/* A failed try at now: begun (it must be allowed) and ended. */
static void fail_once(slowdown *sd, const char *name, const char *addr,
                      uint64_t now) {
  int wait = slowdown_begin(sd, name, addr, now);
  if (wait)
    fail_msg("%s from %s waits %d s at %llu", name, addr, wait,
             (unsigned long long)now);
  slowdown_end(sd, name, addr, SLOWDOWN_FAILED, now);
}

static void test_a_name_waits_after_three_failures_doubling(void **state) {
  slowdown *sd = slowdown_new(64);
  uint64_t t = 1000000;
  (void)state;
  for (int i = 0; i < 3; i++) fail_once(sd, "li.wei", "a1", t);
  assert_int_equal(slowdown_begin(sd, "li.wei", "a2", t), 1);
  t += 1000;
  fail_once(sd, "li.wei", "a1", t);
  assert_int_equal(slowdown_begin(sd, "li.wei", "a1", t), 2);
  t += 2000;
  fail_once(sd, "li.wei", "a1", t);
  assert_int_equal(slowdown_begin(sd, "li.wei", "a1", t), 4);
  /* to the cap of five minutes */
  for (int i = 0; i < 12; i++) {
    t += 300000;
    fail_once(sd, "li.wei",
              "a"
              "1",
              t);
  }
  assert_int_equal(slowdown_begin(sd, "li.wei", "a1", t), 300);
  /* others are not slowed */
  assert_int_equal(slowdown_begin(sd, "wang.fang", "a9", t), 0);
  slowdown_end(sd, "wang.fang", "a9", SLOWDOWN_SUCCEEDED, t);
  slowdown_free(sd);
}

static void test_a_success_forgets_the_name_not_the_address(void **state) {
  slowdown *sd = slowdown_new(64);
  uint64_t t = 1000000;
  (void)state;
  for (int i = 0; i < 3; i++) fail_once(sd, "li.wei", "a1", t);
  t += 1000;
  assert_int_equal(slowdown_begin(sd, "li.wei", "a1", t), 0);
  slowdown_end(sd, "li.wei", "a1", SLOWDOWN_SUCCEEDED, t);
  for (int i = 0; i < 3; i++) fail_once(sd, "li.wei", "a1", t);
  /* the address has 6 failures, under its 20 */
  for (int i = 0; i < 14; i++) {
    char name[16];
    snprintf(name, sizeof name, "n%d", i);
    fail_once(sd, name, "a1", t);
  }
  assert_int_equal(slowdown_begin(sd, "fresh", "a1", t), 1);
  assert_int_equal(slowdown_begin(sd, "fresh", "a2", t), 0);
  slowdown_end(sd, "fresh", "a2", SLOWDOWN_ABANDONED, t);
  /* an address waits at most a minute */
  for (int i = 0; i < 10; i++) {
    char name[16];
    snprintf(name, sizeof name, "m%d", i);
    t += 60000;
    fail_once(sd, name, "a1", t);
  }
  assert_int_equal(slowdown_begin(sd, "fresh", "a1", t), 60);
  /* fifteen quiet minutes forget it */
  t += 16 * 60000;
  assert_int_equal(slowdown_begin(sd, "fresh", "a1", t), 0);
  slowdown_free(sd);
}

static void test_past_the_free_tries_one_at_a_time(void **state) {
  slowdown *sd = slowdown_new(64);
  uint64_t t = 1000000;
  (void)state;
  /* three may start together while nothing has failed */
  for (int i = 0; i < 3; i++)
    assert_int_equal(slowdown_begin(sd, "li.wei", "a1", t), 0);
  slowdown_end(sd, "li.wei", "a1", SLOWDOWN_FAILED, t);
  /* one failed and two are in flight: the next waits for them */
  assert_int_equal(slowdown_begin(sd, "li.wei", "a1", t), 1);
  slowdown_end(sd, "li.wei", "a1", SLOWDOWN_FAILED, t);
  slowdown_end(sd, "li.wei", "a1", SLOWDOWN_ABANDONED, t);
  assert_int_equal(slowdown_begin(sd, "li.wei", "a1", t), 0);
  slowdown_end(sd, "li.wei", "a1", SLOWDOWN_SUCCEEDED, t);
  slowdown_free(sd);
}

/* Before any has failed, no more than the free tries start at once: a
 * burst of sixteen parallel guesses (the sign-ins verifying at once) at a
 * fresh name would otherwise all be checked, five times the free tries. */
static void test_a_burst_at_a_fresh_name_gets_only_the_free_tries(void **state) {
  slowdown *sd = slowdown_new(64);
  uint64_t t = 1000000;
  int started = 0;
  (void)state;
  for (int i = 0; i < 16; i++) {
    char addr[16];
    snprintf(addr, sizeof addr, "a%d", i);
    if (slowdown_begin(sd, "li.wei", addr, t) == 0) started++;
  }
  assert_int_equal(started, 3);
  slowdown_free(sd);
}

static void test_a_full_table_keeps_the_names_under_attack(void **state) {
  slowdown *sd = slowdown_new(16);
  uint64_t t = 1000000;
  (void)state;
  for (int i = 0; i < 3; i++) fail_once(sd, "victim", "a1", t);
  /* a flood of new names, one failure each, from many addresses */
  for (int i = 0; i < 1000; i++) {
    char name[16], addr[16];
    snprintf(name, sizeof name, "x%d", i);
    snprintf(addr, sizeof addr, "b%d", i);
    fail_once(sd, name, addr, t);
  }
  assert_int_equal(slowdown_begin(sd, "victim", "a7", t), 1);
  slowdown_free(sd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_name_waits_after_three_failures_doubling),
      cmocka_unit_test(test_a_success_forgets_the_name_not_the_address),
      cmocka_unit_test(test_past_the_free_tries_one_at_a_time),
      cmocka_unit_test(test_a_burst_at_a_fresh_name_gets_only_the_free_tries),
      cmocka_unit_test(test_a_full_table_keeps_the_names_under_attack),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
