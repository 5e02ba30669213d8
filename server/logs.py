"""Log lines an operator can search: ``CONTINUITY_LOG_LEVEL`` and ``CONTINUITY_LOG_FORMAT``.

Every line written while a request or a job run is in progress carries its id: the request id
(``request_id``, set by ``server.request_id``; the caller's ``X-Request-Id`` when it sent a valid
one) and the job run (``run_id`` and ``job``, from ``continuity.jobs.runs.current_run``). Both
are context variables, so the id follows the request or run through every ``await``, whichever
logger writes the line (ours, Tortoise's, uvicorn's access log).

``text`` (the default) is for people::

    2027-01-31 02:00:00,125 INFO continuity.jobs [run 42 create-child-orders]: run 42: …

``json`` is one object per line for a log pipeline::

    {"time": "2027-01-31T07:00:00.125Z", "level": "INFO", "logger": "continuity.jobs",
     "message": "run 42: …", "run_id": 42, "job": "create-child-orders"}
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from continuity.jobs.runs import current_run

#: The id of the HTTP request or websocket being served (``server.request_id`` sets it).
request_id_var: ContextVar[str | None] = ContextVar("continuity_request_id", default=None)


class ContextFilter(logging.Filter):
    """Adds ``request_id``, ``run_id`` and ``job`` to every record (``None`` outside)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        recorder = current_run.get()
        record.run_id = recorder.run.id if recorder is not None else None
        record.job = recorder.run.job if recorder is not None else None
        return True


def _context(record: logging.LogRecord) -> dict[str, Any]:
    found = {
        "request_id": getattr(record, "request_id", None),
        "run_id": getattr(record, "run_id", None),
        "job": getattr(record, "job", None),
    }
    return {key: value for key, value in found.items() if value is not None}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        context = _context(record)
        parts = []
        if "request_id" in context:
            parts.append(f"request {context['request_id']}")
        if "run_id" in context:
            parts.append(f"run {context['run_id']} {context.get('job', '')}".rstrip())
        record.context = f" [{', '.join(parts)}]" if parts else ""
        return super().format(record)


class _ContinuityHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so that configuring twice replaces it."""


def configure_logging(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every logger's records to ``stream`` (stderr) in ``fmt``, from ``level`` up."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _ContinuityHandler):
            root.removeHandler(handler)
    handler = _ContinuityHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
