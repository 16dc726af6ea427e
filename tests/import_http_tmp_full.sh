#!/bin/sh
# POST /v1/import while /tmp is full: the service imports the body it
# holds, whole, or nothing. Before, it spooled the body to
# /tmp/recoup-import-XXXXXX without checking the writes, and imported what
# fitted: the cases of the rows cut off were missing and the cut last line
# still parsed (an amount_due of 50000 imported as 500), answered 200.
# The service runs in its own mount namespace whose /tmp is a 64 KB tmpfs
# (the work folder bound back into it); where no namespace can be made
# (neither root nor user namespaces) the test reports itself skipped.
# usage: import_http_tmp_full.sh RECOUP WORKDIR
set -u
recoup=$(realpath "$1") work=$2
fail() {
  echo "FAIL: $*" >&2
  [ -f "$work/log" ] && cat "$work/log" >&2
  exit 1
}
rm -rf "$work"
mkdir -p "$work/book"
work=$(realpath "$work")
if unshare -m true 2>/dev/null; then
  ns="unshare -m"
elif unshare -rm true 2>/dev/null; then
  ns="unshare -rm"
else
  echo "skipped: cannot make a mount namespace here"
  exit 77
fi
cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Full Tmp", timezone = "UTC", currency = "USD" }
tokens { ingest = "env:T_INGEST" }
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open", states = { open = {} },
})
LUA
printf 'id,borrower_id,borrower_name,currency,due_date,balance,amount_due\nC0,B0,Zero,USD,2026-01-01,50000,50000\n' \
  >"$work/seed.csv"
"$recoup" import "$work/seed.csv" "$work/book" --db "$work/book.db" \
  --real-time --no-deliver >/dev/null 2>&1 || fail "the first import"
# 4,000 rows of 43 bytes (172 KB, the small /tmp holds 64 KB); the first
# name is padded so that 65,536 bytes end inside a last row's amount_due,
# after "500" of its "50000".
awk 'BEGIN {
  h = "id,borrower_id,borrower_name,currency,due_date,balance,amount_due\n";
  printf "%s", h;
  pad = (65536 - length(h) - 40) % 43;
  name = "N"; for (i = 0; i < pad; i++) name = name "x";
  for (i = 1; i <= 4000; i++) {
    printf "C%05d,B%05d,%s,USD,2026-01-01,50000,50000\n", i, i, name;
    name = "N";
  } }' >"$work/body.csv"
cd "$work" || fail "cd"
# In the namespace: the small tmpfs over /tmp, then bound back at their
# own paths what may be under it (a checkout in /tmp, as a CI's clean
# clone is): the source tree (its shipped scripts), the binary's folder
# and this one, each by a descriptor opened before /tmp was covered;
# then the service.
src=$(cd "$(dirname "$0")/.." && pwd)
T_INGEST=ingest-secret $ns sh -c '
  exec 3<"$3" 4<"$4"
  mount -t tmpfs -o size=64k tmpfs /tmp || exit 3
  mkdir -p "$3" && mount --no-canonicalize --bind /proc/self/fd/3 "$3" || exit 5
  mkdir -p "$4" && mount --no-canonicalize --bind /proc/self/fd/4 "$4" || exit 6
  mkdir -p "$1" && mount --no-canonicalize --bind /proc/self/cwd "$1" || exit 4
  exec 3<&- 4<&-
  exec "$2" serve "$1/book" --listen 127.0.0.1:0 --db "$1/book.db"
' sh "$work" "$recoup" "$src" "$(dirname "$recoup")" >"$work/stdout" 2>"$work/log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
i=0
until grep -q listening "$work/stdout"; do
  i=$((i + 1))
  [ $i -le 300 ] && kill -0 $server 2>/dev/null || fail "the service did not start"
  sleep 0.1
done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/stdout" | head -1)
status=$(curl -s -o "$work/answer" -w '%{http_code}' -X POST \
  -H 'Authorization: Bearer ingest-secret' -H 'Content-Type: text/csv' \
  --data-binary @"$work/body.csv" "http://127.0.0.1:$port/v1/import")
kill $server
wait $server 2>/dev/null
trap - EXIT
[ "$status" = 200 ] || fail "the import answered $status: $(cat "$work/answer")"
grep -q '"rows": *4000' "$work/answer" || fail "not 4000 rows: $(cat "$work/answer")"
got=$(sqlite3 "$work/book.db" "SELECT count(*) || ' ' || sum(amount_due) FROM cases")
[ "$got" = "4001 200050000" ] ||
  fail "cases and amount due in the book: $got (4001 200050000 expected)"
echo "ok: a 172 KB import with a 64 KB /tmp went in whole"
