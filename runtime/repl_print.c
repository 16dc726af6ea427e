/* The REPL's pretty printer: values as Lua would read them back, lists of
 * rows (messages(), tasks(), journal(), timers()) as aligned columns,
 * cases as a collector's summary. Terminal text is UTF-8 and a column is
 * measured in the cells a terminal gives it, Chinese two to a character. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/utf8.h>

#include <lauxlib.h>

#include "lua_rt.h"
#include "repl.h"
#include "template.h"
#include "textwidth.h"

/* The text grows in a userdata at a fixed stack slot, not in a luaL_Buffer:
 * the printer walks tables with values pushed above its text, which a
 * luaL_Buffer (its box must stay on top) does not allow. If a __tostring
 * raises, the collector takes the text with the rest. */
typedef struct printer {
  lua_State *L;
  engine *eng;
  int box;  /* stack slot of the userdata holding the text */
  int seen; /* stack slot of { [table] = true } for the tables being shown */
  char *s;
  size_t len, cap;
} printer;

static void grow(printer *p, size_t more) {
  size_t cap = p->cap;
  char *s;
  if (p->len + more <= cap) return;
  while (cap < p->len + more) cap *= 2;
  s = lua_newuserdatauv(p->L, cap, 0); /* ... text */
  memcpy(s, p->s, p->len);
  lua_replace(p->L, p->box); /* the old text is garbage now */
  p->s = s;
  p->cap = cap;
}

static void add(printer *p, const char *s, size_t n) {
  grow(p, n);
  memcpy(p->s + p->len, s, n);
  p->len += n;
}

static void adds(printer *p, const char *s) {
  add(p, s, strlen(s));
}

static void addc(printer *p, char c) {
  add(p, &c, 1);
}

/* luaL_tolstring of the value at idx, stack unchanged. */
static void add_tostring(printer *p, int idx) {
  size_t n;
  const char *s = luaL_tolstring(p->L, idx, &n);
  add(p, s, n);
  lua_pop(p->L, 1);
}

/* The next character of s (n bytes left): its code point and its length,
 * decoded by ICU. A byte that does not start a well-formed sequence
 * (overlong, a surrogate, past U+10FFFF, cut short) is 1 byte, U+FFFD. */
static size_t utf8_next(const unsigned char *s, size_t n, unsigned *cp) {
  int32_t i = 0, len = n > INT32_MAX ? INT32_MAX : (int32_t)n;
  UChar32 c;
  U8_NEXT(s, i, len, c);
  if (c < 0) {
    *cp = 0xFFFD;
    return 1;
  }
  *cp = (unsigned)c;
  return (size_t)i;
}

/* Columns a terminal gives a character: ICU's East Asian width (2 for
 * Wide and Fullwidth: Han, kana, Hangul, fullwidth forms, emoji), 0 for
 * combining marks and format characters, 1 otherwise (textwidth.c).
 * Properties, not the locale: a column is as wide in a pipe and under
 * LANG=C as on the terminal. */
static int char_width(unsigned c) {
  return text_char_cols((int32_t)c);
}

static size_t text_width(const char *s, size_t n) {
  size_t w = 0, i = 0;
  while (i < n) {
    unsigned c;
    i += utf8_next((const unsigned char *)s + i, n - i, &c);
    w += (size_t)char_width(c);
  }
  return w;
}

/* Whether the character at s is one a terminal must not get as it is:
 * a C1 control, or an invisible or bidirectional one (rc_invisible: the
 * CLI shows them as '?'); *len its bytes. */
static int hidden(const char *s, size_t n, size_t *len) {
  unsigned cp;
  *len = utf8_next((const unsigned char *)s, n, &cp);
  return (cp >= 0x80 && cp <= 0x9F) || rc_invisible(cp);
}

static void add_quoted(printer *p, const char *s, size_t n) {
  size_t len;
  addc(p, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      addc(p, '\\');
      addc(p, (char)c);
    } else if (c == '\n') {
      adds(p, "\\n");
    } else if (c == '\t') {
      adds(p, "\\t");
    } else if (c < 0x20 || c == 0x7F) {
      char esc[8]; /* as %q writes it: 3 digits when a digit follows */
      int digit = i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9';
      snprintf(esc, sizeof esc, digit ? "\\%03d" : "\\%d", c);
      adds(p, esc);
    } else if (c >= 0xC2 && hidden(s + i, n - i, &len)) {
      /* A bidi override would turn the rest of the line around on the
       * terminal: written as Lua writes it, so it can be typed back. */
      char esc[16];
      unsigned cp;
      utf8_next((const unsigned char *)s + i, n - i, &cp);
      snprintf(esc, sizeof esc, "\\u{%X}", cp);
      adds(p, esc);
      i += len - 1;
    } else {
      addc(p, (char)c);
    }
  }
  addc(p, '"');
}

