#!/bin/sh
# Bad input through the real command: a clear message on stderr naming the
# file (and line), and the exit status the docs give (docs/cli.md: 0 done,
# 1 failed, 2 a wrong command line). Every command's error paths, the
# rehearsal rule (--now, --real-time), and cases in error (errors, retry).
# Run by ctest in the Debug and the sanitizer builds: whatever a command
# prints must be printable UTF-8, and no sanitizer may have spoken.
# usage: cli_bad_input.sh RECOUP FIXTURES WORKDIR
set -u
recoup=$1 fixtures=$2 work=$3
mkdir -p "$work"
pass=0 fail=0

# Whether every file holds printable UTF-8 only: valid UTF-8, no control
# character but newline and tab (C0, DEL, C1), and no invisible or
# bidirectional formatting character (U+202E turns a terminal line
# around): U+00AD, U+061C, U+180E, U+200B-U+200F, U+2028-U+202E,
# U+2060-U+2069, U+FEFF.
invisible="$(printf '\302\255')\\|$(printf '\330\234')\\|$(printf '\341\240\216')"
invisible="$invisible\\|$(printf '\342\200')[$(printf '\213')-$(printf '\217\250')-$(printf '\256')]"
invisible="$invisible\\|$(printf '\342\201')[$(printf '\240')-$(printf '\251')]\\|$(printf '\357\273\277')"
printable() {
  for f in "$@"; do
    iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 || return 1
    if LC_ALL=C tr -d '\n\t' <"$f" | LC_ALL=C grep -q '[[:cntrl:]]'; then
      return 1
    fi
    if LC_ALL=C grep -q "$(printf '\302')[$(printf '\200')-$(printf '\237')]" \
      "$f"; then
      return 1
    fi
    if LC_ALL=C grep -q "$invisible" "$f"; then
      return 1
    fi
  done
  return 0
}

report_failure() {
  echo "FAIL $name: $1; exit $code (wanted $want), output:"
  cat "$work/out" "$work/err"
  fail=$((fail + 1))
}

# Whether the last command's output is clean: printable UTF-8, and no
# sanitizer spoke. Reports and returns 1 when not.
clean_output() {
  if ! printable "$work/out" "$work/err"; then
    report_failure "bytes that are not printable UTF-8"
  elif grep -q 'Sanitizer\|runtime error:' "$work/err"; then
    report_failure "a sanitizer spoke"
  else
    return 0
  fi
  return 1
}

# expect NAME EXIT_WANTED PATTERN -- command...
expect() {
  name=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$work/out" 2>"$work/err"
  code=$?
  if [ "$code" -ne "$want" ] || ! grep -q -- "$pattern" "$work/out" "$work/err"; then
    report_failure "no match for '$pattern'"
  elif clean_output; then
    pass=$((pass + 1))
  fi
}

# also NAME PATTERN: the last command's output holds PATTERN as well.
also() {
  if grep -q -- "$2" "$work/out" "$work/err"; then
    pass=$((pass + 1))
  else
    name=$1 want=$code
    report_failure "no match for '$2'"
  fi
}

# absent NAME PATTERN: the last command's output does not hold PATTERN.
absent() {
  if grep -q -- "$2" "$work/out" "$work/err"; then
    name=$1 want=$code
    report_failure "'$2' is there"
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
    report_failure "no line with: $text"
  elif clean_output; then
    pass=$((pass + 1))
  fi
}

db="$work/cli.db"
rm -f "$db"*
expect "negative balance on line 7" 1 "bad_balance.csv:7: column balance" -- \
  "$recoup" import "$fixtures/bad_balance.csv" "$fixtures/basic" --db "$db"
# A file named with U+202E: the error line shows '?' in its place, not
# the rest of the line reversed on the terminal (expect checks printable).
evil="$work/book$(printf '\342\200\256')vsc.csv"
cp "$fixtures/bad_balance.csv" "$evil"
expect "a file name holding U+202E" 1 "book?vsc.csv:7: column balance" -- \
  "$recoup" import "$evil" "$fixtures/basic" --db "$db"
rm -f "$evil"
for cmd in report errors "retry --all"; do
  expect "$cmd on a book that is not there" 1 \
    "^recoup: $work/typo.db: no such database (nothing was imported into it: check --db, or service.db in recoup.lua)$" -- \
    "$recoup" $cmd "$fixtures/basic" --db "$work/typo.db"
  if [ -e "$work/typo.db" ]; then
    echo "FAIL $cmd on a book that is not there: it made $work/typo.db"
    fail=$((fail + 1))
    rm -f "$work/typo.db"*
  fi
done
# Without --db (service.db of recoup.lua) the scripts load once: they
# loaded twice, once to find the book, once to open it.
mkdir -p "$work/once"
rm -rf "$work/once/var"
cat >"$work/once/recoup.lua" <<'LUA'
print("loaded")
institution { name = "Once", timezone = "UTC", currency = "USD" }
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open", states = { open = {} },
})
LUA
for cmd in report errors "retry --all"; do
  expect "$cmd without --db, on a book that is not there" 1 \
    "^recoup: $work/once/var/recoup.db: no such database (nothing was imported into it: check --db, or service.db in recoup.lua)$" -- \
    "$recoup" $cmd "$work/once"
  [ ! -e "$work/once/var" ] || {
    echo "FAIL $cmd without --db: it made $work/once/var"
    fail=$((fail + 1))
  }
done
"$recoup" tick "$work/once" >/dev/null 2>&1
for cmd in report errors "retry --all"; do
  expect "$cmd without --db" 0 "loaded" -- "$recoup" $cmd "$work/once"
  n=$(grep -c "^loaded$" "$work/out")
  if [ "$n" -ne 1 ]; then
    echo "FAIL $cmd without --db loaded the scripts $n times"
    fail=$((fail + 1))
  fi
done

# The refused import made the book: it takes it away again, lock and all.
for f in "$db" "$db.lock" "$db-wal" "$db-shm"; do
  if [ -e "$f" ]; then
    echo "FAIL a refused first import left $f behind"
    fail=$((fail + 1))
  fi
done
# A book that was there before stays, nothing written into it.
"$recoup" tick "$fixtures/basic" --db "$db" >/dev/null 2>&1
expect "negative balance, into a book already there" 1 "bad_balance.csv:7: column balance" -- \
  "$recoup" import "$fixtures/bad_balance.csv" "$fixtures/basic" --db "$db"
expect "nothing written after a refused file" 0 "total  *0 (0 open" -- \
  "$recoup" report "$fixtures/basic" --db "$db"
