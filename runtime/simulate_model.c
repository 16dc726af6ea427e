/* The behaviour model of `recoup simulate`, counted from the book's own
 * history: every case-day from its opening to now (or its closing) is one
 * observation of "did this case pay today", in its dpd bucket and the
 * state it started the day in. Cells with fewer than min_obs observations
 * keep a stated default, and say so. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "simulate.h"
#include "textwidth.h"

const char *const sim_bucket_names[SIM_BUCKETS] = {"0", "1-30", "31-60",
                                                   "61-90", "91+"};

int sim_bucket(int dpd) {
  return dpd <= 0 ? 0 : dpd <= 30 ? 1 : dpd <= 60 ? 2 : dpd <= 90 ? 3 : 4;
}

/* Defaults where the book is thin: a daily payment probability falling
 * with age, as collection books commonly show. */
static const double default_pay[SIM_BUCKETS] = {0.03, 0.02, 0.012, 0.007,
                                                0.003};

void sim_model_defaults(sim_model *m) {
  memset(m, 0, sizeof *m);
  m->min_obs = 30;
  m->contact_days = 3;
  for (int b = 0; b < SIM_BUCKETS; b++) m->pay[b].p = default_pay[b];
  m->share.p = 0.6;
  m->pay_contacted.p = 0.0;
  m->pay_quiet.p = 0.0;
  m->lift = 1.3;
  m->reach.p = 0.45;
  m->kept.p = 0.55;
  m->reply.p = 0.02;
}

/* --- history, loaded whole and walked case by case -------------------- */

typedef struct hrow {
  int32_t c;     /* index of the case */
  int32_t day;   /* days since 1970 in the institution's zone */
  int32_t state; /* journal: index in m->states, -1 beyond SIM_STATES */
  int64_t amount;
} hrow;

typedef struct hcase {
  char *id; /* owned */
  int32_t open_day, due_day, has_due, closed;
  rc_money amount_due;
} hcase;

typedef struct hist {
  sim_model *m;
  rc_zone *zone;
  hcase *cases;
  int ncases, cap;
  hrow *rows[3]; /* journal, payments, contacts; owned */
  int n[3], capr[3];
  int which;
  int oom;
} hist;

static int32_t day_of(rc_zone *zone, rc_time t) {
  return (int32_t)clock_date_to_days(clock_zone_date(zone, t));
}

static int case_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, ((const hcase *)b)->id);
}

static int find_case(const hist *h, const char *id) {
  const hcase *c =
      bsearch(&id, h->cases, (size_t)h->ncases, sizeof *h->cases, case_cmp);
  return c ? (int)(c - h->cases) : -1;
}

static int state_index(sim_model *m, const char *s) {
  for (int i = 0; i < m->nstates; i++)
    if (strcmp(m->states[i].state, s) == 0) return i;
  if (m->nstates == SIM_STATES || strlen(s) >= sizeof m->states[0].state)
    return -1;
  snprintf(m->states[m->nstates].state, sizeof m->states[0].state, "%s", s);
  for (int b = 0; b < SIM_BUCKETS; b++)
    m->states[m->nstates].pay[b].p = -1; /* filled after the walk */
  return m->nstates++;
}

static int on_case(void *ud, const store_value *v, int n) {
  hist *h = ud;
  hcase *c;
  rc_date due;
  if (n < 12) return 0;
  if (h->ncases == h->cap) {
    int cap = h->cap ? h->cap * 2 : 1024;
    hcase *g = realloc(h->cases, (size_t)cap * sizeof *g);
    if (!g) return h->oom = 1;
    h->cases = g, h->cap = cap;
  }
  c = &h->cases[h->ncases];
  memset(c, 0, sizeof *c);
  if (!(c->id = strdup(v[0].s ? v[0].s : ""))) return h->oom = 1;
  h->ncases++;
  c->closed = (int32_t)v[3].i;
  c->amount_due = v[7].i;
  c->open_day = day_of(h->zone, v[11].i);
  if (v[8].type == STORE_TEXT && clock_parse_date(v[8].s, &due) == RC_OK) {
    c->due_day = (int32_t)clock_date_to_days(due);
    c->has_due = 1;
  }
  return 0;
}

