"""The editor schemas: committed copies equal the generated ones, every bundled file validates
and names its schema, every key is explained, and schema and loader agree on what is valid."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from rules.jsonschema import FILE_NAMES, GLOBS, KINDS, SchemaKind, render, schema_for
from rules.loader import BUNDLED_RULES_DIR, check_rules
from rules.yamlmarks import parse_document
from tests.rules.util import CATALOG, PROGRAM, SCHEDULES, program_errors, write_rules

SCHEMA_DIR = BUNDLED_RULES_DIR / "schema"
HEADER = re.compile(r"# yaml-language-server: \$schema=(?P<path>\S+)\n")


def _plain(value: Any) -> Any:
    """Loader data as JSON data (the loader keeps lists as tuples)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def _schema_errors(kind: SchemaKind, text: str) -> list[str]:
    doc, errors = parse_document("f.yaml", text.encode())
    assert doc is not None, errors
    validator = Draft7Validator(schema_for(kind))
    return [error.message for error in validator.iter_errors(_plain(doc.data))]


def _bundled_files() -> list[tuple[SchemaKind, Path]]:
    files: list[tuple[SchemaKind, Path]] = [
        ("catalog", BUNDLED_RULES_DIR / "catalog.yaml"),
        ("payment-schedules", BUNDLED_RULES_DIR / "payment-schedules.yaml"),
    ]
    files += [("program", path) for path in sorted(BUNDLED_RULES_DIR.glob("programs/*.yaml"))]
    return files


@pytest.mark.parametrize("kind", KINDS)
def test_committed_schemas_are_the_generated_ones(kind: SchemaKind) -> None:
    path = SCHEMA_DIR / FILE_NAMES[kind]
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(render(kind), encoding="utf-8")
    assert path.read_text(encoding="utf-8") == render(kind), (
        "regenerate with UPDATE_SNAPSHOTS=1 pytest tests/rules/test_jsonschema.py"
    )
    Draft7Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize(("kind", "path"), _bundled_files(), ids=lambda v: getattr(v, "name", v))
