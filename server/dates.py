"""Dates people type and read: one parser, one example format, one range, one formatter per language.

People type a date as 14.03.2027 (day.month.year, the example shown in every message); a date input
sends 2027-03-14 (ISO), which is accepted too. Years outside 1900-2100 are refused with a message,
never an OverflowError. Shown dates are Europe/Oslo, in the reader's language (server/i18n.Formatter);
templates use the filters registered in server/app.make_environment.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from server.i18n import N_, Formatter

EXAMPLE_DATE = "14.03.2027"
MIN_YEAR, MAX_YEAR = 1900, 2100
INVALID_DATE = N_("Enter a real date, for example %(example)s.")
DATE_OUT_OF_RANGE = N_("Enter a year between %(min)s and %(max)s.")

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TYPED = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


class DateError(ValueError):
    """The text is not a date we accept; `message` is the msgid and `params` its values."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


def parse_date(raw: str | None) -> date:
    """14.03.2027 or 2027-03-14 → a date between 1900 and 2100; anything else raises DateError."""
    text = (raw or "").strip()
    iso, typed = _ISO.match(text), _TYPED.match(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
    elif typed:
        day, month, year = (int(part) for part in typed.groups())
    else:
        raise DateError(INVALID_DATE, example=EXAMPLE_DATE)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DateError(DATE_OUT_OF_RANGE, min=MIN_YEAR, max=MAX_YEAR)
    try:
        return date(year, month, day)
    except ValueError:
        raise DateError(INVALID_DATE, example=EXAMPLE_DATE) from None


def parse_date_or_none(raw: str | None) -> date | None:
    try:
        return parse_date(raw)
    except DateError:
        return None


def stored_date(value: object) -> date | None:
    """A date kept as ISO text in a JSON document (the plan), or None."""
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def format_date(value: date | datetime | None, locale: str, fmt: str = "long") -> str:
    """nb "4. desember 2026", en "December 4, 2026" (Europe/Oslo)."""
    return Formatter(locale).date(value, fmt)


def format_datetime(value: datetime | None, locale: str, fmt: str = "medium") -> str:
    return Formatter(locale).datetime(value, fmt)


def example_date() -> str:
    return EXAMPLE_DATE
