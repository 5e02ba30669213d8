"""What loading a rule set changes in the live database, field by field.

One function, :func:`diff_rules`, answers for ``continuity rules diff``, for a dry-run
``reloadRules`` and for the sync itself: the sync writes exactly the rows the diff plans (so a
dry run and a real run cannot disagree), and the person reviewing a change reads the same
list, old → new, in the words of the YAML (``events.2``, ``items.0.price``, ``1 month``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.enums import ProductKind, ScheduleKind
from continuity.models import PaymentSchedule, PaymentScheduleLine, Product, Program, ProgramVersion
from continuity.money import from_minor, to_minor
from rules.documents import (
    Document,
    content_hash,
    product_documents,
    program_document,
    schedule_document,
    stored_product,
    stored_programs,
    stored_schedule,
)
from rules.model import Gap, LoadedProgram, RuleSet


class ChangeKind(StrEnum):
    """What happens to a program."""

    CREATED = "created"
    UPDATED = "updated"  # a new version
    RETIRED = "retired"  # its file is gone: no new orders, existing ones carry on
    RESTORED = "restored"  # its file is back, unchanged: the live version takes orders again


class Change(StrEnum):
    """What happens to an event, a catalog item or a payment schedule."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class FieldChange:
    """One value, old → new, as written in the YAML (``None``: not set)."""

    field: str
    old: str | None
    new: str | None

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.field}: {self.new}"
        return f"{self.field}: {self.old} → {self.new if self.new is not None else '(none)'}"


@dataclass(frozen=True)
class EventChange:
    number: int
    change: Change
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ProgramChange:
    program_id: str
    kind: ChangeKind
    from_version: int | None
    to_version: int | None
    settings: tuple[FieldChange, ...] = ()
    events: tuple[EventChange, ...] = ()


@dataclass(frozen=True)
class ItemChange:
    """A catalog item (parent products show up as their program's settings)."""

    sku: str
    change: Change
    fields: tuple[FieldChange, ...]


@dataclass(frozen=True)
class ScheduleChange:
    schedule_id: str
    change: Change
    fields: tuple[FieldChange, ...]


# -- the rows the sync writes ------------------------------------------------------------


@dataclass(frozen=True)
class ProductWrite:
    """Create or update ``sku`` with ``values``; ``values is None``: deactivate it."""

    sku: str
    values: Document | None


@dataclass(frozen=True)
class ScheduleWrite:
    """Create or rewrite ``code`` with ``document``; ``document is None``: retire it."""

    code: str
    document: Document | None
    content_hash: str | None


@dataclass(frozen=True)
class ProgramWrite:
    change: ProgramChange
    loaded: LoadedProgram | None  # None: retire
    document: Document | None  # None: no new version
    content_hash: str | None


@dataclass
class Live:
    """The rule rows in the database, read once in the caller's transaction."""

    products: dict[str, Product]
    schedules: dict[str, PaymentSchedule]
    programs: dict[str, Program]
    latest: dict[int, ProgramVersion]  # program id -> its live (highest) version


@dataclass
class RulesDiff:
    """Everything loading the rules changes: what a person reads, and what the sync writes."""

    programs: list[ProgramChange]
    catalog: list[ItemChange]
    schedules: list[ScheduleChange]
    live: Live = field(repr=False, compare=False)
    product_writes: list[ProductWrite] = field(default_factory=list, repr=False)
    schedule_writes: list[ScheduleWrite] = field(default_factory=list, repr=False)
    program_writes: list[ProgramWrite] = field(default_factory=list, repr=False)

    @property
    def empty(self) -> bool:
        return not (self.product_writes or self.schedule_writes or self.program_writes)


async def read_live(conn: BaseDBAsyncClient | None = None) -> Live:
    latest: dict[int, ProgramVersion] = {}
    for version in await ProgramVersion.all().using_db(conn).order_by("number"):
        latest[version.program_id] = version
    return Live(
        products={p.sku: p for p in await Product.all().using_db(conn)},
        schedules={s.code: s for s in await PaymentSchedule.all().using_db(conn)},
        programs={p.code: p for p in await Program.all().using_db(conn)},
        latest=latest,
    )


async def diff_rules(rules: RuleSet, conn: BaseDBAsyncClient | None = None) -> RulesDiff:
    """Compare ``rules`` with the database (read only; ``conn``: the caller's transaction)."""
    live = await read_live(conn)
    diff = RulesDiff(programs=[], catalog=[], schedules=[], live=live)
    _diff_products(rules, diff)
    await _diff_schedules(rules, diff, conn)
    await _diff_programs(rules, diff, conn)
    return diff


