/* `recoup user`: console users from the command line. The password comes
 * from stdin — typed twice with echo off on a terminal, one line from a
 * pipe — never from an argument, where ps and shell history would show it.
 * Exit status: 0 done, 1 refused (bad value, duplicate, unknown user), 2
 * usage. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>

#include "recoup/engine.h"
#include "recoup/script.h"
#include "source.h"
#include "textwidth.h"
#include "user.h"

typedef struct user_args {
  const char *sub, *name, *dir, *db, *role;
  const char *queues;  /* --queues: NULL when not given, "" for none */
  const char *display; /* --display-name: NULL when not given */
  int json;
} user_args;

static int usage(FILE *out) {
  fputs(
      "usage: recoup user add NAME --role agent|supervisor|read|admin "
      "[--queues q1,q2] [--display-name TEXT] [DIR] [--db FILE]\n"
      "       recoup user list [DIR] [--db FILE] [--json]\n"
      "       recoup user set NAME [--display-name TEXT] [--queues q1,q2] "
      "[DIR] [--db FILE]\n"
      "       recoup user disable|enable|passwd NAME [DIR] [--db FILE]\n"
      "  the password is read from stdin (twice on a terminal)\n",
      out);
  return out == stdout ? 0 : 2;
}

static int parse(int argc, char **argv, user_args *a) {
  const char *pos[2];
  int npos = 0, named;
  memset(a, 0, sizeof *a);
  if (argc < 2) return -1;
  a->sub = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *s = argv[i], **slot = NULL;
    if (strcmp(s, "--db") == 0)
      slot = &a->db;
    else if (strcmp(s, "--role") == 0)
      slot = &a->role;
    else if (strcmp(s, "--queues") == 0)
      slot = &a->queues;
    else if (strcmp(s, "--display-name") == 0)
      slot = &a->display;
    else if (strcmp(s, "--json") == 0)
      a->json = 1;
    else if (s[0] == '-' && s[1] == '-') {
      fprintf(stderr, "recoup: unknown option %s\n", s);
      return -1;
    } else if (npos < 2)
      pos[npos++] = s;
    else {
      fprintf(stderr, "recoup: too many arguments\n");
      return -1;
    }
    if (slot) {
      if (++i >= argc) {
        fprintf(stderr, "recoup: %s needs a value\n", s);
        return -1;
      }
      *slot = argv[i];
    }
  }
  named = strcmp(a->sub, "list") != 0;
  if (named && npos < 1) {
    fprintf(stderr, "recoup: user %s needs a NAME\n", a->sub);
    return -1;
  }
  if (!named && npos > 1) {
    fprintf(stderr, "recoup: too many arguments\n");
    return -1;
  }
  a->name = named ? pos[0] : NULL;
  a->dir = npos > named ? pos[named] : ".";
  if (strcmp(a->sub, "add") == 0 && !a->role) {
    fprintf(stderr, "recoup: user add needs --role\n");
    return -1;
  }
  if (strcmp(a->sub, "set") == 0 && !a->display && !a->queues) {
    fprintf(stderr,
            "recoup: user set needs --display-name or --queues (\"\" "
            "removes either)\n");
    return -1;
  }
  return 0;
}

/* One line of stdin into buf[USER_PASSWORD_MAX + 2], its end of line cut;
 * the length, or -1 at end of input before any byte, or -2 when the line
 * is longer than a password may be. */
static long read_line(char *buf) {
  long n = 0;
  int c;
  while ((c = getchar()) != EOF && c != '\n') {
    if (n > USER_PASSWORD_MAX) return -2;
    buf[n++] = (char)c;
  }
  if (n == 0 && c == EOF) return -1;
  if (n > 0 && buf[n - 1] == '\r') n--;
  buf[n] = '\0';
  return n;
}

/* Echo off while a password is typed; restored before anything else is
 * printed. */
