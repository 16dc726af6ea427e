/* The spec runner. Spec files run in a harness Lua state of their own; each
 * test gets a fresh engine (the institution loaded anew, an in-memory
 * database, a simulated clock) behind `rt`. */
#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lua_rt.h"
#include "lua_syntax.h"
#include "report.h"
#include "spec.h"
#include "store/where.h"

typedef struct runner {
  const char *file;       /* as given or found: what a failure line names */
  char dir[PATH_MAX];     /* the institution the spec belongs to */
  char where[LUA_IDSIZE]; /* the spec's chunk as Lua's messages name it */
  int passed, failed, verbose;
  const char *db; /* a PostgreSQL URL, or NULL: memory */
} runner;

typedef struct pathlist {
  char **items;
  int count, cap;
} pathlist;

static void add_path(pathlist *l, const char *p) {
  if (l->count == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 16;
    l->items = realloc(l->items, (size_t)l->cap * sizeof *l->items);
  }
  l->items[l->count++] = strdup(p);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void find_specs(const char *path, pathlist *out) {
  struct stat st;
  DIR *d;
  struct dirent *e;
  if (stat(path, &st) != 0) return;
  if (S_ISREG(st.st_mode)) {
    add_path(out, path);
    return;
  }
  if (!S_ISDIR(st.st_mode) || !(d = opendir(path))) return;
  while ((e = readdir(d)) != NULL) {
    char child[PATH_MAX];
    if (e->d_name[0] == '.') continue;
    snprintf(child, sizeof child, "%s/%s", path, e->d_name);
    if (stat(child, &st) != 0) continue;
    if (S_ISDIR(st.st_mode))
      find_specs(child, out);
    else if (ends_with(e->d_name, "_test.lua"))
      add_path(out, child);
  }
  closedir(d);
}

static int cmp_path(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The nearest directory at or above the spec holding recoup.lua. */
static int institution_of(const char *file, char *dir, size_t size) {
  char buf[PATH_MAX];
  snprintf(buf, sizeof buf, "%s", file);
  for (;;) {
    char *slash = strrchr(buf, '/');
    char probe[PATH_MAX + 16];
    struct stat st;
    if (!slash) {
      snprintf(dir, size, ".");
      return stat("recoup.lua", &st) == 0 ? 0 : -1;
    }
    *slash = '\0';
    snprintf(probe, sizeof probe, "%s/recoup.lua", buf[0] ? buf : "/");
    if (stat(probe, &st) == 0) {
      snprintf(dir, size, "%s", buf[0] ? buf : "/");
      return 0;
    }
    if (!buf[0]) return -1;
  }
}

/* --- globals of a spec ------------------------------------------------ */

static void describe(lua_State *L, int idx, luaL_Buffer *b, int depth) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TSTRING) {
    lua_pushvalue(L, idx);
    luaL_addchar(b, '"');
    luaL_addvalue(b);
    luaL_addchar(b, '"');
  } else if (lua_istable(L, idx) && depth < 3) {
    int first = 1;
    luaL_addchar(b, '{');
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      if (!first) luaL_addstring(b, ", ");
      first = 0;
      if (lua_type(L, -2) == LUA_TSTRING) {
        lua_pushfstring(L, "%s = ", lua_tostring(L, -2));
        luaL_addvalue(b);
      }
      describe(L, -1, b, depth + 1);
      lua_pop(L, 1);
    }
    luaL_addchar(b, '}');
  } else {
    luaL_tolstring(L, idx, NULL);
    luaL_addvalue(b);
  }
}

static int deep_equal(lua_State *L, int a, int b, int depth) {
  a = lua_absindex(L, a);
  b = lua_absindex(L, b);
  if (lua_compare(L, a, b, LUA_OPEQ)) return 1;
  if (!lua_istable(L, a) || !lua_istable(L, b) || depth > 16) return 0;
  lua_pushnil(L);
  while (lua_next(L, a)) {
    lua_pushvalue(L, -2);
    lua_gettable(L, b);
    if (!deep_equal(L, -1, -2, depth + 1)) {
      lua_pop(L, 3);
      return 0;
    }
    lua_pop(L, 2);
  }
  lua_pushnil(L);
  while (lua_next(L, b)) {
    lua_pushvalue(L, -2);
    lua_gettable(L, a);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 3);
      return 0;
    }
    lua_pop(L, 2);
  }
  return 1;
}

