/* The sandboxed Lua state of an institution.
 *
 * Scripts get an explicit allow-list of globals (DESIGN.md, Sandbox); once
 * recoup.lua has loaded, the global table is locked so that no handler can
 * leave state behind for the next case by accident. Every call into Lua is
 * protected, carries an instruction budget (a count hook) and runs under a
 * memory cap (our allocator), so a runaway script is a reported handler
 * error and never a hung or crashed service. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lualib.h>

#include "recoup/engine.h"
#include "input.h"
#include "lua_json.h"
#include "lua_syntax.h"
#include "script_priv.h"
#include "task_decl.h"

#ifndef RECOUP_SCRIPTS_DIR
#define RECOUP_SCRIPTS_DIR "scripts"
#endif

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize);

/* The allocator's pointer is the script (script_load): a registry look-up
 * by name cost a string intern and a hash a call, several a step and one
 * each count hook. Other states (a spec's, the REPL's) have none. */
script *script_of(lua_State *L) {
  void *ud;
  return lua_getallocf(L, &ud) == limited_alloc ? ud : NULL;
}

const char *script_shipped_dir(void) {
  const char *env = getenv("RECOUP_SCRIPTS");
  return env && *env ? env : RECOUP_SCRIPTS_DIR;
}

/* s with each byte that is not part of a UTF-8 character as '?' (as
 * rc_printable shows it; the length kept). Lua names a chunk by its
 * first 59 bytes, a file by its last 56 after "...", cut wherever the
 * count ends: a folder named in Chinese put a broken character in every
 * error of its scripts, which no JSON answer can carry (a case holding
 * one answered GET /v1/cases/ID with {}). */
static void utf8_mend(char *s) {
  size_t len = strlen(s), off = 0;
  input_pos bad;
  while (off < len && input_text_check(s + off, len - off, &bad)) {
    s[off + bad.offset] = '?';
    off += bad.offset + 1;
  }
}

void script_error_from_message(const char *msg, int code, rc_error *err) {
  const char *p = msg;
  rc_error_clear(err);
  err->code = code;
  /* "path/file.lua:12: message" — find the first ":digits: " */
  while ((p = strchr(p, ':')) != NULL) {
    const char *q = p + 1;
    int line = 0;
    while (isdigit((unsigned char)*q)) line = line * 10 + (*q++ - '0');
    if (q > p + 1 && q[0] == ':' && q[1] == ' ') {
      size_t n = (size_t)(p - msg);
      if (n >= sizeof err->file) n = sizeof err->file - 1;
      memcpy(err->file, msg, n);
      err->file[n] = '\0';
      err->line = line;
      snprintf(err->message, sizeof err->message, "%s", q + 2);
      utf8_mend(err->file); /* cut at 255 bytes too */
      utf8_mend(err->message);
      return;
    }
    p++;
  }
  snprintf(err->message, sizeof err->message, "%s", msg);
  utf8_mend(err->message);
}

static void load_error_v(lua_State *L, int level, int since, const char *fmt,
                         va_list ap) {
  script *sc = script_of(L);
  lua_Debug ar;
  rc_error err;

  rc_error_clear(&err);
  err.code = RC_EINVAL;
  err.since = since;
  vsnprintf(err.message, sizeof err.message, fmt, ap);
  if (lua_getstack(L, level, &ar) && lua_getinfo(L, "Sl", &ar)) {
    snprintf(err.file, sizeof err.file, "%s",
             ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
    err.line = ar.currentline;
  }
  if (since && sc->findings)
    rc_errlist_add(sc->findings, &err);
  else if (sc->errors)
    rc_errlist_add(sc->errors, &err);
}

void script_load_error(lua_State *L, int level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  load_error_v(L, level, 0, fmt, ap);
  va_end(ap);
}

void script_load_finding(lua_State *L, int level, int since, const char *fmt,
                         ...) {
  va_list ap;
  va_start(ap, fmt);
  load_error_v(L, level, since, fmt, ap);
  va_end(ap);
}

/* A block of n bytes (n <= POOL_BYTES) is allocated as its class's size
 * and, freed, kept on its class's list for the next one: a handler's
 * objects live for a step and the collector frees them in bursts, past
 * what malloc keeps at hand for one size, so each came back through
 * malloc's slow path (0.2k instructions a reminder step). A list holds
 * at most POOL_KEEP blocks. The cap counts what Lua asked for, as
 * without the pool. */
enum { POOL_BYTES = 16 * SCRIPT_POOL_CLASSES, POOL_KEEP = 256 };

static int pool_class(size_t n) {
  return (int)((n + 15) / 16) - 1;
}

static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  script *sc = ud;
  void *p;
  if (!ptr) osize = 0; /* then osize is a type tag, not a size */
  if (nsize == 0) {
    int c = pool_class(osize);
    if (ptr && osize > 0 && osize <= POOL_BYTES && sc->pool_n[c] < POOL_KEEP) {
      *(void **)ptr = sc->pool[c];
      sc->pool[c] = ptr;
      sc->pool_n[c]++;
    } else {
      free(ptr);
    }
    sc->mem_used -= osize;
    return NULL;
  }
  if (nsize > osize && sc->mem_used + (nsize - osize) > sc->mem_limit)
    return NULL; /* Lua turns this into a memory error */
  if (nsize > osize) sandbox_charge_alloc(sc, nsize - osize);
  if (nsize <= POOL_BYTES) {
    int c = pool_class(nsize);
    if (!ptr && sc->pool[c]) {
      p = sc->pool[c];
      sc->pool[c] = *(void **)p;
      sc->pool_n[c]--;
    } else {
      /* Its class's whole size: a block the pool keeps takes any size
       * of the class. */
      p = ptr ? realloc(ptr, (size_t)(c + 1) * 16)
              : malloc((size_t)(c + 1) * 16);
    }
  } else {
    p = realloc(ptr, nsize);
  }
  if (p) sc->mem_used = sc->mem_used - osize + nsize;
  return p;
}

/* After lua_close: what the pool kept. */
static void pool_free(script *sc) {
  for (int c = 0; c < SCRIPT_POOL_CLASSES; c++)
    while (sc->pool[c]) {
      void *next = *(void **)sc->pool[c];
      free(sc->pool[c]);
      sc->pool[c] = next;
    }
}

void script_set_budget(script *sc, int64_t instructions) {
  sc->budget = instructions;
}

void script_set_deadline(script *sc, int64_t ms) {
  sc->deadline_ms = ms;
}

/* Whether msg is only the position error() put before an empty or
 * blank text: the caller's (level 2, error's default) or its caller's
 * (error(msg, 2)); level 1 is error itself. *where is the position's
 * length. */
static int blank_refusal(lua_State *L, const char *msg, size_t *where) {
  for (int level = 2; level <= 3; level++) {
    const char *p = msg, *w;
    size_t n;
    luaL_where(L, level);
    w = lua_tolstring(L, -1, &n);
    *where = n && !strncmp(p, w, n) ? n : 0;
    lua_pop(L, 1);
    p += *where;
    while (*p && isspace((unsigned char)*p)) p++;
    if (!*p) return 1;
  }
  return 0;
}

