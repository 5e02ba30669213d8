"""The idempotency key store (``continuity/idempotency.py``): claim, wait, replay, refuse,
release, and the sweep that keeps keys 24 hours (issue 11). The API's use of it is in
``tests/api/test_idempotency_api.py``."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from tortoise.context import TortoiseContext
from tortoise.exceptions import IntegrityError

from config.settings import load_settings
from continuity import idempotency
from continuity.enums import CancelReason
from continuity.errors import ErrorCode, InvalidInput
from continuity.jobs import JobEnv
from continuity.models import IdempotencyKey
from scheduler import KEY_SWEEP_JOB_ID, Background

NOW = datetime(2027, 1, 31, 12, 0, tzinfo=UTC)
HASH = idempotency.fingerprint("placeSalesOrder", {"sku": "A"})


def test_the_fingerprint_is_canonical() -> None:
    one = idempotency.fingerprint("m", {"a": 1, "b": [date(2027, 1, 1), Decimal("1.50")]})
    two = idempotency.fingerprint("m", {"b": [date(2027, 1, 1), Decimal("1.50")], "a": 1})
    assert one == two
    assert len(one) == 64
    assert one != idempotency.fingerprint("other", {"a": 1, "b": [date(2027, 1, 1), "1.50"]})
    assert one != idempotency.fingerprint("m", {"a": 2, "b": [date(2027, 1, 1), "1.50"]})
    enum = idempotency.fingerprint("m", {"why": CancelReason.OTHER})
    assert enum == idempotency.fingerprint("m", {"why": CancelReason.OTHER.value})


@pytest.mark.parametrize("key", ["", "x" * 256, "a b", "ü", "\x00"])
def test_a_malformed_key_is_refused(key: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        idempotency.check_key(key, ["idempotencyKey"])
    assert refused.value.field == ("idempotencyKey",)


def test_a_uuid_and_255_characters_are_keys() -> None:
    assert idempotency.check_key("7f1c0d4e-4b6a-4c1e-9a55-3c2d1e0f9a8b", None)
    assert idempotency.check_key("k" * 255, None) == "k" * 255


@pytest.mark.db
async def test_scope_and_key_are_unique(db: TortoiseContext) -> None:
    await IdempotencyKey.create(
        scope="token:a", key="k", operation="m", request_hash=HASH, created_at=NOW
    )
    with pytest.raises(IntegrityError):
        await IdempotencyKey.create(
            scope="token:a", key="k", operation="m", request_hash=HASH, created_at=NOW
        )
    await IdempotencyKey.create(
        scope="token:b", key="k", operation="m", request_hash=HASH, created_at=NOW
    )


@pytest.mark.db
async def test_concurrent_claims_one_wins_the_others_get_its_response(
    db: TortoiseContext,
) -> None:
    async def request() -> idempotency.Claim | idempotency.Replay:
        return await idempotency.claim("token:a", "k", "placeSalesOrder", HASH)

    first = await request()
    assert isinstance(first, idempotency.Claim)
    waiting = [asyncio.create_task(request()) for _ in range(9)]
    await asyncio.sleep(0.2)
    assert not any(task.done() for task in waiting)  # they wait for the first
    await idempotency.complete(first, {"salesOrder": {"number": "SO-1"}})
    answers = await asyncio.gather(*waiting)
    assert answers == [idempotency.Replay({"salesOrder": {"number": "SO-1"}})] * 9
    assert await IdempotencyKey.all().count() == 1


@pytest.mark.db
async def test_a_key_still_running_past_the_wait_is_in_progress(db: TortoiseContext) -> None:
    assert isinstance(await idempotency.claim("token:a", "k", "m", HASH), idempotency.Claim)
    with pytest.raises(idempotency.KeyInProgress) as running:
        await idempotency.claim("token:a", "k", "m", HASH, wait=timedelta(seconds=0.1))
    assert running.value.code is ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS


@pytest.mark.db
async def test_other_input_is_refused_even_while_the_first_runs(db: TortoiseContext) -> None:
    await idempotency.claim("token:a", "k", "placeSalesOrder", HASH)
    with pytest.raises(idempotency.KeyReused) as reused:
        await idempotency.claim("token:a", "k", "placeSalesOrder", "0" * 64, field=["f"])
    assert reused.value.code is ErrorCode.IDEMPOTENCY_KEY_REUSED
    assert reused.value.field == ("f",)


@pytest.mark.db
async def test_a_released_key_is_claimed_again_by_a_waiting_request(
    db: TortoiseContext,
) -> None:
    first = await idempotency.claim("token:a", "k", "m", HASH)
    assert isinstance(first, idempotency.Claim)
    waiting = asyncio.create_task(idempotency.claim("token:a", "k", "m", HASH))
    await asyncio.sleep(0.1)
    await idempotency.release(first)
    second = await waiting
    assert isinstance(second, idempotency.Claim)
    assert second.id != first.id
    # a completed key is never released
    await idempotency.complete(second, {"ok": True})
    await idempotency.release(second)
    assert await idempotency.claim("token:a", "k", "m", HASH) == idempotency.Replay({"ok": True})


@pytest.mark.db
async def test_the_sweep_removes_keys_older_than_24_hours_and_keeps_newer(
    db: TortoiseContext,
) -> None:
    for hours, key in ((25, "old"), (24.01, "just-old"), (23.9, "recent"), (0, "new")):
        await IdempotencyKey.create(
            scope="token:a",
            key=key,
            operation="m",
            request_hash=HASH,
            created_at=NOW - timedelta(hours=hours),
        )
    assert await idempotency.sweep(now=NOW) == 2
    kept = await IdempotencyKey.all().order_by("key")
    assert [row.key for row in kept] == ["new", "recent"]


@pytest.mark.db
async def test_a_key_past_its_retention_is_free_before_the_sweep(db: TortoiseContext) -> None:
    old = await idempotency.claim("token:a", "k", "m", HASH, now=NOW - timedelta(hours=25))
    assert isinstance(old, idempotency.Claim)
    await idempotency.complete(old, {"first": True})
    fresh = await idempotency.claim("token:a", "k", "m", "1" * 64, now=NOW)
    assert isinstance(fresh, idempotency.Claim)  # not KeyReused: the old key is gone
    assert await IdempotencyKey.all().count() == 1


@pytest.mark.db
async def test_every_server_sweeps_keys(db: TortoiseContext) -> None:
    await IdempotencyKey.create(
        scope="token:a",
        key="old",
        operation="m",
        request_hash=HASH,
        created_at=datetime.now(UTC) - timedelta(hours=30),
    )
    background = Background(
        load_settings(
            environ={
                "CONTINUITY_SCHEDULER_ENABLED": "false",
                "CONTINUITY_DELIVERY_ENABLED": "false",
            }
        ),
        JobEnv(),
    )
    background.start()
    try:
        job = background.scheduler.get_job(KEY_SWEEP_JOB_ID)
        assert job is not None
        assert job.trigger.interval == idempotency.SWEEP_INTERVAL
        await background.sweep_keys()
    finally:
        await background.stop(grace=1)
    assert await IdempotencyKey.all().count() == 0
