/* `recoup repl`: the same `rt` as a spec gets, at a prompt.
 *
 * Lua's own conventions, as lua.c has them: `=expr` and bare expressions
 * print their values; input that ends inside a function, string or table
 * (the parser's error ends in "<eof>") continues on a second prompt;
 * errors print with a short traceback and the session goes on. Ctrl-C
 * interrupts a running chunk (a hook raises an error on the next
 * instruction) or drops the line being typed; Ctrl-D leaves. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>
#include <lauxlib.h>
#include <lualib.h>

#include "lua_rt.h"
#include "repl.h"
#include "template.h"

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

/* --- pretty printing ------------------------------------------------- */

typedef struct printer {
  lua_State *L;
  engine *eng;
  luaL_Buffer *b;
} printer;

static void show(printer *p, int idx, int indent, int depth);

static void add_quoted(luaL_Buffer *b, const char *s) {
  luaL_addchar(b, '"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') luaL_addchar(b, '\\');
    if (*s == '\n') {
      luaL_addstring(b, "\\n");
      continue;
    }
    luaL_addchar(b, *s);
  }
  luaL_addchar(b, '"');
}

static int is_identifier(const char *s) {
  if (!*s || (*s >= '0' && *s <= '9')) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9') || *s == '_'))
      return 0;
  return 1;
}

/* Sorted string keys first, then the array part. */
static int key_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *const column_order[] = {
    "id",     "case",     "kind",   "channel", "template", "queue",
    "status", "outcome",  "reason", "to",      "due",      "at",
    "state",  "assignee", "body",   "detail",  NULL};

/* A list of rows (messages(), tasks(), journal()) as aligned columns. */
static int show_rows(printer *p, int idx) {
  lua_State *L = p->L;
  lua_Integer n = luaL_len(L, idx);
  const char *cols[16];
  int ncols = 0, width[16];
  if (n < 1) return 0;
  for (lua_Integer i = 1; i <= n; i++) {
    int t = lua_rawgeti(L, idx, i);
    lua_pop(L, 1);
    if (t != LUA_TTABLE) return 0;
  }
  for (int c = 0; column_order[c] && ncols < 16; c++) {
    int present = 0;
    for (lua_Integer i = 1; i <= n && !present; i++) {
      lua_rawgeti(L, idx, i);
      present = lua_getfield(L, -1, column_order[c]) != LUA_TNIL;
      lua_pop(L, 2);
    }
    if (present) cols[ncols++] = column_order[c];
  }
  if (ncols < 2) return 0;
  for (int c = 0; c < ncols; c++) {
    width[c] = (int)strlen(cols[c]);
    for (lua_Integer i = 1; i <= n; i++) {
      size_t len = 0;
      lua_rawgeti(L, idx, i);
      lua_getfield(L, -1, cols[c]);
      if (!lua_isnil(L, -1)) luaL_tolstring(L, -1, &len), lua_pop(L, 1);
      lua_pop(L, 2);
      if ((int)len > width[c]) width[c] = (int)len;
    }
    if (width[c] > 36) width[c] = 36;
  }
  for (int c = 0; c < ncols; c++) {
    lua_pushfstring(L, "%s%s", c ? "  " : "", cols[c]);
    luaL_addvalue(p->b);
    for (int k = (int)strlen(cols[c]); k < width[c]; k++)
      luaL_addchar(p->b, ' ');
  }
  for (lua_Integer i = 1; i <= n; i++) {
    luaL_addchar(p->b, '\n');
    lua_rawgeti(L, idx, i);
    for (int c = 0; c < ncols; c++) {
      const char *s = "";
      size_t len = 0, shown;
      if (lua_getfield(L, -1, cols[c]) != LUA_TNIL) {
        if (lua_istable(L, -1)) {
          lua_pop(L, 1);
          lua_pushliteral(L, "{...}");
        }
        s = luaL_tolstring(L, -1, &len);
        lua_remove(L, -2);
      }
      shown = len > (size_t)width[c] ? (size_t)width[c] - 1 : len;
      if (c) luaL_addstring(p->b, "  ");
      luaL_addlstring(p->b, s, shown);
      if (shown < len) luaL_addstring(p->b, "~");
      for (size_t k = shown + (shown < len); k < (size_t)width[c]; k++)
        luaL_addchar(p->b, ' ');
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return 1;
}

static void show_table(printer *p, int idx, int indent, int depth) {
  lua_State *L = p->L;
  const char *keys[256];
  int nkeys = 0;
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  if (depth > 4) {
    luaL_addstring(p->b, "{...}");
    return;
  }
  if (depth == 0 && show_rows(p, idx)) return;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING && nkeys < 256)
      keys[nkeys++] = lua_tostring(L, -1); /* the table keeps it alive */
  }
  qsort(keys, (size_t)nkeys, sizeof *keys, key_cmp);
  if (nkeys == 0 && n == 0) {
    luaL_addstring(p->b, "{}");
    return;
  }
  luaL_addstring(p->b, "{\n");
  for (lua_Integer i = 1; i <= n; i++) {
    for (int k = 0; k < indent + 2; k++) luaL_addchar(p->b, ' ');
    lua_rawgeti(L, idx, i);
    show(p, lua_gettop(L), indent + 2, depth + 1);
    lua_pop(L, 1);
    luaL_addstring(p->b, ",\n");
  }
  for (int k = 0; k < nkeys; k++) {
    for (int s = 0; s < indent + 2; s++) luaL_addchar(p->b, ' ');
    if (is_identifier(keys[k])) {
      luaL_addstring(p->b, keys[k]);
    } else {
      luaL_addchar(p->b, '[');
      add_quoted(p->b, keys[k]);
      luaL_addchar(p->b, ']');
    }
    luaL_addstring(p->b, " = ");
    lua_getfield(L, idx, keys[k]);
    show(p, lua_gettop(L), indent + 2, depth + 1);
    lua_pop(L, 1);
    luaL_addstring(p->b, ",\n");
  }
  for (int s = 0; s < indent; s++) luaL_addchar(p->b, ' ');
  luaL_addchar(p->b, '}');
}

