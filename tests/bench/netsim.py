#!/usr/bin/python3
"""netsim.py: a simulated Parley network on this machine (issue 17; `make netsim`).

Starts NODES parleyd processes (5 by default) linked in a chain n0 - n1 - n2 - n3 - n4, so
the clients of n0 are 0 to 4 hops from the others, each with its own SQLite store, ports
and log in a temporary directory. Then tests/bench/ircbench --scenario netsim connects
CLIENTS clients (5,000) spread evenly over the nodes, all in #net; SENDERS clients of n0
send RATE messages/s in all. SPLIT_AT seconds into the measuring window, the link
between n{CUT} and n{CUT+1} is cut (`ss -K` destroys both of its sockets, as a network
fault would: each side sees the connection reset); n{CUT+1}, which has `autoconnect`, links
again after `links.connect_retry` seconds and both sides burst. Writes docs/NETSIM.md
(REPORT=- for none): latency, loss, duplicates and reordering per hop distance, what was
not delivered while split, the time to re-link and burst, CPU and memory per node.

Before the network, a baseline: one node alone, the same clients, senders and rate
(ircbench --scenario fanout, BASELINE seconds), so the hop-0 figures can be told from what
a loaded machine does to one server.

Environment: NODES (5), CLIENTS (5000), SENDERS (5), RATE (20), DURATION (40),
WARMUP (2), SPLIT_AT (10; -1: no split), CUT (2: the link n2 - n3), RETRY (2: seconds
between link attempts), THREADS (2), BASELINE (10; 0: none), REPORT (docs/NETSIM.md; a
"## Findings" section already there is kept), PARLEYD (ircd/parleyd), NOTE (a sentence for
the report's header, e.g. which daemon was run), KEEP=1 keeps the temporary directory.
Needs root for `ss -K` (the kernel's sock_destroy)."""

import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GEN = ROOT / "tests/bench/ircbench"
PARLEYD = Path(os.environ.get("PARLEYD", ROOT / "ircd/parleyd"))


def env(name, default, kind=int):
    return kind(os.environ.get(name, default))


NODES = env("NODES", 5)
CLIENTS = env("CLIENTS", 5000)
SENDERS = env("SENDERS", 5)
RATE = env("RATE", 20, float)
DURATION = env("DURATION", 40, float)
WARMUP = env("WARMUP", 2, float)
SPLIT_AT = env("SPLIT_AT", 10, float)
CUT = env("CUT", 2)
RETRY = env("RETRY", 2)
THREADS = env("THREADS", 2)
BASELINE = env("BASELINE", 10, float)
NOTE = os.environ.get("NOTE", "")
REPORT = os.environ.get("REPORT", "docs/NETSIM.md")


def log(msg):
    print(time.strftime("%H:%M:%S"), msg, file=sys.stderr, flush=True)


def free_port(taken):
    """A port below the ephemeral range (the clients' own ports come from there) that no
    socket uses."""
    try:
        lo = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except OSError:
        lo = 32768
    while True:
        p = random.randrange(10000, lo)
        if p in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        taken.add(p)
        return p


def name(i):
    return "n%d.netsim.parley" % i


def config(i, d, ports, links, alone=False):
    """Node i: a client listener and a link listener (so the split command can tell the
    link's sockets from the clients'), no flood limits or connection limits, one connect
    block per neighbour in the chain; the node further from n0 connects."""
    blocks = []
    for j in (i - 1, i + 1):
        if 0 <= j < NODES and not alone:
            blocks.append('{ name = "%s"; address = "127.0.0.1"; port = %d; send_password = "pw%d-%d";'
                          ' accept_password = "pw%d-%d"; autoconnect = %s; }'
                          % (name(j), links[j], i, j, j, i, "true" if j < i else "false"))
    return """# written by tests/bench/netsim.py
server = { name = "%(name)s"; sid = "%(sid)s"; description = "netsim node %(i)d"; motd = ""; };
limits = { nicklen = 30; registration_timeout = 120; };
log = { level = "info"; categories = { connections = "warn"; }; };
storage = { backend = "sqlite"; schema_dir = "%(root)s/sql"; sqlite = { path = "%(d)s/parley.db"; }; };
history = { enabled = false; journal = "%(d)s/history.journal"; };
privacy = { cloak_default = false; };
connlimit = { per_ip = 0; per_cidr = 0; rate = 0; };
listen = ( { address = "127.0.0.1"; port = %(port)d; }, { address = "127.0.0.1"; port = %(link)d; } );
class = ( { name = "default"; sendq = 16777216; ping_frequency = 3600; ping_timeout = 600;
            max_clients = 100000; flood = { enabled = false; }; } );
%(connect)s
links = { connect_retry = %(retry)d; ping_frequency = 30; ping_timeout = 30; };
""" % {"name": name(i), "sid": "%dNS" % i, "i": i, "root": ROOT, "d": d, "port": ports[i], "link": links[i],
       "connect": "connect = ( %s );" % ",\n            ".join(blocks) if blocks else "", "retry": RETRY}


