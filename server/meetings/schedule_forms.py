"""The clinic's forms for scheduling SHM 1 / SHM 2: reading, prefilling and validating them.

A form is a flat dict of strings (what the browser sent), so a page with errors shows exactly what
was typed. Participant rows are `p{i}_*` (row 0 the GP, row 1 NAV, rows 2-5 a relative or another
actor); agenda segments are `s{j}_title` with a checkbox `s{j}_p{i}` per participant row.

Times are entered in Europe/Oslo and stored in UTC. A local time in the spring-forward gap (02:00-03:00
on the last Sunday of March) does not exist and is refused. A local time in the autumn hour that
happens twice (02:00-03:00 on the last Sunday of October) means its FIRST occurrence (fold=0, still
summer time, UTC+2): the clinic can pick 03:00 or later for anything after the change.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from wtforms.validators import ValidationError

from server.dates import parse_date, parse_time
from server.forms import INVALID_TIME, Form, build, date_field, text, time_field
from server.i18n import N_, OSLO
from server.meetings.wishes import OTHER_ROLES, RELATION_LABELS, TOPICS, role_key

MIN_DURATION, MAX_DURATION = 15, 480
MAX_SHORT, MAX_NOTE, MAX_LINK = 200, 2000, 500
MAX_YEARS_AHEAD = 2
SHM2_WEEKS = 26
PARTICIPANT_ROWS = 12  # GP, NAV, and up to ten relatives or other actors
EXTRA_ROWS = range(2, PARTICIPANT_ROWS)
SEGMENT_ROWS = 8
ROW_FIELDS = ("name", "role", "organisation", "contact")
EXTRA_KINDS = ("relative", "other")
NEEDS_ADDRESS = ("clinic", "gp", "hybrid")
NEEDS_LINK = ("digital", "hybrid")

FORMAT_LABELS = {"digital": N_("Digital (video)"), "clinic": N_("At the pain clinic"),
                 "gp": N_("At the GP's office"), "hybrid": N_("Hybrid (in person and video)")}
KIND_LABELS = {"gp": N_("GP"), "nav": N_("NAV counsellor"), "relative": N_("Relative"), "other": N_("Other actor")}
# The patient's wishes flow names the topics and helper roles; the scheduling form shows the same words.
TOPIC_LABELS = TOPICS
OTHER_ROLE_LABELS = OTHER_ROLES
FIRST_SEGMENT = {1: N_("Feedback from the assessment"), 2: N_("Evaluation of the action plan")}
PLACE_TO_FORMAT = {"home": "digital", "clinic": "clinic", "gp": "gp"}



class NonexistentTime(ValueError):
    """A wall-clock time that Europe/Oslo skips (the spring-forward hour)."""


def oslo_to_utc(day: date, clock: time) -> datetime:
    """Local Oslo date and time → aware UTC datetime. Ambiguous autumn times: the first occurrence."""
    local = datetime.combine(day, clock.replace(tzinfo=None)).replace(tzinfo=OSLO, fold=0)
    utc = local.astimezone(timezone.utc)
    if utc.astimezone(OSLO).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise NonexistentTime(f"{day} {clock} does not exist in Europe/Oslo")
    return utc


_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")


def video_link_error(link: str) -> str | None:
    """None if `link` is a well-formed https address; else the msgid of the problem."""
    if any(ch.isspace() for ch in link) or any(ord(ch) < 32 for ch in link):
        return N_("Enter the video link without spaces, for example https://meet.example.no/abc-123.")
    try:
        parts = urlsplit(link)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return N_("Enter a complete video link, for example https://meet.example.no/abc-123.")
    if parts.scheme.lower() != "https":
        return N_("The video link must start with https:// (a secure connection).")
    if not _HOST.match(host) or parts.username or parts.password:
        return N_("Enter a complete video link, for example https://meet.example.no/abc-123.")
    return None


@dataclass
class ParticipantIn:
    row: int
    kind: str
    name: str
    role: str
    organisation: str
    contact: str
    whole_meeting: bool
    part_starts_at: datetime | None = None  # for part of the meeting: when their part starts


@dataclass
class MeetingPlan:
    starts_at: datetime
    duration_minutes: int
    format: str
    address: str
    video_link: str
    clinic_note: str
    late_reason: str
    participants: list[ParticipantIn] = field(default_factory=list)
    segments: list[tuple[str, list[int]]] = field(default_factory=list)  # title, participant rows


def form_keys() -> list[str]:
    return list(_FIELDS)


def _video_link(form: Form, field) -> None:
    problem = video_link_error(field.data) if field.data else None
    if problem:
        raise ValidationError(field.gettext(problem))


def _minutes(form: Form, field) -> None:
    value = field.data or ""
    if not (value.isdigit() and MIN_DURATION <= int(value) <= MAX_DURATION):
        raise ValidationError(field.gettext(N_("Enter the length in minutes, between 15 and 480.")))


_FIELDS: dict[str, Any] = {
    "date": date_field(required=N_("Enter the date of the meeting.")),
    "time": time_field(required=INVALID_TIME),
    "duration": text(validators=[_minutes]),
    "format": text(), "address": text(max=MAX_SHORT),
    "video_link": text(max=MAX_LINK, validators=[_video_link]),
    "clinic_note": text(max=MAX_NOTE, multiline=True), "late_reason": text(max=MAX_NOTE, multiline=True),
    "version": text(), "reason": text(max=MAX_NOTE, multiline=True),
}
for _i in range(PARTICIPANT_ROWS):
    _FIELDS |= {f"p{_i}_{name}": text(max=MAX_SHORT) for name in ROW_FIELDS}
    _FIELDS |= {f"p{_i}_kind": text(), f"p{_i}_part": text(), f"p{_i}_part_start": time_field()}
for _j in range(SEGMENT_ROWS):
    _FIELDS |= {f"s{_j}_title": text(max=MAX_SHORT)} | {f"s{_j}_p{_i}": text() for _i in range(PARTICIPANT_ROWS)}



class _Meeting(Form):
    """The scheduling, rescheduling and cancelling forms: one field set; each checks what its page shows,
    then the meeting's own rules (order of the meetings, the clocks, the version), into `error_map`."""

    def _take(self, errors: dict[str, str]) -> None:
        for name, message in errors.items():
            self.add_error(name, message)

    def schedule(self, number: int, others: list[Slot], now: datetime) -> MeetingPlan | None:
        errors, plan = validate_schedule(self.values, number, others, now, self.locale)
        self._take(errors)
        return plan

    def reschedule(self, number: int, version: int, others: list[Slot], now: datetime
                   ) -> tuple[datetime | None, int]:
        errors, starts_at, duration = validate_reschedule(self.values, number, version, others, now, self.locale)
        self._take(errors)
        return starts_at, duration

    def cancel(self, version: int) -> bool:
        self._take(validate_cancel(self.values, version, self.locale))
        return not self.has_errors()


