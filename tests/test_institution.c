/* runtime/institution.c: recoup.lua's vocabulary. Each test writes a
 * recoup.lua into a scratch directory and loads it with script_load: the
 * settings land in institution_config with their defaults, and every
 * refusal is an error that names the field, the file and the line —
 * whatever hostile values the file holds (wrong types, huge numbers, NUL
 * bytes, unknown keys, deep tables). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <lauxlib.h>
#include <lua.h>

#include "recoup/script.h"

static char dir[256];

/* The smallest institution that loads, and a workflow for it. */
#define INSTITUTION \
  "institution { name = 'T', timezone = 'UTC', currency = 'USD' }\n"
#define WORKFLOW                                                          \
  "workflow(recoup.workflow { name = 'w', version = 1, initial = 'new', " \
  "states = { new = {} } })\n"

static rc_errlist errors;

static void write_lua(const char *text, size_t len) {
  char path[400];
  FILE *f;
  snprintf(path, sizeof path, "%s/recoup.lua", dir);
  f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  fclose(f);
}

/* Loads text as recoup.lua: the script (NULL on failure, errors kept in
 * `errors` for the checks below). */
static script *load_len(const char *text, size_t len) {
  script *sc = NULL;
  rc_errlist_free(&errors);
  memset(&errors, 0, sizeof errors);
  write_lua(text, len);
  if (script_load(&sc, dir, &errors) != RC_OK) return NULL;
  return sc;
}

static script *load(const char *text) {
  return load_len(text, strlen(text));
}

static void print_errors(void) {
  for (int i = 0; i < errors.count; i++)
    rc_error_print(&errors.items[i], stderr);
}

/* Loads text and expects it to load; its config. The script is freed by
 * the next call (one at a time is all a test needs). */
static script *loaded;
static const institution_config *ok(const char *text) {
  script_free(loaded);
  loaded = load(text);
  if (!loaded) {
    print_errors();
    fail_msg("did not load:\n%s", text);
  }
  return script_config(loaded);
}

/* The load fails with an error holding has, in recoup.lua at line (0:
 * any line). */
static void refused_len(const char *text, size_t len, const char *has,
                        int line) {
  script *sc = load_len(text, len);
  if (sc) {
    script_free(sc);
    fail_msg("loaded, but wanted an error with \"%s\":\n%s", has, text);
  }
  for (int i = 0; i < errors.count; i++) {
    const rc_error *e = &errors.items[i];
    const char *base = strrchr(e->file, '/');
    if (!strstr(e->message, has)) continue;
    if (!base || strcmp(base, "/recoup.lua") != 0)
      fail_msg("\"%s\" is in %s, not recoup.lua", e->message, e->file);
    if (line && e->line != line)
      fail_msg("\"%s\" is at line %d, not %d", e->message, e->line, line);
    return;
  }
  print_errors();
  fail_msg("no error with \"%s\" for:\n%s", has, text);
}

static void refused(const char *text, const char *has, int line) {
  refused_len(text, strlen(text), has, line);
}

/* text with a line "service { BODY }" after the institution (line 2). */
static void service_refused(const char *body, const char *has) {
  char text[4096];
  snprintf(text, sizeof text, INSTITUTION "service { %s }\n" WORKFLOW, body);
  refused(text, has, 2);
}

static const institution_config *service_ok(const char *body) {
  static char text[4096];
  snprintf(text, sizeof text, INSTITUTION "service { %s }\n" WORKFLOW, body);
  return ok(text);
}

static int setup(void **state) {
  (void)state;
  snprintf(dir, sizeof dir, "/tmp/recoup-test-institution-%d", (int)getpid());
  mkdir(dir, 0700);
  return 0;
}

static int teardown(void **state) {
  char path[400];
  (void)state;
  script_free(loaded);
  loaded = NULL;
  rc_errlist_free(&errors);
  snprintf(path, sizeof path, "%s/recoup.lua", dir);
  remove(path);
  rmdir(dir);
  return 0;
}

/* --- defaults ------------------------------------------------------------ */

static void test_defaults_of_a_minimal_institution(void **state) {
  const institution_config *c = ok(INSTITUTION WORKFLOW);
  char want[400];
  (void)state;
  assert_string_equal(c->name, "T");
  assert_string_equal(c->timezone, "UTC");
  assert_string_equal(c->currency, "USD");
  assert_string_equal(c->locale, "en");
  assert_string_equal(c->country, "");
  assert_string_equal(c->listen, "127.0.0.1:8080");
  snprintf(want, sizeof want, "%s/var/recoup.db", dir);
  assert_string_equal(c->db, want);
  snprintf(want, sizeof want, "%s/var/backups", dir);
  assert_string_equal(c->backup_to, want);
  assert_int_equal(c->backup_every_ms, 0);
  assert_int_equal(c->backup_keep, 7);
  assert_int_equal(c->body_limit, 1u << 20);
  assert_int_equal(c->memory_limit, 256u << 20);
  assert_int_equal(c->instruction_budget, 10000000);
  assert_int_equal(c->idle_timeout_ms, 30000);
  assert_int_equal(c->request_timeout_ms, 10000);
  assert_int_equal(c->header_timeout_ms, 10000);
  assert_int_equal(c->handler_deadline_ms, 10000);
  assert_int_equal(c->max_connections, 1024);
  assert_int_equal(c->max_per_address, 256);
  assert_int_equal(c->session_idle_ms, 3600000);
  assert_int_equal(c->session_lifetime_ms, 43200000);
  assert_int_equal(c->log_level, 1);
  assert_int_equal(c->ntrusted_proxies, 0);
  assert_int_equal(c->ncapacity, 0);
  assert_int_equal(c->nworkflows, 1);
  for (int i = 0; i < 4; i++) assert_string_equal(c->token_env[i], "");
}

