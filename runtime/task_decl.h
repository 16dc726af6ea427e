/* A workflow's declared task kinds and outcomes (task_decl.c), shared by
 * the workflow loader and the script module; not for other modules. */
#ifndef RECOUP_TASK_DECL_H
#define RECOUP_TASK_DECL_H

#include <jansson.h>
#include <lua.h>

#include "recoup/clock.h"
#include "recoup/script.h"

/* A text field's bound (a collector's note of a visit fits many times)
 * and money's: a quadrillion minor units is beyond any loan's. */
#define TASK_TEXT_MAX 4000
#define TASK_MONEY_MAX 1000000000000000LL

/* Reports (as load errors) everything wrong with the tasks table at idx. */
void task_decl_validate(lua_State *L, int idx, const char *wname);
/* Reports each case:task in the calling workflow's file that names a
 * literal kind the tasks table at idx does not declare. */
void task_decl_scan(lua_State *L, int idx, const char *wname);
/* What the workflow at wf declares of kind. */
int task_decl_kind(lua_State *L, int wf, const char *kind,
                   script_task_kind *out);
/* Checks a completion body against the workflow at wf; durations in date
 * fields become dates in body. *conversation: the outcome starts the pause
 * after a conversation. RC_EINVAL names the field at fault; a money
 * field's refusal says the case's currency's minor unit. */
int task_decl_check(lua_State *L, int wf, rc_clock *clk, const char *kind,
                    const char *currency, json_t *body, int *conversation,
                    rc_error *err);

/* The outcomes of kind in the workflow at wf as the console draws its
 * forms from them: {outcome: {"fields": {name: {"type", "optional",
 * "choices"?}}, "conversation": true?}}; NULL when the kind is not
 * declared. */
json_t *task_decl_outcomes(lua_State *L, int wf, const char *kind);

#endif
