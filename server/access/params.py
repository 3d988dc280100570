"""Bounded integers from URLs: every id and number fits the database's 32-bit integer columns.

The request middleware applies these to every route (path ids out of range are a 404, integer
query parameters that are not plain ASCII digits in range are a 400); routes that read a number
from a text query parameter use query_int().
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, get_args

MAX_INT = 2**31 - 1  # PostgreSQL `integer`: ids, numbers, pages
_DIGITS = re.compile(r"[0-9]{1,10}")  # ASCII only: "²" and "٣" are digits to str.isdigit(), not to us


def query_int(value: str | None, default: int | None = None, *, lo: int = 1, hi: int = MAX_INT) -> int | None:
    """A number from a query parameter: ASCII digits within lo..hi, else `default`."""
    text = (value or "").strip()
    if not _DIGITS.fullmatch(text):
        return default
    number = int(text)
    return number if lo <= number <= hi else default


def path_ids_in_range(path_params: dict[str, Any]) -> bool:
    """Integer path parameters name rows: 1..MAX_INT, or there is no such page."""
    return all(1 <= value <= MAX_INT for value in path_params.values()
               if isinstance(value, int) and not isinstance(value, bool))


@cache
def int_query_names(handler) -> tuple[str, ...]:
    """The query parameter names a handler reads as int (by their annotation)."""
    path_names = _path_names(handler)
    names = []
    for name, field in handler.parsed_fn_signature.parameters.items():
        if name in path_names or name in ("request", "data", "scope", "state", "headers", "cookies"):
            continue
        if field.annotation is int or int in get_args(field.annotation):
            alias = getattr(field.kwarg_definition, "query", None)
            names.append(alias or name)
    return tuple(names)


def _path_names(handler) -> set[str]:
    return {part.split(":")[0] for path in handler.paths for part in re.findall(r"\{([^}]+)\}", path)}


def query_ints_valid(handler, query: dict[str, list[str]]) -> bool:
    for name in int_query_names(handler):
        for value in query.get(name, []):
            if value != "" and query_int(value, lo=0) is None:
                return False
    return True
