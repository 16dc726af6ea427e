/* Time: a real or simulated clock, IANA zones through ICU, durations and
 * ISO 8601 parsing. Every "local" notion (days past due, contact hours,
 * "3d from now") is computed in a named zone, never a fixed offset. */
#ifndef RECOUP_CLOCK_H
#define RECOUP_CLOCK_H

#include "recoup/recoup.h"

typedef struct rc_zone rc_zone;
typedef struct rc_clock rc_clock;

/* A duration as people write it: "30m", "12h", "3d", "2w", "1mo".
 * Days and months are calendar units, so "1d" across a DST change is still
 * "same wall time tomorrow". */
typedef struct rc_duration {
  int64_t ms;
  int32_t days;
  int32_t months;
} rc_duration;

typedef struct rc_date {
  int year, month, day; /* month 1..12 */
} rc_date;

rc_clock *clock_new(const char *zone, rc_error *err);
void clock_free(rc_clock *clk);
/* Switches the clock to simulated time, frozen at t until set again. */
void clock_set(rc_clock *clk, rc_time t);
int clock_is_simulated(const rc_clock *clk);
rc_time clock_now(const rc_clock *clk);
rc_zone *clock_zone(rc_clock *clk); /* the institution's zone */
/* A zone by IANA name, cached for the clock's lifetime; NULL and err set
 * for a name ICU does not know. */
rc_zone *clock_zone_get(rc_clock *clk, const char *name, rc_error *err);
const char *clock_zone_name(const rc_zone *zone);

int clock_parse_duration(const char *text, rc_duration *out, rc_error *err);
rc_time clock_zone_add(rc_zone *zone, rc_time t, const rc_duration *d);
/* ISO date ("2026-01-05", local midnight), date-time ("2026-01-05T09:00",
 * local unless it carries Z or an offset), or a duration from now. */
int clock_parse_time(rc_clock *clk, const char *text, rc_time *out,
                     rc_error *err);
int clock_parse_date(const char *text, rc_date *out);
/* "2026-01-05T09:00:00+08:00" in zone; buf holds at least 32 bytes. */
void clock_zone_format(rc_zone *zone, rc_time t, char *buf, size_t size);
void clock_date_format(const rc_date *d, char *buf, size_t size);
rc_date clock_zone_date(rc_zone *zone, rc_time t);
rc_time clock_zone_midnight(rc_zone *zone, rc_date d);
/* Local wall time to an instant (lenient in DST gaps, as ICU is). */
rc_time clock_zone_time(rc_zone *zone, rc_date d, int hour, int minute,
                        int second);
/* UTC offset in force at t, daylight saving included. */
int64_t clock_zone_offset_ms(rc_zone *zone, rc_time t);
/* Local wall time: minutes since midnight (0..1439). */
int clock_zone_minute_of_day(rc_zone *zone, rc_time t);
int64_t clock_date_to_days(rc_date d); /* days since 1970-01-01 */
rc_date clock_date_from_days(int64_t days);
/* Calendar days from due to the local date of now; 0 when not yet due. */
int clock_dpd(rc_clock *clk, const rc_date *due, rc_time now);

#endif
