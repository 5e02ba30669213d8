"""``continuity.sql.insert``: the row and the object ``Model.create`` would give, in one
``INSERT … RETURNING``."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.exceptions import ValidationError
from tortoise.transactions import in_transaction

from continuity.enums import BillingMode, JobRunStatus
from continuity.models import ContinuityOrder, Customer, JobRun
from continuity.sql import fetch, insert, new_row

pytestmark = pytest.mark.db

VALUES: dict[str, Any] = {"job": "extend", "as_of": date(2027, 1, 31), "triggered_by": "cli"}


def _fields(row: JobRun) -> dict[str, Any]:
    return {name: getattr(row, name) for name in JobRun._meta.fields_db_projection}


async def _stored(table: str, row_id: int) -> dict[str, Any]:
    conn = Tortoise.get_connection("default")
    rows = await fetch(conn, f"SELECT * FROM {table} WHERE id = :id", id=row_id)
    return rows[0]


async def test_the_row_and_object_are_those_of_create(db: object) -> None:
    created = await JobRun.create(**VALUES, filters={"program": "b"})
    inserted = await insert(JobRun, None, **VALUES, filters={"program": "b"})
    assert inserted.id == created.id + 1
    assert inserted._saved_in_db
    assert not inserted._partial
    ours, theirs = _fields(inserted), _fields(created)
    assert ours.pop("started_at") >= theirs.pop("started_at")
    assert ours.pop("id") == theirs.pop("id") + 1
    assert ours == theirs  # defaults (status, JSON lists and dicts), enums, dates
    assert inserted.status is JobRunStatus.RUNNING
    stored, expected = (
        await _stored("job_run", inserted.id),
        await _stored("job_run", created.id),
    )
    for row in (stored, expected):
        row.pop("id"), row.pop("started_at")
    assert stored == expected  # the same stored values (JSON text, enum values, dates)


async def test_a_later_save_updates_the_row(db: object) -> None:
    run = await insert(JobRun, None, **VALUES)
    run.status = JobRunStatus.SUCCEEDED
    run.counts = {"orders": 3}
    await run.save()
    again = await JobRun.get(id=run.id)
    assert (again.status, again.counts, again.job) == (
        JobRunStatus.SUCCEEDED,
        {"orders": 3},
        "extend",
    )
    assert await JobRun.all().count() == 1


async def test_auto_now_fields_are_set_and_the_transaction_is_used(db: object) -> None:
    async with in_transaction() as conn:
        customer = await insert(Customer, conn, account_number="A-1", name="Ann")
    assert customer.created_at is not None
    assert customer.updated_at == customer.created_at
    assert (await Customer.get(id=customer.id)).created_at == customer.created_at


async def test_refuses_unknown_fields_and_nulls(db: object) -> None:
    with pytest.raises(TypeError, match="nickname"):
        await insert(Customer, None, account_number="A-2", name="Bo", nickname="B")
    with pytest.raises(ValueError, match="non nullable"):
        await insert(Customer, None, account_number="A-2", name=None)


async def test_values_are_converted_and_checked_as_tortoise_does(db: object) -> None:
    """``new_row`` takes a value of the field's own type as it is (its checks still run)
    and converts any other with the field's own conversions: the row is the same either way."""
    given = new_row(JobRun, {**VALUES, "as_of": date(2027, 1, 31)})
    parsed = new_row(JobRun, {**VALUES, "as_of": "2027-01-31"})
    assert given[0] == parsed[0]
    assert given[1]["as_of"] == parsed[1]["as_of"] == date(2027, 1, 31)
    column = given[0].index("as_of")
    assert given[2][column] == parsed[2][column] == date(2027, 1, 31)
    assert given[1]["status"] is JobRunStatus.RUNNING  # the default, as Tortoise gives it
    assert given[2][given[0].index("status")] == JobRunStatus.RUNNING.value
    with pytest.raises(ValidationError, match="number: Value must not be None"):
        new_row(ContinuityOrder, {"currency": "USD"})  # a default refused is refused per row
    counted = new_row(
        ContinuityOrder,
        {
            "number": "CO-1",
            "currency": "USD",
            "billing_mode": BillingMode.PER_SHIPMENT,
            "quantity": "2",
            "total_minor": 5,
        },
    )
    assert counted[1]["quantity"] == 2
    assert counted[1]["total_minor"] == 5
    assert counted[2][counted[0].index("quantity")] == 2
    with pytest.raises(ValidationError, match="account_number"):
        new_row(Customer, {"account_number": "A" * 33, "name": "Dee"})
