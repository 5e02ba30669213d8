"""Webhook signatures: HMAC-SHA256 over the timestamp and the exact body bytes.

Header: ``Continuity-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
Signing the timestamp with the body lets a receiver refuse replays of an old delivery
(``verify`` allows five minutes of clock skew by default); comparing in constant time keeps
the secret from leaking through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "Continuity-Signature"
EVENT_ID_HEADER = "Continuity-Event-Id"
EVENT_TYPE_HEADER = "Continuity-Event-Type"
DEFAULT_TOLERANCE = 300


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The value of the signature header for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify(
    secret: str,
    body: bytes,
    header: str,
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` within ``tolerance`` seconds of now.

    Several ``v1`` values may be present (a secret being rotated); one match is enough.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
