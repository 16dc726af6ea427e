#!/bin/sh
# Payments' latency while a big start-up sweep runs, with what the loop's
# turns cost (serve.c's "loop figures" lines) and how much of the time the
# loop's thread ran or waited for a CPU: the HTTP part of run.sh at a size
# a quick look can afford.
# usage: p99.sh BUILD_DIR [CASES] [SECONDS]   (defaults 200000 and 10)
# RECOUP_P99_RUNS: the runs bench_http makes (default "sweep:16 sweep:64";
# "sweep:16" alone keeps the slow payments' figures to the goal's run)
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
# Each of the service's threads: the wall clock, then its id, name,
# nanoseconds on a CPU and waiting for one (Linux's schedstat), before and
# after the requests. The loop is the thread whose id is the process's.
sched() {
  now=$(date +%s%N)
  for t in /proc/$server/task/*; do
    echo "$now ${t##*/} $(cat "$t/comm" 2>/dev/null | tr ' ' _) $(cat "$t/schedstat" 2>/dev/null)"
  done
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
sched > "$work/sched.before"
"$build/tests/bench_http" "$port" bench-ingest "$n" "$secs" ${RECOUP_P99_RUNS:-sweep:16 sweep:64}
sched > "$work/sched.after"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
# A loop that waits for a CPU most of a turn answers as slowly as the
# machine lets it, whatever the turn costs: read the latencies with this.
# The service's other threads that ran meanwhile (copying the WAL back,
# a backup, a what-if) competed with the loop for the machine's CPUs.
awk -v loop="$server" 'NR == FNR { was[$2] = $4 " " $5; t0 = $1; next }
  { split(was[$2], w, " "); wall = $1 - t0; run = $4 - w[1]; wait = $5 - w[2]
    if ($2 == loop) {
      printf "loop_on_cpu_share %.0f %%\nloop_waiting_for_cpu_share %.0f %%\n",
        100 * run / wall, 100 * wait / wall
    } else if (run > 0) {
      printf "thread_%s_%s_on_cpu_share %.1f %%\n", $3, $2, 100 * run / wall
    } }' "$work/sched.before" "$work/sched.after"
ls -l "$work/p99.db-wal" | awk '{ print "wal_bytes_at_end " $5 }'
# The service logs its loop figures when told to stop, then drains: the
# rest of the sweep, which the figures need not wait for.
kill -TERM "$server"
for i in $(seq 1 100); do grep -q '"stopping' "$work/serve.err" && break; sleep 0.1; done
sleep 1
kill -KILL "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; server=
grep '"loop figures"' "$work/serve.err" || true
# Where the slow payments' time went (those answered SLOW_MS, 15 ms, or
# more after the service queued them), a payment's average, from the
# loop figures lines: its wait by what the loop did meanwhile, and by
# whether the loop's thread ran, waited for a CPU, or was off a CPU (the
# disk); then its own commit. Time before the loop read the request (the
# rest of a slice) is the client's latency less these.
sed -n 's/.*"slow_writes":{\([^}]*\)}.*/\1/p' "$work/serve.err" | tr -d '"' |
  tr ',' '\n' | awk -F: '{ v[$1] += $2 }
  END { n = v["count"]; if (!n) exit
    printf "slow_writes %d, each on average: waited %.1f ms (slices %.1f, outbox %.1f, other commits %.1f, the rest %.1f; loop waiting for a CPU %.1f, off a CPU %.1f), own commit %.1f ms (waiting for a CPU %.1f, off a CPU %.1f)\n",
      n, v["waited_ms"] / n, v["slices_ms"] / n, v["outbox_ms"] / n,
      v["commits_ms"] / n, v["other_ms"] / n, v["loop_waiting_for_cpu_ms"] / n,
      v["loop_off_cpu_ms"] / n, v["own_commits_ms"] / n,
      v["own_commits_waiting_for_cpu_ms"] / n, v["own_commits_off_cpu_ms"] / n }'