static int l_eq(lua_State *L) {
  luaL_Buffer b;
  lua_settop(L, 3);
  if (deep_equal(L, 1, 2, 0)) return 0;
  luaL_where(L, 1);
  luaL_buffinit(L, &b);
  if (!lua_isnil(L, 3)) {
    luaL_addstring(&b, lua_tostring(L, 3));
    luaL_addstring(&b, ": ");
  }
  luaL_addstring(&b, "expected ");
  describe(L, 2, &b, 0);
  luaL_addstring(&b, ", got ");
  describe(L, 1, &b, 0);
  luaL_pushresult(&b);
  lua_concat(L, 2);
  return lua_error(L);
}

static int l_test(lua_State *L) {
  luaL_checkstring(L, 1);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_getfield(L, LUA_REGISTRYINDEX, "recoup.tests"); /* tests */
  lua_createtable(L, 2, 1);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, 1);
  lua_pushvalue(L, 2);
  lua_rawseti(L, -2, 2);
  {
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar)) {
      lua_pushinteger(L, ar.currentline);
      lua_setfield(L, -2, "line");
    }
  }
  lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
  return 0;
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  luaL_traceback(L, L, msg ? msg : "(error object)", 1);
  return 1;
}

static lua_State *harness(void) {
  lua_State *L = luaL_newstate();
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_pop(L, 5);
  lua_pushnil(L);
  lua_setglobal(L, "dofile");
  lua_pushnil(L);
  lua_setglobal(L, "loadfile");
  lua_register(L, "eq", l_eq);
  lua_register(L, "test", l_test);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "recoup.tests");
  lrt_open(L);
  return L;
}

/* The spec's path inside its institution: the chunk's name, so that
 * Lua's messages stay short and whole (it cuts a chunk name past 60 bytes
 * to its tail) in a checkout at any depth. */
static const char *relative(const runner *r) {
  size_t n = strlen(r->dir);
  if (strcmp(r->dir, ".") != 0 && strncmp(r->file, r->dir, n) == 0 &&
      (r->file[n] == '/' || r->dir[n - 1] == '/'))
    return r->file + n + (r->file[n] == '/');
  return r->file;
}

/* A message that starts with the spec's own location ("tests/x_test.lua:
 * 12: ..."): its line, and the message after it; else NULL. */
static const char *located(const runner *r, const char *msg, int *line) {
  size_t n = strlen(r->where);
  char *end;
  long at;
  if (strncmp(msg, r->where, n) != 0 || msg[n] != ':') return NULL;
  at = strtol(msg + n + 1, &end, 10);
  if (end == msg + n + 1 || *end != ':') return NULL;
  *line = (int)at;
  return end[1] == ' ' ? end + 2 : end + 1;
}

/* A handler that failed leaves its case in error and the spec goes on:
 * what fails then is a later check ("expected 1, got 0"), far from the
 * cause. The failure line ends with the newest case in error and its
 * message, so a typo in a workflow reads as itself. */
static void cases_in_error(engine *eng, const char *said, char *out,
                           size_t size) {
  rc_error err;
  json_t *page, *rows, *first;
  size_t n;
  out[0] = '\0';
  if (!eng) return;
  rc_error_clear(&err);
  page = report_errors(eng, 0, 2, &err);
  rows = page ? json_object_get(page, "errors") : NULL;
  n = json_array_size(rows);
  if (n > 0 && (first = json_array_get(rows, 0))) {
    const char *id = json_string_value(json_object_get(first, "case"));
    const char *ev = json_string_value(json_object_get(first, "event"));
    const char *msg = json_string_value(json_object_get(first, "error"));
    if (!msg || !strstr(said, msg)) /* else the failure quotes it */
      snprintf(out, size, "; case %s is in error%s: %s%s%s%s", id ? id : "?",
               n > 1 ? " (and others)" : "", ev ? "its " : "", ev ? ev : "",
               ev ? " event failed: " : "", msg ? msg : "?");
  }
  json_decref(page);
}