static int msgh(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  script *sc = script_of(L);
  lua_Debug ar;
  size_t where;
  /* Level 1 is what raised: error() itself when the script called it, a
   * Lua function for an error of the VM's (nil indexed, a bad call), a
   * binding for a bad argument. */
  if (sc && sc->error_fn && lua_getstack(L, 1, &ar) &&
      lua_getinfo(L, "f", &ar)) {
    sc->raised = lua_tocfunction(L, -1) == sc->error_fn;
    lua_pop(L, 1);
  }
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else {
      /* error() or error({...}): no words a caller could act on, and a
       * 422 would log the script's slip as the caller's (the service
       * logs a refusal as info): the script failing, as a crash is. */
      if (sc) sc->raised = 0;
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, 1));
    }
  }
  /* A crash a pcall caught and the script raised again (error(e, 0),
   * or error(e) with its position before): the crash it was. */
  if (sc && sc->raised && sc->crash[0] && msg) {
    size_t n = strlen(msg), c = sc->crash_len;
    if (n >= c && strncmp(msg + n - c, sc->crash, sizeof sc->crash - 1) == 0)
      sc->raised = 0;
  }
  /* error("") or error(" ") says nothing either: a caller got 422 with
   * "recoup.lua:4: " or "" for its message. */
  if (sc && sc->raised && blank_refusal(L, msg, &where)) {
    sc->raised = 0;
    lua_pushlstring(L, msg, where);
    lua_pushliteral(L, "(error with no text)");
    lua_concat(L, 2);
    msg = lua_tostring(L, -1);
  }
  luaL_traceback(L, L, msg, 1); /* msg traceback */
  return 1;
}

int script_pcall(script *sc, int nargs, int nresults, rc_error *err,
                 char **traceback) {
  lua_State *L = sc->L;
  int base = lua_gettop(L) - nargs, status, spent;
  sc->next_known = 0; /* Lua may change a workflow's tables */
  lua_pushcfunction(L, msgh); /* fn args msgh */
  lua_insert(L, base);        /* msgh fn args */
  if (sc->depth++ == 0) {
    sandbox_begin(sc);
    sc->crash[0] = '\0';
    sc->crash_len = 0;
  }
  sc->raised = 0;
  status = lua_pcall(L, nargs, nresults, base);
  spent = sc->spent;
  if (--sc->depth == 0) sandbox_end(sc);
  lua_remove(L, base); /* results */
  if (traceback) *traceback = NULL;
  if (status == LUA_OK) return RC_OK;
  {
    const char *full = lua_tostring(L, -1);
    char first[1024];
    size_t n;
    if (status == LUA_ERRMEM || !full) {
      rc_error_clear(err);
      rc_error_set(err, RC_ESCRIPT, "memory",
                   "memory limit exceeded (%zu bytes per Lua state)",
                   sc->mem_limit);
      if (traceback) *traceback = strdup(err->message);
    } else {
      n = strcspn(full, "\n");
      /* Cut where a character begins: a message cut inside one is not
       * UTF-8, and its HTTP answer lost every word of it. */
      if (n >= sizeof first) {
        n = sizeof first - 1;
        while (n > 0 && ((unsigned char)full[n] & 0xC0) == 0x80) n--;
      }
      memcpy(first, full, n);
      first[n] = '\0';
      utf8_mend(first);
      /* The script's own error("...") refuses what asked (an HTTP
       * caller gets 422 with its words); anything else is the script
       * failing (500). A spent limit is never a refusal (below). */
      script_error_from_message(
          first,
          status == LUA_ERRRUN && sc->raised && !spent ? RC_EINVAL : RC_ESCRIPT,
          err);
      /* Keep "file:line: message" as the message a user sees. */
      snprintf(err->message, sizeof err->message, "%s", first);
      if (traceback && (*traceback = strdup(full)) != NULL)
        utf8_mend(*traceback);
    }
    /* Why, for the journal: a spent budget or deadline is the reason
     * whatever a script's pcall or __close made of the message. */
    if (spent) {
      const char *what = spent == SPENT_DEADLINE ? "deadline" : "budget";
      rc_copy(err->field, sizeof err->field, what);
      if (!strstr(err->message, "exceeded"))
        snprintf(err->message, sizeof err->message,
                 spent == SPENT_DEADLINE ? "handler deadline exceeded"
                                         : "instruction budget exceeded");
    }
    lua_pop(L, 1);
  }
  /* A memory error leaves garbage worth reclaiming before the next case. */
  lua_gc(L, LUA_GCCOLLECT);
  return RC_ESCRIPT;
}

/* --- the allow-list --------------------------------------------------- */

static int l_load(lua_State *L) {
  /* load(chunk [, chunkname [, mode [, env]]]) with mode forced to text:
   * bytecode can crash the VM, so it never reaches it. */
  size_t len;
  const char *chunk = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "=(load)");
  int env = !lua_isnone(L, 4) ? 4 : 0;
  if (luaL_loadbufferx(L, chunk, len, name, "t") != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2; /* fail msg */
  }
  if (env) {
    lua_pushvalue(L, env);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

static int valid_module_name(const char *name) {
  if (!*name || *name == '.') return 0;
  for (const char *p = name; *p; p++) {
    if (!(isalnum((unsigned char)*p) || *p == '_' || *p == '-' ||
          (*p == '.' && p[1] != '.' && p[1] != '\0')))
      return 0;
  }
  return 1;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long size;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
      fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1))) {
    *len = fread(buf, 1, (size_t)size, f);
    buf[*len] = '\0';
  }
  fclose(f);
  return buf;
}

/* Loads the file at path as a text chunk named after the path. */
static int load_script_file(lua_State *L, const char *path) {
  size_t len = 0;
  char *buf = read_file(path, &len);
  int status;
  if (!buf) {
    lua_pushfstring(L, "cannot read %s", path);
    return LUA_ERRFILE;
  }
  lua_pushfstring(L, "@%s", path); /* chunkname */
  status = luaL_loadbufferx(L, buf, len, lua_tostring(L, -1), "t");
  if (status == LUA_ERRSYNTAX) lua_syntax_hint(L, buf, len);
  free(buf);
  lua_remove(L, -2); /* chunk-or-error */
  return status;
}

/* require resolves inside the institution directory, then scripts/: a
 * script cannot read anything else on the machine. */
