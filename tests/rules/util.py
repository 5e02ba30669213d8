"""Small rule directories written inline, so that each test shows the YAML it checks."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

from rules.errors import RuleError
from rules.loader import check_rules

CATALOG = dedent(
    """\
    items:
      - {sku: BOOK-001, name: Book one, price: "9.99", currency: USD}
      - {sku: BOOK-002, name: Book two, price: "12.50", currency: USD}
      - {sku: OLD-001, name: Old book, price: "5.00", currency: USD, active: false}
      - {sku: EURO-001, name: Euro book, price: "5.00", currency: EUR}
    """
)

SCHEDULES = dedent(
    """\
    schedules:
      - {id: three-monthly, name: Three, installments: 3, every: 1 month}
      - id: deposit-balance
        name: Deposit
        lines:
          - {percent: "30", offset_days: 0}
          - {percent: "70", offset_days: 30}
    """
)

#: A valid program; tests replace parts of it. Line numbers matter: see each test.
PROGRAM = dedent(
    """\
    id: club
    name: Club
    active: true
    currency: USD
    parent_product: {sku: CLUB, name: Club, price: "0.00"}
    cadence: {every: 1 month}
    events:
      - items:
          - sku: BOOK-001
            quantity: 1
    """
)


def write_rules(
    root: Path,
    programs: dict[str, str | bytes] | None = None,
    *,
    catalog: str | bytes = CATALOG,
    schedules: str | bytes = SCHEDULES,
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "programs").mkdir(exist_ok=True)
    _write(root / "catalog.yaml", catalog)
    _write(root / "payment-schedules.yaml", schedules)
    for name, content in (programs or {}).items():
        _write(root / "programs" / f"{name}.yaml", content)
    return root


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(dedent(content), encoding="utf-8")


def program_errors(root: Path, text: str | bytes, name: str = "club") -> list[RuleError]:
    """The errors of a rules directory holding one program (plus the default catalog)."""
    return check_rules(write_rules(root, {name: text}))


def only_error(root: Path, text: str | bytes, name: str = "club") -> RuleError:
    errors = program_errors(root, text, name)
    assert len(errors) == 1, "\n".join(map(str, errors))
    assert errors[0].path == str(root / "programs" / f"{name}.yaml")
    return errors[0]


def where(error: RuleError) -> tuple[int, int]:
    return error.line, error.column
