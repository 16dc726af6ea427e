/* Console users through the engine (engine_user_*) and the read side
 * (query_user, query_users): the input rules, each naming its field, and
 * the sign-in check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "recoup/engine.h"

#define BASIC FIXTURES "/basic"
#define PASSWORD "correct horse battery"

static engine *open_mem(void) {
  engine_options opts = {BASIC, ":memory:", 1, 0, 1, 0};
  rc_errlist errors = {0};
  engine *eng = NULL;
  if (engine_open(&eng, &opts, &errors) != RC_OK)
    fail_msg("cannot open the basic fixture");
  rc_errlist_free(&errors);
  return eng;
}

static void add(engine *eng, const char *name, const char *role,
                const char *queues) {
  rc_error err;
  int rc = engine_user_add(eng, name, role, queues, PASSWORD, NULL, &err);
  if (rc != RC_OK) fail_msg("%s", err.message);
}

/* engine_user_add with one bad value: refused with RC_EINVAL naming field,
 * nothing written. */
static void refused(engine *eng, const char *name, const char *role,
                    const char *queues, const char *password,
                    const char *field) {
  rc_error err;
  store_user u;
  assert_int_equal(
      engine_user_add(eng, name, role, queues, password, NULL, &err),
      RC_EINVAL);
  assert_string_equal(err.field, field);
  if (name && strlen(name) <= USER_NAME_MAX)
    assert_int_equal(query_user(engine_query(eng), name, &u, &err),
                     RC_ENOTFOUND);
}

static int count_row(void *ud, const store_value *cols, int ncols) {
  char *names = ud;
  (void)ncols;
  strcat(names, cols[0].s);
  strcat(names, cols[3].i ? "(off) " : " ");
  return 0;
}

static void test_a_user_added_is_read_back_without_its_hash(void **state) {
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  char names[256] = "";
  (void)state;
  add(eng, "wang.li", "agent", "calls,field-east");
  add(eng, "admin", "admin", NULL);
  assert_int_equal(query_user(engine_query(eng), "wang.li", &u, &err), RC_OK);
  assert_string_equal(u.name, "wang.li");
  assert_string_equal(u.role, "agent");
  assert_string_equal(u.queues, "[\"calls\",\"field-east\"]");
  assert_int_equal(u.disabled, 0);
  assert_true(u.created_at > 0);
  store_user_free(&u);
  assert_int_equal(query_users(engine_query(eng), count_row, names, &err),
                   RC_OK);
  assert_string_equal(names, "admin wang.li ");
  engine_close(eng);
}

static void test_the_right_password_signs_in(void **state) {
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "wang.li", "supervisor", "calls");
  assert_int_equal(engine_user_check(eng, "wang.li", PASSWORD, &u, &err),
                   RC_OK);
  assert_string_equal(u.name, "wang.li");
  assert_string_equal(u.role, "supervisor");
  store_user_free(&u);
  engine_close(eng);
}

static void test_a_wrong_password_or_name_is_refused_alike(void **state) {
  engine *eng = open_mem();
  store_user u;
  rc_error err, err2;
  (void)state;
  add(eng, "wang.li", "agent", NULL);
  assert_int_equal(engine_user_check(eng, "wang.li", PASSWORD "!", &u, &err),
                   RC_EINVAL);
  assert_int_equal(engine_user_check(eng, "nobody", PASSWORD, &u, &err2),
                   RC_EINVAL);
  assert_string_equal(err.message, err2.message);
  assert_string_equal(err.field, err2.field);
  assert_null(u.queues);
  assert_int_equal(engine_user_check(eng, "Wang.Li", PASSWORD, &u, &err),
                   RC_EINVAL);
  assert_int_equal(engine_user_check(eng, "wang.li", "", &u, &err), RC_EINVAL);
  engine_close(eng);
}

