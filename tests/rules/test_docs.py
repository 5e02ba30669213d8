"""docs/RULES.md shows what the product does: its examples are valid rule files, its sample
outputs are what `rules check`, `rules diff`, a dry-run reload and the previews
(`continuityUpdatePreview`, `programPreview`, `continuity simulate`) print, and its limits are
rules/limits.py's (the doc cannot rot).

Each sample follows a ``<!-- sample: NAME -->`` line: the fenced blocks right after it (input,
then output). The edits the doc describes in prose are made here, on the bundled rules.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from tortoise.context import TortoiseContext

from rules import limits
from rules.diff import diff_rules
from rules.loader import BUNDLED_RULES_DIR, check_rules, load_rules
from rules.messages import YAML_KEYS
from rules.report import check_output, diff_text
from rules.sync import sync_rules
from server.simulate import simulate
from tests.api.customers import make_customer, place
from tests.api.graphql import gql
from tests.conftest import make_settings
from tests.rules.util import write_rules

DOC = Path(__file__).resolve().parents[2] / "docs" / "RULES.md"
TEXT = DOC.read_text(encoding="utf-8")
_FENCE = re.compile(r"\A\s*```(?P<lang>\w*)\n(?P<body>.*?)^```\n", re.DOTALL | re.MULTILINE)


def blocks(marker: str) -> list[str]:
    """The fenced blocks right after ``<!-- marker -->`` (only blank lines between them)."""
    start = TEXT.index(f"<!-- {marker} -->\n") + len(f"<!-- {marker} -->\n")
    found: list[str] = []
    rest = TEXT[start:]
    while match := _FENCE.match(rest):
        found.append(match["body"])
        rest = rest[match.end() :]
    assert found, f"no block after <!-- {marker} -->"
    return found


def _copy_bundled(target: Path) -> Path:
    shutil.copytree(BUNDLED_RULES_DIR, target, ignore=shutil.ignore_patterns("*.py", "__py*"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _book_club_mistakes(rules_dir: Path) -> None:
    """The three mistakes the introduction describes."""
    book = rules_dir / "programs" / "book-club.yaml"
    _edit(book, "[{sku: BOOK-003, quantity: 1}]", "[{sku: BOOK-003, quantity: 0}]")
    _edit(book, "[{sku: BOOK-005, quantity: 1}]", "[{sku: BOOK-05, quantity: 1}]")
    _edit(book, "    action: end\n", "    acton: end\n")


def _review_edits(rules_dir: Path) -> None:
    """The change the "Reviewing a change" section diffs."""
    book = rules_dir / "programs" / "book-club.yaml"
    _edit(book, "days_after_order: 0", "days_after_order: 2")
    _edit(book, "[{sku: BOOK-002, quantity: 1}]", "[{sku: BOOK-002, quantity: 2}]")
    _edit(rules_dir / "catalog.yaml", '"12.99"', '"13.49"')
    _edit(rules_dir / "payment-schedules.yaml", "installments: 3", "installments: 4")


# -- examples and reference tables ------------------------------------------------------------


def test_docs_examples_are_valid(tmp_path: Path) -> None:
    [catalog], [schedules], [program] = (
        blocks(f"example: {k}") for k in ("catalog", "schedules", "program")
    )
    assert check_rules(write_rules(tmp_path / "a", catalog=catalog, schedules=schedules)) == []
    rules_dir = _copy_bundled(tmp_path / "b")
    (rules_dir / "programs" / "seasonal-wine.yaml").write_text(program, encoding="utf-8")
    assert check_rules(rules_dir) == []


def test_docs_list_every_key() -> None:
    documented = set(re.findall(r"^\| (`.+?) \|", TEXT, flags=re.M))
    words = {word for entry in documented for word in re.split(r"[.\[\] /`]+", entry)}
    keys = {key for table in YAML_KEYS.values() for group in table.values() for key in group}
    assert keys - words == set()


def test_limits_table_is_rules_limits() -> None:
    table = TEXT[TEXT.index("<!-- limits -->") :].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", table, flags=re.M))
    assert rows.pop("what") == "at most"
    both = f"{limits.MAX_DAYS:,} days or {limits.MAX_MONTHS} months"
    assert rows == {
        "file size": f"{limits.MAX_FILE_BYTES:,} bytes (4 MiB)",
        "values in one file (scalars, lists and mappings, keys included)": f"{limits.MAX_NODES:,}",
        "entries of one list or mapping": f"{limits.MAX_ENTRIES:,}",
        "nesting of lists and mappings": f"{limits.MAX_DEPTH} levels",
        "characters of one value or key": f"{limits.MAX_SCALAR_CHARS:,}",
        "digits of a whole number": f"{limits.MAX_INT_DIGITS}",
        "errors listed per file": f"{limits.MAX_ERRORS_PER_FILE}",
        "an amount (`price`)": f"{limits.MAX_AMOUNT:,} (in the currency's own units)",
        "decimals of a percent": f"{limits.PERCENT_DECIMALS}",
        "`quantity`": f"{limits.MAX_QUANTITY:,}",
        "`repeat`": f"{limits.MAX_REPEAT:,} (or `forever`)",
        "shipments of one order of a finite program (all events with their repeats)": (
            f"{limits.MAX_SHIPMENTS:,}"
        ),
        "span of those shipments (months counted as 31 days)": f"{limits.MAX_SPAN_DAYS:,} days",
        "a gap, `offset_days`, `days_after_order`": both,
        "the last installment of a schedule, after the first": both,
        "`installments`": f"{limits.MAX_INSTALLMENTS} (at least {limits.MIN_INSTALLMENTS})",
        "events of a program (and `parent_product.events`)": f"{limits.MAX_EVENTS:,}",
        "items of an event": f"{limits.MAX_EVENT_ITEMS}",
        "`allowed_schedules`": f"{limits.MAX_ALLOWED_SCHEDULES}",
        "catalog items": f"{limits.MAX_CATALOG_ITEMS:,}",
        "payment schedules": f"{limits.MAX_SCHEDULES:,}",
        "names": f"{limits.MAX_NAME_CHARS} characters",
        "dates": f"{limits.FIRST_DATE} to {limits.LAST_DATE}",
    }


# -- sample outputs ---------------------------------------------------------------------------


def test_check_samples_are_what_the_check_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _book_club_mistakes(_copy_bundled(tmp_path / "rules"))
    monkeypatch.chdir(tmp_path)  # paths as the doc's `continuity rules check rules` gives them
    errors = check_rules(Path("rules"))
    [text] = blocks("sample: check-text")
    [github] = blocks("sample: check-github")
    assert check_output(errors, Path("rules"), "text").stdout + "\n" == text
    assert check_output(errors, Path("rules"), "github").stdout + "\n" == github


@pytest.mark.parametrize("name", ["syntax-tab", "syntax-quote", "syntax-colon", "syntax-value"])
def test_syntax_samples_are_what_the_check_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    program, output = blocks(f"sample: {name}")
    rules_dir = _copy_bundled(tmp_path / "rules")
    (rules_dir / "programs" / "club.yaml").write_text(program, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert [f"{error}\n" for error in check_rules(Path("rules"))] == [output]


@pytest.mark.db
async def test_diff_sample_is_what_rules_diff_prints(db: TortoiseContext, tmp_path: Path) -> None:
    rules_dir = _copy_bundled(tmp_path / "rules")
    await sync_rules(load_rules(rules_dir))
    _review_edits(rules_dir)
    [expected] = blocks("sample: diff")
    assert diff_text(await diff_rules(load_rules(rules_dir))) + "\n" == expected


@pytest.mark.db
def test_dry_run_sample_is_what_the_api_answers(client: TestClient, rules_dir: Path) -> None:
    _review_edits(rules_dir)
    query, answer = blocks("sample: dry-run")
    assert gql(client, query) == json.loads(answer)


# -- previews ---------------------------------------------------------------------------------


def _preview_edits(rules_dir: Path) -> None:
    """The change the "Previews" section previews: a new price, and a second item."""
    book = rules_dir / "programs" / "book-club.yaml"
    _edit(book, "{sku: BOOK-002, quantity: 1}", '{sku: BOOK-002, quantity: 1, price: "15.00"}')
    _edit(
        book,
        "[{sku: BOOK-003, quantity: 1}]",
        "[{sku: BOOK-003, quantity: 1}, {sku: BOOK-013, quantity: 2}]",
    )


@pytest.mark.db
def test_update_preview_sample_is_what_the_api_answers(client: TestClient, rules_dir: Path) -> None:
    ids = make_customer(client)
    assert place(client, ids, {"sku": "BOOKCLUB"})["userErrors"] == []
    _preview_edits(rules_dir)
    gql(client, "mutation { reloadRules(input: {}) { applied } }")
    query, answer = blocks("sample: update-preview")
    assert gql(client, query) == json.loads(answer)


@pytest.mark.db
def test_program_preview_sample_is_what_the_api_answers(client: TestClient) -> None:
    query, answer = blocks("sample: program-preview")
    assert gql(client, query) == json.loads(answer)


async def test_simulate_sample_is_what_the_command_prints(rules_dir: Path, tmp_path: Path) -> None:
    [command, output] = blocks("sample: simulate")
    assert command == "continuity simulate --from 2027-01-31 --days 200 --program book-club\n"
    settings = make_settings(f"sqlite://{tmp_path / 'unused.sqlite3'}", rules_dir)
    result = await simulate(settings, date(2027, 1, 31), 200, program="book-club")
    printed = f"{result.heading()}\n{result.table()}\n"
    order = re.compile(r"CO-\d{8}-[0-9A-F]{8}")  # order numbers are random
    assert order.sub("CO-…", printed) == order.sub("CO-…", output)
