#!/usr/bin/env python3
"""Turns the RESULT lines of tests/bench/run-bench.sh into docs/BENCHMARKS.md.

    report.py RESULTS --commands FILE [--servers ...] ...   # the Markdown report on stdout
    report.py RESULTS --summary                              # a short text table on stdout

Each RESULT line is "RESULT key=value ..." as printed by ircbench, plus id= (the scenario
as run-bench.sh names it), round= and server_alive=. For every (scenario, metric, server)
the report gives the median over the rounds and the spread (min-max), and the ratio of
Parley's median to each peer's. tests/bench/analysis.md, when present, becomes the
"Analysis" section after the targets (it is written by hand; the rest is generated).
"""

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# id -> (title, [(metric, label, better)]) ; better is "high", "low" or None (informational)
SCENARIOS = [
    ("idle", "idle clients (1 channel per 50)", [
        ("mem_per_client_kib", "server memory per idle client, KiB", "low"),
        ("registrations_per_s", "registrations/s while setting up (see in flight)", "high"),
        ("srv_us_per_registration", "server CPU per registration (and JOIN), us", "low"),
    ]),
    ("fanout-w16", "fan-out, 100 members, 10 senders, 16 in flight each", [
        ("deliveries_per_s", "deliveries/s", "high"),
        ("srv_ns_per_delivery", "server CPU per delivery, ns", "low"),
        ("p50_ms", "latency p50, ms", "low"),
        ("p99_ms", "latency p99, ms", "low"),
    ]),
    ("fanout-w64", "fan-out, 100 members, 10 senders, 64 in flight each", [
        ("deliveries_per_s", "deliveries/s", "high"),
        ("srv_ns_per_delivery", "server CPU per delivery, ns", "low"),
        ("p99_ms", "latency p99, ms", "low"),
    ]),
    ("fanout-w16-noqa", "fan-out as fanout-w16, generator without TCP_QUICKACK", [
        ("deliveries_per_s", "deliveries/s", "high"),
        ("srv_ns_per_delivery", "server CPU per delivery, ns", "low"),
        ("p99_ms", "latency p99, ms", "low"),
    ]),
    ("ws-fanout-w16", "fanout-w16 with every client on WebSocket (Parley only)", [
        ("deliveries_per_s", "deliveries/s", "high"),
        ("srv_ns_per_delivery", "server CPU per delivery, ns", "low"),
        ("p99_ms", "latency p99, ms", "low"),
    ]),
    ("ws-fanout-w64", "fanout-w64 with every client on WebSocket (Parley only)", [
        ("deliveries_per_s", "deliveries/s", "high"),
        ("srv_ns_per_delivery", "server CPU per delivery, ns", "low"),
        ("p99_ms", "latency p99, ms", "low"),
    ]),
    ("ws-fanout-rate", "fanout-rate with every client on WebSocket (Parley only)", [
        ("p50_ms", "latency p50, ms", "low"),
        ("p99_ms", "latency p99, ms", "low"),
        ("max_ms", "latency max, ms", "low"),
    ]),
    ("fanout-w16-history", "fanout-w16 with Parley's message history on (SQLite)", [
        ("deliveries_per_s", "deliveries/s", "high"),
        ("srv_ns_per_delivery", "server CPU per delivery, ns", "low"),
        ("p99_ms", "latency p99, ms", "low"),
    ]),
    ("fanout-rate", "fan-out at a fixed 1,000 messages/s (99,000 deliveries/s)", [
        ("p50_ms", "latency p50, ms", "low"),
        ("p99_ms", "latency p99, ms", "low"),
        ("max_ms", "latency max, ms", "low"),
    ]),
    ("direct-w16", "direct messages, 50 pairs, 16 in flight per sender", [
        ("deliveries_per_s", "deliveries/s", "high"),
        ("srv_ns_per_delivery", "server CPU per delivery, ns", "low"),
        ("p99_ms", "latency p99, ms", "low"),
    ]),
    ("direct-rate", "direct messages at a fixed 20,000 messages/s", [
        ("p50_ms", "latency p50, ms", "low"),
        ("p99_ms", "latency p99, ms", "low"),
        ("max_ms", "latency max, ms", "low"),
    ]),
    ("connect-p10", "connect, register, quit; 10 cycles in flight", [
        ("cycles_per_s", "cycles/s", "high"),
        ("srv_us_per_cycle", "server CPU per cycle, us", "low"),
        ("quit_p50_ms", "QUIT to close, p50 ms", "low"),
        ("reg_p99_ms", "connect to 001, p99 ms", "low"),
    ]),
    ("connect-p50", "connect, register, quit; 50 cycles in flight", [
        ("cycles_per_s", "cycles/s", "high"),
        ("srv_us_per_cycle", "server CPU per cycle, us", "low"),
        ("quit_p50_ms", "QUIT to close, p50 ms", "low"),
        ("reg_p99_ms", "connect to 001, p99 ms", "low"),
    ]),
    ("tls-idle", "TLS (RSA 2048 certificate): idle clients (1 channel per 50)", [
        ("mem_per_client_kib", "server memory per idle TLS client, KiB", "low"),
        ("registrations_per_s", "TLS handshakes + registrations/s while setting up (see in flight)", "high"),
        ("srv_us_per_registration", "server CPU per TLS handshake + registration (and JOIN), us", "low"),
    ]),
    ("tls-connect-p10", "TLS connect (RSA 2048): handshake, register, quit; 10 cycles in flight", [
        ("cycles_per_s", "handshakes (cycles)/s", "high"),
        ("srv_us_per_cycle", "server CPU per handshake (cycle), us", "low"),
        ("reg_p99_ms", "connect to 001, p99 ms", "low"),
    ]),
    ("tls-connect-p50", "TLS connect (RSA 2048): handshake, register, quit; 50 cycles in flight", [
        ("cycles_per_s", "handshakes (cycles)/s", "high"),
        ("srv_us_per_cycle", "server CPU per handshake (cycle), us", "low"),
        ("reg_p99_ms", "connect to 001, p99 ms", "low"),
    ]),
    ("tls-connect-p50-resume", "TLS connect, resuming an earlier connection's session (ticket); 50 cycles in flight", [
        ("cycles_per_s", "handshakes (cycles)/s", "high"),
        ("srv_us_per_cycle", "server CPU per handshake (cycle), us", "low"),
        ("resumed_pct", "handshakes resumed, %", None),
        ("reg_p99_ms", "connect to 001, p99 ms", "low"),
    ]),
    ("tls-connect-p50-ecdsa", "TLS connect, Parley only, ECDSA P-256 certificate; 50 cycles in flight", [
        ("cycles_per_s", "handshakes (cycles)/s", "high"),
        ("srv_us_per_cycle", "server CPU per handshake (cycle), us", "low"),
        ("reg_p99_ms", "connect to 001, p99 ms", "low"),
    ]),
    ("tls-fanout-w16", "TLS, Parley only: fanout-w16", [
        ("deliveries_per_s", "deliveries/s", "high"),
        ("srv_ns_per_delivery", "server CPU per delivery, ns", "low"),
    ]),
    ("hold", "many idle clients held (one run)", [
        ("registered", "clients registered and held", "high"),
        ("mem_per_client_kib", "server memory per idle client, KiB", "low"),
        ("setup_s", "seconds to set up", "low"),
    ]),
]