/* A case: what a collector wants to see at a glance. */
static void show_case(printer *p, int idx) {
  lua_State *L = p->L;
  char money[64];
  const institution_config *cfg = script_config(engine_script(p->eng));
  idx = lua_absindex(L, idx);
  lua_getfield(L, idx, "id");
  lua_getfield(L, idx, "state");
  lua_getfield(L, idx, "balance");
  lua_getfield(L, idx, "currency");
  lua_getfield(L, idx, "dpd");
  template_format_money(cfg->locale, lua_tostring(L, -2),
                        (rc_money)lua_tointeger(L, -3), money, sizeof money);
  lua_pushfstring(L, "case %s  state %s  balance %s  dpd %d",
                  lua_tostring(L, -5), lua_tostring(L, -4), money,
                  (int)lua_tointeger(L, -1));
  luaL_addvalue(p->b);
  lua_pop(L, 5);
  if (lua_getfield(L, idx, "error") == LUA_TSTRING) {
    lua_pushfstring(L, "\n  error: %s", lua_tostring(L, -1));
    luaL_addvalue(p->b);
  }
  lua_pop(L, 1);
  /* next timers and open tasks, through rt */
  lua_getglobal(L, "rt");
  if (lua_isuserdata(L, -1)) {
    lua_getfield(L, -1, "timers");
    lua_pushvalue(L, -2);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1)) {
      lua_Integer n = luaL_len(L, -1);
      for (lua_Integer i = 1; i <= n && i <= 3; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "event");
        lua_getfield(L, -2, "due");
        lua_pushfstring(L, "\n  timer %s at %s", lua_tostring(L, -2),
                        lua_tostring(L, -1));
        luaL_addvalue(p->b);
        lua_pop(L, 3);
      }
    }
    lua_pop(L, 1);
    lua_getfield(L, -1, "tasks");
    lua_pushvalue(L, -2);
    lua_createtable(L, 0, 2);
    lua_getfield(L, idx, "id");
    lua_setfield(L, -2, "case");
    lua_pushliteral(L, "open");
    lua_setfield(L, -2, "status");
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1)) {
      lua_Integer n = luaL_len(L, -1);
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "id");
        lua_getfield(L, -2, "kind");
        lua_getfield(L, -3, "queue");
        lua_pushfstring(L, "\n  task #%d %s (queue %s)",
                        (int)lua_tointeger(L, -3), lua_tostring(L, -2),
                        lua_tostring(L, -1));
        luaL_addvalue(p->b);
        lua_pop(L, 4);
      }
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static void show(printer *p, int idx, int indent, int depth) {
  lua_State *L = p->L;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING:
      add_quoted(p->b, lua_tostring(L, idx));
      return;
    case LUA_TTABLE:
      show_table(p, lua_absindex(L, idx), indent, depth);
      return;
    case LUA_TUSERDATA:
      if (luaL_testudata(L, idx, "recoup.case")) {
        show_case(p, idx);
        return;
      }
      /* fall through */
    default:
      luaL_tolstring(L, idx, NULL);
      luaL_addvalue(p->b);
  }
}

