"""The field-level diff of a rule change against the live database, and the sync that applies
exactly it: what `rules diff`, a dry-run reload and a real reload report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext

from continuity.models import ProgramVersion
from rules.diff import (
    Change,
    ChangeKind,
    EventChange,
    FieldChange,
    ItemChange,
    ProgramChange,
    ScheduleChange,
    diff_rules,
    read_live,
)
from rules.documents import content_hash, stored_programs
from rules.loader import load_rules
from rules.sync import sync_rules

pytestmark = pytest.mark.db


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


async def test_against_an_empty_database_everything_is_added(
    db: TortoiseContext, rules_dir: Path
) -> None:
    diff = await diff_rules(load_rules(rules_dir))
    assert [(c.program_id, c.kind, c.from_version, c.to_version) for c in diff.programs] == [
        (code, ChangeKind.CREATED, None, 1)
        for code in ["book-club", "coffee", "gift-box", "seasonal-wine", "vitamins-refill"]
    ]
    book = diff.programs[0]
    assert book.settings[:3] == (
        FieldChange("name", None, "Book of the Month Club"),
        FieldChange("active", None, "true"),
        FieldChange("currency", None, "USD"),
    )
    assert FieldChange("cadence", None, "1 month") in book.settings
    assert book.events[0] == EventChange(
        1,
        Change.ADDED,
        (
            FieldChange("action", None, "normal"),
            FieldChange("gap", None, "1 month"),
            FieldChange("repeat", None, "0"),
            FieldChange("items.0.sku", None, "BOOK-001"),
            FieldChange("items.0.quantity", None, "1"),
            FieldChange("items.0.price", None, "9.99"),
        ),
    )
    assert book.events[1].fields[-1] == FieldChange("items.0.price", None, "13.99 (catalog)")
    assert {c.change for c in diff.catalog} == {Change.ADDED}
    assert "BOOKCLUB" not in {c.sku for c in diff.catalog}  # parent products are program settings
    assert [(s.schedule_id, s.change) for s in diff.schedules] == [
        ("deposit-balance", Change.ADDED),
        ("three-monthly", Change.ADDED),
    ]
    assert diff.schedules[0].fields[1:] == (
        FieldChange("lines", None, "30% after 0 days, 70% after 30 days"),
        FieldChange("ship_after_installment", None, "1"),
    )


async def test_after_a_sync_nothing_differs_and_stored_documents_hash_as_stored(
    db: TortoiseContext, rules_dir: Path
) -> None:
    await sync_rules(load_rules(rules_dir))
    diff = await diff_rules(load_rules(rules_dir))
    assert (diff.programs, diff.catalog, diff.schedules, diff.empty) == ([], [], [], True)
    live = await read_live()
    skus = {product.id: sku for sku, product in live.products.items()}
    codes = {schedule.id: code for code, schedule in live.schedules.items()}
    versions = list(live.latest.values())
    documents = await stored_programs(versions, skus, codes, None)
    assert {v.id: content_hash(documents[v.id]) for v in versions} == {
        v.id: v.content_hash for v in versions
    }


async def test_every_event_field_old_to_new(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    book = rules_dir / "programs" / "book-club.yaml"
    _edit(book, "days_after_order: 0", "days_after_order: 3")
    _edit(book, '{sku: BOOK-001, quantity: 1, price: "9.99"}', "{sku: BOOK-001, quantity: 2}")
    _edit(book, "[{sku: BOOK-002, quantity: 1}]", '[{sku: BOOK-009, quantity: 1, price: "5.00"}]')
    _edit(
        book,
        "  - number: 3\n    items: [{sku: BOOK-003, quantity: 1}]\n",
        "  - number: 3\n    items: [{sku: BOOK-003, quantity: 1}]\n"
        "    days_from_last: 45\n    repeat: 2\n    not_before: 2026-09-01\n",
    )
    normal = "    action: normal\n    items: [{sku: BOOK-005, quantity: 1}]"
    _edit(book, "    action: skip ", normal)
    _edit(
        book,
        "    action: end\n",
        "  - number: 13\n    items: [{sku: BOOK-001, quantity: 1}]\n    action: end\n",
    )
    # a catalog price change reaches the events that use the catalog price
    _edit(rules_dir / "catalog.yaml", '"14.99"', '"15.49"')
    diff = await diff_rules(load_rules(rules_dir))
    change = next(c for c in diff.programs if c.program_id == "book-club")
    assert (change.kind, change.from_version, change.to_version) == (ChangeKind.UPDATED, 1, 2)
    assert change.settings == (FieldChange("days_after_order", "0", "3"),)
    events = {event.number: event for event in change.events}
    assert events[1] == EventChange(
        1,
        Change.CHANGED,
        (
            FieldChange("items.0.quantity", "1", "2"),
            FieldChange("items.0.price", "9.99", "15.49 (catalog)"),
        ),
    )
    assert events[2].fields == (
        FieldChange("items.0.sku", "BOOK-002", "BOOK-009"),
        FieldChange("items.0.price", "13.99 (catalog)", "5.00"),
    )
    assert events[3].fields == (
        FieldChange("gap", "1 month", "45 days"),
        FieldChange("repeat", "0", "2"),
        FieldChange("not_before", None, "2026-09-01"),
    )
    assert events[7].fields == (
        FieldChange("action", "skip", "normal"),
        FieldChange("items.0.sku", None, "BOOK-005"),
        FieldChange("items.0.quantity", None, "1"),
        FieldChange("items.0.price", None, "15.99 (catalog)"),
    )
    assert events[12] == EventChange(12, Change.CHANGED, (FieldChange("action", "end", "normal"),))
    assert events[13].change is Change.ADDED
    assert events[13].fields[0] == FieldChange("action", None, "end")
    assert sorted(events) == [1, 2, 3, 7, 12, 13]
    assert diff.catalog == [
        ItemChange("BOOK-001", Change.CHANGED, (FieldChange("price", "14.99", "15.49"),))
    ]


async def test_removed_event_and_settings(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    coffee = rules_dir / "programs" / "coffee.yaml"
    text = coffee.read_text()
    second = text.index("  - number: 2")
    coffee.write_text(text[:second].replace("repeat: 2 ", "repeat: forever"))
    _edit(coffee, "cadence: {every: 1 month}", "cadence: {every: 2 weeks}")
    diff = await diff_rules(load_rules(rules_dir))
    [change] = diff.programs
    assert change.settings == (FieldChange("cadence", "1 month", "14 days"),)
    assert [(e.number, e.change) for e in change.events] == [
        (1, Change.CHANGED),
        (2, Change.REMOVED),
    ]
    assert change.events[0].fields == (FieldChange("repeat", "2", "forever"),)
    removed = change.events[1].fields
    assert removed[0] == FieldChange("action", "end", None)
    assert FieldChange("items.0.sku", "COF-SINGLE-12", None) in removed
    assert FieldChange("items.1.price", "12.00", None) in removed
    assert str(removed[0]) == "action: end → (none)"


async def test_dry_run_and_real_run_report_the_same_changes(
    db: TortoiseContext, rules_dir: Path
) -> None:
    await sync_rules(load_rules(rules_dir))
    _edit(rules_dir / "programs" / "gift-box.yaml", "days_after_order: 1", "days_after_order: 2")
    _edit(rules_dir / "payment-schedules.yaml", "installments: 3", "installments: 4")
    (rules_dir / "programs" / "vitamins-refill.yaml").unlink()
    dry = await sync_rules(load_rules(rules_dir), dry_run=True)
    real = await sync_rules(load_rules(rules_dir))
    assert dry.diff is not None
    assert real.diff is not None
    assert (dry.programs, dry.products_written, dry.schedules_written) == (
        real.programs,
        real.products_written,
        real.schedules_written,
    )
    assert (dry.diff.catalog, dry.diff.schedules) == (real.diff.catalog, real.diff.schedules)
    # seasonal-wine offers the changed schedule by name: its own document is unchanged
    assert [(c.program_id, c.kind) for c in real.programs] == [
        ("gift-box", ChangeKind.UPDATED),
        ("vitamins-refill", ChangeKind.RETIRED),
    ]
    three = next(s for s in real.diff.schedules if s.schedule_id == "three-monthly")
    assert three == ScheduleChange(
        "three-monthly", Change.CHANGED, (FieldChange("installments", "3", "4"),)
    )
    again = await diff_rules(load_rules(rules_dir))
    assert again.empty


async def test_retired_program_comes_back_restored(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    path = rules_dir / "programs" / "vitamins-refill.yaml"
    saved = path.read_text()
    path.unlink()
    report = await sync_rules(load_rules(rules_dir))
    assert report.programs == [ProgramChange("vitamins-refill", ChangeKind.RETIRED, 1, 1)]
    path.write_text(saved)
    report = await sync_rules(load_rules(rules_dir))
    assert report.programs == [ProgramChange("vitamins-refill", ChangeKind.RESTORED, 1, 1)]
    assert (await diff_rules(load_rules(rules_dir))).empty


async def test_catalog_item_removed_is_deactivated(db: TortoiseContext, rules_dir: Path) -> None:
    await sync_rules(load_rules(rules_dir))
    catalog = rules_dir / "catalog.yaml"
    text = catalog.read_text()
    for sku in ("BOOK-013", "BOOK-007"):  # active and unused; already inactive
        line = next(line for line in text.splitlines() if f"sku: {sku}" in line)
        text = text.replace(line + "\n", "")
    catalog.write_text(text)
    diff = await diff_rules(load_rules(rules_dir))
    assert diff.catalog == [ItemChange("BOOK-013", Change.REMOVED, ())]
    assert diff.programs == []
    report = await sync_rules(load_rules(rules_dir))
    assert report.products_written == 1
    assert (await diff_rules(load_rules(rules_dir))).empty


async def test_versions_store_the_path_relative_to_the_rules_directory(
    db: TortoiseContext, tmp_path: Path, rules_dir: Path
) -> None:
    elsewhere = tmp_path / "deep" / "down" / "rules"
    shutil.copytree(rules_dir, elsewhere)
    await sync_rules(load_rules(elsewhere))
    paths = await ProgramVersion.all().order_by("id").values_list("source_path", flat=True)
    assert list(map(str, paths)) == [
        f"programs/{code}.yaml"
        for code in ["book-club", "coffee", "gift-box", "seasonal-wine", "vitamins-refill"]
    ]
