/* `recoup repl`: the same `rt` as a spec gets, at a prompt.
 *
 * Lua's own conventions, as lua.c has them: `=expr` and bare expressions
 * print their values; input that ends inside a function, string or table
 * (the parser's error ends in "<eof>") continues on a second prompt;
 * errors print with a short traceback and the session goes on. Ctrl-C
 * interrupts a running chunk (a hook raises an error on the next
 * instruction) or drops the line being typed; Ctrl-D leaves. */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include <histedit.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua_rt.h"
#include "lua_syntax.h"
#include "repl.h"
#include "store/where.h"

static lua_State *active; /* the state running a chunk, for SIGINT */
static volatile sig_atomic_t interrupted;

static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted");
}

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
  if (active)
    lua_sethook(active, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT,
                1);
}

/* --- the scratch copy ------------------------------------------------ */

/* `--db FILE` works on a copy: borrowers' names and phones, so it lives in
 * a directory of its own (0700, from mkdtemp under $TMPDIR) and is removed
 * on every way out: the end of input, an error, os.exit() (atexit), and
 * the signals that end a session (a closed terminal's SIGHUP, SIGTERM,
 * SIGINT outside a terminal, SIGQUIT, SIGPIPE), whose handler only
 * unlinks precomputed paths and restores the terminal, both safe there.
 * The store removes its side files when it closes the copy; the list
 * below (store_files: the copy and its side files) removes them too, for
 * the ways out that close nothing. */
static char scratch_dir[PATH_MAX];
static char scratch_file[STORE_FILES_MAX][4096];
static int nscratch;
static struct termios saved_tty; /* the terminal as we found it */
static volatile sig_atomic_t tty_saved;

static void remove_scratch(void) {
  if (!scratch_dir[0]) return;
  for (int i = 0; i < nscratch; i++) unlink(scratch_file[i]);
  rmdir(scratch_dir);
  scratch_dir[0] = '\0';
}

/* Safe in a signal handler: unlink, rmdir and tcsetattr only. */
static void leave(void) {
  remove_scratch();
  if (tty_saved) tcsetattr(0, TCSANOW, &saved_tty);
}

static void on_fatal(int sig) {
  leave();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Copies db into a fresh private directory; the copy's path in path. */
static int make_scratch(const char *db, char *path, size_t size) {
  const char *tmp = getenv("TMPDIR");
  rc_error err;
  int fd;
  snprintf(scratch_dir, sizeof scratch_dir, "%s/recoup-repl-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(scratch_dir)) {
    fprintf(stderr, "recoup: cannot make a scratch directory in %s: %s\n",
            tmp && *tmp ? tmp : "/tmp", strerror(errno));
    scratch_dir[0] = '\0';
    return -1;
  }
  snprintf(path, size, "%s/recoup.db", scratch_dir);
  if ((nscratch = store_files(path, scratch_file, STORE_FILES_MAX)) < 1) {
    fprintf(stderr, "recoup: scratch path too long: %s\n", path);
    nscratch = 0;
    remove_scratch();
    return -1;
  }
  /* 0600 before SQLite sees it: its -wal and -shm take the file's mode. */
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    fprintf(stderr, "recoup: cannot create %s: %s\n", path, strerror(errno));
    remove_scratch();
    return -1;
  }
  close(fd);
  if (engine_copy_database(db, path, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    remove_scratch();
    return -1;
  }
  return 0;
}

/* --- the session ----------------------------------------------------- */

typedef struct session {
  lua_State *L;
  engine *eng;
  EditLine *el; /* line editing, when a terminal is at both ends */
  History *hist;
  const char *prompt; /* what el shows */
  char history[PATH_MAX];
} session;

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object)", 1);
  return 1;
}

static void report(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  /* The message and at most three frames: enough to find the line. */
  int lines = 0;
  for (const char *p = msg; p && *p && lines < 5; p++) {
    fputc(*p, stderr);
    if (*p == '\n') lines++;
  }
  fputc('\n', stderr);
  lua_pop(L, 1);
}

