/* `recoup repl` the way a person types at it (through a pseudo-terminal)
 * and the way a script feeds it (through a pipe).
 *
 * usage: test_repl RECOUP INSTITUTION_DIR */
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const char *recoup_bin, *institution;

typedef struct term {
  int fd;
  pid_t pid;
  char out[65536];
  size_t len, mark; /* mark: where the output of the last input starts */
} term;

/* Reads until `want` shows up after the mark (or 5 s pass). */
static int wait_after(term *t, const char *want) {
  for (int i = 0; i < 500; i++) {
    struct pollfd p = {t->fd, POLLIN, 0};
    if (strstr(t->out + t->mark, want)) return 1;
    if (poll(&p, 1, 10) > 0) {
      ssize_t n = read(t->fd, t->out + t->len, sizeof t->out - 1 - t->len);
      if (n <= 0) break;
      t->len += (size_t)n;
      t->out[t->len] = '\0';
    }
  }
  return strstr(t->out + t->mark, want) != NULL;
}

static void type(term *t, const char *keys) {
  if (write(t->fd, keys, strlen(keys)) < 0)
    fail_msg("write: %s", strerror(errno));
}

/* Waits for a prompt after the last input, as a person would: keys typed
 * before the line editor is back in raw mode would be read differently. */
static void prompt(term *t, const char *which) {
  if (!wait_after(t, which))
    fail_msg("no prompt '%s' after:\n%s", which, t->out + t->mark);
  usleep(30000);
  t->mark = t->len;
}

/* Types one line at the prompt. */
static void line(term *t, const char *text) {
  prompt(t, t->mark ? "> " : "recoup> ");
  type(t, text);
  type(t, "\r");
}

static void expect_output(term *t, const char *want) {
  if (!wait_after(t, want)) fail_msg("no '%s' in:\n%s", want, t->out + t->mark);
}

static void start(term *t) {
  struct winsize ws = {30, 120, 0, 0};
  memset(t, 0, sizeof *t);
  t->pid = forkpty(&t->fd, NULL, NULL, &ws);
  if (t->pid == 0) {
    setenv("HOME", "/tmp", 1);
    setenv("TERM", "dumb", 1);
    execl(recoup_bin, recoup_bin, "repl", institution, (char *)NULL);
    _exit(127);
  }
  t->mark = 0;
  expect_output(t, "recoup> ");
}

