#!/bin/sh
# A write through the service that another writer (an import, a psql
# session, another node's group) holds up, on a PostgreSQL book:
# - `payment`: a payment to a case the other writer holds;
# - `open`: a new case while the other writer holds the opening of cases
#   (as an import does from its start to its commit).
# The write waited for the holder on the node's one loop thread: /health,
# every other request and the sweep stopped for as long as the holder
# held (minutes for a big import). It now waits in the node, which goes
# on answering; once the holder commits it is applied once and answered
# 201. With `limit`, the node is told to wait 1 s (RECOUP_HELD_LIMIT):
# still held then, it is answered 503 with Retry-After, nothing written.
# The holder is a psql session (session.sh) holding it uncommitted.
# usage: held_write.sh RECOUP EXAMPLE STATE WORKDIR wait|limit payment|open
set -eu
[ $# -eq 6 ] || { echo "usage: held_write.sh RECOUP EXAMPLE STATE WORKDIR wait|limit payment|open" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4 mode=$5 what=$6
db=held_write_$$
. "$(dirname "$0")/book.sh"

head -n 3 "$example/data/portfolio.csv" >"$work/two.csv"
case=$(sed -n 2p "$work/two.csv" | cut -d, -f1)
other=$(sed -n 3p "$work/two.csv" | cut -d, -f1)
"$recoup" import "$work/two.csv" "$inst" --db "$url" >/dev/null
before=$(q "SELECT balance FROM cases WHERE id = '$case'")

# No limit that a slow machine could reach, unless it is the test's.
if [ "$mode" = limit ]; then export RECOUP_HELD_LIMIT=1; else export RECOUP_HELD_LIMIT=3600; fi
node_up 3>&-

if [ "$what" = payment ]; then
  noun=payment path=/v1/payments body="{\"case\": \"$case\", \"amount\": 700, \"ref\": \"WAIT-$case\"}"
  hold="SELECT id FROM cases WHERE id = '$case' FOR NO KEY UPDATE;" held_by='%FOR NO KEY UPDATE%'
  written="SELECT count(*) FROM payments WHERE ref = 'WAIT-$case'"
else
  noun="new case" path=/v1/cases body='{"id": "NEW-1", "balance": 50000, "due_date": "2026-01-01", "borrower": {"id": "BNEW-1"}}'
  hold="SELECT pg_advisory_xact_lock(hashtext('recoup.case'), 0);" held_by='%pg_advisory_xact_lock%'
  written="SELECT count(*) FROM cases WHERE id = 'NEW-1'"
fi
send() {
  curl -s -m 120 -D "$work/$1.head" -o "$work/$1" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer ingest" -H "Content-Type: application/json" \
    -d "$body" "http://127.0.0.1:$port$path" >"$work/$1.code" || true
}

session_start
sql "BEGIN;"
sql "$hold"
until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$db' \
AND state = 'idle in transaction' AND query LIKE '$held_by'" \
  "the session did not take what it holds"

send held &
sender=$!
# The node has met it held (it says so once), and goes on.
set_aside "$work/serve.log" "the node did not say the $noun waits"

if [ "$mode" = limit ]; then
  wait "$sender"
  [ "$(cat "$work/held.code")" = 503 ] ||
    fail "a $noun held past the limit answered '$(cat "$work/held.code")', not 503: $(cat "$work/held")"
  grep -qi '^Retry-After:' "$work/held.head" ||
    fail "the 503 says no Retry-After"
  [ "$(q "$written")" = 0 ] || fail "the $noun refused past the limit was written"
  sql "COMMIT;"
  session_end
  send again
  [ "$(cat "$work/again.code")" = 201 ] ||
    fail "the $noun sent again after the commit answered '$(cat "$work/again.code")': $(cat "$work/again")"
else
  answers "$other" "another writer holds up a $noun"
  kill -0 "$sender" 2>/dev/null ||
    fail "the $noun was answered while it was held: $(cat "$work/held.code") $(cat "$work/held")"
  [ "$(q "$written")" = 0 ] || fail "the $noun was written while it was held"
  sql "COMMIT;"
  session_end
  wait "$sender"
  [ "$(cat "$work/held.code")" = 201 ] ||
    fail "the $noun answered '$(cat "$work/held.code")' after the holder's commit: $(cat "$work/held")"
fi

[ "$(q "$written")" = 1 ] || fail "the $noun was not applied once"
if [ "$what" = payment ]; then
  after=$(q "SELECT balance FROM cases WHERE id = '$case'")
  [ "$after" = $((before - 700)) ] ||
    fail "the balance is $after after a payment of 700 on $before"
else
  [ "$(q "SELECT count(*) FROM journal WHERE case_id = 'NEW-1' AND kind = 'opened'")" = 1 ] ||
    fail "the case's opening was not journaled once"
fi
[ $status -eq 0 ] && echo "a $noun held up by another writer ($mode): the node answers meanwhile, the $noun is applied once"
exit $status