static int is_identifier(const char *s, size_t n) {
  if (n == 0 || (*s >= '0' && *s <= '9')) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
          (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
      return 0;
  return 1;
}

/* A key of a table, for sorting: numbers, then strings, then the rest in
 * the order the table gave them. */
typedef struct key {
  int kind, slot; /* slot: where the key is kept in the anchor table */
  lua_Number num;
  const char *str;
  size_t len;
} key;

static int key_cmp(const void *a, const void *b) {
  const key *x = a, *y = b;
  if (x->kind != y->kind) return x->kind - y->kind;
  if (x->kind == 0 && x->num != y->num) return x->num < y->num ? -1 : 1;
  if (x->kind == 1) {
    int c = memcmp(x->str, y->str, x->len < y->len ? x->len : y->len);
    if (c || x->len != y->len) return c ? c : x->len < y->len ? -1 : 1;
  }
  return x->slot - y->slot;
}

/* Pushes the keys of the table at idx outside its sequence 1..n, anchored
 * in a table so their strings live while sorted, and returns them sorted
 * in a userdata pushed above it (both freed with the stack). */
static key *sorted_keys(lua_State *L, int idx, lua_Integer n, int *count) {
  int total = 0;
  key *keys;
  lua_newtable(L); /* anchor */
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
        lua_tointeger(L, -1) <= n)
      continue;
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, ++total);
  }
  keys = lua_newuserdatauv(L, (size_t)total * sizeof *keys + 1, 0);
  for (int i = 0; i < total; i++) {
    int t = lua_rawgeti(L, -2, i + 1); /* anchor keys key */
    keys[i].slot = i + 1;
    keys[i].kind = t == LUA_TNUMBER ? 0 : t == LUA_TSTRING ? 1 : 2;
    keys[i].num = t == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    keys[i].str = t == LUA_TSTRING ? lua_tolstring(L, -1, &keys[i].len) : 0;
    lua_pop(L, 1);
  }
  qsort(keys, (size_t)total, sizeof *keys, key_cmp);
  *count = total;
  return keys;
}

static void show(printer *p, int idx, int indent, int depth);

/* A table as Lua would read it back: the sequence first, then the other
 * keys sorted, one a line (indent >= 0) or all on one (indent < 0). A
 * table met again inside itself prints as <cycle>. */
static void show_table(printer *p, int idx, int indent, int depth) {
  lua_State *L = p->L;
  int top = lua_gettop(L), nkeys, inline_ = indent < 0;
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  const char *sep = inline_ ? ", " : ",\n";
  key *keys;
  lua_pushvalue(L, idx);
  if (lua_rawget(L, p->seen) != LUA_TNIL) {
    adds(p, "<cycle>");
    lua_settop(L, top);
    return;
  }
  if (depth > (inline_ ? 2 : 8)) {
    adds(p, "{...}");
    lua_settop(L, top);
    return;
  }
  keys = sorted_keys(L, idx, n, &nkeys); /* nil anchor keys */
  if (n == 0 && nkeys == 0) {
    adds(p, "{}");
    lua_settop(L, top);
    return;
  }
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, p->seen);
  adds(p, inline_ ? "{" : "{\n");
  for (lua_Integer i = 1; i <= n + nkeys; i++) {
    if (!inline_)
      for (int k = 0; k < indent + 2; k++) addc(p, ' ');
    if (i <= n) {
      lua_rawgeti(L, idx, i); /* ... value */
    } else {
      const key *k = &keys[i - n - 1];
      lua_rawgeti(L, top + 2, k->slot); /* ... key */
      if (k->kind == 1 && is_identifier(k->str, k->len)) {
        add(p, k->str, k->len);
      } else {
        addc(p, '[');
        show(p, lua_gettop(L), -1, depth + 1);
        addc(p, ']');
      }
      adds(p, " = ");
      lua_rawget(L, idx); /* ... value */
    }
    show(p, lua_gettop(L), inline_ ? -1 : indent + 2, depth + 1);
    lua_pop(L, 1);
    if (!inline_ || i < n + nkeys) adds(p, sep);
  }
  if (!inline_)
    for (int k = 0; k < indent; k++) addc(p, ' ');
  addc(p, '}');
  lua_pushvalue(L, idx);
  lua_pushnil(L);
  lua_rawset(L, p->seen);
  lua_settop(L, top);
}