ScheduleForm = build("ScheduleForm", _FIELDS, _Meeting)

WHEN = ("date", "time", "duration")


def field_errors(form: dict[str, str], names: tuple[str, ...] | None, locale: str) -> dict[str, str]:
    """The fields' own rules (filled in, length, real date and time, control characters)."""
    checked = ScheduleForm(form, locale=locale)
    checked.validate()
    return {name: message for name, message in checked.error_map.items() if names is None or name in names}


def row_kind(form: dict[str, str], i: int) -> str:
    if i == 0:
        return "gp"
    if i == 1:
        return "nav"
    kind = form.get(f"p{i}_kind", "")
    return kind if kind in EXTRA_KINDS else "other"


def _free_row(form: dict[str, str]) -> int | None:
    return next((i for i in EXTRA_ROWS
                 if not any(str(form.get(f"p{i}_{name}", "")).strip() for name in ROW_FIELDS)), None)


def _free_segment(form: dict[str, str]) -> int | None:
    return next((j for j in range(SEGMENT_ROWS) if not str(form.get(f"s{j}_title", "")).strip()), None)


def shown_rows(form: dict[str, str]) -> tuple[list[int], int | None]:
    """The participant rows the page shows: the GP and NAV, every other row in use, and one empty row
    (its index is the second value; None when every row is in use)."""
    free = _free_row(form)
    used = [i for i in EXTRA_ROWS if any(str(form.get(f"p{i}_{name}", "")).strip() for name in ROW_FIELDS)]
    return [0, 1] + used + ([free] if free is not None else []), free