# A book named by a symbolic link not yet pointing at a file (a deploy's
# /var/lib/recoup/book.db -> /data/book.db): the first import makes the
# file it points at, as it did before the book knew whether it made it; a
# refused one leaves the link as it was.
rm -f "$work/target.db"* "$work/link.db"*
ln -s "$work/target.db" "$work/link.db"
expect "a refused first import through a link" 1 "bad_balance.csv:7: column balance" -- \
  "$recoup" import "$fixtures/bad_balance.csv" "$fixtures/basic" --db "$work/link.db"
if [ ! -L "$work/link.db" ]; then
  echo "FAIL a refused import through a link took the link away"
  fail=$((fail + 1))
fi
expect "a first import through a link not yet pointing at a file" 0 "imported" -- \
  "$recoup" import "$fixtures/good.csv" "$fixtures/basic" --db "$work/link.db"
if [ ! -f "$work/target.db" ]; then
  echo "FAIL the import through a link made no book where it points"
  fail=$((fail + 1))
fi
rm -f "$work/target.db"* "$work/link.db"*
# The folders a refused first import made on the way to its book go with
# it; one that was there stays, and so does one something else is in.
rm -rf "$work/made"
mkdir -p "$work/made"
expect "a refused first import into folders not there" 1 "bad_balance.csv:7: column balance" -- \
  "$recoup" import "$fixtures/bad_balance.csv" "$fixtures/basic" --db "$work/made/a/b/book.db"
if [ -e "$work/made/a" ] || [ ! -d "$work/made" ]; then
  echo "FAIL a refused first import left its folders: $(find "$work/made")"
  fail=$((fail + 1))
fi
# Only folders it made: through "..", a folder that was there (and empty)
# stays; "x//y" is x and y. A --db naming a folder makes none either.
mkdir -p "$work/made/there"
expect "a refused first import through .." 1 "bad_balance.csv:7: column balance" -- \
  "$recoup" import "$fixtures/bad_balance.csv" "$fixtures/basic" --db "$work/made/new/../there/book.db"
if [ ! -d "$work/made/there" ]; then
  echo "FAIL a refused first import took a folder it did not make: $(find "$work/made")"
  fail=$((fail + 1))
fi
rm -rf "$work/made/new"
expect "a refused first import through x//y" 1 "bad_balance.csv:7: column balance" -- \
  "$recoup" import "$fixtures/bad_balance.csv" "$fixtures/basic" --db "$work/made/there/a//b//book.db"
expect "a --db that is a folder" 1 "cannot open database .*Is a directory" -- \
  "$recoup" import "$fixtures/good.csv" "$fixtures/basic" --db "$work/made/there/c/"
