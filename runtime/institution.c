/* recoup.lua's vocabulary: institution{}, policy{}, channel "x" {}, service{},
 * tokens{}, templates(), workflow(), route() and recoup.workflow{}.
 *
 * Each function validates what it is given and, rather than stop at the
 * first problem, records every one with the file and line of the call, so
 * `recoup check` can list them all at once. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "script_priv.h"
#include "task_decl.h"

#define ERR(...) script_load_error(L, 1, __VA_ARGS__)

static script *loading_script(lua_State *L, const char *what) {
  script *sc = script_of(L);
  if (!sc->loading) luaL_error(L, "%s belongs in recoup.lua", what);
  return sc;
}

/* Reports keys of the table at idx that are not in allowed. */
static void check_keys(lua_State *L, int idx, const char *const *allowed,
                       const char *what) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int ok = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      for (int i = 0; allowed[i] && !ok; i++)
        ok = strcmp(lua_tostring(L, -1), allowed[i]) == 0;
      if (!ok) ERR("%s: unknown field '%s'", what, lua_tostring(L, -1));
    } else {
      ERR("%s: fields must be named", what);
    }
  }
}

/* Copies a string field into buf; reports a wrong type. Returns 1 when
 * the field was a string. */
static int string_field(lua_State *L, int idx, const char *key, char *buf,
                        size_t size, int required, const char *what) {
  int t = lua_getfield(L, idx, key);
  int ok = 0;
  if (t == LUA_TSTRING && lua_rawlen(L, -1) > 0) {
    if (lua_rawlen(L, -1) >= size)
      ERR("%s.%s is too long (at most %zu bytes)", what, key, size - 1);
    else {
      if (buf) snprintf(buf, size, "%s", lua_tostring(L, -1));
      ok = 1;
    }
  } else if (t != LUA_TNIL || required) {
    ERR("%s.%s must be a non-empty string%s", what, key,
        t == LUA_TNIL ? " (missing)" : "");
  }
  lua_pop(L, 1);
  return ok;
}

static int parse_size(const char *s, size_t *out) {
  char *end;
  unsigned long long n = strtoull(s, &end, 10);
  if (end == s) return 0;
  if (strcmp(end, "") == 0 || strcmp(end, "B") == 0)
    *out = n;
  else if (strcmp(end, "KB") == 0)
    *out = n << 10;
  else if (strcmp(end, "MB") == 0)
    *out = n << 20;
  else if (strcmp(end, "GB") == 0)
    *out = n << 30;
  else
    return 0;
  return n > 0 && n < (1ull << 34);
}

static int size_field(lua_State *L, int idx, const char *key, size_t *out,
                      const char *what) {
  int t = lua_getfield(L, idx, key), ok = 1;
  if (t == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0) {
    *out = (size_t)lua_tointeger(L, -1);
  } else if (t == LUA_TSTRING) {
    if (!parse_size(lua_tostring(L, -1), out)) ok = 0;
  } else if (t != LUA_TNIL) {
    ok = 0;
  }
  if (!ok) ERR("%s.%s must be a size such as \"1MB\" or \"512KB\"", what, key);
  lua_pop(L, 1);
  return ok;
}

static int is_duration(const char *s) {
  rc_duration d;
  return clock_parse_duration(s, &d, NULL) == RC_OK;
}

static int is_hhmm(const char *s) {
  return strlen(s) == 5 && isdigit((unsigned char)s[0]) &&
         isdigit((unsigned char)s[1]) && s[2] == ':' &&
         isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) &&
         (s[0] - '0') * 10 + (s[1] - '0') <= 24 &&
         (s[3] - '0') * 10 + (s[4] - '0') <= 59;
}

static int is_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-') return 0;
  return 1;
}

static int table_arg(lua_State *L, const char *what) {
  if (!lua_istable(L, 1)) {
    ERR("%s expects a table: %s { ... }", what, what);
    return 0;
  }
  return 1;
}

static int l_institution(lua_State *L) {
  static const char *const keys[] = {"name",     "timezone",      "locale",
                                     "currency", "contact_phone", NULL};
  script *sc = loading_script(L, "institution{}");
  institution_config *c = &sc->cfg;
  if (!table_arg(L, "institution")) return 0;
  if (sc->seen_institution++) ERR("institution{} is given twice");
  check_keys(L, 1, keys, "institution");
  string_field(L, 1, "name", c->name, sizeof c->name, 1, "institution");
  if (string_field(L, 1, "timezone", c->timezone, sizeof c->timezone, 1,
                   "institution")) {
    rc_error err;
    rc_clock *probe = clock_new(c->timezone, &err);
    if (!probe) ERR("institution.timezone: %s", err.message);
    clock_free(probe);
  }
  if (string_field(L, 1, "locale", c->locale, sizeof c->locale, 0,
                   "institution")) {
    for (const char *p = c->locale; *p; p++)
      if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
        ERR("institution.locale '%s' is not a locale such as zh-CN or en",
            c->locale);
        break;
      }
  }
  if (string_field(L, 1, "currency", c->currency, sizeof c->currency, 1,
                   "institution")) {
    if (strlen(c->currency) != 3 || !isupper((unsigned char)c->currency[0]) ||
        !isupper((unsigned char)c->currency[1]) ||
        !isupper((unsigned char)c->currency[2]))
      ERR("institution.currency '%s' is not an ISO 4217 code such as CNY",
          c->currency);
  }
  string_field(L, 1, "contact_phone", c->contact_phone, sizeof c->contact_phone,
               0, "institution");
  return 0;
}