/* --- institution{} ------------------------------------------------------- */

static void test_institution_fields_are_read(void **state) {
  const institution_config *c =
      ok("institution { name = 'Lender', timezone = 'Asia/Shanghai', "
         "currency = 'CNY', locale = 'zh-CN', country = 'CN', "
         "contact_phone = '400-800-1234' }\n" WORKFLOW);
  (void)state;
  assert_string_equal(c->name, "Lender");
  assert_string_equal(c->timezone, "Asia/Shanghai");
  assert_string_equal(c->currency, "CNY");
  assert_string_equal(c->locale, "zh-CN");
  assert_string_equal(c->country, "CN");
  assert_string_equal(c->contact_phone, "400-800-1234");
}

/* The country is the one phone normalisation reads national forms with:
 * only ISO 3166-1 alpha-2 codes ICU knows, upper case. */
static void test_country_must_be_an_iso_code(void **state) {
  (void)state;
  assert_string_equal(
      ok("institution { name = 'T', timezone = 'UTC', currency = 'USD', "
         "country = 'GB' }\n" WORKFLOW)
          ->country,
      "GB");
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "country = 'XX' }\n" WORKFLOW,
      "institution.country must be an ISO 3166-1 alpha-2 code such as "
      "\"CN\" (got 'XX')",
      1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "country = 'cn' }\n" WORKFLOW,
      "(got 'cn')", 1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "country = 'CHN' }\n" WORKFLOW,
      "(got 'CHN')", 1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "country = 86 }\n" WORKFLOW,
      "institution.country must be an ISO 3166-1", 1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "country = {} }\n" WORKFLOW,
      "institution.country must be an ISO 3166-1", 1);
}

static void test_required_fields_are_named_when_missing(void **state) {
  (void)state;
  refused("institution { timezone = 'UTC', currency = 'USD' }\n" WORKFLOW,
          "institution.name must be a non-empty string (missing)", 1);
  refused("institution { name = 'T', currency = 'USD' }\n" WORKFLOW,
          "institution.timezone must be a non-empty string (missing)", 1);
  refused("institution { name = 'T', timezone = 'UTC' }\n" WORKFLOW,
          "institution.currency must be a non-empty string (missing)", 1);
  refused(
      "institution { name = '', timezone = 'UTC', currency = 'USD' "
      "}\n" WORKFLOW,
      "institution.name must be a non-empty string", 1);
  refused(WORKFLOW, "recoup.lua has no institution", 0);
  refused(INSTITUTION, "recoup.lua registers no workflow", 0);
}

static void test_institution_values_are_checked(void **state) {
  (void)state;
  refused(
      "\n\ninstitution { name = 'T', timezone = 'Mars/Olympus', "
      "currency = 'USD' }\n" WORKFLOW,
      "institution.timezone", 3);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'usd' "
      "}\n" WORKFLOW,
      "institution.currency 'usd' is not an ISO 4217 code", 1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'DOLLAR' "
      "}\n" WORKFLOW,
      "institution.currency 'DOLLAR' is not an ISO 4217 code", 1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "locale = 'zh CN' }\n" WORKFLOW,
      "institution.locale 'zh CN' is not a language tag", 1);
  /* Checked as a borrower's is: ICU would honour the -u- keys in every
   * message of every borrower without a locale of their own. */
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "locale = 'zh-CN-u-ca-buddhist' }\n" WORKFLOW,
      "institution.locale 'zh-CN-u-ca-buddhist': extensions such as -u- "
      "are not taken", 1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "locale = 'xx-YY' }\n" WORKFLOW,
      "institution.locale 'xx-YY': 'xx' is not a language ICU knows", 1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "nmae = 'x' }\n" WORKFLOW,
      "institution: unknown field 'nmae'", 1);
  refused(
      "institution { name = 'T', timezone = 'UTC', currency = 'USD', "
      "[1] = 'x' }\n" WORKFLOW,
      "institution: fields must be named", 1);
  refused(INSTITUTION INSTITUTION WORKFLOW, "institution{} is given twice", 2);
  refused("institution 'T'\n" WORKFLOW,
          "institution expects a table: institution { ... }", 1);
}

/* --- names by locale ----------------------------------------------------- */

static void test_names_by_locale(void **state) {
  const institution_config *c =
      ok("institution { name = { ['zh-CN'] = '测试贷款', en = 'Test Lender' },"
         " timezone = 'Asia/Shanghai', currency = 'CNY', locale = 'zh-CN' "
         "}\n" WORKFLOW);
  (void)state;
  /* Its own name is the one in its own locale. */
  assert_string_equal(c->name, "测试贷款");
  assert_int_equal(c->nnames, 2);
  assert_string_equal(institution_name(c, "zh-CN"), "测试贷款");
  assert_string_equal(institution_name(c, "en"), "Test Lender");
  /* en-GB reads the English name; a language it has no name in, its own. */
  assert_string_equal(institution_name(c, "en-GB"), "Test Lender");
  assert_string_equal(institution_name(c, "en_US"), "Test Lender");
  assert_string_equal(institution_name(c, "fr"), "测试贷款");
  assert_string_equal(institution_name(c, NULL), "测试贷款");
  assert_string_equal(institution_name(c, ""), "测试贷款");
}

