/* The compliance guard, one rule at a time, on a scratch store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "recoup/policy.h"

static store *st;
static rc_clock *clk;

static int setup(void **state) {
  rc_error err;
  store_borrower b = {0};
  store_case c = {0};
  (void)state;
  assert_int_equal(store_open(&st, ":memory:", &err), RC_OK);
  clk = clock_new("Asia/Shanghai", &err);
  b.id = "B1";
  b.ncontacts = -1;
  store_borrower_upsert(st, &b, &err);
  c.borrower_id = "B1";
  c.workflow = "w";
  c.version = 1;
  c.state = "s";
  c.currency = "CNY";
  c.id = "C1";
  store_case_insert(st, &c, &err);
  c.id = "C2";
  store_case_insert(st, &c, &err);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  store_close(st);
  clock_free(clk);
  return 0;
}

static rc_time at(const char *when) {
  rc_time t;
  assert_int_equal(clock_parse_time(clk, when, &t, NULL), RC_OK);
  return t;
}

static policy_config hours(const char *from, const char *to) {
  policy_config p;
  memset(&p, 0, sizeof p);
  p.has_hours = 1;
  p.start_min = ((from[0] - '0') * 10 + from[1] - '0') * 60 +
                (from[3] - '0') * 10 + from[4] - '0';
  p.end_min = ((to[0] - '0') * 10 + to[1] - '0') * 60 + (to[3] - '0') * 10 +
              to[4] - '0';
  return p;
}

static policy_request request(const char *case_id, const char *channel,
                              rc_time now) {
  policy_request r;
  memset(&r, 0, sizeof r);
  r.case_id = case_id;
  r.borrower_id = "B1";
  r.channel = channel;
  r.zone = clock_zone(clk);
  r.now = now;
  return r;
}

static void sent(const char *case_id, const char *channel, rc_time when) {
  store_message m;
  int64_t id;
  memset(&m, 0, sizeof m);
  m.case_id = case_id;
  m.borrower_id = "B1";
  m.channel = channel;
  m.template_name = "t";
  m.status = "queued";
  m.at = when;
  assert_int_equal(store_message_insert(st, &m, &id, NULL), RC_OK);
}

static void test_inside_hours_is_allowed(void **state) {
  policy_config p = hours("08:00", "21:00");
  policy_request r = request("C1", "sms", at("2026-01-05T20:59"));
  policy_decision d;
  (void)state;
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_ALLOW);
}

static void test_late_evening_waits_for_the_morning(void **state) {
  policy_config p = hours("08:00", "21:00");
  policy_request r = request("C1", "sms", at("2026-01-05T22:30"));
  policy_decision d;
  (void)state;
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_int_equal(d.until, at("2026-01-06T08:00"));
  r.now = at("2026-01-06T06:00");
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.until, at("2026-01-06T08:00"));
}

static void test_hours_are_the_borrowers_own(void **state) {
  policy_config p = hours("08:00", "21:00");
  policy_request r = request("C1", "sms", at("2026-01-05T22:30"));
  policy_decision d;
  rc_error err;
  (void)state;
  r.zone = clock_zone_get(clk, "America/New_York", &err); /* 09:30 there */
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_ALLOW);
}

static void test_caps_count_across_the_borrowers_cases(void **state) {
  policy_config p;
  policy_request r = request("C2", "sms", at("2026-01-05T12:00"));
  policy_decision d;
  (void)state;
  memset(&p, 0, sizeof p);
  p.nrules = 1;
  snprintf(p.rules[0].channels[0], 24, "sms");
  snprintf(p.rules[0].channels[1], 24, "email");
  p.rules[0].nchannels = 2;
  p.rules[0].limit = 3;
  p.rules[0].per.days = 1;
  sent("C1", "sms", at("2026-01-05T09:00"));
  sent("C1", "email", at("2026-01-05T10:00"));
  sent("C2", "sms", at("2026-01-05T11:00"));
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_BLOCK);
  assert_string_equal(d.reason, "max_contacts:sms:3");
  /* A day later the window has rolled past them. */
  r.now = at("2026-01-06T09:30");
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_ALLOW);
  /* Scoped to the case, only C2's own contact counts. */
  r.now = at("2026-01-05T12:00");
  p.rules[0].per_case = 1;
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_ALLOW);
}