# Figures set by InspIRCd's one-second registration tick, not by its engine: no ratio.
TICK_BOUND = {("connect-p10", "inspircd"), ("connect-p50", "inspircd"), ("tls-connect-p10", "inspircd"),
              ("tls-connect-p50", "inspircd"), ("tls-connect-p50-resume", "inspircd"),
              ("idle", "inspircd", "registrations_per_s"),
              ("tls-idle", "inspircd", "registrations_per_s"), ("hold", "inspircd", "setup_s")}


def tick_bound(sid, server, metric):
    return (sid, server) in TICK_BOUND or (sid, server, metric) in TICK_BOUND


PEER_NAMES = {"parley": "Parley", "ngircd": "ngIRCd", "inspircd": "InspIRCd"}


def parse(path):
    with open(path) as f:
        return parse_lines(f)


def parse_lines(lines):
    runs = []
    if True:
        for line in lines:
            if not line.startswith("RESULT "):
                continue
            d = {"_line": line.rstrip()}
            for tok in line.split()[1:]:
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    d[k] = v
            d.setdefault("id", d.get("scenario", "?"))
            derive(d)
            runs.append(d)
    return runs


def derive(d):
    """Server CPU per unit of work: what the engine costs whatever the bottleneck was."""
    cpu = num(d.get("server_cpu"))
    if cpu is None or cpu < 0.05:  # too little to measure (CPU time has 10 ms ticks)
        return
    rate = num(d.get("deliveries_per_s"))
    if rate and d.get("mode") == "window":
        d["srv_ns_per_delivery"] = str(cpu / rate * 1e9)
    rate = num(d.get("cycles_per_s"))
    if rate:
        d["srv_us_per_cycle"] = str(cpu / rate * 1e6)
    hs = num(d.get("tls_handshakes"))
    if hs:
        d["resumed_pct"] = str(100.0 * (num(d.get("tls_resumed")) or 0) / hs)
    rate = num(d.get("registrations_per_s"))
    if rate:
        d["srv_us_per_registration"] = str(cpu / rate * 1e6)


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def values(runs, sid, server, metric):
    out = []
    for r in runs:
        if r.get("id") == sid and r.get("server") == server and r.get("status") == "ok":
            x = num(r.get(metric))
            if x is not None and x >= 0:
                out.append(x)
    return out


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 100000:
        return f"{x / 1e6:.2f} M" if a >= 1e6 else f"{x / 1e3:.0f} k"
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3f}"