/* Validates { "sms", "email" } at key of the table at idx. */
static void channels_field(lua_State *L, int idx, const char *what) {
  int t = lua_getfield(L, idx, "channels");
  if (t != LUA_TTABLE || luaL_len(L, -1) == 0) {
    ERR("%s.channels must be a list of channel names such as { \"sms\" }",
        what);
  } else {
    for (lua_Integer i = 1; i <= luaL_len(L, -1); i++) {
      if (lua_rawgeti(L, -1, i) != LUA_TSTRING || !is_name(lua_tostring(L, -1)))
        ERR("%s.channels[%lld] must be a channel name", what, (long long)i);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

static void duration_field(lua_State *L, int idx, const char *key, int required,
                           const char *what) {
  int t = lua_getfield(L, idx, key);
  if (t == LUA_TSTRING) {
    if (!is_duration(lua_tostring(L, -1)))
      ERR("%s.%s: bad duration '%s' (30m, 12h, 3d, 2w, 1mo)", what, key,
          lua_tostring(L, -1));
  } else if (t != LUA_TNIL || required) {
    ERR("%s.%s must be a duration such as \"7d\"", what, key);
  }
  lua_pop(L, 1);
}

/* Copies the channel names at idx.channels into out; returns how many. */
static int read_channels(lua_State *L, int idx, char (*out)[24]) {
  int n = 0;
  if (lua_getfield(L, idx, "channels") == LUA_TTABLE) {
    for (lua_Integer i = 1; i <= luaL_len(L, -1) && n < POLICY_MAX_CHANNELS;
         i++) {
      if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
        snprintf(out[n++], 24, "%s", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return n;
}

static int hhmm_minutes(const char *s) {
  return ((s[0] - '0') * 10 + (s[1] - '0')) * 60 + (s[3] - '0') * 10 +
         (s[4] - '0');
}

/* The validated policy table at idx, into C for the guard. */
static void parse_policy(lua_State *L, int idx, policy_config *p) {
  memset(p, 0, sizeof *p);
  if (lua_getfield(L, idx, "contact_hours") == LUA_TTABLE) {
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    if (lua_isstring(L, -2) && lua_isstring(L, -1) &&
        is_hhmm(lua_tostring(L, -2)) && is_hhmm(lua_tostring(L, -1))) {
      p->has_hours = 1;
      p->start_min = hhmm_minutes(lua_tostring(L, -2));
      p->end_min = hhmm_minutes(lua_tostring(L, -1));
    }
    lua_pop(L, 2);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "max_contacts") == LUA_TTABLE) {
    for (lua_Integer i = 1;
         i <= luaL_len(L, -1) && p->nrules < POLICY_MAX_RULES; i++) {
      if (lua_rawgeti(L, -1, i) == LUA_TTABLE) {
        policy_rule *r = &p->rules[p->nrules];
        int t = lua_gettop(L);
        r->nchannels = read_channels(L, t, r->channels);
        lua_getfield(L, t, "limit");
        r->limit = (int)lua_tointeger(L, -1);
        lua_getfield(L, t, "per");
        if (lua_isstring(L, -1))
          clock_parse_duration(lua_tostring(L, -1), &r->per, NULL);
        lua_getfield(L, t, "scope");
        r->per_case = lua_isstring(L, -1) &&
                      strcmp(lua_tostring(L, -1), "case") == 0;
        lua_pop(L, 3);
        p->nrules++;
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "after_conversation") == LUA_TTABLE) {
    int t = lua_gettop(L);
    p->npause = read_channels(L, t, p->pause_channels);
    lua_getfield(L, t, "pause");
    p->has_pause = lua_isstring(L, -1) &&
                   clock_parse_duration(lua_tostring(L, -1), &p->pause,
                                        NULL) == RC_OK;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_getfield(L, idx, "third_parties");
  p->third_parties_none =
      lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "none") == 0;
  lua_pop(L, 1);
}

static int l_policy(lua_State *L) {
  static const char *const keys[] = {"contact_hours",      "max_contacts",
                                     "after_conversation", "third_parties",
                                     "forbidden_phrases",  NULL};
  static const char *const rule_keys[] = {"channels", "limit", "per", "scope",
                                          NULL};
  static const char *const pause_keys[] = {"channels", "pause", NULL};
  script *sc = loading_script(L, "policy{}");
  char what[64];
  if (!table_arg(L, "policy")) return 0;
  if (sc->seen_policy++) ERR("policy{} is given twice");
  check_keys(L, 1, keys, "policy");

  if (lua_getfield(L, 1, "contact_hours") != LUA_TNIL) {
    int ok = lua_istable(L, -1) && luaL_len(L, -1) == 2;
    for (int i = 1; ok && i <= 2; i++) {
      ok = lua_rawgeti(L, -1, i) == LUA_TSTRING && is_hhmm(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    if (!ok)
      ERR("policy.contact_hours must be { \"08:00\", \"21:00\" } (local "
          "start and end, HH:MM)");
  }
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "max_contacts") != LUA_TNIL) {
    if (!lua_istable(L, -1)) {
      ERR("policy.max_contacts must be a list of rules");
    } else {
      for (lua_Integer i = 1; i <= luaL_len(L, -1); i++) {
        snprintf(what, sizeof what, "policy.max_contacts[%lld]", (long long)i);
        if (lua_rawgeti(L, -1, i) != LUA_TTABLE) {
          ERR("%s must be a table", what);
        } else {
          int top = lua_gettop(L);
          check_keys(L, top, rule_keys, what);
          channels_field(L, top, what);
          lua_getfield(L, top, "limit");
          if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
            ERR("%s.limit must be a whole number >= 0", what);
          lua_pop(L, 1);
          duration_field(L, top, "per", 1, what);
          if (lua_getfield(L, top, "scope") != LUA_TNIL &&
              (!lua_isstring(L, -1) ||
               (strcmp(lua_tostring(L, -1), "borrower") != 0 &&
                strcmp(lua_tostring(L, -1), "case") != 0)))
            ERR("%s.scope must be \"borrower\" or \"case\"", what);
          lua_pop(L, 1);
        }
        lua_pop(L, 1);
      }
    }
  }
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "after_conversation") != LUA_TNIL) {
    if (!lua_istable(L, -1)) {
      ERR("policy.after_conversation must be { channels = {...}, pause = "
          "\"7d\" }");
    } else {
      check_keys(L, -1, pause_keys, "policy.after_conversation");
      channels_field(L, lua_gettop(L), "policy.after_conversation");
      duration_field(L, lua_gettop(L), "pause", 1, "policy.after_conversation");
    }
  }
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "third_parties") != LUA_TNIL &&
      (!lua_isstring(L, -1) ||
       (strcmp(lua_tostring(L, -1), "no_debt_details") != 0 &&
        strcmp(lua_tostring(L, -1), "none") != 0)))
    ERR("policy.third_parties must be \"no_debt_details\" or \"none\"");
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "forbidden_phrases") != LUA_TNIL) {
    if (!lua_istable(L, -1)) {
      ERR("policy.forbidden_phrases must be a list of strings");
    } else {
      for (lua_Integer i = 1; i <= luaL_len(L, -1); i++) {
        if (lua_rawgeti(L, -1, i) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
          ERR("policy.forbidden_phrases[%lld] must be a non-empty string",
              (long long)i);
        lua_pop(L, 1);
      }
    }
  }
  lua_pop(L, 1);

  parse_policy(L, 1, &sc->cfg.policy);
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_POLICY);
  return 0;
}

