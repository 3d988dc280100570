"""Dates people type and read: one parser, one example format, one range, one style per language.

Every date field is a date input, which sends 2027-03-14 (ISO) whatever the browser shows; where a
browser has no date picker, people type the same format, the example shown in every message. Years
outside 1900-2100 are refused with a message, never an OverflowError.

Every date or time a person reads is formatted here, in Europe/Oslo, in the reader's language, and
nowhere else (templates use the filters registered in server/app.make_environment). One style per
language: bokmål "4. desember 2026 kl. 10.30", English as in Britain "4 December 2026, 10:30" (day first,
24-hour clock; the UI language stays "en", only the formatting uses en_GB). One function per style:

    format_date        4. desember 2026             4 December 2026
    format_date_short  4. des. 2026                 4 Dec 2026                 (tables, lists)
    format_day         fredag 4. desember 2026      Friday 4 December 2026
    format_clock       10.30                        10:30
    format_datetime    4. desember 2026 kl. 10.30   4 December 2026, 10:30
    format_datetime_short  4. des. 2026 kl. 10.30   4 Dec 2026, 10:30          (tables, lists)
    format_when        fredag 4. desember 2026 kl. 10.30   Friday 4 December 2026, 10:30   (a meeting's start)
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timezone

from babel import Locale
from jinja2 import pass_context

from server.i18n import DEFAULT_LOCALE, N_, OSLO

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


# --- Showing dates: one style per language --------------------------------------------------

# The patterns (CLDR syntax) and the word between a date and its time, per UI language. English is
# formatted as en_GB: day first, 24-hour clock.
_STYLE = {
    "nb": {"locale": Locale.parse("nb"), "date": "d. MMMM y", "short": "d. MMM y", "day": "EEEE d. MMMM y",
           "clock": "HH.mm", "at": "{date} kl. {time}"},
    "en": {"locale": Locale.parse("en_GB"), "date": "d MMMM y", "short": "d MMM y", "day": "EEEE d MMMM y",
           "clock": "HH:mm", "at": "{date}, {time}"},
}


def _style(locale: str) -> dict:
    return _STYLE.get(locale) or _STYLE[DEFAULT_LOCALE]


def _in_oslo(value: date | datetime) -> datetime:
    """A datetime as Oslo wall-clock time; a plain date as midnight of that day (no time zone shift)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # stored naive values are UTC
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(OSLO)
    return datetime.combine(value, time())


def _names(locale: Locale) -> tuple[dict, dict, dict]:
    """The locale's wide and abbreviated month names and wide weekday names, from Babel (CLDR)."""
    months, days = locale.months["format"], locale.days["format"]
    # Plain dicts: Babel's LocaleDataDict resolves aliases on every lookup.
    return dict(months["wide"].items()), dict(months["abbreviated"].items()), dict(days["wide"].items())


def _compiled(style: dict) -> dict:
    """Each pattern of a style as a plain function of the Oslo datetime. Babel's own formatter parses the
    pattern on every call (about 40 µs); a clinic list formats hundreds of dates per page. The output is
    Babel's, letter for letter (tests/unit/test_dates.py compares them over decades of days and times)."""
    wide, short, weekday = _names(style["locale"])
    sep = "." if style["locale"].language == "nb" else ""
    clock = style["clock"][2]  # "." or ":" between hours and minutes
    return {
        "date": lambda v: f"{v.day}{sep} {wide[v.month]} {v.year}",
        "short": lambda v: f"{v.day}{sep} {short[v.month]} {v.year}",
        "day": lambda v: f"{weekday[v.weekday()]} {v.day}{sep} {wide[v.month]} {v.year}",
        "clock": lambda v: f"{v.hour:02d}{clock}{v.minute:02d}",
    }


_FAST = {name: _compiled(style) for name, style in _STYLE.items()}


def _format(value: date | datetime, locale: str, pattern: str) -> str:
    return (_FAST.get(locale) or _FAST[DEFAULT_LOCALE])[pattern](_in_oslo(value))


def _day_value(value: date | datetime | str | None) -> date | datetime | None:
    return stored_date(value) if isinstance(value, str) else value


def format_date(value: date | datetime | str | None, locale: str) -> str:
    """nb "4. desember 2026", en "4 December 2026" (the Oslo day). An ISO text (a stored plan date) is
    read first; a text that is no date is shown as it is."""
    day = _day_value(value)
    if day is None:
        return value if isinstance(value, str) else ""
    return _format(day, locale, "date")


def format_date_short(value: date | datetime | str | None, locale: str) -> str:
    """nb "4. des. 2026", en "4 Dec 2026": the same order with the month shortened, for tables and lists."""
    day = _day_value(value)
    if day is None:
        return value if isinstance(value, str) else ""
    return _format(day, locale, "short")


def format_day(value: date | datetime | None, locale: str) -> str:
    """nb "fredag 4. desember 2026", en "Friday 4 December 2026"."""
    return _format(value, locale, "day") if value is not None else ""


def format_clock(value: datetime | None, locale: str) -> str:
    """The time of day in Oslo: nb "10.30", en "10:30"; always two digits for the hour ("09.05", "00.00")."""
    return _format(value, locale, "clock") if value is not None else ""


def _joined(value: datetime | None, locale: str, date_pattern: str) -> str:
    if value is None:
        return ""
    return _style(locale)["at"].format(date=_format(value, locale, date_pattern), time=format_clock(value, locale))


def format_datetime(value: datetime | None, locale: str) -> str:
    """nb "4. desember 2026 kl. 10.30", en "4 December 2026, 10:30"."""
    return _joined(value, locale, "date")


def format_datetime_short(value: datetime | None, locale: str) -> str:
    """nb "4. des. 2026 kl. 10.30", en "4 Dec 2026, 10:30": for tables and lists."""
    return _joined(value, locale, "short")


def format_when(value: datetime | None, locale: str) -> str:
    """A meeting's start: nb "søndag 28. mars 2027 kl. 10.00", en "Sunday 28 March 2027, 10:00"."""
    return _joined(value, locale, "day")


# The filters take a style name; "medium" and "short" both mean the short style, "full" the day with its
# weekday, "long" (the default) the plain date.
_DATE_STYLES = {"long": format_date, "medium": format_date_short, "short": format_date_short, "full": format_day}
_DATETIME_STYLES = {"long": format_datetime, "medium": format_datetime, "short": format_datetime_short,
                    "full": format_when}


# --- Jinja filters (registered once, in server/app.make_environment); the reader's language is `lang` ---

@pass_context
def _date_filter(context, value, style: str = "long") -> str:
    return _DATE_STYLES[style](value, context.get("lang", DEFAULT_LOCALE))


@pass_context
def _datetime_filter(context, value, style: str = "long") -> str:
    return _DATETIME_STYLES[style](value, context.get("lang", DEFAULT_LOCALE))


@pass_context
def _when_filter(context, value) -> str:
    return format_when(value, context.get("lang", DEFAULT_LOCALE))


@pass_context
def _clock_filter(context, value) -> str:
    return format_clock(value, context.get("lang", DEFAULT_LOCALE))


FILTERS = {"date": _date_filter, "datetime": _datetime_filter, "when": _when_filter, "clock": _clock_filter}
