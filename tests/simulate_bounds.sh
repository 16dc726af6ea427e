#!/bin/sh
# A simulated collector records what the forms would take: a candidate
# whose promise amount is declared with a minimum above every balance
# makes no promise (the service would refuse each one) and records another
# outcome. On 08382c0 each such call was sent as a promise of the minimum,
# refused: a simulation error, the task left open, the candidate's figures
# worse for a reason no collector would meet.
# usage: simulate_bounds.sh RECOUP EXAMPLE WORKDIR
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
ff="$inst/strategies/faster_field/faster_field.lua"
sed 's/promise = { amount = "money", by = "date", conversation = true }/promise = { amount = { type = "money", min = 100000000 }, by = "date", conversation = true }/' \
  "$ff" >"$work/ff.lua" && mv "$work/ff.lua" "$ff"
grep -q 'min = 100000000' "$ff" || fail "the candidate's promise was not bounded"
"$recoup" import "$inst/data/portfolio.csv" "$inst" >"$work/out" 2>"$work/err" ||
  fail "import the example book"
"$recoup" simulate "$inst" --db "$inst/var/recoup.db" \
  --against "$inst/strategies/faster_field" --days 10 --json "$work/sim.json" \
  >"$work/out" 2>"$work/err" || fail "simulate"
errors=$(grep -o '"simulation_errors": *[0-9]*' "$work/sim.json" | sed 's/.*: *//')
[ "$errors" = "0
0" ] || fail "simulation errors (current, candidate): $errors"
grep -q Sanitizer "$work/err" && fail "a sanitizer spoke"
echo "ok"
