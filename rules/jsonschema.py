"""JSON Schemas of the rule files as they are written, for editors: completion, hover help,
and the simple mistakes underlined before ``rules check`` runs.

The schemas describe the YAML, not the models: ``every: 1 month``, ``repeat: forever``, money
as quoted strings. Every key has a description and an example, closed sets are enums, and the
bounds are :mod:`rules.limits`'. They are also the one list of the keys each mapping accepts
(:data:`rules.messages.YAML_KEYS` is read from them), so an editor cannot offer a key the
loader refuses. What needs more than one value at a time (SKUs in the catalog, event numbers
1..n, decimals per currency, a real calendar date) is left to ``rules check``.

``continuity rules schema KIND`` prints one; ``rules/schema/*.schema.json`` are the committed
copies (a test keeps them equal to these).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final, Literal

from continuity.money import CURRENCY_MINOR_UNITS
from rules import limits
from rules.values import RULE_ID_PATTERN, SKU_PATTERN

SchemaKind = Literal["catalog", "payment-schedules", "program"]
KINDS: Final[tuple[SchemaKind, ...]] = ("catalog", "payment-schedules", "program")
#: Where each kind's committed copy lives, relative to the rules directory's ``schema/``.
FILE_NAMES: Final[dict[SchemaKind, str]] = {kind: f"{kind}.schema.json" for kind in KINDS}
#: Which rule files each schema is for (the globs an editor's settings map it to).
GLOBS: Final[dict[SchemaKind, str]] = {
    "catalog": "catalog.yaml",
    "payment-schedules": "payment-schedules.yaml",
    "program": "programs/*.yaml",
}

Schema = dict[str, Any]

_DRAFT: Final = "http://json-schema.org/draft-07/schema#"
#: Up to 100,000,000, any number of decimals (how many a currency allows is checked later).
_AMOUNT: Final = r"^0*(?:[0-9]{1,8}(?:\.[0-9]+)?|100000000(?:\.0+)?)$"
#: Above 0, up to 100, at most two decimals.
_PERCENT: Final = r"^0*(?:100(?:\.0{1,2})?|[0-9]{1,2}(?:\.[0-9]{1,2})?)$"
_ZERO: Final = r"^0*(?:\.0*)?$"
_DATE: Final = r"^(?:19[0-9]{2}|2[01][0-9]{2}|2200)-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"


def _any_case(word: str) -> str:
    return "".join(f"[{char}{char.upper()}]" for char in word)


_DAY_UNITS: Final = "|".join(_any_case(unit) for unit in ("days", "day", "weeks", "week"))
_MONTH_UNITS: Final = "|".join(_any_case(unit) for unit in ("months", "month"))
#: ``N days``/``N weeks`` (0 allowed) or ``N months`` (at least 1), any case.
_EVERY: Final = rf"^\s*(?:[0-9]+\s+(?:{_DAY_UNITS})|0*[1-9][0-9]*\s+(?:{_MONTH_UNITS}))\s*$"


def _key(description: str, example: Any, schema: Schema) -> Schema:
    return {"description": description, "examples": [example], **schema}


def _text(description: str, example: str) -> Schema:
    return _key(
        description, example, {"type": "string", "minLength": 1, "maxLength": limits.MAX_NAME_CHARS}
    )


def _sku(description: str, example: str) -> Schema:
    text = "A-Z, 0-9, '.', '_' and '-', at most 64 characters; quote one that is only digits"
    return _key(f"{description} ({text}).", example, {"type": "string", "pattern": SKU_PATTERN})


def _id(description: str, example: str) -> Schema:
    text = "a-z, 0-9 and '-', at most 63 characters"
    return _key(f"{description} ({text}).", example, {"type": "string", "pattern": RULE_ID_PATTERN})


def _money(description: str, example: str) -> Schema:
    return _key(
        f'{description} A quoted amount such as "12.99" (never an unquoted 12.99), or a whole '
        f"number; at most {limits.MAX_AMOUNT:,} and no more decimals than the currency has.",
        example,
        {
            "anyOf": [
                {"type": "string", "pattern": _AMOUNT},
                {"type": "integer", "minimum": 0, "maximum": limits.MAX_AMOUNT},
            ]
        },
    )


def _whole(description: str, example: int, minimum: int, maximum: int) -> Schema:
    return _key(
        f"{description} A whole number, {minimum} to {maximum:,}.",
        example,
        {"type": "integer", "minimum": minimum, "maximum": maximum},
    )


def _flag(description: str, example: bool, default: bool | None = None) -> Schema:
    schema: Schema = {"type": "boolean"}
    if default is not None:
        schema["default"] = default
    return _key(f"{description} true or false.", example, schema)


def _date(description: str, example: str) -> Schema:
    return _key(
        f"{description} A date, YYYY-MM-DD, {limits.FIRST_DATE} to {limits.LAST_DATE}.",
        example,
        {"type": "string", "format": "date", "pattern": _DATE},
    )


def _every(description: str, example: str) -> Schema:
    return _key(
        f"{description} A number and a unit: '1 month', '2 months', '14 days', '2 weeks' "
        f"(at most {limits.MAX_MONTHS} months or {limits.MAX_DAYS} days).",
        example,
        {"type": "string", "pattern": _EVERY},
    )


def _days(description: str, example: int) -> Schema:
    return _whole(description, example, 0, limits.MAX_DAYS)


def _object(
    description: str, properties: dict[str, Schema], required: tuple[str, ...] = ()
) -> Schema:
    schema: Schema = {
        "type": "object",
        "description": description,
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _list(description: str, example: Any, items: Schema, low: int, high: int) -> Schema:
    schema: Schema = {"type": "array", "items": items, "maxItems": high}
    if low:
        schema["minItems"] = low
    return _key(f"{description} At most {high:,}.", example, schema)


_CURRENCY: Final = _key(
    "An ISO 4217 currency the service knows.",
    "USD",
    {"type": "string", "enum": sorted(CURRENCY_MINOR_UNITS)},
)


def _root(title: str, body: Schema) -> Schema:
    return {"$schema": _DRAFT, "title": title, **body}


def catalog_schema() -> Schema:
    item = _object(
        "One sellable item.",
        {
            "sku": _sku("Unique in the catalog; not a program's parent product SKU", "BOOK-001"),
            "name": _text("Shown to agents and customers.", "The Lighthouse Keeper's Daughter"),
            "price": _money("Charged when an event does not set its own price.", "14.99"),
            "currency": _CURRENCY,
            "active": _flag(
                "Inactive items are kept for history; an active program may not ship them.",
                False,
                default=True,
            ),
        },
        ("sku", "name", "price", "currency"),
    )
    body = _object(
        "The catalog: the items continuity programs ship (rules/catalog.yaml).",
        {
            "items": _list(
                "The items.",
                [{"sku": "BOOK-001", "name": "A book", "price": "14.99", "currency": "USD"}],
                item,
                0,
                limits.MAX_CATALOG_ITEMS,
            )
        },
        ("items",),
    )
    return _root("Continuity catalog", body)


def schedules_schema() -> Schema:
    line = _object(
        "One specified installment.",
        {
            "percent": _key(
                "Share of the total, above 0 and at most 100 with up to 2 decimals; the "
                'percents of a schedule add up to exactly 100. Quoted ("30") or a whole number.',
                "30",
                {
                    "anyOf": [
                        {"type": "string", "pattern": _PERCENT, "not": {"pattern": _ZERO}},
                        {"type": "integer", "minimum": 1, "maximum": 100},
                    ]
                },
            ),
            "offset_days": _days(
                "Days after the order: the first line is 0, and they never decrease.", 30
            ),
        },
        ("percent", "offset_days"),
    )
    schedule = _object(
        "A named split of an up-front total: installments + every, or lines.",
        {
            "id": _id("Unique; programs refer to it", "three-monthly"),
            "name": _text("Shown to agents and customers.", "3 monthly payments"),
            "installments": _whole(
                "Number of equal installments (with every); the remainder cent goes to the last.",
                3,
                limits.MIN_INSTALLMENTS,
                limits.MAX_INSTALLMENTS,
            ),
            "every": _every(
                "Time between equal installments (with installments); the first is due at "
                "placement.",
                "1 month",
            ),
            "lines": _list(
                "Specified installments (instead of installments + every).",
                [{"percent": "30", "offset_days": 0}, {"percent": "70", "offset_days": 30}],
                line,
                2,
                limits.MAX_INSTALLMENTS,
            ),
            "ship_after_installment": _whole(
                "Shipping starts once this installment is paid.",
                1,
                1,
                limits.MAX_INSTALLMENTS,
            ),
        },
        ("id", "name"),
    )
    schedule["oneOf"] = [
        {"required": ["installments", "every"], "not": {"required": ["lines"]}},
        {
            "required": ["lines"],
            "not": {"anyOf": [{"required": ["installments"]}, {"required": ["every"]}]},
        },
    ]
    body = _object(
        "Named payment schedules (rules/payment-schedules.yaml).",
        {
            "schedules": _list(
                "The schedules.",
                [{"id": "monthly", "name": "3 payments", "installments": 3, "every": "1 month"}],
                schedule,
                0,
                limits.MAX_SCHEDULES,
            )
        },
        ("schedules",),
    )
    return _root("Continuity payment schedules", body)


def program_schema() -> Schema:
    gap_every = _every(
        "The gap from the previous shipment as calendar time (instead of days_from_last).",
        "1 month",
    )
    gap_days = _days(
        "The gap from the previous shipment in days, as in the reference system (instead of "
        "every).",
        30,
    )
    item = _object(
        "One item an event ships.",
        {
            "sku": _sku(
                "An active catalog item in the program's currency, not a parent product",
                "BOOK-001",
            ),
            "quantity": _whole("Per parent-line quantity.", 1, 1, limits.MAX_QUANTITY),
            "price": _money("Price override for this event (the catalog price otherwise).", "9.99"),
        },
        ("sku", "quantity"),
    )
    event = _object(
        "One step of the program: what ships, when, how often.",
        {
            "number": _whole(
                "Number all events 1..n (the number sets the shipping order) or none (file order).",
                1,
                1,
                limits.MAX_EVENTS,
            ),
            "items": _list(
                "What ships; required (non-empty) unless action is skip.",
                [{"sku": "BOOK-001", "quantity": 1}],
                item,
                0,
                limits.MAX_EVENT_ITEMS,
            ),
            "every": gap_every,
            "days_from_last": gap_days,
            "not_before": _date("The event never ships before this date.", "2026-03-01"),
            "repeat": _key(
                f"The event ships 1 + repeat times (0 to {limits.MAX_REPEAT:,}), or 'forever' "
                "until the order ends.",
                2,
                {
                    "default": 0,
                    "anyOf": [
                        {"type": "integer", "minimum": 0, "maximum": limits.MAX_REPEAT},
                        {"const": "forever"},
                    ],
                },
            ),
            "action": _key(
                "normal ships its items; skip takes its slot in time but ships and bills "
                "nothing; end ends the order after this event.",
                "normal",
                {"enum": ["normal", "skip", "end"], "default": "normal"},
            ),
        },
    )
    event["not"] = {"required": ["every", "days_from_last"]}
    event["if"] = {"required": ["action"], "properties": {"action": {"const": "skip"}}}
    event["then"] = {"properties": {"items": {"maxItems": 0}}}
    event["else"] = {"required": ["items"], "properties": {"items": {"minItems": 1}}}
    cadence = _object(
        "The gap used by events that set none: every or days_from_last.",
        {"every": gap_every, "days_from_last": gap_days},
    )
    cadence["oneOf"] = [{"required": ["every"]}, {"required": ["days_from_last"]}]
    cadence["examples"] = [{"every": "1 month"}]
    billing = _object(
        "How the order is charged.",
        {
            "up_front": _flag(
                "The whole order is charged at placement (or on a payment schedule); otherwise "
                "each shipment is charged.",
                True,
                default=False,
            ),
            "payment_schedule": _id(
                "The default payment schedule; needs up_front: true", "three-monthly"
            ),
            "allowed_schedules": _list(
                "Payment schedules an agent may choose; need up_front: true.",
                ["three-monthly", "deposit-balance"],
                {"type": "string", "pattern": RULE_ID_PATTERN},
                0,
                limits.MAX_ALLOWED_SCHEDULES,
            ),
            "prompt_for_payment_schedule": _flag(
                "The agent chooses a schedule; needs at least one schedule.", False, default=False
            ),
        },
    )
    billing["examples"] = [{"up_front": False}]
    billing["if"] = {"not": {"required": ["up_front"], "properties": {"up_front": {"const": True}}}}
    billing["then"] = {
        "not": {"anyOf": [{"required": ["payment_schedule"]}, {"required": ["allowed_schedules"]}]}
    }
    parent = _object(
        "The SKU that, on a sales order, enrols the customer; it never ships.",
        {
            "sku": _sku("Unique across programs and not a catalog SKU", "BOOKCLUB"),
            "name": _text("Shown on the order.", "Book of the Month Club"),
            "price": _money('Shown on the order ("0.00" when each shipment is charged).', "0.00"),
            "events": _whole(
                "How many events the parent product covers; 0 = all.", 0, 0, limits.MAX_EVENTS
            ),
        },
        ("sku", "name", "price"),
    )
    parent["examples"] = [{"sku": "BOOKCLUB", "name": "Book of the Month Club", "price": "0.00"}]
    body = _object(
        "One continuity program (rules/programs/<id>.yaml).",
        {
            "id": _id("The program id, equal to the file name without .yaml", "book-club"),
            "name": _text("Shown to agents and customers.", "Book of the Month Club"),
            "active": _flag("Inactive programs take no new orders.", True),
            "currency": _CURRENCY,
            "parent_product": parent,
            "order_start": _key(
                "New customers start at event 1 (first_event), or at the event the program "
                "calendar is in today (current_event, with current_event_anchor).",
                "first_event",
                {"enum": ["first_event", "current_event"], "default": "first_event"},
            ),
            "current_event_anchor": _date(
                "The day event 1 of the program calendar starts; required with, and only "
                "with, order_start: current_event.",
                "2026-01-01",
            ),
            "days_after_order": _days("Start date = order date (or prompted date) + this.", 0),
            "prompt_for_start_date": _flag(
                "The agent is asked for a start date.", False, default=False
            ),
            "consolidate_past_orders": _flag(
                "Events whose date has passed ship as one child order instead of one each.",
                False,
                default=False,
            ),
            "billing": billing,
            "cadence": cadence,
            "events": _list(
                "The shipments, in order.",
                [{"items": [{"sku": "BOOK-001", "quantity": 1}]}],
                event,
                1,
                limits.MAX_EVENTS,
            ),
        },
        ("id", "name", "active", "currency", "parent_product", "cadence", "events"),
    )
    body["if"] = {
        "required": ["order_start"],
        "properties": {"order_start": {"const": "current_event"}},
    }
    body["then"] = {"required": ["current_event_anchor"]}
    body["else"] = {"not": {"required": ["current_event_anchor"]}}
    return _root("Continuity program", body)


def schema_for(kind: SchemaKind) -> Schema:
    if kind == "catalog":
        return catalog_schema()
    if kind == "payment-schedules":
        return schedules_schema()
    return program_schema()


def render(kind: SchemaKind) -> str:
    """The schema as the committed file holds it (2-space JSON, a final newline)."""
    return json.dumps(schema_for(kind), indent=2, ensure_ascii=False) + "\n"


def render_all(kind: SchemaKind | None = None) -> str:
    """One kind's schema, or every kind's in one JSON object keyed by kind."""
    if kind is not None:
        return render(kind)
    every = {name: schema_for(name) for name in KINDS}
    return json.dumps(every, indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path, kind: SchemaKind | None = None) -> list[Path]:
    """Write ``<kind>.schema.json`` files (every kind by default) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in [kind] if kind else KINDS:
        path = directory / FILE_NAMES[name]
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


def keys_by_location(schema: Schema) -> dict[tuple[str | int, ...], tuple[str, ...]]:
    """The keys each mapping accepts, by location (list entries written ``*``)."""
    found: dict[tuple[str | int, ...], tuple[str, ...]] = {}

    def walk(node: Schema, loc: tuple[str | int, ...]) -> None:
        if "properties" in node:
            found[loc] = tuple(node["properties"])
            for name, child in node["properties"].items():
                walk(child, (*loc, name))
        if isinstance(node.get("items"), dict):
            walk(node["items"], (*loc, "*"))

    walk(schema, ())
    return found
