/* `recoup repl` the way a person types at it (through a pseudo-terminal
 * in a UTF-8 locale) and the way a script feeds it (through a pipe).
 *
 * usage: test_repl RECOUP INSTITUTION_DIR */
#define _GNU_SOURCE /* wcwidth */
#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <poll.h>
#include <pty.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include <cmocka.h>

static const char *recoup_bin, *institution;
static char work[256];   /* this run's directory: HOME, TMPDIR, a database */
static char tmpdir[300]; /* TMPDIR of every repl started here */
static char book[300];   /* an imported portfolio, for --db */

typedef struct term {
  int fd;
  pid_t pid;
  char out[1 << 20];
  size_t len, mark; /* mark: where the output of the last input starts */
} term;

/* Reads what is there, waiting up to ms for something. 0 at the end. */
static int pump(term *t, int ms) {
  struct pollfd p = {t->fd, POLLIN, 0};
  ssize_t n;
  if (poll(&p, 1, ms) <= 0) return 1;
  n = read(t->fd, t->out + t->len, sizeof t->out - 1 - t->len);
  if (n <= 0) return 0;
  t->len += (size_t)n;
  t->out[t->len] = '\0';
  return 1;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads until `want` shows up after the mark (or 20 s pass: the sanitizer
 * build on a busy machine is slow, and a hang is what this detects). The
 * bound is time, not reads: a long result arrives in many small reads. */
static int wait_after(term *t, const char *want) {
  double until = now_s() + 20;
  while (!strstr(t->out + t->mark, want) && now_s() < until)
    if (!pump(t, 10)) break;
  return strstr(t->out + t->mark, want) != NULL;
}

static void type(term *t, const char *keys) {
  if (write(t->fd, keys, strlen(keys)) < 0)
    fail_msg("write: %s", strerror(errno));
}

/* Waits for a prompt after the last input, as a person would. */
static void prompt(term *t, const char *which) {
  if (!wait_after(t, which))
    fail_msg("no prompt '%s' after:\n%s", which, t->out + t->mark);
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

/* The child's environment: a UTF-8 locale, this run's HOME and TMPDIR. */
static void child_env(void) {
  char home[300];
  snprintf(home, sizeof home, "%s/home", work);
  setenv("HOME", home, 1);
  setenv("TMPDIR", tmpdir, 1);
  setenv("TERM", "dumb", 1);
  setenv("LANG", "C.UTF-8", 1);
  unsetenv("LC_ALL");
  unsetenv("LC_CTYPE");
}

static void start_with(term *t, const char *db) {
  struct winsize ws = {30, 200, 0, 0};
  memset(t, 0, sizeof *t);
  t->pid = forkpty(&t->fd, NULL, NULL, &ws);
  if (t->pid == 0) {
    child_env();
    if (db)
      execl(recoup_bin, recoup_bin, "repl", institution, "--db", db,
            (char *)NULL);
    else
      execl(recoup_bin, recoup_bin, "repl", institution, (char *)NULL);
    _exit(127);
  }
  t->mark = 0;
  expect_output(t, "recoup> ");
}

static void start(term *t) {
  start_with(t, NULL);
}

/* Waits up to 20 s for the repl to end; its exit status, or 128 + the
 * signal that ended it. */
static int wait_end(term *t) {
  int status = -1;
  double until = now_s() + 20;
  while (waitpid(t->pid, &status, WNOHANG) == 0 && now_s() < until)
    if (!pump(t, 10)) usleep(10000);
  if (waitpid(t->pid, &status, WNOHANG) == 0) {
    kill(t->pid, SIGKILL);
    waitpid(t->pid, &status, 0);
    fail_msg("the repl did not end; its output:\n%s", t->out);
  }
  close(t->fd);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int finish(term *t) {
  prompt(t, "recoup> ");
  type(t, "\x04"); /* Ctrl-D */
  return wait_end(t);
}

/* The output after the mark is valid UTF-8: no character cut in half. */
static void assert_utf8(const term *t) {
  mbstate_t st;
  const char *s = t->out + t->mark;
  size_t n = strlen(s);
  memset(&st, 0, sizeof st);
  while (n > 0) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, s, n, &st);
    if (k == (size_t)-1 || k == (size_t)-2)
      fail_msg("not UTF-8 at byte %zu of:\n%s", (size_t)(s - t->out), s);
    k = k ? k : 1;
    s += k;
    n -= k;
  }
}

/* Display columns of the first n bytes of s, as the terminal counts. */
static int columns(const char *s, size_t n) {
  mbstate_t st;
  int w = 0;
  memset(&st, 0, sizeof st);
  while (n > 0) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, s, n, &st);
    if (k == 0 || k > n) break;
    w += wcwidth(wc) > 0 ? wcwidth(wc) : 0;
    s += k;
    n -= k;
  }
  return w;
}

