#!/bin/sh
# A reload number in the book that does not read (meta's
# reload.generation written by hand as 'abc') is logged once, not once a
# second for as long as it stays, and the service says so when it reads
# again. The book is a SQLite file the script writes beside the service.
# usage: reload_generation_log.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
rm -rf "$work"
mkdir -p "$work/book"
cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Generation", timezone = "UTC", currency = "USD" }
tokens { ingest = "env:T_INGEST" }
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open", states = { open = {} },
})
LUA
"$recoup" tick "$work/book" --db "$work/book.db" --real-time >/dev/null 2>&1
sqlite3 "$work/book.db" \
  "INSERT OR REPLACE INTO meta(key, value) VALUES('reload.generation', 'abc')"
T_INGEST=ingest-secret "$recoup" serve "$work/book" --listen 127.0.0.1:0 \
  --db "$work/book.db" >"$work/stdout" 2>"$work/log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
fail() {
  echo "FAIL: $*" >&2
  cat "$work/log" >&2
  exit 1
}
# Until the log has the line, or FAIL after about 60 s.
wait_for() { # message
  i=0
  until grep -q "\"msg\":\"$1\"" "$work/log"; do
    i=$((i + 1))
    [ $i -le 600 ] && kill -0 $server 2>/dev/null || fail "no '$1' in the log"
    sleep 0.1
  done
}
wait_for "reload generation unreadable"
# The node looks once a second: room for a few more looks at the bad row.
sleep 3
sqlite3 "$work/book.db" "DELETE FROM meta WHERE key = 'reload.generation'"
wait_for "reload generation readable again"
n=$(grep -c '"msg":"reload generation unreadable"' "$work/log")
[ "$n" -eq 1 ] || fail "the unreadable reload number was logged $n times"
grep -q "reload.generation is not a number: 'abc'" "$work/log" ||
  fail "the line does not name the row and its value"
echo "ok: logged once, and once read again"