static void test_bad_names_by_locale_are_refused(void **state) {
  (void)state;
  refused(
      "institution { name = { fr = 'Prêteur' }, timezone = 'UTC', "
      "currency = 'USD' }\n" WORKFLOW,
      "institution.name has no name for the institution's locale 'en'", 1);
  refused(
      "institution { name = { en = '' }, timezone = 'UTC', "
      "currency = 'USD' }\n" WORKFLOW,
      "institution.name.en must be a non-empty string", 1);
  refused(
      "institution { name = { en = 5 }, timezone = 'UTC', "
      "currency = 'USD' }\n" WORKFLOW,
      "institution.name.en must be a non-empty string", 1);
  refused(
      "institution { name = { 'Lender' }, timezone = 'UTC', "
      "currency = 'USD' }\n" WORKFLOW,
      "institution.name: keys must be locales", 1);
  refused(
      "institution { name = { ['en gb'] = 'x' }, timezone = 'UTC', "
      "currency = 'USD' }\n" WORKFLOW,
      "institution.name: keys must be locales", 1);
  refused(
      "institution { name = {}, timezone = 'UTC', currency = 'USD' "
      "}\n" WORKFLOW,
      "institution.name must be a name or a table of names by locale", 1);
}

static void test_names_are_bounded(void **state) {
  char text[2048], name[300];
  (void)state;
  memset(name, 'n', 200);
  name[200] = '\0';
  snprintf(text, sizeof text,
           "institution { name = '%s', timezone = 'UTC', currency = 'USD' "
           "}\n" WORKFLOW,
           name);
  refused(text, "institution.name is too long (at most 127 bytes)", 1);
  snprintf(text, sizeof text,
           "institution { name = { en = '%s' }, timezone = 'UTC', "
           "currency = 'USD' }\n" WORKFLOW,
           name);
  refused(text,
          "institution.name.en must be a non-empty string of at most "
          "127 bytes",
          1);
  /* Seventeen languages: one more than there is room for. */
  snprintf(text, sizeof text, "%s",
           "local n = { en = 'E' }\n"
           "for i = 1, 16 do n['x' .. i] = 'X' end\n"
           "institution { name = n, timezone = 'UTC', currency = 'USD' "
           "}\n" WORKFLOW);
  refused(text, "institution.name: at most 16 languages", 3);
}

/* A NUL inside a value would cut it silently where C reads it: refused,
 * naming the field. */
static void test_a_nul_in_a_value_is_refused(void **state) {
  static const char name[] =
      "institution { name = 'Le\0nder', timezone = 'UTC', currency = "
      "'USD' }\n" WORKFLOW;
  static const char token[] =
      INSTITUTION "tokens { admin = 'env:ADMIN\0_TOKEN' }\n" WORKFLOW;
  static const char listen[] =
      INSTITUTION "service { listen = '127.0.0.1:80\0' }\n" WORKFLOW;
  (void)state;
  refused_len(name, sizeof name - 1, "institution.name", 1);
  refused_len(token, sizeof token - 1, "tokens.admin", 2);
  refused_len(listen, sizeof listen - 1, "service.listen", 2);
}

/* --- service{} ----------------------------------------------------------- */

static void test_service_settings_are_read(void **state) {
  const institution_config *c = service_ok(
      "listen = '0.0.0.0:9090', db = 'data/book.db', body_limit = '2MB', "
      "memory_limit = '64MB', instruction_budget = 5000, "
      "idle_timeout = '5s', request_timeout = '2m', header_timeout = '3s', "
      "handler_deadline = '2s', max_connections = 10, "
      "max_connections_per_address = 3, session_idle = '30m', "
      "session_lifetime = '8h', log_level = 'warn'");
  char want[400];
  (void)state;
  assert_string_equal(c->listen, "0.0.0.0:9090");
  snprintf(want, sizeof want, "%s/data/book.db", dir);
  assert_string_equal(c->db, want);
  assert_int_equal(c->body_limit, 2u << 20);
  assert_int_equal(c->memory_limit, 64u << 20);
  assert_int_equal(c->instruction_budget, 5000);
  assert_int_equal(c->idle_timeout_ms, 5000);
  assert_int_equal(c->request_timeout_ms, 120000);
  assert_int_equal(c->header_timeout_ms, 3000);
  assert_int_equal(c->handler_deadline_ms, 2000);
  assert_int_equal(c->max_connections, 10);
  assert_int_equal(c->max_per_address, 3);
  assert_int_equal(c->session_idle_ms, 1800000);
  assert_int_equal(c->session_lifetime_ms, 8 * 3600000);
  assert_int_equal(c->log_level, 2);
}

static void test_service_db_absolute_and_in_memory(void **state) {
  (void)state;
  assert_string_equal(service_ok("db = '/srv/recoup/book.db'")->db,
                      "/srv/recoup/book.db");
  assert_string_equal(service_ok("db = ':memory:'")->db, ":memory:");
  assert_int_equal(service_ok("body_limit = 4096")->body_limit, 4096);
  assert_int_equal(service_ok("body_limit = '512KB'")->body_limit, 512u << 10);
  assert_int_equal(service_ok("body_limit = '100B'")->body_limit, 100);
  assert_int_equal(service_ok("memory_limit = '1GB'")->memory_limit, 1u << 30);
  for (int i = 0; i < 4; i++) {
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    char body[64];
    snprintf(body, sizeof body, "log_level = '%s'", levels[i]);
    assert_int_equal(service_ok(body)->log_level, i);
  }
}

