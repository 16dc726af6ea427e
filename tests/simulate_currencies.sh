#!/bin/sh
# A book of three currencies (the example's yuan loans, a third of them
# made dollar loans and a third yen loans): `recoup simulate` sums what
# it recovers each currency apart, in its JSON (recovered_by_currency, a
# day's and the summary's), its table and its HTML ("recovered USD");
# the plain "recovered" is the yuan alone. On 4921bb4 dollars and yuan
# were one sum, named in yuan. The lines stand the institution's first,
# then in the order of their codes: on 6fcc684 in the order the run
# paid them first (USD above JPY with seed 7, another seed otherwise).
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
         { print $0 "," (NR % 3 == 0 ? "JPY" : NR % 3 == 1 ? "USD" : "CNY") }' \
  "$inst/data/portfolio.csv" >"$work/three.csv" || fail "the three-currency book"
"$recoup" import "$work/three.csv" "$inst" >"$work/out" 2>"$work/err" ||
  fail "import the three-currency book"
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
order=$(grep -o '^ *recovered [A-Z][A-Z][A-Z]' "$work/table" | awk '{ printf "%s ", $2 }')
[ "$order" = "CNY JPY USD " ] || fail "the table's currencies in the order $order"
order=$(grep -o '<td>recovered [A-Z]*' "$work/sim.html" | awk '{ printf "%s ", $2 }')
[ "$order" = "CNY JPY USD " ] || fail "the HTML's currencies in the order $order"
grep -q Sanitizer "$work/err" && fail "a sanitizer spoke"
echo "ok"
