"""The nine stages, Norwegian working days and the national pathway times (PATHWAY.md)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from dateutil.easter import easter as easter_sunday  # what the holidays package computes Easter with

from server.i18n import OSLO
from server.pathway.models import StageEvent
from server.pathway.service import deadline_for, deadline_state, timeline, validate_move
from server.pathway.stages import (
    STAGES,
    add_working_days,
    next_deadline,
    norwegian_holidays,
    stage,
)
from server.seed import build_patient

# --- Stages -----------------------------------------------------------------------------------


def test_there_are_nine_stages_in_pathway_order():
    assert [s.number for s in STAGES] == list(range(1, 10))
    assert [s.code for s in STAGES] == [
        "referral", "assessment_of_referral", "invitation", "assessment", "extended_invitation",
        "shm1", "follow_up", "shm2", "closure",
    ]


@pytest.mark.parametrize("number", [0, 10, -1])
def test_there_is_no_stage_outside_one_to_nine(number):
    with pytest.raises(ValueError):
        stage(number)


# --- Easter and holidays ----------------------------------------------------------------------

# The hand-written table the app used before the `holidays` package, as it was for 2020-2040
# (month-day of every public holiday; Easter by the Meeus/Jones/Butcher algorithm).
OLD_TABLE = {
    2020: "01-01 04-09 04-10 04-12 04-13 05-01 05-17 05-21 05-31 06-01 12-25 12-26",
    2021: "01-01 04-01 04-02 04-04 04-05 05-01 05-13 05-17 05-23 05-24 12-25 12-26",
    2022: "01-01 04-14 04-15 04-17 04-18 05-01 05-17 05-26 06-05 06-06 12-25 12-26",
    2023: "01-01 04-06 04-07 04-09 04-10 05-01 05-17 05-18 05-28 05-29 12-25 12-26",
    2024: "01-01 03-28 03-29 03-31 04-01 05-01 05-09 05-17 05-19 05-20 12-25 12-26",
    2025: "01-01 04-17 04-18 04-20 04-21 05-01 05-17 05-29 06-08 06-09 12-25 12-26",
    2026: "01-01 04-02 04-03 04-05 04-06 05-01 05-14 05-17 05-24 05-25 12-25 12-26",
    2027: "01-01 03-25 03-26 03-28 03-29 05-01 05-06 05-16 05-17 12-25 12-26",
    2028: "01-01 04-13 04-14 04-16 04-17 05-01 05-17 05-25 06-04 06-05 12-25 12-26",
    2029: "01-01 03-29 03-30 04-01 04-02 05-01 05-10 05-17 05-20 05-21 12-25 12-26",
    2030: "01-01 04-18 04-19 04-21 04-22 05-01 05-17 05-30 06-09 06-10 12-25 12-26",
    2031: "01-01 04-10 04-11 04-13 04-14 05-01 05-17 05-22 06-01 06-02 12-25 12-26",
    2032: "01-01 03-25 03-26 03-28 03-29 05-01 05-06 05-16 05-17 12-25 12-26",
    2033: "01-01 04-14 04-15 04-17 04-18 05-01 05-17 05-26 06-05 06-06 12-25 12-26",
    2034: "01-01 04-06 04-07 04-09 04-10 05-01 05-17 05-18 05-28 05-29 12-25 12-26",
    2035: "01-01 03-22 03-23 03-25 03-26 05-01 05-03 05-13 05-14 05-17 12-25 12-26",
    2036: "01-01 04-10 04-11 04-13 04-14 05-01 05-17 05-22 06-01 06-02 12-25 12-26",
    2037: "01-01 04-02 04-03 04-05 04-06 05-01 05-14 05-17 05-24 05-25 12-25 12-26",
    2038: "01-01 04-22 04-23 04-25 04-26 05-01 05-17 06-03 06-13 06-14 12-25 12-26",
    2039: "01-01 04-07 04-08 04-10 04-11 05-01 05-17 05-19 05-29 05-30 12-25 12-26",
    2040: "01-01 03-29 03-30 04-01 04-02 05-01 05-10 05-17 05-20 05-21 12-25 12-26",
}


@pytest.mark.parametrize("year", sorted(OLD_TABLE))
def test_the_holidays_package_gives_the_old_tables_dates(year):
    old = {date(year, int(day[:2]), int(day[3:])) for day in OLD_TABLE[year].split()}
    assert norwegian_holidays(year) == old


@pytest.mark.parametrize("year, easter", [
    (2024, date(2024, 3, 31)),
    (2025, date(2025, 4, 20)),
    (2026, date(2026, 4, 5)),
    (2027, date(2027, 3, 28)),
    (2038, date(2038, 4, 25)),  # the latest possible Easter
    (2285, date(2285, 3, 22)),  # the earliest possible Easter
])
def test_easter_sunday(year, easter):
    assert easter_sunday(year) == easter
    assert easter_sunday(year).weekday() == 6


@pytest.mark.parametrize("year, expected", [
    (2026, {
        "Maundy Thursday": date(2026, 4, 2), "Good Friday": date(2026, 4, 3), "Easter Sunday": date(2026, 4, 5),
        "Easter Monday": date(2026, 4, 6), "Ascension": date(2026, 5, 14), "Whit Sunday": date(2026, 5, 24),
        "Whit Monday": date(2026, 5, 25),
    }),
    (2025, {
        "Maundy Thursday": date(2025, 4, 17), "Good Friday": date(2025, 4, 18), "Easter Sunday": date(2025, 4, 20),
        "Easter Monday": date(2025, 4, 21), "Ascension": date(2025, 5, 29), "Whit Sunday": date(2025, 6, 8),
        "Whit Monday": date(2025, 6, 9),
    }),
    (2024, {
        "Maundy Thursday": date(2024, 3, 28), "Good Friday": date(2024, 3, 29), "Easter Sunday": date(2024, 3, 31),
        "Easter Monday": date(2024, 4, 1), "Ascension": date(2024, 5, 9), "Whit Sunday": date(2024, 5, 19),
        "Whit Monday": date(2024, 5, 20),
    }),
])
def test_norwegian_holidays_include_the_moving_feasts(year, expected):
    holidays = norwegian_holidays(year)
    for name, day in expected.items():
        assert day in holidays, f"{name} {day} missing"


@pytest.mark.parametrize("year", [2024, 2025, 2026, 2027])
def test_norwegian_holidays_include_the_fixed_days(year):
    holidays = norwegian_holidays(year)
    for month, day in ((1, 1), (5, 1), (5, 17), (12, 25), (12, 26)):
        assert date(year, month, day) in holidays


def test_norwegian_holidays_are_exactly_the_twelve_public_holidays():
    holidays = norwegian_holidays(2026)
    assert len(holidays) == 12
    # Ordinary working days and days that are not public holidays in Norway.
    for day in (date(2026, 12, 24), date(2026, 12, 31), date(2026, 4, 1), date(2026, 4, 7), date(2026, 5, 18)):
        assert day not in holidays


# --- Working days -----------------------------------------------------------------------------

def test_working_days_skip_weekends():
    # Friday + 1 working day is Monday; Monday + 5 is the next Monday.
    assert add_working_days(date(2026, 1, 9), 1) == date(2026, 1, 12)
    assert add_working_days(date(2026, 1, 12), 5) == date(2026, 1, 19)


def test_working_days_from_a_weekend_start_on_monday():
    assert add_working_days(date(2026, 1, 10), 1) == date(2026, 1, 12)  # Saturday
    assert add_working_days(date(2026, 1, 11), 1) == date(2026, 1, 12)  # Sunday


def test_zero_working_days_is_the_same_day():
    assert add_working_days(date(2026, 3, 30), 0) == date(2026, 3, 30)


def test_ten_working_days_across_easter_2026():
    # Mon 30 March: Tue 31, Wed 1 April, then Maundy Thursday, Good Friday, the weekend and
    # Easter Monday are skipped; the tenth working day is Thursday 16 April (not Monday 13 April).
    assert add_working_days(date(2026, 3, 30), 10) == date(2026, 4, 16)


def test_ten_working_days_across_christmas_and_new_year():
    # Mon 22 Dec 2025: 23, 24, (25, 26 holidays), 29, 30, 31, (1 Jan holiday), 2, 5, 6, 7, 8 January.
    assert add_working_days(date(2025, 12, 22), 10) == date(2026, 1, 8)


def test_new_years_day_of_the_next_year_is_skipped():
    # Wed 31 Dec 2025 + 1 working day: 1 Jan 2026 is a holiday (Thursday), so Friday 2 January.
    assert add_working_days(date(2025, 12, 31), 1) == date(2026, 1, 2)


def test_working_days_skip_may_holidays_and_ascension():
    # Wed 13 May 2026: Ascension Thursday 14 May is skipped → Friday 15 May.
    assert add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 15)
    # Thu 30 April 2026: Friday 1 May is a holiday → Monday 4 May.
    assert add_working_days(date(2026, 4, 30), 1) == date(2026, 5, 4)


def test_many_working_days_spanning_years_never_land_on_a_day_off():
    start = date(2025, 11, 3)
    for days in range(1, 300, 7):
        due = add_working_days(start, days)
        assert due.weekday() < 5
        assert due not in norwegian_holidays(due.year)


# --- National pathway times -------------------------------------------------------------------

RECEIVED = date(2026, 1, 5)  # a Monday


def test_stage_2_decision_is_due_ten_working_days_after_the_referral():
    deadline = next_deadline(2, date(2026, 3, 30), {1: date(2026, 3, 30), 2: date(2026, 3, 30)})
    assert deadline is not None
    assert deadline.due == date(2026, 4, 16)


def test_stage_3_assessment_starts_twelve_weeks_after_the_referral():
    deadline = next_deadline(3, RECEIVED, {1: RECEIVED, 2: RECEIVED, 3: date(2026, 1, 20)})
    assert deadline is not None
    assert deadline.due == date(2026, 3, 30)


@pytest.mark.parametrize("number", [4, 5])
def test_stages_4_and_5_shm1_is_due_twelve_weeks_after_the_assessment_started(number):
    entered = {1: RECEIVED, 2: RECEIVED, 3: date(2026, 1, 19), 4: date(2026, 2, 2)}
    if number == 5:
        entered[5] = date(2026, 3, 2)
    deadline = next_deadline(number, RECEIVED, entered)
    assert deadline is not None
    assert deadline.due == date(2026, 4, 27)


@pytest.mark.parametrize("number", [4, 5])
def test_stages_4_and_5_without_an_assessment_start_fall_back_to_referral_plus_24_weeks(number):
    deadline = next_deadline(number, RECEIVED, {1: RECEIVED, 2: RECEIVED})
    assert deadline is not None
    assert deadline.due == date(2026, 6, 22)


@pytest.mark.parametrize("number", [6, 7])
def test_stages_6_and_7_shm2_is_due_26_weeks_after_shm1(number):
    entered = {1: RECEIVED, 2: RECEIVED, 4: date(2026, 2, 2), 6: date(2026, 3, 2)}
    if number == 7:
        entered[7] = date(2026, 3, 9)
    deadline = next_deadline(number, RECEIVED, entered)
    assert deadline is not None
    assert deadline.due == date(2026, 8, 31)


@pytest.mark.parametrize("number", [1, 8, 9])
def test_stages_without_a_national_target_have_no_deadline(number):
    entered = {n: RECEIVED + timedelta(days=7 * n) for n in range(1, number + 1)}
    assert next_deadline(number, RECEIVED, entered) is None


def test_each_deadline_has_a_label_for_the_patient():
    labels = {n: next_deadline(n, RECEIVED, {4: RECEIVED, 6: RECEIVED}).label for n in (2, 3, 4, 6)}
    assert all(labels.values())
    assert len(set(labels.values())) == 4


def test_deadline_uses_the_date_in_oslo_not_utc():
    # Entered assessment at 23:30 UTC on Sunday 29 March 2026 = 01:30 Monday 30 March in Oslo (summer time).
    patient = build_patient("Ola Nordmann", 3, RECEIVED)
    patient.events.append(StageEvent(from_stage=3, to_stage=4, at=datetime(2026, 3, 29, 23, 30, tzinfo=timezone.utc)))
    patient.stage = 4
    deadline = deadline_for(patient)
    assert deadline is not None
    assert deadline.due == date(2026, 3, 30) + timedelta(weeks=12)


def test_deadline_uses_the_latest_entry_into_the_assessment():
    patient = build_patient("Ola Nordmann", 4, RECEIVED, step_days=7)  # stage 4 entered 19 January
    back = datetime(2026, 2, 2, 10, tzinfo=OSLO)
    again = datetime(2026, 2, 16, 10, tzinfo=OSLO)
    patient.events += [StageEvent(from_stage=4, to_stage=3, at=back), StageEvent(from_stage=3, to_stage=4, at=again)]
    assert deadline_for(patient).due == date(2026, 2, 16) + timedelta(weeks=12)


def test_build_patient_stores_its_next_deadline():
    patient = build_patient("Ola Nordmann", 6, RECEIVED, step_days=14)
    # Stage 6 entered received + 4 * 14 days.
    assert patient.next_deadline == RECEIVED + timedelta(days=56) + timedelta(weeks=26)


# --- Deadline state ---------------------------------------------------------------------------

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize("due, state", [
    (TODAY - timedelta(days=30), "passed"),
    (TODAY - timedelta(days=1), "passed"),
    (TODAY, "close"),
    (TODAY + timedelta(days=1), "close"),
    (TODAY + timedelta(days=14), "close"),
    (TODAY + timedelta(days=15), "ok"),
    (TODAY + timedelta(days=200), "ok"),
    (None, "ok"),
])
def test_deadline_state(due, state):
    assert deadline_state(due, TODAY) == state


# --- Timeline ---------------------------------------------------------------------------------

def test_timeline_of_a_patient_in_the_assessment():
    patient = build_patient("Kari Nordmann", 4, RECEIVED, step_days=14)
    items = timeline(patient)
    assert [item.stage.number for item in items] == list(range(1, 10))
    assert [item.state for item in items] == ["done"] * 3 + ["current"] + ["upcoming"] * 5
    assert items[0].entered == RECEIVED
    assert items[2].entered == RECEIVED + timedelta(days=14)
    assert items[3].entered == RECEIVED + timedelta(days=28)
    assert all(item.entered is None for item in items[4:])


def test_timeline_marks_skipped_stages():
    patient = build_patient("Kari Nordmann", 3, RECEIVED)
    patient.events.append(StageEvent(from_stage=3, to_stage=6, at=datetime(2026, 3, 2, 9, tzinfo=OSLO)))
    patient.stage = 6
    states = [item.state for item in timeline(patient)]
    assert states == ["done", "done", "done", "skipped", "skipped", "current", "upcoming", "upcoming", "upcoming"]
    assert timeline(patient)[5].entered == date(2026, 3, 2)


def test_timeline_after_going_back_shows_later_stages_as_upcoming():
    patient = build_patient("Kari Nordmann", 6, RECEIVED)
    patient.events.append(StageEvent(from_stage=6, to_stage=4, at=datetime(2026, 5, 4, 9, tzinfo=OSLO)))
    patient.stage = 4
    items = timeline(patient)
    assert [item.state for item in items] == ["done"] * 3 + ["current"] + ["upcoming"] * 5
    assert items[3].entered == date(2026, 5, 4)
    assert items[5].entered is None


@pytest.mark.parametrize("number", [1, 9])
def test_timeline_at_the_ends(number):
    patient = build_patient("Kari Nordmann", number, RECEIVED)
    states = [item.state for item in timeline(patient)]
    assert states[number - 1] == "current"
    assert states.count("current") == 1
    assert states.count("done") == number - 1
    assert states.count("upcoming") == 9 - number


# --- Stage moves ------------------------------------------------------------------------------

def _patient(number: int, gp_accepted: bool | None = None):
    patient = build_patient("Per Hansen", number, RECEIVED)
    patient.version = 1  # column defaults apply only on insert
    if gp_accepted is not None:
        patient.gp_accepted_on = RECEIVED + timedelta(days=20) if gp_accepted else None
    return patient


def _form(to_stage, note="", reason="", version="1") -> dict[str, str]:
    return {"to_stage": str(to_stage), "note": note, "reason": reason, "version": version}


@pytest.mark.parametrize("number", [1, 2, 3, 5, 6, 7, 8])
def test_moving_forward_one_stage_needs_no_reason(number):
    assert validate_move(_patient(number), _form(number + 1)) == {}


def test_moving_from_assessment_to_extended_invitation_after_the_gp_accepted():
    assert validate_move(_patient(4, gp_accepted=True), _form(5, note="Fastlegen sa ja på telefon")) == {}


@pytest.mark.parametrize("target", [3, 1])
def test_going_back_needs_a_reason(target):
    patient = _patient(4)
    errors = validate_move(patient, _form(target))
    assert set(errors) == {"reason"}
    assert validate_move(patient, _form(target, reason="  ")).keys() == {"reason"}
    assert validate_move(patient, _form(target, reason="Feil registrert")) == {}


def test_skipping_a_stage_needs_a_reason():
    patient = _patient(2)
    assert set(validate_move(patient, _form(4))) == {"reason"}
    assert validate_move(patient, _form(4, reason="Innkalling sendt samtidig")) == {}


@pytest.mark.parametrize("number, target", [(4, 5), (4, 6), (2, 9), (3, 5)])
def test_extended_invitation_or_later_is_refused_before_the_gp_accepted(number, target):
    patient = _patient(number, gp_accepted=False)
    errors = validate_move(patient, _form(target, reason="Hopper over"))
    assert "to_stage" in errors
    assert "GP" in errors["to_stage"]


def test_gp_rule_does_not_block_moves_after_stage_5():
    patient = _patient(6, gp_accepted=False)
    assert validate_move(patient, _form(7)) == {}
    assert validate_move(patient, _form(5, reason="Nytt møte")) == {}


def test_moving_back_below_stage_5_is_allowed_without_gp_acceptance():
    assert validate_move(_patient(4, gp_accepted=False), _form(3, reason="Mangler papirer")) == {}


@pytest.mark.parametrize("version", ["0", "2", "", "abc"])
def test_a_stale_version_is_refused_as_a_conflict(version):
    patient = _patient(3)
    errors = validate_move(patient, _form(4, version=version))
    assert list(errors) == ["to_stage"]
    assert "changed" in errors["to_stage"]


def test_the_current_version_is_accepted_after_a_change():
    patient = _patient(3)
    patient.version = 7
    assert validate_move(patient, _form(4, version="7")) == {}
    assert "to_stage" in validate_move(patient, _form(4, version="6"))


@pytest.mark.parametrize("target", ["0", "10", "-1", "", "abc", "4.5", "99999999999999999999"])
def test_an_invalid_target_is_refused(target):
    errors = validate_move(_patient(3), _form(target, reason="x"))
    assert list(errors) == ["to_stage"]


def test_moving_to_the_current_stage_is_refused():
    errors = validate_move(_patient(3), _form(3, reason="x"))
    assert "to_stage" in errors


def test_a_note_of_2000_characters_is_accepted_but_not_2001():
    patient = _patient(3)
    assert validate_move(patient, _form(4, note="n" * 2000)) == {}
    assert set(validate_move(patient, _form(4, note="n" * 2001))) == {"note"}


def test_an_over_long_reason_is_refused():
    patient = _patient(4)
    assert set(validate_move(patient, _form(2, reason="r" * 2001))) == {"reason"}
    assert validate_move(patient, _form(2, reason="r" * 2000)) == {}
