"""The checks no single model can make, reported at the exact node.

They read the raw (reshaped) data rather than the validated models so that they run even when a
file has other errors: a merchandiser fixing a price should not discover the unknown SKU only on
the next attempt. Each check looks only at values of the right type, and a value that failed
its own validation is skipped, so one mistake produces one error, not a cascade.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import islice
from typing import Any, Final

from pydantic_core import PydanticCustomError

from continuity.money import CURRENCY_MINOR_UNITS, fits_currency
from rules.errors import RuleError
from rules.limits import (
    MAX_DAYS,
    MAX_ERRORS_PER_FILE,
    MAX_EVENTS,
    MAX_INSTALLMENTS,
    MAX_MONTHS,
    MAX_REPEAT,
    MAX_SHIPMENTS,
    MAX_SPAN_DAYS,
    MIN_INSTALLMENTS,
)
from rules.model import installments_span_message
from rules.suggest import Suggester, did_you_mean
from rules.values import SKU_PATTERN, parse_money, schedule_extent
from rules.yamlmarks import Document, Loc

_SKU: Final = re.compile(SKU_PATTERN)


@dataclass
class Files:
    catalog: Document | None
    schedules: Document | None
    programs: list[tuple[str, Document]]  # (file stem, document), sorted by path


@dataclass
class _CatalogEntry:
    currency: str | None
    active: bool | None


@dataclass
class _Context:
    catalog: dict[str, _CatalogEntry] | None = None  # None: the catalog could not be read
    schedule_ids: set[str] | None = None
    parents: dict[str, str] = field(default_factory=dict)  # parent SKU -> program id or file
    _skus: Suggester | None = None
    _schedules: Suggester | None = None

    def sku_hint(self, sku: str) -> str:
        if self._skus is None:
            self._skus = Suggester(self.catalog or ())
        return did_you_mean(sku, self._skus)

    def schedule_hint(self, name: str) -> str:
        if self._schedules is None:
            self._schedules = Suggester(self.schedule_ids or ())
        return did_you_mean(name, self._schedules)


def _mappings(value: Any, loc: Loc) -> Iterator[tuple[Loc, dict[str, Any]]]:
    if isinstance(value, tuple):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield (*loc, index), item


def _str(mapping: dict[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) else None


def _int(mapping: dict[str, Any], key: str) -> int | None:
    value = mapping.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _currency(mapping: dict[str, Any]) -> str | None:
    currency = _str(mapping, "currency")
    return currency if currency in CURRENCY_MINOR_UNITS else None


def _money(mapping: dict[str, Any], key: str) -> Decimal | None:
    if key not in mapping:
        return None
    try:
        return parse_money(mapping[key])
    except PydanticCustomError:
        return None


def _where(doc: Document, loc: Loc) -> str:
    line, column = doc.position(loc)
    return f"line {line}, column {column}"


def _check_decimals(
    doc: Document, mapping: dict[str, Any], loc: Loc, key: str, currency: str | None
) -> Iterator[RuleError]:
    amount = _money(mapping, key)
    if amount is not None and currency is not None and not fits_currency(amount, currency):
        places = CURRENCY_MINOR_UNITS[currency]
        message = f"{amount} has more decimals than {currency} allows ({places})"
        yield doc.error((*loc, key), message)


def _check_catalog(doc: Document, ctx: _Context) -> Iterator[RuleError]:
    entries: dict[str, _CatalogEntry] = {}
    first_seen: dict[str, Loc] = {}
    for loc, item in _mappings(doc.data.get("items"), ("items",)):
        sku = _str(item, "sku")
        currency = _currency(item)
        yield from _check_decimals(doc, item, loc, "price", currency)
        if sku is None:
            continue
        if sku in first_seen:
            where = _where(doc, (*first_seen[sku], "sku"))
            yield doc.error((*loc, "sku"), f"duplicate SKU {sku!r} (first listed at {where})")
            continue
        first_seen[sku] = loc
        active = item.get("active", True)
        entries[sku] = _CatalogEntry(currency, active if isinstance(active, bool) else None)
    ctx.catalog = entries


def _check_schedule(doc: Document, loc: Loc, schedule: dict[str, Any]) -> Iterator[RuleError]:
    has_lines, has_count, has_every = (
        schedule.get(key) is not None for key in ("lines", "installments", "every")
    )
    count: int | None = _int(schedule, "installments")
    if has_lines and (has_count or has_every):
        key = "installments" if has_count else "every"
        yield doc.error((*loc, key), "write either installments + every, or lines, not both")
        return
    if not has_lines:
        if not has_count and not has_every:
            yield doc.error(loc, "write installments + every (equal parts), or lines")
        elif not has_every:
            yield doc.error((*loc, "installments"), "equal installments need every: 1 month")
        elif not has_count:
            yield doc.error((*loc, "every"), "every needs installments: the number of parts")
    lines = list(_mappings(schedule.get("lines"), (*loc, "lines")))
    if has_lines and isinstance(schedule.get("lines"), tuple):
        count = len(schedule["lines"])
        if count < 2:
            yield doc.error((*loc, "lines"), "a schedule needs at least 2 lines")
        percents = [_money(line, "percent") for _, line in lines]
        if len(percents) == count and all(p is not None and p > 0 for p in percents):
            total = sum((p for p in percents if p is not None), Decimal(0))
            if total != 100:
                yield doc.error((*loc, "lines"), f"the percents add up to {total}, not 100")
        previous = 0
        for index, (line_loc, line) in enumerate(lines):
            offset = _int(line, "offset_days")
            if offset is None:
                continue
            if index == 0 and offset != 0:
                message = "the first line is due when the order is placed: write offset_days: 0"
                yield doc.error((*line_loc, "offset_days"), message)
            elif offset < previous:
                message = f"must not be earlier than the previous line ({previous} days)"
                yield doc.error((*line_loc, "offset_days"), message)
            previous = max(previous, offset)
    every = schedule.get("every")
    if (
        count is not None
        and MIN_INSTALLMENTS <= count <= MAX_INSTALLMENTS
        and not has_lines
        and isinstance(every, dict)
    ):
        limit = MAX_MONTHS if every["unit"] == "month" else MAX_DAYS
        if (count - 1) * every["count"] > limit:
            yield doc.error((*loc, "every"), installments_span_message(MAX_DAYS, MAX_MONTHS))
    ship_after = _int(schedule, "ship_after_installment")
    if ship_after is not None and count is not None and count >= 1 and ship_after > count:
        message = f"must be 1 to {count}: the schedule has {count} installments"
        yield doc.error((*loc, "ship_after_installment"), message)


def _check_schedules(doc: Document, ctx: _Context) -> Iterator[RuleError]:
    ids: dict[str, Loc] = {}
    for loc, schedule in _mappings(doc.data.get("schedules"), ("schedules",)):
        yield from _check_schedule(doc, loc, schedule)
        schedule_id = _str(schedule, "id")
        if schedule_id is None:
            continue
        if schedule_id in ids:
            where = _where(doc, (*ids[schedule_id], "id"))
            message = f"duplicate schedule id {schedule_id!r} (first used at {where})"
            yield doc.error((*loc, "id"), message)
        else:
            ids[schedule_id] = loc
    ctx.schedule_ids = set(ids)


def _check_identity(programs: list[tuple[str, Document]], ctx: _Context) -> Iterator[RuleError]:
    """File names, program ids and parent SKUs, which must be unique across all files."""
    ids: dict[str, str] = {}
    for stem, doc in programs:
        program_id = _str(doc.data, "id")
        if program_id is not None:
            if program_id != stem:
                message = f"the id must be the file name: {stem!r} (or rename the file)"
                yield doc.error(("id",), message)
            if program_id in ids:
                message = f"duplicate program id {program_id!r} (also in {ids[program_id]})"
                yield doc.error(("id",), message)
            else:
                ids[program_id] = doc.name
        parent = doc.data.get("parent_product")
        sku = _str(parent, "sku") if isinstance(parent, dict) else None
        if sku is None:
            continue
        loc: Loc = ("parent_product", "sku")
        if ctx.catalog is not None and sku in ctx.catalog:
            message = f"{sku!r} is a catalog item: a parent product needs a SKU of its own"
            yield doc.error(loc, message)
        elif sku in ctx.parents:
            message = f"{sku!r} is already the parent product of {ctx.parents[sku]}"
            yield doc.error(loc, message)
        else:
            ctx.parents[sku] = f"program {program_id!r}" if program_id else doc.name


def _check_billing(doc: Document, data: dict[str, Any], ctx: _Context) -> Iterator[RuleError]:
    billing = data.get("billing")
    if not isinstance(billing, dict):
        return
    up_front = billing.get("up_front", False)
    default = _str(billing, "payment_schedule")
    allowed_value = billing.get("allowed_schedules", ())
    allowed = allowed_value if isinstance(allowed_value, tuple) else ()
    named: list[tuple[Loc, str]] = []
    if default is not None:
        named.append((("billing", "payment_schedule"), default))
    named += [
        (("billing", "allowed_schedules", index), name)
        for index, name in enumerate(allowed)
        if isinstance(name, str)
    ]
    for loc, name in named:
        if ctx.schedule_ids is not None and name not in ctx.schedule_ids:
            message = f"unknown payment schedule {name!r}{ctx.schedule_hint(name)}"
            yield doc.error(loc, message)
    if up_front is False:
        message = "payment schedules split an up-front total: set billing.up_front: true"
        if default is not None:
            yield doc.error(("billing", "payment_schedule"), message)
        if allowed:
            yield doc.error(("billing", "allowed_schedules"), message)
    if default is not None and allowed and default not in allowed:
        message = f"the default schedule {default!r} must be one of allowed_schedules"
        yield doc.error(("billing", "payment_schedule"), message)
    if billing.get("prompt_for_payment_schedule") is True and default is None and not allowed:
        message = "there is no schedule to choose from: list allowed_schedules"
        yield doc.error(("billing", "prompt_for_payment_schedule"), message)


def _check_order_start(doc: Document, data: dict[str, Any]) -> Iterator[RuleError]:
    order_start = data.get("order_start", "first_event")
    anchor = data.get("current_event_anchor")
    if order_start == "current_event" and anchor is None:
        loc: Loc = ("order_start",)
        message = "current_event needs current_event_anchor: the first day of the program calendar"
        yield doc.error(loc, message)
    elif order_start == "first_event" and anchor is not None:
        message = "current_event_anchor is only used with order_start: current_event"
        yield doc.error(("current_event_anchor",), message)


def _check_items(
    doc: Document, event_loc: Loc, event: dict[str, Any], program: dict[str, Any], ctx: _Context
) -> Iterator[RuleError]:
    currency = _currency(program)
    active_program = program.get("active") is True
    for loc, item in _mappings(event.get("items"), (*event_loc, "items")):
        yield from _check_decimals(doc, item, loc, "price", currency)
        sku = _str(item, "sku")
        if sku is None or not _SKU.fullmatch(sku):
            continue
        sku_loc = (*loc, "sku")
        if sku in ctx.parents:
            message = f"{sku!r} is the parent product of {ctx.parents[sku]}: it never ships"
            yield doc.error(sku_loc, message)
            continue
        if ctx.catalog is None:
            continue
        entry = ctx.catalog.get(sku)
        if entry is None:
            hint = ctx.sku_hint(sku)
            yield doc.error(sku_loc, f"unknown SKU {sku!r}: it is not in the catalog{hint}")
        elif entry.currency is not None and currency is not None and entry.currency != currency:
            message = (
                f"{sku!r} is priced in {entry.currency} in the catalog, "
                f"but the program is in {currency}"
            )
            yield doc.error(sku_loc, message)
        elif entry.active is False and active_program:
            message = f"{sku!r} is inactive in the catalog: an active program cannot ship it"
            yield doc.error(sku_loc, message)


def _event_numbers(doc: Document, events: list[tuple[Loc, dict[str, Any]]]) -> Iterator[RuleError]:
    """Numbers, when written, must be 1..n, each once; report at each offending number."""
    count = len(events)
    seen: dict[int, Loc] = {}
    for loc, event in events:
        number = _int(event, "number")
        number_loc = (*loc, "number")
        if number is None or number < 1 or number_loc not in doc.nodes:
            continue  # not written (numbered in file order), or refused by the model already
        if number > count:
            missing = sorted(set(range(1, count + 1)) - {_int(e, "number") for _, e in events})
            hint = f"; missing: {', '.join(map(str, missing))}" if missing else ""
            message = (
                f"event number {number} is out of range: {count} events are numbered 1 to {count}"
            )
            yield doc.error(number_loc, message + hint)
        elif number in seen:
            where = _where(doc, (*seen[number], "number"))
            yield doc.error(number_loc, f"event number {number} is used twice (also at {where})")
        else:
            seen[number] = loc


def _check_events(doc: Document, data: dict[str, Any], ctx: _Context) -> Iterator[RuleError]:
    events = list(_mappings(data.get("events"), ("events",)))
    if isinstance(data.get("events"), tuple) and not data["events"]:
        yield doc.error(("events",), "a program needs at least one event")
    numbering = list(_event_numbers(doc, events))
    yield from numbering
    numbers = [_int(event, "number") for _, event in events]
    if not numbering and None not in numbers:
        events.sort(key=lambda pair: pair[1]["number"])
    billing = data.get("billing")
    billing = billing if isinstance(billing, dict) else {}
    scheduled = billing.get("payment_schedule") or billing.get("allowed_schedules")
    stopper: str | None = None
    for loc, event in events:
        label = f"event {_int(event, 'number') or loc[-1]}"
        if stopper is not None and not numbering:
            yield doc.error(loc, f"{label} is never reached: {stopper}")
        action, repeat = event.get("action", "normal"), event.get("repeat")
        if repeat == "forever":
            stopper = stopper or f"{label} repeats forever"
            if billing.get("up_front") is True:
                message = "a 'forever' repeat cannot be billed up front (billing.up_front is true)"
                yield doc.error((*loc, "repeat"), message)
            elif scheduled:
                message = "a 'forever' repeat cannot be paid on a payment schedule"
                yield doc.error((*loc, "repeat"), message)
        if action == "end":
            stopper = stopper or f"{label} ends the program (action: end)"
        items = event.get("items")
        if action == "skip" and isinstance(items, tuple) and items:
            yield doc.error((*loc, "items"), "a skip event ships nothing: remove its items")
        elif action in ("normal", "end") and "items" not in event:
            yield doc.error(loc, f"{label} has no items: an event with action {action!r} ships")
        elif action in ("normal", "end") and items == ():
            yield doc.error((*loc, "items"), f"an event with action {action!r} needs items")
        yield from _check_items(doc, loc, event, data, ctx)
    if not numbering:
        yield from _check_extent(doc, data, events)
    parent = data.get("parent_product")
    covered = _int(parent, "events") if isinstance(parent, dict) else None
    written = data.get("events")
    complete = isinstance(written, tuple) and len(written) == len(events)
    if covered is not None and complete and len(events) < covered <= MAX_EVENTS:
        message = f"the program has only {len(events)} events (0 means all of them)"
        yield doc.error(("parent_product", "events"), message)


def _check_extent(
    doc: Document, data: dict[str, Any], events: list[tuple[Loc, dict[str, Any]]]
) -> Iterator[RuleError]:
    """An order of a finite program is planned in full: it must fit the order engine's
    shipments and the calendar (checked only when every event and gap is itself valid)."""
    cadence = data.get("cadence")
    written = data.get("events")
    if not isinstance(written, tuple) or len(written) != len(events) or not events:
        return
    steps: list[tuple[int, str, int]] = []
    for _loc, event in events:
        repeat = event.get("repeat", 0)
        gap = event.get("gap", cadence)
        if type(repeat) is not int or not 0 <= repeat <= MAX_REPEAT or not isinstance(gap, dict):
            return  # forever, or a value refused already
        steps.append((repeat + 1, gap["unit"], gap["count"]))
    shipments, span = schedule_extent(steps)
    if shipments > MAX_SHIPMENTS:
        message = (
            f"an order of this program would ship {shipments:,} times: "
            f"at most {MAX_SHIPMENTS:,} (lower a repeat)"
        )
        yield doc.error(("events",), message)
    elif span > MAX_SPAN_DAYS:
        message = (
            f"an order of this program would span about {span // 365:,} years: "
            f"at most {MAX_SPAN_DAYS:,} days (shorter gaps or fewer repeats)"
        )
        yield doc.error(("events",), message)


def _check_program(doc: Document, ctx: _Context) -> Iterator[RuleError]:
    data = doc.data
    parent = data.get("parent_product")
    if isinstance(parent, dict):
        yield from _check_decimals(doc, parent, ("parent_product",), "price", _currency(data))
    yield from _check_order_start(doc, data)
    yield from _check_billing(doc, data, ctx)
    yield from _check_events(doc, data, ctx)


def cross_check(files: Files) -> list[RuleError]:
    ctx = _Context()
    errors: list[RuleError] = []
    if files.catalog is not None:
        errors.extend(_check_catalog(files.catalog, ctx))
    if files.schedules is not None:
        errors.extend(_check_schedules(files.schedules, ctx))
    errors.extend(_check_identity(files.programs, ctx))
    for _, doc in files.programs:
        # The loader lists at most MAX_ERRORS_PER_FILE per file: stop looking past that.
        errors.extend(islice(_check_program(doc, ctx), MAX_ERRORS_PER_FILE + 1))
    return errors
