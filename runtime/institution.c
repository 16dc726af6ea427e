/* recoup.lua's vocabulary: institution{}, policy{}, channel "x" {}, service{},
 * tokens{}, templates(), workflow(), route() and recoup.workflow{}.
 *
 * Each function validates what it is given and, rather than stop at the
 * first problem, records every one with the file and line of the call, so
 * `recoup check` can list them all at once. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uloc.h>

#include "case_input.h"
#include "proxy.h"
#include "script_priv.h"
#include "source.h"
#include "store/where.h"
#include "task_decl.h"
#include "template.h"
#include "user.h"

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

/* A Lua string may hold NUL bytes; C would read it cut at the first. */
static int has_nul(lua_State *L, int idx) {
  size_t len;
  const char *s = lua_tolstring(L, idx, &len);
  return strlen(s) != len;
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
    else if (has_nul(L, -1))
      ERR("%s.%s must not hold a NUL byte", what, key);
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

/* The largest size recoup.lua may give (1TB): no limit needs more, and a
 * count scaled by its unit stays far from wrapping. */
#define SIZE_MAX_BYTES (1ull << 40)

static int parse_size(const char *s, size_t *out) {
  char *end;
  unsigned long long n;
  int shift;
  if (!isdigit((unsigned char)*s)) return 0; /* no sign, no space */
  n = strtoull(s, &end, 10);                  /* ULLONG_MAX on overflow */
  if (strcmp(end, "") == 0 || strcmp(end, "B") == 0)
    shift = 0;
  else if (strcmp(end, "KB") == 0)
    shift = 10;
  else if (strcmp(end, "MB") == 0)
    shift = 20;
  else if (strcmp(end, "GB") == 0)
    shift = 30;
  else
    return 0;
  if (n == 0 || n > SIZE_MAX_BYTES >> shift) return 0;
  *out = (size_t)(n << shift);
  return 1;
}

static int size_field(lua_State *L, int idx, const char *key, size_t *out,
                      const char *what) {
  int t = lua_getfield(L, idx, key), ok = 1;
  if (t == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0 &&
      (unsigned long long)lua_tointeger(L, -1) <= SIZE_MAX_BYTES) {
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

/* 00:00 to 23:59, and 24:00 for a window that ends at midnight: 24:59
 * passed, an hour past the day's end. */
static int is_hhmm(const char *s) {
  int h, m;
  if (strlen(s) != 5 || !isdigit((unsigned char)s[0]) ||
      !isdigit((unsigned char)s[1]) || s[2] != ':' ||
      !isdigit((unsigned char)s[3]) || !isdigit((unsigned char)s[4]))
    return 0;
  h = (s[0] - '0') * 10 + (s[1] - '0');
  m = (s[3] - '0') * 10 + (s[4] - '0');
  return m <= 59 && (h < 24 || (h == 24 && m == 0));
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

static int is_locale(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_') return 0;
  return 1;
}

const char *institution_name(const institution_config *cfg,
                             const char *locale) {
  size_t lang = locale ? strcspn(locale, "-_") : 0;
  for (int i = 0; locale && i < cfg->nnames; i++)
    if (strcmp(cfg->names[i].locale, locale) == 0) return cfg->names[i].name;
  /* en-GB reads the name given for en. */
  for (int i = 0; lang && i < cfg->nnames; i++)
    if (strlen(cfg->names[i].locale) == lang &&
        strncmp(cfg->names[i].locale, locale, lang) == 0)
      return cfg->names[i].name;
  return cfg->name;
}

/* The institution's name reaches every borrower's SMS and the console's
 * tab title: held to a display name's rules (user.c), so that a
 * zero-width or bidirectional character cannot make it read as another
 * lender's, or turn a message around. Checks generation 4. */
enum { INSTITUTION_NAME_CHARS = 127 }; /* a name's 128 bytes hold no more */

static void check_shown_name(lua_State *L, const char *name,
                             const char *locale) {
  char field[64];
  rc_error err;
  snprintf(field, sizeof field, "institution.name%s%s", locale ? "." : "",
           locale ? locale : "");
  if (user_check_shown(name, field, INSTITUTION_NAME_CHARS, &err) != RC_OK)
    script_load_finding(L, 1, 4, "%s", err.message);
}

/* name = "…" or name = { ["zh-CN"] = "…", en = "…" }: a reader sees the
 * name in their own language (an English SMS carries the English name). */
static void institution_names(lua_State *L, institution_config *c) {
  if (lua_getfield(L, 1, "name") != LUA_TTABLE) {
    lua_pop(L, 1);
    if (string_field(L, 1, "name", c->name, sizeof c->name, 1, "institution"))
      check_shown_name(L, c->name, NULL);
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, -2)) { /* names locale name */
    const char *loc = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    if (!is_locale(loc))
      ERR("institution.name: keys must be locales such as zh-CN or en");
    else if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0 ||
             lua_rawlen(L, -1) >= sizeof c->names[0].name ||
             has_nul(L, -1) || strlen(loc) >= sizeof c->names[0].locale)
      ERR("institution.name.%s must be a non-empty string of at most %zu "
          "bytes",
          loc, sizeof c->names[0].name - 1);
    else if (c->nnames == INSTITUTION_MAX_NAMES)
      ERR("institution.name: at most %d languages", INSTITUTION_MAX_NAMES);
    else {
      rc_copy(c->names[c->nnames].locale, sizeof c->names[0].locale, loc);
      rc_copy(c->names[c->nnames].name, sizeof c->names[0].name,
              lua_tostring(L, -1));
      check_shown_name(L, c->names[c->nnames].name, loc);
      c->nnames++;
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  if (c->nnames == 0) {
    ERR("institution.name must be a name or a table of names by locale");
    return;
  }
  /* The name in the institution's own locale is its name everywhere a
   * reader has no locale (reports, the console's title). */
  for (int i = 0; i < c->nnames; i++)
    if (strcmp(c->names[i].locale, c->locale) == 0)
      rc_copy(c->name, sizeof c->name, c->names[i].name);
  if (!c->name[0])
    ERR("institution.name has no name for the institution's locale '%s'",
        c->locale);
}

/* ISO 3166-1 alpha-2, as ICU knows the list. */
static int is_country(const char *code) {
  const char *const *all = uloc_getISOCountries();
  for (int i = 0; all && all[i]; i++)
    if (strcmp(all[i], code) == 0) return 1;
  return 0;
}

static int l_institution(lua_State *L) {
  static const char *const keys[] = {"name",     "timezone", "locale",
                                     "currency", "country",  "contact_phone",
                                     NULL};
  script *sc = loading_script(L, "institution{}");
  institution_config *c = &sc->cfg;
  const char *why;
  if (!table_arg(L, "institution")) return 0;
  if (sc->seen_institution++) ERR("institution{} is given twice");
  check_keys(L, 1, keys, "institution");
  if (string_field(L, 1, "timezone", c->timezone, sizeof c->timezone, 1,
                   "institution")) {
    rc_error err;
    rc_clock *probe = clock_new(c->timezone, &err);
    if (!probe) ERR("institution.timezone: %s", err.message);
    clock_free(probe);
  }
  /* Checked as a borrower's locale is (case_input.c): a tag ICU would
   * take apart differently from what the lender meant, or one carrying
   * -u- keys (a Buddhist calendar, Chinese numerals), formats every
   * message of every borrower without a locale of their own. */
  if (string_field(L, 1, "locale", c->locale, sizeof c->locale, 0,
                   "institution")) {
    rc_error lerr;
    if (case_input_check_locale(c->locale, "institution.locale", &lerr))
      ERR("%s", lerr.message);
  }
  institution_names(L, c);
  if (string_field(L, 1, "currency", c->currency, sizeof c->currency, 1,
                   "institution")) {
    if (strlen(c->currency) != 3 || !isupper((unsigned char)c->currency[0]) ||
        !isupper((unsigned char)c->currency[1]) ||
        !isupper((unsigned char)c->currency[2]))
      ERR("institution.currency '%s' %s", c->currency,
          template_currency_refused(c->currency));
    /* Every case imported without a currency is owed in it: held to a
     * case's own currency rules (template.c), which refuse ZZZ and XAU
     * where the institution's passed them on to every such case, with
     * the two decimals ICU invents for them. Checks generation 4. */
    else if ((why = template_currency_refused(c->currency)))
      script_load_finding(L, 1, 4,
                          "institution.currency '%s' %s: every case "
                          "imported without a currency would be owed in it",
                          c->currency, why);
  }
  if (lua_getfield(L, 1, "country") != LUA_TNIL) {
    const char *cc = lua_tostring(L, -1);
    if (lua_type(L, -1) != LUA_TSTRING || strlen(cc) != 2 || !is_country(cc))
      ERR("institution.country must be an ISO 3166-1 alpha-2 code such as "
          "\"CN\"%s%s%s",
          lua_type(L, -1) == LUA_TSTRING ? " (got '" : "",
          lua_type(L, -1) == LUA_TSTRING ? cc : "",
          lua_type(L, -1) == LUA_TSTRING ? "')" : "");
    else
      rc_copy(c->country, sizeof c->country, cc);
  }
  lua_pop(L, 1);
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
  lua_getfield(L, idx, "promise_horizon");
  clock_parse_duration(
      lua_isstring(L, -1) ? lua_tostring(L, -1) : POLICY_PROMISE_HORIZON,
      &p->promise_horizon, NULL);
  lua_pop(L, 1);
}

static int l_policy(lua_State *L) {
  static const char *const keys[] = {"contact_hours",
                                     "max_contacts",
                                     "after_conversation",
                                     "third_parties",
                                     "forbidden_phrases",
                                     "promise_horizon",
                                     NULL};
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
    char said[96] = "";
    for (int i = 1; ok && i <= 2; i++) {
      ok = lua_rawgeti(L, -1, i) == LUA_TSTRING && is_hhmm(lua_tostring(L, -1));
      /* 24:00 ends a window; one does not start there (00:00 does). */
      if (ok && i == 1 && strcmp(lua_tostring(L, -1), "24:00") == 0) {
        ok = 0;
        snprintf(said, sizeof said, ": [1] is '24:00' (write 00:00)");
      }
      /* The item at fault, and for "9:00", as a clock is read aloud,
       * the one it means. */
      if (!ok && !said[0] && lua_type(L, -1) == LUA_TSTRING) {
        const char *t = lua_tostring(L, -1);
        char two[8];
        snprintf(two, sizeof two, "0%s", t);
        if (strlen(t) == 4 && is_hhmm(two))
          snprintf(said, sizeof said, ": [%d] is '%s' (write %s)", i, t, two);
        else
          snprintf(said, sizeof said, ": [%d] is '%.40s'", i, t);
      }
      lua_pop(L, 1);
    }
    if (!ok)
      ERR("policy.contact_hours must be { \"08:00\", \"21:00\" } (local "
          "start and end, HH:MM)%s",
          said);
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

  /* A horizon under a day would refuse every promise, even for today. */
  duration_field(L, 1, "promise_horizon", 0, "policy");
  if (lua_getfield(L, 1, "promise_horizon") == LUA_TSTRING) {
    rc_duration h;
    if (clock_parse_duration(lua_tostring(L, -1), &h, NULL) == RC_OK &&
        h.days == 0 && h.months == 0)
      ERR("policy.promise_horizon must be at least a day (\"1d\")");
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
  if (lua_getfield(L, 1, "timeout") == LUA_TSTRING) {
    /* One attempt's wait, in an int of milliseconds: "1mo" was read as
     * no wait at all and "30d" wrapped negative. */
    rc_duration d;
    int64_t ms;
    if (clock_parse_duration(lua_tostring(L, -1), &d, NULL) == RC_OK &&
        (d.months || (ms = d.ms + d.days * 86400000LL) < 1000 ||
         ms > 86400000))
      ERR("%s.timeout must be from \"1s\" to \"1d\"", what);
  }
  lua_pop(L, 1);
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

/* service.backup = { every = "1d", keep = 7, to = "var/backups" } at the
 * top of the stack. */
static void service_backup(lua_State *L, institution_config *c) {
  static const char *const keys[] = {"every", "keep", "to", NULL};
  char to[PATH_MAX];
  if (!lua_istable(L, -1)) {
    ERR("service.backup must be a table: backup = { every = \"1d\", keep = "
        "7, to = \"var/backups\" }");
    return;
  }
  check_keys(L, -1, keys, "service.backup");
  if (lua_getfield(L, -1, "every") != LUA_TNIL) {
    rc_duration d;
    if (lua_type(L, -1) == LUA_TSTRING &&
        clock_parse_duration(lua_tostring(L, -1), &d, NULL) == RC_OK &&
        !d.months && d.ms + d.days * 86400000LL >= 60000)
      c->backup_every_ms = d.ms + d.days * 86400000LL;
    else
      ERR("service.backup.every must be a duration of a minute or more, "
          "such as \"1d\" or \"6h\"");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, -1, "keep") != LUA_TNIL) {
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
        lua_tointeger(L, -1) <= 10000)
      c->backup_keep = (int)lua_tointeger(L, -1);
    else
      ERR("service.backup.keep must be a whole number from 1 to 10000");
  }
  lua_pop(L, 1);
  if (string_field(L, lua_gettop(L), "to", to, sizeof to, 0,
                   "service.backup")) {
    if (to[0] == '/')
      snprintf(c->backup_to, sizeof c->backup_to, "%s", to);
    else if ((size_t)snprintf(c->backup_to, sizeof c->backup_to, "%s/%s",
                              c->dir, to) >= sizeof c->backup_to)
      ERR("service.backup.to path is too long");
  }
}

/* service.session_idle and session_lifetime: clock durations (no days or
 * months: a session is wall time, not a calendar), idle at most the
 * lifetime, the lifetime at most a week. */
static void service_sessions(lua_State *L, institution_config *c) {
  static const char *const keys[] = {"session_idle", "session_lifetime"};
  int64_t *slots[] = {&c->session_idle_ms, &c->session_lifetime_ms};
  int ok = 1;
  for (int i = 0; i < 2; i++) {
    rc_duration d;
    int64_t ms;
    if (lua_getfield(L, 1, keys[i]) != LUA_TNIL) {
      if (lua_type(L, -1) == LUA_TSTRING &&
          clock_parse_duration(lua_tostring(L, -1), &d, NULL) == RC_OK &&
          !d.months && (ms = d.ms + d.days * 86400000LL) >= 1000 &&
          ms <= 7 * 86400000LL) {
        *slots[i] = ms;
      } else {
        ERR("service.%s must be a duration from \"1s\" to \"7d\" such as "
            "\"%s\"",
            keys[i], i == 0 ? "1h" : "12h");
        ok = 0;
      }
    }
    lua_pop(L, 1);
  }
  if (ok && c->session_idle_ms > c->session_lifetime_ms)
    ERR("service.session_idle must not be longer than "
        "service.session_lifetime");
}

/* service.trusted_proxies = { "127.0.0.1", "10.0.0.0/8", "::1" }: the
 * reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are
 * believed. Each bad item is named by its place and value. */
static void service_proxies(lua_State *L, institution_config *c) {
  int t = lua_getfield(L, 1, "trusted_proxies");
  lua_Integer n;
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  if (t != LUA_TTABLE) {
    ERR("service.trusted_proxies must be a list of addresses and blocks "
        "such as { \"127.0.0.1\", \"10.0.0.0/8\" }");
    lua_pop(L, 1);
    return;
  }
  n = (lua_Integer)lua_rawlen(L, -1);
  /* Keys that are not 1..n (a typo'd { proxy = "..." }) would be skipped
   * silently: refuse them. */
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
        lua_tointeger(L, -1) > n)
      ERR("service.trusted_proxies must be a list, without named fields");
  }
  if (n > TRUSTED_PROXIES_MAX)
    ERR("service.trusted_proxies holds %lld items; at most %d", (long long)n,
        TRUSTED_PROXIES_MAX);
  for (lua_Integer i = 1; i <= n && i <= TRUSTED_PROXIES_MAX; i++) {
    rc_net net;
    if (lua_rawgeti(L, -1, i) != LUA_TSTRING ||
        proxy_net_parse(lua_tostring(L, -1), &net) != 0)
      ERR("service.trusted_proxies[%lld] %s%s%s is not an address or a block "
          "such as \"10.0.0.0/8\" (with no host bits past the prefix)",
          (long long)i, lua_type(L, -1) == LUA_TSTRING ? "'" : "(a ",
          lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1)
                                         : luaL_typename(L, -1),
          lua_type(L, -1) == LUA_TSTRING ? "'" : ")");
    else
      c->trusted_proxies[c->ntrusted_proxies++] = net;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

static int l_service(lua_State *L) {
  static const char *const keys[] = {"listen",
                                     "db",
                                     "body_limit",
                                     "instruction_budget",
                                     "memory_limit",
                                     "idle_timeout",
                                     "request_timeout",
                                     "max_connections",
                                     "header_timeout",
                                     "max_connections_per_address",
                                     "handler_deadline",
                                     "session_idle",
                                     "session_lifetime",
                                     "trusted_proxies",
                                     "backup",
                                     "log_level",
                                     NULL};
  script *sc = loading_script(L, "service{}");
  institution_config *c = &sc->cfg;
  char db[PATH_MAX];
  if (!table_arg(L, "service")) return 0;
  if (sc->seen_service++) ERR("service{} is given twice");
  check_keys(L, 1, keys, "service");
  if (string_field(L, 1, "listen", c->listen, sizeof c->listen, 0, "service")) {
    const char *colon = strrchr(c->listen, ':');
    char *end = NULL;
    long port = colon && isdigit((unsigned char)colon[1])
                    ? strtol(colon + 1, &end, 10)
                    : 0;
    /* "host:80x" would fail only when the service starts listening. */
    if (!colon || port < 1 || port > 65535 || *end)
      ERR("service.listen '%s' must be HOST:PORT", c->listen);
  }
  if (string_field(L, 1, "db", db, sizeof db, 0, "service")) {
    if (db[0] == '/' || store_where(db) != STORE_FILE)
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
    /* At most a day: no connection waits longer, and the milliseconds
     * fit the int the HTTP layer holds them in ("30d" wrapped negative). */
    for (int i = 0; i < 3; i++) {
      rc_duration d;
      int64_t ms = 0;
      if (lua_getfield(L, 1, times[i]) == LUA_TSTRING &&
          clock_parse_duration(lua_tostring(L, -1), &d, NULL) == RC_OK &&
          !d.months && (ms = d.ms + d.days * 86400000LL) > 0 &&
          ms <= 86400000)
        *slots[i] = (int)ms;
      else if (!lua_isnil(L, -1))
        ERR("service.%s must be a duration such as \"30s\", at most \"1d\"",
            times[i]);
      lua_pop(L, 1);
    }
  }
  if (lua_getfield(L, 1, "handler_deadline") != LUA_TNIL) {
    rc_duration d;
    if (lua_type(L, -1) == LUA_TSTRING &&
        clock_parse_duration(lua_tostring(L, -1), &d, NULL) == RC_OK &&
        !d.months && !d.days && d.ms >= 1000 && d.ms <= 23 * 3600000LL)
      c->handler_deadline_ms = d.ms;
    else /* durations have no unit below the second */
      ERR("service.handler_deadline must be a duration from \"1s\" "
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
  service_sessions(L, c);
  service_proxies(L, c);
  lua_getfield(L, 1, "instruction_budget");
  if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1000)
    c->instruction_budget = lua_tointeger(L, -1);
  else if (!lua_isnil(L, -1))
    ERR("service.instruction_budget must be a whole number >= 1000");
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "backup") != LUA_TNIL) service_backup(L, c);
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "log_level") != LUA_TNIL) {
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    int found = -1;
    for (int i = 0; i < 4 && lua_type(L, -1) == LUA_TSTRING; i++)
      if (strcmp(lua_tostring(L, -1), levels[i]) == 0) found = i;
    if (found < 0)
      ERR("service.log_level must be \"debug\", \"info\", \"warn\" or "
          "\"error\"");
    else
      c->log_level = found;
  }
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
      /* Cut or shortened at a NUL, it would name another variable. */
      if (has_nul(L, -1) ||
          lua_rawlen(L, -1) >= 4 + sizeof sc->cfg.token_env[i])
        ERR("tokens.%s: the variable's name must be at most %zu bytes, "
            "without NUL",
            roles[i], sizeof sc->cfg.token_env[i] - 1);
      else
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

/* capacity { phone = 400, field = 25 }: how many tasks each queue's
 * collectors complete a day, for `recoup simulate`. */
static int l_capacity(lua_State *L) {
  script *sc = loading_script(L, "capacity{}");
  institution_config *c = &sc->cfg;
  if (!table_arg(L, "capacity")) return 0;
  if (sc->seen_capacity++) ERR("capacity{} is given twice");
  lua_pushnil(L); /* key */
  while (lua_next(L, 1)) {
    /* key, value */
    if (lua_type(L, -2) != LUA_TSTRING) {
      ERR("capacity: keys are queue names, got a %s", luaL_typename(L, -2));
    } else {
      const char *q = lua_tostring(L, -2);
      int isint;
      lua_Integer n = lua_tointegerx(L, -1, &isint);
      if (!isint || n < 0 || n > 1000000)
        ERR("capacity.%s must be a whole number of tasks a day (0 to "
            "1000000)",
            q);
      else if (strlen(q) >= sizeof c->capacity[0].queue)
        ERR("capacity: queue name '%.40s...' is too long", q);
      else if (c->ncapacity >= INSTITUTION_MAX_QUEUES)
        ERR("capacity: at most %d queues", INSTITUTION_MAX_QUEUES);
      else {
        snprintf(c->capacity[c->ncapacity].queue,
                 sizeof c->capacity[0].queue, "%s", q);
        c->capacity[c->ncapacity++].per_day = (int)n;
      }
    }
    lua_pop(L, 1); /* key */
  }
  return 0;
}

/* The chunk name of the Lua function level frames up and its line. */
static const char *caller(lua_State *L, int level, int *line) {
  lua_Debug ar;
  *line = 0;
  if (!lua_getstack(L, level, &ar) || !lua_getinfo(L, "Sl", &ar)) {
    lua_pushliteral(L, "");
    return "";
  }
  *line = ar.currentline;
  lua_pushstring(L, ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
  return lua_tostring(L, -1); /* left on the stack for the caller */
}

static int l_templates(lua_State *L) {
  const char *file;
  const source *src;
  int line;
  loading_script(L, "templates()");
  lua_getfield(L, LUA_REGISTRYINDEX, REG_FAILED);
  if (lua_rawequal(L, 1, -1)) return 0; /* its file failed; reported */
  lua_pop(L, 1);
  if (!lua_istable(L, 1)) {
    ERR("templates() expects a table of templates (require \"templates\")");
    return 0;
  }
  lua_settop(L, 1);
  /* The templates' file: the module that returned them, else recoup.lua. */
  caller(L, 1, &line);                             /* tpls file */
  lua_getfield(L, LUA_REGISTRYINDEX, REG_SOURCES); /* tpls file sources */
  lua_pushvalue(L, 1);
  if (lua_gettable(L, -2) == LUA_TSTRING) lua_replace(L, 2);
  lua_settop(L, 2);
  file = lua_tostring(L, 2);
  src = check_source(L, file);
  lua_getfield(L, LUA_REGISTRYINDEX, REG_TEMPLATES); /* file all */
  lua_pushnil(L);
  while (lua_next(L, 1)) { /* file all name def */
    /* Not converted when not a string: lua_next would lose its place. A
     * NUL ends the name as text: ['hello\0x'] was checked as hello. */
    const char *name =
        lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!name || has_nul(L, -2) || !is_name(name)) {
      ERR("templates: every template needs a name made of letters, digits "
          "and _");
    } else if (!lua_istable(L, -1)) {
      ERR("template '%s' must be a table of channels", name);
    } else {
      if (lua_getfield(L, 3, name) != LUA_TNIL)
        ERR("template '%s' is defined twice", name);
      lua_pop(L, 1);
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_settable(L, 3);
      /* Where the template is written, for errors found at the end: its
       * own file and line, not the require that loaded it. */
      lua_pushstring(L, file);
      lua_setfield(L, -2, "__file");
      lua_pushinteger(L, src && source_find(src, &name, 1)
                             ? source_find(src, &name, 1)
                             : line);
      lua_setfield(L, -2, "__line");
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
char **script_sorted_keys(lua_State *L, int idx, int *n) {
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

void script_free_keys(char **keys, int n) {
  for (int i = 0; i < n; i++) free(keys[i]);
  free(keys);
}

static void check_handlers(lua_State *L, int idx, const char *what) {
  int n;
  char **keys = script_sorted_keys(L, idx, &n);
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
  script_free_keys(keys, n);
}

/* --- the graph, placed where its names are written ------------------ */

/* A workflow being checked and its file, so that an error about a name
 * points at the line where the name is written (Lua keeps no lines for a
 * table's keys and strings; the file is read again, source.c). */
typedef struct wf_check {
  lua_State *L;
  script *sc;
  const char *wname, *file;
  int line; /* of the recoup.workflow call: the fallback */
  const source *src;
  char **states; /* sorted */
  int n;
  const char *unknown[64]; /* names used as states that are not */
  int uses[64];            /* how often each is used */
  int nunknown;
  char *entered; /* per state: named by initial or a transition */
} wf_check;

static void wf_error(const wf_check *w, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void wf_error(const wf_check *w, int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  check_error(w->sc, w->file, line ? line : w->line, "%s", msg);
}

static int wf_line(const wf_check *w, const char *a, const char *b) {
  const char *keys[2] = {a, b};
  return w->src ? source_find(w->src, keys, b ? 2 : 1) : 0;
}

static int is_state(const wf_check *w, const char *name) {
  for (int i = 0; i < w->n; i++)
    if (strcmp(w->states[i], name) == 0) return 1;
  return 0;
}

/* " (did you mean 'promsie'? states.promsie is at line 30)" or "". */
static const char *state_hint(const wf_check *w, const char *name, char *buf,
                              size_t size) {
  const char *near = source_nearest(name, (const char *const *)w->states, w->n);
  int line = near ? wf_line(w, "states", near) : 0;
  if (!near)
    buf[0] = '\0';
  else if (line)
    snprintf(buf, size, " (did you mean '%s'? states.%s is at line %d)", near,
             near, line);
  else
    snprintf(buf, size, " (did you mean '%s'?)", near);
  return buf;
}

static void unknown_state(wf_check *w, const char *name) {
  for (int i = 0; i < w->nunknown; i++)
    if (strcmp(w->unknown[i], name) == 0) {
      w->uses[i]++;
      return;
    }
  if (w->nunknown < 64) {
    w->uses[w->nunknown] = 1;
    w->unknown[w->nunknown++] = name;
  }
}

static void entered(wf_check *w, const char *name) {
  for (int i = 0; i < w->n && w->entered; i++)
    if (strcmp(w->states[i], name) == 0) w->entered[i] = 1;
}

/* A state's name is kept as text, which ends at a NUL: states
 * { ['a\0x'] = ... } was read as a state a, and initial = 'a\0x' opened
 * cases in a. Nonzero, said naming where, when the string at idx holds
 * one. */
static int wf_nul_name(const wf_check *w, int idx, const char *where) {
  size_t len;
  const char *s = lua_tolstring(w->L, idx, &len);
  size_t at = strlen(s);
  if (at == len) return 0;
  wf_error(w, wf_line(w, where, NULL),
           "workflow %s: %s holds a NUL byte (at byte %d of %d): a state's "
           "name is kept as text, which ends at a NUL",
           w->wname, strcmp(where, "states") ? where : "a state's name",
           (int)at + 1, (int)len);
  return 1;
}

/* initial and transitions against the states at index st. */
static void graph_check(wf_check *w, int st) {
  lua_State *L = w->L;
  const char *wname = w->wname;
  char hint[200];
  w->entered = calloc((size_t)w->n + 1, 1);
  if (lua_getfield(L, 1, "initial") != LUA_TSTRING) {
    wf_error(w, wf_line(w, "initial", NULL),
             "workflow %s: initial must name a state", wname);
  } else if (wf_nul_name(w, -1, "initial")) {
    /* said */
  } else if (is_state(w, lua_tostring(L, -1))) {
    entered(w, lua_tostring(L, -1));
  } else {
    const char *init = lua_tostring(L, -1);
    int line = wf_line(w, "initial", NULL);
    wf_error(w, line ? line : source_string_line(w->src, init),
             "workflow %s: initial state '%s' is not in states%s", wname, init,
             state_hint(w, init, hint, sizeof hint));
    unknown_state(w, init); /* the workflow table keeps it */
  }
  lua_pop(L, 1);

  if (lua_getfield(L, 1, "transitions") == LUA_TTABLE) {
    int tr = lua_gettop(L), m;
    char **from = script_sorted_keys(L, tr, &m);
    for (int i = 0; i < m; i++) {
      int line = wf_line(w, "transitions", from[i]);
      if (lua_getfield(L, st, from[i]) != LUA_TTABLE) {
        wf_error(w, line, "workflow %s: transitions.%s: '%s' is not a state%s",
                 wname, from[i], from[i],
                 state_hint(w, from[i], hint, sizeof hint));
      } else {
        lua_getfield(L, -1, "final");
        if (lua_toboolean(L, -1))
          wf_error(w, line,
                   "workflow %s: transitions.%s: final state '%s' cannot "
                   "have outgoing transitions",
                   wname, from[i], from[i]);
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
      if (lua_getfield(L, tr, from[i]) != LUA_TTABLE) {
        wf_error(w, line,
                 "workflow %s: transitions.%s must be a list of state names",
                 wname, from[i]);
      } else {
        for (lua_Integer j = 1; j <= luaL_len(L, -1); j++) {
          const char *keys[2] = {"transitions", from[i]};
          const char *to;
          if (lua_rawgeti(L, -1, j) != LUA_TSTRING) {
            wf_error(w, line,
                     "workflow %s: transitions.%s[%lld] must be a state name",
                     wname, from[i], (long long)j);
          } else if (!is_state(w, to = lua_tostring(L, -1))) {
            int at = w->src ? source_find_item(w->src, keys, 2, to) : 0;
            if (!at && w->src) at = source_string_line(w->src, to);
            wf_error(w, at ? at : line,
                     "workflow %s: transitions.%s names '%s', which is not a "
                     "state%s",
                     wname, from[i], to, state_hint(w, to, hint, sizeof hint));
            unknown_state(w, to); /* the transitions table keeps it */
          } else {
            entered(w, to);
          }
          lua_pop(L, 1);
        }
      }
      lua_pop(L, 1);
      if (!is_state(w, from[i])) {
        /* Keep the name alive with the table that holds it. */
        lua_pushnil(L);
        while (lua_next(L, tr)) {
          lua_pop(L, 1);
          if (lua_type(L, -1) == LUA_TSTRING &&
              strcmp(lua_tostring(L, -1), from[i]) == 0) {
            unknown_state(w, lua_tostring(L, -1));
            lua_pop(L, 1);
            break;
          }
        }
      }
    }
    script_free_keys(from, m);
  } else if (!lua_isnil(L, -1)) {
    wf_error(w, wf_line(w, "transitions", NULL),
             "workflow %s: transitions must be a table", wname);
  }
  lua_pop(L, 1);

  /* A state key spelt one way and used, more than once, another: the key
   * is at fault, so name it where it is written. */
  for (int i = 0; i < w->n && w->nunknown && w->entered; i++) {
    const char *near;
    int k = 0;
    if (w->entered[i]) continue;
    near = source_nearest(w->states[i], w->unknown, w->nunknown);
    while (near && w->unknown[k] != near) k++;
    if (near && w->uses[k] > 1)
      wf_error(w, wf_line(w, "states", w->states[i]),
               "workflow %s: states.%s is never entered, but '%s' is named %d "
               "times (did you mean '%s'?)",
               wname, w->states[i], near, w->uses[k], near);
  }
  free(w->entered);
  w->entered = NULL;
}

/* The events recoup itself sends to handlers (DESIGN.md). */
static const char *const core_events[] = {"opened",
                                          "updated",
                                          "payment",
                                          "task_done",
                                          "promise_kept",
                                          "promise_broken",
                                          "installment_missed",
                                          "plan_completed",
                                          "reply",
                                          "dispute",
                                          "dispute_resolved",
                                          "cease",
                                          "message_delivered",
                                          "message_failed"};
enum { NCORE = sizeof core_events / sizeof *core_events };

typedef struct event_names {
  const char *names[128];
  int n;
} event_names;

/* The literal event of case:after/at/at_dpd(x, "event"). */
static void timer_name(void *ud, const source_call *c) {
  event_names *ev = ud;
  if (c->nargs >= 2 && c->args[1].kind == SOURCE_STRING && ev->n < 128)
    ev->names[ev->n++] = c->args[1].str;
}

/* A handler for an event nothing sends, near a name that is sent: a slip
 * such as promise_brokn never runs, and nobody notices until a case sits. */
static void handlers_check(wf_check *w, int on, const char *state,
                           const event_names *ev) {
  lua_State *L = w->L;
  lua_pushnil(L);
  while (lua_next(L, on)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    const char *near = NULL;
    int sent = !*key || strncmp(key, "__", 2) == 0;
    lua_pop(L, 1);
    for (int i = 0; i < ev->n && !sent; i++) sent = !strcmp(ev->names[i], key);
    if (!sent) near = source_nearest(key, ev->names, ev->n);
    if (near) {
      const char *keys[4] = {"states", state, "on", key};
      int line = w->src ? (state ? source_find(w->src, keys, 4)
                                 : source_find(w->src, keys + 2, 2))
                        : 0;
      wf_error(w, line,
               "workflow %s: %s%s%son.%s handles an event that recoup does "
               "not send and no timer here sets (did you mean '%s'?)",
               w->wname, state ? "states." : "", state ? state : "",
               state ? "." : "", key, near);
    }
  }
}

static void events_check(wf_check *w) {
  lua_State *L = w->L;
  event_names ev;
  ev.n = 0;
  for (int i = 0; i < NCORE; i++) ev.names[ev.n++] = core_events[i];
  if (w->src) {
    source_each_call(w->src, "after", timer_name, &ev);
    source_each_call(w->src, "at", timer_name, &ev);
    source_each_call(w->src, "at_dpd", timer_name, &ev);
  }
  if (lua_getfield(L, 1, "states") == LUA_TTABLE) {
    int top = lua_gettop(L);
    for (int i = 0; i < w->n; i++) {
      if (lua_getfield(L, top, w->states[i]) == LUA_TTABLE &&
          lua_getfield(L, -1, "on") == LUA_TTABLE)
        handlers_check(w, lua_gettop(L), w->states[i], &ev);
      lua_settop(L, top);
    }
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "on") == LUA_TTABLE)
    handlers_check(w, lua_gettop(L), NULL, &ev);
  lua_pop(L, 1);
}

/* workflow.name and workflow.version; the name (or "?") into wname. */
static void wf_check_name(lua_State *L, char *wname, size_t size) {
  if (lua_getfield(L, 1, "name") != LUA_TSTRING ||
      !is_name(lua_tostring(L, -1)))
    ERR("workflow.name must be a name such as \"standard\"");
  else
    snprintf(wname, size, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_getfield(L, 1, "version");
  if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
    ERR("workflow %s: version must be a whole number >= 1", wname);
  lua_pop(L, 1);
}

/* The check's state, and the workflow file's text for lines (while
 * loading: a handler building a workflow reads no files). The file is
 * remembered as a workflow file, for recoup check. */
static void wf_begin(wf_check *w, lua_State *L, script *sc,
                     const char *wname) {
  memset(w, 0, sizeof *w);
  w->L = L;
  w->sc = sc;
  w->wname = wname;
  w->file = caller(L, 1, &w->line); /* kept at index 2 */
  if (sc->loading) {
    w->src = check_source(L, w->file);
    lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOW_FILES);
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, w->file);
    lua_pop(L, 1);
  }
}

/* One state's table, at s: its keys and the type of each. */
static void wf_check_state(wf_check *w, int s, int sline, const char *what) {
  static const char *const state_keys[] = {
      "enter", "on", "final", "outcome", "description", "priority", NULL};
  lua_State *L = w->L;
  int final;
  check_keys(L, s, state_keys, what);
  lua_getfield(L, s, "final");
  final = lua_toboolean(L, -1);
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1))
    wf_error(w, sline, "%s.final must be true or false", what);
  lua_getfield(L, s, "enter");
  if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
    wf_error(w, sline, "%s.enter must be a function (got %s)", what,
             luaL_typename(L, -1));
  lua_getfield(L, s, "on");
  if (lua_istable(L, -1)) {
    char on[200];
    if (final)
      wf_error(w, sline,
               "%s: a final state cannot have 'on' handlers (a closed case "
               "runs none)",
               what);
    snprintf(on, sizeof on, "%s.on", what);
    check_handlers(L, lua_gettop(L), on);
  } else if (!lua_isnil(L, -1)) {
    wf_error(w, sline, "%s.on must be a table of event handlers", what);
  }
  lua_getfield(L, s, "outcome");
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING) {
    wf_error(w, sline, "%s.outcome must be a string", what);
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    /* Kept as text, which ends at a NUL: outcome = 'paid\0x' closed
     * cases as paid. */
    size_t len;
    const char *outcome = lua_tolstring(L, -1, &len);
    if (strlen(outcome) != len)
      wf_error(w, sline,
               "%s.outcome holds a NUL byte (at byte %d of %d): a case's "
               "outcome is kept as text, which ends at a NUL",
               what, (int)strlen(outcome) + 1, (int)len);
  }
  /* My work's order: a state's tasks before lower ones. */
  lua_getfield(L, s, "priority");
  if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER)
    wf_error(w, sline, "%s.priority must be a number (higher first)", what);
  lua_pop(L, 5);
}

/* workflow.states: each state, then the graph (initial, transitions).
 * The sorted state names go to w->states; the caller frees them. */
static void wf_check_states(wf_check *w) {
  lua_State *L = w->L;
  char what[160];
  if (lua_getfield(L, 1, "states") != LUA_TTABLE) {
    ERR("workflow %s: states must be a table of states", w->wname);
  } else {
    int st = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, st)) {
      lua_pop(L, 1);
      /* lua_tolstring on a number key would confuse lua_next. */
      if (lua_type(L, -1) == LUA_TSTRING && wf_nul_name(w, -1, "states")) {
        lua_pop(L, 1);
        break;
      }
    }
    w->states = script_sorted_keys(L, st, &w->n);
    if (w->n == 0) ERR("workflow %s: states is empty", w->wname);
    for (int i = 0; i < w->n; i++) {
      int sline = wf_line(w, "states", w->states[i]);
      snprintf(what, sizeof what, "workflow %s: states.%s", w->wname,
               w->states[i]);
      if (lua_getfield(L, st, w->states[i]) != LUA_TTABLE)
        wf_error(w, sline, "%s must be a table", what);
      else
        wf_check_state(w, lua_gettop(L), sline, what);
      lua_pop(L, 1);
    }
    graph_check(w, st);
  }
  lua_pop(L, 1); /* states */
}

