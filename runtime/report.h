#ifndef RECOUP_REPORT_H
#define RECOUP_REPORT_H

#include <stdio.h>

#include <jansson.h>

#include "recoup/engine.h"

/* The KPIs of an institution's database as one JSON object (*report, the
 * caller's), or the failure to read them:
 * cases by state and by days-past-due bucket, money recovered, promise
 * kept rate, installment on-time rate, contacts by channel, refusals and
 * deferrals by reason, outcomes by champion/challenger arm. */
int report_build(engine *eng, json_t **report, rc_error *err);
/* The same as aligned text tables. */
void report_print(engine *eng, const json_t *report, FILE *out);

#endif
