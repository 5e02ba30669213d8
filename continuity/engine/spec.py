"""What the engine needs to know of a program version, as plain frozen values.

Built from the database (``continuity.engine.load``) or directly in tests; the engine itself never
touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from continuity.engine.calendar import CalendarEvent, GapSpec
from continuity.enums import EventAction, OrderStart


@dataclass(frozen=True)
class ItemSpec:
    product_id: int
    sku: str
    quantity: int
    price_minor: int


@dataclass(frozen=True)
class EventSpec:
    number: int
    gap: GapSpec
    action: EventAction = EventAction.NORMAL
    items: tuple[ItemSpec, ...] = ()
    #: How many times the event ships (repeat + 1); ``None`` for ``repeat: forever``.
    shipments: int | None = 1
    not_before: date | None = None

    @property
    def repeats(self) -> bool:
        return self.shipments is None or self.shipments > 1

    @property
    def calendar_event(self) -> CalendarEvent:
        return CalendarEvent(number=self.number, gap=self.gap, shipments=self.shipments)


@dataclass(frozen=True)
class ProgramSpec:
    code: str
    currency: str
    events: tuple[EventSpec, ...]
    order_start: OrderStart = OrderStart.FIRST_EVENT
    current_event_anchor: date | None = None
    days_after_order: int = 0
    #: How many events the parent product covers; 0 = all.
    parent_event_count: int = 0
    consolidate_past_orders: bool = False
    bill_up_front: bool = False
    #: What the schedule derives from the version alone, computed once per spec instead of
    #: on every walk (``continuity.engine.schedule``: the events an order covers, an event's
    #: items at a quantity). A version is immutable, so nothing here goes stale; not an
    #: argument (``replace`` starts a new one) and not part of equality.
    derived: dict[Any, Any] = field(
        default_factory=dict, init=False, compare=False, hash=False, repr=False
    )

    def event(self, number: int) -> EventSpec:
        for event in self.events:
            if event.number == number:
                return event
        raise KeyError(number)
