/* child_spawn: what a child of the service starts with, whatever the
 * thread that starts it blocked or ignored. */
#define _GNU_SOURCE /* pipe2 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "child.h"

/* Runs args (no shell between: a shell resets the mask it inherits)
 * through child_spawn with stdout (and, with both, stderr) into out;
 * returns its status. */
static int run(char *const args[], int both, int nice, char *out, size_t cap) {
  int fds[2];
  size_t len = 0;
  ssize_t n;
  pid_t pid;
  assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
  assert_int_equal(
      child_spawn(&pid, args[0], args, NULL, fds[1], both ? fds[1] : -1, nice),
      0);
  close(fds[1]);
  while (len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
    len += (size_t)n;
  out[len] = '\0';
  close(fds[0]);
  return child_wait(pid);
}

static int run_sh(const char *script, int both, int nice, char *out,
                  size_t cap) {
  char *args[] = {"/bin/sh", "-c", (char *)script, NULL};
  return run(args, both, nice, out, cap);
}

/* A worker thread blocks every signal and the service ignores SIGPIPE:
 * the child has none blocked, SIGPIPE at its default, stdin /dev/null. */
static void test_the_child_starts_clean(void **state) {
  sigset_t all, was;
  char out[4096];
  (void)state;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &was);
  signal(SIGPIPE, SIG_IGN);
  {
    char *status[] = {"/bin/cat", "/proc/self/status", NULL};
    char *in[] = {"/bin/readlink", "/proc/self/fd/0", NULL};
    size_t len;
    assert_int_equal(run(status, 0, 0, out, sizeof out), 0);
    len = strlen(out);
    assert_int_equal(run(in, 0, 0, out + len, sizeof out - len), 0);
  }
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, &was, NULL);
  assert_non_null(strstr(out, "SigBlk:\t0000000000000000\n"));
  /* SIGPIPE is signal 13: bit 12 of the ignored set is clear. */
  {
    const char *ign = strstr(out, "SigIgn:\t");
    unsigned long long mask;
    assert_non_null(ign);
    mask = strtoull(ign + 8, NULL, 16);
    assert_int_equal(mask & (1ull << (SIGPIPE - 1)), 0);
  }
  assert_non_null(strstr(out, "/dev/null"));
}

/* stdout goes to the pipe; stderr with it only when asked; nice lowers
 * the child's priority from its first instant (a child that only reads
 * its own priority once saw 0 when it was set after the start) and not
 * the caller's; the status says how it ended. */
static void test_output_priority_and_status(void **state) {
  char out[256];
  int i, was = getpriority(PRIO_PROCESS, 0);
  (void)state;
  assert_int_equal(
      run_sh("echo out; echo err >&2; exit 3", 1, 0, out, sizeof out), 3);
  assert_string_equal(out, "out\nerr\n");
  assert_int_equal(run_sh("echo out; echo err >&2", 0, 0, out, sizeof out), 0);
  assert_string_equal(out, "out\n");
  for (i = 0; i < 20; i++) {
    assert_int_equal(
        run_sh("cut -d' ' -f19 /proc/self/stat", 0, 7, out, sizeof out), 0);
    assert_int_equal(atoi(out), 7);
  }
  assert_int_equal(getpriority(PRIO_PROCESS, 0), was);
  assert_int_equal(run_sh("kill -KILL $$", 0, 0, out, sizeof out),
                   128 + SIGKILL);
}

/* A program that is not there: its errno, no child. */
static void test_a_missing_program_is_its_errno(void **state) {
  char *args[] = {"/nonexistent/recoup", NULL};
  pid_t pid;
  int fds[2];
  (void)state;
  assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
  assert_int_equal(
      child_spawn(&pid, "/nonexistent/recoup", args, NULL, fds[1], -1, 0),
      ENOENT);
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_the_child_starts_clean),
      cmocka_unit_test(test_output_priority_and_status),
      cmocka_unit_test(test_a_missing_program_is_its_errno),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
