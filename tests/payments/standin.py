"""A local stand-in for the Stripe endpoints Continuity uses, on loopback, for tests.

The real ``stripe`` SDK talks to it through ``CONTINUITY_STRIPE_API_BASE`` (``StripeGateway``'s
``api_base``). It answers as Stripe does for the shapes we rely on (form-encoded requests,
``Idempotency-Key`` replay, HTTP 402 card errors with the PaymentIntent embedded, manual
capture, refunds bounded by what was received) and records every request, so tests assert what
Stripe would have received. Cards behave like Stripe's test cards (``pm_card_visa``,
``pm_card_chargeDeclined``, ``pm_card_chargeDeclinedInsufficientFunds``,
``pm_card_authenticationRequired``); a copy attached to a customer behaves like its original.

Faults, for the outcomes the gateway cannot know: ``fail_next(n, status)`` answers the next
``n`` requests with that status before doing anything (a load balancer's 503);
``lose_next(n)`` lets the next ``n`` money requests do their work (or replay it, for a key seen
before), then drops the connection without answering (a crash or a timeout after Stripe moved
the money).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: Stripe's test cards: behaviour, brand, last 4.
TEST_CARDS: dict[str, tuple[str, str, str]] = {
    "pm_card_visa": ("ok", "visa", "4242"),
    "pm_card_mastercard": ("ok", "mastercard", "4444"),
    "pm_card_chargeDeclined": ("generic_decline", "visa", "0002"),
    "pm_card_chargeDeclinedInsufficientFunds": ("insufficient_funds", "visa", "9995"),
    "pm_card_authenticationRequired": ("authentication_required", "visa", "3184"),
}
#: How long a manual-capture authorization holds (``capture_before``).
HOLD_SECONDS = 7 * 86400


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class StripeStandIn:
    """State of the stand-in; ``url`` once started (``running``)."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    methods: dict[str, dict[str, Any]] = field(default_factory=dict)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Idempotency-Key → (status, body) of the first answer.
    answered: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    failing: list[int] = field(default_factory=list)
    losing: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    # -- set-up and faults -------------------------------------------------------------------

    def saved_card(self, original: str = "pm_card_visa", customer: str = "cus_saved") -> str:
        """A card saved to a customer (what Stripe Elements and a SetupIntent leave behind)."""
        with self.lock:
            self.customers.setdefault(customer, {"id": customer, "object": "customer"})
            return str(self._attach(original, customer)["id"])

    def fail_next(self, count: int, status: int = 500) -> None:
        self.failing.extend([status] * count)

    def lose_next(self, count: int = 1) -> None:
        self.losing += count

    def expire(self, intent_id: str) -> None:
        """The authorization's hold lapsed: Stripe cancels the PaymentIntent."""
        self.intents[intent_id]["status"] = "canceled"

    def posts(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]

    # -- the API -----------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter:04d}"

    def _attach(self, original: str, customer: str) -> dict[str, Any]:
        known = self.methods.get(original, {}).get("_card")
        behaviour, brand, last4 = known or TEST_CARDS[original]
        method: dict[str, Any] = {
            "id": self._id("pm"),
            "object": "payment_method",
            "type": "card",
            "customer": customer,
            "card": {"brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034},
            "_card": (behaviour, brand, last4),
        }
        self.methods[method["id"]] = method
        return method

    def _behaviour(self, method: str) -> str:
        if method in self.methods:
            return str(self.methods[method]["_card"][0])
        return TEST_CARDS.get(method, ("ok", "", ""))[0]

    def handle(self, method: str, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if method == "GET" and parts[:2] == ["v1", "payment_methods"] and len(parts) == 3:
            found = self.methods.get(parts[2])
            if found is None:
                return _error(404, "invalid_request_error", "resource_missing", parts[2])
            return 200, _public(found)
        if method == "GET" and parts[:2] == ["v1", "payment_intents"] and len(parts) == 3:
            intent = self.intents.get(parts[2])
            if intent is None:
                return _error(404, "invalid_request_error", "resource_missing")
            return 200, intent
        if method == "POST" and parts == ["v1", "customers"]:
            customer: dict[str, Any] = {
                "id": self._id("cus"),
                "object": "customer",
                "name": form.get("name"),
            }
            self.customers[customer["id"]] = customer
            return 200, customer
        if method == "POST" and parts[:2] == ["v1", "payment_methods"] and parts[3:] == ["attach"]:
            return 200, _public(self._attach(parts[2], form["customer"]))
        if method == "POST" and parts == ["v1", "payment_intents"]:
            return self._create_intent(form)
        if method == "POST" and parts[:2] == ["v1", "payment_intents"] and parts[3:] == ["capture"]:
            return self._capture(parts[2], form)
        if method == "POST" and parts == ["v1", "refunds"]:
            return self._refund(form)
        return _error(404, "invalid_request_error", "resource_missing", path)

    def _create_intent(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        manual = form.get("capture_method") == "manual"
        behaviour = self._behaviour(form["payment_method"])
        now = int(time.time())
        intent: dict[str, Any] = {
            "id": self._id("pi"),
            "object": "payment_intent",
            "amount": int(form["amount"]),
            "amount_received": 0,
            "currency": form["currency"],
            "customer": form.get("customer"),
            "payment_method": form["payment_method"],
            "capture_method": form.get("capture_method", "automatic"),
            "created": now,
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
            "last_payment_error": None,
            "latest_charge": None,
        }
        self.intents[intent["id"]] = intent
        off_session = form.get("off_session") == "true"
        if behaviour in ("generic_decline", "insufficient_funds") or (
            behaviour == "authentication_required" and off_session
        ):
            code = "authentication_required" if behaviour.startswith("auth") else "card_declined"
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {"code": code, "decline_code": behaviour}
            return 402, {
                "error": {
                    "type": "card_error",
                    "code": code,
                    "decline_code": behaviour,
                    "message": "Your card was declined.",
                    "payment_intent": intent,
                }
            }
        if behaviour == "authentication_required":
            intent["status"] = "requires_action"
            return 200, intent
        charge = {
            "id": self._id("ch"),
            "object": "charge",
            "payment_intent": intent["id"],
            "amount_refunded": 0,
            "payment_method_details": {
                "type": "card",
                "card": {"capture_before": now + HOLD_SECONDS if manual else None},
            },
        }
        intent["latest_charge"] = charge if "expand[0]" in form else charge["id"]
        intent["status"] = "requires_capture" if manual else "succeeded"
        intent["amount_received"] = 0 if manual else intent["amount"]
        return 200, intent

    def _capture(self, intent_id: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(intent_id)
        if intent is None or intent["status"] != "requires_capture":
            return _error(400, "invalid_request_error", "payment_intent_unexpected_state")
        amount = int(form.get("amount_to_capture", intent["amount"]))
        if amount > intent["amount"]:
            return _error(400, "invalid_request_error", "amount_too_large")
        intent["status"], intent["amount_received"] = "succeeded", amount
        return 200, intent

    def _refund(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        intent = self.intents.get(form.get("payment_intent", ""))
        if intent is None:
            return _error(404, "invalid_request_error", "resource_missing")
        amount = int(form.get("amount", intent["amount_received"]))
        done = sum(
            r["amount"] for r in self.refunds.values() if r["payment_intent"] == intent["id"]
        )
        if done + amount > intent["amount_received"]:
            return _error(400, "invalid_request_error", "charge_already_refunded")
        refund = {
            "id": self._id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "status": "succeeded",
            "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")},
        }
        self.refunds[refund["id"]] = refund
        return 200, refund


def _public(method: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in method.items() if not k.startswith("_")}


def _error(
    status: int, kind: str, code: str, param: str | None = None
) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"type": kind, "code": code, "param": param, "message": code}}


def _handler(state: StripeStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            target = urlsplit(self.path)
            form = dict(parse_qsl(body or target.query, keep_blank_values=True))
            headers = {k.lower(): v for k, v in self.headers.items()}
            key = headers.get("idempotency-key")
            with state.lock:
                state.requests.append(Recorded(method, target.path, headers, form))
                lose = False
                if state.failing:
                    status, answer = (
                        state.failing.pop(0),
                        {"error": {"type": "api_error", "message": "stand-in outage"}},
                    )
                elif key is not None and key in state.answered:
                    status, answer = state.answered[key]
                else:
                    status, answer = state.handle(method, target.path, form)
                    if key is not None:
                        state.answered[key] = (status, answer)
                if method == "POST" and state.losing:
                    state.losing -= 1
                    lose = True
            if lose:  # the work is done, the answer never arrives
                self.close_connection = True
                return
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{len(state.requests)}")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


@contextmanager
def running() -> Iterator[StripeStandIn]:
    """A stand-in listening on 127.0.0.1 (a free port) until the block ends."""
    state = StripeStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
