"""The form layer (server/forms.py) and the dates module (server/dates.py)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from litestar.datastructures import FormMultiDict

from server.access.forms import StaffForm
from server.dates import EXAMPLE_DATE, DateError, format_date, parse_date, parse_time
from server.forms import Form, ListField, date_field, has_control_characters, text
from server.meetings.invitations import AnswerForm
from server.meetings.schedule_forms import ScheduleForm
from server.meetings.wishes_forms import NavForm, PlaceForm
from server.pathway.forms import PatientForm, StageMoveForm
from server.plan.forms import GoalsForm, MeasureForm, PublishForm
from server.plan.view import NoteForm


class Sample(Form):
    name = text(required="Enter the patient's full name.", max=10)
    note = text(max=20, multiline=True)
    day = date_field()
    topics = ListField()


# --- One wording for one rule ---------------------------------------------------------------------

TOO_LONG = {"en": "This can be at most {} characters.", "nb": "Dette kan ha høyst {} tegn."}


@pytest.mark.parametrize("locale", ["en", "nb"])
@pytest.mark.parametrize("form_class,field,limit", [
    (PatientForm, "name", 200), (StaffForm, "name", 200), (AnswerForm, "comment", 1000),
    (AnswerForm, "proposed_time", 200), (NavForm, "part_note", 200), (PlaceForm, "note", 2000),
    (ScheduleForm, "clinic_note", 2000), (ScheduleForm, "video_link", 500), (ScheduleForm, "p2_name", 200),
    (MeasureForm, "title", 200), (MeasureForm, "timeframe", 100), (GoalsForm, "g0", 300),
    (PublishForm, "change_note", 500), (NoteForm, "note", 1000), (StageMoveForm, "reason", 2000),
])
def test_every_form_says_too_long_the_same_way(locale, form_class, field, limit):
    start = "https://meet.example.no/" if field == "video_link" else ""
    form = form_class({field: start + "x" * (limit + 1 - len(start))}, locale=locale)
    form.validate()
    assert form.error_map[field] == TOO_LONG[locale].format(limit)
    fits = form_class({field: start + "x" * (limit - len(start))}, locale=locale)
    fits.validate()
    assert field not in fits.error_map


NOT_ALLOWED = {"en": "The text contains characters that are not allowed. Remove them and try again.",
               "nb": "Teksten inneholder tegn som ikke er tillatt. Fjern dem og prøv igjen."}


@pytest.mark.parametrize("locale", ["en", "nb"])
@pytest.mark.parametrize("form_class,field", [
    (PatientForm, "name"), (StaffForm, "name"), (AnswerForm, "comment"), (PlaceForm, "note"),
    (ScheduleForm, "clinic_note"), (MeasureForm, "title"), (NoteForm, "note"), (StageMoveForm, "note"),
    (PatientForm, "birth_date"),
])
def test_every_form_refuses_control_characters_with_the_same_message(locale, form_class, field):
    form = form_class({field: "a\x00b"}, locale=locale)
    form.validate()
    assert form.error_map[field] == NOT_ALLOWED[locale]
    assert form.values[field] == "a\x00b"  # shown again as typed
    assert form.has_forbidden_text()


@pytest.mark.parametrize("locale,message", [("en", "Enter a real date, for example 2027-03-14."),
                                            ("nb", "Skriv inn en gyldig dato, for eksempel 2027-03-14.")])
@pytest.mark.parametrize("form_class,field", [(PatientForm, "birth_date"), (MeasureForm, "start"),
                                              (ScheduleForm, "date")])
def test_every_date_field_says_the_same_with_one_example(locale, message, form_class, field):
    form = form_class({field: "31.02.2027"}, locale=locale)
    form.validate()
    assert form.error_map[field] == message


# --- Control characters ---------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["\x00", "a\x07", "\x1b[31m", "x\x7f", "\x85", "tab\there"])
def test_one_line_refuses_control_characters_and_tabs(value):
    assert has_control_characters(value)


def test_several_lines_keep_line_breaks_and_tabs_but_not_other_controls():
    assert not has_control_characters("line 1\r\nline 2\tend", multiline=True)
    assert has_control_characters("line 1\x00", multiline=True)
    assert not has_control_characters("Æøå – «norsk» ✓ 😀")


def test_the_control_character_check_runs_before_the_others():
    form = Sample({"name": "\x00" * 50}, locale="en")
    assert not form.validate()
    assert form.error_map == {"name": NOT_ALLOWED["en"]}


# --- The adapter: Litestar's form data into a form ----------------------------------------------

def test_a_multi_dict_gives_every_value_of_a_repeated_field_and_the_first_of_a_single_one():
    data = FormMultiDict([("name", " Ola "), ("name", "second"), ("topics", "work"), ("topics", "sleep"),
                          ("note", "a\r\nb")])
    form = Sample(data, locale="en")
    assert form.validate()
    assert form.topics.data == ["work", "sleep"]
    assert form.values["name"] == " Ola " and form.clean("name") == "Ola"
    assert form.clean("note") == "a\nb"


def test_a_plain_dict_with_lists_works_the_same():
    form = Sample({"name": "Ola", "topics": ["work", "sleep"]}, locale="en")
    assert form.validate() and form.topics.data == ["work", "sleep"]
    assert Sample({"name": "Ola", "topics": "work"}, locale="en").topics.data == ["work"]


def test_a_missing_field_is_empty_and_a_huge_one_is_cut_to_what_can_be_shown():
    form = Sample({"note": "y" * 50_000}, locale="en")
    assert not form.validate()
    assert form.error_map["name"] == "Enter the patient's full name."
    assert len(form.values["note"]) == 10_000


def test_a_new_form_shows_its_prefilled_values():
    assert Sample(initial={"name": "Kari"}).values["name"] == "Kari"


def test_errors_from_rules_across_fields_come_in_the_error_map():
    form = Sample({"name": "Ola"}, locale="nb")
    form.validate()
    form.add_error("note", "This can be at most %(max)s characters.", max=5)
    form.add_error("conflict", "Choose a status.")
    assert form.error_map == {"conflict": "Velg en status.", "note": "Dette kan ha høyst 5 tegn."}


# --- Dates ---------------------------------------------------------------------------------------

def test_the_one_date_format_is_parsed():
    assert parse_date("2027-03-14") == date(2027, 3, 14)
    assert parse_date(" 2027-3-4 ") == date(2027, 3, 4)
    assert EXAMPLE_DATE == "2027-03-14" and parse_date(EXAMPLE_DATE)


@pytest.mark.parametrize("raw", ["", "soon", "14.03.2027", "2027-02-30", "2027-13-01", "20270314", "27-03-14"])
def test_anything_else_is_not_a_date(raw):
    with pytest.raises(DateError) as caught:
        parse_date(raw)
    assert caught.value.message == "Enter a real date, for example %(example)s."


@pytest.mark.parametrize("raw", ["0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31"])
def test_years_outside_1900_to_2100_are_refused_with_a_message(raw):
    with pytest.raises(DateError) as caught:
        parse_date(raw)
    assert str(caught.value) == "Enter a year between 1900 and 2100."
    form = PatientForm({"birth_date": raw}, locale="nb")
    form.validate()
    assert form.error_map["birth_date"] == "Skriv inn et årstall mellom 1900 og 2100."


def test_the_edges_of_the_range_are_dates():
    assert parse_date("1900-01-01") == date(1900, 1, 1) and parse_date("2100-12-31") == date(2100, 12, 31)


def test_times_are_hours_and_minutes():
    assert parse_time("9.15").hour == 9 and parse_time("10:00:00").minute == 0
    assert parse_time("24:00") is None and parse_time("ten") is None


def test_dates_are_shown_in_the_readers_language_in_oslo():
    late_evening_utc = datetime(2026, 12, 3, 23, 30, tzinfo=timezone.utc)  # 4 December in Oslo
    assert format_date(late_evening_utc, "nb") == "4. desember 2026"
    assert format_date(late_evening_utc, "en") == "4 December 2026"