def shown_segments(form: dict[str, str]) -> tuple[list[int], int | None]:
    """The agenda items the page shows: those with a title, and one empty item (its index second)."""
    free = _free_segment(form)
    used = [j for j in range(SEGMENT_ROWS) if str(form.get(f"s{j}_title", "")).strip()]
    return used + ([free] if free is not None else []), free


# --- Prefill --------------------------------------------------------------------------------

def prefill(number: int, gp_name: str, gp_office: str, wishes: dict | None, first_segment_title: str,
            translate: Callable[[str], str] = str) -> dict[str, str]:
    """A new form: the GP from the patient record, then whatever the patient asked for."""
    wishes = wishes or {}
    form = {key: "" for key in form_keys()}
    form.update({"duration": "90", "format": "digital", "s0_title": first_segment_title})
    for i in range(PARTICIPANT_ROWS):
        form[f"p{i}_part"] = "whole"
        form[f"p{i}_kind"] = "relative" if i in EXTRA_ROWS else ""
    gp = wishes.get("gp") or {}
    if gp.get("attend") != "not_my_gp":
        form["p0_name"], form["p0_organisation"] = gp_name, gp_office
    form["p0_part"] = _part(gp.get("part"))
    nav = wishes.get("nav") or {}
    form["p1_part"] = _part(nav.get("part"))
    extra = [("relative", {"name": r.get("name", ""), "part": r.get("part"), "role": _relation(r, translate)})
             for r in wishes.get("relatives") or [] if isinstance(r, dict)]
    extra += [("other", {"name": o.get("name", ""),
                         "role": translate(OTHER_ROLE_LABELS[o["role"]]) if o.get("role") in OTHER_ROLE_LABELS
                         else o.get("role", ""),
                         "organisation": o.get("organisation", ""), "contact": o.get("contact", ""),
                         "part": o.get("part")})
              for o in wishes.get("others") or [] if isinstance(o, dict)]
    for i, (kind, row) in zip(EXTRA_ROWS, extra, strict=False):
        form[f"p{i}_kind"] = kind
        for name in ROW_FIELDS:
            form[f"p{i}_{name}"] = str(row.get(name) or "")[:MAX_SHORT]
        form[f"p{i}_part"] = _part(row.get("part"))
    place = (wishes.get("place") or {}).get("choice")
    form["format"] = PLACE_TO_FORMAT.get(place, "digital")
    for i in range(PARTICIPANT_ROWS):
        if form[f"p{i}_name"]:
            form[f"s0_p{i}"] = "yes"
    return form


def _relation(relative: dict, translate: Callable[[str], str]) -> str:
    """How a relative is related, as typed; for a relative with access in the app, the delegation's relation."""
    relation = str(relative.get("relation") or "")
    if relative.get("delegation_id") and relation in RELATION_LABELS:
        return translate(RELATION_LABELS[relation])
    return relation


def _part(value: Any) -> str:
    return "part" if value == "part" else "whole"


def wishes_summary(wishes: dict | None) -> dict[str, Any]:
    """What the clinic should see beside the form: the patient's NAV answer, place, needs, topics."""
    wishes = wishes or {}
    needs = wishes.get("needs") or {}
    topics = wishes.get("topics") or {}
    return {
        "gp_not_mine": (wishes.get("gp") or {}).get("attend") == "not_my_gp",
        "nav": (wishes.get("nav") or {}).get("attend", ""),
        "nav_note": (wishes.get("nav") or {}).get("part_note", ""),
        "place": (wishes.get("place") or {}).get("choice", ""),
        "place_note": (wishes.get("place") or {}).get("note", ""),
        "interpreter": needs.get("interpreter", ""),
        "hearing": bool(needs.get("hearing")), "vision": bool(needs.get("vision")),
        "wheelchair": bool(needs.get("wheelchair")),
        "times_not_working": needs.get("times_not_working", ""), "other_needs": needs.get("other", ""),
        "topics": [TOPIC_LABELS[t] for t in topics.get("suggested") or [] if t in TOPIC_LABELS],
        "topics_text": topics.get("text", ""),
    }


