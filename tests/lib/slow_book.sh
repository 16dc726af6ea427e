# Sourced by the tests of a SQLite book whose messages go through a slow
# exec gateway, to hold a tick or a service in its delivery. The script
# sets recoup and work; this defines
#   fail WHAT             says FAIL: WHAT and exits 1
#   cases FIRST LAST      a CSV of cases C<FIRST>..C<LAST>, each with a
#                         borrower and a phone, on stdout
#   book_import CSV       imports CSV into $work/book.db on the real
#                         clock, delivering nothing: a message a case
#                         queued (the workflow sends one when it opens)
#   slow_book GATEWAY N   a new $work: the institution $work/book (a
#                         token from $T_INGEST; its gateway reads the
#                         message, then runs the shell command GATEWAY)
#                         and $work/book.db holding cases C1..CN
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cases() {
  echo id,borrower_id,borrower_name,phone,balance,amount_due,currency,due_date
  i=$1
  while [ "$i" -le "$2" ]; do
    printf 'C%d,B%d,Borrower %d,+1555%04d,1000,1000,USD,2026-01-01\n' "$i" "$i" \
      "$i" $((99 + i))
    i=$((i + 1))
  done
}

book_import() {
  "$recoup" import "$1" "$work/book" --db "$work/book.db" --real-time \
    --no-deliver >/dev/null 2>&1
}

slow_book() {
  rm -rf "$work"
  mkdir -p "$work/book"
  {
    cat <<'LUA'
institution { name = "Slow", timezone = "UTC", currency = "USD" }
tokens { ingest = "env:T_INGEST" }
LUA
    printf "channel 'slow' { driver = 'exec', timeout = '30s',\n"
    printf "  command = { '/bin/sh', '-c', [[cat >/dev/null; %s]] } }\n" "$1"
    cat <<'LUA'
templates { t = { slow = '您好 Hi' } }
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open",
  states = { open = { enter = function(case) case:send('slow', 't') end } },
})
LUA
  } >"$work/book/recoup.lua"
  cases 1 "$2" >"$work/book.csv"
  book_import "$work/book.csv" || fail "the import"
}
