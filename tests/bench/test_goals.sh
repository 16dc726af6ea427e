#!/bin/sh
# goals.sh (make bench's table of issue 19's goals) judges each figure
# against its goal, says "not measured" where a figure is absent, and
# writes its verdicts for bench.json.
# usage: test_goals.sh GOALS_SH
set -eu
goals=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/figures.txt" <<'FIG'
sweep_shuffled_ratio_100000 0.21 recoup/raw
sweep_ratio_1000000 0.40 recoup/raw
import_rows_per_s 28000 rows/s
http_p99_ms_during_sweep 15.01 ms
FIG
sh "$goals" "$work/figures.txt" "$work/verdicts.txt" > "$work/table.txt"
cat "$work/table.txt"
fail() { echo "FAIL: $1"; exit 1; }
grep -q 'shuffled 100k: recoup/raw *0.21 *>= 0.35  missed$' "$work/table.txt" || fail "0.21 misses 0.35"
grep -q 'id order 1M: recoup/raw *0.40 *>= 0.4  met$' "$work/table.txt" || fail "0.40 meets 0.4 (at the goal)"
grep -q 'shuffled (steps/jobs) *- *>= 5  not measured$' "$work/table.txt" || fail "an absent figure is not measured"
grep -q 'import / Python sqlite3.*not measured$' "$work/table.txt" || fail "import_vs_python absent"
grep -q 'p99 (ms) *15.01 *<= 15  missed$' "$work/table.txt" || fail "15.01 ms misses 15"
grep -q '^goals: 1 met, 3 missed, 2 not measured$' "$work/table.txt" || fail "the count line"
grep -qx 'goal_sweep_ratio_1000000 1 met' "$work/verdicts.txt" || fail "verdict met"
grep -qx 'goal_http_p99_ms_during_sweep 0 missed' "$work/verdicts.txt" || fail "verdict missed"
grep -q 'goal_recoup_vs_peer_shuffled' "$work/verdicts.txt" && fail "no verdict for what was not measured"
grep -qx 'goals_not_measured 2 goals' "$work/verdicts.txt" || fail "not measured count"
echo ok
