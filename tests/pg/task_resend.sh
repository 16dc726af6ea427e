#!/bin/sh
# A task's completion sent again to another PostgreSQL node while the
# first is being written (a phone's offline resend, a client retrying on
# another node after a lost answer): it is a duplicate, 200, as it is
# after the first, and as on SQLite. It used to be 409 "already closed":
# each node read the task open, then waited for its case, and the second
# found the task done by the first only in its write.
# Both completions are made to wait for the case by a psql session
# (session.sh) holding it, as a payment on a third node does; each node
# sets its completion aside meanwhile and tries it again after.
# usage: task_resend.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: task_resend.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=task_resend_$$
. "$(dirname "$0")/book.sh"

calls_up
port1=$port
node_up --real-time
port2=$port
# A call the sweep opened.
until_t "SELECT count(*) > 0 FROM tasks WHERE kind = 'call' AND status = 'open'" \
  "no call opened"
task=$(q "SELECT id FROM tasks WHERE kind = 'call' AND status = 'open' ORDER BY id LIMIT 1")
case=$(q "SELECT case_id FROM tasks WHERE id = $task")

session_start
sql "BEGIN;"
sql "SELECT id FROM cases WHERE id = '$case' FOR NO KEY UPDATE;"
until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$db' \
AND state = 'idle in transaction' AND query LIKE 'SELECT id FROM cases%'" \
  "the session did not take the case"
complete() { # port, file
  curl -s -o "$2" -w '%{http_code}\n' -X POST -H "Authorization: Bearer agent" \
    -H "Content-Type: application/json" \
    -d '{"outcome": "promise", "amount": 1000, "by": "7d"}' \
    "http://127.0.0.1:$1/v1/tasks/$task/complete" >"$2.code"
}
complete "$port1" "$work/first" &
c1=$!
complete "$port2" "$work/second" &
c2=$!
# Each node sets its completion aside while the case is held (it says so
# once), and tries it again after the commit.
i=0
until [ "$(grep -c 'writes wait for a case another writer holds' "$work/serve.log")" -ge 2 ]; do
  i=$((i + 1))
  [ $i -le 300 ] || { fail "the completions did not wait for the case"; break; }
  sleep 0.2
done
sql "COMMIT;"
session_end
wait "$c1" "$c2" || true

codes=$(cat "$work/first.code" "$work/second.code" | sort | tr '\n' ' ')
[ "$codes" = "200 200 " ] ||
  fail "one completion sent to two nodes at once answered $codes(not 200 200): $(cat "$work/first" "$work/second")"
grep -q '"duplicate"' "$work/first" "$work/second" ||
  fail "neither answer is the duplicate: $(cat "$work/first" "$work/second")"
done=$(q "SELECT count(*) FROM journal_runs j, json_array_elements(j.rows::json) r \
WHERE j.case_id = '$case' AND r->>0 = 'task_done'")
[ "$done" = 1 ] || fail "the completion was journaled $done times, not once"
[ $status -eq 0 ] && echo "one completion sent to two nodes at once: done once, the other a duplicate"
exit $status
