"""Syncing rule files into the database: versions, no-op reloads, atomicity, retirement."""

from __future__ import annotations

from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.enums import EventAction, GapUnit, OrderStart, ProductKind
from continuity.models import (
    PaymentSchedule,
    Product,
    Program,
    ProgramEvent,
    ProgramEventItem,
    ProgramVersion,
    ProgramVersionSchedule,
)
from rules.loader import load_rules
from rules.reload import reload_rules
from rules.sync import ChangeKind, sync_rules

pytestmark = pytest.mark.db

BUNDLED_PROGRAMS = ["book-club", "coffee", "gift-box", "seasonal-wine", "vitamins-refill"]


async def _snapshot() -> dict[str, list[tuple[object, ...]]]:
    """Every synced row, with its timestamps, to prove a reload wrote nothing."""
    return {
        "products": await Product.all()
        .order_by("id")
        .values_list("id", "sku", "price_minor", "active", "updated_at"),
        "programs": await Program.all()
        .order_by("id")
        .values_list("id", "code", "active", "retired", "updated_at"),
        "versions": await ProgramVersion.all().order_by("id").values_list("id", "content_hash"),
        "events": await ProgramEvent.all().order_by("id").values_list("id"),
        "items": await ProgramEventItem.all().order_by("id").values_list("id", "price_minor"),
        "schedules": await PaymentSchedule.all().order_by("id").values_list("id", "updated_at"),
    }


async def test_first_sync_creates_every_program_at_version_1(
    db: TortoiseContext, rules_dir: Path
) -> None:
    report = await sync_rules(load_rules(rules_dir))
    assert [(c.program_id, c.kind, c.to_version) for c in report.programs] == [
        (code, ChangeKind.CREATED, 1) for code in BUNDLED_PROGRAMS
    ]
    assert [p.code for p in await Program.all().order_by("code")] == BUNDLED_PROGRAMS

    book = await Program.get(code="book-club")
    version = await ProgramVersion.get(program_id=book.id)
    assert (version.number, version.order_start, version.cadence_unit) == (
        1,
        OrderStart.FIRST_EVENT,
        GapUnit.MONTH,
    )
    events = await ProgramEvent.filter(version_id=version.id).order_by("number")
    assert [e.number for e in events] == list(range(1, 13))
    assert events[6].action is EventAction.SKIP
    assert events[11].action is EventAction.END
    first_item = await ProgramEventItem.get(event_id=events[0].id).prefetch_related("product")
    assert (first_item.product.sku, first_item.price_minor, first_item.price_overridden) == (
        "BOOK-001",
        999,
        True,
    )
    second_item = await ProgramEventItem.get(event_id=events[1].id).prefetch_related("product")
    assert second_item.price_overridden is False
    assert second_item.price_minor == second_item.product.price_minor

    parent = await Product.get(sku="BOOKCLUB")
    assert (parent.kind, parent.program_id) == (ProductKind.PARENT, book.id)

    wine = await ProgramVersion.get(program__code="seasonal-wine")
    assert wine.bill_up_front is True
    allowed = await ProgramVersionSchedule.filter(version_id=wine.id).prefetch_related("schedule")
    assert sorted(link.schedule.code for link in allowed) == ["deposit-balance", "three-monthly"]


async def test_an_unchanged_reload_touches_no_rows(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    before = await _snapshot()
    report = await sync_rules(load_rules(rules_dir))
    assert report.changed is False
    assert report.programs == []
    assert await _snapshot() == before


async def test_a_changed_program_gets_a_new_version_and_keeps_the_old(
    db: TortoiseContext, rules_dir: Path
) -> None:
    await sync_rules(load_rules(rules_dir))
    path = rules_dir / "programs" / "coffee.yaml"
    path.write_text(path.read_text().replace("name: ", "name: New ", 1))
    report = await sync_rules(load_rules(rules_dir))
    assert [(c.program_id, c.kind, c.from_version, c.to_version) for c in report.programs] == [
        ("coffee", ChangeKind.UPDATED, 1, 2)
    ]
    versions = await ProgramVersion.filter(program__code="coffee").order_by("number")
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].content_hash != versions[1].content_hash
    assert versions[1].name.startswith("New ")
    # the old version's events are still there for the orders placed under it
    assert await ProgramEvent.filter(version_id=versions[0].id).count() > 0


async def test_a_catalog_price_change_versions_the_programs_that_use_it(
    db: TortoiseContext, rules_dir: Path
) -> None:
    await sync_rules(load_rules(rules_dir))
    catalog = rules_dir / "catalog.yaml"
    text = catalog.read_text()
    line = next(line for line in text.splitlines() if "sku: BOOK-002" in line)
    catalog.write_text(text.replace(line, line.replace('"13.99"', '"15.55"')))
    report = await sync_rules(load_rules(rules_dir))
    assert [c.program_id for c in report.programs] == ["book-club"]
    version = await ProgramVersion.get(program__code="book-club", number=2)
    item = await ProgramEventItem.get(event__version_id=version.id, event__number=2)
    assert item.price_minor == 1555


async def test_invalid_rules_change_nothing(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    before = await _snapshot()
    (rules_dir / "programs" / "coffee.yaml").write_text("id: coffee\nname: [unclosed\n")
    path = rules_dir / "programs" / "gift-box.yaml"
    path.write_text(path.read_text().replace("name: ", "name: Changed ", 1))
    result = await reload_rules(rules_dir)
    assert result.report is None
    assert result.errors
    assert all(e.path.endswith("coffee.yaml") for e in result.errors)
    assert await _snapshot() == before


async def test_dry_run_reports_but_writes_nothing(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    before = await _snapshot()
    path = rules_dir / "programs" / "gift-box.yaml"
    path.write_text(path.read_text().replace("name: ", "name: Changed ", 1))
    report = await sync_rules(load_rules(rules_dir), dry_run=True)
    assert [(c.program_id, c.to_version) for c in report.programs] == [("gift-box", 2)]
    assert await _snapshot() == before


async def test_a_removed_program_is_retired_and_comes_back(
    db: TortoiseContext, rules_dir: Path
) -> None:
    await sync_rules(load_rules(rules_dir))
    path = rules_dir / "programs" / "vitamins-refill.yaml"
    text = path.read_text()
    path.unlink()
    report = await sync_rules(load_rules(rules_dir))
    assert [(c.program_id, c.kind) for c in report.programs] == [
        ("vitamins-refill", ChangeKind.RETIRED)
    ]
    program = await Program.get(code="vitamins-refill")
    assert (program.retired, program.active) == (True, False)
    parent = await Product.get(program_id=program.id)
    assert parent.active is False

    path.write_text(text)
    await sync_rules(load_rules(rules_dir))
    program = await Program.get(code="vitamins-refill")
    assert (program.retired, program.active) == (False, True)
    assert await ProgramVersion.filter(program_id=program.id).count() == 1
