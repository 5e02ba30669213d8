"""Reading programs for the engine: the live version, its ``ProgramSpec``, and the payment
schedule an order for it would use (``offered_schedule``: placement and the program preview
refuse the same schedules)."""

from __future__ import annotations

from continuity.engine.billing import ScheduleSpec
from continuity.engine.calendar import GapSpec
from continuity.engine.spec import EventSpec, ItemSpec, ProgramSpec
from continuity.errors import ErrorCode, InvalidInput
from continuity.models import (
    PaymentSchedule,
    PaymentScheduleLine,
    Product,
    ProgramEvent,
    ProgramEventItem,
    ProgramVersion,
    ProgramVersionSchedule,
)


async def live_version(program_id: int) -> ProgramVersion:
    version = await ProgramVersion.filter(program_id=program_id).order_by("-number").first()
    if version is None:
        raise LookupError(f"program {program_id} has no version")
    return version


async def offered_schedule(
    version: ProgramVersion, code: str | None, field: list[str]
) -> PaymentSchedule | None:
    """The payment schedule an order on ``version`` would use: ``code`` if the version offers
    it (else ``PAYMENT_SCHEDULE_NOT_ALLOWED`` at ``field``), or the version's default."""
    if code is None:
        if version.default_payment_schedule_id is None:
            return None
        return await PaymentSchedule.get(id=version.default_payment_schedule_id)
    allowed = await ProgramVersionSchedule.filter(
        version_id=version.id, schedule__code=code
    ).first()
    if allowed is None:
        raise InvalidInput(
            f"payment schedule {code!r} is not offered for this program",
            field=field,
            code=ErrorCode.PAYMENT_SCHEDULE_NOT_ALLOWED,
        )
    return await PaymentSchedule.get(id=allowed.schedule_id)


async def program_spec(version: ProgramVersion, code: str) -> ProgramSpec:
    events = await ProgramEvent.filter(version_id=version.id).order_by("number")
    items = await ProgramEventItem.filter(event__version_id=version.id).order_by("event_id", "seq")
    products = {p.id: p for p in await Product.filter(id__in={i.product_id for i in items})}
    by_event: dict[int, list[ItemSpec]] = {}
    for item in items:
        by_event.setdefault(item.event_id, []).append(
            ItemSpec(
                item.product_id, products[item.product_id].sku, item.quantity, item.price_minor
            )
        )
    return ProgramSpec(
        code=code,
        currency=version.currency,
        events=tuple(
            EventSpec(
                number=event.number,
                gap=GapSpec(event.gap_unit, event.gap_count),
                action=event.action,
                items=tuple(by_event.get(event.id, ())),
                shipments=None if event.repeat_forever else event.repeat + 1,
                not_before=event.not_before,
            )
            for event in events
        ),
        order_start=version.order_start,
        current_event_anchor=version.current_event_anchor,
        days_after_order=version.days_after_order,
        parent_event_count=version.parent_event_count,
        consolidate_past_orders=version.consolidate_past_orders,
        bill_up_front=version.bill_up_front,
    )


async def schedule_spec(schedule: PaymentSchedule) -> ScheduleSpec:
    lines = await PaymentScheduleLine.filter(schedule_id=schedule.id).order_by("seq")
    period = (
        GapSpec(schedule.period_unit, schedule.period_count)
        if schedule.period_unit is not None and schedule.period_count is not None
        else None
    )
    return ScheduleSpec(
        code=schedule.code,
        count=schedule.installment_count,
        period=period,
        lines=tuple((line.percent_hundredths, line.offset_days) for line in lines),
        ship_after_installment=schedule.ship_after_installment,
    )