static long read_secret(const char *prompt, char *buf) {
  struct termios old, quiet;
  long n;
  fputs(prompt, stderr);
  fflush(stderr);
  if (tcgetattr(0, &old) != 0) return read_line(buf);
  quiet = old;
  quiet.c_lflag &= ~(tcflag_t)ECHO;
  tcsetattr(0, TCSAFLUSH, &quiet);
  n = read_line(buf);
  tcsetattr(0, TCSAFLUSH, &old);
  fputc('\n', stderr);
  return n;
}

/* The password into buf, checked: RC_OK, or the refusal printed. */
static int read_password(char *buf) {
  rc_error err = {0};
  long n;
  int tty = isatty(0), rc = RC_OK;
  n = tty ? read_secret("password: ", buf) : read_line(buf);
  if (n == -1)
    rc = rc_error_set(&err, RC_EINVAL, "password", "no password on stdin");
  else if (n == -2)
    rc = rc_error_set(&err, RC_EINVAL, "password",
                      "password must be at most %d bytes", USER_PASSWORD_MAX);
  else
    rc = user_check_password(buf, (size_t)n, &err);
  if (rc == RC_OK && tty) {
    static char again[USER_PASSWORD_MAX + 2];
    long m = read_secret("again: ", again);
    if (m != n || sodium_memcmp(buf, again, (size_t)n) != 0)
      rc = rc_error_set(&err, RC_EINVAL, "password",
                        "the passwords do not match");
    sodium_memzero(again, sizeof again);
  }
  if (rc != RC_OK) rc_error_print(&err, stderr);
  return rc;
}

static engine *open_engine(const user_args *a) {
  engine_options opts = {.dir = a->dir, .db = a->db, .quiet = 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK) {
    for (int i = 0; i < errors.count; i++)
      rc_error_print(&errors.items[i], stderr);
    rc_errlist_free(&errors);
    return NULL;
  }
  return eng;
}

/* "q1,q2" from the stored JSON array, "-" when there are none; a list
 * longer than QUEUES_SHOWN columns ends with how many more it holds
 * ("q1,q2 +62 more"), where it would widen every row of the table
 * (--json lists them all). */
enum { QUEUES_SHOWN = 40 };
static void queues_text(json_t *a, char *buf, size_t size) {
  size_t i, used = 0, n = json_array_size(a);
  json_t *q;
  buf[0] = '\0';
  json_array_foreach(a, i, q) {
    const char *name = json_string_value(q) ? json_string_value(q) : "";
    char more[32] = "";
    int w;
    if (i + 1 < n) snprintf(more, sizeof more, " +%zu more", n - i - 1);
    if (used + 1 + strlen(name) + strlen(more) > QUEUES_SHOWN && i > 0) {
      snprintf(buf + used, size - used, " +%zu more", n - i);
      break;
    }
    w = snprintf(buf + used, size - used, "%s%s", i ? "," : "", name);
    if (w < 0 || (size_t)w >= size - used) break;
    used += (size_t)w;
  }
  if (!buf[0]) rc_copy(buf, size, "-");
}

typedef struct list_state {
  engine *eng;
  json_t *rows; /* what --json prints, and the table is made of */
} list_state;

static int list_row(void *ud, const store_value *cols, int ncols) {
  list_state *ls = ud;
  char created[40];
  const char *name = cols[0].s, *role = cols[1].s, *q = cols[2].s;
  const char *display =
      ncols > 5 && cols[5].type == STORE_TEXT ? cols[5].s : NULL;
  json_t *qs = json_loads(q ? q : "[]", 0, NULL);
  clock_zone_format(clock_zone(engine_clock(ls->eng)), cols[4].i, created,
                    sizeof created);
  json_array_append_new(
      ls->rows,
      json_pack("{s:s, s:o, s:s, s:o, s:b, s:s}", "name", name, "display_name",
                display ? json_string(display) : json_null(), "role", role,
                "queues", qs ? qs : json_array(), "disabled", (int)cols[3].i,
                "created", created));
  return 0;
}

enum { LIST_COLUMNS = 6, LIST_CELL = 1024 };

/* One row's cells as a terminal shows them: a display name another
 * version or store wrote is printed as text, never obeyed. */