static void test_a_disabled_user_is_refused_until_enabled(void **state) {
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "wang.li", "agent", NULL);
  assert_int_equal(engine_user_set_disabled(eng, "wang.li", 1, &err), RC_OK);
  assert_int_equal(query_user(engine_query(eng), "wang.li", &u, &err), RC_OK);
  assert_int_equal(u.disabled, 1);
  store_user_free(&u);
  assert_int_equal(engine_user_check(eng, "wang.li", PASSWORD, &u, &err),
                   RC_EINVAL);
  assert_non_null(strstr(err.message, "disabled"));
  assert_int_equal(engine_user_set_disabled(eng, "wang.li", 0, &err), RC_OK);
  assert_int_equal(engine_user_check(eng, "wang.li", PASSWORD, &u, &err),
                   RC_OK);
  store_user_free(&u);
  engine_close(eng);
}

static void test_a_new_password_replaces_the_old(void **state) {
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "wang.li", "agent", NULL);
  assert_int_equal(engine_user_passwd(eng, "wang.li", "another secret", &err),
                   RC_OK);
  assert_int_equal(engine_user_check(eng, "wang.li", PASSWORD, &u, &err),
                   RC_EINVAL);
  assert_int_equal(
      engine_user_check(eng, "wang.li", "another secret", &u, &err), RC_OK);
  store_user_free(&u);
  assert_int_equal(engine_user_passwd(eng, "wang.li", "short", &err),
                   RC_EINVAL);
  assert_string_equal(err.field, "password");
  assert_int_equal(engine_user_passwd(eng, "nobody", PASSWORD, &err),
                   RC_ENOTFOUND);
  engine_close(eng);
}

static void test_a_second_user_of_a_name_is_refused(void **state) {
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "wang.li", "agent", NULL);
  assert_int_equal(engine_user_add(eng, "wang.li", "admin", NULL,
                                   "other password", NULL, &err),
                   RC_ECONFLICT);
  assert_string_equal(err.field, "name");
  assert_non_null(strstr(err.message, "wang.li"));
  /* The first stays as it was. */
  assert_int_equal(engine_user_check(eng, "wang.li", PASSWORD, &u, &err),
                   RC_OK);
  assert_string_equal(u.role, "agent");
  store_user_free(&u);
  engine_close(eng);
}

static void test_unknown_users_cannot_be_disabled(void **state) {
  engine *eng = open_mem();
  rc_error err;
  (void)state;
  assert_int_equal(engine_user_set_disabled(eng, "nobody", 1, &err),
                   RC_ENOTFOUND);
  assert_string_equal(err.field, "name");
  assert_non_null(strstr(err.message, "nobody"));
  engine_close(eng);
}

static void test_bad_values_are_refused_naming_the_field(void **state) {
  engine *eng = open_mem();
  char long_name[80], long_password[1100];
  (void)state;
  memset(long_name, 'a', 65);
  long_name[65] = '\0';
  memset(long_password, 'p', 1025);
  long_password[1025] = '\0';
  refused(eng, "", "agent", NULL, PASSWORD, "name");
  refused(eng, long_name, "agent", NULL, PASSWORD, "name");
  refused(eng, "Wang", "agent", NULL, PASSWORD, "name");
  refused(eng, "wang li", "agent", NULL, PASSWORD, "name");
  refused(eng, "w\xc3\xa1ng", "agent", NULL, PASSWORD, "name");
  refused(eng, "wang", "boss", NULL, PASSWORD, "role");
  refused(eng, "wang", "Agent", NULL, PASSWORD, "role");
  refused(eng, "wang", NULL, NULL, PASSWORD, "role");
  refused(eng, "wang", "agent", "calls,,visits", PASSWORD, "queues");
  refused(eng, "wang", "agent", "calls,", PASSWORD, "queues");
  refused(eng, "wang", "agent", "Calls", PASSWORD, "queues");
  refused(eng, "wang", "agent", "calls;drop", PASSWORD, "queues");
  refused(eng, "wang", "agent", NULL, "123456789", "password");
  refused(eng, "wang", "agent", NULL, long_password, "password");
  refused(eng, "wang", "agent", NULL, "bad \xff utf-8 here", "password");
  refused(eng, "wang", "agent", NULL, NULL, "password");
  /* The bounds themselves are allowed. */
  long_name[64] = '\0';
  long_password[1024] = '\0';
  add(eng, long_name, "read", NULL);
  {
    rc_error err;
    assert_int_equal(
        engine_user_add(eng, "wang", "agent", NULL, long_password, NULL, &err),
        RC_OK);
    assert_int_equal(engine_user_add(eng, "zhang", "agent", NULL,
                                     "密码密码密码密", NULL, &err),
                     RC_OK);
  }
  engine_close(eng);
}

