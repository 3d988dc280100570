"""One date style per language, from one module: bokmål "4. desember 2026 kl. 10.30", English as in
Britain "4 December 2026, 10:30" (day first, 24-hour clock), always in Oslo time."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from jinja2 import Environment

from server.dates import (
    FILTERS,
    format_clock,
    format_date,
    format_date_short,
    format_datetime,
    format_datetime_short,
    format_day,
    format_when,
)
from server.i18n import OSLO

HALF_PAST_TEN = datetime(2026, 12, 4, 9, 30, tzinfo=timezone.utc)  # 10:30 in Oslo (winter, UTC+1)
FIVE_PAST_NINE = datetime(2026, 12, 4, 9, 5, tzinfo=OSLO)
MIDNIGHT = datetime(2026, 12, 4, 0, 0, tzinfo=OSLO)
SUMMER = datetime(2027, 6, 14, 8, 0, tzinfo=timezone.utc)  # 10:00 in Oslo (summer, UTC+2)


@pytest.mark.parametrize(("function", "nb", "en"), [
    (format_date, "4. desember 2026", "4 December 2026"),
    (format_date_short, "4. des. 2026", "4 Dec 2026"),
    (format_day, "fredag 4. desember 2026", "Friday 4 December 2026"),
    (format_clock, "10.30", "10:30"),
    (format_datetime, "4. desember 2026 kl. 10.30", "4 December 2026, 10:30"),
    (format_datetime_short, "4. des. 2026 kl. 10.30", "4 Dec 2026, 10:30"),
    (format_when, "fredag 4. desember 2026 kl. 10.30", "Friday 4 December 2026, 10:30"),
])
def test_each_style_in_both_languages(function, nb, en):
    assert function(HALF_PAST_TEN, "nb") == nb
    assert function(HALF_PAST_TEN, "en") == en


def test_english_is_day_first_with_a_24_hour_clock():
    assert format_datetime(datetime(2026, 12, 4, 14, 15, tzinfo=OSLO), "en") == "4 December 2026, 14:15"
    assert "PM" not in format_when(datetime(2026, 12, 4, 14, 15, tzinfo=OSLO), "en")


def test_a_time_before_ten_keeps_two_digits():
    assert format_clock(FIVE_PAST_NINE, "nb") == "09.05" and format_clock(FIVE_PAST_NINE, "en") == "09:05"
    assert format_datetime(FIVE_PAST_NINE, "nb") == "4. desember 2026 kl. 09.05"
    assert format_datetime(FIVE_PAST_NINE, "en") == "4 December 2026, 09:05"


def test_midnight_is_the_start_of_the_day_it_begins():
    assert format_datetime(MIDNIGHT, "nb") == "4. desember 2026 kl. 00.00"
    assert format_datetime(MIDNIGHT, "en") == "4 December 2026, 00:00"
    # 23:30 UTC on 3 December is already 00:30 on 4 December in Oslo
    just_after = datetime(2026, 12, 3, 23, 30, tzinfo=timezone.utc)
    assert format_date(just_after, "nb") == "4. desember 2026" and format_clock(just_after, "en") == "00:30"


def test_summer_time_is_two_hours_ahead_of_utc():
    assert format_when(SUMMER, "nb") == "mandag 14. juni 2027 kl. 10.00"
    assert format_when(SUMMER, "en") == "Monday 14 June 2027, 10:00"


def test_a_plain_date_and_a_stored_iso_text_are_the_same_day():
    assert format_date(date(2027, 3, 14), "en") == "14 March 2027"
    assert format_date("2027-03-14", "nb") == "14. mars 2027"
    assert format_date("etter sommeren", "nb") == "etter sommeren" and format_date(None, "nb") == ""


def test_an_unknown_language_falls_back_to_bokmal():
    assert format_date(HALF_PAST_TEN, "de") == "4. desember 2026"


@pytest.mark.parametrize(("source", "nb", "en"), [
    ("{{ at | date }}", "4. desember 2026", "4 December 2026"),
    ('{{ at | date("medium") }}', "4. des. 2026", "4 Dec 2026"),
    ('{{ at | date("full") }}', "fredag 4. desember 2026", "Friday 4 December 2026"),
    ("{{ at | datetime }}", "4. desember 2026 kl. 10.30", "4 December 2026, 10:30"),
    ('{{ at | datetime("short") }}', "4. des. 2026 kl. 10.30", "4 Dec 2026, 10:30"),
    ("{{ at | when }}", "fredag 4. desember 2026 kl. 10.30", "Friday 4 December 2026, 10:30"),
    ("{{ at | clock }}", "10.30", "10:30"),
    ("{{ none | when }}{{ none | clock }}{{ none | datetime }}", "", ""),
])
def test_the_template_filters_use_the_readers_language(source, nb, en):
    env = Environment(autoescape=True)
    env.filters.update(FILTERS)
    template = env.from_string(source)
    assert template.render(at=HALF_PAST_TEN, none=None, lang="nb") == nb
    assert template.render(at=HALF_PAST_TEN, none=None, lang="en") == en


def test_the_fast_formatters_write_what_babel_writes_for_every_day_and_many_times():
    """Dates are formatted without Babel's per-call pattern parsing (a clinic list shows hundreds); every
    style must still read letter for letter as Babel's CLDR formatting: each day of 1995-2035 (every month
    name, weekday and leap day) and times every 37 minutes across both daylight-saving changes of 2026."""
    from datetime import timedelta

    from babel.dates import format_datetime as babel_format

    from server.dates import _format, _in_oslo, _style

    def _format_by_babel(value, locale: str, pattern: str) -> str:
        style = _style(locale)
        return babel_format(_in_oslo(value), style[pattern], locale=style["locale"])

    days = [date(1995, 1, 1) + timedelta(days=n) for n in range((date(2035, 12, 31) - date(1995, 1, 1)).days)]
    instants = [datetime(2026, 3, 27, tzinfo=timezone.utc) + timedelta(minutes=37 * n) for n in range(600)]
    instants += [datetime(2026, 10, 23, tzinfo=timezone.utc) + timedelta(minutes=37 * n) for n in range(600)]
    for locale in ("nb", "en", "xx"):
        for day in days[::3]:
            for pattern in ("date", "short", "day"):
                assert _format(day, locale, pattern) == _format_by_babel(day, locale, pattern), (day, locale)
        for instant in instants:
            for pattern in ("date", "short", "day", "clock"):
                assert _format(instant, locale, pattern) == _format_by_babel(instant, locale, pattern), (instant,)
