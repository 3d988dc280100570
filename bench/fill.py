"""A fresh benchmark database, filled fast: patients with their stage histories, patient accounts with a
published plan and a meeting, a clinician, live sessions, and a valid audit chain of >= 1,000,000 events.

Patients go in through the ORM in batches of 1,000 (their histories are built by the seed's
`build_patient`); the audit chain is computed here and written with Core executemany (SQLite) or
COPY (PostgreSQL), which is what makes a million rows take seconds rather than minutes.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, text

from server.access import sessions
from server.access.models import Account, UserSession
from server.audit.models import AuditEvent
from server.audit.service import GENESIS, _canonical, compute_hash
from server.db import make_engine, make_sessionmaker, utcnow
from server.i18n import today_oslo
from server.meetings.models import Meeting, MeetingParticipant
from server.models import import_all
from server.plan.models import ActionPlan, PlanVersion
from server.seed import FIRST, LAST, build_patient

ACTIONS = ("patient.home_viewed", "plan.viewed", "meeting.viewed", "pathway.patient_viewed",
           "pathway.list_viewed", "plan.measure_status_changed")


def _measure(uid: str, title: str, responsible: str = "patient") -> dict:
    return {"uid": uid, "title": title, "description": "", "responsible": responsible, "participant": "",
            "goal": "g-sleep", "start": "", "due": "", "timeframe": "", "status": "planned", "evaluation": None}


PLAN = {"goals": [{"uid": "g-sleep", "text": "Sove gjennom natten"}, {"uid": "g-work", "text": "Jobbe 50 prosent"}],
        "measures": [_measure("m-walk", "Gå tur hver dag"), _measure("m-diary", "Søvndagbok"),
                     _measure("m-gp", "Samtale om søvnmedisin", "gp"), _measure("m-nav", "Arbeidsplassen", "nav")]}


@dataclass
class Fixture:
    patient_tokens: list[str]
    clinician_token: str
    patients: int
    audit_rows: int


async def fill(url: str, patients: int, audit_rows: int, patient_accounts: int) -> Fixture:
    import_all()
    engine = make_engine(url)
    rng = random.Random(1)
    today = today_oslo()
    ids: list[int] = []
    async with make_sessionmaker(engine)() as db:
        for start in range(0, patients, 1000):
            batch = [build_patient(f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.randint(1, 9999)}",
                                   rng.randint(2, 9), today - timedelta(days=rng.randint(5, 400)), rng.randint(5, 30))
                     for _ in range(min(1000, patients - start))]
            db.add_all(batch)
            await db.flush()
            ids.extend(p.id for p in batch)
            await db.commit()
        now = utcnow()
        tokens = []
        for patient_id in ids[:patient_accounts]:
            account = Account(role="patient", display_name=f"Pasient {patient_id}", active=True,
                              webauthn_user_id=secrets.token_bytes(32), patient_id=patient_id)
            plan = ActionPlan(patient_id=patient_id, draft={})
            meeting = Meeting(patient_id=patient_id, number=1, starts_at=now + timedelta(days=20), duration_minutes=60,
                              format="digital", video_link="https://video.example/m", changes=[], segments=[])
            meeting.participants = [MeetingParticipant(kind="gp", name="Berit Bø", position=0)]
            db.add_all([account, plan, meeting])
            await db.flush()
            db.add(PlanVersion(plan_id=plan.id, number=1, label="shm1", published_at=now - timedelta(days=10),
                               change_note="", content=PLAN))
            token = secrets.token_urlsafe(32)
            db.add(UserSession(token_hash=sessions.hash_token(token), account_id=account.id, created_at=now,
                               last_seen_at=now, user_agent="bench"))
            tokens.append(token)
        clinician = Account(role="clinician", display_name="Bench Clinician", active=True,
                            webauthn_user_id=secrets.token_bytes(32))
        db.add(clinician)
        await db.flush()
        clinician_token = secrets.token_urlsafe(32)
        db.add(UserSession(token_hash=sessions.hash_token(clinician_token), account_id=clinician.id, created_at=now,
                           last_seen_at=now, user_agent="bench"))
        await db.commit()
        await _audit_chain(db, engine.dialect.name, ids, audit_rows, rng)
    # Table statistics, as autovacuum (PostgreSQL) would have them after such a bulk load; without them the
    # planner guessed 3 unread measure updates where there were 1,000 and picked a plan for 3.
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    await engine.dispose()
    return Fixture(tokens, clinician_token, patients, audit_rows)


async def _audit_chain(db, dialect: str, ids: list[int], rows: int, rng: random.Random) -> None:
    """`rows` chained events, oldest first, spread over the last year."""
    start = utcnow() - timedelta(days=365)
    step = timedelta(days=365) / max(rows, 1)
    prev, batch = GENESIS, []
    columns = ("seq", "at", "actor_account_id", "actor_role", "patient_id", "action", "outcome", "request_id",
               "detail", "prev_hash", "hash")
    for seq in range(1, rows + 1):
        at = start + step * seq
        values = (seq, at, rng.randint(1, 50), "clinician", rng.choice(ids), rng.choice(ACTIONS), "ok",
                  secrets.token_hex(16), "")
        digest = compute_hash(prev, _canonical(*values))
        batch.append((*values, prev, digest))
        prev = digest
        if len(batch) == 20000 or seq == rows:
            await _write(db, dialect, columns, batch)
            batch = []
    await db.commit()


async def _write(db, dialect: str, columns: tuple[str, ...], batch: list[tuple]) -> None:
    if dialect == "postgresql":
        connection = await db.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.copy_records_to_table("audit_events", records=batch, columns=list(columns))
        return
    await db.execute(insert(AuditEvent.__table__), [dict(zip(columns, row, strict=True)) for row in batch])


async def reset_postgresql(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