/* --- sessions: what the engine keeps of them ------------------------- */

#define SID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void session_add(engine *eng, const char *id, const char *name,
                        rc_time now) {
  rc_error err;
  if (engine_session_create(eng, id, name, now, now + 1000, now - 500,
                            "192.0.2.1", &err) != RC_OK)
    fail_msg("%s", err.message);
}

static int session_live(engine *eng, const char *id) {
  store_session s;
  rc_error err;
  int rc = query_session(engine_query(eng), id, &s, &err);
  if (rc == RC_OK) store_session_free(&s);
  return rc == RC_OK;
}

static void test_a_session_is_read_back_with_its_user(void **state) {
  engine *eng = open_mem();
  store_session s;
  rc_error err;
  (void)state;
  add(eng, "wang.li", "agent", "calls");
  session_add(eng, SID_A, "wang.li", 10000);
  assert_int_equal(query_session(engine_query(eng), SID_A, &s, &err), RC_OK);
  assert_string_equal(s.name, "wang.li");
  assert_string_equal(s.role, "agent");
  assert_string_equal(s.queues, "[\"calls\"]");
  assert_int_equal(s.created_at, 10000);
  assert_int_equal(s.last_seen, 10000);
  assert_int_equal(s.expires_at, 11000);
  store_session_free(&s);
  assert_int_equal(engine_session_touch(eng, SID_A, 10400, &err), RC_OK);
  /* never backwards */
  assert_int_equal(engine_session_touch(eng, SID_A, 10200, &err), RC_OK);
  assert_int_equal(query_session(engine_query(eng), SID_A, &s, &err), RC_OK);
  assert_int_equal(s.last_seen, 10400);
  store_session_free(&s);
  assert_int_equal(query_session(engine_query(eng), SID_B, &s, &err),
                   RC_ENOTFOUND);
  assert_string_equal(err.field, "session");
  engine_close(eng);
}

static void test_disabling_or_a_new_password_ends_the_users_sessions(
    void **state) {
  engine *eng = open_mem();
  rc_error err;
  (void)state;
  add(eng, "wang.li", "agent", NULL);
  add(eng, "zhao", "read", NULL);
  session_add(eng, SID_A, "wang.li", 10000);
  session_add(eng, SID_B, "zhao", 10000);
  assert_int_equal(engine_user_set_disabled(eng, "wang.li", 1, &err), RC_OK);
  assert_false(session_live(eng, SID_A));
  assert_true(session_live(eng, SID_B));
  assert_int_equal(engine_user_passwd(eng, "zhao", "another secret", &err),
                   RC_OK);
  assert_false(session_live(eng, SID_B));
  engine_close(eng);
}

