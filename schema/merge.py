"""Root types assembled from one type per area (``strawberry.tools.merge_types``), with two
things ``merge_types`` does not do: a description, and refusing a field declared twice (it
would only warn, and the first declaration would silently win)."""

from __future__ import annotations

import warnings
from typing import Any

from strawberry.tools import merge_types


def merged(name: str, types: tuple[type, ...], description: str) -> type[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a duplicated field name is a bug, not a warning
        root = merge_types(name, types)
    root.__strawberry_definition__.description = description  # type: ignore[attr-defined]
    return root