static int docall(session *s, int nargs) {
  lua_State *L = s->L;
  int base = lua_gettop(L) - nargs, status;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  interrupted = 0;
  active = L;
  status = lua_pcall(L, nargs, LUA_MULTRET, base);
  active = NULL;
  lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

/* Compiles buffer: as `return <buffer>` when that parses (an expression
 * shows its value), else as statements. 1: compiled; 0: incomplete;
 * -1: a syntax error (reported). */
static int compile(lua_State *L, const char *buffer) {
  const char *code = buffer[0] == '=' ? buffer + 1 : buffer;
  const char *ret = lua_pushfstring(L, "return %s;", code);
  if (luaL_loadbuffer(L, ret, strlen(ret), "=stdin") == LUA_OK) {
    lua_remove(L, -2);
    return 1;
  }
  lua_pop(L, 2);
  if (luaL_loadbuffer(L, code, strlen(code), "=stdin") == LUA_OK) return 1;
  {
    size_t len;
    const char *msg = lua_tolstring(L, -1, &len);
    if (len >= 5 && strcmp(msg + len - 5, "<eof>") == 0) {
      lua_pop(L, 1);
      return 0;
    }
  }
  lua_syntax_hint(L, code, strlen(code));
  report(L);
  return -1;
}

/* Runs the chunk compile() left on the stack and prints what it returns. */
static void run_compiled(session *s) {
  lua_State *L = s->L;
  int base = lua_gettop(L) - 1;
  if (docall(s, 0) != LUA_OK) {
    report(L);
  } else if (lua_gettop(L) > base) {
    lua_pushlightuserdata(L, s->eng);
    lua_pushcclosure(L, repl_print, 1);
    lua_insert(L, base + 1); /* print values */
    if (lua_pcall(L, lua_gettop(L) - base - 1, 0, 0) != LUA_OK) {
      lua_pushfstring(L, "error printing the result: %s", lua_tostring(L, -1));
      report(L);
    }
  }
  lua_settop(L, base);
}

static void run_chunk(session *s, const char *code) {
  if (compile(s->L, code) > 0) run_compiled(s);
}

/* A line without its newline (malloc'd), or NULL at the end of input or
 * when Ctrl-C interrupted the editor (then `interrupted` is set). */
static char *read_line(session *s, const char *prompt) {
  if (s->el) {
    int n = 0;
    const char *line;
    s->prompt = prompt;
    line = el_gets(s->el, &n);
    if (!line || n <= 0) return NULL;
    return strndup(line, (size_t)n - (line[n - 1] == '\n'));
  }
  {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
      free(line);
      return NULL;
    }
    if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
    return line;
  }
}

static int l_reload(lua_State *L) {
  session *s = lua_touserdata(L, lua_upvalueindex(1));
  rc_errlist errors = {0};
  int migrated = 0;
  if (engine_reload(s->eng, &errors, &migrated) != RC_OK) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "the scripts do not load; the old ones stay:");
    for (int i = 0; i < errors.count; i++) {
      lua_pushfstring(L, "\n  %s:%d: %s", errors.items[i].file,
                      errors.items[i].line, errors.items[i].message);
      luaL_addvalue(&b);
    }
    rc_errlist_free(&errors);
    luaL_pushresult(&b);
    return lua_error(L);
  }
  lua_pushfstring(L, "reloaded; %d cases migrated", migrated);
  return 1;
}

/* rt's methods as bare functions: open{...} is rt:open{...}. */
static int l_bound(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1)); /* method */
  lua_pushvalue(L, lua_upvalueindex(2)); /* rt */
  lua_insert(L, 1);
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

static const char *const bare[] = {
    "set_clock", "advance",  "now",   "open",     "case",    "event",
    "pay",       "messages", "tasks", "complete", "receipt", "journal",
    "timers",    "retry",    "claim", "report",   "reply",   NULL};