/* A row's field without metamethods: a printer only looks. */
static int rawfield(lua_State *L, int idx, const char *name) {
  idx = lua_absindex(L, idx);
  lua_pushstring(L, name);
  return lua_rawget(L, idx);
}

/* One cell: a string as it is, anything else as show() writes it on one
 * line. Appended to the text; returns where it starts. The row stays on
 * its line and a note of two lines does not read as one: a line break
 * (\n or \r\n) is shown as U+21B5 '↵', another control character, an
 * invisible or a bidirectional one (U+202E would turn the row around)
 * as '?', as the CLI shows it (rc_printable_line). */
static size_t add_cell(printer *p, int idx) {
  size_t mark = p->len, len;
  if (lua_type(p->L, idx) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(p->L, idx, &n);
    for (size_t i = 0; i < n; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == '\r' && i + 1 < n && s[i + 1] == '\n') continue;
      if (c == '\n') {
        adds(p, "\xe2\x86\xb5"); /* ↵ */
      } else if (c >= 0xC2 && hidden(s + i, n - i, &len)) {
        addc(p, '?');
        i += len - 1;
      } else {
        addc(p, c < 0x20 || c == 0x7F ? '?' : (char)c);
      }
    }
  } else {
    show(p, idx, -1, 1);
    for (size_t i = mark; i < p->len; i++) /* quoted: none, but a key */
      if ((unsigned char)p->s[i] < 0x20 || p->s[i] == 0x7F) p->s[i] = '?';
  }
  return mark;
}

/* Cuts the cell that starts at mark to width columns, on a character
 * boundary, marking a cut with '~'; pads it unless it is the last. */
static void fit_cell(printer *p, size_t mark, size_t width, int last) {
  size_t w = 0, i = mark, cut = mark, wcut = 0;
  while (i < p->len) {
    unsigned c;
    size_t n = utf8_next((unsigned char *)p->s + i, p->len - i, &c);
    size_t cw = (size_t)char_width(c);
    if (c == 0xFFFD && n == 1) p->s[i] = '?'; /* a stray byte */
    if (w + cw <= width - 1) cut = i + n, wcut = w + cw;
    w += cw;
    i += n;
  }
  if (w > width) {
    p->len = cut;
    addc(p, '~');
    w = wcut + 1;
  }
  if (!last)
    for (; w < width; w++) addc(p, ' ');
}

static const char *const column_order[] = {
    "id",       "case",   "kind",    "event",  "channel", "template", "queue",
    "state",    "status", "outcome", "reason", "to",      "due",      "at",
    "assignee", "body",   "detail",  "data",   NULL};
enum { MAX_COLUMNS = 18, MAX_WIDTH = 36 };

/* A list of rows (messages(), tasks(), journal(), timers()) as aligned
 * columns. 0 when the table at idx is not such a list. */
