"""Idempotency keys at the door (docs/ACCESS.md): which mutations take one, where the key comes
from, and the response a retry gets. The rules of keys live in ``continuity/idempotency.py``.

A mutation declared with ``@idempotent(Payload)`` reads its key from its input's
``idempotencyKey`` or the request's ``Idempotency-Key`` header (both given: they must be equal),
scoped to the caller's token. It claims the key, runs, and leaves its claim on the context; after
the operation ``IdempotentResponses`` stores the payload as the client received it. A retry's
resolver runs nothing: it leaves the stored payload on the context, and the extension puts it in
the response in place of its own. A key's first response is kept, user errors included, except
``GATEWAY_UNAVAILABLE`` (it says "try again": the claim is released, and so is it on an exception,
so that the same key may be retried).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import strawberry
from starlette.requests import Request
from strawberry.extensions import SchemaExtension
from strawberry.types.base import StrawberryList, StrawberryOptional

from continuity import idempotency
from continuity.errors import ContinuityError, ErrorCode, InvalidInput
from schema.common import UserError, user_errors
from schema.context import Info

log = logging.getLogger("continuity.idempotency")

HEADER = "Idempotency-Key"
FIELD = "idempotencyKey"
#: User errors that say "try again": never stored as a key's response.
RETRYABLE = frozenset({ErrorCode.GATEWAY_UNAVAILABLE})
DESCRIPTION = (
    "Makes retries safe: a retry with the same key and the same input answers with the first "
    "response and changes nothing (kept 24 hours); other input gets IDEMPOTENCY_KEY_REUSED. "
    "1 to 255 visible ASCII characters, unique per request (a UUID); or send the "
    "Idempotency-Key header (docs/ACCESS.md)."
)

P = TypeVar("P")
I = TypeVar("I")  # noqa: E741


def key_field() -> Any:
    """The optional ``idempotencyKey`` field of a keyed mutation's input."""
    return strawberry.field(default=None, description=DESCRIPTION)


def failed(payload: type[P], errors: list[UserError]) -> P:
    """A payload with ``errors`` and nothing else: null objects, empty lists, false flags."""
    values: dict[str, Any] = {}
    for item in payload.__strawberry_definition__.fields:  # type: ignore[attr-defined]
        if item.python_name == "user_errors":
            values[item.python_name] = errors
        elif isinstance(item.type, StrawberryList):
            values[item.python_name] = []
        elif isinstance(item.type, StrawberryOptional):
            values[item.python_name] = None
        elif item.type is bool:
            values[item.python_name] = False
        else:
            raise TypeError(f"{payload.__name__}.{item.python_name} has no empty value")
    return payload(**values)


def _plain_input(data: Any) -> dict[str, Any]:
    """The input as the fingerprint reads it: every field but the key itself."""
    fields = dataclasses.asdict(data)
    fields.pop("idempotency_key", None)
    return fields


def _key_of(info: Info, data: Any) -> tuple[str | None, list[str] | None]:
    """(the key, the input path to name in errors: ``None`` for the header)."""
    given: str | None = getattr(data, "idempotency_key", None)
    request = info.context.request
    header = request.headers.get(HEADER) if isinstance(request, Request) else None
    if given is not None:
        field = ["input", FIELD]
        if header is not None and header != given:
            raise InvalidInput(
                f"differs from the {HEADER} header: send one, or the same", field=field
            )
        return idempotency.check_key(given, field), field
    if header is not None:
        return idempotency.check_key(header, None), None
    return None, None


def idempotent(
    payload: type[P],
) -> Callable[[Callable[[Info, I], Awaitable[P]]], Callable[[Info, I], Awaitable[P]]]:
    """Give a mutation resolver ``(info, input)`` idempotency keys; ``payload`` is its type."""

    def wrap(resolver: Callable[[Info, I], Awaitable[P]]) -> Callable[[Info, I], Awaitable[P]]:
        @functools.wraps(resolver)
        async def keyed(info: Info, input: I) -> P:
            caller = info.context.caller
            try:
                key, field = _key_of(info, input)
            except ContinuityError as error:
                return failed(payload, user_errors(error))
            if key is None or caller is None:  # no key: it runs every time
                return await resolver(info, input)
            operation = info.field_name
            try:
                if key in info.context.idempotency_keys:
                    raise idempotency.KeyReused(
                        "this idempotency key names another mutation of this request: give "
                        "each its own (in its input)",
                        field=field,
                    )
                info.context.idempotency_keys.add(key)
                outcome = await idempotency.claim(
                    f"token:{caller.token_key}",
                    key,
                    operation,
                    idempotency.fingerprint(operation, _plain_input(input)),
                    field=field,
                )
            except ContinuityError as error:
                return failed(payload, user_errors(error))
            responses = info.context.idempotency
            if isinstance(outcome, idempotency.Replay):
                responses[str(info.path.key)] = outcome
                return failed(payload, [])  # replaced by the stored response
            try:
                result = await resolver(info, input)
            except idempotency.OutcomeUnknown:
                raise  # it may have been done: the key stays claimed, never run twice
            except Exception:
                await idempotency.release(outcome)
                raise
            errors: list[UserError] = getattr(result, "user_errors", [])
            if any(error.code in RETRYABLE for error in errors):
                await idempotency.release(outcome)
            else:
                responses[str(info.path.key)] = outcome
            return result

        return keyed

    return wrap


class IdempotentResponses(SchemaExtension):
    """After the operation: store the responses of the keys claimed, put in the stored ones."""

    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        responses: dict[str, idempotency.Claim | idempotency.Replay] = getattr(
            context, "idempotency", {}
        )
        if not responses:
            return
        result = self.execution_context.result
        data = getattr(result, "data", None)
        for response_key, outcome in responses.items():
            if isinstance(outcome, idempotency.Replay):
                if data is not None:
                    data[response_key] = outcome.response
                continue
            try:
                await idempotency.complete(outcome, (data or {}).get(response_key))
            except Exception:
                # The mutation is done: its key stays claimed (retries wait, then get
                # IDEMPOTENCY_KEY_IN_PROGRESS) rather than run it twice.
                log.exception("could not store the response of an idempotency key")
