/* The compliance guard, one rule at a time, on a scratch store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "recoup/policy.h"
#include "store/store.h"

static store *st;
static query *q; /* the guard's view of st */
static rc_clock *clk;

static int setup(void **state) {
  rc_error err;
  store_borrower b = {0};
  store_case c = {0};
  (void)state;
  assert_int_equal(store_open(&st, ":memory:", &err), RC_OK);
  assert_int_equal(query_open(&q, st, &err), RC_OK);
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
  query_close(q);
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

static int64_t message(const char *case_id, const char *channel, rc_time when,
                       const char *status) {
  store_message m;
  int64_t id;
  memset(&m, 0, sizeof m);
  m.case_id = case_id;
  m.borrower_id = "B1";
  m.channel = channel;
  m.template_name = "t";
  m.status = status;
  m.at = when;
  assert_int_equal(store_message_insert(st, &m, &id, NULL), RC_OK);
  return id;
}

static void sent(const char *case_id, const char *channel, rc_time when) {
  message(case_id, channel, when, "queued");
}

static void test_inside_hours_is_allowed(void **state) {
  policy_config p = hours("08:00", "21:00");
  policy_request r = request("C1", "sms", at("2026-01-05T20:59"));
  policy_decision d;
  (void)state;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_ALLOW);
}

static void test_late_evening_waits_for_the_morning(void **state) {
  policy_config p = hours("08:00", "21:00");
  policy_request r = request("C1", "sms", at("2026-01-05T22:30"));
  policy_decision d;
  (void)state;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_int_equal(d.until, at("2026-01-06T08:00"));
  r.now = at("2026-01-06T06:00");
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.until, at("2026-01-06T08:00"));
}

static void test_hours_are_the_borrowers_own(void **state) {
  policy_config p = hours("08:00", "21:00");
  policy_request r = request("C1", "sms", at("2026-01-05T22:30"));
  policy_decision d;
  rc_error err;
  (void)state;
  r.zone = clock_zone_get(clk, "America/New_York", &err); /* 09:30 there */
  policy_allow_contact(&p, q, &r, &d, NULL);
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
  policy_allow_contact(&p, q, &r, &d, NULL);
  /* A full cap ends: deferred until the oldest of the three leaves the
   * day's window. */
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_string_equal(d.reason, "max_contacts:sms:3");
  assert_int_equal(d.until, at("2026-01-06T09:00"));
  /* A day later the window has rolled past them. */
  r.now = at("2026-01-06T09:30");
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_ALLOW);
  /* Scoped to the case, only C2's own contact counts. */
  r.now = at("2026-01-05T12:00");
  p.rules[0].per_case = 1;
  policy_allow_contact(&p, q, &r, &d, NULL);
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
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_int_equal(d.until, at("2026-01-10T10:00"));
  assert_string_equal(policy_task_channel("workplace_visit"), "visit");
  assert_string_equal(policy_task_channel("home_visit"), "visit");
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
  policy_allow_contact(&p, q, &r, &d, NULL);
  /* The pause ends: deferred to its end, not refused. */
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_string_equal(d.reason, "after_conversation");
  assert_int_equal(d.until, at("2026-01-09T10:05"));
  r.channel = "sms";
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_ALLOW);
  r.channel = "call";
  r.now = at("2026-01-09T10:06");
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_ALLOW);
}

/* Waiting messages go out in the order they were written: one being
 * released is not counted against itself, nor against it the ones written
 * after it; a new one counts those waiting before it. */
static void test_deferred_messages_keep_their_order(void **state) {
  policy_config p;
  policy_request r = request("C1", "sms", at("2026-01-06T09:00"));
  policy_decision d;
  int64_t first, second;
  (void)state;
  memset(&p, 0, sizeof p);
  p.nrules = 1;
  snprintf(p.rules[0].channels[0], 24, "sms");
  p.rules[0].nchannels = 1;
  p.rules[0].limit = 2;
  p.rules[0].per.days = 1;
  sent("C1", "sms", at("2026-01-05T08:00"));
  sent("C1", "sms", at("2026-01-05T08:30"));
  first = message("C1", "sms", at("2026-01-05T10:00"), "deferred");
  second = message("C1", "sms", at("2026-01-05T11:00"), "deferred");
  /* At 09:00 next day the two sent have left the window: the first
   * waiting one goes, the second does not hold it back. */
  r.exclude_message = first;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_ALLOW);
  /* The second counts the first, still waiting in the same window. */
  r.exclude_message = second;
  r.now = at("2026-01-05T12:00");
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_int_equal(d.until, at("2026-01-06T08:30"));
  /* A new one counts both waiting. */
  r.exclude_message = 0;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_int_equal(d.until, at("2026-01-06T10:00"));
}

