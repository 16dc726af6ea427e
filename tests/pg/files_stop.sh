#!/bin/sh
# (pgattack7) A service stopped (SIGTERM) while it writes a backlog of file
# messages, on SQLite and on the throwaway PostgreSQL cluster: it waits
# for the file batch syncing on libuv's thread pool and records it, but
# starts no more (each synced batch started the next, and a stop wrote
# the whole backlog first: with a big one, past systemd's TimeoutStopSec).
# Every line written is recorded sent, none twice; a restart writes the
# rest, each message once with its idempotency key.
# usage: files_stop.sh RECOUP STATE WORKDIR
#   STATE: the cluster's state file (cluster.sh start wrote it)
set -eu
[ $# -eq 3 ] || { echo "usage: files_stop.sh RECOUP STATE WORKDIR" >&2; exit 2; }
recoup=$1 state=$2 work=$3
cluster="sh $(dirname "$0")/cluster.sh"
db=files_stop_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
cases=4000
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work/inst"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Each case sends one SMS (a file channel) as it opens; no contact hours.
cat >"$work/inst/recoup.lua" <<'EOF'
institution { name = "Stop", timezone = "UTC", locale = "en",
              currency = "USD", contact_phone = "555-0100" }
channel "sms" { driver = "file", path = "var/sms.jsonl" }
templates { hi = { sms = "Hello {borrower.name}." } }
workflow(recoup.workflow {
  name = "stop", version = 1, initial = "open",
  states = {
    open = {
      enter = function(case) case:send("sms", "hi") end,
      on = { close = function(case) return "closed" end },
    },
    closed = { final = true, outcome = "ok" },
  },
  transitions = { open = { "closed" } },
})
EOF
awk -v n=$cases 'BEGIN {
  print "id,borrower_id,borrower_name,phone,balance,amount_due,due_date"
  for (i = 1; i <= n; i++)
    printf "S%05d,B%05d,Name %d,+8613800%06d,1000,100,2026-01-01\n", i, i, i, i
}' >"$work/p.csv"

# The messages recorded sent.
sent() {
  case "$1" in
    postgresql*) $cluster sql "$state" \
      "SELECT count(*) FROM messages WHERE status = 'sent'" "$db" ;;
    *) sqlite3 "$1" "SELECT count(*) FROM messages WHERE status = 'sent'" ;;
  esac
}

# Lines in the channel's file, and the distinct messages among them.
lines() { if [ -f "$out" ]; then wc -l <"$out"; else echo 0; fi; }
distinct() {
  sed 's/.*"id":\([0-9]*\),.*/\1/' "$out" | sort -u | wc -l
}

serve() {
  (cd "$work/inst" && exec "$recoup" serve . --db "$1" \
    --listen 127.0.0.1:0 --real-time) >>"$work/serve.log" 2>&1 &
  pid=$!
}

stop() {
  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  pid=
  [ "$rc" = 0 ] || fail "$2: the service exited $rc on SIGTERM"
}

for book in "$work/inst/var/book.db" "$url"; do
  case "$book" in
    postgresql*) name=postgresql; $cluster sql "$state" "CREATE DATABASE $db" ;;
    *) name=sqlite; mkdir -p "$work/inst/var" ;;
  esac
  out=$work/inst/var/sms.jsonl
  rm -f "$out"
  (cd "$work/inst" && "$recoup" import "$work/p.csv" . --db "$book" \
    --real-time --no-deliver) >/dev/null
  serve "$book"
  i=0
  while [ "$(lines)" = 0 ]; do
    i=$((i + 1))
    [ $i -lt 3000 ] || fail "$name: no message written in 30 s"
    sleep 0.01
  done
  stop "$book" "$name"
  n=$(lines)
  [ "$n" -lt $cases ] ||
    fail "$name: the stop wrote the whole backlog ($n of $cases) first"
  [ "$(sent "$book")" = "$n" ] ||
    fail "$name: $n lines written, $(sent "$book") recorded sent"
  [ "$(distinct)" = "$n" ] || fail "$name: a message written twice"
  # The rest at the next start, each once.
  serve "$book"
  i=0
  while [ "$(sent "$book")" != $cases ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || fail "$name: $(sent "$book") of $cases sent in 60 s"
    sleep 0.1
  done
  stop "$book" "$name"
  [ "$(lines)" = $cases ] || fail "$name: $(lines) lines for $cases messages"
  [ "$(distinct)" = $cases ] || fail "$name: a message missing or twice"
  [ "$(grep -c '"idempotency_key":"[^"]*-[0-9]*"' "$out")" = $cases ] ||
    fail "$name: a line without its idempotency key"
  echo "$name: stopped after $n of $cases; the rest once at the restart"
done
echo "files_stop: ok"