/* Text a spec's run said (a test's name, a failure quoting a borrower's
 * name, a Lua message) as every CLI line shows it (rc_printable): a bidi
 * override in a name turned the rest of the terminal's line around, an
 * escape sequence reached the terminal as a command. Lines are kept. */
static void put_shown(const char *s) {
  size_t n = strlen(s) + 1; /* never longer shown */
  char *b = malloc(n);
  if (!b) {
    fputs("?", stdout);
    return;
  }
  rc_printable(b, n, s);
  fputs(b, stdout);
  free(b);
}

/* One line: FILE:LINE: test name: message, the location said once. An
 * error raised in the spec carries its own line; one from the runtime
 * gets the test's. */
static void report_failure(runner *r, engine *eng, const char *name, int line,
                           const char *msg, const char *full) {
  const char *rest = located(r, msg, &line);
  char in_error[1200];
  cases_in_error(eng, msg, in_error, sizeof in_error);
  put_shown(r->file);
  printf(":%d: ", line);
  put_shown(name);
  fputs(": ", stdout);
  put_shown(rest ? rest : msg);
  put_shown(in_error);
  putchar('\n');
  if (r->verbose && full) {
    put_shown(full);
    putchar('\n');
  }
  r->failed++;
}

static void run_file(runner *r) {
  lua_State *L = harness();
  char chunk[PATH_MAX + 2];
  lua_Integer n;

  {
    /* Lua's own name for the chunk in its messages (luaO_chunkid): the
     * name, or "..." and its last 56 bytes when it is longer. */
    const char *rel = relative(r);
    size_t len = strlen(rel);
    snprintf(chunk, sizeof chunk, "@%s", rel);
    snprintf(r->where, sizeof r->where, "%s%s", len < LUA_IDSIZE ? "" : "...",
             len < LUA_IDSIZE ? rel : rel + len - (LUA_IDSIZE - 4));
  }
  {
    FILE *f = fopen(r->file, "rb");
    char *buf = NULL;
    size_t len = 0;
    int status;
    if (f) {
      fseek(f, 0, SEEK_END);
      long size = ftell(f);
      fseek(f, 0, SEEK_SET);
      if (size >= 0 && (buf = malloc((size_t)size + 1)))
        len = fread(buf, 1, (size_t)size, f);
      fclose(f);
    }
    status = buf ? luaL_loadbufferx(L, buf, len, chunk, "t") : LUA_ERRFILE;
    if (status == LUA_ERRSYNTAX) lua_syntax_hint(L, buf, len);
    free(buf);
    if (status == LUA_OK) status = lua_pcall(L, 0, 0, 0);
    if (status != LUA_OK) {
      const char *msg =
          status == LUA_ERRFILE ? "cannot read the file" : lua_tostring(L, -1);
      int line = 0;
      const char *rest = msg ? located(r, msg, &line) : NULL;
      put_shown(r->file);
      if (rest)
        printf(":%d: ", line);
      else
        fputs(": ", stdout);
      put_shown(rest ? rest : msg ? msg : "(error object)");
      putchar('\n');
      r->failed++;
      lua_close(L);
      return;
    }
  }
  lua_getfield(L, LUA_REGISTRYINDEX, "recoup.tests");
  n = luaL_len(L, -1);
  for (lua_Integer i = 1; i <= n; i++) {
    engine *eng = NULL;
    engine_options opts = {
        .dir = r->dir, .db = STORE_SCRATCH, .simulated = 1, .quiet = 1};
    char scratch[2048];
    rc_errlist errors = {0};
    const char *name;
    int line;
    lua_rawgeti(L, -1, i); /* tests t */
    lua_rawgeti(L, -1, 1);
    name = lua_tostring(L, -1);
    lua_getfield(L, -2, "line");
    line = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (r->db) { /* a schema of its own, dropped at engine_close */
      snprintf(scratch, sizeof scratch, "%s%cscratch=1", r->db,
               strchr(r->db, '?') ? '&' : '?');
      opts.db = scratch;
    }
    if (engine_open(&eng, &opts, &errors) != RC_OK) {
      char msg[1400];
      rc_error *e = errors.count ? &errors.items[0] : NULL;
      if (e && e->file[0])
        snprintf(msg, sizeof msg, "cannot load the institution: %s:%d: %s",
                 e->file, e->line, e->message);
      else
        snprintf(msg, sizeof msg, "cannot load the institution: %s",
                 e ? e->message : "?");
      report_failure(r, NULL, name, line, msg, NULL);
      rc_errlist_free(&errors);
      lua_pop(L, 2);
      continue;
    }
    lua_pushcfunction(L, traceback);
    lua_rawgeti(L, -3, 2); /* tests t name tb fn */
    lrt_push(L, eng);
    if (lua_pcall(L, 1, 0, -3) != LUA_OK) {
      const char *full = lua_tostring(L, -1);
      char first[2048];
      size_t k = full ? strcspn(full, "\n") : 0;
      if (k >= sizeof first) k = sizeof first - 1;
      memcpy(first, full ? full : "", k);
      first[k] = '\0';
      report_failure(r, eng, name, line, first, full);
      lua_pop(L, 1);
    } else {
      if (r->verbose) {
        fputs("ok ", stdout);
        put_shown(name);
        putchar('\n');
      }
      r->passed++;
    }
    lua_pop(L, 3); /* tb name t */
    /* Cases a spec kept point at this engine: collect them first. */
    lrt_forget(L);
    lua_gc(L, LUA_GCCOLLECT);
    engine_close(eng);
  }
  lua_close(L);
}

