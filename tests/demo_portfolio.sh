#!/bin/sh
# make run's demo book (scripts/demo_portfolio.sh): the sample
# portfolio's due dates move with today, so a book served on the real
# clock is 8 to 96 days past due as on the portfolio's own day
# (2026-01-05), not every case 90+ days late a year on; the import says
# its rows before the delivery that follows them.
# usage: demo_portfolio.sh RECOUP SOURCE_DIR WORKDIR
set -u
recoup=$1 src=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
fail() {
  echo "FAIL: $*" >&2
  for f in "$work/out" "$work/err"; do
    [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
  done
  exit 1
}
shift_to() { sh "$src/scripts/demo_portfolio.sh" "$src/examples/microfinance/data/portfolio.csv" "$1"; }
span() { awk -F, 'NR > 1 { print $14 }' "$1" | sort | sed -n '1p;$p' | tr '\n' ' '; }

shift_to 2026-01-05 >"$work/same.csv" || fail "the script on the portfolio's own day"
cmp -s "$work/same.csv" "$src/examples/microfinance/data/portfolio.csv" ||
  fail "on the portfolio's own day the file changed"
shift_to 2026-12-06 >"$work/p.csv" || fail "the script on 2026-12-06"
[ "$(span "$work/p.csv")" = "2026-09-01 2026-11-28 " ] ||
  fail "due dates on 2026-12-06: $(span "$work/p.csv")"
# Across a leap day and a year's end.
shift_to 2028-03-01 >"$work/leap.csv" || fail "the script on 2028-03-01"
[ "$(span "$work/leap.csv")" = "2027-11-26 2028-02-22 " ] ||
  fail "due dates on 2028-03-01: $(span "$work/leap.csv")"
[ "$(wc -l <"$work/p.csv")" = "$(wc -l <"$src/examples/microfinance/data/portfolio.csv")" ] ||
  fail "rows lost"
shift_to "next week" >"$work/out" 2>"$work/err" && fail "a day that is not one taken"
grep -q "today must be YYYY-MM-DD, .*not next week" "$work/err" || fail "the bad day is not named"
# A string of the shape that is no day would become dates such as
# 0001--1--1 (2026-02-30 a day in March).
for bad in 2026-13-45 2026-02-29 0000-01-01; do
  shift_to $bad >"$work/out" 2>"$work/err" && fail "$bad taken as a day"
  grep -q "a day of the calendar from 1970 on, not $bad" "$work/err" ||
    fail "$bad is not named"
done
# Today is the institution's (Asia/Shanghai), whatever the machine's TZ:
# Kiritimati (UTC+14) and Pago Pago (UTC-11) never share a date, so a
# script reading the machine's day gives the two different books. Once
# more if Shanghai's day turned between the two.
same_today() {
  before=$(TZ=Asia/Shanghai date +%Y-%m-%d)
  TZ=Pacific/Kiritimati sh "$src/scripts/demo_portfolio.sh" \
    "$src/examples/microfinance/data/portfolio.csv" >"$work/east.csv" &&
    TZ=Pacific/Pago_Pago sh "$src/scripts/demo_portfolio.sh" \
      "$src/examples/microfinance/data/portfolio.csv" >"$work/west.csv" ||
    fail "the script on the machine's day"
  [ "$before" != "$(TZ=Asia/Shanghai date +%Y-%m-%d)" ] ||
    cmp -s "$work/east.csv" "$work/west.csv"
}
same_today || same_today ||
  fail "the book's due dates follow the machine's TZ: $(span "$work/east.csv")/ $(span "$work/west.csv")"

# The import of the shifted book: its rows said, then its delivery.
cp -R "$src/examples/microfinance" "$work/inst"
rm -rf "$work/inst/var"
"$recoup" import "$work/p.csv" "$work/inst" --db "$work/book.db" \
  --now 2026-12-06T09:00 --deliver >"$work/out" 2>"$work/err" || fail "the import"
[ "$(sed -n 1p "$work/out" | cut -c1-17)" = "imported 500 rows" ] ||
  fail "the import's first line is not its rows"
sed -n 2p "$work/out" | grep -q "^outbox: [0-9]* sent" || fail "no delivery line after it"
echo "ok"
