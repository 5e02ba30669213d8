"""Whole-directory behaviour: every error in one pass, and never any other exception."""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules import loader
from rules.errors import RuleError, RuleValidationFailed
from rules.loader import BUNDLED_RULES_DIR, check_rules, load_rules
from tests.rules.util import CATALOG, PROGRAM, SCHEDULES, write_rules


def test_every_error_of_every_file_in_one_pass_sorted(tmp_path: Path) -> None:
    catalog = CATALOG.replace('price: "12.50"', "price: 12.50")
    schedules = SCHEDULES.replace("installments: 3,", "installments: [3,")
    zeta = PROGRAM.replace("id: club", "id: zeta").replace("sku: CLUB", "sku: ZETA")
    zeta = zeta.replace("BOOK-001", "BOOK-404") + "    repeat: sometimes\n"
    alpha = PROGRAM.replace("id: club", "id: alpha").replace("sku: CLUB", "sku: ALPHA")
    alpha = alpha.replace("name: Club\n", "name: Alpha\nnmae: Alpha\n", 1)
    rules_dir = write_rules(
        tmp_path,
        {"zeta": zeta, "alpha": alpha, "club": PROGRAM},
        catalog=catalog,
        schedules=schedules,
    )
    errors = check_rules(rules_dir)
    summary = [(Path(e.path).name, e.line, e.column) for e in errors]
    assert summary == [
        ("catalog.yaml", 3, 44),
        ("payment-schedules.yaml", 2, 70),
        ("alpha.yaml", 3, 1),
        ("zeta.yaml", 9, 14),
        ("zeta.yaml", 11, 13),
    ]
    assert errors == sorted(errors)
    assert [e.path for e in errors] == sorted(e.path for e in errors)
    assert len(errors) == 5
    assert "write money as a quoted string" in errors[0].message
    assert errors[1].message.startswith("YAML syntax error")
    assert errors[2].message == "nmae: unknown key (did you mean 'name'?)"
    assert "unknown SKU 'BOOK-404'" in errors[3].message
    assert errors[4].message.startswith("events.0.repeat: must be a whole number of repeats")


def test_cross_checks_still_run_when_a_file_is_broken(tmp_path: Path) -> None:
    broken = "id: broken\nname: [unclosed\n"
    club = PROGRAM.replace("BOOK-001", "BOOK-404")
    errors = check_rules(write_rules(tmp_path, {"broken": broken, "club": club}))
    assert [(Path(e.path).name, e.line) for e in errors] == [("broken.yaml", 3), ("club.yaml", 9)]


def test_no_unknown_sku_cascade_when_the_catalog_is_unreadable(tmp_path: Path) -> None:
    errors = check_rules(write_rules(tmp_path, {"club": PROGRAM}, catalog="items: [\n"))
    assert [Path(e.path).name for e in errors] == ["catalog.yaml"]


def test_load_raises_with_the_same_errors_as_check(tmp_path: Path) -> None:
    rules_dir = write_rules(tmp_path, {"club": PROGRAM.replace("quantity: 1", "quantity: 0")})
    errors = check_rules(rules_dir)
    assert len(errors) == 1
    with pytest.raises(RuleValidationFailed) as raised:
        load_rules(rules_dir)
    assert list(raised.value.errors) == errors
    assert str(errors[0]) in str(raised.value)
    assert (
        str(errors[0])
        == f"{errors[0].path}:10:19: events.0.items.0.quantity: must be greater than 0"
    )


def test_rule_error_orders_by_path_line_column() -> None:
    errors = [RuleError("b", 1, 1, "x"), RuleError("a", 2, 1, "y"), RuleError("a", 1, 9, "z")]
    assert [str(e) for e in RuleValidationFailed(errors).errors] == [
        "a:1:9: z",
        "a:2:1: y",
        "b:1:1: x",
    ]


def test_valid_minimal_directory(tmp_path: Path) -> None:
    rules = load_rules(write_rules(tmp_path, {"club": PROGRAM}))
    assert [program.rule.id for program in rules.programs] == ["club"]
    assert rules.program_for_parent_sku("CLUB") is rules.programs[0]


def test_a_load_pauses_the_garbage_collector_and_gives_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paused while a directory is read, running again afterwards on success and on failure,
    and still paused for a caller that had paused it."""
    valid = write_rules(tmp_path / "valid", {"club": PROGRAM})
    broken = write_rules(
        tmp_path / "broken", {"club": PROGRAM.replace("quantity: 1", "quantity: 0")}
    )
    during: list[bool] = []
    collect = loader._collect

    def spy(rules_dir: Path) -> tuple[list[Any], list[RuleError]]:
        during.append(gc.isenabled())
        return collect(rules_dir)

    monkeypatch.setattr(loader, "_collect", spy)
    assert gc.isenabled()
    assert [program.rule.id for program in load_rules(valid).programs] == ["club"]
    assert gc.isenabled()
    with pytest.raises(RuleValidationFailed):
        load_rules(broken)
    assert gc.isenabled()
    assert len(check_rules(broken)) == 1
    assert gc.isenabled()
    gc.disable()
    try:
        load_rules(valid)
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert during == [False, False, False, False]


_SOURCE = (BUNDLED_RULES_DIR / "programs" / "seasonal-wine.yaml").read_bytes()


@st.composite
def _mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(_SOURCE)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        position = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[position] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[position:position] = draw(
                st.sampled_from([b"*", b"&a ", b"\t", b"- ", b": ", b"{", b"\xff", b"\n  ", b"!!"])
            )
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 20))]
        else:
            del data[position:]
    return bytes(data)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=_mutations())
def test_mutated_program_loads_or_reports_rule_errors(tmp_path: Path, raw: bytes) -> None:
    rules_dir = tmp_path / "rules"
    if not rules_dir.exists():
        shutil.copytree(
            BUNDLED_RULES_DIR, rules_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__")
        )
    (rules_dir / "programs" / "seasonal-wine.yaml").write_bytes(raw)
    errors = check_rules(rules_dir)
    for error in errors:
        assert error.line >= 1
        assert error.column >= 1
        assert error.path.startswith(str(rules_dir))
    if errors:
        with pytest.raises(RuleValidationFailed):
            load_rules(rules_dir)
    else:
        assert load_rules(rules_dir).program("seasonal-wine") is not None
