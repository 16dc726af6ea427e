#!/bin/sh
# Next case (POST /v1/tasks/next) on a PostgreSQL node while another node
# claims the task at the top of the same queue: the caller gets the next
# task, 200, as on one node (where the read and the claim are one job).
# It used to be 409 "not open": the node read the top task open, and
# found it claimed only in its own claim. The other node's claim is
# played by a psql session (session.sh) holding it uncommitted.
# usage: task_next.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: task_next.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=task_next_$$
. "$(dirname "$0")/book.sh"

calls_up
until_t "SELECT count(*) >= 2 FROM tasks WHERE queue = 'phone' AND status = 'open'" \
  "no two calls opened"
curl -s -H "Authorization: Bearer agent" \
  "http://127.0.0.1:$port/v1/tasks?queue=phone&status=open&limit=1" >"$work/top"
top=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["tasks"][0]["id"])' "$work/top")

session_start
sql "BEGIN;"
sql "UPDATE tasks SET status = 'claimed', assignee = 'other' WHERE id = $top;"
until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$db' \
AND state = 'idle in transaction' AND query LIKE 'UPDATE tasks%'" \
  "the session did not claim the task"
curl -s -o "$work/next" -w '%{http_code}\n' -X POST -H "Authorization: Bearer agent" \
  -H "Content-Type: application/json" -d '{"assignee": "li.wei"}' \
  "http://127.0.0.1:$port/v1/tasks/next?queue=phone" >"$work/next.code" &
c=$!
until_t "SELECT count(*) >= 1 FROM pg_stat_activity WHERE datname = '$db' \
AND wait_event_type = 'Lock'" "Next case did not meet the other claim"
sql "COMMIT;"
session_end
wait "$c" || true

[ "$(cat "$work/next.code")" = 200 ] ||
  fail "Next case beside another node's claim answered $(cat "$work/next.code"), not 200: $(cat "$work/next")"
got=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["task"]["task"])' "$work/next" 2>/dev/null || echo none)
[ "$got" != "$top" ] && [ "$got" != none ] ||
  fail "Next case gave task $got, the one the other node claimed ($top)"
[ $status -eq 0 ] && echo "Next case beside another node's claim: the next task, 200"
exit $status
