#!/bin/sh
# A serving node whose database session is ended under it: `recoup serve`
# on a PostgreSQL book takes a payment, then every session of its database
# is ended with pg_terminate_backend (what an operator, a failover or a
# server restart does); the next payment must be applied and recorded (the
# node connects again on its next operation, outside a transaction), the
# service must say so once in its log, and /health must say the book is
# writable.
# usage: reconnect.sh RECOUP EXAMPLE STATE WORKDIR   (KEEP=1 keeps WORKDIR)
set -eu
[ $# -eq 4 ] || { echo "usage: reconnect.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
cluster="sh $(dirname "$0")/cluster.sh"
db=reconnect_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
cp -r "$example" "$work/inst"
rm -rf "$work/inst/var"
head -n 11 "$example/data/portfolio.csv" >"$work/small.csv"
$cluster sql "$state" "CREATE DATABASE $db"
"$recoup" import "$work/small.csv" "$work/inst" --db "$url" >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RECOUP_INGEST_TOKEN=ingest RECOUP_READ_TOKEN=read "$recoup" serve "$work/inst" \
  --db "$url" --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
base="http://127.0.0.1:$port"
i=0
until curl -sf "$base/health" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the service did not answer /health" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.2
done

status=0
fail() { echo "FAIL: $*" >&2; status=1; }
case_id=$($cluster sql "$state" "SELECT min(id) FROM cases" "$db")
pay() { # ref
  curl -s -X POST -H "Authorization: Bearer ingest" \
    -H "Content-Type: application/json" \
    -d "{\"case\": \"$case_id\", \"amount\": 1000, \"ref\": \"$1\"}" \
    "$base/v1/payments"
}
pay BANK-1 >"$work/pay1"
grep -q '"status":"applied"' "$work/pay1" || fail "the first payment: $(cat "$work/pay1")"

# The node idle first: the start-up sweep's messages delivered and their
# sends recorded (a file's are recorded after its sync, off the loop), so
# that the sessions end while the node is outside a transaction, which is
# what this test is about (one ended inside a transaction fails its batch,
# which runs again: an error line, and a different test).
last= i=0
while [ $i -lt 150 ]; do
  now=$($cluster sql "$state" "SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FROM messages" "$db")
  [ "$now" = "$last" ] && case $now in 0\|*) break ;; esac
  last=$now
  i=$((i + 1))
  sleep 0.2
done
others="datname = '$db' AND pid <> pg_backend_pid()"
ended=$($cluster sql "$state" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE $others")
[ "$ended" -ge 1 ] || fail "no session of the node to end"
i=0
while [ "$($cluster sql "$state" "SELECT count(*) FROM pg_stat_activity WHERE $others")" != 0 ] && [ $i -lt 100 ]; do
  i=$((i + 1))
  sleep 0.1
done
echo "ended $ended session(s) of the node"

pay BANK-2 >"$work/pay2"
grep -q '"status":"applied"' "$work/pay2" || fail "the payment after the sessions ended: $(cat "$work/pay2")"
curl -s "$base/health" >"$work/health"
grep -q '"db_writable":true' "$work/health" || fail "/health: $(cat "$work/health")"
[ "$($cluster sql "$state" "SELECT count(*) FROM payments" "$db")" = 2 ] ||
  fail "not two payments in the book"
kill "$pid"
wait "$pid" || fail "the service did not stop cleanly"
pid=
lines=$(grep -c 'connection lost and made again' "$work/serve.log" || true)
[ "$lines" = 1 ] || { fail "$lines reconnection lines in the log, not one:"; cat "$work/serve.log" >&2; }
# Nothing failed on the way: the node found its session gone before it
# used it (no "outbox" or "commit failed" error line).
errors=$(grep -c '"level":"error"' "$work/serve.log" || true)
[ "$errors" = 0 ] || { fail "$errors error line(s) in the log:"; grep '"level":"error"' "$work/serve.log" >&2; }
[ $status -eq 0 ] && echo "the node connected again and recorded the payment"
exit $status