static void list_cells(json_t *row, char cells[LIST_COLUMNS][LIST_CELL]) {
  const char *display = json_string_value(json_object_get(row, "display_name"));
  rc_printable_line(cells[0], LIST_CELL,
                    json_string_value(json_object_get(row, "name")));
  rc_printable_line(cells[1], LIST_CELL,
                    json_string_value(json_object_get(row, "role")));
  queues_text(json_object_get(row, "queues"), cells[2], LIST_CELL);
  rc_copy(
      cells[3], LIST_CELL,
      json_is_true(json_object_get(row, "disabled")) ? "disabled" : "enabled");
  rc_printable_line(cells[4], LIST_CELL,
                    json_string_value(json_object_get(row, "created")));
  rc_printable_line(cells[5], LIST_CELL, display ? display : "-");
}

static void list_line(const char *const *v, const int *width) {
  char padded[LIST_CELL + 256];
  for (int k = 0; k < LIST_COLUMNS; k++)
    printf("%s%s", k ? " " : "",
           k + 1 < LIST_COLUMNS
               ? text_pad(padded, sizeof padded, v[k], -width[k])
               : v[k]);
  printf("\n");
}

/* Columns as wide as their widest cell in what a terminal shows: a
 * display name 张敏 takes four columns and six bytes, printf pads bytes. */
static void list_table(json_t *rows) {
  static const char *const head[LIST_COLUMNS] = {
      "NAME", "ROLE", "QUEUES", "STATUS", "CREATED", "DISPLAY NAME"};
  static char cells[LIST_COLUMNS][LIST_CELL];
  const char *v[LIST_COLUMNS];
  int width[LIST_COLUMNS];
  size_t i;
  json_t *row;
  for (int k = 0; k < LIST_COLUMNS; k++) width[k] = text_cols(head[k]);
  json_array_foreach(rows, i, row) {
    list_cells(row, cells);
    for (int k = 0; k < LIST_COLUMNS; k++)
      if (text_cols(cells[k]) > width[k]) width[k] = text_cols(cells[k]);
  }
  list_line(head, width);
  json_array_foreach(rows, i, row) {
    list_cells(row, cells);
    for (int k = 0; k < LIST_COLUMNS; k++) v[k] = cells[k];
    list_line(v, width);
  }
}

