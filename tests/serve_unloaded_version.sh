#!/bin/sh
# Open cases on a workflow version the scripts do not load (a version
# bumped and its file dropped) wait unworked: serve says so at start, one
# warn line, and a reload answers it in its warnings, as tick and check
# --db say it (on 2f64f43 serve said nothing).
# usage: serve_unloaded_version.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
rm -rf "$work"
mkdir -p "$work/inst"
fail() {
  echo "FAIL: $*" >&2
  for f in "$work/out" "$work/log" "$work/reload"; do
    [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
  done
  exit 1
}
# Starts the service on the book; $server its pid, killed on exit. The
# last start's files go first: the new service's shell truncates them
# after the wait below may have read the old "listening on".
start() {
  rm -f "$work/out" "$work/log"
  T_ADMIN=admin-secret "$recoup" serve "$work/inst" --db "$work/book.db" \
    --listen 127.0.0.1:0 >"$work/out" 2>"$work/log" &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
  i=0
  until grep -q '^listening on' "$work/out"; do
    i=$((i + 1))
    [ $i -le 600 ] && kill -0 $server 2>/dev/null || fail "serve did not start"
    sleep 0.1
  done
}

cat >"$work/inst/recoup.lua" <<'LUA'
institution { name = "V", timezone = "UTC", currency = "USD" }
tokens { admin = "env:T_ADMIN" }
workflow(recoup.workflow { name = "pay", version = 8, initial = "new",
                           states = { new = {} } })
LUA
"$recoup" tick "$work/inst" --db "$work/book.db" --real-time >"$work/out" 2>&1 ||
  fail "the tick that makes the book"
sqlite3 "$work/book.db" "INSERT INTO borrowers(id) VALUES ('B1');
  INSERT INTO cases(id, borrower_id, workflow, version, state, closed, currency, opened_at)
  VALUES ('V1', 'B1', 'pay', 7, 'new', 0, 'USD', 0), ('V2', 'B1', 'pay', 7, 'new', 0, 'USD', 0),
         ('V3', 'B1', 'pay', 8, 'new', 0, 'USD', 0), ('V4', 'B1', 'pay', 6, 'done', 1, 'USD', 0)" ||
  fail "the hand-made cases"

start
[ "$(grep -c 'a workflow version these scripts do not load' "$work/log")" = 1 ] ||
  fail "not one warn line at start"
grep '"level":"warn"' "$work/log" | grep '"cases":2' | grep '"versions":"pay v7 (2 cases)"' |
  grep -q '2 open cases run a workflow version these scripts do not load: pay v7 (2 cases). Nothing runs for them' ||
  fail "the start's line does not say the cases, the version and what to do"
port=$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/out")
curl -s -X POST -H 'Authorization: Bearer admin-secret' \
  "http://127.0.0.1:$port/v1/admin/reload" >"$work/reload"
grep '"status":"reloaded"' "$work/reload" | grep '"warnings":\[{' | grep '"cases":2' |
  grep -q '"versions":"pay v7 (2 cases)"' || fail "the reload's answer does not warn"
[ "$(grep -c 'a workflow version these scripts do not load' "$work/log")" = 2 ] ||
  fail "the reload did not log it"
kill $server
wait $server
trap - EXIT
grep -q 'Sanitizer\|runtime error:' "$work/log" && fail "a sanitizer spoke"

# Sixty versions: the list was cut mid-entry at its room ("pay v120 (1
# case), ") and the advice after it lost its end ("load it beside the
# new on"). Each version whole, ", and more" for the rest, the advice
# whole.
i=100
while [ $i -lt 160 ]; do
  echo "INSERT INTO cases(id, borrower_id, workflow, version, state, closed, currency, opened_at) VALUES ('M$i', 'B1', 'pay', $i, 'new', 0, 'USD', 0);"
  i=$((i + 1))
done | sqlite3 "$work/book.db" || fail "the sixty versions"
start
kill $server
wait $server
trap - EXIT
grep '"level":"warn"' "$work/log" | grep '"cases":62' |
  grep '"versions":"pay v7 (2 cases), pay v100 (1 case), pay v101 (1 case), .*pay v1[0-9][0-9] (1 case), and more"' |
  grep -q 'with a migrate in the new version to move them on (docs/lua.md, \\"Changing a workflow\\")' ||
  fail "sixty versions: the list cut mid-entry or the advice cut"
grep -q 'Sanitizer\|runtime error:' "$work/log" && fail "a sanitizer spoke"
echo ok