/* workflow.on: handlers for every state. */
static void wf_check_on(lua_State *L, const char *wname) {
  if (lua_getfield(L, 1, "on") == LUA_TTABLE) {
    char what[160];
    snprintf(what, sizeof what, "workflow %s: on", wname);
    check_handlers(L, lua_gettop(L), what);
  } else if (!lua_isnil(L, -1)) {
    ERR("workflow %s: on must be a table of event handlers", wname);
  }
  lua_pop(L, 1);
}

/* workflow.tasks: the task kinds and their declared outcomes. */
static void wf_check_tasks(lua_State *L, const char *wname) {
  if (lua_getfield(L, 1, "tasks") == LUA_TTABLE) {
    task_decl_validate(L, lua_gettop(L), wname);
    task_decl_scan(L, lua_gettop(L), wname);
  } else if (!lua_isnil(L, -1)) {
    ERR("workflow %s: tasks must be a table of task kinds", wname);
  }
  lua_pop(L, 1);
}

static void wf_check_migrate(lua_State *L, const char *wname) {
  lua_getfield(L, 1, "migrate");
  if (!lua_isnil(L, -1) && !lua_isfunction(L, -1))
    ERR("workflow %s: migrate must be a function(case) returning a state",
        wname);
  lua_pop(L, 1);
}