static int cmd_list(engine *eng, const user_args *a) {
  list_state ls = {eng, json_array()};
  rc_error err = {0};
  if (query_users(engine_query(eng), list_row, &ls, &err) != RC_OK) {
    rc_error_print(&err, stderr);
    json_decref(ls.rows);
    return 1;
  }
  if (a->json) {
    char *text = json_dumps(ls.rows, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(text);
    free(text);
  } else {
    list_table(ls.rows);
    if (json_array_size(ls.rows) == 0)
      printf("(no users: recoup user add NAME --role ROLE)\n");
  }
  json_decref(ls.rows);
  return 0;
}

/* The tasks a user holds (claimed, not done), for `disable` and for
 * `set --queues`: nobody else is given a task someone holds, so a
 * collector who left keeps theirs from everyone until a supervisor moves
 * them, and an agent moved off a queue holds its tasks there unseen (an
 * agent sees the cases of its own queues' open and claimed tasks). */
enum { HELD_LISTED = 5 };
typedef struct held {
  const char *name;
  json_t *keep; /* queues still theirs, whose tasks are not said; NULL: none */
  int64_t last, count;
  int listed;
  /* HELD_LISTED whole entries, each at most a task id, a kind of 64
   * bytes and a case id of INPUT_ID_MAX (128) bytes. */
  char list[HELD_LISTED * 256];
} held;

static const char *col(const store_value *v, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (v[i].name && !strcmp(v[i].name, name))
      return v[i].type == STORE_TEXT ? v[i].s : NULL;
  return NULL;
}

static int on_held(void *ud, const store_value *v, int n) {
  held *h = ud;
  const char *who = col(v, n, "assignee");
  for (int i = 0; i < n; i++)
    if (v[i].name && !strcmp(v[i].name, "id")) h->last = v[i].i;
  if (!who || strcmp(who, h->name) != 0) return 0;
  if (h->keep && col(v, n, "queue")) {
    size_t i;
    json_t *q;
    json_array_foreach(h->keep, i, q) {
      if (!strcmp(json_string_value(q), col(v, n, "queue"))) return 0;
    }
  }
  if (h->count++ < HELD_LISTED) {
    size_t at = strlen(h->list);
    const char *c = col(v, n, "case"), *k = col(v, n, "kind");
    char entry[256];
    int w;
    /* A case id an older book let grow past 128 bytes is cut with "..."
     * said, never mid-entry without a word: a supervisor looks the case
     * up by what is shown. */
    w = snprintf(entry, sizeof entry, "%stask %lld (%.64s, case %.128s%s)",
                 at ? ", " : "", (long long)h->last, k ? k : "?", c ? c : "?",
                 c && strlen(c) > 128 ? "..." : "");
    if (w > 0 && (size_t)w < sizeof entry && (size_t)w < sizeof h->list - at) {
      memcpy(h->list + at, entry, (size_t)w + 1);
      h->listed++;
    }
  }
  return 0;
}

/* keep: the queues the user is left with after `set --queues` (JSON),
 * NULL for `disable`. */
static void say_held(engine *eng, const char *name, const char *keep) {
  held h = {.name = name, .keep = keep ? json_loads(keep, 0, NULL) : NULL};
  char shown[sizeof h.list], more[120] = "";
  rc_error err;
  int64_t before;
  /* Claimed tasks are the few people hold at once: a page at a time. */
  do {
    before = h.last;
    if (query_task_page(engine_query(eng), NULL, "claimed", name, NULL, h.last,
                        1000, on_held, &h, &err) != RC_OK)
      break;
  } while (h.last != before);
  json_decref(h.keep);
  if (!h.count) return;
  /* Ids an older book holds may carry what a terminal would act on. */
  rc_printable_line(shown, sizeof shown, h.list);
  if (h.count > h.listed)
    snprintf(more, sizeof more,
             ", and %lld more (GET /v1/tasks?status=claimed&assignee=%s "
             "lists them all)",
             (long long)(h.count - h.listed), name);
  printf(
      "%s still holds %lld task%s %s: %s%s\n"
      "give each to someone: the console's Overview, Reassign tasks "
      "(Case, Find), or POST /v1/tasks/{id}/assign (docs/console.md)\n",
      name, (long long)h.count, h.count == 1 ? "" : "s",
      keep ? (h.count == 1 ? "in a queue no longer theirs, which they no "
                             "longer see and nobody else can take"
                           : "in queues no longer theirs, which they no "
                             "longer see and nobody else can take")
           : (h.count == 1 ? "nobody else can take while it is theirs"
                           : "nobody else can take while they are theirs"),
      shown, more);
}

/* The queues an agent can be given work in: those the loaded workflows'
 * case:task calls name, those capacity{} names, and those holding tasks
 * in the book (a workflow since changed). A name/true object. */
static int book_queue(void *ud, const store_value *v, int n) {
  if (n > 0 && v[0].type == STORE_TEXT)
    json_object_set_new(ud, v[0].s, json_true());
  return 0;
}

static json_t *known_queues(engine *eng, const char **unseen_at) {
  script *sc = engine_script(eng);
  const institution_config *cfg = script_config(sc);
  const char *names[256];
  json_t *known = json_object();
  rc_error err;
  int n = script_task_queues(sc, names, 256, unseen_at);
  for (int i = 0; i < n; i++) json_object_set_new(known, names[i], json_true());
  for (int i = 0; i < cfg->ncapacity; i++)
    json_object_set_new(known, cfg->capacity[i].queue, json_true());
  query_work_queues(engine_query(eng), book_queue, known, &err);
  return known;
}

/* A queue no workflow fills is most often a slip ("visti" for "visit"):
 * the agent would sign in to an empty My work and nobody would know why.
 * Said, not refused: a workflow may name its queue only at run time, or
 * be about to be loaded. */
static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void say_unknown_queues(engine *eng, const user_args *a) {
  const char *name = a->name, *list = a->queues;
  int here = !a->dir || strcmp(a->dir, ".") == 0;
  const char *unseen_at, *key, *cands[256];
  json_t *known = known_queues(eng, &unseen_at), *v;
  char all[1024] = "";
  char meant[1024] = "";
  size_t used = 0, mused = 0;
  int n = 0, unknown = 0, guessed = 0;
  json_object_foreach(known, key, v) {
    if (n == (int)(sizeof cands / sizeof *cands)) break;
    cands[n++] = key;
  }
  qsort(cands, (size_t)n, sizeof *cands, by_name);
  for (int i = 0; i < n; i++) {
    int w = snprintf(all + used, sizeof all - used, "%s%s", i ? ", " : "",
                     cands[i]);
    if (w < 0 || (size_t)w >= sizeof all - used) break;
    used += (size_t)w;
  }
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    char q[USER_NAME_MAX + 1];
    snprintf(q, sizeof q, "%.*s", (int)(end ? end - p : (int)strlen(p)), p);
    p = end ? end + 1 : NULL;
    const char *near = json_object_get(known, q) ? q : NULL;
    if (!near) {
      unknown++;
      near = source_nearest(q, cands, n);
      guessed += near != NULL;
      fprintf(stderr,
              "recoup: warning: queues: no loaded workflow gives tasks to "
              "queue %s%s%s%s, and the book holds none in it; %s%s\n",
              q, near ? " (did you mean " : "", near ? near : "",
              near ? "?)" : "",
              n ? "the queues are " : "no workflow names a queue", all);
    }
    if (near) {
      int w = snprintf(meant + mused, sizeof meant - mused, "%s%s",
                       mused ? "," : "", near);
      if (w > 0 && (size_t)w < sizeof meant - mused) mused += (size_t)w;
    }
  }
  /* Every slip has a near queue: the command that puts it right, whole,
   * as typed here (another folder or book said again). */
  if (unknown && guessed == unknown)
    fprintf(stderr,
            "recoup: warning: queues: if so, give them with: "
            "recoup user set %s --queues %s%s%s%s%s\n",
            name, meant, here ? "" : " ", here ? "" : a->dir,
            a->db ? " --db " : "", a->db ? a->db : "");
  if (unknown && unseen_at)
    fprintf(stderr,
            "recoup: warning: queues: %s names its queue only when it runs, "
            "which this check cannot see\n",
            unseen_at);
  json_decref(known);
}