static void setup_globals(session *s) {
  lua_State *L = s->L;
  lrt_push(L, s->eng);
  lua_setglobal(L, "rt");
  for (int i = 0; bare[i]; i++) {
    lua_getglobal(L, "rt");
    lua_getfield(L, -1, bare[i]); /* rt method */
    lua_insert(L, -2);            /* method rt */
    lua_pushcclosure(L, l_bound, 2);
    lua_setglobal(L, bare[i]);
  }
  lua_pushlightuserdata(L, s);
  lua_pushcclosure(L, l_reload, 1);
  lua_setglobal(L, "reload");
}

/* --- completion ------------------------------------------------------ */

typedef struct candidates {
  char **items;
  int count;
} candidates;

static void add_candidate(candidates *c, const char *prefix, const char *sep,
                          const char *name) {
  size_t len = strlen(prefix) + strlen(sep) + strlen(name) + 1;
  char **grown = realloc(c->items, (size_t)(c->count + 1) * sizeof *grown);
  if (!grown) return;
  c->items = grown;
  if ((c->items[c->count] = malloc(len)) == NULL) return;
  snprintf(c->items[c->count++], len, "%s%s%s", prefix, sep, name);
}

/* Adds the string keys of the table on top that start with word. */
static void add_keys(lua_State *L, candidates *c, const char *base,
                     const char *sep, const char *word) {
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING &&
        strncmp(lua_tostring(L, -1), word, strlen(word)) == 0)
      add_candidate(c, base, sep, lua_tostring(L, -1));
  }
}

/* Candidates for text such as "rt:adv" or "c.bal" or "mess". */
static void gather(lua_State *L, const char *text, candidates *c) {
  const char *sep = NULL;
  char base[256] = "", word[256], sepstr[2] = "";
  int top = lua_gettop(L);
  for (const char *p = text; *p; p++)
    if (*p == '.' || *p == ':') sep = p;
  if (sep) {
    snprintf(base, sizeof base, "%.*s", (int)(sep - text), text);
    snprintf(word, sizeof word, "%s", sep + 1);
    sepstr[0] = *sep;
  } else {
    snprintf(word, sizeof word, "%s", text);
  }
  lua_pushglobaltable(L);
  if (sep) {
    /* Walk a.b.c through tables only: completion never runs code. */
    char path[256], *part, *save = NULL;
    snprintf(path, sizeof path, "%s", base);
    for (part = strtok_r(path, ".:", &save); part;
         part = strtok_r(NULL, ".:", &save)) {
      if (!lua_istable(L, -1)) break;
      lua_getfield(L, -1, part);
      lua_remove(L, -2);
    }
  }
  if (lua_isuserdata(L, -1) && lua_getmetatable(L, -1)) {
    /* rt and cases: their methods; cases also their fields. */
    static const char *const fields[] = {
        "id",           "state",   "workflow",   "version", "error",
        "borrower",     "balance", "amount_due", "fees",    "principal",
        "due_date",     "dpd",     "tags",       "data",    "current_promise",
        "current_plan", "on_hold", "closed",     NULL};
    int is_case = lua_getfield(L, -1, "methods") == LUA_TTABLE;
    if (!is_case) {
      lua_pop(L, 1);
      lua_getfield(L, -1, "__index");
    }
    if (lua_istable(L, -1)) add_keys(L, c, base, sepstr, word);
    if (is_case && sep && *sep == '.')
      for (int i = 0; fields[i]; i++)
        if (strncmp(fields[i], word, strlen(word)) == 0)
          add_candidate(c, base, ".", fields[i]);
  } else if (lua_istable(L, -1)) {
    add_keys(L, c, base, sepstr, word);
  }
  lua_settop(L, top);
}

/* Tab: the word before the cursor completed as far as the candidates
 * agree; when they part, the candidates listed under the line. */
