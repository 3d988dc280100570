"""Related rows as JSON inside one statement, read back as the models' own (transient) objects.

On PostgreSQL every statement of a page costs its round trip and SQLAlchemy's execution path (about a
third of a millisecond of CPU; docs/performance.md, round 6). A page that shows a patient with their
meetings and plan can have those rows as JSON columns of the patient's own row: `json_object(Model)` is
one row as a JSON object (its column attributes by name, plus any nested values given), `json_array(...)`
aggregates such objects, and `objects(Model, data)` / `one(Model, data)` turn the decoded JSON back into
instances of the model with the same Python values its columns give (UTC datetimes, dates, booleans,
JSON documents).

The objects are transient: never added to a session, never written. Use them for reading only.
SQL: PostgreSQL's json_build_object / json_agg; SQLite's json_object / json_group_array, with json()
around nested JSON (SQLite keeps JSON text as text otherwise). Aggregates have no order: sort in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cache
from typing import Any, Callable, TypeVar

from sqlalchemy import JSON, Boolean, Date, inspect, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from server.db import UTCDateTime

T = TypeVar("T")


def _json_function(name: str, sqlite: str, postgresql: str) -> type[FunctionElement]:
    """A JSON-valued SQL function, compiled as `sqlite(...)` on SQLite and `postgresql(...)` on PostgreSQL
    (an empty name: the argument alone)."""
    element = type(name, (FunctionElement,), {"type": JSON(), "inherit_cache": True})

    def compiled_as(function: str):
        def compile_(element, compiler, **kw):
            arguments = compiler.process(element.clauses, **kw)
            return f"{function}({arguments})" if function else arguments
        return compile_

    compiles(element)(compiled_as(sqlite))
    compiles(element, "postgresql")(compiled_as(postgresql))
    return element


_object = _json_function("_object", "json_object", "json_build_object")
_array = _json_function("_array", "json_group_array", "json_agg")
# A JSON value (a JSON column, a subquery giving JSON) kept as JSON inside an object: SQLite keeps JSON
# text as a string unless it passes through json().
_nested = _json_function("_nested", "json", "")


def _columns(model) -> list[tuple[str, Any]]:
    """(attribute name, column) of every column attribute of the model."""
    return [(attr.key, attr.columns[0]) for attr in inspect(model).column_attrs]


def json_object(model, keys: tuple[str, ...] | None = None, **nested: ColumnElement) -> ColumnElement:
    """The current row of `model` (as it appears in the enclosing FROM) as a JSON object of its columns (or
    only `keys`, to read as plain dicts); `nested` adds keys whose values are JSON (e.g. a scalar subquery
    of `json_array`)."""
    parts: list[Any] = []
    for key, column in _columns(model):
        if keys is not None and key not in keys:
            continue
        parts += [literal_column(f"'{key}'"), _nested(column) if isinstance(column.type, JSON) else column]
    for key, value in nested.items():
        parts += [literal_column(f"'{key}'"), _nested(value)]
    return _object(*parts)


def json_array(element: ColumnElement) -> ColumnElement:
    """The aggregate of `element` over the rows of the statement: a JSON array (SQLite: [] when there are
    no rows; PostgreSQL: null — `objects` reads both as no objects)."""
    return _array(element)


def _utc(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def _converter(column) -> Callable[[Any], Any] | None:
    if isinstance(column.type, UTCDateTime):
        return _utc
    if isinstance(column.type, Date):
        return date.fromisoformat
    if isinstance(column.type, Boolean):
        return bool
    return None


@dataclass(frozen=True)
class _Plan:
    manager: Any  # the model's ClassManager: makes an instance without running its constructor
    columns: list[tuple[str, Callable[[Any], Any] | None]]  # attribute, converter of the JSON value
    back: dict[str, str | None]  # relationship -> the attribute on the other side that points back


@cache
def _plan(model) -> _Plan:
    mapper = inspect(model)
    return _Plan(mapper.class_manager, [(key, _converter(column)) for key, column in _columns(model)],
                 {rel.key: rel.back_populates for rel in mapper.relationships})


def one(model: type[T], data: dict | None, **relations: Any) -> T | None:
    """A transient `model` from one decoded JSON object (None stays None); `relations` (objects made here)
    are set on it, and each of them points back to it (`participant.meeting`), as a load would give.

    Built as the ORM's own loading builds an object (a new instance, its attributes written to its
    __dict__), not through the constructor and its attribute events: a home page makes ~25 of these, and
    the constructor cost ~15 µs each."""
    if data is None:
        return None
    plan = _plan(model)
    instance = plan.manager.new_instance()
    values = instance.__dict__
    for key, convert in plan.columns:
        value = data[key]
        values[key] = convert(value) if convert is not None and value is not None else value
    for key, related in relations.items():
        values[key] = related
        back = plan.back[key]
        if back:
            for item in related if isinstance(related, list) else () if related is None else (related,):
                item.__dict__[back] = instance
    return instance


def objects(model: type[T], data: list | None) -> list[T]:
    """Transient `model`s from a decoded JSON array (None: none)."""
    return [one(model, item) for item in data or []]
