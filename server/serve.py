"""``continuity serve``: uvicorn running the app, with our logging and a graceful SIGTERM.

On SIGTERM (or Ctrl-C) every job run of the process is asked to stop at once, before uvicorn
even stops accepting connections: runs finish the batch in hand and record themselves
``INTERRUPTED``. Uvicorn then waits up to ``shutdown_grace_seconds`` for open requests, and the
app's shutdown gives the background work the same time (``scheduler.Background.stop``).
"""

from __future__ import annotations

from types import FrameType

import uvicorn

from config.settings import Settings
from continuity.jobs.runs import request_stop
from continuity.payments.gateway import PaymentGateway
from server.app import create_app
from server.logs import configure_logging


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        request_stop()
        super().handle_exit(sig, frame)


def serve(
    settings: Settings, host: str, port: int, *, gateway: PaymentGateway | None = None
) -> None:
    service = settings.service
    level = service.log_level or "INFO"
    configure_logging(level, service.log_format)
    config = uvicorn.Config(
        create_app(settings, gateway=gateway),
        host=host,
        port=port,
        log_config=None,  # uvicorn's loggers go through ours (request ids, JSON)
        log_level=level.lower(),
        timeout_graceful_shutdown=service.shutdown_grace_seconds,
    )
    _Server(config).run()
