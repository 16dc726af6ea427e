#!/bin/sh
# A book of two currencies (the example's yuan loans, every other one
# made a dollar loan): `recoup simulate` sums what it recovers each
# currency apart, in its JSON (recovered_by_currency, a day's and the
# summary's), its table and its HTML ("recovered USD"); the plain
# "recovered" is the yuan alone. On 4921bb4 dollars and yuan were one
# sum, named in yuan.
# usage: simulate_currencies.sh RECOUP EXAMPLE WORKDIR
set -u
recoup=$1 example=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/err" ] && cat "$work/err" >&2
  exit 1
}
inst="$work/inst"
cp -r "$example" "$inst"
rm -rf "$inst/var"
awk -F, 'NR == 1 { print $0 ",currency"; next }
         { print $0 "," (NR % 2 ? "USD" : "CNY") }' \
  "$inst/data/portfolio.csv" >"$work/two.csv" || fail "the two-currency book"
"$recoup" import "$work/two.csv" "$inst" >"$work/out" 2>"$work/err" ||
  fail "import the two-currency book"
"$recoup" simulate "$inst" --db "$inst/var/recoup.db" --days 20 --seed 7 \
  --json "$work/sim.json" --html "$work/sim.html" >"$work/table" 2>"$work/err" ||
  fail "simulate"
tr -d ' \n' <"$work/sim.json" >"$work/flat.json"
# some day (and the summary) names both currencies apart
grep -o '"recovered_by_currency":{[^}]*}' "$work/flat.json" | grep '"CNY":' |
  grep -q '"USD":' ||
  fail "no recovered_by_currency with CNY and USD: $(head -c 600 "$work/flat.json")"
grep -q '"USD":[1-9]' "$work/flat.json" || fail "no dollars recovered"
grep -q '^ *recovered USD ' "$work/table" || fail "the table has no dollar line: $(cat "$work/table")"
grep -q '^ *recovered CNY ' "$work/table" || fail "the table has no yuan line"
grep -q '<td>recovered USD</td>' "$work/sim.html" || fail "the HTML has no dollar row"
grep -q Sanitizer "$work/err" && fail "a sanitizer spoke"
echo "ok"
