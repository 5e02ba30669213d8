"""``GET /health`` (liveness) and ``GET /ready`` (readiness), for a process manager or an
orchestrator.

- ``/health`` answers 200 as long as the process serves HTTP: restart it when it does not.
- ``/ready`` answers 200 when this replica can do its work, else 503 (send it no traffic), with
  each check: the database answers (within ``CHECK_TIMEOUT``), every migration of this release
  is applied, the rules are loaded (the start-up load succeeded, or a previous good version is
  live). It also says which payment gateway is in use and whether this replica leads the
  scheduler, so an operator sees the replicas at a glance.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from continuity.db import pending_migrations
from continuity.models import Program

#: How long a readiness check may wait for the database.
CHECK_TIMEOUT = 3.0


@dataclass(frozen=True)
class RulesState:
    """What the start-up load of the rules gave."""

    loaded: bool
    errors: int
    directory: str


async def health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _check(probe: Any) -> dict[str, Any]:
    try:
        return dict(await asyncio.wait_for(probe(), CHECK_TIMEOUT))
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT:g} s"}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


async def ready(request: Request) -> JSONResponse:
    state = request.app.state
    rules: RulesState | None = getattr(state, "rules", None)

    async def database() -> dict[str, Any]:
        await Program.all().limit(1).values_list("id")
        return {"ok": True}

    async def migrations() -> dict[str, Any]:
        pending = await pending_migrations()
        return {"ok": not pending, "pending": pending}

    async def rule_set() -> dict[str, Any]:
        programs = await Program.all().count()
        loaded = rules is not None and rules.loaded
        found: dict[str, Any] = {"ok": loaded or programs > 0, "programs": programs}
        if rules is not None and not rules.loaded:
            found["error"] = f"{rules.errors} error(s) in {rules.directory}: " + (
                "the previous programs stay live" if programs else "no programs loaded"
            )
        return found

    checks = {
        "database": await _check(database),
        "migrations": await _check(migrations),
        "rules": await _check(rule_set),
    }
    background = getattr(state, "background", None)
    body = {
        "ready": all(check["ok"] for check in checks.values()),
        "checks": checks,
        "gateway": getattr(state, "gateway_name", None),
        "scheduler": {
            "enabled": bool(background is not None and background.chain_enabled),
            "leader": bool(background is not None and background.is_leader),
        },
    }
    return JSONResponse(body, status_code=200 if body["ready"] else 503)
