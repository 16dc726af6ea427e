#!/bin/sh
# The PostgreSQL store beside the SQLite one, in the same run: the daily
# reminder sweep (the bench institution: each step reads the case, runs the
# Lua handler, queues an SMS, transitions, journals) by `recoup tick` on
# fresh books of each store in turn (the median of a few rounds), then by
# two `recoup tick` nodes on one PostgreSQL book; then HTTP payments
# (bench_http) against a `recoup serve` node on each store, and two serve
# nodes on one PostgreSQL book. Figures are "name value unit" lines; the
# ratios pg/sqlite are the point (issue 18: a node on PostgreSQL does at
# least a third of what it does on SQLite). On this 2-core machine two
# nodes share the CPU with the server: pg_two_nodes_overhead says what the
# second node costs or gives, not how nodes scale (DESIGN.md, "Two nodes
# on two cores").
#
# The cluster is a throwaway one (tests/pg/cluster.sh: fsync off, as the
# tests run it), so the figures are the round trips and the server's work,
# not a disk's. The statements a step makes are counted on a small book of
# their own with log_statement = all (what is logged is not timed), and
# its round trips on another by strace, when installed.
#
# usage: pg.sh BUILD_DIR   (RECOUP_BENCH_PG_CASES, default 5000 cases;
#   RECOUP_BENCH_PG_ROUNDS, default 3 runs of payments on each store,
#   alternated, whose medians the payments' figures are;
#   RECOUP_BENCH_PG_PAIRS, default as many rounds: pairs of sweeps, one
#   of each store back to back, the first store taking turns, each pair's
#   ratio a figure (pg_sweep_pair_K_ratio) and pg_sweep_ratio their
#   median, the sweeps' figures the medians of each store's;
#   RECOUP_BENCH_PG_SECONDS, default 5 seconds of payments a run;
#   RECOUP_BENCH_PG_ONLY=http: only the HTTP payments, on books swept
#   and delivered untimed; =sweep: only the sweep and its counts)
set -eu
build=${1:-build-release}
here=$(cd "$(dirname "$0")" && pwd)
cluster="sh $here/../pg/cluster.sh"
n=${RECOUP_BENCH_PG_CASES:-5000}
secs=${RECOUP_BENCH_PG_SECONDS:-5}
only=${RECOUP_BENCH_PG_ONLY:-}
rounds=${RECOUP_BENCH_PG_ROUNDS:-3}
recoup="$build/recoup"
work=$(mktemp -d)
state="$work/cluster"
# The serve nodes' pids, one a line: serve runs in a command substitution
# (a subshell), so a variable it set would be lost, and its nodes left
# running after the run.
servers() { cat "$work/servers" 2>/dev/null || true; }

