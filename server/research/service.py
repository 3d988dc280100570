"""Research interviews: plain async functions, each writing its audit rows.

Every change is a new `ResearchEvent` row (nothing is updated or deleted); the state of a request is
read from its history. Who sees what:
- the patient themself: their requests, answers and history (never a relative acting for them);
- the clinic: only that a request was sent (the meeting's `held_at`), never the answer;
- an administrator: the information text, never an answer;
- a researcher: only patients with an active yes (name, contact preference, which SHM, date of consent).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.service import AuditContext, record
from server.db import utcnow
from server.i18n import N_
from server.meetings.models import Meeting
from server.notify.service import notify
from server.pathway.models import Patient
from server.research.models import ResearchEvent, ResearchText

# Discreet on purpose: the inbox (and later a push message) says no more than this.
MSG_REQUEST = N_("You have a new request from the pain clinic.")
CONSENT_KINDS = ("yes", "no", "withdrawn")

DEFAULT_NB = (
    "Smerteklinikken forsker på hvordan pasienter opplever samhandlingsmøtene. Vi spør om du vil være med på et "
    "intervju om hvordan du opplevde møtet. Intervjuet tar omtrent 45 minutter. Svarene brukes bare i forskningen, "
    "lagres trygt og uten navn i resultatene. Det er helt frivillig. Om du sier nei, eller trekker deg senere, "
    "påvirker det ikke behandlingen din. Spørsmål? Kontakt forskningsgruppen ved smerteklinikken.")
DEFAULT_EN = (
    "The pain clinic is researching how patients experience the collaboration meetings. We ask whether you will "
    "take part in an interview about how you experienced the meeting. The interview takes about 45 minutes. The "
    "answers are used only for the research, stored securely and without names in the results. Taking part is "
    "entirely voluntary. Saying no, or withdrawing later, never affects your care. Questions? Contact the research "
    "group at the pain clinic.")


# --- The information text ---------------------------------------------------------------------

async def current_text(db: AsyncSession) -> ResearchText:
    """The newest version (version 1, the default text, is created the first time it is needed)."""
    text = await db.scalar(select(ResearchText).order_by(ResearchText.version.desc()).limit(1))
    if text is None:
        text = ResearchText(version=1, body_nb=DEFAULT_NB, body_en=DEFAULT_EN)
        db.add(text)
        await db.flush()
    return text


async def text_versions(db: AsyncSession) -> list[ResearchText]:
    await current_text(db)
    return list((await db.scalars(select(ResearchText).order_by(ResearchText.version.desc()))).all())


async def text_version(db: AsyncSession, version: int | None) -> ResearchText | None:
    await current_text(db)  # version 1 exists once anything refers to it
    return await db.scalar(select(ResearchText).where(ResearchText.version == version))


async def save_text(db: AsyncSession, ctx: AuditContext, body_nb: str, body_en: str) -> ResearchText:
    """A new version; the earlier ones stay as they were."""
    newest = (await db.scalar(select(func.max(ResearchText.version)))) or 0
    text = ResearchText(version=newest + 1, body_nb=body_nb, body_en=body_en, created_by=ctx.account_id)
    db.add(text)
    await db.flush()
    await record(db, ctx, "research.text_saved", detail=f"version {text.version}")
    return text


# --- The clinic: the meeting was held ---------------------------------------------------------

async def mark_held(db: AsyncSession, ctx: AuditContext, meeting: Meeting) -> bool:
    """Mark the meeting as held and send the patient the research request. False if it cannot be."""
    if meeting.status == "cancelled" or meeting.held_at is not None:
        await record(db, ctx, "meeting.held_refused", patient_ids=[meeting.patient_id], outcome="refused",
                     detail=f"meeting {meeting.id}")
        return False
    meeting.held_at, meeting.held_by = utcnow(), ctx.account_id
    text = await current_text(db)
    db.add(ResearchEvent(patient_id=meeting.patient_id, meeting_id=meeting.id, meeting_number=meeting.number,
                         kind="asked", text_version=text.version, by_account_id=ctx.account_id))
    await notify(db, meeting.patient_id, MSG_REQUEST, link="/research", private=True)
    # Push hook: once the push helper's sender exists, send the same discreet MSG_REQUEST here
    # (never the meeting or the word "research" on a lock screen).
    await record(db, ctx, "meeting.held", patient_ids=[meeting.patient_id], detail=f"meeting {meeting.id}")
    await record(db, ctx, "research.asked", patient_ids=[meeting.patient_id],
                 detail=f"meeting {meeting.id} text v{text.version}")
    return True


# --- The patient ------------------------------------------------------------------------------

@dataclass
class RequestState:
    """One request (one held meeting), read from its history."""

    meeting_id: int
    meeting_number: int
    asked: ResearchEvent
    answer: ResearchEvent | None = None  # the first yes or no (an answer is never changed)
    withdrawn: ResearchEvent | None = None
    outcomes: list[ResearchEvent] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return self.answer is None

    @property
    def active_yes(self) -> bool:
        return self.answer is not None and self.answer.kind == "yes" and self.withdrawn is None


def states(events: list[ResearchEvent]) -> list[RequestState]:
    by_meeting: dict[int, RequestState] = {}
    for event in sorted(events, key=lambda e: (e.at, e.id)):
        if event.kind == "asked":
            by_meeting.setdefault(event.meeting_id, RequestState(event.meeting_id, event.meeting_number, event))
            continue
        state = by_meeting.get(event.meeting_id)
        if state is None:
            continue
        if event.kind in ("yes", "no") and state.answer is None:
            state.answer = event
        elif event.kind == "withdrawn" and state.withdrawn is None:
            state.withdrawn = event
        elif event.kind in ("held", "not_reached"):
            state.outcomes.append(event)
    return sorted(by_meeting.values(), key=lambda s: (s.meeting_number, s.asked.id))


_EVENTS = (select(ResearchEvent).where(ResearchEvent.patient_id == bindparam("patient_id"))
           .order_by(ResearchEvent.at, ResearchEvent.id))  # built once: the home page reads it on every visit


async def _events(db: AsyncSession, patient_id: int) -> list[ResearchEvent]:
    return list((await db.scalars(_EVENTS, {"patient_id": patient_id})).all())


async def patient_view(db: AsyncSession, ctx: AuditContext, patient_id: int
                       ) -> tuple[list[RequestState], list[ResearchEvent]]:
    """The patient's requests and their whole history (an audited read)."""
    events = await _events(db, patient_id)
    await record(db, ctx, "research.viewed", patient_ids=[patient_id])
    return states(events), [e for e in events if e.kind in ("asked", *CONSENT_KINDS)]


