"""API tokens: create, check, revoke, list.

A token reads ``ct_<key><secret>``: ``ct_``, a 12-character public key that names the token
(``continuity token list`` shows it, ``continuity token revoke`` takes it) and a 43-character
random secret. Only the SHA-256 of the secret is stored; the token is printed once, at creation.
Checking a token looks the key up, then compares the secret's hash in constant time
(``hmac.compare_digest``), so response times reveal nothing about a stored hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from continuity.connection import connection
from continuity.enums import Role
from continuity.errors import InvalidInput, NotFound
from continuity.models import ApiToken, Customer
from continuity.rows import model_of
from continuity.sql import fetch

PREFIX = "ct_"
KEY_LENGTH = 12
SECRET_LENGTH = 43  # secrets.token_urlsafe(32)
TOKEN_LENGTH = len(PREFIX) + KEY_LENGTH + SECRET_LENGTH
#: ``last_used_at`` is written at most this often per token (not a write per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)
#: Per token key, when this process last wrote (or began writing) its ``last_used_at``. The
#: requests in flight when a token's minute ends all read the old time; without this each
#: wrote it (sixteen at once under the benchmarks' load of one token), each waiting for the
#: write lock (SQLite: behind a job's batch) or the row's lock (PostgreSQL).
_TOUCHED: dict[str, datetime] = {}
_TOUCHED_LIMIT = 10_000
MAX_EXPIRY_DAYS = 3650


@dataclass(frozen=True)
class Caller:
    """Who is calling: what the API knows of a request's token."""

    role: Role
    name: str
    token_key: str
    customer_id: int | None = None

    @property
    def actor(self) -> str:
        """How the order history names this caller, e.g. ``agent:alice``."""
        return f"{self.role.value}:{self.name}"


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once
    row: ApiToken


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    if len(token) != TOKEN_LENGTH or not token.startswith(PREFIX):
        return None
    rest = token[len(PREFIX) :]
    return rest[:KEY_LENGTH], rest[KEY_LENGTH:]


async def create_token(
    role: Role,
    *,
    name: str,
    customer_account: str | None = None,
    expires_days: int | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """A new token; a ``customer`` token needs the account it is bound to, no other may have one."""
    now = now or datetime.now(UTC)
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("a token name has 1 to 100 characters", field=["name"])
    customer_id: int | None = None
    if role is Role.CUSTOMER:
        if not customer_account:
            raise InvalidInput("a customer token names its customer account", field=["customer"])
        customer = await Customer.get_or_none(account_number=customer_account)
        if customer is None:
            raise NotFound(f"no customer {customer_account!r}", field=["customer"])
        customer_id = customer.id
    elif customer_account:
        raise InvalidInput("only a customer token is bound to a customer", field=["customer"])
    if expires_days is not None and not 1 <= expires_days <= MAX_EXPIRY_DAYS:
        raise InvalidInput(f"expires in 1 to {MAX_EXPIRY_DAYS} days", field=["expires"])
    key = secrets.token_hex(KEY_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    assert len(secret) == SECRET_LENGTH
    row = await ApiToken.create(
        key=key,
        name=name,
        role=role,
        customer_id=customer_id,
        secret_hash=_hash(secret),
        expires_at=now + timedelta(days=expires_days) if expires_days else None,
    )
    return IssuedToken(token=f"{PREFIX}{key}{secret}", row=row)


_TOKEN_BY_KEY = 'SELECT * FROM "api_token" WHERE "key" = :key'


async def authenticate(token: str, *, now: datetime | None = None) -> Caller | None:
    """The caller a token stands for, or None: unknown, malformed, revoked or expired alike."""
    parts = _split(token)
    if parts is None:
        return None
    key, secret = parts
    # Every request asks: one compiled statement, not an ORM query built each time.
    found = await fetch(connection(), _TOKEN_BY_KEY, key=key)
    row = model_of(ApiToken, found[0]) if found else None
    if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
        return None
    now = now or datetime.now(UTC)
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return None
    if (
        row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION
    ) and _first_to_touch(row.key, now):
        await ApiToken.filter(id=row.id).update(last_used_at=now)
    return Caller(role=row.role, name=row.name, token_key=row.key, customer_id=row.customer_id)


def _first_to_touch(key: str, now: datetime) -> bool:
    """Whether this request writes the token's ``last_used_at``: no other request of this
    process has begun to within the resolution."""
    last = _TOUCHED.get(key)
    if last is not None and abs(now - last) < LAST_USED_RESOLUTION:
        return False
    if len(_TOUCHED) >= _TOUCHED_LIMIT:
        _TOUCHED.clear()  # a few tokens write once more: bookkeeping, not a rule
    _TOUCHED[key] = now
    return True


async def token_is_live(key: str, *, now: datetime | None = None) -> bool:
    """Whether the token named ``key`` still works: not revoked, not expired (long-lived
    connections ask again and again; ``authenticate`` answered only at their start)."""
    row = await ApiToken.get_or_none(key=key).only("id", "revoked_at", "expires_at")
    now = now or datetime.now(UTC)
    return (
        row is not None
        and row.revoked_at is None
        and (row.expires_at is None or row.expires_at > now)
    )


async def revoke_token(key: str, *, now: datetime | None = None) -> ApiToken:
    """Revoke a token by its public key; revoking twice keeps the first time."""
    # Every request asks: one compiled statement, not an ORM query built each time.
    found = await fetch(connection(), _TOKEN_BY_KEY, key=key)
    row = model_of(ApiToken, found[0]) if found else None
    if row is None:
        raise NotFound(f"no token {key!r}", field=["token"])
    if row.revoked_at is None:
        row.revoked_at = now or datetime.now(UTC)
        await row.save(update_fields=["revoked_at"])
    return row


async def list_tokens() -> list[ApiToken]:
    return await ApiToken.all().order_by("id").prefetch_related("customer")
