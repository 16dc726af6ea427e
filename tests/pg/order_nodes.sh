#!/bin/sh
# Three `recoup tick --now` nodes on one PostgreSQL book, each case's
# timers in order: 3,000 cases of three to a borrower, each with six
# timers at three due times (three at the first, two at the second, one
# at the third), the third of the first setting one more at the second;
# a third of the cases close at the first time, half at the third, and
# the borrowers' fourth SMS of the day is deferred (cancelled by the
# close). The nodes share the walk, so a case's later timers wait while
# another node holds its earlier one. The third node is killed with
# kill -9 once the nodes are at work and started again after. Each case's
# journal must then say what one node on SQLite says: its timers run in
# their order, each at its own time. A node's clock passed a timer that
# waited (leased for the wait, which the look at the first due time did
# not count), so the case's timer ran an hour late there, the one it set
# came after the case's last (closing it cancelled it), and a node that
# ended behind a held timer left the run after it to begin past it.
# usage: order_nodes.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: order_nodes.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=order_$$
. "$(dirname "$0")/book.sh"
. "$(dirname "$0")/three_ticks.sh"
sed 's/workflow(require "standard").*/workflow(require "order")/' \
  "$example/recoup.lua" >"$inst/recoup.lua"
cat >"$inst/order.lua" <<'LUA'
return recoup.workflow {
  name = "order", version = 1, initial = "open",
  states = {
    open = {
      enter = function(case)
        case:send("sms", "due_reminder")
        case:after("1h", "a") case:after("1h", "b") case:after("1h", "c")
        case:after("2h", "d") case:after("2h", "e")
        case:after("3h", "f")
      end,
      on = {
        a = function(case) case:note("a") end,
        b = function(case)
          case:note("b")
          if case.balance % 3 == 0 then return "closed" end
        end,
        c = function(case) case:note("c") case:after("1h", "g") end,
        d = function(case) case:note("d") case:send("sms", "due_reminder") end,
        e = function(case) case:note("e") end,
        f = function(case)
          case:note("f")
          if case.balance % 2 == 0 then return "closed" end
        end,
        g = function(case) case:note("g") end,
      },
    },
    closed = { final = true, outcome = "paid" },
  },
  transitions = { open = { "closed" } },
}
LUA
head -n 1 "$example/data/portfolio.csv" >"$work/book.csv"
awk 'BEGIN { for (i = 1; i <= 3000; i++)
  printf "K%d,KB%d,王芳,+86138%08d,北京市,,,zh-CN,personal,200000,%d,5000,0,2025-10-05,585,东城,,\n",
    i, int((i + 2) / 3), i, 100000 + i }' >>"$work/book.csv"

import() {
  "$recoup" import "$work/book.csv" "$inst" --db "$1" \
    --now 2026-01-05T10:00+08:00 >/dev/null
}
tick() {
  "$recoup" tick "$inst" --db "$1" --now 2026-01-05T15:00+08:00
}
# Each case's events and notes, in its journal's order.
cases() {
  python3 -c '
import sys, json, collections
seq = collections.defaultdict(list)
for line in sys.stdin:
    if not line.strip(): continue
    case, rows = line.rstrip("\n").split("|", 1)
    for r in json.loads(rows):
        if r[0] == "event": seq[case].append("E:" + r[4].get("type", "?"))
        elif r[0] == "note": seq[case].append(r[4]["text"])
        elif r[0] == "transition": seq[case].append("to:" + r[4]["to"])
for case in sorted(seq): print(case, " ".join(seq[case]))'
}

import "$work/book.db"
tick "$work/book.db" >/dev/null
# SQLite keeps rows short (docs/cli.md, step 26): its journal view gives
# them whole, as PostgreSQL's runs hold them.
sqlite3 "$work/book.db" "SELECT case_id, json_array(json_array(kind, state, \
version, at, json(detail))) FROM journal ORDER BY id" |
  cases >"$work/sqlite.cases"

import "$url"
before=$($cluster sql "$state" "SELECT count(*) FROM journal_runs" "$db")
status=0
# The third is killed late, once the nodes share the later due times.
three_ticks 12000
$cluster sql "$state" "SELECT case_id, rows FROM journal_runs ORDER BY id" "$db" |
  cases >"$work/postgresql.cases"
if ! diff "$work/sqlite.cases" "$work/postgresql.cases" >"$work/diff"; then
  echo "FAIL: $(grep -c '^>' "$work/diff") cases' timers ran otherwise than on one SQLite node (<):" >&2
  head -n 20 "$work/diff" >&2
  status=1
fi
left=$($cluster sql "$state" "SELECT (SELECT count(*) FROM cases WHERE \
error IS NOT NULL) + (SELECT count(*) FROM timers WHERE claimed_by IS NOT \
NULL) + (SELECT count(*) FROM events)" "$db")
if [ "$left" != 0 ]; then
  echo "FAIL: $left cases in error, claims or events left in the book" >&2
  status=1
fi
[ $status -eq 0 ] && echo "three nodes, one killed: each case's timers in order, as on one node"
exit $status