static int on_row(void *ud, const store_value *v, int n) {
  hist *h = ud;
  int w = h->which, c;
  hrow *r;
  if (n < 2 || v[0].type != STORE_TEXT) return 0;
  if ((c = find_case(h, v[0].s)) < 0) return 0;
  if (h->n[w] == h->capr[w]) {
    int cap = h->capr[w] ? h->capr[w] * 2 : 4096;
    hrow *g = realloc(h->rows[w], (size_t)cap * sizeof *g);
    if (!g) return h->oom = 1;
    h->rows[w] = g, h->capr[w] = cap;
  }
  r = &h->rows[w][h->n[w]++];
  r->c = c;
  r->day = day_of(h->zone, v[1].i);
  r->state = w == 0 && n > 2 && v[2].type == STORE_TEXT
                 ? state_index(h->m, v[2].s)
                 : -1;
  r->amount = w == 1 && n > 2 ? v[2].i : 0;
  return 0;
}

static int on_promise(void *ud, const store_value *v, int n) {
  sim_model *m = ud;
  if (n < 2 || v[0].type != STORE_TEXT) return 0;
  if (strcmp(v[0].s, "kept") == 0) m->kept.hits += v[1].i;
  if (!strcmp(v[0].s, "kept") || !strcmp(v[0].s, "broken"))
    m->kept.obs += v[1].i;
  return 0;
}

/* Calls that did not reach anyone. */
static int unreached(const char *outcome) {
  return !strcmp(outcome, "no_answer") || !strcmp(outcome, "wrong_number") ||
         !strcmp(outcome, "not_reached") || !strcmp(outcome, "voicemail");
}

static int on_outcome(void *ud, const store_value *v, int n) {
  sim_model *m = ud;
  if (n < 3 || v[0].type != STORE_TEXT || v[1].type != STORE_TEXT) return 0;
  if (strcmp(v[0].s, "call") == 0 && v[1].s[0]) {
    m->reach.obs += v[2].i;
    if (!unreached(v[1].s)) m->reach.hits += v[2].i;
  }
  if (m->noutcomes < SIM_OUTCOMES && strlen(v[0].s) < 32 &&
      strlen(v[1].s) < 32) {
    snprintf(m->outcomes[m->noutcomes].kind, 32, "%s", v[0].s);
    snprintf(m->outcomes[m->noutcomes].outcome, 32, "%s", v[1].s);
    m->outcomes[m->noutcomes++].n = v[2].i;
  }
  return 0;
}

static void settle(sim_rate *r, int min_obs) {
  if (r->obs >= min_obs) {
    r->p = (double)r->hits / (double)r->obs;
    r->calibrated = 1;
  }
}

/* --- replies ---------------------------------------------------------- */

/* A message is answered when the borrower replies within contact_days
 * after it and before the case's next message (a reply answers the last
 * message before it, once). Messages are walked in the order they were
 * written, remembering each case's last one; replies are held by case. */
typedef struct reply_walk {
  hist *h;
  int64_t *at; /* replies' times, by case then time; owned */
  int *first;  /* each case's first reply in at[], ncases + 1; owned */
  int *owner;  /* while loading: each reply's case; owned */
  int n, cap;
  struct pending {
    rc_time at;  /* 0: none */
    int channel; /* index in m->replies, -1 beyond it */
  } * last;      /* each case's last message; owned */
  rc_time window;
} reply_walk;

static int on_reply(void *ud, const store_value *v, int n) {
  reply_walk *w = ud;
  int c;
  if (n < 2 || v[0].type != STORE_TEXT) return 0;
  if ((c = find_case(w->h, v[0].s)) < 0) return 0;
  if (w->n == w->cap) {
    int cap = w->cap ? w->cap * 2 : 1024;
    int64_t *g = realloc(w->at, (size_t)cap * sizeof *g);
    int *o;
    if (!g) return w->h->oom = 1;
    w->at = g;
    if (!(o = realloc(w->owner, (size_t)cap * sizeof *o))) return w->h->oom = 1;
    w->owner = o, w->cap = cap;
  }
  w->owner[w->n] = c;
  w->at[w->n++] = v[1].i;
  return 0;
}

static int reply_channel(sim_model *m, const char *name) {
  for (int i = 0; i < m->nreplies; i++)
    if (strcmp(m->replies[i].channel, name) == 0) return i;
  if (m->nreplies == SIM_CHANNELS_MODEL ||
      strlen(name) >= sizeof m->replies[0].channel)
    return -1;
  snprintf(m->replies[m->nreplies].channel, sizeof m->replies[0].channel, "%s",
           name);
  return m->nreplies++;
}

/* Ends case c's pending message: answered when a reply came after it,
 * within the window and before until (the next message; 0: none). */
static void reply_settle(reply_walk *w, int c, rc_time until) {
  sim_model *m = w->h->m;
  struct pending *p = &w->last[c];
  rc_time end;
  int hit = 0;
  if (!p->at) return;
  end = p->at + w->window;
  if (until && until < end) end = until;
  for (int i = w->first[c]; i < w->first[c + 1] && !hit; i++)
    hit = w->at[i] >= p->at && w->at[i] <= end;
  m->reply.obs++;
  m->reply.hits += hit;
  if (p->channel >= 0) {
    m->replies[p->channel].rate.obs++;
    m->replies[p->channel].rate.hits += hit;
  }
  p->at = 0;
}