cleanup() {
  for p in $(servers); do kill "$p" 2>/dev/null || true; done
  $cluster stop "$state" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

$cluster start "$state"
base=$($cluster url "$state")
url() { echo "$base" | sed "s|/postgres?|/$1?|"; }
now() { date +%s.%N; }
. "$here/ratio.sh"
per_s() { ratio "$1" "$(awk -v a="$2" -v b="$3" 'BEGIN { print b - a }')" %.0f; }
# A figure whose divisor was 0 (ratio gave nothing) is left out, said:
# goals.sh then calls it not measured.
fig() {
  if [ -z "$2" ]; then echo "pg.sh: $1 not measured (divided by 0)" >&2; return 0; fi
  echo "$1 $2 $3" | tee -a "$work/figures.txt"
}
val() { awk -v k="$1" '$1 == k { print $2 }' "$work/figures.txt"; }
median() { sort -n | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cp -r "$here/institution" "$work/inst"
inst="$work/inst"
# Case ids as bench_http pays them (C0000000...).
book() {
  awk -v n="$1" 'BEGIN { print "id,borrower_id,borrower_name,phone,balance,amount_due,fees,due_date,branch";
    for (i = 0; i < n; i++) printf "C%07d,B%07d,Name %d,+86138%08d,%d,50000,1000,2025-12-%02d,north\n", i, i, i, i, 100000 + i, 1 + i % 28 }'
}
book "$n" >"$work/book.csv"
book 200 >"$work/small.csv"
load() { # csv db
  "$recoup" import "$1" "$inst" --db "$2" --now 2026-01-05T09:00 >/dev/null
}
sweep() { # db [log]
  "$recoup" tick "$inst" --db "$1" --now 2026-01-07T09:00 --no-deliver >"${2:-/dev/null}"
}
newdb() {
  $cluster sql "$state" "CREATE DATABASE $1"
  url "$1"
}
autovacuum() {
  $cluster sql "$state" "ALTER SYSTEM SET autovacuum = $1"
  $cluster sql "$state" "SELECT pg_reload_conf()" >/dev/null
}
fired() { sed -n 's/.*(\([0-9]*\) timers fired.*/\1/p' "$1"; }

if [ "$only" = http ]; then
  # The books as the sweep leaves them (no timer due while paying), its
  # messages delivered: the payments alone are timed. In the full run the
  # first node on each store delivers them while it takes payments.
  deliver() { "$recoup" tick "$inst" --db "$1" --now 2026-01-07T09:00 --deliver >/dev/null; }
  load "$work/book.csv" "$work/book.db"
  deliver "$work/book.db"
  onedb=one
  one=$(newdb "$onedb")
  load "$work/book.csv" "$one"
  deliver "$one"
else
pairs=${RECOUP_BENCH_PG_PAIRS:-$rounds}
echo "== sweep, $n cases, SQLite and PostgreSQL, $pairs pairs"
# CPU (Linux): the nodes', as this shell's waited children, and the
# server's, as its postmaster's ended children (the sweep's backend):
# counts a loaded machine moves less than the wall clock, and on 2 cores
# both share the CPUs. No autovacuum meanwhile: a worker that analysed a
# book during one round and not another made the rounds unlike (its
# plans, and its CPU counted as the sweep's); each book is swept as an
# import leaves it, not analysed.
pm=$(head -n 1 "$(cat "$state")/data/postmaster.pid")
cpu() { awk '{ print $16 + $17 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
autovacuum off
# A pair sweeps a fresh book of each store, both imported first, so that
# its two sweeps follow each other (with an import between them, a pair's
# sweeps were seconds apart, and the machine's load moved meanwhile); the
# store that goes first takes turns, so that a load rising or falling
# through the pairs falls on each store first as often. Each pair's ratio
# is a figure, pg_sweep_ratio their median, and the machine's load when
# the pairs began and ended (/proc/loadavg) says what they ran beside.
# One sweep of each was too short to hold still: a 5,000-case SQLite
# sweep lasts about 0.2 s, and its figure alone swung 22k-31k steps/s
# between quiet runs.
load1() { cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0; }
fig pg_sweep_load_before "$(load1)" load
cpu_sqlite=0 cpu_node=0 cpu_server=0
on_sqlite() { # pair
  c0=$(cpu $$)
  t0=$(now); sweep "$work/book$1.db" "$work/sqlite.out"; t1=$(now)
  c1=$(cpu $$)
  [ "$(fired "$work/sqlite.out")" = "$n" ] || { echo "pg.sh: SQLite fired $(cat "$work/sqlite.out")" >&2; exit 1; }
  s=$(per_s "$n" "$t0" "$t1")
  cpu_sqlite=$((cpu_sqlite + c1 - c0)) pair_sqlite=$((c1 - c0))
}
on_pg() { # pair
  c0=$(cpu $$); s0=$(cpu "$pm")
  t0=$(now); sweep "$(url "one$1")" "$work/pg1.out"; t1=$(now)
  sleep 0.5 # the backend's end reaches its postmaster
  c1=$(cpu $$); s1=$(cpu "$pm")
  [ "$(fired "$work/pg1.out")" = "$n" ] || { echo "pg.sh: PostgreSQL fired $(cat "$work/pg1.out")" >&2; exit 1; }
  p=$(per_s "$n" "$t0" "$t1")
  cpu_node=$((cpu_node + c1 - c0)) cpu_server=$((cpu_server + s1 - s0))
  pair_pg=$((c1 - c0 + s1 - s0))
}
for r in $(seq 1 "$pairs"); do
  load "$work/book.csv" "$work/book$r.db"
  onedb=one$r
  one=$(newdb "$onedb")
  load "$work/book.csv" "$one"
  sleep 0.5 # the import's backend ends before the sweep's is counted
  if [ $((r % 2)) = 1 ]; then on_sqlite "$r"; on_pg "$r"; else on_pg "$r"; on_sqlite "$r"; fi
  [ -n "$s" ] && [ -n "$p" ] || { echo "pg.sh: pair $r's sweep took no time (sqlite '$s', pg '$p')" >&2; exit 1; }
  ratio=$(ratio "$p" "$s")
  cratio=$(awk -v s="$pair_sqlite" -v p="$pair_pg" 'BEGIN { printf "%.3f", p ? s / p : 0 }')
  echo "$s $p $ratio" >>"$work/rounds"
  echo "pair $r ($([ $((r % 2)) = 1 ] && echo sqlite first || echo pg first)): sqlite $s pg $p steps/s, pg/sqlite $ratio (CPU $cratio)"
  fig "pg_sweep_pair_${r}_ratio" "$ratio" pg/sqlite
  [ "$r" = "$pairs" ] || rm -f "$work/book$r.db"
done
fig pg_sweep_load_after "$(load1)" load
fig pg_sweep_pairs "$pairs" pairs
fig pg_sweep_ratio_min "$(cut -d' ' -f3 "$work/rounds" | sort -n | head -n 1)" pg/sqlite
fig pg_sweep_ratio_max "$(cut -d' ' -f3 "$work/rounds" | sort -n | tail -n 1)" pg/sqlite
# The books the payments run on (below) are the last pair's.
rm -f "$work/book.db" && mv "$work/book$pairs.db" "$work/book.db"
fig pg_bench_sqlite_steps_per_s "$(cut -d' ' -f1 "$work/rounds" | median)" steps/s
fig pg_steps_per_s "$(cut -d' ' -f2 "$work/rounds" | median)" steps/s
ms() { awk -v c="$1" -v t="$(getconf CLK_TCK)" -v n=$((n * pairs)) 'BEGIN { printf "%.3f", c * 1000 / t / n }'; }
fig pg_bench_sqlite_cpu_ms_per_step "$(ms "$cpu_sqlite")" ms
fig pg_node_cpu_ms_per_step "$(ms "$cpu_node")" ms
fig pg_server_cpu_ms_per_step "$(ms "$cpu_server")" ms
# The CPU a step takes on SQLite over what it takes on PostgreSQL, node
# and server together: the ratio as one core would see it, which the
# machine's load moves little (pg_sweep_ratio, the goal's, is the wall
# clock's: on 2 cores node and server also run at once).
fig pg_sweep_cpu_ratio "$(awk -v s="$cpu_sqlite" -v p=$((cpu_node + cpu_server)) 'BEGIN { printf "%.3f", p ? s / p : 0 }')" sqlite/pg

two=$(newdb two)
load "$work/book.csv" "$two"
t0=$(now)
sweep "$two" "$work/pg2a.out" & a=$!
sweep "$two" "$work/pg2b.out" & b=$!
wait "$a"; wait "$b"
t1=$(now)
total=$(($(fired "$work/pg2a.out") + $(fired "$work/pg2b.out")))
[ "$total" = "$n" ] || { echo "pg.sh: two nodes fired $total of $n" >&2; exit 1; }
fig pg_two_nodes_steps_per_s "$(per_s "$n" "$t0" "$t1")" steps/s
# The median of the pairs' own ratios: a pair's two sweeps run one
# after the other, under much the same load, where the two medians
# above may come from pairs far apart.
fig pg_sweep_ratio "$(cut -d' ' -f3 "$work/rounds" | median)" pg/sqlite
fig pg_two_nodes_overhead "$(ratio "$(val pg_two_nodes_steps_per_s)" "$(val pg_steps_per_s)" %.2f)" two/one

echo "== statements a step (log_statement = all, 200 cases)"
count=$(newdb count)
load "$work/small.csv" "$count"
$cluster sql "$state" "ALTER DATABASE count SET log_statement = 'all'"
log="$(cat "$state")/server.log"
before=$(grep -c 'LOG:  \(statement\|execute\)' "$log" || true)
sweep "$count"
after=$(grep -c 'LOG:  \(statement\|execute\)' "$log" || true)
fig pg_statements_per_step "$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.1f", (b - a) / 200 }')" statements
# Round trips: what a step waits for. Each ends with a Sync message
# (a statement that waits, or a pipeline's sync), so the sends that carry
# one, counted by strace where it is installed, are its round trips (the
# connection's setup and the claims included). A read sent ahead, answered
# while the node works, goes with a Flush instead: counted in sends only.
if command -v strace >/dev/null 2>&1; then
  trips=$(newdb trips)
  load "$work/small.csv" "$trips"
  strace -f -e trace=sendto -s 65536 -o "$work/strace.txt" \
    "$recoup" tick "$inst" --db "$trips" --now 2026-01-07T09:00 --no-deliver >/dev/null
  fig pg_round_trips_per_step "$(grep -c 'S\\0\\0\\0\\4' "$work/strace.txt" | awk '{ printf "%.2f", $1 / 200 }')" round_trips
  fig pg_sends_per_step "$(grep -c '^[0-9]* *sendto(' "$work/strace.txt" | awk '{ printf "%.2f", $1 / 200 }')" sends
fi
fi
[ "$only" = sweep ] && exit 0
autovacuum on

echo "== HTTP payments, $secs s at 16 connections"
export RECOUP_INGEST_TOKEN=bench-ingest
serve() { # db out (emptied first: a stopped service's port is not read)
  : >"$2"
  "$recoup" serve "$inst" --db "$1" --listen 127.0.0.1:0 --real-time >"$2" 2>"$2.err" &
  echo $! >>"$work/servers"
  for i in $(seq 1 100); do grep -q listening "$2" && break; sleep 0.2; done
  sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$2"
}
pay() { # port -> payments/s at 16 connections; failed requests said
  "$build/tests/bench_http" "$1" bench-ingest "$n" "$secs" 16 |
    awk '$1 == "http_events_per_s_16" { print $2 }
         $1 == "http_errors_16" { print "pg.sh: " $0 > "/dev/stderr" }'
}
stop_servers() {
  for p in $(servers); do
    kill -TERM "$p"
    while kill -0 "$p" 2>/dev/null; do sleep 0.1; done # not our child
  done
  rm -f "$work/servers"
}
# Rounds as the sweep's: SQLite then PostgreSQL, each on its own
# service, medians of each and of the rounds' own ratios. One run of each
# was not enough: SQLite's payments wait for the disk's fsync at each
# group commit (PostgreSQL's throwaway cluster does not sync), and its
# figure alone swung 2,952-5,745 payments/s between back-to-back runs.
rm -f "$work/http_rounds"
for r in $(seq 1 "$rounds"); do
  port=$(serve "$work/book.db" "$work/s1")
  on_sqlite=$(pay "$port")
  stop_servers
  port=$(serve "$one" "$work/p1")
  on_pg=$(pay "$port")
  stop_servers
  # A service that did not start gives no figure, one whose payments all
  # failed a figure of 0: never a 0 in a median, nor a ratio over it.
  [ "${on_sqlite:-0}" != 0 ] && [ "${on_pg:-0}" != 0 ] || { echo "pg.sh: payments round $r gave no figure (sqlite '$on_sqlite', pg '$on_pg' payments/s)" >&2; exit 1; }
  echo "$on_sqlite $on_pg $(ratio "$on_pg" "$on_sqlite")" >>"$work/http_rounds"
  echo "round $r: sqlite $on_sqlite pg $on_pg payments/s"
done
fig pg_bench_sqlite_http_per_s "$(cut -d' ' -f1 "$work/http_rounds" | median)" payments/s
fig pg_http_per_s "$(cut -d' ' -f2 "$work/http_rounds" | median)" payments/s
port=$(serve "$one" "$work/p1")
port2=$(serve "$one" "$work/p2")
pay "$port" >"$work/pay1" & a=$!
pay "$port2" >"$work/pay2" & b=$!
wait "$a"; wait "$b"
fig pg_two_nodes_http_per_s "$(($(cat "$work/pay1") + $(cat "$work/pay2")))" payments/s
stop_servers
fig pg_http_ratio "$(cut -d' ' -f3 "$work/http_rounds" | median)" pg/sqlite
fig pg_two_nodes_http_overhead "$(ratio "$(val pg_two_nodes_http_per_s)" "$(val pg_http_per_s)" %.2f)" two/one
# Round trips a payment: the node's sends that carry a Sync (as for the
# sweep above), by strace on one node for a short run of payments, over
# the payments it recorded (the book's own count, before and after).
if command -v strace >/dev/null 2>&1; then
  paid() { $cluster sql "$state" "SELECT count(*) FROM payments" "$onedb"; }
  port=$(serve "$one" "$work/p3")
  strace -f -e trace=sendto -s 65536 -o "$work/strace-http.txt" \
    -p "$(tail -n 1 "$work/servers")" 2>/dev/null & tracer=$!
  sleep 1
  p0=$(paid)
  pay "$port" >/dev/null
  p1=$(paid)
  kill "$tracer"; wait "$tracer" 2>/dev/null || true
  stop_servers
  fig pg_http_round_trips_per_payment "$(ratio "$(grep -c 'S\\0\\0\\0\\4' "$work/strace-http.txt" || true)" $((p1 - p0)) %.2f)" round_trips
fi
