"""One check of every argument against the outer bounds of ``continuity.limits``, whatever
the input type: resolvers call ``check_input`` first, so a new input field is covered without
anyone remembering to add a check."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

from continuity.errors import InvalidInput
from continuity.limits import check_date, check_items, check_text


@cache
def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def check_input(value: Any, field: Sequence[str]) -> None:
    """Walk a strawberry input (dataclass), list or scalar; raise ``InvalidInput`` with the
    GraphQL path of the first value out of bounds."""
    if value is None or isinstance(value, bool | int | float):
        return
    path = list(field)
    if isinstance(value, str):
        check_text(value, path)
    elif isinstance(value, date) and not isinstance(value, datetime):
        check_date(value, path)
    elif isinstance(value, list | tuple):
        check_items(len(value), path)
        for index, item in enumerate(value):
            check_input(item, [*path, str(index)])
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for item in dataclasses.fields(value):
            child = getattr(value, item.name)
            if child is not None:  # most optional fields are left out: no path for them
                check_input(child, [*path, _camel(item.name)])


def check_arguments(**arguments: Any) -> None:
    """``check_input`` over a query's keyword arguments, each named by its GraphQL name."""
    for name, value in arguments.items():
        check_input(value, [_camel(name)])


def one_of(**arguments: Any) -> None:
    """A look-up takes exactly one of its keys (``id`` or ``number``): ``InvalidInput``
    otherwise, naming them."""
    given = [name for name, value in arguments.items() if value is not None]
    if len(given) != 1:
        names = " or ".join(_camel(name) for name in arguments)
        raise InvalidInput(f"give exactly one of {names}", field=[_camel(n) for n in given][:1])
