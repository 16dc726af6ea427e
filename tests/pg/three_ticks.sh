# Sourced by nodes.sh and order_nodes.sh: three_ticks ROWS runs three
# `tick` nodes (the caller's tick function) on the book at $url ($db on
# the cluster of $state) at once, kills the third with kill -9 once the
# book holds ROWS journal runs more than $before (or at once if the others
# were quicker), and starts it again once the book has no connection of
# it left. A node that fails sets status=1. Outputs: $work/{a,b,c,c2}.out
# and .err; pids holds the running nodes (the caller's cleanup kills
# them).
three_ticks() {
  tick "$url" >"$work/a.out" 2>"$work/a.err" & a=$!
  tick "$url" >"$work/b.out" 2>"$work/b.err" & b=$!
  tick "$url" >"$work/c.out" 2>"$work/c.err" & c=$!
  pids="$a $b $c"
  i=0
  while [ "$($cluster sql "$state" "SELECT count(*) > $before + $1 FROM journal_runs" "$db")" != t ] &&
    [ $i -lt 600 ] && kill -0 "$c" 2>/dev/null; do
    i=$((i + 1))
    sleep 0.1
  done
  if kill -9 "$c" 2>/dev/null; then
    echo "node 3 killed with kill -9 after $(cat "$work/c.out" | wc -l) lines"
  else
    echo "node 3 had finished before the kill: $(cat "$work/c.out")"
  fi
  wait "$c" 2>/dev/null || true
  # Its server process ends when it finds the connection gone, which may
  # be after a lock it was waiting for is granted: the node is started
  # again once the book has no connection of it left.
  for p in $a $b; do
    if ! wait "$p"; then
      echo "FAIL: a node failed:" >&2
      cat "$work/a.err" "$work/b.err" >&2
      status=1
    fi
  done
  pids=
  i=0
  while [ "$($cluster sql "$state" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db'")" != 0 ] &&
    [ $i -lt 600 ]; do
    i=$((i + 1))
    sleep 0.1
  done
  # The killed node started again: it finds what is left, if anything.
  if ! tick "$url" >"$work/c2.out" 2>"$work/c2.err"; then
    echo "FAIL: the restarted node failed: $(cat "$work/c2.err")" >&2
    status=1
  fi
  for n in a b c2; do echo "node $n: $(cat "$work/$n.out")"; done
}
