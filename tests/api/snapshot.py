"""A fingerprint of the whole database, to prove that a refused request wrote nothing."""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.testclient import TestClient
from tortoise import Tortoise

#: Written by authentication itself (``last_used_at``), not by the request's operation; and
#: the idempotency keys, whose row keeps a refusal as the key's answer (docs/ACCESS.md).
IGNORED_TABLES = frozenset({"api_token", "idempotency_key"})


async def fingerprint() -> dict[str, tuple[int, str]]:
    result: dict[str, tuple[int, str]] = {}
    for model in Tortoise.apps["models"].values():
        table = model._meta.db_table
        if table in IGNORED_TABLES:
            continue
        rows: list[dict[str, Any]] = await model.all().order_by(model._meta.pk_attr).values()
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        result[table] = (len(rows), digest)
    return result


def snapshot(client: TestClient) -> dict[str, tuple[int, str]]:
    """(row count, checksum) per table, read in the app's own event loop."""
    return client.portal.call(fingerprint)  # type: ignore[union-attr]
