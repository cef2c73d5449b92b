"""The network simulator of `make netsim` (tests/bench/netsim.py, ircbench --scenario netsim),
small: three Parley nodes in a chain (n0 - n1 - n2), 90 clients in one channel, messages
from n0 reach every client two hops away with nothing lost, duplicated or reordered; the
n1 - n2 link is cut with `ss -K` (root), n2 re-links by autoconnect and bursts, and only
what was sent while split misses n2's clients. A failure prints the simulator's output."""

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import PARLEYD

ROOT = Path(__file__).resolve().parents[2]


def test_three_node_chain_split_and_relink():
    subprocess.run(["make", "-s", "-C", str(ROOT / "tests/bench"), "ircbench"], check=True)
    env = dict(os.environ, PARLEYD=PARLEYD, NODES="3", CLIENTS="90", SENDERS="2", RATE="20", WARMUP="1",
               DURATION="6", SPLIT_AT="2", CUT="1", RETRY="1", BASELINE="0", REPORT="-")
    r = subprocess.run([sys.executable, str(ROOT / "tests/bench/netsim.py")], env=env, capture_output=True,
                       text=True, timeout=180)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    nodes = {int(m.group(1)): dict(kv.split("=", 1) for kv in m.group(0).split()[1:])
             for m in re.finditer(r"^NODE node=(\d+) .*$", r.stdout, re.M)}
    assert sorted(nodes) == [0, 1, 2], out
    for k, n in nodes.items():
        # every message sent while linked reached every receiver, once and in order
        assert int(n["expected"]) > 0 and n["missing"] == "0", (k, out)
        assert n["duplicated"] == "0" and n["split_duplicated"] == "0" and n["reordered"] == "0", (k, out)
        assert int(n["lat_count"]) > 0, (k, out)
    # the near side never missed anything; the far side (n2) missed what was sent while split
    assert nodes[0]["split_missing"] == "0" and nodes[1]["split_missing"] == "0", out
    assert int(nodes[2]["split_missing"]) > 0 and float(nodes[2]["resume_ms"]) > 0, out
    result = next(l for l in r.stdout.splitlines() if l.startswith("RESULT "))
    assert " status=ok " in result and " split_rc=0 " in result, out
    restored = float(re.search(r" restored_ms=(-?[\d.]+)", result).group(1))
    assert 0 < restored < 20000, out
