#!/bin/sh
# Bad input through the real command: a clear message on stderr naming the
# file (and line), and a non-zero exit status.
# usage: cli_bad_input.sh RECOUP FIXTURES WORKDIR
set -u
recoup=$1 fixtures=$2 work=$3
mkdir -p "$work"
pass=0 fail=0

# expect NAME EXIT_WANTED PATTERN -- command...
expect() {
  name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$work/out" 2>"$work/err"
  code=$?
  if [ "$code" -ne "$want" ] || ! grep -q -- "$pattern" "$work/out" "$work/err"; then
    echo "FAIL $name: exit $code (wanted $want), output:"
    cat "$work/out" "$work/err"
    fail=$((fail + 1))
  else
    pass=$((pass + 1))
  fi
}

db="$work/cli.db"
rm -f "$db"*
expect "negative balance on line 7" 1 "bad_balance.csv:7: column balance" -- \
  "$recoup" import "$fixtures/bad_balance.csv" "$fixtures/basic" --db "$db"
expect "nothing written after a refused file" 0 "total  *0 (0 open" -- \
  "$recoup" report "$fixtures/basic" --db "$db"
expect "a line that is not JSON" 1 "bad.ndjson:3: not JSON" -- \
  "$recoup" import "$fixtures/bad.ndjson" "$fixtures/basic" --db "$db"
expect "check lists every problem" 1 "bad.lua:.*names 'nowhere', which is not a state" -- \
  "$recoup" check "$fixtures/broken"
expect "check counts the problems" 1 "problems in" -- \
  "$recoup" check "$fixtures/broken"
expect "failing specs: file:line and a count" 1 "failing_test.lua:3: fails on eq: tables: expected" -- \
  "$recoup" test "$fixtures/failing"
expect "a bad duration in a handler" 1 "bad duration '3x'" -- \
  "$recoup" test "$fixtures/failing"
expect "the closing line" 1 "^1 passed, 2 failed$" -- \
  "$recoup" test "$fixtures/failing"

# A checkout at any depth (here 150 characters below $work): the spec's
# location is said once and whole, never cut by Lua's 60-byte chunk names.
deep="$work/deep"
for i in 01 02 03 04 05 06 07 08 09 10 11 12 13 14 15; do
  deep="$deep/nested_$i"
done
rm -rf "$work/deep" && mkdir -p "$deep" && cp -R "$fixtures/failing" "$deep/"
printf 'test("x", function(rt)\n  eq(1,, 1)\nend)\n' >"$deep/failing/syntax_test.lua"
expect "a failing spec at any depth: its location once" 1 \
  "^$deep/failing/failing_test.lua:3: fails on eq: tables: expected {a = 2}, got {a = 1}$" -- \
  "$recoup" test "$deep/failing"
expect "a spec that does not compile, at any depth" 1 \
  "^$deep/failing/syntax_test.lua:2: unexpected symbol near ','$" -- \
  "$recoup" test "$deep/failing"
expect "unknown command" 2 "unknown command" -- "$recoup" frobnicate
expect "retry of a case not in error" 1 "not in error\|unknown case" -- \
  "$recoup" retry NOPE "$fixtures/basic" --db "$db"
expect "bad --now" 1 "bad time 'yesterday'" -- \
  "$recoup" tick "$fixtures/basic" --db "$db" --now yesterday

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
