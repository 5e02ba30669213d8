"""Plain-text e-mails from per-event, per-locale templates.

``templates/<locale>/<event>.txt``: the first line is ``Subject: ...``, then a blank line, then
the body; ``$name`` / ``${name}`` placeholders come from the notification's payload (top-level
values, ``customer_name``, a money value as ``19.00 USD``, and ``items`` as lines).
A missing locale or event falls back to English, then to the locale's ``_default.txt``.
Customers carry no locale yet: the channel is configured with one (``default_locale``), and a
payload's ``locale`` wins when present.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from string import Template
from typing import Any

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
FALLBACK_LOCALE = "en"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str
    locale: str


@cache
def _template(locale: str, event: str) -> tuple[str, Template] | None:
    path = TEMPLATES_DIR / locale / f"{event}.txt"
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    subject = first.removeprefix("Subject:").strip()
    return subject, Template(rest.lstrip("\n"))


def _locale_name(locale: str) -> str:
    """``fr_CA`` / ``fr-ca`` → ``fr``; only a plain language tag names a directory."""
    base = locale.replace("-", "_").split("_")[0].lower()
    return base if base.isalpha() else FALLBACK_LOCALE


def find_template(locale: str, event: str) -> tuple[str, str, Template]:
    """(locale used, subject template, body template), with the fallbacks above."""
    wanted = _locale_name(locale)
    for candidate, name in (
        (wanted, event),
        (FALLBACK_LOCALE, event),
        (wanted, "_default"),
        (FALLBACK_LOCALE, "_default"),
    ):
        found = _template(candidate, name)
        if found is not None:
            return candidate, found[0], found[1]
    raise LookupError(f"no e-mail template for {event}")  # _default.txt ships with the code


def _values(event: str, payload: dict[str, Any]) -> dict[str, str]:
    values: dict[str, str] = {"event": event}
    for key, value in payload.items():
        if isinstance(value, str | int | float | bool) or value is None:
            values[key] = "" if value is None else str(value)
    customer = payload.get("customer")
    if isinstance(customer, dict):
        values["customer_name"] = str(customer.get("name", ""))
    for key, value in payload.items():
        if isinstance(value, dict) and {"amount", "currency"} <= value.keys():
            values[key] = f"{value['amount']} {value['currency']}"
    items = payload.get("items")
    if isinstance(items, list):
        values["items"] = "\n".join(
            f"  - {item.get('quantity', '')} x {item.get('name') or item.get('sku', '')}"
            for item in items
            if isinstance(item, dict)
        )
    return values


def render_email(event: str, payload: dict[str, Any], locale: str) -> RenderedEmail:
    chosen = payload.get("locale")
    used, subject, body = find_template(chosen if isinstance(chosen, str) else locale, event)
    values = _values(event, payload)
    return RenderedEmail(
        subject=Template(subject).safe_substitute(values),
        body=body.safe_substitute(values),
        locale=used,
    )
