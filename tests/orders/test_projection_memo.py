"""A program version keeps the projections it made, by what they were computed from
(``continuity.orders.projection._projections``): orders placed alike share one until one of
them changes, and a kept projection is always the one computing it again would give."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.connection import get_connection
from tortoise.context import TortoiseContext

from continuity.models import ContinuityOrder
from continuity.orders import projection
from continuity.orders.changes import change_quantity, skip_shipment, swap_item
from continuity.orders.pause import pause_order
from continuity.orders.projection import ProjectedShipment, upcoming_shipments
from continuity.payments.gateway import TestGateway
from continuity.programs import recalled_spec
from continuity.sql import execute
from tests.orders.changing import place
from tests.orders.fixtures import RULES, TODAY, Buyer, setup

pytestmark = pytest.mark.db


def _kept(order: ContinuityOrder) -> dict[Any, Any]:
    spec = recalled_spec(order.program_version_id, get_connection("default"))
    assert spec is not None
    kept: dict[Any, Any] = spec.derived.setdefault("projections", {})
    return kept


async def _project(
    order_id: int, count: int, monkeypatch: pytest.MonkeyPatch
) -> list[ProjectedShipment]:
    """The order's projection as the API gives it, checked against one computed with
    nothing kept."""
    order = await ContinuityOrder.get(id=order_id)
    shown = await upcoming_shipments(order, count)
    with monkeypatch.context() as nothing_kept:
        nothing_kept.setattr(projection, "PROJECTIONS_KEPT", 0)
        saved = dict(_kept(order))
        _kept(order).clear()
        computed = await upcoming_shipments(order, count)
        assert not _kept(order)
        _kept(order).update(saved)
    assert shown == computed
    return shown


async def _alike(rules_dir: Path, count: int) -> tuple[Buyer, list[ContinuityOrder]]:
    """``count`` orders placed alike: one buyer, one program, one day."""
    buyer = await setup(rules_dir)
    return buyer, [await place(buyer, "COFFEECLUB") for _ in range(count)]


def _skus(shipments: list[ProjectedShipment]) -> list[list[str]]:
    return [[item.sku for item in s.items] for s in shipments]


async def test_orders_placed_alike_share_a_projection_until_one_changes(
    db: TortoiseContext, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    buyer, (first, second, third) = await _alike(rules_dir, 3)
    alike = await _project(first.id, 4, monkeypatch)
    assert await _project(second.id, 4, monkeypatch) == alike
    assert await _project(third.id, 4, monkeypatch) == alike
    assert len(_kept(first)) == 1  # one projection for the three orders
    assert any("COF-SINGLE-12" in skus for skus in _skus(alike))

    await swap_item(second.id, "COF-SINGLE-12", "COF-HOUSE-12", today=TODAY, actor="web")
    swapped = await _project(second.id, 4, monkeypatch)
    assert _skus(swapped) == [
        ["COF-HOUSE-12" if sku == "COF-SINGLE-12" else sku for sku in skus] for skus in _skus(alike)
    ]

    skipped_key = (alike[0].event_number, alike[0].repeat_index)
    await skip_shipment(
        third.id, *skipped_key, today=TODAY, actor="web", rules=RULES, gateway=TestGateway()
    )
    skipped = await _project(third.id, 4, monkeypatch)
    assert skipped[:3] == alike[1:]
    assert (skipped[0].event_number, skipped[0].repeat_index) != skipped_key

    await change_quantity(first.id, 2, today=TODAY, actor="web")
    doubled = await _project(first.id, 4, monkeypatch)
    assert [[item.quantity for item in s.items] for s in doubled] == [
        [item.quantity * 2 for item in s.items] for s in alike
    ]
    assert [s.charge_minor for s in doubled] == [s.charge_minor * 2 for s in alike]

    resume = alike[0].ship_date + timedelta(days=20)
    await pause_order(second.id, until=resume, today=TODAY, actor="web")
    paused = await _project(second.id, 4, monkeypatch)
    assert paused[0].ship_date == resume
    assert _skus(paused) == _skus(swapped)

    # an order placed alike later still gets the shared projection, unchanged by the others'
    fourth = await place(buyer, "COFFEECLUB")
    assert await _project(fourth.id, 4, monkeypatch) == alike
    assert len(_kept(first)) == 5  # alike, swapped, skipped, doubled, paused
    # a different count is a different projection
    assert await _project(fourth.id, 2, monkeypatch) == alike[:2]


async def test_a_version_keeps_a_bounded_number_of_projections(
    db: TortoiseContext, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(projection, "PROJECTIONS_KEPT", 3)
    _buyer, [order] = await _alike(rules_dir, 1)
    shown = {count: await _project(order.id, count, monkeypatch) for count in range(1, 6)}
    assert len(_kept(order)) == 3
    assert [len(shipments) for shipments in shown.values()] == [1, 2, 3, 4, 5]
    # the least recently used went first: counts 3, 4 and 5 are kept
    assert sorted(key[0] for key in _kept(order)) == [3, 4, 5]


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE continuity_order SET quantity = 2 WHERE id = :id",
        "UPDATE continuity_order SET anchor_date = :later WHERE id = :id",
        "UPDATE continuity_order SET billing_mode = 'up_front' WHERE id = :id",
        "INSERT INTO order_item_substitution (continuity_order_id, from_product_id, "
        "to_product_id, price_minor, created_at) "
        "SELECT :id, f.id, t.id, 999, :now FROM product f, product t "
        "WHERE f.sku = 'COF-SINGLE-12' AND t.sku = 'COF-HOUSE-12'",
    ],
    ids=["quantity", "anchor", "billing", "substitution"],
)
async def test_each_input_of_a_projection_alone_makes_another_projection(
    db: TortoiseContext, rules_dir: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    """Two orders alike but for one input that their lines do not show (the rows are
    changed directly: through the API every such change rewrites the lines too)."""
    _buyer, (first, second) = await _alike(rules_dir, 2)
    alike = await _project(first.id, 12, monkeypatch)
    assert await _project(second.id, 12, monkeypatch) == alike
    await execute(
        get_connection("default"),
        change,
        id=second.id,
        later=first.anchor_date + timedelta(days=3),
        now=datetime.now(UTC),
    )
    changed = await _project(second.id, 12, monkeypatch)
    assert changed != alike
    assert await _project(first.id, 12, monkeypatch) == alike


async def test_two_pauses_to_different_dates_are_two_projections(
    db: TortoiseContext, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _buyer, (first, second) = await _alike(rules_dir, 2)
    start = (await _project(first.id, 3, monkeypatch))[0].ship_date
    for order, days in ((first, 10), (second, 20)):
        await pause_order(order.id, until=start + timedelta(days=days), today=TODAY, actor="web")
    assert (await _project(first.id, 3, monkeypatch))[0].ship_date == start + timedelta(days=10)
    assert (await _project(second.id, 3, monkeypatch))[0].ship_date == start + timedelta(days=20)
