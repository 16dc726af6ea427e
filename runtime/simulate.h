/* `recoup simulate`: what a strategy would do to the book (DESIGN.md
 * "What-if: `recoup simulate`"). simulate.c runs the arms, simulate_model.c
 * calibrates the behaviour model from the book's journal, simulate_html.c
 * draws the report. */
#ifndef RECOUP_SIMULATE_H
#define RECOUP_SIMULATE_H

#include <stdint.h>
#include <stdio.h>

#include "recoup/clock.h"
#include "recoup/query.h"

typedef struct json_t json_t;

/* Days past due in buckets, as the report groups them. */
enum {
  SIM_BUCKETS = 5,
  SIM_STATES = 32,
  SIM_OUTCOMES = 64,
  SIM_CHANNELS_MODEL = 16
};
extern const char *const sim_bucket_names[SIM_BUCKETS];
int sim_bucket(int dpd);

/* A cell of the model: a probability estimated from obs observations,
 * or the stated default when obs < min_obs (calibrated is then 0). */
typedef struct sim_rate {
  double p;
  int64_t obs, hits;
  int calibrated;
} sim_rate;

typedef struct sim_model {
  int min_obs;      /* fewer observations than this: the default */
  int contact_days; /* a contact lifts payment for this many days after */
  sim_rate pay[SIM_BUCKETS]; /* a case pays on a day, by dpd bucket */
  struct {
    char state[64];
    sim_rate pay[SIM_BUCKETS];
  } states[SIM_STATES]; /* the same by state, where history is thick */
  int nstates;
  sim_rate share;         /* amount paid as a share of amount due */
  double share_sum;       /* sum of the observed shares */
  sim_rate pay_contacted; /* pays within contact_days of a contact */
  sim_rate pay_quiet;     /* pays with no contact in those days */
  double lift;            /* pay_contacted / pay_quiet (1 when thin) */
  sim_rate reach;         /* a call reaches the borrower */
  sim_rate kept;          /* a promise is kept */
  sim_rate reply;         /* a borrower replies to a message */
  struct {
    char channel[32];
    sim_rate rate;               /* the overall reply rate until calibrated */
  } replies[SIM_CHANNELS_MODEL]; /* the same by channel */
  int nreplies;
  struct {
    char kind[32], outcome[32];
    int64_t n;
  } outcomes[SIM_OUTCOMES]; /* tasks done, by kind and outcome */
  int noutcomes;
  int64_t cases, case_days; /* history walked */
  int no_payments;          /* no payment in the history: defaults */
} sim_model;

/* The stated defaults, every cell uncalibrated. */
void sim_model_defaults(sim_model *m);
/* Counts the book's history up to now (the institution's zone gives the
 * days) into m, over the defaults where a cell has min_obs or more. */
int sim_model_calibrate(query *q, rc_zone *zone, rc_time now, sim_model *m,
                        rc_error *err);
/* The chance a borrower replies to a message of channel. */
double sim_model_reply(const sim_model *m, const char *channel);
/* The payment probability of a case on a day in state at dpd. */
double sim_model_pay(const sim_model *m, const char *state, int dpd);
json_t *sim_model_json(const sim_model *m);
void sim_model_print(const sim_model *m, FILE *out);

/* How a report says its amounts and its model, from the institution the
 * simulation ran for: a manager reading the report has no recoup.lua. */
typedef struct sim_report {
  const char *locale, *currency; /* the institution's, for money */
  const char *model_text;        /* sim_model_print's lines, or NULL */
} sim_report;

/* One amount in minor units as the institution writes it ("¥1,000.00"). */
const char *sim_money(const sim_report *r, double minor, char *buf,
                      size_t size);
/* The currencies the arms' summaries recovered money in, when a line a
 * currency says more than "recovered" alone: more than one, or one that
 * is not the institution's. NULL otherwise; the caller owns the object
 * ({currency: true}). */
json_t *sim_currencies(json_t *arms, const sim_report *r);
/* Whether the candidate's figures are the current's in every run: its
 * change reached no case (simulate.md, "Things to know"). */
int sim_arms_alike(const json_t *result);

/* The HTML report of a simulation's JSON (simulate_html.c). */
int sim_html_write(const json_t *result, const char *path, const sim_report *r,
                   rc_error *err);

/* The command: argv after "simulate". */
int simulate_main(int argc, char **argv);

#endif
