/* Durations and ISO times, as scripts and HTTP bodies give them. */
#include <stdint.h>
#include <string.h>

#include "recoup/clock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static rc_clock *clk;
  char text[64];
  rc_duration d;
  rc_time t;
  rc_date day;
  rc_error err;
  if (!clk) {
    clk = clock_new("America/New_York", &err);
    clock_set(clk, 1767574800000LL);
  }
  if (size >= sizeof text) size = sizeof text - 1;
  memcpy(text, data, size);
  text[size] = '\0';
  if (clock_parse_duration(text, &d, &err) == RC_OK)
    clock_zone_add(clock_zone(clk), clock_now(clk), &d);
  if (clock_parse_time(clk, text, &t, &err) == RC_OK) {
    char out[40];
    clock_zone_format(clock_zone(clk), t, out, sizeof out);
  }
  if (clock_parse_date(text, &day) == RC_OK)
    clock_dpd(clk, &day, clock_now(clk));
  return 0;
}