static unsigned char complete(EditLine *el, int ch) {
  static const char breaks[] = " \t\n\"'()[]{}=+-*/%^<>,;~#";
  session *s;
  const LineInfo *li = el_line(el);
  const char *start = li->cursor;
  candidates c = {NULL, 0};
  char word[256];
  size_t common = 0;
  unsigned char result = CC_REFRESH_BEEP;
  (void)ch;
  el_get(el, EL_CLIENTDATA, &s);
  while (start > li->buffer && !strchr(breaks, start[-1])) start--;
  snprintf(word, sizeof word, "%.*s", (int)(li->cursor - start), start);
  gather(s->L, word, &c);
  if (c.count > 0) {
    common = strlen(c.items[0]);
    for (int i = 1; i < c.count; i++) {
      size_t k = 0;
      while (k < common && c.items[i][k] == c.items[0][k]) k++;
      common = k;
    }
  }
  if (common > strlen(word)) {
    char *more = strndup(c.items[0] + strlen(word), common - strlen(word));
    if (more && el_insertstr(el, more) == 0) result = CC_REFRESH;
    free(more);
  } else if (c.count > 1) {
    fputc('\n', stdout);
    for (int i = 0; i < c.count; i++)
      printf("%s%s", c.items[i], i + 1 < c.count ? "  " : "\n");
    result = CC_REDISPLAY;
  }
  for (int i = 0; i < c.count; i++) free(c.items[i]);
  free(c.items);
  return result;
}

/* --- the terminal ---------------------------------------------------- */

static char *prompt_of(EditLine *el) {
  session *s;
  el_get(el, EL_CLIENTDATA, &s);
  return (char *)s->prompt;
}

/* libedit reads characters in the locale's encoding: without a UTF-8
 * LC_CTYPE it drops every byte of 王芳. recoup's text is UTF-8 throughout,
 * so a locale that is not (unset, C, POSIX) gives way to C.UTF-8. */
static void utf8_locale(void) {
  const char *set = setlocale(LC_CTYPE, "");
  if (!set || strcmp(nl_langinfo(CODESET), "UTF-8") != 0)
    setlocale(LC_CTYPE, "C.UTF-8");
}

/* The editor's key reader. libedit's own retries a read that a signal
 * interrupted once before it gives up, so a Ctrl-C at the prompt was
 * swallowed whenever it came while the editor waited for a key (most of
 * the time): this one gives up at once when the signal was our SIGINT,
 * also one that came just before the read, and decodes UTF-8 itself. */
static int read_key(EditLine *el, wchar_t *wc) {
  mbstate_t st;
  int fd = fileno(stdin);
  (void)el;
  memset(&st, 0, sizeof st);
  for (;;) {
    char c;
    ssize_t n;
    if (interrupted) {
      *wc = L'\0';
      return -1;
    }
    n = read(fd, &c, 1);
    if (n == 1) {
      size_t r = mbrtowc(wc, &c, 1, &st);
      if (r == (size_t)-2) continue; /* the rest of a character */
      if (r == (size_t)-1) {          /* not UTF-8: a replacement */
        memset(&st, 0, sizeof st);
        *wc = 0xFFFD;
      }
      return 1;
    }
    if (n == 0) {
      *wc = L'\0';
      return 0; /* the end of input */
    }
    if (errno != EINTR) {
      *wc = L'\0';
      return -1;
    }
  }
}

