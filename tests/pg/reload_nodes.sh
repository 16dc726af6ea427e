#!/bin/sh
# A script reload on one node reaches the others (issue 18): three
# `recoup serve` nodes on one PostgreSQL book and one institution
# directory. Version 2 of the workflow is added beside version 1 and node 1
# is reloaded over HTTP; then:
#   - nodes 2 and 3 load it too (their log says "reloaded" by another
#     node, their /metrics the book's generation and version 2);
#   - a case opened through node 2 runs version 2 (on an event posted to
#     node 3), a case opened before keeps running version 1;
#   - a broken script makes node 1's reload refused (422) and the book's
#     generation stays: nodes 2 and 3 load nothing, refuse nothing (shown
#     once the next good reload has reached them: one line each for it,
#     none for the refused one);
#   - a node whose directory lacks version 2, alone on the book, says so
#     at start and leaves a version-2 case's event where it is (not in
#     error, counted in /metrics); node 1, started once it stopped, runs it;
#   - no case in error, no event left pending.
# Waits are polls with a bound (a node looks at the book once a second).
# usage: reload_nodes.sh RECOUP STATE WORKDIR
set -eu
[ $# -eq 3 ] || { echo "usage: reload_nodes.sh RECOUP STATE WORKDIR" >&2; exit 2; }
recoup=$1 state=$2 work=$3
here=$(dirname "$0")
cluster="sh $here/cluster.sh"
db=reload_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
p1= p2= p3=

cleanup() {
  for p in $p1 $p2 $p3; do kill "$p" 2>/dev/null || true; done
  for p in $p1 $p2 $p3; do wait "$p" 2>/dev/null || true; done
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work/inst/workflows"
q() { $cluster sql "$state" "$1" "$db"; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
status=0
fail() {
  echo "FAIL: $*" >&2
  status=1
}

# Version N: a poke moves a case to poked_vN, so the state shows which
# version's handler ran.
workflow() { # version
  cat <<EOF
return recoup.workflow {
  name = "r", version = $1, initial = "open",
  states = {
    open = { on = { poke = function(case) return "poked_v$1" end } },
    poked_v$1 = {},
    closed = { final = true },
  },
  transitions = { open = { "poked_v$1", "closed" }, poked_v$1 = { "closed" } },
}
EOF
}
cat >"$work/inst/recoup.lua" <<'EOF'
institution { name = "Reload", timezone = "UTC", currency = "USD" }
tokens { ingest = "env:RECOUP_INGEST_TOKEN", agent = "env:RECOUP_AGENT_TOKEN",
         read = "env:RECOUP_READ_TOKEN", admin = "env:RECOUP_ADMIN_TOKEN" }
workflow(require "workflows.r1")
EOF
workflow 1 >"$work/inst/workflows/r1.lua"
$cluster sql "$state" "CREATE DATABASE $db" >/dev/null

serve() { # node number, port; the pid in $!
  RECOUP_INGEST_TOKEN=ingest RECOUP_READ_TOKEN=read RECOUP_ADMIN_TOKEN=admin \
    RECOUP_AGENT_TOKEN=agent "$recoup" serve "$work/inst" --db "$url" \
    --listen "127.0.0.1:$2" --real-time 2>>"$work/n$1.log" >/dev/null &
}
up() { # port, pid
  i=0
  until curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 "$2" 2>/dev/null; then
      echo "FAIL: the node on port $1 did not start" >&2
      cat "$work"/n*.log >&2
      exit 1
    fi
    sleep 0.1
  done
}
# Until the command succeeds, or FAIL after about 60 s.
until_true() { # what, command...
  what=$1
  shift
  i=0
  until "$@"; do
    i=$((i + 1))
    if [ $i -gt 600 ]; then
      fail "$what"
      return 1
    fi
    sleep 0.1
  done
}
port1=$(free_port) port2=$(free_port) port3=$(free_port)
serve 1 "$port1"
p1=$!
serve 2 "$port2"
p2=$!
serve 3 "$port3"
p3=$!
up "$port1" "$p1"
up "$port2" "$p2"
up "$port3" "$p3"

post() { # port, path, token, body; the status code, the answer in $work/answer
  curl -s -o "$work/answer" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $3" -H "Content-Type: application/json" \
    -d "$4" "http://127.0.0.1:$1$2"
}
open_case() { # port, id
  code=$(post "$1" /v1/cases ingest "{\"id\":\"$2\",\"balance\":1000,\
\"due_date\":\"2026-01-01\",\"borrower\":{\"id\":\"B$2\"}}")
  [ "$code" = 201 ] || fail "opening $2 through port $1: $code $(cat "$work/answer")"
}
poke() { # port, id
  code=$(post "$1" "/v1/cases/$2/events" ingest '{"type":"poke"}')
  [ "$code" = 202 ] || fail "poking $2 through port $1: $code $(cat "$work/answer")"
}
settled() { [ "$(q "SELECT count(*) FROM events WHERE status = 'pending'")" = 0 ]; }
followed() { # node, generation: its log and its /metrics say so
  [ "$(grep -c "\"by\":\"another node\".*\"generation\":$2,.*\"msg\":\"reloaded\"" \
    "$work/n$1.log")" = 1 ] &&
    curl -s "http://127.0.0.1:$3/metrics" >"$work/metrics$1" &&
    grep -q "^recoup_reload_generation $2\$" "$work/metrics$1"
}

open_case "$port1" OLD
until_true "OLD's opening was not handled" settled

# Version 2 beside version 1, and a reload on node 1.
workflow 2 >"$work/inst/workflows/r2.lua"
echo 'workflow(require "workflows.r2")' >>"$work/inst/recoup.lua"
code=$(post "$port1" /v1/admin/reload admin '')
[ "$code" = 200 ] || fail "node 1's reload: $code $(cat "$work/answer")"
[ "$(q "SELECT value FROM meta WHERE key = 'reload.generation'")" = 1 ] ||
  fail "the book's generation after the reload"
[ "$(q "SELECT value FROM meta WHERE key = 'reload.versions'")" = '{"r":2}' ] ||
  fail "the versions the reload recorded"
until_true "node 2 did not follow node 1's reload" followed 2 1 "$port2"
until_true "node 3 did not follow node 1's reload" followed 3 1 "$port3"
grep -q '^recoup_workflow_version{workflow="r"} 2$' "$work/metrics2" ||
  fail "node 2's /metrics: $(grep recoup_workflow "$work/metrics2")"
grep -q '^recoup_workflow_version{workflow="r"} 2$' "$work/metrics3" ||
  fail "node 3's /metrics: $(grep recoup_workflow "$work/metrics3")"

# A new case through node 2 is on version 2 and runs it (its event through
# node 3); the old case keeps version 1.
open_case "$port2" NEW
until_true "NEW's opening was not handled" settled
poke "$port3" NEW
poke "$port2" OLD
until_true "the pokes were not handled" settled
[ "$(q "SELECT version || ' ' || state FROM cases WHERE id = 'NEW'")" = "2 poked_v2" ] ||
  fail "NEW: $(q "SELECT version, state, error FROM cases WHERE id = 'NEW'")"
[ "$(q "SELECT version || ' ' || state FROM cases WHERE id = 'OLD'")" = "1 poked_v1" ] ||
  fail "OLD: $(q "SELECT version, state, error FROM cases WHERE id = 'OLD'")"

# A broken version 3: node 1 refuses it, the book's generation stays.
echo 'return recoup.workflow { name = "r", version = 3, initial = ' \
  >"$work/inst/workflows/r3.lua"
echo 'workflow(require "workflows.r3")' >>"$work/inst/recoup.lua"
code=$(post "$port1" /v1/admin/reload admin '')
[ "$code" = 422 ] || fail "node 1's broken reload: $code $(cat "$work/answer")"
[ "$(q "SELECT value FROM meta WHERE key = 'reload.generation'")" = 1 ] ||
  fail "a refused reload moved the book's generation"
# Fixed, reloaded again: once nodes 2 and 3 have this one, they have
# logged nothing for the refused one.
rm "$work/inst/workflows/r3.lua"
sed -i '/workflows.r3/d' "$work/inst/recoup.lua"
code=$(post "$port1" /v1/admin/reload admin '')
[ "$code" = 200 ] || fail "node 1's reload after the fix: $code $(cat "$work/answer")"
until_true "node 2 did not follow the second reload" followed 2 2 "$port2"
until_true "node 3 did not follow the second reload" followed 3 2 "$port3"
for n in 2 3; do
  [ "$(grep -c '"msg":"reloaded"' "$work/n$n.log")" = 2 ] ||
    fail "node $n reloaded other than twice: $(grep reload "$work/n$n.log")"
  ! grep -q '"msg":"reload refused"' "$work/n$n.log" ||
    fail "node $n refused a reload: $(grep refused "$work/n$n.log")"
done
grep -q '"msg":"reload refused"' "$work/n1.log" || fail "node 1 did not log its refusal"

# A node whose directory is behind (version 1 only) is alone on the book:
# it leaves the event of a version-2 case where it is, not in error, and
# says so; once it stops (giving its claims back), node 1 runs it.
open_case "$port1" WAIT
until_true "WAIT's opening was not handled" settled
for p in $p1 $p2 $p3; do
  kill "$p"
  wait "$p" || fail "a node did not stop cleanly"
done
p1= p2= p3=
mkdir -p "$work/behind/workflows"
cp "$work/inst/workflows/r1.lua" "$work/behind/workflows/"
grep -v workflows.r2 "$work/inst/recoup.lua" >"$work/behind/recoup.lua"
RECOUP_INGEST_TOKEN=ingest RECOUP_READ_TOKEN=read RECOUP_ADMIN_TOKEN=admin \
  RECOUP_AGENT_TOKEN=agent "$recoup" serve "$work/behind" --db "$url" \
  --listen "127.0.0.1:$port2" --real-time 2>>"$work/n4.log" >/dev/null &
p2=$!
up "$port2" "$p2"
grep -q '"missing":"r v2".*"msg":"scripts behind the book' "$work/n4.log" ||
  fail "the node behind did not say so at start: $(cat "$work/n4.log")"
poke "$port2" WAIT
left() {
  grep -q '"msg":"cases left for a node that has their workflow version".*"version":"r v2"' \
    "$work/n4.log"
}
until_true "the node behind did not leave WAIT's event" left
[ "$(q "SELECT coalesce(error, 'none') || ' ' || state FROM cases WHERE id = 'WAIT'")" = "none open" ] ||
  fail "WAIT on the node behind: $(q "SELECT state, error FROM cases WHERE id = 'WAIT'")"
[ "$(q "SELECT count(*) FROM events WHERE case_id = 'WAIT' AND status = 'pending'")" = 1 ] ||
  fail "WAIT's event is not pending: $(q "SELECT * FROM events WHERE case_id = 'WAIT'")"
curl -s "http://127.0.0.1:$port2/metrics" >"$work/metrics4"
grep -q '^recoup_version_waits_total [1-9]' "$work/metrics4" ||
  fail "the node behind's /metrics: $(grep waits "$work/metrics4")"
kill "$p2"
wait "$p2" || fail "the node behind did not stop cleanly"
p2=
serve 1 "$port1"
p1=$!
up "$port1" "$p1"
until_true "node 1 did not run WAIT's event" settled
[ "$(q "SELECT state FROM cases WHERE id = 'WAIT'")" = poked_v2 ] ||
  fail "WAIT: $(q "SELECT version, state, error FROM cases WHERE id = 'WAIT'")"

[ "$(q "SELECT count(*) FROM cases WHERE error IS NOT NULL")" = 0 ] ||
  fail "cases in error: $(q "SELECT id, error FROM cases WHERE error IS NOT NULL")"
kill "$p1"
wait "$p1" || fail "node 1 did not stop cleanly"
p1=
[ $status -eq 0 ] && echo "a reload on one node reached the others"
[ $status -eq 0 ] || cat "$work"/n*.log >&2
exit $status