# -- values as written in the YAML -------------------------------------------------------


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _money(minor: int, currency: str) -> str:
    return str(from_minor(minor, currency))


def _gap(unit: str, count: int | None) -> str | None:
    return None if count is None else str(Gap(unit=unit, count=count))  # type: ignore[arg-type]


def _percent(hundredths: int) -> str:
    return f"{Decimal(hundredths).scaleb(-2).normalize():f}"


def _changes(old: dict[str, str | None], new: dict[str, str | None]) -> tuple[FieldChange, ...]:
    keys = [*old, *(key for key in new if key not in old)]
    return tuple(
        FieldChange(key, old.get(key), new.get(key)) for key in keys if old.get(key) != new.get(key)
    )


def _item_fields(document: Document) -> dict[str, str | None]:
    return {
        "name": document["name"],
        "price": _money(document["price_minor"], document["currency"]),
        "currency": document["currency"],
        "active": _flag(document["active"]),
    }


def _schedule_fields(document: Document) -> dict[str, str | None]:
    equal = document["kind"] == ScheduleKind.EQUAL
    lines = ", ".join(
        f"{_percent(hundredths)}% after {offset} days" for hundredths, offset in document["lines"]
    )
    after = document["ship_after_installment"]
    return {
        "name": document["name"],
        "installments": str(document["installment_count"]) if equal else None,
        "every": _gap(document["period_unit"], document["period_count"]) if equal else None,
        "lines": lines or None,
        "ship_after_installment": None if after is None else str(after),
    }


def _settings(document: Document) -> dict[str, str | None]:
    currency = document["currency"]
    return {
        "name": document["name"],
        "active": _flag(document["active"]),
        "currency": currency,
        "parent_product.sku": document["parent_sku"],
        "parent_product.name": document["parent_name"],
        "parent_product.price": _money(document["parent_price_minor"], currency),
        "parent_product.events": str(document["parent_event_count"]),
        "order_start": document["order_start"],
        "current_event_anchor": document["current_event_anchor"],
        "days_after_order": str(document["days_after_order"]),
        "prompt_for_start_date": _flag(document["prompt_for_start_date"]),
        "consolidate_past_orders": _flag(document["consolidate_past_orders"]),
        "billing.up_front": _flag(document["bill_up_front"]),
        "billing.payment_schedule": document["default_payment_schedule"],
        "billing.allowed_schedules": ", ".join(document["allowed_schedules"]) or None,
        "billing.prompt_for_payment_schedule": _flag(document["prompt_for_payment_schedule"]),
        "cadence": _gap(document["cadence_unit"], document["cadence_count"]),
    }


def _event_fields(event: Document, currency: str) -> dict[str, str | None]:
    fields: dict[str, str | None] = {
        "action": event["action"],
        "gap": _gap(event["gap_unit"], event["gap_count"]),
        "repeat": "forever" if event["repeat_forever"] else str(event["repeat"]),
        "not_before": event["not_before"],
    }
    for index, item in enumerate(event["items"]):
        price = _money(item["price_minor"], currency)
        fields[f"items.{index}.sku"] = item["sku"]
        fields[f"items.{index}.quantity"] = str(item["quantity"])
        fields[f"items.{index}.price"] = price if item["price_overridden"] else f"{price} (catalog)"
    return fields


def program_changes(
    old: Document | None, new: Document
) -> tuple[tuple[FieldChange, ...], tuple[EventChange, ...]]:
    """(settings, events) that differ between two program documents; ``old`` None: all new."""
    settings = _changes(_settings(old) if old else {}, _settings(new))
    old_events = {event["number"]: event for event in old["events"]} if old else {}
    new_events = {event["number"]: event for event in new["events"]}
    events: list[EventChange] = []
    for number in sorted(old_events.keys() | new_events.keys()):
        before, after = old_events.get(number), new_events.get(number)
        old_fields = _event_fields(before, old["currency"]) if before and old else {}
        new_fields = _event_fields(after, new["currency"]) if after else {}
        fields = _changes(old_fields, new_fields)
        if before is None:
            events.append(EventChange(number, Change.ADDED, fields))
        elif after is None:
            events.append(EventChange(number, Change.REMOVED, fields))
        elif fields:
            events.append(EventChange(number, Change.CHANGED, fields))
    return settings, tuple(events)


# -- the three comparisons ----------------------------------------------------------------


