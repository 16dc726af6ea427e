#!/bin/sh
# `recoup report` as a person reads it, and the currencies it is given: a
# book in yuan that also holds cases in yen and in CLF shows each
# currency's balance with its own symbol and digits (it summed them as
# yuan), in columns as wide on the screen whatever the text.
# usage: report_text.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
case $recoup in /*) ;; *) recoup=$(pwd)/$recoup ;; esac
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
cp -r "$here/fixtures/currencies/recoup.lua" \
  "$here/fixtures/currencies/workflows" "$work/"
fail() {
  echo "FAIL: $*" >&2
  cat "$work/out" "$work/err" >&2
  exit 1
}
printf '%s\n' 'id,borrower_id,name,currency,balance,amount_due,due_date' \
  'J1,B1,A,JPY,120000,120000,2026-01-01' \
  'C1,B2,B,CNY,500000,500000,2026-01-01' \
  'F1,B3,C,CLF,10000,10000,2026-01-01' >"$work/p.csv"
"$recoup" import "$work/p.csv" "$work" --db "$work/b.db" \
  --now 2026-02-05T10:00 --no-deliver >"$work/out" 2>"$work/err" ||
  fail "import"
"$recoup" report "$work" --db "$work/b.db" --now 2026-02-05T10:00 \
  >"$work/out" 2>"$work/err" || fail "report"
grep -q 'Sanitizer\|runtime error:' "$work/err" && fail "a sanitizer spoke"
for amount in 'CLF.1\.0000' '¥5,000\.00' 'JP¥120,000'; do
  grep -q "^31-60  *1  *$amount\$" "$work/out" || fail "no dpd row $amount"
done
grep -q '6,300' "$work/out" && fail "a sum of three currencies"
# Columns measured as a terminal shows them: 催收中 takes six columns
# (nine bytes), ¥ one (two bytes); padded by bytes they stood three and
# one columns short.
for line in \
  'plain          催收中                  1              ¥5,000.00       0' \
  '31-60                       1              ¥5,000.00' \
  '31-60                       1             JP¥120,000'; do
  grep -qxF "$line" "$work/out" || fail "no line: $line"
done
# A currency ICU does not know, or gold, is refused naming line and
# column, nothing imported (both were kept, gold with two decimals).
for code in ZZZ XAU; do
  printf '%s\n' 'id,borrower_id,name,currency,balance,amount_due,due_date' \
    "Z1,B9,Z,$code,100,100,2026-01-01" >"$work/z.csv"
  "$recoup" import "$work/z.csv" "$work" --db "$work/b.db" \
    --now 2026-02-05T10:00 --no-deliver >"$work/out" 2>"$work/err" &&
    fail "$code imported"
  grep -q "z.csv:2: column currency: currency '$code' " "$work/err" ||
    fail "$code: no line and column"
done
# A code in small letters is refused saying the code it most likely is
# (it said only "three capital letters, such as CNY").
printf '%s\n' 'id,borrower_id,name,currency,balance,amount_due,due_date' \
  "Z1,B9,Z,jpy,100,100,2026-01-01" >"$work/z.csv"
"$recoup" import "$work/z.csv" "$work" --db "$work/b.db" \
  --now 2026-02-05T10:00 --no-deliver >"$work/out" 2>"$work/err" &&
  fail "jpy imported"
grep -q "z.csv:2: column currency: currency 'jpy' is not an ISO 4217 code as written: write JPY (three capital letters, no space)" "$work/err" ||
  fail "jpy: the code it most likely is not said"
# RMB, the yuan as a ledger in China writes it, names CNY.
sed -i 's/,jpy,/,RMB,/' "$work/z.csv"
"$recoup" import "$work/z.csv" "$work" --db "$work/b.db" \
  --now 2026-02-05T10:00 --no-deliver >"$work/out" 2>"$work/err" &&
  fail "RMB imported"
grep -q "z.csv:2: column currency: currency 'RMB' is not an ISO 4217 code (the renminbi's is CNY)$" "$work/err" ||
  fail "RMB: CNY not said"
# simulate's table cuts a long key at 20 columns of whole characters:
# at 20 bytes it split the seventh character of a state named in Chinese
# (the rest of the line one column short).
mkdir -p "$work/sim/workflows"
cp "$work/recoup.lua" "$work/sim/"
sed 's/催收中/等待借款人回电话中的案件/g' "$work/workflows/plain.lua" \
  >"$work/sim/workflows/plain.lua"
"$recoup" import "$work/p.csv" "$work/sim" --db "$work/sim.db" \
  --now 2026-02-05T10:00 --no-deliver >"$work/out" 2>"$work/err" ||
  fail "import for simulate"
"$recoup" simulate "$work/sim" --db "$work/sim.db" --days 1 \
  >"$work/out" 2>"$work/err" || fail "simulate"
grep -qxF '  at the end: 等待借款人回电话中的                    3' "$work/out" ||
  fail "simulate's state cut or padded by bytes"
# Run in the institution's directory, simulate's HTML said "current: .":
# it names the directory whole.
(cd "$work/sim" && "$recoup" simulate --db "$work/sim.db" --days 1 \
  --html "$work/sim.html") >"$work/out" 2>"$work/err" || fail "simulate in DIR"
grep -qF "<p>current strategy: the scripts in $(cd "$work/sim" && pwd -P)</p>" \
  "$work/sim.html" || fail "the HTML does not name the current arm's directory"
# A name a script made (a state here; a queue or a channel alike) and a
# directory's path may hold a terminal's escape: simulate's table and its
# HTML show it as text ('?'), where the table set the terminal's title.
esc=$(printf '\033')
odd="$work/odd${esc}]0;T$(printf '\007')x"
mkdir -p "$odd/workflows"
cp "$work/recoup.lua" "$odd/"
sed 's/催收中/\\27]0;T\\7x/g' "$work/workflows/plain.lua" \
  >"$odd/workflows/plain.lua"
"$recoup" import "$work/p.csv" "$odd" --db "$work/odd.db" \
  --now 2026-02-05T10:00 --no-deliver >"$work/out" 2>"$work/err" ||
  fail "import for the odd names"
"$recoup" simulate "$odd" --db "$work/odd.db" --days 1 \
  --html "$work/odd.html" >"$work/out" 2>"$work/err" || fail "simulate odd"
grep -q "$esc\|$(printf '\007')" "$work/out" "$work/odd.html" &&
  fail "an escape passed through simulate's table or HTML"
grep -qxF '  at the end: ?]0;T?x                               3' "$work/out" ||
  fail "simulate's state with an escape not shown as text"
grep -qF "the scripts in $(cd "$work" && pwd -P)/odd?]0;T?x</p>" "$work/odd.html" ||
  fail "the HTML does not name the odd directory as text"
echo "report_text: ok"
