"""Write a validated rule set into the database: products, payment schedules, program versions.

The whole sync is one transaction: all files apply or none do. :func:`rules.diff.diff_rules`
decides what changes (a program whose resolved content hashes differently from its live
version gets a new version; an unchanged program, product or schedule is not written at all,
so an unchanged reload touches no rows); this module writes exactly that, and a dry run stops
after the diff. Programs, products and schedules that disappeared from the files are retired,
never deleted: orders still refer to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from continuity.enums import EventAction, GapUnit, OrderStart
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
from rules.diff import ChangeKind, Live, ProgramChange, ProgramWrite, RulesDiff, diff_rules
from rules.model import RuleSet

__all__ = ["ChangeKind", "ProgramChange", "SyncReport", "sync_rules"]

#: Any constant works: it only has to be the same for every replica (PostgreSQL only).
_SYNC_LOCK_KEY = 0x636F6E74  # "cont"


@dataclass
class SyncReport:
    """What a sync changed (or, in a dry run, would change), and the field-level diff."""

    dry_run: bool
    diff: RulesDiff | None = None
    programs: list[ProgramChange] = field(default_factory=list)
    products_written: int = 0
    schedules_written: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.programs or self.products_written or self.schedules_written)


async def sync_rules(rules: RuleSet, *, dry_run: bool = False) -> SyncReport:
    """Bring the database in line with ``rules`` in one transaction (or only report, dry)."""
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            # Replicas starting together must not interleave their syncs.
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_SYNC_LOCK_KEY])
        diff = await diff_rules(rules, conn)
        if not dry_run:
            await _write_products(diff, conn)
            await _write_schedules(diff, conn)
            for write in diff.program_writes:
                await _write_program(write, diff.live, conn)
    return SyncReport(
        dry_run=dry_run,
        diff=diff,
        programs=list(diff.programs),
        products_written=len(diff.product_writes),
        schedules_written=len(diff.schedule_writes),
    )


async def _write_products(diff: RulesDiff, conn: BaseDBAsyncClient) -> None:
    products = diff.live.products
    for write in diff.product_writes:
        product = products.get(write.sku)
        if write.values is None:
            assert product is not None
            product.active = False
            await product.save(using_db=conn, update_fields=["active"])
        elif product is None:
            products[write.sku] = await Product.create(sku=write.sku, **write.values, using_db=conn)
        else:
            product.update_from_dict(write.values)
            await product.save(using_db=conn)


async def _write_schedules(diff: RulesDiff, conn: BaseDBAsyncClient) -> None:
    schedules = diff.live.schedules
    for write in diff.schedule_writes:
        schedule = schedules.get(write.code)
        if write.document is None:
            assert schedule is not None
            schedule.retired = True
            await schedule.save(using_db=conn, update_fields=["retired"])
            continue
        values = {key: value for key, value in write.document.items() if key != "lines"}
        values.update(content_hash=write.content_hash, retired=False)
        if schedule is None:
            schedule = await PaymentSchedule.create(code=write.code, **values, using_db=conn)
            schedules[write.code] = schedule
        else:
            schedule.update_from_dict(values)
            await schedule.save(using_db=conn)
            await PaymentScheduleLine.filter(schedule_id=schedule.id).using_db(conn).delete()
        await PaymentScheduleLine.bulk_create(
            [
                PaymentScheduleLine(
                    schedule_id=schedule.id,
                    seq=seq,
                    percent_hundredths=hundredths,
                    offset_days=offset_days,
                )
                for seq, (hundredths, offset_days) in enumerate(write.document["lines"], start=1)
            ],
            using_db=conn,
        )


async def _write_program(write: ProgramWrite, live: Live, conn: BaseDBAsyncClient) -> None:
    change, loaded = write.change, write.loaded
    program = live.programs.get(change.program_id)
    if loaded is None:  # retired
        assert program is not None
        program.retired = True
        program.active = False
        await program.save(using_db=conn, update_fields=["retired", "active"])
        return
    if write.document is None:  # restored, unchanged
        assert program is not None
        program.retired = False
        program.active = loaded.rule.active
        await program.save(using_db=conn, update_fields=["retired", "active"])
        return
    assert write.content_hash is not None
    assert change.to_version is not None
    program_values = {
        "name": loaded.rule.name,
        "active": loaded.rule.active,
        "currency": loaded.rule.currency,
        "retired": False,
    }
    if program is None:
        program = await Program.create(code=change.program_id, **program_values, using_db=conn)
        live.programs[change.program_id] = program
    else:
        program.update_from_dict(program_values)
        await program.save(using_db=conn)
    await _create_version(
        program,
        change.to_version,
        write.content_hash,
        loaded.source,
        write.document,
        live.products,
        live.schedules,
        conn,
    )
    product = live.products[loaded.rule.parent_product.sku]
    if product.program_id != program.id:
        product.program_id = program.id
        await product.save(using_db=conn, update_fields=["program_id"])


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
