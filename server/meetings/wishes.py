"""The patient's wishes for a collaboration meeting: who, where, practical needs, what matters most.

Answers are one JSON document per patient and meeting; each step of the flow owns one key.
A draft is saved as the patient goes; sending copies it to `submitted_answers` for the clinic.

Every change re-reads the row under a lock (SELECT ... FOR UPDATE on PostgreSQL; SQLite's BEGIN
IMMEDIATE already runs one writer at a time) and changes only its own key, so two steps autosaved at
the same moment (two tabs, a slow phone) are both kept. Creating the row locks the patient first.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import AuditContext, record
from server.db import utcnow
from server.i18n import LANGUAGE_NAMES, N_, translations
from server.meetings.models import Meeting, MeetingWishes
from server.notify import reminders
from server.pathway.models import Patient

MAX_SHORT = 200
MAX_LONG = 2000
MAX_PEOPLE = 10  # rows of people a "relatives" or "others" answer can hold; the page shows one empty row more
PARTS = ("whole", "part")
TOPICS = {
    "work": N_("Work"), "sleep": N_("Sleep"), "activity": N_("Activity and exercise"),
    "medication": N_("Medication"), "mood": N_("Mood and mental health"), "family": N_("Family and daily life"),
    "finances": N_("Finances"),
}
OTHER_ROLES = {
    "physiotherapist": N_("Physiotherapist"), "psychologist": N_("Psychologist"), "employer": N_("Employer"),
    "municipal": N_("Municipal services"), "other": N_("Other"),
}


def role_key(text: str) -> str:
    """A helper's role as stored: the key when the text names one of OTHER_ROLES (its key, or its label in any
    language), else the text as typed. Shown through the `| role` filter, so "Fysioterapeut" chosen in bokmål is
    never read back as "Physiotherapist"."""
    wanted = text.strip().casefold()
    for key, label in OTHER_ROLES.items():
        names = {key, label.casefold()} | {translations(code).gettext(label).casefold() for code in LANGUAGE_NAMES}
        if wanted in names:
            return key
    return text.strip()


# How a relative with access in the app is related (access/delegations.RELATIONS), as the wishes show it.
RELATION_LABELS = {"partner": N_("Spouse or partner"), "parent": N_("Parent"), "child": N_("Child"),
                   "other": N_("Other")}

PLACES = {"home": N_("Digitally from home (video)"), "clinic": N_("At the pain clinic"),
          "gp": N_("At my GP's office")}


@dataclass(frozen=True)
class Step:
    key: str
    title: str  # msgid: the question, used as the page heading
    about: str = ""  # msgid: the same answer as the clinic reads it, about the patient ("GP", not "Should your GP ...")


STEPS = (
    Step("gp", N_("Should your GP take part?"), N_("The GP")),
    Step("nav", N_("Should a NAV counsellor take part?"), N_("A NAV counsellor")),
    Step("relatives", N_("Would you like relatives to take part?"), N_("Relatives")),
    Step("others", N_("Should anyone else take part?"), N_("Others who should take part")),
    Step("place", N_("Where should the meeting take place?"), N_("Where the meeting should be")),
    Step("needs", N_("Do you have any practical needs?"), N_("The patient's practical needs")),
    Step("topics", N_("What matters most to you?"), N_("What matters most to the patient")),
)
STEP_KEYS = [step.key for step in STEPS]


def step_by_key(key: str) -> Step | None:
    return next((step for step in STEPS if step.key == key), None)


def next_step(key: str) -> str | None:
    index = STEP_KEYS.index(key)
    return STEP_KEYS[index + 1] if index + 1 < len(STEP_KEYS) else None


def previous_step(key: str) -> str | None:
    index = STEP_KEYS.index(key)
    return STEP_KEYS[index - 1] if index > 0 else None


# --- Checking a step (the form objects are in wishes_forms.py) ------------------------------

def validate_step(key: str, value: Any, locale: str = "en") -> dict[str, str]:
    """Field errors of a stored answer (field id -> message): the rules of the step's form object."""
    from server.meetings import wishes_forms  # the forms build on this module's names

    form = wishes_forms.step_form(key, wishes_forms.answer_as_input(key, value), locale)
    form.check()
    return form.error_map


def missing_steps(answers: dict[str, Any]) -> list[str]:
    """Steps that must be answered (and valid) before the wishes can be sent."""
    required = ("gp", "nav", "place")
    missing = [key for key in required if key not in answers]
    missing += [key for key in STEP_KEYS if key in answers and validate_step(key, answers[key])]
    return [key for key in STEP_KEYS if key in missing]