static void open_editor(session *s) {
  HistEvent ev;
  const char *home = getenv("HOME");
  utf8_locale();
  s->hist = history_init();
  s->el = el_init("recoup", stdin, stdout, stderr);
  if (!s->hist || !s->el) { /* out of memory: read lines as from a pipe */
    if (s->hist) history_end(s->hist);
    if (s->el) el_end(s->el);
    s->el = NULL;
    return;
  }
  history(s->hist, &ev, H_SETSIZE, 1000);
  history(s->hist, &ev, H_SETUNIQUE, 1);
  if (home) {
    snprintf(s->history, sizeof s->history, "%s/.recoup_history", home);
    history(s->hist, &ev, H_LOAD, s->history);
  }
  el_set(s->el, EL_CLIENTDATA, s);
  el_set(s->el, EL_PROMPT, prompt_of);
  el_set(s->el, EL_EDITOR, "emacs");
  el_set(s->el, EL_HIST, history, s->hist);
  /* The wide call: the narrow one copies the two names and leaks them. */
  el_wset(s->el, EL_ADDFN, L"recoup-complete", L"complete a name", complete);
  el_set(s->el, EL_BIND, "^I", "recoup-complete", NULL);
  /* libedit leaves the terminal in canonical mode with echo between two
   * lines, while a chunk runs and its result prints. Keys typed or pasted
   * then went through the kernel's line discipline: echoed twice, a Ctrl-D
   * turned into an end-of-line mark that reads as a NUL once libedit
   * switches back (the "lost" Ctrl-D), Ctrl-U erasing what was pasted.
   * Out of canonical mode and without echo they wait in the queue as they
   * were typed, for the next prompt. ISIG stays on: Ctrl-C still stops a
   * running chunk. (The readline() wrapper cannot do this: it re-reads
   * and restores the terminal's modes on every call.) */
  el_set(s->el, EL_SETTY, "-x", "-icanon", "-echo", NULL);
  el_wset(s->el, EL_GETCFN, read_key);
  el_source(s->el, NULL); /* ~/.editrc */
}

static void close_editor(session *s) {
  HistEvent ev;
  if (!s->el) return;
  if (s->history[0]) history(s->hist, &ev, H_SAVE, s->history);
  el_end(s->el); /* the terminal as it was */
  history_end(s->hist);
  s->el = NULL;
}

/* --- main ------------------------------------------------------------ */

/* Shaped like lua.c's main: open the scratch runtime, start editing, read
 * a chunk, run it (or a dot command), and close the scratch at the end. */

static void catch_signals(int tty) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_fatal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGQUIT, &sa, NULL);
  sigaction(SIGPIPE, &sa, NULL);
  /* Ctrl-C: at a terminal it stops a chunk or drops the line (no
   * SA_RESTART, so the editor's read returns); from a pipe it ends the
   * session like SIGTERM. */
  sa.sa_handler = tty ? on_sigint : on_fatal;
  sigaction(SIGINT, &sa, NULL);
}

/* The runtime on a scratch database (a copy of db when given, never the
 * file itself: try a new script on real cases) and its Lua state. On a
 * failure it has said why, and left nothing to close. */
