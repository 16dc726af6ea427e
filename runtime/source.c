/* A Lua file read as tokens and table constructors, for `recoup check`.
 *
 * Not a parser of Lua: it knows tokens (so strings and comments never
 * fool it), brackets, block keywords (so a comma inside a function body is
 * not a field separator) and the shape of a table constructor. That is
 * enough to say on which line `transitions = { call = { "vist" } }` names
 * "vist", or that `case:send("sms", "promise_ok", { amount = a })` passes
 * no `by`. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source.h"

enum { T_NAME, T_STRING, T_NUMBER, T_OP };

typedef struct token {
  int type, line;
  char *text; /* the name, the operator, or the string's contents */
  int nul;    /* a string: 1 + the byte of its first NUL ("\0"), or 0 */
} token;

typedef struct field {
  int table;       /* the constructor it belongs to */
  char *key;       /* NULL when positional; borrowed from a token */
  int line;        /* of the value */
  char *str;       /* the value when it is one string literal (borrowed) */
  int child;       /* the value when it is one constructor, else -1 */
  int literal_key; /* 0 for [expr] = v that is not a string */
  int str_nul;     /* str's token's nul */
} field;

struct source {
  char *path;
  token *toks;
  int ntoks;
  int *match;    /* for each bracket token, its partner; -1 otherwise */
  int *table_of; /* for each '{', its constructor; -1 otherwise */
  field *fields;
  int nfields;
  int ntables;
  int *table_tok; /* each constructor's '{' */
};

/* --- tokens ---------------------------------------------------------- */

static int push_token(source *s, int *cap, int type, int line, const char *text,
                      size_t n) {
  token *t;
  if (s->ntoks == *cap) {
    int c = *cap ? *cap * 2 : 256;
    token *m = realloc(s->toks, (size_t)c * sizeof *m);
    if (!m) return 0;
    s->toks = m;
    *cap = c;
  }
  t = &s->toks[s->ntoks];
  if (!(t->text = malloc(n + 1))) return 0;
  memcpy(t->text, text, n);
  t->text[n] = '\0';
  t->type = type;
  t->line = line;
  t->nul = 0;
  for (size_t i = 0; type == T_STRING && i < n && !t->nul; i++)
    if (!text[i]) t->nul = (int)i + 1;
  s->ntoks++;
  return 1;
}

/* Appends code point c as UTF-8 (Lua's \u{XXX}, up to 2^31). */
static size_t utf8_put(char *out, unsigned long c) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xc0 | c >> 6);
    out[1] = (char)(0x80 | (c & 0x3f));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xe0 | c >> 12);
    out[1] = (char)(0x80 | (c >> 6 & 0x3f));
    out[2] = (char)(0x80 | (c & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (c >> 18 & 0x07));
  out[1] = (char)(0x80 | (c >> 12 & 0x3f));
  out[2] = (char)(0x80 | (c >> 6 & 0x3f));
  out[3] = (char)(0x80 | (c & 0x3f));
  return 4;
}

/* One escape of a quoted string at p (after its backslash), its bytes
 * into out as Lua reads them (\0, \x00 and \u{0} are a NUL, which a
 * name must not hold); returns the rest of the source. */
static const char *unescape(const char *p, char *out, size_t *n, int *line) {
  static const char plain[] = "abfnrtv", as[] = "\a\b\f\n\r\t\v";
  const char *k = strchr(plain, *p);
  if (*p && k) {
    out[(*n)++] = as[k - plain];
    return p + 1;
  }
  if (isdigit((unsigned char)*p)) {
    int v = 0;
    for (int i = 0; i < 3 && isdigit((unsigned char)*p); i++)
      v = v * 10 + (*p++ - '0');
    out[(*n)++] = (char)v;
    return p;
  }
  if (*p == 'x' && isxdigit((unsigned char)p[1]) &&
      isxdigit((unsigned char)p[2])) {
    char hex[3] = {p[1], p[2], 0};
    out[(*n)++] = (char)strtol(hex, NULL, 16);
    return p + 3;
  }
  if (p[0] == 'u' && p[1] == '{') {
    char *end;
    unsigned long c = strtoul(p + 2, &end, 16);
    if (*end == '}' && end > p + 2 && c < 0x200000) {
      *n += utf8_put(out + *n, c);
      return end + 1;
    }
  }
  if (*p == 'z') { /* skips the white space after it, newlines too */
    for (p++; isspace((unsigned char)*p); p++)
      if (*p == '\n') (*line)++;
    return p;
  }
  if (*p == '\n') (*line)++;
  out[(*n)++] = *p;
  return p + 1;
}

