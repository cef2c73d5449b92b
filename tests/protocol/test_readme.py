"""README.md's tables render as tables (issue 14): a blank line inside a table (as once
after `class.flood.burst`) makes its rest a paragraph of pipes. Every block of table
rows must start with a header and its `| --- |` separator, and each row must have the
header's number of cells (pipes inside `code` do not count)."""

import re

from conftest import ROOT


def cells(row):
    """The number of cells of a markdown table row, ignoring pipes inside backticks or
    escaped as \\|."""
    text = re.sub(r"`[^`]*`", "code", row).replace("\\|", "")
    return text.strip().strip("|").count("|") + 1


def table_blocks(lines):
    """(first line number, rows) of each run of consecutive lines starting with '|'."""
    blocks, current = [], None
    for n, line in enumerate(lines, 1):
        if line.startswith("|"):
            if current is None:
                current = (n, [])
                blocks.append(current)
            current[1].append(line)
        else:
            current = None
    return blocks


def test_readme_tables_are_whole():
    lines = (ROOT / "README.md").read_text().splitlines()
    blocks = table_blocks(lines)
    assert blocks
    for start, rows in blocks:
        assert len(rows) >= 2 and re.fullmatch(r"\|( *:?-+:? *\|)+", rows[1].replace(" ", "")), \
            "README.md:%d: a table without its header (a blank line inside a table?): %r" % (start, rows[0])
        width = cells(rows[0])
        for i, row in enumerate(rows):
            assert cells(row) == width, "README.md:%d: %d cells, the header has %d: %r" % (
                start + i, cells(row), width, row)


def test_config_table_lists_the_settings_after_class_flood():
    """The one configuration table runs from server.name to connlimit.exempt."""
    text = (ROOT / "README.md").read_text()
    block = next(rows for _, rows in table_blocks(text.splitlines()) if "`server.name`" in rows[2])
    joined = "\n".join(block)
    for key in ("`class.flood.burst`", "`storage.backend`", "`tls.sts.port`", "`connlimit.exempt`"):
        assert key in joined, key
