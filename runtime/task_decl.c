/* A workflow's declared task kinds: what each kind counts as for the
 * guard, and the outcomes a person may record with the fields each one
 * asks. The declaration is checked when the workflow loads; a completion is
 * checked against it before anything is written, so a collector's typo
 * is a 422 naming the field, not a case stuck in error (DESIGN.md "Task
 * outcomes are declared").
 *
 *   tasks = {
 *     call = { counts_as = "call", priority = 10, outcomes = {
 *       promise = { amount = "money", by = "date", conversation = true },
 *       no_answer = {},
 *       met = { whom = { "borrower", "spouse", "other" }, said = "text?" } } },
 *   }
 *
 * Field types: text, money, date (a date, a date-time or a duration from
 * now, stored as the date it names), bool, int, or a list of choices; a
 * trailing "?" (or `optional = true` in a list) makes a field optional.
 * A field may also be a table with a type, where int and money take
 * bounds (money's in minor units):
 *
 *   installments = { type = "int", min = 1, max = 60, optional = true }
 *
 * `note` (text) may accompany any outcome. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "script_priv.h"
#include "source.h"
#include "task_decl.h"
#include "template.h"

#define ERR(...) script_load_error(L, 1, __VA_ARGS__)

static const char *const scalar_types[] = {"text", "money", "date", "bool",
                                           "int",  NULL};

static int is_scalar_type(const char *t, size_t n) {
  for (int i = 0; scalar_types[i]; i++)
    if (strlen(scalar_types[i]) == n && memcmp(scalar_types[i], t, n) == 0)
      return 1;
  return 0;
}

/* Where a field is declared: its kind and outcome, to find its line. */
typedef struct decl_at {
  const char *kind, *outcome;
} decl_at;

/* A load error (since 0) or a newer check's finding at the line of the
 * field's declaration in the calling workflow's file (the tasks table is
 * often a local of its own), else at the recoup.workflow call. */