/* set's changes in one transaction: a display name refused leaves the
 * queues as they were, and the other way round. */
static int set_user(engine *eng, const user_args *a, rc_error *err) {
  int rc = engine_begin(eng, err);
  if (rc != RC_OK) return rc;
  if (a->display) rc = engine_user_set_display(eng, a->name, a->display, err);
  if (rc == RC_OK && a->queues)
    rc = engine_user_set_queues(eng, a->name, a->queues, err);
  if (rc != RC_OK) {
    engine_rollback(eng);
    return rc;
  }
  return engine_commit(eng, err);
}

static void said_set(engine *eng, const user_args *a) {
  store_user u = {0};
  rc_error err;
  if (a->display)
    printf("user %s is shown as %s\n", a->name,
           *a->display ? a->display : "their name (no display name)");
  if (!a->queues) return;
  if (*a->queues)
    printf("user %s works queues %s\n", a->name, a->queues);
  else
    printf("user %s works no queue\n", a->name);
  /* Only an agent is bound to its queues: the others see every one. */
  if (query_user(engine_query(eng), a->name, &u, &err) != RC_OK) return;
  if (strcmp(u.role, "agent") != 0) {
    printf("(%s is %s %s and sees every queue; queues bind agents only)\n",
           a->name, strcmp(u.role, "admin") == 0 ? "an" : "a", u.role);
  } else {
    if (!*a->queues)
      printf("(My work shows them nothing until they are given a queue)\n");
    say_held(eng, a->name, u.queues ? u.queues : "[]");
  }
  store_user_free(&u);
}

/* The users a name nobody has was most likely meant for: a login with
 * the name as one of its parts ("zhang": zhang.min, as people call a
 * colleague by the family name; "min" too), one whose display name it is,
 * else the login one slip away ("zhagn.min"). At most NEAR_MAX. */
