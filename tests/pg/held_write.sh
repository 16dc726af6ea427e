#!/bin/sh
# A payment through the service to a case another writer holds (an
# import, a psql session, another node's group), on a PostgreSQL book.
# The payment read its case waiting for the holder, on the node's one
# loop thread: every other request and the sweep stopped for as long as
# the holder held (minutes for a big import). It now waits in the node,
# which goes on answering; once the holder commits it is applied once
# and answered 201. With `limit`, the node is told to wait 1 s
# (RECOUP_HELD_LIMIT): a case still held then is answered 503 with
# Retry-After, nothing written.
# The holder is a psql session (session.sh) holding the case uncommitted.
# usage: held_write.sh RECOUP EXAMPLE STATE WORKDIR [limit]
set -eu
[ $# -ge 4 ] || { echo "usage: held_write.sh RECOUP EXAMPLE STATE WORKDIR [limit]" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4 mode=${5:-wait}
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

pay() {
  curl -s -m 120 -D "$work/$2.head" -o "$work/$2" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer ingest" -H "Content-Type: application/json" \
    -d "{\"case\": \"$1\", \"amount\": 700, \"ref\": \"WAIT-$1\"}" \
    "http://127.0.0.1:$port/v1/payments" >"$work/$2.code" || true
}

session_start
sql "BEGIN;"
sql "SELECT id FROM cases WHERE id = '$case' FOR NO KEY UPDATE;"
until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$db' \
AND state = 'idle in transaction' AND query LIKE '%FOR NO KEY UPDATE%'" \
  "the session did not take the case"

pay "$case" held &
payer=$!
# The node has met the case held (it says so once), and goes on.
set_aside "$work/serve.log" "the node did not say the payment waits for its case"

if [ "$mode" = limit ]; then
  wait "$payer"
  [ "$(cat "$work/held.code")" = 503 ] ||
    fail "a payment to a case held past the limit answered '$(cat "$work/held.code")', not 503: $(cat "$work/held")"
  grep -qi '^Retry-After:' "$work/held.head" ||
    fail "the 503 says no Retry-After"
  [ "$(q "SELECT count(*) FROM payments WHERE ref = 'WAIT-$case'")" = 0 ] ||
    fail "the payment refused past the limit was written"
  sql "COMMIT;"
  session_end
  pay "$case" again
  [ "$(cat "$work/again.code")" = 201 ] ||
    fail "the payment sent again after the commit answered '$(cat "$work/again.code")': $(cat "$work/again")"
else
  answers "$other" "another writer holds a case"
  kill -0 "$payer" 2>/dev/null ||
    fail "the payment to the held case was answered while it was held: $(cat "$work/held.code") $(cat "$work/held")"
  [ "$(q "SELECT count(*) FROM payments WHERE ref = 'WAIT-$case'")" = 0 ] ||
    fail "the payment was written while its case was held"
  sql "COMMIT;"
  session_end
  wait "$payer"
  [ "$(cat "$work/held.code")" = 201 ] ||
    fail "the payment answered '$(cat "$work/held.code")' after the holder's commit: $(cat "$work/held")"
fi

[ "$(q "SELECT count(*) FROM payments WHERE ref = 'WAIT-$case'")" = 1 ] ||
  fail "the payment was not applied once"
after=$(q "SELECT balance FROM cases WHERE id = '$case'")
[ "$after" = $((before - 700)) ] ||
  fail "the balance is $after after a payment of 700 on $before"
[ $status -eq 0 ] && echo "a payment to a held case ($mode): the node answers meanwhile, the payment is applied once"
exit $status