/* Prints the values from index first to the top, one a line. */
static void print_values(lua_State *L, engine *eng, int first) {
  int top = lua_gettop(L);
  for (int i = first; i <= top; i++) {
    luaL_Buffer b;
    printer p = {L, eng, &b};
    luaL_buffinit(L, &b);
    show(&p, i, 0, 0);
    luaL_pushresult(&b);
    puts(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  fflush(stdout);
}

/* --- the session ----------------------------------------------------- */

typedef struct session {
  lua_State *L;
  engine *eng;
  int interactive;
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
    print_values(L, s->eng, base + 1);
  }
  lua_settop(L, base);
}

static void run_chunk(session *s, const char *code) {
  if (compile(s->L, code) > 0) run_compiled(s);
}

static char *read_line(session *s, const char *prompt) {
  if (s->interactive) return readline(prompt);
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
  lua_rt_push(L, s->eng);
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

static lua_State *completing;
static char **candidates;
static int ncandidates;

static void add_candidate(const char *prefix, const char *name,
                          const char *sep) {
  char **grown;
  size_t len = strlen(prefix) + strlen(name) + 2;
  grown = realloc(candidates, (size_t)(ncandidates + 2) * sizeof *candidates);
  if (!grown) return;
  candidates = grown;
  candidates[ncandidates] = malloc(len);
  snprintf(candidates[ncandidates], len, "%s%s%s", prefix, sep, name);
  ncandidates++;
  candidates[ncandidates] = NULL;
}

/* Candidates for text such as "rt:adv" or "c.bal" or "mess". */
static void gather(const char *text) {
  lua_State *L = completing;
  const char *sep = NULL;
  char base[256] = "", word[256];
  int top = lua_gettop(L);
  for (const char *p = text; *p; p++)
    if (*p == '.' || *p == ':') sep = p;
  if (sep) {
    snprintf(base, sizeof base, "%.*s", (int)(sep - text), text);
    snprintf(word, sizeof word, "%s", sep + 1);
  } else {
    snprintf(word, sizeof word, "%s", text);
  }
  if (!sep) {
    lua_pushglobaltable(L);
  } else {
    /* Walk a.b.c through tables only: completion never runs code. */
    char path[256], *part, *save = NULL;
    snprintf(path, sizeof path, "%s", base);
    lua_pushglobaltable(L);
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
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING &&
            strncmp(lua_tostring(L, -1), word, strlen(word)) == 0)
          add_candidate(base, lua_tostring(L, -1),
                        sep ? (char[2]){*sep, 0} : "");
      }
    }
    if (is_case && sep && *sep == '.')
      for (int i = 0; fields[i]; i++)
        if (strncmp(fields[i], word, strlen(word)) == 0)
          add_candidate(base, fields[i], ".");
  } else if (lua_istable(L, -1)) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING &&
          strncmp(lua_tostring(L, -1), word, strlen(word)) == 0)
        add_candidate(base, lua_tostring(L, -1), sep ? (char[2]){*sep, 0} : "");
    }
  }
  lua_settop(L, top);
}

static char *next_candidate(const char *text, int state) {
  static int i;
  (void)text;
  if (state == 0) i = 0;
  return i < ncandidates ? strdup(candidates[i++]) : NULL;
}

static char **complete(const char *text, int start, int end) {
  (void)start;
  (void)end;
  for (int i = 0; i < ncandidates; i++) free(candidates[i]);
  free(candidates);
  candidates = NULL;
  ncandidates = 0;
  gather(text);
  rl_attempted_completion_over = 1;
  return ncandidates ? rl_completion_matches(text, next_candidate) : NULL;
}

/* --- main ------------------------------------------------------------ */

