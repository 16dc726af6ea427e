#!/bin/sh
# A reminder written at 22:00 waits for 08:00; at 23:00 a payment moves
# its case on, at 02:00 the payment bounces and the case is back in the
# state that wrote the reminder, whose enter writes a fresh one. At 08:00
# the fresh reminder goes and the old one does not (`case_moved_on`): a
# step after the one that wrote it moved the case, though it is in the
# same state again. Another case's reminder of the same night goes, and
# so does a nudge its handler wrote without moving its case. Before, the
# old reminder went too, as its case was in its state again: two
# reminders of one debt at 08:00.
# The service runs at set hours (libfaketime, as serve_outbox_hours).
# With STATE (tests/pg/cluster.sh), the book is on PostgreSQL.
# usage: serve_outbox_came_back.sh RECOUP WORKDIR [STATE]
set -u
recoup=$1 work=$2 state=${3:-}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
. "$(dirname "$0")/outbox_serve.sh"
rm -rf "$work"
mkdir -p "$work/book"
export SENT="$work/sent" T_INGEST=ingest-secret
cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Back", timezone = "Asia/Shanghai", currency = "CNY" }
tokens { ingest = "env:T_INGEST" }
policy { contact_hours = { "08:00", "21:00" } }
channel 'gw' { driver = 'exec',
  command = { '/bin/sh', '-c', [[cat >>"$SENT"]] } }
templates {
  owe = { gw = 'you owe {case.balance} on {case.id}' },
  nudge = { gw = 'please call us about {case.id}' },
}
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open",
  states = {
    open = { on = { remind = function(case) return "reminded" end } },
    reminded = {
      enter = function(case) case:send('gw', 'owe') end,
      on = {
        nudge = function(case) case:send('gw', 'nudge') end,
        payment = function(case) return "settling" end,
      },
    },
    settling = { on = { bounced = function(case) return "reminded" end } },
  },
  transitions = { open = { "reminded" }, reminded = { "settling" },
                  settling = { "reminded" } },
})
LUA
{
  echo id,borrower_id,borrower_name,phone,timezone,balance,amount_due,currency,due_date
  for i in 1 2; do
    echo "C$i,B$i,Borrower $i,+861380000000$i,Asia/Shanghai,100000,100000,CNY,2026-11-01"
  done
} >"$work/book.csv"
book_db outbox_came_back
import_book
# The messages as "case:template:status:reason" one after the other.
messages() {
  q "SELECT case_id || ':' || template || ':' || status || ':' || \
    coalesce(reason, '') FROM messages ORDER BY id" | tr '\n' ' '
}
state_of() { q "SELECT state FROM cases WHERE id = 'C1'"; }

# 22:00: each case reminded (deferred), C2 nudged by a step that stays.
serve "2026-11-06T22:00:00+08:00"
post /v1/cases/C1/events '{"type": "remind"}' 202
post /v1/cases/C2/events '{"type": "remind"}' 202
until_db messages \
  "C1:owe:deferred:contact_hours C2:owe:deferred:contact_hours "
post /v1/cases/C2/events '{"type": "nudge"}' 202
until_db messages \
  "C1:owe:deferred:contact_hours C2:owe:deferred:contact_hours C2:nudge:deferred:contact_hours "
stop
# 23:00: C1 pays; 02:00: the payment bounces, C1 is reminded again.
serve "2026-11-06T23:00:00+08:00"
post /v1/payments '{"case": "C1", "amount": 100000, "ref": "P1"}' 201
until_db state_of settling
stop
serve "2026-11-07T02:00:00+08:00"
post /v1/cases/C1/events '{"type": "bounced"}' 202
until_db messages \
  "C1:owe:deferred:contact_hours C2:owe:deferred:contact_hours C2:nudge:deferred:contact_hours C1:owe:deferred:contact_hours "
stop
[ ! -e "$SENT" ] || fail "sent at night: $(cat "$SENT")"

serve "2026-11-07T08:00:30+08:00"
until_db messages \
  "C1:owe:cancelled:case_moved_on C2:owe:sent: C2:nudge:sent: C1:owe:sent: "
stop
[ "$(grep -o '"idempotency_key"' "$SENT" | wc -l)" = 3 ] ||
  fail "sent: $(cat "$SENT")"
[ "$(grep -c '"body":"you owe [^"]* on C1"' "$SENT")" = 1 ] ||
  fail "C1 reminded other than once: $(cat "$SENT")"
grep -q '"body":"please call us about C2"' "$SENT" || fail "no nudge: $(cat "$SENT")"
[ "$(q "SELECT count(*) FROM journal WHERE case_id = 'C1' AND kind = 'policy' \
  AND detail LIKE '%case_moved_on%'")" = 1 ] || fail "not journaled"
grep -q "AddressSanitizer\|runtime error" "$work/log" && { cat "$work/log" >&2; fail "sanitizer"; }
echo "ok: the reminder written before its case left and came back did not go at 08:00; the fresh one did, once"
