"""Counting the SQL statements a request runs: nested lists must cost one query per level,
never one per row (Saleor's ``count_queries``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


class QueryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.queries: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        # The token lookup (server/guard.py) is one query per request, not per level.
        if message.lstrip().upper().startswith(("SELECT", "WITH")) and '"api_token"' not in message:
            self.queries.append(message)


@pytest.fixture
def query_counter() -> Iterator[QueryCounter]:
    logger = logging.getLogger("tortoise.db_client")
    handler, level = QueryCounter(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


__all__ = ["QueryCounter", "query_counter"]
