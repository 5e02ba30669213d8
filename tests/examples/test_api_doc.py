"""The GraphQL examples of docs/API.md, README.md and docs/NOTIFICATIONS.md, run against the
real service (the docs cannot rot).

Each ```graphql block runs in order, as ``admin``, against one world: customer ``C-100`` with a
book-club order and a prepaid gift box (numbers fixed below), after one run of the daily jobs.
A ```json block right after a query is the answer it must give, exactly; without one, the query
must answer without errors. ``UPDATE_DOC_EXAMPLES=1`` rewrites the ```json blocks of docs/API.md
with the service's answers (review the diff).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from continuity.models import ContinuityOrder, SalesOrder
from tests.api.customers import make_customer, place
from tests.api.graphql import gql

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```(graphql|json)\n(.*?)```", re.DOTALL)
#: The numbers the examples quote (orders get random numbers; the world sets these).
NUMBERS = {
    "sales": ["SO-20270131-0000A001", "SO-20270131-0000A002"],
    "continuity": ["CO-20270131-0000B001", "CO-20270131-0000B002"],
}


@dataclass
class Example:
    query: str
    answer: str | None
    #: Where the answer's text is in the file (for UPDATE_DOC_EXAMPLES).
    span: tuple[int, int] | None


def examples(path: Path) -> list[Example]:
    text = path.read_text()
    found: list[Example] = []
    blocks = list(BLOCK.finditer(text))
    for index, block in enumerate(blocks):
        if block.group(1) != "graphql":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        paired = (
            following is not None
            and following.group(1) == "json"
            and not text[block.end() : following.start()].strip()
        )
        found.append(
            Example(
                query=block.group(2),
                answer=following.group(2) if paired and following else None,
                span=following.span(2) if paired and following else None,
            )
        )
    return found


def make_world(client: TestClient) -> None:
    ids = make_customer(client)
    book = place(client, ids, {"sku": "BOOKCLUB"})
    gift = place(client, ids, {"sku": "GIFTBOX6"})
    assert book["userErrors"] == gift["userErrors"] == []

    async def number() -> None:
        for placed, sales, continuity in zip(
            (book, gift), NUMBERS["sales"], NUMBERS["continuity"], strict=True
        ):
            await SalesOrder.filter(number=placed["salesOrder"]["number"]).update(number=sales)
            await ContinuityOrder.filter(number=placed["continuityOrders"][0]["number"]).update(
                number=continuity
            )

    client.portal.call(number)  # type: ignore[union-attr]
    gql(client, "mutation { runJob(input: {job: ALL}) { runs { id } } }")


def answer(client: TestClient, query: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def render(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def test_api_doc_examples_answer_as_shown(client: TestClient) -> None:
    path = ROOT / "docs" / "API.md"
    found = examples(path)
    assert len(found) >= 10
    assert sum(e.answer is not None for e in found) == len(found)  # every example shows its answer
    make_world(client)
    text = path.read_text()
    updates: list[tuple[tuple[int, int], str]] = []
    for example in found:
        body = answer(client, example.query)
        if os.environ.get("UPDATE_DOC_EXAMPLES") == "1" and example.span is not None:
            updates.append((example.span, render(body)))
            continue
        assert example.answer is not None
        assert body == json.loads(example.answer), example.query
    for (start, end), replacement in sorted(updates, reverse=True):
        text = text[:start] + replacement + text[end:]
    if updates:
        path.write_text(text)


@pytest.mark.parametrize("doc", ["README.md", "docs/NOTIFICATIONS.md"])
def test_other_graphql_examples_run(client: TestClient, doc: str) -> None:
    found = examples(ROOT / doc)
    assert found, f"no GraphQL example in {doc}"
    make_world(client)
    for example in found:
        body = answer(client, example.query)
        assert "errors" not in body, (example.query, body["errors"])
        if example.answer is not None:
            assert body == json.loads(example.answer), example.query
