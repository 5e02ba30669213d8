"""Settings of the service: ``config/continuity.yaml``, overridden by ``CONTINUITY_*`` variables.

Read once at the edge into frozen models; the rest of the code receives them as values.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config.notifications import NotificationSettings
from config.payments import PaymentSettings

CONFIG_DIR = Path(__file__).resolve().parent
DEFAULT_CONFIG_FILE = CONFIG_DIR / "continuity.yaml"
ENV_PREFIX = "CONTINUITY_"


class ConfigError(Exception):
    """The configuration file or an environment variable holds an invalid value."""


class CallCenterSettings(BaseModel):
    """The call-center parameters of SPEC §2."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repeat_threshold: int = Field(default=3, ge=1, le=1000)
    days_before_delivery: int = Field(default=5, ge=0, le=365)
    on_account_bill_days: int = Field(default=7, ge=0, le=365)
    max_child_orders_per_run: int = Field(default=0, ge=0)
    authorize_child_orders: bool = True
    reauthorization_limit: int = Field(default=3, ge=0, le=100)
    retry_days: int = Field(default=2, ge=1, le=365)
    timezone: str = "UTC"
    #: Mail and phone orders arrive late: an agent may date a sales order this many days back.
    max_backdate_days: int = Field(default=60, ge=0, le=3650)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ServiceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = "sqlite://continuity.sqlite3"
    rules_dir: Path | None = None
    #: Run the daily chain (and ``job_schedules``) from this process; on PostgreSQL only the
    #: replica that leads the scheduler runs them.
    scheduler_enabled: bool = True
    daily_run_at: str = "02:00"
    #: Extra schedules for single jobs, as crontab lines in the business time zone
    #: (e.g. ``process-payments: "0 */4 * * *"``), beside the daily chain.
    job_schedules: dict[str, str] = Field(default_factory=dict)
    #: Run a missed daily chain when this process becomes the scheduler's leader (at start-up).
    catch_up_at_start: bool = True
    #: How often a replica tries to become the leader (PostgreSQL): a dead leader is replaced
    #: within this many seconds plus the time PostgreSQL takes to drop its connection.
    leader_check_seconds: int = Field(default=10, ge=1, le=50)
    #: On SIGTERM, how long the batch in hand has to finish before it is cancelled.
    shutdown_grace_seconds: int = Field(default=30, ge=0, le=3600)
    #: How often an open websocket re-checks its token: once revoked or expired, its streams
    #: end and the socket closes within this many seconds (docs/ACCESS.md).
    token_check_seconds: float = Field(default=5, gt=0, le=60)
    #: The most a query may cost before it runs (docs/API.md, "Query cost").
    max_query_cost: int = Field(default=25_000, ge=1, le=1_000_000)
    #: Unset: INFO for ``continuity serve``, WARNING for the other commands.
    log_level: str | None = None
    log_format: Literal["text", "json"] = "text"
    development: bool = False
    #: Place orders in a worker process the server supervises (server/placement_worker.py):
    #: a placement's checks and write on the machine's next core, off the API's event loop.
    placement_worker: bool = True

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        from continuity.db import backend_name

        backend = backend_name(value)  # ValueError: names the scheme and the supported ones
        rest = value.split("://", 1)[-1]
        if rest in ("", value):
            raise ValueError("must be sqlite://PATH or postgres://USER@HOST:5432/DATABASE")
        if backend == "sqlite" and rest != ":memory:":
            # SQLite cannot create the directory, and the driver waits for ever when it is
            # missing: say so now
            directory = Path(rest.split("?", 1)[0]).parent
            if not directory.is_dir():
                raise ValueError(
                    f"the directory of the SQLite file, {directory}, does not exist: create it "
                    "or point the URL elsewhere"
                )
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return value.upper()

    @field_validator("job_schedules")
    @classmethod
    def _crontabs(cls, value: dict[str, str]) -> dict[str, str]:
        from apscheduler.triggers.cron import CronTrigger

        from continuity.jobs import JOBS

        for job, line in value.items():
            if job not in JOBS:
                raise ValueError(f"unknown job {job!r}: one of {', '.join(JOBS)}")
            try:
                CronTrigger.from_crontab(line)
            except ValueError as exc:
                raise ValueError(f"{job}: not a crontab line ({exc})") from None
        return value

    @field_validator("daily_run_at")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be a time of day as HH:MM")
        return value


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    call_center: CallCenterSettings = CallCenterSettings()
    service: ServiceSettings = ServiceSettings()
    notifications: NotificationSettings = NotificationSettings()
    payments: PaymentSettings = PaymentSettings()

    @property
    def rules_dir(self) -> Path:
        from rules.loader import BUNDLED_RULES_DIR

        return self.service.rules_dir or BUNDLED_RULES_DIR

    @property
    def database_url(self) -> str:
        return self.service.database_url

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.call_center.timezone)


#: Environment variable → (section, key). ``CONTINUITY_CONFIG`` names another YAML file.
_ENV_KEYS: dict[str, tuple[str, str]] = {
    **{
        f"{ENV_PREFIX}{key.upper()}": ("call_center", key)
        for key in CallCenterSettings.model_fields
    },
    **{f"{ENV_PREFIX}{key.upper()}": ("service", key) for key in ServiceSettings.model_fields},
    **{
        f"{ENV_PREFIX}{key.upper()}": ("notifications", key)
        for key in NotificationSettings.model_fields
    },
    **{f"{ENV_PREFIX}{key.upper()}": ("payments", key) for key in PaymentSettings.model_fields},
}


#: Variables read elsewhere: the configuration file's path, and the crash tests' fault
#: injection (``continuity.faults``).
_OTHER_VARIABLES = frozenset({f"{ENV_PREFIX}CONFIG", f"{ENV_PREFIX}FAULTS"})


def known_variables() -> frozenset[str]:
    return frozenset(_ENV_KEYS) | _OTHER_VARIABLES


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per ``CONTINUITY_*`` variable that no setting reads (a typo is otherwise
    silently ignored), with the closest known name."""
    env = os.environ if environ is None else environ
    known = known_variables()
    suffixes = sorted(name.removeprefix(ENV_PREFIX) for name in known)
    warnings = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        close = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), suffixes, n=1, cutoff=0.6)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "no setting has this name"
        warnings.append(f"unknown environment variable {name} ignored: {hint}")
    return warnings


#: Settings whose environment value is JSON, e.g. ``{"process-payments": "0 * * * *"}``.
_JSON_KEYS = frozenset({"job_schedules", "webhooks", "email_events"})


def load_settings(
    environ: Mapping[str, str] | None = None, config_file: Path | None = None
) -> Settings:
    """Read the YAML file, apply the environment, validate; raise ``ConfigError`` on bad input."""
    env = os.environ if environ is None else environ
    path = config_file or Path(env.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG_FILE))
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping")
    data: dict[str, Any] = {section: dict(raw.get(section) or {}) for section in raw}
    sources: dict[tuple[str, str], str] = {}
    for name, (section, key) in _ENV_KEYS.items():
        if name in env:
            value: Any = env[name]
            if key in _JSON_KEYS:
                try:
                    value = json.loads(value)
                except ValueError:
                    raise ConfigError(f"environment variable {name}: not JSON") from None
            data.setdefault(section, {})[key] = value
            sources[(section, key)] = name
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            where = sources.get(loc[:2]) if len(loc) >= 2 else None  # type: ignore[arg-type]
            origin = f"environment variable {where}" if where else str(path)
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{origin}: {'.'.join(loc)}: {message}")
        raise ConfigError("\n".join(problems)) from None
