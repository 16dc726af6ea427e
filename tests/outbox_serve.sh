# Sourced by the serve_outbox_*.sh tests: the service at a set hour
# (libfaketime, as the browser books), stopped and waited on. The caller
# defines fail and messages (what until_db says it has), sets work and
# state (a PostgreSQL cluster's, or empty), and calls book_db, then
# import_book.
faketime=
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 \
  /usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1 \
  /usr/lib/faketime/libfaketime.so.1; do
  [ -e "$f" ] && faketime=$f && break
done
[ -n "$faketime" ] || { echo "skipped: no libfaketime"; exit 77; }

# book_db NAME: the book the test serves, $work/book.db, or with $state (a
# PostgreSQL cluster's) a database NAME_PID of that cluster: sets db, q
# (SQL on it) and drop (its removal at the end).
book_db() {
  db=$work/book.db
  q() { sqlite3 "$db" "$1"; }
  if [ -n "$state" ]; then
    cluster="sh $(dirname "$0")/pg/cluster.sh"
    name=$1_$$
    db=$($cluster url "$state" | sed "s|/postgres?|/$name?|")
    q() { $cluster sql "$state" "$1" "$name"; }
    $cluster sql "$state" "CREATE DATABASE $name" >/dev/null ||
      fail "cannot create $name"
    drop() { $cluster sql "$state" "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1; }
  else
    drop() { :; }
  fi
}

# import_book: $work/book.csv into the book at 15:00 Shanghai time, its
# messages queued and nothing delivered.
import_book() {
  "$recoup" import "$work/book.csv" "$work/book" --db "$db" \
    --now 2026-11-06T15:00:00+08:00 --no-deliver >"$work/import.out" 2>&1 ||
    { cat "$work/import.out" >&2; fail "the import"; }
}

# serve AT: the service on the real clock moved to AT; waits for its port.
serve() {
  offset=$(($(date -d "$1" +%s) - $(date +%s)))
  [ $offset -lt 0 ] && sign=- || sign=+
  rm -f "$work/stdout"
  LD_PRELOAD="$faketime${LD_PRELOAD:+ $LD_PRELOAD}" \
    FAKETIME="$sign${offset#-}" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
    "$recoup" serve "$work/book" --db "$db" --listen 127.0.0.1:0 \
    --real-time >"$work/stdout" 2>>"$work/log" &
  server=$!
  trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; drop' EXIT
  i=0
  until url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$work/stdout" \
    2>/dev/null) &&
    [ -n "$url" ]; do
    i=$((i + 1))
    [ $i -le 600 ] && kill -0 $server 2>/dev/null ||
      { cat "$work/log" >&2; fail "the service never listened"; }
    sleep 0.1
  done
  url=${url%/}
}
stop() {
  kill -TERM $server
  wait $server || { tail -40 "$work/log" >&2; fail "the service exited $?"; }
  trap drop EXIT
}
# until COMMAND VALUE: waits for the book to say VALUE (the final state).
until_db() {
  i=0
  until [ "$($1)" = "$2" ]; do
    i=$((i + 1))
    [ $i -le 600 ] && kill -0 $server 2>/dev/null ||
      fail "waited for $2, have: $(messages)"
    sleep 0.1
  done
}
# post PATH BODY CODE: BODY posted to the service with the ingest token
# ($T_INGEST), its answer CODE or the test fails.
post() {
  code=$(curl -s -o "$work/posted" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $T_INGEST" -H 'Content-Type: application/json' \
    -d "$2" "$url$1")
  [ "$code" = "$3" ] || fail "$1 $2: $code $(cat "$work/posted")"
}