static void test_stale_sessions_go_at_the_next_sign_in(void **state) {
  engine *eng = open_mem();
  rc_error err;
  (void)state;
  add(eng, "wang.li", "agent", NULL);
  session_add(eng, SID_A, "wang.li", 10000);
  /* idle since 10000: gone when a sign-in at 20000 says idle_before 19500 */
  session_add(eng, SID_B, "wang.li", 20000);
  assert_false(session_live(eng, SID_A));
  assert_true(session_live(eng, SID_B));
  assert_int_equal(
      engine_session_end(eng, SID_B, "wang.li", 20001, "192.0.2.1", &err),
      RC_OK);
  assert_false(session_live(eng, SID_B));
  /* ending one that is gone is no error */
  assert_int_equal(engine_session_end(eng, SID_B, "wang.li", 20002, NULL, &err),
                   RC_OK);
  engine_close(eng);
}

static void test_sign_in_halves_agree_with_the_check(void **state) {
  engine *eng = open_mem();
  engine_sign_in s;
  rc_error err;
  (void)state;
  add(eng, "wang.li", "agent", NULL);
  assert_int_equal(engine_sign_in_prepare(eng, "wang.li", &s, &err), RC_OK);
  assert_true(s.found);
  assert_true(engine_sign_in_verify(&s, PASSWORD));
  assert_false(engine_sign_in_verify(&s, PASSWORD "!"));
  engine_sign_in_free(&s);
  assert_int_equal(engine_sign_in_prepare(eng, "nobody", &s, &err), RC_OK);
  assert_false(s.found);
  assert_false(engine_sign_in_verify(&s, PASSWORD));
  engine_sign_in_free(&s);
  assert_int_equal(engine_sign_in_prepare(eng, "Not A Name", &s, &err), RC_OK);
  assert_false(s.found);
  engine_sign_in_free(&s);
  assert_int_equal(engine_user_set_disabled(eng, "wang.li", 1, &err), RC_OK);
  assert_int_equal(engine_sign_in_prepare(eng, "wang.li", &s, &err), RC_OK);
  assert_false(engine_sign_in_verify(&s, PASSWORD));
  engine_sign_in_free(&s);
  engine_close(eng);
}

/* The name people read is kept beside the login, changed and removed by
 * the engine, and listed; the login stays the key. */
static void test_a_display_name_is_kept_changed_and_removed(void **state) {
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  assert_int_equal(engine_user_add(eng, "zhang.min", "supervisor", NULL,
                                   PASSWORD, "张敏", &err),
                   RC_OK);
  assert_int_equal(query_user(engine_query(eng), "zhang.min", &u, &err), RC_OK);
  assert_string_equal(u.display_name, "张敏");
  store_user_free(&u);
  assert_int_equal(engine_user_set_display(eng, "zhang.min", "Zhang Min", &err),
                   RC_OK);
  assert_int_equal(query_user(engine_query(eng), "zhang.min", &u, &err), RC_OK);
  assert_string_equal(u.display_name, "Zhang Min");
  assert_string_equal(u.name, "zhang.min");
  store_user_free(&u);
  assert_int_equal(engine_user_set_display(eng, "zhang.min", "", &err), RC_OK);
  assert_int_equal(query_user(engine_query(eng), "zhang.min", &u, &err), RC_OK);
  assert_string_equal(u.display_name, "");
  store_user_free(&u);
  assert_int_equal(engine_user_set_display(eng, "nobody", "X", &err),
                   RC_ENOTFOUND);
  assert_string_equal(err.field, "name");
  engine_close(eng);
}

/* What people read must be what is there: a control, bidirectional,
 * joining or invisible character, a space at an end, bad UTF-8 or more
 * than 64 characters is refused naming display_name, nothing written. */