static void field_error(lua_State *L, const decl_at *at, const char *field,
                        int since, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void field_error(lua_State *L, const decl_at *at, const char *field,
                        int since, const char *fmt, ...) {
  script *sc = script_of(L);
  const char *keys[4] = {at->kind, "outcomes", at->outcome, field};
  const source *src;
  lua_Debug ar;
  char msg[1024];
  int line = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (!lua_getstack(L, 1, &ar) || !lua_getinfo(L, "Sl", &ar) ||
      ar.source[0] != '@') {
    script_load_finding(L, 1, since, "%s", msg);
    return;
  }
  if ((src = check_source(L, ar.source + 1)) != NULL)
    line = source_find(src, keys, 4);
  if (since)
    check_finding(sc, since, ar.source + 1, line ? line : ar.currentline, "%s",
                  msg);
  else
    check_error(sc, ar.source + 1, line ? line : ar.currentline, "%s", msg);
}

#define FERR(...) field_error(L, at, field, 0, __VA_ARGS__)

/* A field declared as a table with a type, at the top of the stack. A
 * malformed one refuses whatever the book's checks generation: a bound
 * recoup cannot read is one it cannot hold, and a count or an amount the
 * lender meant to refuse would be stored done (engine.c, "checks
 * generations"). */
static void validate_typed(lua_State *L, const decl_at *at, const char *what,
                           const char *field) {
  int f = lua_gettop(L), bounded = 0, exact = 0;
  const char *type = NULL;
  lua_Integer lo = 0, hi = 0;
  int has[2] = {0, 0};
  if (lua_getfield(L, f, "type") != LUA_TSTRING ||
      !is_scalar_type(lua_tostring(L, -1), lua_rawlen(L, -1)))
    FERR(
        "%s.%s: type must be one of text, money, date, bool, int (write "
        "optional = true, not a trailing ?)",
        what, field);
  else
    type = lua_tostring(L, -1); /* the declaration keeps it */
  lua_pop(L, 1);
  bounded = type && (!strcmp(type, "int") || !strcmp(type, "money"));
  lua_pushnil(L);
  while (lua_next(L, f)) { /* key value */
    const char *key =
        lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    int which = key && !strcmp(key, "min")   ? 0
                : key && !strcmp(key, "max") ? 1
                                             : -1;
    if (!key) {
      FERR(
          "%s.%s: a field with a type has no list of choices (a list of "
          "choices has no type key)",
          what, field);
    } else if (!strcmp(key, "optional")) {
      if (!lua_isboolean(L, -1))
        FERR("%s.%s.optional must be true or false", what, field);
    } else if (which >= 0) {
      if (type && !bounded)
        FERR("%s.%s: %s is for int and money fields, not %s", what, field, key,
             type);
      else if (lua_type(L, -1) != LUA_TNUMBER ||
               (lua_tointegerx(L, -1, &exact), !exact))
        /* 1e6 and 60.0 are whole numbers, read exactly; 1.5, 2^63 and a
         * string are not. */
        FERR("%s.%s.%s must be a whole number%s", what, field, key,
             type && !strcmp(type, "money") ? " of minor units" : "");
      else {
        lua_Integer v = lua_tointeger(L, -1);
        if (type && !strcmp(type, "money") && (v < 0 || v > TASK_MONEY_MAX))
          FERR("%s.%s.%s: money bounds are minor units from 0 to %lld", what,
               field, key, (long long)TASK_MONEY_MAX);
        has[which] = 1;
        if (which)
          hi = v;
        else
          lo = v;
      }
    } else if (strcmp(key, "type") != 0) {
      FERR("%s.%s: unknown key '%s' (type, min, max, optional)", what, field,
           key);
    }
    lua_pop(L, 1);
  }
  if (has[0] && has[1] && lo > hi)
    FERR("%s.%s: min %lld is above max %lld", what, field, (long long)lo,
         (long long)hi);
}

/* A field's type at the top of the stack: a type name or a list. */
static void validate_field(lua_State *L, const decl_at *at, const char *what,
                           const char *field) {
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *t = lua_tolstring(L, -1, &n);
    if (n > 0 && t[n - 1] == '?') n--;
    if (!is_scalar_type(t, n))
      ERR("%s.%s: unknown field type '%s' (text, money, date, bool, int, "
          "or a list of choices; a trailing ? makes it optional)",
          what, field, t);
    return;
  }
  if (lua_istable(L, -1)) {
    lua_Integer len;
    int typed = lua_getfield(L, -1, "type") != LUA_TNIL;
    lua_pop(L, 1);
    if (typed) {
      validate_typed(L, at, what, field);
      return;
    }
    len = luaL_len(L, -1);
    if (len < 1)
      ERR("%s.%s: a list of choices needs at least one choice", what, field);
    for (lua_Integer i = 1; i <= len; i++) {
      if (lua_rawgeti(L, -1, i) != LUA_TSTRING || lua_rawlen(L, -1) == 0)
        ERR("%s.%s[%lld] must be a non-empty string", what, field,
            (long long)i);
      lua_pop(L, 1);
    }
    /* Checks generation 2: a list's other keys were passed over, and
     * `optinal = true` left the field required. A collector is asked
     * for one field too many; nothing is lost, so an older book warns. */
    lua_pushnil(L);
    while (lua_next(L, -2)) { /* key value */
      if (!lua_isinteger(L, -2) && (lua_type(L, -2) != LUA_TSTRING ||
                                    strcmp(lua_tostring(L, -2), "optional")))
        field_error(
            L, at, field, 2,
            "%s.%s: a list of choices takes only its choices and optional; "
            "not '%s'",
            what, field,
            lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?");
      lua_pop(L, 1);
    }
    return;
  }
  ERR("%s.%s must be a field type such as \"text\" or a list of choices", what,
      field);
}

static void validate_outcome(lua_State *L, const decl_at *at,
                             const char *what) {
  int idx = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *key =
        lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!key) {
      ERR("%s: fields must be named", what);
    } else if (strcmp(key, "conversation") == 0) {
      if (!lua_isboolean(L, -1))
        ERR("%s.conversation must be true or false", what);
    } else if (strcmp(key, "outcome") == 0 || strcmp(key, "note") == 0) {
      ERR("%s: '%s' is given with every completion; it cannot be declared",
          what, key);
    } else {
      validate_field(L, at, what, key);
    }
    lua_pop(L, 1);
  }
}

