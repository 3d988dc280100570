"""Patients and stage moves: plain async functions, each writing its audit rows.

Optimistic locking of a patient: every change first claims the version it was computed from, in ONE
statement, `UPDATE patients SET version=N+1 WHERE id=:id AND version=N` (`_claim`). Two clinicians who
both read version N cannot both win: on PostgreSQL the second UPDATE waits for the first to commit and
then matches no row; SQLite runs one write transaction at a time. The loser gets False/None and the
route shows the conflict (the patient as stored now, with "someone else changed this patient").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from server.access import sessions
from server.access.models import Account, Credential
from server.access.service import create_account, issue_code
from server.audit.service import AuditContext, record
from server.dates import parse_date
from server.db import utcnow
from server.i18n import OSLO, today_oslo
from server.notify import reminders
from server.pathway.forms import MAX_NAME, StageMoveForm
from server.pathway.models import Patient, StageEvent
from server.pathway.stages import STAGES, Deadline, Stage, next_deadline, stage
from server.settings import Settings

LAST_STAGE = STAGES[-1].number

PER_PAGE = 25
CLOSE_DAYS = 14


def entered_dates(events: list[StageEvent]) -> dict[int, date]:
    """The date each stage was last entered (Europe/Oslo)."""
    dates: dict[int, date] = {}
    for event in events:
        dates[event.to_stage] = event.at.astimezone(OSLO).date()
    return dates


def deadline_for(patient: Patient) -> Deadline | None:
    return next_deadline(patient.stage, patient.referral_received_on, entered_dates(patient.events))


def deadline_state(due: date | None, today: date | None = None) -> str:
    """'passed', 'close' (within two weeks) or 'ok'."""
    if due is None:
        return "ok"
    days = (due - (today or today_oslo())).days
    return "passed" if days < 0 else "close" if days <= CLOSE_DAYS else "ok"


@dataclass(frozen=True)
class TimelineItem:
    stage: Stage
    state: str  # done | skipped | current | upcoming
    entered: date | None


def timeline(patient: Patient) -> list[TimelineItem]:
    dates = entered_dates(patient.events)
    items = []
    for s in STAGES:
        if s.number < patient.stage:
            items.append(TimelineItem(s, "done" if s.number in dates else "skipped", dates.get(s.number)))
        elif s.number == patient.stage:
            items.append(TimelineItem(s, "current", dates.get(s.number)))
        else:
            items.append(TimelineItem(s, "upcoming", None))
    return items


_PATIENT = select(Patient).options(joinedload(Patient.events)).where(Patient.id == bindparam("patient_id"))
_PATIENT_LOCKED = _PATIENT.with_for_update(of=Patient).execution_options(populate_existing=True)


async def load_patient(db: AsyncSession, patient_id: int, lock: bool = False) -> Patient | None:
    """The loader of a patient (with the stage events). Routes get a patient through
    `server.pathway.acting.patient_for`, which checks the policy first (the home page, after the same
    `acting_for` check, reads the patient with the wishes in one query: server/pages/home.py).

    `lock`: hold the patient row (PostgreSQL), e.g. so two clinicians cannot both schedule SHM 1.
    """
    # The events in the same round trip (a join) rather than a second SELECT; the statements are built once.
    return (await db.scalars(_PATIENT_LOCKED if lock else _PATIENT, {"patient_id": patient_id})).unique().first()


async def view_patient(db: AsyncSession, ctx: AuditContext, patient: Patient, action: str) -> Patient:
    await record(db, ctx, action, patient_ids=[patient.id])
    return patient


async def list_patients(db: AsyncSession, ctx: AuditContext, query: str, stage_filter: int | None,
                        page: int) -> tuple[list[Patient], int]:
    conditions = []
    if query:
        conditions.append(Patient.name_search.contains(query.lower().strip(), autoescape=True))
    if stage_filter:
        conditions.append(Patient.stage == stage_filter)
    total = await db.scalar(select(func.count()).select_from(Patient).where(*conditions)) or 0
    rows = list((await db.scalars(
        select(Patient).where(*conditions)
        .order_by(Patient.next_deadline.is_(None), Patient.next_deadline, Patient.name_search, Patient.id)
        .offset((page - 1) * PER_PAGE).limit(PER_PAGE)
    )).all())
    if rows:
        await record(db, ctx, "patient.list_view", patient_ids=[row.id for row in rows], as_list=True)
    return rows, total


# --- Forms (server/pathway/forms.py reads and checks them) ------------------------------------

def validate_move(patient: Patient, form: dict[str, str], locale: str = "en") -> dict[str, str]:
    """Field errors of a stage move (field id -> message)."""
    move = StageMoveForm(form, locale=locale)
    move.check(patient)
    return move.error_map


async def create_patient(db: AsyncSession, ctx: AuditContext, form: dict[str, str]) -> Patient:
    """A patient whose referral the clinic has received: stage 2, with stage 1 done.

    The search key is cut to the column's length: lower-casing can lengthen a name ("İ" becomes two characters)."""
    received = parse_date(form["referral_received_on"])
    received_at = datetime(received.year, received.month, received.day, 12, tzinfo=OSLO)
    now = utcnow()
    patient = Patient(name=form["name"].strip(), name_search=form["name"].strip().lower()[:MAX_NAME],
                      birth_date=parse_date(form["birth_date"]), gp_name=form["gp_name"].strip(),
                      gp_office=form["gp_office"].strip(), stage=2, stage_entered_at=now,
                      referral_received_on=received)
    patient.events = [
        StageEvent(from_stage=None, to_stage=1, at=received_at, by_account_id=ctx.account_id),
        StageEvent(from_stage=1, to_stage=2, at=now if received == today_oslo() else received_at,
                   by_account_id=ctx.account_id),
    ]
    _refresh_deadline(patient)
    db.add(patient)
    await db.flush()
    await record(db, ctx, "patient.created", patient_ids=[patient.id])
    return patient


