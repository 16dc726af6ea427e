#!/bin/sh
# The bundled sample portfolio as `make run` imports it: every due_date
# moved by the days from the portfolio's own day (2026-01-05, the day
# scripts/gen_portfolio.sh draws it for, its cases 8 to 96 days past
# due) to today, so a book served on the real clock shows the same
# spread of days past due instead of every case 90+ days late.
#   sh scripts/demo_portfolio.sh PORTFOLIO.csv [TODAY] > portfolio.csv
# TODAY (YYYY-MM-DD) defaults to today in Asia/Shanghai, the sample
# institution's zone, whose days the service counts past due by: the
# machine's own zone (TZ) would be a day off for hours of each day.
# Other columns pass as they are (a file of the generator's: no quoted
# commas). The date
# arithmetic is done by hand (days from the civil date and back) so that
# any awk gives the same file.
file=${1:?usage: demo_portfolio.sh PORTFOLIO.csv [TODAY]}
today=${2:-$(TZ=Asia/Shanghai date +%Y-%m-%d)}
awk -F, -v OFS=, -v today="$today" -v asof=2026-01-05 '
function days(s,   y, m, d, era, yoe, doy) {
  y = substr(s, 1, 4) + 0; m = substr(s, 6, 2) + 0; d = substr(s, 9, 2) + 0
  y -= m <= 2
  era = int(y / 400); yoe = y - era * 400
  doy = int((153 * ((m + 9) % 12) + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
}
function civil(z,   era, doe, yoe, y, doy, mp, d, m) {
  era = int(z / 146097); doe = z - era * 146097
  yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
  y = yoe + era * 400
  doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
  mp = int((5 * doy + 2) / 153)
  d = doy - int((153 * mp + 2) / 5) + 1
  m = mp < 10 ? mp + 3 : mp - 9
  return sprintf("%04d-%02d-%02d", y + (m <= 2), m, d)
}
BEGIN {
  # A day of the calendar (2026-02-30 and 0000-01-01 are none): the
  # arithmetic below would turn it into dates such as 0001--1--1.
  if (today !~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/ ||
      substr(today, 1, 4) + 0 < 1970 || civil(days(today)) != today) {
    print "demo_portfolio.sh: today must be YYYY-MM-DD, a day of the calendar from 1970 on, not " today > "/dev/stderr"
    exit 2
  }
  shift = days(today) - days(asof)
}
NR == 1 {
  for (i = 1; i <= NF; i++) if ($i == "due_date") col = i
  if (!col) { print "demo_portfolio.sh: " FILENAME " has no due_date column" > "/dev/stderr"; exit 2 }
  print; next
}
$col ~ /^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$/ { $col = civil(days($col) + shift) }
{ print }
' "$file"
