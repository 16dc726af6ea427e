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

# Console users. Every message is printable UTF-8 (a hostile name is not
# echoed back), and no password reaches the output or the database.
users="$work/users.db"
rm -f "$users"*
secret="correct horse battery"
printf '%s\n' "$secret" >"$work/pw"
printf 'short\n' >"$work/pw_short"
printf '\377\376 not UTF-8 at all\n' >"$work/pw_bad_utf8"
awk 'BEGIN { s = ""; for (i = 0; i < 1025; i++) s = s "p"; print s }' \
  >"$work/pw_long"
: >"$work/pw_empty"

# clean NAME: the last command's output is printable UTF-8 without the
# password
clean() {
  if ! iconv -f UTF-8 -t UTF-8 "$work/out" "$work/err" >/dev/null 2>&1 ||
    cat "$work/out" "$work/err" | tr -d '\n' | LC_ALL=C grep -q '[[:cntrl:]]' ||
    grep -qF -- "$secret" "$work/out" "$work/err"; then
    echo "FAIL $1: output not printable UTF-8, or holds the password:"
    cat "$work/out" "$work/err"
    fail=$((fail + 1))
  fi
}

# user NAME EXIT_WANTED PATTERN STDIN -- command...
user() {
  name=$1 want=$2 pattern=$3 input=$4
  shift 5
  expect "$name" "$want" "$pattern" -- "$@" <"$input"
  clean "$name"
}

user "user add from a pipe" 0 "user alice added (agent)" "$work/pw" -- \
  "$recoup" user add alice --role agent --queues calls,visits "$fixtures/basic" --db "$users"
user "user list" 0 "alice  *agent  *calls,visits  *enabled" /dev/null -- \
  "$recoup" user list "$fixtures/basic" --db "$users"
user "user list --json" 0 '"name": "alice"' /dev/null -- \
  "$recoup" user list "$fixtures/basic" --db "$users" --json
user "a second add of a name" 1 "recoup: user alice already exists" "$work/pw" -- \
  "$recoup" user add alice --role admin "$fixtures/basic" --db "$users"
user "a taken name is said before a password is asked" 1 "recoup: user alice already exists" \
  "$work/pw_empty" -- "$recoup" user add alice --role admin "$fixtures/basic" --db "$users"
user "a bad role" 1 "recoup: role must be agent, supervisor, read or admin" "$work/pw" -- \
  "$recoup" user add bob --role boss "$fixtures/basic" --db "$users"
user "a name in capitals" 1 "recoup: name must be 1 to 64 characters" "$work/pw" -- \
  "$recoup" user add Bob --role agent "$fixtures/basic" --db "$users"
user "a name with control bytes" 1 "recoup: name must be" "$work/pw" -- \
  "$recoup" user add "$(printf 'b\033[31mob')" --role agent "$fixtures/basic" --db "$users"
user "a name too long" 1 "recoup: name must be" "$work/pw" -- \
  "$recoup" user add "$(awk 'BEGIN { for (i = 0; i < 65; i++) printf "b" }')" \
  --role agent "$fixtures/basic" --db "$users"
user "a bad queue" 1 "recoup: queues must be" "$work/pw" -- \
  "$recoup" user add bob --role agent --queues "calls,,visits" "$fixtures/basic" --db "$users"
user "a short password" 1 "recoup: password must be at least 10 bytes" "$work/pw_short" -- \
  "$recoup" user add bob --role agent "$fixtures/basic" --db "$users"
user "a long password" 1 "recoup: password must be at most 1024 bytes" "$work/pw_long" -- \
  "$recoup" user add bob --role agent "$fixtures/basic" --db "$users"
user "a password not UTF-8" 1 "recoup: password is not valid UTF-8" "$work/pw_bad_utf8" -- \
  "$recoup" user add bob --role agent "$fixtures/basic" --db "$users"
user "no password" 1 "recoup: no password on stdin" "$work/pw_empty" -- \
  "$recoup" user add bob --role agent "$fixtures/basic" --db "$users"
user "no role" 2 "recoup: user add needs --role" "$work/pw" -- \
  "$recoup" user add bob "$fixtures/basic" --db "$users"
user "no name" 2 "recoup: user disable needs a NAME" /dev/null -- \
  "$recoup" user disable
user "an unknown user command" 2 "recoup: unknown user command 'remove'" /dev/null -- \
  "$recoup" user remove alice
user "an unknown option" 2 "recoup: unknown option --password" /dev/null -- \
  "$recoup" user add bob --role agent --password "$secret"
user "user --help" 0 "usage: recoup user add NAME --role" /dev/null -- \
  "$recoup" user --help
user "nothing refused was added" 0 "alice" /dev/null -- \
  "$recoup" user list "$fixtures/basic" --db "$users"
if grep -q "^bob" "$work/out"; then
  echo "FAIL a refused user was added"
  fail=$((fail + 1))
fi
user "user disable" 0 "user alice disabled" /dev/null -- \
  "$recoup" user disable alice "$fixtures/basic" --db "$users"
user "a disabled user listed" 0 "alice  *agent  *calls,visits  *disabled" /dev/null -- \
  "$recoup" user list "$fixtures/basic" --db "$users"
user "disable an unknown user" 1 "recoup: no user nobody" /dev/null -- \
  "$recoup" user disable nobody "$fixtures/basic" --db "$users"
user "user enable" 0 "user alice enabled" /dev/null -- \
  "$recoup" user enable alice "$fixtures/basic" --db "$users"
user "user passwd" 0 "user alice has a new password" "$work/pw" -- \
  "$recoup" user passwd alice "$fixtures/basic" --db "$users"
user "passwd of an unknown user" 1 "recoup: no user nobody" "$work/pw" -- \
  "$recoup" user passwd nobody "$fixtures/basic" --db "$users"
if cat "$users"* | grep -qaF -- "$secret"; then
  echo "FAIL the password is in the database in clear"
  fail=$((fail + 1))
elif ! cat "$users"* | grep -qa 'argon2id'; then
  echo "FAIL no Argon2id hash in the database"
  fail=$((fail + 1))
else
  pass=$((pass + 1))
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
