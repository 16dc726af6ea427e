#!/bin/sh
# bench_sweep's trees run names the B-trees a reminder step writes: the
# schema run writes case_steps at random and appends to journal_runs and
# messages, raw writes its cases table. Usage: test_trees.sh BENCH_SWEEP
# INSTITUTION WORK
set -eu
bench=$1 inst=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
out=$(RECOUP_BENCH_TREES=1 "$bench" "$inst" "$work" s2003)
echo "$out"
for tree in sweep_shuffled_frames_case_steps schema_shuffled_frames_case_steps \
  schema_shuffled_frames_journal_runs schema_shuffled_frames_messages \
  raw_shuffled_frames_cases; do
  echo "$out" | awk -v t="${tree}_2003" '
    $1 == t && $2 > 0 && $3 == "frames" { found = 1 }
    END { if (!found) { print "no frames for " t; exit 1 } }'
done
# Timed figures mean nothing beside the counting VFS: none printed.
if echo "$out" | grep -q steps_per_s; then
  echo "a trees run printed a timed figure"
  exit 1
fi
rm -rf "$work"
