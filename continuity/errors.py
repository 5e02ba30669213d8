"""The domain's errors, each with a stable code.

    ContinuityError            base; ``code`` is an ``ErrorCode``, ``field`` the input path
    ├── NotFound               the named object does not exist (or is not visible to the caller)
    ├── InvalidInput           a value is malformed, out of range or refused (see its code)
    ├── Conflict               the object's state does not allow the change
    └── RulesInvalid           a rule reload found errors; nothing was applied

The same codes form the GraphQL ``ErrorCode`` enum: clients switch on them, never on messages.
Raising one inside a transaction rolls the whole change back.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_FOUND = "NOT_FOUND"
    INVALID_INPUT = "INVALID_INPUT"
    #: A text is longer than its field takes (``continuity.limits``).
    VALUE_TOO_LONG = "VALUE_TOO_LONG"
    DUPLICATE = "DUPLICATE"
    RULES_INVALID = "RULES_INVALID"
    CARD_NUMBER_REFUSED = "CARD_NUMBER_REFUSED"
    PAYMENT_METHOD_EXPIRED = "PAYMENT_METHOD_EXPIRED"
    PAYMENT_METHOD_INACTIVE = "PAYMENT_METHOD_INACTIVE"
    UNKNOWN_SKU = "UNKNOWN_SKU"
    PRODUCT_INACTIVE = "PRODUCT_INACTIVE"
    PAYMENT_SCHEDULE_NOT_ALLOWED = "PAYMENT_SCHEDULE_NOT_ALLOWED"
    START_DATE_NOT_ALLOWED = "START_DATE_NOT_ALLOWED"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INVALID_STATE = "INVALID_STATE"
    #: The payment gateway did not answer; nothing changed, the request may be retried.
    GATEWAY_UNAVAILABLE = "GATEWAY_UNAVAILABLE"
    #: The idempotency key was used before with other input (``continuity.idempotency``).
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    #: The first request with the idempotency key is still running; retry with the same key.
    IDEMPOTENCY_KEY_IN_PROGRESS = "IDEMPOTENCY_KEY_IN_PROGRESS"
    #: Fulfilment: the child order's payment has not gone through; it may not ship yet.
    NOT_PAID = "NOT_PAID"
    #: The order (or child order) was cancelled.
    CANCELLED = "CANCELLED"
    #: Fulfilment: invoicing a child order that has not shipped.
    NOT_SHIPPED = "NOT_SHIPPED"
    #: Fulfilment: shipped already, with another carrier, tracking number or time.
    ALREADY_SHIPPED = "ALREADY_SHIPPED"
    #: Fulfilment: invoiced already, under another invoice number.
    ALREADY_INVOICED = "ALREADY_INVOICED"
    #: A sales order's date is in the future, too far back, or back-dated by a customer.
    ORDER_DATE_NOT_ALLOWED = "ORDER_DATE_NOT_ALLOWED"


class ContinuityError(Exception):
    code: ErrorCode = ErrorCode.INVALID_INPUT

    def __init__(
        self,
        message: str,
        *,
        field: Sequence[str] | None = None,
        code: ErrorCode | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field: tuple[str, ...] | None = tuple(field) if field is not None else None
        if code is not None:
            self.code = code


class NotFound(ContinuityError):
    code = ErrorCode.NOT_FOUND


class InvalidInput(ContinuityError):
    code = ErrorCode.INVALID_INPUT


class Conflict(ContinuityError):
    code = ErrorCode.INVALID_STATE


class RulesInvalid(ContinuityError):
    code = ErrorCode.RULES_INVALID
