#include "figures.h"

#include <stdio.h>
#include <string.h>

#include "recoup/clock.h"

const char *const figures_bucket_names[FIG_BUCKETS] = {"current", "1-30",
                                                       "31-60", "61-90", "90+"};

int figures_bucket(int64_t dpd) {
  return dpd <= 0 ? 0 : dpd <= 30 ? 1 : dpd <= 60 ? 2 : dpd <= 90 ? 3 : 4;
}

int figures_bucket_of(const char *due_date, int64_t day) {
  rc_date d;
  if (!due_date || !*due_date) return 0;
  if (clock_parse_date(due_date, &d) != RC_OK) return -1;
  return figures_bucket(day - clock_date_to_days(d));
}

double figures_rate(int64_t good, int64_t all) {
  return all > 0 ? (double)good / (double)all : -1;
}

static int month_parse(const char *month, int *y, int *m) {
  char tail;
  if (!month || strlen(month) != 7 || month[4] != '-' ||
      sscanf(month, "%4d-%2d%c", y, m, &tail) != 2 || *m < 1 || *m > 12 ||
      *y < 1)
    return -1;
  return 0;
}

int figures_month_add(const char *month, int delta, char *out, size_t size) {
  int y, m;
  int64_t k;
  if (month_parse(month, &y, &m)) return -1;
  k = (int64_t)y * 12 + (m - 1) + delta;
  if (k < 12 || k >= 10000 * 12) return -1;
  snprintf(out, size, "%04d-%02d", (int)(k / 12), (int)(k % 12) + 1);
  return 0;
}

int64_t figures_month_first(const char *month) {
  int y, m;
  rc_date d;
  if (month_parse(month, &y, &m)) return -1;
  d.year = y;
  d.month = m;
  d.day = 1;
  return clock_date_to_days(d);
}

void figures_rolls_add(figures_rolls *r, figures_case_at start,
                       figures_case_at end, int64_t first, int64_t next,
                       int64_t count) {
  int from, to;
  if (start.status != FIG_OPEN) return;
  from = figures_bucket_of(start.due_date, first);
  if (from < 0) return; /* a due date that never parsed has no bucket */
  if (end.status == FIG_OPEN) {
    to = figures_bucket_of(end.due_date, next);
    if (to < 0) return;
  } else {
    to = FIG_CLOSED; /* a case does not go back to "not opened" */
  }
  r->cases[from][to] += count;
}
