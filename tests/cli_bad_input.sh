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

# expect_fixed NAME EXIT_WANTED TEXT -- command...: TEXT exactly, in a line
expect_fixed() {
  name=$1 want=$2 text=$3
  shift 4
  "$@" >"$work/out" 2>"$work/err"
  code=$?
  if [ "$code" -ne "$want" ] || ! grep -qF -- "$text" "$work/out" "$work/err"; then
    echo "FAIL $name: exit $code (wanted $want), no line with: $text"
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
expect "check names a bad declared field type" 1 "tasks.call.outcomes.promise.amount: unknown field type 'cash'" -- \
  "$recoup" check "$fixtures/broken"
expect "check names a bad counts_as" 1 "tasks.doorstep.counts_as must be" -- \
  "$recoup" check "$fixtures/broken"
expect "check refuses a kind without outcomes" 1 "tasks.doorstep.outcomes is empty" -- \
  "$recoup" check "$fixtures/broken"
expect "check finds a case:task of an undeclared kind" 1 "bad.lua:5: workflow bad: case:task names kind 'lunch'" -- \
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

# The trial institution's mistakes, each at the line where it is written,
# with the name at fault and the name meant.
trial="$fixtures/trial/broken"
check_trial() { expect_fixed "$1" 1 "$2" -- "$recoup" check "$trial"; }
expect_fixed "the trial institution is clean" 0 \
  "trial: ok (示例消费金融, Asia/Shanghai, 1 workflow)" -- \
  "$recoup" check "$fixtures/trial"
check_trial "a country that is not ISO 3166-1 alpha-2" \
  "trial/broken/recoup.lua:3: institution.country must be an ISO 3166-1 alpha-2 code such as \"CN\" (got 'CHN')"
check_trial "a bad initial at its own line" \
  "trial/broken/workflows/trial.lua:3: workflow trial: initial state 'remind' is not in states (did you mean 'reminder'? states.reminder is at line 5)"
check_trial "a bad target at the line of the name" \
  "trial/broken/workflows/trial.lua:37: workflow trial: transitions.visit names 'vist', which is not a state (did you mean 'visit'? states.visit is at line 24)"
check_trial "a misspelt state key is named" \
  "trial/broken/workflows/trial.lua:21: workflow trial: states.promsie is never entered, but 'promise' is named 2 times (did you mean 'promise'?)"
check_trial "uses of the misspelt state point at the key" \
  "trial/broken/workflows/trial.lua:35: workflow trial: transitions.call names 'promise', which is not a state (did you mean 'promsie'? states.promsie is at line 21)"
check_trial "a transitions key that is not a state" \
  "trial/broken/workflows/trial.lua:36: workflow trial: transitions.promise: 'promise' is not a state (did you mean 'promsie'? states.promsie is at line 21)"
check_trial "a handled event nothing sends" \
  "trial/broken/workflows/trial.lua:22: workflow trial: states.promsie.on.promise_brokn handles an event that recoup does not send and no timer here sets (did you mean 'promise_broken'?)"
check_trial "an unknown placeholder in the template file, with channel and language" \
  "trial/broken/templates.lua:5: template 'due_reminder' (sms, en): unknown placeholder {case.amount_deu} (did you mean {case.amount_due}?)"
check_trial "an unknown formatter" \
  "trial/broken/templates.lua:11: template 'promise_confirm' (sms, en): unknown formatter 'monye' in {vars.amount:monye} (did you mean 'money'?); formatters: money, date"
check_trial "a template for a channel that does not exist" \
  "trial/broken/templates.lua:13: template 'promise_confirm' has a text for channel 'smss', which recoup.lua does not declare (did you mean 'sms'?)"
check_trial "a send on a channel that does not exist" \
  "trial/broken/workflows/trial.lua:7: case:send: no channel 'smss' (did you mean 'sms'?)"
check_trial "a send without the vars its template needs" \
  "trial/broken/workflows/trial.lua:15: template 'promise_confirm' (sms, en) needs {vars.by}, which this case:send does not pass"
check_trial "a send of an unknown template" \
  "trial/broken/workflows/trial.lua:16: case:send names template 'promise_confrim', which templates() does not define (did you mean 'promise_confirm'?)"
check_trial "a literal vars table without a var its template needs" \
  "trial/broken/workflows/trial.lua:26: template 'plan_offer' (sms, en) needs {vars.first_due}, which this case:send does not pass"
check_trial "every problem counted" "15 problems in"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
