"""The browser tests reuse the protocol tests' harness (tests/protocol/conftest.py:
make_server, Client) under another module name, so both conftest files can coexist."""

import importlib.util
import sys
from pathlib import Path

_path = Path(__file__).resolve().parents[1] / "protocol" / "conftest.py"
_spec = importlib.util.spec_from_file_location("parley_harness", _path)
harness = importlib.util.module_from_spec(_spec)
sys.modules["parley_harness"] = harness
_spec.loader.exec_module(harness)

make_server = harness.make_server
tls_files = harness.tls_files
