"""Global ids (Relay): base64 of ``<GraphQL type>:<primary key>`` (``strawberry.relay``), the
one spelling of every id a client sees, and their reading back into primary keys.

A malformed id, or an id of another type than the argument wants, is the caller's mistake
(``INVALID_INPUT`` on its field); a well-formed id that names nothing, or something the caller
may not see, is ``NOT_FOUND`` (mutations) or null (queries), the same answer for both.
"""

from __future__ import annotations

from collections.abc import Sequence

from strawberry import relay

from continuity.errors import InvalidInput, NotFound

#: Primary keys are 32-bit columns: a larger number names nothing (and PostgreSQL would refuse
#: to compare it).
MAX_PK = 2**31 - 1


def encode_id(type_name: str, pk: int) -> str:
    return relay.to_base64(type_name, pk)


def parse_global_id(value: str) -> tuple[str, int] | None:
    """(type name, primary key) of a global id, or None when it is not one of ours."""
    try:
        type_name, raw = relay.from_base64(str(value))
    except (ValueError, TypeError):
        return None
    if not type_name or not raw.isdigit() or len(raw) > 12:
        return None
    if encode_id(type_name, int(raw)) != value:  # one spelling per id (no padding games)
        return None
    return type_name, int(raw)


def decode_id(value: str, type_names: str | Sequence[str], field: Sequence[str]) -> int:
    """The primary key an input's global id names; ``InvalidInput`` when it is not a global
    id of (one of) ``type_names``, ``NotFound`` when it cannot name a row."""
    wanted = (type_names,) if isinstance(type_names, str) else tuple(type_names)
    parsed = parse_global_id(value)
    if parsed is None:
        raise InvalidInput(f"not a global id of a {' or '.join(wanted)}", field=list(field))
    type_name, pk = parsed
    if type_name not in wanted:
        raise InvalidInput(
            f"a {type_name} id where a {' or '.join(wanted)} id is expected", field=list(field)
        )
    if not 0 < pk <= MAX_PK:
        raise NotFound(f"no such {type_name}", field=list(field))
    return pk


def decode_optional(
    value: str | None, type_names: str | Sequence[str], field: Sequence[str]
) -> int | None:
    return None if value is None else decode_id(value, type_names, field)
