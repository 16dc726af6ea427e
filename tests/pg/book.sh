# Sourced by the PostgreSQL tests that play another node with session.sh
# against nodes of their own: a book of their own, its nodes, and waits
# on what the book answers. The script sets recoup, example, state, work
# and db; this sets cluster, url and inst (the institution, its example
# copied), and stops what it started at exit.
#   q SQL               the book's answer
#   until_t SQL WHAT    waits until the book answers t (no time is
#                       asserted: the bound only ends a test gone wrong)
#   node_up [ARGS]      starts `recoup serve` on a free port with the
#                       agent and ingest tokens, waits for /health; its
#                       port in $port
#   answers CASE WHILE  the node answers /health and takes a payment to
#                       CASE (failures say WHILE what)
#   calls_up            ten cases 20 days overdue and a node on the real
#                       clock at any hour, whose sweep opens their calls
. "$(dirname "$0")/session.sh"
cluster="sh $(dirname "$0")/cluster.sh"
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
inst=$work/inst
pids=

book_cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap book_cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
cp -r "$example" "$inst"
rm -rf "$inst/var"
$cluster sql "$state" "CREATE DATABASE $db"

q() { $cluster sql "$state" "$1" "$db"; }
until_t() {
  i=0
  until [ "$(q "$1")" = t ]; do
    i=$((i + 1))
    [ $i -le 300 ] || { fail "$2"; return 1; }
    sleep 0.2
  done
}
node_up() {
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  RECOUP_AGENT_TOKEN=agent RECOUP_INGEST_TOKEN=ingest "$recoup" serve "$inst" --db "$url" \
    --listen "127.0.0.1:$port" "$@" 2>>"$work/serve.log" >/dev/null &
  pids="$pids $!"
  i=0
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -le 300 ] || { echo "FAIL: the node did not answer: $(cat "$work/serve.log")" >&2; exit 1; }
    sleep 0.2
  done
}
answers() {
  curl -sf -m 60 "http://127.0.0.1:$port/health" >/dev/null ||
    fail "the node does not answer /health while $2"
  code=$(curl -s -m 60 -o "$work/pay" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer ingest" -H "Content-Type: application/json" \
    -d "{\"case\": \"$1\", \"amount\": 500, \"ref\": \"HELD-$1\"}" \
    "http://127.0.0.1:$port/v1/payments") || true
  case $code in 2??) ;; *) fail "a payment answered '$code' while $2: $(cat "$work/pay" 2>/dev/null)" ;; esac
}
calls_up() {
  sed -i '/contact_hours/d' "$inst/recoup.lua"
  head -n 11 "$example/data/portfolio.csv" >"$work/ten.csv"
  "$recoup" import "$work/ten.csv" "$inst" --db "$url" \
    --now "$(date -u -d '20 days ago' +%Y-%m-%dT%H:%M)" >/dev/null
  node_up --real-time
}
