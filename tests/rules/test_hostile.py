"""Hostile rule files: mutated copies of every bundled file (truncated, wrong types, huge numbers,
deep nesting, anchor/alias bombs, non-UTF-8 bytes) always give a clean load or
``path:line:column`` errors: never an exception, within bounded time and memory, and a reload
that reports errors leaves the database exactly as the last good sync left it."""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from continuity.db import open_database
from rules.loader import BUNDLED_RULES_DIR, check_rules
from rules.reload import reload_rules
from tests.api.snapshot import fingerprint

FILES = sorted(
    str(path.relative_to(BUNDLED_RULES_DIR)) for path in BUNDLED_RULES_DIR.rglob("*.yaml")
)
SOURCES = {name: (BUNDLED_RULES_DIR / name).read_bytes() for name in FILES}
#: A sanity guard, not a performance target: a check that takes this long is a hang.
MAX_SECONDS = 10.0
MAX_PEAK_BYTES = 200 * 1024 * 1024
ERROR_LINE = re.compile(r"^(?P<path>.+):(?P<line>[1-9]\d*):(?P<column>[1-9]\d*): \S")

_ALIAS_BOMB = "\n".join(
    ["bomb0: &b0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"bomb{i}: &b{i} [{', '.join([f'*b{i - 1}'] * 9)}]" for i in range(1, 9)]
).encode()
_INSERTS = [
    b"[" * 5000,
    b"{a: " * 3000,
    b"- " * 2000,
    b"99999999999999999999999999999999999999",
    b"1e400",
    b"-0x7fffffffffffffff",
    b".nan",
    b"!!python/object:os.system ",
    b"&anchor ",
    b"*anchor",
    b"<<: *anchor\n",
    b"\xff\xfe\x00",
    b"\xc3\x28",
    b"\x00",
    b"\t",
    b"[1, 2, 3]",
    b"{x: 1}",
    b"null",
    b"true",
    b'"12.345"',
    b"'-1'",
    b"\n---\n",
    b"?",
]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    name = draw(st.sampled_from(FILES))
    data = bytearray(SOURCES[name])
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "insert", "retype", "bomb", "flip"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[position:]
        elif kind == "insert":
            data[position:position] = draw(st.sampled_from(_INSERTS))
        elif kind == "retype":
            # Replace one scalar value ("key: value") with a value of another type.
            matches = list(re.finditer(rb": ([^\n\[\]{},]+)", data))
            if matches:
                match = draw(st.sampled_from(matches))
                value = draw(st.sampled_from(_INSERTS[3:]))
                data[match.start(1) : match.end(1)] = value
        elif kind == "bomb":
            data += b"\n" + _ALIAS_BOMB + b"\n"
        elif data:
            data[position] = draw(st.integers(0, 255))
    return name, bytes(data)


def _copy_rules(target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(BUNDLED_RULES_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _checked(rules_dir: Path) -> list[str]:
    """check_rules under the time and memory guards; the errors as printed lines."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        errors = check_rules(rules_dir)
        elapsed = time.monotonic() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < MAX_SECONDS, f"check took {elapsed:.1f} s"
    assert peak < MAX_PEAK_BYTES, f"check peaked at {peak / 1e6:.0f} MB"
    lines = [str(error) for error in errors]
    for line in lines:
        match = ERROR_LINE.match(line)
        assert match, line
        assert match["path"].startswith(str(rules_dir)), line
    return lines


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(change=mutated())
def test_a_mutated_rule_file_is_a_clean_load_or_located_errors(
    tmp_path: Path, change: tuple[str, bytes]
) -> None:
    rules_dir = _copy_rules(tmp_path / "rules")
    name, raw = change
    (rules_dir / name).write_bytes(raw)
    _checked(rules_dir)


@pytest.mark.db
def test_a_bad_reload_never_syncs_part_of_the_rules(sync_database_url: str, tmp_path: Path) -> None:
    """After a good sync, reloading mutated files either reports errors and changes nothing, or
    is a clean load (then the good files are synced back for the next example)."""
    rules_dir = _copy_rules(tmp_path / "rules")

    async def reload(expect_ok: bool | None = None) -> tuple[bool, object]:
        async with open_database(sync_database_url):
            result = await reload_rules(rules_dir)
            if expect_ok is not None:
                assert result.ok is expect_ok, result.errors
            return result.ok, await fingerprint()

    _ok, good = asyncio.run(reload(expect_ok=True))
    outcomes: dict[str, int] = {}

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(change=mutated())
    def run(change: tuple[str, bytes]) -> None:
        nonlocal good
        name, raw = change
        (rules_dir / name).write_bytes(raw)
        try:
            ok, after = asyncio.run(reload())
            outcomes[str(ok)] = outcomes.get(str(ok), 0) + 1
            if not ok:
                assert after == good, f"a refused reload of {name} changed the database"
        finally:
            (rules_dir / name).write_bytes(SOURCES[name])
        if ok:
            _ok, good = asyncio.run(reload(expect_ok=True))

    run()
    assert outcomes.get("False", 0) > 5, outcomes