def changed_sections(old: dict | None, new: dict | None) -> set[str]:
    """Which steps differ between what the clinic last read and what was sent since."""
    old, new = old or {}, new or {}
    return {key for key in STEP_KEYS if old.get(key) != new.get(key)}


# --- Storage ---------------------------------------------------------------------------------

_WISHES = select(MeetingWishes).where(MeetingWishes.patient_id == bindparam("patient_id"),
                                      MeetingWishes.meeting_number == bindparam("number"))  # built once


async def get_wishes(db: AsyncSession, patient_id: int, number: int = 1) -> MeetingWishes | None:
    return await db.scalar(_WISHES, {"patient_id": patient_id, "number": number})


async def _lock(db: AsyncSession, wishes: MeetingWishes) -> None:
    """Hold the row until the transaction ends, and read what is stored now (another save may have won)."""
    await db.refresh(wishes, with_for_update=True)


async def get_or_create(db: AsyncSession, patient_id: int, number: int = 1) -> MeetingWishes:
    """The wishes row, locked for this transaction (created if missing)."""
    # The patient row serialises the first save: two at once cannot both insert (FOR NO KEY UPDATE).
    await db.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update(key_share=True))
    wishes = await get_wishes(db, patient_id, number)
    if wishes is not None:
        await _lock(db, wishes)
    else:
        wishes = MeetingWishes(patient_id=patient_id, meeting_number=number, answers={}, status="draft", version=1)
        db.add(wishes)
        await db.flush()
    return wishes


async def is_locked(db: AsyncSession, patient_id: int, number: int = 1) -> bool:
    """Locked once the clinic has scheduled the meeting (a scheduled, not cancelled, meeting exists)."""
    return await db.scalar(select(Meeting.id).where(Meeting.patient_id == patient_id, Meeting.number == number,
                                                    Meeting.status == "scheduled").limit(1)) is not None


async def save_step(db: AsyncSession, ctx: AuditContext, wishes: MeetingWishes, key: str, value: Any) -> None:
    await _lock(db, wishes)
    answers = copy.deepcopy(wishes.answers or {})
    answers[key] = value
    wishes.answers = answers  # a new object, so the JSON column is written
    wishes.version += 1
    wishes.updated_at = utcnow()
    await db.flush()
    await record(db, ctx, "meeting.wishes_saved", patient_ids=[wishes.patient_id], detail=f"step {key}")


async def submit(db: AsyncSession, ctx: AuditContext, wishes: MeetingWishes) -> None:
    await _lock(db, wishes)
    wishes.submitted_answers = copy.deepcopy(wishes.answers)
    wishes.status = "submitted"
    wishes.submitted_at = utcnow()
    wishes.submitted_by_relative = ctx.account_id if ctx.on_behalf_of is not None else None
    wishes.version += 1
    await db.flush()
    await reminders.wishes_sent(db, patient_id=wishes.patient_id, number=wishes.meeting_number)
    await record(db, ctx, "meeting.wishes_submitted", patient_ids=[wishes.patient_id])


async def mark_read(db: AsyncSession, ctx: AuditContext, wishes: MeetingWishes) -> None:
    await _lock(db, wishes)
    wishes.read_at = utcnow()
    wishes.read_by = ctx.account_id
    wishes.reviewed_answers = copy.deepcopy(wishes.submitted_answers)
    await db.flush()
    await record(db, ctx, "meeting.wishes_read", patient_ids=[wishes.patient_id])


def read_since_sent(wishes: MeetingWishes | None) -> bool:
    """Has the clinic read what the patient last sent?"""
    return bool(wishes and wishes.read_at and wishes.submitted_at and wishes.read_at >= wishes.submitted_at)


def state_of(wishes: MeetingWishes | None) -> str:
    """none | draft | sent | read | changed_unsent (sent, but the draft has changes not sent yet)."""
    if wishes is None or (not wishes.answers and wishes.status == "draft"):
        return "none"
    if wishes.status == "draft":
        return "draft"
    if wishes.answers != wishes.submitted_answers:
        return "changed_unsent"
    if read_since_sent(wishes):
        return "read"
    return "sent"




async def read_wishes(db: AsyncSession, ctx: AuditContext, patient_id: int, action: str = "meeting.wishes_viewed",
                      detail: str = "") -> MeetingWishes | None:
    """The patient's SHM 1 wishes, read by the patient (`meeting.wishes_viewed`) or the clinic
    (`meeting.wishes_reviewed`): an audited read."""
    wishes = await get_wishes(db, patient_id)
    await record(db, ctx, action, patient_ids=[patient_id], detail=detail)
    return wishes
