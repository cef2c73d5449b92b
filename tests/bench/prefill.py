#!/usr/bin/env python3
"""prefill.py: fills Parley's history table with synthetic messages for the history
latency benchmark (tests/bench/history-bench.sh).

    prefill.py sqlite DBFILE --rows N [--start ROW]
    prefill.py mariadb SOCKET DATABASE --rows N [--start ROW]

The daemon must be stopped and must have created the schema (it runs the migrations at
start). Rows START..N-1 are added, so a store can be grown from 1 M to 10 M. Four rows in
five go to #hist, the rest to #other0..#other99; messages are 0.25 s apart from
2026-01-01T00:00:00Z (10 M rows reach 2026-01-29), so a grown store stays in order.
The text is 6-14 words drawn from a 5,000-word vocabulary with Zipf-like frequencies;
every 20,000th message also contains the word "needle" (a rare word for SEARCH), and
"alpha" is the most frequent word (a common one). Prints the time span as
"from_ms=A to_ms=B" for histbench's %T. The channels are registered with ChanServ (founder
"bench"): only a registered room shows history from before the daemon started.
"""
import argparse
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time

STEP_MS = 250
FIRST_MS = 1767225600000  # 2026-01-01T00:00:00Z


def vocabulary():
    rnd = random.Random(7)
    syl = ["ka", "lo", "mi", "ne", "ru", "sa", "te", "vi", "zo", "pa", "qu", "do", "fe", "gi", "ho", "ju"]
    words = ["alpha"]
    seen = set(words)
    while len(words) < 5000:
        w = "".join(rnd.choice(syl) for _ in range(rnd.randint(2, 4)))
        if w not in seen and w != "needle":
            seen.add(w)
            words.append(w)
    weights = [1.0 / (r + 1) for r in range(len(words))]
    return words, weights


def rows(start, end):
    words, weights = vocabulary()
    rnd = random.Random(start)
    batch = 10000
    for b in range(start, end, batch):
        n = min(batch, end - b)
        texts = rnd.choices(words, weights, k=n * 14)
        lens = [rnd.randint(6, 14) for _ in range(n)]
        for k in range(n):
            i = b + k
            t = FIRST_MS + i * STEP_MS
            seq = t << 12
            words_i = texts[k * 14:k * 14 + lens[k]]
            if i % 20000 == 1:
                words_i = words_i + ["needle"]
            chan = "#hist" if i % 5 else "#other%d" % (i // 5 % 100)
            u = i % 997
            yield (seq, "%016x" % seq, chan, chan, "user%d!u%d@example.net" % (u, u), "user%d" % u, "PRIVMSG",
                   None, " ".join(words_i), t)


CHANNELS = ["#hist"] + ["#other%d" % i for i in range(100)]
REGISTER = ("INTO channels (name_key, name, founder, description, registered) "
            "VALUES ('%s', '%s', 'bench', '', 1767225600)")


def fill_sqlite(path, start, total):
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    cur = db.cursor()
    gen = rows(start, total)
    while True:
        chunk = [next(gen, None) for _ in range(100000)]
        chunk = [r for r in chunk if r]
        if not chunk:
            break
        cur.execute("BEGIN")
        cur.executemany("INSERT INTO messages (seq, msgid, target_key, target, sender, account, command, tags, "
                        "text, time) VALUES (?,?,?,?,?,?,?,?,?,?)", chunk)
        cur.execute("COMMIT")
    for chan in CHANNELS:
        db.execute("INSERT OR IGNORE " + REGISTER % (chan, chan))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()


def esc(v):
    if v is None:
        return "\\N"
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def fill_mariadb(socket, database, start, total):
    def sql(q):
        # stdout is the span line history-bench.sh reads: keep the client's output off it
        subprocess.run(["mariadb", "--no-defaults", "-uroot", "--socket=" + socket, "--local-infile=1",
                        database, "-e", q], check=True, stdout=subprocess.DEVNULL)
    # The full-text index stays in place: dropping it and adding it back after the load
    # left MariaDB 10.11 with an index that matched nothing.
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as f:
        for r in rows(start, total):
            f.write("\t".join(esc(v) for v in r) + "\n")
        name = f.name
    try:
        sql("SET unique_checks=0; LOAD DATA LOCAL INFILE '%s' INTO TABLE messages CHARACTER SET utf8mb4 "
            "(seq, msgid, target_key, target, sender, account, command, tags, text, time)" % name)
    finally:
        os.unlink(name)
    sql("; ".join("INSERT IGNORE " + REGISTER % (chan, chan) for chan in CHANNELS))
    sql("ANALYZE TABLE messages")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("backend", choices=["sqlite", "mariadb"])
    ap.add_argument("where", nargs="+")
    ap.add_argument("--rows", type=int, required=True)
    ap.add_argument("--start", type=int, default=0)
    a = ap.parse_args()
    t0 = time.time()
    if a.backend == "sqlite":
        fill_sqlite(a.where[0], a.start, a.rows)
    else:
        fill_mariadb(a.where[0], a.where[1], a.start, a.rows)
    print("prefilled rows %d..%d in %.0f s" % (a.start, a.rows, time.time() - t0), file=sys.stderr)
    print("from_ms=%d to_ms=%d" % (FIRST_MS, FIRST_MS + a.rows * STEP_MS))


if __name__ == "__main__":
    main()
