"""Rows read with hand-written SQL, made into the ORM's model objects.

A list page, a join (``sql.model_from_row``) or a compiled look-up reads its rows as dicts and
builds the models Tortoise would have built for the same rows. Tortoise's own
``Model._init_from_db`` costs ~15 µs for an order's row: four bookkeeping attributes through
the model's ``__setattr__``, the time zone setting read from the environment for every
timestamp, a method call per enum, and on SQLite ``iso8601`` parsing of every date and
timestamp. Half the CPU of the agent's order list (50 orders, 150 lines) went there. A
``_Builder`` is made once per model: it writes the same attributes straight into the object's
``__dict__`` and converts only the columns that need it, with the standard library's
``fromisoformat`` for SQLite's text. The objects are equal to Tortoise's, attribute for
attribute (``tests/test_rows.py``), and save, refresh and compare as they do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import Enum
from functools import cache, lru_cache
from typing import Any, Generic, TypeVar, cast

from tortoise import timezone
from tortoise.fields import DateField, DatetimeField
from tortoise.fields.data import CharEnumFieldInstance, IntEnumFieldInstance
from tortoise.models import Model
from tortoise.queryset import QuerySet

from continuity.connection import connection

M = TypeVar("M", bound=Model)


def model_of(model: type[M], row: Mapping[str, Any]) -> M:
    """The model object of ``row`` (its values by column), as Tortoise's queries build it."""
    return _builder(model).build(row, _Zone.current())


async def select(query: QuerySet[M]) -> list[M]:
    """The objects of a plain Tortoise query (filters, order, limit; no ``select_related``
    or ``prefetch_related``), its statement run as Tortoise would and its rows built here:
    Tortoise's executor parses SQLite's dates with ``iso8601`` and builds each object through
    ``_init_from_db``, most of what a page or a batch of look-ups costs."""
    query.sql()  # makes the statement (``query.query``) without running it
    sql, values = query.query.get_parameterized_sql()
    _, rows = await connection().execute_query(sql, values)
    return models_from(query.model, rows)


def models_from(model: type[M], rows: Sequence[Any]) -> list[M]:
    """``models_of`` for the driver's own rows (``sqlite3.Row``, asyncpg's ``Record``), each
    value read by its position: a look-up by name in a ``sqlite3.Row`` scans its column names
    (an order's row built from one took twice as long as from a dict), and making every row a
    dict first was a twentieth of the order list's CPU."""
    if not rows:
        return []
    builder = _positional(model, tuple(rows[0].keys()))
    if builder is None:
        return models_of(model, row_dicts(rows) if type(rows[0]) is sqlite3.Row else rows)
    zone = _Zone.current()
    return [builder.build(row, zone) for row in rows]


