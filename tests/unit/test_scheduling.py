"""Scheduling rules: Oslo time across daylight saving, the 26-week rule, the form's checks, the .ics file."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from server.meetings import ics
from server.meetings.models import Meeting
from server.meetings.schedule_forms import (
    NonexistentTime,
    Slot,
    needs_late_reason,
    oslo_to_utc,
    prefill,
    validate_order,
    validate_schedule,
    validate_when,
    video_link_error,
)
from tests.helpers import calendar_event, utc_time

UTC = timezone.utc
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


# --- Europe/Oslo <-> UTC --------------------------------------------------------------------

def test_last_sunday_of_march_is_summer_time_after_the_change():
    assert oslo_to_utc(date(2027, 3, 28), time(10, 0)) == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
    assert oslo_to_utc(date(2027, 3, 28), time(1, 30)) == datetime(2027, 3, 28, 0, 30, tzinfo=UTC)


def test_last_sunday_of_october_is_winter_time_after_the_change():
    assert oslo_to_utc(date(2027, 10, 31), time(10, 0)) == datetime(2027, 10, 31, 9, 0, tzinfo=UTC)


def test_a_time_in_the_spring_gap_does_not_exist():
    with pytest.raises(NonexistentTime):
        oslo_to_utc(date(2027, 3, 28), time(2, 30))
    errors: dict[str, str] = {}
    assert validate_when({"date": "2027-03-28", "time": "02:30", "duration": "60"}, errors, NOW) is None
    assert "clocks go forward" in errors["time"]


def test_the_repeated_autumn_hour_means_its_first_occurrence():
    assert oslo_to_utc(date(2027, 10, 31), time(2, 30)) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    errors: dict[str, str] = {}
    assert validate_when({"date": "2027-10-31", "time": "02:30", "duration": "60"}, errors, NOW) \
        == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert errors == {}


@pytest.mark.parametrize("form,field", [
    ({"date": "2026-11-22", "time": "10:00", "duration": "60"}, "date"),  # yesterday
    ({"date": "2026-11-23", "time": "12:00", "duration": "60"}, "date"),  # 12:00 Oslo is 11:00 UTC: passed
    ({"date": "31.12.2027", "time": "10:00", "duration": "60"}, "date"),
    ({"date": "2027-02-30", "time": "10:00", "duration": "60"}, "date"),
    ({"date": "9999-12-31", "time": "23:59", "duration": "480"}, "date"),  # far future: no overflow
    ({"date": "2027-01-10", "time": "25:00", "duration": "60"}, "time"),
    ({"date": "2027-01-10", "time": "ten", "duration": "60"}, "time"),
    ({"date": "2027-01-10", "time": "10:00", "duration": "14"}, "duration"),
    ({"date": "2027-01-10", "time": "10:00", "duration": "481"}, "duration"),
    ({"date": "2027-01-10", "time": "10:00", "duration": "1.5"}, "duration"),
])
def test_when_is_checked(form, field):
    errors: dict[str, str] = {}
    assert validate_when(form, errors, NOW) is None
    assert field in errors


def test_time_accepts_the_norwegian_dot():
    errors: dict[str, str] = {}
    assert validate_when({"date": "2027-01-10", "time": "9.15", "duration": "60"}, errors, NOW) \
        == datetime(2027, 1, 10, 8, 15, tzinfo=UTC)


# --- SHM 1 / SHM 2 order and the 26-week rule --------------------------------------------------

SHM1 = Slot(1, datetime(2027, 3, 1, 9, 0, tzinfo=UTC), 120)  # 10:00-12:00 in Oslo


def test_exactly_26_weeks_needs_no_reason_one_day_more_does():
    on_time = SHM1.starts_at + timedelta(weeks=26)
    late = on_time + timedelta(days=1)
    assert not needs_late_reason(SHM1.starts_at, on_time)
    assert needs_late_reason(SHM1.starts_at, late)
    # Counted in Oslo calendar days: later the same day (and across the summer-time change) is still on time.
    assert not needs_late_reason(SHM1.starts_at, on_time + timedelta(hours=5))
    errors: dict[str, str] = {}
    validate_order(2, on_time, 60, [SHM1], "", errors)
    assert errors == {}
    validate_order(2, late, 60, [SHM1], "", errors)
    assert "late_reason" in errors
    errors = {}
    validate_order(2, late, 60, [SHM1], "The patient was in hospital.", errors)
    assert errors == {}


def test_shm2_must_start_after_shm1_has_ended():
    for start in (SHM1.starts_at - timedelta(days=1), SHM1.starts_at + timedelta(minutes=119)):
        errors: dict[str, str] = {}
        validate_order(2, start, 60, [SHM1], "", errors)
        assert "after meeting 1 has ended" in errors["date"]
    errors = {}
    validate_order(2, SHM1.ends_at, 60, [SHM1], "", errors)
    assert errors == {}


def test_shm2_needs_shm1_and_shm1_must_end_before_shm2():
    errors: dict[str, str] = {}
    validate_order(2, SHM1.starts_at, 60, [], "", errors)
    assert "meeting 1 first" in errors["date"]
    shm2 = Slot(2, SHM1.starts_at + timedelta(weeks=20), 60)
    errors = {}
    validate_order(1, shm2.starts_at - timedelta(minutes=30), 60, [shm2], "", errors)
    assert "before meeting 2" in errors["date"]


# --- The whole form ----------------------------------------------------------------------------

def _form(**changes) -> dict[str, str]:
    form = prefill(1, "Fastlege Berit Bø", "Sentrum legekontor", None, "Feedback from the assessment")
    form.update({"date": "2027-01-10", "time": "10:00", "duration": "90", "format": "digital",
                 "video_link": "https://meet.example.no/abc-123", "p0_contact": "73 00 00 00"})
    form.update(changes)
    return form


def test_a_good_form_becomes_a_plan():
    errors, plan = validate_schedule(_form(), 1, [], NOW)
    assert errors == {}
    assert plan.starts_at == datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    assert [(p.kind, p.name, p.contact) for p in plan.participants] == [("gp", "Fastlege Berit Bø", "73 00 00 00")]
    assert plan.segments == [("Feedback from the assessment", [0])]


@pytest.mark.parametrize("changes,field", [
    ({"video_link": "http://meet.example.no/x"}, "video_link"),
    ({"video_link": "https://"}, "video_link"),
    ({"video_link": "javascript:alert(1)"}, "video_link"),
    ({"video_link": "https://meet.example.no/" + "a" * 500}, "video_link"),
    ({"video_link": ""}, "video_link"),  # digital needs a link
    ({"format": "clinic", "address": ""}, "address"),
    ({"format": "hybrid", "address": "x" * 201}, "address"),
    ({"format": "teleport"}, "format"),
    ({"clinic_note": "x" * 2001}, "clinic_note"),
    ({"p0_contact": ""}, "p0_contact"),  # a name but no way to reach them
    ({"p2_name": "", "p2_contact": "98 76 54 32"}, "p2_name"),
    ({"p2_kind": "relative", "p2_name": "Ola", "p2_contact": "1", "p3_kind": "relative", "p3_name": "ola",
      "p3_contact": "2"}, "p3_name"),
    ({"p2_name": "x" * 201, "p2_contact": "1"}, "p2_name"),
    ({"s1_title": "x" * 201}, "s1_title"),
])
def test_bad_input_is_refused_on_its_field(changes, field):
    errors, plan = validate_schedule(_form(**changes), 1, [], NOW)
    assert plan is None and field in errors


def test_the_same_name_as_another_kind_is_not_a_duplicate():
    errors, plan = validate_schedule(_form(p2_kind="relative", p2_name="Fastlege Berit Bø", p2_contact="1"), 1, [], NOW)
    assert errors == {} and len(plan.participants) == 2


def test_a_second_shm1_is_refused():
    errors, _ = validate_schedule(_form(), 1, [SHM1], NOW)
    assert "already scheduled" in errors["date"]


@pytest.mark.parametrize("link", ["https://meet.example.no/abc-123",
                                  "https://teams.microsoft.com/l/meetup-join/19%3a?x=1,2"])
def test_good_video_links(link):
    assert video_link_error(link) is None


def test_prefill_from_the_patients_wishes():
    wishes = {"gp": {"attend": "not_my_gp"}, "nav": {"attend": "yes", "part": "part"},
              "relatives": [{"name": "Per", "relation": "Husband", "part": "whole"}],
              "others": [{"role": "employer", "name": "Eva", "organisation": "Bakeriet", "contact": "eva@b.no",
                          "part": "part"}],
              "place": {"choice": "clinic"}}
    form = prefill(2, "Fastlege Berit Bø", "Sentrum legekontor", wishes, "Evaluation of the action plan")
    assert form["p0_name"] == "" and form["p1_part"] == "part" and form["format"] == "clinic"
    assert (form["p2_kind"], form["p2_name"], form["p2_role"]) == ("relative", "Per", "Husband")
    assert (form["p3_kind"], form["p3_name"], form["p3_role"], form["p3_part"]) == ("other", "Eva", "Employer", "part")
    assert form["s0_title"] == "Evaluation of the action plan" and form["s0_p2"] == "yes" and not form["s0_p0"]


# --- The calendar file -------------------------------------------------------------------------

def _meeting(starts_at: datetime, **fields) -> Meeting:
    values = dict(id=7, patient_id=1, number=1, starts_at=starts_at, duration_minutes=90, format="digital",
                  address="", video_link="https://meet.example.no/abc-123", status="scheduled", version=1)
    values.update(fields)
    return Meeting(**values)


@pytest.mark.parametrize("local_day,expected_start,expected_end", [
    (date(2027, 3, 28), datetime(2027, 3, 28, 8, 0, tzinfo=UTC), datetime(2027, 3, 28, 9, 30, tzinfo=UTC)),
    (date(2027, 10, 31), datetime(2027, 10, 31, 9, 0, tzinfo=UTC), datetime(2027, 10, 31, 10, 30, tzinfo=UTC)),
])
def test_ics_has_utc_times_across_daylight_saving(local_day, expected_start, expected_end):
    meeting = _meeting(oslo_to_utc(local_day, time(10, 0)))
    text = ics.meeting_ics(meeting, summary="Samhandlingsmøte 1", description="About", location=meeting.video_link,
                           uid_host="samhandling.example", now=NOW)
    event = calendar_event(text)
    assert utc_time(event, "DTSTART") == expected_start and utc_time(event, "DTEND") == expected_end
    assert str(event["UID"]) == "meeting-7@samhandling.example" and utc_time(event, "DTSTAMP") == NOW
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")


def test_ics_escapes_text_and_folds_long_lines_by_octets():
    meeting = _meeting(datetime(2027, 1, 10, 9, tzinfo=UTC), format="clinic", video_link="")
    description = "Møte; med fastlege, NAV og deg\\ sjekk\nlinje to " + "æøå" * 40
    text = ics.meeting_ics(meeting, summary="Samhandlingsmøte 1", description=description,
                           location="Smerteklinikken, St. Olavs hospital; inngang B", uid_host="x", now=NOW)
    assert "LOCATION:Smerteklinikken\\, St. Olavs hospital\\; inngang B\r\n" in text  # escaped on the wire
    event = calendar_event(text)
    assert str(event["LOCATION"]) == "Smerteklinikken, St. Olavs hospital; inngang B"
    assert str(event["DESCRIPTION"]) == description
    lines = text.split("\r\n")
    assert all(len(line.encode("utf-8")) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "DESCRIPTION:Møte\\; med fastlege\\, NAV og deg\\\\ sjekk\\nlinje to " + "æøå" * 40 in unfolded
    assert "URL:" not in text
    text.encode("utf-8")  # folding never cut a character in half


def test_ics_for_a_cancelled_meeting_says_so():
    meeting = _meeting(datetime(2027, 1, 10, 9, tzinfo=UTC), status="cancelled", version=3)
    text = ics.meeting_ics(meeting, summary="S", description="D", location="L", uid_host="x", now=NOW)
    event = calendar_event(text)
    assert str(event["STATUS"]) == "CANCELLED" and event.decoded("SEQUENCE") == 2
