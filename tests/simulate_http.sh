#!/bin/sh
# What-if from the service (runtime/api_simulate.c, docs/simulate.md "From
# the console") against the real `recoup serve` on a loopback port it
# picks, on a copy of the example book: a supervisor runs the current
# strategy against faster_field over HTTP, polls until done and reads the
# report; a second run while one runs is 409; bad bodies are 422 naming the
# field; hostile candidate names and a link out of strategies/ are refused;
# a candidate that does not load is refused with its problems; read may
# list and view but not run; a session write needs the CSRF token; nothing
# is left in the simulations directory; the live book's bytes do not
# change; a run the service was stopped in is failed after a restart; the
# child of a killed service is stopped by the next start (only it); the
# report is sent as the bytes encoding it gave; times carry the
# institution's offset.
# usage: simulate_http.sh RECOUP EXAMPLE_DIR WORKDIR JSON_COMPACT
set -u
recoup=$1 example=$2 work=$3 json_compact=$4
rm -rf "$work"
mkdir -p "$work"
pass=0 fail=0 server= other=
ok() { pass=$((pass + 1)); }
bad() {
  echo "FAIL $1"
  [ -f "$work/body" ] && { echo "  body:"; head -c 2000 "$work/body"; echo; }
  fail=$((fail + 1))
}
check() { # NAME CONDITION...
  name=$1
  shift
  if "$@"; then ok; else bad "$name"; fi
}
stop() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
  server=
}
trap 'stop; [ -n "$other" ] && kill "$other" 2>/dev/null' EXIT

# The example institution with candidates of every kind beside faster_field.
inst="$work/inst"
cp -r "$example" "$inst"
rm -rf "$inst/var"
mkdir -p "$inst/strategies/broken" "$inst/strategies/empty" "$work/outside"
printf 'institution { name = "broken"\n' >"$inst/strategies/broken/recoup.lua"
cp -r "$example/strategies/faster_field/." "$work/outside/"
# A script's own error without a place, whose words are those of check's
# closing count ("1 problem in DIR").
cp -r "$example/strategies/faster_field" "$inst/strategies/fee_cap"
sed -i '1i error("a problem in the fee table: a fee above the cap", 0)' \
  "$inst/strategies/fee_cap/faster_field.lua"
ln -s "$work/outside" "$inst/strategies/elsewhere"
echo "not a candidate" >"$inst/strategies/README.txt"
# A candidate that loads but whose every handler spends its whole
# instruction budget: a what-if of it runs for minutes (hours on a large
# book) unless the service stops it.
cp -r "$example/strategies/faster_field" "$inst/strategies/spin"
sed -i 's/function(case\([^)]*\))/function(case\1) while true do end /' \
  "$inst/strategies/spin/faster_field.lua"
"$recoup" import "$inst/data/portfolio.csv" "$inst" >"$work/out" 2>&1 ||
  bad "import the example book"
printf 'zhang-pw-2026\n' | "$recoup" user add zhang.min --role supervisor "$inst" >/dev/null 2>&1 ||
  bad "add the supervisor"
printf 'wang-pw-2026\n' | "$recoup" user add wang.fang --role read "$inst" >/dev/null 2>&1 ||
  bad "add the read user"

start() {
  # Emptied first: the new service's shell truncates it only once it has
  # forked, and a slow fork let the loop below read the stopped service's
  # port (its requests then failed, and the last reply was read again).
  : >"$work/serve.out"
  RECOUP_ADMIN_TOKEN=t-admin RECOUP_READ_TOKEN=t-read RECOUP_AGENT_TOKEN=t-agent \
    RECOUP_WHATIF_TIMEOUT=${whatif_timeout:-} "$recoup" serve "$inst" --listen 127.0.0.1:0 >"$work/serve.out" 2>>"$work/serve.err" &
  server=$!
  port=
  for _ in $(seq 1 100); do
    port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$work/serve.out")
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || { bad "the service started"; cat "$work/serve.err"; exit 1; }
}

