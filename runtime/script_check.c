/* The checks of `recoup check` that need the whole institution and the
 * text of its files: templates against the channels recoup.lua declares,
 * each text's placeholders and formatters, and each literal case:send in
 * a workflow against the template it names.
 *
 * A loaded table no longer knows where its keys were written, so errors
 * are placed by reading the file again (source.c): the line of the text
 * or the name at fault, not the line of the require that loaded it. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <unicode/uloc.h>

#include "case_input.h"
#include "script_priv.h"
#include "source.h"
#include "template.h"
#include "user.h"

#define REG_SOURCE_CACHE "recoup.source_cache" /* [chunk name] = source */
#define SOURCE_MT "recoup.source"

static int source_gc(lua_State *L) {
  source **u = luaL_checkudata(L, 1, SOURCE_MT);
  source_free(*u);
  *u = NULL;
  return 0;
}

void check_open(lua_State *L) {
  luaL_newmetatable(L, SOURCE_MT); /* mt */
  lua_pushcfunction(L, source_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_SOURCE_CACHE);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_WORKFLOW_FILES);
  lua_newtable(L);          /* sources */
  lua_createtable(L, 0, 1); /* sources mt */
  lua_pushstring(L, "k");
  lua_setfield(L, -2, "__mode");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_SOURCES);
}

const source *check_source(lua_State *L, const char *name) {
  source *s = NULL, **u;
  if (!name || !*name) return NULL;
  lua_getfield(L, LUA_REGISTRYINDEX, REG_SOURCE_CACHE); /* cache */
  if (lua_getfield(L, -1, name) == LUA_TUSERDATA) {     /* cache u */
    s = *(source **)lua_touserdata(L, -1);
    lua_pop(L, 2);
    return s;
  }
  lua_pop(L, 1);
  if (!(s = source_open(name))) {
    /* A chunk named relative to the institution directory. */
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", script_of(L)->cfg.dir, name);
    s = source_open(path);
  }
  u = lua_newuserdatauv(L, sizeof *u, 0); /* cache u */
  *u = s;
  luaL_setmetatable(L, SOURCE_MT);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
  return s;
}

void check_done(lua_State *L) {
  lua_newtable(L); /* the sources are freed with the old cache */
  lua_setfield(L, LUA_REGISTRYINDEX, REG_SOURCE_CACHE);
}

static void check_add(script *sc, int since, const char *file, int line,
                      const char *fmt, va_list ap) {
  rc_error err;
  if (!sc->errors) return;
  rc_error_clear(&err);
  err.code = RC_EINVAL;
  err.since = since;
  vsnprintf(err.message, sizeof err.message, fmt, ap);
  if (file) rc_copy(err.file, sizeof err.file, file);
  err.line = line;
  rc_errlist_add(since && sc->findings ? sc->findings : sc->errors, &err);
}

void check_error(script *sc, const char *file, int line, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  check_add(sc, 0, file, line, fmt, ap);
  va_end(ap);
}

void check_finding(script *sc, int since, const char *file, int line,
                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  check_add(sc, since, file, line, fmt, ap);
  va_end(ap);
}

const char *check_did_you_mean(const char *near, char *buf, size_t size) {
  snprintf(buf, size, near ? " (did you mean '%s'?)" : "", near);
  return buf;
}

const char *check_nearest_key(lua_State *L, int idx, const char *name,
                              char *buf, size_t size) {
  const char *cands[256];
  int n = 0;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    /* Names of the kind asked for: not the flags and __ keys beside them. */
    if (lua_type(L, -2) == LUA_TSTRING && n < 256 &&
        strncmp(lua_tostring(L, -2), "__", 2) != 0 &&
        strcmp(lua_tostring(L, -2), "third_party") != 0 &&
        strcmp(lua_tostring(L, -2), "legal_notice") != 0 &&
        strcmp(lua_tostring(L, -2), "json") != 0 &&
        strcmp(lua_tostring(L, -2), "description") != 0)
      cands[n++] = lua_tostring(L, -2); /* the table keeps it */
    lua_pop(L, 1);
  }
  return check_did_you_mean(source_nearest(name, cands, n), buf, size);
}

