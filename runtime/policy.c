/* The compliance guard. It blocks what does not end and defers what does
 * (DESIGN.md "The guard defers what ends, blocks what does not").
 * Blocked, until a person lifts it: a third party asked with a text not
 * written for third parties, or at all under third_parties = "none"; a
 * dispute on hold, a cease and do-not-contact (a legal notice passes
 * these three); a cap of none (limit 0). Deferred, to the latest of the
 * known ends: the pause after a conversation, a cap whose window will have
 * room (when its oldest contact leaves it), then moved into the borrower's
 * contact hours; the caller asks again then (the world may have changed).
 * A guard that cannot count answers the store's error, never "allowed". */
#include <string.h>

#include "recoup/policy.h"

const char *policy_verdict_name(int verdict) {
  return verdict == POLICY_ALLOW   ? "allowed"
         : verdict == POLICY_DEFER ? "deferred"
                                   : "blocked";
}

const char *policy_task_channel(const char *kind) {
  if (strcmp(kind, "call") == 0) return "call";
  if (strcmp(kind, "visit") == 0 || strcmp(kind, "home_visit") == 0 ||
      strcmp(kind, "workplace_visit") == 0)
    return "visit";
  return NULL;
}

static int lists(const char (*channels)[24], int n, const char *channel) {
  for (int i = 0; i < n; i++)
    if (strcmp(channels[i], channel) == 0) return 1;
  return 0;
}

static int block(policy_decision *out, const char *reason) {
  out->verdict = POLICY_BLOCK;
  snprintf(out->reason, sizeof out->reason, "%s", reason);
  return RC_OK;
}

rc_time policy_next_window(const policy_config *p, rc_zone *zone, rc_time t) {
  int minute;
  rc_date day;
  if (!p->has_hours) return t;
  minute = clock_zone_minute_of_day(zone, t);
  if (p->start_min <= p->end_min) {
    if (minute >= p->start_min && minute < p->end_min) return t;
  } else if (minute >= p->start_min || minute < p->end_min) {
    return t; /* a window across midnight */
  }
  day = clock_zone_date(zone, t);
  /* After hours: tomorrow. */
  if (minute >= p->end_min && p->start_min <= p->end_min)
    day = clock_date_from_days(clock_date_to_days(day) + 1);
  return clock_zone_time(zone, day, p->start_min / 60, p->start_min % 60, 0);
}

/* Defers to `until` unless an earlier check deferred further. */
static void defer(policy_decision *out, rc_time until, const char *reason) {
  if (out->verdict == POLICY_DEFER && out->until >= until) return;
  out->verdict = POLICY_DEFER;
  out->until = until;
  snprintf(out->reason, sizeof out->reason, "%s", reason);
}

/* A guard that cannot read decides nothing: the verdict says blocked, in
 * case a caller looks at it, and the store's failure is the answer. */
static int unreadable(policy_decision *out, int rc) {
  block(out, "guard_unavailable");
  return rc;
}

/* When the pause after the borrower's last conversation ends: *ends 0
 * when the channel does not pause or no pause runs now. */
static int pause_end(const policy_config *p, query *q,
                     const policy_request *req, rc_time *ends, rc_error *err) {
  rc_time last = 0, end;
  int rc;
  *ends = 0;
  if (!p->has_pause || !lists(p->pause_channels, p->npause, req->channel))
    return RC_OK;
  rc = query_last_conversation(q, req->borrower_id, &last, err);
  if (rc == RC_ENOTFOUND) return RC_OK;
  if (rc != RC_OK) return rc;
  if ((end = clock_zone_add(req->zone, last, &p->pause)) > req->now)
    *ends = end;
  return RC_OK;
}

/* The newest `limit` contacts on a cap's channels within its window, for
 * the borrower (all their cases) or the one case. */
static int window_count(const policy_rule *rule, query *q,
                        const policy_request *req, int64_t *n,
                        rc_time *oldest, rc_error *err) {
  rc_duration back = rule->per;
  back.ms = -back.ms;
  back.days = -back.days;
  back.months = -back.months;
  return query_contacts(q, rule->per_case ? req->case_id : NULL,
                        req->borrower_id, rule->channels, rule->nchannels,
                        clock_zone_add(req->zone, req->now, &back), rule->limit,
                        req->exclude_message, n, oldest, err);
}

/* The guard itself. With ex, each cap on the channel is also recorded
 * with its count (the explanation reads the counts the decision used). */
