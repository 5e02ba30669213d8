"""Load a rules directory: every file, every problem, in one pass.

The steps per file are: read the bytes, compose the YAML with libyaml and build plain data
with the position of every node (:mod:`rules.yamlmarks`), reshape the few keys whose YAML
spelling differs from the model (``every``/``days_from_last`` become a ``Gap``; events without
numbers are numbered), validate with pydantic (:mod:`rules.messages` maps its errors back to
nodes), and finally check what no single model can see (:mod:`rules.crosscheck`). Only when no
file has any error is a :class:`~rules.model.RuleSet` built, so a reload applies all or nothing.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rules.crosscheck import Files, cross_check
from rules.errors import RuleError, RuleValidationFailed
from rules.limits import MAX_DAYS, MAX_ERRORS_PER_FILE, MAX_SCHEDULES
from rules.messages import GAP_KEYS, FileKind, pydantic_errors, unknown_key_message
from rules.model import Catalog, LoadedProgram, PaymentScheduleRule, ProgramRule, RuleSet
from rules.values import parse_every
from rules.yamlmarks import INVALID, Document, Loc, parse_document

#: The rule files shipped with the service: the product's examples, and its default rules.
BUNDLED_RULES_DIR: Final = Path(__file__).parent

CATALOG_FILE: Final = "catalog.yaml"
SCHEDULES_FILE: Final = "payment-schedules.yaml"
PROGRAMS_DIR: Final = "programs"


class _SchedulesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    schedules: tuple[PaymentScheduleRule, ...] = Field(
        default=(), strict=False, max_length=MAX_SCHEDULES
    )


@dataclass
class _File:
    path: str
    kind: FileKind
    doc: Document | None
    errors: list[RuleError]
    invariant_errors: list[RuleError] = field(default_factory=list)
    model: Any = None


def _read(rules_dir: Path, path: Path, kind: FileKind) -> _File:
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return _File(name, kind, None, [RuleError(name, 1, 1, "file not found")])
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror or exc}"
        return _File(name, kind, None, [RuleError(name, 1, 1, message)])
    doc, errors = parse_document(name, raw, path.relative_to(rules_dir).as_posix())
    return _File(name, kind, doc, errors)


def _take_gap(doc: Document, holder: dict[str, Any], loc: Loc, errors: list[RuleError]) -> Any:
    """Pop ``every``/``days_from_last`` from a mapping; return the ``Gap`` input, or None."""
    present = [key for key in holder if key in GAP_KEYS]
    if not present:
        return None
    if len(present) > 1:
        message = "write either every or days_from_last, not both"
        errors.append(doc.error((*loc, present[1]), message, key=True))
    key = present[0]
    value = holder[key]
    for other in present:
        del holder[other]
    doc.aliases[(*loc, "gap")] = (*loc, key)
    if value is INVALID:
        return INVALID
    if key == "every":
        try:
            unit, count = parse_every(value)
        except ValueError as exc:
            errors.append(doc.error((*loc, key), str(exc)))
            return INVALID
        return {"unit": unit, "count": count}
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DAYS:
        errors.append(doc.error((*loc, key), f"must be a whole number of days, 0 to {MAX_DAYS}"))
        return INVALID
    return {"unit": "day", "count": value}


def _shape_program(doc: Document, errors: list[RuleError]) -> None:
    data = doc.data
    cadence = data.get("cadence")
    if isinstance(cadence, dict):
        for key in [key for key in cadence if key not in GAP_KEYS]:
            message = unknown_key_message(key, GAP_KEYS)
            errors.append(doc.error(("cadence", key), message, key=True))
        gap = _take_gap(doc, cadence, ("cadence",), errors)
        if gap is None:
            errors.append(doc.error(("cadence",), "write every: 1 month or days_from_last: 30"))
            gap = INVALID
        data["cadence"] = gap
        doc.aliases[("cadence",)] = doc.aliases.pop(("cadence", "gap"), ("cadence",))
    events = data.get("events")
    if not isinstance(events, tuple):
        return
    mappings = [(index, event) for index, event in enumerate(events) if isinstance(event, dict)]
    numbered = sum("number" in event for _, event in mappings)
    for index, event in mappings:
        loc: Loc = ("events", index)
        if "gap" in event:
            errors.append(doc.error((*loc, "gap"), unknown_key_message("gap", GAP_KEYS), key=True))
            del event["gap"]
        gap = _take_gap(doc, event, loc, errors)
        if gap is not None:
            event["gap"] = gap
        if not numbered:
            event["number"] = index + 1
        elif "number" not in event:
            message = "number every event or none: other events have a number"
            errors.append(doc.error(loc, message))
            event["number"] = INVALID


def _shape_schedules(doc: Document, errors: list[RuleError]) -> None:
    schedules = doc.data.get("schedules")
    if not isinstance(schedules, tuple):
        return
    for index, schedule in enumerate(schedules):
        if isinstance(schedule, dict) and "every" in schedule:
            loc: Loc = ("schedules", index, "every")
            value = schedule["every"]
            if value is INVALID:
                continue
            try:
                unit, count = parse_every(value)
            except ValueError as exc:
                errors.append(doc.error(loc, str(exc)))
                schedule["every"] = INVALID
                continue
            schedule["every"] = {"unit": unit, "count": count}


_MODELS: Final[dict[FileKind, type[BaseModel]]] = {
    "catalog": Catalog,
    "schedules": _SchedulesFile,
    "program": ProgramRule,
}


def _validate(file: _File) -> None:
    doc = file.doc
    if doc is None:
        return
    if file.kind == "program":
        _shape_program(doc, file.errors)
    elif file.kind == "schedules":
        _shape_schedules(doc, file.errors)
    try:
        file.model = _MODELS[file.kind].model_validate(doc.data)
    except ValidationError as exc:
        field_errors, file.invariant_errors = pydantic_errors(
            doc, file.kind, exc.errors(include_url=False), limit=MAX_ERRORS_PER_FILE
        )
        file.errors.extend(field_errors)


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a rules directory is read.

    A load builds ~300,000 containers for 1,000 programs (the values, their location tuples,
    the position dicts, pydantic's models) and keeps them until it returns: with the default
    threshold the collector ran ~470 times during one load, walking ever more of them and
    finding nothing (the data is trees, freed by reference counting), a fifth of the load's
    CPU. Paused, nothing is walked until the load returns and its documents are freed; then
    one young collection walks what is kept (the rule set), paid here rather than by whoever
    allocates next. A caller that already paused the collector keeps it paused. The pause is
    the process's: a server reload loads in a worker thread (``rules.reload``), and the event
    loop's collections wait for that fraction of a second, then run.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


def _collect(rules_dir: Path) -> tuple[list[_File], list[RuleError]]:
    catalog = _read(rules_dir, rules_dir / CATALOG_FILE, "catalog")
    schedules = _read(rules_dir, rules_dir / SCHEDULES_FILE, "schedules")
    programs_dir = rules_dir / PROGRAMS_DIR
    programs: list[_File] = []
    stray: list[RuleError] = []
    if programs_dir.is_dir():
        for path in sorted(programs_dir.iterdir()):
            if path.suffix == ".yaml":
                programs.append(_read(rules_dir, path, "program"))
            elif path.suffix == ".yml":
                message = "rule files must end in .yaml: this file is ignored until renamed"
                stray.append(RuleError(str(path), 1, 1, message))
    files = [catalog, schedules, *programs]
    for file in files:
        _validate(file)
    by_path: dict[str, list[RuleError]] = defaultdict(list)
    for error in cross_check(
        Files(
            catalog=catalog.doc,
            schedules=schedules.doc,
            programs=[(Path(file.path).stem, file.doc) for file in programs if file.doc],
        )
    ):
        by_path[error.path].append(error)
    errors = list(stray)
    for file in files:
        own = file.errors + by_path.pop(file.path, [])
        # A model invariant is only news when nothing precise was said about the file.
        errors.extend(_first_errors(own or file.invariant_errors))
    for leftover in by_path.values():
        errors.extend(_first_errors(leftover))
    return files, sorted(errors)


def _first_errors(errors: list[RuleError]) -> list[RuleError]:
    """The errors of one file in order, at most :data:`MAX_ERRORS_PER_FILE` of them (a hostile
    file can hold a hundred thousand; nobody reads past the first screen)."""
    ordered = sorted(set(errors))
    if len(ordered) <= MAX_ERRORS_PER_FILE:
        return ordered
    first_dropped = ordered[MAX_ERRORS_PER_FILE]
    message = (
        f"more errors in this file are not listed (at most {MAX_ERRORS_PER_FILE} per file): "
        "fix these first"
    )
    return [
        *ordered[:MAX_ERRORS_PER_FILE],
        RuleError(first_dropped.path, first_dropped.line, first_dropped.column, message),
    ]


def check_rules(rules_dir: Path) -> list[RuleError]:
    """Every problem of the rules directory, sorted by (path, line, column); [] when valid."""
    with _without_cyclic_gc():
        return _collect(rules_dir)[1]


def load_rules(rules_dir: Path) -> RuleSet:
    """Load and validate ``catalog.yaml``, ``payment-schedules.yaml`` and ``programs/*.yaml``.

    Raises :class:`RuleValidationFailed` with every error of every file; nothing else.
    """
    with _without_cyclic_gc():
        return _rule_set(rules_dir)


def _rule_set(rules_dir: Path) -> RuleSet:
    files, errors = _collect(rules_dir)
    if errors:
        raise RuleValidationFailed(errors)
    catalog, schedules, *programs = files
    return RuleSet(
        catalog=catalog.model,
        schedules=schedules.model.schedules,
        programs=tuple(
            sorted(
                (
                    LoadedProgram(
                        rule=file.model,
                        path=file.path,
                        source=Path(file.path).relative_to(rules_dir).as_posix(),
                    )
                    for file in programs
                ),
                key=lambda program: program.rule.id,
            )
        ),
    )