/* QUERY_SIM_MESSAGES: id, case_id, channel, status, at. */
static int on_sent(void *ud, const store_value *v, int n) {
  reply_walk *w = ud;
  int c;
  if (n < 5 || v[1].type != STORE_TEXT || v[2].type != STORE_TEXT ||
      v[3].type != STORE_TEXT)
    return 0;
  /* Only what went out: queued, blocked, failed messages reached nobody. */
  if (strcmp(v[3].s, "sent") != 0 && strcmp(v[3].s, "delivered") != 0) return 0;
  if ((c = find_case(w->h, v[1].s)) < 0) return 0;
  reply_settle(w, c, v[4].i);
  w->last[c].at = v[4].i > 0 ? v[4].i : 1;
  w->last[c].channel = reply_channel(w->h->m, v[2].s);
  return 0;
}

static int calibrate_replies(query *q, hist *h, rc_error *err) {
  reply_walk w;
  int rc;
  memset(&w, 0, sizeof w);
  w.h = h;
  w.window = (rc_time)h->m->contact_days * 86400000;
  if ((rc = query_sim(q, QUERY_SIM_REPLIES, 0, on_reply, &w, err)) == RC_OK &&
      !h->oom) {
    w.first = calloc((size_t)h->ncases + 1, sizeof *w.first);
    w.last = calloc((size_t)h->ncases + 1, sizeof *w.last);
    if (!w.first || !w.last) {
      h->oom = 1;
    } else {
      /* Rows come by case id, as the cases do: each case's start. */
      for (int i = 0; i < w.n; i++) w.first[w.owner[i] + 1]++;
      for (int c = 0; c < h->ncases; c++) w.first[c + 1] += w.first[c];
      rc = query_sim(q, QUERY_SIM_MESSAGES, 0, on_sent, &w, err);
      for (int c = 0; c < h->ncases && rc == RC_OK; c++) reply_settle(&w, c, 0);
    }
  }
  free(w.at);
  free(w.owner);
  free(w.first);
  free(w.last);
  return rc;
}

/* Walks one case's days, rows[k] from *at[k] on belonging to it. */
static void walk_case(hist *h, int c, int32_t today, const int at[3],
                      const int end[3], int64_t (*state_obs)[SIM_BUCKETS][2]) {
  sim_model *m = h->m;
  const hcase *hc = &h->cases[c];
  const hrow *j = h->rows[0], *p = h->rows[1], *k = h->rows[2];
  int32_t last = today - 1, first = hc->open_day;
  int ji = at[0], pi = at[1], ki = at[2], state = -1;
  int32_t last_contact = INT32_MIN / 2;
  rc_money later = 0; /* payments on or after the one looked at */
  if (hc->closed && end[0] > at[0]) last = j[end[0] - 1].day;
  if (ji < end[0]) state = j[ji].state;
  for (int i = at[1]; i < end[1]; i++) later += p[i].amount;
  for (int32_t d = first; d <= last; d++) {
    int paid = 0, b, contacted;
    rc_money amount = 0;
    while (ki < end[2] && k[ki].day < d) last_contact = k[ki++].day;
    while (pi < end[1] && p[pi].day == d) amount += p[pi++].amount, paid = 1;
    while (pi < end[1] && p[pi].day < d) pi++;
    b = sim_bucket(hc->has_due ? d - hc->due_day : 0);
    contacted = d - last_contact <= m->contact_days;
    m->pay[b].obs++;
    m->pay[b].hits += paid;
    if (state >= 0) {
      state_obs[state][b][0]++;
      state_obs[state][b][1] += paid;
    }
    (contacted ? &m->pay_contacted : &m->pay_quiet)->obs++;
    (contacted ? &m->pay_contacted : &m->pay_quiet)->hits += paid;
    if (paid) {
      /* What was due then: what is due now plus what was paid since. */
      rc_money due = hc->amount_due + later;
      double share = due > 0 ? (double)amount / (double)due : 1.0;
      m->share.obs++;
      m->share_sum += share > 1.0 ? 1.0 : share;
      later -= amount;
    }
    /* The state this day ended in is the next day's. */
    while (ji < end[0] && j[ji].day <= d) state = j[ji++].state;
    m->case_days++;
  }
}

