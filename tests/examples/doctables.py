"""The example tables of a Markdown guide, read so that tests can compare them with the code.

A table is marked by an HTML comment on the line before it, ``<!-- example NAME: KIND -->`` or
``<!-- engine: KIND -->``; the table is the block of ``|`` lines that follows (a header row, the
``|---|`` row, then the data rows). Every marker must be followed by a table, and a (name, kind)
pair may appear only once, so a broken document fails loudly instead of testing nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MARKER = re.compile(r"^<!-- (?:example (?P<name>[a-z0-9-]+)|engine): (?P<kind>[a-z-]+) -->$")
SEPARATOR = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+$")
#: The name under which ``<!-- engine: KIND -->`` tables are filed.
ENGINE = "engine"


@dataclass(frozen=True)
class Table:
    line: int  # 1-based line of the marker, for messages
    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]


def _cells(text: str) -> list[str]:
    return [cell.strip() for cell in text.strip().strip("|").split("|")]


def read_tables(path: Path) -> dict[tuple[str, str], Table]:
    """Every marked table of ``path`` by (example name or ``engine``, kind)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    tables: dict[tuple[str, str], Table] = {}
    for index, text in enumerate(lines):
        match = MARKER.match(text.strip())
        if match is None:
            continue
        key = (match.group("name") or ENGINE, match.group("kind"))
        where = f"{path}:{index + 1}"
        if key in tables:
            raise ValueError(f"{where}: second table for {key}")
        block: list[str] = []
        for row in lines[index + 1 :]:
            if not row.startswith("|"):
                break
            block.append(row)
        if len(block) < 2 or not SEPARATOR.match(block[1].replace(" ", "")):
            raise ValueError(f"{where}: the marker is not followed by a Markdown table")
        header = tuple(_cells(block[0]))
        rows = []
        for offset, row in enumerate(block[2:], start=3):
            cells = _cells(row)
            if len(cells) != len(header):
                raise ValueError(
                    f"{path}:{index + offset}: {len(cells)} cells for {len(header)} columns"
                )
            rows.append(dict(zip(header, cells, strict=True)))
        tables[key] = Table(index + 1, header, tuple(rows))
    return tables