void task_decl_validate(lua_State *L, int idx, const char *wname) {
  char what[200];
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *kind =
        lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (!kind) {
      ERR("workflow %s: tasks must be named by kind", wname);
      lua_pop(L, 1);
      continue;
    }
    snprintf(what, sizeof what, "workflow %s: tasks.%s", wname, kind);
    if (!lua_istable(L, -1)) {
      ERR("%s must be a table with outcomes", what);
      lua_pop(L, 1);
      continue;
    }
    {
      int k = lua_gettop(L);
      lua_pushnil(L);
      while (lua_next(L, k)) {
        const char *key =
            lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (strcmp(key, "outcomes") && strcmp(key, "counts_as") &&
            strcmp(key, "priority") && strcmp(key, "description"))
          ERR("%s: unknown field '%s' (outcomes, counts_as, priority, "
              "description)",
              what, key);
        lua_pop(L, 1);
      }
      if (lua_getfield(L, k, "counts_as") != LUA_TNIL &&
          (lua_type(L, -1) != LUA_TSTRING ||
           (strcmp(lua_tostring(L, -1), "call") &&
            strcmp(lua_tostring(L, -1), "visit"))))
        ERR("%s.counts_as must be \"call\" or \"visit\"", what);
      if (lua_getfield(L, k, "priority") != LUA_TNIL &&
          lua_type(L, -1) != LUA_TNUMBER)
        ERR("%s.priority must be a number (higher first)", what);
      lua_pop(L, 2);
      if (lua_getfield(L, k, "outcomes") != LUA_TTABLE) {
        ERR("%s.outcomes must be a table of outcomes", what);
      } else {
        int o = lua_gettop(L), count = 0;
        lua_pushnil(L);
        while (lua_next(L, o)) {
          char owhat[300];
          count++;
          if (lua_type(L, -2) != LUA_TSTRING) {
            ERR("%s.outcomes must be named", what);
          } else if (strlen(lua_tostring(L, -2)) != lua_rawlen(L, -2)) {
            /* A completion names its outcome as text, which ends at a
             * NUL: ['no\0answer'] was offered as "no", which no
             * completion could then record. */
            ERR("%s.outcomes: an outcome's name holds a NUL byte (at byte "
                "%d of %d): an outcome is kept as text, which ends at a NUL",
                what, (int)strlen(lua_tostring(L, -2)) + 1,
                (int)lua_rawlen(L, -2));
          } else if (!lua_istable(L, -1)) {
            ERR("%s.outcomes.%s must be a table of fields ({} for none)", what,
                lua_tostring(L, -2));
          } else {
            decl_at at = {kind, lua_tostring(L, -2)};
            snprintf(owhat, sizeof owhat, "%s.outcomes.%s", what,
                     lua_tostring(L, -2));
            validate_outcome(L, &at, owhat);
          }
          lua_pop(L, 1);
        }
        if (count == 0) ERR("%s.outcomes is empty", what);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

/* Whether the tasks table at idx declares kind (len bytes). */
static int declares(lua_State *L, int idx, const char *kind, size_t len) {
  int t;
  lua_pushlstring(L, kind, len);
  t = lua_rawget(L, idx);
  lua_pop(L, 1);
  return t != LUA_TNIL;
}

/* `recoup check` finds a case:task that names a kind the declaration
 * lacks where it can tell: a literal kind in the workflow's own file
 * (`case:task("call", ...)`). A kind chosen at run time is checked when
 * the task is made. */
void task_decl_scan(lua_State *L, int idx, const char *wname) {
  script *sc = script_of(L);
  lua_Debug ar;
  FILE *f;
  char line[4096];
  int lineno = 0;
  idx = lua_absindex(L, idx);
  if (!sc->errors || !lua_getstack(L, 1, &ar) || !lua_getinfo(L, "S", &ar) ||
      ar.source[0] != '@')
    return;
  if (!(f = fopen(ar.source + 1, "r"))) return;
  while (fgets(line, sizeof line, f)) {
    const char *p = line;
    lineno++;
    while ((p = strstr(p, "task")) != NULL) {
      const char *q = p + 4, *start;
      char quote;
      int method = p > line && (p[-1] == ':' || p[-1] == '.');
      p += 4;
      if (!method) continue;
      while (*q == ' ' || *q == '\t') q++;
      if (*q != '(') continue;
      q++;
      while (*q == ' ' || *q == '\t') q++;
      if (*q != '"' && *q != '\'') continue;
      quote = *q++;
      start = q;
      while (*q && *q != quote && *q != '\\') q++;
      if (*q != quote || q == start) continue;
      if (!declares(L, idx, start, (size_t)(q - start))) {
        rc_error err;
        rc_error_clear(&err);
        err.code = RC_EINVAL;
        rc_copy(err.file, sizeof err.file, ar.source + 1);
        err.line = lineno;
        snprintf(err.message, sizeof err.message,
                 "workflow %s: case:task names kind '%.*s', which its tasks "
                 "table does not declare",
                 wname, (int)(q - start), start);
        rc_errlist_add(sc->errors, &err);
      }
    }
  }
  fclose(f);
}

/* --- checking a completion ------------------------------------------- */

/* Declared types, read once per field. */
typedef struct field_type {
  char name[8]; /* text money date bool int, or "" for choices */
  int optional;
  int choices;  /* the value at the top of the stack is the list */
  int has_min, has_max; /* int and money declared as a table */
  int64_t min, max;
} field_type;

static field_type read_type(lua_State *L) {
  field_type t;
  memset(&t, 0, sizeof t);
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (n > 0 && s[n - 1] == '?') t.optional = 1, n--;
    if (n >= sizeof t.name) n = sizeof t.name - 1;
    memcpy(t.name, s, n);
  } else if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "optional"); /* optional */
    t.optional = lua_toboolean(L, -1);
    if (lua_getfield(L, -2, "type") == LUA_TSTRING) { /* optional type */
      rc_copy(t.name, sizeof t.name, lua_tostring(L, -1));
      if (lua_getfield(L, -3, "min") == LUA_TNUMBER) /* ... min */
        t.has_min = 1, t.min = lua_tointeger(L, -1);
      if (lua_getfield(L, -4, "max") == LUA_TNUMBER) /* ... min max */
        t.has_max = 1, t.max = lua_tointeger(L, -1);
      lua_pop(L, 2);
    } else {
      t.choices = 1;
    }
    lua_pop(L, 2);
  }
  return t;
}