static int l_require(lua_State *L) {
  script *sc = script_of(L);
  const char *name = luaL_checkstring(L, 1);
  char rel[256], path[PATH_MAX + 300], chunk[PATH_MAX + 300] = "";
  const char *roots[2];
  int found = 0;

  if (!valid_module_name(name) || strlen(name) >= sizeof rel - 5)
    return luaL_error(L,
                      "require: module name '%s' is not allowed "
                      "(letters, digits, _ and dots only)",
                      name);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_LOADED); /* loaded */
  if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
  lua_pop(L, 1); /* loaded */

  snprintf(rel, sizeof rel, "%s", name);
  for (char *p = rel; *p; p++)
    if (*p == '.') *p = '/';
  roots[0] = sc->cfg.dir;
  roots[1] = script_shipped_dir();
  for (int i = 0; i < 2 && !found; i++) {
    FILE *f;
    snprintf(path, sizeof path, "%s/%s.lua", roots[i], rel);
    if ((f = fopen(path, "rb")) != NULL) {
      fclose(f);
      found = 1;
    }
  }
  if (!found) {
    /* recoup's own scripts/ is the build's source tree: an installed
     * binary whose clone was removed, or sits in a home the service's
     * user cannot read (/root, and systemd's ProtectHome hides every
     * home), finds no reference workflow, and the lender read only "not
     * found" for the `require "standard"` the examples start from. */
    if (access(roots[1], R_OK | X_OK) != 0)
      return luaL_error(L,
                        "require: module '%s' not found in %s or %s "
                        "(recoup's own scripts, the build's scripts/ folder "
                        "unless RECOUP_SCRIPTS names another, cannot be read "
                        "here: %s): copy %s.lua from recoup's scripts/ into "
                        "%s, or set RECOUP_SCRIPTS to a copy of that folder "
                        "(docs/operations.md, \"Install\")",
                        name, roots[0], roots[1], strerror(errno), rel,
                        roots[0]);
    return luaL_error(L, "require: module '%s' not found in %s or %s", name,
                      roots[0], roots[1]);
  }
  if (load_script_file(L, path) != LUA_OK) {
    if (!sc->loading) return lua_error(L);
    /* While loading, report and carry on so `recoup check` lists every
     * broken file, not only the first. */
    {
      rc_error err;
      script_error_from_message(lua_tostring(L, -1), RC_EINVAL, &err);
      rc_errlist_add(sc->errors, &err);
    }
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_FAILED);
  } else {
    lua_Debug ar;
    lua_pushvalue(L, -1);
    if (lua_getinfo(L, ">S", &ar) && ar.source[0] == '@')
      snprintf(chunk, sizeof chunk, "%s", ar.source + 1);
    lua_pushstring(L, name); /* chunk name */
    if (sc->loading) {
      if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        rc_error err;
        script_error_from_message(lua_tostring(L, -1), RC_EINVAL, &err);
        rc_errlist_add(sc->errors, &err);
        lua_pop(L, 1);
        lua_getfield(L, LUA_REGISTRYINDEX, REG_FAILED);
      }
    } else {
      lua_call(L, 1, 1);
    }
  }
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  if (lua_istable(L, -1)) { /* which file a table came from, for check */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_SOURCES); /* value sources */
    lua_pushvalue(L, -2);
    lua_pushstring(L, chunk[0] ? chunk : path);
    lua_settable(L, -3);
    lua_pop(L, 1);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, REG_LOADED); /* value loaded */
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1); /* value */
  return 1;
}

/* os.time, os.date and os.clock read the runtime's clock, so a simulated
 * month in `recoup test` is a month to the script too. */
static int l_os_time(lua_State *L) {
  script *sc = script_of(L);
  if (lua_isnoneornil(L, 1)) {
    lua_pushinteger(L, clock_now(sc->clock) / 1000);
    return 1;
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  {
    rc_date d;
    int h, mi, s;
    lua_getfield(L, 1, "year");
    lua_getfield(L, 1, "month");
    lua_getfield(L, 1, "day");
    lua_getfield(L, 1, "hour");
    lua_getfield(L, 1, "min");
    lua_getfield(L, 1, "sec");
    d.year = (int)luaL_checkinteger(L, -6);
    d.month = (int)luaL_checkinteger(L, -5);
    d.day = (int)luaL_checkinteger(L, -4);
    h = (int)luaL_optinteger(L, -3, 12);
    mi = (int)luaL_optinteger(L, -2, 0);
    s = (int)luaL_optinteger(L, -1, 0);
    /* ICU is lenient: month 13 or day 0 roll over, as os.time does. */
    lua_pushinteger(L,
                    clock_zone_time(clock_zone(sc->clock), d, h, mi, s) / 1000);
    return 1;
  }
}

/* os.date's conversions: C99 strftime's, with the E and O modifiers. */
static const char *date_conversion(const char *p, char *spec) {
  static const char single[] = "aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyY%";
  if (*p && strchr(single, *p)) {
    spec[1] = *p;
    spec[2] = '\0';
    return p + 1;
  }
  if ((*p == 'E' && p[1] && strchr("cCxXyY", p[1])) ||
      (*p == 'O' && p[1] && strchr("deHImMSuUVwWy", p[1]))) {
    spec[1] = p[0];
    spec[2] = p[1];
    spec[3] = '\0';
    return p + 2;
  }
  return NULL;
}

/* os.date(format, time): Lua's, in the institution's zone: %z is its
 * offset at that time and %Z its name (IANA), not the machine's. Times
 * outside years 1 to 9999 are an error, not an overflow. */
static int l_os_date(lua_State *L) {
  script *sc = script_of(L);
  size_t flen;
  const char *fmt = luaL_optlstring(L, 1, "%c", &flen), *end = fmt + flen;
  rc_zone *zone = clock_zone(sc->clock);
  rc_time t = clock_now(sc->clock);
  int64_t offset = 0;
  struct tm tm;
  time_t secs;
  luaL_Buffer b;
  int utc = *fmt == '!';
  if (!lua_isnoneornil(L, 2)) {
    lua_Integer s = luaL_checkinteger(L, 2);
    if (s < -62135596800LL || s > 253402300799LL)
      return luaL_error(L, "os.date: time out of range (years 1 to 9999)");
    t = (rc_time)s * 1000;
  }
  sandbox_charge(L, (int64_t)flen);
  if (utc) fmt++;
  if (!utc) offset = clock_zone_offset_ms(zone, t);
  secs = (time_t)((t + offset) / 1000 - ((t + offset) % 1000 < 0));
  if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 1 ||
      tm.tm_year + 1900 > 9999)
    return luaL_error(L, "os.date: time out of range (years 1 to 9999)");
  if (strcmp(fmt, "*t") == 0) {
    lua_createtable(L, 0, 9);
    lua_pushinteger(L, tm.tm_year + 1900);
    lua_setfield(L, -2, "year");
    lua_pushinteger(L, tm.tm_mon + 1);
    lua_setfield(L, -2, "month");
    lua_pushinteger(L, tm.tm_mday);
    lua_setfield(L, -2, "day");
    lua_pushinteger(L, tm.tm_hour);
    lua_setfield(L, -2, "hour");
    lua_pushinteger(L, tm.tm_min);
    lua_setfield(L, -2, "min");
    lua_pushinteger(L, tm.tm_sec);
    lua_setfield(L, -2, "sec");
    lua_pushinteger(L, tm.tm_wday + 1);
    lua_setfield(L, -2, "wday");
    lua_pushinteger(L, tm.tm_yday + 1);
    lua_setfield(L, -2, "yday");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "isdst");
    return 1;
  }
  luaL_buffinit(L, &b);
  while (fmt < end) {
    char spec[4] = "%", out[256];
    if (*fmt != '%') {
      luaL_addchar(&b, *fmt++);
      continue;
    }
    fmt++;
    if (fmt < end && (*fmt == 'z' || *fmt == 'Z')) {
      if (*fmt == 'Z') {
        luaL_addstring(&b, utc ? "UTC" : clock_zone_name(zone));
      } else {
        int64_t m = (offset < 0 ? -offset : offset) / 60000;
        snprintf(out, sizeof out, "%c%02d%02d", offset < 0 ? '-' : '+',
                 (int)(m / 60), (int)(m % 60));
        luaL_addstring(&b, out);
      }
      fmt++;
      continue;
    }
    if (!(fmt = date_conversion(fmt, spec)))
      return luaL_error(L, "os.date: invalid conversion specifier in '%s'",
                        lua_tostring(L, 1));
    luaL_addlstring(&b, out, strftime(out, sizeof out, spec, &tm));
  }
  luaL_pushresult(&b);
  return 1;
}