/* The validated channel table at 1, into C for the outbox. */
static void parse_channel(lua_State *L, const char *name, const char *driver) {
  script *sc = script_of(L);
  channel_config *ch;
  if (sc->cfg.nchannels >= CHANNEL_MAX) {
    ERR("at most %d channels", CHANNEL_MAX);
    return;
  }
  ch = &sc->cfg.channels[sc->cfg.nchannels++];
  memset(ch, 0, sizeof *ch);
  snprintf(ch->name, sizeof ch->name, "%s", name);
  ch->driver = strcmp(driver, "file") == 0   ? CHANNEL_FILE
               : strcmp(driver, "exec") == 0 ? CHANNEL_EXEC
                                             : CHANNEL_WEBHOOK;
  ch->timeout_ms = 10000;
  ch->retries = 5;
  if (lua_getfield(L, 1, "path") == LUA_TSTRING) {
    const char *path = lua_tostring(L, -1);
    if (path[0] == '/')
      snprintf(ch->path, sizeof ch->path, "%s", path);
    else
      snprintf(ch->path, sizeof ch->path, "%s/%s", sc->cfg.dir, path);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "command") == LUA_TSTRING) {
    snprintf(ch->args[0], sizeof ch->args[0], "%s", lua_tostring(L, -1));
    ch->nargs = 1;
  } else if (lua_istable(L, -1)) {
    for (lua_Integer i = 1; i <= luaL_len(L, -1) && ch->nargs < CHANNEL_MAX_ARGS;
         i++) {
      if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
        snprintf(ch->args[ch->nargs++], sizeof ch->args[0], "%s",
                 lua_tostring(L, -1));
      else
        ERR("channel \"%s\".command[%lld] must be a string", name,
            (long long)i);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "url") == LUA_TSTRING)
    snprintf(ch->url, sizeof ch->url, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "headers") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING ||
          strpbrk(lua_tostring(L, -1), "\r\n"))
        ERR("channel \"%s\".headers must map names to one-line strings", name);
      else if (ch->nheaders < CHANNEL_MAX_HEADERS)
        snprintf(ch->headers[ch->nheaders++], sizeof ch->headers[0], "%s: %s",
                 lua_tostring(L, -2), lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "timeout") == LUA_TSTRING) {
    rc_duration d;
    if (clock_parse_duration(lua_tostring(L, -1), &d, NULL) == RC_OK)
      ch->timeout_ms = (int)(d.ms + d.days * 86400000LL);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "retries") == LUA_TNUMBER)
    ch->retries = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
}