int sim_model_calibrate(query *q, rc_zone *zone, rc_time now, sim_model *m,
                        rc_error *err) {
  static const int reads[3] = {QUERY_SIM_JOURNAL, QUERY_SIM_PAYMENTS,
                               QUERY_SIM_CONTACTS};
  hist h;
  int rc, at[3] = {0, 0, 0};
  int32_t today = day_of(zone, now);
  int64_t(*state_obs)[SIM_BUCKETS][2] = calloc(SIM_STATES, sizeof *state_obs);
  memset(&h, 0, sizeof h);
  h.m = m, h.zone = zone;
  if (!state_obs) return rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  rc = query_sim(q, QUERY_SIM_CASES, 0, on_case, &h, err);
  for (int w = 0; w < 3 && rc == RC_OK; w++) {
    h.which = w;
    rc = query_sim(q, reads[w], 0, on_row, &h, err);
  }
  if (rc == RC_OK) rc = query_sim(q, QUERY_SIM_PROMISES, 0, on_promise, m, err);
  if (rc == RC_OK) rc = query_sim(q, QUERY_SIM_OUTCOMES, 0, on_outcome, m, err);
  if (rc == RC_OK && !h.oom) rc = calibrate_replies(q, &h, err);
  if (rc == RC_OK && h.oom)
    rc = rc_error_set(err, RC_ENOMEM, NULL, "out of memory");
  if (rc == RC_OK) {
    /* Rows come ordered by case id, as the cases do. */
    for (int c = 0; c < h.ncases; c++) {
      int end[3];
      for (int w = 0; w < 3; w++) {
        end[w] = at[w];
        while (end[w] < h.n[w] && h.rows[w][end[w]].c == c) end[w]++;
      }
      walk_case(&h, c, today, at, end, state_obs);
      for (int w = 0; w < 3; w++) at[w] = end[w];
    }
    int64_t paid = 0;
    m->cases = h.ncases;
    for (int b = 0; b < SIM_BUCKETS; b++) paid += m->pay[b].hits;
    /* A book without a single payment yet (a fresh import, a rehearsal)
     * tells nothing of how borrowers pay: the defaults stand. */
    m->no_payments = paid == 0;
    for (int b = 0; b < SIM_BUCKETS && paid; b++)
      settle(&m->pay[b], m->min_obs);
    for (int s = 0; s < m->nstates && paid; s++)
      for (int b = 0; b < SIM_BUCKETS; b++) {
        sim_rate *r = &m->states[s].pay[b];
        r->obs = state_obs[s][b][0];
        r->hits = state_obs[s][b][1];
        r->p = m->pay[b].p; /* the bucket's, until calibrated */
        settle(r, m->min_obs);
      }
    if (m->share.obs >= m->min_obs) {
      m->share.p = m->share_sum / (double)m->share.obs;
      m->share.calibrated = 1;
    }
    settle(&m->pay_contacted, m->min_obs);
    settle(&m->pay_quiet, m->min_obs);
    if (m->pay_contacted.calibrated && m->pay_quiet.calibrated &&
        m->pay_quiet.p > 0 && m->pay_contacted.hits > 0)
      m->lift = m->pay_contacted.p / m->pay_quiet.p;
    settle(&m->reach, m->min_obs);
    settle(&m->kept, m->min_obs);
    /* A channel with little history takes the overall rate. */
    settle(&m->reply, m->min_obs);
    for (int i = 0; i < m->nreplies; i++) {
      m->replies[i].rate.p = m->reply.p;
      settle(&m->replies[i].rate, m->min_obs);
    }
  }
  for (int c = 0; c < h.ncases; c++) free(h.cases[c].id);
  free(h.cases);
  for (int w = 0; w < 3; w++) free(h.rows[w]);
  free(state_obs);
  return rc;
}

double sim_model_reply(const sim_model *m, const char *channel) {
  for (int i = 0; i < m->nreplies; i++)
    if (channel && strcmp(m->replies[i].channel, channel) == 0)
      return m->replies[i].rate.p;
  return m->reply.p;
}

double sim_model_pay(const sim_model *m, const char *state, int dpd) {
  int b = sim_bucket(dpd);
  for (int s = 0; s < m->nstates; s++)
    if (strcmp(m->states[s].state, state) == 0)
      return m->states[s].pay[b].calibrated ? m->states[s].pay[b].p
                                            : m->pay[b].p;
  return m->pay[b].p;
}

static json_t *rate_json(const sim_rate *r) {
  return json_pack("{s:f, s:I, s:b}", "p", r->p, "obs", (json_int_t)r->obs,
                   "calibrated", r->calibrated);
}

