"""The PostgreSQL connection pool every process opens: Tortoise's asyncpg client, whose
connections go back to the pool without a reset query.

By default asyncpg resets a connection each time it returns to the pool with
``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;``: a round trip to the
server after every statement run outside a transaction, and after every transaction, which
doubles the round trips of every autocommit read (one projection: the read, then the reset).

The ORM's connections never hold session state for that query to clear: session advisory
locks live on connections of their own (``continuity.pglocks``), nothing runs ``LISTEN`` or
sets a session variable (``SET``) on a pooled connection, and cursors live inside
transactions. What a connection may still carry back, a transaction left open, asyncpg
rolls back on every release whatever the reset (with its listeners, which nothing adds).
Code that needs session state takes a dedicated connection, as ``pglocks`` does.

Every connection also turns PostgreSQL's JIT compilation off (``jit = off``, unless the URL's
``server_settings`` say otherwise). The server compiles a statement whose estimated cost
passes ``jit_above_cost`` again at every execution, and our statements are short and run many
times: the candidate walk of ``extend-lines`` (a million orders, ~20 executions a run) paid
~225 ms of compilation each, a third of the statement's time.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient

#: Session settings of every pooled connection (see the module docstring).
SERVER_SETTINGS = {"jit": "off"}


async def keep_session(connection: asyncpg.Connection) -> None:
    """The pool's ``reset``: nothing to reset (see the module docstring); asyncpg has
    already rolled back a transaction left open."""


class ContinuityPostgresClient(AsyncpgDBClient):
    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        kwargs.setdefault("reset", keep_session)
        kwargs["server_settings"] = {**SERVER_SETTINGS, **(kwargs.get("server_settings") or {})}
        return await super().create_pool(**kwargs)


client_class = ContinuityPostgresClient
