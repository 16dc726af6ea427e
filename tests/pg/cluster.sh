#!/bin/sh
# A throwaway PostgreSQL cluster for the tests of the PostgreSQL store.
#
# usage: cluster.sh start|stop|url STATE
#        cluster.sh sql STATE SQL [DATABASE]
#
#   start  initdb into a new /tmp/rpg.XXXXXX, start it with pg_ctl and write
#          that directory's name into the file STATE
#   url    print the connection URL of the cluster STATE names (its
#          "postgres" database; each test creates a database of its own)
#   stop   stop the cluster STATE names and remove every file of it, STATE
#          included (nothing to stop is not an error)
#   sql    run SQL on its "postgres" database (CREATE DATABASE for a test),
#          or on DATABASE; rows come out unaligned, without headers
#
# The cluster listens on a Unix socket only (listen_addresses = ''), so two
# runs on one machine never clash over a port. The socket lives in the short
# /tmp/rpg.XXXXXX directory, not under the build tree: a Unix socket's path
# holds at most 107 bytes, and checkouts can be deep. PostgreSQL refuses to
# run as root: as root, the cluster runs as the `postgres` user Debian's
# package creates (the directory is given to it), otherwise as ourselves.
# Its superuser is named `recoup` either way, trusted on the socket alone.
# fsync is off: a test cluster that loses power is thrown away anyway.
set -eu

usage() {
  echo "usage: cluster.sh start|stop|url STATE | sql STATE SQL [DATABASE]" >&2
  exit 2
}
[ $# -ge 2 ] || usage
cmd=$1 state=$2

# Debian keeps the server's programs under /usr/lib/postgresql/VERSION/bin,
# off PATH; PG_BINDIR overrides, then PATH, then the newest version there.
bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    echo "$PG_BINDIR"
  elif command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    # a link to the server's directory (psql lives there too)
    dirname "$(readlink -f "$(command -v pg_ctl)")"
  else
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] || { echo "cluster.sh: no PostgreSQL server found (Debian: apt-get install postgresql)" >&2; exit 1; }
    echo "$d"
  fi
}

# Runs a server program as the cluster's owner.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  bin=$(bindir)
  dir=$(mktemp -d /tmp/rpg.XXXXXX)
  # STATE first: a start that fails half way is still removed by stop.
  echo "$dir" >"$state"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "cluster.sh: running as root needs the postgres user (Debian's postgresql package)" >&2; exit 1; }
    chown postgres: "$dir"
  fi
  chmod 700 "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -U recoup --auth=trust \
    --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -s \
    -o "-c listen_addresses= -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
    start || {
    cat "$dir/server.log" >&2
    exit 1
  }
}

stop() {
  [ -f "$state" ] || return 0
  dir=$(cat "$state")
  case "$dir" in
  /tmp/rpg.*) ;;
  *) echo "cluster.sh: $state does not name a test cluster" >&2; exit 1 ;;
  esac
  if [ -d "$dir/data" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -w -s -m immediate stop || true
  fi
  rm -rf "$dir"
  rm -f "$state"
}

url() {
  [ -f "$state" ] || { echo "cluster.sh: no cluster: $state is missing" >&2; exit 1; }
  echo "postgresql:///postgres?host=$(cat "$state")&user=recoup"
}

sql() {
  "$(bindir)/psql" -X -q -t -A -v ON_ERROR_STOP=1 \
    "$(url | sed "s|/postgres?|/${2:-postgres}?|")" -c "$1"
}

case "$cmd" in
start) [ $# -eq 2 ] || usage; start ;;
stop) [ $# -eq 2 ] || usage; stop ;;
url) [ $# -eq 2 ] || usage; url ;;
sql) [ $# -eq 3 ] || [ $# -eq 4 ] || usage; sql "$3" "${4:-}" ;;
*) usage ;;
esac