/* A whole number against its declared bounds: 422 naming the field and
 * the bound, before anything is written. */
static int check_bounds(const field_type *t, const char *field, int64_t v,
                        rc_error *err) {
  const char *unit = !strcmp(t->name, "money") ? " minor units" : "";
  if (t->has_min && v < t->min)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s must be at least %lld%s (got %lld)", field,
                        (long long)t->min, unit, (long long)v);
  if (t->has_max && v > t->max)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s must be at most %lld%s (got %lld)", field,
                        (long long)t->max, unit, (long long)v);
  return RC_OK;
}

static int in_choices(lua_State *L, const char *value) {
  lua_Integer len = luaL_len(L, -1);
  for (lua_Integer i = 1; i <= len; i++) {
    int hit;
    lua_rawgeti(L, -1, i);
    hit = lua_type(L, -1) == LUA_TSTRING && !strcmp(lua_tostring(L, -1), value);
    lua_pop(L, 1);
    if (hit) return 1;
  }
  return 0;
}

static int check_text(json_t *v, const char *field, rc_error *err) {
  if (!json_is_string(v))
    return rc_error_set(err, RC_EINVAL, field, "%s must be text", field);
  if (json_string_length(v) > TASK_TEXT_MAX)
    return rc_error_set(err, RC_EINVAL, field,
                        "%s is too long (%zu bytes; at most %d)", field,
                        json_string_length(v), TASK_TEXT_MAX);
  if (strlen(json_string_value(v)) != json_string_length(v))
    return rc_error_set(err, RC_EINVAL, field, "%s holds a NUL character",
                        field);
  return RC_OK;
}

