#!/bin/sh
# Payments' events do not pile up on a node whose steps are dear: a
# PostgreSQL book, a payment handler that takes about a millisecond, and
# 64 clients paying at once for 3 seconds. A slice while payments come
# was sized by time alone (2 ms: the fewest, 8 steps, of this handler)
# while a group commit brought up to 64 payments, each queuing an event:
# 2,900-4,100 events were left queued. Now a slice runs at least as many
# steps as the writes committed since the loop last ran out of work, so
# the queue holds at most about what two groups queue.
# usage: backlog.sh RECOUP BENCH_HTTP STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: backlog.sh RECOUP BENCH_HTTP STATE WORKDIR" >&2; exit 2; }
recoup=$1 bench=$2 state=$3 work=$4
here=$(cd "$(dirname "$0")" && pwd)
cluster="sh $here/cluster.sh"
db=backlog_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work/inst"
# The bench's institution, its cases' payment handler made dear.
sed 's|^      on = {$|      on = {\
        payment = function(case)\
          local x = 0\
          for i = 1, 300000 do x = x + i end\
        end,|' "$here/../bench/institution/recoup.lua" >"$work/inst/recoup.lua"
grep -q 'payment = function' "$work/inst/recoup.lua"
awk 'BEGIN { print "id,borrower_id,borrower_name,phone,balance,amount_due,fees,due_date,branch";
  for (i = 0; i < 200; i++) printf "C%07d,B%07d,Name %d,+86138%08d,%d,50000,1000,2025-12-01,north\n", i, i, i, i, 100000 + i }' >"$work/book.csv"
$cluster sql "$state" "CREATE DATABASE $db"
"$recoup" import "$work/book.csv" "$work/inst" --db "$url" --now 2026-01-05T09:00 >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RECOUP_INGEST_TOKEN=ingest "$recoup" serve "$work/inst" --db "$url" \
  --listen "127.0.0.1:$port" --real-time >"$work/serve.out" 2>"$work/serve.log" &
pid=$!
i=0
until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -lt 100 ] || { echo "backlog.sh: the service did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
  sleep 0.2
done

"$bench" "$port" ingest 200 3 64 >"$work/bench.out"
queued=$($cluster sql "$state" "SELECT count(*) FROM events" "$db")
paid=$($cluster sql "$state" "SELECT count(*) FROM payments" "$db")
echo "backlog.sh: $paid payments, $queued events queued at the end"
[ "$paid" -ge 100 ] || { echo "backlog.sh: too few payments to tell" >&2; cat "$work/bench.out" >&2; exit 1; }
[ "$queued" -le 144 ] || { echo "backlog.sh: $queued events queued (at most 144 expected)" >&2; exit 1; }
