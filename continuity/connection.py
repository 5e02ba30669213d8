"""The database connection of the current context: Tortoise's ``get_connection``, made cheap.

Tortoise's ``get_connection(alias)`` is ``require_context().connections.get(alias)`` behind an
import statement run at every call (``from tortoise.context import require_context``), which
cost more than the look-up itself: ~1 µs alone, 5 µs a call inside a projection's loop (a
projection on SQLite took 12 % less without it, docs/PERFORMANCE.md). ``connection`` is the
same look-up, with the same answer: the context's connection, a transaction's inside one;
``connections`` is ``get_connections`` (the same import inside), which a transaction of ours
calls twice, to set its connection as the context's and to take it back.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import ConnectionHandler
from tortoise.context import require_context


def connection(alias: str = "default") -> BaseDBAsyncClient:
    """The connection ``alias`` of the current context (``get_connection(alias)``)."""
    return require_context().connections.get(alias)


def connections() -> ConnectionHandler:
    """The current context's connections (``get_connections()``)."""
    return require_context().connections