static int l_os_clock(lua_State *L) {
  lua_pushnumber(L, (double)clock_now(script_of(L)->clock) / 1000.0);
  return 1;
}

/* assert(v [, message]) as the base library's, but one that carries a
 * message raises it through error() (upvalue 1, the base library's), as
 * error(message, 2) would: scripts check their input with it, so its
 * words are the script's own refusal (msgh). assert(v) without a message
 * is the script failing. */
static int l_assert(lua_State *L) {
  if (lua_toboolean(L, 1)) return lua_gettop(L);
  luaL_checkany(L, 1);
  if (lua_isnoneornil(L, 2)) return luaL_error(L, "assertion failed!");
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 2);
  lua_pushinteger(L, 2); /* the place of assert's caller */
  lua_call(L, 2, 0);
  return 0;
}

static void open_sandbox(lua_State *L) {
  static const char *const removed[] = {"dofile", "loadfile", "collectgarbage",
                                        NULL};
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  lua_pop(L, 5);
  lua_pushglobaltable(L); /* G */
  for (int i = 0; removed[i]; i++) {
    lua_pushnil(L);
    lua_setfield(L, -2, removed[i]);
  }
  lua_pushcfunction(L, l_load);
  lua_setfield(L, -2, "load");
  lua_pushcfunction(L, l_require);
  lua_setfield(L, -2, "require");
  lua_getfield(L, -1, "error");
  lua_pushcclosure(L, l_assert, 1);
  lua_setfield(L, -2, "assert");
  lua_createtable(L, 0, 3); /* G os */
  lua_pushcfunction(L, l_os_time);
  lua_setfield(L, -2, "time");
  lua_pushcfunction(L, l_os_date);
  lua_setfield(L, -2, "date");
  lua_pushcfunction(L, l_os_clock);
  lua_setfield(L, -2, "clock");
  lua_setfield(L, -2, "os");
  lua_getfield(L, -1, "string"); /* G string */
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 2);
}

const char *const script_key_text[SK_COUNT] = {
    [SK_STATES] = "states",
    [SK_ON] = "on",
    [SK_ENTER] = "enter",
    [SK_FINAL] = "final",
    [SK_OUTCOME] = "outcome",
    [SK_PRIORITY] = "priority",
    [SK_TRANSITIONS] = "transitions",
    [SK_THIRD_PARTY] = "third_party",
    [SK_LEGAL_NOTICE] = "legal_notice",
    [SK_JSON] = "json"};

static int load(script **out, const char *dir, rc_errlist *errors,
                rc_errlist *findings) {
  script *sc = calloc(1, sizeof *sc);
  lua_State *L;
  char path[PATH_MAX + 32];
  int before = errors->count;
  rc_error err;

  *out = NULL;
  if (!sc) return RC_ENOMEM;
  snprintf(sc->cfg.dir, sizeof sc->cfg.dir, "%s", dir && *dir ? dir : ".");
  sc->mem_limit = 256u << 20;
  sc->budget = 10000000;
  sc->cfg.memory_limit = sc->mem_limit;
  sc->cfg.instruction_budget = sc->budget;
  sc->cfg.body_limit = 1u << 20;
  sc->cfg.idle_timeout_ms = 30000;
  sc->cfg.request_timeout_ms = 10000;
  sc->cfg.handler_deadline_ms = 10000;
  sc->cfg.max_connections = 1024;
  sc->cfg.header_timeout_ms = 10000;
  sc->cfg.max_per_address = 256;
  sc->cfg.session_idle_ms = 3600000;      /* an hour away from the desk */
  sc->cfg.session_lifetime_ms = 43200000; /* a shift: 12 hours */
  snprintf(sc->cfg.listen, sizeof sc->cfg.listen, "127.0.0.1:8080");
  snprintf(sc->cfg.db, sizeof sc->cfg.db, "%s/var/recoup.db", sc->cfg.dir);
  snprintf(sc->cfg.backup_to, sizeof sc->cfg.backup_to, "%s/var/backups",
           sc->cfg.dir);
  sc->cfg.backup_keep = 7;
  sc->cfg.log_level = 1;
  snprintf(sc->cfg.locale, sizeof sc->cfg.locale, "en");
  snprintf(sc->cfg.timezone, sizeof sc->cfg.timezone, "UTC");
  sc->errors = errors;
  sc->findings = findings;
  sc->loading = 1;
  sc->clock = clock_new("UTC", &err);
  sc->owns_clock = 1;
  L = sc->L = lua_newstate(limited_alloc, sc);
  if (!L || !sc->clock) {
    script_free(sc);
    return RC_ENOMEM;
  }
  lua_pushboolean(L, 0);
  sc->wf_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushboolean(L, 0);
  sc->handler_case_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  for (int k = 0; k < SK_COUNT; k++) {
    sc->key_text[k] = lua_pushstring(L, script_key_text[k]);
    sc->key_ref[k] = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_LOADED);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_FAILED);
  open_sandbox(L);
  lua_getglobal(L, "error");
  sc->error_fn = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  institution_open(L);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_TEMPLATES); /* never replaced */
  sc->templates_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lcase_open(L);
  sandbox_open(L);

  snprintf(path, sizeof path, "%s/recoup.lua", sc->cfg.dir);
  if (load_script_file(L, path) != LUA_OK) {
    int missing = access(path, F_OK) != 0 && errno == ENOENT;
    script_error_from_message(lua_tostring(L, -1), RC_EINVAL, &err);
    if (!err.file[0]) snprintf(err.file, sizeof err.file, "%s", path);
    /* The usual cause is a command run from another folder than the
     * institution's, with no DIR given: say what DIR is. */
    if (missing)
      snprintf(err.message, sizeof err.message,
               "cannot read %s: there is no such file; DIR, after the "
               "command, is the institution's directory, the one holding "
               "recoup.lua (the current directory when none is given), "
               "as in recoup check examples/microfinance",
               path);
    rc_errlist_add(errors, &err);
    lua_pop(L, 1);
  } else {
    char *tb = NULL;
    script_set_budget(sc, sc->budget * 10); /* loading builds big tables */
    if (script_pcall(sc, 0, 0, &err, &tb) != RC_OK) {
      char msg[sizeof err.message];
      snprintf(msg, sizeof msg, "%s", err.message);
      script_error_from_message(msg, RC_EINVAL, &err);
      rc_errlist_add(errors, &err);
    }
    free(tb);
    institution_finish(sc);
  }
  sc->loading = 0;
  sc->errors = NULL;
  sc->findings = NULL;
  script_set_budget(sc, sc->cfg.instruction_budget);
  sc->mem_limit = sc->cfg.memory_limit;
  if (sc->mem_limit < sc->mem_used + (1u << 20))
    sc->mem_limit = sc->mem_used + (1u << 20);
  if (errors->count > before) {
    script_free(sc);
    return RC_EINVAL;
  }
  /* Handlers read the institution's own zone from now on. */
  clock_free(sc->clock);
  sc->clock = clock_new(sc->cfg.timezone, &err);
  if (!sc->clock) {
    rc_errlist_add(errors, &err);
    script_free(sc);
    return RC_EINVAL;
  }
  sc->deadline_ms = sc->cfg.handler_deadline_ms;
  sandbox_lock_globals(L);
  *out = sc;
  return RC_OK;
}