# --- Validation -----------------------------------------------------------------------------

def validate_when(form: dict[str, str], errors: dict[str, str], now: datetime, locale: str = "en"
                  ) -> datetime | None:
    """Date, time and duration → the start in UTC, or None with errors added (the length is checked too)."""
    errors.update(field_errors(form, WHEN, locale))
    if "date" in errors or "time" in errors:
        return None
    day = parse_date(form["date"])
    clock = parse_time(form["time"])
    if day > now.astimezone(OSLO).date() + timedelta(days=366 * MAX_YEARS_AHEAD):
        errors["date"] = N_("The meeting must be within the next two years.")
        return None
    try:
        starts_at = oslo_to_utc(day, clock)
    except NonexistentTime:
        errors["time"] = N_("This time does not exist: the clocks go forward from 02:00 to 03:00 that night. "
                            "Choose another time.")
        return None
    if starts_at <= now:
        errors["date"] = N_("The meeting must be in the future. Check the date and time.")
        return None
    return None if "duration" in errors else starts_at


@dataclass(frozen=True)
class Slot:
    """Another meeting of the same patient, as far as ordering rules need it."""

    number: int
    starts_at: datetime
    duration_minutes: int

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)


def validate_order(number: int, starts_at: datetime, duration: int, others: list[Slot], late_reason: str,
                   errors: dict[str, str]) -> None:
    """SHM 1 before SHM 2, no overlap, and SHM 2 within 26 weeks of SHM 1 unless a reason is given."""
    shm1 = next((slot for slot in others if slot.number == 1), None)
    shm2 = next((slot for slot in others if slot.number == 2), None)
    if number == 2:
        if shm1 is None:
            errors["date"] = N_("Schedule collaboration meeting 1 first.")
        elif starts_at < shm1.ends_at:
            errors["date"] = N_("Collaboration meeting 2 must start after meeting 1 has ended.")
        elif needs_late_reason(shm1.starts_at, starts_at) and not late_reason.strip():
            errors["late_reason"] = N_("This is more than 26 weeks after meeting 1. Give the reason.")
    elif number == 1 and shm2 is not None and shm2.starts_at < starts_at + timedelta(minutes=duration):
        errors["date"] = N_("Collaboration meeting 1 must end before meeting 2 starts.")


def needs_late_reason(shm1_starts_at: datetime, shm2_starts_at: datetime) -> bool:
    """Counted in calendar days in Oslo: exactly 26 weeks is on time, one day more is late."""
    days = (shm2_starts_at.astimezone(OSLO).date() - shm1_starts_at.astimezone(OSLO).date()).days
    return days > SHM2_WEEKS * 7


def validate_schedule(form: dict[str, str], number: int, others: list[Slot], now: datetime, locale: str = "en"
                      ) -> tuple[dict[str, str], MeetingPlan | None]:
    errors: dict[str, str] = {}
    if any(slot.number == number for slot in others):
        errors["date"] = N_("This collaboration meeting is already scheduled. Reschedule it instead.")
    starts_at = validate_when(form, errors, now, locale)
    fields = field_errors(form, None, locale)
    errors |= {name: message for name, message in fields.items() if name not in WHEN}
    fmt = form.get("format", "")
    if fmt not in FORMAT_LABELS:
        errors["format"] = N_("Choose where the meeting takes place.")
    address, link = form.get("address", "").strip(), form.get("video_link", "").strip()
    if fmt in NEEDS_ADDRESS and not address and "address" not in errors:
        errors["address"] = N_("Enter the address where the meeting takes place.")
    if fmt in NEEDS_LINK and not link and "video_link" not in errors:
        errors["video_link"] = N_("Enter the video link for the meeting.")
    duration = int(form["duration"]) if "duration" not in errors else 0
    participants = _participants(form, errors, starts_at if "date" not in errors else None, duration)
    segments = _segments(form, errors, {p.row for p in participants})
    if starts_at is not None and "date" not in errors and duration and "late_reason" not in errors:
        validate_order(number, starts_at, duration, others, form.get("late_reason", ""), errors)
    if errors:
        return errors, None
    return errors, MeetingPlan(starts_at, duration, fmt, address, link, form.get("clinic_note", "").strip(),
                               form.get("late_reason", "").strip(), participants, segments)