async def open_request(db: AsyncSession, patient_id: int) -> RequestState | None:
    """The oldest request the patient has not answered yet, or None (the home page offers to answer it)."""
    return next((s for s in states(await _events(db, patient_id)) if s.open), None)


async def request_for(db: AsyncSession, patient_id: int, meeting_id: int) -> RequestState | None:
    """The request for the patient's own held meeting, or None (not theirs, not held, never asked)."""
    meeting = await db.get(Meeting, meeting_id)
    if meeting is None or meeting.patient_id != patient_id or meeting.held_at is None:
        return None
    return next((s for s in states(await _events(db, patient_id)) if s.meeting_id == meeting_id), None)


async def refuse(db: AsyncSession, ctx: AuditContext, patient_id: int | None, action: str, detail: str) -> None:
    await record(db, ctx, action, patient_ids=[patient_id], outcome="refused", detail=detail)


async def _lock_patient(db: AsyncSession, patient_id: int) -> None:
    """Research events are append-only, so two tabs answering at once would both find the request open
    and both add a row. Holding the patient row (FOR NO KEY UPDATE, as the wishes do) serialises the
    read-then-append per patient; SQLite serialises writers already."""
    await db.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update(key_share=True))


async def answer(db: AsyncSession, ctx: AuditContext, patient_id: int, meeting_id: int, yes: bool,
                 contact_method: str = "", contact_when: str = "") -> ResearchEvent | None:
    """The patient's yes or no to an open request. None (audited) if there is no open request."""
    await _lock_patient(db, patient_id)
    state = await request_for(db, patient_id, meeting_id)
    if state is None or not state.open:
        await refuse(db, ctx, patient_id, "research.answer_refused", f"meeting {meeting_id}")
        return None
    event = ResearchEvent(patient_id=patient_id, meeting_id=meeting_id, meeting_number=state.meeting_number,
                          kind="yes" if yes else "no", text_version=state.asked.text_version,
                          contact_method=contact_method if yes else "", contact_when=contact_when if yes else "",
                          by_account_id=ctx.account_id)
    db.add(event)
    await db.flush()
    await record(db, ctx, "research.answered", patient_ids=[patient_id],
                 detail=f"meeting {meeting_id} {event.kind} text v{event.text_version}")
    return event