int script_load(script **out, const char *dir, rc_errlist *errors) {
  return load(out, dir, errors, NULL);
}

int script_load_findings(script **out, const char *dir, rc_errlist *errors,
                         rc_errlist *findings) {
  return load(out, dir, errors, findings);
}

void script_free(script *sc) {
  if (!sc) return;
  if (sc->L) lua_close(sc->L);
  pool_free(sc);
  if (sc->owns_clock) clock_free(sc->clock);
  for (int i = 0; i < sc->nplans; i++) free(sc->plans[i].plan);
  free(sc);
}

static int by_text(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int script_task_queues(script *sc, const char **names, int max,
                       const char **unseen_at) {
  lua_State *L = sc->L;
  int n = 0;
  *unseen_at = NULL;
  if (lua_getfield(L, LUA_REGISTRYINDEX, REG_TASK_QUEUE_AT) == LUA_TSTRING)
    *unseen_at = lua_tostring(L, -1); /* kept by the registry */
  lua_pop(L, 1);
  if (lua_getfield(L, LUA_REGISTRYINDEX, REG_TASK_QUEUES) != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushnil(L);           /* queues nil */
  while (lua_next(L, -2)) { /* queues name true */
    if (lua_type(L, -2) == LUA_TSTRING && n < max)
      names[n++] = lua_tostring(L, -2); /* kept by the table */
    lua_pop(L, 1);                      /* queues name */
  }
  lua_pop(L, 1);
  qsort(names, (size_t)n, sizeof *names, by_text);
  return n;
}

void script_use_clock(script *sc, rc_clock *clk) {
  if (sc->owns_clock) clock_free(sc->clock);
  sc->clock = clk;
  sc->owns_clock = 0;
}

const channel_config *script_channel(const script *sc, const char *name) {
  for (int i = 0; i < sc->cfg.nchannels; i++)
    if (strcmp(sc->cfg.channels[i].name, name) == 0)
      return &sc->cfg.channels[i];
  return NULL;
}

int script_template_legal(script *sc, const char *name) {
  lua_State *L = sc->L;
  int legal = 0;
  /* Raw reads: nothing of the institution's runs outside a handler. */
  lua_rawgeti(L, LUA_REGISTRYINDEX, sc->templates_ref); /* templates */
  lua_pushstring(L, name);                              /* templates name */
  if (lua_rawget(L, -2) == LUA_TTABLE) {                /* templates t */
    lua_rawgeti(L, LUA_REGISTRYINDEX, sc->key_ref[SK_LEGAL_NOTICE]);
    lua_rawget(L, -2); /* templates t legal */
    legal = lua_toboolean(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 2);
  return legal;
}

rc_clock *script_clock(script *sc) {
  return sc->clock;
}

lua_State *script_lua(script *sc) {
  return sc->L;
}

const institution_config *script_config(const script *sc) {
  return &sc->cfg;
}

static int workflow_kept(const script *sc, const char *name, int version) {
  return sc->wf_name[0] && sc->wf_version == version &&
         strcmp(sc->wf_name, name) == 0;
}

/* Pushes registry.workflows[name][version] or nil. Only a workflow found
 * is kept: one registered later (while loading) is found then. */
static int push_workflow(lua_State *L, const char *name, int version) {
  script *sc = script_of(L);
  if (workflow_kept(sc, name, version)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, sc->wf_ref);
    return 1;
  }
  lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOWS); /* wfs */
  if (lua_getfield(L, -1, name) != LUA_TTABLE) {     /* wfs versions */
    lua_pop(L, 2);
    lua_pushnil(L);
    return 0;
  }
  lua_rawgeti(L, -1, version); /* wfs versions wf */
  lua_replace(L, -3);
  lua_pop(L, 1);
  if (!lua_istable(L, -1)) return 0;
  if (strlen(name) < sizeof sc->wf_name) {
    lua_pushvalue(L, -1); /* into the slot script_load made: no memory */
    lua_rawseti(L, LUA_REGISTRYINDEX, sc->wf_ref);
    rc_copy(sc->wf_name, sizeof sc->wf_name, name);
    sc->wf_version = version;
  }
  return 1;
}

int script_has_workflow(script *sc, const char *name, int version) {
  int found;
  if (workflow_kept(sc, name, version)) return 1;
  found = push_workflow(sc->L, name, version);
  lua_pop(sc->L, 1);
  return found;
}

int script_workflow_names(script *sc, const char **names, int max) {
  lua_State *L = sc->L;
  int n = 0;
  lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOWS);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (n < max) names[n++] = lua_tostring(L, -2); /* the registry keeps it */
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

typedef struct migrate_call {
  struct engine *eng;
  const char *case_id, *name;
  int version;
} migrate_call;

static int run_migrate(lua_State *L) {
  const migrate_call *m = lua_touserdata(L, 1);
  push_workflow(L, m->name, m->version);
  if (lua_getfield(L, -1, "migrate") != LUA_TFUNCTION) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lcase_push(L, m->eng, m->case_id);
  lua_call(L, 1, 1);
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
    return luaL_error(L, "migrate returned a %s; return a state name or nil",
                      luaL_typename(L, -1));
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t len;
    const char *to = lua_tolstring(L, -1, &len);
    /* Kept as text, a NUL would cut it: 'call\0x' read as 'call'. */
    if (strlen(to) != len)
      return luaL_error(L,
                        "migrate returned a state name holding a NUL byte "
                        "(at byte %d of %d)",
                        (int)strlen(to) + 1, (int)len);
  }
  return 1;
}

int script_migrate(script *sc, struct engine *eng, const char *case_id,
                   const char *name, char *state, size_t size, rc_error *err) {
  migrate_call m = {eng, case_id, name, 0};
  int rc;
  state[0] = '\0';
  if (script_workflow_latest(sc, name, &m.version) != RC_OK)
    return RC_ENOTFOUND;
  lua_pushcfunction(sc->L, run_migrate);
  lua_pushlightuserdata(sc->L, &m);
  if ((rc = script_pcall(sc, 1, 1, err, NULL)) != RC_OK) return rc;
  rc = lua_isboolean(sc->L, -1) ? RC_ENOTFOUND : RC_OK;
  if (lua_isstring(sc->L, -1))
    snprintf(state, size, "%s", lua_tostring(sc->L, -1));
  lua_pop(sc->L, 1);
  return rc;
}

