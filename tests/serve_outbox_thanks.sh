#!/bin/sh
# Paid in full at 22:00 the borrower's time: the payment handler thanks,
# then closes the case. The thank-you waits for the contact hours and goes
# at 08:00; the reminder written two steps before the close does not (it
# is cancelled with the close, `case_closed`), and another case's
# reminder of the same night goes. Before, the close cancelled every
# waiting message of the case, the thank-you of the step that closed it
# too: a borrower who paid at night was never thanked (the examples'
# auto_loan thanks on a full payment).
# The service runs at set hours (libfaketime, as serve_outbox_hours).
# With STATE (tests/pg/cluster.sh), the book is on PostgreSQL.
# usage: serve_outbox_thanks.sh RECOUP WORKDIR [STATE]
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
institution { name = "Thanks", timezone = "Asia/Shanghai", currency = "CNY" }
tokens { ingest = "env:T_INGEST" }
policy { contact_hours = { "08:00", "21:00" } }
channel 'gw' { driver = 'exec',
  command = { '/bin/sh', '-c', [[cat >>"$SENT"]] } }
templates {
  owe = { gw = 'you owe {case.balance} on {case.id}' },
  thanks = { gw = 'thank you {case.id}' },
}
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open",
  states = {
    open = { on = {
      remind = function(case) case:send('gw', 'owe') end,
      note = function(case) case:note('called back') end,
      payment = function(case)
        if case.balance <= 0 then
          case:send('gw', 'thanks')
          return "paid"
        end
      end,
    } },
    paid = { final = true, outcome = "paid" },
  },
  transitions = { open = { "paid" } },
})
LUA
{
  echo id,borrower_id,borrower_name,phone,timezone,balance,amount_due,currency,due_date
  for i in 1 2; do
    echo "C$i,B$i,Borrower $i,+861380000000$i,Asia/Shanghai,100000,100000,CNY,2026-11-01"
  done
} >"$work/book.csv"
book_db outbox_thanks
import_book
# The messages as "case:template:status:reason" one after the other.
messages() {
  q "SELECT case_id || ':' || template || ':' || status || ':' || \
    coalesce(reason, '') FROM messages ORDER BY id" | tr '\n' ' '
}
journaled() { q "SELECT count(*) FROM journal WHERE kind = 'note'"; }

# 22:00: a reminder each, a step that writes no message, then C1 paid in
# full. Each waits for the journal of the one before: three steps apart.
serve "2026-11-06T22:00:00+08:00"
post /v1/cases/C1/events '{"type": "remind"}' 202
post /v1/cases/C2/events '{"type": "remind"}' 202
until_db messages \
  "C1:owe:deferred:contact_hours C2:owe:deferred:contact_hours "
post /v1/cases/C1/events '{"type": "note"}' 202
until_db journaled 1
post /v1/payments '{"case": "C1", "amount": 100000, "ref": "P1"}' 201
until_db messages \
  "C1:owe:cancelled:case_closed C2:owe:deferred:contact_hours C1:thanks:deferred:contact_hours "
stop
[ ! -e "$SENT" ] || fail "sent at night: $(cat "$SENT")"
[ "$(q "SELECT state FROM cases WHERE id = 'C1'")" = paid ] ||
  fail "C1 not paid: $(q "SELECT id, state FROM cases")"

serve "2026-11-07T08:00:30+08:00"
until_db messages \
  "C1:owe:cancelled:case_closed C2:owe:sent: C1:thanks:sent: "
stop
[ "$(grep -o '"idempotency_key"' "$SENT" | wc -l)" = 2 ] ||
  fail "sent: $(cat "$SENT")"
grep -q '"body":"thank you C1"' "$SENT" || fail "no thanks: $(cat "$SENT")"
grep -q '"body":"you owe [^"]* on C2"' "$SENT" || fail "no C2: $(cat "$SENT")"
! grep -q '"body":"you owe [^"]* on C1"' "$SENT" ||
  fail "C1's reminder sent: $(cat "$SENT")"
grep -q "AddressSanitizer\|runtime error" "$work/log" && { cat "$work/log" >&2; fail "sanitizer"; }
echo "ok: the thanks written at 22:00 by the step that closed the case went at 08:00; the reminder of two steps before did not"
