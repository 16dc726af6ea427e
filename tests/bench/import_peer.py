#!/usr/bin/env python3
"""The import's peer: Python's sqlite3 loading the same CSV into three plain
tables (borrowers, contacts, cases), one transaction, WAL and
synchronous=FULL as recoup runs its books. run.sh times it in the same run
as `recoup import`, so the ratio of the two holds on a loaded machine.

What it does not do, and recoup does: check each row (money, dates,
phones), route the case to a workflow, keep the figures, journal the
opening, run the `opened` handler. The ratio says what all that costs
beside writing the rows.

usage: import_peer.py BOOK.csv DB
  prints "import_peer_rows_per_s N rows/s"
"""
import csv
import json
import os
import sqlite3
import sys
import time

KNOWN = ("id", "borrower_id", "borrower_name", "phone", "balance",
         "amount_due", "fees", "due_date")


def main():
    book, db = sys.argv[1], sys.argv[2]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    start = time.monotonic()
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.executescript("""
        CREATE TABLE borrowers(id TEXT PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE contacts(borrower_id TEXT NOT NULL, position INTEGER,
                              kind TEXT NOT NULL, value TEXT);
        CREATE TABLE cases(id TEXT PRIMARY KEY, borrower_id TEXT NOT NULL,
                           balance INTEGER, amount_due INTEGER,
                           fees INTEGER, due_date TEXT, data TEXT);
    """)
    rows = 0
    con.execute("BEGIN")
    with open(book, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            extra = {k: v for k, v in r.items() if k not in KNOWN}
            con.execute("INSERT INTO borrowers VALUES (?, ?)",
                        (r["borrower_id"], r["borrower_name"]))
            con.execute("INSERT INTO contacts VALUES (?, 0, 'phone', ?)",
                        (r["borrower_id"], r["phone"]))
            con.execute("INSERT INTO cases VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (r["id"], r["borrower_id"], int(r["balance"]),
                         int(r["amount_due"]), int(r["fees"]), r["due_date"],
                         json.dumps(extra, sort_keys=True,
                                    separators=(",", ":"))))
            rows += 1
    con.execute("COMMIT")
    con.close()
    elapsed = time.monotonic() - start
    print("import_peer_rows_per_s %.0f rows/s" % (rows / elapsed))


if __name__ == "__main__":
    main()