def test_bundled_files_name_their_schema_and_validate(kind: SchemaKind, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = HEADER.match(text)
    assert header, f"{path} must start with '# yaml-language-server: $schema=…'"
    assert (path.parent / header["path"]).resolve() == (SCHEMA_DIR / FILE_NAMES[kind]).resolve()
    assert _schema_errors(kind, text) == []


def test_every_key_has_a_description_and_an_example() -> None:
    missing: list[str] = []

    def walk(node: dict[str, Any], where: str) -> None:
        for name, child in node.get("properties", {}).items():
            if not child.get("description") or not child.get("examples"):
                missing.append(f"{where}.{name}")
            walk(child, f"{where}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{where}[]")

    for kind in KINDS:
        walk(schema_for(kind), kind)
    assert missing == []


def test_globs_name_every_kind() -> None:
    assert set(GLOBS) == set(KINDS)


# -- schema and loader agree ------------------------------------------------------------------

WINE = "    action: normal\n"
VALID_PROGRAMS = {
    "as in the tests": PROGRAM,
    "days_from_last cadence": PROGRAM.replace("{every: 1 month}", "{days_from_last: 30}"),
    "weeks, any case": PROGRAM.replace("{every: 1 month}", "{every: 2 Weeks}"),
    "zero days": PROGRAM.replace("{every: 1 month}", "{every: 0 days}"),
    "repeat forever": PROGRAM + "    repeat: forever\n",
    "largest repeat": PROGRAM + "    repeat: 9999\n    every: 1 day\n",
    "a skip event": PROGRAM + "  - action: skip\n",
    "a skip event with an empty list": PROGRAM + "  - {action: skip, items: []}\n",
    "numbered events": PROGRAM.replace("  - items:", "  - number: 1\n    items:"),
    "quoted date": PROGRAM + '    not_before: "2026-03-01"\n',
    "current event": PROGRAM.replace(
        "cadence:", "order_start: current_event\ncurrent_event_anchor: 2026-01-01\ncadence:"
    ),
    "up front with schedules": PROGRAM.replace(
        "cadence:",
        "billing:\n  up_front: true\n  payment_schedule: three-monthly\n"
        "  allowed_schedules: [three-monthly, deposit-balance]\n"
        "  prompt_for_payment_schedule: true\ncadence:",
    ),
    "whole-number money": PROGRAM.replace('price: "0.00"', "price: 12"),
    "largest amount": PROGRAM.replace('price: "0.00"', 'price: "100000000.00"'),
    "every key": PROGRAM.replace(
        "cadence:",
        "days_after_order: 3660\nprompt_for_start_date: true\nconsolidate_past_orders: false\n"
        "cadence:",
    )
    + '        price: "1.50"\n'
    + WINE,
}
INVALID_PROGRAMS = {
    "unknown key": PROGRAM + "colour: red\n",
    "typo in an event": PROGRAM + "    repaet: 2\n",
    "float money": PROGRAM.replace('price: "0.00"', "price: 12.99"),
    "negative money": PROGRAM.replace('price: "0.00"', 'price: "-1.00"'),
    "money past the limit": PROGRAM.replace('price: "0.00"', 'price: "100000000.01"'),
    "yes for a boolean": PROGRAM.replace("active: true", "active: yes"),
    "quoted boolean": PROGRAM.replace("active: true", 'active: "true"'),
    "zero quantity": PROGRAM.replace("quantity: 1", "quantity: 0"),
    "quantity past the limit": PROGRAM.replace("quantity: 1", "quantity: 10001"),
    "negative repeat": PROGRAM + "    repeat: -1\n",
    "repeat past the limit": PROGRAM + "    repeat: 10000\n",
    "repeat as a word": PROGRAM + "    repeat: sometimes\n",
    "unknown action": PROGRAM + "    action: stop\n",
    "unknown gap unit": PROGRAM.replace("{every: 1 month}", "{every: 1 fortnight}"),
    "zero months": PROGRAM.replace("{every: 1 month}", "{every: 0 months}"),
    "both gaps": PROGRAM + "    every: 1 month\n    days_from_last: 30\n",
    "cadence without a gap": PROGRAM.replace("{every: 1 month}", "{}"),
    "cadence with both gaps": PROGRAM.replace(
        "{every: 1 month}", "{every: 1 month, days_from_last: 3}"
    ),
    "days past the limit": PROGRAM + "    days_from_last: 3661\n",
    "malformed date": PROGRAM + "    not_before: 2026-3-1\n",
    "date past 2200": PROGRAM + "    not_before: 3000-01-01\n",
    "unknown currency": PROGRAM.replace("currency: USD", "currency: XXX"),
    "missing cadence": PROGRAM.replace("cadence: {every: 1 month}\n", ""),
    "no events": PROGRAM[: PROGRAM.index("events:")] + "events: []\n",
    "skip event with items": PROGRAM + "    action: skip\n",
    "event without items": PROGRAM + "  - repeat: 2\n",
    "current event without anchor": PROGRAM.replace(
        "cadence:", "order_start: current_event\ncadence:"
    ),
    "anchor without current event": PROGRAM.replace(
        "cadence:", "current_event_anchor: 2026-01-01\ncadence:"
    ),
    "schedule without up front": PROGRAM.replace(
        "cadence:", "billing: {payment_schedule: three-monthly}\ncadence:"
    ),
    "lower-case sku": PROGRAM.replace("sku: BOOK-001", "sku: book-001"),
    "bare-number sku": PROGRAM.replace("sku: CLUB", "sku: 12345"),
    "empty name": PROGRAM.replace("name: Club\n", 'name: ""\n', 1),
    "negative parent events": PROGRAM.replace('price: "0.00"}', 'price: "0.00", events: -1}'),
    "days after order past the limit": PROGRAM.replace(
        "cadence:", "days_after_order: 3661\ncadence:"
    ),
}
#: Mistakes that need more than one value at a time: only `rules check` sees them.
LOADER_ONLY_PROGRAMS = {
    "unknown sku": PROGRAM.replace("BOOK-001", "BOOK-404"),
    "too many decimals for USD": PROGRAM.replace('price: "0.00"', 'price: "9.999"'),
    "impossible date": PROGRAM + "    not_before: 2026-02-30\n",
    "event numbers not 1..n": PROGRAM.replace("  - items:", "  - number: 2\n    items:"),
    "forever billed up front": PROGRAM.replace("cadence:", "billing: {up_front: true}\ncadence:")
    + "    repeat: forever\n",
}

VALID_CATALOGS = {"as in the tests": CATALOG}
INVALID_CATALOGS = {
    "float price": CATALOG.replace('price: "9.99"', "price: 9.99"),
    "missing currency": CATALOG.replace(", currency: USD}", "}", 1),
    "unknown key": CATALOG.replace("currency: EUR}", "currency: EUR, colour: red}"),
    "yes for active": CATALOG.replace("active: false", "active: no"),
    "lower-case sku": CATALOG.replace("BOOK-001", "book-001"),
}
VALID_SCHEDULES = {
    "as in the tests": SCHEDULES,
    "whole-number percents": SCHEDULES.replace('"30"', "30").replace('"70"', "70"),
    "two-decimal percents": SCHEDULES.replace('"30"', '"33.33"').replace('"70"', '"66.67"'),
}
INVALID_SCHEDULES = {
    "both shapes": SCHEDULES.replace("every: 1 month}", "every: 1 month, lines: []}"),
    "neither shape": SCHEDULES.replace(", installments: 3, every: 1 month", ""),
    "one installment": SCHEDULES.replace("installments: 3", "installments: 1"),
    "too many installments": SCHEDULES.replace("installments: 3", "installments: 121"),
    "one line": SCHEDULES.replace('      - {percent: "70", offset_days: 30}\n', ""),
    "zero percent": SCHEDULES.replace('"30"', '"0"'),
    "three-decimal percent": SCHEDULES.replace('"30"', '"30.005"').replace('"70"', '"69.995"'),
    "malformed every": SCHEDULES.replace("every: 1 month", "every: monthly"),
}


def _program_verdicts(tmp_path: Path, text: str) -> tuple[bool, bool]:
    return not program_errors(tmp_path, text), not _schema_errors("program", text)


@pytest.mark.parametrize("text", VALID_PROGRAMS.values(), ids=VALID_PROGRAMS)
def test_valid_programs_pass_both(tmp_path: Path, text: str) -> None:
    assert program_errors(tmp_path, text) == []
    assert _schema_errors("program", text) == []


@pytest.mark.parametrize("text", INVALID_PROGRAMS.values(), ids=INVALID_PROGRAMS)
def test_invalid_programs_fail_both(tmp_path: Path, text: str) -> None:
    assert _program_verdicts(tmp_path, text) == (False, False)


@pytest.mark.parametrize("text", LOADER_ONLY_PROGRAMS.values(), ids=LOADER_ONLY_PROGRAMS)
def test_what_only_the_check_sees(tmp_path: Path, text: str) -> None:
    assert _program_verdicts(tmp_path, text) == (False, True)


@pytest.mark.parametrize(
    ("kind", "text", "valid"),
    [
        *(("catalog", text, True) for text in VALID_CATALOGS.values()),
        *(("catalog", text, False) for text in INVALID_CATALOGS.values()),
        *(("payment-schedules", text, True) for text in VALID_SCHEDULES.values()),
        *(("payment-schedules", text, False) for text in INVALID_SCHEDULES.values()),
    ],
    ids=[*VALID_CATALOGS, *INVALID_CATALOGS, *VALID_SCHEDULES, *INVALID_SCHEDULES],
)
def test_catalog_and_schedules_agree(
    tmp_path: Path, kind: SchemaKind, text: str, valid: bool
) -> None:
    if kind == "catalog":
        rules_dir = write_rules(tmp_path, {}, catalog=text)
    else:
        rules_dir = write_rules(tmp_path, {}, schedules=text)
    loader_valid = not check_rules(rules_dir)
    schema_valid = not _schema_errors(kind, text)
    assert (loader_valid, schema_valid) == (valid, valid)


def test_schemas_are_packaged_with_the_rules() -> None:
    """An installed service prints and ships the same schemas the bundled files name."""
    import tomllib

    pyproject = tomllib.loads((BUNDLED_RULES_DIR.parent / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["rules"]
    packaged = {path for pattern in patterns for path in BUNDLED_RULES_DIR.glob(pattern)}
    assert {SCHEMA_DIR / FILE_NAMES[kind] for kind in KINDS} <= packaged
