#!/bin/sh
# The service on a PostgreSQL book: a few cases imported, then `recoup
# serve` on a free loopback port answers /health, takes a payment once (the
# same ref again is a duplicate), shows the case with the payment applied,
# lists cases and draws the Overview; once the server ends its connection,
# /health says the node no longer holds the database (503, connected
# false); and it stops cleanly on SIGTERM.
# usage: serve.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: serve.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
cluster="sh $(dirname "$0")/cluster.sh"
db=serve_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
# The institution copied: its file channels write under its directory.
cp -r "$example" "$work/inst"
rm -rf "$work/inst/var"
head -n 11 "$example/data/portfolio.csv" >"$work/small.csv"
$cluster sql "$state" "CREATE DATABASE $db"
"$recoup" import "$work/small.csv" "$work/inst" --db "$url" >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RECOUP_INGEST_TOKEN=ingest RECOUP_READ_TOKEN=read RECOUP_ADMIN_TOKEN=admin \
  RECOUP_AGENT_TOKEN=agent "$recoup" serve "$work/inst" --db "$url" \
  --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
base="http://127.0.0.1:$port"
i=0
until curl -sf "$base/health" >"$work/health" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the service did not answer /health" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.2
done

status=0
expect() { # name, file, text it must hold
  if ! grep -q "$3" "$2"; then
    echo "FAIL: $1: $(cat "$2")" >&2
    status=1
  fi
}
case_id=$($cluster sql "$state" "SELECT min(id) FROM cases" "$db")
balance=$($cluster sql "$state" "SELECT balance FROM cases WHERE id = '$case_id'" "$db")
pay() {
  curl -s -X POST -H "Authorization: Bearer ingest" \
    -H "Content-Type: application/json" \
    -d "{\"case\": \"$case_id\", \"amount\": 12000, \"ref\": \"BANK-1\"}" \
    "$base/v1/payments"
}
expect health "$work/health" '"db_writable":true'
expect "health's store" "$work/health" \
  '"store":{"backend":"postgresql","connected":true,"writable":true}'
pay >"$work/pay1"
expect "a payment" "$work/pay1" '"status":"applied"'
pay >"$work/pay2"
expect "the same payment again" "$work/pay2" '"status":"duplicate"'
curl -s -H "Authorization: Bearer read" "$base/v1/cases/$case_id" >"$work/case"
expect "the case" "$work/case" "\"balance\":$((balance - 12000))"
curl -s -H "Authorization: Bearer read" "$base/v1/cases?limit=5" >"$work/cases"
expect "the case list" "$work/cases" "\"id\":\"$case_id\""
curl -s -H "Authorization: Bearer admin" "$base/v1/overview" >"$work/overview"
expect "the overview" "$work/overview" '"by_state":\[{"workflow"'
# What-if runs on a copy of a database file: on PostgreSQL the log and
# the console (the 503's message) say so, not "cannot resolve the binary,
# the database or the scripts" (realpath of the URL).
curl -s -H "Authorization: Bearer admin" "$base/v1/strategies" >"$work/strategies"
expect "what-if on PostgreSQL, the answer" "$work/strategies" \
  'what-if runs on a copy of a database file; on PostgreSQL run `recoup simulate` beside the service'
expect "what-if on PostgreSQL, the log" "$work/serve.log" \
  '"error":"what-if runs on a copy of a database file; on PostgreSQL run `recoup simulate` beside the service","level":"warn","msg":"what-if unavailable"'
if grep -q "cannot resolve" "$work/serve.log"; then
  echo "FAIL: the log says it cannot resolve something" >&2
  status=1
fi
# The server ends the node's connection and takes no new one to its
# database (a server restarting, a failover under way): the node no longer
# holds the database, and says so, whether or not it tries to reconnect.
$cluster sql "$state" "ALTER DATABASE $db ALLOW_CONNECTIONS false" >/dev/null
$cluster sql "$state" "SELECT count(pg_terminate_backend(pid)) FROM \
pg_stat_activity WHERE datname = '$db'" >/dev/null
code=$(curl -s -o "$work/health2" -w '%{http_code}' "$base/health")
[ "$code" = 503 ] || { echo "FAIL: /health without the database: $code" >&2; status=1; }
expect "health without the database" "$work/health2" \
  '"store":{"backend":"postgresql","connected":false,"writable":false}'
# Each second the node reads the book's reload generation; while the
# database stays away that read fails each time, and is said once.
sleep 3.5
n=$(grep -c 'reload generation unreadable' "$work/serve.log" || true)
[ "$n" -le 1 ] || { echo "FAIL: an unreadable generation logged $n times" >&2; status=1; }
$cluster sql "$state" "ALTER DATABASE $db ALLOW_CONNECTIONS true" >/dev/null
kill "$pid"
if ! wait "$pid"; then
  echo "FAIL: the service did not stop cleanly" >&2
  status=1
fi
pid=
[ "$($cluster sql "$state" "SELECT count(*) FROM payments" "$db")" = 1 ] || {
  echo "FAIL: not one payment in the book" >&2
  status=1
}
[ $status -eq 0 ] && echo "the service works on PostgreSQL"
exit $status