static void test_call_tasks_count_as_calls(void **state) {
  policy_config p;
  policy_request r = request("C1", "call", at("2026-01-05T12:00"));
  policy_decision d;
  store_task t;
  int64_t id;
  (void)state;
  memset(&p, 0, sizeof p);
  p.nrules = 1;
  snprintf(p.rules[0].channels[0], 24, "call");
  p.rules[0].nchannels = 1;
  p.rules[0].limit = 1;
  p.rules[0].per.days = 7;
  p.rules[0].per_case = 1;
  memset(&t, 0, sizeof t);
  t.case_id = "C1";
  t.kind = "call";
  t.at = at("2026-01-03T10:00");
  store_task_insert(st, &t, &id, NULL);
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_BLOCK);
  assert_string_equal(policy_task_channel("workplace_visit"), "visit");
  assert_null(policy_task_channel("legal_review"));
}

static void test_conversation_opens_a_pause(void **state) {
  policy_config p;
  policy_request r = request("C1", "call", at("2026-01-05T12:00"));
  policy_decision d;
  store_task t;
  int64_t id;
  (void)state;
  memset(&p, 0, sizeof p);
  p.has_pause = 1;
  snprintf(p.pause_channels[0], 24, "call");
  p.npause = 1;
  p.pause.days = 7;
  memset(&t, 0, sizeof t);
  t.case_id = "C2";
  t.kind = "call";
  t.at = at("2026-01-02T10:00");
  store_task_insert(st, &t, &id, NULL);
  store_task_complete(
      st, id, "promise", "{\"outcome\":\"promise\",\"reached\":true}",
      at("2026-01-02T10:05"), NULL);
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_BLOCK);
  assert_string_equal(d.reason, "after_conversation");
  r.channel = "sms";
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_ALLOW);
  r.channel = "call";
  r.now = at("2026-01-09T10:06");
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_ALLOW);
}

static void test_flags_block_all_but_legal_notices(void **state) {
  policy_config p;
  policy_request r = request("C1", "sms", at("2026-01-05T12:00"));
  policy_decision d;
  (void)state;
  memset(&p, 0, sizeof p);
  r.on_hold = 1;
  policy_allow_contact(&p, st, &r, &d);
  assert_string_equal(d.reason, "dispute_hold");
  r.on_hold = 0;
  r.ceased = 1;
  policy_allow_contact(&p, st, &r, &d);
  assert_string_equal(d.reason, "ceased");
  r.ceased = 0;
  r.do_not_contact = 1;
  policy_allow_contact(&p, st, &r, &d);
  assert_string_equal(d.reason, "do_not_contact");
  r.legal_notice = 1;
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_ALLOW);
}

static void test_third_parties_get_only_their_templates(void **state) {
  policy_config p;
  policy_request r = request("C1", "sms", at("2026-01-05T12:00"));
  policy_decision d;
  (void)state;
  memset(&p, 0, sizeof p);
  r.to_third_party = 1;
  policy_allow_contact(&p, st, &r, &d);
  assert_string_equal(d.reason, "third_party_template_required");
  r.third_party_template = 1;
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_ALLOW);
  p.third_parties_none = 1;
  policy_allow_contact(&p, st, &r, &d);
  assert_int_equal(d.verdict, POLICY_BLOCK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_inside_hours_is_allowed, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_late_evening_waits_for_the_morning,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_hours_are_the_borrowers_own, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_caps_count_across_the_borrowers_cases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_call_tasks_count_as_calls, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_conversation_opens_a_pause, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_flags_block_all_but_legal_notices,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_third_parties_get_only_their_templates, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