/* --- templates ------------------------------------------------------- */

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
static const char *const formatters[] = {"money", "date"};

static void lower_ascii(char *s) {
  for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

/* One text of one template: where it is written, and what to call it in
 * an error ("due_reminder" (sms, en)). */
typedef struct text_at {
  const char *file, *name, *channel, *lang;
  int line, third_party, json;
} text_at;

#define TEXT_ERROR(t, fmt, ...)                                       \
  check_error(sc, (t)->file, (t)->line, "template '%s' (%s%s%s)" fmt, \
              (t)->name, (t)->channel, (t)->lang ? ", " : "",         \
              (t)->lang ? (t)->lang : "", __VA_ARGS__)

/* A text of a template with json = true, each placeholder given a value
 * holding '"', '\\' and a newline (escaped as the send escapes it): JSON,
 * or an error naming where it is not. A placeholder outside a JSON
 * string (`"n": {vars.n}`) is refused with the rest: a value of text
 * would break the body there. */
static void check_json(script *sc, const text_at *t, const char *text) {
  /* Its first letter is no hex digit and no escape's: a text ending
   * "\u000" or "\" before a placeholder is refused, not passed by the
   * sample and broken by a name. */
  static const char sample[] = "z\\\"b\\\\c\\nd"; /* z"b\c<newline>d */
  size_t cap = strlen(text) * (sizeof sample) + 1, n = 0;
  char *body = malloc(cap);
  template_piece pc;
  json_error_t jerr;
  json_t *doc;
  if (!body) return;
  for (const char *p = text; (p = template_next(p, &pc)) != NULL;) {
    const char *piece = pc.placeholder ? sample : pc.at;
    size_t len = pc.placeholder ? sizeof sample - 1 : pc.len;
    if (pc.unclosed) { /* said by check_text */
      free(body);
      return;
    }
    memcpy(body + n, piece, len);
    n += len;
  }
  body[n] = '\0';
  if (!(doc = json_loads(body, JSON_DECODE_ANY, &jerr)))
    TEXT_ERROR(t,
               " is json = true but is not JSON with a sample value in each "
               "placeholder: %s (line %d, column %d; a placeholder must "
               "stand inside a JSON string)",
               jerr.text, jerr.line, jerr.column);
  json_decref(doc);
  free(body);
}

/* Placeholders, formatters, threats, and debt details sent to third
 * parties. */
static void check_text(script *sc, const text_at *t, const char *text) {
  lua_State *L = sc->L;
  const char *p = text;
  char *lower = strdup(text), near[128];
  template_piece pc;
  if (!lower) return;
  lower_ascii(lower);
  while ((p = template_next(p, &pc)) != NULL) {
    const char *colon;
    char ph[128], inner[160];
    template_fmt fmt;
    int known;
    if (pc.unclosed) {
      TEXT_ERROR(t, ": '{' is never closed (write {{ for a '{' of the text)%s",
                 "");
      break;
    }
    if (!pc.placeholder) continue;
    snprintf(inner, sizeof inner, "%.*s", (int)pc.len, pc.at);
    fmt = template_placeholder(pc.at, pc.len, ph, sizeof ph);
    known = strncmp(ph, "vars.", 5) == 0 && ph[5];
    for (int i = 0; known_fields[i] && !known; i++)
      known = strcmp(ph, known_fields[i]) == 0;
    if (!known) {
      const char *close =
          source_nearest(ph, known_fields,
                         (int)(sizeof known_fields / sizeof *known_fields) - 1);
      snprintf(near, sizeof near, close ? " (did you mean {%s}?)" : "", close);
      TEXT_ERROR(t, ": unknown placeholder {%s}%s", ph, near);
    }
    if (fmt == TEMPLATE_FMT_UNKNOWN && (colon = strchr(inner, ':'))) {
      TEXT_ERROR(t, ": unknown formatter '%s' in {%s}%s; formatters: %s",
                 colon + 1, inner,
                 check_did_you_mean(source_nearest(colon + 1, formatters, 2),
                                    near, sizeof near),
                 TEMPLATE_FORMATTERS);
    }
    for (int i = 0; t->third_party && debt_fields[i]; i++)
      if (strcmp(ph, debt_fields[i]) == 0)
        TEXT_ERROR(t,
                   " is for third parties but mentions {%s}: employers and "
                   "family must not learn of the debt",
                   ph);
  }
  lua_getfield(L, LUA_REGISTRYINDEX, REG_POLICY);
  if (lua_getfield(L, -1, "forbidden_phrases") == LUA_TTABLE) {
    for (lua_Integer i = 1; i <= luaL_len(L, -1); i++) {
      if (lua_rawgeti(L, -1, i) == LUA_TSTRING) {
        char *phrase = strdup(lua_tostring(L, -1));
        if (phrase) {
          lower_ascii(phrase);
          if (*phrase && strstr(lower, phrase))
            TEXT_ERROR(t, " contains the forbidden phrase \"%s\"",
                       lua_tostring(L, -1));
          free(phrase);
        }
      }
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 2);
  free(lower);
  if (t->json) check_json(sc, t, text);
}

/* The line of a template's channel text (lang NULL: a text for every
 * language), else of the template. */
static int text_line(const source *src, const char *name, const char *ch,
                     const char *lang, int fallback) {
  const char *keys[3] = {name, ch, lang};
  int line = src ? source_find(src, keys, lang ? 3 : 2) : 0;
  if (!line && src) line = source_find(src, keys, 2);
  return line ? line : fallback;
}

/* A reader whose locale no text has gets the text in the institution's
 * locale, else English, else any (lua_case.c, pick_text): a table without
 * the institution's locale or its language sends every such borrower,
 * and every borrower without a locale, a language nobody chose (zh-CN
 * and en texts kept when the institution moved to zh-TW: English). A
 * table whose every text is of the institution's language (en-GB where
 * the institution says en or en-US) sends that language, whichever is
 * picked: the lender's own choice, not refused. */
static void home_text(script *sc, const text_at *t, const char *const *langs,
                      int k) {
  const char *home = sc->cfg.locale;
  size_t n = strcspn(home, "-_");
  char have[256] = "", nor[48] = "";
  int en = 0, same = 1;
  if (!*home || k == 0) return;
  for (int l = 0; l < k; l++) {
    if (strcmp(langs[l], home) == 0 ||
        (strlen(langs[l]) == n && strncmp(langs[l], home, n) == 0))
      return;
    same &= strcspn(langs[l], "-_") == n && strncmp(langs[l], home, n) == 0;
    en |= strcmp(langs[l], "en") == 0;
    snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s",
             l ? ", " : "", langs[l]);
  }
  if (same) return;
  if (home[n]) snprintf(nor, sizeof nor, " (nor '%.*s')", (int)n, home);
  /* Checks generation 2 (11fec3f): the wrong language, not a lost
   * message; a book older than the check starts with a warning. */
  check_finding(sc, 2, t->file, t->line,
                "template '%s'.%s has no text in the institution's locale "
                "'%s'%s, only %s: its borrowers would get %s",
                t->name, t->channel, home, nor, have,
                en ? "the English one" : "one of those");
}

/* The tag a text keyed `lang` was most likely meant for, as recoup
 * matches borrowers' locales (BCP 47, checked as import checks them):
 * zh_CN is zh-CN; und-CN is the language ICU takes as the
 * region's (zh-CN); und alone is the institution's locale, what a
 * borrower without one is written in. "" when there is none to name. */
static void meant_tag(const script *sc, const char *lang, char *out,
                      size_t size) {
  char tag[64], id[96], full[96], language[16] = "", region[8] = "",
                                  given[8] = "";
  UErrorCode st = U_ZERO_ERROR;
  int32_t parsed = 0;
  rc_error err;
  size_t n = 0;
  *out = '\0';
  for (; lang[n] && n + 1 < sizeof tag; n++)
    tag[n] = lang[n] == '_' ? '-' : lang[n];
  tag[n] = '\0';
  if (lang[n]) return; /* longer than any tag: nothing read is meant */
  if (strcasecmp(tag, "und") == 0) {
    rc_copy(out, size, *sc->cfg.locale ? sc->cfg.locale : "en");
    return;
  }
  /* A tag ICU reads only the start of names nothing: "und-" and 60
   * letters was read as und, and und's likeliest language offered. */
  uloc_forLanguageTag(tag, id, sizeof id, &parsed, &st);
  if (U_FAILURE(st) || parsed != (int32_t)n) return;
  if (strncasecmp(tag, "und-", 4) == 0) {
    uloc_getCountry(id, given, sizeof given, &st);
    uloc_addLikelySubtags(id, full, sizeof full, &st);
    rc_copy(id, sizeof id, full);
  }
  uloc_getLanguage(id, language, sizeof language, &st);
  uloc_getCountry(id, region, sizeof region, &st);
  if (U_FAILURE(st) || !language[0]) return;
  /* The region the key gave is kept or nothing is offered: und-ZZ (the
   * unknown region) is not en-US. */
  if (given[0] && strcmp(given, region) != 0) return;
  snprintf(tag, sizeof tag, "%s%s%s", language, region[0] ? "-" : "", region);
  rc_error_clear(&err);
  if (case_input_check_locale(tag, "locale", &err) == RC_OK)
    rc_copy(out, size, tag);
}

/* A text is chosen by the borrower's locale, which import and the API
 * take only as a BCP 47 tag (case_input_check_locale), then its
 * language, then the institution's, then en (lua_case.c, pick_text),
 * each matched as written: a text keyed zh_CN, und or und-CN is never
 * chosen (but by chance, when no key matches) and its borrowers get
 * another language. Checks generation 3. */
static void check_text_locale(script *sc, const text_at *t, const char *lang) {
  char meant[64], why[300];
  rc_error err;
  rc_error_clear(&err);
  if (case_input_check_locale(lang, "locale", &err) == RC_OK) {
    /* A borrower's tag is tried as written, then in its usual casing: a
     * key in another casing ("zh-cn") is never either. */
    if (script_tag_cased(lang, meant, sizeof meant))
      check_finding(sc, 3, t->file, t->line,
                    "template '%s'.%s has a text keyed '%s', which recoup "
                    "never chooses (a borrower's locale is matched in its "
                    "usual casing): key it [\"%s\"]",
                    t->name, t->channel, lang, meant);
    return;
  }
  meant_tag(sc, lang, meant, sizeof meant);
  if (strcasecmp(lang, "und") == 0 || strncasecmp(lang, "und-", 4) == 0 ||
      strncasecmp(lang, "und_", 4) == 0)
    snprintf(why, sizeof why,
             "'%s' says the language is undetermined, and no borrower's "
             "locale does",
             lang);
  else
    snprintf(why, sizeof why, "%s", err.message);
  check_finding(sc, 3, t->file, t->line,
                "template '%s'.%s has a text keyed '%s', which recoup never "
                "chooses (%s)%s%s%s",
                t->name, t->channel, lang, why,
                *meant ? ": key it by the locale recoup would choose, [\"" : "",
                meant, *meant ? "\"]" : "");
}

static void check_channel_texts(script *sc, int def, text_at *t,
                                const source *src, int tline) {
  lua_State *L = sc->L;
  const char *ch = t->channel;
  int kind, declared = sc->cfg.nchannels == 0 || script_channel(sc, ch);
  t->lang = NULL;
  t->line = text_line(src, t->name, ch, NULL, tline);
  if (!declared) {
    const char *names[CHANNEL_MAX];
    char near[128];
    for (int i = 0; i < sc->cfg.nchannels; i++)
      names[i] = sc->cfg.channels[i].name;
    check_error(sc, t->file, t->line,
                "template '%s' has a text for channel '%s', which recoup.lua "
                "does not declare%s",
                t->name, ch,
                check_did_you_mean(source_nearest(ch, names, sc->cfg.nchannels),
                                   near, sizeof near));
  }
  kind = lua_getfield(L, def, ch);
  if (kind == LUA_TSTRING) {
    check_text(sc, t, lua_tostring(L, -1));
  } else if (kind == LUA_TTABLE) {
    int k;
    char **langs = script_sorted_keys(L, -1, &k);
    if (k == 0)
      check_error(sc, t->file, t->line, "template '%s'.%s has no text", t->name,
                  ch);
    if (declared) /* else that is the problem */
      home_text(sc, t, (const char *const *)langs, k);
    for (int l = 0; l < k; l++) {
      t->lang = langs[l];
      t->line = text_line(src, t->name, ch, langs[l], tline);
      if (declared) check_text_locale(sc, t, langs[l]);
      if (lua_getfield(L, -1, langs[l]) != LUA_TSTRING)
        check_error(sc, t->file, t->line,
                    "template '%s'.%s.%s must be a string", t->name, ch,
                    langs[l]);
      else
        check_text(sc, t, lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    script_free_keys(langs, k);
  } else {
    check_error(sc, t->file, t->line,
                "template '%s'.%s must be a text or a table of texts by "
                "locale",
                t->name, ch);
  }
  lua_pop(L, 1);
}

void check_templates(script *sc) {
  lua_State *L = sc->L;
  int n, all;
  char **names;
  lua_getfield(L, LUA_REGISTRYINDEX, REG_TEMPLATES);
  all = lua_gettop(L);
  names = script_sorted_keys(L, all, &n);
  for (int i = 0; i < n; i++) {
    int def, m, tline = 0;
    char **chans;
    const source *src;
    text_at t = {NULL, names[i], NULL, NULL, 0, 0, 0};
    lua_getfield(L, all, names[i]);
    def = lua_gettop(L);
    lua_getfield(L, def, "__file");
    lua_getfield(L, def, "__line");
    t.file = lua_tostring(L, -2); /* the template keeps it */
    tline = (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    src = check_source(L, t.file);
    lua_getfield(L, def, "third_party");
    t.third_party = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, def, "json");
    t.json = lua_toboolean(L, -1);
    lua_pop(L, 1);
    chans = script_sorted_keys(L, def, &m);
    for (int j = 0; j < m; j++) {
      const char *ch = chans[j];
      if (strcmp(ch, "third_party") == 0 || strcmp(ch, "legal_notice") == 0 ||
          strcmp(ch, "json") == 0) {
        lua_getfield(L, def, ch);
        if (!lua_isboolean(L, -1))
          check_error(sc, t.file, tline,
                      "template '%s': %s must be true or false", names[i], ch);
        lua_pop(L, 1);
        continue;
      }
      if (strncmp(ch, "__", 2) == 0 || strcmp(ch, "description") == 0) continue;
      t.channel = ch;
      check_channel_texts(sc, def, &t, src, tline);
    }
    script_free_keys(chans, m);
    lua_pop(L, 1);
  }
  script_free_keys(names, n);
  lua_pop(L, 1);
}

/* --- case:send in workflows ------------------------------------------ */

typedef struct send_scan {
  script *sc;
  const source *src;
  const char *file;
} send_scan;

/* Reports each {vars.x} of the text that the send's literal vars table
 * (table < 0: no vars) does not pass, once per var. */
static void missing_vars(send_scan *s, const source_call *c, const char *tpl,
                         const char *ch, const char *lang, const char *text,
                         int table, char (*seen)[64], int *nseen) {
  template_piece pc;
  for (const char *p = text; (p = template_next(p, &pc)) != NULL;) {
    char ph[128];
    int dup = 0;
    if (pc.unclosed) return;
    if (!pc.placeholder) continue;
    template_placeholder(pc.at, pc.len, ph, sizeof ph);
    if (strncmp(ph, "vars.", 5) != 0 || !ph[5]) continue;
    if (table >= 0 && source_table_has(s->src, table, ph + 5)) continue;
    for (int i = 0; i < *nseen && !dup; i++) dup = !strcmp(seen[i], ph + 5);
    if (dup || *nseen == 16) continue;
    rc_copy(seen[(*nseen)++], 64, ph + 5);
    check_error(s->sc, s->file, c->line,
                "template '%s' (%s%s%s) needs {%s}, which this case:send does "
                "not pass",
                tpl, ch, lang ? ", " : "", lang ? lang : "", ph);
  }
}

static void check_send(void *ud, const source_call *c) {
  send_scan *s = ud;
  script *sc = s->sc;
  lua_State *L = sc->L;
  const char *tpl, *ch;
  char near[128], seen[16][64];
  int table = -1, nseen = 0, def;
  if (c->nargs < 2 || c->args[1].kind != SOURCE_STRING) return;
  tpl = c->args[1].str;
  lua_getfield(L, LUA_REGISTRYINDEX, REG_TEMPLATES); /* all */
  if (lua_getfield(L, -1, tpl) != LUA_TTABLE) {      /* all def */
    check_error(sc, s->file, c->line,
                "case:send names template '%s', which templates() does not "
                "define%s",
                tpl, check_nearest_key(L, -2, tpl, near, sizeof near));
    lua_pop(L, 2);
    return;
  }
  def = lua_gettop(L);
  if (c->args[0].kind != SOURCE_STRING) {
    lua_pop(L, 2);
    return;
  }
  ch = c->args[0].str;
  if (sc->cfg.nchannels > 0 && !script_channel(sc, ch)) {
    const char *names[CHANNEL_MAX];
    for (int i = 0; i < sc->cfg.nchannels; i++)
      names[i] = sc->cfg.channels[i].name;
    check_error(sc, s->file, c->line, "case:send: no channel '%s'%s", ch,
                check_did_you_mean(source_nearest(ch, names, sc->cfg.nchannels),
                                   near, sizeof near));
    lua_pop(L, 2);
    return;
  }
  /* Which vars the send passes, when the source says it exactly. */
  if (c->nargs >= 3 && c->args[2].kind == SOURCE_TABLE &&
      source_table_literal(s->src, c->args[2].table))
    table = c->args[2].table;
  else if (c->nargs >= 3 && c->args[2].kind != SOURCE_NIL) {
    lua_pop(L, 2);
    return;
  }
  switch (lua_getfield(L, def, ch)) { /* all def text */
    case LUA_TSTRING:
      missing_vars(s, c, tpl, ch, NULL, lua_tostring(L, -1), table, seen,
                   &nseen);
      break;
    case LUA_TTABLE: {
      int k;
      char **langs = script_sorted_keys(L, -1, &k);
      for (int l = 0; l < k; l++) {
        if (lua_getfield(L, -1, langs[l]) == LUA_TSTRING)
          missing_vars(s, c, tpl, ch, langs[l], lua_tostring(L, -1), table,
                       seen, &nseen);
        lua_pop(L, 1);
      }
      script_free_keys(langs, k);
      break;
    }
    default:
      check_error(sc, s->file, c->line,
                  "case:send: template '%s' has no text for channel '%s'%s",
                  tpl, ch, check_nearest_key(L, def, ch, near, sizeof near));
  }
  lua_pop(L, 3);
}

/* case:afterr(...) loads, and fails each case that reaches it at run
 * time; only a method one slip from a real one is named, so that a table
 * of the script's own called `case` is left alone. */
static void check_case_method(void *ud, const char *name, int line) {
  send_scan *s = ud;
  const char *near = lcase_method_near(name);
  /* Checks generation 2 (09f1f09): such a case is set aside in error,
   * its event kept for a retry after the fix; nothing is lost. */
  if (near)
    check_finding(s->sc, 2, s->file, line,
                  "case:%s is not a method of a case (did you mean case:%s?)",
                  name, near);
}

/* The first place whose queue the source alone cannot tell. */
static void unseen_queue_at(lua_State *L, const char *file, int line) {
  int first = lua_getfield(L, LUA_REGISTRYINDEX, REG_TASK_QUEUE_AT) ==
              LUA_TNIL; /* at */
  lua_pop(L, 1);
  if (!first) return;
  if (line)
    lua_pushfstring(L, "%s:%d", file, line); /* at */
  else
    lua_pushstring(L, file); /* at: a file that does not read */
  lua_setfield(L, LUA_REGISTRYINDEX, REG_TASK_QUEUE_AT);
}

/* What to write for a queue no agent can be given: recoup user's own
 * guess ("Phone", "call queue": "phone", "call_queue"), else (外勤) only
 * the rule, since no spelling can be guessed. */
static void queue_meant(const char *queue, char *out, size_t size) {
  char low[65];
  if (user_name_meant(queue, low, sizeof low))
    snprintf(out, size,
             "Write queue = \"%s\" and give it to agents (recoup user set NAME "
             "--queues)",
             low);
  else
    snprintf(out, size,
             "Name it in those characters and give it to agents (recoup user "
             "set NAME --queues)");
}

/* case:task(kind, { queue = ... }): the queue it fills, for `recoup user`
 * to tell a queue no workflow uses (a typo: "visti") from one that is. */
static void note_task_queue(void *ud, const source_call *c) {
  send_scan *s = ud;
  lua_State *L = s->sc->L;
  const char *queue = NULL;
  rc_error bad;
  int table = c->nargs > 1 && c->args[1].kind == SOURCE_TABLE;
  /* Options in a variable may hold any queue. */
  int opaque = c->nargs > 1 && !table && c->args[1].kind != SOURCE_NIL;
  if (table) queue = source_table_string(s->src, c->args[1].table, "queue");
  if (!queue && !opaque &&
      (!table || !source_table_has(s->src, c->args[1].table, "queue")) &&
      c->nargs > 0 && c->args[0].kind == SOURCE_STRING)
    queue = c->args[0].str; /* no queue: the kind's own */
  /* An agent is given queues by `recoup user`, whose rule refuses
   * "Phone" or "call queue": tasks in such a queue reach supervisors
   * only, and no agent's Next case ever gives them. Checks generation 4. */
  if (queue && user_check_name(queue, "queue", &bad) != RC_OK) {
    char meant[200];
    queue_meant(queue, meant, sizeof meant);
    if (table)
      check_finding(s->sc, 4, s->file, c->line,
                    "case:task: queue '%s' is no queue an agent can be given "
                    "(1 to 64 characters of a-z 0-9 . _ -, as recoup user "
                    "--queues takes them): only supervisors would see its "
                    "tasks. %s; the tasks already made in '%s' stay there "
                    "until a supervisor Reassigns them",
                    queue, meant, queue);
    else {
      /* case:task("Call"): no options, the kind is the queue. Checks
       * generation 5: a book held to 4 had it pass, and at run time
       * such a task is refused only from 5 on (engine_task). */
      char low[65], give[200];
      if (user_name_meant(queue, low, sizeof low))
        snprintf(give, sizeof give, "queue = \"%s\"", low);
      else
        rc_copy(give, sizeof give, "queue = ... in those characters");
      check_finding(s->sc, 5, s->file, c->line,
                    "case:task: with no queue given, its tasks go to the "
                    "queue named as the kind, '%s', which is no queue an "
                    "agent can be given (1 to 64 characters of a-z 0-9 . _ "
                    "-, as recoup user --queues takes them): only "
                    "supervisors would see its tasks. Give it a queue, "
                    "case:task(\"%s\", { %s }), and give that to agents "
                    "(recoup user set NAME --queues); the tasks already made "
                    "in '%s' stay there until a supervisor Reassigns them",
                    queue, queue, give, queue);
    }
  }
  if (queue) {
    lua_getfield(L, LUA_REGISTRYINDEX, REG_TASK_QUEUES); /* queues */
    lua_pushboolean(L, 1);                               /* queues true */
    lua_setfield(L, -2, queue);                          /* queues */
    lua_pop(L, 1);
  } else {
    unseen_queue_at(L, s->file, c->line);
  }
}

/* A name written with a NUL in it ("phone\0x", "\x00", "\u{0}"): the
 * core keeps names as text, which ends at the NUL, and the run refuses
 * it (lua_case.c name_at), so each case reaching it would be set aside.
 * Not a finding of a generation: the name the core would have kept is
 * another than the script's (a task of queue phone, a text by sms). */
typedef struct nul_arg {
  const char *method;
  int arg;          /* the argument, from 0 */
  const char *key;  /* a key of that argument's table literal, or NULL */
  const char *what; /* as the run says it */
} nul_arg;

static const nul_arg nul_args[] = {
    {"after", 1, NULL, "the timer's event"},
    {"at", 1, NULL, "the timer's event"},
    {"at_dpd", 1, NULL, "the timer's event"},
    {"cancel", 0, NULL, "case:cancel: the event"},
    {"assign", 0, NULL, "case:assign: the queue"},
    {"variant", 0, NULL, "case:variant: the experiment"},
    {"send", 0, NULL, "case:send: the channel"},
    {"send", 1, NULL, "case:send: the template"},
    {"send", 2, "to", "case:send: to"},
    {"send", 3, "to", "case:send: to"},
    {"task", 0, NULL, "case:task: the kind"},
    {"task", 1, "queue", "case:task: queue"},
    {"task", 1, "assignee", "case:task: assignee"},
};

typedef struct nul_scan {
  send_scan *s;
  const char *method;
} nul_scan;

static void check_nul_call(void *ud, const source_call *c) {
  const nul_scan *n = ud;
  for (size_t i = 0; i < sizeof nul_args / sizeof nul_args[0]; i++) {
    const nul_arg *a = &nul_args[i];
    const source_arg *v = &c->args[a->arg];
    int nul = 0;
    if (strcmp(a->method, n->method) != 0 || a->arg >= c->nargs) continue;
    if (!a->key && v->kind == SOURCE_STRING)
      nul = v->nul;
    else if (a->key && v->kind == SOURCE_TABLE)
      nul = source_table_string_nul(n->s->src, v->table, a->key);
    if (nul)
      check_error(n->s->sc, n->s->file, c->line,
                  "%s holds a NUL byte (at byte %d): a name is kept as "
                  "text, which ends at a NUL",
                  a->what, nul);
  }
}

static void check_nuls(send_scan *s) {
  static const char *const methods[] = {"after",  "at",      "at_dpd", "cancel",
                                        "assign", "variant", "send",   "task"};
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    nul_scan n = {s, methods[i]};
    source_each_call(s->src, methods[i], check_nul_call, &n);
  }
}

void check_sends(script *sc) {
  lua_State *L = sc->L;
  int n;
  char **files;
  lua_getfield(L, LUA_REGISTRYINDEX, REG_WORKFLOW_FILES); /* files */
  files = script_sorted_keys(L, -1, &n); /* in a stable order */
  lua_pop(L, 1);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, REG_TASK_QUEUES);
  for (int i = 0; i < n; i++) {
    send_scan s = {sc, NULL, files[i]};
    if ((s.src = check_source(L, s.file)) != NULL) {
      source_each_call(s.src, "send", check_send, &s);
      source_each_call(s.src, "task", note_task_queue, &s);
      source_each_method(s.src, "case", check_case_method, &s);
      check_nuls(&s);
    } else {
      unseen_queue_at(L, s.file, 0);
    }
  }
  script_free_keys(files, n);
}
