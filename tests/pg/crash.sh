#!/bin/sh
# The crash test (tests/test_crash.c: the service killed with kill -9 again
# and again under acknowledged writes, then every acknowledged write there
# once) on a PostgreSQL book: a database of its own on the test cluster.
# usage: crash.sh TEST_CRASH RECOUP STATE WORKDIR [KILLS]
set -eu
[ $# -ge 4 ] || { echo "usage: crash.sh TEST_CRASH RECOUP STATE WORKDIR [KILLS]" >&2; exit 2; }
test_crash=$1 recoup=$2 state=$3 work=$4 kills=${5:-20}
cluster="sh $(dirname "$0")/cluster.sh"
db=crash_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
cleanup() {
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
$cluster sql "$state" "CREATE DATABASE $db"
"$test_crash" "$recoup" "$work" "$kills" "$url"
