#!/usr/bin/env python3
"""history-report.py: turns history-bench.sh's RESULT lines into docs/HISTORY-BENCHMARKS.md."""
import argparse
import datetime
import os
import platform
import statistics

from report import parse  # the RESULT line reader of run-bench.sh's report


def num(kv, key, default=0.0):
    try:
        return float(kv.get(key, default))
    except ValueError:
        return default


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--rounds", default="3")
    ap.add_argument("--duration", default="3")
    ap.add_argument("--rows", default="")
    ap.add_argument("--commit", default="")
    a = ap.parse_args()
    res = parse(a.results)
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    p = print
    p("# Message history benchmarks")
    p()
    p("Written by `tests/bench/history-bench.sh` (run by `make bench`); %s, Parley %s, %s, %d cores, %s."
      % (datetime.date.today().isoformat(), a.commit, cpu, os.cpu_count(), platform.release()))
    p("Command: `HISTORY_ROWS=\"%s\" bash tests/bench/history-bench.sh`." % a.rows)
    p()
    p("## Writes: fan-out with history off and on")
    p()
    p("100 members in one channel, 10 senders with 16 messages in flight each, %s s windows, %s rounds "
      "alternated (off, SQLite, MariaDB). Messages/s is deliveries/s divided by the 99 other members. "
      "Stored is the row count after the daemon stopped, against every message sent in the run "
      "(warm-up and drain included)." % (a.duration, a.rounds))
    p()
    p("| history | deliveries/s, median (min-max) | messages/s written | vs off, same round: median (min-max) "
      "| server CPU | database server CPU | history CPU per message | stored when the load stopped, after shutdown / sent | lost |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    writes = [r for r in res if r.get("id") == "history-writes"]
    off_rows = [r for r in writes if r.get("history") == "off" and r.get("status") == "ok"]
    off_by_round = {r.get("round"): num(r, "deliveries_per_s") for r in off_rows}
    off_cpu = statistics.median([num(r, "server_cpu") + num(r, "other_cpu") for r in off_rows]) if off_rows else 0
    for mode in ("off", "sqlite", "mariadb"):
        rs = [r for r in writes if r.get("history") == mode]
        ok = [r for r in rs if r.get("status") == "ok"]
        if not rs:
            continue
        if not ok:
            p("| %s | failed | | | | | | | |" % mode)
            continue
        d = [num(r, "deliveries_per_s") for r in ok]
        med = statistics.median(d)
        cpu_med = statistics.median([num(r, "server_cpu") for r in ok])
        other_med = statistics.median([num(r, "other_cpu") for r in ok])
        ratios = [num(r, "deliveries_per_s") / off_by_round[r.get("round")] for r in ok
                  if off_by_round.get(r.get("round"))]
        if mode == "off":
            stored = vs = per_msg = "-"
        else:
            stored = ", ".join("%s, %s / %s%s" % (r.get("stored_live", "?"), r.get("stored", "?"), r.get("sent", "?"),
                                                  " (spilled)" if r.get("spilled") == "1" else "") for r in ok)
            vs = "%.2fx (%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios)) if ratios else "-"
            # the CPU the whole machine spends on top of history off, per message written:
            # parleyd's storage thread plus, on MariaDB, the database server itself
            per_msg = "%.1f us" % statistics.median(
                [(num(r, "server_cpu") + num(r, "other_cpu") - off_cpu) * 1e6 / (num(r, "deliveries_per_s") / 99)
                 for r in ok])
        lost = sum(int(num(r, "lost")) for r in ok)
        p("| %s | %.0f (%.0f-%.0f) | %s | %s | %.2f | %.2f | %s | %s | %d |" % (
            mode, med, min(d), max(d), "-" if mode == "off" else "%.0f" % (med / 99), vs, cpu_med, other_med,
            per_msg, stored, lost))
    p()
    p("Server CPU is parleyd's (all its threads), database server CPU is every other process but "
      "the generator (mariadbd), in cores. History CPU per message is the median over rounds of "
      "(parleyd + database server CPU, minus the median of the same with history off) per message "
      "written; vs off divides each round's deliveries by those of history off in the same round. "
      "Stored is counted 0.1 s after the load stopped (what the writer had kept up with) and again "
      "after the daemon stopped; \"spilled\" marks a run in which the writer fell behind far enough "
      "to use the journal.")
    p()
    p("## Reads: query latency on a filled store")
    p()
    p("One client, one query at a time, timed from its write to the end of the answer (the closing "
      "`BATCH -`); 20 warm-up queries first. `%T` is a random `timestamp=` over the stored range. "
      "The store holds the given number of messages, 4 in 5 of them in `#hist`; `needle` is in one "
      "message in 20,000, `alpha` is the most frequent word (in about 1 message in 7).")
    p()
    p("| backend | stored messages | query | answers | p50 ms | p99 ms | max ms | rows per answer | failed |")
    p("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    queries = {
        "latest": "`CHATHISTORY LATEST #hist * 100`",
        "before": "`CHATHISTORY BEFORE #hist %T 100`",
        "search-rare": "`SEARCH in=#hist;text=needle;limit=100`",
        "search-common": "`SEARCH in=#hist;text=alpha;limit=100`",
    }
    for r in [r for r in res if r.get("id") == "history-reads"]:
        p("| %s | %s | %s | %s | %.3f | %.3f | %.3f | %s-%s | %s |" % (
            r.get("backend"), "{:,}".format(int(num(r, "rows"))), queries.get(r.get("scenario"), r.get("scenario")),
            r.get("count"), num(r, "p50_ms"), num(r, "p99_ms"), num(r, "max_ms"), r.get("rows_min"),
            r.get("rows_max"), r.get("failed")))
    p()
    p("<details><summary>RESULT lines</summary>")
    p()
    p("```")
    for line in open(a.results):
        p(line.rstrip())
    p("```")
    p()
    p("</details>")


if __name__ == "__main__":
    main()
