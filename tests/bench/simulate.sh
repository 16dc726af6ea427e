#!/bin/sh
# `recoup simulate` at size: a generated book of RECOUP_BENCH_SIM_CASES
# cases (default 100,000), 60 days, two arms (the example and its
# faster_field candidate). Prints wall time and peak memory as
# `name value unit` lines, like run.sh.
# usage: tests/bench/simulate.sh BUILD_DIR
set -eu
build=${1:-build-release}
recoup="$build/recoup"
n=${RECOUP_BENCH_SIM_CASES:-100000}
days=${RECOUP_BENCH_SIM_DAYS:-60}
ex=examples/microfinance
work=$(mktemp -d "${TMPDIR:-/tmp}/recoup-bench-sim-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
echo "== simulate: $n cases, $days days, two arms"
sh scripts/gen_portfolio.sh microfinance "$n" >"$work/book.csv"
"$recoup" import "$work/book.csv" "$ex" --db "$work/book.db" \
  --now 2026-01-05T09:00 >/dev/null
/usr/bin/time -f "%e %M" -o "$work/time" "$recoup" simulate "$ex" \
  --db "$work/book.db" --against "$ex/strategies/faster_field" \
  --days "$days" --json "$work/sim.json" >"$work/out"
read -r wall rss <"$work/time"
echo "simulate_${n}_cases_${days}_days_wall_s $wall s"
echo "simulate_${n}_cases_${days}_days_rss_mb $(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }') MB"
