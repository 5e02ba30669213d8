"""Model definitions that the migration tooling can handle on every backend."""

from __future__ import annotations

import inspect

import pytest
from tortoise.models import Model

from continuity import models

MODELS = [
    value
    for value in vars(models).values()
    if inspect.isclass(value) and issubclass(value, Model) and value is not Model
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_descriptions_have_no_semicolon(model: type[Model]) -> None:
    """Tortoise turns ``#:`` comments and docstrings into SQL comments, and its SQLite
    migration runner splits statements on ``;``: a semicolon there breaks ``migrate``."""
    texts = {"docstring": model.__doc__ or ""}
    texts.update({name: field.description or "" for name, field in model._meta.fields_map.items()})
    assert {name: text for name, text in texts.items() if ";" in text} == {}
