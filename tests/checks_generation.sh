#!/bin/sh
# An upgrade that adds a script check does not stop the service
# (docs/operations.md, "Checks added by an upgrade"): on a book older than
# the check, serve warns of what it finds (file, line, the generations)
# and starts; a clean start holds the book to today's generation, after
# which the same finding refuses. A check that guards money (a declared
# bound recoup cannot read) refuses whatever the book. A new book starts
# at today's generation. SQLite books made by the command itself.
# usage: checks_generation.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
rm -rf "$work"
mkdir -p "$work/inst/workflows"
pass=0
fail() {
  echo "FAIL: $*" >&2
  for f in "$work/out" "$work/err" "$work/log"; do
    [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
  done
  exit 1
}
# A step passed, and no sanitizer spoke in what it wrote.
ok() {
  for f in "$work/out" "$work/err" "$work/log"; do
    [ -f "$f" ] && grep -q 'Sanitizer\|runtime error:' "$f" && fail "a sanitizer spoke"
  done
  pass=$((pass + 1))
}

# recoup.lua with or without a template that has no text in the
# institution's locale (a check of generation 2); a workflow with or
# without a malformed bound (min above max).
institution() { # extra template text [institution name, as Lua] [currency]
  name=${2:-'"Gen"'} currency=${3:-CNY}
  cat >"$work/inst/recoup.lua" <<LUA
institution { name = $name, timezone = "Asia/Shanghai", locale = "zh-CN",
              currency = "$currency" }
channel "sms" { driver = "file", path = "sms.jsonl" }
tokens { admin = "env:T_ADMIN" }
templates { hi = { sms = { ["zh-CN"] = "你好{borrower.name}" } }, $1 }
workflow(require "workflows.w")
LUA
}
workflow() { # the agreed outcome's installments field
  cat >"$work/inst/workflows/w.lua" <<LUA
return recoup.workflow {
  name = "w", version = 1, initial = "open",
  tasks = { review = { outcomes = {
    agreed = { installments = $1 },
  } } },
  states = { open = {} },
}
LUA
}
meta() { sqlite3 "$1" "SELECT value FROM meta WHERE key = 'checks.generation'"; }
finding='bye = { sms = { en = "Bye" } }'

institution ""
workflow '{ type = "int", min = 1, max = 60 }'
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "a clean tick on a new book"
[ "$(meta "$work/old.db")" = 5 ] || fail "a new book is not at generation 5"
ok
# A book made before generations were kept has no key: generation 1.
sqlite3 "$work/old.db" "DELETE FROM meta WHERE key = 'checks.generation'"
# check --db says so, and when a newer check's warning becomes a refusal.
"$recoup" check "$work/inst" --db "$work/old.db" >"$work/out" 2>"$work/err" ||
  fail "check --db on the older book"
grep -q "old.db: checks generation 1, older than this recoup's 5: the scripts pass every check, so the next serve, tick or import holds the book to 5, and from then on a newer check's finding refuses to start" "$work/out" ||
  fail "check --db does not say the book's generation"
ok

institution "$finding"
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed"
grep -q "recoup.lua:5: template 'bye'.sms has no text in the institution's locale 'zh-CN'.*\[checks generation 2: serve, tick and import on a book of an older generation warn" "$work/err" ||
  fail "check does not mark the newer check's finding"
ok

# Starts serve on the older book and waits until it listens (or FAIL
# after about 60 s, or when it exits).
start_serve() { # what it failed to do
  T_ADMIN=admin-secret "$recoup" serve "$work/inst" --db "$work/old.db" \
    --listen 127.0.0.1:0 >"$work/out" 2>"$work/log" &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
  i=0
  until grep -q '^listening on' "$work/out"; do
    i=$((i + 1))
    [ $i -le 600 ] && kill -0 $server 2>/dev/null || fail "$1"
    sleep 0.1
  done
}

# serve on the older book: a warning, and it starts.
start_serve "serve did not start on the older book"
grep '"msg":"a script check newer than the book found a problem; starting all the same"' "$work/log" |
  grep '"file":"[^"]*recoup.lua"' | grep '"line":5' | grep '"check_generation":2' |
  grep '"book_generation":1' | grep -q "next start that finds the scripts clean" ||
  fail "no warning naming the check, file:line and what holds it"
# A reload says the same in its answer, and loads.
port=$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/out")
curl -s -X POST -H 'Authorization: Bearer admin-secret' \
  "http://127.0.0.1:$port/v1/admin/reload" >"$work/err"
grep '"status":"reloaded"' "$work/err" | grep '"warnings":\[{' |
  grep -q '"check_generation":2' || fail "the reload's answer has no warnings"
ok
# Another node (or a tick) holds the book meanwhile: a reload is weighed
# against the book as it is now, and refuses, as a start would (it was
# weighed against the generation read at this start, and loaded).
sqlite3 -cmd ".timeout 10000" "$work/old.db" \
  "INSERT INTO meta(key, value) VALUES ('checks.generation', '4')"
curl -s -X POST -H 'Authorization: Bearer admin-secret' \
  "http://127.0.0.1:$port/v1/admin/reload" >"$work/err"
grep -q '"status":"reloaded"' "$work/err" &&
  fail "a reload loaded a finding the book, held meanwhile, refuses"
grep -q "template 'bye'.sms has no text" "$work/err" ||
  fail "the refused reload does not name the finding"
sqlite3 -cmd ".timeout 10000" "$work/old.db" \
  "DELETE FROM meta WHERE key = 'checks.generation'"
kill $server
wait $server
[ -z "$(meta "$work/old.db")" ] || fail "a start with a warning raised the generation"
ok

# tick the same way; a new book refuses (and is not made).
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "tick refused on the older book"
grep -q "warning: template 'bye'.*newer than this book's 1: tick goes on" "$work/err" ||
  fail "tick does not warn"
ok
"$recoup" tick "$work/inst" --db "$work/new.db" --real-time >"$work/out" 2>"$work/err" &&
  fail "tick made a new book despite the finding"
[ ! -e "$work/new.db" ] || fail "the refused tick left a book"
ok

# A bound recoup cannot read guards money and counts: refused on the
# older book too, naming file and line.
workflow '{ type = "int", min = 5, max = 1 }'
"$recoup" serve "$work/inst" --db "$work/old.db" --listen 127.0.0.1:0 \
  >"$work/out" 2>"$work/err" && fail "serve started with a malformed bound"
grep -q "workflows/w.lua:4: .*installments: min 5 is above max 1" "$work/err" ||
  fail "the malformed bound is not named with its file and line"
ok
for bad in '{ type = "int", mx = 60 }:unknown key .mx. (type, min, max, optional)' \
  '{ type = "text", max = 60 }:max is for int and money fields, not text' \
  '{ type = "int?" }:type must be one of' \
  '{ type = "money", min = 1.5 }:min must be a whole number of minor units'; do
  workflow "${bad%%:*}"
  "$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed ${bad%%:*}"
  grep -q "workflows/w.lua:4: .*${bad#*:}" "$work/err" || fail "check: ${bad#*:}"
  ok
done

# A bound written 1e6 or 60.0 is a whole number (it was refused as "must
# be a whole number").
institution ""
workflow '{ type = "money", min = 0.0, max = 1e6 }'
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" || fail "check refused max = 1e6"
ok

# A list of choices with a stray key is a newer check's: an older book
# warns and goes on.
institution ""
workflow '{ "1", "2", optinal = true }'
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "tick refused a stray key in a list of choices on the older book"
grep -q "w.lua:4: warning: .*installments: a list of choices takes only its choices and optional; not 'optinal'" "$work/err" ||
  fail "no warning of the stray key"
ok

# Clean: the start holds the book to today's generation; then the same
# finding refuses.
institution ""
workflow '{ type = "int", min = 1, max = 60 }'
start_serve "serve did not start clean"
grep 'the scripts pass every check: the book is held' "$work/log" |
  grep -q '"from":1' || fail "no line saying the book is held"
kill $server
wait $server
trap - EXIT
[ "$(meta "$work/old.db")" = 5 ] || fail "a clean start did not hold the book"
ok
institution "$finding"
"$recoup" serve "$work/inst" --db "$work/old.db" --listen 127.0.0.1:0 \
  >"$work/out" 2>"$work/err" && fail "serve started on a held book with the finding"
grep -q "recoup.lua:5: template 'bye'.sms has no text" "$work/err" ||
  fail "the refusal does not name the finding"
"$recoup" check "$work/inst" --db "$work/old.db" >"$work/out" 2>"$work/err" &&
  fail "check --db passed the finding"
grep -q "old.db: checks generation 5, this recoup's: serve, tick and import refuse to start on it until the problem above is fixed" "$work/out" ||
  fail "check --db does not say the held book refuses the problem"
ok
# A generation edited by hand that does not read loosens nothing: taken
# as 1 it turned the held book's refusal back into a warning. It refuses,
# naming the row and the finding; a clean start writes today's over it.
for forged in "'abc'" "'-5'" "'0'" NULL "'99999999999999999999999'"; do
  sqlite3 "$work/old.db" "UPDATE meta SET value = $forged WHERE key = 'checks.generation'"
  "$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" &&
    fail "tick went on with a finding on a book whose generation is $forged"
  grep -q "the book's meta checks.generation is '.*', not a checks generation" "$work/err" ||
    fail "the refusal does not name the unreadable generation $forged"
  grep -q "recoup.lua:5: template 'bye'.sms has no text" "$work/err" ||
    fail "the refusal does not name the finding ($forged)"
  ok
done
institution ""
"$recoup" check "$work/inst" --db "$work/old.db" >"$work/out" 2>"$work/err" ||
  fail "check --db on a book whose generation does not read"
grep -q "warning: .*old.db: its meta checks.generation is '9*', not a checks generation" "$work/out" ||
  fail "check --db does not name the unreadable generation"
ok
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "a clean tick refused an unreadable generation"
grep -q "checks generation" "$work/out" "$work/err" && fail "said again"
"$recoup" check "$work/inst" --db "$work/old.db" >"$work/out" 2>"$work/err" ||
  fail "check --db on the held book"
grep -q "old.db: checks generation 5, this recoup's: every check's finding refuses to start" "$work/out" ||
  fail "check --db does not say a held book's generation"
[ "$(meta "$work/old.db")" = 5 ] || fail "a clean tick did not write today's generation"
ok

# Generation 3: a text keyed by a locale no borrower has (und, und-CN,
# zh_CN) is never chosen; the finding names the locale recoup would
# choose. A book at 2 warns and goes on; a clean tick holds it to 3; then
# it refuses.
sqlite3 "$work/old.db" "UPDATE meta SET value = '2' WHERE key = 'checks.generation'"
institution 'bye = { sms = { ["zh-CN"] = "再见", zh_CN = "再见", ["und-CN"] = "再见" } }'
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed zh_CN"
grep -q "recoup.lua:5: template 'bye'.sms has a text keyed 'zh_CN', which recoup never chooses (.*): key it by the locale recoup would choose, \\[\"zh-CN\"\\] \\[checks generation 3" "$work/err" ||
  fail "check does not name zh_CN and the locale meant"
grep -q "keyed 'und-CN', which recoup never chooses ('und-CN' says the language is undetermined.*\\[\"zh-CN\"\\]" "$work/err" ||
  fail "check does not name und-CN and the locale meant"
ok
# Beside its problems, check says what they do on the book: whether
# tonight's tick warns or refuses was nowhere (the book was not read).
"$recoup" check "$work/inst" --db "$work/old.db" >"$work/out" 2>"$work/err" &&
  fail "check --db passed zh_CN"
grep -q "old.db: checks generation 2, older than this recoup's 5: serve, tick and import on it warn of the problems above and go on" "$work/out" ||
  fail "check --db does not say the problems only warn on the older book"
ok
# The book service.db names (none here: var/recoup.db) when --db names
# none, and a problem of a check the book is held to refuses.
mkdir -p "$work/inst/var"
cp "$work/old.db" "$work/inst/var/recoup.db"
institution 'bye = { sms = { ["zh-CN"] = "再见", zh_CN = "再见" } }, en_only = { sms = { en = "Bye" } }'
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed two problems"
grep -q "var/recoup.db: checks generation 2, older than this recoup's 5: serve, tick and import refuse to start on it until the 1 problem above not marked \[checks generation 3\] or newer is fixed (the 1 so marked only warn on it" "$work/out" ||
  fail "check does not say which problems refuse on the book service.db names"
rm -r "$work/inst/var"
institution 'bye = { sms = { ["zh-CN"] = "再见", zh_CN = "再见", ["und-CN"] = "再见" } }'
ok
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "tick refused a text keyed zh_CN on a book at generation 2"
grep -q "warning: template 'bye'.sms has a text keyed 'zh_CN'.*newer than this book's 2: tick goes on" "$work/err" ||
  fail "tick does not warn of zh_CN"
[ "$(meta "$work/old.db")" = 2 ] || fail "a tick with a warning raised the generation"
ok
institution ""
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "a clean tick on the book at 2"
[ "$(meta "$work/old.db")" = 5 ] || fail "a clean tick did not hold the book at 2 to 5"
institution 'bye = { sms = { ["zh-CN"] = "再见", und = "再见" } }'
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" &&
  fail "tick went on with a text keyed und on a book held to 3"
grep -q "keyed 'und', which recoup never chooses.*\\[\"zh-CN\"\\]" "$work/err" ||
  fail "the refusal does not name und"
ok
# A key ICU reads only the start of, or whose region is the unknown
# one, offers nothing: und-ZZ and "und-" with 60 letters were told to be
# en-US, und's likeliest language, which no lender meant.
institution 'bye = { sms = { ["zh-CN"] = "再见", ["und-ZZ"] = "再见", ["und-'"$(printf '%060d' 0 | tr 0 x)"'"] = "再见" } }'
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed und-ZZ"
grep -q "keyed 'und-ZZ', which recoup never chooses ('und-ZZ' says the language is undetermined, and no borrower's locale does) \\[checks generation 3" "$work/err" ||
  fail "check offers a locale for und-ZZ"
grep -q "keyed 'und-xxxxxxxxxx*', which recoup never chooses ('und-xx*' says the language is undetermined, and no borrower's locale does) \\[checks generation 3" "$work/err" ||
  fail "check offers a locale for a tag ICU reads only the start of"
ok
# A key in another casing than its usual one ("zh-cn") is never chosen:
# a borrower's tag is tried as written, then in its usual casing.
institution 'bye = { sms = { en = "bye", ["zh-cn"] = "再见", ["zh-hant-tw"] = "再見" } }'
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed zh-cn"
grep -q "keyed 'zh-cn', which recoup never chooses (a borrower's locale is matched in its usual casing): key it \\[\"zh-CN\"\\] \\[checks generation 3" "$work/err" ||
  fail "check does not name zh-cn and its usual casing"
grep -q "keyed 'zh-hant-tw'.*key it \\[\"zh-Hant-TW\"\\]" "$work/err" ||
  fail "check does not name zh-hant-tw and its usual casing"
ok

# Generation 4: the institution's name (every SMS, the console's tab
# title) held to a display name's rules: a zero-width space, a
# right-to-left override, a space at an end. A book at 3 warns and goes
# on; a clean tick holds it to 5; then it refuses.
zw=$(printf '\342\200\213') rlo=$(printf '\342\200\256')
sqlite3 "$work/old.db" "UPDATE meta SET value = '3' WHERE key = 'checks.generation'"
institution "" "\"Gen${zw}Bank\""
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed a zero-width space in the name"
grep -q "recoup.lua:1: institution.name holds an invisible, joining or bidirectional formatting character (U+200B) at character 4; a name is what people read \\[checks generation 4" "$work/err" ||
  fail "check does not name the zero-width space in the institution's name"
ok
institution "" "{ [\"zh-CN\"] = \"代\", en = \"Gen ${rlo}knaB\" }"
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed a bidi override in a name by locale"
grep -q "institution.name.en holds an invisible, joining or bidirectional formatting character (U+202E) at character 5" "$work/err" ||
  fail "check does not name the locale's name and its override"
ok
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "tick refused a bidi override in the name on a book at generation 3"
grep -q "warning: institution.name.en holds .*newer than this book's 3: tick goes on" "$work/err" ||
  fail "tick does not warn of the override"
[ "$(meta "$work/old.db")" = 3 ] || fail "a tick with a warning raised the generation"
ok
institution ""
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "a clean tick on the book at 3"
[ "$(meta "$work/old.db")" = 5 ] || fail "a clean tick did not hold the book at 3 to 5"
institution "" '"Gen Bank "'
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" &&
  fail "tick went on with a name ending in a space on a book held to 5"
grep -q "institution.name ends with a space" "$work/err" ||
  fail "the refusal does not name the space"
ok

# Generation 4 too: the institution's currency, owed by every case
# imported without one, held to a case's own rules (gold XAU, ZZZ that is
# no currency). A book at 3 warns and goes on; one held to 5 refuses.
sqlite3 "$work/old.db" "UPDATE meta SET value = '3' WHERE key = 'checks.generation'"
institution "" "" XAU
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed XAU as the institution's currency"
grep -q "recoup.lua:1: institution.currency 'XAU' is a precious metal, a unit of account or a testing code, not money a debt is owed in: every case imported without a currency would be owed in it \\[checks generation 4" "$work/err" ||
  fail "check does not name the institution's currency XAU"
ok
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "tick refused XAU on a book at generation 3"
grep -q "warning: institution.currency 'XAU' .*newer than this book's 3: tick goes on" "$work/err" ||
  fail "tick does not warn of XAU"
[ "$(meta "$work/old.db")" = 3 ] || fail "a tick with a warning raised the generation"
ok
institution ""
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" ||
  fail "a clean tick on the book at 3"
institution "" "" ZZZ
"$recoup" tick "$work/inst" --db "$work/old.db" --real-time >"$work/out" 2>"$work/err" &&
  fail "tick went on with ZZZ as the institution's currency on a book held to 5"
grep -q "institution.currency 'ZZZ' is not an ISO 4217 currency ICU knows" "$work/err" ||
  fail "the refusal does not name ZZZ"
ok
# RMB, as a ledger in China writes the yuan, names the code meant (it
# said only "not an ISO 4217 currency ICU knows"); so does rmb, refused
# as not three capitals, and cny says the code as written.
for said in "RMB:is not an ISO 4217 code (the renminbi's is CNY): every case" \
  "rmb:is not an ISO 4217 code (the renminbi's is CNY)$" \
  "cny:is not an ISO 4217 code as written: write CNY (three capital letters, no space)$"; do
  institution "" "" "${said%%:*}"
  "$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed ${said%%:*}"
  grep -q "recoup.lua:1: institution.currency '${said%%:*}' ${said#*:}" "$work/err" ||
    fail "check does not name the code meant for ${said%%:*}"
  ok
done
# And a queue no agent can be given (recoup user --queues refuses
# "Phone"): its tasks would reach supervisors only.
institution ""
cat >"$work/inst/workflows/w.lua" <<'LUA'
return recoup.workflow {
  name = "w", version = 1, initial = "open",
  states = { open = { enter = function(case)
    case:task("call", { queue = "Phone" })
  end } },
}
LUA
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed the queue Phone"
grep -q "w.lua:4: case:task: queue 'Phone' is no queue an agent can be given (1 to 64 characters of a-z 0-9 . _ -, as recoup user --queues takes them): only supervisors would see its tasks. Write queue = \"phone\" and give it to agents (recoup user set NAME --queues); the tasks already made in 'Phone' stay there until a supervisor Reassigns them \\[checks generation 4" "$work/err" ||
  fail "check does not name the queue Phone and what to write"
ok
# A queue named in Chinese has no spelling to offer: the rule, and what
# becomes of its tasks.
sed -i 's/queue = "Phone"/queue = "外勤"/' "$work/inst/workflows/w.lua"
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed the queue 外勤"
grep -q "w.lua:4: case:task: queue '外勤' is no queue an agent can be given .*only supervisors would see its tasks. Name it in those characters and give it to agents (recoup user set NAME --queues); the tasks already made in '外勤' stay there" "$work/err" ||
  fail "check does not say what to do with the queue 外勤"
ok
# Generation 5: a case:task with no options puts its tasks in the queue
# named as its kind, held to the queue rule too (it was not: only a
# queue = in a table was). At run time a task whose queue is out of the
# rule (computed, or its kind's) sets its case aside naming the queue,
# from generation 5 on; a book of 4 that warns keeps storing them.
cat >"$work/inst/workflows/w.lua" <<'LUA'
return recoup.workflow {
  name = "w", version = 1, initial = "open",
  states = { open = { enter = function(case)
    if case.product == "none" then case:task("Call") end
    case:task(case.product)
  end } },
}
LUA
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed the kind Call as a queue"
grep -q "w.lua:4: case:task: with no queue given, its tasks go to the queue named as the kind, 'Call', which is no queue an agent can be given (1 to 64 characters of a-z 0-9 . _ -, as recoup user --queues takes them): only supervisors would see its tasks. Give it a queue, case:task(\"Call\", { queue = \"call\" }), and give that to agents (recoup user set NAME --queues); the tasks already made in 'Call' stay there until a supervisor Reassigns them \\[checks generation 5" "$work/err" ||
  fail "check does not hold a kind standing for its queue to the rule"
ok
printf 'id,borrower_id,borrower_name,phone,balance,amount_due,due_date,product\nL1,B1,Wang,+8613800000000,1000,500,2026-01-01,Call Back\n' >"$work/l1.csv"
printf 'id,borrower_id,borrower_name,phone,balance,amount_due,due_date,product\nL2,B2,Li,+8613800000001,1000,500,2026-01-01,Call Back\n' >"$work/l2.csv"
sqlite3 "$work/old.db" "UPDATE meta SET value = '4' WHERE key = 'checks.generation'"
"$recoup" import "$work/l1.csv" "$work/inst" --db "$work/old.db" >"$work/out" 2>"$work/err" ||
  fail "import refused the kind Call on a book at generation 4"
grep -q "warning: case:task: with no queue given.*newer than this book's 4" "$work/err" ||
  fail "import does not warn of the kind Call"
[ "$(sqlite3 "$work/old.db" "SELECT queue FROM tasks WHERE case_id = 'L1'")" = "Call Back" ] ||
  fail "a book at generation 4 did not keep a task in the queue its kind named"
[ "$(meta "$work/old.db")" = 4 ] || fail "an import with a warning raised the generation"
ok
sed -i '/case:task("Call")/d' "$work/inst/workflows/w.lua"
"$recoup" import "$work/l2.csv" "$work/inst" --db "$work/old.db" >"$work/out" 2>"$work/err"
[ "$(meta "$work/old.db")" = 5 ] || fail "a clean import did not hold the book at 4 to 5"
sqlite3 "$work/old.db" "SELECT error FROM cases WHERE id = 'L2'" |
  grep -q "case:task: with no queue given, its tasks go to the queue named as the kind, 'Call Back', which is no queue an agent can be given (1 to 64 characters of a-z 0-9 . _ -, as recoup user --queues takes them) (did you mean call_back?): give the task a queue; no task was made" ||
  fail "a task in the queue 'Call Back' did not set its case aside naming it: $(sqlite3 "$work/old.db" "SELECT id, error FROM cases")"
[ "$(sqlite3 "$work/old.db" "SELECT count(*) FROM tasks WHERE case_id = 'L2'")" = 0 ] ||
  fail "a task was made in the queue 'Call Back' on a book held to 5"
[ "$(sqlite3 "$work/old.db" "SELECT count(*) FROM tasks WHERE case_id = 'L1'")" = 1 ] ||
  fail "the task made before is gone"
ok
# A name written with a NUL ("phone\0x") is cut there where the core
# keeps it: the run refuses it, and check names it whatever the book
# (not a finding of a generation). On b365a5a check passed both.
cat >"$work/inst/workflows/w.lua" <<'LUA'
return recoup.workflow {
  name = "w", version = 1, initial = "open",
  states = { open = { enter = function(case)
    case:task("call", { queue = "phone\0x" })
    case:send("sms\x00", "hi")
  end } },
}
LUA
"$recoup" check "$work/inst" >"$work/out" 2>"$work/err" && fail "check passed names holding a NUL"
grep -q "w.lua:4: case:task: queue holds a NUL byte (at byte 6): a name is kept as text, which ends at a NUL" "$work/err" ||
  fail "check does not name the queue holding a NUL"
grep -q "w.lua:5: case:send: the channel holds a NUL byte (at byte 4)" "$work/err" ||
  fail "check does not name the channel holding a NUL"
grep -q "NUL byte.*\\[checks generation" "$work/err" && fail "a NUL in a name is said as a finding of a generation"
ok
echo "ok: $pass checks"