static int l_channel_body(lua_State *L) {
  static const char *const keys[] = {"driver",  "path",    "command", "url",
                                     "timeout", "retries", "headers", NULL};
  const char *name = lua_tostring(L, lua_upvalueindex(1));
  char what[96], driver[16] = "";
  snprintf(what, sizeof what, "channel \"%s\"", name);
  if (!lua_istable(L, 1)) {
    ERR("%s expects a table: channel \"%s\" { driver = ... }", what, name);
    return 0;
  }
  check_keys(L, 1, keys, what);
  if (string_field(L, 1, "driver", driver, sizeof driver, 1, what)) {
    if (strcmp(driver, "file") == 0) {
      string_field(L, 1, "path", NULL, PATH_MAX, 1, what);
    } else if (strcmp(driver, "exec") == 0) {
      int t = lua_getfield(L, 1, "command");
      if (t != LUA_TSTRING && t != LUA_TTABLE)
        ERR("%s.command must be a program path or { program, args... }", what);
      lua_pop(L, 1);
    } else if (strcmp(driver, "webhook") == 0) {
      char url[1024];
      if (string_field(L, 1, "url", url, sizeof url, 1, what) &&
          strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        ERR("%s.url must start with http:// or https://", what);
    } else {
      ERR("%s.driver must be \"file\", \"exec\" or \"webhook\"", what);
    }
  }
  duration_field(L, 1, "timeout", 0, what);
  lua_getfield(L, 1, "retries");
  if (!lua_isnil(L, -1) && (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0))
    ERR("%s.retries must be a whole number >= 0", what);
  lua_pop(L, 1);
  parse_channel(L, name, driver);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_CHANNELS); /* channels */
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, name);
  return 0;
}

static int l_channel(lua_State *L) {
  loading_script(L, "channel");
  if (lua_type(L, 1) != LUA_TSTRING || !is_name(lua_tostring(L, 1))) {
    ERR("channel expects a name: channel \"sms\" { driver = ... }");
    lua_pushstring(L, "?");
  } else {
    lua_getfield(L, LUA_REGISTRYINDEX, REG_CHANNELS);
    if (lua_getfield(L, -1, lua_tostring(L, 1)) != LUA_TNIL)
      ERR("channel \"%s\" is given twice", lua_tostring(L, 1));
    lua_pop(L, 2);
    lua_pushvalue(L, 1);
  }
  lua_pushcclosure(L, l_channel_body, 1);
  return 1;
}

static int l_service(lua_State *L) {
  static const char *const keys[] = {
      "listen",          "db",           "body_limit",      "instruction_budget",
      "memory_limit",    "idle_timeout", "request_timeout", "max_connections",
      "header_timeout",  "max_connections_per_address",       "handler_deadline",
      NULL};
  script *sc = loading_script(L, "service{}");
  institution_config *c = &sc->cfg;
  char db[PATH_MAX];
  if (!table_arg(L, "service")) return 0;
  if (sc->seen_service++) ERR("service{} is given twice");
  check_keys(L, 1, keys, "service");
  if (string_field(L, 1, "listen", c->listen, sizeof c->listen, 0, "service")) {
    const char *colon = strrchr(c->listen, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!colon || port < 1 || port > 65535)
      ERR("service.listen '%s' must be HOST:PORT", c->listen);
  }
  if (string_field(L, 1, "db", db, sizeof db, 0, "service")) {
    if (db[0] == '/' || strcmp(db, ":memory:") == 0)
      snprintf(c->db, sizeof c->db, "%s", db);
    else if ((size_t)snprintf(c->db, sizeof c->db, "%s/%s", c->dir, db) >=
             sizeof c->db)
      ERR("service.db path is too long");
  }
  size_field(L, 1, "body_limit", &c->body_limit, "service");
  if (size_field(L, 1, "memory_limit", &c->memory_limit, "service") &&
      c->memory_limit < (4u << 20))
    ERR("service.memory_limit must be at least 4MB");
  {
    static const char *const times[] = {"idle_timeout", "request_timeout",
                                        "header_timeout"};
    int *slots[] = {&c->idle_timeout_ms, &c->request_timeout_ms,
                    &c->header_timeout_ms};
    for (int i = 0; i < 3; i++) {
      rc_duration d;
      if (lua_getfield(L, 1, times[i]) == LUA_TSTRING &&
          clock_parse_duration(lua_tostring(L, -1), &d, NULL) == RC_OK &&
          !d.months && d.ms + d.days * 86400000LL > 0)
        *slots[i] = (int)(d.ms + d.days * 86400000LL);
      else if (!lua_isnil(L, -1))
        ERR("service.%s must be a duration such as \"30s\"", times[i]);
      lua_pop(L, 1);
    }
  }
  if (lua_getfield(L, 1, "handler_deadline") != LUA_TNIL) {
    rc_duration d;
    if (lua_type(L, -1) == LUA_TSTRING &&
        clock_parse_duration(lua_tostring(L, -1), &d, NULL) == RC_OK &&
        !d.months && !d.days && d.ms >= 10)
      c->handler_deadline_ms = d.ms;
    else
      ERR("service.handler_deadline must be a duration from \"10ms\" "
          "to \"23h\" such as \"10s\"");
  }
  lua_pop(L, 1);
  {
    static const char *const counts[] = {"max_connections",
                                         "max_connections_per_address"};
    int *slots[] = {&c->max_connections, &c->max_per_address};
    for (int i = 0; i < 2; i++) {
      lua_getfield(L, 1, counts[i]);
      if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
          lua_tointeger(L, -1) <= 100000)
        *slots[i] = (int)lua_tointeger(L, -1);
      else if (!lua_isnil(L, -1))
        ERR("service.%s must be a whole number from 1 to 100000", counts[i]);
      lua_pop(L, 1);
    }
  }
  lua_getfield(L, 1, "instruction_budget");
  if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1000)
    c->instruction_budget = lua_tointeger(L, -1);
  else if (!lua_isnil(L, -1))
    ERR("service.instruction_budget must be a whole number >= 1000");
  lua_pop(L, 1);
  return 0;
}

