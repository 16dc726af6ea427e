#!/bin/sh
# An import into a new PostgreSQL book analyses the tables it filled,
# once it has committed: never analysed, the planner guessed a borrower's
# contacts and a case's timers from the tables' sizes (9 to 25 rows a key
# at 5,000 cases, where there are 1 or 2) and gathered each key's rows
# through a bitmap, at every reminder of a sweep run right after its
# import. Analysed, each key is an index walk. A book analysed already
# is left to autovacuum: the next import analyses nothing.
# usage: import_analyse.sh RECOUP INSTITUTION STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: import_analyse.sh RECOUP INSTITUTION STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=import_analyse_$$
. "$(dirname "$0")/book.sh"

awk 'BEGIN { print "id,borrower_id,borrower_name,phone,balance,amount_due,fees,due_date,branch";
  for (i = 0; i < 3000; i++) printf "C%07d,B%07d,Name %d,+86138%08d,%d,50000,1000,2025-12-%02d,north\n", i, i, i, i, 100000 + i, 1 + i % 28 }' >"$work/book.csv"
"$recoup" import "$work/book.csv" "$inst" --db "$url" --now 2026-01-05T09:00 >/dev/null

fresh=$(q "SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class \
WHERE relname IN ('borrowers', 'contacts', 'cases', 'timers') AND reltuples < 0")
[ -z "$fresh" ] || fail "the import left tables never analysed: $fresh"
plan() { q "EXPLAIN $1" | head -n 1; }
case $(plan "SELECT * FROM contacts WHERE borrower_id = 'B0000007'") in
  *"Scan using contacts_pkey"*) ;;
  *) fail "a borrower's contacts not walked in contacts_pkey: $(plan "SELECT * FROM contacts WHERE borrower_id = 'B0000007'")" ;;
esac
case $(plan "SELECT id FROM timers WHERE case_id = 'C0000007'") in
  *"Scan using timers_case"*) ;;
  *) fail "a case's timers not walked in timers_case: $(plan "SELECT id FROM timers WHERE case_id = 'C0000007'")" ;;
esac

"$recoup" import "$work/book.csv" "$inst" --db "$url" --now 2026-01-05T10:00 >/dev/null
n=$(q "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'cases'")
[ "$n" = 1 ] || fail "cases analysed $n times by two imports, not once"
[ $status -eq 0 ] && echo "an import into a new book analyses what it filled: keys walked in their indexes; a book analysed already is left to autovacuum"
exit $status