if [ "$(find "$work/made")" != "$work/made
$work/made/there" ]; then
  echo "FAIL a refused first import left its folders: $(find "$work/made")"
  fail=$((fail + 1))
fi
rm -rf "$work/made/there"
# A --now that is no time is refused before the book is made.
expect "a first import with a --now that is no time" 1 "^recoup: --now: bad time 'garbage'" -- \
  "$recoup" import "$fixtures/good.csv" "$fixtures/basic" --db "$work/made/a/book.db" --now garbage
expect "a first tick with one" 1 "^recoup: --now: bad time 'garbage'" -- \
  "$recoup" tick "$fixtures/basic" --db "$work/made/book.db" --now garbage
if [ -n "$(ls -A "$work/made")" ]; then
  echo "FAIL a --now that is no time left: $(find "$work/made")"
  fail=$((fail + 1))
fi
rm -rf "$work/made"
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
expect "check names a case method mistyped" 1 "bad.lua:6: case:afterr is not a method of a case (did you mean case:after?)" -- \
  "$recoup" check "$fixtures/broken"
expect "check counts the problems" 1 "problems in" -- \
  "$recoup" check "$fixtures/broken"
expect "failing specs: file:line and a count" 1 "failing_test.lua:3: fails on eq: tables: expected" -- \
  "$recoup" test "$fixtures/failing"
expect "a bad duration in a handler" 1 "bad duration '3x'" -- \
  "$recoup" test "$fixtures/failing"
expect "a failed handler behind a failing check names its case and error" 1 \
  "failing_test.lua:12: a handler failed before the check: timers: expected 1, got 0; case Y is in error: its go event failed: .*bad duration '3x'" -- \
  "$recoup" test "$fixtures/failing"
expect "the closing line" 1 "^1 passed, 3 failed$" -- \
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
# A borrower's name with a bidi override (U+202E turns the rest of the
# terminal's line around) or an escape, in a test's name and quoted by its
# failure: '?' as on every CLI line (on 08d9c56 both went out raw).
rm -rf "$work/bidi" && cp -R "$fixtures/failing" "$work/bidi"
rm "$work/bidi/failing_test.lua"
printf '%s\n' 'test("names\u{202E}cba", function(rt)' \
  '  eq("A\u{202E}lice\u{2066}\27[31m", "x")' 'end)' \
  >"$work/bidi/bidi_test.lua"
expect "a bidi override in a spec's failure is shown, not obeyed" 1 \
  'bidi_test.lua:2: names?cba: expected "x", got "A?lice??\[31m"$' -- \
  "$recoup" test "$work/bidi"
# The directory's path and the institution's name on check's "ok" line
# and report's first: an escape or a bidi override is '?' there too (on
# 08d9c56 "\033[2J" in the name cleared the terminal).
odd_dir="$work/$(printf 'in\033[31mst\342\200\256')"
rm -rf "$odd_dir" && cp -R "$fixtures/basic" "$odd_dir"
sed 's/name = "Test Lender"/name = "Test\\u{202E}Lender\\27[2J"/' \
  "$fixtures/basic/recoup.lua" >"$odd_dir/recoup.lua"
# Since checks generation 4 such a name is refused, the path in the
# refusal shown, not obeyed; a book of generation 3 still starts with it
# (a warning), and report's first line shows it, not obeys it.
expect "check refuses a bidi override in the name, its path shown, not obeyed" 1 \
  'in?\[31mst?/recoup.lua:3: institution.name holds an invisible, joining or bidirectional formatting character (U+202E) at character 5' -- \
  "$recoup" check "$odd_dir"
clean_dir="$work/$(printf 'ok\033[31mst\342\200\256')"
rm -rf "$clean_dir" && cp -R "$fixtures/basic" "$clean_dir"
expect "check's ok line shows the path, not obeys it" 0 \
  'ok?\[31mst?: ok (Test Lender, Asia/Shanghai' -- "$recoup" check "$clean_dir"
sqlite3 "$db" ".backup '$work/odd.db'"
sqlite3 "$work/odd.db" "UPDATE meta SET value = '3' WHERE key = 'checks.generation'"
expect "report's first line shows the name, not obeys it" 0 \
  '^Test?Lender?\[2J ' -- "$recoup" report "$odd_dir" --db "$work/odd.db"
also "report warns of the name on a book of generation 3" \
  "warning: institution.name holds an invisible"
expect "unknown command" 2 "unknown command" -- "$recoup" frobnicate
expect "retry of a case not in error" 1 "not in error\|unknown case" -- \
  "$recoup" retry NOPE "$fixtures/basic" --db "$db"
expect "bad --now" 1 "bad time 'yesterday'" -- \
  "$recoup" tick "$fixtures/basic" --db "$db" --now yesterday

# --- errors name what they are about, and nothing else -------------------
# (a message once began with the stack's garbage as its file and line)
basic=$fixtures/basic
expect "a missing import file" 1 "^recoup: cannot open $work/nonexist.csv: No such file or directory$" -- \
  "$recoup" import "$work/nonexist.csv" "$basic" --db "$db"
also "a missing import file refuses the import" "nonexist.csv refused: nothing was imported"
mkdir -p "$work/folder.csv"
expect "a folder given as the import file" 1 "^recoup: cannot open $work/folder.csv: Is a directory$" -- \
  "$recoup" import "$work/folder.csv" "$basic" --db "$db"
for cmd in tick report; do
  expect "$cmd: a bad --now" 1 "^recoup: --now: bad time 'tomorrow' (expected" -- \
    "$recoup" $cmd "$basic" --db "$db" --now tomorrow
done
expect "import: a bad --now" 1 "^recoup: --now: bad time 'noon'" -- \
  "$recoup" import "$fixtures/good.csv" "$basic" --db "$db" --now noon
expect "retry: an unknown case" 1 "^recoup: unknown case NOPE$" -- \
  "$recoup" retry NOPE "$basic" --db "$db"
expect "a control character in an argument is not echoed" 1 "bad time '?\[31m'" -- \
  "$recoup" tick "$basic" --db "$db" --now "$(printf '\033[31m')"
expect "bytes that are not UTF-8 are not echoed" 2 "unknown command '?'" -- \
  "$recoup" "$(printf '\377')"

nowhere="$work/nowhere"
for cmd in check tick report errors repl; do
  expect "$cmd: a DIR that is not there" 1 "^recoup: $nowhere/recoup.lua: cannot read" -- \
    "$recoup" $cmd "$nowhere"
done
expect "serve: a DIR that is not there" 1 "^recoup: $nowhere/recoup.lua: cannot read" -- \
  timeout 20 "$recoup" serve "$nowhere" --listen 127.0.0.1:0
expect "import: a DIR that is not there" 1 "^recoup: $nowhere/recoup.lua: cannot read" -- \
  "$recoup" import "$fixtures/good.csv" "$nowhere"
expect "retry: a DIR that is not there" 1 "^recoup: $nowhere/recoup.lua: cannot read" -- \
  "$recoup" retry L1 "$nowhere"
expect "retry --all: a DIR that is not there" 1 "^recoup: $nowhere/recoup.lua: cannot read" -- \
  "$recoup" retry --all "$nowhere"
# Run from another folder with no DIR (the usual slip): the message says
# what DIR is, not only that ./recoup.lua cannot be read.
mkdir -p "$work/elsewhere"
for cmd in errors "retry --all" report; do
  expect "$cmd from a folder without recoup.lua says what DIR is" 1 \
    "^recoup: ./recoup.lua: cannot read ./recoup.lua: there is no such file; DIR, after the command, is the institution's directory, the one holding recoup.lua" -- \
    sh -c "cd '$work/elsewhere' && exec '$recoup' $cmd --db '$db'"
done
expect "test: a path that is not there" 1 "^recoup: $nowhere: no such file or directory" -- \
  "$recoup" test "$nowhere"
expect "a database where none can be made" 1 "^recoup: " -- \
  "$recoup" tick "$basic" --db /proc/nowhere/x.db
expect "a database that is a directory" 1 "^recoup: cannot open database $work/: Is a directory" -- \
  "$recoup" report "$basic" --db "$work/"
expect "repl: a database to copy that is not there" 1 "^recoup: cannot open $work/none.db" -- \
  "$recoup" repl "$basic" --db "$work/none.db"
expect "serve: a --listen that is not HOST:PORT" 1 "^recoup: listen 'nonsense' is not HOST:PORT" -- \
  timeout 20 "$recoup" serve "$basic" --db "$db" --listen nonsense

# --- a wrong command line is 2, with how to call the command ---------------
expect "no command" 2 "^recoup: no command given" -- "$recoup"
expect "an unknown option" 2 "^recoup: unknown option --frobnicate" -- \
  "$recoup" tick "$basic" --frobnicate
also "an unknown option shows the command's usage" "^usage: recoup tick \[DIR\]"
expect "a value missing" 2 "^recoup: --now needs a value" -- \
  "$recoup" tick "$basic" --now
expect "--db without a value" 2 "^recoup: --db needs a value" -- \
  "$recoup" report "$basic" --db
expect "an option given twice" 2 "^recoup: --db given twice" -- \
  "$recoup" report "$basic" --db "$db" --db "$db"
expect "--deliver with --no-deliver" 2 "give --deliver or --no-deliver, not both" -- \
  "$recoup" tick "$basic" --db "$db" --deliver --no-deliver
expect "--now with --real-time" 2 "give --now or --real-time, not both" -- \
  "$recoup" tick "$basic" --db "$db" --now 1d --real-time
expect "import without a FILE" 2 "^recoup: import needs a FILE" -- "$recoup" import
expect "retry without a CASE" 2 "^recoup: retry needs a CASE, or --all" -- "$recoup" retry
expect "retry --all with a CASE" 2 "retry --all takes no CASE" -- \
  "$recoup" retry --all L1 "$basic"
expect "test --db with a file" 2 "recoup test takes a postgresql:// URL" -- \
  "$recoup" test "$basic" --db "$work/book.db"
for args in "check --json" "test --now 1d" "repl --now 1d" "serve --now 1d" \
  "report --deliver" "errors --now 1d" "retry L1 --json" "tick --json" \
  "import f --json" "version --db x" "check --all"; do
  # shellcheck disable=SC2086
  expect "$args: an option the command does not take" 2 "does not take --" -- \
    "$recoup" $args
done
for args in "check a b" "tick a b" "report a b" "errors a b" "serve a b" \
  "repl a b" "import f a b" "version x" "help x"; do
  # shellcheck disable=SC2086
  expect "$args: too many arguments" 2 "takes .*; got" -- "$recoup" $args
done

# --- the usage text is whole, and help is not an error -------------------
for want in "tick .*--deliver|--no-deliver" "report .*--now TIME" "test .*-v" \
  "errors  *\[DIR\] \[--db FILE\] \[--all\] \[--json\]" "retry --all" "--real-time" \
  "exit status: 0 done; 1 failed"; do
  expect "the usage names $want" 0 "$want" -- "$recoup" help
done
expect "--help" 0 "^usage: recoup COMMAND" -- "$recoup" --help
expect "a command's --help" 0 "^usage: recoup retry CASE" -- "$recoup" retry --help
expect "version" 0 "^recoup [0-9]" -- "$recoup" version
# Whether the binary is the profile-guided one `make release` installs:
# on d8b7683 it said "recoup 0.1.0" either way.
expect "version says whether it is profile-guided" 0 \
  "^recoup [0-9][^ ]* (\(.*, \)\?\(not \)\?profile-guided)$" -- "$recoup" version

# --- a rehearsal never reaches real borrowers by a slip --------------------
# An institution whose SMS go to a file, and whose escalation fails for
# the cases marked `fail` (a script bug to be fixed, then retried).
inst="$work/inst"
rm -rf "$inst"
mkdir -p "$inst/workflows"
cat >"$inst/recoup.lua" <<'EOF'
institution { name = "Rehearsal Lender", timezone = "Asia/Shanghai",
              locale = "en", currency = "CNY", contact_phone = "400-1" }
channel "sms" { driver = "file", path = "sms.jsonl" }
service { instruction_budget = 100000, memory_limit = "8MB" }
templates { hello = { sms = "Hello {borrower.name}" } }
workflow(require "workflows.w")
EOF
cat >"$inst/workflows/w.lua" <<'EOF'
return recoup.workflow {
  name = "w", version = 1, initial = "new",
  states = {
    new = {
      enter = function(case)
        if case.data.fail == "open" then error("cannot open " .. case.id) end
        case:send("sms", "hello")
        case:after("1d", "escalate")
      end,
      on = { escalate = function(case)
        if case.data.fail == "escalate" then error("no call queue for " .. case.id) end
        return "call"
      end },
    },
    call = { enter = function(case) case:send("sms", "hello") end },
  },
  transitions = { new = { "call" } },
}
EOF
# A lender that moved the example to its own locale (zh-TW) but kept its
# zh-CN and en texts: every borrower without a text of their own would be
# sent English. check names each such text.
moved="$work/moved"
rm -rf "$moved" && mkdir -p "$moved" && cp -R "$inst/workflows" "$moved/"
sed -e 's/locale = "en"/locale = "zh-TW"/' \
  -e 's/templates { hello = { sms = "Hello {borrower.name}" } }/templates { hello = { sms = { ["zh-CN"] = "您好{borrower.name}", en = "Hello {borrower.name}" } } }/' \
  "$inst/recoup.lua" >"$moved/recoup.lua"
expect "check names a text missing in the institution's locale" 1 \
  "recoup.lua:5: template 'hello'.sms has no text in the institution's locale 'zh-TW' (nor 'zh'), only en, zh-CN: its borrowers would get the English one" -- \
  "$recoup" check "$moved"
sed -i -e 's/\["zh-CN"\]/["zh-TW"]/' "$moved/recoup.lua"
expect "a text in the institution's locale is enough" 0 "ok" -- \
  "$recoup" check "$moved"
# A British lender whose institution says en (or en-US) and whose texts
# are all en-GB: every borrower gets English, the language it chose.
sed -i -e 's/locale = "zh-TW"/locale = "en"/' \
  -e 's/{ \["zh-TW"\] = "您好{borrower.name}", en = /{ ["en-GB"] = /' \
  "$moved/recoup.lua"
expect "texts all of the institution's language are enough" 0 "ok" -- \
  "$recoup" check "$moved"
sed -i -e 's/locale = "en"/locale = "en-US"/' "$moved/recoup.lua"
expect "en-GB texts for an en-US institution are enough" 0 "ok" -- \
  "$recoup" check "$moved"
sed -i -e 's/{ \["en-GB"\] = /{ fr = "Bonjour", ["en-GB"] = /' "$moved/recoup.lua"
expect "a text of another language among them is named" 1 \
  "template 'hello'.sms has no text in the institution's locale 'en-US' (nor 'en'), only en-GB, fr" -- \
  "$recoup" check "$moved"

cat >"$work/book.csv" <<'EOF'
id,borrower_id,borrower_name,phone,balance,amount_due,due_date,fail
L1,B1,Wang,+8613800000001,1000,500,2021-01-01,
L2,B2,Li,+8613800000002,1000,500,2021-01-01,escalate
L3,B3,Zhao,+8613800000003,1000,500,2021-01-01,escalate
EOF
sim="$work/sim.db"
sms="$inst/sms.jsonl"
rm -f "$sim"* "$sms"
nothing_sent() { [ ! -s "$sms" ] && echo "nothing sent"; }

expect "a rehearsal imports" 0 "3 opened" -- \
  "$recoup" import "$work/book.csv" "$inst" --db "$sim" --now 2021-01-05T09:00
expect "a rehearsal's tick fails when handlers fail" 1 \
  "^recoup: 2 handlers failed: \`recoup errors $inst --db $sim\` lists the cases" -- \
  "$recoup" tick "$inst" --db "$sim" --now 2021-01-07
also "and counts them" "2 handler errors"
expect "a rehearsal delivered nothing" 0 "^nothing sent$" -- nothing_sent
expect "a tick without --now is refused" 1 "sim.db: this database has run on a simulated clock" -- \
  "$recoup" tick "$inst" --db "$sim"
also "the refusal says how" "give --real-time to put this database on the real clock"
expect "so is an import without --now" 1 "has run on a simulated clock" -- \
  "$recoup" import "$work/book.csv" "$inst" --db "$sim"
expect "so is the service" 1 "has run on a simulated clock" -- \
  timeout 20 "$recoup" serve "$inst" --db "$sim" --listen 127.0.0.1:0
also "and says how" "start the service with --real-time"
expect "the refusals delivered nothing" 0 "^nothing sent$" -- nothing_sent
expect "a --now earlier than the database's clock is refused" 1 \
  "^recoup: $sim: --now: 2021-01-06T00:00:00+08:00 is earlier than this database's simulated clock (2021-01-07T00:00:00+08:00)" -- \
  "$recoup" tick "$inst" --db "$sim" --now 2021-01-06
expect "by import too" 1 "is earlier than this database's simulated clock" -- \
  "$recoup" import "$work/book.csv" "$inst" --db "$sim" --now 2021-01-06
expect "and by report" 1 "is earlier than this database's simulated clock" -- \
  "$recoup" report "$inst" --db "$sim" --now 2021-01-01
expect "the report stays at the rehearsal's date" 0 "report as of 2021-01-07" -- \
  "$recoup" report "$inst" --db "$sim"
expect "a --now duration counts from the rehearsal's clock" 0 "report as of 2021-01-08" -- \
  "$recoup" report "$inst" --db "$sim" --now 1d

# --- cases in error: listed, retried, exit codes -------------------------
# An error that names its own case ("no call queue for L3", "... L2") is
# one error told of each case: one line, the newest's text (it was a line
# a case, 200 for 200 cases failed by one script line).
expect "errors groups the cases by error, each case's id read as one" 0 \
  "^2  *escalate  *L3  *2021-01-06T09:00:00+08:00  *L2  *2021-01-06T09:00:00+08:00  *.*w.lua:11: no call queue for L3$" -- \
  "$recoup" errors "$inst" --db "$sim"
also "under a header" "^cases  *event  *newest  *since  *oldest  *since  *error$"
also "and a count, with the command as run here" "^2 cases in error, 1 error; \`recoup errors --all $inst --db $sim\` lists each case$"
expect "errors --all lists the cases in error, newest first" 0 \
  "^L3  *new  *escalate  *2021-01-06T09:00:00+08:00  *.*w.lua:11: no call queue for L3$" -- \
  "$recoup" errors "$inst" --db "$sim" --all
also "with a header" "^case  *state  *event  *since  *error$"
also "L2 too" "^L2  *new  *escalate"
if [ "$(grep -n '^L[23]' "$work/out" | cut -c1-4 | tr '\n' ' ')" != "2:L3 3:L2 " ]; then
  code=0 want=0 name="errors: the newest failure first"
  report_failure "out of order"
fi
absent "a case not in error is not listed" "^L1"
expect "errors --json" 0 '"case":"L2","state":"new","event":"escalate","error":".*no call queue for L2","since":"2021-01-06T09:00:00+08:00"' -- \
  "$recoup" errors "$inst" --db "$sim" --json
expect "a retry that fails again exits 1" 1 "^recoup: case L2 failed again: .*no call queue for L2" -- \
  "$recoup" retry L2 "$inst" --db "$sim"
also "and says where to look" "^recoup: \`recoup errors $inst --db $sim\` lists the cases in error"
expect "retry of several cases" 1 "case L3 failed again" -- \
  "$recoup" retry L2 L3 "$inst" --db "$sim"
also "each of them" "case L2 failed again"
expect "retry of a case not in error" 1 "^recoup: case L1 is not in error$" -- \
  "$recoup" retry L1 "$inst" --db "$sim"
expect "retry --all that fails again" 1 "^retried 2 cases: 0 moved on, 2 failed again$" -- \
  "$recoup" retry --all "$inst" --db "$sim"
sed -i 's/if case.data.fail == "escalate" then/if false then/' "$inst/workflows/w.lua"
expect "retry after a fix" 0 "^case L2 retried: now in call$" -- \
  "$recoup" retry L2 "$inst" --db "$sim"
expect "a wrong case among several fails the command" 1 "^recoup: unknown case NOPE$" -- \
  "$recoup" retry L3 NOPE "$inst" --db "$sim"
expect "and the right one was retried all the same" 0 "^no cases in error$" -- \
  "$recoup" errors "$inst" --db "$sim"
expect "retry --all with none in error" 0 "^no cases in error$" -- \
  "$recoup" retry --all "$inst" --db "$sim"
printf 'id,borrower_id,borrower_name,balance,amount_due,due_date,fail\nL9,B9,Qian,10,10,2021-01-01,open\n' \
  >"$work/fails.csv"
expect "an import whose handlers fail exits 1" 1 "^recoup: 1 handler failed: \`recoup errors" -- \
  "$recoup" import "$work/fails.csv" "$inst" --db "$sim" --now 2021-01-10
sed -i 's/if case.data.fail == "open" then/if false then/' "$inst/workflows/w.lua"
expect "retry --all after a fix" 0 "^retried 1 case: 1 moved on, 0 failed again$" -- \
  "$recoup" retry --all "$inst" --db "$sim"
# A script's error with a tab (a case keeps its error's first line): '?'
# in the table and in the retry's line, as every other CLI line shows it
# (rc_printable), not a space that hides it.
sed -i 's/if false then error("cannot open " .. case.id) end/if case.data.fail == "tab" then error("cannot\\topen\\n" .. case.id, 0) end/' \
  "$inst/workflows/w.lua"
printf 'id,borrower_id,borrower_name,balance,amount_due,due_date,fail\nL10,B10,Sun,10,10,2021-01-01,tab\nL11,B11,Zhou,10,10,2021-01-01,tab\n' \
  >"$work/tab.csv"
expect "an import whose handler fails with a tab" 1 "^recoup: 2 handlers failed" -- \
  "$recoup" import "$work/tab.csv" "$inst" --db "$sim" --now 2021-01-11
expect "errors shows the tab as ?" 0 "^L10  *new  *opened  .*  cannot?open$" -- \
  "$recoup" errors "$inst" --db "$sim" --all
# Two cases failed by the same error are one line: how many, the newest
# and the oldest (200 rows of one error read as 200 rows).
expect "errors groups the same error" 0 \
  "^2  *opened  *L1[01]  *2021-01-11T00:00:00+08:00  *L1[01]  *2021-01-11T00:00:00+08:00  *cannot?open$" -- \
  "$recoup" errors "$inst" --db "$sim"
also "and counts" "^2 cases in error, 1 error; "
expect "so does retry" 1 "^recoup: case L10 failed again: cannot?open$" -- \
  "$recoup" retry L10 "$inst" --db "$sim"
sed -i 's/if case.data.fail == "tab" then/if false then/' "$inst/workflows/w.lua"
expect "retry after that fix" 0 "^case L10 retried" -- \
  "$recoup" retry L10 L11 "$inst" --db "$sim"

# --- onto the real clock, by asking ---------------------------------------
expect "--real-time puts a rehearsal on the real clock" 0 "on the real clock from now on" -- \
  "$recoup" tick "$inst" --db "$sim" --real-time
expect "and then it delivers" 0 "Hello Wang" -- cat "$sms"
expect "for good: the next tick needs no flag" 0 "^tick: " -- \
  "$recoup" tick "$inst" --db "$sim"
ahead="$work/ahead.db"
rm -f "$ahead"*
expect "a rehearsal of the future" 0 "3 opened" -- \
  "$recoup" import "$work/book.csv" "$inst" --db "$ahead" --now 2999-01-05
expect "cannot go onto the real clock before its time" 1 "is ahead of the real clock" -- \
  "$recoup" tick "$inst" --db "$ahead" --real-time
expect "nor can the service" 1 "is ahead of the real clock" -- \
  timeout 20 "$recoup" serve "$inst" --db "$ahead" --real-time --listen 127.0.0.1:0
served="$work/served.db"
rm -f "$served"*
"$recoup" import "$work/book.csv" "$inst" --db "$served" --now 2021-01-05 >/dev/null
expect "the service starts on a rehearsal with --real-time" 124 "^listening on http://127.0.0.1:" -- \
  timeout 5 "$recoup" serve "$inst" --db "$served" --real-time --listen 127.0.0.1:0

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

# An installed binary whose build tree is gone (or in a home systemd's
# ProtectHome hides) cannot read recoup's own scripts/: the example's
# require "standard" says so and what to do. On 0a67ea0: "not found".
expect_fixed "recoup's own scripts out of reach are named so" 1 \
  "require: module 'standard' not found in $fixtures/../../examples/microfinance or $work/no-scripts (recoup's own scripts, the build's scripts/ folder unless RECOUP_SCRIPTS names another, cannot be read here: No such file or directory): copy standard.lua from recoup's scripts/ into" -- \
  env RECOUP_SCRIPTS="$work/no-scripts" "$recoup" check "$fixtures/../../examples/microfinance"

# A sheet's total row (合计 under the loans, as WPS and Excel keep it) is
# refused saying so: on 0a67ea0 only "borrower_id is required" on the
# last line, or "id is required" for a label in another column.
{ head -3 "$fixtures/good.csv"
  printf '合计,,,,,800000,,,,,,\n,,合　计：,,,800000,,,,,,\n,,王合计,,,100,,,,,,\n'
} >"$work/total.csv"
rm -f "$work/total.db"*
expect_fixed "a total row is named as one" 1 \
  "total.csv:4: column borrower_id: borrower_id is required (this row reads as the sheet's total row, '合计': delete it before saving)" -- \
  "$recoup" import "$work/total.csv" "$fixtures/basic" --db "$work/total.db"
also "its label in another column, blanks and a colon about it" \
  "total.csv:5: column id: id is required (this row reads as the sheet's total row, '合　计：': delete it before saving)"
also "a name holding the word is a name" "total.csv:6: column id: id is required$"

# `tick --now` on the institution's own book, live on the real clock
# with cases, is refused, nothing done: on 0a67ea0 it fired every timer
# up to TIME and left the live book a rehearsal that serve and the
# nightly tick refuse. A copy given with --db rehearses.
live="$work/live"
rm -rf "$live" && mkdir -p "$live" && cp -r "$fixtures/basic/recoup.lua" "$fixtures/basic/workflows" "$live/"
"$recoup" import "$fixtures/good.csv" "$live" --no-deliver >/dev/null 2>&1
expect_fixed "tick --now on the live book is refused" 1 \
  "the institution's book (service.db) runs on the real clock and holds cases: --now 2099-01-01 would make it a rehearsal for good" -- \
  "$recoup" tick "$live" --now 2099-01-01
also "and says how to rehearse" "rehearse on a copy: recoup backup var/rehearsal.db"
expect_fixed "so is import --now into it, named by --db" 1 \
  "--now 2099-01-01 would make it a rehearsal for good" -- \
  "$recoup" import "$fixtures/good.csv" "$live" --db "$live/var/../var/recoup.db" --now 2099-01-01
expect "the live book is still on the real clock" 0 "^tick: " -- \
  "$recoup" tick "$live" --no-deliver
absent "and not a rehearsal" "simulated clock"
rm -f "$work/live-copy.db" && "$recoup" backup "$work/live-copy.db" "$live" >/dev/null
expect "a copy named by --db rehearses" 0 "^tick: " -- \
  "$recoup" tick "$live" --db "$work/live-copy.db" --now 2099-01-01

# A Chinese input method's full-width comma outside a string, in a
# workflow or a spec: named as the character, with the one to write. On
# 0a67ea0 the message said "near '<\239>'", its first byte.
fw="$work/fullwidth"
rm -rf "$fw" && mkdir -p "$fw/tests" && cp -r "$fixtures/basic/recoup.lua" "$fixtures/basic/workflows" "$fw/"
sed -i "s/initial = \"new\",/initial = \"new\"$(printf '\357\274\214')/" "$fw/workflows/basic.lua"
expect_fixed "a full-width comma in a workflow is named" 1 \
  "basic.lua:2: '}' expected (to close '{' at line 1) near '$(printf '\357\274\214')' (U+FF0C, as a Chinese input method types it: write ',')" -- \
  "$recoup" check "$fw"
absent "the byte is not all it says" '<\\239>'
cp -r "$fixtures/basic/workflows" "$fw/"
printf 'test("x", function(rt)\n  eq(1, 1%s\nend)\n' "$(printf '\357\274\211')" >"$fw/tests/fw_test.lua"
expect_fixed "a full-width bracket in a spec is named" 1 \
  "near '$(printf '\357\274\211')' (U+FF09, as a Chinese input method types it: write ')')" -- \
  "$recoup" test "$fw"

# Console users. Every message is printable UTF-8 (a hostile name is not
# echoed back: expect checks), and no password reaches the output or the
# database.
users="$work/users.db"
rm -f "$users"*
secret="correct horse battery"
printf '%s\n' "$secret" >"$work/pw"
printf 'short\n' >"$work/pw_short"
printf '\377\376 not UTF-8 at all\n' >"$work/pw_bad_utf8"
awk 'BEGIN { s = ""; for (i = 0; i < 1025; i++) s = s "p"; print s }' \
  >"$work/pw_long"
: >"$work/pw_empty"

# no_secret NAME: the last command's output does not hold the password
# (expect checks that it is printable UTF-8)
no_secret() {
  if grep -qF -- "$secret" "$work/out" "$work/err"; then
    echo "FAIL $1: the output holds the password:"
    cat "$work/out" "$work/err"
    fail=$((fail + 1))
  fi
}

# user NAME EXIT_WANTED PATTERN STDIN -- command...
user() {
  name=$1 want=$2 pattern=$3 input=$4
  shift 5
  expect "$name" "$want" "$pattern" -- "$@" <"$input"
  no_secret "$name"
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
user "a display name that reads as another's login, before a password is asked" 1 \
  "recoup: display_name 'Alice' reads as the login of user alice" "$work/pw_empty" -- \
  "$recoup" user add carol --role agent --display-name Alice "$fixtures/basic" --db "$users"
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

# An agent's queues, at add and after (user set --queues), against the
# queues the loaded workflows fill (trial's case:task calls: phone, field):
# a slip is warned of with the queue meant, a text that is no queue name
# refused naming the queue and the character.
qdb="$work/queues.db"
rm -f "$qdb" "$qdb"-*
user "a queue no workflow fills is warned of" 0 \
  "warning: queues: no loaded workflow gives tasks to queue feild (did you mean field?)" \
  "$work/pw" -- "$recoup" user add dora --role agent --queues phone,feild \
  "$fixtures/trial" --db "$qdb"
also "the warning names the queues there are" "the queues are field, phone"
also "the warning gives the command that puts it right" \
  "give them with: recoup user set dora --queues phone,field $fixtures/trial --db $qdb"
also "the warned user is added" "user dora added (agent)"
user "user set --queues changes them" 0 "user dora works queues field" /dev/null -- \
  "$recoup" user set dora --queues field "$fixtures/trial" --db "$qdb"
absent "a queue a workflow fills is not warned of" "warning"
user "user list shows the new queues" 0 "dora  *agent  *field  *enabled" /dev/null -- \
  "$recoup" user list "$fixtures/trial" --db "$qdb"
user "user set --queues \"\" leaves none" 0 "user dora works no queue" /dev/null -- \
  "$recoup" user set dora --queues "" "$fixtures/trial" --db "$qdb"
user "a queue with a bidi character is refused by its code point" 1 \
  "recoup: queues must be .*: queue 2 has U+202E at character 3" /dev/null -- \
  "$recoup" user set dora --queues "field,ph$(printf '\342\200\256')one" \
  "$fixtures/trial" --db "$qdb"
user "a queue in capitals is refused naming the letter" 1 \
  "queue 1 has 'F' at character 1" /dev/null -- \
  "$recoup" user set dora --queues Field "$fixtures/trial" --db "$qdb"
user "a queue in Chinese is refused showing its character" 1 \
  "queue 1 has '电' (U+7535) at character 1" /dev/null -- \
  "$recoup" user set dora --queues 电话 "$fixtures/trial" --db "$qdb"
user "a login in capitals is offered in lowercase" 1 \
  "name must be .*(lowercase): did you mean zhang.min?" /dev/null -- \
  "$recoup" user set Zhang.Min --queues phone "$fixtures/trial" --db "$qdb"
# One guess for a name out of the rule, a login's or a queue's (the same
# as recoup check's for a workflow's queue): capitals lowered, spaces as
# '_'. On 4921bb4 "Zhang Min" was offered nothing, a queue nothing either.
user "a login with a space is offered joined" 1 \
  "name must be .*(lowercase): did you mean zhang_min?" "$work/pw" -- \
  "$recoup" user add "Zhang Min" --role agent "$fixtures/trial" --db "$qdb"
# A login typed as the name people read (李雷): the login in a-z, offered
# as its pinyin, and the name as --display-name. On 0a67ea0 it said only
# "name must be 1 to 64 characters of a-z 0-9 . _ - (lowercase)".
user "a login in Chinese is offered as pinyin with the name to display" 1 \
  "recoup: name 李雷 is how people read the user: the login is in a-z 0-9 . _ - and the name goes to --display-name 李雷 (did you mean recoup user add li.lei --display-name 李雷?)" "$work/pw" -- \
  "$recoup" user add 李雷 --role agent "$fixtures/trial" --db "$qdb"
user "a queue with capitals and a space is offered as a queue's name" 1 \
  "queue 2 has 'C' at character 1 (did you mean call_back?)" /dev/null -- \
  "$recoup" user set dora --queues "phone,Call Back" "$fixtures/trial" --db "$qdb"
user "a queue with a space alone says so" 1 \
  "queue 1 has a space at character 5 (did you mean call_back?)" /dev/null -- \
  "$recoup" user set dora --queues "call back" "$fixtures/trial" --db "$qdb"
# Spaces at the ends are a list's or a paste's: dropped from the guess,
# not joined (on 72d03b3 "did you mean _visits?", a queue no workflow
# fills, and "did you mean ___?" for spaces alone, and call__back).
user "a space after a list's comma is offered dropped" 1 \
  "queue 2 has a space at character 1 (did you mean visits?)" /dev/null -- \
  "$recoup" user set dora --queues "phone, visits" "$fixtures/trial" --db "$qdb"
user "a queue of spaces alone is offered nothing" 1 \
  "queue 1 has a space at character 1$" /dev/null -- \
  "$recoup" user set dora --queues "   " "$fixtures/trial" --db "$qdb"
user "words apart by two spaces are offered joined once" 1 \
  "(did you mean call_back?)" /dev/null -- \
  "$recoup" user set dora --queues "Call  Back" "$fixtures/trial" --db "$qdb"
user "a login with spaces about it is offered without them" 1 \
  "name must be .*(lowercase): did you mean zhang?" "$work/pw" -- \
  "$recoup" user add " Zhang " --role agent "$fixtures/trial" --db "$qdb"
# A name nobody has is said with the users it most likely meant, by every
# subcommand that takes one (on 4921bb4 only "no user zhang"): a login
# with it as a part (people call a colleague by the family name), a slip
# of the keyboard; passwd says so before a password is read.
user "zhang.min added" 0 "user zhang.min added (agent)" "$work/pw" -- \
  "$recoup" user add zhang.min --role agent --queues phone "$fixtures/trial" --db "$qdb"
user "disable by the family name offers the login" 1 \
  "recoup: no user zhang (did you mean zhang.min?)" /dev/null -- \
  "$recoup" user disable zhang "$fixtures/trial" --db "$qdb"
user "enable with a slip offers the login" 1 \
  "recoup: no user zhagn.min (did you mean zhang.min?)" /dev/null -- \
  "$recoup" user enable zhagn.min "$fixtures/trial" --db "$qdb"
user "passwd by the given name offers the login first" 1 \
  "recoup: no user min (did you mean zhang.min?)" "$work/pw" -- \
  "$recoup" user passwd min "$fixtures/trial" --db "$qdb"
user "set by the family name offers the login" 1 \
  "recoup: no user zhang (did you mean zhang.min?)" /dev/null -- \
  "$recoup" user set zhang --queues phone "$fixtures/trial" --db "$qdb"
user "zhang.min shown as 张敏" 0 "user zhang.min is shown as 张敏" /dev/null -- \
  "$recoup" user set zhang.min --display-name 张敏 "$fixtures/trial" --db "$qdb"
user "disable by the display name offers the login" 1 \
  "recoup: no user 张敏: that is how user zhang.min is shown (did you mean zhang.min?)" /dev/null -- \
  "$recoup" user disable 张敏 "$fixtures/trial" --db "$qdb"
user "zhang.wei added" 0 "user zhang.wei added (agent)" "$work/pw" -- \
  "$recoup" user add zhang.wei --role agent "$fixtures/trial" --db "$qdb"
user "two of one family are both offered" 1 \
  "recoup: no user zhang (did you mean zhang.min or zhang.wei?)" /dev/null -- \
  "$recoup" user disable zhang "$fixtures/trial" --db "$qdb"
user "nobody near is said plainly" 1 "recoup: no user nobody$" /dev/null -- \
  "$recoup" user disable nobody "$fixtures/trial" --db "$qdb"
# A display name is no one's own: both users shown as 张敏 are named, not
# the first alone (on 72d03b3 "did you mean zhang.min?", and the
# supervisor who meant zhang.wei locked zhang.min out).
user "zhang.wei shown as 张敏 too" 0 "user zhang.wei is shown as 张敏" /dev/null -- \
  "$recoup" user set zhang.wei --display-name 张敏 "$fixtures/trial" --db "$qdb"
user "a display name two users share names both" 1 \
  "recoup: no user 张敏: users zhang.min and zhang.wei are shown so: give the login of the one you mean" /dev/null -- \
  "$recoup" user disable 张敏 "$fixtures/trial" --db "$qdb"
# A slip is looked for among every login: on 72d03b3 only the first 256
# were, and agent00300x was offered agent00030, another agent.
sqlite3 "$qdb" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 400)
  INSERT INTO users SELECT printf('agent%05d', i), role, queues, password_hash, 0, created_at, NULL
  FROM n, users WHERE users.name = 'zhang.min'"
user "a slip past the first few hundred logins offers the login" 1 \
  "recoup: no user agent00300x (did you mean agent00300?)" /dev/null -- \
  "$recoup" user disable agent00300x "$fixtures/trial" --db "$qdb"
sqlite3 "$qdb" "DELETE FROM users WHERE name LIKE 'agent0%'"
user "a supervisor added" 0 "user sue added (supervisor)" "$work/pw" -- \
  "$recoup" user add sue --role supervisor "$fixtures/trial" --db "$qdb"
user "queues of a user who sees every queue" 0 "queues bind agents only" /dev/null -- \
  "$recoup" user set sue --queues phone "$fixtures/trial" --db "$qdb"
user "a user disabled" 0 "user sue disabled" /dev/null -- \
  "$recoup" user disable sue "$fixtures/trial" --db "$qdb"
user "a user disabled twice is told so" 0 "user sue is already disabled" /dev/null -- \
  "$recoup" user disable sue "$fixtures/trial" --db "$qdb"
user "a user enabled again" 0 "user sue enabled" /dev/null -- \
  "$recoup" user enable sue "$fixtures/trial" --db "$qdb"
user "user set of nobody" 1 "recoup: no user nobody" /dev/null -- \
  "$recoup" user set nobody --queues phone "$fixtures/trial" --db "$qdb"
user "user set with nothing to set" 2 "user set needs --display-name or --queues" \
  /dev/null -- "$recoup" user set dora "$fixtures/trial" --db "$qdb"
user "nothing refused was written" 0 "dora  *agent  *-  *enabled" /dev/null -- \
  "$recoup" user list "$fixtures/trial" --db "$qdb"

# A queue given twice is most often a slip for two queues: refused naming
# both places, nothing written. A user set who does not exist is said to
# be so before any queue is warned of.
user "a queue given twice is refused naming both places" 1 \
  "recoup: queues: queue 3 (phone) is queue 1 again" /dev/null -- \
  "$recoup" user set dora --queues phone,field,phone "$fixtures/trial" --db "$qdb"
user "user set of nobody warns of no queue" 1 "recoup: no user nobody" /dev/null -- \
  "$recoup" user set nobody --queues feild "$fixtures/trial" --db "$qdb"
absent "nobody's queues are not warned of" "warning"
# user list: an agent of many queues shows the first and how many more
# (--json all of them), where the column widened every row; a display
# name an older version or another store wrote with a terminal escape is
# shown as text, never obeyed.
many=$(awk 'BEGIN { for (i = 1; i <= 30; i++) printf "%squeue%d", (i > 1 ? "," : ""), i }')
user "thirty queues" 0 "user dora works queues queue1," /dev/null -- \
  "$recoup" user set dora --queues "$many" "$fixtures/trial" --db "$qdb"
sqlite3 "$qdb" "UPDATE users SET display_name = 'Sue' || char(27) || '[2J' WHERE name = 'sue'"
user "user list cuts a long list of queues" 0 \
  "dora  *agent  *queue1,queue2,queue3,queue4 +26 more  *enabled" /dev/null -- \
  "$recoup" user list "$fixtures/trial" --db "$qdb"
also "a display name's escape is shown, not obeyed" "sue  *supervisor .*Sue?\\[2J"
user "user list --json lists every queue" 0 '"queue30"' /dev/null -- \
  "$recoup" user list "$fixtures/trial" --db "$qdb" --json

# Logins kept apart by how they look ("rnary" reads as mary); a display
# name like the user's own login stands even in a book that let such a
# pair in before.
user "mary added" 0 "user mary added" "$work/pw" -- \
  "$recoup" user add mary --role agent "$fixtures/trial" --db "$qdb"
user "rnary beside mary is refused" 1 \
  "recoup: name rnary looks like mary, the login of user mary" "$work/pw" -- \
  "$recoup" user add rnary --role agent "$fixtures/trial" --db "$qdb"
sqlite3 "$qdb" "INSERT INTO users SELECT 'rnary', role, queues, password_hash, 0, created_at, NULL FROM users WHERE name = 'mary'"
user "mary may be shown as her own login beside an old rnary" 0 \
  "user mary is shown as mary" /dev/null -- \
  "$recoup" user set mary --display-name mary "$fixtures/trial" --db "$qdb"
user "but not as rnary's login" 1 "reads as the login of user rnary" /dev/null -- \
  "$recoup" user set mary --display-name rnary "$fixtures/trial" --db "$qdb"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
