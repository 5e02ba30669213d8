"""Real local servers for the delivery tests: an HTTP webhook receiver and an SMTP server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """Records every POST; answers ``fail_status`` to the first ``fail_first`` of them."""

    fail_first: int = 0
    fail_status: int = 500
    #: Seconds each answer takes (a slow integrator keeps deliveries in flight longer).
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            self.requests.append(Received(path, headers, body))
            return self.fail_status if len(self.requests) <= self.fail_first else 200


@contextmanager
def webhook_receiver(fail_first: int = 0, delay: float = 0.0) -> Iterator[WebhookReceiver]:
    """A threaded HTTP server on 127.0.0.1 and a free port, for the block."""
    receiver = WebhookReceiver(fail_first=fail_first, delay=delay)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            time.sleep(receiver.delay)
            status = receiver.handle(
                self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads ``receiver.requests``."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received: (envelope recipients, parsed message) per mail."""

    host: str = "127.0.0.1"
    port: int = 0
    mails: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(  # noqa: N802 - the aiosmtpd handler protocol
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        self.mails.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """An aiosmtpd server on 127.0.0.1 and a free port, for the block."""
    mailbox = Mailbox(port=free_port())
    controller = Controller(mailbox, hostname=mailbox.host, port=mailbox.port)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()
