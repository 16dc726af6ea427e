#!/bin/sh
# A PostgreSQL book attacked from outside, where it could answer otherwise
# than a SQLite one (issue 18: the same answers on both stores):
# - a password in the URL is never printed: not when libpq cannot read the
#   URL (it quotes the part it cannot read), not in the service's log;
# - a URL too long for the store is refused, not cut (cut, it would lose
#   its end: a parameter, or `recoup test`'s scratch=1, and the tests
#   would write the book);
# - two imports of overlapping files at once both succeed, the second
#   updating the cases the first opened, as SQLite's one writer does
#   (they used to fail on the case's key, "unexpected constraint");
# - a payment whose ref another node records while this one records it
#   is a duplicate (same case and amount) or a conflict naming the
#   amount, as when the two come one after the other; the other node is
#   played by a psql session holding the payment uncommitted;
# - a score of -0 reads 0.0, as on SQLite (PostgreSQL kept the sign);
# - what a DBA sets for the database (client_encoding GBK,
#   extra_float_digits 0, repeatable read) changes no answer, and a
#   database not in UTF-8 is refused at open;
# - a role that may only read (a report's, a standby's) opens a current
#   book (the store wrote its schema version at every open).
# usage: attack.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: attack.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
cluster="sh $(dirname "$0")/cluster.sh"
db=attack_$$
dir=$(cat "$state")
url="postgresql:///$db?host=$dir&user=recoup"
pid=
. "$(dirname "$0")/session.sh"

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  $cluster sql "$state" "DROP DATABASE IF EXISTS ${db}_t WITH (FORCE)" >/dev/null 2>&1 || true
  $cluster sql "$state" "DROP DATABASE IF EXISTS ${db}_l WITH (FORCE)" >/dev/null 2>&1 || true
  $cluster sql "$state" "DROP ROLE IF EXISTS ${db}_ro" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
cp -r "$example" "$work/inst"
rm -rf "$work/inst/var"
$cluster sql "$state" "CREATE DATABASE $db"
$cluster sql "$state" "CREATE DATABASE ${db}_t"
# What a DBA may set for a database, that recoup must not answer by:
# another client encoding (the names are Chinese), floats rounded to 15
# digits, transactions that do not see other writers' commits.
$cluster sql "$state" "ALTER DATABASE $db SET client_encoding = 'GBK'"
$cluster sql "$state" "ALTER DATABASE $db SET extra_float_digits = 0"
$cluster sql "$state" "ALTER DATABASE $db SET default_transaction_isolation = 'repeatable read'"
q() { $cluster sql "$state" "$1" "${2:-$db}"; }

# The other node: session.sh's psql session.
# Waits until the book answers t to a question (no time is asserted: the
# bound only ends a test that went wrong).
until_t() {
  i=0
  until [ "$(q "$1")" = t ]; do
    i=$((i + 1))
    [ $i -le 300 ] || { fail "$2"; return 1; }
    sleep 0.2
  done
}
# n backends of the book wait for a lock
waiting() {
  until_t "SELECT count(*) >= $1 FROM pg_stat_activity WHERE datname = \
'$db' AND wait_event_type = 'Lock'" "$2: nothing waited for the lock"
}
# the session has run a statement that starts with $1 and holds it
holding() {
  until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = \
'$db' AND state LIKE 'idle%' AND query LIKE '$1%'" "$2: the session did not run"
}

# --- the URL -------------------------------------------------------------

# libpq quotes the token it cannot decode: here, the password.
if "$recoup" import /dev/null "$work/inst" \
  --db "postgresql://recoup:Sekr%zzit@/$db?host=$dir" >"$work/out" 2>&1; then
  fail "a URL libpq cannot read was taken"
fi
grep -q 'Sekr' "$work/out" && fail "the password is printed: $(cat "$work/out")"
grep -q 'cannot open the PostgreSQL database' "$work/out" ||
  fail "no word of why: $(cat "$work/out")"
if "$recoup" import /dev/null "$work/inst" \
  --db "$url&password=Sekr%zzit" >"$work/out" 2>&1; then
  fail "a URL libpq cannot read was taken"
fi
grep -q 'Sekr' "$work/out" && fail "the password is printed: $(cat "$work/out")"