/* "[[", "[==[": the level of a long bracket at p, or -1. */
static int long_open(const char *p) {
  int level = 0;
  if (*p++ != '[') return -1;
  while (*p == '=') level++, p++;
  return *p == '[' ? level : -1;
}

/* Skips a long bracket of level at p (at its first '['); counts lines. */
static const char *long_skip(const char *p, int level, int *line,
                             const char **body, size_t *len) {
  p += level + 2;
  if (*p == '\n') (*line)++, p++;
  *body = p;
  for (; *p; p++) {
    if (*p == '\n') (*line)++;
    if (*p == ']') {
      int l = 0;
      const char *q = p + 1;
      while (*q == '=') l++, q++;
      if (l == level && *q == ']') {
        *len = (size_t)(p - *body);
        return q + 1;
      }
    }
  }
  *len = (size_t)(p - *body);
  return p;
}

static int tokenize(source *s, const char *p) {
  static const char *const ops[] = {"...", "==", "~=", "<=", ">=", "..",
                                    "::",  "//", "<<", ">>", NULL};
  int line = 1, cap = 0;
  while (*p) {
    if (*p == '\n') {
      line++, p++;
    } else if (isspace((unsigned char)*p)) {
      p++;
    } else if (p[0] == '-' && p[1] == '-') {
      int level = long_open(p + 2);
      if (level >= 0) {
        const char *body;
        size_t n;
        p = long_skip(p + 2, level, &line, &body, &n);
      } else {
        while (*p && *p != '\n') p++;
      }
    } else if (*p == '"' || *p == '\'') {
      char quote = *p++, *buf = malloc(strlen(p) + 1);
      size_t n = 0;
      int start = line;
      if (!buf) return 0;
      while (*p && *p != quote && *p != '\n') {
        if (*p == '\\' && p[1]) {
          p = unescape(p + 1, buf, &n, &line);
        } else {
          buf[n++] = *p++;
        }
      }
      if (*p == quote) p++;
      if (!push_token(s, &cap, T_STRING, start, buf, n)) {
        free(buf);
        return 0;
      }
      free(buf);
    } else if (long_open(p) >= 0) {
      const char *body;
      size_t n;
      int start = line;
      p = long_skip(p, long_open(p), &line, &body, &n);
      if (!push_token(s, &cap, T_STRING, start, body, n)) return 0;
    } else if (isalpha((unsigned char)*p) || *p == '_') {
      const char *q = p;
      while (isalnum((unsigned char)*q) || *q == '_') q++;
      if (!push_token(s, &cap, T_NAME, line, p, (size_t)(q - p))) return 0;
      p = q;
    } else if (isdigit((unsigned char)*p) ||
               (*p == '.' && isdigit((unsigned char)p[1]))) {
      const char *q = p;
      while (isalnum((unsigned char)*q) || *q == '.' ||
             ((*q == '+' || *q == '-') && strchr("eEpP", q[-1])))
        q++;
      if (!push_token(s, &cap, T_NUMBER, line, p, (size_t)(q - p))) return 0;
      p = q;
    } else {
      size_t n = 1;
      for (int i = 0; ops[i]; i++)
        if (strncmp(p, ops[i], strlen(ops[i])) == 0) {
          n = strlen(ops[i]);
          break;
        }
      if (!push_token(s, &cap, T_OP, line, p, n)) return 0;
      p += n;
    }
  }
  return 1;
}

static int is_op(const source *s, int i, const char *op) {
  return i >= 0 && i < s->ntoks && s->toks[i].type == T_OP &&
         strcmp(s->toks[i].text, op) == 0;
}

static int is_name(const source *s, int i, const char *name) {
  return i >= 0 && i < s->ntoks && s->toks[i].type == T_NAME &&
         strcmp(s->toks[i].text, name) == 0;
}

/* Pairs every (, [ and { with its closer. */
static int match_brackets(source *s) {
  int *stack = malloc(((size_t)s->ntoks + 1) * sizeof *stack), depth = 0;
  if (!stack) return 0;
  for (int i = 0; i < s->ntoks; i++) {
    s->match[i] = -1;
    if (is_op(s, i, "(") || is_op(s, i, "[") || is_op(s, i, "{")) {
      stack[depth++] = i;
    } else if ((is_op(s, i, ")") || is_op(s, i, "]") || is_op(s, i, "}")) &&
               depth > 0) {
      int o = stack[--depth];
      s->match[o] = i;
      s->match[i] = o;
    }
  }
  free(stack);
  return 1;
}

/* --- constructors ---------------------------------------------------- */

/* From i, the index of the ',' ';' or closing bracket that ends the
 * expression at depth 0 (blocks and brackets skipped whole). */
