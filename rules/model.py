"""The validated rules: what the order engine reads.

The models are frozen and strict so that a rule, once loaded, cannot drift or be half-typed.
Their own validators guard the invariants the engine relies on (a programmer constructing a
program in Python gets the same guarantees); the loader reports the same problems again at
the exact line and column of the YAML, which a model-level validator cannot know.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic_core import PydanticCustomError

from continuity.money import fits_currency
from rules.limits import (
    MAX_ALLOWED_SCHEDULES,
    MAX_CATALOG_ITEMS,
    MAX_DAYS,
    MAX_EVENT_ITEMS,
    MAX_EVENTS,
    MAX_INSTALLMENTS,
    MAX_MONTHS,
    MAX_QUANTITY,
    MAX_SHIPMENTS,
    MAX_SPAN_DAYS,
    MIN_INSTALLMENTS,
)
from rules.values import (
    Currency,
    Money,
    Name,
    Percent,
    Repeat,
    RuleDate,
    RuleId,
    Sku,
    schedule_extent,
)

_CONFIG = ConfigDict(frozen=True, extra="forbid", strict=True)
#: Sequences arrive as lists from Python callers and as tuples from the loader.
_SEQUENCE: Any = Field(default=(), strict=False)


def _sequence(max_length: int) -> Any:
    return Field(default=(), strict=False, max_length=max_length)


def _invariant(message: str) -> PydanticCustomError:
    return PydanticCustomError("rule_invariant", message)


class Gap(BaseModel):
    """The distance between two dates.

    Months are calendar months counted from an anchor date (the day of month is kept and
    clamped, never drifting); days are plain days. Written ``every: 1 month``,
    ``every: 14 days`` or ``days_from_last: 30`` in the YAML.
    """

    model_config = _CONFIG

    unit: Literal["day", "month"]
    count: int = Field(ge=0, le=MAX_DAYS)

    @model_validator(mode="after")
    def _check_months(self) -> Gap:
        if self.unit == "month" and not 1 <= self.count <= MAX_MONTHS:
            raise _invariant(f"a gap in months must be 1 to {MAX_MONTHS} months")
        return self

    def times(self, factor: int) -> Gap:
        """The gap repeated ``factor`` times, e.g. the offset of the third monthly installment.

        Zero months is not a valid month gap, so ``times(0)`` is zero days.
        """
        if factor == 0:
            return Gap(unit="day", count=0)
        return Gap(unit=self.unit, count=self.count * factor)

    def within(self, days: int, months: int) -> bool:
        return self.count <= (months if self.unit == "month" else days)

    def __str__(self) -> str:
        word = self.unit if self.count == 1 else f"{self.unit}s"
        return f"{self.count} {word}"


def installments_span_message(days: int, months: int) -> str:
    return (
        f"the last installment would be due more than {days} days ({months} months) "
        "after the first: fewer installments, or a shorter every"
    )


class CatalogItem(BaseModel):
    model_config = _CONFIG

    sku: Sku
    name: Name
    price: Money
    currency: Currency
    active: bool = True

    @model_validator(mode="after")
    def _check_price(self) -> CatalogItem:
        if not fits_currency(self.price, self.currency):
            raise _invariant(f"price {self.price} has more decimals than {self.currency} allows")
        return self


class Catalog(BaseModel):
    model_config = _CONFIG

    items: tuple[CatalogItem, ...] = _sequence(MAX_CATALOG_ITEMS)
    _by_sku: dict[str, CatalogItem] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _index(self) -> Catalog:
        self._by_sku.update((item.sku, item) for item in self.items)
        if len(self._by_sku) != len(self.items):
            raise _invariant("each SKU may appear only once in the catalog")
        return self

    def item(self, sku: str) -> CatalogItem | None:
        return self._by_sku.get(sku)


class InstallmentLine(BaseModel):
    model_config = _CONFIG

    percent: Percent
    offset_days: int = Field(ge=0, le=MAX_DAYS)


class PlannedInstallment(NamedTuple):
    """One installment of a payment schedule.

    ``percent`` is ``None`` for an equal share (split with ``continuity.money.split_evenly``, the
    remainder on the last installment). ``offset`` counts from the first installment, which is
    due when the order is placed (its offset is 0 days); apply month offsets to that anchor
    date, not cumulatively, so that Jan 31 + 1 month is Feb 28 and + 2 months is Mar 31.
    """

    percent: Decimal | None
    offset: Gap


class PaymentScheduleRule(BaseModel):
    """A split of an up-front total: ``installments`` equal parts ``every`` period, or ``lines``."""

    model_config = _CONFIG

    id: RuleId
    name: Name
    installments: int | None = Field(default=None, ge=MIN_INSTALLMENTS, le=MAX_INSTALLMENTS)
    every: Gap | None = None
    lines: tuple[InstallmentLine, ...] = _sequence(MAX_INSTALLMENTS)
    ship_after_installment: int | None = Field(default=None, ge=1, le=MAX_INSTALLMENTS)

    @model_validator(mode="after")
    def _check_shape(self) -> PaymentScheduleRule:
        if self.lines:
            if self.installments is not None or self.every is not None:
                raise _invariant("write either installments + every, or lines, not both")
            if len(self.lines) < 2:
                raise _invariant("a schedule needs at least 2 lines")
            if sum((line.percent for line in self.lines), Decimal(0)) != 100:
                raise _invariant("the line percents must add up to exactly 100")
            if self.lines[0].offset_days != 0:
                raise _invariant("the first line is due when the order is placed: offset_days 0")
            offsets = [line.offset_days for line in self.lines]
            if offsets != sorted(offsets):
                raise _invariant("offset_days must not decrease from one line to the next")
        elif self.installments is None or self.every is None:
            raise _invariant("write installments + every, or lines")
        elif not self.every.times(self.installments - 1).within(MAX_DAYS, MAX_MONTHS):
            raise _invariant(installments_span_message(MAX_DAYS, MAX_MONTHS))
        if self.ship_after_installment is not None and not (
            1 <= self.ship_after_installment <= self.installment_count
        ):
            raise _invariant(f"ship_after_installment must be 1 to {self.installment_count}")
        return self

    @property
    def installment_count(self) -> int:
        return len(self.lines) if self.lines else (self.installments or 0)

    def installment_plan(self) -> tuple[PlannedInstallment, ...]:
        """The installments in due order, with their share and their offset from the first."""
        if self.lines:
            return tuple(
                PlannedInstallment(line.percent, Gap(unit="day", count=line.offset_days))
                for line in self.lines
            )
        assert self.every is not None
        return tuple(
            PlannedInstallment(None, self.every.times(index))
            for index in range(self.installment_count)
        )


class ParentProduct(BaseModel):
    model_config = _CONFIG

    sku: Sku
    name: Name
    price: Money
    events: int = Field(default=0, ge=0, le=MAX_EVENTS)  # 0 = the parent product covers all


class Billing(BaseModel):
    model_config = _CONFIG

    up_front: bool = False
    payment_schedule: RuleId | None = None
    allowed_schedules: tuple[RuleId, ...] = _sequence(MAX_ALLOWED_SCHEDULES)
    prompt_for_payment_schedule: bool = False

    @model_validator(mode="after")
    def _check(self) -> Billing:
        if not self.up_front and (self.payment_schedule or self.allowed_schedules):
            raise _invariant("payment schedules split an up-front total: set up_front: true")
        if (
            self.allowed_schedules
            and self.payment_schedule is not None
            and self.payment_schedule not in self.allowed_schedules
        ):
            raise _invariant("the default payment_schedule must be one of allowed_schedules")
        if self.prompt_for_payment_schedule and not self.schedule_choices:
            raise _invariant("prompt_for_payment_schedule needs schedules to choose from")
        return self

    @property
    def schedule_choices(self) -> tuple[str, ...]:
        """The schedules an agent may pick from, the default first."""
        choices = list(self.allowed_schedules)
        if self.payment_schedule is not None:
            if self.payment_schedule in choices:
                choices.remove(self.payment_schedule)
            choices.insert(0, self.payment_schedule)
        return tuple(choices)


class EventItemRule(BaseModel):
    model_config = _CONFIG

    sku: Sku
    quantity: int = Field(gt=0, le=MAX_QUANTITY)
    price: Money | None = None  # None: the catalog price


class EventRule(BaseModel):
    """One step of a program; ``gap`` is the distance from the previous shipment.

    For the first shipment of event 1 the gap is not used: it ships on the start date. For a
    repeat of this event it is the distance from its previous occurrence; ``None`` means the
    program cadence.
    """

    model_config = _CONFIG

    number: int = Field(ge=1)
    items: tuple[EventItemRule, ...] = _sequence(MAX_EVENT_ITEMS)
    gap: Gap | None = None
    not_before: RuleDate | None = None
    repeat: Repeat = 0
    action: Literal["normal", "skip", "end"] = "normal"

    @model_validator(mode="after")
    def _check_items(self) -> EventRule:
        if self.action == "skip" and self.items:
            raise _invariant("a skip event ships nothing: remove its items")
        if self.action != "skip" and not self.items:
            raise _invariant(f"an event with action {self.action!r} needs at least one item")
        return self

    @property
    def occurrences(self) -> int | None:
        """How many times the event ships (the first time plus its repeats); None = forever."""
        return None if self.repeat == "forever" else self.repeat + 1


class ProgramRule(BaseModel):
    model_config = _CONFIG

    id: RuleId
    name: Name
    active: bool
    currency: Currency
    parent_product: ParentProduct
    order_start: Literal["first_event", "current_event"] = "first_event"
    current_event_anchor: RuleDate | None = None
    days_after_order: int = Field(default=0, ge=0, le=MAX_DAYS)
    prompt_for_start_date: bool = False
    consolidate_past_orders: bool = False
    billing: Billing = Billing()
    cadence: Gap
    events: tuple[EventRule, ...] = Field(strict=False, max_length=MAX_EVENTS)

    @field_validator("events", mode="after")
    @classmethod
    def _in_shipping_order(cls, events: tuple[EventRule, ...]) -> tuple[EventRule, ...]:
        if not events:
            raise _invariant("a program needs at least one event")
        numbers = sorted(event.number for event in events)
        if numbers != list(range(1, len(events) + 1)):
            raise _invariant(f"event numbers must be 1 to {len(events)}, each once")
        return tuple(sorted(events, key=lambda event: event.number))

    @model_validator(mode="after")
    def _check(self) -> ProgramRule:
        if (self.order_start == "current_event") != (self.current_event_anchor is not None):
            raise _invariant("current_event_anchor is required with, and only with, current_event")
        if self.parent_product.events > len(self.events):
            raise _invariant("parent_product.events exceeds the number of events")
        for event in self.events[:-1]:
            if event.repeat == "forever" or event.action == "end":
                raise _invariant(f"events after event {event.number} are never reached")
        if not self.is_finite and (self.billing.up_front or self.billing.schedule_choices):
            raise _invariant("a 'forever' repeat cannot be billed up front")
        if self.is_finite:
            shipments, span = self.extent()
            if shipments > MAX_SHIPMENTS:
                raise _invariant(f"an order would ship {shipments} times: at most {MAX_SHIPMENTS}")
            if span > MAX_SPAN_DAYS:
                raise _invariant(f"an order would span {span} days: at most {MAX_SPAN_DAYS}")
        prices = [self.parent_product.price]
        prices += [item.price for event in self.events for item in event.items if item.price]
        if not all(fits_currency(price, self.currency) for price in prices):
            raise _invariant(f"a price has more decimals than {self.currency} allows")
        return self

    @property
    def is_finite(self) -> bool:
        return all(event.repeat != "forever" for event in self.events)

    def extent(self) -> tuple[int, int]:
        """(shipments, days spanned at most) of one order of this finite program."""
        steps = []
        for event in self.events:
            gap = event.gap or self.cadence
            occurrences = event.occurrences
            assert occurrences is not None, "extent() is for finite programs"
            steps.append((occurrences, gap.unit, gap.count))
        return schedule_extent(steps)

    def event(self, number: int) -> EventRule:
        return self.events[number - 1]


@dataclass(frozen=True)
class LoadedProgram:
    """A program and the file it came from: ``path`` as passed to the loader (for people at
    the command line), ``source`` relative to the rules directory (``programs/x.yaml``: what
    the database stores and the API shows)."""

    rule: ProgramRule
    path: str
    source: str


@dataclass(frozen=True)
class RuleSet:
    """Everything in a rules directory; only ever built from a fully valid directory."""

    catalog: Catalog
    schedules: tuple[PaymentScheduleRule, ...]
    programs: tuple[LoadedProgram, ...]  # sorted by program id

    def schedule(self, schedule_id: str) -> PaymentScheduleRule | None:
        return next((s for s in self.schedules if s.id == schedule_id), None)

    def program(self, program_id: str) -> LoadedProgram | None:
        return next((p for p in self.programs if p.rule.id == program_id), None)

    def program_for_parent_sku(self, sku: str) -> LoadedProgram | None:
        return next((p for p in self.programs if p.rule.parent_product.sku == sku), None)
