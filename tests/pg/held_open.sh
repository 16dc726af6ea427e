#!/bin/sh
# A new case sent through the service while another writer (an import,
# a psql session, another node) holds the opening of cases, on a
# PostgreSQL book. The upsert waited for the right to open on the node's
# one loop thread: /health and every other write stopped until the
# holder committed (an import: minutes). It now waits in the node, which
# goes on answering; after the holder's commit the case is opened once
# and answered 201. With `limit` (RECOUP_HELD_LIMIT=1) the opening still
# held then is answered 503 with Retry-After, nothing written.
# usage: held_open.sh RECOUP EXAMPLE STATE WORKDIR [limit]
set -eu
[ $# -ge 4 ] || { echo "usage: held_open.sh RECOUP EXAMPLE STATE WORKDIR [limit]" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4 mode=${5:-wait}
db=held_open_$$
. "$(dirname "$0")/book.sh"

head -n 2 "$example/data/portfolio.csv" >"$work/one.csv"
other=$(sed -n 2p "$work/one.csv" | cut -d, -f1)
"$recoup" import "$work/one.csv" "$inst" --db "$url" >/dev/null

if [ "$mode" = limit ]; then export RECOUP_HELD_LIMIT=1; else export RECOUP_HELD_LIMIT=3600; fi
node_up 3>&-

open_case() {
  curl -s -m 120 -D "$work/$1.head" -o "$work/$1" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer ingest" -H "Content-Type: application/json" \
    -d '{"id": "NEW-1", "balance": 50000, "due_date": "2026-01-01", "borrower": {"id": "BNEW-1"}}' \
    "http://127.0.0.1:$port/v1/cases" >"$work/$1.code" || true
}

# The holder takes the opening of cases as an import does
# (store_hold_opening) and keeps it uncommitted.
session_start
sql "BEGIN;"
sql "SELECT pg_advisory_xact_lock(hashtext('recoup.case'), 0);"
until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$db' \
AND state = 'idle in transaction' AND query LIKE '%pg_advisory_xact_lock%'" \
  "the session did not take the opening of cases"

open_case held &
opener=$!
set_aside "$work/serve.log" "the node did not say the new case waits"

if [ "$mode" = limit ]; then
  wait "$opener"
  [ "$(cat "$work/held.code")" = 503 ] ||
    fail "a new case whose opening was held past the limit answered '$(cat "$work/held.code")', not 503: $(cat "$work/held")"
  grep -qi '^Retry-After:' "$work/held.head" || fail "the 503 says no Retry-After"
  [ "$(q "SELECT count(*) FROM cases WHERE id = 'NEW-1'")" = 0 ] ||
    fail "the case refused past the limit was written"
  sql "COMMIT;"
  session_end
  open_case again
  [ "$(cat "$work/again.code")" = 201 ] ||
    fail "the case sent again after the commit answered '$(cat "$work/again.code")': $(cat "$work/again")"
else
  answers "$other" "another writer holds the opening of cases"
  kill -0 "$opener" 2>/dev/null ||
    fail "the new case was answered while the opening was held: $(cat "$work/held.code") $(cat "$work/held")"
  [ "$(q "SELECT count(*) FROM cases WHERE id = 'NEW-1'")" = 0 ] ||
    fail "the case was written while the opening was held"
  sql "COMMIT;"
  session_end
  wait "$opener"
  [ "$(cat "$work/held.code")" = 201 ] ||
    fail "the new case answered '$(cat "$work/held.code")' after the holder's commit: $(cat "$work/held")"
fi

[ "$(q "SELECT count(*) FROM cases WHERE id = 'NEW-1'")" = 1 ] ||
  fail "the case was not opened once"
[ "$(q "SELECT count(*) FROM journal WHERE case_id = 'NEW-1' AND kind = 'opened'")" = 1 ] ||
  fail "the case's opening was not journaled once"
[ $status -eq 0 ] && echo "a new case while the opening is held ($mode): the node answers meanwhile, the case is opened once"
exit $status
