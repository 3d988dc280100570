"""Demo data for `make run`: a patient at stage 4, a clinician, an admin, a researcher, and a list of patients."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.access import codes, delegations
from server.access.models import Account
from server.access.policy import SCOPES
from server.access.service import create_account
from server.audit.service import AuditContext
from server.i18n import OSLO, today_oslo
from server.pathway.models import Patient, StageEvent
from server.pathway.service import deadline_for
from server.settings import Settings

DEMO_PATIENT = "Kari Nordmann"
DEMO_CLINICIAN = "Lege Lise Lund"
DEMO_ADMIN = "Admin Arne"
DEMO_RESEARCHER = "Forsker Frida"
DEMO_RELATIVE = "Ola Nordmann"
FIRST = ["Ola", "Ingrid", "Per", "Sara", "Jonas", "Nora", "Emil", "Maja", "Lars", "Ida", "Aksel", "Sofie"]
LAST = ["Hansen", "Johansen", "Olsen", "Larsen", "Andersen", "Pedersen", "Nilsen", "Berg", "Haugen", "Bakken"]


def build_patient(name: str, stage: int, received: date, step_days: int = 14) -> Patient:
    """A patient at `stage` whose earlier stages were entered `step_days` apart from `received`."""
    patient = Patient(name=name, name_search=name.lower(), birth_date=date(1975, 5, 17), gp_name="Berit Bø",
                      gp_office="Sentrum legekontor", stage=stage, referral_received_on=received)
    events = []
    for number in range(1, stage + 1):
        day = received + timedelta(days=max(number - 2, 0) * step_days)
        at = datetime(day.year, day.month, day.day, 10, tzinfo=OSLO)
        events.append(StageEvent(from_stage=number - 1 or None, to_stage=number, at=at))
    patient.events = events
    patient.stage_entered_at = events[-1].at
    if stage >= 5:
        patient.gp_accepted_on = received + timedelta(days=3 * step_days)
    deadline = deadline_for(patient)
    patient.next_deadline = deadline.due if deadline else None
    return patient


async def _account(db: AsyncSession, role: str, name: str, patient_id: int | None = None) -> Account:
    account = await db.scalar(select(Account).where(Account.role == role, Account.display_name == name))
    return account or await create_account(db, role, name, patient_id)


async def seed_demo(db: AsyncSession, settings: Settings) -> list[tuple[str, str, str]]:
    today = today_oslo()
    patient = await db.scalar(select(Patient).where(Patient.name == DEMO_PATIENT))
    if patient is None:
        patient = build_patient(DEMO_PATIENT, 4, today - timedelta(weeks=6), step_days=10)
        db.add(patient)
        rng = random.Random(7)
        for _ in range(40):
            stage = rng.randint(2, 9)
            received = today - timedelta(days=rng.randint(10, 300))
            db.add(build_patient(f"{rng.choice(FIRST)} {rng.choice(LAST)}", stage, received, rng.randint(7, 30)))
        await db.flush()
    patient_account = await _account(db, "patient", DEMO_PATIENT, patient.id)
    clinician = await _account(db, "clinician", DEMO_CLINICIAN)
    admin = await _account(db, "admin", DEMO_ADMIN)
    researcher = await _account(db, "researcher", DEMO_RESEARCHER)
    out = []
    for label, account in (("patient", patient_account), ("clinician", clinician), ("admin", admin),
                           ("researcher", researcher)):
        code = await codes.issue(db, settings.secret_key, account.id, None, settings.enrollment_code_days)
        out.append((label, account.display_name, code))
    out.append(("relative", DEMO_RELATIVE, await _demo_relative_code(db, settings, patient, patient_account)))
    return out


async def _demo_relative_code(db: AsyncSession, settings: Settings, patient: Patient, patient_account: Account) -> str:
    """Kari's husband Ola may see her pages, act for her and get her reminders; a fresh code each run
    (an unused earlier one stops working)."""
    ctx = AuditContext(patient_account.id, "patient")
    for row in await delegations.of_patient(db, patient.id):
        if row.relative_name == DEMO_RELATIVE and row.relative_account_id is None and row.ended_at is None:
            await delegations.end(db, ctx, row)
    _, code = await delegations.give(db, settings.secret_key, ctx, patient.id, patient.name, DEMO_RELATIVE,
                                     "partner", frozenset(SCOPES), delegations.default_end())
    return code