def _diff_products(rules: RuleSet, diff: RulesDiff) -> None:
    existing = diff.live.products
    wanted = product_documents(rules)
    for sku, values in wanted.items():
        product = existing.get(sku)
        old = stored_product(product) if product is not None else None
        if old == values:
            continue
        diff.product_writes.append(ProductWrite(sku, values))
        if values["kind"] == ProductKind.ITEM:
            change = Change.ADDED if old is None else Change.CHANGED
            fields = _changes(_item_fields(old) if old else {}, _item_fields(values))
            diff.catalog.append(ItemChange(sku, change, fields))
    for sku, product in existing.items():
        if sku not in wanted and product.active:
            diff.product_writes.append(ProductWrite(sku, None))
            if product.kind == ProductKind.ITEM:
                diff.catalog.append(ItemChange(sku, Change.REMOVED, ()))
    diff.catalog.sort(key=lambda change: change.sku)


async def _diff_schedules(rules: RuleSet, diff: RulesDiff, conn: BaseDBAsyncClient | None) -> None:
    existing = diff.live.schedules
    planned: list[tuple[str, Document, str, PaymentSchedule | None]] = []
    for rule in rules.schedules:
        document = schedule_document(rule)
        digest = content_hash(document)
        schedule = existing.get(rule.id)
        if schedule is None or schedule.content_hash != digest or schedule.retired:
            planned.append((rule.id, document, digest, schedule))
    lines: dict[int, list[PaymentScheduleLine]] = defaultdict(list)
    rewritten = [schedule.id for *_, schedule in planned if schedule is not None]
    if rewritten:
        for line in await PaymentScheduleLine.filter(schedule_id__in=rewritten).using_db(conn):
            lines[line.schedule_id].append(line)
    for code, document, digest, schedule in planned:
        diff.schedule_writes.append(ScheduleWrite(code, document, digest))
        old = _schedule_fields(stored_schedule(schedule, lines[schedule.id])) if schedule else {}
        change = Change.ADDED if schedule is None or schedule.retired else Change.CHANGED
        diff.schedules.append(
            ScheduleChange(code, change, _changes(old, _schedule_fields(document)))
        )
    wanted = {rule.id for rule in rules.schedules}
    for code, schedule in existing.items():
        if code not in wanted and not schedule.retired:
            diff.schedule_writes.append(ScheduleWrite(code, None, None))
            diff.schedules.append(ScheduleChange(code, Change.REMOVED, ()))
    diff.schedules.sort(key=lambda change: change.schedule_id)


async def _diff_programs(rules: RuleSet, diff: RulesDiff, conn: BaseDBAsyncClient | None) -> None:
    live = diff.live
    catalog_prices = {item.sku: to_minor(item.price, item.currency) for item in rules.catalog.items}
    wanted = {loaded.rule.id: loaded for loaded in rules.programs}
    new_versions: list[tuple[LoadedProgram, Document, str, ProgramVersion | None]] = []
    restored: dict[str, ProgramWrite] = {}
    for code, loaded in sorted(wanted.items()):
        document = program_document(loaded.rule, catalog_prices)
        digest = content_hash(document)
        program = live.programs.get(code)
        current = live.latest.get(program.id) if program else None
        if program is not None and current is not None and current.content_hash == digest:
            if program.retired:
                change = ProgramChange(code, ChangeKind.RESTORED, current.number, current.number)
                restored[code] = ProgramWrite(change, loaded, None, None)
            continue
        new_versions.append((loaded, document, digest, current))
    skus = {product.id: sku for sku, product in live.products.items()}
    codes = {schedule.id: code for code, schedule in live.schedules.items()}
    versions = [current for *_, current in new_versions if current is not None]
    old_documents = await stored_programs(versions, skus, codes, conn)
    writes: dict[str, ProgramWrite] = dict(restored)
    for loaded, document, digest, current in new_versions:
        old = old_documents[current.id] if current else None
        settings, events = program_changes(old, document)
        change = ProgramChange(
            program_id=loaded.rule.id,
            kind=ChangeKind.UPDATED if current else ChangeKind.CREATED,
            from_version=current.number if current else None,
            to_version=current.number + 1 if current else 1,
            settings=settings,
            events=events,
        )
        writes[loaded.rule.id] = ProgramWrite(change, loaded, document, digest)
    diff.program_writes = [writes[code] for code in sorted(writes)]
    for code, program in sorted(live.programs.items()):
        if code not in wanted and not program.retired:
            current = live.latest.get(program.id)
            number = current.number if current else None
            change = ProgramChange(code, ChangeKind.RETIRED, number, number)
            diff.program_writes.append(ProgramWrite(change, None, None, None))
    diff.programs = [write.change for write in diff.program_writes]
