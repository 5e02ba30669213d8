"""Counting the SQL statements a request runs: nested lists must cost one query per level,
never one per row (Saleor's ``count_queries``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.statements import Statements, capturing


def _read(statement: str) -> bool:
    # The token lookup (server/guard.py) is one query per request, not per level.
    return statement.startswith(("SELECT", "WITH")) and '"API_TOKEN"' not in statement


class QueryCounter(Statements):
    def __init__(self) -> None:
        super().__init__(_read)

    @property
    def queries(self) -> list[str]:
        return self.sql


@pytest.fixture
def query_counter() -> Iterator[QueryCounter]:
    with capturing(QueryCounter()) as counter:
        yield counter


__all__ = ["QueryCounter", "query_counter"]