/* Checks one value against its type; a date becomes the date it names. */
static int check_value(lua_State *L, rc_clock *clk, const char *currency,
                       json_t *body, const char *field, json_t *v,
                       const field_type *t, rc_error *err) {
  if (t->choices) {
    if (!json_is_string(v) || !in_choices(L, json_string_value(v))) {
      char list[256] = "";
      lua_Integer len = luaL_len(L, -1);
      for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, -1, i);
        if (lua_isstring(L, -1) && strlen(list) + lua_rawlen(L, -1) + 3 <
                                       sizeof list) {
          if (*list) strcat(list, ", ");
          strcat(list, lua_tostring(L, -1));
        }
        lua_pop(L, 1);
      }
      return rc_error_set(err, RC_EINVAL, field, "%s must be one of: %s",
                          field, list);
    }
    return RC_OK;
  }
  if (!strcmp(t->name, "text")) return check_text(v, field, err);
  if (!strcmp(t->name, "bool")) {
    if (!json_is_boolean(v))
      return rc_error_set(err, RC_EINVAL, field, "%s must be true or false",
                          field);
    return RC_OK;
  }
  if (!strcmp(t->name, "int")) {
    if (!json_is_integer(v))
      return rc_error_set(err, RC_EINVAL, field, "%s must be a whole number",
                          field);
    return check_bounds(t, field, json_integer_value(v), err);
  }
  if (!strcmp(t->name, "money")) {
    /* Bounds the lender declared are said as declared; 0 and 10^15, the
     * bounds of every amount, only where they are what refuses. */
    char example[64];
    if (!json_is_integer(v))
      return rc_error_set(err, RC_EINVAL, field,
                          "%s must be a whole number of minor units (%s)",
                          field,
                          template_money_example(currency, example,
                                                 sizeof example));
    if (check_bounds(t, field, json_integer_value(v), err)) return RC_EINVAL;
    if (json_integer_value(v) < 0)
      return rc_error_set(err, RC_EINVAL, field,
                          "%s must not be negative (got %lld)", field,
                          (long long)json_integer_value(v));
    if (json_integer_value(v) > TASK_MONEY_MAX)
      return rc_error_set(err, RC_EINVAL, field,
                          "%s must be at most %lld minor units (got %lld)",
                          field, (long long)TASK_MONEY_MAX,
                          (long long)json_integer_value(v));
    return RC_OK;
  }
  if (!strcmp(t->name, "date")) {
    rc_time at;
    rc_error perr;
    rc_duration dur;
    if (!json_is_string(v) ||
        clock_parse_time(clk, json_string_value(v), &at, &perr) != RC_OK)
      return rc_error_set(err, RC_EINVAL, field,
                          "%s must be a date (2026-01-10), a date-time or a "
                          "duration from now (7d)",
                          field);
    /* A duration is stored as the date it named on the day it was given:
     * the handler, and a retry a week later, read the same date. */
    if (clock_parse_duration(json_string_value(v), &dur, &perr) == RC_OK) {
      rc_date d = clock_zone_date(clock_zone(clk), at);
      char text[16];
      clock_date_format(&d, text, sizeof text);
      json_object_set_new(body, field, json_string(text));
    }
    return RC_OK;
  }
  return rc_error_set(err, RC_EINVAL, field, "%s has an unknown type", field);
}

/* Pushes the declaration of kind in the workflow at wf, or nothing. */
static int push_kind(lua_State *L, int wf, const char *kind) {
  if (lua_getfield(L, wf, "tasks") != LUA_TTABLE) {
    lua_pop(L, 1);
    return -1; /* no declaration at all */
  }
  if (lua_getfield(L, -1, kind) != LUA_TTABLE) {
    lua_pop(L, 2);
    return 0;
  }
  lua_remove(L, -2);
  return 1;
}

int task_decl_kind(lua_State *L, int wf, const char *kind,
                   script_task_kind *out) {
  int found;
  memset(out, 0, sizeof *out);
  found = push_kind(L, wf, kind);
  out->any = found >= 0;
  out->declared = found > 0;
  if (found <= 0) return RC_OK;
  if (lua_getfield(L, -1, "counts_as") == LUA_TSTRING)
    rc_copy(out->counts_as, sizeof out->counts_as, lua_tostring(L, -1));
  if (lua_getfield(L, -2, "priority") == LUA_TNUMBER)
    out->priority = lua_tonumber(L, -1);
  lua_pop(L, 3);
  return RC_OK;
}

