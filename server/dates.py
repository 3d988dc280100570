"""Dates people type and read: one parser, one example format, one range, one formatter per language.

Every date field is a date input, which sends 2027-03-14 (ISO) whatever the browser shows; where a
browser has no date picker, people type the same format, the example shown in every message. Years
outside 1900-2100 are refused with a message, never an OverflowError. Shown dates are Europe/Oslo, in
the reader's language (server/i18n.Formatter); templates use the filters registered in
server/app.make_environment.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time

from babel.dates import format_time
from jinja2 import pass_context

from server.i18n import DEFAULT_LOCALE, N_, OSLO, Formatter, translations

EXAMPLE_DATE = "2027-03-14"
MIN_YEAR, MAX_YEAR = 1900, 2100
INVALID_DATE = N_("Enter a real date, for example %(example)s.")
DATE_OUT_OF_RANGE = N_("Enter a year between %(min)s and %(max)s.")

_CLOCK = re.compile(r"^(\d{1,2})[:.](\d{2})(?::00)?$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class DateError(ValueError):
    """The text is not a date we accept; `message` is the msgid and `params` its values."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


def parse_date(raw: str | None) -> date:
    """2027-03-14 → a date between 1900 and 2100; anything else raises DateError."""
    iso = _ISO.match((raw or "").strip())
    if not iso:
        raise DateError(INVALID_DATE, example=EXAMPLE_DATE)
    year, month, day = (int(part) for part in iso.groups())
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


def parse_time(raw: str | None) -> time | None:
    """A clock time typed as 10:00 or 10.00 (Europe/Oslo), or None."""
    match = _CLOCK.match((raw or "").strip())
    if not match:
        return None
    hours, minutes = int(match.group(1)), int(match.group(2))
    return time(hours, minutes) if hours < 24 and minutes < 60 else None


def stored_date(value: object) -> date | None:
    """A date kept as ISO text in a JSON document (the plan), or None."""
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def format_date(value: date | datetime | str | None, locale: str, fmt: str = "long") -> str:
    """nb "4. desember 2026", en "December 4, 2026" (Europe/Oslo). An ISO text (a stored plan date) is
    read first; a text that is no date is shown as it is."""
    if isinstance(value, str):
        return Formatter(locale).date(stored_date(value), fmt) or value
    return Formatter(locale).date(value, fmt)


def format_datetime(value: datetime | None, locale: str, fmt: str = "medium") -> str:
    return Formatter(locale).datetime(value, fmt)


def format_clock(value: datetime, locale: str) -> str:
    """The time of day in Oslo: "10:30"."""
    return format_time(value, "short", tzinfo=OSLO, locale=locale)


def format_when(value: datetime, locale: str) -> str:
    """A meeting's start: nb "søndag 28. mars 2027 kl. 10:00", en "Sunday, March 28, 2027 at 10:00 AM"."""
    return translations(locale).gettext(N_("%(date)s at %(time)s")) % {
        "date": Formatter(locale).date(value, "full"), "time": format_clock(value, locale)}


# --- Jinja filters (registered once, in server/app.make_environment); the reader's language is `lang` ---

@pass_context
def _date_filter(context, value, fmt: str = "long") -> str:
    return format_date(value, context.get("lang", DEFAULT_LOCALE), fmt)


@pass_context
def _datetime_filter(context, value, fmt: str = "medium") -> str:
    return format_datetime(value, context.get("lang", DEFAULT_LOCALE), fmt)


@pass_context
def _when_filter(context, value) -> str:
    return format_when(value, context.get("lang", DEFAULT_LOCALE)) if value else ""


@pass_context
def _clock_filter(context, value) -> str:
    return format_clock(value, context.get("lang", DEFAULT_LOCALE)) if value else ""


FILTERS = {"date": _date_filter, "datetime": _datetime_filter, "when": _when_filter, "clock": _clock_filter}
