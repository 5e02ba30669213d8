"""Settings of the service: ``config/continuity.yaml``, overridden by ``CONTINUITY_*`` variables.

Read once at the edge into frozen models; the rest of the code receives them as values.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
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

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class ServiceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str = "sqlite://continuity.sqlite3"
    rules_dir: Path | None = None
    scheduler_enabled: bool = True
    daily_run_at: str = "02:00"
    #: Extra schedules for single jobs, as crontab lines in the business time zone
    #: (e.g. ``process-payments: "0 */4 * * *"``), beside the daily chain.
    job_schedules: dict[str, str] = Field(default_factory=dict)
    development: bool = False

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
            problems.append(f"{origin}: {'.'.join(loc)}: {error['msg']}")
        raise ConfigError("\n".join(problems)) from None
