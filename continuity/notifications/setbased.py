"""Outbox rows written by the database: one ``INSERT … SELECT`` for thousands of events.

The batch jobs announce thousands of events a run (``child_order_created`` per child order,
``upcoming_shipment`` per occurrence a few days ahead). Building their payloads in Python
(rows read, dicts, ``json.dumps``, a bound parameter per field) cost more than the work they
announce, so those two are built in SQL from the rows that cause them. Their rows must be the
rows ``events.emit_many`` would write: the same recipients (``policy``), the same keys
(``events.dedupe_key``, a long recipient hashed), amounts formatted as ``events.money`` does,
and a key already taken skipped. This module is the part both statements share: the
recipients, the key, the insert; each caller writes the ``events`` its rows come from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from continuity.money import CURRENCY_MINOR_UNITS
from continuity.notifications.events import MAX_KEY, EventType
from continuity.notifications.policy import NotificationPolicy

#: The dialects' base64 (of UTF-8 text) and hex SHA-256: SQLite's are functions our client
#: registers on every connection (``continuity.sqlite``).
FUNCTIONS = {
    "sqlite": {"b64": "continuity_b64({})", "sha256": "continuity_sha256({})"},
    "postgres": {
        "b64": "encode(convert_to({}, 'UTF8'), 'base64')",
        "sha256": "encode(sha256(convert_to({}, 'UTF8')), 'hex')",
    },
}


def money_sql(minor: str, currency: str, postgres: bool) -> str:
    """An amount as ``money`` writes it (``{"amount": "19.00", "currency": "USD"}``: the
    decimal string of ``continuity.money.from_minor``), in SQL; ``minor`` and ``currency`` are
    SQL expressions. An unknown currency gives a null amount (currencies are checked when an
    order is placed)."""
    by_units: dict[int, list[str]] = defaultdict(list)
    for code, units in sorted(CURRENCY_MINOR_UNITS.items()):
        by_units[units].append(f"'{code}'")
    cases = []
    # the largest group first (two decimals: USD, EUR, GBP…): SQLite tries the branches in order
    for units, codes in sorted(by_units.items(), key=lambda item: (-len(item[1]), item[0])):
        if units == 0:
            text = f"CAST({minor} AS TEXT)"
        elif postgres:
            scale = 10**units
            # the sign, the integer part, then the remainder padded to ``units`` digits (the
            # leading 1 of ``scale + remainder`` dropped), as Decimal writes it
            text = (
                f"CASE WHEN {minor} < 0 THEN '-' ELSE '' END"
                f" || CAST(ABS({minor}) / {scale} AS TEXT)"
                f" || '.' || SUBSTR(CAST({scale} + ABS({minor}) % {scale} AS TEXT), 2)"
            )
        else:
            # the same in one call: a twentieth of the child-order outbox statement
            scale = 10**units
            text = (
                f"printf('%s%d.%0{units}d', CASE WHEN {minor} < 0 THEN '-' ELSE '' END,"
                f" ABS({minor}) / {scale}, ABS({minor}) % {scale})"
            )
        cases.append(f"WHEN {currency} IN ({', '.join(codes)}) THEN {text}")
    amount = f"CASE {' '.join(cases)} END"
    build = "jsonb_build_object" if postgres else "json_object"
    return f"{build}('amount', {amount}, 'currency', {currency})"


def json_bool(condition: str, postgres: bool) -> str:
    """A JSON ``true``/``false`` of an SQL condition (SQLite has no boolean: ``json(…)``)."""
    if postgres:
        return f"({condition})"
    return f"CASE WHEN {condition} THEN json('true') ELSE json('false') END"


#: The outbox rows of the caller's ``events`` (columns ``order_id``, ``email``: the order's
#: customer's address, ``discriminator``, ``payload``, and any the ordering reads), one per
#: recipient: the customer's address when e-mail is on and they have one, each subscriber
#: (``:hook<i>``). The key is ``dedupe_key``'s, its recipient hashed past ``MAX_KEY``.
_INSERT = """
INSERT INTO notification (continuity_order_id, event_type, channel, recipient, payload,
                          dedupe_key, status, attempts, created_at)
WITH {ctes},
targets AS ({targets}),
addressed AS (
    SELECT k.*, t.n AS target, t.channel, COALESCE(t.name, k.email) AS recipient,
           CAST(:prefix AS TEXT) || CAST(k.order_id AS TEXT) || ':' || k.discriminator || ':'
           || t.channel || ':' AS head
    FROM events k JOIN targets t
      ON t.name IS NOT NULL OR (k.email IS NOT NULL AND k.email <> '')
)
SELECT order_id, CAST(:event AS TEXT), channel, recipient, payload,
       CASE WHEN LENGTH(head || recipient) <= :max_key THEN head || recipient
            ELSE SUBSTR(head || '#' || SUBSTR({sha256}, 1, 32), 1, :max_key) END,
       'pending', 0, :now
FROM addressed WHERE 1 = 1
{order_by}
ON CONFLICT (dedupe_key) DO NOTHING
{returning}
"""


@lru_cache(maxsize=32)
def insert_sql(
    ctes: str,
    *,
    postgres: bool,
    email: bool,
    webhooks: int,
    order_by: str = "",
    returning: bool = False,
) -> str:
    """The statement writing the outbox rows of ``ctes`` (which end with one named
    ``events``) for one dialect and one set of recipients. ``order_by`` (columns of
    ``events``) orders the rows, a recipient's after its event's; ``returning``: the statement
    returns the keys it wrote (``events_of`` counts their events)."""
    targets = ["SELECT 0 AS n, CAST('email' AS TEXT) AS channel, CAST(NULL AS TEXT) AS name"]
    targets = targets[: int(email)]
    targets += [
        f"SELECT {i + 1} AS n, CAST('webhook' AS TEXT) AS channel, CAST(:hook{i} AS TEXT) AS name"
        for i in range(webhooks)
    ]
    sha256 = FUNCTIONS["postgres" if postgres else "sqlite"]["sha256"].format("recipient")
    return _INSERT.format(
        ctes=ctes,
        targets=" UNION ALL ".join(targets),
        sha256=sha256,
        order_by=f"ORDER BY {order_by}, target" if order_by else "",
        returning="RETURNING dedupe_key" if returning else "",
    )


@dataclass(frozen=True)
class Recipients:
    """Who receives ``event`` under a policy, as ``emit_many`` addresses it."""

    event: EventType
    #: The customer's own address (none of these events is for the operators).
    email: bool
    #: The names of the subscribers that want the event.
    hooks: tuple[str, ...]

    @classmethod
    def of(cls, event: EventType, policy: NotificationPolicy) -> Recipients:
        hooks = tuple(s.name for s in policy.subscribers if s.wants(event))
        return cls(event, policy.emails(event), hooks)

    def __bool__(self) -> bool:
        return self.email or bool(self.hooks)

    def params(self, now: datetime) -> dict[str, Any]:
        """The parameters ``insert_sql``'s statement binds besides the caller's own."""
        return {
            "prefix": f"{self.event.value}:",
            "event": self.event.value,
            "max_key": MAX_KEY,
            "now": now,
            **{f"hook{i}": name for i, name in enumerate(self.hooks)},
        }


def events_of(keys: Iterable[str]) -> int:
    """How many events the written ``keys`` belong to (``<event>:<order>:<discriminator>:``
    starts each key; a discriminator holds no colon)."""
    return len({tuple(key.split(":", 3)[:3]) for key in keys})