static int skip_expr(const source *s, int i, int end) {
  int blocks = 0;
  for (; i < end; i++) {
    const token *t = &s->toks[i];
    if (t->type == T_OP && s->match[i] > i) {
      i = s->match[i];
      continue;
    }
    if (t->type == T_NAME) {
      if (!strcmp(t->text, "function") || !strcmp(t->text, "if") ||
          !strcmp(t->text, "do") || !strcmp(t->text, "repeat"))
        blocks++;
      else if ((!strcmp(t->text, "end") || !strcmp(t->text, "until")) &&
               blocks > 0)
        blocks--;
      continue;
    }
    if (blocks == 0 && t->type == T_OP &&
        (!strcmp(t->text, ",") || !strcmp(t->text, ";") ||
         !strcmp(t->text, ")") || !strcmp(t->text, "]") ||
         !strcmp(t->text, "}")))
      return i;
  }
  return end;
}

static int add_field(source *s, int *cap, const field *f) {
  if (s->nfields == *cap) {
    int c = *cap ? *cap * 2 : 128;
    field *m = realloc(s->fields, (size_t)c * sizeof *m);
    if (!m) return 0;
    s->fields = m;
    *cap = c;
  }
  s->fields[s->nfields++] = *f;
  return 1;
}

/* Indexes the constructor whose '{' is at open, and those that are its
 * fields' values; returns its number. */
static int parse_table(source *s, int open, int *fcap) {
  int t = s->ntables++, close = s->match[open], i = open + 1;
  s->table_of[open] = t;
  s->table_tok[t] = open;
  if (close < 0) close = s->ntoks;
  while (i < close) {
    field f = {t, NULL, 0, NULL, -1, 1, 0};
    int v, end;
    if (is_op(s, i, "[") && s->match[i] > i && is_op(s, s->match[i] + 1, "=")) {
      int k = i + 1;
      if (s->match[i] == k + 1 && s->toks[k].type == T_STRING)
        f.key = s->toks[k].text;
      else
        f.literal_key = 0;
      v = s->match[i] + 2;
    } else if (s->toks[i].type == T_NAME && is_op(s, i + 1, "=")) {
      f.key = s->toks[i].text;
      v = i + 2;
    } else {
      v = i;
    }
    if (v >= close) break;
    f.line = s->toks[v].line;
    end = skip_expr(s, v, close);
    if (is_op(s, v, "{") && s->match[v] + 1 == end)
      f.child = parse_table(s, v, fcap);
    else if (s->toks[v].type == T_STRING && end == v + 1) {
      f.str = s->toks[v].text;
      f.str_nul = s->toks[v].nul;
    }
    if (!add_field(s, fcap, &f)) return t;
    i = end + 1;
  }
  return t;
}

source *source_open(const char *path) {
  FILE *f = fopen(path, "rb");
  source *s;
  char *text;
  long size;
  int fcap = 0;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0 || !(text = malloc((size_t)size + 1))) {
    fclose(f);
    return NULL;
  }
  text[fread(text, 1, (size_t)size, f)] = '\0';
  fclose(f);
  s = calloc(1, sizeof *s);
  if (!s || !(s->path = strdup(path)) || !tokenize(s, text)) {
    free(text);
    source_free(s);
    return NULL;
  }
  free(text);
  s->match = malloc(((size_t)s->ntoks + 1) * sizeof *s->match);
  s->table_of = malloc(((size_t)s->ntoks + 1) * sizeof *s->table_of);
  s->table_tok = malloc(((size_t)s->ntoks + 1) * sizeof *s->table_tok);
  if (!s->match || !s->table_of || !s->table_tok || !match_brackets(s)) {
    source_free(s);
    return NULL;
  }
  for (int i = 0; i < s->ntoks; i++) s->table_of[i] = -1;
  for (int i = 0; i < s->ntoks; i++)
    if (is_op(s, i, "{") && s->table_of[i] < 0) parse_table(s, i, &fcap);
  return s;
}

void source_free(source *s) {
  if (!s) return;
  for (int i = 0; i < s->ntoks; i++) free(s->toks[i].text);
  free(s->toks);
  free(s->match);
  free(s->table_of);
  free(s->table_tok);
  free(s->fields);
  free(s->path);
  free(s);
}

const char *source_path(const source *s) {
  return s->path;
}

/* --- questions ------------------------------------------------------- */

static const field *field_of(const source *s, int t, const char *key) {
  for (int i = 0; i < s->nfields; i++)
    if (s->fields[i].table == t && s->fields[i].key &&
        strcmp(s->fields[i].key, key) == 0)
      return &s->fields[i];
  return NULL;
}