static void test_a_bad_display_name_is_refused_naming_the_field(void **state) {
  static const char *const bad[] = {
      "li\xe2\x80\xaegnaw", /* U+202E right-to-left override */
      "li\xe2\x81\xa6wei",  /* U+2066 left-to-right isolate */
      "\xe5\xbc\xa0\xe2\x80\x8d\xe6\x95\x8f", /* U+200D zero-width joiner */
      "\xe2\x80\x8b", /* U+200B zero-width space alone */
      "a\tb",         /* a control character */
      "a\nb",
      "a\xc2\x85", /* U+0085, a C1 control */
      " Zhang",    /* a space at either end */
      "Zhang ",
      "\xe3\x80\x80\xe5\xbc\xa0", /* U+3000, an ideographic space */
      "\xff\xfe",                 /* not UTF-8 */
      "\xc0\xaf",                 /* overlong */
  };
  char longest[64 * 3 + 4] = "";
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "li.wei", "agent", "phone");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(engine_user_set_display(eng, "li.wei", bad[i], &err),
                     RC_EINVAL);
    assert_string_equal(err.field, "display_name");
    assert_int_equal(
        engine_user_add(eng, "wang.li", "agent", NULL, PASSWORD, bad[i], &err),
        RC_EINVAL);
    assert_string_equal(err.field, "display_name");
  }
  assert_non_null(strstr(err.message, "UTF-8"));
  assert_int_equal(engine_user_set_display(eng, "li.wei", bad[0], &err),
                   RC_EINVAL);
  assert_non_null(strstr(err.message, "U+202E"));
  assert_non_null(strstr(err.message, "character 3"));
  for (int i = 0; i < 64; i++) strcat(longest, "\xe5\xad\x97"); /* 字 */
  assert_int_equal(engine_user_set_display(eng, "li.wei", longest, &err),
                   RC_OK);
  strcat(longest, "x");
  assert_int_equal(engine_user_set_display(eng, "li.wei", longest, &err),
                   RC_EINVAL);
  assert_non_null(strstr(err.message, "64 characters (65)"));
  assert_int_equal(query_user(engine_query(eng), "wang.li", &u, &err),
                   RC_ENOTFOUND);
  engine_close(eng);
}

/* A name on screen stands for one person: a display name that reads as
 * another user's login, in any case or width, is refused naming
 * display_name, and a new login that is another's display name naming
 * name; nothing is written. Two people may share a display name, and one
 * may be shown by their own login. */
static void test_a_display_name_reading_as_another_login_is_refused(
    void **state) {
  static const char *const other[] = {
      "li.wei", "Li.Wei", "LI.WEI",
      "\xef\xbd\x8c\xef\xbd\x89\xef\xbc\x8e\xef\xbd\x97\xef\xbd\x85"
      "\xef\xbd\x89", /* ｌｉ．ｗｅｉ, full width */
  };
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "li.wei", "agent", "phone");
  add(eng, "zhang.min", "supervisor", NULL);
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    assert_int_equal(engine_user_set_display(eng, "zhang.min", other[i], &err),
                     RC_ECONFLICT);
    assert_string_equal(err.field, "display_name");
    assert_non_null(strstr(err.message, "login of user li.wei"));
    assert_int_equal(engine_user_add(eng, "wang.li", "agent", NULL, PASSWORD,
                                     other[i], &err),
                     RC_ECONFLICT);
    assert_string_equal(err.field, "display_name");
  }
  assert_int_equal(query_user(engine_query(eng), "zhang.min", &u, &err), RC_OK);
  assert_string_equal(u.display_name, "");
  store_user_free(&u);
  assert_int_equal(query_user(engine_query(eng), "wang.li", &u, &err),
                   RC_ENOTFOUND);
  /* A login taken as another's display name later. */
  assert_int_equal(engine_user_set_display(eng, "zhang.min", "Wang.Li", &err),
                   RC_OK);
  assert_int_equal(
      engine_user_add(eng, "wang.li", "agent", NULL, PASSWORD, NULL, &err),
      RC_ECONFLICT);
  assert_string_equal(err.field, "name");
  assert_non_null(strstr(err.message, "display name of user zhang.min"));
  assert_int_equal(query_user(engine_query(eng), "wang.li", &u, &err),
                   RC_ENOTFOUND);
  /* Their own login, and a name two people share, stand. */
  assert_int_equal(engine_user_set_display(eng, "li.wei", "Li.Wei", &err),
                   RC_OK);
  assert_int_equal(engine_user_set_display(eng, "zhang.min",
                                           "\xe7\x8e\x8b\xe8\x8a\xb3", &err),
                   RC_OK);
  assert_int_equal(engine_user_add(eng, "wang.fang", "agent", NULL, PASSWORD,
                                   "\xe7\x8e\x8b\xe8\x8a\xb3", &err),
                   RC_OK);
  engine_close(eng);
}

