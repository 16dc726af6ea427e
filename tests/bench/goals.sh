#!/bin/sh
# The goals of issue 19 in one table, from a run's figures ("name value
# unit" lines, as run.sh collects them): figure, measured, goal, and met or
# missed; "not measured" where the run has no such figure (a size skipped,
# a peer not installed). A missed goal is shown as missed, never lowered.
# With a second argument, also writes the verdicts as "name value unit"
# lines to that file (goal_<key> 1 met / 0 missed; goals_met, goals_missed,
# goals_not_measured), for build/bench.json.
# usage: goals.sh FIGURES [VERDICTS]
set -eu
figures=$1
verdicts=${2:-/dev/null}
: > "$verdicts"
met=0 missed=0 unknown=0
printf '%-46s %10s %9s  %s\n' figure measured goal result
# key, comparison, goal, what it is
while IFS='|' read -r key op goal label; do
  value=$(awk -v k="$key" '$1 == k { v = $2 } END { print v }' "$figures")
  if [ -z "$value" ]; then
    result="not measured"
    value="-"
    unknown=$((unknown + 1))
  elif awk -v v="$value" -v g="$goal" -v op="$op" \
      'BEGIN { exit !((op == ">=" && v + 0 >= g + 0) || (op == "<=" && v + 0 <= g + 0)) }'; then
    result=met
    met=$((met + 1))
    echo "goal_$key 1 met" >> "$verdicts"
  else
    result=missed
    missed=$((missed + 1))
    echo "goal_$key 0 missed" >> "$verdicts"
  fi
  printf '%-46s %10s %9s  %s\n' "$label" "$value" "$op $goal" "$result"
done <<'EOF'
sweep_shuffled_ratio_100000|>=|0.35|sweep, shuffled 100k: recoup/raw
sweep_ratio_1000000|>=|0.4|sweep, id order 1M: recoup/raw
recoup_vs_peer_shuffled|>=|5|recoup/BullMQ, shuffled (steps/jobs)
import_rows_per_s|>=|100000|import, whole command (rows/s)
import_vs_python|>=|1.0|import / Python sqlite3, same rows
http_p99_ms_during_sweep|<=|15|HTTP payments during the sweep, p99 (ms)
EOF
echo "goals: $met met, $missed missed, $unknown not measured"
{
  echo "goals_met $met goals"
  echo "goals_missed $missed goals"
  echo "goals_not_measured $unknown goals"
} >> "$verdicts"