enum { NEAR_MAX = 3 };
typedef struct near_users {
  const char *name;
  json_t *logins; /* every login, for the slip */
  char found[NEAR_MAX][USER_NAME_MAX + 1];
  int n;
} near_users;

static int has_part(const char *login, const char *name) {
  size_t n = strlen(name);
  for (const char *p = login; *p;) {
    size_t k = strcspn(p, "._-");
    if (k == n && strncmp(p, name, n) == 0) return 1;
    p += k;
    if (*p) p++;
  }
  return 0;
}

static int on_near(void *ud, const store_value *v, int n) {
  near_users *u = ud;
  const char *login = n > 0 && v[0].type == STORE_TEXT ? v[0].s : NULL;
  const char *display = n > 5 && v[5].type == STORE_TEXT ? v[5].s : NULL;
  if (!login) return 0;
  json_array_append_new(u->logins, json_string(login));
  if (u->n < NEAR_MAX && strlen(login) <= USER_NAME_MAX &&
      (has_part(login, u->name) ||
       (display && strcasecmp(display, u->name) == 0)))
    rc_copy(u->found[u->n++], sizeof u->found[0], login);
  return 0;
}

/* " (did you mean zhang.min?)", " (did you mean zhang.min or
 * zhang.wei?)", or "" when no user is near. */
static void near_text(engine *eng, const char *name, char *out, size_t size) {
  near_users u = {.name = name, .logins = json_array()};
  rc_error err;
  size_t at;
  out[0] = '\0';
  if (query_users(engine_query(eng), on_near, &u, &err) == RC_OK && !u.n) {
    /* Every login, however many: among the first few hundred alone,
     * "agent09999x" was offered agent00099, a colleague, whom disable
     * would then have locked out. */
    size_t i, k = json_array_size(u.logins);
    const char **cands = k ? malloc(k * sizeof *cands) : NULL;
    const char *slip;
    json_t *l;
    if (cands && k <= INT_MAX) {
      json_array_foreach(u.logins, i, l) cands[i] = json_string_value(l);
      slip = source_nearest(name, cands, (int)k);
      if (slip) rc_copy(u.found[u.n++], sizeof u.found[0], slip);
    }
    free(cands);
  }
  json_decref(u.logins);
  if (!u.n) return;
  at = (size_t)snprintf(out, size, " (did you mean ");
  for (int i = 0; i < u.n && at < size; i++)
    at += (size_t)snprintf(out + at, size - at, "%s%s",
                           i == 0        ? ""
                           : i + 1 < u.n ? ", "
                                         : " or ",
                           u.found[i]);
  if (at < size) snprintf(out + at, size - at, "?)");
}

/* What to say of text that is the display name of users (张敏 for
 * zhang.min), into out; 0 when nobody is shown so, or the book cannot be
 * read (then only the name's own refusal is said). A display name is no
 * one's own: zhang.min and zhang.wei may both be shown as 张敏, and
 * offering only the first would have the supervisor lock out the wrong
 * colleague. */
typedef struct shown_as {
  const char *text;
  char login[NEAR_MAX][USER_NAME_MAX + 1];
  int n;
} shown_as;

static int on_shown(void *ud, const store_value *v, int n) {
  shown_as *s = ud;
  if (n > 5 && v[0].type == STORE_TEXT && v[5].type == STORE_TEXT &&
      strcmp(v[5].s, s->text) == 0) {
    if (s->n < NEAR_MAX) rc_copy(s->login[s->n], sizeof s->login[0], v[0].s);
    s->n++;
  }
  return 0;
}