def row_dicts(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """``[dict(row) for row in rows]`` for ``sqlite3.Row`` rows, the names read once."""
    if not rows:
        return []
    names = tuple(rows[0].keys())
    if not _distinct(names):
        # a name twice (``Row`` matches names ignoring case): ``dict(row)`` gives each the
        # value of its first column
        return [dict(row) for row in rows]
    return [dict(zip(names, row, strict=True)) for row in rows]


@lru_cache(maxsize=512)
def _distinct(names: tuple[str, ...]) -> bool:
    """No two column names alike ignoring case (asked once per statement's columns)."""
    return len({name.lower() for name in names}) == len(names)


def models_of(model: type[M], rows: Sequence[Mapping[str, Any]]) -> list[M]:
    """``model_of`` for each row, the time zone setting read once."""
    builder, zone = _builder(model), _Zone.current()
    return [builder.build(row, zone) for row in rows]


@dataclass(frozen=True)
class _Zone:
    """Tortoise's time zone settings (``use_tz``, ``timezone``), read once per call: Tortoise
    reads the environment for every timestamp it converts."""

    use_tz: bool
    tz: tzinfo

    @classmethod
    def current(cls) -> _Zone:
        return cls(timezone.get_use_tz(), timezone.get_default_timezone())


def _date(field: DateField[Any], value: Any) -> Any:
    if value is None or type(value) is date:
        return value
    if type(value) is str:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    return field.to_python_value(value)


def _datetime(field: DatetimeField[Any], value: Any, zone: _Zone) -> Any:
    """``DatetimeField.to_python_value`` for an aware timestamp (what both backends store),
    without its per-value settings reads; anything else is left to it."""
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return field.to_python_value(value)
        if parsed.tzinfo is None:  # a naive one: Tortoise's rule for it
            return field.to_python_value(value)
        value = parsed
    if type(value) is not datetime or value.tzinfo is None:
        return value if value is None else field.to_python_value(value)
    return value.astimezone(zone.tz) if zone.use_tz else value.replace(tzinfo=None)


def _enum(enum_type: type[Enum]) -> Callable[[Any], Any]:
    """``enum_type(value)`` through the enum's own value map first: the call costs ~1 µs,
    the look-up a tenth of it (two enums a row on every list page)."""
    members = enum_type._value2member_map_

    def convert(value: Any) -> Any:
        if value is None:
            return None
        member = members.get(value)
        return member if member is not None else enum_type(value)

    return convert


class _Builder(Generic[M]):
    """How one model's rows become objects: ``_init_from_db``'s three field groups, with the
    complex group's common converters written out."""

    def __init__(self, model: type[M], at: Callable[[str], Any] = lambda column: column) -> None:
        """``at(column)`` is where a row holds the column: its name (rows by name), or its
        position (``_positional``)."""
        meta = model._meta
        self.model = model
        self.native = tuple((at(key), name) for key, name, _ in meta.db_native_fields)
        self.typed = tuple(
            (at(key), name, field.field_type) for key, name, field in meta.db_default_fields
        )
        simple: list[tuple[Any, str, Callable[[Any], Any]]] = []
        dates: list[tuple[Any, str, DateField[Any]]] = []
        stamps: list[tuple[Any, str, DatetimeField[Any]]] = []
        for column, name, field in meta.db_complex_fields:
            key = at(column)
            if isinstance(field, DatetimeField):
                stamps.append((key, name, field))
            elif isinstance(field, DateField):
                dates.append((key, name, field))
            elif isinstance(field, CharEnumFieldInstance | IntEnumFieldInstance):
                simple.append((key, name, _enum(field.enum_type)))
            else:
                simple.append((key, name, field.to_python_value))
        self.simple, self.dates, self.stamps = tuple(simple), tuple(dates), tuple(stamps)
        self.custom_pk = meta.db_pk_column not in meta.generated_db_fields

    def build(self, row: Mapping[str, Any], zone: _Zone) -> M:
        obj = self.model.__new__(self.model)
        values = obj.__dict__
        values["_partial"] = False
        values["_saved_in_db"] = True
        values["_custom_generated_pk"] = self.custom_pk
        values["_await_when_save"] = {}
        try:
            for key, name in self.native:
                values[name] = row[key]
            for key, name, kind in self.typed:
                value = row[key]
                values[name] = None if value is None else kind(value)
            for key, name, convert in self.simple:
                values[name] = convert(row[key])
            for key, name, date_field in self.dates:
                values[name] = _date(date_field, row[key])
            for key, name, stamp_field in self.stamps:
                values[name] = _datetime(stamp_field, row[key], zone)
        except LookupError:  # some columns only: Tortoise's partial model
            return self.model._init_from_db(**dict(row))
        return obj


def _builder(model: type[M]) -> _Builder[M]:
    return cast(_Builder[M], _builders(model))


@cache
def _builders(model: type[Model]) -> _Builder[Any]:
    return _Builder(model)


@lru_cache(maxsize=512)
def _positional(model: type[M], columns: tuple[str, ...]) -> _Builder[M] | None:
    """The builder of ``model`` for rows of ``columns`` read by position, made once per
    statement's columns; ``None`` when a column of the model is missing (a partial model:
    Tortoise builds it) or when two columns' names differ only in case (a row by name reads
    the first of them; ``row_dicts`` has the rule)."""
    if not _distinct(columns):
        return None
    positions = {column: index for index, column in enumerate(columns)}
    if not all(column in positions for column in model._meta.fields_db_projection.values()):
        return None
    return _Builder(model, positions.__getitem__)
