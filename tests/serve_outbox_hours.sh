#!/bin/sh
# A message queued in the day and reached by the outbox at night waits for
# the borrower's contact hours; a cease posted while it waits blocks it,
# but for a legal notice. The service runs at a set hour (libfaketime, as
# the browser books). Before, the outbox sent whatever was due whenever it
# came to it: the three messages went out at 23:30 Shanghai time.
# With STATE (tests/pg/cluster.sh), the book is on PostgreSQL.
# usage: serve_outbox_hours.sh RECOUP WORKDIR [STATE]
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
institution { name = "Hours", timezone = "Asia/Shanghai", currency = "CNY" }
tokens { ingest = "env:T_INGEST" }
policy { contact_hours = { "08:00", "21:00" } }
channel 'gw' { driver = 'exec',
  command = { '/bin/sh', '-c', [[cat >>"$SENT"]] } }
templates {
  t = { gw = 'reminder {case.id}' },
  notice = { legal_notice = true, gw = 'legal notice {case.id}' },
}
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open",
  states = { open = {
    enter = function(case)
      case:send('gw', case.id == 'C2' and 'notice' or 't')
    end,
    on = { cease = function() end } } },
})
LUA
{
  echo id,borrower_id,borrower_name,phone,timezone,balance,amount_due,currency,due_date
  for i in 1 2 3; do
    echo "C$i,B$i,Borrower $i,+861380000000$i,Asia/Shanghai,1000,1000,CNY,2026-11-01"
  done
} >"$work/book.csv"
book_db outbox_hours
# Queued at 15:00, in the window; nothing delivered yet.
import_book
# The messages as "case:status:reason" one after the other.
messages() {
  q "SELECT case_id || ':' || status || ':' || coalesce(reason, '') \
    FROM messages ORDER BY id" | tr '\n' ' '
}
[ "$(messages)" = "C1:queued: C2:queued: C3:queued: " ] ||
  fail "queued: $(messages)"

ceased() { q "SELECT count(*) FROM borrowers WHERE ceased = 1"; }

serve "2026-11-06T23:30:00+08:00"
until_db messages \
  "C1:queued:contact_hours C2:queued:contact_hours C3:queued:contact_hours "
[ ! -e "$SENT" ] || fail "sent at 23:30: $(cat "$SENT")"
[ "$(q "SELECT count(*) FROM messages WHERE attempts = 0 AND next_attempt = \
  $(date -d 2026-11-07T08:00:00+08:00 +%s)000")" = 3 ] ||
  fail "not waiting for 08:00: $(q "SELECT id, attempts, next_attempt FROM messages")"
[ "$(q "SELECT count(*) FROM journal WHERE kind = 'policy' AND detail LIKE \
  '%\"what\":\"outbox\",\"verdict\":\"deferred\",\"reason\":\"contact_hours\",\"until\":\"2026-11-07T08:00:00+08:00\"%'")" = 3 ] ||
  fail "journal: $(q "SELECT case_id, detail FROM journal WHERE kind = 'policy'")"
for c in C3 C2; do
  code=$(curl -s -o "$work/posted" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $T_INGEST" -H 'Content-Type: application/json' \
    -d '{"type": "cease"}' "$url/v1/cases/$c/events")
  [ "$code" = 202 ] || fail "cease for $c: $code $(cat "$work/posted")"
done
until_db ceased 2
stop

serve "2026-11-07T08:00:30+08:00"
until_db messages "C1:sent: C2:sent: C3:blocked:ceased "
stop
[ "$(grep -o '"idempotency_key"' "$SENT" | wc -l)" = 2 ] ||
  fail "sent: $(cat "$SENT")"
grep -q '"body":"legal notice C2"' "$SENT" || fail "the legal notice: $(cat "$SENT")"
grep -q "AddressSanitizer\|runtime error" "$work/log" && { cat "$work/log" >&2; fail "sanitizer"; }
echo "ok: messages reached at 23:30 waited for 08:00; a cease since blocked one, not the legal notice"
