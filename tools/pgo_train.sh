#!/bin/sh
# The work a profile-guided Release build learns from (`make release`):
# run by the instrumented binaries of BUILD, which write their counts as
# they exit. What a lender's service spends its time on, small: the
# nightly sweep of reminder steps (cases due in id order and shuffled),
# an import with its `opened` handlers, the service's start-up sweep with
# payments arriving over HTTP, and the example institutions' specs.
# Minutes would teach it no more than this does in about a minute: the
# counts give the shape of the hot paths, not their size.
#
# usage: tools/pgo_train.sh BUILD
#   PGO_TRAIN_CASES: the cases swept and imported, default 20000 (the
#   suite's pgo_train runs it small on an uninstrumented build: that the
#   script still works with the binaries it drives)
set -eu
build=$1
n=${PGO_TRAIN_CASES:-20000}
case $n in
  '' | *[!0-9]* | 0*) echo "pgo_train: PGO_TRAIN_CASES is a number of cases, 1 or more, not '$n'" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
recoup="$build/recoup"
work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT INT TERM

cp -r "$root/tests/bench/institution" "$work/institution"
inst="$work/institution"

echo "pgo: the sweep"
"$build/tests/bench_sweep" "$inst" "$work" "$n" "s$n" > /dev/null

echo "pgo: an import"
awk -v n="$n" 'BEGIN { print "id,borrower_id,borrower_name,phone,balance,amount_due,fees,due_date,branch";
  for (i = 0; i < n; i++) printf "C%07d,B%07d,Name %d,+86138%08d,%d,50000,1000,2025-12-%02d,north\n", i, i, i, i, 100000 + i, 1 + i % 28 }' > "$work/book.csv"
"$recoup" import "$work/book.csv" "$inst" --db "$work/import.db" --now 2026-01-05T09:00 > /dev/null

echo "pgo: the service, payments over HTTP"
RECOUP_INGEST_TOKEN=pgo-ingest RECOUP_ADMIN_TOKEN=pgo-admin \
  "$recoup" serve "$inst" --db "$work/import.db" --listen 127.0.0.1:0 --real-time \
  > "$work/serve.out" 2> "$work/serve.err" &
server=$!
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
  grep -q listening "$work/serve.out" && break
  sleep 1
done
port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.out")
[ -n "$port" ] || { echo "pgo: the service did not start:" >&2; cat "$work/serve.err" >&2; exit 1; }
"$build/tests/bench_http" "$port" pgo-ingest "$n" 2 sweep:4 4 > /dev/null
# SIGTERM: the service finishes and exits 0, which writes its counts.
kill "$server"
wait "$server" || { echo "pgo: the service did not stop cleanly" >&2; exit 1; }
server=

echo "pgo: the examples' specs"
for ex in "$root"/examples/*/; do
  name=$(basename "$ex")
  mkdir -p "$work/examples"
  cp -r "$ex" "$work/examples/$name"
  rm -rf "$work/examples/$name/var"
  "$recoup" test "$work/examples/$name" > /dev/null
done
