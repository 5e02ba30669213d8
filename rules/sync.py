"""Write a validated rule set into the database: products, payment schedules, program versions.

The whole sync is one transaction: all files apply or none do. A program whose resolved content
(its settings, events, items and their prices) hashes differently from its live version gets a
new version; an unchanged program, product or schedule is not written at all, so an unchanged
reload touches no rows. Programs, products and schedules that disappeared from the files are
retired, never deleted: orders still refer to them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.enums import EventAction, GapUnit, OrderStart, ProductKind, ScheduleKind
from continuity.models import (
    PaymentSchedule,
    PaymentScheduleLine,
    Product,
    Program,
    ProgramEvent,
    ProgramEventItem,
    ProgramVersion,
    ProgramVersionSchedule,
)
from continuity.money import to_minor
from rules.model import PaymentScheduleRule, ProgramRule, RuleSet

#: Any constant works: it only has to be the same for every replica (PostgreSQL only).
_SYNC_LOCK_KEY = 0x636F6E74  # "cont"


class ChangeKind(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"


@dataclass(frozen=True)
class ProgramChange:
    program_id: str
    kind: ChangeKind
    from_version: int | None
    to_version: int | None


@dataclass
class SyncReport:
    """What a sync changed (or, in a dry run, would change)."""

    dry_run: bool
    programs: list[ProgramChange] = field(default_factory=list)
    products_written: int = 0
    schedules_written: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.programs or self.products_written or self.schedules_written)


def _hash(document: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _percent_hundredths(percent: Decimal) -> int:
    return int(percent * 100)


def schedule_document(rule: PaymentScheduleRule) -> dict[str, Any]:
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


def program_document(rule: ProgramRule, catalog_prices: dict[str, int]) -> dict[str, Any]:
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


async def sync_rules(rules: RuleSet, *, dry_run: bool = False) -> SyncReport:
    """Bring the database in line with ``rules`` in one transaction (or only report, dry)."""
    report = SyncReport(dry_run=dry_run)
    try:
        async with in_transaction() as conn:
            if conn.capabilities.dialect == "postgres":
                # Replicas starting together must not interleave their syncs.
                await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_SYNC_LOCK_KEY])
            products = await _sync_catalog(rules, report, conn)
            schedules = await _sync_schedules(rules, report, conn)
            await _sync_programs(rules, report, products, schedules, conn)
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        pass
    return report


class _DryRunRollback(Exception):
    """Raised inside the transaction so that a dry run's writes are rolled back."""


async def _sync_catalog(
    rules: RuleSet, report: SyncReport, conn: BaseDBAsyncClient
) -> dict[str, Product]:
    existing = {p.sku: p for p in await Product.all().using_db(conn)}
    wanted: dict[str, dict[str, Any]] = {}
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
    for sku, values in wanted.items():
        product = existing.get(sku)
        if product is None:
            existing[sku] = await Product.create(sku=sku, **values, using_db=conn)
            report.products_written += 1
        elif any(getattr(product, key) != value for key, value in values.items()):
            product.update_from_dict(values)
            await product.save(using_db=conn)
            report.products_written += 1
    for sku, product in existing.items():
        if sku not in wanted and product.active:
            product.active = False
            await product.save(using_db=conn, update_fields=["active"])
            report.products_written += 1
    return existing


async def _sync_schedules(
    rules: RuleSet, report: SyncReport, conn: BaseDBAsyncClient
) -> dict[str, PaymentSchedule]:
    existing = {s.code: s for s in await PaymentSchedule.all().using_db(conn)}
    wanted = {rule.id: rule for rule in rules.schedules}
    for code, rule in wanted.items():
        document = schedule_document(rule)
        content_hash = _hash(document)
        schedule = existing.get(code)
        if schedule is not None and schedule.content_hash == content_hash and not schedule.retired:
            continue
        values = {key: value for key, value in document.items() if key != "lines"}
        values.update(content_hash=content_hash, retired=False)
        if schedule is None:
            schedule = await PaymentSchedule.create(code=code, **values, using_db=conn)
            existing[code] = schedule
        else:
            schedule.update_from_dict(values)
            await schedule.save(using_db=conn)
            await PaymentScheduleLine.filter(schedule_id=schedule.id).using_db(conn).delete()
        for seq, (hundredths, offset_days) in enumerate(document["lines"], start=1):
            await PaymentScheduleLine.create(
                schedule_id=schedule.id,
                seq=seq,
                percent_hundredths=hundredths,
                offset_days=offset_days,
                using_db=conn,
            )
        report.schedules_written += 1
    for code, schedule in existing.items():
        if code not in wanted and not schedule.retired:
            schedule.retired = True
            await schedule.save(using_db=conn, update_fields=["retired"])
            report.schedules_written += 1
    return existing