static int finish(term *t) {
  int status = -1;
  prompt(t, "recoup> ");
  type(t, "\x04"); /* Ctrl-D */
  for (int i = 0; i < 500 && waitpid(t->pid, &status, WNOHANG) == 0; i++) {
    char sink[4096];
    if (read(t->fd, sink, sizeof sink) < 0) usleep(10000);
  }
  if (waitpid(t->pid, &status, WNOHANG) == 0) {
    kill(t->pid, SIGKILL);
    waitpid(t->pid, &status, 0);
    fail_msg("the repl did not leave on Ctrl-D");
  }
  close(t->fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_expressions_print_their_values(void **state) {
  term t;
  (void)state;
  start(&t);
  line(&t, "=6*7");
  expect_output(&t, "42");
  line(&t, "{b = 2, a = {1, 2}}");
  expect_output(&t, "a = {");
  assert_int_equal(finish(&t), 0);
}

static void test_multiline_input_continues(void **state) {
  term t;
  (void)state;
  start(&t);
  line(&t, "function twice(x)");
  expect_output(&t, ">> ");
  line(&t, "  return x * 2");
  line(&t, "end");
  line(&t, "=twice(21)");
  expect_output(&t, "42");
  assert_int_equal(finish(&t), 0);
}

static void test_an_error_does_not_end_the_session(void **state) {
  term t;
  (void)state;
  start(&t);
  line(&t, "error('kaboom')");
  expect_output(&t, "kaboom");
  expect_output(&t, "traceback");
  line(&t, "=1+1");
  expect_output(&t, "2\r\n");
  assert_int_equal(finish(&t), 0);
}

static void test_ctrl_c_interrupts_a_running_chunk(void **state) {
  term t;
  (void)state;
  start(&t);
  line(&t, "while true do end");
  usleep(300000);
  type(&t, "\x03");
  expect_output(&t, "interrupted");
  line(&t, "=\"still here\"");
  expect_output(&t, "\"still here\"");
  assert_int_equal(finish(&t), 0);
}

static void test_the_workflow_runs_at_the_prompt(void **state) {
  term t;
  (void)state;
  start(&t);
  line(&t, "set_clock '2026-01-05T09:00'");
  line(&t,
       "c = open{ id = 'L1', balance = 500000, amount_due = 120000, "
       "due_date = '2026-01-01', borrower = { id = 'B1', name = 'Wang', "
       "phones = { '+8613800000000' } } }");
  line(&t, "advance '3d'");
  line(&t, "c");
  expect_output(&t, "state call");
  expect_output(&t, "task #1 call");
  line(&t, "messages()");
  expect_output(&t, "due_reminder");
  assert_int_equal(finish(&t), 0);
}

static void test_a_pipe_runs_the_lines_and_exits(void **state) {
  char cmd[1024], out[8192];
  FILE *p;
  size_t n;
  int status;
  (void)state;
  snprintf(cmd, sizeof cmd,
           "printf '%%s\\n' \"set_clock '2026-01-05T09:00'\" "
           "\"c = open{ id = 'L1', balance = 1000, amount_due = 500, "
           "due_date = '2026-01-01', borrower = { id = 'B1', name = 'W', "
           "phones = { '+8613800000000' } } }\" "
           "'=c.state' 'advance \"3d\"' '=c.state' | %s repl %s 2>&1",
           recoup_bin, institution);
  p = popen(cmd, "r");
  n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  status = pclose(p);
  assert_int_equal(WEXITSTATUS(status), 0);
  if (!strstr(out, "\"reminder\"") || !strstr(out, "\"call\""))
    fail_msg("output:\n%s", out);
  assert_null(strstr(out, "recoup> ")); /* no prompts into a pipe */
}

static void test_db_opens_a_copy_never_the_file(void **state) {
  char cmd[2048], out[8192], db[256];
  FILE *p;
  size_t n;
  (void)state;
  snprintf(db, sizeof db, "/tmp/recoup-test-repl-%d.db", (int)getpid());
  unlink(db);
  /* Pay a case in full at the prompt: the copy has it resolved, the
   * database itself still has no resolved case. */
  snprintf(cmd, sizeof cmd,
           "%s import %s/data/portfolio.csv %s --db %s --now 2026-01-05T09:00 "
           ">/dev/null && printf '%%s\\n' 'c = rt:case [[MF00001]]' "
           "'pay(c, c.balance, [[X]])' '=c.state' | %s repl %s --db %s 2>&1 "
           "&& %s report %s --db %s --json | grep -c resolved",
           recoup_bin, institution, institution, db, recoup_bin, institution,
           db, recoup_bin, institution, db);
  p = popen(cmd, "r");
  n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  pclose(p);
  unlink(db);
  if (!strstr(out, "\"resolved\"\n0")) fail_msg("output:\n%s", out);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expressions_print_their_values),
      cmocka_unit_test(test_multiline_input_continues),
      cmocka_unit_test(test_an_error_does_not_end_the_session),
      cmocka_unit_test(test_ctrl_c_interrupts_a_running_chunk),
      cmocka_unit_test(test_the_workflow_runs_at_the_prompt),
      cmocka_unit_test(test_a_pipe_runs_the_lines_and_exits),
      cmocka_unit_test(test_db_opens_a_copy_never_the_file),
  };
  if (argc != 3) return 2;
  recoup_bin = argv[1];
  institution = argv[2];
  return cmocka_run_group_tests(tests, NULL, NULL);
}
