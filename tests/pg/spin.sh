#!/bin/sh
# A node whose due timers are all held by another node's open batch sleeps
# instead of asking again at once. Node A here is a transaction that holds
# every timer of the book (FOR UPDATE, the lock a claim takes, kept open as
# a long batch would); a `recoup serve` node B starts beside it and runs a
# while. B's transactions on the book are then counted (the server's own
# count, pg_stat_database, read once B has gone): a node that spins makes
# hundreds a second, one that sleeps makes the few of its start and of
# the /health probes. Then A is killed with kill -9 with its batch still
# open: its hold ends with it (nothing of it was committed), and a node
# started after handles every due timer.
# usage: spin.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: spin.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
cluster="sh $(dirname "$0")/cluster.sh"
db=spin_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
psql=$(command -v psql || echo "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql")
pid= holder=
# B's transactions while A holds the timers, at most: its start (the
# schema check, its counter slot, the first sweep) and a few /health
# probes are a few dozen; a node that spins makes thousands in the wait.
LIMIT=100

cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  [ -n "$holder" ] && kill -9 "$holder" 2>/dev/null
  exec 3>&- 2>/dev/null || true
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
cp -r "$example" "$work/inst"
rm -rf "$work/inst/var"
head -n 21 "$example/data/portfolio.csv" >"$work/small.csv"
$cluster sql "$state" "CREATE DATABASE $db"
"$recoup" import "$work/small.csv" "$work/inst" --db "$url" >/dev/null
now_ms="(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
# The reminders the import set, made due now (they come days ahead).
$cluster sql "$state" "UPDATE timers SET due = due - 7 * 86400000" "$db" >/dev/null
due=$($cluster sql "$state" "SELECT count(*) FROM timers WHERE due <= $now_ms" "$db")
[ "$due" -gt 0 ] || { echo "FAIL: no timer is due" >&2; exit 1; }

# Node A: a session whose open transaction holds every timer.
mkfifo "$work/a.in"
"$psql" -X -q -t -A "$url" <"$work/a.in" >"$work/a.out" 2>&1 &
holder=$!
exec 3>"$work/a.in"
echo "BEGIN; SELECT count(*) FROM (SELECT id FROM timers FOR UPDATE) t;" >&3
free="SELECT count(*) FROM (SELECT id FROM timers FOR UPDATE SKIP LOCKED) t"
i=0
until [ "$($cluster sql "$state" "$free" "$db")" = 0 ]; do
  i=$((i + 1))
  [ $i -lt 300 ] || { echo "FAIL: node A did not take the timers" >&2; exit 1; }
  sleep 0.1
done

xacts="SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = '$db'"
before=$($cluster sql "$state" "$xacts")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$recoup" serve "$work/inst" --db "$url" --listen "127.0.0.1:$port" \
  2>"$work/b.log" &
pid=$!
i=0
until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: node B did not answer /health" >&2
    cat "$work/b.log" >&2
    exit 1
  fi
  sleep 0.2
done
# B runs beside A's batch a while (a wait, not a measure: a loaded machine
# makes a spinning node count less here, never a sleeping one more).
sleep 3
kill "$pid"
wait "$pid" || { echo "FAIL: node B did not stop cleanly" >&2; cat "$work/b.log" >&2; exit 1; }
pid=
# Its server process counts its transactions when it ends.
i=0
while [ "$($cluster sql "$state" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'")" != 1 ] &&
  [ $i -lt 300 ]; do
  i=$((i + 1))
  sleep 0.1
done
after=$($cluster sql "$state" "$xacts")
status=0
n=$((after - before))
echo "node B made $n transactions while node A held every timer"
if [ "$n" -gt $LIMIT ]; then
  echo "FAIL: node B asked again and again ($n transactions, at most $LIMIT)" >&2
  status=1
fi
left=$($cluster sql "$state" "SELECT count(*) FROM timers WHERE due <= $now_ms" "$db")
[ "$left" = "$due" ] || { echo "FAIL: node B took timers A held ($left of $due left)" >&2; status=1; }

# A dies with its batch open: its hold ends, nothing of it was kept, and
# the next node handles every due timer.
kill -9 "$holder"
wait "$holder" 2>/dev/null || true
holder=
exec 3>&-
"$recoup" serve "$work/inst" --db "$url" --listen "127.0.0.1:$port" \
  2>"$work/c.log" &
pid=$!
i=0
while [ "$($cluster sql "$state" "SELECT count(*) FROM timers WHERE due <= $now_ms" "$db")" != 0 ]; do
  i=$((i + 1))
  if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the due timers were not handled after node A died" >&2
    cat "$work/c.log" >&2
    exit 1
  fi
  sleep 0.2
done
kill "$pid"
wait "$pid" || status=1
pid=
bad=$($cluster sql "$state" "SELECT count(*) FROM cases WHERE error IS NOT NULL" "$db")
[ "$bad" = 0 ] || { echo "FAIL: $bad cases in error" >&2; status=1; }
[ $status -eq 0 ] && echo "a node beside another's long batch sleeps, and takes over when it dies"
exit $status
