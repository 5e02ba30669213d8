"""The SDL is the reviewed contract: a change to it must be deliberate.

Accept an intended change with ``UPDATE_SNAPSHOTS=1 pytest tests/test_schema_snapshot.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from schema import build_schema, schema

SNAPSHOT = Path(__file__).resolve().parent.parent / "schema" / "schema.graphql"


def test_sdl_matches_the_committed_snapshot() -> None:
    sdl = schema.as_str() + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(sdl)
    assert SNAPSHOT.read_text() == sdl


def test_development_schema_has_the_same_sdl() -> None:
    assert build_schema(development=True).as_str() == schema.as_str()