async def withdraw(db: AsyncSession, ctx: AuditContext, patient_id: int) -> list[ResearchEvent]:
    """Withdraw every active yes. Empty (and audited as refused) if there was nothing to withdraw."""
    await _lock_patient(db, patient_id)
    active = [s for s in states(await _events(db, patient_id)) if s.active_yes]
    if not active:
        await refuse(db, ctx, patient_id, "research.withdraw_refused", "no active consent")
        return []
    rows = [ResearchEvent(patient_id=patient_id, meeting_id=s.meeting_id, meeting_number=s.meeting_number,
                          kind="withdrawn", text_version=s.answer.text_version, by_account_id=ctx.account_id)
            for s in active]
    db.add_all(rows)
    await db.flush()
    await record(db, ctx, "research.withdrawn", patient_ids=[patient_id],
                 detail="meetings " + ",".join(str(s.meeting_id) for s in active))
    return rows


async def own_event(db: AsyncSession, patient_id: int, event_id: int) -> ResearchEvent | None:
    event = await db.get(ResearchEvent, event_id)
    return event if event is not None and event.patient_id == patient_id else None


# --- The researcher ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Participant:
    """One active yes: all the researcher may see."""

    patient_id: int
    name: str
    meeting_id: int
    meeting_number: int
    contact_method: str
    contact_when: str
    consented_at: datetime
    outcome: str  # "", "held" or "not_reached": the latest the researcher recorded


async def _participants(db: AsyncSession, patient_id: int | None = None) -> list[Participant]:
    query = select(ResearchEvent.patient_id).where(ResearchEvent.kind == "yes").distinct()
    if patient_id is not None:
        query = query.where(ResearchEvent.patient_id == patient_id)
    out = []
    for pid in (await db.scalars(query)).all():
        patient = await db.get(Patient, pid)
        for state in states(await _events(db, pid)):
            if state.active_yes and patient is not None:
                out.append(Participant(pid, patient.name, state.meeting_id, state.meeting_number,
                                       state.answer.contact_method, state.answer.contact_when, state.answer.at,
                                       state.outcomes[-1].kind if state.outcomes else ""))
    return sorted(out, key=lambda p: (p.consented_at, p.patient_id, p.meeting_number))


async def participants(db: AsyncSession, ctx: AuditContext) -> list[Participant]:
    """The active list, read fresh on every request (a withdrawal removes a patient at once)."""
    rows = await _participants(db)
    await record(db, ctx, "research.list_viewed", patient_ids=sorted({p.patient_id for p in rows}) or [None],
                 detail=f"{len(rows)} rows")
    return rows


async def entry(db: AsyncSession, ctx: AuditContext, patient_id: int) -> list[Participant]:
    """One patient's active entries; the opening is audited against the patient (their access log)."""
    rows = await _participants(db, patient_id)
    if not rows:
        await refuse(db, ctx, None, "research.entry_refused", f"patient {patient_id}")
        return []
    await record(db, ctx, "research.entry_opened", patient_ids=[patient_id])
    return rows


async def record_outcome(db: AsyncSession, ctx: AuditContext, patient_id: int, meeting_id: int, outcome: str) -> bool:
    row = next((p for p in await _participants(db, patient_id) if p.meeting_id == meeting_id), None)
    if row is None:
        await refuse(db, ctx, None, "research.outcome_refused", f"patient {patient_id} meeting {meeting_id}")
        return False
    db.add(ResearchEvent(patient_id=patient_id, meeting_id=meeting_id, meeting_number=row.meeting_number,
                         kind=outcome, by_account_id=ctx.account_id))
    await db.flush()
    await record(db, ctx, "research.outcome", patient_ids=[patient_id], detail=f"meeting {meeting_id} {outcome}")
    return True


CSV_HEADER = ("name", "meeting", "contact_method", "contact_when", "consented_at", "outcome")


async def export_csv(db: AsyncSession, ctx: AuditContext) -> str:
    """The active list as CSV (the csv module quotes what needs quoting); audited with the row count."""
    rows = await _participants(db)
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for p in rows:
        writer.writerow([_safe_cell(p.name), f"SHM {p.meeting_number}", p.contact_method,
                         _safe_cell(p.contact_when), p.consented_at.isoformat(timespec="seconds"), p.outcome])
    await record(db, ctx, "research.exported", patient_ids=sorted({p.patient_id for p in rows}) or [None],
                 detail=f"{len(rows)} rows")
    return out.getvalue()


def _safe_cell(value: str) -> str:
    """No spreadsheet formulas from free text (CSV injection): prefix a leading =, +, -, @ with '."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