json_t *sim_model_json(const sim_model *m) {
  json_t *o = json_object(), *pay = json_object(), *states = json_object(),
         *outcomes = json_object();
  for (int b = 0; b < SIM_BUCKETS; b++)
    json_object_set_new(pay, sim_bucket_names[b], rate_json(&m->pay[b]));
  for (int s = 0; s < m->nstates; s++) {
    json_t *one = json_object();
    for (int b = 0; b < SIM_BUCKETS; b++)
      if (m->states[s].pay[b].calibrated)
        json_object_set_new(one, sim_bucket_names[b],
                            rate_json(&m->states[s].pay[b]));
    json_object_set_new(states, m->states[s].state, one);
  }
  for (int i = 0; i < m->noutcomes; i++) {
    json_t *k = json_object_get(outcomes, m->outcomes[i].kind);
    if (!k)
      json_object_set_new(outcomes, m->outcomes[i].kind, k = json_object());
    json_object_set_new(k, m->outcomes[i].outcome,
                        json_integer((json_int_t)m->outcomes[i].n));
  }
  json_object_set_new(o, "min_obs", json_integer(m->min_obs));
  json_object_set_new(o, "cases", json_integer((json_int_t)m->cases));
  json_object_set_new(o, "case_days", json_integer((json_int_t)m->case_days));
  json_object_set_new(o, "no_payments", json_boolean(m->no_payments));
  json_object_set_new(o, "pay_by_bucket", pay);
  json_object_set_new(o, "pay_by_state", states);
  json_object_set_new(o, "share_of_due", rate_json(&m->share));
  json_object_set_new(o, "contact_days", json_integer(m->contact_days));
  json_object_set_new(o, "pay_contacted", rate_json(&m->pay_contacted));
  json_object_set_new(o, "pay_quiet", rate_json(&m->pay_quiet));
  json_object_set_new(o, "contact_lift", json_real(m->lift));
  json_object_set_new(o, "call_reach", rate_json(&m->reach));
  json_object_set_new(o, "promise_kept", rate_json(&m->kept));
  json_object_set_new(o, "reply", rate_json(&m->reply));
  {
    json_t *by = json_object();
    for (int i = 0; i < m->nreplies; i++)
      json_object_set_new(by, m->replies[i].channel,
                          rate_json(&m->replies[i].rate));
    json_object_set_new(o, "reply_by_channel", by);
  }
  json_object_set_new(o, "task_outcomes", outcomes);
  return o;
}

static void rate_print(FILE *out, const char *what, const sim_rate *r,
                       int percent_digits) {
  char shown[160];
  fprintf(out, "  %s %6.*f%%  %s (%lld obs)\n",
          text_pad(shown, sizeof shown, what, -28), percent_digits,
          r->p * 100.0, r->calibrated ? "calibrated" : "default   ",
          (long long)r->obs);
}

void sim_model_print(const sim_model *m, FILE *out) {
  char what[64];
  fprintf(out,
          "behaviour model: %lld cases, %lld case-days of history; a cell "
          "with fewer than %d observations uses the stated default\n",
          (long long)m->cases, (long long)m->case_days, m->min_obs);
  if (m->no_payments)
    fprintf(out,
            "  no payment in the book's history: payment cells use the "
            "defaults\n");
  for (int b = 0; b < SIM_BUCKETS; b++) {
    snprintf(what, sizeof what, "pays on a day, dpd %s", sim_bucket_names[b]);
    rate_print(out, what, &m->pay[b], 2);
  }
  for (int s = 0; s < m->nstates; s++)
    for (int b = 0; b < SIM_BUCKETS; b++)
      if (m->states[s].pay[b].calibrated) {
        snprintf(what, sizeof what, "  in %.12s, dpd %s", m->states[s].state,
                 sim_bucket_names[b]);
        rate_print(out, what, &m->states[s].pay[b], 2);
      }
  rate_print(out, "amount paid / amount due", &m->share, 1);
  fprintf(out, "  %-28s %6.2fx   %s\n", "lift after a contact (3d)", m->lift,
          m->pay_contacted.calibrated && m->pay_quiet.calibrated &&
                  m->pay_contacted.hits > 0
              ? "calibrated"
              : "default");
  rate_print(out, "a call reaches the borrower", &m->reach, 1);
  rate_print(out, "a promise is kept", &m->kept, 1);
  rate_print(out, "a message gets a reply", &m->reply, 1);
  for (int i = 0; i < m->nreplies; i++) {
    char channel[96];
    text_cut_printable(channel, sizeof channel, m->replies[i].channel, 20);
    snprintf(what, sizeof what, "  by %s", channel);
    rate_print(out, what, &m->replies[i].rate, 1);
  }
}