/* Marks the table valid when no error was added since before, so that
 * workflow() does not report it a second time. Outside a load nobody
 * collects errors (sc->errors is NULL) and the table is marked valid:
 * only workflow() reads the mark, and it runs only while loading. */
static void wf_remember(lua_State *L, const script *sc, int before) {
  lua_getfield(L, LUA_REGISTRYINDEX, REG_VALIDATED);
  lua_pushvalue(L, 1);
  lua_pushboolean(L, !sc->errors || sc->errors->count == before);
  lua_settable(L, -3);
  lua_pop(L, 1);
}

/* recoup.workflow { name, version, initial, states, transitions, on,
 * migrate, description, tasks }: checks each key, then the graph and the
 * handlers' events, and returns the table, remembered as valid (or as
 * invalid). */
static int l_recoup_workflow(lua_State *L) {
  static const char *const keys[] = {"name",    "version",     "initial",
                                     "states",  "transitions", "on",
                                     "migrate", "description", "tasks",
                                     NULL};
  script *sc = script_of(L);
  int before = sc->errors ? sc->errors->count : 0;
  char wname[64] = "?";
  wf_check w;

  if (!lua_istable(L, 1)) {
    ERR("recoup.workflow expects a table: recoup.workflow { name = ... }");
    return luaL_error(L, "recoup.workflow expects a table");
  }
  check_keys(L, 1, keys, "workflow");
  wf_check_name(L, wname, sizeof wname);
  wf_begin(&w, L, sc, wname);
  wf_check_states(&w);
  wf_check_on(L, wname);
  wf_check_tasks(L, wname);
  wf_check_migrate(L, wname);
  events_check(&w);
  script_free_keys(w.states, w.n);
  wf_remember(L, sc, before);
  lua_settop(L, 1);
  return 1;
}

void institution_open(lua_State *L) {
  static const luaL_Reg dsl[] = {{"institution", l_institution},
                                 {"policy", l_policy},
                                 {"channel", l_channel},
                                 {"service", l_service},
                                 {"tokens", l_tokens},
                                 {"capacity", l_capacity},
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
  lua_createtable(L, 0, 4); /* G recoup */
  lua_pushcfunction(L, l_recoup_workflow);
  lua_setfield(L, -2, "workflow");
  lua_pushcfunction(L, lformat_money);
  lua_setfield(L, -2, "money");
  lua_pushcfunction(L, lformat_date);
  lua_setfield(L, -2, "date");
  lua_pushstring(L, RECOUP_VERSION);
  lua_setfield(L, -2, "version");
  lua_setfield(L, -2, "recoup");
  lua_pop(L, 1);
  check_open(L);
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
  check_sends(sc);
  check_done(sc->L);
}