static int said_shown_as(const user_args *a, char *out, size_t size) {
  engine_options opts = {
      .dir = a->dir, .db = a->db, .quiet = 1, .must_exist = 1};
  rc_errlist errors = {0};
  engine *eng = NULL;
  shown_as s = {.text = a->name};
  rc_error err;
  size_t at;
  if (engine_open(&eng, &opts, &errors) == RC_OK)
    query_users(engine_query(eng), on_shown, &s, &err);
  rc_errlist_free(&errors);
  if (eng) engine_close(eng);
  if (s.n == 0) return 0;
  if (s.n == 1) {
    snprintf(out, size, "that is how user %s is shown (did you mean %s?)",
             s.login[0], s.login[0]);
    return 1;
  }
  at = (size_t)snprintf(out, size, "users ");
  for (int i = 0; i < s.n && i < NEAR_MAX && at < size; i++)
    at += (size_t)snprintf(out + at, size - at, "%s%s",
                           i == 0                            ? ""
                           : i + 1 < s.n && i + 1 < NEAR_MAX ? ", "
                           : s.n > NEAR_MAX                  ? ", "
                                                             : " and ",
                           s.login[i]);
  if (at < size && s.n > NEAR_MAX)
    at += (size_t)snprintf(out + at, size - at, " and %d more", s.n - NEAR_MAX);
  if (at < size)
    snprintf(out + at, size - at,
             " are shown so: give the login of the one you mean");
  return 1;
}

/* A login typed as people read the name (李雷): the login is in a-z and
 * the name goes to --display-name. The guess is the name's pinyin, one
 * syllable a dot (li.lei), offered only when it makes a login; a name
 * read two ways (单, shan or dan) may need another. 1: said in out. */
static int said_display_name(const char *name, char *out, size_t size) {
  UChar id[64], buf[512];
  char pinyin[256], login[USER_NAME_MAX + 1];
  UErrorCode st = U_ZERO_ERROR;
  UTransliterator *tr;
  int32_t len = 0, limit;
  size_t k = 0;
  int ascii = 1;
  for (const char *p = name; *p; p++) ascii &= (unsigned char)*p < 0x80;
  if (ascii) return 0;
  snprintf(out, size,
           "name %s is how people read the user: the login is in a-z 0-9 "
           ". _ - and the name goes to --display-name %s",
           name, name);
  u_uastrcpy(id, "Han-Latin; Latin-ASCII; Lower");
  tr = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &st);
  u_strFromUTF8(buf, (int32_t)(sizeof buf / sizeof *buf), &len, name, -1, &st);
  limit = len;
  if (U_SUCCESS(st))
    utrans_transUChars(tr, buf, &len, (int32_t)(sizeof buf / sizeof *buf), 0,
                       &limit, &st);
  if (U_SUCCESS(st))
    u_strToUTF8(pinyin, (int32_t)sizeof pinyin, NULL, buf, len, &st);
  if (tr) utrans_close(tr);
  if (U_FAILURE(st) || st == U_STRING_NOT_TERMINATED_WARNING) return 1;
  for (const char *p = pinyin; *p && k < sizeof login - 1; p++) {
    if (*p == ' ') {
      if (k && login[k - 1] != '.') login[k++] = '.';
    } else {
      login[k++] = *p;
    }
  }
  while (k && login[k - 1] == '.') k--;
  login[k] = '\0';
  if (k && user_check_name(login, "name", NULL) == RC_OK) {
    size_t at = strlen(out);
    if (at < size)
      snprintf(out + at, size - at,
               " (did you mean recoup user add %s --display-name %s?)",
               login, name);
  }
  return 1;
}

/* add, set, disable, enable, passwd: refused values before the password
 * is asked for, so that nobody types one in vain. */
