"""The SQL statements Tortoise's client logs, captured for the tests that count them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar


class Statements(logging.Handler):
    """Keeps the logged statements ``keep`` accepts (it gets the statement's text)."""

    def __init__(self, keep: Callable[[str], bool]) -> None:
        super().__init__(logging.DEBUG)
        self.keep = keep
        self.sql: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if self.keep(message.lstrip().upper()):
            self.sql.append(message)


H = TypeVar("H", bound=Statements)


@contextmanager
def capturing(handler: H) -> Iterator[H]:
    """``handler`` collects the statements run meanwhile (both backends' clients log them)."""
    logger = logging.getLogger("tortoise.db_client")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