static void test_service_values_are_refused_by_name(void **state) {
  (void)state;
  service_refused("listen = 'localhost'",
                  "service.listen 'localhost' must be "
                  "HOST:PORT");
  service_refused("listen = 'localhost:0'", "must be HOST:PORT");
  service_refused("listen = 'localhost:65536'", "must be HOST:PORT");
  service_refused("listen = 'localhost:80x'", "must be HOST:PORT");
  service_refused("listen = 8080", "service.listen must be a non-empty string");
  service_refused("body_limit = '1TB'", "service.body_limit must be a size");
  service_refused("body_limit = 'big'", "service.body_limit must be a size");
  service_refused("body_limit = 0", "service.body_limit must be a size");
  service_refused("body_limit = -5", "service.body_limit must be a size");
  service_refused("body_limit = 1.5", "service.body_limit must be a size");
  service_refused("body_limit = true", "service.body_limit must be a size");
  service_refused("memory_limit = '3MB'",
                  "service.memory_limit must be at "
                  "least 4MB");
  service_refused("idle_timeout = 30",
                  "service.idle_timeout must be a "
                  "duration");
  service_refused("request_timeout = '1mo'",
                  "service.request_timeout must "
                  "be a duration");
  service_refused("header_timeout = 'soon'",
                  "service.header_timeout must be "
                  "a duration");
  service_refused("handler_deadline = '1d'",
                  "service.handler_deadline must "
                  "be a duration");
  service_refused("handler_deadline = 10",
                  "service.handler_deadline must be "
                  "a duration");
  service_refused("max_connections = 0",
                  "service.max_connections must be a "
                  "whole number from 1 to 100000");
  service_refused("max_connections = 100001", "service.max_connections must");
  service_refused("max_connections = 2.5", "service.max_connections must");
  service_refused("max_connections = '10'", "service.max_connections must");
  service_refused("max_connections_per_address = -1",
                  "service.max_connections_per_address must be a whole");
  service_refused("instruction_budget = 999",
                  "service.instruction_budget "
                  "must be a whole number >= 1000");
  service_refused("instruction_budget = 1e9", "service.instruction_budget");
  service_refused("log_level = 'loud'", "service.log_level must be \"debug\"");
  service_refused("log_level = 2", "service.log_level must be");
  service_refused("lissen = '1.2.3.4:80'", "service: unknown field 'lissen'");
  refused(INSTITUTION "service {}\nservice {}\n" WORKFLOW,
          "service{} is given twice", 3);
  refused(INSTITUTION "service 'fast'\n" WORKFLOW, "service expects a table",
          2);
}

/* Sizes and durations far beyond any machine are refused, never wrapped
 * into small or negative numbers. */
static void test_huge_sizes_and_durations_are_refused(void **state) {
  (void)state;
  service_refused("body_limit = '17179869183GB'",
                  "service.body_limit must be a size");
  service_refused("memory_limit = '99999999999MB'",
                  "service.memory_limit must be a size");
  service_refused("body_limit = '18446744073709551617'",
                  "service.body_limit must be a size");
  service_refused("idle_timeout = '30d'",
                  "service.idle_timeout must be a "
                  "duration");
  service_refused("request_timeout = '100000h'",
                  "service.request_timeout must be a duration");
  service_refused("handler_deadline = '100h'",
                  "service.handler_deadline must be a duration from \"1s\" "
                  "to \"23h\"");
  service_refused("idle_timeout = '99999999999999999999s'",
                  "service.idle_timeout must be a duration");
  service_refused("body_limit = 1 << 41", "service.body_limit must be a size");
  service_refused("memory_limit = math.maxinteger",
                  "service.memory_limit must be a size");
  service_refused("listen = 'localhost: 80'", "must be HOST:PORT");
  service_refused("max_connections = math.maxinteger",
                  "service.max_connections must");
  /* The largest of each that is allowed still loads. */
  assert_int_equal(service_ok("idle_timeout = '1d'")->idle_timeout_ms,
                   86400000);
  assert_int_equal(service_ok("handler_deadline = '23h'")->handler_deadline_ms,
                   23 * 3600000);
  assert_int_equal(service_ok("max_connections = 100000")->max_connections,
                   100000);
}

static void test_sessions_are_bounded_and_ordered(void **state) {
  (void)state;
  service_refused("session_idle = '0s'",
                  "service.session_idle must be a "
                  "duration from \"1s\" to \"7d\"");
  service_refused("session_lifetime = '8d'",
                  "service.session_lifetime must be a duration from");
  service_refused("session_lifetime = '1mo'",
                  "service.session_lifetime must be a duration from");
  service_refused("session_idle = 3600", "service.session_idle must be");
  service_refused("session_idle = '13h', session_lifetime = '12h'",
                  "service.session_idle must not be longer than "
                  "service.session_lifetime");
  /* The default lifetime (12h) bounds a longer idle given alone. */
  service_refused("session_idle = '13h'", "must not be longer than");
  assert_int_equal(service_ok("session_lifetime = '7d'")->session_lifetime_ms,
                   7LL * 86400000);
}

static void test_trusted_proxies(void **state) {
  const institution_config *c =
      service_ok("trusted_proxies = { '127.0.0.1', '10.0.0.0/8', '::1' }");
  (void)state;
  assert_int_equal(c->ntrusted_proxies, 3);
  assert_int_equal(c->trusted_proxies[0].bits, 128);
  assert_int_equal(c->trusted_proxies[1].bits, 96 + 8);
  assert_int_equal(c->trusted_proxies[2].bits, 128);
  service_refused("trusted_proxies = { '127.0.0.1', '10.0.0.1/8' }",
                  "service.trusted_proxies[2] '10.0.0.1/8' is not an address");
  service_refused("trusted_proxies = { 'proxy.example' }",
                  "service.trusted_proxies[1] 'proxy.example' is not");
  service_refused("trusted_proxies = { 7 }",
                  "service.trusted_proxies[1] (a number) is not");
  service_refused("trusted_proxies = { proxy = '127.0.0.1' }",
                  "service.trusted_proxies must be a list, without named "
                  "fields");
  service_refused("trusted_proxies = '127.0.0.1'",
                  "service.trusted_proxies must be a list of addresses");
  refused(INSTITUTION
          "local t = {} for i = 1, 33 do t[i] = '10.0.0.' .. i end\n"
          "service { trusted_proxies = t }\n" WORKFLOW,
          "service.trusted_proxies holds 33 items; at most 32", 3);
}

