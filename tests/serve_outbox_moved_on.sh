#!/bin/sh
# A message queued while its case was open, whose case closed before the
# outbox sent it, is not sent: the gateway was down for a day, the
# borrower paid in full meanwhile, and the reminder of what was owed is
# cancelled (`case_closed`, journaled) while the thank-you the closing
# step wrote goes, and so does another case's reminder. Before, the
# outbox sent all three: "you owe 1,000.00" after the case was paid.
# The service runs at set hours (libfaketime, as serve_outbox_hours).
# With STATE (tests/pg/cluster.sh), the book is on PostgreSQL.
# usage: serve_outbox_moved_on.sh RECOUP WORKDIR [STATE]
set -u
recoup=$1 work=$2 state=${3:-}
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
. "$(dirname "$0")/outbox_serve.sh"
rm -rf "$work"
mkdir -p "$work/book"
# The gateway refuses while $DOWN exists.
export SENT="$work/sent" DOWN="$work/down" T_INGEST=ingest-secret
cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Moved", timezone = "Asia/Shanghai", currency = "CNY" }
tokens { ingest = "env:T_INGEST" }
channel 'gw' { driver = 'exec', retries = 5,
  command = { '/bin/sh', '-c', [[[ -e "$DOWN" ] && exit 1; cat >>"$SENT"]] } }
templates {
  owe = { gw = 'you owe {case.balance} on {case.id}' },
  thanks = { gw = 'thank you {case.id}' },
}
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open",
  states = {
    open = {
      enter = function(case) case:send('gw', 'owe') end,
      on = { payment = function(case)
        if case.balance <= 0 then return "paid" end
      end },
    },
    paid = { final = true, outcome = "paid",
             enter = function(case) case:send('gw', 'thanks') end },
  },
  transitions = { open = { "paid" } },
})
LUA
{
  echo id,borrower_id,borrower_name,phone,balance,amount_due,currency,due_date
  for i in 1 2; do
    echo "C$i,B$i,Borrower $i,+861380000000$i,100000,100000,CNY,2026-11-01"
  done
} >"$work/book.csv"
book_db outbox_moved
import_book
# The messages as "case:template:status:reason" one after the other.
messages() {
  q "SELECT case_id || ':' || template || ':' || status || ':' || \
    coalesce(reason, '') FROM messages ORDER BY id" | tr '\n' ' '
}
[ "$(messages)" = "C1:owe:queued: C2:owe:queued: " ] ||
  fail "queued: $(messages)"


tried() { q "SELECT count(*) FROM messages WHERE attempts >= 1"; }

# The gateway is down: each attempt fails and waits for a retry. C1 is
# paid in full meanwhile: closed, its thank-you queued (and tried).
touch "$DOWN"
serve "2026-11-06T15:10:00+08:00"
until_db tried 2
code=$(curl -s -o "$work/posted" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $T_INGEST" -H 'Content-Type: application/json' \
  -d '{"case": "C1", "amount": 100000, "ref": "P1"}' "$url/v1/payments")
[ "$code" = 201 ] || fail "payment: $code $(cat "$work/posted")"
until_db tried 3
stop
[ ! -e "$SENT" ] || fail "sent while down: $(cat "$SENT")"
[ "$(q "SELECT state FROM cases WHERE id = 'C1'")" = paid ] ||
  fail "C1 not paid: $(q "SELECT id, state FROM cases")"

# A day later the gateway is back: the retries come due.
rm -f "$DOWN"
serve "2026-11-07T10:00:00+08:00"
until_db messages \
  "C1:owe:cancelled:case_closed C2:owe:sent: C1:thanks:sent: "
stop
[ "$(grep -o '"idempotency_key"' "$SENT" | wc -l)" = 2 ] ||
  fail "sent: $(cat "$SENT")"
grep -q '"body":"thank you C1"' "$SENT" || fail "no thanks: $(cat "$SENT")"
grep -q '"body":"you owe [^"]* on C2"' "$SENT" || fail "no C2: $(cat "$SENT")"
! grep -q '"body":"you owe [^"]* on C1"' "$SENT" ||
  fail "C1's reminder sent: $(cat "$SENT")"
[ "$(q "SELECT count(*) FROM journal WHERE kind = 'policy' AND case_id = 'C1' \
  AND detail LIKE '%\"what\":\"outbox\"%\"verdict\":\"cancelled\",\"reason\":\"case_closed\"%'")" = 1 ] ||
  fail "journal: $(q "SELECT case_id, detail FROM journal WHERE kind = 'policy'")"
grep -q "AddressSanitizer\|runtime error" "$work/log" && { cat "$work/log" >&2; fail "sanitizer"; }
echo "ok: a reminder whose case closed while the gateway was down was cancelled; the closing step's thanks and another case's reminder went"