async def same_name_and_birth_date(db: AsyncSession, ctx: AuditContext, name: str, birth_date: date
                                   ) -> list[Patient]:
    """Patients already registered with this name (any case) and birth date: the clinic confirms before adding
    another. Showing them is a read of their data, so it is audited."""
    rows = list((await db.scalars(select(Patient).where(
        Patient.name_search == name.strip().lower()[:MAX_NAME], Patient.birth_date == birth_date)
        .order_by(Patient.id))).all())
    if rows:
        await record(db, ctx, "patient.list_view", patient_ids=[row.id for row in rows],
                     detail="same name and birth date")
    return rows


async def create_patient_with_code(db: AsyncSession, settings: Settings, ctx: AuditContext,
                                   form: dict[str, str]) -> tuple[Patient, str]:
    """A new patient, their account and a one-time code for it (shown once)."""
    patient = await create_patient(db, ctx, form)
    account = await create_account(db, "patient", patient.name, patient_id=patient.id)
    code = await issue_code(db, settings, ctx, account.id)
    await record(db, ctx, "patient.code_issued", patient_ids=[patient.id])
    return patient, code


async def issue_patient_code(db: AsyncSession, settings: Settings, ctx: AuditContext, patient: Patient, *,
                             remove_passkeys: bool) -> tuple[str, int]:
    """A new code for the patient's account (created if missing); optionally their passkeys and sessions end.
    Returns the code and how many passkeys were removed."""
    account = await db.scalar(select(Account).where(Account.patient_id == patient.id))
    if account is None:
        account = await create_account(db, "patient", patient.name, patient_id=patient.id)
    removed = 0
    if remove_passkeys:
        removed = (await db.execute(delete(Credential).where(Credential.account_id == account.id))).rowcount or 0
        await sessions.end_all_for_account(db, account.id)
    code = await issue_code(db, settings, ctx, account.id)
    await record(db, ctx, "patient.code_issued", patient_ids=[patient.id], detail=f"{removed} passkeys removed")
    return code, removed


def _refresh_deadline(patient: Patient) -> None:
    deadline = deadline_for(patient)
    patient.next_deadline = deadline.due if deadline else None


async def refuse_move(db: AsyncSession, ctx: AuditContext, patient: Patient) -> None:
    await record(db, ctx, "patient.stage_move_refused", patient_ids=[patient.id], outcome="refused")


async def _claim(db: AsyncSession, patient: Patient, expected: int) -> bool:
    """Bump the stored version from `expected`; False (and `patient` reloaded) if it has moved on."""
    result = await db.execute(update(Patient).where(Patient.id == patient.id, Patient.version == expected)
                              .values(version=expected + 1).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        await db.refresh(patient)
        await db.refresh(patient, ["events"])
        return False
    set_committed_value(patient, "version", expected + 1)
    return True


async def move_stage(db: AsyncSession, ctx: AuditContext, patient: Patient, form: dict[str, str]) -> Stage | None:
    """None: another change was stored since `patient` was read (the caller shows the conflict)."""
    target = int(form["to_stage"])
    if not await _claim(db, patient, patient.version):
        return None
    previous = patient.stage
    patient.events.append(StageEvent(from_stage=previous, to_stage=target, at=utcnow(),
                                     by_account_id=ctx.account_id, note=form.get("note", "").strip(),
                                     reason=form.get("reason", "").strip()))
    patient.stage = target
    patient.stage_entered_at = utcnow()
    _refresh_deadline(patient)
    await db.flush()
    if target == 4 and previous != 4:  # assessment: the patient should tell the clinic who should come
        await reminders.wishes_needed(db, patient_id=patient.id)
    if target == LAST_STAGE:  # leaving the pathway: no more reminders
        await reminders.left_pathway(db, patient_id=patient.id)
    await record(db, ctx, "patient.stage_moved", patient_ids=[patient.id], detail=f"stage {previous}->{target}")
    return stage(target)


async def record_gp_acceptance(db: AsyncSession, ctx: AuditContext, patient: Patient, accepted: date) -> bool:
    """False: another change was stored since `patient` was read (the caller shows the conflict)."""
    if not await _claim(db, patient, patient.version):
        return False
    patient.gp_accepted_on = accepted
    patient.gp_accepted_recorded_by = ctx.account_id
    await db.flush()
    await record(db, ctx, "patient.gp_acceptance_recorded", patient_ids=[patient.id])
    return True


async def record_gp_acceptance_from_invitation(db: AsyncSession, ctx: AuditContext, patient: Patient,
                                               accepted_on: date | None, recorded_by: int | None,
                                               detail: str = "") -> None:
    """The GP answered the invitation to SHM 1 (meetings/invitations.py decides when this is called).

    `accepted_on` set: the GP accepted (`recorded_by` None through the link, or the clinician who took
    the answer by phone). `accepted_on` None: an acceptance given through that invitation is withdrawn.
    The patient row is locked and re-read first, so the version bump cannot be lost to a concurrent change.
    """
    await db.refresh(patient, ["version", "gp_accepted_on", "gp_accepted_recorded_by"], with_for_update=True)
    patient.gp_accepted_on = accepted_on
    patient.gp_accepted_recorded_by = recorded_by if accepted_on else None
    patient.version += 1
    await db.flush()
    action = "patient.gp_acceptance_recorded" if accepted_on else "patient.gp_acceptance_withdrawn"
    await record(db, ctx, action, patient_ids=[patient.id], detail=detail)
