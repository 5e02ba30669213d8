"""Idempotency keys: a mutation retried with its key answers with its first response and never
runs twice (docs/ACCESS.md), as Stripe's API does.

A key belongs to a caller (its ``scope``). The first request with a key **claims** it: it
inserts the key's row in a transaction of its own, before the mutation runs, and the unique
``(scope, key)`` lets exactly one of several concurrent requests do so. When the mutation has
answered, the claim is **completed** with the response. Any other request with the key then:

- with other input (another mutation, or other values: ``fingerprint``): is refused,
  ``IDEMPOTENCY_KEY_REUSED``;
- while the first still runs: waits for its response (polling the row, at most ``WAIT``), then
  answers with it, or with ``IDEMPOTENCY_KEY_IN_PROGRESS`` if it did not come in time;
- after it: gets the stored response, without running anything.

A first request that fails with an exception is **released** (its row deleted): nothing was
stored, and the key may be retried; except ``OutcomeUnknown`` (the mutation may have been done,
e.g. the placement worker died with it in hand): the key stays claimed, so that a retry is
never run twice (it waits, then gets ``IDEMPOTENCY_KEY_IN_PROGRESS``, until the key expires).
Keys are kept ``RETENTION`` (24 h), then swept (``sweep``, every ``SWEEP_INTERVAL`` by each
server); a key found older than that is free again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from tortoise.exceptions import IntegrityError

from continuity.errors import ContinuityError, ErrorCode, InvalidInput
from continuity.models import IdempotencyKey

#: How long a key and its response are kept: a retry within this answers the first response.
RETENTION = timedelta(hours=24)
#: How often a server sweeps keys past their retention.
SWEEP_INTERVAL = timedelta(hours=1)
#: How long a request waits for a concurrent first request with its key to answer.
WAIT = timedelta(seconds=30)
POLL_SECONDS = 0.05
MAX_KEY_LENGTH = 255


class KeyReused(ContinuityError):
    code = ErrorCode.IDEMPOTENCY_KEY_REUSED


class KeyInProgress(ContinuityError):
    code = ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS


class OutcomeUnknown(Exception):
    """A mutation failed without knowing whether its work was done: its key is not released."""


@dataclass(frozen=True)
class Claim:
    """This request holds the key: run the mutation, then ``complete`` or ``release``."""

    id: int


@dataclass(frozen=True)
class Replay:
    """The key's first request answered: this is its response."""

    response: Any


def check_key(key: str, field: Sequence[str] | None) -> str:
    """A key is 1 to 255 visible ASCII characters (a UUID is the usual choice)."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all("!" <= char <= "~" for char in key):
        raise InvalidInput(
            f"an idempotency key has 1 to {MAX_KEY_LENGTH} visible ASCII characters, no spaces "
            "(a UUID will do)",
            field=field,
        )
    return key


def _plain(value: Any) -> Any:
    """Values JSON has no type for, as text (an enum by its value)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date | Decimal):
        return str(value)
    return f"{type(value).__name__}:{value}"


def fingerprint(operation: str, data: Any) -> str:
    """SHA-256 of the mutation's name and its input in canonical JSON (sorted keys, values as
    text): equal inputs, however the request spelled them, have equal fingerprints."""
    canonical = json.dumps(
        {"operation": operation, "input": data},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_plain,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    scope: str,
    key: str,
    operation: str,
    request_hash: str,
    *,
    field: Sequence[str] | None = None,
    wait: timedelta = WAIT,
    now: datetime | None = None,
) -> Claim | Replay:
    """Claim ``key`` for this request, or the first request's response (waited for while it
    runs). ``KeyReused``: the key was used with other input; ``KeyInProgress``: the first
    request did not answer within ``wait``."""
    deadline = time.monotonic() + wait.total_seconds()
    while True:
        created = now or datetime.now(UTC)
        try:
            row = await IdempotencyKey.create(
                scope=scope,
                key=key,
                operation=operation,
                request_hash=request_hash,
                created_at=created,
            )
            return Claim(row.id)
        except IntegrityError:
            pass  # another request holds it: see what it holds
        while True:
            found = await IdempotencyKey.get_or_none(scope=scope, key=key)
            if found is None:
                break  # released (its request failed) or swept: claim it again
            if found.created_at <= created - RETENTION:
                # past its retention and not swept yet: the key is free again
                await IdempotencyKey.filter(id=found.id).delete()
                break
            if found.request_hash != request_hash:
                raise KeyReused(
                    f"this idempotency key was used for {found.operation} with other input: "
                    "send a new key for a new request",
                    field=field,
                )
            if found.completed_at is not None:
                return Replay(json.loads(found.response or "null"))
            if time.monotonic() >= deadline:
                raise KeyInProgress(
                    "the first request with this idempotency key is still running: retry "
                    "later with the same key to get its answer",
                    field=field,
                )
            await asyncio.sleep(POLL_SECONDS)


async def complete(claimed: Claim, response: Any, *, now: datetime | None = None) -> None:
    """Store the first response: from now on the key answers with it."""
    await IdempotencyKey.filter(id=claimed.id).update(
        response=json.dumps(response, ensure_ascii=False), completed_at=now or datetime.now(UTC)
    )


async def release(claimed: Claim) -> None:
    """The first request failed without an answer worth keeping: free the key for a retry."""
    await IdempotencyKey.filter(id=claimed.id, completed_at__isnull=True).delete()


async def sweep(*, now: datetime | None = None, retention: timedelta = RETENTION) -> int:
    """Delete the keys older than ``retention``; return how many."""
    cutoff = (now or datetime.now(UTC)) - retention
    return await IdempotencyKey.filter(created_at__lt=cutoff).delete()
