/* Message texts: filling {placeholders} for one recipient, formatting
 * money and dates for the reader. The renderer knows no case: the caller's
 * lookup (lua_case.c's, for case:send) finds each value. */
#ifndef RECOUP_TEMPLATE_H
#define RECOUP_TEMPLATE_H

#include <stddef.h>

#include "recoup/clock.h"
#include "recoup/recoup.h"

/* 100000 fen, "CNY", "zh-CN" -> "¥1,000.00". Never through a double. */
int template_format_money(const char *locale, const char *currency,
                          rc_money minor, char *buf, size_t size);
/* Minor digits of an ISO 4217 code as ICU has them: 2 for CNY, 0 for
 * JPY and VND, 3 for KWD and BHD (2 when ICU does not know the code). */
int template_currency_digits(const char *currency);
/* Why a currency code is refused for money (NULL when it is not): not
 * three capital letters, unknown to ICU (ZZZ), or an X code that is no
 * currency of tender (XAU, XDR, XTS, XXX). Fund codes a lender may owe
 * in (CLF, four decimals) and withdrawn currencies (DEM, HRK) pass. */
const char *template_currency_refused(const char *code);
/* How an amount of the currency is written in minor units, for a
 * refusal: "5000 for 50.00"; "JPY has no minor unit: 5000 for 5000";
 * "KWD has 3 decimals: 50000 for 50.000". Returns buf. */
const char *template_money_example(const char *currency, char *buf,
                                   size_t size);
/* Whether amounts of this locale and currency are put between pieces
 * learnt from ICU's own output rather than formatted by ICU each time
 * (the same bytes either way; for tests). */
int template_money_learnt(const char *locale, const char *currency);
/* 2026-01-31 -> "2026年1月31日" / "January 31, 2026". */
int template_format_date(const char *locale, const char *iso_date, char *buf,
                         size_t size);

/* What follows the colon in {vars.amount:money}. */
typedef enum template_fmt {
  TEMPLATE_FMT_NONE,
  TEMPLATE_FMT_MONEY, /* whole minor units in the case's currency */
  TEMPLATE_FMT_DATE,  /* an ISO date, a date-time or a duration from now */
  TEMPLATE_FMT_UNKNOWN
} template_fmt;

#define TEMPLATE_FORMATTERS "money, date"

/* Splits the text between braces ("vars.amount:money") into the name and
 * its formatter. The name is cut to fit name_size. */
template_fmt template_placeholder(const char *inner, size_t len, char *name,
                                  size_t name_size);

/* One piece of a template's text, as template_next reads it: literal
 * text, where a doubled brace ("{{", "}}") stands for one (a webhook's
 * JSON body: "{{\"name\": \"{borrower.name}\"}}"), or the inside of a
 * placeholder. A lone '}' is literal, as it always was. */
typedef struct template_piece {
  const char *at; /* literal: its bytes; placeholder: between the braces */
  size_t len;
  int placeholder; /* at/len is a placeholder's inside */
  int unclosed;    /* a '{' never closed: at/len is the rest, literal */
} template_piece;

/* The piece at p, and where the next begins; NULL at the text's end. */
const char *template_next(const char *p, template_piece *piece);

/* A placeholder's value, as the caller's lookup finds it. */
typedef struct template_value {
  enum {
    TEMPLATE_MISSING, /* a {vars.x} the send did not pass */
    TEMPLATE_UNSET,   /* a field the case or borrower does not hold (nil) */
    TEMPLATE_TEXT,    /* shown as it is, or read by a formatter */
    TEMPLATE_MONEY,   /* minor units, formatted whatever the placeholder */
    TEMPLATE_DATE     /* an ISO date, formatted whatever the placeholder */
  } kind;
  /* TEXT, DATE: kept alive by the lookup until template_render's caller
   * is done with the text (lua_case.c keeps it on the Lua stack). */
  const char *text;
  rc_money minor;   /* MONEY */
  /* TEXT: text's length where it may hold a NUL (a Lua string); 0: up to
   * its first NUL. */
  size_t len;
} template_value;

typedef struct template_ctx {
  const char *name;               /* the template, for errors */
  const char *channel, *language; /* the text's, for errors */
  const char *locale;             /* the reader's (else the institution's) */
  const char *currency;           /* the case's */
  rc_clock *clock; /* date-times and durations in :date; NULL: dates only */
  rc_zone *zone;   /* the reader's zone; NULL: the clock's (institution's) */
  /* The text is JSON (a template with json = true: a webhook's body):
   * every value is put in as the inside of a JSON string, its '"', '\\'
   * and control characters escaped. */
  int json;
  /* The value of a placeholder by name ("vars.amount", "case.fees"):
   * TEMPLATE_MISSING only for a {vars.x} not passed (loading the scripts
   * refuses other unknown names: script_check.c), TEMPLATE_UNSET for a
   * field this case or borrower has no value of. It may longjmp (a Lua
   * error): template_render holds nothing to free. */
  template_value (*lookup)(void *ud, const char *name);
  /* Optional: a buffer of at least need bytes holding buf's first used
   * ones, its size in *size, when the text does not fit; the rendering
   * goes on there. It may longjmp, as lookup. NULL: cut as snprintf. */
  char *(*grow)(void *ud, const char *buf, size_t used, size_t need,
                size_t *size);
  void *ud;
} template_ctx;

/* Fills text's placeholders into buf as snprintf does (*len: the length
 * the whole text needs), or, with ctx->grow, whole into the buffers it
 * gives: each placeholder is looked up once (a value's __tostring runs
 * once). A {vars.x} the lookup does not know, or a value a formatter
 * cannot read, is RC_EINVAL naming the template, the placeholder and the
 * value. */
int template_render(const char *text, const template_ctx *ctx, char *buf,
                    size_t size, size_t *len, rc_error *err);

/* A placeholder's name is cut to this many bytes less one. */
#define TEMPLATE_NAME_MAX 128

/* A text split into its pieces once, for a text sent again and again
 * (case:send renders the same few on every reminder): rendered from its
 * plan, it gives the bytes and errors template_render gives, without
 * reading the text's braces and formatters again (~1k instructions a
 * reminder step). The plan points into the text, which must outlive it;
 * template_plan_make writes into template_plan_size(text) bytes. */
typedef struct template_plan template_plan;
size_t template_plan_size(const char *text);
void template_plan_make(const char *text, template_plan *plan);
int template_render_plan(const template_plan *plan, const template_ctx *ctx,
                         char *buf, size_t size, size_t *len, rc_error *err);

/* Formats one value as {x:fmt} would for locale (recoup.money and
 * recoup.date share it). RC_EINVAL when the value does not fit fmt. */
int template_format_value(template_fmt fmt, const template_value *v,
                          const template_ctx *ctx, char *buf, size_t size,
                          rc_error *err);

#endif