def _part_start(form: dict[str, str], i: int, errors: dict[str, str], starts_at: datetime | None,
                duration: int) -> datetime | None:
    """When the part of a participant invited for part of the meeting starts: a time within the meeting."""
    if form.get(f"p{i}_part") != "part" or f"p{i}_part_start" in errors:
        return None
    clock = parse_time(form.get(f"p{i}_part_start", ""))
    if clock is None or starts_at is None or not duration:
        return None
    day = starts_at.astimezone(OSLO).date()
    try:
        at = oslo_to_utc(day, clock)
    except NonexistentTime:
        at = None
    if at is None or not starts_at <= at < starts_at + timedelta(minutes=duration):
        errors[f"p{i}_part_start"] = N_("Their part must start while the meeting is on: at or after its start, "
                                        "before its end.")
        return None
    return at


def _participants(form: dict[str, str], errors: dict[str, str], starts_at: datetime | None = None,
                  duration: int = 0) -> list[ParticipantIn]:
    result: list[ParticipantIn] = []
    seen: set[tuple[str, str]] = set()
    for i in range(PARTICIPANT_ROWS):
        values = {name: form.get(f"p{i}_{name}", "").strip() for name in ROW_FIELDS}
        if not any(values.values()):
            continue
        too_long = [name for name in ROW_FIELDS if f"p{i}_{name}" in errors]
        kind = row_kind(form, i)
        if too_long:
            pass
        elif not values["name"]:
            errors[f"p{i}_name"] = N_("Enter the participant's name, or empty the row.")
        elif not values["contact"]:
            errors[f"p{i}_contact"] = N_("Enter how to reach this participant: a phone number or an e-mail address.")
        key = (kind, values["name"].casefold())
        if values["name"] and key in seen:
            errors[f"p{i}_name"] = N_("This participant is already on the list.")
        seen.add(key)
        if too_long or f"p{i}_name" in errors or f"p{i}_contact" in errors:
            continue
        role = role_key(values["role"]) if kind == "other" else values["role"]  # a known role is stored as its key
        part_start = _part_start(form, i, errors, starts_at, duration)
        result.append(ParticipantIn(i, kind, values["name"], role, values["organisation"],
                                    values["contact"], form.get(f"p{i}_part") != "part", part_start))
    return result


def _segments(form: dict[str, str], errors: dict[str, str], rows: set[int]) -> list[tuple[str, list[int]]]:
    segments = []
    for j in range(SEGMENT_ROWS):
        title = form.get(f"s{j}_title", "").strip()
        if not title:
            continue
        if f"s{j}_title" in errors:
            continue
        segments.append((title, [i for i in range(PARTICIPANT_ROWS) if form.get(f"s{j}_p{i}") and i in rows]))
    return segments


def validate_reschedule(form: dict[str, str], number: int, version: int, others: list[Slot], now: datetime,
                        locale: str = "en") -> tuple[dict[str, str], datetime | None, int]:
    errors: dict[str, str] = {}
    if form.get("version", "") != str(version):
        errors["date"] = N_("Someone else changed this meeting while you had the page open. "
                            "Check the meeting's current time below and try again.")
        return errors, None, 0
    starts_at = validate_when(form, errors, now, locale)
    errors |= field_errors(form, ("reason", "late_reason"), locale)
    duration = int(form["duration"]) if "duration" not in errors else 0
    if starts_at is not None and "date" not in errors and duration and "late_reason" not in errors:
        validate_order(number, starts_at, duration, others, form.get("late_reason", ""), errors)
    return errors, (None if errors else starts_at), duration


def validate_cancel(form: dict[str, str], version: int, locale: str = "en") -> dict[str, str]:
    if form.get("version", "") != str(version):
        return {"reason": N_("Someone else changed this meeting while you had the page open. "
                             "Check the meeting and try again.")}
    errors = field_errors(form, ("reason",), locale)
    if not errors and not form.get("reason", "").strip():
        return {"reason": N_("Give the reason for cancelling. The patient is told that the meeting is cancelled.")}
    return errors