static int l_tokens(lua_State *L) {
  static const char *const roles[] = {"ingest", "agent", "read", "admin", NULL};
  script *sc = loading_script(L, "tokens{}");
  if (!table_arg(L, "tokens")) return 0;
  if (sc->seen_tokens++) ERR("tokens{} is given twice");
  check_keys(L, 1, roles, "tokens");
  for (int i = 0; roles[i]; i++) {
    int t = lua_getfield(L, 1, roles[i]);
    if (t == LUA_TSTRING && strncmp(lua_tostring(L, -1), "env:", 4) == 0 &&
        lua_tostring(L, -1)[4]) {
      snprintf(sc->cfg.token_env[i], sizeof sc->cfg.token_env[i], "%s",
               lua_tostring(L, -1) + 4);
    } else if (t != LUA_TNIL) {
      ERR("tokens.%s must be \"env:VARIABLE\": secrets stay out of scripts",
          roles[i]);
    }
    lua_pop(L, 1);
  }
  return 0;
}

static int l_templates(lua_State *L) {
  loading_script(L, "templates()");
  lua_getfield(L, LUA_REGISTRYINDEX, REG_FAILED);
  if (lua_rawequal(L, 1, -1)) return 0; /* its file failed; reported */
  lua_pop(L, 1);
  if (!lua_istable(L, 1)) {
    ERR("templates() expects a table of templates (require \"templates\")");
    return 0;
  }
  lua_getfield(L, LUA_REGISTRYINDEX, REG_TEMPLATES); /* all */
  lua_pushnil(L);
  while (lua_next(L, 1)) { /* all name def */
    const char *name = lua_tostring(L, -2);
    if (lua_type(L, -2) != LUA_TSTRING || !is_name(name)) {
      ERR("templates: every template needs a name made of letters, digits "
          "and _");
    } else if (!lua_istable(L, -1)) {
      ERR("template '%s' must be a table of channels", name);
    } else {
      if (lua_getfield(L, 2, name) != LUA_TNIL)
        ERR("template '%s' is defined twice", name);
      lua_pop(L, 1);
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_settable(L, 2);
      /* Where the template was defined, for errors found at the end. */
      {
        lua_Debug ar;
        if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar)) {
          lua_pushfstring(L, "%s:%d",
                          ar.source[0] == '@' ? ar.source + 1 : ar.short_src,
                          ar.currentline);
          lua_setfield(L, -2, "__where");
        }
      }
    }
    lua_pop(L, 1);
  }
  return 0;
}

static int l_route(lua_State *L) {
  script *sc = loading_script(L, "route()");
  if (!lua_isfunction(L, 1)) {
    ERR("route() expects a function(case) returning a workflow name");
    return 0;
  }
  if (sc->cfg.has_route++) ERR("route() is given twice");
  lua_pushvalue(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_ROUTE);
  return 0;
}

static int l_workflow(lua_State *L) {
  script *sc = loading_script(L, "workflow()");
  const char *name;
  lua_Integer version;
  lua_getfield(L, LUA_REGISTRYINDEX, REG_FAILED);
  if (lua_rawequal(L, 1, -1)) return 0; /* its file failed; reported */
  lua_pop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_VALIDATED);
  lua_pushvalue(L, 1);
  if (lua_gettable(L, -2) == LUA_TNIL) {
    ERR("workflow() expects the result of recoup.workflow { ... }");
    return 0;
  }
  if (lua_toboolean(L, -1) == 0) return 0; /* invalid: already reported */
  lua_getfield(L, 1, "name");
  lua_getfield(L, 1, "version");
  name = lua_tostring(L, -2);
  version = lua_tointeger(L, -1);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOWS); /* ... wfs */
  if (lua_getfield(L, -1, name) != LUA_TTABLE) {     /* wfs versions */
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, name);
  }
  if (lua_rawgeti(L, -1, version) != LUA_TNIL) {
    ERR("workflow %s version %lld is registered twice", name,
        (long long)version);
    return 0;
  }
  lua_pop(L, 1);
  lua_pushvalue(L, 1);
  lua_rawseti(L, -2, version);
  sc->cfg.nworkflows++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The string keys of the table at idx, sorted, so errors come out in a
 * stable order. Caller frees each and the array. */
