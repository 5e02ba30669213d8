"""Any rule set `rules check` accepts syncs, on SQLite and on PostgreSQL: the bounds of
rules/limits.py keep every value inside what both databases store. Values are drawn across
their whole range and at the bounds themselves (and a little past them, which the check must
refuse before anything reaches the database)."""

from __future__ import annotations

import asyncio
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from continuity.db import open_database
from continuity.money import CURRENCY_MINOR_UNITS
from rules import limits
from rules.diff import diff_rules
from rules.loader import check_rules, load_rules
from rules.sync import sync_rules

pytestmark = pytest.mark.db

CURRENCIES = sorted(CURRENCY_MINOR_UNITS)


def _edge(low: int, high: int, past: bool = False) -> st.SearchStrategy[int]:
    """Whole numbers across the range and at its bounds; when ``past``, also one past a bound
    and numbers no 32- or 64-bit column holds (which the check must refuse)."""
    values = st.one_of(st.integers(low, high), st.sampled_from([low, high]))
    beyond = st.sampled_from([low - 1, high + 1, 2**31, 2**63, 10**18])
    return st.one_of(values, beyond) if past else values


@st.composite
def amounts(draw: st.DrawFn, currency: str, past: bool) -> str:
    places = CURRENCY_MINOR_UNITS[currency]
    top = limits.MAX_AMOUNT * 10**places
    minor = draw(_edge(0, top, past) | st.just(10**20 if past else top))
    return f'"{Decimal(minor).scaleb(-places):f}"'


@st.composite
def dates(draw: st.DrawFn, past: bool) -> str:
    first, last = limits.FIRST_DATE.year, limits.LAST_DATE.year
    year = draw(_edge(first, last, past))
    return f"{year:04d}-{draw(st.integers(1, 12)):02d}-{draw(st.integers(1, 28)):02d}"


@st.composite
def gaps(draw: st.DrawFn, most_days: int, past: bool, *, days_from_last: bool = True) -> str:
    """A gap of at most ``most_days`` days (or as many months as fit in them)."""
    kinds = ["months", "days", "weeks"] + (["from_last"] if days_from_last else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "months" and most_days >= 31:
        return f"every: {draw(_edge(1, min(limits.MAX_MONTHS, most_days // 31), past))} months"
    if kind == "weeks":
        return f"every: {draw(_edge(0, min(limits.MAX_DAYS, most_days) // 7, past))} weeks"
    if kind == "from_last":
        return f"days_from_last: {draw(_edge(0, min(limits.MAX_DAYS, most_days), past))}"
    return f"every: {draw(_edge(0, min(limits.MAX_DAYS, most_days), past))} days"


@st.composite
def rule_sets(draw: st.DrawFn) -> dict[str, str]:
    past = draw(st.integers(0, 2)) == 0  # a third of the sets try values past a bound
    currency = draw(st.sampled_from(CURRENCIES))
    skus = ["ITEM-A", "ITEM-B", "ITEM-C"]
    catalog = "items:\n" + "".join(
        f"  - {{sku: {sku}, name: {sku}, price: {draw(amounts(currency, past))},"
        f" currency: {currency}}}\n"
        for sku in skus
    )
    installments = draw(_edge(limits.MIN_INSTALLMENTS, limits.MAX_INSTALLMENTS, past))
    spread = limits.MAX_DAYS // max(installments - 1, 1)
    hundredths = draw(st.integers(1, 9999))
    schedules = (
        "schedules:\n"
        f"  - {{id: equal, name: Equal, installments: {installments},"
        f" {draw(gaps(spread, past, days_from_last=False))},"
        f" ship_after_installment: {draw(_edge(1, max(installments, 1), past))}}}\n"
        "  - id: lines\n    name: Lines\n    lines:\n"
        f'      - {{percent: "{Decimal(hundredths).scaleb(-2)}", offset_days: 0}}\n'
        f'      - {{percent: "{Decimal(10000 - hundredths).scaleb(-2)}",'
        f" offset_days: {draw(_edge(0, limits.MAX_DAYS, past))}}}\n"
    )
    up_front = draw(st.booleans())
    count = draw(st.integers(1, 4))
    long_event = draw(st.integers(0, count - 1))  # the one event that may repeat thousands of times
    events = []
    for index in range(count):
        items = ", ".join(
            f"{{sku: {sku}, quantity: {draw(_edge(1, limits.MAX_QUANTITY, past))}"
            + (f", price: {draw(amounts(currency, past))}" if draw(st.booleans()) else "")
            + "}"
            for sku in draw(st.lists(st.sampled_from(skus), min_size=1, max_size=3))
        )
        if index == long_event:
            repeat: int | str = draw(_edge(0, limits.MAX_REPEAT - count, past))
            gap = draw(gaps(limits.MAX_SPAN_DAYS // (int(repeat) + 2) // 2, past))
            if index == count - 1 and not up_front and draw(st.booleans()):
                repeat, gap = "forever", draw(gaps(limits.MAX_DAYS, past))
        else:
            repeat = draw(st.integers(0, 3))
            gap = draw(gaps(limits.MAX_SPAN_DAYS // 8 // 4, past))
        event = f"  - items: [{items}]\n    repeat: {repeat}\n    {gap}\n"
        if draw(st.booleans()):
            event += f"    not_before: {draw(dates(past))}\n"
        events.append(event)
    billing = (
        "billing: {up_front: true, payment_schedule: equal, allowed_schedules: [equal, lines]}\n"
        if up_front
        else "billing: {up_front: false}\n"
    )
    program = (
        f"id: club\nname: Club\nactive: true\ncurrency: {currency}\n"
        f"parent_product: {{sku: CLUB, name: Club, price: {draw(amounts(currency, past))},"
        f" events: {draw(_edge(0, count, past))}}}\n"
        f"order_start: current_event\ncurrent_event_anchor: {draw(dates(past))}\n"
        f"days_after_order: {draw(_edge(0, limits.MAX_DAYS, past))}\n"
        f"{billing}cadence: {{{draw(gaps(limits.MAX_DAYS, past))}}}\nevents:\n{''.join(events)}"
    )
    return {"catalog.yaml": catalog, "payment-schedules.yaml": schedules, "club.yaml": program}


def test_every_rule_set_the_check_accepts_syncs(sync_database_url: str, tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    outcomes = {"accepted": 0, "refused": 0}

    async def sync(directory: Path) -> None:
        async with open_database(sync_database_url):
            rule_set = load_rules(directory)
            await sync_rules(rule_set)
            assert (await diff_rules(rule_set)).empty  # what was written reads back the same

    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        derandomize=True,  # the same sets every run: the counts below never flake
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(files=rule_sets())
    def run(files: dict[str, str]) -> None:
        shutil.rmtree(rules_dir, ignore_errors=True)
        (rules_dir / "programs").mkdir(parents=True)
        (rules_dir / "catalog.yaml").write_text(files["catalog.yaml"])
        (rules_dir / "payment-schedules.yaml").write_text(files["payment-schedules.yaml"])
        (rules_dir / "programs" / "club.yaml").write_text(files["club.yaml"])
        if check_rules(rules_dir):
            outcomes["refused"] += 1
            return
        outcomes["accepted"] += 1
        asyncio.run(sync(rules_dir))

    run()
    assert outcomes["accepted"] >= 10, outcomes
    assert outcomes["refused"] >= 3, outcomes
