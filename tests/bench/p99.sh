#!/bin/sh
# Payments' latency while a big start-up sweep runs, with what the loop's
# turns cost (serve.c's "loop figures" lines) and how much of the time the
# loop's thread ran or waited for a CPU: the HTTP part of run.sh at a size
# a quick look can afford.
# usage: p99.sh BUILD_DIR [CASES] [SECONDS]   (defaults 200000 and 10)
set -eu
build=${1:-build-release}
n=${2:-200000}
secs=${3:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cp -r "$here/institution" "$work/institution"
inst="$work/institution"
awk -v n="$n" 'BEGIN { print "id,borrower_id,borrower_name,phone,balance,amount_due,fees,due_date,branch";
  for (i = 0; i < n; i++) printf "C%07d,B%07d,Name %d,+86138%08d,%d,50000,1000,2025-12-%02d,north\n", i, i, i, i, 100000 + i, 1 + i % 28 }' > "$work/book.csv"
"$build/recoup" import "$work/book.csv" "$inst" --db "$work/p99.db" --now 2026-01-05T09:00 > /dev/null
export RECOUP_INGEST_TOKEN=bench-ingest
"$build/recoup" serve "$inst" --db "$work/p99.db" --listen 127.0.0.1:0 --real-time \
  > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for i in 1 2 3 4 5 6 7 8 9 10; do grep -q listening "$work/serve.out" && break; sleep 1; done
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.out")
# The loop's thread: nanoseconds on a CPU and waiting for one (Linux's
# schedstat), and the wall clock, before and after the requests.
sched() { echo "$(date +%s%N) $(cat "/proc/$server/task/$server/schedstat" 2>/dev/null || echo 0 0 0)"; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
before=$(sched)
"$build/tests/bench_http" "$port" bench-ingest "$n" "$secs" sweep:16 sweep:64
after=$(sched)
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# A loop that waits for a CPU most of a turn answers as slowly as the
# machine lets it, whatever the turn costs: read the latencies with this.
echo "$before $after" | awk '$2 > 0 { wall = $5 - $1;
  printf "loop_on_cpu_share %.0f %%\nloop_waiting_for_cpu_share %.0f %%\n",
    100 * ($6 - $2) / wall, 100 * ($7 - $3) / wall }'
ls -l "$work/p99.db-wal" | awk '{ print "wal_bytes_at_end " $5 }'
kill -TERM "$server"; wait "$server" || true; server=
grep '"loop figures"' "$work/serve.err" || true