# call METHOD PATH TOKEN [BODY] [CURL ARGS...]: the status into $status, the
# body into $work/body.
call() {
  m=$1 p=$2 t=$3
  shift 3
  b=
  if [ $# -gt 0 ]; then b=$1; shift; fi
  rm -f "$work/body" # a failed request must not leave the last reply
  if [ -n "$b" ]; then
    status=$(curl -s -o "$work/body" -w '%{http_code}' -X "$m" \
      ${t:+-H "Authorization: Bearer $t"} -H 'Content-Type: application/json' \
      --data-binary "$b" "$@" "http://127.0.0.1:$port$p")
  else
    status=$(curl -s -o "$work/body" -w '%{http_code}' -X "$m" \
      ${t:+-H "Authorization: Bearer $t"} "$@" "http://127.0.0.1:$port$p")
  fi
}
field() { jq -r "$1" "$work/body"; }
sims_dir="$inst/var/backups/simulations"
hidden() { ls -A "$sims_dir" 2>/dev/null | grep -c '^\.' ; }

start

# The candidates: runnable, not loading, outside, and no plain file.
call GET /v1/strategies t-admin
check "strategies answers 200" [ "$status" = 200 ]
check "faster_field is runnable" \
  [ "$(field '.strategies[] | select(.name=="faster_field") | .runnable')" = true ]
check "broken is listed with its problem" \
  [ "$(field '.strategies[] | select(.name=="broken") | .errors[0].file')" = recoup.lua ]
check "an empty one says what is missing" \
  [ -n "$(field '.strategies[] | select(.name=="empty") | .errors[0].message' | grep recoup.lua)" ]
check "without the server's paths" [ -z "$(grep -F "$inst" "$work/body")" ]
check "a link out of strategies/ is not runnable" \
  [ "$(field '.strategies[] | select(.name=="elsewhere") | .runnable')" = false ]
check "a plain file is no candidate" \
  [ "$(field '[.strategies[] | select(.name=="README.txt")] | length')" = 0 ]
check "a problem in words like the closing count is listed" \
  [ "$(field '.strategies[] | select(.name=="fee_cap") | .errors[0].message')" = \
    "a problem in the fee table: a fee above the cap" ]
call GET /v1/strategies t-read
check "read may not list candidates" [ "$status" = 403 ]

# Bad bodies: 422 naming the field, nothing started.
for case in 'days:{"days":0}' 'days:{"days":366}' 'days:{"days":"5"}' \
  'runs:{"runs":11}' 'runs:{"runs":0}' 'runs:{"runs":1.5}' 'seed:{"seed":-1}' \
  'colour:{"colour":1}' 'against:{"against":"nope"}' 'against:{"against":7}' \
  'against:{"against":"../../etc"}' 'against:{"against":"%2e%2e"}' \
  'against:{"against":".."}' 'against:{"against":"elsewhere"}' \
  'against:{"against":"faster_field/../broken"}' 'against:{"against":""}'; do
  f=${case%%:*} b=${case#*:}
  call POST /v1/simulations t-admin "$b"
  check "$b is 422" [ "$status" = 422 ]
  check "$b names $f" [ "$(field .error.field)" = "$f" ]
done
call POST /v1/simulations t-admin '[]'
check "a body that is no object is 422" [ "$status" = 422 ]
call POST /v1/simulations t-admin '{"against":"broken"}'
check "a candidate that does not load is 422" [ "$status" = 422 ]
check "its problems are listed" [ "$(field '.error.errors[0].file')" = recoup.lua ]
call POST /v1/simulations t-admin '{"against":"fee_cap"}'
check "a run of it is 422 naming its problem" \
  [ -n "$(field .error.message | grep 'fee above the cap')" ]
call POST /v1/simulations t-admin '{"against":"empty"}'
check "an empty candidate is 422" [ "$status" = 422 ]
check "saying so" [ -n "$(field .error.message | grep recoup.lua)" ]
check "without the server's paths" [ -z "$(grep -F "$inst" "$work/body")" ]
call POST /v1/simulations t-read '{}'
check "read may not run a what-if" [ "$status" = 403 ]
call GET /v1/simulations t-read
check "nothing was started by refused requests" [ "$(field '.simulations | length')" = 0 ]

# A supervisor's session: the write needs its CSRF token.
curl -s -c "$work/jar" -o "$work/body" -H 'Content-Type: application/json' \
  --data-binary '{"name":"zhang.min","password":"zhang-pw-2026"}' \
  "http://127.0.0.1:$port/v1/session"
csrf=$(field .csrf)
call POST /v1/simulations "" '{"against":"faster_field","days":10,"seed":7}' -b "$work/jar"
check "a session write without the CSRF token is 403" [ "$status" = 403 ]
call POST /v1/simulations "" '{"against":"faster_field","days":10,"seed":7}' \
  -b "$work/jar" -H "X-CSRF-Token: $csrf" -D "$work/headers"
check "a supervisor starts a what-if: 202" [ "$status" = 202 ]
check "it is running" [ "$(field .status)" = running ]
check "by the supervisor" [ "$(field .by)" = zhang.min ]
id=$(field .id)
check "Location names it" grep -qi "^Location: /v1/simulations/$id" "$work/headers"
call POST /v1/simulations t-admin '{"days":5}'
check "a second one while it runs is 409" [ "$status" = 409 ]
check "409 names the running one" grep -q "what-if $id is running" "$work/body"
check "409 gives its start in the institution's zone" \
  grep -q "what-if $id is running (started by zhang.min at 20[0-9-]*T[0-9:]*+08:00)" "$work/body"
call POST /v1/simulations t-admin '{"days":0}'
check "a bad body while one runs is 422, not 409" [ "$status" = 422 ]
check "naming its field" [ "$(field .error.field)" = days ]
call POST /v1/simulations t-admin '{"against":"nope"}'
check "an unknown candidate while one runs is 422" [ "$status" = 422 ]

for _ in $(seq 1 600); do
  call GET "/v1/simulations/$id" t-read
  [ "$(field .status)" != running ] && break
  sleep 0.2
done
check "it is done" [ "$(field .status)" = done ]
check "the report has both arms" [ "$(field '[.report.arms[].name] | join(",")')" = current,candidate ]
check "the report has ten days" [ "$(field '.report.arms[0].days | length')" = 10 ]
check "the report has the model" [ "$(field '.report.model | type')" = object ]
check "the seed was used" [ "$(field .report.seed)" = 7 ]
cp "$work/body" "$work/http.json"
# Shanghai: +08:00, never Z.
check "started at, with the institution's offset" \
  [ -n "$(field .at | grep -E '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+08:00$')" ]
check "finished at, with the institution's offset" \
  [ -n "$(field .finished_at | grep -E '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\+08:00$')" ]
# The report is sent as stored: the bytes the service's encoder gives for
# the record and the report, as when it encoded them for each GET.
"$json_compact" <"$work/http.json" >"$work/http.encoded"
check "the answer is the bytes encoding gives" cmp -s "$work/http.json" "$work/http.encoded"
check "the stored report is those bytes" \
  [ "$(jq -c .report "$work/http.json" | sha256sum)" = "$(jq -c . "$sims_dir/sim-$id.report.json" | sha256sum)" ]


# The same report as the command line on the same book.
"$recoup" simulate "$inst" --db "$inst/var/recoup.db" --against "$inst/strategies/faster_field" \
  --days 10 --seed 7 --json "$work/cli.json" >/dev/null 2>"$work/cli.err"
check "the service's report is what the command writes" \
  [ "$(jq -S '.report | del(.arms[].dir)' "$work/http.json" | sha256sum)" = \
    "$(jq -S 'del(.arms[].dir)' "$work/cli.json" | sha256sum)" ]

check "no work file is left" [ "$(hidden)" = 0 ]
call GET /v1/simulations t-read
check "read lists it" [ "$(field '.simulations[0].id')" = "$id" ]
grep -q '"msg":"what-if started".*"by":"zhang.min"\|"by":"zhang.min".*"msg":"what-if started"' "$work/serve.err"
check "the log says who ran it" [ $? -eq 0 ]
call GET /v1/simulations/999 t-read
check "an unknown one is 404" [ "$status" = 404 ]

# The current strategy alone, by the admin token (a session's requests
# write the session's last use): the live book's bytes, the database and
# its WAL, are the same before and after.
live() { cat "$inst/var/recoup.db" "$inst/var/recoup.db-wal" 2>/dev/null | sha256sum; }
before=$(live)
call POST /v1/simulations t-admin '{"days":3}'
check "against null runs the current strategy" [ "$status" = 202 ]
id2=$(field .id)
for _ in $(seq 1 300); do
  call GET "/v1/simulations/$id2" t-read
  [ "$(field .status)" != running ] && break
  sleep 0.2
done
check "one arm" [ "$(field '.report.arms | length')" = 1 ]
check "the live book's bytes are unchanged" [ "$(live)" = "$before" ]
check "no work file is left" [ "$(hidden)" = 0 ]

# The service stops while one runs.
call POST /v1/simulations t-admin '{"against":"faster_field","days":365,"runs":10}'
id3=$(field .id)
sleep 0.5
stop
check "no work file is left after a stop" [ "$(hidden)" = 0 ]
check "no child outlives the service" [ -z "$(pgrep -f "simulations/.sim-$id3" || true)" ]
start
call GET "/v1/simulations/$id3" t-read
check "a run the service stopped in is failed" [ "$(field .status)" = failed ]
check "saying so" [ "$(field .error)" = "service stopped" ]
call GET "/v1/simulations/$id" t-read
check "a report survives a restart" [ "$(field .report.seed)" = 7 ]

# The service is killed while one runs: nothing kills its child then (it
# runs on while the service is down); the next start stops it (.child
# names it) and removes its work files, and the run is listed failed.
call POST /v1/simulations t-admin '{"against":"faster_field","days":365,"runs":10}'
id5=$(field .id)
# Once the simulation itself runs its arms (the copy before it is over in
# a moment). Not sooner: a child that is still calibrating writes its
# "about N seconds" line to the service next, and with the service gone
# that write ends it (SIGPIPE), which is right but not what this tests.
for _ in $(seq 1 300); do
  [ -n "$(pgrep -f " simulate .*simulations/.sim-$id5" || true)" ] &&
    [ -n "$(find "$sims_dir" -path "*.sim-$id5*" -name 'current-[0-9]*.db' 2>/dev/null | head -n 1)" ] &&
    break
  sleep 0.1
done
kill -9 "$server"
wait "$server" 2>/dev/null
server=
check "the simulation outlives a killed service" \
  [ -n "$(pgrep -f " simulate .*simulations/.sim-$id5" || true)" ]
check "the child is recorded" [ -f "$sims_dir/.child" ]
start
# Stopped by the start, before it listens: no waiting for it here.
check "after the next start the killed service's child is gone" \
  [ -z "$(pgrep -f "simulations/.sim-$id5" || true)" ]
check "and removes its work files" [ "$(hidden)" = 0 ]
call GET "/v1/simulations/$id5" t-read
check "the killed service's run is failed" [ "$(field .status)" = failed ]
stop

# A recorded child whose pid another process has taken since is left
# alone: a process with another command line, and one with its own
# command line recorded that is not our binary.
sleep 600 &
other=$!
sleep 0.2
{ printf '%s\n' "$other"
  printf '%s\000' "$(readlink -f "$recoup")" simulate "$inst" --db "$sims_dir/.sim-9.copy.db"; } >"$sims_dir/.child"
start
check "a reused pid is not killed" kill -0 "$other"
stop
{ printf '%s\n' "$other"; cat "/proc/$other/cmdline"; } >"$sims_dir/.child"
start
check "a process that is not ours is not killed" kill -0 "$other"
check "its record goes" [ ! -e "$sims_dir/.child" ]
stop
kill "$other"
wait "$other" 2>/dev/null
other=

# A what-if that outlives its time limit is stopped and failed, saying so;
# the next one may run.
whatif_timeout=2
start
call POST /v1/simulations t-admin '{"against":"spin","days":3}'
check "the spinning candidate starts" [ "$status" = 202 ]
id4=$(field .id)
for _ in $(seq 1 300); do
  call GET "/v1/simulations/$id4" t-read
  [ "$(field .status)" != running ] && break
  sleep 0.2
done
check "a what-if past its time is failed" [ "$(field .status)" = failed ]
check "saying it took too long" \
  [ -n "$(field .error | grep 'took longer than 2 s')" ]
check "no work file is left after a timeout" [ "$(hidden)" = 0 ]
check "no child outlives the timeout" [ -z "$(pgrep -f "simulations/.sim-$id4" || true)" ]
call POST /v1/simulations t-admin '{"days":1}'
check "the next one may run" [ "$status" = 202 ]
stop
whatif_timeout=
if grep -q 'Sanitizer\|runtime error:' "$work/serve.err"; then
  bad "a sanitizer spoke in the service's log"
  grep -A5 'Sanitizer\|runtime error:' "$work/serve.err" | head -40
else ok; fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