def wait_listen(port, proc, logf, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            break
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("node on port %d did not start:\n%s" % (port, Path(logf).read_text()[-3000:]))


def links_seen(port):
    """Server names a client on this port sees in LINKS."""
    with socket.create_connection(("127.0.0.1", port), 5) as s:
        s.settimeout(5)
        s.sendall(b"NICK probe%d\r\nUSER p 0 * :netsim\r\nLINKS\r\nQUIT\r\n" % random.randrange(10**6))
        data = b""
        while b" 365 " not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return {l.split()[3] for l in data.decode(errors="replace").splitlines() if len(l.split()) > 3 and l.split()[1] == "364"}


def cmd_out(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def start_node(parleyd, d, text, port):
    d.mkdir()
    (d / "parley.conf").write_text(text)
    logf = d / "parleyd.log"
    with open(logf, "w") as out:
        p = subprocess.Popen([str(parleyd), "-f", str(d / "parley.conf")], cwd=d, stdout=out, stderr=subprocess.STDOUT)
    wait_listen(port, p, logf)
    return p


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def baseline(parleyd, tmp, ports, links):
    """One node alone, the same load: ircbench's fanout scenario."""
    p = start_node(parleyd, tmp / "alone", config(0, tmp / "alone", ports, links, alone=True), ports[0])
    try:
        r = subprocess.run([str(GEN), "--scenario", "fanout", "--port", str(ports[0]), "--pid", str(p.pid),
                            "--clients", str(CLIENTS), "--senders", str(SENDERS), "--rate", "%g" % RATE,
                            "--threads", str(THREADS), "--setup-inflight", "500", "--warmup", "%g" % WARMUP,
                            "--duration", "%g" % BASELINE, "--quickack", "--label", "alone"],
                           capture_output=True, text=True)
    finally:
        stop([p])
    return next((kv(l) for l in r.stdout.splitlines() if l.startswith("RESULT ")), None)


def kv(line):
    return dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)


def main():
    for exe in (GEN, PARLEYD):
        if not os.access(exe, os.X_OK):
            sys.exit("%s is missing: run `make netsim`" % exe)
    if NODES < 2 or not 0 <= CUT < NODES - 1:
        sys.exit("NODES must be at least 2 and CUT a link of the chain (0..NODES-2)")
    tmp = Path(tempfile.mkdtemp(prefix="parley-netsim."))
    parleyd = tmp / "parleyd"  # a copy: ircd/parleyd may be rebuilt while this runs
    shutil.copy(PARLEYD, parleyd)
    taken = set()
    ports = [free_port(taken) for _ in range(NODES)]
    links = [free_port(taken) for _ in range(NODES)]
    procs = []
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    base = None
    if BASELINE > 0:
        log("baseline: one node, %d clients, %g messages/s" % (CLIENTS, RATE))
        base = baseline(parleyd, tmp, ports, links)
        if base:
            log("baseline: p50 %s ms, p99 %s ms" % (base["p50_ms"], base["p99_ms"]))
    try:
        for i in range(NODES):
            d = tmp / ("n%d" % i)
            procs.append(start_node(parleyd, d, config(i, d, ports, links), ports[i]))
        t0 = time.time()
        while len(links_seen(ports[-1])) < NODES:
            if time.time() - t0 > 20:
                # every node's own view: a node missing from a far node's LINKS was lost in
                # a burst (see docs/NETSIM.md, "Findings")
                for i in range(NODES):
                    log("LINKS on n%d: %s" % (i, " ".join(sorted(links_seen(ports[i])))))
                sys.exit("the chain did not link in 20 s (n%d does not see every server); logs in %s"
                         % (NODES - 1, tmp))
            time.sleep(0.3)
        link_s = time.time() - t0
        log("%d nodes linked in %.1f s (ports %s)" % (NODES, link_s, ",".join(map(str, ports))))
        cut = links[CUT]
        split_cmd = "ss -K -t state established '( sport = :%d or dport = :%d )' >/dev/null" % (cut, cut)
        args = [str(GEN), "--scenario", "netsim", "--ports", ",".join(map(str, ports)),
                "--pids", ",".join(str(p.pid) for p in procs), "--clients", str(CLIENTS),
                "--senders", str(SENDERS), "--sender-node", "0", "--rate", "%g" % RATE,
                "--threads", str(THREADS), "--setup-inflight", "500", "--setup-timeout", "300",
                "--warmup", "%g" % WARMUP, "--duration", "%g" % DURATION, "--settle", "1", "--drain", "30",
                "--quickack", "--label", "parley"]
        if SPLIT_AT >= 0:
            args += ["--split-at", "%g" % SPLIT_AT, "--split-cmd", split_cmd]
        log("running " + " ".join(a if " " not in a else "'%s'" % a for a in args))
        t1 = time.time()
        r = subprocess.run(args, capture_output=True, text=True)
        run_s = time.time() - t1
        sys.stderr.write(r.stderr)
        print(r.stdout, end="")
        alive = [p.poll() is None for p in procs]
        relinked = len(links_seen(ports[-1])) == NODES if all(alive) else False
    finally:
        stop(procs)
    nodes = [kv(l) for l in r.stdout.splitlines() if l.startswith("NODE ")]
    res = next((kv(l) for l in r.stdout.splitlines() if l.startswith("RESULT ")), None)
    if not res or len(nodes) != NODES:
        sys.exit("ircbench failed (exit %d); logs in %s" % (r.returncode, tmp))
    errors = [l for i in range(NODES) for l in (tmp / ("n%d" % i) / "parleyd.log").read_text().splitlines()
              if re.search(r"\b(error|ERROR|warn|WARN)\b", l)]
    ctx = {"base": base, "nodes": nodes, "res": res, "alive": alive, "relinked": relinked, "link_s": link_s,
           "run_s": run_s, "load_before": load_before, "args": args, "errors": errors,
           "load_after": Path("/proc/loadavg").read_text().split()[:3], "rc": r.returncode}
    summary = write_report(ctx)
    print(summary)
    if os.environ.get("KEEP") == "1":
        log("kept " + str(tmp))
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if r.returncode == 0 and all(alive) and relinked else 1


def f(x, nd=2):
    return ("%%.%df" % nd) % float(x)


def write_report(c):
    nodes, res = c["nodes"], c["res"]
    split = SPLIT_AT >= 0
    far = [n for i, n in enumerate(nodes) if i > CUT]
    lost_linked = sum(int(n["missing"]) for n in nodes)
    dup = sum(int(n["duplicated"]) + int(n["split_duplicated"]) for n in nodes)
    reo = sum(int(n["reordered"]) for n in nodes)
    not_delivered = sum(int(n["split_missing"]) for n in nodes)
    summary = ("netsim: %d nodes, %d clients, %g msg/s from n0: p50 %s ms at 1 hop, %s ms at %d hops; lost %d,"
               " duplicated %d, reordered %d while linked%s; status %s"
               % (NODES, CLIENTS, RATE, f(nodes[1]["p50_ms"], 3), f(nodes[-1]["p50_ms"], 3), NODES - 1,
                  lost_linked, dup, reo,
                  "; split %s-%s: %d deliveries not delivered while split, every client saw the whole channel"
                  " again after %s s" % ("n%d" % CUT, "n%d" % (CUT + 1), not_delivered,
                                         f(float(res["restored_ms"]) / 1000, 1)) if split else "",
                  res["status"]))
    if REPORT == "-":
        return summary
    cpu = open("/proc/cpuinfo").read()
    model = re.search(r"model name\s*:\s*(.*)", cpu)
    commit = cmd_out("git", "-C", str(ROOT), "rev-parse", "--short", "HEAD")
    dirty = subprocess.run(["git", "-C", str(ROOT), "diff", "--quiet", "HEAD", "--", "ircd", "services", "sql"]).returncode
    L = []
    L.append("# Simulated network: latency, loss and a split across %d linked nodes" % NODES)
    L.append("")
    L.append("Written by `make netsim` (tests/bench/netsim.py, which drives `tests/bench/ircbench --scenario netsim`)"
             " on %s. Parley %s%s%s." % (datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), commit,
                                         " with uncommitted changes" if dirty else "",
                                         "" if PARLEYD == ROOT / "ircd/parleyd" else ", daemon " + str(PARLEYD)))
    if NOTE:
        L.append("")
        L.append(NOTE)
    L.append("")
    L.append("Machine: %d cores (%s), Linux %s. Load average (1/5/15 min) %s before, %s after: other work"
             " shared the machine, so absolute numbers are those of a busy 2-core box."
             % (os.cpu_count(), model.group(1).strip() if model else "?", platform.release(),
                " ".join(c["load_before"]), " ".join(c["load_after"])))
    L.append("")
    L.append("## Setup")
    L.append("")
    L.append("- %d `parleyd` processes on 127.0.0.1, each with its own SQLite store, a client port and a link"
             " port, linked in a chain (TS6): %s. The node further from n0 has `autoconnect`;"
             " `links.connect_retry = %d`. The chain linked in %s s."
             % (NODES, " - ".join("n%d" % i for i in range(NODES)), RETRY, f(c["link_s"], 1)))
    L.append("- %d clients, client i on node i mod %d (%s members per node), all in `#net`; flood control"
             " and connection limits off, history off." % (CLIENTS, NODES, "/".join(n["members"] for n in nodes)))
    L.append("- %d senders on n0 send %g messages/s in all (%d deliveries/s over the network), each message"
             " `PRIVMSG #net :~B<run> <stream> <seq> <send time>`; every receiver timestamps it on read (one"
             " clock), checks each stream's sequence, and counts receipts per message and node."
             % (SENDERS, RATE, int(RATE * (CLIENTS - 1))))
    L.append("- Measuring window %g s after a %g s warm-up (loss counts every message sent, the warm-up"
             " too); ircbench uses %d threads." % (DURATION, WARMUP, THREADS))
    if split:
        L.append("- Split: %g s into the window the link n%d - n%d is cut with `ss -K` (both of its sockets"
                 " destroyed: each side sees a reset, as on a network fault); n%d reconnects after"
                 " `connect_retry` and both sides burst. Messages sent from 1 s before the cut until every"
                 " client sees every member again form the *split window*; a delivery missing outside it"
                 " is a loss." % (SPLIT_AT, CUT, CUT + 1, CUT + 1))
    L.append("")
    L.append("## Delivery per hop distance (outside the split window)")
    L.append("")
    L.append("| hops from n0 | node | receivers | messages | deliveries expected | lost | duplicated | reordered"
             " | p50 ms | p99 ms | p99.9 ms | max ms | max: sent at, s |")
    L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for i, n in enumerate(nodes):
        L.append("| %d | n%d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                 % (i, i, n["receivers"], n["msgs"], n["expected"], n["missing"], n["duplicated"], n["reordered"],
                    f(n["p50_ms"], 3), f(n["p99_ms"], 3), f(n["p999_ms"], 3), f(n["max_ms"], 3),
                    f(n["max_sent_s"], 1)))
    L.append("")
    L.append("Latency is from the scheduled send time to the receiver's read, over messages sent in the"
             " measuring window outside the split window (a message's hop count is that of its receiver);"
             " \"sent at\" is when the slowest of them was sent, in seconds into the window%s."
             % (" (the cut was at %s s, the split window ended at %s s)"
                % (f(res["cut_s"], 1), f(float(res["cut_s"]) + float(res["restored_ms"]) / 1000, 1)) if split else ""))
    if split:
        L.append("")
        L.append("## Split and re-link (n%d - n%d)" % (CUT, CUT + 1))
        L.append("")
        seen = float(res["seen_ms"])
        back = float(res["restored_ms"])
        L.append("- `ss -K` exit status %s; the first client saw the split (a `QUIT :*.net *.split`) %s ms after"
                 " the cut; every one of the %d clients saw all %d members again %s s after the cut (re-link"
                 " after `connect_retry` = %d s, then the burst and its JOINs to every client)."
                 % (res["split_rc"], f(seen, 1), CLIENTS, CLIENTS, f(back / 1000, 2) if back >= 0 else "NEVER", RETRY))
        L.append("- After the run, LINKS on n%d lists %s." % (NODES - 1, "all %d servers" % NODES if c["relinked"]
                                                                  else "NOT all servers"))
        L.append("")
        L.append("| hops | node | split-window messages | deliveries expected | not delivered while split"
                 " | duplicated | delivery resumed after the cut | p50 ms | p99 ms | max ms (delivered ones) |")
        L.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for i, n in enumerate(nodes):
            resume = float(n["resume_ms"])
            L.append("| %d | n%d | %s | %s | %s | %s | %s | %s | %s | %s |"
                     % (i, i, n["split_msgs"], n["split_expected"], n["split_missing"], n["split_duplicated"],
                        "%s s" % f(resume / 1000, 2) if resume >= 0 else "never interrupted",
                        f(n["split_p50_ms"], 3), f(n["split_p99_ms"], 3), f(n["split_max_ms"], 3)))
        L.append("")
        L.append("Nodes n%d..n%d (%d clients) are on the far side: messages n0 sends while the link is down"
                 " do not reach them (TS6 has no store-and-forward; %d deliveries there). The near side keeps"
                 " receiving, with a latency spike while every client is sent the netsplit's QUITs and then"
                 " the burst's JOINs (%d x %d of each). \"Delivery resumed\" is the send time, after the cut,"
                 " from which every later message reached every receiver of that node."
                 % (CUT + 1, NODES - 1, sum(int(n["members"]) for n in far),
                    sum(int(n["split_missing"]) for n in far), sum(int(n["members"]) for n in far),
                    CLIENTS - sum(int(n["members"]) for n in far)))
    L.append("")
    L.append("## Cost per node")
    L.append("")
    L.append("| node | CPU while 5,000 clients joined, cores | CPU in the measuring window, cores"
             " | VmRSS after joining, MiB | VmRSS at the end, MiB |".replace("5,000", "{:,}".format(CLIENTS)))
    L.append("| --- | ---: | ---: | ---: | ---: |")
    for i, n in enumerate(nodes):
        L.append("| n%d | %s | %s | %s | %s |" % (i, f(n["cpu_setup"]), f(n["cpu"]), f(int(n["rss_setup_kib"]) / 1024, 1),
                                                 f(int(n["rss_end_kib"]) / 1024, 1)))
    L.append("")
    L.append("In the window the generator used %s cores and other processes (other work on the machine)"
             " %s cores. The setup (connect, register, join, until every"
             " client saw every member) is the O(n^2) JOIN fan-out of a %d-member channel."
             % (res.get("gen_cpu", "?"), res.get("other_cpu", "?"), CLIENTS))
    L.append("")
    L.append("## Result")
    L.append("")
    L.append("    " + summary)
    L.append("")
    L.append("    " + " ".join(["RESULT"] + ["%s=%s" % kvp for kvp in res.items()]))
    if c["base"]:
        b = c["base"]
        L.append("")
        L.append("Baseline, the same load on one node alone (%d members, %d senders, %g messages/s, %g s):"
                 " p50 %s ms, p99 %s ms, max %s ms, lost %s; generator %s cores, other processes %s cores."
                 % (CLIENTS, SENDERS, RATE, BASELINE, f(b["p50_ms"], 3), f(b["p99_ms"], 3), f(b["max_ms"], 3),
                    b["lost"], b["gen_cpu"], b["other_cpu"]))
    if c["errors"]:
        L.append("")
        L.append("Warnings and errors in the nodes' logs (%d lines; first 10):" % len(c["errors"]))
        L.append("")
        L.extend("    " + e for e in c["errors"][:10])
    L.append("")
    shown = []
    for a, prev in zip(c["args"][1:], c["args"]):
        shown.append({"--ports": "PORTS", "--pids": "PIDS"}.get(prev, "'%s'" % a if " " in a else a))
    L.append("Command (PORTS and PIDS are the run's): `tests/bench/ircbench %s`" % " ".join(shown))
    L.append("")
    out = ROOT / REPORT
    # a hand-written "## Findings" section (daemon problems the simulation showed) is kept
    old = out.read_text() if out.exists() else ""
    if "\n## Findings" in old:
        L.append(old[old.index("\n## Findings") + 1:].rstrip("\n"))
        L.append("")
    out.write_text("\n".join(L))
    log("wrote " + str(out))
    return summary


if __name__ == "__main__":
    sys.exit(main())