static int show_rows(printer *p, int idx) {
  lua_State *L = p->L;
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
  const char *cols[MAX_COLUMNS];
  size_t width[MAX_COLUMNS];
  int ncols = 0;
  if (n < 1) return 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) { /* key value: rows only, nothing beside */
    int row = lua_isinteger(L, -2) && lua_istable(L, -1);
    if (row && luaL_getmetafield(L, -1, "__tostring") != LUA_TNIL) {
      lua_pop(L, 1);
      row = 0;
    }
    lua_pop(L, 1); /* value */
    if (!row) {
      lua_pop(L, 1);
      return 0;
    }
    count++;
  }
  if (count != n) return 0;
  for (int c = 0; column_order[c]; c++) {
    int present = 0;
    for (lua_Integer i = 1; i <= n && !present; i++) {
      lua_rawgeti(L, idx, i);
      present = rawfield(L, -1, column_order[c]) != LUA_TNIL;
      lua_pop(L, 2);
    }
    if (present) cols[ncols++] = column_order[c];
  }
  if (ncols < 2) return 0;
  for (int c = 0; c < ncols; c++) {
    width[c] = strlen(cols[c]);
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, i);
      if (rawfield(L, -1, cols[c]) != LUA_TNIL) {
        size_t mark = add_cell(p, lua_gettop(L)), w;
        w = text_width(p->s + mark, p->len - mark);
        p->len = mark;
        if (w > width[c]) width[c] = w;
      }
      lua_pop(L, 2);
    }
    if (width[c] > MAX_WIDTH) width[c] = MAX_WIDTH;
  }
  for (int c = 0; c < ncols; c++) {
    size_t mark;
    if (c) adds(p, "  ");
    mark = p->len;
    adds(p, cols[c]);
    fit_cell(p, mark, width[c], c == ncols - 1);
  }
  for (lua_Integer i = 1; i <= n; i++) {
    addc(p, '\n');
    lua_rawgeti(L, idx, i); /* row */
    for (int c = 0; c < ncols; c++) {
      size_t mark;
      if (c) adds(p, "  ");
      mark = p->len;
      if (rawfield(L, -1, cols[c]) != LUA_TNIL) add_cell(p, lua_gettop(L));
      fit_cell(p, mark, width[c], c == ncols - 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return 1;
}

/* A case: what a collector wants to see at a glance. */
static void show_case(printer *p, int idx) {
  lua_State *L = p->L;
  char money[64];
  const institution_config *cfg = script_config(engine_script(p->eng));
  int top = lua_gettop(L);
  lua_getfield(L, idx, "id");
  lua_getfield(L, idx, "state");
  lua_getfield(L, idx, "balance");
  lua_getfield(L, idx, "currency");
  lua_getfield(L, idx, "dpd");
  template_format_money(cfg->locale, lua_tostring(L, -2),
                        (rc_money)lua_tointeger(L, -3), money, sizeof money);
  adds(p, lua_pushfstring(L, "case %s  state %s  balance %s  dpd %d",
                          lua_tostring(L, -5), lua_tostring(L, -4), money,
                          (int)lua_tointeger(L, -1)));
  if (lua_getfield(L, idx, "error") == LUA_TSTRING)
    adds(p, lua_pushfstring(L, "\n  error: %s", lua_tostring(L, -1)));
  lua_settop(L, top);
  /* next timers and open tasks, through rt */
  lua_getglobal(L, "rt");
  if (luaL_testudata(L, -1, "recoup.rt")) {
    int rt = lua_gettop(L);
    lua_getfield(L, rt, "timers");
    lua_pushvalue(L, rt);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 2, 1, 0) == LUA_OK && lua_istable(L, -1)) {
      lua_Integer n = luaL_len(L, -1);
      for (lua_Integer i = 1; i <= n && i <= 3; i++) {
        lua_rawgeti(L, -1, i);
        lua_getfield(L, -1, "event");
        lua_getfield(L, -2, "due");
        adds(p, lua_pushfstring(L, "\n  timer %s at %s", lua_tostring(L, -2),
                                lua_tostring(L, -1)));
        lua_pop(L, 4);
      }
    }
    lua_settop(L, rt);
    lua_getfield(L, rt, "tasks");
    lua_pushvalue(L, rt);
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
        adds(p, lua_pushfstring(L, "\n  task #%d %s (queue %s)",
                                (int)lua_tointeger(L, -3), lua_tostring(L, -2),
                                lua_tostring(L, -1)));
        lua_pop(L, 5);
      }
    }
  }
  lua_settop(L, top);
}

/* The value at idx; indent < 0 keeps it on one line. */
static void show(printer *p, int idx, int indent, int depth) {
  lua_State *L = p->L;
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 12, "nested too deep to print"); /* a level's needs */
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      add_quoted(p, s, n);
      return;
    }
    case LUA_TTABLE:
      if (luaL_getmetafield(L, idx, "__tostring") != LUA_TNIL) {
        lua_pop(L, 1);
        break;
      }
      if (depth == 0 && show_rows(p, idx)) return;
      show_table(p, idx, indent, depth);
      return;
    case LUA_TUSERDATA:
      if (depth == 0 && luaL_testudata(L, idx, "recoup.case")) {
        show_case(p, idx);
        return;
      }
      break;
  }
  add_tostring(p, idx);
}

int repl_print(lua_State *L) {
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    printer p = {L, lua_touserdata(L, lua_upvalueindex(1)), 0, 0, NULL, 0, 256};
    lua_newtable(L); /* seen */
    p.seen = lua_gettop(L);
    p.s = lua_newuserdatauv(L, p.cap, 0); /* seen text */
    p.box = lua_gettop(L);
    show(&p, i, 0, 0);
    addc(&p, '\n');
    fwrite(p.s, 1, p.len, stdout);
    lua_settop(L, n);
  }
  fflush(stdout);
  return 0;
}
