"""The import graph has one direction: server → schema → resolvers → domain.

``resolvers`` calls the domain and knows nothing of GraphQL (no ``schema``, no ``strawberry``,
no ``graphql``); the per-request context, the DataLoaders and the access check live in
``schema``, which imports ``resolvers`` and never the reverse. Read from the source (``ast``), so
an import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: package → the top-level modules it must never import.
FORBIDDEN = {
    "resolvers": {"schema", "server", "scheduler", "strawberry", "graphql", "starlette"},
    "schema": {"server", "scheduler"},
}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) of every import in a file, at any depth."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downwards(package: str) -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, module in imports(path)
        if module in FORBIDDEN[package]
    ]
    assert offenders == []


def test_the_checker_sees_a_nested_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from schema.context import Info\n    import graphql.error\n")
    assert imports(sample) == [(2, "schema"), (3, "graphql")]
