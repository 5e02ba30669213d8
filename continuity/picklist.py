"""The file path for warehouses without an API: the pick list of a day out, shipments in.

- ``pick_list(day)``: one row per item of every child order planned to ship on ``day`` that may
  ship (paid: ``AUTHORIZED``), with everything the packer needs: the child order's global id
  and number, the ship-to address copied onto it, the customer's contact, the item, its price.
- ``import_shipments(rows)``: marks child orders shipped from (child order, carrier, tracking
  number[, shipped at]) rows, *all or nothing*: the rows are shipped in one transaction, and
  when any row fails (unknown child order, not paid, cancelled, shipped with another tracking
  number, a malformed value) nothing is written and every failing row is reported with its
  line number. A row for a child order already shipped with the same values changes nothing,
  so the same file imported twice ships nothing twice.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from tortoise.transactions import in_transaction

from continuity.connection import connection
from continuity.enums import ChildOrderStatus
from continuity.errors import ContinuityError, InvalidInput, NotFound
from continuity.fulfilment import Shipment, ship_in
from continuity.globalids import global_id, parse
from continuity.models import ChildOrder
from continuity.money import from_minor
from continuity.sql import fetch

#: The columns of the pick list, in order (CSV header, JSON keys).
PICK_COLUMNS = (
    "child_order_id",
    "child_order",
    "planned_ship_date",
    "order",
    "program",
    "account_number",
    "customer_name",
    "email",
    "phone",
    "ship_name",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "sku",
    "item_name",
    "quantity",
    "unit_price",
    "amount",
    "currency",
)
#: The columns an import file has (``shipped_at`` may be left out or empty: now).
IMPORT_COLUMNS = ("child_order", "carrier", "tracking_number")
OPTIONAL_IMPORT_COLUMNS = ("shipped_at",)
#: An import file holds at most this many rows (one transaction).
MAX_IMPORT_ROWS = 10_000

_PICK = """
SELECT c.id, c.number, c.planned_ship_date, c.currency, o.number AS order_number,
       pr.code AS program, u.account_number, u.name AS customer_name, u.email, u.phone,
       a.name AS ship_name, a.line1, a.line2, a.city, a.region, a.postal_code, a.country,
       p.sku, p.name AS item_name, cl.quantity, cl.price_minor
FROM child_order c
JOIN continuity_order o ON o.id = c.continuity_order_id
JOIN program pr ON pr.id = o.program_id
JOIN customer u ON u.id = c.customer_id
JOIN address a ON a.id = c.ship_to_id
JOIN child_order_line cl ON cl.child_order_id = c.id
JOIN product p ON p.id = cl.product_id
WHERE c.planned_ship_date = :day AND c.status = :status
ORDER BY c.id, cl.id
"""


async def pick_list(day: date) -> list[dict[str, Any]]:
    """The rows of the day's pick list, in child-order then line order."""
    rows = await fetch(connection(), _PICK, day=day, status=ChildOrderStatus.AUTHORIZED.value)
    return [
        {
            "child_order_id": global_id("ChildOrder", int(r["id"])),
            "child_order": r["number"],
            "planned_ship_date": _iso(r["planned_ship_date"]),
            "order": r["order_number"],
            "program": r["program"],
            "account_number": r["account_number"],
            "customer_name": r["customer_name"],
            "email": r["email"],
            "phone": r["phone"],
            "ship_name": r["ship_name"],
            "line1": r["line1"],
            "line2": r["line2"],
            "city": r["city"],
            "region": r["region"],
            "postal_code": r["postal_code"],
            "country": r["country"],
            "sku": r["sku"],
            "item_name": r["item_name"],
            "quantity": int(r["quantity"]),
            "unit_price": str(from_minor(int(r["price_minor"]), r["currency"])),
            "amount": str(from_minor(int(r["price_minor"]) * int(r["quantity"]), r["currency"])),
            "currency": r["currency"],
        }
        for r in rows
    ]


def _iso(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


def pick_list_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=PICK_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in PICK_COLUMNS})
    return out.getvalue()


@dataclass(frozen=True)
class RowError:
    line: int  # the file's line number (the header is line 1)
    child_order: str
    code: str
    message: str


@dataclass
class ImportReport:
    shipped: list[str] = field(default_factory=list)  # child order numbers
    unchanged: list[str] = field(default_factory=list)  # already shipped with these values
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


class ImportFileError(InvalidInput):
    """The file as a whole cannot be read (its header, its size)."""


class _Rollback(Exception):
    """Raised inside the import's transaction so that nothing of a failing file stays."""


def read_import_csv(text: str) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of an import file; ``ImportFileError`` when its header lacks a
    column or it holds too many rows."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in IMPORT_COLUMNS if name not in header]
    if missing:
        raise ImportFileError(
            f"the header must name {', '.join(IMPORT_COLUMNS)} (missing: {', '.join(missing)})",
            field=["file"],
        )
    rows: list[tuple[int, dict[str, str]]] = []
    for row in reader:
        clean = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
        if not any(clean.values()):
            continue  # a blank line
        rows.append((reader.line_num, clean))
        if len(rows) > MAX_IMPORT_ROWS:
            raise ImportFileError(f"at most {MAX_IMPORT_ROWS} rows per file", field=["file"])
    return rows


async def _child_id(reference: str) -> int | None:
    """A child order named by its global id or its number (``CH-…``)."""
    if reference.upper().startswith("CH-"):
        row = await ChildOrder.filter(number=reference.upper()).first()
        return row.id if row is not None else None
    return parse(reference, "ChildOrder")


def _shipped_at(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "is not an ISO date and time (2027-01-31T15:00:00Z)", field=["shippedAt"]
        ) from None


async def import_shipments(
    rows: list[tuple[int, dict[str, str]]], *, actor: str, today: date
) -> ImportReport:
    """Ship every row's child order in one transaction, or none of them (see the module)."""
    report = ImportReport()
    try:
        async with in_transaction() as conn:
            for line, row in rows:
                reference = row.get("child_order", "")
                try:
                    child_id = await _child_id(reference) if reference else None
                    if child_id is None:
                        raise NotFound(f"no child order {reference!r}")
                    before = await ChildOrder.filter(id=child_id).using_db(conn).first()
                    shipped_before = before is not None and before.status in (
                        ChildOrderStatus.SHIPPED,
                        ChildOrderStatus.INVOICED,
                    )
                    child = await ship_in(
                        conn,
                        child_id,
                        actor=actor,
                        shipment=Shipment(
                            carrier=row.get("carrier") or None,
                            tracking_number=row.get("tracking_number") or None,
                            shipped_at=_shipped_at(row.get("shipped_at", "")),
                        ),
                        today=today,
                    )
                except ContinuityError as error:
                    report.errors.append(RowError(line, reference, error.code.value, _plain(error)))
                    continue
                (report.unchanged if shipped_before else report.shipped).append(child.number)
            if report.errors:
                raise _Rollback
    except _Rollback:
        report.shipped.clear()
        report.unchanged.clear()
    return report


def _plain(error: ContinuityError) -> str:
    """The message with the column it is about (the API's field names, as file columns)."""
    columns = {"trackingNumber": "tracking_number", "shippedAt": "shipped_at"}
    if error.field and error.field[-1] in ("carrier", "trackingNumber", "shippedAt"):
        return f"{columns.get(error.field[-1], error.field[-1])}: {error.message}"
    return error.message