def cell(vs):
    if not vs:
        return "-"
    m = statistics.median(vs)
    if len(vs) == 1:
        return fmt(m)
    return f"{fmt(m)} ({fmt(min(vs))}-{fmt(max(vs))})"


def med(vs):
    return statistics.median(vs) if vs else None


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def machine():
    cpu = sh("lscpu | sed -n 's/^Model name: *//p' | head -1") or platform.processor()
    mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
    return (f"{sh('nproc')} CPUs ({cpu}), {mem} RAM, Linux {platform.release()}, "
            f"{sh('ulimit -Hn')} file descriptors per process")


def targets(runs, servers):
    """Rows (target, measured, verdict) for the issue's targets."""
    peers = [s for s in servers if s != "parley"]
    rows = []

    def best_peer(sid, metric, high):
        best = None
        for p in peers:
            m = med(values(runs, sid, p, metric))
            if m is None:
                continue
            if best is None or (m > best[1] if high else m < best[1]):
                best = (p, m)
        return best

    for sid, what in (("fanout-w16", "fan-out, 16 in flight"), ("fanout-w64", "fan-out, 64 in flight"),
                      ("direct-w16", "direct, 16 in flight")):
        p = med(values(runs, sid, "parley", "deliveries_per_s"))
        b = best_peer(sid, "deliveries_per_s", True)
        if p is not None and b:
            r = p / b[1]
            rows.append((f"{what}: deliveries/s >= 1.5x the better peer",
                         f"{r:.2f}x {PEER_NAMES.get(b[0], b[0])}", "met" if r >= 1.5 else "**not met**"))
    for sid, what in (("fanout-rate", "fan-out at 1,000 msg/s"), ("direct-rate", "direct at 20,000 msg/s")):
        p = med(values(runs, sid, "parley", "p99_ms"))
        b = best_peer(sid, "p99_ms", False)
        if p is not None and b:
            r = p / b[1]
            rows.append((f"{what}: p99 <= 0.5x the better peer",
                         f"{r:.2f}x {PEER_NAMES.get(b[0], b[0])} ({fmt(p)} vs {fmt(b[1])} ms)",
                         "met" if r <= 0.5 else "**not met**"))
    h = med(values(runs, "fanout-w16-history", "parley", "deliveries_per_s"))
    p = med(values(runs, "fanout-w16", "parley", "deliveries_per_s"))
    if h is not None and p:
        rows.append(("history on: fan-out >= 0.85x of history off (BENCH-NOTES)", f"{h / p:.2f}x",
                     "met" if h / p >= 0.85 else "**not met**"))
    m = med(values(runs, "idle", "parley", "mem_per_client_kib"))
    if m is not None:
        n = next((r.get("clients") for r in runs if r.get("id") == "idle"), "?")
        rows.append((f"memory per idle client at {n} clients <= 2.0 KiB", f"{m:.2f} KiB",
                     "met" if m <= 2.0 else "**not met**"))
    m = med(values(runs, "tls-idle", "parley", "mem_per_client_kib"))
    q = med(values(runs, "tls-idle", "inspircd", "mem_per_client_kib"))
    if m is not None and q:
        rows.append(("memory per idle TLS client below InspIRCd's (issue 18)",
                     f"{m:.2f} vs {q:.2f} KiB ({m / q:.2f}x)", "met" if m < q else "**not met**"))
    for sid, what in (("connect-p10", "10 in flight"), ("connect-p50", "50 in flight")):
        p = med(values(runs, sid, "parley", "cycles_per_s"))
        n = med(values(runs, sid, "ngircd", "cycles_per_s"))
        if p is not None and n:
            rows.append((f"connect rate >= 2x ngIRCd ({what})", f"{p / n:.2f}x",
                         "met" if p / n >= 2 else "**not met**"))
    h = [r for r in runs if r.get("id") == "hold" and r.get("server") == "parley"]
    if h:
        r = h[-1]
        ok = r.get("status") == "ok"
        rows.append((f"~20,000 concurrent clients held",
                     f"{r.get('registered', '0')} of {r.get('clients', '?')} registered and joined",
                     "met" if ok else "**not met**"))
    bad = [r for r in runs if r.get("server") == "parley" and
           (num(r.get("lost")) or num(r.get("reordered")) or num(r.get("disconnects")))]
    rows.append(("0 lost or reordered messages (Parley, every run)",
                 "0" if not bad else f"{len(bad)} runs with loss/reordering/disconnects",
                 "met" if not bad else "**not met**"))
    return rows