static char **sorted_keys(lua_State *L, int idx, int *n) {
  char **keys = NULL;
  int count = 0;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      char **k = realloc(keys, (size_t)(count + 1) * sizeof *keys);
      if (!k) break;
      keys = k;
      keys[count++] = strdup(lua_tostring(L, -1));
    }
  }
  if (count) qsort(keys, (size_t)count, sizeof *keys, cmp_str);
  *n = count;
  return keys;
}

static void free_keys(char **keys, int n) {
  for (int i = 0; i < n; i++) free(keys[i]);
  free(keys);
}

static void check_handlers(lua_State *L, int idx, const char *what) {
  int n;
  char **keys = sorted_keys(L, idx, &n);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING)
      ERR("%s: handler names must be event names", what);
    lua_pop(L, 1);
  }
  for (int i = 0; i < n; i++) {
    lua_getfield(L, idx, keys[i]);
    if (!lua_isfunction(L, -1))
      ERR("%s.%s must be a function (got %s)", what, keys[i],
          luaL_typename(L, -1));
    lua_pop(L, 1);
  }
  free_keys(keys, n);
}

/* recoup.workflow { name, version, initial, states, transitions, on,
 * migrate }: checks the graph and returns the table, remembered as valid
 * (or as invalid, so workflow() does not report it a second time). */
static int l_recoup_workflow(lua_State *L) {
  static const char *const keys[] = {"name",    "version",     "initial",
                                     "states",  "transitions", "on",
                                     "migrate", "description", "tasks",
                                     NULL};
  static const char *const state_keys[] = {"enter",   "on",          "final",
                                           "outcome", "description", NULL};
  script *sc = script_of(L);
  int before = sc->errors ? sc->errors->count : 0, n = 0;
  char **states = NULL, what[160], wname[64] = "?";

  if (!lua_istable(L, 1)) {
    ERR("recoup.workflow expects a table: recoup.workflow { name = ... }");
    return luaL_error(L, "recoup.workflow expects a table");
  }
  check_keys(L, 1, keys, "workflow");
  if (lua_getfield(L, 1, "name") != LUA_TSTRING ||
      !is_name(lua_tostring(L, -1)))
    ERR("workflow.name must be a name such as \"standard\"");
  else
    snprintf(wname, sizeof wname, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, 1, "version");
  if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
    ERR("workflow %s: version must be a whole number >= 1", wname);
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "states") != LUA_TTABLE) {
    ERR("workflow %s: states must be a table of states", wname);
  } else {
    int st = lua_gettop(L);
    states = sorted_keys(L, st, &n);
    if (n == 0) ERR("workflow %s: states is empty", wname);
    for (int i = 0; i < n; i++) {
      snprintf(what, sizeof what, "workflow %s: states.%s", wname, states[i]);
      if (lua_getfield(L, st, states[i]) != LUA_TTABLE) {
        ERR("%s must be a table", what);
      } else {
        int s = lua_gettop(L), final;
        check_keys(L, s, state_keys, what);
        lua_getfield(L, s, "final");
        final = lua_toboolean(L, -1);
        if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
          ERR("%s.final must be true or false", what);
        lua_getfield(L, s, "enter");
        if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
          ERR("%s.enter must be a function (got %s)", what,
              luaL_typename(L, -1));
        lua_getfield(L, s, "on");
        if (lua_istable(L, -1)) {
          char on[200];
          if (final)
            ERR("%s: a final state cannot have 'on' handlers (a closed case "
                "runs none)",
                what);
          snprintf(on, sizeof on, "%s.on", what);
          check_handlers(L, lua_gettop(L), on);
        } else if (!lua_isnil(L, -1)) {
          ERR("%s.on must be a table of event handlers", what);
        }
        lua_getfield(L, s, "outcome");
        if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
          ERR("%s.outcome must be a string", what);
        lua_pop(L, 4);
      }
      lua_pop(L, 1);
    }
    if (lua_getfield(L, 1, "initial") != LUA_TSTRING) {
      ERR("workflow %s: initial must name a state", wname);
    } else if (lua_getfield(L, st, lua_tostring(L, -1)) != LUA_TTABLE) {
      ERR("workflow %s: initial state '%s' is not in states", wname,
          lua_tostring(L, -2));
      lua_pop(L, 1);
    } else {
      lua_pop(L, 1);
    }
    lua_pop(L, 1);

    if (lua_getfield(L, 1, "transitions") == LUA_TTABLE) {
      int tr = lua_gettop(L), m;
      char **from = sorted_keys(L, tr, &m);
      for (int i = 0; i < m; i++) {
        snprintf(what, sizeof what, "workflow %s: transitions.%s", wname,
                 from[i]);
        if (lua_getfield(L, st, from[i]) != LUA_TTABLE) {
          ERR("%s: '%s' is not a state", what, from[i]);
        } else {
          lua_getfield(L, -1, "final");
          if (lua_toboolean(L, -1))
            ERR("%s: final state '%s' cannot have outgoing transitions", what,
                from[i]);
          lua_pop(L, 1);
        }
        lua_pop(L, 1);
        if (lua_getfield(L, tr, from[i]) != LUA_TTABLE) {
          ERR("%s must be a list of state names", what);
        } else {
          for (lua_Integer j = 1; j <= luaL_len(L, -1); j++) {
            if (lua_rawgeti(L, -1, j) != LUA_TSTRING) {
              ERR("%s[%lld] must be a state name", what, (long long)j);
            } else {
              if (lua_getfield(L, st, lua_tostring(L, -1)) != LUA_TTABLE)
                ERR("%s names '%s', which is not a state", what,
                    lua_tostring(L, -2));
              lua_pop(L, 1);
            }
            lua_pop(L, 1);
          }
        }
        lua_pop(L, 1);
      }
      free_keys(from, m);
    } else if (!lua_isnil(L, -1)) {
      ERR("workflow %s: transitions must be a table", wname);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1); /* states */

  if (lua_getfield(L, 1, "on") == LUA_TTABLE) {
    snprintf(what, sizeof what, "workflow %s: on", wname);
    check_handlers(L, lua_gettop(L), what);
  } else if (!lua_isnil(L, -1)) {
    ERR("workflow %s: on must be a table of event handlers", wname);
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "tasks") == LUA_TTABLE) {
    task_decl_validate(L, lua_gettop(L), wname);
    task_decl_scan(L, lua_gettop(L), wname);
  }
  else if (!lua_isnil(L, -1))
    ERR("workflow %s: tasks must be a table of task kinds", wname);
  lua_pop(L, 1);
  lua_getfield(L, 1, "migrate");
  if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
    ERR("workflow %s: migrate must be a function(case) returning a state",
        wname);
  lua_pop(L, 1);
  free_keys(states, n);

  lua_getfield(L, LUA_REGISTRYINDEX, REG_VALIDATED);
  lua_pushvalue(L, 1);
  lua_pushboolean(L, !sc->errors || sc->errors->count == before);
  lua_settable(L, -3);
  lua_pop(L, 1);
  if (!sc->loading && sc->errors == NULL) {
    /* Outside a load nobody collects errors: validation must still hold. */
  }
  lua_settop(L, 1);
  return 1;
}

