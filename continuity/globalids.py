"""Global ids as the API spells them (Relay: base64 of ``<GraphQL type>:<primary key>``), for
what leaves the service outside GraphQL: webhook payloads and the CLI's pick lists carry the
id a client passes back to the API as it is. ``schema.ids`` reads them back; a test checks
that both spell an id the same way."""

from __future__ import annotations

import base64


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def parse(value: str, type_name: str) -> int | None:
    """The primary key of a global id of ``type_name``; None for anything else."""
    try:
        text = base64.b64decode(value.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    name, _, raw = text.partition(":")
    if name != type_name or not raw.isdigit() or len(raw) > 10:
        return None
    pk = int(raw)
    return pk if 0 < pk < 2**31 and global_id(type_name, pk) == value.strip() else None
