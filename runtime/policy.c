/* The compliance guard. The order of the checks is the order of their
 * weight: a dispute or a cease stops everything but legal notices; a
 * third party only ever gets texts written for third parties; then the
 * pause after a conversation, the rolling caps, and last the hours, since
 * only the hours can be waited out. */
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
  minute = zone_minute_of_day(zone, t);
  if (p->start_min <= p->end_min) {
    if (minute >= p->start_min && minute < p->end_min) return t;
  } else if (minute >= p->start_min || minute < p->end_min) {
    return t; /* a window across midnight */
  }
  day = zone_date(zone, t);
  if (minute >= p->end_min && p->start_min <= p->end_min)
    day = date_from_days(date_to_days(day) + 1); /* after hours: tomorrow */
  return zone_time(zone, day, p->start_min / 60, p->start_min % 60, 0);
}

/* Contacts on the rule's channels since `since`, for the borrower (all
 * their cases) or the one case. */
static int contacts(store *st, const policy_rule *rule,
                    const policy_request *req, rc_time since) {
  int64_t total = 0;
  for (int i = 0; i < rule->nchannels; i++) {
    int64_t n = 0;
    store_contacts_count(st, rule->per_case ? req->case_id : NULL,
                         req->borrower_id, rule->channels[i], since, &n);
    total += n;
  }
  return (int)total;
}

int policy_allow_contact(const policy_config *p, store *st,
                         const policy_request *req, policy_decision *out) {
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
  if (p->has_pause && lists(p->pause_channels, p->npause, req->channel)) {
    rc_time last = 0;
    if (store_last_conversation(st, req->borrower_id, &last) == RC_OK &&
        zone_add(req->zone, last, &p->pause) > req->now)
      return block(out, "after_conversation");
  }
  for (int i = 0; i < p->nrules; i++) {
    const policy_rule *rule = &p->rules[i];
    rc_duration back = rule->per;
    rc_time since;
    if (!lists(rule->channels, rule->nchannels, req->channel)) continue;
    back.ms = -back.ms;
    back.days = -back.days;
    back.months = -back.months;
    since = zone_add(req->zone, req->now, &back);
    if (contacts(st, rule, req, since) >= rule->limit) {
      char reason[96];
      snprintf(reason, sizeof reason, "max_contacts:%s:%d", req->channel,
               rule->limit);
      return block(out, reason);
    }
  }
  out->until = policy_next_window(p, req->zone, req->now);
  if (out->until > req->now) {
    out->verdict = POLICY_DEFER;
    snprintf(out->reason, sizeof out->reason, "contact_hours");
  }
  return RC_OK;
}
