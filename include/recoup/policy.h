/* The compliance guard: whether a contact may happen now, whatever the
 * script asks. Asked by the engine for every message and every contact task;
 * every deferral and refusal it gives the engine is journaled and counted.
 * policy_explain answers the same question for the console, doing nothing. */
#ifndef RECOUP_POLICY_H
#define RECOUP_POLICY_H

#include "recoup/clock.h"
#include "recoup/query.h"

enum { POLICY_MAX_CHANNELS = 8, POLICY_MAX_RULES = 16 };

typedef struct policy_rule {
  char channels[POLICY_MAX_CHANNELS][24];
  int nchannels;
  int limit;
  rc_duration per;
  int per_case; /* scope = "case": counts one debt, not the borrower */
} policy_rule;

/* policy{} of recoup.lua, checked and parsed when the scripts load. */
typedef struct policy_config {
  int has_hours;
  int start_min, end_min; /* local minutes since midnight, [start, end) */
  policy_rule rules[POLICY_MAX_RULES];
  int nrules;
  int has_pause;
  char pause_channels[POLICY_MAX_CHANNELS][24];
  int npause;
  rc_duration pause;
  int third_parties_none; /* third_parties = "none": never contact them */
  /* promise_horizon: how far ahead a promise may fall (default 90d). A
   * promise pauses the case's escalation until its day, so one agent's
   * typo ("9999-12-31") must not pause it for ever. */
  rc_duration promise_horizon;
} policy_config;

/* The horizon when policy{} names none. */
#define POLICY_PROMISE_HORIZON "90d"

enum { POLICY_ALLOW, POLICY_DEFER, POLICY_BLOCK };

typedef struct policy_request {
  const char *case_id, *borrower_id, *channel;
  int legal_notice;         /* template marked legal_notice */
  int third_party_template; /* template marked third_party */
  int to_third_party;       /* employer or a named contact */
  int do_not_contact, ceased, on_hold;
  rc_zone *zone; /* the borrower's own time zone */
  rc_time now;
  int64_t exclude_message; /* a deferred message asked again at release */
} policy_request;

typedef struct policy_decision {
  int verdict;
  rc_time until; /* POLICY_DEFER: when the contact may happen */
  char reason[96];
} policy_decision;

/* Fails closed: when the contacts cannot be counted the answer is the
 * store's error, never "allowed", and the caller sends nothing. */
int policy_allow_contact(const policy_config *p, query *q,
                         const policy_request *req, policy_decision *out,
                         rc_error *err);
/* What the guard would say now, and why, without doing anything: the
 * decision policy_allow_contact would return for the same request, each
 * cap's window on the channel with its contacts counted against the
 * limit, and when the pause after a conversation ends. The console's
 * "what the guard allows now" reads this; it is the guard's own code, so
 * the page and the engine never disagree. Fails closed like the guard. */
typedef struct policy_window {
  rc_duration per;
  int used, limit;
  int per_case; /* counts the one case, not all the borrower's */
} policy_window;
typedef struct policy_explanation {
  policy_decision decision;
  policy_window windows[POLICY_MAX_RULES];
  int nwindows;
  int paused;          /* the channel waits for the pause to end */
  rc_time pause_until; /* when it ends (paused) */
} policy_explanation;
int policy_explain(const policy_config *p, query *q, const policy_request *req,
                   policy_explanation *out, rc_error *err);
/* The rule a decision's reason names, in the words the console uses:
 * contact_hours, cap, pause, dispute, cease, do_not_contact, third_party,
 * no_recipient; NULL for an allowed contact. */
const char *policy_rule_name(const policy_decision *d);
/* t itself when inside contact hours, else the next opening. */
rc_time policy_next_window(const policy_config *p, rc_zone *zone, rc_time t);
/* The channel a task kind counts against ("call", "visit"), or NULL when
 * the kind is not a contact (a legal review). */
const char *policy_task_channel(const char *kind);
const char *policy_verdict_name(int verdict);

#endif