/* A display name that looks like another user's login or display name
 * with other letters (UTS #39 skeletons: a capital I for an l, a Cyrillic
 * е for an e, "rn" for an m) is refused naming whom it looks like, at set
 * and at add; a new login that looks like another's display name too. The
 * same name as written may still be two people's. */
static void test_a_display_name_looking_like_another_is_refused(void **state) {
  static const char *const like_login[] = {
      "Ii.wei",        /* capital I, small i */
      "li.w\xd0\xb5i", /* Cyrillic е */
      "I\xd1\x96.wei", /* capital I, Cyrillic і */
  };
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "li.wei", "agent", "phone");
  add(eng, "zhang.min", "supervisor", NULL);
  add(eng, "wang.fang", "agent", "field");
  for (size_t i = 0; i < sizeof like_login / sizeof like_login[0]; i++) {
    assert_int_equal(
        engine_user_set_display(eng, "zhang.min", like_login[i], &err),
        RC_ECONFLICT);
    assert_string_equal(err.field, "display_name");
    assert_non_null(strstr(err.message,
                           "looks like li.wei, the login of user "
                           "li.wei"));
    assert_int_equal(engine_user_add(eng, "chen.jie", "agent", NULL, PASSWORD,
                                     like_login[i], &err),
                     RC_ECONFLICT);
    assert_string_equal(err.field, "display_name");
  }
  /* Another's display name, with a Cyrillic М. */
  assert_int_equal(engine_user_set_display(eng, "zhang.min", "Zhang Min", &err),
                   RC_OK);
  assert_int_equal(
      engine_user_set_display(eng, "wang.fang", "Zhang \xd0\x9cin", &err),
      RC_ECONFLICT);
  assert_string_equal(err.field, "display_name");
  assert_non_null(strstr(err.message,
                         "looks like 'Zhang Min', the display "
                         "name of user zhang.min"));
  /* The same name as written is two people's. */
  assert_int_equal(engine_user_set_display(eng, "wang.fang", "Zhang Min", &err),
                   RC_OK);
  /* A new login like another's display name ("rnary" reads as mary). */
  assert_int_equal(engine_user_set_display(eng, "li.wei", "rnary", &err),
                   RC_OK);
  assert_int_equal(
      engine_user_add(eng, "mary", "agent", NULL, PASSWORD, NULL, &err),
      RC_ECONFLICT);
  assert_string_equal(err.field, "name");
  assert_non_null(
      strstr(err.message, "is like the display name of user li.wei ('rnary')"));
  assert_int_equal(query_user(engine_query(eng), "mary", &u, &err),
                   RC_ENOTFOUND);
  assert_int_equal(query_user(engine_query(eng), "chen.jie", &u, &err),
                   RC_ENOTFOUND);
  engine_close(eng);
}

/* A user without a display name is shown by login: a new login that
 * looks like another's ("rnary" beside mary, "1i.wei" beside li.wei) is
 * refused naming whom, nothing written; one's own login as a display
 * name, or one like it, stands. */