int script_workflow_latest(script *sc, const char *name, int *version) {
  lua_State *L = sc->L;
  int best = 0;
  lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOWS);
  if (lua_getfield(L, -1, name) == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pop(L, 1);
      if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > best)
        best = (int)lua_tointeger(L, -1);
    }
  }
  lua_pop(L, 2);
  *version = best;
  return best > 0 ? RC_OK : RC_ENOTFOUND;
}

/* What the engine reads of a workflow's tables outside a handler (its
 * initial state, a state's fields, a declared transition) may run the
 * script's own code: a metatable's __index on a table a handler changed
 * at run time (docs/lua.md: the tables a script builds are its own, kept
 * as long as the scripts). An error there, in no protected call, ended
 * the process (Lua's abort(): a service's every case stopped), and an
 * `initial` a handler had set to nil or a table was printed through
 * NULL. Such a read runs as a handler does: protected and budgeted. */
struct wf_read {
  const char *workflow, *a, *b; /* a, b: the state; or from, to */
  int version, found;
  char *out; /* the initial state's name, size bytes */
  size_t size;
  script_state info;
};

static int read_initial(lua_State *L) {
  struct wf_read *r = lua_touserdata(L, 1);
  if (!push_workflow(L, r->workflow, r->version)) return 0;
  if (lua_getfield(L, -1, "initial") != LUA_TSTRING)
    return luaL_error(L,
                      "workflow %s version %d: its initial state is %s, not "
                      "the name of a state",
                      r->workflow, r->version, luaL_typename(L, -1));
  snprintf(r->out, r->size, "%s", lua_tostring(L, -1));
  r->found = 1;
  return 0;
}

int script_workflow_initial(script *sc, const char *name, int version,
                            char *state, size_t size, rc_error *err) {
  struct wf_read r = {
      .workflow = name, .version = version, .out = state, .size = size};
  int rc;
  if (size) state[0] = '\0';
  lua_pushcfunction(sc->L, read_initial);
  lua_pushlightuserdata(sc->L, &r);
  if ((rc = script_pcall(sc, 1, 0, err, NULL)) != RC_OK) return rc;
  return r.found ? RC_OK
                 : rc_error_set(err, RC_ENOTFOUND, "workflow",
                                "workflow %s version %d is not loaded", name,
                                version);
}

enum { STATE_WALK_MAX = 16 }; /* keys of a state walked, not asked */

/* What the engine needs of the state table at st. */
static script_state state_info_at(lua_State *L, const script *sc, int st) {
  script_state info = {1, 0, "", 0, 0};
  int keys = 0;
  st = lua_absindex(L, st);
  /* One walk over a state's few keys, each matched by the address of its
   * interned text, costs less than four look-ups (0.4k instructions a
   * reminder step). A state with a metatable may inherit through
   * __index, and one with many keys would be walked uncharged: those
   * are asked key by key. */
  if (!lua_getmetatable(L, st)) {
    lua_pushnil(L);
    while (lua_next(L, st)) { /* ... key value */
      if (++keys > STATE_WALK_MAX) {
        lua_pop(L, 2);
        info = (script_state){1, 0, "", 0, 0};
        goto ask;
      }
      const char *k =
          lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      if (k == sc->key_text[SK_FINAL]) {
        info.final = lua_toboolean(L, -1);
      } else if (k == sc->key_text[SK_OUTCOME]) {
        if (lua_isstring(L, -1)) /* a copy of the value: the key stays */
          rc_copy(info.outcome, sizeof info.outcome, lua_tostring(L, -1));
      } else if (k == sc->key_text[SK_PRIORITY]) {
        if (lua_type(L, -1) == LUA_TNUMBER) info.priority = lua_tonumber(L, -1);
      } else if (k == sc->key_text[SK_ENTER]) {
        info.has_enter = lua_isfunction(L, -1);
      }
      lua_pop(L, 1);
    }
    return info;
  }
  lua_pop(L, 1);
ask:
  script_getkey(L, sc, st, SK_FINAL);
  info.final = lua_toboolean(L, -1);
  script_getkey(L, sc, st, SK_OUTCOME);
  if (lua_isstring(L, -1))
    rc_copy(info.outcome, sizeof info.outcome, lua_tostring(L, -1));
  if (script_getkey(L, sc, st, SK_PRIORITY) == LUA_TNUMBER)
    info.priority = lua_tonumber(L, -1);
  script_getkey(L, sc, st, SK_ENTER);
  info.has_enter = lua_isfunction(L, -1);
  lua_pop(L, 4);
  return info;
}

static void state_info_of(lua_State *L, struct wf_read *r) {
  const script *sc = script_of(L);
  int top = lua_gettop(L);
  if (push_workflow(L, r->workflow, r->version)) {
    script_getkey(L, sc, -1, SK_STATES);
    if (lua_getfield(L, -1, r->a) == LUA_TTABLE)
      r->info = state_info_at(L, sc, lua_gettop(L));
  }
  lua_settop(L, top);
}

static int read_state_info(lua_State *L) {
  state_info_of(L, lua_touserdata(L, 1));
  return 0;
}

/* In a handler too (a task's priority, read while case:task runs): a
 * metamethod's error there, left to the handler's own protected call,
 * unwound across the engine's and the binding's C frames, which hold
 * what they allocated (case:task's fields as JSON: lost at each such
 * event). Read protected, the error comes back as an error code and the
 * binding raises it once its frame is clean. */
int script_state_read(script *sc, const char *workflow, int version,
                      const char *state, script_state *info, rc_error *err) {
  lua_State *L = sc->L;
  struct wf_read r = {.workflow = workflow,
                      .version = version,
                      .a = state,
                      .info = {0, 0, "", 0, 0}};
  int rc;
  *info = r.info;
  if (sc->next_known) {
    sc->next_known = 0;
    if (sc->next_version == version && !strcmp(sc->next_wf, workflow) &&
        !strcmp(sc->next_state, state)) {
      *info = sc->next_info;
      return RC_OK;
    }
  }
  lua_pushcfunction(L, read_state_info);
  lua_pushlightuserdata(L, &r);
  if ((rc = script_pcall(sc, 1, 0, err, NULL)) != RC_OK) return rc;
  *info = r.info;
  return RC_OK;
}

script_state script_state_info(script *sc, const char *workflow, int version,
                               const char *state) {
  script_state info;
  rc_error err;
  /* One that fails is no state the engine can go to: a handler's return
   * of it fails (transition). */
  script_state_read(sc, workflow, version, state, &info, &err);
  return info;
}

/* Whether the state named at from (a Lua string) -> to is declared in
 * the list of the transitions table at tr: each name of the list is
 * compared by its address first (a short string is interned: the same
 * address is the same text), and the length of a list without a
 * metatable is its raw one (luaL_len was a quarter of the check). */