def kept_runs(path, runs):
    """RESULT lines of an earlier report (its raw section) for the scenarios this run did not
    measure, and that report's header lines: a TLS=only run refreshes the tls-* rows and keeps
    the rest, saying which run each row comes from."""
    if not path or not os.path.exists(path):
        return [], {}
    with open(path) as f:
        lines = f.read().splitlines()
    ids = {r.get("id") for r in runs}
    old = [r for r in parse_lines(l for l in lines if l.startswith("RESULT ")) if r.get("id") not in ids]
    head = {}
    for l in lines:
        for k in ("Date", "Servers", "Command"):
            if l.startswith(f"- {k}: ") and k not in head:
                head[k] = l[len(k) + 4:]
    return old, head


def report(args, runs):
    new_runs = runs
    old, oldhead = kept_runs(args.keep_from, runs)
    runs = runs + old
    servers = args.servers.split()
    peers = [s for s in servers if s != "parley"]
    out = []
    w = out.append
    now = args.date or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    w("# Parley benchmarks")
    w("")
    w("Generated by `tests/bench/run-bench.sh` (issue 8) from its RESULT lines; the Analysis section after "
      "the targets, which says what the numbers mean, is `tests/bench/analysis.md` (written by hand for "
      "the run it describes). Re-run with `make bench` or the command below. Message history "
      "(writes on SQLite and MariaDB, CHATHISTORY and SEARCH latency on 1 M and 10 M stored messages) "
      "is measured by `tests/bench/history-bench.sh`, which `make bench` runs after this: see "
      "[HISTORY-BENCHMARKS.md](HISTORY-BENCHMARKS.md).")
    w("")
    if old:
        kept = ", ".join(sorted({r.get("id", "?") for r in old}))
        w(f"- Date: {oldhead.get('Date', '?')}; the rows of "
          + ", ".join(sorted({r.get("id", "?") for r in new_runs})) + f": {now}")
        w(f"- Machine: {machine()}")
        w(f"- Servers: {oldhead.get('Servers', '?')}; then {args.versions}")
        w(f"- Command: {oldhead.get('Command', '?')}; then `cd /work/main && make && {args.command}` "
          f"({args.rounds} round{'' if str(args.rounds) == '1' else 's'}, {args.duration} s measuring windows, "
          f"{int(float(args.elapsed)) // 60} min {int(float(args.elapsed)) % 60} s in all), which measured "
          f"only the scenarios it names and kept the earlier rows ({kept}) from the report")
    else:
        w(f"- Date: {now}")
        w(f"- Machine: {machine()}")
        w(f"- Servers: {args.versions}")
        w(f"- Command: `cd /work/main && make && {args.command}` "
          f"({args.rounds} round{'' if str(args.rounds) == '1' else 's'}, {args.duration} s measuring windows, "
          f"{int(float(args.elapsed)) // 60} min {int(float(args.elapsed)) % 60} s in all)")
    w("")
    w("## How it was measured")
    w("")
    w("- Load generator: `tests/bench/ircbench` (C, epoll, 2 worker threads; `ircbench --help`). Every client "
      "registers with NICK/USER and answers PING. Each message is `PRIVMSG <target> :~B<run> <stream> <seq> "
      "<send time>`; receivers check the per-sender sequence, so loss and reordering are exact, and "
      "measure end-to-end latency against the same monotonic clock.")
    w("- *Window* runs (`w16`, `w64`): each sender keeps 16 or 64 messages sent but not yet delivered to a "
      "chosen member, i.e. the server is driven as fast as it delivers: a throughput measure, whose latency "
      "is mostly queueing. *Fixed-rate* runs offer the same load to every server and measure latency; "
      "each message is stamped with its scheduled send time, so generator lateness is counted, not hidden.")
    w("- Each run starts a fresh server on a private port: Parley with flood control off, a 16 MiB sendq "
      "and no client cap; ngIRCd and InspIRCd with the configurations in `tests/bench/peers/` (no "
      "penalties/fakelag, no clone or connection limits, no DNS/ident lookups, large send/receive queues). "
      "For each scenario the servers run one after the other (A B C), the order rotating each round "
      "(B C A, then C A B), and the tables give the median over the rounds with the min-max spread in "
      "parentheses; the `hold` run is done once per server after the rounds.")
    w("- Deliveries/s count messages read by the clients in the measuring window (after a 1 s warm-up). "
      "Memory is the server's VmRSS after all clients have joined, minus its VmRSS before the first "
      "connection, divided by the clients. CPU is in cores (CPU seconds per second) over the measuring "
      "window: the server's utime+stime from /proc/PID/stat, the generator's from getrusage.")
    w("- *Server CPU per delivery / cycle / registration* divides the server's CPU over the window by the "
      "work done: the engine's cost whatever the bottleneck was. It is the figure to compare where the "
      "two cores, shared by generator, server and the kernel's loopback TCP work, are the limit.")
    w("- Fixed-rate runs use one generator thread (so the generator and the single-threaded server each "
      "have a core); window runs use two. Their latency figures are the most sensitive to other work on "
      "the machine: see *other* in the CPU table and the spreads.")
    w("- Setup in flight: clients connect with 1,000 registrations in flight, except ngIRCd with 10 (its "
      "listen backlog is compiled in as 10; more overflows its accept queue). InspIRCd completes "
      "registrations on a once-per-second tick, so its registration and connect rates are bounded by "
      "the number in flight, by design.")
    w("- `--quickack`: the generator sets TCP_QUICKACK after each read. On loopback the MSS is 64 KiB, so "
      "a server that does not set TCP_NODELAY (ngIRCd and InspIRCd do not; Parley does) holds each small "
      "write until the previous one is acknowledged, and a receive-only client delays its ACKs. With "
      "quick ACKs the comparison is about the servers' engines; `fanout-w16-noqa` shows the default.")
    w("")
    w("## Targets (issue 8)")
    w("")
    w("| target | measured | |")
    w("| --- | --- | --- |")
    for t, m, v in targets(runs, servers):
        w(f"| {t} | {m} | {v} |")
    w("")
    analysis = os.path.join(HERE, "analysis.md")
    if os.path.exists(analysis):
        w("## Analysis")
        w("")
        with open(analysis) as f:
            w(f.read().rstrip())
        w("")
    w("## Results")
    w("")
    head = "| scenario | metric | " + " | ".join(PEER_NAMES.get(s, s) for s in servers)
    head += "".join(f" | Parley/{PEER_NAMES.get(p, p)}" for p in peers) + " |"
    w(head)
    w("|" + " --- |" * (2 + len(servers) + len(peers)))
    for sid, title, metrics in SCENARIOS:
        if not any(r.get("id") == sid for r in runs):
            continue
        first = True
        for metric, label, better in metrics:
            cells = [cell(values(runs, sid, s, metric)) for s in servers]
            if all(c == "-" for c in cells):
                continue
            ratios = []
            pm = med(values(runs, sid, "parley", metric))
            for p in peers:
                qm = med(values(runs, sid, p, metric))
                if tick_bound(sid, p, metric) and pm is not None and qm:
                    ratios.append("(1 s tick)")
                else:
                    ratios.append(f"{pm / qm:.2f}" if pm is not None and qm else "-")
            arrow = " (higher is better)" if better == "high" else " (lower is better)" if better == "low" else ""
            w(f"| {f'**{sid}**: {title}' if first else ''} | {label}{arrow} | " + " | ".join(cells)
              + "".join(f" | {x}" for x in ratios) + " |")
            first = False
    w("")
    w("## CPU during the measuring window (cores; median)")
    w("")
    w("Two cores are shared by the generator and the server. A server near 1.0 is saturated (all three are "
      "single-threaded); a generator near 2.0 would mean the generator was the bottleneck. *Other* is the "
      "machine's busy time charged to neither: kernel network work done outside either process (softirqs) "
      "and any other process running at the time (other engineers' test suites shared this machine). For "
      "`idle` the figures cover the setup.")
    w("")
    w("| scenario | " + " | ".join(f"{PEER_NAMES.get(s, s)} server / generator / other" for s in servers) + " |")
    w("|" + " --- |" * (1 + len(servers)))
    for sid, _, _ in SCENARIOS:
        if not any(r.get("id") == sid for r in runs):
            continue
        cells = []
        for s in servers:
            sc, gc = med(values(runs, sid, s, "server_cpu")), med(values(runs, sid, s, "gen_cpu"))
            oc = med(values(runs, sid, s, "other_cpu"))
            cells.append("-" if sc is None else f"{sc:.2f} / {gc:.2f} / " + ("-" if oc is None else f"{oc:.2f}"))
        w(f"| {sid} | " + " | ".join(cells) + " |")
    w("")
    w("## Integrity")
    w("")
    w("| server | runs | failed runs | lost | reordered | disconnects | server died |")
    w("| --- | --- | --- | --- | --- | --- | --- |")
    for s in servers:
        rs = [r for r in runs if r.get("server") == s]
        failed = [r for r in rs if r.get("status") != "ok"]
        tot = lambda k: int(sum(num(r.get(k)) or 0 for r in rs))
        died = sum(1 for r in rs if r.get("server_alive") == "0")
        w(f"| {PEER_NAMES.get(s, s)} | {len(rs)} | {len(failed)}"
          + (" (" + ", ".join(sorted({f'{r.get("id")}: {r.get("failure", "?")}' for r in failed})) + ")" if failed else "")
          + f" | {tot('lost')} | {tot('reordered')} | {tot('disconnects')} | {died} |")
    w("")
    if args.commands and os.path.exists(args.commands):
        w("## Generator commands")
        w("")
        w("As run against Parley (`--setup-inflight 10` for ngIRCd); run-bench.sh fills in the port and "
          "the server's PID.")
        w("")
        w("```")
        with open(args.commands) as f:
            for line in f:
                sid, _, cmd = line.strip().partition(" ")
                w(f"{sid:16} {cmd}")
        w("```")
        w("")
    w("<details><summary>Raw RESULT lines</summary>")
    w("")
    w("```")
    for r in old:
        w(r["_line"])
    with open(args.results) as f:
        for line in f:
            if line.startswith("RESULT "):
                w(line.rstrip())
    w("```")
    w("")
    w("</details>")
    return "\n".join(out) + "\n"