async def _sync_programs(
    rules: RuleSet,
    report: SyncReport,
    products: dict[str, Product],
    schedules: dict[str, PaymentSchedule],
    conn: BaseDBAsyncClient,
) -> None:
    catalog_prices = {item.sku: to_minor(item.price, item.currency) for item in rules.catalog.items}
    programs = {p.code: p for p in await Program.all().using_db(conn)}
    latest: dict[int, ProgramVersion] = {}
    for version in await ProgramVersion.all().using_db(conn).order_by("number"):
        latest[version.program_id] = version
    wanted = {loaded.rule.id: loaded for loaded in rules.programs}
    for code, loaded in sorted(wanted.items()):
        document = program_document(loaded.rule, catalog_prices)
        content_hash = _hash(document)
        program = programs.get(code)
        current = latest.get(program.id) if program else None
        if program is not None and current is not None and current.content_hash == content_hash:
            if program.retired:
                program.retired = False
                program.active = loaded.rule.active
                await program.save(using_db=conn, update_fields=["retired", "active"])
            continue
        program_values = {
            "name": loaded.rule.name,
            "active": loaded.rule.active,
            "currency": loaded.rule.currency,
            "retired": False,
        }
        if program is None:
            program = await Program.create(code=code, **program_values, using_db=conn)
        else:
            program.update_from_dict(program_values)
            await program.save(using_db=conn)
        number = current.number + 1 if current else 1
        await _create_version(
            program, number, content_hash, loaded.path, document, products, schedules, conn
        )
        product = products[loaded.rule.parent_product.sku]
        if product.program_id != program.id:
            product.program_id = program.id
            await product.save(using_db=conn, update_fields=["program_id"])
        report.programs.append(
            ProgramChange(
                program_id=code,
                kind=ChangeKind.UPDATED if current else ChangeKind.CREATED,
                from_version=current.number if current else None,
                to_version=number,
            )
        )
    for code, program in sorted(programs.items()):
        if code not in wanted and not program.retired:
            program.retired = True
            program.active = False
            await program.save(using_db=conn, update_fields=["retired", "active"])
            live = latest.get(program.id)
            live_number = live.number if live else None
            report.programs.append(
                ProgramChange(code, ChangeKind.RETIRED, live_number, live_number)
            )


async def _create_version(
    program: Program,
    number: int,
    content_hash: str,
    source_path: str,
    document: dict[str, Any],
    products: dict[str, Product],
    schedules: dict[str, PaymentSchedule],
    conn: BaseDBAsyncClient,
) -> ProgramVersion:
    default_schedule = document["default_payment_schedule"]
    anchor = document["current_event_anchor"]
    version = await ProgramVersion.create(
        program_id=program.id,
        number=number,
        content_hash=content_hash,
        source_path=source_path,
        name=document["name"],
        active=document["active"],
        currency=document["currency"],
        parent_sku=document["parent_sku"],
        parent_name=document["parent_name"],
        parent_price_minor=document["parent_price_minor"],
        parent_event_count=document["parent_event_count"],
        order_start=OrderStart(document["order_start"]),
        current_event_anchor=anchor and date.fromisoformat(anchor),
        days_after_order=document["days_after_order"],
        prompt_for_start_date=document["prompt_for_start_date"],
        consolidate_past_orders=document["consolidate_past_orders"],
        bill_up_front=document["bill_up_front"],
        default_payment_schedule_id=schedules[default_schedule].id if default_schedule else None,
        prompt_for_payment_schedule=document["prompt_for_payment_schedule"],
        cadence_unit=GapUnit(document["cadence_unit"]),
        cadence_count=document["cadence_count"],
        using_db=conn,
    )
    for code in document["allowed_schedules"]:
        await ProgramVersionSchedule.create(
            version_id=version.id, schedule_id=schedules[code].id, using_db=conn
        )
    for event in document["events"]:
        row = await ProgramEvent.create(
            version_id=version.id,
            number=event["number"],
            gap_unit=GapUnit(event["gap_unit"]),
            gap_count=event["gap_count"],
            not_before=event["not_before"] and date.fromisoformat(event["not_before"]),
            repeat=event["repeat"],
            repeat_forever=event["repeat_forever"],
            action=EventAction(event["action"]),
            using_db=conn,
        )
        await ProgramEventItem.bulk_create(
            [
                ProgramEventItem(
                    event_id=row.id,
                    seq=seq,
                    product_id=products[item["sku"]].id,
                    quantity=item["quantity"],
                    price_minor=item["price_minor"],
                    price_overridden=item["price_overridden"],
                )
                for seq, item in enumerate(event["items"], start=1)
            ],
            using_db=conn,
        )
    return version