/* The field at the end of keys, starting from table t. */
static const field *walk(const source *s, int t, const char *const *keys,
                         int n) {
  const field *f = NULL;
  for (int k = 0; k < n; k++) {
    if (t < 0 || !(f = field_of(s, t, keys[k]))) return NULL;
    t = f->child;
  }
  return f;
}

int source_find(const source *s, const char *const *keys, int n) {
  for (int t = 0; t < s->ntables && n > 0; t++) {
    const field *f = walk(s, t, keys, n);
    if (f) return f->line;
  }
  return 0;
}

int source_find_item(const source *s, const char *const *keys, int n,
                     const char *value) {
  for (int t = 0; t < s->ntables; t++) {
    const field *f = n ? walk(s, t, keys, n) : NULL;
    int in = n ? (f ? f->child : -1) : t;
    if (in < 0) continue;
    for (int i = 0; i < s->nfields; i++)
      if (s->fields[i].table == in && !s->fields[i].key && s->fields[i].str &&
          strcmp(s->fields[i].str, value) == 0)
        return s->fields[i].line;
  }
  return 0;
}

int source_string_line(const source *s, const char *value) {
  for (int i = 0; i < s->ntoks; i++)
    if (s->toks[i].type == T_STRING && strcmp(s->toks[i].text, value) == 0)
      return s->toks[i].line;
  return 0;
}

void source_each_call(const source *s, const char *method,
                      void (*fn)(void *ud, const source_call *call), void *ud) {
  for (int i = 1; i + 1 < s->ntoks; i++) {
    source_call c;
    int a, close;
    if (!is_name(s, i, method) || !is_op(s, i - 1, ":") ||
        !is_op(s, i + 1, "(") || (close = s->match[i + 1]) < 0)
      continue;
    memset(&c, 0, sizeof c);
    c.line = s->toks[i].line;
    for (a = i + 2; a < close && c.nargs < SOURCE_MAX_ARGS;) {
      int end = skip_expr(s, a, close);
      source_arg *arg = &c.args[c.nargs++];
      arg->kind = SOURCE_OTHER;
      if (end == a + 1 && s->toks[a].type == T_STRING) {
        arg->kind = SOURCE_STRING;
        arg->str = s->toks[a].text;
        arg->nul = s->toks[a].nul;
      } else if (end == a + 1 && is_name(s, a, "nil")) {
        arg->kind = SOURCE_NIL;
      } else if (is_op(s, a, "{") && s->match[a] + 1 == end) {
        arg->kind = SOURCE_TABLE;
        arg->table = s->table_of[a];
      }
      a = end + 1;
    }
    fn(ud, &c);
  }
}

void source_each_method(const source *s, const char *receiver,
                        void (*fn)(void *ud, const char *name, int line),
                        void *ud) {
  for (int i = 2; i + 1 < s->ntoks; i++)
    if (s->toks[i].type == T_NAME && is_op(s, i - 1, ":") &&
        is_name(s, i - 2, receiver) && !is_op(s, i - 3, ".") &&
        !is_op(s, i - 3, ":") && is_op(s, i + 1, "("))
      fn(ud, s->toks[i].text, s->toks[i].line);
}

int source_table_literal(const source *s, int t) {
  for (int i = 0; i < s->nfields; i++)
    if (s->fields[i].table == t && !s->fields[i].literal_key) return 0;
  return 1;
}

int source_table_has(const source *s, int t, const char *key) {
  return field_of(s, t, key) != NULL;
}

const char *source_table_string(const source *s, int t, const char *key) {
  const field *f = field_of(s, t, key);
  return f ? f->str : NULL;
}

int source_table_string_nul(const source *s, int t, const char *key) {
  const field *f = field_of(s, t, key);
  return f && f->str ? f->str_nul : 0;
}

/* Edit distance on bytes, a swap of two neighbours counting as one edit
 * (optimal string alignment): "promsie" is one slip from "promise". */
static int distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  int d[64][64];
  if (la >= 63 || lb >= 63) return 99;
  for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

const char *source_nearest(const char *name, const char *const *cands, int n) {
  const char *best = NULL;
  int best_d = 99, limit = (int)strlen(name) / 3;
  if (limit > 3) limit = 3;
  if (limit < 1) limit = 1;
  for (int i = 0; i < n; i++) {
    int d;
    if (!cands[i]) continue;
    if (strcmp(cands[i], name) == 0) return NULL;
    d = distance(name, cands[i]);
    if (d <= limit && d < best_d) best_d = d, best = cands[i];
  }
  return best;
}
