# Sourced by the PostgreSQL tests' scripts that play another writer: a
# psql session of its own, fed through a fifo, holding what it took
# uncommitted. The script sets work (its directory) and url (the book),
# and counts failures in status.
#   session_start [URL]   opens it (on url by default)
#   sql SQL               sends it a statement
#   session_end           closes it; a statement that failed is a failure
#   set_aside LOG WHAT    waits until a node's log says a write waits for
#                         what another writer holds (no time is asserted:
#                         the bound only ends a test gone wrong)
# psql: Debian keeps the server's programs off PATH (cluster.sh's bindir)
if [ -n "${PG_BINDIR:-}" ]; then
  psql=$PG_BINDIR/psql
elif command -v psql >/dev/null 2>&1; then
  psql=psql
else
  psql=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql
fi
spid=
status=0

fail() {
  echo "FAIL: $*" >&2
  status=1
}

session_start() {
  mkfifo "$work/session.in"
  "$psql" -X -q -t -A -v ON_ERROR_STOP=1 "${1:-$url}" <"$work/session.in" \
    >"$work/session.out" 2>&1 &
  spid=$!
  exec 3>"$work/session.in"
}
sql() { echo "$1" >&3; }
session_end() {
  exec 3>&-
  wait "$spid" || fail "the psql session failed: $(cat "$work/session.out")"
  spid=
  rm -f "$work/session.in"
}
set_aside() {
  i=0
  until grep -q "writes wait for a case another writer holds" "$1"; do
    i=$((i + 1))
    [ $i -le 300 ] || { fail "$2"; return 0; }
    sleep 0.2
  done
}
