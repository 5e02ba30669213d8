"""The stored form of each rule, as plain data: what the sync writes and what the diff compares.

A document holds exactly the columns a rule becomes (catalog prices resolved and frozen into
each program version), so its hash decides whether anything must be written, and the same
document rebuilt from the database rows (``stored_*``) is what a change is compared against.
Both directions live here so that they cannot drift: a test rebuilds every synced version and
checks that its hash is the one stored.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from continuity.enums import ProductKind, ScheduleKind
from continuity.models import (
    PaymentSchedule,
    PaymentScheduleLine,
    Product,
    ProgramEvent,
    ProgramEventItem,
    ProgramVersion,
    ProgramVersionSchedule,
)
from continuity.money import to_minor
from rules.model import PaymentScheduleRule, ProgramRule, RuleSet

Document = dict[str, Any]


def content_hash(document: Document) -> str:
    return hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _percent_hundredths(percent: Decimal) -> int:
    return int(percent * 100)


def product_documents(rules: RuleSet) -> dict[str, Document]:
    """Every product row the rules want: catalog items, then each program's parent product."""
    wanted: dict[str, Document] = {}
    for item in rules.catalog.items:
        wanted[item.sku] = {
            "name": item.name,
            "kind": ProductKind.ITEM,
            "price_minor": to_minor(item.price, item.currency),
            "currency": item.currency,
            "active": item.active,
            "event_count": 0,
        }
    for loaded in rules.programs:
        rule = loaded.rule
        wanted[rule.parent_product.sku] = {
            "name": rule.parent_product.name,
            "kind": ProductKind.PARENT,
            "price_minor": to_minor(rule.parent_product.price, rule.currency),
            "currency": rule.currency,
            "active": rule.active,
            "event_count": rule.parent_product.events,
        }
    return wanted


def stored_product(product: Product) -> Document:
    return {
        "name": product.name,
        "kind": product.kind,
        "price_minor": product.price_minor,
        "currency": product.currency,
        "active": product.active,
        "event_count": product.event_count,
    }


def schedule_document(rule: PaymentScheduleRule) -> Document:
    """The stored form of a schedule; its hash decides whether the row is rewritten."""
    equal = rule.every is not None
    return {
        "name": rule.name,
        "kind": ScheduleKind.EQUAL if equal else ScheduleKind.SPECIFIED,
        "installment_count": rule.installments if equal else len(rule.lines),
        "period_unit": rule.every.unit if rule.every else None,
        "period_count": rule.every.count if rule.every else None,
        "ship_after_installment": rule.ship_after_installment,
        "lines": [[_percent_hundredths(line.percent), line.offset_days] for line in rule.lines],
    }


def stored_schedule(schedule: PaymentSchedule, lines: Iterable[PaymentScheduleLine]) -> Document:
    return {
        "name": schedule.name,
        "kind": schedule.kind,
        "installment_count": schedule.installment_count,
        "period_unit": schedule.period_unit,
        "period_count": schedule.period_count,
        "ship_after_installment": schedule.ship_after_installment,
        "lines": [
            [line.percent_hundredths, line.offset_days]
            for line in sorted(lines, key=lambda line: line.seq)
        ],
    }


