#!/bin/sh
# A case whose step the book refuses (a trigger made by hand that ends
# the whole transaction, RAISE(ROLLBACK)) during `recoup serve`:
# - set aside (put in error): one line in the service's log naming it;
# - where even its error is refused (the trigger on journal_runs): the
#   service's run fails, and is tried again ever later (doubling to a few
#   seconds) with the cause logged once, naming the case. Before, every
#   write woke a run that failed again, each failure a line `engine run
#   failed` (every ~8 ms under steady writes).
# usage: serve_poisoned_case.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
fail() {
  echo "FAIL: $*" >&2
  cat "$work/log" >&2
  exit 1
}
# One book a table: its cases opened, a trigger refusing BAD's rows of
# TABLE, then the service started, its timers due a second later.
serve_poisoned() { # TABLE
  rm -rf "$work"
  mkdir -p "$work/book"
  cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Poisoned", timezone = "UTC", currency = "USD" }
tokens { ingest = "env:T_INGEST" }
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open",
  states = {
    open = { enter = function(case) case:after("1s", "tick") end,
             on = { tick = function() return "working" end } },
    working = { enter = function(case) case:after("1d", "tick") end,
                on = {} },
  },
  transitions = { open = { "working" } },
})
LUA
  {
    echo id,borrower_id,borrower_name,phone,balance,amount_due,currency,due_date
    for id in G1 BAD G2; do
      echo "$id,B$id,Borrower $id,+15550100,1000,1000,USD,2026-01-01"
    done
  } >"$work/book.csv"
  : >"$work/log"
  "$recoup" import "$work/book.csv" "$work/book" --db "$work/book.db" \
    --real-time --no-deliver >/dev/null 2>"$work/log" || fail "the import"
  sqlite3 "$work/book.db" "CREATE TRIGGER poison BEFORE INSERT ON $1 \
    WHEN NEW.case_id = 'BAD' BEGIN SELECT RAISE(ROLLBACK, 'poisoned'); END" ||
    fail "the trigger"
  T_INGEST=ingest-secret "$recoup" serve "$work/book" --listen 127.0.0.1:0 \
    --db "$work/book.db" >"$work/stdout" 2>"$work/log" &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
}
stop() {
  kill -TERM $server
  wait $server
  trap - EXIT
}
# Until the log has the line, or FAIL after about 60 s.
wait_for() { # message
  i=0
  until grep -q "\"msg\":\"$1\"" "$work/log"; do
    i=$((i + 1))
    [ $i -le 600 ] && kill -0 $server 2>/dev/null || fail "no '$1' in the log"
    sleep 0.1
  done
}
count() { grep -c "\"msg\":\"$1\"" "$work/log"; }

serve_poisoned timers
wait_for "case set aside"
sleep 1
stop
[ "$(count "case set aside")" -eq 1 ] || fail "not one 'case set aside' line"
grep '"msg":"case set aside"' "$work/log" | grep -q '"case":"BAD"' ||
  fail "the line does not name the case"
grep '"msg":"case set aside"' "$work/log" | grep -q 'poisoned' ||
  fail "the line does not say why"
[ "$(count "engine run failed")" -eq 0 ] || fail "a run failed"
[ "$(sqlite3 "$work/book.db" "SELECT group_concat(id || ':' || state) \
  FROM (SELECT id, state FROM cases ORDER BY id)")" = \
  "BAD:open,G1:working,G2:working" ] || fail "the other cases did not go on"

serve_poisoned journal_runs
wait_for "engine run failed"
# Each write wakes the service's run: before, each run failed again at
# once (every ~8 ms while writes came), a line each; 40 writes here.
port=$(grep -o '"address":"127.0.0.1:[0-9]*' "$work/log" | grep -o '[0-9]*$')
i=0
while [ $i -lt 40 ]; do
  curl -sf -o /dev/null -H 'Authorization: Bearer ingest-secret' \
    -H 'Content-Type: application/json' -d '{"type":"poke"}' \
    "http://127.0.0.1:$port/v1/cases/G1/events" || fail "a write refused"
  i=$((i + 1))
done
# A case opened now: its timer, due a second later, fires. Before, the
# undone batch stopped the service's clock where it began (clock_set on
# the real clock): no timer due after it ever fired.
curl -sf -o /dev/null -H 'Authorization: Bearer ingest-secret' \
  -H 'Content-Type: application/json' -d '{"id":"G3","currency":"USD",
  "balance":1000,"amount_due":500,"due_date":"2026-01-01",
  "borrower":{"id":"BG3","name":"Borrower G3","phones":["+15550100"]}}' \
  "http://127.0.0.1:$port/v1/cases" || fail "G3 refused"
i=0
until [ "$(sqlite3 "$work/book.db" \
  "SELECT state FROM cases WHERE id = 'G3'")" = working ]; do
  i=$((i + 1))
  [ $i -le 300 ] || fail "G3's timer, due after the failure, never fired"
  sleep 0.1
done
stop
n=$(count "engine run failed")
[ "$n" -eq 1 ] || fail "the same failure logged $n times"
grep '"msg":"engine run failed"' "$work/log" | grep -q '"case":"BAD"' ||
  fail "the line does not name the case"
# No back-off follows (the others' work goes on): the line says so, and
# not a retry_max_ms that does not apply.
grep '"msg":"engine run failed"' "$work/log" | grep -q 'no back-off' ||
  fail "the line does not say what follows"
grep '"msg":"engine run failed"' "$work/log" | grep -q 'retry_max_ms' &&
  fail "the line names a back-off where there is none"
[ "$(sqlite3 "$work/book.db" "SELECT group_concat(id || ':' || state) \
  FROM (SELECT id, state FROM cases ORDER BY id)")" = \
  "BAD:open,G1:working,G2:working,G3:working" ] ||
  fail "the other cases did not go on"
echo "ok: set aside logged once; a run failing on one case logged once"