void institution_open(lua_State *L) {
  static const luaL_Reg dsl[] = {{"institution", l_institution},
                                 {"policy", l_policy},
                                 {"channel", l_channel},
                                 {"service", l_service},
                                 {"tokens", l_tokens},
                                 {"templates", l_templates},
                                 {"workflow", l_workflow},
                                 {"route", l_route},
                                 {NULL, NULL}};
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_WORKFLOWS);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_TEMPLATES);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_CHANNELS);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_POLICY);
  lua_newtable(L);          /* validated */
  lua_createtable(L, 0, 1); /* validated mt */
  lua_pushstring(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_VALIDATED);

  lua_pushglobaltable(L);
  luaL_setfuncs(L, dsl, 0);
  lua_createtable(L, 0, 2); /* G recoup */
  lua_pushcfunction(L, l_recoup_workflow);
  lua_setfield(L, -2, "workflow");
  lua_pushstring(L, RECOUP_VERSION);
  lua_setfield(L, -2, "version");
  lua_setfield(L, -2, "recoup");
  lua_pop(L, 1);
}

/* --- checks that need the whole file --------------------------------- */

static void add_error_at(script *sc, const char *where, const char *fmt,
                         const char *a, const char *b, const char *c) {
  rc_error err;
  char msg[1024];
  snprintf(msg, sizeof msg, fmt, a, b, c);
  if (where) {
    char buf[1100];
    snprintf(buf, sizeof buf, "%s: %s", where, msg);
    script_error_from_message(buf, RC_EINVAL, &err);
  } else {
    rc_error_clear(&err);
    err.code = RC_EINVAL;
    snprintf(err.message, sizeof err.message, "%s", msg);
    snprintf(err.file, sizeof err.file, "%s/recoup.lua", sc->cfg.dir);
  }
  rc_errlist_add(sc->errors, &err);
}

static const char *const debt_fields[] = {
    "case.balance", "case.amount_due", "case.fees", "case.principal",
    "case.dpd",     "case.due_date",   NULL};
static const char *const known_fields[] = {"borrower.name",
                                           "borrower.id",
                                           "borrower.phone",
                                           "borrower.email",
                                           "borrower.address",
                                           "borrower.employer_name",
                                           "case.id",
                                           "case.dpd",
                                           "case.balance",
                                           "case.amount_due",
                                           "case.fees",
                                           "case.principal",
                                           "case.due_date",
                                           "case.product",
                                           "case.currency",
                                           "case.state",
                                           "case.opened_at",
                                           "institution.name",
                                           "institution.contact_phone",
                                           "institution.timezone",
                                           "institution.currency",
                                           NULL};

