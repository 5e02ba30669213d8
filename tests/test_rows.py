"""``continuity.rows``: rows read with hand-written SQL become the objects Tortoise's own
queries build, attribute for attribute, for every model, on both backends."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise
from tortoise.models import Model

from continuity.models import ContinuityLine, ContinuityOrder, JobRun
from continuity.payments.gateway import TestGateway
from continuity.rows import model_of, models_from, models_of, select
from continuity.sql import by_ids, fetch, fetch_rows
from tests.jobs.world import buyer, open_business, order, run_days

pytestmark = pytest.mark.db

DAY0 = date(2027, 1, 10)


def _models() -> list[type[Model]]:
    return [model for app in Tortoise.apps.values() for model in app.values()]


def _state(obj: Model) -> dict[str, tuple[type, Any, Any]]:
    """Every attribute, with its type and (for timestamps) its zone: equal values of another
    type (text for a date, a naive timestamp) must show as a difference."""
    return {
        name: (type(value), value, getattr(value, "utcoffset", lambda: None)())
        for name, value in vars(obj).items()
    }


async def _rows(model: type[Model]) -> list[dict[str, Any]]:
    return await fetch(
        Tortoise.get_connection("default"),
        f'SELECT * FROM "{model._meta.db_table}" ORDER BY "{model._meta.db_pk_column}"',
    )


async def test_every_model_is_built_as_tortoise_builds_it(db: object, rules_dir: Path) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    for sku in ["BOOKCLUB", "VITREFILL", "COFFEECLUB", "GIFTBOX6"]:
        await order(ada, sku, DAY0, rules, gateway)
    await order(ada, "WINECLUB12", DAY0, rules, gateway, payment_schedule="three-monthly")
    await run_days(DAY0, 3, gateway)
    compared: dict[str, int] = {}
    for model in _models():
        ours = models_of(model, await _rows(model))
        theirs = await model.all().order_by(model._meta.pk_attr)
        assert [_state(o) for o in ours] == [_state(t) for t in theirs], model.__name__
        selected = await select(model.all().order_by(model._meta.pk_attr))
        assert [_state(o) for o in selected] == [_state(t) for t in theirs], model.__name__
        # the loaders' look-up by key: every other object, and a key that does not exist
        wanted = [t.pk for t in theirs[::2]]
        keyed = await by_ids(model, [*wanted, 10**9]) if wanted else []
        assert sorted((_state(o) for o in keyed), key=repr) == sorted(
            (_state(t) for t in theirs[::2]), key=repr
        ), model.__name__
        # the driver's rows read by position: columns in another order, and one more
        table, key = model._meta.db_table, model._meta.db_pk_column
        driven = await fetch_rows(
            Tortoise.get_connection("default"),
            f'SELECT 7 AS keyset_rank, t.*, 1 AS "zz" FROM "{table}" t ORDER BY t."{key}" DESC',
        )
        positional = models_from(model, driven)[::-1]
        assert [_state(o) for o in positional] == [_state(t) for t in theirs], model.__name__
        compared[model.__name__] = len(ours)
    # a filter through a relation (how the node loaders scope a customer's objects)
    scoped = ContinuityLine.filter(continuity_order__customer_id=ada.customer_id).order_by("id")
    assert [_state(o) for o in await select(scoped)] == [_state(t) for t in await scoped]
    for name in ["ContinuityOrder", "ContinuityLine", "ChildOrder", "Payment", "JobRun"]:
        assert compared[name] > 0, name  # the business above wrote them
    assert await by_ids(ContinuityOrder, []) == []


async def test_a_built_object_saves_and_compares_as_tortoises_does(db: object) -> None:
    run = await JobRun.create(job="extend", as_of=DAY0, triggered_by="cli")
    [row] = await _rows(JobRun)
    built = model_of(JobRun, row)
    assert built == run
    assert built._saved_in_db
    assert not built._partial
    assert isinstance(built.started_at, datetime)
    assert built.started_at.utcoffset() == timedelta(0)
    built.triggered_by = "api"
    await built.save()
    assert (await JobRun.get(id=run.id)).triggered_by == "api"


async def test_a_row_of_some_columns_is_tortoises_partial_model(
    db: object, rules_dir: Path
) -> None:
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    await order(ada, "VITREFILL", DAY0, rules, gateway)
    [row] = await fetch(
        Tortoise.get_connection("default"), "SELECT id, number, start_date FROM continuity_order"
    )
    built = model_of(ContinuityOrder, row)
    assert built._partial
    assert isinstance(built.start_date, date)
    assert built.start_date == DAY0
    lines = await fetch(Tortoise.get_connection("default"), "SELECT * FROM continuity_line")
    assert [line.planned_ship_date for line in models_of(ContinuityLine, lines)] == [
        line.planned_ship_date for line in await ContinuityLine.all().order_by("id")
    ]


async def test_driver_rows_of_some_columns_or_names_alike_are_built_by_name(
    db: object, rules_dir: Path
) -> None:
    """``models_from`` reads by position only rows that hold every column under a name of its
    own; a partial row is Tortoise's partial model, and of two names alike but for their case
    the first is read, as a look-up by name reads it."""
    gateway = TestGateway()
    rules = await open_business(rules_dir)
    ada = await buyer("ADA", today=DAY0)
    await order(ada, "VITREFILL", DAY0, rules, gateway)
    conn = Tortoise.get_connection("default")
    [some] = models_from(
        ContinuityOrder,
        await fetch_rows(conn, "SELECT id, number, start_date FROM continuity_order"),
    )
    assert some._partial
    assert some.start_date == DAY0
    [theirs] = await ContinuityOrder.all()
    twice = await fetch_rows(conn, 'SELECT *, 0 AS "QUANTITY" FROM continuity_order')
    [built] = models_from(ContinuityOrder, twice)
    assert _state(built) == _state(theirs)
    assert models_from(ContinuityOrder, []) == []