static int cmd_change(engine **engp, const user_args *a) {
  static char password[USER_PASSWORD_MAX + 2];
  int add = strcmp(a->sub, "add") == 0, passwd = strcmp(a->sub, "passwd") == 0;
  int set = strcmp(a->sub, "set") == 0;
  char *queues = NULL;
  rc_error err = {0};
  int rc = user_check_name(a->name, "name", &err);
  char shown[NEAR_MAX * (USER_NAME_MAX + 2) + 96];
  /* A supervisor types whom they see: 张敏, the display name, for the
   * login zhang.min. */
  if (rc != RC_OK && !add && said_shown_as(a, shown, sizeof shown))
    rc =
        rc_error_set(&err, RC_EINVAL, "name", "no user %s: %s", a->name, shown);
  else if (rc != RC_OK && add &&
           said_display_name(a->name, shown, sizeof shown))
    rc_error_set(&err, RC_EINVAL, "name", "%s", shown);
  if (rc == RC_OK && add) rc = user_check_role(a->role, &err);
  if (rc == RC_OK) rc = user_check_display(a->display, &err);
  if (rc == RC_OK && (add || set))
    rc = user_queues_json(a->queues, &queues, &err);
  free(queues);
  if (rc != RC_OK) {
    rc_error_print(&err, stderr);
    return 1;
  }
  if (!(*engp = open_engine(a))) return 1;
  {
    /* A name taken (add) or unknown (passwd, set) is said before a
     * password is typed for it or its queues are warned of; the engine
     * refuses it again if another add won. A user disabled twice is told
     * so, not "disabled" again as if it had just been. */
    store_user u = {0};
    int was_disabled;
    rc = query_user(engine_query(*engp), a->name, &u, &err);
    was_disabled = u.disabled != 0;
    store_user_free(&u);
    if (rc == RC_OK && !add && !passwd && !set &&
        was_disabled == (strcmp(a->sub, "disable") == 0)) {
      printf("user %s is already %sd\n", a->name, a->sub);
      if (was_disabled) say_held(*engp, a->name, NULL);
      return 0;
    }
    /* Told with the users it most likely meant, before a password is
     * asked for it. */
    if (rc == RC_ENOTFOUND && !add) {
      char near[NEAR_MAX * (USER_NAME_MAX + 4) + 32];
      near_text(*engp, a->name, near, sizeof near);
      rc = rc_error_set(&err, RC_ENOTFOUND, "name", "no user %s%s", a->name,
                        near);
    }
    if (rc == RC_OK && add)
      rc = rc_error_set(&err, RC_ECONFLICT, "name", "user %s already exists",
                        a->name);
    else if (rc == RC_ENOTFOUND && add)
      rc = engine_user_names_apart(*engp, a->name, a->display, 1, &err);
    if (rc != RC_OK) {
      rc_error_print(&err, stderr);
      return 1;
    }
  }
  if ((add || set) && a->queues) say_unknown_queues(*engp, a);
  if ((add || passwd) && read_password(password) != RC_OK) return 1;
  if (add)
    rc = engine_user_add(*engp, a->name, a->role, a->queues, password,
                         a->display, &err);
  else if (set)
    rc = set_user(*engp, a, &err);
  else if (passwd)
    rc = engine_user_passwd(*engp, a->name, password, &err);
  else
    rc = engine_user_set_disabled(*engp, a->name,
                                  strcmp(a->sub, "disable") == 0, &err);
  sodium_memzero(password, sizeof password);
  if (rc != RC_OK) {
    rc_error_print(&err, stderr);
    return 1;
  }
  if (add)
    printf("user %s added (%s)\n", a->name, a->role);
  else if (set)
    said_set(*engp, a);
  else if (passwd)
    printf("user %s has a new password\n", a->name);
  else
    printf("user %s %sd\n", a->name, a->sub);
  if (!strcmp(a->sub, "disable")) say_held(*engp, a->name, NULL);
  return 0;
}

int user_main(int argc, char **argv) {
  user_args a;
  engine *eng = NULL;
  int status;
  if (argc == 2 &&
      (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
       strcmp(argv[1], "-h") == 0))
    return usage(stdout);
  if (parse(argc, argv, &a) != 0) return usage(stderr);
  if (strcmp(a.sub, "list") == 0) {
    if (!(eng = open_engine(&a))) return 1;
    status = cmd_list(eng, &a);
  } else if (strcmp(a.sub, "add") == 0 || strcmp(a.sub, "set") == 0 ||
             strcmp(a.sub, "disable") == 0 || strcmp(a.sub, "enable") == 0 ||
             strcmp(a.sub, "passwd") == 0) {
    status = cmd_change(&eng, &a);
  } else {
    fprintf(stderr, "recoup: unknown user command '%s'\n", a.sub);
    return usage(stderr);
  }
  if (eng) engine_close(eng);
  return status;
}