int task_decl_check(lua_State *L, int wf, rc_clock *clk, const char *kind,
                    const char *currency, json_t *body, int *conversation,
                    rc_error *err) {
  const char *outcome, *key;
  json_t *v;
  int found, base = lua_gettop(L), rc = RC_OK;
  *conversation = 0;
  outcome = json_string_value(json_object_get(body, "outcome"));
  if (!outcome)
    return rc_error_set(err, RC_EINVAL, "outcome",
                        "a task completion needs an outcome string");
  if ((v = json_object_get(body, "note")) && (rc = check_text(v, "note", err)))
    return rc;
  found = push_kind(L, wf, kind);
  if (found < 0) return RC_OK; /* nothing declared: the handler decides */
  if (found == 0) {
    lua_settop(L, base);
    return rc_error_set(err, RC_EINVAL, "kind",
                        "task kind '%s' is not declared in the workflow's "
                        "tasks",
                        kind);
  }
  lua_getfield(L, -1, "outcomes");
  if (!lua_istable(L, -1) || lua_getfield(L, -1, outcome) != LUA_TTABLE) {
    char list[512] = "";
    if (lua_istable(L, -2)) {
      lua_pushnil(L);
      while (lua_next(L, -3)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING &&
            strlen(list) + lua_rawlen(L, -1) + 3 < sizeof list) {
          if (*list) strcat(list, ", ");
          strcat(list, lua_tostring(L, -1));
        }
      }
    }
    lua_settop(L, base);
    return rc_error_set(err, RC_EINVAL, "outcome",
                        "outcome '%s' is not declared for task kind '%s' "
                        "(declared: %s)",
                        outcome, kind, list);
  }
  /* Every field given must be declared for this outcome. */
  json_object_foreach(body, key, v) {
    int t;
    if (!strcmp(key, "outcome") || !strcmp(key, "note")) continue;
    t = lua_getfield(L, -1, key);
    lua_pop(L, 1);
    if (t == LUA_TNIL || !strcmp(key, "conversation")) {
      rc = rc_error_set(err, RC_EINVAL, key,
                        "field '%s' is not declared for outcome '%s' of task "
                        "kind '%s'",
                        key, outcome, kind);
      break;
    }
  }
  /* Every declared field present has its type; the required ones are
   * there. */
  if (rc == RC_OK) {
    int o = lua_gettop(L);
    lua_pushnil(L);
    while (rc == RC_OK && lua_next(L, o)) {
      const char *field =
          lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      if (field && !strcmp(field, "conversation")) {
        *conversation = lua_toboolean(L, -1);
      } else if (field) {
        field_type t = read_type(L);
        json_t *given = json_object_get(body, field);
        if (!given || json_is_null(given)) {
          if (!t.optional)
            rc = rc_error_set(err, RC_EINVAL, field,
                              "%s is required for outcome '%s' of task kind "
                              "'%s'",
                              field, outcome, kind);
        } else {
          rc = check_value(L, clk, currency, body, field, given, &t, err);
        }
      }
      lua_pop(L, 1);
    }
  }
  lua_settop(L, base);
  return rc;
}

/* --- the declaration as the console's forms read it -------------------- */

json_t *task_decl_outcomes(lua_State *L, int wf, const char *kind) {
  json_t *out;
  int base = lua_gettop(L), o;
  if (push_kind(L, wf, kind) <= 0) {
    lua_settop(L, base);
    return NULL;
  }
  out = json_object();
  if (lua_getfield(L, -1, "outcomes") != LUA_TTABLE) {
    lua_settop(L, base);
    return out;
  }
  o = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, o)) { /* outcomes, name, fields */
    json_t *fields = json_object(), *one;
    int f = lua_gettop(L), conversation = 0;
    if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1)) {
      json_decref(fields);
      lua_pop(L, 1);
      continue;
    }
    lua_pushnil(L);
    while (lua_next(L, f)) { /* fields, field, type */
      const char *field =
          lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      if (field && !strcmp(field, "conversation")) {
        conversation = lua_toboolean(L, -1);
      } else if (field) {
        field_type t = read_type(L);
        json_t *d = json_pack("{s:s, s:b}", "type",
                              t.choices ? "choices" : t.name, "optional",
                              t.optional);
        if (t.has_min) json_object_set_new(d, "min", json_integer(t.min));
        if (t.has_max) json_object_set_new(d, "max", json_integer(t.max));
        if (t.choices) {
          json_t *list = json_array();
          lua_Integer len = luaL_len(L, -1);
          for (lua_Integer i = 1; i <= len; i++) {
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
              json_array_append_new(list, json_string(lua_tostring(L, -1)));
            lua_pop(L, 1);
          }
          json_object_set_new(d, "choices", list);
        }
        json_object_set_new(fields, field, d);
      }
      lua_pop(L, 1);
    }
    one = json_pack("{s:o, s:b}", "fields", fields, "conversation",
                    conversation);
    json_object_set_new(out, lua_tostring(L, -2), one);
    lua_pop(L, 1);
  }
  lua_settop(L, base);
  return out;
}
