"""The project's own top-level packages are the ones imported (several names exist on PyPI)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["config", "continuity", "resolvers", "rules", "scheduler", "schema", "server"]


@pytest.mark.parametrize("name", PACKAGES)
def test_package_is_the_projects_own(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / name


def test_schema_package_exports_exactly_the_schema() -> None:
    import schema

    assert sorted(schema.__all__) == ["build_schema", "schema"]


def test_domain_imports_no_interface() -> None:
    """The domain package never imports schema, resolvers, scheduler, server or rules."""
    forbidden = ("schema", "resolvers", "scheduler", "server", "rules", "config")
    offenders = []
    for path in (ROOT / "continuity").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            words = line.split()
            if len(words) >= 2 and words[0] in {"import", "from"}:
                top = words[1].split(".")[0]
                if top in forbidden:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