static int transition_listed(lua_State *L, int tr, int from, const char *to) {
  int ok = 0;
  lua_pushvalue(L, from);
  if (lua_gettable(L, tr) == LUA_TTABLE) { /* ... list */
    lua_Integer n;
    if (lua_getmetatable(L, -1)) {
      lua_pop(L, 1);
      n = luaL_len(L, -1);
    } else {
      n = (lua_Integer)lua_rawlen(L, -1);
    }
    for (lua_Integer i = 1; i <= n && !ok; i++) {
      const char *name;
      lua_rawgeti(L, -1, i);
      name = lua_isstring(L, -1) ? lua_tostring(L, -1) : NULL;
      ok = name && (name == to || strcmp(name, to) == 0);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return ok;
}

/* Whether from -> to is declared in the workflow table at wf. */
static int transition_declared(lua_State *L, const script *sc, int wf,
                               const char *from, const char *to) {
  int ok;
  wf = lua_absindex(L, wf);
  script_getkey(L, sc, wf, SK_TRANSITIONS);
  lua_pushstring(L, from);
  ok = transition_listed(L, lua_gettop(L) - 1, lua_gettop(L), to);
  lua_pop(L, 2);
  return ok;
}

static int read_transition(lua_State *L) {
  struct wf_read *r = lua_touserdata(L, 1);
  if (push_workflow(L, r->workflow, r->version))
    r->found = transition_declared(L, script_of(L), lua_gettop(L), r->a, r->b);
  return 0;
}

int script_transition_allowed(script *sc, const char *workflow, int version,
                              const char *from, const char *to) {
  struct wf_read r = {
      .workflow = workflow, .version = version, .a = from, .b = to};
  rc_error err;
  lua_pushcfunction(sc->L, read_transition);
  lua_pushlightuserdata(sc->L, &r);
  /* One that fails is not declared. */
  return script_pcall(sc, 1, 0, &err, NULL) == RC_OK && r.found;
}

/* A workflow's task declarations, read as wf_read says (a task done over
 * HTTP is checked outside any handler). */
struct task_read {
  void (*read)(lua_State *L, struct task_read *r);
  const char *workflow, *kind, *currency;
  int version, rc, *conversation;
  script_task_kind *info;
  json_t *body, *outcomes;
  rc_error *err;
};

static int task_read_protected(lua_State *L) {
  struct task_read *r = lua_touserdata(L, 1);
  r->read(L, r);
  return 0;
}

/* Runs r->read protected, in a handler too (see script_state_read). */
static int task_read_run(script *sc, struct task_read *r, rc_error *err) {
  lua_pushcfunction(sc->L, task_read_protected);
  lua_pushlightuserdata(sc->L, r);
  return script_pcall(sc, 1, 0, err, NULL);
}

static void read_task_kind(lua_State *L, struct task_read *r) {
  if (push_workflow(L, r->workflow, r->version))
    r->rc = task_decl_kind(L, lua_gettop(L), r->kind, r->info);
}

int script_task_kind_info(script *sc, const char *workflow, int version,
                          const char *kind, script_task_kind *out,
                          rc_error *err) {
  struct task_read r = {.read = read_task_kind,
                        .workflow = workflow,
                        .kind = kind,
                        .version = version,
                        .rc = RC_ENOTFOUND,
                        .info = out};
  rc_error ignored;
  memset(out, 0, sizeof *out);
  if (task_read_run(sc, &r, err ? err : &ignored) != RC_OK) {
    memset(out, 0, sizeof *out);
    return RC_ESCRIPT; /* none the core can read */
  }
  return r.rc;
}

static void read_task_outcomes(lua_State *L, struct task_read *r) {
  if (push_workflow(L, r->workflow, r->version))
    r->outcomes = task_decl_outcomes(L, lua_gettop(L), r->kind);
}

json_t *script_task_outcomes(script *sc, const char *workflow, int version,
                             const char *kind) {
  struct task_read r = {.read = read_task_outcomes,
                        .workflow = workflow,
                        .kind = kind,
                        .version = version};
  rc_error err;
  if (task_read_run(sc, &r, &err) != RC_OK) {
    json_decref(r.outcomes);
    return NULL;
  }
  return r.outcomes;
}

static void read_task_check(lua_State *L, struct task_read *r) {
  if (!push_workflow(L, r->workflow, r->version)) {
    r->rc = rc_error_set(r->err, RC_EINVAL, NULL,
                         "workflow %s version %d is not loaded", r->workflow,
                         r->version);
    return;
  }
  r->rc = task_decl_check(L, lua_gettop(L), script_of(L)->clock, r->kind,
                          r->currency, r->body, r->conversation, r->err);
}

int script_task_check(script *sc, const char *workflow, int version,
                      const char *kind, const char *currency, json_t *body,
                      int *conversation, rc_error *err) {
  struct task_read r = {.read = read_task_check,
                        .workflow = workflow,
                        .kind = kind,
                        .currency = currency,
                        .version = version,
                        .conversation = conversation,
                        .body = body,
                        .err = err};
  int rc;
  *conversation = 0;
  if ((rc = task_read_run(sc, &r, err)) != RC_OK) return rc;
  return r.rc;
}

/* Raises "file:line: handler for 'event' in state 's' <what>" at the
 * handler's own definition: once it has returned, that is the only place
 * left to point at. */
static int handler_error(lua_State *L, int fn, const script_call *call,
                         const char *fmt, ...) {
  lua_Debug ar;
  va_list ap;
  char what[600];
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  lua_pushvalue(L, fn);
  if (lua_getinfo(L, ">S", &ar) && ar.source[0] == '@')
    return luaL_error(L, "%s:%d: handler for '%s' in state '%s' %s",
                      ar.source + 1, ar.linedefined,
                      call->event ? call->event : "enter", call->state, what);
  return luaL_error(L, "handler for '%s' in state '%s' %s",
                    call->event ? call->event : "enter", call->state, what);
}

/* " (did you mean 'x'?)" for the state in the table at st nearest to name. */
static const char *state_hint(lua_State *L, int st, const char *name) {
  char buf[128];
  check_nearest_key(L, st, name, buf, sizeof buf);
  return lua_pushstring(L, buf); /* left on the stack until the error */
}

/* Whether the function at fn can see a second argument: a Lua function
 * with two parameters or more, or taking `...`; a C function always. */
static int takes_event(lua_State *L, int fn) {
  lua_Debug ar;
  script *sc = script_of(L);
  const void *p = lua_topointer(L, fn);
  int takes;
  /* A function's parameters never change: read once (lua_getinfo was a
   * twentieth of a handler call's own cost). */
  if (sc)
    for (int i = 0; i < sc->ntakers; i++)
      if (sc->takers[i].fn == p) return sc->takers[i].takes;
  lua_pushvalue(L, fn);
  takes = !lua_getinfo(L, ">u", &ar) || ar.isvararg || ar.nparams >= 2;
  if (sc && sc->ntakers < SCRIPT_TAKERS) {
    lua_pushvalue(L, fn); /* kept: its address is never another's */
    luaL_ref(L, LUA_REGISTRYINDEX);
    sc->takers[sc->ntakers].fn = p;
    sc->takers[sc->ntakers++].takes = takes;
  }
  return takes;
}

/* The body of a handler call, under lua_pcall: everything that can raise
 * (pushing tables, the handler itself) is protected. */
static int run_handler(lua_State *L) {
  const script_call *call = lua_touserdata(L, 1);
  script *sc = script_of(L);
  int wf, fn;
  if (!push_workflow(L, call->workflow, call->version))
    return luaL_error(L, "workflow %s version %d is not loaded", call->workflow,
                      call->version);
  wf = lua_gettop(L);
  script_getkey(L, sc, wf, SK_STATES);
  /* The state's name, interned once: its transitions are read by it. */
  lua_pushstring(L, call->state);
  lua_pushvalue(L, -1);
  lua_gettable(L, wf + 1); /* wf states name state */
  if (!lua_istable(L, -1))
    return luaL_error(L, "state '%s' is not in workflow %s version %d",
                      call->state, call->workflow, call->version);
  if (!call->event) {
    script_getkey(L, sc, -1, SK_ENTER);
  } else {
    lua_pushnil(L);
    if (script_getkey(L, sc, -2, SK_ON) == LUA_TTABLE) { /* ... nil on */
      lua_getfield(L, -1, call->event);
      lua_replace(L, -3);
    }
    lua_pop(L, 1);
    if (lua_isnil(L, -1) && script_getkey(L, sc, wf, SK_ON) == LUA_TTABLE) {
      lua_getfield(L, -1, call->event); /* ... nil on fn */
      lua_replace(L, -3);
    }
    lua_settop(L, wf + 4);
  }
  if (!lua_isfunction(L, -1)) {
    lua_pushboolean(L, 0); /* no handler */
    return 1;
  }
  fn = lua_gettop(L);
  lcase_push(L, call->eng, call->case_id);
  lua_pushvalue(L, -1); /* recoup.money and recoup.date read its borrower */
  lua_rawseti(L, LUA_REGISTRYINDEX, sc->handler_case_ref);
  if (!takes_event(L, fn)) {
    /* function(case): the event would be dropped at the call, unread
     * (scripts have no debug library to find it there). Building it was
     * a table, two strings and a formatted time a step. */
    lua_pushnil(L);
  } else {
    char at[40];
    if (call->event_json)
      ljson_push_text(L, call->event_json);
    else
      lua_createtable(L, 0, 2); /* room for type and at: no rehash */
    lua_pushstring(L, call->event ? call->event : "enter");
    lua_setfield(L, -2, "type");
    clock_zone_format(clock_zone(engine_clock(call->eng)), call->at, at,
                      sizeof at);
    lua_pushstring(L, at);
    lua_setfield(L, -2, "at");
  }
  lua_pushvalue(L, fn);
  lua_insert(L, -3); /* fn case ev: the function stays for its location */
  lua_call(L, 2, 1);
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
    return handler_error(L, fn, call,
                         "returned a %s; return a state name or nil",
                         luaL_typename(L, -1));
  if (lua_isstring(L, -1)) {
    size_t len;
    const char *to = lua_tolstring(L, -1, &len);
    script_state info;
    /* Kept as text, a NUL would cut it: 'call\0x' read as 'call', a
     * state of the workflow, and the case moved there. */
    if (strlen(to) != len)
      return handler_error(L, fn, call,
                           "returned a state name holding a NUL byte (at "
                           "byte %d of %d)",
                           (int)strlen(to) + 1, (int)len);
    if (lua_getfield(L, wf + 1, to) != LUA_TTABLE)
      return handler_error(L, fn, call,
                           "returned '%s', which is not a state of workflow "
                           "%s v%d%s",
                           to, call->workflow, call->version,
                           state_hint(L, wf + 1, to));
    info = state_info_at(L, sc, lua_gettop(L));
    lua_pop(L, 1);
    if (strcmp(to, call->state) != 0) {
      int listed;
      script_getkey(L, sc, wf, SK_TRANSITIONS);
      listed = transition_listed(L, lua_gettop(L), wf + 2, to);
      lua_pop(L, 1);
      if (!listed)
        return handler_error(L, fn, call,
                             "returned '%s': transition from '%s' to '%s' is "
                             "not declared in workflow %s v%d (add it to "
                             "transitions.%s)",
                             to, call->state, to, call->workflow, call->version,
                             call->state);
    }
    if (strlen(call->workflow) < sizeof sc->next_wf &&
        strlen(to) < sizeof sc->next_state) {
      sc->next_info = info;
      memcpy(sc->next_wf, call->workflow, strlen(call->workflow) + 1);
      memcpy(sc->next_state, to, strlen(to) + 1);
      sc->next_version = call->version;
      sc->next_known = 1;
    }
  }
  return 1;
}

int script_run_handler(script *sc, const script_call *call, char *next,
                       size_t size, char **traceback, rc_error *err) {
  lua_State *L = sc->L;
  int rc;
  next[0] = '\0';
  lua_pushcfunction(L, run_handler);
  lua_pushlightuserdata(L, (void *)call);
  rc = script_pcall(sc, 1, 1, err, traceback);
  lua_pushboolean(L, 0); /* no case is being handled any more; false, not */
  lua_rawseti(L, LUA_REGISTRYINDEX, sc->handler_case_ref); /* nil: kept */
  if (rc != RC_OK) return rc;
  if (lua_isboolean(L, -1)) {
    lua_pop(L, 1);
    return RC_ENOTFOUND;
  }
  if (lua_isstring(L, -1)) rc_copy(next, size, lua_tostring(L, -1));
  lua_pop(L, 1);
  return RC_OK;
}

static int run_route(lua_State *L) {
  const char *case_json = lua_touserdata(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_ROUTE);
  ljson_push_text(L, case_json);
  lua_call(L, 1, 1);
  if (lua_type(L, -1) != LUA_TSTRING)
    return luaL_error(L, "route() returned a %s; return a workflow name",
                      luaL_typename(L, -1));
  return 1;
}

int script_route(script *sc, const char *case_json, char *workflow, size_t size,
                 rc_error *err) {
  lua_State *L = sc->L;
  int version;
  if (!sc->cfg.has_route) {
    /* One workflow and no route(): every case goes to it. */
    lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOWS);
    lua_pushnil(L);
    if (!lua_next(L, -2)) {
      lua_pop(L, 1);
      return rc_error_set(err, RC_EINVAL, NULL, "no workflow is loaded");
    }
    snprintf(workflow, size, "%s", lua_tostring(L, -2));
    lua_pop(L, 3);
    return RC_OK;
  }
  lua_pushcfunction(L, run_route);
  lua_pushlightuserdata(L, (void *)case_json);
  if (script_pcall(sc, 1, 1, err, NULL) != RC_OK) return RC_ESCRIPT;
  snprintf(workflow, size, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  if (script_workflow_latest(sc, workflow, &version) != RC_OK)
    return rc_error_set(err, RC_EINVAL, "workflow",
                        "route() returned '%s', which is not a workflow",
                        workflow);
  return RC_OK;
}