def program_document(rule: ProgramRule, catalog_prices: dict[str, int]) -> Document:
    """The resolved content of one program version: catalog prices are frozen in, so that a
    catalog price change makes a new version instead of silently repricing live orders."""
    currency = rule.currency
    parent = rule.parent_product
    events = []
    for event in rule.events:
        gap = event.gap or rule.cadence
        events.append(
            {
                "number": event.number,
                "gap_unit": gap.unit,
                "gap_count": gap.count,
                "not_before": event.not_before.isoformat() if event.not_before else None,
                "repeat": 0 if event.repeat == "forever" else event.repeat,
                "repeat_forever": event.repeat == "forever",
                "action": event.action,
                "items": [
                    {
                        "sku": item.sku,
                        "quantity": item.quantity,
                        "price_minor": (
                            to_minor(item.price, currency)
                            if item.price is not None
                            else catalog_prices[item.sku]
                        ),
                        "price_overridden": item.price is not None,
                    }
                    for item in event.items
                ],
            }
        )
    return {
        "name": rule.name,
        "active": rule.active,
        "currency": currency,
        "parent_sku": parent.sku,
        "parent_name": parent.name,
        "parent_price_minor": to_minor(parent.price, currency),
        "parent_event_count": parent.events,
        "order_start": rule.order_start,
        "current_event_anchor": (
            rule.current_event_anchor.isoformat() if rule.current_event_anchor else None
        ),
        "days_after_order": rule.days_after_order,
        "prompt_for_start_date": rule.prompt_for_start_date,
        "consolidate_past_orders": rule.consolidate_past_orders,
        "bill_up_front": rule.billing.up_front,
        "default_payment_schedule": rule.billing.payment_schedule,
        "allowed_schedules": sorted(
            set(rule.billing.allowed_schedules)
            | ({rule.billing.payment_schedule} if rule.billing.payment_schedule else set())
        ),
        "prompt_for_payment_schedule": rule.billing.prompt_for_payment_schedule,
        "cadence_unit": rule.cadence.unit,
        "cadence_count": rule.cadence.count,
        "events": events,
    }


async def stored_programs(
    versions: list[ProgramVersion],
    skus: dict[int, str],
    schedule_codes: dict[int, str],
    conn: BaseDBAsyncClient | None,
) -> dict[int, Document]:
    """The documents of ``versions`` rebuilt from their rows (version id -> document), in
    three queries however many versions; ``skus`` and ``schedule_codes`` name the ids."""
    if not versions:
        return {}
    ids = [version.id for version in versions]
    events = (
        await ProgramEvent.filter(version_id__in=ids)
        .using_db(conn)
        .order_by("version_id", "number")
    )
    items: dict[int, list[ProgramEventItem]] = defaultdict(list)
    for item in (
        await ProgramEventItem.filter(event_id__in=[event.id for event in events])
        .using_db(conn)
        .order_by("event_id", "seq")
    ):
        items[item.event_id].append(item)
    allowed: dict[int, list[str]] = defaultdict(list)
    for link in await ProgramVersionSchedule.filter(version_id__in=ids).using_db(conn):
        allowed[link.version_id].append(schedule_codes[link.schedule_id])
    by_version: dict[int, list[Document]] = defaultdict(list)
    for event in events:
        by_version[event.version_id].append(
            {
                "number": event.number,
                "gap_unit": event.gap_unit.value,
                "gap_count": event.gap_count,
                "not_before": event.not_before.isoformat() if event.not_before else None,
                "repeat": event.repeat,
                "repeat_forever": event.repeat_forever,
                "action": event.action.value,
                "items": [
                    {
                        "sku": skus[item.product_id],
                        "quantity": item.quantity,
                        "price_minor": item.price_minor,
                        "price_overridden": item.price_overridden,
                    }
                    for item in items[event.id]
                ],
            }
        )
    return {
        version.id: {
            "name": version.name,
            "active": version.active,
            "currency": version.currency,
            "parent_sku": version.parent_sku,
            "parent_name": version.parent_name,
            "parent_price_minor": version.parent_price_minor,
            "parent_event_count": version.parent_event_count,
            "order_start": version.order_start.value,
            "current_event_anchor": (
                version.current_event_anchor.isoformat() if version.current_event_anchor else None
            ),
            "days_after_order": version.days_after_order,
            "prompt_for_start_date": version.prompt_for_start_date,
            "consolidate_past_orders": version.consolidate_past_orders,
            "bill_up_front": version.bill_up_front,
            "default_payment_schedule": (
                schedule_codes[version.default_payment_schedule_id]
                if version.default_payment_schedule_id
                else None
            ),
            "allowed_schedules": sorted(allowed[version.id]),
            "prompt_for_payment_schedule": version.prompt_for_payment_schedule,
            "cadence_unit": version.cadence_unit.value,
            "cadence_count": version.cadence_count,
            "events": by_version[version.id],
        }
        for version in versions
    }