/* A cap of zero contacts never has room: blocked, not deferred (a
 * deferral would have no end). */
static void test_a_cap_of_none_blocks(void **state) {
  policy_config p;
  policy_request r = request("C1", "visit", at("2026-01-05T12:00"));
  policy_decision d;
  (void)state;
  memset(&p, 0, sizeof p);
  p.nrules = 1;
  snprintf(p.rules[0].channels[0], 24, "visit");
  p.rules[0].nchannels = 1;
  p.rules[0].limit = 0;
  p.rules[0].per.days = 30;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_BLOCK);
  assert_string_equal(d.reason, "max_contacts:visit:0");
}

/* A month back from the 31st is the 28th, a month on from the 28th the
 * 28th: the cap's end computed from a contact on Feb 28 lands before now.
 * The contact is asked about again a minute on, not at once in a loop. */
static void test_a_months_window_never_defers_into_the_past(void **state) {
  policy_config p;
  policy_request r = request("C1", "sms", at("2026-03-31T20:00"));
  policy_decision d;
  (void)state;
  memset(&p, 0, sizeof p);
  p.nrules = 1;
  snprintf(p.rules[0].channels[0], 24, "sms");
  p.rules[0].nchannels = 1;
  p.rules[0].limit = 1;
  p.rules[0].per.months = 1;
  sent("C1", "sms", at("2026-02-28T21:00"));
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_true(d.until > r.now);
}

/* A cap that frees up at night defers to the morning's opening. */
static void test_a_cap_ending_at_night_waits_for_the_hours(void **state) {
  policy_config p = hours("08:00", "21:00");
  policy_request r = request("C1", "sms", at("2026-01-05T20:00"));
  policy_decision d;
  (void)state;
  p.nrules = 1;
  snprintf(p.rules[0].channels[0], 24, "sms");
  p.rules[0].nchannels = 1;
  p.rules[0].limit = 1;
  p.rules[0].per.days = 1;
  sent("C1", "sms", at("2026-01-04T23:30"));
  /* The day's window holds last night's 23:30 message until 23:30
   * tonight, after hours: the morning's opening it is. */
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_DEFER);
  assert_string_equal(d.reason, "max_contacts:sms:1");
  assert_int_equal(d.until, at("2026-01-06T08:00"));
}

static void test_flags_block_all_but_legal_notices(void **state) {
  policy_config p;
  policy_request r = request("C1", "sms", at("2026-01-05T12:00"));
  policy_decision d;
  (void)state;
  memset(&p, 0, sizeof p);
  r.on_hold = 1;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_string_equal(d.reason, "dispute_hold");
  r.on_hold = 0;
  r.ceased = 1;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_string_equal(d.reason, "ceased");
  r.ceased = 0;
  r.do_not_contact = 1;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_string_equal(d.reason, "do_not_contact");
  r.legal_notice = 1;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_ALLOW);
}

static void test_third_parties_get_only_their_templates(void **state) {
  policy_config p;
  policy_request r = request("C1", "sms", at("2026-01-05T12:00"));
  policy_decision d;
  (void)state;
  memset(&p, 0, sizeof p);
  r.to_third_party = 1;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_string_equal(d.reason, "third_party_template_required");
  r.third_party_template = 1;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_ALLOW);
  p.third_parties_none = 1;
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(d.verdict, POLICY_BLOCK);
}

/* The console's "what the guard allows now" is the guard's own decision:
 * the same verdict, reason and time as policy_allow_contact, with each
 * cap's count against its limit. */