static int open_scratch(session *s, const engine_options *opts,
                        const char *db) {
  engine_options o = *opts;
  rc_errlist errors = {0};
  char copy[PATH_MAX + 32];
  if (db) {
    if (make_scratch(db, copy, sizeof copy) != 0) return -1;
    o.db = copy;
  }
  if (engine_open(&s->eng, &o, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    rc_errlist_free(&errors);
    remove_scratch();
    return -1;
  }
  if (db) {
    /* Resume the database's simulated time, if it had one. */
    char buf[32];
    rc_error err;
    if (query_meta(engine_query(s->eng), "clock", buf, sizeof buf, &err) ==
        RC_OK)
      clock_set(engine_clock(s->eng), strtoll(buf, NULL, 10));
  }
  if (!(s->L = luaL_newstate())) {
    fprintf(stderr, "recoup: out of memory\n");
    engine_close(s->eng);
    s->eng = NULL;
    remove_scratch();
    return -1;
  }
  luaL_openlibs(s->L);
  lrt_open(s->L);
  setup_globals(s);
  return 0;
}

static void close_scratch(session *s) {
  close_editor(s);
  if (s->L) lua_close(s->L);
  engine_close(s->eng);
  remove_scratch();
}

/* At a terminal: what this is, then line editing. */
static void start_editing(session *s, int on_copy) {
  const institution_config *cfg = script_config(engine_script(s->eng));
  char now[40];
  clock_zone_format(clock_zone(engine_clock(s->eng)),
                    clock_now(engine_clock(s->eng)), now, sizeof now);
  printf("recoup %s — %s on %s, simulated clock at %s\n"
         "rt and its methods as functions: open{...}, advance \"3d\", "
         "messages(), tasks(), journal(c); reload(); Ctrl-D to leave\n",
         RECOUP_VERSION, cfg->name,
         on_copy ? "a copy of the database" : "a scratch database", now);
  fflush(stdout);
  open_editor(s);
}

/* .load FILE and .reload, on a line of their own; 0 when line is neither. */
static int dot_command(session *s, const char *line) {
  if (strncmp(line, ".load ", 6) == 0) {
    if (luaL_loadfile(s->L, line + 6) != LUA_OK || docall(s, 0) != LUA_OK)
      report(s->L);
    lua_settop(s->L, 0);
    return 1;
  }
  if (strcmp(line, ".reload") == 0) {
    run_chunk(s, "reload()");
    return 1;
  }
  return 0;
}

/* buffer and line joined by a newline (buffer freed), or a copy of line
 * when there is no buffer; NULL when out of memory. */
static char *add_line(char *buffer, const char *line) {
  char *joined;
  size_t n;
  if (!buffer) return strdup(line);
  n = strlen(buffer) + strlen(line) + 2;
  if ((joined = malloc(n))) snprintf(joined, n, "%s\n%s", buffer, line);
  free(buffer);
  return joined;
}

/* Reads lines until they make a chunk. 1: the compiled chunk is on the
 * stack; 0: nothing to run (a dot command was done, Ctrl-C dropped the
 * lines, a syntax error was reported); -1: the end of input. */
static int read_chunk(session *s) {
  char *buffer = NULL;
  for (;;) {
    char *line;
    int compiled;
    interrupted = 0;
    line = read_line(s, buffer ? ">> " : "recoup> ");
    if (!line) {
      free(buffer);
      if (interrupted && s->el) {
        /* Ctrl-C at the prompt: drop what was typed. */
        putchar('\n');
        return 0;
      }
      return -1;
    }
    if (!buffer && dot_command(s, line)) {
      free(line);
      return 0;
    }
    if (!(buffer = add_line(buffer, line))) {
      fprintf(stderr, "recoup: out of memory; the lines are dropped\n");
      free(line);
      return 0;
    }
    if (s->el && *line) {
      HistEvent ev;
      history(s->hist, &ev, H_ENTER, line);
    }
    free(line);
    compiled = compile(s->L, buffer);
    if (compiled == 0) continue; /* incomplete: read on */
    free(buffer);
    return compiled > 0;
  }
}

int repl_main(const char *dir, const char *db, const char *script_file) {
  session s;
  engine_options opts = {
      .dir = dir, .db = STORE_SCRATCH, .simulated = 1, .quiet = 1};
  int status = 1, tty, got;

  memset(&s, 0, sizeof s);
  tty = !script_file && isatty(0) && isatty(1);
  if (tty && tcgetattr(0, &saved_tty) == 0) tty_saved = 1;
  atexit(leave);
  catch_signals(tty);
  if (open_scratch(&s, &opts, db) != 0) return 1;
  if (script_file &&
      (luaL_loadfile(s.L, script_file) != LUA_OK || docall(&s, 0) != LUA_OK)) {
    report(s.L);
  } else {
    if (tty) start_editing(&s, db != NULL);
    while ((got = read_chunk(&s)) >= 0) {
      if (got > 0) run_compiled(&s);
      lua_settop(s.L, 0);
    }
    if (s.el) putchar('\n');
    status = 0;
  }
  close_scratch(&s);
  return status;
}
