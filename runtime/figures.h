/* The arithmetic of the console's figures, apart from where the numbers
 * come from: buckets of days past due, rates, month steps and roll-rate
 * matrices. Pure functions over plain values (tests/test_figures.c). */
#ifndef RECOUP_FIGURES_H
#define RECOUP_FIGURES_H

#include <stddef.h>
#include <stdint.h>

/* Buckets of days past due, and a column for cases that closed. */
enum { FIG_BUCKETS = 5, FIG_CLOSED = FIG_BUCKETS, FIG_COLUMNS = 6 };
extern const char *const figures_bucket_names[FIG_BUCKETS];

/* The bucket of dpd days past due: current (0 or less), 1-30, 31-60,
 * 61-90, 90+. */
int figures_bucket(int64_t dpd);
/* The bucket on `day` (days since 1970-01-01) of a case due on due_date
 * ("2026-01-31"; NULL or "" is current); -1 when due_date is no date. */
int figures_bucket_of(const char *due_date, int64_t day);
/* good / all, or -1 when all is 0 (nothing ended: no rate). */
double figures_rate(int64_t good, int64_t all);

/* "2026-01" plus delta months into out ("2025-12" for -1 from January);
 * -1 when month is no month. */
int figures_month_add(const char *month, int delta, char *out, size_t size);
/* Days since 1970-01-01 of the month's first day; -1 for no month. */
int64_t figures_month_first(const char *month);

/* A month's roll rates: cases[from][to] counts cases open at the start of
 * the month in bucket `from` by where they were at the start of the next:
 * a bucket, or FIG_CLOSED. */
typedef struct figures_rolls {
  int64_t cases[FIG_BUCKETS][FIG_COLUMNS];
} figures_rolls;

/* What a case was at a month's start: open with a due date, closed, or
 * not yet opened. */
enum { FIG_OPEN = 0, FIG_WAS_CLOSED = 1, FIG_NOT_OPENED = 2 };
typedef struct figures_case_at {
  int status;           /* FIG_OPEN, FIG_WAS_CLOSED, FIG_NOT_OPENED */
  const char *due_date; /* when open; NULL or "" is current */
} figures_case_at;

/* Adds `count` cases that were `start` on day `first` and `end` on day
 * `next` (the first days of the month and of the next). Cases not open
 * at the start are not in the matrix. */
void figures_rolls_add(figures_rolls *r, figures_case_at start,
                       figures_case_at end, int64_t first, int64_t next,
                       int64_t count);

#endif