static void test_explain_says_what_the_guard_decides(void **state) {
  policy_config p = hours("08:00", "21:00");
  policy_request r = request("C1", "sms", at("2026-01-05T12:00"));
  policy_decision d;
  policy_explanation ex;
  (void)state;
  p.nrules = 2;
  snprintf(p.rules[0].channels[0], 24, "sms");
  p.rules[0].nchannels = 1;
  p.rules[0].limit = 2;
  p.rules[0].per.days = 1;
  snprintf(p.rules[1].channels[0], 24, "sms");
  p.rules[1].nchannels = 1;
  p.rules[1].limit = 5;
  p.rules[1].per.days = 7;
  p.rules[1].per_case = 1;
  sent("C1", "sms", at("2026-01-05T09:00"));
  assert_int_equal(policy_explain(&p, q, &r, &ex, NULL), RC_OK);
  assert_int_equal(ex.decision.verdict, POLICY_ALLOW);
  assert_int_equal(ex.nwindows, 2);
  assert_int_equal(ex.windows[0].used, 1);
  assert_int_equal(ex.windows[0].limit, 2);
  assert_int_equal(ex.windows[1].per_case, 1);
  assert_null(policy_rule_name(&ex.decision));
  /* Full: deferred to when the oldest leaves the window, at 09:00 next
   * day, inside the hours: the same as the guard. */
  sent("C2", "sms", at("2026-01-05T10:00"));
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(policy_explain(&p, q, &r, &ex, NULL), RC_OK);
  assert_int_equal(ex.decision.verdict, d.verdict);
  assert_int_equal(ex.decision.until, d.until);
  assert_string_equal(ex.decision.reason, d.reason);
  assert_int_equal(ex.decision.until, at("2026-01-06T09:00"));
  assert_string_equal(policy_rule_name(&ex.decision), "cap");
  assert_int_equal(ex.windows[0].used, 2);
  assert_int_equal(ex.windows[1].used, 1); /* C1's own: one */
  /* Outside the hours the rule is the hours. */
  r.now = at("2026-01-05T22:00");
  policy_allow_contact(&p, q, &r, &d, NULL);
  assert_int_equal(policy_explain(&p, q, &r, &ex, NULL), RC_OK);
  assert_int_equal(ex.decision.until, d.until);
}

static void test_explain_counts_windows_even_when_blocked(void **state) {
  policy_config p;
  policy_request r = request("C1", "sms", at("2026-01-05T12:00"));
  policy_explanation ex;
  (void)state;
  memset(&p, 0, sizeof p);
  p.nrules = 1;
  snprintf(p.rules[0].channels[0], 24, "sms");
  p.rules[0].nchannels = 1;
  p.rules[0].limit = 3;
  p.rules[0].per.days = 1;
  sent("C1", "sms", at("2026-01-05T09:00"));
  r.on_hold = 1;
  assert_int_equal(policy_explain(&p, q, &r, &ex, NULL), RC_OK);
  assert_int_equal(ex.decision.verdict, POLICY_BLOCK);
  assert_string_equal(policy_rule_name(&ex.decision), "dispute");
  assert_int_equal(ex.nwindows, 1);
  assert_int_equal(ex.windows[0].used, 1);
  r.on_hold = 0;
  r.ceased = 1;
  assert_int_equal(policy_explain(&p, q, &r, &ex, NULL), RC_OK);
  assert_string_equal(policy_rule_name(&ex.decision), "cease");
}

static void test_explain_gives_the_pause_end(void **state) {
  policy_config p;
  policy_request r = request("C1", "call", at("2026-01-05T12:00"));
  policy_explanation ex;
  store_task t;
  int64_t id;
  (void)state;
  memset(&p, 0, sizeof p);
  p.has_pause = 1;
  snprintf(p.pause_channels[0], 24, "call");
  p.npause = 1;
  p.pause.days = 7;
  memset(&t, 0, sizeof t);
  t.case_id = "C1";
  t.kind = "call";
  t.at = at("2026-01-02T10:00");
  store_task_insert(st, &t, &id, NULL);
  store_task_complete(st, id, "refused",
                      "{\"outcome\":\"refused\",\"conversation\":true}",
                      at("2026-01-02T10:05"), NULL);
  assert_int_equal(policy_explain(&p, q, &r, &ex, NULL), RC_OK);
  assert_int_equal(ex.decision.verdict, POLICY_DEFER);
  assert_string_equal(policy_rule_name(&ex.decision), "pause");
  assert_int_equal(ex.paused, 1);
  assert_int_equal(ex.pause_until, at("2026-01-09T10:05"));
  r.channel = "sms";
  assert_int_equal(policy_explain(&p, q, &r, &ex, NULL), RC_OK);
  assert_int_equal(ex.paused, 0);
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
      cmocka_unit_test_setup_teardown(test_deferred_messages_keep_their_order,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_a_cap_ending_at_night_waits_for_the_hours, setup, teardown),
      cmocka_unit_test_setup_teardown(test_a_cap_of_none_blocks, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_a_months_window_never_defers_into_the_past, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flags_block_all_but_legal_notices,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_third_parties_get_only_their_templates, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_explain_says_what_the_guard_decides, setup, teardown),
      cmocka_unit_test_setup_teardown(
          test_explain_counts_windows_even_when_blocked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_explain_gives_the_pause_end, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