/* In the table printed after the mark, the column headed `head` starts at
 * the same display column on every row that has `cell` in it; returns
 * the number of such rows. */
static int aligned_rows(const term *t, const char *head, const char *cell) {
  const char *h = strstr(t->out + t->mark, head), *bol, *p;
  int col, rows = 0;
  if (!h) fail_msg("no header '%s' in:\n%s", head, t->out + t->mark);
  for (bol = h; bol > t->out && bol[-1] != '\n'; bol--) {
  }
  col = columns(bol, (size_t)(h - bol));
  for (p = strstr(h, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
    const char *end = strstr(p + 2, "\r\n"), *c = strstr(p + 2, cell);
    if (!c || (end && c > end)) continue;
    if (columns(p + 2, (size_t)(c - p - 2)) != col)
      fail_msg("'%s' not under '%s' in:\n%.*s", cell, head,
               (int)(end ? end - p - 2 : 200), p + 2);
    rows++;
  }
  return rows;
}

static const char *const open_many =
    "for i = 1, 60 do open{ id = 'L' .. i, balance = 500000, amount_due = "
    "120000, due_date = '2026-01-01', borrower = { id = 'B' .. i, name = "
    "'王芳', phones = { string.format('+86138%08d', i) } } } end";

/* --- what the repl prints ---------------------------------------------- */

static void test_expressions_print_their_values(void **state) {
  static term t;
  (void)state;
  start(&t);
  line(&t, "=6*7");
  expect_output(&t, "42");
  line(&t, "{b = 2, a = {1, 2}}");
  expect_output(&t, "a = {");
  assert_int_equal(finish(&t), 0);
}

static void test_multiline_input_continues(void **state) {
  static term t;
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
  static term t;
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
  static term t;
  (void)state;
  start(&t);
  line(&t, "while true do end");
  usleep(300000);
  type(&t, "\x03");
  expect_output(&t, "interrupted");
  line(&t, "=\"still here\"");
  expect_output(&t, "\"still here\"");
  prompt(&t, "recoup> ");
  type(&t, "=1 +"); /* dropped at the prompt */
  /* Ctrl-C once the editor has the text: a SIGINT the terminal raises
   * before then flushes the typed text with it, and on a loaded machine
   * that raced the editor's start. */
  expect_output(&t, "=1 +");
  type(&t, "\x03");
  line(&t, "=2+2");
  expect_output(&t, "4\r\n");
  assert_int_equal(finish(&t), 0);
}

static void test_the_workflow_runs_at_the_prompt(void **state) {
  static term t;
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

/* Sixty messages are some 10 KB of text: the printer once kept it where
 * a growing buffer freed it (garbage from 8 rows, a crash from 1 KB). */
static void test_a_long_list_prints_whole_in_aligned_columns(void **state) {
  static term t;
  (void)state;
  start(&t);
  line(&t, "set_clock '2026-01-05T09:00'");
  line(&t, open_many);
  line(&t, "messages()");
  expect_output(&t, "\r\n60  L60 ");
  expect_output(&t, "recoup> ");
  assert_utf8(&t); /* long bodies are cut between characters, */
  assert_non_null(strstr(t.out + t.mark, "~\r\n"));           /* marked so, */
  assert_int_equal(aligned_rows(&t, "body", "王芳您好"), 60); /* in line */
  line(&t, "=#messages()");
  expect_output(&t, "60\r\n");
  assert_int_equal(finish(&t), 0);
}

/* Widths are ICU's East Asian width, as the terminal's: an emoji outside
 * the ranges the printer once listed (U+1F680, wide) took one column
 * there and pushed the next column two to the right; a combining accent
 * (U+0301 after e) takes none. */
static void test_wide_and_combining_characters_keep_columns_aligned(
    void **state) {
  static term t;
  (void)state;
  start(&t);
  line(&t, "rows = { { id = 1, state = '\xF0\x9F\x9A\x80\xF0\x9F\x9A\x80', "
           "status = 'sx' }, { id = 2, state = 'abcd', status = 'sy' }, "
           "{ id = 3, state = 'e\xCC\x81', status = 'sz' } }");
  line(&t, "=rows");
  expect_output(&t, "sz");
  assert_int_equal(aligned_rows(&t, "status", "sx"), 1);
  assert_int_equal(aligned_rows(&t, "status", "sy"), 1);
  assert_int_equal(aligned_rows(&t, "status", "sz"), 1);
  assert_int_equal(finish(&t), 0);
}

static void test_a_long_journal_prints_whole(void **state) {
  static term t;
  char want[32];
  long n;
  (void)state;
  start(&t);
  line(&t, "set_clock '2026-01-05T09:00'");
  line(&t,
       "c = open{ id = 'L1', balance = 500000, amount_due = 120000, "
       "due_date = '2026-01-01', borrower = { id = 'B1', name = '王芳', "
       "phones = { '+8613800000000' } } }");
  line(&t, "for i = 1, 60 do pay(c, 100, 'r' .. i) advance '1h' end");
  line(&t, "=#journal(c)");
  expect_output(&t, "\r\n");
  expect_output(&t, "recoup> ");
  n = strtol(strstr(t.out + t.mark, "\r\n") + 2, NULL, 10);
  assert_true(n > 120);
  line(&t, "journal(c)");
  snprintf(want, sizeof want, "\r\n%ld  ", n);
  expect_output(&t, want);
  expect_output(&t, "recoup> ");
  assert_utf8(&t);
  assert_int_equal(aligned_rows(&t, "state", "reminder"), n);
  assert_int_equal(finish(&t), 0);
}

static void test_every_kind_of_value_prints(void **state) {
  static term t;
  (void)state;
  start(&t);
  line(&t, "set_clock '2026-01-05T09:00'");
  line(&t,
       "c = open{ id = 'L1', balance = 500000, amount_due = 120000, "
       "due_date = '2026-01-01', borrower = { id = 'B1', name = '王芳', "
       "phones = { '+8613800000000' } } }");
  line(&t, "advance '3d'");
  line(&t, "tasks()");
  expect_output(&t, "queue");
  expect_output(&t, "phone");
  line(&t, "timers(c)");
  expect_output(&t, "event");
  expect_output(&t, "escalate");
  line(&t, "{c, c}");
  expect_output(&t, "case L1 (call");
  line(&t, "t = {1, {2, {3}}, name = '王芳', [10] = 'x', [true] = 0}");
  line(&t, "t.self = t");
  line(&t, "t");
  expect_output(&t, "self = <cycle>");
  expect_output(&t, "[10] = \"x\"");
  expect_output(&t, "name = \"王芳\"");
  expect_output(&t, "[true] = 0");
  line(&t, "d = {} x = d for i = 1, 50 do x.down = {i} x = x.down end");
  line(&t, "d");
  expect_output(&t, "down = {...}");
  line(&t, "'a\\nb\\0'");
  expect_output(&t, "\"a\\nb\\0\"");
  line(&t, "setmetatable({}, {__tostring = function() error('no') end})");
  expect_output(&t, "error printing the result");
  line(&t, "=1+1");
  expect_output(&t, "2\r\n");
  assert_int_equal(finish(&t), 0);
}

/* --- what is typed ---------------------------------------------------- */

static void test_chinese_typed_at_the_prompt_and_in_history(void **state) {
  static term t;
  char history[300];
  struct stat st;
  (void)state;
  start(&t);
  line(&t, "name = \"王芳\"");
  line(&t, "=name");
  expect_output(&t, "\"王芳\"\r\n");
  line(&t, "x = \"王芳abc\"");
  line(&t, "=x");
  expect_output(&t, "\"王芳abc\"\r\n");
  line(&t, "=#x");
  expect_output(&t, "9\r\n");
  prompt(&t, "recoup> ");
  type(&t, "\x10\r"); /* Ctrl-P: the line before, again */
  expect_output(&t, "9\r\n");
  line(&t, "=#'王芳'");
  expect_output(&t, "6\r\n");
  assert_int_equal(finish(&t), 0);

  start(&t); /* the history file kept it */
  prompt(&t, "recoup> ");
  type(&t, "\x10\r");
  expect_output(&t, "6\r\n");
  assert_int_equal(finish(&t), 0);
  snprintf(history, sizeof history, "%s/home/.recoup_history", work);
  assert_int_equal(stat(history, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
}

/* Lines pasted while a chunk runs, and a Ctrl-D typed while its result is
 * still printing, wait for the prompt: twenty times, none lost. */
static void test_typed_ahead_input_is_never_lost(void **state) {
  static term t;
  (void)state;
  for (int run = 0; run < 20; run++) {
    start(&t);
    prompt(&t, "recoup> ");
    type(&t,
         "do local t = os.clock() repeat until os.clock() - t > 0.05 end "
         "return 'busy'\r=40+2\r=('-'):rep(30000) .. '|end'\r");
    expect_output(&t, "\"busy\"");
    expect_output(&t, "42\r\n");
    expect_output(&t, "----");
    type(&t, "\x04");
    expect_output(&t, "|end\"");
    assert_int_equal(wait_end(&t), 0);
  }
}

/* --- the scratch copy ------------------------------------------------- */

/* The one entry in TMPDIR: a 0700 directory of 0600 files. */
static void assert_private_copy(void) {
  DIR *d;
  struct dirent *e;
  char dir[600] = "";
  struct stat st;
  for (int i = 0; i < 1000 && !dir[0]; i++) {
    d = opendir(tmpdir);
    while (d && (e = readdir(d)) != NULL)
      if (e->d_name[0] != '.')
        snprintf(dir, sizeof dir, "%s/%s", tmpdir, e->d_name);
    if (d) closedir(d);
    if (!dir[0]) usleep(10000);
  }
  if (!dir[0]) fail_msg("no scratch copy in %s", tmpdir);
  assert_int_equal(stat(dir, &st), 0);
  assert_true(S_ISDIR(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0700);
  d = opendir(dir);
  assert_non_null(d);
  while ((e = readdir(d)) != NULL) {
    char file[900];
    if (e->d_name[0] == '.') continue;
    snprintf(file, sizeof file, "%s/%s", dir, e->d_name);
    if (stat(file, &st) == 0 && (st.st_mode & 0077))
      fail_msg("%s has mode %o", file, st.st_mode & 0777);
  }
  closedir(d);
}

static void assert_tmpdir_empty(void) {
  DIR *d = opendir(tmpdir);
  struct dirent *e;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') fail_msg("%s/%s is left", tmpdir, e->d_name);
  closedir(d);
}

typedef enum {
  CTRL_D,
  OS_EXIT,
  SIGTERM_AT_PROMPT,
  SIGHUP_AT_PROMPT,
  SIGTERM_RUNNING,
  TERMINAL_CLOSED
} way_out;

static void leave_by(way_out way) {
  static term t;
  int status;
  start_with(&t, book);
  assert_private_copy();
  prompt(&t, "recoup> ");
  switch (way) {
    case CTRL_D:
      type(&t, "\x04");
      break;
    case OS_EXIT:
      type(&t, "os.exit(3)\r");
      break;
    case SIGTERM_AT_PROMPT:
      kill(t.pid, SIGTERM);
      break;
    case SIGHUP_AT_PROMPT:
      kill(t.pid, SIGHUP);
      break;
    case SIGTERM_RUNNING:
      type(&t, "while true do end\r");
      usleep(200000);
      kill(t.pid, SIGTERM);
      break;
    case TERMINAL_CLOSED: /* a dropped SSH session */
      close(t.fd);
      for (int i = 0; i < 1000 && waitpid(t.pid, &status, WNOHANG) == 0; i++)
        usleep(10000);
      assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGHUP);
      assert_tmpdir_empty();
      return;
  }
  status = wait_end(&t);
  assert_int_equal(status, way == CTRL_D             ? 0
                           : way == OS_EXIT          ? 3
                           : way == SIGHUP_AT_PROMPT ? 128 + SIGHUP
                                                     : 128 + SIGTERM);
  assert_tmpdir_empty();
}

static void test_the_copy_is_private_and_gone_after_ctrl_d(void **state) {
  (void)state;
  leave_by(CTRL_D);
  leave_by(OS_EXIT);
}

static void test_the_copy_is_gone_after_sigterm_and_sighup(void **state) {
  (void)state;
  leave_by(SIGTERM_AT_PROMPT);
  leave_by(SIGHUP_AT_PROMPT);
  leave_by(SIGTERM_RUNNING);
  leave_by(TERMINAL_CLOSED);
}

/* From a pipe: the end of input, and Ctrl-C while it waits for more. */
static void test_the_copy_is_gone_when_a_piped_session_ends(void **state) {
  (void)state;
  for (int sig = 0; sig <= SIGINT; sig += SIGINT) {
    int in[2], status;
    pid_t pid;
    assert_int_equal(pipe(in), 0);
    pid = fork();
    if (pid == 0) {
      child_env();
      dup2(in[0], 0);
      close(in[1]);
      if (!freopen("/dev/null", "w", stdout)) _exit(126);
      execl(recoup_bin, recoup_bin, "repl", institution, "--db", book,
            (char *)NULL);
      _exit(127);
    }
    close(in[0]);
    assert_private_copy();
    if (sig)
      kill(pid, sig);
    else if (write(in[1], "=1\n", 3) != 3)
      fail_msg("write: %s", strerror(errno));
    close(in[1]);
    waitpid(pid, &status, 0);
    if (sig)
      assert_true(WIFSIGNALED(status) && WTERMSIG(status) == sig);
    else
      assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_tmpdir_empty();
  }
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

/* What the REPL prints for the lines given (printf's arguments, each
 * a line), stdout and stderr, into out. */
static void repl_lines(const char *lines, char *out, size_t size) {
  char cmd[1024];
  FILE *p;
  size_t n;
  snprintf(cmd, sizeof cmd, "printf '%%s\\n' %s | %s repl %s 2>&1", lines,
           recoup_bin, institution);
  p = popen(cmd, "r");
  n = fread(out, 1, size - 1, p);
  out[n] = '\0';
  pclose(p);
}

/* recoup.money and recoup.date at the prompt, as the service formats
 * them outside a handler (on 2f64f43: attempt to index a nil value). */
static void test_recoup_money_and_date_format_as_the_service_does(
    void **state) {
  char out[8192];
  (void)state;
  repl_lines("'=recoup.money(120000)' \"=recoup.money(1200, 'JPY')\" "
             "\"=recoup.date('2026-01-31')\"",
             out, sizeof out);
  if (!strstr(out, "\"\xC2\xA5" "1,200.00\"") ||
      !strstr(out, "\"JP\xC2\xA5" "1,200\"") ||
      !strstr(out, "\"2026\xE5\xB9\xB4" "1\xE6\x9C\x88" "31\xE6\x97\xA5\""))
    fail_msg("output:\n%s", out);
}

/* A note of two lines read as one ("one two"): its line break shows
 * as a visible mark in its cell, a tab or another control character as
 * the CLI shows it ('?'), and the row stays on its line. */
static void test_a_line_break_in_a_cell_is_shown(void **state) {
  char out[8192];
  (void)state;
  repl_lines("\"={ { id = 1, body = 'one\\ntwo' }, "
             "{ id = 2, body = 'a\\tb\\r\\nc' } }\"",
             out, sizeof out);
  if (!strstr(out, "\n1   one\xe2\x86\xb5two\n") ||
      !strstr(out, "\n2   a?b\xe2\x86\xb5" "c\n"))
    fail_msg("output:\n%s", out);
}

/* A borrower's name holding a bidi override (U+202E turns the rest of
 * the terminal's line around, U+2066 isolates it) or a C1 control
 * (U+009B, a CSI to some terminals) reaches no terminal as it is: a
 * cell shows it as '?', as the CLI does; a value shows it escaped as Lua
 * writes it, so it can be typed back. On 08d9c56 both went out raw. */
static void test_a_bidi_override_in_a_name_is_shown_not_obeyed(void **state) {
  char out[8192];
  (void)state;
  repl_lines("\"={ { id = 1, body = 'Ali\\u{202E}ecnalab' }, "
             "{ id = 2, body = 'x\\u{2066}y\\u{2069}z\\u{9B}2' } }\" "
             "\"='Ali\\u{202A}x\\u{202E}y'\"",
             out, sizeof out);
  if (!strstr(out, "\n1   Ali?ecnalab\n") || !strstr(out, "\n2   x?y?z?2\n") ||
      !strstr(out, "\"Ali\\u{202A}x\\u{202E}y\"") ||
      strstr(out, "\xe2\x80\xae") || strstr(out, "\xe2\x81\xa6") ||
      strstr(out, "\xc2\x9b"))
    fail_msg("output:\n%s", out);
}

/* A full-width comma or bracket, typed with a Chinese input method
 * outside a string, is named as the character with the one to write.
 * On 0a67ea0 the error said only "near '<\239>'", its first byte. A
 * comma inside a string or a comment stops nothing. */
static void test_a_full_width_comma_is_named_with_the_one_to_write(
    void **state) {
  char out[8192];
  (void)state;
  repl_lines("\"print('\xe7\x8e\x8b\xef\xbc\x8c', 1\xef\xbc\x8c" " 2) -- \xef\xbc\x8c\" "
             "'x = \xe3\x80\x90" "1\xe3\x80\x91' "
             "'x = 1 \xe2\x84\x96'",
             out, sizeof out);
  if (!strstr(out, "near '\xef\xbc\x8c' (U+FF0C, as a Chinese input method "
                   "types it: write ',')") ||
      !strstr(out, "near '\xe3\x80\x90' (U+3010, as a Chinese input method "
                   "types it: write '[')") ||
      !strstr(out, "near '\xe2\x84\x96' (U+2116: outside a string or a "
                   "comment, Lua reads ASCII only)") ||
      strstr(out, "<\\"))
    fail_msg("output:\n%s", out);
}

static void test_db_opens_a_copy_never_the_file(void **state) {
  char cmd[2048], out[8192], db[300];
  FILE *p;
  size_t n;
  (void)state;
  snprintf(db, sizeof db, "%s/own.db", work);
  /* Pay a case in full at the prompt: the copy has it resolved, the
   * database itself still has no resolved case. */
  snprintf(cmd, sizeof cmd,
           "cp %s %s && printf '%%s\\n' 'c = rt:case [[MF00001]]' "
           "'pay(c, c.balance, [[X]])' '=c.state' | %s repl %s --db %s 2>&1 "
           "&& %s report %s --db %s --json | grep -c resolved",
           book, db, recoup_bin, institution, db, recoup_bin, institution, db);
  p = popen(cmd, "r");
  n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  pclose(p);
  if (!strstr(out, "\"resolved\"\n0")) fail_msg("output:\n%s", out);
}

/* This run's directory, and a portfolio imported into it once. */
static int setup(void **state) {
  char cmd[1200];
  (void)state;
  snprintf(work, sizeof work, "/tmp/recoup-test-repl-XXXXXX");
  if (!mkdtemp(work)) return -1;
  snprintf(tmpdir, sizeof tmpdir, "%s/tmp", work);
  snprintf(book, sizeof book, "%s/book.db", work);
  snprintf(cmd, sizeof cmd,
           "mkdir -p %s/home %s && %s import %s/data/portfolio.csv %s --db %s "
           "--now 2026-01-05T09:00 >/dev/null",
           work, tmpdir, recoup_bin, institution, institution, book);
  return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state) {
  char cmd[300];
  (void)state;
  snprintf(cmd, sizeof cmd, "rm -rf %s", work);
  return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expressions_print_their_values),
      cmocka_unit_test(test_multiline_input_continues),
      cmocka_unit_test(test_an_error_does_not_end_the_session),
      cmocka_unit_test(test_ctrl_c_interrupts_a_running_chunk),
      cmocka_unit_test(test_the_workflow_runs_at_the_prompt),
      cmocka_unit_test(test_a_long_list_prints_whole_in_aligned_columns),
      cmocka_unit_test(test_wide_and_combining_characters_keep_columns_aligned),
      cmocka_unit_test(test_a_long_journal_prints_whole),
      cmocka_unit_test(test_every_kind_of_value_prints),
      cmocka_unit_test(test_chinese_typed_at_the_prompt_and_in_history),
      cmocka_unit_test(test_typed_ahead_input_is_never_lost),
      cmocka_unit_test(test_the_copy_is_private_and_gone_after_ctrl_d),
      cmocka_unit_test(test_the_copy_is_gone_after_sigterm_and_sighup),
      cmocka_unit_test(test_the_copy_is_gone_when_a_piped_session_ends),
      cmocka_unit_test(test_a_pipe_runs_the_lines_and_exits),
      cmocka_unit_test(test_recoup_money_and_date_format_as_the_service_does),
      cmocka_unit_test(test_a_line_break_in_a_cell_is_shown),
      cmocka_unit_test(test_a_bidi_override_in_a_name_is_shown_not_obeyed),
      cmocka_unit_test(test_a_full_width_comma_is_named_with_the_one_to_write),
      cmocka_unit_test(test_db_opens_a_copy_never_the_file),
  };
  if (argc != 3) return 2;
  recoup_bin = argv[1];
  institution = argv[2];
  if (!setlocale(LC_CTYPE, "C.UTF-8")) return 2; /* to read what it prints */
  signal(SIGPIPE, SIG_IGN);
  return cmocka_run_group_tests(tests, setup, teardown);
}