static void test_backup_schedule(void **state) {
  const institution_config *c =
      service_ok("backup = { every = '6h', keep = 3, to = 'copies' }");
  char want[400];
  (void)state;
  assert_int_equal(c->backup_every_ms, 6 * 3600000);
  assert_int_equal(c->backup_keep, 3);
  snprintf(want, sizeof want, "%s/copies", dir);
  assert_string_equal(c->backup_to, want);
  assert_string_equal(
      service_ok("backup = { to = '/var/backups/recoup' }")->backup_to,
      "/var/backups/recoup");
  assert_int_equal(service_ok("backup = { every = '1w' }")->backup_every_ms,
                   7LL * 86400000);
  service_refused("backup = { every = '30s' }",
                  "service.backup.every must be a duration of a minute or "
                  "more");
  service_refused("backup = { every = '1mo' }",
                  "service.backup.every must be a duration");
  service_refused("backup = { keep = 0 }",
                  "service.backup.keep must be a whole number from 1 to 10000");
  service_refused("backup = { keep = 10001 }", "service.backup.keep must");
  service_refused("backup = { keep = 2.5 }", "service.backup.keep must");
  service_refused("backup = { to = 5 }",
                  "service.backup.to must be a non-empty string");
  service_refused("backup = { evry = '1d' }",
                  "service.backup: unknown field 'evry'");
  service_refused("backup = '1d'", "service.backup must be a table");
}

/* --- tokens{} ------------------------------------------------------------ */

static void test_tokens_name_environment_variables(void **state) {
  const institution_config *c =
      ok(INSTITUTION
         "tokens { ingest = 'env:T_IN', agent = 'env:T_AG', "
         "read = 'env:T_RD', admin = 'env:T_AD' }\n" WORKFLOW);
  (void)state;
  assert_string_equal(c->token_env[0], "T_IN");
  assert_string_equal(c->token_env[1], "T_AG");
  assert_string_equal(c->token_env[2], "T_RD");
  assert_string_equal(c->token_env[3], "T_AD");
  c = ok(INSTITUTION "tokens { admin = 'env:ONLY' }\n" WORKFLOW);
  assert_string_equal(c->token_env[0], "");
  assert_string_equal(c->token_env[3], "ONLY");
}

static void test_tokens_refuse_secrets_and_unknown_roles(void **state) {
  (void)state;
  refused(INSTITUTION "tokens { admin = 'hunter2' }\n" WORKFLOW,
          "tokens.admin must be \"env:VARIABLE\": secrets stay out of "
          "scripts",
          2);
  refused(INSTITUTION "tokens { admin = 'env:' }\n" WORKFLOW,
          "tokens.admin must be \"env:VARIABLE\"", 2);
  refused(INSTITUTION "tokens { read = 42 }\n" WORKFLOW,
          "tokens.read must be \"env:VARIABLE\"", 2);
  refused(INSTITUTION "tokens { root = 'env:X' }\n" WORKFLOW,
          "tokens: unknown field 'root'", 2);
  refused(INSTITUTION "tokens {}\ntokens {}\n" WORKFLOW,
          "tokens{} is given twice", 3);
}

/* --- capacity{} ---------------------------------------------------------- */

static void test_capacity_per_queue(void **state) {
  const institution_config *c =
      ok(INSTITUTION "capacity { phone = 400 }\n" WORKFLOW);
  (void)state;
  assert_int_equal(c->ncapacity, 1);
  assert_string_equal(c->capacity[0].queue, "phone");
  assert_int_equal(c->capacity[0].per_day, 400);
  assert_int_equal(ok(INSTITUTION "capacity { ['电话'] = 0 }\n" WORKFLOW)
                       ->capacity[0]
                       .per_day,
                   0);
  refused(INSTITUTION "capacity { phone = -1 }\n" WORKFLOW,
          "capacity.phone must be a whole number of tasks a day", 2);
  refused(INSTITUTION "capacity { phone = 1000001 }\n" WORKFLOW,
          "capacity.phone must be a whole number", 2);
  refused(INSTITUTION "capacity { phone = 2.5 }\n" WORKFLOW,
          "capacity.phone must be a whole number", 2);
  refused(INSTITUTION "capacity { phone = 'many' }\n" WORKFLOW,
          "capacity.phone must be a whole number", 2);
  refused(INSTITUTION "capacity { 400 }\n" WORKFLOW,
          "capacity: keys are queue names, got a number", 2);
  refused(INSTITUTION
          "capacity { ['" /* 70 bytes */
          "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq"
          "qqqq'] = 1 }\n" WORKFLOW,
          "is too long", 2);
  refused(INSTITUTION
          "local c = {} for i = 1, 33 do c['q' .. i] = 1 end\n"
          "capacity(c)\n" WORKFLOW,
          "capacity: at most 32 queues", 3);
  refused(INSTITUTION "capacity {}\ncapacity {}\n" WORKFLOW,
          "capacity{} is given twice", 3);
}

/* --- policy{} and channels ----------------------------------------------- */