int spec_main(int npaths, char **paths, int verbose, const char *db) {
  pathlist files = {0};
  runner r;
  char *dot[] = {"."};
  /* A file would be a book the tests overwrite: only a server's scratch
   * schemas are given to them. */
  if (db && strncmp(db, "postgresql://", 13) != 0 &&
      strncmp(db, "postgres://", 11) != 0) {
    fprintf(stderr,
            "recoup: --db: recoup test takes a postgresql:// URL (each test "
            "runs on a scratch schema there); without --db, in memory\n");
    return 2;
  }
  /* Each test's URL is this one with scratch=1 added (run_file): cut
   * short, it would lose scratch=1 and the tests would write the book. */
  if (db && strlen(db) > 2000) {
    fprintf(stderr, "recoup: --db: the URL is longer than 2000 bytes\n");
    return 2;
  }
  if (npaths == 0) {
    npaths = 1;
    paths = dot;
  }
  for (int i = 0; i < npaths; i++) {
    struct stat st;
    if (stat(paths[i], &st) != 0) {
      fprintf(stderr, "recoup: %s: no such file or directory\n", paths[i]);
      return 1; /* a failure, not a wrong command line (2) */
    }
    find_specs(paths[i], &files);
  }
  if (files.count)
    qsort(files.items, (size_t)files.count, sizeof *files.items, cmp_path);
  memset(&r, 0, sizeof r);
  r.verbose = verbose;
  r.db = db;
  for (int i = 0; i < files.count; i++) {
    r.file = files.items[i];
    if (institution_of(r.file, r.dir, sizeof r.dir) != 0) {
      printf("%s: no recoup.lua in this directory or above\n", r.file);
      r.failed++;
    } else {
      run_file(&r);
    }
    free(files.items[i]);
  }
  free(files.items);
  printf("%d passed, %d failed\n", r.passed, r.failed);
  return r.failed || (r.passed == 0) ? 1 : 0;
}