int repl_main(const char *dir, const char *db, const char *script_file) {
  session s;
  engine_options opts = {dir, ":memory:", 1, 0, 1};
  rc_errlist errors = {0};
  char copy[] = "/tmp/recoup-repl-XXXXXX";
  char history[1024] = "";
  char *buffer = NULL;
  int made_copy = 0;

  memset(&s, 0, sizeof s);
  if (db) {
    /* A copy, never the file itself: try a new script on real cases. */
    rc_error err;
    int fd = mkstemp(copy);
    if (fd < 0) {
      fprintf(stderr, "recoup: cannot make a scratch copy\n");
      return 1;
    }
    close(fd);
    if (engine_copy_database(db, copy, &err) != RC_OK) {
      rc_error_print(&err, stderr);
      unlink(copy);
      return 1;
    }
    made_copy = 1;
    opts.db = copy;
  }
  if (engine_open(&s.eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    rc_errlist_free(&errors);
    if (made_copy) unlink(copy);
    return 1;
  }
  if (db) {
    /* Resume the database's simulated time, if it had one. */
    char buf[32];
    rc_error err;
    if (query_meta(engine_query(s.eng), "clock", buf, sizeof buf, &err) ==
        RC_OK)
      clock_set(engine_clock(s.eng), strtoll(buf, NULL, 10));
  }
  s.L = luaL_newstate();
  luaL_openlibs(s.L);
  lua_rt_open(s.L);
  setup_globals(&s);
  s.interactive = !script_file && isatty(0) && isatty(1);
  signal(SIGINT, on_sigint);
  if (s.interactive) {
    const char *home = getenv("HOME");
    const institution_config *cfg = script_config(engine_script(s.eng));
    char now[40];
    zone_format(clock_zone(engine_clock(s.eng)), clock_now(engine_clock(s.eng)),
                now, sizeof now);
    if (home) snprintf(history, sizeof history, "%s/.recoup_history", home);
    using_history();
    if (history[0]) read_history(history);
    completing = s.L;
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"'()[]{}=+-*/%^<>,;~#";
    printf(
        "recoup %s — %s on %s, simulated clock at %s\n"
        "rt and its methods as functions: open{...}, advance \"3d\", "
        "messages(), tasks(), journal(c); reload(); Ctrl-D to leave\n",
        RECOUP_VERSION, cfg->name,
        db ? "a copy of the database" : "a scratch database", now);
  }
  if (script_file) {
    if (luaL_loadfile(s.L, script_file) != LUA_OK || docall(&s, 0) != LUA_OK) {
      report(s.L);
      lua_close(s.L);
      engine_close(s.eng);
      if (made_copy) unlink(copy);
      return 1;
    }
  }
  for (;;) {
    char *line;
    interrupted = 0;
    line = read_line(&s, buffer ? ">> " : "recoup> ");
    if (!line) {
      if (interrupted && s.interactive) {
        /* Ctrl-C at the prompt: drop what was typed. */
        free(buffer);
        buffer = NULL;
        putchar('\n');
        continue;
      }
      break;
    }
    if (!buffer && strncmp(line, ".load ", 6) == 0) {
      if (luaL_loadfile(s.L, line + 6) != LUA_OK || docall(&s, 0) != LUA_OK)
        report(s.L);
      lua_settop(s.L, 0);
      free(line);
      continue;
    }
    if (!buffer && strcmp(line, ".reload") == 0) {
      free(line);
      run_chunk(&s, "reload()");
      continue;
    }
    if (buffer) {
      size_t n = strlen(buffer) + strlen(line) + 2;
      char *joined = malloc(n);
      snprintf(joined, n, "%s\n%s", buffer, line);
      free(buffer);
      buffer = joined;
    } else {
      buffer = strdup(line);
    }
    if (s.interactive && *line) add_history(line);
    free(line);
    {
      int compiled = compile(s.L, buffer);
      if (compiled == 0) continue; /* incomplete: read on */
      if (compiled > 0) run_compiled(&s);
      lua_settop(s.L, 0);
    }
    free(buffer);
    buffer = NULL;
  }
  free(buffer);
  if (s.interactive) {
    putchar('\n');
    if (history[0]) write_history(history);
  }
  for (int i = 0; i < ncandidates; i++) free(candidates[i]);
  free(candidates);
  lua_close(s.L);
  engine_close(s.eng);
  if (made_copy) {
    char side[64];
    unlink(copy);
    snprintf(side, sizeof side, "%s-wal", copy);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", copy);
    unlink(side);
  }
  return 0;
}