static void lower_ascii(char *s) {
  for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

/* Checks one text of one template: placeholders, threats, debt details
 * sent to third parties. */
static void check_text(script *sc, const char *where, const char *name,
                       const char *text, int third_party) {
  lua_State *L = sc->L;
  const char *p = text;
  char *lower = strdup(text);
  if (!lower) return;
  lower_ascii(lower);
  while ((p = strchr(p, '{')) != NULL) {
    const char *end = strchr(p, '}');
    char ph[128];
    int known = 0;
    if (!end) {
      add_error_at(sc, where, "template '%s': '{' is never closed%s%s", name,
                   "", "");
      break;
    }
    snprintf(ph, sizeof ph, "%.*s", (int)(end - p - 1), p + 1);
    known = strncmp(ph, "vars.", 5) == 0 && ph[5];
    for (int i = 0; known_fields[i] && !known; i++)
      known = strcmp(ph, known_fields[i]) == 0;
    if (!known)
      add_error_at(sc, where, "template '%s': unknown placeholder {%s}%s", name,
                   ph, "");
    for (int i = 0; third_party && debt_fields[i]; i++)
      if (strcmp(ph, debt_fields[i]) == 0)
        add_error_at(sc, where,
                     "template '%s' is for third parties but mentions {%s}: "
                     "employers and family must not learn of the debt%s",
                     name, ph, "");
    p = end + 1;
  }
  lua_getfield(L, LUA_REGISTRYINDEX, REG_POLICY);
  if (lua_getfield(L, -1, "forbidden_phrases") == LUA_TTABLE) {
    for (lua_Integer i = 1; i <= luaL_len(L, -1); i++) {
      if (lua_rawgeti(L, -1, i) == LUA_TSTRING) {
        char *phrase = strdup(lua_tostring(L, -1));
        if (phrase) {
          lower_ascii(phrase);
          if (*phrase && strstr(lower, phrase))
            add_error_at(sc, where,
                         "template '%s' contains the forbidden phrase "
                         "\"%s\"%s",
                         name, lua_tostring(L, -1), "");
          free(phrase);
        }
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 2);
  free(lower);
}

static void check_templates(script *sc) {
  lua_State *L = sc->L;
  int n, all;
  char **names;
  lua_getfield(L, LUA_REGISTRYINDEX, REG_TEMPLATES);
  all = lua_gettop(L);
  names = sorted_keys(L, all, &n);
  for (int i = 0; i < n; i++) {
    int def, third, m;
    char where[300] = "", **chans;
    lua_getfield(L, all, names[i]);
    def = lua_gettop(L);
    if (lua_getfield(L, def, "__where") == LUA_TSTRING)
      snprintf(where, sizeof where, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, def, "third_party");
    third = lua_toboolean(L, -1);
    lua_pop(L, 1);
    chans = sorted_keys(L, def, &m);
    for (int j = 0; j < m; j++) {
      const char *ch = chans[j];
      int t;
      if (strcmp(ch, "third_party") == 0 || strcmp(ch, "legal_notice") == 0) {
        lua_getfield(L, def, ch);
        if (!lua_isboolean(L, -1))
          add_error_at(sc, where, "template '%s': %s must be true or false",
                       names[i], ch, "");
        lua_pop(L, 1);
        continue;
      }
      if (strcmp(ch, "__where") == 0 || strcmp(ch, "description") == 0)
        continue;
      t = lua_getfield(L, def, ch);
      if (t == LUA_TSTRING) {
        check_text(sc, where, names[i], lua_tostring(L, -1), third);
      } else if (t == LUA_TTABLE) {
        int k;
        char **locales = sorted_keys(L, -1, &k);
        if (k == 0)
          add_error_at(sc, where, "template '%s'.%s has no text", names[i], ch,
                       "");
        for (int l = 0; l < k; l++) {
          if (lua_getfield(L, -1, locales[l]) != LUA_TSTRING)
            add_error_at(sc, where, "template '%s'.%s.%s must be a string",
                         names[i], ch, locales[l]);
          else
            check_text(sc, where, names[i], lua_tostring(L, -1), third);
          lua_pop(L, 1);
        }
        free_keys(locales, k);
      } else {
        add_error_at(sc, where,
                     "template '%s'.%s must be a text or a table of texts by "
                     "locale%s",
                     names[i], ch, "");
      }
      lua_pop(L, 1);
    }
    free_keys(chans, m);
    lua_pop(L, 1);
  }
  free_keys(names, n);
  lua_pop(L, 1);
}

void institution_finish(script *sc) {
  if (!sc->seen_institution)
    add_error_at(sc, NULL,
                 "recoup.lua has no institution { name = ..., timezone = ..., "
                 "currency = ... }%s%s%s",
                 "", "", "");
  if (sc->cfg.nworkflows == 0 && sc->errors->count == 0)
    add_error_at(sc, NULL,
                 "recoup.lua registers no workflow: add workflow(require "
                 "\"workflows.standard\")%s%s%s",
                 "", "", "");
  if (sc->cfg.nworkflows > 1 && !sc->cfg.has_route) {
    lua_State *L = sc->L;
    int distinct = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOWS);
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      distinct++;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (distinct > 1)
      add_error_at(sc, NULL,
                   "several workflows are registered but there is no route(): "
                   "add route(function(case) return \"name\" end)%s%s%s",
                   "", "", "");
  }
  check_templates(sc);
}
