#!/bin/sh
# GET /v1/strategies with many candidates and many supervisors
# (runtime/api_simulate.c) against the real `recoup serve` on a loopback
# port it picks: with sixty candidates more than the fifty listed, the
# listing is the first fifty by name, the same each time (it was whichever
# fifty the directory gave first); six supervisors asking at once share
# one listing, one `recoup check` at a time (each had its own: four at
# once held every worker thread, a what-if started meanwhile waited, the
# last answers came after 29 s where one takes 2), and all six get it.
# usage: simulate_strategies_http.sh RECOUP EXAMPLE_DIR WORKDIR
set -u
recoup=$1 example=$2 work=$3
rm -rf "$work"
mkdir -p "$work"
pass=0 fail=0 server=
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { # NAME CONDITION...
  name=$1
  shift
  if "$@"; then ok; else bad "$name"; fi
}
stop() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  server=
}
trap stop EXIT

inst="$work/inst"
cp -r "$example" "$inst"
rm -rf "$inst/var"
# Empty directories are candidates that do not load: listed, not runnable.
for i in $(seq 10 69); do mkdir -p "$inst/strategies/z$i"; done
"$recoup" import "$inst/data/portfolio.csv" "$inst" >"$work/out" 2>&1 ||
  bad "import the example book"

RECOUP_ADMIN_TOKEN=t-admin "$recoup" serve "$inst" --listen 127.0.0.1:0 \
  >"$work/serve.out" 2>>"$work/serve.err" &
server=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/serve.out")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { bad "the service started"; cat "$work/serve.err"; exit 1; }

pids=
for i in 1 2 3 4 5 6; do
  curl -s -o "$work/list$i" -w '%{http_code}\n' -H 'Authorization: Bearer t-admin' \
    "http://127.0.0.1:$port/v1/strategies" >"$work/list$i.status" &
  pids="$pids $!"
done
# The most children the service had at once while the six were answered.
most=0 alive=1
while [ "$alive" = 1 ]; do
  alive=0
  for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
  k=$(pgrep -P "$server" | wc -l)
  [ "$k" -gt "$most" ] && most=$k
  sleep 0.05
done
for p in $pids; do wait "$p"; done
check "one check at a time for six listings (saw $most)" [ "$most" -le 1 ]
check "all six answered 200" [ "$(cat "$work"/list?.status | sort -u)" = 200 ]
check "all six the same" [ "$(cat "$work"/list? | jq -c . | sort -u | wc -l)" = 1 ]
check "fifty candidates are listed" [ "$(jq '.strategies | length' "$work/list1")" = 50 ]
check "the first fifty by name" \
  [ "$(jq -r '[.strategies[].name] | join(",")' "$work/list1")" = \
    "$(ls "$inst/strategies" | LC_ALL=C sort | head -50 | paste -sd, -)" ]
check "faster_field is runnable" \
  [ "$(jq '.strategies[] | select(.name=="faster_field") | .runnable' "$work/list1")" = true ]
check "an empty one is not" \
  [ "$(jq '.strategies[] | select(.name=="z10") | .runnable' "$work/list1")" = false ]
stop
if grep -q 'Sanitizer\|runtime error:' "$work/serve.err"; then
  bad "a sanitizer spoke in the service's log"
  grep -A5 'Sanitizer\|runtime error:' "$work/serve.err" | head -40
else ok; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