static void test_policy_is_parsed_for_the_guard(void **state) {
  const institution_config *c = ok(
      INSTITUTION
      "policy { contact_hours = { '08:00', '21:30' },\n"
      "  max_contacts = { { channels = { 'sms' }, limit = 3, per = '7d' },\n"
      "                   { channels = { 'call' }, limit = 1, per = '1d', "
      "scope = 'case' } },\n"
      "  after_conversation = { channels = { 'call' }, pause = '2d' },\n"
      "  third_parties = 'none', forbidden_phrases = { 'jail' } }\n" WORKFLOW);
  const policy_config *p = &c->policy;
  (void)state;
  assert_true(p->has_hours);
  assert_int_equal(p->start_min, 8 * 60);
  assert_int_equal(p->end_min, 21 * 60 + 30);
  assert_int_equal(p->nrules, 2);
  assert_string_equal(p->rules[0].channels[0], "sms");
  assert_int_equal(p->rules[0].limit, 3);
  assert_int_equal(p->rules[0].per.days, 7);
  assert_false(p->rules[0].per_case);
  assert_true(p->rules[1].per_case);
  assert_true(p->has_pause);
  assert_int_equal(p->pause.days, 2);
  assert_string_equal(p->pause_channels[0], "call");
  assert_true(p->third_parties_none);
}

static void test_policy_refusals_name_the_rule(void **state) {
  (void)state;
  refused(INSTITUTION "policy { contact_hours = { '8am', '9pm' } }\n" WORKFLOW,
          "policy.contact_hours must be { \"08:00\", \"21:00\" }", 2);
  refused(INSTITUTION
          "policy { contact_hours = { '08:00', '25:00' } }\n" WORKFLOW,
          "policy.contact_hours must be", 2);
  /* The item at fault, and the time meant: on 0a67ea0 '9:00' was refused
   * with the form alone. */
  refused(INSTITUTION
          "policy { contact_hours = { '9:00', '21:00' } }\n" WORKFLOW,
          "policy.contact_hours must be { \"08:00\", \"21:00\" } (local "
          "start and end, HH:MM): [1] is '9:00' (write 09:00)",
          2);
  refused(INSTITUTION
          "policy { contact_hours = { '08:00', '晚上9点' } }\n" WORKFLOW,
          "(local start and end, HH:MM): [2] is '晚上9点'", 2);
  /* An hour past the day's end: on 0a67ea0 24:59 passed (24:00 ends the
   * window at midnight). */
  refused(INSTITUTION
          "policy { contact_hours = { '08:00', '24:59' } }\n" WORKFLOW,
          "(local start and end, HH:MM): [2] is '24:59'", 2);
  refused(INSTITUTION
          "policy { contact_hours = { '24:00', '08:00' } }\n" WORKFLOW,
          "(local start and end, HH:MM): [1] is '24:00' (write 00:00)", 2);
  refused(INSTITUTION
          "policy { max_contacts = { { channels = { 'sms' }, "
          "limit = -1, per = '1d' } } }\n" WORKFLOW,
          "policy.max_contacts[1].limit must be a whole number >= 0", 2);
  refused(INSTITUTION
          "policy { max_contacts = { { channels = {}, "
          "limit = 1, per = '1d' } } }\n" WORKFLOW,
          "policy.max_contacts[1].channels must be a list of channel names", 2);
  refused(INSTITUTION
          "policy { max_contacts = { { channels = { 'sms' }, "
          "limit = 1, per = 'daily' } } }\n" WORKFLOW,
          "policy.max_contacts[1].per: bad duration 'daily'", 2);
  refused(INSTITUTION
          "policy { max_contacts = { { channels = { 'sms' }, "
          "limit = 1, per = '1d', scope = 'family' } } }\n" WORKFLOW,
          "policy.max_contacts[1].scope must be \"borrower\" or \"case\"", 2);
  refused(INSTITUTION "policy { max_contacts = { 'sms' } }\n" WORKFLOW,
          "policy.max_contacts[1] must be a table", 2);
  refused(INSTITUTION "policy { after_conversation = '7d' }\n" WORKFLOW,
          "policy.after_conversation must be", 2);
  refused(INSTITUTION "policy { third_parties = 'all' }\n" WORKFLOW,
          "policy.third_parties must be \"no_debt_details\" or \"none\"", 2);
  refused(INSTITUTION "policy { forbidden_phrases = { '' } }\n" WORKFLOW,
          "policy.forbidden_phrases[1] must be a non-empty string", 2);
  refused(INSTITUTION "policy { promise_horizon = 'soon' }\n" WORKFLOW,
          "policy.promise_horizon: bad duration 'soon'", 2);
  refused(INSTITUTION "policy { promise_horizon = 90 }\n" WORKFLOW,
          "policy.promise_horizon must be a duration such as \"7d\"", 2);
  refused(INSTITUTION "policy { promise_horizon = '12h' }\n" WORKFLOW,
          "policy.promise_horizon must be at least a day", 2);
  refused(INSTITUTION "policy { quiet = true }\n" WORKFLOW,
          "policy: unknown field 'quiet'", 2);
}

static void test_channels(void **state) {
  const institution_config *c = ok(
      INSTITUTION
      "channel 'sms' { driver = 'file', path = 'out/sms.jsonl' }\n"
      "channel 'mail' { driver = 'exec', command = { '/bin/mail', '-s' }, "
      "timeout = '5s', retries = 2 }\n"
      "channel 'hook' { driver = 'webhook', url = 'https://gw.example/send', "
      "headers = { ['X-Key'] = 'k' } }\n" WORKFLOW);
  char want[400];
  (void)state;
  assert_int_equal(c->nchannels, 3);
  snprintf(want, sizeof want, "%s/out/sms.jsonl", dir);
  assert_string_equal(c->channels[0].path, want);
  assert_int_equal(c->channels[0].driver, CHANNEL_FILE);
  assert_int_equal(c->channels[1].driver, CHANNEL_EXEC);
  assert_int_equal(c->channels[1].nargs, 2);
  assert_string_equal(c->channels[1].args[1], "-s");
  assert_int_equal(c->channels[1].timeout_ms, 5000);
  assert_int_equal(c->channels[1].retries, 2);
  assert_int_equal(c->channels[2].driver, CHANNEL_WEBHOOK);
  assert_string_equal(c->channels[2].headers[0], "X-Key: k");
  assert_int_equal(c->channels[2].timeout_ms, 10000);
  assert_int_equal(c->channels[2].retries, 5);
}

