"""Keyset paging (``continuity.keyset``): pages in both directions with exact ``has_previous`` /
``has_next``, read with ``LIMIT`` in SQL (never every row then a slice), and one statement for
the same page of many parents' child lists."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tortoise import Tortoise

from continuity import keyset
from continuity.customers import AddressInput, create_customer
from continuity.models import Address, Customer
from tests.statements import Statements, capturing

pytestmark = pytest.mark.db

BY_ID = keyset.Ordering(("id",))
NEWEST = keyset.Ordering(("id",), descending=True)
ADDRESSES = keyset.Relation(Address, "customer_id", keyset.Ordering(("city", "id")))


@pytest.fixture
def statements() -> Iterator[Statements]:
    with capturing(Statements(lambda sql: sql.startswith("SELECT"))) as handler:
        yield handler


def _address(city: str) -> AddressInput:
    return AddressInput(name="A", line1="1 Main St", city=city, postal_code="1000", country="US")


async def _customers(count: int, cities: list[str] | None = None) -> list[Customer]:
    return [
        await create_customer(
            account_number=f"K-{n}",
            name=f"Customer {n}",
            addresses=[_address(city) for city in (cities or [])],
        )
        for n in range(count)
    ]


def _ids(page: keyset.Page[Any]) -> list[int]:
    return [row.id for row in page.rows]


async def test_forwards_and_backwards_with_exact_flags(db: Any) -> None:
    rows = await _customers(5)
    ids = [c.id for c in rows]
    query = Customer.all()

    first = await keyset.page(query, BY_ID, keyset.Window(size=2))
    assert (_ids(first), first.has_previous, first.has_next) == (ids[:2], False, True)
    second = await keyset.page(query, BY_ID, keyset.Window(size=2, after=(ids[1],)))
    assert (_ids(second), second.has_previous, second.has_next) == (ids[2:4], True, True)
    end = await keyset.page(query, BY_ID, keyset.Window(size=2, after=(ids[3],)))
    assert (_ids(end), end.has_previous, end.has_next) == (ids[4:], True, False)

    last = await keyset.page(query, BY_ID, keyset.Window(size=2, from_end=True))
    assert (_ids(last), last.has_previous, last.has_next) == (ids[3:], True, False)
    before = await keyset.page(query, BY_ID, keyset.Window(size=2, from_end=True, before=(ids[3],)))
    assert (_ids(before), before.has_previous, before.has_next) == (ids[1:3], True, True)
    start = await keyset.page(query, BY_ID, keyset.Window(size=5, from_end=True, before=(ids[2],)))
    assert (_ids(start), start.has_previous, start.has_next) == (ids[:2], False, True)

    between = await keyset.page(
        query, BY_ID, keyset.Window(size=10, after=(ids[0],), before=(ids[4],))
    )
    assert (_ids(between), between.has_previous, between.has_next) == (ids[1:4], True, True)
    empty = await keyset.page(query, BY_ID, keyset.Window(size=0))
    assert (_ids(empty), empty.has_previous, empty.has_next) == ([], False, True)


async def test_descending_order_and_filters(db: Any) -> None:
    ids = [c.id for c in await _customers(4)]
    newest = await keyset.page(Customer.all(), NEWEST, keyset.Window(size=3))
    assert (_ids(newest), newest.has_next) == (ids[::-1][:3], True)
    older = await keyset.page(Customer.all(), NEWEST, keyset.Window(size=3, after=(ids[1],)))
    assert (_ids(older), older.has_previous, older.has_next) == ([ids[0]], True, False)
    filtered = Customer.filter(id__in=[ids[0], ids[2]])
    page = await keyset.page(filtered, BY_ID, keyset.Window(size=1, after=(ids[0],)))
    assert (_ids(page), page.has_previous, page.has_next) == ([ids[2]], True, False)


async def test_last_reads_a_limited_page_from_the_end(db: Any, statements: Statements) -> None:
    await _customers(30)
    await keyset.page(Customer.all(), BY_ID, keyset.Window(size=2, from_end=True))
    [select] = statements.sql
    assert "DESC" in select, select
    assert "LIMIT" in select, select
    assert "9223372036854775807" not in select


async def test_child_pages_of_many_parents_in_one_statement(
    db: Any, statements: Statements
) -> None:
    customers = await _customers(4, cities=["Oslo", "Bergen", "Aarhus"])
    parents = [c.id for c in customers]
    statements.sql.clear()
    pages = await keyset.pages(ADDRESSES, parents, keyset.Window(size=2))
    assert len(statements.sql) == 1
    assert "ROW_NUMBER() OVER (PARTITION BY" in statements.sql[0]
    for parent in parents:
        page = pages[parent]
        assert [a.city for a in page.rows] == ["Aarhus", "Bergen"]
        assert (page.has_previous, page.has_next) == (False, True)
        expected = await Address.filter(customer_id=parent).order_by("city", "id").limit(2)
        assert [(a.id, a.city, a.is_default, a.created_at) for a in page.rows] == [
            (a.id, a.city, a.is_default, a.created_at) for a in expected
        ]
    cursor = ADDRESSES.ordering.key(pages[parents[0]].rows[-1])
    statements.sql.clear()
    rest = await keyset.pages(ADDRESSES, parents, keyset.Window(size=2, after=cursor))
    assert len(statements.sql) == 2  # the page, and who has rows before the cursor
    assert [a.city for a in rest[parents[0]].rows] == ["Oslo"]
    assert (rest[parents[0]].has_previous, rest[parents[0]].has_next) == (True, False)
    backwards = await keyset.pages(ADDRESSES, parents, keyset.Window(size=1, from_end=True))
    assert [a.city for a in backwards[parents[1]].rows] == ["Oslo"]
    assert (backwards[parents[1]].has_previous, backwards[parents[1]].has_next) == (True, False)
    assert await keyset.counts(ADDRESSES, [*parents, 424242]) == {
        **dict.fromkeys(parents, 3),
        424242: 0,
    }


#: Addresses with their customer's name, read with the page (``keyset.Joined``).
NAMED = keyset.Relation(
    Address,
    "customer_id",
    keyset.Ordering(("city", "id")),
    keyset.Joined("JOIN customer c ON c.id = t.customer_id", ("c.name", "c.id * 10")),
)


async def test_joined_columns_come_with_each_row_in_one_statement(
    db: Any, statements: Statements
) -> None:
    customers = await _customers(3, cities=["Oslo", "Bergen", "Aarhus"])
    parents = [c.id for c in customers]
    names = {c.id: c.name for c in customers}

    def joined(page: keyset.Page[Address]) -> list[tuple[str, Any, int]]:
        return [(a.city, *values) for a, values in zip(page.rows, page.joined, strict=True)]

    statements.sql.clear()
    first = await keyset.pages(NAMED, parents, keyset.Window(size=2))
    assert len(statements.sql) == 1
    for parent in parents:
        assert joined(first[parent]) == [
            ("Aarhus", names[parent], parent * 10),
            ("Bergen", names[parent], parent * 10),
        ]
        assert [a.id for a in first[parent].rows] == [
            a.id
            for a in (await keyset.pages(ADDRESSES, [parent], keyset.Window(size=2)))[parent].rows
        ]
    # the values stay with their rows when a page is cut short and read from the end
    cursor = NAMED.ordering.key(first[parents[1]].rows[0])
    rest = await keyset.pages(NAMED, parents, keyset.Window(size=2, after=cursor))
    assert joined(rest[parents[1]]) == [
        ("Bergen", names[parents[1]], parents[1] * 10),
        ("Oslo", names[parents[1]], parents[1] * 10),
    ]
    last = await keyset.pages(NAMED, parents, keyset.Window(size=2, from_end=True))
    assert joined(last[parents[2]]) == [
        ("Bergen", names[parents[2]], parents[2] * 10),
        ("Oslo", names[parents[2]], parents[2] * 10),
    ]
    assert (await keyset.pages(NAMED, [424242], keyset.Window(size=2)))[424242].joined == ()
    assert (await keyset.pages(ADDRESSES, parents, keyset.Window(size=2)))[parents[0]].joined == ()


async def test_keys_read_back_from_clients_are_typed_or_refused(db: Any) -> None:
    ordering = keyset.Ordering(("city", "id"))
    assert ordering.coerce(Address, ["Oslo", 3]) == ("Oslo", 3)
    for bad in (["Oslo"], ["Oslo", "3"], [3, 3], ["Oslo", True], ["Oslo", 2**70]):
        with pytest.raises(ValueError, match=r"key length|not a"):
            ordering.coerce(Address, bad)
    assert Tortoise.apps  # the database is open (the fixture)