static void test_a_login_looking_like_another_is_refused(void **state) {
  static const char *const like[][2] = {{"rnary", "mary"},
                                        {"1i.wei", "li.wei"}};
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "mary", "agent", NULL);
  add(eng, "li.wei", "agent", NULL);
  for (size_t i = 0; i < sizeof like / sizeof like[0]; i++) {
    char want[96];
    assert_int_equal(
        engine_user_add(eng, like[i][0], "agent", NULL, PASSWORD, NULL, &err),
        RC_ECONFLICT);
    assert_string_equal(err.field, "name");
    snprintf(want, sizeof want, "looks like %s, the login of user %s",
             like[i][1], like[i][1]);
    assert_non_null(strstr(err.message, want));
    assert_int_equal(query_user(engine_query(eng), like[i][0], &u, &err),
                     RC_ENOTFOUND);
  }
  assert_int_equal(engine_user_set_display(eng, "mary", "mary", &err), RC_OK);
  assert_int_equal(engine_user_set_display(eng, "li.wei", "Ii.wei", &err),
                   RC_OK);
  engine_close(eng);
}

/* A name is drawn where people read it and nowhere else: one that starts
 * with a combining mark (drawn on the words before it), stacks more than
 * four marks on a letter (drawn over the rows around it) or holds a
 * private-use character or a noncharacter is refused naming display_name;
 * Vietnamese with its marks decomposed stands. */
static void test_a_display_name_drawn_beyond_itself_is_refused(void **state) {
  static const char *const bad[] = {
      "\xcc\xb8Zhang",                                 /* U+0338 first */
      "Z\xcc\xb8\xcc\xb8\xcc\xb8\xcc\xb8\xcc\xb8hang", /* five on Z */
      "Zh\xee\x80\x80ng",                              /* U+E000 */
      "Zh\xef\xb7\x90ng",                              /* U+FDD0 */
  };
  engine *eng = open_mem();
  store_user u;
  rc_error err;
  (void)state;
  add(eng, "li.wei", "agent", "phone");
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(engine_user_set_display(eng, "li.wei", bad[i], &err),
                     RC_EINVAL);
    assert_string_equal(err.field, "display_name");
  }
  assert_non_null(strstr(err.message, "U+FDD0"));
  assert_int_equal(engine_user_set_display(eng, "li.wei", bad[1], &err),
                   RC_EINVAL);
  assert_non_null(strstr(err.message, "character 6"));
  assert_int_equal(query_user(engine_query(eng), "li.wei", &u, &err), RC_OK);
  assert_string_equal(u.display_name, "");
  store_user_free(&u);
  /* Nguyễn Thị Huệ, each mark its own code point. */
  assert_int_equal(engine_user_set_display(eng, "li.wei",
                                           "Nguye\xcc\x82\xcc\x83n Thi\xcc\xa3 "
                                           "Hue\xcc\xa3\xcc\x82",
                                           &err),
                   RC_OK);
  engine_close(eng);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_a_user_added_is_read_back_without_its_hash),
      cmocka_unit_test(test_the_right_password_signs_in),
      cmocka_unit_test(test_a_wrong_password_or_name_is_refused_alike),
      cmocka_unit_test(test_a_disabled_user_is_refused_until_enabled),
      cmocka_unit_test(test_a_new_password_replaces_the_old),
      cmocka_unit_test(test_a_second_user_of_a_name_is_refused),
      cmocka_unit_test(test_unknown_users_cannot_be_disabled),
      cmocka_unit_test(test_bad_values_are_refused_naming_the_field),
      cmocka_unit_test(test_a_display_name_is_kept_changed_and_removed),
      cmocka_unit_test(test_a_bad_display_name_is_refused_naming_the_field),
      cmocka_unit_test(test_a_display_name_reading_as_another_login_is_refused),
      cmocka_unit_test(test_a_display_name_looking_like_another_is_refused),
      cmocka_unit_test(test_a_display_name_drawn_beyond_itself_is_refused),
      cmocka_unit_test(test_a_login_looking_like_another_is_refused),
      cmocka_unit_test(test_a_session_is_read_back_with_its_user),
      cmocka_unit_test(
          test_disabling_or_a_new_password_ends_the_users_sessions),
      cmocka_unit_test(test_stale_sessions_go_at_the_next_sign_in),
      cmocka_unit_test(test_sign_in_halves_agree_with_the_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