def summary(args, runs):
    servers = args.servers.split()
    print()
    print(f"{'scenario':16} {'metric':22}" + "".join(f"{PEER_NAMES.get(s, s):>26}" for s in servers))
    for sid, _, metrics in SCENARIOS:
        for metric, _, _ in metrics:
            cells = [cell(values(runs, sid, s, metric)) for s in servers]
            if all(c == "-" for c in cells):
                continue
            print(f"{sid:16} {metric:22}" + "".join(f"{c:>26}" for c in cells))
    failed = [r for r in runs if r.get("status") != "ok"]
    for r in failed:
        print(f"FAILED: {r.get('server')} {r.get('id')} round {r.get('round')}: {r.get('failure', '?')}"
              f" lost={r.get('lost', '-')} reordered={r.get('reordered', '-')}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--servers", default="parley ngircd inspircd")
    ap.add_argument("--rounds", default="?")
    ap.add_argument("--duration", default="?")
    ap.add_argument("--elapsed", default="0")
    ap.add_argument("--quick", default="0")
    ap.add_argument("--idle-n", default="?")
    ap.add_argument("--hold-n", default="?")
    ap.add_argument("--tls-idle-n", default="?")
    ap.add_argument("--keep-from", default="", help="an earlier report whose other scenarios' rows to keep")
    ap.add_argument("--versions", default="")
    ap.add_argument("--command", default="bash tests/bench/run-bench.sh")
    ap.add_argument("--commands", default="")
    ap.add_argument("--date", default="", help="date of the run (default: now)")
    args = ap.parse_args()
    runs = parse(args.results)
    if args.summary:
        summary(args, runs)
    else:
        sys.stdout.write(report(args, runs))


if __name__ == "__main__":
    main()
