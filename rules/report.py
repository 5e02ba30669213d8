"""What ``continuity rules check`` and ``rules diff`` print, in the formats people and tools read.

``text`` is for people; ``json`` for scripts and CI steps; ``github`` writes GitHub Actions
workflow commands (``::error file=…,line=…,col=…::message``), which annotate the lines of a
pull request. The command line only wires these to argparse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from rules.diff import ChangeKind, FieldChange, RulesDiff
from rules.errors import RuleError

CheckFormat = Literal["text", "json", "github"]
DiffFormat = Literal["text", "json"]
CHECK_FORMATS: Final[tuple[CheckFormat, ...]] = ("text", "json", "github")
DIFF_FORMATS: Final[tuple[DiffFormat, ...]] = ("text", "json")


@dataclass(frozen=True)
class Output:
    """What a command prints: ``stdout`` (the result), ``stderr`` (a summary for people)."""

    stdout: str
    stderr: str
    exit_code: int


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(error: RuleError) -> str:
    """One GitHub Actions ``error`` workflow command."""
    return (
        f"::error file={_escape_property(error.path)},line={error.line},col={error.column},"
        f"title=rules check::{_escape_data(error.message)}"
    )


def check_output(errors: list[RuleError], rules_dir: Path, fmt: CheckFormat) -> Output:
    count = len(errors)
    summary = f"{count} error(s) in {rules_dir}" if errors else ""
    code = 1 if errors else 0
    if fmt == "json":
        document = {
            "rules_dir": str(rules_dir),
            "valid": not errors,
            "errors": [
                {"path": e.path, "line": e.line, "column": e.column, "message": e.message}
                for e in errors
            ],
        }
        return Output(json.dumps(document, indent=2, ensure_ascii=False), "", code)
    if fmt == "github":
        return Output("\n".join(github_annotation(error) for error in errors), summary, code)
    if not errors:
        return Output(f"{rules_dir}: all rule files are valid", "", 0)
    return Output("\n".join(str(error) for error in errors), summary, code)


def _fields(fields: tuple[FieldChange, ...], indent: str) -> list[str]:
    return [f"{indent}{field}" for field in fields]


def diff_text(diff: RulesDiff) -> str:
    """The diff for people: one block per program, catalog item and payment schedule."""
    lines: list[str] = []
    if diff.programs:
        lines.append("programs:")
    for program in diff.programs:
        if program.kind is ChangeKind.CREATED:
            lines.append(f"  {program.program_id}: created (version 1)")
        elif program.kind is ChangeKind.UPDATED:
            versions = f"version {program.from_version} → {program.to_version}"
            lines.append(f"  {program.program_id}: changed ({versions})")
        elif program.kind is ChangeKind.RETIRED:
            lines.append(
                f"  {program.program_id}: removed (retired: no new orders; "
                f"version {program.from_version} stays on its orders)"
            )
        else:
            lines.append(
                f"  {program.program_id}: back (version {program.to_version} takes orders again)"
            )
        lines += _fields(program.settings, "    ")
        for event in program.events:
            lines.append(f"    event {event.number}: {event.change}")
            lines += _fields(event.fields, "      ")
    if diff.catalog:
        lines.append("catalog:")
    for item in diff.catalog:
        lines.append(f"  {item.sku}: {item.change}")
        lines += _fields(item.fields, "    ")
    if diff.schedules:
        lines.append("payment schedules:")
    for schedule in diff.schedules:
        lines.append(f"  {schedule.schedule_id}: {schedule.change}")
        lines += _fields(schedule.fields, "    ")
    if not lines:
        return "no changes: the database already holds these rules"
    return "\n".join(lines)


def _fields_json(fields: tuple[FieldChange, ...]) -> list[dict[str, str | None]]:
    return [{"field": f.field, "old": f.old, "new": f.new} for f in fields]


def diff_json(diff: RulesDiff) -> str:
    document = {
        "changed": not diff.empty,
        "programs": [
            {
                "program_id": p.program_id,
                "kind": p.kind.value,
                "from_version": p.from_version,
                "to_version": p.to_version,
                "settings": _fields_json(p.settings),
                "events": [
                    {"number": e.number, "change": e.change.value, "fields": _fields_json(e.fields)}
                    for e in p.events
                ],
            }
            for p in diff.programs
        ],
        "catalog": [
            {"sku": i.sku, "change": i.change.value, "fields": _fields_json(i.fields)}
            for i in diff.catalog
        ],
        "schedules": [
            {"id": s.schedule_id, "change": s.change.value, "fields": _fields_json(s.fields)}
            for s in diff.schedules
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def diff_output(diff: RulesDiff, fmt: DiffFormat) -> Output:
    return Output(diff_json(diff) if fmt == "json" else diff_text(diff), "", 0)