# A read-only session asked for, padded to 2,100 bytes: the store's
# buffer for the URL holds 2,047, and a parameter past it was left out
# without a word: the import then wrote.
pad=$(head -c 2100 /dev/zero | tr '\0' a)
head -n 2 "$example/data/portfolio.csv" >"$work/one.csv"
if "$recoup" import "$work/one.csv" "$work/inst" \
  --db "$url&options=-c%20default_transaction_read_only%3Don%20-c%20application_name%3D$pad" \
  >"$work/out" 2>&1; then
  fail "a URL longer than the store takes was cut and used"
fi
grep -q 'longer than' "$work/out" || fail "no word of a long URL: $(cat "$work/out")"
[ "$(q "SELECT to_regclass('cases') IS NULL")" = t ] ||
  fail "the long URL's import wrote the book"
# `recoup test` adds scratch=1 to the URL: cut, it would run the specs on
# the book itself.
cp -r "$work/inst" "$work/spec"
if "$recoup" test "$work/spec" \
  --db "postgresql:///${db}_t?host=$dir&user=recoup&application_name=$(head -c 2030 /dev/zero | tr '\0' a)" \
  >"$work/out" 2>&1; then
  fail "recoup test took a URL it would cut"
fi
[ "$(q "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'" "${db}_t")" = 0 ] ||
  fail "recoup test wrote the book named by a cut URL"

# A database of another encoding than UTF-8 is refused at open (LATIN1
# took the names as Latin-1 bytes; a Chinese name in UTF-8 then failed).
$cluster sql "$state" "CREATE DATABASE ${db}_l ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0"
if "$recoup" import "$work/one.csv" "$work/inst" \
  --db "postgresql:///${db}_l?host=$dir&user=recoup" >"$work/out" 2>&1; then
  fail "a LATIN1 database was taken"
fi
grep -q "encoding is LATIN1" "$work/out" || fail "no word of the encoding: $(cat "$work/out")"

# --- two imports of overlapping files at once ----------------------------

head -n 301 "$example/data/portfolio.csv" >"$work/a.csv"
{ head -n 1 "$example/data/portfolio.csv"; sed -n '152,501p' "$example/data/portfolio.csv"; } >"$work/b.csv"
"$recoup" import /dev/null "$work/inst" --db "$url" >/dev/null 2>&1 || true # the schema
# Both held at their start (the schema's lock), then let go together.
session_start
sql "SELECT pg_advisory_lock(hashtext('recoup.schema'));"
holding "SELECT pg_advisory_lock" "the schema's lock"
"$recoup" import "$work/a.csv" "$work/inst" --db "$url" \
  --now 2026-01-05T09:00 >"$work/a.out" 2>&1 &
a=$!
"$recoup" import "$work/b.csv" "$work/inst" --db "$url" \
  --now 2026-01-05T09:00 >"$work/b.out" 2>&1 &
b=$!
waiting 2 "two imports"
sql "SELECT pg_advisory_unlock(hashtext('recoup.schema'));"
session_end
wait "$a" || fail "the first import failed: $(cat "$work/a.out")"
wait "$b" || fail "the second import failed: $(cat "$work/b.out")"
[ "$(q "SELECT count(*) FROM cases")" = 500 ] ||
  fail "not the 500 cases of both files: $(q "SELECT count(*) FROM cases")"
# One opened the 150 cases both hold, the other updated them.
grep -h -o '[0-9]* updated' "$work/a.out" "$work/b.out" | sort >"$work/updated"
printf '0 updated\n150 updated\n' | cmp -s - "$work/updated" ||
  fail "the overlap is not updated once: $(cat "$work/a.out" "$work/b.out")"

# --- a role that may only read ------------------------------------------

# A reporting role (or a standby) opens a current book without writing:
# its report is the owner's.
q "CREATE ROLE ${db}_ro LOGIN; GRANT USAGE ON SCHEMA public TO ${db}_ro; \
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${db}_ro"
"$recoup" report "$work/inst" --db "$url" --now 2026-01-05T09:00 --json \
  >"$work/owner.json"
if ! "$recoup" report "$work/inst" --db "postgresql:///$db?host=$dir&user=${db}_ro" \
  --now 2026-01-05T09:00 --json >"$work/ro.json" 2>"$work/ro.err"; then
  fail "a role that may only read cannot report: $(cat "$work/ro.err")"
elif ! cmp -s "$work/owner.json" "$work/ro.json"; then
  fail "the reading role's report differs from the owner's"
fi

# --- a payment's ref recorded by two nodes at once -------------------------

# (and scores on the way: -0 reads 0.0, as SQLite keeps it, and 17
# digits read as written, whatever extra_float_digits the database sets)
awk -F, -v OFS=, 'NR == 1 { print; for (i = 1; i <= NF; i++) if ($i == "score") s = i; next }
  NR == 2 { $1 = "ZERO-1"; $2 = "PZERO-1"; $s = "-0"; print;
    $1 = "ZERO-2"; $2 = "PZERO-2"; $s = "123456789.12345679"; print }' \
  "$example/data/portfolio.csv" >"$work/zero.csv"
"$recoup" import "$work/zero.csv" "$work/inst" --db "$url" \
  --now 2026-01-05T09:00 >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A password in the URL (the cluster trusts the socket and never asks).
# The imports rehearsed (--now): the service refuses the real clock, and
# its message names the book, without the password.
secret="postgresql://recoup:Hush-9f3k@/$db?host=$dir"
if "$recoup" serve "$work/inst" --db "$secret" --listen "127.0.0.1:$port" \
  2>"$work/serve.log"; then
  fail "the service ran a rehearsed book on the real clock"
fi
grep -q 'Hush-9f3k' "$work/serve.log" &&
  fail "the service's refusal logs the password: $(cat "$work/serve.log")"
grep -q 'simulated clock' "$work/serve.log" ||
  fail "not the refusal expected: $(cat "$work/serve.log")"
RECOUP_INGEST_TOKEN=ingest RECOUP_READ_TOKEN=read "$recoup" serve "$work/inst" \
  --db "$secret" --real-time \
  --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
base="http://127.0.0.1:$port"
i=0
until curl -sf "$base/health" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
    fail "the service did not answer /health: $(cat "$work/serve.log")"
    exit 1
  fi
  sleep 0.2
done
grep -q 'Hush-9f3k' "$work/serve.log" &&
  fail "the service logs the password: $(grep Hush "$work/serve.log")"
grep -q '"db":"postgresql://recoup:\*\*\*@' "$work/serve.log" ||
  fail "the service's log does not name the book: $(cat "$work/serve.log")"

curl -s -H "Authorization: Bearer read" "$base/v1/cases/ZERO-1" >"$work/zero"
grep -q '"score":0.0[,}]' "$work/zero" ||
  fail "a score of -0 does not read 0.0, as on SQLite: $(grep -o '"score":[^,]*' "$work/zero")"
curl -s -H "Authorization: Bearer read" "$base/v1/cases/ZERO-2" >"$work/zero"
grep -q '"score":123456789.12345679[,}]' "$work/zero" ||
  fail "a score of 17 digits does not read as written: $(grep -o '"score":[^,]*' "$work/zero")"
case_id=$(q "SELECT min(id) FROM cases")
pay() { # ref amount -> the answer's status and body in $work/pay
  curl -s -o "$work/pay" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer ingest" -H "Content-Type: application/json" \
    -d "{\"case\": \"$case_id\", \"amount\": $2, \"ref\": \"$1\"}" \
    "$base/v1/payments" >"$work/pay.code"
}
race() { # ref, the other node's amount, ours
  session_start
  sql "BEGIN;"
  sql "INSERT INTO payments(case_id, amount, ref, at) VALUES ('$case_id', $2, '$1', 0);"
  holding "INSERT INTO payments" "the other node's payment"
  pay "$1" "$3" &
  p=$!
  waiting 1 "a payment"
  sql "COMMIT;"
  session_end
  wait "$p"
}
race RACE-1 5000 5000
grep -q '"status":"duplicate"' "$work/pay" && [ "$(cat "$work/pay.code")" = 200 ] ||
  fail "the same payment on two nodes: $(cat "$work/pay.code") $(cat "$work/pay")"
race RACE-2 5000 6000
[ "$(cat "$work/pay.code")" = 409 ] && grep -q 'an amount of 5000' "$work/pay" ||
  fail "one ref, two amounts on two nodes: $(cat "$work/pay.code") $(cat "$work/pay")"
[ "$(q "SELECT count(*) FROM payments WHERE ref LIKE 'RACE-%'")" = 2 ] ||
  fail "not one payment a ref"
kill "$pid"
wait "$pid" || fail "the service did not stop cleanly"
pid=

[ $status -eq 0 ] && echo "the PostgreSQL book withstood the attacks"
exit $status