static int decide(const policy_config *p, query *q, const policy_request *req,
                  policy_decision *out, policy_explanation *ex,
                  rc_error *err) {
  rc_time ends;
  int rc;
  memset(out, 0, sizeof *out);
  out->verdict = POLICY_ALLOW;
  out->until = req->now;
  if (req->to_third_party && !req->third_party_template)
    return block(out, "third_party_template_required");
  if (req->to_third_party && p->third_parties_none)
    return block(out, "third_parties_not_contacted");
  if (!req->legal_notice) {
    if (req->on_hold) return block(out, "dispute_hold");
    if (req->ceased) return block(out, "ceased");
    if (req->do_not_contact) return block(out, "do_not_contact");
  }
  if ((rc = pause_end(p, q, req, &ends, err)) != RC_OK)
    return unreadable(out, rc);
  if (ends) defer(out, ends, "after_conversation");
  for (int i = 0; i < p->nrules; i++) {
    const policy_rule *rule = &p->rules[i];
    rc_time oldest;
    int64_t n;
    if (!lists(rule->channels, rule->nchannels, req->channel)) continue;
    if (rule->limit <= 0) {
      /* A cap of none never has room: that does not end, it blocks. */
      char reason[96];
      snprintf(reason, sizeof reason, "max_contacts:%s:0", req->channel);
      return block(out, reason);
    }
    rc = window_count(rule, q, req, &n, &oldest, err);
    if (rc != RC_OK) return unreadable(out, rc);
    if (ex && ex->nwindows < POLICY_MAX_RULES) {
      policy_window *w = &ex->windows[ex->nwindows++];
      w->per = rule->per;
      w->used = (int)n;
      w->limit = rule->limit;
      w->per_case = rule->per_case;
    }
    if (n >= rule->limit) {
      char reason[96];
      snprintf(reason, sizeof reason, "max_contacts:%s:%d", req->channel,
               rule->limit);
      /* Room comes when the oldest of them leaves the window. */
      defer(out, clock_zone_add(req->zone, oldest, &rule->per), reason);
    }
  }
  /* Calendar arithmetic is not symmetric (a month back from the 31st is
   * the 28th; a month on from the 28th is not the 31st): a rule's end can
   * land at or before now. Asked again a minute on, never in a loop. */
  if (out->verdict == POLICY_DEFER && out->until <= req->now)
    out->until = req->now + 60000;
  {
    rc_time open = policy_next_window(p, req->zone, out->until);
    if (open > out->until && out->verdict != POLICY_DEFER)
      defer(out, open, "contact_hours");
    out->until = open;
  }
  return RC_OK;
}

int policy_allow_contact(const policy_config *p, query *q,
                         const policy_request *req, policy_decision *out,
                         rc_error *err) {
  return decide(p, q, req, out, NULL, err);
}

int policy_explain(const policy_config *p, query *q, const policy_request *req,
                   policy_explanation *out, rc_error *err) {
  int rc;
  memset(out, 0, sizeof *out);
  if ((rc = decide(p, q, req, &out->decision, out, err)) != RC_OK) return rc;
  /* A block returns before the caps are counted; the page still shows
   * how many contacts each window holds. */
  if (out->decision.verdict == POLICY_BLOCK && out->nwindows == 0)
    for (int i = 0; i < p->nrules && out->nwindows < POLICY_MAX_RULES; i++) {
      const policy_rule *rule = &p->rules[i];
      policy_window *w;
      rc_time oldest;
      int64_t n = 0;
      if (!lists(rule->channels, rule->nchannels, req->channel)) continue;
      if (rule->limit > 0 &&
          (rc = window_count(rule, q, req, &n, &oldest, err)) != RC_OK)
        return rc;
      w = &out->windows[out->nwindows++];
      w->per = rule->per;
      w->used = (int)n;
      w->limit = rule->limit;
      w->per_case = rule->per_case;
    }
  if ((rc = pause_end(p, q, req, &out->pause_until, err)) != RC_OK) return rc;
  out->paused = out->pause_until != 0;
  return RC_OK;
}

const char *policy_rule_name(const policy_decision *d) {
  static const struct {
    const char *prefix, *rule;
  } names[] = {{"contact_hours", "contact_hours"},
               {"max_contacts:", "cap"},
               {"after_conversation", "pause"},
               {"dispute_hold", "dispute"},
               {"ceased", "cease"},
               {"do_not_contact", "do_not_contact"},
               {"third_part", "third_party"},
               {"no_recipient", "no_recipient"}};
  if (d->verdict == POLICY_ALLOW) return NULL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strncmp(d->reason, names[i].prefix, strlen(names[i].prefix)) == 0)
      return names[i].rule;
  return d->reason;
}