static void test_channel_refusals(void **state) {
  (void)state;
  refused(INSTITUTION "channel 'sms' { driver = 'pigeon' }\n" WORKFLOW,
          "channel \"sms\".driver must be \"file\", \"exec\" or \"webhook\"",
          2);
  refused(INSTITUTION "channel 'sms' { driver = 'file' }\n" WORKFLOW,
          "channel \"sms\".path must be a non-empty string (missing)", 2);
  refused(INSTITUTION
          "channel 'h' { driver = 'webhook', url = 'ftp://x' }\n" WORKFLOW,
          "channel \"h\".url must start with http:// or https://", 2);
  refused(INSTITUTION
          "channel 'h' { driver = 'webhook', url = 'http://x', "
          "headers = { A = 'b\\r\\nEvil: 1' } }\n" WORKFLOW,
          "channel \"h\".headers must map names to one-line strings", 2);
  refused(INSTITUTION "channel 'e' { driver = 'exec' }\n" WORKFLOW,
          "channel \"e\".command must be a program path", 2);
  refused(INSTITUTION
          "channel 'e' { driver = 'exec', command = { 1 } }\n" WORKFLOW,
          "channel \"e\".command[1] must be a string", 2);
  refused(INSTITUTION
          "channel 'f' { driver = 'file', path = 'x', "
          "retries = -1 }\n" WORKFLOW,
          "channel \"f\".retries must be a whole number >= 0", 2);
  refused(INSTITUTION
          "channel 'f' { driver = 'file', path = 'x', "
          "timeout = 'later' }\n" WORKFLOW,
          "channel \"f\".timeout: bad duration 'later'", 2);
  refused(INSTITUTION
          "channel 'f' { driver = 'file', path = 'x', "
          "timeout = '30d' }\n" WORKFLOW,
          "channel \"f\".timeout must be from \"1s\" to \"1d\"", 2);
  refused(INSTITUTION
          "channel 'f' { driver = 'file', path = 'x', "
          "timeout = '1mo' }\n" WORKFLOW,
          "channel \"f\".timeout must be from", 2);
  refused(INSTITUTION
          "channel 'f' { driver = 'file', path = 'x' }\n"
          "channel 'f' { driver = 'file', path = 'y' }\n" WORKFLOW,
          "channel \"f\" is given twice", 3);
  refused(INSTITUTION
          "channel 'bad name' { driver = 'file', path = 'x' }\n" WORKFLOW,
          "channel expects a name", 2);
  refused(INSTITUTION "channel 'f' 'file'\n" WORKFLOW,
          "channel \"f\" expects a table", 2);
}

/* --- recoup.workflow{}, workflow() and route() --------------------------- */

static void test_workflow_graph_errors_point_at_their_line(void **state) {
  (void)state;
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1,\n"
          "  initial = 'nwe',\n"
          "  states = { new = {} } })\n",
          "workflow w: initial state 'nwe' is not in states (did you mean "
          "'new'?",
          3);
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',\n"
          "  states = { a = {}, b = { final = true } },\n"
          "  transitions = { a = { 'c' } } })\n",
          "workflow w: transitions.a names 'c', which is not a state", 4);
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 0, initial = 'a',"
          " states = { a = {} } })\n",
          "workflow w: version must be a whole number >= 1", 2);
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w w', version = 1, initial = "
          "'a', states = { a = {} } })\n",
          "workflow.name must be a name", 2);
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',"
          " states = {} })\n",
          "workflow w: states is empty", 2);
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',"
          " states = { a = { final = true, on = { x = function() end } } } "
          "})\n",
          "a final state cannot have 'on' handlers", 2);
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',"
          " states = { a = { enter = 'hello' } } })\n",
          "workflow w: states.a.enter must be a function (got string)", 2);
  refused(INSTITUTION WORKFLOW WORKFLOW,
          "workflow w version 1 is registered twice", 3);
  refused(INSTITUTION "workflow({ name = 'w' })\n",
          "workflow() expects the result of recoup.workflow", 2);
  /* A template's name too: on 32d1a96 ['hello\0x'] passed as hello. */
  refused(INSTITUTION "templates { ['hello\\0x'] = { sms = 'Hi' } }\n" WORKFLOW,
          "templates: every template needs a name made of letters", 2);
  /* Names kept as text end at a NUL: on 32d1a96 initial = 'a\0x' passed
   * as the state a (cases opened there), and a state ['b\0x'] was read
   * as b. */
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1,\n"
          "  initial = 'a\\0x', states = { a = {} } })\n",
          "workflow w: initial holds a NUL byte (at byte 2 of 3)", 3);
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',"
          " states = { a = {}, ['b\\0x'] = { final = true } } })\n",
          "workflow w: a state's name holds a NUL byte (at byte 2 of 3)", 2);
}

/* An outcome is kept as text, which ends at a NUL: on d8b7683 a final
 * state's outcome = 'paid\0x' closed its cases as paid (counted so in the
 * figures), and a task's outcome ['no\0answer'] was offered as "no". */
static void test_an_outcome_holding_a_nul_is_refused(void **state) {
  (void)state;
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',"
          " states = { a = {}, b = { final = true, outcome = 'paid\\0x' } },"
          " transitions = { a = { 'b' } } })\n",
          "states.b.outcome holds a NUL byte (at byte 5 of 6)", 2);
  refused(INSTITUTION
          "workflow(recoup.workflow { name = 'w', version = 1, initial = 'a',"
          " tasks = { call = { outcomes = { ['no\\0answer'] = {} } } },"
          " states = { a = {} } })\n",
          "tasks.call.outcomes: an outcome's name holds a NUL byte (at byte "
          "3 of 9)",
          2);
}

static void test_two_workflows_need_a_route(void **state) {
  static const char two[] = INSTITUTION WORKFLOW
      "workflow(recoup.workflow { name = 'v', version = 1, initial = 'a', "
      "states = { a = {} } })\n";
  (void)state;
  refused(two, "several workflows are registered but there is no route()", 0);
  assert_int_equal(ok(INSTITUTION WORKFLOW
                      "workflow(recoup.workflow { name = 'v', version = 1, "
                      "initial = 'a', states = { a = {} } })\n"
                      "route(function(case) return 'w' end)\n")
                       ->has_route,
                   1);
  refused(INSTITUTION WORKFLOW "route('w')\n",
          "route() expects a function(case)", 3);
  refused(INSTITUTION WORKFLOW "route(function() end)\nroute(function() end)\n",
          "route() is given twice", 4);
}

/* --- hostile files ------------------------------------------------------- */

/* Every section given the wrong type, and a table nested ten thousand
 * deep where a name belongs: each is an error naming the section, and
 * loading goes on to report the next. */
static void test_wrong_types_everywhere_are_each_reported(void **state) {
  int seen = 0;
  static const char *const wanted[] = {
      "institution expects a table", "service expects a table",
      "tokens expects a table",      "capacity expects a table",
      "policy expects a table",      "templates() expects a table",
      "route() expects a function"};
  (void)state;
  assert_null(
      load("institution(1)\nservice(true)\ntokens('x')\n"
           "capacity(2)\npolicy(print)\ntemplates(3)\nroute(4)\n" WORKFLOW));
  for (size_t i = 0; i < sizeof wanted / sizeof *wanted; i++)
    for (int j = 0; j < errors.count; j++)
      if (strstr(errors.items[j].message, wanted[i]) &&
          errors.items[j].line == (int)i + 1) {
        seen++;
        break;
      }
  if (seen != (int)(sizeof wanted / sizeof *wanted)) {
    print_errors();
    fail_msg("%d of %zu errors found", seen, sizeof wanted / sizeof *wanted);
  }
}

static void test_deep_tables_and_long_text_are_refused(void **state) {
  (void)state;
  refused(
      "local t = 'x' for i = 1, 10000 do t = { t } end\n"
      "institution { name = t, timezone = 'UTC', currency = 'USD' }\n" WORKFLOW,
      "institution.name: keys must be locales", 2);
  refused(INSTITUTION
          "service { listen = string.rep('9', 200) .. ':80' }\n" WORKFLOW,
          "service.listen is too long (at most 127 bytes)", 2);
  refused(INSTITUTION "service { db = string.rep('d', 5000) }\n" WORKFLOW,
          "service.db is too long", 2);
  refused(INSTITUTION
          "tokens { admin = 'env:' .. string.rep('V', 300) }\n" WORKFLOW,
          "tokens.admin", 2);
}

/* The vocabulary belongs to loading: a handler that calls it later is
 * stopped with an error, and the settings do not change. */
static void test_the_vocabulary_belongs_in_recoup_lua(void **state) {
  const institution_config *c = ok(INSTITUTION WORKFLOW);
  lua_State *L = script_lua(loaded);
  rc_error err;
  (void)state;
  assert_int_equal(luaL_loadstring(L,
                                   "institution { name = 'Evil', "
                                   "timezone = 'UTC', currency = 'EUR' }"),
                   LUA_OK);
  assert_int_not_equal(script_pcall(loaded, 0, 0, &err, NULL), RC_OK);
  if (!strstr(err.message, "institution{} belongs in recoup.lua"))
    fail_msg("got: %s", err.message);
  assert_string_equal(c->name, "T");
  assert_string_equal(c->currency, "USD");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults_of_a_minimal_institution),
      cmocka_unit_test(test_institution_fields_are_read),
      cmocka_unit_test(test_country_must_be_an_iso_code),
      cmocka_unit_test(test_required_fields_are_named_when_missing),
      cmocka_unit_test(test_institution_values_are_checked),
      cmocka_unit_test(test_names_by_locale),
      cmocka_unit_test(test_bad_names_by_locale_are_refused),
      cmocka_unit_test(test_names_are_bounded),
      cmocka_unit_test(test_a_nul_in_a_value_is_refused),
      cmocka_unit_test(test_service_settings_are_read),
      cmocka_unit_test(test_service_db_absolute_and_in_memory),
      cmocka_unit_test(test_service_values_are_refused_by_name),
      cmocka_unit_test(test_huge_sizes_and_durations_are_refused),
      cmocka_unit_test(test_sessions_are_bounded_and_ordered),
      cmocka_unit_test(test_trusted_proxies),
      cmocka_unit_test(test_backup_schedule),
      cmocka_unit_test(test_tokens_name_environment_variables),
      cmocka_unit_test(test_tokens_refuse_secrets_and_unknown_roles),
      cmocka_unit_test(test_capacity_per_queue),
      cmocka_unit_test(test_policy_is_parsed_for_the_guard),
      cmocka_unit_test(test_policy_refusals_name_the_rule),
      cmocka_unit_test(test_channels),
      cmocka_unit_test(test_channel_refusals),
      cmocka_unit_test(test_workflow_graph_errors_point_at_their_line),
      cmocka_unit_test(test_an_outcome_holding_a_nul_is_refused),
      cmocka_unit_test(test_two_workflows_need_a_route),
      cmocka_unit_test(test_wrong_types_everywhere_are_each_reported),
      cmocka_unit_test(test_deep_tables_and_long_text_are_refused),
      cmocka_unit_test(test_the_vocabulary_belongs_in_recoup_lua),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
